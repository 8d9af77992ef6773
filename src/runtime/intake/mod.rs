//! Event intake: the one way events change state, for `POST /v1/events` and
//! `drumbeat event` alike.
//!
//! A batch is checked whole before anything is written: an event for a community that is
//! not loaded, of a type the community does not know, or confirming a to-do that does not
//! exist refuses the batch, and nothing changes. Events already taken in (by id, per
//! community) are acknowledged and skipped. The rest are applied in order, each to its
//! member's state, and written with everything they caused in one transaction.
//!
//! Here: taking and checking batches, applying each event. Beside it: `rebuild` (a
//! member's state from the store), `compose` (outcomes made into rows and rendered
//! messages) and `daily` (lottery draws, the daily sweep, occasions).

use super::delivery::Communities;
use super::program::Community;
use crate::compile::ConditionFailed;
use crate::events::{Event, Fields, Kind};
use crate::rules::Status;
use crate::rules::engine::{self, Census, State};
use crate::store::members::Effects;
use crate::store::{Queue, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard, Notify, oneshot};

mod compose;
mod daily;
mod rebuild;

use compose::{Cause, record};
pub use rebuild::{rebuild, rebuild_all};

/// How far after the intake's clock an event may be dated (clocks and time zones of
/// forwarders go wrong by hours, not days).
pub const EVENTS_AHEAD: TimeDelta = TimeDelta::days(1);

/// How far before it: a backfill of a year's history goes in; older ones need
/// `drumbeat event --now`.
pub const EVENTS_BEHIND: TimeDelta = TimeDelta::days(400);

/// What taking a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// Events applied now.
    pub applied: usize,
    /// Events taken in before (by id): acknowledged, nothing changed.
    pub duplicates: usize,
}

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Events that do not fit the loaded communities: each reason says which and why.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The store failed; nothing was applied. Shared: one failed group commit answers
    /// every batch in it.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The intake stopped before answering; nothing was applied.
    #[error("the intake stopped")]
    Stopped,
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(Arc::new(e))
    }
}

/// Takes events in. One batch at a time: members' states stay consistent without locks
/// finer than this one.
pub struct Intake<S> {
    store: S,
    communities: Communities,
    states: Mutex<States>,
    /// Batches waiting to be written, with where to answer.
    waiting: std::sync::Mutex<Vec<Waiting>>,
    /// Hands the batches left waiting after a group to one of their callers.
    turn: Notify,
    /// Communities whose every member's state is in `states`.
    warm: std::sync::Mutex<HashSet<String>>,
    /// Told of each message recorded, so its channel's worker wakes for it.
    waker: Option<Waker>,
    /// Where conditions that failed are counted.
    metrics: Option<Arc<super::metrics::Metrics>>,
    /// The conditions (community, place, text) whose failure was logged at `warn`: a broken
    /// condition fails for every member, and one line says so; the rest are counted.
    failing: std::sync::Mutex<HashSet<(String, String, String)>>,
}

type Waiting = (
    Vec<Event>,
    oneshot::Sender<Result<Receipt, Arc<StoreError>>>,
);

/// Members' states, by community and member.
type States = HashMap<(String, String), State>;

/// Wakes the worker of a queue for a row due at an instant.
pub type Waker = Arc<dyn Fn(&Queue, DateTime<Utc>) + Send + Sync>;

impl<S: Store> Intake<S> {
    pub fn new(store: S, communities: Communities) -> Intake<S> {
        Intake {
            store,
            communities,
            states: Mutex::new(HashMap::new()),
            waiting: std::sync::Mutex::new(Vec::new()),
            turn: Notify::new(),
            warm: std::sync::Mutex::new(HashSet::new()),
            waker: None,
            metrics: None,
            failing: std::sync::Mutex::new(HashSet::new()),
        }
    }

    /// Counts in `metrics` the conditions that fail.
    pub fn with_metrics(mut self, metrics: Arc<super::metrics::Metrics>) -> Intake<S> {
        self.metrics = Some(metrics);
        self
    }

