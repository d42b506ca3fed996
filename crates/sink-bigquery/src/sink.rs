//! The BigQuery sink's run: rows streamed into fresh staging tables, targets changed only by
//! query jobs at the very end, staging tables dropped whatever happens.
//!
//! Each dataset gets its own staging table, created when the dataset begins, expiring after a
//! day (so even a killed process leaves nothing behind for long), and filled through insertAll
//! in batches with an insert id per row, a few requests in flight at once. Nothing a reader
//! sees changes until [`Sink::finish`]: it checks every target's columns first (a type
//! conflict stops the run before any table is touched), then publishes each dataset with one
//! statement (`CREATE OR REPLACE TABLE ... AS SELECT`, `INSERT ... SELECT` or `MERGE`), so no
//! statement ever touches rows still in BigQuery's streaming buffer. Staging tables are dropped
//! after publishing, at once when any step fails, and, on a best-effort basis, when the runner
//! drops the sink unfinished.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use ashflow_core::prelude::*;
use ashflow_core::report::group_thousands;
use gcp_bigquery_client::model::table_data_insert_all_request::TableDataInsertAllRequest;
use serde_json::{Map, Value};
use tokio::task::JoinSet;

use crate::client::{Api, unique_id};
use crate::config::{ValidatedBigQuerySink, WriteMode};
use crate::error::BigQueryError;
use crate::looker::looker_studio_link;
use crate::rows::to_row;
use crate::schema::{self, Column, ColumnType, NewColumn, table_fields};

/// insertAll requests in flight at once for one dataset.
const REQUESTS_IN_FLIGHT: usize = 4;
/// The largest body one insertAll request gets; BigQuery's limit is 10 MB.
const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// How long a staging table lives if nothing drops it.
const STAGING_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Rejected rows named in a message; the rest are counted.
const BAD_ROWS_SHOWN: usize = 5;

/// A BigQuery dataset being written for one run.
pub struct BigQuerySink {
    config: ValidatedBigQuerySink,
    api: Api,
    dataset_exists: bool,
    current: Option<DatasetInProgress>,
    loaded: Vec<LoadedDataset>,
    /// Staging tables created and not yet dropped.
    staging_tables: Vec<String>,
}

/// A row waiting to be sent: its 1-based number in the dataset, its key, and its values.
struct PendingRow {
    number: u64,
    id: Option<String>,
    row: Map<String, Value>,
}

/// A row that was not loaded, and why.
#[derive(Debug, Clone)]
struct BadRow {
    number: u64,
    id: Option<String>,
    reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}", self.number)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What one insertAll batch did.
struct BatchOutcome {
    loaded: u64,
    bad: Vec<BadRow>,
}

/// A dataset whose rows are arriving.
struct DatasetInProgress {
    name: String,
    table: String,
    staging: String,
    description: String,
    columns: Vec<Column>,
    key_field: Option<String>,
    pending: Vec<PendingRow>,
    pending_bytes: usize,
    rows_seen: u64,
    rows_loaded: u64,
    bad: Vec<BadRow>,
    unknown_fields: BTreeSet<String>,
    in_flight: JoinSet<Result<BatchOutcome, BigQueryError>>,
}

/// A dataset loaded into its staging table, waiting for `finish` to publish it.
struct LoadedDataset {
    name: String,
    table: String,
    staging: String,
    description: String,
    columns: Vec<Column>,
    report: DatasetReport,
}

impl std::fmt::Debug for BigQuerySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQuerySink")
            .field("project", &self.config.project)
            .field("dataset", &self.config.bigquery_dataset)
            .field("staging_tables", &self.staging_tables)
            .finish_non_exhaustive()
    }
}

