//! An in-memory fake of the few BigQuery endpoints the sink calls, for what the emulator does
//! not reproduce: per-row `insertErrors`, 429 and 5xx answers on demand, insert-id
//! de-duplication, and a service-account token endpoint that checks what it is sent.
//!
//! It answers like BigQuery where the sink depends on it: errors in Google's JSON shape, a
//! request with an invalid row rejected whole (the invalid rows with `invalid`, the others
//! `stopped`) unless it asks to skip invalid rows, and 404 for missing tables. Query jobs are
//! recorded; the two statements a test needs to see data move are carried out
//! (`CREATE OR REPLACE TABLE a AS SELECT ... FROM b` and `INSERT INTO a ... SELECT ... FROM b`
//! copy rows), and every other statement succeeds without effect.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What the fake holds and what it was asked.
#[derive(Debug, Default)]
struct Inner {
    datasets: BTreeSet<String>,
    /// Table resources by `dataset.table`.
    tables: BTreeMap<String, Value>,
    /// Rows by `dataset.table`, with the insert ids already seen.
    rows: BTreeMap<String, Vec<Value>>,
    insert_ids: BTreeMap<String, BTreeSet<String>>,
    insert_faults: VecDeque<u16>,
    query_faults: VecDeque<u16>,
    reject_marker: Option<String>,
    statements: Vec<String>,
    insert_requests: u64,
    required_token: Option<String>,
    refuse_tokens: bool,
    token_requests: Vec<String>,
}

