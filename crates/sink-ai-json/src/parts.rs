//! Writing one dataset's JSON Lines, split into parts no larger than the configured size.
//!
//! Naming: a dataset that fits in one file is `<dataset>.jsonl`. A dataset that does not is
//! written as `<dataset>.part-001.jsonl`, `<dataset>.part-002.jsonl` and so on, every part
//! numbered, so a file name never claims to hold a whole dataset when it holds a piece. The
//! writer starts with `<dataset>.jsonl` and renames it to `part-001` the moment a second part is
//! needed; that is cheap because everything is still in the unpublished staging folder.
//!
//! Every part holds whole lines and is at most the limit in bytes, newline included, except a
//! part holding a single record that alone exceeds the limit: such a record is written to a
//! part of its own, never dropped, and reported. An empty dataset still gets its (empty) file,
//! so every dataset in the dictionary has at least one file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::AiJsonError;

/// The buffer in front of each part file; records are small, so this batches many per write.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// The file name of a dataset that fits in one file.
pub(crate) fn whole_file_name(dataset: &str) -> String {
    format!("{dataset}.jsonl")
}

/// The file name of the `number`th part (from 1) of a split dataset.
pub(crate) fn part_file_name(dataset: &str, number: usize) -> String {
    format!("{dataset}.part-{number:03}.jsonl")
}

/// A record that was larger than the limit and sits alone in its part.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OversizedRecord {
    /// How the record is named in the warning: its id, or its position.
    pub(crate) label: String,
    /// Its size in bytes, newline included.
    pub(crate) bytes: u64,
    /// The file it was written to.
    pub(crate) file: String,
}

/// What a finished dataset left on disk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WrittenParts {
    /// The part file names, in order.
    pub(crate) files: Vec<String>,
    /// The records that exceeded the limit.
    pub(crate) oversized: Vec<OversizedRecord>,
}

/// Writes the lines of one dataset into size-limited parts inside a folder.
pub(crate) struct PartWriter {
    folder: PathBuf,
    dataset: String,
    limit: u64,
    files: Vec<String>,
    current: BufWriter<File>,
    current_bytes: u64,
    current_lines: u64,
    oversized: Vec<(String, u64, usize)>,
}

impl PartWriter {
    /// Creates the dataset's first file in `folder`.
    pub(crate) fn create(folder: &Path, dataset: &str, limit: u64) -> Result<Self, AiJsonError> {
        let first = whole_file_name(dataset);
        let current = create_file(folder, &first)?;
        Ok(PartWriter {
            folder: folder.to_path_buf(),
            dataset: dataset.to_string(),
            limit,
            files: vec![first],
            current,
            current_bytes: 0,
            current_lines: 0,
            oversized: Vec::new(),
        })
    }

    /// Appends one line (which must end with a newline), starting a new part when the current
    /// one would grow past the limit. `label` names the record in a warning, if one is needed.
    pub(crate) fn write_line(
        &mut self,
        line: &[u8],
        label: impl FnOnce() -> String,
    ) -> Result<(), AiJsonError> {
        let length = u64::try_from(line.len()).unwrap_or(u64::MAX);

        // An empty part takes any record, so an oversized one is never dropped; a part that
        // already holds an oversized record is over the limit and so takes nothing more.
        if self.current_lines > 0 && self.current_bytes.saturating_add(length) > self.limit {
            self.start_next_part()?;
        }

        self.current.write_all(line).map_err(|source| self.write_error(source))?;
        self.current_bytes += length;
        self.current_lines += 1;

        if length > self.limit {
            self.oversized.push((label(), length, self.files.len() - 1));
        }
        Ok(())
    }

    /// Flushes and syncs the last part and returns what was written.
    pub(crate) fn finish(mut self) -> Result<WrittenParts, AiJsonError> {
        self.close_current()?;

        let oversized = self
            .oversized
            .iter()
            .map(|(label, bytes, part)| OversizedRecord {
                label: label.clone(),
                bytes: *bytes,
                file: self.files[*part].clone(),
            })
            .collect();
        Ok(WrittenParts { files: self.files, oversized })
    }

    fn start_next_part(&mut self) -> Result<(), AiJsonError> {
        self.close_current()?;

        let next = part_file_name(&self.dataset, self.files.len() + 1);
        let writer = create_file(&self.folder, &next)?;
        // Replacing the writer closes the previous part before it is renamed below.
        self.current = writer;
        self.files.push(next);
        self.current_bytes = 0;
        self.current_lines = 0;

        if self.files.len() == 2 {
            self.rename_first_part()?;
        }
        Ok(())
    }

    /// Renames `<dataset>.jsonl` to `<dataset>.part-001.jsonl` once the dataset is split.
    fn rename_first_part(&mut self) -> Result<(), AiJsonError> {
        let numbered = part_file_name(&self.dataset, 1);
        let from = self.folder.join(&self.files[0]);
        let to = self.folder.join(&numbered);

        // Renaming would silently replace a file another dataset wrote.
        if to.exists() {
            return Err(AiJsonError::FileClash { file: numbered });
        }
        std::fs::rename(&from, &to).map_err(|source| {
            AiJsonError::io(format!("cannot rename {} to {}", from.display(), to.display()), source)
        })?;
        self.files[0] = numbered;
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), AiJsonError> {
        self.current.flush().map_err(|source| self.write_error(source))?;
        self.current.get_ref().sync_all().map_err(|source| self.write_error(source))
    }

