//! The plan: every scheduled fire of a playbook in a window of time, in order, with the
//! status each one gets. `drumbeat plan` prints it; the runtime will fire from it.
//!
//! Planning is pure and deterministic: the same playbook and window always give the same
//! plan, and a plan over `[a, c)` is the plan over `[a, b)` followed by the plan over
//! `[b, c)`. Two things make that hold. Topic rotation counts a slot's fires from the start
//! of the community's life (`runs.from`, or 1970-01-01), not from the window. The daily limit
//! counts from the start of each local day, so the plan looks at whole local days around
//! the window and only then keeps the fires inside it.

use crate::compile::items::{Effect, Item, Scope};
use crate::compile::{Program, Source};
use crate::playbook::model::Runs;
use crate::playbook::types::Duration;
use crate::policy::{DailyCounts, Policy};
use crate::schedule::days::DayCounter;
use crate::schedule::time::{each_instant, local_date, resolve_local_tz};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Every fire of one playbook in `[from, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    pub community: &'a str,
    pub timezone: Tz,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// In time order; fires at the same instant in the order the playbook writes them:
    /// content slots, calendar additions, activity slots, lotteries.
    pub fires: Vec<Fire<'a>>,
}

/// One scheduled message: when, from what, to which channel, and whether it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire<'a> {
    pub community: &'a str,
    /// The instant it fires.
    pub at: DateTime<Utc>,
    /// The same instant on the community's wall clock, with the offset in force.
    pub local: DateTime<FixedOffset>,
    /// The local date and time it was due: differs from `local` when it fell in a
    /// spring-forward gap and fires at the transition instead.
    pub scheduled: NaiveDateTime,
    pub source: Source<'a>,
    /// The channel it goes to: its own, else its activity's, else `default_channel`, else
    /// the playbook's only channel.
    pub channel: &'a str,
    /// When that channel is assisted, the channel where a person gets it as a to-do.
    pub assist: Option<&'a str>,
    pub template: &'a str,
    /// The rotated topic, for slots with `topics` (none for skipped or outside-runs fires).
    pub topic: Option<&'a str>,
    pub grace: Duration,
    /// Moved to this time by a calendar entry.
    pub moved: bool,
    pub status: Status,
}

/// Whether a fire is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Planned,
    Suppressed(Reason),
}

impl Status {
    pub fn is_planned(&self) -> bool {
        matches!(self, Status::Planned)
    }

    pub fn reason(&self) -> Option<Reason> {
        match self {
            Status::Planned => None,
            Status::Suppressed(r) => Some(*r),
        }
    }
}

/// Why a fire is not sent: the first that applies, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Its scheduled local date is outside `community.runs`.
    OutsideRuns,
    /// A calendar entry skips the slot that day.
    CalendarSkip,
    /// It falls in `quiet_hours`.
    QuietHours,
    /// Its channel already has `daily_limit` fires that local day.
    DailyLimit,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::OutsideRuns,
        Reason::CalendarSkip,
        Reason::QuietHours,
        Reason::DailyLimit,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::OutsideRuns => "outside_runs",
            Reason::CalendarSkip => "calendar_skip",
            Reason::QuietHours => "quiet_hours",
            Reason::DailyLimit => "daily_limit",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Fire<'_> {
    /// A key that names this fire and no other: community, source, channel and instant,
    /// plus the scheduled wall time when a gap moved it (two gap times of one slot can land
    /// on the same transition instant). The runtime's outbox dedups on it.
    pub fn key(&self) -> String {
        let mut k = format!(
            "{}/{}/{}/{}/{}",
            self.community,
            self.source.kind(),
            self.source.path(),
            self.channel,
            self.at.format("%Y%m%dT%H%M%SZ")
        );
        if self.scheduled != self.local.naive_local() {
            k.push('~');
            k.push_str(&self.scheduled.format("%Y%m%dT%H%M").to_string());
        }
        k
    }
}

/// Plans every fire of `program` in `[from, until)`. A phase whose start cannot be known
/// has no fires (validation says why); every other item goes to the channel it resolved to
/// when the playbook was compiled.
pub fn plan<'a>(program: &'a Program, from: DateTime<Utc>, until: DateTime<Utc>) -> Plan<'a> {
    let playbook = program.playbook();
    let tz = playbook.community.timezone;
    let mut plan = Plan {
        community: playbook.community.id.value.as_str(),
        timezone: tz,
        from,
        until,
        fires: Vec::new(),
    };
    if until <= from {
        return plan;
    }
    let cx = Context::new(program);
    // Whole local days around the window: the daily limit of a fire depends on the fires
    // earlier that day, and a gap can carry a fire into the next day. One more day at each
    // end covers zones that fall back across midnight and so revisit the day before.
    let first = days_before(local_date(tz, from), 2);
    let last = days_after(local_date(tz, until), 1);

    // Sized up front: growing these by doubling costs more than planning them.
    let days = (last - first).num_days().max(0) as usize + 1;
    let estimate: usize = cx.items.iter().map(|i| i.times.len() * days).sum();
    let mut cands: Vec<Candidate<'a>> = Vec::with_capacity(estimate.min(1 << 20));
    let mut occs: Vec<Occurrence> = Vec::new();
    for (index, item) in cx.items.iter().enumerate() {
        let mut n = if item.topics.is_empty() {
            0
        } else {
            cx.counted_before(item, first)
        };
        for d in first.iter_days().take_while(|d| *d <= last) {
            occs.clear();
            cx.day(item, d, &mut occs);
            for o in &occs {
                let counted = cx.counts(o, d);
                let topic = if counted && !item.topics.is_empty() {
                    let t = &item.topics[(n % item.topics.len() as u64) as usize];
                    n += 1;
                    Some(t.as_str())
                } else {
                    None
                };
                cands.push(Candidate {
                    at: o.at,
                    item: index as u32,
                    scheduled: o.scheduled,
                    moved: o.moved,
                    skipped: o.skipped,
                    topic,
                });
            }
        }
    }
    cands.sort_by_key(|c| (c.at.with_timezone(&Utc), c.item, c.scheduled));
    let start = cands.partition_point(|c| c.at < from);
    let end = cands.partition_point(|c| c.at < until);
    plan.fires.reserve_exact(end - start);

    let mut limits = DailyCounts::new(cx.channels);
    // Fires before the window still count toward their day's limit; none after it can.
    for (i, c) in cands[..end].iter().enumerate() {
        let item = &cx.items[c.item as usize];
        let local = c.at.fixed_offset();
        let status = status_of(&cx, item, c, local, &mut limits);
        if i < start {
            continue;
        }
        let at = c.at.with_timezone(&Utc);
        plan.fires.push(Fire {
            community: plan.community,
            at,
            local,
            scheduled: c.scheduled,
            source: item.source,
            channel: item.channel,
            assist: item.assist,
            template: item.template,
            topic: c.topic,
            grace: item.grace,
            moved: c.moved,
            status,
        });
    }
    plan
}

fn status_of(
    cx: &Context<'_>,
    item: &Item<'_>,
    c: &Candidate<'_>,
    local: DateTime<FixedOffset>,
    limits: &mut DailyCounts,
) -> Status {
    let policy = cx.policy;
    if !policy.runs_on(c.scheduled.date()) {
        return Status::Suppressed(Reason::OutsideRuns);
    }
    if c.skipped {
        return Status::Suppressed(Reason::CalendarSkip);
    }
    if policy.is_quiet(local.time()) {
        return Status::Suppressed(Reason::QuietHours);
    }
    if let Some(limit) = policy.daily_limit()
        && !limits.admit(limit, item.channel_index, local.date_naive())
    {
        return Status::Suppressed(Reason::DailyLimit);
    }
    Status::Planned
}

/// The rotated topic a slot's fire at `at` uses: `topics[n mod len]`, where `n` counts the
/// slot's fires before `at` from the start of the community's life. For an instant between
/// two fires, that is the topic of the next one; at an instant where the slot fires twice
/// (two of its times in one DST gap), the first one's. `None` when no slot has that id or it
/// has no topics.
pub fn topic_at<'a>(program: &'a Program, slot: &str, at: DateTime<Utc>) -> Option<&'a str> {
    let cx = Context::new(program);
    let item = cx
        .items
        .iter()
        .find(|i| !matches!(i.source, Source::Lottery { .. }) && i.source.id() == slot)?;
    if item.topics.is_empty() {
        return None;
    }
    let tz = cx.tz;
    let first = days_before(local_date(tz, at), 2);
    let mut n = cx.counted_before(item, first);
    let mut occs = Vec::new();
    for d in first.iter_days().take(4) {
        occs.clear();
        cx.day(item, d, &mut occs);
        n += occs
            .iter()
            .filter(|o| cx.counts(o, d) && o.at.with_timezone(&Utc) < at)
            .count() as u64;
    }
    Some(item.topics[(n % item.topics.len() as u64) as usize].as_str())
}

fn days_before(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(NaiveDate::MIN)
}

fn days_after(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX)
}

/// A fire before statuses are decided.
struct Candidate<'a> {
    at: DateTime<Tz>,
    item: u32,
    scheduled: NaiveDateTime,
    moved: bool,
    skipped: bool,
    topic: Option<&'a str>,
}

/// One fire of one item on one scheduled date.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Occurrence {
    pub at: DateTime<Tz>,
    pub scheduled: NaiveDateTime,
    pub moved: bool,
    pub skipped: bool,
}

/// A playbook prepared for planning.
struct Context<'a> {
    tz: Tz,
    runs: Runs,
    policy: &'a Policy,
    channels: usize,
    items: &'a [Item<'a>],
}

impl<'a> Context<'a> {
    fn new(program: &'a Program) -> Self {
        let p = program.playbook();
        Context {
            tz: p.community.timezone,
            runs: program.policy().runs(),
            policy: program.policy(),
            channels: p.channels.len(),
            items: program.items(),
        }
    }

    /// Where topic rotation starts: `runs.from`, else 1970-01-01.
    fn origin(&self) -> NaiveDate {
        self.runs
            .from
            .unwrap_or(NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date"))
    }

    /// Whether a fire scheduled on `d` advances topic rotation: not skipped, inside `runs`,
    /// and not before rotation starts.
    fn counts(&self, o: &Occurrence, d: NaiveDate) -> bool {
        !o.skipped && self.runs.contains(d) && d >= self.origin()
    }

    /// The fires of `item` scheduled on local date `d`, in time order.
    fn day(&self, item: &Item<'_>, d: NaiveDate, out: &mut Vec<Occurrence>) {
        if let Scope::Dates(ranges) = item.scope
            && !ranges.iter().any(|r| r.value.contains(d))
        {
            return;
        }
        if !item.rule.matches(d) {
            return;
        }
        let start = out.len();
        match item.effect_on(d) {
            Some(Effect::Move(t)) => {
                let scheduled = d.and_time(t);
                out.push(Occurrence {
                    at: resolve_local_tz(self.tz, scheduled),
                    scheduled,
                    moved: true,
                    skipped: false,
                });
            }
            effect => {
                let skipped = effect == Some(Effect::Skip);
                for t in &item.times {
                    let scheduled = d.and_time(*t);
                    if item.real_time {
                        each_instant(self.tz, scheduled, |at| {
                            out.push(Occurrence {
                                at,
                                scheduled,
                                moved: false,
                                skipped,
                            })
                        });
                    } else {
                        out.push(Occurrence {
                            at: resolve_local_tz(self.tz, scheduled),
                            scheduled,
                            moved: false,
                            skipped,
                        });
                    }
                }
            }
        }
        if let Scope::Phase(w) = item.scope {
            let mut i = start;
            while i < out.len() {
                if w.contains(out[i].at.with_timezone(&Utc)) {
                    i += 1;
                } else {
                    out.remove(i);
                }
            }
        }
        if out.len() - start > 1 {
            out[start..].sort_by_key(|o| (o.at.with_timezone(&Utc), o.scheduled));
        }
    }

    /// How many fires of `item` count for topic rotation with a scheduled date before `s`:
    /// those inside `runs` and not skipped by the calendar.
    fn counted_before(&self, item: &Item<'_>, s: NaiveDate) -> u64 {
        let origin = self.origin();
        let mut upper = s;
        if let Some(until) = self.runs.until.and_then(|u| u.succ_opt()) {
            upper = upper.min(until);
        }
        if upper <= origin {
            return 0;
        }
        let mut occs = Vec::new();
        let mut count_days = |days: &mut dyn Iterator<Item = NaiveDate>| -> u64 {
            let mut n = 0;
            for d in days {
                occs.clear();
                self.day(item, d, &mut occs);
                n += occs.iter().filter(|o| !o.skipped).count() as u64;
            }
            n
        };
        match item.scope {
            Scope::Phase(w) => {
                // Phase windows are short: walk them.
                let a = days_before(local_date(self.tz, w.start), 1).max(origin);
                let b = days_after(local_date(self.tz, w.end), 1).min(upper);
                count_days(&mut a.iter_days().take_while(|d| *d < b))
            }
            Scope::Dates(ranges) => {
                let mut dates: Vec<NaiveDate> = ranges
                    .iter()
                    .flat_map(|r| {
                        let first = r.value.first.max(origin);
                        let last = r.value.last;
                        first
                            .iter_days()
                            .take_while(move |d| *d <= last && *d < upper)
                    })
                    .collect();
                dates.sort();
                dates.dedup();
                count_days(&mut dates.into_iter())
            }
            Scope::Always => self.counted_always(item, origin, upper),
        }
    }

    /// [`Self::counted_before`] for an item that may fire every day, by arithmetic: the
    /// matching days times the fires per day, corrected on the days where DST changes the
    /// number of real-time fires and on the days the calendar skips or moves the slot.
    fn counted_always(&self, item: &Item<'_>, origin: NaiveDate, upper: NaiveDate) -> u64 {
        let k = item.times.len() as i64;
        let mut counter = DayCounter::new(&item.rule);
        let mut total = k * counter.count(origin, upper) as i64;
        let normal = |d: NaiveDate| -> i64 {
            if !item.real_time {
                return k;
            }
            let mut n = 0;
            for t in &item.times {
                each_instant(self.tz, d.and_time(*t), |_| n += 1);
            }
            n
        };
        if item.real_time {
            for d in transition_dates(self.tz, origin, upper) {
                if item.rule.matches(d) {
                    total += normal(d) - k;
                }
            }
        }
        let mut dates: Vec<NaiveDate> = item
            .calendar
            .iter()
            .flat_map(|(r, _)| {
                let first = r.first.max(origin);
                let last = r.last;
                first
                    .iter_days()
                    .take_while(move |d| *d <= last && *d < upper)
            })
            .collect();
        dates.sort();
        dates.dedup();
        for d in dates {
            if !item.rule.matches(d) {
                continue;
            }
            match item.effect_on(d) {
                Some(Effect::Skip) => total -= normal(d),
                Some(Effect::Move(_)) => total += 1 - normal(d),
                None => {}
            }
        }
        total.max(0) as u64
    }
}

/// The local dates in `[a, b)` on which the zone's offset changes, found by sampling the
/// offset a week apart and then a day apart where it changed. (Two changes that cancel out
/// within one day would go unseen; no zone has them.)
fn transition_dates(tz: Tz, a: NaiveDate, b: NaiveDate) -> Vec<NaiveDate> {
    use chrono::Offset;
    let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let start = resolve_local_tz(tz, a.and_time(NaiveTime::MIN)).with_timezone(&Utc);
    let end = resolve_local_tz(tz, b.and_time(NaiveTime::MIN)).with_timezone(&Utc);
    let day = chrono::Duration::days(1);
    let mut out = Vec::new();
    let mut t = start;
    let mut off = offset(t);
    while t < end {
        let next = (t + chrono::Duration::days(7)).min(end);
        let next_off = offset(next);
        if next_off != off {
            let mut u = t;
            let mut u_off = off;
            while u < next {
                let v = (u + day).min(next);
                let v_off = offset(v);
                if v_off != u_off {
                    let (du, dv) = (local_date(tz, u), local_date(tz, v));
                    for d in du.iter_days().take_while(|d| *d <= dv) {
                        if a <= d && d < b {
                            out.push(d);
                        }
                    }
                }
                u = v;
                u_off = v_off;
            }
        }
        t = next;
        off = next_off;
    }
    out.dedup();
    out
}
