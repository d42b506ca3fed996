//! The replica: a SQLite file per spec that keeps every synced record between runs, with the
//! sync tokens that let the next run ask only for what changed, and the history of runs.
//!
//! # Layout
//!
//! The file is `<state_dir>/<spec file stem>.sqlite`. Each (source, entity) has a table named
//! `"<source>.<entity>"` with the record's id (`_id`), its creation time in milliseconds
//! (`_created_ms`, NULL when undated), the full record as JSON (`_json`), the run that last wrote
//! it (`_seen_run`), and one virtual generated column per projected column of the stream's
//! schema (`status`, `candidate.name`), so SQL over the replica reads like the spreadsheet. State
//! tables start with `_ashflow_` and never contain a dot, so they cannot meet an entity's table.
//!
//! # Why it is crash-safe
//!
//! Every batch (one page of the source) is applied in one transaction. The batch that ends a
//! pass also stores the pass's new sync token and, for a full pass, removes the rows that the
//! pass did not see, in that same transaction. A process killed at any moment therefore leaves
//! either the old token with the rows it covers plus some newer rows (the next run reads those
//! changes again, which is harmless because rows are upserted by id), or the new token with
//! everything it covers. Nothing is lost and nothing is duplicated.
//!
//! # Order
//!
//! Rows come back in creation time, then id; records without a parseable creation time sort
//! **last**, ordered by id among themselves, as blanks do in a sorted spreadsheet. An index on
//! exactly that expression lets a dataset be read in pages of [`PAGE_ROWS`], each page a seek.
//!
//! Alongside the rows, each stream's schema is widened with fields the source sent but did not
//! declare, and the widening is stored, so later runs (which may see none of those records)
//! still describe the same columns.
//!
//! The methods are synchronous and take a mutex around the one connection; async callers run
//! them on tokio's blocking pool so the runtime's workers never wait on SQLite.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ashflow_core::projection::{ColumnType, Projection};
use ashflow_core::record::record_id;
use ashflow_core::schema::UNDECLARED_FIELD_DESCRIPTION;
use ashflow_core::time::timestamp_millis;
use ashflow_core::{Batch, DataType, Field, Pass, Record, Schema, StreamDescriptor};
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::error::RunnerError;

/// Records per page when a dataset is read back.
pub(crate) const PAGE_ROWS: usize = 250;

/// A missing creation time sorts as this, after every real instant.
const UNDATED: &str = "9223372036854775807";

/// The state tables, created when missing. Times are milliseconds since the Unix epoch, UTC.
const STATE_SQL: &str = "
    CREATE TABLE IF NOT EXISTS _ashflow_streams (
        source TEXT NOT NULL,
        entity TEXT NOT NULL,
        -- The token the next changes pass starts from; NULL reads everything.
        sync_token TEXT,
        -- When the last full pass completed; NULL when none ever did.
        full_pass_ms INTEGER,
        -- When the last pass of any kind completed.
        last_pass_ms INTEGER,
        -- Fields the source sent without declaring them, as [{path, data_type}].
        undeclared_fields TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (source, entity)
    );
    CREATE TABLE IF NOT EXISTS _ashflow_runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER,
        -- succeeded, failed or cancelled; NULL while running or when the run was killed.
        outcome TEXT,
        full_refresh INTEGER NOT NULL,
        pid INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _ashflow_run_streams (
        run_id INTEGER NOT NULL REFERENCES _ashflow_runs (run_id),
        source TEXT NOT NULL,
        entity TEXT NOT NULL,
        pass TEXT NOT NULL,
        rows_read INTEGER NOT NULL,
        rows_written INTEGER NOT NULL,
        rows_removed INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        retries INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (run_id, source, entity)
    );
";

/// The replica of one spec, locked for one run; cheap to clone, all clones share the file.
#[derive(Clone)]
pub(crate) struct Replica {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Mutex<Connection>,
    streams: Mutex<HashMap<StreamKey, ReplicaStream>>,
    path: PathBuf,
    run_id: i64,
    // Released when the replica is dropped, after the connection closed (fields drop in order).
    _lock: File,
}

/// A (source, entity) pair.
type StreamKey = (String, String);

/// What the replica tracks about one stream during a run.
struct ReplicaStream {
    table: String,
    declared: Schema,
    schema: Schema,
    primary_key: String,
    created_at_field: Option<String>,
    records_without_id: u64,
    counts: StreamCounts,
}

/// What one run did to one stream's table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamCounts {
    /// Records received from the source.
    pub(crate) read: u64,
    /// Rows inserted or changed (a record received unchanged is not counted).
    pub(crate) written: u64,
    /// Rows removed because a full pass no longer saw them upstream.
    pub(crate) removed: u64,
}

/// How a stream will be read this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadPlan {
    /// The token to read changes from; `None` reads everything (a full pass).
    pub(crate) sync_token: Option<String>,
}

/// A field the source sent without declaring it, as stored between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UndeclaredField {
    path: Vec<String>,
    data_type: String,
}

/// Where the next page of a dataset starts: after this sort key and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageCursor {
    created_ms: i64,
    id: String,
}

