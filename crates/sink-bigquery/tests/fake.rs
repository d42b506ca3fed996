//! The sink against the local fake, for what the emulator does not reproduce: rows BigQuery
//! rejects one by one, 429 and 5xx answers, service-account tokens, and the statements each
//! mode publishes with.

mod common;

use std::process::Command;
use std::time::Duration;

use ashflow_core::prelude::*;
use ashflow_fake_bigquery::FakeBigQuery;
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

fn spec(fake: &FakeBigQuery, extra: &str) -> String {
    format!(
        "auth = \"none\"\nbase_url = \"{}\"\nproject = \"acme\"\nbigquery_dataset = \"ashby\"\n{extra}",
        fake.url()
    )
}

fn small_fields() -> Vec<Field> {
    vec![Field::new("id", DataType::String, "Id."), Field::new("name", DataType::String, "Name.")]
}

fn small(count: u64, marked: &[u64]) -> Vec<Record> {
    (1..=count)
        .map(|n| {
            let name = if marked.contains(&n) { format!("MARKER {n}") } else { format!("n{n}") };
            match json!({"id": format!("c-{n}"), "name": name}) {
                Value::Object(map) => map,
                _ => unreachable!(),
            }
        })
        .collect()
}

#[tokio::test]
async fn rows_bigquery_rejects_are_reported_by_row_and_reason_and_fail_the_run() {
    let fake = FakeBigQuery::start().await;
    fake.reject_rows_containing("MARKER");

    let error =
        run(&spec(&fake, ""), &[(descriptor("candidates", small_fields()), small(10, &[3]))])
            .await
            .unwrap_err();

    assert_eq!(error.class(), ErrorClass::Destination);
    let message = error.to_string();
    assert!(
        message.contains(
            "1 rows of `candidates` were rejected, more than max_bad_rows = 0: row 3 (id c-3): \
             BigQuery rejected it (invalid: no such field: marker.)"
        ),
        "{message}"
    );
    assert!(fake.tables("ashby").is_empty(), "staging dropped: {:?}", fake.tables("ashby"));
    assert!(fake.statements().is_empty(), "nothing published: {:?}", fake.statements());
}

#[tokio::test]
async fn max_bad_rows_publishes_the_other_rows_and_lists_the_rejected_ones() {
    let fake = FakeBigQuery::start().await;
    fake.reject_rows_containing("MARKER");

    let report = run(
        &spec(&fake, "max_bad_rows = 2\nmode = \"append\""),
        &[(descriptor("candidates", small_fields()), small(10, &[2, 7]))],
    )
    .await
    .unwrap();

    let dataset = &report.datasets[0];
    assert_eq!(dataset.rows, 8);
    assert_eq!(dataset.warnings.len(), 1, "{:?}", dataset.warnings);
    assert!(dataset.warnings[0].starts_with("2 rows rejected (max_bad_rows = 2): row 2 (id c-2)"));
    assert!(dataset.warnings[0].contains("row 7 (id c-7): BigQuery rejected it (invalid:"));
    // The rows BigQuery held back ("stopped") were sent again; the invalid ones were not.
    let names: Vec<Value> =
        fake.rows("ashby.candidates").iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names, ["n1", "n3", "n4", "n5", "n6", "n8", "n9", "n10"]);
    assert_eq!(fake.tables("ashby"), ["candidates"]);
}

#[tokio::test]
async fn rows_that_do_not_fit_their_columns_count_as_bad_rows_too() {
    let fake = FakeBigQuery::start().await;
    let fields =
        vec![Field::new("id", DataType::String, ""), Field::new("score", DataType::Integer, "")];
    let records: Vec<Record> = [json!({"id": "a", "score": 1}), json!({"id": "b", "score": "x"})]
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect();

    let report = run(
        &spec(&fake, "max_bad_rows = 1"),
        &[(descriptor("scores", fields.clone()), records.clone())],
    )
    .await
    .unwrap();
    assert_eq!(report.datasets[0].rows, 1);
    assert!(
        report.datasets[0].warnings[0]
            .contains("row 2 (id b): `score` should be a whole number, found \"x\"")
    );

    let error =
        run(&spec(&fake, ""), &[(descriptor("scores", fields), records)]).await.unwrap_err();
    assert!(error.to_string().contains("max_bad_rows = 0: row 2 (id b)"), "{error}");
}

