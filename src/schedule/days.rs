//! Which local dates a slot fires on, and how many such dates lie in a span, without
//! walking the span day by day.

use crate::playbook::types::{Cron, Days};
use chrono::{Datelike, NaiveDate};

/// The day part of a schedule: `days` of an `at` slot, or the day, month and weekday fields
/// of a cron expression (with its day-of-month/day-of-week OR rule).
///
/// Most crons restrict only weekdays or only days of the month; those become plain tables,
/// which are quick to test and let whole months be counted without looking at each day.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DayRule<'a> {
    /// Weekdays (indexed by days from Monday) in some months (bit `m` for month `m`).
    Weekly { days: [bool; 7], months: u16 },
    /// Days of the month (bit `d` for day `d`) in some months.
    Monthly { days: u32, months: u16 },
    /// Anything else (`L`, `W`, `#`, or both day fields restricted): ask croner.
    Cron(&'a croner::CronPattern),
}

const ALL_MONTHS: u16 = 0b1_1111_1111_1110;

impl<'a> DayRule<'a> {
    pub fn weekly(days: &Days) -> Self {
        let mut w = [false; 7];
        for (i, slot) in w.iter_mut().enumerate() {
            *slot = days.includes(weekday_from_monday(i as u32));
        }
        DayRule::Weekly {
            days: w,
            months: ALL_MONTHS,
        }
    }

    /// The rule of a cron expression. croner decides the OR rule: it applies unless a day
    /// field is a bare `*` (a step such as `*/10` is a restriction), as the language says.
    /// With one day field a bare `*` and no `L`, `W` or `#` in the other, the answer for
    /// each weekday or day of the month is read once from croner into a table.
    pub fn cron(c: &'a Cron) -> Self {
        let pat = &c.cron.pattern;
        let fields: Vec<&str> = c.source.split_whitespace().collect();
        let special =
            |f: &str, chars: &[char]| f.chars().any(|ch| chars.contains(&ch.to_ascii_uppercase()));
        let (Some(dom), Some(dow)) = (fields.get(2), fields.get(4)) else {
            return DayRule::Cron(pat);
        };
        let mut months = 0u16;
        for m in 1..=12u32 {
            if pat.month_match(m).unwrap_or(false) {
                months |= 1 << m;
            }
        }
        if pat.is_dom_wildcard() && !special(dow, &['L', '#']) {
            // 2026-03-01 is a Sunday: day 1 + w has weekday w counted from Sunday.
            let mut days = [false; 7];
            for w in 0..7u32 {
                let wd = croner::Weekday::from_days_from_sunday(w);
                let from_monday = (w + 6) % 7;
                days[from_monday as usize] = pat.day_match(2026, 3, 1 + w, wd).unwrap_or(false);
            }
            return DayRule::Weekly { days, months };
        }
        if pat.is_dow_wildcard() && !special(dom, &['L', 'W']) {
            let mut days = 0u32;
            for d in 1..=31u32 {
                let date = NaiveDate::from_ymd_opt(2026, 1, d).expect("January has 31 days");
                let wd =
                    croner::Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday());
                if pat.day_match(2026, 1, d, wd).unwrap_or(false) {
                    days |= 1 << d;
                }
            }
            return DayRule::Monthly { days, months };
        }
        DayRule::Cron(pat)
    }

    pub fn matches(&self, d: NaiveDate) -> bool {
        match self {
            DayRule::Weekly { days, months } => {
                months & (1 << d.month()) != 0 && days[d.weekday().num_days_from_monday() as usize]
            }
            DayRule::Monthly { days, months } => {
                months & (1 << d.month()) != 0 && days & (1 << d.day()) != 0
            }
            DayRule::Cron(p) => {
                let wd = croner::Weekday::from_days_from_sunday(d.weekday().num_days_from_sunday());
                p.month_match(d.month()).unwrap_or(false)
                    && p.day_match(d.year(), d.month(), d.day(), wd)
                        .unwrap_or(false)
            }
        }
    }
}

fn weekday_from_monday(i: u32) -> chrono::Weekday {
    use chrono::Weekday::*;
    [Mon, Tue, Wed, Thu, Fri, Sat, Sun][i as usize % 7]
}

/// Counts the dates of a span that a rule matches. Whether a date matches depends only on
/// its month, the month's length and the weekday of the month's first day, so whole months
/// are looked up in a small table filled on first use.
pub(crate) struct DayCounter<'r, 'a> {
    rule: &'r DayRule<'a>,
    /// [month - 1][leap February][weekday of the 1st from Monday]; u8::MAX = not yet known.
    months: [[[u8; 7]; 2]; 12],
}

impl<'r, 'a> DayCounter<'r, 'a> {
    pub fn new(rule: &'r DayRule<'a>) -> Self {
        DayCounter {
            rule,
            months: [[[u8::MAX; 7]; 2]; 12],
        }
    }

    /// Dates in `[a, b)` that the rule matches.
    pub fn count(&mut self, a: NaiveDate, b: NaiveDate) -> u64 {
        if a >= b {
            return 0;
        }
        let mut total = 0;
        let mut d = a;
        if d.day() != 1 {
            let stop = first_of_next_month(d).map_or(b, |n| n.min(b));
            total += self.walk(d, stop);
            d = stop;
        }
        // Whole months, by day numbers: chrono's month arithmetic is slow for this.
        let end = b.num_days_from_ce();
        let (mut year, mut month) = (d.year(), d.month());
        let mut day = d.num_days_from_ce();
        let mut weekday = d.weekday().num_days_from_monday();
        while day < end {
            let length = days_in_month(year, month);
            if day + length as i32 > end {
                break;
            }
            total += self.whole_month(year, month, weekday, length) as u64;
            day += length as i32;
            weekday = (weekday + length) % 7;
            month += 1;
            if month == 13 {
                month = 1;
                year += 1;
            }
        }
        if let Some(rest) = NaiveDate::from_num_days_from_ce_opt(day) {
            total += self.walk(rest, b);
        }
        total
    }

