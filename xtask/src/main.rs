//! Project automation, run as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! - `test`: the test suite, exactly as the README and CI run it, with the BigQuery emulator
//!   installed (once, into `.venv-bq/`) and running for the BigQuery sink's tests.
//! - `ci`: everything CI checks: formatting, clippy with warnings denied, the tests, and
//!   cargo-deny's license, ban and source checks.
//! - `bench`: the full-export benchmark against the fake Ashby server with added latency.
//!
//! The tidy checks (module docs, shortcoming markers, layering) are `#[test]`s in `tidy.rs`, so
//! the plain test command enforces them too.

mod bench;
mod bq_emulator;
mod ci;
#[cfg(test)]
mod tidy;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test             run the test suite (what the README's test command runs); installs
                   and starts the BigQuery emulator for the BigQuery sink's tests
  ci               format check, clippy -D warnings, tests, cargo-deny (what CI runs)
  bench [options]  full export of the fake Ashby account through a release build

bench options:
  --candidates N   size of the fake account (default 20000)
  --latency-ms N   latency the fake adds to every request (default 50)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => ci::test(),
        Some("ci") => ci::ci(),
        Some("bench") => bench::bench(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root, found from this crate's manifest directory.
fn project_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(PathBuf::from).unwrap_or(manifest_dir)
}

/// Runs a command in the project root, echoing it, and fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(project_root())
        .status()
        .map_err(|error| format!("cannot start {program}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed with {status}", args.join(" ")))
    }
}