#[tokio::test]
async fn answers_429_and_5xx_are_retried_without_duplicating_rows() {
    let fake = FakeBigQuery::start().await;
    fake.fail_inserts(&[429, 503]);
    fake.fail_queries(&[500]);

    let report = run(
        &spec(&fake, "batch_rows = 4\nmode = \"append\""),
        &[(descriptor("candidates", small_fields()), small(10, &[]))],
    )
    .await
    .unwrap();

    assert_eq!(report.datasets[0].rows, 10);
    // Three batches of at most four rows, two of them answered with an error first.
    assert_eq!(fake.insert_requests(), 5);
    assert_eq!(fake.rows("ashby.candidates").len(), 10);
    let inserts: Vec<String> =
        fake.statements().into_iter().filter(|s| s.starts_with("INSERT INTO")).collect();
    assert_eq!(inserts.len(), 2, "the failed statement and its retry");
    assert!(report.requests >= 5 + 2, "{}", report.requests);
}

#[tokio::test]
async fn retries_stop_after_max_retries_with_a_clear_error_and_no_staging_left() {
    let fake = FakeBigQuery::start().await;
    fake.fail_inserts(&[503, 503, 503]);

    let error = run(
        &spec(&fake, "max_retries = 1"),
        &[(descriptor("candidates", small_fields()), small(3, &[]))],
    )
    .await
    .unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains("BigQuery could not stream rows into ashby.candidates__staging_"),
        "{message}"
    );
    assert!(
        message.contains("HTTP 503 UNAVAILABLE: injected failure (gave up after 1 retries)"),
        "{message}"
    );
    assert_eq!(fake.insert_requests(), 2);
    assert!(fake.tables("ashby").is_empty(), "{:?}", fake.tables("ashby"));
}

#[tokio::test]
async fn each_mode_publishes_with_one_statement_from_staging() {
    let fake = FakeBigQuery::start().await;
    let dataset = [(descriptor("candidates", small_fields()), small(3, &[]))];

    run(&spec(&fake, ""), &dataset).await.unwrap();
    run(&spec(&fake, "mode = \"append\""), &dataset).await.unwrap();
    run(&spec(&fake, "mode = \"upsert\""), &dataset).await.unwrap();

    let statements = fake.statements();
    assert_eq!(statements.len(), 3, "{statements:#?}");
    assert!(statements[0].starts_with(
        "CREATE OR REPLACE TABLE `acme.ashby.candidates` AS SELECT `id`, `name` FROM `acme.ashby.candidates__staging_"
    ));
    assert!(statements[1].starts_with(
        "INSERT INTO `acme.ashby.candidates` (`id`, `name`) SELECT `id`, `name` FROM `acme.ashby.candidates__staging_"
    ));
    assert!(
        statements[2]
            .starts_with("MERGE `acme.ashby.candidates` AS T USING (SELECT `id`, `name` FROM")
    );
    assert!(statements[2].contains(
        "ON T.`id` = S.`id` WHEN MATCHED THEN UPDATE SET `name` = S.`name` WHEN NOT MATCHED THEN \
         INSERT (`id`, `name`) VALUES (S.`id`, S.`name`)"
    ));
    // Replace patched the descriptions back onto the table it created.
    let table = fake.table("ashby.candidates").expect("published");
    assert_eq!(table["schema"]["fields"][1]["description"], "Name.");
    assert_eq!(fake.tables("ashby"), ["candidates"]);
}

#[tokio::test]
async fn an_upsert_needs_its_key_in_the_dataset() {
    let fake = FakeBigQuery::start().await;
    let error = run(
        &spec(&fake, "mode = \"upsert\"\nkey = \"uuid\""),
        &[(descriptor("candidates", small_fields()), small(3, &[]))],
    )
    .await
    .unwrap_err();

    assert_eq!(error.class(), ErrorClass::Config);
    assert!(error.to_string().contains("dataset `candidates` has no field `uuid` to upsert by"));
}

