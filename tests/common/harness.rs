//! The daemon in this process, on a clock the test moves: the same `runtime::run` that
//! `drumbeat run` calls, with a real SQLite store in a temporary folder and channels on
//! loopback, but time stands still until the test sets it. What the daemon does at an
//! instant then does not depend on how busy the machine is, and no test waits for
//! simulated minutes to pass.
//!
//! A spec sets the clock to an instant, waits (in real time, with patience) for what must
//! follow, and looks. Real processes stay for what only a process can show: SIGKILL,
//! SIGTERM, SIGSTOP and reloads by signal.

use chrono::{DateTime, TimeDelta, Utc};
use drumbeat::channel::{ConsoleSink, Options};
use drumbeat::runtime::program::Build;
use drumbeat::runtime::{self, Config, Control, Failure, ManualClock, Settings};
use drumbeat::store::{Lifecycle, OutboxRow, OutboxStatus, SqliteStore, State};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long any wait may take before the spec fails: generous, for a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running daemon in this process.
pub struct Harness {
    pub clock: Arc<ManualClock>,
    control: mpsc::UnboundedSender<Control>,
    done: Option<tokio::task::JoinHandle<Result<(), Failure>>>,
    log: Arc<Mutex<Vec<u8>>>,
    store_url: String,
    /// A reader of the daemon's store, opened once the daemon has made it.
    reader: Mutex<Option<SqliteStore>>,
    // Dropped last: stopping the runtime stops whatever the daemon still runs.
    rt: tokio::runtime::Runtime,
}

/// What a harness daemon is started with; `Harness::start` fills in the rest.
pub struct Setup {
    pub paths: Vec<PathBuf>,
    pub store_url: String,
    /// When the process started: a first run plans from here. The clock's instant at
    /// the start unless set.
    pub began: Option<DateTime<Utc>>,
    pub lookahead: TimeDelta,
    pub delivery: Settings,
    pub stop_at: Option<DateTime<Utc>>,
    /// `--dry-run`: every channel prints to this sink.
    pub dry_run: Option<ConsoleSink>,
}

impl Setup {
    /// The playbooks at `paths`, the store at `store_url`; the rest as `drumbeat run`
    /// defaults it.
    pub fn new(paths: &[PathBuf], store_url: &str) -> Setup {
        Setup {
            paths: paths.to_vec(),
            store_url: store_url.to_string(),
            began: None,
            lookahead: TimeDelta::hours(1),
            // On a clock that stands still a row claimed ahead would stay `sending` until
            // the test moved the clock, and `settle` could not tell it from one in flight.
            delivery: Settings {
                claim_ahead: TimeDelta::zero(),
                ..Settings::default()
            },
            stop_at: None,
            dry_run: None,
        }
    }
}

