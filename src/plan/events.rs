//! Messages a member or an event causes (welcomes, warnings, announcements, birthdays,
//! recalls): they have no planned instant, so a plan names them as kinds, never as times.

use crate::playbook::model::{OccasionKind, Penalty, Playbook, Ref};

/// One kind of event-driven message of a playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDriven<'a> {
    /// `welcome`, `refusal`, `rule_warning`, `streak`, `tier_up`, `badge`, `birthday`,
    /// `anniversary`, `recall` or `elimination_warning`.
    pub kind: &'static str,
    /// The rule, badge or streak event it belongs to, where there is one.
    pub id: Option<String>,
    pub template: &'a str,
    /// Where it goes; `None` for a refusal, which goes to the applicant.
    pub channel: Option<&'a str>,
    /// What causes it, in words.
    pub when: String,
}

/// Every event-driven message the playbook can send, in the order of its sections.
pub fn event_driven(p: &Playbook) -> Vec<EventDriven<'_>> {
    let mut out = Vec::new();
    if let Some(entry) = &p.entry {
        if let Some(t) = &entry.welcome {
            push(
                &mut out,
                "welcome",
                None,
                t,
                channel_of(p, None),
                "when a member is admitted".into(),
            );
        }
        if let Some(t) = &entry.refusal {
            push(
                &mut out,
                "refusal",
                None,
                t,
                None,
                "when a join request is refused (to the applicant)".into(),
            );
        }
    }
    for r in &p.rules {
        if let Some(t) = &r.template
            && r.penalties.contains(&Penalty::Warn)
        {
            push(
                &mut out,
                "rule_warning",
                Some(r.id.value.to_string()),
                t,
                channel_of(p, None),
                "when a message breaks the rule and the penalty is a warning".into(),
            );
        }
    }
    for s in &p.rewards.streaks {
        if let Some(t) = &s.template {
            push(
                &mut out,
                "streak",
                Some(s.on.value.clone()),
                t,
                channel_of(p, None),
                format!("every {} days in a row of `{}`", s.every, s.on.value),
            );
        }
    }
    if let Some(t) = p.rewards.tiers.as_ref().and_then(|t| t.announce.as_ref()) {
        push(
            &mut out,
            "tier_up",
            None,
            t,
            channel_of(p, None),
            "when a member reaches a higher tier".into(),
        );
    }
    for b in &p.rewards.badges {
        if let Some(t) = &b.template {
            push(
                &mut out,
                "badge",
                Some(b.id.value.to_string()),
                t,
                channel_of(p, None),
                "when a member earns the badge".into(),
            );
        }
    }
    for o in &p.rewards.occasions {
        let (kind, what) = match o.on {
            OccasionKind::Birthday => ("birthday", "on each member's birthday"),
            OccasionKind::Anniversary => ("anniversary", "on each member's joining anniversary"),
        };
        push(
            &mut out,
            kind,
            None,
            &o.template,
            channel_of(p, o.channel.as_ref()),
            format!("{what} at {} local", o.at),
        );
    }
    if let Some(r) = &p.retention {
        if let Some(rc) = &r.recall {
            push(
                &mut out,
                "recall",
                None,
                &rc.template,
                channel_of(p, rc.channel.as_ref()),
                format!("once when a member has been inactive for {}", rc.inactive),
            );
        }
        if let Some(e) = &r.eliminate
            && let Some(t) = &e.warn_template
        {
            let before = e
                .warn_before
                .as_ref()
                .map(|w| format!("{} before", w.value))
                .unwrap_or_else(|| "before".into());
            push(
                &mut out,
                "elimination_warning",
                None,
                t,
                channel_of(p, e.channel.as_ref()),
                format!(
                    "{before} a member inactive for {} is removed",
                    e.inactive.value
                ),
            );
        }
    }
    out
}

fn push<'a>(
    out: &mut Vec<EventDriven<'a>>,
    kind: &'static str,
    id: Option<String>,
    template: &'a Ref,
    channel: Option<&'a str>,
    when: String,
) {
    out.push(EventDriven {
        kind,
        id,
        template: template.value.as_str(),
        channel,
        when,
    });
}

fn channel_of<'a>(p: &'a Playbook, explicit: Option<&'a Ref>) -> Option<&'a str> {
    p.channel_for(explicit).map(|c| c.as_str())
}
