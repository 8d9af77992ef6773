//! Placeholder until the HTTP side lands (same API).
use crate::runtime::metrics::Metrics;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
#[derive(Debug, Default)]
pub struct Health;
impl Health {
    pub fn new() -> Health {
        Health
    }
    pub fn set_ready(&self, _ready: bool) {}
    pub fn set_playbooks(&self, _n: u64) {}
    pub fn tick(&self, _at: DateTime<Utc>) {}
}
#[derive(Clone)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
}
pub async fn serve(
    _listener: tokio::net::TcpListener,
    _ops: Ops,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    shutdown.await;
    Ok(())
}
