//! The BigQuery emulator for tests: found through [`EMULATOR_URL_VAR`] (set by
//! `cargo xtask test`, which starts one emulator for the whole test run), or started here once
//! per test process when the variable is absent and the emulator is installed.
//!
//! An emulator started here must not outlive the tests. It is spawned from a thread that lives
//! as long as the process (it waits on the emulator), with `PR_SET_PDEATHSIG`: the kernel kills
//! the emulator when that thread ends, which is when the test process exits, however it exits.
//! (Spawning it from a test's own thread would kill it when that one test finished.)
//!
//! Reading back goes through the emulator's REST API (`jobs.query` and `tables.get`) with rows
//! decoded from BigQuery's `f`/`v` shape into plain JSON objects, so tests compare values.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// The environment variable holding the address of an emulator already running, such as
/// `http://127.0.0.1:41234`.
pub const EMULATOR_URL_VAR: &str = "ASHFLOW_BQ_EMULATOR_URL";

/// The project every test writes to.
pub const PROJECT: &str = "ashflow-test";

/// How long the emulator may take to answer `/readyz` after starting.
const STARTUP_DEADLINE: Duration = Duration::from_secs(90);

/// A running emulator, shared by the whole test process.
#[derive(Debug, Clone)]
pub struct Emulator {
    /// The API root, such as `http://127.0.0.1:41234`.
    pub url: String,
}

static SHARED: OnceLock<Result<Emulator, String>> = OnceLock::new();

impl Emulator {
    /// The emulator for this test run, started on first use.
    ///
    /// # Panics
    ///
    /// When no emulator can be found or started, with a message that says how to install it:
    /// a test that needs the emulator fails rather than passing without it.
    pub fn shared() -> Emulator {
        match SHARED.get_or_init(find_or_start) {
            Ok(emulator) => emulator.clone(),
            Err(message) => panic!("{message}"),
        }
    }

    /// Runs a query and returns its rows as JSON objects keyed by column name. TIMESTAMP values
    /// come back as the emulator encodes them; see [`timestamp_micros`].
    pub async fn query(&self, sql: &str) -> Vec<Map<String, Value>> {
        let client = reqwest::Client::new();
        let base = format!("{}/bigquery/v2/projects/{PROJECT}", self.url);
        let body = json!({"query": sql, "useLegacySql": false, "maxResults": 10000});
        let mut page: Value = send(client.post(format!("{base}/queries")).json(&body)).await;
        if let Some(errors) =
            page.get("errors").filter(|e| e.as_array().is_some_and(|a| !a.is_empty()))
        {
            panic!("query failed: {sql}: {errors}");
        }
        let schema = page["schema"]["fields"].as_array().cloned().unwrap_or_default();
        let job = page["jobReference"]["jobId"].as_str().unwrap_or_default().to_string();

        let mut rows = Vec::new();
        loop {
            for row in page["rows"].as_array().into_iter().flatten() {
                rows.push(decode_row(&schema, row));
            }
            let Some(token) = page["pageToken"].as_str().map(str::to_string) else { break };
            page = send(
                client
                    .get(format!("{base}/queries/{job}"))
                    .query(&[("pageToken", token.as_str()), ("maxResults", "10000")]),
            )
            .await;
        }
        rows
    }

    /// The table's resource as `tables.get` returns it, or `None` when it does not exist.
    pub async fn table(&self, dataset: &str, table: &str) -> Option<Value> {
        let url = format!(
            "{}/bigquery/v2/projects/{PROJECT}/datasets/{dataset}/tables/{table}",
            self.url
        );
        let response = reqwest::get(url).await.expect("the emulator answers");
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        Some(response.json().await.expect("tables.get answers JSON"))
    }

