//! What the HTTP channels share: the client, sending one request, reading the answer and
//! sorting failures into retry or permanent.

use super::{Answer, SendOutcome};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::fmt;
use std::time::Duration;

/// How the HTTP client behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Use `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the environment.
    pub proxy_from_env: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            proxy_from_env: true,
        }
    }
}

/// One HTTP client shared by every channel (cheap to clone: it is a handle).
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub fn new(cfg: &HttpConfig) -> Result<Http, String> {
        // One crypto provider for the whole program; a second install is refused, harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .user_agent(concat!("drumbeat/", env!("CARGO_PKG_VERSION")))
            // A redirect would turn a POST into a GET and drop the message: report it instead.
            .redirect(reqwest::redirect::Policy::none());
        if !cfg.proxy_from_env {
            b = b.no_proxy();
        }
        let client = b
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        Ok(Http {
            client,
            timeout: cfg.timeout,
        })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `req` and reads the whole answer. Transport failures become an outcome.
    pub(crate) async fn execute(&self, req: reqwest::RequestBuilder) -> Result<Reply, SendOutcome> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    fn transport(&self, e: reqwest::Error) -> SendOutcome {
        // reqwest puts the URL in its messages; the URL may hold a token.
        let e = e.without_url();
        if e.is_builder() {
            SendOutcome::permanent(format!("cannot build the request: {}", chain(&e)))
        } else if e.is_timeout() {
            SendOutcome::retry(format!(
                "no answer within {} s (timed out)",
                self.timeout.as_secs_f64()
            ))
        } else if e.is_connect() {
            SendOutcome::retry(format!("cannot connect: {}", chain(&e)))
        } else {
            SendOutcome::retry(format!("request failed: {}", chain(&e)))
        }
    }
}

/// An error and its causes, joined: "error sending request: client error (Connect): ...".
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// A whole HTTP answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The first characters of the body, for an answer's message.
    pub fn excerpt(&self) -> Option<String> {
        let t = self.body.trim();
        if t.is_empty() {
            return None;
        }
        const MAX: usize = 300;
        Some(match t.char_indices().nth(MAX) {
            Some((i, _)) => format!("{}…", &t[..i]),
            None => t.to_string(),
        })
    }

    pub fn answer(&self, code: Option<i64>, message: Option<String>) -> Answer {
        Answer {
            status: Some(self.status),
            code,
            message: message.or_else(|| self.excerpt()),
            accepted: None,
        }
    }

    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The outcome the status alone decides: retry for 408, 429 and 5xx (with the
    /// `Retry-After` delay), permanent for other 3xx and 4xx, `None` for 2xx and 1xx.
    pub fn by_status(&self, now: DateTime<Utc>, answer: Answer) -> Option<SendOutcome> {
        let s = self.status;
        let outcome = if s == 429 || s == 408 || s >= 500 {
            SendOutcome::Retry {
                after: retry_after(&self.headers, now),
                reason: format!("the platform answered HTTP {s}{}", status_word(s)),
                answer: None,
                parts_sent: 0,
            }
        } else if (300..400).contains(&s) {
            SendOutcome::permanent(format!(
                "the platform answered HTTP {s} (a redirect): point the channel at the final address"
            ))
        } else if (400..500).contains(&s) {
            SendOutcome::permanent(format!(
                "the platform refused the message: HTTP {s}{}",
                status_word(s)
            ))
        } else {
            return None;
        };
        Some(outcome.with_answer(answer))
    }
}

fn status_word(s: u16) -> String {
    reqwest::StatusCode::from_u16(s)
        .ok()
        .and_then(|c| c.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

/// The delay a `Retry-After` header asks for: whole seconds, or an HTTP date (a date already
/// past means no delay).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// An address fit to print: scheme and host only, the path and query (where tokens live)
/// replaced by `…`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let more = if u.path() != "/" || u.query().is_some() {
                "/…"
            } else {
                ""
            };
            format!("{}://{host}{port}{more}", u.scheme())
        }
        Err(_) => "(an address that does not parse)".to_string(),
    }
}