impl BigQuerySink {
    /// Prepares a run: builds the client and reads the BigQuery dataset, so a bad key, a
    /// missing permission or an unreachable API fails the run before anything is fetched.
    /// Changes nothing.
    pub async fn open(config: ValidatedBigQuerySink) -> Result<Self, BigQueryError> {
        let api = Api::connect(&config).await?;
        let dataset_exists = api.dataset_exists().await?;
        tracing::info!(
            component = "bigquery",
            sink = %config.component_id,
            project = %config.project,
            dataset = %config.bigquery_dataset,
            exists = dataset_exists,
            mode = config.mode.name(),
            "Opened BigQuery dataset."
        );
        Ok(BigQuerySink {
            config,
            api,
            dataset_exists,
            current: None,
            loaded: Vec::new(),
            staging_tables: Vec::new(),
        })
    }

    /// The table a dataset is published to.
    fn table_name(&self, dataset: &str) -> String {
        let mut taken = std::collections::HashSet::new();
        schema::unique_name(&format!("{}{dataset}", self.config.table_prefix), &mut taken)
    }

    async fn begin(&mut self, dataset: &DatasetDescriptor) -> Result<(), BigQueryError> {
        if self.current.is_some() {
            return Err(BigQueryError::OutOfOrder("a dataset began before the previous one ended"));
        }
        let columns = schema::columns(&dataset.schema, self.config.nested);
        let key_field = match self.config.mode {
            WriteMode::Upsert => {
                let key = &self.config.key;
                let scalar = columns.iter().any(|c| {
                    &c.field == key
                        && !c.repeated
                        && matches!(c.column_type, ColumnType::String | ColumnType::Int64)
                });
                if !scalar {
                    return Err(BigQueryError::MissingKey {
                        dataset: dataset.name.clone(),
                        key: key.clone(),
                    });
                }
                Some(key.clone())
            }
            _ => dataset.primary_key.clone(),
        };

        if !self.dataset_exists {
            self.api.create_dataset().await?;
            self.dataset_exists = true;
        }
        let table = self.table_name(&dataset.name);
        // The run's id keeps staging tables of runs that overlap (or of a crashed run not yet
        // expired) apart.
        let staging = format!("{table}__staging_{}", unique_id("ashflow"));
        self.staging_tables.push(staging.clone());
        self.api
            .create_table(
                &staging,
                table_fields(&columns),
                "Staging table of an ashflow run; dropped when the run ends.",
                Some(SystemTime::now() + STAGING_LIFETIME),
            )
            .await?;
        tracing::debug!(
            component = "bigquery",
            dataset = %dataset.name,
            table = %table,
            staging = %staging,
            "Created staging table."
        );

        self.current = Some(DatasetInProgress {
            name: dataset.name.clone(),
            table,
            staging,
            description: dataset.description.clone(),
            columns,
            key_field,
            pending: Vec::new(),
            pending_bytes: 0,
            rows_seen: 0,
            rows_loaded: 0,
            bad: Vec::new(),
            unknown_fields: BTreeSet::new(),
            in_flight: JoinSet::new(),
        });
        Ok(())
    }

    async fn write(&mut self, records: &[Record]) -> Result<(), BigQueryError> {
        let max_bad_rows = self.config.max_bad_rows;
        let upsert = self.config.mode == WriteMode::Upsert;
        let batch_rows = self.config.batch_rows;
        let dataset = self
            .current
            .as_mut()
            .ok_or(BigQueryError::OutOfOrder("a batch arrived outside a dataset"))?;

        for record in records {
            dataset.rows_seen += 1;
            let number = dataset.rows_seen;
            let id = dataset
                .key_field
                .as_deref()
                .and_then(|key| ashflow_core::record::record_id(record, key))
                .map(|id| id.into_owned());
            let converted = to_row(&dataset.columns, record, &mut dataset.unknown_fields).and_then(
                |row| match (&id, upsert) {
                    // A row without its key would never match in MERGE and come back as a
                    // duplicate on every run.
                    (None, true) => Err("has no key to upsert by".to_string()),
                    _ => Ok(row),
                },
            );
            match converted {
                Ok(row) => {
                    let bytes = Value::Object(row.clone()).to_string().len() + 64;
                    if dataset.pending.len() >= batch_rows
                        || dataset.pending_bytes + bytes > MAX_REQUEST_BYTES
                    {
                        dataset.send_pending(&self.api, max_bad_rows).await?;
                    }
                    dataset.pending_bytes += bytes;
                    dataset.pending.push(PendingRow { number, id, row });
                }
                Err(reason) => {
                    dataset.bad.push(BadRow { number, id, reason });
                    dataset.check_bad_rows(max_bad_rows)?;
                }
            }
        }
        Ok(())
    }

