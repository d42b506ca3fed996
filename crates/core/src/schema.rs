//! Typed schemas: the columns a stream or dataset has, what each holds and what it means.
//!
//! Sources describe every field they know, with its type and a description for the data
//! dictionary, tag the fields that hold a person's contact details, and name the stream a field
//! refers to when it holds another record's id. Sinks read only these descriptions, never the
//! source's own types. Fields a source does not know yet (an API that grows) are folded in at
//! run time by [`Schema::absorb_unknown_fields`], so they pass through instead of being dropped
//! or failing the run.

use serde::Serialize;
use serde_json::Value;

/// The type of a field's values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "of")]
pub enum DataType {
    /// Text, including identifiers and phone numbers.
    String,
    /// A whole number.
    Integer,
    /// A number that may have a fraction.
    Number,
    /// True or false.
    Boolean,
    /// An instant, sent as an ISO-8601 string and always handled in UTC.
    Timestamp,
    /// A calendar date without a time, sent as `YYYY-MM-DD`.
    Date,
    /// A nested object with known fields.
    Object(Vec<Field>),
    /// A list whose elements all have the given type.
    Array(Box<DataType>),
    /// Any JSON value whose shape varies from record to record.
    Json,
}

impl DataType {
    /// A short lowercase name for dictionaries and logs, such as `timestamp` or `array<object>`.
    pub fn name(&self) -> String {
        match self {
            DataType::String => "string".into(),
            DataType::Integer => "integer".into(),
            DataType::Number => "number".into(),
            DataType::Boolean => "boolean".into(),
            DataType::Timestamp => "timestamp".into(),
            DataType::Date => "date".into(),
            DataType::Object(_) => "object".into(),
            DataType::Array(element) => format!("array<{}>", element.name()),
            DataType::Json => "json".into(),
        }
    }

    /// The type that best describes a JSON value seen without a declared schema.
    ///
    /// Strings stay strings even when they look like times: guessing would turn an id such as
    /// `2024-01-01` into a date, and a pass-through field must never change meaning.
    pub fn infer(value: &Value) -> DataType {
        match value {
            Value::Bool(_) => DataType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => DataType::Integer,
            Value::Number(_) => DataType::Number,
            Value::String(_) => DataType::String,
            Value::Null | Value::Array(_) | Value::Object(_) => DataType::Json,
        }
    }
}

/// One named field of a schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// The field's name as it appears in records.
    pub name: String,
    /// The type of its values. Every field may also be null or missing.
    pub data_type: DataType,
    /// What the field means, for the data dictionary.
    pub description: String,
    /// True when the field (or, for objects and arrays, anything inside it) holds a person's
    /// contact details: e-mail addresses, phone numbers, postal addresses, social links, IP
    /// addresses or user agents. Sinks that share data with AI tools redact these.
    pub contact_details: bool,
    /// The name of the stream whose primary key this field's values hold (for an array of
    /// strings, its elements), such as `users` for a manager's id; `None` when the field refers
    /// to nothing or to something no stream holds. Sources declare this explicitly because a
    /// field's name does not say it reliably (a candidate's `location.id` is not an office of
    /// the `locations` stream); sinks map the stream to the dataset it was written to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

impl Field {
    /// A field with the given name, type and description.
    pub fn new(
        name: impl Into<String>,
        data_type: DataType,
        description: impl Into<String>,
    ) -> Self {
        Field {
            name: name.into(),
            data_type,
            description: description.into(),
            contact_details: false,
            references: None,
        }
    }

    /// Marks the field as holding a person's contact details.
    pub fn contact(mut self) -> Self {
        self.contact_details = true;
        self
    }

    /// Marks the field as holding primary keys of the stream named `stream`.
    pub fn references(mut self, stream: &str) -> Self {
        self.references = Some(stream.to_string());
        self
    }

    /// True when this field or any field nested inside it is tagged as contact details.
    pub fn holds_contact_details(&self) -> bool {
        self.contact_details || data_type_holds_contact_details(&self.data_type)
    }
}

fn data_type_holds_contact_details(data_type: &DataType) -> bool {
    match data_type {
        DataType::Object(fields) => fields.iter().any(Field::holds_contact_details),
        DataType::Array(element) => data_type_holds_contact_details(element),
        _ => false,
    }
}

