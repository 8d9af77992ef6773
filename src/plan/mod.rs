//! Planning: which fires are due when, from slots, calendars, phases and lotteries.
//!
//! [`plan()`] is the one answer to "what fires when": `drumbeat plan` prints it and the
//! runtime fires from it, window after window. [`topic_at`] gives the rotated topic of a
//! slot at an instant (for `render`), [`slot_values`] the values a slot's message sees, and
//! [`event_driven`] names the messages that events cause, which have no planned time.
//! [`mod@format`] turns a plan into a table, JSON or iCalendar.

pub mod events;
pub mod format;
pub mod planner;
mod slot;

pub use crate::compile::Source;
pub use events::{EventDriven, event_driven};
pub use planner::{Fire, Plan, Reason, Status, plan, topic_at};
pub use slot::slot_values;
