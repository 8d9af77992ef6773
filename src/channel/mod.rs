//! Delivery channels: where a rendered message goes.
//!
//! Each channel type lives in its own file and implements [`Channel`]. A channel is built
//! once from the playbook's declaration ([`build`], [`build_all`]) with every `${NAME}`
//! resolved from an environment the caller passes in, then asked to [`Channel::send`] one
//! [`Outgoing`] message at a time. The answer is a [`SendOutcome`]: sent, worth retrying
//! (with the platform's requested delay when it gives one), or permanently refused. Retrying,
//! rate limiting and recording outcomes belong to the runtime, not here.
//!
//! Secrets (webhook addresses, tokens, signing keys, anything read from the environment) are
//! held as [`Secret`], which never prints its value, and are scrubbed from every reason and
//! answer a channel returns.

mod console;
mod dingtalk;
mod discord;
mod env;
mod exec;
mod feishu;
mod file;
mod http;
mod slack;
mod split;
mod telegram;
mod webhook;
mod wecom;

pub use console::ConsoleSink;
pub use env::{BuildError, Problem, Secret, resolve};
pub use exec::EXIT_RETRY;
pub use http::{Http, HttpConfig, redact_url, retry_after};
pub use split::{Limit, Unit, split};
pub use telegram::DEFAULT_API_BASE;

use crate::playbook::model::{ChannelKind, Playbook};
use crate::playbook::types::RateLimit;
use chrono::{DateTime, SecondsFormat, Utc};
use indexmap::IndexMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// One message to deliver: the rendered text and what identifies the fire it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The rendered message.
    pub text: String,
    /// The fire's unique key; sent as `Idempotency-Key` so a receiver can drop a repeat.
    pub key: String,
    /// What fired it, e.g. `content/morning` or `activity/winter-challenge/live/daily-task`.
    pub source: String,
    /// The instant the fire was scheduled for.
    pub at: DateTime<Utc>,
    pub community_id: String,
    pub community_name: String,
    /// Parts of a split message already delivered by earlier attempts; a retry starts after
    /// them so that no part reaches the group twice. 0 on the first attempt.
    pub parts_sent: usize,
    /// Waited on before each part of a split message after the first this attempt sends
    /// (the first is paced by the caller): the channel's pace counts requests, not messages.
    pub gate: Option<Gate>,
}

/// Waits until one more request may go to the platform. Answers false when the sender is
/// stopping: the rest of the message is then left for the next attempt.
#[derive(Clone)]
pub struct Gate(pub Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>);

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gate")
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Gate {}

impl Outgoing {
    /// The JSON object the file and exec channels write: the message and its fire.
    pub fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "key": self.key,
            "source": self.source,
            "at": self.at_rfc3339(),
            "community": { "id": self.community_id, "name": self.community_name },
            "message": self.text,
        })
    }

    pub fn at_rfc3339(&self) -> String {
        self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The idempotency key of part `index` (0-based) of `count`: the fire key itself for a
    /// message sent whole, the key with `#n` appended for each part of a split one.
    pub fn part_key(&self, index: usize, count: usize) -> String {
        if count <= 1 {
            self.key.clone()
        } else {
            format!("{}#{}", self.key, index + 1)
        }
    }
}

/// What the platform answered, kept for `drumbeat send` to print and for the outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, for HTTP channels.
    pub status: Option<u16>,
    /// The platform's error code (`errcode`, `code`, `error_code`), or a program's exit code.
    pub code: Option<i64>,
    /// The platform's message (`errmsg`, `msg`, `description`, a short body excerpt).
    pub message: Option<String>,
    /// When the message was accepted, where the channel knows it better than the moment
    /// its answer is read (a `file` line is on disk before the sending task runs again).
    pub accepted: Option<std::time::Instant>,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.status {
            parts.push(format!("HTTP {s}"));
        }
        if let Some(c) = self.code {
            parts.push(format!("code {c}"));
        }
        if let Some(m) = &self.message
            && !m.is_empty()
        {
            parts.push(m.clone());
        }
        if parts.is_empty() {
            f.write_str("no answer")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// How one send attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Delivered: every part was accepted. `answer` is the platform's answer to the last part.
    Sent { answer: Answer, parts: usize },
    /// Not delivered, worth trying again: a timeout, a connection error, a 5xx, a 429 or a
    /// platform rate-limit code. `after` is the delay the platform asked for, if any.
    Retry {
        after: Option<Duration>,
        reason: String,
        answer: Option<Answer>,
        /// Parts delivered so far, counting those of earlier attempts.
        parts_sent: usize,
    },
    /// Refused for good: trying again would get the same answer (a bad address, token or
    /// signature, a rejected payload, a program that exits with an error).
    Permanent {
        reason: String,
        answer: Option<Answer>,
        parts_sent: usize,
    },
}

