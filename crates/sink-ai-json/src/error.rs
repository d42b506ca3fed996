//! The sink's own error enum, precise about what went wrong with the folder or a dataset, and
//! its conversion into [`ashflow_core::Error`] at the trait boundary.
//!
//! Configuration mistakes never appear here: they are reported through
//! [`ConfigTable::error_at`](ashflow_core::ConfigTable::error_at) while validating, so they carry
//! the spec's line.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while the sink writes or publishes its folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AiJsonError {
    /// A file or folder operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The output path holds something this sink did not write, which it must not delete.
    #[error(
        "{} already exists and does not look like an earlier ai_json export (no dictionary.json \
         of this format); point `path` at a new or empty folder, or move that folder away",
        path.display()
    )]
    ForeignFolder {
        /// The configured output folder.
        path: PathBuf,
    },

    /// The output path exists and is a file, not a folder.
    #[error("{} exists and is not a folder; point `path` at a folder", path.display())]
    NotAFolder {
        /// The configured output folder.
        path: PathBuf,
    },

    /// A dataset's name cannot become a file name.
    #[error(
        "the dataset name `{name}` cannot be used as a file name ({reason}); rename the dataset"
    )]
    UnusableDatasetName {
        /// The dataset's name.
        name: String,
        /// Why the name is refused.
        reason: &'static str,
    },

    /// Two datasets with the same name were written in one run.
    #[error("the dataset `{name}` was written twice in one run; give each dataset its own name")]
    DuplicateDataset {
        /// The repeated name.
        name: String,
    },

    /// Two datasets would write the same file, such as `a.part-002` and a split `a`.
    #[error("two datasets would both write {file}; rename one of them")]
    FileClash {
        /// The file both would write.
        file: String,
    },

    /// The runner called the sink's methods in an order the lifecycle does not allow.
    #[error("the ai_json sink was called out of order: {0}; this is a bug in the runner")]
    OutOfOrder(&'static str),

    /// A record could not be encoded as JSON.
    #[error("cannot encode a record of `{dataset}` as JSON: {source}")]
    Encode {
        /// The dataset being written.
        dataset: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
}

impl AiJsonError {
    /// A file-system failure, with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        AiJsonError::Io { context: context.into(), source }
    }
}

impl From<AiJsonError> for ashflow_core::Error {
    fn from(error: AiJsonError) -> Self {
        match error {
            AiJsonError::Io { context, source } => ashflow_core::Error::io(context, source),
            other => ashflow_core::Error::destination(other.to_string()),
        }
    }
}
