//! The staging folder and the swap that publishes it, so readers see either the previous export
//! or the new one, never a half-written folder.
//!
//! For an output folder `out/ai`, a run writes into a hidden sibling `out/.ai.ashflow-new-XXXXXX`
//! (created when the sink opens, in the same parent so the renames below stay on one file
//! system). Publishing then runs these steps:
//!
//! 1. Every file in the staging folder is already flushed and synced; the folder is synced.
//! 2. The previous `out/ai`, if any, is renamed to `out/.ai.ashflow-old-XXXXXX` (same suffix).
//! 3. The staging folder is renamed to `out/ai`, and the parent folder is synced.
//! 4. The old folder is deleted, along with any `.ai.ashflow-old-*` left by an earlier run that
//!    died at this point.
//!
//! If the process dies after step 2 and before step 3, `out/ai` is missing but nothing is lost:
//! the previous export is complete in `.ai.ashflow-old-XXXXXX` and the new one is complete in
//! `.ai.ashflow-new-XXXXXX`; rename either back to `ai` (the next successful run publishes a new
//! one either way). If it dies after step 3, `out/ai` is the new export and the old folder is
//! a leftover that the next successful run deletes. If step 3 fails, step 2 is undone. A sink
//! dropped before publishing deletes its staging folder and leaves `out/ai` untouched.
//!
//! Because the folder is replaced as a whole, the sink refuses to replace a folder that it did
//! not write: the target must be missing, empty, or hold a `dictionary.json` of this format.
//!
//! FIXME: A staging folder of a process that was killed (rather than failing) is not deleted
//! by later runs, because a concurrent run's folder looks the same; such `.<name>.ashflow-new-*`
//! folders stay beside the output until removed by hand.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::dictionary::{DICTIONARY_FILE, FORMAT_PREFIX};
use crate::error::AiJsonError;

const NEW_MARK: &str = ".ashflow-new-";
const OLD_MARK: &str = ".ashflow-old-";

/// The unpublished output of one run.
#[derive(Debug)]
pub(crate) struct Staging {
    folder: TempDir,
    target: PathBuf,
}

impl Staging {
    /// Checks that `target` may be replaced and creates the staging folder beside it, creating
    /// the parent folders when they are missing.
    pub(crate) fn create(target: &Path) -> Result<Self, AiJsonError> {
        ensure_replaceable(target)?;

        let parent = parent_of(target);
        fs::create_dir_all(&parent).map_err(|source| {
            AiJsonError::io(format!("cannot create the folder {}", parent.display()), source)
        })?;

        let prefix = format!(".{}{NEW_MARK}", folder_name(target));
        let folder =
            tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent).map_err(|source| {
                AiJsonError::io(
                    format!("cannot create a staging folder in {}", parent.display()),
                    source,
                )
            })?;
        Ok(Staging { folder, target: target.to_path_buf() })
    }

    /// The folder the run writes into.
    pub(crate) fn path(&self) -> &Path {
        self.folder.path()
    }

    /// Swaps the staging folder into place, as the module documentation describes.
    pub(crate) fn publish(self) -> Result<(), AiJsonError> {
        let Staging { folder, target } = self;
        ensure_replaceable(&target)?;
        sync_folder(folder.path())?;

        let parent = parent_of(&target);
        let aside = aside_path(folder.path());
        let had_previous = target.exists();
        if had_previous {
            rename(&target, &aside)?;
        }

        // From here the staging folder is ours to clean up: after the rename below its old
        // path no longer exists, and the new path must never be deleted by a drop.
        let staged = folder.keep();
        if let Err(error) = rename(&staged, &target) {
            if had_previous {
                restore_previous(&aside, &target);
            }
            remove_quietly(&staged);
            return Err(error);
        }

        // The export is in place now; failing to sync the parent must not report it as unpublished.
        if let Err(error) = sync_folder(&parent) {
            tracing::warn!(
                component_kind = "sink",
                component_type = "ai_json",
                folder = %parent.display(),
                error = %error,
                "Could not sync the output's parent folder."
            );
        }
        remove_leftovers(&parent, &target);
        Ok(())
    }
}

/// Refuses a target that is a file, or a folder this sink did not write.
fn ensure_replaceable(target: &Path) -> Result<(), AiJsonError> {
    let Ok(metadata) = fs::metadata(target) else {
        return Ok(());
    };
    if !metadata.is_dir() {
        return Err(AiJsonError::NotAFolder { path: target.to_path_buf() });
    }

    let listing_error =
        |source| AiJsonError::io(format!("cannot list the folder {}", target.display()), source);
    let is_empty = fs::read_dir(target).map_err(listing_error)?.next().is_none();
    if is_empty || holds_earlier_export(target) {
        return Ok(());
    }
    Err(AiJsonError::ForeignFolder { path: target.to_path_buf() })
}

/// True when the folder's `dictionary.json` names this sink's format.
fn holds_earlier_export(folder: &Path) -> bool {
    let Ok(text) = fs::read_to_string(folder.join(DICTIONARY_FILE)) else {
        return false;
    };
    let Ok(dictionary) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    dictionary
        .get("format")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|format| format.starts_with(FORMAT_PREFIX))
}

