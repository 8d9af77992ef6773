//! Local wall-clock time to instants, with the language's DST rules.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant of a fixed local time: a time that occurs twice (fall back) resolves to its
/// first occurrence; a time that does not exist (spring forward) to the first instant after
/// the gap, which is the transition instant itself.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    resolve_local_tz(tz, local).with_timezone(&Utc)
}

/// [`resolve_local`], keeping the zone's offset at that instant.
pub fn resolve_local_tz(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(a, b) => a.min(b),
        LocalResult::None => gap_end(tz, local),
    }
}

/// Every instant whose wall-clock time is `local`: none in a gap, two in a repeated hour.
pub fn all_instants(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    let mut out = Vec::with_capacity(2);
    each_instant(tz, local, |t| out.push(t.with_timezone(&Utc)));
    out
}

/// Calls `f` with every instant whose wall-clock time is `local`, earliest first.
pub fn each_instant(tz: Tz, local: NaiveDateTime, mut f: impl FnMut(DateTime<Tz>)) {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => f(t),
        LocalResult::Ambiguous(a, b) => {
            f(a.min(b));
            f(a.max(b));
        }
        LocalResult::None => {}
    }
}

/// The transition instant that ends the gap containing `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    if let Some(end) = chrono_tz::GapInfo::new(&local, &tz).and_then(|g| g.end) {
        return end;
    }
    // Only reached past the ends of the zone's table. Gaps are at most a few hours: search
    // forward minute by minute for the first local time that exists.
    let mut probe = local;
    for _ in 0..(26 * 60) {
        probe += chrono::Duration::minutes(1);
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t,
            LocalResult::Ambiguous(a, b) => return a.min(b),
            LocalResult::None => {}
        }
    }
    // Unreachable for real zones; fall back to reading the time as UTC.
    tz.from_utc_datetime(&local)
}

/// The local date of an instant.
pub fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// `d` plus `n` calendar days.
pub fn add_days(d: NaiveDateTime, n: u32) -> NaiveDateTime {
    d.checked_add_days(Days::new(n as u64)).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn spring_forward_gap_fires_at_the_transition() {
        // 2026-03-08 02:30 does not exist in New York; clocks jump from 02:00 EST to 03:00 EDT.
        let t = resolve_local(chrono_tz::America::New_York, local(2026, 3, 8, 2, 30));
        assert_eq!(t.to_rfc3339(), "2026-03-08T07:00:00+00:00");
    }

    #[test]
    fn fall_back_overlap_fires_at_first_occurrence() {
        // 2026-11-01 01:30 happens twice in New York: first at EDT (05:30 UTC).
        let t = resolve_local(chrono_tz::America::New_York, local(2026, 11, 1, 1, 30));
        assert_eq!(t.to_rfc3339(), "2026-11-01T05:30:00+00:00");
        assert_eq!(
            all_instants(chrono_tz::America::New_York, local(2026, 11, 1, 1, 30)).len(),
            2
        );
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // Lord Howe moves from +10:30 to +11:00 at 02:00 local on 2026-10-04.
        let t = resolve_local(chrono_tz::Australia::Lord_Howe, local(2026, 10, 4, 2, 15));
        assert_eq!(t.to_rfc3339(), "2026-10-03T15:30:00+00:00");
        assert!(
            all_instants(chrono_tz::Australia::Lord_Howe, local(2026, 10, 4, 2, 15)).is_empty()
        );
    }
}
