//! The SQLite store: one file, WAL, one writer.
//!
//! Writes go through a pool of exactly one connection, and every multi-statement write
//! starts with `BEGIN IMMEDIATE`, so the write lock is taken up front and two writers
//! (another process on the same file) wait on the busy timeout instead of failing halfway.
//! Reads use their own small pool: in WAL mode they never block the writer nor wait on it.
//! `synchronous = FULL`: a commit reaches the disk before it returns, so a fire recorded
//! or settled survives a power cut, not only a crash of the process.

use super::{
    ActiveQueue, CausedMessage, Claimed, Confirmed, Counts, Lease, Lifecycle, NewFire, Outbox,
    OutboxRow, OutboxStatus, Outcome, Queue, Recorded, RunMark, RunMarks, State, StoreError,
    StoreInfo, StoreUrl, Todos,
};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod members;

/// One schema step, embedded in the binary.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every schema step this binary knows, in order. Append only: a released step never
/// changes.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/sqlite/0001_outbox.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/sqlite/0002_delivery.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/sqlite/0003_members.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/sqlite/0004_store_info.sql"),
    },
];

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Fires per INSERT statement: 12 values each, far below SQLite's limit on parameters,
/// and few enough distinct statement shapes to stay in the statement cache.
const RECORD_CHUNK: usize = 64;

/// Sends settled per UPDATE statement.
const SETTLE_CHUNK: usize = 64;

macro_rules! row_columns {
    () => {
        "id, fire_key, community, source, channel, template, body, scheduled_at, grace_ms, \
         state, attempts, next_attempt_at, lease_token, last_error, answer, recorded_at, \
         updated_at, sent_at, parts_sent, assist_for, confirmed_at"
    };
}

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// The newest schema version this binary understands.
    pub const SCHEMA_VERSION: i64 = 4;

    /// Opens the store at `path`, creating the file if it does not exist, and brings its
    /// schema up to date. Refuses a store written by a newer drumbeat.
    pub async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = connect_writer(options.clone()).await?;
        let mut conn = writer
            .acquire()
            .await
            .map_err(StoreError::db("opening the store file"))?;
        migrate(&mut conn, path).await?;
        drop(conn);
        // The file is in WAL mode from here on (the mode is stored in it), so readers
        // need not set it.
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(120))
            .connect_lazy_with(options);
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer,
            reader,
        })
    }

    /// Opens the store at `path` read-only: nothing is created or written (writes through
    /// it fail). On media that cannot be written at all, where SQLite cannot set up its
    /// shared memory for the write-ahead log, the file is read as immutable. Answers `None`
    /// for a store of an older schema, which must be migrated (opened with
    /// [`SqliteStore::open_file`]) first.
    pub async fn open_file_to_read(path: &Path) -> Result<Option<SqliteStore>, StoreError> {
        let doing = "opening the store to read it";
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(BUSY_TIMEOUT);
        let mut pool = None;
        let mut failure = None;
        for options in [options.clone(), options.immutable(true)] {
            let tried = SqlitePoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(120))
                .connect_with(options)
                .await;
            let checked = match tried {
                Ok(p) => sqlx::query_scalar::<_, i64>(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                )
                .fetch_one(&p)
                .await
                .map(|v| (p, v)),
                Err(e) => Err(e),
            };
            match checked {
                Ok(found) => {
                    pool = Some(found);
                    break;
                }
                Err(e) => failure = Some(e),
            }
        }
        let Some((pool, found)) = pool else {
            let e = failure.expect("a failure when nothing opened");
            return Err(StoreError::db(doing)(e));
        };
        if found > SqliteStore::SCHEMA_VERSION {
            pool.close().await;
            return Err(StoreError::SchemaTooNew {
                location: format!("sqlite://{}", path.display()),
                found,
                known: SqliteStore::SCHEMA_VERSION,
            });
        }
        if found < SqliteStore::SCHEMA_VERSION {
            pool.close().await;
            return Ok(None);
        }
        Ok(Some(SqliteStore {
            path: path.to_path_buf(),
            writer: pool.clone(),
            reader: pool,
        }))
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Lifecycle for SqliteStore {
    async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_file(&sqlite_path(url)?).await
    }

    async fn open_to_read(url: &str) -> Result<SqliteStore, StoreError> {
        let path = sqlite_path(url)?;
        match SqliteStore::open_file_to_read(&path).await? {
            Some(s) => Ok(s),
            None => SqliteStore::open_file(&path).await,
        }
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The file a `sqlite://` URL names; any other URL is refused with the reason.
fn sqlite_path(url: &str) -> Result<PathBuf, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite { path } => Ok(path),
        StoreUrl::Postgres => Err(StoreError::NotSupported {
            what: "PostgreSQL stores",
        }),
    }
}

