//! Specs for the delivery queues of the store: what `drumbeat run`'s workers claim, and
//! the rows reloads, restarts and assisted channels touch. Real SQLite files, explicit
//! instants.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use drumbeat::store::{
    self, ActiveQueue, Confirmed, Lifecycle, NewFire, Outbox, OutboxStatus, Outcome, Queue,
    RunMark, RunMarks, SqliteStore, State, Todos,
};
use tempfile::TempDir;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn mins(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("drumbeat.db").display());
    let store = SqliteStore::open(&url).await.expect("store opens");
    (dir, store)
}

fn fire(community: &str, channel: &str, key: &str, at: DateTime<Utc>) -> NewFire {
    NewFire {
        key: key.to_string(),
        community: community.into(),
        source: format!("content/{key}"),
        channel: channel.into(),
        assist_for: None,
        template: "morning".into(),
        scheduled_at: at,
        grace: mins(10),
        body: format!("早上好 {key}"),
        problem: None,
    }
}

fn queue(community: &str, channel: &str) -> Queue {
    Queue {
        community: community.into(),
        channel: channel.into(),
    }
}

fn keys(rows: &[store::OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test]
async fn a_claim_takes_the_due_head_of_each_queue_in_scheduled_order() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("club", "group", "c3", t0() + mins(3)),
            fire("club", "group", "c1", t0() + mins(1)),
            fire("club", "group", "c2", t0() + mins(2)),
            fire("club", "group", "later", t0() + mins(30)),
            fire("club", "coaches", "k1", t0()),
            // Same channel name, another community: another queue.
            fire("camp", "group", "x1", t0()),
        ],
        t0(),
    )
    .await
    .unwrap();
    let asked = [queue("club", "group"), queue("camp", "group")];
    let claimed = s
        .claim_queues(&asked, 10, t0() + mins(5), t0() + mins(5), mins(10))
        .await
        .unwrap();
    assert_eq!(keys(&claimed.rows), ["c1", "c2", "c3", "x1"]);
    assert!(claimed.rows.iter().all(|r| r.state == State::Sending));
    // The club's group queue has `later` left; the camp's is empty.
    assert_eq!(claimed.next_due, [Some(t0() + mins(30)), None]);
}

#[tokio::test]
async fn a_claim_stops_at_the_cap_and_says_the_rest_is_due() {
    let (_dir, s) = fresh().await;
    let fires: Vec<NewFire> = (0..5)
        .map(|i| fire("club", "group", &format!("f{i}"), t0() + mins(i)))
        .collect();
    s.record_fires(&fires, t0()).await.unwrap();
    let claimed = s
        .claim_queues(
            &[queue("club", "group")],
            2,
            t0() + mins(10),
            t0() + mins(10),
            mins(10),
        )
        .await
        .unwrap();
    assert_eq!(keys(&claimed.rows), ["f0", "f1"]);
    assert_eq!(claimed.next_due, [Some(t0() + mins(2))]);
}

#[tokio::test]
async fn nothing_overtakes_a_message_waiting_for_its_retry() {
    let (_dir, s) = fresh().await;
    s.record_fires(&[fire("club", "group", "first", t0())], t0())
        .await
        .unwrap();
    let q = [queue("club", "group")];
    let claimed = s.claim_queues(&q, 10, t0(), t0(), mins(10)).await.unwrap();
    let lease = claimed.rows[0].lease();
    let retry_at = t0() + mins(4);
    s.settle(
        &[(
            lease,
            Outcome::Retry {
                at: retry_at,
                error: "HTTP 500".into(),
                parts_sent: 1,
            },
        )],
        t0(),
    )
    .await
    .unwrap();
    // A newer fire is due before the retry, yet waits behind it.
    s.record_fires(&[fire("club", "group", "second", t0() + mins(1))], t0())
        .await
        .unwrap();
    let early = s
        .claim_queues(&q, 10, t0() + mins(2), t0() + mins(2), mins(10))
        .await
        .unwrap();
    assert!(early.rows.is_empty(), "{:?}", keys(&early.rows));
    assert_eq!(early.next_due, [Some(retry_at)]);
    let on_time = s
        .claim_queues(&q, 10, retry_at, retry_at, mins(10))
        .await
        .unwrap();
    assert_eq!(keys(&on_time.rows), ["first", "second"]);
    // The retry resumes after the part already delivered.
    assert_eq!(on_time.rows[0].parts_sent, 1);
    assert_eq!(on_time.rows[0].attempts, 2);
}

