//! Member events: the one format the engine takes in, over HTTP (`POST /v1/events`) or from
//! the command line (`drumbeat event`). The format is fixed by language.md ("Events").
//!
//! Reading is pure and strict: a batch is read whole or refused whole, and every problem of
//! every event is reported with its place in the batch, so a sender can fix them all at once.
//! Whether an event fits a loaded community (its type, its member) is for the caller to check
//! against the playbook.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};
use std::fmt;

mod money;

pub use money::Money;

/// One event, as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per community: an id seen twice changes nothing the second time.
    pub id: String,
    pub kind: Kind,
    pub community: String,
    /// Required for member events; absent for `assist_done`.
    pub member: Option<String>,
    /// When it happened, with the sender's offset.
    pub at: DateTime<FixedOffset>,
    /// The type's fields, and any others, kept as sent (long texts cut).
    pub data: Map<String, Value>,
    /// The fields of its type, decoded from `data` when it was read.
    pub fields: Fields,
}

/// What an event of each type says: the fields of `data` its type defines, decoded and
/// checked once, when the event is read. The rules read these, never `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fields {
    JoinRequest {
        name: Option<String>,
        referrer: Option<String>,
        accepted_rules: bool,
    },
    Join {
        name: Option<String>,
        /// `MM-DD` or `YYYY-MM-DD`, checked.
        birthday: Option<String>,
        profile: Option<Map<String, Value>>,
    },
    Leave,
    Message {
        text: String,
        /// The member replied to: a reply counts toward `stats.replies_7d`.
        reply_to: Option<String>,
    },
    Checkin,
    Referral {
        referred: String,
    },
    Purchase {
        amount: Money,
        currency: Option<String>,
        order: Option<String>,
    },
    TaskDone {
        task: String,
    },
    Payment {
        amount: Money,
        currency: Option<String>,
    },
    AssistDone {
        fire: String,
    },
    /// A type a points rule names: its `data` carries nothing the rules read.
    Custom,
}

/// The type of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    JoinRequest,
    Join,
    Leave,
    Message,
    Checkin,
    Referral,
    Purchase,
    TaskDone,
    Payment,
    AssistDone,
    /// Any other type: valid where a points rule of the community names it.
    Custom(String),
}

impl Kind {
    pub const BUILT_IN: [Kind; 10] = [
        Kind::JoinRequest,
        Kind::Join,
        Kind::Leave,
        Kind::Message,
        Kind::Checkin,
        Kind::Referral,
        Kind::Purchase,
        Kind::TaskDone,
        Kind::Payment,
        Kind::AssistDone,
    ];

