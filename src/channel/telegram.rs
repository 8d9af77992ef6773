//! `telegram`: a Telegram bot, through the Bot API's `sendMessage`.
//!
//! POSTs `{"chat_id":…,"text":…}` to `{api_base}/bot{token}/sendMessage`. The Bot API
//! answers `{"ok":true,…}`, or `{"ok":false,"error_code":…,"description":…}` with
//! `parameters.retry_after` (seconds) when it is limiting the bot.

use super::env::Resolver;
use super::http::{Target, parse_url};
use super::{Channel, Limit, Options, Outgoing, SendFuture, SendOutcome, Unit, send_parts};
use crate::playbook::model::EnvString;
use serde_json::json;
use std::time::Duration;

/// A message holds 1 to 4096 characters, counted in UTF-16 code units.
pub(crate) const LIMIT: Limit = Limit::new(4096, Unit::Utf16);

/// The public Bot API.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

#[derive(Debug)]
pub(crate) struct Telegram {
    target: Target,
    chat_id: serde_json::Value,
}

impl Telegram {
    pub fn build(
        cx: &mut Resolver<'_>,
        token: &EnvString,
        chat_id: &EnvString,
        api_base: Option<&EnvString>,
        opts: &Options,
    ) -> Option<Telegram> {
        let token_field = token;
        let token = cx.secret("token", token);
        let chat = cx.plain("chat_id", chat_id);
        let base = match api_base {
            Some(b) => cx.plain("api_base", b).map(|s| (s, Some(b))),
            None => Some((DEFAULT_API_BASE.to_string(), None)),
        };
        let (token, chat, (base, base_field)) = (token?, chat?, base?);
        if let Some(field) = base_field
            && let Err(m) = parse_url(&base)
        {
            cx.invalid("api_base", field, m);
            return None;
        }
        if token.expose().contains(['/', '?', '#']) {
            cx.invalid(
                "token",
                token_field,
                "is not a bot token (it holds `/`, `?` or `#`)",
            );
            return None;
        }
        let url = format!(
            "{}/bot{}/sendMessage",
            base.trim_end_matches('/'),
            token.expose()
        );
        let url = parse_url(&url).ok()?;
        // A numeric id goes as a number, an `@channel` name as a string, as the API documents.
        let chat_id = match chat.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(chat.trim()),
        };
        Some(Telegram {
            target: Target {
                url,
                http: opts.http.clone(),
                clock: opts.clock.clone(),
                secrets: cx.secrets(),
            },
            chat_id,
        })
    }
}

impl Channel for Telegram {
    fn kind(&self) -> &'static str {
        "telegram"
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
                let body = json!({ "chat_id": self.chat_id, "text": part });
                let reply = match t.post(t.url.clone(), "application/json", &key, &body).await {
                    Ok(r) => r,
                    Err(o) => return o,
                };
                let json = reply.json();
                let ok = json
                    .as_ref()
                    .and_then(|j| j.get("ok"))
                    .and_then(|v| v.as_bool());
                let code = json
                    .as_ref()
                    .and_then(|j| j.get("error_code"))
                    .and_then(|v| v.as_i64());
                let description = json
                    .as_ref()
                    .and_then(|j| j.get("description"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let retry_after = json
                    .as_ref()
                    .and_then(|j| j.pointer("/parameters/retry_after"))
                    .and_then(|v| v.as_u64())
                    .map(Duration::from_secs);
                let answer = reply.answer(code, description.clone());
                if ok == Some(true) && reply.success() {
                    return SendOutcome::Sent { answer, parts: 1 };
                }
                let limited = code == Some(429) || retry_after.is_some();
                if limited || code.is_some_and(|c| c >= 500) {
                    return SendOutcome::Retry {
                        after: retry_after.or_else(|| super::retry_after(&reply.headers, t.now())),
                        reason: format!(
                            "Telegram is limiting or failing: {}",
                            description.as_deref().unwrap_or("no description")
                        ),
                        answer: Some(answer),
                        parts_sent: 0,
                    };
                }
                // A group that became a supergroup has a new id; say which.
                let moved = json
                    .as_ref()
                    .and_then(|j| j.pointer("/parameters/migrate_to_chat_id"))
                    .and_then(|v| v.as_i64())
                    .map(|id| format!(" (the group moved: set `chat_id` to {id})"))
                    .unwrap_or_default();
                if moved.is_empty()
                    && let Some(o) = reply.by_status(t.now(), answer.clone())
                {
                    return o;
                }
                SendOutcome::Permanent {
                    reason: format!(
                        "Telegram refused the message: {}{moved}",
                        description.as_deref().unwrap_or("no description")
                    ),
                    answer: Some(answer),
                    parts_sent: 0,
                }
            },
        ))
    }
}
