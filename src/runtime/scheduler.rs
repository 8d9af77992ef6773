//! The scheduler: plans each community a little ahead with the same code as
//! `drumbeat plan`, writes the planned fires to the outbox, and wakes the workers of the
//! queues they go to.
//!
//! Fires are recorded up to `lookahead` (an hour by default) before they are due, so at
//! the due instant the worker only has to claim and send: a burst of thousands of fires at
//! one minute costs nothing at that minute but the sends. `status` shows them as next. A
//! reload drops the untried ones of the replaced version and plans again.
//!
//! Each community has a cursor: planned up to here. It starts at the last instant the
//! store says the engine ran the community (catching up after downtime; fires past their
//! grace are recorded as missed), or at the start for a community run for the first time.
//! The store keeps the mark, written after the fires, so a crash in between only plans the
//! same fires again, and their keys make that harmless.

use super::delivery::{Communities, Delivery};
use super::intake::Intake;
use super::metrics::Metrics;
use super::program::Community;
use crate::plan::{Source, plan};
use crate::schedule::time::resolve_local;
use crate::store::{NewFire, Problem, Queue, Recorded, RunMark, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Plans communities ahead and records their fires.
pub struct Scheduler<S> {
    store: S,
    communities: Communities,
    delivery: Arc<Delivery<S>>,
    metrics: Arc<Metrics>,
    /// How far ahead fires are recorded.
    pub lookahead: TimeDelta,
    /// Nothing at or after this instant is planned (the daemon stops there).
    pub horizon: Option<DateTime<Utc>>,
    /// Where members are drawn from for lotteries.
    pub intake: Option<Arc<Intake<S>>>,
    cursors: HashMap<String, DateTime<Utc>>,
    /// Lotteries are drawn when due, not ahead: who is eligible is decided at the draw.
    /// Each community's lotteries have a cursor of their own.
    draws: HashMap<String, DateTime<Utc>>,
    /// Daily member jobs (the sweep at local midnight, occasions at their time) have a
    /// cursor of their own too.
    days: HashMap<String, DateTime<Utc>>,
}

/// The store mark of a community's daily-jobs cursor.
fn days_mark(community: &str) -> String {
    format!("{community}#daily")
}

/// A job of the clock on a community's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Daily {
    Sweep,
    Occasion(usize),
}

