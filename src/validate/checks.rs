//! Semantic checks over decoded playbooks: ids, references, phases, tiers, quiet hours.
//!
//! Every check is pure and pushes into the one [`Diagnostics`] collection; none stops the
//! others. Template and condition checks live with the template engine
//! (`crate::template::check`).

use crate::diag::{Code, Diagnostic, Diagnostics, suggest};
use crate::playbook::model::*;
use crate::playbook::types::{Id, TimeWindow};
use crate::schedule::phase_windows;
use crate::source::Span;
use chrono::NaiveTime;
use std::collections::{HashMap, HashSet};

/// Runs every check on the loaded playbooks.
pub fn check(playbooks: &[Playbook], diags: &mut Diagnostics) {
    // Each playbook is checked on its own, on every core; what is found is added in the
    // playbooks' order, as when they are checked one after another.
    let found = crate::parallel::map(playbooks, |p| {
        let mut found = Diagnostics::new();
        check_playbook(p, &mut found);
        found
    });
    let mut communities: HashMap<&str, Span> = HashMap::new();
    for (p, found) in playbooks.iter().zip(found) {
        diags.extend(found);
        let id = p.community.id.value.as_str();
        if let Some(first) = communities.get(id) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateCommunity,
                    p.community.id.span,
                    format!("community id `{id}` is already used by another playbook"),
                )
                .with_label(*first, "first used here")
                .with_hint("community ids must be unique among the playbooks loaded together"),
            );
        } else {
            communities.insert(id, p.community.id.span);
        }
    }
}

pub fn check_playbook(p: &Playbook, diags: &mut Diagnostics) {
    unique_ids(p, diags);
    references(p, diags);
    phases(p, diags);
    tiers(p, diags);
    quiet_slots(p, diags);
    usage(p, diags);
    crate::template::check(p, diags);
}

/// Reports the second and later uses of each id within one namespace.
fn unique<'a>(what: &str, ids: impl IntoIterator<Item = &'a Ref>, diags: &mut Diagnostics) {
    let mut seen: HashMap<&Id, Span> = HashMap::new();
    for id in ids {
        if let Some(first) = seen.get(&id.value) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    id.span,
                    format!("{what} `{}` is defined twice", id.value),
                )
                .with_label(*first, "first defined here"),
            );
        } else {
            seen.insert(&id.value, id.span);
        }
    }
}

fn unique_ids(p: &Playbook, diags: &mut Diagnostics) {
    if let Some(e) = &p.entry {
        unique("requirement", e.requirements.iter().map(|r| &r.id), diags);
    }
    unique("rule", p.rules.iter().map(|r| &r.id), diags);
    unique("slot", p.all_slots().map(|(_, s)| &s.id), diags);
    unique("activity", p.activities.iter().map(|a| &a.id), diags);
    for a in &p.activities {
        unique("phase", a.phases.iter().map(|ph| &ph.id), diags);
    }
    if let Some(t) = &p.rewards.tiers {
        unique("tier", t.levels.iter().map(|l| &l.id), diags);
    }
    unique("badge", p.rewards.badges.iter().map(|b| &b.id), diags);
    unique("lottery", p.rewards.lotteries.iter().map(|l| &l.id), diags);
    unique("segment", p.segments.iter().map(|s| &s.id), diags);
}

fn dangling<'a>(
    code: Code,
    what: &str,
    r: &Ref,
    known: impl Iterator<Item = &'a str> + Clone,
    diags: &mut Diagnostics,
) {
    if known.clone().any(|k| k == r.value.as_str()) {
        return;
    }
    let mut d = Diagnostic::new(code, r.span, format!("unknown {what} `{}`", r.value));
    d.hint = match suggest(r.value.as_str(), known.clone()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None => {
            let mut all: Vec<&str> = Vec::new();
            for k in known {
                if !all.contains(&k) {
                    all.push(k);
                }
            }
            if all.is_empty() {
                Some(format!("this playbook defines no {what}s"))
            } else {
                Some(format!("defined {what}s: {}", all.join(", ")))
            }
        }
    };
    diags.push(d);
}

