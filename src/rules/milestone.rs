//! What happens to a member once: each is remembered, so it is never done twice.

use std::fmt;

/// A once-only fact about a member. Kept in the store as text (`badge:early`), the form
/// every store written so far has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Milestone {
    /// Admitted and welcomed (the welcome message, if any, sent once).
    Welcomed,
    /// Accepted the group rules when asking to join.
    AcceptedRules,
    /// Did entry task `id`.
    Task(String),
    /// Reached tier `id` (announced once, even if points fall and rise again).
    Tier(String),
    /// Was granted badge `id`.
    Badge(String),
    /// Recalled in the silent stretch that began at this Unix second.
    Recalled(i64),
    /// Warned of elimination in the silent stretch that began at this Unix second.
    Warned(i64),
    /// Eliminated at the end of the silent stretch that began at this Unix second.
    Eliminated(i64),
}

impl fmt::Display for Milestone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Milestone::Welcomed => f.write_str("welcomed"),
            Milestone::AcceptedRules => f.write_str("accepted_rules"),
            Milestone::Task(id) => write!(f, "task:{id}"),
            Milestone::Tier(id) => write!(f, "tier:{id}"),
            Milestone::Badge(id) => write!(f, "badge:{id}"),
            Milestone::Recalled(at) => write!(f, "recall:{at}"),
            Milestone::Warned(at) => write!(f, "warn:{at}"),
            Milestone::Eliminated(at) => write!(f, "eliminated:{at}"),
        }
    }
}

impl std::str::FromStr for Milestone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let stretch = |n: &str| {
            n.parse::<i64>()
                .map_err(|_| format!("milestone `{s}`: `{n}` is not a Unix second"))
        };
        Ok(match s.split_once(':') {
            None if s == "welcomed" => Milestone::Welcomed,
            None if s == "accepted_rules" => Milestone::AcceptedRules,
            Some(("task", id)) => Milestone::Task(id.to_string()),
            Some(("tier", id)) => Milestone::Tier(id.to_string()),
            Some(("badge", id)) => Milestone::Badge(id.to_string()),
            Some(("recall", n)) => Milestone::Recalled(stretch(n)?),
            Some(("warn", n)) => Milestone::Warned(stretch(n)?),
            Some(("eliminated", n)) => Milestone::Eliminated(stretch(n)?),
            _ => return Err(format!("unknown milestone `{s}`")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_stored_forms_are_the_ones_stores_already_hold() {
        let all = [
            (Milestone::Welcomed, "welcomed"),
            (Milestone::AcceptedRules, "accepted_rules"),
            (Milestone::Task("intro".into()), "task:intro"),
            (Milestone::Tier("regular".into()), "tier:regular"),
            (Milestone::Badge("早起".into()), "badge:早起"),
            (Milestone::Recalled(1_764_547_200), "recall:1764547200"),
            (Milestone::Warned(-5), "warn:-5"),
            (Milestone::Eliminated(0), "eliminated:0"),
        ];
        for (m, text) in all {
            assert_eq!(m.to_string(), text);
            assert_eq!(text.parse::<Milestone>(), Ok(m));
        }
        assert!("recall:soon".parse::<Milestone>().is_err());
        assert!("promoted".parse::<Milestone>().is_err());
    }

    proptest! {
        #[test]
        fn ids_with_colons_survive_the_round_trip(id in "[a-z0-9:-]{1,20}", n in any::<i64>()) {
            for m in [Milestone::Badge(id.clone()), Milestone::Task(id.clone()), Milestone::Tier(id), Milestone::Recalled(n)] {
                prop_assert_eq!(m.to_string().parse::<Milestone>(), Ok(m));
            }
        }
    }
}
