//! Durable state of the runtime: the outbox of fires, and where the engine stopped.
//!
//! The outbox is how the runtime keeps its promises (architecture.md, "Runtime promises"):
//! a due fire is recorded under its unique key *before* anything is sent, so a crash at any
//! point neither loses it nor creates a second row; the send result then settles the row.
//!
//! A row moves through these states:
//!
//! ```text
//!             record (late beyond grace) ─────────────────────────► missed
//!  record ──► pending ──claim──► sending ──settle: sent──────────► sent
//!               │  ▲               │  ▲ └──settle: dead ─────────► dead_lettered
//!   mark_missed │  └──release──────┤  │
//!               ▼                  │  └──claim (lease expired)
//!             missed               └──settle: retry──► retrying ──claim──► sending
//! ```
//!
//! A claim hands out a [`Lease`]: the row is the claimant's until the lease ends; after
//! that (the worker crashed or hung) the row is due again and the next claim takes it over.
//! Each claim bumps the lease token, so only the latest claimant can settle a row and a
//! row is settled as sent at most once.
//!
//! The store never reads the clock: every instant is passed in, which keeps it testable
//! and lets the runtime run on a controllable clock.
//!
//! Stores are chosen by URL ([`open`]): `sqlite://PATH` today; `postgres://` has a place
//! in the design (the same operations map to `INSERT .. ON CONFLICT DO NOTHING` for
//! records and `UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP LOCKED)` for claims) and
//! is refused with a clear message until it exists.

pub mod members;
mod sqlite;

pub use sqlite::SqliteStore;

use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;

use crate::schedule::Fire;

/// Where the runtime keeps its state when no `--store` is given.
pub const DEFAULT_URL: &str = "sqlite://./drumbeat.db";

/// A fire about to be recorded: its key and everything needed to send it later without
/// the playbook at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFire {
    /// Unique per (community, source, scheduled instant, channel): [`Fire::key`].
    pub key: String,
    pub community: String,
    /// `kind/path`, e.g. `content/morning` or `phase/camp/warmup/daily`.
    pub source: String,
    /// Where it is delivered: the fire's channel, or for an assisted channel the channel
    /// where a person gets it as a to-do.
    pub channel: String,
    /// For a to-do: the assisted channel the message is meant for.
    pub assist_for: Option<String>,
    pub template: String,
    pub scheduled_at: DateTime<Utc>,
    /// How late it may still be sent.
    pub grace: TimeDelta,
    /// The rendered text or payload, exactly what the channel is given.
    pub body: String,
    /// Why it is not to be sent, recorded with it so that `status` shows it instead of it
    /// vanishing.
    pub problem: Option<Problem>,
}

/// Why a fire is recorded but not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It cannot be sent at all (its template failed to render): recorded dead-lettered.
    Unsendable(String),
    /// It is not to be sent (a message an event caused after the community's `runs`):
    /// recorded missed.
    NotSent(String),
}

impl Problem {
    /// The state it is recorded in.
    pub fn state(&self) -> State {
        match self {
            Problem::Unsendable(_) => State::DeadLettered,
            Problem::NotSent(_) => State::Missed,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Problem::Unsendable(r) | Problem::NotSent(r) => r,
        }
    }
}

impl NewFire {
    /// The outbox entry for a planned fire, with its rendered body (for an assisted
    /// channel, the to-do).
    pub fn from_fire(fire: &Fire<'_>, body: String) -> NewFire {
        let (channel, assist_for) = match fire.assist {
            Some(other) => (other.to_string(), Some(fire.channel.to_string())),
            None => (fire.channel.to_string(), None),
        };
        NewFire {
            key: fire.key(),
            community: fire.community.to_string(),
            source: format!("{}/{}", fire.source.kind(), fire.source.path()),
            channel,
            assist_for,
            template: fire.template.to_string(),
            scheduled_at: fire.at,
            grace: fire.grace.to_chrono(),
            body,
            problem: None,
        }
    }

    /// Whether at `now` it is later than its grace allows (late by exactly the grace is
    /// still in time).
    pub fn is_past_grace(&self, now: DateTime<Utc>) -> bool {
        now - self.scheduled_at > self.grace
    }
}

/// What recording a fire did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new row, waiting to be claimed.
    Pending { id: i64 },
    /// A new row, already too late to send: recorded as missed.
    Missed { id: i64 },
    /// A new row that cannot be sent (it has a problem): recorded dead-lettered.
    Dead { id: i64 },
    /// The key was already in the outbox; nothing changed.
    AlreadyRecorded,
}