    pub fn parse(s: &str) -> Kind {
        Kind::BUILT_IN
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or_else(|| Kind::Custom(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Kind::JoinRequest => "join_request",
            Kind::Join => "join",
            Kind::Leave => "leave",
            Kind::Message => "message",
            Kind::Checkin => "checkin",
            Kind::Referral => "referral",
            Kind::Purchase => "purchase",
            Kind::TaskDone => "task_done",
            Kind::Payment => "payment",
            Kind::AssistDone => "assist_done",
            Kind::Custom(s) => s,
        }
    }

    /// Whether the event is about a member (and so must name one).
    pub fn needs_member(&self) -> bool {
        !matches!(self, Kind::AssistDone)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Its place in the batch (0-based); `None` for a batch that is not events at all.
    pub index: Option<usize>,
    /// Its id, when it has one.
    pub id: Option<String>,
    /// The field at fault, as a path: `at`, `data.text`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.id) {
            (Some(i), Some(id)) => write!(f, "event {i} (`{id}`)")?,
            (Some(i), None) => write!(f, "event {i}")?,
            (None, _) => f.write_str("input")?,
        }
        if let Some(field) = &self.field {
            write!(f, ": `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The most events one batch may hold.
pub const MAX_BATCH: usize = 10_000;

/// The longest id, community, member or type accepted (bytes).
const MAX_NAME: usize = 200;

/// The longest member name kept (characters): platforms allow 20 to 64; anything past this
/// is cut, so that a hostile name cannot make a welcome hundreds of messages long.
pub const MAX_MEMBER_NAME: usize = 64;

/// The longest text kept in any other string under `data` (characters): a message's text
/// is at most 4,096 characters on the platforms that allow the most.
pub const MAX_DATA_TEXT: usize = 4096;

/// Reads one event (a JSON object) or a batch (an array of them) of at most
/// [`MAX_BATCH`] events: what `POST /v1/events` takes.
pub fn read_json(text: &str) -> Result<Vec<Event>, Vec<Problem>> {
    read_document(text, Some(MAX_BATCH))
}

fn read_document(text: &str, limit: Option<usize>) -> Result<Vec<Event>, Vec<Problem>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![Problem {
            index: None,
            id: None,
            field: None,
            message: format!("not JSON: {e}"),
        }]
    })?;
    match value {
        Value::Array(items) => read_values(items, limit),
        Value::Object(_) => read_values(vec![value], limit),
        _ => Err(vec![Problem {
            index: None,
            id: None,
            field: None,
            message: "expected an event (a JSON object) or a batch (an array of them)".into(),
        }]),
    }
}

/// Reads JSON lines (one event or batch per line), or a whole JSON document, of any
/// length: what `drumbeat event` takes (and applies in batches).
pub fn read_any(text: &str) -> Result<Vec<Event>, Vec<Problem>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || serde_json::from_str::<Value>(text).is_ok() {
        return read_document(text, None);
    }
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Array(items)) => values.extend(items),
            Ok(v) => values.push(v),
            Err(e) => problems.push(Problem {
                index: None,
                id: None,
                field: None,
                message: format!("line {}: not JSON: {e}", n + 1),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    read_values(values, None)
}

fn read_values(items: Vec<Value>, limit: Option<usize>) -> Result<Vec<Event>, Vec<Problem>> {
    if limit.is_some_and(|l| items.len() > l) {
        return Err(vec![Problem {
            index: None,
            id: None,
            field: None,
            message: format!(
                "a batch holds at most {MAX_BATCH} events; this one has {}",
                items.len()
            ),
        }]);
    }
    if items.is_empty() {
        return Err(vec![Problem {
            index: None,
            id: None,
            field: None,
            message: "the batch is empty".into(),
        }]);
    }
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match read_event(i, item) {
            Ok(e) => events.push(e),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

/// Reads one event, reporting every problem it has.
fn read_event(index: usize, value: Value) -> Result<Event, Vec<Problem>> {
    let Value::Object(mut obj) = value else {
        return Err(vec![Problem {
            index: Some(index),
            id: None,
            field: None,
            message: "an event is a JSON object".into(),
        }]);
    };
    let id = obj.get("id").and_then(Value::as_str).map(str::to_string);
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(Problem {
            index: Some(index),
            id: id.clone(),
            field: Some(field.to_string()),
            message,
        })
    };
    let mut name = |field: &str, required: bool| -> Option<String> {
        match obj.get(field) {
            None | Some(Value::Null) if required => {
                problem(field, "required".into());
                None
            }
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                problem(field, "must not be empty".into());
                None
            }
            Some(Value::String(s)) if s.len() > MAX_NAME => {
                problem(field, format!("longer than {MAX_NAME} bytes"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                problem(field, format!("must be a string, not {}", json_kind(other)));
                None
            }
        }
    };
    let id_v = name("id", true);
    let kind = name("type", true).map(|t| Kind::parse(&t));
    let community = name("community", true);
    let member = name("member", false);
    let at = match obj.get("at") {
        None | Some(Value::Null) => {
            problem("at", "required".into());
            None
        }
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t),
            Err(_) => {
                problem(
                    "at",
                    format!(
                        "`{s}` is not an RFC 3339 time with an offset (2026-12-01T07:31:05+08:00)"
                    ),
                );
                None
            }
        },
        Some(other) => {
            problem("at", format!("must be a string, not {}", json_kind(other)));
            None
        }
    };
    let data = match obj.remove("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            problem(
                "data",
                format!("must be an object, not {}", json_kind(&other)),
            );
            Map::new()
        }
    };
    let mut data = data;
    // Cut first, so the fields decoded are the texts kept.
    clip(&mut data);
    let fields = kind.as_ref().map(|kind| {
        if kind.needs_member() && member.is_none() && !obj.contains_key("member") {
            problem("member", format!("required for `{kind}` events"));
        }
        decode(kind, &data, &mut problem)
    });
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "id" | "type" | "community" | "member" | "at" | "data"
        ) {
            problem(
                key,
                "unknown field (type-specific fields go under `data`)".into(),
            );
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Event {
        id: id_v.expect("checked"),
        kind: kind.expect("checked"),
        community: community.expect("checked"),
        member,
        at: at.expect("checked"),
        data,
        fields: fields.expect("checked"),
    })
}

