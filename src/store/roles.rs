//! What a store does, as roles: each trait keeps one kind of state. A backend implements
//! every role once, with its own SQL; [`Store`] names them all together for the daemon.
//!
//! Every operation is atomic and every instant is passed in. Futures are `Send` so workers
//! can run on any tokio thread.

use super::members::{Balance, Draw, Effects, LedgerLine, MemberRow, Milestone, OffenceLine};
use super::{
    ActiveQueue, CausedMessage, Claimed, Confirmed, Counts, KeptPlaybook, Lease, NewFire,
    OutboxRow, Outcome, Queue, Recorded, RunMark, State, StoreError,
};
use crate::events::Event;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{HashMap, HashSet};
use std::future::Future;

/// Opening and closing a store.
pub trait Lifecycle: Sized + Send + Sync {
    /// Opens (creating if needed) the store `url` names, bringing its schema up to date.
    /// Refuses a URL this backend does not take, and a store written by a newer drumbeat.
    fn open(url: &str) -> impl Future<Output = Result<Self, StoreError>> + Send;

    /// Opens the store at `url` only to read it: nothing is created, migrated or written,
    /// so it works on read-only media and never changes what it reads. A store of an older
    /// schema is brought up to date first (which needs it writable); a newer one is refused.
    fn open_to_read(url: &str) -> impl Future<Output = Result<Self, StoreError>> + Send;

