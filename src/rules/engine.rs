//! One member's state, and what an event does to it.

use super::activity::{Activity, Stats};
use super::member::{Member, Status};
use super::milestone::Milestone;
use super::points::{Award, Ledger, Reason, tier_of};
use crate::compile::{ConditionFailed, Program};
use crate::events::{Event, Fields, Kind, Money};
use crate::playbook::model::{Penalty, Playbook, RequirementKind, Rule};
use crate::template::{Context, Place};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Everything the rules know of one member. Rebuilt by replaying the member's events.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub member: Member,
    pub ledger: Ledger,
    pub activity: Activity,
    /// Things that happen once: welcomed, a tier reached, a badge granted, a task done.
    pub milestones: BTreeSet<Milestone>,
    /// Paid so far, per currency (entry fees).
    pub paid: Vec<(String, Money)>,
    /// Offences so far, per rule id.
    pub offences: std::collections::BTreeMap<String, u32>,
}

impl State {
    pub fn new(community: &str, member: &str) -> State {
        State {
            member: Member::new(community, member, Status::Applicant),
            ledger: Ledger::default(),
            activity: Activity::default(),
            milestones: BTreeSet::new(),
            paid: Vec::new(),
            offences: Default::default(),
        }
    }

    /// The member's stats at `now`.
    pub fn stats(&self, p: &Playbook, now: DateTime<Utc>) -> Stats {
        let tz = p.community.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let streak = self.activity.streak(today);
        Stats::at(
            &self.member,
            &self.activity,
            self.ledger.balance,
            streak,
            now,
            tz,
        )
    }

    /// The `member` object templates see.
    pub fn member_value(&self, p: &Playbook) -> Value {
        let m = &self.member;
        let tier = p
            .rewards
            .tiers
            .as_ref()
            .and_then(|t| tier_of(&t.levels, self.ledger.balance))
            .map(|t| json!({"id": t.id.value.as_str(), "name": t.name, "min": t.min.value}));
        let badges: Vec<&str> = self
            .milestones
            .iter()
            .filter_map(|m| match m {
                Milestone::Badge(id) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        json!({
            "id": m.id,
            "name": m.name.clone().unwrap_or_else(|| m.id.clone()),
            "joined": m.joined_at.map(|t| t.with_timezone(&p.community.timezone).format("%Y-%m-%d").to_string()),
            "birthday": m.birthday,
            "profile": m.profile,
            "tier": tier,
            "badges": badges,
            "points": self.ledger.balance,
        })
    }
}

/// A message an event calls for, to be rendered and sent by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub template: String,
    pub place: Place,
    /// The channel it goes to, when the playbook names one for it.
    pub channel: Option<String>,
    /// Values beyond `community`, `rules`, `now`, `member`, `stats` (e.g. `tier`, `unmet`).
    pub values: Vec<(&'static str, Value)>,
    /// What makes it unique for this event (`welcome`, `tier:regular`).
    pub what: String,
    /// A text written by the engine itself (a task for the admins) instead of a template.
    pub text: Option<String>,
}

/// A broken group rule and the penalty it draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offence {
    pub rule: String,
    /// The member's n-th offence against the rule.
    pub n: u32,
    pub penalty: Penalty,
    pub action: Action,
}

/// What was done about an offence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The member was warned (with the rule's template, when it has one).
    Warned,
    /// The admins were sent a to-do to mute or remove the member.
    Task,
    /// Only recorded: the playbook has no admins channel to send the to-do to.
    Logged,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Warned => "warned",
            Action::Task => "task",
            Action::Logged => "logged",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Action::Warned, Action::Task, Action::Logged]
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown offence action `{s}`"))
    }
}

/// What applying one event did to a member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub awards: Vec<Award>,
    pub messages: Vec<Message>,
    /// New once-only facts.
    pub milestones: Vec<Milestone>,
    /// Admitted by this event: the referrer, if any, earns the referral points.
    pub admitted: bool,
    /// Refused by this event, with the unmet requirements' ids.
    pub refused: Vec<String>,
    pub offences: Vec<Offence>,
    /// Conditions that could not be evaluated: each held as not met, and reported with
    /// where it is written.
    pub problems: Vec<ConditionFailed>,
}

