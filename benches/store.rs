//! Durable outbox throughput: record a batch of fires, claim them, settle them as sent.
//! Three commits per batch, each reaching the disk (WAL, synchronous = FULL), on a real
//! SQLite file. Batch 1 is the worst case (one fire at a time); larger batches are what
//! the runtime does when many fires fall due together.
//!
//! Run: cargo bench --bench store

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drumbeat::store::{Lease, Lifecycle, NewFire, Outbox, Outcome, SqliteStore};
use std::cell::Cell;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn fire(n: u64) -> NewFire {
    NewFire {
        key: format!("club-{}/content/morning/wecom/{n:012}", n % 97),
        community: format!("club-{}", n % 97),
        source: "content/morning".into(),
        channel: "wecom".into(),
        assist_for: None,
        template: "morning".into(),
        scheduled_at: t0(),
        grace: TimeDelta::minutes(10),
        body: "早上好！今天的话题：复盘本周的打卡，说说你最大的收获。".into(),
        problem: None,
    }
}

fn record_claim_send(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let s = rt.block_on(SqliteStore::open(&url)).unwrap();
    let next = Cell::new(0u64);
    let now = t0() + TimeDelta::seconds(1);

    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    for batch in [1u64, 10, 100, 500] {
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(
            BenchmarkId::new("record_claim_send", batch),
            &batch,
            |b, &batch| {
                b.iter(|| {
                    let start = next.get();
                    next.set(start + batch);
                    let fires: Vec<NewFire> = (start..start + batch).map(fire).collect();
                    rt.block_on(async {
                        s.record_fires(&fires, now).await.unwrap();
                        let rows = s
                            .claim_due("wecom", now, batch as u32, TimeDelta::seconds(60))
                            .await
                            .unwrap();
                        assert_eq!(rows.len() as u64, batch);
                        let sent: Vec<(Lease, Outcome)> = rows
                            .iter()
                            .map(|r| {
                                (
                                    r.lease(),
                                    Outcome::Sent {
                                        answer: "{\"errcode\":0,\"errmsg\":\"ok\"}".into(),
                                        at: now,
                                    },
                                )
                            })
                            .collect();
                        s.settle(&sent, now).await.unwrap();
                    })
                })
            },
        );
    }
    group.finish();
    rt.block_on(s.close());
}

criterion_group!(benches, record_claim_send);
criterion_main!(benches);
