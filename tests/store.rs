//! Specs for the store: real SQLite files in temporary folders, explicit instants only.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use drumbeat::store::{
    self, Counts, Lease, Lifecycle, NewFire, Outbox, OutboxStatus, Outcome, Recorded, RunMarks,
    SqliteStore, State, StoreError, StoreInfo, StoreUrl,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

fn mins(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn db(dir: &TempDir) -> PathBuf {
    dir.path().join("drumbeat.db")
}

async fn open_at(path: &Path) -> SqliteStore {
    SqliteStore::open(&url(path)).await.expect("store opens")
}

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&db(&dir)).await;
    (dir, store)
}

/// A fire of community `club` on `channel`, due at `at`, with the default 10-minute grace.
fn fire(key: &str, channel: &str, at: DateTime<Utc>) -> NewFire {
    NewFire {
        key: key.to_string(),
        community: "club".into(),
        source: format!("content/{key}"),
        channel: channel.into(),
        assist_for: None,
        template: "morning".into(),
        scheduled_at: at,
        grace: mins(10),
        body: format!("早上好 {key}"),
        problem: None,
    }
}

fn ids(rows: &[store::OutboxRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

fn keys(rows: &[store::OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test]
async fn a_key_recorded_twice_gives_one_row() {
    let (_dir, s) = fresh().await;
    let first = s
        .record_fire(&fire("k1", "wecom", t0()), t0())
        .await
        .unwrap();
    assert!(matches!(first, Recorded::Pending { .. }), "{first:?}");
    let mut again = fire("k1", "wecom", t0());
    again.body = "a different body".into();
    let second = s.record_fire(&again, t0() + secs(5)).await.unwrap();
    assert_eq!(second, Recorded::AlreadyRecorded);
    assert!(!second.is_new());

    let counts = s.counts_by_state().await.unwrap();
    assert_eq!(counts.total(), 1);
    assert_eq!(counts.pending, 1);
    let row = s.find("k1").await.unwrap().expect("row");
    // The first record wins: a second one changes nothing.
    assert_eq!(row.body, "早上好 k1");
    assert_eq!(row.recorded_at, t0());
    assert_eq!(row.state, State::Pending);
    assert_eq!(row.next_attempt_at, t0());
    assert_eq!(row.attempts, 0);
}

#[tokio::test]
async fn a_batch_records_each_key_once_even_within_itself() {
    let (_dir, s) = fresh().await;
    let done = s
        .record_fires(
            &[
                fire("a", "wecom", t0()),
                fire("b", "wecom", t0()),
                fire("a", "wecom", t0()),
            ],
            t0(),
        )
        .await
        .unwrap();
    assert!(done[0].is_new() && done[1].is_new());
    assert_eq!(done[2], Recorded::AlreadyRecorded);
    assert_eq!(s.counts_by_state().await.unwrap().total(), 2);
    assert!(s.record_fires(&[], t0()).await.unwrap().is_empty());
}

#[tokio::test]
async fn claims_take_only_due_rows_of_their_channel_in_scheduled_order() {
    let (_dir, s) = fresh().await;
    // Recorded out of order on purpose.
    s.record_fires(
        &[
            fire("late", "wecom", t0() + mins(30)),
            fire("second", "wecom", t0() + mins(2)),
            fire("first", "wecom", t0() + mins(1)),
            fire("third", "wecom", t0() + mins(3)),
            fire("other-channel", "slack", t0()),
        ],
        t0(),
    )
    .await
    .unwrap();

    assert!(
        s.claim_due("wecom", t0(), 10, mins(1))
            .await
            .unwrap()
            .is_empty(),
        "nothing is due yet"
    );
    let got = s
        .claim_due("wecom", t0() + mins(5), 2, mins(1))
        .await
        .unwrap();
    assert_eq!(keys(&got), ["first", "second"]);
    for row in &got {
        assert_eq!(row.state, State::Sending);
        assert_eq!(row.attempts, 1);
        assert_eq!(
            row.next_attempt_at,
            t0() + mins(6),
            "leased until now + lease"
        );
    }
    let rest = s
        .claim_due("wecom", t0() + mins(5), 10, mins(1))
        .await
        .unwrap();
    assert_eq!(
        keys(&rest),
        ["third"],
        "the claimed rows are leased, `late` is not due"
    );
    assert!(
        s.claim_due("wecom", t0() + mins(5), 0, mins(1))
            .await
            .unwrap()
            .is_empty()
    );
    let slack = s.claim_due("slack", t0(), 10, mins(1)).await.unwrap();
    assert_eq!(keys(&slack), ["other-channel"]);
}

#[tokio::test]
async fn an_unexpired_lease_holds_and_an_expired_one_comes_back() {
    let (_dir, s) = fresh().await;
    s.record_fire(&fire("k", "wecom", t0()), t0())
        .await
        .unwrap();
    let first = s.claim_due("wecom", t0(), 10, secs(30)).await.unwrap();
    assert_eq!(first.len(), 1);
    let crashed = first[0].lease();

    // Just before the lease ends, nobody else gets it.
    let early = s
        .claim_due("wecom", t0() + secs(29), 10, secs(30))
        .await
        .unwrap();
    assert!(early.is_empty());

    // The worker crashed: at the end of its lease the row is due again.
    let again = s
        .claim_due("wecom", t0() + secs(30), 10, secs(30))
        .await
        .unwrap();
    assert_eq!(ids(&again), [crashed.id]);
    assert_eq!(again[0].attempts, 2);
    let current = again[0].lease();
    assert_ne!(current, crashed);

    // The crashed worker's lease no longer settles anything; the new one does, once.
    assert!(
        !s.mark_sent(crashed, "late ack", t0() + secs(31))
            .await
            .unwrap()
    );
    assert!(s.mark_sent(current, "ok", t0() + secs(31)).await.unwrap());
    assert!(!s.mark_sent(current, "ok", t0() + secs(32)).await.unwrap());
    let row = s.find("k").await.unwrap().unwrap();
    assert_eq!(row.state, State::Sent);
    assert_eq!(row.answer.as_deref(), Some("ok"));
    assert_eq!(row.sent_at, Some(t0() + secs(31)));

    // A sent row is never claimed again, however late.
    let much_later = s
        .claim_due("wecom", t0() + TimeDelta::days(30), 10, secs(30))
        .await
        .unwrap();
    assert!(much_later.is_empty());
}

#[tokio::test]
async fn a_batch_settles_as_if_one_by_one() {
    let (_dir, s) = fresh().await;
    s.record_fire(&fire("k", "wecom", t0()), t0())
        .await
        .unwrap();
    let stale = s.claim_due("wecom", t0(), 1, secs(10)).await.unwrap()[0].lease();
    let current = s
        .claim_due("wecom", t0() + secs(10), 1, secs(10))
        .await
        .unwrap()[0]
        .lease();
    let sent = |answer: &str| Outcome::Sent {
        answer: answer.into(),
        at: t0() + secs(11),
    };
    let done = s
        .settle(
            &[
                (stale, sent("stale")),
                (current, sent("current")),
                (current, sent("twice")),
            ],
            t0() + secs(11),
        )
        .await
        .unwrap();
    assert_eq!(done, [false, true, false]);
    let row = s.find("k").await.unwrap().unwrap();
    assert_eq!(row.answer.as_deref(), Some("current"));
}

/// Batches larger than one statement holds: duplicates across statement boundaries are
/// still recorded once, and every send of a long run is settled.
#[tokio::test]
async fn large_batches_record_and_settle_everything() {
    let (_dir, s) = fresh().await;
    let mut fires: Vec<NewFire> = (0..300)
        .map(|i| fire(&format!("f{i:03}"), "wecom", t0() + secs(i)))
        .collect();
    fires.insert(200, fire("f010", "wecom", t0()));
    fires.push(fire("f299", "wecom", t0()));
    let done = s.record_fires(&fires, t0()).await.unwrap();
    assert_eq!(done.len(), 302);
    assert_eq!(done.iter().filter(|r| r.is_new()).count(), 300);
    assert_eq!(done[200], Recorded::AlreadyRecorded);
    assert_eq!(done[301], Recorded::AlreadyRecorded);
    assert!(done[10].is_new() && done[300].is_new());

    let claimed = s
        .claim_due("wecom", t0() + mins(5), 1000, mins(1))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 300);
    let mut outcomes: Vec<(Lease, Outcome)> = claimed
        .iter()
        .map(|r| {
            (
                r.lease(),
                Outcome::Sent {
                    answer: r.key.clone(),
                    // Accepted one by one, a second apart, before the settle records them.
                    at: t0() + secs(r.key[1..].parse::<i64>().unwrap()),
                },
            )
        })
        .collect();
    // A retry in the middle splits the run of sends.
    outcomes[150].1 = Outcome::Retry {
        at: t0() + mins(6),
        error: "timeout".into(),
        parts_sent: 0,
    };
    // A dead letter two rows on leaves one send between them, settled on its own.
    outcomes[152].1 = Outcome::Dead {
        error: "HTTP 400".into(),
        parts_sent: 0,
    };
    let settled = s.settle(&outcomes, t0() + mins(5)).await.unwrap();
    assert!(settled.iter().all(|d| *d));
    let counts = s.counts_by_state().await.unwrap();
    assert_eq!(
        (counts.sent, counts.retrying, counts.dead_lettered),
        (298, 1, 1)
    );
    let row = s.find("f123").await.unwrap().unwrap();
    assert_eq!(
        row.answer.as_deref(),
        Some("f123"),
        "each row keeps its own answer"
    );
    assert_eq!(
        row.sent_at,
        Some(t0() + secs(123)),
        "sent_at is when the channel accepted it, not when the result was written"
    );
    let single = s.find("f151").await.unwrap().unwrap();
    assert_eq!(
        single.sent_at,
        Some(t0() + secs(151)),
        "a send settled alone too"
    );
}

#[tokio::test]
async fn retries_come_back_at_their_time_and_dead_letters_stay_dead() {
    let (_dir, s) = fresh().await;
    s.record_fire(&fire("k", "wecom", t0()), t0())
        .await
        .unwrap();
    let claim = s.claim_due("wecom", t0(), 1, secs(30)).await.unwrap();
    let retry_at = t0() + mins(2);
    assert!(
        s.mark_retry(claim[0].lease(), retry_at, "HTTP 503", t0() + secs(1))
            .await
            .unwrap()
    );
    let row = s.find("k").await.unwrap().unwrap();
    assert_eq!(row.state, State::Retrying);
    assert_eq!(row.next_attempt_at, retry_at);
    assert_eq!(row.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(row.attempts, 1);

    assert!(
        s.claim_due("wecom", retry_at - secs(1), 1, secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    let second = s.claim_due("wecom", retry_at, 1, secs(30)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempts, 2);
    assert!(
        s.mark_dead(second[0].lease(), "HTTP 400: bad payload", retry_at)
            .await
            .unwrap()
    );

    let row = s.find("k").await.unwrap().unwrap();
    assert_eq!(row.state, State::DeadLettered);
    assert_eq!(row.last_error.as_deref(), Some("HTTP 400: bad payload"));
    assert!(
        s.claim_due("wecom", retry_at + TimeDelta::days(1), 1, secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = s.rows_in_state(State::DeadLettered, 10).await.unwrap();
    assert_eq!(keys(&dead), ["k"]);
    let counts = s.counts_by_state().await.unwrap();
    assert_eq!(
        counts,
        Counts {
            dead_lettered: 1,
            ..Counts::default()
        }
    );
}

#[tokio::test]
async fn a_fire_later_than_its_grace_is_recorded_missed_and_never_claimed() {
    let (_dir, s) = fresh().await;
    // Exactly at the grace: still sent.
    let on_edge = s
        .record_fire(&fire("edge", "wecom", t0()), t0() + mins(10))
        .await
        .unwrap();
    assert!(matches!(on_edge, Recorded::Pending { .. }));
    let late = s
        .record_fire(
            &fire("late", "wecom", t0()),
            t0() + mins(10) + TimeDelta::milliseconds(1),
        )
        .await
        .unwrap();
    assert!(matches!(late, Recorded::Missed { .. }), "{late:?}");
    assert!(late.is_new());

    let got = s
        .claim_due("wecom", t0() + mins(11), 10, secs(30))
        .await
        .unwrap();
    assert_eq!(keys(&got), ["edge"]);
    let missed = s.rows_in_state(State::Missed, 10).await.unwrap();
    assert_eq!(keys(&missed), ["late"]);
    let counts = s.counts_by_state().await.unwrap();
    assert_eq!((counts.missed, counts.sending, counts.total()), (1, 1, 2));
}

#[tokio::test]
async fn after_downtime_pending_rows_past_grace_are_marked_missed() {
    let (_dir, s) = fresh().await;
    let mut short = fire("short-grace", "wecom", t0());
    short.grace = mins(1);
    s.record_fires(
        &[
            fire("old", "wecom", t0()),
            short,
            fire("recent", "wecom", t0() + mins(55)),
            fire("retried", "slack", t0()),
        ],
        t0(),
    )
    .await
    .unwrap();
    // `retried` was tried before the downtime: retries are not cut short by grace.
    let claim = s.claim_due("slack", t0(), 1, secs(30)).await.unwrap();
    s.mark_retry(claim[0].lease(), t0() + mins(1), "timeout", t0())
        .await
        .unwrap();

    // An hour later, the engine starts again.
    let now = t0() + mins(60);
    assert_eq!(s.mark_missed(now).await.unwrap(), 2);
    assert_eq!(s.mark_missed(now).await.unwrap(), 0, "idempotent");
    let state = |k: &'static str| {
        let s = &s;
        async move { s.find(k).await.unwrap().unwrap().state }
    };
    assert_eq!(state("old").await, State::Missed);
    assert_eq!(state("short-grace").await, State::Missed);
    assert_eq!(state("recent").await, State::Pending);
    assert_eq!(state("retried").await, State::Retrying);
}

#[tokio::test]
async fn a_released_claim_goes_back_untried() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[fire("fresh", "wecom", t0()), fire("retry", "wecom", t0())],
        t0(),
    )
    .await
    .unwrap();
    let claimed = s.claim_due("wecom", t0(), 10, secs(30)).await.unwrap();
    let retry = claimed.iter().find(|r| r.key == "retry").unwrap();
    s.mark_retry(retry.lease(), t0() + secs(5), "timeout", t0())
        .await
        .unwrap();
    let fresh = claimed.iter().find(|r| r.key == "fresh").unwrap();
    let retry = s
        .claim_due("wecom", t0() + secs(5), 10, secs(30))
        .await
        .unwrap();
    assert_eq!(keys(&retry), ["retry"]);

    // Shutting down: both handed back.
    let now = t0() + secs(6);
    let done = s
        .settle(
            &[
                (fresh.lease(), Outcome::Release),
                (retry[0].lease(), Outcome::Release),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(done, [true, true]);
    let fresh_row = s.find("fresh").await.unwrap().unwrap();
    assert_eq!(
        (
            fresh_row.state,
            fresh_row.attempts,
            fresh_row.next_attempt_at
        ),
        (State::Pending, 0, t0())
    );
    let retry_row = s.find("retry").await.unwrap().unwrap();
    assert_eq!(
        (
            retry_row.state,
            retry_row.attempts,
            retry_row.next_attempt_at
        ),
        (State::Retrying, 1, now)
    );
    // A released lease is spent.
    assert!(!s.release(fresh.lease(), now).await.unwrap());
    let again = s.claim_due("wecom", now, 10, secs(30)).await.unwrap();
    assert_eq!(again.len(), 2);
}

#[tokio::test]
async fn state_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = open_at(&path).await;
    s.record_fires(
        &[
            fire("sent", "wecom", t0()),
            fire("leased", "wecom", t0() + secs(1)),
            fire("waiting", "wecom", t0() + mins(5)),
        ],
        t0(),
    )
    .await
    .unwrap();
    let claimed = s
        .claim_due("wecom", t0() + secs(1), 10, mins(1))
        .await
        .unwrap();
    assert_eq!(keys(&claimed), ["sent", "leased"]);
    s.mark_sent(claimed[0].lease(), "{\"errcode\":0}", t0() + secs(2))
        .await
        .unwrap();
    s.set_last_run("club", t0() + secs(2)).await.unwrap();
    let before = s.counts_by_state().await.unwrap();
    s.close().await;
    drop(s);

    // A crash would leave `leased` sending; the reopened store hands it out after its lease.
    let s = open_at(&path).await;
    assert_eq!(s.counts_by_state().await.unwrap(), before);
    assert_eq!(
        (before.sent, before.sending, before.pending),
        (1, 1, 1),
        "{before:?}"
    );
    let sent = s.find("sent").await.unwrap().unwrap();
    assert_eq!(sent.answer.as_deref(), Some("{\"errcode\":0}"));
    assert_eq!(s.last_run("club").await.unwrap(), Some(t0() + secs(2)));
    assert_eq!(s.last_run("other").await.unwrap(), None);
    let resumed = s
        .claim_due("wecom", t0() + secs(61), 10, mins(1))
        .await
        .unwrap();
    assert_eq!(keys(&resumed), ["leased"]);
    assert_eq!(resumed[0].attempts, 2);
    // And a second record of the same keys after restart creates nothing.
    let again = s
        .record_fires(
            &[fire("sent", "wecom", t0()), fire("waiting", "wecom", t0())],
            t0(),
        )
        .await
        .unwrap();
    assert!(again.iter().all(|r| !r.is_new()));
    let sqlite = store::SqliteStore::open_file(&path).await.unwrap();
    assert_eq!(
        sqlite.schema_version().await.unwrap(),
        store::SqliteStore::SCHEMA_VERSION
    );
}

#[tokio::test]
async fn the_last_run_mark_never_moves_back() {
    let (_dir, s) = fresh().await;
    s.set_last_run("club", t0() + mins(5)).await.unwrap();
    s.set_last_run("club", t0()).await.unwrap();
    assert_eq!(s.last_run("club").await.unwrap(), Some(t0() + mins(5)));
    s.set_last_run("club", t0() + mins(6)).await.unwrap();
    assert_eq!(s.last_run("club").await.unwrap(), Some(t0() + mins(6)));
}

#[tokio::test]
async fn next_rows_lists_what_goes_out_next() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("b", "wecom", t0() + mins(2)),
            fire("a", "slack", t0() + mins(1)),
            fire("c", "wecom", t0() + mins(3)),
        ],
        t0(),
    )
    .await
    .unwrap();
    let claimed = s
        .claim_due("slack", t0() + mins(1), 1, mins(1))
        .await
        .unwrap();
    s.mark_sent(claimed[0].lease(), "ok", t0() + mins(1))
        .await
        .unwrap();
    let next = s.next_rows(10).await.unwrap();
    assert_eq!(keys(&next), ["b", "c"]);
    assert_eq!(keys(&s.next_rows(1).await.unwrap()), ["b"]);
}

#[tokio::test]
async fn a_store_from_a_newer_drumbeat_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = open_at(&path).await;
    s.record_fire(&fire("k", "wecom", t0()), t0())
        .await
        .unwrap();
    s.close().await;
    drop(s);

    // A newer drumbeat migrated this file further.
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url(&path)).await.unwrap();
        sqlx::query("INSERT INTO schema_version (version) VALUES (99)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }

    let err = SqliteStore::open(&url(&path)).await.expect_err("refused");
    match &err {
        StoreError::SchemaTooNew { found, known, .. } => {
            assert_eq!((*found, *known), (99, store::SqliteStore::SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("newer drumbeat"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn opening_creates_the_file_and_refuses_what_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let s = open_at(&path).await;
    assert!(path.exists(), "created on first use");
    assert_eq!(s.counts_by_state().await.unwrap(), Counts::default());
    s.close().await;
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url(&path)).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal", "the file stays in WAL mode");
        conn.close().await.unwrap();
    }

    let junk = dir.path().join("notes.txt");
    std::fs::write(
        &junk,
        "这不是数据库 — not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let err = SqliteStore::open(&url(&junk)).await.expect_err("refused");
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    assert!(err.to_string().starts_with("store failed while"), "{err}");
}

/// Processes starting together on a new file: one creates the schema, none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_together_on_a_new_file_all_work() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = db(&dir);
        let opens: Vec<_> = (0..6)
            .map(|i| {
                let url = url(&path);
                tokio::spawn(async move {
                    let s = SqliteStore::open(&url).await.expect("opens");
                    s.record_fire(&fire(&format!("k{i}"), "wecom", t0()), t0())
                        .await
                        .unwrap();
                    s
                })
            })
            .collect();
        let mut stores = Vec::new();
        for o in opens {
            stores.push(o.await.unwrap());
        }
        let counts = stores[0].counts_by_state().await.unwrap();
        assert_eq!(counts.pending, 6, "round {round}");
    }
}

#[tokio::test]
async fn urls_name_the_store() {
    assert_eq!(
        StoreUrl::parse(store::DEFAULT_URL).unwrap(),
        StoreUrl::Sqlite {
            path: PathBuf::from("./drumbeat.db")
        }
    );
    assert_eq!(
        StoreUrl::parse("sqlite:///var/lib/drumbeat/state.db").unwrap(),
        StoreUrl::Sqlite {
            path: PathBuf::from("/var/lib/drumbeat/state.db")
        }
    );
    assert_eq!(
        StoreUrl::parse("sqlite:state.db").unwrap(),
        StoreUrl::Sqlite {
            path: PathBuf::from("state.db")
        }
    );
    assert!(matches!(
        StoreUrl::parse("sqlite://"),
        Err(StoreError::BadUrl { .. })
    ));

    let pg = SqliteStore::open("postgres://ops:s3cret@db.internal/drumbeat")
        .await
        .expect_err("not yet");
    assert!(matches!(pg, StoreError::NotSupported { .. }));
    let message = pg.to_string();
    assert!(message.contains("PostgreSQL"), "{message}");
    assert!(message.contains("not supported yet"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");

    let other = SqliteStore::open("mysql://root:hunter2@localhost/db")
        .await
        .expect_err("unknown");
    let message = other.to_string();
    assert!(message.contains("sqlite://"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "secrets never in errors: {message}"
    );
}

#[tokio::test]
async fn planned_fires_of_a_playbook_are_recorded_once() {
    use drumbeat::plan::plan;
    let path = "tests/fixtures/valid/spec-example.yaml";
    let text = std::fs::read_to_string(path).unwrap();
    let program = drumbeat::compile::from_text(path, &text).expect("the example compiles");
    let from = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let p = plan(&program, from, from + TimeDelta::days(3));
    let fires: Vec<NewFire> = p
        .fires
        .iter()
        .filter(|f| f.status.is_planned())
        .map(|f| NewFire::from_fire(f, format!("rendered {}", f.template)))
        .collect();
    assert!(fires.len() > 3, "the example plans several fires a day");

    let (_dir, s) = fresh().await;
    let first = s.record_fires(&fires, from).await.unwrap();
    assert!(first.iter().all(Recorded::is_new));
    let second = s.record_fires(&fires, from).await.unwrap();
    assert!(second.iter().all(|r| !r.is_new()));
    assert_eq!(
        s.counts_by_state().await.unwrap().total(),
        fires.len() as u64
    );

    let f = &p.fires.iter().find(|f| f.status.is_planned()).unwrap();
    let row = s
        .find(&f.key())
        .await
        .unwrap()
        .expect("recorded under its key");
    assert_eq!(row.community, f.community);
    assert_eq!(row.channel, f.channel);
    assert_eq!(row.scheduled_at, f.at);
    assert_eq!(row.grace, f.grace.to_chrono());
    assert_eq!(
        row.source,
        format!("{}/{}", f.source.kind(), f.source.path())
    );
}

/// Many tasks on two separately opened handles (two writers on one file, as two
/// processes would be) record the same keys in different orders and batch sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_of_the_same_keys_make_one_row_each() {
    const KEYS: usize = 120;
    const TASKS: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let a = open_at(&path).await;
    let b = open_at(&path).await;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let s = if t % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            // A different order and batch size per task.
            let mut order: Vec<usize> = (0..KEYS).collect();
            order.rotate_left(t * 7 % KEYS);
            if t % 3 == 0 {
                order.reverse();
            }
            let fires: Vec<NewFire> = order
                .iter()
                .map(|k| fire(&format!("key-{k}"), "wecom", t0() + secs(*k as i64)))
                .collect();
            let batch = 1 + t % 5;
            let mut new = Vec::new();
            for chunk in fires.chunks(batch) {
                let done = if chunk.len() == 1 {
                    vec![s.record_fire(&chunk[0], t0()).await.unwrap()]
                } else {
                    s.record_fires(chunk, t0()).await.unwrap()
                };
                for (f, r) in chunk.iter().zip(done) {
                    if r.is_new() {
                        new.push(f.key.clone());
                    }
                }
            }
            new
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.extend(t.await.unwrap());
    }
    created.sort();
    let unique: HashSet<&String> = created.iter().collect();
    assert_eq!(created.len(), KEYS, "exactly one task created each row");
    assert_eq!(unique.len(), KEYS);
    assert_eq!(a.counts_by_state().await.unwrap().total(), KEYS as u64);
    assert_eq!(b.counts_by_state().await.unwrap().pending, KEYS as u64);
}

/// Workers on two handles claim and settle the same channel concurrently: every row is
/// claimed once (the leases outlast the test) and sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_never_claim_a_row_twice() {
    const ROWS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let a = open_at(&path).await;
    let b = open_at(&path).await;
    let fires: Vec<NewFire> = (0..ROWS)
        .map(|i| fire(&format!("r{i}"), "wecom", t0() + secs(i as i64 % 7)))
        .collect();
    a.record_fires(&fires, t0()).await.unwrap();

    let mut workers = Vec::new();
    for w in 0..6 {
        let s = if w % 2 == 0 { a.clone() } else { b.clone() };
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let now = t0() + mins(1);
                let rows = s.claim_due("wecom", now, 7, mins(60)).await.unwrap();
                if rows.is_empty() {
                    break;
                }
                let outcomes: Vec<(Lease, Outcome)> = rows
                    .iter()
                    .map(|r| {
                        (
                            r.lease(),
                            Outcome::Sent {
                                answer: format!("worker {w}"),
                                at: now,
                            },
                        )
                    })
                    .collect();
                let done = s.settle(&outcomes, now).await.unwrap();
                assert!(done.iter().all(|d| *d), "own leases always settle");
                mine.extend(rows.iter().map(|r| r.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), ROWS, "no row claimed twice");
    assert_eq!(unique.len(), ROWS);
    let counts = b.counts_by_state().await.unwrap();
    assert_eq!(
        counts,
        Counts {
            sent: ROWS as u64,
            ..Counts::default()
        }
    );
}

mod state_machine {
    //! Random sequences of operations against a model of the outbox: after every step the
    //! store agrees with the model, a row is settled as sent at most once, and the counts
    //! add up to the keys recorded.

    use super::*;
    use proptest::prelude::*;

    const KEYS: usize = 6;
    const CHANNELS: [&str; 2] = ["wecom", "slack"];

    #[derive(Debug, Clone)]
    enum Op {
        /// One batch; a key may come twice in it.
        Record(Vec<(usize, i64, i64)>),
        Claim {
            channel: usize,
            limit: u32,
            lease_s: i64,
        },
        /// One batch, settled with any leases ever handed out (many will be stale).
        Settle(Vec<(usize, u8, i64)>),
        Advance {
            secs: i64,
        },
        MarkMissed,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => prop::collection::vec((0..KEYS, -120i64..600, 0i64..300), 1..4).prop_map(Op::Record),
            3 => (0..CHANNELS.len(), 1u32..4, 1i64..120).prop_map(|(channel, limit, lease_s)| Op::Claim { channel, limit, lease_s }),
            // Sends weigh double so that runs of sends (settled many to a statement) occur.
            3 => prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![2 => Just(0u8), 1 => 1u8..5], 0i64..120), 1..5)
                .prop_map(|v| Op::Settle(v.into_iter().map(|(i, o, d)| (i.index(usize::MAX), o, d)).collect())),
            2 => (0i64..300).prop_map(|secs| Op::Advance { secs }),
            1 => Just(Op::MarkMissed),
        ]
    }

    #[derive(Debug, Clone)]
    struct ModelRow {
        id: i64,
        channel: usize,
        scheduled: DateTime<Utc>,
        grace: TimeDelta,
        state: State,
        attempts: u32,
        next_at: DateTime<Utc>,
        token: i64,
    }

    #[derive(Default)]
    struct Model {
        rows: BTreeMap<usize, ModelRow>,
    }

    impl Model {
        fn counts(&self) -> Counts {
            let mut c = Counts::default();
            for r in self.rows.values() {
                match r.state {
                    State::Pending => c.pending += 1,
                    State::Sending => c.sending += 1,
                    State::Sent => c.sent += 1,
                    State::Retrying => c.retrying += 1,
                    State::DeadLettered => c.dead_lettered += 1,
                    State::Missed => c.missed += 1,
                }
            }
            c
        }

        fn by_id(&mut self, id: i64) -> Option<&mut ModelRow> {
            self.rows.values_mut().find(|r| r.id == id)
        }
    }

    fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (_dir, s) = fresh().await;
            let mut model = Model::default();
            let mut leases: Vec<Lease> = Vec::new();
            let mut sent_once: HashSet<i64> = HashSet::new();
            let mut now = t0();
            for op in ops {
                match op {
                    Op::Record(batch) => {
                        let fires: Vec<NewFire> = batch
                            .iter()
                            .map(|&(key, offset_s, grace_s)| {
                                let mut f = fire(
                                    &format!("k{key}"),
                                    CHANNELS[key % 2],
                                    now + secs(offset_s),
                                );
                                f.grace = secs(grace_s);
                                f
                            })
                            .collect();
                        let got = s.record_fires(&fires, now).await.unwrap();
                        prop_assert_eq!(got.len(), fires.len());
                        for ((&(key, _, _), f), got) in batch.iter().zip(&fires).zip(got) {
                            if model.rows.contains_key(&key) {
                                prop_assert_eq!(got, Recorded::AlreadyRecorded);
                                continue;
                            }
                            let missed = now - f.scheduled_at > f.grace;
                            let id = match got {
                                Recorded::Pending { id } if !missed => id,
                                Recorded::Missed { id } if missed => id,
                                other => {
                                    return Err(TestCaseError::fail(format!(
                                        "recording {key} gave {other:?}, missed = {missed}"
                                    )));
                                }
                            };
                            model.rows.insert(
                                key,
                                ModelRow {
                                    id,
                                    channel: key % 2,
                                    scheduled: f.scheduled_at,
                                    grace: f.grace,
                                    state: if missed {
                                        State::Missed
                                    } else {
                                        State::Pending
                                    },
                                    attempts: 0,
                                    next_at: f.scheduled_at,
                                    token: 0,
                                },
                            );
                        }
                    }
                    Op::Claim {
                        channel,
                        limit,
                        lease_s,
                    } => {
                        let got = s
                            .claim_due(CHANNELS[channel], now, limit, secs(lease_s))
                            .await
                            .unwrap();
                        let mut due: Vec<&mut ModelRow> = model
                            .rows
                            .values_mut()
                            .filter(|r| {
                                r.channel == channel
                                    && matches!(
                                        r.state,
                                        State::Pending | State::Retrying | State::Sending
                                    )
                                    && r.next_at <= now
                            })
                            .collect();
                        due.sort_by_key(|r| (r.next_at, r.id));
                        due.truncate(limit as usize);
                        for r in due.iter_mut() {
                            r.state = State::Sending;
                            r.attempts += 1;
                            r.token += 1;
                            r.next_at = now + secs(lease_s);
                        }
                        due.sort_by_key(|r| (r.scheduled, r.id));
                        let want: Vec<(i64, u32, i64)> =
                            due.iter().map(|r| (r.id, r.attempts, r.token)).collect();
                        let have: Vec<(i64, u32, i64)> = got
                            .iter()
                            .map(|r| (r.id, r.attempts, r.lease_token))
                            .collect();
                        prop_assert_eq!(have, want);
                        for r in &got {
                            prop_assert_eq!(r.state, State::Sending);
                            prop_assert!(!sent_once.contains(&r.id), "a sent row was claimed");
                        }
                        leases.extend(got.iter().map(|r| r.lease()));
                    }
                    Op::Settle(batch) => {
                        if leases.is_empty() {
                            continue;
                        }
                        let outcomes: Vec<(Lease, Outcome)> = batch
                            .iter()
                            .map(|&(pick, outcome, delay_s)| {
                                let outcome = match outcome {
                                    0 => Outcome::Sent {
                                        answer: "ok".into(),
                                        at: now,
                                    },
                                    1 => Outcome::Retry {
                                        at: now + secs(delay_s),
                                        error: "503".into(),
                                        parts_sent: 0,
                                    },
                                    2 => Outcome::Dead {
                                        error: "400".into(),
                                        parts_sent: 0,
                                    },
                                    3 => Outcome::Release,
                                    _ => Outcome::Missed,
                                };
                                (leases[pick % leases.len()], outcome)
                            })
                            .collect();
                        let applied = s.settle(&outcomes, now).await.unwrap();
                        prop_assert_eq!(applied.len(), outcomes.len());
                        // The batch means the same as settling one by one, in order.
                        for ((lease, outcome), applied) in outcomes.into_iter().zip(applied) {
                            let row = model.by_id(lease.id).expect("leased rows exist");
                            let valid = row.state == State::Sending && row.token == lease.token;
                            prop_assert_eq!(applied, valid, "lease {:?} on {:?}", lease, row);
                            if !valid {
                                continue;
                            }
                            match outcome {
                                Outcome::Sent { .. } => {
                                    prop_assert!(sent_once.insert(lease.id), "row sent twice");
                                    row.state = State::Sent;
                                }
                                Outcome::Retry { at, .. } => {
                                    row.state = State::Retrying;
                                    row.next_at = at;
                                }
                                Outcome::Dead { .. } => row.state = State::DeadLettered,
                                Outcome::Missed => row.state = State::Missed,
                                Outcome::Release => {
                                    row.attempts -= 1;
                                    if row.attempts == 0 {
                                        row.state = State::Pending;
                                        row.next_at = row.scheduled;
                                    } else {
                                        row.state = State::Retrying;
                                        row.next_at = now;
                                    }
                                }
                            }
                        }
                    }
                    Op::Advance { secs: n } => now += secs(n),
                    Op::MarkMissed => {
                        let n = s.mark_missed(now).await.unwrap();
                        let mut want = 0;
                        for r in model.rows.values_mut() {
                            if r.state == State::Pending && now - r.scheduled > r.grace {
                                r.state = State::Missed;
                                want += 1;
                            }
                        }
                        prop_assert_eq!(n, want);
                    }
                }
                let counts = s.counts_by_state().await.unwrap();
                prop_assert_eq!(counts, model.counts());
                prop_assert_eq!(counts.total(), model.rows.len() as u64);
                prop_assert_eq!(counts.sent, sent_once.len() as u64);
            }
            for (key, m) in &model.rows {
                let row = s.find(&format!("k{key}")).await.unwrap().expect("recorded");
                prop_assert_eq!(
                    (
                        row.id,
                        row.state,
                        row.attempts,
                        row.next_attempt_at,
                        row.lease_token
                    ),
                    (m.id, m.state, m.attempts, m.next_at, m.token)
                );
            }
            s.close().await;
            Ok(())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
        #[test]
        fn the_store_follows_the_outbox_state_machine(ops in prop::collection::vec(op(), 1..40)) {
            run(ops)?;
        }
    }
}

