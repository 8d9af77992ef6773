//! The playbook language v1 as typed values.
//!
//! Everything here is produced by the loader from a spanned YAML tree. References to other
//! parts of the playbook (templates, channels, slots) keep their span so that a later check
//! can point at them; the values that need no position are plain.

use crate::playbook::types::{
    Cron, DateRange, Days, Duration, Id, LocalTime, RateLimit, TimeWindow,
};
use crate::source::{Span, Spanned};
use chrono::{NaiveDate, NaiveDateTime};
use indexmap::IndexMap;

/// A reference by id to something defined elsewhere in the playbook.
pub type Ref = Spanned<Id>;

#[derive(Debug, Clone)]
pub struct Playbook {
    /// Span of the whole document (the top mapping).
    pub span: Span,
    pub version: u32,
    pub community: Community,
    pub channels: IndexMap<Id, Channel>,
    pub default_channel: Option<Ref>,
    pub entry: Option<Entry>,
    pub rules: Vec<Rule>,
    pub content: Content,
    pub activities: Vec<Activity>,
    pub rewards: Rewards,
    pub segments: Vec<Segment>,
    pub retention: Option<Retention>,
    pub templates: IndexMap<Id, Template>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommunityKind {
    Service,
    Sales,
    Resource,
}

impl CommunityKind {
    pub const NAMES: &'static [&'static str] = &["service", "sales", "resource"];

    pub fn as_str(self) -> &'static str {
        match self {
            CommunityKind::Service => "service",
            CommunityKind::Sales => "sales",
            CommunityKind::Resource => "resource",
        }
    }
}

/// The positioning (定位) of the community.
#[derive(Debug, Clone)]
pub struct Community {
    pub id: Ref,
    pub name: String,
    pub kind: CommunityKind,
    pub goal: Option<String>,
    pub audience: Vec<String>,
    pub offer: Vec<String>,
    pub values: Vec<String>,
    pub timezone: chrono_tz::Tz,
    pub locale: String,
    pub capacity: Option<u32>,
    pub runs: Option<Spanned<Runs>>,
}

/// The community's life span, inclusive local dates; either bound may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runs {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

impl Runs {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: Ref,
    pub kind: ChannelKind,
    pub rate_limit: Option<RateLimit>,
    /// Messages for this channel go to another channel as to-dos for a person.
    pub assist: Option<Ref>,
}

/// A channel field that may hold `${NAME}` references, resolved from the environment only
/// when the engine starts (`run`, `send`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvString {
    pub raw: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    Text,
    Markdown,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Console,
    File {
        path: EnvString,
    },
    Webhook {
        url: EnvString,
        method: String,
        headers: IndexMap<String, EnvString>,
        body: Option<Template>,
    },
    Wecom {
        webhook: EnvString,
        format: MessageFormat,
    },
    Dingtalk {
        webhook: EnvString,
        secret: Option<EnvString>,
        format: MessageFormat,
    },
    Feishu {
        webhook: EnvString,
        secret: Option<EnvString>,
    },
    Slack {
        webhook: EnvString,
    },
    Discord {
        webhook: EnvString,
    },
    Telegram {
        token: EnvString,
        chat_id: EnvString,
        api_base: Option<EnvString>,
    },
    Exec {
        command: Vec<EnvString>,
        timeout: Option<Duration>,
    },
}

impl ChannelKind {
    pub const NAMES: &'static [&'static str] = &[
        "console", "file", "webhook", "wecom", "dingtalk", "feishu", "slack", "discord",
        "telegram", "exec",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Console => "console",
            ChannelKind::File { .. } => "file",
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Wecom { .. } => "wecom",
            ChannelKind::Dingtalk { .. } => "dingtalk",
            ChannelKind::Feishu { .. } => "feishu",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Discord { .. } => "discord",
            ChannelKind::Telegram { .. } => "telegram",
            ChannelKind::Exec { .. } => "exec",
        }
    }
}

/// Entry thresholds (入群门槛), checked in order on a join request.
#[derive(Debug, Clone)]
pub struct Entry {
    pub requirements: Vec<Requirement>,
    pub welcome: Option<Ref>,
    pub refusal: Option<Ref>,
}

