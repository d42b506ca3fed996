//! The two files that explain an export: `dictionary.json` for programs and models that want
//! every field, and `README.md` for an AI tool (or a person) to read first.
//!
//! Both are generated only from the dataset descriptors and what was written, never from
//! knowledge of Ashby, so they stay right when a source adds fields or a spec defines its own
//! datasets.
//!
//! Links between datasets come only from the schema: a field whose [`Field::references`] names a
//! stream holds primary keys of that stream's records. Nothing is guessed from field names,
//! because names mislead (a candidate's `location.id` is a place, not an office of the
//! `locations` dataset). The sink sees dataset names, not streams, so a referenced stream is
//! mapped to a dataset of the export by `Catalog::dataset_of`: with several sources the runner
//! names datasets `<source>_<stream>`, and a link stays within the referencing dataset's source.
//! A link to a stream whose dataset is not in the export (or has no primary key) is left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ashflow_core::{DataType, Field, Schema};
use serde::Serialize;

use crate::config::ContactDetailsPolicy;
use crate::protect::{HASH_PREFIX, REDACTION_MARKER};

/// The name of the data dictionary file.
pub const DICTIONARY_FILE: &str = "dictionary.json";

/// The name of the file an AI tool should read first.
pub const README_FILE: &str = "README.md";

/// The start of the dictionary's `format` value; the sink replaces only folders that have it.
pub(crate) const FORMAT_PREFIX: &str = "ashflow-ai-json/";

/// The dictionary's `format` value; the number changes when the layout changes incompatibly.
pub(crate) const FORMAT: &str = "ashflow-ai-json/1";

/// One dataset as it was written, for the dictionary and README.
#[derive(Debug, Clone)]
pub(crate) struct ExportedDataset {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) primary_key: Option<String>,
    /// The declared schema widened by any undeclared fields the records carried.
    pub(crate) schema: Schema,
    pub(crate) files: Vec<String>,
    pub(crate) records: u64,
}

/// The whole export, as the two explanatory files describe it.
#[derive(Debug)]
pub(crate) struct Export<'a> {
    /// When the export was generated, UTC RFC 3339.
    pub(crate) generated_at: String,
    pub(crate) policy: ContactDetailsPolicy,
    /// True when hashes were salted.
    pub(crate) salted: bool,
    pub(crate) max_file_bytes: u64,
    pub(crate) datasets: &'a [ExportedDataset],
}

#[derive(Serialize)]
struct Dictionary<'a> {
    format: &'static str,
    generator: String,
    generated_at: &'a str,
    contact_details_policy: &'static str,
    contact_details_treatment: String,
    max_file_bytes: u64,
    datasets: Vec<DatasetEntry<'a>>,
}

#[derive(Serialize)]
struct DatasetEntry<'a> {
    name: &'a str,
    description: &'a str,
    files: &'a [String],
    record_count: u64,
    primary_key: Option<&'a str>,
    fields: Vec<FieldEntry<'a>>,
}

#[derive(Serialize)]
struct FieldEntry<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    data_type: String,
    description: &'a str,
    /// True for a tagged field and everything inside it.
    contact_details: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_details_treatment: Option<&'static str>,
    /// `dataset.key` that the field's values (or a list's elements) hold, when the schema
    /// declares the link and that dataset is in the export.
    #[serde(skip_serializing_if = "Option::is_none")]
    references: Option<String>,
    /// The fields of a nested object, or of the objects in a list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldEntry<'a>>,
}

/// The contents of `dictionary.json`, pretty-printed because people read it too.
pub(crate) fn dictionary_json(export: &Export<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let catalog = Catalog::new(export.datasets);
    let datasets = export
        .datasets
        .iter()
        .map(|dataset| DatasetEntry {
            name: &dataset.name,
            description: &dataset.description,
            files: &dataset.files,
            record_count: dataset.records,
            primary_key: dataset.primary_key.as_deref(),
            fields: field_entries(
                &dataset.schema.fields,
                &dataset.name,
                false,
                export.policy,
                &catalog,
            ),
        })
        .collect();

    let dictionary = Dictionary {
        format: FORMAT,
        generator: format!("ashflow ai_json sink {}", env!("CARGO_PKG_VERSION")),
        generated_at: &export.generated_at,
        contact_details_policy: export.policy.as_str(),
        contact_details_treatment: treatment_sentence(export.policy, export.salted),
        max_file_bytes: export.max_file_bytes,
        datasets,
    };
    let mut bytes = serde_json::to_vec_pretty(&dictionary)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn field_entries<'a>(
    fields: &'a [Field],
    dataset: &str,
    inside_contact: bool,
    policy: ContactDetailsPolicy,
    catalog: &Catalog<'_>,
) -> Vec<FieldEntry<'a>> {
    fields
        .iter()
        .map(|field| {
            let contact = inside_contact || field.contact_details;
            let nested = object_fields(&field.data_type).unwrap_or_default();
            FieldEntry {
                name: &field.name,
                data_type: field.data_type.name(),
                description: &field.description,
                contact_details: contact,
                contact_details_treatment: contact.then(|| policy.treatment()),
                references: catalog.reference_of(field, dataset),
                fields: field_entries(nested, dataset, contact, policy, catalog),
            }
        })
        .collect()
}

