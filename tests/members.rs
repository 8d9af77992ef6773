//! Specs for members: events in through `drumbeat event`, what they earn and cause, and
//! what `members`, `ledger` and `leaderboard` show. Every event carries its own instant and
//! every command that counts days is given `--at`.

use crate::common::{drumbeat_in, root};
use drumbeat::store::{Lifecycle, Members, OutboxStatus, SqliteStore, State};
use std::path::Path;

fn playbook() -> String {
    root()
        .join("tests/fixtures/members/tea-club.yaml")
        .display()
        .to_string()
}

/// Applies events (JSON lines) to the tea club with the store in `dir`.
/// `drumbeat event` with `lines`, each taken in as of its own instant or a little before
/// (so each caused message is due at its own event's instant): the lines go in runs that
/// span at most a day, each as of its earliest event, as a forwarder would send them.
fn events(dir: &Path, lines: &[&str]) -> crate::common::Output {
    let at = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str()?).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let mut runs: Vec<(chrono::DateTime<chrono::Utc>, Vec<&str>)> = Vec::new();
    for line in lines {
        match (at(line), runs.last_mut()) {
            (Some(t), Some((first, run)))
                if t >= *first && t - *first < chrono::TimeDelta::days(1) =>
            {
                run.push(line)
            }
            (Some(t), _) => runs.push((t, vec![line])),
            (None, Some((_, run))) => run.push(line),
            (None, None) => panic!("the first event has no instant: {line}"),
        }
    }
    let mut out = None;
    for (now, run) in runs {
        let input = dir.join("events.jsonl");
        std::fs::write(&input, run.join("\n")).unwrap();
        let done = drumbeat_in(
            dir,
            [
                "event",
                &playbook(),
                "--store",
                "sqlite://./state.db",
                "--input",
                input.to_str().unwrap(),
                "--now",
                &now.to_rfc3339(),
            ],
        );
        if done.code != 0 {
            return done;
        }
        out = Some(done);
    }
    out.expect("at least one event")
}

/// `drumbeat event PLAYBOOK --input INPUT --now NOW` with the store `state.db`, in `dir`.
fn event_in(dir: &Path, playbook: &str, input: &str, now: &str) -> crate::common::Output {
    drumbeat_in(
        dir,
        [
            "event",
            playbook,
            "--store",
            "sqlite://./state.db",
            "--input",
            input,
            "--now",
            now,
        ],
    )
}

fn ev(id: &str, kind: &str, member: &str, at: &str, data: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"{kind}","community":"tea-club","member":"{member}","at":"{at}","data":{data}}}"#
    )
}

async fn outbox_body(dir: &Path, key: &str) -> Option<(String, State)> {
    let url = format!("sqlite://{}", dir.join("state.db").display());
    let s = SqliteStore::open(&url).await.unwrap();
    let row = s.find(key).await.unwrap();
    s.close().await;
    row.map(|r| (r.body, r.state))
}

/// What `members list` prints for the store in `dir`.
fn list(dir: &Path) -> String {
    drumbeat_in(dir, ["members", "list", "--store", "sqlite://./state.db"]).stdout
}

/// Checks that the store in `dir` knows no member: what a refused input must leave.
fn assert_no_members(dir: &Path) {
    let listed = list(dir);
    assert!(listed.ends_with("\n0 members\n"), "{listed}");
}

/// Runs the daemon on the tea club from `start` to `stop` at `speed`: a rehearsal on the
/// store in `dir`. Answers its exit code and output.
fn rehearse(dir: &Path, start: &str, stop: &str, speed: &str) -> (i32, String, String) {
    crate::common::spawn_in(
        dir,
        [
            "run",
            &playbook(),
            "--no-watch",
            "--store",
            "sqlite://./state.db",
            "--start-at",
            start,
            "--stop-at",
            stop,
            "--speed",
            speed,
        ],
        &[],
    )
    .finish()
}