    async fn end(&mut self) -> Result<DatasetReport, BigQueryError> {
        let max_bad_rows = self.config.max_bad_rows;
        let mut dataset =
            self.current.take().ok_or(BigQueryError::OutOfOrder("a dataset ended twice"))?;
        dataset.send_pending(&self.api, max_bad_rows).await?;
        while !dataset.in_flight.is_empty() {
            dataset.join_one(max_bad_rows).await?;
        }

        // Checked now as well as before publishing, so a conflict stops the run before the
        // remaining datasets are loaded for nothing.
        if self.config.mode != WriteMode::Replace {
            self.reconcile(&dataset.table, &dataset.columns).await?;
        }

        let mut warnings = Vec::new();
        if !dataset.bad.is_empty() {
            let shown: Vec<String> =
                dataset.bad.iter().take(BAD_ROWS_SHOWN).map(ToString::to_string).collect();
            let more = dataset.bad.len().saturating_sub(BAD_ROWS_SHOWN);
            let more = if more > 0 { format!("; and {more} more") } else { String::new() };
            warnings.push(format!(
                "{} rows rejected (max_bad_rows = {max_bad_rows}): {}{more}",
                dataset.bad.len(),
                shown.join("; ")
            ));
            for bad in &dataset.bad {
                tracing::error!(
                    component = "bigquery",
                    dataset = %dataset.name,
                    row = bad.number,
                    id = bad.id.as_deref().unwrap_or("-"),
                    reason = %bad.reason,
                    "Row rejected."
                );
            }
        }
        if !dataset.unknown_fields.is_empty() {
            let fields: Vec<&str> = dataset.unknown_fields.iter().map(String::as_str).collect();
            warnings.push(format!("fields without a column were left out: {}", fields.join(", ")));
        }
        let report = DatasetReport {
            dataset: dataset.name.clone(),
            rows: dataset.rows_loaded,
            warnings,
            ..DatasetReport::default()
        };
        tracing::info!(
            component = "bigquery",
            dataset = %dataset.name,
            rows = dataset.rows_loaded,
            rejected = dataset.bad.len(),
            staging = %dataset.staging,
            "Loaded dataset into its staging table."
        );
        self.loaded.push(LoadedDataset {
            name: dataset.name,
            table: dataset.table,
            staging: dataset.staging,
            description: dataset.description,
            columns: dataset.columns,
            report: report.clone(),
        });
        Ok(report)
    }

    /// Compares the target table (when it exists) with the columns and returns what to add.
    async fn reconcile(
        &self,
        table: &str,
        columns: &[Column],
    ) -> Result<
        Option<(
            Vec<NewColumn>,
            Vec<gcp_bigquery_client::model::table_field_schema::TableFieldSchema>,
        )>,
        BigQueryError,
    > {
        let Some(existing) = self.api.table_fields(table).await? else {
            return Ok(None);
        };
        let additions = schema::reconcile(&existing, columns).map_err(|conflict| {
            BigQueryError::TypeConflict {
                table: format!("{}.{table}", self.config.bigquery_dataset),
                column: conflict.column,
                existing: conflict.existing,
                wanted: conflict.wanted,
            }
        })?;
        Ok(Some((additions, existing)))
    }