    fn walk(&self, a: NaiveDate, b: NaiveDate) -> u64 {
        a.iter_days()
            .take_while(|d| *d < b)
            .filter(|d| self.rule.matches(*d))
            .count() as u64
    }

    /// Matching days of a whole month whose 1st has `weekday` (from Monday).
    fn whole_month(&mut self, year: i32, month: u32, weekday: u32, length: u32) -> u8 {
        match *self.rule {
            DayRule::Weekly { days, months } => {
                if months & (1 << month) == 0 {
                    return 0;
                }
                // The weekday i days after the 1st's occurs 5 times when i < length - 28.
                (0..7u32)
                    .filter(|i| days[((weekday + i) % 7) as usize])
                    .map(|i| if i < length - 28 { 5 } else { 4 })
                    .sum()
            }
            DayRule::Monthly { days, months } => {
                if months & (1 << month) == 0 {
                    return 0;
                }
                let in_month = days & (((1u64 << (length + 1)) - 1) as u32);
                in_month.count_ones() as u8
            }
            DayRule::Cron(_) => {
                let leap = usize::from(length == 29);
                let cell = &mut self.months[month as usize - 1][leap][weekday as usize];
                if *cell == u8::MAX {
                    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("a real month");
                    *cell = first
                        .iter_days()
                        .take(length as usize)
                        .filter(|d| self.rule.matches(*d))
                        .count() as u8;
                }
                *cell
            }
        }
    }
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if NaiveDate::from_ymd_opt(year, 2, 29).is_some() => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cron(s: &str) -> Cron {
        s.parse().unwrap()
    }

    #[test]
    fn cron_day_fields_use_the_or_rule_unless_one_is_a_bare_star() {
        // 13th of the month OR a Friday.
        let c = cron("0 9 13 * 5");
        let r = DayRule::cron(&c);
        assert!(r.matches(date(2026, 3, 13))); // a Friday the 13th
        assert!(r.matches(date(2026, 4, 13))); // a Monday, the 13th
        assert!(r.matches(date(2026, 4, 17))); // a Friday
        assert!(!r.matches(date(2026, 4, 14)));
        // A step in day-of-month is a restriction, so the OR rule applies.
        let c = cron("0 9 */10 * 1");
        let r = DayRule::cron(&c);
        assert!(r.matches(date(2026, 4, 11))); // day 11 (1, 11, 21, 31), a Saturday
        assert!(r.matches(date(2026, 4, 13))); // a Monday
        assert!(!r.matches(date(2026, 4, 14))); // neither
        // A bare star in day-of-month leaves only the weekday.
        let c = cron("0 9 * * 1");
        let r = DayRule::cron(&c);
        assert!(r.matches(date(2026, 4, 13)));
        assert!(!r.matches(date(2026, 4, 11)));
        // A bare star in day-of-week leaves only the day of month.
        let c = cron("0 9 1,15 * *");
        let r = DayRule::cron(&c);
        assert!(r.matches(date(2026, 4, 15)));
        assert!(!r.matches(date(2026, 4, 13)));
        // Sunday may be written 0 or 7; names work.
        for s in ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun"] {
            let c = cron(s);
            let r = DayRule::cron(&c);
            assert!(r.matches(date(2026, 4, 12)), "{s}");
            assert!(!r.matches(date(2026, 4, 13)), "{s}");
        }
        // Months restrict.
        let c = cron("0 9 * 2 *");
        let r = DayRule::cron(&c);
        assert!(r.matches(date(2026, 2, 3)));
        assert!(!r.matches(date(2026, 3, 3)));
    }

    #[test]
    fn counting_by_months_agrees_with_walking() {
        let rules = [
            cron("0 9 13 * 5"),
            cron("0 9 */10 * 1"),
            cron("0 9 29 2 *"),
            cron("0 9 L * *"),
            cron("0 9 * * 5#2"),
            cron("0 12 * * 1-5"),
            cron("0 12 * 3-5 sat,sun"),
            cron("0 12 1,15,31 */2 *"),
            cron("0 12 ? * MON"),
            cron("0 12 LW * *"),
            cron("0 12 * * 5L"),
            cron("30 */6 * * *"),
        ];
        let spans = [
            (date(1970, 1, 1), date(2031, 7, 19)),
            (date(2026, 2, 14), date(2026, 3, 2)),
            (date(2024, 2, 1), date(2024, 3, 1)),
            (date(2026, 5, 5), date(2026, 5, 5)),
        ];
        let mut all: Vec<DayRule> = rules
            .iter()
            .map(|c| DayRule::Cron(&c.cron.pattern))
            .collect();
        all.push(DayRule::weekly(&Days::Weekends));
        all.push(DayRule::weekly(&Days::List(vec![chrono::Weekday::Fri])));
        for r in &all {
            let mut counter = DayCounter::new(r);
            for (a, b) in spans {
                let walked = a
                    .iter_days()
                    .take_while(|d| *d < b)
                    .filter(|d| r.matches(*d))
                    .count() as u64;
                assert_eq!(counter.count(a, b), walked, "{r:?} {a} {b}");
            }
        }
    }
}
