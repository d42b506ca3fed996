//! The failure paths a user meets: a key without a permission, a rejected key, a storm of
//! transient errors, a cursor that expires mid-pass, a destination that cannot be written, and
//! a process killed mid-run. Each asserts what the user sees and that no row is lost or
//! duplicated.

use std::time::Duration;

use ashflow_core::ErrorClass;
use ashflow_fake_ashby::{Fault, FaultRule};

use crate::support::*;

fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status { status, retry_after: retry_after.map(str::to_string) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_fails_one_entity_and_exports_the_others() {
    let fake = small_account().await;
    fake.add_key(
        "no-offers",
        &[
            "candidatesRead",
            "hiringProcessMetadataRead",
            "organizationRead",
            "jobsRead",
            "interviewsRead",
        ],
    );
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), "no-offers", "");

    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 1);
    let offers = summary.streams.iter().find(|s| s.stream == "offers").expect("offers is listed");
    let error = offers.result.as_ref().expect_err("offers fails");
    assert_eq!(error.class(), ErrorClass::Permission);
    let rendered = summary.render();
    assert!(rendered.contains("offers") && rendered.contains("offersRead"), "{rendered}");

    let workbook = workspace.workbook();
    assert!(!workbook.sheets.contains_key("offers"));
    for entity in entity_names().into_iter().filter(|e| *e != "offers") {
        assert_eq!(sheet_ids(&workbook, entity), fake_ids(&fake, entity), "{entity} rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_without_losing_or_duplicating_rows() {
    let fake = small_account().await;
    fake.inject(FaultRule::once(status(429, Some("1"))).on("candidate.list").after(2).times(2));
    fake.inject(FaultRule::once(status(429, None)).on("application.list").after(3).times(2));
    fake.inject(FaultRule::once(status(500, None)).on("job.list").after(1));
    fake.inject(FaultRule::once(status(503, None)).on("user.list"));
    fake.inject(FaultRule::once(Fault::TruncatedBody).on("interviewSchedule.list").after(1));
    fake.inject(FaultRule::once(Fault::NotJson).on("offer.list"));
    fake.inject(FaultRule::once(Fault::DropConnection).on("department.list").after(1));
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");

    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let retries: u64 = summary
        .streams
        .iter()
        .map(|s| s.result.as_ref().map(|report| report.retries).unwrap_or_default())
        .sum();
    assert!(retries >= 9, "every injected fault was retried, saw {retries}");

    let workbook = workspace.workbook();
    for entity in entity_names() {
        assert_eq!(sheet_ids(&workbook, entity), fake_ids(&fake, entity), "{entity} rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_expires_mid_pass_restarts_the_pass_without_duplicates() {
    let fake = small_account().await;
    let expired = Fault::ErrorCode { code: "next_cursor_expired".into() };
    fake.inject(FaultRule::once(expired).on("application.list").with_cursor_only().after(5));
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");

    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let applications = summary.streams.iter().find(|s| s.stream == "applications").expect("listed");
    let report = applications.result.as_ref().expect("applications succeeds");
    assert_eq!(report.pass_restarts, 1);
    assert_eq!(report.records as usize, fake.records("applications").len());
    assert_eq!(sheet_ids(&workspace.workbook(), "applications"), fake_ids(&fake, "applications"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_says_so_and_leaves_the_previous_outputs_untouched() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let good = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&good).await.exit_code(), 0);
    let workbook_before = std::fs::read(workspace.path("out/ashby.xlsx")).expect("a workbook");
    let ai_before = std::fs::read(workspace.path("out/ai/candidates.jsonl")).expect("a file");

    let revoked = workspace.write_spec(&fake.base_url(), "revoked-key", "");
    let summary = workspace.run(&revoked).await;

    assert_eq!(summary.exit_code(), 1);
    assert!(summary.streams.iter().all(|s| s.result.is_err()));
    let rendered = summary.render();
    assert!(rendered.to_lowercase().contains("key"), "{rendered}");
    assert!(!rendered.contains("revoked-key"), "the key itself is never printed");
    assert!(
        rendered.contains("source ashby (every stream)"),
        "said once, not per stream: {rendered}"
    );
    assert_eq!(std::fs::read(workspace.path("out/ashby.xlsx")).expect("kept"), workbook_before);
    assert_eq!(std::fs::read(workspace.path("out/ai/candidates.jsonl")).expect("kept"), ai_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_cannot_be_written_fails_only_its_sink() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    std::fs::create_dir_all(workspace.path("out/ashby.xlsx"))
        .expect("a folder where the file goes");
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");

    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 1);
    let workbook = summary.sinks.iter().find(|s| s.sink == "workbook").expect("listed");
    assert!(workbook.result.is_err());
    let ai = summary.sinks.iter().find(|s| s.sink == "ai").expect("listed");
    assert!(ai.result.is_ok(), "{}", summary.render());
    assert_eq!(ai_records(&workspace.path("out/ai"), "users").len(), fake.records("users").len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_leaves_the_previous_outputs_and_the_next_run_is_complete() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");
    assert_eq!(workspace.run(&spec).await.exit_code(), 0);
    let workbook_before = std::fs::read(workspace.path("out/ashby.xlsx")).expect("a workbook");

    // Slow the next requests down so the kill lands mid-read, then kill the real binary once
    // its reads have begun. A second run reads only changes, so it is too quick to kill after
    // a fixed time.
    fake.inject(FaultRule::once(Fault::Delay(Duration::from_millis(200))).times(40));
    let reading = fake.request_count(None) + 3;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ashflow"))
        .args(["run", "--no-progress", "--quiet"])
        .arg(&spec)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let started = tokio::time::timeout(Duration::from_secs(60), fake.wait_for_requests(reading));
    assert!(started.await.is_ok(), "the run started reading");
    child.kill().expect("the run is killed");
    child.wait().expect("the run ends");

    assert_eq!(std::fs::read(workspace.path("out/ashby.xlsx")).expect("kept"), workbook_before);
    let visible_leftovers: Vec<_> = std::fs::read_dir(workspace.path("out"))
        .expect("out lists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "ashby.xlsx" && name != "ai" && !name.starts_with('.'))
        .collect();
    assert!(
        visible_leftovers.is_empty(),
        "a killed run leaves nothing visible: {visible_leftovers:?}"
    );

    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let workbook = workspace.workbook();
    for entity in entity_names() {
        assert_eq!(sheet_ids(&workbook, entity), fake_ids(&fake, entity), "{entity} rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_that_cannot_be_written_fail_the_run_before_anything_is_fetched() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    workspace.write("blocker", "a file where the output folder should be");
    let spec = workspace.write(
        "spec.toml",
        &format!(
            "[sources.ashby]\ntype = \"ashby\"\napi_key = \"{KEY}\"\nbase_url = \"{}\"\n\n\
             [sinks.workbook]\ntype = \"excel\"\npath = \"blocker/ashby.xlsx\"\n\n\
             [sinks.ai]\ntype = \"ai_json\"\npath = \"blocker/ai\"\n",
            fake.base_url()
        ),
    );

    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 1);
    assert_eq!(fake.request_count(None), 0, "nothing is fetched when no sink can be written");
    assert!(summary.sinks.iter().all(|sink| sink.result.is_err()));
    let rendered = summary.render();
    assert!(rendered.contains("blocker"), "{rendered}");
}
