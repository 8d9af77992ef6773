use super::*;

fn problems(text: &str) -> Vec<String> {
    read_json(text)
        .expect_err("refused")
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn the_contract_example_reads_with_its_fields_kept() {
    let events = read_json(
        r#"{"id": "wx-9f2c", "type": "message", "community": "fit-camp", "member": "u-1024",
            "at": "2026-12-01T07:31:05+08:00", "data": {"text": "打卡 第3天", "reply_to": "u-77", "extra": 1}}"#,
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, Kind::Message);
    assert_eq!(e.member.as_deref(), Some("u-1024"));
    assert_eq!(e.at.to_rfc3339(), "2026-12-01T07:31:05+08:00");
    assert_eq!(e.data["extra"], 1);
    assert_eq!(
        e.fields,
        Fields::Message {
            text: "打卡 第3天".into(),
            reply_to: Some("u-77".into()),
        }
    );
}

#[test]
fn each_type_is_decoded_into_its_fields_once_when_read() {
    let events = read_json(
        r#"[{"id": "p", "type": "payment", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"amount": 9.9}},
            {"id": "j", "type": "join", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"name": "阿青", "birthday": "2/29", "profile": {"city": "杭州"}}},
            {"id": "r", "type": "join_request", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"accepted_rules": true}},
            {"id": "x", "type": "streak_bonus", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"anything": [1]}}]"#,
    );
    let refused: Vec<String> = events
        .as_ref()
        .err()
        .map(|ps| ps.iter().map(|p| p.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(
        refused,
        ["event 1 (`j`): `data.birthday`: `2/29` is not a birthday (MM-DD or YYYY-MM-DD)"]
    );
    let events = read_json(
        r#"[{"id": "p", "type": "payment", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"amount": 9.9, "currency": "USD"}},
            {"id": "r", "type": "join_request", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"accepted_rules": true}},
            {"id": "x", "type": "streak_bonus", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"anything": [1]}}]"#,
    )
    .unwrap();
    assert_eq!(
        events[0].fields,
        Fields::Payment {
            amount: Money(990),
            currency: Some("USD".into()),
        }
    );
    assert_eq!(
        events[1].fields,
        Fields::JoinRequest {
            name: None,
            referrer: None,
            accepted_rules: true,
        }
    );
    assert_eq!(events[2].fields, Fields::Custom);
    assert_eq!(
        problems(
            r#"{"id": "p", "type": "purchase", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"amount": 1e300}}"#
        ),
        ["event 0 (`p`): `data.amount`: 1e+300 is not an amount of money"]
    );
}

#[test]
fn every_problem_of_every_event_is_reported_with_its_place() {
    let got = problems(
        r#"[{"id": "a", "type": "message", "community": "c", "member": "m", "at": "2026-12-01T07:31:05+08:00", "data": {"text": "hi"}},
            {"id": "b", "type": "message", "community": "c", "at": "2026-12-01 07:31", "data": {}},
            {"type": "payment", "community": "c", "member": "m", "at": "2026-12-01T07:31:05Z", "data": {"amount": "9.9"}, "extra": true},
            7]"#,
    );
    assert_eq!(
        got,
        [
            "event 1 (`b`): `at`: `2026-12-01 07:31` is not an RFC 3339 time with an offset (2026-12-01T07:31:05+08:00)",
            "event 1 (`b`): `member`: required for `message` events",
            "event 1 (`b`): `data.text`: required for `message` events",
            "event 2: `id`: required",
            "event 2: `data.amount`: must be a number, not a string",
            "event 2: `extra`: unknown field (type-specific fields go under `data`)",
            "event 3: an event is a JSON object",
        ]
    );
}

#[test]
fn custom_types_are_read_and_assist_done_needs_no_member() {
    let events = read_json(
        r#"[{"id": "1", "type": "custom_case_shared", "community": "c", "member": "m", "at": "2026-12-01T08:00:00+08:00"},
            {"id": "2", "type": "assist_done", "community": "c", "at": "2026-12-01T08:00:00+08:00", "data": {"fire": "c/content/morning/group/20261201T000000Z"}}]"#,
    )
    .unwrap();
    assert_eq!(events[0].kind, Kind::Custom("custom_case_shared".into()));
    assert_eq!(events[1].member, None);
}

#[test]
fn not_events_at_all_is_one_problem() {
    assert_eq!(
        problems("hello"),
        ["input: not JSON: expected value at line 1 column 1"]
    );
    assert_eq!(
        problems("42"),
        ["input: expected an event (a JSON object) or a batch (an array of them)"]
    );
    assert_eq!(problems("[]"), ["input: the batch is empty"]);
}

#[test]
fn json_lines_are_read_in_order() {
    let text = "{\"id\":\"1\",\"type\":\"checkin\",\"community\":\"c\",\"member\":\"m\",\"at\":\"2026-12-01T08:00:00+08:00\"}\n\n\
                {\"id\":\"2\",\"type\":\"leave\",\"community\":\"c\",\"member\":\"m\",\"at\":\"2026-12-02T08:00:00+08:00\"}\n";
    let events = read_any(text).unwrap();
    assert_eq!(
        events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["1", "2"]
    );
}

#[test]
fn birthdays_take_both_forms_and_real_dates_only() {
    assert_eq!(birthday("02-29"), Some((2, 29)));
    assert_eq!(birthday("1990-07-14"), Some((7, 14)));
    assert_eq!(birthday("13-01"), None);
    assert_eq!(birthday("1990-02-30"), None);
    assert_eq!(birthday("7-14"), None);
}

#[test]
fn member_supplied_text_is_cut_to_sane_lengths() {
    let name = "鹿".repeat(200_000);
    let text = format!(
        r#"{{"id":"1","type":"join","community":"c","member":"m","at":"2026-12-01T08:00:00+08:00",
            "data":{{"name":"{name}","profile":{{"bio":"{}","tags":["{}"]}}}}}}"#,
        "b".repeat(5000),
        "t".repeat(4096)
    );
    let e = read_json(&text).unwrap().remove(0);
    let kept = e.data["name"].as_str().unwrap();
    assert_eq!(kept.chars().count(), MAX_MEMBER_NAME);
    assert!(kept.ends_with("鹿…"), "{kept}");
    let bio = e.data["profile"]["bio"].as_str().unwrap();
    assert_eq!(bio.chars().count(), MAX_DATA_TEXT);
    assert!(bio.ends_with("b…"));
    // At the limit exactly: kept whole.
    assert_eq!(e.data["profile"]["tags"][0], "t".repeat(4096));
    let short = r#"{"id":"2","type":"message","community":"c","member":"m","at":"2026-12-01T08:00:00+08:00","data":{"text":"打卡"}}"#;
    assert_eq!(read_json(short).unwrap()[0].data["text"], "打卡");
}
