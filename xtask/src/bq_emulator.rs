//! The BigQuery emulator for the test command: installed by `scripts/bq-emulator.sh`, started
//! once before `cargo test` on free ports of 127.0.0.1, and stopped when the tests end.
//!
//! The tests find it through `ASHFLOW_BQ_EMULATOR_URL`, so every test binary shares one
//! emulator instead of starting its own. It is killed when [`BigQueryEmulator`] is dropped, and
//! by the kernel if xtask itself dies first (`PR_SET_PDEATHSIG`, set for the main thread, which
//! lives as long as xtask).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{project_root, run};

/// The variable the BigQuery sink's tests read the emulator's address from.
pub(crate) const EMULATOR_URL_VAR: &str = "ASHFLOW_BQ_EMULATOR_URL";

/// How long the emulator may take to answer `/readyz`.
const STARTUP_DEADLINE: Duration = Duration::from_secs(90);

/// A running emulator, killed when dropped.
pub(crate) struct BigQueryEmulator {
    child: Child,
    url: String,
}

impl BigQueryEmulator {
    /// Installs the emulator when missing (once per machine), starts it and waits until ready.
    pub(crate) fn start() -> Result<BigQueryEmulator, String> {
        run("bash", &["scripts/bq-emulator.sh", "install"])?;
        let root = project_root();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .map_err(|error| format!("no free local port for the BigQuery emulator: {error}"))?;
        let mut command = Command::new(root.join(".venv-bq/bin/bqemulator"));
        command
            .args(["start", "--rest-host", "127.0.0.1", "--rest-port"])
            .arg(port.to_string())
            .args(["--grpc-host", "127.0.0.1", "--grpc-port", "0", "--project", "ashflow-test"])
            .args(["--log-level", "warning"])
            .env("HOME", root.join(".bq-home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: prctl is async-signal-safe and the closure touches no parent memory.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start the BigQuery emulator: {error}"))?;
        let emulator = BigQueryEmulator { child, url: format!("http://127.0.0.1:{port}") };
        emulator.wait_ready()?;
        eprintln!("xtask: BigQuery emulator ready at {}", emulator.url);
        Ok(emulator)
    }

    /// The API root, such as `http://127.0.0.1:41234`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn wait_ready(&self) -> Result<(), String> {
        let address = self.url.trim_start_matches("http://");
        let started = Instant::now();
        while started.elapsed() < STARTUP_DEADLINE {
            if ready(address).unwrap_or(false) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "the BigQuery emulator did not answer {}/readyz within {}s; run \
             `scripts/bq-emulator.sh install` and start .venv-bq/bin/bqemulator by hand to see why",
            self.url,
            STARTUP_DEADLINE.as_secs()
        ))
    }
}

impl Drop for BigQueryEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready(address: &str) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(format!("GET /readyz HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
}
