//! Checks of the project's own conventions, run by the ordinary test command.
//!
//! - Every Rust file starts with a `//!` line saying what it is for.
//! - Known shortcomings are `FIXME:` with a sentence, never bare markers.
//! - Plugin crates depend on `ashflow-core` and no other ashflow crate; `core` depends on none.
//! - Every member crate takes its dependencies from `[workspace.dependencies]`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::project_root;

const PLUGIN_PREFIXES: [&str; 2] = ["source-", "sink-"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["crates", "tests", "xtask"] {
        rust_files(&project_root().join(dir), &mut files);
    }
    files
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let missing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            !text.lines().take(5).any(|line| line.starts_with("//!"))
        })
        .collect();
    assert!(missing.is_empty(), "files without a `//!` line near the top: {missing:#?}");
}

#[test]
fn shortcomings_are_fixme_sentences_not_bare_markers() {
    let bare_markers = ["TO".to_owned() + "DO", "XX".to_owned() + "X", "HA".to_owned() + "CK"];
    let mut offenders = Vec::new();
    for path in all_rust_files() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (index, line) in text.lines().enumerate() {
            let bare_fixme = line.trim_end().ends_with("FIXME") || line.contains("FIXME: \n");
            let marker = bare_markers
                .iter()
                .any(|m| line.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == m));
            if bare_fixme || marker {
                offenders.push(format!("{}:{}", path.display(), index + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use `FIXME: <what is missing and what it costs>`: {offenders:#?}"
    );
}

fn manifest(crate_dir: &str) -> String {
    fs::read_to_string(project_root().join("crates").join(crate_dir).join("Cargo.toml"))
        .unwrap_or_default()
}

/// The `ashflow-*` crates named in a manifest's `[dependencies]` section.
fn ashflow_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies && line.starts_with("ashflow-") {
            found.push(line.split(['.', ' ', '=']).next().unwrap_or_default().to_string());
        }
    }
    found
}

fn crate_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = fs::read_dir(project_root().join("crates"))
        .map(|entries| {
            entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

#[test]
fn plugins_depend_on_core_only_and_core_on_nothing_of_ours() {
    assert!(ashflow_dependencies(&manifest("core")).is_empty());

    for dir in crate_dirs() {
        if !PLUGIN_PREFIXES.iter().any(|prefix| dir.starts_with(prefix)) {
            continue;
        }
        let dependencies = ashflow_dependencies(&manifest(&dir));
        assert_eq!(dependencies, ["ashflow-core"], "crates/{dir} may depend on ashflow-core only");
    }
}

#[test]
fn member_crates_take_every_dependency_from_the_workspace() {
    let mut offenders = Vec::new();
    let mut manifests: Vec<PathBuf> = crate_dirs()
        .iter()
        .map(|dir| project_root().join("crates").join(dir).join("Cargo.toml"))
        .collect();
    manifests.push(project_root().join("xtask/Cargo.toml"));

    for path in manifests {
        let text = fs::read_to_string(&path).unwrap_or_default();
        let mut in_dependencies = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_dependencies = line.ends_with("dependencies]");
                continue;
            }
            if in_dependencies
                && !line.is_empty()
                && !line.starts_with('#')
                && !line.contains("workspace = true")
            {
                offenders.push(format!("{}: {line}", path.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "declare these in [workspace.dependencies]: {offenders:#?}");
}
