//! The BigQuery calls the sink makes, each retried on the failures retrying can fix.
//!
//! gcp-bigquery-client sends one request per call and retries nothing, so every call goes
//! through [`Api::call`]: 429s, 5xx answers, BigQuery's `rateLimitExceeded`/`backendError`
//! reasons, timeouts and dropped connections are retried with a doubling wait; anything else
//! fails at once with BigQuery's own message. Query jobs carry a request id, which lets
//! BigQuery run a statement once even when a retry repeats it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gcp_bigquery_client::Client;
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::client_builder::ClientBuilder;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::table::Table;
use gcp_bigquery_client::model::table_data_insert_all_request::TableDataInsertAllRequest;
use gcp_bigquery_client::model::table_data_insert_all_response::TableDataInsertAllResponse;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_schema::TableSchema;

use crate::config::ValidatedBigQuerySink;
use crate::error::BigQueryError;

/// The first wait before a retry; each further retry waits twice as long.
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between two tries.
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(30);
/// How long one request may take before it counts as failed (and is retried).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a query job may run before the sink gives up waiting for it.
const QUERY_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The table or dataset does not exist.
    NotFound,
    /// Anything else, after the retries that apply.
    Failed(BigQueryError),
}

impl From<CallError> for BigQueryError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::NotFound => {
                BigQueryError::Api { action: "find a table".into(), message: "not found".into() }
            }
            CallError::Failed(error) => error,
        }
    }
}

/// A token that is no token: the emulator accepts any request.
#[derive(Clone)]
struct NoCredentials;

#[async_trait::async_trait]
impl Authenticator for NoCredentials {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok("no-credentials".to_string())
    }
}

/// The BigQuery dataset the sink writes to, with counters of the requests made.
#[derive(Clone)]
pub(crate) struct Api {
    client: Client,
    pub(crate) project: String,
    pub(crate) dataset: String,
    location: Option<String>,
    max_retries: u32,
    requests: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
}

