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
}

impl Activity {
    pub fn message(&mut self, at: DateTime<Utc>, reply: bool) {
        insert(&mut self.messages, at);
        if reply {
            insert(&mut self.replies, at);
        }
    }

    pub fn checkin(&mut self, at: DateTime<Utc>) {
        insert(&mut self.checkins, at);
        self.checkins_total += 1;
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
