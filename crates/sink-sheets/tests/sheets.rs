//! The Sheets sink against the fake Sheets server: every mode read back cell by cell, retries
//! under quota storms and lost replies, the cell limit, sharing and credential errors.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use ashflow_core::{DataType, ErrorClass, Field};
use ashflow_fake_sheets::{CellValue, FakeSheetsConfig, Fault, FaultRule, key};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use support::*;

/// Days since 1899-12-30 of an RFC 3339 instant, computed independently of the sink.
fn serial(text: &str) -> f64 {
    let instant: DateTime<Utc> = text.parse().expect("an instant");
    let epoch =
        NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    (instant - epoch).num_milliseconds() as f64 / 86_400_000.0
}

fn ids(name: &str, rows: &[(&str, &str)]) -> Dataset {
    dataset(
        name,
        vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("name", DataType::String, "Name."),
        ],
        rows.iter().map(|(id, name)| json!({"id": id, "name": name})).collect(),
    )
}

#[tokio::test]
async fn replace_writes_awkward_values_with_their_types_in_order() {
    let harness = Harness::start().await;
    let report = run(harness.sink(""), &[awkward_candidates()]).await.unwrap();

    let values = harness.values("candidates");
    let header: Vec<_> = [
        "id",
        "name",
        "phone",
        "createdAt",
        "score",
        "applications",
        "archived",
        "source.title",
        "tags",
        "notes",
    ]
    .iter()
    .map(|h| s(h))
    .collect();
    assert_eq!(values[0], header);
    let notes = match &values[1][9] {
        Some(CellValue::String(text)) => text.clone(),
        other => panic!("notes is {other:?}"),
    };
    assert!(notes.chars().count() <= 50_000);
    assert!(notes.starts_with("xxxx"));
    assert!(
        notes.ends_with("…[truncated by ashflow: 60,000 characters in total]"),
        "{}",
        &notes[notes.len() - 80..]
    );
    assert_eq!(
        values[1],
        vec![
            s("007"),
            s("=SUM(A1)"),
            s("+1 555 0100"),
            n(serial("2024-01-02T12:00:00Z")),
            n(4.5),
            n(3.0),
            b(false),
            s("LinkedIn"),
            s(r#"["a","b"]"#),
            s(&notes)
        ]
    );
    assert_eq!(
        values[2],
        vec![
            s("0042"),
            s("محمد الأحمد"),
            s("00441234"),
            n(serial("2023-06-30T23:59:59.500Z")),
            None,
            n(0.0),
            b(true),
            None,
            s("[]"),
            s("👩‍💻 ships 🚀")
        ]
    );
    assert_eq!(
        values[3],
        vec![s("c-3"), s("TRUE"), None, None, n(-0.25), None, None, None, None, s("'quoted")]
    );
    assert_eq!(values.len(), 4);

    // The grid is exactly the data, the header is bold, frozen and filterable, the time column
    // is formatted on every data row, and widths follow the content.
    assert_eq!(harness.grid_size("candidates"), (4, 10));
    harness.fake.with_book(BOOK, |book| {
        let tab = book.tab("candidates").unwrap();
        assert_eq!(tab.frozen_rows, 1);
        assert_eq!(tab.format_at(0, 0)["textFormat"]["bold"], json!(true));
        for row in 1..4 {
            assert_eq!(
                tab.format_at(row, 3)["numberFormat"]["pattern"],
                json!("yyyy-mm-dd hh:mm:ss")
            );
            assert!(!tab.format_at(row, 0).contains_key("numberFormat"));
        }
        let filter = tab.basic_filter.unwrap();
        assert_eq!((filter.end_row, filter.end_column), (4, 10));
        assert!(tab.column_widths[&9] > tab.column_widths[&0], "{:?}", tab.column_widths);
        assert_eq!(tab.column_widths.len(), 10);
    });

    assert_eq!(report.datasets.len(), 1);
    assert_eq!(report.datasets[0].rows, 3);
    assert_eq!(report.datasets[0].warnings.len(), 1, "{:?}", report.datasets[0].warnings);
    assert!(report.datasets[0].warnings[0].contains("(columns: notes)"));
    let writes = harness.fake.requests().iter().filter(|r| r.is_write()).count() as u64;
    assert!(
        report.requests >= writes && writes >= 3,
        "{} requests, {writes} writes",
        report.requests
    );
    let tokens: Vec<_> =
        harness.fake.requests().into_iter().filter(|r| r.kind == "token").collect();
    assert_eq!(tokens.len(), 1, "one token for one scope");
    assert!(tokens.iter().all(|t| t.status == 200));
}

#[tokio::test]
async fn replace_overwrites_in_place_keeps_the_tab_and_clears_leftovers_last() {
    let harness = Harness::start().await;
    let old: Vec<_> = (0..8).map(|i| json!([format!("old-{i}"), "x", "y", "z"])).collect();
    harness.fake.seed(BOOK, "jobs", &old).unwrap();
    let sheet_id = harness.sheet_id("jobs");
    harness.fake.clear_requests();

    run(harness.sink(""), &[ids("jobs", &[("j1", "Engineer"), ("j2", "Designer")])]).await.unwrap();

    assert_eq!(harness.sheet_id("jobs"), sheet_id, "the tab is the same tab");
    assert_eq!(
        harness.values("jobs"),
        vec![vec![s("id"), s("name")], vec![s("j1"), s("Engineer")], vec![s("j2"), s("Designer")]]
    );
    assert_eq!(harness.grid_size("jobs"), (3, 2));

    // Nothing is cleared or deleted before the new values are in: the only shrinking request
    // comes after the last values write.
    let log = harness.fake.requests();
    let last_values = log.iter().rposition(|r| r.kind == "values.batchUpdate").unwrap();
    let first_shrink = log
        .iter()
        .position(|r| {
            r.kind.contains("clear")
                || r.requests.iter().any(|k| k == "deleteDimension" || k == "deleteSheet")
        })
        .unwrap();
    assert!(first_shrink > last_values, "{log:#?}");
}

#[tokio::test]
async fn a_replace_that_fails_mid_write_leaves_old_rows_not_a_blank_tab() {
    let harness = Harness::start().await;
    let old: Vec<_> = (0..6).map(|i| json!([format!("old-{i}"), "x"])).collect();
    harness.fake.seed(BOOK, "jobs", &old).unwrap();
    for write in 1..=20 {
        harness.fake.inject(FaultRule::NthWrite(write, Fault::Unavailable));
    }

    let error = run(harness.sink(""), &[ids("jobs", &[("j1", "A")])]).await.unwrap_err();

    assert_eq!(error.class(), ErrorClass::Upstream);
    assert!(error.to_string().contains("run again later"), "{error}");
    assert_eq!(harness.values("jobs").len(), 6, "the old rows are still there");
}

#[tokio::test]
async fn append_matches_columns_by_header_and_adds_new_columns_at_the_end() {
    let harness = Harness::start().await;
    harness
        .fake
        .seed(BOOK, "applications", &[json!(["name", "id", "kept"]), json!(["Old", "a-1", "note"])])
        .unwrap();
    let fields = vec![
        Field::new("id", DataType::String, "Id."),
        Field::new("name", DataType::String, "Name."),
        Field::new("stage", DataType::String, "Stage."),
    ];
    let new = dataset(
        "applications",
        fields,
        vec![json!({"id": "a-2", "name": "New", "stage": "Offer"})],
    );

    let report = run(harness.sink("mode = \"append\"\n"), &[new]).await.unwrap();

    assert_eq!(
        harness.values("applications"),
        vec![
            vec![s("name"), s("id"), s("kept"), s("stage")],
            vec![s("Old"), s("a-1"), s("note")],
            vec![s("New"), s("a-2"), None, s("Offer")],
        ]
    );
    assert_eq!(report.datasets[0].rows, 1);

    // A second append lands below, and a fresh tab gets the header first.
    run(
        harness.sink("mode = \"append\"\n"),
        &[ids("applications", &[("a-3", "Third")]), ids("fresh", &[("f", "F")])],
    )
    .await
    .unwrap();
    assert_eq!(harness.values("applications")[3], vec![s("Third"), s("a-3")]);
    assert_eq!(harness.values("fresh"), vec![vec![s("id"), s("name")], vec![s("f"), s("F")]]);
}

#[tokio::test]
async fn upsert_updates_rows_in_place_adds_new_ones_and_leaves_others_where_they_were() {
    let harness = Harness::start().await;
    harness
        .fake
        .seed(
            BOOK,
            "candidates",
            &[
                json!(["id", "name", "owner notes"]),
                json!(["c1", "Ann", "call back"]),
                json!(["c2", "Bob", "no"]),
                json!(["c3", "Cid", ""]),
            ],
        )
        .unwrap();

    let report = run(
        harness.sink("mode = \"upsert\"\n"),
        &[ids("candidates", &[("c3", "Cid Changed"), ("c4", "Dee"), ("c1", "Ann")])],
    )
    .await
    .unwrap();

    assert_eq!(
        harness.values("candidates"),
        vec![
            vec![s("id"), s("name"), s("owner notes")],
            vec![s("c1"), s("Ann"), s("call back")],
            vec![s("c2"), s("Bob"), s("no")],
            vec![s("c3"), s("Cid Changed")],
            vec![s("c4"), s("Dee")],
        ]
    );
    assert_eq!(report.datasets[0].rows, 2, "the unchanged row is not rewritten");
    let written: Vec<_> =
        harness.fake.requests().into_iter().filter(|r| r.kind == "values.batchUpdate").collect();
    assert_eq!(written.len(), 1, "{written:#?}");
}

#[tokio::test]
async fn upsert_needs_the_key_in_the_dataset_and_the_tab() {
    let harness = Harness::start().await;
    harness.fake.seed(BOOK, "jobs", &[json!(["title"]), json!(["Engineer"])]).unwrap();

    let error =
        run(harness.sink("mode = \"upsert\"\n"), &[ids("jobs", &[("j1", "A")])]).await.unwrap_err();
    assert!(
        error.to_string().contains("the tab `jobs` has no such column in its header row"),
        "{error}"
    );

    let error =
        run(harness.sink("mode = \"upsert\"\nkey = \"jobId\"\n"), &[ids("jobs", &[("j1", "A")])])
            .await
            .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot upsert dataset `jobs` by `jobId`: the dataset has no such column"),
        "{error}"
    );
    assert_eq!(harness.values("jobs"), vec![vec![s("title")], vec![s("Engineer")]]);
}

