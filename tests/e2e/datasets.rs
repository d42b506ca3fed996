//! Datasets through whole runs: sinks receive exactly the datasets they choose, joined,
//! filtered and SQL datasets hold what the fake's own records say, and `preview` shows a
//! dataset without writing any sink.

use std::collections::{BTreeMap, HashMap};

use ashflow_runner::RunOptions;
use ashflow_runner::preview::{PreviewError, preview_dataset};
use serde_json::Value;

use crate::support::*;

fn spec_text(base_url: &str) -> String {
    format!(
        r#"[sources.ashby]
type = "ashby"
api_key = "{KEY}"
base_url = "{base_url}"

[datasets.open_jobs]
from = "ashby.jobs"
join = [{{ with = "ashby.departments", on = {{ departmentId = "id" }}, prefix = "department_" }}]
filter = "status = 'Open'"
select = ["id", "title", "department_name"]
rename = {{ department_name = "department" }}
sort = ["id"]

[datasets.applications_per_status]
sql = "SELECT status, count(*) AS applications FROM applications GROUP BY status ORDER BY status"

[sinks.workbook]
type = "excel"
path = "out/ashby.xlsx"
datasets = ["pipeline", "open_jobs", "candidates"]

[sinks.ai]
type = "ai_json"
path = "out/ai"
datasets = ["applications_per_status", "open_jobs"]
"#
    )
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn by_id(records: Vec<Value>) -> HashMap<String, Value> {
    records.into_iter().map(|record| (text(&record["id"]), record)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_receive_the_datasets_they_choose_with_values_the_fake_confirms() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write("spec.toml", &spec_text(&fake.base_url()));

    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());

    // Each sink holds exactly what it chose.
    let workbook = workspace.workbook();
    let mut sheets = workbook.order.clone();
    sheets.sort();
    assert_eq!(sheets, ["Data dictionary", "candidates", "open_jobs", "pipeline"]);
    let mut ai_files: Vec<String> = std::fs::read_dir(workspace.path("out/ai"))
        .expect("the AI folder")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".jsonl"))
        .collect();
    ai_files.sort();
    assert_eq!(ai_files, ["applications_per_status.jsonl", "open_jobs.jsonl"]);

    // Expected values computed here, straight from the fake's records.
    let jobs = by_id(fake.records("jobs"));
    let departments = by_id(fake.records("departments"));
    let locations = by_id(fake.records("locations"));
    let applications = fake.records("applications");

    // open_jobs: a filter and a left join, checked in both sinks.
    let mut expected_open: Vec<(String, String, String)> = jobs
        .values()
        .filter(|job| job["status"] == "Open")
        .map(|job| {
            let department = departments
                .get(&text(&job["departmentId"]))
                .map(|department| text(&department["name"]))
                .unwrap_or_default();
            (text(&job["id"]), text(&job["title"]), department)
        })
        .collect();
    expected_open.sort();
    assert!(!expected_open.is_empty(), "the fake has open jobs");
    let from_ai: Vec<(String, String, String)> = ai_records(&workspace.path("out/ai"), "open_jobs")
        .iter()
        .map(|row| (text(&row["id"]), text(&row["title"]), text(&row["department"])))
        .collect();
    assert_eq!(from_ai, expected_open);
    let sheet: Vec<(String, String, String)> = workbook
        .texts("open_jobs", "id")
        .into_iter()
        .zip(workbook.texts("open_jobs", "title"))
        .zip(workbook.texts("open_jobs", "department"))
        .map(|((id, title), department)| (id, title, department))
        .collect();
    assert_eq!(sheet, expected_open);

    // pipeline: one row per application, with the names behind the ids.
    let ids = workbook.texts("pipeline", "application_id");
    let department_names = workbook.texts("pipeline", "department");
    let location_names = workbook.texts("pipeline", "location");
    let job_titles = workbook.texts("pipeline", "job_title");
    assert_eq!(ids.len(), applications.len());
    let applications = by_id(applications);
    for (index, id) in ids.iter().enumerate() {
        let application = &applications[id];
        let job = jobs.get(&text(&application["job"]["id"]));
        let name_of = |table: &HashMap<String, Value>, key: &str| {
            job.and_then(|job| table.get(&text(&job[key])))
                .map(|row| text(&row["name"]))
                .unwrap_or_default()
        };
        assert_eq!(department_names[index], name_of(&departments, "departmentId"), "{id}");
        assert_eq!(location_names[index], name_of(&locations, "locationId"), "{id}");
        let title = job.map(|job| text(&job["title"])).unwrap_or_default();
        assert_eq!(job_titles[index], title, "{id}");
    }

    // SQL: counts per status.
    let mut expected_counts: BTreeMap<String, u64> = BTreeMap::new();
    for application in applications.values() {
        *expected_counts.entry(text(&application["status"])).or_default() += 1;
    }
    let counted: BTreeMap<String, u64> =
        ai_records(&workspace.path("out/ai"), "applications_per_status")
            .iter()
            .map(|row| (text(&row["status"]), row["applications"].as_u64().unwrap_or(0)))
            .collect();
    assert_eq!(counted, expected_counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_a_dataset_and_writes_no_sink() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write("spec.toml", &spec_text(&fake.base_url()));
    let options = RunOptions::default();

    let table = preview_dataset(&spec, "open_jobs", 3, &options).await.expect("a preview");

    assert!(table.contains("department"), "{table}");
    let first_open = fake
        .records("jobs")
        .into_iter()
        .filter(|job| job["status"] == "Open")
        .map(|job| text(&job["id"]))
        .min()
        .expect("an open job");
    assert!(table.contains(&first_open[..8]), "the first row by id is shown: {table}");
    assert!(!workspace.path("out").exists(), "no sink was written");
    // Only what open_jobs is made from was read.
    assert_eq!(fake.request_count(Some("candidate.list")), 0);
    assert!(fake.request_count(Some("job.list")) > 0);

    let unknown = preview_dataset(&spec, "open_job", 3, &options).await;
    let Err(PreviewError::UnknownDataset(message)) = unknown else {
        panic!("an unknown dataset is refused")
    };
    assert!(message.contains("open_jobs"), "{message}");
}
