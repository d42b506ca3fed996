//! Broken passes recover without losing or repeating records: a rejected cursor starts the
//! pass again, a rejected sync token falls back to a full pass, and a closed channel cancels.

use ashflow_core::{Error, ErrorClass};
use ashflow_fake_ashby::{Fault, FaultRule};
use serde_json::Value;

use crate::support::{KEY, assert_complete, read, small_fake, source};

fn code(code: &str) -> Fault {
    Fault::ErrorCode { code: code.to_string() }
}

#[tokio::test]
async fn a_rejected_cursor_restarts_the_pass_without_duplicates_or_losses() {
    for error_code in ["next_cursor_expired", "invalid_next_cursor", "cursor_invalid"] {
        let fake = small_fake().await;
        fake.inject(
            FaultRule::once(code(error_code)).on("candidate.list").with_cursor_only().after(3),
        );
        let source = source(&fake, KEY, "");

        let read = read(&source, "candidates", None).await;

        assert_complete(&fake, "candidates", &read);
        let report = read.report();
        assert_eq!(report.pass_restarts, 1, "{error_code}");
        assert!(report.sync_token.is_some(), "{error_code}");
        let bodies = fake.request_bodies("candidate.list");
        let first_pages = bodies.iter().filter(|body| body.get("cursor").is_none()).count();
        assert_eq!(first_pages, 2, "{error_code}: the pass started again from its first page");
        fake.shutdown().await;
    }
}

#[tokio::test]
async fn a_restarted_incremental_pass_keeps_its_sync_token() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let token = read(&source, "candidates", None).await.report().sync_token.clone();
    let token = token.expect("a sync token");
    fake.mutate("candidates", 20);
    let before = fake.request_count(Some("candidate.list"));
    let rule = FaultRule::once(code("next_cursor_expired")).on("candidate.list").with_cursor_only();
    fake.inject(rule.after(1));

    let read = read(&source, "candidates", Some(&token)).await;

    let report = read.report();
    assert_eq!(report.pass_restarts, 1);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(read.by_id().len(), 20, "exactly the changed candidates, each once");
    let bodies = &fake.request_bodies("candidate.list")[before..];
    let first_pages: Vec<_> = bodies.iter().filter(|body| body.get("cursor").is_none()).collect();
    assert_eq!(first_pages.len(), 2);
    for body in first_pages {
        assert_eq!(body.get("syncToken").and_then(Value::as_str), Some(token.as_str()), "{body}");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn a_sync_token_expiring_mid_pass_falls_back_without_duplicates() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let token = read(&source, "applications", None).await.report().sync_token.clone();
    let token = token.expect("a sync token");
    fake.mutate("applications", 20);
    let rule = FaultRule::once(code("sync_token_expired")).on("application.list");
    fake.inject(rule.with_cursor_only());

    let read = read(&source, "applications", Some(&token)).await;

    assert_complete(&fake, "applications", &read);
    let report = read.report();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("sync_token_expired"), "{:?}", report.warnings);
    assert_eq!(read.batches[0].len(), 7, "the first incremental page was delivered");
    fake.shutdown().await;
}

#[tokio::test]
async fn cursor_errors_in_every_pass_fail_the_stream_after_three_restarts() {
    let fake = small_fake().await;
    fake.inject(
        FaultRule::once(code("next_cursor_expired"))
            .on("candidate.list")
            .with_cursor_only()
            .times(50),
    );
    let source = source(&fake, KEY, "");

    let read = read(&source, "candidates", None).await;

    let error = read.error();
    assert_eq!(error.class(), ErrorClass::Upstream);
    let message = error.to_string();
    assert!(message.contains("rejected its page cursor in 4 passes in a row"), "{message}");
    assert!(message.contains("next_cursor_expired"), "{message}");
    let delivered = read.by_id().len();
    assert_eq!(delivered, 7, "only the first page was ever delivered, once");
    fake.shutdown().await;
}

#[tokio::test]
async fn an_invalid_sync_token_falls_back_to_a_full_pass_with_a_warning() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");

    let read = read(&source, "jobs", Some("not-a-token-the-fake-issued")).await;

    assert_complete(&fake, "jobs", &read);
    let report = read.report();
    assert!(report.sync_token.is_some());
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("sync_token_invalid"), "{:?}", report.warnings);
    assert!(report.warnings[0].contains("all jobs were read"), "{:?}", report.warnings);
    let bodies = fake.request_bodies("job.list");
    assert!(bodies[0].get("syncToken").is_some());
    assert!(bodies[1..].iter().all(|body| body.get("syncToken").is_none()));
    fake.shutdown().await;
}

