//! Shared set-up for the integration tests: a small fake Ashby, a source pointed at it with
//! fast retry timing, and a helper that reads one stream into memory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ashflow_core::{
    Batch, ConfigTable, ReadRequest, Record, Result, Source, SpecContext, StreamReport,
};
use ashflow_fake_ashby::{FakeAshby, FakeConfig};
use ashflow_source_ashby::{AshbySource, ValidatedAshbySource};
use serde_json::Value;

/// The key the fake accepts with every permission.
pub(crate) const KEY: &str = "test-key-with-every-permission";

/// A fake with 60 candidates and pages of at most 7 records, so most entities need several
/// pages.
pub(crate) async fn small_fake() -> FakeAshby {
    FakeAshby::start(FakeConfig {
        candidates: 60,
        max_page_size: 7,
        api_key: KEY.to_string(),
        ..FakeConfig::default()
    })
    .await
    .expect("the fake starts")
}

/// A source for `fake` with the given extra spec lines, retrying within milliseconds.
pub(crate) fn source(fake: &FakeAshby, key: &str, extra: &str) -> AshbySource {
    let text = format!(
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"{key}\"\nbase_url = \"{}\"\n{extra}",
        fake.base_url()
    );
    source_from(&text)
}

/// A source from a complete spec text holding `[sources.ashby]`.
pub(crate) fn source_from(text: &str) -> AshbySource {
    let table = ConfigTable::new(
        "spec.toml",
        Arc::from(text),
        vec!["sources".to_string(), "ashby".to_string()],
    );
    let context = SpecContext { spec_dir: PathBuf::from("."), component_id: "ashby".into() };
    ValidatedAshbySource::from_table(&table, &context)
        .expect("the spec is valid")
        .with_backoff(Duration::from_millis(2), Duration::from_millis(20))
        .into_source()
        .expect("the source builds")
}

/// What one read produced.
pub(crate) struct Read {
    /// The read's outcome.
    pub(crate) result: Result<StreamReport>,
    /// The batches sent, in order.
    pub(crate) batches: Vec<Batch>,
}

impl Read {
    /// The report, failing the test with the error otherwise.
    pub(crate) fn report(&self) -> &StreamReport {
        match &self.result {
            Ok(report) => report,
            Err(error) => panic!("the read failed: {error}"),
        }
    }

    /// The error, failing the test if the read succeeded.
    pub(crate) fn error(&self) -> &ashflow_core::Error {
        match &self.result {
            Ok(report) => panic!("the read succeeded unexpectedly: {report:?}"),
            Err(error) => error,
        }
    }

    /// Every record delivered, in order.
    pub(crate) fn records(&self) -> Vec<&Record> {
        self.batches.iter().flat_map(|batch| batch.records.iter()).collect()
    }

    /// The delivered records by id; fails if an id was delivered twice.
    pub(crate) fn by_id(&self) -> BTreeMap<String, Value> {
        let mut records = BTreeMap::new();
        for record in self.records() {
            let id = record_id(record);
            let previous = records.insert(id.clone(), Value::Object(record.clone()));
            assert!(previous.is_none(), "record {id} was delivered twice");
        }
        records
    }
}

/// Reads one stream to its end.
pub(crate) async fn read(source: &dyn Source, stream: &str, sync_token: Option<&str>) -> Read {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let request =
        ReadRequest { stream: stream.to_string(), sync_token: sync_token.map(str::to_string) };
    let collect = async {
        let mut batches = Vec::new();
        while let Some(batch) = receiver.recv().await {
            batches.push(batch);
        }
        batches
    };
    let (result, batches) = tokio::join!(source.read(request, sender), collect);
    Read { result, batches }
}

/// The fake's records of `entity` by id.
pub(crate) fn expected(fake: &FakeAshby, entity: &str) -> BTreeMap<String, Value> {
    fake.records(entity)
        .into_iter()
        .map(|record| {
            let id = record.get("id").and_then(Value::as_str).expect("records have ids");
            (id.to_string(), record)
        })
        .collect()
}

fn record_id(record: &Record) -> String {
    record.get("id").and_then(Value::as_str).expect("records have string ids").to_string()
}

/// Asserts that a read delivered exactly the fake's records of `entity`, each once.
pub(crate) fn assert_complete(fake: &FakeAshby, entity: &str, read: &Read) {
    let delivered = read.by_id();
    let expected = expected(fake, entity);
    assert_eq!(
        delivered.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{entity}: the delivered ids differ from the fake's"
    );
    for (id, record) in &expected {
        assert_eq!(&delivered[id], record, "{entity}: record {id} differs");
    }
    assert_eq!(read.report().records, expected.len() as u64, "{entity}: records counted");
}

/// Reads every stream of `source` at once, one task per stream as the runner does, and returns
/// the reads sorted by stream name.
pub(crate) async fn read_all_at_once(source: Arc<AshbySource>) -> Vec<(String, Read)> {
    let mut tasks = tokio::task::JoinSet::new();
    for stream in source.streams().iter().map(|s| s.name.clone()) {
        let source = Arc::clone(&source);
        tasks.spawn(async move {
            let read = read(source.as_ref(), &stream, None).await;
            (stream, read)
        });
    }
    let mut reads = tasks.join_all().await;
    reads.sort_by(|a, b| a.0.cmp(&b.0));
    reads
}
