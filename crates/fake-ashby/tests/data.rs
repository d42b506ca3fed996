//! The generated account: determinism, referential integrity, scale and the awkward values
//! real accounts contain, checked through `FakeAshby::records`.

mod support;

use std::collections::{HashMap, HashSet};

use ashflow_fake_ashby::{ENTITIES, FakeAshby, FakeConfig};
use serde_json::Value;
use support::fake_with;

async fn fake(seed: u64, candidates: usize) -> FakeAshby {
    fake_with(FakeConfig { seed, candidates, ..FakeConfig::default() }).await
}

fn all_records(fake: &FakeAshby) -> Vec<(String, String)> {
    ENTITIES
        .iter()
        .map(|(entity, _, _)| {
            let text: Vec<String> = fake.records(entity).iter().map(Value::to_string).collect();
            (entity.to_string(), text.join("\n"))
        })
        .collect()
}

fn ids(records: &[Value]) -> HashSet<&str> {
    records.iter().filter_map(|record| record["id"].as_str()).collect()
}

fn text<'a>(record: &'a Value, pointer: &str) -> &'a str {
    record
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing in {record}"))
}

/// Every string anywhere inside a value.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_same_seed_and_scale_give_identical_data_and_another_seed_does_not() {
    let first = fake(7, 60).await;
    let second = fake(7, 60).await;
    let other = fake(8, 60).await;

    assert_eq!(all_records(&first), all_records(&second));
    let candidates = |fake: &FakeAshby| {
        fake.records("candidates").iter().map(Value::to_string).collect::<Vec<_>>()
    };
    assert_ne!(candidates(&first), candidates(&other));
}

#[tokio::test]
async fn every_entity_scales_from_the_candidate_count() {
    let fake = fake(42, 400).await;
    let count = |entity: &str| fake.records(entity).len();

    assert_eq!(count("candidates"), 400);
    let per_candidate = count("applications") as f64 / 400.0;
    assert!((1.3..1.7).contains(&per_candidate), "applications per candidate {per_candidate}");
    assert!(
        count("interview_schedules") > count("applications") / 2,
        "schedules for most applications"
    );
    let offers = count("offers") as f64 / count("applications") as f64;
    assert!((0.01..0.12).contains(&offers), "offer share {offers}");
    assert_eq!(count("jobs"), 12);
    assert!((60..=200).contains(&count("users")));
    for (entity, _, _) in ENTITIES {
        assert!(count(entity) >= 5, "{entity} has only {} records", count(entity));
    }
}