/// Facts about the community an event may need: how many members it has now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Census {
    pub members: u64,
}

/// The values every member-facing message and condition sees: `community`, `rules`,
/// `now`, `member`, `stats` and `segments`. A segment whose condition fails to evaluate
/// is left out, and the failure added to `problems`.
pub fn context(
    program: &Program,
    state: &State,
    at: DateTime<Utc>,
    problems: &mut Vec<ConditionFailed>,
) -> Context {
    let p = program.playbook();
    let mut ctx = program.engine().context(at);
    ctx.set("member", state.member_value(p));
    ctx.set("stats", state.stats(p, at));
    let segments = segments(program, &ctx, problems);
    ctx.set("segments", segments);
    ctx
}

/// The ids of the segments whose condition holds in `ctx`.
fn segments(program: &Program, ctx: &Context, problems: &mut Vec<ConditionFailed>) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, s) in program.playbook().segments.iter().enumerate() {
        if holds(program, program.segment_condition(i), ctx, problems) {
            ids.push(s.id.value.to_string());
        }
    }
    ids
}

/// Whether a condition holds; one that fails to evaluate does not, and is reported.
pub fn holds(
    program: &Program,
    c: crate::compile::ConditionId,
    ctx: &Context,
    problems: &mut Vec<ConditionFailed>,
) -> bool {
    program.holds(c, ctx).unwrap_or_else(|e| {
        problems.push(e);
        false
    })
}

/// Grants each badge whose condition holds now and that the member does not have yet:
/// once, even if the condition lapses and holds again. Answers whether any was granted.
pub fn grant_badges(program: &Program, state: &mut State, at: DateTime<Utc>, out: &mut Outcome) {
    let p = program.playbook();
    if state.member.status != Status::Member
        || p.rewards.badges.iter().all(|b| {
            state
                .milestones
                .contains(&Milestone::Badge(b.id.value.to_string()))
        })
    {
        return;
    }
    let ctx = context(program, state, at, &mut out.problems);
    for (i, b) in p.rewards.badges.iter().enumerate() {
        let what = Milestone::Badge(b.id.value.to_string());
        if state.milestones.contains(&what)
            || !holds(program, program.badge_condition(i), &ctx, &mut out.problems)
        {
            continue;
        }
        state.milestones.insert(what.clone());
        out.milestones.push(what.clone());
        if let Some(t) = &b.template {
            out.messages.push(Message {
                template: t.value.to_string(),
                place: Place::Badge {
                    badge: b.id.value.to_string(),
                },
                channel: None,
                values: vec![("badge", json!({"id": b.id.value.as_str(), "name": b.name}))],
                what: what.to_string(),
                text: None,
            });
        }
    }
}

