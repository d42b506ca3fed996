//! The staging store: every record of every stream, held in a temporary SQLite file between
//! reading the sources and feeding the sinks.
//!
//! Staging decouples the two halves of a run. Sources are read concurrently and in whatever
//! order the API returns records; sinks need each dataset complete, once per id, in creation
//! order. SQLite gives all three without holding a dataset in memory: `INSERT OR REPLACE` keeps
//! one row per `(dataset, id)`, and an index on the sort key lets a dataset be read back in
//! pages of [`PAGE_ROWS`] records, each page a seek rather than a scan.
//!
//! Row order is creation time, then id. Creation time is the stream's `created_at_field` in
//! milliseconds (both of Ashby's spellings, with and without milliseconds, give the same
//! instant). Records without a parseable creation time sort **last**, after every dated record,
//! ordered by id among themselves: undated records are exceptions and read best at the end, as
//! blanks do in a sorted spreadsheet.
//!
//! Alongside the rows, staging widens each dataset's schema with fields the source sent but did
//! not declare, so they reach the sinks instead of being dropped.
//!
//! The file lives in a fresh folder in the system temp dir, readable by its owner only since it
//! holds personal data, and is deleted with that folder when the store is dropped. A process
//! that is killed cannot delete it, so each run holds a lock on a file in its folder and removes
//! the folders of earlier runs whose lock nobody holds any more. It is a scratch file, so
//! durability is traded for speed (`synchronous = OFF`, journal in memory). The next step,
//! incremental syncs, turns this store into a persistent replica kept per spec, where sync tokens
//! are committed with the pages they belong to.
//!
//! The methods are synchronous and take a mutex around the one connection; async callers run
//! them on tokio's blocking pool so the runtime's workers never wait on SQLite.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use ashflow_core::record::record_id;
use ashflow_core::time::timestamp_millis;
use ashflow_core::{Record, Schema, StreamDescriptor};
use rusqlite::{Connection, params};

use crate::error::RunnerError;

/// Records per page when a dataset is read back.
pub const PAGE_ROWS: usize = 250;

// A missing creation time sorts as i64::MAX (9223372036854775807), after every real instant.
// The index is on that same expression, so SQLite reads pages straight from it without sorting.
const SCHEMA_SQL: &str = "
    PRAGMA journal_mode = MEMORY;
    PRAGMA synchronous = OFF;
    CREATE TABLE records (
        dataset TEXT NOT NULL,
        id TEXT NOT NULL,
        created_ms INTEGER NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (dataset, id)
    );
    CREATE INDEX records_in_order ON records (dataset, IFNULL(created_ms, 9223372036854775807), id);
";

const FIRST_PAGE_SQL: &str = "
    SELECT IFNULL(created_ms, 9223372036854775807), id, json FROM records
    WHERE dataset = ?1
    ORDER BY IFNULL(created_ms, 9223372036854775807), id
    LIMIT ?2";

const NEXT_PAGE_SQL: &str = "
    SELECT IFNULL(created_ms, 9223372036854775807), id, json FROM records
    WHERE dataset = ?1 AND (IFNULL(created_ms, 9223372036854775807), id) > (?3, ?4)
    ORDER BY IFNULL(created_ms, 9223372036854775807), id
    LIMIT ?2";

/// A temporary store of staged records; cheap to clone, all clones share one database.
#[derive(Clone)]
pub struct Staging {
    inner: Arc<Inner>,
}

// Fields drop in order: the connection closes before its folder is deleted.
struct Inner {
    connection: Mutex<Connection>,
    datasets: Mutex<HashMap<String, StagedDataset>>,
    // Declared before the folder so the lock is released before the folder is removed.
    _lock: std::fs::File,
    _folder: tempfile::TempDir,
}

/// The prefix of every staging folder's name in the system temp dir.
const FOLDER_PREFIX: &str = "ashflow-staging-";

/// The file in a staging folder that its run keeps locked.
const LOCK_FILE: &str = "run.lock";

/// How old an unlocked staging folder must be before it counts as left behind, so that a
/// folder whose run has created it but not yet locked it is never taken for a stale one.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes staging folders of earlier runs that were killed: folders whose lock file exists
/// and is not locked, and that are older than [`STALE_AFTER`].
fn remove_stale_folders(temp_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(temp_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(FOLDER_PREFIX) {
            continue;
        }
        let folder = entry.path();
        let old_enough = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > STALE_AFTER));
        let Ok(lock) = std::fs::File::open(folder.join(LOCK_FILE)) else { continue };
        if old_enough && lock.try_lock().is_ok() {
            drop(lock);
            match std::fs::remove_dir_all(&folder) {
                Ok(()) => tracing::info!(
                    path = %folder.display(),
                    "Removed the staging folder of an earlier run that was killed."
                ),
                Err(error) => tracing::warn!(
                    path = %folder.display(),
                    error = %error,
                    "Cannot remove the staging folder of an earlier run that was killed."
                ),
            }
        }
    }
}

