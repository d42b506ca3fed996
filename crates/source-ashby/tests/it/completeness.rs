//! A full export returns every record the fake holds, hidden ones included, with the request
//! flags that make Ashby return them, and pages as Ashby does.

use ashflow_source_ashby::entity_names;
use serde_json::{Value, json};

use crate::support::{KEY, assert_complete, expected, read, small_fake, source};

#[tokio::test]
async fn every_entity_delivers_exactly_the_fakes_records_once() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");

    for entity in entity_names() {
        let read = read(&source, entity, None).await;
        assert_complete(&fake, entity, &read);

        let report = read.report();
        assert_eq!(report.retries, 0, "{entity}");
        assert_eq!(report.pass_restarts, 0, "{entity}");
        assert!(report.warnings.is_empty(), "{entity}: {:?}", report.warnings);
        let incremental = !matches!(entity, "archive_reasons" | "job_postings" | "sources");
        assert_eq!(report.sync_token.is_some(), incremental, "{entity}");
        let pages = read.batches.len() as u64;
        assert!(report.requests >= pages, "{entity}: one request per page at least");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn paginated_entities_are_read_in_several_pages_of_the_servers_size() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");

    let read = read(&source, "candidates", None).await;
    let pages = read.batches.len();
    assert!(pages >= 9, "60 candidates in pages of 7 need 9 pages, got {pages}");
    assert!(read.batches.iter().all(|batch| batch.len() <= 7 && batch.stream == "candidates"));
    assert_eq!(read.report().requests, pages as u64);

    let bodies = fake.request_bodies("candidate.list");
    assert_eq!(bodies.len(), pages);
    assert_eq!(bodies[0], json!({"limit": 100}));
    for body in &bodies[1..] {
        assert!(body.get("cursor").and_then(Value::as_str).is_some(), "{body}");
        assert_eq!(body.get("limit"), Some(&json!(100)));
        assert_eq!(body.get("syncToken"), None);
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn requests_ask_for_archived_deactivated_draft_and_region_records() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "page_size = 50\n");
    for entity in entity_names() {
        read(&source, entity, None).await.report();
    }

    let first = |endpoint: &str| fake.request_bodies(endpoint).first().cloned().expect(endpoint);
    assert_eq!(
        first("job.list"),
        json!({"status": ["Draft", "Open", "Closed", "Archived"], "limit": 50})
    );
    assert_eq!(first("user.list"), json!({"includeDeactivated": true, "limit": 50}));
    assert_eq!(
        first("location.list"),
        json!({"includeArchived": true, "includeLocationHierarchy": true, "limit": 50})
    );
    for endpoint in
        ["candidateTag.list", "customField.list", "department.list", "feedbackFormDefinition.list"]
    {
        assert_eq!(first(endpoint), json!({"includeArchived": true, "limit": 50}), "{endpoint}");
    }
    for endpoint in ["application.list", "candidate.list", "interviewSchedule.list", "offer.list"] {
        assert_eq!(first(endpoint), json!({"limit": 50}), "{endpoint}");
    }
    assert_eq!(fake.request_bodies("jobPosting.list"), [json!({"listedOnly": false})]);
    assert_eq!(fake.request_bodies("source.list"), [json!({"includeArchived": true})]);
    assert_eq!(fake.request_bodies("archiveReason.list"), [json!({"includeArchived": true})]);
    fake.shutdown().await;
}

#[tokio::test]
async fn hidden_records_are_part_of_the_export() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let field_values = |records: Vec<&ashflow_core::Record>, field: &str| -> Vec<Value> {
        records.iter().filter_map(|r| r.get(field).cloned()).collect()
    };

    let users = read(&source, "users", None).await;
    assert!(field_values(users.records(), "isEnabled").contains(&json!(false)));
    let jobs = read(&source, "jobs", None).await;
    assert!(field_values(jobs.records(), "status").contains(&json!("Draft")));
    let locations = read(&source, "locations", None).await;
    assert!(field_values(locations.records(), "type").contains(&json!("LocationHierarchy")));
    for entity in ["departments", "sources", "archive_reasons", "candidate_tags"] {
        let read = read(&source, entity, None).await;
        assert!(
            field_values(read.records(), "isArchived").contains(&json!(true)),
            "{entity} has archived records"
        );
    }
    let postings = read(&source, "job_postings", None).await;
    assert!(field_values(postings.records(), "isListed").contains(&json!(false)));
    fake.shutdown().await;
}

#[tokio::test]
async fn a_second_run_with_the_sync_token_reads_only_changes() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let full = read(&source, "applications", None).await;
    let token = full.report().sync_token.clone().expect("a sync token");
    let requests_before = fake.request_count(Some("application.list"));

    let unchanged = read(&source, "applications", Some(&token)).await;
    assert_eq!(unchanged.report().records, 0, "nothing changed in between");
    let token = unchanged.report().sync_token.clone().expect("a fresh sync token");
    let bodies = fake.request_bodies("application.list");
    assert_eq!(bodies[requests_before], json!({"limit": 100, "syncToken": token}));

    fake.mutate("applications", 10);
    let changed = read(&source, "applications", Some(&token)).await;

    let delivered = changed.by_id();
    assert_eq!(delivered.len(), 10);
    let current = expected(&fake, "applications");
    for (id, record) in &delivered {
        assert_eq!(record, &current[id], "the changed version of {id} is delivered");
        assert_ne!(record, &full.by_id()[id], "{id} did change");
    }
    assert!(changed.report().warnings.is_empty());
    fake.shutdown().await;
}

#[tokio::test]
async fn a_sync_token_is_never_sent_to_full_refresh_endpoints() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");

    let read = read(&source, "sources", Some("some-token")).await;
    assert_complete(&fake, "sources", &read);
    assert_eq!(read.report().sync_token, None);
    assert_eq!(fake.request_bodies("source.list"), [json!({"includeArchived": true})]);
    fake.shutdown().await;
}