#[tokio::test]
async fn a_quota_storm_and_lost_replies_mid_write_still_leave_the_tab_complete() {
    let harness = Harness::start_with(FakeSheetsConfig {
        write_requests_per_window: 3,
        read_requests_per_window: 10_000,
        quota_window: Duration::from_millis(150),
        ..FakeSheetsConfig::default()
    })
    .await;
    // The fake's 5xx come on top of the 429s: one refused before it applied, one applied
    // whose reply was lost.
    harness.fake.inject(FaultRule::NthWrite(3, Fault::InternalAfterApply));
    harness.fake.inject(FaultRule::NthWrite(5, Fault::Unavailable));
    harness.fake.inject(FaultRule::NthWrite(6, Fault::InternalAfterApply));
    let rows: Vec<(String, String)> =
        (0..400).map(|i| (format!("{i:05}"), format!("name {i} {}", "é".repeat(300)))).collect();
    let borrowed: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let sink = harness
        .sink("max_request_bytes = 65536\nwrite_requests_per_minute = 300\n")
        .with_backoff(Duration::from_millis(20), Duration::from_millis(200), 30);

    let report = run(sink, &[ids("candidates", &borrowed)]).await.unwrap();

    let values = harness.values("candidates");
    assert_eq!(values.len(), 401);
    for (index, (id, name)) in rows.iter().enumerate() {
        assert_eq!(values[index + 1], vec![s(id), s(name)], "row {index}");
    }
    let log = harness.fake.requests();
    let throttled = log.iter().filter(|r| r.status == 429).count();
    let failed = log.iter().filter(|r| r.status >= 500).count();
    assert!(throttled > 0, "the storm happened");
    assert_eq!(failed, 3);
    let value_writes =
        log.iter().filter(|r| r.kind == "values.batchUpdate" && r.status == 200).count();
    assert!(value_writes >= 4, "the rows needed several requests: {value_writes}");
    assert_eq!(report.requests, log.iter().filter(|r| r.kind != "token").count() as u64);
}

