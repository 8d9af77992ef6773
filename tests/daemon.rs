//! Reliability of `drumbeat run` where only a real process can show it: the executable
//! killed, stopped, paused, reloaded by signal and file change, run at a platform's pace
//! and on a full disk (what depends only on the clock, such as downtime, retries and
//! backoff, is specified in `clocked.rs` on a clock the test moves). The daemons send to
//! a recording webhook server on loopback, with real SQLite stores in temporary folders.
//! Every run passes `--start-at` (a scaled clock), so no test waits real
//! minutes and none depends on today's date or the machine's time zone.
//!
//! Simulated durations are measured as real gaps between arrivals at the server times the
//! speed. The daemon's clock starts a little after the process is spawned, so the test's
//! estimate of the daemon's "now" ([`Daemon::sim_now`]) is never behind it.

use crate::common::fixture::*;
use crate::common::hook::{Hit, Hook, Reply, ok};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use drumbeat::store::{OutboxRow, State};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// The daemon as a child process.

struct Daemon {
    child: Mutex<Child>,
    /// Its log lines (stderr, JSON), as they come.
    log: Arc<Mutex<Vec<String>>>,
    spawned: Instant,
    start_at: DateTime<Utc>,
    speed: f64,
}

/// How long any wait may take before the test fails: generous, for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

impl Daemon {
    /// `drumbeat run PATH --store URL --start-at T --speed N --log-format json EXTRA...`
    fn start(
        dir: &Path,
        path: &Path,
        store: &str,
        start_at: &str,
        speed: f64,
        extra: &[&str],
    ) -> Daemon {
        Daemon::start_with(dir, path, store, start_at, speed, extra, "info")
    }

    fn start_with(
        dir: &Path,
        path: &Path,
        store: &str,
        start_at: &str,
        speed: f64,
        extra: &[&str],
        log_level: &str,
    ) -> Daemon {
        let mut cmd = crate::common::command();
        cmd.env("DRUMBEAT_LOG", log_level);
        Daemon::spawn(cmd, dir, path, store, start_at, speed, extra)
    }

