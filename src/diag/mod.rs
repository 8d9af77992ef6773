//! How every layer reports a problem: the [`Diagnostic`] type, the one enum of stable
//! [`Code`]s, the [`Diagnostics`] a run collects, "did you mean" [`suggest`]ions, and the
//! renderings of diagnostics for people and tools ([`render`]).
//!
//! It sits at the bottom, above `source` only, so that loading, decoding, the template
//! checks and the semantic checks of `validate` all report without depending on each other.

mod diagnostic;
pub mod render;
mod visible;

pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity, suggest};
pub use visible::visible;
