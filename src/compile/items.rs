//! A playbook's scheduled items (content slots, calendar additions, activity slots,
//! lotteries) made ready to plan, once, when the playbook is compiled: day rules, times of
//! day (a cron expression's 1,440 minutes looked at once, not at every plan), calendar skips
//! and moves, and the channel each item goes to.

use crate::diag::{Code, Diagnostic};
use crate::playbook::model::{Playbook, Ref, Slot, When};
use crate::playbook::types::{Cron, DateRange, Duration, Id};
use crate::schedule::days::DayRule;
use crate::schedule::phases::{PhaseWindow, phase_windows};
use crate::source::Span;
use chrono::{NaiveDate, NaiveTime};

/// Where a fire comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source<'a> {
    /// A content slot.
    Content {
        slot: &'a str,
    },
    /// A slot added by a calendar entry (`add`).
    Calendar {
        slot: &'a str,
    },
    /// A slot of an activity's phase.
    Phase {
        activity: &'a str,
        phase: &'a str,
        slot: &'a str,
    },
    Lottery {
        lottery: &'a str,
    },
}

impl<'a> Source<'a> {
    /// `content`, `calendar`, `phase` or `lottery`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Content { .. } => "content",
            Source::Calendar { .. } => "calendar",
            Source::Phase { .. } => "phase",
            Source::Lottery { .. } => "lottery",
        }
    }

    /// The slot's or lottery's id.
    pub fn id(&self) -> &'a str {
        match *self {
            Source::Content { slot } | Source::Calendar { slot } | Source::Phase { slot, .. } => {
                slot
            }
            Source::Lottery { lottery } => lottery,
        }
    }

    /// The id with its activity and phase for phase slots: `activity/phase/slot`.
    pub fn path(&self) -> String {
        match self {
            Source::Phase {
                activity,
                phase,
                slot,
            } => format!("{activity}/{phase}/{slot}"),
            other => other.id().to_string(),
        }
    }
}

/// What a calendar entry does to a slot on one of its dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Skip,
    Move(NaiveTime),
}

/// Where an item may fire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Every date (content slots and lotteries; `runs` is a status, not a scope).
    Always,
    /// Only on a calendar entry's dates.
    Dates(&'a [crate::source::Spanned<DateRange>]),
    /// Only inside a phase's window.
    Phase(PhaseWindow),
}

/// Something that fires on a schedule, ready to plan.
pub(crate) struct Item<'a> {
    pub(crate) rule: DayRule<'a>,
    pub(crate) times: Vec<NaiveTime>,
    pub(crate) real_time: bool,
    pub(crate) scope: Scope<'a>,
    /// Calendar skips and moves for this slot, in the order written.
    pub(crate) calendar: Vec<(DateRange, Effect)>,
    pub(crate) source: Source<'a>,
    pub(crate) channel: &'a str,
    pub(crate) channel_index: usize,
    pub(crate) assist: Option<&'a str>,
    pub(crate) template: &'a str,
    pub(crate) topics: &'a [String],
    pub(crate) grace: Duration,
}

impl Item<'_> {
    pub(crate) fn effect_on(&self, d: NaiveDate) -> Option<Effect> {
        let mut found = None;
        for (range, effect) in &self.calendar {
            if range.contains(d) {
                match effect {
                    Effect::Skip => return Some(Effect::Skip),
                    Effect::Move(_) if found.is_none() => found = Some(*effect),
                    Effect::Move(_) => {}
                }
            }
        }
        found
    }
}

/// Every scheduled item of `p`, in the order the playbook writes them: content slots,
/// calendar additions, activity slots, lotteries. A phase whose start cannot be known is
/// left out (validation says why). An item whose channel does not resolve is a diagnostic.
pub(crate) fn items_of(p: &Playbook) -> (Vec<Item<'_>>, Vec<Diagnostic>) {
    let tz = p.community.timezone;
    let mut made = Vec::new();
    for s in &p.content.slots {
        let source = Source::Content {
            slot: s.id.value.as_str(),
        };
        made.push(item_of(
            p,
            Spec::slot(s, s.channel.as_ref(), Scope::Always, source),
        ));
    }
    for entry in &p.content.calendar {
        for s in &entry.add {
            let source = Source::Calendar {
                slot: s.id.value.as_str(),
            };
            let scope = Scope::Dates(&entry.dates);
            made.push(item_of(p, Spec::slot(s, s.channel.as_ref(), scope, source)));
        }
    }
    for a in &p.activities {
        for (phase, window) in a.phases.iter().zip(phase_windows(a, tz)) {
            let Some(window) = window else { continue };
            for s in &phase.slots {
                let source = Source::Phase {
                    activity: a.id.value.as_str(),
                    phase: phase.id.value.as_str(),
                    slot: s.id.value.as_str(),
                };
                let channel = s.channel.as_ref().or(a.channel.as_ref());
                made.push(item_of(
                    p,
                    Spec::slot(s, channel, Scope::Phase(window), source),
                ));
            }
        }
    }
    for l in &p.rewards.lotteries {
        made.push(item_of(
            p,
            Spec {
                schedule: schedule_of_cron(&l.cron.value),
                channel: l.channel.as_ref(),
                scope: Scope::Always,
                source: Source::Lottery {
                    lottery: l.id.value.as_str(),
                },
                slot: None,
                template: &l.template.value,
                grace: l.grace,
                span: l.id.span,
            },
        ));
    }
    let mut items = Vec::with_capacity(made.len());
    let mut problems = Vec::new();
    for m in made {
        match m {
            Ok(item) => items.push(item),
            Err(d) => problems.push(d),
        }
    }
    (items, problems)
}

