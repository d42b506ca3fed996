//! One fake spreadsheet and the API operations on it: metadata, the `batchUpdate` requests a
//! sink sends, and the values endpoints.
//!
//! `batchUpdate` is atomic as in the real service: the requests are applied to a copy, and the
//! copy replaces the spreadsheet only when every request succeeded and the result fits the
//! cell limit. Values writes check every range before changing any.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::ApiError;
use crate::grid::{A1Range, InputOption, Rect, Tab, a1};

/// A spreadsheet: its tabs and who may open it.
#[derive(Debug, Clone)]
pub struct Spreadsheet {
    /// The spreadsheet's id, as it appears in its URL.
    pub id: String,
    /// The spreadsheet's title.
    pub title: String,
    /// The tabs, in display order.
    pub tabs: Vec<Tab>,
    /// The service-account e-mails the spreadsheet is shared with.
    pub shared_with: BTreeSet<String>,
    next_sheet_id: i32,
}

impl Spreadsheet {
    /// A spreadsheet with one empty `Sheet1` of the size new spreadsheets get (1000 x 26).
    pub fn new(id: &str) -> Self {
        Spreadsheet {
            id: id.to_string(),
            title: format!("Spreadsheet {id}"),
            tabs: vec![Tab::new(0, "Sheet1", 1000, 26)],
            shared_with: BTreeSet::new(),
            next_sheet_id: 1_000_001,
        }
    }

    /// Cells in every tab's grid, which is what the cell limit counts.
    pub fn cells(&self) -> u64 {
        self.tabs.iter().map(Tab::cells).sum()
    }

    /// The tab with this title (titles compare without regard to case, as in the service).
    pub fn tab(&self, title: &str) -> Option<&Tab> {
        self.tabs.iter().find(|tab| tab.title.to_lowercase() == title.to_lowercase())
    }

    fn tab_mut(&mut self, title: &str) -> Result<&mut Tab, ApiError> {
        self.tabs
            .iter_mut()
            .find(|tab| tab.title.to_lowercase() == title.to_lowercase())
            .ok_or_else(|| ApiError::invalid(format!("Unable to parse range: {title}")))
    }

    fn tab_by_id(&mut self, sheet_id: i64) -> Result<&mut Tab, ApiError> {
        self.tabs
            .iter_mut()
            .find(|tab| i64::from(tab.sheet_id) == sheet_id)
            .ok_or_else(|| ApiError::invalid(format!("No grid with id: {sheet_id}")))
    }

    /// Adds a tab, refusing a title already taken.
    pub fn add_tab(&mut self, title: &str, rows: usize, columns: usize) -> Result<i32, ApiError> {
        if self.tab(title).is_some() {
            return Err(ApiError::invalid(format!(
                "Invalid requests[0].addSheet: A sheet with the name \"{title}\" already \
                 exists. Please enter another name."
            )));
        }
        if title.is_empty() || title.chars().count() > 100 {
            return Err(ApiError::invalid("Invalid requests[0].addSheet: invalid sheet name"));
        }
        let sheet_id = self.next_sheet_id;
        self.next_sheet_id += 7919;
        self.tabs.push(Tab::new(sheet_id, title, rows, columns));
        Ok(sheet_id)
    }