/// Opens the one writer connection, creating the file if needed and switching it to WAL.
///
/// Switching to WAL takes an exclusive lock that SQLite's busy timeout does not wait for,
/// so when several processes open a new file at once, the losers retry for a while.
async fn connect_writer(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let mut pause = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    loop {
        // The writer stays open for the life of the store: writes never pay for a
        // reconnect and its prepared statements stay cached.
        let attempt = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(120))
            .before_acquire(|conn, _| Box::pin(usable_writer(conn)))
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if is_busy(&e) && waited < BUSY_TIMEOUT => {
                tokio::time::sleep(pause).await;
                waited += pause;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(StoreError::db("opening the store file")(e)),
        }
    }
}

/// Whether the writer can be handed out again, or must be closed and replaced.
///
/// A failed write (a full disk: SQLITE_FULL, an I/O error) can leave the connection
/// believing it is still inside a transaction: SQLite may have rolled it back by itself, so
/// the rollback issued when the transaction is dropped fails, and every later `BEGIN` is
/// refused for good. The ping waits for that rollback to have run; a connection still in a
/// transaction after it is closed (which rolls back whatever SQLite still holds) and the
/// pool opens a fresh one.
async fn usable_writer(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("the store's writer was left inside a failed transaction; reopening it");
        return Ok(false);
    }
    Ok(true)
}

/// SQLITE_BUSY or SQLITE_LOCKED, with any extended code.
fn is_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(e) = error else {
        return false;
    };
    let code = e.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
    matches!(code & 0xff, 5 | 6)
}

/// Creates the version table if needed, refuses a newer schema, applies missing steps:
/// all in one immediate transaction, so two processes starting together cannot both
/// migrate.
async fn migrate(conn: &mut SqliteConnection, path: &Path) -> Result<(), StoreError> {
    use sqlx::Connection;
    let doing = "bringing the store's schema up to date";
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::db(doing))?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY) STRICT")
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
    let found: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
    if found > SqliteStore::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            location: format!("sqlite://{}", path.display()),
            found,
            known: SqliteStore::SCHEMA_VERSION,
        });
    }
    for step in MIGRATIONS.iter().filter(|m| m.version > found) {
        sqlx::raw_sql(step.sql)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing))?;
        sqlx::query("INSERT INTO schema_version (version) VALUES (?1)")
            .bind(step.version)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing))?;
    }
    tx.commit().await.map_err(StoreError::db(doing))
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| sqlx::Error::Decode(format!("instant out of range: {ms} ms").into()))
}

fn read_row(row: &SqliteRow) -> Result<OutboxRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let state = State::parse(&state)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown outbox state `{state}`").into()))?;
    let sent_at: Option<i64> = row.try_get("sent_at")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(OutboxRow {
        id: row.try_get("id")?,
        key: row.try_get("fire_key")?,
        community: row.try_get("community")?,
        source: row.try_get("source")?,
        channel: row.try_get("channel")?,
        template: row.try_get("template")?,
        body: row.try_get("body")?,
        scheduled_at: instant(row.try_get("scheduled_at")?)?,
        grace: TimeDelta::milliseconds(row.try_get("grace_ms")?),
        state,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: instant(row.try_get("next_attempt_at")?)?,
        lease_token: row.try_get("lease_token")?,
        last_error: row.try_get("last_error")?,
        answer: row.try_get("answer")?,
        recorded_at: instant(row.try_get("recorded_at")?)?,
        updated_at: instant(row.try_get("updated_at")?)?,
        sent_at: sent_at.map(instant).transpose()?,
        parts_sent: u32::try_from(row.try_get::<i64, _>("parts_sent")?).unwrap_or(0),
        assist_for: row.try_get("assist_for")?,
        confirmed_at: row
            .try_get::<Option<i64>, _>("confirmed_at")?
            .map(instant)
            .transpose()?,
    })
}

