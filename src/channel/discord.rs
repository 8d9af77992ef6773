//! `discord`: a Discord webhook.
//!
//! POSTs `{"content":…}` to the webhook address. Discord answers 204 No Content when the
//! message is posted; errors come as JSON `{"code":…,"message":…}`, and a 429 says
//! `retry_after` (seconds) in the body and in `Retry-After`.

use super::env::Resolver;
use super::http::Target;
use super::{Channel, Limit, Options, Outgoing, SendFuture, SendOutcome, Unit, send_parts};
use crate::playbook::model::EnvString;
use serde_json::json;
use std::time::Duration;

/// Discord takes at most 2,000 characters of content.
pub(crate) const LIMIT: Limit = Limit::new(2000, Unit::Chars);

#[derive(Debug)]
pub(crate) struct Discord {
    target: Target,
}

impl Discord {
    pub fn build(cx: &mut Resolver<'_>, webhook: &EnvString, opts: &Options) -> Option<Discord> {
        let mut target = Target::build(cx, "webhook", webhook, opts)?;
        target.secrets = cx.secrets();
        Some(Discord { target })
    }
}

impl Channel for Discord {
    fn kind(&self) -> &'static str {
        "discord"
    }

    fn limit(&self) -> Option<Limit> {
        Some(LIMIT)
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(send_parts(
            msg,
            self.limit(),
            &self.target.secrets,
            move |part, key| async move {
                let t = &self.target;
                let body = json!({ "content": part });
                let reply = match t.post(t.url.clone(), "application/json", &key, &body).await {
                    Ok(r) => r,
                    Err(o) => return o,
                };
                let json = reply.json();
                let field = |k: &str| json.as_ref().and_then(|j| j.get(k).cloned());
                let code = field("code").and_then(|c| c.as_i64());
                let message = field("message").and_then(|m| m.as_str().map(str::to_string));
                let answer = reply.answer(code, message);
                match reply.by_status(t.now(), answer.clone()) {
                    Some(SendOutcome::Retry {
                        after,
                        reason,
                        answer,
                        parts_sent,
                    }) => SendOutcome::Retry {
                        after: after.or_else(|| {
                            field("retry_after")
                                .and_then(|r| r.as_f64())
                                .filter(|r| r.is_finite() && *r >= 0.0)
                                .map(Duration::from_secs_f64)
                        }),
                        reason,
                        answer,
                        parts_sent,
                    },
                    Some(o) => o,
                    None => SendOutcome::Sent { answer, parts: 1 },
                }
            },
        ))
    }
}
