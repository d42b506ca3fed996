//! From core's typed [`Schema`] to BigQuery columns, and from an existing table's columns to the
//! changes a load needs.
//!
//! Timestamps become TIMESTAMP, dates DATE, whole numbers INT64, other numbers FLOAT64, booleans
//! BOOL, objects RECORD and lists REPEATED (or both JSON with `nested = "json"`); a list of
//! lists or of free-form JSON becomes one JSON column, because BigQuery has no arrays of arrays.
//! Column names are made legal for BigQuery and unique regardless of case at each level, and
//! every column keeps the field's description.

use std::collections::HashSet;

use ashflow_core::{DataType, Field, Schema};
use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;

use crate::config::NestedMode;

/// The longest column name BigQuery accepts.
const MAX_COLUMN_NAME: usize = 300;

/// Prefixes BigQuery reserves for its own pseudo-columns.
const RESERVED_PREFIXES: [&str; 6] =
    ["_table_", "_file_", "_partition", "_row_timestamp", "__root__", "_colon_"];

/// The value type of a BigQuery column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColumnType {
    String,
    Int64,
    Float64,
    Bool,
    Timestamp,
    Date,
    Json,
    Record(Vec<Column>),
}

/// One BigQuery column and the record field it is filled from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// The field's name in records.
    pub(crate) field: String,
    /// The column's name in BigQuery.
    pub(crate) name: String,
    pub(crate) column_type: ColumnType,
    /// True for a REPEATED column, filled from a list.
    pub(crate) repeated: bool,
    pub(crate) description: String,
}

/// The BigQuery columns of a dataset's schema.
pub(crate) fn columns(schema: &Schema, nested: NestedMode) -> Vec<Column> {
    columns_of(&schema.fields, nested)
}

fn columns_of(fields: &[Field], nested: NestedMode) -> Vec<Column> {
    let mut taken = HashSet::new();
    fields
        .iter()
        .map(|field| {
            let (column_type, repeated) = column_type(&field.data_type, nested);
            Column {
                field: field.name.clone(),
                name: unique_name(&field.name, &mut taken),
                column_type,
                repeated,
                description: field.description.clone(),
            }
        })
        .collect()
}

fn column_type(data_type: &DataType, nested: NestedMode) -> (ColumnType, bool) {
    let scalar = match data_type {
        DataType::String => ColumnType::String,
        DataType::Integer => ColumnType::Int64,
        DataType::Number => ColumnType::Float64,
        DataType::Boolean => ColumnType::Bool,
        DataType::Timestamp => ColumnType::Timestamp,
        DataType::Date => ColumnType::Date,
        DataType::Json => ColumnType::Json,
        // BigQuery refuses a RECORD without fields, so an object whose fields are unknown is
        // kept whole as JSON.
        DataType::Object(fields) if nested == NestedMode::Record && !fields.is_empty() => {
            ColumnType::Record(columns_of(fields, nested))
        }
        DataType::Object(_) => ColumnType::Json,
        DataType::Array(element) if nested == NestedMode::Record => {
            return match column_type(element, nested) {
                // Arrays of arrays do not exist in BigQuery, and REPEATED JSON would split a
                // free-form list into rows nobody asked for: both stay one JSON value.
                (_, true) | (ColumnType::Json, _) => (ColumnType::Json, false),
                (element_type, false) => (element_type, true),
            };
        }
        DataType::Array(_) => ColumnType::Json,
    };
    (scalar, false)
}

/// A legal BigQuery column name for `field`, not yet in `taken` (compared without case).
///
/// BigQuery names hold letters, digits and underscores, start with a letter or underscore, are
/// at most 300 characters, avoid reserved prefixes, and are unique regardless of case.
pub(crate) fn unique_name(field: &str, taken: &mut HashSet<String>) -> String {
    let mut base: String = field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
        base.insert(0, '_');
    }
    let lower = base.to_ascii_lowercase();
    if RESERVED_PREFIXES.iter().any(|prefix| lower.starts_with(prefix)) {
        base.insert(0, 'f');
    }
    base.truncate(MAX_COLUMN_NAME - 8);

    let mut candidate = base.clone();
    let mut suffix = 2;
    while !taken.insert(candidate.to_ascii_lowercase()) {
        candidate = format!("{base}_{suffix}");
        suffix += 1;
    }
    candidate
}

