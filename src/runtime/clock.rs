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
}
