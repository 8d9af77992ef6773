//! `drumbeat members import|export`: a group's roster in and out as CSV.

use crate::cli::common::{emit, usage};
use crate::cli::members::summary;
use crate::cli::roster::Roster;
use crate::playbook::Playbook;
use crate::rules::{Member, Status};
use crate::schedule::time::resolve_local;
use crate::store::Store;
use crate::store::members::{Effects, LedgerLine};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::path::Path;
use std::process::ExitCode;

/// The columns an imported roster may have; `id` is required, the others optional.
const COLUMNS: [&str; 5] = ["id", "name", "joined", "birthday", "points"];

/// One good row of a roster.
struct Row {
    id: String,
    name: Option<String>,
    joined: Option<NaiveDate>,
    birthday: Option<String>,
    points: i64,
}

/// Reads a roster whole; every bad row is reported by its line, and one bad row refuses
/// the file.
fn read(path: &Path) -> Result<Vec<Row>, Vec<String>> {
    let bytes =
        std::fs::read(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    // Excel writes a byte-order mark; it is not part of the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_lowercase()).collect(),
        Err(e) => return Err(vec![format!("line 1: {e}")]),
    };
    let mut problems = Vec::new();
    for c in &header {
        if !COLUMNS.contains(&c.as_str()) {
            problems.push(format!(
                "line 1: unknown column `{c}` (the columns are {})",
                COLUMNS.join(", ")
            ));
        }
    }
    let col = |name: &str| header.iter().position(|c| c == name);
    let Some(id_col) = col("id") else {
        problems.push("line 1: no `id` column".into());
        return Err(problems);
    };
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |name: &str| {
            col(name)
                .and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let mut bad = |what: String| problems.push(format!("line {line}: {what}"));
        let id = record
            .get(id_col)
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            bad("`id` is empty".into());
            continue;
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            bad(format!("`{id}` is already on line {first}"));
            continue;
        }
        let joined = match get("joined").map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => {
                bad(format!(
                    "`joined` {:?} is not a date (YYYY-MM-DD)",
                    get("joined").unwrap_or_default()
                ));
                continue;
            }
        };
        let birthday = get("birthday").map(str::to_string);
        if let Some(b) = &birthday
            && crate::events::birthday(b).is_none()
        {
            bad(format!(
                "`birthday` {b:?} is not a birthday (MM-DD or YYYY-MM-DD)"
            ));
            continue;
        }
        let points = match get("points").map(str::parse::<i64>) {
            None => 0,
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                bad(format!(
                    "`points` {:?} is not a whole number",
                    get("points").unwrap_or_default()
                ));
                continue;
            }
        };
        rows.push(Row {
            id,
            name: get("name").map(str::to_string),
            joined,
            birthday,
            points,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Imports a roster into community `p`: members as they are, each starting balance as an
/// opening ledger line. All or nothing.
pub fn import(roster: &Roster, p: &Playbook, path: &Path, now: DateTime<Utc>) -> ExitCode {
    let rows = match read(path) {
        Ok(rows) => rows,
        Err(problems) => {
            for pr in problems {
                eprintln!("error: {}: {pr}", path.display());
            }
            eprintln!("error: nothing was imported");
            return ExitCode::from(1);
        }
    };
    let community = p.community.id.value.as_str();
    let tz = p.community.timezone;
    let existing = match roster.rt.block_on(roster.store.members(community)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let known: std::collections::HashSet<&str> = existing.iter().map(|m| m.id.as_str()).collect();
    let clashes: Vec<&str> = rows
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| known.contains(id))
        .collect();
    if !clashes.is_empty() {
        eprintln!(
            "error: already in `{community}`: {} (an import never changes a member twice)",
            clashes.join(", ")
        );
        eprintln!("error: nothing was imported");
        return ExitCode::from(1);
    }
    let mut effects = Effects::default();
    for r in &rows {
        let joined = r
            .joined
            .map(|d| resolve_local(tz, d.and_time(NaiveTime::MIN)));
        let mut m = Member::new(community, &r.id, Status::Member);
        m.name = r.name.clone();
        m.joined_at = Some(joined.unwrap_or(now));
        m.birthday = r.birthday.clone();
        effects.members.push(m);
        if r.points != 0 {
            effects.ledger.push(LedgerLine {
                community: community.to_string(),
                member: r.id.clone(),
                at: now,
                points: r.points,
                reason: "opening".into(),
                detail: Some(format!("imported from {}", path.display())),
                event: None,
            });
        }
    }
    if let Err(e) = roster
        .rt
        .block_on(roster.store.write_effects(&effects, now))
    {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    emit(&format!(
        "imported {} members into `{community}` ({} with a starting balance)\n",
        rows.len(),
        effects.ledger.len()
    ));
    ExitCode::SUCCESS
}

/// Writes every member of the roster's communities as CSV that opens cleanly in Excel:
/// UTF-8 with a byte-order mark, CRLF line ends.
pub fn export(roster: &Roster, at: DateTime<Utc>, output: Option<&Path>) -> ExitCode {
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
    for p in &roster.playbooks {
        let states = match roster.states(p) {
            Ok(s) => s,
            Err(code) => return code,
        };
        for state in states {
            let s = summary(p, &state, at);
            let cell = |k: &str| match &s[k] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(x) => x.clone(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            let _ = writer.write_record(header.map(cell));
            count += 1;
        }
    }
    let bytes = match writer.into_inner() {
        Ok(b) => b,
        Err(e) => return usage(&format!("cannot write CSV: {e}")),
    };
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &bytes) {
                return usage(&format!("cannot write {}: {e}", path.display()));
            }
            eprintln!("wrote {count} members to {}", path.display());
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&bytes).and_then(|_| out.flush());
        }
    }
    ExitCode::SUCCESS
}
