//! The HTTP side of the fake: one axum fallback handler speaking Ashby's RPC protocol.
//!
//! Every request goes through the same steps: log it, wait the configured latency, apply a due
//! fault, then answer normally (route, Basic auth, permission, body checks, list). Answers are
//! built as a plain [`Reply`] first so that the truncated-body fault can cut a real answer.
//!
//! Dropping a connection without a response is not something an axum handler can do, so the
//! server runs on a listener whose sockets carry a kill switch: the handler flips it, and the
//! socket then fails every read and write, so hyper abandons the connection before a byte of
//! the response is written and the client sees the connection close.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::entity::{Entity, Paging};
use crate::faults::{Fault, FaultBook};
use crate::filters::Filters;
use crate::store::{Store, Table};
use crate::tokens::{CursorState, STANDARD, Signer, base64_decode};

/// The permission `apiKey.info` needs (ashby-api.md §5).
pub(crate) const API_KEYS_READ: &str = "apiKeysRead";

/// State shared by every request.
pub(crate) struct Shared {
    pub store: RwLock<Store>,
    pub signer: Signer,
    /// API key -> the permissions it has.
    pub keys: Mutex<HashMap<String, Vec<String>>>,
    pub faults: FaultBook,
    pub log: Mutex<RequestLog>,
    /// The number of requests received, for callers waiting for the Nth.
    pub received: tokio::sync::watch::Sender<usize>,
    pub max_page_size: usize,
    pub latency: Duration,
    requests: AtomicU64,
}

/// What the server received.
#[derive(Default)]
pub(crate) struct RequestLog {
    pub total: usize,
    pub per_endpoint: HashMap<String, usize>,
    pub bodies: HashMap<String, Vec<Value>>,
}

impl Shared {
    /// Shared state for a generated store.
    pub(crate) fn new(
        store: Store,
        signer: Signer,
        max_page_size: usize,
        latency: Duration,
    ) -> Self {
        Shared {
            store: RwLock::new(store),
            signer,
            keys: Mutex::new(HashMap::new()),
            faults: FaultBook::default(),
            log: Mutex::new(RequestLog::default()),
            received: tokio::sync::watch::Sender::new(0),
            max_page_size: max_page_size.max(1),
            latency,
            requests: AtomicU64::new(0),
        }
    }

    fn record(&self, endpoint: &str, body: Option<&Value>) -> String {
        let number = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.total += 1;
        *log.per_endpoint.entry(endpoint.to_string()).or_default() += 1;
        if let Some(body) = body {
            log.bodies.entry(endpoint.to_string()).or_default().push(body.clone());
        }
        let total = log.total;
        drop(log);
        self.received.send_replace(total);
        // Shaped like Ashby's ULID request ids, and unique per request.
        format!("01JFAKE{number:019}")
    }

    fn permissions(&self, key: &str) -> Option<Vec<String>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }
}

/// A response before it becomes HTTP: status, extra headers and the body text.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn json(status: StatusCode, body: String) -> Reply {
        Reply { status, content_type: "application/json; charset=utf-8", headers: Vec::new(), body }
    }

    /// Ashby's error envelope with the given HTTP status.
    fn error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Reply {
        Reply::error_with_meta(status, code, message, request_id, None)
    }

    fn error_with_meta(
        status: StatusCode,
        code: &str,
        message: &str,
        request_id: &str,
        meta: Option<Value>,
    ) -> Reply {
        let mut info = json!({ "code": code, "message": message, "requestId": request_id });
        if let Some(meta) = meta {
            info["meta"] = meta;
        }
        let body = json!({ "success": false, "errors": [code], "errorInfo": info });
        Reply::json(status, body.to_string())
    }

    /// A "client error" as Ashby sends it: HTTP 200 with `success: false`.
    fn failure(code: &str, message: &str, request_id: &str) -> Reply {
        Reply::error(StatusCode::OK, code, message, request_id)
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// Answers every request (the router's only handler).
pub(crate) async fn answer(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint = uri.path().trim_start_matches('/').to_string();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(command) = endpoint.strip_prefix(CONTROL_PREFIX) {
        return control(&shared, command, parsed.as_ref()).into_response();
    }
    let request_id = shared.record(&endpoint, parsed.as_ref());
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }

    let has_cursor =
        parsed.as_ref().and_then(|body| body.get("cursor")).is_some_and(|cursor| !cursor.is_null());
    let fault = shared.faults.next(&endpoint, has_cursor);
    let request = Request {
        method: &method,
        endpoint: &endpoint,
        headers: &headers,
        body: parsed.as_ref(),
        request_id: &request_id,
    };
    let reply = match fault {
        None => respond(&shared, &request),
        Some(fault) => {
            tracing::debug!(
                component = "fake-ashby",
                endpoint = %endpoint,
                fault = ?fault,
                "Injecting fault."
            );
            match apply_fault(fault, &shared, &request, &connection).await {
                Some(reply) => reply,
                None => respond(&shared, &request),
            }
        }
    };
    tracing::debug!(
        component = "fake-ashby",
        endpoint = %endpoint,
        status = reply.status.as_u16(),
        "Answered request."
    );
    reply.into_response()
}

