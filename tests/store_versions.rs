//! Stores written by earlier versions of drumbeat open with this one, are carried forward,
//! and lose nothing: every command shows what it showed then.

use crate::common::drumbeat_in;
use std::path::Path;

/// Copies the store of `version` (tests/fixtures/stores/VERSION) into a fresh folder.
fn copy_of(version: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let from = crate::common::root()
        .join("tests/fixtures/stores")
        .join(version);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    (dir, from)
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = drumbeat_in(dir, args);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", out.stdout))
}

fn saved(from: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(from.join(name)).unwrap()).unwrap()
}

#[test]
fn a_version_4_store_is_carried_forward_with_nothing_lost() {
    let (dir, from) = copy_of("v4");
    let store = "sqlite://./state.db";
    let at = "2026-12-04T12:00:00+08:00";
    let d = dir.path();
    assert_eq!(
        json(d, &["status", "--store", store, "--format", "json"]),
        saved(&from, "status.json")
    );
    assert_eq!(
        json(
            d,
            &[
                "members", "list", "--store", store, "--format", "json", "--at", at
            ]
        ),
        saved(&from, "members.json")
    );
    for m in ["u-1", "u-2", "u-3", "u-9"] {
        let shown = json(
            d,
            &[
                "members", "show", m, "--store", store, "--format", "json", "--at", at,
            ],
        );
        assert_eq!(shown, saved(&from, &format!("member-{m}.json")), "{m}");
        let ledger = json(d, &["ledger", m, "--store", store, "--format", "json"]);
        assert_eq!(ledger, saved(&from, &format!("ledger-{m}.json")), "{m}");
    }
    let draw = "tea-club/weekly/20261204T120000Z";
    let out = drumbeat_in(d, ["lottery", "replay", draw, "--store", store]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        std::fs::read_to_string(from.join("draw.txt")).unwrap()
    );
}
