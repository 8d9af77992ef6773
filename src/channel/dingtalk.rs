//! `dingtalk`: a DingTalk (钉钉) custom robot.
//!
//! POSTs `{"msgtype":"text","text":{"content":…}}`, or for markdown
//! `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`, to the robot's webhook address.
//! With a `secret` (加签), each request carries `timestamp` (milliseconds) and `sign` query
//! parameters: the Base64 of HMAC-SHA256, keyed with the secret, over
//! "timestamp\nsecret". DingTalk answers with `errcode`; anything but 0 is a failure.

use super::env::Resolver;
use super::http::{Target, by_code};
use super::{Channel, Limit, Options, Outgoing, Secret, SendFuture, Unit, send_parts};
use crate::playbook::model::{EnvString, MessageFormat};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

/// DingTalk takes a message of up to 20,000 bytes.
pub(crate) const LIMIT: Limit = Limit::new(20_000, Unit::Bytes);

#[derive(Debug)]
pub(crate) struct Dingtalk {
    target: Target,
    secret: Option<Secret>,
    format: MessageFormat,
}

impl Dingtalk {
    pub fn build(
        cx: &mut Resolver<'_>,
        webhook: &EnvString,
        secret: Option<&EnvString>,
        format: MessageFormat,
        opts: &Options,
    ) -> Option<Dingtalk> {
        let target = Target::build(cx, "webhook", webhook, opts);
        let secret = secret.and_then(|s| cx.secret("secret", s));
        let mut target = target?;
        if cx.failed() {
            return None;
        }
        target.secrets = cx.secrets();
        Some(Dingtalk {
            target,
            secret,
            format,
        })
    }

    fn payload(&self, content: &str) -> serde_json::Value {
        match self.format {
            MessageFormat::Text => json!({ "msgtype": "text", "text": { "content": content } }),
            MessageFormat::Markdown => json!({
                "msgtype": "markdown",
                "markdown": { "title": title_of(content), "text": content },
            }),
        }
    }

    fn url(&self) -> reqwest::Url {
        let mut url = self.target.url.clone();
        if let Some(secret) = &self.secret {
            let ts = self.target.now().timestamp_millis();
            let sign = sign(ts, secret.expose());
            url.query_pairs_mut()
                .append_pair("timestamp", &ts.to_string())
                .append_pair("sign", &sign);
        }
        url
    }
}

/// DingTalk's signature: Base64(HMAC-SHA256(key = secret, message = "timestamp\nsecret")),
/// before URL encoding.
pub fn sign(timestamp_ms: i64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The title a markdown message shows in the conversation list: its first non-empty line
/// without heading marks, at most 30 characters.
fn title_of(text: &str) -> String {
    let line = text
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.chars().take(30).collect()
}

/// DingTalk codes worth retrying: -1 (system busy) and 130101 (more than 20 messages in a
/// minute; the robot is then held back for 10 minutes).
fn retry_code(code: i64, _msg: &str) -> Option<Option<Duration>> {
    match code {
        -1 => Some(None),
        130101 => Some(Some(Duration::from_secs(600))),
        _ => None,
    }
}

impl Channel for Dingtalk {
    fn kind(&self) -> &'static str {
        "dingtalk"
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
                match t
                    .post(
                        self.url(),
                        "application/json;charset=utf-8",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_title_is_the_first_line_without_marks() {
        assert_eq!(title_of("\n## 今日打卡\n内容"), "今日打卡");
        assert_eq!(title_of(&"长".repeat(40)).chars().count(), 30);
    }
}
