//! Specs for hostile and broken input: each gets a clear diagnostic with its position and
//! the right exit code, and nothing crashes, hangs or grows without bound. Inputs are
//! generated in a temporary folder; the real executable reads them.

use crate::common::{drumbeat_in, root};
use drumbeat::diag::{self, Code, Diagnostics};
use drumbeat::playbook::load::{Loaded, MAX_DEPTH, MAX_FILE_BYTES, load_bytes, load_source};
use drumbeat::source::SourceMap;
use drumbeat::validate;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One diagnostic as the JSON output gives it.
#[derive(Debug, PartialEq)]
struct Found {
    code: String,
    line: Option<u64>,
    column: Option<u64>,
}

struct Run {
    exit: i32,
    diags: Vec<Value>,
    human: String,
}

impl Run {
    fn found(&self) -> Vec<Found> {
        self.diags
            .iter()
            .map(|d| Found {
                code: d["code"].as_str().unwrap().to_string(),
                line: d["line"].as_u64(),
                column: d["column"].as_u64(),
            })
            .collect()
    }

    fn codes(&self) -> Vec<String> {
        self.found().into_iter().map(|f| f.code).collect()
    }
}

fn found(code: &str, line: u64, column: u64) -> Found {
    Found {
        code: code.into(),
        line: Some(line),
        column: Some(column),
    }
}

/// Writes `bytes` as `name` in a fresh folder and validates it twice: JSON for the
/// positions, human for what a person sees.
fn validate(name: &str, bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    validate_in(dir.path(), name)
}

fn validate_in(dir: &Path, name: &str) -> Run {
    let json = drumbeat_in(dir, ["validate", name, "--format", "json"]);
    let human = drumbeat_in(dir, ["validate", name]);
    assert_eq!(json.code, human.code, "both formats exit alike");
    assert!(
        (0..=2).contains(&json.code),
        "exit {} (a crash?)\n{}",
        json.code,
        json.stderr
    );
    let v: Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", json.stdout));
    Run {
        exit: json.code,
        diags: v["diagnostics"].as_array().unwrap().clone(),
        human: human.stderr,
    }
}

fn valid_playbook() -> String {
    std::fs::read_to_string(root().join("tests/fixtures/valid/spec-example.yaml")).unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures/invalid").join(name)).unwrap()
}

#[test]
fn not_yaml() {
    let r = validate(
        "notes.yaml",
        "group rules: [no ads\nno spam: {\n".as_bytes(),
    );
    assert_eq!(r.exit, 2);
    assert_eq!(r.codes(), ["yaml-syntax"]);
    assert!(r.diags[0]["line"].as_u64().is_some());
    assert!(r.human.contains("error[yaml-syntax]"), "{}", r.human);
}

#[test]
fn prose_is_a_single_value_not_a_playbook() {
    let r = validate(
        "readme.yaml",
        "这是一个读书群的介绍,不是剧本。\n".as_bytes(),
    );
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("not-a-mapping", 1, 1)]);
}

#[test]
fn empty_file() {
    let r = validate("empty.yaml", b"");
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("empty-file", 1, 1)]);
    assert!(r.human.contains("drumbeat init"), "{}", r.human);
}

#[test]
fn only_comments_blank_lines_and_markers() {
    for text in [
        "# todo\n\n   # later\n",
        "---\n# nothing yet\n...\n",
        "  \n\t\n",
    ] {
        let r = validate("todo.yaml", text.as_bytes());
        assert_eq!(r.exit, 2, "{text:?}");
        assert_eq!(r.found(), [found("empty-file", 1, 1)], "{text:?}");
    }
}

#[test]
fn binary_file() {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00".to_vec();
    bytes.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    let r = validate("a.out.yaml", &bytes);
    assert_eq!(r.exit, 2);
    assert_eq!(r.codes(), ["binary-file"]);
}

#[test]
fn nul_bytes_in_text_point_at_the_first_one() {
    let r = validate("half.yaml", b"version: 1\ncommunity:\0\0\0\n");
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("binary-file", 2, 11)]);
}

#[test]
fn fifty_megabytes_are_refused_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.yaml");
    // Real content, all valid YAML: were it read and parsed, it would give other problems.
    let line = b"k: v\n";
    let mut data = Vec::with_capacity(50 << 20);
    while data.len() < 50 << 20 {
        data.extend_from_slice(line);
    }
    std::fs::write(&path, &data).unwrap();
    let r = validate_in(dir.path(), "dump.yaml");
    assert_eq!(r.exit, 2);
    assert_eq!(r.codes(), ["too-large"]);
    assert_eq!(r.diags[0]["file"], "dump.yaml");
    assert!(
        r.diags[0]["line"].is_null(),
        "no position: the file was not read"
    );
    assert!(
        r.human.contains(&format!(
            "dump.yaml is {} bytes; a playbook may be at most",
            data.len()
        )),
        "{}",
        r.human
    );
}

