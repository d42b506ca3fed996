//! Records and the batches they travel in.
//!
//! A record is a JSON object exactly as the source received it, nested shape and all. Keeping
//! the original shape lets the AI sink write records as they are and lets fields that no schema
//! describes yet pass through untouched; tabular sinks flatten records with a
//! [`Projection`](crate::projection::Projection) when they need columns.

use serde_json::{Map, Value};

/// One record: a JSON object.
pub type Record = Map<String, Value>;

/// A group of records from one stream, in the order the source read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The stream the records belong to, such as `candidates`.
    pub stream: String,
    /// The records.
    pub records: Vec<Record>,
}

impl Batch {
    /// A batch of records from `stream`.
    pub fn new(stream: impl Into<String>, records: Vec<Record>) -> Self {
        Batch { stream: stream.into(), records }
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
