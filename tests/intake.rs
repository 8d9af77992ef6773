//! Specs for `POST /v1/events`: a real server on 127.0.0.1, a real SQLite store, the tea
//! club's playbook. Bad requests get the right 4xx and change nothing; concurrent clients
//! end in the same state as one client sending the same events in the same order.

use chrono::{TimeZone, Utc};
use drumbeat::channel::{ConsoleSink, Options};
use drumbeat::runtime::delivery::{Communities, communities_of};
use drumbeat::runtime::intake::Intake;
use drumbeat::runtime::metrics::Metrics;
use drumbeat::runtime::program::{self, Build};
use drumbeat::runtime::serving::Posted;
use drumbeat::runtime::{Clock, ScaledClock};
use drumbeat::server::events::{Auth, EventsRoute, signature};
use drumbeat::server::{self, Ops};
use drumbeat::store::members::Balance;
use drumbeat::store::{EventLog, Ledger, Lifecycle, Members, SqliteStore};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

const TOKEN: &str = "test-token-5f1c9a";
const KEY: &str = "test-signing-key-0b7e";

struct Server {
    base: String,
    store: SqliteStore,
    communities: Communities,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

fn playbook() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/members/tea-club.yaml")
}

fn communities() -> Communities {
    let build = Build {
        options: Options::new().unwrap(),
        env: Arc::new(|_: &str| None),
        dry_run: Some(ConsoleSink::to(std::io::sink())),
    };
    let loaded = program::load(&[playbook()], &build);
    assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
    communities_of(loaded.communities)
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let communities = communities();
    let intake = Arc::new(Intake::new(store.clone(), communities.clone()));
    let env = |name: &str| match name {
        "DRUMBEAT_EVENTS_TOKEN" => Some(TOKEN.to_string()),
        "DRUMBEAT_EVENTS_SECRET" => Some(KEY.to_string()),
        _ => None,
    };
    // After every event of the specs (they span December 2026), within the 400 days
    // events may lie behind.
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        1.0,
    ));
    let ops = Ops {
        events: Some(EventsRoute {
            intake: Arc::new(Posted::new(intake, clock)),
            auth: Auth::from_env(&env),
        }),
        ..Ops::new(Arc::new(Metrics::new()))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1/events", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, ops, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        store,
        communities,
        _dir: dir,
        _stop: stop,
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn ev(id: &str, kind: &str, member: &str, at: &str, data: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"{kind}","community":"tea-club","member":"{member}","at":"{at}","data":{data}}}"#
    )
}

async fn post(base: &str, body: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = client()
        .post(base)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn bearer() -> Option<&'static str> {
    Some("Bearer test-token-5f1c9a")
}

/// Nothing at all in the store's member tables.
async fn untouched(s: &Server) {
    assert!(s.store.members("tea-club").await.unwrap().is_empty());
    assert!(s.store.balances("tea-club").await.unwrap().is_empty());
    let ids = ["a", "b", "c", "x"];
    assert!(
        s.store
            .known_events("tea-club", &ids)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_good_batch_is_applied_once_and_repeats_are_acknowledged() {
    let s = start().await;
    let batch = format!(
        "[{},{}]",
        ev(
            "a",
            "join",
            "u-1",
            "2026-12-01T08:00:00+08:00",
            r#"{"name":"杭州-阿青"}"#
        ),
        ev("b", "checkin", "u-1", "2026-12-01T08:01:00+08:00", "{}")
    );
    let (status, body) = post(&s.base, &batch, bearer()).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"applied": 2, "duplicates": 0}))
    );
    let (status, body) = post(&s.base, &batch, bearer()).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"applied": 0, "duplicates": 2}))
    );
    assert_eq!(
        s.store.balances("tea-club").await.unwrap(),
        [Balance {
            member: "u-1".into(),
            points: 100
        }]
    );
}