/// One page of a dataset read back in order.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// The records, in dataset order.
    pub(crate) records: Vec<Record>,
    /// Where the following page starts; `None` when this page is the last.
    pub(crate) next: Option<PageCursor>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Replica({}, run {})", self.inner.path.display(), self.inner.run_id)
    }
}

/// The replica file of the spec whose file name is `spec_file_name`, in `state_dir`.
pub(crate) fn replica_path(state_dir: &Path, spec_file_name: &str) -> PathBuf {
    let stem = Path::new(spec_file_name)
        .file_stem()
        .map_or_else(|| spec_file_name.to_string(), |stem| stem.to_string_lossy().into_owned());
    state_dir.join(format!("{stem}.sqlite"))
}

/// The lock file beside a replica file.
fn lock_path(replica: &Path) -> PathBuf {
    replica.with_extension("lock")
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A count as SQLite stores integers.
fn sql_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table of `entity` read by `source`.
pub(crate) fn table_name(source: &str, entity: &str) -> String {
    format!("{source}.{entity}")
}

impl Replica {
    /// Opens (creating when missing) the replica at `path` for a new run, locked so that no
    /// other run of the same spec can use it until this one ends.
    ///
    /// The folder is created readable by its owner only, because it holds personal data.
    /// Runs that started earlier and never ended (killed) are marked as interrupted.
    pub(crate) fn open(path: &Path, full_refresh: bool) -> Result<Self, RunnerError> {
        let folder = path.parent().unwrap_or(Path::new("."));
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(|source| RunnerError::StateDir { dir: folder.to_path_buf(), source })?;
        let lock = take_lock(&lock_path(path))?;

        // Created owner-only before SQLite opens it; SQLite gives its WAL and shared-memory
        // files the same permissions as the database file.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| RunnerError::StateDir { dir: folder.to_path_buf(), source })?;
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(STATE_SQL)?;
        connection.execute(
            "UPDATE _ashflow_runs SET outcome = 'interrupted' WHERE ended_ms IS NULL",
            [],
        )?;
        connection.execute(
            "INSERT INTO _ashflow_runs (started_ms, full_refresh, pid) VALUES (?1, ?2, ?3)",
            params![now_ms(), full_refresh, std::process::id()],
        )?;
        let run_id = connection.last_insert_rowid();
        tracing::debug!(path = %path.display(), run_id, "Opened the replica.");

        Ok(Replica {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                streams: Mutex::new(HashMap::new()),
                path: path.to_path_buf(),
                run_id,
                _lock: lock,
            }),
        })
    }

    /// The replica file.
    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// This run's number in the history.
    pub(crate) fn run_id(&self) -> i64 {
        self.inner.run_id
    }

    /// Prepares the table of `stream` read by `source` and decides how to read it: changes
    /// since the stored token when the stream has completed a full pass and no full pass is
    /// due (`force_full`, or `full_refresh_every` elapsed since the last one); everything
    /// otherwise.
    pub(crate) fn prepare_stream(
        &self,
        source: &str,
        stream: &StreamDescriptor,
        force_full: bool,
        full_refresh_every: Option<Duration>,
    ) -> Result<ReadPlan, RunnerError> {
        let key = (source.to_string(), stream.name.clone());
        let table = table_name(source, &stream.name);
        let connection = self.connection();
        let stored: Option<(Option<String>, Option<i64>, String)> = connection
            .query_row(
                "SELECT sync_token, full_pass_ms, undeclared_fields FROM _ashflow_streams \
                 WHERE source = ?1 AND entity = ?2",
                params![source, stream.name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let (token, full_pass_ms, undeclared) = stored.unwrap_or((None, None, "[]".into()));

        let mut schema = stream.schema.clone();
        let undeclared: Vec<UndeclaredField> =
            serde_json::from_str(&undeclared).map_err(|source| {
                RunnerError::State(format!("undeclared fields of {table}: {source}"))
            })?;
        for field in &undeclared {
            add_undeclared(&mut schema.fields, &field.path, &field.data_type);
        }
        create_table(&connection, &table, &schema)?;
        connection.execute(
            "INSERT OR IGNORE INTO _ashflow_streams (source, entity) VALUES (?1, ?2)",
            params![source, stream.name],
        )?;
        drop(connection);

        let full_refresh_due = match (full_pass_ms, full_refresh_every) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(last), Some(every)) => {
                let every = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
                now_ms().saturating_sub(last) >= every
            }
        };
        let sync_token = token.filter(|_| stream.incremental && !force_full && !full_refresh_due);

        self.streams().insert(
            key,
            ReplicaStream {
                table,
                declared: stream.schema.clone(),
                schema,
                primary_key: stream.primary_key.clone(),
                created_at_field: stream.created_at_field.clone(),
                records_without_id: 0,
                counts: StreamCounts::default(),
            },
        );
        Ok(ReadPlan { sync_token })
    }

    /// Applies one batch of `entity` read by `source` in one transaction: its records are
    /// upserted by id and marked as seen by this run. When the batch ends a pass, the new token
    /// is stored (or cleared), and after a full pass the rows it did not see are removed.
    pub(crate) fn apply_batch(
        &self,
        source: &str,
        entity: &str,
        batch: &Batch,
    ) -> Result<(), RunnerError> {
        let key = (source.to_string(), entity.to_string());
        let mut streams = self.streams();
        let stream = streams
            .get_mut(&key)
            .ok_or_else(|| RunnerError::UnknownDataset(table_name(source, entity)))?;
        let mut widened = Vec::new();
        let mut rows = Vec::with_capacity(batch.records.len());
        for record in &batch.records {
            widened.extend(stream.schema.absorb_unknown_fields(record));
            let id = stream.id_of(self.inner.run_id, record);
            let created_ms = stream.created_ms_of(record);
            let json = serde_json::to_string(record).map_err(|source| RunnerError::Json {
                action: "encode",
                dataset: stream.table.clone(),
                source,
            })?;
            rows.push((id, created_ms, json));
        }

        let run_id = self.inner.run_id;
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        if !widened.is_empty() {
            for field in &widened {
                tracing::info!(
                    table = %stream.table,
                    field = %field,
                    "Passing through a field the schema does not describe."
                );
            }
            store_undeclared(&transaction, source, entity, stream)?;
            add_generated_columns(&transaction, &stream.table, &stream.schema)?;
        }
        let mut written = 0;
        {
            let table = quoted(&stream.table);
            let mut upsert = transaction.prepare_cached(&format!(
                "INSERT INTO {table} (_id, _created_ms, _json, _seen_run) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (_id) DO UPDATE SET _created_ms = excluded._created_ms, \
                 _json = excluded._json, _seen_run = excluded._seen_run \
                 WHERE _json IS NOT excluded._json"
            ))?;
            let mut touch = transaction
                .prepare_cached(&format!("UPDATE {table} SET _seen_run = ?2 WHERE _id = ?1"))?;
            for (id, created_ms, json) in &rows {
                if upsert.execute(params![id, created_ms, json, run_id])? == 1 {
                    written += 1;
                } else {
                    touch.execute(params![id, run_id])?;
                }
            }
        }
        let mut removed = 0;
        if let Some(end) = &batch.end_of_pass {
            let now = now_ms();
            transaction.execute(
                "UPDATE _ashflow_streams SET sync_token = ?3, last_pass_ms = ?4 \
                 WHERE source = ?1 AND entity = ?2",
                params![source, entity, end.sync_token, now],
            )?;
            if batch.pass == Pass::Full {
                removed = transaction.execute(
                    &format!("DELETE FROM {} WHERE _seen_run <> ?1", quoted(&stream.table)),
                    params![run_id],
                )? as u64;
                transaction.execute(
                    "UPDATE _ashflow_streams SET full_pass_ms = ?3 WHERE source = ?1 AND entity = ?2",
                    params![source, entity, now],
                )?;
            }
        }
        transaction.commit()?;

        stream.counts.read += rows.len() as u64;
        stream.counts.written += written;
        stream.counts.removed += removed;
        tracing::debug!(
            table = %stream.table,
            rows = rows.len(),
            written,
            removed,
            end_of_pass = batch.end_of_pass.is_some(),
            "Applied a batch to the replica."
        );
        Ok(())
    }

    /// What this run did to the stream's table so far.
    pub(crate) fn counts(&self, source: &str, entity: &str) -> StreamCounts {
        let key = (source.to_string(), entity.to_string());
        self.streams().get(&key).map(|stream| stream.counts).unwrap_or_default()
    }

    /// Records what reading the stream did in this run's history.
    pub(crate) fn record_stream(
        &self,
        source: &str,
        entity: &str,
        history: &StreamHistory,
    ) -> Result<(), RunnerError> {
        let counts = self.counts(source, entity);
        self.connection().execute(
            "INSERT OR REPLACE INTO _ashflow_run_streams (run_id, source, entity, pass, rows_read, \
             rows_written, rows_removed, requests, retries, error) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                self.inner.run_id,
                source,
                entity,
                if history.changes_only { "changes" } else { "full" },
                sql_count(history.rows_read.unwrap_or(counts.read)),
                sql_count(counts.written),
                sql_count(counts.removed),
                sql_count(history.requests),
                sql_count(history.retries),
                history.error,
            ],
        )?;
        Ok(())
    }

    /// Ends this run in the history with `outcome` (`succeeded`, `failed` or `cancelled`).
    pub(crate) fn finish_run(&self, outcome: &str) -> Result<(), RunnerError> {
        self.connection().execute(
            "UPDATE _ashflow_runs SET ended_ms = ?2, outcome = ?3 WHERE run_id = ?1",
            params![self.inner.run_id, now_ms(), outcome],
        )?;
        Ok(())
    }

    /// When the stream's replica last became complete (its last completed pass), provided a
    /// full pass has ever completed; `None` when the replica never held a complete copy.
    pub(crate) fn complete_as_of(
        &self,
        source: &str,
        entity: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, RunnerError> {
        let last: Option<Option<i64>> = self
            .connection()
            .query_row(
                "SELECT last_pass_ms FROM _ashflow_streams \
                 WHERE source = ?1 AND entity = ?2 AND full_pass_ms IS NOT NULL",
                params![source, entity],
                |row| row.get(0),
            )
            .optional()?;
        Ok(last.flatten().and_then(chrono::DateTime::from_timestamp_millis))
    }

    /// The stream's schema: the declared one, widened by every record seen in any run.
    pub(crate) fn schema(&self, source: &str, entity: &str) -> Option<Schema> {
        let key = (source.to_string(), entity.to_string());
        self.streams().get(&key).map(|stream| stream.schema.clone())
    }

    /// The number of records in the stream's table.
    pub(crate) fn row_count(&self, source: &str, entity: &str) -> Result<u64, RunnerError> {
        let sql = format!("SELECT COUNT(*) FROM {}", quoted(&table_name(source, entity)));
        let count: i64 = self.connection().query_row(&sql, [], |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Up to `limit` records of the stream in order, starting after `after` (or at the start).
    pub(crate) fn read_page(
        &self,
        source: &str,
        entity: &str,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<Page, RunnerError> {
        let table = table_name(source, entity);
        let order = format!("IFNULL(_created_ms, {UNDATED})");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.connection();
        let mut rows = Vec::new();
        let mut collect = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            rows.push((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?));
            Ok(())
        };
        match after {
            None => {
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT {order}, _id, _json FROM {} ORDER BY {order}, _id LIMIT ?1",
                    quoted(&table)
                ))?;
                let mut cursor = statement.query(params![limit])?;
                while let Some(row) = cursor.next()? {
                    collect(row)?;
                }
            }
            Some(after) => {
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT {order}, _id, _json FROM {} WHERE ({order}, _id) > (?2, ?3) \
                     ORDER BY {order}, _id LIMIT ?1",
                    quoted(&table)
                ))?;
                let mut cursor = statement.query(params![limit, after.created_ms, after.id])?;
                while let Some(row) = cursor.next()? {
                    collect(row)?;
                }
            }
        }
        drop(connection);

        let full_page = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
        let next = rows
            .last()
            .filter(|_| full_page)
            .map(|(created_ms, id, _)| PageCursor { created_ms: *created_ms, id: id.clone() });
        let records =
            rows.into_iter().map(|(_, _, json)| decode(&table, &json)).collect::<Result<_, _>>()?;
        Ok(Page { records, next })
    }

    /// Every record of the stream, in row order.
    pub(crate) fn read_all(&self, source: &str, entity: &str) -> Result<Vec<Record>, RunnerError> {
        let mut records = Vec::new();
        let mut after = None;
        loop {
            let page = self.read_page(source, entity, after.as_ref(), PAGE_ROWS)?;
            records.extend(page.records);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// A new connection to the replica that can only read, for SQL datasets: whatever the
    /// query says, SQLite refuses to write through it.
    pub(crate) fn read_only_connection(&self) -> Result<Connection, RunnerError> {
        let connection = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(connection)
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is one
        // transaction), so a poisoned lock is safe to keep using.
        self.inner.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn streams(&self) -> MutexGuard<'_, HashMap<StreamKey, ReplicaStream>> {
        self.inner.streams.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the history keeps about reading one stream, besides the replica's own counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamHistory {
    /// True when the read asked only for changes since a sync token.
    pub(crate) changes_only: bool,
    /// Records the source reported delivering, when its read ended; otherwise the replica
    /// counts what arrived.
    pub(crate) rows_read: Option<u64>,
    /// HTTP requests sent.
    pub(crate) requests: u64,
    /// Requests retried.
    pub(crate) retries: u64,
    /// Why the read failed, when it did.
    pub(crate) error: Option<String>,
}

fn decode(table: &str, json: &str) -> Result<Record, RunnerError> {
    serde_json::from_str(json).map_err(|source| RunnerError::Json {
        action: "decode",
        dataset: table.to_string(),
        source,
    })
}

/// Locks `path` for this process, writing its pid there for whoever finds it locked.
fn take_lock(path: &Path) -> Result<File, RunnerError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|source| RunnerError::StateDir { dir: path.to_path_buf(), source })?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(RunnerError::Locked {
            lock: path.to_path_buf(),
            pid: holder.trim().parse().ok(),
        });
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    written.map_err(|source| RunnerError::StateDir { dir: path.to_path_buf(), source })?;
    Ok(file)
}

