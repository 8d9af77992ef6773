//! `drumbeat status [--store URL] [--format table|json] [--next N]`

use crate::cli::CliError;
use crate::cli::common::{emit, open_store_to_read, small_runtime, usage};
use crate::diag::visible;
use crate::store::{
    self, Counts, DEFAULT_URL, Lifecycle, OutboxRow, OutboxStatus, State, StoreUrl,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::fmt::Write;
use unicode_width::UnicodeWidthStr;

/// How many dead-lettered and missed rows are listed.
const LATEST: u32 = 10;

/// Show what the outbox holds: rows by state, the next fires, the latest failures.
///
/// Reads the store a daemon (`drumbeat run`) writes, and can run while it runs. Prints the
/// number of rows in each state (pending, sending, retrying, sent, dead_lettered, missed),
/// the next fires to go out, the latest dead-lettered rows with their last error, and the
/// latest missed fires. Times are UTC. A store that does not exist is not created: that is
/// an error (exit 2), since it means nothing has run with it yet.
///
/// In the table, DUE is when a row is next tried: its scheduled instant when pending, its
/// next attempt when retrying, the end of its lease when being sent (if the sender died, the
/// row is taken over then).
///
/// --format json prints one object: counts (one number per state), next, dead_lettered and
/// missed (lists of rows). Each row has: key, community, source, channel, template, state,
/// attempts, scheduled_at (the fire's instant), next_attempt_at (pending: the scheduled
/// instant; retrying: the next attempt; sending: when the lease ends), updated_at and
/// last_error (or null). Instants are RFC 3339 in UTC.
///
/// Example: drumbeat status --store sqlite:///var/lib/drumbeat/drumbeat.db
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The store to read.
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    pub store: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// How many of the next fires to list.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub next: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object (fields above).
    Json,
}

/// Everything `status` shows, read in one go.
struct Report {
    counts: Counts,
    next: Vec<OutboxRow>,
    dead_lettered: Vec<OutboxRow>,
    missed: Vec<OutboxRow>,
}

/// The order states are listed in: the queue first, then final states.
const STATES: [State; 6] = [
    State::Pending,
    State::Sending,
    State::Retrying,
    State::Sent,
    State::DeadLettered,
    State::Missed,
];

pub fn run<S: Lifecycle + OutboxStatus>(args: Args) -> Result<(), CliError> {
    let location = match StoreUrl::parse(&args.store) {
        Ok(StoreUrl::Sqlite { path }) => path.display().to_string(),
        // Opening it says what is not supported, without the URL (it may hold a password).
        Ok(StoreUrl::Postgres) => "a PostgreSQL store".into(),
        Err(e) => return Err(usage(&e.to_string())),
    };
    let runtime = small_runtime()?;
    let store = open_store_to_read::<S>(&runtime, &args.store)?;
    let report = runtime.block_on(read(&store, args.next));
    runtime.block_on(store.close());
    let report = report.map_err(|e| usage(&e.to_string()))?;
    match args.format {
        Format::Table => emit(&table(&location, &report)),
        Format::Json => emit(&json(&report)),
    }
}

async fn read(store: &impl OutboxStatus, next: u32) -> Result<Report, store::StoreError> {
    Ok(Report {
        counts: store.counts_by_state().await?,
        next: store.next_rows(next).await?,
        dead_lettered: store.rows_in_state(State::DeadLettered, LATEST).await?,
        missed: store.rows_in_state(State::Missed, LATEST).await?,
    })
}

