//! Incremental syncs on the replica, end to end against the fake: unchanged and changed
//! accounts, records deleted upstream, rejected sync tokens, cursor errors in a changes pass,
//! runs killed at many points, overlapping runs, and the `ashflow runs` history.
//!
//! The recurring check is that the outputs of an incremental run equal those of a fresh full
//! export of the same upstream data into another folder: same sheets, rows, values and order.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ashflow_fake_ashby::{FakeAshby, FakeConfig, Fault, FaultRule};
use ashflow_runner::{RunOptions, RunSummary, run_spec};
use calamine::Data;

use crate::support::*;

/// An account whose entities each fit in one page, so an unchanged account costs exactly one
/// request per entity.
async fn roomy_account() -> FakeAshby {
    FakeAshby::start(FakeConfig {
        seed: 11,
        candidates: 40,
        api_key: KEY.into(),
        max_page_size: 100,
        ..FakeConfig::default()
    })
    .await
    .expect("the fake starts")
}

/// Everything a run published: every sheet's cells and every AI JSON Lines file's text.
#[derive(Debug, PartialEq)]
struct Outputs {
    sheets: BTreeMap<String, Vec<Vec<Data>>>,
    ai_files: BTreeMap<String, String>,
}

fn outputs(workspace: &Workspace) -> Outputs {
    let mut ai_files = BTreeMap::new();
    for entry in std::fs::read_dir(workspace.path("out/ai")).expect("the AI folder exists") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") || name == "dictionary.json" {
            let text = std::fs::read_to_string(&path).expect("the file reads");
            // The dictionary says when it was written, which differs between any two runs.
            let text: String = text
                .lines()
                .filter(|line| !line.contains("\"generated_at\""))
                .map(|line| format!("{line}\n"))
                .collect();
            ai_files.insert(name, text);
        }
    }
    Outputs { sheets: workspace.workbook().sheets, ai_files }
}

/// Asserts that two runs published the same outputs, naming the first difference.
#[track_caller]
fn assert_same_outputs(actual: &Outputs, expected: &Outputs) {
    assert_eq!(
        actual.sheets.keys().collect::<Vec<_>>(),
        expected.sheets.keys().collect::<Vec<_>>()
    );
    for (sheet, rows) in &expected.sheets {
        let actual_rows = &actual.sheets[sheet];
        for (index, (got, want)) in actual_rows.iter().zip(rows).enumerate() {
            assert_eq!(got, want, "sheet {sheet}, row {index}");
        }
        assert_eq!(actual_rows.len(), rows.len(), "rows of sheet {sheet}");
    }
    assert_eq!(
        actual.ai_files.keys().collect::<Vec<_>>(),
        expected.ai_files.keys().collect::<Vec<_>>()
    );
    for (file, text) in &expected.ai_files {
        for (index, (got, want)) in actual.ai_files[file].lines().zip(text.lines()).enumerate() {
            assert_eq!(got, want, "{file}, line {index}");
        }
        assert_eq!(actual.ai_files[file], *text, "{file}");
    }
}

/// The outputs of a fresh full export of `fake`'s current data into a new folder.
async fn fresh_export(fake: &FakeAshby) -> Outputs {
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    outputs(&workspace)
}

async fn run_full_refresh(spec: &Path) -> RunSummary {
    let options = RunOptions { full_refresh: true, ..RunOptions::default() };
    run_spec(spec, &options).await.expect("the spec is valid")
}

fn stream<'a>(summary: &'a RunSummary, entity: &str) -> &'a ashflow_runner::StreamOutcome {
    summary.streams.iter().find(|s| s.stream == entity).expect("the entity is listed")
}