/// The ordered fields of a stream or dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Schema {
    /// The fields, in the order columns are shown.
    pub fields: Vec<Field>,
}

/// The description given to fields that appear in records but not in the declared schema.
pub const UNDECLARED_FIELD_DESCRIPTION: &str =
    "Sent by the source but not yet described by ashflow; passed through as received.";

impl Schema {
    /// A schema with the given fields.
    pub fn new(fields: Vec<Field>) -> Self {
        Schema { fields }
    }

    /// The top-level field with the given name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Appends fields that `record` has but the schema lacks, at any depth of nested objects.
    ///
    /// Returns the dotted names of the fields added, so the caller can log them once. Declared
    /// fields are never changed; a new field gets the type of the first value seen, or `json`
    /// when that value is null, and keeps it.
    pub fn absorb_unknown_fields(
        &mut self,
        record: &serde_json::Map<String, Value>,
    ) -> Vec<String> {
        let mut added = Vec::new();
        absorb_into(&mut self.fields, record, "", &mut added);
        added
    }
}

fn absorb_into(
    fields: &mut Vec<Field>,
    object: &serde_json::Map<String, Value>,
    prefix: &str,
    added: &mut Vec<String>,
) {
    for (name, value) in object {
        match fields.iter_mut().find(|f| &f.name == name) {
            Some(Field { data_type: DataType::Object(nested), .. }) => {
                if let Value::Object(inner) = value {
                    absorb_into(nested, inner, &format!("{prefix}{name}."), added);
                }
            }
            Some(_) => {}
            None => {
                fields.push(Field::new(
                    name.clone(),
                    DataType::infer(value),
                    UNDECLARED_FIELD_DESCRIPTION,
                ));
                added.push(format!("{prefix}{name}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> serde_json::Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("test values are objects"),
        }
    }

    #[test]
    fn unknown_fields_are_appended_at_their_depth_and_reported() {
        let mut schema = Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new(
                "candidate",
                DataType::Object(vec![Field::new("name", DataType::String, "Name.")]),
                "Candidate.",
            ),
        ]);

        let added = schema.absorb_unknown_fields(&object(json!({
            "id": "a", "fraudStatus": "Clear", "score": 3, "extra": null,
            "candidate": {"name": "x", "pronouns": "they"}
        })));

        assert_eq!(added, vec!["fraudStatus", "score", "extra", "candidate.pronouns"]);
        assert_eq!(schema.field("score").map(|f| &f.data_type), Some(&DataType::Integer));
        assert_eq!(schema.field("extra").map(|f| &f.data_type), Some(&DataType::Json));
        let Some(DataType::Object(nested)) = schema.field("candidate").map(|f| &f.data_type) else {
            panic!("candidate stays an object");
        };
        assert_eq!(nested[1].name, "pronouns");
    }

    #[test]
    fn contact_tags_are_seen_through_arrays_and_objects() {
        let email = Field::new("value", DataType::String, "Address.").contact();
        let emails = Field::new(
            "emailAddresses",
            DataType::Array(Box::new(DataType::Object(vec![email]))),
            "All addresses.",
        );
        assert!(emails.holds_contact_details());
        assert!(!Field::new("name", DataType::String, "Name.").holds_contact_details());
    }

    #[test]
    fn a_reference_is_declared_by_the_builder_and_serialized_only_when_set() {
        let manager = Field::new("managerId", DataType::String, "Manager.").references("users");
        let name = Field::new("name", DataType::String, "Name.");

        assert_eq!(manager.references.as_deref(), Some("users"));
        assert_eq!(name.references, None);
        let manager_json = serde_json::to_value(&manager).expect("fields serialize");
        assert_eq!(manager_json["references"], "users");
        let name_json = serde_json::to_value(&name).expect("fields serialize");
        assert!(name_json.get("references").is_none(), "{name_json}");
    }

    #[test]
    fn absorbed_fields_reference_nothing() {
        let mut schema = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);

        schema.absorb_unknown_fields(&object(json!({"id": "a", "ownerId": "u1"})));

        assert_eq!(schema.field("ownerId").map(|f| f.references.clone()), Some(None));
    }
}
