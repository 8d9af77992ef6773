//! drumbeat: a playbook engine for community operations.
//!
//! The pure core (`playbook`, `validate`, `template`, `schedule`) takes values and returns
//! values; it never touches the clock, the network or a store.

pub mod channel;
pub mod cli;
pub mod events;
pub mod parallel;
pub mod playbook;
pub mod rules;
pub mod runtime;
pub mod schedule;
pub mod server;
pub mod source;
pub mod store;
pub mod template;
pub mod validate;
