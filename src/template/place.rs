//! Places: every kind of message a template can be sent as, and what each one provides.
//!
//! This is the one table that says which variables a template may use. The static check
//! (`check.rs`), the sample values of `drumbeat render` and, later, the runtime's contexts
//! all read it.

use crate::playbook::model::{Playbook, SlotHome};

/// Where a template is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A content slot, a calendar addition or an activity phase slot: sent to the group.
    Slot {
        slot: String,
        topics: bool,
        phase: bool,
    },
    /// The lottery result announcement.
    Lottery {
        lottery: String,
    },
    Welcome,
    Refusal,
    RuleWarning {
        rule: String,
    },
    Streak,
    TierUp,
    Badge {
        badge: String,
    },
    Occasion,
    Recall,
    LastCall,
}

/// The fields of each object a template can reach. `None` means free-form (any field).
pub fn fields_of(object: &str) -> Option<&'static [&'static str]> {
    Some(match object {
        "community" => &[
            "id", "name", "kind", "goal", "audience", "offer", "values", "timezone", "locale",
            "capacity",
        ],
        "member" => &[
            "id", "name", "joined", "birthday", "profile", "tier", "badges", "points",
        ],
        "stats" => STATS,
        "rule" => &["id", "description"],
        "tier" => &["id", "name", "min"],
        "badge" => &["id", "name"],
        "phase" => &["id", "start", "end"],
        "activity" => &["id", "name", "goal"],
        "lottery" => &["id", "prize", "winners"],
        "now" => &[
            "year", "month", "day", "hour", "minute", "weekday", "date", "time",
        ],
        _ => return None,
    })
}

/// What `stats` offers for member-facing messages and conditions.
pub const STATS: &[&str] = &[
    "messages_7d",
    "messages_30d",
    "checkins_7d",
    "checkins_total",
    "streak",
    "replies_7d",
    "points",
    "days_in_group",
    "days_since_active",
];

/// Names every message has.
const BASE: &[&str] = &["community", "rules", "now"];
/// Names member-facing messages add.
const MEMBER: &[&str] = &["member", "stats", "segments"];

impl Place {
    /// Every top-level variable this place provides.
    pub fn variables(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = BASE.to_vec();
        let member = !matches!(self, Place::Slot { .. } | Place::Lottery { .. });
        if member {
            v.extend(MEMBER);
        }
        match self {
            Place::Slot { topics, phase, .. } => {
                v.push("slot");
                if *topics {
                    v.push("topic");
                }
                if *phase {
                    v.extend(["phase", "activity"]);
                }
            }
            Place::Lottery { .. } => v.extend(["lottery", "winners", "prize"]),
            Place::Refusal => v.push("unmet"),
            Place::RuleWarning { .. } => v.extend(["rule", "penalty"]),
            Place::Streak => v.extend(["points", "streak"]),
            Place::TierUp => v.push("tier"),
            Place::Badge { .. } => v.push("badge"),
            Place::Welcome | Place::Occasion | Place::Recall | Place::LastCall => {}
        }
        v
    }

    /// A short description for messages: "slot `morning`".
    pub fn describe(&self) -> String {
        match self {
            Place::Slot { slot, .. } => format!("slot `{slot}`"),
            Place::Lottery { lottery } => format!("the result of lottery `{lottery}`"),
            Place::Welcome => "the entry welcome".into(),
            Place::Refusal => "the entry refusal".into(),
            Place::RuleWarning { rule } => format!("the warning of rule `{rule}`"),
            Place::Streak => "a streak bonus".into(),
            Place::TierUp => "the tier announcement".into(),
            Place::Badge { badge } => format!("the announcement of badge `{badge}`"),
            Place::Occasion => "an occasion greeting".into(),
            Place::Recall => "the recall message".into(),
            Place::LastCall => "the elimination warning".into(),
        }
    }

    /// Why a variable is missing here, to help the operator.
    pub fn lacks(&self, var: &str) -> String {
        match (self, var) {
            (Place::Slot { .. } | Place::Lottery { .. }, "member" | "stats" | "segments") => {
                format!(
                    "{} is sent to the whole group and has no `{var}`",
                    self.describe()
                )
            }
            (Place::Slot { .. }, "topic") => format!(
                "{} has no `topics`, so there is no `topic`",
                self.describe()
            ),
            (Place::Slot { .. }, "phase" | "activity") => {
                format!(
                    "{} is not an activity phase slot, so there is no `{var}`",
                    self.describe()
                )
            }
            _ => format!("{} has no `{var}`", self.describe()),
        }
    }
}

/// Every place each template of the playbook is used from, in playbook order.
pub fn places_of(p: &Playbook) -> Vec<(&str, Place)> {
    let mut out: Vec<(&str, Place)> = Vec::new();
    for (home, s) in p.all_slots() {
        out.push((
            s.template.value.as_str(),
            Place::Slot {
                slot: s.id.value.0.clone(),
                topics: !s.topics.is_empty(),
                phase: matches!(home, SlotHome::Phase(..)),
            },
        ));
    }
    for l in &p.rewards.lotteries {
        out.push((
            l.template.value.as_str(),
            Place::Lottery {
                lottery: l.id.value.0.clone(),
            },
        ));
    }
    if let Some(e) = &p.entry {
        if let Some(w) = &e.welcome {
            out.push((w.value.as_str(), Place::Welcome));
        }
        if let Some(r) = &e.refusal {
            out.push((r.value.as_str(), Place::Refusal));
        }
    }
    for r in &p.rules {
        if let Some(t) = &r.template {
            out.push((
                t.value.as_str(),
                Place::RuleWarning {
                    rule: r.id.value.0.clone(),
                },
            ));
        }
    }
    for s in &p.rewards.streaks {
        if let Some(t) = &s.template {
            out.push((t.value.as_str(), Place::Streak));
        }
    }
    if let Some(t) = p.rewards.tiers.as_ref().and_then(|t| t.announce.as_ref()) {
        out.push((t.value.as_str(), Place::TierUp));
    }
    for b in &p.rewards.badges {
        if let Some(t) = &b.template {
            out.push((
                t.value.as_str(),
                Place::Badge {
                    badge: b.id.value.0.clone(),
                },
            ));
        }
    }
    for o in &p.rewards.occasions {
        out.push((o.template.value.as_str(), Place::Occasion));
    }
    if let Some(r) = &p.retention {
        if let Some(rc) = &r.recall {
            out.push((rc.template.value.as_str(), Place::Recall));
        }
        if let Some(t) = r.eliminate.as_ref().and_then(|e| e.warn_template.as_ref()) {
            out.push((t.value.as_str(), Place::LastCall));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_slots_have_no_member_and_refusals_have_unmet() {
        let slot = Place::Slot {
            slot: "m".into(),
            topics: false,
            phase: false,
        };
        assert!(!slot.variables().contains(&"member"));
        assert!(!slot.variables().contains(&"topic"));
        assert!(Place::Refusal.variables().contains(&"unmet"));
        assert!(
            Place::Lottery {
                lottery: "d".into()
            }
            .variables()
            .contains(&"winners")
        );
        let phase = Place::Slot {
            slot: "t".into(),
            topics: true,
            phase: true,
        };
        assert!(phase.variables().contains(&"topic") && phase.variables().contains(&"activity"));
    }
}
