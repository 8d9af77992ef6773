//! Planning: which fires are due when, from slots, calendars, phases and lotteries.

mod days;
pub mod events;
pub mod format;
pub mod phases;
pub mod plan;
pub mod time;

pub use events::{EventDriven, event_driven};
pub use phases::{PhaseWindow, phase_windows};
pub use plan::{Fire, Plan, Reason, Source, Status, plan, topic_at};

#[cfg(test)]
mod tests;