#[tokio::test]
async fn a_queue_under_lease_is_not_claimed_again_until_recovered() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("club", "group", "a", t0()),
            fire("club", "group", "b", t0()),
        ],
        t0(),
    )
    .await
    .unwrap();
    let q = [queue("club", "group")];
    let first = s.claim_queues(&q, 1, t0(), t0(), mins(10)).await.unwrap();
    assert_eq!(keys(&first.rows), ["a"]);
    // `a` is in flight: `b` must not go before it is settled.
    let second = s
        .claim_queues(&q, 10, t0() + mins(1), t0() + mins(1), mins(10))
        .await
        .unwrap();
    assert!(second.rows.is_empty());
    // The process died; the next one takes over what it held.
    assert_eq!(s.recover(t0() + mins(2)).await.unwrap(), 1);
    let after = s
        .claim_queues(&q, 10, t0() + mins(2), t0() + mins(2), mins(10))
        .await
        .unwrap();
    assert_eq!(keys(&after.rows), ["a", "b"]);
    assert_eq!(
        after.rows[0].attempts, 1,
        "the interrupted attempt is not counted"
    );
}

#[tokio::test]
async fn active_queues_name_every_queue_with_work_and_its_earliest_instant() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("club", "group", "a", t0() + mins(5)),
            fire("club", "group", "b", t0() + mins(1)),
            fire("camp", "feed", "c", t0() + mins(9)),
        ],
        t0(),
    )
    .await
    .unwrap();
    let mut active = s.active_queues().await.unwrap();
    active.sort_by(|a, b| a.queue.community.cmp(&b.queue.community));
    assert_eq!(
        active,
        [
            ActiveQueue {
                queue: queue("camp", "feed"),
                due: t0() + mins(9)
            },
            ActiveQueue {
                queue: queue("club", "group"),
                due: t0() + mins(1)
            },
        ]
    );
}

#[tokio::test]
async fn a_replaced_playbook_drops_only_its_untried_future_fires() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("club", "group", "past", t0() - mins(1)),
            fire("club", "group", "now", t0()),
            fire("club", "group", "soon", t0() + mins(1)),
            fire("camp", "group", "other", t0() + mins(1)),
        ],
        t0() - mins(2),
    )
    .await
    .unwrap();
    // `now` is being sent: a reload leaves it alone.
    let claimed = s
        .claim_queues(&[queue("club", "group")], 2, t0(), t0(), mins(10))
        .await
        .unwrap();
    assert_eq!(keys(&claimed.rows), ["past", "now"]);
    assert_eq!(s.cancel_pending("club", t0()).await.unwrap(), 1);
    assert!(s.find("soon").await.unwrap().is_none());
    assert!(s.find("now").await.unwrap().is_some());
    assert!(s.find("other").await.unwrap().is_some());
}

