//! The member side of the SQLite store.

use super::{SqliteStore, insert_fires, instant, millis};
use crate::events::{Event, Kind};
use crate::store::members::{
    Balance, Draw, Effects, LedgerLine, MemberRow, Milestone, OffenceLine, Status,
};
use crate::store::{Draws, EventLog, KeptPlaybook, Ledger, Members, PlaybookArchive, StoreError};
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashSet;

/// Rows per multi-row INSERT.
const CHUNK: usize = 64;

macro_rules! member_columns {
    () => {
        "community, id, name, status, applied_at, joined_at, birthday, profile, referrer, \
         last_active"
    };
}

fn read_member(row: &SqliteRow) -> Result<MemberRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let profile: String = row.try_get("profile")?;
    let at = |name: &str| -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        row.try_get::<Option<i64>, _>(name)?
            .map(instant)
            .transpose()
    };
    Ok(MemberRow {
        community: row.try_get("community")?,
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: Status::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown status `{status}`").into()))?,
        applied_at: at("applied_at")?,
        joined_at: at("joined_at")?,
        birthday: row.try_get("birthday")?,
        profile: serde_json::from_str(&profile).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        referrer: row.try_get("referrer")?,
        last_active: at("last_active")?,
    })
}

/// Inserts `rows` in multi-row statements of [`CHUNK`] rows: `head`, the values `bind`
/// gives each row, then `tail`.
async fn insert_all<T>(
    conn: &mut sqlx::SqliteConnection,
    head: &'static str,
    tail: &'static str,
    rows: &[T],
    mut bind: impl FnMut(&mut Separated<'_, Sqlite, &'static str>, &T),
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(head);
        q.push_values(chunk, |mut row, item| bind(&mut row, item));
        q.push(tail);
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("applying events"))?;
    }
    Ok(())
}

