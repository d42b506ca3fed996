//! The plugin contract: sources produce batches, sinks consume datasets, and a registry finds
//! both by the `type` name a spec uses.
//!
//! Each plugin has two stages. Validation turns the plugin's spec table into a validated value
//! and does no IO, so `ashflow check` works offline and reports every mistake before anything
//! runs. Building (for sources) or opening (for sinks) then resolves secrets and prepares clients
//! or files for one run.
//!
//! # Sink lifecycle
//!
//! The runner drives a [`Sink`] strictly in this order: for each dataset,
//! [`Sink::begin_dataset`], then [`Sink::write_batch`] any number of times, then
//! [`Sink::end_dataset`]; after the last dataset, [`Sink::finish`]. When any call returns an
//! error the runner stops calling that sink and drops it without calling `finish`, so a sink must
//! publish nothing before `finish` returns `Ok`: a failed run leaves the previous output in
//! place. Batches arrive in the dataset's final row order: creation time, then primary key.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::config::{ConfigTable, SpecContext};
use crate::error::Result;
use crate::record::{Batch, Record};
use crate::report::{DatasetReport, SinkReport, StreamReport};
use crate::schema::Schema;

/// The channel a source sends its batches into. Sending waits when the runner is busy, which
/// is what keeps a fast source from filling memory.
pub type BatchSender = tokio::sync::mpsc::Sender<Batch>;

/// One stream a source can read, such as Ashby's `candidates`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamDescriptor {
    /// The stream's name, which is also the default dataset name.
    pub name: String,
    /// What the stream holds, for the data dictionary.
    pub description: String,
    /// The typed fields of its records.
    pub schema: Schema,
    /// The field that identifies a record.
    pub primary_key: String,
    /// The timestamp field that orders records by creation, when records have one; without it
    /// rows are ordered by primary key alone.
    pub created_at_field: Option<String>,
    /// True when the stream can read only what changed since a sync token.
    pub incremental: bool,
}

/// What the runner asks a source to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadRequest {
    /// The stream to read.
    pub stream: String,
    /// A token from an earlier run, to read only what changed since; `None` reads everything.
    pub sync_token: Option<String>,
}

/// A source ready to run.
#[async_trait]
pub trait Source: Send + Sync {
    /// The streams this source will read, after the spec's narrowing.
    fn streams(&self) -> &[StreamDescriptor];

    /// Reads one stream to its end, sending its records in batches, one per page read.
    ///
    /// Each record is sent exactly once, even when the read has to start again after a cursor
    /// error. The last batch of the completed pass carries [`EndOfPass`](crate::EndOfPass) with
    /// the next sync token; a read that fails never sends it, so the runner keeps the earlier
    /// token and the next run reads those changes again.
    ///
    /// Several streams may be read at the same time; the source limits its own requests in
    /// flight. When `out` is closed the read stops early and returns
    /// [`Error::Cancelled`](crate::Error::Cancelled).
    async fn read(&self, request: ReadRequest, out: BatchSender) -> Result<StreamReport>;
}

/// A source whose configuration has been checked, not yet connected to anything.
#[async_trait]
pub trait ValidatedSource: Send + Sync + Debug {
    /// The streams the source will read, available offline for `ashflow check`.
    fn streams(&self) -> Vec<StreamDescriptor>;

    /// Resolves secrets and builds the source for one run. Makes no network request.
    async fn build(self: Box<Self>) -> Result<Box<dyn Source>>;
}

/// One dataset as a sink receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetDescriptor {
    /// The dataset's name; sinks use it for the worksheet, file, tab or table.
    pub name: String,
    /// What the dataset holds.
    pub description: String,
    /// The typed fields of its records, including any the source sent without declaring.
    pub schema: Schema,
    /// The field that identifies a record, when the dataset has one.
    pub primary_key: Option<String>,
    /// How many rows will follow, when the runner knows.
    pub rows: Option<u64>,
}

/// A destination for datasets. See the module documentation for the calling order.
#[async_trait]
pub trait Sink: Send {
    /// Starts a dataset; its batches follow.
    async fn begin_dataset(&mut self, dataset: &DatasetDescriptor) -> Result<()>;

    /// Writes the next records of the current dataset, in order.
    async fn write_batch(&mut self, records: &[Record]) -> Result<()>;

    /// Ends the current dataset.
    async fn end_dataset(&mut self) -> Result<DatasetReport>;

    /// Publishes everything written. Only after this returns `Ok` may the output be visible.
    async fn finish(self: Box<Self>) -> Result<SinkReport>;
}

/// A sink whose configuration has been checked, not yet connected to anything.
#[async_trait]
pub trait ValidatedSink: Send + Sync + Debug {
    /// The local file or folder the sink replaces, when it writes to this machine.
    ///
    /// The runner refuses a spec in which two sinks write the same path, or one inside the
    /// other, because each would replace what the other wrote. Remote sinks keep the default.
    fn local_destination(&self) -> Option<&std::path::Path> {
        None
    }

    /// Resolves secrets and prepares the destination for one run.
    async fn open(self: Box<Self>) -> Result<Box<dyn Sink>>;
}

/// How a source plugin makes itself known. Submitted with [`register_source!`].
#[derive(Debug)]
pub struct SourceRegistration {
    /// The `type` a spec uses for this source, such as `ashby`.
    pub name: &'static str,
    /// One line saying what the source reads.
    pub description: &'static str,
    /// A complete spec table for the source, shown by `ashflow plugins` and validated in tests.
    pub example: &'static str,
    /// Checks a spec table and returns the validated source. Does no IO.
    pub validate: fn(&ConfigTable, &SpecContext) -> Result<Box<dyn ValidatedSource>>,
}

/// How a sink plugin makes itself known. Submitted with [`register_sink!`].
#[derive(Debug)]
pub struct SinkRegistration {
    /// The `type` a spec uses for this sink, such as `excel`.
    pub name: &'static str,
    /// One line saying where the sink writes.
    pub description: &'static str,
    /// A complete spec table for the sink, shown by `ashflow plugins` and validated in tests.
    pub example: &'static str,
    /// Checks a spec table and returns the validated sink. Does no IO.
    pub validate: fn(&ConfigTable, &SpecContext) -> Result<Box<dyn ValidatedSink>>,
}

inventory::collect!(SourceRegistration);
inventory::collect!(SinkRegistration);

/// Every registered source, sorted by name.
///
/// Only plugin crates the final binary references are present: see `ARCHITECTURE.md` on how
/// the runner links its plugins.
pub fn source_registrations() -> Vec<&'static SourceRegistration> {
    let mut all: Vec<_> = inventory::iter::<SourceRegistration>.into_iter().collect();
    all.sort_by_key(|registration| registration.name);
    all
}

/// Every registered sink, sorted by name.
pub fn sink_registrations() -> Vec<&'static SinkRegistration> {
    let mut all: Vec<_> = inventory::iter::<SinkRegistration>.into_iter().collect();
    all.sort_by_key(|registration| registration.name);
    all
}

/// Registers a source plugin: `register_source!(SourceRegistration { name: "ashby", .. });`.
#[macro_export]
macro_rules! register_source {
    ($registration:expr) => {
        $crate::inventory::submit! { $registration }
    };
}

/// Registers a sink plugin: `register_sink!(SinkRegistration { name: "excel", .. });`.
#[macro_export]
macro_rules! register_sink {
    ($registration:expr) => {
        $crate::inventory::submit! { $registration }
    };
}
