//! The runtime: the only part of drumbeat that touches the clock, the store and the
//! network. It runs validated playbooks: the scheduler plans ahead with the same code as
//! `drumbeat plan` and records fires in the outbox; one worker per channel delivers them
//! at the channel's pace, retrying what may succeed later and dead-lettering the rest.

pub mod clock;
pub mod daemon;
pub mod delivery;
pub mod intake;
pub mod metrics;
pub mod pace;
pub mod program;
pub mod scheduler;
pub mod serving;

pub use clock::{Clock, ManualClock, ScaledClock, SystemClock};
pub use daemon::{Config, Control, Failure, run};
pub use delivery::Settings;
pub use pace::{Pace, RetryPolicy};