impl SendOutcome {
    pub fn is_sent(&self) -> bool {
        matches!(self, SendOutcome::Sent { .. })
    }

    pub fn answer(&self) -> Option<&Answer> {
        match self {
            SendOutcome::Sent { answer, .. } => Some(answer),
            SendOutcome::Retry { answer, .. } | SendOutcome::Permanent { answer, .. } => {
                answer.as_ref()
            }
        }
    }

    pub(crate) fn retry(reason: impl Into<String>) -> SendOutcome {
        SendOutcome::Retry {
            after: None,
            reason: reason.into(),
            answer: None,
            parts_sent: 0,
        }
    }

    pub(crate) fn permanent(reason: impl Into<String>) -> SendOutcome {
        SendOutcome::Permanent {
            reason: reason.into(),
            answer: None,
            parts_sent: 0,
        }
    }

    pub(crate) fn with_answer(mut self, a: Answer) -> SendOutcome {
        match &mut self {
            SendOutcome::Sent { answer, .. } => *answer = a,
            SendOutcome::Retry { answer, .. } | SendOutcome::Permanent { answer, .. } => {
                *answer = Some(a)
            }
        }
        self
    }

    fn with_parts_sent(mut self, n: usize) -> SendOutcome {
        match &mut self {
            SendOutcome::Sent { parts, .. } => *parts = n,
            SendOutcome::Retry { parts_sent, .. } | SendOutcome::Permanent { parts_sent, .. } => {
                *parts_sent = n
            }
        }
        self
    }

    /// Replaces every occurrence of a secret in the reason and answer with `***`.
    pub(crate) fn scrubbed(mut self, secrets: &[Secret]) -> SendOutcome {
        let fix = |s: &mut String| *s = env::scrub(s, secrets);
        match &mut self {
            SendOutcome::Sent { answer, .. } => {
                if let Some(m) = &mut answer.message {
                    fix(m)
                }
            }
            SendOutcome::Retry { reason, answer, .. }
            | SendOutcome::Permanent { reason, answer, .. } => {
                fix(reason);
                if let Some(m) = answer.as_mut().and_then(|a| a.message.as_mut()) {
                    fix(m)
                }
            }
        }
        self
    }
}

/// The future a send returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = SendOutcome> + Send + 'a>>;

/// A place messages can be delivered to.
pub trait Channel: Send + Sync + fmt::Debug {
    /// The channel type, as written in the playbook (`wecom`, `file`, ...).
    fn kind(&self) -> &'static str;

    /// The most one message may hold on this platform; longer messages are split into
    /// ordered parts at line boundaries. `None`: no limit, nothing is split.
    fn limit(&self) -> Option<Limit> {
        None
    }

    /// Delivers one message (all its parts, from `msg.parts_sent` on).
    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a>;
}