    async fn publish(&mut self) -> Result<SinkReport, BigQueryError> {
        if let Some(dataset) = &self.current {
            return Err(BigQueryError::OutOfOrder(if dataset.rows_seen > 0 {
                "finish came before the last dataset ended"
            } else {
                "finish came inside a dataset"
            }));
        }

        // Every target is checked before the first is changed, so a conflict in the last
        // dataset leaves the first untouched too.
        let mut plans = Vec::new();
        for dataset in &self.loaded {
            let plan = match self.config.mode {
                WriteMode::Replace => None,
                _ => self.reconcile(&dataset.table, &dataset.columns).await?,
            };
            plans.push(plan);
        }

        // FIXME: Publishing is atomic per table, not across tables: a job that fails while
        // publishing a later dataset leaves the earlier ones published. A multi-statement
        // transaction would make the run all-or-nothing, at the cost of holding every table's
        // lock for the whole publish, and it would need testing against BigQuery itself.
        let mut reports = Vec::new();
        for (dataset, plan) in self.loaded.iter().zip(plans) {
            self.publish_dataset(dataset, plan).await?;
            let link = looker_studio_link(
                &self.config.project,
                &self.config.bigquery_dataset,
                &dataset.table,
                self.config.looker_studio_template.as_deref(),
            );
            tracing::info!(
                component = "bigquery",
                dataset = %dataset.name,
                table = %format!("{}.{}.{}", self.config.project, self.config.bigquery_dataset, dataset.table),
                rows = dataset.report.rows,
                mode = self.config.mode.name(),
                looker_studio = %link,
                "Published table; open it in Looker Studio with the link."
            );
            let mut report = dataset.report.clone();
            report.links.push(format!("Looker Studio: {link}"));
            reports.push(report);
        }
        self.drop_staging().await;

        Ok(SinkReport {
            location: Some(format!(
                "bigquery {}.{}",
                self.config.project, self.config.bigquery_dataset
            )),
            requests: self.api.requests(),
            datasets: reports,
        })
    }

    async fn publish_dataset(
        &self,
        dataset: &LoadedDataset,
        plan: Option<(
            Vec<NewColumn>,
            Vec<gcp_bigquery_client::model::table_field_schema::TableFieldSchema>,
        )>,
    ) -> Result<(), BigQueryError> {
        let target = self.api.sql_table(&dataset.table);
        let staging = self.api.sql_table(&dataset.staging);
        let names: Vec<String> = dataset.columns.iter().map(|c| format!("`{}`", c.name)).collect();
        let list = names.join(", ");

        if self.config.mode == WriteMode::Replace {
            // One statement swaps the whole table, so readers see the old rows or the new ones,
            // never a mix; it also takes the new columns and types.
            self.api
                .run_statement(&format!(
                    "CREATE OR REPLACE TABLE {target} AS SELECT {list} FROM {staging}"
                ))
                .await?;
            // CREATE ... AS SELECT keeps types but not descriptions, so they are applied again.
            let mut fields = self.api.table_fields(&dataset.table).await?.unwrap_or_default();
            schema::apply_descriptions(&mut fields, &dataset.columns);
            self.api.patch_fields(&dataset.table, fields).await?;
            return Ok(());
        }

        match plan {
            None => {
                self.api
                    .create_table(
                        &dataset.table,
                        table_fields(&dataset.columns),
                        &dataset.description,
                        None,
                    )
                    .await?;
            }
            Some((additions, existing)) => {
                // New top-level columns are added by DDL, which changes the data as well as the
                // metadata on every BigQuery implementation; the patch that follows records
                // them (and new fields inside records, which DDL cannot add) with descriptions.
                for addition in additions.iter().filter(|a| a.path.is_empty()) {
                    let column = &addition.column;
                    tracing::info!(
                        component = "bigquery",
                        table = %dataset.table,
                        column = %column.name,
                        "Adding a new column as NULLABLE."
                    );
                    self.api
                        .run_statement(&format!(
                            "ALTER TABLE {target} ADD COLUMN IF NOT EXISTS `{}` {}",
                            column.name,
                            schema::sql_type(column)
                        ))
                        .await?;
                }
                let fields = schema::merged_fields(&existing, &dataset.columns, &additions);
                self.api.patch_fields(&dataset.table, fields).await?;
            }
        }

        let statement = match self.config.mode {
            WriteMode::Upsert => {
                let key = dataset
                    .columns
                    .iter()
                    .find(|c| c.field == self.config.key)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| self.config.key.clone());
                let updates: Vec<String> = names
                    .iter()
                    .filter(|name| name.trim_matches('`') != key)
                    .map(|name| format!("{name} = S.{name}"))
                    .collect();
                let values: Vec<String> = names.iter().map(|name| format!("S.{name}")).collect();
                let update = if updates.is_empty() {
                    String::new()
                } else {
                    format!("WHEN MATCHED THEN UPDATE SET {} ", updates.join(", "))
                };
                format!(
                    "MERGE {target} AS T USING (SELECT {list} FROM {staging}) AS S \
                     ON T.`{key}` = S.`{key}` {update}\
                     WHEN NOT MATCHED THEN INSERT ({list}) VALUES ({})",
                    values.join(", ")
                )
            }
            _ => format!("INSERT INTO {target} ({list}) SELECT {list} FROM {staging}"),
        };
        self.api.run_statement(&statement).await
    }

    /// Drops every staging table still standing. Failures are logged, not returned: the
    /// tables expire by themselves a day after they were made.
    async fn drop_staging(&mut self) {
        for table in std::mem::take(&mut self.staging_tables) {
            if let Err(error) = self.api.delete_table(&table).await {
                tracing::warn!(
                    component = "bigquery",
                    table = %table,
                    error = %error,
                    "Could not drop a staging table; it expires by itself within a day."
                );
            }
        }
    }

    /// Stops the batches in flight and drops the staging tables, after a failure.
    async fn abandon(&mut self) {
        if let Some(mut dataset) = self.current.take() {
            dataset.in_flight.shutdown().await;
        }
        self.drop_staging().await;
    }
}

