//! Datasets: what sinks receive, defined in the spec as joins, appends, reshaping or SQL over
//! the replica, planned offline and materialized from the replica's records.
//!
//! A spec's `[datasets.NAME]` tables are parsed by [`definition`], checked and turned into a
//! [`DatasetPlan`] per dataset by [`plan`] (before anything is fetched, so `ashflow check`
//! reports every mistake), and evaluated by [`materialize`] over a [`DatasetInputs`], the
//! runner's read access to the replica. Every entity of every source is a dataset too (its
//! default name is `candidates`, or `<source>_candidates` with several sources), and the
//! built-in `pipeline` ([`builtin`]) is a definition like any other.
//!
//! A `from` or `append` dataset is evaluated in a fixed order: pivot custom fields, join,
//! filter, select, rename, sort. So `filter` sees every joined column, `select` may drop the
//! columns the filter used, and `sort` names columns as `select` and `rename` left them.
//!
//! Column names are the record's field names with dots reaching into nested objects
//! (`job.departmentId`), as [`ashflow_core::Projection`] names columns. Rows stay nested JSON
//! records, so the sinks' projection still turns them into the same typed columns.
//!
//! Schemas are computed at planning time from the sources' declared schemas, and again at run
//! time from the records themselves: a field the source sent without declaring it, or a custom
//! field column of a pivot, is known only then. A name that only a pivot can explain is
//! therefore accepted by `check` and verified when the dataset is materialized.

pub(crate) mod builtin;
pub(crate) mod columns;
pub(crate) mod definition;
pub(crate) mod engine;
pub(crate) mod filter;
pub(crate) mod pivot;
pub(crate) mod plan;
pub(crate) mod preview;
mod replica_inputs;
pub(crate) mod sql;
#[cfg(test)]
mod tests;

use std::fmt;

use ashflow_core::{Record, Schema, StreamDescriptor};

use crate::error::RunnerError;

pub(crate) use definition::parse_definitions;
pub use engine::materialize;
pub(crate) use plan::plan_datasets;
pub use plan::{DatasetPlan, DatasetPlans, Origin};
pub use preview::render_preview;

/// One table of the replica: an entity (stream) of a named source, such as `ashby.jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    /// The source's name in the spec, as in `[sources.NAME]`.
    pub source: String,
    /// The entity (stream) name, such as `jobs`.
    pub entity: String,
}

impl EntityRef {
    /// The entity `entity` of source `source`.
    pub fn new(source: impl Into<String>, entity: impl Into<String>) -> Self {
        EntityRef { source: source.into(), entity: entity.into() }
    }

    /// The replica's table name for this entity, `"<source>.<entity>"` quoted as an SQL
    /// identifier.
    pub fn table_identifier(&self) -> String {
        sql::quote_identifier(&self.to_string())
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.source, self.entity)
    }
}

/// An entity that the spec's sources read, as dataset planning sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityInput {
    /// Which source and entity.
    pub entity: EntityRef,
    /// Its default dataset name: the entity's name, or `<source>_<entity>` with several
    /// sources.
    pub dataset: String,
    /// The stream's descriptor, whose schema may have been widened by the records seen.
    pub stream: StreamDescriptor,
}

/// Read access to the replica, which is all that materializing a dataset needs.
pub trait DatasetInputs {
    /// Every record of an entity of a source, in creation order then id.
    fn records(&self, source: &str, entity: &str) -> Result<Vec<Record>, RunnerError>;

    /// A read-only connection to the replica, for `sql` datasets.
    fn sql_connection(&self) -> Result<rusqlite::Connection, RunnerError>;
}

/// A problem found in a dataset definition or a sink's `datasets` key: the byte offset in the
/// spec it is about, and the message without the location (the spec's validator adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Byte offset in the spec document.
    pub(crate) offset: usize,
    /// What is wrong and what would be valid.
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        Problem { offset, message: message.into() }
    }
}

/// The schema fields a dataset adds with `append`: which input each row came from.
pub(crate) const SOURCE_COLUMN: &str = "_source";

/// The schemas of plain entity inputs as planning takes them, from the records a test or the
/// runner holds: each declared schema widened by the fields the records carry.
pub(crate) fn widen_schema(schema: &Schema, records: &[Record]) -> Schema {
    let mut widened = schema.clone();
    for record in records {
        widened.absorb_unknown_fields(record);
    }
    widened
}