    /// The names of the dataset's tables.
    pub async fn tables(&self, dataset: &str) -> Vec<String> {
        let url = format!("{}/bigquery/v2/projects/{PROJECT}/datasets/{dataset}/tables", self.url);
        let list: Value = send(reqwest::Client::new().get(url)).await;
        list["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["tableReference"]["tableId"].as_str().map(str::to_string))
            .collect()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("the emulator answers");
    let status = response.status();
    let body: Value = response.json().await.expect("the emulator answers JSON");
    assert!(status.is_success(), "the emulator answered {status}: {body}");
    body
}

/// A row in BigQuery's `{"f": [{"v": ...}]}` shape as a plain object.
fn decode_row(fields: &[Value], row: &Value) -> Map<String, Value> {
    let cells = row["f"].as_array().cloned().unwrap_or_default();
    fields
        .iter()
        .zip(cells)
        .map(|(field, cell)| {
            let name = field["name"].as_str().unwrap_or_default().to_string();
            let value = &cell["v"];
            let decoded = if field["mode"] == "REPEATED" {
                Value::Array(
                    value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|item| decode_value(field, &item["v"]))
                        .collect(),
                )
            } else {
                decode_value(field, value)
            };
            (name, decoded)
        })
        .collect()
}

fn decode_value(field: &Value, value: &Value) -> Value {
    match (field["type"].as_str(), value) {
        (_, Value::Null) => Value::Null,
        (Some("RECORD" | "STRUCT"), _) => Value::Object(decode_row(
            field["fields"].as_array().map_or(&[][..], Vec::as_slice),
            value,
        )),
        _ => value.clone(),
    }
}

/// Microseconds since the epoch of a TIMESTAMP cell, whichever encoding the server used: the
/// emulator sends integer microseconds, BigQuery floating-point seconds.
pub fn timestamp_micros(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    if let Ok(micros) = text.parse::<i64>() {
        return Some(micros);
    }
    text.parse::<f64>().ok().map(|seconds| (seconds * 1_000_000.0).round() as i64)
}

/// The repository root, where `.venv-bq/` lives.
pub fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf()
}

fn find_or_start() -> Result<Emulator, String> {
    if let Ok(url) = std::env::var(EMULATOR_URL_VAR) {
        let url = url.trim_end_matches('/').to_string();
        wait_ready(&url, Duration::from_secs(10)).map_err(|error| {
            format!(
                "{EMULATOR_URL_VAR}={url} does not answer /readyz ({error}); unset it or run \
                 `cargo xtask test`"
            )
        })?;
        return Ok(Emulator { url });
    }

    let root = repository_root();
    let program = root.join(".venv-bq/bin/bqemulator");
    if !program.exists() {
        return Err(format!(
            "the BigQuery emulator is not installed ({} is missing); run the tests with \
             `cargo xtask test`, which installs it, or install it with \
             `scripts/bq-emulator.sh install`",
            program.display()
        ));
    }
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let log = std::env::temp_dir().join(format!("ashflow-bqemulator-{}.log", std::process::id()));
    start_child(program, root.join(".bq-home"), port, log.clone())?;
    wait_ready(&url, STARTUP_DEADLINE).map_err(|error| {
        format!("the BigQuery emulator did not start ({error}); its log is {}", log.display())
    })?;
    Ok(Emulator { url })
}

/// Starts the emulator from a thread that lives until the process exits (see the module docs).
fn start_child(program: PathBuf, home: PathBuf, port: u16, log: PathBuf) -> Result<(), String> {
    let (started, outcome) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bq-emulator".into())
        .spawn(move || {
            let spawned = File::create(&log).and_then(|log_file| {
                let errors = log_file.try_clone()?;
                let mut command = Command::new(&program);
                command
                    .args(emulator_arguments(port))
                    .env("HOME", &home)
                    .stdin(Stdio::null())
                    .stdout(log_file)
                    .stderr(errors);
                // SAFETY: prctl is async-signal-safe, and the closure touches no memory of the
                // parent; it only asks the kernel to kill the child when this thread ends.
                unsafe {
                    command.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                command.spawn()
            });
            match spawned {
                Ok(mut child) => {
                    let _ = started.send(Ok(()));
                    // Waiting keeps this thread, and so the death signal, tied to the process.
                    let _ = child.wait();
                    // An emulator that died early is reported by the readiness wait; one that
                    // dies later fails the requests that need it. Either way, this thread
                    // stays parked so nothing else depends on when it returns.
                    loop {
                        std::thread::park();
                    }
                }
                Err(error) => {
                    let _ =
                        started.send(Err(format!("cannot start {}: {error}", program.display())));
                }
            }
        })
        .map_err(|error| format!("cannot start the emulator's thread: {error}"))?;
    outcome.recv().map_err(|_| "the emulator's thread stopped".to_string())?
}

/// The emulator's command-line arguments for REST on `port` (gRPC on any free port).
pub fn emulator_arguments(port: u16) -> Vec<String> {
    [
        "start",
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        &port.to_string(),
        "--grpc-host",
        "127.0.0.1",
        "--grpc-port",
        "0",
        "--project",
        PROJECT,
        "--log-level",
        "warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|address| address.port()).map_err(|e| e.to_string())
}

/// Waits until `GET /readyz` answers 200.
fn wait_ready(url: &str, deadline: Duration) -> Result<(), String> {
    let address = url.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < deadline {
        match ready_once(&address) {
            Ok(true) => return Ok(()),
            Ok(false) => last = "not ready".into(),
            Err(error) => last = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{last} after {}s", deadline.as_secs()))
}

fn ready_once(address: &str) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(format!("GET /readyz HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
}
