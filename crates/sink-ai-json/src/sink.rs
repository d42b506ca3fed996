//! The `ai_json` sink's run: opening the staging folder, writing each dataset's records with
//! contact details protected, and publishing the folder with its dictionary and README.
//!
//! Files are written with blocking `std::fs` calls inside the async methods. Each call writes
//! into a 64 KiB buffer and only occasionally reaches the disk, and the runner drives sinks on
//! a multi-threaded runtime, so the short stalls do not hold up the sources.

use std::path::{Path, PathBuf};

use ashflow_core::record::record_id;
use ashflow_core::{
    DatasetDescriptor, DatasetReport, Record, Result, Schema, Secret, Sink, SinkReport,
    ValidatedSink,
};
use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};

use crate::config::{ContactDetailsPolicy, ValidatedAiJsonSink};
use crate::dictionary::{self, DICTIONARY_FILE, Export, ExportedDataset, README_FILE};
use crate::error::AiJsonError;
use crate::parts::{OversizedRecord, PartWriter};
use crate::protect::ContactProtector;
use crate::publish::Staging;

/// How many oversized records a dataset report names one by one before summing up the rest.
const MAX_OVERSIZED_WARNINGS: usize = 10;

#[async_trait]
impl ValidatedSink for ValidatedAiJsonSink {
    fn local_destination(&self) -> Option<&std::path::Path> {
        Some(self.path())
    }

    async fn open(self: Box<Self>) -> Result<Box<dyn Sink>> {
        let salt = self.hash_salt.as_ref().map(Secret::expose).transpose()?;
        if self.contact_details == ContactDetailsPolicy::Hash && salt.is_none() {
            tracing::warn!(
                component_kind = "sink",
                component_type = "ai_json",
                component_id = %self.component_id,
                "Hashing contact details without hash_salt: anyone can hash a guessed e-mail \
                 address and find it in the export."
            );
        }

        let staging = Staging::create(&self.path)?;
        tracing::info!(
            component_kind = "sink",
            component_type = "ai_json",
            component_id = %self.component_id,
            path = %self.path.display(),
            staging = %staging.path().display(),
            contact_details = %self.contact_details,
            "Opened the AI JSON folder for writing."
        );

        Ok(Box::new(AiJsonSink {
            component_id: self.component_id,
            target: self.path,
            max_file_bytes: self.max_file_bytes,
            policy: self.contact_details,
            salted: salt.is_some(),
            protector: ContactProtector::new(self.contact_details, salt),
            current: None,
            written: Vec::new(),
            reports: Vec::new(),
            staging,
        }))
    }
}

/// An open `ai_json` sink: writes into its staging folder until [`Sink::finish`] publishes it.
struct AiJsonSink {
    component_id: String,
    target: PathBuf,
    max_file_bytes: u64,
    policy: ContactDetailsPolicy,
    salted: bool,
    protector: ContactProtector,
    current: Option<OpenDataset>,
    written: Vec<ExportedDataset>,
    reports: Vec<DatasetReport>,
    /// Declared last so that it is dropped after any open part file, deleting the folder.
    staging: Staging,
}

/// The dataset being written.
struct OpenDataset {
    descriptor: DatasetDescriptor,
    /// The declared schema, widened by undeclared fields as records show them.
    schema: Schema,
    /// True when records carry contact details to rewrite.
    rewrite: bool,
    writer: PartWriter,
    rows: u64,
    /// The encoded line, reused between records.
    line: Vec<u8>,
}

#[async_trait]
impl Sink for AiJsonSink {
    async fn begin_dataset(&mut self, dataset: &DatasetDescriptor) -> Result<()> {
        if self.current.is_some() {
            return Err(
                AiJsonError::OutOfOrder("a dataset began before the previous one ended").into()
            );
        }
        check_dataset_name(&dataset.name)?;
        if self.written.iter().any(|written| written.name == dataset.name) {
            return Err(AiJsonError::DuplicateDataset { name: dataset.name.clone() }.into());
        }

        let writer = PartWriter::create(self.staging.path(), &dataset.name, self.max_file_bytes)?;
        self.current = Some(OpenDataset {
            descriptor: dataset.clone(),
            schema: dataset.schema.clone(),
            rewrite: self.protector.applies_to(&dataset.schema),
            writer,
            rows: 0,
            line: Vec::new(),
        });
        tracing::debug!(
            component_kind = "sink",
            component_type = "ai_json",
            component_id = %self.component_id,
            dataset = %dataset.name,
            "Began dataset."
        );
        Ok(())
    }