/// The daily jobs of `p` due in `(from, until]`, in time order.
fn daily_jobs(
    p: &crate::playbook::Playbook,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Daily)> {
    let tz = p.community.timezone;
    let sweeps = p.retention.is_some() || !p.rewards.badges.is_empty();
    let mut jobs = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive();
    let last = until.with_timezone(&tz).date_naive();
    while day <= last {
        if sweeps {
            jobs.push((
                resolve_local(tz, day.and_time(chrono::NaiveTime::MIN)),
                Daily::Sweep,
            ));
        }
        for (i, o) in p.rewards.occasions.iter().enumerate() {
            jobs.push((resolve_local(tz, day.and_time(o.at.0)), Daily::Occasion(i)));
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    jobs.retain(|(at, _)| *at > from && *at <= until);
    jobs.sort();
    jobs
}

/// The store mark of a community's lottery cursor.
fn draws_mark(community: &str) -> String {
    format!("{community}#lotteries")
}

impl<S: Store + Clone + 'static> Scheduler<S> {
    pub fn new(
        store: S,
        communities: Communities,
        delivery: Arc<Delivery<S>>,
        metrics: Arc<Metrics>,
        lookahead: TimeDelta,
    ) -> Scheduler<S> {
        Scheduler {
            store,
            communities,
            delivery,
            metrics,
            lookahead,
            horizon: None,
            intake: None,
            cursors: HashMap::new(),
            draws: HashMap::new(),
            days: HashMap::new(),
        }
    }

    /// Where planning of `community` resumes: the store's mark, else `now`.
    pub async fn resume(&mut self, community: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let from = self.store.last_run(community).await?.unwrap_or(now);
        self.cursors.insert(community.to_string(), from);
        let drawn = self
            .store
            .last_run(&draws_mark(community))
            .await?
            .unwrap_or(now);
        self.draws.insert(community.to_string(), drawn);
        let daily = self
            .store
            .last_run(&days_mark(community))
            .await?
            .unwrap_or(now);
        self.days.insert(community.to_string(), daily);
        Ok(())
    }

    /// [`Scheduler::resume`] for many communities, with the marks read in one go.
    pub async fn resume_all(
        &mut self,
        communities: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let marks = self.store.last_runs().await?;
        let mark = |name: &str| marks.get(name).copied().unwrap_or(now);
        for c in communities {
            self.cursors.insert(c.clone(), mark(c));
            self.draws.insert(c.clone(), mark(&draws_mark(c)));
            self.days.insert(c.clone(), mark(&days_mark(c)));
        }
        Ok(())
    }

    /// Plans `community` afresh from `from` (a new version of its playbook).
    pub fn restart_from(&mut self, community: &str, from: DateTime<Utc>) {
        self.cursors.insert(community.to_string(), from);
    }

    /// Forgets a community no longer run.
    pub fn forget(&mut self, community: &str) {
        self.cursors.remove(community);
        self.draws.remove(community);
        self.days.remove(community);
    }

    /// Records every fire due before `now + lookahead` that is not recorded yet. Answers
    /// how many new rows were written.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let until = match self.horizon {
            Some(h) => (now + self.lookahead).min(h),
            None => now + self.lookahead,
        };
        let communities = self.communities.read().expect("communities lock").clone();
        let mut fires: Vec<NewFire> = Vec::new();
        let mut marks = Vec::new();
        let mut moved: Vec<(Moved, String, DateTime<Utc>)> = Vec::new();
        // Messages events caused count against `daily_limit` too: looked up once a round,
        // and only when a community has a limit.
        let mut caused: HashMap<String, Vec<(String, DateTime<Utc>)>> = HashMap::new();
        if communities
            .values()
            .any(|c| c.playbook().content.daily_limit.is_some())
        {
            for m in self.store.caused_since(now - TimeDelta::days(2)).await? {
                caused
                    .entry(m.community)
                    .or_default()
                    .push((m.channel, m.at));
            }
        }
        for (id, c) in communities.iter() {
            let crowded = crowded_out(c, caused.get(id).map(Vec::as_slice), now, until);
            let from = match self.cursors.get(id) {
                Some(from) => *from,
                None => {
                    // Loaded since the last tick: resume from its mark.
                    self.resume(id, now).await?;
                    self.cursors[id]
                }
            };
            // Cursors move only once the round is written (below): a round the store
            // refuses is planned again, not skipped.
            if from < until {
                compose_window(c, from, until, &crowded, &mut fires);
                moved.push((Moved::Cursor, id.clone(), until));
                marks.push(RunMark {
                    name: id.clone(),
                    at: until,
                });
            }
            // Lotteries due by now (just past it: the window ends after `now`).
            let due_by = match self.horizon {
                Some(h) => (now + TimeDelta::milliseconds(1)).min(h),
                None => now + TimeDelta::milliseconds(1),
            };
            let drawn = self.draws.get(id).copied().unwrap_or(now);
            if drawn < due_by && !c.playbook().rewards.lotteries.is_empty() {
                self.lotteries(c, drawn, due_by, now, &crowded, &mut fires)
                    .await?;
                moved.push((Moved::Draws, id.clone(), due_by));
                marks.push(RunMark {
                    name: draws_mark(id),
                    at: due_by,
                });
            }
            // Daily member jobs due by now.
            let done_to = self.days.get(id).copied().unwrap_or(now);
            let until_now = self.horizon.map_or(now, |h| now.min(h));
            if done_to < until_now
                && let Some(intake) = &self.intake
            {
                for (at, job) in daily_jobs(c.playbook(), done_to, until_now) {
                    let looked = match job {
                        Daily::Sweep => intake.sweep(c, at, now).await?,
                        Daily::Occasion(i) => intake.occasion(c, i, at, now).await?,
                    };
                    tracing::debug!(community = %id, ?job, at = %at.to_rfc3339(), members = looked, "daily job");
                }
                moved.push((Moved::Days, id.clone(), until_now));
                marks.push(RunMark {
                    name: days_mark(id),
                    at: until_now,
                });
            }
        }
        let recorded = self.store.record_fires(&fires, now).await?;
        let mut counts: HashMap<&str, (u64, u64)> = HashMap::new();
        let mut due: HashMap<Queue, DateTime<Utc>> = HashMap::new();
        let mut written = 0;
        for (fire, r) in fires.iter().zip(&recorded) {
            let entry = counts.entry(fire.community.as_str()).or_default();
            match r {
                Recorded::Pending { .. } => {
                    entry.0 += 1;
                    written += 1;
                    let q = Queue {
                        community: fire.community.clone(),
                        channel: fire.channel.clone(),
                    };
                    let at = due.entry(q).or_insert(fire.scheduled_at);
                    *at = (*at).min(fire.scheduled_at);
                }
                Recorded::Missed { .. } => {
                    entry.1 += 1;
                    written += 1;
                    tracing::warn!(key = %fire.key, scheduled = %fire.scheduled_at.to_rfc3339(), "missed: later than its grace");
                }
                Recorded::Dead { .. } => {
                    written += 1;
                    self.metrics.attempt(
                        &fire.community,
                        &fire.channel,
                        super::metrics::Attempt::Dead,
                    );
                }
                Recorded::AlreadyRecorded => {}
            }
        }
        for (community, (pending, missed)) in counts {
            if pending + missed > 0 {
                self.metrics.recorded(community, pending, missed);
            }
        }
        for (queue, at) in due {
            self.delivery.wake(&queue, at);
        }
        self.store.set_last_runs(&marks).await?;
        for (what, id, to) in moved {
            let map = match what {
                Moved::Cursor => &mut self.cursors,
                Moved::Draws => &mut self.draws,
                Moved::Days => &mut self.days,
            };
            map.insert(id, to);
        }
        Ok(written)
    }
}

