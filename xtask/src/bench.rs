//! The sync benchmark: a release build of `ashflow` exports a fake Ashby account that answers
//! every request after an added latency, three times: a full export, an incremental run with
//! nothing changed upstream, and an incremental run after some records were changed upstream.
//! For each it prints the wall time, peak memory and requests; after the third it checks that
//! the output equals a fresh full export into another folder.
//!
//! The fake runs as a separate process (`ashflow fake-ashby`) so that its generated data does
//! not count towards the exporter's peak memory. Peak memory is the exporter's own maximum
//! resident set size, reported by `wait4` for that one process (`getrusage(RUSAGE_CHILDREN)`
//! would also count the release build that xtask ran before).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{project_root, run};

const API_KEY: &str = "bench-key";

/// The records changed upstream before the third run: (entity, count).
const CHANGES: [(&str, u32); 3] = [("candidates", 250), ("applications", 120), ("jobs", 5)];

struct Options {
    candidates: u32,
    latency_ms: u32,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options { candidates: 20_000, latency_ms: 50 };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u32 = value.parse().map_err(|_| format!("{flag} takes a whole number"))?;
        match flag.as_str() {
            "--candidates" => options.candidates = number,
            "--latency-ms" => options.latency_ms = number,
            _ => return Err(format!("unknown bench option {flag}")),
        }
    }
    Ok(options)
}

pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    run("cargo", &["build", "--release", "--locked", "--quiet", "-p", "ashflow-runner"])?;
    let binary = project_root().join("target/release/ashflow");

    let port = free_port()?;
    let mut fake = start_fake(&binary, port, &options)?;
    let root = std::env::temp_dir().join(format!("ashflow-bench-{}", std::process::id()));
    let result = three_runs(&binary, port, &root);
    let served = stop_fake(&mut fake);
    let _ = std::fs::remove_dir_all(&root);
    let (runs, same_as_fresh) = result?;

    println!("{}", runs[0].summary.trim_end());
    println!();
    println!(
        "benchmark: {} candidates, {} ms latency per request",
        options.candidates, options.latency_ms
    );
    let changed: Vec<String> = CHANGES.iter().map(|(e, n)| format!("{n} {e}")).collect();
    let labels = [
        "full export (first run)".to_string(),
        "incremental, nothing changed".to_string(),
        format!("incremental, after changing {}", changed.join(", ")),
    ];
    for (label, run) in labels.iter().zip(&runs) {
        println!("  {label}");
        println!("    wall time      {:.2} s", run.wall.as_secs_f64());
        println!("    requests       {}", run.requests);
        println!(
            "    peak memory    {:.1} MiB (exporter's max RSS)",
            run.peak_rss_kib as f64 / 1024.0
        );
        println!("    exit code      {}", run.exit_code);
    }
    println!(
        "  third run's output equals a fresh full export: {}",
        if same_as_fresh { "yes (every AI JSON Lines file identical)" } else { "NO" }
    );
    println!("  fake server    {}", served.trim());
    if runs.iter().any(|run| run.exit_code != 0) {
        return Err("a run did not succeed".into());
    }
    if !same_as_fresh {
        return Err("the incremental output differs from a fresh full export".into());
    }
    Ok(())
}

