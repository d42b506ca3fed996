//! The `google_sheets` sink: one tab per dataset in a Google spreadsheet, written through the
//! Sheets API with a service account.
//!
//! Values are written RAW, so ids, phone numbers and formula-looking text stay text; numbers and
//! booleans keep their types; timestamps are date-time serial numbers with a date-time format.
//! Each tab gets a bold, frozen, filterable header and sensible widths. `replace` overwrites a
//! tab in place and clears its leftover rows last; `append` adds rows matched to the existing
//! header by name; `upsert` updates rows by key in place and adds new ones. The spreadsheet's
//! 10,000,000-cell limit is checked before anything is written, values over 50,000 characters
//! are cut with a visible marker, and requests are sized, paced under the per-minute write
//! quota, and retried on 429 and 5xx.
//!
//! - [`config`]: the spec keys and their offline validation.
//! - `client`: authentication, retries, pacing, request counts.
//! - `sink`: planning and writing the tabs.
//! - `values`: cells as the API stores them, titles, ranges, widths.

mod client;
pub mod config;
pub mod error;
mod sink;
mod values;

use ashflow_core::{ConfigTable, Result, SinkRegistration, SpecContext, ValidatedSink};

pub use config::{SheetsSinkConfig, ValidatedSheetsSink, WriteMode};
pub use error::SheetsError;
pub use sink::{SPREADSHEET_CELL_LIMIT, SheetsSink};
pub use values::{DATE_PATTERN, DATE_TIME_PATTERN, MAX_CELL_CHARS};

/// The `type` a spec uses for this sink.
pub const SINK_TYPE: &str = "google_sheets";

/// A complete spec table for the sink.
pub const EXAMPLE: &str = r#"[sinks.sheet]
type = "google_sheets"
credentials = "${GOOGLE_APPLICATION_CREDENTIALS}"
spreadsheet_id = "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit"
mode = "replace"
"#;

/// Checks a `google_sheets` spec table and returns the validated sink. Does no IO.
pub fn validate(table: &ConfigTable, context: &SpecContext) -> Result<Box<dyn ValidatedSink>> {
    Ok(Box::new(validate_config(table, context)?))
}

/// Checks a `google_sheets` spec table and returns the concrete validated sink, which tests
/// adjust with its hidden timing hooks. Does no IO.
pub fn validate_config(table: &ConfigTable, context: &SpecContext) -> Result<ValidatedSheetsSink> {
    let config: SheetsSinkConfig = table.deserialize()?;
    config.validate(table, context)
}

ashflow_core::register_sink!(SinkRegistration {
    name: SINK_TYPE,
    description: "Writes a Google spreadsheet: one tab per dataset, typed cells, replace, \
                  append or upsert.",
    example: EXAMPLE,
    validate,
});

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_example_validates() {
        let table = ConfigTable::new(
            "example.toml",
            std::sync::Arc::from(EXAMPLE),
            vec!["sinks".into(), "sheet".into()],
        );
        let context =
            SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "sheet".into() };
        let sink = validate_config(&table, &context).unwrap();
        assert_eq!(sink.spreadsheet_id(), "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789");
    }
}
