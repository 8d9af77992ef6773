//! How fast a channel may be sent to, and how long to wait before trying again.

use crate::playbook::types::RateLimit;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::VecDeque;

/// A channel's pace: at most `count` sends in any window of `per`, and, when the
/// platform also caps bursts, at most `burst` in any one second.
///
/// A sliding window rather than a plain token bucket: platforms count messages per window
/// (20 a minute for a WeCom group bot), and a full bucket plus its refill would let through
/// up to twice the limit in one window and get the bot throttled.
///
/// The platform counts on its own clock, when a request reaches it, which is some time
/// after the request left. So each send is kept in the window from the moment it was
/// answered ([`Pace::done`]), when the platform has surely counted it, and windows are a
/// little longer than the platform's ([`margin`]).
#[derive(Debug, Clone)]
pub struct Pace {
    count: usize,
    per: TimeDelta,
    burst: Option<usize>,
    /// Instants of the latest sends, oldest first (at most `count` of them): when each
    /// started, or once answered, when it was answered.
    sent: VecDeque<DateTime<Utc>>,
}

impl Pace {
    pub fn new(limit: RateLimit, burst: Option<u32>) -> Pace {
        let count = limit.count.max(1) as usize;
        Pace {
            count,
            per: TimeDelta::seconds(i64::from(limit.per_secs.max(1))),
            burst: burst
                .map(|b| b.max(1) as usize)
                .filter(|b| *b < count && limit.per_secs > 1),
            sent: VecDeque::with_capacity(count.min(1024)),
        }
    }

    /// The limit this pace keeps.
    pub fn limit(&self) -> (usize, TimeDelta, Option<usize>) {
        (self.count, self.per, self.burst)
    }

    /// The earliest instant at or after `now` when one more send keeps within the pace.
    pub fn next_free(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut at = now;
        if self.sent.len() >= self.count {
            let oldest = self.sent[self.sent.len() - self.count];
            at = at.max(oldest + self.per + margin(self.per));
        }
        if let Some(b) = self.burst
            && self.sent.len() >= b
        {
            let oldest = self.sent[self.sent.len() - b];
            let second = TimeDelta::seconds(1);
            at = at.max(oldest + second + margin(second));
        }
        at
    }

    /// Notes that the latest send was answered at `at`: it stays in the window from then.
    pub fn done(&mut self, at: DateTime<Utc>) {
        if let Some(last) = self.sent.back_mut() {
            *last = (*last).max(at);
        }
    }

    /// Notes a send started at `at` (not before [`Pace::next_free`]).
    pub fn take(&mut self, at: DateTime<Utc>) {
        self.sent.push_back(at);
        while self.sent.len() > self.count {
            self.sent.pop_front();
        }
    }
}

/// What each window is stretched by, for the platform's clock and jitter in counting: a
/// hundredth of the window, and at least 100 ms.
fn margin(per: TimeDelta) -> TimeDelta {
    (per / 100).max(TimeDelta::milliseconds(100))
}

/// When to try again after a failed attempt, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last the row is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failure; each later wait doubles, up to `max_delay`.
    pub base: TimeDelta,
    pub max_delay: TimeDelta,
    /// The longest `Retry-After` honoured; a platform asking for more gets this.
    pub max_retry_after: TimeDelta,
}

impl Default for RetryPolicy {
    /// Twelve attempts over about forty minutes: 2 s, 4 s, ... 512 s, then 10 minutes.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 12,
            base: TimeDelta::seconds(2),
            max_delay: TimeDelta::minutes(10),
            max_retry_after: TimeDelta::hours(1),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1 for the first) of fire `key`:
    /// exponential, with jitter between half and all of it. The jitter is drawn from the
    /// key and the attempt, so many fires failing together spread out, yet a given fire
    /// always waits the same (tests and replays see the same schedule).
    pub fn backoff(&self, attempt: u32, key: &str) -> TimeDelta {
        let doublings = attempt.saturating_sub(1).min(30);
        let full = self
            .base
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let fraction = 0.5 + 0.5 * unit_hash(key, attempt);
        TimeDelta::milliseconds((full.num_milliseconds() as f64 * fraction) as i64)
    }

    /// When the next attempt goes, given the platform's own request if it made one.
    pub fn next_attempt(
        &self,
        attempt: u32,
        key: &str,
        retry_after: Option<std::time::Duration>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let wait = match retry_after {
            Some(d) => TimeDelta::from_std(d)
                .unwrap_or(self.max_retry_after)
                .min(self.max_retry_after),
            None => self.backoff(attempt, key),
        };
        now + wait
    }

    /// Whether attempt number `attempt` was the last one allowed.
    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }
}

