//! Delivery: one worker per queue (a channel of a community), so a slow or failing
//! channel never holds up another, and one desk that talks to the store for all of them.
//!
//! The desk batches: every claim and settle that arrives while it is busy goes into the
//! next transaction, so a burst of thousands of fires costs a handful of commits, not
//! thousands, while a lone fire is claimed at once.
//!
//! A worker sends its queue strictly in scheduled order. It claims the head of its queue
//! a moment before it is due (`claim_ahead`), so that at the instant only the sends remain
//! (10,000 queues due at once are claimed [`CLAIM_ROUND`] at a time, each batch answered as
//! soon as it is written, all well inside the head start), sends each row at its
//! instant and at the channel's pace, and on a retryable failure hands the
//! rest back and waits until the retry is due: nothing overtakes a message that is being
//! retried.

use super::clock::Clock;
use super::metrics::{Attempt, Metrics};
use super::pace::{Pace, RetryPolicy};
use super::program::Community;
use crate::channel::{Gate, Outgoing, SendOutcome};
use crate::server::Health;
use crate::store::{Lease, Outbox, OutboxRow, Outcome, Queue, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// The communities being run, by id; swapped whole on reload.
pub type Communities = Arc<RwLock<Arc<HashMap<String, Arc<Community>>>>>;

/// `loaded`, by id, ready to be run and swapped on reload.
pub fn communities_of(loaded: Vec<Community>) -> Communities {
    Arc::new(RwLock::new(Arc::new(
        loaded
            .into_iter()
            .map(|c| (c.id().to_string(), Arc::new(c)))
            .collect(),
    )))
}

/// How delivery behaves.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Rows a worker claims at once.
    pub batch: u32,
    /// How long a claim holds its rows. Only another process could take them over after
    /// that; one process never claims a queue twice at once.
    pub lease: TimeDelta,
    /// How long before its instant a row is claimed. A row claimed ahead still goes out at
    /// its instant: the worker waits, a stop hands it back untried, and after a crash
    /// `recover` makes it due at its instant again.
    pub claim_ahead: TimeDelta,
    pub retry: RetryPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            batch: 64,
            lease: TimeDelta::minutes(10),
            claim_ahead: TimeDelta::seconds(3),
            retry: RetryPolicy::default(),
        }
    }
}

/// What the workers share.
pub struct Shared<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    pub communities: Communities,
    pub metrics: Arc<Metrics>,
    /// Told when the store fails to take writes and when it takes them again.
    pub health: Arc<Health>,
    pub settings: Settings,
    /// Turns true when the daemon stops taking work.
    pub stopping: watch::Receiver<bool>,
}

type ClaimReply = oneshot::Sender<Result<(Vec<OutboxRow>, Option<DateTime<Utc>>), ClaimError>>;

/// Why a worker's claim got no rows. One store error answers every claim of its round,
/// so it is shared, not copied as text.
#[derive(Debug, Clone, thiserror::Error)]
enum ClaimError {
    /// The store refused this round's settles, so claiming was not tried.
    #[error("the store cannot be written")]
    Unwritable,
    #[error(transparent)]
    Store(Arc<StoreError>),
    #[error("the desk stopped")]
    DeskStopped,
}

enum Job {
    Claim {
        queue: Queue,
        reply: ClaimReply,
    },
    Settle {
        lease: Lease,
        outcome: Outcome,
        reply: oneshot::Sender<bool>,
    },
}

/// The most jobs in one store round: enough for a whole burst of sends to settle in one
/// transaction (at 4,096, a burst of 10,000 waited for three commits in a row, ~60 ms each).
const DESK_ROUND: usize = 16384;

/// The workers of every queue, started the first time their queue has something due.
pub struct Delivery<S> {
    shared: Arc<Shared<S>>,
    desk: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    workers: Mutex<HashMap<Queue, mpsc::UnboundedSender<DateTime<Utc>>>>,
    tasks: Mutex<JoinSet<()>>,
    desk_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<S: Outbox + Clone + 'static> Delivery<S> {
    pub fn start(shared: Shared<S>) -> Arc<Delivery<S>> {
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::unbounded_channel();
        let desk_task = tokio::spawn(desk(shared.clone(), rx));
        Arc::new(Delivery {
            shared,
            desk: Mutex::new(Some(tx)),
            workers: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            desk_task: Mutex::new(Some(desk_task)),
        })
    }

