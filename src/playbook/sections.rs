//! Decoding each section of a playbook from its YAML node.

use crate::diag::Code;
use crate::playbook::decode::{Cx, Decode, choice};
use crate::playbook::kept::Kept;
use crate::playbook::model::*;
use crate::playbook::types::{self, Days, Duration, Id, LocalTime, parse_weekday};
use crate::source::Spanned;
use indexmap::IndexMap;
use marked_yaml::Node;

pub const TOP_FIELDS: &[&str] = &[
    "version",
    "community",
    "channels",
    "default_channel",
    "entry",
    "rules",
    "content",
    "activities",
    "rewards",
    "segments",
    "retention",
    "templates",
];

pub fn playbook(node: &Node, cx: &mut Cx) -> Option<Playbook> {
    let mut f = cx.fields(node, "the playbook", TOP_FIELDS)?;
    let version = match f.node("version") {
        Some(n) => {
            let v = cx
                .scalar(n, "the language version")
                .map(|s| s.as_str().to_string());
            match v.as_deref() {
                Some("1") => Some(1),
                Some(other) => {
                    let span = cx.span(n);
                    cx.report(
                        crate::diag::Diagnostic::new(
                            Code::UnsupportedVersion,
                            span,
                            format!("playbook language version `{other}` is not supported"),
                        )
                        .with_hint("this engine reads `version: 1`"),
                    );
                    None
                }
                None => None,
            }
        }
        None => {
            let span = f.map.keys().next().map_or(f.span, |k| cx.scalar_span(k));
            cx.report(
                crate::diag::Diagnostic::new(
                    Code::UnsupportedVersion,
                    span,
                    "missing field `version`",
                )
                .with_hint("start the playbook with `version: 1`"),
            );
            None
        }
    };
    if version.is_none() {
        f.fail();
    }
    let community = f.req_with(cx, "community", community);
    let channels = match f.node("channels") {
        Some(n) => f.opt_with(cx, "channels", |cx, _| channels(n, cx)),
        None => {
            f.missing(cx, "channels");
            None
        }
    };
    let default_channel = f.opt::<Ref>(cx, "default_channel");
    let entry = f.opt_with(cx, "entry", entry);
    let rules = f
        .opt_with(cx, "rules", |cx, n| cx.list(n, "rules", rule))
        .unwrap_or_default();
    let content = f.opt_with(cx, "content", content).unwrap_or_default();
    let activities = f
        .opt_with(cx, "activities", |cx, n| cx.list(n, "activities", activity))
        .unwrap_or_default();
    let rewards = f.opt_with(cx, "rewards", rewards).unwrap_or_default();
    let segments = f
        .opt_with(cx, "segments", |cx, n| cx.list(n, "segments", segment))
        .unwrap_or_default();
    let retention = f.opt_with(cx, "retention", retention);
    let templates = f.opt_with(cx, "templates", templates).unwrap_or_default();
    f.finish()?;
    Some(Playbook {
        span: f.span,
        version: version?,
        community: community?,
        channels: channels?,
        default_channel,
        entry,
        rules,
        content,
        activities,
        rewards,
        segments,
        retention,
        templates,
    })
}

fn strings(cx: &mut Cx, n: &Node) -> Option<Vec<String>> {
    cx.list(n, "text", |cx, n| String::decode(n, cx))
}

