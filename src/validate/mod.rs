//! Checks that turn loaded playbooks into diagnostics, and the renderings of diagnostics.

mod checks;
mod diagnostic;
pub mod render;

pub use checks::check;
pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity, suggest};
