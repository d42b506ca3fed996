//! The ashflow runner: reads a pipeline spec, builds the plugins it names, syncs the sources into
//! a local replica and feeds every sink from it.
//!
//! The binary (`src/main.rs`) only calls [`cli::main`]; everything else lives here so tests can
//! drive a run without a process. The path of one run:
//!
//! - [`spec`] parses and validates the spec file, offline, reporting every mistake at once.
//! - [`datasets`] plans the datasets a spec defines (joins, appends, reshaping, SQL, the
//!   built-in `pipeline`) and materializes them from the replica.
//! - [`run`] builds the sources, reads every stream concurrently into the [`replica`] (only what
//!   changed since the last run, where it can), then feeds each dataset to each sink in
//!   dataset-name order and collects a [`RunSummary`].
//! - [`telemetry`] draws the progress lines and routes logs around them.
//! - [`demo`] runs the quickstart spec against the built-in fake Ashby account.
//!
//! [`plugins`] links every plugin crate; without it their registrations would vanish.

pub mod cli;
pub mod datasets;
pub mod demo;
pub mod error;
pub mod plugins;
pub mod preview;
pub mod replica;
pub mod run;
pub mod spec;
pub mod summary;
pub mod telemetry;
#[cfg(test)]
mod testing;

pub use error::RunnerError;
pub use plugins::Registry;
pub use replica::{RunRecord, run_history};
pub use run::{RunOptions, run_spec};
pub use spec::{CheckedSink, CheckedSource, CheckedSpec, CheckedStream, SpecError, check_spec};
pub use summary::{ReplicaOutcome, RunSummary, SinkOutcome, StateLocation, StreamOutcome};
