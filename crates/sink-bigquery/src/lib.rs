//! The `bigquery` sink: one BigQuery table per dataset, published by query jobs.
//!
//! Tables are created from the typed schema (TIMESTAMP, DATE, INT64, FLOAT64, BOOL, RECORD,
//! REPEATED, or JSON columns with `nested = "json"`), with legal, case-unique column names and
//! the data dictionary's descriptions. Rows are streamed into a fresh staging table per
//! dataset; the targets change only at the end of a successful run, by one statement each
//! (replace, append or upsert by key), so readers never see a half-loaded table and nothing
//! touches rows in BigQuery's streaming buffer. Each table's Looker Studio link ends up in the
//! run summary.
//!
//! - [`config`]: the spec keys and their offline validation.
//! - `sink`: the run itself (staging, batches, publishing, clean-up).
//! - `schema`, `rows`: columns from the schema, rows from the records.
//! - `client`: the BigQuery calls, with retries.
//! - [`looker`]: the Looker Studio link.

mod client;
pub mod config;
pub mod error;
pub mod looker;
mod rows;
mod schema;
mod sink;

use ashflow_core::{ConfigTable, Result, SinkRegistration, SpecContext, ValidatedSink};

pub use config::{AuthMode, BigQuerySinkConfig, NestedMode, ValidatedBigQuerySink, WriteMode};
pub use error::BigQueryError;
pub use looker::looker_studio_link;
pub use sink::BigQuerySink;

/// The `type` a spec uses for this sink.
pub const SINK_TYPE: &str = "bigquery";

/// A complete spec table for the sink, with the optional keys at their defaults.
pub const EXAMPLE: &str = r#"[sinks.warehouse]
type = "bigquery"
credentials = "keys/bigquery-service-account.json"
project = "my-analytics-project"
bigquery_dataset = "ashby"
table_prefix = ""
mode = "replace"
nested = "record"
key = "id"
max_bad_rows = 0
"#;

/// Checks a `bigquery` spec table and returns the validated sink. Does no IO.
pub fn validate(table: &ConfigTable, context: &SpecContext) -> Result<Box<dyn ValidatedSink>> {
    let config: BigQuerySinkConfig = table.deserialize()?;
    Ok(Box::new(config.validate(table, context)?))
}

#[async_trait::async_trait]
impl ValidatedSink for ValidatedBigQuerySink {
    async fn open(self: Box<Self>) -> Result<Box<dyn ashflow_core::Sink>> {
        Ok(Box::new(BigQuerySink::open(*self).await?))
    }
}

ashflow_core::register_sink!(SinkRegistration {
    name: SINK_TYPE,
    description: "Loads each dataset into a BigQuery table (replace, append or upsert), with a \
                  Looker Studio link per table.",
    example: EXAMPLE,
    validate,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_a_valid_spec_table() {
        let table = ConfigTable::from_toml(&EXAMPLE.replace("[sinks.warehouse]\n", ""));
        let context =
            SpecContext { spec_dir: std::path::PathBuf::from("/specs"), component_id: "w".into() };
        let sink = table
            .deserialize::<BigQuerySinkConfig>()
            .and_then(|config| config.validate(&table, &context))
            .unwrap();
        assert_eq!(sink.mode, WriteMode::Replace);
        assert_eq!(sink.project, "my-analytics-project");
    }
}
