//! Specs for `drumbeat schema` and for the committed `schemas/playbook.schema.json`: it is
//! what the command prints, every playbook we ship passes it, and it refuses what the loader
//! refuses.

use crate::common::{drumbeat, root};
use drumbeat::playbook::load::{Loaded, load_bytes};
use marked_yaml::Node;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SCHEMA_FILE: &str = "schemas/playbook.schema.json";
const REGENERATE: &str =
    "regenerate it with `cargo run -- schema > schemas/playbook.schema.json` and review the diff";

fn committed() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(root().join(SCHEMA_FILE))
            .unwrap_or_else(|e| panic!("{SCHEMA_FILE}: {e}; {REGENERATE}"));
        serde_json::from_str(&text).expect("the committed schema is JSON")
    })
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| jsonschema::draft7::new(committed()).expect("the schema is valid draft-07"))
}

/// Why the schema refuses `doc`, one line per error; empty when it accepts it.
fn schema_errors(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

/// A YAML document as JSON, read the way a YAML 1.2 editor reads it: plain scalars that
/// look like numbers, booleans or null become those; quoted and block scalars stay text.
fn yaml_to_json(node: &Node) -> Value {
    match node {
        Node::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), yaml_to_json(v)))
                .collect(),
        ),
        Node::Sequence(s) => Value::Array(s.iter().map(yaml_to_json).collect()),
        Node::Scalar(s) if s.may_coerce() => plain_scalar(s.as_str()),
        Node::Scalar(s) => Value::String(s.as_str().to_string()),
    }
}

/// The YAML 1.2 core schema's resolution of a plain scalar.
fn plain_scalar(s: &str) -> Value {
    static INT: OnceLock<regex::Regex> = OnceLock::new();
    static FLOAT: OnceLock<regex::Regex> = OnceLock::new();
    let int = INT.get_or_init(|| regex::Regex::new(r"^[-+]?[0-9]+$").unwrap());
    let float = FLOAT.get_or_init(|| {
        regex::Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").unwrap()
    });
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ if int.is_match(s) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(s.parse::<f64>().unwrap())),
        _ if s.starts_with("0x") && i64::from_str_radix(&s[2..], 16).is_ok() => {
            json!(i64::from_str_radix(&s[2..], 16).unwrap())
        }
        _ if s.starts_with("0o") && i64::from_str_radix(&s[2..], 8).is_ok() => {
            json!(i64::from_str_radix(&s[2..], 8).unwrap())
        }
        _ if float.is_match(s) => json!(s.parse::<f64>().unwrap()),
        _ => Value::String(s.to_string()),
    }
}

/// Parses YAML keeping track of which scalars were quoted.
fn parse(text: &str) -> Result<Node, marked_yaml::LoadError> {
    let options = marked_yaml::LoaderOptions::default().prevent_coercion(true);
    marked_yaml::parse_yaml_with_options(0, text, options)
}

fn yaml_file_to_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let node = parse(&text).unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    yaml_to_json(&node)
}

/// Every `*.yaml` / `*.yml` file under `dir`, recursively; none when it does not exist.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn shipped_playbooks() -> Vec<PathBuf> {
    let mut files = yaml_files(&root().join("tests/fixtures/valid"));
    files.extend(yaml_files(&root().join("playbooks")));
    files
}

/// Loads `doc` (written as JSON, which is YAML too) with the real loader; true when the
/// loader reports an error.
fn loader_refuses(doc: &Value) -> bool {
    let mut loaded = Loaded::default();
    let text = serde_json::to_string(doc).unwrap();
    load_bytes(&mut loaded, Path::new("case.yaml"), text.into_bytes());
    loaded.diagnostics.has_errors()
}

fn spec_example() -> Value {
    yaml_file_to_json(&root().join("tests/fixtures/valid/spec-example.yaml"))
}

