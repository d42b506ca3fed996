//! Turning a record into the JSON row insertAll takes, checked against the table's columns.
//!
//! Values are renamed to their column names and normalized where BigQuery's reading differs
//! from the source's spelling: timestamps become UTC with microseconds, JSON values travel as
//! JSON text (which BigQuery and the emulator both parse into the JSON column). A value that
//! cannot go into its column (a word in a number column, say) makes the row bad with a reason,
//! rather than a request BigQuery rejects whole; fields the schema does not describe are left
//! out and reported once per dataset.

use std::collections::BTreeSet;

use ashflow_core::time::{parse_date, parse_timestamp};
use serde_json::{Map, Value};

use crate::schema::{Column, ColumnType};

/// The row for `record`, or why it cannot be loaded. Dotted names of fields not in the schema
/// are added to `unknown`.
pub(crate) fn to_row(
    columns: &[Column],
    record: &Map<String, Value>,
    unknown: &mut BTreeSet<String>,
) -> Result<Map<String, Value>, String> {
    object_row(columns, record, "", unknown)
}

fn object_row(
    columns: &[Column],
    object: &Map<String, Value>,
    prefix: &str,
    unknown: &mut BTreeSet<String>,
) -> Result<Map<String, Value>, String> {
    let mut row = Map::new();
    for column in columns {
        let value = match object.get(&column.field) {
            None | Some(Value::Null) => continue,
            Some(value) => value,
        };
        let path = format!("{prefix}{}", column.field);
        let converted = if column.repeated {
            let Value::Array(items) = value else {
                return Err(format!("`{path}` should be a list, found {}", kind(value)));
            };
            // BigQuery arrays cannot hold NULL, and a missing element carries no value.
            let converted: Result<Vec<Value>, String> = items
                .iter()
                .filter(|item| !item.is_null())
                .map(|item| cell(column, item, &path, unknown))
                .collect();
            Value::Array(converted?)
        } else {
            cell(column, value, &path, unknown)?
        };
        row.insert(column.name.clone(), converted);
    }
    for name in object.keys() {
        if !columns.iter().any(|column| &column.field == name) {
            unknown.insert(format!("{prefix}{name}"));
        }
    }
    Ok(row)
}

