//! The projection from nested records to flat rows of typed cells, shared by tabular sinks.
//!
//! Nested objects become dotted columns (`candidate.name`,
//! `candidate.primaryEmailAddress.value`), depth first in schema order. Arrays and free-form
//! JSON become one column holding JSON text, because a spreadsheet has no better place for a
//! list. A value whose JSON type disagrees with its column's declared type is never dropped:
//! it is kept as text (or JSON text), so an API that changes a field's type degrades the
//! typing of one cell, not the export.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::record::Record;
use crate::schema::{DataType, Field, Schema};
use crate::time::{parse_date, parse_timestamp};

/// The scalar type of a flattened column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// A number that may have a fraction.
    Number,
    /// True or false.
    Boolean,
    /// A UTC instant.
    Timestamp,
    /// A calendar date.
    Date,
    /// JSON text: arrays and values of varying shape.
    Json,
}

/// One flattened column of a projected schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// The dotted column name, such as `candidate.name`.
    pub name: String,
    /// The path of field names from the record's top level down to the value.
    pub path: Vec<String>,
    /// The type of the column's cells.
    pub column_type: ColumnType,
    /// The type of the source field, as [`DataType::name`] spells it; for arrays this says
    /// what the JSON text holds.
    pub source_type: String,
    /// What the column means.
    pub description: String,
    /// True when the column holds (or, for JSON columns, contains) a person's contact details.
    pub contact_details: bool,
}

/// One typed cell of a projected row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value: the field was null or missing.
    Null,
    /// Text.
    String(String),
    /// A whole number.
    Integer(i64),
    /// A number with a possible fraction.
    Number(f64),
    /// True or false.
    Boolean(bool),
    /// A UTC instant.
    Timestamp(DateTime<Utc>),
    /// A calendar date.
    Date(NaiveDate),
    /// JSON text of an array or object.
    Json(String),
}

/// The flat column layout of a schema, and the function from records to rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    columns: Vec<Column>,
}

impl Projection {
    /// The projection of `schema`: its leaf fields as dotted columns, in schema order.
    pub fn new(schema: &Schema) -> Self {
        let mut columns = Vec::new();
        for field in &schema.fields {
            push_columns(field, &mut Vec::new(), &mut columns);
        }
        Projection { columns }
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The cells of `record`, one per column, in column order.
    pub fn project(&self, record: &Record) -> Vec<Cell> {
        self.columns.iter().map(|column| cell_for(column, lookup(record, &column.path))).collect()
    }
}

fn push_columns(field: &Field, parents: &mut Vec<String>, columns: &mut Vec<Column>) {
    parents.push(field.name.clone());
    match &field.data_type {
        DataType::Object(nested) if !nested.is_empty() => {
            for child in nested {
                push_columns(child, parents, columns);
            }
        }
        data_type => columns.push(Column {
            name: parents.join("."),
            path: parents.clone(),
            column_type: column_type_of(data_type),
            source_type: data_type.name(),
            description: field.description.clone(),
            contact_details: field.holds_contact_details(),
        }),
    }
    parents.pop();
}

fn column_type_of(data_type: &DataType) -> ColumnType {
    match data_type {
        DataType::String => ColumnType::String,
        DataType::Integer => ColumnType::Integer,
        DataType::Number => ColumnType::Number,
        DataType::Boolean => ColumnType::Boolean,
        DataType::Timestamp => ColumnType::Timestamp,
        DataType::Date => ColumnType::Date,
        DataType::Object(_) | DataType::Array(_) | DataType::Json => ColumnType::Json,
    }
}

fn lookup<'a>(record: &'a Record, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = record.get(first)?;
    for name in rest {
        value = value.as_object()?.get(name)?;
    }
    Some(value)
}