/// Paths under this prefix control the fake instead of playing Ashby; they are not counted
/// or logged as requests. Benchmarks use them when the fake runs as a separate process.
const CONTROL_PREFIX: &str = "_fake/";

/// Answers a control request: `mutate` and `delete` (body `{"entity": "candidates", "count":
/// 10}`), and `requests` (the number of Ashby requests received so far).
fn control(shared: &Shared, command: &str, body: Option<&Value>) -> Reply {
    let entity = body.and_then(|body| body.get("entity")).and_then(Value::as_str);
    let count = body.and_then(|body| body.get("count")).and_then(Value::as_u64);
    let target = entity.and_then(Entity::from_name).zip(count.map(|count| count as usize));
    match (command, target) {
        ("requests", _) => {
            let total = shared.log.lock().unwrap_or_else(PoisonError::into_inner).total;
            Reply::json(StatusCode::OK, json!({ "count": total }).to_string())
        }
        ("mutate", Some((entity, count))) => {
            shared.store.write().unwrap_or_else(PoisonError::into_inner).mutate(entity, count);
            Reply::json(StatusCode::OK, json!({ "mutated": count }).to_string())
        }
        ("delete", Some((entity, count))) => {
            let ids =
                shared.store.write().unwrap_or_else(PoisonError::into_inner).delete(entity, count);
            Reply::json(StatusCode::OK, json!({ "deleted": ids }).to_string())
        }
        ("mutate" | "delete", None) => Reply::json(
            StatusCode::BAD_REQUEST,
            json!({ "error": "send {\"entity\": <an entity name>, \"count\": <a number>}" })
                .to_string(),
        ),
        _ => Reply::json(
            StatusCode::NOT_FOUND,
            json!({ "error": "control commands: mutate, delete, requests" }).to_string(),
        ),
    }
}

/// The parts of a request the answer depends on.
struct Request<'a> {
    method: &'a Method,
    endpoint: &'a str,
    headers: &'a HeaderMap,
    body: Option<&'a Value>,
    request_id: &'a str,
}

/// The reply a fault replaces the normal answer with; `None` means answer normally.
async fn apply_fault(
    fault: Fault,
    shared: &Shared,
    request: &Request<'_>,
    connection: &Connection,
) -> Option<Reply> {
    match fault {
        Fault::Status { status, retry_after } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (code, message) = match status.as_u16() {
                429 => ("rate_limit_exceeded", "Rate limit exceeded. Try again later."),
                502..=504 => (
                    "service_unavailable",
                    "The service is temporarily unavailable; retry with backoff.",
                ),
                _ => ("internal_server_error", "An unexpected error occurred; retry with backoff."),
            };
            let mut reply = Reply::error(status, code, message, request.request_id);
            if let Some(seconds) = retry_after {
                reply.headers.push(("retry-after", seconds));
            }
            Some(reply)
        }
        Fault::ErrorCode { code } => {
            let message = format!("Injected error {code}.");
            Some(Reply::failure(&code, &message, request.request_id))
        }
        Fault::NotJson => Some(Reply {
            status: StatusCode::OK,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            body: "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>\
                   <p>The upstream server returned an invalid response.</p></body></html>"
                .to_string(),
        }),
        Fault::DropConnection => {
            connection.kill();
            Some(Reply::json(StatusCode::INTERNAL_SERVER_ERROR, String::new()))
        }
        Fault::Delay(duration) => {
            tokio::time::sleep(duration).await;
            None
        }
        Fault::TruncatedBody => {
            let mut reply = respond(shared, request);
            let mut cut = reply.body.len() / 2;
            while cut > 0 && !reply.body.is_char_boundary(cut) {
                cut -= 1;
            }
            reply.body.truncate(cut.max(1).min(reply.body.len()));
            reply.status = StatusCode::OK;
            Some(reply)
        }
    }
}

