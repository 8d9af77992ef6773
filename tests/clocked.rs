//! The daemon on a clock the spec moves ([`Harness`]): downtime, retries, backoff,
//! Retry-After and start-up, each at exact instants. Time stands still between the
//! spec's steps, so these hold to the millisecond on any machine, however loaded, and
//! take no simulated time to run.

use crate::common::fixture::*;
use crate::common::harness::{Harness, Setup};
use crate::common::hook::{Hit, Hook, Reply, ok, status};
use chrono::{DateTime, TimeDelta, Utc};
use drumbeat::runtime::{ManualClock, RetryPolicy};
use drumbeat::store::State;
use std::path::PathBuf;

/// A playbook file `name.yaml` in `dir` of community `id` (see [`playbook`]).
fn playbook_file(dir: &std::path::Path, id: &str, channels: &str, slots: &str) -> PathBuf {
    let file = dir.join(format!("{id}.yaml"));
    write(&file, &playbook(id, channels, slots));
    file
}

fn slot_lines(times: &[&str]) -> String {
    times
        .iter()
        .map(|t| {
            format!(
                "    - {{ id: s{}, at: \"{t}\", template: t }}\n",
                t.replace(':', "")
            )
        })
        .collect()
}

/// A fire goes out at its instant, never a millisecond before, and its `sent_at` is the
/// instant the channel took it.
#[test]
fn a_fire_goes_out_at_its_instant_and_not_a_moment_before() {
    let clock = ManualClock::new(local("07:59"));
    let hook = Hook::on_clock(&clock, |_, _| ok());
    let dir = folder();
    let file = playbook_file(
        dir.path(),
        "sharp",
        &hook.channel("hook", "/in", ""),
        &slot_lines(&["08:00"]),
    );
    let url = store_url(dir.path());
    let h = Harness::start_on(clock, Setup::new(&[file], &url));
    h.wait_running();
    let k = key("sharp", "s0800", "hook", "08:00");
    h.set(local("08:00") - TimeDelta::milliseconds(1));
    let rows = h.settle();
    assert_eq!(rows[&k].state, State::Pending);
    assert!(hook.hits().is_empty(), "sent early: {:?}", hook.hits());

    h.set(local("08:00"));
    let rows = h.settle();
    assert_eq!(rows[&k].state, State::Sent);
    assert_eq!(rows[&k].sent_at, Some(local("08:00")));
    let hits = hook.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].clocked, Some(local("08:00")));
    h.stop().unwrap();
}

/// Down from 08:00 to 08:59:30 with a ten-minute grace: on the next start the fires still
/// within their grace go out at once, late by exactly the downtime; older ones are missed,
/// whether the first run had recorded them or not.
#[test]
fn after_an_hour_down_fires_within_grace_go_late_and_older_ones_are_missed() {
    let clock = ManualClock::new(local("07:59"));
    let hook = Hook::on_clock(&clock, |_, _| ok());
    let dir = folder();
    let times = [
        "08:00", "08:05", "08:20", "08:40", "08:53", "08:57", "09:00",
    ];
    let file = playbook_file(
        dir.path(),
        "down",
        &hook.channel("hook", "/in", ""),
        &slot_lines(&times),
    );
    let url = store_url(dir.path());
    let k = |t: &str| key("down", &format!("s{}", t.replace(':', "")), "hook", t);

    // A ten-minute lookahead: 08:05 is in the outbox when the first run stops.
    let mut setup = Setup::new(std::slice::from_ref(&file), &url);
    setup.lookahead = TimeDelta::minutes(10);
    let first = Harness::start_on(clock.clone(), setup);
    first.wait_running();
    first.set(local("08:00"));
    let rows = first.settle();
    assert_eq!(rows[&k("08:00")].state, State::Sent);
    assert_eq!(rows[&k("08:05")].state, State::Pending);
    first.stop().unwrap();

    // An hour later, on the same clock.
    clock.set(instant("2026-12-01T08:59:30+08:00"));
    let second = Harness::start_on(clock, Setup::new(&[file], &url));
    second.wait_running();
    second.run_until(local("09:00"));
    let logged = second.logged("took over unfinished sends");
    assert_eq!(logged.len(), 1, "{}", second.tail());
    assert_eq!(logged[0]["missed"], 1, "08:05 was swept: {}", logged[0]);
    let rows = second.rows();
    second.stop().unwrap();

    let mut missed = keys_in(&rows, State::Missed);
    missed.sort();
    assert_eq!(missed, [k("08:05"), k("08:20"), k("08:40")]);
    let mut sent = keys_in(&rows, State::Sent);
    sent.sort();
    assert_eq!(sent, [k("08:00"), k("08:53"), k("08:57"), k("09:00")]);
    for (t, late) in [("08:53", 390), ("08:57", 150), ("09:00", 0)] {
        let r = &rows[&k(t)];
        assert_eq!(
            r.sent_at.unwrap() - r.scheduled_at,
            TimeDelta::seconds(late),
            "{t}"
        );
    }
    let mut got: Vec<String> = hook.hits().iter().map(|h| h.key.clone()).collect();
    got.sort();
    assert_eq!(
        got, sent,
        "each sent fire arrived exactly once, nothing else"
    );
}

