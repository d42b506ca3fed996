//! The fake's model of a spreadsheet: tabs with a grid size, typed cells, formats and widths,
//! and the A1 ranges that address them.
//!
//! The model keeps what the real service keeps and what a client can observe through the API:
//! a cell's value keeps its JSON type (text, number, boolean, or a formula entered as a user
//! would), a tab has a fixed grid size that writes may not pass, and formats cover only the
//! cells that exist when they are applied. Errors are [`ApiError`]s carrying the status and the
//! message the real service sends for the same mistake.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::ApiError;

/// The most characters one cell holds.
pub const MAX_CELL_CHARS: usize = 50_000;

/// One cell's value, with the type the service keeps for it.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// Text.
    String(String),
    /// A number (the service keeps every number as a double).
    Number(f64),
    /// True or false.
    Bool(bool),
    /// A formula, which only input parsed as if typed by a user (`USER_ENTERED`) creates.
    Formula(String),
}

impl CellValue {
    /// The value as the API returns it with `valueRenderOption=UNFORMATTED_VALUE`.
    pub fn to_json(&self) -> Value {
        match self {
            CellValue::String(text) | CellValue::Formula(text) => Value::String(text.clone()),
            CellValue::Number(number) => json!(number),
            CellValue::Bool(flag) => Value::Bool(*flag),
        }
    }

    /// The value as the API shows it with the default `FORMATTED_VALUE` (no number formats
    /// are rendered by the fake: numbers print in their shortest form).
    fn to_formatted_json(&self) -> Value {
        match self {
            CellValue::String(text) | CellValue::Formula(text) => Value::String(text.clone()),
            CellValue::Number(number) => Value::String(number.to_string()),
            CellValue::Bool(true) => Value::String("TRUE".into()),
            CellValue::Bool(false) => Value::String("FALSE".into()),
        }
    }
}

/// How values sent by a client are read, as the API's `valueInputOption` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOption {
    /// Stored exactly as sent: a string stays a string whatever it looks like.
    Raw,
    /// Parsed as if typed into the UI: numbers, booleans and formulas are recognised.
    UserEntered,
}

impl InputOption {
    /// Reads the query parameter; the API refuses a write without one.
    pub fn parse(text: Option<&str>) -> Result<Self, ApiError> {
        match text {
            Some("RAW") => Ok(InputOption::Raw),
            Some("USER_ENTERED") => Ok(InputOption::UserEntered),
            Some(other) => Err(ApiError::invalid(format!(
                "Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4.\
                 ValueInputOption), \"{other}\""
            ))),
            None => Err(ApiError::invalid("'valueInputOption' is required but not specified")),
        }
    }
}

/// Turns one JSON value of a request into `Some(cell)`, where a `None` cell clears it.
///
/// `Ok(None)` marks a JSON `null`, which the API treats as "leave this cell as it is".
fn input_cell(value: &Value, option: InputOption) -> Result<Option<Option<CellValue>>, ApiError> {
    let cell = match value {
        Value::Null => return Ok(None),
        Value::Bool(flag) => Some(CellValue::Bool(*flag)),
        Value::Number(number) => Some(CellValue::Number(number.as_f64().unwrap_or(0.0))),
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(match option {
            InputOption::Raw => CellValue::String(text.clone()),
            InputOption::UserEntered => user_entered(text),
        }),
        Value::Array(_) | Value::Object(_) => {
            return Err(ApiError::invalid(
                "Invalid values[0][0]: list_value or struct_value is not a supported cell value",
            ));
        }
    };
    if let Some(CellValue::String(text) | CellValue::Formula(text)) = &cell
        && text.chars().count() > MAX_CELL_CHARS
    {
        return Err(ApiError::invalid(format!(
            "Your input contains more than the maximum of {MAX_CELL_CHARS} characters in a \
             single cell."
        )));
    }
    Ok(Some(cell))
}

/// What the UI makes of typed text: formulas, numbers (with a leading `+` or not), booleans;
/// a leading apostrophe forces text.
fn user_entered(text: &str) -> CellValue {
    if let Some(forced) = text.strip_prefix('\'') {
        return CellValue::String(forced.to_string());
    }
    if text.starts_with('=') {
        return CellValue::Formula(text.to_string());
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(number) = compact.trim_start_matches('+').parse::<f64>()
        && number.is_finite()
    {
        return CellValue::Number(number);
    }
    match text.to_ascii_uppercase().as_str() {
        "TRUE" => CellValue::Bool(true),
        "FALSE" => CellValue::Bool(false),
        _ => CellValue::String(text.to_string()),
    }
}

/// A rectangle of a tab, zero-based with exclusive ends, as `GridRange` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// First row.
    pub start_row: usize,
    /// One past the last row.
    pub end_row: usize,
    /// First column.
    pub start_column: usize,
    /// One past the last column.
    pub end_column: usize,
}