#[test]
fn bytes_over_the_limit_are_refused_when_loading_bytes() {
    let mut loaded = Loaded::default();
    load_bytes(
        &mut loaded,
        Path::new("big.yaml"),
        vec![b'#'; MAX_FILE_BYTES as usize + 1],
    );
    let codes: Vec<Code> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::TooLarge]);
    assert_eq!(loaded.sources.files().count(), 0, "the text is not kept");
}

#[cfg(target_os = "linux")]
#[test]
fn an_endless_device_is_refused_without_reading() {
    // /dev/zero reports size 0 and never ends: only regular files are read.
    let r = validate_in(Path::new("/"), "/dev/zero");
    assert_eq!(r.exit, 2);
    assert_eq!(r.codes(), ["io"]);
    assert!(
        r.human
            .contains("/dev/zero is a device, not a playbook file"),
        "{}",
        r.human
    );
}

#[test]
fn deep_flow_nesting() {
    let depth = 100_000;
    let text = format!("audience: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let r = validate("deep.yaml", text.as_bytes());
    assert_eq!(r.exit, 2);
    // The first bracket past the limit: after `audience: ` and MAX_DEPTH brackets.
    let column = ("audience: ".len() + MAX_DEPTH + 1) as u64;
    assert_eq!(r.found(), [found("too-deep", 1, column)]);
}

#[test]
fn deep_block_nesting() {
    let cases = [
        ("dashes", format!("audience:\n{}x\n", "- ".repeat(100_000))),
        ("question marks", format!("{}x\n", "? ".repeat(100_000))),
        (
            "explicit values",
            format!("? a\n: {}x\n", "- ".repeat(100_000)),
        ),
        ("mixed", format!("{}x\n", "- ? : ".repeat(30_000))),
        (
            "indentation",
            (0..2_000)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect(),
        ),
        (
            "indented dashes",
            (0..2_000)
                .map(|i| format!("{}-\n", " ".repeat(i)))
                .collect(),
        ),
    ];
    for (what, text) in cases {
        let r = validate("deep.yaml", text.as_bytes());
        assert_eq!(r.exit, 2, "{what}");
        assert_eq!(r.codes(), ["too-deep"], "{what}");
    }
}

/// Nesting that a naive count would miss (brackets after `x'y` or `b#`, which start no
/// quote or comment in YAML) is still counted.
#[test]
fn nesting_behind_apostrophes_and_hashes_is_counted() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for text in [format!("a: [x'y, {deep}]\n"), format!("a: [b#, {deep}]\n")] {
        let r = validate("deep.yaml", text.as_bytes());
        assert_eq!(r.exit, 2);
        assert_eq!(r.codes(), ["too-deep"]);
    }
}

/// The YAML parser loads nodes recursively. Input the pre-check lets through is at most
/// MAX_DEPTH block levels with MAX_DEPTH flow levels inside; should anything slip past
/// it, the parser itself stops at 255 flow levels. Both depths load on a thread with
/// Rust's default 2 MiB stack (the main thread has more).
#[test]
fn the_deepest_input_the_parser_can_see_does_not_overflow_its_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let allowed = format!(
                "{}{}x{}\n",
                "- ".repeat(MAX_DEPTH - 1),
                "[".repeat(MAX_DEPTH),
                "]".repeat(MAX_DEPTH)
            );
            let mut sources = SourceMap::new();
            let fid = sources.add("deep.yaml", allowed);
            let mut diags = Diagnostics::new();
            assert!(load_source(&sources, fid, &mut diags).is_none());
            let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
            assert_eq!(codes, [Code::NotAMapping]);

            let flow = |n: usize| format!("a: {}x{}\n", "{k: [".repeat(n), "]}".repeat(n));
            // 127 pairs of `{` and `[` are 254 flow levels: parsed.
            let parsed = marked_yaml::parse_yaml(0, flow(127));
            assert!(parsed.is_ok(), "{parsed:?}");
            let refused = marked_yaml::parse_yaml(0, flow(100_000)).unwrap_err();
            assert!(
                refused.to_string().contains("recursion limit exceeded"),
                "{refused}"
            );
        })
        .unwrap();
    handle.join().expect("no panic, no overflow");
}

