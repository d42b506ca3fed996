//! One run of a spec: read every stream into staging, then feed every sink from staging.
//!
//! The two phases are kept apart on purpose. Reading runs one task per stream, all at once, so
//! a slow or failing entity never holds up the others; each stream's batches flow through a
//! bounded channel into staging, which is what keeps memory flat when sources outpace SQLite.
//! Only when every read has ended are the sinks opened, and each receives every dataset whose
//! stream succeeded, in dataset-name order, complete, deduplicated and sorted.
//!
//! Each sink runs in its own task, fed through its own bounded channel by one dispatcher that
//! reads each dataset from staging once. A sink that fails is dropped without `finish`, so it
//! publishes nothing, and the others go on. A sink finishes only when the dispatcher says so
//! explicitly: a channel that closes early (Ctrl-C, a dispatcher error) never publishes.
//!
//! Ctrl-C stops the reads at once and skips or abandons the sinks; the summary then says
//! nothing was published, and the process exits with 130.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ashflow_core::{
    Batch, DatasetDescriptor, Error, ReadRequest, Record, Sink, SinkReport, Source, StreamReport,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::{RunnerError, staging_failure};
use crate::plugins::Registry;
use crate::spec::{PlannedDataset, Spec, SpecError, SpecSink, SpecSource, load_spec};
use crate::staging::{PAGE_ROWS, Staging};
use crate::summary::{RunSummary, SinkOutcome, StreamOutcome, counted, group_thousands};
use crate::telemetry::{Line, Progress};

/// Batches a stream may have in flight before its source waits for staging.
const STREAM_CHANNEL_BATCHES: usize = 4;

/// Messages a sink's task may have queued before the dispatcher waits for it.
const SINK_CHANNEL_MESSAGES: usize = 2;

/// How a run presents itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Draw live progress lines when stderr is a terminal.
    pub progress: bool,
}

/// Validates the spec at `spec_path`, runs it once, and returns what happened.
///
/// An invalid spec returns every problem and runs nothing. Otherwise the run always completes
/// with a summary, whatever failed; its [`RunSummary::exit_code`] says how it went. Ctrl-C
/// during the run stops it without publishing anything.
pub async fn run_spec(spec_path: &Path, options: &RunOptions) -> Result<RunSummary, SpecError> {
    let spec = load_spec(spec_path, &Registry::linked())?;
    let (cancel, _listener) = CancelSignal::on_ctrl_c();
    Ok(execute(spec, options, cancel).await)
}

/// Tells a run to stop; cloned into every place that must notice.
#[derive(Debug, Clone)]
pub(crate) struct CancelSignal(watch::Receiver<bool>);

