//! The Excel sink's run: one workbook per run, one or more worksheets per dataset, a data
//! dictionary last, and an atomic replace of the previous workbook at the very end.
//!
//! Rows are prepared and spooled to disk as batches arrive, and each dataset's sheets are
//! written when it ends, through the library's constant-memory worksheets, so memory stays flat
//! however large the export (except for tables: see [`TABLE_CELL_BUDGET`]). The workbook itself
//! is assembled only in [`Sink::finish`], into a temporary file next to the destination that is
//! then renamed over it; until then nothing at the destination changes, and a sink dropped
//! without `finish` removes every temporary file it made.
//!
//! The work is CPU-bound and synchronous, and it runs inline in the async methods: the runner
//! awaits each call before the next, so moving it to a blocking thread would only add a hand-off
//! of the whole workbook without freeing anything to run meanwhile. Nothing is held across an
//! `.await` (there is none), and the workbook is `Send`, as the `Sink` trait requires.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ashflow_core::prelude::*;
use rust_xlsxwriter::Workbook;
use tempfile::NamedTempFile;

use crate::config::ValidatedExcelSink;
use crate::error::ExcelError;
use crate::names::{WorkbookNames, table_headers};
use crate::sheet::{Formats, Layout, SheetPlan, write_sheet};
use crate::spool::{Spool, SpoolReader};
use crate::values::{ColumnWidths, SheetValue, prepare, prepare_text, with_thousands_separators};

/// Excel's limit on columns in one sheet.
const EXCEL_MAX_COLUMNS: usize = 16_384;

/// The most table cells (headers included) one workbook gets; a dataset whose tables would pass
/// it gets a plain header filter on each of its sheets instead.
///
/// The workbook library records every cell of every table range in a map, to check that tables
/// do not overlap, and keeps it until the workbook is saved: measured at 35 to 50 bytes a cell.
/// Five million cells come to roughly 200 MB (270 MB at the peak of the map's last growth), enough
/// for the tables of a typical account's export (tens of thousands of rows of tens of columns).
// FIXME: Datasets beyond this budget get an autofilter rather than a table (no banding, no
// structured references); lifting it needs the library to check table overlaps by range.
pub const TABLE_CELL_BUDGET: u64 = 5_000_000;

/// The name of the dictionary sheet.
const DICTIONARY_SHEET: &str = "Data dictionary";

/// The dictionary sheet's columns.
const DICTIONARY_HEADERS: [&str; 6] =
    ["Dataset", "Sheet", "Column", "Type", "Contact details", "Description"];

/// An Excel workbook being written for one run.
pub struct ExcelSink {
    component_id: String,
    destination: PathBuf,
    staging: NamedTempFile,
    book: Book,
    max_rows_per_sheet: u32,
    dictionary: bool,
    current: Option<DatasetInProgress>,
    written: Vec<WrittenDataset>,
    reports: Vec<DatasetReport>,
}

/// The workbook and what every sheet written into it shares.
struct Book {
    workbook: Workbook,
    formats: Formats,
    names: WorkbookNames,
    folder: PathBuf,
    table_cells_left: u64,
}

/// A dataset whose rows are arriving.
struct DatasetInProgress {
    name: String,
    projection: Projection,
    headers: Vec<String>,
    spool: Spool,
    widths: ColumnWidths,
    truncated: Vec<u64>,
    row: Vec<SheetValue>,
}

/// What the dictionary needs to know about a dataset already written.
struct WrittenDataset {
    name: String,
    sheets: Vec<String>,
    columns: Vec<Column>,
}

impl std::fmt::Debug for ExcelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExcelSink")
            .field("destination", &self.destination)
            .field("datasets_written", &self.reports.len())
            .finish_non_exhaustive()
    }
}

impl ExcelSink {
    /// Prepares a run: creates the destination folder when missing and the temporary workbook
    /// file in it, so an unwritable destination fails before any data is fetched.
    pub fn open(config: ValidatedExcelSink) -> Result<Self, ExcelError> {
        let folder = match config.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };

