//! `POST /v1/events`: member events over HTTP, exactly as `drumbeat event` takes them.
//!
//! Every request must prove it comes from a forwarder the operator set up: a bearer token
//! (`Authorization: Bearer TOKEN`, with `DRUMBEAT_EVENTS_TOKEN`) or an HMAC-SHA256 of the
//! raw body (`X-Drumbeat-Signature: sha256=HEX`, keyed with `DRUMBEAT_EVENTS_SECRET`).
//! Answers:
//!
//! | status | when |
//! | --- | --- |
//! | 200 | applied: `{"applied": N, "duplicates": M}` |
//! | 400 | not JSON, or events that break the format (every problem listed) |
//! | 401 | no or wrong token or signature |
//! | 413 | a body over the size limit |
//! | 422 | events that do not fit the loaded communities (unknown community or type) |
//! | 503 | intake is off (no secret configured), or the store failed (nothing applied) |

use super::Ops;
use crate::channel::Secret;
use crate::events::{Event, read_json};
use crate::runtime::Clock;
use crate::runtime::intake::{Receipt, Refusal};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The largest body taken: a full batch of 10,000 events with room to spare.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Where posted events go.
pub trait Intake: Send + Sync {
    fn take<'a>(
        &'a self,
        events: Vec<Event>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Receipt, Refusal>> + Send + 'a>>;
}

impl<S: Store + 'static> Intake for crate::runtime::intake::Intake<S> {
    fn take<'a>(
        &'a self,
        events: Vec<Event>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Receipt, Refusal>> + Send + 'a>> {
        Box::pin(crate::runtime::intake::Intake::take(self, events, now))
    }
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

    /// Whether the request carries a valid token or signature.
    fn admits(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let (Some(token), Some(given)) = (&self.token, bearer)
            && same(token.expose().as_bytes(), given.trim().as_bytes())
        {
            return true;
        }
        let signature = headers
            .get("x-drumbeat-signature")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("sha256="));
        if let (Some(key), Some(given)) = (&self.key, signature) {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("any key");
            mac.update(body);
            let expected = hex(&mac.finalize().into_bytes());
            return same(
                expected.as_bytes(),
                given.trim().to_ascii_lowercase().as_bytes(),
            );
        }
        false
    }
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
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for EventsRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsRoute")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
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

pub(super) async fn post(State(ops): State<Ops>, headers: HeaderMap, body: Bytes) -> Response {
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
    if !route.auth.admits(&headers, &body) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong `Authorization: Bearer` token or `X-Drumbeat-Signature`"}),
        );
    }
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
    match route.intake.take(events, route.clock.now()).await {
        Ok(r) => answer(
            StatusCode::OK,
            json!({"applied": r.applied, "duplicates": r.duplicates}),
        ),
        Err(Refusal::Invalid(problems)) => answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "the events were refused; nothing changed", "problems": problems}),
        ),
        Err(e) => {
            tracing::error!(error = %e, "events not applied");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the events could not be stored; nothing changed; send them again"}),
            )
        }
    }
}
