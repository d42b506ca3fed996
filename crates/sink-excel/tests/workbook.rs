//! End-to-end tests of the Excel sink: hand-built datasets go through the whole sink lifecycle,
//! and the workbook is read back with calamine (cells, sheets, tables) and, for what calamine
//! does not expose (frozen panes, filters, widths), from the xlsx's own XML.

// Clippy's allow-unwrap-in-tests covers `#[test]` functions but not the helpers they share here,
// and a failing helper should fail its test just the same.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ashflow_core::prelude::*;
use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

// ----- helpers -------------------------------------------------------------------------------

fn spec_table(body: &str) -> ConfigTable {
    let document = format!("[sinks.workbook]\ntype = \"excel\"\n{body}");
    ConfigTable::new("spec.toml", Arc::from(document), vec!["sinks".into(), "workbook".into()])
}

fn context(dir: &Path) -> SpecContext {
    SpecContext { spec_dir: dir.to_path_buf(), component_id: "workbook".into() }
}

async fn open_sink(dir: &Path, body: &str) -> Box<dyn Sink> {
    let validated = ashflow_sink_excel::validate(&spec_table(body), &context(dir)).unwrap();
    validated.open().await.unwrap()
}

fn record(value: Value) -> Record {
    value.as_object().cloned().expect("test records are objects")
}

fn dataset(name: &str, schema: Schema) -> DatasetDescriptor {
    DatasetDescriptor {
        name: name.into(),
        description: format!("The {name}."),
        schema,
        primary_key: Some("id".into()),
        rows: None,
    }
}

/// Runs the whole lifecycle, sending each dataset's records in batches of two.
async fn run(dir: &Path, body: &str, datasets: &[(DatasetDescriptor, Vec<Record>)]) -> SinkReport {
    let mut sink = open_sink(dir, body).await;
    for (descriptor, records) in datasets {
        sink.begin_dataset(descriptor).await.unwrap();
        for batch in records.chunks(2) {
            sink.write_batch(batch).await.unwrap();
        }
        sink.end_dataset().await.unwrap();
    }
    sink.finish().await.unwrap()
}

fn open(path: &Path) -> Xlsx<std::io::BufReader<std::fs::File>> {
    open_workbook(path).unwrap()
}

fn rows(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let range = open(path).worksheet_range(sheet).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

fn strings(row: &[Data]) -> Vec<String> {
    row.iter().map(ToString::to_string).collect()
}

/// The text of one part of the xlsx package, such as `xl/worksheets/sheet1.xml`.
fn package_part(path: &Path, part: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    archive.by_name(part).unwrap().read_to_string(&mut text).unwrap();
    text
}

fn datetime(value: &Data) -> NaiveDateTime {
    match value {
        Data::DateTime(excel) => excel.as_datetime().expect("a valid Excel date-time"),
        other => panic!("expected a date-time cell, found {other:?}"),
    }
}

fn text(value: &Data) -> &str {
    match value {
        Data::String(text) => text,
        other => panic!("expected a text cell, found {other:?}"),
    }
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

fn instant(text: &str) -> NaiveDateTime {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().naive_utc()
}

fn candidate_schema() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::String, "The candidate's id."),
        Field::new("createdAt", DataType::Timestamp, "When the candidate was added."),
        Field::new("birthday", DataType::Date, "A calendar date."),
        Field::new("applications", DataType::Integer, "How many applications."),
        Field::new("score", DataType::Number, "A score with a fraction."),
        Field::new("isActive", DataType::Boolean, "Whether the candidate is active."),
        Field::new(
            "primaryEmailAddress",
            DataType::Object(vec![
                Field::new("value", DataType::String, "The address.").contact(),
                Field::new("type", DataType::String, "Personal or work."),
            ]),
            "The main e-mail address.",
        ),
        Field::new("tags", DataType::Array(Box::new(DataType::String)), "Tags."),
        Field::new("phone", DataType::String, "A phone number.").contact(),
        Field::new("note", DataType::String, "Free text."),
        Field::new("custom", DataType::Json, "Anything."),
    ])
}