/// Sets the value at a JSON pointer, adding the member when it is missing; `None` removes it.
fn set(doc: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
    let parent = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in the document"));
    match (parent, value) {
        (Value::Object(m), Some(v)) => {
            m.insert(key.to_string(), v);
        }
        (Value::Object(m), None) => {
            m.remove(key).unwrap_or_else(|| panic!("no {pointer}"));
        }
        (Value::Array(a), Some(v)) => a[key.parse::<usize>().unwrap()] = v,
        (Value::Array(a), None) => {
            a.remove(key.parse::<usize>().unwrap());
        }
        (other, _) => panic!("{pointer}: parent is {other}"),
    }
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = drumbeat(["schema"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let committed = std::fs::read_to_string(root().join(SCHEMA_FILE))
        .unwrap_or_else(|e| panic!("{SCHEMA_FILE}: {e}; {REGENERATE}"));
    assert!(
        out.stdout == committed,
        "{SCHEMA_FILE} differs from what `drumbeat schema` prints: {REGENERATE}"
    );
}

#[test]
fn a_schema_that_cannot_be_written_is_an_error() {
    let out = crate::common::drumbeat_to_full_disk(&["schema"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: cannot write the schema: No space left on device"),
        "{}",
        out.stderr
    );
}

#[test]
fn schema_is_draft_07_with_a_title() {
    let s = committed();
    assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(s["title"], "drumbeat playbook");
    assert_eq!(s["type"], "object");
}

#[test]
fn every_shipped_playbook_passes_the_schema() {
    let files = shipped_playbooks();
    assert!(
        files.iter().any(|f| f.ends_with("spec-example.yaml")),
        "the language's example is among the files checked"
    );
    let mut failures = Vec::new();
    for f in &files {
        let errors = schema_errors(&yaml_file_to_json(f));
        if !errors.is_empty() {
            failures.push(format!("{}:\n  {}", f.display(), errors.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shipped_playbooks_name_the_schema_for_editors() {
    // The `yaml-language-server: $schema=` comment is relative to the playbook's folder.
    let schema = std::fs::canonicalize(root().join(SCHEMA_FILE)).unwrap();
    for f in shipped_playbooks() {
        let text = std::fs::read_to_string(&f).unwrap();
        let Some(line) = text
            .lines()
            .find(|l| l.trim_start().starts_with("# yaml-language-server:"))
        else {
            continue;
        };
        let target = line
            .split_once("$schema=")
            .map(|(_, t)| t.trim())
            .unwrap_or_else(|| panic!("{}: no $schema= in {line:?}", f.display()));
        let resolved = std::fs::canonicalize(f.parent().unwrap().join(target))
            .unwrap_or_else(|e| panic!("{}: {target}: {e}", f.display()));
        assert_eq!(resolved, schema, "{}: {line}", f.display());
    }
}

#[test]
fn yaml_numbers_and_booleans_convert_as_an_editor_reads_them() {
    let node = parse(
        "a: 500\nb: 9.9\nc: true\nd: \"500\"\ne: 07:30\nf: 2026-12-01\ng:\nh: 0x1f\ni: -3\nj: 'true'\n",
    )
    .unwrap();
    assert_eq!(
        yaml_to_json(&node),
        json!({"a": 500, "b": 9.9, "c": true, "d": "500", "e": "07:30",
               "f": "2026-12-01", "g": null, "h": 31, "i": -3, "j": "true"})
    );
}

/// Changes to the language's example that the schema and the loader both refuse, with
/// where each change is.
fn refused_cases() -> Vec<(&'static str, &'static str, Value)> {
    let base = spec_example();
    let case = |pointer: &'static str, value: Option<Value>| {
        let mut d = base.clone();
        set(&mut d, pointer, value);
        (pointer, d)
    };
    let cases: Vec<(&str, (&str, Value))> = vec![
        (
            "unknown top-level field",
            case("/templtes", Some(json!({}))),
        ),
        (
            "unknown field in a slot",
            case("/content/slots/0/tempalte", Some(json!("morning"))),
        ),
        (
            "wrong community kind",
            case("/community/kind", Some(json!("club"))),
        ),
        (
            "unknown channel type",
            case("/channels/group/type", Some(json!("wechat"))),
        ),
        (
            "a field of another channel type",
            case("/channels/group/secret", Some(json!("${S}"))),
        ),
        ("missing webhook", case("/channels/group/webhook", None)),
        (
            "malformed environment reference",
            case("/channels/group/webhook", Some(json!("${WECOM-HOOK"))),
        ),
        ("missing community name", case("/community/name", None)),
        ("missing channels", case("/channels", None)),
        ("version 2", case("/version", Some(json!(2)))),
        (
            "id with capitals",
            case("/content/slots/0/id", Some(json!("Morning"))),
        ),
        (
            "negative number as an id",
            case("/rewards/tiers/levels/0/id", Some(json!(-1))),
        ),
        (
            "a list as a name",
            case("/community/name", Some(json!(["a"]))),
        ),
        (
            "channel name with capitals",
            case("/channels/Group", Some(json!({"type": "console"}))),
        ),
        (
            "moved slot id with capitals",
            case("/content/calendar/0/move/Lesson", Some(json!("13:00"))),
        ),
        (
            "slot with at and cron",
            case("/content/slots/0/cron", Some(json!("0 8 * * *"))),
        ),
        (
            "slot with days and cron",
            case("/content/slots/1/days", Some(json!("weekdays"))),
        ),
        (
            "slot with neither at nor cron",
            case("/content/slots/0/at", None),
        ),
        (
            "bad local time",
            case("/content/slots/0/at", Some(json!("25:00"))),
        ),
        (
            "bad day",
            case("/content/slots/3/days", Some(json!(["friday"]))),
        ),
        (
            "cron with six fields",
            case("/content/slots/1/cron", Some(json!("0 0 12 * * 1-5"))),
        ),
        (
            "added calendar slot with cron",
            case(
                "/content/calendar/0/add",
                Some(json!([{"id": "extra", "cron": "0 9 * * *", "template": "share"}])),
            ),
        ),
        (
            "calendar entry without dates",
            case("/content/calendar/0/dates", Some(json!([]))),
        ),
        (
            "bad quiet hours",
            case("/content/quiet_hours", Some(json!("22:30"))),
        ),
        (
            "duration without unit",
            case("/activities/0/phases/0/duration", Some(json!(3))),
        ),
        (
            "duration in words",
            case("/retention/recall/inactive", Some(json!("7 days"))),
        ),
        (
            "bad time zone",
            case("/community/timezone", Some(json!("Asia/Shangai"))),
        ),
        (
            "bad date",
            case("/community/runs/from", Some(json!("2026/12/01"))),
        ),
        (
            "unknown penalty",
            case("/rules/0/penalties/0", Some(json!("ban"))),
        ),
        ("no penalties", case("/rules/0/penalties", Some(json!([])))),
        (
            "rule match with an unknown field",
            case("/rules/0/match/words", Some(json!(["x"]))),
        ),
        (
            "nickname requirement without pattern",
            case("/entry/requirements/1/pattern", None),
        ),
        (
            "accept_rules requirement with a pattern",
            case("/entry/requirements/0/pattern", Some(json!("^a$"))),
        ),
        (
            "unknown requirement kind",
            case("/entry/requirements/2/kind", Some(json!("quiz"))),
        ),
        (
            "amount as text",
            case("/entry/requirements/3/amount", Some(json!("lots"))),
        ),
        (
            "rate limit in words",
            case("/channels/group/rate_limit", Some(json!("20 per minute"))),
        ),
        (
            "negative capacity",
            case("/community/capacity", Some(json!(-1))),
        ),
        (
            "unknown occasion",
            case("/rewards/occasions/0/on", Some(json!("wedding"))),
        ),
        (
            "event type with capitals",
            case("/rewards/points/0/on", Some(json!("CheckIn"))),
        ),
        (
            "activity without phases",
            case("/activities/0/phases", Some(json!([]))),
        ),
        (
            "phase start without time",
            case("/activities/0/phases/0/start", Some(json!("2026-12-01"))),
        ),
        (
            "template that is a list",
            case("/templates/share", Some(json!(["a"]))),
        ),
        (
            "template name with capitals",
            case("/templates/Share", Some(json!("x"))),
        ),
    ];
    cases.into_iter().map(|(w, (p, d))| (w, p, d)).collect()
}

/// Changes that the schema and the loader both accept.
fn accepted_cases() -> Vec<(&'static str, Value)> {
    let base = spec_example();
    let case = |changes: &[(&str, Option<Value>)]| {
        let mut d = base.clone();
        for (p, v) in changes {
            set(&mut d, p, v.clone());
        }
        d
    };
    vec![
        ("the example as it is", base.clone()),
        (
            "days as a word",
            case(&[("/content/slots/0/days", Some(json!("weekends")))]),
        ),
        (
            "days as a list",
            case(&[("/content/slots/0/days", Some(json!(["mon", "fri"])))]),
        ),
        (
            "mute with a length",
            case(&[(
                "/rules/1/penalties",
                Some(json!(["mute 1h", "mute", "remove"])),
            )]),
        ),
        (
            "rate limit",
            case(&[("/channels/group/rate_limit", Some(json!("20/min")))]),
        ),
        (
            "assisted channel",
            case(&[("/channels/group/assist", Some(json!("admins")))]),
        ),
        (
            "every channel type",
            case(&[(
                "/channels",
                Some(json!({
                    "group": {"type": "wecom", "webhook": "${W}", "format": "markdown"},
                    "admins": {"type": "feishu", "webhook": "https://x/${T}", "secret": "${S}"},
                    "preview": {"type": "console"},
                    "log": {"type": "file", "path": "out.jsonl"},
                    "hook": {"type": "webhook", "url": "https://x", "method": "PUT",
                             "headers": {"Authorization": "Bearer ${TOKEN}"},
                             "body": "{\"text\": {{ message | tojson }}}"},
                    "ding": {"type": "dingtalk", "webhook": "${D}"},
                    "slack": {"type": "slack", "webhook": "${S}"},
                    "discord": {"type": "discord", "webhook": "${D}"},
                    "tg": {"type": "telegram", "token": "${T}", "chat_id": "-100", "api_base": "http://127.0.0.1:1"},
                    "plugin": {"type": "exec", "command": ["notify", "--to", "$HOME"], "timeout": "30s"}
                })),
            )]),
        ),
        (
            "added calendar slot",
            case(&[(
                "/content/calendar/0/add",
                Some(json!([{"id": "extra", "at": "09:00", "template": "share", "topics": ["a"]}])),
            )]),
        ),
        (
            "a calendar note",
            case(&[("/content/calendar/0/note", Some(json!("春节")))]),
        ),
        (
            "a single date",
            case(&[("/content/calendar/0/dates", Some(json!(["2027-02-05"])))]),
        ),
        (
            "empty sections",
            case(&[
                ("/rules", Some(Value::Null)),
                ("/segments", Some(Value::Null)),
            ]),
        ),
        ("no entry", case(&[("/entry", None), ("/rules", None)])),
        (
            "custom event",
            case(&[("/rewards/points/2/on", Some(json!("custom_case_shared")))]),
        ),
        (
            "match by pattern",
            case(&[(
                "/rules/1/match",
                Some(json!({"patterns": ["\\d{11}"], "links": false})),
            )]),
        ),
        ("grace", case(&[("/content/grace", Some(json!("5m")))])),
        (
            "numbers where text is expected",
            case(&[
                ("/community/name", Some(json!(2024))),
                ("/rules/0/match/keywords", Some(json!([666, "加微信"]))),
                ("/rewards/lotteries/0/prize", Some(json!(100))),
                ("/rewards/tiers/levels/0/id", Some(json!(1))),
                (
                    "/channels/preview",
                    Some(json!({"type": "telegram", "token": "${T}", "chat_id": -1001234567})),
                ),
            ]),
        ),
        (
            "payment without currency",
            case(&[("/entry/requirements/3/currency", None)]),
        ),
    ]
}

#[test]
fn schema_and_loader_refuse_the_same_mistakes() {
    let mut problems = Vec::new();
    for (what, pointer, doc) in refused_cases() {
        let errors = validator().iter_errors(&doc).collect::<Vec<_>>();
        if errors.is_empty() {
            problems.push(format!("the schema accepts: {what}"));
        }
        // Each error sits on the changed value or one of its parents, never elsewhere.
        for e in errors {
            let at = e.instance_path.to_string();
            if !pointer.starts_with(&at) {
                problems.push(format!("{what}: the schema objects to {at} instead: {e}"));
            }
        }
        if !loader_refuses(&doc) {
            problems.push(format!("the loader accepts: {what}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn schema_and_loader_accept_the_same_variations() {
    let mut problems = Vec::new();
    for (what, doc) in accepted_cases() {
        let errors = schema_errors(&doc);
        if !errors.is_empty() {
            problems.push(format!("the schema refuses {what}: {}", errors.join("; ")));
        }
        if loader_refuses(&doc) {
            problems.push(format!("the loader refuses: {what}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
