//! What several commands share: loading one valid playbook, reading times.

use crate::cli::CliError;
use crate::compile::{Program, compile};
use crate::diag::{Severity, render};
use crate::playbook::types::{parse_date, parse_local_datetime};
use crate::playbook::{Loaded, load_paths};
use crate::schedule::time::resolve_local;
use crate::validate;
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use std::path::Path;

/// Loads the one playbook at `path`, checks it and compiles it. Diagnostics go to stderr; a playbook
/// with errors is refused with exit 1, unusable input with exit 2.
pub fn load_one(path: &Path, what: &str) -> Result<Program, CliError> {
    let mut loaded: Loaded = load_paths(&[path.to_path_buf()]);
    validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    loaded.diagnostics.sort();
    let diags = loaded.diagnostics.into_vec();
    if !diags.is_empty() {
        eprint!("{}", render::human(&loaded.sources, &diags));
    }
    if diags.iter().any(|d| d.code.is_unusable_input()) {
        return Err(CliError::Printed(2));
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(CliError::Failed(format!(
            "the playbook has errors, so it cannot be {what}"
        )));
    }
    let playbook = match loaded.playbooks.len() {
        1 => loaded.playbooks.pop().expect("one playbook"),
        n => {
            return Err(usage(&format!(
                "this command takes one playbook; {} holds {n}",
                path.display()
            )));
        }
    };
    compile(playbook, &loaded.sources).map_err(|diags| {
        eprint!("{}", render::human(&loaded.sources, &diags.into_vec()));
        CliError::Failed(format!("the playbook has errors, so it cannot be {what}"))
    })
}

/// A usage error (exit 2).
pub fn usage(message: &str) -> CliError {
    CliError::Usage(message.to_string())
}

/// An RFC 3339 instant, or a local date or date and time in the community's zone.
pub fn parse_time(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(l) = parse_local_datetime(s) {
        return Ok(resolve_local(tz, l));
    }
    if let Ok(d) = parse_date(s) {
        return Ok(resolve_local(tz, d.and_time(NaiveTime::MIN)));
    }
    Err(format!(
        "`{s}` is not a time: write RFC 3339 (2026-12-01T08:00:00+08:00) or a local date or date and time (2026-12-01, 2026-12-01T08:00)"
    ))
}

/// The current instant, to the second (the CLI may read the clock; the library never does).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// Writes command output to stdout. A closed pipe (`drumbeat plan ... | head`) ends the
/// output quietly; any other failure (a full disk) is an error.
pub fn emit(text: &str) -> Result<(), CliError> {
    write_out("the output", text.as_bytes())
}

/// Writes `bytes` (`what`, as an error names them) to stdout, as [`emit`] does.
pub fn write_out(what: &'static str, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Output { what, source: e })
        }
        _ => Ok(()),
    }
}

/// The instant given by option `flag` (see [`parse_time`]), or now when it is absent. A bad
/// value is a usage error (exit 2).
pub fn time_option(flag: &str, value: Option<&str>, tz: Tz) -> Result<DateTime<Utc>, CliError> {
    match value {
        Some(t) => parse_time(t, tz).map_err(|e| usage(&format!("{flag}: {e}"))),
        None => Ok(now()),
    }
}

/// Opens the store at `url` for a command that reads or adjusts it, refusing to create one:
/// a mistyped path must not look like an empty store. Exit 2 when it does not exist, 1 when
/// it cannot be opened.
pub fn open_existing_store<S: crate::store::Lifecycle>(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> Result<S, CliError> {
    use crate::store;
    must_exist(url)?;
    rt.block_on(S::open(url)).map_err(|e| match e {
        // Nothing wrong with the store: it cannot be used as asked.
        store::StoreError::NotSupported { .. } | store::StoreError::BadUrl { .. } => {
            usage(&e.to_string())
        }
        e => CliError::Store(e),
    })
}

/// Opens the store at `url` for a command that only reads it: nothing is created, migrated
/// or written, so it also works on read-only media. Exit 2 when it does not exist or cannot
/// be read.
pub fn open_store_to_read<S: crate::store::Lifecycle>(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> Result<S, CliError> {
    must_exist(url)?;
    rt.block_on(S::open_to_read(url))
        .map_err(|e| usage(&format!("cannot read the store: {e}")))
}

/// A usage error (exit 2) for a URL drumbeat cannot use or a store file that does not
/// exist: a mistyped path must not look like an empty store.
fn must_exist(url: &str) -> Result<(), CliError> {
    match crate::store::StoreUrl::parse(url) {
        Ok(crate::store::StoreUrl::Sqlite { path }) if !path.exists() => Err(usage(&format!(
            "no store at {}: nothing has run with it yet (give --store URL)",
            path.display()
        ))),
        Err(e) => Err(usage(&e.to_string())),
        Ok(_) => Ok(()),
    }
}

/// A runtime for commands that only talk to the store.
pub fn small_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(&format!("cannot start: {e}")))
}