/// Applies one member event to its member's state.
pub fn apply(program: &Program, state: &mut State, event: &Event, census: Census) -> Outcome {
    let p = program.playbook();
    let at = event.at.with_timezone(&Utc);
    let tz = p.community.timezone;
    let mut out = Outcome::default();
    let m = &mut state.member;
    m.last_active = Some(m.last_active.map_or(at, |l| l.max(at)));
    match &event.fields {
        Fields::JoinRequest {
            name,
            referrer,
            accepted_rules,
        } => {
            if m.status != Status::Member {
                m.status = Status::Applicant;
                m.applied_at.get_or_insert(at);
                if let Some(name) = name {
                    m.name = Some(name.clone());
                }
                if let Some(r) = referrer {
                    m.referrer.get_or_insert(r.clone());
                }
                if *accepted_rules {
                    state.milestones.insert(Milestone::AcceptedRules);
                }
                check_entry(p, state, at, census, true, &mut out);
            }
        }
        Fields::TaskDone { .. } | Fields::Payment { .. } => {
            match &event.fields {
                Fields::TaskDone { task } => {
                    state.milestones.insert(Milestone::Task(task.clone()));
                }
                Fields::Payment { amount, currency } => {
                    let currency = currency.clone().unwrap_or_else(|| "CNY".into());
                    match state.paid.iter_mut().find(|(c, _)| *c == currency) {
                        Some((_, sum)) => *sum = sum.saturating_add(*amount),
                        None => state.paid.push((currency, *amount)),
                    }
                }
                _ => {}
            }
            if state.member.status == Status::Applicant && state.member.applied_at.is_some() {
                check_entry(p, state, at, census, false, &mut out);
            }
        }
        Fields::Join {
            name,
            birthday,
            profile,
        } => {
            if let Some(name) = name {
                m.name = Some(name.clone());
            }
            if let Some(b) = birthday {
                m.birthday = Some(b.clone());
            }
            if let Some(profile) = profile {
                m.profile = Value::Object(profile.clone());
            }
            if m.status != Status::Member {
                admit(p, state, at, &mut out);
            }
        }
        Fields::Leave => {
            if matches!(m.status, Status::Member | Status::Applicant) {
                m.status = Status::Left;
            }
        }
        Fields::Message { text, reply_to } => {
            state.activity.message(at, reply_to.is_some());
            offend(p, state, text, &mut out);
        }
        Fields::Checkin => state
            .activity
            .checkin(at, at.with_timezone(&tz).date_naive()),
        Fields::Referral { .. }
        | Fields::Purchase { .. }
        | Fields::AssistDone { .. }
        | Fields::Custom => {}
    }
    // Points for the event itself (a referral's points go to the referrer on admission,
    // not to whoever reports the referral).
    if event.kind != Kind::Referral && out.offences.is_empty() {
        let awards = state.ledger.apply(&p.rewards, tz, event.kind.as_str(), at);
        out.awards.extend(awards);
    }
    for award in &out.awards {
        if let Reason::Streak { rule, days, .. } = award.reason
            && let Some(t) = p
                .rewards
                .streaks
                .get(rule)
                .and_then(|s| s.template.as_ref())
        {
            out.messages.push(Message {
                template: t.value.to_string(),
                place: Place::Streak,
                channel: None,
                values: vec![("points", json!(award.points)), ("streak", json!(days))],
                what: format!("streak:{rule}:{days}"),
                text: None,
            });
        }
    }
    announce_tier(p, state, &mut out);
    grant_badges(program, state, at, &mut out);
    out
}

/// Credits the referral points to a referrer whose referred member was just admitted.
pub fn credit_referral(p: &Playbook, referrer: &mut State, at: DateTime<Utc>) -> Outcome {
    let mut out = Outcome {
        awards: referrer
            .ledger
            .apply(&p.rewards, p.community.timezone, "referral", at),
        ..Outcome::default()
    };
    announce_tier(p, referrer, &mut out);
    out
}

/// Checks a pending applicant against the entry requirements, in order. Admits when all
/// are met; on the join request itself, refuses with the unmet ones.
fn check_entry(
    p: &Playbook,
    state: &mut State,
    at: DateTime<Utc>,
    census: Census,
    on_request: bool,
    out: &mut Outcome,
) {
    let mut unmet: Vec<Value> = Vec::new();
    let mut ids = Vec::new();
    if let Some(entry) = &p.entry {
        for r in &entry.requirements {
            let met = match &r.kind {
                RequirementKind::AcceptRules => {
                    state.milestones.contains(&Milestone::AcceptedRules)
                }
                RequirementKind::Nickname { pattern } => state
                    .member
                    .name
                    .as_deref()
                    .is_some_and(|n| pattern.value.is_match(n)),
                RequirementKind::Task { .. } => state
                    .milestones
                    .contains(&Milestone::Task(r.id.value.to_string())),
                RequirementKind::Payment { amount, currency } => {
                    let due = Money::from_units(*amount).unwrap_or(Money(i64::MAX));
                    state
                        .paid
                        .iter()
                        .any(|(c, sum)| c == currency && *sum >= due)
                }
            };
            if !met {
                ids.push(r.id.value.to_string());
                let description = match &r.kind {
                    RequirementKind::AcceptRules => "接受群规".to_string(),
                    RequirementKind::Nickname { .. } => "昵称格式".to_string(),
                    RequirementKind::Task { description } => description.clone(),
                    RequirementKind::Payment { amount, currency } => {
                        format!("{amount} {currency}")
                    }
                };
                unmet.push(
                    json!({"id": r.id.value.as_str(), "description": description, "hint": r.hint}),
                );
            }
        }
    }
    if let Some(capacity) = p.community.capacity
        && census.members >= u64::from(capacity)
    {
        ids.push("capacity".into());
        unmet.push(json!({"id": "capacity", "description": "名额已满", "hint": Value::Null}));
    }
    if unmet.is_empty() {
        admit(p, state, at, out);
    } else if on_request {
        out.refused = ids;
        if let Some(t) = p.entry.as_ref().and_then(|e| e.refusal.as_ref()) {
            out.messages.push(Message {
                template: t.value.to_string(),
                place: Place::Refusal,
                channel: None,
                values: vec![("unmet", Value::Array(unmet))],
                what: "refusal".into(),
                text: None,
            });
        }
    }
}