/// A format applied to a rectangle: the `userEnteredFormat` fields it set.
#[derive(Debug, Clone)]
struct AppliedFormat {
    rect: Rect,
    format: Map<String, Value>,
}

/// One tab of a spreadsheet.
#[derive(Debug, Clone)]
pub struct Tab {
    /// The id the API uses for the tab; stable while the tab exists.
    pub sheet_id: i32,
    /// The tab's title.
    pub title: String,
    /// Rows in the grid.
    pub row_count: usize,
    /// Columns in the grid.
    pub column_count: usize,
    /// Rows frozen at the top.
    pub frozen_rows: usize,
    /// The range of the tab's basic filter, when it has one.
    pub basic_filter: Option<Rect>,
    /// Column widths in pixels set through the API, by column index.
    pub column_widths: BTreeMap<usize, i64>,
    rows: Vec<Vec<Option<CellValue>>>,
    formats: Vec<AppliedFormat>,
}

impl Tab {
    /// An empty tab of the given grid size.
    pub fn new(sheet_id: i32, title: &str, row_count: usize, column_count: usize) -> Self {
        Tab {
            sheet_id,
            title: title.to_string(),
            row_count,
            column_count,
            frozen_rows: 0,
            basic_filter: None,
            column_widths: BTreeMap::new(),
            rows: Vec::new(),
            formats: Vec::new(),
        }
    }

    /// Cells in the grid, which is what the spreadsheet's cell limit counts.
    pub fn cells(&self) -> u64 {
        self.row_count as u64 * self.column_count as u64
    }

    /// The cell at a zero-based position.
    pub fn cell(&self, row: usize, column: usize) -> Option<&CellValue> {
        self.rows.get(row)?.get(column)?.as_ref()
    }

    /// The values from A1 to the last non-empty row and column, as the API returns a whole
    /// tab: rows trimmed of trailing empty cells, `None` for empty cells inside a row.
    pub fn values(&self) -> Vec<Vec<Option<CellValue>>> {
        let mut rows: Vec<Vec<Option<CellValue>>> = self
            .rows
            .iter()
            .map(|row| {
                let used = row.iter().rposition(Option::is_some).map_or(0, |last| last + 1);
                row[..used].to_vec()
            })
            .collect();
        while rows.last().is_some_and(Vec::is_empty) {
            rows.pop();
        }
        rows
    }

