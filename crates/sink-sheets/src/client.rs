//! The connection to Google Sheets: service-account authentication, the google-sheets4 hub,
//! retries of 429 and 5xx answers with backoff, pacing of writes under the per-minute quota,
//! and the count of requests sent.
//!
//! google-sheets4 retries nothing itself, so every call goes through [`SheetsClient::call`],
//! which builds the request afresh for each attempt. Only requests that are safe to repeat are
//! sent (writes to explicit ranges, never `values.append`), so a retry after a lost reply
//! cannot duplicate rows.

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use google_sheets4::api::Scope;
use google_sheets4::hyper_util::client::legacy::Client;
use google_sheets4::hyper_util::client::legacy::connect::HttpConnector;
use google_sheets4::hyper_util::rt::TokioExecutor;
use google_sheets4::{Sheets, yup_oauth2};
use hyper_rustls::HttpsConnector;
use serde_json::Value;

use crate::config::{CredentialsSource, Timing, ValidatedSheetsSink};
use crate::error::SheetsError;

/// The hub type the sink uses.
pub(crate) type Hub = Sheets<HttpsConnector<HttpConnector>>;

/// The scope the sink asks for: spreadsheets only, not the whole Drive.
pub(crate) const SCOPE: Scope = Scope::Spreadsheet;

/// How long one attempt may take before it counts as failed and is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A service-account key, read and checked.
pub(crate) struct ServiceAccount {
    pub(crate) key: yup_oauth2::ServiceAccountKey,
}