fn candidates() -> Vec<Record> {
    vec![
        record(json!({
            "id": "000123",
            "createdAt": "2024-01-02T03:04:05.678Z",
            "birthday": "1990-07-15",
            "applications": 3,
            "score": 4.25,
            "isActive": true,
            "primaryEmailAddress": {"value": "zoe@example.com", "type": "Personal"},
            "tags": ["a", "b"],
            "phone": "+44 20 7946 0000",
            "note": "=1+1",
            "custom": {"nested": [1, 2]}
        })),
        record(json!({
            "id": "-5",
            "createdAt": "2022-07-21T17:32:28Z",
            "birthday": null,
            "applications": 9_007_199_254_740_993_i64,
            "score": -0.5,
            "isActive": false,
            "primaryEmailAddress": null,
            "tags": [],
            "phone": "@x",
            "note": "Zoë 😀 שלום עולם مرحبا"
        })),
        record(json!({"id": "only-id"})),
    ]
}

// ----- tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn datasets_become_typed_sheets_in_the_order_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let postings = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);
    let report = run(
        dir.path(),
        "path = \"ashby.xlsx\"\n",
        &[
            (dataset("candidates", candidate_schema()), candidates()),
            (dataset("ashby_job_postings", postings), vec![record(json!({"id": "p1"}))]),
        ],
    )
    .await;
    let path = dir.path().join("ashby.xlsx");

    assert_eq!(open(&path).sheet_names(), ["candidates", "ashby_job_postings", "Data dictionary"]);
    assert_eq!(report.location.as_deref(), Some(path.to_str().unwrap()));
    assert_eq!(report.requests, 0);
    let summary: Vec<_> = report.datasets.iter().map(|d| (d.dataset.as_str(), d.rows)).collect();
    assert_eq!(summary, [("candidates", 3), ("ashby_job_postings", 1)]);
    assert!(report.datasets.iter().all(|d| d.warnings.is_empty()), "{:?}", report.datasets);

    let sheet = rows(&path, "candidates");
    assert_eq!(
        strings(&sheet[0]),
        [
            "id",
            "createdAt",
            "birthday",
            "applications",
            "score",
            "isActive",
            "primaryEmailAddress.value",
            "primaryEmailAddress.type",
            "tags",
            "phone",
            "note",
            "custom"
        ]
    );
    assert_eq!(sheet.len(), 4, "a header and three rows");

    let first = &sheet[1];
    assert_eq!(text(&first[0]), "000123");
    assert_eq!(datetime(&first[1]), instant("2024-01-02T03:04:05.678Z"));
    assert_eq!(datetime(&first[2]).date(), NaiveDate::from_ymd_opt(1990, 7, 15).unwrap());
    assert_eq!(first[3], Data::Float(3.0));
    assert_eq!(first[4], Data::Float(4.25));
    assert_eq!(first[5], Data::Bool(true));
    assert_eq!(text(&first[6]), "zoe@example.com");
    assert_eq!(text(&first[7]), "Personal");
    assert_eq!(text(&first[8]), r#"["a","b"]"#);
    assert_eq!(text(&first[9]), "+44 20 7946 0000");
    assert_eq!(text(&first[10]), "=1+1");
    assert_eq!(text(&first[11]), r#"{"nested":[1,2]}"#);

    let second = &sheet[2];
    assert_eq!(text(&second[0]), "-5");
    assert_eq!(datetime(&second[1]), instant("2022-07-21T17:32:28Z"));
    assert_eq!(second[2], Data::Empty);
    assert_eq!(text(&second[3]), "9007199254740993", "integers past 2^53 stay exact as text");
    assert_eq!(second[4], Data::Float(-0.5));
    assert_eq!(second[5], Data::Bool(false));
    assert_eq!(second[6], Data::Empty);
    assert_eq!(text(&second[8]), "[]");
    assert_eq!(text(&second[9]), "@x");
    assert_eq!(text(&second[10]), "Zoë 😀 שלום עולם مرحبا");
    assert_eq!(second[11], Data::Empty, "a missing field is an empty cell");

    let third = &sheet[3];
    assert_eq!(text(&third[0]), "only-id");
    assert!(third[1..].iter().all(|cell| *cell == Data::Empty), "{third:?}");

    assert_eq!(strings(&rows(&path, "ashby_job_postings")[1]), ["p1"]);
}

#[tokio::test]
async fn no_cell_is_ever_a_formula() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("value", DataType::String, "Tricky text.")]);
    let tricky = ["=1+1", "+44 20 7946 0000", "-5", "@x", "=HYPERLINK(\"http://x\")", "000123"];
    let records = tricky.iter().map(|value| record(json!({"value": value}))).collect();
    run(dir.path(), "path = \"f.xlsx\"\n", &[(dataset("values", schema), records)]).await;
    let path = dir.path().join("f.xlsx");

    let mut workbook = open(&path);
    for sheet in workbook.sheet_names() {
        let formulas = workbook.worksheet_formula(&sheet).unwrap();
        assert_eq!(formulas.used_cells().count(), 0, "formulas in {sheet}");
    }
    let read: Vec<String> =
        rows(&path, "values")[1..].iter().map(|row| text(&row[0]).into()).collect();
    assert_eq!(read, tricky);
    assert!(!package_part(&path, "xl/worksheets/sheet1.xml").contains("<f>"));
}