fn admit(p: &Playbook, state: &mut State, at: DateTime<Utc>, out: &mut Outcome) {
    state.member.status = Status::Member;
    state.member.joined_at.get_or_insert(at);
    out.admitted = true;
    if state.milestones.insert(Milestone::Welcomed) {
        out.milestones.push(Milestone::Welcomed);
        if let Some(t) = p.entry.as_ref().and_then(|e| e.welcome.as_ref()) {
            out.messages.push(Message {
                template: t.value.to_string(),
                place: Place::Welcome,
                channel: None,
                values: Vec::new(),
                what: "welcome".into(),
                text: None,
            });
        }
    }
}

/// Announces each tier reached for the first time (once, even if points fall and rise).
fn announce_tier(p: &Playbook, state: &mut State, out: &mut Outcome) {
    let Some(tiers) = &p.rewards.tiers else {
        return;
    };
    let Some(tier) = tier_of(&tiers.levels, state.ledger.balance) else {
        return;
    };
    // The lowest tier is where everyone starts: nothing to announce.
    if tiers
        .levels
        .first()
        .is_some_and(|t| t.id.value == tier.id.value)
    {
        return;
    }
    let what = Milestone::Tier(tier.id.value.to_string());
    if state.milestones.insert(what.clone()) {
        out.milestones.push(what.clone());
        if let Some(t) = &tiers.announce {
            out.messages.push(Message {
                template: t.value.to_string(),
                place: Place::TierUp,
                channel: None,
                values: vec![(
                    "tier",
                    json!({"id": tier.id.value.as_str(), "name": tier.name, "min": tier.min.value}),
                )],
                what: what.to_string(),
                text: None,
            });
        }
    }
}

/// The channel moderation tasks go to: one named `admins` (or `admin`), if the playbook
/// has one. No channel type can mute or remove a member itself, so a person does it.
pub fn admins_channel(p: &Playbook) -> Option<&str> {
    p.channels
        .keys()
        .map(|k| k.as_str())
        .find(|k| *k == "admins" || *k == "admin")
}

/// Whether a message breaks `rule`: any keyword, any pattern, or a link when links count.
pub fn breaks(rule: &Rule, text: &str) -> bool {
    let m = &rule.matcher;
    m.keywords
        .iter()
        .any(|k| !k.is_empty() && text.contains(k.as_str()))
        || m.patterns.iter().any(|p| p.value.is_match(text))
        || (m.links && has_link(text))
}

/// A web address or a QR code mention: what "links" means for group rules.
fn has_link(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("http://")
        || lower.contains("https://")
        || lower.contains("www.")
        || text.contains("二维码")
        || lower
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .any(|w| {
                let parts: Vec<&str> = w.split('.').collect();
                parts.len() >= 2
                    && parts.iter().all(|p| !p.is_empty())
                    && matches!(
                        *parts.last().unwrap_or(&""),
                        "com" | "cn" | "net" | "org" | "io" | "me" | "cc" | "top" | "xyz" | "vip"
                    )
            })
}