    async fn write_batch(&mut self, records: &[Record]) -> Result<()> {
        let dataset = self
            .current
            .as_mut()
            .ok_or(AiJsonError::OutOfOrder("records arrived outside a dataset"))?;
        dataset.write(records, &self.protector, &self.component_id)?;

        tracing::debug!(
            component_kind = "sink",
            component_type = "ai_json",
            component_id = %self.component_id,
            dataset = %dataset.descriptor.name,
            rows = records.len(),
            "Wrote batch."
        );
        Ok(())
    }

    async fn end_dataset(&mut self) -> Result<DatasetReport> {
        let dataset = self
            .current
            .take()
            .ok_or(AiJsonError::OutOfOrder("a dataset ended before it began"))?;
        let name = dataset.descriptor.name.clone();
        let parts = dataset.writer.finish()?;

        let warnings = oversized_warnings(&parts.oversized, self.max_file_bytes);
        for warning in &warnings {
            tracing::warn!(
                component_kind = "sink",
                component_type = "ai_json",
                component_id = %self.component_id,
                dataset = %name,
                "{warning}"
            );
        }
        tracing::info!(
            component_kind = "sink",
            component_type = "ai_json",
            component_id = %self.component_id,
            dataset = %name,
            rows = dataset.rows,
            files = parts.files.len(),
            "Wrote dataset."
        );

        let report = DatasetReport {
            dataset: name.clone(),
            rows: dataset.rows,
            warnings,
            ..DatasetReport::default()
        };
        self.reports.push(report.clone());
        self.written.push(ExportedDataset {
            name,
            description: dataset.descriptor.description,
            primary_key: dataset.descriptor.primary_key,
            schema: dataset.schema,
            files: parts.files,
            records: dataset.rows,
        });
        Ok(report)
    }

    async fn finish(self: Box<Self>) -> Result<SinkReport> {
        if self.current.is_some() {
            return Err(AiJsonError::OutOfOrder("the run finished inside a dataset").into());
        }

        let export = Export {
            generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            policy: self.policy,
            salted: self.salted,
            max_file_bytes: self.max_file_bytes,
            datasets: &self.written,
        };
        let dictionary = dictionary::dictionary_json(&export)
            .map_err(|source| AiJsonError::Encode { dataset: DICTIONARY_FILE.into(), source })?;
        write_file(self.staging.path(), DICTIONARY_FILE, &dictionary)?;
        write_file(self.staging.path(), README_FILE, dictionary::readme(&export).as_bytes())?;

        let AiJsonSink { component_id, target, reports, staging, .. } = *self;
        staging.publish()?;
        tracing::info!(
            component_kind = "sink",
            component_type = "ai_json",
            component_id = %component_id,
            path = %target.display(),
            datasets = reports.len(),
            "Published the AI JSON folder."
        );

        Ok(SinkReport {
            location: Some(target.display().to_string()),
            requests: 0,
            datasets: reports,
        })
    }
}

impl OpenDataset {
    /// Encodes and writes records, one line each, with contact details protected.
    fn write(
        &mut self,
        records: &[Record],
        protector: &ContactProtector,
        component_id: &str,
    ) -> Result<(), AiJsonError> {
        for record in records {
            self.absorb_undeclared_fields(record, component_id);
            self.encode(record, protector)?;

            let position = self.rows + 1;
            let primary_key = self.descriptor.primary_key.as_deref();
            self.writer.write_line(&self.line, || record_label(record, primary_key, position))?;
            self.rows = position;
        }
        Ok(())
    }

    /// Widens the dictionary's schema with fields the records carry but nobody declared; they
    /// are written as received.
    fn absorb_undeclared_fields(&mut self, record: &Record, component_id: &str) {
        for field in self.schema.absorb_unknown_fields(record) {
            tracing::debug!(
                component_kind = "sink",
                component_type = "ai_json",
                component_id = %component_id,
                dataset = %self.descriptor.name,
                field = %field,
                "Passing through an undeclared field."
            );
        }
    }

