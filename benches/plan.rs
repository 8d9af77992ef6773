//! Planning a year for 1,000 example-sized playbooks (target: under 1 s in total).
//!
//! Run: cargo bench --bench plan

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use drumbeat::compile::Program;
use std::hint::black_box;

const ZONES: &[&str] = &[
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Tokyo",
    "Europe/Berlin",
];

/// An example-sized playbook: five content slots (one a cron with topics, one real-time),
/// a calendar entry that skips, moves and adds, quiet hours, a daily limit, an activity with
/// three phases and a lottery. Half have `runs` (a year), half are open-ended, so topic
/// rotation counts from 1970.
fn playbook_text(i: usize) -> String {
    let zone = ZONES[i % ZONES.len()];
    let runs = if i.is_multiple_of(2) {
        "  runs: { from: 2026-06-01, until: 2027-05-31 }\n"
    } else {
        ""
    };
    let h = 6 + i % 4;
    let m = (i * 7) % 60;
    format!(
        r#"version: 1
community:
  id: camp-{i}
  name: 第{i}期打卡营
  kind: service
  timezone: {zone}
{runs}channels:
  group: {{ type: console }}
  admins: {{ type: console }}
default_channel: group
content:
  slots:
    - {{ id: morning, at: "{h:02}:{m:02}", template: morning }}
    - {{ id: lesson, cron: "0 12 * * 1-5", template: lesson, topics: [深蹲, 平板支撑, 开合跳, 跳绳, 拉伸] }}
    - {{ id: share, at: "18:30", days: weekdays, template: share }}
    - {{ id: giveaway, at: "20:30", days: [fri], template: giveaway }}
    - {{ id: reminder, cron: "30 */6 * * *", template: reminder, channel: admins }}
  calendar:
    - dates: ["2027-02-05..2027-02-12"]
      skip: [lesson]
      move: {{ giveaway: "20:00" }}
      add: [{{ id: greeting, at: "10:00", template: greeting }}]
  quiet_hours: "22:30-07:00"
  daily_limit: 4
activities:
  - id: challenge
    phases:
      - {{ id: warmup, start: 2026-12-01T20:00, duration: 3d, slots: [{{ id: teaser, at: "20:00", template: teaser }}] }}
      - {{ id: live, duration: 14d, slots: [{{ id: task, at: "08:00", template: task }}] }}
      - {{ id: review, duration: 1d, slots: [{{ id: recap, at: "21:00", template: recap }}] }}
rewards:
  lotteries:
    - {{ id: draw, cron: "0 20 * * 5", winners: 3, prize: 优惠券, template: draw }}
templates:
  morning: "早安"
  lesson: "今天练{{{{ topic }}}}"
  share: "分享时间"
  giveaway: "福利"
  reminder: "提醒"
  greeting: "新年好"
  teaser: "预热"
  task: "任务"
  recap: "复盘"
  draw: "抽奖结果"
"#
    )
}

fn playbooks(n: usize) -> Vec<Program> {
    (0..n)
        .map(|i| {
            let path = format!("camp-{i}.yaml");
            drumbeat::compile::from_text(&path, &playbook_text(i))
                .unwrap_or_else(|e| panic!("generated playbooks compile: {e}"))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let books = playbooks(1000);
    let from: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let until: DateTime<Utc> = Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap();
    let fires: usize = books
        .iter()
        .map(|p| drumbeat::plan::plan(p, from, until).fires.len())
        .sum();
    eprintln!("1,000 playbooks, one year: {fires} fires");
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.bench_function("one year x 1,000 playbooks", |b| {
        b.iter(|| {
            let mut n = 0;
            for p in &books {
                n += drumbeat::plan::plan(black_box(p), from, until).fires.len();
            }
            n
        })
    });
    // The runtime plans in short windows, again and again: the cost of one minute.
    let minute = from + chrono::Duration::days(200);
    group.bench_function("one minute x 1,000 playbooks", |b| {
        b.iter(|| {
            let mut n = 0;
            for p in &books {
                n += drumbeat::plan::plan(
                    black_box(p),
                    minute,
                    minute + chrono::Duration::minutes(1),
                )
                .fires
                .len();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