#[tokio::test]
async fn a_signed_body_is_taken_and_a_forged_one_is_not() {
    let s = start().await;
    let body = ev("a", "join", "u-1", "2026-12-01T08:00:00+08:00", "{}");
    let res = client()
        .post(&s.base)
        .header("x-drumbeat-signature", signature(KEY, body.as_bytes()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let forged = body.replace("u-1", "u-2");
    let res = client()
        .post(&s.base)
        .header("x-drumbeat-signature", signature(KEY, body.as_bytes()))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(s.store.member("tea-club", "u-2").await.unwrap().is_none());
}

#[tokio::test]
async fn unauthenticated_malformed_unknown_and_oversized_requests_change_nothing() {
    let s = start().await;
    let good = ev("a", "join", "u-1", "2026-12-01T08:00:00+08:00", "{}");

    for auth in [None, Some("Bearer wrong"), Some("Basic dGVzdA==")] {
        let (status, body) = post(&s.base, &good, auth).await;
        assert_eq!(status, 401, "{auth:?}");
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    }

    let (status, body) = post(&s.base, "{\"id\": ", bearer()).await;
    assert_eq!(status, 400);
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("input: not JSON"),
        "{body}"
    );

    let bad_time = format!("[{good},{}]", ev("b", "checkin", "u-1", "yesterday", "{}"));
    let (status, body) = post(&s.base, &bad_time, bearer()).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["problems"],
        serde_json::json!([
            "event 1 (`b`): `at`: `yesterday` is not an RFC 3339 time with an offset (2026-12-01T07:31:05+08:00)"
        ])
    );

    let unknown = format!(
        "[{good},{}]",
        ev(
            "c",
            "custom_case_shared",
            "u-1",
            "2026-12-01T08:00:00+08:00",
            "{}"
        )
    );
    let (status, body) = post(&s.base, &unknown, bearer()).await;
    assert_eq!(status, 422);
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .contains("unknown event type `custom_case_shared`"),
        "{body}"
    );
    let elsewhere = good.replace("tea-club", "chess-club");
    assert_eq!(post(&s.base, &elsewhere, bearer()).await.0, 422);

    // Dated too far ahead of the clock (2027-01-01) or too far behind it.
    let dated = format!(
        "[{good},{},{}]",
        ev("d", "checkin", "u-1", "9999-12-31T23:59:59Z", "{}"),
        ev("e", "checkin", "u-1", "0001-01-01T00:00:00Z", "{}")
    );
    let (status, body) = post(&s.base, &dated, bearer()).await;
    assert_eq!(status, 422);
    let problems: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{body}");
    for (problem, (head, how)) in problems.iter().zip([
        (
            "event 1 (`d`): `at`: 9999-12-31T23:59:59+00:00",
            "a day after",
        ),
        (
            "event 2 (`e`): `at`: 0001-01-01T00:00:00+00:00",
            "400 days before",
        ),
    ]) {
        let start = format!("{head} is more than {how} now (2027-01-01T00:00:");
        assert!(problem.starts_with(&start), "{problem}");
        assert!(
            problem.ends_with("): events are taken from 400 days before now to a day after"),
            "{problem}"
        );
    }

    // Over the 8 MiB limit.
    let padding = "x".repeat(9 * 1024 * 1024);
    let huge = ev(
        "x",
        "message",
        "u-1",
        "2026-12-01T08:00:00+08:00",
        &format!(r#"{{"text":"{padding}"}}"#),
    );
    assert_eq!(post(&s.base, &huge, bearer()).await.0, 413);

    untouched(&s).await;
}

/// Per member: status, balance, tier, badges and offences, as the store and rules see them.
async fn picture(s: &Server) -> Vec<serde_json::Value> {
    let communities = s.communities.read().unwrap().clone();
    let c = &communities["tea-club"];
    let mut out = Vec::new();
    let balances: HashMap<String, i64> = s
        .store
        .balances("tea-club")
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.member, b.points))
        .collect();
    let all = drumbeat::runtime::intake::rebuild_all(&s.store, &c.program)
        .await
        .unwrap();
    for m in s.store.members("tea-club").await.unwrap() {
        let state = drumbeat::runtime::intake::rebuild(&s.store, &c.program, &m.id)
            .await
            .unwrap();
        assert_eq!(
            state.ledger.balance,
            balances.get(&m.id).copied().unwrap_or(0),
            "the ledger and the replayed state agree on {}",
            m.id
        );
        // Rebuilding the whole community at once gives the same member.
        assert_eq!(all[&m.id], state, "{}", m.id);
        let offences = s.store.offences("tea-club", &m.id).await.unwrap().len();
        out.push(serde_json::json!({
            "id": m.id,
            "status": m.status.as_str(),
            "points": state.ledger.balance,
            "member": state.member_value(c.playbook()),
            "offences": offences,
        }));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_clients_end_where_one_client_sending_in_order_ends() {
    // 500 members over 30 days: ~18,500 events with duplicates and late arrivals, each
    // sent six times over (a forwarder retrying hard): over 100,000 posted by 100 clients.
    let lines = crate::common::events::Stream::new("tea-club", 500, 30, 11).lines();
    // Every event six times: once as generated and five more times as repeats.
    let mut stream: Vec<&str> = Vec::new();
    for round in 0..6 {
        stream.extend(lines.iter().skip(round % 7).map(String::as_str));
    }
    let total = stream.len();
    assert!(total >= 100_000, "{total} events");
    let s = start().await;
    // 100 clients take turns at batches of 50, concurrently.
    let batches: Vec<String> = stream
        .chunks(50)
        .map(|c| format!("[{}]", c.join(",")))
        .collect();
    let batches = Arc::new(batches);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..100 {
        let (batches, next, base) = (batches.clone(), next.clone(), s.base.clone());
        clients.push(tokio::spawn(async move {
            let (mut applied, mut duplicates) = (0u64, 0u64);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(batch) = batches.get(i) else { break };
                let (status, body) = post(&base, batch, bearer()).await;
                assert_eq!(status, 200, "{body}");
                applied += body["applied"].as_u64().unwrap();
                duplicates += body["duplicates"].as_u64().unwrap();
            }
            (applied, duplicates)
        }));
    }
    let (mut applied, mut duplicates) = (0, 0);
    for c in clients {
        let (a, d) = c.await.unwrap();
        applied += a;
        duplicates += d;
    }
    assert_eq!(applied + duplicates, total as u64);
    let distinct: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Box::leak(v["id"].as_str().unwrap().to_string().into_boxed_str()) as &str
        })
        .collect();
    assert_eq!(applied, distinct.len() as u64, "each event id applied once");
    let concurrent = picture(&s).await;

    // One client, the same events in the order the server applied them.
    let order = {
        let url = format!("sqlite://{}", s._dir.path().join("state.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok", "the store passes SQLite's integrity check");
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM events ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        ids
    };
    let by_id: HashMap<String, &str> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), l.as_str())
        })
        .collect();
    // A batch is applied event by event in its order, so batches of that order are the
    // same replay as one event per request, only quicker.
    let sequential = start().await;
    for ids in order.chunks(1000) {
        let batch = format!(
            "[{}]",
            ids.iter().map(|id| by_id[id]).collect::<Vec<_>>().join(",")
        );
        let (status, body) = post(&sequential.base, &batch, bearer()).await;
        assert_eq!(
            (status, body["applied"].as_u64()),
            (200, Some(ids.len() as u64))
        );
    }
    assert_eq!(picture(&sequential).await, concurrent);
}

