//! Rules: what members' events earn and cost them. Pure: a member's state and an event in,
//! the state changed and the effects out (ledger lines, announcements, offences). The
//! runtime stores the effects; replaying a member's events in the order they were applied
//! gives the same state again, which is how state is rebuilt and checked.
//!
//! Events are applied in the order they arrive, each judged at its own instant: `per_day`
//! counts the awards of the event's own local day, and `cooldown` keeps any two awards of a
//! rule at least that far apart in event time, whichever arrived first. So an old event
//! arriving late can still earn on its own day, but never more than the rule allows.

pub mod activity;
pub mod engine;
pub mod lottery;
pub mod member;
pub mod milestone;
pub mod points;

pub use member::{Member, Status};
pub use milestone::Milestone;
pub use points::{Award, Ledger, Reason, tier_of};