#[tokio::test]
async fn a_sink_dropped_unfinished_publishes_nothing_and_drops_its_staging_table() {
    let fake = FakeBigQuery::start().await;
    let mut sink = open(&spec(&fake, "")).await.unwrap();
    sink.begin_dataset(&descriptor("candidates", small_fields())).await.unwrap();
    sink.write_batch(&small(5, &[])).await.unwrap();
    sink.end_dataset().await.unwrap();
    assert_eq!(fake.tables("ashby").len(), 1, "a staging table exists while the run goes on");
    drop(sink);

    for _ in 0..50 {
        if fake.tables("ashby").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(fake.tables("ashby").is_empty(), "{:?}", fake.tables("ashby"));
    assert!(fake.statements().is_empty());
}

/// A service-account key for the fake's token endpoint, with an RSA key made for this test.
fn service_account_key(dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
    let pem = dir.join("private.pem");
    let status = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&pem)
        .status()
        .expect("openssl runs (install it with your package manager)");
    assert!(status.success(), "openssl genpkey failed");
    let private_key = std::fs::read_to_string(&pem).expect("the key was written");
    let key = json!({
        "type": "service_account",
        "project_id": "acme",
        "private_key_id": "test-key-1",
        "private_key": private_key,
        "client_email": "exporter@acme.iam.gserviceaccount.com",
        "client_id": "1",
        "auth_uri": "http://127.0.0.1/unused",
        "token_uri": token_uri,
    });
    let path = dir.join("key.json");
    std::fs::write(&path, key.to_string()).expect("the key file is written");
    path
}

#[tokio::test]
async fn a_service_account_key_gets_a_token_from_its_token_uri_and_sends_it() {
    let fake = FakeBigQuery::start().await;
    fake.require_token("fake-token-1");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let key = service_account_key(dir.path(), &fake.token_uri());
    let body = format!(
        "credentials = \"{}\"\nbase_url = \"{}\"\nproject = \"acme\"\nbigquery_dataset = \"ashby\"\n",
        key.display(),
        fake.url()
    );

    run(&body, &[(descriptor("candidates", small_fields()), small(3, &[]))]).await.unwrap();

    assert_eq!(fake.rows("ashby.candidates").len(), 3);
    let requests = fake.token_requests();
    assert!(!requests.is_empty());
    let form = &requests[0];
    assert!(
        form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{form}"
    );
    let assertion = form
        .split("assertion=")
        .nth(1)
        .expect("a signed assertion")
        .split('&')
        .next()
        .unwrap_or_default();
    let payload = assertion.split('.').nth(1).expect("a JWT has three parts");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url"),
    )
    .expect("JSON claims");
    assert_eq!(claims["iss"], "exporter@acme.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], fake.token_uri());
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/bigquery");
}

#[tokio::test]
async fn a_refused_key_fails_at_open_as_an_authentication_error() {
    let fake = FakeBigQuery::start().await;
    fake.refuse_tokens();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let key = service_account_key(dir.path(), &fake.token_uri());
    let body = format!(
        "credentials = \"{}\"\nbase_url = \"{}\"\nproject = \"acme\"\nbigquery_dataset = \"ashby\"\n",
        key.display(),
        fake.url()
    );

    let Err(error) = open(&body).await else { panic!("the sink must not open") };
    assert_eq!(error.class(), ErrorClass::Auth);
    assert!(
        error.to_string().contains("Google refused the service account's credentials"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_or_malformed_key_file_is_a_configuration_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let malformed = dir.path().join("key.json");
    std::fs::write(&malformed, "{\"type\": \"authorized_user\"}").expect("written");

    for path in [dir.path().join("missing.json"), malformed] {
        let body = format!(
            "credentials = \"{}\"\nproject = \"acme\"\nbigquery_dataset = \"ashby\"\nbase_url = \"http://127.0.0.1:9\"\n",
            path.display()
        );
        let Err(error) = open(&body).await else { panic!("the sink must not open") };
        assert_eq!(error.class(), ErrorClass::Config);
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("download a JSON key"), "{message}");
    }
}