/// Sends the parts of `msg` in order, starting after those already sent, stopping at the
/// first part that is not accepted.
pub(crate) async fn send_parts<F, Fut>(
    msg: &Outgoing,
    limit: Option<Limit>,
    secrets: &[Secret],
    mut send_one: F,
) -> SendOutcome
where
    F: FnMut(String, String) -> Fut,
    Fut: Future<Output = SendOutcome>,
{
    let parts = match limit {
        Some(l) => split(&msg.text, l),
        None => vec![msg.text.clone()],
    };
    let count = parts.len();
    let mut last = None;
    let first = msg.parts_sent.min(count);
    let mut delivered = first;
    for (i, part) in parts.into_iter().enumerate().skip(delivered) {
        if i > first
            && let Some(gate) = &msg.gate
            && !(gate.0)().await
        {
            return SendOutcome::Retry {
                answer: last,
                reason: format!(
                    "stopped after part {delivered} of {count}; the rest goes at the next attempt"
                ),
                after: None,
                parts_sent: delivered,
            }
            .scrubbed(secrets);
        }
        let outcome = send_one(part, msg.part_key(i, count)).await;
        match outcome {
            SendOutcome::Sent { answer, .. } => {
                delivered = i + 1;
                last = Some(answer);
            }
            other => return other.with_parts_sent(delivered).scrubbed(secrets),
        }
    }
    SendOutcome::Sent {
        answer: last.unwrap_or_default(),
        parts: count,
    }
    .scrubbed(secrets)
}

/// A source of the current instant: signatures and `Retry-After` dates need it, and tests
/// fix it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What building channels needs besides the playbook and the environment.
#[derive(Clone)]
pub struct Options {
    pub http: Http,
    pub clock: Clock,
    /// Where the console channel prints.
    pub console: ConsoleSink,
    /// How long an `exec` program may run when its channel sets no `timeout`.
    pub exec_timeout: Duration,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("http", &self.http)
            .field("exec_timeout", &self.exec_timeout)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// The real thing: the system clock, standard output, the default HTTP client.
    pub fn new() -> Result<Options, String> {
        Ok(Options {
            http: Http::new(&HttpConfig::default())?,
            clock: Arc::new(Utc::now),
            console: ConsoleSink::stdout(),
            exec_timeout: DEFAULT_EXEC_TIMEOUT,
        })
    }
}

/// How long an `exec` program may run by default.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the channel declared as `id` in playbook `p`, resolving `${NAME}` with `env`.
/// Every problem is reported, not just the first.
pub fn build(
    p: &Playbook,
    id: &str,
    env: &dyn Fn(&str) -> Option<String>,
    opts: &Options,
) -> Result<Arc<dyn Channel>, Vec<BuildError>> {
    let Some(ch) = p
        .channels
        .iter()
        .find(|(k, _)| k.as_str() == id)
        .map(|(_, c)| c)
    else {
        return Err(vec![BuildError::unknown_channel(id, p.span)]);
    };
    let mut cx = env::Resolver::new(id, env);
    let built: Option<Arc<dyn Channel>> = match &ch.kind {
        ChannelKind::Console => Some(Arc::new(console::Console::new(opts.console.clone()))),
        ChannelKind::File { path } => cx
            .plain("path", path)
            .map(|p| Arc::new(file::File::new(p)) as Arc<dyn Channel>),
        ChannelKind::Webhook {
            url,
            method,
            headers,
            body,
        } => webhook::Webhook::build(&mut cx, p, url, method, headers, body.as_ref(), opts)
            .map(|c| Arc::new(c) as Arc<dyn Channel>),
        ChannelKind::Wecom { webhook, format } => {
            wecom::Wecom::build(&mut cx, webhook, *format, opts)
                .map(|c| Arc::new(c) as Arc<dyn Channel>)
        }
        ChannelKind::Dingtalk {
            webhook,
            secret,
            format,
        } => dingtalk::Dingtalk::build(&mut cx, webhook, secret.as_ref(), *format, opts)
            .map(|c| Arc::new(c) as Arc<dyn Channel>),
        ChannelKind::Feishu { webhook, secret } => {
            feishu::Feishu::build(&mut cx, webhook, secret.as_ref(), opts)
                .map(|c| Arc::new(c) as Arc<dyn Channel>)
        }
        ChannelKind::Slack { webhook } => {
            slack::Slack::build(&mut cx, webhook, opts).map(|c| Arc::new(c) as Arc<dyn Channel>)
        }
        ChannelKind::Discord { webhook } => {
            discord::Discord::build(&mut cx, webhook, opts).map(|c| Arc::new(c) as Arc<dyn Channel>)
        }
        ChannelKind::Telegram {
            token,
            chat_id,
            api_base,
        } => telegram::Telegram::build(&mut cx, token, chat_id, api_base.as_ref(), opts)
            .map(|c| Arc::new(c) as Arc<dyn Channel>),
        ChannelKind::Exec { command, timeout } => {
            let timeout = timeout.map_or(opts.exec_timeout, |t| Duration::from_secs(t.as_secs()));
            exec::Exec::build(&mut cx, command, timeout).map(|c| Arc::new(c) as Arc<dyn Channel>)
        }
    };
    let errors = cx.finish();
    match built {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(errors),
    }
}