fn community(cx: &mut Cx, node: &Node) -> Option<Community> {
    let mut f = cx.fields(
        node,
        "community",
        &[
            "id", "name", "kind", "goal", "audience", "offer", "values", "timezone", "locale",
            "capacity", "runs",
        ],
    )?;
    let id = f.req::<Ref>(cx, "id");
    let name = f.req::<String>(cx, "name");
    let kind = f.req_with(cx, "kind", |cx, n| {
        choice(
            cx,
            n,
            "community kind",
            &[
                ("service", CommunityKind::Service),
                ("sales", CommunityKind::Sales),
                ("resource", CommunityKind::Resource),
            ],
        )
    });
    let goal = f.opt::<String>(cx, "goal");
    let audience = f.opt_with(cx, "audience", strings).unwrap_or_default();
    let offer = f.opt_with(cx, "offer", strings).unwrap_or_default();
    let values = f.opt_with(cx, "values", strings).unwrap_or_default();
    let timezone = f.req_with(cx, "timezone", |cx, n| {
        let s = cx.scalar(n, "a time zone")?;
        match types::parse_timezone(s.as_str()) {
            Ok(tz) => Some(tz),
            Err(msg) => {
                let span = cx.scalar_span(s);
                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                let mut d = crate::diag::Diagnostic::new(Code::UnknownTimezone, span, msg);
                // Beijing time is the zone operators most often name by its city; IANA
                // files it under Shanghai, and string similarity would say Brunei.
                let china = ["beijing", "北京", "china", "中国"]
                    .iter()
                    .any(|w| s.as_str().to_lowercase().contains(w));
                let m = if china {
                    Some("Asia/Shanghai")
                } else {
                    crate::diag::suggest(s.as_str(), names)
                };
                if let Some(m) = m {
                    d.hint = Some(format!("did you mean `{m}`?"));
                }
                cx.report(d);
                None
            }
        }
    });
    let locale = f
        .opt::<String>(cx, "locale")
        .unwrap_or_else(|| "zh-CN".to_string());
    let capacity = f.opt::<u32>(cx, "capacity");
    let runs = f.opt_with(cx, "runs", |cx, n| {
        let span = cx.span(n);
        let mut r = cx.fields(n, "runs", &["from", "until"])?;
        let from = r.opt_with(cx, "from", date);
        let until = r.opt_with(cx, "until", date);
        r.finish()?;
        if let (Some(a), Some(b)) = (from, until)
            && b < a
        {
            cx.error(
                Code::ReversedRange,
                span,
                format!("`runs` ends ({b}) before it starts ({a})"),
            );
            return None;
        }
        Some(Spanned::new(Runs { from, until }, span))
    });
    f.finish()?;
    Some(Community {
        id: id?,
        name: name?,
        kind: kind?,
        goal,
        audience,
        offer,
        values,
        timezone: timezone?,
        locale,
        capacity,
        runs,
    })
}

fn date(cx: &mut Cx, n: &Node) -> Option<chrono::NaiveDate> {
    let s = cx.scalar(n, "a date")?;
    match types::parse_date(s.as_str()) {
        Ok(d) => Some(d),
        Err(msg) => {
            let span = cx.scalar_span(s);
            cx.error(Code::InvalidTime, span, msg);
            None
        }
    }
}

fn env_string(cx: &mut Cx, n: &Node) -> Option<EnvString> {
    let raw = Spanned::<String>::decode(n, cx)?;
    let mut rest = raw.value.as_str();
    let mut offset = 0;
    let mut ok = true;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let end = after.find('}');
        let name = end.map(|e| &after[..e]);
        let valid = name.is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid {
            ok = false;
            let quoted = raw.span.start as usize
                + usize::from(cx.file.text[raw.span.range()].starts_with(['"', '\'']));
            let span = crate::source::Span::new(
                raw.span.file,
                quoted + offset + i,
                quoted + offset + i + 2,
            );
            cx.report(
                crate::diag::Diagnostic::new(
                    Code::InvalidEnvReference,
                    span,
                    "malformed environment reference",
                )
                .with_hint("write `${NAME}` with a name of letters, digits and underscores"),
            );
            break;
        }
        let consumed = i + 2 + end.unwrap_or(0) + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    ok.then_some(EnvString { raw })
}

fn channels(node: &Node, cx: &mut Cx) -> Option<IndexMap<Id, Channel>> {
    let v = cx.keyed(node, "channel names to channels", |cx, id, v| {
        channel(cx, v, id)
    })?;
    Some(v.into_iter().map(|(id, ch)| (id.value, ch)).collect())
}

const CHANNEL_COMMON: &[&str] = &["type", "rate_limit", "assist"];

