//! A webhook receiver on loopback that records every request and answers as the test
//! scripts it.

use axum::body::Body;
use axum::extract::{Request, State as Extract};
use axum::response::Response;
use chrono::{DateTime, Utc};
use drumbeat::runtime::ManualClock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the server got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    /// The `Idempotency-Key` header: the fire's key.
    pub key: String,
    /// The fire's scheduled instant, from the body.
    pub at: DateTime<Utc>,
    pub message: String,
    pub arrived: Instant,
    /// The daemon's clock when it arrived, for a hook started with [`Hook::on_clock`].
    pub clocked: Option<DateTime<Utc>>,
    /// When the server finished answering; `None` while in flight, or for good when the
    /// sender went away first.
    pub answered: Option<Instant>,
    pub status: u16,
}

/// How the server answers one request.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub delay: Duration,
    /// The body; empty: what a WeCom robot says when it takes a message.
    pub body: &'static str,
}

pub fn ok() -> Reply {
    Reply {
        status: 200,
        retry_after: None,
        delay: Duration::ZERO,
        body: "",
    }
}

pub fn status(status: u16) -> Reply {
    Reply { status, ..ok() }
}

/// Decides the answer to a request, given every request before it.
pub type Script = Arc<dyn Fn(&Hit, &[Hit]) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Served {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Script,
    clock: Option<Arc<ManualClock>>,
}

pub struct Hook {
    pub base: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    // Kept to keep the server running.
    pub _rt: tokio::runtime::Runtime,
}

impl Hook {
    pub fn start(script: impl Fn(&Hit, &[Hit]) -> Reply + Send + Sync + 'static) -> Hook {
        Hook::serve(None, script)
    }

    /// A hook that notes the daemon's `clock` at each arrival ([`Hit::clocked`]).
    pub fn on_clock(
        clock: &Arc<ManualClock>,
        script: impl Fn(&Hit, &[Hit]) -> Reply + Send + Sync + 'static,
    ) -> Hook {
        Hook::serve(Some(clock.clone()), script)
    }

    fn serve(
        clock: Option<Arc<ManualClock>>,
        script: impl Fn(&Hit, &[Hit]) -> Reply + Send + Sync + 'static,
    ) -> Hook {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the server");
        let served = Served {
            hits: Arc::default(),
            script: Arc::new(script),
            clock,
        };
        let hits = served.hits.clone();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(answer).with_state(served);
        rt.spawn(async move { axum::serve(listener, app).await });
        Hook {
            base: format!("http://{addr}"),
            hits,
            _rt: rt,
        }
    }

    /// A playbook's webhook channel `id` posting to `path` of this server.
    pub fn channel(&self, id: &str, path: &str, extra: &str) -> String {
        format!(
            "  {id}: {{ type: webhook, url: \"{}{path}\"{extra} }}\n",
            self.base
        )
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests answered 200, by key.
    pub fn delivered(&self) -> HashMap<String, Vec<Hit>> {
        let mut by_key: HashMap<String, Vec<Hit>> = HashMap::new();
        for h in self.hits().into_iter().filter(|h| h.status == 200) {
            by_key.entry(h.key.clone()).or_default().push(h);
        }
        by_key
    }
}

async fn answer(Extract(s): Extract<Served>, req: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut hit = Hit {
        path: parts.uri.path().to_string(),
        key: parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        at: json["fire"]["at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        message: json["message"].as_str().unwrap_or_default().to_string(),
        arrived,
        clocked: s.clock.as_ref().map(|c| c.now()),
        answered: None,
        status: 0,
    };
    let (index, reply) = {
        let mut hits = s.hits.lock().unwrap();
        let reply = (s.script)(&hit, &hits);
        hit.status = reply.status;
        hits.push(hit);
        (hits.len() - 1, reply)
    };
    tokio::time::sleep(reply.delay).await;
    s.hits.lock().unwrap()[index].answered = Some(Instant::now());
    let mut r = Response::builder().status(reply.status);
    if let Some(secs) = reply.retry_after {
        r = r.header("Retry-After", secs.to_string());
    }
    // By default what a WeCom robot says when it takes a message; others read the status.
    let body = match reply.body {
        "" => r#"{"errcode":0,"errmsg":"ok"}"#,
        body => body,
    };
    r.body(Body::from(body)).unwrap()
}
