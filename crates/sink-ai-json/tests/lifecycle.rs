//! The `ai_json` sink driven through the registry and the `Sink` lifecycle the way the runner
//! drives it, on hand-built datasets, with every output file read back.
//!
//! These tests own the end-to-end promises: exact records, protected contact details, split
//! files, the dictionary and README, and an atomic publish that a dropped sink never disturbs.

// Clippy's allow-unwrap-in-tests covers `#[test]` functions but not the helpers they share here,
// and a failing helper should fail its test just the same.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ashflow_core::plugin::sink_registrations;
use ashflow_core::{
    ConfigTable, DataType, DatasetDescriptor, ErrorClass, Field, Record, Schema, Sink, SinkReport,
    SpecContext, ValidatedSink,
};
use serde_json::{Value, json};

// --- Hand-built datasets ------------------------------------------------------------------

fn email_object() -> DataType {
    DataType::Object(vec![
        Field::new("value", DataType::String, "The address.").contact(),
        Field::new("type", DataType::String, "Personal, Work or Other."),
        Field::new("isPrimary", DataType::Boolean, "True for the primary address."),
    ])
}

fn candidates() -> DatasetDescriptor {
    DatasetDescriptor {
        name: "candidates".into(),
        description: "People who applied or were sourced. One record per person.".into(),
        schema: Schema::new(vec![
            Field::new("id", DataType::String, "The candidate's id."),
            Field::new("name", DataType::String, "Full name."),
            Field::new("primaryEmailAddress", email_object(), "The primary e-mail address."),
            Field::new(
                "emailAddresses",
                DataType::Array(Box::new(email_object())),
                "Every e-mail address.",
            ),
            Field::new("phoneNumbers", DataType::Array(Box::new(DataType::String)), "Phones.")
                .contact(),
            Field::new("tags", DataType::Array(Box::new(DataType::String)), "Tags."),
            Field::new("createdAt", DataType::Timestamp, "When the record was created."),
        ]),
        primary_key: Some("id".into()),
        rows: Some(2),
    }
}

fn candidate_records() -> Vec<Record> {
    vec![
        record(json!({
            "id": "c1",
            "name": "Zoë Ångström",
            "primaryEmailAddress": {
                "value": "Zoe@Example.com", "type": "Personal", "isPrimary": true
            },
            "emailAddresses": [
                {"value": "Zoe@Example.com", "type": "Personal", "isPrimary": true},
                {"value": "zoe@work.example", "type": "Work", "isPrimary": false},
                {"value": null, "type": "Other", "isPrimary": false}
            ],
            "phoneNumbers": ["+1 555 0100", 5550101_u64, null],
            "tags": ["Senior", "Referral"],
            "createdAt": "2024-01-02T03:04:05.678Z",
            "fraudScore": {"value": "low", "checkedBy": "someone@example.com"}
        })),
        record(json!({
            "createdAt": "2024-02-01T00:00:00Z",
            "id": "c2",
            "name": "Bob",
            "primaryEmailAddress": null,
            "emailAddresses": [],
            "phoneNumbers": [],
            "tags": []
        })),
    ]
}

fn applications() -> DatasetDescriptor {
    DatasetDescriptor {
        name: "applications".into(),
        description: "Applications of candidates to jobs".into(),
        schema: Schema::new(vec![
            Field::new("id", DataType::String, "The application's id."),
            Field::new(
                "candidate",
                DataType::Object(vec![
                    Field::new("id", DataType::String, "The candidate's id.")
                        .references("candidates"),
                    Field::new("primaryEmailAddress", email_object(), "Their e-mail."),
                ]),
                "The candidate.",
            ),
            Field::new("jobId", DataType::String, "The job applied to.").references("jobs"),
            Field::new("status", DataType::String, "Active, Hired or Archived."),
        ]),
        primary_key: Some("id".into()),
        rows: None,
    }
}