    /// Logs and counts conditions of `c` that could not be evaluated for `member`.
    fn report(&self, c: &Community, member: &str, problems: &[ConditionFailed]) {
        if problems.is_empty() {
            return;
        }
        for problem in problems {
            let first = self.failing.lock().expect("failing lock").insert((
                c.id().to_string(),
                problem.at.clone(),
                problem.condition.clone(),
            ));
            if first {
                tracing::warn!(
                    community = %c.id(),
                    member = %member,
                    at = %problem.at,
                    condition = %problem.condition,
                    error = %problem.error,
                    "a condition could not be evaluated; taken as not met (later failures of it are counted in drumbeat_condition_failures_total and logged at debug)"
                );
            } else {
                tracing::debug!(
                    community = %c.id(),
                    member = %member,
                    at = %problem.at,
                    error = %problem.error,
                    "a condition could not be evaluated; taken as not met"
                );
            }
        }
        if let Some(m) = &self.metrics {
            m.condition_failures(c.id(), problems.len() as u64);
        }
    }

    /// Tells the workers of the queues that just got messages.
    fn wake(&self, effects: &Effects) {
        if let Some(wake) = &self.waker {
            for f in &effects.fires {
                let queue = Queue {
                    community: f.community.clone(),
                    channel: f.channel.clone(),
                };
                wake(&queue, f.scheduled_at);
            }
        }
    }

    /// Wakes delivery workers with `waker` for the messages events cause.
    pub fn with_waker(mut self, waker: Waker) -> Intake<S> {
        self.waker = Some(waker);
        self
    }

    /// Applies a batch. `now` is when it arrived.
    ///
    /// Batches that arrive while another is being written wait and are then written
    /// together, in arrival order, in one transaction (group commit): a hundred clients
    /// posting at once cost a handful of disk flushes, not a hundred. Whoever writes a group
    /// takes every batch waiting, answers, and leaves: the batches that came meanwhile are
    /// handed to one of their own callers, so no request waits longer than the group being
    /// written and the next, however many keep arriving.
    pub async fn take(&self, events: Vec<Event>, now: DateTime<Utc>) -> Result<Receipt, Refusal> {
        let communities = self.communities.read().expect("communities lock").clone();
        self.check(&events, &communities, now).await?;
        let (reply, mut answer) = oneshot::channel();
        let mut states = self.queue((events, reply));
        loop {
            if let Some(states) = states.take() {
                self.write_group(states, now).await;
            }
            tokio::select! {
                biased;
                a = &mut answer => {
                    return match a {
                        Ok(Ok(r)) => Ok(r),
                        Ok(Err(e)) => Err(Refusal::Store(e)),
                        Err(_) => Err(Refusal::Stopped),
                    };
                }
                // Handed the batches left waiting: write them, unless someone already is.
                _ = self.turn.notified() => states = self.states.try_lock().ok(),
            }
        }
    }

