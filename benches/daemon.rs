//! The daemon's speed figures (issue 3), measured on the real binary as an operator runs it:
//!
//! - **start-up and memory**: 10,000 playbooks of 4 slots loaded; the time from spawning
//!   `drumbeat run` to its "running" log line (and the `startup_ms` it reports), then the
//!   resident memory (VmRSS) once it has settled (target < 200 MB);
//! - **burst**: the same 10,000 playbooks all fire one slot at the same instant to a `file`
//!   channel; lateness is the outbox row's `sent_at` minus its scheduled instant, read from
//!   the store after the run (target p99 < 100 ms);
//! - **throughput**: 20,000 fires due at once to `webhook` channels pointing at a small HTTP
//!   server on loopback that answers 200; durable sends per second from the first `sent_at` to
//!   the last (target ≥ 2,000/s).
//!
//! The burst and throughput runs use `--start-at` a little before the burst and `--speed 1`, so
//! lateness is real time. Every run gets a fresh store in a temporary folder.
//!
//! ```sh
//! cargo bench --bench daemon                        # all three
//! cargo bench --bench daemon -- burst               # one: startup | burst | throughput
//! cargo bench --bench daemon -- --playbooks 2000    # fewer playbooks (quicker)
//! ```
//!
//! Cargo builds the `drumbeat` binary with the bench profile (release settings) and names
//! it in `CARGO_BIN_EXE_drumbeat`; `DRUMBEAT_BIN` points at another build.
//! `DAEMON_BENCH_KEEP=1` keeps each run's folder (playbooks, store, log) for a closer look.

use chrono::{DateTime, TimeDelta, Utc};
use drumbeat::store::{Lifecycle, OutboxStatus, SqliteStore, State};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// 08:00 in Shanghai on a Tuesday: every burst is due at this instant.
const BURST: &str = "2026-12-01T08:00:00+08:00";

struct Options {
    playbooks: usize,
    throughput_fires: usize,
    runs: Vec<String>,
}

fn main() {
    let mut options = Options {
        playbooks: 10_000,
        throughput_fires: 20_000,
        runs: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            // What cargo passes to every bench binary.
            "--bench" => {}
            "--playbooks" => options.playbooks = number(args.next()),
            "--fires" => options.throughput_fires = number(args.next()),
            "startup" | "burst" | "throughput" => options.runs.push(a),
            other if other.starts_with('-') => {}
            other => panic!("unknown run `{other}`: startup, burst or throughput"),
        }
    }
    if options.runs.is_empty() {
        options.runs = ["startup", "burst", "throughput"].map(String::from).into();
    }
    let bin = binary();
    println!("binary: {}", bin.display());
    let mut table = Vec::new();
    let mut startup = None;
    for run in &options.runs {
        match run.as_str() {
            "startup" => {
                let s = startup_run(&bin, options.playbooks);
                startup = Some(s.spawn_to_running);
                table.extend(s.rows);
            }
            "burst" => table.extend(burst_run(&bin, options.playbooks, startup)),
            "throughput" => table.extend(throughput_run(&bin, options.throughput_fires)),
            _ => unreachable!(),
        }
    }
    println!();
    println!("{:<58} {:>14}  target", "figure", "value");
    for (name, value, target) in table {
        println!("{name:<58} {value:>14}  {target}");
    }
}

fn number(arg: Option<String>) -> usize {
    arg.and_then(|a| a.replace('_', "").parse().ok())
        .expect("a whole number")
}

/// The binary under test.
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("DRUMBEAT_BIN") {
        return PathBuf::from(bin);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_drumbeat"))
}