/// The contents of `README.md`.
pub(crate) fn readme(export: &Export<'_>) -> String {
    let mut text = String::new();
    write_introduction(&mut text, export);
    write_datasets(&mut text, export);
    write_files(&mut text, export);
    write_relations(&mut text, export);
    write_contact_details(&mut text, export);
    text.push_str(
        "## Times\n\nAll timestamps are UTC, written in ISO-8601 (for example \
         `2024-05-01T09:30:00.000Z`); dates without a time are `YYYY-MM-DD`.\n",
    );
    text
}

fn write_introduction(text: &mut String, export: &Export<'_>) {
    let _ = write!(
        text,
        "# Ashby recruiting data export\n\n\
         This folder is an export of recruiting data from Ashby, the applicant-tracking system, \
         written by ashflow at {} (UTC). It holds one JSON Lines file (or several numbered \
         parts) per dataset, `{DICTIONARY_FILE}` describing every dataset and field, and this \
         file. Read this file first, then `{DICTIONARY_FILE}`.\n\n",
        export.generated_at
    );
}

fn write_datasets(text: &mut String, export: &Export<'_>) {
    text.push_str("## Datasets\n\n");
    if export.datasets.is_empty() {
        text.push_str("This export holds no datasets.\n");
    }
    for dataset in export.datasets {
        let records = if dataset.records == 1 { "record" } else { "records" };
        let _ = writeln!(
            text,
            "- `{}`: {} {records} in {}. {}",
            dataset.name,
            dataset.records,
            describe_files(&dataset.files),
            first_sentence(&dataset.description)
        );
    }
    text.push('\n');
}

fn describe_files(files: &[String]) -> String {
    match files {
        [only] => format!("`{only}`"),
        [first, .., last] => format!("{} parts, `{first}` to `{last}`", files.len()),
        [] => "no file".to_string(),
    }
}

/// The first sentence of a description, for a one-line summary.
fn first_sentence(description: &str) -> String {
    let first_line = description.trim().lines().next().unwrap_or_default().trim();
    let sentence = match first_line.find(". ") {
        Some(end) => &first_line[..=end],
        None => first_line,
    };
    match sentence {
        "" => "No description.".to_string(),
        s if s.ends_with(['.', '!', '?']) => s.to_string(),
        s => format!("{s}."),
    }
}

fn write_files(text: &mut String, export: &Export<'_>) {
    let _ = write!(
        text,
        "## Files\n\n\
         Each `.jsonl` file holds one JSON object per line, in UTF-8, with nested objects and \
         lists kept as the source sent them. A dataset that fits in {} bytes is one file, \
         `<dataset>.jsonl`; a larger one is split into parts `<dataset>.part-001.jsonl`, \
         `<dataset>.part-002.jsonl` and so on. Read every part, in order, to see the whole \
         dataset; each record is in exactly one part. A record larger than the limit is alone in \
         its part. `{DICTIONARY_FILE}` lists each dataset's files, record count, primary key and \
         fields (name, type, description).\n\n",
        export.max_file_bytes
    );
}

fn write_relations(text: &mut String, export: &Export<'_>) {
    text.push_str(
        "## How records relate\n\n\
         Each record is identified by its dataset's primary key, usually `id`. The source \
         declares which fields hold the primary key of a record in another dataset (or in the \
         same one); for a list of ids, each element does. Only declared links to datasets in \
         this export are listed: a field whose name merely looks like an id (such as \
         `<thing>Id`) is not a link unless it is listed here. ",
    );

    let catalog = Catalog::new(export.datasets);
    let mut lines = Vec::new();
    for dataset in export.datasets {
        let links: Vec<String> = field_paths(&dataset.schema.fields)
            .into_iter()
            .filter_map(|entry| {
                let target = catalog.reference_of(entry.field, &dataset.name)?;
                Some(format!("`{}` → `{target}`", entry.path))
            })
            .collect();
        if !links.is_empty() {
            lines.push(format!("- `{}`: {}", dataset.name, links.join(", ")));
        }
    }

    if lines.is_empty() {
        text.push_str("No links are declared between the datasets in this export.\n\n");
        return;
    }
    let _ = write!(
        text,
        "The declared links (`{DICTIONARY_FILE}` marks them as `references`), each from a \
         field to the primary key it holds:\n\n{}\n\n",
        lines.join("\n")
    );
}

