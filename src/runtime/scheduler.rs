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
use super::metrics::Metrics;
use super::program::Community;
use crate::schedule::plan;
use crate::store::{NewFire, Queue, Recorded, Store, StoreError};
use crate::template::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
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
    cursors: HashMap<String, DateTime<Utc>>,
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
            cursors: HashMap::new(),
        }
    }

    /// Where planning of `community` resumes: the store's mark, else `now`.
    pub async fn resume(&mut self, community: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let from = self.store.last_run(community).await?.unwrap_or(now);
        self.cursors.insert(community.to_string(), from);
        Ok(())
    }

    /// Plans `community` afresh from `from` (a new version of its playbook).
    pub fn restart_from(&mut self, community: &str, from: DateTime<Utc>) {
        self.cursors.insert(community.to_string(), from);
    }

    /// Forgets a community no longer run.
    pub fn forget(&mut self, community: &str) {
        self.cursors.remove(community);
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
        for (id, c) in communities.iter() {
            let from = match self.cursors.get(id) {
                Some(from) => *from,
                None => {
                    // Loaded since the last tick: resume from its mark.
                    self.resume(id, now).await?;
                    self.cursors[id]
                }
            };
            if from >= until {
                continue;
            }
            compose_window(c, from, until, &mut fires);
            self.cursors.insert(id.clone(), until);
            marks.push((id.clone(), until));
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
        Ok(written)
    }
}

/// Appends the planned fires of `c` in `[from, until)` with their bodies.
fn compose_window(
    c: &Community,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    out: &mut Vec<NewFire>,
) {
    let plan = plan(&c.playbook, from, until);
    let mut planned = plan
        .fires
        .iter()
        .filter(|f| f.status.is_planned())
        .peekable();
    if planned.peek().is_none() {
        return;
    }
    // Compiled only when something fires: most communities have nothing in a window.
    let engine = Engine::new(&c.playbook);
    for fire in planned {
        let body = match &engine {
            Ok(engine) => c.compose(engine, fire),
            Err(e) => Err(e.clone()),
        };
        match body {
            Ok(body) => out.push(NewFire::from_fire(fire, body)),
            Err(e) => {
                // Recorded dead-lettered, so `status` shows it rather than it vanishing.
                tracing::error!(key = %fire.key(), error = %e, "could not render; dead-lettered");
                let mut dead = NewFire::from_fire(fire, String::new());
                dead.problem = Some(format!("could not render: {e}"));
                out.push(dead);
            }
        }
    }
}
