//! Specs for `validate`: the invalid fixtures, the renderings, exit codes and the
//! diagnostics reference.

use crate::common::{drumbeat, root};
use drumbeat::playbook::load::MAX_FILE_BYTES;
use drumbeat::playbook::load_paths;
use drumbeat::validate::{self, Code, Severity};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const INVALID: &str = "tests/fixtures/invalid";

/// Fixtures that are not named after one code: what each is for and codes it must produce.
const EXTRA_FIXTURES: &[(&str, &[Code])] = &[
    (
        "chinese-text-before-fault.yaml",
        &[Code::InvalidValue, Code::InvalidCron],
    ),
    (
        "many-problems.yaml",
        &[
            Code::InvalidId,
            Code::UnknownTimezone,
            Code::WrongType,
            Code::InvalidTime,
            Code::InvalidEnvReference,
            Code::MissingField,
            Code::UnknownField,
            Code::InvalidValue,
            Code::InvalidRegex,
            Code::InvalidCron,
            Code::SlotTiming,
            Code::InvalidDuration,
        ],
    ),
    (
        "many-checks.yaml",
        &[
            Code::UnknownTemplate,
            Code::DuplicateId,
            Code::SlotAlwaysQuiet,
            Code::UnknownChannel,
            Code::UnknownSlot,
            Code::ActivityAfterRuns,
            Code::PhaseWithoutStart,
            Code::TiersNotIncreasing,
            Code::UnusedTemplate,
        ],
    ),
];

/// Codes whose input cannot be committed: a file over the size limit is generated.
const GENERATED: &[Code] = &[Code::TooLarge];

/// Loads and checks paths through the library, as `validate` does.
fn codes_of(paths: &[PathBuf]) -> Vec<Code> {
    let mut loaded = load_paths(paths);
    validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

/// Where the fixture for a code lives: `<code>.yaml`, or a folder `<code>/` when the
/// problem needs several files (or none).
fn fixture_for(code: Code) -> Option<PathBuf> {
    let base = root().join(INVALID);
    let file = base.join(format!("{code}.yaml"));
    let dir = base.join(code.as_str());
    if file.is_file() {
        Some(file)
    } else if dir.is_dir() {
        Some(dir)
    } else {
        None
    }
}

#[test]
fn every_code_has_a_fixture() {
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !GENERATED.contains(c) && fixture_for(**c).is_none())
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a fixture in {INVALID}: {missing:?}"
    );
}

