//! `drumbeat members import|export`: a group's roster in and out as CSV.

use crate::cli::CliError;
use crate::cli::common::{emit, usage, visible, write_out};
use crate::cli::members::summary;
use crate::cli::roster::Roster;
use crate::playbook::Playbook;
use crate::rules::{Member, Status};
use crate::schedule::time::resolve_local;
use crate::store::Store;
use crate::store::members::{Effects, LedgerLine};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// The columns an imported roster may have, by their English and Chinese names (a sheet
/// made on Chinese Excel names them in Chinese); `id` is required, the others optional.
const COLUMNS: [(&str, &str); 5] = [
    ("id", "编号"),
    ("name", "昵称"),
    ("joined", "入群日期"),
    ("birthday", "生日"),
    ("points", "积分"),
];

/// The ledger reason of a starting balance (and of its adjustments).
const OPENING: &str = "opening";

/// One good row of a roster. Empty cells are `None`.
struct Row {
    id: String,
    name: Option<String>,
    joined: Option<NaiveDate>,
    birthday: Option<String>,
    points: Option<i64>,
}

/// A roster's bytes as text: UTF-8 (with or without a byte-order mark) as it is; anything
/// else is read as GB18030, the superset of GBK that Excel on Chinese Windows writes for
/// "CSV (逗号分隔)". Answers the text and, when it was not UTF-8, the encoding used.
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<&'static str>), String> {
    // Excel writes a byte-order mark; it is not part of the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(
            "line 1: the file is UTF-16 (Excel's \"Unicode Text\"), not CSV: save it \
                    as \"CSV UTF-8 (逗号分隔)\" and import again"
                .into(),
        );
    }
    let utf8_at = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok((Cow::Borrowed(text), None)),
        Err(e) => e.valid_up_to(),
    };
    let gb18030 = encoding_rs::GB18030;
    if let Some(text) = gb18030.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok((Cow::Owned(text.into_owned()), Some("GB18030")));
    }
    // Neither: point at the byte where the encoding that reads further stops, since the
    // file is most likely in that one.
    let mut decoder = gb18030.new_decoder_without_bom_handling();
    let mut sink = String::with_capacity(bytes.len() * 3 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut sink, true);
    let gb_at = match result {
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            read.saturating_sub(usize::from(bad) + usize::from(after))
        }
        _ => bytes.len(),
    };
    let at = utf8_at.max(gb_at).min(bytes.len().saturating_sub(1));
    let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
    Err(format!(
        "line {line}: byte {:#04x} is neither UTF-8 nor GB18030 (GBK) text: save the roster \
         as \"CSV UTF-8 (逗号分隔)\" and import again",
        bytes[at]
    ))
}

/// A date cell as Excel may write it (`2026-03-01`, `2026/3/1`, `3/1`) in the form the
/// store keeps (`2026-03-01`, `03-01`); anything else as it was.
fn date_cell(s: &str) -> Cow<'_, str> {
    let parts: Vec<&str> = s.split(['-', '/']).collect();
    let numbers = parts
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
    match (numbers, parts.as_slice()) {
        (true, [y, m, d]) if y.len() == 4 => Cow::Owned(format!("{y}-{m:0>2}-{d:0>2}")),
        (true, [m, d]) if m.len() <= 2 => Cow::Owned(format!("{m:0>2}-{d:0>2}")),
        _ => Cow::Borrowed(s),
    }
}

/// A text cell as it was before `export` guarded it for spreadsheets (see [`for_sheet`]).
fn unguarded(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) => rest,
        _ => s,
    }
}

