//! Specs for rosters from spreadsheets (`members import|export|remove`) and for what
//! member- and platform-supplied text may do to a terminal, a spreadsheet or a log: rosters
//! saved by Chinese Excel, updates, removals, escape sequences, formulas, forged log lines.

use crate::common::{Output, drumbeat_in, root, spawn_in};
use std::path::Path;

fn playbook() -> String {
    root()
        .join("tests/fixtures/members/tea-club.yaml")
        .display()
        .to_string()
}

/// `drumbeat ARGS --store sqlite://./state.db` in `dir`.
fn db(dir: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--store", "sqlite://./state.db"]);
    drumbeat_in(dir, all)
}

/// Writes `bytes` as roster.csv in `dir` and imports it (`--playbook` the first time).
fn import(dir: &Path, bytes: &[u8], extra: &[&str]) -> Output {
    std::fs::write(dir.join("roster.csv"), bytes).unwrap();
    let pb = playbook();
    let mut args = vec!["members", "import", "roster.csv"];
    if !dir.join("state.db").exists() {
        args.extend(["--playbook", &pb]);
    }
    args.extend(extra);
    db(dir, &args)
}

fn show_json(dir: &Path, id: &str) -> serde_json::Value {
    let out = db(dir, &["members", "show", id, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Applies JSON-lines events to the tea club at `now`.
fn events(dir: &Path, lines: &[&str], now: &str) -> Output {
    std::fs::write(dir.join("events.jsonl"), lines.join("\n")).unwrap();
    let pb = playbook();
    db(
        dir,
        &["event", &pb, "--input", "events.jsonl", "--now", now],
    )
}

#[test]
fn a_roster_saved_as_gbk_by_chinese_excel_comes_in_readable() {
    let dir = tempfile::tempdir().unwrap();
    // What "CSV (逗号分隔)" on Chinese Windows writes: GBK, Chinese headers, dates as
    // Excel shows them.
    let text = "编号,昵称,入群日期,生日,积分\r\n\
                u-1,小鹿,2026/3/1,5/20,120\r\n\
                u-2,杭州-阿青,2026-10-01,,\r\n";
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "GBK, not UTF-8");
    let out = import(dir.path(), &bytes, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "note: roster.csv is not UTF-8: read as GB18030, as Excel on Chinese Windows saves \"CSV (逗号分隔)\"\n"
    );
    assert_eq!(
        out.stdout,
        "imported 2 members into `tea-club` (1 with a starting balance)\n"
    );
    let m = show_json(dir.path(), "u-1");
    assert_eq!(m["name"], "小鹿");
    assert_eq!(m["joined"], "2026-03-01");
    assert_eq!(m["birthday"], "05-20");
    assert_eq!(m["points"], 120);
    let out = db(dir.path(), &["members", "show", "u-1"]);
    assert!(
        out.stdout.starts_with("小鹿 (u-1) · tea-club · member\n"),
        "{}",
        out.stdout
    );
    assert_eq!(show_json(dir.path(), "u-2")["name"], "杭州-阿青");
}

#[test]
fn chinese_column_names_are_the_english_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = import(
        dir.path(),
        "\u{feff}编号,昵称,积分\r\nu-7,宁波-小白,30\r\n".as_bytes(),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let m = show_json(dir.path(), "u-7");
    assert_eq!(
        (m["name"].as_str(), m["points"].as_i64()),
        (Some("宁波-小白"), Some(30))
    );
    // One column named twice is a mistake, not a choice.
    let out = import(dir.path(), "id,name,昵称\nu-8,a,b\n".as_bytes(), &[]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: roster.csv: line 1: `name` and `昵称` are the same column\n\
         error: nothing was imported\n"
    );
}

#[test]
fn bytes_that_are_neither_utf8_nor_gb18030_are_refused_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = import(dir.path(), b"id,name\r\nu-1,ok\r\nu-2,\xff\xfe\r\n", &[]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: roster.csv: line 3: byte 0xff is neither UTF-8 nor GB18030 (GBK) text: save the roster as \"CSV UTF-8 (逗号分隔)\" and import again\n\
         error: nothing was imported\n"
    );
    // Excel's "Unicode Text" is UTF-16: said so, not read as GB18030 nonsense.
    let utf16: Vec<u8> = "\u{feff}id\tname\r\nu-1\t小鹿\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let out = import(dir.path(), &utf16, &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "error: roster.csv: line 1: the file is UTF-16 (Excel's \"Unicode Text\")"
        ),
        "{}",
        out.stderr
    );
    let listed = db(dir.path(), &["members", "list"]).stdout;
    assert!(listed.ends_with("\n0 members\n"), "{listed}");
}

