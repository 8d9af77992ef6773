//! `wecom`: a WeCom (企业微信) group robot.
//!
//! POSTs `{"msgtype":"text","text":{"content":…}}` (or `markdown`) to the robot's webhook
//! address. WeCom answers HTTP 200 with `errcode`; anything but 0 is a failure.

use super::env::Resolver;
use super::http::{Target, by_code};
use super::{Channel, Limit, Options, Outgoing, SendFuture, Unit, send_parts};
use crate::playbook::model::{EnvString, MessageFormat};
use serde_json::json;
use std::time::Duration;

/// WeCom's limits: text content at most 2048 bytes, markdown content at most 4096 bytes.
pub(crate) const TEXT_LIMIT: Limit = Limit::new(2048, Unit::Bytes);
pub(crate) const MARKDOWN_LIMIT: Limit = Limit::new(4096, Unit::Bytes);

#[derive(Debug)]
pub(crate) struct Wecom {
    target: Target,
    format: MessageFormat,
}

impl Wecom {
    pub fn build(
        cx: &mut Resolver<'_>,
        webhook: &EnvString,
        format: MessageFormat,
        opts: &Options,
    ) -> Option<Wecom> {
        let mut target = Target::build(cx, "webhook", webhook, opts)?;
        target.secrets = cx.secrets();
        Some(Wecom { target, format })
    }

    fn payload(&self, content: &str) -> serde_json::Value {
        match self.format {
            MessageFormat::Text => json!({ "msgtype": "text", "text": { "content": content } }),
            MessageFormat::Markdown => {
                json!({ "msgtype": "markdown", "markdown": { "content": content } })
            }
        }
    }
}

/// WeCom codes worth retrying: -1 (system busy) and 45009 (over the robot's rate limit,
/// which counts per minute).
fn retry_code(code: i64, _msg: &str) -> Option<Option<Duration>> {
    match code {
        -1 => Some(None),
        45009 => Some(Some(Duration::from_secs(60))),
        _ => None,
    }
}

impl Channel for Wecom {
    fn kind(&self) -> &'static str {
        "wecom"
    }

    fn limit(&self) -> Option<Limit> {
        Some(match self.format {
            MessageFormat::Text => TEXT_LIMIT,
            MessageFormat::Markdown => MARKDOWN_LIMIT,
        })
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(send_parts(
            msg,
            self.limit(),
            &self.target.secrets,
            move |part, key| async move {
                let t = &self.target;
                match t
                    .post(
                        t.url.clone(),
                        "application/json",
                        &key,
                        &self.payload(&part),
                    )
                    .await
                {
                    Ok(reply) => by_code(&reply, t.now(), "errcode", "errmsg", retry_code),
                    Err(o) => o,
                }
            },
        ))
    }
}