/// Every template reference of the playbook, with what refers to it.
pub fn template_refs(p: &Playbook) -> Vec<&Ref> {
    let mut refs: Vec<&Ref> = p.all_slots().map(|(_, s)| &s.template).collect();
    if let Some(e) = &p.entry {
        refs.extend(e.welcome.iter().chain(&e.refusal));
    }
    refs.extend(p.rules.iter().filter_map(|r| r.template.as_ref()));
    refs.extend(p.rewards.streaks.iter().filter_map(|s| s.template.as_ref()));
    if let Some(t) = &p.rewards.tiers {
        refs.extend(t.announce.iter());
    }
    refs.extend(p.rewards.badges.iter().filter_map(|b| b.template.as_ref()));
    refs.extend(p.rewards.lotteries.iter().map(|l| &l.template));
    refs.extend(p.rewards.occasions.iter().map(|o| &o.template));
    if let Some(r) = &p.retention {
        refs.extend(r.recall.iter().map(|r| &r.template));
        refs.extend(r.eliminate.iter().filter_map(|e| e.warn_template.as_ref()));
    }
    refs
}

/// Every explicit channel reference that sends messages (not `assist`).
fn channel_refs(p: &Playbook) -> Vec<&Ref> {
    let mut refs: Vec<&Ref> = p
        .all_slots()
        .filter_map(|(_, s)| s.channel.as_ref())
        .collect();
    refs.extend(p.default_channel.iter());
    refs.extend(p.activities.iter().filter_map(|a| a.channel.as_ref()));
    refs.extend(
        p.rewards
            .lotteries
            .iter()
            .filter_map(|l| l.channel.as_ref()),
    );
    refs.extend(
        p.rewards
            .occasions
            .iter()
            .filter_map(|o| o.channel.as_ref()),
    );
    if let Some(r) = &p.retention {
        refs.extend(r.recall.iter().filter_map(|r| r.channel.as_ref()));
        refs.extend(r.eliminate.iter().filter_map(|e| e.channel.as_ref()));
    }
    refs
}

fn references(p: &Playbook, diags: &mut Diagnostics) {
    let templates = p.templates.keys().map(Id::as_str);
    for r in template_refs(p) {
        dangling(
            Code::UnknownTemplate,
            "template",
            r,
            templates.clone(),
            diags,
        );
    }
    let channels = p.channels.keys().map(Id::as_str);
    for r in channel_refs(p) {
        dangling(Code::UnknownChannel, "channel", r, channels.clone(), diags);
    }
    for ch in p.channels.values() {
        let Some(a) = &ch.assist else { continue };
        dangling(Code::UnknownChannel, "channel", a, channels.clone(), diags);
        if a.value == ch.id.value {
            diags.push(
                Diagnostic::new(Code::InvalidAssist, a.span, format!("channel `{}` assists itself", a.value))
                    .with_hint("name the channel where a person receives the to-dos, such as the admins' group"),
            );
        } else if let Some(target) = p.channels.get(&a.value)
            && target.assist.is_some()
        {
            diags.push(Diagnostic::new(
                Code::InvalidAssist,
                a.span,
                format!("`{}` is itself an assisted channel: to-dos must go to a channel that bots can post to", a.value),
            ));
        }
    }
    // Slots without an explicit channel need a default.
    if p.default_channel.is_none() && p.channels.len() != 1 {
        let mut needs: Vec<Span> = Vec::new();
        for a in std::iter::once(None).chain(p.activities.iter().map(Some)) {
            let slots: Vec<&Slot> = match a {
                None => p
                    .content
                    .slots
                    .iter()
                    .chain(p.content.calendar.iter().flat_map(|c| c.add.iter()))
                    .collect(),
                Some(a) if a.channel.is_none() => {
                    a.phases.iter().flat_map(|ph| ph.slots.iter()).collect()
                }
                Some(_) => Vec::new(),
            };
            needs.extend(
                slots
                    .iter()
                    .filter(|s| s.channel.is_none())
                    .map(|s| s.id.span),
            );
        }
        needs.extend(
            p.rewards
                .lotteries
                .iter()
                .filter(|l| l.channel.is_none())
                .map(|l| l.id.span),
        );
        for span in needs {
            diags.push(
                Diagnostic::new(
                    Code::NoChannel,
                    span,
                    format!(
                        "no channel for this message: it sets no `channel` and the playbook has {} channels and no `default_channel`",
                        p.channels.len()
                    ),
                )
                .with_hint("add `default_channel:` at the top level, or `channel:` here"),
            );
        }
    }
    caused_unrouted(p, diags);
    // Calendar entries refer to content and activity slots.
    let slot_ids: Vec<&str> = p
        .content
        .slots
        .iter()
        .chain(
            p.activities
                .iter()
                .flat_map(|a| a.phases.iter().flat_map(|ph| ph.slots.iter())),
        )
        .map(|s| s.id.value.as_str())
        .collect();
    for c in &p.content.calendar {
        for r in c.skip.iter().chain(c.moves.iter().map(|(r, _)| r)) {
            dangling(
                Code::UnknownSlot,
                "slot",
                r,
                slot_ids.iter().copied(),
                diags,
            );
        }
    }
}

