//! The HTTP side of the fake: one axum fallback handler that routes Google's paths by hand.
//!
//! Google's paths put verbs after a colon inside a segment (`{id}:batchUpdate`,
//! `values/{range}:append`), which a router's path patterns cannot express, so the handler
//! splits the path itself. Every API request goes through the same steps, in the order the
//! real service applies them as far as a client can tell: size limit, bearer token, spreadsheet
//! and sharing, per-minute quota, injected faults, then the operation. Each is logged.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::auth::{check_token_request, form_fields};
use crate::book::Spreadsheet;
use crate::grid::InputOption;
use crate::{ApiError, FakeSheetsConfig, Fault, FaultRule, LoggedRequest};

/// Everything the fake remembers.
pub(crate) struct Memory {
    pub(crate) books: BTreeMap<String, Spreadsheet>,
    /// E-mail -> the account's public key, when the test registered one.
    pub(crate) accounts: HashMap<String, Option<Vec<u8>>>,
    /// Bearer token -> the e-mail it was issued to.
    pub(crate) tokens: HashMap<String, String>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) log: Vec<LoggedRequest>,
    pub(crate) api_requests: u64,
    pub(crate) write_requests: u64,
    pub(crate) writes_in_window: VecDeque<Instant>,
    pub(crate) reads_in_window: VecDeque<Instant>,
    pub(crate) config: FakeSheetsConfig,
}

/// State shared by every request.
pub(crate) struct Shared {
    pub(crate) state: Mutex<Memory>,
    pub(crate) base_url: String,
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn token_uri(&self) -> String {
        format!("{}token", self.base_url)
    }
}

/// Which API method a request is, with its spreadsheet and range.
struct Route {
    kind: &'static str,
    spreadsheet: String,
    range: Option<String>,
}

impl Route {
    fn is_write(&self) -> bool {
        self.kind != "spreadsheets.get" && self.kind != "values.get"
    }
}