impl EventLog for SqliteStore {
    /// Which of `ids` the community has taken in already.
    async fn known_events(
        &self,
        community: &str,
        ids: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        let doing = "looking up events";
        let mut known = HashSet::new();
        for chunk in ids.chunks(500) {
            let asked = serde_json::to_string(chunk).unwrap_or_default();
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM events WHERE community = ?1 \
                 AND id IN (SELECT value FROM json_each(?2))",
            )
            .bind(community)
            .bind(asked)
            .fetch_all(&self.writer)
            .await
            .map_err(StoreError::db(doing))?;
            known.extend(rows);
        }
        Ok(known)
    }

    /// Writes events and everything they caused in one transaction.
    async fn write_effects(&self, effects: &Effects, now: DateTime<Utc>) -> Result<(), StoreError> {
        let doing = "applying events";
        if effects.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        insert_all(
            &mut tx,
            "INSERT INTO events (community, id, type, member, at, offset_s, data, received_at) ",
            " ON CONFLICT (community, id) DO NOTHING",
            &effects.events,
            |row, e| {
                row.push_bind(e.community.clone())
                    .push_bind(e.id.clone())
                    .push_bind(e.kind.as_str().to_string())
                    .push_bind(e.member.clone())
                    .push_bind(millis(e.at.with_timezone(&Utc)))
                    .push_bind(i64::from(e.at.offset().local_minus_utc()))
                    .push_bind(serde_json::Value::Object(e.data.clone()).to_string())
                    .push_bind(millis(now));
            },
        )
        .await?;
        insert_all(
            &mut tx,
            concat!("INSERT OR REPLACE INTO members (", member_columns!(), ") "),
            "",
            &effects.members,
            |row, m| {
                row.push_bind(m.community.clone())
                    .push_bind(m.id.clone())
                    .push_bind(m.name.clone())
                    .push_bind(m.status.as_str())
                    .push_bind(m.applied_at.map(millis))
                    .push_bind(m.joined_at.map(millis))
                    .push_bind(m.birthday.clone())
                    .push_bind(m.profile.to_string())
                    .push_bind(m.referrer.clone())
                    .push_bind(m.last_active.map(millis));
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO ledger (community, member, at, points, reason, detail, event) ",
            "",
            &effects.ledger,
            |row, l| {
                row.push_bind(l.community.clone())
                    .push_bind(l.member.clone())
                    .push_bind(millis(l.at))
                    .push_bind(l.points)
                    .push_bind(l.reason.clone())
                    .push_bind(l.detail.clone())
                    .push_bind(l.event.clone());
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO offences (community, member, rule, n, penalty, action, at, event) ",
            "",
            &effects.offences,
            |row, o| {
                row.push_bind(o.community.clone())
                    .push_bind(o.member.clone())
                    .push_bind(o.rule.clone())
                    .push_bind(i64::from(o.n))
                    .push_bind(o.penalty.to_string())
                    .push_bind(o.action.as_str())
                    .push_bind(millis(o.at))
                    .push_bind(o.event.clone());
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO milestones (community, member, what, at) ",
            " ON CONFLICT DO NOTHING",
            &effects.milestones,
            |row, m| {
                row.push_bind(m.community.clone())
                    .push_bind(m.member.clone())
                    .push_bind(m.what.clone())
                    .push_bind(millis(m.at));
            },
        )
        .await?;
        insert_fires(&mut tx, &effects.fires, now).await?;
        tx.commit().await.map_err(StoreError::db(doing))
    }

    async fn events_of(&self, community: &str, member: &str) -> Result<Vec<Event>, StoreError> {
        read_events(&self.reader, community, Some(member)).await
    }

    async fn all_events(&self, community: &str) -> Result<Vec<Event>, StoreError> {
        read_events(&self.reader, community, None).await
    }
}

impl Members for SqliteStore {
    async fn member(&self, community: &str, id: &str) -> Result<Option<MemberRow>, StoreError> {
        let doing = "reading a member";
        let row = sqlx::query(concat!(
            "SELECT ",
            member_columns!(),
            " FROM members WHERE community = ?1 AND id = ?2"
        ))
        .bind(community)
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        row.as_ref()
            .map(read_member)
            .transpose()
            .map_err(StoreError::db(doing))
    }

    async fn members(&self, community: &str) -> Result<Vec<MemberRow>, StoreError> {
        let doing = "listing members";
        let rows = sqlx::query(concat!(
            "SELECT ",
            member_columns!(),
            " FROM members WHERE community = ?1 ORDER BY id"
        ))
        .bind(community)
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        rows.iter()
            .map(read_member)
            .collect::<Result<_, _>>()
            .map_err(StoreError::db(doing))
    }

    /// Deletes the member's row and adds the ledger line that records it, together.
    async fn remove_member(
        &self,
        community: &str,
        id: &str,
        record: &LedgerLine,
    ) -> Result<bool, StoreError> {
        let doing = "removing a member";
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        let gone = sqlx::query("DELETE FROM members WHERE community = ?1 AND id = ?2")
            .bind(community)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing))?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO ledger (community, member, at, points, reason, detail, event) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&record.community)
        .bind(&record.member)
        .bind(millis(record.at))
        .bind(record.points)
        .bind(&record.reason)
        .bind(&record.detail)
        .bind(&record.event)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
        tx.commit().await.map_err(StoreError::db(doing))?;
        Ok(true)
    }

    async fn offences(
        &self,
        community: &str,
        member: &str,
    ) -> Result<Vec<OffenceLine>, StoreError> {
        let doing = "reading offences";
        let rows = sqlx::query(
            "SELECT community, member, rule, n, penalty, action, at, event FROM offences \
             WHERE community = ?1 AND member = ?2 ORDER BY seq",
        )
        .bind(community)
        .bind(member)
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        rows.iter()
            .map(|r| {
                Ok(OffenceLine {
                    community: r.try_get("community")?,
                    member: r.try_get("member")?,
                    rule: r.try_get("rule")?,
                    n: u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
                    penalty: parsed(r.try_get("penalty")?)?,
                    action: parsed(r.try_get("action")?)?,
                    at: instant(r.try_get("at")?)?,
                    event: r.try_get("event")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::db(doing))
    }

    async fn milestones(
        &self,
        community: &str,
        member: &str,
    ) -> Result<Vec<Milestone>, StoreError> {
        let doing = "reading milestones";
        let rows = sqlx::query(
            "SELECT community, member, what, at FROM milestones \
             WHERE community = ?1 AND member = ?2 ORDER BY at, what",
        )
        .bind(community)
        .bind(member)
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        rows.iter()
            .map(|r| {
                Ok(Milestone {
                    community: r.try_get("community")?,
                    member: r.try_get("member")?,
                    what: r.try_get("what")?,
                    at: instant(r.try_get("at")?)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::db(doing))
    }
}

impl Ledger for SqliteStore {
    async fn ledger(&self, community: &str, member: &str) -> Result<Vec<LedgerLine>, StoreError> {
        read_ledger(&self.reader, community, Some(member)).await
    }

    async fn all_ledger(&self, community: &str) -> Result<Vec<LedgerLine>, StoreError> {
        read_ledger(&self.reader, community, None).await
    }

    async fn balances(&self, community: &str) -> Result<Vec<Balance>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT member, SUM(points) FROM ledger WHERE community = ?1 GROUP BY member",
        )
        .bind(community)
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db("summing balances"))?;
        Ok(rows
            .into_iter()
            .map(|(member, points)| Balance { member, points })
            .collect())
    }
}

impl Draws for SqliteStore {
    async fn find_draw(&self, id: &str) -> Result<Option<Draw>, StoreError> {
        let doing = "reading a draw";
        let row = sqlx::query(
            "SELECT id, community, lottery, at, seed, wanted, eligible, winners FROM draws \
             WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        let Some(r) = row else { return Ok(None) };
        let list = |name: &str| -> Result<Vec<String>, sqlx::Error> {
            let text: String = r.try_get(name)?;
            serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        };
        let read = || -> Result<Draw, sqlx::Error> {
            Ok(Draw {
                id: r.try_get("id")?,
                community: r.try_get("community")?,
                lottery: r.try_get("lottery")?,
                at: instant(r.try_get("at")?)?,
                // Stored as the same 64 bits, signed.
                seed: r.try_get::<i64, _>("seed")? as u64,
                wanted: u32::try_from(r.try_get::<i64, _>("wanted")?).unwrap_or(0),
                eligible: list("eligible")?,
                winners: list("winners")?,
            })
        };
        read().map(Some).map_err(StoreError::db(doing))
    }

    async fn save_draw(&self, d: &Draw) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO draws (id, community, lottery, at, seed, wanted, eligible, winners) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&d.id)
        .bind(&d.community)
        .bind(&d.lottery)
        .bind(millis(d.at))
        .bind(d.seed as i64)
        .bind(i64::from(d.wanted))
        .bind(serde_json::to_string(&d.eligible).unwrap_or_default())
        .bind(serde_json::to_string(&d.winners).unwrap_or_default())
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("recording a draw"))?;
        Ok(done.rows_affected() == 1)
    }
}