/// What staging needs to know about a dataset's records.
struct StagedDataset {
    primary_key: String,
    created_at_field: Option<String>,
    schema: Schema,
    records_without_id: u64,
}

/// Where the next page of a dataset starts: after this sort key and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    created_ms: i64,
    id: String,
}

/// One page of a dataset read back in order.
#[derive(Debug, Default)]
pub struct Page {
    /// The records, in dataset order.
    pub records: Vec<Record>,
    /// Where the following page starts; `None` when this page is the last.
    pub next: Option<PageCursor>,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Staging({})", self.inner._folder.path().display())
    }
}

impl Staging {
    /// Creates an empty store in a new folder of the system temp dir.
    pub fn create() -> Result<Self, RunnerError> {
        let temp_dir = std::env::temp_dir();
        remove_stale_folders(&temp_dir);

        let folder = tempfile::Builder::new()
            .prefix(FOLDER_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&temp_dir)
            .map_err(|source| RunnerError::StagingCreate { dir: temp_dir.clone(), source })?;
        let lock = std::fs::File::create(folder.path().join(LOCK_FILE))
            .and_then(|file| file.try_lock().map_err(std::io::Error::from).map(|()| file))
            .map_err(|source| RunnerError::StagingCreate { dir: temp_dir, source })?;
        let connection = Connection::open(folder.path().join("staging.sqlite"))?;
        connection.execute_batch(SCHEMA_SQL)?;
        tracing::debug!(path = %folder.path().display(), "Created the staging store.");

        Ok(Staging {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                datasets: Mutex::new(HashMap::new()),
                _lock: lock,
                _folder: folder,
            }),
        })
    }

    /// Prepares `dataset` to receive the records of `stream`, starting from its schema.
    pub fn add_dataset(&self, dataset: &str, stream: &StreamDescriptor) {
        let staged = StagedDataset {
            primary_key: stream.primary_key.clone(),
            created_at_field: stream.created_at_field.clone(),
            schema: stream.schema.clone(),
            records_without_id: 0,
        };
        self.datasets().insert(dataset.to_string(), staged);
    }

    /// Stores `records` in `dataset` in one transaction, replacing records with the same id,
    /// and widens the dataset's schema with any field it does not describe.
    pub fn insert_batch(&self, dataset: &str, records: &[Record]) -> Result<(), RunnerError> {
        let rows = self.rows_for(dataset, records)?;

        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT OR REPLACE INTO records (dataset, id, created_ms, json) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, created_ms, json) in &rows {
                insert.execute(params![dataset, id, created_ms, json])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// The id, creation time and JSON text of each record, widening the schema on the way.
    fn rows_for(
        &self,
        dataset: &str,
        records: &[Record],
    ) -> Result<Vec<(String, Option<i64>, String)>, RunnerError> {
        let mut datasets = self.datasets();
        let staged = datasets
            .get_mut(dataset)
            .ok_or_else(|| RunnerError::UnknownDataset(dataset.to_string()))?;

        let mut rows = Vec::with_capacity(records.len());
        for record in records {
            for field in staged.schema.absorb_unknown_fields(record) {
                tracing::info!(
                    dataset,
                    field = %field,
                    "Passing through a field the schema does not describe."
                );
            }
            let id = staged.id_of(dataset, record);
            let created_ms = staged.created_ms_of(record);
            let json = serde_json::to_string(record).map_err(|source| RunnerError::Json {
                action: "encode",
                dataset: dataset.to_string(),
                source,
            })?;
            rows.push((id, created_ms, json));
        }
        Ok(rows)
    }

    /// The dataset's schema: the stream's, widened by every record staged so far.
    pub fn schema(&self, dataset: &str) -> Option<Schema> {
        self.datasets().get(dataset).map(|staged| staged.schema.clone())
    }

    /// The number of distinct records in `dataset`.
    pub fn row_count(&self, dataset: &str) -> Result<u64, RunnerError> {
        let count: i64 = self.connection().query_row(
            "SELECT COUNT(*) FROM records WHERE dataset = ?1",
            params![dataset],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Up to `limit` records of `dataset` in order, starting after `after` (or at the start).
    pub fn read_page(
        &self,
        dataset: &str,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<Page, RunnerError> {
        let connection = self.connection();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = Vec::new();
        let mut collect = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            rows.push((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?));
            Ok(())
        };
        match after {
            None => {
                let mut statement = connection.prepare_cached(FIRST_PAGE_SQL)?;
                let mut cursor = statement.query(params![dataset, limit])?;
                while let Some(row) = cursor.next()? {
                    collect(row)?;
                }
            }
            Some(after) => {
                let mut statement = connection.prepare_cached(NEXT_PAGE_SQL)?;
                let mut cursor =
                    statement.query(params![dataset, limit, after.created_ms, after.id])?;
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
        let records = rows
            .into_iter()
            .map(|(_, _, json)| {
                serde_json::from_str(&json).map_err(|source| RunnerError::Json {
                    action: "decode",
                    dataset: dataset.to_string(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { records, next })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is one
        // transaction), so a poisoned lock is safe to keep using.
        self.inner.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn datasets(&self) -> MutexGuard<'_, HashMap<String, StagedDataset>> {
        self.inner.datasets.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StagedDataset {
    /// The record's primary key. A record without one still gets a unique id, so it is kept
    /// rather than dropped; the first such record of a dataset is reported.
    fn id_of(&mut self, dataset: &str, record: &Record) -> String {
        if let Some(id) = record_id(record, &self.primary_key) {
            return id.into_owned();
        }
        self.records_without_id += 1;
        if self.records_without_id == 1 {
            tracing::warn!(
                dataset,
                primary_key = %self.primary_key,
                "Keeping a record that has no primary key; it sorts by its arrival order."
            );
        }
        // The prefix sorts after every ordinary id and cannot be an id the source sent.
        format!("\u{10FFFF}no-id-{:012}", self.records_without_id)
    }

    fn created_ms_of(&self, record: &Record) -> Option<i64> {
        let field = self.created_at_field.as_deref()?;
        record.get(field)?.as_str().and_then(timestamp_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged_folder(parent: &Path, name: &str) -> std::path::PathBuf {
        let folder = parent.join(name);
        std::fs::create_dir(&folder).unwrap();
        std::fs::File::create(folder.join(LOCK_FILE)).unwrap();
        let long_ago = std::time::SystemTime::now() - 2 * STALE_AFTER;
        std::fs::File::open(&folder).unwrap().set_modified(long_ago).unwrap();
        folder
    }

    #[test]
    fn folders_of_killed_runs_are_removed_and_live_or_young_ones_kept() {
        let temp = tempfile::tempdir().unwrap();
        let killed = aged_folder(temp.path(), "ashflow-staging-killed");
        let live = aged_folder(temp.path(), "ashflow-staging-live");
        let held = std::fs::File::open(live.join(LOCK_FILE)).unwrap();
        held.lock().unwrap();
        let young = temp.path().join("ashflow-staging-young");
        std::fs::create_dir(&young).unwrap();
        std::fs::File::create(young.join(LOCK_FILE)).unwrap();
        let unrelated = aged_folder(temp.path(), "someone-else");

        remove_stale_folders(temp.path());

        assert!(!killed.exists());
        assert!(live.exists() && young.exists() && unrelated.exists());
    }

    #[test]
    fn the_staging_folder_is_private_to_its_owner() {
        let staging = Staging::create().unwrap();
        let mode = std::fs::metadata(staging.inner._folder.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    use ashflow_core::{DataType, Field};
    use serde_json::{Value, json};

    fn stream() -> StreamDescriptor {
        StreamDescriptor {
            name: "candidates".into(),
            description: "People.".into(),
            schema: Schema::new(vec![
                Field::new("id", DataType::String, "Id."),
                Field::new("createdAt", DataType::Timestamp, "Created."),
            ]),
            primary_key: "id".into(),
            created_at_field: Some("createdAt".into()),
            incremental: true,
        }
    }

    fn record(value: Value) -> Record {
        value.as_object().cloned().expect("test records are objects")
    }

    fn staged(records: &[Value]) -> Staging {
        let staging = Staging::create().unwrap();
        staging.add_dataset("candidates", &stream());
        let records: Vec<Record> = records.iter().cloned().map(record).collect();
        staging.insert_batch("candidates", &records).unwrap();
        staging
    }

    fn ids_in_pages(staging: &Staging, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = staging.read_page("candidates", after.as_ref(), limit).unwrap();
            if page.records.is_empty() {
                break;
            }
            pages
                .push(page.records.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect());
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        pages
    }

    #[test]
    fn a_record_sent_twice_is_stored_once_with_its_latest_content() {
        let staging = staged(&[
            json!({"id": "a", "createdAt": "2024-01-01T00:00:00Z", "name": "old"}),
            json!({"id": "b", "createdAt": "2024-01-02T00:00:00Z"}),
        ]);
        staging
            .insert_batch(
                "candidates",
                &[record(json!({"id": "a", "createdAt": "2024-01-01T00:00:00Z", "name": "new"}))],
            )
            .unwrap();

        assert_eq!(staging.row_count("candidates").unwrap(), 2);
        let page = staging.read_page("candidates", None, 10).unwrap();
        assert_eq!(page.records[0]["name"], "new");
        assert!(page.next.is_none());
    }

    #[test]
    fn records_come_back_by_creation_instant_then_id_whatever_the_spelling() {
        let staging = staged(&[
            json!({"id": "late", "createdAt": "2022-07-21T17:32:28.500Z"}),
            json!({"id": "b-whole-second", "createdAt": "2022-07-21T17:32:28Z"}),
            json!({"id": "a-same-instant", "createdAt": "2022-07-21T17:32:28.000Z"}),
            json!({"id": "offset", "createdAt": "2022-07-21T19:32:27+02:00"}),
            json!({"id": "first", "createdAt": "2021-01-01T00:00:00.001Z"}),
        ]);

        assert_eq!(
            ids_in_pages(&staging, 100),
            [["first", "offset", "a-same-instant", "b-whole-second", "late"]]
        );
    }

    #[test]
    fn records_without_a_creation_time_come_last_ordered_by_id() {
        let staging = staged(&[
            json!({"id": "z-undated"}),
            json!({"id": "y-unparseable", "createdAt": "last Tuesday"}),
            json!({"id": "dated", "createdAt": "2030-01-01T00:00:00Z"}),
            json!({"id": "x-null", "createdAt": null}),
        ]);

        assert_eq!(
            ids_in_pages(&staging, 100),
            [["dated", "x-null", "y-unparseable", "z-undated"]]
        );
    }

    #[test]
    fn pages_continue_exactly_where_the_previous_one_ended() {
        let records: Vec<Value> = (0..7)
            .map(|i| {
                json!({"id": format!("r{i}"), "createdAt": if i % 2 == 0 {
                    json!(format!("2024-01-0{}T00:00:00Z", 7 - i))
                } else {
                    Value::Null
                }})
            })
            .collect();
        let staging = staged(&records);

        let pages = ids_in_pages(&staging, 3);
        assert_eq!(pages, [vec!["r6", "r4", "r2"], vec!["r0", "r1", "r3"], vec!["r5"]]);
    }

    #[test]
    fn undeclared_fields_widen_the_schema_and_declared_ones_stay() {
        let staging = staged(&[
            json!({"id": "a", "createdAt": "2024-01-01T00:00:00Z", "fraudStatus": "Clear"}),
            json!({"id": "b", "score": 3}),
        ]);

        let schema = staging.schema("candidates").unwrap();
        let names: Vec<_> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "createdAt", "fraudStatus", "score"]);
        assert_eq!(schema.fields[1].data_type, DataType::Timestamp);
        assert_eq!(schema.fields[3].data_type, DataType::Integer);
    }

    #[test]
    fn records_without_an_id_are_kept_after_the_others() {
        let staging = staged(&[
            json!({"createdAt": "2020-01-01T00:00:00Z", "name": "no id"}),
            json!({"id": 7, "createdAt": "2020-01-01T00:00:00Z"}),
        ]);

        let page = staging.read_page("candidates", None, 10).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.records[0]["id"], 7);
        assert_eq!(page.records[1]["name"], "no id");
    }

    #[test]
    fn datasets_are_kept_apart_and_unknown_ones_are_refused() {
        let staging = staged(&[json!({"id": "a"})]);
        staging.add_dataset("jobs", &stream());
        staging.insert_batch("jobs", &[record(json!({"id": "a"}))]).unwrap();

        assert_eq!(staging.row_count("candidates").unwrap(), 1);
        assert_eq!(staging.row_count("jobs").unwrap(), 1);
        let error = staging.insert_batch("offers", &[]).unwrap_err();
        assert!(matches!(error, RunnerError::UnknownDataset(name) if name == "offers"));
    }

    #[test]
    fn the_staging_folder_is_deleted_with_the_store() {
        let staging = staged(&[json!({"id": "a"})]);
        let folder = staging.inner._folder.path().to_path_buf();
        assert!(folder.join("staging.sqlite").exists());

        drop(staging);
        assert!(!folder.exists());
    }

    #[test]
    fn reading_a_page_seeks_through_the_order_index() {
        let staging = staged(&[json!({"id": "a"})]);
        let connection = staging.connection();
        let plan: Vec<String> = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {NEXT_PAGE_SQL}"))
            .unwrap()
            .query_map(params!["candidates", 10, 0, "a"], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|step| step.contains("records_in_order")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{plan:?}");
    }
}