        // Checked here rather than at publish, because the runner opens sinks before fetching:
        // a destination of the wrong kind then fails the run in a second, not after the export.
        if config.path.is_dir() {
            return Err(ExcelError::PathIsFolder { path: config.path });
        }
        if let Some(file) = folder.ancestors().find(|a| a.exists()).filter(|a| !a.is_dir()) {
            return Err(ExcelError::ParentIsFile { path: file.to_path_buf() });
        }
        fs::create_dir_all(&folder)
            .map_err(|source| ExcelError::CreateFolder { path: folder.clone(), source })?;

        let staging = staging_file(&folder, &config.path)?;

        // The worksheets' own temporary files go next to the workbook too: the system temp
        // folder may be small or in memory, and the destination must have room anyway.
        let mut workbook = Workbook::new();
        workbook.set_tempdir(&folder).map_err(ExcelError::workbook("temporary folder"))?;

        tracing::info!(
            component = "excel",
            sink = %config.component_id,
            path = %config.path.display(),
            "Opened workbook."
        );
        Ok(ExcelSink {
            component_id: config.component_id,
            destination: config.path,
            staging,
            book: Book {
                workbook,
                formats: Formats::new(),
                names: WorkbookNames::new(),
                folder,
                table_cells_left: TABLE_CELL_BUDGET,
            },
            max_rows_per_sheet: config.max_rows_per_sheet,
            dictionary: config.dictionary,
            current: None,
            written: Vec::new(),
            reports: Vec::new(),
        })
    }

    fn begin(&mut self, dataset: &DatasetDescriptor) -> Result<(), ExcelError> {
        if self.current.is_some() {
            return Err(ExcelError::OutOfOrder("a dataset began before the previous one ended"));
        }

        let projection = Projection::new(&dataset.schema);
        let columns = projection.columns().len();
        if columns > EXCEL_MAX_COLUMNS {
            return Err(ExcelError::TooManyColumns { dataset: dataset.name.clone(), columns });
        }

        let headers = table_headers(projection.columns().iter().map(|c| c.name.as_str()));
        let spool = Spool::create(&self.book.folder)
            .map_err(|source| ExcelError::Temporary { path: self.book.folder.clone(), source })?;
        self.current = Some(DatasetInProgress {
            name: dataset.name.clone(),
            widths: ColumnWidths::for_headers(&headers),
            truncated: vec![0; columns],
            row: Vec::with_capacity(columns),
            projection,
            headers,
            spool,
        });
        Ok(())
    }

    fn write(&mut self, records: &[Record]) -> Result<(), ExcelError> {
        let dataset = self
            .current
            .as_mut()
            .ok_or(ExcelError::OutOfOrder("a batch arrived outside a dataset"))?;
        for record in records {
            dataset.push(record).map_err(|source| ExcelError::Temporary {
                path: self.book.folder.clone(),
                source,
            })?;
        }
        tracing::debug!(
            component = "excel",
            dataset = %dataset.name,
            rows = records.len(),
            "Spooled batch."
        );
        Ok(())
    }

    fn end(&mut self) -> Result<DatasetReport, ExcelError> {
        let dataset = self
            .current
            .take()
            .ok_or(ExcelError::OutOfOrder("a dataset ended that had not begun"))?;
        let rows = dataset.spool.rows();
        let written = dataset.write_sheets(&mut self.book, self.max_rows_per_sheet)?;

        tracing::info!(
            component = "excel",
            sink = %self.component_id,
            dataset = %written.dataset.name,
            rows,
            sheets = written.dataset.sheets.len(),
            "Wrote dataset."
        );
        let report = DatasetReport {
            dataset: written.dataset.name.clone(),
            rows,
            warnings: written.warnings,
            ..DatasetReport::default()
        };
        self.written.push(written.dataset);
        self.reports.push(report.clone());
        Ok(report)
    }

    fn publish(mut self) -> Result<SinkReport, ExcelError> {
        if self.current.is_some() {
            return Err(ExcelError::OutOfOrder("the run finished inside a dataset"));
        }
        if self.dictionary {
            write_dictionary(&mut self.book, &self.written)?;
        }

        let folder = self.book.folder.clone();
        let temporary = |source| ExcelError::Temporary { path: folder.clone(), source };
        // Flushing and syncing explicitly surfaces a full disk here, where dropping the buffer
        // would ignore it and publish a truncated workbook.
        let mut writer = std::io::BufWriter::new(self.staging.as_file_mut());
        self.book.workbook.save_to_writer(&mut writer).map_err(ExcelError::workbook("saving"))?;
        writer.flush().map_err(temporary)?;
        drop(writer);
        self.staging.as_file().sync_all().map_err(temporary)?;
        keep_permissions(&self.destination, self.staging.path()).map_err(temporary)?;

        self.staging.persist(&self.destination).map_err(|error| ExcelError::Publish {
            path: self.destination.clone(),
            source: error.error,
        })?;

        tracing::info!(
            component = "excel",
            sink = %self.component_id,
            path = %self.destination.display(),
            datasets = self.reports.len(),
            "Published workbook."
        );
        Ok(SinkReport {
            location: Some(self.destination.display().to_string()),
            requests: 0,
            datasets: self.reports,
        })
    }
}

