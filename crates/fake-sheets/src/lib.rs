//! A stateful fake of the Google Sheets v4 API and of Google's OAuth token endpoint, on
//! 127.0.0.1, for the Sheets sink's tests and benchmark.
//!
//! It keeps spreadsheets with tabs, grid sizes, typed cells, formats, column widths and basic
//! filters, and serves the methods a sink uses: `spreadsheets.get` and `batchUpdate` (the
//! requests listed in `book`), and values `get`, `update`, `append`, `clear`, `batchUpdate` and
//! `batchClear`. It enforces what the real service enforces and a client has to cope with: the
//! 10,000,000-cell limit, 50,000 characters per cell, grid limits on writes, a request-size
//! limit, per-minute read and write quotas answered with 429 `RESOURCE_EXHAUSTED`, a token
//! endpoint that checks the service account's signed assertion, and `PERMISSION_DENIED` for a
//! spreadsheet not shared with the calling account. Errors use Google's envelope
//! (`{"error": {"code", "message", "status"}}`).
//!
//! Tests seed it ([`FakeSheets::create_spreadsheet`], [`FakeSheets::with_book_mut`]), shape the
//! conversation ([`FakeSheets::inject`], [`FakeSheets::set_write_quota`]) and read everything
//! back ([`FakeSheets::with_book`], [`FakeSheets::requests`]). [`key`] makes service-account
//! key files at run time, so no private key lives in the repository.
//!
//! Modules: `grid` (a tab's cells and A1 ranges), `book` (a spreadsheet and its operations),
//! `auth` (the token endpoint), `server` (HTTP routing, quotas, faults), `key` (test keys).

mod auth;
mod book;
mod grid;
pub mod key;
mod server;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::{JWT_BEARER_GRANT, SPREADSHEETS_SCOPE, public_key_of};
pub use book::Spreadsheet;
pub use grid::{CellValue, InputOption, MAX_CELL_CHARS, Rect, Tab, column_letters, quote_title};

use server::{MINUTE, Memory, Shared};

/// The limits and quotas the fake enforces.
#[derive(Debug, Clone)]
pub struct FakeSheetsConfig {
    /// The most cells (grid rows x columns, over every tab) a spreadsheet may have.
    pub cell_limit: u64,
    /// The largest request body accepted, in bytes.
    pub max_request_bytes: usize,
    /// Write requests accepted per quota window before 429s.
    pub write_requests_per_window: u32,
    /// Read requests accepted per quota window before 429s.
    pub read_requests_per_window: u32,
    /// The quota window: a minute, as Google's quotas are per minute; tests shorten it.
    pub quota_window: Duration,
    /// A delay before every answer, to imitate the network.
    pub latency: Duration,
}

impl Default for FakeSheetsConfig {
    /// The real service's limits: 10 million cells, 10 MiB requests, and the default per-user
    /// quotas of 60 writes and 60 reads per minute.
    fn default() -> Self {
        FakeSheetsConfig {
            cell_limit: 10_000_000,
            max_request_bytes: 10 * 1024 * 1024,
            write_requests_per_window: 60,
            read_requests_per_window: 60,
            quota_window: MINUTE,
            latency: Duration::ZERO,
        }
    }
}

/// An API error as Google sends it: an HTTP status, a canonical status name and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub code: u16,
    /// The canonical status, such as `INVALID_ARGUMENT`.
    pub status: &'static str,
    /// The message.
    pub message: String,
    /// The `details` array, when the error has one.
    pub details: Option<Value>,
}

impl ApiError {
    /// An error with the given status.
    pub fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, status, message: message.into(), details: None }
    }

    /// A 400 `INVALID_ARGUMENT`.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(400, "INVALID_ARGUMENT", message)
    }

    /// The same error with `prefix: ` before its message, as batch errors name the request.
    pub(crate) fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The JSON body: `{"error": {"code", "message", "status"}}`.
    pub fn envelope(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message, "status": self.status});
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

/// A failure the fake injects instead of (or after) serving a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 `UNAVAILABLE`; the request is not applied.
    Unavailable,
    /// 429 `RESOURCE_EXHAUSTED`; the request is not applied.
    RateLimited,
    /// The request is applied, then answered with 500 `INTERNAL`: the reply lost after the work
    /// was done.
    InternalAfterApply,
}

/// When a fault fires; each rule fires once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultRule {
    /// On the Nth API request (1-based, token requests not counted).
    NthRequest(u64, Fault),
    /// On the Nth write request that passes the quota (1-based).
    NthWrite(u64, Fault),
}

