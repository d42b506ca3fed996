//! Turning projected cells into the JSON values the Sheets API stores, and the names and sizes
//! around them: tab titles, A1 ranges, column widths.
//!
//! Values are sent with `valueInputOption=RAW`, so a string is stored as text whatever it looks
//! like (`007`, `+1 555`, `=SUM(A1)`), numbers and booleans keep their type, and instants become
//! date-time serial numbers that a number format then shows as dates.

use std::collections::HashSet;

use ashflow_core::{Cell, ColumnType};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// The most characters a cell holds.
pub const MAX_CELL_CHARS: usize = 50_000;

/// The most characters a tab title may have.
const MAX_TITLE_CHARS: usize = 100;

/// The largest whole number a double holds exactly; larger ones are written as text so no
/// digit of an id is lost.
const MAX_EXACT_INTEGER: i64 = 1 << 53;

/// Days between the spreadsheet epoch (1899-12-30) and the Unix epoch.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;

/// The number format of timestamp columns.
pub const DATE_TIME_PATTERN: &str = "yyyy-mm-dd hh:mm:ss";

/// The number format of date columns.
pub const DATE_PATTERN: &str = "yyyy-mm-dd";

/// A cell ready to send, and whether it had to be cut to fit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SheetValue {
    /// The JSON value for the request.
    pub(crate) value: Value,
    /// The original length in characters, when the text was truncated.
    pub(crate) truncated_from: Option<usize>,
}

/// The date-time serial number of an instant: days since 1899-12-30 00:00 UTC, with the time of
/// day as the fraction.
pub(crate) fn serial_of_instant(instant: DateTime<Utc>) -> f64 {
    let seconds =
        instant.timestamp() as f64 + f64::from(instant.timestamp_subsec_millis()) / 1000.0;
    UNIX_EPOCH_SERIAL + seconds / 86_400.0
}

/// The serial number of a calendar date.
pub(crate) fn serial_of_date(date: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
    (date - epoch).num_days() as f64
}

/// The JSON value of a projected cell. A null becomes `""`, which empties the cell, because a
/// JSON `null` would leave an old value in place.
pub(crate) fn sheet_value(cell: Cell) -> SheetValue {
    let value = match cell {
        Cell::Null => Value::String(String::new()),
        Cell::String(text) | Cell::Json(text) => return text_value(text),
        Cell::Integer(number) if number.abs() <= MAX_EXACT_INTEGER => Value::from(number),
        Cell::Integer(number) => Value::String(number.to_string()),
        Cell::Number(number) => serde_json::Number::from_f64(number)
            .map_or(Value::String(number.to_string()), Value::Number),
        Cell::Boolean(flag) => Value::Bool(flag),
        Cell::Timestamp(instant) => number(serial_of_instant(instant)),
        Cell::Date(date) => number(serial_of_date(date)),
    };
    SheetValue { value, truncated_from: None }
}

fn number(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// Text, cut to the cell limit with a visible marker when longer.
///
/// The limit is counted in UTF-16 units, which is at least the number of characters the
/// service counts, so a cut value always fits.
fn text_value(text: String) -> SheetValue {
    let units = text.encode_utf16().count();
    if units <= MAX_CELL_CHARS {
        return SheetValue { value: Value::String(text), truncated_from: None };
    }
    let original = text.chars().count();
    let marker = format!(
        " …[truncated by ashflow: {} characters in total]",
        ashflow_core::report::group_thousands(original as u64)
    );
    let budget = MAX_CELL_CHARS - marker.encode_utf16().count();
    let mut kept = String::new();
    let mut used = 0;
    for c in text.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        kept.push(c);
    }
    kept.push_str(&marker);
    SheetValue { value: Value::String(kept), truncated_from: Some(original) }
}

/// The number format a column's cells get, if any.
pub(crate) fn number_pattern(column_type: ColumnType) -> Option<(&'static str, &'static str)> {
    match column_type {
        ColumnType::Timestamp => Some(("DATE_TIME", DATE_TIME_PATTERN)),
        ColumnType::Date => Some(("DATE", DATE_PATTERN)),
        _ => None,
    }
}

/// How wide a value shows, in characters, for column widths.
pub(crate) fn display_chars(value: &Value, column_type: ColumnType) -> usize {
    match (value, column_type) {
        (Value::Number(_), ColumnType::Timestamp) => DATE_TIME_PATTERN.len(),
        (Value::Number(_), ColumnType::Date) => DATE_PATTERN.len(),
        (Value::String(text), _) => text.chars().take(200).count(),
        (other, _) => other.to_string().len(),
    }
}

/// A column width in pixels for text of `chars` characters: wide enough to read, never so
/// wide a long note hides the next columns.
pub(crate) fn pixel_width(chars: usize) -> i32 {
    let chars = i32::try_from(chars.min(60)).unwrap_or(60);
    (chars * 7 + 16).clamp(60, 400)
}