/// A dataset's sheets as written, and the warnings for its report.
struct WrittenSheets {
    dataset: WrittenDataset,
    warnings: Vec<String>,
}

impl DatasetInProgress {
    /// Prepares and spools one record's row, measuring it for the column widths.
    fn push(&mut self, record: &Record) -> std::io::Result<()> {
        self.row.clear();
        for (column, cell) in self.projection.project(record).into_iter().enumerate() {
            let prepared = prepare(cell);
            if prepared.truncated {
                self.truncated[column] += 1;
            }
            self.widths.observe(column, &prepared.value);
            self.row.push(prepared.value);
        }
        self.spool.push_row(&self.row)
    }

    /// Writes the spooled rows into as many sheets as `max_rows_per_sheet` requires, at least
    /// one, each with the same header and widths.
    fn write_sheets(
        self,
        book: &mut Book,
        max_rows_per_sheet: u32,
    ) -> Result<WrittenSheets, ExcelError> {
        let DatasetInProgress { name, projection, headers, spool, widths, truncated, .. } = self;
        let total_rows = spool.rows();
        let mut reader = spool
            .into_reader(headers.len())
            .map_err(|source| ExcelError::Temporary { path: book.folder.clone(), source })?;

        // One decision for the whole dataset, so that all its sheets look the same.
        let rows_per_sheet = split_rows(total_rows, max_rows_per_sheet);
        let tables = book.reserve_table_cells(&rows_per_sheet, headers.len());

        let mut sheets: Vec<String> = Vec::new();
        for rows in rows_per_sheet {
            let sheet = match sheets.first() {
                None => claim_first_sheet(&mut book.names, &name),
                Some(first) => book.names.claim_continuation(first, next_part(&sheets)),
            };
            let layout =
                if tables { Layout::Table(book.names.claim_table(&sheet)) } else { Layout::Filter };

            let plan = SheetPlan { name: &sheet, headers: &headers, widths: &widths, rows, layout };
            let source = take_rows(&mut reader, rows, &book.folder);
            write_sheet(&mut book.workbook, &book.formats, &plan, source)?;
            tracing::debug!(
                component = "excel",
                dataset = %name,
                sheet = %sheet,
                rows,
                "Wrote sheet."
            );
            sheets.push(sheet);
        }

        let columns = projection.columns().to_vec();
        let mut warnings = truncation_warnings(&name, &columns, &truncated);
        warnings.extend(layout_warnings(&name, &sheets, tables, max_rows_per_sheet));
        Ok(WrittenSheets { dataset: WrittenDataset { name, sheets, columns }, warnings })
    }
}

