use super::*;
use crate::playbook::{Loaded, Playbook, load::load_bytes};
use chrono::TimeZone;
use proptest::prelude::*;

fn playbook(rewards: &str) -> Playbook {
    let text = format!(
        "version: 1\ncommunity: {{ id: club, name: 茶友会, kind: service, timezone: Asia/Shanghai, locale: zh-CN }}\n\
         channels: {{ group: {{ type: console }} }}\nrewards:\n{rewards}\n"
    );
    let mut loaded = Loaded::default();
    load_bytes(
        &mut loaded,
        std::path::Path::new("club.yaml"),
        text.into_bytes(),
    );
    assert!(
        loaded.diagnostics.is_empty(),
        "{:?}",
        loaded.diagnostics.into_vec()
    );
    loaded.playbooks.pop().expect("a playbook")
}

fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, s)
        .unwrap()
        .with_timezone(&Utc)
}

const TZ: Tz = chrono_tz::Asia::Shanghai;

fn points(l: &mut Ledger, p: &Playbook, kind: &str, at: DateTime<Utc>) -> i64 {
    l.apply(&p.rewards, TZ, kind, at)
        .iter()
        .map(|a| a.points)
        .sum()
}

#[test]
fn per_day_counts_local_days_so_midnight_in_shanghai_starts_a_new_one() {
    let p = playbook("  points:\n    - { on: checkin, points: 10, per_day: 1 }");
    let mut l = Ledger::default();
    // 23:59:59 and 00:00:00 local are two days; in UTC both are on the same date.
    assert_eq!(
        points(&mut l, &p, "checkin", shanghai(2026, 12, 1, 23, 59, 59)),
        10
    );
    assert_eq!(
        points(&mut l, &p, "checkin", shanghai(2026, 12, 1, 23, 59, 59)),
        0
    );
    assert_eq!(
        points(&mut l, &p, "checkin", shanghai(2026, 12, 2, 0, 0, 0)),
        10
    );
    assert_eq!(
        points(&mut l, &p, "checkin", shanghai(2026, 12, 2, 12, 0, 0)),
        0
    );
    assert_eq!(l.balance, 20);
}

#[test]
fn cooldown_keeps_awards_apart_in_event_time_whatever_the_arrival_order() {
    let p = playbook("  points:\n    - { on: message, points: 1, cooldown: 60s, per_day: 20 }");
    let mut l = Ledger::default();
    let t = shanghai(2026, 12, 1, 9, 0, 0);
    assert_eq!(points(&mut l, &p, "message", t), 1);
    assert_eq!(points(&mut l, &p, "message", t + TimeDelta::seconds(59)), 0);
    assert_eq!(points(&mut l, &p, "message", t + TimeDelta::seconds(60)), 1);
    // Arriving late, 30 s before the first: too close to it.
    assert_eq!(points(&mut l, &p, "message", t - TimeDelta::seconds(30)), 0);
    // Arriving late, a full minute before the first: it earns.
    assert_eq!(points(&mut l, &p, "message", t - TimeDelta::seconds(60)), 1);
    assert_eq!(l.balance, 3);
}

#[test]
fn a_streak_pays_every_seventh_day_and_one_missed_local_day_breaks_it() {
    let p = playbook(
        "  points:\n    - { on: checkin, points: 10, per_day: 1 }\n  streaks:\n    - { on: checkin, every: 7, bonus: 50 }",
    );
    let mut l = Ledger::default();
    let mut bonus_days = Vec::new();
    // Days 1-6, skip day 7, then days 8-21.
    for day in (1..=21).filter(|d| *d != 7) {
        for a in l.apply(
            &p.rewards,
            TZ,
            "checkin",
            shanghai(2026, 12, day, 21, 30, 0),
        ) {
            if let Reason::Streak { day, days, .. } = a.reason {
                bonus_days.push((day.to_string(), days));
            }
        }
    }
    // The run from the 8th reaches 7 days on the 14th and 14 on the 21st.
    assert_eq!(
        bonus_days,
        [
            ("2026-12-14".to_string(), 7),
            ("2026-12-21".to_string(), 14)
        ]
    );
    assert_eq!(l.balance, 20 * 10 + 2 * 50);
}

#[test]
fn a_late_day_that_joins_two_runs_pays_what_the_joined_run_has_reached() {
    let p = playbook("  streaks:\n    - { on: checkin, every: 7, bonus: 50 }");
    let mut l = Ledger::default();
    for day in [1, 2, 3, 5, 6, 7] {
        assert_eq!(
            points(&mut l, &p, "checkin", shanghai(2026, 12, day, 8, 0, 0)),
            0
        );
    }
    // The 4th arrives last: seven days in a row now.
    assert_eq!(
        points(&mut l, &p, "checkin", shanghai(2026, 12, 4, 8, 0, 0)),
        50
    );
    assert_eq!(
        points(&mut l, &p, "checkin", shanghai(2026, 12, 4, 9, 0, 0)),
        0
    );
}

#[test]
fn a_tier_boundary_hit_exactly_reaches_the_tier() {
    let p = playbook(
        "  tiers:\n    levels:\n      - { id: newcomer, name: 新人, min: 0 }\n      - { id: regular, name: 达人, min: 300 }",
    );
    let levels = &p.rewards.tiers.as_ref().unwrap().levels;
    let id = |b| tier_of(levels, b).map(|t| t.id.value.as_str());
    assert_eq!(id(299), Some("newcomer"));
    assert_eq!(id(300), Some("regular"));
    assert_eq!(id(-5), None);
}

proptest! {
    /// However events arrive, no local day earns more than `per_day` and no two awards are
    /// closer than the cooldown.
    #[test]
    fn awards_never_break_per_day_or_cooldown(offsets in proptest::collection::vec(0i64..(3 * 86_400), 1..80)) {
        let p = playbook("  points:\n    - { on: message, points: 1, cooldown: 600s, per_day: 5 }");
        let mut l = Ledger::default();
        let start = shanghai(2026, 12, 1, 0, 0, 0);
        let mut earned = Vec::new();
        for o in offsets {
            let at = start + TimeDelta::seconds(o);
            if points(&mut l, &p, "message", at) > 0 {
                earned.push(at);
            }
        }
        earned.sort();
        for w in earned.windows(2) {
            prop_assert!(w[1] - w[0] >= TimeDelta::seconds(600));
        }
        let mut per_day: BTreeMap<NaiveDate, u32> = BTreeMap::new();
        for at in &earned {
            *per_day.entry(at.with_timezone(&TZ).date_naive()).or_default() += 1;
        }
        prop_assert!(per_day.values().all(|n| *n <= 5));
        prop_assert_eq!(l.balance, earned.len() as i64);
    }
}
