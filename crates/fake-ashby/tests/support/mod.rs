//! Helpers shared by the integration tests: a small fake server and a reqwest client that
//! speaks Ashby's protocol to it.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;

use ashflow_fake_ashby::{FakeAshby, FakeConfig};
use serde_json::{Value, json};

/// The key every test server accepts with every permission.
pub const KEY: &str = "test-key";

/// A fake with 50 candidates and pages of at most 4 records, so every paginated entity needs
/// several pages.
pub async fn small_fake() -> FakeAshby {
    fake_with(FakeConfig {
        candidates: 50,
        max_page_size: 4,
        api_key: KEY.into(),
        ..FakeConfig::default()
    })
    .await
}

/// A fake with the given configuration.
pub async fn fake_with(config: FakeConfig) -> FakeAshby {
    FakeAshby::start(config).await.expect("the fake server starts")
}

/// A client without connection pooling surprises: plain HTTP/1.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("a reqwest client builds")
}

/// Posts `body` to `endpoint` with `key` and returns the status and the parsed body.
pub async fn post_as(fake: &FakeAshby, key: &str, endpoint: &str, body: Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}/{endpoint}", fake.base_url()))
        .basic_auth(key, None::<&str>)
        .json(&body)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status().as_u16();
    let body = response.json().await.expect("the answer is JSON");
    (status, body)
}

/// Posts `body` to `endpoint` with the full-permission key.
pub async fn post(fake: &FakeAshby, endpoint: &str, body: Value) -> (u16, Value) {
    post_as(fake, KEY, endpoint, body).await
}

/// The error code of an error envelope.
pub fn error_code(body: &Value) -> &str {
    assert_eq!(body["success"], json!(false), "expected an error envelope: {body}");
    assert_eq!(body["errors"][0], body["errorInfo"]["code"]);
    assert!(body["errorInfo"]["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    body["errorInfo"]["code"].as_str().expect("errorInfo.code is a string")
}

/// One complete pass over a paginated endpoint: every record, the number of pages and the
/// final sync token. Asserts the paging protocol on every page.
pub async fn full_pass(
    fake: &FakeAshby,
    endpoint: &str,
    filters: Value,
) -> (Vec<Value>, usize, String) {
    let mut records = Vec::new();
    let mut pages = 0;
    let mut body = filters.clone();
    loop {
        let (status, page) = post(fake, endpoint, body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(page["success"], json!(true), "page failed: {page}");
        pages += 1;
        records.extend(page["results"].as_array().expect("results is an array").iter().cloned());
        if page["moreDataAvailable"] == json!(true) {
            assert!(page.get("syncToken").is_none(), "syncToken only on the last page");
            let cursor =
                page["nextCursor"].as_str().expect("nextCursor while more data").to_string();
            body = filters.clone();
            body["cursor"] = json!(cursor);
        } else {
            assert_eq!(page["moreDataAvailable"], json!(false));
            assert!(page.get("nextCursor").is_none(), "no nextCursor on the last page");
            let token = page["syncToken"].as_str().expect("syncToken on the last page").to_string();
            return (records, pages, token);
        }
        assert!(pages < 10_000, "paging does not end");
    }
}

/// The ids of records, asserting each appears once.
pub fn unique_ids(records: &[Value]) -> HashSet<String> {
    let mut ids = HashSet::new();
    for record in records {
        let id = record["id"].as_str().expect("every record has a string id").to_string();
        assert!(ids.insert(id.clone()), "id {id} returned twice");
    }
    ids
}

/// The filters a complete export sends to each paginated endpoint.
pub fn complete_filters(endpoint: &str) -> Value {
    match endpoint {
        "job.list" => json!({ "status": ["Draft", "Open", "Closed", "Archived"] }),
        "location.list" => json!({ "includeArchived": true, "includeLocationHierarchy": true }),
        "user.list" => json!({ "includeDeactivated": true }),
        "candidateTag.list"
        | "department.list"
        | "feedbackFormDefinition.list"
        | "source.list"
        | "archiveReason.list" => json!({ "includeArchived": true }),
        _ => json!({}),
    }
}