#[derive(Debug, Clone)]
pub struct Requirement {
    pub id: Ref,
    pub kind: RequirementKind,
    /// Shown to a refused applicant next to this requirement.
    pub hint: Option<String>,
}

#[derive(Debug, Clone)]
pub enum RequirementKind {
    AcceptRules,
    Nickname { pattern: Spanned<regex::Regex> },
    Task { description: String },
    Payment { amount: f64, currency: String },
}

impl RequirementKind {
    pub const NAMES: &'static [&'static str] = &["accept_rules", "nickname", "task", "payment"];
}

/// A group rule (群规) and its penalty ladder.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Ref,
    pub description: String,
    pub matcher: RuleMatch,
    pub penalties: Vec<Penalty>,
    pub template: Option<Ref>,
}

#[derive(Debug, Clone, Default)]
pub struct RuleMatch {
    pub keywords: Vec<String>,
    pub links: bool,
    pub patterns: Vec<Spanned<regex::Regex>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    Warn,
    /// Mute for a while (default 1 hour).
    Mute(Option<Duration>),
    Remove,
}

/// The daily rhythm.
#[derive(Debug, Clone, Default)]
pub struct Content {
    pub slots: Vec<Slot>,
    pub calendar: Vec<CalendarEntry>,
    pub quiet_hours: Option<Spanned<TimeWindow>>,
    pub daily_limit: Option<u32>,
    /// Grace for every scheduled fire of the playbook (default 10 minutes).
    pub grace: Option<Duration>,
}

/// When a slot fires.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    At { time: LocalTime, days: Days },
    Cron(Box<Cron>),
}

#[derive(Debug, Clone)]
pub struct Slot {
    pub id: Ref,
    pub span: Span,
    pub when: Spanned<When>,
    pub template: Ref,
    pub channel: Option<Ref>,
    pub topics: Vec<String>,
    pub topics_span: Option<Span>,
    pub grace: Option<Duration>,
}

/// A date override: holidays and special days.
#[derive(Debug, Clone)]
pub struct CalendarEntry {
    pub span: Span,
    pub dates: Vec<Spanned<DateRange>>,
    pub skip: Vec<Ref>,
    pub moves: Vec<(Ref, LocalTime)>,
    /// One-off slots that exist only on the entry's dates.
    pub add: Vec<Slot>,
}

impl CalendarEntry {
    pub fn applies_on(&self, d: NaiveDate) -> bool {
        self.dates.iter().any(|r| r.contains(d))
    }
}

/// A campaign (活动) with phases.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: Ref,
    pub name: Option<String>,
    pub goal: Option<Goal>,
    pub channel: Option<Ref>,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone)]
pub struct Goal {
    pub metric: String,
    pub target: u64,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub id: Ref,
    pub span: Span,
    pub start: Option<Spanned<NaiveDateTime>>,
    pub duration: Spanned<Duration>,
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, Default)]
pub struct Rewards {
    pub points: Vec<PointsRule>,
    pub streaks: Vec<Streak>,
    pub tiers: Option<Tiers>,
    pub badges: Vec<Badge>,
    pub lotteries: Vec<Lottery>,
    pub occasions: Vec<Occasion>,
}

/// An event type: a built-in one or a custom one such as `custom_case_shared`.
pub type EventType = Spanned<String>;

pub const BUILTIN_EVENTS: &[&str] = &[
    "join_request",
    "join",
    "leave",
    "message",
    "checkin",
    "referral",
    "purchase",
    "task_done",
    "payment",
    "assist_done",
];

