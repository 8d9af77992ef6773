//! The jobs of the clock on members: lottery draws, the daily sweep (badges that came to
//! hold, recalls, last calls, eliminations) and occasions (birthdays, anniversaries).

use super::{Cause, Community, Intake, rebuild, rebuild_all, record};
use crate::rules::engine::{self, Message, Outcome, State};
use crate::rules::{Status, lottery};
use crate::store::members::{Draw, Effects};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

impl<S: Store> Intake<S> {
    /// Draws lottery `l` of `c` at `at` among the members eligible then, and records the
    /// draw with its seed (a draw already recorded for that instant is reused). Answers the
    /// winners as `{id, name}`.
    pub async fn draw(
        &self,
        c: &Community,
        l: &crate::playbook::model::Lottery,
        at: DateTime<Utc>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let drawn = self.draw_now(c, l, at).await;
        // Events that came while the states were busy are written now.
        self.write_waiting(at).await;
        drawn
    }

    async fn draw_now(
        &self,
        c: &Community,
        l: &crate::playbook::model::Lottery,
        at: DateTime<Utc>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let id = format!("{}/{}/{}", c.id(), l.id.value, at.format("%Y%m%dT%H%M%SZ"));
        let draw = match self.store.find_draw(&id).await? {
            Some(d) => d,
            None => {
                let mut members = self.store.members(c.id()).await?;
                members.retain(|m| m.status == Status::Member);
                let mut eligible = Vec::new();
                let mut states = self.states.lock().await;
                self.warm_up(&mut states, c).await?;
                for m in &members {
                    let mut problems = Vec::new();
                    let key = (c.id().to_string(), m.id.clone());
                    let state = match states.get(&key) {
                        Some(s) => s.clone(),
                        None => rebuild(&self.store, &c.program, &m.id).await?,
                    };
                    let holds = lottery::is_eligible(&c.program, l, &state, at, &mut problems);
                    self.report(c, &m.id, &problems);
                    states.insert(key, state);
                    if holds {
                        eligible.push(m.id.clone());
                    }
                }
                drop(states);
                let seed = fresh_seed();
                let winners = lottery::draw(&eligible, l.winners, seed);
                let draw = Draw {
                    id: id.clone(),
                    community: c.id().to_string(),
                    lottery: l.id.value.to_string(),
                    at,
                    seed,
                    wanted: l.winners,
                    eligible,
                    winners,
                };
                self.store.save_draw(&draw).await?;
                tracing::info!(draw = %id, seed, eligible = draw.eligible.len(), winners = ?draw.winners, "lottery drawn");
                draw
            }
        };
        let mut out = Vec::new();
        for w in &draw.winners {
            let name = self
                .store
                .member(c.id(), w)
                .await?
                .and_then(|m| m.name)
                .unwrap_or_else(|| w.clone());
            out.push(serde_json::json!({"id": w, "name": name}));
        }
        Ok(out)
    }
}

/// A seed nobody can predict: from the process's random hasher keys and the time.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl<S: Store> Intake<S> {
    /// Every member of `c` whose state can be had, with their states locked for the job.
    async fn each_member<F>(
        &self,
        c: &Community,
        now: DateTime<Utc>,
        mut job: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&mut State, &mut Effects),
    {
        let members = self.store.members(c.id()).await?;
        let done = {
            let mut states = self.states.lock().await;
            self.job_on_members(&mut states, c, &members, now, &mut job)
                .await
        };
        // Events that came while the states were busy are written now.
        self.write_waiting(now).await;
        done
    }

    async fn job_on_members<F>(
        &self,
        states: &mut HashMap<(String, String), State>,
        c: &Community,
        members: &[crate::rules::Member],
        now: DateTime<Utc>,
        job: &mut F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&mut State, &mut Effects),
    {
        self.warm_up(states, c).await?;
        let mut effects = Effects::default();
        let mut touched = HashMap::new();
        for m in members.iter().filter(|m| m.status == Status::Member) {
            let key = (c.id().to_string(), m.id.clone());
            let mut state = match states.get(&key) {
                Some(s) => s.clone(),
                None => rebuild(&self.store, &c.program, &m.id).await?,
            };
            let before = state.member.clone();
            job(&mut state, &mut effects);
            if state.member != before {
                effects.members.push(state.member.clone());
            }
            touched.insert(key, state);
        }
        self.store.write_effects(&effects, now).await?;
        self.wake(&effects);
        let n = touched.len();
        states.extend(touched);
        Ok(n)
    }

    /// Loads every member of `c` into `states` at once, the first time a job needs them all.
    async fn warm_up(
        &self,
        states: &mut HashMap<(String, String), State>,
        c: &Community,
    ) -> Result<(), StoreError> {
        if self.warm.lock().expect("warm lock").contains(c.id()) {
            return Ok(());
        }
        for (member, state) in rebuild_all(&self.store, &c.program).await? {
            // A state already here is at least as new as the store's.
            states.entry((c.id().to_string(), member)).or_insert(state);
        }
        self.warm
            .lock()
            .expect("warm lock")
            .insert(c.id().to_string());
        Ok(())
    }

    /// The daily sweep of community `c` at `at` (local midnight): badges that came to
    /// hold, recalls, elimination warnings and eliminations. Answers how many members it
    /// looked at.
    pub async fn sweep(
        &self,
        c: &Community,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let date = at
            .with_timezone(&c.playbook().community.timezone)
            .date_naive();
        self.each_member(c, now, |state, effects| {
            let outcome = engine::sweep(&c.program, state, at);
            self.report(c, &state.member.id, &outcome.problems);
            let cause = Cause::daily(c, "sweep", date, &state.member.id, at);
            record(c, state, &cause, &outcome, now, effects);
        })
        .await
    }

    /// Sends occasion number `i` of `c` (a birthday or anniversary greeting) at `at` to
    /// every member whose day it is.
    pub async fn occasion(
        &self,
        c: &Community,
        i: usize,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let Some(o) = c.playbook().rewards.occasions.get(i) else {
            return Ok(0);
        };
        let date = at
            .with_timezone(&c.playbook().community.timezone)
            .date_naive();
        let job = match o.on {
            crate::playbook::model::OccasionKind::Birthday => "birthday",
            crate::playbook::model::OccasionKind::Anniversary => "anniversary",
        };
        self.each_member(c, now, |state, effects| {
            if !engine::is_occasion(c.playbook(), state, o.on, date) {
                return;
            }
            let outcome = Outcome {
                messages: vec![Message {
                    template: o.template.value.to_string(),
                    place: crate::template::Place::Occasion,
                    channel: o.channel.as_ref().map(|c| c.value.to_string()),
                    values: Vec::new(),
                    what: job.to_string(),
                    text: None,
                }],
                ..Outcome::default()
            };
            let cause = Cause::daily(c, job, date, &state.member.id, at);
            record(c, state, &cause, &outcome, now, effects);
        })
        .await
    }
}