impl Api {
    /// Builds the client: reads the key file (or uses no credentials) and points at the API
    /// root. Makes no request.
    pub(crate) async fn connect(config: &ValidatedBigQuerySink) -> Result<Api, BigQueryError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("ashflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| BigQueryError::Api {
                action: "start an HTTP client".into(),
                message: error.to_string(),
            })?;
        let mut builder = ClientBuilder::new();
        builder.with_v2_base_url(format!("{}/bigquery/v2", config.base_url)).with_client(http);

        // Validation leaves `credentials` empty exactly when `auth = "none"`.
        let client = match &config.credentials {
            Some(path) => {
                let key_error =
                    |reason: String| BigQueryError::KeyFile { path: path.clone(), reason };
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|error| key_error(error.to_string()))?;
                let key = gcp_bigquery_client::yup_oauth2::parse_service_account_key(&text)
                    .map_err(|_| key_error("it is not a service-account key in JSON".into()))?;
                builder
                    .build_from_service_account_key(key, false)
                    .await
                    .map_err(|error| key_error(error.to_string()))?
            }
            None => builder.build_from_authenticator(Arc::new(NoCredentials)).await.map_err(
                |error| BigQueryError::Api {
                    action: "start the BigQuery client".into(),
                    message: error.to_string(),
                },
            )?,
        };

        Ok(Api {
            client,
            project: config.project.clone(),
            dataset: config.bigquery_dataset.clone(),
            location: config.location.clone(),
            max_retries: config.max_retries,
            requests: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Requests sent so far, retries included.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests that were retries.
    pub(crate) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// `project.dataset.table` quoted for SQL.
    pub(crate) fn sql_table(&self, table: &str) -> String {
        format!("`{}.{}.{table}`", self.project, self.dataset)
    }

    /// Runs `request` until it succeeds, fails for good, or runs out of retries.
    async fn call<T, F, Fut>(&self, action: &str, request: F) -> Result<T, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, BQError>>,
    {
        let mut attempt = 0;
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let error = match request().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let failure = classify(error);
            let Failure::Transient(message) = failure else {
                return Err(failure.into_call_error(action, &self.project));
            };
            if attempt >= self.max_retries {
                return Err(CallError::Failed(BigQueryError::Api {
                    action: action.to_string(),
                    message: format!("{message} (gave up after {} retries)", self.max_retries),
                }));
            }
            let wait =
                FIRST_RETRY_WAIT.saturating_mul(1 << attempt.min(16)).min(LONGEST_RETRY_WAIT);
            tracing::warn!(
                component = "bigquery",
                action,
                attempt = attempt + 1,
                wait_ms = wait.as_millis() as u64,
                error = %message,
                "Retrying a BigQuery request."
            );
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Checks that the credentials work and says whether the BigQuery dataset exists.
    pub(crate) async fn dataset_exists(&self) -> Result<bool, BigQueryError> {
        let action = format!("read the dataset {}.{}", self.project, self.dataset);
        match self.call(&action, || self.client.dataset().get(&self.project, &self.dataset)).await {
            Ok(_) => Ok(true),
            Err(CallError::NotFound) => Ok(false),
            Err(CallError::Failed(error)) => Err(error),
        }
    }

    /// Creates the BigQuery dataset; one that already exists is fine.
    pub(crate) async fn create_dataset(&self) -> Result<(), BigQueryError> {
        let action = format!("create the dataset {}.{}", self.project, self.dataset);
        let result = self
            .call(&action, || {
                let mut dataset = Dataset::new(&self.project, &self.dataset);
                if let Some(location) = &self.location {
                    dataset = dataset.location(location);
                }
                self.client.dataset().create(dataset)
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(CallError::Failed(BigQueryError::Api { message, .. }))
                if message.contains("409") || message.contains("ALREADY_EXISTS") =>
            {
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Creates a table with these fields.
    pub(crate) async fn create_table(
        &self,
        table: &str,
        fields: Vec<TableFieldSchema>,
        description: &str,
        expires: Option<std::time::SystemTime>,
    ) -> Result<(), BigQueryError> {
        let action = format!("create the table {}.{table}", self.dataset);
        self.call(&action, || {
            let mut resource =
                Table::new(&self.project, &self.dataset, table, TableSchema::new(fields.clone()));
            if !description.is_empty() {
                resource = resource.description(description);
            }
            if let Some(expires) = expires {
                resource = resource.expiration_time(expires);
            }
            self.client.table().create(resource)
        })
        .await?;
        Ok(())
    }

    /// The table's fields, or `None` when it does not exist.
    pub(crate) async fn table_fields(
        &self,
        table: &str,
    ) -> Result<Option<Vec<TableFieldSchema>>, BigQueryError> {
        let action = format!("read the table {}.{table}", self.dataset);
        let result = self
            .call(&action, || self.client.table().get(&self.project, &self.dataset, table, None))
            .await;
        match result {
            Ok(found) => Ok(Some(found.schema.fields.unwrap_or_default())),
            Err(CallError::NotFound) => Ok(None),
            Err(CallError::Failed(error)) => Err(error),
        }
    }

    /// Replaces the table's column metadata (names, types, modes, descriptions).
    pub(crate) async fn patch_fields(
        &self,
        table: &str,
        fields: Vec<TableFieldSchema>,
    ) -> Result<(), BigQueryError> {
        let action = format!("update the columns of {}.{table}", self.dataset);
        self.call(&action, || {
            let resource =
                Table::new(&self.project, &self.dataset, table, TableSchema::new(fields.clone()));
            self.client.table().patch(&self.project, &self.dataset, table, resource)
        })
        .await?;
        Ok(())
    }

    /// Deletes a table; one that is already gone is fine.
    pub(crate) async fn delete_table(&self, table: &str) -> Result<(), BigQueryError> {
        let action = format!("delete the table {}.{table}", self.dataset);
        match self
            .call(&action, || self.client.table().delete(&self.project, &self.dataset, table))
            .await
        {
            Ok(()) | Err(CallError::NotFound) => Ok(()),
            Err(CallError::Failed(error)) => Err(error),
        }
    }

    /// Streams rows into a table in one insertAll request (retried as a whole).
    pub(crate) async fn insert_all(
        &self,
        table: &str,
        request: &TableDataInsertAllRequest,
    ) -> Result<TableDataInsertAllResponse, BigQueryError> {
        let action = format!("stream rows into {}.{table}", self.dataset);
        let response = self
            .call(&action, || {
                self.client.tabledata().insert_all(
                    &self.project,
                    &self.dataset,
                    table,
                    request.clone(),
                )
            })
            .await?;
        Ok(response)
    }

    /// Runs one SQL statement as a query job and waits for it to finish.
    pub(crate) async fn run_statement(&self, sql: &str) -> Result<(), BigQueryError> {
        let action = "run a query job";
        let mut request = QueryRequest::new(sql);
        request.location = self.location.clone();
        request.request_id = Some(unique_id("ashflow"));
        request.timeout_ms = Some(60_000);
        tracing::debug!(component = "bigquery", sql, "Running a query job.");

        let response =
            self.call(action, || self.client.job().query(&self.project, request.clone())).await?;
        let mut errors = response.errors.unwrap_or_default();
        let mut complete = response.job_complete.unwrap_or(true);
        let job = response.job_reference.and_then(|reference| reference.job_id);

        let started = std::time::Instant::now();
        while !complete && errors.is_empty() {
            let Some(job_id) = &job else { break };
            if started.elapsed() > QUERY_DEADLINE {
                return Err(BigQueryError::Api {
                    action: action.into(),
                    message: format!("job {job_id} did not finish within 30 minutes"),
                });
            }
            let results = self
                .call(action, || {
                    let parameters = GetQueryResultsParameters {
                        format_options: None,
                        location: self.location.clone(),
                        max_results: Some(0),
                        page_token: None,
                        start_index: None,
                        timeout_ms: Some(30_000),
                    };
                    self.client.job().get_query_results(&self.project, job_id, parameters)
                })
                .await?;
            errors = results.errors.unwrap_or_default();
            complete = results.job_complete.unwrap_or(true);
        }
        if errors.is_empty() {
            return Ok(());
        }
        let messages: Vec<String> = errors
            .iter()
            .map(|error| {
                let reason = error.reason.as_deref().unwrap_or("error");
                format!("{reason}: {}", error.message.as_deref().unwrap_or("no message"))
            })
            .collect();
        Err(BigQueryError::Api { action: action.into(), message: messages.join("; ") })
    }
}

/// What a failed request means for the caller.
enum Failure {
    /// Worth trying again.
    Transient(String),
    NotFound,
    Unauthorized(String),
    Forbidden(String),
    Permanent(String),
}

impl Failure {
    fn into_call_error(self, action: &str, project: &str) -> CallError {
        let error = match self {
            Failure::NotFound => return CallError::NotFound,
            Failure::Unauthorized(reason) => {
                BigQueryError::Auth { project: project.to_string(), reason }
            }
            Failure::Forbidden(message) => BigQueryError::Forbidden {
                action: action.to_string(),
                project: project.to_string(),
                message,
            },
            Failure::Transient(message) | Failure::Permanent(message) => {
                BigQueryError::Api { action: action.to_string(), message }
            }
        };
        CallError::Failed(error)
    }
}

fn classify(error: BQError) -> Failure {
    match error {
        BQError::ResponseError { error } => {
            let inner = error.error;
            let reasons: Vec<&str> =
                inner.errors.iter().filter_map(|e| e.get("reason").map(String::as_str)).collect();
            let message = format!("HTTP {} {}: {}", inner.code, inner.status, inner.message);
            let rate_limited = reasons
                .iter()
                .any(|r| matches!(*r, "rateLimitExceeded" | "backendError" | "internalError"));
            match inner.code {
                404 => Failure::NotFound,
                429 | 500..=599 => Failure::Transient(message),
                403 if rate_limited => Failure::Transient(message),
                401 => Failure::Unauthorized(message),
                403 => Failure::Forbidden(message),
                _ => Failure::Permanent(message),
            }
        }
        BQError::RequestError(error) => {
            let status = error.status().map(|status| status.as_u16());
            match status {
                Some(404) => Failure::NotFound,
                Some(401) => Failure::Unauthorized(error.to_string()),
                Some(403) => Failure::Forbidden(error.to_string()),
                Some(code) if code != 429 && code < 500 => Failure::Permanent(error.to_string()),
                // Timeouts, refused or dropped connections, bodies cut short, and error pages
                // that are not BigQuery's JSON (a proxy's 502, say) all pass with time.
                _ => Failure::Transient(error.to_string()),
            }
        }
        BQError::AuthError(error) => Failure::Unauthorized(error.to_string()),
        BQError::YupAuthError(error) => Failure::Unauthorized(error.to_string()),
        BQError::NoToken => Failure::Unauthorized("the token endpoint sent no token".into()),
        other => Failure::Permanent(other.to_string()),
    }
}

/// An id unique to this process and moment, for staging tables and query request ids.
pub(crate) fn unique_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{nanos:x}_{:x}_{sequence}", std::process::id())
}