/// True when a run holds the lock of the replica at `path` now.
fn is_locked(path: &Path) -> bool {
    match File::open(lock_path(path)) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => false,
    }
}

/// Creates the stream's table, its order index and its generated columns when missing.
fn create_table(connection: &Connection, table: &str, schema: &Schema) -> Result<(), RunnerError> {
    let quoted_table = quoted(table);
    connection.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {quoted_table} (
            _id TEXT PRIMARY KEY,
            _created_ms INTEGER,
            _json TEXT NOT NULL,
            _seen_run INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS {} ON {quoted_table} (IFNULL(_created_ms, {UNDATED}), _id);",
        quoted(&format!("{table}:order"))
    ))?;
    add_generated_columns(connection, table, schema)
}

/// Adds a virtual generated column for every projected column of `schema` that the table does
/// not have yet. Column names in SQLite ignore case, so a column whose name differs from an
/// existing one only by case is left out (its value stays in `_json`).
fn add_generated_columns(
    connection: &Connection,
    table: &str,
    schema: &Schema,
) -> Result<(), RunnerError> {
    let mut existing: Vec<String> = Vec::new();
    {
        let mut statement = connection
            .prepare(&format!("SELECT name FROM pragma_table_xinfo({})", sql_text(table)))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            existing.push(row.get::<_, String>(0)?.to_lowercase());
        }
    }
    for column in Projection::new(schema).columns() {
        let lower = column.name.to_lowercase();
        if existing.contains(&lower) {
            continue;
        }
        // SQLite's JSON paths cannot spell a key that holds a double quote.
        if column.path.iter().any(|segment| segment.contains('"')) {
            tracing::debug!(table, column = %column.name, "No SQL column for a name with quotes.");
            continue;
        }
        let json_path: String =
            column.path.iter().map(|segment| format!(".\"{segment}\"")).collect();
        connection.execute(
            &format!(
                "ALTER TABLE {} ADD COLUMN {} {} GENERATED ALWAYS AS (json_extract(_json, {})) \
                 VIRTUAL",
                quoted(table),
                quoted(&column.name),
                affinity(column.column_type),
                sql_text(&format!("${json_path}"))
            ),
            [],
        )?;
        existing.push(lower);
    }
    Ok(())
}