    fn encode(&mut self, record: &Record, protector: &ContactProtector) -> Result<(), AiJsonError> {
        self.line.clear();
        let encoded = if self.rewrite {
            let mut protected = record.clone();
            protector.protect(&self.schema, &mut protected);
            serde_json::to_writer(&mut self.line, &protected)
        } else {
            serde_json::to_writer(&mut self.line, record)
        };
        encoded.map_err(|source| AiJsonError::Encode {
            dataset: self.descriptor.name.clone(),
            source,
        })?;
        self.line.push(b'\n');
        Ok(())
    }
}

/// Names a record in a warning by its primary key when it has one, else by its position.
fn record_label(record: &Record, primary_key: Option<&str>, position: u64) -> String {
    match primary_key.and_then(|key| Some((key, record_id(record, key)?))) {
        Some((key, id)) => format!("with {key} `{id}` (row {position})"),
        None => format!("at row {position}"),
    }
}

fn oversized_warnings(oversized: &[OversizedRecord], limit: u64) -> Vec<String> {
    let mut warnings: Vec<String> = oversized
        .iter()
        .take(MAX_OVERSIZED_WARNINGS)
        .map(|record| {
            format!(
                "the record {} is {} bytes, more than max_file_bytes ({limit}); it was written \
                 alone to {}",
                record.label, record.bytes, record.file
            )
        })
        .collect();

    let rest = oversized.len().saturating_sub(MAX_OVERSIZED_WARNINGS);
    if rest > 0 {
        warnings.push(format!(
            "{rest} more records were larger than max_file_bytes ({limit}) and were each written \
             alone to a part of their own"
        ));
    }
    warnings
}

/// Refuses dataset names that cannot be a portable file name, rather than changing them, so
/// the file keeps the name every other sink uses for the dataset.
fn check_dataset_name(name: &str) -> Result<(), AiJsonError> {
    let forbidden = |c: char| matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|');
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.starts_with('.') {
        "it starts with a dot, which hides the file"
    } else if name.chars().any(|c| forbidden(c) || c.is_control()) {
        "it contains a character file systems refuse, one of / \\ : * ? \" < > | or a control \
         character"
    } else if name.len() > 200 {
        "it is longer than 200 bytes"
    } else {
        return Ok(());
    };
    Err(AiJsonError::UnusableDatasetName { name: name.to_string(), reason })
}

/// Writes a whole file into the staging folder and syncs it.
fn write_file(folder: &Path, name: &str, contents: &[u8]) -> Result<(), AiJsonError> {
    let path = folder.join(name);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&path)?;
        std::io::Write::write_all(&mut file, contents)?;
        file.sync_all()
    };
    write().map_err(|source| AiJsonError::io(format!("cannot write {}", path.display()), source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dataset_names_that_are_not_portable_file_names_are_refused() {
        for bad in ["", ".hidden", "a/b", "a\\b", "c:d", "tab\there"] {
            let error = check_dataset_name(bad).unwrap_err();
            assert!(matches!(error, AiJsonError::UnusableDatasetName { .. }), "{bad:?}");
        }
        check_dataset_name("interview_schedules").unwrap();
        check_dataset_name("ashby_candidates-2024 (copy)").unwrap();
    }

    #[test]
    fn records_are_named_by_their_key_or_their_row() {
        let record = json!({"id": "c-7", "n": 3}).as_object().cloned().unwrap();
        assert_eq!(record_label(&record, Some("id"), 4), "with id `c-7` (row 4)");
        assert_eq!(record_label(&record, Some("missing"), 4), "at row 4");
        assert_eq!(record_label(&record, None, 9), "at row 9");
    }

    #[test]
    fn many_oversized_records_are_summed_up_after_the_first_ten() {
        let oversized: Vec<_> = (0..13)
            .map(|n| OversizedRecord {
                label: format!("at row {n}"),
                bytes: 2000,
                file: format!("a.part-{n:03}.jsonl"),
            })
            .collect();

        let warnings = oversized_warnings(&oversized, 1024);

        assert_eq!(warnings.len(), 11);
        assert_eq!(
            warnings[0],
            "the record at row 0 is 2000 bytes, more than max_file_bytes (1024); it was written \
             alone to a.part-000.jsonl"
        );
        assert!(warnings[10].starts_with("3 more records"), "{}", warnings[10]);
    }
}
