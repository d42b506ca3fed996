//! A fake Ashby API server with a deterministic, realistic data generator, for tests,
//! benchmarks and the built-in demo.
//!
//! [`FakeAshby::start`] generates an account (the seed and the number of candidates fix every
//! byte of it) and serves the 14 list endpoints and `apiKey.info` on 127.0.0.1 the way
//! Ashby does (ashby-api.md): HTTP Basic auth with per-endpoint permissions, errors as HTTP 200
//! with `success: false`, cursor pages with a `syncToken` on the last page, incremental passes,
//! and records hidden unless asked for (archived, deactivated, draft, hierarchy). Tests shape
//! the conversation with [`FakeAshby::inject`] ([`FaultRule`], [`Fault`]), change data with
//! [`FakeAshby::mutate`], and check what clients sent with [`FakeAshby::request_count`] and
//! [`FakeAshby::request_bodies`].
//!
//! Modules: `generator` drives the data, built by `catalog` (lookups), `jobs`, `candidates`
//! and `custom_values` (word lists in `pools`, JSON text written by `json`); `store` keeps it
//! serialised in serving order; `filters` decides what each request sees; `tokens` makes and
//! checks cursors and sync tokens; `faults` holds injected faults; `server` speaks HTTP.

mod candidates;
mod catalog;
mod custom_values;
mod entity;
mod faults;
mod filters;
mod generator;
mod jobs;
mod json;
mod pools;
mod server;
mod store;
mod tokens;

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultRule};

use entity::Entity;
use server::{API_KEYS_READ, Connection, KillableListener, Shared};
use store::Store;
use tokens::Signer;

/// The 14 entities: (entity name used in specs and datasets, endpoint path without slash,
/// permission the endpoint needs).
pub const ENTITIES: [(&str, &str, &str); 14] = [
    ("applications", "application.list", "candidatesRead"),
    ("archive_reasons", "archiveReason.list", "hiringProcessMetadataRead"),
    ("candidate_tags", "candidateTag.list", "hiringProcessMetadataRead"),
    ("candidates", "candidate.list", "candidatesRead"),
    ("custom_fields", "customField.list", "hiringProcessMetadataRead"),
    ("departments", "department.list", "organizationRead"),
    ("feedback_form_definitions", "feedbackFormDefinition.list", "hiringProcessMetadataRead"),
    ("interview_schedules", "interviewSchedule.list", "interviewsRead"),
    ("job_postings", "jobPosting.list", "jobsRead"),
    ("jobs", "job.list", "jobsRead"),
    ("locations", "location.list", "organizationRead"),
    ("offers", "offer.list", "offersRead"),
    ("sources", "source.list", "hiringProcessMetadataRead"),
    ("users", "user.list", "organizationRead"),
];

/// How to generate and serve the fake account.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Seed of the deterministic generator (same seed + scale => byte-identical data).
    pub seed: u64,
    /// Number of candidates; every other entity scales from it (about 1.5 applications per
    /// candidate, interview schedules for most applications, offers for a few percent, jobs
    /// about candidates/40 (at least 12), users about 60..200, etc.).
    pub candidates: usize,
    /// The API key accepted with every permission.
    pub api_key: String,
    /// Largest page the server returns (Ashby: 100). Tests lower it so every paginated entity
    /// needs several pages at small scale. The request's `limit` is honoured when smaller.
    /// Zero is treated as one.
    pub max_page_size: usize,
    /// Added to every request before answering (benchmarks use 50 ms).
    pub latency: Duration,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            seed: 42,
            candidates: 300,
            api_key: "demo-key".to_string(),
            max_page_size: 100,
            latency: Duration::ZERO,
            port: 0,
        }
    }
}

/// A running fake Ashby server. Methods take `&self`, so one value can be shared by a test
/// and the code under test.
pub struct FakeAshby {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeAshby {
    /// Generates the data and starts serving on 127.0.0.1 in the current tokio runtime.
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeAshby> {
        let started = Instant::now();
        let (seed, candidates) = (config.seed, config.candidates);
        let store = tokio::task::spawn_blocking(move || Store::generate(seed, candidates))
            .await
            .map_err(std::io::Error::other)?;
        let generated_ms = started.elapsed().as_millis() as u64;
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let address = listener.local_addr()?;

        let signer = Signer::new(seed, candidates);
        let shared = Arc::new(Shared::new(store, signer, config.max_page_size, config.latency));
        let all_permissions =
            ENTITIES.iter().map(|(_, _, permission)| *permission).chain([API_KEYS_READ]);
        let mut unique: Vec<&str> = Vec::new();
        for permission in all_permissions {
            if !unique.contains(&permission) {
                unique.push(permission);
            }
        }
        shared.keys.lock().unwrap_or_else(PoisonError::into_inner).insert(
            config.api_key.clone(),
            unique.iter().map(|permission| permission.to_string()).collect(),
        );

        let app = Router::new().fallback(server::answer).with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = axum::serve(
            KillableListener(listener),
            app.into_make_service_with_connect_info::<Connection>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = serve.await {
                tracing::error!(component = "fake-ashby", %error, "Fake Ashby server failed.");
            }
        });
        tracing::info!(
            component = "fake-ashby",
            url = %format!("http://{address}"),
            seed,
            candidates,
            generated_ms,
            "Fake Ashby serving."
        );
        Ok(FakeAshby { shared, address, stop: Some(stop), task: Some(task) })
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every record of `entity` (entity name, e.g. "candidates") that a COMPLETE export must
    /// return: archived, deactivated, draft, hierarchy records included. Order unspecified
    /// (it is the serving order).
    ///
    /// # Panics
    /// On a name that is not in [`ENTITIES`], so a typo in a test fails loudly.
    pub fn records(&self, entity: &str) -> Vec<serde_json::Value> {
        let entity = known_entity(entity);
        self.shared.store.read().unwrap_or_else(PoisonError::into_inner).records(entity)
    }