/// Messages that members' events and the daily sweep cause, and that name no channel of
/// their own, go to the default channel: without one, each is reported where its template
/// is named. Compiling checks the same, with this function.
pub(crate) fn caused_unrouted(p: &Playbook, diags: &mut Diagnostics) {
    if p.channel_for(None).is_some() {
        return;
    }
    let entry = p.entry.as_ref();
    let retention = p.retention.as_ref();
    let tiers = p.rewards.tiers.as_ref();
    let unrouted: Vec<&Ref> = entry
        .into_iter()
        .flat_map(|e| e.welcome.iter().chain(e.refusal.iter()))
        .chain(p.rules.iter().filter_map(|r| r.template.as_ref()))
        .chain(tiers.and_then(|t| t.announce.as_ref()))
        .chain(p.rewards.badges.iter().filter_map(|b| b.template.as_ref()))
        .chain(p.rewards.streaks.iter().filter_map(|s| s.template.as_ref()))
        .chain(
            p.rewards
                .occasions
                .iter()
                .filter(|o| o.channel.is_none())
                .map(|o| &o.template),
        )
        .chain(
            retention
                .and_then(|r| r.recall.as_ref())
                .filter(|r| r.channel.is_none())
                .map(|r| &r.template),
        )
        .chain(
            retention
                .and_then(|r| r.eliminate.as_ref())
                .filter(|e| e.channel.is_none())
                .and_then(|e| e.warn_template.as_ref()),
        )
        .collect();
    for r in unrouted {
        diags.push(
            Diagnostic::new(
                Code::NoChannel,
                r.span,
                format!(
                    "no channel for `{}`, a message members' events cause: the playbook has {} channels and no `default_channel`",
                    r.value,
                    p.channels.len()
                ),
            )
            .with_hint("add `default_channel:` at the top level"),
        );
    }
}

