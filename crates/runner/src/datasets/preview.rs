//! The terminal table `ashflow preview` prints: the first rows of a dataset as the spreadsheet
//! sinks would show them (the same projection into dotted, typed columns), each value cut to a
//! readable width, and a closing line saying how many rows were shown of how many.
//!
//! Widths are measured in terminal cells, not bytes or characters, so names with accents, CJK
//! text and emoji line up.

use ashflow_core::report::group_thousands;
use ashflow_core::{Cell, DatasetDescriptor, Projection, Record};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest a column is drawn, in terminal cells; longer values end in `…`.
pub(crate) const MAX_COLUMN_WIDTH: usize = 30;

/// The first `limit` of `records` (the dataset `descriptor` describes) as a text table.
pub fn render_preview(descriptor: &DatasetDescriptor, records: &[Record], limit: usize) -> String {
    let projection = Projection::new(&descriptor.schema);
    let headers: Vec<String> =
        projection.columns().iter().map(|column| truncate(&column.name)).collect();
    let rows: Vec<Vec<String>> = records
        .iter()
        .take(limit)
        .map(|record| {
            projection.project(record).iter().map(|cell| truncate(&cell_text(cell))).collect()
        })
        .collect();

    let mut widths: Vec<usize> = headers.iter().map(|header| header.width()).collect();
    for row in &rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.width());
        }
    }

    let mut text = String::new();
    if !headers.is_empty() {
        push_line(&mut text, &headers, &widths);
        let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
        text.push_str(rule.join("-+-").trim_end());
        text.push('\n');
        for row in &rows {
            push_line(&mut text, row, &widths);
        }
    }
    let total = descriptor.rows.map_or(records.len() as u64, |rows| rows.max(records.len() as u64));
    if total == 0 {
        text.push_str(&format!("Dataset {} has no rows.\n", descriptor.name));
    } else {
        text.push_str(&format!(
            "{} of {} {} of dataset {} shown.\n",
            group_thousands(rows.len() as u64),
            group_thousands(total),
            if total == 1 { "row" } else { "rows" },
            descriptor.name
        ));
    }
    text
}

fn push_line(text: &mut String, values: &[String], widths: &[usize]) {
    let cells: Vec<String> = values
        .iter()
        .zip(widths)
        .map(|(value, width)| format!("{value}{}", " ".repeat(width - value.width())))
        .collect();
    text.push_str(cells.join(" | ").trim_end());
    text.push('\n');
}

/// A cell as text: times in UTC, lists and objects as JSON, line breaks as spaces.
fn cell_text(cell: &Cell) -> String {
    let text = match cell {
        Cell::Null => String::new(),
        Cell::String(text) | Cell::Json(text) => text.clone(),
        Cell::Integer(integer) => integer.to_string(),
        Cell::Number(number) => number.to_string(),
        Cell::Boolean(flag) => flag.to_string(),
        Cell::Timestamp(instant) => instant.format("%Y-%m-%d %H:%M:%S").to_string(),
        Cell::Date(date) => date.format("%Y-%m-%d").to_string(),
    };
    text.replace(['\n', '\r', '\t'], " ")
}

/// `text` cut to [`MAX_COLUMN_WIDTH`] cells, ending in `…` when cut.
fn truncate(text: &str) -> String {
    if text.width() <= MAX_COLUMN_WIDTH {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut width = 0;
    for character in text.chars() {
        let character_width = character.width().unwrap_or(0);
        if width + character_width > MAX_COLUMN_WIDTH - 1 {
            break;
        }
        width += character_width;
        cut.push(character);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use ashflow_core::{DataType, Field, Schema};
    use serde_json::json;

    fn descriptor(rows: u64) -> DatasetDescriptor {
        DatasetDescriptor {
            name: "open_jobs".into(),
            description: "Jobs.".into(),
            schema: Schema::new(vec![
                Field::new("title", DataType::String, "Title."),
                Field::new("createdAt", DataType::Timestamp, "Created."),
                Field::new(
                    "department",
                    DataType::Object(vec![Field::new("name", DataType::String, "Name.")]),
                    "Department.",
                ),
            ]),
            primary_key: None,
            rows: Some(rows),
        }
    }

    #[test]
    fn rows_line_up_under_their_headers_whatever_the_script() {
        let records: Vec<Record> = [
            json!({"title": "Ingénieur 数据", "createdAt": "2024-01-02T03:04:05.678Z",
                   "department": {"name": "Eng"}}),
            json!({"title": "x".repeat(50), "department": null}),
            json!({"title": "never shown"}),
        ]
        .into_iter()
        .map(|value| value.as_object().cloned().unwrap())
        .collect();

        let text = render_preview(&descriptor(1_250), &records, 2);

        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[0], format!("{:30} | {:19} | department.name", "title", "createdAt"));
        assert!(lines[1].starts_with(&format!("{}-+-", "-".repeat(30))), "{text}");
        // "Ingénieur 数据" is 12 characters but 14 cells wide: the two CJK ones take two each.
        let padding = " ".repeat(30 - 14);
        assert_eq!(lines[2], format!("Ingénieur 数据{padding} | 2024-01-02 03:04:05 | Eng"));
        assert_eq!(lines[3].trim_end(), format!("{}… |                     |", "x".repeat(29)));
        assert_eq!(lines[4], "2 of 1,250 rows of dataset open_jobs shown.");
        assert!(!text.contains("never shown"));
    }

    #[test]
    fn an_empty_dataset_says_so() {
        let text = render_preview(&descriptor(0), &[], 20);
        assert!(text.ends_with("Dataset open_jobs has no rows.\n"), "{text}");
    }
}
