//! Local wall-clock time to instants, with the language's DST rules.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant of a fixed local time: a time that occurs twice (fall back) resolves to its
/// first occurrence; a time that does not exist (spring forward) to the first instant after
/// the gap, which is the transition instant itself.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => gap_end(tz, local),
    }
}

/// Every instant whose wall-clock time is `local`: none in a gap, two in a repeated hour.
pub fn all_instants(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            vec![a.min(b), a.max(b)]
        }
        LocalResult::None => Vec::new(),
    }
}

/// The transition instant that ends the gap containing `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Gaps are at most a few hours. Search forward minute by minute for the first local time
    // that exists; the instant it maps to (taking the earliest) is the transition.
    let mut probe = local;
    for _ in 0..(26 * 60) {
        probe += chrono::Duration::minutes(1);
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => {
                let after = t.with_timezone(&Utc);
                // `probe` is the first minute after the gap; the transition is the instant
                // whose local time is the gap's end, which precedes `after` by the minutes
                // between the gap's end and `probe`. The gap ends on a whole minute.
                return transition_before(tz, after);
            }
            LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
            LocalResult::None => {}
        }
    }
    // Unreachable for real zones; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&local)
}

/// The last offset change at or before `t` (within the previous minute), found by bisection
/// on the UTC offset.
fn transition_before(tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Offset;
    let offset_at = |u: DateTime<Utc>| tz.offset_from_utc_datetime(&u.naive_utc()).fix();
    let target = offset_at(t);
    let mut lo = t - chrono::Duration::hours(27);
    let mut hi = t;
    if offset_at(lo) == target {
        return t;
    }
    while hi - lo > chrono::Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid) == target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
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