fn channel(cx: &mut Cx, node: &Node, id: Ref) -> Option<Channel> {
    let map = node.as_mapping();
    let ty = map
        .and_then(|m| m.get_scalar("type"))
        .map(|s| s.as_str().to_string());
    let specific: &[&str] = match ty.as_deref() {
        Some("console") => &[],
        Some("file") => &["path"],
        Some("webhook") => &["url", "method", "headers", "body"],
        Some("wecom") => &["webhook", "format"],
        Some("dingtalk") => &["webhook", "secret", "format"],
        Some("feishu") => &["webhook", "secret"],
        Some("slack") | Some("discord") => &["webhook"],
        Some("telegram") => &["token", "chat_id", "api_base"],
        Some("exec") => &["command", "timeout"],
        _ => &[],
    };
    let allowed: Vec<&str> = CHANNEL_COMMON.iter().chain(specific).copied().collect();
    let known_type = ty
        .as_deref()
        .is_some_and(|t| ChannelKind::NAMES.contains(&t));
    let mut f = if known_type {
        cx.fields(node, "a channel", &allowed)?
    } else {
        // Without a known type the other fields cannot be judged; only `type` is reported.
        let everything: Vec<&str> = map
            .map(|m| m.keys().map(|k| k.as_str()).collect())
            .unwrap_or_default();
        cx.fields(node, "a channel", &everything)?
    };
    let names: Vec<(&str, &str)> = ChannelKind::NAMES.iter().map(|n| (*n, *n)).collect();
    let ty = f.req_with(cx, "type", |cx, n| choice(cx, n, "channel type", &names));
    let rate_limit = f.opt(cx, "rate_limit");
    let assist = f.opt::<Ref>(cx, "assist");
    let format = |f: &mut crate::playbook::decode::Fields, cx: &mut Cx| {
        f.opt_with(cx, "format", |cx, n| {
            choice(
                cx,
                n,
                "message format",
                &[
                    ("text", MessageFormat::Text),
                    ("markdown", MessageFormat::Markdown),
                ],
            )
        })
        .unwrap_or(MessageFormat::Text)
    };
    let kind = match ty? {
        "console" => Some(ChannelKind::Console),
        "file" => f
            .req_with(cx, "path", env_string)
            .map(|path| ChannelKind::File { path }),
        "webhook" => {
            let url = f.req_with(cx, "url", env_string);
            let method = f
                .opt_with(cx, "method", |cx, n| {
                    choice(
                        cx,
                        n,
                        "HTTP method",
                        &[
                            ("POST", "POST"),
                            ("PUT", "PUT"),
                            ("PATCH", "PATCH"),
                            ("GET", "GET"),
                        ],
                    )
                })
                .unwrap_or("POST")
                .to_string();
            let headers = f
                .opt_with(cx, "headers", |cx, n| {
                    let Some(m) = n.as_mapping() else {
                        let span = cx.span(n);
                        cx.error(
                            Code::WrongType,
                            span,
                            "expected a mapping of header names to values",
                        );
                        return None;
                    };
                    let mut out = IndexMap::new();
                    let mut ok = true;
                    for (k, v) in m.iter() {
                        match env_string(cx, v) {
                            Some(s) => {
                                out.insert(k.as_str().to_string(), s);
                            }
                            None => ok = false,
                        }
                    }
                    ok.then_some(out)
                })
                .unwrap_or_default();
            let body = f.opt_with(cx, "body", |cx, n| {
                let s = cx.scalar(n, "a template")?;
                Some(Template {
                    id: id.clone(),
                    source: s.as_str().to_string(),
                    origin: cx.text_origin(s),
                })
            });
            url.map(|url| ChannelKind::Webhook {
                url,
                method,
                headers,
                body,
            })
        }
        "wecom" => {
            let webhook = f.req_with(cx, "webhook", env_string);
            let format = format(&mut f, cx);
            webhook.map(|webhook| ChannelKind::Wecom { webhook, format })
        }
        "dingtalk" => {
            let webhook = f.req_with(cx, "webhook", env_string);
            let secret = f.opt_with(cx, "secret", env_string);
            let format = format(&mut f, cx);
            webhook.map(|webhook| ChannelKind::Dingtalk {
                webhook,
                secret,
                format,
            })
        }
        "feishu" => {
            let webhook = f.req_with(cx, "webhook", env_string);
            let secret = f.opt_with(cx, "secret", env_string);
            webhook.map(|webhook| ChannelKind::Feishu { webhook, secret })
        }
        "slack" => f
            .req_with(cx, "webhook", env_string)
            .map(|webhook| ChannelKind::Slack { webhook }),
        "discord" => f
            .req_with(cx, "webhook", env_string)
            .map(|webhook| ChannelKind::Discord { webhook }),
        "telegram" => {
            let token = f.req_with(cx, "token", env_string);
            let chat_id = f.req_with(cx, "chat_id", env_string);
            let api_base = f.opt_with(cx, "api_base", env_string);
            match (token, chat_id) {
                (Some(token), Some(chat_id)) => Some(ChannelKind::Telegram {
                    token,
                    chat_id,
                    api_base,
                }),
                _ => None,
            }
        }
        "exec" => {
            let command = f.req_with(cx, "command", |cx, n| {
                let v = cx.list(n, "program and arguments", env_string)?;
                if v.is_empty() {
                    let span = cx.span(n);
                    cx.error(
                        Code::InvalidValue,
                        span,
                        "`command` needs at least the program to run",
                    );
                    return None;
                }
                Some(v)
            });
            let timeout = f.opt::<Duration>(cx, "timeout");
            command.map(|command| ChannelKind::Exec { command, timeout })
        }
        _ => None,
    };
    f.finish()?;
    Some(Channel {
        id,
        kind: kind?,
        rate_limit,
        assist,
    })
}

