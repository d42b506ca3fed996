//! The served protocol: paging, hidden records, auth, errors, sync tokens and mutations,
//! driven with a real HTTP client.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ashflow_fake_ashby::{ENTITIES, FakeConfig};
use serde_json::{Value, json};
use support::{
    KEY, client, complete_filters, error_code, fake_with, full_pass, post, post_as, small_fake,
    unique_ids,
};

const UNPAGED: [&str; 3] = ["archiveReason.list", "jobPosting.list", "source.list"];

#[tokio::test]
async fn paging_returns_every_record_exactly_once_over_several_pages() {
    let fake = small_fake().await;

    for (entity, endpoint, _) in
        ENTITIES.iter().filter(|(_, endpoint, _)| !UNPAGED.contains(endpoint))
    {
        let (records, pages, _) = full_pass(&fake, endpoint, complete_filters(endpoint)).await;
        let expected = fake.records(entity);
        assert_eq!(unique_ids(&records), unique_ids(&expected), "{entity}");
        assert_eq!(pages, expected.len().div_ceil(4).max(1), "{entity} pages");
        if *entity != "offers" {
            assert!(pages >= 3, "{entity} needs several pages at max_page_size 4");
        }
        let returned: HashSet<String> = records.iter().map(Value::to_string).collect();
        let stored: HashSet<String> = expected.iter().map(Value::to_string).collect();
        assert_eq!(returned, stored, "{entity} records are served as stored");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn a_smaller_limit_is_honoured_and_a_larger_one_is_capped() {
    let fake = small_fake().await;

    let (_, page) = post(&fake, "candidate.list", json!({ "limit": 3 })).await;
    assert_eq!(page["results"].as_array().map(Vec::len), Some(3));
    let (_, page) = post(&fake, "candidate.list", json!({ "limit": 1000 })).await;
    assert_eq!(page["results"].as_array().map(Vec::len), Some(4));
    let (_, page) = post(&fake, "candidate.list", json!({ "limit": 0 })).await;
    assert_eq!(error_code(&page), "invalid_input");
}

#[tokio::test]
async fn records_come_in_a_stable_order_that_is_not_creation_order() {
    let fake = small_fake().await;

    let (first, _, _) = full_pass(&fake, "candidate.list", json!({})).await;
    let (second, _, _) = full_pass(&fake, "candidate.list", json!({})).await;
    assert_eq!(first, second);
    let created: Vec<&str> =
        first.iter().map(|c| c["createdAt"].as_str().expect("createdAt")).collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_ne!(created, sorted);
}

#[tokio::test]
async fn unpaged_endpoints_answer_in_one_response_with_their_own_envelope() {
    let fake = small_fake().await;

    for endpoint in UNPAGED {
        let (status, body) = post(&fake, endpoint, complete_filters(endpoint)).await;
        assert_eq!(status, 200);
        let keys: HashSet<&str> =
            body.as_object().expect("object").keys().map(String::as_str).collect();
        let expected: HashSet<&str> = if endpoint == "source.list" {
            ["success", "results", "moreDataAvailable"].into()
        } else {
            ["success", "results"].into()
        };
        assert_eq!(keys, expected, "{endpoint}");
        assert!(
            body["results"].as_array().is_some_and(|results| results.len() > 4),
            "{endpoint} is not paged"
        );
    }
    let (_, sources) = post(&fake, "source.list", json!({})).await;
    assert_eq!(sources["moreDataAvailable"], json!(false));
}

#[tokio::test]
async fn hidden_records_are_excluded_by_default_and_included_with_the_right_flags() {
    let fake = small_fake().await;
    type Case = (&'static str, &'static str, Value, fn(&Value) -> bool);
    let cases: [Case; 9] = [
        ("departments", "department.list", json!({ "includeArchived": true }), |r| {
            r["isArchived"] == true
        }),
        ("candidate_tags", "candidateTag.list", json!({ "includeArchived": true }), |r| {
            r["isArchived"] == true
        }),
        (
            "feedback_form_definitions",
            "feedbackFormDefinition.list",
            json!({ "includeArchived": true }),
            |r| r["isArchived"] == true,
        ),
        ("sources", "source.list", json!({ "includeArchived": true }), |r| r["isArchived"] == true),
        ("archive_reasons", "archiveReason.list", json!({ "includeArchived": true }), |r| {
            r["isArchived"] == true
        }),
        ("users", "user.list", json!({ "includeDeactivated": true }), |r| r["isEnabled"] == false),
        ("jobs", "job.list", json!({ "status": ["Draft", "Open", "Closed", "Archived"] }), |r| {
            r["status"] == "Draft"
        }),
        (
            "locations",
            "location.list",
            json!({ "includeArchived": true, "includeLocationHierarchy": true }),
            |r| r["isArchived"] == true || r["type"] == "LocationHierarchy",
        ),
        ("job_postings", "jobPosting.list", json!({}), |r| r["isListed"] == false),
    ];

    for (entity, endpoint, flags, hidden) in cases {
        let all = fake.records(entity);
        let hidden_count = all.iter().filter(|record| hidden(record)).count();
        assert!(hidden_count > 0, "{entity} has hidden records");
        let default_records = fetch_all(&fake, endpoint, json!({})).await;
        let expected_default =
            if entity == "job_postings" { all.len() } else { all.len() - hidden_count };
        assert_eq!(default_records.len(), expected_default, "{entity} default");
        assert_eq!(fetch_all(&fake, endpoint, flags).await.len(), all.len(), "{entity} with flags");
    }

    let listed = fetch_all(&fake, "jobPosting.list", json!({ "listedOnly": true })).await;
    assert!(listed.iter().all(|posting| posting["isListed"] == true));
    let only_archived = fetch_all(&fake, "location.list", json!({ "includeArchived": true })).await;
    assert!(only_archived.iter().all(|location| location["type"] == "Location"));
    let fields = fetch_all(&fake, "customField.list", json!({})).await;
    assert_eq!(
        fields.len(),
        fake.records("custom_fields").len(),
        "custom fields are always all returned"
    );
}

/// Every record of an endpoint, paged or not.
async fn fetch_all(
    fake: &ashflow_fake_ashby::FakeAshby,
    endpoint: &str,
    filters: Value,
) -> Vec<Value> {
    if UNPAGED.contains(&endpoint) {
        let (_, body) = post(fake, endpoint, filters).await;
        return body["results"].as_array().cloned().expect("results");
    }
    full_pass(fake, endpoint, filters).await.0
}

#[tokio::test]
async fn endpoint_filters_narrow_the_results() {
    let fake = small_fake().await;
    let applications = fake.records("applications");
    let job_id = applications[0]["job"]["id"].as_str().expect("job id");

    let for_job = fetch_all(&fake, "application.list", json!({ "jobId": job_id })).await;
    assert!(!for_job.is_empty() && for_job.iter().all(|app| app["job"]["id"] == job_id));
    let hired = fetch_all(&fake, "application.list", json!({ "status": "Hired" })).await;
    assert_eq!(hired.len(), applications.iter().filter(|app| app["status"] == "Hired").count());
    let cutoff = chrono::DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z")
        .expect("cutoff")
        .timestamp_millis();
    let recent = fetch_all(&fake, "application.list", json!({ "createdAfter": cutoff })).await;
    let expected = applications.iter().filter(|app| {
        chrono::DateTime::parse_from_rfc3339(app["createdAt"].as_str().expect("createdAt"))
            .expect("time")
            .timestamp_millis()
            >= cutoff
    });
    assert_eq!(recent.len(), expected.count());
    let drafts = fetch_all(&fake, "job.list", json!({ "status": ["Draft"] })).await;
    assert!(!drafts.is_empty() && drafts.iter().all(|job| job["status"] == "Draft"));
    let accepted =
        fetch_all(&fake, "offer.list", json!({ "acceptanceStatus": ["Accepted"] })).await;
    assert!(accepted.iter().all(|offer| offer["acceptanceStatus"] == "Accepted"));
}

#[tokio::test]
async fn cursors_carry_the_filters_of_the_first_page() {
    let fake = small_fake().await;
    let all_statuses = json!({ "status": ["Draft", "Open", "Closed", "Archived"] });

    let (_, first) = post(&fake, "job.list", all_statuses).await;
    let mut records = first["results"].as_array().cloned().expect("results");
    let mut cursor = first["nextCursor"].as_str().map(String::from);
    while let Some(next) = cursor {
        let (_, page) = post(&fake, "job.list", json!({ "cursor": next })).await;
        records.extend(page["results"].as_array().cloned().expect("results"));
        cursor = page["nextCursor"].as_str().map(String::from);
    }
    assert_eq!(
        unique_ids(&records).len(),
        fake.records("jobs").len(),
        "drafts kept on later pages"
    );
}

#[tokio::test]
async fn authentication_and_permissions_fail_with_the_documented_statuses() {
    let fake = small_fake().await;
    let url = format!("{}/candidate.list", fake.base_url());

    let missing = client().post(&url).json(&json!({})).send().await.expect("answered");
    assert_eq!(missing.status().as_u16(), 401);
    let body: Value = missing.json().await.expect("401 is JSON");
    assert_eq!(error_code(&body), "unauthenticated");
    let garbled = client()
        .post(&url)
        .header("Authorization", "Basic !!!")
        .json(&json!({}))
        .send()
        .await
        .expect("answered");
    assert_eq!(garbled.status().as_u16(), 401);
    let bearer =
        client().post(&url).bearer_auth(KEY).json(&json!({})).send().await.expect("answered");
    assert_eq!(bearer.status().as_u16(), 401);

    let (status, body) = post_as(&fake, "wrong-key", "candidate.list", json!({})).await;
    assert_eq!((status, error_code(&body)), (403, "invalid_api_key"));

    fake.add_key("limited", &["candidatesRead"]);
    let (status, body) = post_as(&fake, "limited", "offer.list", json!({})).await;
    assert_eq!((status, error_code(&body)), (403, "missing_endpoint_permission"));
    assert!(
        body["errorInfo"]["message"].as_str().is_some_and(|message| message.contains("offersRead"))
    );
    let (status, body) = post_as(&fake, "limited", "candidate.list", json!({})).await;
    assert_eq!((status, body["success"].clone()), (200, json!(true)));

    let with_password = client()
        .post(&url)
        .basic_auth(KEY, Some(KEY))
        .json(&json!({}))
        .send()
        .await
        .expect("answered");
    assert_eq!(with_password.status().as_u16(), 200, "the password is ignored");
}

#[tokio::test]
async fn api_key_info_lists_the_scopes_of_the_key() {
    let fake = small_fake().await;

    let (status, body) = post(&fake, "apiKey.info", json!({})).await;
    assert_eq!(status, 200);
    let scopes: HashSet<&str> = body["results"]["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for scope in [
        "candidates:read",
        "offers:read",
        "hiringProcessMetadata:read",
        "organization:read",
        "jobs:read",
        "interviews:read",
    ] {
        assert!(scopes.contains(scope), "{scope} in {scopes:?}");
    }
    assert!(body["results"]["title"].is_string() && body["results"]["createdAt"].is_string());

    fake.add_key("no-info", &["candidatesRead"]);
    let (status, body) = post_as(&fake, "no-info", "apiKey.info", json!({})).await;
    assert_eq!((status, error_code(&body)), (403, "missing_endpoint_permission"));
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let fake = small_fake().await;
    let url = |endpoint: &str| format!("{}/{endpoint}", fake.base_url());
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.basic_auth(KEY, None::<&str>).send().await.expect("answered");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("errors are JSON"))
    };

    let json_type = "application/json";
    let (status, body) = send(
        client().post(url("candidate.list")).header("Content-Type", json_type).body("{not json"),
    )
    .await;
    assert_eq!((status, error_code(&body)), (200, "invalid_input"));
    let (status, body) = send(client().post(url("candidate.list")).json(&json!([1, 2]))).await;
    assert_eq!((status, error_code(&body)), (200, "invalid_input"));
    let (status, body) = send(client().post(url("candidate.list")).body("{}")).await;
    assert_eq!(
        (status, error_code(&body)),
        (200, "invalid_input"),
        "a JSON content type is required"
    );
    let (status, body) =
        send(client().post(url("department.list")).json(&json!({ "includeArchived": "yes" })))
            .await;
    assert_eq!((status, error_code(&body)), (200, "invalid_input"));
    let (status, body) = send(client().post(url("candidate.lists")).json(&json!({}))).await;
    assert_eq!((status, error_code(&body)), (404, "endpoint_not_found"));
    let (status, body) = send(client().get(url("candidate.list"))).await;
    assert_eq!((status, error_code(&body)), (405, "method_not_allowed"));
}