/// One warning per column with cut values, each also logged.
fn truncation_warnings(dataset: &str, columns: &[Column], truncated: &[u64]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (column, &count) in columns.iter().zip(truncated) {
        if count == 0 {
            continue;
        }
        tracing::warn!(
            component = "excel",
            dataset = %dataset,
            column = %column.name,
            values = count,
            "Cut values longer than Excel's cell limit."
        );
        let (noun, verb) = if count == 1 { ("value", "was") } else { ("values", "were") };
        warnings.push(format!(
            "column `{}`: {} {noun} longer than Excel's limit of 32,767 characters per cell \
             {verb} cut, each ending in a \"[truncated: …]\" marker",
            column.name,
            with_thousands_separators(usize::try_from(count).unwrap_or(usize::MAX)),
        ));
    }
    warnings
}

/// Warnings for a dataset split across sheets and for a dataset left without tables.
fn layout_warnings(
    dataset: &str,
    sheets: &[String],
    tables: bool,
    max_rows_per_sheet: u32,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if sheets.len() > 1 {
        warnings.push(format!(
            "more than {} rows, so the rows continue across {} sheets: {}",
            with_thousands_separators(max_rows_per_sheet as usize),
            sheets.len(),
            sheets.join(", ")
        ));
    }
    if !tables {
        tracing::warn!(
            component = "excel",
            dataset = %dataset,
            budget = TABLE_CELL_BUDGET,
            "Used header filters instead of tables to bound memory."
        );
        warnings.push(format!(
            "{} {} a header filter instead of an Excel table, because tables for these rows \
             would pass the {} table cells ashflow writes per workbook to keep memory bounded",
            sheets.join(", "),
            if sheets.len() == 1 { "has" } else { "have" },
            with_thousands_separators(usize::try_from(TABLE_CELL_BUDGET).unwrap_or(usize::MAX)),
        ));
    }
    warnings
}

/// How many rows each sheet of a dataset gets: full sheets, then the rest, and always at least
/// one sheet, even for no rows.
fn split_rows(total_rows: u64, max_rows_per_sheet: u32) -> Vec<u32> {
    let mut sheets = Vec::new();
    let mut rows_left = total_rows;
    while sheets.is_empty() || rows_left > 0 {
        let rows = rows_left.min(u64::from(max_rows_per_sheet));
        sheets.push(u32::try_from(rows).expect("at most max_rows_per_sheet, a u32"));
        rows_left -= rows;
    }
    sheets
}

impl Book {
    /// Takes the cells of tables over sheets of `rows_per_sheet` rows (each with a header, and
    /// with a blank row when empty) from the workbook's budget, or returns false, taking
    /// nothing, when they do not fit.
    fn reserve_table_cells(&mut self, rows_per_sheet: &[u32], columns: usize) -> bool {
        let cells: u64 =
            rows_per_sheet.iter().map(|&rows| (u64::from(rows.max(1)) + 1) * columns as u64).sum();
        if cells > self.table_cells_left {
            return false;
        }
        self.table_cells_left -= cells;
        true
    }
}

/// Claims the first sheet of a dataset, saying so when the name had to change.
fn claim_first_sheet(names: &mut WorkbookNames, dataset: &str) -> String {
    let sheet = names.claim_sheet(dataset);
    if sheet != dataset {
        tracing::info!(
            component = "excel",
            dataset = %dataset,
            sheet = %sheet,
            "Renamed sheet to meet Excel's rules."
        );
    }
    sheet
}

/// The part number of the next sheet of a dataset: 2 for the second sheet, and so on.
fn next_part(sheets: &[String]) -> u32 {
    u32::try_from(sheets.len() + 1).unwrap_or(u32::MAX)
}