fn read_rows(rows: &[SqliteRow], doing: &'static str) -> Result<Vec<OutboxRow>, StoreError> {
    rows.iter()
        .map(read_row)
        .collect::<Result<_, _>>()
        .map_err(StoreError::db(doing))
}

/// Settles a run of sends with one statement. Answers as if they had been settled one by
/// one: a lease given twice settles only the first time.
async fn settle_sent(
    conn: &mut SqliteConnection,
    sends: &[(Lease, Outcome)],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, StoreError> {
    // A lease given twice: only its first send goes into the statement (SQLite would pick
    // any of the matching values otherwise).
    let mut seen = HashSet::new();
    let firsts: Vec<&(Lease, Outcome)> = sends.iter().filter(|(l, _)| seen.insert(*l)).collect();
    let mut update = QueryBuilder::<Sqlite>::new("WITH settled (id, token, answer, sent_at) AS (");
    update.push_values(firsts, |mut row, (lease, outcome)| {
        let (answer, at) = match outcome {
            Outcome::Sent { answer, at } => (answer.clone(), *at),
            _ => unreachable!("only sends are settled together"),
        };
        row.push_bind(lease.id)
            .push_bind(lease.token)
            .push_bind(answer)
            .push_bind(millis(at));
    });
    update
        .push(
            ") UPDATE outbox SET state = 'sent', answer = settled.answer, \
             sent_at = settled.sent_at, updated_at = ",
        )
        .push_bind(millis(now))
        .push(
            " FROM settled WHERE outbox.id = settled.id AND outbox.lease_token = settled.token \
             AND outbox.state = 'sending' RETURNING outbox.id, outbox.lease_token",
        );
    let applied: Vec<(i64, i64)> = update
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::db("settling deliveries"))?;
    let mut applied: HashSet<(i64, i64)> = applied.into_iter().collect();
    Ok(sends
        .iter()
        .map(|(lease, _)| applied.remove(&(lease.id, lease.token)))
        .collect())
}

/// Inserts fires whose keys are new, in the caller's transaction; answers the ids of the
/// rows created, by key.
async fn insert_fires(
    conn: &mut SqliteConnection,
    fires: &[NewFire],
    now: DateTime<Utc>,
) -> Result<HashMap<String, i64>, StoreError> {
    let doing = "recording fires";
    // Many rows per statement: each statement costs a round trip to the connection's
    // thread, far more than SQLite's own work for a row.
    let mut created: HashMap<String, i64> = HashMap::new();
    for chunk in fires.chunks(RECORD_CHUNK) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (fire_key, community, source, channel, template, body, \
                 scheduled_at, grace_ms, state, next_attempt_at, recorded_at, updated_at, \
                 assist_for, last_error) ",
        );
        insert.push_values(chunk, |mut row, fire| {
            let state = if let Some(problem) = &fire.problem {
                problem.state()
            } else if fire.is_past_grace(now) {
                State::Missed
            } else {
                State::Pending
            };
            row.push_bind(fire.key.clone())
                .push_bind(fire.community.clone())
                .push_bind(fire.source.clone())
                .push_bind(fire.channel.clone())
                .push_bind(fire.template.clone())
                .push_bind(fire.body.clone())
                .push_bind(millis(fire.scheduled_at))
                .push_bind(fire.grace.num_milliseconds().max(0))
                .push_bind(state.as_str())
                .push_bind(millis(fire.scheduled_at))
                .push_bind(millis(now))
                .push_bind(millis(now))
                .push_bind(fire.assist_for.clone())
                .push_bind(fire.problem.as_ref().map(|p| p.reason().to_string()));
        });
        // Rows are inserted in order, so of two equal keys in one batch the first wins.
        insert.push(" ON CONFLICT (fire_key) DO NOTHING RETURNING fire_key, id");
        let rows: Vec<(String, i64)> = insert
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db(doing))?;
        created.extend(rows);
    }
    Ok(created)
}

