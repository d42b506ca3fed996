//! Spec files and the command line: examples pass `ashflow check`, mistakes are reported with
//! their line, and the binary's exit codes and help answer.

use std::path::PathBuf;
use std::process::{Command, Output};

use ashflow_runner::check_spec;

use crate::support::*;

fn ashflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ashflow")).args(args).output().expect("the binary runs")
}

fn examples() -> Vec<PathBuf> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("examples/ exists")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    specs.sort();
    specs
}

#[test]
fn every_example_passes_check() {
    let specs = examples();
    assert!(!specs.is_empty());
    for spec in specs {
        if let Err(error) = check_spec(&spec) {
            panic!("{} fails check:\n{error}", spec.display());
        }
        let output = ashflow(&["check", spec.to_str().expect("utf-8 path")]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn a_misspelt_key_is_reported_with_its_line_and_exit_code_2() {
    let workspace = Workspace::new();
    let spec = workspace.write(
        "spec.toml",
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${ASHBY_API_KEY}\"\n\n\
         [sinks.workbook]\ntype = \"excel\"\npaht = \"out.xlsx\"\n",
    );

    let message = check_spec(&spec).expect_err("the spec is invalid").to_string();
    assert!(message.contains("spec.toml:7"), "{message}");
    assert!(message.contains("paht"), "{message}");

    let output = ashflow(&["check", spec.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("spec.toml:7"), "{stderr}");
}

#[test]
fn a_missing_environment_variable_is_a_spec_error_that_says_what_to_export() {
    let workspace = Workspace::new();
    let spec = workspace.write(
        "spec.toml",
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${ASHFLOW_E2E_UNSET_KEY}\"\n\n\
         [sinks.workbook]\ntype = \"excel\"\npath = \"out.xlsx\"\n",
    );

    let output = ashflow(&["run", "--no-progress", spec.to_str().expect("utf-8 path")]);

    assert_eq!(output.status.code(), Some(2));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("ASHFLOW_E2E_UNSET_KEY"), "{text}");
    assert!(!workspace.path("out.xlsx").exists());
}

#[test]
fn help_names_every_command() {
    let output = ashflow(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["run", "check", "plugins", "demo", "fake-ashby"] {
        assert!(help.contains(command), "--help mentions {command}:\n{help}");
    }
}

#[test]
fn sinks_that_would_overwrite_each_other_are_refused_by_check() {
    let workspace = Workspace::new();
    let spec = workspace.write(
        "spec.toml",
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${ASHBY_API_KEY}\"\n\n\
         [sinks.workbook]\ntype = \"excel\"\npath = \"out/ashby.xlsx\"\n\n\
         [sinks.ai]\ntype = \"ai_json\"\npath = \"out\"\n",
    );
    let roundabout = workspace.write(
        "roundabout.toml",
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${ASHBY_API_KEY}\"\n\n\
         [sinks.one]\ntype = \"excel\"\npath = \"out/a.xlsx\"\n\n\
         [sinks.two]\ntype = \"excel\"\npath = \"./out/../out/a.xlsx\"\n",
    );
    assert!(check_spec(&roundabout).is_err(), "the same file spelt another way is refused");

    let message = check_spec(&spec).expect_err("the sinks overlap").to_string();

    assert!(message.contains("[sinks.ai]") && message.contains("[sinks.workbook]"), "{message}");
    assert!(message.contains("separate paths"), "{message}");
}
