//! The Sheets sink's run: datasets are prepared into local spool files as they arrive, and the
//! spreadsheet is changed only in [`Sink::finish`], after every limit has been checked.
//!
//! A run that fails before `finish` (a source error, a bad dataset, an interrupted run) has sent
//! nothing but reads, so the spreadsheet is as it was. In `finish`, each tab is written in
//! three steps: grow the grid (or add the tab) to hold old and new rows at once, write the
//! values over the old ones in place, and only then shrink the grid to the new data and apply
//! formats. The tab is therefore never blank while a run writes it, and it keeps its
//! `sheetId`, so formulas and charts elsewhere that refer to it keep working.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};

use ashflow_core::prelude::*;
use ashflow_core::report::group_thousands;
use google_sheets4::FieldMask;
use google_sheets4::api::{
    AddSheetRequest, BasicFilter, BatchUpdateSpreadsheetRequest, BatchUpdateValuesRequest,
    CellData, CellFormat, DeleteDimensionRequest, DimensionProperties, DimensionRange,
    GridProperties, GridRange, NumberFormat, RepeatCellRequest, Request, SetBasicFilterRequest,
    SheetProperties, TextFormat, UpdateDimensionPropertiesRequest, UpdateSheetPropertiesRequest,
    ValueRange,
};
use serde_json::Value;

use crate::client::{SCOPE, ServiceAccount, SheetsClient};
use crate::config::{ValidatedSheetsSink, WriteMode};
use crate::error::SheetsError;
use crate::values::{
    TabTitles, a1_range, comparable, display_chars, number_pattern, pixel_width, quoted,
    sheet_value,
};

/// The most cells a spreadsheet holds, over all its tabs.
pub const SPREADSHEET_CELL_LIMIT: u64 = 10_000_000;

/// Bytes a value range adds to a request besides its values (range, keys, brackets).
const RANGE_OVERHEAD_BYTES: usize = 128;

/// A Google Sheets spreadsheet being written for one run.
pub struct SheetsSink {
    client: SheetsClient,
    component_id: String,
    mode: WriteMode,
    key: String,
    max_request_bytes: usize,
    titles: TabTitles,
    current: Option<PreparedDataset>,
    prepared: Vec<PreparedDataset>,
}

impl std::fmt::Debug for SheetsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SheetsSink")
            .field("spreadsheet_id", &self.client.spreadsheet_id)
            .field("mode", &self.mode)
            .field("datasets_prepared", &self.prepared.len())
            .finish_non_exhaustive()
    }
}

/// One column of a dataset as the sink writes it.
#[derive(Debug, Clone)]
struct SheetColumn {
    name: String,
    column_type: ColumnType,
}

/// A dataset whose rows wait in a local file for `finish`.
struct PreparedDataset {
    name: String,
    title: String,
    projection: Projection,
    columns: Vec<SheetColumn>,
    /// The upsert key's column, in upsert mode.
    key_column: Option<usize>,
    spool: BufWriter<File>,
    rows: u64,
    /// The widest value of each column, in characters.
    widths: Vec<usize>,
    truncated: u64,
    truncated_columns: BTreeSet<String>,
}

/// A tab as the spreadsheet's metadata describes it.
#[derive(Debug, Clone)]
struct ExistingTab {
    sheet_id: i32,
    title: String,
    rows: usize,
    columns: usize,
}

/// What `finish` will do to one tab, decided before anything is written.
struct TabPlan {
    dataset: usize,
    title: String,
    /// The tab's id, or `None` when it must be added.
    sheet_id: Option<i32>,
    current_rows: usize,
    current_columns: usize,
    /// The header's cells to write: (first column, names).
    header: Option<(usize, Vec<String>)>,
    /// Where each dataset column goes in the tab.
    positions: Vec<usize>,
    /// The grid row each spooled row is written to, `None` to skip an unchanged row.
    targets: Targets,
    /// Rows and columns the grid needs while the values are written.
    peak_rows: usize,
    peak_columns: usize,
    /// Rows and columns the tab ends with.
    final_rows: usize,
    final_columns: usize,
    /// Columns whose width the sink sets (those it created).
    sized_columns: Vec<usize>,
    updated: u64,
    added: u64,
}

enum Targets {
    /// Row `i` of the spool goes to grid row `first + i`.
    Sequential { first: usize },
    /// Row `i` goes where the vector says, or nowhere.
    Chosen(Vec<Option<usize>>),
}

