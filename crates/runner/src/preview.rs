//! `ashflow preview SPEC DATASET`: the first rows of one dataset in the terminal, written to
//! no sink.
//!
//! A preview syncs the entities the dataset is made from into the replica first, exactly as a
//! run would (only what changed, when the replica holds a complete copy), so what it shows is
//! what the next run would write. It is recorded in the run history as a `preview`.

use std::collections::BTreeSet;
use std::path::Path;

use ashflow_core::Error;

use crate::datasets::{materialize, render_preview};
use crate::error::RunnerError;
use crate::plugins::Registry;
use crate::replica::Replica;
use crate::run::{
    CancelSignal, ReadSettings, RunOptions, deliverable_datasets, on_replica, read_streams,
};
use crate::spec::{SpecError, load_spec};
use crate::telemetry::Progress;

/// Why a preview shows nothing.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The spec is invalid.
    #[error("{0}")]
    Spec(SpecError),
    /// The spec has no dataset of that name.
    #[error("{0}")]
    UnknownDataset(String),
    /// The dataset could not be made: a read failed with no earlier copy, or the replica or
    /// the dataset's definition failed at run time.
    #[error("{0}")]
    Failed(String),
}

impl From<RunnerError> for PreviewError {
    fn from(error: RunnerError) -> Self {
        PreviewError::Failed(error.to_string())
    }
}

/// Syncs what `dataset` of the spec at `spec_path` needs and returns its first `limit` rows as
/// a text table.
pub async fn preview_dataset(
    spec_path: &Path,
    dataset: &str,
    limit: usize,
    options: &RunOptions,
) -> Result<String, PreviewError> {
    let mut spec = load_spec(spec_path, &Registry::linked()).map_err(PreviewError::Spec)?;
    let Some(plan) = spec.dataset_plans.get(dataset).cloned() else {
        let known: Vec<String> = spec.dataset_plans.all().map(|plan| plan.name.clone()).collect();
        return Err(PreviewError::UnknownDataset(format!(
            "{} has no dataset {dataset:?}; its datasets are: {}",
            spec.file_name,
            known.join(", ")
        )));
    };

    // Only the entities the dataset is made from are read.
    let needed: BTreeSet<(String, String)> =
        plan.inputs.iter().map(|input| (input.source.clone(), input.entity.clone())).collect();
    for source in &mut spec.sources {
        let name = source.name.clone();
        source
            .datasets
            .retain(|planned| needed.contains(&(name.clone(), planned.stream.name.clone())));
    }
    spec.sources.retain(|source| !source.datasets.is_empty());

    let state_file = spec.state_file();
    let full_refresh = options.full_refresh;
    let replica = tokio::task::spawn_blocking(move || Replica::open(&state_file, full_refresh))
        .await
        .map_err(|failure| PreviewError::Failed(failure.to_string()))??;
    let (cancel, _listener) = CancelSignal::on_ctrl_c();
    let mut cancel = cancel;
    let settings = ReadSettings {
        full_refresh: options.full_refresh,
        full_refresh_every: spec.full_refresh_every,
    };
    let progress = Progress::new(options.progress);
    let mut read = read_streams(spec.sources, &replica, settings, &progress, &mut cancel).await;
    drop(progress);

    let outcome = preview_from(&mut read, &replica, plan, limit).await;
    let recorded = if outcome.is_ok() { "preview" } else { "preview failed" };
    if let Err(error) = replica.finish_run(recorded) {
        tracing::warn!(error = %error, "Cannot record the preview in the run history.");
    }
    outcome
}

async fn preview_from(
    read: &mut [(crate::summary::StreamOutcome, crate::spec::PlannedDataset)],
    replica: &Replica,
    plan: std::sync::Arc<crate::datasets::DatasetPlan>,
    limit: usize,
) -> Result<String, PreviewError> {
    if read.iter().any(|(outcome, _)| matches!(outcome.result, Err(Error::Cancelled))) {
        return Err(PreviewError::Failed("interrupted".to_string()));
    }
    let deliverable = deliverable_datasets(read, replica).await?;
    let delivered: BTreeSet<(String, String)> =
        deliverable.iter().map(|item| (item.source.clone(), item.entity.clone())).collect();
    let mut notes = Vec::new();
    for (outcome, _) in read.iter() {
        let Err(error) = &outcome.result else { continue };
        if delivered.contains(&(outcome.source.clone(), outcome.stream.clone())) {
            notes.push(format!(
                "note: {}.{} could not be read ({error}); showing the copy of an earlier run",
                outcome.source, outcome.stream
            ));
        } else {
            return Err(PreviewError::Failed(format!(
                "{}.{} could not be read and no earlier run completed it: {error}",
                outcome.source, outcome.stream
            )));
        }
    }

    let (descriptor, rows) =
        on_replica(replica, move |replica| materialize(&plan, replica)).await?;
    let mut text = render_preview(&descriptor, &rows, limit);
    for note in notes {
        text.push_str(&note);
        text.push('\n');
    }
    Ok(text)
}