impl ServiceAccount {
    /// Finds and reads the key file the spec names.
    pub(crate) fn load(source: &CredentialsSource) -> Result<Self, SheetsError> {
        let path = match source {
            CredentialsSource::Path(path) => path.clone(),
            CredentialsSource::EnvVar(name) => match std::env::var_os(name) {
                Some(value) if !value.is_empty() => value.into(),
                _ => return Err(SheetsError::CredentialsVariableUnset { name: name.clone() }),
            },
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|source| SheetsError::CredentialsUnreadable { path: path.clone(), source })?;
        Self::parse(&path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, SheetsError> {
        let invalid = |reason: &str| SheetsError::CredentialsInvalid {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let json: Value = serde_json::from_str(text).map_err(|_| invalid("it is not JSON"))?;
        match json["type"].as_str() {
            Some("service_account") => {}
            Some(other) => {
                return Err(invalid(&format!(
                    "its type is \"{other}\", not \"service_account\"; an OAuth client or user \
                     credential cannot be shared a spreadsheet"
                )));
            }
            None => return Err(invalid("it has no \"type\": \"service_account\"")),
        }
        for field in ["client_email", "private_key", "token_uri"] {
            if json[field].as_str().is_none_or(str::is_empty) {
                return Err(invalid(&format!("it has no \"{field}\"")));
            }
        }
        if !json["private_key"].as_str().unwrap_or("").contains("BEGIN PRIVATE KEY") {
            return Err(invalid("its \"private_key\" is not a PEM private key"));
        }
        let key: yup_oauth2::ServiceAccountKey =
            serde_json::from_value(json).map_err(|error| invalid(&error.to_string()))?;
        Ok(ServiceAccount { key })
    }

    /// The account's e-mail, which the spreadsheet must be shared with.
    pub(crate) fn email(&self) -> &str {
        &self.key.client_email
    }
}

/// Sends requests to one spreadsheet and counts them.
pub(crate) struct SheetsClient {
    hub: Arc<Hub>,
    pub(crate) spreadsheet_id: String,
    pub(crate) email: String,
    component_id: String,
    timing: Timing,
    writes: WritePacer,
    /// Requests sent, retries included.
    pub(crate) requests: u64,
    /// Requests that were retried.
    pub(crate) retries: u64,
}

impl SheetsClient {
    /// Builds the hub and the authenticator. Sends nothing yet.
    pub(crate) async fn connect(
        config: &ValidatedSheetsSink,
        account: ServiceAccount,
    ) -> Result<Self, SheetsError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let email = account.email().to_string();
        let token_client = Client::builder(TokioExecutor::new()).build(connector.clone());
        let auth = yup_oauth2::ServiceAccountAuthenticator::with_client(
            account.key,
            yup_oauth2::CustomHyperClientBuilder::from(token_client),
        )
        .build()
        .await
        .map_err(|error| SheetsError::CredentialsInvalid {
            path: "the key file".into(),
            reason: error.to_string(),
        })?;
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let mut hub = Sheets::new(client, auth);
        hub.base_url(config.base_url.clone());
        hub.root_url(config.base_url.clone());
        hub.user_agent(format!("ashflow/{}", env!("CARGO_PKG_VERSION")));
        Ok(SheetsClient {
            hub: Arc::new(hub),
            spreadsheet_id: config.spreadsheet_id.clone(),
            email,
            component_id: config.component_id.clone(),
            timing: config.timing,
            writes: WritePacer::new(config.write_requests_per_minute, config.timing.quota_window),
            requests: 0,
            retries: 0,
        })
    }

    /// The hub, for building calls.
    pub(crate) fn hub(&self) -> Arc<Hub> {
        Arc::clone(&self.hub)
    }

    /// Sends a request built by `send`, retrying transient failures with backoff.
    ///
    /// `what` names the request in errors and logs; `write` says it counts against the write
    /// quota, so it waits for room in the minute first.
    pub(crate) async fn call<T, F, Fut>(
        &mut self,
        what: &str,
        write: bool,
        mut send: F,
    ) -> Result<T, SheetsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = google_sheets4::Result<(google_sheets4::common::Response, T)>>,
    {
        let mut backoff = ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(self.timing.min_backoff)
            .with_max_delay(self.timing.max_backoff)
            .with_max_times(usize::try_from(self.timing.max_retries).unwrap_or(usize::MAX))
            .build();
        let mut attempts = 0;
        loop {
            if write {
                self.writes.wait_for_room().await;
            }
            attempts += 1;
            self.requests += 1;
            let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, send()).await {
                Ok(result) => result.map(|(_, value)| value).map_err(|e| self.classify(what, e)),
                Err(_) => Err(Failure::Transient(format!(
                    "no answer within {} s",
                    REQUEST_TIMEOUT.as_secs()
                ))),
            };
            let detail = match outcome {
                Ok(value) => return Ok(value),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Transient(detail)) => detail,
            };
            let Some(wait) = backoff.next() else {
                return Err(SheetsError::RetriesExhausted {
                    what: what.to_string(),
                    attempts,
                    last: detail,
                });
            };
            self.retries += 1;
            tracing::warn!(
                component_kind = "sink",
                component_type = "google_sheets",
                component_id = %self.component_id,
                request = what,
                attempt = attempts,
                wait_ms = wait.as_millis() as u64,
                error = %detail,
                "A Sheets request failed; retrying."
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Sorts a failed attempt into one to retry and one to report.
    fn classify(&self, what: &str, error: google_sheets4::Error) -> Failure {
        use google_sheets4::Error as E;
        match error {
            E::BadRequest(body) => {
                let envelope = &body["error"];
                let code =
                    envelope["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(0);
                let status = envelope["status"].as_str().unwrap_or("").to_string();
                let message = envelope["message"].as_str().unwrap_or("").to_string();
                self.classify_status(what, code, status, message)
            }
            E::Failure(response) => {
                let code = response.status().as_u16();
                let reason = response.status().canonical_reason().unwrap_or("").to_string();
                self.classify_status(what, code, reason, String::new())
            }
            E::HttpError(error) => Failure::Transient(format!("connection failed: {error}")),
            E::Io(error) => Failure::Transient(format!("reading the answer failed: {error}")),
            E::MissingToken(error) => Failure::Final(SheetsError::TokenRefused {
                email: self.email.clone(),
                detail: error.to_string(),
            }),
            E::JsonDecodeError(_, error) => Failure::Final(SheetsError::Unexpected {
                what: what.to_string(),
                detail: error.to_string(),
            }),
            other => Failure::Final(SheetsError::Unexpected {
                what: what.to_string(),
                detail: other.to_string(),
            }),
        }
    }

    fn classify_status(&self, what: &str, code: u16, status: String, message: String) -> Failure {
        match code {
            429 | 500..=599 => Failure::Transient(format!("HTTP {code} {status} {message}")),
            403 if status == "PERMISSION_DENIED" && !message.contains("scope") => {
                Failure::Final(SheetsError::NotShared {
                    spreadsheet_id: self.spreadsheet_id.clone(),
                    email: self.email.clone(),
                })
            }
            404 => Failure::Final(SheetsError::SpreadsheetNotFound {
                spreadsheet_id: self.spreadsheet_id.clone(),
            }),
            401 => Failure::Final(SheetsError::TokenRefused {
                email: self.email.clone(),
                detail: format!("HTTP 401 {message}"),
            }),
            _ => Failure::Final(SheetsError::Refused {
                what: what.to_string(),
                code,
                status,
                message,
            }),
        }
    }
}

/// What one failed attempt means.
enum Failure {
    /// Worth another attempt: a quota 429, a 5xx, a dropped connection, a timeout.
    Transient(String),
    /// Retrying cannot help.
    Final(SheetsError),
}

/// Keeps write requests under a number per window (a minute), sleeping when the window is full,
/// so a large dataset paces itself instead of running into a storm of 429s.
struct WritePacer {
    per_window: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl WritePacer {
    fn new(per_window: u32, window: Duration) -> Self {
        WritePacer {
            per_window: usize::try_from(per_window.max(1)).unwrap_or(1),
            window,
            sent: VecDeque::new(),
        }
    }

    async fn wait_for_room(&mut self) {
        loop {
            let now = Instant::now();
            while self.sent.front().is_some_and(|at| now.duration_since(*at) >= self.window) {
                self.sent.pop_front();
            }
            if self.sent.len() < self.per_window {
                self.sent.push_back(now);
                return;
            }
            let oldest = self.sent.front().copied().unwrap_or(now);
            tokio::time::sleep((oldest + self.window).saturating_duration_since(now)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_of_the_wrong_kind_says_what_it_is() {
        let path = Path::new("/keys/x.json");
        let user = r#"{"type": "authorized_user", "client_id": "1"}"#;
        let error = ServiceAccount::parse(path, user).err().unwrap().to_string();
        assert!(error.contains("\"authorized_user\", not \"service_account\""), "{error}");
        assert!(error.contains("Add key > JSON"), "{error}");

        let no_email = r#"{"type": "service_account", "private_key": "x", "token_uri": "t"}"#;
        let error = ServiceAccount::parse(path, no_email).err().unwrap().to_string();
        assert!(error.contains("no \"client_email\""), "{error}");

        let error = ServiceAccount::parse(path, "not json").err().unwrap().to_string();
        assert!(
            error.starts_with("/keys/x.json is not a Google service-account key file"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_pacer_waits_for_the_window_when_it_is_full() {
        let mut pacer = WritePacer::new(2, Duration::from_millis(80));
        let started = Instant::now();
        for _ in 0..3 {
            pacer.wait_for_room().await;
        }
        assert!(started.elapsed() >= Duration::from_millis(80), "{:?}", started.elapsed());
    }
}
