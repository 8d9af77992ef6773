//! A group's roster as a spreadsheet: the rules of importing one (columns in English or
//! Chinese, text as Excel on Chinese Windows saves it, dates as Excel writes them, every bad
//! row reported by its line, starting balances as opening ledger lines) and of exporting
//! one safely (formulas guarded). Pure: bytes and members in, members and lines out; the
//! `members import` and `members export` commands read and write the files and the store.

use crate::diag::visible;
use crate::rules::{Member, Status};
use crate::schedule::time::resolve_local;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use std::borrow::Cow;
use std::collections::HashMap;

/// The columns an imported roster may have, by their English and Chinese names (a sheet
/// made on Chinese Excel names them in Chinese); `id` is required, the others optional.
pub const COLUMNS: [(&str, &str); 5] = [
    ("id", "编号"),
    ("name", "昵称"),
    ("joined", "入群日期"),
    ("birthday", "生日"),
    ("points", "积分"),
];

/// The ledger reason of a starting balance (and of its adjustments).
pub const OPENING: &str = "opening";

/// One good row of a roster. Empty cells are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub name: Option<String>,
    pub joined: Option<NaiveDate>,
    pub birthday: Option<String>,
    pub points: Option<i64>,
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

/// Reads a roster's bytes whole; every bad row is reported by its line, and one bad row
/// refuses the file. Answers the rows and, when the file was not UTF-8, the encoding it was
/// read in.
pub fn read(bytes: &[u8]) -> Result<(Vec<Row>, Option<&'static str>), Vec<String>> {
    let (text, encoding) = decode(bytes).map_err(|e| vec![e])?;
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

/// A starting balance written, or changed, by an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub member: String,
    /// The change: the new starting balance less the one before.
    pub points: i64,
    pub detail: String,
}

/// What importing a roster changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    /// Every member of the roster as they are to be stored.
    pub members: Vec<Member>,
    pub openings: Vec<Opening>,
    /// Members new to the community.
    pub added: usize,
    /// Members known before whose row or starting balance changed.
    pub updated: usize,
}

/// Imports `rows` into `community` (in zone `tz`) at `now`: members as they are, each
/// starting balance as an opening line. `existing` are the community's members; `openings`
/// the (member, points) of its opening ledger lines so far. With `update`, members already
/// known take the roster's name, dates and starting balance; without it, a roster naming
/// one is refused with the ids that clash. `source` names the file in the lines' detail.
#[allow(clippy::too_many_arguments)]
pub fn import<'a>(
    community: &str,
    tz: Tz,
    rows: &[Row],
    existing: &[Member],
    openings: impl IntoIterator<Item = (&'a str, i64)>,
    update: bool,
    now: DateTime<Utc>,
    source: &str,
) -> Result<Import, String> {
    let existing: HashMap<&str, &Member> = existing.iter().map(|m| (m.id.as_str(), m)).collect();
    if !update {
        let clashes: Vec<Cow<'_, str>> = rows
            .iter()
            .filter(|r| existing.contains_key(r.id.as_str()))
            .map(|r| visible(&r.id))
            .collect();
        if !clashes.is_empty() {
            return Err(format!(
                "already in `{community}`: {} (give --update to change them to the roster's)",
                clashes.join(", ")
            ));
        }
    }
    // Each member's starting balance so far: the sum of their opening lines (a member
    // removed and imported again has theirs still).
    let mut opening: HashMap<&str, i64> = HashMap::new();
    for (member, points) in openings {
        *opening.entry(member).or_default() += points;
    }
    let mut out = Import::default();
    for r in rows {
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
            out.openings.push(Opening {
                member: r.id.clone(),
                points: wanted - before,
                detail: match before {
                    0 => format!("imported from {source}"),
                    _ => format!("starting balance {before} → {wanted}, imported from {source}"),
                },
            });
        }
        match existing.get(r.id.as_str()) {
            None => out.added += 1,
            Some(old) if **old != m || wanted != before => out.updated += 1,
            Some(_) => {}
        }
        out.members.push(m);
    }
    Ok(out)
}

/// What starts a formula in a spreadsheet cell (OWASP's list).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell made safe for a spreadsheet: one that a spreadsheet would take for a
/// formula (`=HYPERLINK(…)`, `+`, `-`, `@`, a tab or a carriage return first) gets a
/// leading `'`, so it is shown as text. Numbers never pass through here.
pub fn for_sheet(s: String) -> String {
    if s.starts_with(FORMULA_START) {
        format!("'{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_roster_saved_by_chinese_excel_is_read_with_its_chinese_columns() {
        let text = "编号,昵称,入群日期,生日,积分\r\nu-1,杭州-阿青,2026/3/1,5/20,120\r\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let (rows, encoding) = read(&gbk).unwrap();
        assert_eq!(encoding, Some("GB18030"));
        let r = &rows[0];
        assert_eq!(r.id, "u-1");
        assert_eq!(r.name.as_deref(), Some("杭州-阿青"));
        assert_eq!(r.joined, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(r.birthday.as_deref(), Some("05-20"));
        assert_eq!(r.points, Some(120));
    }

    #[test]
    fn every_bad_row_is_reported_by_its_line() {
        let text = "id,points,joined\nu-1,ten,\nu-1,1,\n,2,\nu-2,3,yesterday\n";
        let problems = read(text.as_bytes()).unwrap_err();
        assert_eq!(
            problems,
            [
                "line 2: `points` \"ten\" is not a whole number",
                "line 3: `u-1` is already on line 2",
                "line 4: `id` is empty",
                "line 5: `joined` \"yesterday\" is not a date (YYYY-MM-DD)",
            ]
        );
    }

    #[test]
    fn an_import_without_update_refuses_members_already_known() {
        let rows = read("id,points\nu-1,5\nu-2,7\n".as_bytes()).unwrap().0;
        let known = [Member::new("club", "u-2", Status::Member)];
        let tz = chrono_tz::Asia::Shanghai;
        let now = t("2026-12-01T00:00:00Z");
        let err = import("club", tz, &rows, &known, [], false, now, "r.csv").unwrap_err();
        assert!(err.starts_with("already in `club`: u-2"), "{err}");
        // With update, u-2's starting balance moves from 3 to 7: one line of +4.
        let done = import("club", tz, &rows, &known, [("u-2", 3)], true, now, "r.csv").unwrap();
        assert_eq!((done.added, done.updated), (1, 1));
        assert_eq!(
            done.openings,
            [
                Opening {
                    member: "u-1".into(),
                    points: 5,
                    detail: "imported from r.csv".into()
                },
                Opening {
                    member: "u-2".into(),
                    points: 4,
                    detail: "starting balance 3 → 7, imported from r.csv".into()
                },
            ]
        );
        // A new member's joining date is local midnight of the day given, else now.
        assert_eq!(done.members[0].joined_at, Some(now));
    }

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_guarded_and_read_back() {
        assert_eq!(for_sheet("=HYPERLINK(1)".into()), "'=HYPERLINK(1)");
        assert_eq!(for_sheet("阿青".into()), "阿青");
        let (rows, _) = read("id,name\n'=1+1,'@x\n".as_bytes()).unwrap();
        assert_eq!(rows[0].id, "=1+1");
        assert_eq!(rows[0].name.as_deref(), Some("@x"));
    }
}