impl<S: Store + Clone + 'static> Scheduler<S> {
    /// The first instant in `(now, until]` at which a lottery is drawn or a daily member
    /// job is due: the loop wakes then rather than at its next round, so a draw at 20:00 is
    /// announced at 20:00.
    pub fn next_wake(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let communities = self.communities.read().expect("communities lock").clone();
        let mut next: Option<DateTime<Utc>> = None;
        let mut note = |at: DateTime<Utc>| {
            if at > now && at <= until {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        for c in communities.values() {
            let p = c.playbook();
            if self.intake.is_some()
                && let Some((at, _)) = daily_jobs(p, now, until).first()
            {
                note(*at);
            }
            if !p.rewards.lotteries.is_empty() {
                let plan = plan(&c.program, now, until + TimeDelta::milliseconds(1));
                if let Some(f) = plan
                    .fires
                    .iter()
                    .find(|f| matches!(f.source, Source::Lottery { .. }) && f.at > now)
                {
                    note(f.at);
                }
            }
        }
        next
    }

    /// Draws the lotteries of `c` due in `[from, until)` and appends their announcements.
    async fn lotteries(
        &self,
        c: &Community,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        crowded: &HashSet<String>,
        out: &mut Vec<NewFire>,
    ) -> Result<(), StoreError> {
        let plan = plan(&c.program, from, until);
        for fire in plan.fires.iter().filter(|f| {
            f.status.is_planned()
                && matches!(f.source, Source::Lottery { .. })
                && !crowded.contains(&f.key())
        }) {
            let Source::Lottery { lottery } = fire.source else {
                continue;
            };
            let mut entry = NewFire::from_fire(fire, String::new());
            // Too late to announce: recorded missed, and nobody is drawn.
            if entry.is_past_grace(now) {
                out.push(entry);
                continue;
            }
            let winners = match (&self.intake, c.lottery(lottery)) {
                (Some(intake), Some(l)) => intake.draw(c, l, fire.at).await?,
                _ => Vec::new(),
            };
            let body = c.compose(c.engine(), fire, Some(&winners));
            match body {
                Ok(body) => entry.body = body,
                Err(e) => {
                    tracing::error!(key = %entry.key, error = %e, "could not render; dead-lettered");
                    entry.problem = Some(Problem::Unsendable(format!("could not render: {e}")));
                }
            }
            out.push(entry);
        }
        Ok(())
    }
}

/// The keys of planned fires of `c` up to `until` that `daily_limit` no longer allows once
/// the messages events caused that day are counted: the k-th planned fire of a channel's
/// local day goes only if k plus the caused messages before it stay within the limit.
/// Caused messages themselves are never held back (a welcome is owed); they only count.
fn crowded_out(
    c: &Community,
    caused: Option<&[(String, DateTime<Utc>)]>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> HashSet<String> {
    let policy = c.program.policy();
    let (Some(_), Some(caused)) = (policy.daily_limit(), caused) else {
        return HashSet::new();
    };
    if caused.is_empty() {
        return HashSet::new();
    }
    let tz = c.playbook().community.timezone;
    let day_of = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    // From the start of the local day before now: the days the planned fires belong to.
    let start = resolve_local(
        tz,
        day_of(now)
            .pred_opt()
            .unwrap_or(day_of(now))
            .and_time(chrono::NaiveTime::MIN),
    );
    let whole = plan(&c.program, start, until);
    let planned = whole
        .fires
        .iter()
        .filter(|f| f.status.is_planned())
        .map(|f| (f.channel, f.at, f.key()));
    policy.crowded_out(planned, caused)
}

/// Appends the planned fires of `c` in `[from, until)` with their bodies. Lotteries are
/// left out: they are drawn when due.
fn compose_window(
    c: &Community,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    crowded: &HashSet<String>,
    out: &mut Vec<NewFire>,
) {
    let plan = plan(&c.program, from, until);
    let mut planned = plan
        .fires
        .iter()
        .filter(|f| {
            f.status.is_planned()
                && !matches!(f.source, Source::Lottery { .. })
                && !crowded.contains(&f.key())
        })
        .peekable();
    if planned.peek().is_none() {
        return;
    }
    // Compiled only when something fires, and not kept: most communities of a large
    // deployment need their templates a few moments a day.
    let engine = c.program.templates();
    for fire in planned {
        match c.compose(&engine, fire, None) {
            Ok(body) => out.push(NewFire::from_fire(fire, body)),
            Err(e) => {
                // Recorded dead-lettered, so `status` shows it rather than it vanishing.
                tracing::error!(key = %fire.key(), error = %e, "could not render; dead-lettered");
                let mut dead = NewFire::from_fire(fire, String::new());
                dead.problem = Some(Problem::Unsendable(format!("could not render: {e}")));
                out.push(dead);
            }
        }
    }
}

/// Which of a community's marks a round moves.
#[derive(Debug, Clone, Copy)]
enum Moved {
    Cursor,
    Draws,
    Days,
}
