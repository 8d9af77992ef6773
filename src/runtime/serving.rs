//! The runtime's side of the HTTP interface: `server` owns the traits it reads through
//! ([`server::MetricsText`], [`server::events::Intake`]) and the runtime implements them
//! here, so the dependency runs one way, runtime to server.

use super::clock::Clock;
use super::intake::{self, Intake};
use super::metrics::Metrics;
use crate::events::Event;
use crate::server::{self, events::Receipt, events::Refusal};
use crate::store::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

impl server::MetricsText for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
}

/// The intake as `POST /v1/events` uses it: each batch taken at the instant `clock` reads
/// when it arrives.
pub struct Posted<S> {
    pub intake: Arc<Intake<S>>,
    pub clock: Arc<dyn Clock>,
}

impl<S> Posted<S> {
    pub fn new(intake: Arc<Intake<S>>, clock: Arc<dyn Clock>) -> Posted<S> {
        Posted { intake, clock }
    }
}

impl<S: Store + 'static> server::events::Intake for Posted<S> {
    fn take<'a>(
        &'a self,
        events: Vec<Event>,
    ) -> Pin<Box<dyn Future<Output = Result<Receipt, Refusal>> + Send + 'a>> {
        Box::pin(async move {
            match self.intake.take(events, self.clock.now()).await {
                Ok(r) => Ok(Receipt {
                    applied: r.applied,
                    duplicates: r.duplicates,
                }),
                Err(intake::Refusal::Invalid(reasons)) => Err(Refusal::Invalid(reasons)),
                Err(e @ (intake::Refusal::Store(_) | intake::Refusal::Stopped)) => {
                    Err(Refusal::Failed(e.to_string()))
                }
            }
        })
    }
}
