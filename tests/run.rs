//! Specs for `drumbeat run` as a command (the reliability specs are in daemon.rs), and
//! for `drumbeat assist`. Every run sets its clock with --start-at, so nothing depends on
//! today's date.

use crate::common::{drumbeat_in, spawn_in};
use std::path::Path;

const TEA_CLUB: &str = r#"version: 1
community:
  id: tea-club
  name: 茶友会
  kind: service
  timezone: Asia/Shanghai
  locale: zh-CN
channels:
  group: CHANNEL
content:
  slots:
    - { id: morning, at: "08:00", template: morning }
templates:
  morning: "早上好，{{ community.name }}！今天是 {{ now | date }}。"
"#;

fn write_playbook(dir: &Path, channel: &str) -> String {
    let path = dir.join("tea-club.yaml");
    std::fs::write(&path, TEA_CLUB.replace("CHANNEL", channel)).unwrap();
    path.display().to_string()
}

/// Two minutes before the morning slot, with the clock running 60 times faster.
const REHEARSAL: [&str; 4] = ["--start-at", "2026-12-01T07:59:58+08:00", "--speed", "60"];

#[test]
fn a_dry_run_prints_each_message_at_its_time_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), r#"{ type: wecom, webhook: "${TEA_WEBHOOK}" }"#);
    let mut daemon = spawn_in(
        dir.path(),
        ["run", "--dry-run", "--no-watch", &playbook]
            .into_iter()
            .chain(REHEARSAL),
        &[],
    );
    daemon.wait_for("the morning message", |d| d.stdout().contains("早上好"));
    let (code, stdout, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    // The dry run needs no secret, and prints exactly what the channel would get.
    assert_eq!(
        stdout,
        "── tea-club · content/morning · 2026-12-01T00:00:00Z · tea-club/content/morning/group/20261201T000000Z\n\
         早上好，茶友会！今天是 12月1日。\n"
    );
    assert!(stderr.contains("stopped"), "{stderr}");
    // A rehearsal keeps no state unless given a store.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".db"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn a_rehearsal_of_a_day_stops_by_itself_at_stop_at() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), "{ type: console }");
    let daemon = spawn_in(
        dir.path(),
        [
            "run",
            "--no-watch",
            "--stop-at",
            "2026-12-02T07:59:00+08:00",
            "--speed",
            "60000",
            "--start-at",
            "2026-11-30T23:00:00+08:00",
            &playbook,
        ],
        &[],
    );
    let (code, stdout, stderr) = daemon.finish();
    assert_eq!(code, 0, "{stderr}");
    // The morning of the 1st; the 2nd's comes after the stop and is not planned.
    let heads: Vec<&str> = stdout.lines().filter(|l| l.starts_with("──")).collect();
    assert_eq!(
        heads,
        [
            "── tea-club · content/morning · 2026-12-01T00:00:00Z · tea-club/content/morning/group/20261201T000000Z",
        ]
    );
}

#[test]
fn a_missing_secret_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), r#"{ type: wecom, webhook: "${TEA_WEBHOOK}" }"#);
    let out = drumbeat_in(dir.path(), ["run", "--no-watch", &playbook]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("TEA_WEBHOOK"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("channels could not be set up, so nothing was started"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("drumbeat.db").exists());
}

#[test]
fn an_invalid_playbook_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), "{ type: pigeon }");
    let out = drumbeat_in(dir.path(), ["run", "--no-watch", &playbook]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("pigeon"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the playbooks have errors, so nothing was started"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("drumbeat.db").exists());
}

#[test]
fn an_assisted_channel_gets_a_to_do_that_a_person_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let text = TEA_CLUB
        .replace(
            "  group: CHANNEL",
            "  group: { type: console, assist: helpers }\n  helpers: { type: file, path: todo.jsonl }\ndefault_channel: group",
        );
    std::fs::write(dir.path().join("tea-club.yaml"), text).unwrap();
    let mut daemon = spawn_in(
        dir.path(),
        [
            "run",
            "--no-watch",
            "--store",
            "sqlite://./drumbeat.db",
            "tea-club.yaml",
        ]
        .into_iter()
        .chain(REHEARSAL),
        &[],
    );
    let todo = dir.path().join("todo.jsonl");
    daemon.wait_for("the to-do", |_| {
        std::fs::read_to_string(&todo).is_ok_and(|t| t.ends_with('\n'))
    });
    let (code, _, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&todo).unwrap().trim()).unwrap();
    let key = "tea-club/content/morning/group/20261201T000000Z";
    assert_eq!(line["key"], key);
    assert_eq!(
        line["message"],
        format!(
            "【待发布】请在 12-01 08:00（最迟 08:10）到「茶友会」的 group 手动发布以下内容：\n\n\
             早上好，茶友会！今天是 12月1日。\n\n发布后请确认（assist_done，fire: {key}）。"
        )
    );

    let listed = drumbeat_in(dir.path(), ["assist", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(
        listed.stdout,
        format!(
            "1 to-dos waiting for confirmation\n  2026-12-01T00:00:00Z  tea-club · group (to-do via helpers)  {key}\n"
        )
    );
    let done = drumbeat_in(dir.path(), ["assist", "done", key]);
    assert_eq!(
        (done.code, done.stdout.as_str()),
        (0, format!("confirmed: {key}\n").as_str())
    );
    let again = drumbeat_in(dir.path(), ["assist", "done", key]);
    assert_eq!(again.stdout, format!("already confirmed: {key}\n"));
    let unknown = drumbeat_in(dir.path(), ["assist", "done", "tea-club/nothing"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no to-do has the key"),
        "{}",
        unknown.stderr
    );
    let listed = drumbeat_in(dir.path(), ["assist", "list"]);
    assert_eq!(listed.stdout, "no to-dos waiting for confirmation\n");
}

#[test]
fn assist_refuses_a_store_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let out = drumbeat_in(
        dir.path(),
        ["assist", "list", "--store", "sqlite://./nowhere.db"],
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: no store at ./nowhere.db: nothing has run with it yet (give --store URL)\n"
    );
    assert!(!dir.path().join("nowhere.db").exists());
}

#[test]
fn one_store_serves_one_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), "{ type: console }");
    let args = [
        "run",
        "--no-watch",
        "--store",
        "sqlite://./state.db",
        playbook.as_str(),
    ];
    let mut first = spawn_in(dir.path(), args, &[]);
    first.wait_for("the first daemon to run", |d| {
        d.stderr().contains("running")
    });
    let second = drumbeat_in(dir.path(), args);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert_eq!(
        second.stderr,
        format!(
            "error: another drumbeat run (pid {}) is using the store ./state.db; one daemon per store\n",
            first.child.id()
        )
    );
    let (code, _, stderr) = first.stop();
    assert_eq!(code, 0, "{stderr}");
    // Once it has stopped, the store is free again.
    let mut again = spawn_in(dir.path(), args, &[]);
    again.wait_for("the next daemon to run", |d| d.stderr().contains("running"));
    assert_eq!(again.stop().0, 0);
}

