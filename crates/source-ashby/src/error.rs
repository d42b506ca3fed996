//! What can go wrong while talking to Ashby, sorted by what the source does about it.
//!
//! The variants follow the decisions the reader has to make: retry ([`AshbyError::is_transient`]),
//! start the pass again (cursor rejected), read everything again (sync token rejected), or give
//! up with a message that says what to do. At the trait boundary each becomes the
//! [`ashflow_core::Error`] class the runner understands. No variant ever holds the API key.

use std::time::Duration;

use ashflow_core::Error;

/// A failure of one Ashby request or of a whole stream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AshbyError {
    /// Ashby rejected the key outright (HTTP 401).
    #[error(
        "the API key was not accepted (HTTP 401); check that {key_source} holds a current \
         Ashby API key, or create one in Ashby under Admin > API Keys"
    )]
    Unauthorized {
        /// Where the key came from, such as `${ASHBY_API_KEY}`; never the key itself.
        key_source: String,
    },

    /// Ashby refused the key for a reason other than a missing permission (HTTP 403).
    #[error(
        "the API key was refused (HTTP 403{}): it is wrong or was deactivated; check \
         {key_source} or create a new key in Ashby under Admin > API Keys",
        code_suffix(code.as_deref())
    )]
    // The endpoint and request id are left out on purpose: the key is refused on every
    // endpoint alike, and one message for all streams lets the summary say it once.
    Forbidden {
        /// Where the key came from; never the key itself.
        key_source: String,
        /// Ashby's error code, when the body had one.
        code: Option<String>,
    },

    /// The key lacks the permission one endpoint needs.
    #[error(
        "the API key lacks the `{permission}` permission needed to read {entity} \
         ({endpoint}); in Ashby open Admin > API Keys, edit this key and enable \
         `{permission}`, or add \"{entity}\" to `exclude` to skip it{}",
        request_suffix(request_id.as_deref())
    )]
    MissingPermission {
        /// The stream being read.
        entity: &'static str,
        /// The endpoint called.
        endpoint: &'static str,
        /// The permission's name as Ashby documents it, such as `offersRead`.
        permission: &'static str,
        /// Ashby's request id, for support.
        request_id: Option<String>,
    },

    /// Ashby asked the client to slow down (HTTP 429 or a rate-limit error code).
    #[error(
        "{endpoint} was rate limited ({}){}",
        status_or_code(*status, code.as_deref()),
        request_suffix(request_id.as_deref())
    )]
    RateLimited {
        /// The endpoint called.
        endpoint: &'static str,
        /// The HTTP status, when it was 429 rather than a code in a 200 body.
        status: Option<u16>,
        /// Ashby's error code, when the body had one.
        code: Option<String>,
        /// How long Ashby asked to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// Ashby's request id, for support.
        request_id: Option<String>,
    },

    /// Ashby failed on its side (HTTP 5xx).
    #[error(
        "{endpoint} answered HTTP {status}, a server error on Ashby's side{}",
        request_suffix(request_id.as_deref())
    )]
    ServerError {
        /// The endpoint called.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// How long Ashby asked to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// Ashby's request id, for support.
        request_id: Option<String>,
    },

    /// No answer arrived within the request timeout.
    #[error("{endpoint} did not answer within {} s", timeout.as_secs())]
    Timeout {
        /// The endpoint called.
        endpoint: &'static str,
        /// The timeout that passed.
        timeout: Duration,
    },

    /// No connection could be opened at all: nothing listens there, or the host name does not
    /// resolve. Retried only briefly, because waiting rarely fixes a wrong address.
    #[error(
        "cannot connect to {base_url} ({detail}); check `base_url` in the spec (without it \
         ashflow uses {default}) and this machine's network",
        default = crate::DEFAULT_BASE_URL
    )]
    Unreachable {
        /// The API root that was tried.
        base_url: String,
        /// What the HTTP client reported.
        detail: String,
    },

    /// The connection broke before the answer was complete.
    #[error("the connection to {endpoint} failed: {detail}")]
    Connection {
        /// The endpoint called.
        endpoint: &'static str,
        /// What the HTTP client reported, without the request's headers.
        detail: String,
    },

    /// A 200 answer whose body was not complete JSON, as from a proxy or a cut connection.
    #[error("{endpoint} answered with a body that is not valid JSON ({detail})")]
    UnreadableBody {
        /// The endpoint called.
        endpoint: &'static str,
        /// Why the body could not be read.
        detail: String,
    },

    /// Ashby rejected the pagination cursor; the pass must start again.
    #[error(
        "{endpoint} rejected its page cursor ({code}){}",
        request_suffix(request_id.as_deref())
    )]
    CursorRejected {
        /// The endpoint called.
        endpoint: &'static str,
        /// Ashby's error code, such as `next_cursor_expired`.
        code: String,
        /// Ashby's request id, for support.
        request_id: Option<String>,
    },

    /// Ashby rejected the sync token; only a full pass can continue.
    #[error("{endpoint} rejected the sync token ({code}){}", request_suffix(request_id.as_deref()))]
    SyncTokenRejected {
        /// The endpoint called.
        endpoint: &'static str,
        /// Ashby's error code, such as `sync_token_expired`.
        code: String,
        /// Ashby's request id, for support.
        request_id: Option<String>,
    },

    /// Any other error Ashby reported, such as `invalid_input`.
    #[error(
        "{endpoint} failed with Ashby error `{code}`{}{}; this is not transient, so the \
         entity was not read",
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(),
        request_suffix(request_id.as_deref())
    )]
    Api {
        /// The endpoint called.
        endpoint: &'static str,
        /// Ashby's error code.
        code: String,
        /// Ashby's explanation.
        message: Option<String>,
        /// Ashby's request id, for support.
        request_id: Option<String>,
    },

    /// An HTTP status this client does not expect, without an Ashby error code.
    #[error("{endpoint} answered HTTP {status} unexpectedly: {excerpt}")]
    UnexpectedStatus {
        /// The endpoint called.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body, for diagnosis.
        excerpt: String,
    },

    /// A well-formed JSON answer that does not have the shape Ashby documents.
    #[error("{endpoint} answered in an unexpected shape: {detail}")]
    Malformed {
        /// The endpoint called.
        endpoint: &'static str,
        /// What was wrong with it.
        detail: String,
    },

    /// A transient failure persisted through every retry.
    #[error(
        "{endpoint} still failed after {attempts} attempt{} over {} s; last error: {last}; \
         Ashby may be overloaded or unreachable: try again later, or raise `max_retries` and \
         `max_retry_secs`",
        if *attempts == 1 { "" } else { "s" },
        elapsed.as_secs()
    )]
    RetriesExhausted {
        /// The endpoint called.
        endpoint: &'static str,
        /// Requests sent, the first included.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
        /// The last failure.
        last: Box<AshbyError>,
    },

    /// Cursor errors kept interrupting the stream's passes.
    #[error(
        "{endpoint} rejected its page cursor in {passes} passes in a row (last: {last}); \
         the stream was not read completely, run again later"
    )]
    TooManyRestarts {
        /// The endpoint called.
        endpoint: &'static str,
        /// Passes attempted.
        passes: u32,
        /// The last cursor error.
        last: Box<AshbyError>,
    },

    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client for Ashby: {detail}")]
    Client {
        /// What failed.
        detail: String,
    },

    /// The runner stopped listening for records.
    #[error("the read was cancelled")]
    Cancelled,
}

