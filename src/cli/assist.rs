//! `drumbeat assist list|done` — the to-dos of assisted channels.

use crate::cli::CliError;
use crate::cli::common::{emit, open_existing_store, open_store_to_read, small_runtime, usage};
use crate::diag::visible;
use crate::store::{Confirmed, DEFAULT_URL, Lifecycle, Todos};
use chrono::{SecondsFormat, Utc};

/// To-dos for channels that take no bot posts (`assist: OTHER`).
///
/// Messages for such a channel go to OTHER as a to-do for a person. `list` shows the to-dos
/// delivered and not yet confirmed; `done KEY` confirms that the message of fire KEY was
/// posted (the key is printed in the to-do), which is what the `assist_done` event does.
///
/// Examples:
///   drumbeat assist list
///   drumbeat assist done fitness-camp/content/checkin-reminder/private/20261201T130000Z
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
    /// The store the daemon runs with.
    #[arg(long, global = true, default_value = DEFAULT_URL)]
    pub store: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// To-dos delivered and waiting for confirmation, oldest first.
    List {
        /// `table` for people, `json` for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Confirm that the message of fire KEY was posted.
    Done { key: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The most to-dos listed.
const LIST_LIMIT: u32 = 1000;

pub fn run<S: Lifecycle + Todos>(args: Args) -> Result<(), CliError> {
    let rt = small_runtime()?;
    // Listing only reads; confirming writes.
    let store = match args.action {
        Action::List { .. } => open_store_to_read::<S>(&rt, &args.store),
        _ => open_existing_store::<S>(&rt, &args.store),
    }?;
    match args.action {
        Action::List { format } => {
            let rows = rt.block_on(store.unconfirmed(LIST_LIMIT))?;
            let at = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
            let written = match format {
                Format::Json => {
                    let items: Vec<serde_json::Value> = rows
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "key": r.key,
                                "community": r.community,
                                "channel": r.assist_for,
                                "to_do_channel": r.channel,
                                "scheduled_at": at(r.scheduled_at),
                                "delivered_at": r.sent_at.map(at),
                            })
                        })
                        .collect();
                    emit(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&items).unwrap_or_default()
                    ))
                }
                Format::Table if rows.is_empty() => emit("no to-dos waiting for confirmation\n"),
                Format::Table => {
                    let mut out = format!("{} to-dos waiting for confirmation\n", rows.len());
                    for r in &rows {
                        out.push_str(&format!(
                            "  {}  {} · {} (to-do via {})  {}\n",
                            at(r.scheduled_at),
                            visible(&r.community),
                            visible(r.assist_for.as_deref().unwrap_or("?")),
                            visible(&r.channel),
                            visible(&r.key)
                        ));
                    }
                    emit(&out)
                }
            };
            rt.block_on(store.close());
            written
        }
        Action::Done { key } => {
            let answer = rt.block_on(store.confirm(&key, Utc::now()));
            rt.block_on(store.close());
            match answer? {
                Confirmed::Done => emit(&format!("confirmed: {}\n", visible(&key))),
                Confirmed::Already => emit(&format!("already confirmed: {}\n", visible(&key))),
                Confirmed::Unknown => Err(usage(&format!(
                    "no to-do has the key `{}` (see `drumbeat assist list`)",
                    visible(&key)
                ))),
            }
        }
    }
}
