//! Writes a folder of example-sized playbooks for timing `drumbeat validate` as a whole
//! process (issue 2's target: 1,000 playbooks in under 1 s).
//!
//! ```sh
//! cargo run --release --example playbook_folder -- /tmp/playbooks 1000
//! hyperfine --warmup 3 'target/release/drumbeat validate /tmp/playbooks'
//! ```
//!
//! Each file is the language's example (tests/fixtures/valid/spec-example.yaml) with its own
//! community id, since ids must be unique among the playbooks validated together.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: playbook_folder DIR [COUNT]");
        return ExitCode::from(2);
    };
    let count: usize = match args.next().map(|n| n.parse()) {
        None => 1000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("COUNT: {e}");
            return ExitCode::from(2);
        }
    };
    let model =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/spec-example.yaml");
    let text = std::fs::read_to_string(&model).expect("the language's example");
    let id_line = "  id: fit-camp ";
    assert!(text.contains(id_line), "the example's community id line");
    std::fs::create_dir_all(&dir).expect("create the folder");
    for i in 0..count {
        let own = text.replacen(id_line, &format!("  id: fit-camp-{i:04}"), 1);
        std::fs::write(dir.join(format!("camp-{i:04}.yaml")), own).expect("write a playbook");
    }
    println!("wrote {count} playbooks to {}", dir.display());
    ExitCode::SUCCESS
}