impl DatasetInProgress {
    /// Sends the rows waiting as one insertAll request, in the background, once fewer than
    /// [`REQUESTS_IN_FLIGHT`] requests are under way.
    async fn send_pending(&mut self, api: &Api, max_bad_rows: u64) -> Result<(), BigQueryError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= REQUESTS_IN_FLIGHT {
            self.join_one(max_bad_rows).await?;
        }
        let rows = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let api = api.clone();
        let staging = self.staging.clone();
        self.in_flight.spawn(async move { insert_batch(&api, &staging, rows).await });
        Ok(())
    }

    /// Waits for one batch in flight and counts what it did.
    async fn join_one(&mut self, max_bad_rows: u64) -> Result<(), BigQueryError> {
        let Some(joined) = self.in_flight.join_next().await else { return Ok(()) };
        let outcome = joined.map_err(|error| BigQueryError::Api {
            action: format!("stream rows into {}", self.staging),
            message: error.to_string(),
        })??;
        self.rows_loaded += outcome.loaded;
        self.bad.extend(outcome.bad);
        self.check_bad_rows(max_bad_rows)
    }

    fn check_bad_rows(&self, max_bad_rows: u64) -> Result<(), BigQueryError> {
        let count = self.bad.len() as u64;
        if count <= max_bad_rows {
            return Ok(());
        }
        let mut sorted = self.bad.clone();
        sorted.sort_by_key(|bad| bad.number);
        let examples: Vec<String> =
            sorted.iter().take(BAD_ROWS_SHOWN).map(ToString::to_string).collect();
        let more = sorted.len().saturating_sub(BAD_ROWS_SHOWN);
        let more = if more > 0 {
            format!("; and {} more", group_thousands(more as u64))
        } else {
            String::new()
        };
        Err(BigQueryError::TooManyBadRows {
            dataset: self.name.clone(),
            count,
            allowed: max_bad_rows,
            examples: format!("{}{more}", examples.join("; ")),
        })
    }
}

