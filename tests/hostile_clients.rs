//! Specs for the listen address under hostile clients. First the real daemon, started under
//! a descriptor limit of 1,024 (what many machines give a process), facing floods of idle
//! sockets, slow headers and large bodies sent without credentials, on a real-time rehearsal
//! clock; then the listener on its own with small limits, for what they decide. Every wait
//! has a generous bound and is a correctness bound, not a speed target.

use drumbeat::store::{Lifecycle, OutboxStatus, SqliteStore, State};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "hostile-clients-token-3d9e";
const SECRET: &str = "hostile-clients-secret-71c4";
/// What the daemon may open: the soft and hard `RLIMIT_NOFILE` it is started with.
const DESCRIPTORS: libc::rlim_t = 1024;
/// The largest body the events route takes.
const EIGHT_MIB: usize = 8 * 1024 * 1024;

struct Daemon {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    store: String,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// `drumbeat run` of a playbook with one file channel and a slot at 08:00 Shanghai time,
    /// on a real-time clock from `start_at`, listening on a free loopback port, with at most
    /// 1,024 descriptors.
    fn start(start_at: &str, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let playbook = dir.path().join("p.yaml");
        std::fs::write(
            &playbook,
            format!(
                r#"version: 1
community: {{ id: watch, name: Night Watch, kind: service, timezone: Asia/Shanghai }}
channels:
  log: {{ type: file, path: "{}" }}
default_channel: log
content:
  slots:
    - {{ id: morning, at: "08:00", template: morning }}
templates:
  morning: "good morning"
"#,
                out.display()
            ),
        )
        .unwrap();
        let store = format!("sqlite://{}", dir.path().join("state.db").display());
        let log = dir.path().join("log.jsonl");
        let mut cmd = crate::common::command();
        cmd.args(["run", "--no-watch", "--speed", "1", "--start-at", start_at])
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--store", &store])
            .arg(&playbook)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: setrlimit(2) is async-signal-safe and touches only the child's limits.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: DESCRIPTORS,
                    rlim_max: DESCRIPTORS,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("drumbeat starts");
        let mut d = Daemon {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
            log,
            store,
            dir,
        };
        d.addr = d.wait_for_address();
        let ready = Instant::now() + Duration::from_secs(60);
        while get(d.addr, "/healthz", Duration::from_secs(2)).map(|r| r.0) != Some(200) {
            assert!(Instant::now() < ready, "never ready\n{}", d.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address the daemon bound, from its "serving" log line.
    fn wait_for_address(&mut self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for line in self.log().lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if let Some(listen) = v["listen"].as_str()
                    && let Some(at) = listen.find("127.0.0.1:")
                {
                    let addr: String = listen[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    return addr.parse().unwrap();
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("drumbeat exited ({status})\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no address\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's resident memory, from /proc.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib / 1024.0
    }

    fn lines(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("out.jsonl")).map_or(0, |t| t.lines().count())
    }

    /// SIGTERM, then its exit status, waiting at most `patience`.
    fn stop(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a child's pid and a valid signal touches no memory.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lets this test process hold a few thousand sockets, whatever limit it was started with.
fn room_for_sockets() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < 8192 {
            limit.rlim_cur = limit.rlim_max.min(8192);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// `GET path` on a connection of its own: the status and body, or `None` when no answer came
/// within `patience` (refused, closed, or silent).
fn get(addr: SocketAddr, path: &str, patience: Duration) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, patience).ok()?;
    s.set_read_timeout(Some(patience)).ok()?;
    s.set_write_timeout(Some(patience)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: drumbeat\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The status of the answer waiting on `s`, read until `deadline`; `None` if none came.
fn status_by(s: &mut TcpStream, deadline: Instant) -> Option<u16> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// 1,500 connections that never send a byte, against a daemon allowed 1,024 descriptors:
/// `/healthz` still answers, the 08:00 fire still goes out on time through its file channel,
/// and SIGTERM still stops the daemon while the sockets stay open on the client's side.
#[test]
fn fifteen_hundred_idle_sockets_leave_health_and_fires_on_time() {
    room_for_sockets();
    // The fire is due 12 s after the clock starts: time to set up the flood first.
    let mut d = Daemon::start("2026-12-01T07:59:48+08:00", &[]);
    let mut idle = Vec::new();
    for _ in 0..1500 {
        match TcpStream::connect_timeout(&d.addr, Duration::from_secs(5)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!(
                "connection {} of the flood was not taken: {e}\n{}",
                idle.len() + 1,
                d.log()
            ),
        }
    }
    // A supervisor probes with a timeout of a few seconds and tries again.
    let flood = Instant::now();
    let mut answered = None;
    while answered.is_none() && flood.elapsed() < Duration::from_secs(20) {
        if let Some((200, body)) = get(d.addr, "/healthz", Duration::from_secs(3)) {
            answered = Some((flood.elapsed(), body));
        }
    }
    let until = Instant::now() + Duration::from_secs(40);
    while d.lines() < 1 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivered = d.lines();
    let stopped = d.stop(Duration::from_secs(30));
    drop(idle);
    let log = d.log();
    let (healthy_after, body) = answered.unwrap_or_else(|| {
        panic!("/healthz never answered 200 in 20 s of the flood\n{log}");
    });
    assert!(body.contains(r#""status":"ok""#), "{body}");
    assert_eq!(delivered, 1, "the 08:00 fire was not delivered\n{log}");
    let status = stopped.unwrap_or_else(|| panic!("SIGTERM did not stop it in 30 s\n{log}"));
    assert!(status.success(), "{status}\n{log}");
    // The cap (768 under 1,024 descriptors) was what held.
    assert!(log.contains("connection limit reached"), "{log}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sent = rt.block_on(async {
        let s = SqliteStore::open(&d.store).await.unwrap();
        let rows = s.rows_in_state(State::Sent, 10).await.unwrap();
        s.close().await;
        rows
    });
    assert_eq!(sent.len(), 1, "{log}");
    let late = sent[0].sent_at.unwrap() - sent[0].scheduled_at;
    assert!(
        late <= chrono::TimeDelta::seconds(2),
        "the fire went out {late} after its instant\n{log}"
    );
    eprintln!("/healthz answered {healthy_after:?} into the flood; the fire went out {late} late");
}

/// 60 requests that declare 8 MiB bodies without any credentials are answered 401 before a
/// byte of their body is read, and pushing the bodies at the daemon anyway costs it no
/// memory; 40 with a forged signature, whose bodies must be read to be checked, hold the
/// daemon's memory to its budget for unchecked bodies and are all answered 401 in the end.
#[test]
fn bodies_without_credentials_are_refused_unread_and_cost_no_memory() {
    room_for_sockets();
    let d = Daemon::start(
        "2026-12-01T07:00:00+08:00",
        &[
            ("DRUMBEAT_EVENTS_TOKEN", TOKEN),
            ("DRUMBEAT_EVENTS_SECRET", SECRET),
        ],
    );
    let before = d.rss_mib();
    let head = |extra: &str| {
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: drumbeat\r\nContent-Type: application/json\r\n\
             {extra}Content-Length: {EIGHT_MIB}\r\n\r\n"
        )
    };
    let mut anonymous = Vec::new();
    for _ in 0..60 {
        let mut s = TcpStream::connect(d.addr).unwrap();
        s.write_all(head("").as_bytes()).unwrap();
        anonymous.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let answers: Vec<Option<u16>> = anonymous
        .iter_mut()
        .map(|s| status_by(s, deadline))
        .collect();
    // The bodies all the same, a chunk at a time, for as long as the daemon takes them.
    let chunk = vec![b'x'; 64 * 1024];
    for s in &mut anonymous {
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        for _ in 0..(EIGHT_MIB - 1) / chunk.len() {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    let anonymous_rss = d.rss_mib();
    drop(anonymous);

    // Forged signatures: every body has to be read, checked, and refused.
    let (sent_tx, sent) = mpsc::channel::<()>();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let go = std::sync::Arc::new(std::sync::Mutex::new(go));
    let mut forgers = Vec::new();
    for _ in 0..40 {
        let (addr, sent_tx, go) = (d.addr, sent_tx.clone(), go.clone());
        let head = head(&format!(
            "X-Drumbeat-Signature: sha256={}\r\n",
            "0".repeat(64)
        ));
        forgers.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
            let body = vec![b'x'; EIGHT_MIB];
            let whole = s
                .write_all(head.as_bytes())
                .and_then(|_| s.write_all(&body[..EIGHT_MIB - 1]));
            let _ = sent_tx.send(());
            // The last byte only once the daemon's memory has been measured.
            let _ = go.lock().unwrap().recv();
            let whole = whole.and_then(|_| s.write_all(&body[EIGHT_MIB - 1..]));
            let status = status_by(&mut s, Instant::now() + Duration::from_secs(60));
            (whole.map_err(|e| e.kind()), status)
        }));
    }
    drop(sent_tx);
    let wait = Instant::now() + Duration::from_secs(5);
    let mut all_but_last_byte = 0;
    while let Some(left) = wait.checked_duration_since(Instant::now()) {
        match sent.recv_timeout(left) {
            Ok(()) => all_but_last_byte += 1,
            Err(_) => break,
        }
    }
    let forged_rss = d.rss_mib();
    for _ in 0..forgers.len() {
        let _ = go_tx.send(());
    }
    drop(go_tx);
    let forged: Vec<(Result<(), ErrorKind>, Option<u16>)> =
        forgers.into_iter().map(|t| t.join().unwrap()).collect();
    let log = d.log();

    eprintln!(
        "RSS: {before:.0} MiB at rest, {anonymous_rss:.0} MiB with 60 anonymous 8 MiB bodies, \
         {forged_rss:.0} MiB with 40 forged ones ({all_but_last_byte} of them fully taken)"
    );
    assert!(
        anonymous_rss < 100.0,
        "{anonymous_rss:.0} MiB resident with 60 anonymous bodies pushed (from {before:.0} MiB)"
    );
    assert_eq!(answers, vec![Some(401); 60], "answers before any body byte");
    assert!(
        forged_rss < 100.0,
        "{forged_rss:.0} MiB resident with 40 forged 8 MiB bodies (from {before:.0} MiB)"
    );
    for (i, (whole, status)) in forged.iter().enumerate() {
        assert_eq!(
            (whole, status),
            (&Ok(()), &Some(401)),
            "forged request {i}\n{log}"
        );
    }
}

/// A request head sent a byte at a time, and a connection that sends nothing at all, are
/// closed by the daemon instead of being held forever.
#[test]
fn slow_and_silent_headers_are_closed() {
    let d = Daemon::start(
        "2026-12-01T07:00:00+08:00",
        &[("DRUMBEAT_EVENTS_TOKEN", TOKEN)],
    );
    let mut slow = TcpStream::connect(d.addr).unwrap();
    let mut silent = TcpStream::connect(d.addr).unwrap();
    slow.write_all(b"POST /v1/events HTTP/1.1\r\nHost: drumbeat\r\nX-Slow: ")
        .unwrap();
    let closed = |s: &mut TcpStream| {
        let mut buf = [0u8; 1024];
        s.set_read_timeout(Some(Duration::from_millis(250)))
            .unwrap();
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                // An answer (408) before the close is fine.
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return false;
                }
                Err(_) => return true,
            }
        }
    };
    let start = Instant::now();
    let (mut slow_closed, mut silent_closed) = (None, None);
    while start.elapsed() < Duration::from_secs(40)
        && (slow_closed.is_none() || silent_closed.is_none())
    {
        if slow_closed.is_none() {
            // One more byte of the header, every quarter of a second.
            if slow.write_all(b"a").is_err() || closed(&mut slow) {
                slow_closed = Some(start.elapsed());
            }
        }
        if silent_closed.is_none() && closed(&mut silent) {
            silent_closed = Some(start.elapsed());
        }
    }
    let log = d.log();
    assert!(
        slow_closed.is_some(),
        "a head dribbled for 40 s is still open\n{log}"
    );
    assert!(
        silent_closed.is_some(),
        "a silent connection is still open after 40 s\n{log}"
    );
    eprintln!("slow head closed after {slow_closed:?}, silent connection after {silent_closed:?}");
}

// ---------------------------------------------------------------------------------------
// The listener on its own, with small limits.

mod limits {
    use drumbeat::events::Event;
    use drumbeat::runtime::metrics::Metrics;
    use drumbeat::server::Ops;
    use drumbeat::server::events::{Auth, EventsRoute, Intake, Receipt, Refusal};
    use drumbeat::server::listen::{self, Limits};
    use std::future::Future;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    const TOKEN: &str = "limits-token-88a1";

    /// Takes every batch, applying nothing.
    struct Accepting;

    impl Intake for Accepting {
        fn take<'a>(
            &'a self,
            events: Vec<Event>,
        ) -> Pin<Box<dyn Future<Output = Result<Receipt, Refusal>> + Send + 'a>> {
            Box::pin(async move {
                Ok(Receipt {
                    applied: events.len(),
                    duplicates: 0,
                })
            })
        }
    }

    struct Listening {
        addr: SocketAddr,
        stop: Option<oneshot::Sender<()>>,
        task: JoinHandle<std::io::Result<()>>,
    }

    /// The daemon's routes, events on, within `limits`.
    async fn listen(limits: Limits) -> Listening {
        let env = |name: &str| (name == "DRUMBEAT_EVENTS_TOKEN").then(|| TOKEN.to_string());
        let ops = Ops {
            events: Some(EventsRoute {
                intake: Arc::new(Accepting),
                auth: Auth::from_env(&env),
            }),
            ..Ops::new(Arc::new(Metrics::new()))
        };
        ops.health.set_ready(true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listen::serve(listener, ops, limits, async {
            let _ = stopped.await;
        }));
        Listening {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn small() -> Limits {
        Limits {
            connections: 4,
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_millis(500),
            unchecked_bodies: 8 * 1024 * 1024,
            idle_before_eviction: Duration::from_millis(200),
        }
    }

    const EVENT: &str = r#"{"id":"a","type":"join","community":"club","member":"u-1","at":"2026-12-01T08:00:00+08:00"}"#;

    fn post_head(auth: &str, length: usize) -> String {
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: drumbeat\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
    }

    /// The status, content type and body of the one answer on `s` (read until it closes or
    /// the body is whole); panics after ten seconds.
    async fn answer(s: &mut TcpStream) -> (u16, String, String) {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let whole = |got: &[u8]| {
            let text = String::from_utf8_lossy(got);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                return false;
            };
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(usize::MAX);
            body.len() >= length
        };
        while !whole(&got) {
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .expect("an answer within 10 s")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got).to_string();
        let (head, body) = text.split_once("\r\n\r\n").expect("an answer");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        (status, content_type, body.to_string())
    }

    /// Sends `request` on a connection of its own and reads the answer.
    async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        answer(&mut s).await
    }

    /// Whether the daemon closed `s` (within ten seconds).
    async fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn the_bearer_scheme_is_taken_in_any_case() {
        let l = listen(small()).await;
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let head = post_head(&format!("{scheme} {TOKEN}"), EVENT.len());
            let (status, _, body) = exchange(l.addr, format!("{head}{EVENT}").as_bytes()).await;
            assert_eq!(
                (status, body.as_str()),
                (200, r#"{"applied":1,"duplicates":0}"#),
                "{scheme}"
            );
        }
        let head = post_head(&format!("Basic {TOKEN}"), EVENT.len());
        let (status, _, _) = exchange(l.addr, format!("{head}{EVENT}").as_bytes()).await;
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_in_json_declared_or_streamed() {
        let l = listen(small()).await;
        let bearer = format!("Bearer {TOKEN}");
        // Declared: refused before it is read.
        let (status, content_type, body) =
            exchange(l.addr, post_head(&bearer, 9 * 1024 * 1024).as_bytes()).await;
        assert_eq!((status, content_type.as_str()), (413, "application/json"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("8 MiB"), "{body}");

        // Streamed without a length: refused once the limit is passed.
        let mut s = TcpStream::connect(l.addr).await.unwrap();
        let head = format!(
            "POST /v1/events HTTP/1.1\r\nHost: drumbeat\r\nAuthorization: {bearer}\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
        for _ in 0..(9 * 16) {
            if s.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        let (status, content_type, _) = answer(&mut s).await;
        assert_eq!((status, content_type.as_str()), (413, "application/json"));
    }

    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
        let l = listen(small()).await;
        let mut s = TcpStream::connect(l.addr).await.unwrap();
        let head = post_head(&format!("Bearer {TOKEN}"), EVENT.len());
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&EVENT.as_bytes()[..10]).await.unwrap();
        let (status, content_type, body) = answer(&mut s).await;
        assert_eq!((status, content_type.as_str()), (408, "application/json"));
        assert!(body.contains("did not arrive"), "{body}");
    }

    /// At the cap, idle connections are closed to let a probe in; a connection in the
    /// middle of a request is left to finish it.
    #[tokio::test]
    async fn at_the_cap_idle_connections_make_room_and_busy_ones_finish() {
        let l = listen(Limits {
            body_timeout: Duration::from_secs(10),
            ..small()
        })
        .await;
        let mut busy = TcpStream::connect(l.addr).await.unwrap();
        busy.write_all(post_head(&format!("Bearer {TOKEN}"), EVENT.len()).as_bytes())
            .await
            .unwrap();
        busy.write_all(&EVENT.as_bytes()[..10]).await.unwrap();
        let mut idle = Vec::new();
        for _ in 0..3 {
            idle.push(TcpStream::connect(l.addr).await.unwrap());
        }
        // The cap is full: this one waits until an idle one has been idle long enough.
        let (status, _, _) = exchange(
            l.addr,
            b"GET /healthz HTTP/1.1\r\nHost: drumbeat\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(status, 200);
        assert!(closed(&mut idle[0]).await, "an idle connection was closed");
        busy.write_all(&EVENT.as_bytes()[10..]).await.unwrap();
        let (status, _, _) = answer(&mut busy).await;
        assert_eq!(status, 200, "the request in flight was answered");
    }

    /// Shutdown closes idle connections at once, answers the request in flight, and then
    /// returns.
    #[tokio::test]
    async fn shutdown_answers_requests_in_flight_and_waits_for_no_idle_connection() {
        let mut l = listen(Limits {
            body_timeout: Duration::from_secs(10),
            ..small()
        })
        .await;
        let mut idle = TcpStream::connect(l.addr).await.unwrap();
        let mut busy = TcpStream::connect(l.addr).await.unwrap();
        busy.write_all(post_head(&format!("Bearer {TOKEN}"), EVENT.len()).as_bytes())
            .await
            .unwrap();
        busy.write_all(&EVENT.as_bytes()[..10]).await.unwrap();
        // Let the server see the request before it is told to stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
        l.stop.take().unwrap().send(()).unwrap();
        assert!(closed(&mut idle).await, "the idle connection was closed");
        busy.write_all(&EVENT.as_bytes()[10..]).await.unwrap();
        let (status, _, _) = answer(&mut busy).await;
        assert_eq!(status, 200, "the request in flight was answered");
        let done = tokio::time::timeout(Duration::from_secs(10), &mut l.task)
            .await
            .expect("serve returns once the request in flight is answered")
            .unwrap();
        assert!(done.is_ok(), "{done:?}");
        assert!(TcpStream::connect(l.addr).await.is_err(), "nothing listens");
    }
}
