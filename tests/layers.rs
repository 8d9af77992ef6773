//! Specs for the layering of `src/`: the check `cargo run --example modules` runs, on the
//! crate itself and on small made-up crates that break it.

#[path = "../examples/modules.rs"]
mod modules;

use modules::{Graph, Problem};
use std::path::Path;

/// A `src/` folder of the given files (path under `src/`, text).
fn crate_of(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join("src").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn graph_of(files: &[(&str, &str)]) -> Graph {
    let dir = crate_of(files);
    Graph::read(&dir.path().join("src")).unwrap()
}

#[test]
fn drumbeat_has_no_cycle_and_a_core_free_of_the_runtime() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).unwrap();
    let problems: Vec<String> = graph.problems().iter().map(|p| p.to_string()).collect();
    assert!(problems.is_empty(), "{}\n{graph}", problems.join("\n"));
    // The graph is read at all: the layers the docs describe are there.
    let names = |m: &str| -> Vec<&str> { graph.edges[m].keys().map(String::as_str).collect() };
    assert_eq!(names("diag"), ["source"], "{graph}");
    assert!(names("validate").contains(&"diag"), "{graph}");
    assert!(names("runtime").contains(&"server"), "{graph}");
    assert!(!names("server").contains(&"runtime"), "{graph}");
}

#[test]
fn a_cycle_through_crate_paths_and_super_is_found_with_its_places() {
    let graph = graph_of(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        ("b/mod.rs", "mod inner;\n"),
        // Two `super` from b::inner reach the crate's root.
        ("b/inner.rs", "\n\nfn f() { super::super::c::g() }\n"),
        ("c.rs", "pub fn g() { crate::{a::h, b}::x(); }\n"),
    ]);
    assert_eq!(
        graph.to_string(),
        "a -> b\nb -> c\nc -> a, b\n",
        "{graph:#?}"
    );
    let problems = graph.problems();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(
        problems[0].to_string(),
        "cycle: a -> b -> c -> a\n  a -> b at src/a.rs:1\n  b -> c at src/b/inner.rs:3\n  c -> a at src/c.rs:1"
    );
}

#[test]
fn super_counts_inline_modules() {
    let graph = graph_of(&[
        (
            "x.rs",
            "#[cfg(test)]\nmod tests {\n    use super::y::Y;\n    fn f() { super::super::z::Z; }\n}\n",
        ),
        ("y.rs", ""),
        (
            "z.rs",
            "mod inner { fn f() { super::helper() } }\nfn helper() {}\n",
        ),
    ]);
    // `super::y` in x::tests is x::y, inside x; `super::super::z` is the root's z.
    assert_eq!(graph.to_string(), "x -> z\ny ->\nz ->\n");
    assert!(graph.problems().is_empty());
}

#[test]
fn comments_and_literals_name_nothing() {
    let graph = graph_of(&[
        (
            "rules.rs",
            "//! See crate::store and tokio::spawn.\n\
             /* crate::store /* nested tokio::x */ crate::store */\n\
             const A: &str = \"crate::store \\\" tokio::x\";\n\
             const B: &str = r#\"crate::store \" tokio::x\"#;\n\
             const C: char = '\"';\n\
             fn f<'a>(s: &'a str) -> &'a str { s } // crate::store\n",
        ),
        ("store.rs", "use crate::rules;\n"),
    ]);
    assert_eq!(graph.to_string(), "rules ->\nstore -> rules\n");
    assert!(graph.problems().is_empty());
}

#[test]
fn the_core_may_not_name_runtime_crates_or_modules_above_it() {
    let graph = graph_of(&[
        ("rules/mod.rs", "mod engine;\n"),
        (
            "rules/engine.rs",
            "use std::sync::Arc;\n\nuse tokio::sync::Mutex;\nfn f() { crate::store::open(); }\n",
        ),
        ("events.rs", "#[tokio::test]\nasync fn t() {}\n"),
        // Outside the core, a runtime crate is fine.
        ("store.rs", "use sqlx::Pool;\n"),
    ]);
    let problems = graph.problems();
    assert!(matches!(problems[0], Problem::CoreNamesCrate { .. }));
    let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        [
            "core module `events` names the runtime crate `tokio` at src/events.rs:1",
            "core module `rules` names `store`, which is not in the core, at src/rules/engine.rs:4",
            "core module `rules` names the runtime crate `tokio` at src/rules/engine.rs:3",
        ]
    );
}
