//! `slack`: a Slack incoming webhook.
//!
//! POSTs `{"text":…}` to the webhook address. Slack answers 200 with the body `ok`, or an
//! error status with a short code in the body (`invalid_payload`, `channel_not_found`, …).

use super::env::Resolver;
use super::http::Target;
use super::{Channel, Limit, Options, Outgoing, SendFuture, SendOutcome, Unit, send_parts};
use crate::playbook::model::EnvString;
use serde_json::json;

/// Slack truncates a message's text beyond 40,000 characters.
pub(crate) const LIMIT: Limit = Limit::new(40_000, Unit::Chars);

#[derive(Debug)]
pub(crate) struct Slack {
    target: Target,
}

impl Slack {
    pub fn build(cx: &mut Resolver<'_>, webhook: &EnvString, opts: &Options) -> Option<Slack> {
        let mut target = Target::build(cx, "webhook", webhook, opts)?;
        target.secrets = cx.secrets();
        Some(Slack { target })
    }
}

impl Channel for Slack {
    fn kind(&self) -> &'static str {
        "slack"
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
                let body = json!({ "text": part });
                let reply = match t.post(t.url.clone(), "application/json", &key, &body).await {
                    Ok(r) => r,
                    Err(o) => return o,
                };
                let answer = reply.answer(None, None);
                match reply.by_status(t.now(), answer.clone()) {
                    Some(o) => o,
                    None => SendOutcome::Sent { answer, parts: 1 },
                }
            },
        ))
    }
}