    /// Finishes pending writes and closes the store.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// What a store is: its schema and whether it belongs to a dry run.
pub trait StoreInfo: Send + Sync {
    /// The schema version recorded in the store.
    fn schema_version(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Whether a dry run (`drumbeat run --dry-run`) has used this store: its messages were
    /// printed, never sent.
    fn is_dry_run(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that a dry run uses this store, when it is a dry run's already or holds
    /// nothing yet. Answers false, recording nothing, for a store with a real run's state.
    fn take_for_dry_run(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The outbox as the daemon drives it: fires recorded before they are sent, claimed under
/// a lease, settled by the send's result (the life of a row is drawn in [`super`]).
pub trait Outbox: Send + Sync {
    /// Records fires whose keys are not in the outbox yet, in one transaction; a key
    /// already present is left as it is. A fire later than its grace at `now` is recorded
    /// as missed. Answers one [`Recorded`] per fire, in order.
    fn record_fires(
        &self,
        fires: &[NewFire],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Recorded>, StoreError>> + Send;

    /// Records one fire: see [`Outbox::record_fires`].
    fn record_fire(
        &self,
        fire: &NewFire,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        async move {
            let mut done = self.record_fires(std::slice::from_ref(fire), now).await?;
            Ok(done.pop().unwrap_or(Recorded::AlreadyRecorded))
        }
    }

    /// Claims up to `limit` rows of `channel` that are due at `now` (pending or retrying
    /// rows whose time has come, and sending rows whose lease has ended), earliest first,
    /// leasing each until `now + lease`. The rows come back in scheduled order with their
    /// attempt counted.
    fn claim_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: TimeDelta,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// Claims, from each queue, the rows at its head that are due by `due_by` (`now`, or a
    /// little later to claim ahead of the instant), in scheduled order and at most `cap` per
    /// queue, leasing each until `now + lease`. A queue whose head is not due (waiting for a
    /// retry, or held under another lease) gives nothing, so a queue is never delivered out
    /// of order. Also answers when each queue's next unclaimed row is due.
    fn claim_queues(
        &self,
        queues: &[Queue],
        cap: u32,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        lease: TimeDelta,
    ) -> impl Future<Output = Result<Claimed, StoreError>> + Send;

    /// Every queue with rows still to deliver, with when its head is due: where the
    /// workers start after a restart.
    fn active_queues(&self) -> impl Future<Output = Result<Vec<ActiveQueue>, StoreError>> + Send;

    /// Settles claimed rows in one transaction. Answers, per row, whether the lease was
    /// still the row's own: a row claimed again since (its lease ended) is left alone.
    fn settle(
        &self,
        outcomes: &[(Lease, Outcome)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;

    /// The channel accepted the row.
    fn mark_sent(
        &self,
        lease: Lease,
        answer: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let outcome = Outcome::Sent {
            answer: answer.to_string(),
            at: now,
        };
        async move { self.settle_one(lease, outcome, now).await }
    }

    /// The attempt failed and is worth retrying at `next_at`.
    fn mark_retry(
        &self,
        lease: Lease,
        next_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let outcome = Outcome::Retry {
            at: next_at,
            error: error.to_string(),
            parts_sent: 0,
        };
        async move { self.settle_one(lease, outcome, now).await }
    }

    /// The row is given up on.
    fn mark_dead(
        &self,
        lease: Lease,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let outcome = Outcome::Dead {
            error: error.to_string(),
            parts_sent: 0,
        };
        async move { self.settle_one(lease, outcome, now).await }
    }

    /// Hands a claimed row back untried (on shutdown).
    fn release(
        &self,
        lease: Lease,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move { self.settle_one(lease, Outcome::Release, now).await }
    }

    #[doc(hidden)]
    fn settle_one(
        &self,
        lease: Lease,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move {
            let done = self.settle(&[(lease, outcome)], now).await?;
            Ok(done.first().copied().unwrap_or(false))
        }
    }

    /// Takes back every row under a lease: on start-up, the leases are those of a process
    /// that is gone. The interrupted attempt is not counted; the row is due again at `now`
    /// (a first attempt claimed ahead of its instant: at that instant), or missed if it was
    /// a first attempt now later than its grace. Answers how many.
    fn recover(&self, now: DateTime<Utc>) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Marks as missed every pending row (never tried) that is later than its grace at
    /// `now`: what the engine does when it starts again after downtime. Answers how many.
    fn mark_missed(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Removes the never-tried rows of `community` scheduled at or after `from`: a new
    /// version of its playbook plans them afresh. Answers how many.
    fn cancel_pending(
        &self,
        community: &str,
        from: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes finished rows (sent, missed, dead-lettered) last changed before `before`,
    /// so the outbox of a daemon left running for months stays small. Answers how many.
    fn prune(&self, before: DateTime<Utc>) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Messages caused by events and daily jobs (not by the schedule) due at or after
    /// `since`: what counts against a channel's `daily_limit` besides its planned fires.
    fn caused_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<CausedMessage>, StoreError>> + Send;
}

/// The outbox as `drumbeat status` and `/metrics` read it.
pub trait OutboxStatus: Send + Sync {
    fn counts_by_state(&self) -> impl Future<Output = Result<Counts, StoreError>> + Send;

    /// The next rows to go out (pending, retrying, sending), soonest first.
    fn next_rows(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// The latest rows in one state, most recently changed first (for `status`: dead
    /// letters, missed fires).
    fn rows_in_state(
        &self,
        state: State,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// The row recorded under `key`, if any.
    fn find(&self, key: &str)
    -> impl Future<Output = Result<Option<OutboxRow>, StoreError>> + Send;
}

/// To-dos: messages for an assisted channel, delivered to a person who posts them by hand
/// and confirms it.
pub trait Todos: Send + Sync {
    /// Notes that a person posted the assisted message of fire `key`.
    fn confirm(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Confirmed, StoreError>> + Send;

    /// To-dos delivered and not yet confirmed, oldest first.
    fn unconfirmed(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;
}

/// Where the engine stopped: one instant per mark (a community's schedule, its draws, its
/// daily jobs), so a restart resumes there.
pub trait RunMarks: Send + Sync {
    /// The last instant the engine ran `community`, if it ever did.
    fn last_run(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// Every mark kept, by name: what a start-up with many communities reads in one go.
    fn last_runs(
        &self,
    ) -> impl Future<Output = Result<HashMap<String, DateTime<Utc>>, StoreError>> + Send;

    /// Notes that the engine ran `community` up to `at`. The mark never moves back: an
    /// earlier instant than the one stored is ignored.
    fn set_last_run(
        &self,
        community: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            let mark = RunMark {
                name: community.to_string(),
                at,
            };
            self.set_last_runs(std::slice::from_ref(&mark)).await
        }
    }

    /// [`RunMarks::set_last_run`] for many marks, in one transaction.
    fn set_last_runs(
        &self,
        marks: &[RunMark],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Member events taken in, and the writing of everything they cause.
pub trait EventLog: Send + Sync {
    /// Which of `ids` (event ids of `community`) were taken in already.
    fn known_events(
        &self,
        community: &str,
        ids: &[&str],
    ) -> impl Future<Output = Result<HashSet<String>, StoreError>> + Send;

    /// Writes events and everything they caused (members, ledger lines, offences,
    /// milestones, messages) in one transaction: all or nothing.
    fn write_effects(
        &self,
        effects: &Effects,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A member's events in the order they were applied: replaying them rebuilds the
    /// member's state.
    fn events_of(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;

    /// Every event of a community in the order applied: rebuilding all its members at once.
    fn all_events(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
}

/// The roster: members as they are, with their offences and milestones.
pub trait Members: Send + Sync {
    fn member(
        &self,
        community: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<MemberRow>, StoreError>> + Send;

    /// Everyone a community knows, by id.
    fn members(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<MemberRow>, StoreError>> + Send;

    /// Takes member `id` off `community`'s roster and adds `record` (the ledger line that
    /// says so) in one transaction. Their events, ledger, offences and milestones stay.
    /// Answers false, and writes nothing, when the community has no such member.
    fn remove_member(
        &self,
        community: &str,
        id: &str,
        record: &LedgerLine,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn offences(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<OffenceLine>, StoreError>> + Send;

    fn milestones(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<Milestone>, StoreError>> + Send;
}

/// The points ledger: lines only ever added.
pub trait Ledger: Send + Sync {
    /// A member's ledger lines, oldest first.
    fn ledger(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<LedgerLine>, StoreError>> + Send;

    /// Every ledger line of a community, in order.
    fn all_ledger(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<LedgerLine>, StoreError>> + Send;

    /// Every member's balance (members with no ledger line are left out).
    fn balances(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<Balance>, StoreError>> + Send;
}

/// Lottery draws, kept with what reproduces them.
pub trait Draws: Send + Sync {
    /// The draw recorded under `id`, if any.
    fn find_draw(&self, id: &str) -> impl Future<Output = Result<Option<Draw>, StoreError>> + Send;

    /// Records a draw; a draw with the same id is kept as it was (answers false).
    fn save_draw(&self, draw: &Draw) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The playbook text each community runs with, for the commands that read members while
/// the playbook files may have moved on.
pub trait PlaybookArchive: Send + Sync {
    /// Keeps the playbooks given (written on start and reload).
    fn save_playbooks(
        &self,
        playbooks: &[KeptPlaybook],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The playbooks kept, by community.
    fn playbooks(&self) -> impl Future<Output = Result<Vec<KeptPlaybook>, StoreError>> + Send;
}

/// Every role: what `drumbeat run` needs, and what a backend implements.
pub trait Store:
    Lifecycle
    + StoreInfo
    + Outbox
    + OutboxStatus
    + Todos
    + RunMarks
    + EventLog
    + Members
    + Ledger
    + Draws
    + PlaybookArchive
{
}

impl<T> Store for T where
    T: Lifecycle
        + StoreInfo
        + Outbox
        + OutboxStatus
        + Todos
        + RunMarks
        + EventLog
        + Members
        + Ledger
        + Draws
        + PlaybookArchive
{
}