type Row = (String, String, &'static str);

struct Startup {
    spawn_to_running: Duration,
    rows: Vec<Row>,
}

/// 10,000 playbooks, nothing due within the look-ahead: start-up and memory at rest.
fn startup_run(bin: &Path, playbooks: usize) -> Startup {
    let dir = scratch();
    let out = dir.path().join("fires.jsonl");
    write_file_playbooks(&dir.path().join("playbooks"), playbooks, &out);
    check_valid(bin, &dir.path().join("playbooks"));
    // 09:00: the next slot (12:00) is hours away, so the first tick records nothing.
    let daemon = Daemon::start(
        bin,
        dir.path(),
        "2026-12-01T09:00:00+08:00",
        &dir.path().join("playbooks"),
    );
    println!(
        "startup: {playbooks} playbooks running after {:.2} s (startup_ms {})",
        daemon.spawn_to_running.as_secs_f64(),
        daemon.startup_ms
    );
    std::thread::sleep(Duration::from_secs(3));
    let rss = daemon.memory("VmRSS");
    let hwm = daemon.memory("VmHWM");
    let spawn_to_running = daemon.spawn_to_running;
    let startup_ms = daemon.startup_ms;
    daemon.stop();
    Startup {
        spawn_to_running,
        rows: vec![
            (
                format!("start-up, spawn to \"running\" ({playbooks} playbooks)"),
                format!("{:.0} ms", spawn_to_running.as_secs_f64() * 1e3),
                "report",
            ),
            (
                "start-up, startup_ms logged by the daemon".into(),
                format!("{startup_ms} ms"),
                "report",
            ),
            (
                format!("resident memory at rest, VmRSS ({playbooks} playbooks)"),
                mb(rss),
                "< 200 MB",
            ),
            (
                "peak resident memory during start-up, VmHWM".into(),
                mb(hwm),
                "report",
            ),
        ],
    }
}

/// The same playbooks, all of them firing their 08:00 slot at once to the file channel.
fn burst_run(bin: &Path, playbooks: usize, startup: Option<Duration>) -> Vec<Row> {
    let dir = scratch();
    let out = dir.path().join("fires.jsonl");
    write_file_playbooks(&dir.path().join("playbooks"), playbooks, &out);
    // Start early enough that start-up (which records the burst) is over well before it.
    let lead = startup.map_or(Duration::from_secs(30), |s| s * 2 + Duration::from_secs(5));
    let burst = instant(BURST);
    let start_at = burst - TimeDelta::from_std(lead).unwrap();
    let daemon = Daemon::start(
        bin,
        dir.path(),
        &start_at.to_rfc3339(),
        &dir.path().join("playbooks"),
    );
    println!(
        "burst: running after {:.2} s; the burst is due {:.1} s after spawning",
        daemon.spawn_to_running.as_secs_f64(),
        lead.as_secs_f64()
    );
    let done = wait_for(Duration::from_secs(120) + lead, || {
        count_lines(&out) >= playbooks as u64
    });
    assert!(
        done,
        "the burst was not all written: {} lines",
        count_lines(&out)
    );
    let rss = daemon.memory("VmRSS");
    let hwm = daemon.memory("VmHWM");
    daemon.stop();
    let rows = sent_rows(dir.path());
    assert_eq!(rows.len(), playbooks, "every fire sent once");
    let mut late: Vec<i64> = rows
        .iter()
        .map(|(sent, at)| (*sent - *at).num_milliseconds())
        .collect();
    late.sort_unstable();
    assert!(late[0] >= 0, "a fire went out {} ms early", -late[0]);
    println!(
        "burst: {} fires, lateness min {} ms, p50 {} ms, p99 {} ms, max {} ms",
        late.len(),
        late[0],
        pct(&late, 50.0),
        pct(&late, 99.0),
        late[late.len() - 1]
    );
    vec![
        (
            format!("burst of {playbooks} fires to file, lateness p50"),
            format!("{} ms", pct(&late, 50.0)),
            "report",
        ),
        (
            format!("burst of {playbooks} fires to file, lateness p99"),
            format!("{} ms", pct(&late, 99.0)),
            "< 100 ms",
        ),
        (
            format!("burst of {playbooks} fires to file, lateness max"),
            format!("{} ms", late[late.len() - 1]),
            "report",
        ),
        (
            "resident memory after the burst, VmRSS".into(),
            mb(rss),
            "< 200 MB",
        ),
        (
            "peak resident memory of the burst run, VmHWM".into(),
            mb(hwm),
            "report",
        ),
    ]
}

/// Fires due at once to webhooks on a loopback server: durable sends per second.
fn throughput_run(bin: &Path, fires: usize) -> Vec<Row> {
    // 10 slots on each of 2 channels per playbook: queues of 10 fires, sent in order.
    let per_playbook = 20;
    let playbooks = fires.div_ceil(per_playbook);
    let fires = playbooks * per_playbook;
    let server = Receiver::start();
    let dir = scratch();
    let folder = dir.path().join("playbooks");
    write_webhook_playbooks(&folder, playbooks, server.port);
    check_valid(bin, &folder);
    let lead = Duration::from_secs(15);
    let start_at = instant(BURST) - TimeDelta::from_std(lead).unwrap();
    let daemon = Daemon::start(bin, dir.path(), &start_at.to_rfc3339(), &folder);
    println!(
        "throughput: {playbooks} playbooks, {fires} fires; running after {:.2} s",
        daemon.spawn_to_running.as_secs_f64()
    );
    let done = wait_for(Duration::from_secs(180) + lead, || {
        server.received.load(Ordering::Relaxed) >= fires as u64
    });
    assert!(
        done,
        "not every fire arrived: {}",
        server.received.load(Ordering::Relaxed)
    );
    let rss = daemon.memory("VmRSS");
    daemon.stop();
    let rows = sent_rows(dir.path());
    assert_eq!(rows.len(), fires, "every fire sent once");
    let first = rows.iter().map(|r| r.0).min().unwrap();
    let last = rows.iter().map(|r| r.0).max().unwrap();
    let span = (last - first).num_milliseconds().max(1) as f64 / 1e3;
    let rate = (fires - 1) as f64 / span;
    // Everything counted from the instant the fires fell due, the first claim included.
    let whole = (last - instant(BURST)).num_milliseconds().max(1) as f64 / 1e3;
    let mut late: Vec<i64> = rows
        .iter()
        .map(|(sent, at)| (*sent - *at).num_milliseconds())
        .collect();
    late.sort_unstable();
    println!(
        "throughput: {fires} sent in {span:.2} s (first to last sent_at): {rate:.0}/s; {} requests received",
        server.received.load(Ordering::Relaxed)
    );
    vec![
        (
            format!("{fires} webhook fires due at once, first to last sent_at"),
            format!("{:.0} ms", span * 1e3),
            "report",
        ),
        (
            "durable sends per second, end to end".into(),
            format!("{rate:.0} /s"),
            ">= 2000 /s",
        ),
        (
            "  counted from the due instant to the last sent_at".into(),
            format!("{:.0} /s", fires as f64 / whole),
            "report",
        ),
        (
            "  their lateness p50 / p99".into(),
            format!("{} / {} ms", pct(&late, 50.0), pct(&late, 99.0)),
            "report",
        ),
        (
            "resident memory after the sends, VmRSS".into(),
            mb(rss),
            "report",
        ),
    ]
}

/// A running `drumbeat run` and when it said "running".
struct Daemon {
    child: Child,
    spawn_to_running: Duration,
    startup_ms: u64,
}

impl Daemon {
    /// Starts `drumbeat run` logging JSON to `dir/log.jsonl` (a file, as under a service
    /// manager: a pipe the bench reads would slow the daemon's logging) and waits for its
    /// "running" line.
    fn start(bin: &Path, dir: &Path, start_at: &str, playbooks: &Path) -> Daemon {
        let store = format!("sqlite://{}", dir.join("state.db").display());
        let log_path = dir.join("log.jsonl");
        let log = std::fs::File::create(&log_path).unwrap();
        let spawned = Instant::now();
        let mut child = Command::new(bin)
            .args(["run", "--no-watch", "--log-format", "json", "--speed", "1"])
            .args(["--start-at", start_at, "--store", &store])
            .arg(playbooks)
            .env("DRUMBEAT_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start drumbeat run");
        let until = spawned + Duration::from_secs(120);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("\"message\":\"running\"")) {
                let spawn_to_running = spawned.elapsed();
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                return Daemon {
                    child,
                    spawn_to_running,
                    startup_ms: value["startup_ms"].as_u64().unwrap_or(0),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("drumbeat run did not start ({status}):\n{text}");
            }
            if Instant::now() > until {
                let _ = child.kill();
                panic!("drumbeat run did not start within 120 s:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A figure of /proc/PID/status in bytes.
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{field} in /proc/PID/status"));
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap();
        kb * 1024
    }

    /// SIGTERM, then waits for the graceful stop.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let stopped = wait_for(Duration::from_secs(30), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
            panic!("drumbeat run did not stop within 30 s of SIGTERM");
        }
    }
}

/// A loopback HTTP server that answers 200 to every POST and counts them.
struct Receiver {
    port: u16,
    received: Arc<AtomicU64>,
}

impl Receiver {
    fn start() -> Receiver {
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                let app = axum::Router::new().route(
                    "/hook",
                    axum::routing::post(move |_body: String| {
                        let count = count.clone();
                        async move {
                            count.fetch_add(1, Ordering::Relaxed);
                            "ok"
                        }
                    }),
                );
                axum::serve(listener, app).await.unwrap();
            });
        });
        Receiver {
            port: rx.recv().unwrap(),
            received,
        }
    }
}