/// Tab titles for one run: legal, and unique without regard to case.
#[derive(Debug, Default)]
pub(crate) struct TabTitles {
    taken: HashSet<String>,
}

impl TabTitles {
    /// A legal title for a dataset: control characters replaced, at most 100 characters,
    /// numbered ` (2)`, ` (3)` when an earlier dataset of the run took the name.
    pub(crate) fn claim(&mut self, dataset: &str) -> String {
        let cleaned: String =
            dataset.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let base = if cleaned.trim().is_empty() { "dataset".to_string() } else { cleaned };
        let mut candidate: String = base.chars().take(MAX_TITLE_CHARS).collect();
        let mut number = 2;
        while self.taken.contains(&candidate.to_lowercase()) {
            let suffix = format!(" ({number})");
            let room = MAX_TITLE_CHARS - suffix.chars().count();
            candidate = base.chars().take(room).collect::<String>() + &suffix;
            number += 1;
        }
        self.taken.insert(candidate.to_lowercase());
        candidate
    }
}

/// A1 column letters for a zero-based column: 0 is `A`, 26 is `AA`.
pub(crate) fn column_letters(column: usize) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        letters.push(char::from(b'A' + ((n - 1) % 26) as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// A title quoted for A1 notation: always quoted, with `'` doubled, which is valid for every
/// title.
pub(crate) fn quoted(title: &str) -> String {
    format!("'{}'", title.replace('\'', "''"))
}

/// The A1 range of rows `[first_row, first_row + rows)` (zero-based) and columns
/// `[first_column, first_column + columns)`.
pub(crate) fn a1_range(
    title: &str,
    first_row: usize,
    rows: usize,
    first_column: usize,
    columns: usize,
) -> String {
    format!(
        "{}!{}{}:{}{}",
        quoted(title),
        column_letters(first_column),
        first_row + 1,
        column_letters(first_column + columns.max(1) - 1),
        first_row + rows.max(1)
    )
}

/// A value as text for matching keys and comparing rows: numbers by value, so `7` and `7.0`
/// match, and empty cells as empty text.
pub(crate) fn comparable(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(number) => {
            number.as_f64().map_or_else(|| number.to_string(), |f| format!("{f:?}"))
        }
        Value::Bool(flag) => flag.to_string().to_uppercase(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn instants_and_dates_become_serial_numbers_in_utc() {
        let noon = Utc.with_ymd_and_hms(2024, 1, 2, 12, 0, 0).single().unwrap();
        assert_eq!(serial_of_instant(noon), 45_293.5);
        assert_eq!(serial_of_date(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()), 2.0);
    }

    #[test]
    fn strings_stay_strings_and_nulls_clear_the_cell() {
        for text in ["007", "+1 555", "=SUM(A1)", "TRUE"] {
            assert_eq!(sheet_value(Cell::String(text.into())).value, json!(text));
        }
        assert_eq!(sheet_value(Cell::Null).value, json!(""));
        assert_eq!(
            sheet_value(Cell::Integer(9_007_199_254_740_993)).value,
            json!("9007199254740993")
        );
        assert_eq!(sheet_value(Cell::Integer(42)).value, json!(42));
        assert_eq!(sheet_value(Cell::Boolean(false)).value, json!(false));
    }

    #[test]
    fn long_text_is_cut_to_the_limit_with_a_marker() {
        let long = "é".repeat(60_000);
        let cut = sheet_value(Cell::String(long));
        let text = cut.value.as_str().unwrap();
        assert_eq!(cut.truncated_from, Some(60_000));
        assert!(text.encode_utf16().count() <= MAX_CELL_CHARS);
        assert!(
            text.ends_with("…[truncated by ashflow: 60,000 characters in total]"),
            "{}",
            &text[text.len() - 80..]
        );

        let emoji = "😀".repeat(30_000);
        let cut = sheet_value(Cell::String(emoji));
        assert!(cut.value.as_str().unwrap().encode_utf16().count() <= MAX_CELL_CHARS);
    }

    #[test]
    fn titles_are_unique_without_regard_to_case_and_short_enough() {
        let mut titles = TabTitles::default();
        assert_eq!(titles.claim("candidates"), "candidates");
        assert_eq!(titles.claim("Candidates"), "Candidates (2)");
        assert_eq!(titles.claim("a\tb"), "a b");
        assert_eq!(titles.claim(&"x".repeat(150)).chars().count(), 100);
        assert_eq!(titles.claim(&"x".repeat(150)).chars().count(), 100);
    }

    #[test]
    fn ranges_quote_titles_and_count_from_one() {
        assert_eq!(a1_range("Open Jobs", 0, 3, 0, 28), "'Open Jobs'!A1:AB3");
        assert_eq!(a1_range("it's", 9, 1, 2, 1), "'it''s'!C10:C10");
    }
}