impl Recorded {
    /// Whether this call created the row.
    pub fn is_new(&self) -> bool {
        !matches!(self, Recorded::AlreadyRecorded)
    }
}

/// Where a row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Recorded, not yet tried.
    Pending,
    /// Claimed by a worker under a lease.
    Sending,
    /// The channel accepted it. Final.
    Sent,
    /// A try failed in a way worth retrying; due again at `next_attempt_at`.
    Retrying,
    /// Failed for good (a permanent error, or out of attempts). Final.
    DeadLettered,
    /// Not sent because it was later than its grace. Final.
    Missed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Pending,
        State::Sending,
        State::Sent,
        State::Retrying,
        State::DeadLettered,
        State::Missed,
    ];

    /// The name stored and shown: `pending`, `sending`, `sent`, `retrying`,
    /// `dead_lettered`, `missed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Retrying => "retrying",
            State::DeadLettered => "dead_lettered",
            State::Missed => "missed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the row can still change.
    pub fn is_final(&self) -> bool {
        matches!(self, State::Sent | State::DeadLettered | State::Missed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub community: String,
    pub source: String,
    pub channel: String,
    pub template: String,
    pub body: String,
    pub scheduled_at: DateTime<Utc>,
    pub grace: TimeDelta,
    pub state: State,
    /// Delivery attempts started, this one included for a claimed row.
    pub attempts: u32,
    /// Pending: the scheduled instant. Retrying: the next attempt. Sending: the end of
    /// the lease.
    pub next_attempt_at: DateTime<Utc>,
    pub lease_token: i64,
    pub last_error: Option<String>,
    pub answer: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Parts of a split message already accepted by earlier attempts.
    pub parts_sent: u32,
    /// For a to-do: the assisted channel the message is meant for.
    pub assist_for: Option<String>,
    /// For a to-do: when the person confirmed the post.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl OutboxRow {
    /// The lease of a claimed row, to settle it with.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            token: self.lease_token,
        }
    }
}

/// The right to settle one claimed row: valid until the row is claimed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: i64,
    pub token: i64,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel accepted the message; `answer` is what it said (kept for `status`).
    Sent { answer: String },
    /// Worth trying again at `at`; `parts_sent` parts of a split message got through.
    Retry {
        at: DateTime<Utc>,
        error: String,
        parts_sent: u32,
    },
    /// Given up: the row is dead-lettered.
    Dead { error: String, parts_sent: u32 },
    /// Not tried (shutting down): the row goes back as it was, due at once, and the
    /// attempt does not count.
    Release,
    /// Not tried: its first attempt came later than its grace (the machine was paused or
    /// suspended past it). Recorded missed, like a fire found past its grace after downtime.
    Missed,
}

/// How many rows are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub retrying: u64,
    pub dead_lettered: u64,
    pub missed: u64,
}

impl Counts {
    pub fn get(&self, state: State) -> u64 {
        match state {
            State::Pending => self.pending,
            State::Sending => self.sending,
            State::Sent => self.sent,
            State::Retrying => self.retrying,
            State::DeadLettered => self.dead_lettered,
            State::Missed => self.missed,
        }
    }

    fn slot(&mut self, state: State) -> &mut u64 {
        match state {
            State::Pending => &mut self.pending,
            State::Sending => &mut self.sending,
            State::Sent => &mut self.sent,
            State::Retrying => &mut self.retrying,
            State::DeadLettered => &mut self.dead_lettered,
            State::Missed => &mut self.missed,
        }
    }

    pub fn total(&self) -> u64 {
        State::ALL.iter().map(|s| self.get(*s)).sum()
    }

    /// Rows still to be delivered: pending, sending and retrying.
    pub fn queued(&self) -> u64 {
        self.pending + self.sending + self.retrying
    }
}

/// One delivery queue: the fires of one channel of one community, sent in scheduled order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Queue {
    pub community: String,
    pub channel: String,
}

/// What [`Store::claim_queues`] handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// The claimed rows, each queue's in its order.
    pub rows: Vec<OutboxRow>,
    /// Per queue asked for, in the same order: when its next unclaimed row is due (`None`
    /// when nothing is left in it).
    pub next_due: Vec<Option<DateTime<Utc>>>,
}