fn entry(cx: &mut Cx, node: &Node) -> Option<Entry> {
    let mut f = cx.fields(node, "entry", &["requirements", "welcome", "refusal"])?;
    let requirements = f
        .opt_with(cx, "requirements", |cx, n| {
            cx.list(n, "requirements", requirement)
        })
        .unwrap_or_default();
    let welcome = f.opt::<Ref>(cx, "welcome");
    let refusal = f.opt::<Ref>(cx, "refusal");
    f.finish()?;
    Some(Entry {
        requirements,
        welcome,
        refusal,
    })
}

fn requirement(cx: &mut Cx, node: &Node) -> Option<Requirement> {
    let kind_name = node
        .as_mapping()
        .and_then(|m| m.get_scalar("kind"))
        .map(|s| s.as_str().to_string());
    let specific: &[&str] = match kind_name.as_deref() {
        Some("nickname") => &["pattern"],
        Some("task") => &["description"],
        Some("payment") => &["amount", "currency"],
        _ => &[],
    };
    let allowed: Vec<&str> = ["id", "kind", "hint"]
        .iter()
        .chain(specific)
        .copied()
        .collect();
    let mut f = cx.fields(node, "a requirement", &allowed)?;
    let id = f.req::<Ref>(cx, "id");
    let names: Vec<(&str, &str)> = RequirementKind::NAMES.iter().map(|n| (*n, *n)).collect();
    let kind = f.req_with(cx, "kind", |cx, n| {
        choice(cx, n, "requirement kind", &names)
    });
    let hint = f.opt::<String>(cx, "hint");
    let kind = match kind {
        Some("accept_rules") => Some(RequirementKind::AcceptRules),
        Some("nickname") => f
            .req_with(cx, "pattern", regex)
            .map(|pattern| RequirementKind::Nickname { pattern }),
        Some("task") => f
            .req::<String>(cx, "description")
            .map(|description| RequirementKind::Task { description }),
        Some("payment") => {
            let amount = f.req::<f64>(cx, "amount");
            let currency = f
                .opt::<String>(cx, "currency")
                .unwrap_or_else(|| "CNY".into());
            amount.map(|amount| RequirementKind::Payment { amount, currency })
        }
        _ => None,
    };
    f.finish()?;
    Some(Requirement {
        id: id?,
        kind: kind?,
        hint,
    })
}

fn regex(cx: &mut Cx, n: &Node) -> Option<Spanned<regex::Regex>> {
    let s = cx.scalar(n, "a regular expression")?;
    let span = cx.scalar_span(s);
    match compiled(s.as_str()) {
        Ok(r) => Some(Spanned::new(r, span)),
        Err(e) => {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("").trim().to_string();
            cx.error(
                Code::InvalidRegex,
                span,
                format!("regular expression does not compile: {last}"),
            );
            None
        }
    }
}

/// A pattern compiled, or the same pattern compiled before in this process: a pattern
/// with Unicode classes (`\p{Han}{1,6}`) takes a good part of a millisecond to compile
/// and tens of kilobytes to hold, and clones of a `Regex` share one program (and are safe
/// to use from several threads).
fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    static PATTERNS: Kept<regex::Regex> = Kept::new();
    PATTERNS.get(pattern, || {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
    })
}

fn rule(cx: &mut Cx, node: &Node) -> Option<Rule> {
    let mut f = cx.fields(
        node,
        "a rule",
        &["id", "description", "match", "penalties", "template"],
    )?;
    let id = f.req::<Ref>(cx, "id");
    let description = f.req::<String>(cx, "description");
    let matcher = f.req_with(cx, "match", |cx, n| {
        let mut m = cx.fields(n, "a rule's match", &["keywords", "links", "patterns"])?;
        let keywords = m.opt_with(cx, "keywords", strings).unwrap_or_default();
        let links = m.opt::<bool>(cx, "links").unwrap_or(false);
        let patterns = m
            .opt_with(cx, "patterns", |cx, n| {
                cx.list(n, "regular expressions", regex)
            })
            .unwrap_or_default();
        m.finish()?;
        if keywords.is_empty() && !links && patterns.is_empty() {
            let span = cx.span(n);
            cx.error(
                Code::InvalidValue,
                span,
                "this rule matches nothing: give `keywords`, `patterns` or `links: true`",
            );
            return None;
        }
        Some(RuleMatch {
            keywords,
            links,
            patterns,
        })
    });
    let penalties = f.req_with(cx, "penalties", |cx, n| {
        let v = cx.list(n, "penalties", penalty)?;
        if v.is_empty() {
            let span = cx.span(n);
            cx.error(
                Code::InvalidValue,
                span,
                "a penalty ladder needs at least one step",
            );
            return None;
        }
        Some(v)
    });
    let template = f.opt::<Ref>(cx, "template");
    f.finish()?;
    Some(Rule {
        id: id?,
        description: description?,
        matcher: matcher?,
        penalties: penalties?,
        template,
    })
}

