//! The `bigquery` sink's spec keys, their defaults, and the offline check that turns a spec
//! table into a [`ValidatedBigQuerySink`].
//!
//! The keys are a public contract (specs in the wild name them). Validation reads nothing: the
//! key file is read and the API reached only when the sink is opened for a run, so
//! `ashflow check` works offline and without the key.

use std::path::PathBuf;

use ashflow_core::{ConfigTable, Result, SpecContext};
use serde::Deserialize;

/// Google's BigQuery API root; `base_url` replaces it to reach an emulator.
pub const DEFAULT_BASE_URL: &str = "https://bigquery.googleapis.com";

/// BigQuery's recommended largest insertAll request, in rows.
pub const MAX_BATCH_ROWS: usize = 10_000;

/// The configuration of a `bigquery` sink, as written in the spec under `[sinks.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigQuerySinkConfig {
    /// The service-account key file (JSON) downloaded from Google Cloud, relative to the spec's
    /// folder unless absolute. The account needs the BigQuery Data Editor and BigQuery Job User
    /// roles. Required unless `auth = "none"`.
    #[serde(default)]
    pub credentials: Option<PathBuf>,

    /// The Google Cloud project that holds the BigQuery dataset and runs the query jobs, such
    /// as `my-company-analytics`.
    pub project: String,

    /// The BigQuery dataset that holds the tables, created when missing. Not to be confused
    /// with ashflow's datasets: each of those becomes one table in it.
    pub bigquery_dataset: String,

    /// Text put before every table name, such as `ashby_` for `ashby_candidates`. Letters,
    /// digits and underscores.
    #[serde(default)]
    pub table_prefix: String,

    /// Where a BigQuery dataset created by ashflow keeps its data, such as `EU` or
    /// `europe-west1`; also the location query jobs run in. Without it, BigQuery's default (US)
    /// applies to new datasets and jobs run where the dataset is.
    #[serde(default)]
    pub location: Option<String>,

    /// The API root. Change it only to point at a compatible server such as the BigQuery
    /// emulator used by the tests (`http://127.0.0.1:9050`).
    #[serde(default = "default_base_url")]
    pub base_url: String,

    /// `"service_account"` (the default) authenticates with `credentials`; `"none"` sends no
    /// credentials, for an emulator.
    #[serde(default)]
    pub auth: AuthMode,

    /// How nested objects and lists become columns: `"record"` (the default) as RECORD and
    /// REPEATED columns that SQL reaches with dots and UNNEST, `"json"` as JSON columns.
    #[serde(default)]
    pub nested: NestedMode,

    /// What a run does to a table that already exists: `"replace"` (the default) swaps in the
    /// new rows in one statement, `"append"` adds them, `"upsert"` updates rows whose `key`
    /// matches and adds the others.
    #[serde(default)]
    pub mode: WriteMode,

    /// The field that identifies a row for `mode = "upsert"`. Defaults to `id`.
    #[serde(default = "default_key")]
    pub key: String,

    /// How many rows BigQuery (or ashflow's own checks) may reject before the run fails.
    /// Rejected rows are always listed in the summary; the default, 0, fails on the first.
    #[serde(default)]
    pub max_bad_rows: u64,

    /// Rows per insertAll request, at most 10,000. The default, 500, is BigQuery's
    /// recommendation; requests are also kept under 5 MB whatever this says.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,

    /// How many times one request is retried after 429, 5xx answers, timeouts or dropped
    /// connections, waiting longer each time.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,

    /// A Looker Studio report to copy for each table's link (the id in the report's address);
    /// without it the link opens a new blank report on the table.
    #[serde(default)]
    pub looker_studio_template: Option<String>,
}

/// How the sink authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// A service-account key file.
    #[default]
    ServiceAccount,
    /// No credentials, for an emulator.
    None,
}

/// How nested objects and lists are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NestedMode {
    /// RECORD columns for objects, REPEATED columns for lists.
    #[default]
    Record,
    /// JSON columns for objects and lists.
    Json,
}

/// What a run does to an existing table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Replace the table with the new rows, in one statement.
    #[default]
    Replace,
    /// Add the new rows to the table.
    Append,
    /// Update rows whose key matches, add the others.
    Upsert,
}

impl WriteMode {
    /// The name a spec uses.
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::Replace => "replace",
            WriteMode::Append => "append",
            WriteMode::Upsert => "upsert",
        }
    }
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_key() -> String {
    "id".to_string()
}

fn default_batch_rows() -> usize {
    500
}

fn default_max_retries() -> u32 {
    6
}