    /// Tells the worker of `queue` that a row is due at `at`, starting it if needed.
    pub fn wake(&self, queue: &Queue, at: DateTime<Utc>) {
        let mut workers = self.workers.lock().expect("workers lock");
        if let Some(tx) = workers.get(queue)
            && tx.send(at).is_ok()
        {
            return;
        }
        let Some(desk) = self.desk.lock().expect("desk lock").clone() else {
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(at);
        workers.insert(queue.clone(), tx);
        let worker = Worker {
            queue: queue.clone(),
            shared: self.shared.clone(),
            desk,
            wake: rx,
            pace: None,
            next_due: None,
        };
        self.tasks.lock().expect("tasks lock").spawn(worker.run());
    }

    /// How many queues have a worker.
    pub fn workers(&self) -> usize {
        self.workers.lock().expect("workers lock").len()
    }

    /// Waits for every worker to finish its send in flight and hand back the rest (the
    /// `stopping` signal must have been given), then for the desk to write the last
    /// outcomes.
    pub async fn finish(&self) {
        self.workers.lock().expect("workers lock").clear();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().expect("tasks lock"));
        while tasks.join_next().await.is_some() {}
        // The desk ends once the last sender is gone: the workers' went with them.
        self.desk.lock().expect("desk lock").take();
        let handle = self.desk_task.lock().expect("desk lock").take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
}

/// Real lateness a busy machine can cause without any outage; later than this (and than
/// its grace) a first attempt is missed.
const BUSY: TimeDelta = TimeDelta::seconds(1);

/// How long the desk waits before trying the store again after a failed round; doubled
/// at each failure up to [`STORE_PAUSE_MAX`]. Real time, whatever the clock's speed.
const STORE_PAUSE_MIN: std::time::Duration = std::time::Duration::from_millis(250);
const STORE_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// How long the desk keeps trying to record sends after every worker has stopped.
const LAST_RECORD_TRIES: std::time::Duration = std::time::Duration::from_secs(20);

/// A send's outcome waiting to be written, and the worker waiting for it.
type Unsettled = (Lease, Outcome, oneshot::Sender<bool>);

/// Runs claims and settles against the store in rounds.
///
/// A settle the store refuses (a full disk) is kept and written first in every later
/// round until it goes through: a message that was sent is recorded as sent as soon as the
/// store takes writes again, so a restart does not send it twice. Meanwhile the desk
/// pauses between rounds, longer each time, and reports the store unhealthy.
async fn desk<S: Outbox>(shared: Arc<Shared<S>>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::new();
    let mut unsettled: Vec<Unsettled> = Vec::new();
    let mut pause = STORE_PAUSE_MIN;
    let mut closed_at: Option<std::time::Instant> = None;
    loop {
        if unsettled.is_empty() {
            if rx.recv_many(&mut jobs, DESK_ROUND).await == 0 {
                return;
            }
        } else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(STORE_PAUSE_MAX);
            while jobs.len() < DESK_ROUND {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed_at.get_or_insert_with(std::time::Instant::now);
                        break;
                    }
                }
            }
            if closed_at.is_some_and(|at| at.elapsed() > LAST_RECORD_TRIES) {
                for (lease, _, _) in &unsettled {
                    tracing::error!(
                        row = lease.id,
                        "a send could not be recorded before stopping: the next start may send it again"
                    );
                }
                return;
            }
        }
        let now = shared.clock.now();
        let mut settles = std::mem::take(&mut unsettled);
        let mut claims = Vec::new();
        let mut claim_replies = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Settle {
                    lease,
                    outcome,
                    reply,
                } => settles.push((lease, outcome, reply)),
                Job::Claim { queue, reply } => {
                    claims.push(queue);
                    claim_replies.push(reply);
                }
            }
        }
        // Settles first: a queue's claim must see its previous batch settled.
        if !settles.is_empty() {
            let outcomes: Vec<(Lease, Outcome)> = settles
                .iter()
                .map(|(lease, outcome, _)| (*lease, outcome.clone()))
                .collect();
            match shared.store.settle(&outcomes, now).await {
                Ok(done) => {
                    store_wrote(&shared.health);
                    pause = STORE_PAUSE_MIN;
                    for ((_, _, reply), ok) in settles.into_iter().zip(done) {
                        let _ = reply.send(ok);
                    }
                }
                Err(e) => {
                    store_failed(
                        &shared.health,
                        now,
                        &e,
                        "could not record send results; keeping them to record again",
                    );
                    unsettled = settles;
                }
            }
        }
        if claims.is_empty() {
            continue;
        }
        if !unsettled.is_empty() {
            // The store refused the settles just now: claiming would fail as well.
            for reply in claim_replies {
                let _ = reply.send(Err(ClaimError::Unwritable));
            }
            continue;
        }
        // A batch at a time, each answered once written: the first workers of a burst start
        // while the rest are still being claimed.
        let mut claims = claims.into_iter();
        let mut claim_replies = claim_replies.into_iter();
        loop {
            let batch: Vec<Queue> = claims.by_ref().take(CLAIM_ROUND).collect();
            if batch.is_empty() {
                break;
            }
            let replies: Vec<_> = claim_replies.by_ref().take(batch.len()).collect();
            let now = shared.clock.now();
            if let Err((e, replies)) = claim_batch(&shared, batch, replies, now).await {
                // The store failed: this batch and every claim still waiting get the
                // same answer.
                store_failed(&shared.health, now, &e, "could not claim due fires");
                let e = ClaimError::Store(Arc::new(e));
                for reply in replies.into_iter().chain(claim_replies.by_ref()) {
                    let _ = reply.send(Err(e.clone()));
                }
                break;
            }
        }
    }
}

