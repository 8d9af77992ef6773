//! `drumbeat schema`

use crate::cli::CliError;

/// Print the JSON Schema of playbook files (draft-07), generated from the engine's own types.
///
/// Editors that read a `# yaml-language-server: $schema=...` comment use it to complete and
/// check fields.
///
/// Example: drumbeat schema > schemas/playbook.schema.json
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), CliError> {
    let text = crate::playbook::schema::playbook_schema_text();
    crate::cli::common::write_out("the schema", text.as_bytes())
}