/// A channel answering 500 until 08:05, then 200: everything arrives, each channel in
/// scheduled order, and the first message's attempts come exactly one backoff apart.
#[test]
fn five_minutes_of_500s_then_everything_arrives_in_order_with_backoff() {
    let clock = ManualClock::new(local("07:59"));
    let hook = Hook::on_clock(&clock, |hit, _| {
        if hit.clocked.unwrap() < local("08:05") {
            status(500)
        } else {
            ok()
        }
    });
    let dir = folder();
    let mut slots = String::new();
    let mut all = Vec::new();
    for ch in ["a", "b"] {
        for t in ["08:00", "08:01", "08:02"] {
            let id = format!("{ch}{}", t.replace(':', ""));
            slots += &format!("    - {{ id: {id}, at: \"{t}\", template: t, channel: {ch} }}\n");
            all.push(key("flaky", &id, ch, t));
        }
    }
    let chans = hook.channel("a", "/a", "") + &hook.channel("b", "/b", "");
    let file = playbook_file(dir.path(), "flaky", &chans, &slots);
    let url = store_url(dir.path());
    let h = Harness::start_on(clock, Setup::new(&[file], &url));
    h.wait_running();
    h.run_until(local("08:30"));
    let rows = h.rows();
    h.stop().unwrap();

    let hits = hook.hits();
    for ch in ["a", "b"] {
        let seen: Vec<&Hit> = hits.iter().filter(|h| h.path == format!("/{ch}")).collect();
        // Nothing overtakes a message being retried: attempts go in scheduled order.
        let order: Vec<DateTime<Utc>> = seen.iter().map(|h| h.at).collect();
        assert!(
            order.is_sorted(),
            "channel {ch} out of order: {:?}",
            seen.iter().map(|h| (&h.key, h.status)).collect::<Vec<_>>()
        );
    }
    let delivered = hook.delivered();
    for k in &all {
        assert_eq!(delivered[k].len(), 1, "{k} delivered once");
        assert_eq!(rows[k].state, State::Sent, "{k}");
    }
    let first = key("flaky", "a0800", "a", "08:00");
    let attempts: Vec<&Hit> = hits.iter().filter(|h| h.key == first).collect();
    let n = attempts.len();
    assert!(attempts[..n - 1].iter().all(|h| h.status == 500));
    assert_eq!(attempts[n - 1].status, 200);
    assert_eq!(rows[&first].attempts as usize, n);
    let policy = RetryPolicy::default();
    let mut at = local("08:00");
    for (i, hit) in attempts.iter().enumerate() {
        assert_eq!(hit.clocked, Some(at), "attempt {}", i + 1);
        at += policy.backoff(i as u32 + 1, &first);
    }
    // The first attempt at or after 08:05 is the one that went through.
    assert!(attempts[n - 1].clocked.unwrap() >= local("08:05"));
    assert!(attempts[n - 2].clocked.unwrap() < local("08:05"));
}

