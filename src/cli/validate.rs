//! `drumbeat validate PATH...`

use crate::playbook::load_paths;
use crate::validate::{self, render};
use std::path::PathBuf;
use std::process::ExitCode;

/// Check playbooks and report every problem found.
///
/// Example: drumbeat validate playbooks/ --format github
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Playbook files or folders (searched recursively for *.yaml and *.yml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: Args) -> ExitCode {
    let mut loaded = load_paths(&args.paths);
    validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    loaded.diagnostics.sort();
    let diags = loaded.diagnostics.into_vec();
    print!("{}", render::human(&loaded.sources, &diags));
    let unusable = diags.iter().any(|d| d.code.is_unusable_input());
    let errors = diags
        .iter()
        .any(|d| d.severity == validate::Severity::Error);
    let warnings = diags
        .iter()
        .any(|d| d.severity == validate::Severity::Warning);
    if unusable {
        ExitCode::from(2)
    } else if errors || (args.deny_warnings && warnings) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
