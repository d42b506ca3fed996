//! `pivot_custom_fields`: custom fields as columns named after their titles, typed by each
//! field's type, instead of one `customFields` list per record.
//!
//! The columns come from the definitions in the source's `custom_fields` entity whose
//! `objectType` matches the records (`Candidate` for candidates, and so on), in the order the
//! replica holds them, archived definitions included because old records still carry their
//! values. A column exists even when no record has a value. Two definitions with the same
//! title, or a title equal to one of the record's own fields, get ` (2)`, ` (3)` and so on. A
//! value whose definition is not in the replica (deleted since, or unreadable with the key)
//! still gets a column, named after the title the value carries, so nothing is dropped.
//!
//! Values, by field type: `Boolean`, `Number`, `String` and `LongText` as they are; `Date` as
//! a calendar date; `ValueSelect` as its label (the text Ashby shows), `MultiValueSelect` as a
//! list of labels; `Currency` as an object of `value` and `currencyCode`; `NumberRange` and
//! `CompensationRange` as objects of their bounds (and currency and interval), so spreadsheets
//! get columns such as `Salary band.minValue`. Unknown field types keep their JSON.

use ashflow_core::time::parse_timestamp;
use ashflow_core::{DataType, Field, Record, Schema};
use serde_json::{Map, Value};

use crate::datasets::EntityRef;

/// The entities whose records carry custom fields, the `objectType` of their definitions and
/// where the list sits in a record.
const PIVOTABLE: [(&str, &str, &[&str]); 4] = [
    ("applications", "Application", &["customFields"]),
    ("candidates", "Candidate", &["customFields"]),
    ("jobs", "Job", &["customFields"]),
    ("offers", "Offer", &["latestVersion", "customFields"]),
];

/// The entity holding custom field definitions.
pub(crate) const DEFINITIONS_ENTITY: &str = "custom_fields";

/// The entities a pivot applies to, for messages.
pub(crate) fn pivotable_entities() -> Vec<String> {
    PIVOTABLE.iter().map(|(entity, _, _)| entity.to_string()).collect()
}

/// True when records of `entity` carry custom fields.
pub(crate) fn is_pivotable(entity: &str) -> bool {
    PIVOTABLE.iter().any(|(name, _, _)| *name == entity)
}

/// The entity holding the definitions for records of `entity`: `custom_fields` of its source.
pub(crate) fn definitions_entity(entity: &EntityRef) -> EntityRef {
    EntityRef::new(entity.source.clone(), DEFINITIONS_ENTITY)
}

fn target(entity: &str) -> Option<(&'static str, Vec<String>)> {
    PIVOTABLE
        .iter()
        .find(|(name, _, _)| *name == entity)
        .map(|(_, object_type, path)| (*object_type, path.iter().map(|s| s.to_string()).collect()))
}

/// The schema of a pivoted entity before its definitions are read: without the list.
pub(crate) fn schema_without_list(entity: &str, schema: &Schema) -> Schema {
    let mut schema = schema.clone();
    if let Some((_, path)) = target(entity) {
        super::columns::remove_field(&mut schema.fields, &path);
    }
    schema
}

/// One custom field column.
struct CustomColumn {
    id: Option<String>,
    name: String,
    field_type: String,
}

