//! Playbooks, stores and keys the daemon specs share: one community in Asia/Shanghai
//! living on 2026-12-01 and 02, a SQLite store in a temporary folder.

use chrono::{DateTime, Utc};
use drumbeat::store::{Lifecycle, OutboxRow, OutboxStatus, SqliteStore, State};
use std::collections::BTreeMap;
use std::path::Path;

/// A playbook of community `id` in Asia/Shanghai (08:00 local is 00:00Z), living on
/// 2026-12-01 and 02, with the given channels and content slots.
pub fn playbook(id: &str, channels: &str, slots: &str) -> String {
    format!(
        "version: 1\n\
         community: {{ id: {id}, name: Club {id}, kind: service, timezone: Asia/Shanghai, locale: en,\n  \
         runs: {{ from: 2026-12-01, until: 2026-12-02 }} }}\n\
         channels:\n{channels}\
         content:\n  grace: 10m\n  daily_limit: 1000\n  slots:\n{slots}\
         templates:\n  t: \"{{{{ slot }}}}\"\n"
    )
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("the playbook is written");
}

pub fn store_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("state.db").display())
}

/// Every row of the outbox, by key (the store is opened and closed again).
pub fn outbox(url: &str) -> BTreeMap<String, OutboxRow> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(url).await.expect("the store opens");
        let mut rows = BTreeMap::new();
        for state in State::ALL {
            for r in s.rows_in_state(state, 1_000_000).await.unwrap() {
                rows.insert(r.key.clone(), r);
            }
        }
        s.close().await;
        rows
    })
}

pub fn keys_in(rows: &BTreeMap<String, OutboxRow>, state: State) -> Vec<String> {
    rows.values()
        .filter(|r| r.state == state)
        .map(|r| r.key.clone())
        .collect()
}

pub fn local(hhmm: &str) -> DateTime<Utc> {
    instant(&format!("2026-12-01T{hhmm}:00+08:00"))
}

pub fn key(community: &str, slot: &str, channel: &str, hhmm: &str) -> String {
    format!(
        "{community}/content/{slot}/{channel}/{}",
        local(hhmm).format("%Y%m%dT%H%M%SZ")
    )
}

pub fn folder() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

pub fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}