/// What confirming an assisted post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// Noted now.
    Done,
    /// It had been confirmed before; nothing changed.
    Already,
    /// No to-do has that key.
    Unknown,
}

/// The runtime's durable state. Every operation is atomic; every instant is passed in.
///
/// Futures are `Send` so workers can run on any tokio thread.
pub trait Store: Send + Sync {
    /// Records fires whose keys are not in the outbox yet, in one transaction; a key
    /// already present is left as it is. A fire later than its grace at `now` is recorded
    /// as missed. Answers one [`Recorded`] per fire, in order.
    fn record_fires(
        &self,
        fires: &[NewFire],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Recorded>, StoreError>> + Send;

    /// Records one fire: see [`Store::record_fires`].
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
    fn active_queues(
        &self,
    ) -> impl Future<Output = Result<Vec<(Queue, DateTime<Utc>)>, StoreError>> + Send;

    /// Takes back every row under a lease: on start-up, the leases are those of a process
    /// that is gone. The interrupted attempt is not counted; the row is due again at `now`
    /// (a first attempt claimed ahead of its instant: at that instant), or missed if it was
    /// a first attempt now later than its grace. Answers how many.
    fn recover(&self, now: DateTime<Utc>) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Removes the never-tried rows of `community` scheduled at or after `from`: a new
    /// version of its playbook plans them afresh. Answers how many.
    fn cancel_pending(
        &self,
        community: &str,
        from: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

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

    /// Marks as missed every pending row (never tried) that is later than its grace at
    /// `now`: what the engine does when it starts again after downtime. Answers how many.
    fn mark_missed(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes finished rows (sent, missed, dead-lettered) last changed before `before`,
    /// so the outbox of a daemon left running for months stays small. Answers how many.
    fn prune(&self, before: DateTime<Utc>) -> impl Future<Output = Result<u64, StoreError>> + Send;

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

    /// The last instant the engine ran `community`, if it ever did.
    fn last_run(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// Every mark kept, by name: what a start-up with many communities reads in one go.
    fn last_runs(
        &self,
    ) -> impl Future<Output = Result<std::collections::HashMap<String, DateTime<Utc>>, StoreError>> + Send;

    /// Notes that the engine ran `community` up to `at`. The mark never moves back: an
    /// earlier instant than the one stored is ignored.
    fn set_last_run(
        &self,
        community: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move { self.set_last_runs(&[(community.to_string(), at)]).await }
    }

    /// [`Store::set_last_run`] for many communities, in one transaction.
    fn set_last_runs(
        &self,
        marks: &[(String, DateTime<Utc>)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Which of `ids` (event ids of `community`) were taken in already.
    fn known_events(
        &self,
        community: &str,
        ids: &[&str],
    ) -> impl Future<Output = Result<std::collections::HashSet<String>, StoreError>> + Send;

    /// Writes events and everything they caused in one transaction: all or nothing.
    fn write_effects(
        &self,
        effects: &members::Effects,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn member(
        &self,
        community: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<members::MemberRow>, StoreError>> + Send;

    /// Everyone a community knows, by id.
    fn members(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<members::MemberRow>, StoreError>> + Send;

    /// Takes member `id` off `community`'s roster and adds `record` (the ledger line that
    /// says so) in one transaction. Their events, ledger, offences and milestones stay.
    /// Answers false, and writes nothing, when the community has no such member.
    fn remove_member(
        &self,
        community: &str,
        id: &str,
        record: &members::LedgerLine,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A member's ledger lines, oldest first.
    fn ledger(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<members::LedgerLine>, StoreError>> + Send;

    /// Every member's balance (members with no ledger line are left out).
    fn balances(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;

    /// A member's events in the order they were applied: replaying them rebuilds the
    /// member's state.
    fn events_of(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<crate::events::Event>, StoreError>> + Send;

    fn offences(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<members::OffenceLine>, StoreError>> + Send;

    fn milestones(
        &self,
        community: &str,
        member: &str,
    ) -> impl Future<Output = Result<Vec<members::Milestone>, StoreError>> + Send;

    /// Every event of a community in the order applied: rebuilding all its members at once.
    fn all_events(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<crate::events::Event>, StoreError>> + Send;

    /// Every ledger line of a community, in order.
    fn all_ledger(
        &self,
        community: &str,
    ) -> impl Future<Output = Result<Vec<members::LedgerLine>, StoreError>> + Send;

    /// Messages caused by events and daily jobs (not by the schedule) due at or after
    /// `since`, as (community, channel they are for, instant): what counts against a
    /// channel's `daily_limit` besides its planned fires.
    fn caused_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(String, String, DateTime<Utc>)>, StoreError>> + Send;

    /// The draw recorded under `id`, if any.
    fn find_draw(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<members::Draw>, StoreError>> + Send;

    /// Records a draw; a draw with the same id is kept as it was (answers false).
    fn save_draw(
        &self,
        draw: &members::Draw,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether a dry run (`drumbeat run --dry-run`) has used this store: its messages were
    /// printed, never sent.
    fn is_dry_run(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that a dry run uses this store, when it is a dry run's already or holds
    /// nothing yet. Answers false, recording nothing, for a store with a real run's state.
    fn take_for_dry_run(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Keeps the playbook text each community runs with (written on start and reload).
    fn save_playbooks(
        &self,
        playbooks: &[(String, String, String)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The playbooks kept: (community, path, source).
    fn playbooks(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String, String)>, StoreError>> + Send;

    /// Finishes pending writes and closes the store.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// A store URL, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite { path: PathBuf },
    Postgres,
}

impl StoreUrl {
    /// `sqlite://PATH` (or `sqlite:PATH`; `sqlite:///abs/path` is absolute) and
    /// `postgres://…` / `postgresql://…`.
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        let url = url.trim();
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(StoreError::BadUrl {
                    url: url.to_string(),
                    reason: "no file path after `sqlite://`".into(),
                });
            }
            if rest.contains('?') {
                return Err(StoreError::BadUrl {
                    url: url.to_string(),
                    reason: "options after `?` are not supported".into(),
                });
            }
            return Ok(StoreUrl::Sqlite {
                path: PathBuf::from(rest),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres);
        }
        // Never echo an unknown URL whole: it may carry a password.
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        Err(StoreError::BadUrl {
            url: if scheme.is_empty() {
                "(no scheme)".into()
            } else {
                format!("{scheme}:…")
            },
            reason: "a store URL starts with `sqlite://` (for example sqlite://./drumbeat.db)"
                .into(),
        })
    }
}

/// Opens (creating if needed) the store a URL names, bringing its schema up to date.
pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite { path } => Ok(AnyStore::Sqlite(SqliteStore::open(&path).await?)),
        StoreUrl::Postgres => Err(StoreError::NotSupported {
            what: "PostgreSQL stores",
        }),
    }
}

/// Opens the store at `url` only to read it: nothing is created, migrated or written, so it
/// works on read-only media and never changes what it reads. A store of an older schema is
/// brought up to date first (which needs it writable); a newer one is refused.
pub async fn open_to_read(url: &str) -> Result<AnyStore, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite { path } => match SqliteStore::open_to_read(&path).await? {
            Some(s) => Ok(AnyStore::Sqlite(s)),
            None => Ok(AnyStore::Sqlite(SqliteStore::open(&path).await?)),
        },
        StoreUrl::Postgres => Err(StoreError::NotSupported {
            what: "PostgreSQL stores",
        }),
    }
}

/// Any store [`open`] can give.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
}

impl Store for AnyStore {
    async fn record_fires(
        &self,
        fires: &[NewFire],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.record_fires(fires, now).await,
        }
    }

    async fn claim_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.claim_due(channel, now, limit, lease).await,
        }
    }

    async fn settle(
        &self,
        outcomes: &[(Lease, Outcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.settle(outcomes, now).await,
        }
    }

    async fn mark_missed(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.mark_missed(now).await,
        }
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.prune(before).await,
        }
    }

    async fn counts_by_state(&self) -> Result<Counts, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.counts_by_state().await,
        }
    }

    async fn next_rows(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.next_rows(limit).await,
        }
    }

    async fn rows_in_state(&self, state: State, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.rows_in_state(state, limit).await,
        }
    }

    async fn find(&self, key: &str) -> Result<Option<OutboxRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.find(key).await,
        }
    }

    async fn last_run(&self, community: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.last_run(community).await,
        }
    }

    async fn last_runs(
        &self,
    ) -> Result<std::collections::HashMap<String, DateTime<Utc>>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.last_runs().await,
        }
    }

    async fn set_last_runs(&self, marks: &[(String, DateTime<Utc>)]) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.set_last_runs(marks).await,
        }
    }

    async fn claim_queues(
        &self,
        queues: &[Queue],
        cap: u32,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        lease: TimeDelta,
    ) -> Result<Claimed, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.claim_queues(queues, cap, now, due_by, lease).await,
        }
    }

    async fn active_queues(&self) -> Result<Vec<(Queue, DateTime<Utc>)>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.active_queues().await,
        }
    }

    async fn recover(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.recover(now).await,
        }
    }

    async fn cancel_pending(
        &self,
        community: &str,
        from: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.cancel_pending(community, from).await,
        }
    }

    async fn confirm(&self, key: &str, now: DateTime<Utc>) -> Result<Confirmed, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.confirm(key, now).await,
        }
    }

    async fn unconfirmed(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.unconfirmed(limit).await,
        }
    }

    async fn known_events(
        &self,
        community: &str,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.known_events(community, ids).await,
        }
    }

    async fn write_effects(
        &self,
        effects: &members::Effects,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.write_effects(effects, now).await,
        }
    }

    async fn member(
        &self,
        community: &str,
        id: &str,
    ) -> Result<Option<members::MemberRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.member(community, id).await,
        }
    }

    async fn members(&self, community: &str) -> Result<Vec<members::MemberRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.members(community).await,
        }
    }

    async fn remove_member(
        &self,
        community: &str,
        id: &str,
        record: &members::LedgerLine,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.remove_member(community, id, record).await,
        }
    }

    async fn ledger(
        &self,
        community: &str,
        member: &str,
    ) -> Result<Vec<members::LedgerLine>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.ledger(community, member).await,
        }
    }

    async fn balances(&self, community: &str) -> Result<Vec<(String, i64)>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.balances(community).await,
        }
    }

    async fn events_of(
        &self,
        community: &str,
        member: &str,
    ) -> Result<Vec<crate::events::Event>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.events_of(community, member).await,
        }
    }

    async fn offences(
        &self,
        community: &str,
        member: &str,
    ) -> Result<Vec<members::OffenceLine>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.offences(community, member).await,
        }
    }

    async fn milestones(
        &self,
        community: &str,
        member: &str,
    ) -> Result<Vec<members::Milestone>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.milestones(community, member).await,
        }
    }

    async fn all_events(&self, community: &str) -> Result<Vec<crate::events::Event>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.all_events(community).await,
        }
    }

    async fn all_ledger(&self, community: &str) -> Result<Vec<members::LedgerLine>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.all_ledger(community).await,
        }
    }

    async fn caused_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.caused_since(since).await,
        }
    }

    async fn find_draw(&self, id: &str) -> Result<Option<members::Draw>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.find_draw(id).await,
        }
    }

    async fn save_draw(&self, draw: &members::Draw) -> Result<bool, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.save_draw(draw).await,
        }
    }

    async fn is_dry_run(&self) -> Result<bool, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.is_dry_run().await,
        }
    }

    async fn take_for_dry_run(&self) -> Result<bool, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.take_for_dry_run().await,
        }
    }

    async fn save_playbooks(
        &self,
        playbooks: &[(String, String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.save_playbooks(playbooks, now).await,
        }
    }

    async fn playbooks(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.playbooks().await,
        }
    }

    async fn close(&self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
        }
    }
}