impl Targets {
    fn of(&self, index: usize) -> Option<usize> {
        match self {
            Targets::Sequential { first } => Some(first + index),
            Targets::Chosen(rows) => rows.get(index).copied().flatten(),
        }
    }
}

impl SheetsSink {
    /// Reads the key, connects, and checks that the spreadsheet exists and is shared with the
    /// service account, so a destination that cannot be written fails before anything is
    /// fetched. Only reads are sent.
    pub async fn open(config: ValidatedSheetsSink) -> Result<Self, SheetsError> {
        let account = ServiceAccount::load(&config.credentials)?;
        let email = account.email().to_string();
        let mut client = SheetsClient::connect(&config, account).await?;
        let tabs = read_tabs(&mut client).await?;
        tracing::info!(
            component_kind = "sink",
            component_type = "google_sheets",
            component_id = %config.component_id,
            spreadsheet_id = %config.spreadsheet_id,
            service_account = %email,
            tabs = tabs.len(),
            mode = %config.mode,
            "Opened the spreadsheet."
        );
        Ok(SheetsSink {
            client,
            component_id: config.component_id,
            mode: config.mode,
            key: config.key,
            max_request_bytes: config.max_request_bytes,
            titles: TabTitles::default(),
            current: None,
            prepared: Vec::new(),
        })
    }

    fn begin(&mut self, dataset: &DatasetDescriptor) -> Result<(), SheetsError> {
        if self.current.is_some() {
            return Err(SheetsError::OutOfOrder("a dataset began before the previous one ended"));
        }
        let projection = Projection::new(&dataset.schema);
        let columns: Vec<SheetColumn> = projection
            .columns()
            .iter()
            .map(|c| SheetColumn { name: c.name.clone(), column_type: c.column_type })
            .collect();
        let key_column = match self.mode {
            WriteMode::Upsert => {
                Some(columns.iter().position(|c| c.name == self.key).ok_or_else(|| {
                    SheetsError::MissingKey {
                        dataset: dataset.name.clone(),
                        key: self.key.clone(),
                        problem: "the dataset has no such column".into(),
                    }
                })?)
            }
            _ => None,
        };
        let spool = tempfile::tempfile()
            .map_err(|source| SheetsError::Spool { dataset: dataset.name.clone(), source })?;
        self.current = Some(PreparedDataset {
            name: dataset.name.clone(),
            title: self.titles.claim(&dataset.name),
            widths: columns.iter().map(|c| c.name.chars().count()).collect(),
            columns,
            projection,
            key_column,
            spool: BufWriter::new(spool),
            rows: 0,
            truncated: 0,
            truncated_columns: BTreeSet::new(),
        });
        Ok(())
    }

    fn write(&mut self, records: &[Record]) -> Result<(), SheetsError> {
        let dataset = self
            .current
            .as_mut()
            .ok_or(SheetsError::OutOfOrder("rows arrived outside a dataset"))?;
        let mut line = Vec::new();
        for record in records {
            let mut row = Vec::with_capacity(dataset.columns.len());
            for (index, cell) in dataset.projection.project(record).into_iter().enumerate() {
                let prepared = sheet_value(cell);
                if prepared.truncated_from.is_some() {
                    dataset.truncated += 1;
                    dataset.truncated_columns.insert(dataset.columns[index].name.clone());
                }
                let chars = display_chars(&prepared.value, dataset.columns[index].column_type);
                dataset.widths[index] = dataset.widths[index].max(chars);
                row.push(prepared.value);
            }
            line.clear();
            serde_json::to_writer(&mut line, &row).map_err(|error| SheetsError::Spool {
                dataset: dataset.name.clone(),
                source: error.into(),
            })?;
            line.push(b'\n');
            dataset
                .spool
                .write_all(&line)
                .map_err(|source| SheetsError::Spool { dataset: dataset.name.clone(), source })?;
            dataset.rows += 1;
        }
        Ok(())
    }

    fn end(&mut self) -> Result<DatasetReport, SheetsError> {
        let mut dataset = self
            .current
            .take()
            .ok_or(SheetsError::OutOfOrder("a dataset ended before it began"))?;
        dataset
            .spool
            .flush()
            .map_err(|source| SheetsError::Spool { dataset: dataset.name.clone(), source })?;
        let report = DatasetReport {
            dataset: dataset.name.clone(),
            rows: dataset.rows,
            warnings: truncation_warning(&dataset).into_iter().collect(),
            ..Default::default()
        };
        if let Some(warning) = report.warnings.first() {
            tracing::warn!(
                component_kind = "sink",
                component_type = "google_sheets",
                component_id = %self.component_id,
                dataset = %dataset.name,
                "{warning}"
            );
        }
        tracing::debug!(
            component_kind = "sink",
            component_type = "google_sheets",
            component_id = %self.component_id,
            dataset = %dataset.name,
            rows = dataset.rows,
            "Prepared a dataset; it is written when the run finishes."
        );
        self.prepared.push(dataset);
        Ok(report)
    }

