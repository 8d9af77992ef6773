//! `drumbeat plan PLAYBOOK [--from T] [--days N | --until T] [--format table|json|ics]`

use crate::cli::CliError;
use crate::cli::common::{emit, load_one, parse_time, time_option, usage};
use crate::plan::{event_driven, format, plan};
use crate::schedule::time::resolve_local;
use chrono::Days;
use std::path::PathBuf;

/// The longest window planned, in days (about a hundred years).
const MAX_DAYS: u32 = 36_600;

/// Show every scheduled fire of a playbook in a window of time.
///
/// Lists the fires of content slots, calendar additions, activity phase slots and lotteries
/// in time order, with local and UTC time, source, channel, template and rotated topic.
/// Fires that will not be sent are listed as suppressed with one reason: outside_runs,
/// calendar_skip, quiet_hours or daily_limit. Messages caused by events (welcomes,
/// warnings, announcements, birthdays, recalls) have no planned time and are listed as kinds.
/// A playbook that fails validation is not planned: its diagnostics are printed (exit 1).
///
/// Times (--from, --until) are RFC 3339 (2026-12-01T08:00:00+08:00) or a local date or
/// date and time in the community's time zone (2026-12-01, 2026-12-01T08:00). The window
/// includes --from and excludes --until.
///
/// --format json prints one object: community, timezone, from, until (UTC, RFC 3339),
/// fires and event_driven. Each fire has: key (unique name of the fire), at (UTC instant),
/// local (the same instant on the community's clock, with offset), scheduled (local time it
/// was due, YYYY-MM-DDTHH:MM; differs from local in a DST gap), source (content, calendar,
/// phase or lottery), id (slot or lottery id), activity and phase (phase slots, else null),
/// channel, assist (the channel that gets it as a to-do, or null), template, topic (or
/// null), grace (a duration such as 10m), moved (a calendar entry moved it), status
/// (planned or suppressed) and reason (null, outside_runs, calendar_skip, quiet_hours or
/// daily_limit). Each event_driven entry has: kind, id (or null), template, channel (or
/// null) and when (what causes it, in words).
///
/// --format ics prints an iCalendar file (one event per fire, suppressed ones cancelled)
/// that calendar apps can import.
///
/// Example: drumbeat plan playbooks/fitness-camp.yaml --from 2026-12-01 --days 7
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The playbook file.
    pub playbook: PathBuf,
    /// Start of the window (default: now).
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Length of the window in local calendar days (default 7).
    #[arg(long, value_name = "N", conflicts_with = "until",
          value_parser = clap::value_parser!(u32).range(1..=MAX_DAYS as i64))]
    pub days: Option<u32>,
    /// End of the window (excluded).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object (fields above).
    Json,
    /// An iCalendar file.
    Ics,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let program = &load_one(&args.playbook, "planned")?;
    let playbook = program.playbook();
    let tz = playbook.community.timezone;
    let from = time_option("--from", args.from.as_deref(), tz)?;
    let until = match &args.until {
        Some(t) => parse_time(t, tz).map_err(|e| usage(&format!("--until: {e}")))?,
        None => {
            let local = from.with_timezone(&tz).naive_local();
            match local.checked_add_days(Days::new(args.days.unwrap_or(7) as u64)) {
                Some(l) => resolve_local(tz, l),
                None => return Err(usage("--days: the window ends beyond the calendar")),
            }
        }
    };
    if until <= from {
        return Err(usage("--until must be later than --from"));
    }
    if until - from > chrono::Duration::days(MAX_DAYS as i64) {
        return Err(usage(
            "the window is longer than 100 years; plan a shorter one",
        ));
    }
    let planned = plan(program, from, until);
    let events = event_driven(playbook);
    let text = match args.format {
        Format::Table => format::table(playbook, &planned, &events),
        Format::Json => format::json(&planned, &events),
        Format::Ics => format::ics(playbook, &planned),
    };
    emit(&text)
}
