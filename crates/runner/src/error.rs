//! The runner's own failures: the replica (the local state file) and the tasks around it.
//!
//! They reach the user through a stream's or sink's outcome, so they convert into the core
//! [`ashflow_core::Error`] (as file-system errors: the replica is a local file).

use std::path::PathBuf;

/// A failure of the runner itself rather than of a plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The state folder or one of its files could not be created or opened.
    #[error("cannot use the state folder {}: {source}", dir.display())]
    StateDir {
        /// The folder or file concerned.
        dir: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another run of the same spec holds the replica.
    #[error(
        "another ashflow run of this spec is in progress{}; wait for it to end (or stop it) \
         and run again (lock file {})",
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        lock.display()
    )]
    Locked {
        /// The lock file the other run holds.
        lock: PathBuf,
        /// The other run's process id, when it could be read.
        pid: Option<u32>,
    },
    /// SQLite refused a statement on the replica.
    #[error(
        "the state database failed: {0}; check free space in the state folder, or delete the \
         state file to start afresh with a full export"
    )]
    Sqlite(#[from] rusqlite::Error),
    /// The replica holds state this version cannot read.
    #[error(
        "the state database holds unreadable state: {0}; delete the state file to start afresh"
    )]
    State(String),
    /// A record could not be encoded for the replica or decoded when read back.
    #[error("cannot {action} a record of {dataset}: {source}")]
    Json {
        /// `encode` or `decode`.
        action: &'static str,
        /// The dataset or table the record belongs to.
        dataset: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A stream was written before the replica prepared its table.
    #[error("{0} has no table in the replica yet")]
    UnknownDataset(String),
    /// A blocking task of the runner panicked or was dropped.
    #[error("a replica task stopped unexpectedly: {0}")]
    Task(String),
    /// A dataset could not be made from the replica's records: a column only the run could
    /// check is missing, or its SQL query failed or was refused.
    #[error("dataset {dataset} cannot be made: {message}")]
    Dataset {
        /// The dataset's name.
        dataset: String,
        /// What went wrong and what to change in the spec.
        message: String,
    },
}

impl From<RunnerError> for ashflow_core::Error {
    fn from(error: RunnerError) -> Self {
        replica_failure(error.to_string())
    }
}

/// The core error for a replica failure described by `message`; one failure may fail several
/// streams or sinks, and each needs its own error value.
pub(crate) fn replica_failure(message: String) -> ashflow_core::Error {
    ashflow_core::Error::io("keeping the local replica", std::io::Error::other(message))
}