#[test]
fn every_fixture_produces_its_code() {
    let mut wrong = Vec::new();
    for &code in Code::ALL {
        if GENERATED.contains(&code) {
            continue;
        }
        let Some(path) = fixture_for(code) else {
            continue; // reported by every_code_has_a_fixture
        };
        let found = codes_of(&[path]);
        if !found.contains(&code) {
            wrong.push(format!("{code}: found {found:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "fixtures that miss their code:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_file_over_the_limit_produces_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&path).unwrap();
    // A sparse file: the size is what matters, and it is refused before reading.
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    assert_eq!(codes_of(&[path]), vec![Code::TooLarge]);
}

#[test]
fn extra_fixtures_produce_what_they_are_for() {
    for (name, expected) in EXTRA_FIXTURES {
        let found: BTreeSet<Code> = codes_of(&[root().join(INVALID).join(name)])
            .into_iter()
            .collect();
        let wanted: BTreeSet<Code> = expected.iter().copied().collect();
        assert!(
            wanted.is_subset(&found),
            "{name}: missing {:?}",
            wanted.difference(&found).collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_fixture_is_named_after_a_code_or_listed() {
    let mut stray = Vec::new();
    for e in std::fs::read_dir(root().join(INVALID)).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let code = name.strip_suffix(".yaml").unwrap_or(&name);
        if Code::from_name(code).is_none() && !EXTRA_FIXTURES.iter().any(|(n, _)| *n == name) {
            stray.push(name);
        }
    }
    assert!(stray.is_empty(), "fixtures that name no code: {stray:?}");
}

#[test]
fn many_problems_are_all_reported_in_one_run() {
    let out = drumbeat(["validate", &format!("{INVALID}/many-problems.yaml")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let blocks =
        out.stderr.matches("\nerror[").count() + usize::from(out.stderr.starts_with("error["));
    assert_eq!(blocks, 20, "{}", out.stderr);
    assert!(
        out.stderr.ends_with("error: 20 errors in 1 file\n"),
        "{}",
        out.stderr
    );
}

/// Human output of a fixture through the real binary, as it is snapshot: exit code, then
/// stderr. Human output never writes to stdout.
fn human_report(path: &str) -> String {
    let out = drumbeat(["validate", path]);
    assert_eq!(out.stdout, "", "human output goes to stderr");
    format!("exit: {}\n{}", out.code, out.stderr)
}

fn relative(path: &Path) -> String {
    let root = root().canonicalize().unwrap();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn invalid_fixtures_human_output() {
    insta::glob!("fixtures/invalid/*.yaml", |path| {
        insta::assert_snapshot!(human_report(&relative(path)));
    });
}

#[test]
fn folder_fixtures_human_output() {
    insta::assert_snapshot!("io", human_report(&format!("{INVALID}/io")));
    insta::assert_snapshot!(
        "duplicate_community",
        human_report(&format!("{INVALID}/duplicate-community"))
    );
}

/// Terminal cells a character takes: two for East Asian wide characters. Enough for the
/// Han text and full-width punctuation the fixtures use.
fn cells(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
            0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// For every diagnostic of every fixture: the caret under the source line starts at the
/// terminal cell where the JSON output's column starts. JSON counts characters, the
/// terminal counts cells; they agree only if Chinese text is measured right.
#[test]
fn carets_land_on_the_reported_column() {
    let mut checked = 0;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(INVALID))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    for path in paths {
        let rel = relative(&path.canonicalize().unwrap());
        let human = drumbeat(["validate", &rel]).stderr;
        let json = drumbeat(["validate", &rel, "--format", "json"]).stdout;
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let diags = json["diagnostics"].as_array().unwrap();
        let blocks: Vec<&str> = human
            .split("\n\n")
            .filter(|b| b.starts_with("error[") || b.starts_with("warning["))
            .collect();
        assert_eq!(blocks.len(), diags.len(), "{rel}:\n{human}");
        for (block, d) in blocks.iter().zip(diags) {
            let Some(line) = d["line"].as_u64() else {
                continue;
            };
            let column = d["column"].as_u64().unwrap() as usize;
            let lines: Vec<&str> = block.lines().collect();
            let prefix = format!("{line} |");
            let i = lines
                .iter()
                .position(|l| {
                    let l = l.trim_start();
                    l == prefix || l.starts_with(&format!("{prefix} "))
                })
                .unwrap_or_else(|| panic!("{rel}: no source line {line} in\n{block}"));
            let source_line = lines[i];
            if source_line.ends_with("...") {
                continue; // a long line, shortened around the span
            }
            let bar = source_line.find(" |").unwrap() + 3;
            let text = source_line.get(bar..).unwrap_or("");
            let carets = lines[i + 1];
            let caret = carets
                .find('^')
                .unwrap_or_else(|| panic!("{rel}: no caret under line {line} in\n{block}"));
            let expected: String = text.chars().take(column - 1).collect();
            assert_eq!(
                cells(&carets[bar..caret]),
                cells(&expected),
                "{rel}: caret not under column {column}:\n{block}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} carets checked");
}

#[test]
fn chinese_fixture_underlines_exactly_the_value() {
    let out = drumbeat([
        "validate",
        &format!("{INVALID}/chinese-text-before-fault.yaml"),
    ]);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let kind = lines
        .iter()
        .position(|l| l.contains("kind: 服务型"))
        .unwrap();
    // 服务型 is three characters, six cells wide: six carets.
    assert!(
        lines[kind + 1].trim_end().ends_with(" ^^^^^^"),
        "{}",
        out.stderr
    );
    let cron = lines
        .iter()
        .position(|l| l.contains("cron: \"0 12 * * 周一\""))
        .unwrap();
    // "0 12 * * 周一" with its quotes: 13 characters, 15 cells.
    assert!(
        lines[cron + 1]
            .trim_end()
            .ends_with(&format!(" {}", "^".repeat(15))),
        "{}",
        out.stderr
    );
}

#[test]
fn clean_run_is_quiet() {
    let out = drumbeat(["validate", "tests/fixtures/valid"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "ok: 1 playbook, no problems\n");
}

#[test]
fn exit_codes() {
    let v = |args: &[&str]| drumbeat(["validate"].iter().chain(args)).code;
    let f = |name: &str| format!("{INVALID}/{name}");
    assert_eq!(v(&["tests/fixtures/valid/spec-example.yaml"]), 0);
    assert_eq!(v(&[&f("unused-template.yaml")]), 0, "warnings alone pass");
    assert_eq!(v(&[&f("unused-template.yaml"), "--deny-warnings"]), 1);
    assert_eq!(v(&[&f("unknown-template.yaml")]), 1);
    assert_eq!(v(&[&f("yaml-syntax.yaml")]), 2);
    assert_eq!(v(&["no/such/playbook.yaml"]), 2);
    assert_eq!(v(&[&f("io")]), 2, "a folder without playbooks");
    // Unusable input wins, and the other file's problems are still reported.
    let out = drumbeat(["validate", &f("unknown-template.yaml"), &f("not-utf8.yaml")]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("error[unknown-template]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("error[not-utf8]"), "{}", out.stderr);
    assert!(
        out.stderr
            .ends_with("error: 2 errors and 1 warning in 2 files\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_path_is_named() {
    let out = drumbeat(["validate", "no/such/playbook.yaml"]);
    assert_eq!(
        out.stderr,
        "error[io]: no/such/playbook.yaml: no such file or folder\n--> no/such/playbook.yaml\n\nerror: 1 error in 1 file\n"
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let f = format!("{INVALID}/unknown-template.yaml");
    // The test harness sets NO_COLOR and output is a pipe: no colour by default.
    assert!(!drumbeat(["validate", &f]).stderr.contains('\x1b'));
    assert!(
        !drumbeat(["validate", &f, "--color", "never"])
            .stderr
            .contains('\x1b')
    );
    let always = drumbeat(["validate", &f, "--color", "always"]).stderr;
    assert!(always.contains("\x1b["), "{always:?}");
    // Machine formats are never coloured.
    let json = drumbeat(["validate", &f, "--color", "always", "--format", "json"]).stdout;
    assert!(!json.contains('\x1b'));
}

#[test]
fn json_document_shape() {
    let out = drumbeat([
        "validate",
        &format!("{INVALID}/duplicate-community"),
        "tests/fixtures/valid/spec-example.yaml",
        "no/such.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(
        v["summary"],
        serde_json::json!({"errors": 2, "warnings": 0, "files": 3, "playbooks": 3})
    );
    let diags = v["diagnostics"].as_array().unwrap();
    let keys = [
        "code",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "byte_start",
        "byte_end",
        "hint",
        "labels",
    ];
    for d in diags {
        let obj = d.as_object().unwrap();
        let have: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(have, keys.iter().copied().collect(), "{d}");
    }
    let io = diags.iter().find(|d| d["code"] == "io").unwrap();
    assert_eq!(io["file"], "no/such.yaml");
    assert!(io["line"].is_null() && io["byte_start"].is_null());
    let dup = diags
        .iter()
        .find(|d| d["code"] == "duplicate-community")
        .unwrap();
    assert_eq!(
        dup["file"],
        "tests/fixtures/invalid/duplicate-community/second.yaml"
    );
    assert_eq!(
        (dup["line"].as_u64(), dup["column"].as_u64()),
        (Some(4), Some(7))
    );
    assert_eq!(
        (dup["end_line"].as_u64(), dup["end_column"].as_u64()),
        (Some(4), Some(19))
    );
    let label = &dup["labels"][0];
    assert_eq!(
        label["file"],
        "tests/fixtures/invalid/duplicate-community/first.yaml"
    );
    assert_eq!(label["message"], "first used here");
    assert_eq!(label["line"], 4);
    // Byte offsets name exactly the id.
    let text =
        std::fs::read_to_string(root().join(INVALID).join("duplicate-community/second.yaml"))
            .unwrap();
    let (a, b) = (
        dup["byte_start"].as_u64().unwrap() as usize,
        dup["byte_end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[a..b], "reading-club");
}

#[test]
fn github_annotations() {
    let out = drumbeat([
        "validate",
        &format!("{INVALID}/unknown-template.yaml"),
        "--format",
        "github",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout,
        "::error file=tests/fixtures/invalid/unknown-template.yaml,line=12,endLine=12,col=45,endColumn=50,title=drumbeat unknown-template::unknown template `mornin`%0Ahelp: did you mean `morning`?\n\
         ::warning file=tests/fixtures/invalid/unknown-template.yaml,line=15,endLine=15,col=3,endColumn=9,title=drumbeat unused-template::template `morning` is never used%0Ahelp: remove it, or refer to it from a slot, the entry, a rule or a reward\n"
    );
    assert_eq!(out.stderr, "error: 1 error and 1 warning in 1 file\n");
}

#[test]
fn github_columns_count_characters_after_chinese() {
    let out = drumbeat([
        "validate",
        &format!("{INVALID}/chinese-text-before-fault.yaml"),
        "--format",
        "github",
    ]);
    let first = out.stdout.lines().next().unwrap();
    // `kind: 服务型` starts at character 57 of line 3; the value is 3 characters long.
    assert!(
        first.contains(",line=3,endLine=3,col=57,endColumn=59,"),
        "{first}"
    );
}

#[test]
fn sarif_log() {
    let sarif = |path: &str| {
        let out = drumbeat(["validate", path, "--format", "sarif"]);
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    let warning = sarif(&format!("{INVALID}/unused-template.yaml"));
    assert_eq!(warning["runs"][0]["results"][0]["level"], "warning");
    let out = drumbeat([
        "validate",
        &format!("{INVALID}/duplicate-community"),
        "--format",
        "sarif",
    ]);
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "drumbeat");
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), Code::ALL.len());
    for (rule, code) in rules.iter().zip(Code::ALL) {
        assert_eq!(rule["id"], code.as_str());
        let text = rule["shortDescription"]["text"].as_str().unwrap();
        assert!(text.len() > 20 && !text.contains('\n'), "{code}: {text}");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let dup = &results[0];
    assert_eq!(dup["ruleId"], "duplicate-community");
    let index = dup["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "duplicate-community");
    assert_eq!(dup["level"], "error");
    let region = &dup["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 4);
    assert_eq!(region["startColumn"], 7);
    assert_eq!(region["endColumn"], 19);
    assert_eq!(region["byteLength"], 12);
    assert_eq!(
        dup["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "tests/fixtures/invalid/duplicate-community/second.yaml"
    );
    assert_eq!(
        dup["relatedLocations"][0]["message"]["text"],
        "first used here"
    );
}

/// The `### \`code\` — severity` headings of docs/diagnostics.md.
fn documented_codes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("docs/diagnostics.md")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .map(|rest| {
            let (code, after) = rest.split_once('`').expect("heading closes its code");
            let severity = after.trim().trim_start_matches('—').trim();
            (code.to_string(), severity.to_string())
        })
        .collect()
}

#[test]
fn every_code_is_documented_with_example_and_fix() {
    let documented = documented_codes();
    for code in Code::ALL {
        let found: Vec<&(String, String)> = documented
            .iter()
            .filter(|(c, _)| c == code.as_str())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "docs/diagnostics.md: `{code}` needs exactly one entry"
        );
        let severity = match code.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        assert_eq!(
            found[0].1, severity,
            "docs/diagnostics.md: severity of `{code}`"
        );
        let entry = validate::render::explain(*code).unwrap();
        assert!(entry.contains("\n```"), "`{code}` has no example");
        assert!(entry.contains("**Fix:**"), "`{code}` has no fix");
        assert_eq!(
            entry.contains("*Unusable input.*"),
            code.is_unusable_input(),
            "`{code}`: say *Unusable input.* exactly for the codes that exit with 2"
        );
    }
    for (c, _) in &documented {
        assert!(
            Code::from_name(c).is_some(),
            "docs/diagnostics.md documents unknown code `{c}`"
        );
    }
}

#[test]
fn explain_prints_the_entry() {
    let out = drumbeat(["explain", "unknown-template"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.starts_with("### `unknown-template` — error\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("**Fix:**"));
    assert!(
        !out.stdout.contains("### `unknown-channel`"),
        "one entry only"
    );
    let out = drumbeat(["explain", "error[slot-timing]"]);
    assert!(
        out.stdout.starts_with("### `slot-timing`"),
        "{}",
        out.stdout
    );
    let out = drumbeat(["explain", "unknwn-field"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: unknown diagnostic code `unknwn-field`; did you mean `unknown-field`?\n"
    );
}