fn write_contact_details(text: &mut String, export: &Export<'_>) {
    let _ = write!(
        text,
        "## Contact details\n\n{}\n\n",
        treatment_sentence(export.policy, export.salted)
    );

    let mut lines = Vec::new();
    for dataset in export.datasets {
        let tagged: Vec<String> = field_paths(&dataset.schema.fields)
            .into_iter()
            .filter(|entry| entry.field.contact_details && !entry.inside_contact)
            .map(|entry| format!("`{}`", entry.path))
            .collect();
        if !tagged.is_empty() {
            lines.push(format!("- `{}`: {}", dataset.name, tagged.join(", ")));
        }
    }

    if lines.is_empty() {
        text.push_str("No field in this export is tagged as contact details.\n\n");
    } else {
        let _ = write!(text, "Fields tagged as contact details:\n\n{}\n\n", lines.join("\n"));
    }
}

/// One sentence (or three) saying what happened to contact details.
fn treatment_sentence(policy: ContactDetailsPolicy, salted: bool) -> String {
    let subject = "Fields holding a person's contact details (e-mail addresses, phone numbers, \
                   postal addresses, social links, IP addresses, user agents)";
    match policy {
        ContactDetailsPolicy::Redact => format!(
            "{subject} were redacted: every text or number in them was replaced by \
             `{REDACTION_MARKER}`. Missing values stay `null` and lists keep their length, so \
             you can see how many addresses a person has but not what they are."
        ),
        ContactDetailsPolicy::Hash => {
            let salt = if salted {
                "with a secret salt, so a hash cannot be reversed by hashing guessed values"
            } else {
                "without a salt, so anyone who guesses a value can hash it and find it"
            };
            format!(
                "{subject} were hashed: every text or number in them was replaced by \
                 `{HASH_PREFIX}` and 16 hex digits, computed from the value trimmed and \
                 lowercased, {salt}. The same value has the same hash in every dataset, so \
                 people can be counted and matched across datasets without seeing the values."
            )
        }
        ContactDetailsPolicy::Keep => format!(
            "{subject} were kept as received: this export contains personal contact details, \
             so share it only where that is allowed."
        ),
    }
}

/// A field reached from a dataset's top level, with its display path such as
/// `emailAddresses[].value`.
struct FieldPath<'a> {
    path: String,
    field: &'a Field,
    inside_contact: bool,
}

/// Every field of a schema at any depth, depth first in schema order.
fn field_paths(fields: &[Field]) -> Vec<FieldPath<'_>> {
    let mut paths = Vec::new();
    collect_field_paths(fields, "", false, &mut paths);
    paths
}

fn collect_field_paths<'a>(
    fields: &'a [Field],
    prefix: &str,
    inside_contact: bool,
    paths: &mut Vec<FieldPath<'a>>,
) {
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        let nested_prefix = format!("{path}{}.", "[]".repeat(array_depth(&field.data_type)));
        paths.push(FieldPath { path, field, inside_contact });

        if let Some(nested) = object_fields(&field.data_type) {
            let contact = inside_contact || field.contact_details;
            collect_field_paths(nested, &nested_prefix, contact, paths);
        }
    }
}

fn object_fields(data_type: &DataType) -> Option<&[Field]> {
    match data_type {
        DataType::Object(fields) => Some(fields),
        DataType::Array(element) => object_fields(element),
        _ => None,
    }
}

fn array_depth(data_type: &DataType) -> usize {
    match data_type {
        DataType::Array(element) => 1 + array_depth(element),
        _ => 0,
    }
}

/// The datasets of an export by name, with their primary keys, for resolving links.
struct Catalog<'a> {
    primary_keys: BTreeMap<&'a str, &'a str>,
}

impl<'a> Catalog<'a> {
    fn new(datasets: &'a [ExportedDataset]) -> Self {
        let primary_keys = datasets
            .iter()
            .filter_map(|dataset| Some((dataset.name.as_str(), dataset.primary_key.as_deref()?)))
            .collect();
        Catalog { primary_keys }
    }