/// The full run, the unchanged run and the run after changes, in one state folder; then a
/// fresh full export into another folder, compared with the third run's output.
fn three_runs(binary: &Path, port: u16, root: &Path) -> Result<(Vec<Outcome>, bool), String> {
    let incremental = root.join("incremental");
    let fresh = root.join("fresh");
    let mut runs = Vec::new();
    runs.push(export_once(binary, port, &incremental)?);
    runs.push(export_once(binary, port, &incremental)?);
    for (entity, count) in CHANGES {
        control(port, "POST", "mutate", &format!(r#"{{"entity":"{entity}","count":{count}}}"#))?;
    }
    runs.push(export_once(binary, port, &incremental)?);
    let fresh_run = export_once(binary, port, &fresh)?;
    if fresh_run.exit_code != 0 {
        return Err("the fresh full export did not succeed".into());
    }
    let same = ai_outputs(&incremental)? == ai_outputs(&fresh)?;
    Ok((runs, same))
}

/// Every JSON Lines file of a run's AI folder, by name.
fn ai_outputs(workdir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let folder = workdir.join("out/ai");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&folder).map_err(|e| format!("cannot list {folder:?}: {e}"))? {
        let path = entry.map_err(|e| format!("cannot list {folder:?}: {e}"))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") {
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
            files.push((name, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// Sends a control request to the fake (`/_fake/COMMAND`) and returns the answer's body.
fn control(port: u16, method: &str, command: &str, body: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("cannot reach the fake server: {e}"))?;
    let request = format!(
        "{method} /_fake/{command} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send a control request: {e}"))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| format!("cannot read a control answer: {e}"))?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(format!("the fake refused /_fake/{command}: {answer}"));
    }
    Ok(answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
}

/// The number of Ashby requests the fake has received so far.
fn request_count(port: u16) -> Result<u64, String> {
    let body = control(port, "GET", "requests", "")?;
    let digits: String = body
        .split("\"count\"")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().map_err(|_| format!("the fake's request count is unreadable: {body}"))
}

struct Outcome {
    wall: Duration,
    requests: u64,
    peak_rss_kib: i64,
    exit_code: i32,
    summary: String,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no free port: {e}"))
}

fn start_fake(binary: &Path, port: u16, options: &Options) -> Result<Child, String> {
    let child = Command::new(binary)
        .args(["fake-ashby", "--port", &port.to_string(), "--api-key", API_KEY])
        .args(["--candidates", &options.candidates.to_string()])
        .args(["--latency-ms", &options.latency_ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the fake server: {e}"))?;

    // Generating a large account takes a few seconds; the port opens when it is ready.
    let deadline = Instant::now() + Duration::from_secs(300);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("the fake server did not start within 300 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(child)
}

/// Runs the bench spec in `workdir` (its state stays there between runs) once.
fn export_once(binary: &Path, port: u16, workdir: &Path) -> Result<Outcome, String> {
    std::fs::create_dir_all(workdir).map_err(|e| format!("cannot create {workdir:?}: {e}"))?;
    let spec = workdir.join("bench.toml");
    let text = format!(
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${{ASHBY_API_KEY}}\"\n\
         base_url = \"http://127.0.0.1:{port}\"\n\n\
         [sinks.workbook]\ntype = \"excel\"\npath = \"out/ashby.xlsx\"\n\n\
         [sinks.ai]\ntype = \"ai_json\"\npath = \"out/ai\"\n"
    );
    std::fs::write(&spec, text).map_err(|e| format!("cannot write {spec:?}: {e}"))?;

    let requests_before = request_count(port)?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["run", "--no-progress", "--quiet"])
        .arg(&spec)
        .env("ASHBY_API_KEY", API_KEY)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the export: {e}"))?;
    let mut summary = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        let _ = stdout.read_to_string(&mut summary);
    }
    let (exit_code, peak_rss_kib) = wait_with_peak_rss(&child)?;
    let wall = started.elapsed();
    let requests = request_count(port)? - requests_before;
    Ok(Outcome { wall, requests, peak_rss_kib, exit_code, summary })
}

/// Reaps `child` and returns its exit code and its own peak resident set size in KiB.
fn wait_with_peak_rss(child: &Child) -> Result<(i32, i64), String> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes only into `status` and the zeroed `usage`, both on our stack, and
    // `pid` is our own child, which nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if reaped != pid {
        return Err(format!("waiting for the export failed: {}", std::io::Error::last_os_error()));
    }
    let exit_code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((exit_code, usage.ru_maxrss))
}

/// Stops the fake with SIGINT, as Ctrl-C would, and returns the line it prints about the
/// requests it served.
fn stop_fake(fake: &mut Child) -> String {
    // SAFETY: kill with a valid pid of our own child and a standard signal has no memory effects.
    unsafe {
        libc::kill(fake.id() as libc::pid_t, libc::SIGINT);
    }
    let mut served = String::from("(the fake printed no request count)");
    if let Some(stdout) = fake.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("requests") {
                served = line;
            }
        }
    }
    let _ = fake.wait();
    served
}
