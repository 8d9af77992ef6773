//! A member's state rebuilt from the store: their events replayed, their ledger summed.

use crate::compile::Program;
use crate::rules::engine::{self, Census, State};
use crate::store::{Store, StoreError};
use std::collections::{HashMap, HashSet};

/// Rebuilds a member's state by replaying their events; the stored member row is the
/// truth for who they are (admission depended on facts of its own moment).
pub async fn rebuild<S: Store>(
    store: &S,
    program: &Program,
    member: &str,
) -> Result<State, StoreError> {
    let p = program.playbook();
    let id = program.id();
    let mut state = State::new(id, member);
    for event in store.events_of(id, member).await? {
        // Conditions that fail were reported when the event was first applied.
        engine::apply(program, &mut state, &event, Census::default());
    }
    // Referral credits: lines in the ledger without an event of this member.
    let lines = store.ledger(id, member).await?;
    for line in &lines {
        if line.reason == "referral" {
            engine::credit_referral(p, &mut state, line.at);
        }
    }
    // The ledger's lines are the facts: a rule changed since gives its new points from the
    // change on, and never rewrites a balance.
    state.ledger.balance = lines.iter().map(|l| l.points).sum();
    if let Some(row) = store.member(id, member).await? {
        state.member = row;
    }
    Ok(state)
}

/// Rebuilds every member of a community at once: one read of its events, its ledger and
/// its members, replayed in memory (what `rebuild` does member by member).
pub async fn rebuild_all<S: Store>(
    store: &S,
    program: &Program,
) -> Result<HashMap<String, State>, StoreError> {
    let p = program.playbook();
    let id = program.id();
    let mut states: HashMap<String, State> = HashMap::new();
    for event in store.all_events(id).await? {
        let Some(member) = event.member.clone() else {
            continue;
        };
        let state = states
            .entry(member.clone())
            .or_insert_with(|| State::new(id, &member));
        engine::apply(program, state, &event, Census::default());
    }
    let mut sums: HashMap<String, i64> = HashMap::new();
    for line in store.all_ledger(id).await? {
        *sums.entry(line.member.clone()).or_default() += line.points;
        let state = states
            .entry(line.member.clone())
            .or_insert_with(|| State::new(id, &line.member));
        if line.reason == "referral" {
            engine::credit_referral(p, state, line.at);
        }
    }
    for (member, state) in states.iter_mut() {
        state.ledger.balance = sums.get(member).copied().unwrap_or(0);
    }
    let rows = store.members(id).await?;
    // Events and ledger lines of someone taken off the roster (`members remove`) stay;
    // they are not a member until an event of theirs comes again.
    let listed: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    states.retain(|member, _| listed.contains(member.as_str()));
    for row in rows {
        let key = row.id.clone();
        states
            .entry(key.clone())
            .or_insert_with(|| State::new(id, &key))
            .member = row;
    }
    Ok(states)
}
