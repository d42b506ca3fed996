//! When and how long to wait before sending a failed request again.
//!
//! The schedule is backon's capped exponential backoff with jitter, bounded twice: by a number
//! of retries and by a time budget per request, so a long outage fails the stream in known time
//! instead of hanging a scheduled run. Ashby may say how long to wait with `Retry-After`
//! (seconds or an HTTP date); the client then waits at least that long, but never past the
//! budget. The arithmetic lives here as pure functions so it is tested without sleeping.

use std::time::Duration;

use backon::ExponentialBuilder;
use chrono::{DateTime, Utc};

/// The first wait of the schedule, doubled for each further retry.
pub(crate) const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(1);

/// The longest wait of the schedule before jitter.
pub(crate) const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How failed requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// The longest time from a request's first attempt to its last retry.
    pub(crate) budget: Duration,
    /// The first backoff wait.
    pub(crate) min_backoff: Duration,
    /// The cap of backoff waits before jitter.
    pub(crate) max_backoff: Duration,
}

impl RetryPolicy {
    /// The backon schedule: exponential from `min_backoff`, capped at `max_backoff`, with
    /// jitter so that concurrent streams do not retry in lockstep.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(self.min_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(usize::try_from(self.max_retries).unwrap_or(usize::MAX))
    }
}

/// How long to wait before the next retry, or `None` to give up.
///
/// `backoff` is the schedule's next wait (`None` once the retries are used up), `retry_after`
/// what Ashby asked for, and `remaining` what is left of the request's time budget.
pub(crate) fn wait_before_retry(
    backoff: Option<Duration>,
    retry_after: Option<Duration>,
    remaining: Duration,
) -> Option<Duration> {
    let backoff = backoff?;
    if remaining.is_zero() {
        return None;
    }
    let wanted = retry_after.map_or(backoff, |asked| asked.max(backoff));
    Some(wanted.min(remaining))
}

/// Reads a `Retry-After` value: whole or fractional seconds, or an HTTP date (RFC 7231's
/// IMF-fixdate, which RFC 2822 parsing accepts). A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();

    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }

    let date = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 6, 17, 0, 0).single().expect("a valid time")
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("1", now()), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("0.5", now()), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Thu, 06 Mar 2025 17:00:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("Thu, 06 Mar 2025 16:59:00 GMT", now()), Some(Duration::ZERO));
    }

    #[test]
    fn unreadable_retry_after_values_are_ignored() {
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
    }

    #[test]
    fn the_wait_honours_retry_after_within_the_budget() {
        let second = Duration::from_secs(1);
        let budget = Duration::from_secs(100);
        assert_eq!(wait_before_retry(Some(second), None, budget), Some(second));
        assert_eq!(
            wait_before_retry(Some(second), Some(Duration::from_secs(7)), budget),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait_before_retry(Some(Duration::from_secs(9)), Some(second), budget),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            wait_before_retry(Some(second), Some(Duration::from_secs(500)), budget),
            Some(budget)
        );
    }

    #[test]
    fn retrying_stops_when_retries_or_budget_run_out() {
        assert_eq!(wait_before_retry(None, Some(Duration::from_secs(1)), Duration::MAX), None);
        assert_eq!(wait_before_retry(Some(Duration::from_secs(1)), None, Duration::ZERO), None);
    }

    #[test]
    fn the_schedule_grows_is_capped_and_stops_after_max_retries() {
        let policy = RetryPolicy {
            max_retries: 5,
            budget: Duration::from_secs(300),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(4),
        };
        let waits: Vec<_> = policy.backoff().build().collect();
        assert_eq!(waits.len(), 5);
        // Jitter adds up to the wait itself, so each wait lies in [base, 2 * base).
        for (wait, base) in waits.iter().zip([1, 2, 4, 4, 4]) {
            let base = Duration::from_secs(base);
            assert!(*wait >= base && *wait < base * 2, "{wait:?} for base {base:?}");
        }
    }
}
