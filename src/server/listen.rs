//! The listen address: our own accept loop around hyper's HTTP/1 connections, so that
//! hostile or broken clients cannot take the daemon's descriptors, memory or attention.
//!
//! - At most [`Limits::connections`] are open at once, a number kept below the process's
//!   descriptor limit so the store, the channels and the log always have room. At the cap
//!   the loop stops accepting (newcomers wait in the kernel's backlog) and asks every
//!   connection idle for [`Limits::idle_before_eviction`] to close, so a supervisor's probe
//!   gets in within about a second even during a flood of idle sockets.
//! - A request head must arrive whole within [`Limits::head_timeout`] of the connection
//!   opening or of the previous answer: slow heads and idle keep-alive connections close.
//! - Bodies are read by the route that needs one, within [`Limits::body_timeout`] (see
//!   [`super::events::BodyRules`]).
//! - On shutdown the listener closes, idle connections close at once, and requests in flight
//!   are answered before [`serve`] returns.

use super::Ops;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// The most connections taken at once, whatever the descriptor limit: the daemon's clients
/// are a forwarder or two, a scraper and a supervisor.
pub const MAX_CONNECTIONS: usize = 1024;
/// The fewest, however low the descriptor limit.
const MIN_CONNECTIONS: usize = 16;
/// Descriptors never given to connections: the store's files, the channels' sockets, files
/// and child processes, the playbook watcher, the log. A quarter of the limit, at least this.
const RESERVED_DESCRIPTORS: u64 = 256;
/// A connection's read buffer, and so the largest request head.
const BUFFER: usize = 64 * 1024;
/// How long a connection asked to close may go on reading a head before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What the listen address allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub connections: usize,
    /// From a connection's opening or its last answer to a whole request head.
    pub head_timeout: Duration,
    /// From a request head to the end of its body.
    pub body_timeout: Duration,
    /// Bytes of bodies held before their signature is checked, all requests together.
    pub unchecked_bodies: usize,
    /// At the cap, connections idle at least this long are closed to make room.
    pub idle_before_eviction: Duration,
}

impl Limits {
    /// The limits for this process: connections sized from its descriptor limit.
    pub fn for_process() -> Limits {
        Limits {
            connections: connections_for(descriptor_limit()),
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            unchecked_bodies: 4 * super::events::MAX_BODY,
            idle_before_eviction: Duration::from_secs(1),
        }
    }
}

/// The connection cap under a descriptor limit of `descriptors` (unknown: the maximum).
pub fn connections_for(descriptors: Option<u64>) -> usize {
    let Some(n) = descriptors else {
        return MAX_CONNECTIONS;
    };
    let reserve = (n / 4).max(RESERVED_DESCRIPTORS);
    usize::try_from(n.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

/// The process's soft limit of open descriptors, when it has one.
fn descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes only the struct it is given.
    let done = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (done == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Serves [`super::router`] on `listener` within `limits` until `shutdown` completes, then
/// stops accepting, closes idle connections, answers the requests in flight and returns.
pub async fn serve(
    listener: TcpListener,
    ops: Ops,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = super::router_with(ops, &limits);
    let slots = Arc::new(Semaphore::new(limits.connections));
    // Bumped while at the cap: each bump asks idle connections to close.
    let (crowded, _) = watch::channel(0u64);
    let (stopping, _) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let (mut warned_full, mut warned_accept) = (None::<Instant>, None::<Instant>);
    tracing::info!(
        connections = limits.connections,
        "taking at most this many connections at once"
    );
    'serving: loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if once_a_minute(&mut warned_full) {
                    tracing::warn!(
                        connections = limits.connections,
                        "connection limit reached: closing idle connections to make room"
                    );
                }
                loop {
                    crowded.send_modify(|n| *n = n.wrapping_add(1));
                    tokio::select! {
                        slot = slots.clone().acquire_owned() => {
                            break slot.expect("the slots are never closed");
                        }
                        _ = tokio::time::sleep(limits.idle_before_eviction / 4) => {}
                        _ = &mut shutdown => break 'serving,
                    }
                }
            }
        };
        let stream = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => break stream,
                    Err(e) if is_connection_error(&e) => {}
                    Err(e) => {
                        // Out of descriptors, most likely: wait for some to come back.
                        if once_a_minute(&mut warned_accept) {
                            tracing::error!(error = %e, "cannot accept connections; trying again");
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = &mut shutdown => break 'serving,
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            app.clone(),
            limits,
            crowded.subscribe(),
            stopping.subscribe(),
            slot,
        ));
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection gives its slot back when it ends.
    let all = u32::try_from(limits.connections).expect("the cap fits in u32");
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Whether to log now, at most once a minute.
fn once_a_minute(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|at| now - at < Duration::from_secs(60)) {
        return false;
    }
    *last = Some(now);
    true
}

/// Errors of one connection that went away before it was accepted.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Whether a connection is answering a request, and since when it has not.
struct Activity {
    requests: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> Answering {
        self.requests.fetch_add(1, Ordering::SeqCst);
        Answering(self.clone())
    }

    fn busy(&self) -> bool {
        self.requests.load(Ordering::SeqCst) > 0
    }

    /// How long it has been without a request in hand.
    fn idle_for(&self) -> Duration {
        if self.busy() {
            return Duration::ZERO;
        }
        self.idle_since.lock().expect("activity lock").elapsed()
    }
}

/// A request being answered; the connection is idle again once it is dropped.
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        *self.0.idle_since.lock().expect("activity lock") = Instant::now();
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves one connection until it ends, is closed for idling at the cap, or the server
/// stops; holds its slot until then.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut crowded: watch::Receiver<u64>,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity {
        requests: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
    });
    let service = {
        let (app, activity) = (TowerToHyperService::new(app), activity.clone());
        hyper::service::service_fn(move |request| {
            let answering = activity.begin();
            let answer = hyper::service::Service::call(&app, request);
            async move {
                let answer = answer.await;
                drop(answering);
                answer
            }
        })
    };
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_buf_size(BUFFER);
    let mut conn = pin!(http.serve_connection(TokioIo::new(stream), service));
    // Once asked to close: when it is dropped if it is not answering a request by then.
    let mut closing: Option<Instant> = None;
    loop {
        let drop_at = closing.map(|at| at + CLOSE_GRACE);
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = stopping.wait_for(|s| *s), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            Ok(()) = crowded.changed(), if closing.is_none() => {
                if activity.idle_for() >= limits.idle_before_eviction {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            _ = tokio::time::sleep_until(drop_at.unwrap_or_else(Instant::now)), if drop_at.is_some() => {
                if !activity.busy() {
                    return;
                }
                // A request in hand is answered first; look again later.
                closing = Some(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_a_quarter_of_the_descriptors_and_at_least_256() {
        assert_eq!(connections_for(Some(1024)), 768);
        assert_eq!(connections_for(Some(512)), 256);
        assert_eq!(connections_for(Some(4096)), 1024);
        assert_eq!(connections_for(Some(1 << 20)), MAX_CONNECTIONS);
        assert_eq!(connections_for(None), MAX_CONNECTIONS);
        // A limit too low for the reserve still serves a few.
        assert_eq!(connections_for(Some(200)), MIN_CONNECTIONS);
    }
}
