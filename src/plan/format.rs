//! A plan as a table for people, as JSON for programs, and as an iCalendar file for
//! calendar apps.

use crate::compile::Source;
use crate::plan::events::EventDriven;
use crate::plan::planner::{Fire, Plan, Reason};
use crate::playbook::model::Playbook;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::fmt::Write;
use unicode_width::UnicodeWidthStr;

/// The plan as aligned columns, then a count of fires by status, then the event-driven
/// messages.
pub fn table(p: &Playbook, plan: &Plan<'_>, events: &[EventDriven<'_>]) -> String {
    let tz = plan.timezone;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}) · {} · {} → {}",
        plan.community,
        p.community.name,
        tz.name(),
        plan.from.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        plan.until.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
    );
    out.push('\n');
    if plan.fires.is_empty() {
        out.push_str("No scheduled fires in this window.\n");
    } else {
        let mut rows = vec![
            [
                "LOCAL", "UTC", "SOURCE", "ID", "CHANNEL", "TEMPLATE", "TOPIC", "STATUS",
            ]
            .map(String::from),
        ];
        for f in &plan.fires {
            rows.push([
                f.local.format("%Y-%m-%d %a %H:%M %:z").to_string(),
                f.at.format("%Y-%m-%d %H:%MZ").to_string(),
                f.source.kind().to_string(),
                f.source.path(),
                f.channel.to_string(),
                f.template.to_string(),
                f.topic.unwrap_or("-").to_string(),
                status_text(f),
            ]);
        }
        columns(&mut out, &rows);
        out.push('\n');
        out.push_str(&summary(plan));
        out.push('\n');
    }
    if !events.is_empty() {
        out.push_str(
            "\nEvent-driven messages (sent when something happens, not at planned times):\n",
        );
        let mut rows = vec![["KIND", "ID", "TEMPLATE", "CHANNEL", "WHEN"].map(String::from)];
        for e in events {
            rows.push([
                e.kind.to_string(),
                e.id.clone().unwrap_or_else(|| "-".into()),
                e.template.to_string(),
                e.channel.unwrap_or("-").to_string(),
                e.when.clone(),
            ]);
        }
        columns(&mut out, &rows);
    }
    out
}

fn status_text(f: &Fire<'_>) -> String {
    let mut s = match f.status.reason() {
        None => "planned".to_string(),
        Some(r) => format!("suppressed: {r}"),
    };
    if f.moved {
        s.push_str(" (moved)");
    } else if f.scheduled != f.local.naive_local() {
        let _ = write!(s, " (due {}, in a DST gap)", f.scheduled.format("%H:%M"));
    }
    s
}

/// "N fires: P planned, S suppressed (k reason, ...)".
fn summary(plan: &Plan<'_>) -> String {
    let total = plan.fires.len();
    let planned = plan.fires.iter().filter(|f| f.status.is_planned()).count();
    let mut s = format!(
        "{total} fire{}: {planned} planned, {} suppressed",
        if total == 1 { "" } else { "s" },
        total - planned
    );
    let by_reason: Vec<String> = Reason::ALL
        .iter()
        .filter_map(|r| {
            let n = plan
                .fires
                .iter()
                .filter(|f| f.status.reason() == Some(*r))
                .count();
            (n > 0).then(|| format!("{n} {r}"))
        })
        .collect();
    if !by_reason.is_empty() {
        let _ = write!(s, " ({})", by_reason.join(", "));
    }
    s
}

/// Left-aligned columns two spaces apart, measured in terminal cells so that Chinese text
/// lines up; the last column is not padded.
pub fn columns<const N: usize>(out: &mut String, rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.width() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The JSON form of a plan (`drumbeat plan --format json`). Field order is as listed.
#[derive(Debug, Serialize)]
pub struct PlanJson<'a> {
    /// The community's id.
    pub community: &'a str,
    /// The community's IANA time zone.
    pub timezone: &'a str,
    /// Start of the window (included), UTC, RFC 3339.
    pub from: String,
    /// End of the window (excluded), UTC, RFC 3339.
    pub until: String,
    /// Every fire in the window, in time order.
    pub fires: Vec<FireJson<'a>>,
    /// Messages caused by events, which have no planned time.
    pub event_driven: Vec<EventJson<'a>>,
}

/// One fire in the JSON form of a plan.
#[derive(Debug, Serialize)]
pub struct FireJson<'a> {
    /// Names this fire and no other (community/source/path/channel/instant); stable across runs.
    pub key: String,
    /// The instant, UTC, RFC 3339.
    pub at: String,
    /// The same instant on the community's clock, RFC 3339 with the offset in force.
    pub local: String,
    /// The local date and time it was due (`YYYY-MM-DDTHH:MM`); differs from `local` when a
    /// DST gap moved it to the transition.
    pub scheduled: String,
    /// `content`, `calendar` (added by a calendar entry), `phase` or `lottery`.
    pub source: &'static str,
    /// The slot's or lottery's id.
    pub id: &'a str,
    /// The activity of a phase slot, else null.
    pub activity: Option<&'a str>,
    /// The phase of a phase slot, else null.
    pub phase: Option<&'a str>,
    /// The channel it is sent to.
    pub channel: &'a str,
    /// When `channel` is assisted, the channel where a person gets it as a to-do; else null.
    pub assist: Option<&'a str>,
    /// The template rendered for it.
    pub template: &'a str,
    /// The rotated topic, or null.
    pub topic: Option<&'a str>,
    /// How late it may still be sent, as a duration (`10m`).
    pub grace: String,
    /// A calendar entry moved it to this time.
    pub moved: bool,
    /// `planned` or `suppressed`.
    pub status: &'static str,
    /// Null when planned; else `outside_runs`, `calendar_skip`, `quiet_hours` or `daily_limit`.
    pub reason: Option<&'static str>,
}

