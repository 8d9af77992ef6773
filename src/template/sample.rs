//! Sample values for previewing a message when no real member or event is at hand.

use crate::playbook::model::{Penalty, Playbook, RequirementKind};
use crate::template::{Context, Place};
use serde_json::{Value as Json, json};

/// A sample member, as `drumbeat render` shows when no `--member` is given.
pub fn member() -> Json {
    json!({
        "id": "u-1024",
        "name": "林小满",
        "joined": "2026-11-20",
        "birthday": "03-14",
        "profile": {"city": "杭州"},
        "tier": "regular",
        "badges": [],
        "points": 320
    })
}

/// Sample member statistics.
pub fn stats() -> Json {
    json!({
        "messages_7d": 12,
        "messages_30d": 41,
        "checkins_7d": 5,
        "checkins_total": 18,
        "streak": 7,
        "replies_7d": 6,
        "points": 320,
        "days_in_group": 21,
        "days_since_active": 8
    })
}

fn penalty_name(p: Penalty) -> String {
    match p {
        Penalty::Warn => "warn".into(),
        Penalty::Mute(None) => "mute".into(),
        Penalty::Mute(Some(d)) => format!("mute {d}"),
        Penalty::Remove => "remove".into(),
    }
}

/// Fills `ctx` with sample values for everything `place` provides that `ctx` lacks.
/// Returns the names it filled, so the caller can say which values are samples.
pub fn fill(p: &Playbook, place: &Place, ctx: &mut Context) -> Vec<&'static str> {
    let mut filled = Vec::new();
    let mut put = |ctx: &mut Context, name: &'static str, v: Json| {
        if !ctx.has(name) {
            ctx.set(name, v);
            filled.push(name);
        }
    };
    for var in place.variables() {
        match var {
            "member" => put(ctx, "member", member()),
            "stats" => put(ctx, "stats", stats()),
            "segments" => put(
                ctx,
                "segments",
                json!(
                    p.segments
                        .first()
                        .map(|s| vec![s.id.value.as_str()])
                        .unwrap_or_default()
                ),
            ),
            "unmet" => {
                let unmet: Vec<Json> = p
                    .entry
                    .iter()
                    .flat_map(|e| e.requirements.iter())
                    .filter(|r| !matches!(r.kind, RequirementKind::AcceptRules))
                    .map(|r| {
                        let (kind, description) = match &r.kind {
                            RequirementKind::AcceptRules => ("accept_rules", String::new()),
                            RequirementKind::Nickname { pattern } => ("nickname", pattern.value.as_str().to_string()),
                            RequirementKind::Task { description } => ("task", description.clone()),
                            RequirementKind::Payment { amount, currency } => ("payment", format!("{amount} {currency}")),
                        };
                        json!({"id": r.id.value.as_str(), "kind": kind, "hint": r.hint, "description": description})
                    })
                    .collect();
                put(ctx, "unmet", json!(unmet));
            }
            "rule" => {
                let rule = match place {
                    Place::RuleWarning { rule } => {
                        p.rules.iter().find(|r| r.id.value.as_str() == rule)
                    }
                    _ => p.rules.first(),
                };
                if let Some(r) = rule {
                    put(
                        ctx,
                        "rule",
                        json!({"id": r.id.value.as_str(), "description": r.description}),
                    );
                    // A warning is what sends this template: show the first `warn` step.
                    let step = r
                        .penalties
                        .iter()
                        .copied()
                        .find(|p| *p == Penalty::Warn)
                        .unwrap_or(r.penalties[0]);
                    put(ctx, "penalty", json!(penalty_name(step)));
                }
            }
            "penalty" => put(ctx, "penalty", json!("warn")),
            "points" => put(
                ctx,
                "points",
                json!(p.rewards.streaks.first().map(|s| s.bonus).unwrap_or(50)),
            ),
            "streak" => put(
                ctx,
                "streak",
                json!(p.rewards.streaks.first().map(|s| s.every).unwrap_or(7)),
            ),
            "tier" => {
                let levels = p
                    .rewards
                    .tiers
                    .as_ref()
                    .map(|t| t.levels.as_slice())
                    .unwrap_or_default();
                let t = levels.get(1).or(levels.first());
                put(
                    ctx,
                    "tier",
                    t.map(
                        |t| json!({"id": t.id.value.as_str(), "name": t.name, "min": t.min.value}),
                    )
                    .unwrap_or(json!({"id": "regular", "name": "达人", "min": 300})),
                );
            }
            "badge" => {
                let b = match place {
                    Place::Badge { badge } => p
                        .rewards
                        .badges
                        .iter()
                        .find(|b| b.id.value.as_str() == badge),
                    _ => p.rewards.badges.first(),
                };
                put(
                    ctx,
                    "badge",
                    b.map(|b| json!({"id": b.id.value.as_str(), "name": b.name}))
                        .unwrap_or(json!({"id": "kol", "name": "核心分享官"})),
                );
            }
            "winners" | "prize" | "lottery" => {
                let l = match place {
                    Place::Lottery { lottery } => p
                        .rewards
                        .lotteries
                        .iter()
                        .find(|l| l.id.value.as_str() == lottery),
                    _ => None,
                };
                let winners = json!([
                    {"id": "u-1024", "name": "林小满"},
                    {"id": "u-2048", "name": "周一一"},
                    {"id": "u-0777", "name": "阿杰"}
                ]);
                let n = l.map_or(3, |l| l.winners as usize).min(3);
                let winners = Json::Array(winners.as_array().expect("array")[..n].to_vec());
                let prize = l.map_or("满100减20券".to_string(), |l| l.prize.clone());
                put(ctx, "winners", winners.clone());
                put(ctx, "prize", json!(prize));
                put(
                    ctx,
                    "lottery",
                    json!({"id": l.map_or("draw", |l| l.id.value.as_str()), "prize": prize, "winners": winners}),
                );
            }
            _ => {}
        }
    }
    filled
}
