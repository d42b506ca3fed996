//! End-to-end tests: whole spec files run by the `ashflow` runner against a fake Ashby server
//! on 127.0.0.1, with real outputs read back from disk.
//!
//! One test binary for all end-to-end behaviour (it is built as the runner crate's `e2e` test),
//! so the plugins are linked once and every test sees the same registry.

use ashflow_fake_ashby::{FakeAshby, FakeConfig};
use ashflow_runner::demo::demo_spec;
use ashflow_runner::{RunOptions, run_spec};
use calamine::{Reader, Xlsx, open_workbook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_spec_exports_the_fake_account_to_a_workbook_and_an_ai_folder() {
    let config = FakeConfig { candidates: 40, max_page_size: 10, ..FakeConfig::default() };
    let fake = FakeAshby::start(config).await.expect("the fake Ashby server starts");
    let candidates = fake.records("candidates").len();
    let folder = tempfile::tempdir().expect("a temp folder");
    let spec_path = folder.path().join("spec.toml");
    std::fs::write(&spec_path, demo_spec(&fake.base_url())).expect("the spec is written");

    let summary = run_spec(&spec_path, &RunOptions::default()).await.expect("the spec is valid");
    fake.shutdown().await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    let mut workbook: Xlsx<_> =
        open_workbook(folder.path().join("ashby.xlsx")).expect("the workbook opens");
    let sheet = workbook.worksheet_range("candidates").expect("a candidates sheet");
    assert_eq!(sheet.height(), candidates + 1, "a header row and one row per candidate");
    let lines = std::fs::read_to_string(folder.path().join("ai").join("candidates.jsonl"))
        .expect("the AI folder has the candidates");
    assert_eq!(lines.lines().count(), candidates);
}
