//! `now` and the filters operators use to write dates, times and numbers in their locale.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc, Weekday};
use minijinja::value::{Object, Value};
use minijinja::{Environment, Error, ErrorKind};
use std::sync::Arc;

/// The local time a message is sent at, in the community's zone.
///
/// Printed as `{{ now }}` it reads `2026-12-01 07:30`; its fields are `year`, `month`,
/// `day`, `hour`, `minute`, `weekday` (1 = Monday … 7 = Sunday), `date` (`2026-12-01`) and
/// `time` (`07:30`). The `date`, `time`, `datetime` and `weekday` filters format it in the
/// community's locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub local: NaiveDateTime,
}

impl Now {
    pub fn new(at: DateTime<Utc>, tz: chrono_tz::Tz) -> Now {
        Now {
            local: at.with_timezone(&tz).naive_local(),
        }
    }
}

impl Object for Now {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let l = &self.local;
        Some(match key.as_str()? {
            "year" => Value::from(l.year()),
            "month" => Value::from(l.month()),
            "day" => Value::from(l.day()),
            "hour" => Value::from(l.hour()),
            "minute" => Value::from(l.minute()),
            "weekday" => Value::from(l.weekday().number_from_monday()),
            "date" => Value::from(l.format("%Y-%m-%d").to_string()),
            "time" => Value::from(l.format("%H:%M").to_string()),
            _ => return None,
        })
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.local.format("%Y-%m-%d %H:%M"))
    }
}

fn is_chinese(locale: &str) -> bool {
    locale.starts_with("zh")
}

fn weekday_name(d: Weekday, locale: &str, short: bool) -> &'static str {
    const ZH: [&str; 7] = [
        "星期一",
        "星期二",
        "星期三",
        "星期四",
        "星期五",
        "星期六",
        "星期日",
    ];
    const ZH_SHORT: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    const EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    const EN_SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let i = d.num_days_from_monday() as usize;
    match (is_chinese(locale), short) {
        (true, false) => ZH[i],
        (true, true) => ZH_SHORT[i],
        (false, false) => EN[i],
        (false, true) => EN_SHORT[i],
    }
}

/// Reads a `now` object, or a date/time string (RFC 3339, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD`).
fn local_of(v: &Value) -> Result<NaiveDateTime, Error> {
    if let Some(n) = v.downcast_object_ref::<Now>() {
        return Ok(n.local);
    }
    if let Some(s) = v.as_str() {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t.naive_local());
        }
        for f in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Ok(t);
            }
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists"));
        }
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("cannot read `{v}` as a date or time"),
    ))
}

/// strftime with locale-aware weekday names (`%A`, `%a`).
fn format_local(l: &NaiveDateTime, fmt: &str, locale: &str) -> Result<String, Error> {
    let fmt = fmt
        .replace("%A", weekday_name(l.weekday(), locale, false))
        .replace("%a", weekday_name(l.weekday(), locale, true));
    let items: Vec<_> = chrono::format::StrftimeItems::new(&fmt).collect();
    if items.contains(&chrono::format::Item::Error) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{fmt}` is not a date format: use strftime codes such as %Y %m %d %H %M %A"),
        ));
    }
    Ok(l.format_with_items(items.into_iter()).to_string())
}

pub fn register(env: &mut Environment<'static>, locale: &str) {
    let loc = locale.to_string();
    env.add_filter(
        "date",
        move |v: Value, fmt: Option<String>| -> Result<String, Error> {
            let l = local_of(&v)?;
            Ok(match fmt {
                Some(f) => format_local(&l, &f, &loc)?,
                None if is_chinese(&loc) => format!("{}月{}日", l.month(), l.day()),
                None => l.format("%b %-d").to_string(),
            })
        },
    );
    env.add_filter("time", |v: Value| -> Result<String, Error> {
        Ok(local_of(&v)?.format("%H:%M").to_string())
    });
    let loc = locale.to_string();
    env.add_filter("datetime", move |v: Value| -> Result<String, Error> {
        let l = local_of(&v)?;
        Ok(if is_chinese(&loc) {
            format!("{}月{}日 {}", l.month(), l.day(), l.format("%H:%M"))
        } else {
            l.format("%b %-d %H:%M").to_string()
        })
    });
    let loc = locale.to_string();
    env.add_filter(
        "weekday",
        move |v: Value, short: Option<bool>| -> Result<String, Error> {
            let l = local_of(&v)?;
            Ok(weekday_name(l.weekday(), &loc, short.unwrap_or(false)).to_string())
        },
    );
    env.add_filter("number", |v: Value| -> Result<String, Error> {
        let n: i64 = i64::try_from(v.clone()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("`{v}` is not a whole number"),
            )
        })?;
        Ok(group_thousands(n))
    });
}

/// 1234567 → "1,234,567".
fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn render(locale: &str, src: &str) -> String {
        let env = super::super::environment(locale);
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        let now = Value::from_object(Now::new(at, chrono_tz::Asia::Shanghai));
        env.render_str(src, minijinja::context! { now => now, n => 1234567 })
            .unwrap()
    }

    #[test]
    fn dates_in_chinese() {
        // 23:30 UTC on 30 Nov is 07:30 on Tuesday 1 Dec in Shanghai.
        assert_eq!(
            render(
                "zh-CN",
                "{{ now | date }} {{ now | time }} {{ now | weekday }}"
            ),
            "12月1日 07:30 星期二"
        );
        assert_eq!(
            render("zh-CN", "{{ now | date('%m月%d日 %a') }}"),
            "12月01日 周二"
        );
        assert_eq!(
            render("zh-CN", "{{ now }}|{{ now.weekday }}|{{ now.date }}"),
            "2026-12-01 07:30|2|2026-12-01"
        );
        assert_eq!(render("zh-CN", "{{ now | datetime }}"), "12月1日 07:30");
    }

    #[test]
    fn an_unknown_date_format_is_an_error() {
        let env = super::super::environment("zh-CN");
        let err = env
            .render_str("{{ '2027-02-05' | date('%Q') }}", ())
            .unwrap_err();
        assert!(err.to_string().contains("not a date format"), "{err}");
    }

    #[test]
    fn dates_in_english_and_numbers() {
        assert_eq!(
            render("en-US", "{{ now | date }}, {{ now | weekday(true) }}"),
            "Dec 1, Tue"
        );
        assert_eq!(render("zh-CN", "{{ n | number }}"), "1,234,567");
        assert_eq!(group_thousands(-1000), "-1,000");
        assert_eq!(group_thousands(999), "999");
    }

    #[test]
    fn strings_are_read_as_dates() {
        assert_eq!(render("zh-CN", "{{ '2027-02-05' | date }}"), "2月5日");
        assert_eq!(
            render("zh-CN", "{{ '2027-02-05T20:00:00+08:00' | time }}"),
            "20:00"
        );
    }
}