    /// The `userEnteredFormat` of a cell: every format applied over it, later ones winning.
    pub fn format_at(&self, row: usize, column: usize) -> Map<String, Value> {
        let mut merged = Map::new();
        for applied in &self.formats {
            let rect = applied.rect;
            let inside = (rect.start_row..rect.end_row).contains(&row)
                && (rect.start_column..rect.end_column).contains(&column);
            if inside {
                for (key, value) in &applied.format {
                    if value.is_null() {
                        merged.remove(key);
                    } else {
                        merged.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        merged
    }

    /// Reads a rectangle (clamped to the grid) as the API returns it, trailing empties trimmed.
    pub(crate) fn read(&self, rect: Rect, unformatted: bool) -> Vec<Value> {
        let mut out = Vec::new();
        for row in rect.start_row..rect.end_row.min(self.row_count) {
            let mut line = Vec::new();
            for column in rect.start_column..rect.end_column.min(self.column_count) {
                line.push(match self.cell(row, column) {
                    Some(cell) if unformatted => cell.to_json(),
                    Some(cell) => cell.to_formatted_json(),
                    None => Value::String(String::new()),
                });
            }
            while line.last().is_some_and(|v| v.as_str() == Some("")) {
                line.pop();
            }
            out.push(Value::Array(line));
        }
        while out.last().is_some_and(|row| row.as_array().is_some_and(Vec::is_empty)) {
            out.pop();
        }
        out
    }

    /// Writes `values` starting at the top-left of `rect`, within `rect` and the grid.
    ///
    /// Every value is checked before any is stored, so a refused write changes nothing.
    pub(crate) fn write(
        &mut self,
        range_text: &str,
        rect: Rect,
        values: &[Value],
        option: InputOption,
    ) -> Result<(usize, usize, usize), ApiError> {
        let mut parsed: Vec<Vec<Option<Option<CellValue>>>> = Vec::with_capacity(values.len());
        for row in values {
            let Some(row) = row.as_array() else {
                return Err(ApiError::invalid("Invalid value at 'data.values' (ListValue)"));
            };
            parsed.push(row.iter().map(|v| input_cell(v, option)).collect::<Result<_, _>>()?);
        }
        let height = parsed.len();
        let width = parsed.iter().map(Vec::len).max().unwrap_or(0);
        if rect.start_row + height > rect.end_row {
            return Err(ApiError::invalid(format!(
                "Requested writing within range [{range_text}], but tried writing to row [{}]",
                rect.start_row + height
            )));
        }
        if rect.start_column + width > rect.end_column {
            return Err(ApiError::invalid(format!(
                "Requested writing within range [{range_text}], but tried writing to column [{}]",
                column_letters(rect.start_column + width - 1)
            )));
        }
        if rect.start_row + height > self.row_count || rect.start_column + width > self.column_count
        {
            return Err(ApiError::invalid(format!(
                "Range ({range_text}) exceeds grid limits. Max rows: {}, max columns: {}",
                self.row_count, self.column_count
            )));
        }

        let mut updated_cells = 0;
        let mut updated_columns = 0;
        for (offset, row) in parsed.into_iter().enumerate() {
            let target = rect.start_row + offset;
            if self.rows.len() <= target {
                self.rows.resize_with(target + 1, Vec::new);
            }
            let line = &mut self.rows[target];
            for (column_offset, cell) in row.into_iter().enumerate() {
                let Some(cell) = cell else { continue };
                let column = rect.start_column + column_offset;
                if line.len() <= column {
                    line.resize(column + 1, None);
                }
                line[column] = cell;
                updated_cells += 1;
                updated_columns = updated_columns.max(column_offset + 1);
            }
        }
        Ok((height, updated_columns, updated_cells))
    }

    /// Empties every cell of a rectangle; formats stay, as with the API's clear.
    pub(crate) fn clear(&mut self, rect: Rect) {
        for row in self.rows.iter_mut().take(rect.end_row).skip(rect.start_row) {
            for cell in row.iter_mut().take(rect.end_column).skip(rect.start_column) {
                *cell = None;
            }
        }
    }

    /// The first row below the last row holding any value, where an append lands.
    pub(crate) fn next_free_row(&self) -> usize {
        self.values().len()
    }

    /// Applies a format to the part of `rect` that exists now.
    pub(crate) fn apply_format(&mut self, rect: Rect, format: Map<String, Value>) {
        let rect = self.clamp(rect);
        if rect.start_row < rect.end_row && rect.start_column < rect.end_column {
            self.formats.push(AppliedFormat { rect, format });
        }
    }

    /// Cuts a rectangle to the grid.
    pub(crate) fn clamp(&self, rect: Rect) -> Rect {
        Rect {
            start_row: rect.start_row.min(self.row_count),
            end_row: rect.end_row.min(self.row_count),
            start_column: rect.start_column.min(self.column_count),
            end_column: rect.end_column.min(self.column_count),
        }
    }

    /// Deletes rows `[start, end)`: later rows move up, formats and the filter shrink.
    pub(crate) fn delete_rows(&mut self, start: usize, end: usize) {
        let end = end.min(self.row_count);
        if start >= end {
            return;
        }
        if start < self.rows.len() {
            self.rows.drain(start..end.min(self.rows.len()));
        }
        self.row_count -= end - start;
        for applied in &mut self.formats {
            (applied.rect.start_row, applied.rect.end_row) =
                shrink(applied.rect.start_row, applied.rect.end_row, start, end);
        }
        self.formats.retain(|f| f.rect.start_row < f.rect.end_row);
        if let Some(filter) = &mut self.basic_filter {
            (filter.start_row, filter.end_row) =
                shrink(filter.start_row, filter.end_row, start, end);
        }
        self.frozen_rows = self.frozen_rows.min(self.row_count);
    }

    /// Deletes columns `[start, end)`: later columns move left.
    pub(crate) fn delete_columns(&mut self, start: usize, end: usize) {
        let end = end.min(self.column_count);
        if start >= end {
            return;
        }
        for row in &mut self.rows {
            if start < row.len() {
                row.drain(start..end.min(row.len()));
            }
        }
        self.column_count -= end - start;
        for applied in &mut self.formats {
            (applied.rect.start_column, applied.rect.end_column) =
                shrink(applied.rect.start_column, applied.rect.end_column, start, end);
        }
        self.formats.retain(|f| f.rect.start_column < f.rect.end_column);
        if let Some(filter) = &mut self.basic_filter {
            (filter.start_column, filter.end_column) =
                shrink(filter.start_column, filter.end_column, start, end);
        }
        let widths = std::mem::take(&mut self.column_widths);
        for (column, width) in widths {
            if column < start {
                self.column_widths.insert(column, width);
            } else if column >= end {
                self.column_widths.insert(column - (end - start), width);
            }
        }
    }

    /// Sets the grid size; a smaller grid drops the cells outside it.
    pub(crate) fn resize(&mut self, rows: usize, columns: usize) {
        if rows < self.row_count {
            self.delete_rows(rows, self.row_count);
        }
        if columns < self.column_count {
            self.delete_columns(columns, self.column_count);
        }
        self.row_count = rows;
        self.column_count = columns;
    }

    /// The tab's properties as `SheetProperties` JSON.
    pub(crate) fn properties(&self, index: usize) -> Value {
        let mut grid = json!({"rowCount": self.row_count, "columnCount": self.column_count});
        if self.frozen_rows > 0 {
            grid["frozenRowCount"] = json!(self.frozen_rows);
        }
        json!({
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": grid,
        })
    }
}

/// An interval `[s, e)` after deleting `[ds, de)` from the axis it lies on.
fn shrink(s: usize, e: usize, ds: usize, de: usize) -> (usize, usize) {
    let removed_before = |x: usize| x.min(de).saturating_sub(ds);
    (s - removed_before(s), e - removed_before(e))
}

/// A1 notation's column letters for a zero-based column: 0 is `A`, 26 is `AA`.
pub fn column_letters(column: usize) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        let rest = (n - 1) % 26;
        letters.push(b'A' + rest as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// A parsed A1 range: the tab's title and which part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct A1Range {
    pub(crate) sheet: String,
    /// `None` parts are open: the whole tab, whole columns or whole rows.
    pub(crate) start_row: Option<usize>,
    pub(crate) start_column: Option<usize>,
    pub(crate) end_row: Option<usize>,
    pub(crate) end_column: Option<usize>,
}

impl A1Range {
    /// Parses `'Open Jobs'!A1:C3`, `Sheet1!A:C`, `Sheet1!2:5`, `Sheet1!B2` or `Sheet1`.
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::invalid(format!("Unable to parse range: {text}"));
        let (sheet, cells) = split_sheet(text).ok_or_else(bad)?;
        let Some(cells) = cells else {
            return Ok(A1Range {
                sheet,
                start_row: None,
                start_column: None,
                end_row: None,
                end_column: None,
            });
        };
        let (first, last) = cells.split_once(':').unwrap_or((cells, cells));
        let (start_column, start_row) = parse_cell(first).ok_or_else(bad)?;
        let (end_column, end_row) = parse_cell(last).ok_or_else(bad)?;
        if start_column.is_none() && start_row.is_none() {
            return Err(bad());
        }
        Ok(A1Range {
            sheet,
            start_row,
            start_column,
            end_row: end_row.map(|row| row + 1),
            end_column: end_column.map(|column| column + 1),
        })
    }

    /// The rectangle within a tab of the given grid size; open ends reach the grid's edge.
    pub(crate) fn rect(&self, tab: &Tab) -> Rect {
        Rect {
            start_row: self.start_row.unwrap_or(0),
            end_row: self.end_row.unwrap_or(tab.row_count),
            start_column: self.start_column.unwrap_or(0),
            end_column: self.end_column.unwrap_or(tab.column_count),
        }
    }
}

/// Splits `'It''s'!A1` into the unquoted title and the cells part, if any.
fn split_sheet(text: &str) -> Option<(String, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('\'') {
        let mut title = String::new();
        let mut chars = rest.char_indices();
        while let Some((index, c)) = chars.next() {
            if c != '\'' {
                title.push(c);
                continue;
            }
            let after = &rest[index + 1..];
            if after.starts_with('\'') {
                title.push('\'');
                chars.next();
                continue;
            }
            return match after.strip_prefix('!') {
                Some(cells) => Some((title, Some(cells))),
                None if after.is_empty() => Some((title, None)),
                None => None,
            };
        }
        return None;
    }
    match text.rsplit_once('!') {
        Some((title, cells)) => Some((title.to_string(), Some(cells))),
        None => Some((text.to_string(), None)),
    }
}

/// Parses `B12` into (column 1, row 11); either part may be missing (`B`, `12`).
fn parse_cell(text: &str) -> Option<(Option<usize>, Option<usize>)> {
    let letters: String = text.chars().take_while(char::is_ascii_alphabetic).collect();
    let digits = &text[letters.len()..];
    if letters.is_empty() && digits.is_empty() {
        return None;
    }
    let column = if letters.is_empty() {
        None
    } else {
        let mut n = 0usize;
        for c in letters.to_ascii_uppercase().bytes() {
            n = n.checked_mul(26)?.checked_add(usize::from(c - b'A') + 1)?;
        }
        Some(n - 1)
    };
    let row = if digits.is_empty() {
        None
    } else {
        let n: usize = digits.parse().ok()?;
        if n == 0 {
            return None;
        }
        Some(n - 1)
    };
    Some((column, row))
}

/// Quotes a title for A1 notation when the API would: anything but letters, digits and `_`.
pub fn quote_title(title: &str) -> String {
    if !title.is_empty() && title.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        title.to_string()
    } else {
        format!("'{}'", title.replace('\'', "''"))
    }
}

/// A1 text of a rectangle, as the API echoes ranges back (`'Open Jobs'!A1:C3`).
pub(crate) fn a1(title: &str, rect: Rect) -> String {
    format!(
        "{}!{}{}:{}{}",
        quote_title(title),
        column_letters(rect.start_column),
        rect.start_row + 1,
        column_letters(rect.end_column.max(rect.start_column + 1) - 1),
        rect.end_row.max(rect.start_row + 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_ranges_parse_with_quoted_titles_and_open_ends() {
        let range = A1Range::parse("'It''s ok'!B2:D10").unwrap();
        assert_eq!(range.sheet, "It's ok");
        assert_eq!((range.start_column, range.start_row), (Some(1), Some(1)));
        assert_eq!((range.end_column, range.end_row), (Some(4), Some(10)));

        let columns = A1Range::parse("Sheet1!A:C").unwrap();
        assert_eq!((columns.start_row, columns.end_row), (None, None));
        assert_eq!(columns.end_column, Some(3));

        let whole = A1Range::parse("Candidates").unwrap();
        assert_eq!(whole.sheet, "Candidates");
        assert_eq!(whole.start_column, None);

        assert!(A1Range::parse("'unterminated!A1").is_err());
        assert!(A1Range::parse("Sheet1!A0").is_err());
    }

    #[test]
    fn column_letters_roll_over_like_a1_notation() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn raw_input_keeps_strings_and_user_entered_input_parses_them() {
        let raw = input_cell(&json!("=SUM(A1)"), InputOption::Raw).unwrap();
        assert_eq!(raw, Some(Some(CellValue::String("=SUM(A1)".into()))));
        let typed = input_cell(&json!("=SUM(A1)"), InputOption::UserEntered).unwrap();
        assert_eq!(typed, Some(Some(CellValue::Formula("=SUM(A1)".into()))));
        let phone = input_cell(&json!("+1 555"), InputOption::UserEntered).unwrap();
        assert_eq!(phone, Some(Some(CellValue::Number(1555.0))));
        assert_eq!(input_cell(&json!(null), InputOption::Raw).unwrap(), None);
        assert_eq!(input_cell(&json!(""), InputOption::Raw).unwrap(), Some(None));
    }

    #[test]
    fn deleting_rows_moves_cells_and_shrinks_formats() {
        let mut tab = Tab::new(1, "T", 5, 2);
        let values: Vec<Value> = (0..5).map(|i| json!([i, "x"])).collect();
        let rect = Rect { start_row: 0, end_row: 5, start_column: 0, end_column: 2 };
        tab.write("T!A1:B5", rect, &values, InputOption::Raw).unwrap();
        tab.apply_format(rect, Map::from_iter([("numberFormat".into(), json!({}))]));

        tab.delete_rows(1, 3);

        assert_eq!(tab.row_count, 3);
        assert_eq!(tab.cell(1, 0), Some(&CellValue::Number(3.0)));
        assert!(tab.format_at(2, 0).contains_key("numberFormat"));
        assert!(tab.format_at(3, 0).is_empty());
    }
}