    /// `cmd` (a `drumbeat` command with its environment) running the daemon as [`start`].
    fn spawn(
        mut cmd: Command,
        dir: &Path,
        path: &Path,
        store: &str,
        start_at: &str,
        speed: f64,
        extra: &[&str],
    ) -> Daemon {
        let spawned = Instant::now();
        let mut child = cmd
            .arg("run")
            .arg(path)
            .args(["--store", store, "--start-at", start_at])
            .args(["--speed", &speed.to_string(), "--log-format", "json"])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("drumbeat starts");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                sink.lock().unwrap().push(line);
            }
        });
        Daemon {
            child: Mutex::new(child),
            log,
            spawned,
            start_at: instant(start_at),
            speed,
        }
    }

    /// The daemon's "now", estimated from the spawn: never behind it, ahead of it by the
    /// process's start-up time times the speed.
    fn sim_now(&self) -> DateTime<Utc> {
        self.start_at + sim(self.spawned.elapsed(), self.speed)
    }

    fn pid(&self) -> String {
        self.child.lock().unwrap().id().to_string()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGTERM, then waits for the exit.
    fn stop(&self) -> ExitStatus {
        self.signal("TERM");
        self.exit()
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        child.kill().expect("SIGKILL");
        child.wait().expect("the killed daemon is reaped");
    }

    fn exit(&self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not stop\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The log lines, parsed.
    fn log(&self) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Log lines whose message starts with `message`.
    fn logged(&self, message: &str) -> Vec<serde_json::Value> {
        self.log()
            .into_iter()
            .filter(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .collect()
    }

    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let from = log.len().saturating_sub(60);
        format!("daemon log (last lines):\n{}", log[from..].join("\n"))
    }

    /// Polls `done` until it holds; fails if the daemon exits or `PATIENCE` runs out.
    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if done() {
                return;
            }
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                panic!(
                    "waiting for {what}: the daemon exited ({status})\n{}",
                    self.tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap();
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A real duration on a clock running `speed` times faster.
fn sim(real: Duration, speed: f64) -> TimeDelta {
    TimeDelta::microseconds((real.as_secs_f64() * speed * 1e6) as i64)
}

// ---------------------------------------------------------------------------------------
// The tests.

/// SIGKILL in the middle of sends, then a new start: every fire arrives, and only keys the
/// store had not recorded as sent may arrive a second time.
#[test]
fn a_kill_in_the_middle_of_sends_loses_nothing_and_repeats_only_unacknowledged() {
    // Slow answers; until the kill, from the seventh request on, no answer at all: those
    // sends are surely in flight when the daemon dies.
    let holding = Arc::new(AtomicBool::new(true));
    let hold = holding.clone();
    let hook = Hook::start(move |_, before| Reply {
        delay: if hold.load(Ordering::SeqCst) && before.len() >= 6 {
            PATIENCE
        } else {
            Duration::from_millis(200)
        },
        ..ok()
    });
    let dir = folder();
    let (file, all) = all_at_eight(&hook, dir.path(), "kill", &["a", "b", "c"], 8);
    let url = store_url(dir.path());

    let first = Daemon::start(
        dir.path(),
        &file,
        &url,
        "2026-12-01T07:59:40+08:00",
        20.0,
        &[],
    );
    // Two rounds answered (per channel, one send at a time), the third in flight.
    first.wait_for("sends answered and in flight", || hook.hits().len() >= 9);
    first.kill();
    let killed = Instant::now();
    holding.store(false, Ordering::SeqCst);
    let before = hook.hits();
    let in_flight_at_kill = before.iter().filter(|h| h.answered.is_none()).count();
    assert_eq!(
        in_flight_at_kill, 3,
        "one send per channel in flight: {before:#?}"
    );
    let rows = outbox(&url);
    assert_eq!(
        rows.len(),
        all.len(),
        "every fire was recorded before the kill"
    );
    let acknowledged: HashSet<String> = keys_in(&rows, State::Sent).into_iter().collect();
    let unacknowledged = all.len() - acknowledged.len();
    assert!(unacknowledged > 0, "the kill came before the end");

    let second = Daemon::start(
        dir.path(),
        &file,
        &url,
        "2026-12-01T08:01:00+08:00",
        20.0,
        &[],
    );
    second.wait_for("every fire delivered", || {
        let got = hook.delivered();
        all.iter().all(|k| got.contains_key(k))
    });
    assert!(second.stop().success(), "{}", second.tail());

    let delivered = hook.delivered();
    let twice: Vec<&String> = all.iter().filter(|k| delivered[*k].len() > 1).collect();
    let summary = format!(
        "{} fires, {} acknowledged in the store at the kill, {} unacknowledged, {} in flight at \
         the kill, {} delivered twice: {twice:?}",
        all.len(),
        acknowledged.len(),
        unacknowledged,
        in_flight_at_kill,
        twice.len()
    );
    assert!(twice.len() <= unacknowledged, "{summary}");
    for k in &all {
        let n = delivered[k].len();
        assert!(n <= 2, "{k} delivered {n} times; {summary}");
        if acknowledged.contains(k) {
            assert_eq!(n, 1, "{k} was acknowledged and sent again; {summary}");
        } else {
            // Not acknowledged: it must have gone out after the new start.
            assert!(
                delivered[k].iter().any(|h| h.arrived > killed),
                "{k} was not sent after the restart; {summary}"
            );
        }
    }
    let rows = outbox(&url);
    assert_eq!(keys_in(&rows, State::Sent).len(), all.len(), "{summary}");
    assert!(
        hook.hits().iter().all(|h| h.status == 200),
        "the server only said 200"
    );
    eprintln!("{summary}");
}

/// SIGTERM in the middle of sends: the sends in flight finish and are recorded, the rest is
/// handed back, and after a new start every fire has arrived exactly once.
#[test]
fn a_graceful_stop_in_the_middle_of_sends_repeats_nothing() {
    let hook = Hook::start(|_, _| Reply {
        delay: Duration::from_millis(250),
        ..ok()
    });
    let dir = folder();
    let (file, mut all) = all_at_eight(&hook, dir.path(), "term", &["a", "b"], 6);
    let url = store_url(dir.path());

    let first = Daemon::start(
        dir.path(),
        &file,
        &url,
        "2026-12-01T07:59:40+08:00",
        20.0,
        &[],
    );
    first.wait_for("sends in flight", || {
        let hits = hook.hits();
        hits.len() >= 3 && hits.iter().any(|h| h.answered.is_none())
    });
    let stopping = Instant::now();
    assert!(first.stop().success(), "{}", first.tail());
    let before = hook.hits();
    let in_flight = before
        .iter()
        .filter(|h| h.answered.is_none_or(|a| a >= stopping))
        .count();
    assert!(in_flight >= 1, "the stop must catch sends in flight");
    let rows = outbox(&url);
    let sent = keys_in(&rows, State::Sent);
    let mut arrived: Vec<String> = before.iter().map(|h| h.key.clone()).collect();
    arrived.sort();
    assert_eq!(
        sent, arrived,
        "everything that reached the server, the one in flight included, is recorded as sent"
    );
    assert!(
        rows.values()
            .all(|r| matches!(r.state, State::Sent | State::Pending)),
        "unsent claims are handed back: {:?}",
        rows.values().map(|r| (&r.key, r.state)).collect::<Vec<_>>()
    );
    assert!(
        rows.values()
            .filter(|r| r.state == State::Pending)
            .all(|r| r.attempts == 0),
        "handing back does not count as an attempt"
    );

    let second = Daemon::start(
        dir.path(),
        &file,
        &url,
        "2026-12-01T08:01:00+08:00",
        20.0,
        &[],
    );
    second.wait_for("every fire delivered", || hook.hits().len() >= all.len());
    assert!(second.stop().success(), "{}", second.tail());
    let mut got: Vec<String> = hook.hits().into_iter().map(|h| h.key).collect();
    got.sort();
    all.sort();
    assert_eq!(
        got, all,
        "each fire exactly once across the stop ({in_flight} in flight)"
    );
}

/// 10,000 fires due in the same second, 100 playbooks of 5 rate-limited channels: each
/// arrives exactly once and no channel goes faster than its limit.
#[test]
fn ten_thousand_fires_at_once_none_lost_none_twice_each_channel_paced() {
    let (playbooks, channels, per_channel, limit) = (100, 5, 20, 10);
    let speed = 60.0;
    let hook = Hook::start(|_, _| ok());
    let dir = folder();
    let pb = dir.path().join("playbooks");
    std::fs::create_dir(&pb).unwrap();
    let mut all = HashSet::new();
    for p in 0..playbooks {
        let id = format!("club{p:03}");
        let mut chans = String::new();
        let mut slots = String::new();
        for c in 0..channels {
            let ch = format!("c{c}");
            chans += &hook.channel(
                &ch,
                &format!("/{ch}"),
                &format!(", rate_limit: {limit}/min"),
            );
            for i in 0..per_channel {
                let slot = format!("s{c}x{i:02}");
                slots +=
                    &format!("    - {{ id: {slot}, at: \"08:00\", template: t, channel: {ch} }}\n");
                all.insert(key(&id, &slot, &ch, "08:00"));
            }
        }
        write(
            &pb.join(format!("{id}.yaml")),
            &playbook(&id, &chans, &slots),
        );
    }
    assert_eq!(all.len(), 10_000);
    let url = store_url(dir.path());

    let started = Instant::now();
    let d = Daemon::start_with(
        dir.path(),
        &pb,
        &url,
        "2026-12-01T07:59:00+08:00",
        speed,
        &[],
        "warn",
    );
    d.wait_for("10,000 deliveries", || hook.hits().len() >= all.len());
    let took = started.elapsed();
    assert!(d.stop().success(), "{}", d.tail());

    let hits = hook.hits();
    assert_eq!(hits.len(), all.len(), "nothing sent twice");
    let got: HashSet<String> = hits.iter().map(|h| h.key.clone()).collect();
    assert_eq!(got, all, "every fire arrived");

    // Per queue, sends are one after another and each starts after the answer to the one
    // before: so the send of request i started after request i-1 was answered, and request
    // i+limit arrived after its own send started. The pace puts a whole window (60 s
    // simulated) between the starts of sends i and i+limit.
    let window = Duration::from_secs_f64(60.0 / speed);
    let mut queues: HashMap<(String, String), Vec<Hit>> = HashMap::new();
    for h in hits {
        let community = h.key.split('/').next().unwrap().to_string();
        queues
            .entry((community, h.path.clone()))
            .or_default()
            .push(h);
    }
    assert_eq!(queues.len(), playbooks * channels);
    let mut tightest = Duration::MAX;
    for (q, mut sends) in queues {
        assert_eq!(sends.len(), per_channel, "{q:?}");
        sends.sort_by_key(|h| h.arrived);
        for i in 1..sends.len() - limit {
            let answered = sends[i - 1].answered.expect("answered");
            let later = sends[i + limit].arrived - answered;
            tightest = tightest.min(later);
            assert!(
                later >= window,
                "{q:?}: send {} started within {later:?} of send {i}: more than {limit} in a \
                 window of {window:?} (60 s simulated)",
                i + limit
            );
        }
    }
    eprintln!(
        "10,000 fires in {took:?} real; the closest sends {limit} apart on one channel were \
         {tightest:?} apart (the window is {window:?})"
    );
    let rows = outbox(&url);
    assert_eq!(keys_in(&rows, State::Sent).len(), all.len());
}

const EVEN: &str = "*/2 * * * *";
const ODD: &str = "1-59/2 * * * *";

/// The reload test's playbook: one slot `beat` on a cron, and a template whose text
/// names the version.
fn beat(hook: &Hook, version: &str, cron: &str, template: &str) -> String {
    format!(
        "version: 1\n\
         community: {{ id: beat, name: Beat, kind: service, timezone: Asia/Shanghai, locale: en }}\n\
         channels:\n{}\
         content:\n  slots:\n    - {{ id: beat, cron: \"{cron}\", template: {template} }}\n\
         templates:\n  t: \"{version} {{{{ slot }}}}\"\n",
        hook.channel("hook", "/in", "")
    )
}

/// Replacing a playbook: an invalid version is refused and the old one keeps firing; a
/// valid version with another time changes the schedule from the next fire on. `hup`:
/// reloads are asked for with SIGHUP (and the files are not watched); otherwise the change
/// of the file is noticed.
fn replacing_a_playbook(hup: bool) {
    let speed = 90.0;
    let hook = Hook::start(|_, _| ok());
    let dir = folder();
    let pb = dir.path().join("playbooks");
    std::fs::create_dir(&pb).unwrap();
    let file = pb.join("beat.yaml");
    write(&file, &beat(&hook, "v1", EVEN, "t"));
    let url = store_url(dir.path());
    let extra: &[&str] = if hup { &["--no-watch"] } else { &[] };
    let d = Daemon::start(
        dir.path(),
        &file,
        &url,
        "2026-12-01T07:59:30+08:00",
        speed,
        extra,
    );
    let arrived_after = |v: &str, after: DateTime<Utc>| {
        hook.hits()
            .iter()
            .any(|h| h.message.starts_with(v) && h.at > after)
    };
    d.wait_for("the first fire", || arrived_after("v1", local("07:59")));

    // An invalid version: the template does not exist.
    write(&file, &beat(&hook, "v1", EVEN, "missing"));
    if hup {
        d.signal("HUP");
    }
    d.wait_for("the refusal", || {
        !d.logged("reload refused; the running version stays")
            .is_empty()
    });
    let refused = d.sim_now();
    let line = &d.logged("reload refused")[0];
    assert!(
        line["diagnostics"]
            .as_str()
            .is_some_and(|t| t.contains("unknown-template") && t.contains("missing")),
        "the diagnostics are logged: {line}"
    );
    d.wait_for("the old version's next fire", || {
        arrived_after("v1", refused)
    });

    // A valid version at other minutes, written once the old version's fire is in.
    let last_old = hook
        .hits()
        .iter()
        .filter(|h| h.message.starts_with("v1"))
        .map(|h| h.at)
        .max()
        .unwrap();
    write(&file, &beat(&hook, "v2", ODD, "t"));
    if hup {
        // Without a watcher the change alone does nothing.
        std::thread::sleep(Duration::from_millis(600));
        assert!(d.logged("playbook replaced").is_empty(), "{}", d.tail());
        d.signal("HUP");
    }
    d.wait_for("the new version", || {
        !d.logged("playbook replaced").is_empty()
    });
    let replaced = d.sim_now();
    // The first instant of the old schedule after the change, and the new version's fire
    // after it: queues go in scheduled order, so once that one is in, an old fire at the
    // old time would be too.
    let old_next = (replaced + TimeDelta::minutes(2))
        .duration_trunc(TimeDelta::minutes(2))
        .unwrap();
    d.wait_for("a new fire after the old time", || {
        arrived_after("v2", old_next)
    });
    assert!(d.stop().success(), "{}", d.tail());

    let hits = hook.hits();
    let v1: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.message.starts_with("v1"))
        .collect();
    let v2: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.message.starts_with("v2"))
        .collect();
    assert!(
        v1.iter().all(|h| h.at <= replaced),
        "the old version fired after it was replaced (at {replaced}): {v1:#?}"
    );
    assert!(
        v2.iter().all(|h| h.at > last_old),
        "the new version fired for a time before it was written (after the old fire at \
         {last_old}): {v2:#?}"
    );
    assert!(
        v1.iter()
            .all(|h| h.at.format("%M").to_string().parse::<u32>().unwrap() % 2 == 0)
            && v2
                .iter()
                .all(|h| h.at.format("%M").to_string().parse::<u32>().unwrap() % 2 == 1),
        "each version at its own minutes: {hits:#?}"
    );
    let keys: HashSet<&String> = hits.iter().map(|h| &h.key).collect();
    assert_eq!(keys.len(), hits.len(), "nothing sent twice");
}

#[test]
fn replacing_a_playbook_file_is_noticed() {
    replacing_a_playbook(false);
}

#[test]
fn replacing_a_playbook_takes_effect_on_sighup() {
    replacing_a_playbook(true);
}

/// Writes playbook `name`: a webhook channel per id in `channels` (each on the hook's path
/// `/ID`) and `per_channel` slots on each, all at 08:00. Answers its file and every fire key.
fn all_at_eight(
    hook: &Hook,
    dir: &Path,
    name: &str,
    channels: &[&str],
    per_channel: usize,
) -> (std::path::PathBuf, Vec<String>) {
    let mut chans = String::new();
    let mut slots = String::new();
    let mut all = Vec::new();
    for ch in channels {
        chans += &hook.channel(ch, &format!("/{ch}"), "");
        for i in 0..per_channel {
            let id = format!("{ch}{i}");
            slots += &format!("    - {{ id: {id}, at: \"08:00\", template: t, channel: {ch} }}\n");
            all.push(key(name, &id, ch, "08:00"));
        }
    }
    let file = dir.join(format!("{name}.yaml"));
    write(&file, &playbook(name, &chans, &slots));
    (file, all)
}

// ---------------------------------------------------------------------------------------
// Hostile files among the playbooks.

/// A playbook of community `id` on the console, firing every minute.
fn every_minute(id: &str, template: &str) -> String {
    playbook(
        id,
        "  out: { type: console }\n",
        &format!("    - {{ id: tick, cron: \"* * * * *\", template: {template} }}\n"),
    )
}

/// A loopback port nothing listens on yet.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().unwrap().port()
}