fn table(location: &str, r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "store: {location}\n");

    let mut rows: Vec<Vec<String>> = STATES
        .iter()
        .map(|s| vec![s.as_str().to_string(), r.counts.get(*s).to_string()])
        .collect();
    rows.push(vec!["total".into(), r.counts.total().to_string()]);
    out.push_str("rows by state\n");
    columns(&mut out, &rows, &[Align::Left, Align::Right]);

    let queued = r.counts.queued();
    out.push('\n');
    if r.next.is_empty() {
        out.push_str("next fires: none\n");
    } else {
        let _ = writeln!(
            out,
            "next fires ({} of {queued} still to deliver)",
            r.next.len()
        );
        let mut rows = vec![head(&["DUE", "STATE", "ATTEMPTS", "CHANNEL", "KEY"])];
        rows.extend(r.next.iter().map(|row| {
            vec![
                instant(row.next_attempt_at),
                row.state.to_string(),
                row.attempts.to_string(),
                one_line(&row.channel),
                one_line(&row.key),
            ]
        }));
        columns(&mut out, &rows, &[]);
    }

    out.push('\n');
    if r.dead_lettered.is_empty() {
        out.push_str("dead-lettered: none\n");
    } else {
        let _ = writeln!(
            out,
            "dead-lettered, latest first ({} of {})",
            r.dead_lettered.len(),
            r.counts.dead_lettered
        );
        let mut rows = vec![head(&["SCHEDULED", "ATTEMPTS", "KEY", "LAST ERROR"])];
        rows.extend(r.dead_lettered.iter().map(|row| {
            vec![
                instant(row.scheduled_at),
                row.attempts.to_string(),
                one_line(&row.key),
                row.last_error.as_deref().map_or("-".into(), one_line),
            ]
        }));
        columns(&mut out, &rows, &[]);
    }

    out.push('\n');
    if r.missed.is_empty() {
        out.push_str("missed: none\n");
    } else {
        let _ = writeln!(
            out,
            "missed, latest first ({} of {})",
            r.missed.len(),
            r.counts.missed
        );
        let mut rows = vec![head(&["SCHEDULED", "KEY"])];
        rows.extend(
            r.missed
                .iter()
                .map(|row| vec![instant(row.scheduled_at), one_line(&row.key)]),
        );
        columns(&mut out, &rows, &[]);
    }
    out
}

fn head(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Writes `rows` as columns indented by two spaces, two spaces apart; columns not named in
/// `align` are left-aligned.
fn columns(out: &mut String, rows: &[Vec<String>], align: &[Align]) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; n];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    for row in rows {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[i] - cell.width());
            if align.get(i) == Some(&Align::Right) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text from a platform's answer, made safe for one table cell: runs of white space, line
/// breaks included, become one space, and what could still drive the terminal or reorder
/// the line (escape sequences, bidirectional controls) is shown escaped.
fn one_line(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    visible(&folded).into_owned()
}

#[derive(Serialize)]
struct StatusJson {
    counts: CountsJson,
    next: Vec<RowJson>,
    dead_lettered: Vec<RowJson>,
    missed: Vec<RowJson>,
}

#[derive(Serialize)]
struct CountsJson {
    pending: u64,
    sending: u64,
    retrying: u64,
    sent: u64,
    dead_lettered: u64,
    missed: u64,
}

#[derive(Serialize)]
struct RowJson {
    key: String,
    community: String,
    source: String,
    channel: String,
    template: String,
    state: &'static str,
    attempts: u32,
    scheduled_at: String,
    next_attempt_at: String,
    updated_at: String,
    last_error: Option<String>,
}

impl RowJson {
    fn new(row: &OutboxRow) -> RowJson {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        RowJson {
            key: row.key.clone(),
            community: row.community.clone(),
            source: row.source.clone(),
            channel: row.channel.clone(),
            template: row.template.clone(),
            state: row.state.as_str(),
            attempts: row.attempts,
            scheduled_at: at(row.scheduled_at),
            next_attempt_at: at(row.next_attempt_at),
            updated_at: at(row.updated_at),
            last_error: row.last_error.clone(),
        }
    }
}

fn json(r: &Report) -> String {
    let c = &r.counts;
    let doc = StatusJson {
        counts: CountsJson {
            pending: c.pending,
            sending: c.sending,
            retrying: c.retrying,
            sent: c.sent,
            dead_lettered: c.dead_lettered,
            missed: c.missed,
        },
        next: r.next.iter().map(RowJson::new).collect(),
        dead_lettered: r.dead_lettered.iter().map(RowJson::new).collect(),
        missed: r.missed.iter().map(RowJson::new).collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data");
    s.push('\n');
    s
}