/// The table schema BigQuery is given for these columns.
pub(crate) fn table_fields(columns: &[Column]) -> Vec<TableFieldSchema> {
    columns.iter().map(table_field).collect()
}

fn table_field(column: &Column) -> TableFieldSchema {
    let (field_type, nested) = match &column.column_type {
        ColumnType::String => (FieldType::String, None),
        ColumnType::Int64 => (FieldType::Int64, None),
        ColumnType::Float64 => (FieldType::Float64, None),
        ColumnType::Bool => (FieldType::Bool, None),
        ColumnType::Timestamp => (FieldType::Timestamp, None),
        ColumnType::Date => (FieldType::Date, None),
        ColumnType::Json => (FieldType::Json, None),
        ColumnType::Record(fields) => (FieldType::Record, Some(table_fields(fields))),
    };
    let mut field = TableFieldSchema::new(&column.name, field_type);
    field.fields = nested;
    field.mode = Some(if column.repeated { "REPEATED" } else { "NULLABLE" }.to_string());
    if !column.description.is_empty() {
        field.description = Some(truncate_description(&column.description));
    }
    field
}

/// BigQuery limits a column description to 1,024 characters.
fn truncate_description(description: &str) -> String {
    description.chars().take(1024).collect()
}

/// The canonical name of a BigQuery type, whichever of its aliases an API answer used.
fn canonical(field_type: &FieldType) -> &'static str {
    match field_type {
        FieldType::String => "STRING",
        FieldType::Bytes => "BYTES",
        FieldType::Integer | FieldType::Int64 => "INT64",
        FieldType::Float | FieldType::Float64 => "FLOAT64",
        FieldType::Numeric => "NUMERIC",
        FieldType::Bignumeric => "BIGNUMERIC",
        FieldType::Boolean | FieldType::Bool => "BOOL",
        FieldType::Timestamp => "TIMESTAMP",
        FieldType::Date => "DATE",
        FieldType::Time => "TIME",
        FieldType::Datetime => "DATETIME",
        FieldType::Record | FieldType::Struct => "RECORD",
        FieldType::Geography => "GEOGRAPHY",
        FieldType::Json => "JSON",
        FieldType::Interval => "INTERVAL",
    }
}

/// A field's type as a person reads it: `STRING`, `REPEATED INT64`, `RECORD`.
fn describe(field: &TableFieldSchema) -> String {
    let repeated = field.mode.as_deref().is_some_and(|mode| mode.eq_ignore_ascii_case("REPEATED"));
    let name = canonical(&field.r#type);
    if repeated { format!("REPEATED {name}") } else { name.to_string() }
}

/// A column the data has and the table lacks, at `path` (empty for a top-level column).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewColumn {
    /// The names of the RECORD columns it sits in, outermost first.
    pub(crate) path: Vec<String>,
    pub(crate) column: Column,
}

/// A column whose type in the table differs from the type the data needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conflict {
    /// The dotted column name.
    pub(crate) column: String,
    pub(crate) existing: String,
    pub(crate) wanted: String,
}

/// Compares an existing table's fields with the columns a load needs.
///
/// Returns the columns to add, or the first type conflict. Columns the table has and the data
/// lacks are fine: they stay, and new rows leave them NULL.
pub(crate) fn reconcile(
    existing: &[TableFieldSchema],
    wanted: &[Column],
) -> Result<Vec<NewColumn>, Conflict> {
    let mut additions = Vec::new();
    reconcile_level(existing, wanted, &mut Vec::new(), &mut additions)?;
    Ok(additions)
}

fn reconcile_level(
    existing: &[TableFieldSchema],
    wanted: &[Column],
    path: &mut Vec<String>,
    additions: &mut Vec<NewColumn>,
) -> Result<(), Conflict> {
    for column in wanted {
        let Some(current) = existing.iter().find(|f| f.name.eq_ignore_ascii_case(&column.name))
        else {
            additions.push(NewColumn { path: path.clone(), column: column.clone() });
            continue;
        };
        let wanted_field = table_field(column);
        let (have, want) = (describe(current), describe(&wanted_field));
        if have != want {
            let mut dotted = path.clone();
            dotted.push(column.name.clone());
            return Err(Conflict { column: dotted.join("."), existing: have, wanted: want });
        }
        if let ColumnType::Record(nested) = &column.column_type {
            path.push(current.name.clone());
            let fields = current.fields.as_deref().unwrap_or_default();
            reconcile_level(fields, nested, path, additions)?;
            path.pop();
        }
    }
    Ok(())
}