fn folder_name(target: &Path) -> String {
    target.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `.<name>.ashflow-old-XXXXXX` for the staging folder `.<name>.ashflow-new-XXXXXX`.
fn aside_path(staging: &Path) -> PathBuf {
    let name = staging.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    staging.with_file_name(name.replacen(NEW_MARK, OLD_MARK, 1))
}

fn rename(from: &Path, to: &Path) -> Result<(), AiJsonError> {
    fs::rename(from, to).map_err(|source| {
        AiJsonError::io(format!("cannot rename {} to {}", from.display(), to.display()), source)
    })
}

fn restore_previous(aside: &Path, target: &Path) {
    if let Err(error) = fs::rename(aside, target) {
        tracing::error!(
            component_kind = "sink",
            component_type = "ai_json",
            previous = %aside.display(),
            target = %target.display(),
            error = %error,
            "Could not move the previous export back; rename it by hand."
        );
    }
}

fn remove_quietly(folder: &Path) {
    if let Err(error) = fs::remove_dir_all(folder) {
        tracing::warn!(
            component_kind = "sink",
            component_type = "ai_json",
            folder = %folder.display(),
            error = %error,
            "Could not delete the staging folder."
        );
    }
}

/// Deletes the previous export and any older ones set aside by runs that died mid-swap; each
/// is superseded by the export just published.
fn remove_leftovers(parent: &Path, target: &Path) {
    let prefix = format!(".{}{OLD_MARK}", folder_name(target));
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let is_leftover = entry.file_name().to_string_lossy().starts_with(&prefix)
            && entry.file_type().is_ok_and(|kind| kind.is_dir());
        if is_leftover {
            remove_quietly(&entry.path());
        }
    }
}

/// Syncs a folder's entries to disk, so the renames of a publish survive a power loss.
#[cfg(unix)]
fn sync_folder(folder: &Path) -> Result<(), AiJsonError> {
    fs::File::open(folder).and_then(|handle| handle.sync_all()).map_err(|source| {
        AiJsonError::io(format!("cannot sync the folder {}", folder.display()), source)
    })
}

/// Folders cannot be opened for syncing on this platform; renames are left to the OS.
#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> Result<(), AiJsonError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::write(path, text).unwrap();
    }

    fn earlier_export(folder: &Path) {
        fs::create_dir_all(folder).unwrap();
        write(&folder.join(DICTIONARY_FILE), &format!("{{\"format\": \"{FORMAT_PREFIX}1\"}}"));
        write(&folder.join("old.jsonl"), "{}\n");
    }

    fn siblings(parent: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(parent)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn publishing_replaces_the_previous_export_and_leaves_no_hidden_folders() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("ai");
        earlier_export(&target);
        fs::create_dir(root.path().join(".ai.ashflow-old-crashed")).unwrap();

        let staging = Staging::create(&target).unwrap();
        write(&staging.path().join("new.jsonl"), "{}\n");
        staging.publish().unwrap();

        assert_eq!(siblings(root.path()), ["ai"]);
        assert_eq!(siblings(&target), ["new.jsonl"]);
    }

    #[test]
    fn missing_parent_folders_are_created() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out/deeper/ai");

        Staging::create(&target).unwrap().publish().unwrap();

        assert!(target.is_dir());
    }

    #[test]
    fn a_dropped_staging_folder_disappears_and_the_export_stays() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("ai");
        earlier_export(&target);

        let staging = Staging::create(&target).unwrap();
        write(&staging.path().join("new.jsonl"), "{}\n");
        drop(staging);

        assert_eq!(siblings(root.path()), ["ai"]);
        assert_eq!(siblings(&target), ["dictionary.json", "old.jsonl"]);
    }

    #[test]
    fn a_folder_this_sink_did_not_write_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("documents");
        fs::create_dir(&target).unwrap();
        write(&target.join("thesis.docx"), "precious");

        let error = Staging::create(&target).unwrap_err();

        assert!(matches!(error, AiJsonError::ForeignFolder { .. }));
        assert!(error.to_string().contains("point `path` at a new or empty folder"), "{error}");
        assert_eq!(siblings(&target), ["thesis.docx"]);
    }

    #[test]
    fn a_folder_that_changes_hands_before_publishing_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("ai");
        let staging = Staging::create(&target).unwrap();
        fs::create_dir(&target).unwrap();
        write(&target.join("notes.txt"), "mine");

        let error = staging.publish().unwrap_err();

        assert!(matches!(error, AiJsonError::ForeignFolder { .. }));
        assert_eq!(siblings(root.path()), ["ai"]);
        assert_eq!(siblings(&target), ["notes.txt"]);
    }

    #[test]
    fn a_file_in_the_way_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("ai");
        write(&target, "not a folder");

        let error = Staging::create(&target).unwrap_err();

        assert!(matches!(error, AiJsonError::NotAFolder { .. }));
    }

    #[test]
    fn the_aside_name_shares_the_staging_suffix() {
        let aside = aside_path(Path::new("/x/.ai.ashflow-new-Ab12"));
        assert_eq!(aside, Path::new("/x/.ai.ashflow-old-Ab12"));
    }
}