#[tokio::test]
async fn claiming_several_queues_takes_each_due_head_and_tells_what_comes_next() {
    let (_dir, s) = fresh().await;
    let other = |key: &str, at| NewFire {
        community: "other".into(),
        ..fire(key, "wecom", at)
    };
    s.record_fires(
        &[
            fire("third", "wecom", t0() + mins(3)),
            fire("first", "wecom", t0() + mins(1)),
            fire("second", "wecom", t0() + mins(2)),
            fire("later", "wecom", t0() + mins(30)),
            fire("slack-later", "slack", t0() + mins(30)),
            other("other-done", t0()),
        ],
        t0(),
    )
    .await
    .unwrap();
    let queue = |community: &str, channel: &str| store::Queue {
        community: community.into(),
        channel: channel.into(),
    };
    let queues = [
        queue("club", "wecom"),
        queue("club", "slack"),
        queue("other", "wecom"),
        queue("nobody", "wecom"),
    ];
    let now = t0() + mins(5);
    let done = s.claim_due("wecom", t0(), 1, mins(1)).await.unwrap();
    assert_eq!(
        keys(&done),
        ["other-done"],
        "only the other community's row is due"
    );
    s.settle(
        &[(
            done[0].lease(),
            Outcome::Sent {
                answer: "ok".into(),
                at: t0(),
            },
        )],
        t0(),
    )
    .await
    .unwrap();

    let got = s
        .claim_queues(&queues, 2, now, now, mins(10))
        .await
        .unwrap();
    assert_eq!(
        keys(&got.rows),
        ["first", "second"],
        "at most 2 per queue, in order"
    );
    assert_eq!(
        got.next_due,
        [Some(t0() + mins(3)), Some(t0() + mins(30)), None, None],
        "the next unclaimed row of each queue"
    );
    // The head is leased: nothing more comes out of that queue, and its next unclaimed
    // row is still `third`.
    let again = s
        .claim_queues(&queues, 10, now, now, mins(10))
        .await
        .unwrap();
    assert!(again.rows.is_empty(), "claimed {:?}", keys(&again.rows));
    assert_eq!(again.next_due[0], Some(t0() + mins(3)));
}

