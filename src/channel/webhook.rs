//! `webhook`: any HTTP endpoint, with the method, headers and body the playbook gives.
//!
//! The body is a template rendered with `message` (the text), `fire` (`key`, `source`, `at`
//! as RFC 3339 UTC) and `community`; without one it is the JSON object
//! `{"message":…,"fire":{"key":…,"source":…,"at":…},"community":{"id":…,"name":…}}`.
//! `Content-Type` is `application/json` unless the headers set one. A body sent as JSON gets
//! its values JSON-escaped and is sent only if it parses ([`crate::template::Body`]).
//! Messages are not split.

use super::env::Resolver;
use super::http::Target;
use super::{Channel, Options, Outgoing, SendFuture, SendOutcome};
use crate::playbook::model::{EnvString, Playbook, Template};
use crate::template::{Body, BodyError};
use indexmap::IndexMap;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::fmt;

pub(crate) struct Webhook {
    target: Target,
    method: Method,
    headers: HeaderMap,
    body: Option<Body>,
    community: minijinja::Value,
    community_id: String,
    community_name: String,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values often hold tokens: names only.
        f.debug_struct("Webhook")
            .field("target", &self.target)
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .finish()
    }
}

impl Webhook {
    pub fn build(
        cx: &mut Resolver<'_>,
        p: &Playbook,
        url: &EnvString,
        method: &str,
        headers: &IndexMap<String, EnvString>,
        body: Option<&Template>,
        opts: &Options,
    ) -> Option<Webhook> {
        let target = Target::build(cx, "url", url, opts);
        let method = match Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
            Ok(m) => Some(m),
            Err(_) => {
                cx.invalid("method", url, format!("`{method}` is not an HTTP method"));
                None
            }
        };
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let field = format!("headers.{name}");
            let Ok(hn) = HeaderName::from_bytes(name.as_bytes()) else {
                cx.invalid(&field, value, "is not a valid header name");
                continue;
            };
            let Some(v) = cx.secret(&field, value) else {
                continue;
            };
            match HeaderValue::from_str(v.expose()) {
                Ok(mut hv) => {
                    hv.set_sensitive(true);
                    map.insert(hn, hv);
                }
                Err(_) => cx.invalid(&field, value, "holds characters a header cannot carry"),
            }
        }
        let content_type = map.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let json =
            crate::template::body::is_json(content_type) && method.as_ref().is_some_and(sends_body);
        let body = body.and_then(
            |t| match Body::compile(&t.source, &p.community.locale, json) {
                Ok(b) => Some(b),
                Err(e) => {
                    cx.invalid_at("body", t.origin.span, format!("does not compile: {e}"));
                    None
                }
            },
        );
        let (mut target, method) = (target?, method?);
        if cx.failed() {
            return None;
        }
        target.secrets = cx.secrets();
        Some(Webhook {
            target,
            method,
            headers: map,
            body,
            community: crate::template::community_value(p),
            community_id: p.community.id.value.as_str().to_string(),
            community_name: p.community.name.clone(),
        })
    }

    fn render(&self, msg: &Outgoing) -> Result<String, BodyError> {
        let fire = serde_json::json!({
            "key": msg.key,
            "source": msg.source,
            "at": msg.at_rfc3339(),
        });
        match &self.body {
            Some(b) => b.render(&msg.text, &fire, self.community.clone()),
            None => Ok(serde_json::json!({
                "message": msg.text,
                "fire": fire,
                "community": { "id": self.community_id, "name": self.community_name },
            })
            .to_string()),
        }
    }
}

/// Whether requests of this method carry the body (`GET` and `HEAD` do not).
fn sends_body(m: &Method) -> bool {
    m != Method::GET && m != Method::HEAD
}

impl Channel for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let t = &self.target;
            let body = match self.render(msg) {
                Ok(b) => b,
                // Nothing is sent: a broken body would only be refused, or misread.
                Err(e) => {
                    return SendOutcome::permanent(format!("{e}; nothing was sent"))
                        .scrubbed(&t.secrets);
                }
            };
            let with_body = sends_body(&self.method);
            let mut headers = self.headers.clone();
            if with_body && !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            match HeaderValue::from_str(&msg.key) {
                Ok(k) => {
                    headers.insert("idempotency-key", k);
                }
                Err(_) => {
                    return SendOutcome::permanent("the fire key cannot be sent as a header");
                }
            }
            let mut req = t
                .http
                .client()
                .request(self.method.clone(), t.url.clone())
                .headers(headers);
            if with_body {
                req = req.body(body);
            }
            let outcome = match t.http.execute(req).await {
                Ok(reply) => {
                    let answer = reply.answer(None, None);
                    match reply.by_status(t.now(), answer.clone()) {
                        Some(o) => o,
                        None => SendOutcome::Sent { answer, parts: 1 },
                    }
                }
                Err(o) => o,
            };
            outcome.scrubbed(&t.secrets)
        })
    }
}
