//! Specs for `render` and for the static template checks.

use crate::common::{drumbeat, root};
use chrono::{DateTime, Utc};
use drumbeat::plan::slot_values;
use drumbeat::playbook::load_paths;
use drumbeat::template::{places_of, sample};
use std::fmt::Write;

const SPEC: &str = "tests/fixtures/valid/spec-example.yaml";

#[test]
fn a_slot_template_renders_its_rotated_topic_at_the_given_time() {
    // The community runs from Tuesday 2026-12-01; the lesson fires on weekdays, so
    // Wednesday is its second fire (topic 2) and the next Monday its fifth (topic 5).
    let out = drumbeat(["render", SPEC, "lesson", "--at", "2026-12-02T12:00"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "【午间小课】今天练平板支撑,跟着视频做三组,完成后回复「打卡」。\n"
    );
    assert_eq!(out.stderr, "");
    let out = drumbeat([
        "render",
        SPEC,
        "lesson",
        "--at",
        "2026-12-07T12:00:00+08:00",
    ]);
    assert_eq!(
        out.stdout,
        "【午间小课】今天练拉伸,跟着视频做三组,完成后回复「打卡」。\n"
    );
}

#[test]
fn member_messages_use_sample_values_and_say_so_on_stderr() {
    let out = drumbeat(["render", SPEC, "welcome", "--at", "2026-12-01T09:00"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "欢迎 林小满 加入「21天减脂打卡营」!\n我们的目标:帮助上班族在21天里养成运动习惯\n群规:\n1. 禁止发广告和二维码\n2. 禁止人身攻击\n"
    );
    assert_eq!(
        out.stderr,
        "note: rendered as the entry welcome with sample values for member, stats, segments\n"
    );
}

#[test]
fn a_member_file_replaces_the_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("member.json");
    std::fs::write(&plain, r#"{"id": "u-77", "name": "王大锤"}"#).unwrap();
    let out = drumbeat([
        "render",
        SPEC,
        "recall",
        "--member",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "好久不见 王大锤,最近还在练吗?\n");
    assert_eq!(
        out.stderr,
        "note: rendered as the recall message with sample values for stats, segments\n"
    );

    let full = tmp.path().join("values.json");
    std::fs::write(
        &full,
        r#"{"member": {"id": "u-9", "name": "阿花"}, "stats": {"streak": 14}, "points": 80}"#,
    )
    .unwrap();
    let out = drumbeat(["render", SPEC, "streak", "--member", full.to_str().unwrap()]);
    assert_eq!(out.stdout, "阿花 连续打卡14天,奖励80积分!\n");
}

#[test]
fn phase_slots_know_their_phase_and_lotteries_their_winners() {
    let out = drumbeat(["render", SPEC, "challenge-task", "--at", "2026-12-05T08:00"]);
    assert_eq!(out.stdout, "挑战第live阶段:今天完成50个深蹲。\n");
    let out = drumbeat(["render", SPEC, "draw-result", "--at", "2026-12-04T20:00"]);
    assert_eq!(
        out.stdout,
        "本周抽奖结果:林小满 周一一 阿杰 获得满100减20券\n"
    );
}

#[test]
fn an_unknown_template_is_a_usage_error_with_a_suggestion() {
    let out = drumbeat(["render", SPEC, "welcom"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: the playbook has no template `welcom`; did you mean `welcome`?\n"
    );
}

#[test]
fn an_invalid_playbook_is_not_rendered() {
    let out = drumbeat([
        "render",
        "tests/fixtures/templates/group-slot-member.yaml",
        "morning",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("error[template-undefined]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with("error: the playbook has errors, so it cannot be rendered\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn template_checks_point_inside_the_template() {
    insta::glob!("fixtures/templates/*.yaml", |path| {
        let rel = path.strip_prefix(root()).unwrap();
        let out = drumbeat(["validate", "--format", "json", rel.to_str().unwrap()]);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let mut lines = String::new();
        for d in json["diagnostics"].as_array().unwrap() {
            writeln!(
                lines,
                "{}:{} {} {}",
                d["line"],
                d["column"],
                d["code"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            )
            .unwrap();
        }
        insta::assert_snapshot!(format!("exit: {}\n{lines}", out.code));
    });
}

/// Every template of every example renders, for the first place that sends it, with
/// sample values where no event is at hand. New example playbooks are picked up here.
#[test]
fn every_example_template_renders() {
    let at: DateTime<Utc> = "2026-12-02T04:00:00Z".parse().unwrap();
    let render_all = |path: &std::path::Path| {
        let loaded = load_paths(&[path.to_path_buf()]);
        assert!(loaded.diagnostics.is_empty(), "{path:?}");
        let text = std::fs::read_to_string(path).unwrap();
        let program = drumbeat::compile::from_text(&path.display().to_string(), &text)
            .unwrap_or_else(|e| panic!("{e}"));
        let p = program.playbook();
        let engine = program.engine();
        let places = places_of(p);
        let mut out = String::new();
        for id in p.templates.keys() {
            let place = places
                .iter()
                .find(|(t, _)| *t == id.as_str())
                .map(|(_, pl)| pl);
            let mut ctx = engine.context(at);
            if let Some(place) = place {
                slot_values(&program, place, at, &mut ctx);
                sample::fill(p, place, &mut ctx);
            }
            let text = engine
                .render(id.as_str(), &ctx)
                .unwrap_or_else(|e| panic!("{path:?} {id}: {e}"));
            writeln!(out, "== {id}\n{text}\n").unwrap();
        }
        insta::assert_snapshot!(out);
    };
    insta::glob!("fixtures/valid/*.yaml", |path| render_all(path));
    insta::glob!("../playbooks", "*.yaml", |path| render_all(path));
}
