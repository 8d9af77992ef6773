//! `drumbeat run PATH... [--store URL] [--listen ADDR] [--dry-run]`

use crate::channel::{ConsoleSink, Options};
use crate::cli::CliError;
use crate::cli::common::usage;
use crate::diag::visible;
use crate::runtime::program::Build;
use crate::runtime::{self, Clock, Config, Control, Failure, ScaledClock, Settings, SystemClock};
use crate::store::DEFAULT_URL;
use chrono::{DateTime, TimeDelta, Utc};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where `--dry-run` keeps its state when no --store is given: never the real store, so a
/// dry run can't mark a real fire as sent.
pub const DRY_RUN_URL: &str = "sqlite://./drumbeat-dry-run.db";

/// Run playbooks: fire every message on time through its channels, durably.
///
/// Each due message is written to the store's outbox before it is sent, so a crash or
/// restart never loses one and never sends one twice; fires missed while the engine was down
/// are sent late within their grace (default 10m) and recorded as missed after it. Edit a
/// playbook and it is reloaded (also on SIGHUP): a valid version takes over from the next
/// fire, an invalid one is refused and the running version stays. SIGTERM or Ctrl-C stops
/// gracefully. `${NAME}` fields of channels are read from the environment now; a missing one
/// stops start-up.
///
/// Exit status: 0 after a graceful stop, 1 when playbooks have errors or the store fails, 2
/// when channels cannot be set up (a missing environment variable) or for unusable input.
///
/// Examples:
///   drumbeat run playbooks/
///   drumbeat run playbooks/ --store sqlite:///var/lib/drumbeat/state.db --listen 127.0.0.1:9464
///   drumbeat run --dry-run --start-at 2026-12-01T07:58:00+08:00 --speed 60 playbooks/fitness-camp.yaml
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Playbook files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where state is kept [default: sqlite://./drumbeat.db; with --dry-run
    /// sqlite://./drumbeat-dry-run.db; when rehearsing, a throwaway file].
    #[arg(long)]
    pub store: Option<String>,
    /// Serve GET /healthz and GET /metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Send every message to the console instead of its channel (no secrets needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Log lines as text or as JSON objects (on stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Rehearse: start the clock at this instant (RFC 3339) instead of now. A rehearsal
    /// keeps its state in a throwaway store unless --store is given.
    #[arg(long)]
    pub start_at: Option<String>,
    /// Rehearse: run the clock this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Stop gracefully when the clock reaches this instant (RFC 3339).
    #[arg(long)]
    pub stop_at: Option<String>,
    /// Days finished outbox rows (sent, missed, dead-lettered) are kept.
    #[arg(long, default_value_t = 90)]
    pub keep_days: u32,
    /// Do not watch the files for changes (SIGHUP still reloads).
    #[arg(long)]
    pub no_watch: bool,
    /// How many seconds ahead fires are recorded (and shown by `status` as next).
    #[arg(long, default_value_t = 3600, hide = true)]
    pub lookahead: u32,
    /// How many attempts a message gets before it is dead-lettered.
    #[arg(long, default_value_t = 12, hide = true)]
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: Args) -> Result<(), CliError> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(usage("--speed must be a positive number"));
    }
    let stop_at = match args.stop_at.as_deref().map(DateTime::parse_from_rfc3339) {
        None => None,
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        Some(Err(_)) => {
            return Err(usage(&format!(
                "--stop-at `{}` is not an RFC 3339 instant (e.g. 2026-12-01T22:00:00+08:00)",
                args.stop_at.as_deref().unwrap_or_default()
            )));
        }
    };
    let rehearsal = args.start_at.is_some() || args.speed != 1.0;
    let clock: Arc<dyn Clock> = match (&args.start_at, args.speed) {
        (None, 1.0) => Arc::new(SystemClock),
        (start, speed) => {
            let start = match start.as_deref().map(DateTime::parse_from_rfc3339) {
                None => Utc::now(),
                Some(Ok(t)) => t.with_timezone(&Utc),
                Some(Err(_)) => {
                    return Err(usage(&format!(
                        "--start-at `{}` is not an RFC 3339 instant (e.g. 2026-12-01T07:58:00+08:00)",
                        start.as_deref().unwrap_or_default()
                    )));
                }
            };
            Arc::new(ScaledClock::new(start, speed))
        }
    };
    let began = clock.now();
    init_logs(args.log_format, "info");
    let mut options =
        Options::new().map_err(|e| usage(&format!("cannot start the HTTP client: {e}")))?;
    let now_of = clock.clone();
    options.clock = Arc::new(move || now_of.now());
    // A rehearsal's fires are not real ones: unless told otherwise they go to a store
    // of their own that is thrown away at the end.
    let scratch = (rehearsal && args.store.is_none()).then(Scratch::new);
    let store_url = match (&args.store, &scratch) {
        (Some(url), _) => url.clone(),
        (None, Some(s)) => s.url(),
        (None, None) if args.dry_run => DRY_RUN_URL.to_string(),
        (None, None) => DEFAULT_URL.to_string(),
    };
    let config = Config {
        paths: args.paths,
        store_url,
        listen: args.listen,
        build: Build {
            options,
            env: Arc::new(|name: &str| std::env::var(name).ok()),
            dry_run: args.dry_run.then(ConsoleSink::stdout),
        },
        clock,
        began,
        delivery: Settings {
            retry: runtime::RetryPolicy {
                max_attempts: args.max_attempts.max(1),
                ..Default::default()
            },
            ..Default::default()
        },
        lookahead: TimeDelta::seconds(i64::from(args.lookahead.max(2))),
        watch: !args.no_watch,
        keep: TimeDelta::days(i64::from(args.keep_days.max(1))),
        stop_at,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(&format!("cannot start: {e}")))?;
    let result = rt.block_on(async move {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Err(e) = listen_for_signals(tx.clone()) {
            return Err(Failure::Start(format!("cannot listen for signals: {e}")));
        }
        runtime::run(config, rx, tx).await
    });
    drop(scratch);
    Ok(result?)
}

/// A throwaway store file for a rehearsal, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Scratch(std::env::temp_dir().join(format!(
            "drumbeat-rehearsal-{}-{stamp}.db",
            std::process::id()
        )))
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// SIGTERM and Ctrl-C stop, SIGHUP reloads.
fn listen_for_signals(tx: mpsc::UnboundedSender<Control>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                _ = term.recv() => Control::Stop,
                _ = int.recv() => Control::Stop,
                _ = hup.recv() => Control::Reload,
            };
            if tx.send(control).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Logs go to stderr; `DRUMBEAT_LOG` filters them (default `level`).
pub(crate) fn init_logs(format: LogFormat, level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DRUMBEAT_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => {
            use tracing_subscriber::field::MakeExt;
            let fields = tracing_subscriber::fmt::format::debug_fn(log_field).delimited(" ");
            builder.fmt_fields(fields).try_init()
        }
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// One field of a text log line, `name=value` (the message bare), its value escaped with
/// [`visible`]: a platform's error text with a line break in it must not start a line
/// that looks like another event, nor drive the terminal that shows the log.
fn log_field(
    w: &mut tracing_subscriber::fmt::format::Writer<'_>,
    field: &tracing::field::Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    let text = format!("{value:?}");
    let text = visible(&text);
    match field.name() {
        "message" => w.write_str(&text),
        // As the default format shows names: in italics, on a terminal.
        name if w.has_ansi_escapes() => write!(w, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m{text}"),
        name => write!(w, "{name}={text}"),
    }
}
