//! Validation speed: loading from memory (`load_bytes`) plus every semantic check
//! (`validate::check`).
//!
//! Target (issue 2): a playbook with 1,000 slots, 200 templates and 50 activities validates in
//! under 20 ms on the 2-core CI machine. Run with `cargo bench --bench validate`.
//!
//! The whole-process target (`drumbeat validate` over 1,000 example-sized playbooks in under
//! 1 s) is measured with hyperfine over a folder written by
//! `cargo run --release --example playbook_folder -- DIR`; see that example.

use criterion::{Criterion, criterion_group, criterion_main};
use drumbeat::playbook::load::{Loaded, load_bytes};
use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;

const SLOTS: usize = 1_000;
const TEMPLATES: usize = 200;
const ACTIVITIES: usize = 50;

/// A large but realistic playbook: every section used, Chinese text throughout, a mix of
/// flow and block style, `at` and `cron` slots, quiet hours, a calendar, phases chained by
/// duration. Every template is used, so the checks find nothing to report.
fn large_playbook() -> String {
    let mut y = String::new();
    y.push_str(
        r#"# yaml-language-server: $schema=../schemas/playbook.schema.json
version: 1
community:
  id: big-camp
  name: 万人打卡营
  kind: service
  goal: 帮助上班族养成运动习惯
  audience: [上班族, 减脂新手]
  timezone: Asia/Shanghai
  locale: zh-CN
  capacity: 5000
  runs: { from: 2026-01-01, until: 2027-12-31 }
channels:
  group:   { type: wecom, webhook: "${WECOM_WEBHOOK}", rate_limit: 20/min }
  admins:  { type: dingtalk, webhook: "${DINGTALK_WEBHOOK}", secret: "${DINGTALK_SECRET}" }
  preview: { type: console }
default_channel: group
entry:
  requirements:
    - { id: rules, kind: accept_rules }
    - { id: nickname, kind: nickname, pattern: '^\p{Han}{1,6}-\S{1,12}$', hint: 城市-昵称 }
  welcome: t-000
  refusal: t-014
rules:
  - id: no-ads
    description: 禁止发广告和二维码
    match: { keywords: [代购, 加我微信, 扫码领], links: true }
    penalties: [warn, mute 1h, remove]
    template: t-002
content:
  quiet_hours: "23:00-06:30"
  daily_limit: 40
  calendar:
    - { dates: ["2027-02-05..2027-02-12"], skip: [slot-0001, slot-0002], move: { slot-0003: "10:00" } }
  slots:
"#,
    );
    for i in 0..SLOTS {
        let t = i % TEMPLATES;
        let (h, m) = (7 + i % 15, (i * 7) % 60);
        match i % 4 {
            0 => writeln!(
                y,
                "    - {{ id: slot-{i:04}, at: \"{h:02}:{m:02}\", template: t-{t:03} }}"
            ),
            1 => writeln!(
                y,
                "    - {{ id: slot-{i:04}, at: \"{h:02}:{m:02}\", days: weekdays, template: t-{t:03}, topics: [深蹲, 平板支撑, 开合跳] }}"
            ),
            2 => writeln!(
                y,
                "    - {{ id: slot-{i:04}, cron: \"{m} {h} * * 1-5\", template: t-{t:03}, channel: group }}"
            ),
            _ => writeln!(
                y,
                "    - id: slot-{i:04}\n      at: \"{h:02}:{m:02}\"\n      days: [mon, wed, fri]\n      template: t-{t:03}\n      grace: 5m"
            ),
        }
        .unwrap();
    }
    y.push_str("activities:\n");
    for a in 0..ACTIVITIES {
        let day = 1 + a % 28;
        write!(
            y,
            "  - id: act-{a:02}\n    name: 挑战赛{a}\n    goal: {{ metric: checkins, target: 300 }}\n    phases:\n      - id: warmup\n        start: 2026-{:02}-{day:02}T20:00\n        duration: 3d\n        slots: [{{ id: act-{a:02}-teaser, at: \"20:00\", template: t-{:03} }}]\n      - id: live\n        duration: 7d\n        slots: [{{ id: act-{a:02}-task, at: \"08:00\", template: t-{:03} }}]\n      - id: review\n        duration: 1d\n        slots: [{{ id: act-{a:02}-recap, at: \"21:00\", template: t-{:03} }}]\n",
            1 + a % 12,
            (4 * a) % TEMPLATES,
            (4 * a + 2) % TEMPLATES,
            (4 * a + 4) % TEMPLATES,
        )
        .unwrap();
    }
    y.push_str(
        r#"rewards:
  points:
    - { on: checkin, points: 10, per_day: 1 }
    - { on: message, points: 1, cooldown: 60s, per_day: 20 }
  streaks:
    - { on: checkin, every: 7, bonus: 50, template: t-000 }
  tiers:
    levels:
      - { id: newcomer, name: 新人, min: 0 }
      - { id: regular, name: 达人, min: 300 }
      - { id: core, name: 铁杆, min: 1000 }
    announce: t-002
  badges:
    - { id: kol, name: 核心分享官, when: "stats.messages_7d >= 50", template: t-004 }
  lotteries:
    - { id: weekly-draw, cron: "0 20 * * 5", eligible: "stats.checkins_7d >= 5", winners: 3, prize: 满100减20券, template: t-006 }
  occasions:
    - { on: birthday, at: "09:00", template: t-008 }
segments:
  - { id: active, when: "stats.messages_7d >= 10" }
retention:
  recall: { inactive: 7d, template: t-010, channel: admins }
  eliminate: { inactive: 30d, warn_before: 3d, warn_template: t-012 }
templates:
"#,
    );
    for t in 0..TEMPLATES {
        // Templates 4k+1 rotate topics (slots 4k+1 have `topics`); the others speak to the
        // whole group, so they fit every place.
        if t % 4 != 1 {
            writeln!(
                y,
                "  t-{t:03}: |\n    【第{t}号消息】{{{{ community.name }}}} 的伙伴们好!\n    今天是{{{{ now }}}},记得完成今天的训练,坚持就是胜利。\n    {{% for r in rules %}}{{{{ loop.index }}}}. {{{{ r.description }}}}\n    {{% endfor %}}"
            )
        } else {
            writeln!(
                y,
                "  t-{t:03}: \"【午间小课】今天练{{{{ topic }}}},跟着视频做三组,完成后回复「打卡」。第{t}课\""
            )
        }
        .unwrap();
    }
    y
}