#[tokio::test]
async fn references_between_records_are_consistent() {
    let fake = fake(3, 120).await;
    let load = |entity: &str| fake.records(entity);
    let (candidates, applications, jobs, postings) =
        (load("candidates"), load("applications"), load("jobs"), load("job_postings"));
    let (users, departments, locations) = (load("users"), load("departments"), load("locations"));
    let (schedules, offers, tags, sources) =
        (load("interview_schedules"), load("offers"), load("candidate_tags"), load("sources"));
    let (fields, forms, reasons) =
        (load("custom_fields"), load("feedback_form_definitions"), load("archive_reasons"));
    let (candidate_ids, application_ids, job_ids, user_ids) =
        (ids(&candidates), ids(&applications), ids(&jobs), ids(&users));
    let (field_ids, form_ids, location_ids, department_ids) =
        (ids(&fields), ids(&forms), ids(&locations), ids(&departments));

    let mut by_candidate: HashMap<&str, HashSet<&str>> = HashMap::new();
    for application in &applications {
        let candidate = text(application, "/candidate/id");
        assert!(candidate_ids.contains(candidate));
        by_candidate.entry(candidate).or_default().insert(text(application, "/id"));
        let job =
            jobs.iter().find(|job| job["id"] == application["job"]["id"]).expect("the job exists");
        assert_ne!(job["status"], "Draft", "nobody applies to a draft job");
        assert_eq!(job["title"], application["job"]["title"]);
        for member in application["hiringTeam"].as_array().expect("hiringTeam") {
            assert!(user_ids.contains(text(member, "/userId")));
        }
        if let Some(source) = application["source"].get("id") {
            assert!(ids(&sources).contains(source.as_str().expect("source id")));
        }
        if let Some(reason) = application.get("archiveReason").and_then(|reason| reason.get("id")) {
            assert!(ids(&reasons).contains(reason.as_str().expect("reason id")));
        }
    }
    for candidate in &candidates {
        let listed: HashSet<&str> = candidate["applicationIds"]
            .as_array()
            .expect("applicationIds")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let expected = by_candidate.remove(text(candidate, "/id")).unwrap_or_default();
        assert_eq!(listed, expected);
        for tag in candidate["tags"].as_array().expect("tags") {
            assert!(ids(&tags).contains(text(tag, "/id")));
        }
        for entry in candidate["customFields"].as_array().expect("customFields") {
            assert!(field_ids.contains(text(entry, "/id")));
        }
    }
    for job in &jobs {
        assert!(department_ids.contains(text(job, "/departmentId")));
        assert!(location_ids.contains(text(job, "/locationId")));
        for posting_id in job["jobPostingIds"].as_array().expect("jobPostingIds") {
            let posting = postings
                .iter()
                .find(|posting| &posting["id"] == posting_id)
                .expect("the posting exists");
            assert_eq!(posting["jobId"], job["id"]);
        }
    }
    for posting in &postings {
        assert!(job_ids.contains(text(posting, "/jobId")));
        assert!(location_ids.contains(text(posting, "/locationIds/primaryLocationId")));
    }
    for schedule in &schedules {
        assert!(application_ids.contains(text(schedule, "/applicationId")));
        for event in schedule["interviewEvents"].as_array().expect("interviewEvents") {
            assert_eq!(event["interviewScheduleId"], schedule["id"]);
            assert!(form_ids.contains(text(event, "/interview/feedbackFormDefinitionId")));
            for interviewer in event["interviewers"].as_array().expect("interviewers") {
                assert!(user_ids.contains(text(interviewer, "/id")));
            }
        }
    }
    for offer in &offers {
        assert!(application_ids.contains(text(offer, "/applicationId")));
    }
    for department in &departments {
        if let Some(parent) = department["parentId"].as_str() {
            assert!(department_ids.contains(parent));
        }
    }
    for location in &locations {
        if let Some(parent) = location["parentLocationId"].as_str() {
            assert!(location_ids.contains(parent));
        }
    }
    for user in &users {
        if let Some(manager) = user["managerId"].as_str() {
            assert!(user_ids.contains(manager));
        }
    }
}

