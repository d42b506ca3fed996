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
    /// Offer sync tokens: a full pass ends with token `upto-ROWS`, and a read given `upto-K`
    /// sends only the records from index K on (the ones added since), as a changes pass.
    #[serde(default)]
    incremental: bool,
    /// Records whose `extra` value is raised by this much, to imitate upstream edits.
    #[serde(default)]
    revision: u64,
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

fn descriptor(name: &str, incremental: bool) -> StreamDescriptor {
    StreamDescriptor {
        name: name.to_string(),
        description: format!("Made-up {name}."),
        schema: Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("createdAt", DataType::Timestamp, "Created."),
        ]),
        primary_key: "id".into(),
        created_at_field: Some("createdAt".into()),
        incremental,
    }
}

#[async_trait]
impl ValidatedSource for MemorySource {
    fn streams(&self) -> Vec<StreamDescriptor> {
        self.config.streams.iter().map(|name| descriptor(name, self.config.incremental)).collect()
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

    /// Sends the records newest first, one batch of two per page, and the first page twice,
    /// so the runner has to sort and deduplicate them. The last page carries the end of the
    /// pass (with a token when `incremental`), even when it is empty.
    async fn read(&self, request: ReadRequest, out: BatchSender) -> Result<StreamReport> {
        let stream = request.stream;
        let since = request
            .sync_token
            .as_deref()
            .and_then(|token| token.strip_prefix("upto-"))
            .and_then(|index| index.parse::<u64>().ok())
            .filter(|_| self.config.incremental);
        let pass = if since.is_some() { Pass::Changes } else { Pass::Full };
        let records: Vec<Record> = (since.unwrap_or(0)..self.config.rows)
            .map(|index| {
                let created = format!("2024-01-01T00:00:{:02}Z", 59 - index);
                let id = format!("{stream}-{index}");
                let extra = index + self.config.revision;
                let record = json!({"id": id, "createdAt": created, "extra": extra});
                record.as_object().cloned().expect("the record is an object")
            })
            .collect();
        let mut batches: Vec<&[Record]> = records.chunks(2).collect();
        if batches.is_empty() {
            batches.push(&[]);
        }
        let first = batches.first().map(|b| b.to_vec()).unwrap_or_default();
        let token = self.config.incremental.then(|| format!("upto-{}", self.config.rows));
        let last = batches.len() - 1;

        let send = |records: Vec<Record>, end: bool| {
            let batch = Batch::new(stream.clone(), records).in_pass(pass);
            out.send(if end { batch.ending_pass(token.clone()) } else { batch })
        };
        send(first.clone(), false).await.map_err(|_| Error::Cancelled)?;
        if self.config.fail.contains(&stream) {
            return Err(Error::MissingPermission {
                permission: "offersRead".into(),
                message: format!("the key cannot read {stream}"),
            });
        }
        if self.config.hang.contains(&stream) {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
        }
        for (index, batch) in batches.iter().enumerate() {
            send(batch.to_vec(), index == last).await.map_err(|_| Error::Cancelled)?;
        }
        Ok(StreamReport {
            records: records.len() as u64,
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
    /// A local folder the sink claims to replace, resolved against the spec's folder, to test
    /// the checks on overlapping paths. Nothing is written there.
    #[serde(default)]
    path: Option<std::path::PathBuf>,
}

fn validate_journal(table: &ConfigTable, context: &SpecContext) -> Result<Box<dyn ValidatedSink>> {
    let mut config: JournalConfig = table.deserialize()?;
    config.path = config.path.map(|path| context.spec_dir.join(path));
    Ok(Box::new(JournalSink { config }))
}

#[derive(Debug)]
struct JournalSink {
    config: JournalConfig,
}

#[async_trait]
impl ValidatedSink for JournalSink {
    fn local_destination(&self) -> Option<&std::path::Path> {
        self.config.path.as_deref()
    }

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