fn route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v4/spreadsheets/")?;
    let decode =
        |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let (id, tail) = match rest.split_once('/') {
        Some((id, tail)) => (id, Some(tail)),
        None => (rest, None),
    };
    let (kind, spreadsheet, range) = match (method, tail) {
        (&Method::GET, None) => ("spreadsheets.get", id, None),
        (&Method::POST, None) => {
            ("spreadsheets.batchUpdate", id.strip_suffix(":batchUpdate")?, None)
        }
        (&Method::POST, Some("values:batchUpdate")) => ("values.batchUpdate", id, None),
        (&Method::POST, Some("values:batchClear")) => ("values.batchClear", id, None),
        (method, Some(tail)) => {
            let range = tail.strip_prefix("values/")?;
            match *method {
                Method::GET => ("values.get", id, Some(range)),
                Method::PUT => ("values.update", id, Some(range)),
                Method::POST => {
                    if let Some(range) = range.strip_suffix(":append") {
                        ("values.append", id, Some(range))
                    } else if let Some(range) = range.strip_suffix(":clear") {
                        ("values.clear", id, Some(range))
                    } else {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(Route { kind, spreadsheet: decode(spreadsheet), range: range.map(decode) })
}

fn query_params(query: Option<&str>) -> HashMap<String, String> {
    form_fields(query.unwrap_or("")).into_iter().collect()
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// The one handler.
pub(crate) async fn handle(
    State(shared): State<std::sync::Arc<Shared>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string);
    let (max_bytes, latency) = {
        let state = shared.lock();
        (state.config.max_request_bytes, state.config.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let body = match to_bytes(body, max_bytes.saturating_add(1)).await {
        Ok(bytes) if bytes.len() <= max_bytes => bytes,
        _ => {
            let error = ApiError::invalid(format!(
                "Request payload size exceeds the limit: {max_bytes} bytes."
            ));
            let mut state = shared.lock();
            state.log.push(LoggedRequest::new(
                &parts.method,
                &path,
                "oversized",
                None,
                400,
                max_bytes + 1,
            ));
            return json_response(error.code, &error.envelope());
        }
    };

    if parts.method == Method::POST && path == "/token" {
        return token(&shared, &body);
    }
    let Some(route) = route(&parts.method, &path) else {
        let error = ApiError::new(
            404,
            "NOT_FOUND",
            format!("The fake does not serve {} {path}", parts.method),
        );
        return json_response(error.code, &error.envelope());
    };

    let params = query_params(query.as_deref());
    let mut state = shared.lock();
    let (status, answer, kinds) =
        match serve(&mut state, &shared.base_url, &route, bearer.as_deref(), &params, &body) {
            Ok((answer, kinds)) => (200, answer, kinds),
            Err(error) => (error.code, error.envelope(), Vec::new()),
        };
    let mut entry = LoggedRequest::new(
        &parts.method,
        &path,
        route.kind,
        route.range.clone(),
        status,
        body.len(),
    );
    entry.requests = kinds;
    state.log.push(entry);
    json_response(status, &answer)
}

/// The token endpoint.
fn token(shared: &Shared, body: &[u8]) -> Response {
    let form = form_fields(&String::from_utf8_lossy(body));
    let token_uri = shared.token_uri();
    let mut state = shared.lock();
    let checked = check_token_request(&form, &token_uri, |email| {
        state.accounts.get(email).cloned().flatten()
    });
    let (status, answer) = match checked {
        Ok(assertion) => {
            let token = format!("ya29.fake-{}", state.tokens.len() + 1);
            state.tokens.insert(token.clone(), assertion.email);
            (200, json!({"access_token": token, "token_type": "Bearer", "expires_in": 3599}))
        }
        Err(refused) => {
            (400, json!({"error": refused.error, "error_description": refused.description}))
        }
    };
    state.log.push(LoggedRequest::new(&Method::POST, "/token", "token", None, status, body.len()));
    json_response(status, &answer)
}

/// Runs one API request against the state; returns the answer and, for a spreadsheet
/// `batchUpdate`, the kinds of its requests (for the log).
fn serve(
    state: &mut Memory,
    base_url: &str,
    route: &Route,
    bearer: Option<&str>,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Result<(Value, Vec<String>), ApiError> {
    state.api_requests += 1;
    let email = bearer.and_then(|token| state.tokens.get(token)).cloned().ok_or_else(|| {
        ApiError::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
    })?;
    let book = state
        .books
        .get(&route.spreadsheet)
        .ok_or_else(|| ApiError::new(404, "NOT_FOUND", "Requested entity was not found."))?;
    if !book.shared_with.contains(&email) {
        return Err(ApiError::new(403, "PERMISSION_DENIED", "The caller does not have permission"));
    }

    check_quota(state, route.is_write())?;
    if route.is_write() {
        state.write_requests += 1;
    }
    let due = state.faults.iter().position(|rule| match rule {
        FaultRule::NthRequest(n, _) => *n == state.api_requests,
        FaultRule::NthWrite(n, _) => route.is_write() && *n == state.write_requests,
    });
    let fault = due.map(|index| state.faults.remove(index).fault());
    match fault {
        Some(Fault::Unavailable) => {
            return Err(ApiError::new(503, "UNAVAILABLE", "The service is currently unavailable."));
        }
        Some(Fault::RateLimited) => return Err(quota_error(true)),
        Some(Fault::InternalAfterApply) | None => {}
    }

    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|error| ApiError::invalid(format!("Invalid JSON payload received. {error}")))?
    };
    let cell_limit = state.config.cell_limit;
    let book = state
        .books
        .get_mut(&route.spreadsheet)
        .ok_or_else(|| ApiError::new(404, "NOT_FOUND", "Requested entity was not found."))?;
    let range = route.range.as_deref().unwrap_or("");
    let input = || InputOption::parse(params.get("valueInputOption").map(String::as_str));
    let mut kinds = Vec::new();
    let answer = match route.kind {
        "spreadsheets.get" => book.resource(base_url),
        "spreadsheets.batchUpdate" => {
            kinds = body["requests"]
                .as_array()
                .map(|requests| {
                    requests.iter().filter_map(|r| r.as_object()?.keys().next().cloned()).collect()
                })
                .unwrap_or_default();
            book.batch_update(&body, cell_limit)?
        }
        "values.get" => {
            let unformatted =
                params.get("valueRenderOption").map(String::as_str) == Some("UNFORMATTED_VALUE");
            book.values_get(range, unformatted)?
        }
        "values.update" => {
            let values = body["values"].as_array().cloned().unwrap_or_default();
            book.values_update(range, &values, input()?)?
        }
        "values.append" => {
            let values = body["values"].as_array().cloned().unwrap_or_default();
            book.values_append(range, &values, input()?, cell_limit)?
        }
        "values.clear" => book.values_clear(range)?,
        "values.batchUpdate" => book.values_batch_update(&body)?,
        "values.batchClear" => book.values_batch_clear(&body)?,
        other => return Err(ApiError::invalid(format!("unrouted method {other}"))),
    };
    if fault == Some(Fault::InternalAfterApply) {
        // The change stays: this is the reply lost after the service did the work, which a
        // client can only survive by making its writes safe to repeat.
        return Err(ApiError::new(500, "INTERNAL", "Internal error encountered."));
    }
    Ok((answer, kinds))
}

/// Counts the request against its per-minute quota, refusing it when the window is full.
fn check_quota(state: &mut Memory, is_write: bool) -> Result<(), ApiError> {
    let now = Instant::now();
    let window = state.config.quota_window;
    let (limit, used) = if is_write {
        (state.config.write_requests_per_window, &mut state.writes_in_window)
    } else {
        (state.config.read_requests_per_window, &mut state.reads_in_window)
    };
    while used.front().is_some_and(|at| now.duration_since(*at) >= window) {
        used.pop_front();
    }
    if used.len() >= limit as usize {
        return Err(quota_error(is_write));
    }
    used.push_back(now);
    Ok(())
}

/// The 429 Google sends when a per-minute quota is used up.
fn quota_error(is_write: bool) -> ApiError {
    let (metric, limit) = if is_write {
        ("Write requests", "Write requests per minute per user")
    } else {
        ("Read requests", "Read requests per minute per user")
    };
    let mut error = ApiError::new(
        429,
        "RESOURCE_EXHAUSTED",
        format!(
            "Quota exceeded for quota metric '{metric}' and limit '{limit}' of service \
             'sheets.googleapis.com' for consumer 'project_number:000000000000'."
        ),
    );
    error.details = Some(json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "service": "sheets.googleapis.com",
            "quota_metric": if is_write { "sheets.googleapis.com/write_requests" }
                            else { "sheets.googleapis.com/read_requests" },
            "quota_location": "global",
        },
    }]));
    error
}

/// The default quota window, Google's minute.
pub(crate) const MINUTE: Duration = Duration::from_secs(60);
