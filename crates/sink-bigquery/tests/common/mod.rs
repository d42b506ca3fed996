//! Helpers shared by the sink's test files: opening the sink from a spec table, driving it
//! through the runner's lifecycle, and building datasets with awkward values.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ashflow_core::prelude::*;
use serde_json::{Value, json};

/// Rows per `write_batch` call, like a page of the runner's staging store.
pub const BATCH: usize = 1000;

/// A BigQuery dataset name no other test (or earlier run against the same emulator) uses.
pub fn unique_dataset(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "t_{label}_{}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Validates and opens a `bigquery` sink from the keys of its spec table.
pub async fn open(body: &str) -> Result<Box<dyn Sink>> {
    let document = format!("[sinks.warehouse]\ntype = \"bigquery\"\n{body}");
    let table = ConfigTable::new(
        "spec.toml",
        Arc::from(document),
        vec!["sinks".into(), "warehouse".into()],
    );
    let context = SpecContext { spec_dir: std::env::temp_dir(), component_id: "warehouse".into() };
    ashflow_sink_bigquery::validate(&table, &context)?.open().await
}

/// Runs the whole lifecycle: every dataset in batches, then `finish`.
pub async fn run(body: &str, datasets: &[(DatasetDescriptor, Vec<Record>)]) -> Result<SinkReport> {
    let mut sink = open(body).await?;
    for (descriptor, records) in datasets {
        sink.begin_dataset(descriptor).await?;
        for batch in records.chunks(BATCH) {
            sink.write_batch(batch).await?;
        }
        sink.end_dataset().await?;
    }
    sink.finish().await
}

/// A dataset descriptor named `name` with these fields and `id` as its key.
pub fn descriptor(name: &str, fields: Vec<Field>) -> DatasetDescriptor {
    DatasetDescriptor {
        name: name.into(),
        description: format!("The {name} of the test."),
        schema: Schema::new(fields),
        primary_key: Some("id".into()),
        rows: None,
    }
}

/// The candidate-like schema the tests load: every type, nested records and lists.
pub fn candidate_fields() -> Vec<Field> {
    vec![
        Field::new("id", DataType::String, "The candidate's id."),
        Field::new("name", DataType::String, "Full name."),
        Field::new("createdAt", DataType::Timestamp, "When the candidate was created."),
        Field::new("birthday", DataType::Date, "A calendar date."),
        Field::new("score", DataType::Integer, "A whole number."),
        Field::new("ratio", DataType::Number, "A fraction."),
        Field::new("isActive", DataType::Boolean, "Whether the candidate is active."),
        Field::new("phone", DataType::String, "A phone number with leading zeros."),
        Field::new("notes", DataType::String, "Long text."),
        Field::new("tags", DataType::Array(Box::new(DataType::String)), "Tag names."),
        Field::new(
            "location",
            DataType::Object(vec![
                Field::new("city", DataType::String, "City."),
                Field::new("postalCode", DataType::String, "Postal code."),
            ]),
            "Where the candidate lives.",
        ),
        Field::new(
            "emailAddresses",
            DataType::Array(Box::new(DataType::Object(vec![
                Field::new("value", DataType::String, "Address."),
                Field::new("isPrimary", DataType::Boolean, "Primary or not."),
            ]))),
            "Every address.",
        ),
        Field::new("customFields", DataType::Json, "Free-form custom fields."),
    ]
}

/// Candidate number `n`: unicode, long text, leading zeros, nested values, and timestamps with
/// and without milliseconds, all different from row to row.
pub fn candidate(n: u64, name_suffix: &str) -> Record {
    let created = if n.is_multiple_of(2) {
        format!("2024-01-{:02}T10:{:02}:{:02}.{:03}Z", n % 28 + 1, n % 60, (n / 60) % 60, n % 1000)
    } else {
        format!("2024-02-{:02}T08:{:02}:{:02}Z", n % 28 + 1, n % 60, (n / 60) % 60)
    };
    let record = json!({
        "id": format!("c-{n:05}"),
        "name": format!("Zoë Ñúñez 李{n} 🚀{name_suffix}"),
        "createdAt": created,
        "birthday": format!("19{:02}-0{}-1{}", n % 100, n % 9 + 1, n % 10),
        "score": n as i64 * 7 - 1000,
        "ratio": n as f64 / 8.0,
        "isActive": n.is_multiple_of(3),
        "phone": format!("00{:08}", n * 37),
        "notes": if n.is_multiple_of(500) { "long ".repeat(2000) } else { format!("line one\nline \"two\" {n}") },
        "tags": [format!("t{}", n % 5), "shared"],
        "location": {"city": "São Paulo", "postalCode": format!("0{:04}", n % 10000)},
        "emailAddresses": [
            {"value": format!("c{n}@example.com"), "isPrimary": true},
            {"value": format!("other{n}@example.org"), "isPrimary": false}
        ],
        "customFields": {"level": n % 4, "labels": ["a", {"b": n}], "empty": null}
    });
    match record {
        Value::Object(map) => map,
        _ => unreachable!("the literal is an object"),
    }
}

/// Candidates `from..to`.
pub fn candidates(from: u64, to: u64, name_suffix: &str) -> Vec<Record> {
    (from..to).map(|n| candidate(n, name_suffix)).collect()
}
