//! The test and CI commands.

use std::process::Command;

use crate::bq_emulator::{BigQueryEmulator, EMULATOR_URL_VAR};
use crate::{project_root, run};

/// Runs every test of the workspace, with the BigQuery emulator installed and running for the
/// BigQuery sink's tests (one emulator for the whole run, stopped afterwards).
pub(crate) fn test() -> Result<(), String> {
    let emulator = BigQueryEmulator::start()?;
    let args = ["test", "--workspace", "--locked", "--quiet"];
    eprintln!("$ {EMULATOR_URL_VAR}={} cargo {}", emulator.url(), args.join(" "));
    let status = Command::new("cargo")
        .args(args)
        .env(EMULATOR_URL_VAR, emulator.url())
        .current_dir(project_root())
        .status()
        .map_err(|error| format!("cannot start cargo: {error}"))?;
    drop(emulator);
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed with {status}", args.join(" ")))
    }
}

/// Runs every check CI runs, stopping at the first failure.
pub(crate) fn ci() -> Result<(), String> {
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    test()?;
    deny()
}

/// Checks licenses, banned crates and crate sources with cargo-deny.
///
/// The advisory check needs to clone the RustSec database from GitHub, which these machines
/// cannot reach, so it is left to machines that can (`cargo deny check advisories`).
fn deny() -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        return Err("cargo-deny is not installed; install it with \
                    `cargo install cargo-deny --locked` (CI's .ci/run does this)"
            .into());
    }
    run("cargo", &["deny", "--locked", "check", "licenses", "bans", "sources"])
}
