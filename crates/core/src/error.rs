//! The error every plugin hands to the runner, classified so the runner can decide what to do.
//!
//! Plugins keep their own precise error enums and convert into [`Error`] at the trait boundary.
//! The class decides the exit code and whether the rest of the run can go on: a missing
//! permission on one entity does not stop the others, a bad spec stops everything before any IO.

use std::fmt;

/// Shorthand for results whose error is the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, independent of which plugin raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The spec is wrong: an unknown key, a bad value, a missing environment variable.
    Config,
    /// The remote service rejected the credentials.
    Auth,
    /// The credentials are valid but lack a permission for one endpoint.
    Permission,
    /// The remote service failed after every retry, or answered something unusable.
    Upstream,
    /// The destination refused the data or is over one of its limits.
    Destination,
    /// A local file or directory could not be read or written.
    Io,
    /// The run was interrupted before it finished.
    Cancelled,
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorClass::Config => "configuration",
            ErrorClass::Auth => "authentication",
            ErrorClass::Permission => "permission",
            ErrorClass::Upstream => "upstream",
            ErrorClass::Destination => "destination",
            ErrorClass::Io => "file system",
            ErrorClass::Cancelled => "cancelled",
        };
        f.write_str(name)
    }
}

/// A failure reported by a plugin or by the runner, with a message meant for the user.
///
/// Messages are lowercase, carry no trailing period, and say what to do next where there is
/// something to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The spec or a plugin's configuration is invalid.
    #[error("{}{message}", location.as_deref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Config {
        /// Where the mistake is, as `spec.toml:12` or `[sources.ashby]`, when known.
        location: Option<String>,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// The remote service rejected the credentials.
    #[error("{message}")]
    Auth {
        /// What was rejected and how to fix it.
        message: String,
    },
    /// The credentials lack a permission the request needs.
    #[error("{message}")]
    MissingPermission {
        /// The permission's name as the service documents it, such as `offersRead`.
        permission: String,
        /// The full explanation for the user.
        message: String,
    },
    /// The remote service failed after every retry, or answered something unusable.
    #[error("{message}")]
    Upstream {
        /// What failed, including any request id the service returned.
        message: String,
    },
    /// The destination refused the data or is over one of its limits.
    #[error("{message}")]
    Destination {
        /// What was refused and why.
        message: String,
    },
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The run was interrupted before it finished.
    #[error("the run was cancelled")]
    Cancelled,
}

impl Error {
    /// A configuration error without a known location.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config { location: None, message: message.into() }
    }

    /// An upstream failure.
    pub fn upstream(message: impl Into<String>) -> Self {
        Error::Upstream { message: message.into() }
    }

    /// A destination failure.
    pub fn destination(message: impl Into<String>) -> Self {
        Error::Destination { message: message.into() }
    }

    /// A file-system failure, with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config { .. } => ErrorClass::Config,
            Error::Auth { .. } => ErrorClass::Auth,
            Error::MissingPermission { .. } => ErrorClass::Permission,
            Error::Upstream { .. } => ErrorClass::Upstream,
            Error::Destination { .. } => ErrorClass::Destination,
            Error::Io { .. } => ErrorClass::Io,
            Error::Cancelled => ErrorClass::Cancelled,
        }
    }
}
