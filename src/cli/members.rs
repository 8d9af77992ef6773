//! `drumbeat members list|show ID`

use crate::cli::common::emit;
use crate::cli::roster::{Format, Roster};
use crate::playbook::Playbook;
use crate::rules::engine::State;
use crate::schedule::format::columns;
use crate::store::{DEFAULT_URL, Store};
use chrono::Utc;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

/// Members with their points, streak, tier, badges and offences.
///
/// Read from the store the daemon (or `drumbeat event`) writes; balances, streaks, tiers and
/// badges are derived from the ledger and events with the playbook each community runs.
///
/// Examples:
///   drumbeat members list
///   drumbeat members show u-1024 --format json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
    #[arg(long, global = true, default_value = DEFAULT_URL)]
    pub store: String,
    /// Only this community.
    #[arg(long, global = true)]
    pub community: Option<String>,
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The instant streaks and stats are counted at (RFC 3339; default now).
    #[arg(long, global = true)]
    pub at: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Every member, by community and id.
    List,
    /// One member in full: profile, points, streak, tier, badges, offences.
    Show { id: String },
    /// Bring in an existing group's roster from CSV: columns id (required), name, joined
    /// (YYYY-MM-DD), birthday (MM-DD or YYYY-MM-DD), points (a starting balance). Every bad
    /// row is reported by line, and then nothing is imported.
    Import {
        file: PathBuf,
        /// The community's playbook, when the store does not know it yet.
        #[arg(long)]
        playbook: Option<PathBuf>,
    },
    /// Write every member as CSV for spreadsheets (UTF-8 with a byte-order mark, so Excel
    /// shows Chinese names right).
    Export {
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> ExitCode {
    if let Action::Import {
        playbook: Some(path),
        ..
    } = &args.action
        && let Err(code) = keep_playbook(&args.store, path)
    {
        return code;
    }
    let roster = match Roster::open(&args.store, args.community.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let at = match args.at.as_deref().map(chrono::DateTime::parse_from_rfc3339) {
        None => Utc::now(),
        Some(Ok(t)) => t.with_timezone(&Utc),
        Some(Err(_)) => {
            return crate::cli::common::usage(
                "--at: write an RFC 3339 instant (2026-12-01T20:00:00+08:00)",
            );
        }
    };
    let result = match &args.action {
        Action::List => list(&roster, args.format, at),
        Action::Show { id } => show(&roster, id, args.format, at),
        Action::Import { file, .. } => match roster.playbooks.as_slice() {
            [p] => match crate::cli::roll::import(&roster, p, file, Utc::now()) {
                ExitCode::SUCCESS => Ok(()),
                code => Err(code),
            },
            [] => Err(crate::cli::common::usage(
                "the store knows no community yet: give --playbook PATH",
            )),
            _ => Err(crate::cli::common::usage(
                "the store knows several communities: give --community ID",
            )),
        },
        Action::Export { output } => {
            match crate::cli::roll::export(&roster, at, output.as_deref()) {
                ExitCode::SUCCESS => Ok(()),
                code => Err(code),
            }
        }
    };
    roster.rt.block_on(roster.store.close());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// The summary of one member, as `show --format json` prints it (and `list` per row).
pub fn summary(p: &Playbook, state: &State, at: chrono::DateTime<Utc>) -> Value {
    let member = state.member_value(p);
    let stats = state.stats(p, at);
    json!({
        "community": p.community.id.value.as_str(),
        "id": state.member.id,
        "name": member["name"],
        "status": state.member.status.as_str(),
        "points": state.ledger.balance,
        "streak": stats.streak,
        "tier": member["tier"]["id"],
        "badges": member["badges"],
        "joined": member["joined"],
        "birthday": state.member.birthday,
    })
}

fn list(roster: &Roster, format: Format, at: chrono::DateTime<Utc>) -> Result<(), ExitCode> {
    let mut all = Vec::new();
    for p in &roster.playbooks {
        for state in roster.states(p)? {
            all.push(summary(p, &state, at));
        }
    }
    match format {
        Format::Json => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&all).unwrap_or_default()
        )),
        Format::Table => {
            let text = |v: &Value| match v {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                Value::Array(a) if a.is_empty() => "-".to_string(),
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            let mut rows = vec![
                [
                    "COMMUNITY",
                    "ID",
                    "NAME",
                    "STATUS",
                    "POINTS",
                    "STREAK",
                    "TIER",
                    "BADGES",
                    "JOINED",
                ]
                .map(String::from),
            ];
            for m in &all {
                rows.push(
                    [
                        "community",
                        "id",
                        "name",
                        "status",
                        "points",
                        "streak",
                        "tier",
                        "badges",
                        "joined",
                    ]
                    .map(|k| text(&m[k])),
                );
            }
            let mut out = String::new();
            columns(&mut out, &rows);
            out.push_str(&format!("\n{} members\n", all.len()));
            emit(&out);
        }
    }
    Ok(())
}

fn show(
    roster: &Roster,
    id: &str,
    format: Format,
    at: chrono::DateTime<Utc>,
) -> Result<(), ExitCode> {
    let p = roster.find(id)?;
    let state = roster.state(p, id)?;
    let community = p.community.id.value.as_str();
    let offences = roster
        .rt
        .block_on(roster.store.offences(community, id))
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        })?;
    let mut m = summary(p, &state, at);
    let tz = p.community.timezone;
    m["offences"] = Value::Array(
        offences
            .iter()
            .map(|o| {
                json!({"rule": o.rule, "n": o.n, "penalty": o.penalty, "action": o.action,
                       "at": o.at.with_timezone(&tz).to_rfc3339(), "event": o.event})
            })
            .collect(),
    );
    m["profile"] = state.member.profile.clone();
    m["referrer"] = json!(state.member.referrer);
    match format {
        Format::Json => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&m).unwrap_or_default()
        )),
        Format::Table => {
            let s = |k: &str| match &m[k] {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                Value::Array(a) if a.is_empty() => "-".to_string(),
                other => other.to_string(),
            };
            let mut out = format!(
                "{} ({}) · {} · {}\n",
                s("name"),
                s("id"),
                community,
                s("status")
            );
            for (label, key) in [
                ("points", "points"),
                ("streak", "streak"),
                ("tier", "tier"),
                ("badges", "badges"),
                ("joined", "joined"),
                ("birthday", "birthday"),
                ("referrer", "referrer"),
            ] {
                out.push_str(&format!("  {label:<9} {}\n", s(key)));
            }
            if offences.is_empty() {
                out.push_str("  offences  none\n");
            } else {
                out.push_str("  offences\n");
                for o in &offences {
                    out.push_str(&format!(
                        "    {}  {} #{} → {} ({})\n",
                        o.at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                        o.rule,
                        o.n,
                        o.penalty,
                        o.action
                    ));
                }
            }
            emit(&out);
        }
    }
    Ok(())
}

/// Loads a playbook and keeps it in the store (creating the store if needed), so that an
/// import can come before the first run.
fn keep_playbook(url: &str, path: &std::path::Path) -> Result<(), ExitCode> {
    let p = crate::cli::common::load_one(path, "imported into")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::cli::common::usage(&format!("cannot read {}: {e}", path.display())))?;
    let rt = crate::cli::common::small_runtime()?;
    rt.block_on(async {
        let store = crate::store::open(url).await?;
        store
            .save_playbooks(
                &[(
                    p.community.id.value.to_string(),
                    path.display().to_string(),
                    text,
                )],
                Utc::now(),
            )
            .await?;
        store.close().await;
        Ok::<_, crate::store::StoreError>(())
    })
    .map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })
}