/// The normal answer: route, method, auth, permission, body, then the endpoint itself.
fn respond(shared: &Shared, request: &Request<'_>) -> Reply {
    let id = request.request_id;
    let entity = Entity::from_endpoint(request.endpoint);
    let permission = match entity {
        Some(entity) => entity.permission(),
        None if request.endpoint == "apiKey.info" => API_KEYS_READ,
        None => {
            let message = format!(
                "unknown endpoint /{}: see the Ashby API reference for endpoint names",
                request.endpoint
            );
            return Reply::error(StatusCode::NOT_FOUND, "endpoint_not_found", &message, id);
        }
    };
    if request.method != Method::POST {
        return Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "every Ashby endpoint takes POST",
            id,
        );
    }

    let Some(key) = basic_auth_user(request.headers) else {
        let mut reply = Reply::error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Missing or malformed Authorization header: send HTTP Basic auth with the API key as \
             the user name.",
            id,
        );
        reply.headers.push(("www-authenticate", "Basic realm=\"Ashby API\"".to_string()));
        return reply;
    };
    let Some(permissions) = shared.permissions(&key) else {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "invalid_api_key",
            "The API key is invalid or has been deactivated.",
            id,
        );
    };
    if !permissions.iter().any(|granted| granted == permission) {
        let message = format!(
            "The API key is missing the {permission} permission required by {}.",
            request.endpoint
        );
        let meta = json!({ "missingPermission": permission });
        return Reply::error_with_meta(
            StatusCode::FORBIDDEN,
            "missing_endpoint_permission",
            &message,
            id,
            Some(meta),
        );
    }

    if !is_json_content(request.headers) {
        return Reply::failure("invalid_input", "Content-Type must be application/json.", id);
    }
    let Some(Value::Object(body)) = request.body else {
        return Reply::failure(
            "invalid_input",
            "The request body must be a JSON object; send {} for no parameters.",
            id,
        );
    };
    match entity {
        Some(entity) => list(shared, entity, body, id),
        None => api_key_info(&permissions),
    }
}

/// The API key named in an HTTP Basic `Authorization` header (the password is ignored).
fn basic_auth_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim(), STANDARD)?).ok()?;
    let (user, _password) = decoded.split_once(':')?;
    (!user.is_empty()).then(|| user.to_string())
}

fn is_json_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("application/json"))
}

/// `apiKey.info`: the key's title, creation time and scopes (`candidates:read`, ...).
fn api_key_info(permissions: &[String]) -> Reply {
    let scopes: Vec<String> = permissions
        .iter()
        .map(|permission| match permission.strip_suffix("Read") {
            Some(object) => format!("{object}:read"),
            None => permission.clone(),
        })
        .collect();
    let body = json!({
        "success": true,
        "results": {
            "title": "ashflow fake key", "createdAt": "2024-01-15T09:30:00.000Z", "scopes": scopes,
        },
    });
    Reply::json(StatusCode::OK, body.to_string())
}

