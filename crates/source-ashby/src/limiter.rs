//! A cap on requests in flight that lowers itself when Ashby rate limits and recovers slowly.
//!
//! All streams of one source share one [`AdaptiveLimiter`]. Its cap starts at
//! `max_concurrent_requests`; each 429 halves it (never below one), and after a cool-down
//! without 429s it grows back one step at a time. Ashby publishes no rate limit for the list
//! endpoints, so backing off together is what keeps a burst of throttling from turning into a
//! storm of retries from every stream at once.
//!
//! The cap is a tokio [`Semaphore`]. Lowering it forgets idle permits right away and records a
//! debt for permits still in use, which are then forgotten as they come back; raising it pays
//! the debt first and only then adds permits.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long the limiter waits without a 429 before raising its cap by one.
pub(crate) const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(30);

/// A shared, self-adjusting cap on requests in flight.
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    semaphore: Arc<Semaphore>,
    max: usize,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The current cap.
    limit: usize,
    /// Permits in use that must be forgotten when they come back, because the cap fell while
    /// they were out.
    debt: usize,
    /// When the cap last changed or a 429 arrived; the cool-down counts from here.
    last_change: Instant,
}

/// Permission to send one request; the slot frees when this is dropped.
#[derive(Debug)]
pub(crate) struct RequestSlot {
    permit: Option<OwnedSemaphorePermit>,
    inner: Arc<Inner>,
}

impl AdaptiveLimiter {
    /// A limiter allowing `max` requests at once (at least one), recovering one step per
    /// `cool_down` after a 429.
    pub(crate) fn new(max: usize, cool_down: Duration) -> Self {
        let max = max.max(1);
        AdaptiveLimiter {
            inner: Arc::new(Inner {
                semaphore: Arc::new(Semaphore::new(max)),
                max,
                cool_down,
                state: Mutex::new(State { limit: max, debt: 0, last_change: Instant::now() }),
            }),
        }
    }

    /// Waits for a free slot.
    pub(crate) async fn acquire(&self) -> RequestSlot {
        self.recover(Instant::now());
        let permit = Arc::clone(&self.inner.semaphore)
            .acquire_owned()
            .await
            .expect("the limiter's semaphore is never closed");
        RequestSlot { permit: Some(permit), inner: Arc::clone(&self.inner) }
    }

    /// Reports a 429: halves the cap, never below one. Returns the new cap.
    pub(crate) fn throttled(&self) -> usize {
        self.throttled_at(Instant::now())
    }

    fn throttled_at(&self, now: Instant) -> usize {
        let mut state = self.inner.lock();
        let lowered = (state.limit / 2).max(1);
        let surplus = state.limit - lowered;

        let forgotten = self.inner.semaphore.forget_permits(surplus);
        state.debt += surplus - forgotten;
        state.limit = lowered;
        state.last_change = now;
        lowered
    }

    /// Raises the cap by one if a whole cool-down passed since the last change or 429.
    fn recover(&self, now: Instant) {
        let mut state = self.inner.lock();
        if state.limit >= self.inner.max
            || now.saturating_duration_since(state.last_change) < self.inner.cool_down
        {
            return;
        }

        state.limit += 1;
        state.last_change = now;
        if state.debt > 0 {
            state.debt -= 1;
        } else {
            self.inner.semaphore.add_permits(1);
        }
        tracing::info!(
            component = "ashby",
            max_concurrent_requests = state.limit,
            "Raised the request concurrency again after a quiet period."
        );
    }

    /// The current cap.
    #[cfg(test)]
    pub(crate) fn limit(&self) -> usize {
        self.inner.lock().limit
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few integers updated in one step each, so a panic elsewhere cannot
        // leave it half-written; keep going with it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for RequestSlot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        let mut state = self.inner.lock();
        if state.debt > 0 {
            state.debt -= 1;
            permit.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(limiter: &AdaptiveLimiter) -> usize {
        limiter.inner.semaphore.available_permits()
    }

    #[tokio::test]
    async fn at_most_the_cap_of_slots_are_handed_out() {
        let limiter = AdaptiveLimiter::new(2, DEFAULT_COOL_DOWN);
        let first = limiter.acquire().await;
        let _second = limiter.acquire().await;

        let third = tokio::time::timeout(Duration::from_millis(20), limiter.acquire()).await;
        assert!(third.is_err(), "a third slot must wait");

        drop(first);
        let third = tokio::time::timeout(Duration::from_millis(200), limiter.acquire()).await;
        assert!(third.is_ok(), "a freed slot is handed on");
    }

    #[tokio::test]
    async fn a_429_halves_the_cap_even_while_slots_are_in_use() {
        let limiter = AdaptiveLimiter::new(4, DEFAULT_COOL_DOWN);
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(limiter.acquire().await);
        }

        assert_eq!(limiter.throttled(), 2);
        assert_eq!(limiter.throttled(), 1);
        assert_eq!(limiter.throttled(), 1, "the cap never falls below one");

        drop(held);
        assert_eq!(available(&limiter), 1, "returned slots pay the debt first");
        let _only = limiter.acquire().await;
        let second = tokio::time::timeout(Duration::from_millis(20), limiter.acquire()).await;
        assert!(second.is_err(), "with a cap of one, a second request waits");
    }

    #[tokio::test]
    async fn the_cap_recovers_one_step_per_quiet_cool_down() {
        let limiter = AdaptiveLimiter::new(4, Duration::from_secs(30));
        let start = Instant::now();
        limiter.throttled_at(start);
        assert_eq!(limiter.limit(), 2);
        assert_eq!(available(&limiter), 2);

        limiter.recover(start + Duration::from_secs(29));
        assert_eq!(limiter.limit(), 2, "not before the cool-down has passed");

        limiter.recover(start + Duration::from_secs(30));
        assert_eq!(limiter.limit(), 3);
        limiter.recover(start + Duration::from_secs(31));
        assert_eq!(limiter.limit(), 3, "each step needs its own quiet period");
        limiter.recover(start + Duration::from_secs(60));
        limiter.recover(start + Duration::from_secs(90));
        assert_eq!(limiter.limit(), 4, "never above the configured maximum");
        assert_eq!(available(&limiter), 4);
    }

    #[tokio::test]
    async fn recovering_while_in_debt_cancels_debt_instead_of_adding_slots() {
        let limiter = AdaptiveLimiter::new(4, Duration::from_secs(30));
        let start = Instant::now();
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(limiter.acquire().await);
        }
        limiter.throttled_at(start);
        limiter.recover(start + Duration::from_secs(30));
        assert_eq!(limiter.limit(), 3);

        drop(held);
        assert_eq!(available(&limiter), 3, "in flight plus free never exceeds the cap");
    }

    #[tokio::test]
    async fn a_429_restarts_the_cool_down() {
        let limiter = AdaptiveLimiter::new(4, Duration::from_secs(30));
        let start = Instant::now();
        limiter.throttled_at(start);
        limiter.throttled_at(start + Duration::from_secs(20));
        assert_eq!(limiter.limit(), 1);
        limiter.recover(start + Duration::from_secs(40));
        assert_eq!(limiter.limit(), 1);
        limiter.recover(start + Duration::from_secs(50));
        assert_eq!(limiter.limit(), 2);
    }
}