#[derive(Debug, Clone)]
pub struct PointsRule {
    pub on: EventType,
    pub points: i64,
    pub per_day: Option<u32>,
    pub cooldown: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Streak {
    pub on: EventType,
    pub every: u32,
    pub bonus: i64,
    pub template: Option<Ref>,
}

#[derive(Debug, Clone)]
pub struct Tiers {
    pub levels: Vec<Tier>,
    pub announce: Option<Ref>,
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub id: Ref,
    pub name: String,
    pub min: Spanned<i64>,
}

/// A `when` / `eligible` expression over member, stats, segments and now.
#[derive(Debug, Clone)]
pub struct Condition {
    pub source: Spanned<String>,
}

#[derive(Debug, Clone)]
pub struct Badge {
    pub id: Ref,
    pub name: String,
    pub when: Condition,
    pub template: Option<Ref>,
}

#[derive(Debug, Clone)]
pub struct Lottery {
    pub id: Ref,
    pub span: Span,
    pub cron: Spanned<Cron>,
    pub eligible: Option<Condition>,
    pub winners: u32,
    pub prize: String,
    pub template: Ref,
    pub channel: Option<Ref>,
    pub grace: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OccasionKind {
    Birthday,
    /// The anniversary of the member's joining.
    Anniversary,
}

#[derive(Debug, Clone)]
pub struct Occasion {
    pub on: OccasionKind,
    pub at: LocalTime,
    pub template: Ref,
    pub channel: Option<Ref>,
}

/// A named member layer (分层).
#[derive(Debug, Clone)]
pub struct Segment {
    pub id: Ref,
    pub when: Condition,
}

#[derive(Debug, Clone, Default)]
pub struct Retention {
    pub recall: Option<Recall>,
    pub eliminate: Option<Eliminate>,
}

#[derive(Debug, Clone)]
pub struct Recall {
    pub inactive: Duration,
    pub template: Ref,
    pub channel: Option<Ref>,
}

#[derive(Debug, Clone)]
pub struct Eliminate {
    pub inactive: Spanned<Duration>,
    pub warn_before: Option<Spanned<Duration>>,
    pub warn_template: Option<Ref>,
    pub channel: Option<Ref>,
}

/// A message template. `source` is the template text; `origin` maps offsets in it back to
/// the file.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: Ref,
    pub source: String,
    pub origin: TextOrigin,
}

/// Where each line of a scalar's text starts in the file, so that an error inside a
/// template or condition points at the right file position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOrigin {
    pub span: Span,
    /// (offset in the text, byte offset in the file) for the start of each text line.
    pub lines: Vec<(usize, usize)>,
}

impl TextOrigin {
    /// The file span of a byte range inside the text.
    pub fn span_of(&self, range: std::ops::Range<usize>) -> Span {
        let map = |off: usize| -> usize {
            let i = match self.lines.binary_search_by_key(&off, |l| l.0) {
                Ok(i) => i,
                Err(0) => return self.span.start as usize,
                Err(i) => i - 1,
            };
            let (text_start, file_start) = self.lines[i];
            file_start + (off - text_start)
        };
        let start = map(range.start);
        let end = map(range.end.max(range.start));
        Span::new(self.span.file, start, end.max(start))
    }
}

impl Playbook {
    pub fn channel_for<'a>(&'a self, explicit: Option<&'a Ref>) -> Option<&'a Id> {
        if let Some(c) = explicit {
            return Some(&c.value);
        }
        if let Some(d) = &self.default_channel {
            return Some(&d.value);
        }
        if self.channels.len() == 1 {
            return self.channels.keys().next();
        }
        None
    }

    /// Grace of a fire: its own, else the playbook's, else 10 minutes.
    pub fn grace(&self, own: Option<Duration>) -> Duration {
        own.or(self.content.grace).unwrap_or(Duration::Seconds(600))
    }

    /// Every slot of the playbook with where it lives: content, calendar additions, phases.
    pub fn all_slots(&self) -> impl Iterator<Item = (SlotHome<'_>, &Slot)> {
        let content = self.content.slots.iter().map(|s| (SlotHome::Content, s));
        let added = self
            .content
            .calendar
            .iter()
            .flat_map(|c| c.add.iter().map(move |s| (SlotHome::Calendar(c), s)));
        let phases = self.activities.iter().flat_map(|a| {
            a.phases
                .iter()
                .flat_map(move |p| p.slots.iter().map(move |s| (SlotHome::Phase(a, p), s)))
        });
        content.chain(added).chain(phases)
    }
}

/// Where a slot is defined.
#[derive(Debug, Clone, Copy)]
pub enum SlotHome<'a> {
    Content,
    Calendar(&'a CalendarEntry),
    Phase(&'a Activity, &'a Phase),
}