    /// Accepts another key that has only the listed permissions (e.g. &["candidatesRead"]).
    /// `apiKey.info` needs "apiKeysRead", as in Ashby. Adding an existing key replaces its
    /// permissions.
    pub fn add_key(&self, key: &str, permissions: &[&str]) {
        let permissions = permissions.iter().map(|permission| permission.to_string()).collect();
        self.shared
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), permissions);
    }

    /// Queues a fault (see [`FaultRule`]).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.inject(rule);
    }

    /// Requests received so far, optionally only for one endpoint ("candidate.list").
    /// Every request counts, including rejected and faulted ones.
    pub fn request_count(&self, endpoint: Option<&str>) -> usize {
        let log = self.shared.log.lock().unwrap_or_else(PoisonError::into_inner);
        match endpoint {
            None => log.total,
            Some(endpoint) => {
                log.per_endpoint.get(endpoint.trim_start_matches('/')).copied().unwrap_or(0)
            }
        }
    }

    /// JSON bodies received for one endpoint, in arrival order (to assert filters/cursors).
    /// Bodies that were not valid JSON are left out.
    pub fn request_bodies(&self, endpoint: &str) -> Vec<serde_json::Value> {
        let log = self.shared.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.bodies.get(endpoint.trim_start_matches('/')).cloned().unwrap_or_default()
    }

    /// Changes `count` records of `entity` (entity name, e.g. "candidates"), as edits in
    /// Ashby would: each gets one changed field, a new `updatedAt` (later than any generated
    /// time, where the record has one) and a new change sequence, so the next incremental
    /// pass returns exactly these records. Successive calls touch different records
    /// (round-robin in serving order); `count` above the entity's size touches each once.
    ///
    /// The changed field: `position` (candidates), `submitterUserAgent` (applications),
    /// `title` (jobs, job postings, candidate tags, custom fields, feedback forms, sources),
    /// `text` (archive reasons), `name` (departments, locations), `lastName` (users), `status`
    /// (interview schedules, cycling through the enum, plus the first event's `updatedAt`),
    /// `latestVersion.salary.value` + 1000 (offers). Text fields end in " (rev N)".
    ///
    /// # Panics
    /// On a name that is not in [`ENTITIES`].
    pub fn mutate(&self, entity: &str, count: usize) {
        let entity = known_entity(entity);
        self.shared.store.write().unwrap_or_else(PoisonError::into_inner).mutate(entity, count);
        tracing::debug!(
            component = "fake-ashby",
            entity = entity.name(),
            count,
            "Mutated records."
        );
    }

    /// Deletes `count` records of `entity` upstream (the last ones in serving order) and
    /// returns their ids. As in Ashby, incremental passes do not report the deletion; only a
    /// full pass shows that the records are gone.
    ///
    /// # Panics
    /// On a name that is not in [`ENTITIES`].
    pub fn delete(&self, entity: &str, count: usize) -> Vec<String> {
        let entity = known_entity(entity);
        let removed =
            self.shared.store.write().unwrap_or_else(PoisonError::into_inner).delete(entity, count);
        tracing::debug!(
            component = "fake-ashby",
            entity = entity.name(),
            count = removed.len(),
            "Deleted records."
        );
        removed
    }

    /// Resolves once the server has received at least `count` requests in all (control
    /// requests under `/_fake/` excluded). Kill tests use it to stop a client at a chosen
    /// point of its run.
    pub async fn wait_for_requests(&self, count: usize) {
        let mut received = self.shared.received.subscribe();
        // The sender lives as long as `shared`, which `self` keeps alive.
        let _ = received.wait_for(|total| *total >= count).await;
    }

    /// Stops the server: stops accepting, lets in-flight requests finish (for at most two
    /// seconds), then ends.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
        tracing::info!(component = "fake-ashby", url = %self.base_url(), "Fake Ashby stopped.");
    }
}

fn known_entity(name: &str) -> Entity {
    match Entity::from_name(name) {
        Some(entity) => entity,
        None => panic!("unknown entity {name:?}: use a name from ashflow_fake_ashby::ENTITIES"),
    }
}