/// A number in [0, 1) from a key and an attempt (FNV-1a; stable across builds).
fn unit_hash(key: &str, attempt: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn per_min(count: u32) -> RateLimit {
        RateLimit {
            count,
            per_secs: 60,
        }
    }

    #[test]
    fn twenty_a_minute_lets_twenty_through_then_waits_for_the_window() {
        let mut pace = Pace::new(per_min(20), None);
        for _ in 0..20 {
            assert_eq!(pace.next_free(t(0)), t(0));
            pace.take(t(0));
        }
        // The window, plus its margin of a hundredth.
        let then = t(60) + TimeDelta::milliseconds(600);
        assert_eq!(pace.next_free(t(0)), then);
        assert_eq!(pace.next_free(t(30)), then);
    }

    #[test]
    fn a_send_counts_from_when_it_was_answered() {
        let mut pace = Pace::new(per_min(1), None);
        pace.take(t(0));
        pace.done(t(5));
        assert_eq!(pace.next_free(t(0)), t(65) + TimeDelta::milliseconds(600));
    }

    #[test]
    fn a_burst_cap_spreads_sends_over_seconds() {
        // Feishu: 100 a minute, 5 a second.
        let mut pace = Pace::new(per_min(100), Some(5));
        let mut now = t(0);
        let mut starts = Vec::new();
        for _ in 0..12 {
            now = pace.next_free(now);
            pace.take(now);
            starts.push((now - t(0)).num_seconds());
        }
        assert_eq!(starts, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 1..=12 {
            let full = (2i64 << (attempt - 1).min(30)).min(600) * 1000;
            let got = p.backoff(attempt, "club/content/morning/wecom/20261201T000000Z");
            assert!(
                got.num_milliseconds() >= full / 2,
                "attempt {attempt}: {got}"
            );
            assert!(got.num_milliseconds() <= full, "attempt {attempt}: {got}");
        }
        assert!(!p.exhausted(11));
        assert!(p.exhausted(12));
    }

    #[test]
    fn retry_after_is_honoured_up_to_its_cap() {
        let p = RetryPolicy::default();
        let secs = std::time::Duration::from_secs;
        assert_eq!(p.next_attempt(1, "k", Some(secs(7)), t(0)), t(7));
        assert_eq!(p.next_attempt(1, "k", Some(secs(86_400)), t(0)), t(3600));
    }

    #[test]
    fn different_fires_wait_different_times() {
        let p = RetryPolicy::default();
        let waits: std::collections::HashSet<i64> = (0..50)
            .map(|i| p.backoff(3, &format!("fire-{i}")).num_milliseconds())
            .collect();
        assert!(waits.len() > 40, "jitter spreads retries: {waits:?}");
    }

    proptest! {
        /// However long each request takes to reach the platform, and whenever within that
        /// the platform counts it, no window of the platform's holds more than the limit.
        #[test]
        fn no_window_at_the_platform_holds_more_than_the_limit(
            count in 1u32..20,
            per in 1u32..120,
            sends in proptest::collection::vec((0i64..3000, 0i64..2000, 0u32..=100), 1..150),
        ) {
            let mut pace = Pace::new(RateLimit { count, per_secs: per }, None);
            let mut now = t(0);
            let mut counted = Vec::new();
            for (gap, took, share) in sends {
                now = pace.next_free(now + TimeDelta::milliseconds(gap));
                pace.take(now);
                let answered = now + TimeDelta::milliseconds(took);
                counted.push(now + TimeDelta::milliseconds(took * i64::from(share) / 100));
                pace.done(answered);
                now = answered;
            }
            counted.sort();
            let per = TimeDelta::seconds(i64::from(per));
            for (i, c) in counted.iter().enumerate() {
                let in_window = counted[i..].iter().take_while(|x| **x < *c + per).count();
                prop_assert!(in_window <= count as usize);
            }
        }

        /// Sends started whenever the pace allows never exceed the limit in any window.
        #[test]
        fn no_window_holds_more_than_the_limit(
            count in 1u32..30,
            per in 1u32..120,
            burst in proptest::option::of(1u32..10),
            arrivals in proptest::collection::vec(0i64..5, 1..200),
        ) {
            let limit = RateLimit { count, per_secs: per };
            let mut pace = Pace::new(limit, burst);
            let (count, per, burst) = pace.limit();
            let mut now = t(0);
            let mut starts = Vec::new();
            for gap in arrivals {
                now = pace.next_free(now + TimeDelta::seconds(gap));
                pace.take(now);
                starts.push(now);
            }
            for (i, s) in starts.iter().enumerate() {
                let in_window = starts[i..].iter().take_while(|x| **x < *s + per).count();
                prop_assert!(in_window <= count);
                if let Some(b) = burst {
                    let in_second = starts[i..]
                        .iter()
                        .take_while(|x| **x < *s + TimeDelta::seconds(1))
                        .count();
                    prop_assert!(in_second <= b);
                }
            }
        }
    }
}