/// Why the store could not do what was asked.
#[derive(Debug)]
pub enum StoreError {
    /// The URL names no store drumbeat knows how to open.
    BadUrl { url: String, reason: String },
    /// A kind of store the design plans for but this version does not have.
    NotSupported { what: &'static str },
    /// The store was written by a newer drumbeat.
    SchemaTooNew {
        location: String,
        found: i64,
        known: i64,
    },
    /// The database failed while doing something.
    Database {
        doing: &'static str,
        source: sqlx::Error,
    },
}

impl StoreError {
    pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { doing, source }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::BadUrl { url, reason } => {
                write!(f, "cannot use store `{url}`: {reason}")
            }
            StoreError::NotSupported { what } => write!(
                f,
                "{what} are not supported yet; use a SQLite store (sqlite://PATH, default {DEFAULT_URL})"
            ),
            StoreError::SchemaTooNew {
                location,
                found,
                known,
            } => write!(
                f,
                "the store {location} has schema version {found}, newer than this drumbeat \
                 ({}) understands (up to {known}); it was written by a newer drumbeat: \
                 upgrade drumbeat, or give another --store",
                env!("CARGO_PKG_VERSION")
            ),
            StoreError::Database { doing, source } => {
                write!(f, "store failed while {doing}: {source}")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Database { source, .. } => Some(source),
            _ => None,
        }
    }
}
