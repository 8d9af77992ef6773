//! Time in the community's own calendar: local instants across DST, day rules of cron
//! expressions and weekdays, and the windows of activity phases. The planner above
//! ([`crate::plan`]) is built from these.

pub mod days;
pub mod phases;
pub mod time;

pub use phases::{PhaseWindow, phase_windows};