    fn write_error(&self, source: std::io::Error) -> AiJsonError {
        let file = self.files.last().map(String::as_str).unwrap_or_default();
        AiJsonError::io(format!("cannot write {}", self.folder.join(file).display()), source)
    }
}

/// Creates a new file, refusing to overwrite one that another dataset already wrote.
fn create_file(folder: &Path, name: &str) -> Result<BufWriter<File>, AiJsonError> {
    let path = folder.join(name);
    match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(file) => Ok(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(AiJsonError::FileClash { file: name.to_string() })
        }
        Err(source) => Err(AiJsonError::io(format!("cannot create {}", path.display()), source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, width: usize) -> Vec<u8> {
        let mut text = format!("{n:0width$}");
        text.push('\n');
        text.into_bytes()
    }

    fn read(folder: &Path, name: &str) -> String {
        std::fs::read_to_string(folder.join(name)).unwrap()
    }

    #[test]
    fn a_dataset_that_fits_keeps_its_plain_name() {
        let folder = tempfile::tempdir().unwrap();
        let mut writer = PartWriter::create(folder.path(), "jobs", 100).unwrap();
        writer.write_line(b"{\"id\":1}\n", String::new).unwrap();
        writer.write_line(b"{\"id\":2}\n", String::new).unwrap();

        let written = writer.finish().unwrap();

        assert_eq!(written.files, ["jobs.jsonl"]);
        assert!(written.oversized.is_empty());
        assert_eq!(read(folder.path(), "jobs.jsonl"), "{\"id\":1}\n{\"id\":2}\n");
    }

    #[test]
    fn an_empty_dataset_still_gets_its_file() {
        let folder = tempfile::tempdir().unwrap();
        let written = PartWriter::create(folder.path(), "offers", 100).unwrap().finish().unwrap();
        assert_eq!(written.files, ["offers.jsonl"]);
        assert_eq!(read(folder.path(), "offers.jsonl"), "");
    }

    #[test]
    fn a_split_dataset_numbers_every_part_and_fills_each_up_to_the_limit() {
        let folder = tempfile::tempdir().unwrap();
        let mut writer = PartWriter::create(folder.path(), "jobs", 30).unwrap();
        for n in 0..7 {
            writer.write_line(&line(n, 9), String::new).unwrap(); // 10 bytes each
        }

        let written = writer.finish().unwrap();

        assert_eq!(
            written.files,
            ["jobs.part-001.jsonl", "jobs.part-002.jsonl", "jobs.part-003.jsonl"]
        );
        assert!(!folder.path().join("jobs.jsonl").exists());
        assert_eq!(read(folder.path(), "jobs.part-001.jsonl").len(), 30);
        assert_eq!(read(folder.path(), "jobs.part-003.jsonl"), "000000006\n");
    }

    #[test]
    fn an_oversized_record_sits_alone_in_its_own_part_and_is_reported() {
        let folder = tempfile::tempdir().unwrap();
        let mut writer = PartWriter::create(folder.path(), "notes", 30).unwrap();
        writer.write_line(&line(1, 9), String::new).unwrap();
        writer.write_line(&line(2, 49), || "id big".into()).unwrap();
        writer.write_line(&line(3, 9), String::new).unwrap();

        let written = writer.finish().unwrap();

        assert_eq!(written.files.len(), 3);
        assert_eq!(
            read(folder.path(), "notes.part-002.jsonl"),
            String::from_utf8(line(2, 49)).unwrap()
        );
        assert_eq!(
            written.oversized,
            [OversizedRecord {
                label: "id big".into(),
                bytes: 50,
                file: "notes.part-002.jsonl".into()
            }]
        );
    }

    #[test]
    fn a_lone_oversized_record_keeps_the_plain_name() {
        let folder = tempfile::tempdir().unwrap();
        let mut writer = PartWriter::create(folder.path(), "notes", 30).unwrap();
        writer.write_line(&line(1, 49), || "position 1".into()).unwrap();

        let written = writer.finish().unwrap();

        assert_eq!(written.files, ["notes.jsonl"]);
        assert_eq!(written.oversized[0].file, "notes.jsonl");
    }

    #[test]
    fn a_part_name_taken_by_another_dataset_is_a_clash_not_an_overwrite() {
        let folder = tempfile::tempdir().unwrap();
        let other = PartWriter::create(folder.path(), "a.part-002", 100).unwrap();
        other.finish().unwrap();
        let mut writer = PartWriter::create(folder.path(), "a", 10).unwrap();
        writer.write_line(&line(1, 9), String::new).unwrap();

        let error = writer.write_line(&line(2, 9), String::new).unwrap_err();

        assert!(matches!(&error, AiJsonError::FileClash { file } if file == "a.part-002.jsonl"));
    }
}
