//! Rendering a typical ~300-byte Chinese member message (target: at least 200,000 renders
//! per second on one core, so at most 5 µs each).
//!
//! Run: cargo bench --bench render

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drumbeat::playbook::load::{Loaded, load_bytes};
use drumbeat::template::{Engine, Place, sample};
use std::hint::black_box;
use std::path::Path;

const PLAYBOOK: &str = r#"
version: 1
community: { id: bench, name: 21天减脂打卡营, kind: service, timezone: Asia/Shanghai, goal: 帮助上班族在21天里养成运动习惯 }
channels:
  group: { type: console }
rewards:
  streaks:
    - { on: checkin, every: 7, bonus: 50, template: streak }
templates:
  streak: |
    🎉 恭喜 {{ member.name }} 在「{{ community.name }}」连续打卡{{ stats.streak }}天!
    本次奖励 {{ points }} 积分,当前共 {{ stats.points | number }} 积分。
    {{ now | date }} {{ now | weekday }},继续保持,下一个里程碑就在眼前 💪
    今天的小目标:{{ community.goal }}。
"#;

fn bench(c: &mut Criterion) {
    let mut loaded = Loaded::default();
    load_bytes(
        &mut loaded,
        Path::new("bench.yaml"),
        PLAYBOOK.as_bytes().to_vec(),
    );
    let p = loaded.playbooks.pop().expect("the bench playbook loads");
    let engine = Engine::new(&p).expect("templates compile");
    let at: DateTime<Utc> = "2026-12-07T12:00:00Z".parse().unwrap();
    let mut ctx = engine.context(at);
    sample::fill(&p, &Place::Streak, &mut ctx);
    let text = engine.render("streak", &ctx).unwrap();
    assert!(
        (250..400).contains(&text.len()),
        "message is {} bytes",
        text.len()
    );

    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1));
    g.bench_function("member message, context built once", |b| {
        b.iter(|| black_box(engine.render("streak", black_box(&ctx)).unwrap()))
    });
    g.bench_function("member message, context built per message", |b| {
        b.iter(|| {
            let mut ctx = engine.context(black_box(at));
            ctx.set(
                "member",
                serde_json::json!({"id": "u-1024", "name": "林小满"}),
            );
            ctx.set("stats", serde_json::json!({"streak": 7, "points": 1320}));
            ctx.set("points", 50);
            black_box(engine.render("streak", &ctx).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