/// Parses an http(s) address, with a message that never repeats the address.
pub(crate) fn parse_url(s: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(s).map_err(|e| format!("is not a valid address ({e})"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "must be an http or https address, not `{}:`",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_string());
    }
    Ok(u)
}

/// The JSON body of a platform request, with the headers every HTTP channel sends.
pub(crate) fn post_json(
    http: &Http,
    url: reqwest::Url,
    content_type: &'static str,
    key: &str,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    http.client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header("Idempotency-Key", key)
        .body(serde_json::to_vec(body).expect("a JSON value always serializes"))
}

/// The answer of a platform that reports failures in a JSON code field (`errcode`, `code`):
/// the status decides first, then the code. `retry` says which codes mean "try again later"
/// and after how long; every other non-zero code is permanent.
pub(crate) fn by_code(
    reply: &Reply,
    now: DateTime<Utc>,
    code_field: &str,
    message_field: &str,
    retry: impl Fn(i64, &str) -> Option<Option<Duration>>,
) -> SendOutcome {
    let json = reply.json();
    let code = json
        .as_ref()
        .and_then(|j| j.get(code_field))
        .and_then(serde_json::Value::as_i64);
    let message = json
        .as_ref()
        .and_then(|j| j.get(message_field))
        .and_then(|m| m.as_str())
        .map(str::to_string);
    let answer = reply.answer(code, message.clone());
    let msg = message.as_deref().unwrap_or("");
    // A rate-limit code wins over the status: some platforms send it with HTTP 400.
    if let Some(c) = code
        && c != 0
        && let Some(after) = retry(c, msg)
    {
        return SendOutcome::Retry {
            after: after.or_else(|| retry_after(&reply.headers, now)),
            reason: format!(
                "the platform is busy or limiting: {}",
                code_detail(code_field, c, msg)
            ),
            answer: Some(answer),
            parts_sent: 0,
        };
    }
    if let Some(o) = reply.by_status(now, answer.clone()) {
        return o;
    }
    match code {
        Some(0) => SendOutcome::Sent { answer, parts: 1 },
        Some(c) => SendOutcome::Permanent {
            reason: format!(
                "the platform refused the message: {}",
                code_detail(code_field, c, msg)
            ),
            answer: Some(answer),
            parts_sent: 0,
        },
        None => SendOutcome::Permanent {
            reason: format!(
                "the platform answered HTTP {} without `{code_field}`: is this the right address?",
                reply.status
            ),
            answer: Some(answer),
            parts_sent: 0,
        },
    }
}

/// A platform endpoint: its address (a secret) and what sending to it needs.
pub(crate) struct Target {
    pub url: reqwest::Url,
    pub http: Http,
    pub clock: super::Clock,
    /// Everything secret this channel holds, scrubbed from its reasons and answers.
    pub secrets: Vec<super::Secret>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &redact_url(self.url.as_str()))
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Resolves and checks the address in `field`; problems are reported to `cx`.
    pub fn build(
        cx: &mut super::env::Resolver<'_>,
        field: &str,
        v: &crate::playbook::model::EnvString,
        opts: &super::Options,
    ) -> Option<Target> {
        let s = cx.secret(field, v)?;
        match parse_url(s.expose()) {
            Ok(url) => Some(Target {
                url,
                http: opts.http.clone(),
                clock: opts.clock.clone(),
                secrets: Vec::new(),
            }),
            Err(m) => {
                cx.invalid(field, v, m);
                None
            }
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Posts a JSON body to `url` with the headers every HTTP channel sends. A transport
    /// failure (timeout, refused connection) comes back as its outcome already.
    pub async fn post(
        &self,
        url: reqwest::Url,
        content_type: &'static str,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<Reply, SendOutcome> {
        self.http
            .execute(post_json(&self.http, url, content_type, key, body))
            .await
    }
}

/// "errcode 93000: invalid webhook url".
fn code_detail(field: &str, code: i64, msg: &str) -> String {
    if msg.is_empty() {
        format!("{field} {code}")
    } else {
        format!("{field} {code}: {msg}")
    }
}