/// A 429 with Retry-After is tried again exactly when asked; a 400 is dead-lettered after
/// exactly one attempt, with the platform's own words kept.
#[test]
fn retry_after_is_honoured_and_a_400_is_dead_lettered_at_once() {
    let clock = ManualClock::new(local("07:59"));
    let hook = Hook::on_clock(&clock, |hit, before| match hit.path.as_str() {
        "/busy" if before.iter().all(|h| h.path != "/busy") => Reply {
            retry_after: Some(90),
            ..status(429)
        },
        "/busy" => ok(),
        _ => Reply {
            body: r#"{"error":"field `channel` is not allowed here"}"#,
            ..status(400)
        },
    });
    let dir = folder();
    let chans = hook.channel("busy", "/busy", "") + &hook.channel("strict", "/strict", "");
    let slots = "    - { id: one, at: \"08:00\", template: t, channel: busy }\n    \
                 - { id: two, at: \"08:00\", template: t, channel: strict }\n";
    let file = playbook_file(dir.path(), "limits", &chans, slots);
    let url = store_url(dir.path());
    let (busy, strict) = (
        key("limits", "one", "busy", "08:00"),
        key("limits", "two", "strict", "08:00"),
    );
    let h = Harness::start_on(clock, Setup::new(&[file], &url));
    h.wait_running();
    h.set(local("08:00"));
    let rows = h.settle();
    assert_eq!(rows[&busy].state, State::Retrying);
    assert_eq!(
        rows[&busy].next_attempt_at,
        local("08:00") + TimeDelta::seconds(90)
    );
    h.run_until(local("08:10"));
    let rows = h.rows();
    h.stop().unwrap();

    let hits = hook.hits();
    let tries: Vec<(u16, Option<DateTime<Utc>>)> = hits
        .iter()
        .filter(|h| h.key == busy)
        .map(|h| (h.status, h.clocked))
        .collect();
    assert_eq!(
        tries,
        [
            (429, Some(local("08:00"))),
            (200, Some(local("08:00") + TimeDelta::seconds(90)))
        ]
    );
    let bad: Vec<&Hit> = hits.iter().filter(|h| h.key == strict).collect();
    assert_eq!(bad.len(), 1, "a 400 is tried once");
    let dead = &rows[&strict];
    assert_eq!((dead.state, dead.attempts), (State::DeadLettered, 1));
    assert_eq!(
        dead.last_error.as_deref().unwrap_or_default(),
        r#"the platform refused the message: HTTP 400 Bad Request (the platform said: HTTP 400, {"error":"field `channel` is not allowed here"})"#,
    );
    let sent = &rows[&busy];
    assert_eq!((sent.state, sent.attempts), (State::Sent, 2));
}

/// A first run plans from the instant the process started, not from when it finished
/// loading: a fire due while the daemon loaded goes out once it runs, late within its
/// grace, and before the next one.
#[test]
fn a_fire_due_while_the_daemon_starts_up_is_sent() {
    let clock = ManualClock::new(instant("2026-12-01T08:00:40+08:00"));
    let hook = Hook::on_clock(&clock, |_, _| ok());
    let dir = folder();
    let file = playbook_file(
        dir.path(),
        "quick",
        &hook.channel("hook", "/in", ""),
        "    - { id: first, at: \"08:00\", template: t }\n    \
         - { id: later, at: \"08:10\", template: t }\n",
    );
    let url = store_url(dir.path());
    let (first, later) = (
        key("quick", "first", "hook", "08:00"),
        key("quick", "later", "hook", "08:10"),
    );
    // Started at 07:59:59; loading took until 08:00:40.
    let mut setup = Setup::new(&[file], &url);
    setup.began = Some(instant("2026-12-01T07:59:59+08:00"));
    let h = Harness::start_on(clock, setup);
    h.wait_running();
    h.run_until(local("08:10"));
    let rows = h.rows();
    h.stop().unwrap();
    let got: Vec<(String, Option<DateTime<Utc>>)> = hook
        .hits()
        .into_iter()
        .map(|h| (h.key, h.clocked))
        .collect();
    assert_eq!(
        got,
        [
            (first.clone(), Some(instant("2026-12-01T08:00:40+08:00"))),
            (later, Some(local("08:10")))
        ],
        "08:00 went out, once, first"
    );
    assert_eq!(rows[&first].state, State::Sent);
}
