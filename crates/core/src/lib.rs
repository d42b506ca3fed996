//! The shared vocabulary of ashflow: what a source produces, what a sink consumes, and how
//! plugins are found.
//!
//! Everything here is pure data and traits. The crate opens no sockets and touches no files, so
//! the same types serve the offline `ashflow check`, the runner and every plugin's tests.
//!
//! - [`schema`]: typed, described columns ([`Schema`], [`Field`], [`DataType`]).
//! - [`record`]: records as nested JSON objects and the batches they travel in.
//! - [`projection`]: how a nested record becomes a row of typed cells for spreadsheet sinks.
//! - [`plugin`]: the [`Source`] and [`Sink`] traits and the plugin registry.
//! - [`config`]: plugin configuration tables with line-accurate errors, and [`Secret`].
//! - [`error`]: the error type every plugin converts into, and its [`ErrorClass`].
//! - [`report`]: the counters a run summary is made of.
//! - [`time`]: parsing the timestamp and date formats sources send.

pub mod config;
pub mod error;
pub mod plugin;
pub mod projection;
pub mod record;
pub mod report;
pub mod schema;
pub mod time;

pub use config::{ConfigTable, Secret, SpecContext};
pub use error::{Error, ErrorClass, Result};
pub use plugin::{
    BatchSender, DatasetDescriptor, ReadRequest, Sink, SinkRegistration, Source,
    SourceRegistration, StreamDescriptor, ValidatedSink, ValidatedSource,
};
pub use projection::{Cell, Column, ColumnType, Projection};
pub use record::{Batch, EndOfPass, Pass, Record};
pub use report::{DatasetReport, SinkReport, StreamReport};
pub use schema::{DataType, Field, Schema};

/// Re-exports that a plugin crate needs, so every plugin starts with one `use`.
pub mod prelude {
    pub use crate::config::{ConfigTable, Secret, SpecContext};
    pub use crate::error::{Error, ErrorClass, Result};
    pub use crate::plugin::{
        BatchSender, DatasetDescriptor, ReadRequest, Sink, SinkRegistration, Source,
        SourceRegistration, StreamDescriptor, ValidatedSink, ValidatedSource,
    };
    pub use crate::projection::{Cell, Column, ColumnType, Projection};
    pub use crate::record::{Batch, EndOfPass, Pass, Record};
    pub use crate::report::{DatasetReport, SinkReport, StreamReport};
    pub use crate::schema::{DataType, Field, Schema};
    pub use async_trait::async_trait;
}

// The registry macros expand to `inventory::submit!`, so plugin crates reach inventory through
// core and never name it in their own manifests.
#[doc(hidden)]
pub use inventory;