/// Asserts that every sheet holds exactly the fake's records, each once.
fn assert_outputs_match_upstream(workspace: &Workspace, fake: &FakeAshby) {
    let workbook = workspace.workbook();
    for entity in entity_names() {
        assert_eq!(sheet_ids(&workbook, entity), fake_ids(fake, entity), "{entity} rows");
        let ai_ids: Vec<String> = ai_records(&workspace.path("out/ai"), entity)
            .iter()
            .map(|record| record["id"].as_str().expect("an id").to_string())
            .collect();
        let mut sorted = ai_ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, fake_ids(fake, entity), "{entity} AI records, each once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_account_costs_one_request_per_entity_and_writes_the_same_outputs() {
    let fake = roomy_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);
    let first = outputs(&workspace);
    let before = fake.request_count(None);

    let second = workspace.run(&spec).await;

    assert_eq!(second.exit_code(), 0, "{}", second.render());
    assert_eq!(fake.request_count(None) - before, 14, "one list request per entity");
    assert_same_outputs(&outputs(&workspace), &first);
    for entity in ["candidates", "applications", "users"] {
        assert!(stream(&second, entity).replica.changes_only, "{entity} read only changes");
    }
    for entity in ["archive_reasons", "job_postings", "sources"] {
        assert!(!stream(&second, entity).replica.changes_only, "{entity} has no sync token");
    }
    let last_body = fake.request_bodies("candidate.list").pop().expect("a request");
    assert!(last_body.get("syncToken").is_some_and(|t| t.is_string()), "{last_body}");
    assert!(second.render().contains(".ashflow/spec.sqlite"), "{}", second.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_records_are_all_the_next_run_fetches_and_outputs_equal_a_fresh_export() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);

    fake.mutate("candidates", 5);
    fake.mutate("applications", 3);
    fake.mutate("jobs", 2);
    let bodies_before = fake.request_bodies("candidate.list").len();
    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let read = |entity| stream(&summary, entity).result.as_ref().expect("read").records;
    assert_eq!((read("candidates"), read("applications"), read("jobs")), (5, 3, 2));
    assert_eq!(read("users"), 0);
    assert_eq!(stream(&summary, "candidates").replica.written, 5);
    let bodies = fake.request_bodies("candidate.list");
    assert!(
        bodies[bodies_before].get("syncToken").is_some_and(|t| t.is_string()),
        "the changes pass starts from the stored token: {}",
        bodies[bodies_before]
    );
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_deleted_upstream_stays_until_a_full_pass_then_disappears() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);

    let deleted = fake.delete("candidates", 2);
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);
    let kept = sheet_ids(&workspace.workbook(), "candidates");
    assert!(deleted.iter().all(|id| kept.contains(id)), "a changes pass cannot see deletions");

    let summary = run_full_refresh(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    assert_eq!(stream(&summary, "candidates").replica.removed, 2);
    assert!(!stream(&summary, "candidates").replica.changes_only);
    assert_eq!(sheet_ids(&workspace.workbook(), "candidates"), fake_ids(&fake, "candidates"));
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_refresh_every_removes_deleted_records_once_the_last_full_pass_is_old_enough() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec_text = format!(
        "full_refresh_every = \"1s\"\n\n[sources.ashby]\ntype = \"ashby\"\napi_key = \"{KEY}\"\n\
         base_url = \"{}\"\n\n[sinks.workbook]\ntype = \"excel\"\npath = \"out/ashby.xlsx\"\n\n\
         [sinks.ai]\ntype = \"ai_json\"\npath = \"out/ai\"\n",
        fake.base_url()
    );
    let spec = workspace.write("spec.toml", &spec_text);
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);
    let deleted = fake.delete("offers", 1);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    assert!(!stream(&summary, "offers").replica.changes_only, "a full pass was due");
    assert!(!sheet_ids(&workspace.workbook(), "offers").contains(&deleted[0]));
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sync_token_rebuilds_the_entity_with_a_full_pass() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);

    let deleted = fake.delete("candidates", 3);
    fake.mutate("candidates", 2);
    let expired = Fault::ErrorCode { code: "sync_token_expired".into() };
    fake.inject(FaultRule::once(expired).on("candidate.list"));
    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let candidates = stream(&summary, "candidates");
    assert!(!candidates.replica.changes_only, "the pass fell back to a full one");
    assert_eq!(candidates.replica.removed, 3, "the full pass removes what was deleted");
    let ids = sheet_ids(&workspace.workbook(), "candidates");
    assert!(deleted.iter().all(|id| !ids.contains(id)));
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);

    // The full pass stored a fresh token: the run after it reads changes again.
    let next = workspace.run(&spec).await;
    assert!(stream(&next, "candidates").replica.changes_only);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_error_in_a_changes_pass_restarts_it_without_duplicates() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);

    // Three pages of changes at four records a page, and the second page's cursor expires.
    fake.mutate("applications", 10);
    let expired = Fault::ErrorCode { code: "next_cursor_expired".into() };
    fake.inject(FaultRule::once(expired).on("application.list").with_cursor_only());
    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let applications = stream(&summary, "applications");
    let report = applications.result.as_ref().expect("read");
    assert_eq!((report.pass_restarts, report.records), (1, 10));
    assert!(applications.replica.changes_only);
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);
}

