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
//! What a store does is split into roles ([`Outbox`], [`RunMarks`], [`EventLog`],
//! [`Members`], [`Ledger`], [`Draws`], [`PlaybookArchive`], …; [`Store`] is all of them),
//! each written once per backend with that backend's SQL. The code that uses a store is
//! generic over it, and the backend is chosen from the URL once, by `with_backend!`:
//! `sqlite://PATH` today; `postgres://` has a place in the design (the same operations map
//! to `INSERT .. ON CONFLICT DO NOTHING` for records and `UPDATE .. WHERE id IN (SELECT ..
//! FOR UPDATE SKIP LOCKED)` for claims) and is refused with a clear message until it exists.

pub mod members;
mod roles;
mod sqlite;

pub use roles::{
    Draws, EventLog, Ledger, Lifecycle, Members, Outbox, OutboxStatus, PlaybookArchive, RunMarks,
    Store, StoreInfo, Todos,
};
pub use sqlite::SqliteStore;

use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;
use std::path::PathBuf;

use crate::plan::Fire;

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
    /// The channel accepted the message at `at` (its `sent_at`, however later the result
    /// is recorded); `answer` is what it said (kept for `status`).
    Sent { answer: String, at: DateTime<Utc> },
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

/// What [`Outbox::claim_queues`] handed out.
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

/// A queue with rows still to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveQueue {
    pub queue: Queue,
    /// When its head is due.
    pub due: DateTime<Utc>,
}

/// A message an event or a daily job caused (not the schedule): it counts against its
/// channel's `daily_limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausedMessage {
    pub community: String,
    /// The channel it is for (for a to-do, the assisted channel).
    pub channel: String,
    /// When it was due.
    pub at: DateTime<Utc>,
}

/// Where the engine stopped for one mark: a community, or one of its own jobs (draws,
/// daily jobs) under a name of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMark {
    pub name: String,
    pub at: DateTime<Utc>,
}

/// A community's playbook as kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPlaybook {
    pub community: String,
    /// The file it was loaded from.
    pub path: String,
    /// Its text.
    pub source: String,
}

/// Runs `$run` with the type `$S` set to the backend `$url` names: the one place a backend
/// is chosen, so everything else is generic over `S: Store` and no store forwards its
/// operations to another. A URL no backend takes (a malformed one, or `postgres://` until
/// that store exists) goes to SQLite's, whose [`Lifecycle::open`] refuses it with the reason.
macro_rules! with_backend {
    ($url:expr, $S:ident => $run:expr) => {
        match $crate::store::StoreUrl::parse($url) {
            Ok($crate::store::StoreUrl::Sqlite { .. } | $crate::store::StoreUrl::Postgres)
            | Err(_) => {
                type $S = $crate::store::SqliteStore;
                $run
            }
        }
    };
}
pub(crate) use with_backend;

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
