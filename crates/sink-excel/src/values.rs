//! Turning projected [`Cell`]s into values Excel stores faithfully, and measuring them for
//! column widths.
//!
//! Everything that would make Excel change a value happens here, on purpose and visibly:
//! integers beyond 2^53 (where a double starts rounding) become text, instants outside Excel's
//! calendar (1900 to 9999) become ISO text, and text over Excel's 32,767-unit cell limit is cut
//! with a marker saying how much is missing. Text is never interpreted: a value that looks like
//! a formula or a number stays text because the writer stores it with `write_string`.

use ashflow_core::Cell;
use chrono::{Datelike, NaiveDate, NaiveDateTime, SecondsFormat};

use crate::names::{truncate_to_units, utf16_len};

/// Excel's limit on the text in one cell, in UTF-16 code units.
pub(crate) const MAX_CELL_UNITS: usize = 32_767;

/// The largest magnitude up to which every integer is exactly representable as an Excel number
/// (a double): 2^53.
const MAX_EXACT_INTEGER: i64 = 1 << 53;

/// The first and last years Excel's 1900 date system can show.
const EXCEL_YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// The narrowest and widest column widths, in Excel's character units.
const MIN_COLUMN_WIDTH: usize = 8;
const MAX_COLUMN_WIDTH: usize = 60;

/// Room for the filter button a table header shows at its right edge, in characters.
const FILTER_BUTTON_WIDTH: usize = 2;

/// How many characters `yyyy-mm-dd hh:mm:ss` and `yyyy-mm-dd` show.
const TIMESTAMP_WIDTH: usize = 19;
const DATE_WIDTH: usize = 10;

/// How many characters Excel's General format shows at most for a number that is not a small
/// whole number.
const GENERAL_NUMBER_WIDTH: usize = 11;

/// One cell as it will be stored in the workbook.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SheetValue {
    /// No value: the cell is left empty.
    Empty,
    /// Text, already within Excel's cell limit, always written as a string.
    Text(String),
    /// A number.
    Number(f64),
    /// True or false.
    Boolean(bool),
    /// A UTC instant, shown as `yyyy-mm-dd hh:mm:ss`.
    DateTime(NaiveDateTime),
    /// A calendar date, shown as `yyyy-mm-dd`.
    Date(NaiveDate),
}

/// A cell prepared for the workbook, and whether its text had to be cut to fit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    /// The value to write.
    pub(crate) value: SheetValue,
    /// True when the text was longer than Excel's cell limit and was cut.
    pub(crate) truncated: bool,
}

