//! The runner's own failures: the staging store and the tasks around it.
//!
//! They reach the user through a stream's or sink's outcome, so they convert into the core
//! [`ashflow_core::Error`] (as file-system errors: staging is a local file).

use std::path::PathBuf;

/// A failure of the runner itself rather than of a plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The temporary staging database could not be created.
    #[error("cannot create the staging database in {}: {source}", dir.display())]
    StagingCreate {
        /// The folder it was to be created in.
        dir: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused a statement on the staging database.
    #[error("the staging database failed: {0}; check free space in the system temp folder")]
    Sqlite(#[from] rusqlite::Error),
    /// A record could not be encoded for staging or decoded when read back.
    #[error("cannot {action} a record of dataset {dataset}: {source}")]
    Json {
        /// `encode` or `decode`.
        action: &'static str,
        /// The dataset the record belongs to.
        dataset: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A dataset was used before it was added to the staging store.
    #[error("dataset {0} is not staged")]
    UnknownDataset(String),
    /// A blocking task of the runner panicked or was dropped.
    #[error("a staging task stopped unexpectedly: {0}")]
    Task(String),
}

impl From<RunnerError> for ashflow_core::Error {
    fn from(error: RunnerError) -> Self {
        staging_failure(error.to_string())
    }
}

/// The core error for a staging failure described by `message`; one failure may fail several
/// streams or sinks, and each needs its own error value.
pub(crate) fn staging_failure(message: String) -> ashflow_core::Error {
    ashflow_core::Error::io("staging the records locally", std::io::Error::other(message))
}