#[tokio::test]
async fn text_over_excels_cell_limit_is_cut_with_a_marker_and_reported_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![
        Field::new("id", DataType::String, "Id."),
        Field::new("note", DataType::String, "Long text."),
        Field::new("emoji", DataType::String, "Long emoji text."),
    ]);
    let records = vec![
        record(json!({"id": "1", "note": "a".repeat(40_000), "emoji": "😀".repeat(40_000)})),
        record(json!({"id": "2", "note": "b".repeat(50_000), "emoji": "short"})),
    ];
    let report =
        run(dir.path(), "path = \"long.xlsx\"\n", &[(dataset("notes", schema), records)]).await;
    let path = dir.path().join("long.xlsx");

    let sheet = rows(&path, "notes");
    let note = text(&sheet[1][1]);
    assert!(utf16_len(note) <= 32_767, "{}", utf16_len(note));
    assert!(note.starts_with(&"a".repeat(32_000)));
    let marker = "… [truncated: 7,269 characters cut]";
    assert!(note.ends_with(marker), "{}", &note[note.len() - 50..]);

    let emoji = text(&sheet[1][2]);
    assert!(utf16_len(emoji) <= 32_767, "{}", utf16_len(emoji));
    let (kept, marker) = emoji.split_once('…').unwrap();
    assert!(kept.chars().all(|c| c == '😀'), "no half emoji");
    let cut = 40_000 - kept.chars().count();
    assert_eq!(marker, format!(" [truncated: {},{:03} characters cut]", cut / 1000, cut % 1000));
    assert_eq!(text(&sheet[2][2]), "short");

    let warnings = &report.datasets[0].warnings;
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("column `note`: 2 values longer than"), "{}", warnings[0]);
    assert!(warnings[1].starts_with("column `emoji`: 1 value longer than"), "{}", warnings[1]);
}

#[tokio::test]
async fn rows_over_the_sheet_limit_continue_on_numbered_sheets_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![
        Field::new("id", DataType::Integer, "Id."),
        Field::new("createdAt", DataType::Timestamp, "Created."),
    ]);
    let records: Vec<Record> = (0..12)
        .map(|i| record(json!({"id": i, "createdAt": format!("2024-01-01T00:00:{i:02}Z")})))
        .collect();
    let report = run(
        dir.path(),
        "path = \"split.xlsx\"\nmax_rows_per_sheet = 5\n",
        &[(dataset("candidates", schema), records)],
    )
    .await;
    let path = dir.path().join("split.xlsx");

    let sheets = ["candidates", "candidates (2)", "candidates (3)"];
    assert_eq!(open(&path).sheet_names(), [&sheets[..], &["Data dictionary"]].concat());

    let mut ids = Vec::new();
    for sheet in sheets {
        let rows = rows(&path, sheet);
        assert_eq!(strings(&rows[0]), ["id", "createdAt"], "header of {sheet}");
        assert!(rows.len() <= 6, "{sheet} has {} rows", rows.len());
        for row in &rows[1..] {
            let Data::Float(id) = row[0] else { panic!("ids are numbers: {row:?}") };
            assert_eq!(datetime(&row[1]).and_utc().timestamp() % 60, id as i64);
            ids.push(id as i64);
        }
    }
    assert_eq!(ids, (0..12).collect::<Vec<_>>(), "every row exactly once, in order");

    let mut workbook = open(&path);
    workbook.load_tables().unwrap();
    for sheet in sheets {
        assert_eq!(workbook.table_names_in_sheet(sheet).len(), 1, "table on {sheet}");
    }
    assert_eq!(report.datasets[0].rows, 12);
    assert_eq!(
        report.datasets[0].warnings,
        ["more than 5 rows, so the rows continue across 3 sheets: candidates, candidates (2), \
          candidates (3)"]
    );
}