/// A console channel writing to `sink`: what `--dry-run` sends everything to.
pub fn console(sink: ConsoleSink) -> Arc<dyn Channel> {
    Arc::new(console::Console::new(sink))
}

/// Builds every channel of playbook `p`, reporting every problem of every channel.
pub fn build_all(
    p: &Playbook,
    env: &dyn Fn(&str) -> Option<String>,
    opts: &Options,
) -> Result<IndexMap<String, Arc<dyn Channel>>, Vec<BuildError>> {
    let mut out = IndexMap::new();
    let mut errors = Vec::new();
    for id in p.channels.keys() {
        match build(p, id.as_str(), env, opts) {
            Ok(c) => {
                out.insert(id.as_str().to_string(), c);
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The size limit of a channel type, known without building the channel (so without the
/// environment): what validation uses to warn about messages that will be split.
pub fn limit_of(kind: &ChannelKind) -> Option<Limit> {
    use crate::playbook::model::MessageFormat;
    match kind {
        ChannelKind::Wecom {
            format: MessageFormat::Text,
            ..
        } => Some(wecom::TEXT_LIMIT),
        ChannelKind::Wecom {
            format: MessageFormat::Markdown,
            ..
        } => Some(wecom::MARKDOWN_LIMIT),
        ChannelKind::Dingtalk { .. } => Some(dingtalk::LIMIT),
        ChannelKind::Feishu { .. } => Some(feishu::LIMIT),
        ChannelKind::Slack { .. } => Some(slack::LIMIT),
        ChannelKind::Discord { .. } => Some(discord::LIMIT),
        ChannelKind::Telegram { .. } => Some(telegram::LIMIT),
        ChannelKind::Console
        | ChannelKind::File { .. }
        | ChannelKind::Webhook { .. }
        | ChannelKind::Exec { .. } => None,
    }
}

/// The limit the platform publishes for one webhook or bot, used when a channel sets no
/// `rate_limit`. `None` for the local and self-hosted types (console, file, exec, webhook),
/// which the engine does not pace unless told to. Sources are listed in docs/channels.md.
pub fn default_rate_limit(kind: &ChannelKind) -> Option<RateLimit> {
    let per_min = |count| RateLimit {
        count,
        per_secs: 60,
    };
    match kind {
        ChannelKind::Wecom { .. } => Some(per_min(20)),
        ChannelKind::Dingtalk { .. } => Some(per_min(20)),
        ChannelKind::Feishu { .. } => Some(per_min(100)),
        ChannelKind::Slack { .. } => Some(RateLimit {
            count: 1,
            per_secs: 1,
        }),
        ChannelKind::Discord { .. } => Some(per_min(30)),
        ChannelKind::Telegram { .. } => Some(per_min(20)),
        ChannelKind::Console
        | ChannelKind::File { .. }
        | ChannelKind::Webhook { .. }
        | ChannelKind::Exec { .. } => None,
    }
}

/// The most messages a platform takes at once, when that is fewer than its per-minute
/// limit: Feishu allows 100 a minute but no more than 5 in one second. A token bucket should
/// hold at most this many tokens.
pub fn default_burst(kind: &ChannelKind) -> Option<u32> {
    match kind {
        ChannelKind::Feishu { .. } => Some(5),
        _ => None,
    }
}

/// The rate limit in force for a channel: its own `rate_limit`, else its type's default.
pub fn rate_limit_of(ch: &crate::playbook::model::Channel) -> Option<RateLimit> {
    ch.rate_limit.or_else(|| default_rate_limit(&ch.kind))
}
