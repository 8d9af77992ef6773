//! Specs for `drumbeat plan`: the real executable on the fixture playbooks of
//! tests/fixtures/plan/, always with an explicit window (never today's date).

use crate::common::{Output, drumbeat};

const CAMP: &str = "tests/fixtures/plan/spring-festival.yaml";
const NEW_YORK: &str = "tests/fixtures/plan/new-york-dst.yaml";
// A copy of the language example, so that changes to the shared fixture do not move this plan.
const SPEC: &str = "tests/fixtures/plan/spec-example.yaml";

fn plan(args: &[&str]) -> Output {
    let out = drumbeat(std::iter::once("plan").chain(args.iter().copied()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

#[test]
fn table_shows_every_fire_with_its_status() {
    let out = plan(&[CAMP, "--from", "2027-02-04", "--days", "8"]);
    insta::assert_snapshot!("spring_festival_table", out.stdout);
    // Warnings do not stop planning; they are reported on stderr.
    assert!(out.stderr.contains("slot-always-quiet"), "{}", out.stderr);
}

#[test]
fn the_language_example_plans_its_first_week() {
    let out = plan(&[SPEC, "--from", "2026-12-01", "--days", "7"]);
    insta::assert_snapshot!("spec_example_table", out.stdout);
}

#[test]
fn dst_gap_and_overlap_in_new_york() {
    let spring = plan(&[NEW_YORK, "--from", "2026-03-08", "--days", "1"]);
    insta::assert_snapshot!("new_york_spring_table", spring.stdout);
    let autumn = plan(&[
        NEW_YORK,
        "--from",
        "2026-11-01",
        "--until",
        "2026-11-01T04:00",
        "--format",
        "json",
    ]);
    insta::assert_snapshot!("new_york_autumn_json", autumn.stdout);
}

#[test]
fn json_has_the_documented_fields() {
    let out = plan(&[
        CAMP,
        "--from",
        "2027-02-04",
        "--days",
        "8",
        "--format",
        "json",
    ]);
    insta::assert_snapshot!("spring_festival_json", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    // (serde_json's map sorts keys; the order printed is in the snapshot.)
    let sorted = |o: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let mut top = vec![
        "community",
        "timezone",
        "from",
        "until",
        "fires",
        "event_driven",
    ];
    top.sort();
    assert_eq!(sorted(&v), top);
    let mut fields = [
        "key",
        "at",
        "local",
        "scheduled",
        "source",
        "id",
        "activity",
        "phase",
        "channel",
        "assist",
        "template",
        "topic",
        "grace",
        "moved",
        "status",
        "reason",
    ];
    fields.sort();
    let fires = v["fires"].as_array().unwrap();
    assert_eq!(fires.len(), 40);
    for f in fires {
        assert_eq!(sorted(f), fields);
        assert_eq!(
            f["reason"].is_null(),
            f["status"] == "planned",
            "a reason exactly when suppressed: {f}"
        );
    }
    // Every field named in --help is there.
    let help = drumbeat(["plan", "--help"]).stdout;
    for field in fields {
        assert!(help.contains(field), "--help documents `{field}`");
    }
    for e in v["event_driven"].as_array().unwrap() {
        assert_eq!(sorted(e), ["channel", "id", "kind", "template", "when"]);
    }
}

#[test]
fn ics_is_rfc_5545() {
    let out = plan(&[
        CAMP,
        "--from",
        "2027-02-04",
        "--days",
        "8",
        "--format",
        "ics",
    ]);
    let ics = &out.stdout;
    // Every line ends with CRLF and is at most 75 octets; continuation lines start with a space.
    assert!(ics.ends_with("\r\n"));
    let lines: Vec<&str> = ics.trim_end_matches("\r\n").split("\r\n").collect();
    for l in &lines {
        assert!(!l.contains('\n'), "bare LF in {l:?}");
        assert!(l.len() <= 75, "{} octets: {l}", l.len());
    }
    assert!(
        lines.iter().any(|l| l.starts_with(' ')),
        "long lines are folded"
    );
    let unfolded = ics.replace("\r\n ", "");
    let logical: Vec<&str> = unfolded.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(logical.first(), Some(&"BEGIN:VCALENDAR"));
    assert_eq!(logical.last(), Some(&"END:VCALENDAR"));
    let begins = logical.iter().filter(|l| **l == "BEGIN:VEVENT").count();
    assert_eq!(begins, 40);
    assert_eq!(logical.iter().filter(|l| **l == "END:VEVENT").count(), 40);
    let uids: std::collections::HashSet<&str> = logical
        .iter()
        .filter(|l| l.starts_with("UID:"))
        .copied()
        .collect();
    assert_eq!(uids.len(), 40, "one UID per fire");
    assert!(logical.contains(&"DTSTART:20270203T233000Z"));
    assert!(
        logical
            .iter()
            .any(|l| l.starts_with("SUMMARY:") && l.contains("lesson → group: 跳绳"))
    );
    insta::assert_snapshot!("spring_festival_ics", ics.replace("\r\n", "\n"));
}

#[test]
fn window_bounds_may_be_rfc_3339_or_local() {
    let local = plan(&[CAMP, "--from", "2027-02-04", "--until", "2027-02-06T12:00"]);
    let rfc = plan(&[
        CAMP,
        "--from",
        "2027-02-03T16:00:00Z",
        "--until",
        "2027-02-06T12:00:00+08:00",
    ]);
    assert_eq!(local.stdout, rfc.stdout);
    let days = plan(&[CAMP, "--from", "2027-02-04T00:00", "--days", "2"]);
    let until = plan(&[CAMP, "--from", "2027-02-04", "--until", "2027-02-06"]);
    assert_eq!(days.stdout, until.stdout);
    assert!(days.stdout.contains("2027-02-05 Fri 21:00"));
    assert!(!days.stdout.contains("2027-02-06 Sat"));
}

#[test]
fn split_windows_join_into_the_whole() {
    let json = |from: &str, until: &str| -> Vec<serde_json::Value> {
        let out = plan(&[CAMP, "--from", from, "--until", until, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v["fires"].as_array().unwrap().clone()
    };
    let whole = json("2027-02-04", "2027-02-12");
    // Cut inside a local day on which the daily limit bites.
    let mut parts = json("2027-02-04", "2027-02-05T19:00");
    parts.extend(json("2027-02-05T19:00", "2027-02-12"));
    assert_eq!(whole, parts);
}

#[test]
fn a_playbook_with_errors_is_not_planned() {
    let out = drumbeat([
        "plan",
        "tests/fixtures/plan/broken.yaml",
        "--from",
        "2027-02-04",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!("broken_stderr", out.stderr);
}

#[test]
fn unusable_input_exits_2() {
    let out = drumbeat([
        "plan",
        "tests/fixtures/plan/not-yaml.yaml",
        "--from",
        "2027-02-04",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("yaml-syntax"), "{}", out.stderr);
    assert_eq!(out.stdout, "");

    let missing = drumbeat(["plan", "tests/fixtures/plan/missing.yaml"]);
    assert_eq!(missing.code, 2);

    let bad_time = drumbeat(["plan", CAMP, "--from", "next tuesday"]);
    assert_eq!(bad_time.code, 2);
    assert!(bad_time.stderr.contains("--from"), "{}", bad_time.stderr);
    assert_eq!(bad_time.stdout, "");

    let backwards = drumbeat([
        "plan",
        CAMP,
        "--from",
        "2027-02-04",
        "--until",
        "2027-02-01",
    ]);
    assert_eq!(backwards.code, 2);

    let both = drumbeat([
        "plan",
        CAMP,
        "--from",
        "2027-02-04",
        "--days",
        "2",
        "--until",
        "2027-02-05",
    ]);
    assert_eq!(both.code, 2);

    let folder = drumbeat(["plan", "tests/fixtures/plan/", "--from", "2027-02-04"]);
    assert_ne!(folder.code, 0);
}

#[test]
fn a_reader_that_stops_early_does_not_crash_the_plan() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_drumbeat"))
        .args([
            "plan",
            "playbooks/fitness-camp.yaml",
            "--from",
            "2026-11-01",
            "--days",
            "3000",
        ])
        .current_dir(crate::common::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("drumbeat runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader (like `head -1`) is gone now: the plan must end quietly.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("fitness-camp"), "{first}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn a_plan_that_cannot_be_written_is_an_error() {
    let out = crate::common::drumbeat_to_full_disk(&["plan", SPEC, "--from", "2026-12-01"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: cannot write the output: No space left on device"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}