#[tokio::test]
async fn bad_cursors_and_sync_tokens_get_their_error_codes() {
    let fake = small_fake().await;
    let (_, first) = post(&fake, "candidate.list", json!({})).await;
    let cursor = first["nextCursor"].as_str().expect("a second page").to_string();
    let (_, _, token) = full_pass(&fake, "user.list", json!({})).await;

    let mut tampered = cursor.clone();
    let last = tampered.pop().expect("non-empty cursor");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [json!("garbage"), json!(tampered), json!(42)] {
        let (status, body) = post(&fake, "candidate.list", json!({ "cursor": bad })).await;
        assert_eq!((status, error_code(&body)), (200, "invalid_next_cursor"), "cursor {bad}");
    }
    let (_, body) = post(&fake, "application.list", json!({ "cursor": cursor })).await;
    assert_eq!(error_code(&body), "invalid_next_cursor", "a cursor belongs to its endpoint");

    for bad in [json!("garbage"), json!(token.clone() + "x"), json!(7)] {
        let (status, body) = post(&fake, "user.list", json!({ "syncToken": bad })).await;
        assert_eq!((status, error_code(&body)), (200, "sync_token_invalid"), "token {bad}");
    }
    let (_, body) = post(&fake, "candidate.list", json!({ "syncToken": token })).await;
    assert_eq!(error_code(&body), "sync_token_invalid", "a token belongs to its endpoint");
}