/// A row source that reads the next `rows` rows of `reader`.
fn take_rows<'a>(
    reader: &'a mut SpoolReader,
    rows: u32,
    folder: &'a Path,
) -> impl FnMut(&mut Vec<SheetValue>) -> Result<bool, ExcelError> + 'a {
    let mut left = rows;
    move |row| {
        if left == 0 {
            return Ok(false);
        }
        left -= 1;
        reader
            .next_row(row)
            .map_err(|source| ExcelError::Temporary { path: folder.to_path_buf(), source })
    }
}

/// Writes the dictionary sheet: one row per column of every dataset, in the order written.
fn write_dictionary(book: &mut Book, datasets: &[WrittenDataset]) -> Result<(), ExcelError> {
    let headers: Vec<String> = DICTIONARY_HEADERS.iter().map(|h| h.to_string()).collect();
    let mut widths = ColumnWidths::for_headers(&headers);
    let mut rows: Vec<Vec<SheetValue>> = Vec::new();
    for dataset in datasets {
        let sheets = dataset.sheets.join(", ");
        for column in &dataset.columns {
            let contact = if column.contact_details { "yes" } else { "no" };
            let row: Vec<SheetValue> = [
                &dataset.name,
                &sheets,
                &column.name,
                &column.source_type,
                contact,
                &column.description,
            ]
            .into_iter()
            .map(|text| prepare_text(text.to_string()).value)
            .collect();
            for (index, value) in row.iter().enumerate() {
                widths.observe(index, value);
            }
            rows.push(row);
        }
    }

    let name = book.names.claim_sheet(DICTIONARY_SHEET);
    let table = book.names.claim_table(&name);
    let row_count = u32::try_from(rows.len())
        .map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)
        .map_err(ExcelError::workbook("data dictionary"))?;
    let plan = SheetPlan {
        name: &name,
        headers: &headers,
        widths: &widths,
        rows: row_count,
        layout: Layout::Table(table),
    };
    let mut rows = rows.into_iter();
    write_sheet(&mut book.workbook, &book.formats, &plan, |row| {
        Ok(rows.next().map(|next| *row = next).is_some())
    })
}

/// The temporary workbook file, hidden in the destination folder so the final rename stays on
/// one file system and is atomic. Dropping it deletes it.
fn staging_file(folder: &Path, destination: &Path) -> Result<NamedTempFile, ExcelError> {
    let file_name = destination.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|source| ExcelError::Temporary { path: folder.to_path_buf(), source })
}

