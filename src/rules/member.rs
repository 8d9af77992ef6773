//! A person known to a community: the facts the rules and the store keep about them.

use chrono::{DateTime, Utc};
use std::fmt;

/// Where a person stands with a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Asked to join; not admitted yet.
    Applicant,
    Member,
    Left,
    Removed,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Applicant => "applicant",
            Status::Member => "member",
            Status::Left => "left",
            Status::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Applicant,
            Status::Member,
            Status::Left,
            Status::Removed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person known to a community.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub community: String,
    pub id: String,
    pub name: Option<String>,
    pub status: Status,
    pub applied_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
    /// `MM-DD` or `YYYY-MM-DD`, as given.
    pub birthday: Option<String>,
    pub profile: serde_json::Value,
    /// Who brought them in (a `referral` or the join request's `referrer`).
    pub referrer: Option<String>,
    /// The latest instant of any of their events.
    pub last_active: Option<DateTime<Utc>>,
}

impl Member {
    pub fn new(community: &str, id: &str, status: Status) -> Member {
        Member {
            community: community.to_string(),
            id: id.to_string(),
            name: None,
            status,
            applied_at: None,
            joined_at: None,
            birthday: None,
            profile: serde_json::Value::Object(Default::default()),
            referrer: None,
            last_active: None,
        }
    }
}
