//! drumbeat: a playbook engine for community operations.
//!
//! The pure core (`source`, `diag`, `playbook`, `validate`, `template`, `schedule`, `plan`,
//! `rules`, `events`) takes values and returns values; it never touches the clock, the network or a
//! store. The layers and the rule that keeps them apart are in docs/architecture.md.

pub mod channel;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod events;
pub mod parallel;
pub mod plan;
pub mod playbook;
pub mod policy;
pub mod roll;
pub mod rules;
pub mod runtime;
pub mod schedule;
pub mod server;
pub mod source;
pub mod store;
pub mod template;
pub mod validate;
