//! Points, streak bonuses and tiers.

use crate::playbook::model::{PointsRule, Rewards, Streak, Tier};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};

/// Why points were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Points rule number `rule` (0-based, in playbook order) for an event of type `on`.
    Points { rule: usize, on: String },
    /// Streak rule number `rule`: `days` consecutive local days of `on`, ending `day`.
    Streak {
        rule: usize,
        on: String,
        days: u32,
        day: NaiveDate,
    },
}

/// Points the rules give for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    pub points: i64,
    pub reason: Reason,
}

/// What the rules remember of one member to judge the next event: derived from the
/// member's events and ledger, never stored on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// The balance: the sum of every award (and opening or manual entries).
    pub balance: i64,
    /// Per points rule, the event instants that earned, and how many earned per local day.
    earned: BTreeMap<usize, Earned>,
    /// Per streak rule, the local days with the event, and the days a bonus was given on.
    days: BTreeMap<usize, StreakDays>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Earned {
    at: BTreeSet<DateTime<Utc>>,
    per_day: BTreeMap<NaiveDate, u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct StreakDays {
    days: BTreeSet<NaiveDate>,
    bonus_on: BTreeSet<NaiveDate>,
}

impl Ledger {
    /// Applies one event of type `kind` at `at`: the points it earns under each rule that
    /// names its type, and any streak bonus it completes.
    pub fn apply(
        &mut self,
        rewards: &Rewards,
        tz: Tz,
        kind: &str,
        at: DateTime<Utc>,
    ) -> Vec<Award> {
        let mut out = Vec::new();
        let day = at.with_timezone(&tz).date_naive();
        for (i, rule) in rewards.points.iter().enumerate() {
            if rule.on.value == kind && self.earns(i, rule, at, day) {
                let e = self.earned.entry(i).or_default();
                e.at.insert(at);
                *e.per_day.entry(day).or_default() += 1;
                out.push(Award {
                    points: rule.points,
                    reason: Reason::Points {
                        rule: i,
                        on: kind.to_string(),
                    },
                });
            }
        }
        for (i, streak) in rewards.streaks.iter().enumerate() {
            if streak.on.value == kind {
                out.extend(self.streak(i, streak, day));
            }
        }
        self.balance += out.iter().map(|a| a.points).sum::<i64>();
        out
    }

    /// Adds points that no rule gave (an opening balance, a correction).
    pub fn credit(&mut self, points: i64) {
        self.balance += points;
    }

    fn earns(&self, i: usize, rule: &PointsRule, at: DateTime<Utc>, day: NaiveDate) -> bool {
        let Some(e) = self.earned.get(&i) else {
            return true;
        };
        if let Some(limit) = rule.per_day
            && e.per_day.get(&day).copied().unwrap_or(0) >= limit
        {
            return false;
        }
        if let Some(cooldown) = rule.cooldown {
            let gap = TimeDelta::seconds(cooldown.as_secs() as i64);
            // The nearest earning instants on either side, whatever order they came in.
            let before = e.at.range(..=at).next_back();
            let after = e.at.range(at..).next();
            if before.is_some_and(|b| at - *b < gap) || after.is_some_and(|a| *a - at < gap) {
                return false;
            }
        }
        true
    }

    /// Notes a day with the event; answers the bonus when the run of consecutive days it
    /// belongs to now reaches a multiple of `every` days for the first time.
    fn streak(&mut self, i: usize, streak: &Streak, day: NaiveDate) -> Option<Award> {
        let s = self.days.entry(i).or_default();
        if !s.days.insert(day) || streak.every == 0 {
            return None;
        }
        // The run through `day`.
        let mut start = day;
        while let Some(prev) = start.checked_sub_days(Days::new(1))
            && s.days.contains(&prev)
        {
            start = prev;
        }
        let mut end = day;
        while let Some(next) = end.checked_add_days(Days::new(1))
            && s.days.contains(&next)
        {
            end = next;
        }
        let length = (end - start).num_days() as u32 + 1;
        let reached = length / streak.every;
        // Bonuses already given inside this run (a late day may join two runs).
        let given = s.bonus_on.range(start..=end).count() as u32;
        if reached <= given {
            return None;
        }
        let days = reached * streak.every;
        let on_day = start + Days::new(u64::from(days - 1));
        s.bonus_on.insert(on_day);
        Some(Award {
            points: streak.bonus,
            reason: Reason::Streak {
                rule: i,
                on: streak.on.value.clone(),
                days,
                day: on_day,
            },
        })
    }
}

/// The tier a balance puts a member in: the highest whose `min` it reaches.
pub fn tier_of(levels: &[Tier], balance: i64) -> Option<&Tier> {
    levels.iter().rev().find(|t| balance >= t.min.value)
}

#[cfg(test)]
mod tests;
