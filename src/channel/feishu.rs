//! `feishu`: a Feishu/Lark (飞书) custom bot.
//!
//! POSTs `{"msg_type":"text","content":{"text":…}}` to the bot's webhook address. With a
//! `secret` (签名校验), the body also carries `timestamp` (seconds, as a string) and `sign`:
//! the Base64 of HMAC-SHA256 keyed with "timestamp\nsecret" over an empty message. Feishu
//! answers with `code` (older bots: `StatusCode`); anything but 0 is a failure.

use super::env::Resolver;
use super::http::{Target, by_code};
use super::{Channel, Limit, Options, Outgoing, Secret, SendFuture, Unit, send_parts};
use crate::playbook::model::EnvString;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

/// Feishu takes a request body of up to 20 KB; the text may use what the envelope and the
/// signature leave.
pub(crate) const LIMIT: Limit = Limit::new(19_000, Unit::JsonBytes);

#[derive(Debug)]
pub(crate) struct Feishu {
    target: Target,
    secret: Option<Secret>,
}

impl Feishu {
    pub fn build(
        cx: &mut Resolver<'_>,
        webhook: &EnvString,
        secret: Option<&EnvString>,
        opts: &Options,
    ) -> Option<Feishu> {
        let target = Target::build(cx, "webhook", webhook, opts);
        let secret = secret.and_then(|s| cx.secret("secret", s));
        let mut target = target?;
        if cx.failed() {
            return None;
        }
        target.secrets = cx.secrets();
        Some(Feishu { target, secret })
    }

    fn payload(&self, text: &str) -> serde_json::Value {
        let mut body = json!({ "msg_type": "text", "content": { "text": text } });
        if let Some(secret) = &self.secret {
            let ts = self.target.now().timestamp();
            body["timestamp"] = json!(ts.to_string());
            body["sign"] = json!(sign(ts, secret.expose()));
        }
        body
    }
}

/// Feishu's signature: Base64(HMAC-SHA256(key = "timestamp\nsecret", message = "")).
pub fn sign(timestamp_s: i64, secret: &str) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Feishu codes worth retrying: 11232 (the bot's 100-a-minute, 5-a-second limit), 230020
/// (the chat's limit) and 9499 when it says "too many requests".
fn retry_code(code: i64, msg: &str) -> Option<Option<Duration>> {
    match code {
        11232 | 230020 => Some(None),
        9499 if msg.to_ascii_lowercase().contains("too many") => Some(None),
        _ => None,
    }
}

impl Channel for Feishu {
    fn kind(&self) -> &'static str {
        "feishu"
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
                        t.url.clone(),
                        "application/json",
                        &key,
                        &self.payload(&part),
                    )
                    .await
                {
                    Ok(reply) => {
                        // Bots made before 2020 answer `StatusCode`/`StatusMessage` instead.
                        let legacy = reply.json().is_some_and(|j| {
                            j.get("code").is_none() && j.get("StatusCode").is_some()
                        });
                        if legacy {
                            by_code(&reply, t.now(), "StatusCode", "StatusMessage", retry_code)
                        } else {
                            by_code(&reply, t.now(), "code", "msg", retry_code)
                        }
                    }
                    Err(o) => o,
                }
            },
        ))
    }
}
