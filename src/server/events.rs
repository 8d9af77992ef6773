//! `POST /v1/events`: member events over HTTP, exactly as `drumbeat event` takes them.
//!
//! Every request must prove it comes from a forwarder the operator set up: a bearer token
//! (`Authorization: Bearer TOKEN`, the scheme in any case, with `DRUMBEAT_EVENTS_TOKEN`) or
//! an HMAC-SHA256 of the raw body (`X-Drumbeat-Signature: sha256=HEX`, keyed with
//! `DRUMBEAT_EVENTS_SECRET`). A request with neither a valid token nor a signature header is
//! refused before a byte of its body is read; a signed body is read, within a budget shared
//! by all requests, and then checked. Every answer is JSON:
//!
//! | status | when |
//! | --- | --- |
//! | 200 | applied: `{"applied": N, "duplicates": M}` |
//! | 400 | not JSON, or events that break the format (every problem listed) |
//! | 401 | no or wrong token or signature |
//! | 408 | the body did not arrive in time |
//! | 413 | a body over the size limit |
//! | 422 | events that do not fit the loaded communities (unknown community or type) |
//! | 503 | intake is off (no secret configured), the store failed (nothing applied), or too many signed bodies are being read |

use super::Ops;
use crate::channel::Secret;
use crate::events::{Event, read_json};
use axum::body::{Body, HttpBody};
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The largest body taken: a full batch of 10,000 events with room to spare.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Where posted events go: the daemon's intake, which takes a batch at the instant its own
/// clock reads when the batch arrives.
pub trait Intake: Send + Sync {
    fn take<'a>(
        &'a self,
        events: Vec<Event>,
    ) -> Pin<Box<dyn Future<Output = Result<Receipt, Refusal>> + Send + 'a>>;
}

/// What taking a batch did, as the answer reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Events applied now.
    pub applied: usize,
    /// Events taken in before (by id): acknowledged, nothing changed.
    pub duplicates: usize,
}

/// Why a batch was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// Events that do not fit the loaded communities (422): each reason says which and why.
    Invalid(Vec<String>),
    /// Nothing was applied (503): the reason is logged, the sender is told to send again.
    Failed(String),
}

/// Who may post events.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<Secret>,
    key: Option<Secret>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.is_some())
            .field("signature", &self.key.is_some())
            .finish()
    }
}

impl Auth {
    /// From `DRUMBEAT_EVENTS_TOKEN` and `DRUMBEAT_EVENTS_SECRET` (read with `env`).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Auth {
        let get = |name| env(name).filter(|v| !v.is_empty()).map(Secret::new);
        Auth {
            token: get("DRUMBEAT_EVENTS_TOKEN"),
            key: get("DRUMBEAT_EVENTS_SECRET"),
        }
    }

    /// Whether intake is configured at all.
    pub fn is_on(&self) -> bool {
        self.token.is_some() || self.key.is_some()
    }

    /// What the request's headers offer as proof: a valid token, or a signature to check
    /// against the body. `None`: refused without reading the body.
    fn proof<'h>(&self, headers: &'h HeaderMap) -> Option<Proof<'h>> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if let (Some(token), Some(given)) = (&self.token, bearer)
            && same(token.expose().as_bytes(), given.as_bytes())
        {
            return Some(Proof::Token);
        }
        let signature = headers
            .get("x-drumbeat-signature")
            .and_then(|v| v.to_str().ok())?;
        self.key.is_some().then_some(Proof::Signature(signature))
    }

    /// Whether `given` (`sha256=HEX`) is the signature of `body`.
    fn signed(&self, given: &str, body: &[u8]) -> bool {
        let (Some(key), Some(given)) = (&self.key, given.trim().strip_prefix("sha256=")) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key");
        mac.update(body);
        let expected = hex(&mac.finalize().into_bytes());
        same(
            expected.as_bytes(),
            given.trim().to_ascii_lowercase().as_bytes(),
        )
    }
}

/// What a request offers to be let in.
enum Proof<'h> {
    /// A valid bearer token: the body is the forwarder's.
    Token,
    /// A signature header, to be checked once the body is read.
    Signature(&'h str),
}

/// Compares in time that does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signature header value for `body` under `key`: what a forwarder sends.
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// What the events route needs besides metrics and health.
#[derive(Clone)]
pub struct EventsRoute {
    pub intake: Arc<dyn Intake>,
    pub auth: Auth,
}