/// The most queues claimed in one transaction.
const CLAIM_ROUND: usize = 512;

/// Claims the due rows of `queues` in one transaction and answers each worker; on a store
/// error, hands back the error and the workers still to answer.
async fn claim_batch<S: Outbox>(
    shared: &Shared<S>,
    queues: Vec<Queue>,
    replies: Vec<ClaimReply>,
    now: DateTime<Utc>,
) -> Result<(), (StoreError, Vec<ClaimReply>)> {
    let claimed = shared
        .store
        .claim_queues(
            &queues,
            shared.settings.batch,
            now,
            now + shared.settings.claim_ahead,
            shared.settings.lease,
        )
        .await;
    let claimed = match claimed {
        Ok(claimed) => claimed,
        Err(e) => return Err((e, replies)),
    };
    store_wrote(&shared.health);
    let mut by_queue: HashMap<(String, String), Vec<OutboxRow>> = HashMap::new();
    for row in claimed.rows {
        by_queue
            .entry((row.community.clone(), row.channel.clone()))
            .or_default()
            .push(row);
    }
    for ((queue, reply), next) in queues.into_iter().zip(replies).zip(claimed.next_due) {
        let rows = by_queue
            .remove(&(queue.community, queue.channel))
            .unwrap_or_default();
        let _ = reply.send(Ok((rows, next)));
    }
    Ok(())
}

/// Notes a failed store write in the health check, logging it once per failing stretch.
pub(crate) fn store_failed(
    health: &Health,
    now: DateTime<Utc>,
    error: &crate::store::StoreError,
    what: &str,
) {
    let error = error.to_string();
    if health.store_failed(now, &error) {
        tracing::error!(%error, "{what}; /healthz reports the store until it takes writes again");
    } else {
        tracing::debug!(%error, "{what}");
    }
}

/// Notes a successful store write, logging the end of a failing stretch.
pub(crate) fn store_wrote(health: &Health) {
    if let Some(since) = health.store_wrote() {
        tracing::info!(since = %since.to_rfc3339(), "the store takes writes again");
    }
}