    /// `dataset.key` of the records `field` of dataset `from` refers to, when the schema
    /// declares a link and the referenced dataset is in the export with a primary key.
    fn reference_of(&self, field: &Field, from: &str) -> Option<String> {
        let stream = field.references.as_deref()?;
        let (dataset, key) = self.dataset_of(stream, from)?;
        Some(format!("{dataset}.{key}"))
    }

    /// The dataset (with its primary key) that holds `stream` as seen from dataset `from`.
    ///
    /// The rule: first a dataset named `<prefix>_<stream>` where `from` is named
    /// `<prefix>_<something>`, so that with several sources (datasets named
    /// `<source>_<stream>`) a link stays within its source; the longest such prefix wins.
    /// Otherwise the dataset named exactly `stream`, as with a single source.
    fn dataset_of(&self, stream: &str, from: &str) -> Option<(&'a str, &'a str)> {
        let same_source = self
            .primary_keys
            .iter()
            .filter(|(name, _)| {
                let prefix = name.strip_suffix(stream).and_then(|rest| rest.strip_suffix('_'));
                prefix.is_some_and(|prefix| {
                    !prefix.is_empty()
                        && from.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('_'))
                })
            })
            .max_by_key(|(name, _)| name.len());
        same_source
            .or_else(|| self.primary_keys.get_key_value(stream))
            .map(|(name, key)| (*name, *key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn dataset(name: &str, fields: Vec<Field>) -> ExportedDataset {
        ExportedDataset {
            name: name.into(),
            description: format!("The {name}. More detail here.\nSecond line."),
            primary_key: Some("id".into()),
            schema: Schema::new(fields),
            files: vec![format!("{name}.jsonl")],
            records: 2,
        }
    }

    fn id() -> Field {
        Field::new("id", DataType::String, "Id.")
    }

    /// An `id` holding the primary key of a record of `stream`.
    fn link(stream: &str) -> Field {
        id().references(stream)
    }

    /// Every declared link of dataset `index` that reaches a dataset of the export.
    fn links_of(datasets: &[ExportedDataset], index: usize) -> Vec<(String, String)> {
        let catalog = Catalog::new(datasets);
        let dataset = &datasets[index];
        field_paths(&dataset.schema.fields)
            .into_iter()
            .filter_map(|entry| {
                Some((entry.path, catalog.reference_of(entry.field, &dataset.name)?))
            })
            .collect()
    }

    fn datasets() -> Vec<ExportedDataset> {
        let email = Field::new("value", DataType::String, "Address.").contact();
        vec![
            dataset(
                "applications",
                vec![
                    id(),
                    Field::new("candidate", DataType::Object(vec![link("candidates")]), "Who."),
                    Field::new("jobId", DataType::String, "Job.").references("jobs"),
                    Field::new("jobPostingId", DataType::String, "Posting.")
                        .references("job_postings"),
                    Field::new("creditedToUser", DataType::Object(vec![link("users")]), "Credit."),
                    Field::new("stage", DataType::Object(vec![link("stages")]), "No such dataset."),
                    Field::new("location", DataType::Object(vec![id()]), "Looks like a link."),
                    Field::new("brandId", DataType::String, "Looks like a link too."),
                    Field::new("interviewerIds", DataType::Array(Box::new(DataType::String)), "")
                        .references("users"),
                ],
            ),
            dataset(
                "candidates",
                vec![
                    id(),
                    Field::new(
                        "emailAddresses",
                        DataType::Array(Box::new(DataType::Object(vec![email]))),
                        "E-mails.",
                    ),
                ],
            ),
            dataset("jobs", vec![id()]),
            dataset("job_postings", vec![id()]),
            dataset("users", vec![id()]),
        ]
    }

    fn export(datasets: &[ExportedDataset], policy: ContactDetailsPolicy) -> Export<'_> {
        Export {
            generated_at: "2024-05-01T09:30:00Z".into(),
            policy,
            salted: true,
            max_file_bytes: 4096,
            datasets,
        }
    }

    #[test]
    fn only_declared_links_to_datasets_in_the_export_are_listed() {
        let links = links_of(&datasets(), 0);

        assert_eq!(
            links,
            [
                ("candidate.id".to_string(), "candidates.id".to_string()),
                ("jobId".into(), "jobs.id".into()),
                ("jobPostingId".into(), "job_postings.id".into()),
                ("creditedToUser.id".into(), "users.id".into()),
                ("interviewerIds".into(), "users.id".into()),
            ]
        );
    }

    #[test]
    fn with_several_sources_a_link_stays_within_the_referencing_datasets_source() {
        let owner = |stream: &str| Field::new("ownerId", DataType::String, "").references(stream);
        let datasets = vec![
            dataset("eu_jobs", vec![id(), owner("users")]),
            dataset("eu_users", vec![id(), owner("users")]),
            dataset("us_users", vec![id()]),
            dataset("us_jobs", vec![id(), owner("users"), owner("job_postings")]),
            dataset("users", vec![id()]),
        ];

        assert_eq!(links_of(&datasets, 0), [("ownerId".to_string(), "eu_users.id".to_string())]);
        assert_eq!(links_of(&datasets, 1), [("ownerId".to_string(), "eu_users.id".to_string())]);
        assert_eq!(
            links_of(&datasets, 3),
            [("ownerId".to_string(), "us_users.id".to_string())],
            "no us_job_postings dataset: that link is left out"
        );
        assert_eq!(links_of(&datasets, 4), []);
    }

    #[test]
    fn a_dataset_named_after_the_stream_is_used_when_no_source_prefix_matches() {
        let datasets = vec![
            dataset(
                "applications",
                vec![id(), Field::new("jobId", DataType::String, "").references("jobs")],
            ),
            dataset("jobs", vec![id()]),
        ];

        assert_eq!(links_of(&datasets, 0), [("jobId".to_string(), "jobs.id".to_string())]);
    }

    #[test]
    fn a_referenced_dataset_without_a_primary_key_is_not_linked() {
        let mut datasets = datasets();
        datasets[2].primary_key = None;

        let links = links_of(&datasets, 0);

        assert!(!links.iter().any(|(path, _)| path == "jobId"), "{links:?}");
    }

    #[test]
    fn the_dictionary_describes_fields_recursively_with_their_treatment() {
        let datasets = datasets();
        let bytes = dictionary_json(&export(&datasets, ContactDetailsPolicy::Hash)).unwrap();
        let dictionary: Value = serde_json::from_slice(&bytes).unwrap();

        assert_eq!(dictionary["format"], "ashflow-ai-json/1");
        assert_eq!(dictionary["contact_details_policy"], "hash");
        let candidates = &dictionary["datasets"][1];
        assert_eq!(candidates["record_count"], 2);
        assert_eq!(candidates["primary_key"], "id");
        assert_eq!(
            candidates["fields"][1],
            json!({
                "name": "emailAddresses",
                "type": "array<object>",
                "description": "E-mails.",
                "contact_details": false,
                "fields": [{
                    "name": "value",
                    "type": "string",
                    "description": "Address.",
                    "contact_details": true,
                    "contact_details_treatment": "hashed"
                }]
            })
        );
        assert_eq!(
            dictionary["datasets"][0]["fields"][1]["fields"][0]["references"],
            "candidates.id"
        );
    }

    #[test]
    fn the_readme_lists_datasets_links_and_tagged_fields() {
        let datasets = datasets();
        let readme = readme(&export(&datasets, ContactDetailsPolicy::Redact));

        assert!(readme.contains("- `jobs`: 2 records in `jobs.jsonl`. The jobs.\n"), "{readme}");
        assert!(readme.contains("`candidate.id` → `candidates.id`"), "{readme}");
        assert!(!readme.contains("`location.id` →"), "{readme}");
        assert!(!readme.contains("`brandId` →"), "{readme}");
        assert!(readme.contains("- `candidates`: `emailAddresses[].value`"), "{readme}");
        assert!(readme.contains("`[redacted]`"), "{readme}");
        assert!(readme.contains("UTC"), "{readme}");
    }

    #[test]
    fn an_unsalted_hash_is_called_reversible() {
        let sentence = treatment_sentence(ContactDetailsPolicy::Hash, false);
        assert!(sentence.contains("without a salt"), "{sentence}");
    }

    #[test]
    fn one_line_summaries_stop_at_the_first_sentence() {
        assert_eq!(first_sentence("Jobs. Open and closed.\nMore."), "Jobs.");
        assert_eq!(first_sentence("Jobs open and closed"), "Jobs open and closed.");
        assert_eq!(first_sentence("  "), "No description.");
    }

    #[test]
    fn split_datasets_are_described_by_their_first_and_last_parts() {
        let files = vec!["a.part-001.jsonl".to_string(), "a.part-002.jsonl".into()];
        assert_eq!(describe_files(&files), "2 parts, `a.part-001.jsonl` to `a.part-002.jsonl`");
    }
}