#[tokio::test]
async fn an_expired_or_too_large_sync_token_falls_back_to_a_full_pass() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let token = read(&source, "applications", None).await.report().sync_token.clone();
    let token = token.expect("a sync token");
    for error_code in ["sync_token_expired", "incremental_sync_too_large"] {
        fake.inject(FaultRule::once(code(error_code)).on("application.list"));

        let read = read(&source, "applications", Some(&token)).await;

        assert_complete(&fake, "applications", &read);
        assert!(read.report().warnings[0].contains(error_code), "{:?}", read.report().warnings);
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn a_closed_channel_cancels_the_read() {
    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    drop(receiver);
    let request = ashflow_core::ReadRequest { stream: "candidates".into(), sync_token: None };

    let result = ashflow_core::Source::read(&source, request, sender).await;

    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    fake.shutdown().await;
}

/// The kinds of pass and the end-of-pass marks of a read's batches, in order.
fn pass_marks(read: &crate::support::Read) -> Vec<(ashflow_core::Pass, Option<Option<String>>)> {
    read.batches
        .iter()
        .map(|batch| (batch.pass, batch.end_of_pass.as_ref().map(|end| end.sync_token.clone())))
        .collect()
}

#[tokio::test]
async fn one_batch_per_page_and_only_the_last_ends_the_pass_with_the_token() {
    use ashflow_core::Pass;

    let fake = small_fake().await;
    let source = source(&fake, KEY, "");

    let full = read(&source, "candidates", None).await;

    let pages = fake.request_count(Some("candidate.list"));
    let marks = pass_marks(&full);
    assert_eq!(marks.len(), pages, "one batch per page");
    assert!(marks.iter().all(|(pass, _)| *pass == Pass::Full));
    let (last, middle) = marks.split_last().expect("batches");
    assert!(middle.iter().all(|(_, end)| end.is_none()));
    let token = full.report().sync_token.clone();
    assert!(token.is_some());
    assert_eq!(last.1, Some(token.clone()), "the last page carries the report's token");

    // Nothing changed: the changes pass is one empty page that still ends the pass.
    let unchanged = read(&source, "candidates", token.as_deref()).await;
    let marks = pass_marks(&unchanged);
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].0, Pass::Changes);
    assert!(unchanged.batches[0].is_empty());
    assert_eq!(marks[0].1, Some(unchanged.report().sync_token.clone()));
    fake.shutdown().await;
}

#[tokio::test]
async fn a_fallback_to_a_full_pass_marks_the_batches_after_it_full() {
    use ashflow_core::Pass;

    let fake = small_fake().await;
    let source = source(&fake, KEY, "");
    let token = read(&source, "applications", None).await.report().sync_token.clone();
    fake.mutate("applications", 20);
    let rule = FaultRule::once(code("sync_token_expired")).on("application.list");
    fake.inject(rule.with_cursor_only());

    let read = read(&source, "applications", token.as_deref()).await;

    let marks = pass_marks(&read);
    assert_eq!(marks[0], (Pass::Changes, None), "the first changes page, before the expiry");
    assert!(marks[1..].iter().all(|(pass, _)| *pass == Pass::Full), "{marks:?}");
    let ends: Vec<_> = marks.iter().filter(|(_, end)| end.is_some()).collect();
    assert_eq!(ends.len(), 1, "only the completed full pass ends");
    assert_eq!(marks.last().map(|mark| mark.1.is_some()), Some(true));
    fake.shutdown().await;
}

#[tokio::test]
async fn a_failed_read_never_ends_its_pass() {
    let fake = small_fake().await;
    fake.inject(FaultRule::once(Fault::Status { status: 401, retry_after: None }).after(2));
    let source = source(&fake, KEY, "");

    let read = read(&source, "candidates", None).await;

    assert!(read.result.is_err());
    assert!(read.batches.iter().all(|batch| batch.end_of_pass.is_none()));
    fake.shutdown().await;
}
