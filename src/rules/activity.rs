//! What a member has been doing lately: the numbers behind `stats`.

use super::member::Member;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeSet, VecDeque};

/// How far back activity is kept: the longest window a stat looks at.
const KEEP: TimeDelta = TimeDelta::days(30);

/// A member's recent messages, replies and check-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Instants of messages, oldest first, within 30 days of the newest.
    messages: VecDeque<DateTime<Utc>>,
    replies: VecDeque<DateTime<Utc>>,
    checkins: VecDeque<DateTime<Utc>>,
    checkins_total: u64,
    /// Every local day with a check-in: the `streak` stat counts them.
    checkin_days: BTreeSet<NaiveDate>,
}

impl Activity {
    pub fn message(&mut self, at: DateTime<Utc>, reply: bool) {
        insert(&mut self.messages, at);
        if reply {
            insert(&mut self.replies, at);
        }
    }

    /// A check-in at `at`, on local day `day`.
    pub fn checkin(&mut self, at: DateTime<Utc>, day: NaiveDate) {
        insert(&mut self.checkins, at);
        self.checkins_total += 1;
        self.checkin_days.insert(day);
    }

    /// The run of consecutive local days with a check-in ending `today`, or yesterday when
    /// today has none yet (a run not yet continued today still counts).
    pub fn streak(&self, today: NaiveDate) -> u32 {
        let mut day = if self.checkin_days.contains(&today) {
            today
        } else {
            match today.pred_opt() {
                Some(y) if self.checkin_days.contains(&y) => y,
                _ => return 0,
            }
        };
        let mut n = 1;
        while let Some(prev) = day.pred_opt()
            && self.checkin_days.contains(&prev)
        {
            n += 1;
            day = prev;
        }
        n
    }
}

/// Inserts in order (events may arrive late) and drops what is older than the window.
fn insert(q: &mut VecDeque<DateTime<Utc>>, at: DateTime<Utc>) {
    let pos = q.partition_point(|t| *t <= at);
    q.insert(pos, at);
    if let Some(newest) = q.back().copied() {
        while q.front().is_some_and(|t| newest - *t > KEEP) {
            q.pop_front();
        }
    }
}

fn within(q: &VecDeque<DateTime<Utc>>, now: DateTime<Utc>, days: i64) -> u64 {
    let since = now - TimeDelta::days(days);
    q.iter().filter(|t| **t > since && **t <= now).count() as u64
}

/// The `stats` every member-facing template and condition sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub messages_7d: u64,
    pub messages_30d: u64,
    pub checkins_7d: u64,
    pub checkins_total: u64,
    pub streak: u32,
    pub replies_7d: u64,
    pub points: i64,
    pub days_in_group: i64,
    pub days_since_active: i64,
}

impl Stats {
    /// The stats at `now`, counting local days in `tz`.
    pub fn at(
        member: &Member,
        activity: &Activity,
        points: i64,
        streak: u32,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Stats {
        let day = |t: DateTime<Utc>| -> NaiveDate { t.with_timezone(&tz).date_naive() };
        let days_between =
            |from: Option<DateTime<Utc>>| from.map_or(0, |f| (day(now) - day(f)).num_days().max(0));
        let checkin_days: BTreeSet<NaiveDate> = activity
            .checkins
            .iter()
            .filter(|t| **t > now - TimeDelta::days(7) && **t <= now)
            .map(|t| day(*t))
            .collect();
        Stats {
            messages_7d: within(&activity.messages, now, 7),
            messages_30d: within(&activity.messages, now, 30),
            checkins_7d: checkin_days.len() as u64,
            checkins_total: activity.checkins_total,
            streak,
            replies_7d: within(&activity.replies, now, 7),
            points,
            days_in_group: days_between(member.joined_at),
            days_since_active: days_between(member.last_active.or(member.joined_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_streak_counts_local_days_and_one_missed_day_breaks_it() {
        let mut a = Activity::default();
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let at = |d| Utc.with_ymd_and_hms(2026, 12, d, 1, 0, 0).unwrap();
        for d in (1..=21).filter(|d| *d != 7) {
            a.checkin(at(d), day(d));
        }
        assert_eq!(a.streak(day(21)), 14);
        // Not yet today: yesterday's run still counts; two days on, it is over.
        assert_eq!(a.streak(day(22)), 14);
        assert_eq!(a.streak(day(23)), 0);
        assert_eq!(a.streak(day(6)), 6);
    }
}