impl Outbox for SqliteStore {
    async fn record_fires(
        &self,
        fires: &[NewFire],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let doing = "recording fires";
        if fires.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        let mut created = insert_fires(&mut tx, fires, now).await?;
        tx.commit().await.map_err(StoreError::db(doing))?;
        let done = fires
            .iter()
            .map(|fire| match created.remove(&fire.key) {
                None => Recorded::AlreadyRecorded,
                Some(id) => match fire.problem.as_ref().map(|p| p.state()) {
                    Some(State::DeadLettered) => Recorded::Dead { id },
                    Some(_) => Recorded::Missed { id },
                    None if fire.is_past_grace(now) => Recorded::Missed { id },
                    None => Recorded::Pending { id },
                },
            })
            .collect();
        Ok(done)
    }

    async fn claim_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let doing = "claiming due fires";
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One statement, so atomic without an explicit transaction.
        let rows = sqlx::query(concat!(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, \
             lease_token = lease_token + 1, next_attempt_at = ?3, updated_at = ?2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE channel = ?1 AND state IN ('pending', 'retrying', 'sending') \
                   AND next_attempt_at <= ?2 \
                 ORDER BY next_attempt_at, id LIMIT ?4) \
             RETURNING ",
            row_columns!()
        ))
        .bind(channel)
        .bind(millis(now))
        .bind(millis(now + lease))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(StoreError::db(doing))?;
        let mut rows = read_rows(&rows, doing)?;
        rows.sort_by_key(|r| (r.scheduled_at, r.id));
        Ok(rows)
    }

    async fn claim_queues(
        &self,
        queues: &[Queue],
        cap: u32,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        lease: TimeDelta,
    ) -> Result<Claimed, StoreError> {
        let doing = "claiming due fires";
        if queues.is_empty() {
            return Ok(Claimed::default());
        }
        // The queues go in as one JSON array bound to one parameter: one statement claims
        // from all of them, whatever their number.
        let asked = serde_json::Value::Array(
            queues
                .iter()
                .map(|q| serde_json::json!([q.community, q.channel]))
                .collect(),
        )
        .to_string();
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        // `blocked` counts the rows up to this one that are not due: the rows before the
        // first of them are the due head of the queue. CROSS JOIN keeps the asked queues as
        // the outer loop: left to itself SQLite 3.51 walked every queued row and, for each,
        // the whole JSON array (a burst of 2,000 queues took 0.7 s instead of 10 ms).
        let mut rows: Vec<OutboxRow> = sqlx::query(concat!(
            "WITH asked (community, channel, q) AS ( \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), key \
                 FROM json_each(?1)), \
             queued AS ( \
                 SELECT o.id, ROW_NUMBER() OVER w AS n, \
                        SUM(o.next_attempt_at > ?5) OVER w AS blocked \
                 FROM asked CROSS JOIN outbox o \
                   ON o.community = asked.community AND o.channel = asked.channel \
                 WHERE o.state IN ('pending', 'retrying', 'sending') \
                 WINDOW w AS (PARTITION BY asked.q ORDER BY o.scheduled_at, o.id \
                              ROWS UNBOUNDED PRECEDING)) \
             UPDATE outbox SET state = 'sending', attempts = attempts + 1, \
                 lease_token = lease_token + 1, next_attempt_at = ?3, updated_at = ?2 \
             WHERE id IN (SELECT id FROM queued WHERE blocked = 0 AND n <= ?4) \
             RETURNING ",
            row_columns!()
        ))
        .bind(&asked)
        .bind(millis(now))
        .bind(millis(now + lease))
        .bind(i64::from(cap))
        .bind(millis(due_by))
        // Decoded as they come: a burst's raw rows are never all held at once beside the
        // decoded ones.
        .try_map(|row: SqliteRow| read_row(&row))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
        // Each head is one step along the queue index (past the rows just claimed). The
        // repeated state test keeps the query within that partial index: with `state IN
        // ('pending', 'retrying')` alone SQLite walked every pending row for every queue
        // (0.7 s for a burst on 2,000 queues).
        let heads: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "WITH asked (community, channel, q) AS ( \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), key \
                 FROM json_each(?1)) \
             SELECT asked.q, (SELECT o.next_attempt_at FROM outbox o \
                 WHERE o.community = asked.community AND o.channel = asked.channel \
                   AND o.state IN ('pending', 'retrying', 'sending') \
                   AND o.state <> 'sending' \
                 ORDER BY o.scheduled_at, o.id LIMIT 1) \
             FROM asked",
        )
        .bind(&asked)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
        tx.commit().await.map_err(StoreError::db(doing))?;
        let index: HashMap<(&str, &str), usize> = queues
            .iter()
            .enumerate()
            .map(|(i, q)| ((q.community.as_str(), q.channel.as_str()), i))
            .collect();
        rows.sort_by_key(|r| {
            (
                index
                    .get(&(r.community.as_str(), r.channel.as_str()))
                    .copied(),
                r.scheduled_at,
                r.id,
            )
        });
        let mut next_due = vec![None; queues.len()];
        for (q, due) in heads {
            let Some(due) = due else { continue };
            if let Some(slot) = usize::try_from(q).ok().and_then(|q| next_due.get_mut(q)) {
                *slot = Some(instant(due).map_err(StoreError::db(doing))?);
            }
        }
        Ok(Claimed { rows, next_due })
    }

    async fn active_queues(&self) -> Result<Vec<ActiveQueue>, StoreError> {
        let doing = "listing queues";
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT community, channel, MIN(next_attempt_at) FROM outbox \
             WHERE state IN ('pending', 'retrying', 'sending') GROUP BY community, channel",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        rows.into_iter()
            .map(|(community, channel, due)| {
                Ok(ActiveQueue {
                    queue: Queue { community, channel },
                    due: instant(due).map_err(StoreError::db(doing))?,
                })
            })
            .collect()
    }

    async fn settle(
        &self,
        outcomes: &[(Lease, Outcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let doing = "settling deliveries";
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        let mut done = Vec::with_capacity(outcomes.len());
        // Every update applies only while the row is still sending under this lease.
        let mut i = 0;
        while i < outcomes.len() {
            // Runs of sends, the common case, go many to a statement.
            let run = outcomes[i..]
                .iter()
                .take_while(|(_, o)| matches!(o, Outcome::Sent { .. }))
                .take(SETTLE_CHUNK)
                .count();
            if run > 1 {
                done.extend(settle_sent(&mut tx, &outcomes[i..i + run], now).await?);
                i += run;
                continue;
            }
            let (lease, outcome) = &outcomes[i];
            i += 1;
            let query = match outcome {
                Outcome::Sent { answer, at } => sqlx::query(
                    "UPDATE outbox SET state = 'sent', answer = ?4, sent_at = ?5, updated_at = ?3 \
                     WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
                )
                .bind(lease.id)
                .bind(lease.token)
                .bind(millis(now))
                .bind(answer)
                .bind(millis(*at)),
                Outcome::Retry {
                    at,
                    error,
                    parts_sent,
                } => sqlx::query(
                    "UPDATE outbox SET state = 'retrying', next_attempt_at = ?4, \
                     last_error = ?5, parts_sent = MAX(parts_sent, ?6), updated_at = ?3 \
                     WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
                )
                .bind(lease.id)
                .bind(lease.token)
                .bind(millis(now))
                .bind(millis(*at))
                .bind(error)
                .bind(i64::from(*parts_sent)),
                Outcome::Dead { error, parts_sent } => sqlx::query(
                    "UPDATE outbox SET state = 'dead_lettered', last_error = ?4, \
                     parts_sent = MAX(parts_sent, ?5), updated_at = ?3 \
                     WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
                )
                .bind(lease.id)
                .bind(lease.token)
                .bind(millis(now))
                .bind(error)
                .bind(i64::from(*parts_sent)),
                // Untried: the attempt is taken back; a row never tried is pending again
                // at its scheduled instant (so grace still applies to it).
                Outcome::Release => sqlx::query(
                    "UPDATE outbox SET attempts = attempts - 1, \
                     state = CASE WHEN attempts <= 1 THEN 'pending' ELSE 'retrying' END, \
                     next_attempt_at = CASE WHEN attempts <= 1 THEN scheduled_at ELSE ?3 END, \
                     updated_at = ?3 \
                     WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
                )
                .bind(lease.id)
                .bind(lease.token)
                .bind(millis(now)),
                Outcome::Missed => sqlx::query(
                    "UPDATE outbox SET state = 'missed', updated_at = ?3 \
                     WHERE id = ?1 AND lease_token = ?2 AND state = 'sending'",
                )
                .bind(lease.id)
                .bind(lease.token)
                .bind(millis(now)),
            };
            let result = query
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(doing))?;
            done.push(result.rows_affected() == 1);
        }
        tx.commit().await.map_err(StoreError::db(doing))?;
        Ok(done)
    }

    async fn recover(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // The interrupted attempt is not counted (it may never have started), and a first
        // attempt now later than its grace is missed, like any fire the engine was down for.
        // A first attempt claimed ahead of its instant must not go out before it.
        let result = sqlx::query(
            "UPDATE outbox SET \
                 state = CASE WHEN attempts <= 1 AND ?1 - scheduled_at > grace_ms \
                              THEN 'missed' ELSE 'retrying' END, \
                 next_attempt_at = CASE WHEN attempts <= 1 THEN MAX(?1, scheduled_at) \
                                        ELSE ?1 END, \
                 attempts = MAX(attempts - 1, 0), updated_at = ?1 \
             WHERE state = 'sending'",
        )
        .bind(millis(now))
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("taking over unfinished sends"))?;
        Ok(result.rows_affected())
    }

    async fn mark_missed(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE outbox SET state = 'missed', updated_at = ?1 \
             WHERE state = 'pending' AND ?1 - scheduled_at > grace_ms",
        )
        .bind(millis(now))
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("marking missed fires"))?;
        Ok(result.rows_affected())
    }

    async fn cancel_pending(
        &self,
        community: &str,
        from: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM outbox WHERE community = ?1 AND state = 'pending' AND attempts = 0 \
             AND scheduled_at >= ?2",
        )
        .bind(community)
        .bind(millis(from))
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("dropping fires of a replaced playbook"))?;
        Ok(result.rows_affected())
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM outbox WHERE state IN ('sent', 'missed', 'dead_lettered') \
             AND updated_at < ?1",
        )
        .bind(millis(before))
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("pruning old rows"))?;
        Ok(result.rows_affected())
    }

    async fn caused_since(&self, since: DateTime<Utc>) -> Result<Vec<CausedMessage>, StoreError> {
        let doing = "counting caused messages";
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT community, COALESCE(assist_for, channel), scheduled_at FROM outbox \
             WHERE (source LIKE 'event/%' OR source LIKE 'daily/%') AND scheduled_at >= ?1 \
             AND state <> 'dead_lettered'",
        )
        .bind(millis(since))
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        rows.into_iter()
            .map(|(community, channel, at)| {
                Ok(CausedMessage {
                    community,
                    channel,
                    at: instant(at).map_err(StoreError::db(doing))?,
                })
            })
            .collect()
    }
}