#[tokio::test]
async fn a_sync_token_on_an_unchanged_account_returns_nothing_new() {
    let fake = small_fake().await;

    for (_, endpoint, _) in ENTITIES.iter().filter(|(_, endpoint, _)| !UNPAGED.contains(endpoint)) {
        let filters = complete_filters(endpoint);
        let (_, _, token) = full_pass(&fake, endpoint, filters.clone()).await;
        let mut incremental = filters.clone();
        incremental["syncToken"] = json!(token);
        let (records, pages, next_token) = full_pass(&fake, endpoint, incremental).await;
        assert!(records.is_empty(), "{endpoint} returned {} records", records.len());
        assert_eq!(pages, 1);
        assert!(!next_token.is_empty());
    }
}

#[tokio::test]
async fn a_token_from_a_restarted_server_with_the_same_seed_stays_valid() {
    let first = small_fake().await;
    let (_, _, token) = full_pass(&first, "candidate.list", json!({})).await;
    first.shutdown().await;

    let second = small_fake().await;
    let (records, _, _) =
        full_pass(&second, "candidate.list", json!({ "syncToken": token.clone() })).await;
    assert!(records.is_empty());
    let other = fake_with(FakeConfig {
        seed: 1,
        candidates: 50,
        api_key: KEY.into(),
        ..FakeConfig::default()
    })
    .await;
    let (_, body) = post(&other, "candidate.list", json!({ "syncToken": token })).await;
    assert_eq!(error_code(&body), "sync_token_invalid");
}