/// A `bigquery` sink whose configuration has been checked, ready to be opened for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedBigQuerySink {
    /// The sink's name in the spec.
    pub component_id: String,
    /// The key file, resolved against the spec's folder; `None` with `auth = "none"`.
    pub credentials: Option<PathBuf>,
    /// The Google Cloud project.
    pub project: String,
    /// The BigQuery dataset holding the tables.
    pub bigquery_dataset: String,
    /// Put before every table name.
    pub table_prefix: String,
    /// The location of a new BigQuery dataset and of query jobs.
    pub location: Option<String>,
    /// The API root, without a trailing slash.
    pub base_url: String,
    /// How nested values are stored.
    pub nested: NestedMode,
    /// What a run does to existing tables.
    pub mode: WriteMode,
    /// The field identifying a row, for upserts.
    pub key: String,
    /// Rows that may be rejected before the run fails.
    pub max_bad_rows: u64,
    /// Rows per insertAll request.
    pub batch_rows: usize,
    /// Retries of one request.
    pub max_retries: u32,
    /// The Looker Studio report to copy in links.
    pub looker_studio_template: Option<String>,
}

impl BigQuerySinkConfig {
    /// Checks the values and resolves the key file's path. Does no IO.
    pub fn validate(
        self,
        table: &ConfigTable,
        context: &SpecContext,
    ) -> Result<ValidatedBigQuerySink> {
        let credentials = match (self.auth, self.credentials) {
            (AuthMode::ServiceAccount, None) => {
                return Err(table.error_at(
                    "credentials",
                    "is required: name the service account's key file, for example \
                     credentials = \"keys/bigquery.json\" (or set auth = \"none\" for an \
                     emulator)",
                ));
            }
            (AuthMode::ServiceAccount, Some(path)) => Some(context.resolve_path(path)),
            (AuthMode::None, Some(_)) => {
                return Err(table.error_at(
                    "credentials",
                    "is not used with auth = \"none\"; remove one of the two",
                ));
            }
            (AuthMode::None, None) => None,
        };

        check_project(&self.project).map_err(|message| table.error_at("project", message))?;
        check_name(&self.bigquery_dataset, false)
            .map_err(|message| table.error_at("bigquery_dataset", message))?;
        check_name(&self.table_prefix, true)
            .map_err(|message| table.error_at("table_prefix", message))?;

        let base_url = self.base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(table.error_at(
                "base_url",
                format!(
                    "`{}` is not an http(s) address; leave it out for {DEFAULT_BASE_URL}",
                    self.base_url
                ),
            ));
        }
        if base_url.contains("/bigquery/v2") {
            return Err(table.error_at(
                "base_url",
                "give the API root without `/bigquery/v2`, for example \"http://127.0.0.1:9050\"",
            ));
        }
        if self.key.trim().is_empty() {
            return Err(table.error_at("key", "must name the field that identifies a row"));
        }
        if !(1..=MAX_BATCH_ROWS).contains(&self.batch_rows) {
            return Err(table.error_at(
                "batch_rows",
                format!(
                    "{} is out of range; use 1 to {MAX_BATCH_ROWS}, or leave it out for 500",
                    self.batch_rows
                ),
            ));
        }
        if let Some(location) = &self.location
            && location.trim().is_empty()
        {
            return Err(table.error_at("location", "is empty; write a location such as \"EU\""));
        }

        Ok(ValidatedBigQuerySink {
            component_id: context.component_id.clone(),
            credentials,
            project: self.project,
            bigquery_dataset: self.bigquery_dataset,
            table_prefix: self.table_prefix,
            location: self.location,
            base_url,
            nested: self.nested,
            mode: self.mode,
            key: self.key,
            max_bad_rows: self.max_bad_rows,
            batch_rows: self.batch_rows,
            max_retries: self.max_retries,
            looker_studio_template: self.looker_studio_template,
        })
    }
}

/// Google Cloud project ids are 6 to 30 lowercase letters, digits and hyphens; older ones may
/// carry a domain (`example.com:project`).
fn check_project(project: &str) -> std::result::Result<(), String> {
    let legal = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:".contains(c);
    if project.is_empty() || !project.chars().all(legal) {
        return Err(format!(
            "`{project}` is not a Google Cloud project id; copy the id (lowercase letters, \
             digits and hyphens) from the console's project picker"
        ));
    }
    Ok(())
}

