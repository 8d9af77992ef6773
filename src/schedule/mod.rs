//! Planning: which fires are due when, from slots, calendars, phases and lotteries.

pub mod phases;
pub mod time;

pub use phases::{PhaseWindow, phase_windows};