    /// The `Spreadsheet` resource, without grid data.
    pub(crate) fn resource(&self, base_url: &str) -> Value {
        json!({
            "spreadsheetId": self.id,
            "properties": {"title": self.title, "locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": self.tabs.iter().enumerate()
                .map(|(index, tab)| json!({"properties": tab.properties(index)}))
                .collect::<Vec<_>>(),
            "spreadsheetUrl": format!("{base_url}/spreadsheets/d/{}/edit", self.id),
        })
    }

    /// Applies a `spreadsheets.batchUpdate` body atomically, checking the cell limit at the end.
    pub(crate) fn batch_update(
        &mut self,
        body: &Value,
        cell_limit: u64,
    ) -> Result<Value, ApiError> {
        let requests = body
            .get("requests")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::invalid("Must specify at least one request."))?;
        if requests.is_empty() {
            return Err(ApiError::invalid("Must specify at least one request."));
        }
        let mut draft = self.clone();
        let mut replies = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let reply = draft
                .apply(request)
                .map_err(|error| error.prefixed(&format!("Invalid requests[{index}]")))?;
            replies.push(reply);
        }
        if draft.cells() > cell_limit {
            return Err(ApiError::invalid(format!(
                "This action would increase the number of cells in the workbook above the \
                 limit of {cell_limit} cells."
            )));
        }
        *self = draft;
        Ok(json!({"spreadsheetId": self.id, "replies": replies}))
    }

    /// Applies one request of a batch, returning its reply.
    fn apply(&mut self, request: &Value) -> Result<Value, ApiError> {
        let object = request.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
            ApiError::invalid("exactly one kind of request must be set per request")
        })?;
        let (kind, body) = object.iter().next().ok_or_else(|| ApiError::invalid("empty"))?;
        match kind.as_str() {
            "addSheet" => {
                let properties = &body["properties"];
                let title = properties["title"].as_str().unwrap_or("").to_string();
                let title =
                    if title.is_empty() { format!("Sheet{}", self.tabs.len() + 1) } else { title };
                let grid = &properties["gridProperties"];
                let rows = grid["rowCount"].as_u64().unwrap_or(1000) as usize;
                let columns = grid["columnCount"].as_u64().unwrap_or(26) as usize;
                let id = self.add_tab(&title, rows, columns)?;
                let tab = self.tab_by_id(i64::from(id))?;
                tab.frozen_rows = grid["frozenRowCount"].as_u64().unwrap_or(0) as usize;
                let index = self.tabs.len() - 1;
                Ok(json!({"addSheet": {"properties": self.tabs[index].properties(index)}}))
            }
            "deleteSheet" => {
                let id = body["sheetId"].as_i64().unwrap_or(-1);
                self.tab_by_id(id)?;
                if self.tabs.len() == 1 {
                    return Err(ApiError::invalid(
                        "You can't remove all the sheets in a document.",
                    ));
                }
                self.tabs.retain(|tab| i64::from(tab.sheet_id) != id);
                Ok(json!({}))
            }
            "updateSheetProperties" => {
                let fields = field_list(body)?;
                let properties = &body["properties"];
                let id = properties["sheetId"].as_i64().unwrap_or(0);
                let title = properties["title"].as_str().map(str::to_string);
                let grid = properties["gridProperties"].clone();
                if fields.iter().any(|f| f == "title") {
                    let new_title = title.clone().unwrap_or_default();
                    let taken = self.tabs.iter().any(|t| {
                        i64::from(t.sheet_id) != id
                            && t.title.to_lowercase() == new_title.to_lowercase()
                    });
                    if taken || new_title.is_empty() {
                        return Err(ApiError::invalid(format!(
                            "A sheet with the name \"{new_title}\" already exists."
                        )));
                    }
                }
                let tab = self.tab_by_id(id)?;
                for field in &fields {
                    let number = |key: &str| grid[key].as_u64().unwrap_or(0) as usize;
                    match field.as_str() {
                        "title" => tab.title = title.clone().unwrap_or_default(),
                        "gridProperties.rowCount" => {
                            tab.resize(number("rowCount").max(1), tab.column_count)
                        }
                        "gridProperties.columnCount" => {
                            tab.resize(tab.row_count, number("columnCount").max(1))
                        }
                        "gridProperties.frozenRowCount" => {
                            let frozen = number("frozenRowCount");
                            if frozen >= tab.row_count {
                                return Err(ApiError::invalid(
                                    "You can't freeze all visible rows on the sheet.",
                                ));
                            }
                            tab.frozen_rows = frozen;
                        }
                        other => {
                            return Err(ApiError::invalid(format!(
                                "updateSheetProperties: the fake does not support field {other}"
                            )));
                        }
                    }
                }
                Ok(json!({}))
            }
            "appendDimension" => {
                let tab = self.tab_by_id(body["sheetId"].as_i64().unwrap_or(-1))?;
                let length = body["length"].as_u64().unwrap_or(0) as usize;
                match body["dimension"].as_str() {
                    Some("ROWS") => tab.row_count += length,
                    Some("COLUMNS") => tab.column_count += length,
                    _ => return Err(ApiError::invalid("dimension must be ROWS or COLUMNS")),
                }
                Ok(json!({}))
            }
            "deleteDimension" => {
                let range = &body["range"];
                let tab = self.tab_by_id(range["sheetId"].as_i64().unwrap_or(-1))?;
                let start = range["startIndex"].as_u64().unwrap_or(0) as usize;
                match range["dimension"].as_str() {
                    Some("ROWS") => {
                        let end = range["endIndex"].as_u64().map_or(tab.row_count, |e| e as usize);
                        if start == 0 && end >= tab.row_count {
                            return Err(ApiError::invalid(
                                "You can't delete all the rows on the sheet.",
                            ));
                        }
                        tab.delete_rows(start, end);
                    }
                    Some("COLUMNS") => {
                        let end =
                            range["endIndex"].as_u64().map_or(tab.column_count, |e| e as usize);
                        if start == 0 && end >= tab.column_count {
                            return Err(ApiError::invalid(
                                "You can't delete all the columns on the sheet.",
                            ));
                        }
                        tab.delete_columns(start, end);
                    }
                    _ => return Err(ApiError::invalid("dimension must be ROWS or COLUMNS")),
                }
                Ok(json!({}))
            }
            "repeatCell" => {
                let fields = field_list(body)?;
                let (tab, rect) = self.grid_range(&body["range"])?;
                let format =
                    body["cell"]["userEnteredFormat"].as_object().cloned().unwrap_or_default();
                let mut applied = Map::new();
                for field in fields {
                    let Some(inner) = field.strip_prefix("userEnteredFormat") else {
                        return Err(ApiError::invalid(format!(
                            "repeatCell: the fake supports userEnteredFormat fields only, not \
                             {field}"
                        )));
                    };
                    let inner = inner.trim_start_matches('.');
                    if inner.is_empty() {
                        applied.extend(format.clone());
                    } else {
                        // A field named in the mask but absent from the cell is reset, which is
                        // how a client removes a format.
                        let top = inner.split('.').next().unwrap_or("").to_string();
                        let value = format.get(&top).cloned().unwrap_or(Value::Null);
                        applied.insert(top, value);
                    }
                }
                tab.apply_format(rect, applied);
                Ok(json!({}))
            }
            "setBasicFilter" => {
                let (tab, rect) = self.grid_range(&body["filter"]["range"])?;
                let clamped = tab.clamp(rect);
                tab.basic_filter = Some(clamped);
                Ok(json!({}))
            }
            "clearBasicFilter" => {
                let tab = self.tab_by_id(body["sheetId"].as_i64().unwrap_or(-1))?;
                tab.basic_filter = None;
                Ok(json!({}))
            }
            "updateDimensionProperties" => {
                let range = &body["range"];
                let tab = self.tab_by_id(range["sheetId"].as_i64().unwrap_or(-1))?;
                if range["dimension"].as_str() != Some("COLUMNS") {
                    return Err(ApiError::invalid("the fake sizes columns only"));
                }
                let start = range["startIndex"].as_u64().unwrap_or(0) as usize;
                let end = range["endIndex"].as_u64().map_or(tab.column_count, |e| e as usize);
                let Some(pixels) = body["properties"]["pixelSize"].as_i64() else {
                    return Err(ApiError::invalid("properties.pixelSize is required"));
                };
                for column in start..end.min(tab.column_count) {
                    tab.column_widths.insert(column, pixels);
                }
                Ok(json!({}))
            }
            other => Err(ApiError::invalid(format!(
                "the fake does not implement the {other} request; add it to crates/fake-sheets"
            ))),
        }
    }

    /// The tab and rectangle of a `GridRange`; missing bounds are unbounded.
    fn grid_range(&mut self, range: &Value) -> Result<(&mut Tab, Rect), ApiError> {
        let tab = self.tab_by_id(range["sheetId"].as_i64().unwrap_or(0))?;
        let bound = |key: &str, open: usize| range[key].as_u64().map_or(open, |v| v as usize);
        let rect = Rect {
            start_row: bound("startRowIndex", 0),
            end_row: bound("endRowIndex", usize::MAX),
            start_column: bound("startColumnIndex", 0),
            end_column: bound("endColumnIndex", usize::MAX),
        };
        Ok((tab, rect))
    }

    /// `values.get`.
    pub(crate) fn values_get(&self, range: &str, unformatted: bool) -> Result<Value, ApiError> {
        let parsed = A1Range::parse(range)?;
        let tab = self
            .tab(&parsed.sheet)
            .ok_or_else(|| ApiError::invalid(format!("Unable to parse range: {range}")))?;
        let rect = tab.clamp(parsed.rect(tab));
        let values = tab.read(rect, unformatted);
        let mut answer = json!({"range": a1(&tab.title, rect), "majorDimension": "ROWS"});
        if !values.is_empty() {
            answer["values"] = Value::Array(values);
        }
        Ok(answer)
    }

    /// Writes one `ValueRange`, returning an `UpdateValuesResponse`.
    pub(crate) fn values_update(
        &mut self,
        range: &str,
        values: &[Value],
        option: InputOption,
    ) -> Result<Value, ApiError> {
        let parsed = A1Range::parse(range)?;
        let id = self.id.clone();
        let tab = self.tab_mut(&parsed.sheet)?;
        let rect = parsed.rect(tab);
        let (rows, columns, cells) = tab.write(range, rect, values, option)?;
        let written = Rect {
            start_row: rect.start_row,
            end_row: rect.start_row + rows,
            start_column: rect.start_column,
            end_column: rect.start_column + columns,
        };
        Ok(json!({
            "spreadsheetId": id,
            "updatedRange": a1(&tab.title, written),
            "updatedRows": rows,
            "updatedColumns": columns,
            "updatedCells": cells,
        }))
    }

    /// `values.batchUpdate`: every range is checked against a copy before any is written.
    pub(crate) fn values_batch_update(&mut self, body: &Value) -> Result<Value, ApiError> {
        let option = InputOption::parse(body["valueInputOption"].as_str())?;
        let data = body["data"].as_array().cloned().unwrap_or_default();
        // A batch of one range is checked in full before it writes, so only a batch that could
        // fail halfway is written into a copy first; copying every time would make large
        // spreadsheets slow to fill.
        let mut responses = Vec::new();
        if data.len() <= 1 {
            for entry in &data {
                responses.push(self.write_entry(entry, option)?);
            }
        } else {
            let mut draft = self.clone();
            for entry in &data {
                responses.push(draft.write_entry(entry, option)?);
            }
            *self = draft;
        }
        let sum = |key: &str| responses.iter().map(|r| r[key].as_u64().unwrap_or(0)).sum::<u64>();
        let sheets: BTreeSet<&str> = responses
            .iter()
            .filter_map(|r| r["updatedRange"].as_str()?.rsplit_once('!').map(|(s, _)| s))
            .collect();
        Ok(json!({
            "spreadsheetId": self.id,
            "totalUpdatedRows": sum("updatedRows"),
            "totalUpdatedColumns": responses.iter()
                .map(|r| r["updatedColumns"].as_u64().unwrap_or(0)).max().unwrap_or(0),
            "totalUpdatedCells": sum("updatedCells"),
            "totalUpdatedSheets": sheets.len(),
            "responses": responses,
        }))
    }

    fn write_entry(&mut self, entry: &Value, option: InputOption) -> Result<Value, ApiError> {
        let range = entry["range"].as_str().unwrap_or("");
        let values = entry["values"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        self.values_update(range, values, option)
    }

    /// `values.append`: writes below the last row holding values, growing the grid as the
    /// service does with `insertDataOption=INSERT_ROWS` or when the rows do not fit.
    pub(crate) fn values_append(
        &mut self,
        range: &str,
        values: &[Value],
        option: InputOption,
        cell_limit: u64,
    ) -> Result<Value, ApiError> {
        let parsed = A1Range::parse(range)?;
        let cells_elsewhere: u64 = self.cells() - self.tab(&parsed.sheet).map_or(0, Tab::cells);
        let id = self.id.clone();
        let tab = self.tab_mut(&parsed.sheet)?;
        let start_row = tab.next_free_row();
        let start_column = parsed.start_column.unwrap_or(0);
        let width = values.iter().filter_map(Value::as_array).map(Vec::len).max().unwrap_or(0);
        let needed_rows = start_row + values.len();
        let needed_columns = (start_column + width).max(tab.column_count);
        let grown = needed_rows.max(tab.row_count) as u64 * needed_columns as u64;
        if cells_elsewhere + grown > cell_limit {
            return Err(ApiError::invalid(format!(
                "This action would increase the number of cells in the workbook above the \
                 limit of {cell_limit} cells."
            )));
        }
        let before = tab.clone();
        tab.row_count = tab.row_count.max(needed_rows);
        tab.column_count = needed_columns;
        let rect = Rect {
            start_row,
            end_row: start_row + values.len(),
            start_column,
            end_column: start_column + width,
        };
        let written = match tab.write(range, rect, values, option) {
            Ok(written) => written,
            Err(error) => {
                *tab = before;
                return Err(error);
            }
        };
        let updated = json!({
            "spreadsheetId": id,
            "updatedRange": a1(&tab.title, rect),
            "updatedRows": written.0,
            "updatedColumns": written.1,
            "updatedCells": written.2,
        });
        Ok(json!({
            "spreadsheetId": id,
            "tableRange": a1(&tab.title, Rect { start_row: 0, end_row: start_row.max(1), ..rect }),
            "updates": updated,
        }))
    }

    /// `values.clear` of one range.
    pub(crate) fn values_clear(&mut self, range: &str) -> Result<Value, ApiError> {
        let parsed = A1Range::parse(range)?;
        let id = self.id.clone();
        let tab = self.tab_mut(&parsed.sheet)?;
        let rect = tab.clamp(parsed.rect(tab));
        tab.clear(rect);
        Ok(json!({"spreadsheetId": id, "clearedRange": a1(&tab.title, rect)}))
    }

    /// `values.batchClear`.
    pub(crate) fn values_batch_clear(&mut self, body: &Value) -> Result<Value, ApiError> {
        let ranges: Vec<String> = body["ranges"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        for range in &ranges {
            let parsed = A1Range::parse(range)?;
            self.tab(&parsed.sheet)
                .ok_or_else(|| ApiError::invalid(format!("Unable to parse range: {range}")))?;
        }
        let mut cleared = Vec::new();
        for range in &ranges {
            cleared.push(self.values_clear(range)?["clearedRange"].clone());
        }
        Ok(json!({"spreadsheetId": self.id, "clearedRanges": cleared}))
    }
}

/// The `fields` mask of an update request, split at top-level commas, with `a(b,c)` expanded
/// to `a.b, a.c`.
fn field_list(body: &Value) -> Result<Vec<String>, ApiError> {
    let text = body["fields"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("'fields' is required but not specified"))?;
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    let mut parts = Vec::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    for part in parts {
        let part = part.trim();
        match part.split_once('(') {
            Some((prefix, inner)) => {
                for child in inner.trim_end_matches(')').split(',') {
                    out.push(format!("{prefix}.{}", child.trim()));
                }
            }
            None if !part.is_empty() => out.push(part.to_string()),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_masks_expand_parenthesised_groups() {
        let body = json!({"fields": "title,gridProperties(rowCount,frozenRowCount)"});
        assert_eq!(
            field_list(&body).unwrap(),
            ["title", "gridProperties.rowCount", "gridProperties.frozenRowCount"]
        );
    }

    #[test]
    fn a_failing_request_leaves_the_whole_batch_unapplied() {
        let mut book = Spreadsheet::new("s");
        let body = json!({"requests": [
            {"addSheet": {"properties": {"title": "New"}}},
            {"deleteSheet": {"sheetId": 424242}},
        ]});
        let error = book.batch_update(&body, 10_000_000).unwrap_err();
        assert!(error.message.starts_with("Invalid requests[1]"), "{}", error.message);
        assert!(book.tab("New").is_none());
    }

    #[test]
    fn growing_past_the_cell_limit_is_refused() {
        let mut book = Spreadsheet::new("s");
        let body = json!({"requests": [{"updateSheetProperties": {
            "properties": {"sheetId": 0, "gridProperties": {"rowCount": 400_000}},
            "fields": "gridProperties.rowCount"}}]});
        let error = book.batch_update(&body, 10_000_000).unwrap_err();
        assert!(error.message.contains("above the limit of 10000000 cells"), "{}", error.message);
        assert_eq!(book.tabs[0].row_count, 1000);
    }
}