#[tokio::test]
async fn mutated_records_and_only_they_come_back_in_the_next_incremental_pass() {
    let fake = small_fake().await;
    let (_, _, token) = full_pass(&fake, "candidate.list", json!({})).await;
    let before = fake.records("candidates");

    fake.mutate("candidates", 3);
    let (changed, _, next_token) =
        full_pass(&fake, "candidate.list", json!({ "syncToken": token })).await;
    assert_eq!(changed.len(), 3);
    let after = fake.records("candidates");
    for record in &changed {
        assert!(after.contains(record), "the pass returns the current record");
        assert!(!before.contains(record), "the record really changed");
        let position = record["position"].as_str().unwrap_or_default();
        assert!(
            position.ends_with(" (rev 1)")
                || position.ends_with(" (rev 2)")
                || position.ends_with(" (rev 3)"),
            "{position}"
        );
        assert!(
            record["updatedAt"]
                .as_str()
                .is_some_and(|updated| updated.starts_with("2026-09-30T12:0"))
        );
    }
    let (nothing, _, _) =
        full_pass(&fake, "candidate.list", json!({ "syncToken": next_token.clone() })).await;
    assert!(nothing.is_empty());

    fake.mutate("candidates", 2);
    let (again, _, _) =
        full_pass(&fake, "candidate.list", json!({ "syncToken": next_token })).await;
    assert_eq!(again.len(), 2);
    assert!(
        unique_ids(&again).is_disjoint(&unique_ids(&changed)),
        "successive mutations touch other records"
    );
}

