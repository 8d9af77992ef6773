//! Activity phase windows: each phase starts at its `start` or when the one before it ends.

use crate::playbook::model::Activity;
use crate::playbook::types::Duration;
use crate::schedule::time::{add_days, resolve_local};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// A phase's window, start-inclusive and end-exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl PhaseWindow {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// The window of each phase, in order. `None` for a phase whose start cannot be known (the
/// first phase without `start`, which validation reports), and for every phase chained to it.
pub fn phase_windows(activity: &Activity, tz: Tz) -> Vec<Option<PhaseWindow>> {
    let mut out = Vec::with_capacity(activity.phases.len());
    let mut prev_end: Option<(DateTime<Utc>, NaiveDateTime)> = None;
    for phase in &activity.phases {
        let start_local = match (&phase.start, prev_end) {
            (Some(s), _) => Some(s.value),
            (None, Some((_, local))) => Some(local),
            (None, None) => None,
        };
        let Some(start_local) = start_local else {
            out.push(None);
            prev_end = None;
            continue;
        };
        let start = match (&phase.start, prev_end) {
            (None, Some((instant, _))) => instant,
            _ => resolve_local(tz, start_local),
        };
        let (end, end_local) = match phase.duration.value {
            Duration::Days(n) => {
                let l = add_days(start_local, n);
                (resolve_local(tz, l), l)
            }
            Duration::Seconds(s) => {
                let e = start + chrono::Duration::seconds(s as i64);
                (e, e.with_timezone(&tz).naive_local())
            }
        };
        out.push(Some(PhaseWindow { start, end }));
        prev_end = Some((end, end_local));
    }
    out
}
