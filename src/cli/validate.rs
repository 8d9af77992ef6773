//! `drumbeat validate PATH...`

use crate::cli::CliError;
use crate::cli::common::emit;
use crate::diag::{Code, Diagnostic, Severity, render};
use crate::playbook::load_paths;
use crate::validate;
use std::io::Write;
use std::path::PathBuf;

/// Check playbooks and report every problem found.
///
/// Exit status: 0 when clean (warnings allowed), 1 when there are errors (or warnings with
/// --deny-warnings), 2 when some input is unusable (unreadable, not YAML, not a playbook).
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
    /// How to print diagnostics: `human` goes to stderr; the others go to stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// When to colour human output (NO_COLOR and CLICOLOR_FORCE are honoured under `auto`).
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style: the source line with the span underlined
    Human,
    /// one JSON document (see docs/diagnostics.md)
    Json,
    /// GitHub Actions workflow commands (annotations)
    Github,
    /// SARIF 2.1.0, for code-scanning tools
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    fn choice(self) -> anstream::ColorChoice {
        match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        }
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    let mut loaded = load_paths(&args.paths);
    validate::check(&loaded.playbooks, &mut loaded.diagnostics);
    loaded.diagnostics.sort();
    let diags = loaded.diagnostics.into_vec();
    let summary = render::Summary::of(&loaded.sources, &diags, loaded.playbooks.len());

    // Colour is decided for stderr, where people read; anstream strips it when not wanted.
    let mut err = anstream::AutoStream::new(std::io::stderr().lock(), args.color.choice());
    let styled = err.current_choice() != anstream::ColorChoice::Never;
    let report = match args.format {
        Format::Human => {
            // One diagnostic at a time: a file with thousands of problems is never held
            // as one string.
            for d in &diags {
                let one = render::human_with(&loaded.sources, std::slice::from_ref(d), styled);
                let _ = err.write_all(one.as_bytes());
            }
            None
        }
        Format::Json => Some(render::json(&loaded.sources, &diags, &summary)),
        Format::Github => Some(render::github(&loaded.sources, &diags)),
        Format::Sarif => Some(render::sarif(&loaded.sources, &diags)),
    };
    let written = report.map_or(Ok(()), |report| emit(&report));
    let _ = writeln!(err, "{}", summary.line(args.deny_warnings, styled));
    let _ = err.flush();
    // Unlocked: the error is printed through stderr once this returns.
    drop(err);
    written?;
    match exit_code(&diags, args.deny_warnings) {
        0 => Ok(()),
        status => Err(CliError::Printed(status)),
    }
}

/// 2 for unusable input, 1 for errors (or denied warnings), 0 otherwise.
pub fn exit_code(diags: &[Diagnostic], deny_warnings: bool) -> u8 {
    let has = |f: &dyn Fn(&Diagnostic) -> bool| diags.iter().any(f);
    if has(&|d| Code::is_unusable_input(d.code)) {
        2
    } else if has(&|d| d.severity == Severity::Error)
        || (deny_warnings && has(&|d| d.severity == Severity::Warning))
    {
        1
    } else {
        0
    }
}