/// `text` as an SQL string literal.
fn sql_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQLite column affinity of a projected column.
fn affinity(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Number => "REAL",
        ColumnType::String | ColumnType::Timestamp | ColumnType::Date | ColumnType::Json => "TEXT",
    }
}

/// Stores the fields of the stream's schema that its declared schema lacks.
fn store_undeclared(
    transaction: &Transaction<'_>,
    source: &str,
    entity: &str,
    stream: &ReplicaStream,
) -> Result<(), RunnerError> {
    let mut undeclared = Vec::new();
    collect_undeclared(
        &stream.declared.fields,
        &stream.schema.fields,
        &mut Vec::new(),
        &mut undeclared,
    );
    let text = serde_json::to_string(&undeclared)
        .map_err(|source| RunnerError::State(format!("undeclared fields: {source}")))?;
    transaction.execute(
        "UPDATE _ashflow_streams SET undeclared_fields = ?3 WHERE source = ?1 AND entity = ?2",
        params![source, entity, text],
    )?;
    Ok(())
}

/// The fields of `widened` that `declared` lacks, at any depth, in schema order.
fn collect_undeclared(
    declared: &[Field],
    widened: &[Field],
    parents: &mut Vec<String>,
    out: &mut Vec<UndeclaredField>,
) {
    for field in widened {
        parents.push(field.name.clone());
        match declared.iter().find(|known| known.name == field.name) {
            Some(known) => {
                if let (DataType::Object(known_nested), DataType::Object(nested)) =
                    (&known.data_type, &field.data_type)
                {
                    collect_undeclared(known_nested, nested, parents, out);
                }
            }
            None => out
                .push(UndeclaredField { path: parents.clone(), data_type: field.data_type.name() }),
        }
        parents.pop();
    }
}