impl FaultRule {
    fn fault(self) -> Fault {
        match self {
            FaultRule::NthRequest(_, fault) | FaultRule::NthWrite(_, fault) => fault,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path as received (still percent-encoded).
    pub path: String,
    /// The API method, such as `values.batchUpdate`, or `token`.
    pub kind: &'static str,
    /// The A1 range in the path, decoded, for the values methods that have one.
    pub range: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The request body's size in bytes.
    pub body_bytes: usize,
    /// For `spreadsheets.batchUpdate`: the kind of each request in the batch, in order.
    pub requests: Vec<String>,
}

impl LoggedRequest {
    fn new(
        method: &Method,
        path: &str,
        kind: &'static str,
        range: Option<String>,
        status: u16,
        body_bytes: usize,
    ) -> Self {
        LoggedRequest {
            method: method.to_string(),
            path: path.to_string(),
            kind,
            range,
            status,
            body_bytes,
            requests: Vec::new(),
        }
    }

    /// True for requests that count against the write quota.
    pub fn is_write(&self) -> bool {
        !matches!(self.kind, "spreadsheets.get" | "values.get" | "token")
    }
}

/// A running fake; stops when dropped.
pub struct FakeSheets {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeSheets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSheets").field("address", &self.address).finish_non_exhaustive()
    }
}

impl FakeSheets {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start(config: FakeSheetsConfig) -> std::io::Result<FakeSheets> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: std::sync::Mutex::new(Memory {
                books: BTreeMap::new(),
                accounts: HashMap::new(),
                tokens: HashMap::new(),
                faults: Vec::new(),
                log: Vec::new(),
                api_requests: 0,
                write_requests: 0,
                writes_in_window: VecDeque::new(),
                reads_in_window: VecDeque::new(),
                config,
            }),
            base_url: format!("http://{address}/"),
        });
        let app = Router::new().fallback(server::handle).with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(error = %error, "The fake Sheets server stopped.");
            }
        });
        Ok(FakeSheets { shared, address, stop: Some(stop), task })
    }

    /// The API root to give a client, ending in `/` (`http://127.0.0.1:PORT/`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The token endpoint to put in a key file's `token_uri`.
    pub fn token_uri(&self) -> String {
        self.shared.token_uri()
    }

    /// Creates an empty spreadsheet (one `Sheet1` tab) shared with the given accounts.
    pub fn create_spreadsheet(&self, id: &str, shared_with: &[&str]) {
        let mut book = Spreadsheet::new(id);
        book.shared_with.extend(shared_with.iter().map(|email| email.to_string()));
        self.shared.lock().books.insert(id.to_string(), book);
    }

    /// Registers a service account's key, so the token endpoint verifies its signatures.
    /// Accounts never registered still get tokens, as an account that exists but that no
    /// spreadsheet is shared with does.
    pub fn register_service_account(
        &self,
        email: &str,
        private_key_pem: &str,
    ) -> Result<(), String> {
        let public_key = public_key_of(private_key_pem)?;
        self.shared.lock().accounts.insert(email.to_string(), Some(public_key));
        Ok(())
    }

    /// Reads a spreadsheet.
    pub fn with_book<R>(&self, id: &str, read: impl FnOnce(&Spreadsheet) -> R) -> Option<R> {
        self.shared.lock().books.get(id).map(read)
    }

    /// Changes a spreadsheet directly, as a person editing it would.
    pub fn with_book_mut<R>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Spreadsheet) -> R,
    ) -> Option<R> {
        self.shared.lock().books.get_mut(id).map(change)
    }

    /// The values of a tab from A1, trimmed as the API returns them; `None` when the
    /// spreadsheet or tab does not exist.
    pub fn values(&self, id: &str, tab: &str) -> Option<Vec<Vec<Option<CellValue>>>> {
        self.with_book(id, |book| book.tab(tab).map(Tab::values)).flatten()
    }

    /// Writes rows into a tab starting at A1, growing its grid if needed, as seeding.
    pub fn seed(&self, id: &str, tab: &str, rows: &[Value]) -> Result<(), ApiError> {
        self.with_book_mut(id, |book| {
            if book.tab(tab).is_none() {
                book.add_tab(tab, rows.len().max(1), 26)?;
            }
            let range = format!("{}!A1", quote_title(tab));
            let width = rows.iter().filter_map(Value::as_array).map(Vec::len).max().unwrap_or(1);
            let end = format!("{}{}", column_letters(width.max(1) - 1), rows.len().max(1));
            let existing = book.tab(tab).map_or((0, 0), |t| (t.row_count, t.column_count));
            if let Some(found) = book.tabs.iter_mut().find(|t| t.title == tab) {
                found.row_count = existing.0.max(rows.len());
                found.column_count = existing.1.max(width);
            }
            book.values_update(&format!("{range}:{end}"), rows, InputOption::Raw).map(|_| ())
        })
        .unwrap_or_else(|| Err(ApiError::new(404, "NOT_FOUND", "Requested entity was not found.")))
    }

    /// Injects a fault.
    pub fn inject(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    /// Changes the write quota: `requests` per `window`.
    pub fn set_write_quota(&self, requests: u32, window: Duration) {
        let mut state = self.shared.lock();
        state.config.write_requests_per_window = requests;
        state.config.quota_window = window;
        state.writes_in_window.clear();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }
}

impl Drop for FakeSheets {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}
