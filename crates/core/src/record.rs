//! Records and the batches they travel in.
//!
//! A record is a JSON object exactly as the source received it, nested shape and all. Keeping
//! the original shape lets the AI sink write records as they are and lets fields that no schema
//! describes yet pass through untouched; tabular sinks flatten records with a
//! [`Projection`](crate::projection::Projection) when they need columns.

use serde_json::{Map, Value};

/// One record: a JSON object.
pub type Record = Map<String, Value>;

/// The kind of pass over a stream that a batch's records come from.
///
/// The runner keeps a replica of every stream between runs, and the kind decides what it may
/// conclude: only a completed full pass shows which records no longer exist upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pass {
    /// Every record that exists upstream, read from the first page.
    #[default]
    Full,
    /// Only the records changed since a sync token. Deletions are not reported.
    Changes,
}

/// What the last batch of a pass carries: the pass is complete, and this is where the next run
/// carries on from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndOfPass {
    /// The token that lets the next run read only what changed after this pass; `None` when
    /// the stream has no sync tokens (the next run reads it in full again).
    pub sync_token: Option<String>,
}

/// A group of records from one stream, in the order the source read them.
///
/// A source sends one batch per page it reads, so the runner can apply each page in one
/// transaction. The last batch of a pass has [`Batch::end_of_pass`] set and may hold no
/// records; a source sends it even then, because it completes the pass. A read whose pass
/// falls back from changes to a full pass (a rejected sync token, say) marks the batches that
/// follow as [`Pass::Full`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The stream the records belong to, such as `candidates`.
    pub stream: String,
    /// The records.
    pub records: Vec<Record>,
    /// The kind of pass the records belong to.
    pub pass: Pass,
    /// Set on the last batch of a completed pass.
    pub end_of_pass: Option<EndOfPass>,
}

impl Batch {
    /// A batch of records from `stream`, part of a full pass that goes on after it.
    pub fn new(stream: impl Into<String>, records: Vec<Record>) -> Self {
        Batch { stream: stream.into(), records, pass: Pass::Full, end_of_pass: None }
    }

    /// The same batch, from a pass of the given kind.
    pub fn in_pass(mut self, pass: Pass) -> Self {
        self.pass = pass;
        self
    }

    /// The same batch as the last one of its pass, carrying the token for the next run.
    pub fn ending_pass(mut self, sync_token: Option<String>) -> Self {
        self.end_of_pass = Some(EndOfPass { sync_token });
        self
    }

    /// The number of records in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the batch holds no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The string id of a record under `key`, accepting numeric ids as their decimal text.
pub fn record_id<'a>(record: &'a Record, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    match record.get(key)? {
        Value::String(id) => Some(std::borrow::Cow::Borrowed(id)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}
