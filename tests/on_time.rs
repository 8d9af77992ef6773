//! Specs for timing in `drumbeat run`: rows are claimed a moment ahead of their instant, yet
//! never go out before it.

use chrono::{DateTime, Utc};
use drumbeat::store::{Lifecycle, OutboxStatus, SqliteStore, State};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn fires_claimed_ahead_still_go_out_at_their_instant() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let playbook = dir.path().join("p.yaml");
    std::fs::write(
        &playbook,
        format!(
            r#"version: 1
community: {{ id: early, name: 晨读会, kind: service, timezone: Asia/Shanghai }}
channels:
  log: {{ type: file, path: "{}" }}
default_channel: log
content:
  slots:
    - {{ id: morning, at: "08:00", template: morning }}
    - {{ id: reading, at: "08:00", template: reading }}
templates:
  morning: "早上好"
  reading: "今天读第三章"
"#,
            out.display()
        ),
    )
    .unwrap();
    let store_url = format!("sqlite://{}", dir.path().join("state.db").display());
    let log = std::fs::File::create(dir.path().join("log.txt")).unwrap();
    // 1.5 s before the instant on a real-time clock: past the moment of claiming.
    let mut child = crate::common::command()
        .args(["run", "--no-watch", "--speed", "1"])
        .args(["--start-at", "2026-12-01T07:59:58.5+08:00"])
        .args(["--store", &store_url])
        .arg(&playbook)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let lines = || std::fs::read_to_string(&out).map_or(0, |t| t.lines().count());
    while lines() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
    assert!(status.success(), "{log}");
    assert_eq!(lines(), 2, "{log}");

    let s = SqliteStore::open(&store_url).await.unwrap();
    let sent = s.rows_in_state(State::Sent, 10).await.unwrap();
    assert_eq!(sent.len(), 2);
    let instant: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    for row in &sent {
        assert_eq!(row.scheduled_at, instant);
        let sent_at = row.sent_at.unwrap();
        assert!(
            sent_at >= instant,
            "{} went out at {sent_at}, before its instant",
            row.key
        );
    }
    s.close().await;
}