#[tokio::test]
async fn mutations_of_every_entity_are_seen_by_incremental_passes_across_pages() {
    let fake = small_fake().await;
    for (entity, endpoint, _) in
        ENTITIES.iter().filter(|(_, endpoint, _)| !UNPAGED.contains(endpoint))
    {
        let filters = complete_filters(endpoint);
        let (_, _, token) = full_pass(&fake, endpoint, filters.clone()).await;
        let touched = fake.records(entity).len().min(5);
        fake.mutate(entity, 5);
        let mut incremental = filters;
        incremental["syncToken"] = json!(token);
        let (changed, pages, _) = full_pass(&fake, endpoint, incremental).await;
        assert_eq!(changed.len(), touched, "{entity}");
        assert_eq!(pages, touched.div_ceil(4), "{entity}: changes are paged like any pass");
    }
    let before = fake.records("sources");
    fake.mutate("sources", 1);
    assert_ne!(before, fake.records("sources"), "unpaged entities change too");
}

#[tokio::test]
async fn status_faults_answer_with_the_envelope_and_optional_retry_after() {
    use ashflow_fake_ashby::{Fault, FaultRule};
    let fake = small_fake().await;
    let limited = Fault::Status { status: 429, retry_after: Some("1".into()) };
    fake.inject(FaultRule::once(limited).on("candidate.list"));
    fake.inject(FaultRule::once(Fault::Status { status: 429, retry_after: None }).on("user.list"));
    fake.inject(FaultRule::once(Fault::Status { status: 503, retry_after: None }).on("job.list"));
    let send = |endpoint: &'static str| {
        let url = format!("{}/{endpoint}", fake.base_url());
        async move {
            client()
                .post(url)
                .basic_auth(KEY, None::<&str>)
                .json(&json!({}))
                .send()
                .await
                .expect("answered")
        }
    };

    let response = send("candidate.list").await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(error_code(&response.json::<Value>().await.expect("JSON")), "rate_limit_exceeded");
    let response = send("user.list").await;
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_none());
    let response = send("job.list").await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(send("candidate.list").await.status().as_u16(), 200, "the fault fired once");
}

