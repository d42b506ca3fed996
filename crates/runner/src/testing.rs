//! Stand-in plugins for the runner's unit tests: a source that makes records up from its spec
//! table and a sink that writes down every call it receives.
//!
//! They go through the same registry, validation and lifecycle as real plugins, but are never
//! submitted to `inventory`, so the binary's registry stays exactly the real plugins.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use ashflow_core::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::plugins::Registry;

/// A registry holding the stand-ins: source `memory` and sink `journal`.
pub(crate) fn registry() -> Registry {
    Registry::new(vec![&MEMORY], vec![&JOURNAL])
}

/// Every event the journal sinks named `name` received so far.
pub(crate) fn journal(name: &str) -> Vec<String> {
    JOURNALS.lock().unwrap().get(name).cloned().unwrap_or_default()
}

static JOURNALS: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

fn write_down(name: &str, event: String) {
    JOURNALS.lock().unwrap().entry(name.to_string()).or_default().push(event);
}

static MEMORY: SourceRegistration = SourceRegistration {
    name: "memory",
    description: "Made-up records, for tests.",
    example: "[sources.memory]\ntype = \"memory\"\nstreams = [\"candidates\"]\n",
    validate: validate_memory,
};

static JOURNAL: SinkRegistration = SinkRegistration {
    name: "journal",
    description: "Writes down what it receives, for tests.",
    example: "[sinks.journal]\ntype = \"journal\"\njournal = \"name\"\n",
    validate: validate_journal,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryConfig {
    /// The streams offered, each with the same made-up records.
    streams: Vec<String>,
    /// Records per stream.
    #[serde(default = "three")]
    rows: u64,
    /// Streams that fail with a missing permission after their first batch.
    #[serde(default)]
    fail: Vec<String>,
    /// Streams that never end, to test cancellation.
    #[serde(default)]
    hang: Vec<String>,
    /// Makes building fail, as an unset environment variable would.
    #[serde(default)]
    broken_build: bool,
}

fn three() -> u64 {
    3
}

fn validate_memory(
    table: &ConfigTable,
    _context: &SpecContext,
) -> Result<Box<dyn ValidatedSource>> {
    let config: MemoryConfig = table.deserialize()?;
    if config.streams.is_empty() {
        return Err(table.error_at("streams", "list at least one stream"));
    }
    Ok(Box::new(MemorySource { config }))
}

#[derive(Debug, Clone)]
struct MemorySource {
    config: MemoryConfig,
}

fn descriptor(name: &str) -> StreamDescriptor {
    StreamDescriptor {
        name: name.to_string(),
        description: format!("Made-up {name}."),
        schema: Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("createdAt", DataType::Timestamp, "Created."),
        ]),
        primary_key: "id".into(),
        created_at_field: Some("createdAt".into()),
        incremental: false,
    }
}

#[async_trait]
impl ValidatedSource for MemorySource {
    fn streams(&self) -> Vec<StreamDescriptor> {
        self.config.streams.iter().map(|name| descriptor(name)).collect()
    }

    async fn build(self: Box<Self>) -> Result<Box<dyn Source>> {
        if self.config.broken_build {
            return Err(Error::config("the environment variable MEMORY_TEST_KEY is not set"));
        }
        let streams = self.streams();
        Ok(Box::new(BuiltMemorySource { config: self.config, streams }))
    }
}

struct BuiltMemorySource {
    config: MemoryConfig,
    streams: Vec<StreamDescriptor>,
}

#[async_trait]
impl Source for BuiltMemorySource {
    fn streams(&self) -> &[StreamDescriptor] {
        &self.streams
    }

    /// Sends the records newest first, in batches of two, and the first batch twice, so the
    /// runner has to sort and deduplicate them.
    async fn read(&self, request: ReadRequest, out: BatchSender) -> Result<StreamReport> {
        let stream = request.stream;
        let records: Vec<Record> = (0..self.config.rows)
            .map(|index| {
                let created = format!("2024-01-01T00:00:{:02}Z", 59 - index);
                let id = format!("{stream}-{index}");
                let record = json!({"id": id, "createdAt": created, "extra": index});
                record.as_object().cloned().expect("the record is an object")
            })
            .collect();
        let batches: Vec<&[Record]> = records.chunks(2).collect();
        let first = batches.first().map(|b| b.to_vec()).unwrap_or_default();

        let send = |records: Vec<Record>| out.send(Batch::new(stream.clone(), records));
        send(first.clone()).await.map_err(|_| Error::Cancelled)?;
        if self.config.fail.contains(&stream) {
            return Err(Error::MissingPermission {
                permission: "offersRead".into(),
                message: format!("the key cannot read {stream}"),
            });
        }
        if self.config.hang.contains(&stream) {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
        }
        for batch in &batches {
            send(batch.to_vec()).await.map_err(|_| Error::Cancelled)?;
        }
        Ok(StreamReport {
            records: self.config.rows,
            requests: batches.len() as u64,
            ..StreamReport::default()
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalConfig {
    /// Where the events are written down.
    journal: String,
    /// A dataset whose `begin_dataset` fails.
    #[serde(default)]
    fail_at: Option<String>,
    /// Milliseconds each `write_batch` takes, to test cancellation while writing.
    #[serde(default)]
    delay_ms: u64,
}

fn validate_journal(table: &ConfigTable, _context: &SpecContext) -> Result<Box<dyn ValidatedSink>> {
    let config: JournalConfig = table.deserialize()?;
    Ok(Box::new(JournalSink { config }))
}

#[derive(Debug)]
struct JournalSink {
    config: JournalConfig,
}

#[async_trait]
impl ValidatedSink for JournalSink {
    async fn open(self: Box<Self>) -> Result<Box<dyn Sink>> {
        Ok(Box::new(OpenJournal { config: self.config, current: None }))
    }
}

struct OpenJournal {
    config: JournalConfig,
    current: Option<DatasetReport>,
}

#[async_trait]
impl Sink for OpenJournal {
    async fn begin_dataset(&mut self, dataset: &DatasetDescriptor) -> Result<()> {
        if self.config.fail_at.as_deref() == Some(dataset.name.as_str()) {
            return Err(Error::destination(format!("refused {}", dataset.name)));
        }
        let fields: Vec<&str> = dataset.schema.fields.iter().map(|f| f.name.as_str()).collect();
        write_down(
            &self.config.journal,
            format!(
                "begin {} rows={} fields={}",
                dataset.name,
                dataset.rows.unwrap_or_default(),
                fields.join(",")
            ),
        );
        self.current = Some(DatasetReport { dataset: dataset.name.clone(), ..Default::default() });
        Ok(())
    }

    async fn write_batch(&mut self, records: &[Record]) -> Result<()> {
        tokio::time::sleep(Duration::from_millis(self.config.delay_ms)).await;
        let ids: Vec<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
        write_down(&self.config.journal, format!("rows {}", ids.join(",")));
        if let Some(current) = &mut self.current {
            current.rows += records.len() as u64;
        }
        Ok(())
    }

    async fn end_dataset(&mut self) -> Result<DatasetReport> {
        let report = self.current.take().expect("end follows begin");
        write_down(&self.config.journal, format!("end {}", report.dataset));
        Ok(report)
    }

    async fn finish(self: Box<Self>) -> Result<SinkReport> {
        write_down(&self.config.journal, "finish".into());
        Ok(SinkReport { location: Some(self.config.journal.clone()), ..Default::default() })
    }
}
