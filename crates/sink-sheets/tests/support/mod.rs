//! Shared set-up for the Sheets sink's tests: a fake Sheets server with a spreadsheet shared
//! with a test service account, a key file for that account, datasets with awkward values, and
//! a driver that runs the sink through its whole lifecycle.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ashflow_core::prelude::*;
use ashflow_fake_sheets::{CellValue, FakeSheets, FakeSheetsConfig, key};
use ashflow_sink_sheets::ValidatedSheetsSink;
use serde_json::{Value, json};

/// The spreadsheet every test writes.
pub const BOOK: &str = "1TestSpreadsheet_id-0";

/// The service account the spreadsheet is shared with.
pub const EMAIL: &str = "exporter@ashflow-test.iam.gserviceaccount.com";

/// A fake with one shared spreadsheet and a key file for [`EMAIL`].
pub struct Harness {
    pub fake: FakeSheets,
    pub folder: tempfile::TempDir,
    pub key_file: PathBuf,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(FakeSheetsConfig {
            write_requests_per_window: 10_000,
            read_requests_per_window: 10_000,
            ..FakeSheetsConfig::default()
        })
        .await
    }

    pub async fn start_with(config: FakeSheetsConfig) -> Harness {
        let fake = FakeSheets::start(config).await.expect("the fake starts");
        fake.create_spreadsheet(BOOK, &[EMAIL]);
        let private_key = key::test_private_key().expect("openssl makes a test key");
        fake.register_service_account(EMAIL, &private_key).expect("the key is an RSA key");
        let folder = tempfile::tempdir().expect("a temporary folder");
        let key_file = key::write_service_account_key(folder.path(), EMAIL, &fake.token_uri())
            .expect("the key file is written");
        Harness { fake, folder, key_file }
    }

    /// A validated sink for this fake, with extra spec lines and fast retries.
    pub fn sink(&self, extra: &str) -> ValidatedSheetsSink {
        self.sink_with_key(&self.key_file.display().to_string(), extra)
    }

    pub fn sink_with_key(&self, credentials: &str, extra: &str) -> ValidatedSheetsSink {
        let document = format!(
            "[sinks.sheet]\ntype = \"google_sheets\"\ncredentials = \"{credentials}\"\n\
             spreadsheet_id = \"{BOOK}\"\nbase_url = \"{}\"\n{extra}",
            self.fake.base_url()
        );
        let table = ConfigTable::new(
            "spec.toml",
            Arc::from(document),
            vec!["sinks".into(), "sheet".into()],
        );
        let context = SpecContext {
            spec_dir: self.folder.path().to_path_buf(),
            component_id: "sheet".into(),
        };
        ashflow_sink_sheets::validate_config(&table, &context)
            .expect("the test spec is valid")
            .with_backoff(Duration::from_millis(1), Duration::from_millis(10), 8)
    }

    /// The tab's values as stored, trimmed as the API returns them.
    pub fn values(&self, tab: &str) -> Vec<Vec<Option<CellValue>>> {
        self.fake.values(BOOK, tab).unwrap_or_else(|| panic!("tab {tab} exists"))
    }

    /// The tab's `sheetId`.
    pub fn sheet_id(&self, tab: &str) -> i32 {
        self.fake.with_book(BOOK, |book| book.tab(tab).map(|t| t.sheet_id)).flatten().expect("tab")
    }

    pub fn grid_size(&self, tab: &str) -> (usize, usize) {
        self.fake
            .with_book(BOOK, |book| book.tab(tab).map(|t| (t.row_count, t.column_count)))
            .flatten()
            .expect("tab")
    }
}

/// A dataset and its records.
pub struct Dataset {
    pub descriptor: DatasetDescriptor,
    pub records: Vec<Record>,
}

pub fn dataset(name: &str, fields: Vec<Field>, rows: Vec<Value>) -> Dataset {
    Dataset {
        descriptor: DatasetDescriptor {
            name: name.into(),
            description: String::new(),
            schema: Schema::new(fields),
            primary_key: Some("id".into()),
            rows: Some(rows.len() as u64),
        },
        records: rows.into_iter().map(|row| row.as_object().cloned().expect("an object")).collect(),
    }
}

/// Candidates with the awkward values real accounts have.
pub fn awkward_candidates() -> Dataset {
    let fields = vec![
        Field::new("id", DataType::String, "Id."),
        Field::new("name", DataType::String, "Name."),
        Field::new("phone", DataType::String, "Phone.").contact(),
        Field::new("createdAt", DataType::Timestamp, "Created."),
        Field::new("score", DataType::Number, "Score."),
        Field::new("applications", DataType::Integer, "Count."),
        Field::new("archived", DataType::Boolean, "Archived."),
        Field::new(
            "source",
            DataType::Object(vec![Field::new("title", DataType::String, "Source.")]),
            "Source.",
        ),
        Field::new("tags", DataType::Array(Box::new(DataType::String)), "Tags."),
        Field::new("notes", DataType::String, "Notes."),
    ];
    let rows = vec![
        json!({"id": "007", "name": "=SUM(A1)", "phone": "+1 555 0100",
               "createdAt": "2024-01-02T12:00:00Z", "score": 4.5, "applications": 3,
               "archived": false, "source": {"title": "LinkedIn"}, "tags": ["a", "b"],
               "notes": "x".repeat(60_000)}),
        json!({"id": "0042", "name": "محمد الأحمد", "phone": "00441234",
               "createdAt": "2023-06-30T23:59:59.500Z", "score": null, "applications": 0,
               "archived": true, "source": null, "tags": [], "notes": "👩‍💻 ships 🚀"}),
        json!({"id": "c-3", "name": "TRUE", "phone": null, "createdAt": null,
               "score": -0.25, "applications": null, "archived": null, "notes": "'quoted"}),
    ];
    dataset("candidates", fields, rows)
}

/// Runs a sink through every dataset and `finish`.
pub async fn run(sink: ValidatedSheetsSink, datasets: &[Dataset]) -> Result<SinkReport> {
    let validated: Box<dyn ValidatedSink> = Box::new(sink);
    let mut sink = validated.open().await?;
    for dataset in datasets {
        sink.begin_dataset(&dataset.descriptor).await?;
        for chunk in dataset.records.chunks(2) {
            sink.write_batch(chunk).await?;
        }
        sink.end_dataset().await?;
    }
    sink.finish().await
}

/// Shorthands for expected cells.
pub fn s(text: &str) -> Option<CellValue> {
    Some(CellValue::String(text.into()))
}

pub fn n(number: f64) -> Option<CellValue> {
    Some(CellValue::Number(number))
}

pub fn b(flag: bool) -> Option<CellValue> {
    Some(CellValue::Bool(flag))
}