/// Prepares one projected cell for Excel.
pub(crate) fn prepare(cell: Cell) -> Prepared {
    let value = match cell {
        Cell::Null => SheetValue::Empty,
        Cell::String(text) | Cell::Json(text) => return prepare_text(text),
        Cell::Integer(integer) if integer.unsigned_abs() > MAX_EXACT_INTEGER.unsigned_abs() => {
            SheetValue::Text(integer.to_string())
        }
        // Exact: the magnitude is at most 2^53, which a double holds without rounding.
        Cell::Integer(integer) => SheetValue::Number(integer as f64),
        Cell::Number(number) => SheetValue::Number(number),
        Cell::Boolean(boolean) => SheetValue::Boolean(boolean),
        Cell::Timestamp(instant) if EXCEL_YEARS.contains(&instant.year()) => {
            SheetValue::DateTime(instant.naive_utc())
        }
        Cell::Timestamp(instant) => {
            SheetValue::Text(instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
        Cell::Date(date) if EXCEL_YEARS.contains(&date.year()) => SheetValue::Date(date),
        Cell::Date(date) => SheetValue::Text(date.format("%Y-%m-%d").to_string()),
    };
    Prepared { value, truncated: false }
}

/// Text that fits a cell: unchanged when within the limit, otherwise cut at a character
/// boundary and ended with `… [truncated: N characters cut]`, the whole within the limit.
pub(crate) fn prepare_text(text: String) -> Prepared {
    // A UTF-16 unit never takes fewer bytes than UTF-8 does, so short byte lengths need no count.
    if text.len() <= MAX_CELL_UNITS || utf16_len(&text) <= MAX_CELL_UNITS {
        return Prepared { value: SheetValue::Text(text), truncated: false };
    }

    // The marker's length depends on the count it shows, which is at most every character, so
    // reserving room for that count leaves room for the real one.
    let total_chars = text.chars().count();
    let reserved = utf16_len(&truncation_marker(total_chars));
    let kept = truncate_to_units(&text, MAX_CELL_UNITS - reserved);
    let cut = total_chars - kept.chars().count();

    let mut fitted = String::with_capacity(kept.len() + reserved * 3);
    fitted.push_str(kept);
    fitted.push_str(&truncation_marker(cut));
    Prepared { value: SheetValue::Text(fitted), truncated: true }
}

/// The visible note that ends a cut value.
fn truncation_marker(cut_chars: usize) -> String {
    format!("… [truncated: {} characters cut]", with_thousands_separators(cut_chars))
}

/// `12345` as `12,345`, for messages people read.
pub(crate) fn with_thousands_separators(number: usize) -> String {
    ashflow_core::report::group_thousands(number as u64)
}

/// The widest content seen in each column, for column widths set by hand.
///
/// Constant-memory worksheets flush each row as soon as the next begins, so the library's
/// autofit sees only one row; the sink measures every value as it passes instead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnWidths {
    chars: Vec<usize>,
}

impl ColumnWidths {
    /// Widths that at least fit each header and its filter button.
    pub(crate) fn for_headers(headers: &[String]) -> Self {
        let chars =
            headers.iter().map(|header| displayed_chars(header) + FILTER_BUTTON_WIDTH).collect();
        ColumnWidths { chars }
    }

    /// Widens column `column` to fit `value` when it is wider than anything seen so far.
    pub(crate) fn observe(&mut self, column: usize, value: &SheetValue) {
        if let Some(widest) = self.chars.get_mut(column) {
            *widest = (*widest).max(value_width(value));
        }
    }

    /// The widths to set, in Excel's character units, with a character of padding and kept
    /// between 8 and 60 so that short columns stay clickable and long text does not push
    /// everything else off screen.
    pub(crate) fn excel_widths(&self) -> impl Iterator<Item = f64> + '_ {
        self.chars.iter().map(|&chars| {
            let width = (chars + 1).clamp(MIN_COLUMN_WIDTH, MAX_COLUMN_WIDTH);
            f64::from(u32::try_from(width).unwrap_or(u32::MAX))
        })
    }
}

/// How many characters `value` shows, counted no further than the widest column allowed.
fn value_width(value: &SheetValue) -> usize {
    match value {
        SheetValue::Empty => 0,
        SheetValue::Text(text) => displayed_chars(text),
        SheetValue::Number(number) => number_width(*number),
        SheetValue::Boolean(_) => "FALSE".len(),
        SheetValue::DateTime(_) => TIMESTAMP_WIDTH,
        SheetValue::Date(_) => DATE_WIDTH,
    }
}

/// The characters in the longest line of `text`, counting no further than the widest column:
/// long notes and JSON would be cut at that width anyway.
fn displayed_chars(text: &str) -> usize {
    let mut widest = 0;
    let mut current = 0;
    for c in text.chars() {
        if c == '\n' {
            current = 0;
            continue;
        }
        current += 1;
        widest = widest.max(current);
        if widest >= MAX_COLUMN_WIDTH {
            break;
        }
    }
    widest
}

