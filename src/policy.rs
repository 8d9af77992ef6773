//! When a community may send, for scheduled messages and the messages members' events
//! cause alike: only on the days of `community.runs`, never inside `content.quiet_hours`,
//! and at most `content.daily_limit` planned messages a channel's local day, counting the
//! caused ones sent before them. The planner asks it about every fire, the intake about
//! every caused message, the scheduler which planned fires the caused ones crowd out.

use crate::playbook::Playbook;
use crate::playbook::model::Runs;
use crate::playbook::types::TimeWindow;
use crate::schedule::time::{local_date, resolve_local};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};

/// A community's sending policy, read once from its playbook.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    tz: Tz,
    runs: Runs,
    quiet: Option<TimeWindow>,
    daily_limit: Option<u32>,
}

impl Policy {
    pub fn of(p: &Playbook) -> Policy {
        Policy {
            tz: p.community.timezone,
            runs: p.community.runs.as_ref().map(|r| r.value).unwrap_or(Runs {
                from: None,
                until: None,
            }),
            quiet: p.content.quiet_hours.as_ref().map(|q| q.value),
            daily_limit: p.content.daily_limit,
        }
    }

    /// The days the community runs (both ends open when the playbook sets none).
    pub fn runs(&self) -> Runs {
        self.runs
    }

    pub fn daily_limit(&self) -> Option<u32> {
        self.daily_limit
    }

    /// Whether a message scheduled on local day `day` may go: inside `runs`.
    pub fn runs_on(&self, day: NaiveDate) -> bool {
        self.runs.contains(day)
    }

    /// Whether local time `t` falls inside the quiet hours.
    pub fn is_quiet(&self, t: NaiveTime) -> bool {
        self.quiet.is_some_and(|q| q.contains(t))
    }

    /// When a message caused at `at` (a welcome, a badge, a recall) goes out. Caused
    /// messages are owed, so they are held, not dropped: until `runs.from` begins if they
    /// came before it, then out of the quiet hours. One that would go after `runs.until`
    /// is not sent at all; the reason comes second.
    pub fn caused(&self, at: DateTime<Utc>) -> (DateTime<Utc>, Option<String>) {
        let mut at = at;
        if let Some(from) = self.runs.from
            && local_date(self.tz, at) < from
        {
            at = resolve_local(self.tz, from.and_time(NaiveTime::MIN));
        }
        let at = self.after_quiet_hours(at);
        match self.runs.until {
            Some(until) if local_date(self.tz, at) > until => (
                at,
                Some(format!(
                    "not sent: it came after the community's runs ended ({until}); nothing is \
                     sent outside `runs`"
                )),
            ),
            _ => (at, None),
        }
    }

    /// `at`, or the end of the quiet hours when `at` falls inside them.
    fn after_quiet_hours(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let Some(quiet) = self.quiet else {
            return at;
        };
        let local = at.with_timezone(&self.tz);
        if !quiet.contains(local.time()) {
            return at;
        }
        let mut end = local.date_naive().and_time(quiet.end.0);
        if end <= local.naive_local() {
            end = end.checked_add_days(Days::new(1)).unwrap_or(end);
        }
        resolve_local(self.tz, end)
    }

    /// The planned fires the daily limit no longer allows once the messages members'
    /// events caused are counted: the k-th planned fire of a channel's local day goes only
    /// if k plus the caused messages before it that day stay within the limit. `planned`
    /// are the fires the plan allowed (channel, instant, key), in order, from the start of
    /// their days; `caused` the caused messages (channel, instant). Caused messages are
    /// never held back themselves: they only count.
    pub fn crowded_out<'a>(
        &self,
        planned: impl IntoIterator<Item = (&'a str, DateTime<Utc>, String)>,
        caused: &[(String, DateTime<Utc>)],
    ) -> HashSet<String> {
        let mut out = HashSet::new();
        let Some(limit) = self.daily_limit else {
            return out;
        };
        if caused.is_empty() {
            return out;
        }
        let day_of = |t: DateTime<Utc>| local_date(self.tz, t);
        let mut seen: HashMap<(&str, NaiveDate), u32> = HashMap::new();
        for (channel, at, key) in planned {
            let day = day_of(at);
            let k = seen.entry((channel, day)).or_default();
            *k += 1;
            let before = caused
                .iter()
                .filter(|(ch, t)| ch == channel && day_of(*t) == day && *t < at)
                .count() as u32;
            if *k + before > limit {
                out.insert(key);
            }
        }
        out
    }
}