impl CancelSignal {
    /// A signal and the sender that fires it.
    pub(crate) fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, CancelSignal(receiver))
    }

    /// A signal fired by the first Ctrl-C; a second Ctrl-C exits at once. The listener stops
    /// when the returned guard is dropped.
    fn on_ctrl_c() -> (Self, AbortOnDrop) {
        let (sender, signal) = CancelSignal::new();
        let listener = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            tracing::warn!(
                "Interrupted: stopping without publishing anything. Press Ctrl-C again to quit now."
            );
            let _ = sender.send(true);
            // FIXME: exiting here skips every destructor, so the staging folder stays in the
            // system temp dir until the OS cleans it; nothing is published either way.
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(crate::summary::EXIT_CANCELLED);
            }
        });
        (signal, AbortOnDrop(listener))
    }

    /// Resolves when the signal fires; never resolves if it cannot fire any more.
    async fn cancelled(&mut self) {
        if self.0.wait_for(|cancelled| *cancelled).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a validated spec to the end (or until `cancel` fires) and summarises it.
pub(crate) async fn execute(
    spec: Spec,
    options: &RunOptions,
    mut cancel: CancelSignal,
) -> RunSummary {
    let started = Instant::now();
    let progress = Progress::new(options.progress);
    let all_datasets: Vec<String> = spec.datasets().iter().map(|d| d.name.clone()).collect();
    tracing::info!(
        spec = %spec.file_name,
        sources = spec.sources.len(),
        datasets = all_datasets.len(),
        sinks = spec.sinks.len(),
        "Starting the run."
    );

    let (mut streams, sinks) = match Staging::create() {
        Ok(staging) => run_phases(spec, &all_datasets, &staging, &progress, &mut cancel).await,
        Err(error) => staging_unavailable(spec, &all_datasets, &error),
    };
    drop(progress);

    streams.sort_by(|a, b| a.dataset.cmp(&b.dataset));
    // A signal that came after everything had ended cancelled nothing.
    let cancelled = cancel.is_cancelled()
        && (streams.iter().any(|s| matches!(s.result, Err(Error::Cancelled)))
            || sinks.iter().any(|s| matches!(s.result, Err(Error::Cancelled))));
    let summary = RunSummary { streams, sinks, duration: started.elapsed(), cancelled };
    tracing::info!(
        exit_code = summary.exit_code(),
        duration_ms = summary.duration.as_millis() as u64,
        "Finished the run."
    );
    summary
}

/// Opens every sink, reads every stream, then writes the sinks unless the run was cancelled
/// meanwhile.
///
/// Sinks open before anything is fetched, so a destination that cannot be written (a missing
/// permission on the output folder, say) fails the run in a second rather than after minutes of
/// reading. An opened sink publishes nothing until it is finished, so opening early changes
/// nothing visible when the run fails later.
async fn run_phases(
    spec: Spec,
    all_datasets: &[String],
    staging: &Staging,
    progress: &Progress,
    cancel: &mut CancelSignal,
) -> (Vec<StreamOutcome>, Vec<SinkOutcome>) {
    let sinks = open_sinks(spec.sinks, all_datasets).await;
    if sinks.iter().all(Result::is_err) {
        tracing::error!("No sink could be opened; nothing is read.");
        let streams = streams_not_read(&spec.sources, &|| {
            Error::destination("not read, because no sink could be opened")
        });
        return (streams, sinks.into_iter().filter_map(Result::err).collect());
    }

    let read = read_streams(spec.sources, staging, progress, cancel).await;
    let sinks = if cancel.is_cancelled() {
        sinks_not_run(sinks, all_datasets, || Error::Cancelled)
    } else {
        match deliverable_datasets(&read, staging).await {
            Ok(deliverable) => {
                write_sinks(sinks, deliverable, all_datasets, staging, progress, cancel).await
            }
            Err(error) => {
                tracing::error!(error = %error, "Cannot count the staged records; no sink opens.");
                let message = error.to_string();
                sinks_not_run(sinks, all_datasets, || staging_failure(message.clone()))
            }
        }
    };
    (read.into_iter().map(|(outcome, _)| outcome).collect(), sinks)
}

/// The outcome of a run that could not even create its staging store.
fn staging_unavailable(
    spec: Spec,
    all_datasets: &[String],
    error: &RunnerError,
) -> (Vec<StreamOutcome>, Vec<SinkOutcome>) {
    tracing::error!(error = %error, "Cannot stage records; nothing was read.");
    let streams = streams_not_read(&spec.sources, &|| staging_failure(error.to_string()));
    let sinks = spec
        .sinks
        .into_iter()
        .map(|sink| SinkOutcome {
            sink: sink.name,
            sink_type: sink.sink_type.to_string(),
            result: Err(nothing_read()),
            datasets_missing: all_datasets.to_vec(),
            ran: false,
        })
        .collect();
    (streams, sinks)
}

/// The outcome of every stream of `sources` when none of them is read.
fn streams_not_read(sources: &[SpecSource], error: &dyn Fn() -> Error) -> Vec<StreamOutcome> {
    sources
        .iter()
        .flat_map(|source| source.datasets.iter().map(move |dataset| (source, dataset)))
        .map(|(source, dataset)| StreamOutcome {
            source: source.name.clone(),
            stream: dataset.stream.name.clone(),
            dataset: dataset.name.clone(),
            result: Err(error()),
        })
        .collect()
}

/// The error of a sink that was never opened because no stream was read completely.
fn nothing_read() -> Error {
    Error::upstream("no stream was read completely, so nothing was written")
}

/// The outcomes of sinks that are dropped unfinished, so they publish nothing.
fn sinks_not_run(
    sinks: Vec<Result<OpenedSink, SinkOutcome>>,
    all: &[String],
    error: impl Fn() -> Error,
) -> Vec<SinkOutcome> {
    sinks
        .into_iter()
        .map(|sink| match sink {
            Ok(opened) => SinkOutcome {
                sink: opened.name,
                sink_type: opened.sink_type.to_string(),
                result: Err(error()),
                datasets_missing: all.to_vec(),
                ran: false,
            },
            Err(failed_to_open) => failed_to_open,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One stream to read: its source, shared by all of the source's streams, and its dataset.
struct StreamJob {
    source_name: String,
    source: Result<Arc<dyn Source>, Arc<Error>>,
    dataset: PlannedDataset,
}

/// Builds every source and reads all their streams concurrently into `staging`.
async fn read_streams(
    sources: Vec<SpecSource>,
    staging: &Staging,
    progress: &Progress,
    cancel: &mut CancelSignal,
) -> Vec<(StreamOutcome, PlannedDataset)> {
    let jobs = build_sources(sources).await;
    let width = jobs.iter().map(|job| job.dataset.name.len()).max().unwrap_or(0);

    let mut tasks = JoinSet::new();
    let mut job_of_task = HashMap::new();
    let mut results: Vec<Option<Result<StreamReport, Error>>> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        results.push(None);
        let source = match &job.source {
            Ok(source) => source.clone(),
            Err(error) => {
                results[index] = Some(Err(duplicate(error)));
                continue;
            }
        };
        staging.add_dataset(&job.dataset.name, &job.dataset.stream);
        let line = progress.line(&job.dataset.name, width);
        let span = tracing::info_span!(
            "stream",
            component_kind = "source",
            component_id = %job.source_name,
            stream = %job.dataset.stream.name,
            dataset = %job.dataset.name,
        );
        let read = read_stream(source, job.dataset.clone(), staging.clone(), line);
        let handle = tasks.spawn(read.instrument(span));
        job_of_task.insert(handle.id(), index);
    }

    for joined in join_all_or_cancel(&mut tasks, cancel).await {
        let (id, result) = match joined {
            Ok(finished) => finished,
            Err(failure) if failure.is_cancelled() => (failure.id(), Err(Error::Cancelled)),
            Err(failure) => {
                let message = format!("reading the stream stopped unexpectedly: {failure}");
                (failure.id(), Err(Error::upstream(message)))
            }
        };
        results[job_of_task[&id]] = Some(result);
    }

    jobs.into_iter()
        .zip(results)
        .map(|(job, result)| {
            let outcome = StreamOutcome {
                source: job.source_name,
                stream: job.dataset.stream.name.clone(),
                dataset: job.dataset.name.clone(),
                result: result.unwrap_or(Err(Error::Cancelled)),
            };
            (outcome, job.dataset)
        })
        .collect()
}

/// Waits for every task, aborting all that are left if `cancel` fires first. Aborted tasks
/// come back as cancelled `JoinError`s; tasks that ended before keep their output.
async fn join_all_or_cancel<T: 'static>(
    tasks: &mut JoinSet<T>,
    cancel: &mut CancelSignal,
) -> Vec<Result<(tokio::task::Id, T), tokio::task::JoinError>> {
    let mut joined = Vec::new();
    let mut aborted = false;
    loop {
        tokio::select! {
            next = tasks.join_next_with_id() => match next {
                Some(result) => joined.push(result),
                None => return joined,
            },
            () = cancel.cancelled(), if !aborted => {
                tasks.abort_all();
                aborted = true;
            }
        }
    }
}

/// Builds each source once; a source that fails to build fails each of its streams.
async fn build_sources(sources: Vec<SpecSource>) -> Vec<StreamJob> {
    let mut jobs = Vec::new();
    for source in sources {
        let built = match source.validated.build().await {
            Ok(built) => Ok(Arc::<dyn Source>::from(built)),
            Err(error) => {
                tracing::error!(
                    component_kind = "source",
                    component_id = %source.name,
                    error = %error,
                    "Cannot build the source; none of its streams will be read."
                );
                Err(Arc::new(error))
            }
        };
        for dataset in source.datasets {
            jobs.push(StreamJob {
                source_name: source.name.clone(),
                source: built.clone(),
                dataset,
            });
        }
    }
    jobs
}

/// Reads one stream to its end while storing its batches in staging.
async fn read_stream(
    source: Arc<dyn Source>,
    dataset: PlannedDataset,
    staging: Staging,
    line: Line,
) -> Result<StreamReport, Error> {
    line.update("reading".into());
    let (sender, receiver) = mpsc::channel(STREAM_CHANNEL_BATCHES);
    let request = ReadRequest { stream: dataset.stream.name.clone(), sync_token: None };

    let (read, stored) = tokio::join!(
        source.read(request, sender),
        store_batches(receiver, &dataset.name, &staging, &line)
    );

    // A staging failure is the cause when both fail: it closed the channel the source saw.
    let result = match (read, stored) {
        (_, Err(error)) => Err(Error::from(error)),
        (read, Ok(_)) => read,
    };
    match &result {
        Ok(report) => {
            tracing::info!(
                rows = report.records,
                requests = report.requests,
                retries = report.retries,
                pass_restarts = report.pass_restarts,
                duration_ms = report.duration.as_millis() as u64,
                "Read the stream."
            );
            line.finish(format!(
                "done: {} rows, {}",
                group_thousands(report.records),
                counted(usize::try_from(report.requests).unwrap_or(usize::MAX), "request")
            ));
        }
        Err(error) => {
            tracing::error!(error = %error, "Cannot read the stream; its dataset will be missing.");
            line.finish(format!("failed: {error}"));
        }
    }
    result
}

/// Moves every batch from the channel into staging. Takes the receiver by value so that an
/// early return closes the channel and the source stops instead of waiting forever.
async fn store_batches(
    mut receiver: mpsc::Receiver<Batch>,
    dataset: &str,
    staging: &Staging,
    line: &Line,
) -> Result<u64, RunnerError> {
    let (mut rows, mut batches) = (0_u64, 0_u64);
    while let Some(batch) = receiver.recv().await {
        let batch_rows = batch.len() as u64;
        let name = dataset.to_string();
        on_staging(staging, move |staging| staging.insert_batch(&name, &batch.records)).await?;

        rows += batch_rows;
        batches += 1;
        tracing::debug!(rows = batch_rows, "Staged a batch.");
        line.update(format!(
            "reading: {} rows in {}",
            group_thousands(rows),
            counted(usize::try_from(batches).unwrap_or(usize::MAX), "page")
        ));
    }
    Ok(rows)
}

/// Runs `work` on the blocking pool, so SQLite never blocks the async workers.
async fn on_staging<T: Send + 'static>(
    staging: &Staging,
    work: impl FnOnce(&Staging) -> Result<T, RunnerError> + Send + 'static,
) -> Result<T, RunnerError> {
    let staging = staging.clone();
    tokio::task::spawn_blocking(move || work(&staging))
        .await
        .map_err(|failure| RunnerError::Task(failure.to_string()))?
}

/// A copy of a shared error for each stream it fails. The core error is not `Clone` (it may
/// hold an `io::Error`), so the copy keeps the variant and the text.
fn duplicate(error: &Error) -> Error {
    match error {
        Error::Config { location, message } => {
            Error::Config { location: location.clone(), message: message.clone() }
        }
        Error::Auth { message } => Error::Auth { message: message.clone() },
        Error::MissingPermission { permission, message } => {
            Error::MissingPermission { permission: permission.clone(), message: message.clone() }
        }
        Error::Destination { message } => Error::destination(message.clone()),
        Error::Io { context, source } => {
            Error::io(context.clone(), std::io::Error::new(source.kind(), source.to_string()))
        }
        Error::Cancelled => Error::Cancelled,
        other => Error::upstream(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The descriptors of every dataset whose stream succeeded, sorted by name.
async fn deliverable_datasets(
    read: &[(StreamOutcome, PlannedDataset)],
    staging: &Staging,
) -> Result<Vec<DatasetDescriptor>, RunnerError> {
    let mut succeeded: Vec<&PlannedDataset> = read
        .iter()
        .filter(|(outcome, _)| outcome.result.is_ok())
        .map(|(_, dataset)| dataset)
        .collect();
    succeeded.sort_by(|a, b| a.name.cmp(&b.name));

    let mut descriptors = Vec::new();
    for dataset in succeeded {
        let name = dataset.name.clone();
        let rows = on_staging(staging, move |staging| staging.row_count(&name)).await?;
        descriptors.push(DatasetDescriptor {
            name: dataset.name.clone(),
            description: dataset.stream.description.clone(),
            schema: staging.schema(&dataset.name).unwrap_or_else(|| dataset.stream.schema.clone()),
            primary_key: Some(dataset.stream.primary_key.clone()),
            rows: Some(rows),
        });
    }
    Ok(descriptors)
}

/// What the dispatcher tells a sink's task.
enum Feed {
    Begin(Arc<DatasetDescriptor>),
    Rows(Arc<Vec<Record>>),
    End,
    /// The run cannot deliver the current dataset; stop without publishing.
    Abandon(String),
    /// Every dataset was delivered; publish.
    Finish,
}

/// How a sink's task ended.
struct SinkRun {
    result: Result<SinkReport, Error>,
    completed: Vec<String>,
}

/// A sink being fed: its name and type, and the channel to its task while it is alive.
struct LiveSink {
    name: String,
    sink_type: &'static str,
    feed: Option<mpsc::Sender<Feed>>,
}

/// A sink opened for this run, not yet fed.
struct OpenedSink {
    name: String,
    sink_type: &'static str,
    sink: Box<dyn Sink>,
    span: tracing::Span,
}

/// Opens every sink; a sink that cannot be opened is already its final outcome.
async fn open_sinks(
    sinks: Vec<SpecSink>,
    all_datasets: &[String],
) -> Vec<Result<OpenedSink, SinkOutcome>> {
    let mut opened = Vec::new();
    for sink in sinks {
        let span = tracing::info_span!(
            "sink",
            component_kind = "sink",
            component_id = %sink.name,
            component_type = sink.sink_type,
        );
        let result = match sink.validated.open().instrument(span.clone()).await {
            Ok(live) => {
                Ok(OpenedSink { name: sink.name, sink_type: sink.sink_type, sink: live, span })
            }
            Err(error) => {
                span.in_scope(|| tracing::error!(error = %error, "Cannot open the sink."));
                Err(SinkOutcome {
                    sink: sink.name,
                    sink_type: sink.sink_type.to_string(),
                    result: Err(error),
                    datasets_missing: all_datasets.to_vec(),
                    ran: true,
                })
            }
        };
        opened.push(result);
    }
    opened
}

/// Feeds every opened sink every deliverable dataset, then has each publish.
async fn write_sinks(
    sinks: Vec<Result<OpenedSink, SinkOutcome>>,
    deliverable: Vec<DatasetDescriptor>,
    all_datasets: &[String],
    staging: &Staging,
    progress: &Progress,
    cancel: &mut CancelSignal,
) -> Vec<SinkOutcome> {
    if deliverable.is_empty() {
        tracing::error!("No stream was read completely; no sink is written.");
        return sinks_not_run(sinks, all_datasets, nothing_read);
    }
    let width = sinks
        .iter()
        .map(|sink| sink.as_ref().map_or(0, |opened| opened.name.len() + 5))
        .max()
        .unwrap_or(0);

    let mut outcomes: Vec<Option<SinkOutcome>> = Vec::new();
    let mut live = Vec::new();
    let mut tasks = JoinSet::new();
    let mut sink_of_task = HashMap::new();
    for sink in sinks {
        let index = outcomes.len();
        let opened = match sink {
            Ok(opened) => opened,
            Err(failed_to_open) => {
                outcomes.push(Some(failed_to_open));
                continue;
            }
        };
        outcomes.push(None);
        let (sender, receiver) = mpsc::channel(SINK_CHANNEL_MESSAGES);
        let line = progress.line(&format!("sink {}", opened.name), width);
        let handle = tasks.spawn(drive_sink(opened.sink, receiver, line).instrument(opened.span));
        sink_of_task.insert(handle.id(), index);
        live.push(LiveSink { name: opened.name, sink_type: opened.sink_type, feed: Some(sender) });
    }

    let feeding = dispatch(deliverable, staging, &mut live);
    tokio::select! {
        () = feeding => {}
        () = cancel.cancelled() => tasks.abort_all(),
    }
    // Whatever happened, closing the channels lets every remaining task end; a task that saw
    // no `Finish` does not publish. The last messages may still be queued and sinks still
    // writing, so Ctrl-C must reach them until each has ended.
    for sink in &mut live {
        sink.feed = None;
    }
    let mut runs: HashMap<usize, SinkRun> = HashMap::new();
    for joined in join_all_or_cancel(&mut tasks, cancel).await {
        let (id, run) = sink_run_of(joined);
        runs.insert(sink_of_task[&id], run);
    }

    let mut live = live.into_iter();
    outcomes
        .into_iter()
        .enumerate()
        .map(|(index, opened_failed)| {
            opened_failed.unwrap_or_else(|| {
                let sink = live.next().expect("every opened sink has a live entry, in order");
                let run = runs
                    .remove(&index)
                    .unwrap_or(SinkRun { result: Err(Error::Cancelled), completed: Vec::new() });
                sink_outcome(sink, run, all_datasets)
            })
        })
        .collect()
}

/// The run of a sink's task, including a task that was aborted or panicked.
fn sink_run_of(
    joined: Result<(tokio::task::Id, SinkRun), tokio::task::JoinError>,
) -> (tokio::task::Id, SinkRun) {
    match joined {
        Ok(finished) => finished,
        Err(failure) => {
            let result = if failure.is_cancelled() {
                Err(Error::Cancelled)
            } else {
                Err(Error::destination(format!("the sink stopped unexpectedly: {failure}")))
            };
            (failure.id(), SinkRun { result, completed: Vec::new() })
        }
    }
}

fn sink_outcome(sink: LiveSink, run: SinkRun, all_datasets: &[String]) -> SinkOutcome {
    let published: BTreeSet<&str> = match &run.result {
        Ok(_) => run.completed.iter().map(String::as_str).collect(),
        Err(_) => BTreeSet::new(),
    };
    let datasets_missing =
        all_datasets.iter().filter(|name| !published.contains(name.as_str())).cloned().collect();
    SinkOutcome {
        sink: sink.name,
        sink_type: sink.sink_type.to_string(),
        result: run.result,
        datasets_missing,
        ran: true,
    }
}

/// Reads each dataset from staging once and hands it to every live sink, then tells them to
/// publish. A sink whose channel has closed has failed and is skipped from then on.
// FIXME: a slow sink (a remote API) holds the others back once its queue of
// SINK_CHANNEL_MESSAGES is full; one reader per sink would let each go at its own pace, at the
// cost of reading staging once per sink.
async fn dispatch(deliverable: Vec<DatasetDescriptor>, staging: &Staging, sinks: &mut [LiveSink]) {
    for descriptor in deliverable {
        if sinks.iter().all(|sink| sink.feed.is_none()) {
            return;
        }
        let descriptor = Arc::new(descriptor);
        tracing::debug!(dataset = %descriptor.name, rows = descriptor.rows, "Writing a dataset.");
        broadcast(sinks, || Feed::Begin(descriptor.clone())).await;

        let mut after = None;
        loop {
            let name = descriptor.name.clone();
            let page = on_staging(staging, move |staging| {
                staging.read_page(&name, after.as_ref(), PAGE_ROWS)
            })
            .await;
            let page = match page {
                Ok(page) => page,
                Err(error) => return broadcast(sinks, || Feed::Abandon(error.to_string())).await,
            };
            if !page.records.is_empty() {
                let records = Arc::new(page.records);
                broadcast(sinks, || Feed::Rows(records.clone())).await;
            }
            after = page.next;
            if after.is_none() || sinks.iter().all(|sink| sink.feed.is_none()) {
                break;
            }
        }
        broadcast(sinks, || Feed::End).await;
    }
    broadcast(sinks, || Feed::Finish).await;
}

/// Sends a message to every live sink; a sink that cannot receive it has stopped.
async fn broadcast(sinks: &mut [LiveSink], message: impl Fn() -> Feed) {
    for sink in sinks.iter_mut() {
        let Some(feed) = &sink.feed else { continue };
        if feed.send(message()).await.is_err() {
            sink.feed = None;
        }
    }
}

/// Drives one sink through the lifecycle the dispatcher dictates.
async fn drive_sink(
    mut sink: Box<dyn Sink>,
    mut feed: mpsc::Receiver<Feed>,
    line: Line,
) -> SinkRun {
    let mut completed = Vec::new();
    let result = feed_sink(&mut sink, &mut feed, &line, &mut completed).await;
    let result = match result {
        Ok(()) => sink.finish().await,
        Err(error) => Err(error),
    };
    match &result {
        Ok(report) => {
            let rows: u64 = report.datasets.iter().map(|dataset| dataset.rows).sum();
            tracing::info!(
                datasets = report.datasets.len(),
                rows,
                location = report.location.as_deref().unwrap_or("-"),
                "Published."
            );
            line.finish(format!(
                "published {}, {} rows",
                counted(report.datasets.len(), "dataset"),
                group_thousands(rows)
            ));
        }
        Err(Error::Cancelled) => line.finish("cancelled: nothing published".into()),
        Err(error) => {
            tracing::error!(error = %error, "The sink failed and publishes nothing.");
            line.finish(format!("failed: {error}"));
        }
    }
    SinkRun { result, completed }
}

/// Applies every message up to `Finish` (returning `Ok`) or to the first error. The sink is
/// dropped unfinished on error, which is how a sink publishes nothing.
async fn feed_sink(
    sink: &mut Box<dyn Sink>,
    feed: &mut mpsc::Receiver<Feed>,
    line: &Line,
    completed: &mut Vec<String>,
) -> Result<(), Error> {
    let mut current: Option<Arc<DatasetDescriptor>> = None;
    let mut rows = 0_u64;
    while let Some(message) = feed.recv().await {
        match message {
            Feed::Begin(descriptor) => {
                sink.begin_dataset(&descriptor).await?;
                rows = 0;
                line.update(format!("writing {}", descriptor.name));
                current = Some(descriptor);
            }
            Feed::Rows(records) => {
                sink.write_batch(&records).await?;
                rows += records.len() as u64;
                if let Some(descriptor) = &current {
                    line.update(format!(
                        "writing {}: {} rows",
                        descriptor.name,
                        group_thousands(rows)
                    ));
                }
            }
            Feed::End => {
                let report = sink.end_dataset().await?;
                tracing::debug!(dataset = %report.dataset, rows = report.rows, "Wrote a dataset.");
                if let Some(descriptor) = current.take() {
                    completed.push(descriptor.name.clone());
                }
            }
            Feed::Abandon(reason) => return Err(staging_failure(reason)),
            Feed::Finish => return Ok(()),
        }
    }
    Err(Error::Cancelled)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::spec::parse_spec;
    use crate::testing::{journal, registry};

    fn spec(text: &str) -> Spec {
        parse_spec("spec.toml", Path::new("."), text, &registry()).expect("the test spec is valid")
    }

    async fn run(text: &str) -> RunSummary {
        let (_sender, cancel) = CancelSignal::new();
        execute(spec(text), &RunOptions::default(), cancel).await
    }

    fn outcome<'a>(summary: &'a RunSummary, dataset: &str) -> &'a StreamOutcome {
        summary.streams.iter().find(|s| s.dataset == dataset).expect("the dataset was planned")
    }

    #[tokio::test]
    async fn every_dataset_reaches_every_sink_once_per_id_in_creation_order() {
        let summary = run(r#"
            [sources.people]
            type = "memory"
            streams = ["jobs", "candidates"]
            rows = 3
            [sinks.first]
            type = "journal"
            journal = "in-order-first"
            [sinks.second]
            type = "journal"
            journal = "in-order-second"
        "#)
        .await;

        assert_eq!(summary.exit_code(), 0, "{}", summary.render());
        let expected = [
            "begin candidates rows=3 fields=id,createdAt,extra",
            "rows candidates-2,candidates-1,candidates-0",
            "end candidates",
            "begin jobs rows=3 fields=id,createdAt,extra",
            "rows jobs-2,jobs-1,jobs-0",
            "end jobs",
            "finish",
        ];
        assert_eq!(journal("in-order-first"), expected);
        assert_eq!(journal("in-order-second"), expected);
        assert_eq!(outcome(&summary, "jobs").result.as_ref().unwrap().records, 3);
        assert!(summary.sinks.iter().all(|sink| sink.datasets_missing.is_empty()));
    }

    #[tokio::test]
    async fn a_stream_that_fails_leaves_the_others_delivered_and_fails_the_run() {
        let summary = run(r#"
            [sources.ashby]
            type = "memory"
            streams = ["candidates", "offers"]
            fail = ["offers"]
            [sinks.book]
            type = "journal"
            journal = "failed-stream"
        "#)
        .await;

        assert_eq!(summary.exit_code(), 1);
        let offers = outcome(&summary, "offers").result.as_ref().unwrap_err();
        assert!(matches!(offers, Error::MissingPermission { permission, .. }
                if permission == "offersRead"));
        assert!(outcome(&summary, "candidates").result.is_ok());
        let journal = journal("failed-stream");
        assert!(journal.contains(&"end candidates".to_string()), "{journal:?}");
        assert!(!journal.iter().any(|event| event.contains("offers")), "{journal:?}");
        assert_eq!(journal.last().map(String::as_str), Some("finish"));
        assert_eq!(summary.sinks[0].datasets_missing, ["offers"]);
    }

    #[tokio::test]
    async fn a_failing_sink_stops_alone_and_publishes_nothing() {
        let summary = run(r#"
            [sources.ashby]
            type = "memory"
            streams = ["candidates", "jobs"]
            [sinks.broken]
            type = "journal"
            journal = "failing-sink-broken"
            fail_at = "jobs"
            [sinks.healthy]
            type = "journal"
            journal = "failing-sink-healthy"
        "#)
        .await;

        assert_eq!(summary.exit_code(), 1);
        let broken = &summary.sinks[0];
        assert_eq!(broken.sink, "broken");
        assert!(matches!(&broken.result, Err(Error::Destination { message })
                if message.contains("jobs")));
        assert_eq!(broken.datasets_missing, ["candidates", "jobs"]);
        assert!(!journal("failing-sink-broken").contains(&"finish".to_string()));
        assert!(summary.sinks[1].result.is_ok());
        assert_eq!(journal("failing-sink-healthy").last().map(String::as_str), Some("finish"));
    }

    #[tokio::test]
    async fn a_source_that_cannot_be_built_fails_each_of_its_streams() {
        let summary = run(r#"
            [sources.broken]
            type = "memory"
            streams = ["candidates", "jobs"]
            broken_build = true
            [sources.fine]
            type = "memory"
            streams = ["jobs"]
            [sinks.book]
            type = "journal"
            journal = "broken-build"
        "#)
        .await;

        assert_eq!(summary.exit_code(), 2, "a configuration failure exits like a spec error");
        for dataset in ["broken_candidates", "broken_jobs"] {
            let error = outcome(&summary, dataset).result.as_ref().unwrap_err();
            assert!(error.to_string().contains("MEMORY_TEST_KEY"), "{error}");
        }
        assert!(outcome(&summary, "fine_jobs").result.is_ok());
        assert!(journal("broken-build").contains(&"end fine_jobs".to_string()));
    }

    #[tokio::test]
    async fn when_every_stream_fails_no_sink_is_written() {
        let summary = run(r#"
            [sources.ashby]
            type = "memory"
            streams = ["offers"]
            fail = ["offers"]
            [sinks.book]
            type = "journal"
            journal = "all-failed"
        "#)
        .await;

        assert_eq!(summary.exit_code(), 1);
        assert!(summary.sinks[0].result.is_err());
        assert!(journal("all-failed").is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_run_stops_reading_and_publishes_nothing() {
        let (sender, cancel) = CancelSignal::new();
        let spec = spec(
            r#"
            [sources.ashby]
            type = "memory"
            streams = ["candidates", "endless"]
            hang = ["endless"]
            [sinks.book]
            type = "journal"
            journal = "cancelled"
        "#,
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = sender.send(true);
        });

        let summary = execute(spec, &RunOptions::default(), cancel).await;

        assert!(summary.cancelled);
        assert_eq!(summary.exit_code(), 130);
        assert!(matches!(outcome(&summary, "endless").result, Err(Error::Cancelled)));
        assert!(matches!(summary.sinks[0].result, Err(Error::Cancelled)));
        assert!(journal("cancelled").is_empty());
    }

    #[tokio::test]
    async fn a_run_cancelled_while_writing_finishes_no_sink() {
        let (sender, cancel) = CancelSignal::new();
        let spec = spec(
            r#"
            [sources.ashby]
            type = "memory"
            streams = ["candidates"]
            [sinks.slow]
            type = "journal"
            journal = "cancelled-while-writing"
            delay_ms = 60000
        "#,
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = sender.send(true);
        });

        let summary = execute(spec, &RunOptions::default(), cancel).await;

        assert_eq!(summary.exit_code(), 130);
        assert!(outcome(&summary, "candidates").result.is_ok());
        assert!(matches!(summary.sinks[0].result, Err(Error::Cancelled)));
        let journal = journal("cancelled-while-writing");
        assert_eq!(
            journal.first().map(String::as_str),
            Some("begin candidates rows=3 fields=id,createdAt,extra")
        );
        assert!(!journal.contains(&"finish".to_string()), "{journal:?}");
    }
}
