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
use schemars::JsonSchema;

/// A reference by id to something defined elsewhere in the playbook.
pub type Ref = Spanned<Id>;

/// A drumbeat playbook: how one community is run.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(title = "drumbeat playbook", deny_unknown_fields)]
pub struct Playbook {
    /// Span of the whole document (the top mapping).
    #[schemars(skip)]
    pub span: Span,
    /// The language version; this engine reads version 1.
    #[schemars(with = "crate::playbook::schema::Version")]
    pub version: u32,
    pub community: Community,
    /// Where messages go, by channel name. Secrets come from the environment as `${NAME}`.
    #[schemars(with = "IndexMap<crate::playbook::schema::Key, Channel>")]
    pub channels: IndexMap<Id, Channel>,
    /// The channel for messages that name none.
    pub default_channel: Option<Ref>,
    pub entry: Option<Entry>,
    /// Group rules (群规) and their penalty ladders.
    #[schemars(default)]
    pub rules: Vec<Rule>,
    #[schemars(default)]
    pub content: Content,
    /// Campaigns (活动) with phases.
    #[schemars(default)]
    pub activities: Vec<Activity>,
    #[schemars(default)]
    pub rewards: Rewards,
    /// Named member layers (分层), usable in conditions and templates.
    #[schemars(default)]
    pub segments: Vec<Segment>,
    pub retention: Option<Retention>,
    /// Message templates by name; every template named elsewhere must be defined here.
    #[schemars(default, with = "IndexMap<crate::playbook::schema::Key, Template>")]
    pub templates: IndexMap<Id, Template>,
}

/// The kind of community: it decides which sections fit it best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(rename_all = "lowercase")]
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
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Community {
    /// The community's id, unique among the playbooks loaded together.
    pub id: Ref,
    pub name: String,
    pub kind: CommunityKind,
    pub goal: Option<String>,
    /// Who the community is for.
    #[schemars(default)]
    pub audience: Vec<String>,
    /// What members get.
    #[schemars(default)]
    pub offer: Vec<String>,
    #[schemars(default)]
    pub values: Vec<String>,
    #[schemars(with = "crate::playbook::schema::TimeZone")]
    pub timezone: chrono_tz::Tz,
    /// The locale for dates and times in messages.
    #[schemars(default = "crate::playbook::schema::defaults::locale")]
    pub locale: String,
    /// Members at most; joins beyond it are refused.
    pub capacity: Option<u32>,
    /// The community's life span; open-ended if absent.
    pub runs: Option<Spanned<Runs>>,
}

/// The community's life span, inclusive local dates; either bound may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Runs {
    /// The first day (inclusive).
    #[schemars(with = "Option<crate::playbook::schema::Date>")]
    pub from: Option<NaiveDate>,
    /// The last day (inclusive).
    #[schemars(with = "Option<crate::playbook::schema::Date>")]
    pub until: Option<NaiveDate>,
}

impl Runs {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }
}

/// A channel: where messages go. `type` says which platform; each type takes its own fields.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields, transform = crate::playbook::schema::close_variants)]
pub struct Channel {
    /// The channel's name is its key in `channels`.
    #[schemars(skip)]
    pub id: Ref,
    #[schemars(flatten)]
    pub kind: ChannelKind,
    /// Messages per unit of time at most; each type has a default matching its platform.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum MessageFormat {
    Text,
    Markdown,
}