#[test]
fn alias_bomb() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let r = validate("lol.yaml", text.as_bytes());
    assert_eq!(r.exit, 2);
    // Refused at the first anchor, before any alias is expanded.
    assert_eq!(r.found(), [found("yaml-anchor", 1, 4)]);
}

#[test]
fn a_list_instead_of_a_mapping() {
    let r = validate("list.yaml", "- version: 1\n- community: {}\n".as_bytes());
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("not-a-mapping", 1, 1)]);
}

#[test]
fn a_single_value_instead_of_a_mapping() {
    for text in ["42\n", "\"欢迎\"\n", "true\n", "~\n"] {
        let r = validate("scalar.yaml", text.as_bytes());
        assert_eq!(r.exit, 2, "{text:?}");
        assert_eq!(r.found(), [found("not-a-mapping", 1, 1)], "{text:?}");
    }
}

/// GBK-encoded Chinese, as older Windows editors save it.
fn gbk(text: &str) -> Vec<u8> {
    // The GBK codes of the characters used here.
    let table: &[(char, [u8; 2])] = &[
        ('读', [0xB6, 0xC1]),
        ('书', [0xCA, 0xE9]),
        ('群', [0xC8, 0xBA]),
    ];
    let mut out = Vec::new();
    for c in text.chars() {
        match table.iter().find(|(k, _)| *k == c) {
            Some((_, b)) => out.extend_from_slice(b),
            None => {
                assert!(c.is_ascii(), "no GBK code for {c}");
                out.push(c as u8);
            }
        }
    }
    out
}

#[test]
fn gbk_encoded_chinese() {
    let bytes = gbk("version: 1\ncommunity:\n  id: reading\n  name: 读书群\n");
    let r = validate("gbk.yaml", &bytes);
    assert_eq!(r.exit, 2);
    // The first byte that is not UTF-8: the first byte of 读, line 4, after `  name: `.
    assert_eq!(r.found(), [found("not-utf8", 4, 9)]);
    assert!(r.human.contains("save the file as UTF-8"), "{}", r.human);
}

#[test]
fn tabs_for_indentation() {
    let text = "version: 1\ncommunity:\n\tid: reading-club\n\tname: 读书群\n";
    let r = validate("tabs.yaml", text.as_bytes());
    assert_eq!(r.exit, 2);
    assert_eq!(r.codes(), ["yaml-syntax"]);
    assert_eq!(r.diags[0]["line"], 3);
    assert_eq!(
        r.diags[0]["hint"], "YAML indentation uses spaces, not tabs",
        "{}",
        r.human
    );
}

#[test]
fn duplicate_keys() {
    let text = "version: 1\ncommunity:\n  id: a\n  name: 读书群\n  id: b\n";
    let r = validate("dup.yaml", text.as_bytes());
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("duplicate-key", 5, 3)]);
    let label = &r.diags[0]["labels"][0];
    assert_eq!(
        (label["line"].as_u64(), label["column"].as_u64()),
        (Some(3), Some(3))
    );

    // Quoted Chinese keys, after a block of Chinese text: the spans cover the keys as
    // written, quotes included (this once cut a character in two and crashed the output).
    let text = "t: |\n  读书打卡\n\"读书\": 1\n\"读书\": 2\n";
    let r = validate("dup.yaml", text.as_bytes());
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("duplicate-key", 4, 1)]);
    let d = &r.diags[0];
    let (a, b) = (
        d["byte_start"].as_u64().unwrap(),
        d["byte_end"].as_u64().unwrap(),
    );
    assert_eq!(&text[a as usize..b as usize], "\"读书\"");
    assert_eq!(d["labels"][0]["line"], 3);
    assert!(r.human.contains("^^^^^^"), "{}", r.human);
}

#[test]
fn a_second_document_is_not_silently_dropped() {
    let mut text = valid_playbook();
    text.push_str("---\nversion: 1\n");
    let line = text.lines().count() as u64 - 1;
    let r = validate("two.yaml", text.as_bytes());
    assert_eq!(r.exit, 2);
    assert_eq!(r.found(), [found("yaml-syntax", line, 1)]);
    // A leading marker, a final `...` and directives are fine.
    let ok = format!("%YAML 1.2\n---\n{}...\n# end\n", valid_playbook());
    assert_eq!(validate("one.yaml", ok.as_bytes()).exit, 0);
}