/// A list endpoint: unpaged for the three endpoints that do not page, cursor pages otherwise.
// FIXME: every key sees confidential jobs and private custom fields (Ashby hides them from keys
// without those access toggles), and cursors and sync tokens never expire by age nor does an
// incremental pass ever answer `incremental_sync_too_large`; tests get those codes only through
// `Fault::ErrorCode`.
fn list(shared: &Shared, entity: Entity, body: &Map<String, Value>, id: &str) -> Reply {
    let store = shared.store.read().unwrap_or_else(PoisonError::into_inner);
    let table = store.table(entity);
    if entity.paging() != Paging::Cursor {
        let filters = match Filters::parse(entity, body) {
            Ok(filters) => filters,
            Err(message) => return Reply::failure("invalid_input", &message, id),
        };
        let visible = table.visible(&filters, None);
        let tail = if entity.paging() == Paging::SingleWithMoreFlag {
            r#","moreDataAvailable":false"#
        } else {
            ""
        };
        return Reply::json(StatusCode::OK, results_body(table, &visible, tail));
    }
    let pass = match Pass::from_request(shared, &store, entity, body) {
        Ok(pass) => pass,
        Err((code, message)) => return Reply::failure(code, &message, id),
    };
    let limit = match page_limit(body, shared.max_page_size) {
        Ok(limit) => limit,
        Err(message) => return Reply::failure("invalid_input", &message, id),
    };

    let visible = table.visible(&pass.filters, pass.since);
    let start = pass.offset.min(visible.len());
    let end = (start + limit).min(visible.len());
    let tail = if end < visible.len() {
        let next = CursorState {
            endpoint: entity.endpoint().to_string(),
            since: pass.since,
            pass_seq: pass.pass_seq,
            offset: end,
            filters: pass.filters.canonical.clone(),
        };
        format!(
            r#","moreDataAvailable":true,"nextCursor":{}"#,
            json!(shared.signer.encode_cursor(&next))
        )
    } else {
        let token = shared.signer.encode_sync_token(entity.endpoint(), pass.pass_seq);
        format!(r#","moreDataAvailable":false,"syncToken":{}"#, json!(token))
    };
    tracing::debug!(
        component = "fake-ashby",
        endpoint = entity.endpoint(),
        offset = start,
        rows = end - start,
        of = visible.len(),
        "Served page."
    );
    Reply::json(StatusCode::OK, results_body(table, &visible[start..end], &tail))
}

/// Where a paginated request stands in its pass.
struct Pass {
    filters: Filters,
    since: Option<u64>,
    pass_seq: u64,
    offset: usize,
}

impl Pass {
    /// From the cursor when there is one (its filters and sync point win over the body's),
    /// else from the body's filters and optional sync token.
    fn from_request(
        shared: &Shared,
        store: &Store,
        entity: Entity,
        body: &Map<String, Value>,
    ) -> Result<Pass, (&'static str, String)> {
        let present = |key: &str| body.get(key).filter(|value| !value.is_null());
        if let Some(cursor) = present("cursor") {
            let invalid = || {
                (
                    "invalid_next_cursor",
                    "The cursor is invalid: restart the pass without a cursor.".to_string(),
                )
            };
            let text = cursor.as_str().ok_or_else(invalid)?;
            let state = shared.signer.decode_cursor(text).ok_or_else(invalid)?;
            if state.endpoint != entity.endpoint() {
                return Err(invalid());
            }
            let filters = Filters::from_canonical(entity, &state.filters).ok_or_else(invalid)?;
            return Ok(Pass {
                filters,
                since: state.since,
                pass_seq: state.pass_seq,
                offset: state.offset,
            });
        }
        let filters = Filters::parse(entity, body).map_err(|message| ("invalid_input", message))?;
        let since = match present("syncToken") {
            None => None,
            Some(token) => {
                let invalid = || {
                    (
                        "sync_token_invalid",
                        "The sync token is invalid: drop it and run a full sync.".to_string(),
                    )
                };
                let (endpoint, seq) = token
                    .as_str()
                    .and_then(|text| shared.signer.decode_sync_token(text))
                    .ok_or_else(invalid)?;
                if endpoint != entity.endpoint() || seq > store.seq() {
                    return Err(invalid());
                }
                Some(seq)
            }
        };
        Ok(Pass { filters, since, pass_seq: store.seq(), offset: 0 })
    }
}

/// The page size: the request's `limit` when positive, capped at the server's maximum.
fn page_limit(body: &Map<String, Value>, max_page_size: usize) -> Result<usize, String> {
    match body.get("limit") {
        None | Some(Value::Null) => Ok(max_page_size),
        Some(limit) => match limit.as_u64() {
            Some(limit) if limit > 0 => Ok((limit as usize).min(max_page_size)),
            _ => Err("limit must be a positive integer".to_string()),
        },
    }
}

/// `{"success":true,"results":[...]<tail>}` from stored JSON text, without re-serialising.
fn results_body(table: &Table, rows: &[u32], tail: &str) -> String {
    let mut body = String::with_capacity(64 + tail.len() + rows.len() * 2048);
    body.push_str(r#"{"success":true,"results":["#);
    for (position, row) in rows.iter().enumerate() {
        if position > 0 {
            body.push(',');
        }
        body.push_str(table.json(*row));
    }
    body.push(']');
    body.push_str(tail);
    body.push('}');
    body
}

/// A TCP listener whose connections can be killed from a handler.
pub(crate) struct KillableListener(pub TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, address)) => {
                    // Small JSON responses must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    return (
                        KillableStream { inner: stream, killed: Arc::new(AtomicBool::new(false)) },
                        address,
                    );
                }
                Err(error) => {
                    tracing::warn!(component = "fake-ashby", %error, "Accept failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every operation once killed.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by fault injection",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(error) = self.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Err(error) = self.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(error) = self.check() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The kill switch of the connection a request arrived on.
#[derive(Clone)]
pub(crate) struct Connection {
    killed: Arc<AtomicBool>,
}

impl Connection {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        Connection { killed: Arc::clone(&stream.io().killed) }
    }
}