/// Decodes the fields type `kind` defines from `data`, reporting each one that is missing
/// or of the wrong shape; fields beyond these are kept in `data` as sent. With problems, the
/// answer stands in for the event only until the batch is refused.
pub fn decode(
    kind: &Kind,
    data: &Map<String, Value>,
    problem: &mut impl FnMut(&str, String),
) -> Fields {
    let required = |v: Option<String>| v.unwrap_or_default();
    match kind {
        Kind::Message => Fields::Message {
            text: required(text(kind, data, "text", true, problem)),
            reply_to: text(kind, data, "reply_to", false, problem),
        },
        Kind::Referral => Fields::Referral {
            referred: required(text(kind, data, "referred", true, problem)),
        },
        Kind::TaskDone => Fields::TaskDone {
            task: required(text(kind, data, "task", true, problem)),
        },
        Kind::AssistDone => Fields::AssistDone {
            fire: required(text(kind, data, "fire", true, problem)),
        },
        Kind::JoinRequest => {
            let name = text(kind, data, "name", false, problem);
            let referrer = text(kind, data, "referrer", false, problem);
            let accepted_rules = match data.get("accepted_rules") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    problem(
                        "data.accepted_rules",
                        format!("must be true or false, not {}", json_kind(v)),
                    );
                    false
                }
            };
            Fields::JoinRequest {
                name,
                referrer,
                accepted_rules,
            }
        }
        Kind::Join => {
            let name = text(kind, data, "name", false, problem);
            let mut birthday = text(kind, data, "birthday", false, problem);
            if let Some(b) = &birthday
                && self::birthday(b).is_none()
            {
                problem(
                    "data.birthday",
                    format!("`{b}` is not a birthday (MM-DD or YYYY-MM-DD)"),
                );
                birthday = None;
            }
            let profile = match data.get("profile") {
                None | Some(Value::Null) => None,
                Some(Value::Object(m)) => Some(m.clone()),
                Some(v) => {
                    problem(
                        "data.profile",
                        format!("must be an object, not {}", json_kind(v)),
                    );
                    None
                }
            };
            Fields::Join {
                name,
                birthday,
                profile,
            }
        }
        Kind::Purchase | Kind::Payment => {
            let amount = match data.get("amount") {
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(a) if a < 0.0 => {
                        problem("data.amount", "must not be negative".into());
                        Money::default()
                    }
                    a => a.and_then(Money::from_units).unwrap_or_else(|| {
                        problem("data.amount", format!("{n} is not an amount of money"));
                        Money::default()
                    }),
                },
                None | Some(Value::Null) => {
                    problem("data.amount", format!("required for `{kind}` events"));
                    Money::default()
                }
                Some(other) => {
                    problem(
                        "data.amount",
                        format!("must be a number, not {}", json_kind(other)),
                    );
                    Money::default()
                }
            };
            let currency = text(kind, data, "currency", false, problem);
            if *kind == Kind::Purchase {
                Fields::Purchase {
                    amount,
                    currency,
                    order: text(kind, data, "order", false, problem),
                }
            } else {
                Fields::Payment { amount, currency }
            }
        }
        Kind::Leave => Fields::Leave,
        Kind::Checkin => Fields::Checkin,
        Kind::Custom(_) => Fields::Custom,
    }
}

/// The string field `field` of `data`, reporting it when it is required and missing or
/// not a string.
fn text(
    kind: &Kind,
    data: &Map<String, Value>,
    field: &str,
    required: bool,
    problem: &mut impl FnMut(&str, String),
) -> Option<String> {
    match data.get(field) {
        None | Some(Value::Null) => {
            if required {
                problem(
                    &format!("data.{field}"),
                    format!("required for `{kind}` events"),
                );
            }
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            problem(
                &format!("data.{field}"),
                format!("must be a string, not {}", json_kind(other)),
            );
            None
        }
    }
}

/// Cuts member-supplied text to sane lengths: `name` to [`MAX_MEMBER_NAME`] characters,
/// every other string under `data`, however deep, to [`MAX_DATA_TEXT`]. A cut string ends
/// with `…`.
fn clip(data: &mut Map<String, Value>) {
    fn cut(s: &mut String, max: usize) {
        if s.chars().nth(max).is_some() {
            let keep = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            s.truncate(keep);
            s.push('…');
        }
    }
    fn walk(v: &mut Value) {
        match v {
            Value::String(s) => cut(s, MAX_DATA_TEXT),
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(m) => m.values_mut().for_each(walk),
            _ => {}
        }
    }
    for (key, v) in data.iter_mut() {
        match (key.as_str(), v) {
            ("name", Value::String(s)) => cut(s, MAX_MEMBER_NAME),
            (_, v) => walk(v),
        }
    }
}

/// A birthday as (month, day), from `MM-DD` or `YYYY-MM-DD`.
pub fn birthday(s: &str) -> Option<(u32, u32)> {
    let md = match s.len() {
        5 => s,
        10 => {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            &s[5..]
        }
        _ => return None,
    };
    let (m, d) = md.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 02-29 is a real birthday.
    chrono::NaiveDate::from_ymd_opt(2024, m, d)?;
    Some((m, d))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