/// Playbooks of 4 daily slots to one file channel; the 08:00 slot is the burst.
fn write_file_playbooks(folder: &Path, count: usize, out: &Path) {
    std::fs::create_dir_all(folder).unwrap();
    for i in 0..count {
        let text = format!(
            r#"version: 1
community: {{ id: club-{i:05}, name: 晨跑俱乐部 {i}, kind: service, timezone: Asia/Shanghai, locale: zh-CN }}
channels:
  log: {{ type: file, path: "{out}" }}
default_channel: log
content:
  slots:
    - {{ id: morning, at: "08:00", template: morning }}
    - {{ id: lunch, at: "12:00", template: lunch }}
    - {{ id: evening, at: "18:30", days: weekdays, template: evening }}
    - {{ id: night, at: "21:00", template: night }}
templates:
  morning: "早上好，{{{{ community.name }}}}！今天是 {{{{ now | date }}}}，跑完记得在群里打卡。"
  lunch: "午餐时间：少油少盐，多吃蔬菜。"
  evening: "晚上好！今天的训练完成了吗？"
  night: "{{{{ community.name }}}} 晚安，明早见。"
"#,
            out = out.display()
        );
        std::fs::write(folder.join(format!("club-{i:05}.yaml")), text).unwrap();
    }
}

