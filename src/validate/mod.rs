//! The semantic checks of loaded playbooks: references, ranges, times, templates. What they
//! find is reported as [`crate::diag::Diagnostic`]s.

mod checks;
pub(crate) use checks::caused_unrouted;

pub use checks::check;