/// `GET /healthz` on `port`: the JSON answer, or `None` while nothing answers.
fn healthz(port: u16) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let body = &answer[answer.find('{')?..=answer.rfind('}')?];
    serde_json::from_str(body).ok()
}

/// A named pipe appears beside the playbooks: the reload it causes refuses it at once
/// (opening it would wait for a writer forever), the daemon keeps ticking, and SIGTERM stops
/// it.
#[test]
fn a_named_pipe_among_the_playbooks_does_not_freeze_the_daemon() {
    let dir = folder();
    let pb = dir.path().join("playbooks");
    std::fs::create_dir(&pb).unwrap();
    write(&pb.join("club.yaml"), &every_minute("club", "t"));
    let port = free_port();
    let d = Daemon::start(
        dir.path(),
        &pb,
        &store_url(dir.path()),
        "2026-12-01T07:59:30+08:00",
        60.0,
        &["--listen", &format!("127.0.0.1:{port}")],
    );
    let last_tick = || {
        healthz(port)
            .and_then(|h| h["last_tick"].as_str().map(instant))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    d.wait_for("the first tick", || last_tick() > DateTime::<Utc>::MIN_UTC);

    let pipe = std::ffi::CString::new(pb.join("p.yaml").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(pipe.as_ptr(), 0o600) }, 0, "mkfifo");
    d.wait_for("the pipe to be refused", || {
        d.logged("reload refused").iter().any(|l| {
            l["file"].as_str().is_some_and(|f| f.ends_with("p.yaml"))
                && l["diagnostics"]
                    .as_str()
                    .is_some_and(|t| t.contains("named pipe"))
        })
    });
    let refused = last_tick();
    d.wait_for("a tick after the refusal", || last_tick() > refused);
    assert_eq!(
        healthz(port).map(|h| h["playbooks"].clone()),
        Some(serde_json::json!(1)),
        "the running playbook stays"
    );
    assert!(d.stop().success(), "{}", d.tail());
}