    /// Plans every tab, checks the cell limit, then writes the tabs one by one.
    async fn publish(mut self) -> Result<SinkReport, SheetsError> {
        if self.current.is_some() {
            return Err(SheetsError::OutOfOrder("the run finished inside a dataset"));
        }
        let existing = read_tabs(&mut self.client).await?;
        let mut plans = Vec::new();
        for index in 0..self.prepared.len() {
            plans.push(self.plan(index, &existing).await?);
        }
        check_cell_limit(&plans, &existing, &self.prepared)?;

        let mut reports = Vec::new();
        for plan in &plans {
            let requests_before = self.client.requests;
            let (rows, sheet_id) = self.write_tab(plan).await?;
            let dataset = &self.prepared[plan.dataset];
            tracing::info!(
                component_kind = "sink",
                component_type = "google_sheets",
                component_id = %self.component_id,
                dataset = %dataset.name,
                tab = %plan.title,
                mode = %self.mode,
                rows_written = rows,
                rows_updated = plan.updated,
                rows_added = plan.added,
                requests = self.client.requests - requests_before,
                "Wrote a tab."
            );
            reports.push(DatasetReport {
                dataset: dataset.name.clone(),
                rows,
                warnings: truncation_warning(dataset).into_iter().collect(),
                links: vec![format!(
                    "Google Sheets: https://docs.google.com/spreadsheets/d/{}/edit#gid={sheet_id}",
                    self.client.spreadsheet_id
                )],
            });
        }
        tracing::info!(
            component_kind = "sink",
            component_type = "google_sheets",
            component_id = %self.component_id,
            spreadsheet_id = %self.client.spreadsheet_id,
            requests = self.client.requests,
            retries = self.client.retries,
            "Published the spreadsheet."
        );
        Ok(SinkReport {
            location: Some(format!(
                "https://docs.google.com/spreadsheets/d/{}/edit",
                self.client.spreadsheet_id
            )),
            requests: self.client.requests,
            datasets: reports,
        })
    }