#[tokio::test]
async fn a_dataset_that_exactly_fills_its_sheets_gets_no_empty_extra_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("id", DataType::Integer, "Id.")]);
    let records: Vec<Record> = (0..10).map(|i| record(json!({"id": i}))).collect();
    run(
        dir.path(),
        "path = \"even.xlsx\"\nmax_rows_per_sheet = 5\ndictionary = false\n",
        &[(dataset("ids", schema), records)],
    )
    .await;

    assert_eq!(open(&dir.path().join("even.xlsx")).sheet_names(), ["ids", "ids (2)"]);
}

#[tokio::test]
async fn sheet_names_are_made_legal_unique_and_never_history() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);
    let names = [
        "History",
        "candidates",
        "Candidates",
        "a/b:c*d?e[f]g\\h",
        "'quoted'",
        "application_history_with_a_very_long_name",
        "application_history_with_a_very_long_name_too",
        "",
        "Data dictionary",
    ];
    let datasets: Vec<_> = names
        .iter()
        .map(|name| {
            (dataset(name, schema.clone()), vec![record(json!({"id": format!("[{name}]")}))])
        })
        .collect();
    run(dir.path(), "path = \"names.xlsx\"\n", &datasets).await;
    let path = dir.path().join("names.xlsx");

    let sheets = open(&path).sheet_names();
    assert_eq!(
        sheets,
        [
            "History (2)",
            "candidates",
            "Candidates (2)",
            "a_b_c_d_e_f_g_h",
            "quoted",
            "application_history_with_a_very",
            "application_history_with_a_ (2)",
            "Sheet",
            "Data dictionary",
            "Data dictionary (2)",
        ]
    );
    for (sheet, name) in sheets.iter().zip(names) {
        let id = format!("[{name}]");
        assert_eq!(text(&rows(&path, sheet)[1][0]), id, "the data of {name:?} is on {sheet}");
    }
    let dictionary = rows(&path, "Data dictionary (2)");
    assert_eq!(strings(&dictionary[0])[..2], ["Dataset", "Sheet"]);
}