/// The existing fields with the additions appended where they belong and the descriptions of
/// the load's columns applied, for the metadata patch that follows a load.
pub(crate) fn merged_fields(
    existing: &[TableFieldSchema],
    wanted: &[Column],
    additions: &[NewColumn],
) -> Vec<TableFieldSchema> {
    let mut fields = existing.to_vec();
    for addition in additions {
        insert_at(&mut fields, &addition.path, table_field(&addition.column));
    }
    apply_descriptions(&mut fields, wanted);
    fields
}

fn insert_at(level: &mut Vec<TableFieldSchema>, path: &[String], field: TableFieldSchema) {
    match path.split_first() {
        None => level.push(field),
        Some((name, rest)) => {
            if let Some(record) = level.iter_mut().find(|f| f.name.eq_ignore_ascii_case(name)) {
                insert_at(record.fields.get_or_insert_with(Vec::new), rest, field);
            }
        }
    }
}

/// Sets each field's description from the load's column of the same name.
pub(crate) fn apply_descriptions(fields: &mut [TableFieldSchema], columns: &[Column]) {
    for field in fields {
        let Some(column) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(&field.name)) else {
            continue;
        };
        if !column.description.is_empty() {
            field.description = Some(truncate_description(&column.description));
        }
        if let (ColumnType::Record(nested), Some(inner)) = (&column.column_type, &mut field.fields)
        {
            apply_descriptions(inner, nested);
        }
    }
}