fn validate(text: &[u8]) -> usize {
    let mut loaded = Loaded::default();
    load_bytes(&mut loaded, Path::new("bench.yaml"), text.to_vec());
    drumbeat::validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    assert_eq!(loaded.playbooks.len(), 1, "the playbook loads");
    loaded.diagnostics.len()
}

fn benches(c: &mut Criterion) {
    let large = large_playbook();
    let example = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/spec-example.yaml"),
    )
    .expect("the language's example");

    // The inputs must be clean, or the benchmark would time error reporting.
    let mut loaded = Loaded::default();
    load_bytes(
        &mut loaded,
        Path::new("bench.yaml"),
        large.clone().into_bytes(),
    );
    drumbeat::validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    assert!(
        !loaded.diagnostics.has_errors(),
        "the generated playbook is valid: {:?}",
        loaded.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let slots = loaded.playbooks[0].all_slots().count();
    assert!(slots >= SLOTS, "{slots} slots");
    assert_eq!(loaded.playbooks[0].templates.len(), TEMPLATES);
    assert_eq!(loaded.playbooks[0].activities.len(), ACTIVITIES);

    let mut g = c.benchmark_group("validate");
    g.bench_function("1000-slots-200-templates-50-activities", |b| {
        b.iter(|| validate(black_box(large.as_bytes())))
    });
    g.bench_function("spec-example", |b| b.iter(|| validate(black_box(&example))));
    g.finish();

    // Loading alone, and the checks alone, to see where the time goes.
    c.bench_function("load/1000-slots", |b| {
        b.iter(|| {
            let mut loaded = Loaded::default();
            load_bytes(
                &mut loaded,
                Path::new("bench.yaml"),
                large.clone().into_bytes(),
            );
            loaded.playbooks.len()
        })
    });
    c.bench_function("check/1000-slots", |b| {
        b.iter(|| {
            let mut diags = drumbeat::diag::Diagnostics::new();
            drumbeat::validate::check(black_box(&loaded.playbooks), &mut diags);
            diags.len()
        })
    });
}

criterion_group!(validate_benches, benches);
criterion_main!(validate_benches);
