//! Fault injection: rules that make matching requests fail in the ways real networks and
//! Ashby fail, so clients can be tested for retries, restarts and clear errors.
//!
//! A rule counts the requests it matches; the first `after` pass, the next `times` get the
//! fault, later ones pass again. Every rule counts independently, and when several are due at
//! once the earliest injected wins, which keeps combined scenarios predictable.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::entity::Entity;

/// A fault applied to matching requests: the first `after` matching requests pass normally,
/// the next `times` matching requests get `fault`, later ones pass normally again.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// The endpoint to match, such as `candidate.list`; `None` matches any endpoint.
    pub endpoint: Option<String>,
    /// Match only requests whose body has a non-null `cursor` (that is, mid-pass pages).
    pub only_with_cursor: bool,
    /// How many matching requests pass before the fault starts.
    pub after: usize,
    /// How many matching requests get the fault.
    pub times: usize,
    /// What those requests get.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule giving `fault` once, to the very next request of any endpoint.
    pub fn once(fault: Fault) -> Self {
        FaultRule { endpoint: None, only_with_cursor: false, after: 0, times: 1, fault }
    }

    /// Restricts the rule to one endpoint. Accepts the endpoint (`candidate.list`, with or
    /// without a leading slash) or the entity name (`candidates`).
    pub fn on(mut self, endpoint: &str) -> Self {
        let trimmed = endpoint.trim_start_matches('/');
        let endpoint = Entity::from_name(trimmed).map_or(trimmed, |entity| entity.endpoint());
        self.endpoint = Some(endpoint.to_string());
        self
    }

    /// Lets the first `n` matching requests pass before the fault starts.
    pub fn after(mut self, n: usize) -> Self {
        self.after = n;
        self
    }

    /// Applies the fault to `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Matches only requests that carry a cursor (pages after the first).
    pub fn with_cursor_only(mut self) -> Self {
        self.only_with_cursor = true;
        self
    }

    fn matches(&self, endpoint: &str, has_cursor: bool) -> bool {
        self.endpoint.as_deref().is_none_or(|wanted| wanted == endpoint)
            && (!self.only_with_cursor || has_cursor)
    }
}

/// What a faulty request gets instead of (or before) its normal answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// An HTTP error status with Ashby's error envelope body; for 429 optionally a Retry-After
    /// header value (seconds, e.g. "1").
    Status {
        /// The HTTP status code, such as 429 or 503.
        status: u16,
        /// The `Retry-After` header value, if any.
        retry_after: Option<String>,
    },
    /// HTTP 200 with `success: false` and errorInfo.code = code (e.g. "next_cursor_expired",
    /// "invalid_next_cursor", "sync_token_expired", "invalid_input").
    ErrorCode {
        /// The error code.
        code: String,
    },
    /// HTTP 200 whose body is cut in the middle (invalid JSON).
    TruncatedBody,
    /// HTTP 200 with an HTML body (not JSON), as a proxy error page would.
    NotJson,
    /// Closes the connection without answering.
    DropConnection,
    /// Waits this long before answering normally (to trigger client timeouts).
    Delay(Duration),
}

/// A rule and how many requests it has matched.
struct Armed {
    rule: FaultRule,
    matched: usize,
}

/// The injected rules of one server.
#[derive(Default)]
pub(crate) struct FaultBook {
    rules: Mutex<Vec<Armed>>,
}

impl FaultBook {
    /// Adds a rule after the existing ones.
    pub(crate) fn inject(&self, rule: FaultRule) {
        self.lock().push(Armed { rule, matched: 0 });
    }

    /// Counts the request against every matching rule and returns the fault now due, if any.
    pub(crate) fn next(&self, endpoint: &str, has_cursor: bool) -> Option<Fault> {
        let mut rules = self.lock();
        let mut due = None;
        for armed in rules.iter_mut().filter(|armed| armed.rule.matches(endpoint, has_cursor)) {
            armed.matched += 1;
            let window = armed.rule.after..armed.rule.after.saturating_add(armed.rule.times);
            if due.is_none() && window.contains(&(armed.matched - 1)) {
                due = Some(armed.rule.fault.clone());
            }
        }
        rules.retain(|armed| armed.matched < armed.rule.after.saturating_add(armed.rule.times));
        due
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Armed>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_due(book: &FaultBook, endpoint: &str, has_cursor: bool) -> bool {
        book.next(endpoint, has_cursor).is_some()
    }

    #[test]
    fn a_rule_skips_after_requests_then_fires_times_then_passes() {
        let book = FaultBook::default();
        book.inject(FaultRule::once(Fault::NotJson).on("candidate.list").after(2).times(2));
        let pattern: Vec<bool> = (0..6).map(|_| is_due(&book, "candidate.list", false)).collect();
        assert_eq!(pattern, [false, false, true, true, false, false]);
    }

    #[test]
    fn rules_match_endpoint_names_entity_names_and_cursor_requests_only() {
        let book = FaultBook::default();
        book.inject(FaultRule::once(Fault::TruncatedBody).on("candidates").with_cursor_only());
        assert!(!is_due(&book, "job.list", true));
        assert!(!is_due(&book, "candidate.list", false));
        assert!(is_due(&book, "candidate.list", true));
        assert!(!is_due(&book, "candidate.list", true));
        assert_eq!(
            FaultRule::once(Fault::NotJson).on("/job.list").endpoint.as_deref(),
            Some("job.list")
        );
    }

    #[test]
    fn the_earliest_due_rule_wins_and_every_rule_counts() {
        let book = FaultBook::default();
        book.inject(FaultRule::once(Fault::ErrorCode { code: "first".into() }));
        book.inject(FaultRule::once(Fault::ErrorCode { code: "second".into() }).times(2));
        let codes: Vec<String> = (0..3)
            .map(|_| match book.next("user.list", false) {
                Some(Fault::ErrorCode { code }) => code,
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(codes, ["first", "second", "None"]);
    }
}