/// Adds a stored undeclared field to `fields`, unless it is there already (a newer schema may
/// declare it) or its parent is not an object any more.
fn add_undeclared(fields: &mut Vec<Field>, path: &[String], data_type: &str) {
    let Some((name, parents)) = path.split_last() else { return };
    let mut level = fields;
    for parent in parents {
        match level.iter_mut().find(|field| &field.name == parent) {
            Some(Field { data_type: DataType::Object(nested), .. }) => level = nested,
            _ => return,
        }
    }
    if level.iter().any(|field| &field.name == name) {
        return;
    }
    let data_type = match data_type {
        "string" => DataType::String,
        "integer" => DataType::Integer,
        "number" => DataType::Number,
        "boolean" => DataType::Boolean,
        "timestamp" => DataType::Timestamp,
        "date" => DataType::Date,
        _ => DataType::Json,
    };
    level.push(Field::new(name.clone(), data_type, UNDECLARED_FIELD_DESCRIPTION));
}

impl ReplicaStream {
    /// The record's primary key. A record without one still gets a unique id, so it is kept
    /// rather than dropped; the first such record of a stream in a run is reported.
    fn id_of(&mut self, run_id: i64, record: &Record) -> String {
        if let Some(id) = record_id(record, &self.primary_key) {
            return id.into_owned();
        }
        self.records_without_id += 1;
        if self.records_without_id == 1 {
            tracing::warn!(
                table = %self.table,
                primary_key = %self.primary_key,
                "Keeping a record that has no primary key; it sorts by its arrival order."
            );
        }
        // The prefix sorts after every ordinary id and cannot be an id the source sent; the
        // run number keeps such records of different runs apart until a full pass.
        format!("\u{10FFFF}no-id-{run_id:09}-{:012}", self.records_without_id)
    }

    fn created_ms_of(&self, record: &Record) -> Option<i64> {
        let field = self.created_at_field.as_deref()?;
        record.get(field)?.as_str().and_then(timestamp_millis)
    }
}