/// Pivots the custom fields of `records` of `entity` (whose schema is `schema`) into columns,
/// using the custom field `definitions` of their source.
pub(crate) fn pivot(
    entity: &str,
    schema: &Schema,
    mut records: Vec<Record>,
    definitions: &[Record],
) -> (Schema, Vec<Record>) {
    let Some((object_type, path)) = target(entity) else {
        return (schema.clone(), records);
    };
    let mut fields = schema_without_list(entity, schema).fields;
    let mut taken: Vec<String> = fields.iter().map(|field| field.name.clone()).collect();
    let mut columns: Vec<CustomColumn> = Vec::new();
    for definition in definitions {
        if definition.get("objectType").and_then(Value::as_str) != Some(object_type) {
            continue;
        }
        let title = definition.get("title").and_then(Value::as_str).unwrap_or("Custom field");
        columns.push(CustomColumn {
            id: definition.get("id").and_then(Value::as_str).map(str::to_string),
            name: unique(title, &mut taken),
            field_type: text(definition, "fieldType").unwrap_or_default(),
        });
    }
    let known = columns.len();

    // Values whose definition is missing get a column of their own, by the title they carry.
    for record in &records {
        for entry in entries(record, &path) {
            let id = entry.get("id").and_then(Value::as_str);
            if columns.iter().any(|column| column.id.as_deref() == id && id.is_some()) {
                continue;
            }
            let title = text(entry, "title").unwrap_or_else(|| "Custom field".into());
            columns.push(CustomColumn {
                id: id.map(str::to_string),
                name: unique(&title, &mut taken),
                field_type: String::new(),
            });
        }
    }

    for (index, column) in columns.iter().enumerate() {
        let description = if index < known {
            format!(
                "Custom field \"{}\" ({}), defined in the custom_fields dataset.",
                column.name, column.field_type
            )
        } else {
            format!(
                "Custom field \"{}\", whose definition is not in the custom_fields dataset.",
                column.name
            )
        };
        fields.push(Field::new(column.name.clone(), data_type(&column.field_type), description));
    }

    for record in &mut records {
        let values: Vec<(String, Value)> = entries(record, &path)
            .filter_map(|entry| {
                let id = entry.get("id").and_then(Value::as_str);
                let title = text(entry, "title");
                let column = columns
                    .iter()
                    .find(|column| id.is_some() && column.id.as_deref() == id)
                    .or_else(|| {
                        columns.iter().find(|c| c.id.is_none() && Some(&c.name) == title.as_ref())
                    })?;
                Some((column.name.clone(), value(entry, &column.field_type)))
            })
            .collect();
        super::columns::remove_at(record, &path);
        for column in &columns {
            record.insert(column.name.clone(), Value::Null);
        }
        for (name, value) in values {
            record.insert(name, value);
        }
    }
    (Schema::new(fields), records)
}

fn entries<'a>(
    record: &'a Record,
    path: &[String],
) -> impl Iterator<Item = &'a Map<String, Value>> {
    super::columns::lookup(record, path)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `title`, or `title (2)`, `title (3)`… when taken; the name chosen is then taken.
fn unique(title: &str, taken: &mut Vec<String>) -> String {
    let mut name = title.to_string();
    let mut counter = 2;
    while taken.contains(&name) {
        name = format!("{title} ({counter})");
        counter += 1;
    }
    taken.push(name.clone());
    name
}

fn number(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Number, description)
}

fn string(name: &str, description: &str) -> Field {
    Field::new(name, DataType::String, description)
}

/// The column type of a custom field type (ashby-api.md §6.3).
fn data_type(field_type: &str) -> DataType {
    match field_type {
        "Boolean" => DataType::Boolean,
        "String" | "LongText" | "ValueSelect" => DataType::String,
        "Number" => DataType::Number,
        "Date" => DataType::Date,
        "MultiValueSelect" => DataType::Array(Box::new(DataType::String)),
        "Currency" => DataType::Object(vec![
            number("value", "The amount."),
            string("currencyCode", "The currency, such as EUR."),
        ]),
        "NumberRange" => DataType::Object(vec![
            number("minValue", "The lower bound."),
            number("maxValue", "The upper bound."),
        ]),
        "CompensationRange" => DataType::Object(vec![
            number("minValue", "The lower bound of the pay range."),
            number("maxValue", "The upper bound of the pay range."),
            string("currencyCode", "The currency, such as EUR."),
            string("interval", "The period the amounts are paid for, such as 1 YEAR."),
        ]),
        _ => DataType::Json,
    }
}

