//! How a command fails. Every command answers `Result<(), CliError>`; `cli::main` prints
//! the error and picks the exit status from its kind, so no command prints its own
//! failure or chooses its own number.

use crate::channel::BuildError;
use crate::runtime::Failure;
use crate::runtime::intake::Refusal;
use crate::store::StoreError;
use crate::template::RenderError;

/// Why a command did not do what it was asked. The message is the text printed on stderr
/// (with its `error: ` prefix); [`CliError::status`] is the exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command was used wrongly or given input it cannot use (exit 2).
    #[error("error: {0}")]
    Usage(String),
    /// The command was understood but could not do its work (exit 1).
    #[error("error: {0}")]
    Failed(String),
    /// The store failed (exit 1).
    #[error("error: {0}")]
    Store(#[from] StoreError),
    /// A template failed to render (exit 1).
    #[error("error: {0}")]
    Render(#[from] RenderError),
    /// Several things refused, one per line, then what that meant for the whole
    /// (`nothing was imported`): all or nothing (exit 1).
    #[error("{}", refused(.problems, .outcome))]
    Refused {
        problems: Vec<String>,
        outcome: &'static str,
    },
    /// Playbooks with errors, their diagnostics as rendered, then what was not done
    /// (exit 1).
    #[error("{report}\nerror: {outcome}")]
    Invalid {
        report: String,
        outcome: &'static str,
    },
    /// Channels that cannot be built: a missing `${NAME}`, a bad address (exit 2).
    #[error("{}", channels(.0))]
    Channels(Vec<BuildError>),
    /// Events the intake did not take for another reason than their content (exit 1).
    #[error("error: {0}")]
    Intake(#[source] Refusal),
    /// The platform did not take the message `send` sent (exit 1).
    #[error("not sent, {verdict}: {reason}\nanswer: {answer}")]
    NotSent {
        verdict: String,
        reason: String,
        answer: String,
    },
    /// The daemon did not start or stopped early (exit 2 or 1, by why).
    #[error(transparent)]
    Run(#[from] Failure),
    /// What went wrong is already printed (diagnostics, or a report that says so), so only
    /// the exit status is left to give.
    #[error("exit status {0}; the reasons are printed above")]
    Printed(u8),
    /// The report could not be written to standard output (exit 1). A reader that went
    /// away (`drumbeat plan ... | head`) is not this: that output ends quietly.
    #[error("error: cannot write {what}: {source}")]
    Output {
        what: &'static str,
        source: std::io::Error,
    },
}

impl CliError {
    /// The exit status: 2 for unusable input or a wrong use, 1 for anything that failed.
    pub fn status(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Channels(_) => 2,
            CliError::Run(Failure::Channels(_) | Failure::NoPlaybooks) => 2,
            CliError::Printed(status) => *status,
            CliError::Failed(_)
            | CliError::Store(_)
            | CliError::Render(_)
            | CliError::Refused { .. }
            | CliError::Invalid { .. }
            | CliError::Intake(_)
            | CliError::NotSent { .. }
            | CliError::Run(_)
            | CliError::Output { .. } => 1,
        }
    }

    /// Prints the error on stderr (nothing when it is already printed).
    pub fn report(&self) {
        if !matches!(self, CliError::Printed(_)) {
            eprintln!("{self}");
        }
    }
}

/// Events the intake refused for what they say are one line each; a store that failed is
/// one error.
impl From<Refusal> for CliError {
    fn from(refusal: Refusal) -> CliError {
        match refusal {
            Refusal::Invalid(reasons) => CliError::Refused {
                problems: reasons
                    .iter()
                    .map(|r| crate::diag::visible(r).into_owned())
                    .collect(),
                outcome: EVENTS_REFUSED,
            },
            other => CliError::Intake(other),
        }
    }
}

/// What refused events mean, from `drumbeat event`.
pub const EVENTS_REFUSED: &str = "the events were refused; nothing changed";

fn refused(problems: &[String], outcome: &str) -> String {
    let mut out = String::new();
    for p in problems {
        out.push_str("error: ");
        out.push_str(p);
        out.push('\n');
    }
    out.push_str("error: ");
    out.push_str(outcome);
    out
}

fn channels(errors: &[BuildError]) -> String {
    errors
        .iter()
        .map(|e| format!("error: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_2_and_failures_are_1() {
        assert_eq!(CliError::Usage("x".into()).status(), 2);
        assert_eq!(CliError::Failed("x".into()).status(), 1);
        assert_eq!(CliError::Printed(2).status(), 2);
        assert_eq!(CliError::Run(Failure::NoPlaybooks).status(), 2);
        assert_eq!(CliError::Run(Failure::Start("x".into())).status(), 1);
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(
            CliError::Output {
                what: "the output",
                source: full
            }
            .status(),
            1
        );
    }

    #[test]
    fn refusals_are_one_line_each_then_the_outcome() {
        let e = CliError::Refused {
            problems: vec!["line 2: a".into(), "line 3: b".into()],
            outcome: "nothing was imported",
        };
        assert_eq!(
            e.to_string(),
            "error: line 2: a\nerror: line 3: b\nerror: nothing was imported"
        );
    }
}
