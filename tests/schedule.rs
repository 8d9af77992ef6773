//! Specs for planning (`plan::plan`, the library): each test states a rule of
//! language.md and checks the fires.

use chrono::{DateTime, Utc};
use drumbeat::compile::Program;
use drumbeat::plan::{Plan, Reason, Source, Status, plan, topic_at};

/// Compiles a playbook from `yaml`, which must validate without errors.
fn load(yaml: &str) -> Program {
    drumbeat::compile::from_text("test.yaml", yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// A playbook in `zone` with one console channel `group` (plus `admins`), the given
/// sections (`content:` etc., as YAML text) and a template for every name in `templates`.
fn book(zone: &str, community_extra: &str, sections: &str, templates: &[&str]) -> String {
    let mut s = format!(
        "version: 1\ncommunity: {{ id: t, name: T, kind: service, timezone: {zone}{community_extra} }}\n\
         channels:\n  group: {{ type: console }}\n  admins: {{ type: console }}\ndefault_channel: group\n{sections}\ntemplates:\n"
    );
    for t in templates {
        s.push_str(&format!("  {t}: \"{t} {{{{ community.name }}}}\"\n"));
    }
    s
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// One line per fire: UTC instant, local wall time, source path, channel, topic, status.
fn rows(plan: &Plan<'_>) -> Vec<String> {
    plan.fires
        .iter()
        .map(|f| {
            let mut s = format!(
                "{} {} {}",
                f.at.format("%Y-%m-%dT%H:%MZ"),
                f.local.format("%m-%d %H:%M"),
                f.source.path()
            );
            if f.channel != "group" {
                s.push_str(&format!(" @{}", f.channel));
            }
            if let Some(t) = f.topic {
                s.push_str(&format!(" [{t}]"));
            }
            if let Status::Suppressed(r) = f.status {
                s.push_str(&format!(" -{r}"));
            }
            if f.moved {
                s.push_str(" moved");
            }
            s
        })
        .collect()
}

fn plan_rows(yaml: &str, from: &str, until: &str) -> Vec<String> {
    let p = load(yaml);
    rows(&plan(&p, utc(from), utc(until)))
}

#[test]
fn cron_day_fields_are_joined_with_or() {
    // The 13th of the month or any Friday, in April 2026 (Fridays: 3, 10, 17, 24).
    let y = book(
        "UTC",
        "",
        "content:\n  slots:\n    - { id: c, cron: \"0 9 13 * fri\", template: m }",
        &["m"],
    );
    let got = plan_rows(&y, "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z");
    assert_eq!(
        got,
        [
            "2026-04-03T09:00Z 04-03 09:00 c",
            "2026-04-10T09:00Z 04-10 09:00 c",
            "2026-04-13T09:00Z 04-13 09:00 c",
            "2026-04-17T09:00Z 04-17 09:00 c",
            "2026-04-24T09:00Z 04-24 09:00 c",
        ]
    );
    // A step in day-of-month still counts as a restriction: days 1, 11, 21 or Mondays.
    let y = book(
        "UTC",
        "",
        "content:\n  slots:\n    - { id: c, cron: \"0 9 */10 4 mon\", template: m }",
        &["m"],
    );
    let got = plan_rows(&y, "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z");
    let days: Vec<&str> = got.iter().map(|r| &r[18..23]).collect();
    assert_eq!(
        days,
        [
            "04-01", "04-06", "04-11", "04-13", "04-20", "04-21", "04-27"
        ]
    );
}

#[test]
fn at_slots_follow_their_days() {
    let y = book(
        "Asia/Shanghai",
        "",
        "content:\n  slots:\n    - { id: wd, at: \"18:30\", days: weekdays, template: m }\n    - { id: we, at: \"10:00\", days: weekends, template: m }\n    - { id: fri, at: \"20:30\", days: [fri, mon], template: m }\n    - { id: daily, at: \"07:30\", template: m }",
        &["m"],
    );
    // Thursday 2026-12-03 to Monday 2026-12-07 (local).
    let got = plan_rows(&y, "2026-12-02T16:00:00Z", "2026-12-07T16:00:00Z");
    assert_eq!(
        got,
        [
            "2026-12-02T23:30Z 12-03 07:30 daily",
            "2026-12-03T10:30Z 12-03 18:30 wd",
            "2026-12-03T23:30Z 12-04 07:30 daily",
            "2026-12-04T10:30Z 12-04 18:30 wd",
            "2026-12-04T12:30Z 12-04 20:30 fri",
            "2026-12-04T23:30Z 12-05 07:30 daily",
            "2026-12-05T02:00Z 12-05 10:00 we",
            "2026-12-05T23:30Z 12-06 07:30 daily",
            "2026-12-06T02:00Z 12-06 10:00 we",
            "2026-12-06T23:30Z 12-07 07:30 daily",
            "2026-12-07T10:30Z 12-07 18:30 wd",
            "2026-12-07T12:30Z 12-07 20:30 fri",
        ]
    );
}

const DST_SLOTS: &str = "content:
  slots:
    - { id: at-gap, at: \"02:30\", template: m }
    - { id: at-gap2, at: \"02:15\", template: m }
    - { id: cron-gap, cron: \"30 2 * * *\", template: m }
    - { id: at-overlap, at: \"01:30\", template: m }
    - { id: cron-overlap, cron: \"0,30 1 * * *\", template: m }
    - { id: real, cron: \"*/30 1-3 * * *\", template: m }";

#[test]
fn new_york_spring_forward_gap() {
    // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    let y = book("America/New_York", "", DST_SLOTS, &["m"]);
    let got = plan_rows(&y, "2026-03-08T05:00:00Z", "2026-03-08T08:00:00Z");
    assert_eq!(
        got,
        [
            "2026-03-08T06:00Z 03-08 01:00 cron-overlap",
            "2026-03-08T06:00Z 03-08 01:00 real",
            "2026-03-08T06:30Z 03-08 01:30 at-overlap",
            "2026-03-08T06:30Z 03-08 01:30 cron-overlap",
            "2026-03-08T06:30Z 03-08 01:30 real",
            // Every fixed time in the gap fires at the transition, in the order written;
            // the real-time cron skips 02:00 and 02:30 and carries on at 03:00.
            "2026-03-08T07:00Z 03-08 03:00 at-gap",
            "2026-03-08T07:00Z 03-08 03:00 at-gap2",
            "2026-03-08T07:00Z 03-08 03:00 cron-gap",
            "2026-03-08T07:00Z 03-08 03:00 real",
            "2026-03-08T07:30Z 03-08 03:30 real",
        ]
    );
    // The two slots shifted onto one instant keep distinct keys.
    let p = load(&y);
    let pl = plan(&p, utc("2026-03-08T07:00:00Z"), utc("2026-03-08T07:01:00Z"));
    let keys: std::collections::HashSet<String> = pl.fires.iter().map(|f| f.key()).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(
        pl.fires[0].scheduled.to_string(),
        "2026-03-08 02:30:00",
        "the due time is kept"
    );
}

#[test]
fn new_york_fall_back_overlap() {
    // 2026-11-01: 01:00-02:00 happens twice, first EDT (05:00-06:00 UTC) then EST.
    let y = book("America/New_York", "", DST_SLOTS, &["m"]);
    let got = plan_rows(&y, "2026-11-01T04:00:00Z", "2026-11-01T09:00:00Z");
    assert_eq!(
        got,
        [
            "2026-11-01T05:00Z 11-01 01:00 cron-overlap",
            "2026-11-01T05:00Z 11-01 01:00 real",
            "2026-11-01T05:30Z 11-01 01:30 at-overlap",
            "2026-11-01T05:30Z 11-01 01:30 cron-overlap",
            "2026-11-01T05:30Z 11-01 01:30 real",
            // The real-time cron fires again in the repeated hour; fixed times do not.
            "2026-11-01T06:00Z 11-01 01:00 real",
            "2026-11-01T06:30Z 11-01 01:30 real",
            "2026-11-01T07:00Z 11-01 02:00 real",
            "2026-11-01T07:15Z 11-01 02:15 at-gap2",
            "2026-11-01T07:30Z 11-01 02:30 at-gap",
            "2026-11-01T07:30Z 11-01 02:30 cron-gap",
            "2026-11-01T07:30Z 11-01 02:30 real",
            "2026-11-01T08:00Z 11-01 03:00 real",
            "2026-11-01T08:30Z 11-01 03:30 real",
        ]
    );
}

#[test]
fn london_gap_and_overlap() {
    // 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT.
    let y = book(
        "Europe/London",
        "",
        "content:\n  slots:\n    - { id: fixed, at: \"01:30\", template: m }\n    - { id: hourly, cron: \"30 * * * *\", template: m }\n    - { id: fixed-cron, cron: \"15 1 * * 0\", template: m }",
        &["m"],
    );
    let p = load(&y);
    let spring = plan(&p, utc("2026-03-29T00:00:00Z"), utc("2026-03-29T23:00:00Z"));
    let r = rows(&spring);
    assert_eq!(r[0], "2026-03-29T00:30Z 03-29 00:30 hourly");
    assert_eq!(r[1], "2026-03-29T01:00Z 03-29 02:00 fixed");
    assert_eq!(r[2], "2026-03-29T01:00Z 03-29 02:00 fixed-cron");
    assert_eq!(r[3], "2026-03-29T01:30Z 03-29 02:30 hourly");
    // A local day of 23 hours: the hourly cron fires 23 times.
    let hourly = |pl: &Plan<'_>| {
        pl.fires
            .iter()
            .filter(|f| f.source.id() == "hourly")
            .count()
    };
    assert_eq!(hourly(&spring), 23);
    let autumn = plan(&p, utc("2026-10-24T23:00:00Z"), utc("2026-10-26T00:00:00Z"));
    let r = rows(&autumn);
    assert_eq!(
        &r[..5],
        [
            "2026-10-24T23:30Z 10-25 00:30 hourly",
            "2026-10-25T00:15Z 10-25 01:15 fixed-cron",
            "2026-10-25T00:30Z 10-25 01:30 fixed",
            "2026-10-25T00:30Z 10-25 01:30 hourly",
            "2026-10-25T01:30Z 10-25 01:30 hourly",
        ]
    );
    // A local day of 25 hours: 25 hourly fires, each fixed time once.
    assert_eq!(hourly(&autumn), 25);
    assert_eq!(autumn.fires.len(), 27);
}

#[test]
fn lord_howe_half_hour_shifts() {
    // 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (15:30 UTC the day before);
    // 2026-04-05 02:00 +11:00 -> 01:30 +10:30 (15:00 UTC the day before).
    let y = book(
        "Australia/Lord_Howe",
        "",
        "content:\n  slots:\n    - { id: gap, at: \"02:15\", template: m }\n    - { id: twice, at: \"01:45\", template: m }\n    - { id: quarter, cron: \"*/15 1-2 * * *\", template: m }",
        &["m"],
    );
    let got = plan_rows(&y, "2026-10-03T14:00:00Z", "2026-10-03T16:00:00Z");
    assert_eq!(
        got,
        [
            "2026-10-03T14:30Z 10-04 01:00 quarter",
            "2026-10-03T14:45Z 10-04 01:15 quarter",
            "2026-10-03T15:00Z 10-04 01:30 quarter",
            "2026-10-03T15:15Z 10-04 01:45 twice",
            "2026-10-03T15:15Z 10-04 01:45 quarter",
            "2026-10-03T15:30Z 10-04 02:30 gap",
            "2026-10-03T15:30Z 10-04 02:30 quarter",
            "2026-10-03T15:45Z 10-04 02:45 quarter",
        ]
    );
    let got = plan_rows(&y, "2026-04-04T14:00:00Z", "2026-04-04T16:00:00Z");
    assert_eq!(
        got,
        [
            "2026-04-04T14:00Z 04-05 01:00 quarter",
            "2026-04-04T14:15Z 04-05 01:15 quarter",
            "2026-04-04T14:30Z 04-05 01:30 quarter",
            "2026-04-04T14:45Z 04-05 01:45 twice",
            "2026-04-04T14:45Z 04-05 01:45 quarter",
            // 01:30-02:00 again at +10:30.
            "2026-04-04T15:00Z 04-05 01:30 quarter",
            "2026-04-04T15:15Z 04-05 01:45 quarter",
            "2026-04-04T15:30Z 04-05 02:00 quarter",
            "2026-04-04T15:45Z 04-05 02:15 gap",
            "2026-04-04T15:45Z 04-05 02:15 quarter",
        ]
    );
}

const CALENDAR: &str = "content:
  slots:
    - { id: lesson, cron: \"0 12 * * 1-5\", template: m, topics: [a, b, c] }
    - { id: giveaway, at: \"20:30\", days: [fri], template: m }
    - { id: both, at: \"09:00\", template: m }
    - { id: late, at: \"21:00\", template: m }
  calendar:
    - dates: [\"2027-02-05..2027-02-08\", \"2027-02-12\"]
      skip: [lesson, both]
      move: { giveaway: \"20:00\", both: \"10:00\" }
      add: [{ id: greeting, at: \"10:00\", template: m, topics: [x, y] }]
    - { dates: [\"2027-02-11\"], move: { giveaway: \"19:00\", late: \"23:00\" } }
  quiet_hours: \"22:30-07:00\"";

#[test]
fn calendar_skips_moves_and_adds() {
    let y = book(
        "Asia/Shanghai",
        ", runs: { from: 2027-02-01 }",
        CALENDAR,
        &["m"],
    );
    let p = load(&y);
    // Thursday 2027-02-04 .. Saturday 2027-02-13, local.
    let pl = plan(&p, utc("2027-02-03T16:00:00Z"), utc("2027-02-12T16:00:00Z"));
    let got = rows(&pl);
    let only = |id: &str| -> Vec<String> {
        got.iter()
            .filter(|r| r.split(' ').nth(3) == Some(id))
            .cloned()
            .collect()
    };
    // Skipped on its dates (a weekday range and a lone date), listed with the reason.
    assert_eq!(
        only("lesson"),
        [
            "2027-02-04T04:00Z 02-04 12:00 lesson [a]",
            "2027-02-05T04:00Z 02-05 12:00 lesson -calendar_skip",
            "2027-02-08T04:00Z 02-08 12:00 lesson -calendar_skip",
            "2027-02-09T04:00Z 02-09 12:00 lesson [b]",
            "2027-02-10T04:00Z 02-10 12:00 lesson [c]",
            "2027-02-11T04:00Z 02-11 12:00 lesson [a]",
            "2027-02-12T04:00Z 02-12 12:00 lesson -calendar_skip",
        ]
    );
    // Moved on the Fridays that the entries name; a move on a day the slot does not run
    // (Thursday the 11th) adds nothing.
    assert_eq!(
        only("giveaway"),
        [
            "2027-02-05T12:00Z 02-05 20:00 giveaway moved",
            "2027-02-12T12:00Z 02-12 20:00 giveaway moved",
        ]
    );
    // Skip beats move.
    assert!(only("both").iter().all(|r| !r.contains("moved")));
    assert_eq!(
        only("both")
            .iter()
            .filter(|r| r.ends_with("-calendar_skip"))
            .count(),
        5
    );
    // A move into quiet hours is checked again and suppressed.
    assert!(
        only("late").contains(&"2027-02-11T15:00Z 02-11 23:00 late -quiet_hours moved".to_string())
    );
    // Additions exist only on the entry's dates, and rotate their own topics.
    assert_eq!(
        only("greeting"),
        [
            "2027-02-05T02:00Z 02-05 10:00 greeting [x]",
            "2027-02-06T02:00Z 02-06 10:00 greeting [y]",
            "2027-02-07T02:00Z 02-07 10:00 greeting [x]",
            "2027-02-08T02:00Z 02-08 10:00 greeting [y]",
            "2027-02-12T02:00Z 02-12 10:00 greeting [x]",
        ]
    );
    assert!(
        pl.fires
            .iter()
            .any(|f| matches!(f.source, Source::Calendar { slot: "greeting" }))
    );
}

#[test]
fn phases_chain_by_calendar_days_or_exact_hours() {
    // 2026-03-06 20:00 New York plus 3d is 2026-03-09 20:00 local (EDT, 00:00 UTC), one
    // hour less than 72 real hours because of the spring-forward on the 8th.
    let phases = |dur: &str| {
        format!(
            "activities:\n  - id: act\n    phases:\n      - {{ id: one, start: 2026-03-06T20:00, duration: {dur}, slots: [{{ id: s1, at: \"20:00\", template: m }}] }}\n      - {{ id: two, duration: 1d, slots: [{{ id: s2, at: \"20:00\", template: m }}, {{ id: s3, at: \"20:30\", template: m }}] }}"
        )
    };
    let y = book("America/New_York", "", &phases("3d"), &["m"]);
    let got = plan_rows(&y, "2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z");
    assert_eq!(
        got,
        [
            "2026-03-07T01:00Z 03-06 20:00 act/one/s1",
            "2026-03-08T01:00Z 03-07 20:00 act/one/s1",
            "2026-03-09T00:00Z 03-08 20:00 act/one/s1",
            // Phase two starts at 20:00 local on the 9th: start-inclusive, and phase one
            // ends there: end-exclusive.
            "2026-03-10T00:00Z 03-09 20:00 act/two/s2",
            "2026-03-10T00:30Z 03-09 20:30 act/two/s3",
        ]
    );
    // 72h is exact: phase one ends at 21:00 local on the 9th, so s1 fires that day at 20:00
    // and phase two's 20:00 slot waits for the 10th.
    let y = book("America/New_York", "", &phases("72h"), &["m"]);
    let got = plan_rows(&y, "2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z");
    assert_eq!(
        got,
        [
            "2026-03-07T01:00Z 03-06 20:00 act/one/s1",
            "2026-03-08T01:00Z 03-07 20:00 act/one/s1",
            "2026-03-09T00:00Z 03-08 20:00 act/one/s1",
            "2026-03-10T00:00Z 03-09 20:00 act/one/s1",
            "2026-03-11T00:00Z 03-10 20:00 act/two/s2",
            "2026-03-11T00:30Z 03-10 20:30 act/two/s3",
        ]
    );
}

#[test]
fn calendar_applies_to_phase_slots_and_moves_are_checked_against_the_window() {
    let y = book(
        "Asia/Shanghai",
        "",
        "content:
  calendar:
    - { dates: [\"2026-12-02\"], skip: [task] }
    - { dates: [\"2026-12-03\"], move: { task: \"21:00\" } }
    - { dates: [\"2026-12-04\"], move: { task: \"07:00\" } }
    - { dates: [\"2026-12-01\"], move: { task: \"20:30\" } }
activities:
  - id: act
    channel: admins
    phases:
      - { id: p, start: 2026-12-01T20:00, duration: 3d, slots: [{ id: task, at: \"20:00\", template: m }] }",
        &["m"],
    );
    let got = plan_rows(&y, "2026-11-30T16:00:00Z", "2026-12-05T16:00:00Z");
    assert_eq!(
        got,
        [
            "2026-12-01T12:30Z 12-01 20:30 act/p/task @admins moved",
            "2026-12-02T12:00Z 12-02 20:00 act/p/task @admins -calendar_skip",
            "2026-12-03T13:00Z 12-03 21:00 act/p/task @admins moved",
            // 07:00 on the 4th is inside the window (it ends 20:00 on the 4th) and the 20:00
            // fire it replaces would not have been.
            "2026-12-03T23:00Z 12-04 07:00 act/p/task @admins moved",
        ]
    );
    // Moved before the phase starts: it does not fire at all.
    let y = y.replace("20:30", "19:30");
    let got = plan_rows(&y, "2026-11-30T16:00:00Z", "2026-12-02T00:00:00Z");
    assert_eq!(got, Vec::<String>::new());
}

#[test]
fn quiet_hours_cross_midnight() {
    let y = book(
        "Asia/Shanghai",
        "",
        "content:\n  slots:\n    - { id: a, at: \"22:29\", template: m }\n    - { id: b, at: \"22:30\", template: m }\n    - { id: c, at: \"00:00\", template: m }\n    - { id: d, at: \"06:59\", template: m }\n    - { id: e, at: \"07:00\", template: m }\n  quiet_hours: \"22:30-07:00\"",
        &["m"],
    );
    let got = plan_rows(&y, "2026-12-01T14:00:00Z", "2026-12-02T00:00:00Z");
    assert_eq!(
        got,
        [
            "2026-12-01T14:29Z 12-01 22:29 a",
            "2026-12-01T14:30Z 12-01 22:30 b -quiet_hours",
            "2026-12-01T16:00Z 12-02 00:00 c -quiet_hours",
            "2026-12-01T22:59Z 12-02 06:59 d -quiet_hours",
            "2026-12-01T23:00Z 12-02 07:00 e",
        ]
    );
}

#[test]
fn daily_limit_counts_per_channel_in_the_order_written() {
    let y = book(
        "Asia/Shanghai",
        "",
        "content:
  slots:
    - { id: early, at: \"06:00\", template: m }
    - { id: s1, at: \"09:00\", template: m }
    - { id: s2, at: \"20:00\", template: m }
    - { id: s3, at: \"21:00\", template: m }
    - { id: other, at: \"21:00\", template: m, channel: admins }
  calendar:
    - { dates: [\"2026-12-04\"], add: [{ id: extra, at: \"20:00\", template: m }] }
  quiet_hours: \"22:30-07:00\"
  daily_limit: 2
activities:
  - id: act
    phases:
      - { id: p, start: 2026-12-01T00:00, duration: 10d, slots: [{ id: task, at: \"20:00\", template: m }] }
rewards:
  lotteries:
    - { id: draw, cron: \"0 8 * * 5\", winners: 1, prize: x, template: m }",
        &["m"],
    );
    // Friday 2026-12-04, local.
    let got = plan_rows(&y, "2026-12-03T16:00:00Z", "2026-12-04T16:00:00Z");
    assert_eq!(
        got,
        [
            // Quiet-suppressed fires do not count toward the limit.
            "2026-12-03T22:00Z 12-04 06:00 early -quiet_hours",
            // The lottery counts.
            "2026-12-04T00:00Z 12-04 08:00 draw",
            "2026-12-04T01:00Z 12-04 09:00 s1",
            // At one instant: content, then calendar additions, then activity slots.
            "2026-12-04T12:00Z 12-04 20:00 s2 -daily_limit",
            "2026-12-04T12:00Z 12-04 20:00 extra -daily_limit",
            "2026-12-04T12:00Z 12-04 20:00 act/p/task -daily_limit",
            "2026-12-04T13:00Z 12-04 21:00 s3 -daily_limit",
            // Each channel has its own count.
            "2026-12-04T13:00Z 12-04 21:00 other @admins",
        ]
    );
}

#[test]
fn daily_limit_counts_from_the_start_of_the_local_day_whatever_the_window() {
    let y = book(
        "Asia/Shanghai",
        "",
        "content:\n  slots:\n    - { id: s1, at: \"09:00\", template: m }\n    - { id: s2, at: \"12:00\", template: m }\n    - { id: s3, at: \"18:00\", template: m }\n  daily_limit: 2",
        &["m"],
    );
    // A window that starts after the first two fires of the day still suppresses the third.
    let got = plan_rows(&y, "2026-12-04T08:00:00Z", "2026-12-04T12:00:00Z");
    assert_eq!(got, ["2026-12-04T10:00Z 12-04 18:00 s3 -daily_limit"]);
}

#[test]
fn outside_runs_comes_first_and_does_not_rotate_topics() {
    let y = book(
        "Asia/Shanghai",
        ", runs: { from: 2026-12-02, until: 2026-12-03 }",
        "content:\n  slots:\n    - { id: s, at: \"23:00\", template: m, topics: [a, b, c] }\n  calendar:\n    - { dates: [\"2026-12-01..2026-12-04\"], skip: [s] }\n    - { dates: [\"2026-12-05\"], move: { s: \"12:00\" } }\n  quiet_hours: \"22:30-07:00\"",
        &["m"],
    );
    let got = plan_rows(&y, "2026-11-30T16:00:00Z", "2026-12-05T16:00:00Z");
    assert_eq!(
        got,
        [
            "2026-12-01T15:00Z 12-01 23:00 s -outside_runs",
            "2026-12-02T15:00Z 12-02 23:00 s -calendar_skip",
            "2026-12-03T15:00Z 12-03 23:00 s -calendar_skip",
            "2026-12-04T15:00Z 12-04 23:00 s -outside_runs",
            "2026-12-05T04:00Z 12-05 12:00 s -outside_runs moved",
        ]
    );
    let y = book(
        "Asia/Shanghai",
        ", runs: { from: 2026-12-02 }",
        "content:\n  slots:\n    - { id: s, at: \"23:00\", template: m, topics: [a, b, c] }\n  calendar:\n    - { dates: [\"2026-12-03\"], skip: [s] }\n  quiet_hours: \"22:30-07:00\"",
        &["m"],
    );
    let got = plan_rows(&y, "2026-11-30T16:00:00Z", "2026-12-06T16:00:00Z");
    assert_eq!(
        got,
        [
            "2026-12-01T15:00Z 12-01 23:00 s -outside_runs",
            // The first fire in runs gets the first topic; quiet-suppressed fires rotate.
            "2026-12-02T15:00Z 12-02 23:00 s [a] -quiet_hours",
            "2026-12-03T15:00Z 12-03 23:00 s -calendar_skip",
            "2026-12-04T15:00Z 12-04 23:00 s [b] -quiet_hours",
            "2026-12-05T15:00Z 12-05 23:00 s [c] -quiet_hours",
            "2026-12-06T15:00Z 12-06 23:00 s [a] -quiet_hours",
        ]
    );
}

/// Every rotating fire (slot id, instant) from 1970 to `until`, the slow way: whole plans
/// of 400 days, one after the other.
fn rotating_history(p: &Program, until: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut t = utc("1969-12-30T00:00:00Z");
    while t < until {
        let next = (t + chrono::Duration::days(400)).min(until);
        out.extend(
            plan(p, t, next)
                .fires
                .iter()
                .filter(|f| f.topic.is_some())
                .map(|f| (f.source.id().to_string(), f.at)),
        );
        t = next;
    }
    out
}

#[test]
fn topics_count_from_1970_without_runs_and_ignore_the_window() {
    let y = book(
        "America/New_York",
        "",
        "content:
  slots:
    - { id: lesson, cron: \"0 12 13 * fri\", template: m, topics: [t0, t1, t2, t3, t4, t5, t6] }
    - { id: real, cron: \"*/30 1-2 * * *\", template: m, topics: [r0, r1, r2, r3, r4] }
    - { id: daily, at: \"02:30\", days: [sun, wed], template: m, topics: [d0, d1, d2] }
  calendar:
    - { dates: [\"1999-12-31..2000-01-20\", \"2026-03-13\"], skip: [lesson, real], move: { daily: \"08:00\" } }
    - { dates: [\"2020-03-08..2020-03-09\"], move: { real: \"09:00\" } }",
        &["m"],
    );
    let p = load(&y);
    let from = utc("2026-03-01T00:00:00Z");
    let until = utc("2026-04-01T00:00:00Z");
    let whole = plan(&p, from, until);
    let history = rotating_history(&p, until);
    for f in &whole.fires {
        let topics: &[&str] = match f.source.id() {
            "lesson" => &["t0", "t1", "t2", "t3", "t4", "t5", "t6"],
            "real" => &["r0", "r1", "r2", "r3", "r4"],
            _ => &["d0", "d1", "d2"],
        };
        if f.status == Status::Suppressed(Reason::CalendarSkip) {
            assert_eq!(f.topic, None);
            continue;
        }
        let n = history
            .iter()
            .filter(|(id, at)| id == f.source.id() && *at < f.at)
            .count();
        assert_eq!(f.topic, Some(topics[n % topics.len()]), "{f:?}");
        assert_eq!(topic_at(&p, f.source.id(), f.at), f.topic);
    }
    // Every sub-window gives each fire the same topic.
    for (a, b) in [
        ("2026-03-10T00:00:00Z", "2026-03-14T00:00:00Z"),
        ("2026-03-31T00:00:00Z", "2026-04-01T00:00:00Z"),
    ] {
        let part = plan(&p, utc(a), utc(b));
        for f in &part.fires {
            let same = whole
                .fires
                .iter()
                .find(|g| g.key() == f.key())
                .expect("in the whole plan");
            assert_eq!(f.topic, same.topic);
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const ZONES: &[&str] = &[
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "Asia/Shanghai",
        "UTC",
        // Transitions at midnight: a day starts at 01:00, or 23:00 comes back.
        "America/Havana",
        "America/Santiago",
    ];
    const TIMES: &[&str] = &[
        "00:00", "01:30", "01:45", "02:15", "02:30", "07:00", "07:30", "12:00", "20:00", "23:45",
    ];
    const DAYS: &[&str] = &[
        "",
        ", days: weekdays",
        ", days: weekends",
        ", days: [sun, wed]",
    ];
    const CRONS: &[&str] = &[
        "0 12 * * 1-5",
        "*/30 1-3 * * *",
        "30 * * * *",
        "0 9 13 * fri",
        "15 2 * * *",
        "0,30 1 * * 0",
        "0 */5 */10 * *",
        "45 1 * 3,10,11 *",
    ];
    const QUIET: &[&str] = &["22:30-07:00", "01:00-02:00", "12:00-13:00"];

    #[derive(Debug, Clone)]
    struct SlotSpec {
        cron: Option<usize>,
        time: usize,
        days: usize,
        topics: bool,
        admins: bool,
    }

    fn slot() -> impl Strategy<Value = SlotSpec> {
        (
            prop::option::of(0..CRONS.len()),
            0..TIMES.len(),
            0..DAYS.len(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(cron, time, days, topics, admins)| SlotSpec {
                cron,
                time,
                days,
                topics,
                admins,
            })
    }

    fn slot_yaml(id: &str, s: &SlotSpec) -> String {
        let when = match s.cron {
            Some(c) => format!("cron: \"{}\"", CRONS[c]),
            None => format!("at: \"{}\"{}", TIMES[s.time], DAYS[s.days]),
        };
        let topics = if s.topics { ", topics: [a, b, c]" } else { "" };
        let channel = if s.admins { ", channel: admins" } else { "" };
        format!("{{ id: {id}, {when}, template: m{topics}{channel} }}")
    }

    /// First day, length in days, which slots it skips, where it moves them, an addition.
    type EntrySpec = (u32, u32, Vec<bool>, Vec<Option<usize>>, Option<SlotSpec>);

    #[derive(Debug, Clone)]
    struct BookSpec {
        zone: usize,
        runs: Option<(u32, Option<u32>)>,
        slots: Vec<SlotSpec>,
        calendar: Vec<EntrySpec>,
        quiet: Option<usize>,
        limit: Option<u32>,
        activity: Option<(u32, usize, bool, SlotSpec, SlotSpec)>,
        lottery: Option<usize>,
    }

    /// A day of 2026 as a date.
    fn day(n: u32) -> String {
        (NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n as u64)).to_string()
    }

    use chrono::NaiveDate;

    fn book_spec() -> impl Strategy<Value = BookSpec> {
        (
            0..ZONES.len(),
            prop::option::of((40u32..300, prop::option::of(0u32..60))),
            prop::collection::vec(slot(), 1..5),
            prop::collection::vec(
                (
                    40u32..320,
                    0u32..4,
                    prop::collection::vec(any::<bool>(), 5),
                    prop::collection::vec(prop::option::of(0..TIMES.len()), 5),
                    prop::option::of(slot()),
                ),
                0..3,
            ),
            prop::option::of(0..QUIET.len()),
            prop::option::of(1u32..4),
            prop::option::of((40u32..300, 0usize..4, any::<bool>(), slot(), slot())),
            prop::option::of(0..CRONS.len()),
        )
            .prop_map(
                |(zone, runs, slots, calendar, quiet, limit, activity, lottery)| BookSpec {
                    zone,
                    runs: runs.map(|(a, len)| (a, len.map(|l| a + l))),
                    slots,
                    calendar,
                    quiet,
                    limit,
                    activity,
                    lottery,
                },
            )
    }

    fn yaml(b: &BookSpec) -> String {
        let runs = match b.runs {
            None => String::new(),
            Some((from, None)) => format!(", runs: {{ from: {} }}", day(from)),
            Some((from, Some(until))) => {
                format!(", runs: {{ from: {}, until: {} }}", day(from), day(until))
            }
        };
        let mut s = String::from("content:\n  slots:\n");
        for (i, sl) in b.slots.iter().enumerate() {
            s.push_str(&format!("    - {}\n", slot_yaml(&format!("s{i}"), sl)));
        }
        if !b.calendar.is_empty() {
            s.push_str("  calendar:\n");
            for (i, (start, len, skips, moves, add)) in b.calendar.iter().enumerate() {
                let ids = |f: &dyn Fn(usize) -> Option<String>| -> Vec<String> {
                    (0..b.slots.len()).filter_map(f).collect()
                };
                let skip = ids(&|j| skips[j].then(|| format!("s{j}")));
                let mv = ids(&|j| moves[j].map(|t| format!("s{j}: \"{}\"", TIMES[t])));
                // Added slots take `at` only, every day of the entry.
                let add = add
                    .as_ref()
                    .map(|a| {
                        let a = SlotSpec {
                            cron: None,
                            days: 0,
                            ..a.clone()
                        };
                        format!(", add: [{}]", slot_yaml(&format!("add{i}"), &a))
                    })
                    .unwrap_or_default();
                s.push_str(&format!(
                    "    - {{ dates: [\"{}..{}\"], skip: [{}], move: {{ {} }}{add} }}\n",
                    day(*start),
                    day(start + len),
                    skip.join(", "),
                    mv.join(", ")
                ));
            }
        }
        if let Some(q) = b.quiet {
            s.push_str(&format!("  quiet_hours: \"{}\"\n", QUIET[q]));
        }
        if let Some(l) = b.limit {
            s.push_str(&format!("  daily_limit: {l}\n"));
        }
        if let Some((start, dur, hours, s1, s2)) = &b.activity {
            let durations = ["1d", "3d", "2w", "30h"];
            let d2 = if *hours { "36h" } else { "2d" };
            s.push_str(&format!(
                "activities:\n  - id: act\n    phases:\n      - {{ id: one, start: {}T20:00, duration: {}, slots: [{}] }}\n      - {{ id: two, duration: {d2}, slots: [{}] }}\n",
                day(*start),
                durations[*dur],
                slot_yaml("p1", s1),
                slot_yaml("p2", s2)
            ));
        }
        if let Some(c) = b.lottery {
            s.push_str(&format!(
                "rewards:\n  lotteries:\n    - {{ id: draw, cron: \"{}\", winners: 1, prize: x, template: m }}\n",
                CRONS[c]
            ));
        }
        book(ZONES[b.zone], &runs, &s, &["m"])
    }

    fn instant(minutes: u32) -> DateTime<Utc> {
        utc("2026-02-01T00:00:00Z") + chrono::Duration::minutes(minutes as i64)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn a_plan_splits_at_any_instant(
            spec in book_spec(),
            start in 0u32..(300 * 1440),
            len in 1u32..(9 * 1440),
            cut in 0u32..=1000,
        ) {
            let p = load(&yaml(&spec));
            let (a, c) = (instant(start), instant(start + len));
            let b = instant(start + len * cut / 1000);
            let whole = plan(&p, a, c);
            let mut parts = plan(&p, a, b).fires;
            parts.extend(plan(&p, b, c).fires);
            prop_assert_eq!(&whole.fires, &parts);
        }

        #[test]
        fn fires_are_inside_the_window_in_order_and_topics_agree(
            spec in book_spec(),
            start in 0u32..(300 * 1440),
            len in 1u32..(9 * 1440),
        ) {
            let p = load(&yaml(&spec));
            let (a, c) = (instant(start), instant(start + len));
            let pl = plan(&p, a, c);
            for (i, f) in pl.fires.iter().enumerate() {
                prop_assert!(a <= f.at && f.at < c, "{:?} outside [{}, {})", f, a, c);
                prop_assert_eq!(f.local.with_timezone(&Utc), f.at);
                // At an instant where a slot fires twice (two times in one DST gap),
                // topic_at answers for the first of them.
                let first_here = !pl.fires[..i]
                    .iter()
                    .any(|g| g.at == f.at && g.source == f.source);
                if let (Some(t), true) = (f.topic, first_here) {
                    prop_assert_eq!(topic_at(&p, f.source.id(), f.at), Some(t));
                }
            }
            for w in pl.fires.windows(2) {
                prop_assert!(w[0].at <= w[1].at);
            }
            let keys: std::collections::HashSet<String> = pl.fires.iter().map(|f| f.key()).collect();
            prop_assert_eq!(keys.len(), pl.fires.len(), "keys are unique");
        }
    }
}
