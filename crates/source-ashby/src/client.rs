//! The HTTP client: one list request to Ashby, sent within the shared concurrency cap and
//! retried through transient failures.
//!
//! Every request authenticates with HTTP Basic (the key as user name, no password), sends and
//! accepts JSON, and identifies itself as `ashflow/<version>`. The key lives in [`ApiKey`],
//! whose `Debug` output is redacted, and is never put into an error or a log line; errors name
//! the key's *source* (such as `${ASHBY_API_KEY}`) instead.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::Retryable;
use chrono::Utc;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use crate::entities::Entity;
use crate::envelope::{Page, RequestFacts, interpret};
use crate::error::AshbyError;
use crate::limiter::AdaptiveLimiter;
use crate::retry::{RetryPolicy, parse_retry_after, wait_before_retry};

/// Retries after a connection could not be opened at all. A server that restarts is back within
/// a few seconds; a wrong `base_url` never is, and should not hold a run for minutes.
const UNREACHABLE_RETRIES: u32 = 2;

/// The longest a new connection may take, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An Ashby API key. Shows as `ApiKey(<redacted>)` in any `Debug` output.
#[derive(Clone)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    /// Wraps a resolved key.
    pub(crate) fn new(key: String) -> Self {
        ApiKey(key)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Requests and retries of one stream, shared with the retry callbacks.
#[derive(Debug, Default)]
pub(crate) struct RequestCounters {
    /// HTTP requests sent, retries included.
    pub(crate) requests: AtomicU64,
    /// Requests sent again after a transient failure.
    pub(crate) retries: AtomicU64,
}

/// A client for Ashby's list endpoints, shared by every stream of one source.
#[derive(Debug)]
pub(crate) struct AshbyClient {
    http: reqwest::Client,
    base_url: String,
    key: ApiKey,
    key_source: String,
    timeout: Duration,
    limiter: AdaptiveLimiter,
    retry: RetryPolicy,
}

impl AshbyClient {
    /// A client for `base_url` (without a trailing slash). Opens no connection.
    pub(crate) fn new(
        base_url: String,
        key: ApiKey,
        key_source: String,
        timeout: Duration,
        limiter: AdaptiveLimiter,
        retry: RetryPolicy,
    ) -> Result<Self, AshbyError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("ashflow/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout.min(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| AshbyError::Client { detail: error_chain(&error) })?;

        Ok(AshbyClient { http, base_url, key, key_source, timeout, limiter, retry })
    }

    /// Sends one list request for `entity`, retrying transient failures within the retry
    /// policy, and returns its page.
    pub(crate) async fn list_page(
        &self,
        entity: &'static Entity,
        body: &Value,
        counters: &RequestCounters,
    ) -> Result<Page, AshbyError> {
        let started = Instant::now();
        let deadline = started.checked_add(self.retry.budget);
        let attempts = &AtomicU32::new(0);

        let attempt = move || async move {
            attempts.fetch_add(1, Ordering::Relaxed);
            counters.requests.fetch_add(1, Ordering::Relaxed);
            self.send_once(entity, body).await
        };
        let outcome = attempt
            .retry(self.retry.backoff())
            .when(AshbyError::is_transient)
            .adjust(|error, backoff| {
                let unreachable = matches!(error, AshbyError::Unreachable { .. });
                if unreachable && attempts.load(Ordering::Relaxed) > UNREACHABLE_RETRIES {
                    return None;
                }
                let remaining =
                    deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
                wait_before_retry(backoff, error.retry_after(), remaining)
            })
            .notify(|error, wait| {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    component = "ashby",
                    stream = entity.name,
                    endpoint = entity.endpoint,
                    attempt = attempts.load(Ordering::Relaxed),
                    reason = %error.reason(),
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "Retrying a request after a transient failure."
                );
            })
            .await;

        outcome.map_err(|error| {
            if !error.is_transient() || matches!(error, AshbyError::Unreachable { .. }) {
                return error;
            }
            AshbyError::RetriesExhausted {
                endpoint: entity.endpoint,
                attempts: attempts.load(Ordering::Relaxed),
                elapsed: started.elapsed(),
                last: Box::new(error),
            }
        })
    }

    /// One attempt: waits for a slot, sends, reads the whole answer and interprets it.
    async fn send_once(&self, entity: &'static Entity, body: &Value) -> Result<Page, AshbyError> {
        let slot = self.limiter.acquire().await;
        let answer = self.exchange(entity, body).await;
        drop(slot);

        let (status, retry_after, bytes) = answer?;
        let facts = RequestFacts { entity, key_source: &self.key_source };
        let page = interpret(facts, status, retry_after, &bytes);

        if let Err(error @ AshbyError::RateLimited { .. }) = &page {
            let limit = self.limiter.throttled();
            tracing::warn!(
                component = "ashby",
                stream = entity.name,
                reason = %error.reason(),
                max_concurrent_requests = limit,
                "Lowered the request concurrency after rate limiting."
            );
        }
        page
    }

    /// Sends the request and reads the status, `Retry-After` and body.
    async fn exchange(
        &self,
        entity: &'static Entity,
        body: &Value,
    ) -> Result<(u16, Option<Duration>, Vec<u8>), AshbyError> {
        let url = format!("{}/{}", self.base_url, entity.endpoint);
        let response = self
            .http
            .post(url)
            .basic_auth(&self.key.0, None::<&str>)
            .json(body)
            .send()
            .await
            .map_err(|error| self.transport_error(entity, &error, "sending the request"))?;

        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, Utc::now()));
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(entity, &error, "reading the answer"))?;

        Ok((status, retry_after, bytes.to_vec()))
    }

    fn transport_error(
        &self,
        entity: &'static Entity,
        error: &reqwest::Error,
        stage: &str,
    ) -> AshbyError {
        if error.is_timeout() {
            return AshbyError::Timeout { endpoint: entity.endpoint, timeout: self.timeout };
        }
        if error.is_connect() {
            // Only the root cause: the outer layers name the endpoint, and without them the
            // message is the same for every stream, so the summary says it once.
            return AshbyError::Unreachable {
                base_url: self.base_url.clone(),
                detail: root_cause(error),
            };
        }
        AshbyError::Connection {
            endpoint: entity.endpoint,
            detail: format!("{stage}: {}", error_chain(error)),
        }
    }
}