/// Counts an offence for each rule the message breaks and applies the ladder's penalty.
fn offend(p: &Playbook, state: &mut State, text: &str, out: &mut Outcome) {
    for rule in &p.rules {
        if !breaks(rule, text) {
            continue;
        }
        let id = rule.id.value.to_string();
        let n = {
            let count = state.offences.entry(id.clone()).or_default();
            *count += 1;
            *count
        };
        let Some(penalty) = rule
            .penalties
            .get(n as usize - 1)
            .or_else(|| rule.penalties.last())
            .copied()
        else {
            continue;
        };
        let rule_value = json!({"id": id, "description": rule.description});
        let penalty_name = penalty.name();
        let action = match penalty {
            Penalty::Warn => {
                if let Some(t) = &rule.template {
                    out.messages.push(Message {
                        template: t.value.to_string(),
                        place: Place::RuleWarning { rule: id.clone() },
                        channel: None,
                        values: vec![
                            ("rule", rule_value.clone()),
                            ("penalty", json!(penalty_name)),
                        ],
                        what: format!("warn:{id}"),
                        text: None,
                    });
                }
                Action::Warned
            }
            Penalty::Mute(_) | Penalty::Remove => {
                if penalty == Penalty::Remove {
                    state.member.status = Status::Removed;
                }
                match admins_channel(p) {
                    Some(admins) => {
                        out.messages.push(Message {
                            template: String::new(),
                            place: Place::RuleWarning { rule: id.clone() },
                            channel: Some(admins.to_string()),
                            values: Vec::new(),
                            what: format!("{penalty_name}:{id}"),
                            text: Some(task_text(p, state, rule, n, penalty, text)),
                        });
                        Action::Task
                    }
                    None => Action::Logged,
                }
            }
        };
        out.offences.push(Offence {
            rule: id,
            n,
            penalty,
            action,
        });
    }
}

/// The to-do an admin gets to mute or remove a member.
fn task_text(
    p: &Playbook,
    state: &State,
    rule: &Rule,
    n: u32,
    penalty: Penalty,
    text: &str,
) -> String {
    let who = state
        .member
        .name
        .clone()
        .unwrap_or_else(|| state.member.id.clone());
    let zh = p.community.locale.starts_with("zh");
    let what = match (penalty, zh) {
        (Penalty::Mute(d), true) => {
            format!("禁言 {}", d.map_or("1h".to_string(), |d| d.to_string()))
        }
        (Penalty::Mute(d), false) => format!(
            "mute them for {}",
            d.map_or("1h".to_string(), |d| d.to_string())
        ),
        (_, true) => "移出群".to_string(),
        (_, false) => "remove them from the group".to_string(),
    };
    if zh {
        format!(
            "【待处理】{who}（{}）第 {n} 次违反「{}」，请{what}。\n原消息：{text}",
            state.member.id, rule.description
        )
    } else {
        format!(
            "[To do] {who} ({}) broke \"{}\" (offence {n}): please {what}.\nMessage: {text}",
            state.member.id, rule.description
        )
    }
}

/// How long a member has been silent at `at`: since their last event, or since they
/// joined if they never had one.
fn silent_for(state: &State, at: DateTime<Utc>) -> Option<chrono::TimeDelta> {
    let since = state.member.last_active.or(state.member.joined_at)?;
    Some(at - since)
}