fn show(dir: &Path, member: &str) -> serde_json::Value {
    let out = drumbeat_in(
        dir,
        [
            "members",
            "show",
            member,
            "--store",
            "sqlite://./state.db",
            "--format",
            "json",
            "--at",
            "2026-12-01T22:00:00+08:00",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_refused_applicant_is_admitted_once_they_pay() {
    let dir = tempfile::tempdir().unwrap();
    let ask = ev(
        "r1",
        "join_request",
        "u-1",
        "2026-12-01T09:00:00+08:00",
        r#"{"name":"杭州-阿青","accepted_rules":true}"#,
    );
    let out = events(dir.path(), &[&ask]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (refusal, state) = outbox_body(dir.path(), "tea-club/event/r1/refusal")
        .await
        .expect("a refusal");
    assert_eq!(refusal, "还差：fee（支付 9.9 元入群费）");
    assert_eq!(state, State::Pending);
    assert_eq!(show(dir.path(), "u-1")["status"], "applicant");

    let pay = ev(
        "p1",
        "payment",
        "u-1",
        "2026-12-01T09:05:00+08:00",
        r#"{"amount":9.9,"currency":"CNY"}"#,
    );
    assert_eq!(events(dir.path(), &[&pay]).code, 0);
    let (welcome, _) = outbox_body(dir.path(), "tea-club/event/p1/welcome")
        .await
        .expect("a welcome");
    assert_eq!(welcome, "欢迎 杭州-阿青 加入「茶友会」！");
    let member = show(dir.path(), "u-1");
    assert_eq!(member["status"], "member");
    assert_eq!(member["joined"], "2026-12-01");
}

#[tokio::test]
async fn every_unmet_requirement_is_listed_in_order_with_its_hint() {
    let dir = tempfile::tempdir().unwrap();
    let ask = ev(
        "r1",
        "join_request",
        "u-2",
        "2026-12-01T09:00:00+08:00",
        r#"{"name":"bob"}"#,
    );
    assert_eq!(events(dir.path(), &[&ask]).code, 0);
    let (refusal, _) = outbox_body(dir.path(), "tea-club/event/r1/refusal")
        .await
        .unwrap();
    assert_eq!(
        refusal,
        "还差：rules（请先阅读并同意群规）、nickname（城市-昵称）、fee（支付 9.9 元入群费）"
    );
}

#[tokio::test]
async fn a_tier_boundary_hit_exactly_is_announced_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![ev(
        "j",
        "join",
        "u-3",
        "2026-12-01T08:00:00+08:00",
        r#"{"name":"北京-老周"}"#,
    )];
    // 100 points a day: 300 on the third day exactly, then more.
    for day in 1..=4 {
        lines.push(ev(
            &format!("c{day}"),
            "checkin",
            "u-3",
            &format!("2026-12-0{day}T08:00:00+08:00"),
            "{}",
        ));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(events(dir.path(), &lines).code, 0);
    let (text, _) = outbox_body(dir.path(), "tea-club/event/c3/tier:regular")
        .await
        .expect("announced on the third check-in");
    assert_eq!(text, "恭喜 北京-老周 升级为达人！");
    assert!(
        outbox_body(dir.path(), "tea-club/event/c4/tier:regular")
            .await
            .is_none()
    );
    let member = show(dir.path(), "u-3");
    assert_eq!(member["points"], 400);
    assert_eq!(member["tier"], "regular");
}

#[test]
fn an_event_seen_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let join = ev(
        "j",
        "join",
        "u-4",
        "2026-12-01T08:00:00+08:00",
        r#"{"name":"广州-小梅"}"#,
    );
    let checkin = ev("c", "checkin", "u-4", "2026-12-01T08:01:00+08:00", "{}");
    let first = events(dir.path(), &[&join, &checkin, &checkin]);
    assert_eq!(
        first.stdout,
        "applied 2 events; 1 taken in before (unchanged)\n"
    );
    let again = events(dir.path(), &[&checkin]);
    assert_eq!(
        again.stdout,
        "applied 0 events; 1 taken in before (unchanged)\n"
    );
    let ledger = drumbeat_in(
        dir.path(),
        ["ledger", "u-4", "--store", "sqlite://./state.db"],
    );
    assert_eq!(
        ledger.stdout,
        "u-4 · tea-club\n\n\
         AT                   POINTS  BALANCE  REASON  DETAIL   EVENT\n\
         2026-12-01 08:01:00  +100    100      points  checkin  c\n\n\
         1 lines, balance 100\n"
    );
}

#[test]
fn a_batch_with_one_bad_event_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let good = ev("g", "join", "u-5", "2026-12-01T08:00:00+08:00", "{}");
    let unknown_type = ev(
        "x",
        "custom_case_shared",
        "u-5",
        "2026-12-01T08:00:00+08:00",
        "{}",
    );
    let other_community = good
        .replace("tea-club", "chess-club")
        .replace("\"g\"", "\"h\"");
    let out = events(dir.path(), &[&good, &unknown_type, &other_community]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: event 1 (`x`): `type`: unknown event type `custom_case_shared` (not a built-in type, and no points rule of `tea-club` names it)\n\
         error: event 2 (`h`): `community`: no community `chess-club` is loaded\n\
         error: the events were refused; nothing changed\n"
    );
    assert_no_members(dir.path());
}

#[test]
fn the_referrer_earns_when_the_referred_member_is_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        ev(
            "a",
            "join",
            "u-6",
            "2026-12-01T08:00:00+08:00",
            r#"{"name":"成都-大熊"}"#,
        ),
        ev(
            "b",
            "referral",
            "u-6",
            "2026-12-01T08:10:00+08:00",
            r#"{"referred":"u-7"}"#,
        ),
        ev(
            "c",
            "join",
            "u-7",
            "2026-12-01T09:00:00+08:00",
            r#"{"name":"成都-小熊"}"#,
        ),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(events(dir.path(), &lines).code, 0);
    assert_eq!(show(dir.path(), "u-6")["points"], 30);
    assert_eq!(show(dir.path(), "u-7")["referrer"], "u-6");
    let board = drumbeat_in(
        dir.path(),
        ["leaderboard", "--store", "sqlite://./state.db"],
    );
    assert_eq!(
        board.stdout,
        "茶友会 (tea-club)\n\
         RANK  ID   NAME       POINTS  TIER\n\
         1     u-6  成都-大熊  30      新人\n\
         2     u-7  成都-小熊  0       新人\n"
    );
}

#[tokio::test]
async fn the_nth_offence_draws_the_nth_penalty_and_the_last_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![ev(
        "j",
        "join",
        "u-8",
        "2026-12-01T08:00:00+08:00",
        r#"{"name":"深圳-阿飞"}"#,
    )];
    let texts = [
        "代购面膜",
        "看这里 www.example.com",
        "扫码代购",
        "再发一次代购",
        "今天练完了",
    ];
    for (i, t) in texts.iter().enumerate() {
        lines.push(ev(
            &format!("m{}", i + 1),
            "message",
            "u-8",
            &format!("2026-12-01T1{i}:00:00+08:00"),
            &format!(r#"{{"text":"{t}"}}"#),
        ));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(events(dir.path(), &lines).code, 0);
    let (warning, _) = outbox_body(dir.path(), "tea-club/event/m1/warn:no-ads")
        .await
        .unwrap();
    assert_eq!(warning, "深圳-阿飞，请遵守群规：禁止发广告");
    let (mute, _) = outbox_body(dir.path(), "tea-club/event/m2/mute:no-ads")
        .await
        .unwrap();
    assert_eq!(
        mute,
        "【待处理】深圳-阿飞（u-8）第 2 次违反「禁止发广告」，请禁言 2h。\n原消息：看这里 www.example.com"
    );
    for (key, n) in [("m3", 3), ("m4", 4)] {
        let (remove, _) = outbox_body(dir.path(), &format!("tea-club/event/{key}/remove:no-ads"))
            .await
            .unwrap();
        assert!(
            remove.starts_with(&format!(
                "【待处理】深圳-阿飞（u-8）第 {n} 次违反「禁止发广告」，请移出群。"
            )),
            "{remove}"
        );
    }
    let member = show(dir.path(), "u-8");
    assert_eq!(member["status"], "removed");
    let ladder: Vec<(u64, &str, &str)> = member["offences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["n"].as_u64().unwrap(),
                o["penalty"].as_str().unwrap(),
                o["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ladder,
        [
            (1, "warn", "warned"),
            (2, "mute 2h", "task"),
            (3, "remove", "task"),
            (4, "remove", "task")
        ]
    );
    // Offending messages earn nothing; the last, harmless one earns its point.
    assert_eq!(member["points"], 1);
}

#[tokio::test]
async fn a_badge_is_granted_once_though_its_condition_lapses_and_holds_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![ev(
        "j",
        "join",
        "u-9",
        "2026-12-01T08:00:00+08:00",
        r#"{"name":"西安-石头"}"#,
    )];
    // Three messages on the 1st (holds), none for a week (lapses), three on the 10th.
    for (id, at) in [
        ("a1", "2026-12-01T09:00:00+08:00"),
        ("a2", "2026-12-01T10:00:00+08:00"),
        ("a3", "2026-12-01T11:00:00+08:00"),
        ("b1", "2026-12-10T09:00:00+08:00"),
        ("b2", "2026-12-10T10:00:00+08:00"),
        ("b3", "2026-12-10T11:00:00+08:00"),
    ] {
        lines.push(ev(id, "message", "u-9", at, r#"{"text":"早"}"#));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(events(dir.path(), &lines).code, 0);
    assert!(
        outbox_body(dir.path(), "tea-club/event/a2/badge:chatty")
            .await
            .is_none()
    );
    let (text, _) = outbox_body(dir.path(), "tea-club/event/a3/badge:chatty")
        .await
        .expect("granted on the third message");
    assert_eq!(text, "西安-石头 获得勋章「话痨」");
    assert!(
        outbox_body(dir.path(), "tea-club/event/b3/badge:chatty")
            .await
            .is_none()
    );
    assert_eq!(
        show(dir.path(), "u-9")["badges"],
        serde_json::json!(["chatty"])
    );
}

#[tokio::test]
async fn a_lottery_with_fewer_eligible_members_than_winners_draws_them_all_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        ev(
            "ja",
            "join",
            "u-a",
            "2026-12-01T08:00:00+08:00",
            r#"{"name":"苏州-一"}"#,
        ),
        ev(
            "jb",
            "join",
            "u-b",
            "2026-12-01T08:00:00+08:00",
            r#"{"name":"苏州-二"}"#,
        ),
        ev(
            "jc",
            "join",
            "u-c",
            "2026-12-01T08:00:00+08:00",
            r#"{"name":"苏州-三"}"#,
        ),
        ev("ca", "checkin", "u-a", "2026-12-03T08:00:00+08:00", "{}"),
        ev("cb", "checkin", "u-b", "2026-12-04T10:00:00+08:00", "{}"),
        // Too long ago to count on the 4th.
        ev("cc", "checkin", "u-c", "2026-11-20T08:00:00+08:00", "{}"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(events(dir.path(), &lines).code, 0);
    // Friday the 4th, 20:00 in Shanghai: the weekly draw.
    let (code, stdout, stderr) = rehearse(
        dir.path(),
        "2026-12-04T19:59:50+08:00",
        "2026-12-04T20:01:00+08:00",
        "60",
    );
    assert_eq!(code, 0, "{stderr}");
    let announced = stdout
        .lines()
        .find(|l| l.starts_with("本周中奖"))
        .unwrap_or_else(|| panic!("no announcement in:\n{stdout}\n{stderr}"));
    assert!(
        announced == "本周中奖：苏州-一、苏州-二（茶饼一份）"
            || announced == "本周中奖：苏州-二、苏州-一（茶饼一份）",
        "{announced}"
    );
    // Drawn and announced at 20:00, not at the scheduler's next round.
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let st = SqliteStore::open(&url).await.unwrap();
    let row = st
        .find("tea-club/lottery/weekly/group/20261204T120000Z")
        .await
        .unwrap()
        .expect("the announcement");
    st.close().await;
    let late = row.sent_at.expect("sent") - row.scheduled_at;
    assert!(late < chrono::TimeDelta::seconds(10), "{late}");
    let replay = drumbeat_in(
        dir.path(),
        [
            "lottery",
            "replay",
            "tea-club/weekly/20261204T120000Z",
            "--store",
            "sqlite://./state.db",
        ],
    );
    assert_eq!(replay.code, 0, "{}\n{}", replay.stdout, replay.stderr);
    assert!(
        replay.stdout.contains("eligible 2 members\nwanted   3\n"),
        "{}",
        replay.stdout
    );
    assert!(
        replay
            .stdout
            .ends_with("the replay draws the same winners\n")
    );
}

#[test]
fn the_daily_sweep_recalls_warns_and_lets_go_and_birthdays_come_at_their_hour() {
    let dir = tempfile::tempdir().unwrap();
    let join = ev(
        "j",
        "join",
        "u-r",
        "2026-12-01T08:00:00+08:00",
        r#"{"name":"长沙-阿默","birthday":"1995-12-05"}"#,
    );
    assert_eq!(events(dir.path(), &[&join]).code, 0);
    // Silent from the 1st; the 5th to the 9th rehearsed in a few seconds.
    let (code, stdout, stderr) = rehearse(
        dir.path(),
        "2026-12-04T23:00:00+08:00",
        "2026-12-09T01:00:00+08:00",
        "100000",
    );
    assert_eq!(code, 0, "{stderr}");
    let heads: Vec<(&str, &str)> = stdout
        .lines()
        .filter(|l| l.starts_with("── tea-club · daily/"))
        .map(|l| {
            let parts: Vec<&str> = l.split(" · ").collect();
            (parts[1], parts[2])
        })
        .collect();
    assert_eq!(
        heads,
        [
            ("daily/recall:1796083200", "2026-12-04T16:00:00Z"),
            ("daily/birthday", "2026-12-05T01:00:00Z"),
            ("daily/warn:1796083200", "2026-12-06T16:00:00Z"),
            ("daily/eliminated:1796083200", "2026-12-08T16:00:00Z"),
        ],
        "{stdout}"
    );
    for text in [
        "长沙-阿默，好几天没见你了",
        "祝 长沙-阿默 生日快乐！",
        "长沙-阿默，再不冒泡就要被移出啦",
        "【待处理】长沙-阿默（u-r）已 7 天没有发言，按群规淘汰：请移出群。",
    ] {
        assert!(stdout.contains(text), "{text} not in\n{stdout}");
    }
    // The recall goes to a private chat no bot can post in: a person gets it as a to-do.
    assert!(
        stdout.contains("【待发布】请在 12-05 00:00（最迟 12-06 00:00）到「茶友会」的 dm 手动发布以下内容：\n\n长沙-阿默，好几天没见你了"),
        "{stdout}"
    );
    assert_eq!(show(dir.path(), "u-r")["status"], "removed");
}

#[test]
fn a_roster_with_bad_rows_is_refused_by_line_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "\u{feff}id,name,joined,birthday,points\r\n\
               u-1,杭州-阿青,2026-10-01,05-20,120\r\n\
               u-2,宁波-小白,2026-13-01,,\r\n\
               ,无名,,,\r\n\
               u-1,重复,,,\r\n\
               u-3,温州-大壮,,1990-02-30,x\r\n";
    std::fs::write(dir.path().join("roster.csv"), csv).unwrap();
    let out = drumbeat_in(
        dir.path(),
        [
            "members",
            "import",
            "roster.csv",
            "--playbook",
            &playbook(),
            "--store",
            "sqlite://./state.db",
        ],
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: roster.csv: line 3: `joined` \"2026-13-01\" is not a date (YYYY-MM-DD)\n\
         error: roster.csv: line 4: `id` is empty\n\
         error: roster.csv: line 5: `u-1` is already on line 2\n\
         error: roster.csv: line 6: `birthday` \"1990-02-30\" is not a birthday (MM-DD or YYYY-MM-DD)\n\
         error: nothing was imported\n"
    );
    assert_no_members(dir.path());
}

#[test]
fn a_two_thousand_member_roster_comes_in_with_its_balances_and_goes_out_for_excel() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,name,joined,birthday,points\n");
    for i in 0..2000 {
        csv.push_str(&format!(
            "u-{i:04},成员{i},2026-10-01,03-{:02},{}\n",
            i % 28 + 1,
            i * 10
        ));
    }
    std::fs::write(dir.path().join("roster.csv"), csv).unwrap();
    let args = ["--store", "sqlite://./state.db"];
    let out = drumbeat_in(
        dir.path(),
        ["members", "import", "roster.csv", "--playbook", &playbook()]
            .into_iter()
            .chain(args),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "imported 2000 members into `tea-club` (1999 with a starting balance)\n"
    );
    // The same roster again changes nothing.
    let again = drumbeat_in(
        dir.path(),
        ["members", "import", "roster.csv"].into_iter().chain(args),
    );
    assert_eq!(again.code, 1);
    let member = show(dir.path(), "u-0042");
    assert_eq!(member["points"], 420);
    assert_eq!(member["tier"], "regular");
    assert_eq!(member["joined"], "2026-10-01");

    let export = dir.path().join("weekly.csv");
    let out = drumbeat_in(
        dir.path(),
        [
            "members",
            "export",
            "--output",
            export.to_str().unwrap(),
            "--at",
            "2026-12-01T22:00:00+08:00",
        ]
        .into_iter()
        .chain(args),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(&export).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark for Excel"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines.len(),
        2002,
        "a header, 2000 rows and the last line end"
    );
    assert_eq!(
        lines[0],
        "community,id,name,status,points,streak,tier,badges,joined,birthday"
    );
    assert_eq!(
        lines[43],
        "tea-club,u-0042,成员42,member,420,0,regular,,2026-10-01,03-15"
    );
}

#[test]
fn a_changed_rule_counts_from_the_change_on_and_never_rewrites_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("tea-club.yaml");
    let original = std::fs::read_to_string(playbook()).unwrap();
    std::fs::write(&copy, &original).unwrap();
    let apply = |line: &str| {
        std::fs::write(dir.path().join("e.jsonl"), line).unwrap();
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let out = event_in(
            dir.path(),
            "tea-club.yaml",
            "e.jsonl",
            event["at"].as_str().unwrap(),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    apply(&ev(
        "j",
        "join",
        "u-c",
        "2026-12-01T08:00:00+08:00",
        r#"{"name":"青岛-海风"}"#,
    ));
    apply(&ev(
        "c1",
        "checkin",
        "u-c",
        "2026-12-01T08:01:00+08:00",
        "{}",
    ));
    // The operator halves the check-in points.
    let halved = original.replace(
        "{ on: checkin, points: 100, per_day: 1 }",
        "{ on: checkin, points: 50, per_day: 1 }",
    );
    assert_ne!(halved, original);
    std::fs::write(&copy, halved).unwrap();
    apply(&ev(
        "c2",
        "checkin",
        "u-c",
        "2026-12-02T08:01:00+08:00",
        "{}",
    ));
    assert_eq!(show(dir.path(), "u-c")["points"], 150);
    let ledger = drumbeat_in(
        dir.path(),
        ["ledger", "u-c", "--store", "sqlite://./state.db"],
    );
    assert!(
        ledger.stdout.ends_with("2 lines, balance 150\n"),
        "{}",
        ledger.stdout
    );
}

#[test]
fn a_late_event_counts_on_its_own_day_and_never_moves_activity_back() {
    let dir = tempfile::tempdir().unwrap();
    // The second day's check-in arrives first; the first day's comes late, then a repeat
    // of the first day's in a later batch (same day, so per_day refuses it).
    let lines = [
        ev(
            "j",
            "join",
            "u-l",
            "2026-12-01T07:00:00+08:00",
            r#"{"name":"厦门-晚到"}"#,
        ),
        ev("c2", "checkin", "u-l", "2026-12-02T08:00:00+08:00", "{}"),
        ev("c1", "checkin", "u-l", "2026-12-01T21:00:00+08:00", "{}"),
        ev("c1b", "checkin", "u-l", "2026-12-01T22:00:00+08:00", "{}"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(events(dir.path(), &lines).code, 0);
    let out = drumbeat_in(
        dir.path(),
        [
            "members",
            "show",
            "u-l",
            "--store",
            "sqlite://./state.db",
            "--format",
            "json",
            "--at",
            "2026-12-02T20:00:00+08:00",
        ],
    );
    let member: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // Each local day earned once; both days make a two-day streak.
    assert_eq!(member["points"], 200);
    assert_eq!(member["streak"], 2);
    let ledger = drumbeat_in(
        dir.path(),
        ["ledger", "u-l", "--store", "sqlite://./state.db"],
    );
    assert!(
        ledger.stdout.contains("2026-12-01 21:00:00  +100    200"),
        "{}",
        ledger.stdout
    );
    // The member was last active on the 2nd, whatever arrived after.
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let row = rt
        .block_on(async {
            let s = SqliteStore::open(&url).await.unwrap();
            let m = s.member("tea-club", "u-l").await.unwrap();
            s.close().await;
            m
        })
        .unwrap();
    assert_eq!(
        row.last_active.unwrap().to_rfc3339(),
        "2026-12-02T00:00:00+00:00"
    );
}

#[test]
fn messages_members_cause_count_against_the_daily_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("limited.yaml"),
        r#"version: 1
community: { id: limited, name: 小群, kind: service, timezone: Asia/Shanghai, locale: zh-CN }
channels: { group: { type: console } }
entry: { welcome: welcome }
content:
  slots:
    - { id: nine, at: "09:00", template: nine }
    - { id: ten, at: "10:00", template: ten }
  daily_limit: 2
templates:
  welcome: "欢迎 {{ member.name }}"
  nine: "九点"
  ten: "十点"
"#,
    )
    .unwrap();
    let join = r#"{"id":"j","type":"join","community":"limited","member":"u-1","at":"2026-12-01T08:00:00+08:00","data":{"name":"小白"}}"#;
    std::fs::write(dir.path().join("e.jsonl"), join).unwrap();
    let out = event_in(
        dir.path(),
        "limited.yaml",
        "e.jsonl",
        "2026-12-01T08:00:00+08:00",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, stdout, stderr) = crate::common::spawn_in(
        dir.path(),
        [
            "run",
            "limited.yaml",
            "--no-watch",
            "--start-at",
            "2026-12-01T07:59:00+08:00",
            "--stop-at",
            "2026-12-01T10:30:00+08:00",
            "--speed",
            "3600",
            "--store",
            "sqlite://./state.db",
        ],
        &[],
    )
    .finish();
    assert_eq!(code, 0, "{stderr}");
    let texts: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("──")).collect();
    // The welcome and the 09:00 slot fill the day's two; the 10:00 slot is crowded out.
    assert_eq!(texts, ["欢迎 小白", "九点"], "{stdout}");
}

/// Nothing is sent outside `community.runs`: a welcome caused before the camp starts is
/// held until its first day begins; one caused after it ended is recorded missed with its
/// reason, which `status` shows.
#[test]
fn messages_members_cause_outside_runs_wait_for_its_start_or_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("camp.yaml"),
        r#"version: 1
community: { id: camp, name: 打卡营, kind: service, timezone: Asia/Shanghai, locale: zh-CN,
  runs: { from: 2026-12-01, until: 2026-12-21 } }
channels: { group: { type: console } }
entry: { welcome: welcome }
templates:
  welcome: "欢迎 {{ member.name }}"
"#,
    )
    .unwrap();
    let take = |id: &str, member: &str, at: &str| {
        let line = format!(
            r#"{{"id":"{id}","type":"join","community":"camp","member":"{member}","at":"{at}","data":{{"name":"{member}"}}}}"#
        );
        std::fs::write(dir.path().join("e.jsonl"), line).unwrap();
        let out = event_in(dir.path(), "camp.yaml", "e.jsonl", at);
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    take("early", "u-early", "2026-11-28T10:00:00+08:00");
    take("late", "u-late", "2026-12-22T10:00:00+08:00");
    let out = drumbeat_in(
        dir.path(),
        [
            "status",
            "--store",
            "sqlite://./state.db",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let next = &status["next"][0];
    assert_eq!(next["key"], "camp/event/early/welcome");
    // Held to the first day's start, 00:00 in Shanghai.
    assert_eq!(next["scheduled_at"], "2026-11-30T16:00:00Z");
    let missed = &status["missed"][0];
    assert_eq!(missed["key"], "camp/event/late/welcome");
    assert_eq!(
        missed["last_error"],
        "not sent: it came after the community's runs ended (2026-12-21); nothing is sent outside `runs`"
    );
    assert_eq!(status["missed"].as_array().unwrap().len(), 1);
}

/// A condition compiles (validation checked it) but fails for a member's values: it is
/// taken as not met, and the operator is told once which condition, where it is written
/// (the column counted in characters after the Chinese name), and why. The events count.
#[test]
fn a_condition_that_fails_for_a_member_is_reported_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::tea_club_with_a_failing_badge(dir.path());
    let input = dir.path().join("events.jsonl");
    let join = ev("j", "join", "u-4", "2026-12-01T08:00:00+08:00", "{}");
    let checkin = ev("c", "checkin", "u-4", "2026-12-01T08:01:00+08:00", "{}");
    std::fs::write(&input, format!("{join}\n{checkin}\n")).unwrap();
    let out = event_in(
        dir.path(),
        "tea-club.yaml",
        "events.jsonl",
        "2026-12-01T08:02:00+08:00",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "applied 2 events; 0 taken in before (unchanged)\n"
    );
    // Both events evaluate the badge; a broken condition is said once, then counted.
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("taken as not met"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    let warning = warnings[0];
    assert!(warning.contains("at=tea-club.yaml:38:38"), "{warning}");
    assert!(
        warning.contains("condition=stats.messages_7d // 0 >= 3"),
        "{warning}"
    );
    assert!(warning.contains("unable to calculate"), "{warning}");
    assert!(warning.contains("member=u-4"), "{warning}");
}