    /// Decides where every row of one dataset goes. Reads the tab in append and upsert modes;
    /// writes nothing.
    async fn plan(
        &mut self,
        index: usize,
        existing: &[ExistingTab],
    ) -> Result<TabPlan, SheetsError> {
        let dataset = &self.prepared[index];
        let tab = existing.iter().find(|t| t.title.to_lowercase() == dataset.title.to_lowercase());
        let width = dataset.columns.len().max(1);
        let names: Vec<String> = dataset.columns.iter().map(|c| c.name.clone()).collect();
        let data_rows = usize::try_from(dataset.rows).unwrap_or(usize::MAX);
        let (current_rows, current_columns) = tab.map_or((0, 0), |t| (t.rows, t.columns));
        let mut plan = TabPlan {
            dataset: index,
            title: tab.map_or_else(|| dataset.title.clone(), |t| t.title.clone()),
            sheet_id: tab.map(|t| t.sheet_id),
            current_rows,
            current_columns,
            header: Some((0, names.clone())),
            positions: (0..dataset.columns.len()).collect(),
            targets: Targets::Sequential { first: 1 },
            peak_rows: current_rows.max(data_rows + 1),
            peak_columns: current_columns.max(width),
            final_rows: data_rows + 1,
            final_columns: width,
            sized_columns: (0..dataset.columns.len()).collect(),
            updated: 0,
            added: dataset.rows,
        };
        if self.mode == WriteMode::Replace || tab.is_none() {
            return Ok(plan);
        }

        let existing_values = self.read_values(&plan.title).await?;
        let dataset = &mut self.prepared[index];
        let Some(header_row) = existing_values.first() else {
            return Ok(plan);
        };
        let mut header: Vec<String> = header_row.iter().map(comparable).collect();
        let old_width = header.len();
        let mut added_names = Vec::new();
        plan.positions = names
            .iter()
            .map(|name| {
                header.iter().position(|h| h == name).unwrap_or_else(|| {
                    header.push(name.clone());
                    added_names.push(name.clone());
                    header.len() - 1
                })
            })
            .collect();
        plan.header = (!added_names.is_empty()).then_some((old_width, added_names));
        plan.sized_columns = (old_width..header.len()).collect();
        let used_rows = existing_values.len();
        plan.final_columns = current_columns.max(header.len());
        plan.peak_columns = plan.final_columns;

        match dataset.key_column {
            None => {
                plan.targets = Targets::Sequential { first: used_rows };
                plan.final_rows = current_rows.max(used_rows + data_rows);
            }
            Some(key_column) => {
                let key_position = header_row
                    .iter()
                    .map(comparable)
                    .position(|h| h == dataset.columns[key_column].name)
                    .ok_or_else(|| SheetsError::MissingKey {
                        dataset: dataset.name.clone(),
                        key: dataset.columns[key_column].name.clone(),
                        problem: format!(
                            "the tab `{}` has no such column in its header row",
                            plan.title
                        ),
                    })?;
                let mut rows_by_key: HashMap<String, (usize, u64)> = HashMap::new();
                for (row_index, row) in existing_values.iter().enumerate().skip(1) {
                    let key = row.get(key_position).map(comparable).unwrap_or_default();
                    if !key.is_empty() {
                        let fingerprint = fingerprint(plan.positions.iter().map(|p| row.get(*p)));
                        rows_by_key.entry(key).or_insert((row_index, fingerprint));
                    }
                }
                plan.added = 0;
                let mut next_row = used_rows;
                let mut targets = Vec::with_capacity(data_rows);
                for_each_spooled(dataset, |row| {
                    let key = comparable(&row[key_column]);
                    let fingerprint = fingerprint(row.iter().map(Some));
                    let target = match rows_by_key.get_mut(&key) {
                        Some((_, known)) if *known == fingerprint => None,
                        Some((at, known)) => {
                            *known = fingerprint;
                            plan.updated += 1;
                            Some(*at)
                        }
                        None => {
                            let at = next_row;
                            next_row += 1;
                            plan.added += 1;
                            if !key.is_empty() {
                                rows_by_key.insert(key, (at, fingerprint));
                            }
                            Some(at)
                        }
                    };
                    targets.push(target);
                })?;
                plan.targets = Targets::Chosen(targets);
                plan.final_rows = current_rows.max(next_row);
            }
        }
        plan.peak_rows = plan.final_rows;
        Ok(plan)
    }

    /// Every value of a tab, as stored (numbers as numbers, times as serial numbers).
    async fn read_values(&mut self, title: &str) -> Result<Vec<Vec<Value>>, SheetsError> {
        let hub = self.client.hub();
        let id = self.client.spreadsheet_id.clone();
        let range = quoted(title);
        let answer = self
            .client
            .call(&format!("reading tab `{title}`"), false, || {
                let (hub, id, range) = (hub.clone(), id.clone(), range.clone());
                async move {
                    hub.spreadsheets()
                        .values_get(&id, &range)
                        .value_render_option("UNFORMATTED_VALUE")
                        .date_time_render_option("SERIAL_NUMBER")
                        .add_scope(SCOPE)
                        .doit()
                        .await
                }
            })
            .await?;
        Ok(answer.values.unwrap_or_default())
    }

    /// Writes one tab as planned; returns the data rows written and the tab's id.
    async fn write_tab(&mut self, plan: &TabPlan) -> Result<(u64, i32), SheetsError> {
        let sheet_id = self.prepare_grid(plan).await?;
        let written = self.write_values(plan).await?;
        self.finish_tab(plan, sheet_id).await?;
        Ok((written, sheet_id))
    }