#[tokio::test]
async fn a_row_claimed_ahead_of_its_instant_is_due_at_that_instant_after_a_crash() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("ahead", "wecom", t0() + secs(1)),
            fire("due", "slack", t0() - secs(5)),
        ],
        t0() - mins(1),
    )
    .await
    .unwrap();
    let queue = |channel: &str| store::Queue {
        community: "club".into(),
        channel: channel.into(),
    };
    let queues = [queue("wecom"), queue("slack")];
    let none = s.claim_queues(&queues[..1], 10, t0(), t0(), mins(10)).await;
    assert!(none.unwrap().rows.is_empty(), "not due at t0");
    let got = s
        .claim_queues(&queues, 10, t0(), t0() + secs(2), mins(10))
        .await
        .unwrap();
    assert_eq!(keys(&got.rows), ["ahead", "due"], "claimed up to 2 s ahead");

    // The process dies; the next one starts half a second later.
    let restart = t0() + TimeDelta::milliseconds(500);
    assert_eq!(s.recover(restart).await.unwrap(), 2);
    let early = s
        .claim_queues(&queues, 10, restart, restart, mins(10))
        .await
        .unwrap();
    assert_eq!(
        keys(&early.rows),
        ["due"],
        "the other is not due before its instant"
    );
    let active = s.active_queues().await.unwrap();
    assert!(
        active.contains(&store::ActiveQueue {
            queue: queue("wecom"),
            due: t0() + secs(1)
        }),
        "the new process wakes that queue at the instant: {active:?}"
    );
    let on_time = s
        .claim_queues(&queues, 10, t0() + secs(1), t0() + secs(1), mins(10))
        .await
        .unwrap();
    assert_eq!(keys(&on_time.rows), ["ahead"]);
}
