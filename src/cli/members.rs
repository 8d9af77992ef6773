//! `drumbeat members list|show ID`

use crate::cli::CliError;
use crate::cli::common::{emit, now, usage};
use crate::cli::roster::{Format, REMOVED, Roster};
use crate::diag::visible;
use crate::plan::format::columns;
use crate::playbook::Playbook;
use crate::rules::engine::State;
use crate::store::members::LedgerLine;
use crate::store::{DEFAULT_URL, KeptPlaybook, Lifecycle, PlaybookArchive, Store};
use chrono::Utc;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Members with their points, streak, tier, badges and offences.
///
/// Read from the store the daemon (or `drumbeat event`) writes; balances, streaks, tiers and
/// badges are derived from the ledger and events with the playbook each community runs.
///
/// Examples:
///   drumbeat members list
///   drumbeat members show u-1024 --format json
///   drumbeat members import roster.csv --update
///   drumbeat members remove u-1024
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
    /// (YYYY-MM-DD), birthday (MM-DD or YYYY-MM-DD), points (a starting balance), or in
    /// Chinese 编号, 昵称, 入群日期, 生日, 积分. UTF-8, or GB18030/GBK as Excel on Chinese
    /// Windows saves it. Every bad row is reported by line, and then nothing is imported.
    Import {
        file: PathBuf,
        /// The community's playbook, when the store does not know it yet.
        #[arg(long)]
        playbook: Option<PathBuf>,
        /// Members already known take the roster's name, dates and starting balance (an
        /// empty cell keeps what they had); without it they refuse the file.
        #[arg(long)]
        update: bool,
    },
    /// Take a member off the roster: no longer listed, ranked, drawn or swept. Their
    /// ledger, events and offences are kept, and the ledger records the removal; a later
    /// event for them brings them back.
    Remove { id: String },
    /// Write every member as CSV for spreadsheets (UTF-8 with a byte-order mark, so Excel
    /// shows Chinese names right).
    Export {
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub fn run<S: Store>(args: Args) -> Result<(), CliError> {
    if let Action::Import {
        playbook: Some(path),
        ..
    } = &args.action
    {
        keep_playbook::<S>(&args.store, path)?;
    }
    let roster = Roster::<S>::open(&args.store, args.community.as_deref())?;
    let at = match args.at.as_deref().map(chrono::DateTime::parse_from_rfc3339) {
        None => Utc::now(),
        Some(Ok(t)) => t.with_timezone(&Utc),
        Some(Err(_)) => {
            return Err(usage(
                "--at: write an RFC 3339 instant (2026-12-01T20:00:00+08:00)",
            ));
        }
    };
    let result = match &args.action {
        Action::List => list(&roster, args.format, at),
        Action::Show { id } => show(&roster, id, args.format, at),
        Action::Import { file, update, .. } => match roster.playbooks().as_slice() {
            [p] => crate::cli::roll::import(&roster, p, file, *update, Utc::now()),
            [] => Err(usage(
                "the store knows no community yet: give --playbook PATH",
            )),
            _ => Err(usage(
                "the store knows several communities: give --community ID",
            )),
        },
        Action::Remove { id } => remove(&roster, id),
        Action::Export { output } => crate::cli::roll::export(&roster, at, output.as_deref()),
    };
    roster.rt.block_on(roster.store.close());
    result
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

fn list<S: Store>(
    roster: &Roster<S>,
    format: Format,
    at: chrono::DateTime<Utc>,
) -> Result<(), CliError> {
    let mut all = Vec::new();
    for p in roster.playbooks() {
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
                Value::String(s) => visible(s).into_owned(),
                Value::Array(a) if a.is_empty() => "-".to_string(),
                Value::Array(a) => a
                    .iter()
                    .map(|x| visible(x.as_str().unwrap_or_default()).into_owned())
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
            emit(&out)
        }
    }
}

fn show<S: Store>(
    roster: &Roster<S>,
    id: &str,
    format: Format,
    at: chrono::DateTime<Utc>,
) -> Result<(), CliError> {
    let p = roster.find(id)?;
    let state = roster.state(p, id)?;
    let community = p.community.id.value.as_str();
    let offences = roster.rt.block_on(roster.store.offences(community, id))?;
    let mut m = summary(p, &state, at);
    let tz = p.community.timezone;
    m["offences"] = Value::Array(
        offences
            .iter()
            .map(|o| {
                json!({"rule": o.rule, "n": o.n, "penalty": o.penalty.to_string(), "action": o.action.as_str(),
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
                Value::String(s) => visible(s).into_owned(),
                Value::Array(a) if a.is_empty() => "-".to_string(),
                // Badge ids come from the playbook; JSON text escapes controls anyway.
                other => visible(&other.to_string()).into_owned(),
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
                        visible(&o.rule),
                        o.n,
                        o.penalty,
                        o.action.as_str()
                    ));
                }
            }
            emit(&out)
        }
    }
}

/// Takes a member off their community's roster; what they did stays on record.
fn remove<S: Store>(roster: &Roster<S>, id: &str) -> Result<(), CliError> {
    let p = roster.find(id)?;
    let community = p.community.id.value.as_str();
    let (lines, offences) = roster.rt.block_on(async {
        Ok::<_, crate::store::StoreError>((
            roster.store.ledger(community, id).await?,
            roster.store.offences(community, id).await?,
        ))
    })?;
    let record = LedgerLine {
        community: community.to_string(),
        member: id.to_string(),
        at: now(),
        points: 0,
        reason: REMOVED.into(),
        detail: Some("taken off the roster with `drumbeat members remove`".into()),
        event: None,
    };
    let shown = visible(id);
    if !roster
        .rt
        .block_on(roster.store.remove_member(community, id, &record))?
    {
        // Gone between the look-up and now.
        return Err(usage(&format!("no member `{shown}` in `{community}`")));
    }
    let balance: i64 = lines.iter().map(|l| l.points).sum();
    emit(&format!(
        "removed `{shown}` from `{community}`: no longer listed or counted; their ledger \
         (balance {balance}) and offences ({}) are kept: drumbeat ledger {shown}\n",
        offences.len()
    ))
}

/// Loads a playbook and keeps it in the store (creating the store if needed), so that an
/// import can come before the first run.
fn keep_playbook<S: Lifecycle + PlaybookArchive>(
    url: &str,
    path: &std::path::Path,
) -> Result<(), CliError> {
    let p = crate::cli::common::load_one(path, "imported into")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(&format!("cannot read {}: {e}", path.display())))?;
    let rt = crate::cli::common::small_runtime()?;
    rt.block_on(async {
        let store = S::open(url).await?;
        let kept = KeptPlaybook {
            community: p.id().to_string(),
            path: path.display().to_string(),
            source: text,
        };
        store.save_playbooks(&[kept], Utc::now()).await?;
        store.close().await;
        Ok::<_, crate::store::StoreError>(())
    })?;
    Ok(())
}
