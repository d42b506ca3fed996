//! The `excel` sink's spec keys, their defaults, and the offline check that turns a spec table
//! into a [`ValidatedExcelSink`].
//!
//! The keys are a public contract: specs in the wild name them, so they are renamed only with a
//! deprecation. Validation reads nothing from disk (so `ashflow check` works offline); the
//! destination folder is created and the temporary workbook opened only when the sink is opened.

use std::path::{Path, PathBuf};

use ashflow_core::{ConfigTable, Result, SpecContext};
use serde::Deserialize;

/// Excel's row limit, 1,048,576, minus the header row: the most data rows one sheet can hold.
pub const EXCEL_MAX_DATA_ROWS: u32 = 1_048_575;

/// The configuration of an `excel` sink, as written in the spec under `[sinks.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcelSinkConfig {
    /// The workbook to write, a file ending in `.xlsx`, relative to the spec file's folder
    /// unless absolute. Its folder is created when missing. The workbook is replaced as a whole
    /// at the end of a successful run; a failed run leaves the previous one untouched.
    pub path: PathBuf,

    /// How many data rows one worksheet holds before a dataset continues on a further sheet
    /// named `<sheet> (2)`, `<sheet> (3)` and so on, each with the same header. The default,
    /// 1,048,575, is Excel's limit of 1,048,576 rows minus the header row, and is also the
    /// largest value accepted; lower it only to test the overflow. At least 1.
    #[serde(default = "default_max_rows_per_sheet")]
    pub max_rows_per_sheet: u32,

    /// Whether to add a `Data dictionary` sheet, after the dataset sheets, that lists every
    /// column of every dataset with its type, whether it holds contact details, and what it
    /// means. On by default.
    #[serde(default = "default_dictionary")]
    pub dictionary: bool,
}

fn default_max_rows_per_sheet() -> u32 {
    EXCEL_MAX_DATA_ROWS
}

fn default_dictionary() -> bool {
    true
}

/// An `excel` sink whose configuration has been checked, ready to be opened for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedExcelSink {
    pub(crate) component_id: String,
    pub(crate) path: PathBuf,
    pub(crate) max_rows_per_sheet: u32,
    pub(crate) dictionary: bool,
}

impl ValidatedExcelSink {
    /// The workbook's path, resolved against the spec's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The most data rows one worksheet holds.
    pub fn max_rows_per_sheet(&self) -> u32 {
        self.max_rows_per_sheet
    }

    /// Whether the data-dictionary sheet is written.
    pub fn dictionary(&self) -> bool {
        self.dictionary
    }
}

impl ExcelSinkConfig {
    /// Checks the values and resolves the path against the spec's folder. Does no IO.
    pub fn validate(
        self,
        table: &ConfigTable,
        context: &SpecContext,
    ) -> Result<ValidatedExcelSink> {
        check_path(&self.path).map_err(|message| table.error_at("path", message))?;

        if !(1..=EXCEL_MAX_DATA_ROWS).contains(&self.max_rows_per_sheet) {
            return Err(table.error_at(
                "max_rows_per_sheet",
                format!(
                    "{} is out of range; use a number from 1 to {EXCEL_MAX_DATA_ROWS} (Excel's \
                     limit), or leave it out for the default",
                    self.max_rows_per_sheet
                ),
            ));
        }

        Ok(ValidatedExcelSink {
            component_id: context.component_id.clone(),
            path: context.resolve_path(&self.path),
            max_rows_per_sheet: self.max_rows_per_sheet,
            dictionary: self.dictionary,
        })
    }
}

/// Refuses paths that do not name an `.xlsx` file: other extensions would produce a file Excel
/// refuses to open, or one named like a different format.
fn check_path(path: &Path) -> std::result::Result<(), String> {
    let example = "for example path = \"out/ashby.xlsx\"";
    if path.as_os_str().is_empty() {
        return Err(format!("must name the workbook to write, {example}"));
    }

    let is_xlsx = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        return Err(format!(
            "`{}` does not end in .xlsx; name an Excel workbook, {example}",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn context() -> SpecContext {
        SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "workbook".into() }
    }

    fn table(body: &str) -> ConfigTable {
        let document =
            format!("[sources.a]\ntype = \"x\"\n\n[sinks.workbook]\ntype = \"excel\"\n{body}");
        ConfigTable::new("spec.toml", Arc::from(document), vec!["sinks".into(), "workbook".into()])
    }

    fn validate(body: &str) -> Result<ValidatedExcelSink> {
        let table = table(body);
        table.deserialize::<ExcelSinkConfig>()?.validate(&table, &context())
    }

    #[test]
    fn defaults_fill_excel_sheets_and_write_the_dictionary() {
        let sink = validate("path = \"out/ashby.xlsx\"\n").unwrap();

        assert_eq!(sink.path(), Path::new("/specs/out/ashby.xlsx"));
        assert_eq!(sink.max_rows_per_sheet(), 1_048_575);
        assert!(sink.dictionary());
        assert_eq!(sink.component_id, "workbook");
    }

    #[test]
    fn absolute_paths_are_kept_and_every_key_is_read() {
        let sink =
            validate("path = \"/data/Book.XLSX\"\nmax_rows_per_sheet = 5\ndictionary = false\n")
                .unwrap();

        assert_eq!(sink.path(), Path::new("/data/Book.XLSX"));
        assert_eq!(sink.max_rows_per_sheet(), 5);
        assert!(!sink.dictionary());
    }

    #[test]
    fn an_unknown_key_is_reported_with_its_line_and_the_valid_keys() {
        let message = validate("path = \"a.xlsx\"\nmax_rows = 10\n").unwrap_err().to_string();

        assert!(message.starts_with("spec.toml:7:1: "), "{message}");
        assert!(message.contains("unknown field `max_rows`"), "{message}");
        assert!(message.contains("max_rows_per_sheet"), "{message}");
    }

    #[test]
    fn a_missing_path_is_a_config_error_naming_the_section() {
        let error = validate("dictionary = false\n").unwrap_err();

        assert_eq!(error.class(), ashflow_core::ErrorClass::Config);
        let message = error.to_string();
        assert!(message.contains("missing field `path`"), "{message}");
        assert!(message.starts_with("spec.toml:"), "{message}");
    }

    #[test]
    fn a_path_that_is_not_xlsx_is_refused_at_its_line() {
        for path in ["out/ashby.xls", "out/ashby.csv", "out/ashby", "out/.xlsx", ""] {
            let error = validate(&format!("path = \"{path}\"\n")).unwrap_err();

            assert_eq!(error.class(), ashflow_core::ErrorClass::Config);
            let message = error.to_string();
            assert!(message.starts_with("spec.toml:6:1: `path`: "), "{path}: {message}");
            assert!(message.contains("out/ashby.xlsx"), "{path}: {message}");
        }
    }

    #[test]
    fn max_rows_per_sheet_must_fit_in_one_excel_sheet() {
        for rows in ["0", "1048576"] {
            let error =
                validate(&format!("path = \"a.xlsx\"\nmax_rows_per_sheet = {rows}\n")).unwrap_err();

            let message = error.to_string();
            assert!(message.starts_with("spec.toml:7:1: `max_rows_per_sheet`: "), "{message}");
            assert!(message.contains("from 1 to 1048575"), "{message}");
        }

        let negative = validate("path = \"a.xlsx\"\nmax_rows_per_sheet = -3\n").unwrap_err();
        assert!(negative.to_string().starts_with("spec.toml:7:"), "{negative}");
    }
}
