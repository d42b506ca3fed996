//! The test and CI commands.

use std::process::Command;

use crate::run;

/// Runs every test of the workspace.
pub(crate) fn test() -> Result<(), String> {
    run("cargo", &["test", "--workspace", "--locked", "--quiet"])
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
