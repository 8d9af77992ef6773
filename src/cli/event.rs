//! `drumbeat event PATH... [--store URL] [--input FILE]`

use crate::channel::{ConsoleSink, Options};
use crate::cli::CliError;
use crate::cli::common::{emit, usage};
use crate::events::read_any;
use crate::runtime::intake::Intake;
use crate::runtime::program::{self, Build};
use crate::store::{DEFAULT_URL, Store};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Apply member events to the playbooks' communities, exactly as `POST /v1/events` does.
///
/// Reads one event (a JSON object), a batch (an array) or JSON lines from standard input,
/// or from --input FILE. The batch is checked whole: any malformed event, or one that does
/// not fit a loaded community, refuses it and nothing changes. An event id taken in before
/// is acknowledged and changes nothing. Messages the events cause (welcomes, tier
/// announcements) are recorded in the outbox for the daemon to send.
///
/// Exit status: 0 applied, 1 refused (each reason printed), 2 unusable input.
///
/// Example:
///   echo '{"id":"e1","type":"checkin","community":"fitness-camp","member":"u-1","at":"2026-12-01T07:40:00+08:00"}' \
///     | drumbeat event playbooks/fitness-camp.yaml
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Playbook files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, default_value = DEFAULT_URL)]
    pub store: String,
    /// Read events from this file instead of standard input.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// The instant the events are taken in at (RFC 3339), instead of the system clock:
    /// messages they cause are due then. For backfills and rehearsals.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

pub fn run<S: Store + Clone>(args: Args) -> Result<(), CliError> {
    // Warnings (a condition that failed for a member, taken as not met) on stderr.
    crate::cli::run::init_logs(crate::cli::run::LogFormat::Text, "warn");
    let now = crate::cli::common::time_option("--now", args.now.as_deref(), chrono_tz::UTC)?;
    let text = match &args.input {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| usage(&format!("cannot read {}: {e}", path.display()))),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map(|_| s)
                .map_err(|e| usage(&format!("cannot read standard input: {e}")))
        }
    };
    let events = read_any(&text?).map_err(|problems| CliError::Refused {
        // Problems quote the events' ids and fields, which anyone could have written.
        problems: problems
            .iter()
            .map(|p| crate::diag::visible(&p.to_string()).into_owned())
            .collect(),
        outcome: crate::cli::error::EVENTS_REFUSED,
    })?;
    let options = Options::new().map_err(|e| usage(&format!("cannot start: {e}")))?;
    // Events need no channel: nothing is sent from here, so no secret is read.
    let build = Build {
        options,
        env: Arc::new(|_: &str| None),
        dry_run: Some(ConsoleSink::to(std::io::sink())),
    };
    let loaded = program::load(&args.paths, &build);
    if !loaded.refused.is_empty() {
        let reports: Vec<&str> = loaded.refused.values().map(|r| r.report.as_str()).collect();
        return Err(CliError::Invalid {
            report: reports.join("\n"),
            outcome: "the playbooks have errors, so no event was applied",
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(&format!("cannot start: {e}")))?;
    rt.block_on(async move {
        let store = S::open(&args.store).await?;
        store.save_playbooks(&loaded.kept, now).await?;
        let communities = crate::runtime::delivery::communities_of(loaded.communities);
        let intake = Intake::new(store.clone(), communities);
        // Checked whole, applied in batches.
        let mut total = crate::runtime::intake::Receipt::default();
        let mut result = intake.check_all(&events, now).await;
        for batch in events.chunks(crate::events::MAX_BATCH) {
            if result.is_err() {
                break;
            }
            match intake.take(batch.to_vec(), now).await {
                Ok(r) => {
                    total.applied += r.applied;
                    total.duplicates += r.duplicates;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        store.close().await;
        let r = result.map(|()| total)?;
        emit(&format!(
            "applied {} events; {} taken in before (unchanged)\n",
            r.applied, r.duplicates
        ))
    })
}
