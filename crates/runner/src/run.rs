//! One run of a spec: read every stream into the replica, then feed every sink from it.
//!
//! The two phases are kept apart on purpose. Reading runs one task per stream, all at once, so
//! a slow or failing entity never holds up the others; each stream's batches flow through a
//! bounded channel into the replica, which is what keeps memory flat when sources outpace
//! SQLite. Each stream asks only for what changed since the previous run when the replica holds
//! a complete copy and a sync token (see [`crate::replica`]). Only when every read has ended are
//! the sinks fed, and each receives every dataset from the replica, complete, deduplicated and
//! sorted, in dataset-name order: the same rows whether this run read changes or everything. A
//! stream whose read failed still reaches the sinks when an earlier run completed its copy (the
//! summary says it may be stale); one that never completed is withheld.
//!
//! Each sink runs in its own task, fed through its own bounded channel by one dispatcher that
//! reads each dataset from the replica once. A sink that fails is dropped without `finish`, so it
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
    Batch, DatasetDescriptor, Error, Pass, ReadRequest, Record, Sink, SinkReport, Source,
    StreamReport,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::datasets::{DatasetPlan, DatasetPlans, materialize};
use crate::error::{RunnerError, replica_failure};
use crate::plugins::Registry;
use crate::replica::{PAGE_ROWS, ReadPlan, Replica, StreamHistory};
use crate::spec::{PlannedDataset, Spec, SpecError, SpecSink, SpecSource, load_spec};
use crate::summary::{
    ReplicaOutcome, RunSummary, SinkOutcome, StateLocation, StreamOutcome, counted, group_thousands,
};
use crate::telemetry::{Line, Progress};

/// Batches a stream may have in flight before its source waits for the replica.
const STREAM_CHANNEL_BATCHES: usize = 4;

/// Messages a sink's task may have queued before the dispatcher waits for it.
const SINK_CHANNEL_MESSAGES: usize = 2;

/// How a run presents itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Draw live progress lines when stderr is a terminal.
    pub progress: bool,
    /// Read every stream in full, whatever the replica holds (`--full-refresh`), so records
    /// deleted upstream leave the replica.
    pub full_refresh: bool,
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
    pub(crate) fn on_ctrl_c() -> (Self, AbortOnDrop) {
        let (sender, signal) = CancelSignal::new();
        let listener = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            tracing::warn!(
                "Interrupted: stopping without publishing anything. Press Ctrl-C again to quit now."
            );
            let _ = sender.send(true);
            // Exiting here skips every destructor; nothing is published, the replica keeps
            // every committed page, and the next run marks this one as interrupted.
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
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

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

    let state_file = spec.state_file();
    let full_refresh = options.full_refresh;
    let opened = tokio::task::spawn_blocking(move || Replica::open(&state_file, full_refresh))
        .await
        .unwrap_or_else(|failure| Err(RunnerError::Task(failure.to_string())));
    let (replica, (mut streams, sinks)) = match opened {
        Ok(replica) => {
            let plan = ReadSettings {
                full_refresh: options.full_refresh,
                full_refresh_every: spec.full_refresh_every,
            };
            let phases = run_phases(spec, &replica, plan, &progress, &mut cancel).await;
            (Some(replica), phases)
        }
        Err(error) => (None, replica_unavailable(spec, &error)),
    };
    drop(progress);

    streams.sort_by(|a, b| a.dataset.cmp(&b.dataset));
    // A signal that came after everything had ended cancelled nothing.
    let cancelled = cancel.is_cancelled()
        && (streams.iter().any(|s| matches!(s.result, Err(Error::Cancelled)))
            || sinks.iter().any(|s| matches!(s.result, Err(Error::Cancelled))));
    let state = replica.as_ref().map(|replica| StateLocation {
        file: replica.path().to_path_buf(),
        run_id: replica.run_id(),
    });
    let summary = RunSummary { streams, sinks, duration: started.elapsed(), cancelled, state };
    if let Some(replica) = replica {
        let outcome = match summary.exit_code() {
            crate::summary::EXIT_SUCCESS => "succeeded",
            crate::summary::EXIT_CANCELLED => "cancelled",
            _ => "failed",
        };
        if let Err(error) = replica.finish_run(outcome) {
            tracing::warn!(error = %error, "Cannot record the end of the run in its history.");
        }
    }
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
    replica: &Replica,
    settings: ReadSettings,
    progress: &Progress,
    cancel: &mut CancelSignal,
) -> (Vec<StreamOutcome>, Vec<SinkOutcome>) {
    let sinks = open_sinks(spec.sinks).await;
    if sinks.iter().all(Result::is_err) {
        tracing::error!("No sink could be opened; nothing is read.");
        let streams = streams_not_read(&spec.sources, &|| {
            Error::destination("not read, because no sink could be opened")
        });
        return (streams, sinks.into_iter().filter_map(Result::err).collect());
    }

    let mut read = read_streams(spec.sources, replica, settings, progress, cancel).await;
    let sinks = if cancel.is_cancelled() {
        sinks_not_run(sinks, || Error::Cancelled)
    } else if read.iter().all(|(outcome, _)| outcome.result.is_err()) {
        // Earlier copies alone would only rewrite the outputs with what they already hold.
        tracing::error!("No stream was read; no sink is written.");
        sinks_not_run(sinks, nothing_read)
    } else {
        match deliverable_datasets(&mut read, replica).await {
            Ok(deliverable) => {
                let items = feed_items(&spec.dataset_plans, &sinks, deliverable);
                write_sinks(sinks, items, replica, progress, cancel).await
            }
            Err(error) => {
                tracing::error!(error = %error, "Cannot count the replica's records; no sink opens.");
                let message = error.to_string();
                sinks_not_run(sinks, || replica_failure(message.clone()))
            }
        }
    };
    (read.into_iter().map(|(outcome, _)| outcome).collect(), sinks)
}

