//! The daemon's HTTP side: `GET /healthz` for supervisors and load balancers,
//! `GET /metrics` for Prometheus.
//!
//! [`router`] builds the routes; [`serve`] runs them on a listener until a shutdown signal,
//! within the limits of [`listen`].
//!
//! The server knows the daemon only through what it owns here: [`Health`], which the daemon
//! updates, [`MetricsText`] for `/metrics` and [`events::Intake`] for `POST /v1/events`.
//! The runtime implements them and wires them in, so the server never names the runtime.

pub mod events;
pub mod listen;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};

/// The content type of the Prometheus text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;
const NO_TICK: i64 = i64::MIN;

/// What `/healthz` reports, updated by the daemon as it goes. Share it in an `Arc`.
#[derive(Debug)]
pub struct Health {
    phase: AtomicU8,
    playbooks: AtomicU64,
    /// Milliseconds since the epoch of the scheduler's last loop, or [`NO_TICK`].
    last_tick: AtomicI64,
    /// Since when and why the store cannot be written; `None` while it can.
    store_problem: std::sync::Mutex<Option<(DateTime<Utc>, String)>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Not ready yet: `/healthz` answers 503 "starting".
    pub fn new() -> Health {
        Health {
            phase: AtomicU8::new(STARTING),
            playbooks: AtomicU64::new(0),
            last_tick: AtomicI64::new(NO_TICK),
            store_problem: std::sync::Mutex::new(None),
        }
    }

    /// A write to the store failed at `at`. Answers whether this begins a failing stretch
    /// (so that it is logged once, not at every retry).
    pub fn store_failed(&self, at: DateTime<Utc>, error: &str) -> bool {
        let mut problem = self.store_problem.lock().expect("health lock");
        let new = problem.is_none();
        let since = problem.as_ref().map_or(at, |(since, _)| *since);
        *problem = Some((since, error.to_string()));
        new
    }

    /// A write to the store succeeded. Answers when the failing stretch it ends began.
    pub fn store_wrote(&self) -> Option<DateTime<Utc>> {
        let mut problem = self.store_problem.lock().expect("health lock");
        problem.take().map(|(since, _)| since)
    }

    /// Why the store cannot be written, while it cannot.
    pub fn store_problem(&self) -> Option<String> {
        let problem = self.store_problem.lock().expect("health lock");
        problem.as_ref().map(|(since, error)| {
            format!(
                "the store cannot be written since {}: {error}",
                since.to_rfc3339_opts(SecondsFormat::Secs, true)
            )
        })
    }

    /// Ready to fire (`true`), or no longer (`false`). Not ready before it ever was ready
    /// is "starting"; after, "stopping".
    pub fn set_ready(&self, ready: bool) {
        if ready {
            self.phase.store(READY, Ordering::Relaxed);
        } else {
            let _ = self
                .phase
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                    (p == READY).then_some(STOPPING)
                });
        }
    }

    /// Playbooks loaded and running.
    pub fn set_playbooks(&self, n: u64) {
        self.playbooks.store(n, Ordering::Relaxed);
    }

    /// The scheduler's loop ran at `at`.
    pub fn tick(&self, at: DateTime<Utc>) {
        self.last_tick
            .store(at.timestamp_millis(), Ordering::Relaxed);
    }

    /// Whether `/healthz` answers 200: firing, and the store takes writes.
    pub fn is_ready(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == READY
            && self.store_problem.lock().expect("health lock").is_none()
    }

    /// The scheduler's last loop, if it has run.
    pub fn last_tick(&self) -> Option<DateTime<Utc>> {
        match self.last_tick.load(Ordering::Relaxed) {
            NO_TICK => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    fn status(&self) -> &'static str {
        match self.phase.load(Ordering::Relaxed) {
            READY if !self.is_ready() => "failing",
            READY => "ok",
            STOPPING => "stopping",
            _ => "starting",
        }
    }
}

/// What `/metrics` serves: the daemon's counters in the Prometheus text format.
pub trait MetricsText: Send + Sync + std::fmt::Debug {
    fn render(&self) -> String;
}

/// What the HTTP side reads: the daemon's metrics and health.
#[derive(Debug, Clone)]
pub struct Ops {
    pub metrics: Arc<dyn MetricsText>,
    pub health: Arc<Health>,
    /// `POST /v1/events`, when the daemon takes events.
    pub events: Option<events::EventsRoute>,
}

impl Ops {
    /// Serves `metrics`; health "starting", no events route.
    pub fn new(metrics: Arc<dyn MetricsText>) -> Ops {
        Ops {
            metrics,
            health: Arc::new(Health::new()),
            events: None,
        }
    }
}

/// The daemon's routes: `GET /healthz`, `GET /metrics` and `POST /v1/events`; anything else
/// is 404.
pub fn router(ops: Ops) -> Router {
    router_with(ops, &listen::Limits::for_process())
}

/// [`router`], reading bodies within `limits`.
pub fn router_with(ops: Ops, limits: &listen::Limits) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/events", axum::routing::post(events::post))
        .layer(axum::Extension(events::BodyRules::new(limits)))
        .with_state(ops)
}

/// Serves [`router`] on `listener` within the process's [`listen::Limits`] until `shutdown`
/// completes, then finishes the requests in flight and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ops: Ops,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, ops, listen::Limits::for_process(), shutdown).await
}

/// The body of `/healthz`, fields in this order.
#[derive(Debug, serde::Serialize)]
struct HealthBody {
    status: &'static str,
    playbooks: u64,
    /// RFC 3339, UTC; null before the scheduler's first loop.
    last_tick: Option<String>,
    /// What keeps a running daemon from doing its work (status `failing`); null otherwise.
    problem: Option<String>,
}

async fn healthz(State(ops): State<Ops>) -> Response {
    let health = &ops.health;
    let body = HealthBody {
        status: health.status(),
        playbooks: health.playbooks.load(Ordering::Relaxed),
        last_tick: health
            .last_tick()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        problem: health.store_problem(),
    };
    let code = if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string(&body).expect("plain data"),
    )
        .into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        ops.metrics.render(),
    )
        .into_response()
}
