//! `drumbeat explain CODE`

use crate::cli::CliError;
use crate::diag::{Code, render};

/// Print what a diagnostic code means, a failing example and the fix.
///
/// Example: drumbeat explain unknown-template
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A code as printed in brackets, e.g. `unknown-template` (or `error[unknown-template]`).
    pub code: String,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let name = args
        .code
        .trim()
        .trim_start_matches("error[")
        .trim_start_matches("warning[")
        .trim_end_matches(']');
    match Code::from_name(name).and_then(render::explain) {
        Some(text) => crate::cli::common::emit(&format!("{text}\n")),
        None => {
            let names = Code::ALL.iter().map(|c| c.as_str());
            let hint = match crate::diag::suggest(name, names.clone()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("known codes: {}", names.collect::<Vec<_>>().join(", ")),
            };
            Err(CliError::Usage(format!(
                "unknown diagnostic code `{name}`; {hint}"
            )))
        }
    }
}