#[tokio::test]
async fn every_sheet_is_a_table_under_a_frozen_bold_header_with_sized_columns() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(
        dir.path(),
        "path = \"t.xlsx\"\n",
        &[(dataset("candidates", candidate_schema()), candidates())],
    )
    .await;
    assert_eq!(report.datasets[0].rows, 3);
    let path = dir.path().join("t.xlsx");

    let mut workbook = open(&path);
    workbook.load_tables().unwrap();
    let mut tables: Vec<_> = workbook.table_names().into_iter().cloned().collect();
    tables.sort();
    assert_eq!(tables, ["Table_Data_dictionary", "Table_candidates"]);
    let table = workbook.table_by_name("Table_candidates").unwrap();
    assert_eq!(table.sheet_name(), "candidates");
    assert_eq!(table.columns()[0], "id");
    assert_eq!(table.columns().len(), 12);

    let sheet = package_part(&path, "xl/worksheets/sheet1.xml");
    assert!(
        sheet.contains(
            r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{sheet}"
    );
    assert!(sheet.contains("<tableParts count=\"1\">"), "{sheet}");
    let table_xml = package_part(&path, "xl/tables/table1.xml");
    assert!(table_xml.contains(r#"ref="A1:L4""#), "{table_xml}");
    assert!(table_xml.contains(r#"<autoFilter ref="A1:L4"/>"#), "{table_xml}");
    assert!(table_xml.contains("TableStyleMedium2"), "{table_xml}");

    // id: "only-id" is 7 characters, the header 2 plus its button: the minimum, 8.
    // createdAt: a timestamp shows 19 characters, plus padding.
    assert!(
        sheet.contains(r#"<col min="1" max="1" width="8.7109375" customWidth="1"/>"#),
        "{sheet}"
    );
    assert!(
        sheet.contains(r#"<col min="2" max="2" width="20.7109375" customWidth="1"/>"#),
        "{sheet}"
    );

    let styles = package_part(&path, "xl/styles.xml");
    assert!(styles.contains("<b/>"), "a bold font exists: {styles}");
    assert!(styles.contains(r#"formatCode="yyyy-mm-dd hh:mm:ss""#), "{styles}");
    assert!(styles.contains(r#"formatCode="yyyy-mm-dd""#), "{styles}");
}

#[tokio::test]
async fn the_dictionary_lists_every_column_of_every_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Schema::new(vec![
        Field::new("id", DataType::String, "The job's id."),
        Field::new("title", DataType::String, "The job's title."),
    ]);
    run(
        dir.path(),
        "path = \"d.xlsx\"\nmax_rows_per_sheet = 2\n",
        &[
            (dataset("candidates", candidate_schema()), candidates()),
            (dataset("jobs", jobs), vec![record(json!({"id": "j1", "title": "Engineer"}))]),
        ],
    )
    .await;
    let path = dir.path().join("d.xlsx");

    let dictionary = rows(&path, "Data dictionary");
    assert_eq!(
        strings(&dictionary[0]),
        ["Dataset", "Sheet", "Column", "Type", "Contact details", "Description"]
    );
    assert_eq!(dictionary.len(), 1 + 12 + 2);
    assert_eq!(
        strings(&dictionary[1]),
        ["candidates", "candidates, candidates (2)", "id", "string", "no", "The candidate's id."]
    );
    assert_eq!(
        strings(&dictionary[7]),
        [
            "candidates",
            "candidates, candidates (2)",
            "primaryEmailAddress.value",
            "string",
            "yes",
            "The address."
        ]
    );
    assert_eq!(strings(&dictionary[9])[2..5], ["tags", "array<string>", "no"]);
    assert_eq!(strings(&dictionary[10])[2..5], ["phone", "string", "yes"]);
    assert_eq!(
        strings(&dictionary[14]),
        ["jobs", "jobs", "title", "string", "no", "The job's title."]
    );
}

#[tokio::test]
async fn the_dictionary_can_be_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);
    run(
        dir.path(),
        "path = \"n.xlsx\"\ndictionary = false\n",
        &[(dataset("jobs", schema), vec![record(json!({"id": "1"}))])],
    )
    .await;

    assert_eq!(open(&dir.path().join("n.xlsx")).sheet_names(), ["jobs"]);
}

#[tokio::test]
async fn a_run_without_datasets_still_publishes_a_workbook_excel_can_open() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(dir.path(), "path = \"none.xlsx\"\ndictionary = false\n", &[]).await;

    assert!(report.datasets.is_empty());
    assert_eq!(open(&dir.path().join("none.xlsx")).sheet_names(), ["Sheet1"]);
}

#[tokio::test]
async fn an_empty_dataset_still_gets_its_header_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(
        dir.path(),
        "path = \"e.xlsx\"\n",
        &[(dataset("offers", candidate_schema()), Vec::new())],
    )
    .await;
    let path = dir.path().join("e.xlsx");

    assert_eq!(report.datasets[0].rows, 0);
    let sheet = rows(&path, "offers");
    assert_eq!(sheet.len(), 1, "{sheet:?}");
    assert_eq!(strings(&sheet[0])[0], "id");
    let mut workbook = open(&path);
    workbook.load_tables().unwrap();
    assert_eq!(workbook.table_names_in_sheet("offers"), ["Table_offers"]);
}

#[tokio::test]
async fn a_failed_run_leaves_the_previous_workbook_byte_identical_and_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);
    run(
        dir.path(),
        "path = \"out/ashby.xlsx\"\n",
        &[(dataset("jobs", schema.clone()), vec![record(json!({"id": "first run"}))])],
    )
    .await;
    let path = dir.path().join("out/ashby.xlsx");
    let before = std::fs::read(&path).unwrap();

    let mut sink = open_sink(dir.path(), "path = \"out/ashby.xlsx\"\n").await;
    sink.begin_dataset(&dataset("jobs", schema.clone())).await.unwrap();
    sink.write_batch(&[record(json!({"id": "second run"}))]).await.unwrap();
    sink.end_dataset().await.unwrap();
    sink.begin_dataset(&dataset("more", schema)).await.unwrap();
    assert!(folder_entries(&dir.path().join("out")).len() > 1, "the run has temporary files");
    drop(sink);

    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(folder_entries(&dir.path().join("out")), ["ashby.xlsx"]);
}

#[tokio::test]
async fn a_successful_run_replaces_the_previous_workbook_and_creates_missing_folders() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);
    for value in ["first", "second"] {
        let report = run(
            dir.path(),
            "path = \"a/b/c.xlsx\"\n",
            &[(dataset("jobs", schema.clone()), vec![record(json!({"id": value}))])],
        )
        .await;
        let path = dir.path().join("a/b/c.xlsx");
        assert_eq!(report.location, Some(path.display().to_string()));
        assert_eq!(text(&rows(&path, "jobs")[1][0]), value);
    }
    assert_eq!(folder_entries(&dir.path().join("a/b")), ["c.xlsx"]);
}

#[tokio::test]
async fn calls_out_of_order_are_destination_errors_and_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);

    let mut sink = open_sink(dir.path(), "path = \"o.xlsx\"\n").await;
    let error = sink.write_batch(&[record(json!({"id": "x"}))]).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Destination);
    assert!(error.to_string().contains("out of order"), "{error}");

    sink.begin_dataset(&dataset("jobs", schema.clone())).await.unwrap();
    let error = sink.begin_dataset(&dataset("jobs", schema)).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Destination);
    let error = sink.finish().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Destination);

    assert!(!dir.path().join("o.xlsx").exists());
    assert!(folder_entries(dir.path()).is_empty(), "{:?}", folder_entries(dir.path()));
}