/// How many characters Excel's General format shows for `number`.
fn number_width(number: f64) -> usize {
    let is_small_whole = number.fract() == 0.0 && number.abs() < 1e11;
    if !is_small_whole {
        return GENERAL_NUMBER_WIDTH;
    }
    let digits = std::iter::successors(Some(number.abs()), |rest| {
        let next = (rest / 10.0).trunc();
        (next >= 1.0).then_some(next)
    })
    .count();
    digits + usize::from(number < 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn value(cell: Cell) -> SheetValue {
        prepare(cell).value
    }

    #[test]
    fn typed_cells_keep_their_type() {
        let instant = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();

        assert_eq!(value(Cell::Timestamp(instant)), SheetValue::DateTime(instant.naive_utc()));
        assert_eq!(value(Cell::Date(date)), SheetValue::Date(date));
        assert_eq!(value(Cell::Integer(-42)), SheetValue::Number(-42.0));
        assert_eq!(value(Cell::Number(1.5)), SheetValue::Number(1.5));
        assert_eq!(value(Cell::Boolean(false)), SheetValue::Boolean(false));
        assert_eq!(value(Cell::Null), SheetValue::Empty);
        assert_eq!(value(Cell::String("000123".into())), SheetValue::Text("000123".into()));
        assert_eq!(value(Cell::Json("[1,2]".into())), SheetValue::Text("[1,2]".into()));
    }

    #[test]
    fn integers_a_double_would_round_become_text() {
        assert_eq!(value(Cell::Integer(1 << 53)), SheetValue::Number(9_007_199_254_740_992.0));
        assert_eq!(
            value(Cell::Integer((1 << 53) + 1)),
            SheetValue::Text("9007199254740993".into())
        );
        assert_eq!(value(Cell::Integer(i64::MIN)), SheetValue::Text("-9223372036854775808".into()));
    }

    #[test]
    fn times_outside_excels_calendar_become_iso_text() {
        let early = Utc.with_ymd_and_hms(1899, 12, 31, 23, 0, 0).unwrap();
        let date = NaiveDate::from_ymd_opt(1850, 6, 1).unwrap();

        assert_eq!(value(Cell::Timestamp(early)), SheetValue::Text("1899-12-31T23:00:00Z".into()));
        assert_eq!(value(Cell::Date(date)), SheetValue::Text("1850-06-01".into()));
    }

    #[test]
    fn text_within_the_limit_is_untouched() {
        let text = "é".repeat(MAX_CELL_UNITS);
        let prepared = prepare_text(text.clone());

        assert!(!prepared.truncated);
        assert_eq!(prepared.value, SheetValue::Text(text));
    }

    #[test]
    fn long_text_is_cut_with_a_marker_within_the_limit() {
        let prepared = prepare_text("a".repeat(40_000));

        assert!(prepared.truncated);
        let SheetValue::Text(text) = prepared.value else { panic!("text stays text") };
        // Room was reserved for a five-digit count; the real one has four, one unit less.
        assert_eq!(utf16_len(&text), MAX_CELL_UNITS - 1);
        let marker = "… [truncated: 7,269 characters cut]";
        assert!(text.ends_with(marker), "{}", &text[text.len() - 60..]);
        assert_eq!(text.chars().count() - marker.chars().count() + 7_269, 40_000);
    }

    #[test]
    fn emoji_are_never_split_when_text_is_cut() {
        let prepared = prepare_text("😀".repeat(40_000));

        let SheetValue::Text(text) = prepared.value else { panic!("text stays text") };
        assert!(utf16_len(&text) <= MAX_CELL_UNITS);
        let (kept, marker) = text.split_once('…').unwrap();
        assert!(kept.chars().all(|c| c == '😀'));
        let kept_count = kept.chars().count();
        assert_eq!(
            marker,
            format!(
                " [truncated: {} characters cut]",
                with_thousands_separators(40_000 - kept_count)
            )
        );
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(with_thousands_separators(0), "0");
        assert_eq!(with_thousands_separators(999), "999");
        assert_eq!(with_thousands_separators(1_000), "1,000");
        assert_eq!(with_thousands_separators(1_234_567), "1,234,567");
    }

    #[test]
    fn widths_fit_headers_and_values_within_bounds() {
        let mut widths = ColumnWidths::for_headers(&[
            "id".into(),
            "createdAt".into(),
            "notes".into(),
            "count".into(),
        ]);
        widths.observe(1, &SheetValue::DateTime(NaiveDateTime::default()));
        widths.observe(2, &SheetValue::Text(format!("short\n{}", "x".repeat(500))));
        widths.observe(3, &SheetValue::Number(-12_345.0));

        let excel: Vec<f64> = widths.excel_widths().collect();
        assert_eq!(excel, [8.0, 20.0, 60.0, 8.0]);
        assert_eq!(number_width(-12_345.0), 6);
        assert_eq!(number_width(0.1), GENERAL_NUMBER_WIDTH);
        assert_eq!(number_width(7.0), 1);
    }
}
