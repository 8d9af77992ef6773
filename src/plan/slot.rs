//! The values a slot message has beyond what every message has.

use crate::compile::Program;
use crate::plan::topic_at;
use crate::playbook::model::SlotHome;
use crate::schedule::phase_windows;
use crate::template::{Context, Place};
use chrono::{DateTime, Utc};

/// `slot`, `topic`, `phase` and `activity` for a slot place.
pub fn slot_values(program: &Program, place: &Place, at: DateTime<Utc>, ctx: &mut Context) {
    let p = program.playbook();
    let Place::Slot { slot, topics, .. } = place else {
        return;
    };
    ctx.set("slot", slot);
    if *topics {
        let topic = topic_at(program, slot, at).or_else(|| {
            p.all_slots()
                .find(|(_, s)| s.id.value.as_str() == slot)
                .and_then(|(_, s)| s.topics.first().map(String::as_str))
        });
        ctx.set("topic", topic.unwrap_or_default());
    }
    let tz = p.community.timezone;
    for (home, s) in p.all_slots() {
        if s.id.value.as_str() != slot {
            continue;
        }
        if let SlotHome::Phase(a, ph) = home {
            let i = a
                .phases
                .iter()
                .position(|x| x.id.value == ph.id.value)
                .unwrap_or(0);
            let window = phase_windows(a, tz).get(i).copied().flatten();
            let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
            ctx.set(
                "phase",
                serde_json::json!({
                    "id": ph.id.value.as_str(),
                    "start": window.map(|w| fmt(w.start)),
                    "end": window.map(|w| fmt(w.end)),
                }),
            );
            ctx.set(
                "activity",
                serde_json::json!({
                    "id": a.id.value.as_str(),
                    "name": a.name.as_deref().unwrap_or(a.id.value.as_str()),
                    "goal": a.goal.as_ref().map(|g| serde_json::json!({"metric": g.metric, "target": g.target})),
                }),
            );
        }
    }
}