#[tokio::test]
async fn the_sink_paces_writes_under_its_per_minute_quota() {
    let harness = Harness::start_with(FakeSheetsConfig {
        write_requests_per_window: 2,
        read_requests_per_window: 10_000,
        quota_window: Duration::from_millis(300),
        ..FakeSheetsConfig::default()
    })
    .await;
    // The sink's window is a little longer than the fake's, as a client's clock starts each
    // window when it sends and the server's when the request arrives.
    let sink = harness
        .sink("write_requests_per_minute = 2\n")
        .with_quota_window(Duration::from_millis(400));

    run(sink, &[ids("a", &[("1", "x")]), ids("b", &[("2", "y")])]).await.unwrap();

    let log = harness.fake.requests();
    assert!(log.iter().all(|r| r.status != 429), "{log:#?}");
    assert_eq!(log.iter().filter(|r| r.is_write()).count(), 6);
}

#[tokio::test]
async fn a_dataset_past_the_cell_limit_is_refused_before_anything_is_written() {
    let harness = Harness::start().await;
    harness.fake.seed(BOOK, "jobs", &[json!(["id", "name"]), json!(["j0", "Kept"])]).unwrap();
    harness.fake.with_book_mut(BOOK, |book| {
        book.add_tab("archive", 997_000, 10).unwrap();
    });
    harness.fake.clear_requests();
    let rows: Vec<(String, String)> = (0..5_000).map(|i| (format!("j{i}"), "n".into())).collect();
    let borrowed: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();

    let error = run(harness.sink(""), &[ids("jobs", &borrowed)]).await.unwrap_err();

    assert_eq!(error.class(), ErrorClass::Destination);
    let message = error.to_string();
    assert!(message.contains("dataset `jobs` does not fit"), "{message}");
    assert!(message.contains("5,001 rows x 26 columns = 130,026 cells"), "{message}");
    assert!(message.contains("the other tabs hold 9,996,000 cells"), "{message}");
    assert!(message.contains("at most 10,000,000 cells"), "{message}");
    assert_eq!(harness.values("jobs"), vec![vec![s("id"), s("name")], vec![s("j0"), s("Kept")]]);
    assert!(harness.fake.requests().iter().all(|r| !r.is_write()));
}