/// One event-driven message kind in the JSON form of a plan.
#[derive(Debug, Serialize)]
pub struct EventJson<'a> {
    /// `welcome`, `refusal`, `rule_warning`, `streak`, `tier_up`, `badge`, `birthday`,
    /// `anniversary`, `recall` or `elimination_warning`.
    pub kind: &'static str,
    /// The rule, badge or streak event it belongs to, or null.
    pub id: Option<&'a str>,
    pub template: &'a str,
    /// Where it is sent; null for a refusal, which goes to the applicant.
    pub channel: Option<&'a str>,
    /// What causes it, in words.
    pub when: &'a str,
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn to_json<'a>(plan: &'a Plan<'a>, events: &'a [EventDriven<'a>]) -> PlanJson<'a> {
    PlanJson {
        community: plan.community,
        timezone: plan.timezone.name(),
        from: utc(plan.from),
        until: utc(plan.until),
        fires: plan
            .fires
            .iter()
            .map(|f| {
                let (activity, phase) = match f.source {
                    Source::Phase {
                        activity, phase, ..
                    } => (Some(activity), Some(phase)),
                    _ => (None, None),
                };
                FireJson {
                    key: f.key(),
                    at: utc(f.at),
                    local: f.local.to_rfc3339_opts(SecondsFormat::Secs, true),
                    scheduled: f.scheduled.format("%Y-%m-%dT%H:%M").to_string(),
                    source: f.source.kind(),
                    id: f.source.id(),
                    activity,
                    phase,
                    channel: f.channel,
                    assist: f.assist,
                    template: f.template,
                    topic: f.topic,
                    grace: f.grace.to_string(),
                    moved: f.moved,
                    status: if f.status.is_planned() {
                        "planned"
                    } else {
                        "suppressed"
                    },
                    reason: f.status.reason().map(|r| r.as_str()),
                }
            })
            .collect(),
        event_driven: events
            .iter()
            .map(|e| EventJson {
                kind: e.kind,
                id: e.id.as_deref(),
                template: e.template,
                channel: e.channel,
                when: &e.when,
            })
            .collect(),
    }
}

/// The plan as JSON text, pretty-printed, ending with a newline.
pub fn json(plan: &Plan<'_>, events: &[EventDriven<'_>]) -> String {
    let mut s = serde_json::to_string_pretty(&to_json(plan, events)).expect("plain data");
    s.push('\n');
    s
}

/// The plan as an iCalendar (RFC 5545) file: one event per fire, at its UTC instant.
/// Suppressed fires are included as cancelled events so the calendar shows what the
/// engine holds back. `DTSTAMP` is the start of the window, so the output is reproducible.
pub fn ics(p: &Playbook, plan: &Plan<'_>) -> String {
    let mut out = String::new();
    let stamp = plan.from.format("%Y%m%dT%H%M%SZ").to_string();
    let mut line = |s: &str| fold(&mut out, s);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//drumbeat//plan//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!(
        "X-WR-CALNAME:{}",
        text(&format!("{} ({})", p.community.name, plan.community))
    ));
    line(&format!("X-WR-TIMEZONE:{}", plan.timezone.name()));
    for f in &plan.fires {
        let mut summary = format!("{} → {}", f.source.path(), f.channel);
        if let Some(t) = f.topic {
            let _ = write!(summary, ": {t}");
        }
        if let Some(r) = f.status.reason() {
            summary = format!("[{r}] {summary}");
        }
        let mut desc = format!(
            "{} {}\ntemplate: {}\nchannel: {}",
            match f.source {
                Source::Content { .. } => "content slot",
                Source::Calendar { .. } => "calendar addition",
                Source::Phase { .. } => "activity phase slot",
                Source::Lottery { .. } => "lottery",
            },
            f.source.path(),
            f.template,
            f.channel
        );
        if let Some(a) = f.assist {
            let _ = write!(desc, " (a to-do in {a})");
        }
        if let Some(t) = f.topic {
            let _ = write!(desc, "\ntopic: {t}");
        }
        let _ = write!(
            desc,
            "\nlocal: {}\nstatus: {}",
            f.local.format("%Y-%m-%d %a %H:%M %:z"),
            status_text(f)
        );
        line("BEGIN:VEVENT");
        line(&format!("UID:{}@drumbeat", text(&f.key())));
        line(&format!("DTSTAMP:{stamp}"));
        line(&format!("DTSTART:{}", f.at.format("%Y%m%dT%H%M%SZ")));
        line(&format!("SUMMARY:{}", text(&summary)));
        line(&format!("DESCRIPTION:{}", text(&desc)));
        line(&format!("CATEGORIES:{}", f.source.kind()));
        line(if f.status.is_planned() {
            "STATUS:CONFIRMED"
        } else {
            "STATUS:CANCELLED"
        });
        line("TRANSP:TRANSPARENT");
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded so that no physical line exceeds 75 octets, never
/// splitting a UTF-8 character; lines end with CRLF.
fn fold(out: &mut String, line: &str) {
    let mut budget = 75;
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > budget {
            out.push_str("\r\n ");
            // The leading space of a continuation line counts toward its 75 octets.
            budget = 74;
            used = 0;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "深蹲平板支撑".repeat(12));
        fold(&mut out, &long);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines.last(), Some(&""));
        assert!(lines.len() > 3);
        for l in &lines {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        for l in &lines[1..lines.len() - 1] {
            assert!(l.starts_with(' '));
        }
        // Unfolding gives the line back.
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);
        let mut short = String::new();
        fold(&mut short, "VERSION:2.0");
        assert_eq!(short, "VERSION:2.0\r\n");
    }

    #[test]
    fn text_values_are_escaped() {
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
