//! Load benchmark: 100,000 candidate rows (nested records, lists, JSON, long text) through the
//! sink into the BigQuery emulator, reporting wall time, rows per second and API requests.
//!
//! Run it with `cargo bench -p ashflow-sink-bigquery --bench load` (a release build); pass
//! `-- --rows N --batch-rows N` to change the size. It starts its own emulator unless
//! `ASHFLOW_BQ_EMULATOR_URL` names one, and needs the emulator installed
//! (`scripts/bq-emulator.sh install`). The emulator runs on this machine, so the figures
//! measure the sink and the emulator together, not BigQuery's own speed.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use ashflow_fake_bigquery::Emulator;
use ashflow_fake_bigquery::emulator::PROJECT;

fn argument(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|index| args.get(index + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = argument(&args, "--rows", 100_000);
    let batch_rows = argument(&args, "--batch-rows", 500);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");

    runtime.block_on(async {
        let emulator = Emulator::shared();
        let dataset = common::unique_dataset("bench");
        let records = common::candidates(0, rows, "");
        let spec = format!(
            "auth = \"none\"\nbase_url = \"{}\"\nproject = \"{PROJECT}\"\n\
             bigquery_dataset = \"{dataset}\"\nbatch_rows = {batch_rows}\n",
            emulator.url
        );
        let descriptor = common::descriptor("candidates", common::candidate_fields());

        let started = Instant::now();
        let report = common::run(&spec, &[(descriptor, records)]).await.expect("the load runs");
        let seconds = started.elapsed().as_secs_f64();

        let count = emulator
            .query(&format!("SELECT COUNT(*) AS n FROM `{PROJECT}.{dataset}.candidates`"))
            .await;
        let loaded = count[0]["n"].as_str().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        assert_eq!(loaded, rows, "every row reached the table");

        println!("rows loaded:      {rows}");
        println!("rows per request: {batch_rows}");
        println!("wall time:        {seconds:.2} s");
        println!("rows per second:  {:.0}", rows as f64 / seconds);
        println!("API requests:     {}", report.requests);
    });
}
