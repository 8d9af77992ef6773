//! Specs for the daemon's HTTP side: a real server on 127.0.0.1, real requests.

use chrono::{TimeZone, Utc};
use drumbeat::runtime::metrics::{Attempt, Metrics};
use drumbeat::server::{self, Ops};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server: its address, what it reads, how to stop it.
struct Running {
    base: String,
    ops: Ops,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = Arc::new(Metrics::new());
    let ops = Ops::new(metrics.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, ops.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        base,
        ops,
        metrics,
        stop: Some(stop),
        task,
    }
}

fn client() -> reqwest::Client {
    // reqwest is built without a TLS provider of its own; plain HTTP needs none, but the
    // builder wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Status, content type and body of `GET base+path`.
async fn get(base: &str, path: &str) -> (u16, String, String) {
    let res = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

#[tokio::test]
async fn healthz_is_503_starting_until_ready() {
    let s = start().await;
    let (status, content_type, body) = get(&s.base, "/healthz").await;
    assert_eq!(status, 503);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        body,
        r#"{"status":"starting","playbooks":0,"last_tick":null,"problem":null}"#
    );
}

#[tokio::test]
async fn healthz_is_200_with_playbooks_and_last_tick_when_ready() {
    let s = start().await;
    s.ops.health.set_playbooks(3);
    s.ops
        .health
        .tick(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 5).unwrap());
    s.ops.health.set_ready(true);
    let (status, _, body) = get(&s.base, "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"status":"ok","playbooks":3,"last_tick":"2026-03-01T08:00:05Z","problem":null}"#
    );

    // The tick moves with the scheduler, to the millisecond.
    s.ops.health.tick(
        Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 6).unwrap() + chrono::TimeDelta::milliseconds(250),
    );
    let (_, _, body) = get(&s.base, "/healthz").await;
    assert_eq!(
        body,
        r#"{"status":"ok","playbooks":3,"last_tick":"2026-03-01T08:00:06.250Z","problem":null}"#
    );
}

#[tokio::test]
async fn healthz_is_503_failing_while_the_store_cannot_write_and_ok_once_it_can() {
    let s = start().await;
    s.ops.health.set_playbooks(1);
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 5).unwrap();
    s.ops.health.tick(at);
    s.ops.health.set_ready(true);
    assert!(s.ops.health.store_failed(at, "database or disk is full"));
    // A second failure continues the stretch: not new, and its start is kept.
    assert!(
        !s.ops
            .health
            .store_failed(at + chrono::TimeDelta::seconds(9), "still full")
    );
    let (status, _, body) = get(&s.base, "/healthz").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        r#"{"status":"failing","playbooks":1,"last_tick":"2026-03-01T08:00:05Z","problem":"the store cannot be written since 2026-03-01T08:00:05Z: still full"}"#
    );
    assert_eq!(s.ops.health.store_wrote(), Some(at));
    assert_eq!(get(&s.base, "/healthz").await.0, 200);
    assert_eq!(s.ops.health.store_wrote(), None);
}

#[tokio::test]
async fn healthz_is_503_stopping_once_no_longer_ready() {
    let s = start().await;
    s.ops.health.set_ready(true);
    s.ops.health.set_ready(false);
    let (status, _, body) = get(&s.base, "/healthz").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        r#"{"status":"stopping","playbooks":0,"last_tick":null,"problem":null}"#
    );
    // Not ready twice in a row stays "stopping".
    s.ops.health.set_ready(false);
    let (_, _, body) = get(&s.base, "/healthz").await;
    assert!(body.contains(r#""status":"stopping""#), "{body}");
}

#[tokio::test]
async fn metrics_serves_the_prometheus_text_of_the_shared_counters() {
    let s = start().await;
    s.metrics.recorded("club", 2, 0);
    s.metrics.attempt("club", "wecom", Attempt::Sent);
    s.metrics.set_queue_depth(1);
    let (status, content_type, body) = get(&s.base, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(body, s.metrics.render());
    for line in [
        "drumbeat_fires_total{community=\"club\",state=\"pending\"} 2\n",
        "drumbeat_sends_total{community=\"club\",channel=\"wecom\",outcome=\"sent\"} 1\n",
        "drumbeat_queue_depth 1\n",
    ] {
        assert!(body.contains(line), "{line} missing from:\n{body}");
    }

    // Counts made after a scrape show in the next one.
    s.metrics.attempt("club", "wecom", Attempt::Sent);
    let (_, _, body) = get(&s.base, "/metrics").await;
    assert!(
        body.contains(
            "drumbeat_sends_total{community=\"club\",channel=\"wecom\",outcome=\"sent\"} 2\n"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let s = start().await;
    for path in ["/", "/health", "/metrics/x", "/v1/event"] {
        let (status, _, _) = get(&s.base, path).await;
        assert_eq!(status, 404, "{path}");
    }
    // Events are posted, never fetched.
    assert_eq!(get(&s.base, "/v1/events").await.0, 405);
    let res = client()
        .post(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
}

#[tokio::test]
async fn serve_returns_when_told_to_shut_down() {
    let mut s = start().await;
    let (status, _, _) = get(&s.base, "/metrics").await;
    assert_eq!(status, 200);
    s.stop.take().unwrap().send(()).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(10), &mut s.task)
        .await
        .expect("serve returns after shutdown")
        .unwrap();
    assert!(done.is_ok(), "{done:?}");
    // Nothing listens any more.
    let refused = client().get(format!("{}/healthz", s.base)).send().await;
    assert!(refused.is_err(), "{refused:?}");
}