#[tokio::test]
async fn updates_follow_creation_and_creation_spans_about_three_years() {
    let fake = fake(5, 200).await;
    let parse = |record: &Value, pointer: &str| {
        chrono::DateTime::parse_from_rfc3339(text(record, pointer)).expect("timestamps parse")
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-09-30T12:00:00Z").expect("anchor");
    let mut created_years = HashSet::new();
    for entity in ["candidates", "applications", "jobs", "departments"] {
        for record in fake.records(entity) {
            let (created, updated) = (parse(&record, "/createdAt"), parse(&record, "/updatedAt"));
            assert!(updated >= created, "{entity} updated before created: {record}");
            assert!(updated <= now, "{entity} updated in the future: {record}");
            created_years.insert(created.format("%Y").to_string());
        }
    }
    assert!(created_years.len() >= 3, "creation years {created_years:?}");

    let candidates = fake.records("candidates");
    let created_of: HashMap<&str, _> =
        candidates.iter().map(|c| (text(c, "/id"), parse(c, "/createdAt"))).collect();
    for application in fake.records("applications") {
        let candidate_created = created_of[text(&application, "/candidate/id")];
        assert!(parse(&application, "/createdAt") >= candidate_created, "{application}");
    }
    for schedule in fake.records("interview_schedules") {
        for event in schedule["interviewEvents"].as_array().expect("events") {
            let (created, updated) = (parse(event, "/createdAt"), parse(event, "/updatedAt"));
            assert!(created <= updated && updated <= now, "{event}");
            assert!(parse(event, "/startTime") < parse(event, "/endTime"));
        }
    }
}

#[tokio::test]
async fn awkward_values_appear_several_times_even_at_scale_50() {
    let fake = fake(42, 50).await;
    let candidates = fake.records("candidates");
    let names: Vec<&str> = candidates.iter().map(|candidate| text(candidate, "/name")).collect();
    let count = |wanted: &dyn Fn(&str) -> bool, values: &[&str]| {
        values.iter().filter(|value| wanted(value)).count()
    };

    assert!(names.contains(&"Zoë Ñúñez 🚀"));
    let non_latin = |name: &str| {
        name.chars().any(|c| {
            ('\u{3040}'..='\u{9fff}').contains(&c)
                || ('\u{ac00}'..='\u{d7af}').contains(&c)
                || c == '🚀'
                || c == '🌸'
        })
    };
    assert!(count(&non_latin, &names) >= 3, "emoji/CJK names: {names:?}");
    let rtl = |name: &str| name.chars().any(|c| ('\u{0590}'..='\u{06ff}').contains(&c));
    assert!(count(&rtl, &names) >= 3, "right-to-left names: {names:?}");

    let mut all_strings = Vec::new();
    candidates.iter().for_each(|candidate| strings(candidate, &mut all_strings));
    let long = all_strings.iter().filter(|value| value.chars().count() > 40_000).count();
    assert!(long >= 2, "very long notes: {long}");
    let formula = |value: &String| value.starts_with(['=', '+', '-', '@']);
    let positions: Vec<&Value> =
        candidates.iter().flat_map(|c| [&c["position"], &c["company"]]).collect();
    assert!(
        positions
            .iter()
            .filter(|value| value.as_str().is_some_and(|v| formula(&v.to_string())))
            .count()
            >= 3
    );
    assert!(all_strings.iter().any(|value| value == "+44 20 7946 0000"));
    assert!(all_strings.iter().filter(|value| formula(value)).count() >= 10);
    let leading_zero = |value: &&String| {
        value.len() > 1 && value.starts_with('0') && value.chars().all(|c| c.is_ascii_digit())
    };
    assert!(
        all_strings.iter().filter(leading_zero).count() >= 3,
        "leading-zero codes on candidates"
    );
    let requisitions: Vec<String> = fake
        .records("jobs")
        .iter()
        .filter_map(|job| job["customRequisitionId"].as_str().map(String::from))
        .collect();
    assert!(
        requisitions.iter().any(|code| code.starts_with("000")),
        "requisition ids {requisitions:?}"
    );
    let mut location_strings = Vec::new();
    fake.records("locations").iter().for_each(|location| strings(location, &mut location_strings));
    assert!(location_strings.iter().any(|value| value == "02110"));

    let school_null = candidates.iter().filter(|c| c.get("school") == Some(&Value::Null)).count();
    let school_absent = candidates.iter().filter(|c| c.get("school").is_none()).count();
    assert!(
        school_null >= 3 && school_absent >= 3,
        "school null {school_null} absent {school_absent}"
    );
    let location_null =
        candidates.iter().filter(|c| c.get("location") == Some(&Value::Null)).count();
    let location_absent = candidates.iter().filter(|c| c.get("location").is_none()).count();
    assert!(location_null >= 3 && location_absent >= 3);

    let with_millis = candidates.iter().filter(|c| text(c, "/createdAt").contains('.')).count();
    assert!(
        with_millis >= 3 && candidates.len() - with_millis >= 3,
        "timestamps with and without milliseconds"
    );
}

#[tokio::test]
async fn every_custom_field_value_type_appears_on_candidates_and_every_object_has_values() {
    let fake = fake(42, 50).await;
    let definitions = fake.records("custom_fields");
    let type_of: HashMap<&str, &str> =
        definitions.iter().map(|field| (text(field, "/id"), text(field, "/fieldType"))).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let candidates = fake.records("candidates");
    for entry in
        candidates.iter().flat_map(|c| c["customFields"].as_array().expect("customFields").iter())
    {
        let field_type = type_of[text(entry, "/id")];
        *seen.entry(field_type).or_default() += 1;
        let value = &entry["value"];
        let shape_ok = match field_type {
            "Boolean" => value.is_boolean(),
            "String" | "LongText" | "ValueSelect" => value.is_string(),
            "Date" => {
                value.is_null()
                    || value
                        .as_str()
                        .is_some_and(|date| chrono::DateTime::parse_from_rfc3339(date).is_ok())
            }
            "Number" => value.is_number(),
            "MultiValueSelect" => value.is_array() && entry["valueLabel"].is_array(),
            "Currency" => value["value"].is_number() && value["currencyCode"].is_string(),
            "NumberRange" => value["type"] == "number-range" && value["minValue"].is_number(),
            "CompensationRange" => {
                value["type"] == "compensation-range" && value["interval"].is_string()
            }
            _ => false,
        };
        assert!(shape_ok, "{field_type} value has the wrong shape: {entry}");
    }
    for field_type in [
        "Boolean",
        "String",
        "LongText",
        "ValueSelect",
        "Number",
        "Date",
        "MultiValueSelect",
        "Currency",
        "NumberRange",
        "CompensationRange",
    ] {
        assert!(
            seen.get(field_type).copied().unwrap_or(0) >= 3,
            "{field_type} seen {:?}",
            seen.get(field_type)
        );
    }
    let nonempty = |entity: &str, pointer: &str| {
        fake.records(entity)
            .iter()
            .filter(|record| {
                record.pointer(pointer).and_then(Value::as_array).is_some_and(|a| !a.is_empty())
            })
            .count()
    };
    assert!(nonempty("applications", "/customFields") > 10);
    assert!(nonempty("jobs", "/customFields") > 5);
    assert!(nonempty("offers", "/latestVersion/customFields") >= 1);
    assert!(definitions.iter().any(|field| field["isArchived"] == true));
    assert!(definitions.iter().any(|field| field["isPrivate"] == true));
    let object_types: HashSet<&str> =
        definitions.iter().map(|field| text(field, "/objectType")).collect();
    assert_eq!(object_types.len(), 7, "{object_types:?}");
}

#[tokio::test]
async fn hidden_and_special_records_exist_in_every_lookup() {
    let fake = fake(42, 50).await;
    let count = |entity: &str, wanted: &dyn Fn(&Value) -> bool| {
        fake.records(entity).iter().filter(|record| wanted(record)).count()
    };
    let archived = |record: &Value| record["isArchived"] == true;

    for entity in [
        "departments",
        "locations",
        "sources",
        "candidate_tags",
        "feedback_form_definitions",
        "archive_reasons",
        "custom_fields",
    ] {
        assert!(count(entity, &archived) >= 2, "{entity} has archived records");
    }
    assert!(count("users", &|user| user["isEnabled"] == false) >= 3);
    let statuses: HashSet<String> =
        fake.records("jobs").iter().map(|job| text(job, "/status").to_string()).collect();
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert!(count("jobs", &|job| job["status"] == "Draft") >= 2);
    assert!(count("locations", &|location| location["type"] == "LocationHierarchy") >= 3);
    assert!(
        count("locations", &|location| location
            .pointer("/address/postalAddress/postalCode")
            .is_some())
            >= 5
    );
    assert!(count("departments", &|department| department["parentId"].is_string()) >= 5);
    assert!(count("job_postings", &|posting| posting["isListed"] == false) >= 1);
    assert!(count("sources", &|source| source["sourceType"]["title"].is_string()) >= 10);
    let statuses: HashSet<String> =
        fake.records("applications").iter().map(|app| text(app, "/status").to_string()).collect();
    assert_eq!(statuses.len(), 4, "application statuses {statuses:?}");
    let forms = fake.records("feedback_form_definitions");
    assert!(
        forms
            .iter()
            .all(|form| form.pointer("/formDefinition/sections/0/fields/0/field/id").is_some())
    );
}

#[tokio::test]
async fn an_account_without_candidates_still_has_its_lookups() {
    let fake = fake(42, 0).await;

    assert!(fake.records("candidates").is_empty());
    assert!(fake.records("applications").is_empty());
    assert_eq!(fake.records("jobs").len(), 12);
    assert!(fake.records("users").len() >= 60);
}