    /// Adds a batch to those waiting, and answers the states if nobody is writing: then the
    /// caller writes. Both happen under the queue's lock, which a writer takes after letting
    /// the states go, so a batch is always either seen by that writer or written by its
    /// own caller.
    fn queue(&self, batch: Waiting) -> Option<MutexGuard<'_, States>> {
        let mut waiting = self.waiting.lock().expect("waiting lock");
        waiting.push(batch);
        self.states.try_lock().ok()
    }

    /// Writes the batches waiting, unless someone holds the states: then they will, since
    /// whoever lets the states go looks for batches left waiting.
    async fn write_waiting(&self, now: DateTime<Utc>) {
        if let Ok(states) = self.states.try_lock() {
            self.write_group(states, now).await;
        }
    }

    /// Writes one group: every batch waiting. Then, if more came meanwhile, wakes one of
    /// their callers to write the next group (waiters never queue on the states lock
    /// itself: under a hundred clients that queue costs more than the writing).
    async fn write_group(&self, mut states: MutexGuard<'_, States>, now: DateTime<Utc>) {
        let batches = std::mem::take(&mut *self.waiting.lock().expect("waiting lock"));
        if !batches.is_empty() {
            let communities = self.communities.read().expect("communities lock").clone();
            let (events, replies): (Vec<_>, Vec<_>) = batches.into_iter().unzip();
            match self.apply(&mut states, &communities, events, now).await {
                Ok(receipts) => {
                    for (reply, r) in replies.into_iter().zip(receipts) {
                        let _ = reply.send(Ok(r));
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
        drop(states);
        if !self.waiting.lock().expect("waiting lock").is_empty() {
            self.turn.notify_one();
        }
    }

    /// Applies batches in order and writes them in one transaction; answers a receipt per
    /// batch. Nothing is written, and no state changes, if the store fails.
    async fn apply(
        &self,
        states: &mut HashMap<(String, String), State>,
        communities: &HashMap<String, Arc<Community>>,
        batches: Vec<Vec<Event>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Receipt>, StoreError> {
        // Duplicates: ids taken before, and repeats within or across batches (the first
        // counts).
        let mut by_community: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in batches.iter().flatten() {
            by_community
                .entry(e.community.as_str())
                .or_default()
                .push(e.id.as_str());
        }
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for (community, ids) in by_community {
            for id in self.store.known_events(community, &ids).await? {
                seen.insert((community.to_string(), id));
            }
        }
        let mut receipts = vec![Receipt::default(); batches.len()];
        let mut effects = Effects::default();
        let mut touched: HashMap<(String, String), State> = HashMap::new();
        let mut confirms = Vec::new();
        for (receipt, events) in receipts.iter_mut().zip(batches) {
            for event in events {
                if !seen.insert((event.community.clone(), event.id.clone())) {
                    receipt.duplicates += 1;
                    continue;
                }
                receipt.applied += 1;
                let c = communities[&event.community].clone();
                self.apply_one(
                    states,
                    &mut touched,
                    &c,
                    &event,
                    now,
                    &mut effects,
                    &mut confirms,
                )
                .await?;
                effects.events.push(event);
            }
        }
        // A member touched by several events is written once, as they ended.
        let mut last: HashMap<(String, String), usize> = HashMap::new();
        for (i, m) in effects.members.iter().enumerate() {
            last.insert((m.community.clone(), m.id.clone()), i);
        }
        let mut i = 0;
        effects.members.retain(|m| {
            i += 1;
            last[&(m.community.clone(), m.id.clone())] == i - 1
        });
        self.store.write_effects(&effects, now).await?;
        self.wake(&effects);
        for (key, at) in confirms {
            self.store.confirm(&key, at).await?;
        }
        // Only now, with everything written, do the new states count.
        states.extend(touched);
        Ok(receipts)
    }

    /// Applies one new event to its member (and, for referrals, the people involved).
    #[allow(clippy::too_many_arguments)]
    async fn apply_one(
        &self,
        states: &mut HashMap<(String, String), State>,
        touched: &mut HashMap<(String, String), State>,
        c: &Community,
        event: &Event,
        now: DateTime<Utc>,
        effects: &mut Effects,
        confirms: &mut Vec<(String, DateTime<Utc>)>,
    ) -> Result<(), StoreError> {
        if event.kind == Kind::AssistDone {
            if let Fields::AssistDone { fire } = &event.fields {
                confirms.push((fire.clone(), event.at.with_timezone(&Utc)));
            }
            return Ok(());
        }
        let Some(member) = event.member.clone() else {
            return Ok(());
        };
        if event.kind == Kind::Referral
            && let Fields::Referral { referred } = &event.fields
        {
            // The referred person remembers who brought them, unless already in.
            let state = self.state(states, touched, c, referred).await?;
            if state.member.status == Status::Applicant && state.member.referrer.is_none() {
                state.member.referrer = Some(member.clone());
                effects.members.push(state.member.clone());
            }
        }
        // Only admissions need the head count, and only where there is a capacity.
        let census = if c.playbook().community.capacity.is_some()
            && matches!(
                event.kind,
                Kind::JoinRequest | Kind::TaskDone | Kind::Payment
            ) {
            Census {
                members: count_members(touched, states, c),
            }
        } else {
            Census::default()
        };
        let state = self.state(states, touched, c, &member).await?;
        let outcome = engine::apply(&c.program, state, event, census);
        self.report(c, &member, &outcome.problems);
        effects.members.push(state.member.clone());
        let referrer = outcome
            .admitted
            .then(|| state.member.referrer.clone())
            .flatten();
        let state = state.clone();
        let cause = Cause::of(c, event);
        record(c, &state, &cause, &outcome, now, effects);
        if let Some(referrer) = referrer {
            let r = self.state(states, touched, c, &referrer).await?;
            let credit = engine::credit_referral(c.playbook(), r, event.at.with_timezone(&Utc));
            let r = r.clone();
            record(c, &r, &cause, &credit, now, effects);
        }
        Ok(())
    }

    /// Refuses events that do not fit the loaded communities, or that are dated too far
    /// from `now`.
    pub async fn check_all(&self, events: &[Event], now: DateTime<Utc>) -> Result<(), Refusal> {
        let communities = self.communities.read().expect("communities lock").clone();
        self.check(events, &communities, now).await
    }

    /// Refuses a batch with events that do not fit the loaded communities, or whose `at`
    /// lies more than [`EVENTS_AHEAD`] after `now` or [`EVENTS_BEHIND`] before it: a date in
    /// year 9999 would make its member active for ever, one in year 1 is a mistake.
    async fn check(
        &self,
        events: &[Event],
        communities: &HashMap<String, Arc<Community>>,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let mut reasons = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let at = e.at.with_timezone(&Utc);
            if at > now + EVENTS_AHEAD || at < now - EVENTS_BEHIND {
                reasons.push(format!(
                    "event {i} (`{}`): `at`: {} is more than {} now ({}): events are taken \
                     from {} days before now to a day after",
                    e.id,
                    e.at.to_rfc3339(),
                    if at > now {
                        "a day after".to_string()
                    } else {
                        format!("{} days before", EVENTS_BEHIND.num_days())
                    },
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    EVENTS_BEHIND.num_days()
                ));
            }
            let Some(c) = communities.get(&e.community) else {
                reasons.push(format!(
                    "event {i} (`{}`): `community`: no community `{}` is loaded",
                    e.id, e.community
                ));
                continue;
            };
            if let Kind::Custom(t) = &e.kind {
                let p = c.playbook();
                let named = p.rewards.points.iter().any(|r| r.on.value == *t)
                    || p.rewards.streaks.iter().any(|r| r.on.value == *t);
                if !named {
                    reasons.push(format!(
                        "event {i} (`{}`): `type`: unknown event type `{t}` (not a built-in type, and no points rule of `{}` names it)",
                        e.id, e.community
                    ));
                }
            }
            if e.kind == Kind::AssistDone
                && let Fields::AssistDone { fire: key } = &e.fields
            {
                let found = self.store.find(key).await?;
                if !found.is_some_and(|r| r.assist_for.is_some() && r.community == e.community) {
                    reasons.push(format!(
                        "event {i} (`{}`): `data.fire`: no to-do of `{}` has the key `{key}`",
                        e.id, e.community
                    ));
                }
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Invalid(reasons))
        }
    }

    /// The state of a member, from this batch, the cache, or rebuilt from the store.
    async fn state<'a>(
        &self,
        states: &mut HashMap<(String, String), State>,
        touched: &'a mut HashMap<(String, String), State>,
        c: &Community,
        member: &str,
    ) -> Result<&'a mut State, StoreError> {
        let key = (c.id().to_string(), member.to_string());
        if !touched.contains_key(&key) {
            let state = match states.get(&key) {
                Some(s) => s.clone(),
                None => rebuild(&self.store, &c.program, member).await?,
            };
            touched.insert(key.clone(), state);
        }
        Ok(touched.get_mut(&key).expect("just inserted"))
    }
}

fn count_members(
    touched: &HashMap<(String, String), State>,
    states: &HashMap<(String, String), State>,
    c: &Community,
) -> u64 {
    let id = c.id();
    let mut n = touched
        .iter()
        .filter(|((k, _), s)| k == id && s.member.status == Status::Member)
        .count() as u64;
    n += states
        .iter()
        .filter(|(k, s)| {
            k.0 == id && !touched.contains_key(*k) && s.member.status == Status::Member
        })
        .count() as u64;
    n
}
