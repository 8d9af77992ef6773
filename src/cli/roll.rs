//! `drumbeat members import|export`: a group's roster in and out as CSV. The rules are in
//! [`crate::roll`]; here the files and the store.

use crate::cli::CliError;
use crate::cli::common::{emit, usage, write_out};
use crate::cli::members::summary;
use crate::cli::roster::Roster;
use crate::playbook::Playbook;
use crate::roll::{OPENING, for_sheet};
use crate::store::Store;
use crate::store::members::{Effects, LedgerLine};
use chrono::{DateTime, Utc};
use std::path::Path;

/// Imports a roster into community `p`: members as they are, each starting balance as an
/// opening ledger line. With `update`, members already known take the roster's name,
/// dates and starting balance; without it, they refuse the file. All or nothing.
pub fn import<S: Store>(
    roster: &Roster<S>,
    p: &Playbook,
    path: &Path,
    update: bool,
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    let refuse = |problems: Vec<String>| CliError::Refused {
        problems: problems
            .iter()
            .map(|pr| format!("{}: {pr}", path.display()))
            .collect(),
        outcome: NOTHING_IMPORTED,
    };
    let bytes = std::fs::read(path)
        .map_err(|e| refuse(vec![format!("cannot read {}: {e}", path.display())]))?;
    let rows = match crate::roll::read(&bytes) {
        Ok((rows, encoding)) => {
            if let Some(encoding) = encoding {
                eprintln!(
                    "note: {} is not UTF-8: read as {encoding}, as Excel on Chinese Windows \
                     saves \"CSV (逗号分隔)\"",
                    path.display()
                );
            }
            rows
        }
        Err(problems) => return Err(refuse(problems)),
    };
    let community = p.community.id.value.as_str();
    let known = roster.rt.block_on(async {
        Ok::<_, crate::store::StoreError>((
            roster.store.members(community).await?,
            roster.store.all_ledger(community).await?,
        ))
    });
    let (existing, ledger) = known?;
    let openings = ledger
        .iter()
        .filter(|l| l.reason == OPENING)
        .map(|l| (l.member.as_str(), l.points));
    let source = path.display().to_string();
    let import = crate::roll::import(
        community,
        p.community.timezone,
        &rows,
        &existing,
        openings,
        update,
        now,
        &source,
    )
    .map_err(|clash| CliError::Refused {
        problems: vec![clash],
        outcome: NOTHING_IMPORTED,
    })?;
    let effects = Effects {
        ledger: import
            .openings
            .iter()
            .map(|o| LedgerLine {
                community: community.to_string(),
                member: o.member.clone(),
                at: now,
                points: o.points,
                reason: OPENING.into(),
                detail: Some(o.detail.clone()),
                event: None,
            })
            .collect(),
        members: import.members,
        ..Effects::default()
    };
    roster
        .rt
        .block_on(roster.store.write_effects(&effects, now))?;
    let (added, updated) = (import.added, import.updated);
    if update {
        emit(&format!(
            "imported {} members into `{community}`: {added} new, {updated} updated, {} \
             unchanged ({} starting balances written)\n",
            rows.len(),
            rows.len() - added - updated,
            effects.ledger.len()
        ))
    } else {
        emit(&format!(
            "imported {} members into `{community}` ({} with a starting balance)\n",
            rows.len(),
            effects.ledger.len()
        ))
    }
}

/// What a refused roster means.
const NOTHING_IMPORTED: &str = "nothing was imported";

/// Writes every member of the roster's communities as CSV that opens cleanly in Excel:
/// UTF-8 with a byte-order mark, CRLF line ends, text that looks like a formula guarded.
pub fn export<S: Store>(
    roster: &Roster<S>,
    at: DateTime<Utc>,
    output: Option<&Path>,
) -> Result<(), CliError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::from(*b"\xEF\xBB\xBF"));
    let header = [
        "community",
        "id",
        "name",
        "status",
        "points",
        "streak",
        "tier",
        "badges",
        "joined",
        "birthday",
    ];
    let _ = writer.write_record(header);
    let mut count = 0;
    for p in roster.playbooks() {
        let states = roster.states(p)?;
        for state in states {
            let s = summary(p, &state, at);
            let cell = |k: &str| match &s[k] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(x) => for_sheet(x.clone()),
                serde_json::Value::Array(a) => for_sheet(
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                // Points and streaks: numbers stay numbers, a negative balance included.
                other => other.to_string(),
            };
            let _ = writer.write_record(header.map(cell));
            count += 1;
        }
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| usage(&format!("cannot write CSV: {e}")))?;
    match output {
        Some(path) => {
            std::fs::write(path, &bytes)
                .map_err(|e| usage(&format!("cannot write {}: {e}", path.display())))?;
            eprintln!("wrote {count} members to {}", path.display());
            Ok(())
        }
        None => write_out("the output", &bytes),
    }
}
