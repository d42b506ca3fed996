//! Every link a schema declares with `Field::references` holds up in the fake's data: each
//! non-null value of a marked field, at any depth and through lists, is the id of a record the
//! referenced stream delivers.
//!
//! The fake is generated to be referentially consistent, so a declared link that does not
//! resolve here is a wrong declaration (as a candidate's `location.id` pointing at `locations`
//! would be: it names a geographic place, not an office). The test also insists that every
//! declared link meets real values, so a declaration cannot pass just because the field is
//! always empty; the few the fake never fills are listed by name below.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ashflow_core::{DataType, Field, Source};
use ashflow_fake_ashby::{FakeAshby, FakeConfig};
use serde_json::Value;

use crate::support::{KEY, read_all_at_once, source};

/// Declared links the fake leaves null or absent in every record, so the data cannot confirm
/// them: embedded users carry no `managerId` (the `users` records do, and resolve), shared
/// interviews have no job, and applications' archive reasons carry no custom fields.
const LINKS_THE_FAKE_NEVER_FILLS: [&str; 8] = [
    "applications.archiveReason.customFields[].id",
    "applications.creditedToUser.managerId",
    "candidates.creditedToUser.managerId",
    "interview_schedules.interviewEvents[].interview.jobId",
    "interview_schedules.interviewEvents[].interviewers[].interviewerPool.trainingPath.\
     trainingStages[].approvers[].managerId",
    "interview_schedules.interviewEvents[].interviewers[].managerId",
    "jobs.author.managerId",
    "offers.latestVersion.author.managerId",
];

/// What checking the declared links of every stream found.
#[derive(Default)]
struct Findings {
    /// Values checked per declared link, by dotted path such as `candidates.tags[].id`.
    checked: BTreeMap<String, usize>,
    /// One line per value that is not the id of a record of the referenced stream.
    dangling: Vec<String>,
}

#[tokio::test]
async fn every_declared_link_resolves_to_a_record_of_the_referenced_stream() {
    let fake = FakeAshby::start(FakeConfig {
        candidates: 300,
        api_key: KEY.to_string(),
        ..FakeConfig::default()
    })
    .await
    .expect("the fake starts");
    let source = Arc::new(source(&fake, KEY, ""));
    let reads = read_all_at_once(Arc::clone(&source)).await;
    let records: BTreeMap<String, Vec<Value>> = reads
        .iter()
        .map(|(stream, read)| {
            assert_eq!(read.report().warnings, Vec::<String>::new(), "{stream}");
            let records = read.records().into_iter().cloned().map(Value::Object).collect();
            (stream.clone(), records)
        })
        .collect();
    let ids = ids_by_stream(&records);

    let mut findings = Findings::default();
    for stream in source.streams() {
        let mut links = Vec::new();
        declared_links(&stream.schema.fields, &stream.name, &mut links);
        for path in links {
            findings.checked.insert(path, 0);
        }
        for record in &records[&stream.name] {
            check_fields(&stream.schema.fields, record, &stream.name, &ids, &mut findings);
        }
    }

    let first_dangling = findings.dangling.iter().take(20).cloned().collect::<Vec<_>>();
    assert!(
        findings.dangling.is_empty(),
        "{} dangling links, the first:\n{}",
        findings.dangling.len(),
        first_dangling.join("\n")
    );
    let unconfirmed: Vec<&str> = findings
        .checked
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(path, _)| path.as_str())
        .collect();
    assert_eq!(unconfirmed, LINKS_THE_FAKE_NEVER_FILLS, "links the fake's data never exercises");
    assert!(findings.checked.len() > 40, "{:?}", findings.checked.keys());
    fake.shutdown().await;
}

/// The primary keys of every stream's records.
fn ids_by_stream(records: &BTreeMap<String, Vec<Value>>) -> BTreeMap<String, BTreeSet<String>> {
    records
        .iter()
        .map(|(stream, records)| {
            let ids = records
                .iter()
                .map(|record| record["id"].as_str().expect("records have string ids").to_string())
                .collect();
            (stream.clone(), ids)
        })
        .collect()
}

/// The dotted paths of every field with a declared link, at any depth.
fn declared_links(fields: &[Field], prefix: &str, links: &mut Vec<String>) {
    for field in fields {
        let path = format!("{prefix}.{}", field.name);
        if field.references.is_some() {
            links.push(path.clone());
        }
        if let Some((nested, lists)) = object_fields(&field.data_type) {
            declared_links(nested, &format!("{path}{}", "[]".repeat(lists)), links);
        }
    }
}

/// The fields of a nested object, or of the objects in a list, with how many lists deep.
fn object_fields(data_type: &DataType) -> Option<(&[Field], usize)> {
    match data_type {
        DataType::Object(fields) => Some((fields, 0)),
        DataType::Array(element) => {
            object_fields(element).map(|(fields, lists)| (fields, lists + 1))
        }
        _ => None,
    }
}

/// Checks the declared links among `fields` in `object` and in everything nested inside it.
fn check_fields(
    fields: &[Field],
    object: &Value,
    prefix: &str,
    ids: &BTreeMap<String, BTreeSet<String>>,
    findings: &mut Findings,
) {
    for field in fields {
        let path = format!("{prefix}.{}", field.name);
        let value = object.get(&field.name).unwrap_or(&Value::Null);
        check_value(field, &field.data_type, value, &path, ids, findings);
    }
}

/// Checks one value of `field` whose declared type (inside any lists already entered) is
/// `data_type`; `path` names the field without the list markers of the lists entered.
fn check_value(
    field: &Field,
    data_type: &DataType,
    value: &Value,
    path: &str,
    ids: &BTreeMap<String, BTreeSet<String>>,
    findings: &mut Findings,
) {
    match (data_type, value) {
        (_, Value::Null) => {}
        (DataType::Array(element), Value::Array(items)) => {
            let inner = if matches!(element.as_ref(), DataType::Object(_) | DataType::Array(_)) {
                format!("{path}[]")
            } else {
                path.to_string()
            };
            for item in items {
                check_value(field, element, item, &inner, ids, findings);
            }
        }
        (DataType::Object(nested), Value::Object(_)) => {
            check_fields(nested, value, path, ids, findings);
        }
        _ => {
            if let Some(stream) = &field.references {
                check_reference(stream, value, path, ids, findings);
            }
        }
    }
}

fn check_reference(
    stream: &str,
    value: &Value,
    path: &str,
    ids: &BTreeMap<String, BTreeSet<String>>,
    findings: &mut Findings,
) {
    let Some(known) = ids.get(stream) else {
        findings.dangling.push(format!("{path}: refers to {stream}, which is no stream"));
        return;
    };
    *findings.checked.entry(path.to_string()).or_default() += 1;
    match value.as_str() {
        Some(id) if known.contains(id) => {}
        _ => findings.dangling.push(format!("{path} = {value} is not an id of {stream}")),
    }
}