/// Gives the new workbook the previous one's permissions, so replacing a workbook someone made
/// readable to others keeps it readable. A first workbook keeps the temporary file's private
/// permissions, which suit a file of personal data.
fn keep_permissions(previous: &Path, new: &Path) -> std::io::Result<()> {
    match fs::metadata(previous) {
        Ok(metadata) => fs::set_permissions(new, metadata.permissions()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

#[async_trait]
impl ValidatedSink for ValidatedExcelSink {
    fn local_destination(&self) -> Option<&std::path::Path> {
        Some(self.path())
    }

    async fn open(self: Box<Self>) -> Result<Box<dyn Sink>> {
        Ok(Box::new(ExcelSink::open(*self)?))
    }
}

#[async_trait]
impl Sink for ExcelSink {
    async fn begin_dataset(&mut self, dataset: &DatasetDescriptor) -> Result<()> {
        Ok(self.begin(dataset)?)
    }

    async fn write_batch(&mut self, records: &[Record]) -> Result<()> {
        Ok(self.write(records)?)
    }

    async fn end_dataset(&mut self) -> Result<DatasetReport> {
        Ok(self.end()?)
    }

    async fn finish(self: Box<Self>) -> Result<SinkReport> {
        Ok(self.publish()?)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use calamine::{Reader, Xlsx, open_workbook};
    use serde_json::json;

    use super::*;

    fn sink_in(folder: &Path) -> ExcelSink {
        ExcelSink::open(ValidatedExcelSink {
            component_id: "workbook".into(),
            path: folder.join("budget.xlsx"),
            max_rows_per_sheet: 1_000,
            dictionary: true,
        })
        .unwrap()
    }

    fn ids(name: &str, count: usize) -> (DatasetDescriptor, Vec<Record>) {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Integer, "Id."),
            Field::new("name", DataType::String, "Name."),
        ]);
        let descriptor = DatasetDescriptor {
            name: name.into(),
            description: String::new(),
            schema,
            primary_key: None,
            rows: None,
        };
        let records = (0..count)
            .map(|i| json!({"id": i, "name": format!("n{i}")}).as_object().cloned().unwrap())
            .collect();
        (descriptor, records)
    }

    #[test]
    fn datasets_beyond_the_table_budget_get_header_filters_on_every_sheet_and_a_warning() {
        let folder = tempfile::tempdir().unwrap();
        let mut sink = sink_in(folder.path());
        sink.book.table_cells_left = 10;
        sink.max_rows_per_sheet = 3;

        let mut reports = Vec::new();
        for (descriptor, records) in [ids("small", 3), ids("large", 5)] {
            sink.begin(&descriptor).unwrap();
            sink.write(&records).unwrap();
            reports.push(sink.end().unwrap());
        }
        sink.publish().unwrap();
        let path = folder.path().join("budget.xlsx");

        // small: (3 rows + header) x 2 columns = 8 cells fit; large: 8 + 6 more do not, and
        // its second sheet alone (6) would not either, so neither sheet gets a table.
        assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
        assert_eq!(reports[1].warnings.len(), 2, "{:?}", reports[1].warnings);
        let warning = &reports[1].warnings[1];
        assert!(warning.starts_with("large, large (2) have a header filter"), "{warning}");
        assert!(warning.contains("5,000,000 table cells"), "{warning}");

        let mut workbook: Xlsx<_> = open_workbook(&path).unwrap();
        workbook.load_tables().unwrap();
        let mut tables: Vec<_> = workbook.table_names().into_iter().cloned().collect();
        tables.sort();
        assert_eq!(tables, ["Table_Data_dictionary", "Table_small"]);
        assert_eq!(workbook.worksheet_range("large").unwrap().height(), 4);
        assert_eq!(workbook.worksheet_range("large (2)").unwrap().height(), 3);

        let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        for (part, filter) in [("sheet2", "A1:B4"), ("sheet3", "A1:B3")] {
            let mut xml = String::new();
            let name = format!("xl/worksheets/{part}.xml");
            archive.by_name(&name).unwrap().read_to_string(&mut xml).unwrap();
            assert!(xml.contains(&format!(r#"<autoFilter ref="{filter}"/>"#)), "{xml}");
            assert!(xml.contains(r#"state="frozen""#), "{xml}");
        }
    }

    #[test]
    fn rows_are_split_into_full_sheets_then_the_rest() {
        assert_eq!(split_rows(0, 5), [0]);
        assert_eq!(split_rows(5, 5), [5]);
        assert_eq!(split_rows(12, 5), [5, 5, 2]);
        assert_eq!(split_rows(2_000_000, 1_048_575), [1_048_575, 951_425]);
    }

    #[test]
    fn datasets_wider_than_an_excel_sheet_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        let mut sink = sink_in(folder.path());
        let fields = (0..=EXCEL_MAX_COLUMNS)
            .map(|i| Field::new(format!("f{i}"), DataType::String, ""))
            .collect();
        let descriptor = DatasetDescriptor {
            name: "wide".into(),
            description: String::new(),
            schema: Schema::new(fields),
            primary_key: None,
            rows: None,
        };

        let error = sink.begin(&descriptor).unwrap_err();
        assert!(matches!(error, ExcelError::TooManyColumns { columns: 16_385, .. }), "{error}");
    }

    #[test]
    fn the_sink_is_send_as_the_trait_requires() {
        fn assert_send<T: Send>() {}
        assert_send::<ExcelSink>();
    }
}