#[tokio::test]
async fn an_assisted_post_is_confirmed_once() {
    let (_dir, s) = fresh().await;
    let mut todo = fire("club", "ops", "club/content/morning/wechat/1", t0());
    todo.assist_for = Some("wechat".into());
    s.record_fires(&[todo, fire("club", "group", "plain", t0())], t0())
        .await
        .unwrap();
    let claimed = s
        .claim_queues(&[queue("club", "ops")], 10, t0(), t0(), mins(10))
        .await
        .unwrap();
    s.settle(
        &[(
            claimed.rows[0].lease(),
            Outcome::Sent {
                answer: "HTTP 200".into(),
                at: t0(),
            },
        )],
        t0(),
    )
    .await
    .unwrap();
    let waiting = s.unconfirmed(10).await.unwrap();
    assert_eq!(keys(&waiting), ["club/content/morning/wechat/1"]);
    assert_eq!(waiting[0].assist_for.as_deref(), Some("wechat"));
    let key = "club/content/morning/wechat/1";
    assert_eq!(
        s.confirm(key, t0() + mins(3)).await.unwrap(),
        Confirmed::Done
    );
    assert_eq!(
        s.confirm(key, t0() + mins(9)).await.unwrap(),
        Confirmed::Already
    );
    assert_eq!(s.confirm("plain", t0()).await.unwrap(), Confirmed::Unknown);
    assert_eq!(
        s.find(key).await.unwrap().unwrap().confirmed_at,
        Some(t0() + mins(3))
    );
    assert!(s.unconfirmed(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn marks_of_many_communities_are_written_together_and_never_move_back() {
    let (_dir, s) = fresh().await;
    let mark = |name: &str, at| RunMark {
        name: name.into(),
        at,
    };
    s.set_last_runs(&[mark("club", t0()), mark("camp", t0() + mins(1))])
        .await
        .unwrap();
    s.set_last_runs(&[mark("club", t0() - mins(5)), mark("camp", t0() + mins(2))])
        .await
        .unwrap();
    assert_eq!(s.last_run("club").await.unwrap(), Some(t0()));
    assert_eq!(s.last_run("camp").await.unwrap(), Some(t0() + mins(2)));
}

#[tokio::test]
async fn a_fire_that_cannot_render_is_recorded_dead_not_lost() {
    let (_dir, s) = fresh().await;
    let mut broken = fire("club", "group", "broken", t0());
    broken.problem = Some(drumbeat::store::Problem::Unsendable(
        "could not render: template `morning`: undefined value".into(),
    ));
    let done = s.record_fires(&[broken], t0()).await.unwrap();
    assert!(matches!(done[0], store::Recorded::Dead { .. }), "{done:?}");
    let row = s.find("broken").await.unwrap().unwrap();
    assert_eq!(row.state, State::DeadLettered);
    assert_eq!(
        row.last_error.as_deref(),
        Some("could not render: template `morning`: undefined value")
    );
    // Never claimed.
    let claimed = s
        .claim_queues(&[queue("club", "group")], 10, t0(), t0(), mins(10))
        .await
        .unwrap();
    assert!(claimed.rows.is_empty());
}

#[tokio::test]
async fn pruning_drops_old_finished_rows_only() {
    let (_dir, s) = fresh().await;
    s.record_fires(
        &[
            fire("club", "group", "old-missed", t0() - TimeDelta::days(100)),
            fire("club", "group", "old-pending", t0() - mins(1)),
        ],
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.find("old-missed").await.unwrap().unwrap().state,
        State::Missed
    );
    // Rows changed less than a day ago stay; the one recorded at t0 is older than that
    // at t0 + 2 days, but only finished rows go.
    assert_eq!(s.prune(t0() - TimeDelta::days(1)).await.unwrap(), 0);
    assert_eq!(s.prune(t0() + TimeDelta::days(2)).await.unwrap(), 1);
    assert!(s.find("old-missed").await.unwrap().is_none());
    assert!(s.find("old-pending").await.unwrap().is_some());
}

#[tokio::test]
async fn a_send_interrupted_long_ago_is_missed_not_sent_late() {
    let (_dir, s) = fresh().await;
    s.record_fires(&[fire("club", "group", "morning", t0())], t0())
        .await
        .unwrap();
    let q = [queue("club", "group")];
    s.claim_queues(&q, 10, t0(), t0(), mins(10)).await.unwrap();
    // The process died mid-send; it comes back twelve hours later.
    assert_eq!(s.recover(t0() + TimeDelta::hours(12)).await.unwrap(), 1);
    let row = s.find("morning").await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (State::Missed, 0));
}