impl PlaybookArchive for SqliteStore {
    async fn save_playbooks(
        &self,
        playbooks: &[KeptPlaybook],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let doing = "keeping the playbooks";
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        for kept in playbooks {
            sqlx::query(
                "INSERT OR REPLACE INTO playbooks (community, path, source, loaded_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&kept.community)
            .bind(&kept.path)
            .bind(&kept.source)
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing))?;
        }
        tx.commit().await.map_err(StoreError::db(doing))
    }

    async fn playbooks(&self) -> Result<Vec<KeptPlaybook>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT community, path, source FROM playbooks ORDER BY community")
                .fetch_all(&self.reader)
                .await
                .map_err(StoreError::db("reading the playbooks"))?;
        Ok(rows
            .into_iter()
            .map(|(community, path, source)| KeptPlaybook {
                community,
                path,
                source,
            })
            .collect())
    }
}

/// A member's events, or with `None` the whole community's, in the order applied.
async fn read_events(
    reader: &SqlitePool,
    community: &str,
    member: Option<&str>,
) -> Result<Vec<Event>, StoreError> {
    let doing = "reading events";
    let query = match member {
        Some(_) => sqlx::query(
            "SELECT id, type, member, at, offset_s, data FROM events \
             WHERE community = ?1 AND member = ?2 ORDER BY seq",
        ),
        None => sqlx::query(
            "SELECT id, type, member, at, offset_s, data FROM events \
             WHERE community = ?1 AND ?2 IS NULL ORDER BY seq",
        ),
    };
    let rows = query
        .bind(community)
        .bind(member)
        .fetch_all(reader)
        .await
        .map_err(StoreError::db(doing))?;
    rows.iter()
        .map(|r| {
            let at = instant(r.try_get("at")?)?;
            let offset: i64 = r.try_get("offset_s")?;
            let offset = FixedOffset::east_opt(offset as i32)
                .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
            let data: String = r.try_get("data")?;
            let data = match serde_json::from_str(&data) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => Default::default(),
            };
            let kind = Kind::parse(&r.try_get::<String, _>("type")?);
            // Checked when it was taken in.
            let fields = crate::events::decode(&kind, &data, &mut |_, _| {});
            Ok(Event {
                id: r.try_get("id")?,
                kind,
                community: community.to_string(),
                member: r.try_get("member")?,
                at: at.with_timezone(&offset),
                data,
                fields,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::db(doing))
}

/// A member's ledger, or with `None` the whole community's, in order.
async fn read_ledger(
    reader: &SqlitePool,
    community: &str,
    member: Option<&str>,
) -> Result<Vec<LedgerLine>, StoreError> {
    let doing = "reading the ledger";
    let query = match member {
        Some(_) => sqlx::query(
            "SELECT community, member, at, points, reason, detail, event FROM ledger \
             WHERE community = ?1 AND member = ?2 ORDER BY seq",
        ),
        None => sqlx::query(
            "SELECT community, member, at, points, reason, detail, event FROM ledger \
             WHERE community = ?1 AND ?2 IS NULL ORDER BY seq",
        ),
    };
    let rows = query
        .bind(community)
        .bind(member)
        .fetch_all(reader)
        .await
        .map_err(StoreError::db(doing))?;
    rows.iter()
        .map(|r| {
            Ok(LedgerLine {
                community: r.try_get("community")?,
                member: r.try_get("member")?,
                at: instant(r.try_get("at")?)?,
                points: r.try_get("points")?,
                reason: r.try_get("reason")?,
                detail: r.try_get("detail")?,
                event: r.try_get("event")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::db(doing))
}

/// A value kept as text, read back; text no drumbeat wrote is a decoding error.
fn parsed<T: std::str::FromStr<Err = String>>(text: String) -> Result<T, sqlx::Error> {
    text.parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}