/// Planned messages counted against the daily limit, per channel (by index) and local day.
#[derive(Debug)]
pub struct DailyCounts {
    per_channel: Vec<Vec<(NaiveDate, u32)>>,
}

impl DailyCounts {
    pub fn new(channels: usize) -> Self {
        DailyCounts {
            per_channel: vec![Vec::new(); channels],
        }
    }

    /// Counts one more message of `channel` on `day` if `limit` allows it; answers whether
    /// it did.
    pub fn admit(&mut self, limit: u32, channel: usize, day: NaiveDate) -> bool {
        let days = &mut self.per_channel[channel];
        let pos = match days.iter().rposition(|(d, _)| *d == day) {
            Some(p) => p,
            None => {
                days.push((day, 0));
                days.len() - 1
            }
        };
        let count = &mut days[pos].1;
        if *count >= limit {
            return false;
        }
        *count += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::types::LocalTime;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Shanghai, runs 2026-12-01..2026-12-31, quiet 22:00-07:00, two planned a day.
    fn policy() -> Policy {
        let hm = |h, m| LocalTime(NaiveTime::from_hms_opt(h, m, 0).unwrap());
        Policy {
            tz: chrono_tz::Asia::Shanghai,
            runs: Runs {
                from: Some(d("2026-12-01")),
                until: Some(d("2026-12-31")),
            },
            quiet: Some(TimeWindow {
                start: hm(22, 0),
                end: hm(7, 0),
            }),
            daily_limit: Some(2),
        }
    }

    #[test]
    fn a_caused_message_waits_out_the_quiet_hours_across_midnight() {
        let p = policy();
        assert_eq!(
            p.caused(t("2026-12-05T23:30:00+08:00")),
            (t("2026-12-06T07:00:00+08:00"), None)
        );
        assert_eq!(
            p.caused(t("2026-12-06T06:59:00+08:00")),
            (t("2026-12-06T07:00:00+08:00"), None)
        );
        let awake = t("2026-12-06T07:00:00+08:00");
        assert_eq!(p.caused(awake), (awake, None));
    }

    #[test]
    fn a_caused_message_before_runs_waits_for_them_and_after_them_is_not_sent() {
        let p = policy();
        // Midnight of the first day is quiet too: out at 07:00.
        assert_eq!(
            p.caused(t("2026-11-20T12:00:00+08:00")),
            (t("2026-12-01T07:00:00+08:00"), None)
        );
        let (at, why) = p.caused(t("2026-12-31T23:00:00+08:00"));
        assert_eq!(at, t("2027-01-01T07:00:00+08:00"));
        assert!(why.unwrap().contains("runs ended (2026-12-31)"));
    }

    #[test]
    fn caused_messages_crowd_out_the_planned_ones_after_them_that_day() {
        let p = policy();
        let planned = [
            (
                "group",
                t("2026-12-05T08:00:00+08:00"),
                "morning".to_string(),
            ),
            (
                "group",
                t("2026-12-05T20:00:00+08:00"),
                "evening".to_string(),
            ),
            (
                "dm",
                t("2026-12-05T20:00:00+08:00"),
                "dm-evening".to_string(),
            ),
        ];
        // One caused message in the group at noon: the evening post is the third that day.
        let caused = [("group".to_string(), t("2026-12-05T12:00:00+08:00"))];
        let out = p.crowded_out(planned.iter().map(|(c, a, k)| (*c, *a, k.clone())), &caused);
        assert_eq!(out, HashSet::from(["evening".to_string()]));
        // Caused the day before: nothing crowded.
        let before = [("group".to_string(), t("2026-12-04T12:00:00+08:00"))];
        let out = p.crowded_out(planned.iter().map(|(c, a, k)| (*c, *a, k.clone())), &before);
        assert!(out.is_empty());
    }

    #[test]
    fn the_daily_limit_counts_per_channel_and_day() {
        let mut counts = DailyCounts::new(2);
        assert!(counts.admit(2, 0, d("2026-12-05")));
        assert!(counts.admit(2, 0, d("2026-12-05")));
        assert!(!counts.admit(2, 0, d("2026-12-05")));
        assert!(counts.admit(2, 1, d("2026-12-05")));
        assert!(counts.admit(2, 0, d("2026-12-06")));
    }
}