/// Playbooks whose 20 slots are all due at 08:00, 10 on each of two webhook channels.
fn write_webhook_playbooks(folder: &Path, count: usize, port: u16) {
    std::fs::create_dir_all(folder).unwrap();
    let mut slots = String::new();
    for s in 0..20 {
        let channel = if s % 2 == 0 { "alerts" } else { "digest" };
        slots.push_str(&format!(
            "    - {{ id: s{s:02}, at: \"08:00\", template: note, channel: {channel} }}\n"
        ));
    }
    for i in 0..count {
        let text = format!(
            r#"version: 1
community: {{ id: hook-{i:05}, name: 读书会 {i}, kind: service, timezone: Asia/Shanghai, locale: zh-CN }}
channels:
  alerts: {{ type: webhook, url: "http://127.0.0.1:{port}/hook" }}
  digest: {{ type: webhook, url: "http://127.0.0.1:{port}/hook" }}
default_channel: alerts
content:
  slots:
{slots}templates:
  note: "{{{{ community.name }}}}：今天 {{{{ now | time }}}} 的共读提醒。"
"#
        );
        std::fs::write(folder.join(format!("hook-{i:05}.yaml")), text).unwrap();
    }
}

fn check_valid(bin: &Path, folder: &Path) {
    let out = Command::new(bin)
        .arg("validate")
        .arg(folder)
        .output()
        .expect("drumbeat validate");
    assert!(
        out.status.success(),
        "the generated playbooks are not valid:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(sent_at, scheduled_at)` of every sent row, read from the store after the daemon stopped.
fn sent_rows(dir: &Path) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let url = format!("sqlite://{}", dir.join("state.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&url).await.unwrap();
        let counts = s.counts_by_state().await.unwrap();
        assert_eq!(
            counts.total(),
            counts.get(State::Sent),
            "rows left unsent: {counts:?}"
        );
        let rows = s.rows_in_state(State::Sent, u32::MAX).await.unwrap();
        s.close().await;
        rows.into_iter()
            .map(|r| (r.sent_at.expect("a sent row has sent_at"), r.scheduled_at))
            .collect()
    })
}

/// A scratch folder, removed afterwards unless `DAEMON_BENCH_KEEP` is set (then printed).
fn scratch() -> tempfile::TempDir {
    let mut dir = tempfile::tempdir().unwrap();
    if std::env::var_os("DAEMON_BENCH_KEEP").is_some() {
        println!("keeping {}", dir.path().display());
        dir.disable_cleanup(true);
    }
    dir
}

fn count_lines(path: &Path) -> u64 {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count() as u64)
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// The `p`th percentile (nearest rank) of sorted values.
fn pct(sorted: &[i64], p: f64) -> i64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
