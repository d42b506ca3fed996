//! The full-export benchmark: a release build of `ashflow` exports a fake Ashby account that
//! answers every request after an added latency, and the wall time, peak memory and request
//! count are printed.
//!
//! The fake runs as a separate process (`ashflow fake-ashby`) so that its generated data does
//! not count towards the exporter's peak memory. Peak memory is the exporter's own maximum
//! resident set size, reported by `wait4` for that one process (`getrusage(RUSAGE_CHILDREN)`
//! would also count the release build that xtask ran before).

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{project_root, run};

const API_KEY: &str = "bench-key";

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
    let outcome = export_once(&binary, port);
    let served = stop_fake(&mut fake);

    let outcome = outcome?;
    println!("{}", outcome.summary.trim_end());
    println!();
    println!(
        "benchmark: full export, {} candidates, {} ms latency",
        options.candidates, options.latency_ms
    );
    println!("  wall time      {:.2} s", outcome.wall.as_secs_f64());
    println!(
        "  peak memory    {:.1} MiB (exporter's max RSS)",
        outcome.peak_rss_kib as f64 / 1024.0
    );
    println!("  exit code      {}", outcome.exit_code);
    println!("  fake server    {}", served.trim());
    if outcome.exit_code == 0 { Ok(()) } else { Err("the export did not succeed".into()) }
}

struct Outcome {
    wall: Duration,
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

fn export_once(binary: &Path, port: u16) -> Result<Outcome, String> {
    let workdir = std::env::temp_dir().join(format!("ashflow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).map_err(|e| format!("cannot create {workdir:?}: {e}"))?;
    let spec = workdir.join("bench.toml");
    let text = format!(
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${{ASHBY_API_KEY}}\"\n\
         base_url = \"http://127.0.0.1:{port}\"\n\n\
         [sinks.workbook]\ntype = \"excel\"\npath = \"out/ashby.xlsx\"\n\n\
         [sinks.ai]\ntype = \"ai_json\"\npath = \"out/ai\"\n"
    );
    std::fs::write(&spec, text).map_err(|e| format!("cannot write {spec:?}: {e}"))?;

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

    let _ = std::fs::remove_dir_all(&workdir);
    Ok(Outcome { wall, peak_rss_kib, exit_code, summary })
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