#[tokio::test]
async fn a_file_where_the_folder_should_be_fails_at_open_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();

    let validated = ashflow_sink_excel::validate(
        &spec_table("path = \"blocker/x.xlsx\"\n"),
        &context(dir.path()),
    )
    .unwrap();
    let error = validated.open().await.err().expect("opening must fail");

    assert_eq!(error.class(), ErrorClass::Destination);
    assert!(error.to_string().contains("blocker is a file"), "{error}");
}

#[tokio::test]
async fn a_folder_where_the_workbook_should_be_fails_at_open_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("book.xlsx")).unwrap();

    let validated =
        ashflow_sink_excel::validate(&spec_table("path = \"book.xlsx\"\n"), &context(dir.path()))
            .unwrap();
    let error = validated.open().await.err().expect("opening must fail");

    assert_eq!(error.class(), ErrorClass::Destination);
    assert!(error.to_string().contains("book.xlsx is a folder"), "{error}");
    assert!(!error.to_string().contains("close it"), "{error}");
}

#[test]
fn the_registration_is_found_by_type_and_its_example_validates() {
    let registration = ashflow_core::plugin::sink_registrations()
        .into_iter()
        .find(|registration| registration.name == "excel")
        .expect("the excel sink is registered");

    let table = ConfigTable::new(
        "example.toml",
        Arc::from(registration.example),
        vec!["sinks".into(), "workbook".into()],
    );
    let validated = (registration.validate)(&table, &context(Path::new("/specs"))).unwrap();
    assert!(format!("{validated:?}").contains("/specs/out/ashby.xlsx"), "{validated:?}");
}

#[test]
fn config_errors_point_at_the_spec_line() {
    let dir = PathBuf::from("/specs");
    let error =
        ashflow_sink_excel::validate(&spec_table("path = \"a.xlsx\"\nsheet = 1\n"), &context(&dir))
            .unwrap_err();
    assert!(error.to_string().starts_with("spec.toml:4:1: unknown field `sheet`"), "{error}");

    let error = ashflow_sink_excel::validate(&spec_table("dictionary = true\n"), &context(&dir))
        .unwrap_err();
    assert!(error.to_string().contains("missing field `path`"), "{error}");

    let error = ashflow_sink_excel::validate(&spec_table("path = \"a.csv\"\n"), &context(&dir))
        .unwrap_err();
    assert!(error.to_string().starts_with("spec.toml:3:1: `path`: "), "{error}");
    assert_eq!(error.class(), ErrorClass::Config);
}

fn folder_entries(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