#[test]
fn windows_line_endings() {
    let crlf = |s: &str| s.replace('\n', "\r\n");
    let r = validate("crlf.yaml", crlf(&valid_playbook()).as_bytes());
    assert_eq!((r.exit, r.codes().len()), (0, 0), "{}", r.human);

    let lf = validate("x.yaml", fixture("many-checks.yaml").as_bytes());
    let r = validate("x.yaml", crlf(&fixture("many-checks.yaml")).as_bytes());
    assert_eq!(r.found(), lf.found(), "same lines and columns as with LF");
    assert!(!r.human.contains('\r'), "{:?}", r.human);
    assert_eq!(r.human, lf.human);
}

#[test]
fn byte_order_mark() {
    let bom = |s: &str| format!("\u{feff}{s}");
    let r = validate("bom.yaml", bom(&valid_playbook()).as_bytes());
    assert_eq!((r.exit, r.codes().len()), (0, 0), "{}", r.human);

    // The mark takes no column: positions are those of the file without it.
    let plain = validate(
        "x.yaml",
        fixture("chinese-text-before-fault.yaml").as_bytes(),
    );
    let r = validate(
        "x.yaml",
        bom(&fixture("chinese-text-before-fault.yaml")).as_bytes(),
    );
    assert_eq!(r.found(), plain.found());
    assert_eq!(r.human, plain.human);
}

#[test]
fn all_of_it_at_once_in_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, Vec<u8>)] = &[
        ("a-empty.yaml", b"".to_vec()),
        ("b-binary.yaml", b"\x00\x01\x02".to_vec()),
        ("c-gbk.yaml", gbk("name: 读书群\n")),
        ("d-list.yml", b"- a\n- b\n".to_vec()),
        ("e-ok.yaml", valid_playbook().into_bytes()),
        ("f-typo.yaml", fixture("unknown-template.yaml").into_bytes()),
        ("notes.txt", b"not a playbook, not looked at".to_vec()),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let r = validate_in(dir.path(), ".");
    assert_eq!(r.exit, 2);
    let by_file: Vec<(String, String)> = r
        .diags
        .iter()
        .map(|d| {
            let f = PathBuf::from(d["file"].as_str().unwrap());
            let f = f.file_name().unwrap().to_string_lossy().into_owned();
            (f, d["code"].as_str().unwrap().to_string())
        })
        .collect();
    let expect = [
        ("a-empty.yaml", "empty-file"),
        ("b-binary.yaml", "binary-file"),
        ("c-gbk.yaml", "not-utf8"),
        ("d-list.yml", "not-a-mapping"),
        ("f-typo.yaml", "unknown-template"),
        ("f-typo.yaml", "unused-template"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(by_file, expect);
    assert!(
        r.human
            .ends_with("error: 5 errors and 1 warning in 5 files\n"),
        "{}",
        r.human
    );
}

/// Every file of the fuzz corpus (fuzz/corpus/load/) through the loader and the checks,
/// as the fuzz target does, so CI covers it without a nightly compiler.
#[test]
fn fuzz_corpus_replays_cleanly() {
    let dir = root().join("fuzz/corpus/load");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let mut loaded = Loaded::default();
        load_bytes(&mut loaded, &path, bytes);
        validate::check(&loaded.playbooks, &mut loaded.diagnostics);
        // Whatever was found must render in every format.
        let diags = loaded.diagnostics.into_vec();
        let summary = diag::render::Summary::of(&loaded.sources, &diags, loaded.playbooks.len());
        let _ = diag::render::human(&loaded.sources, &diags);
        let _ = diag::render::json(&loaded.sources, &diags, &summary);
        let _ = diag::render::github(&loaded.sources, &diags);
        let _ = diag::render::sarif(&loaded.sources, &diags);
        count += 1;
    }
    assert!(
        count >= 40,
        "only {count} corpus files in {}",
        dir.display()
    );
}

/// A named pipe with a playbook's name: opening it for reading would wait for a writer
/// forever. Only regular files are read; the pipe is named in a diagnostic and the rest of
/// the folder is still checked.
#[test]
fn a_named_pipe_named_like_a_playbook_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yaml"), valid_playbook()).unwrap();
    let fifo = dir.path().join("p.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    for args in [vec!["validate", "."], vec!["validate", "p.yaml"]] {
        let mut child = crate::common::command()
            .args(&args)
            .args(["--format", "json"])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A hang shows as no exit at all; a minute is far beyond any real run.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`drumbeat {}` hangs on a named pipe", args.join(" "));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "unusable input: {out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let diags = v["diagnostics"].as_array().unwrap();
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0]["code"], "io");
        assert!(
            diags[0]["file"].as_str().unwrap().ends_with("p.yaml"),
            "{diags:?}"
        );
        let message = diags[0]["message"].as_str().unwrap();
        assert!(
            message.contains("p.yaml") && message.contains("named pipe"),
            "{message}"
        );
    }
}