fn cell(
    column: &Column,
    value: &Value,
    path: &str,
    unknown: &mut BTreeSet<String>,
) -> Result<Value, String> {
    let mismatch = |expected: &str| format!("`{path}` should be {expected}, found {}", kind(value));
    match (&column.column_type, value) {
        // Text columns take any scalar as its text, and anything else as its JSON, so a field
        // the source types as text never loses a value that arrived with another shape.
        (ColumnType::String, Value::String(_)) => Ok(value.clone()),
        (ColumnType::String, Value::Number(_) | Value::Bool(_)) => {
            Ok(Value::String(value.to_string()))
        }
        (ColumnType::String, _) => Ok(Value::String(value.to_string())),
        (ColumnType::Int64, Value::Number(n)) if n.is_i64() => Ok(value.clone()),
        (ColumnType::Int64, Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
            _ => Err(mismatch("a whole number within INT64")),
        },
        (ColumnType::Int64, _) => Err(mismatch("a whole number")),
        (ColumnType::Float64, Value::Number(_)) => Ok(value.clone()),
        (ColumnType::Float64, _) => Err(mismatch("a number")),
        (ColumnType::Bool, Value::Bool(_)) => Ok(value.clone()),
        (ColumnType::Bool, _) => Err(mismatch("true or false")),
        (ColumnType::Timestamp, Value::String(text)) => parse_timestamp(text)
            .map(|instant| Value::String(instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()))
            .ok_or_else(|| mismatch("an ISO-8601 timestamp")),
        (ColumnType::Timestamp, _) => Err(mismatch("an ISO-8601 timestamp")),
        (ColumnType::Date, Value::String(text)) => parse_date(text)
            .map(|date| Value::String(date.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| mismatch("a date (YYYY-MM-DD)")),
        (ColumnType::Date, _) => Err(mismatch("a date (YYYY-MM-DD)")),
        (ColumnType::Json, _) => Ok(Value::String(value.to_string())),
        (ColumnType::Record(fields), Value::Object(inner)) => {
            Ok(Value::Object(object_row(fields, inner, &format!("{path}."), unknown)?))
        }
        (ColumnType::Record(_), _) => Err(mismatch("an object")),
    }
}

/// A short description of a value for messages: its kind and, for scalars, the value itself.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let cut = if s.chars().count() > 40 { "..." } else { "" };
            format!("{shown:?}{cut}")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NestedMode;
    use crate::schema::columns;
    use ashflow_core::{DataType, Field, Schema};
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::String, ""),
            Field::new("created At", DataType::Timestamp, ""),
            Field::new("day", DataType::Date, ""),
            Field::new("n", DataType::Integer, ""),
            Field::new("x", DataType::Number, ""),
            Field::new("ok", DataType::Boolean, ""),
            Field::new("meta", DataType::Json, ""),
            Field::new("who", DataType::Object(vec![Field::new("name", DataType::String, "")]), ""),
            Field::new("tags", DataType::Array(Box::new(DataType::String)), ""),
        ])
    }

    fn row(record: Value) -> Result<Value, String> {
        let Value::Object(record) = record else { unreachable!("tests pass objects") };
        let mut unknown = BTreeSet::new();
        to_row(&columns(&schema(), NestedMode::Record), &record, &mut unknown).map(Value::Object)
    }

    #[test]
    fn values_are_renamed_and_normalized_for_bigquery() {
        let converted = row(json!({
            "id": "0042", "created At": "2024-05-01T12:00:00Z", "day": "2024-05-01",
            "n": 7, "x": 1.5, "ok": true, "meta": {"a": [1, null]},
            "who": {"name": "Zoë"}, "tags": ["a", null, "b"], "gone": null
        }))
        .unwrap();

        assert_eq!(
            converted,
            json!({
                "id": "0042", "created_At": "2024-05-01T12:00:00.000000Z", "day": "2024-05-01",
                "n": 7, "x": 1.5, "ok": true, "meta": "{\"a\":[1,null]}",
                "who": {"name": "Zoë"}, "tags": ["a", "b"]
            })
        );
    }

    #[test]
    fn text_columns_keep_numbers_and_objects_as_text() {
        let converted = row(json!({"id": 12, "who": {"name": {"first": "A"}}})).unwrap();
        assert_eq!(converted, json!({"id": "12", "who": {"name": "{\"first\":\"A\"}"}}));
    }

    #[test]
    fn a_value_that_does_not_fit_its_column_names_the_field_and_the_value() {
        let cases = [
            (json!({"n": "seven"}), "`n` should be a whole number, found \"seven\""),
            (json!({"n": 1.5}), "`n` should be a whole number within INT64, found 1.5"),
            (json!({"created At": "yesterday"}), "`created At` should be an ISO-8601 timestamp"),
            (json!({"day": "2024-13-01"}), "`day` should be a date (YYYY-MM-DD)"),
            (json!({"who": "Ann"}), "`who` should be an object"),
            (json!({"tags": "a"}), "`tags` should be a list, found \"a\""),
            (json!({"ok": "yes"}), "`ok` should be true or false"),
        ];
        for (record, expected) in cases {
            let reason = row(record.clone()).unwrap_err();
            assert!(reason.starts_with(expected), "{record}: {reason}");
        }
    }

    #[test]
    fn fields_outside_the_schema_are_reported_by_their_dotted_name() {
        let Value::Object(record) = json!({"id": "a", "extra": 1, "who": {"name": "b", "age": 3}})
        else {
            unreachable!()
        };
        let mut unknown = BTreeSet::new();
        to_row(&columns(&schema(), NestedMode::Record), &record, &mut unknown).unwrap();
        assert_eq!(unknown.into_iter().collect::<Vec<_>>(), ["extra", "who.age"]);
    }
}