#[tokio::test]
async fn body_faults_return_error_codes_broken_json_and_html() {
    use ashflow_fake_ashby::{Fault, FaultRule};
    let fake = small_fake().await;
    let url = format!("{}/candidate.list", fake.base_url());
    let send = || async {
        client()
            .post(&url)
            .basic_auth(KEY, None::<&str>)
            .json(&json!({}))
            .send()
            .await
            .expect("answered")
    };

    fake.inject(FaultRule::once(Fault::ErrorCode { code: "sync_token_expired".into() }));
    let (status, body) = post(&fake, "candidate.list", json!({})).await;
    assert_eq!((status, error_code(&body)), (200, "sync_token_expired"));

    fake.inject(FaultRule::once(Fault::TruncatedBody));
    let response = send().await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("the cut body arrives");
    assert!(text.starts_with(r#"{"success":true"#) && text.len() > 100);
    assert!(serde_json::from_str::<Value>(&text).is_err(), "the body is cut");

    fake.inject(FaultRule::once(Fault::NotJson));
    let response = send().await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(content_type.starts_with("text/html"));
    assert!(response.text().await.expect("html").contains("<html>"));
    assert_eq!(send().await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_dropped_connection_is_a_client_error_and_the_next_request_succeeds() {
    use ashflow_fake_ashby::{Fault, FaultRule};
    let fake = small_fake().await;
    let http = client();
    let url = format!("{}/candidate.list", fake.base_url());
    let send = || http.post(&url).basic_auth(KEY, None::<&str>).json(&json!({})).send();
    // The first request leaves a pooled keep-alive connection, which the fault then drops.
    assert_eq!(send().await.expect("answered").status().as_u16(), 200);

    fake.inject(FaultRule::once(Fault::DropConnection).on("candidate.list"));
    let error = send().await.expect_err("the connection closes without a response");
    assert!(!error.is_timeout() && !error.is_status(), "a transport error: {error}");
    assert_eq!(fake.request_count(Some("candidate.list")), 2, "the client did not silently retry");

    let retried = send().await.expect("answered");
    assert_eq!(retried.status().as_u16(), 200);
    assert_eq!(fake.request_count(Some("candidate.list")), 3);
}

#[tokio::test]
async fn a_delay_fault_trips_client_timeouts() {
    use ashflow_fake_ashby::{Fault, FaultRule};
    let fake = small_fake().await;
    fake.inject(FaultRule::once(Fault::Delay(Duration::from_millis(800))));
    let http =
        reqwest::Client::builder().timeout(Duration::from_millis(200)).build().expect("client");
    let url = format!("{}/user.list", fake.base_url());

    let slow = http.post(&url).basic_auth(KEY, None::<&str>).json(&json!({})).send().await;
    assert!(slow.expect_err("times out").is_timeout());
    let fast = http
        .post(&url)
        .basic_auth(KEY, None::<&str>)
        .json(&json!({}))
        .send()
        .await
        .expect("answered");
    assert_eq!(fast.status().as_u16(), 200);
}

#[tokio::test]
async fn cursor_only_rules_hit_mid_pass_pages_after_the_given_count() {
    use ashflow_fake_ashby::{Fault, FaultRule};
    let fake = small_fake().await;
    let expired = Fault::ErrorCode { code: "next_cursor_expired".into() };
    fake.inject(FaultRule::once(expired).on("candidate.list").with_cursor_only().after(2));

    let (_, first) = post(&fake, "candidate.list", json!({})).await;
    let mut cursor = first["nextCursor"].as_str().expect("cursor").to_string();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (_, page) = post(&fake, "candidate.list", json!({ "cursor": cursor.clone() })).await;
        if page["success"] == json!(true) {
            codes.push("ok".to_string());
            cursor = page["nextCursor"].as_str().expect("more pages").to_string();
        } else {
            codes.push(error_code(&page).to_string());
        }
    }
    assert_eq!(codes, ["ok", "ok", "next_cursor_expired", "ok"]);
}

#[tokio::test]
async fn requests_are_counted_and_their_bodies_recorded_in_order() {
    let fake = small_fake().await;
    post(&fake, "user.list", json!({ "limit": 2 })).await;
    post(&fake, "user.list", json!({ "includeDeactivated": true })).await;
    post(&fake, "job.list", json!({})).await;
    post_as(&fake, "nobody", "job.list", json!({})).await;

    assert_eq!(fake.request_count(None), 4);
    assert_eq!(fake.request_count(Some("user.list")), 2);
    assert_eq!(fake.request_count(Some("job.list")), 2);
    assert_eq!(fake.request_count(Some("offer.list")), 0);
    assert_eq!(
        fake.request_bodies("user.list"),
        [json!({ "limit": 2 }), json!({ "includeDeactivated": true })]
    );
}

#[tokio::test]
async fn latency_is_added_to_every_request_and_shutdown_stops_serving() {
    let config = FakeConfig {
        candidates: 20,
        latency: Duration::from_millis(150),
        api_key: KEY.into(),
        ..FakeConfig::default()
    };
    let fake = fake_with(config).await;
    let url = format!("{}/user.list", fake.base_url());

    let started = Instant::now();
    let (status, _) = post(&fake, "user.list", json!({})).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));

    fake.shutdown().await;
    let refused = client().post(&url).basic_auth(KEY, None::<&str>).json(&json!({})).send().await;
    assert!(refused.expect_err("nothing listens any more").is_connect());
}

#[tokio::test]
async fn deleted_records_vanish_from_full_passes_but_incremental_passes_do_not_say_so() {
    let fake = small_fake().await;
    let (before, _, token) = full_pass(&fake, "candidate.list", json!({})).await;

    let deleted = fake.delete("candidates", 3);

    assert_eq!(deleted.len(), 3);
    let (changes, _, _) = full_pass(&fake, "candidate.list", json!({ "syncToken": token })).await;
    assert!(changes.is_empty(), "a deletion is not a change an incremental pass reports");
    let (after, _, _) = full_pass(&fake, "candidate.list", json!({})).await;
    assert_eq!(after.len(), before.len() - 3);
    let remaining = unique_ids(&after);
    assert!(deleted.iter().all(|id| !remaining.contains(id)));
    assert_eq!(fake.records("candidates").len(), after.len());
}

#[tokio::test]
async fn control_endpoints_mutate_delete_and_count_without_counting_themselves() {
    let fake = small_fake().await;
    let (_, _, token) = full_pass(&fake, "candidate.list", json!({})).await;
    let ashby_requests = fake.request_count(None);
    let control = |command: &str, body: Value| {
        let url = format!("{}/_fake/{command}", fake.base_url());
        async move {
            let response = client().post(url).json(&body).send().await.expect("answered");
            (response.status().as_u16(), response.json::<Value>().await.expect("JSON"))
        }
    };

    assert_eq!(control("mutate", json!({"entity": "candidates", "count": 2})).await.0, 200);
    let (status, deleted) = control("delete", json!({"entity": "jobs", "count": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["deleted"].as_array().map(Vec::len), Some(1));
    let (status, counted) = control("requests", json!({})).await;
    assert_eq!((status, counted["count"].as_u64()), (200, Some(ashby_requests as u64)));
    let (status, problem) = control("mutate", json!({"entity": "nope", "count": 1})).await;
    assert_eq!(status, 400, "{problem}");

    let (changed, _, _) = full_pass(&fake, "candidate.list", json!({ "syncToken": token })).await;
    assert_eq!(changed.len(), 2);
}

#[tokio::test]
async fn waiting_for_the_nth_request_resolves_when_it_arrives() {
    let fake = small_fake().await;
    let waiting =
        tokio::time::timeout(std::time::Duration::from_millis(50), fake.wait_for_requests(3));
    assert!(waiting.await.is_err(), "no request has arrived yet");

    let (_, _, _) = full_pass(&fake, "candidate.list", json!({})).await;

    tokio::time::timeout(std::time::Duration::from_secs(5), fake.wait_for_requests(3))
        .await
        .expect("three requests arrived");
}