#[derive(Debug, Clone, JsonSchema)]
#[schemars(tag = "type", rename_all = "lowercase")]
pub enum ChannelKind {
    /// Prints messages on the engine's standard output.
    Console,
    /// Appends messages to a file as JSON lines.
    File { path: EnvString },
    /// Posts messages to any HTTP endpoint.
    Webhook {
        url: EnvString,
        #[schemars(
            with = "crate::playbook::schema::HttpMethod",
            default = "crate::playbook::schema::defaults::method"
        )]
        method: String,
        #[schemars(default)]
        headers: IndexMap<String, EnvString>,
        /// The request body, a template; its context has `message`, `fire` and `community`.
        /// Default: a JSON object with the message.
        body: Option<Template>,
    },
    /// A WeCom (企业微信) group robot.
    Wecom {
        webhook: EnvString,
        #[schemars(default = "crate::playbook::schema::defaults::format")]
        format: MessageFormat,
    },
    /// A DingTalk (钉钉) group robot.
    Dingtalk {
        webhook: EnvString,
        /// The signing secret, if the robot has one.
        secret: Option<EnvString>,
        #[schemars(default = "crate::playbook::schema::defaults::format")]
        format: MessageFormat,
    },
    /// A Feishu/Lark (飞书) group robot.
    Feishu {
        webhook: EnvString,
        /// The signing secret, if the robot has one.
        secret: Option<EnvString>,
    },
    /// A Slack incoming webhook.
    Slack { webhook: EnvString },
    /// A Discord webhook.
    Discord { webhook: EnvString },
    /// A Telegram bot.
    Telegram {
        token: EnvString,
        chat_id: EnvString,
        /// Default: the public Bot API.
        api_base: Option<EnvString>,
    },
    /// Runs a program with the message as JSON on its standard input: the plug-in route.
    Exec {
        /// The program and its arguments.
        #[schemars(length(min = 1))]
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
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Entry {
    #[schemars(default)]
    pub requirements: Vec<Requirement>,
    /// The template sent when someone is admitted.
    pub welcome: Option<Ref>,
    /// The template sent to a refused applicant, with the unmet requirements.
    pub refusal: Option<Ref>,
}

/// One entry requirement; `kind` says which, and each kind takes its own fields.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields, transform = crate::playbook::schema::close_variants)]
pub struct Requirement {
    pub id: Ref,
    #[schemars(flatten)]
    pub kind: RequirementKind,
    /// Shown to a refused applicant next to this requirement.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, JsonSchema)]
#[schemars(tag = "kind", rename_all = "snake_case")]
pub enum RequirementKind {
    /// The applicant accepts the group rules.
    AcceptRules,
    /// The applicant's nickname matches a pattern.
    Nickname {
        #[schemars(with = "crate::playbook::schema::Pattern")]
        pattern: Spanned<regex::Regex>,
    },
    /// The applicant does a task, confirmed by a `task_done` event.
    Task { description: String },
    /// The applicant pays a fee.
    Payment {
        amount: f64,
        #[schemars(default = "crate::playbook::schema::defaults::currency")]
        currency: String,
    },
}

impl RequirementKind {
    pub const NAMES: &'static [&'static str] = &["accept_rules", "nickname", "task", "payment"];
}

/// A group rule (群规) and its penalty ladder.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Rule {
    pub id: Ref,
    pub description: String,
    /// What makes a message an offence.
    #[schemars(rename = "match")]
    pub matcher: RuleMatch,
    /// The 1st, 2nd, 3rd ... offence's penalty; the last one repeats.
    #[schemars(length(min = 1))]
    pub penalties: Vec<Penalty>,
    /// The template a `warn` sends.
    pub template: Option<Ref>,
}

/// What a rule matches: any keyword, any pattern, or (with `links: true`) any link.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RuleMatch {
    #[schemars(default)]
    pub keywords: Vec<String>,
    /// Whether a message with a link or QR code matches.
    #[schemars(default)]
    pub links: bool,
    /// Regular expressions; a message matching one matches the rule.
    #[schemars(default, with = "Vec<crate::playbook::schema::Pattern>")]
    pub patterns: Vec<Spanned<regex::Regex>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    Warn,
    /// Mute for a while (default 1 hour).
    Mute(Option<Duration>),
    Remove,
}

impl Penalty {
    /// `warn`, `mute` or `remove`, as templates see it.
    pub fn name(&self) -> &'static str {
        match self {
            Penalty::Warn => "warn",
            Penalty::Mute(_) => "mute",
            Penalty::Remove => "remove",
        }
    }
}

/// As the store keeps it: `warn`, `mute 1h` (the length always written), `remove`.
impl std::fmt::Display for Penalty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Penalty::Mute(d) => write!(f, "mute {}", d.unwrap_or(Duration::Seconds(3600))),
            other => f.write_str(other.name()),
        }
    }
}