fn cell_for(column: &Column, value: Option<&Value>) -> Cell {
    let Some(value) = value else { return Cell::Null };
    match (column.column_type, value) {
        (_, Value::Null) => Cell::Null,
        (ColumnType::Json, value) => Cell::Json(value.to_string()),
        (ColumnType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(integer) => Cell::Integer(integer),
            // A whole number past i64 would be rounded as a float; its exact text is better.
            None if n.is_u64() => Cell::String(n.to_string()),
            None => number_cell(n),
        },
        (ColumnType::Number, Value::Number(n)) => number_cell(n),
        (ColumnType::Boolean, Value::Bool(b)) => Cell::Boolean(*b),
        (ColumnType::Timestamp, Value::String(text)) => {
            parse_timestamp(text).map_or_else(|| Cell::String(text.clone()), Cell::Timestamp)
        }
        (ColumnType::Date, Value::String(text)) => {
            parse_date(text).map_or_else(|| Cell::String(text.clone()), Cell::Date)
        }
        (_, Value::String(text)) => Cell::String(text.clone()),
        (_, Value::Bool(b)) => Cell::Boolean(*b),
        (_, Value::Number(n)) => number_cell(n),
        (_, other) => Cell::Json(other.to_string()),
    }
}

fn number_cell(n: &serde_json::Number) -> Cell {
    match n.as_f64() {
        Some(number) => Cell::Number(number),
        None => Cell::String(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("createdAt", DataType::Timestamp, "Created."),
            Field::new("publishedDate", DataType::Date, "Published."),
            Field::new("count", DataType::Integer, "Count."),
            Field::new(
                "candidate",
                DataType::Object(vec![
                    Field::new("name", DataType::String, "Name."),
                    Field::new(
                        "primaryEmailAddress",
                        DataType::Object(vec![
                            Field::new("value", DataType::String, "Address.").contact(),
                        ]),
                        "Primary e-mail.",
                    ),
                ]),
                "Candidate.",
            ),
            Field::new("tags", DataType::Array(Box::new(DataType::String)), "Tags."),
        ])
    }

    fn record(value: Value) -> Record {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn nested_objects_become_dotted_columns_in_schema_order() {
        let projection = Projection::new(&schema());
        let names: Vec<_> = projection.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "createdAt",
                "publishedDate",
                "count",
                "candidate.name",
                "candidate.primaryEmailAddress.value",
                "tags"
            ]
        );
        assert!(projection.columns()[5].contact_details);
        assert!(!projection.columns()[4].contact_details);
        assert_eq!(projection.columns()[6].column_type, ColumnType::Json);
    }

    #[test]
    fn values_become_typed_cells_and_mismatches_keep_their_text() {
        let projection = Projection::new(&schema());
        let cells = projection.project(&record(json!({
            "id": "007",
            "createdAt": "2024-01-02T03:04:05Z",
            "publishedDate": "2024-01-02",
            "count": "twelve",
            "candidate": {"name": "Zoë", "primaryEmailAddress": null},
            "tags": ["a", "b"]
        })));

        assert_eq!(cells[0], Cell::String("007".into()));
        assert!(matches!(cells[1], Cell::Timestamp(t) if t.timestamp() == 1_704_164_645));
        assert_eq!(cells[2], Cell::Date(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()));
        assert_eq!(cells[3], Cell::String("twelve".into()));
        assert_eq!(cells[4], Cell::String("Zoë".into()));
        assert_eq!(cells[5], Cell::Null);
        assert_eq!(cells[6], Cell::Json(r#"["a","b"]"#.into()));
    }

    #[test]
    fn missing_fields_and_unparseable_times_do_not_fail() {
        let projection = Projection::new(&schema());
        let cells = projection.project(&record(json!({"createdAt": "last Tuesday"})));
        assert_eq!(cells[0], Cell::Null);
        assert_eq!(cells[1], Cell::String("last Tuesday".into()));
    }

    #[test]
    fn whole_numbers_past_i64_keep_their_exact_text() {
        let projection = Projection::new(&schema());
        let cells = projection.project(&record(json!({"count": 18_446_744_073_709_551_615u64})));
        assert_eq!(cells[3], Cell::String("18446744073709551615".into()));
    }
}