#[tokio::test]
async fn nothing_is_written_when_the_run_stops_before_finish() {
    let harness = Harness::start().await;
    harness.fake.seed(BOOK, "jobs", &[json!(["id"]), json!(["old"])]).unwrap();
    let validated: Box<dyn ashflow_core::ValidatedSink> = Box::new(harness.sink(""));
    let mut sink = validated.open().await.unwrap();
    let jobs = ids("jobs", &[("new", "x")]);
    sink.begin_dataset(&jobs.descriptor).await.unwrap();
    sink.write_batch(&jobs.records).await.unwrap();
    sink.end_dataset().await.unwrap();
    drop(sink);

    assert_eq!(harness.values("jobs"), vec![vec![s("id")], vec![s("old")]]);
    assert!(harness.fake.requests().iter().all(|r| !r.is_write()));
}

#[tokio::test]
async fn a_spreadsheet_not_shared_with_the_account_names_its_email() {
    let harness = Harness::start().await;
    let stranger = "stranger@other-project.iam.gserviceaccount.com";
    let key_file =
        key::write_service_account_key(harness.folder.path(), stranger, &harness.fake.token_uri())
            .unwrap();

    let error =
        run(harness.sink_with_key(&key_file.display().to_string(), ""), &[]).await.unwrap_err();

    assert_eq!(error.class(), ErrorClass::Permission);
    let message = error.to_string();
    assert!(
        message.contains(&format!("not shared with the service account {stranger}")),
        "{message}"
    );
    assert!(message.contains(&format!("add {stranger} as an Editor")), "{message}");
}

#[tokio::test]
async fn bad_credentials_say_what_is_wrong_with_them() {
    let harness = Harness::start().await;

    let missing = harness.folder.path().join("missing.json");
    let error =
        run(harness.sink_with_key(&missing.display().to_string(), ""), &[]).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Io);
    assert!(error.to_string().contains("cannot read the service-account key file"), "{error}");

    let not_json = harness.folder.path().join("notes.json");
    std::fs::write(&not_json, "hello").unwrap();
    let error =
        run(harness.sink_with_key(&not_json.display().to_string(), ""), &[]).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Config);
    assert!(
        error.to_string().contains("is not a Google service-account key file (it is not JSON)"),
        "{error}"
    );

    let error =
        run(harness.sink_with_key("${ASHFLOW_TEST_UNSET_SHEETS_KEY}", ""), &[]).await.unwrap_err();
    assert!(error.to_string().contains("export ASHFLOW_TEST_UNSET_SHEETS_KEY="), "{error}");

    // A key whose signature does not match the account's registered key is refused by the
    // token endpoint, and the error names the account.
    let other_pem = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .unwrap()
        .stdout;
    let mut forged: serde_json::Value = serde_json::from_str(
        &key::service_account_key_json(EMAIL, &harness.fake.token_uri()).unwrap(),
    )
    .unwrap();
    forged["private_key"] = json!(String::from_utf8(other_pem).unwrap());
    let forged_file = harness.folder.path().join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let error =
        run(harness.sink_with_key(&forged_file.display().to_string(), ""), &[]).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Auth);
    assert!(
        error.to_string().contains(&format!("Google refused the service account {EMAIL}'s key")),
        "{error}"
    );
}
