//! Specs for `init`, and for the example playbooks a user copies.

use crate::common::{drumbeat, drumbeat_in, root};
use std::path::Path;

const KINDS: [&str; 3] = ["service", "sales", "resource"];

fn starter(kind: &str) -> String {
    let path = root().join("src/cli/starters").join(format!("{kind}.yaml"));
    std::fs::read_to_string(path).expect("the starter is in the source tree")
}

/// `validate --deny-warnings` exits 0 only when there is no error and no warning.
fn assert_clean(dir: &Path, target: &str) {
    let out = drumbeat_in(dir, ["validate", "--deny-warnings", target]);
    assert_eq!(out.code, 0, "{target}:\n{}{}", out.stdout, out.stderr);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("warning"), "{target}:\n{text}");
        assert!(!text.contains("error"), "{target}:\n{text}");
    }
}

#[test]
fn each_kind_writes_its_starter_and_the_starter_validates_clean() {
    for kind in KINDS {
        let tmp = tempfile::tempdir().unwrap();
        let out = drumbeat_in(tmp.path(), ["init", "--kind", kind, "camp"]);
        assert_eq!(out.code, 0, "{kind}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{kind}");
        let written = tmp.path().join("camp").join(format!("{kind}.yaml"));
        assert_eq!(std::fs::read_to_string(&written).unwrap(), starter(kind));
        assert_clean(tmp.path(), &format!("camp/{kind}.yaml"));
    }
}

#[test]
fn prints_what_it_wrote_and_the_next_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "--kind", "sales", "playbooks"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "wrote playbooks/sales.yaml (a sales community starter)\n\
         \n\
         next steps:\n\
         \x20 drumbeat validate playbooks/sales.yaml                         # check it\n\
         \x20 drumbeat render playbooks/sales.yaml welcome                   # preview a message\n\
         \x20 drumbeat plan playbooks/sales.yaml --from 2027-01-04 --days 7  # what is sent when\n\
         \x20 drumbeat schema > playbooks/playbook.schema.json               # field completion in editors\n"
    );
}

#[test]
fn the_kind_defaults_to_service() {
    let tmp = tempfile::tempdir().unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "."]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "wrote ./service.yaml (a service community starter)\n\
         \n\
         next steps:\n\
         \x20 drumbeat validate ./service.yaml          # check it\n\
         \x20 drumbeat render ./service.yaml welcome    # preview a message\n\
         \x20 drumbeat plan ./service.yaml --days 7     # what is sent when\n\
         \x20 drumbeat schema > ./playbook.schema.json  # field completion in editors\n"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("service.yaml")).unwrap(),
        starter("service")
    );
}

#[test]
fn a_path_with_a_space_is_quoted_in_the_next_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "--kind", "resource", "my groups"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("wrote 'my groups/resource.yaml' (a resource community starter)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  drumbeat validate 'my groups/resource.yaml'  "),
        "{}",
        out.stdout
    );
    assert!(tmp.path().join("my groups/resource.yaml").is_file());
}

#[test]
fn starters_of_every_kind_share_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let out = drumbeat_in(tmp.path(), ["init", "--kind", kind, "playbooks"]);
        assert_eq!(out.code, 0, "{kind}: {}", out.stderr);
    }
    // Their community ids differ, so the folder validates as a whole.
    assert_clean(tmp.path(), "playbooks");
}

#[test]
fn refuses_to_overwrite_an_existing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("camp");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("service.yaml"), "# my own playbook\n").unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "camp"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: camp/service.yaml already exists; nothing was written\n\
         \x20 = help: pass --force to replace it, or choose another folder\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("service.yaml")).unwrap(),
        "# my own playbook\n"
    );
    // Another kind goes to another file, so it is not refused.
    let out = drumbeat_in(tmp.path(), ["init", "--kind", "sales", "camp"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn force_replaces_an_existing_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("sales.yaml"),
        "# old, and longer than nothing\n",
    )
    .unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "--kind", "sales", "--force", "."]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("sales.yaml")).unwrap(),
        starter("sales")
    );
}

#[test]
fn an_unknown_kind_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "--kind", "shop", "camp"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("invalid value 'shop' for '--kind <KIND>'"),
        "{}",
        out.stderr
    );
    assert!(!tmp.path().join("camp").exists());
}

#[test]
fn a_folder_that_cannot_be_created_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("taken"), "a file, not a folder").unwrap();
    let out = drumbeat_in(tmp.path(), ["init", "taken"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("error: cannot create taken: "),
        "{}",
        out.stderr
    );
}

#[test]
fn starters_point_editors_at_the_schema() {
    for kind in KINDS {
        let text = starter(kind);
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=playbook.schema.json"),
            "{kind}"
        );
    }
}

#[test]
fn the_example_playbooks_validate_clean() {
    let out = drumbeat(["validate", "--deny-warnings", "playbooks/"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for name in [
        "fitness-camp.yaml",
        "course-conversion.yaml",
        "creator-exchange.yaml",
    ] {
        let text = std::fs::read_to_string(root().join("playbooks").join(name)).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../schemas/playbook.schema.json"),
            "{name}"
        );
    }
}
