//! Benchmark: 100,000 rows x 30 columns written by the Sheets sink into the fake Sheets server,
//! printing write requests, bytes sent and wall time. Run with `cargo bench -p
//! ashflow-sink-sheets`.

use std::sync::Arc;
use std::time::Instant;

use ashflow_core::prelude::*;
use ashflow_fake_sheets::{FakeSheets, FakeSheetsConfig, key};
use serde_json::{Map, json};

const ROWS: usize = 100_000;
const COLUMNS: usize = 30;
const EMAIL: &str = "bench@ashflow-bench.iam.gserviceaccount.com";

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    if let Err(error) = runtime.block_on(bench()) {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}

/// A column of each kind the sink handles: text ids, names, numbers, booleans, timestamps.
fn schema() -> Schema {
    let fields = (0..COLUMNS)
        .map(|index| {
            let data_type = match index % 5 {
                0 => DataType::String,
                1 => DataType::String,
                2 => DataType::Number,
                3 => DataType::Boolean,
                _ => DataType::Timestamp,
            };
            Field::new(format!("c{index:02}"), data_type, "Benchmark column.")
        })
        .collect();
    Schema::new(fields)
}

fn record(row: usize) -> Record {
    let mut record = Map::new();
    for index in 0..COLUMNS {
        let value = match index % 5 {
            0 => json!(format!("{row:08}")),
            1 => json!(format!("Candidate {row} of column {index}")),
            2 => json!(row as f64 * 1.25),
            3 => json!(row.is_multiple_of(2)),
            _ => json!(format!("2024-0{}-1{}T10:20:30Z", 1 + row % 9, row % 10)),
        };
        record.insert(format!("c{index:02}"), value);
    }
    record
}

async fn bench() -> Result<(), String> {
    let fake = FakeSheets::start(FakeSheetsConfig::default()).await.map_err(|e| e.to_string())?;
    fake.create_spreadsheet("bench", &[EMAIL]);
    fake.register_service_account(EMAIL, &key::test_private_key()?)?;
    let folder = tempfile::tempdir().map_err(|e| e.to_string())?;
    let key_file = key::write_service_account_key(folder.path(), EMAIL, &fake.token_uri())?;
    let spec = format!(
        "[sinks.sheet]\ntype = \"google_sheets\"\ncredentials = \"{}\"\nspreadsheet_id = \
         \"bench\"\nbase_url = \"{}\"\n",
        key_file.display(),
        fake.base_url()
    );
    let table =
        ConfigTable::new("bench.toml", Arc::from(spec), vec!["sinks".into(), "sheet".into()]);
    let context =
        SpecContext { spec_dir: folder.path().to_path_buf(), component_id: "sheet".into() };
    let validated = ashflow_sink_sheets::validate(&table, &context).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let mut sink = validated.open().await.map_err(|e| e.to_string())?;
    let descriptor = DatasetDescriptor {
        name: "candidates".into(),
        description: String::new(),
        schema: schema(),
        primary_key: Some("c00".into()),
        rows: Some(ROWS as u64),
    };
    sink.begin_dataset(&descriptor).await.map_err(|e| e.to_string())?;
    for first in (0..ROWS).step_by(250) {
        let batch: Vec<Record> = (first..(first + 250).min(ROWS)).map(record).collect();
        sink.write_batch(&batch).await.map_err(|e| e.to_string())?;
    }
    sink.end_dataset().await.map_err(|e| e.to_string())?;
    let prepared = started.elapsed();
    let report = sink.finish().await.map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();

    let log = fake.requests();
    let writes: Vec<_> = log.iter().filter(|r| r.is_write()).collect();
    let value_writes = writes.iter().filter(|r| r.kind == "values.batchUpdate").count();
    let bytes: usize = writes.iter().map(|r| r.body_bytes).sum();
    let largest = writes.iter().map(|r| r.body_bytes).max().unwrap_or(0);
    let stored = fake.values("bench", "candidates").map_or(0, |rows| rows.len());
    if stored != ROWS + 1 {
        return Err(format!("expected {} rows in the tab, found {stored}", ROWS + 1));
    }
    println!("google_sheets sink: {ROWS} rows x {COLUMNS} columns into the fake");
    println!(
        "  wall time            {:.2} s (rows prepared in {:.2} s)",
        elapsed.as_secs_f64(),
        prepared.as_secs_f64()
    );
    println!(
        "  API requests         {} (reported by the sink: {})",
        log.iter().filter(|r| r.kind != "token").count(),
        report.requests
    );
    println!("  write requests       {} ({value_writes} values.batchUpdate)", writes.len());
    println!(
        "  bytes written        {:.1} MiB, largest request {:.2} MiB",
        bytes as f64 / 1_048_576.0,
        largest as f64 / 1_048_576.0
    );
    println!("  rows in the tab      {}", stored - 1);
    Ok(())
}