fn phases(p: &Playbook, diags: &mut Diagnostics) {
    let tz = p.community.timezone;
    for a in &p.activities {
        if let Some(first) = a.phases.first()
            && first.start.is_none()
        {
            diags.push(
                Diagnostic::new(
                    Code::PhaseWithoutStart,
                    first.id.span,
                    format!("the first phase of activity `{}` has no `start`", a.id.value),
                )
                .with_hint("give it `start: YYYY-MM-DDTHH:MM`; later phases start when the one before ends"),
            );
        }
        let windows = phase_windows(a, tz);
        for i in 1..a.phases.len() {
            let (Some(prev), Some(cur), Some(start)) =
                (windows[i - 1], windows[i], &a.phases[i].start)
            else {
                continue;
            };
            if cur.start < prev.end {
                let local_end = prev.end.with_timezone(&tz).format("%Y-%m-%dT%H:%M");
                diags.push(
                    Diagnostic::new(
                        Code::OverlappingPhases,
                        start.span,
                        format!(
                            "phase `{}` starts before phase `{}` ends ({local_end})",
                            a.phases[i].id.value,
                            a.phases[i - 1].id.value
                        ),
                    )
                    .with_label(
                        a.phases[i - 1].duration.span,
                        "the earlier phase lasts this long",
                    )
                    .with_hint("remove `start` to chain the phase after the one before it"),
                );
            }
        }
        // Warn when the activity outlives the community.
        if let Some(until) = p.community.runs.as_ref().and_then(|r| r.value.until)
            && let Some(Some(last)) = windows.last()
        {
            let end_local = last.end.with_timezone(&tz).naive_local();
            let limit = until
                .succ_opt()
                .unwrap_or(until)
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists");
            if end_local > limit {
                diags.push(
                    Diagnostic::new(
                        Code::ActivityAfterRuns,
                        a.id.span,
                        format!(
                            "activity `{}` ends {} but the community runs only until {until}",
                            a.id.value,
                            end_local.format("%Y-%m-%d %H:%M")
                        ),
                    )
                    .with_hint("fires after `runs.until` are never sent; shorten the phases or extend `runs`"),
                );
            }
        }
    }
}

fn tiers(p: &Playbook, diags: &mut Diagnostics) {
    let Some(t) = &p.rewards.tiers else { return };
    for w in t.levels.windows(2) {
        if w[1].min.value <= w[0].min.value {
            diags.push(
                Diagnostic::new(
                    Code::TiersNotIncreasing,
                    w[1].min.span,
                    format!(
                        "tier `{}` starts at {} points, not above tier `{}` ({})",
                        w[1].id.value, w[1].min.value, w[0].id.value, w[0].min.value
                    ),
                )
                .with_hint("list tiers from the lowest threshold to the highest, each strictly above the one before"),
            );
        }
    }
}

/// The local times of day at which a slot can fire.
fn times_of_day(when: &When) -> Vec<NaiveTime> {
    match when {
        When::At { time, .. } => vec![time.0],
        When::Cron(c) => {
            let pat = &c.cron.pattern;
            let mut out = Vec::new();
            for h in 0..24u32 {
                if !pat.hour_match(h).unwrap_or(false) {
                    continue;
                }
                for m in 0..60u32 {
                    if pat.minute_match(m).unwrap_or(false) {
                        out.push(NaiveTime::from_hms_opt(h, m, 0).expect("valid"));
                    }
                }
            }
            out
        }
    }
}

fn always_quiet(window: &TimeWindow, when: &When) -> bool {
    let times = times_of_day(when);
    !times.is_empty() && times.iter().all(|t| window.contains(*t))
}

fn quiet_slots(p: &Playbook, diags: &mut Diagnostics) {
    let Some(q) = &p.content.quiet_hours else {
        return;
    };
    for (_, s) in p.all_slots() {
        if always_quiet(&q.value, &s.when.value) {
            diags.push(
                Diagnostic::new(
                    Code::SlotAlwaysQuiet,
                    s.when.span,
                    format!(
                        "slot `{}` always falls in quiet hours ({}), so it never sends",
                        s.id.value, q.value
                    ),
                )
                .with_label(q.span, "quiet hours set here"),
            );
        }
    }
    for l in &p.rewards.lotteries {
        if always_quiet(&q.value, &When::Cron(Box::new(l.cron.value.clone()))) {
            diags.push(Diagnostic::new(
                Code::SlotAlwaysQuiet,
                l.cron.span,
                format!(
                    "lottery `{}` always falls in quiet hours ({}), so its result is never sent",
                    l.id.value, q.value
                ),
            ));
        }
    }
}

fn usage(p: &Playbook, diags: &mut Diagnostics) {
    let used: HashSet<&str> = template_refs(p).iter().map(|r| r.value.as_str()).collect();
    for (id, t) in &p.templates {
        if !used.contains(id.as_str()) {
            diags.push(
                Diagnostic::new(
                    Code::UnusedTemplate,
                    t.id.span,
                    format!("template `{id}` is never used"),
                )
                .with_hint("remove it, or refer to it from a slot, the entry, a rule or a reward"),
            );
        }
    }
}