/// What an item is made from.
struct Spec<'a> {
    schedule: Schedule<'a>,
    channel: Option<&'a Ref>,
    scope: Scope<'a>,
    source: Source<'a>,
    slot: Option<&'a Slot>,
    template: &'a Id,
    grace: Option<Duration>,
    /// Where the item is written, for a channel that does not resolve.
    span: Span,
}

impl<'a> Spec<'a> {
    fn slot(s: &'a Slot, channel: Option<&'a Ref>, scope: Scope<'a>, source: Source<'a>) -> Self {
        Spec {
            schedule: schedule_of(&s.when.value),
            channel,
            scope,
            source,
            slot: Some(s),
            template: &s.template.value,
            grace: s.grace,
            span: s.id.span,
        }
    }
}

fn item_of<'a>(p: &'a Playbook, spec: Spec<'a>) -> Result<Item<'a>, Diagnostic> {
    let Some((channel_index, channel, _)) = p
        .channel_for(spec.channel)
        .and_then(|c| p.channels.get_full(c))
    else {
        return Err(Diagnostic::new(
            Code::NoChannel,
            spec.span,
            format!(
                "no channel for `{}`: it names none that exists, and the playbook has {} channels and no `default_channel`",
                spec.source.path(),
                p.channels.len()
            ),
        ));
    };
    let calendar = match (spec.slot, spec.scope) {
        (Some(s), Scope::Always | Scope::Phase(_)) => calendar_of(p, &s.id.value),
        _ => Vec::new(),
    };
    Ok(Item {
        rule: spec.schedule.rule,
        times: spec.schedule.times,
        real_time: spec.schedule.real_time,
        scope: spec.scope,
        calendar,
        source: spec.source,
        channel: channel.as_str(),
        channel_index,
        assist: p
            .channels
            .get(channel)
            .and_then(|c| c.assist.as_ref())
            .map(|a| a.value.as_str()),
        template: spec.template.as_str(),
        topics: spec.slot.map(|s| s.topics.as_slice()).unwrap_or(&[]),
        grace: p.grace(spec.grace),
    })
}

/// The day rule, times of day and real-time flag of a schedule.
struct Schedule<'a> {
    rule: DayRule<'a>,
    times: Vec<NaiveTime>,
    real_time: bool,
}

fn schedule_of(when: &When) -> Schedule<'_> {
    match when {
        When::At { time, days } => Schedule {
            rule: DayRule::weekly(days),
            times: vec![time.0],
            real_time: false,
        },
        When::Cron(c) => schedule_of_cron(c),
    }
}

fn schedule_of_cron(c: &Cron) -> Schedule<'_> {
    let pat = &c.cron.pattern;
    let mut times = Vec::new();
    for h in 0..24u32 {
        if !pat.hour_match(h).unwrap_or(false) {
            continue;
        }
        for m in 0..60u32 {
            if pat.minute_match(m).unwrap_or(false) {
                times.push(NaiveTime::from_hms_opt(h, m, 0).expect("valid time"));
            }
        }
    }
    Schedule {
        rule: DayRule::cron(c),
        times,
        real_time: c.real_time,
    }
}

/// The calendar's skips and moves of slot `id`, in the order written.
fn calendar_of(p: &Playbook, id: &Id) -> Vec<(DateRange, Effect)> {
    let mut out = Vec::new();
    for entry in &p.content.calendar {
        let skip = entry.skip.iter().any(|s| s.value == *id);
        let moved = entry
            .moves
            .iter()
            .find(|(s, _)| s.value == *id)
            .map(|(_, t)| t.0);
        for r in &entry.dates {
            if skip {
                out.push((r.value, Effect::Skip));
            }
            if let Some(t) = moved {
                out.push((r.value, Effect::Move(t)));
            }
        }
    }
    out
}
