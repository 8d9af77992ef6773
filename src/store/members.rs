//! The member side of the store: events taken in, members, the points ledger, offences and
//! milestones. Everything an event causes is written in one transaction with the event
//! itself, so an event is either applied whole or not at all.

use super::NewFire;
use crate::events::Event;
pub use crate::rules::member::{Member as MemberRow, Status};
use chrono::{DateTime, Utc};

/// One line of the points ledger. Lines are only ever added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub community: String,
    pub member: String,
    pub at: DateTime<Utc>,
    pub points: i64,
    /// What kind of line: `points`, `streak`, `referral`, `opening`, or `removed` (no
    /// points: the member was taken off the roster).
    pub reason: String,
    /// Which rule or what for, in words.
    pub detail: Option<String>,
    /// The event that caused it.
    pub event: Option<String>,
}

/// A member's points: the sum of their ledger lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub member: String,
    pub points: i64,
}

/// An offence against a group rule, and the penalty applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffenceLine {
    pub community: String,
    pub member: String,
    pub rule: String,
    /// The member's n-th offence against this rule (1 for the first).
    pub n: u32,
    /// Kept as `warn`, `mute 1h`, `remove`.
    pub penalty: crate::playbook::model::Penalty,
    /// What was done, kept as `warned`, `task` or `logged`.
    pub action: crate::rules::engine::Action,
    pub at: DateTime<Utc>,
    pub event: String,
}

/// Something that happens to a member once (`badge:kol`, `tier:regular`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    pub community: String,
    pub member: String,
    pub what: String,
    pub at: DateTime<Utc>,
}

/// Events and everything they caused, written together.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub events: Vec<Event>,
    /// Members as they are after the events (written whole).
    pub members: Vec<MemberRow>,
    pub ledger: Vec<LedgerLine>,
    pub offences: Vec<OffenceLine>,
    pub milestones: Vec<Milestone>,
    /// Messages the events caused (a welcome, a tier announcement), through the outbox.
    pub fires: Vec<NewFire>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.members.is_empty()
            && self.ledger.is_empty()
            && self.offences.is_empty()
            && self.milestones.is_empty()
            && self.fires.is_empty()
    }
}

/// A lottery draw, with what reproduces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    /// `community/lottery/instant`.
    pub id: String,
    pub community: String,
    pub lottery: String,
    pub at: DateTime<Utc>,
    pub seed: u64,
    pub wanted: u32,
    /// The eligible members, in the order drawn from.
    pub eligible: Vec<String>,
    pub winners: Vec<String>,
}