/// Streams one batch, sending again the rows BigQuery held back because others were bad.
///
/// BigQuery rejects a whole request when any row is invalid: the invalid rows carry their
/// reasons and the others `stopped`. The invalid ones are reported; the stopped ones go again.
async fn insert_batch(
    api: &Api,
    staging: &str,
    mut rows: Vec<PendingRow>,
) -> Result<BatchOutcome, BigQueryError> {
    let mut outcome = BatchOutcome { loaded: 0, bad: Vec::new() };
    while !rows.is_empty() {
        let mut request = TableDataInsertAllRequest::new();
        for row in &rows {
            // The insert id lets BigQuery drop the copy a retried request would add.
            let insert_id = format!("{staging}-{}", row.number);
            request.add_row(Some(insert_id), &row.row).map_err(|error| BigQueryError::Api {
                action: format!("encode a row for {staging}"),
                message: error.to_string(),
            })?;
        }
        let response = api.insert_all(staging, &request).await?;
        let errors = response.insert_errors.unwrap_or_default();
        if errors.is_empty() {
            outcome.loaded += rows.len() as u64;
            break;
        }

        let mut rejected = BTreeSet::new();
        for error in &errors {
            let Some(index) = error.index.and_then(|i| usize::try_from(i).ok()) else { continue };
            let Some(row) = rows.get(index) else { continue };
            let reasons: Vec<String> = error
                .errors
                .iter()
                .flatten()
                .filter(|e| e.reason.as_deref() != Some("stopped"))
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.reason.as_deref().unwrap_or("invalid"),
                        e.message.as_deref().unwrap_or("no message")
                    )
                })
                .collect();
            if !reasons.is_empty() && rejected.insert(index) {
                outcome.bad.push(BadRow {
                    number: row.number,
                    id: row.id.clone(),
                    reason: format!("BigQuery rejected it ({})", reasons.join("; ")),
                });
            }
        }
        if rejected.is_empty() {
            return Err(BigQueryError::Api {
                action: format!("stream rows into {staging}"),
                message: format!("BigQuery refused the batch without naming a bad row: {errors:?}"),
            });
        }
        rows = rows
            .into_iter()
            .enumerate()
            .filter(|(index, _)| !rejected.contains(index))
            .map(|(_, row)| row)
            .collect();
    }
    Ok(outcome)
}

#[async_trait]
impl Sink for BigQuerySink {
    async fn begin_dataset(&mut self, dataset: &DatasetDescriptor) -> Result<()> {
        match self.begin(dataset).await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.abandon().await;
                Err(error.into())
            }
        }
    }

    async fn write_batch(&mut self, records: &[Record]) -> Result<()> {
        match self.write(records).await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.abandon().await;
                Err(error.into())
            }
        }
    }

    async fn end_dataset(&mut self) -> Result<DatasetReport> {
        match self.end().await {
            Ok(report) => Ok(report),
            Err(error) => {
                self.abandon().await;
                Err(error.into())
            }
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<SinkReport> {
        match self.publish().await {
            Ok(report) => {
                tracing::info!(
                    component = "bigquery",
                    requests = report.requests,
                    retries = self.api.retries(),
                    "Published every dataset."
                );
                Ok(report)
            }
            Err(error) => {
                self.abandon().await;
                Err(error.into())
            }
        }
    }
}

impl Drop for BigQuerySink {
    /// Drops staging tables left by a run the runner abandoned (another sink or a stream
    /// failed, or the run was interrupted), in the background on the runtime still running.
    fn drop(&mut self) {
        let tables = std::mem::take(&mut self.staging_tables);
        if tables.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let api = self.api.clone();
        runtime.spawn(async move {
            for table in tables {
                if let Err(error) = api.delete_table(&table).await {
                    tracing::warn!(
                        component = "bigquery",
                        table = %table,
                        error = %error,
                        "Could not drop a staging table; it expires by itself within a day."
                    );
                }
            }
        });
    }
}