/// Starts `ashflow run` on `spec` as a separate process.
fn spawn_run(spec: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ashflow"))
        .args(["run", "--no-progress", "--quiet"])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// Runs the real binary and SIGKILLs it once the fake has received `requests` more requests,
/// or lets it end if it finishes first.
async fn kill_after(fake: &FakeAshby, spec: &Path, requests: usize) {
    let target = fake.request_count(None) + requests;
    let mut child = spawn_run(spec);
    let reached = tokio::time::timeout(Duration::from_secs(60), fake.wait_for_requests(target));
    assert!(reached.await.is_ok(), "the run reached request {requests}");
    child.kill().expect("the run is killed");
    child.wait().expect("the run ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_killed_at_many_points_are_completed_by_the_next_run_without_duplicates() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");

    // Kill first runs early, mid-way and late; each next attempt carries on from the replica.
    for requests in [1, 15, 60, 140] {
        kill_after(&fake, &spec, requests).await;
    }
    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    assert_outputs_match_upstream(&workspace, &fake);
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);

    // The same for incremental runs, with changes and deletions waiting upstream.
    fake.mutate("candidates", 9);
    fake.mutate("interview_schedules", 6);
    fake.delete("applications", 2);
    for requests in [2, 9, 16] {
        kill_after(&fake, &spec, requests).await;
        fake.mutate("offers", 1);
    }
    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let summary = run_full_refresh(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    assert_outputs_match_upstream(&workspace, &fake);
    assert_same_outputs(&outputs(&workspace), &fresh_export(&fake).await);

    let history = ashflow_runner::run_history(&workspace.path(".ashflow/spec.sqlite"), 50)
        .expect("the history reads");
    let interrupted = history.iter().filter(|run| run.outcome == "interrupted").count();
    assert!(interrupted >= 6, "killed runs show as interrupted: {history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_the_same_spec_is_refused_while_the_first_is_going() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    fake.inject(FaultRule::once(Fault::Delay(Duration::from_millis(300))).times(200));
    let mut first = spawn_run(&spec);
    let started = tokio::time::timeout(Duration::from_secs(60), fake.wait_for_requests(1));
    assert!(started.await.is_ok(), "the first run is reading");

    let second = workspace.run(&spec).await;

    first.kill().expect("the first run is stopped");
    first.wait().expect("the first run ends");
    assert_eq!(second.exit_code(), 1);
    let rendered = second.render();
    let expected = format!("another ashflow run of this spec is in progress (pid {})", first.id());
    assert!(rendered.contains(&expected), "{rendered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ashflow_runs_lists_the_history_newest_first_as_a_table_and_as_json() {
    let fake = roomy_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    let runs = |json: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ashflow"));
        command.arg("runs").arg(&spec);
        if json {
            command.arg("--json");
        }
        let output = command.output().expect("the binary runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    assert!(runs(false).starts_with("No runs yet"), "{}", runs(false));

    assert_eq!(workspace.run(&spec).await.exit_code(), 0);
    fake.mutate("jobs", 2);
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);

    let table = runs(false);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("run") && lines[0].contains("requests"), "{table}");
    assert!(lines[1].trim_start().starts_with("2 ") && lines[1].contains("succeeded"), "{table}");
    assert!(lines[2].trim_start().starts_with("1 "), "{table}");
    assert!(table.contains("State: "), "{table}");

    let history: serde_json::Value = serde_json::from_str(&runs(true)).expect("JSON");
    let newest = &history[0];
    assert_eq!(newest["run_id"], 2);
    assert_eq!(newest["outcome"], "succeeded");
    assert_eq!(newest["requests"], 14);
    assert_eq!(
        newest["rows_read"],
        2 + fake.records("archive_reasons").len()
            + fake.records("job_postings").len()
            + fake.records("sources").len()
    );
    assert_eq!(newest["rows_written"], 2);
    assert_eq!(history[1]["rows_removed"], 0);
}
