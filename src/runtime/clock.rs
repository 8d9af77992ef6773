//! The runtime's sense of time, behind a trait so tests and rehearsals control it.

use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// The future [`Clock::sleep_until`] returns.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the runtime reads the current instant and waits for a later one.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Completes at `at` on this clock (at once when `at` has passed).
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep;

    /// How long `span` of this clock's time takes in real time: a rehearsal at `--speed
    /// 60000` that is a few milliseconds late on a busy machine is minutes late on its own
    /// clock, and has missed nothing.
    fn in_real_time(&self, span: TimeDelta) -> TimeDelta {
        span
    }

    /// How long `real` time lasts on this clock: the inverse of [`Clock::in_real_time`].
    fn span_of_real(&self, real: std::time::Duration) -> TimeDelta {
        TimeDelta::from_std(real).unwrap_or(TimeDelta::MAX)
    }
}

/// The longest real sleep in one go: a wall clock that jumps (NTP, a suspended machine)
/// is noticed within this much.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        Box::pin(async move {
            loop {
                let left = at - Utc::now();
                if left <= TimeDelta::zero() {
                    return;
                }
                let left = left.to_std().unwrap_or_default().min(MAX_SLEEP);
                tokio::time::sleep(left).await;
            }
        })
    }
}

/// A clock that starts at a chosen instant and runs `speed` times faster than real time:
/// `drumbeat run --start-at T --speed N` rehearses a day in minutes, and tests run hours
/// of schedule in seconds.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    start: DateTime<Utc>,
    origin: Instant,
    speed: f64,
}

impl ScaledClock {
    /// `speed` below 1 slows time down; it must be positive.
    pub fn new(start: DateTime<Utc>, speed: f64) -> ScaledClock {
        ScaledClock {
            start,
            origin: Instant::now(),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = self.origin.elapsed().as_secs_f64();
        let micros = (real * self.speed * 1e6) as i64;
        self.start + TimeDelta::microseconds(micros)
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let clock = *self;
        Box::pin(async move {
            let left = at - clock.now();
            if left <= TimeDelta::zero() {
                return;
            }
            let real = left.to_std().unwrap_or_default().as_secs_f64() / clock.speed;
            // Round up so that on waking the instant has been reached.
            tokio::time::sleep(std::time::Duration::from_secs_f64(real + 1e-6)).await;
        })
    }

    fn in_real_time(&self, span: TimeDelta) -> TimeDelta {
        TimeDelta::microseconds(
            (span.num_microseconds().unwrap_or(i64::MAX) as f64 / self.speed) as i64,
        )
    }

    fn span_of_real(&self, real: std::time::Duration) -> TimeDelta {
        TimeDelta::microseconds((real.as_secs_f64() * self.speed * 1e6) as i64)
    }
}

/// A clock that moves only when told: a test sets the instant, and whatever sleeps until
/// then wakes. Real time does not move it, so what the daemon does at each instant is the
/// same on a loaded machine as on an idle one.
#[derive(Debug)]
pub struct ManualClock {
    now: tokio::sync::watch::Sender<DateTime<Utc>>,
    /// The instants sleepers wait for, with how many wait for each.
    sleepers: std::sync::Mutex<std::collections::BTreeMap<DateTime<Utc>, usize>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> std::sync::Arc<ManualClock> {
        std::sync::Arc::new(ManualClock {
            now: tokio::sync::watch::Sender::new(start),
            sleepers: std::sync::Mutex::default(),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    /// Moves the clock to `at`; an instant already passed leaves it where it is (time
    /// never runs backwards).
    pub fn set(&self, at: DateTime<Utc>) {
        self.now.send_if_modified(|now| {
            let later = at > *now;
            if later {
                *now = at;
            }
            later
        });
    }

    pub fn advance(&self, by: TimeDelta) {
        self.set(self.now() + by);
    }

    /// The earliest instant something sleeps until, later than now.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        let now = self.now();
        let sleepers = self.sleepers.lock().expect("sleepers lock");
        sleepers
            .range(now..)
            .map(|(at, _)| *at)
            .find(|at| *at > now)
    }
}

/// Counts a sleeper for as long as it waits (dropped with the sleep, woken or not).
struct Sleeper {
    clock: std::sync::Arc<ManualClock>,
    at: DateTime<Utc>,
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let mut sleepers = self.clock.sleepers.lock().expect("sleepers lock");
        if let Some(n) = sleepers.get_mut(&self.at) {
            *n -= 1;
            if *n == 0 {
                sleepers.remove(&self.at);
            }
        }
    }
}

impl Clock for std::sync::Arc<ManualClock> {
    fn now(&self) -> DateTime<Utc> {
        ManualClock::now(self)
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let mut now = self.now.subscribe();
        let clock = self.clone();
        Box::pin(async move {
            if *now.borrow() >= at {
                return;
            }
            *clock
                .sleepers
                .lock()
                .expect("sleepers lock")
                .entry(at)
                .or_default() += 1;
            let _sleeper = Sleeper { clock, at };
            // The sender lives in the clock this future holds, so the wait ends only at `at`.
            let _ = now.wait_for(|now| *now >= at).await;
        })
    }

    /// Real time does not move this clock: a channel's answer comes at the clock's now.
    fn span_of_real(&self, _real: std::time::Duration) -> TimeDelta {
        TimeDelta::zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scaled_clock_starts_where_told_and_runs_faster() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T07:59:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ScaledClock::new(start, 600.0);
        assert!(clock.now() - start < TimeDelta::seconds(5));
        // Ten simulated seconds take about 17 real milliseconds.
        let target = start + TimeDelta::seconds(10);
        clock.sleep_until(target).await;
        assert!(clock.now() >= target);
        assert!(clock.now() - target < TimeDelta::seconds(60));
    }

    #[test]
    fn a_span_of_a_scaled_clock_lasts_speed_times_less_in_real_time() {
        let start = DateTime::UNIX_EPOCH;
        let clock = ScaledClock::new(start, 60_000.0);
        assert_eq!(
            clock.in_real_time(TimeDelta::minutes(10)),
            TimeDelta::milliseconds(10)
        );
        assert_eq!(
            SystemClock.in_real_time(TimeDelta::minutes(10)),
            TimeDelta::minutes(10)
        );
        let slow = ScaledClock::new(start, 0.5);
        assert_eq!(
            slow.in_real_time(TimeDelta::seconds(3)),
            TimeDelta::seconds(6)
        );
    }

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_only_when_set_past_their_instant() {
        let start = DateTime::UNIX_EPOCH;
        let clock = ManualClock::new(start);
        let at = start + TimeDelta::minutes(5);
        let sleep = tokio::spawn(clock.sleep_until(at));
        while clock.next_wake().is_none() {
            tokio::task::yield_now().await;
        }
        assert_eq!(clock.next_wake(), Some(at));
        clock.advance(TimeDelta::minutes(4));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!sleep.is_finished(), "woke a minute early");
        clock.set(start);
        assert_eq!(
            clock.now(),
            start + TimeDelta::minutes(4),
            "never backwards"
        );
        clock.advance(TimeDelta::minutes(1));
        sleep.await.unwrap();
        assert_eq!(
            clock.next_wake(),
            None,
            "a woken sleeper is no longer counted"
        );
        assert_eq!(
            clock.span_of_real(std::time::Duration::from_secs(9)),
            TimeDelta::zero()
        );
    }
}