#[test]
fn the_generated_stream_is_the_same_for_the_same_seed_and_varied_within() {
    use crate::common::events::Stream;
    let a = Stream::new("c", 200, 10, 5).lines();
    assert_eq!(a, Stream::new("c", 200, 10, 5).lines());
    assert_ne!(a, Stream::new("c", 200, 10, 6).lines());
    let events: Vec<serde_json::Value> =
        a.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert!(count("join") >= 200, "{}", count("join"));
    assert!(count("checkin") > 100, "{}", count("checkin"));
    assert!(count("message") > 100, "{}", count("message"));
    let ids: std::collections::HashSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.len() < events.len(), "some events are sent twice");
    let out_of_order = events
        .windows(2)
        .filter(|w| w[0]["at"].as_str() > w[1]["at"].as_str())
        .count();
    assert!(out_of_order > 0, "some arrive out of order");
}

/// Four connections posting batches of 100 back to back: every request is answered within
/// a bounded wait, even the one whose turn it was to write a group while the others kept
/// coming (it used to be held until they all went quiet).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_busy_connections_each_get_every_answer_within_a_bounded_wait() {
    let lines = crate::common::events::Stream::new("tea-club", 2000, 30, 23).lines();
    let batches: Vec<String> = lines
        .chunks(100)
        .map(|c| format!("[{}]", c.join(",")))
        .collect();
    let s = start().await;
    let (batches, next) = (
        Arc::new(batches),
        Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    );
    // New events in every batch (duplicates would be written too quickly for the others
    // to keep a writer busy): 679 batches, of which eight seconds post a few hundred.
    let until = std::time::Instant::now() + Duration::from_secs(8);
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (batches, next, base) = (batches.clone(), next.clone(), s.base.clone());
        clients.push(tokio::spawn(async move {
            let client = client();
            let mut waits = Vec::new();
            while std::time::Instant::now() < until {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let batch = &batches[i % batches.len()];
                let sent = std::time::Instant::now();
                let res = client
                    .post(&base)
                    .header("authorization", bearer().unwrap())
                    .body(batch.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 200);
                res.bytes().await.unwrap();
                waits.push(sent.elapsed());
            }
            waits
        }));
    }
    let mut waits = Vec::new();
    for c in clients {
        waits.extend(c.await.unwrap());
    }
    waits.sort();
    let longest = *waits.last().unwrap();
    eprintln!("{} requests; the longest waited {longest:?}", waits.len());
    assert!(waits.len() >= 40, "only {} requests", waits.len());
    assert!(
        longest < Duration::from_secs(2),
        "a request waited {longest:?} for its answer ({} requests, median {:?})",
        waits.len(),
        waits[waits.len() / 2]
    );
}

/// A condition that fails for a member's values is counted per community in `/metrics`
/// (and logged with its place), and the event still counts.
#[tokio::test]
async fn conditions_that_fail_are_counted_in_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::common::tea_club_with_a_failing_badge(dir.path());
    let build = Build {
        options: Options::new().unwrap(),
        env: Arc::new(|_: &str| None),
        dry_run: Some(ConsoleSink::to(std::io::sink())),
    };
    let loaded = program::load(&[path], &build);
    assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
    let communities = communities_of(loaded.communities);
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let intake = Intake::new(store.clone(), communities).with_metrics(metrics.clone());
    let lines = [
        ev("j", "join", "u-4", "2026-12-01T08:00:00+08:00", "{}"),
        ev("c", "checkin", "u-4", "2026-12-01T08:01:00+08:00", "{}"),
    ];
    let events = drumbeat::events::read_any(&lines.join("\n")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 2, 0).unwrap();
    let receipt = intake.take(events, now).await.unwrap();
    assert_eq!(receipt.applied, 2);
    let text = metrics.render();
    assert!(
        text.contains("drumbeat_condition_failures_total{community=\"tea-club\"} 2\n"),
        "{text}"
    );
    store.close().await;
}