/// The column's type in BigQuery's SQL, for `ALTER TABLE ... ADD COLUMN`.
pub(crate) fn sql_type(column: &Column) -> String {
    let scalar = match &column.column_type {
        ColumnType::String => "STRING".to_string(),
        ColumnType::Int64 => "INT64".to_string(),
        ColumnType::Float64 => "FLOAT64".to_string(),
        ColumnType::Bool => "BOOL".to_string(),
        ColumnType::Timestamp => "TIMESTAMP".to_string(),
        ColumnType::Date => "DATE".to_string(),
        ColumnType::Json => "JSON".to_string(),
        ColumnType::Record(fields) => {
            let inner: Vec<String> =
                fields.iter().map(|f| format!("`{}` {}", f.name, sql_type(f))).collect();
            format!("STRUCT<{}>", inner.join(", "))
        }
    };
    if column.repeated { format!("ARRAY<{scalar}>") } else { scalar }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::String, "The id."),
            Field::new("createdAt", DataType::Timestamp, "When it was created."),
            Field::new("startDate", DataType::Date, ""),
            Field::new("score", DataType::Integer, ""),
            Field::new("ratio", DataType::Number, ""),
            Field::new("isArchived", DataType::Boolean, ""),
            Field::new("custom", DataType::Json, ""),
            Field::new(
                "candidate",
                DataType::Object(vec![Field::new("name", DataType::String, "Name.")]),
                "The candidate.",
            ),
            Field::new("tags", DataType::Array(Box::new(DataType::String)), ""),
            Field::new(
                "emails",
                DataType::Array(Box::new(DataType::Object(vec![Field::new(
                    "value",
                    DataType::String,
                    "",
                )]))),
                "",
            ),
            Field::new(
                "matrix",
                DataType::Array(Box::new(DataType::Array(Box::new(DataType::Integer)))),
                "",
            ),
            Field::new("empty", DataType::Object(Vec::new()), ""),
        ])
    }

    fn described(nested: NestedMode) -> Vec<(String, String)> {
        table_fields(&columns(&schema(), nested))
            .iter()
            .map(|f| (f.name.clone(), describe(f)))
            .collect()
    }

    #[test]
    fn core_types_map_to_bigquery_types_with_records_and_repeated_columns() {
        let names: Vec<(String, String)> = described(NestedMode::Record);
        let expected = [
            ("id", "STRING"),
            ("createdAt", "TIMESTAMP"),
            ("startDate", "DATE"),
            ("score", "INT64"),
            ("ratio", "FLOAT64"),
            ("isArchived", "BOOL"),
            ("custom", "JSON"),
            ("candidate", "RECORD"),
            ("tags", "REPEATED STRING"),
            ("emails", "REPEATED RECORD"),
            ("matrix", "JSON"),
            ("empty", "JSON"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(names, expected);

        let fields = table_fields(&columns(&schema(), NestedMode::Record));
        assert_eq!(fields[0].description.as_deref(), Some("The id."));
        assert_eq!(fields[2].description, None);
        let nested = fields[7].fields.as_ref().expect("records have fields");
        assert_eq!(nested[0].name, "name");
        assert_eq!(nested[0].description.as_deref(), Some("Name."));
    }

    #[test]
    fn nested_json_keeps_objects_and_lists_whole() {
        let kinds: Vec<String> = described(NestedMode::Json).into_iter().map(|(_, t)| t).collect();
        assert_eq!(&kinds[7..], ["JSON", "JSON", "JSON", "JSON", "JSON"]);
    }

    #[test]
    fn names_are_made_legal_and_unique_regardless_of_case() {
        let mut taken = HashSet::new();
        let names: Vec<String> =
            ["id", "ID", "Id", "first name", "2fa", "", "_TABLE_x", "é", "a-b", "a_b", "a_b_2"]
                .iter()
                .map(|n| unique_name(n, &mut taken))
                .collect();

        assert_eq!(
            names,
            [
                "id",
                "ID_2",
                "Id_3",
                "first_name",
                "_2fa",
                "_",
                "f_TABLE_x",
                "__2",
                "a_b",
                "a_b_2",
                "a_b_2_2"
            ]
        );
        let long = unique_name(&"x".repeat(400), &mut taken);
        assert!(long.len() <= MAX_COLUMN_NAME, "{}", long.len());
    }

    #[test]
    fn reconciling_finds_new_columns_at_any_depth_and_accepts_type_aliases() {
        let wanted = columns(&schema(), NestedMode::Record);
        let mut existing = table_fields(&wanted[..8]);
        existing[3].r#type = FieldType::Integer;
        if let Some(fields) = &mut existing[7].fields {
            fields.clear();
        }

        let additions = reconcile(&existing, &wanted).unwrap();

        let added: Vec<(Vec<String>, String)> =
            additions.iter().map(|a| (a.path.clone(), a.column.name.clone())).collect();
        assert_eq!(added[0], (vec!["candidate".to_string()], "name".to_string()));
        assert_eq!(
            added[1..].iter().map(|a| a.1.as_str()).collect::<Vec<_>>(),
            ["tags", "emails", "matrix", "empty"]
        );

        let merged = merged_fields(&existing, &wanted, &additions);
        assert_eq!(merged.len(), 12);
        assert_eq!(merged[7].fields.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn a_type_change_is_a_conflict_naming_the_column_and_both_types() {
        let wanted = columns(&schema(), NestedMode::Record);
        let mut existing = table_fields(&wanted);
        existing[3].r#type = FieldType::String;
        let conflict = reconcile(&existing, &wanted).unwrap_err();
        assert_eq!(
            conflict,
            Conflict { column: "score".into(), existing: "STRING".into(), wanted: "INT64".into() }
        );

        let mut existing = table_fields(&wanted);
        existing[8].mode = Some("NULLABLE".into());
        let conflict = reconcile(&existing, &wanted).unwrap_err();
        assert_eq!(
            (conflict.existing.as_str(), conflict.wanted.as_str()),
            ("STRING", "REPEATED STRING")
        );
    }

    #[test]
    fn sql_types_spell_out_structs_and_arrays() {
        let wanted = columns(&schema(), NestedMode::Record);
        assert_eq!(sql_type(&wanted[7]), "STRUCT<`name` STRING>");
        assert_eq!(sql_type(&wanted[9]), "ARRAY<STRUCT<`value` STRING>>");
        assert_eq!(sql_type(&wanted[8]), "ARRAY<STRING>");
    }
}