#[test]
fn update_gives_known_members_the_rosters_name_and_adjusts_their_starting_balance() {
    let dir = tempfile::tempdir().unwrap();
    let first = "id,name,joined,points\nu-1,С¹,2026-10-01,120\nu-2,杭州-阿青,2026-10-02,\n";
    let out = import(dir.path(), first.as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // u-1 earns 100 for a check-in after the import.
    let out = events(
        dir.path(),
        &[
            r#"{"id":"c1","type":"checkin","community":"tea-club","member":"u-1","at":"2026-11-01T08:00:00+08:00"}"#,
        ],
        "2026-11-01T08:00:00+08:00",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // The corrected roster: without --update it is refused whole, with a hint.
    let corrected =
        "id,name,joined,points\nu-1,小鹿,,150\nu-2,杭州-阿青,,\nu-3,温州-大壮,2026-10-03,5\n";
    let out = import(dir.path(), corrected.as_bytes(), &[]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: already in `tea-club`: u-1, u-2 (give --update to change them to the roster's)\n\
         error: nothing was imported\n"
    );
    assert_eq!(show_json(dir.path(), "u-1")["name"], "С¹");

    let out = import(dir.path(), corrected.as_bytes(), &["--update"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "imported 3 members into `tea-club`: 1 new, 1 updated, 1 unchanged (2 starting balances written)\n"
    );
    let m = show_json(dir.path(), "u-1");
    assert_eq!(m["name"], "小鹿");
    // An empty cell keeps what was there.
    assert_eq!(m["joined"], "2026-10-01");
    // The starting balance went from 120 to 150; the check-in's 100 stays.
    assert_eq!(m["points"], 250);
    let ledger = db(dir.path(), &["ledger", "u-1", "--format", "json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&ledger.stdout).unwrap();
    let summary: Vec<(i64, &str)> = lines
        .iter()
        .map(|l| (l["points"].as_i64().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [(120, "opening"), (100, "points"), (30, "opening")]
    );
    assert_eq!(
        lines[2]["detail"],
        "starting balance 120 → 150, imported from roster.csv"
    );
    assert_eq!(show_json(dir.path(), "u-3")["points"], 5);

    // The same roster again changes nothing.
    let out = import(dir.path(), corrected.as_bytes(), &["--update"]);
    assert_eq!(
        out.stdout,
        "imported 3 members into `tea-club`: 0 new, 0 updated, 3 unchanged (0 starting balances written)\n"
    );
    assert_eq!(show_json(dir.path(), "u-1")["points"], 250);
}

#[test]
fn a_removed_member_is_not_listed_but_their_ledger_tells_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let roster = "id,name,points\nu-1,小鹿,120\nu-2,杭州-阿青,\n";
    let out = import(dir.path(), roster.as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let out = db(dir.path(), &["members", "remove", "u-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "removed `u-1` from `tea-club`: no longer listed or counted; their ledger (balance 120) and offences (0) are kept: drumbeat ledger u-1\n"
    );
    let listed = db(dir.path(), &["members", "list"]).stdout;
    assert!(!listed.contains("u-1"), "{listed}");
    assert!(listed.ends_with("\n1 members\n"), "{listed}");
    let board = db(dir.path(), &["leaderboard"]).stdout;
    assert!(!board.contains("u-1"), "{board}");

    let out = db(dir.path(), &["members", "show", "u-1"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: `u-1` was removed from `tea-club` on ")
            && out.stderr.ends_with(
                " (drumbeat members remove); their ledger and offences are kept: drumbeat ledger u-1 --community tea-club\n"
            ),
        "{}",
        out.stderr
    );
    let out = db(dir.path(), &["ledger", "u-1", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let summary: Vec<(i64, &str, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["points"].as_i64().unwrap(),
                l["reason"].as_str().unwrap(),
                l["balance"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [(120, "opening", 120), (0, "removed", 120)]);
    assert_eq!(
        lines[1]["detail"],
        "taken off the roster with `drumbeat members remove`"
    );

    // Removing again, or someone never known, is a clear error.
    let out = db(dir.path(), &["members", "remove", "u-9"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "error: no member `u-9` in the store\n");

    // Imported again, they come back with their ledger: the starting balance is not paid
    // twice.
    let out = import(dir.path(), "id,name,points\nu-1,小鹿,120\n".as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "imported 1 members into `tea-club` (0 with a starting balance)\n"
    );
    assert_eq!(show_json(dir.path(), "u-1")["points"], 120);

    // A later event for a removed member brings them back, as the platform says they are
    // in the group.
    let out = db(dir.path(), &["members", "remove", "u-2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = events(
        dir.path(),
        &[
            r#"{"id":"j2","type":"join","community":"tea-club","member":"u-2","at":"2026-11-01T08:00:00+08:00","data":{"name":"杭州-阿青"}}"#,
        ],
        "2026-11-01T08:00:00+08:00",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = show_json(dir.path(), "u-2");
    assert_eq!(
        (m["status"].as_str(), m["name"].as_str()),
        (Some("member"), Some("杭州-阿青"))
    );
    let listed = db(dir.path(), &["members", "list"]).stdout;
    assert!(listed.ends_with("\n2 members\n"), "{listed}");
}

#[test]
fn names_and_ids_with_terminal_controls_are_shown_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    // A title change, a screen clear, a right-to-left override and a line break that
    // would print a fake row.
    let name = "\u{1b}]0;pwned\u{7}\u{1b}[2J小\u{202e}鹿\nu-9  fake  member";
    let id = "u-\u{1b}[31m1";
    let event = serde_json::json!({
        "id": "e\u{202e}1", "type": "join", "community": "tea-club", "member": id,
        "at": "2026-11-01T08:00:00+08:00", "data": {"name": name},
    });
    let out = events(
        dir.path(),
        &[&event.to_string()],
        "2026-11-01T08:00:00+08:00",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown_name = "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J小\\u{202e}鹿\\nu-9  fake  member";
    let shown_id = "u-\\u{1b}[31m1";
    let clean = |text: &str| {
        for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!text.contains(c), "{c:?} in {text:?}");
        }
    };

    let out = db(dir.path(), &["members", "list"]);
    clean(&out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "a header, one row, a blank, the count: {lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!("tea-club   {shown_id}  {shown_name}  member")),
        "{:?}",
        lines[1]
    );

    let out = db(dir.path(), &["members", "show", id]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    clean(&out.stdout);
    assert!(
        out.stdout
            .starts_with(&format!("{shown_name} ({shown_id}) · tea-club · member\n")),
        "{}",
        out.stdout
    );
    // JSON stays exact: it escapes by itself.
    let m = show_json(dir.path(), id);
    assert_eq!(
        (m["name"].as_str(), m["id"].as_str()),
        (Some(name), Some(id))
    );

    // The welcome the join caused is keyed by the event's id.
    let out = db(dir.path(), &["status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    clean(&out.stdout);
    assert!(
        out.stdout.contains("tea-club/event/e\\u{202e}1/welcome"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_export_guards_text_that_a_spreadsheet_would_run_as_a_formula() {
    let dir = tempfile::tempdir().unwrap();
    let roster = "id,name,joined,points\n\
                  u-1,\"=HYPERLINK(\"\"http://x\"\")\",2026-10-01,-20\n\
                  @u-2,+86 138,2026-10-01,5\n";
    let out = import(dir.path(), roster.as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = db(
        dir.path(),
        &[
            "members",
            "export",
            "--output",
            "out.csv",
            "--at",
            "2026-12-01T22:00:00+08:00",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(dir.path().join("out.csv")).unwrap();
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    // Text cells that start a formula get a leading '; the negative balance stays a number.
    assert_eq!(
        lines[1..3],
        [
            "tea-club,'@u-2,'+86 138,member,5,0,newcomer,,2026-10-01,",
            "tea-club,u-1,\"'=HYPERLINK(\"\"http://x\"\")\",member,-20,0,,,2026-10-01,",
        ]
    );
    // Read back, the guard comes off: the store keeps what was written.
    let out = import(
        dir.path(),
        "id,name\n'@u-2,'=SUM(1)\n".as_bytes(),
        &["--update"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(show_json(dir.path(), "@u-2")["name"], "=SUM(1)");
}

/// A loopback "platform" that answers every request with `body` (HTTP 200, JSON).
fn platform(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as much body as it announces.
            let complete = |got: &[u8]| {
                let text = String::from_utf8_lossy(got);
                let Some(end) = text.find("\r\n\r\n") else {
                    return false;
                };
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                got.len() >= end + 4 + length
            };
            while !complete(&got) {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn a_platforms_error_text_cannot_forge_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = platform(
        r#"{"errcode":93000,"errmsg":"bad\n2026-12-01T00:00:00.000000Z  INFO drumbeat: fake line \u001b[2J"}"#,
    );
    let text = r#"version: 1
community: { id: tea-club, name: 茶友会, kind: service, timezone: Asia/Shanghai }
channels:
  group: { type: wecom, webhook: "${TEA_WEBHOOK}" }
content:
  slots:
    - { id: morning, at: "08:00", template: morning }
templates:
  morning: "早上好"
"#;
    std::fs::write(dir.path().join("tea-club.yaml"), text).unwrap();
    let webhook = format!("http://127.0.0.1:{port}/send");
    let daemon = spawn_in(
        dir.path(),
        [
            "run",
            "--no-watch",
            "tea-club.yaml",
            "--start-at",
            "2026-12-01T07:59:58+08:00",
            "--stop-at",
            "2026-12-01T08:01:00+08:00",
            "--speed",
            "60",
        ],
        &[("TEA_WEBHOOK", webhook.as_str())],
    );
    let (code, _, stderr) = daemon.finish();
    assert_eq!(code, 0, "{stderr}");
    let forged: Vec<&str> = stderr.lines().filter(|l| l.contains("fake line")).collect();
    assert_eq!(forged.len(), 1, "{stderr}");
    assert!(
        forged[0].contains("dead-lettered")
            && forged[0]
                .contains("bad\\n2026-12-01T00:00:00.000000Z  INFO drumbeat: fake line \\u{1b}[2J"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn a_refused_events_id_and_a_draws_winners_are_shown_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let event = serde_json::json!({
        "id": "\u{1b}]0;pwned\u{7}", "type": "no_such_type", "community": "tea-club",
        "member": "u-1", "at": "2026-11-01T08:00:00+08:00",
    });
    let out = events(
        dir.path(),
        &[&event.to_string()],
        "2026-11-01T08:00:00+08:00",
    );
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: event 0 (`\\u{1b}]0;pwned\\u{7}`): `type`: unknown event type"),
        "{}",
        out.stderr
    );

    // A draw among members whose ids hold escape sequences, replayed for an audit.
    let winner = "u-\u{1b}[2J1";
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use drumbeat::store::{Draws, Lifecycle, SqliteStore};
        let s = SqliteStore::open(&url).await.unwrap();
        let draw = drumbeat::store::members::Draw {
            id: "tea-club/weekly/20261204T120000Z".into(),
            community: "tea-club".into(),
            lottery: "weekly".into(),
            at: "2026-12-04T12:00:00Z".parse().unwrap(),
            seed: 7,
            wanted: 1,
            eligible: vec![winner.into()],
            winners: vec![winner.into()],
        };
        assert!(s.save_draw(&draw).await.unwrap());
        s.close().await;
    });
    let out = db(
        dir.path(),
        &["lottery", "replay", "tea-club/weekly/20261204T120000Z"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    assert!(
        out.stdout.contains("recorded u-\\u{1b}[2J1\n"),
        "{}",
        out.stdout
    );
}