// ---------------------------------------------------------------------------------------------
// The history, as `ashflow runs` shows it

/// One run in the history of a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The run's number, counting from 1.
    pub run_id: i64,
    /// When it started, as an RFC 3339 UTC time.
    pub started: String,
    /// How long it took in milliseconds; `None` while running or when it was killed.
    pub duration_ms: Option<i64>,
    /// `succeeded`, `failed`, `cancelled`, `interrupted` (killed before it ended) or `running`.
    pub outcome: String,
    /// True when the run was told to read every stream in full (`--full-refresh`).
    pub full_refresh: bool,
    /// Records received from the sources.
    pub rows_read: u64,
    /// Rows inserted or changed in the replica.
    pub rows_written: u64,
    /// Rows removed from the replica because a full pass no longer saw them upstream.
    pub rows_removed: u64,
    /// HTTP requests sent by the sources, retries included.
    pub requests: u64,
    /// Requests retried after transient failures.
    pub retries: u64,
    /// Streams whose read failed, with the reason, as `source.entity: message`.
    pub errors: Vec<String>,
}

/// The history of runs kept in the replica at `path`, newest first, at most `limit` runs.
///
/// Reads without taking the run lock, so it works while a run is going on; a run that has no
/// end while nobody holds the lock was killed and shows as `interrupted`.
pub fn run_history(path: &Path, limit: usize) -> Result<Vec<RunRecord>, RunnerError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    let has_history: bool = connection.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_schema WHERE name = '_ashflow_runs'",
        [],
        |row| row.get(0),
    )?;
    if !has_history {
        return Ok(Vec::new());
    }
    let locked = is_locked(path);
    // Runs are numbered after their lock is taken, so the lock's holder is the newest run.
    let newest: Option<i64> =
        connection.query_row("SELECT MAX(run_id) FROM _ashflow_runs", [], |row| row.get(0))?;
    let mut statement = connection.prepare(
        "SELECT r.run_id, r.started_ms, r.ended_ms, r.outcome, r.full_refresh,
                COALESCE(SUM(s.rows_read), 0), COALESCE(SUM(s.rows_written), 0),
                COALESCE(SUM(s.rows_removed), 0), COALESCE(SUM(s.requests), 0),
                COALESCE(SUM(s.retries), 0)
         FROM _ashflow_runs r LEFT JOIN _ashflow_run_streams s ON s.run_id = r.run_id
         GROUP BY r.run_id ORDER BY r.run_id DESC LIMIT ?1",
    )?;
    let mut errors_of = connection.prepare(
        "SELECT source, entity, error FROM _ashflow_run_streams
         WHERE run_id = ?1 AND error IS NOT NULL ORDER BY source, entity",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, Option<i64>>(2)?,
            row.get::<_, Option<String>>(3)?,
            row.get::<_, bool>(4)?,
            [row.get::<_, i64>(5)?, row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?],
        ))
    })?;
    let mut history = Vec::new();
    for row in rows {
        let (run_id, started_ms, ended_ms, outcome, full_refresh, counts) = row?;
        let outcome = match (ended_ms, outcome) {
            (Some(_), Some(outcome)) => outcome,
            (None, _) if locked && Some(run_id) == newest => "running".into(),
            _ => "interrupted".into(),
        };
        let errors = errors_of
            .query_map(params![run_id], |row| {
                Ok(format!(
                    "{}: {}",
                    table_name(&row.get::<_, String>(0)?, &row.get::<_, String>(1)?),
                    row.get::<_, String>(2)?
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let count = |index: usize| u64::try_from(counts[index]).unwrap_or_default();
        history.push(RunRecord {
            run_id,
            started: chrono::DateTime::from_timestamp_millis(started_ms)
                .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            duration_ms: ended_ms.map(|ended| ended - started_ms),
            outcome,
            full_refresh,
            rows_read: count(0),
            rows_written: count(1),
            rows_removed: count(2),
            requests: count(3),
            retries: count(4),
            errors,
        });
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use ashflow_core::EndOfPass;
    use serde_json::{Value, json};

    use super::*;

    fn stream(incremental: bool) -> StreamDescriptor {
        StreamDescriptor {
            name: "candidates".into(),
            description: "People.".into(),
            schema: Schema::new(vec![
                Field::new("id", DataType::String, "Id."),
                Field::new("createdAt", DataType::Timestamp, "Created."),
                Field::new(
                    "owner",
                    DataType::Object(vec![Field::new("name", DataType::String, "Name.")]),
                    "Owner.",
                ),
            ]),
            primary_key: "id".into(),
            created_at_field: Some("createdAt".into()),
            incremental,
        }
    }

    fn records(values: &[Value]) -> Vec<Record> {
        values.iter().map(|v| v.as_object().cloned().expect("test records are objects")).collect()
    }

    fn batch(values: &[Value], pass: Pass, end: Option<Option<&str>>) -> Batch {
        Batch {
            stream: "candidates".into(),
            records: records(values),
            pass,
            end_of_pass: end.map(|token| EndOfPass { sync_token: token.map(String::from) }),
        }
    }

    struct Folder(tempfile::TempDir);

    impl Folder {
        fn new() -> Self {
            Folder(tempfile::tempdir().unwrap())
        }

        fn path(&self) -> PathBuf {
            replica_path(&self.0.path().join("state"), "pipeline.toml")
        }

        /// A replica for a new run with the candidates stream prepared.
        fn open(&self, incremental: bool) -> (Replica, ReadPlan) {
            let replica = Replica::open(&self.path(), false).unwrap();
            let plan = replica.prepare_stream("ashby", &stream(incremental), false, None).unwrap();
            (replica, plan)
        }
    }

    fn ids(replica: &Replica) -> Vec<String> {
        let records = replica.read_all("ashby", "candidates").unwrap();
        records.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn the_file_is_named_after_the_spec_in_an_owner_only_folder() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);

        assert_eq!(replica.path(), folder.0.path().join("state/pipeline.sqlite"));
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder.0.path().join("state")), 0o700);
        assert_eq!(mode(replica.path()), 0o600);
        let journal: String =
            replica.connection().query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn a_second_run_is_refused_while_the_first_holds_the_lock_naming_its_pid() {
        let folder = Folder::new();
        let (first, _) = folder.open(true);

        let error = Replica::open(&folder.path(), false).unwrap_err();
        assert!(matches!(error, RunnerError::Locked { pid: Some(pid), .. }
                if pid == std::process::id()));
        assert!(error.to_string().contains("in progress (pid "), "{error}");

        drop(first);
        assert!(Replica::open(&folder.path(), false).is_ok(), "the lock goes with the run");
    }

    #[test]
    fn tables_have_the_agreed_layout_and_typed_generated_columns() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        let values = [json!({"id": "a", "createdAt": "2024-01-01T00:00:00Z",
                             "owner": {"name": "Ada"}})];
        replica.apply_batch("ashby", "candidates", &batch(&values, Pass::Full, None)).unwrap();

        let reader = replica.read_only_connection().unwrap();
        let (id, created, name, seen): (String, i64, String, i64) = reader
            .query_row(
                r#"SELECT _id, _created_ms, "owner.name", _seen_run FROM "ashby.candidates""#,
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .unwrap();
        assert_eq!((id.as_str(), created, name.as_str()), ("a", 1_704_067_200_000, "Ada"));
        assert_eq!(seen, replica.run_id());
        let declared: String = reader
            .query_row(
                r#"SELECT type FROM pragma_table_xinfo('ashby.candidates') WHERE name = 'createdAt'"#,
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(declared, "TEXT");
        let refused = reader.execute(r#"DELETE FROM "ashby.candidates""#, []).unwrap_err();
        assert!(refused.to_string().contains("readonly"), "{refused}");
    }

    #[test]
    fn rows_come_back_by_creation_instant_then_id_undated_last_in_exact_pages() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        let values = [
            json!({"id": "late", "createdAt": "2022-07-21T17:32:28.500Z"}),
            json!({"id": "b-whole", "createdAt": "2022-07-21T17:32:28Z"}),
            json!({"id": "a-same", "createdAt": "2022-07-21T17:32:28.000Z"}),
            json!({"id": "z-undated"}),
            json!({"id": "y-bad", "createdAt": "last Tuesday"}),
            json!({"id": "first", "createdAt": "2021-01-01T00:00:00.001Z"}),
        ];
        replica.apply_batch("ashby", "candidates", &batch(&values, Pass::Full, None)).unwrap();

        assert_eq!(ids(&replica), ["first", "a-same", "b-whole", "late", "y-bad", "z-undated"]);
        let first = replica.read_page("ashby", "candidates", None, 4).unwrap();
        let rest = replica.read_page("ashby", "candidates", first.next.as_ref(), 4).unwrap();
        assert_eq!(first.records.len() + rest.records.len(), 6);
        assert_eq!(rest.records[0]["id"], "y-bad");
        assert!(rest.next.is_none());
    }

    #[test]
    fn reading_a_page_seeks_through_the_order_index() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        let connection = replica.connection();
        let plan: Vec<String> = connection
            .prepare(&format!(
                r#"EXPLAIN QUERY PLAN SELECT _json FROM "ashby.candidates"
                   WHERE (IFNULL(_created_ms, {UNDATED}), _id) > (0, 'a')
                   ORDER BY IFNULL(_created_ms, {UNDATED}), _id LIMIT 10"#
            ))
            .unwrap()
            .query_map([], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|step| step.contains("ashby.candidates:order")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{plan:?}");
    }

    #[test]
    fn a_full_pass_removes_what_it_did_not_see_and_a_changes_pass_keeps_it() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        let all = [json!({"id": "a"}), json!({"id": "b"}), json!({"id": "c"})];
        replica
            .apply_batch("ashby", "candidates", &batch(&all, Pass::Full, Some(Some("t1"))))
            .unwrap();
        drop(replica);

        let (replica, plan) = folder.open(true);
        assert_eq!(plan.sync_token.as_deref(), Some("t1"));
        let changed = [json!({"id": "a", "name": "new"})];
        let end = Some(Some("t2"));
        replica.apply_batch("ashby", "candidates", &batch(&changed, Pass::Changes, end)).unwrap();
        assert_eq!(ids(&replica), ["a", "b", "c"], "a changes pass removes nothing");
        assert_eq!(replica.counts("ashby", "candidates").written, 1);
        drop(replica);

        let (replica, plan) = folder.open(true);
        assert_eq!(plan.sync_token.as_deref(), Some("t2"));
        replica
            .apply_batch("ashby", "candidates", &batch(&[json!({"id": "c"})], Pass::Full, None))
            .unwrap();
        assert_eq!(ids(&replica), ["a", "b", "c"], "nothing is removed before the pass ends");
        replica
            .apply_batch(
                "ashby",
                "candidates",
                &batch(&[json!({"id": "a", "name": "new"})], Pass::Full, Some(None)),
            )
            .unwrap();
        assert_eq!(ids(&replica), ["a", "c"]);
        let counts = replica.counts("ashby", "candidates");
        assert_eq!((counts.read, counts.written, counts.removed), (2, 0, 1));
        drop(replica);

        let (_, plan) = folder.open(true);
        assert_eq!(plan.sync_token, None, "a pass that ended without a token clears it");
    }

    #[test]
    fn a_run_killed_mid_pass_keeps_its_pages_and_the_earlier_token() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        replica
            .apply_batch(
                "ashby",
                "candidates",
                &batch(&[json!({"id": "a"})], Pass::Full, Some(Some("t1"))),
            )
            .unwrap();
        drop(replica);

        let (killed, _) = folder.open(true);
        killed
            .apply_batch("ashby", "candidates", &batch(&[json!({"id": "b"})], Pass::Changes, None))
            .unwrap();
        // Dropping without `finish_run` is what a killed process leaves behind.
        drop(killed);

        let (replica, plan) = folder.open(true);
        assert_eq!(plan.sync_token.as_deref(), Some("t1"), "the killed pass never ended");
        assert_eq!(ids(&replica), ["a", "b"], "its committed page is kept");
        let history = run_history(&folder.path(), 10).unwrap();
        let outcomes: Vec<&str> = history.iter().map(|run| run.outcome.as_str()).collect();
        assert_eq!(outcomes, ["running", "interrupted", "interrupted"]);
        replica.finish_run("succeeded").unwrap();
        drop(replica);
        let history = run_history(&folder.path(), 2).unwrap();
        let outcomes: Vec<&str> = history.iter().map(|run| run.outcome.as_str()).collect();
        assert_eq!(outcomes, ["succeeded", "interrupted"]);
    }

    #[test]
    fn the_read_plan_follows_completion_full_refresh_and_incrementality() {
        let folder = Folder::new();
        let (replica, plan) = folder.open(true);
        assert_eq!(plan.sync_token, None, "never completed: full");
        replica
            .apply_batch("ashby", "candidates", &batch(&[], Pass::Full, Some(Some("t1"))))
            .unwrap();
        drop(replica);

        let replica = Replica::open(&folder.path(), true).unwrap();
        let descriptor = stream(true);
        let plan =
            |force, every| replica.prepare_stream("ashby", &descriptor, force, every).unwrap();
        assert_eq!(plan(false, None).sync_token.as_deref(), Some("t1"));
        assert_eq!(plan(true, None).sync_token, None, "--full-refresh");
        assert_eq!(plan(false, Some(Duration::from_secs(3_600))).sync_token.as_deref(), Some("t1"));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(plan(false, Some(Duration::from_millis(1))).sync_token, None, "due");
        let full_only = replica.prepare_stream("ashby", &stream(false), false, None).unwrap();
        assert_eq!(full_only.sync_token, None, "a stream without tokens is always read in full");
    }

    #[test]
    fn undeclared_fields_widen_the_schema_for_later_runs_too() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        let values =
            [json!({"id": "a", "fraudStatus": "Clear", "owner": {"name": "x", "team": 3}})];
        replica
            .apply_batch("ashby", "candidates", &batch(&values, Pass::Full, Some(None)))
            .unwrap();
        drop(replica);

        let (replica, _) = folder.open(true);
        let schema = replica.schema("ashby", "candidates").unwrap();
        let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "createdAt", "owner", "fraudStatus"]);
        let DataType::Object(owner) = &schema.fields[2].data_type else { panic!("an object") };
        assert_eq!(owner[1].name, "team");
        assert_eq!(owner[1].data_type, DataType::Integer);
        let (status, team): (String, i64) = replica
            .read_only_connection()
            .unwrap()
            .query_row(r#"SELECT "fraudStatus", "owner.team" FROM "ashby.candidates""#, [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!((status.as_str(), team), ("Clear", 3));
    }

    #[test]
    fn records_without_an_id_are_kept_after_the_others() {
        let folder = Folder::new();
        let (replica, _) = folder.open(true);
        let values = [json!({"name": "no id"}), json!({"id": 7})];
        replica.apply_batch("ashby", "candidates", &batch(&values, Pass::Full, None)).unwrap();

        let records = replica.read_all("ashby", "candidates").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["id"], 7);
        assert_eq!(records[1]["name"], "no id");
    }
}