/// A fake BigQuery on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct FakeBigQuery {
    url: String,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBigQuery {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeBigQuery {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start() -> FakeBigQuery {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
        let address = listener.local_addr().expect("a bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeBigQuery { url: format!("http://127.0.0.1:{}", address.port()), inner, server }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The API root, for the sink's `base_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token endpoint, for a service-account key's `token_uri`.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.url)
    }

    /// The next insertAll requests are answered with these HTTP statuses, in order.
    pub fn fail_inserts(&self, statuses: &[u16]) {
        self.lock().insert_faults.extend(statuses);
    }

    /// The next query jobs are answered with these HTTP statuses, in order.
    pub fn fail_queries(&self, statuses: &[u16]) {
        self.lock().query_faults.extend(statuses);
    }

    /// Rows whose JSON text contains `marker` are rejected as invalid.
    pub fn reject_rows_containing(&self, marker: &str) {
        self.lock().reject_marker = Some(marker.to_string());
    }

    /// API requests without `Authorization: Bearer <token>` are answered 401.
    pub fn require_token(&self, token: &str) {
        self.lock().required_token = Some(token.to_string());
    }

    /// The token endpoint refuses every key, as Google does for a deleted one.
    pub fn refuse_tokens(&self) {
        self.lock().refuse_tokens = true;
    }

    /// The rows of `dataset.table`, in insertion order.
    pub fn rows(&self, table: &str) -> Vec<Value> {
        self.lock().rows.get(table).cloned().unwrap_or_default()
    }

    /// The tables of a dataset.
    pub fn tables(&self, dataset: &str) -> Vec<String> {
        let prefix = format!("{dataset}.");
        self.lock()
            .tables
            .keys()
            .filter_map(|key| key.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// The table resource of `dataset.table`.
    pub fn table(&self, table: &str) -> Option<Value> {
        self.lock().tables.get(table).cloned()
    }

    /// Every SQL statement received, in order.
    pub fn statements(&self) -> Vec<String> {
        self.lock().statements.clone()
    }

    /// insertAll requests received, failed ones included.
    pub fn insert_requests(&self) -> u64 {
        self.lock().insert_requests
    }

    /// The form bodies posted to the token endpoint.
    pub fn token_requests(&self) -> Vec<String> {
        self.lock().token_requests.clone()
    }
}

/// A Google-shaped error answer.
fn google_error(status: u16, reason: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let status_name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let body = json!({"error": {
        "code": status, "message": message, "status": status_name,
        "errors": [{"reason": reason, "message": message, "domain": "global"}]
    }});
    (code, axum::Json(body)).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = uri.path().to_string();

    if path == "/token" && method == Method::POST {
        inner.token_requests.push(String::from_utf8_lossy(&body).into_owned());
        if inner.refuse_tokens {
            let body =
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        return ok(
            json!({"access_token": "fake-token-1", "expires_in": 3600, "token_type": "Bearer"}),
        );
    }

    if let Some(token) = &inner.required_token {
        let expected = format!("Bearer {token}");
        let sent = headers.get("authorization").and_then(|value| value.to_str().ok());
        if sent != Some(expected.as_str()) {
            return google_error(
                401,
                "authError",
                "Request had invalid authentication credentials.",
            );
        }
    }

    let Some(rest) = path.strip_prefix("/bigquery/v2/projects/") else {
        return google_error(404, "notFound", &format!("no route {path}"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method, segments.as_slice()) {
        (Method::POST, [_, "datasets"]) => {
            let id = json_body["datasetReference"]["datasetId"].as_str().unwrap_or_default();
            if !inner.datasets.insert(id.to_string()) {
                return google_error(409, "duplicate", &format!("Already Exists: Dataset {id}"));
            }
            ok(json_body)
        }
        (Method::GET, [project, "datasets", dataset]) => {
            if inner.datasets.contains(*dataset) {
                ok(json!({"datasetReference": {"projectId": project, "datasetId": dataset}}))
            } else {
                google_error(404, "notFound", &format!("Not found: Dataset {dataset}"))
            }
        }
        (Method::POST, [_, "datasets", dataset, "tables"]) => {
            let table = json_body["tableReference"]["tableId"].as_str().unwrap_or_default();
            let key = format!("{dataset}.{table}");
            if inner.tables.contains_key(&key) {
                return google_error(409, "duplicate", &format!("Already Exists: Table {key}"));
            }
            inner.tables.insert(key.clone(), json_body.clone());
            inner.rows.insert(key, Vec::new());
            ok(json_body)
        }
        (Method::GET, [_, "datasets", dataset, "tables"]) => {
            let prefix = format!("{dataset}.");
            let tables: Vec<Value> = inner
                .tables
                .keys()
                .filter_map(|key| key.strip_prefix(&prefix))
                .map(|table| {
                    let reference =
                        json!({"projectId": "p", "datasetId": dataset, "tableId": table});
                    json!({ "tableReference": reference })
                })
                .collect();
            ok(json!({"tables": tables}))
        }
        (method, [_, "datasets", dataset, "tables", table]) => {
            let key = format!("{dataset}.{table}");
            let Some(current) = inner.tables.get(&key).cloned() else {
                return google_error(404, "notFound", &format!("Not found: Table {key}"));
            };
            match method {
                Method::GET => ok(current),
                Method::PATCH => {
                    let mut patched = current;
                    if let Some(schema) = json_body.get("schema") {
                        patched["schema"] = schema.clone();
                    }
                    inner.tables.insert(key, patched.clone());
                    ok(patched)
                }
                Method::DELETE => {
                    inner.tables.remove(&key);
                    inner.rows.remove(&key);
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => google_error(400, "invalid", "unsupported method"),
            }
        }
        (Method::POST, [_, "datasets", dataset, "tables", table, "insertAll"]) => {
            inner.insert_requests += 1;
            if let Some(status) = inner.insert_faults.pop_front() {
                let reason = if status == 429 { "rateLimitExceeded" } else { "backendError" };
                return google_error(status, reason, "injected failure");
            }
            insert_all(&mut inner, &format!("{dataset}.{table}"), &json_body)
        }
        (Method::POST, [project, "queries"]) => {
            let sql = json_body["query"].as_str().unwrap_or_default().to_string();
            inner.statements.push(sql.clone());
            if let Some(status) = inner.query_faults.pop_front() {
                return google_error(status, "backendError", "injected failure");
            }
            carry_out(&mut inner, &sql);
            let job = inner.statements.len();
            ok(json!({
                "kind": "bigquery#queryResponse", "jobComplete": true,
                "jobReference": {"projectId": project, "jobId": format!("fake-{job}")},
                "totalRows": "0", "rows": []
            }))
        }
        _ => google_error(404, "notFound", &format!("no route {path}")),
    }
}

fn insert_all(inner: &mut Inner, key: &str, request: &Value) -> Response {
    if !inner.tables.contains_key(key) {
        return google_error(404, "notFound", &format!("Not found: Table {key}"));
    }
    let rows = request["rows"].as_array().cloned().unwrap_or_default();
    let skip_invalid = request["skipInvalidRows"].as_bool().unwrap_or(false);
    let marker = inner.reject_marker.clone();
    let invalid: BTreeSet<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| marker.as_ref().is_some_and(|m| row["json"].to_string().contains(m)))
        .map(|(index, _)| index)
        .collect();

    let mut errors = Vec::new();
    if !invalid.is_empty() {
        for index in 0..rows.len() {
            let error = if invalid.contains(&index) {
                let message = "no such field: marker.";
                json!({ "reason": "invalid", "location": "name", "message": message })
            } else if skip_invalid {
                continue;
            } else {
                json!({"reason": "stopped", "location": "", "message": ""})
            };
            errors.push(json!({"index": index, "errors": [error]}));
        }
        if !skip_invalid {
            return ok(
                json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors}),
            );
        }
    }

    let seen = inner.insert_ids.entry(key.to_string()).or_default();
    let mut accepted = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if invalid.contains(&index) {
            continue;
        }
        // Like BigQuery, a row whose insert id was seen is taken as a retry and dropped.
        if let Some(id) = row["insertId"].as_str()
            && !seen.insert(id.to_string())
        {
            continue;
        }
        accepted.push(row["json"].clone());
    }
    inner.rows.entry(key.to_string()).or_default().extend(accepted);
    ok(json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors}))
}

/// Carries out the copy statements the sink publishes with; see the module documentation.
fn carry_out(inner: &mut Inner, sql: &str) {
    let tables: Vec<String> = sql
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| name.matches('.').count() == 2)
        .map(|name| name.split_once('.').map(|(_, rest)| rest.to_string()).unwrap_or_default())
        .collect();
    let [target, source] = tables.as_slice() else { return };
    let source_rows = inner.rows.get(source).cloned().unwrap_or_default();
    if sql.starts_with("CREATE OR REPLACE TABLE") {
        let mut resource = inner.tables.get(source).cloned().unwrap_or(Value::Null);
        resource["tableReference"]["tableId"] =
            Value::String(target.split_once('.').map(|(_, t)| t.to_string()).unwrap_or_default());
        inner.tables.insert(target.clone(), resource);
        inner.rows.insert(target.clone(), source_rows);
    } else if sql.starts_with("INSERT INTO") {
        inner.rows.entry(target.clone()).or_default().extend(source_rows);
    }
}