/// Another name for the same store file (a symbolic link to it, or to its folder, or a hard
/// link) does not let a second daemon in.
#[test]
fn another_name_for_the_store_does_not_make_it_a_second_store() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), "{ type: console }");
    let run = |store: &str| {
        [
            "run".to_string(),
            "--no-watch".into(),
            "--store".into(),
            format!("sqlite://{store}"),
            playbook.clone(),
        ]
    };
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let mut first = spawn_in(dir.path(), run("./data/state.db"), &[]);
    first.wait_for("the first daemon to run", |d| {
        d.stderr().contains("running")
    });
    std::os::unix::fs::symlink("data/state.db", dir.path().join("linked.db")).unwrap();
    std::os::unix::fs::symlink("data", dir.path().join("folder")).unwrap();
    std::fs::hard_link(dir.path().join("data/state.db"), dir.path().join("hard.db")).unwrap();
    for other in ["./linked.db", "./folder/state.db", "./hard.db"] {
        let second = drumbeat_in(dir.path(), run(other));
        assert_eq!(second.code, 1, "{other}: {}", second.stderr);
        assert!(
            second
                .stderr
                .starts_with("error: another drumbeat run (pid ")
                && second
                    .stderr
                    .contains(&format!("is using the store {other};")),
            "{other}: {}",
            second.stderr
        );
    }
    let (code, _, stderr) = first.stop();
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = {
        let mut again = spawn_in(dir.path(), run("./linked.db"), &[]);
        again.wait_for("a daemon on the link once the first stopped", |d| {
            d.stderr().contains("running")
        });
        again.stop()
    };
    assert_eq!(code, 0, "{stderr}");
}

/// `--dry-run --store` on a real store is refused before anything is marked sent; a real
/// daemon refuses a dry run's store; a dry run may use its own store again.
#[test]
fn a_dry_run_never_touches_a_real_store_nor_a_real_run_a_dry_one() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = write_playbook(dir.path(), "{ type: console }");
    // The 08:00 fire of a real run, recorded and sent into ./real.db.
    let rehearse = |store: &str, dry: bool| {
        let mut args = vec![
            "run".to_string(),
            "--no-watch".into(),
            "--store".into(),
            format!("sqlite://./{store}"),
            "--start-at".into(),
            "2026-12-01T07:59:58+08:00".into(),
            "--stop-at".into(),
            "2026-12-01T08:00:30+08:00".into(),
            "--speed".into(),
            "60".into(),
            playbook.clone(),
        ];
        if dry {
            args.push("--dry-run".into());
        }
        spawn_in(dir.path(), args, &[]).finish()
    };
    let (code, stdout, stderr) = rehearse("real.db", false);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("早上好"), "{stdout}");
    let before = std::fs::read(dir.path().join("real.db")).unwrap();
    let (code, stdout, stderr) = rehearse("real.db", true);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.ends_with(
            "error: sqlite://./real.db holds a real run's state, and a dry run would mark its \
             fires as sent: give --dry-run a store of its own (leave out --store, or name a new \
             file)\n"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.path().join("real.db")).unwrap(), before);
    // A dry run's own store: used twice by dry runs, refused by a real one.
    let (code, stdout, stderr) = rehearse("dry.db", true);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("早上好"), "{stdout}");
    let (code, _, stderr) = rehearse("dry.db", true);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = rehearse("dry.db", false);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.ends_with(
            "error: sqlite://./dry.db holds a dry run's state (its messages were printed, not \
             sent): give the real daemon a store of its own\n"
        ),
        "{stderr}"
    );
}
