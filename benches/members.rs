//! Member-side speed: events applied durably, `POST /v1/events` latency under 100 clients,
//! and the daily sweep over 100,000 members. A plain harness that prints its figures:
//!
//!     cargo bench --bench members            (or: -- apply | post | sweep)
//!
//! Events come from the specs' seeded generator, tests/common/events.rs (realistic streams:
//! busy hours, silent members, duplicates, late arrivals).

use chrono::{TimeZone, Utc};
use drumbeat::channel::{ConsoleSink, Options};
use drumbeat::events::{Event, read_any};
use drumbeat::rules::{Member, Status};
use drumbeat::runtime::delivery::Communities;
use drumbeat::runtime::intake::Intake;
use drumbeat::runtime::program::{self, Build};
use drumbeat::store::members::{Effects, LedgerLine};
use drumbeat::store::{EventLog, Lifecycle, SqliteStore};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn communities() -> Communities {
    let build = Build {
        options: Options::new().unwrap(),
        env: Arc::new(|_: &str| None),
        dry_run: Some(ConsoleSink::to(std::io::sink())),
    };
    let loaded = program::load(
        &[root().join("tests/fixtures/members/tea-club.yaml")],
        &build,
    );
    assert!(loaded.refused.is_empty());
    Arc::new(RwLock::new(Arc::new(
        loaded
            .communities
            .into_iter()
            .map(|c| (c.id().to_string(), Arc::new(c)))
            .collect::<HashMap<_, _>>(),
    )))
}

#[allow(dead_code)]
#[path = "../tests/common/events.rs"]
mod generator;

fn generated(members: u32, days: u32, seed: u32) -> Vec<Event> {
    let lines = generator::Stream::new("tea-club", members, days, u64::from(seed)).lines();
    read_any(&lines.join("\n")).expect("valid events")
}

async fn fresh_store(dir: &tempfile::TempDir) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    SqliteStore::open(&url).await.unwrap()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
}

async fn applied_per_second() {
    let events = generated(2000, 30, 3);
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let intake = Intake::new(store.clone(), communities());
    let started = Instant::now();
    let mut applied = 0;
    for batch in events.chunks(1000) {
        applied += intake.take(batch.to_vec(), now()).await.unwrap().applied;
    }
    let took = started.elapsed();
    println!(
        "apply events durably, batches of 1,000: {} events in {:.2} s = {:.0} events/s",
        applied,
        took.as_secs_f64(),
        applied as f64 / took.as_secs_f64()
    );
}

/// `POST /v1/events` against the real daemon (its own process, as in production), from
/// 100 concurrent clients here, one event per request.
async fn post_latency() {
    // The daemon takes events up to a day after its clock, which is the machine's: the 30
    // days of events end the day before today.
    let mut stream = generator::Stream::new("tea-club", 500, 30, 5);
    stream.start = Utc::now().date_naive() - chrono::Duration::days(31);
    let events = read_any(&stream.lines().join("\n")).expect("valid events");
    let lines: Vec<String> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id, "type": e.kind.as_str(), "community": e.community,
                "member": e.member, "at": e.at.to_rfc3339(), "data": e.data,
            })
            .to_string()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_drumbeat"))
        .args(["run", "--no-watch", "--log-format", "json"])
        .arg("--store")
        .arg(format!(
            "sqlite://{}",
            dir.path().join("state.db").display()
        ))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg(root().join("tests/fixtures/members/tea-club.yaml"))
        .env("DRUMBEAT_EVENTS_TOKEN", "bench-token")
        .env("DRUMBEAT_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("drumbeat runs");
    let url = format!("http://127.0.0.1:{port}/v1/events");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..600 {
        if client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lines = Arc::new(lines);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (lines, next, url, client) = (lines.clone(), next.clone(), url.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(line) = lines.get(i) else { break };
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .header("authorization", "Bearer bench-token")
                    .body(line.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 200);
                let _ = res.bytes().await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let took = started.elapsed();
    let _ = daemon.kill();
    let _ = daemon.wait();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "POST /v1/events to the daemon, one event per request, 100 clients: {} requests in {:.2} s ({:.0}/s); \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        took.as_secs_f64(),
        all.len() as f64 / took.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn sweep_hundred_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let communities = communities();
    let c = communities.read().unwrap()["tea-club"].clone();
    let joined = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let mut effects = Effects::default();
    for i in 0..100_000u32 {
        let mut m = Member::new("tea-club", &format!("u-{i:06}"), Status::Member);
        m.name = Some(format!("成员{i}"));
        m.joined_at = Some(joined);
        // A third were active lately; the rest have been silent since they joined.
        if i % 3 == 0 {
            m.last_active = Some(now() - chrono::TimeDelta::hours(i64::from(i % 48)));
        }
        effects.members.push(m);
        effects.ledger.push(LedgerLine {
            community: "tea-club".into(),
            member: format!("u-{i:06}"),
            at: joined,
            points: i64::from(i % 500),
            reason: "opening".into(),
            detail: None,
            event: None,
        });
    }
    store.write_effects(&effects, joined).await.unwrap();
    let intake = Intake::new(store.clone(), communities.clone());
    let t = Instant::now();
    let looked = intake.sweep(&c, now(), now()).await.unwrap();
    let cold = t.elapsed();
    let t = Instant::now();
    intake
        .sweep(
            &c,
            now() + chrono::TimeDelta::days(1),
            now() + chrono::TimeDelta::days(1),
        )
        .await
        .unwrap();
    let warm = t.elapsed();
    println!(
        "daily sweep over {looked} members: {:.2} s the first time (states rebuilt from the store), {:.2} s the next day",
        cold.as_secs_f64(),
        warm.as_secs_f64()
    );
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|a| a == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if wants("apply") {
            applied_per_second().await;
        }
        if wants("post") {
            post_latency().await;
        }
        if wants("sweep") {
            sweep_hundred_thousand().await;
        }
    });
}
