//! The `excel` sink: one Excel workbook per run, one worksheet per dataset.
//!
//! Each dataset becomes a sheet formatted as a real Excel table (bold, frozen, filterable header,
//! sensible column widths), with typed cells: timestamps and dates are Excel date-times in UTC,
//! numbers are numbers, and text is always text, so ids, phone numbers, leading zeros and values
//! that look like formulas are never reinterpreted. Values over Excel's cell limit are cut with a
//! visible marker and reported; datasets over the row limit continue on further sheets; a data
//! dictionary sheet lists every column. The workbook replaces the previous one only when the run
//! succeeds.
//!
//! - [`config`]: the spec keys and their offline validation.
//! - `sink`: the run itself (spooling, sheets, dictionary, atomic publish).
//! - `sheet`, `values`, `names`, `spool`: writing one sheet, preparing cells, legal names, and
//!   the on-disk row buffer.

pub mod config;
pub mod error;
mod names;
mod sheet;
mod sink;
mod spool;
mod values;

use ashflow_core::{ConfigTable, Result, SinkRegistration, SpecContext, ValidatedSink};

pub use config::{EXCEL_MAX_DATA_ROWS, ExcelSinkConfig, ValidatedExcelSink};
pub use error::ExcelError;
pub use sink::{ExcelSink, TABLE_CELL_BUDGET};

/// The `type` a spec uses for this sink.
pub const SINK_TYPE: &str = "excel";

/// A complete spec table for the sink, with every key at its default but the path.
pub const EXAMPLE: &str = r#"[sinks.workbook]
type = "excel"
path = "out/ashby.xlsx"
max_rows_per_sheet = 1048575
dictionary = true
"#;

/// Checks an `excel` spec table and returns the validated sink. Does no IO.
pub fn validate(table: &ConfigTable, context: &SpecContext) -> Result<Box<dyn ValidatedSink>> {
    let config: ExcelSinkConfig = table.deserialize()?;
    Ok(Box::new(config.validate(table, context)?))
}

ashflow_core::register_sink!(SinkRegistration {
    name: SINK_TYPE,
    description: "Writes an Excel workbook: one table per dataset, typed cells, a data dictionary.",
    example: EXAMPLE,
    validate,
});