/// The innermost cause of an error, such as "Connection refused (os error 111)".
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut innermost = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    innermost.to_string()
}

/// An error and its causes on one line, as "outer: inner: innermost".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::DEFAULT_COOL_DOWN;

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let key = ApiKey::new("sk_live_very_secret".into());
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");

        let client = AshbyClient::new(
            "http://127.0.0.1:9".into(),
            key,
            "${ASHBY_API_KEY}".into(),
            Duration::from_secs(1),
            AdaptiveLimiter::new(1, DEFAULT_COOL_DOWN),
            RetryPolicy {
                max_retries: 0,
                budget: Duration::ZERO,
                min_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
            },
        )
        .expect("a client");
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk_live_very_secret"), "{debug}");
        assert!(debug.contains("ApiKey(<redacted>)"), "{debug}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_briefly_then_points_at_base_url_without_the_key() {
        // Bind and drop a listener so the port is (almost certainly) closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        drop(listener);

        let client = AshbyClient::new(
            format!("http://127.0.0.1:{port}"),
            ApiKey::new("sk_live_very_secret".into()),
            "${ASHBY_API_KEY}".into(),
            Duration::from_secs(1),
            AdaptiveLimiter::new(1, DEFAULT_COOL_DOWN),
            RetryPolicy {
                max_retries: 8,
                budget: Duration::from_secs(5),
                min_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(2),
            },
        )
        .expect("a client");
        let entity = Entity::named("users").expect("users exists");
        let counters = RequestCounters::default();

        let error = client
            .list_page(entity, &serde_json::json!({"limit": 1}), &counters)
            .await
            .expect_err("nothing listens");

        assert!(matches!(error, AshbyError::Unreachable { .. }), "{error:?}");
        assert_eq!(counters.requests.load(Ordering::Relaxed), 1 + u64::from(UNREACHABLE_RETRIES));
        let message = ashflow_core::Error::from(error).to_string();
        assert!(
            message.contains(&format!("cannot connect to http://127.0.0.1:{port}")),
            "{message}"
        );
        assert!(message.contains("check `base_url`"), "{message}");
        assert!(!message.contains("sk_live_very_secret"), "{message}");
    }
}