fn penalty(cx: &mut Cx, n: &Node) -> Option<Penalty> {
    let s = cx.scalar(n, "a penalty")?;
    let text = s.as_str().trim();
    let span = cx.scalar_span(s);
    let (word, arg) = match text.split_once([' ', ':']) {
        Some((w, a)) => (w, Some(a.trim())),
        None => (text, None),
    };
    match (word, arg) {
        ("warn", None) => Some(Penalty::Warn),
        ("remove", None) => Some(Penalty::Remove),
        ("mute", None) => Some(Penalty::Mute(None)),
        ("mute", Some(d)) => match d.parse::<Duration>() {
            Ok(d) => Some(Penalty::Mute(Some(d))),
            Err(msg) => {
                cx.error(Code::InvalidDuration, span, msg);
                None
            }
        },
        _ => {
            let mut d = crate::diag::Diagnostic::new(
                Code::InvalidValue,
                span,
                format!("`{text}` is not a penalty"),
            );
            d.hint = Some(
                match crate::diag::suggest(word, ["warn", "mute", "remove"]) {
                    Some(m) => {
                        format!("did you mean `{m}`? (penalties: warn, mute, `mute 1h`, remove)")
                    }
                    None => "use warn, mute, `mute 1h` or remove".into(),
                },
            );
            cx.report(d);
            None
        }
    }
}

