//! The scalar types of the language, each parsed from its text form at load time.

use crate::playbook::kept::Kept;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use std::fmt;
use std::str::FromStr;

/// An identifier: `[a-z0-9][a-z0-9-]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Id {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if first_ok && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            Ok(Id(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not a valid id: use lowercase letters, digits and dashes, starting with a letter or digit"
            ))
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A length of time: `30s`, `15m`, `2h`, `3d`, `1w`.
///
/// Days and weeks are kept apart from exact units because a phase's `3d` means three local
/// calendar days, whatever daylight saving time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duration {
    Seconds(u64),
    Days(u32),
}

impl Duration {
    /// The length in seconds, counting a day as 86,400 s (for cooldowns, grace, inactivity).
    pub fn as_secs(&self) -> u64 {
        match *self {
            Duration::Seconds(s) => s,
            Duration::Days(d) => d as u64 * 86_400,
        }
    }

    pub fn to_chrono(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.as_secs() as i64)
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a duration: write a whole number and a unit, like 30s, 15m, 2h, 3d or 1w"
            )
        };
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| bad())?;
        let d = match unit {
            "s" => Duration::Seconds(n),
            "m" => Duration::Seconds(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::Seconds(n.checked_mul(3600).ok_or_else(bad)?),
            "d" => Duration::Days(u32::try_from(n).map_err(|_| bad())?),
            "w" => {
                Duration::Days(u32::try_from(n.checked_mul(7).ok_or_else(bad)?).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        if n == 0 {
            return Err(format!(
                "`{s}` is zero: a duration must be longer than nothing"
            ));
        }
        Ok(d)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Duration::Days(d) if d % 7 == 0 => write!(f, "{}w", d / 7),
            Duration::Days(d) => write!(f, "{d}d"),
            Duration::Seconds(s) if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            Duration::Seconds(s) if s % 60 == 0 => write!(f, "{}m", s / 60),
            Duration::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

/// A local wall-clock time `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalTime(pub NaiveTime);

impl FromStr for LocalTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a local time: write HH:MM, like 07:30 or 20:00");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        NaiveTime::from_hms_opt(h, m, 0)
            .map(LocalTime)
            .ok_or_else(bad)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// A local date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date: write YYYY-MM-DD, like 2026-12-01"))
}

/// A local date and time `YYYY-MM-DDTHH:MM` (a space instead of `T` is accepted).
pub fn parse_local_datetime(s: &str) -> Result<NaiveDateTime, String> {
    let t = s.trim();
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .ok_or_else(|| {
        format!("`{s}` is not a local date and time: write YYYY-MM-DDTHH:MM, like 2026-12-01T20:00")
    })
}

/// One date or an inclusive range `A..B` of local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DateRange {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.first <= d && d <= self.last
    }
}

impl FromStr for DateRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once("..") {
            Some((a, b)) => {
                let first = parse_date(a)?;
                let last = parse_date(b)?;
                if last < first {
                    return Err(format!("`{s}` ends before it starts"));
                }
                Ok(DateRange { first, last })
            }
            None => {
                let d = parse_date(s)?;
                Ok(DateRange { first: d, last: d })
            }
        }
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

/// A daily window of local time `HH:MM-HH:MM`, start-inclusive, end-exclusive; it may cross
/// midnight. Equal bounds mean an empty window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    pub start: LocalTime,
    pub end: LocalTime,
}

impl TimeWindow {
    pub fn contains(&self, t: NaiveTime) -> bool {
        let (s, e) = (self.start.0, self.end.0);
        if s == e {
            false
        } else if s < e {
            s <= t && t < e
        } else {
            t >= s || t < e
        }
    }
}

impl FromStr for TimeWindow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').ok_or_else(|| {
            format!("`{s}` is not a time window: write HH:MM-HH:MM, like 22:30-07:00")
        })?;
        Ok(TimeWindow {
            start: a.trim().parse()?,
            end: b.trim().parse()?,
        })
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The days an `at` slot fires on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Days {
    Daily,
    Weekdays,
    Weekends,
    List(Vec<Weekday>),
}

impl Days {
    pub fn includes(&self, d: Weekday) -> bool {
        match self {
            Days::Daily => true,
            Days::Weekdays => !matches!(d, Weekday::Sat | Weekday::Sun),
            Days::Weekends => matches!(d, Weekday::Sat | Weekday::Sun),
            Days::List(l) => l.contains(&d),
        }
    }
}

pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    match s {
        "mon" => Ok(Weekday::Mon),
        "tue" => Ok(Weekday::Tue),
        "wed" => Ok(Weekday::Wed),
        "thu" => Ok(Weekday::Thu),
        "fri" => Ok(Weekday::Fri),
        "sat" => Ok(Weekday::Sat),
        "sun" => Ok(Weekday::Sun),
        _ => Err(format!(
            "`{s}` is not a day: use mon, tue, wed, thu, fri, sat or sun"
        )),
    }
}

/// A standard five-field cron expression (minute hour day-of-month month day-of-week).
#[derive(Debug, Clone)]
pub struct Cron {
    pub source: String,
    /// Shared by every playbook that writes the same expression: a parsed pattern is about
    /// ten kilobytes, and ten thousand playbooks repeat a handful.
    pub cron: std::sync::Arc<croner::Cron>,
    /// True when the minute or hour field is a wildcard or a step: the expression then
    /// follows real time across DST changes instead of firing once per local time.
    pub real_time: bool,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl FromStr for Cron {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "`{s}` has {} fields; a cron expression has five: minute hour day-of-month month day-of-week",
                fields.len()
            ));
        }
        // Parsing takes tens of microseconds; playbooks repeat their schedules.
        static PARSED: Kept<std::sync::Arc<croner::Cron>> = Kept::new();
        let cron = PARSED
            .get(s, || {
                croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Disallowed)
                    .year(croner::parser::Year::Disallowed)
                    .build()
                    .parse(s)
                    .map(std::sync::Arc::new)
            })
            .map_err(|e| format!("`{s}` is not a valid cron expression: {e}"))?;
        let variable = |f: &str| f.contains('*') || f.contains('/');
        Ok(Cron {
            source: s.to_string(),
            cron,
            real_time: variable(fields[0]) || variable(fields[1]),
        })
    }
}

/// A rate limit `N/sec`, `N/min`, `N/hour` or `N/day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub count: u32,
    pub per_secs: u32,
}

impl FromStr for RateLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a rate limit: write a count per unit, like 20/min, 1/s or 1000/hour"
            )
        };
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let per_secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(RateLimit { count, per_secs })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per_secs {
            1 => "s",
            60 => "min",
            3600 => "hour",
            _ => "day",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

pub fn parse_timezone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("`{s}` is not an IANA time zone name (like Asia/Shanghai or Europe/London)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("30s".parse::<Duration>().unwrap().as_secs(), 30);
        assert_eq!("15m".parse::<Duration>().unwrap().as_secs(), 900);
        assert_eq!("3d".parse::<Duration>().unwrap(), Duration::Days(3));
        assert_eq!("1w".parse::<Duration>().unwrap(), Duration::Days(7));
        assert!("3 days".parse::<Duration>().is_err());
        assert!("0m".parse::<Duration>().is_err());
        assert!("m".parse::<Duration>().is_err());
        assert_eq!("90m".parse::<Duration>().unwrap().to_string(), "90m");
    }

    #[test]
    fn local_times_and_windows() {
        assert!("07:30".parse::<LocalTime>().is_ok());
        assert!("7:30".parse::<LocalTime>().is_ok());
        assert!("24:00".parse::<LocalTime>().is_err());
        assert!("07:3".parse::<LocalTime>().is_err());
        let w: TimeWindow = "22:30-07:00".parse().unwrap();
        assert!(w.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(w.contains(NaiveTime::from_hms_opt(6, 59, 0).unwrap()));
        assert!(!w.contains(NaiveTime::from_hms_opt(7, 0, 0).unwrap()));
        let empty: TimeWindow = "08:00-08:00".parse().unwrap();
        assert!(!empty.contains(NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
    }

    #[test]
    fn crons_are_five_fields_and_know_real_time() {
        assert!(!"0 12 * * 1-5".parse::<Cron>().unwrap().real_time);
        assert!("*/15 * * * *".parse::<Cron>().unwrap().real_time);
        assert!("30 * * * *".parse::<Cron>().unwrap().real_time);
        assert!("0 0 12 * * *".parse::<Cron>().is_err());
        assert!("0 20 * * fri".parse::<Cron>().is_ok());
        assert!("61 20 * * *".parse::<Cron>().is_err());
    }

    #[test]
    fn ids_and_ranges() {
        assert!("fit-camp".parse::<Id>().is_ok());
        assert!("Fit".parse::<Id>().is_err());
        assert!("-x".parse::<Id>().is_err());
        let r: DateRange = "2027-02-05..2027-02-12".parse().unwrap();
        assert!(r.contains(NaiveDate::from_ymd_opt(2027, 2, 12).unwrap()));
        assert!("2027-02-12..2027-02-05".parse::<DateRange>().is_err());
        assert_eq!("20/min".parse::<RateLimit>().unwrap().per_secs, 60);
    }
}