impl fmt::Debug for EventsRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsRoute")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// How bodies are read: within a time, and for signed requests out of a budget of bytes
/// shared by all of them, so bodies nobody has vouched for yet cannot fill the memory.
#[derive(Debug, Clone)]
pub struct BodyRules {
    timeout: Duration,
    /// Permits are bytes; a signed request holds its declared length (or the limit) until
    /// its signature is checked.
    unchecked: Arc<Semaphore>,
}

impl BodyRules {
    pub fn new(limits: &super::listen::Limits) -> BodyRules {
        BodyRules {
            timeout: limits.body_timeout,
            unchecked: Arc::new(Semaphore::new(limits.unchecked_bodies.max(MAX_BODY))),
        }
    }
}

/// Why a body was not had.
enum Unread {
    TooLarge,
    Late,
    Broken(String),
}

/// Reads `body` whole, refusing it past `limit` bytes or `deadline`. `declared` is the
/// length the request gives (within the limit): room for it is set aside at once, and only
/// the bytes that come take memory.
async fn read_body(
    mut body: Body,
    limit: usize,
    declared: Option<usize>,
    deadline: Instant,
) -> Result<Vec<u8>, Unread> {
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout_at(deadline, frame).await {
            Err(_) => return Err(Unread::Late),
            Ok(None) => return Ok(bytes),
            Ok(Some(Err(e))) => return Err(Unread::Broken(e.to_string())),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > limit {
                        return Err(Unread::TooLarge);
                    }
                    bytes.extend_from_slice(&data);
                }
            }
        }
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn too_large() -> Response {
    answer(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"error": format!("the body is over the limit of {MAX_BODY} bytes (8 MiB); send fewer events per request")}),
    )
}

pub(super) async fn post(
    State(ops): State<Ops>,
    Extension(rules): Extension<BodyRules>,
    request: Request,
) -> Response {
    let Some(route) = &ops.events else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "event intake is not running"}),
        );
    };
    if !route.auth.is_on() {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "event intake is off: start the daemon with DRUMBEAT_EVENTS_TOKEN or DRUMBEAT_EVENTS_SECRET set"}),
        );
    }
    let (head, body) = request.into_parts();
    let unauthorized = || {
        answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong `Authorization: Bearer` token or `X-Drumbeat-Signature`"}),
        )
    };
    let Some(proof) = route.auth.proof(&head.headers) else {
        return unauthorized();
    };
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let declared = declared.map(|n| n as usize);
    let deadline = Instant::now() + rules.timeout;
    // A signed body is held against the budget until its signature is checked, and never
    // grows past what it holds.
    let limit = declared.unwrap_or(MAX_BODY);
    let unchecked: Option<OwnedSemaphorePermit> = match proof {
        Proof::Token => None,
        Proof::Signature(_) => {
            let bytes = u32::try_from(limit).expect("within the limit");
            let share = rules.unchecked.clone().acquire_many_owned(bytes);
            match tokio::time::timeout_at(deadline, share).await {
                Ok(Ok(permit)) => Some(permit),
                _ => {
                    return answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"error": "too many signed bodies are being read; send again shortly"}),
                    );
                }
            }
        }
    };
    let body = match read_body(body, limit, declared, deadline).await {
        Ok(b) => b,
        Err(Unread::TooLarge) => return too_large(),
        Err(Unread::Late) => {
            return answer(
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": format!("the body did not arrive within {} s", rules.timeout.as_secs_f64())}),
            );
        }
        Err(Unread::Broken(e)) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("the body could not be read: {e}")}),
            );
        }
    };
    if let Proof::Signature(given) = proof
        && !route.auth.signed(given, &body)
    {
        return unauthorized();
    }
    drop(unchecked);
    let Ok(text) = std::str::from_utf8(&body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "the body is not UTF-8"}),
        );
    };
    let events = match read_json(text) {
        Ok(e) => e,
        Err(problems) => {
            let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "the events were refused; nothing changed", "problems": problems}),
            );
        }
    };
    match route.intake.take(events).await {
        Ok(r) => answer(
            StatusCode::OK,
            json!({"applied": r.applied, "duplicates": r.duplicates}),
        ),
        Err(Refusal::Invalid(problems)) => answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "the events were refused; nothing changed", "problems": problems}),
        ),
        Err(Refusal::Failed(e)) => {
            tracing::error!(error = %e, "events not applied");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the events could not be stored; nothing changed; send them again"}),
            )
        }
    }
}