fn request_suffix(request_id: Option<&str>) -> String {
    request_id.map(|id| format!(" (Ashby request id {id})")).unwrap_or_default()
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|code| format!(", `{code}`")).unwrap_or_default()
}

fn status_or_code(status: Option<u16>, code: Option<&str>) -> String {
    match (status, code) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(code)) => format!("`{code}`"),
        (None, None) => "no details".to_string(),
    }
}

impl AshbyError {
    /// True when sending the same request again may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            AshbyError::RateLimited { .. }
                | AshbyError::ServerError { .. }
                | AshbyError::Timeout { .. }
                | AshbyError::Connection { .. }
                | AshbyError::Unreachable { .. }
                | AshbyError::UnreadableBody { .. }
        )
    }

    /// How long Ashby asked the client to wait before trying again.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            AshbyError::RateLimited { retry_after, .. }
            | AshbyError::ServerError { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short reason for logs: the status or code, without the full message.
    pub(crate) fn reason(&self) -> String {
        match self {
            AshbyError::RateLimited { status, code, .. } => {
                status_or_code(*status, code.as_deref())
            }
            AshbyError::ServerError { status, .. } => format!("HTTP {status}"),
            AshbyError::Timeout { .. } => "timeout".to_string(),
            AshbyError::Connection { .. } => "connection failed".to_string(),
            AshbyError::Unreachable { .. } => "cannot connect".to_string(),
            AshbyError::UnreadableBody { .. } => "unreadable body".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<AshbyError> for Error {
    fn from(error: AshbyError) -> Self {
        match error {
            AshbyError::Unauthorized { .. } | AshbyError::Forbidden { .. } => {
                Error::Auth { message: error.to_string() }
            }
            AshbyError::MissingPermission { permission, .. } => Error::MissingPermission {
                permission: permission.to_string(),
                message: error.to_string(),
            },
            AshbyError::Cancelled => Error::Cancelled,
            other => Error::upstream(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use ashflow_core::ErrorClass;

    use super::*;

    #[test]
    fn errors_land_in_the_class_the_runner_acts_on() {
        let unauthorized = AshbyError::Unauthorized { key_source: "${ASHBY_API_KEY}".into() };
        let message = unauthorized.to_string();
        assert!(message.starts_with("the API key was not accepted (HTTP 401)"), "{message}");
        assert!(message.contains("${ASHBY_API_KEY}"), "{message}");
        assert!(message.contains("Admin > API Keys"), "{message}");
        assert_eq!(Error::from(unauthorized).class(), ErrorClass::Auth);

        let missing = Error::from(AshbyError::MissingPermission {
            entity: "offers",
            endpoint: "offer.list",
            permission: "offersRead",
            request_id: Some("r-1".into()),
        });
        assert_eq!(missing.class(), ErrorClass::Permission);
        let Error::MissingPermission { permission, message } = &missing else {
            panic!("expected a permission error, got {missing:?}");
        };
        assert_eq!(permission, "offersRead");
        assert!(message.contains("read offers (offer.list)"), "{message}");
        assert!(message.contains("enable `offersRead`"), "{message}");
        assert!(message.contains("request id r-1"), "{message}");

        assert_eq!(Error::from(AshbyError::Cancelled).class(), ErrorClass::Cancelled);
    }

    #[test]
    fn api_errors_carry_code_message_and_request_id() {
        let error = AshbyError::Api {
            endpoint: "candidate.list",
            code: "invalid_input".into(),
            message: Some("limit must be a number".into()),
            request_id: Some("01JSJ8".into()),
        };
        assert!(!error.is_transient());
        let converted = Error::from(error);
        assert_eq!(converted.class(), ErrorClass::Upstream);
        let message = converted.to_string();
        assert!(message.contains("`invalid_input`: limit must be a number"), "{message}");
        assert!(message.contains("Ashby request id 01JSJ8"), "{message}");
    }

    #[test]
    fn exhausted_retries_name_the_last_failure_and_the_settings() {
        let error = AshbyError::RetriesExhausted {
            endpoint: "job.list",
            attempts: 9,
            elapsed: Duration::from_secs(301),
            last: Box::new(AshbyError::ServerError {
                endpoint: "job.list",
                status: 503,
                retry_after: None,
                request_id: None,
            }),
        };
        let message = error.to_string();
        assert!(message.contains("after 9 attempts over 301 s"), "{message}");
        assert!(message.contains("HTTP 503"), "{message}");
        assert!(message.contains("`max_retries`"), "{message}");

        let once = AshbyError::RetriesExhausted {
            endpoint: "job.list",
            attempts: 1,
            elapsed: Duration::ZERO,
            last: Box::new(AshbyError::Timeout {
                endpoint: "job.list",
                timeout: Duration::from_secs(60),
            }),
        };
        let message = once.to_string();
        assert!(message.contains("after 1 attempt over 0 s"), "{message}");
        assert!(message.contains("did not answer within 60 s"), "{message}");
    }
}
