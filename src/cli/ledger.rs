//! `drumbeat ledger ID`

use crate::cli::CliError;
use crate::cli::common::emit;
use crate::cli::roster::{Format, Roster};
use crate::diag::visible;
use crate::plan::format::columns;
use crate::store::{DEFAULT_URL, Store};
use serde_json::json;

/// A member's points ledger: every line, oldest first, with the running balance.
///
/// The ledger is append-only: points are never edited, only added or taken away by new
/// lines, so this is the full story of a balance.
///
/// Example:
///   drumbeat ledger u-1024
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The member's id.
    pub id: String,
    #[arg(long, default_value = DEFAULT_URL)]
    pub store: String,
    /// The member's community, when they are in several.
    #[arg(long)]
    pub community: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run<S: Store>(args: Args) -> Result<(), CliError> {
    let roster = Roster::<S>::open(&args.store, args.community.as_deref())?;
    // A member taken off the roster still has their ledger, the removal included.
    let p = roster.find_kept(&args.id)?;
    let community = p.community.id.value.as_str();
    let lines = roster
        .rt
        .block_on(roster.store.ledger(community, &args.id))?;
    let tz = p.community.timezone;
    let mut balance = 0i64;
    let mut rows = vec![["AT", "POINTS", "BALANCE", "REASON", "DETAIL", "EVENT"].map(String::from)];
    let mut items = Vec::new();
    for l in &lines {
        balance += l.points;
        let at = l.at.with_timezone(&tz);
        rows.push([
            at.format("%Y-%m-%d %H:%M:%S").to_string(),
            format!("{:+}", l.points),
            balance.to_string(),
            visible(&l.reason).into_owned(),
            l.detail
                .as_deref()
                .map_or("-".into(), |d| visible(d).into_owned()),
            l.event
                .as_deref()
                .map_or("-".into(), |e| visible(e).into_owned()),
        ]);
        items.push(json!({
            "at": at.to_rfc3339(), "points": l.points, "balance": balance,
            "reason": l.reason, "detail": l.detail, "event": l.event,
        }));
    }
    let written = match args.format {
        Format::Json => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        )),
        Format::Table => {
            let mut out = format!("{} · {}\n\n", visible(&args.id), community);
            columns(&mut out, &rows);
            out.push_str(&format!("\n{} lines, balance {balance}\n", lines.len()));
            emit(&out)
        }
    };
    roster.rt.block_on(roster.store.close());
    written
}
