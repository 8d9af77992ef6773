//! `drumbeat schema`

use std::io::Write;
use std::process::ExitCode;

/// Print the JSON Schema of playbook files (draft-07), generated from the engine's own types.
///
/// Editors that read a `# yaml-language-server: $schema=...` comment use it to complete and
/// check fields.
///
/// Example: drumbeat schema > schemas/playbook.schema.json
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    let text = crate::playbook::schema::playbook_schema_text();
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drumbeat: cannot write the schema: {e}");
            ExitCode::FAILURE
        }
    }
}
