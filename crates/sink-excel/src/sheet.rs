//! Writing one worksheet: header, table or filter, frozen pane, widths, then the rows.
//!
//! Every sheet, dataset or dictionary, is written the same way and in one go, once its row count
//! is known, so the table can be declared before the rows stream out through the library's
//! constant-memory writer.

use rust_xlsxwriter::{
    ColNum, Format, RowNum, Table, TableColumn, TableStyle, Workbook, Worksheet, XlsxError,
};

use crate::error::ExcelError;
use crate::values::{ColumnWidths, SheetValue};

/// The number format of timestamps, which Excel shows in UTC because that is what is stored.
const TIMESTAMP_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";

/// The number format of calendar dates.
const DATE_FORMAT: &str = "yyyy-mm-dd";

/// The table style: Excel's own default, banded blue, familiar to every user.
const TABLE_STYLE: TableStyle = TableStyle::Medium2;

/// The cell formats every sheet shares.
#[derive(Debug, Clone)]
pub(crate) struct Formats {
    header: Format,
    timestamp: Format,
    date: Format,
}

impl Formats {
    /// Bold headers and the date and time number formats.
    pub(crate) fn new() -> Self {
        Formats {
            header: Format::new().set_bold(),
            timestamp: Format::new().set_num_format(TIMESTAMP_FORMAT),
            date: Format::new().set_num_format(DATE_FORMAT),
        }
    }
}

/// How a sheet's header row becomes filterable.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Layout {
    /// A real Excel table with this name.
    Table(String),
    /// A plain autofilter on the header, used when a table would cost too much memory.
    Filter,
}

/// Everything about a sheet except its rows.
#[derive(Debug)]
pub(crate) struct SheetPlan<'a> {
    /// The sheet's legal, unique name.
    pub(crate) name: &'a str,
    /// The header of each column, legal for a table.
    pub(crate) headers: &'a [String],
    /// The widest content of each column.
    pub(crate) widths: &'a ColumnWidths,
    /// How many data rows will follow.
    pub(crate) rows: u32,
    /// Table or filter.
    pub(crate) layout: Layout,
}

/// Adds a constant-memory worksheet and writes it: header, layout, then `plan.rows` rows, each
/// filled into the buffer by `next_row`.
pub(crate) fn write_sheet(
    workbook: &mut Workbook,
    formats: &Formats,
    plan: &SheetPlan<'_>,
    mut next_row: impl FnMut(&mut Vec<SheetValue>) -> Result<bool, ExcelError>,
) -> Result<(), ExcelError> {
    let context = || format!("sheet `{}`", plan.name);
    let worksheet =
        workbook.add_worksheet_with_constant_memory().map_err(ExcelError::workbook(context()))?;
    worksheet.set_name(plan.name).map_err(ExcelError::workbook(context()))?;

    // A dataset without columns has nothing to show, and a table needs at least one column.
    let Some(last_col) = plan.headers.len().checked_sub(1) else { return Ok(()) };
    let last_col = ColNum::try_from(last_col)
        .map_err(|_| XlsxError::RowColumnLimitError)
        .map_err(ExcelError::workbook(context()))?;

    prepare_layout(worksheet, formats, plan, last_col).map_err(ExcelError::workbook(context()))?;

    let mut row = Vec::with_capacity(plan.headers.len());
    let mut row_number: RowNum = 1;
    while next_row(&mut row)? {
        write_row(worksheet, formats, row_number, &mut row)
            .map_err(ExcelError::workbook(format!("{}, row {row_number}", context())))?;
        row_number += 1;
    }
    Ok(())
}

/// Widths, frozen header and the table (or filter), all set before the first data row so that
/// the constant-memory writer never has to go back.
fn prepare_layout(
    worksheet: &mut Worksheet,
    formats: &Formats,
    plan: &SheetPlan<'_>,
    last_col: ColNum,
) -> Result<(), XlsxError> {
    for (col, width) in (0..=last_col).zip(plan.widths.excel_widths()) {
        worksheet.set_column_width(col, width)?;
    }
    worksheet.set_freeze_panes(1, 0)?;

    // A table needs a data row, so an empty dataset gets one blank row inside its table.
    let last_row = plan.rows.max(1);
    match &plan.layout {
        Layout::Table(name) => {
            let columns: Vec<TableColumn> = plan
                .headers
                .iter()
                .map(|header| {
                    TableColumn::new().set_header(header).set_header_format(&formats.header)
                })
                .collect();
            let table = Table::new().set_name(name).set_style(TABLE_STYLE).set_columns(&columns);
            worksheet.add_table(0, 0, last_row, last_col, &table)?;
        }
        Layout::Filter => {
            for (col, header) in (0..=last_col).zip(plan.headers) {
                worksheet.write_string_with_format(0, col, header, &formats.header)?;
            }
            worksheet.autofilter(0, 0, last_row, last_col)?;
        }
    }
    Ok(())
}

/// Writes one row, taking the text out of `row` rather than copying it.
fn write_row(
    worksheet: &mut Worksheet,
    formats: &Formats,
    row_number: RowNum,
    row: &mut [SheetValue],
) -> Result<(), XlsxError> {
    for (col, value) in (0..).zip(row.iter_mut()) {
        match std::mem::replace(value, SheetValue::Empty) {
            SheetValue::Empty => {}
            // Strings go in as strings, never through `write`, which would turn `=1+1` into a
            // formula.
            SheetValue::Text(text) => {
                worksheet.write_string(row_number, col, text)?;
            }
            SheetValue::Number(number) => {
                worksheet.write_number(row_number, col, number)?;
            }
            SheetValue::Boolean(boolean) => {
                worksheet.write_boolean(row_number, col, boolean)?;
            }
            SheetValue::DateTime(instant) => {
                worksheet.write_datetime_with_format(
                    row_number,
                    col,
                    instant,
                    &formats.timestamp,
                )?;
            }
            SheetValue::Date(date) => {
                worksheet.write_datetime_with_format(row_number, col, date, &formats.date)?;
            }
        }
    }
    Ok(())
}