/// The daily sweep of one member at `at`: badges whose condition came to hold with time,
/// the recall message once per silent stretch, and the elimination warning and then the
/// elimination of those silent past the limit.
pub fn sweep(program: &Program, state: &mut State, at: DateTime<Utc>) -> Outcome {
    let p = program.playbook();
    let mut out = Outcome::default();
    if state.member.status != Status::Member {
        return out;
    }
    grant_badges(program, state, at, &mut out);
    let Some(silent) = silent_for(state, at) else {
        return out;
    };
    // A stretch is named by the instant it began, so each gets its messages once.
    let stretch = state
        .member
        .last_active
        .or(state.member.joined_at)
        .map(|t| t.timestamp())
        .unwrap_or_default();
    let Some(retention) = &p.retention else {
        return out;
    };
    let secs =
        |d: &crate::playbook::types::Duration| chrono::TimeDelta::seconds(d.as_secs() as i64);
    if let Some(recall) = &retention.recall
        && silent >= secs(&recall.inactive)
    {
        let what = Milestone::Recalled(stretch);
        if state.milestones.insert(what.clone()) {
            out.milestones.push(what.clone());
            out.messages.push(Message {
                template: recall.template.value.to_string(),
                place: Place::Recall,
                channel: recall.channel.as_ref().map(|c| c.value.to_string()),
                values: Vec::new(),
                what: what.to_string(),
                text: None,
            });
        }
    }
    if let Some(e) = &retention.eliminate {
        let limit = secs(&e.inactive.value);
        let warn_before = e.warn_before.as_ref().map(|w| secs(&w.value));
        let warned_key = Milestone::Warned(stretch);
        if let Some(before) = warn_before
            && silent >= limit - before
            && !state.milestones.contains(&warned_key)
        {
            state.milestones.insert(warned_key.clone());
            out.milestones.push(warned_key.clone());
            if let Some(t) = &e.warn_template {
                out.messages.push(Message {
                    template: t.value.to_string(),
                    place: Place::LastCall,
                    channel: e.channel.as_ref().map(|c| c.value.to_string()),
                    values: Vec::new(),
                    what: warned_key.to_string(),
                    text: None,
                });
            }
        }
        // Removed only after the warning (when there is one) has had its time.
        let warned = warn_before.is_none() || state.milestones.contains(&warned_key);
        if silent >= limit && warned {
            state.member.status = Status::Removed;
            let what = Milestone::Eliminated(stretch);
            state.milestones.insert(what.clone());
            out.milestones.push(what.clone());
            if let Some(admins) = admins_channel(p) {
                let who = state
                    .member
                    .name
                    .clone()
                    .unwrap_or_else(|| state.member.id.clone());
                let days = silent.num_days();
                let text = if p.community.locale.starts_with("zh") {
                    format!(
                        "【待处理】{who}（{}）已 {days} 天没有发言，按群规淘汰：请移出群。",
                        state.member.id
                    )
                } else {
                    format!(
                        "[To do] {who} ({}) has been silent for {days} days: please remove them from the group.",
                        state.member.id
                    )
                };
                out.messages.push(Message {
                    template: String::new(),
                    place: Place::LastCall,
                    channel: Some(admins.to_string()),
                    values: Vec::new(),
                    what: what.to_string(),
                    text: Some(text),
                });
            }
        }
    }
    out
}

/// Whether `date` (local) is the member's day for an occasion: their birthday (29 February
/// falls on the 28th in other years), or the anniversary of their joining (from the first
/// year on).
pub fn is_occasion(
    p: &Playbook,
    state: &State,
    on: crate::playbook::model::OccasionKind,
    date: chrono::NaiveDate,
) -> bool {
    use crate::playbook::model::OccasionKind;
    use chrono::Datelike;
    if state.member.status != Status::Member {
        return false;
    }
    let same_day = |m: u32, d: u32| {
        (date.month(), date.day()) == (m, d)
            || (m == 2
                && d == 29
                && date.month() == 2
                && date.day() == 28
                && chrono::NaiveDate::from_ymd_opt(date.year(), 2, 29).is_none())
    };
    match on {
        OccasionKind::Birthday => state
            .member
            .birthday
            .as_deref()
            .and_then(crate::events::birthday)
            .is_some_and(|(m, d)| same_day(m, d)),
        OccasionKind::Anniversary => state.member.joined_at.is_some_and(|j| {
            let joined = j.with_timezone(&p.community.timezone).date_naive();
            joined.year() < date.year() && same_day(joined.month(), joined.day())
        }),
    }
}