/// A playbook that is a symbolic link to a file kept elsewhere (as configuration tools
/// deploy them): editing the file it points to reloads it.
#[test]
fn editing_the_target_of_a_linked_playbook_reloads_it() {
    let dir = folder();
    let pb = dir.path().join("playbooks");
    let kept = dir.path().join("kept-elsewhere");
    std::fs::create_dir(&pb).unwrap();
    std::fs::create_dir(&kept).unwrap();
    let target = kept.join("club.yaml");
    write(&target, &every_minute("club", "t"));
    std::os::unix::fs::symlink(&target, pb.join("club.yaml")).unwrap();
    let d = Daemon::start(
        dir.path(),
        &pb,
        &store_url(dir.path()),
        "2026-12-01T07:59:30+08:00",
        60.0,
        &[],
    );
    d.wait_for("the start", || !d.logged("running").is_empty());
    write(
        &target,
        &every_minute("club", "t").replace("\"{{ slot }}\"", "\"v2 {{ slot }}\""),
    );
    d.wait_for("the edit to be noticed", || {
        !d.logged("playbook replaced").is_empty()
    });
    assert!(d.stop().success(), "{}", d.tail());
}

// ---------------------------------------------------------------------------------------
// Faults of the machine.

/// Copies the SQLite store `state.db` (with its WAL) out of `from` and reads its outbox.
fn outbox_copied(from: &Path, to: &Path) -> BTreeMap<String, OutboxRow> {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("state.db") {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
    outbox(&store_url(to))
}

/// The disk under the store fills up while a message is in flight, then space returns:
/// `/healthz` says the store is failing while it is, the daemon waits instead of spinning,
/// the send it could not record is recorded as soon as the store takes writes again (so a
/// restart would not send it twice), and firing resumes.
#[test]
fn a_full_disk_is_reported_and_what_was_sent_is_recorded_once_space_returns() {
    let dir = folder();
    let disk = crate::common::disk::SmallDisk::new(&dir.path().join("disk"), 8192);
    // Each answer takes half a second: the disk fills while a send is in flight.
    let hook = Hook::start(|_, _| Reply {
        delay: Duration::from_millis(500),
        ..ok()
    });
    let path = dir.path().join("full.yaml");
    write(
        &path,
        &playbook(
            "full",
            &hook.channel("hook", "/h", ""),
            "    - { id: tick, cron: \"* * * * *\", template: t }\n",
        ),
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let store = format!("sqlite://{}", dir.path().join("disk/state.db").display());
    let daemon = Daemon::spawn(
        disk.drumbeat(),
        dir.path(),
        &path,
        &store,
        "2026-12-01T08:00:00+08:00",
        60.0,
        &["--no-watch", "--listen", &listen],
    );
    let delivered = |h: &Hook| h.hits().iter().filter(|h| h.answered.is_some()).count();
    daemon.wait_for("three deliveries", || delivered(&hook) >= 3);
    daemon.wait_for("a send in flight", || {
        hook.hits().last().is_some_and(|h| h.answered.is_none())
    });
    disk.fill();
    daemon.wait_for("/healthz to report the store", || {
        healthz(port).is_some_and(|h| {
            h["status"] == "failing"
                && h["problem"]
                    .as_str()
                    .is_some_and(|p| p.contains("store") && p.contains("full"))
        })
    });
    let lines = daemon.log.lock().unwrap().len();
    let sent = delivered(&hook);
    std::thread::sleep(Duration::from_secs(3));
    let more = daemon.log.lock().unwrap().len() - lines;
    assert!(
        more < 30,
        "{more} log lines in 3 s of a full disk\n{}",
        daemon.tail()
    );
    assert!(
        delivered(&hook) <= sent + 1,
        "nothing is claimed while the store cannot record it"
    );
    let stuck = healthz(port).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        healthz(port).unwrap()["last_tick"],
        stuck["last_tick"],
        "last_tick stands still while nothing can be recorded"
    );
    disk.free();
    daemon.wait_for("/healthz to be ok again", || {
        healthz(port).is_some_and(|h| h["status"] == "ok")
    });
    let back = delivered(&hook);
    daemon.wait_for("firing to resume", || delivered(&hook) >= back + 3);
    assert!(daemon.stop().success(), "{}", daemon.tail());
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let rows = outbox_copied(disk.path(), &copy);
    let answered: Vec<Hit> = hook
        .hits()
        .into_iter()
        .filter(|h| h.answered.is_some())
        .collect();
    let mut seen = HashSet::new();
    for hit in &answered {
        assert!(seen.insert(hit.key.clone()), "{} arrived twice", hit.key);
        assert_eq!(
            rows.get(&hit.key).map(|r| r.state),
            Some(State::Sent),
            "{} was delivered: the store must say so, or a restart sends it again",
            hit.key
        );
    }
}

/// The daemon is paused (SIGSTOP: a suspended laptop, a paused VM) across a fire's instant
/// and past its grace: on resume it records the fire missed rather than sending it late, as
/// a restart after the same outage would; later fires go out as usual.
#[test]
fn a_fire_that_comes_due_while_the_daemon_is_paused_past_its_grace_is_missed() {
    let dir = folder();
    let hook = Hook::start(|_, _| ok());
    let path = dir.path().join("paused.yaml");
    write(
        &path,
        &playbook(
            "paused",
            &hook.channel("hook", "/h", ""),
            "    - { id: early, at: \"08:01\", template: t }\n\
             \x20   - { id: due, at: \"08:05\", template: t }\n\
             \x20   - { id: after, at: \"08:25\", template: t }\n",
        ),
    );
    let store = store_url(dir.path());
    // A simulated minute a real second; the grace is ten minutes.
    let daemon = Daemon::start(
        dir.path(),
        &path,
        &store,
        "2026-12-01T08:00:00+08:00",
        60.0,
        &["--no-watch"],
    );
    daemon.wait_for("the 08:01 fire", || {
        hook.hits()
            .iter()
            .any(|h| h.key == key("paused", "early", "hook", "08:01"))
    });
    // Paused from about 08:01 for 15 simulated minutes: 08:05 passes, and its grace.
    daemon.signal("STOP");
    std::thread::sleep(Duration::from_secs(15));
    daemon.signal("CONT");
    daemon.wait_for("the 08:25 fire", || {
        hook.hits()
            .iter()
            .any(|h| h.key == key("paused", "after", "hook", "08:25"))
    });
    assert!(daemon.stop().success(), "{}", daemon.tail());
    let sent: Vec<String> = hook.hits().into_iter().map(|h| h.key).collect();
    assert_eq!(
        sent,
        [
            key("paused", "early", "hook", "08:01"),
            key("paused", "after", "hook", "08:25")
        ],
        "{}",
        daemon.tail()
    );
    let rows = outbox(&store);
    assert_eq!(
        keys_in(&rows, State::Missed),
        [key("paused", "due", "hook", "08:05")]
    );
}

/// A channel's pace counts requests as the platform does: each part of a split message is
/// one request, and a window is kept from when each request was answered, so a platform
/// that counts a request when it gets round to it never sees more than the limit in any
/// window of its own.
#[test]
fn the_pace_holds_for_every_request_the_platform_counts() {
    let dir = folder();
    // The platform handles every other request 150 ms late, and counts it then.
    let hook = Hook::start(|_, before| Reply {
        delay: Duration::from_millis(if before.len() % 2 == 0 { 150 } else { 0 }),
        ..ok()
    });
    let mut slots = String::new();
    for i in 0..10 {
        slots += &format!("    - {{ id: s{i}, at: \"08:00\", template: long }}\n");
    }
    // Two parts each: WeCom takes at most 2,048 bytes a message.
    let long =
        "  long: |\n    {{ slot }}\n".to_string() + &"    今天也要坚持打卡，加油！\n".repeat(100);
    let text = playbook(
        "paced",
        &format!(
            "  hook: {{ type: wecom, webhook: \"{}/wecom\", rate_limit: 5/s }}\n",
            hook.base
        ),
        &slots,
    ) + &long;
    let path = dir.path().join("paced.yaml");
    write(&path, &text);
    let daemon = Daemon::start(
        dir.path(),
        &path,
        &store_url(dir.path()),
        "2026-12-01T07:59:59+08:00",
        1.0,
        &["--no-watch"],
    );
    daemon.wait_for("twenty requests answered", || {
        hook.hits().iter().filter(|h| h.answered.is_some()).count() >= 20
    });
    assert!(daemon.stop().success(), "{}", daemon.tail());
    let hits = hook.hits();
    assert_eq!(hits.len(), 20, "ten messages of two parts each");
    let mut counted: Vec<Instant> = hits.iter().filter_map(|h| h.answered).collect();
    counted.sort();
    for (i, pair) in counted.windows(6).enumerate() {
        let span = pair[5] - pair[0];
        assert!(
            span >= Duration::from_secs(1),
            "requests {i}..={} were counted within {span:?}: six in one second",
            i + 5
        );
    }
}
