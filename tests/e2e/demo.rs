//! The demo spec, as `ashflow demo` writes it, exports the fake account to both sinks.

use ashflow_fake_ashby::{FakeAshby, FakeConfig};
use ashflow_runner::demo::write_demo_spec;
use ashflow_runner::{RunOptions, run_spec};
use calamine::{Reader, Xlsx, open_workbook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_spec_exports_the_fake_account_to_a_workbook_and_an_ai_folder() {
    let config = FakeConfig { candidates: 40, max_page_size: 10, ..FakeConfig::default() };
    let fake = FakeAshby::start(config).await.expect("the fake Ashby server starts");
    let candidates = fake.records("candidates").len();
    let folder = tempfile::tempdir().expect("a temp folder");
    let spec_path = write_demo_spec(folder.path(), &fake.base_url()).expect("the spec is written");

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
