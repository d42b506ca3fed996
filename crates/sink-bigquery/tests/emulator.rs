//! The sink against a real BigQuery emulator (bqemulator): schemas, 20,000 rows read back
//! value by value, replace, upsert, append with a new column, type conflicts, and runs that
//! fail or are abandoned midway.
//!
//! The emulator is started once for this test binary (or taken from `cargo xtask test` through
//! `ASHFLOW_BQ_EMULATOR_URL`). Where the emulator encodes values differently from BigQuery
//! (TIMESTAMP as microseconds, JSON as text), the tests compare meaning, not encodings.

mod common;

use std::time::Duration;

use ashflow_core::prelude::*;
use ashflow_fake_bigquery::Emulator;
use ashflow_fake_bigquery::emulator::{PROJECT, timestamp_micros};
use common::*;
use serde_json::{Map, Value, json};

fn spec(dataset: &str, extra: &str) -> String {
    let emulator = Emulator::shared();
    format!(
        "auth = \"none\"\nbase_url = \"{}\"\nproject = \"{PROJECT}\"\nbigquery_dataset = \"{dataset}\"\n{extra}",
        emulator.url
    )
}

async fn rows(dataset: &str, table: &str, order_by: &str) -> Vec<Map<String, Value>> {
    Emulator::shared()
        .query(&format!("SELECT * FROM `{PROJECT}.{dataset}.{table}` ORDER BY {order_by}"))
        .await
}

/// Waits until only `expected` tables are left (staging tables are dropped in the background
/// when a sink is dropped unfinished).
async fn assert_tables_become(dataset: &str, expected: &[&str]) {
    let mut tables = Vec::new();
    for _ in 0..100 {
        tables = Emulator::shared().tables(dataset).await;
        tables.sort();
        if tables == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tables of {dataset}: {tables:?}, expected {expected:?}");
}

fn field_summary(fields: &Value) -> Vec<(String, String, String)> {
    fields
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let kind = match f["type"].as_str().unwrap_or_default() {
                "INTEGER" => "INT64",
                "FLOAT" => "FLOAT64",
                "BOOLEAN" => "BOOL",
                other => other,
            };
            (
                f["name"].as_str().unwrap_or_default().to_string(),
                kind.to_string(),
                f["mode"].as_str().unwrap_or("NULLABLE").to_string(),
            )
        })
        .collect()
}