    /// Adds the tab, or grows its grid to hold the old and the new rows at once.
    async fn prepare_grid(&mut self, plan: &TabPlan) -> Result<i32, SheetsError> {
        let rows = i32::try_from(plan.peak_rows).unwrap_or(i32::MAX);
        let columns = i32::try_from(plan.peak_columns).unwrap_or(i32::MAX);
        let grid = GridProperties {
            row_count: Some(rows),
            column_count: Some(columns),
            ..Default::default()
        };
        let request = match plan.sheet_id {
            None => Request {
                add_sheet: Some(AddSheetRequest {
                    properties: Some(SheetProperties {
                        title: Some(plan.title.clone()),
                        grid_properties: Some(grid),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            },
            Some(sheet_id) => {
                if plan.peak_rows <= plan.current_rows && plan.peak_columns <= plan.current_columns
                {
                    return Ok(sheet_id);
                }
                Request {
                    update_sheet_properties: Some(UpdateSheetPropertiesRequest {
                        properties: Some(SheetProperties {
                            sheet_id: Some(sheet_id),
                            grid_properties: Some(grid),
                            ..Default::default()
                        }),
                        fields: Some(FieldMask::new(&[
                            "gridProperties.rowCount",
                            "gridProperties.columnCount",
                        ])),
                    }),
                    ..Default::default()
                }
            }
        };
        let what = format!("preparing tab `{}`", plan.title);
        let reply = self.batch_update(&what, vec![request]).await?;
        if let Some(sheet_id) = plan.sheet_id {
            return Ok(sheet_id);
        }
        reply
            .replies
            .and_then(|replies| replies.into_iter().next())
            .and_then(|reply| reply.add_sheet?.properties?.sheet_id)
            .ok_or_else(|| SheetsError::Unexpected {
                what,
                detail: "no sheetId for the new tab".into(),
            })
    }

    /// Streams the spool into value ranges of bounded size, one request at a time.
    async fn write_values(&mut self, plan: &TabPlan) -> Result<u64, SheetsError> {
        let mut requests: Vec<ValueRange> = Vec::new();
        let mut request_bytes = 0;
        let mut run: Option<Run> = None;
        let mut written = 0;

        if let Some((first_column, names)) = &plan.header {
            let header: Vec<Value> = names.iter().map(|n| Value::String(n.clone())).collect();
            let bytes = serde_json::to_string(&header).map_or(0, |t| t.len());
            let mut header_run = Run::new(0, *first_column);
            header_run.push(header, bytes);
            if plan.sheet_id.is_none() || self.mode == WriteMode::Replace {
                run = Some(header_run);
            } else {
                request_bytes += header_run.bytes;
                requests.push(header_run.into_range(&plan.title));
            }
        }

        let dataset = &self.prepared[plan.dataset];
        let segments = column_segments(&plan.positions);
        let mut pending: Vec<Vec<ValueRange>> = Vec::new();
        let mut index = 0;
        for_each_spooled(dataset, |row| {
            let target = plan.targets.of(index);
            index += 1;
            let Some(target) = target else { return };
            written += 1;
            let cells = place(row, &plan.positions);
            let bytes = serde_json::to_string(&cells).map_or(0, |t| t.len()) + 2;
            let contiguous =
                run.as_ref().is_some_and(|r| r.next_row() == target && r.first_column == 0);
            if !contiguous {
                if let Some(done) = run.take() {
                    request_bytes += done.bytes;
                    requests.extend(done.into_ranges(&plan.title, &segments));
                }
                run = Some(Run::new(target, 0));
            }
            if let Some(current) = run.as_mut() {
                current.push(cells, bytes);
            }
            let run_bytes = run.as_ref().map_or(0, |r| r.bytes);
            if request_bytes + run_bytes + RANGE_OVERHEAD_BYTES * (requests.len() + 1)
                >= self.max_request_bytes
            {
                if let Some(done) = run.take() {
                    requests.extend(done.into_ranges(&plan.title, &segments));
                }
                pending.push(std::mem::take(&mut requests));
                request_bytes = 0;
            }
        })?;
        if let Some(done) = run.take() {
            requests.extend(done.into_ranges(&plan.title, &segments));
        }
        if !requests.is_empty() {
            pending.push(requests);
        }

        // FIXME: The value ranges of a whole dataset are built before the first is sent, so
        // memory holds the dataset's values once more while a tab is written; streaming them
        // from the spool request by request would keep memory flat for very large tabs.
        let total = pending.len();
        for (number, data) in pending.into_iter().enumerate() {
            let what = format!("writing tab `{}` (request {} of {total})", plan.title, number + 1);
            self.write_ranges(&what, data).await?;
        }
        Ok(written)
    }

    async fn write_ranges(&mut self, what: &str, data: Vec<ValueRange>) -> Result<(), SheetsError> {
        let hub = self.client.hub();
        let id = self.client.spreadsheet_id.clone();
        let body = BatchUpdateValuesRequest {
            data: Some(data),
            value_input_option: Some("RAW".into()),
            ..Default::default()
        };
        self.client
            .call(what, true, || {
                let (hub, id, body) = (hub.clone(), id.clone(), body.clone());
                async move {
                    hub.spreadsheets().values_batch_update(body, &id).add_scope(SCOPE).doit().await
                }
            })
            .await?;
        Ok(())
    }

    /// Shrinks the grid to the new data (replace), then freezes and bolds the header, formats
    /// the time columns over every row, sets the filter and the widths: in one atomic batch,
    /// after the grid has its final size, so the formats cover every row.
    async fn finish_tab(&mut self, plan: &TabPlan, sheet_id: i32) -> Result<(), SheetsError> {
        let dataset = &self.prepared[plan.dataset];
        let rows = to_i32(plan.final_rows);
        let columns = to_i32(plan.final_columns);
        let mut requests = Vec::new();
        if self.mode == WriteMode::Replace {
            if plan.peak_rows > plan.final_rows {
                requests.push(delete_dimension(sheet_id, "ROWS", plan.final_rows, plan.peak_rows));
            }
            if plan.peak_columns > plan.final_columns {
                requests.push(delete_dimension(
                    sheet_id,
                    "COLUMNS",
                    plan.final_columns,
                    plan.peak_columns,
                ));
            }
        }
        if plan.final_rows > 1 {
            requests.push(Request {
                update_sheet_properties: Some(UpdateSheetPropertiesRequest {
                    properties: Some(SheetProperties {
                        sheet_id: Some(sheet_id),
                        grid_properties: Some(GridProperties {
                            frozen_row_count: Some(1),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    fields: Some(FieldMask::new(&["gridProperties.frozenRowCount"])),
                }),
                ..Default::default()
            });
        }
        let bold = CellFormat {
            text_format: Some(TextFormat { bold: Some(true), ..Default::default() }),
            ..Default::default()
        };
        requests.push(repeat_cell(
            grid_range(sheet_id, 0, 1, 0, columns),
            bold,
            "userEnteredFormat.textFormat.bold",
        ));
        if rows > 1 {
            if self.mode == WriteMode::Replace {
                // Number formats left from the tab's old columns would show ids as dates.
                requests.push(repeat_cell(
                    grid_range(sheet_id, 1, rows, 0, columns),
                    CellFormat::default(),
                    "userEnteredFormat.numberFormat",
                ));
            }
            for (column, position) in dataset.columns.iter().zip(&plan.positions) {
                let Some((kind, pattern)) = number_pattern(column.column_type) else { continue };
                let format = CellFormat {
                    number_format: Some(NumberFormat {
                        type_: Some(kind.into()),
                        pattern: Some(pattern.into()),
                    }),
                    ..Default::default()
                };
                let position = to_i32(*position);
                requests.push(repeat_cell(
                    grid_range(sheet_id, 1, rows, position, position + 1),
                    format,
                    "userEnteredFormat.numberFormat",
                ));
            }
        }
        requests.push(Request {
            set_basic_filter: Some(SetBasicFilterRequest {
                filter: Some(BasicFilter {
                    range: Some(grid_range(sheet_id, 0, rows, 0, columns)),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        });
        for (index, position) in plan.positions.iter().enumerate() {
            if !plan.sized_columns.contains(position) {
                continue;
            }
            requests.push(Request {
                update_dimension_properties: Some(UpdateDimensionPropertiesRequest {
                    range: Some(DimensionRange {
                        sheet_id: Some(sheet_id),
                        dimension: Some("COLUMNS".into()),
                        start_index: Some(to_i32(*position)),
                        end_index: Some(to_i32(*position) + 1),
                    }),
                    properties: Some(DimensionProperties {
                        pixel_size: Some(pixel_width(dataset.widths[index])),
                        ..Default::default()
                    }),
                    fields: Some(FieldMask::new(&["pixelSize"])),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        self.batch_update(&format!("formatting tab `{}`", plan.title), requests).await?;
        Ok(())
    }

    async fn batch_update(
        &mut self,
        what: &str,
        requests: Vec<Request>,
    ) -> Result<google_sheets4::api::BatchUpdateSpreadsheetResponse, SheetsError> {
        let hub = self.client.hub();
        let id = self.client.spreadsheet_id.clone();
        let body = BatchUpdateSpreadsheetRequest { requests: Some(requests), ..Default::default() };
        self.client
            .call(what, true, || {
                let (hub, id, body) = (hub.clone(), id.clone(), body.clone());
                async move { hub.spreadsheets().batch_update(body, &id).add_scope(SCOPE).doit().await }
            })
            .await
    }
}

/// Consecutive rows bound for one range.
struct Run {
    first_row: usize,
    first_column: usize,
    rows: Vec<Vec<Value>>,
    bytes: usize,
}

impl Run {
    fn new(first_row: usize, first_column: usize) -> Self {
        Run { first_row, first_column, rows: Vec::new(), bytes: RANGE_OVERHEAD_BYTES }
    }

    fn next_row(&self) -> usize {
        self.first_row + self.rows.len()
    }

    fn push(&mut self, row: Vec<Value>, bytes: usize) {
        self.rows.push(row);
        self.bytes += bytes;
    }

    /// The run as one range per block of adjacent columns the dataset fills.
    ///
    /// A row cannot carry gaps: google-apis-common strips every JSON `null` from a request
    /// body, arrays included, which would shift the cells after a gap one column left. So a
    /// row laid out around columns the dataset does not have is sent as several ranges.
    fn into_ranges(self, title: &str, segments: &[(usize, usize)]) -> Vec<ValueRange> {
        if segments.len() <= 1 || self.first_column != 0 {
            return vec![self.into_range(title)];
        }
        segments
            .iter()
            .map(|&(start, end)| {
                let values: Vec<Vec<Value>> = self
                    .rows
                    .iter()
                    .map(|row| row.get(start..end.min(row.len())).unwrap_or_default().to_vec())
                    .collect();
                ValueRange {
                    range: Some(a1_range(title, self.first_row, values.len(), start, end - start)),
                    major_dimension: Some("ROWS".into()),
                    values: Some(values),
                }
            })
            .collect()
    }

    fn into_range(self, title: &str) -> ValueRange {
        let width = self.rows.iter().map(Vec::len).max().unwrap_or(1);
        ValueRange {
            range: Some(a1_range(title, self.first_row, self.rows.len(), self.first_column, width)),
            major_dimension: Some("ROWS".into()),
            values: Some(self.rows),
        }
    }
}

/// A spooled row laid out in the tab's columns; `null` leaves a cell the dataset does not have
/// as it is.
fn place(row: Vec<Value>, positions: &[usize]) -> Vec<Value> {
    let identity = positions.iter().enumerate().all(|(index, position)| index == *position);
    if identity {
        return row;
    }
    let width = positions.iter().max().map_or(0, |last| last + 1);
    let mut cells = vec![Value::Null; width];
    for (value, position) in row.into_iter().zip(positions) {
        cells[*position] = value;
    }
    cells
}

/// The blocks of adjacent tab columns, `[start, end)`, that a dataset's columns fill.
fn column_segments(positions: &[usize]) -> Vec<(usize, usize)> {
    let mut sorted = positions.to_vec();
    sorted.sort_unstable();
    let mut segments: Vec<(usize, usize)> = Vec::new();
    for position in sorted {
        match segments.last_mut() {
            Some((_, end)) if *end == position => *end += 1,
            _ => segments.push((position, position + 1)),
        }
    }
    segments
}

/// A hash of a row's values as compared for upserts.
fn fingerprint<'a>(values: impl Iterator<Item = Option<&'a Value>>) -> u64 {
    let mut hasher = DefaultHasher::new();
    for value in values {
        value.map(comparable).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

/// Reads a dataset's spool from the start, handing each row over.
fn for_each_spooled(
    dataset: &PreparedDataset,
    mut visit: impl FnMut(Vec<Value>),
) -> Result<(), SheetsError> {
    let spool_error =
        |source: std::io::Error| SheetsError::Spool { dataset: dataset.name.clone(), source };
    let mut file = dataset.spool.get_ref().try_clone().map_err(spool_error)?;
    file.rewind().map_err(spool_error)?;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(spool_error)?;
        let row: Vec<Value> =
            serde_json::from_str(&line).map_err(|error| spool_error(error.into()))?;
        visit(row);
    }
    Ok(())
}

/// Refuses the run when any tab, at its largest while being written, would take the
/// spreadsheet past its cell limit. Tabs written earlier count at their final size, later ones
/// at their current size.
fn check_cell_limit(
    plans: &[TabPlan],
    existing: &[ExistingTab],
    prepared: &[PreparedDataset],
) -> Result<(), SheetsError> {
    let cells = |rows: usize, columns: usize| rows as u64 * columns as u64;
    let mut total: u64 = existing.iter().map(|t| cells(t.rows, t.columns)).sum();
    for plan in plans {
        let current = cells(plan.current_rows, plan.current_columns);
        let peak = cells(plan.peak_rows, plan.peak_columns);
        let others = total - current;
        if others + peak > SPREADSHEET_CELL_LIMIT {
            return Err(SheetsError::CellLimit {
                dataset: prepared[plan.dataset].name.clone(),
                needed_rows: plan.peak_rows as u64,
                needed_columns: plan.peak_columns as u64,
                other_cells: others,
                limit: SPREADSHEET_CELL_LIMIT,
            });
        }
        total = others + cells(plan.final_rows, plan.final_columns);
    }
    Ok(())
}

/// Every tab's id, title and grid size.
async fn read_tabs(client: &mut SheetsClient) -> Result<Vec<ExistingTab>, SheetsError> {
    let hub = client.hub();
    let id = client.spreadsheet_id.clone();
    let spreadsheet = client
        .call("reading the spreadsheet", false, || {
            let (hub, id) = (hub.clone(), id.clone());
            async move {
                hub.spreadsheets().get(&id).include_grid_data(false).add_scope(SCOPE).doit().await
            }
        })
        .await?;
    Ok(spreadsheet
        .sheets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|sheet| {
            let properties = sheet.properties?;
            let grid = properties.grid_properties.unwrap_or_default();
            Some(ExistingTab {
                sheet_id: properties.sheet_id?,
                title: properties.title?,
                rows: usize::try_from(grid.row_count.unwrap_or(0)).unwrap_or(0),
                columns: usize::try_from(grid.column_count.unwrap_or(0)).unwrap_or(0),
            })
        })
        .collect())
}

fn truncation_warning(dataset: &PreparedDataset) -> Option<String> {
    (dataset.truncated > 0).then(|| {
        let columns: Vec<&str> = dataset.truncated_columns.iter().map(String::as_str).collect();
        format!(
            "{} values longer than Google Sheets' 50,000 characters per cell were cut, ending \
             with \"…[truncated by ashflow: N characters in total]\" (columns: {})",
            group_thousands(dataset.truncated),
            columns.join(", ")
        )
    })
}

fn to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn grid_range(
    sheet_id: i32,
    start_row: i32,
    end_row: i32,
    start_column: i32,
    end_column: i32,
) -> GridRange {
    GridRange {
        sheet_id: Some(sheet_id),
        start_row_index: Some(start_row),
        end_row_index: Some(end_row),
        start_column_index: Some(start_column),
        end_column_index: Some(end_column),
    }
}

fn repeat_cell(range: GridRange, format: CellFormat, fields: &str) -> Request {
    Request {
        repeat_cell: Some(RepeatCellRequest {
            range: Some(range),
            cell: Some(CellData { user_entered_format: Some(format), ..Default::default() }),
            fields: Some(FieldMask::new(&[fields])),
        }),
        ..Default::default()
    }
}

fn delete_dimension(sheet_id: i32, dimension: &str, start: usize, end: usize) -> Request {
    Request {
        delete_dimension: Some(DeleteDimensionRequest {
            range: Some(DimensionRange {
                sheet_id: Some(sheet_id),
                dimension: Some(dimension.into()),
                start_index: Some(to_i32(start)),
                end_index: Some(to_i32(end)),
            }),
        }),
        ..Default::default()
    }
}

#[async_trait]
impl ValidatedSink for ValidatedSheetsSink {
    async fn open(self: Box<Self>) -> Result<Box<dyn Sink>> {
        Ok(Box::new(SheetsSink::open(*self).await?))
    }
}

#[async_trait]
impl Sink for SheetsSink {
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
        Ok(self.publish().await?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rows_are_laid_out_in_the_tabs_columns_leaving_others_alone() {
        assert_eq!(place(vec![json!(1), json!("a")], &[0, 1]), [json!(1), json!("a")]);
        assert_eq!(place(vec![json!(1), json!("a")], &[2, 0]), [json!("a"), Value::Null, json!(1)]);
    }

    #[test]
    fn columns_split_into_adjacent_blocks() {
        assert_eq!(column_segments(&[0, 1, 2]), [(0, 3)]);
        assert_eq!(column_segments(&[1, 0, 3, 5, 4]), [(0, 2), (3, 6)]);
    }

    #[test]
    fn fingerprints_compare_numbers_by_value() {
        let stored = [json!(7.0), json!("x"), json!("")];
        let sent = [json!(7), json!("x"), json!("")];
        assert_eq!(fingerprint(stored.iter().map(Some)), fingerprint(sent.iter().map(Some)));
        assert_ne!(fingerprint(stored.iter().map(Some)), fingerprint([json!(8)].iter().map(Some)));
    }
}