struct Worker<S> {
    queue: Queue,
    shared: Arc<Shared<S>>,
    desk: mpsc::UnboundedSender<Job>,
    wake: mpsc::UnboundedReceiver<DateTime<Utc>>,
    /// Shared with the gate that paces the parts of a split message.
    pace: Option<Arc<Mutex<Pace>>>,
    next_due: Option<DateTime<Utc>>,
}

impl<S: Outbox> Worker<S> {
    async fn run(mut self) {
        let mut stopping = self.shared.stopping.clone();
        // Real time between claims the store refused, doubled each time.
        let mut pause = STORE_PAUSE_MIN;
        loop {
            if *stopping.borrow() {
                return;
            }
            let now = self.shared.clock.now();
            let ahead = self.shared.settings.claim_ahead;
            match self.next_due {
                Some(due) if due <= now + ahead => {}
                due => {
                    let sleep = due.map(|d| self.shared.clock.sleep_until(d - ahead));
                    tokio::select! {
                        _ = stopping.changed() => {}
                        woken = self.wake.recv() => match woken {
                            Some(at) => self.note_due(at),
                            None => return,
                        },
                        _ = async { match sleep { Some(s) => s.await, None => std::future::pending().await } } => {}
                    }
                    continue;
                }
            }
            // Whatever was announced until now is covered by this claim.
            while let Ok(at) = self.wake.try_recv() {
                self.note_due(at);
            }
            // Not before this, even when claimed ahead (a retry's time is not in its row).
            let head_due = self.next_due.take().unwrap_or(now);
            let (reply, answer) = oneshot::channel();
            let asked = self.desk.send(Job::Claim {
                queue: self.queue.clone(),
                reply,
            });
            let claimed = match asked {
                Ok(()) => answer.await.unwrap_or(Err(ClaimError::DeskStopped)),
                Err(_) => return,
            };
            match claimed {
                Ok((rows, head)) => {
                    pause = STORE_PAUSE_MIN;
                    self.next_due = head;
                    if !rows.is_empty() {
                        // Boxed: an idle worker (most of them, most of the time) then holds
                        // only its own small state, not room for a delivery in progress.
                        Box::pin(self.deliver(rows, head_due)).await;
                    }
                }
                Err(e) => {
                    // Logged by the desk, once; the head is still due.
                    tracing::debug!(community = %self.queue.community, channel = %self.queue.channel, error = %e, "could not claim due fires");
                    self.note_due(head_due);
                    tokio::select! {
                        _ = stopping.changed() => {}
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(STORE_PAUSE_MAX);
                }
            }
        }
    }

    fn note_due(&mut self, at: DateTime<Utc>) {
        self.next_due = Some(self.next_due.map_or(at, |d| d.min(at)));
    }

    /// Sends claimed rows in order, none before its instant nor before `not_before`;
    /// answers when every outcome is recorded.
    async fn deliver(&mut self, rows: Vec<OutboxRow>, not_before: DateTime<Utc>) {
        let community = self
            .shared
            .communities
            .read()
            .expect("communities lock")
            .get(&self.queue.community)
            .cloned();
        let route = community
            .as_ref()
            .and_then(|c| c.routes.get(&self.queue.channel).cloned());
        let mut settled = Vec::with_capacity(rows.len());
        let Some((community, route)) = community.zip(route) else {
            let error = format!(
                "channel `{}` of community `{}` is no longer in any loaded playbook",
                self.queue.channel, self.queue.community
            );
            for row in &rows {
                tracing::error!(key = %row.key, %error, "dead-lettered");
                self.shared.metrics.attempt(
                    &self.queue.community,
                    &self.queue.channel,
                    Attempt::Dead,
                );
                settled.push(self.settle(
                    row.lease(),
                    Outcome::Dead {
                        error: error.clone(),
                        parts_sent: row.parts_sent,
                    },
                ));
            }
            self.wait_all(settled).await;
            return;
        };
        let kept = |p: &Pace, limit: crate::playbook::types::RateLimit| {
            let (count, per, burst) = p.limit();
            count == limit.count.max(1) as usize
                && per.num_seconds() == i64::from(limit.per_secs.max(1))
                && burst == Pace::new(limit, route.burst).limit().2
        };
        match (&self.pace, route.limit) {
            (_, None) => self.pace = None,
            (Some(p), Some(limit)) if kept(&p.lock().expect("pace lock"), limit) => {}
            (_, Some(limit)) => {
                self.pace = Some(Arc::new(Mutex::new(Pace::new(limit, route.burst))));
            }
        }
        let gate = self.pace.as_ref().map(|pace| self.gate(pace.clone()));
        let mut stopping = self.shared.stopping.clone();
        let mut rows = rows.into_iter();
        while let Some(row) = rows.next() {
            // Wait for its instant and the pace, unless stopping: then hand back what is
            // not sent yet.
            let mut stop = *stopping.borrow();
            let now = self.shared.clock.now();
            // When the row was meant to go: its instant, behind what is ahead of it, at the
            // pace the sends before it allowed. Later than that by more than its grace, the
            // time went by while the daemon was not running (below).
            let mut planned = row.scheduled_at.max(not_before);
            let mut at = planned;
            if let Some(pace) = &self.pace {
                let pace = pace.lock().expect("pace lock");
                planned = pace.next_free(planned);
                at = planned.max(pace.next_free(now));
            }
            if !stop && at > now {
                tokio::select! {
                    _ = stopping.changed() => stop = true,
                    _ = self.shared.clock.sleep_until(at) => {}
                }
            }
            if stop {
                settled.push(self.settle(row.lease(), Outcome::Release));
                for rest in rows.by_ref() {
                    settled.push(self.settle(rest.lease(), Outcome::Release));
                }
                break;
            }
            let started = self.shared.clock.now();
            // A first attempt later than its grace is missed, not sent: the process may
            // have been paused (SIGSTOP, a suspended VM) across the instant, and a restart
            // after the same outage would not send it either. A busy moment is not an
            // outage: a rehearsal's fast clock makes milliseconds of real lateness minutes
            // of its own, so the lateness must also be a real one.
            let late = started - planned;
            let outage = self.shared.clock.in_real_time(late) > BUSY;
            if row.attempts <= 1 && late > row.grace && outage {
                tracing::warn!(key = %row.key, scheduled = %row.scheduled_at.to_rfc3339(), "missed: later than its grace");
                self.shared.metrics.missed_after_downtime(1);
                settled.push(self.settle(row.lease(), Outcome::Missed));
                continue;
            }
            if let Some(pace) = &self.pace {
                pace.lock().expect("pace lock").take(started);
            }
            let message = Outgoing {
                text: row.body.clone(),
                key: row.key.clone(),
                source: row.source.clone(),
                at: row.scheduled_at,
                community_id: row.community.clone(),
                community_name: community.playbook().community.name.clone(),
                parts_sent: row.parts_sent as usize,
                gate: gate.clone(),
            };
            let outcome = route.channel.send(&message).await;
            let now = self.shared.clock.now();
            if let Some(pace) = &self.pace {
                pace.lock().expect("pace lock").done(now);
            }
            let (community_id, channel) = (&self.queue.community, &self.queue.channel);
            match outcome {
                SendOutcome::Sent { answer, .. } => {
                    self.shared
                        .metrics
                        .attempt(community_id, channel, Attempt::Sent);
                    // When the channel accepted it, where it knows better than now.
                    let accepted = match answer.accepted {
                        Some(at) => now - self.shared.clock.span_of_real(at.elapsed()),
                        None => now,
                    };
                    let late = (accepted - row.scheduled_at)
                        .num_microseconds()
                        .unwrap_or(0);
                    self.shared.metrics.lateness(late.max(0) as f64 / 1e6);
                    tracing::info!(key = %row.key, attempt = row.attempts, "sent");
                    settled.push(self.settle(
                        row.lease(),
                        Outcome::Sent {
                            answer: answer.to_string(),
                            at: accepted,
                        },
                    ));
                }
                SendOutcome::Retry {
                    after,
                    reason,
                    answer,
                    parts_sent,
                } if !self.shared.settings.retry.exhausted(row.attempts) => {
                    let reason = said(reason, answer.as_ref());
                    let at =
                        self.shared
                            .settings
                            .retry
                            .next_attempt(row.attempts, &row.key, after, now);
                    self.shared
                        .metrics
                        .attempt(community_id, channel, Attempt::Retry);
                    tracing::warn!(key = %row.key, attempt = row.attempts, retry_at = %at.to_rfc3339(), error = %reason, "send failed, will retry");
                    settled.push(self.settle(
                        row.lease(),
                        Outcome::Retry {
                            at,
                            error: reason,
                            parts_sent: parts_sent as u32,
                        },
                    ));
                    // Nothing overtakes it: the rest wait behind it.
                    for rest in rows.by_ref() {
                        settled.push(self.settle(rest.lease(), Outcome::Release));
                    }
                    self.note_due(at);
                    break;
                }
                SendOutcome::Retry {
                    reason,
                    answer,
                    parts_sent,
                    ..
                }
                | SendOutcome::Permanent {
                    reason,
                    answer,
                    parts_sent,
                } => {
                    let reason = said(reason, answer.as_ref());
                    let error =
                        if self.shared.settings.retry.exhausted(row.attempts) && row.attempts > 1 {
                            format!("gave up after {} attempts: {reason}", row.attempts)
                        } else {
                            reason
                        };
                    self.shared
                        .metrics
                        .attempt(community_id, channel, Attempt::Dead);
                    tracing::error!(key = %row.key, attempt = row.attempts, %error, "dead-lettered");
                    settled.push(self.settle(
                        row.lease(),
                        Outcome::Dead {
                            error,
                            parts_sent: parts_sent as u32,
                        },
                    ));
                }
            }
        }
        self.wait_all(settled).await;
    }

    /// What a channel waits on before each further part of a split message: the same pace
    /// as whole messages, since the platform counts requests. Stopping cuts the wait short;
    /// the rest of the message then goes at the next attempt.
    fn gate(&self, pace: Arc<Mutex<Pace>>) -> Gate {
        let clock = self.shared.clock.clone();
        let stopping = self.shared.stopping.clone();
        Gate(Arc::new(move || {
            let (pace, clock, mut stopping) = (pace.clone(), clock.clone(), stopping.clone());
            Box::pin(async move {
                loop {
                    if *stopping.borrow() {
                        return false;
                    }
                    let now = clock.now();
                    let at = {
                        let mut p = pace.lock().expect("pace lock");
                        // The part before has been answered by now.
                        p.done(now);
                        let at = p.next_free(now);
                        if at <= now {
                            p.take(now);
                            return true;
                        }
                        at
                    };
                    tokio::select! {
                        _ = stopping.changed() => {}
                        _ = clock.sleep_until(at) => {}
                    }
                }
            })
        }))
    }

    /// Waits until the desk has recorded every outcome, or the daemon stops: then the
    /// desk keeps trying to record them on its own while the worker ends.
    async fn wait_all(&self, answers: Vec<oneshot::Receiver<bool>>) {
        let mut stopping = self.shared.stopping.clone();
        for a in answers {
            if *stopping.borrow() {
                return;
            }
            tokio::select! {
                _ = a => {}
                _ = stopping.changed() => return,
            }
        }
    }

    fn settle(&self, lease: Lease, outcome: Outcome) -> oneshot::Receiver<bool> {
        let (reply, answer) = oneshot::channel();
        let _ = self.desk.send(Job::Settle {
            lease,
            outcome,
            reply,
        });
        answer
    }
}

/// A failure's reason with what the platform said (its status, error code and message, or
/// a program's exit status and output), as `status` and the logs show it.
fn said(reason: String, answer: Option<&crate::channel::Answer>) -> String {
    let Some(answer) = answer else {
        return reason;
    };
    let answer = answer.to_string();
    if answer.is_empty() || reason.contains(&answer) {
        reason
    } else {
        format!("{reason} (the platform said: {answer})")
    }
}