impl OutboxStatus for SqliteStore {
    async fn counts_by_state(&self) -> Result<Counts, StoreError> {
        let doing = "counting rows";
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                .fetch_all(&self.reader)
                .await
                .map_err(StoreError::db(doing))?;
        let mut counts = Counts::default();
        for (state, n) in rows {
            let state = State::parse(&state).ok_or_else(|| StoreError::Database {
                doing,
                source: sqlx::Error::Decode(format!("unknown outbox state `{state}`").into()),
            })?;
            *counts.slot(state) = u64::try_from(n).unwrap_or(0);
        }
        Ok(counts)
    }

    async fn next_rows(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let doing = "listing the next fires";
        let rows = sqlx::query(concat!(
            "SELECT ",
            row_columns!(),
            " FROM outbox WHERE state IN ('pending', 'retrying', 'sending') \
             ORDER BY next_attempt_at, id LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        read_rows(&rows, doing)
    }

    async fn rows_in_state(&self, state: State, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let doing = "listing rows";
        let rows = sqlx::query(concat!(
            "SELECT ",
            row_columns!(),
            " FROM outbox WHERE state = ?1 ORDER BY updated_at DESC, id DESC LIMIT ?2"
        ))
        .bind(state.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        read_rows(&rows, doing)
    }

    async fn find(&self, key: &str) -> Result<Option<OutboxRow>, StoreError> {
        let doing = "looking up a fire";
        let row = sqlx::query(concat!(
            "SELECT ",
            row_columns!(),
            " FROM outbox WHERE fire_key = ?1"
        ))
        .bind(key)
        .fetch_optional(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        row.as_ref()
            .map(read_row)
            .transpose()
            .map_err(StoreError::db(doing))
    }
}

impl Todos for SqliteStore {
    async fn confirm(&self, key: &str, now: DateTime<Utc>) -> Result<Confirmed, StoreError> {
        let doing = "confirming an assisted post";
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        let found: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT confirmed_at FROM outbox WHERE fire_key = ?1 AND assist_for IS NOT NULL",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
        let answer = match found {
            None => Confirmed::Unknown,
            Some(Some(_)) => Confirmed::Already,
            Some(None) => {
                sqlx::query(
                    "UPDATE outbox SET confirmed_at = ?2, updated_at = ?2 WHERE fire_key = ?1",
                )
                .bind(key)
                .bind(millis(now))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(doing))?;
                Confirmed::Done
            }
        };
        tx.commit().await.map_err(StoreError::db(doing))?;
        Ok(answer)
    }

    async fn unconfirmed(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let doing = "listing to-dos";
        let rows = sqlx::query(concat!(
            "SELECT ",
            row_columns!(),
            " FROM outbox WHERE assist_for IS NOT NULL AND confirmed_at IS NULL \
             AND state = 'sent' ORDER BY scheduled_at, id LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db(doing))?;
        read_rows(&rows, doing)
    }
}

impl RunMarks for SqliteStore {
    async fn last_run(&self, community: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let doing = "reading the last run";
        let at: Option<i64> = sqlx::query_scalar("SELECT at FROM last_runs WHERE community = ?1")
            .bind(community)
            .fetch_optional(&self.reader)
            .await
            .map_err(StoreError::db(doing))?;
        at.map(instant).transpose().map_err(StoreError::db(doing))
    }

    async fn last_runs(&self) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let doing = "reading the last runs";
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT community, at FROM last_runs")
            .fetch_all(&self.reader)
            .await
            .map_err(StoreError::db(doing))?;
        rows.into_iter()
            .map(|(c, at)| Ok((c, instant(at).map_err(StoreError::db(doing))?)))
            .collect()
    }

    async fn set_last_runs(&self, marks: &[RunMark]) -> Result<(), StoreError> {
        let doing = "noting the last run";
        if marks.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        for chunk in marks.chunks(RECORD_CHUNK * 4) {
            let mut insert = QueryBuilder::<Sqlite>::new("INSERT INTO last_runs (community, at) ");
            insert.push_values(chunk, |mut row, mark| {
                row.push_bind(mark.name.clone()).push_bind(millis(mark.at));
            });
            insert.push(" ON CONFLICT (community) DO UPDATE SET at = MAX(at, excluded.at)");
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(doing))?;
        }
        tx.commit().await.map_err(StoreError::db(doing))
    }
}

impl StoreInfo for SqliteStore {
    async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .fetch_one(&self.reader)
            .await
            .map_err(StoreError::db("reading the schema version"))
    }

    async fn is_dry_run(&self) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT value FROM store_info WHERE name = 'purpose'")
                .fetch_optional(&self.reader)
                .await
                .map_err(StoreError::db("reading what the store is for"))?;
        Ok(found.as_deref() == Some("dry_run"))
    }

    async fn take_for_dry_run(&self) -> Result<bool, StoreError> {
        let doing = "marking the store as a dry run's";
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(doing))?;
        let (marked, used): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM store_info WHERE name = 'purpose' AND value = 'dry_run'), \
                    EXISTS (SELECT 1 FROM outbox) OR EXISTS (SELECT 1 FROM last_runs) \
                    OR EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM members)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(doing))?;
        if marked {
            return Ok(true);
        }
        if used {
            return Ok(false);
        }
        sqlx::query("INSERT INTO store_info (name, value) VALUES ('purpose', 'dry_run')")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing))?;
        tx.commit().await.map_err(StoreError::db(doing))?;
        Ok(true)
    }
}