impl std::str::FromStr for Penalty {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(' ') {
            None if s == "warn" => Ok(Penalty::Warn),
            None if s == "remove" => Ok(Penalty::Remove),
            None if s == "mute" => Ok(Penalty::Mute(None)),
            Some(("mute", d)) => d.parse().map(|d| Penalty::Mute(Some(d))),
            _ => Err(format!("unknown penalty `{s}`")),
        }
    }
}

/// The daily rhythm.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Content {
    /// Content slots (内容时段): what is sent when, for the whole life of the community.
    #[schemars(default)]
    pub slots: Vec<Slot>,
    /// Date overrides: holidays and special days.
    #[schemars(default)]
    pub calendar: Vec<CalendarEntry>,
    /// Nothing scheduled is sent inside this window; event messages are held until it ends.
    pub quiet_hours: Option<Spanned<TimeWindow>>,
    /// Messages per channel per local day, at most.
    pub daily_limit: Option<u32>,
    /// Grace for every scheduled fire of the playbook (default 10 minutes): a fire the engine
    /// could not send on time is sent late if still within its grace.
    #[schemars(default = "crate::playbook::schema::defaults::grace")]
    pub grace: Option<Duration>,
}

/// When a slot fires.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    At { time: LocalTime, days: Days },
    Cron(Box<Cron>),
}

/// A slot: one message sent on a schedule, at `at` (with `days`) or by `cron`.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields, transform = crate::playbook::schema::close_variants)]
pub struct Slot {
    /// The slot's id, unique in the playbook; calendar entries name it in `skip` and `move`.
    pub id: Ref,
    #[schemars(skip)]
    pub span: Span,
    #[schemars(flatten)]
    pub when: Spanned<When>,
    /// The template to send.
    pub template: Ref,
    /// The channel to send to; default: the activity's, else `default_channel`.
    pub channel: Option<Ref>,
    /// Rotated topics: occurrence n renders `{{ topic }}` as topics[n mod len].
    #[schemars(default)]
    pub topics: Vec<String>,
    #[schemars(skip)]
    pub topics_span: Option<Span>,
    /// How late this slot may still be sent after downtime (default: `content.grace`).
    pub grace: Option<Duration>,
}

/// A date override: holidays and special days.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields, transform = crate::playbook::schema::calendar_note)]
pub struct CalendarEntry {
    #[schemars(skip)]
    pub span: Span,
    /// The local dates the entry applies to: YYYY-MM-DD or A..B, inclusive.
    #[schemars(length(min = 1))]
    pub dates: Vec<Spanned<DateRange>>,
    /// Slots not sent on these dates.
    #[schemars(default)]
    pub skip: Vec<Ref>,
    /// Slots sent at another local time on these dates: slot id to HH:MM.
    #[schemars(
        rename = "move",
        default,
        with = "std::collections::BTreeMap<crate::playbook::schema::Key, LocalTime>"
    )]
    pub moves: Vec<(Ref, LocalTime)>,
    /// One-off slots that exist only on the entry's dates.
    #[schemars(default, with = "Vec<crate::playbook::schema::AddedSlot>")]
    pub add: Vec<Slot>,
}

impl CalendarEntry {
    pub fn applies_on(&self, d: NaiveDate) -> bool {
        self.dates.iter().any(|r| r.contains(d))
    }
}

/// A campaign (活动) with phases.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Activity {
    pub id: Ref,
    pub name: Option<String>,
    pub goal: Option<Goal>,
    /// The channel for the activity's slots that name none.
    pub channel: Option<Ref>,
    /// The phases in order, such as warm-up (预热), live (进行) and review (复盘).
    #[schemars(length(min = 1))]
    pub phases: Vec<Phase>,
}

/// What the activity aims at, such as 300 check-ins.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Goal {
    pub metric: String,
    pub target: u64,
}

/// A phase of an activity: its slots run only inside its window.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Phase {
    pub id: Ref,
    #[schemars(skip)]
    pub span: Span,
    /// When the phase starts; the first phase needs one, a later phase without one starts
    /// when the phase before it ends.
    #[schemars(with = "Option<crate::playbook::schema::LocalDateTime>")]
    pub start: Option<Spanned<NaiveDateTime>>,
    /// How long the phase lasts; `d` and `w` are local calendar days.
    pub duration: Spanned<Duration>,
    #[schemars(default)]
    pub slots: Vec<Slot>,
}

