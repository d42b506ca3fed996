//! Transient failures are retried until the read completes, counted in the report, and give up
//! with a clear error when the retry limits run out.

use std::time::{Duration, Instant};

use ashflow_core::ErrorClass;
use ashflow_fake_ashby::{Fault, FaultRule};

use crate::support::{KEY, assert_complete, read, small_fake, source};

fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status { status, retry_after: retry_after.map(str::to_string) }
}

/// Reads `users` with `fault` injected into its requests by `rule`, and checks that the read
/// still delivered every user, after `retries` retries.
async fn survives(rule: FaultRule, extra: &str, retries: u64) {
    let fake = small_fake().await;
    fake.inject(rule);
    let source = source(&fake, KEY, extra);

    let read = read(&source, "users", None).await;

    assert_complete(&fake, "users", &read);
    let report = read.report();
    assert_eq!(report.retries, retries);
    assert_eq!(report.requests, read.batches.len() as u64 + retries);
    assert_eq!(report.pass_restarts, 0);
    fake.shutdown().await;
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried_with_backoff() {
    survives(FaultRule::once(status(429, None)).on("user.list"), "", 1).await;
}

#[tokio::test]
async fn a_429_with_retry_after_waits_at_least_that_long() {
    let started = Instant::now();
    survives(FaultRule::once(status(429, Some("1"))).on("user.list").after(1), "", 1).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
}

#[tokio::test]
async fn server_errors_are_retried() {
    survives(FaultRule::once(status(503, None)).on("user.list").times(2), "", 2).await;
    survives(FaultRule::once(status(500, None)).on("user.list").after(2), "", 1).await;
}

#[tokio::test]
async fn a_truncated_body_is_retried() {
    survives(FaultRule::once(Fault::TruncatedBody).on("user.list").after(1), "", 1).await;
}

#[tokio::test]
async fn an_html_body_is_retried() {
    survives(FaultRule::once(Fault::NotJson).on("user.list"), "", 1).await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    survives(FaultRule::once(Fault::DropConnection).on("user.list").after(1), "", 1).await;
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_abandoned_and_retried() {
    let slow = Fault::Delay(Duration::from_millis(2500));
    survives(FaultRule::once(slow).on("user.list"), "request_timeout_secs = 1\n", 1).await;
}

#[tokio::test]
async fn exhausted_retries_fail_the_stream_with_a_clear_message() {
    let fake = small_fake().await;
    fake.inject(FaultRule::once(status(503, None)).on("user.list").times(100));
    let source = source(&fake, KEY, "max_retries = 3\n");

    let read = read(&source, "users", None).await;

    let error = read.error();
    assert_eq!(error.class(), ErrorClass::Upstream);
    let message = error.to_string();
    assert!(message.contains("user.list still failed after 4 attempts"), "{message}");
    assert!(message.contains("HTTP 503"), "{message}");
    assert!(message.contains("`max_retries`"), "{message}");
    assert_eq!(fake.request_count(Some("user.list")), 4);
    assert!(read.batches.is_empty());
    fake.shutdown().await;
}

#[tokio::test]
async fn the_retry_time_budget_caps_a_long_retry_after() {
    let fake = small_fake().await;
    fake.inject(FaultRule::once(status(429, Some("30"))).on("user.list").times(100));
    let source = source(&fake, KEY, "max_retry_secs = 1\n");
    let started = Instant::now();

    let read = read(&source, "users", None).await;

    let message = read.error().to_string();
    assert!(message.contains("still failed after 2 attempts over 1 s"), "{message}");
    assert!(message.contains("rate limited (HTTP 429)"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5), "the 30 s Retry-After was capped");
    fake.shutdown().await;
}

#[tokio::test]
async fn a_non_transient_error_code_fails_at_once_with_the_request_id() {
    let fake = small_fake().await;
    let rule = FaultRule::once(Fault::ErrorCode { code: "invalid_input".into() }).on("job.list");
    fake.inject(rule);
    let source = source(&fake, KEY, "");

    let read = read(&source, "jobs", None).await;

    let message = read.error().to_string();
    assert_eq!(read.error().class(), ErrorClass::Upstream);
    assert!(message.contains("job.list failed with Ashby error `invalid_input`"), "{message}");
    assert!(message.contains("Ashby request id "), "{message}");
    assert_eq!(fake.request_count(Some("job.list")), 1, "not retried");
    fake.shutdown().await;
}

#[tokio::test]
async fn a_rate_limit_code_in_a_200_answer_is_retried() {
    survives(
        FaultRule::once(Fault::ErrorCode { code: "rate_limit_exceeded".into() }).on("user.list"),
        "",
        1,
    )
    .await;
}