/// Checks one row read back against the record it came from, by meaning.
fn assert_same_candidate(read: &Map<String, Value>, record: &Record) {
    let id = &record["id"];
    for key in ["id", "name", "phone", "notes"] {
        assert_eq!(read[key], record[key], "{id}: {key}");
    }
    let created = ashflow_core::time::parse_timestamp(record["createdAt"].as_str().unwrap_or(""))
        .map(|t| t.timestamp_micros());
    assert_eq!(timestamp_micros(&read["createdAt"]), created, "{id}: createdAt");
    assert_eq!(read["birthday"], record["birthday"], "{id}: birthday");
    assert_eq!(
        read["score"].as_str().and_then(|s| s.parse::<i64>().ok()),
        record["score"].as_i64()
    );
    assert_eq!(
        read["ratio"].as_str().and_then(|s| s.parse::<f64>().ok()),
        record["ratio"].as_f64()
    );
    assert_eq!(read["isActive"].as_str() == Some("true"), record["isActive"] == true, "{id}");
    assert_eq!(read["tags"], record["tags"], "{id}: tags");
    assert_eq!(read["location"], record["location"], "{id}: location");
    let emails: Vec<Value> = record["emailAddresses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| json!({"value": e["value"], "isPrimary": e["isPrimary"].to_string()}))
        .collect();
    assert_eq!(read["emailAddresses"], Value::Array(emails), "{id}: emails");
    let custom: Value =
        serde_json::from_str(read["customFields"].as_str().unwrap_or("null")).unwrap_or_default();
    assert_eq!(custom, record["customFields"], "{id}: customFields");
}

#[tokio::test]
async fn tables_are_created_with_bigquery_types_modes_and_descriptions() {
    let dataset = unique_dataset("schema");
    let candidates_dataset = descriptor("candidates", candidate_fields());
    run(&spec(&dataset, "mode = \"append\""), &[(candidates_dataset, candidates(0, 10, ""))])
        .await
        .unwrap();

    let table = Emulator::shared().table(&dataset, "candidates").await.expect("the table exists");
    let fields = &table["schema"]["fields"];
    let expected = [
        ("id", "STRING", "NULLABLE"),
        ("name", "STRING", "NULLABLE"),
        ("createdAt", "TIMESTAMP", "NULLABLE"),
        ("birthday", "DATE", "NULLABLE"),
        ("score", "INT64", "NULLABLE"),
        ("ratio", "FLOAT64", "NULLABLE"),
        ("isActive", "BOOL", "NULLABLE"),
        ("phone", "STRING", "NULLABLE"),
        ("notes", "STRING", "NULLABLE"),
        ("tags", "STRING", "REPEATED"),
        ("location", "RECORD", "NULLABLE"),
        ("emailAddresses", "RECORD", "REPEATED"),
        ("customFields", "JSON", "NULLABLE"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(field_summary(fields), expected);
    assert_eq!(fields[2]["description"], "When the candidate was created.");
    assert_eq!(fields[10]["fields"][1]["name"], "postalCode");
    assert_eq!(fields[10]["fields"][1]["description"], "Postal code.");
    assert_eq!(fields[11]["fields"][1]["type"], "BOOL");
    assert_tables_become(&dataset, &["candidates"]).await;
}

#[tokio::test]
async fn twenty_thousand_rows_come_back_with_exact_values() {
    let dataset = unique_dataset("bulk");
    let records = candidates(0, 20_000, "");
    let report = run(
        &spec(&dataset, ""),
        &[(descriptor("candidates", candidate_fields()), records.clone())],
    )
    .await
    .unwrap();

    assert_eq!(report.datasets[0].rows, 20_000);
    assert!(report.datasets[0].warnings.is_empty(), "{:?}", report.datasets[0].warnings);
    // 40 insertAll requests of 500 rows, plus the dataset, tables, query and patch calls.
    assert!((40..60).contains(&report.requests), "{}", report.requests);

    let read = rows(&dataset, "candidates", "id").await;
    assert_eq!(read.len(), 20_000);
    for (row, record) in read.iter().zip(&records) {
        assert_same_candidate(row, record);
    }
    // Replace re-applies the descriptions that CREATE ... AS SELECT does not carry over.
    let table = Emulator::shared().table(&dataset, "candidates").await.expect("published");
    assert_eq!(table["schema"]["fields"][0]["description"], "The candidate's id.");
    assert_tables_become(&dataset, &["candidates"]).await;
}

#[tokio::test]
async fn a_replace_run_leaves_exactly_the_new_rows() {
    let dataset = unique_dataset("replace");
    let body = spec(&dataset, "table_prefix = \"ashby_\"");
    let fields = candidate_fields();
    run(&body, &[(descriptor("candidates", fields.clone()), candidates(0, 300, " old"))])
        .await
        .unwrap();
    let report = run(&body, &[(descriptor("candidates", fields), candidates(200, 250, " new"))])
        .await
        .unwrap();

    let read = rows(&dataset, "ashby_candidates", "id").await;
    let ids: Vec<&str> = read.iter().filter_map(|r| r["id"].as_str()).collect();
    let expected: Vec<String> = (200..250).map(|n| format!("c-{n:05}")).collect();
    assert_eq!(ids, expected);
    assert!(read.iter().all(|r| r["name"].as_str().is_some_and(|n| n.ends_with(" new"))));
    assert_eq!(
        report.datasets[0].links,
        [format!(
            "Looker Studio: https://lookerstudio.google.com/reporting/create?\
             ds.ds0.connector=bigQuery&ds.ds0.type=TABLE&ds.ds0.projectId={PROJECT}\
             &ds.ds0.datasetId={dataset}&ds.ds0.tableId=ashby_candidates"
        )]
    );
    assert_tables_become(&dataset, &["ashby_candidates"]).await;
}

#[tokio::test]
async fn an_upsert_updates_changed_rows_and_adds_new_ones_without_duplicates() {
    let dataset = unique_dataset("upsert");
    let body = spec(&dataset, "mode = \"upsert\"");
    let fields = candidate_fields();
    run(&body, &[(descriptor("candidates", fields.clone()), candidates(0, 100, " v1"))])
        .await
        .unwrap();
    run(&body, &[(descriptor("candidates", fields.clone()), candidates(50, 150, " v2"))])
        .await
        .unwrap();

    let read = rows(&dataset, "candidates", "id").await;
    assert_eq!(read.len(), 150, "one row per id");
    for (n, row) in (0..150).zip(&read) {
        let suffix = if n < 50 { " v1" } else { " v2" };
        assert_same_candidate(row, &candidate(n, suffix));
    }
    assert_tables_become(&dataset, &["candidates"]).await;
}

#[tokio::test]
async fn a_new_upstream_column_is_added_as_nullable() {
    let dataset = unique_dataset("newcol");
    let body = spec(&dataset, "mode = \"append\"");
    let mut fields = candidate_fields();
    run(&body, &[(descriptor("candidates", fields.clone()), candidates(0, 5, ""))]).await.unwrap();

    fields.push(Field::new("level", DataType::Integer, "A field Ashby added later."));
    let mut newer = candidates(5, 8, "");
    for (record, level) in newer.iter_mut().zip(1..) {
        record.insert("level".into(), json!(level));
    }
    run(&body, &[(descriptor("candidates", fields), newer)]).await.unwrap();

    let table = Emulator::shared().table(&dataset, "candidates").await.expect("exists");
    let level = table["schema"]["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "level").cloned())
        .expect("the new column is in the schema");
    assert_eq!((level["type"].as_str(), level["mode"].as_str()), (Some("INT64"), Some("NULLABLE")));
    assert_eq!(level["description"], "A field Ashby added later.");

    let read = rows(&dataset, "candidates", "id").await;
    let levels: Vec<Value> = read.iter().map(|r| r["level"].clone()).collect();
    assert_eq!(
        levels,
        [
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!("1"),
            json!("2"),
            json!("3")
        ]
    );
}

#[tokio::test]
async fn a_type_conflict_names_the_column_and_both_types_and_changes_nothing() {
    let dataset = unique_dataset("conflict");
    let body = spec(&dataset, "mode = \"append\"");
    run(&body, &[(descriptor("candidates", candidate_fields()), candidates(0, 20, ""))])
        .await
        .unwrap();

    let mut fields = candidate_fields();
    fields[4] = Field::new("score", DataType::String, "Now text.");
    let mut changed = candidates(20, 30, "");
    for record in &mut changed {
        record.insert("score".into(), json!("high"));
    }
    let error = run(&body, &[(descriptor("candidates", fields), changed)]).await.unwrap_err();

    assert_eq!(error.class(), ErrorClass::Destination);
    let message = error.to_string();
    assert!(
        message.contains("column `score` is INT64 in BigQuery but the data has STRING"),
        "{message}"
    );
    assert_eq!(rows(&dataset, "candidates", "id").await.len(), 20);
    let table = Emulator::shared().table(&dataset, "candidates").await.expect("exists");
    assert_eq!(table["schema"]["fields"][4]["type"], "INT64");
    assert_tables_become(&dataset, &["candidates"]).await;
}

#[tokio::test]
async fn a_run_that_fails_midway_changes_nothing_and_its_retry_leaves_no_duplicates() {
    let dataset = unique_dataset("retry");
    let body = spec(&dataset, "mode = \"append\"\nbatch_rows = 200");
    let fields = candidate_fields();
    run(&body, &[(descriptor("candidates", fields.clone()), candidates(0, 100, ""))])
        .await
        .unwrap();

    // The second run's row 1,500 cannot be loaded: the sink stops after streaming the rows
    // before it into staging.
    let mut second = candidates(100, 3_000, "");
    second[1_499].insert("createdAt".into(), json!("not a time"));
    let mut sink = open(&body).await.unwrap();
    sink.begin_dataset(&descriptor("candidates", fields.clone())).await.unwrap();
    let mut failure = None;
    for batch in second.chunks(BATCH) {
        if let Err(error) = sink.write_batch(batch).await {
            failure = Some(error);
            break;
        }
    }
    let message = failure.expect("the bad row fails the run").to_string();
    assert!(
        message.contains("row 1500 (id c-01599): `createdAt` should be an ISO-8601 timestamp"),
        "{message}"
    );
    drop(sink);
    assert_eq!(rows(&dataset, "candidates", "id").await.len(), 100, "the target is untouched");
    assert_tables_become(&dataset, &["candidates"]).await;

    // The runner drops a sink unfinished when something else fails: nothing is published and
    // the staging table goes too.
    let mut sink = open(&body).await.unwrap();
    sink.begin_dataset(&descriptor("candidates", fields.clone())).await.unwrap();
    sink.write_batch(&candidates(100, 1_100, "")).await.unwrap();
    drop(sink);
    assert_tables_become(&dataset, &["candidates"]).await;
    assert_eq!(rows(&dataset, "candidates", "id").await.len(), 100);

    // The retried run loads everything exactly once.
    run(&body, &[(descriptor("candidates", fields), candidates(100, 3_000, ""))]).await.unwrap();
    let read = rows(&dataset, "candidates", "id").await;
    assert_eq!(read.len(), 3_000);
    let mut ids: Vec<&str> = read.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3_000, "no duplicates");
}

#[tokio::test]
async fn nested_json_stores_objects_and_lists_as_json_columns() {
    let dataset = unique_dataset("json");
    run(
        &spec(&dataset, "nested = \"json\"\nmode = \"append\""),
        &[(descriptor("candidates", candidate_fields()), candidates(0, 3, ""))],
    )
    .await
    .unwrap();

    let table = Emulator::shared().table(&dataset, "candidates").await.expect("exists");
    let summary = field_summary(&table["schema"]["fields"]);
    for name in ["tags", "location", "emailAddresses", "customFields"] {
        let column = summary.iter().find(|(n, ..)| n == name).expect("column exists");
        assert_eq!((column.1.as_str(), column.2.as_str()), ("JSON", "NULLABLE"), "{name}");
    }
    let read = rows(&dataset, "candidates", "id").await;
    for (row, record) in read.iter().zip(candidates(0, 3, "")) {
        for name in ["tags", "location", "emailAddresses"] {
            let parsed: Value = serde_json::from_str(row[name].as_str().unwrap_or("null")).unwrap();
            assert_eq!(parsed, record[name], "{name}");
        }
    }
}