/// Points (积分), streaks (连续打卡), tiers (等级), badges (勋章), lotteries (抽奖) and occasions.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Rewards {
    #[schemars(default)]
    pub points: Vec<PointsRule>,
    #[schemars(default)]
    pub streaks: Vec<Streak>,
    pub tiers: Option<Tiers>,
    #[schemars(default)]
    pub badges: Vec<Badge>,
    #[schemars(default)]
    pub lotteries: Vec<Lottery>,
    /// Messages on a member's own days: birthdays, joining anniversaries.
    #[schemars(default)]
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

/// Points a member earns for an event.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PointsRule {
    #[schemars(with = "crate::playbook::schema::EventName")]
    pub on: EventType,
    pub points: i64,
    /// Times a member earns these points per local day, at most.
    pub per_day: Option<u32>,
    /// Time a member must wait before earning these points again.
    pub cooldown: Option<Duration>,
}

/// A bonus for every `every` consecutive days with the event.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Streak {
    #[schemars(with = "crate::playbook::schema::EventName")]
    pub on: EventType,
    pub every: u32,
    pub bonus: i64,
    pub template: Option<Ref>,
}

/// Member tiers by points.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Tiers {
    /// From the lowest threshold to the highest, each strictly above the one before.
    pub levels: Vec<Tier>,
    /// The template sent when a member reaches a new tier.
    pub announce: Option<Ref>,
}

#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Tier {
    pub id: Ref,
    pub name: String,
    /// Points needed for this tier.
    pub min: Spanned<i64>,
}

/// A `when` / `eligible` expression over member, stats, segments and now.
#[derive(Debug, Clone)]
pub struct Condition {
    pub source: Spanned<String>,
}

/// A badge (荣誉/勋章) a member earns when a condition holds.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Badge {
    pub id: Ref,
    pub name: String,
    pub when: Condition,
    /// The template sent when a member earns the badge.
    pub template: Option<Ref>,
}

/// A lottery (抽奖) drawn at its cron time among the eligible members.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Lottery {
    pub id: Ref,
    #[schemars(skip)]
    pub span: Span,
    pub cron: Spanned<Cron>,
    /// Who may win; default: every member.
    pub eligible: Option<Condition>,
    /// How many members win.
    pub winners: u32,
    pub prize: String,
    /// The template announcing the result; it has `winners` and `prize`.
    pub template: Ref,
    pub channel: Option<Ref>,
    pub grace: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum OccasionKind {
    Birthday,
    /// The anniversary of the member's joining.
    Anniversary,
}

/// A message on a member's own day, sent at a local time.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Occasion {
    pub on: OccasionKind,
    pub at: LocalTime,
    pub template: Ref,
    pub channel: Option<Ref>,
}

/// A named member layer (分层).
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Segment {
    pub id: Ref,
    pub when: Condition,
}

/// Recalling (召回) silent members and letting go (淘汰) of those who stay silent.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Retention {
    pub recall: Option<Recall>,
    pub eliminate: Option<Eliminate>,
}

/// A member inactive this long gets the recall template once per inactive stretch.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Recall {
    pub inactive: Duration,
    pub template: Ref,
    pub channel: Option<Ref>,
}

/// A member inactive this long is removed, after a warning `warn_before` earlier.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
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

#[cfg(test)]
mod penalty_tests {
    use super::*;

    #[test]
    fn penalties_read_back_as_the_store_keeps_them() {
        for (p, text) in [
            (Penalty::Warn, "warn"),
            (Penalty::Remove, "remove"),
            (Penalty::Mute(Some(Duration::Seconds(1800))), "mute 30m"),
        ] {
            assert_eq!(p.to_string(), text);
            assert_eq!(text.parse::<Penalty>(), Ok(p));
        }
        // A mute of no given length is written with its default, an hour.
        assert_eq!(Penalty::Mute(None).to_string(), "mute 1h");
        assert_eq!("mute".parse::<Penalty>(), Ok(Penalty::Mute(None)));
        assert!("ban".parse::<Penalty>().is_err());
        assert!("mute forever".parse::<Penalty>().is_err());
    }
}
