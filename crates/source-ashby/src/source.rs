//! The plugin's two stages: [`ValidatedAshbySource`] (checked config, offline) and
//! [`AshbySource`] (a built client, ready to read streams).

use std::time::Duration;

use ashflow_core::prelude::*;

use crate::client::{ApiKey, AshbyClient};
use crate::config::{AshbySourceConfig, Settings};
use crate::entities::Entity;
use crate::limiter::{AdaptiveLimiter, DEFAULT_COOL_DOWN};
use crate::reader::read_stream;
use crate::retry::{DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF, RetryPolicy};

/// An Ashby source whose spec table passed validation. Holds no key and opens nothing.
#[derive(Debug, Clone)]
pub struct ValidatedAshbySource {
    settings: Settings,
    timing: Timing,
}

/// Internal timing knobs that are not part of the spec; tests shrink them to run fast.
#[derive(Debug, Clone, Copy)]
struct Timing {
    min_backoff: Duration,
    max_backoff: Duration,
    throttle_cool_down: Duration,
}

impl ValidatedAshbySource {
    /// Checks an `ashby` spec table. Does no IO: the key is only read by `build`.
    pub fn from_table(table: &ConfigTable, context: &SpecContext) -> Result<Self> {
        let settings = AshbySourceConfig::validate(table, context)?;
        let timing = Timing {
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            throttle_cool_down: DEFAULT_COOL_DOWN,
        };
        Ok(ValidatedAshbySource { settings, timing })
    }

    /// Replaces the backoff schedule's first wait and cap (1 s and 60 s by default).
    ///
    /// Not part of the spec: tests use it to exercise retries in milliseconds.
    #[doc(hidden)]
    pub fn with_backoff(mut self, min_backoff: Duration, max_backoff: Duration) -> Self {
        self.timing.min_backoff = min_backoff;
        self.timing.max_backoff = max_backoff;
        self
    }

    /// Replaces the quiet period after which a lowered concurrency cap grows again (30 s).
    ///
    /// Not part of the spec: tests use it to exercise recovery quickly.
    #[doc(hidden)]
    pub fn with_throttle_cool_down(mut self, cool_down: Duration) -> Self {
        self.timing.throttle_cool_down = cool_down;
        self
    }

    /// Resolves the key and builds the source. Makes no network request.
    pub fn into_source(self) -> Result<AshbySource> {
        let settings = self.settings;
        let key = ApiKey::new(settings.api_key.expose()?);
        let retry = RetryPolicy {
            max_retries: settings.max_retries,
            budget: settings.retry_budget,
            min_backoff: self.timing.min_backoff,
            max_backoff: self.timing.max_backoff.max(self.timing.min_backoff),
        };
        let limiter =
            AdaptiveLimiter::new(settings.max_concurrent_requests, self.timing.throttle_cool_down);
        let client = AshbyClient::new(
            settings.base_url,
            key,
            settings.api_key.to_string(),
            settings.request_timeout,
            limiter,
            retry,
        )?;

        Ok(AshbySource {
            streams: settings.entities.iter().map(|entity| entity.descriptor()).collect(),
            entities: settings.entities,
            page_size: settings.page_size,
            client,
        })
    }
}

#[async_trait]
impl ValidatedSource for ValidatedAshbySource {
    fn streams(&self) -> Vec<StreamDescriptor> {
        self.settings.entities.iter().map(|entity| entity.descriptor()).collect()
    }

    async fn build(self: Box<Self>) -> Result<Box<dyn Source>> {
        Ok(Box::new((*self).into_source()?))
    }
}

/// An Ashby source ready to read: one HTTP client and one concurrency cap for all its streams.
#[derive(Debug)]
pub struct AshbySource {
    client: AshbyClient,
    entities: Vec<&'static Entity>,
    streams: Vec<StreamDescriptor>,
    page_size: u32,
}

#[async_trait]
impl Source for AshbySource {
    fn streams(&self) -> &[StreamDescriptor] {
        &self.streams
    }

    async fn read(&self, request: ReadRequest, out: BatchSender) -> Result<StreamReport> {
        let entity = self
            .entities
            .iter()
            .find(|entity| entity.name == request.stream)
            .ok_or_else(|| self.unknown_stream(&request.stream))?;

        read_stream(&self.client, entity, self.page_size, request.sync_token, &out)
            .await
            .map_err(Error::from)
    }
}

impl AshbySource {
    fn unknown_stream(&self, name: &str) -> Error {
        let available: Vec<_> = self.entities.iter().map(|entity| entity.name).collect();
        Error::config(format!(
            "the ashby source does not read `{name}`; it reads {}",
            available.join(", ")
        ))
    }
}
