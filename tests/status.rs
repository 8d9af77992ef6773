//! Specs for `drumbeat status`: a real SQLite store filled through the library at explicit
//! instants, then the real executable reading it.

use crate::common::{Output, drumbeat_in};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use drumbeat::store::{Lifecycle, NewFire, Outbox, Outcome, Recorded, SqliteStore};
use std::path::Path;
use tempfile::TempDir;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn mins(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// A fire of community `club` from content slot `slot` on `channel`, due at `at`, keyed
/// the way the planner keys fires.
fn fire(slot: &str, channel: &str, at: DateTime<Utc>) -> NewFire {
    NewFire {
        key: format!(
            "club/content/{slot}/{channel}/{}",
            at.format("%Y%m%dT%H%M%SZ")
        ),
        community: "club".into(),
        source: format!("content/{slot}"),
        channel: channel.into(),
        assist_for: None,
        template: slot.into(),
        scheduled_at: at,
        grace: mins(10),
        body: format!("{slot} 早上好"),
        problem: None,
    }
}

fn status(dir: &Path, args: &[&str]) -> Output {
    drumbeat_in(dir, std::iter::once("status").chain(args.iter().copied()))
}

/// A store in `dir/drumbeat.db` with a row in every state, all written at explicit instants:
/// - `morning` on wecom at 08:00, sent;
/// - `rules` on slack at 08:00, dead-lettered after one attempt;
/// - `tips` on wecom at 08:05, failed once, retrying at 08:07;
/// - `quiz` on wecom at 08:10, being sent (lease to 08:11);
/// - `evening` on wecom at 20:00 and `recap` on slack at 21:00, pending;
/// - `night` and `dawn`, recorded after their grace: missed.
async fn busy_store(dir: &Path) {
    let url = format!("sqlite://{}", dir.join("drumbeat.db").display());
    let s = SqliteStore::open(&url).await.expect("store opens");
    let lease = mins(1);

    let done = s
        .record_fires(
            &[
                fire("morning", "wecom", t0()),
                fire("rules", "slack", t0()),
                fire("tips", "wecom", t0() + mins(5)),
                fire("quiz", "wecom", t0() + mins(10)),
                fire("evening", "wecom", t0() + TimeDelta::hours(12)),
                fire("recap", "slack", t0() + TimeDelta::hours(13)),
            ],
            t0() - mins(30),
        )
        .await
        .unwrap();
    assert!(done.iter().all(|r| matches!(r, Recorded::Pending { .. })));
    let late = s
        .record_fires(
            &[
                fire("night", "wecom", t0() - TimeDelta::hours(10)),
                fire("dawn", "wecom", t0() - TimeDelta::hours(2)),
            ],
            t0() - mins(20),
        )
        .await
        .unwrap();
    assert!(late.iter().all(|r| matches!(r, Recorded::Missed { .. })));

    let morning = s.claim_due("wecom", t0(), 1, lease).await.unwrap();
    assert_eq!(morning.len(), 1);
    let rules = s.claim_due("slack", t0(), 10, lease).await.unwrap();
    assert_eq!(rules.len(), 1);
    let settled = s
        .settle(
            &[
                (
                    morning[0].lease(),
                    Outcome::Sent {
                        answer: "errcode 0".into(),
                        at: t0(),
                    },
                ),
                (
                    rules[0].lease(),
                    Outcome::Dead {
                        error: "HTTP 400: invalid_payload".into(),
                        parts_sent: 0,
                    },
                ),
            ],
            t0() + TimeDelta::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(settled, [true, true]);

    let tips = s
        .claim_due("wecom", t0() + mins(5), 1, lease)
        .await
        .unwrap();
    assert_eq!(tips[0].template, "tips");
    assert!(
        s.mark_retry(
            tips[0].lease(),
            t0() + mins(7),
            "HTTP 500 Internal Server Error",
            t0() + mins(5)
        )
        .await
        .unwrap()
    );
    let quiz = s
        .claim_due("wecom", t0() + mins(10), 1, lease)
        .await
        .unwrap();
    // The retry of `tips` (due 08:07) comes first; `quiz` stays in flight after it.
    assert_eq!(quiz[0].template, "tips");
    assert!(
        s.mark_retry(
            quiz[0].lease(),
            t0() + mins(12),
            "connection refused",
            t0() + mins(10)
        )
        .await
        .unwrap()
    );
    let quiz = s
        .claim_due("wecom", t0() + mins(10), 1, lease)
        .await
        .unwrap();
    assert_eq!(quiz[0].template, "quiz");
    s.close().await;
}

#[tokio::test]
async fn table_lists_counts_next_fires_dead_letters_and_missed() {
    let dir = TempDir::new().unwrap();
    busy_store(dir.path()).await;
    let out = status(dir.path(), &["--store", "sqlite://drumbeat.db"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    insta::assert_snapshot!("status_table", out.stdout);
}

#[tokio::test]
async fn json_has_counts_and_the_three_lists() {
    let dir = TempDir::new().unwrap();
    busy_store(dir.path()).await;
    let out = status(
        dir.path(),
        &["--store", "sqlite://drumbeat.db", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON value");
    assert_eq!(doc["counts"]["retrying"], 1);
    insta::assert_snapshot!("status_json", out.stdout);
}

#[tokio::test]
async fn next_limits_the_fires_listed() {
    let dir = TempDir::new().unwrap();
    busy_store(dir.path()).await;
    let out = status(
        dir.path(),
        &["--store", "sqlite://drumbeat.db", "--next", "2"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("next fires (2 of 4 still to deliver)\n"),
        "{}",
        out.stdout
    );
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("club/content/"))
        .filter(|l| l.contains("pending") || l.contains("sending") || l.contains("retrying"))
        .collect();
    assert_eq!(listed.len(), 2, "{}", out.stdout);
    assert!(listed[0].contains("club/content/quiz/"), "{}", out.stdout);
    assert!(listed[1].contains("club/content/tips/"), "{}", out.stdout);
}

#[tokio::test]
async fn an_empty_store_shows_zeros() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("drumbeat.db").display());
    SqliteStore::open(&url).await.unwrap().close().await;
    // The default store is ./drumbeat.db.
    let out = status(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("status_empty", out.stdout);
}

#[tokio::test]
async fn errors_are_shown_on_one_line_without_terminal_controls() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("drumbeat.db").display());
    let s = SqliteStore::open(&url).await.unwrap();
    s.record_fire(&fire("rules", "slack", t0()), t0())
        .await
        .unwrap();
    let rows = s.claim_due("slack", t0(), 1, mins(1)).await.unwrap();
    // A platform's answer can hold anything, a terminal's escape sequences included.
    let error = "HTTP 400:\r\n  bad\tpayload \u{1b}[2J\u{1b}]0;pwned\u{7}";
    assert!(s.mark_dead(rows[0].lease(), error, t0()).await.unwrap());
    s.close().await;

    let out = status(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    assert!(!out.stdout.contains('\u{7}'), "{:?}", out.stdout);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("club/content/rules/"))
        .expect("the dead letter is listed");
    assert!(
        line.ends_with("  HTTP 400: bad payload \\u{1b}[2J\\u{1b}]0;pwned\\u{7}"),
        "{line:?}"
    );
    // JSON keeps the text whole, escaped.
    let out = status(dir.path(), &["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["dead_lettered"][0]["last_error"], error);
}

#[test]
fn a_missing_store_is_an_error_and_is_not_created() {
    let dir = TempDir::new().unwrap();
    let out = status(dir.path(), &[]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: no store at ./drumbeat.db: nothing has run with it yet (give --store URL)\n"
    );
    let out = status(dir.path(), &["--store", "sqlite://state/ops.db"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: no store at state/ops.db: nothing has run with it yet (give --store URL)\n"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_store_url_password_is_never_printed() {
    let dir = TempDir::new().unwrap();
    for url in [
        "postgres://ops:hunter2@db.internal/drumbeat",
        "mysql://ops:hunter2@db.internal/drumbeat",
    ] {
        let out = status(dir.path(), &["--store", url]);
        assert_eq!(out.code, 2, "{url}");
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert!(
            !out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"),
            "{}{}",
            out.stdout,
            out.stderr
        );
    }
}

/// `status` only reads: a store on media that cannot be written (a read-only mount, a
/// snapshot) is shown as it is, and a file that is no store is an error of its own (exit 2).
#[test]
fn a_store_on_read_only_media_is_read_and_one_that_cannot_be_read_is_exit_2() {
    let dir = TempDir::new().unwrap();
    let disk = crate::common::disk::SmallDisk::new(&dir.path().join("disk"), 4096);
    let url = format!("sqlite://{}", dir.path().join("disk/drumbeat.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Written from outside through a copy: SQLite would resolve the namespace's link.
    let made = dir.path().join("made.db");
    rt.block_on(async {
        let s = SqliteStore::open(&format!("sqlite://{}", made.display()))
            .await
            .unwrap();
        s.record_fire(&fire("morning", "wecom", t0()), t0())
            .await
            .unwrap();
        s.close().await;
    });
    std::fs::copy(&made, disk.path().join("drumbeat.db")).unwrap();
    disk.read_only();
    let out = disk
        .drumbeat()
        .args(["status", "--store", &url, "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["counts"]["pending"], 1, "{doc}");

    std::fs::write(dir.path().join("junk.db"), "not a store at all, only text").unwrap();
    let out = status(dir.path(), &["--store", "sqlite://./junk.db"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: cannot read the store: ")
            && out.stderr.contains("not a database"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("junk.db")).unwrap(),
        "not a store at all, only text",
        "nothing was written"
    );
}
