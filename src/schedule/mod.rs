//! Planning: which fires are due when, from slots, calendars, phases and lotteries.
//!
//! [`plan()`] is the one answer to "what fires when": `drumbeat plan` prints it and the
//! runtime fires from it, window after window. [`topic_at`] gives the rotated topic of a
//! slot at an instant (for `render`), and [`event_driven`] names the messages that events
//! cause, which have no planned time. [`mod@format`] turns a plan into a table, JSON or iCalendar.

mod days;
pub mod events;
pub mod format;
pub mod phases;
pub mod plan;
pub mod time;

pub use events::{EventDriven, event_driven};
pub use phases::{PhaseWindow, phase_windows};
pub use plan::{Fire, Plan, Reason, Source, Status, plan, topic_at};