/// How the streams of this run are to be read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadSettings {
    /// Every stream in full (`--full-refresh`).
    pub(crate) full_refresh: bool,
    /// A full pass is due when the last one is older than this (`full_refresh_every`).
    pub(crate) full_refresh_every: Option<std::time::Duration>,
}

/// The outcome of a run that could not open its replica: another run holds it, or its folder
/// cannot be written.
fn replica_unavailable(spec: Spec, error: &RunnerError) -> (Vec<StreamOutcome>, Vec<SinkOutcome>) {
    tracing::error!(error = %error, "Cannot open the replica; nothing was read.");
    let streams = streams_not_read(&spec.sources, &|| replica_failure(error.to_string()));
    let sinks = spec
        .sinks
        .into_iter()
        .map(|sink| SinkOutcome {
            sink: sink.name,
            sink_type: sink.sink_type.to_string(),
            result: Err(nothing_read()),
            datasets_missing: sink.datasets,
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
            replica: ReplicaOutcome::default(),
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
    error: impl Fn() -> Error,
) -> Vec<SinkOutcome> {
    sinks
        .into_iter()
        .map(|sink| match sink {
            Ok(opened) => SinkOutcome {
                sink: opened.name,
                sink_type: opened.sink_type.to_string(),
                result: Err(error()),
                datasets_missing: opened.datasets,
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

/// Builds every source, prepares every stream's table in the replica, and reads all streams
/// concurrently into it.
pub(crate) async fn read_streams(
    sources: Vec<SpecSource>,
    replica: &Replica,
    settings: ReadSettings,
    progress: &Progress,
    cancel: &mut CancelSignal,
) -> Vec<(StreamOutcome, PlannedDataset)> {
    let jobs = build_sources(sources).await;
    let width = jobs.iter().map(|job| job.dataset.name.len()).max().unwrap_or(0);

    let mut tasks = JoinSet::new();
    let mut job_of_task = HashMap::new();
    let mut results: Vec<Option<Result<StreamReport, Error>>> = Vec::new();
    let mut passes: Vec<Pass> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        results.push(None);
        passes.push(Pass::Full);
        // Every stream gets its table, even one whose source failed to build, so an earlier
        // complete copy can still reach the sinks.
        let (source_name, stream) = (job.source_name.clone(), job.dataset.stream.clone());
        let prepared = on_replica(replica, move |replica| {
            replica.prepare_stream(
                &source_name,
                &stream,
                settings.full_refresh,
                settings.full_refresh_every,
            )
        })
        .await;
        let plan = match prepared {
            Ok(plan) => plan,
            Err(error) => {
                results[index] = Some(Err(Error::from(error)));
                continue;
            }
        };
        let source = match &job.source {
            Ok(source) => source.clone(),
            Err(error) => {
                results[index] = Some(Err(duplicate(error)));
                continue;
            }
        };
        if plan.sync_token.is_some() {
            passes[index] = Pass::Changes;
        }
        let line = progress.line(&job.dataset.name, width);
        let span = tracing::info_span!(
            "stream",
            component_kind = "source",
            component_id = %job.source_name,
            stream = %job.dataset.stream.name,
            dataset = %job.dataset.name,
        );
        let target = StreamTarget {
            source_name: job.source_name.clone(),
            entity: job.dataset.stream.name.clone(),
            replica: replica.clone(),
        };
        let read = read_stream(source, target, plan, line);
        let handle = tasks.spawn(read.instrument(span));
        job_of_task.insert(handle.id(), index);
    }

    for joined in join_all_or_cancel(&mut tasks, cancel).await {
        let (id, result) = match joined {
            Ok((id, (result, pass))) => {
                passes[job_of_task[&id]] = pass;
                (id, result)
            }
            Err(failure) if failure.is_cancelled() => (failure.id(), Err(Error::Cancelled)),
            Err(failure) => {
                let message = format!("reading the stream stopped unexpectedly: {failure}");
                (failure.id(), Err(Error::upstream(message)))
            }
        };
        results[job_of_task[&id]] = Some(result);
    }

    let mut read = Vec::new();
    for ((job, result), pass) in jobs.into_iter().zip(results).zip(passes) {
        let result = result.unwrap_or(Err(Error::Cancelled));
        let counts = replica.counts(&job.source_name, &job.dataset.stream.name);
        let history = StreamHistory {
            changes_only: pass == Pass::Changes,
            rows_read: result.as_ref().ok().map(|report| report.records),
            requests: result.as_ref().map_or(0, |report| report.requests),
            retries: result.as_ref().map_or(0, |report| report.retries),
            error: result.as_ref().err().map(ToString::to_string),
        };
        let (source_name, entity) = (job.source_name.clone(), job.dataset.stream.name.clone());
        let recorded = on_replica(replica, move |replica| {
            replica.record_stream(&source_name, &entity, &history)
        })
        .await;
        if let Err(error) = recorded {
            tracing::warn!(error = %error, "Cannot record the stream in the run history.");
        }
        let outcome = StreamOutcome {
            source: job.source_name,
            stream: job.dataset.stream.name.clone(),
            dataset: job.dataset.name.clone(),
            result,
            replica: ReplicaOutcome {
                changes_only: pass == Pass::Changes,
                written: counts.written,
                removed: counts.removed,
                delivered: None,
                stale_as_of: None,
            },
        };
        read.push((outcome, job.dataset));
    }
    read
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

/// Where a stream's batches go: its table in the replica.
struct StreamTarget {
    source_name: String,
    entity: String,
    replica: Replica,
}

/// Reads one stream to its end while applying its batches to the replica. Returns the read's
/// result and the kind of pass that ended it (a changes pass may fall back to a full one).
async fn read_stream(
    source: Arc<dyn Source>,
    target: StreamTarget,
    plan: ReadPlan,
    line: Line,
) -> (Result<StreamReport, Error>, Pass) {
    line.update("reading".into());
    let planned_pass = if plan.sync_token.is_some() { Pass::Changes } else { Pass::Full };
    tracing::debug!(incremental = plan.sync_token.is_some(), "Reading the stream.");
    let (sender, receiver) = mpsc::channel(STREAM_CHANNEL_BATCHES);
    let request = ReadRequest { stream: target.entity.clone(), sync_token: plan.sync_token };

    let (read, stored) = tokio::join!(
        source.read(request, sender),
        store_batches(receiver, &target, &line, planned_pass)
    );

    // A replica failure is the cause when both fail: it closed the channel the source saw.
    let (result, pass) = match (read, stored) {
        (_, Err(error)) => (Err(Error::from(error)), planned_pass),
        (read, Ok(pass)) => (read, pass),
    };
    match &result {
        Ok(report) => {
            tracing::info!(
                rows = report.records,
                requests = report.requests,
                retries = report.retries,
                pass_restarts = report.pass_restarts,
                changes_only = pass == Pass::Changes,
                duration_ms = report.duration.as_millis() as u64,
                "Read the stream."
            );
            let kind = if pass == Pass::Changes { "changes" } else { "full" };
            line.finish(format!(
                "done ({kind}): {} rows, {}",
                group_thousands(report.records),
                counted(usize::try_from(report.requests).unwrap_or(usize::MAX), "request")
            ));
        }
        Err(error) => {
            tracing::error!(error = %error, "Cannot read the stream this run.");
            line.finish(format!("failed: {error}"));
        }
    }
    (result, pass)
}

/// Applies every batch from the channel to the replica, each in one transaction, and returns
/// the kind of the pass that ended. Takes the receiver by value so that an early return closes
/// the channel and the source stops instead of waiting forever.
async fn store_batches(
    mut receiver: mpsc::Receiver<Batch>,
    target: &StreamTarget,
    line: &Line,
    planned_pass: Pass,
) -> Result<Pass, RunnerError> {
    let (mut rows, mut batches) = (0_u64, 0_u64);
    let mut pass = planned_pass;
    while let Some(batch) = receiver.recv().await {
        let batch_rows = batch.len() as u64;
        pass = batch.pass;
        let (source, entity) = (target.source_name.clone(), target.entity.clone());
        on_replica(&target.replica, move |replica| replica.apply_batch(&source, &entity, &batch))
            .await?;

        rows += batch_rows;
        batches += 1;
        line.update(format!(
            "reading: {} rows in {}",
            group_thousands(rows),
            counted(usize::try_from(batches).unwrap_or(usize::MAX), "page")
        ));
    }
    Ok(pass)
}

/// Runs `work` on the blocking pool, so SQLite never blocks the async workers.
pub(crate) async fn on_replica<T: Send + 'static>(
    replica: &Replica,
    work: impl FnOnce(&Replica) -> Result<T, RunnerError> + Send + 'static,
) -> Result<T, RunnerError> {
    let replica = replica.clone();
    tokio::task::spawn_blocking(move || work(&replica))
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

/// A dataset the sinks will receive, and the table it is read from.
pub(crate) struct Deliverable {
    descriptor: DatasetDescriptor,
    pub(crate) source: String,
    pub(crate) entity: String,
}

/// Decides which datasets reach the sinks, sorted by name: every stream read this run, and
/// every stream whose read failed but whose replica completed a full pass in an earlier run
/// (its outcome then says as of when). A stream whose copy was never complete is withheld, so
/// a failed read never blanks or shortens a good output.
pub(crate) async fn deliverable_datasets(
    read: &mut [(StreamOutcome, PlannedDataset)],
    replica: &Replica,
) -> Result<Vec<Deliverable>, RunnerError> {
    let mut order: Vec<usize> = (0..read.len()).collect();
    order.sort_by(|a, b| read[*a].1.name.cmp(&read[*b].1.name));

    let mut deliverable = Vec::new();
    for index in order {
        let (outcome, dataset) = &mut read[index];
        let (source, entity) = (outcome.source.clone(), outcome.stream.clone());
        match &outcome.result {
            Ok(_) => {}
            Err(Error::Cancelled) => continue,
            Err(_) => {
                let (s, e) = (source.clone(), entity.clone());
                let as_of =
                    on_replica(replica, move |replica| replica.complete_as_of(&s, &e)).await?;
                let Some(as_of) = as_of else { continue };
                tracing::warn!(
                    dataset = %dataset.name,
                    as_of = %as_of,
                    "The read failed; the sinks get the copy completed by an earlier run."
                );
                outcome.replica.stale_as_of = Some(as_of);
            }
        }
        let (s, e) = (source.clone(), entity.clone());
        let rows = on_replica(replica, move |replica| replica.row_count(&s, &e)).await?;
        outcome.replica.delivered = Some(rows);
        deliverable.push(Deliverable {
            descriptor: DatasetDescriptor {
                name: dataset.name.clone(),
                description: dataset.stream.description.clone(),
                schema: replica
                    .schema(&source, &entity)
                    .unwrap_or_else(|| dataset.stream.schema.clone()),
                primary_key: Some(dataset.stream.primary_key.clone()),
                rows: Some(rows),
            },
            source,
            entity,
        });
    }
    Ok(deliverable)
}

/// Why a dataset could not be delivered: the replica failed to read it, or the spec's
/// definition of it failed at run time (an SQL error, say), which is a configuration problem.
#[derive(Debug, Clone)]
enum Undeliverable {
    Replica(String),
    Dataset(String),
}

/// What the dispatcher tells a sink's task.
enum Feed {
    Begin(Arc<DatasetDescriptor>),
    Rows(Arc<Vec<Record>>),
    End,
    /// The run cannot deliver the current dataset; stop without publishing.
    Abandon(Undeliverable),
    /// Every dataset was delivered; publish.
    Finish,
}

/// How a sink's task ended.
struct SinkRun {
    result: Result<SinkReport, Error>,
    completed: Vec<String>,
}

/// A sink being fed: its name and type, the datasets it receives, and the channel to its task
/// while it is alive.
struct LiveSink {
    name: String,
    sink_type: &'static str,
    datasets: Vec<String>,
    feed: Option<mpsc::Sender<Feed>>,
}

impl LiveSink {
    /// True when the sink is still running and receives the dataset `name`.
    fn wants(&self, name: &str) -> bool {
        self.feed.is_some() && self.datasets.iter().any(|wanted| wanted == name)
    }
}

/// A sink opened for this run, not yet fed.
struct OpenedSink {
    name: String,
    sink_type: &'static str,
    datasets: Vec<String>,
    sink: Box<dyn Sink>,
    span: tracing::Span,
}

/// Opens every sink; a sink that cannot be opened is already its final outcome.
async fn open_sinks(sinks: Vec<SpecSink>) -> Vec<Result<OpenedSink, SinkOutcome>> {
    let mut opened = Vec::new();
    for sink in sinks {
        let span = tracing::info_span!(
            "sink",
            component_kind = "sink",
            component_id = %sink.name,
            component_type = sink.sink_type,
        );
        let result = match sink.validated.open().instrument(span.clone()).await {
            Ok(live) => Ok(OpenedSink {
                name: sink.name,
                sink_type: sink.sink_type,
                datasets: sink.datasets,
                sink: live,
                span,
            }),
            Err(error) => {
                span.in_scope(|| tracing::error!(error = %error, "Cannot open the sink."));
                Err(SinkOutcome {
                    sink: sink.name,
                    sink_type: sink.sink_type.to_string(),
                    result: Err(error),
                    datasets_missing: sink.datasets,
                    ran: true,
                })
            }
        };
        opened.push(result);
    }
    opened
}

/// Feeds every opened sink the deliverable datasets it chose, then has each publish.
async fn write_sinks(
    sinks: Vec<Result<OpenedSink, SinkOutcome>>,
    deliverable: Vec<FeedItem>,
    replica: &Replica,
    progress: &Progress,
    cancel: &mut CancelSignal,
) -> Vec<SinkOutcome> {
    if deliverable.is_empty() {
        tracing::error!("No stream was read completely; no sink is written.");
        return sinks_not_run(sinks, nothing_read);
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
        live.push(LiveSink {
            name: opened.name,
            sink_type: opened.sink_type,
            datasets: opened.datasets,
            feed: Some(sender),
        });
    }

    let feeding = dispatch(deliverable, replica, &mut live);
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
                sink_outcome(sink, run)
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

fn sink_outcome(sink: LiveSink, run: SinkRun) -> SinkOutcome {
    let published: BTreeSet<&str> = match &run.result {
        Ok(_) => run.completed.iter().map(String::as_str).collect(),
        Err(_) => BTreeSet::new(),
    };
    let datasets_missing =
        sink.datasets.iter().filter(|name| !published.contains(name.as_str())).cloned().collect();
    SinkOutcome {
        sink: sink.name,
        sink_type: sink.sink_type.to_string(),
        result: run.result,
        datasets_missing,
        ran: true,
    }
}

/// One dataset to deliver: an entity streamed from its replica table page by page, or a
/// dataset of the spec (or built in) that is materialized from the replica first.
enum FeedItem {
    Entity(Deliverable),
    Derived(Arc<DatasetPlan>),
}

impl FeedItem {
    fn name(&self) -> &str {
        match self {
            FeedItem::Entity(deliverable) => &deliverable.descriptor.name,
            FeedItem::Derived(plan) => &plan.name,
        }
    }
}

/// The datasets the opened sinks chose, in the order they first appear in their `datasets`
/// keys, each once. An entity's dataset goes out when its entity is deliverable; a dataset
/// made from entities goes out only when every entity it reads is, so a failed read never
/// reaches a sink through a join either.
fn feed_items(
    plans: &DatasetPlans,
    sinks: &[Result<OpenedSink, SinkOutcome>],
    deliverable: Vec<Deliverable>,
) -> Vec<FeedItem> {
    let delivered: BTreeSet<(String, String)> =
        deliverable.iter().map(|item| (item.source.clone(), item.entity.clone())).collect();
    let mut entity_items: HashMap<String, Deliverable> =
        deliverable.into_iter().map(|item| (item.descriptor.name.clone(), item)).collect();

    let mut chosen: Vec<&str> = Vec::new();
    for opened in sinks.iter().flatten() {
        for name in &opened.datasets {
            if !chosen.contains(&name.as_str()) {
                chosen.push(name);
            }
        }
    }

    let mut items = Vec::new();
    for name in chosen {
        if let Some(item) = entity_items.remove(name) {
            items.push(FeedItem::Entity(item));
            continue;
        }
        let Some(plan) = plans.get(name) else { continue };
        if plan.entity().is_some() {
            // An entity dataset that is not deliverable: its read failed with no earlier copy.
            continue;
        }
        let missing: Vec<String> = plan
            .inputs
            .iter()
            .filter(|input| !delivered.contains(&(input.source.clone(), input.entity.clone())))
            .map(ToString::to_string)
            .collect();
        if missing.is_empty() {
            items.push(FeedItem::Derived(Arc::clone(plan)));
        } else {
            tracing::warn!(
                dataset = %name,
                missing = %missing.join(", "),
                "The dataset is withheld: entities it is made from could not be read."
            );
        }
    }
    items
}

/// Reads or makes each dataset once and hands it to every live sink that chose it, then tells
/// every sink to publish. A sink whose channel has closed has failed and is skipped from then
/// on.
// FIXME: a slow sink (a remote API) holds the others back once its queue of
// SINK_CHANNEL_MESSAGES is full; one reader per sink would let each go at its own pace, at the
// cost of reading the replica (and making each derived dataset) once per sink.
async fn dispatch(items: Vec<FeedItem>, replica: &Replica, sinks: &mut [LiveSink]) {
    for item in items {
        let name = item.name().to_string();
        if !sinks.iter().any(|sink| sink.wants(&name)) {
            continue;
        }
        let delivered = match item {
            FeedItem::Entity(deliverable) => stream_entity(deliverable, replica, sinks).await,
            FeedItem::Derived(plan) => send_derived(plan, replica, sinks).await,
        };
        if let Err(reason) = delivered {
            broadcast(sinks, &name, || Feed::Abandon(reason.clone())).await;
        }
    }
    for sink in sinks.iter_mut() {
        let Some(feed) = &sink.feed else { continue };
        if feed.send(Feed::Finish).await.is_err() {
            sink.feed = None;
        }
    }
}

/// Sends an entity's dataset page by page from its replica table to the sinks that chose it.
async fn stream_entity(
    deliverable: Deliverable,
    replica: &Replica,
    sinks: &mut [LiveSink],
) -> Result<(), Undeliverable> {
    let Deliverable { descriptor, source, entity } = deliverable;
    let descriptor = Arc::new(descriptor);
    let name = descriptor.name.clone();
    tracing::debug!(dataset = %name, rows = descriptor.rows, "Writing a dataset.");
    broadcast(sinks, &name, || Feed::Begin(descriptor.clone())).await;

    let mut after = None;
    loop {
        let (source, entity) = (source.clone(), entity.clone());
        let page = on_replica(replica, move |replica| {
            replica.read_page(&source, &entity, after.as_ref(), PAGE_ROWS)
        })
        .await
        .map_err(|error| Undeliverable::Replica(error.to_string()))?;
        if !page.records.is_empty() {
            let records = Arc::new(page.records);
            broadcast(sinks, &name, || Feed::Rows(records.clone())).await;
        }
        after = page.next;
        if after.is_none() || !sinks.iter().any(|sink| sink.wants(&name)) {
            break;
        }
    }
    broadcast(sinks, &name, || Feed::End).await;
    Ok(())
}

/// Makes a dataset of the spec (a join, an append, SQL, a built-in) from the replica and sends
/// it to the sinks that chose it. A dataset that cannot be made (an SQL error, say) fails
/// those sinks, which then publish nothing.
async fn send_derived(
    plan: Arc<DatasetPlan>,
    replica: &Replica,
    sinks: &mut [LiveSink],
) -> Result<(), Undeliverable> {
    let name = plan.name.clone();
    let made =
        on_replica(replica, move |replica| materialize(&plan, replica)).await.map_err(|error| {
            match error {
                RunnerError::Dataset { .. } => Undeliverable::Dataset(error.to_string()),
                other => Undeliverable::Replica(format!("cannot make the dataset {name}: {other}")),
            }
        })?;
    let (descriptor, rows) = made;
    tracing::debug!(dataset = %descriptor.name, rows = rows.len(), "Writing a dataset.");
    let descriptor = Arc::new(descriptor);
    broadcast(sinks, &name, || Feed::Begin(descriptor.clone())).await;
    for chunk in rows.chunks(PAGE_ROWS) {
        let records = Arc::new(chunk.to_vec());
        broadcast(sinks, &name, || Feed::Rows(records.clone())).await;
        if !sinks.iter().any(|sink| sink.wants(&name)) {
            break;
        }
    }
    broadcast(sinks, &name, || Feed::End).await;
    Ok(())
}

/// Sends a message to every live sink that chose `dataset`; a sink that cannot receive it has
/// stopped.
async fn broadcast(sinks: &mut [LiveSink], dataset: &str, message: impl Fn() -> Feed) {
    for sink in sinks.iter_mut() {
        if !sink.wants(dataset) {
            continue;
        }
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
            Feed::Abandon(Undeliverable::Replica(reason)) => return Err(replica_failure(reason)),
            Feed::Abandon(Undeliverable::Dataset(reason)) => return Err(Error::config(reason)),
            Feed::Finish => return Ok(()),
        }
    }
    Err(Error::Cancelled)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::spec::parse_spec;
    use crate::testing::{journal, registry};

    /// A folder for a spec named `spec.toml`, where its replica lives; deleted when dropped.
    struct SpecFolder(tempfile::TempDir);

    impl SpecFolder {
        fn new() -> Self {
            SpecFolder(tempfile::tempdir().expect("a temporary folder"))
        }

        fn spec(&self, text: &str) -> Spec {
            parse_spec("spec.toml", self.0.path(), text, &registry())
                .expect("the test spec is valid")
        }

        async fn run_with(&self, text: &str, options: &RunOptions) -> RunSummary {
            let (_sender, cancel) = CancelSignal::new();
            execute(self.spec(text), options, cancel).await
        }

        async fn run(&self, text: &str) -> RunSummary {
            self.run_with(text, &RunOptions::default()).await
        }
    }

    async fn run(text: &str) -> RunSummary {
        SpecFolder::new().run(text).await
    }

    /// A spec of one incremental memory stream of `rows` records at `revision`, written to
    /// the journal `journal`.
    fn incremental(rows: u64, revision: u64, journal: &str, extra: &str) -> String {
        format!(
            "{extra}\n[sources.ashby]\ntype = \"memory\"\nstreams = [\"candidates\", \"offers\"]\n\
             incremental = true\nrows = {rows}\nrevision = {revision}\n\
             [sinks.book]\ntype = \"journal\"\njournal = \"{journal}\"\n"
        )
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
        let folder = SpecFolder::new();
        let spec = folder.spec(
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
        let folder = SpecFolder::new();
        let spec = folder.spec(
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

    /// The journal's events without the row counts of `begin` lines' neighbours: every
    /// dataset's header, rows and end, as a sink saw them.
    fn delivered(journal_name: &str) -> Vec<String> {
        journal(journal_name)
    }

    #[tokio::test]
    async fn an_unchanged_second_run_reads_only_changes_and_delivers_the_same_datasets() {
        let folder = SpecFolder::new();
        let first = folder.run(&incremental(5, 0, "unchanged-1", "")).await;
        assert_eq!(first.exit_code(), 0, "{}", first.render());
        assert!(!outcome(&first, "candidates").replica.changes_only);
        assert_eq!(outcome(&first, "candidates").replica.written, 5);

        let second = folder.run(&incremental(5, 0, "unchanged-2", "")).await;

        assert_eq!(second.exit_code(), 0, "{}", second.render());
        let candidates = outcome(&second, "candidates");
        assert!(candidates.replica.changes_only);
        assert_eq!(candidates.result.as_ref().unwrap().records, 0, "nothing changed upstream");
        assert_eq!((candidates.replica.written, candidates.replica.delivered), (0, Some(5)));
        assert_eq!(delivered("unchanged-2"), delivered("unchanged-1"));
        assert!(second.render().contains("State: "), "{}", second.render());
        assert_eq!(second.state.as_ref().map(|state| state.run_id), Some(2));
    }

    #[tokio::test]
    async fn records_added_and_changed_upstream_arrive_as_changes_and_sinks_get_everything() {
        let folder = SpecFolder::new();
        assert_eq!(folder.run(&incremental(3, 0, "grown-1", "")).await.exit_code(), 0);

        let grown = folder.run(&incremental(6, 0, "grown-2", "")).await;
        assert_eq!(grown.exit_code(), 0, "{}", grown.render());
        let candidates = outcome(&grown, "candidates");
        assert!(candidates.replica.changes_only);
        assert_eq!(candidates.result.as_ref().unwrap().records, 3, "only the three new ones");
        assert_eq!(candidates.replica.written, 3);

        // The same upstream data exported from scratch into another folder.
        let fresh = SpecFolder::new().run(&incremental(6, 0, "grown-fresh", "")).await;
        assert_eq!(fresh.exit_code(), 0);
        assert_eq!(delivered("grown-2"), delivered("grown-fresh"));
        assert!(
            delivered("grown-2")
                .contains(&"begin candidates rows=6 fields=id,createdAt,extra".into())
        );
    }

    #[tokio::test]
    async fn a_record_deleted_upstream_stays_until_a_full_pass_removes_it() {
        let folder = SpecFolder::new();
        assert_eq!(folder.run(&incremental(5, 0, "deleted-1", "")).await.exit_code(), 0);

        let changes = folder.run(&incremental(3, 0, "deleted-2", "")).await;
        assert_eq!(outcome(&changes, "candidates").replica.delivered, Some(5), "not seen yet");

        let options = RunOptions { full_refresh: true, ..RunOptions::default() };
        let full = folder.run_with(&incremental(3, 0, "deleted-3", ""), &options).await;
        assert_eq!(full.exit_code(), 0, "{}", full.render());
        let candidates = outcome(&full, "candidates");
        assert!(!candidates.replica.changes_only);
        assert_eq!((candidates.replica.removed, candidates.replica.delivered), (2, Some(3)));
        let fresh = SpecFolder::new().run(&incremental(3, 0, "deleted-fresh", "")).await;
        assert_eq!(fresh.exit_code(), 0);
        assert_eq!(delivered("deleted-3"), delivered("deleted-fresh"));
    }

    #[tokio::test]
    async fn full_refresh_every_makes_a_full_pass_due_once_the_last_is_older() {
        let folder = SpecFolder::new();
        let every = "full_refresh_every = \"50ms\"";
        assert_eq!(folder.run(&incremental(4, 0, "every-1", every)).await.exit_code(), 0);

        let soon = folder.run(&incremental(4, 0, "every-2", every)).await;
        assert!(outcome(&soon, "candidates").replica.changes_only, "not due yet");

        tokio::time::sleep(Duration::from_millis(80)).await;
        let due = folder.run(&incremental(2, 0, "every-3", every)).await;
        let candidates = outcome(&due, "candidates");
        assert!(!candidates.replica.changes_only, "{}", due.render());
        assert_eq!(candidates.replica.removed, 2);
    }

    #[tokio::test]
    async fn a_failed_read_sends_the_earlier_complete_copy_and_says_it_may_be_stale() {
        let folder = SpecFolder::new();
        assert_eq!(folder.run(&incremental(3, 0, "stale-1", "")).await.exit_code(), 0);

        let text = incremental(3, 0, "stale-2", "").replace("revision = 0", "fail = [\"offers\"]");
        let failed = folder.run(&text).await;

        assert_eq!(failed.exit_code(), 1, "a failed read still fails the run");
        let offers = outcome(&failed, "offers");
        assert!(offers.result.is_err());
        assert!(offers.replica.stale_as_of.is_some());
        assert_eq!(offers.replica.delivered, Some(3));
        assert!(failed.sinks[0].datasets_missing.is_empty());
        assert_eq!(delivered("stale-2"), delivered("stale-1"), "the sink got the earlier copy");
        let text = failed.render();
        assert!(
            text.contains(
                "offers: the sinks received the copy kept from the last completed read, as of "
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_dataset_whose_copy_never_completed_is_withheld_after_a_failed_read() {
        let folder = SpecFolder::new();
        let text = incremental(3, 0, "never-1", "").replace("revision = 0", "fail = [\"offers\"]");
        let failed = folder.run(&text).await;

        assert_eq!(failed.exit_code(), 1);
        assert_eq!(outcome(&failed, "offers").replica.delivered, None);
        assert_eq!(failed.sinks[0].datasets_missing, ["offers"]);
        assert!(!journal("never-1").iter().any(|event| event.contains("offers")));

        // The next run reads it in full, since no full pass ever completed.
        let next = folder.run(&incremental(3, 0, "never-2", "")).await;
        assert!(!outcome(&next, "offers").replica.changes_only);
        assert!(outcome(&next, "candidates").replica.changes_only);
        assert_eq!(outcome(&next, "offers").replica.delivered, Some(3));
    }

    #[tokio::test]
    async fn a_run_is_refused_at_once_while_another_run_of_the_spec_holds_its_state() {
        let folder = SpecFolder::new();
        let text = incremental(3, 0, "refused", "");
        let holder = Replica::open(&folder.spec(&text).state_file(), false).unwrap();

        let refused = folder.run(&text).await;

        assert_eq!(refused.exit_code(), 1);
        assert!(refused.state.is_none());
        let rendered = refused.render();
        let pid =
            format!("another ashflow run of this spec is in progress (pid {})", std::process::id());
        assert!(rendered.contains(&pid), "{rendered}");
        assert!(journal("refused").is_empty(), "nothing was written");
        drop(holder);
        assert_eq!(folder.run(&text).await.exit_code(), 0);
    }

    #[tokio::test]
    async fn the_history_records_each_run_with_its_counts() {
        let folder = SpecFolder::new();
        folder.run(&incremental(4, 0, "history-1", "")).await;
        folder.run(&incremental(6, 0, "history-2", "")).await;

        let history =
            crate::replica::run_history(&folder.spec(&incremental(1, 0, "x", "")).state_file(), 10)
                .unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!((history[0].run_id, history[0].outcome.as_str()), (2, "succeeded"));
        assert_eq!((history[0].rows_read, history[0].rows_written), (4, 4), "two new per stream");
        assert_eq!((history[1].rows_read, history[1].rows_written), (8, 8));
        assert!(history[0].requests > 0 && history[0].errors.is_empty());
    }
}