fn application_records() -> Vec<Record> {
    vec![record(json!({
        "id": "a1",
        "candidate": {
            "id": "c1",
            "primaryEmailAddress": {
                "value": "  zoe@example.COM ", "type": "Personal", "isPrimary": true
            }
        },
        "jobId": "j1",
        "status": "Active"
    }))]
}

fn jobs() -> DatasetDescriptor {
    DatasetDescriptor {
        name: "jobs".into(),
        description: "Open and closed jobs.".into(),
        schema: Schema::new(vec![
            Field::new("id", DataType::String, "The job's id."),
            Field::new("title", DataType::String, "Title."),
        ]),
        primary_key: Some("id".into()),
        rows: None,
    }
}

fn job_records(count: usize, title_length: usize) -> Vec<Record> {
    (0..count)
        .map(|n| record(json!({"id": format!("j{n:04}"), "title": "x".repeat(title_length)})))
        .collect()
}

fn record(value: Value) -> Record {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("test records are objects"),
    }
}

// --- Driving the sink ---------------------------------------------------------------------

struct Workspace {
    root: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace { root: tempfile::tempdir().unwrap() }
    }

    fn spec_dir(&self) -> &Path {
        self.root.path()
    }

    fn output(&self) -> PathBuf {
        self.root.path().join("out/ai")
    }

    async fn open(&self, keys: &str) -> Box<dyn Sink> {
        self.validated(keys).unwrap().open().await.unwrap()
    }

    fn validated(&self, keys: &str) -> ashflow_core::Result<Box<dyn ValidatedSink>> {
        let document = format!("[sinks.ai]\ntype = \"ai_json\"\npath = \"out/ai\"\n{keys}");
        let table =
            ConfigTable::new("spec.toml", Arc::from(document), vec!["sinks".into(), "ai".into()]);
        let context =
            SpecContext { spec_dir: self.spec_dir().to_path_buf(), component_id: "ai".into() };
        ashflow_sink_ai_json::validate(&table, &context)
    }

    async fn run(&self, keys: &str, datasets: &[(DatasetDescriptor, Vec<Record>)]) -> SinkReport {
        let mut sink = self.open(keys).await;
        for (descriptor, records) in datasets {
            write_dataset(sink.as_mut(), descriptor, records).await;
        }
        sink.finish().await.unwrap()
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.output().join(name)).unwrap()
    }

    fn lines(&self, name: &str) -> Vec<String> {
        self.read(name).lines().map(str::to_string).collect()
    }

    fn dictionary(&self) -> Value {
        serde_json::from_str(&self.read("dictionary.json")).unwrap()
    }

    fn listing(&self, folder: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// Writes a dataset in batches of two, as a runner with a small batch size would.
async fn write_dataset(sink: &mut dyn Sink, descriptor: &DatasetDescriptor, records: &[Record]) {
    sink.begin_dataset(descriptor).await.unwrap();
    for batch in records.chunks(2) {
        sink.write_batch(batch).await.unwrap();
    }
    sink.end_dataset().await.unwrap();
}

fn all_datasets() -> Vec<(DatasetDescriptor, Vec<Record>)> {
    vec![
        (candidates(), candidate_records()),
        (applications(), application_records()),
        (jobs(), job_records(3, 5)),
    ]
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

// --- Records ------------------------------------------------------------------------------

#[tokio::test]
async fn records_are_written_one_per_line_with_contact_details_redacted_in_place() {
    let workspace = Workspace::new();
    let report = workspace.run("", &all_datasets()).await;

    let lines = workspace.lines("candidates.jsonl");
    assert_eq!(lines.len(), 2);
    let expected_first = json!({
        "id": "c1",
        "name": "Zoë Ångström",
        "primaryEmailAddress": {"value": "[redacted]", "type": "Personal", "isPrimary": true},
        "emailAddresses": [
            {"value": "[redacted]", "type": "Personal", "isPrimary": true},
            {"value": "[redacted]", "type": "Work", "isPrimary": false},
            {"value": null, "type": "Other", "isPrimary": false}
        ],
        "phoneNumbers": ["[redacted]", "[redacted]", null],
        "tags": ["Senior", "Referral"],
        "createdAt": "2024-01-02T03:04:05.678Z",
        "fraudScore": {"value": "low", "checkedBy": "someone@example.com"}
    });
    // Comparing text pins key order, compactness and UTF-8 output, not just equal values.
    assert_eq!(lines[0], serde_json::to_string(&expected_first).unwrap());
    assert!(lines[0].contains("Zoë Ångström"));
    assert_eq!(lines[1], serde_json::to_string(&candidate_records()[1]).unwrap());

    assert_eq!(
        parse(&workspace.lines("applications.jsonl")[0])["candidate"]["primaryEmailAddress"],
        json!({"value": "[redacted]", "type": "Personal", "isPrimary": true})
    );
    assert_eq!(report.location.as_deref(), Some(workspace.output().to_str().unwrap()));
    assert_eq!(report.requests, 0);
    let rows: Vec<_> = report.datasets.iter().map(|d| (d.dataset.as_str(), d.rows)).collect();
    assert_eq!(rows, [("candidates", 2), ("applications", 1), ("jobs", 3)]);
    assert!(report.datasets.iter().all(|d| d.warnings.is_empty()));
}

#[tokio::test]
async fn fields_without_contact_details_are_exactly_the_input() {
    let workspace = Workspace::new();
    workspace.run("", &all_datasets()).await;

    let written = parse(&workspace.lines("candidates.jsonl")[0]);
    let input = &candidate_records()[0];
    for key in ["id", "name", "tags", "createdAt", "fraudScore"] {
        assert_eq!(&written[key], &input[key], "{key}");
    }
    let jobs = workspace.lines("jobs.jsonl");
    let expected: Vec<_> =
        job_records(3, 5).iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert_eq!(jobs, expected);
}

#[tokio::test]
async fn hashes_are_stable_across_datasets_and_change_with_the_salt() {
    let workspace = Workspace::new();
    fs::write(workspace.spec_dir().join("salt.txt"), "pepper\n").unwrap();
    workspace
        .run("contact_details = \"hash\"\nhash_salt = \"file:salt.txt\"\n", &all_datasets())
        .await;

    let candidate = parse(&workspace.lines("candidates.jsonl")[0]);
    let application = parse(&workspace.lines("applications.jsonl")[0]);
    let primary = candidate["primaryEmailAddress"]["value"].as_str().unwrap().to_string();
    assert!(primary.starts_with("sha256:") && primary.len() == 23, "{primary}");
    assert_eq!(candidate["emailAddresses"][0]["value"], primary);
    assert_ne!(candidate["emailAddresses"][1]["value"], primary);
    assert_eq!(candidate["emailAddresses"][2]["value"], Value::Null);
    assert_eq!(candidate["emailAddresses"][1]["type"], "Work");
    // The same address, spelled with other case and spaces, in another dataset.
    assert_eq!(application["candidate"]["primaryEmailAddress"]["value"], primary);
    assert_eq!(workspace.dictionary()["contact_details_policy"], "hash");

    workspace.run("contact_details = \"hash\"\nhash_salt = \"salt\"\n", &all_datasets()).await;
    let resalted = parse(&workspace.lines("candidates.jsonl")[0]);
    assert!(resalted["primaryEmailAddress"]["value"].as_str().unwrap().starts_with("sha256:"));
    assert_ne!(resalted["primaryEmailAddress"]["value"], primary);
}

#[tokio::test]
async fn keep_writes_contact_details_as_received() {
    let workspace = Workspace::new();
    workspace.run("contact_details = \"keep\"\n", &all_datasets()).await;

    let expected: Vec<_> =
        candidate_records().iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert_eq!(workspace.lines("candidates.jsonl"), expected);
    let readme = workspace.read("README.md");
    assert!(readme.contains("were kept as received"), "{readme}");
}

// --- Splitting ----------------------------------------------------------------------------

#[tokio::test]
async fn large_datasets_are_split_into_parts_within_the_limit_in_order() {
    let workspace = Workspace::new();
    let mut records = job_records(40, 60);
    records.insert(17, record(json!({"id": "huge", "title": "y".repeat(3000)})));
    let report = workspace.run("max_file_bytes = 1024\n", &[(jobs(), records.clone())]).await;

    let files = workspace.dictionary()["datasets"][0]["files"].clone();
    let files: Vec<String> = serde_json::from_value(files).unwrap();
    assert!(files.len() > 3, "{files:?}");
    for (index, file) in files.iter().enumerate() {
        assert_eq!(file, &format!("jobs.part-{:03}.jsonl", index + 1));
    }
    assert!(!workspace.output().join("jobs.jsonl").exists());

    let mut read_back = Vec::new();
    for file in &files {
        let text = workspace.read(file);
        let lines: Vec<_> = text.lines().collect();
        if text.len() > 1024 {
            assert_eq!(lines.len(), 1, "{file} is over the limit with more than one record");
            assert_eq!(parse(lines[0])["id"], "huge");
        }
        read_back.extend(lines.into_iter().map(str::to_string));
    }
    let expected: Vec<_> = records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert_eq!(read_back, expected);

    let warnings = &report.datasets[0].warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("with id `huge` (row 18)"), "{}", warnings[0]);
    assert!(warnings[0].contains("1024"), "{}", warnings[0]);
    assert_eq!(report.datasets[0].rows, 41);
}

#[tokio::test]
async fn an_empty_dataset_still_has_its_file_and_entry() {
    let workspace = Workspace::new();
    workspace.run("", &[(jobs(), Vec::new())]).await;

    assert_eq!(workspace.read("jobs.jsonl"), "");
    assert_eq!(workspace.dictionary()["datasets"][0]["record_count"], 0);
}

// --- Dictionary and README ----------------------------------------------------------------

#[tokio::test]
async fn the_dictionary_describes_every_dataset_and_field() {
    let workspace = Workspace::new();
    workspace.run("", &all_datasets()).await;
    let dictionary = workspace.dictionary();

    assert_eq!(dictionary["format"], "ashflow-ai-json/1");
    assert_eq!(dictionary["contact_details_policy"], "redact");
    let generated_at = dictionary["generated_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(generated_at).is_ok(), "{generated_at}");
    assert!(generated_at.ends_with('Z'), "{generated_at}");

    let names: Vec<_> =
        dictionary["datasets"].as_array().unwrap().iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, [json!("candidates"), json!("applications"), json!("jobs")]);

    let candidates = &dictionary["datasets"][0];
    assert_eq!(
        candidates["description"],
        "People who applied or were sourced. One record per person."
    );
    assert_eq!(candidates["files"], json!(["candidates.jsonl"]));
    assert_eq!(candidates["record_count"], 2);
    assert_eq!(candidates["primary_key"], "id");
    assert_eq!(
        candidates["fields"][0],
        json!({
            "name": "id",
            "type": "string",
            "description": "The candidate's id.",
            "contact_details": false
        })
    );
    let emails = &candidates["fields"][3];
    assert_eq!(emails["type"], "array<object>");
    assert_eq!(emails["fields"][0]["name"], "value");
    assert_eq!(emails["fields"][0]["contact_details"], true);
    assert_eq!(emails["fields"][0]["contact_details_treatment"], "redacted");
    assert_eq!(emails["fields"][1]["contact_details"], false);
    assert_eq!(candidates["fields"][4]["type"], "array<string>");
    assert_eq!(candidates["fields"][4]["contact_details_treatment"], "redacted");
    assert_eq!(candidates["fields"][6]["type"], "timestamp");

    // The undeclared field is documented as passed through.
    let undeclared = &candidates["fields"][7];
    assert_eq!(undeclared["name"], "fraudScore");
    assert_eq!(undeclared["type"], "json");
    assert_eq!(undeclared["description"], ashflow_core::schema::UNDECLARED_FIELD_DESCRIPTION);

    let application_fields = &dictionary["datasets"][1]["fields"];
    assert_eq!(application_fields[1]["fields"][0]["references"], "candidates.id");
    assert_eq!(application_fields[2]["references"], "jobs.id");
}

#[tokio::test]
async fn the_readme_introduces_the_export_its_datasets_and_the_redaction() {
    let workspace = Workspace::new();
    workspace.run("", &all_datasets()).await;
    let readme = workspace.read("README.md");

    assert!(readme.starts_with("# Ashby recruiting data export\n"), "{readme}");
    assert!(readme.contains("ashflow"), "{readme}");
    assert!(
        readme.contains(
            "- `candidates`: 2 records in `candidates.jsonl`. People who applied or were sourced.\n"
        ),
        "{readme}"
    );
    assert!(readme.contains("- `applications`: 1 record in `applications.jsonl`."), "{readme}");
    assert!(readme.contains("- `jobs`: 3 records in `jobs.jsonl`."), "{readme}");
    assert!(readme.contains("`<dataset>.part-001.jsonl`"), "{readme}");
    assert!(readme.contains("`candidate.id` → `candidates.id`, `jobId` → `jobs.id`"), "{readme}");
    assert!(readme.contains("were redacted"), "{readme}");
    assert!(readme.contains("`[redacted]`"), "{readme}");
    assert!(
        readme.contains(
            "- `candidates`: `primaryEmailAddress.value`, `emailAddresses[].value`, `phoneNumbers`"
        ),
        "{readme}"
    );
    assert!(readme.contains("UTC") && readme.contains("ISO-8601"), "{readme}");
}

// --- Atomic publish -----------------------------------------------------------------------

#[tokio::test]
async fn a_dropped_sink_leaves_the_previous_export_intact_and_no_staging_folder() {
    let workspace = Workspace::new();
    workspace.run("", &all_datasets()).await;
    let before = workspace.read("candidates.jsonl");

    let mut sink = workspace.open("").await;
    write_dataset(sink.as_mut(), &jobs(), &job_records(5, 5)).await;
    sink.begin_dataset(&candidates()).await.unwrap();
    sink.write_batch(&candidate_records()).await.unwrap();
    drop(sink);

    assert_eq!(workspace.listing(&workspace.spec_dir().join("out")), ["ai"]);
    assert_eq!(
        workspace.listing(&workspace.output()),
        ["README.md", "applications.jsonl", "candidates.jsonl", "dictionary.json", "jobs.jsonl"]
    );
    assert_eq!(workspace.read("candidates.jsonl"), before);
    assert_eq!(workspace.lines("jobs.jsonl").len(), 3);
}

#[tokio::test]
async fn a_finished_run_replaces_the_whole_folder_and_stale_datasets_disappear() {
    let workspace = Workspace::new();
    workspace.run("", &all_datasets()).await;

    workspace.run("max_file_bytes = 1024\n", &[(jobs(), job_records(30, 60))]).await;

    let listing = workspace.listing(&workspace.output());
    assert!(listing.iter().all(|name| !name.starts_with("candidates")), "{listing:?}");
    assert!(listing.iter().all(|name| !name.starts_with("applications")), "{listing:?}");
    assert!(listing.contains(&"jobs.part-001.jsonl".to_string()), "{listing:?}");
    assert!(!listing.contains(&"jobs.jsonl".to_string()), "{listing:?}");
    assert_eq!(workspace.listing(&workspace.spec_dir().join("out")), ["ai"]);
    let readme = workspace.read("README.md");
    assert!(!readme.contains("`candidates`"), "{readme}");
}

#[tokio::test]
async fn a_folder_the_sink_did_not_write_is_refused_when_opening() {
    let workspace = Workspace::new();
    fs::create_dir_all(workspace.output()).unwrap();
    fs::write(workspace.output().join("notes.txt"), "keep me").unwrap();

    let error = workspace.validated("").unwrap().open().await.err().unwrap();

    assert_eq!(error.class(), ErrorClass::Destination);
    assert!(error.to_string().contains("does not look like an earlier ai_json export"), "{error}");
    assert_eq!(workspace.read("notes.txt"), "keep me");
    assert_eq!(workspace.listing(&workspace.spec_dir().join("out")), ["ai"]);
}

// --- Lifecycle misuse ---------------------------------------------------------------------

#[tokio::test]
async fn calls_out_of_order_and_repeated_datasets_are_errors() {
    let workspace = Workspace::new();
    let mut sink = workspace.open("").await;

    let stray = sink.write_batch(&job_records(1, 1)).await.unwrap_err();
    assert!(stray.to_string().contains("out of order"), "{stray}");

    write_dataset(sink.as_mut(), &jobs(), &job_records(1, 1)).await;
    let repeated = sink.begin_dataset(&jobs()).await.unwrap_err();
    assert!(repeated.to_string().contains("`jobs` was written twice"), "{repeated}");

    sink.begin_dataset(&candidates()).await.unwrap();
    let unfinished = sink.finish().await.unwrap_err();
    assert!(unfinished.to_string().contains("out of order"), "{unfinished}");
    assert!(!workspace.output().exists());
}

#[tokio::test]
async fn a_dataset_name_that_is_not_a_file_name_is_refused() {
    let workspace = Workspace::new();
    let mut sink = workspace.open("").await;
    let mut descriptor = jobs();
    descriptor.name = "../escape".into();

    let error = sink.begin_dataset(&descriptor).await.unwrap_err();

    assert_eq!(error.class(), ErrorClass::Destination);
    assert!(error.to_string().contains("cannot be used as a file name"), "{error}");
}

// --- Configuration and registration -------------------------------------------------------

#[test]
fn unknown_keys_are_reported_with_their_line() {
    let workspace = Workspace::new();
    let error = workspace.validated("contact_detail = \"keep\"\n").unwrap_err();

    assert_eq!(error.class(), ErrorClass::Config);
    let message = error.to_string();
    assert!(message.starts_with("spec.toml:4:1: "), "{message}");
    assert!(message.contains("unknown field `contact_detail`"), "{message}");
}

#[test]
fn a_bad_contact_details_value_lists_the_valid_ones() {
    let workspace = Workspace::new();
    let message = workspace.validated("contact_details = \"encrypt\"\n").unwrap_err().to_string();

    assert!(message.starts_with("spec.toml:4:"), "{message}");
    assert!(message.contains("`redact`, `hash`"), "{message}");
    assert!(message.contains("`keep`"), "{message}");
}

#[test]
fn validation_does_no_io() {
    let workspace = Workspace::new();
    workspace.validated("contact_details = \"hash\"\nhash_salt = \"file:missing.txt\"\n").unwrap();
    assert!(workspace.listing(workspace.spec_dir()).is_empty());
}

#[tokio::test]
async fn a_missing_salt_file_fails_the_open_without_creating_anything() {
    let workspace = Workspace::new();
    let validated =
        workspace.validated("contact_details = \"hash\"\nhash_salt = \"file:missing.txt\"\n");

    let error = validated.unwrap().open().await.err().unwrap();

    assert_eq!(error.class(), ErrorClass::Io);
    assert!(error.to_string().contains("missing.txt"), "{error}");
    assert!(workspace.listing(workspace.spec_dir()).is_empty());
}

#[test]
fn the_sink_is_registered_and_its_example_validates() {
    let registration = sink_registrations()
        .into_iter()
        .find(|registration| registration.name == "ai_json")
        .expect("the ai_json sink is registered");
    assert!(!registration.description.is_empty());

    let table = ConfigTable::new(
        "example.toml",
        Arc::from(registration.example),
        vec!["sinks".into(), "ai".into()],
    );
    let context = SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "ai".into() };
    let validated = (registration.validate)(&table, &context).unwrap();
    assert!(format!("{validated:?}").contains("/specs/out/ai"), "{validated:?}");
}
