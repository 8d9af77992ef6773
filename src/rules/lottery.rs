//! Lotteries: who may win, and draws reproducible from a recorded seed.

use super::engine::{self, State};
use super::member::Status;
use crate::compile::{ConditionFailed, Program};
use crate::playbook::model::Lottery;
use chrono::{DateTime, Utc};

/// Whether a member may win lottery `l` drawn at `at`: a member of the community, and its
/// `eligible` condition (when it has one) holds for them then. A condition that fails to
/// evaluate does not hold, and is added to `problems`.
pub fn is_eligible(
    program: &Program,
    l: &Lottery,
    state: &State,
    at: DateTime<Utc>,
    problems: &mut Vec<ConditionFailed>,
) -> bool {
    if state.member.status != Status::Member {
        return false;
    }
    match program.lottery_condition_of(l.id.value.as_str()) {
        None => true,
        Some(condition) => {
            let ctx = engine::context(program, state, at, problems);
            engine::holds(program, condition, &ctx, problems)
        }
    }
}

/// Draws `wanted` winners from `eligible` (in the given order) with `seed`: a partial
/// Fisher–Yates shuffle driven by SplitMix64, so the same seed and list always give the
/// same winners, on any machine. Fewer eligible than wanted: all of them win.
pub fn draw(eligible: &[String], wanted: u32, seed: u64) -> Vec<String> {
    let mut pool: Vec<&String> = eligible.iter().collect();
    let mut state = seed;
    let n = (wanted as usize).min(pool.len());
    for i in 0..n {
        let left = (pool.len() - i) as u64;
        // Multiply-shift keeps the pick unbiased enough for a few thousand members and is
        // the same everywhere.
        let pick = i + ((u128::from(next(&mut state)) * u128::from(left)) >> 64) as usize;
        pool.swap(i, pick);
    }
    pool.into_iter().take(n).cloned().collect()
}

fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn people(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u-{i}")).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_winners() {
        let a = draw(&people(50), 3, 42);
        assert_eq!(a, draw(&people(50), 3, 42));
        assert_ne!(a, draw(&people(50), 3, 43));
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn fewer_eligible_than_winners_all_win() {
        let mut won = draw(&people(2), 5, 7);
        won.sort();
        assert_eq!(won, ["u-0", "u-1"]);
        assert!(draw(&[], 3, 7).is_empty());
    }

    proptest! {
        #[test]
        fn winners_are_distinct_eligible_members(n in 0usize..60, wanted in 0u32..10, seed: u64) {
            let pool = people(n);
            let won = draw(&pool, wanted, seed);
            prop_assert_eq!(won.len(), (wanted as usize).min(n));
            let distinct: std::collections::HashSet<_> = won.iter().collect();
            prop_assert_eq!(distinct.len(), won.len());
            prop_assert!(won.iter().all(|w| pool.contains(w)));
        }
    }
}