/// Reads a roster whole; every bad row is reported by its line, and one bad row refuses
/// the file. Answers the rows and, when the file was not UTF-8, the encoding it was read in.
fn read(path: &Path) -> Result<(Vec<Row>, Option<&'static str>), Vec<String>> {
    let bytes =
        std::fs::read(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    let (text, encoding) = decode(&bytes).map_err(|e| vec![e])?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_lowercase()).collect(),
        Err(e) => return Err(vec![format!("line 1: {e}")]),
    };
    let mut problems = Vec::new();
    // Each column's English name, whichever name the file gave it.
    let mut named: Vec<Option<&str>> = Vec::new();
    for (i, c) in header.iter().enumerate() {
        let known = COLUMNS
            .iter()
            .find(|(en, zh)| c == en || c == zh)
            .map(|(en, _)| *en);
        match known {
            None => problems.push(format!(
                "line 1: unknown column `{}` (the columns are {})",
                visible(c),
                COLUMNS
                    .iter()
                    .map(|(en, zh)| format!("{en} ({zh})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(en) if named.contains(&Some(en)) => problems.push(format!(
                "line 1: `{}` and `{}` are the same column",
                visible(&header[named.iter().position(|n| *n == Some(en)).unwrap_or(i)]),
                visible(c)
            )),
            Some(_) => {}
        }
        named.push(known);
    }
    let col = |name: &str| named.iter().position(|c| *c == Some(name));
    let Some(id_col) = col("id") else {
        problems.push("line 1: no `id` (编号) column".into());
        return Err(problems);
    };
    let mut rows = Vec::new();
    let mut seen = HashMap::new();
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
        let id = unguarded(record.get(id_col).map(str::trim).unwrap_or_default()).to_string();
        if id.is_empty() {
            bad("`id` is empty".into());
            continue;
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            bad(format!("`{}` is already on line {first}", visible(&id)));
            continue;
        }
        let joined = match get("joined") {
            None => None,
            Some(d) => match NaiveDate::parse_from_str(&date_cell(d), "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    bad(format!("`joined` {d:?} is not a date (YYYY-MM-DD)"));
                    continue;
                }
            },
        };
        let birthday = get("birthday").map(|b| date_cell(b).into_owned());
        if let Some(b) = &birthday
            && crate::events::birthday(b).is_none()
        {
            bad(format!(
                "`birthday` {:?} is not a birthday (MM-DD or YYYY-MM-DD)",
                get("birthday").unwrap_or_default()
            ));
            continue;
        }
        let points = match get("points").map(|p| (p, p.parse::<i64>())) {
            None => None,
            Some((_, Ok(p))) => Some(p),
            Some((p, Err(_))) => {
                bad(format!("`points` {p:?} is not a whole number"));
                continue;
            }
        };
        rows.push(Row {
            id,
            name: get("name").map(|n| unguarded(n).to_string()),
            joined,
            birthday,
            points,
        });
    }
    if problems.is_empty() {
        Ok((rows, encoding))
    } else {
        Err(problems)
    }
}

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
    let rows = match read(path) {
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
    let tz = p.community.timezone;
    let known = roster.rt.block_on(async {
        Ok::<_, crate::store::StoreError>((
            roster.store.members(community).await?,
            roster.store.all_ledger(community).await?,
        ))
    });
    let (existing, ledger) = known?;
    let existing: HashMap<&str, &Member> = existing.iter().map(|m| (m.id.as_str(), m)).collect();
    if !update {
        let clashes: Vec<Cow<'_, str>> = rows
            .iter()
            .filter(|r| existing.contains_key(r.id.as_str()))
            .map(|r| visible(&r.id))
            .collect();
        if !clashes.is_empty() {
            return Err(CliError::Refused {
                problems: vec![format!(
                    "already in `{community}`: {} (give --update to change them to the roster's)",
                    clashes.join(", ")
                )],
                outcome: NOTHING_IMPORTED,
            });
        }
    }
    // Each member's starting balance so far: the sum of their opening lines (a member
    // removed and imported again has theirs still).
    let mut opening: HashMap<&str, i64> = HashMap::new();
    for l in ledger.iter().filter(|l| l.reason == OPENING) {
        *opening.entry(l.member.as_str()).or_default() += l.points;
    }
    let mut effects = Effects::default();
    let (mut added, mut updated) = (0, 0);
    for r in &rows {
        let joined = r
            .joined
            .map(|d| resolve_local(tz, d.and_time(NaiveTime::MIN)));
        let m = match existing.get(r.id.as_str()) {
            Some(old) => {
                let mut m = (*old).clone();
                m.name = r.name.clone().or(m.name);
                m.joined_at = joined.or(m.joined_at);
                m.birthday = r.birthday.clone().or(m.birthday);
                m
            }
            None => {
                let mut m = Member::new(community, &r.id, Status::Member);
                m.name = r.name.clone();
                m.joined_at = Some(joined.unwrap_or(now));
                m.birthday = r.birthday.clone();
                m
            }
        };
        let before = opening.get(r.id.as_str()).copied().unwrap_or(0);
        let wanted = match (r.points, existing.contains_key(r.id.as_str())) {
            (Some(p), _) => p,
            // A member new to the roster starts at 0; one known keeps what they had.
            (None, false) => 0,
            (None, true) => before,
        };
        if wanted != before {
            effects.ledger.push(LedgerLine {
                community: community.to_string(),
                member: r.id.clone(),
                at: now,
                points: wanted - before,
                reason: OPENING.into(),
                detail: Some(match before {
                    0 => format!("imported from {}", path.display()),
                    _ => format!(
                        "starting balance {before} → {wanted}, imported from {}",
                        path.display()
                    ),
                }),
                event: None,
            });
        }
        match existing.get(r.id.as_str()) {
            None => added += 1,
            Some(old) if **old != m || wanted != before => updated += 1,
            Some(_) => {}
        }
        effects.members.push(m);
    }
    roster
        .rt
        .block_on(roster.store.write_effects(&effects, now))?;
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

/// What starts a formula in a spreadsheet cell (OWASP's list).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell made safe for a spreadsheet: one that a spreadsheet would take for a
/// formula (`=HYPERLINK(…)`, `+`, `-`, `@`, a tab or a carriage return first) gets a
/// leading `'`, so it is shown as text. Numbers never pass through here.
fn for_sheet(s: String) -> String {
    if s.starts_with(FORMULA_START) {
        format!("'{s}")
    } else {
        s
    }
}

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