/// Log lines the daemon writes, one JSON object each, into a buffer of the test's own.
#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Harness {
    /// Starts the daemon on `clock`, which stands where it is until the spec moves it.
    pub fn start_on(clock: Arc<ManualClock>, setup: Setup) -> Harness {
        let log: Arc<Mutex<Vec<u8>>> = Arc::default();
        let writer = Captured(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || writer.clone())
            .finish();
        let dispatch = tracing::Dispatch::new(subscriber);
        // The runtime's threads log to this test's buffer; other tests have their own.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .build()
            .expect("a runtime for the daemon");
        let mut options = Options::new().expect("an HTTP client");
        let now_of = clock.clone();
        options.clock = Arc::new(move || now_of.now());
        let store_url = setup.store_url.clone();
        let config = Config {
            paths: setup.paths,
            store_url: setup.store_url,
            listen: None,
            build: Build {
                options,
                env: Arc::new(|_: &str| None),
                dry_run: setup.dry_run,
            },
            clock: Arc::new(clock.clone()),
            began: setup.began.unwrap_or_else(|| clock.now()),
            delivery: setup.delivery,
            lookahead: setup.lookahead,
            watch: false,
            keep: TimeDelta::days(30),
            stop_at: setup.stop_at,
        };
        let (control, rx) = mpsc::unbounded_channel();
        let done = rt.spawn(runtime::run(config, rx, control.clone()));
        Harness {
            clock,
            control,
            done: Some(done),
            log,
            store_url,
            reader: Mutex::default(),
            rt,
        }
    }

    /// Moves the daemon's clock to `at` (never backwards).
    pub fn set(&self, at: DateTime<Utc>) {
        self.clock.set(at);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Polls `done` until it holds; fails if the daemon stops or patience runs out.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if done() {
                return;
            }
            if self.done.as_ref().is_some_and(|d| d.is_finished()) {
                panic!("waiting for {what}: the daemon stopped\n{}", self.tail());
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what} at {}\n{}",
                self.now().to_rfc3339(),
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until the daemon logs that it is running.
    pub fn wait_running(&self) {
        self.wait_for("the daemon to start", || !self.logged("running").is_empty());
    }

    /// Every row of the outbox, by key, read state by state: consistent only once the
    /// daemon has settled (see [`Harness::settle`]).
    pub fn rows(&self) -> BTreeMap<String, OutboxRow> {
        self.read(|store| async move {
            let mut rows = BTreeMap::new();
            for state in State::ALL {
                for r in store.rows_in_state(state, 1_000_000).await.unwrap() {
                    rows.insert(r.key.clone(), r);
                }
            }
            rows
        })
    }

    /// The rows not finished yet (pending, sending, retrying), read in one query.
    fn unfinished(&self) -> Vec<OutboxRow> {
        self.read(|store| async move { store.next_rows(1_000_000).await.unwrap() })
    }

    fn read<T, F: std::future::Future<Output = T>>(&self, f: impl FnOnce(SqliteStore) -> F) -> T {
        let mut reader = self.reader.lock().unwrap();
        self.rt.block_on(async {
            if reader.is_none() {
                let store = SqliteStore::open_to_read(&self.store_url)
                    .await
                    .expect("the daemon's store opens to read");
                *reader = Some(store);
            }
            f(reader.clone().expect("opened")).await
        })
    }

    /// Waits until the daemon has done all it had to do by now: no row is being sent and
    /// the head of no queue is due (rows behind a head that is being retried wait for it).
    /// The daemon's work depends only on the clock, so when this returns nothing more
    /// happens until the clock moves.
    pub fn settle(&self) -> BTreeMap<String, OutboxRow> {
        let mut unfinished = Vec::new();
        let now = self.now();
        self.wait_for("the daemon to settle", || {
            unfinished = self.unfinished();
            !unfinished.iter().any(|r| r.state == State::Sending)
                && heads(&unfinished).all(|r| r.next_attempt_at > now)
        });
        self.rows()
    }

    /// Moves the clock from one instant a queue's head is due to the next, each time
    /// waiting for the daemon to settle, until `until` (which it ends on).
    pub fn run_until(&self, until: DateTime<Utc>) {
        loop {
            self.settle();
            match heads(&self.unfinished()).map(|r| r.next_attempt_at).min() {
                Some(at) if at < until => self.set(at),
                _ => {
                    self.set(until);
                    self.settle();
                    return;
                }
            }
        }
    }

    /// Asks for a graceful stop and waits for it.
    pub fn stop(mut self) -> Result<(), Failure> {
        if let Some(reader) = self.reader.lock().unwrap().take() {
            self.rt.block_on(reader.close());
        }
        let _ = self.control.send(Control::Stop);
        self.finish()
    }

    /// Waits for the daemon to stop by itself (`stop_at`, or a failure at start-up).
    pub fn finish(&mut self) -> Result<(), Failure> {
        let done = self.done.take().expect("not finished yet");
        match self
            .rt
            .block_on(async { tokio::time::timeout(PATIENCE, done).await })
        {
            Ok(result) => result.expect("the daemon did not panic"),
            Err(_) => panic!("the daemon did not stop\n{}", self.tail()),
        }
    }

    /// The log lines so far, parsed.
    pub fn log(&self) -> Vec<serde_json::Value> {
        let bytes = self.log.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Log lines whose message starts with `message`.
    pub fn logged(&self, message: &str) -> Vec<serde_json::Value> {
        self.log()
            .into_iter()
            .filter(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .collect()
    }

    pub fn tail(&self) -> String {
        let bytes = self.log.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(60);
        format!("daemon log (last lines):\n{}", lines[from..].join("\n"))
    }
}

/// The first unfinished row of each queue (community and channel), in scheduled order.
fn heads(rows: &[OutboxRow]) -> impl Iterator<Item = &OutboxRow> {
    let mut heads: BTreeMap<(&str, &str), &OutboxRow> = BTreeMap::new();
    for r in rows {
        if !matches!(r.state, State::Pending | State::Retrying | State::Sending) {
            continue;
        }
        let head = heads.entry((&r.community, &r.channel)).or_insert(r);
        if (r.scheduled_at, r.id) < (head.scheduled_at, head.id) {
            *head = r;
        }
    }
    heads.into_values()
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.done.is_some() {
            let _ = self.control.send(Control::Stop);
        }
    }
}