/// The column value of one custom field entry. A value that does not have the documented shape
/// is kept as it is, so the sinks show it as text rather than lose it.
fn value(entry: &Map<String, Value>, field_type: &str) -> Value {
    let raw = entry.get("value").cloned().unwrap_or(Value::Null);
    let label = entry.get("valueLabel").filter(|label| !label.is_null()).cloned();
    match (field_type, &raw) {
        (_, Value::Null) => Value::Null,
        ("ValueSelect" | "MultiValueSelect", _) => label.unwrap_or(raw),
        ("Date", Value::String(text)) => parse_timestamp(text)
            .map(|instant| Value::String(instant.date_naive().format("%Y-%m-%d").to_string()))
            .unwrap_or(raw),
        ("NumberRange" | "CompensationRange", Value::Object(range)) => {
            let mut object = range.clone();
            object.shift_remove("type");
            Value::Object(object)
        }
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        value.as_object().cloned().unwrap()
    }

    fn definitions() -> Vec<Record> {
        vec![
            record(
                json!({"id": "f1", "title": "Seniority", "objectType": "Candidate", "fieldType": "ValueSelect"}),
            ),
            record(
                json!({"id": "f2", "title": "Available from", "objectType": "Candidate", "fieldType": "Date"}),
            ),
            record(
                json!({"id": "f3", "title": "Salary", "objectType": "Candidate", "fieldType": "CompensationRange"}),
            ),
            record(
                json!({"id": "f4", "title": "Seniority", "objectType": "Candidate", "fieldType": "Number"}),
            ),
            record(
                json!({"id": "f5", "title": "name", "objectType": "Candidate", "fieldType": "String"}),
            ),
            record(
                json!({"id": "f6", "title": "Never used", "objectType": "Candidate", "fieldType": "Boolean"}),
            ),
            record(
                json!({"id": "j1", "title": "Cost center", "objectType": "Job", "fieldType": "String"}),
            ),
        ]
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("name", DataType::String, "Name."),
            Field::new("customFields", DataType::Json, "Custom fields."),
        ])
    }

    #[test]
    fn custom_fields_become_typed_columns_named_after_their_titles() {
        let records = vec![
            record(json!({"id": "c1", "name": "Ada", "customFields": [
                {"id": "f1", "title": "Seniority", "value": "senior", "valueLabel": "Senior"},
                {"id": "f2", "title": "Available from", "value": "2024-03-01T00:00:00.000Z"},
                {"id": "f3", "title": "Salary", "value": {"type": "compensation-range",
                    "minValue": 1, "maxValue": 2, "currencyCode": "EUR", "interval": "1 YEAR"}},
                {"id": "f4", "title": "Seniority", "value": 7},
                {"id": "gone", "title": "Deleted field", "value": "x"}
            ]})),
            record(json!({"id": "c2", "name": "Bo", "customFields": []})),
        ];

        let (schema, rows) = pivot("candidates", &schema(), records, &definitions());

        let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "name",
                "Seniority",
                "Available from",
                "Salary",
                "Seniority (2)",
                "name (2)",
                "Never used",
                "Deleted field"
            ]
        );
        let types: Vec<String> = schema.fields.iter().map(|f| f.data_type.name()).collect();
        assert_eq!(
            types,
            ["string", "string", "string", "date", "object", "number", "string", "boolean", "json"]
        );
        assert_eq!(rows[0]["Seniority"], json!("Senior"));
        assert_eq!(rows[0]["Available from"], json!("2024-03-01"));
        assert_eq!(
            rows[0]["Salary"],
            json!({"minValue": 1, "maxValue": 2, "currencyCode": "EUR", "interval": "1 YEAR"})
        );
        assert_eq!(rows[0]["Seniority (2)"], json!(7));
        assert_eq!(rows[0]["name"], json!("Ada"), "the record's own field is untouched");
        assert_eq!(rows[0]["Deleted field"], json!("x"));
        assert!(!rows[0].contains_key("customFields"));
        assert_eq!(rows[1]["Never used"], Value::Null, "columns exist even when empty");
        assert_eq!(rows[1]["Seniority"], Value::Null);
    }

    #[test]
    fn offers_pivot_the_list_inside_their_latest_version() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new(
                "latestVersion",
                DataType::Object(vec![
                    Field::new("id", DataType::String, "Version."),
                    Field::new("customFields", DataType::Json, "Custom fields."),
                ]),
                "Latest.",
            ),
        ]);
        let definitions = vec![record(
            json!({"id": "o1", "title": "Signing bonus", "objectType": "Offer", "fieldType": "Currency"}),
        )];
        let records = vec![record(
            json!({"id": "x", "latestVersion": {"id": "v", "customFields": [
                {"id": "o1", "title": "Signing bonus", "value": {"value": 5000, "currencyCode": "USD"}}
            ]}}),
        )];

        let (schema, rows) = pivot("offers", &schema, records, &definitions);

        assert_eq!(rows[0]["Signing bonus"], json!({"value": 5000, "currencyCode": "USD"}));
        assert_eq!(rows[0]["latestVersion"], json!({"id": "v"}));
        let projection = ashflow_core::Projection::new(&schema);
        let names: Vec<&str> = projection.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["id", "latestVersion.id", "Signing bonus.value", "Signing bonus.currencyCode"]
        );
    }
}
