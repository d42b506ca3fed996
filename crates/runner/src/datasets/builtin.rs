//! Built-in datasets: definitions ashflow provides, written in the same declarative form as a
//! spec's `[datasets.NAME]` tables and planned by the same code.
//!
//! `pipeline` is the view recruiting teams ask for first: one row per application, with the
//! names behind its ids. The job's title and status come from the `jobs` entity and its
//! department and location names from `departments` and `locations` (left joins, so an
//! application whose job, department or location is missing keeps its row with those cells
//! empty); the candidate, stage, source, archive reason and credited user come from the
//! objects Ashby embeds in each application. With one source it is called `pipeline`; with
//! several, each source that reads the four entities gets `<source>_pipeline`. A spec that
//! defines a dataset of the same name replaces the built-in.

use crate::datasets::EntityInput;
use crate::datasets::definition::{Body, Definition, JoinDefinition, JoinKind, Located};

/// The entities the pipeline reads, per source.
pub(crate) const PIPELINE_ENTITIES: [&str; 4] =
    ["applications", "jobs", "departments", "locations"];

/// The pipeline's columns: (column of the joined rows, name in the dataset).
pub(crate) const PIPELINE_COLUMNS: [(&str, &str); 19] = [
    ("id", "application_id"),
    ("status", "application_status"),
    ("candidate.id", "candidate_id"),
    ("candidate.name", "candidate_name"),
    ("candidate.primaryEmailAddress.value", "candidate_email"),
    ("job.id", "job_id"),
    ("job_title", "job_title"),
    ("job_status", "job_status"),
    ("department_name", "department"),
    ("location_name", "location"),
    ("currentInterviewStage.title", "stage"),
    ("currentInterviewStage.type", "stage_type"),
    ("source.title", "source"),
    ("archiveReason.text", "archive_reason"),
    ("creditedToUser.firstName", "credited_user_first_name"),
    ("creditedToUser.lastName", "credited_user_last_name"),
    ("createdAt", "created_at"),
    ("updatedAt", "updated_at"),
    ("archivedAt", "archived_at"),
];

/// A built-in dataset, or why the spec's sources cannot make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Builtin {
    pub(crate) name: String,
    pub(crate) definition: Result<Definition, String>,
}

/// The built-in datasets for the entities the spec reads.
pub(crate) fn builtins(entities: &[EntityInput], several_sources: bool) -> Vec<Builtin> {
    let mut sources: Vec<&str> = Vec::new();
    for entity in entities {
        if !sources.contains(&entity.entity.source.as_str()) {
            sources.push(&entity.entity.source);
        }
    }
    sources
        .into_iter()
        .map(|source| {
            let name =
                if several_sources { format!("{source}_pipeline") } else { "pipeline".into() };
            let missing: Vec<&str> = PIPELINE_ENTITIES
                .into_iter()
                .filter(|wanted| {
                    !entities
                        .iter()
                        .any(|e| e.entity.source == source && e.entity.entity == *wanted)
                })
                .collect();
            let definition = if missing.is_empty() {
                Ok(pipeline(&name, source))
            } else {
                Err(format!(
                    "the built-in dataset `{name}` needs the entities {} of source `{source}`, \
                     and it does not export {}; add them to its `entities` (or take them out of \
                     `exclude`)",
                    PIPELINE_ENTITIES.join(", "),
                    missing.join(", ")
                ))
            };
            Builtin { name, definition }
        })
        .collect()
}

/// The description of a built-in dataset.
pub(crate) fn description(_name: &str) -> String {
    "One row per application with the names behind its ids: candidate, job, department, \
     location, current stage, source, archive reason and credited user."
        .into()
}

fn at<T>(value: T) -> Located<T> {
    Located::new(value, 0)
}

fn join(source: &str, entity: &str, left: &str, prefix: &str) -> JoinDefinition {
    JoinDefinition {
        with: at(format!("{source}.{entity}")),
        on: vec![(at(left.to_string()), at("id".to_string()))],
        kind: JoinKind::Left,
        prefix: Some(at(prefix.to_string())),
        offset: 0,
    }
}

fn pipeline(name: &str, source: &str) -> Definition {
    Definition {
        name: name.to_string(),
        offset: 0,
        body: Body::From(at(format!("{source}.applications"))),
        join: vec![
            join(source, "jobs", "job.id", "job_"),
            join(source, "departments", "job_departmentId", "department_"),
            join(source, "locations", "job_locationId", "location_"),
        ],
        filter: None,
        select: Some(at(PIPELINE_COLUMNS
            .iter()
            .map(|(column, _)| at(column.to_string()))
            .collect())),
        rename: PIPELINE_COLUMNS
            .iter()
            .filter(|(column, name)| column != name)
            .map(|(column, name)| (at(column.to_string()), at(name.to_string())))
            .collect(),
        sort: Vec::new(),
        pivot_custom_fields: None,
        builtin: true,
    }
}