/// BigQuery dataset names and table prefixes: letters, digits and underscores, at most 1,024.
fn check_name(name: &str, may_be_empty: bool) -> std::result::Result<(), String> {
    if name.is_empty() && !may_be_empty {
        return Err("must not be empty; use letters, digits and underscores".into());
    }
    if name.len() > 1024 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` may hold only letters, digits and underscores (at most 1,024), for \
             example \"ashby\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn context() -> SpecContext {
        SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "warehouse".into() }
    }

    fn validate(body: &str) -> Result<ValidatedBigQuerySink> {
        let document = format!("[sinks.warehouse]\ntype = \"bigquery\"\n{body}");
        let table = ConfigTable::new(
            "spec.toml",
            Arc::from(document),
            vec!["sinks".into(), "warehouse".into()],
        );
        table.deserialize::<BigQuerySinkConfig>()?.validate(&table, &context())
    }

    const MINIMAL: &str =
        "credentials = \"keys/sa.json\"\nproject = \"acme-data\"\nbigquery_dataset = \"ashby\"\n";

    #[test]
    fn defaults_replace_with_records_and_resolve_the_key_file() {
        let sink = validate(MINIMAL).unwrap();

        assert_eq!(sink.credentials.as_deref(), Some(Path::new("/specs/keys/sa.json")));
        assert_eq!(sink.base_url, DEFAULT_BASE_URL);
        assert_eq!(sink.mode, WriteMode::Replace);
        assert_eq!(sink.nested, NestedMode::Record);
        assert_eq!(sink.key, "id");
        assert_eq!(sink.max_bad_rows, 0);
        assert_eq!(sink.batch_rows, 500);
        assert_eq!(sink.table_prefix, "");
        assert_eq!(sink.component_id, "warehouse");
    }

    #[test]
    fn every_key_is_read() {
        let sink = validate(
            "auth = \"none\"\nproject = \"p1-x\"\nbigquery_dataset = \"raw\"\n\
             table_prefix = \"ashby_\"\nlocation = \"EU\"\nbase_url = \"http://127.0.0.1:9/\"\n\
             nested = \"json\"\nmode = \"upsert\"\nkey = \"uuid\"\nmax_bad_rows = 3\n\
             batch_rows = 50\nmax_retries = 1\nlooker_studio_template = \"abc\"\n",
        )
        .unwrap();

        assert_eq!(sink.credentials, None);
        assert_eq!(sink.base_url, "http://127.0.0.1:9");
        assert_eq!(sink.location.as_deref(), Some("EU"));
        assert_eq!((sink.nested, sink.mode), (NestedMode::Json, WriteMode::Upsert));
        assert_eq!((sink.key.as_str(), sink.max_bad_rows, sink.batch_rows), ("uuid", 3, 50));
        assert_eq!(sink.looker_studio_template.as_deref(), Some("abc"));
    }

    #[test]
    fn a_service_account_needs_a_key_file_and_an_emulator_none() {
        let missing = validate("project = \"p\"\nbigquery_dataset = \"d\"\n").unwrap_err();
        assert!(missing.to_string().contains("`credentials`: is required"), "{missing}");

        let both = validate(&format!("{MINIMAL}auth = \"none\"\n")).unwrap_err();
        assert!(both.to_string().contains("not used with auth = \"none\""), "{both}");
    }

    #[test]
    fn unknown_keys_and_values_are_reported_at_their_line() {
        let unknown = validate(&format!("{MINIMAL}dataset = \"x\"\n")).unwrap_err().to_string();
        assert!(unknown.starts_with("spec.toml:6:1: "), "{unknown}");
        assert!(unknown.contains("unknown field `dataset`"), "{unknown}");

        let mode = validate(&format!("{MINIMAL}mode = \"merge\"\n")).unwrap_err().to_string();
        assert!(mode.contains("replace") && mode.contains("upsert"), "{mode}");
    }

    #[test]
    fn names_are_checked_before_anything_runs() {
        let cases = [
            ("project = \"My Project\"", "project"),
            ("bigquery_dataset = \"ashby-data\"", "bigquery_dataset"),
            ("table_prefix = \"a.b\"", "table_prefix"),
            ("base_url = \"127.0.0.1:9050\"", "base_url"),
            ("base_url = \"http://h/bigquery/v2\"", "base_url"),
            ("batch_rows = 0", "batch_rows"),
            ("batch_rows = 20000", "batch_rows"),
            ("key = \"\"", "key"),
        ];
        for (line, key) in cases {
            let body = MINIMAL
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} =")))
                .chain([line])
                .collect::<Vec<_>>()
                .join("\n");
            let error = validate(&format!("{body}\n")).unwrap_err();
            assert_eq!(error.class(), ashflow_core::ErrorClass::Config, "{line}");
            assert!(error.to_string().contains(&format!("`{key}`: ")), "{line}: {error}");
        }
    }
}