fn content(cx: &mut Cx, node: &Node) -> Option<Content> {
    let mut f = cx.fields(
        node,
        "content",
        &["slots", "calendar", "quiet_hours", "daily_limit", "grace"],
    )?;
    let slots = f
        .opt_with(cx, "slots", |cx, n| {
            cx.list(n, "slots", |cx, n| slot(cx, n, SlotKind::Content))
        })
        .unwrap_or_default();
    let calendar = f
        .opt_with(cx, "calendar", |cx, n| {
            cx.list(n, "calendar entries", calendar_entry)
        })
        .unwrap_or_default();
    let quiet_hours = f.opt(cx, "quiet_hours");
    let daily_limit = f.opt::<u32>(cx, "daily_limit");
    let grace = f.opt::<Duration>(cx, "grace");
    f.finish()?;
    Some(Content {
        slots,
        calendar,
        quiet_hours,
        daily_limit,
        grace,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    Content,
    Added,
}

fn slot(cx: &mut Cx, node: &Node, kind: SlotKind) -> Option<Slot> {
    let allowed: &[&str] = match kind {
        SlotKind::Content => &[
            "id", "at", "days", "cron", "template", "channel", "topics", "grace",
        ],
        SlotKind::Added => &["id", "at", "template", "channel", "topics", "grace"],
    };
    let what = match kind {
        SlotKind::Content => "a slot",
        SlotKind::Added => "an added slot",
    };
    let span = cx.span(node);
    let mut f = cx.fields(node, what, allowed)?;
    let id = f.req::<Ref>(cx, "id");
    let at = f.opt::<LocalTime>(cx, "at");
    let days = f.opt_with(cx, "days", days);
    let cron = f.opt::<crate::playbook::types::Cron>(cx, "cron");
    let template = f.req::<Ref>(cx, "template");
    let channel = f.opt::<Ref>(cx, "channel");
    let topics = f.opt_with(cx, "topics", strings).unwrap_or_default();
    let topics_span = f.key_span(cx, "topics");
    let grace = f.opt::<Duration>(cx, "grace");
    let timing_span = f
        .key_span(cx, "cron")
        .or(f.key_span(cx, "at"))
        .unwrap_or(span);
    let when = match (f.has("at"), f.has("cron")) {
        (true, true) => {
            cx.report(
                crate::diag::Diagnostic::new(
                    Code::SlotTiming,
                    timing_span,
                    "a slot has both `at` and `cron`",
                )
                .with_hint("keep one: `at` with `days` for fixed times, or `cron`"),
            );
            None
        }
        (false, false) => {
            let key = f.key_span(cx, "id").unwrap_or(span);
            let hint = match kind {
                SlotKind::Content => "add `at: \"HH:MM\"` (with optional `days`) or `cron`",
                SlotKind::Added => "add `at: \"HH:MM\"`",
            };
            cx.report(
                crate::diag::Diagnostic::new(
                    Code::SlotTiming,
                    key,
                    "a slot needs `at` or `cron` to say when it fires",
                )
                .with_hint(hint),
            );
            None
        }
        (true, false) => at.map(|time| When::At {
            time,
            days: days.clone().unwrap_or(Days::Daily),
        }),
        (false, true) => {
            if f.has("days") {
                let ds = f.key_span(cx, "days").unwrap_or(span);
                cx.report(
                    crate::diag::Diagnostic::new(
                        Code::SlotTiming,
                        ds,
                        "`days` goes with `at`, not with `cron`",
                    )
                    .with_hint("put the days in the cron's day-of-week field"),
                );
                None
            } else {
                cron.map(|c| When::Cron(Box::new(c)))
            }
        }
    };
    let when_span = f
        .key_span(cx, "at")
        .or(f.key_span(cx, "cron"))
        .unwrap_or(span);
    if when.is_none() {
        f.fail();
    }
    f.finish()?;
    Some(Slot {
        id: id?,
        span,
        when: Spanned::new(when?, when_span),
        template: template?,
        channel,
        topics,
        topics_span,
        grace,
    })
}

fn days(cx: &mut Cx, n: &Node) -> Option<Days> {
    match n {
        Node::Sequence(_) => {
            let v = cx.list(n, "days", |cx, n| {
                let s = cx.scalar(n, "a day")?;
                match parse_weekday(s.as_str()) {
                    Ok(d) => Some(d),
                    Err(msg) => {
                        let span = cx.scalar_span(s);
                        cx.error(Code::InvalidValue, span, msg);
                        None
                    }
                }
            })?;
            if v.is_empty() {
                let span = cx.span(n);
                cx.error(
                    Code::InvalidValue,
                    span,
                    "`days` is empty: this slot would never fire",
                );
                return None;
            }
            Some(Days::List(v))
        }
        _ => choice(
            cx,
            n,
            "days value",
            &[("daily", 0u8), ("weekdays", 1), ("weekends", 2)],
        )
        .map(|v| match v {
            0 => Days::Daily,
            1 => Days::Weekdays,
            _ => Days::Weekends,
        }),
    }
}

fn calendar_entry(cx: &mut Cx, node: &Node) -> Option<CalendarEntry> {
    let span = cx.span(node);
    let mut f = cx.fields(
        node,
        "a calendar entry",
        &["dates", "skip", "move", "add", "note"],
    )?;
    let dates = f.req::<Vec<Spanned<crate::playbook::types::DateRange>>>(cx, "dates");
    let skip = f.list::<Ref>(cx, "skip");
    let moves = f
        .opt_with(cx, "move", |cx, n| {
            cx.keyed(n, "slot ids to new local times", |cx, _, v| {
                LocalTime::decode(v, cx)
            })
        })
        .unwrap_or_default();
    let add = f
        .opt_with(cx, "add", |cx, n| {
            cx.list(n, "added slots", |cx, n| slot(cx, n, SlotKind::Added))
        })
        .unwrap_or_default();
    let _note = f.opt::<String>(cx, "note");
    f.finish()?;
    let dates = dates?;
    if dates.is_empty() {
        cx.error(
            Code::InvalidValue,
            span,
            "a calendar entry needs at least one date",
        );
        return None;
    }
    Some(CalendarEntry {
        span,
        dates,
        skip,
        moves,
        add,
    })
}

fn activity(cx: &mut Cx, node: &Node) -> Option<Activity> {
    let mut f = cx.fields(
        node,
        "an activity",
        &["id", "name", "goal", "channel", "phases"],
    )?;
    let id = f.req::<Ref>(cx, "id");
    let name = f.opt::<String>(cx, "name");
    let goal = f.opt_with(cx, "goal", |cx, n| {
        let mut g = cx.fields(n, "an activity goal", &["metric", "target"])?;
        let metric = g.req::<String>(cx, "metric");
        let target = g.req::<u64>(cx, "target");
        g.finish()?;
        Some(Goal {
            metric: metric?,
            target: target?,
        })
    });
    let channel = f.opt::<Ref>(cx, "channel");
    let phases = f.req_with(cx, "phases", |cx, n| {
        let v = cx.list(n, "phases", phase)?;
        if v.is_empty() {
            let span = cx.span(n);
            cx.error(
                Code::InvalidValue,
                span,
                "an activity needs at least one phase",
            );
            return None;
        }
        Some(v)
    });
    f.finish()?;
    Some(Activity {
        id: id?,
        name,
        goal,
        channel,
        phases: phases?,
    })
}

fn phase(cx: &mut Cx, node: &Node) -> Option<Phase> {
    let span = cx.span(node);
    let mut f = cx.fields(node, "a phase", &["id", "start", "duration", "slots"])?;
    let id = f.req::<Ref>(cx, "id");
    let start = f.opt_with(cx, "start", |cx, n| {
        let s = cx.scalar(n, "a local date and time")?;
        let sp = cx.scalar_span(s);
        match types::parse_local_datetime(s.as_str()) {
            Ok(v) => Some(Spanned::new(v, sp)),
            Err(msg) => {
                cx.error(Code::InvalidTime, sp, msg);
                None
            }
        }
    });
    let duration = f.req::<Spanned<Duration>>(cx, "duration");
    let slots = f
        .opt_with(cx, "slots", |cx, n| {
            cx.list(n, "slots", |cx, n| slot(cx, n, SlotKind::Content))
        })
        .unwrap_or_default();
    f.finish()?;
    Some(Phase {
        id: id?,
        span,
        start,
        duration: duration?,
        slots,
    })
}

fn event_type(cx: &mut Cx, n: &Node) -> Option<EventType> {
    let s = Spanned::<String>::decode(n, cx)?;
    let valid = s
        .value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && s.value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        cx.error(
            Code::InvalidValue,
            s.span,
            format!(
                "`{}` is not an event type: use lowercase letters, digits and underscores",
                s.value
            ),
        );
        return None;
    }
    Some(s)
}

fn condition(cx: &mut Cx, n: &Node) -> Option<Condition> {
    let source = Spanned::<String>::decode(n, cx)?;
    Some(Condition { source })
}

fn rewards(cx: &mut Cx, node: &Node) -> Option<Rewards> {
    let mut f = cx.fields(
        node,
        "rewards",
        &[
            "points",
            "streaks",
            "tiers",
            "badges",
            "lotteries",
            "occasions",
        ],
    )?;
    let points = f
        .opt_with(cx, "points", |cx, n| {
            cx.list(n, "points rules", |cx, n| {
                let mut p =
                    cx.fields(n, "a points rule", &["on", "points", "per_day", "cooldown"])?;
                let on = p.req_with(cx, "on", event_type);
                let points = p.req::<i64>(cx, "points");
                let per_day = p.opt::<u32>(cx, "per_day");
                let cooldown = p.opt::<Duration>(cx, "cooldown");
                p.finish()?;
                Some(PointsRule {
                    on: on?,
                    points: points?,
                    per_day,
                    cooldown,
                })
            })
        })
        .unwrap_or_default();
    let streaks = f
        .opt_with(cx, "streaks", |cx, n| {
            cx.list(n, "streak rules", |cx, n| {
                let mut s = cx.fields(n, "a streak rule", &["on", "every", "bonus", "template"])?;
                let on = s.req_with(cx, "on", event_type);
                let every = s.req::<u32>(cx, "every");
                let bonus = s.req::<i64>(cx, "bonus");
                let template = s.opt::<Ref>(cx, "template");
                s.finish()?;
                Some(Streak {
                    on: on?,
                    every: every?,
                    bonus: bonus?,
                    template,
                })
            })
        })
        .unwrap_or_default();
    let tiers = f.opt_with(cx, "tiers", |cx, n| {
        let mut t = cx.fields(n, "tiers", &["levels", "announce"])?;
        let levels = t.req_with(cx, "levels", |cx, n| {
            cx.list(n, "tier levels", |cx, n| {
                let mut l = cx.fields(n, "a tier", &["id", "name", "min"])?;
                let id = l.req::<Ref>(cx, "id");
                let name = l.req::<String>(cx, "name");
                let min = l.req::<Spanned<i64>>(cx, "min");
                l.finish()?;
                Some(Tier {
                    id: id?,
                    name: name?,
                    min: min?,
                })
            })
        });
        let announce = t.opt::<Ref>(cx, "announce");
        t.finish()?;
        Some(Tiers {
            levels: levels?,
            announce,
        })
    });
    let badges = f
        .opt_with(cx, "badges", |cx, n| {
            cx.list(n, "badges", |cx, n| {
                let mut b = cx.fields(n, "a badge", &["id", "name", "when", "template"])?;
                let id = b.req::<Ref>(cx, "id");
                let name = b.req::<String>(cx, "name");
                let when = b.req_with(cx, "when", condition);
                let template = b.opt::<Ref>(cx, "template");
                b.finish()?;
                Some(Badge {
                    id: id?,
                    name: name?,
                    when: when?,
                    template,
                })
            })
        })
        .unwrap_or_default();
    let lotteries = f
        .opt_with(cx, "lotteries", |cx, n| {
            cx.list(n, "lotteries", |cx, n| {
                let span = cx.span(n);
                let mut l = cx.fields(
                    n,
                    "a lottery",
                    &[
                        "id", "cron", "eligible", "winners", "prize", "template", "channel",
                        "grace",
                    ],
                )?;
                let id = l.req::<Ref>(cx, "id");
                let cron = l.req::<Spanned<crate::playbook::types::Cron>>(cx, "cron");
                let eligible = l.opt_with(cx, "eligible", condition);
                let winners = l.req::<u32>(cx, "winners");
                let prize = l.req::<String>(cx, "prize");
                let template = l.req::<Ref>(cx, "template");
                let channel = l.opt::<Ref>(cx, "channel");
                let grace = l.opt::<Duration>(cx, "grace");
                l.finish()?;
                Some(Lottery {
                    id: id?,
                    span,
                    cron: cron?,
                    eligible,
                    winners: winners?,
                    prize: prize?,
                    template: template?,
                    channel,
                    grace,
                })
            })
        })
        .unwrap_or_default();
    let occasions = f
        .opt_with(cx, "occasions", |cx, n| {
            cx.list(n, "occasions", |cx, n| {
                let mut o = cx.fields(n, "an occasion", &["on", "at", "template", "channel"])?;
                let on = o.req_with(cx, "on", |cx, n| {
                    choice(
                        cx,
                        n,
                        "occasion",
                        &[
                            ("birthday", OccasionKind::Birthday),
                            ("anniversary", OccasionKind::Anniversary),
                        ],
                    )
                });
                let at = o.req::<LocalTime>(cx, "at");
                let template = o.req::<Ref>(cx, "template");
                let channel = o.opt::<Ref>(cx, "channel");
                o.finish()?;
                Some(Occasion {
                    on: on?,
                    at: at?,
                    template: template?,
                    channel,
                })
            })
        })
        .unwrap_or_default();
    f.finish()?;
    Some(Rewards {
        points,
        streaks,
        tiers,
        badges,
        lotteries,
        occasions,
    })
}

fn segment(cx: &mut Cx, n: &Node) -> Option<Segment> {
    let mut f = cx.fields(n, "a segment", &["id", "when"])?;
    let id = f.req::<Ref>(cx, "id");
    let when = f.req_with(cx, "when", condition);
    f.finish()?;
    Some(Segment {
        id: id?,
        when: when?,
    })
}

fn retention(cx: &mut Cx, node: &Node) -> Option<Retention> {
    let mut f = cx.fields(node, "retention", &["recall", "eliminate"])?;
    let recall = f.opt_with(cx, "recall", |cx, n| {
        let mut r = cx.fields(n, "recall", &["inactive", "template", "channel"])?;
        let inactive = r.req::<Duration>(cx, "inactive");
        let template = r.req::<Ref>(cx, "template");
        let channel = r.opt::<Ref>(cx, "channel");
        r.finish()?;
        Some(Recall {
            inactive: inactive?,
            template: template?,
            channel,
        })
    });
    let eliminate = f.opt_with(cx, "eliminate", |cx, n| {
        let mut e = cx.fields(
            n,
            "eliminate",
            &["inactive", "warn_before", "warn_template", "channel"],
        )?;
        let inactive = e.req::<Spanned<Duration>>(cx, "inactive");
        let warn_before = e.opt::<Spanned<Duration>>(cx, "warn_before");
        let warn_template = e.opt::<Ref>(cx, "warn_template");
        let channel = e.opt::<Ref>(cx, "channel");
        e.finish()?;
        Some(Eliminate {
            inactive: inactive?,
            warn_before,
            warn_template,
            channel,
        })
    });
    f.finish()?;
    Some(Retention { recall, eliminate })
}

fn templates(cx: &mut Cx, node: &Node) -> Option<IndexMap<Id, Template>> {
    let v = cx.keyed(node, "template names to template text", |cx, id, v| {
        let s = cx.scalar(v, "template text")?;
        Some(Template {
            id,
            source: s.as_str().to_string(),
            origin: cx.text_origin(s),
        })
    })?;
    Some(v.into_iter().map(|(id, t)| (id.value, t)).collect())
}
