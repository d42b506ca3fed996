//! Reading one stream to its end: the pages of a pass, and the recovery when a pass breaks.
//!
//! A pass is the chain of pages from the first request to the page with
//! `moreDataAvailable: false`, which carries the next sync token. Two things can break it
//! midway: Ashby rejecting the cursor (the pass starts again from its first page, with the same
//! sync token) or rejecting the sync token (the token is dropped and a full pass runs). Records
//! already delivered are remembered by id for the whole read, so whatever pass delivers a
//! record first is the only one that does: each record reaches the runner exactly once.
//!
//! Each page becomes one batch, so the runner can apply it in one transaction, and the last
//! page of the completed pass carries the next sync token. Batches say which kind of pass they
//! belong to: changes since a token, or (from the start, or after a rejected token) a full
//! pass, which is the only kind that shows what no longer exists upstream.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ashflow_core::record::record_id;
use ashflow_core::{Batch, BatchSender, Pass, Record, StreamReport};
use serde_json::Value;

use crate::client::{AshbyClient, RequestCounters};
use crate::entities::Entity;
use crate::error::AshbyError;

/// How often a stream's pass may start again after cursor errors before the stream fails.
pub(crate) const MAX_PASS_RESTARTS: u32 = 3;

/// The state of one stream's read.
struct StreamRead<'a> {
    client: &'a AshbyClient,
    entity: &'static Entity,
    page_size: u32,
    out: &'a BatchSender,
    counters: RequestCounters,
    delivered_ids: HashSet<String>,
    /// The kind of pass running now: changes while a sync token is in use, full after.
    pass_kind: Pass,
    records: u64,
    pass_restarts: u32,
    warnings: Vec<String>,
}

/// Reads every record of `entity` (or, with `sync_token`, every record changed since it) into
/// `out`, one batch per page.
pub(crate) async fn read_stream(
    client: &AshbyClient,
    entity: &'static Entity,
    page_size: u32,
    sync_token: Option<String>,
    out: &BatchSender,
) -> Result<StreamReport, AshbyError> {
    let started = Instant::now();
    let sync_token = sync_token.filter(|_| entity.incremental);
    tracing::debug!(
        component = "ashby",
        stream = entity.name,
        incremental = sync_token.is_some(),
        "Reading stream."
    );

    let mut read = StreamRead {
        client,
        entity,
        page_size,
        out,
        counters: RequestCounters::default(),
        delivered_ids: HashSet::new(),
        pass_kind: if sync_token.is_some() { Pass::Changes } else { Pass::Full },
        records: 0,
        pass_restarts: 0,
        warnings: Vec::new(),
    };
    let next_token = match read.run_passes(sync_token).await {
        Ok(next_token) => next_token,
        Err(error) => {
            log_failure(entity, &error, read.records);
            return Err(error);
        }
    };

    let report = read.report(next_token, started);
    tracing::debug!(
        component = "ashby",
        stream = entity.name,
        records = report.records,
        requests = report.requests,
        retries = report.retries,
        pass_restarts = report.pass_restarts,
        duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
        "Read stream."
    );
    Ok(report)
}

fn log_failure(entity: &Entity, error: &AshbyError, delivered: u64) {
    if matches!(error, AshbyError::Cancelled) {
        tracing::info!(component = "ashby", stream = entity.name, delivered, "Read cancelled.");
    } else {
        // The runner logs the failure as an error with its context; this is the source's detail.
        tracing::debug!(
            component = "ashby",
            stream = entity.name,
            delivered,
            error = %error,
            "Could not read the whole stream."
        );
    }
}

impl StreamRead<'_> {
    /// Runs passes until one completes, recovering from cursor and sync-token errors.
    async fn run_passes(
        &mut self,
        mut sync_token: Option<String>,
    ) -> Result<Option<String>, AshbyError> {
        loop {
            match self.pass(sync_token.as_deref()).await {
                Ok(next_token) => return Ok(next_token),
                Err(error @ AshbyError::CursorRejected { .. }) => self.restart_after(error)?,
                Err(error @ AshbyError::SyncTokenRejected { .. }) if sync_token.is_some() => {
                    sync_token = None;
                    self.pass_kind = Pass::Full;
                    self.fall_back_to_full_pass(&error);
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn restart_after(&mut self, error: AshbyError) -> Result<(), AshbyError> {
        if self.pass_restarts >= MAX_PASS_RESTARTS {
            return Err(AshbyError::TooManyRestarts {
                endpoint: self.entity.endpoint,
                passes: self.pass_restarts + 1,
                last: Box::new(error),
            });
        }

        self.pass_restarts += 1;
        tracing::warn!(
            component = "ashby",
            stream = self.entity.name,
            reason = %error,
            pass_restarts = self.pass_restarts,
            "Starting the pass again from its first page; records already delivered are skipped."
        );
        Ok(())
    }

    fn fall_back_to_full_pass(&mut self, error: &AshbyError) {
        tracing::warn!(
            component = "ashby",
            stream = self.entity.name,
            reason = %error,
            "Dropped the rejected sync token; reading the whole stream instead."
        );
        self.warnings.push(format!(
            "{error}: the stored sync token could not be used, so all {} were read instead of \
             only the changes",
            self.entity.name.replace('_', " ")
        ));
    }

    /// One pass: pages from the first to the last. Returns the last page's sync token.
    async fn pass(&mut self, sync_token: Option<&str>) -> Result<Option<String>, AshbyError> {
        let mut cursor: Option<String> = None;
        let mut page_number: u64 = 0;

        loop {
            if self.out.is_closed() {
                return Err(AshbyError::Cancelled);
            }
            let body = self.entity.request_body(self.page_size, sync_token, cursor.as_deref());
            let page = self.client.list_page(self.entity, &body, &self.counters).await?;
            page_number += 1;

            let received = page.results.len();
            let fresh = self.unseen_records(page.results)?;
            tracing::debug!(
                component = "ashby",
                stream = self.entity.name,
                page = page_number,
                received,
                delivered = fresh.len(),
                "Read a page."
            );
            let last_page = !page.more_data_available;
            let end_of_pass = last_page.then(|| page.sync_token.clone());
            self.deliver(fresh, end_of_pass).await?;

            if last_page {
                return Ok(page.sync_token);
            }
            cursor = Some(page.next_cursor.ok_or_else(|| AshbyError::Malformed {
                endpoint: self.entity.endpoint,
                detail: "`moreDataAvailable` is true but no `nextCursor` was sent".to_string(),
            })?);
        }
    }

    /// The page's records that were not delivered before in this read.
    fn unseen_records(&mut self, results: Vec<Value>) -> Result<Vec<Record>, AshbyError> {
        let mut fresh = Vec::with_capacity(results.len());
        for result in results {
            let Value::Object(record) = result else {
                return Err(AshbyError::Malformed {
                    endpoint: self.entity.endpoint,
                    detail: format!("a result is not a JSON object: {result}"),
                });
            };
            let is_new = match record_id(&record, "id") {
                Some(id) => self.delivered_ids.insert(id.into_owned()),
                None => true,
            };
            if is_new {
                fresh.push(record);
            }
        }
        Ok(fresh)
    }

    /// Sends one page's records. A page in the middle of a pass with nothing new is not
    /// sent; the last page always is, even empty, because it completes the pass and carries
    /// the token (`end_of_pass`) the runner stores with it.
    async fn deliver(
        &mut self,
        records: Vec<Record>,
        end_of_pass: Option<Option<String>>,
    ) -> Result<(), AshbyError> {
        if records.is_empty() && end_of_pass.is_none() {
            return Ok(());
        }
        let count = records.len() as u64;
        let mut batch = Batch::new(self.entity.name, records).in_pass(self.pass_kind);
        if let Some(sync_token) = end_of_pass {
            batch = batch.ending_pass(sync_token);
        }
        self.out.send(batch).await.map_err(|_| AshbyError::Cancelled)?;
        self.records += count;
        Ok(())
    }

    fn report(mut self, sync_token: Option<String>, started: Instant) -> StreamReport {
        if self.entity.incremental && sync_token.is_none() {
            self.warnings.push(format!(
                "no sync token came with the last page of {}, so the next run reads the whole \
                 entity again",
                self.entity.endpoint
            ));
        }
        StreamReport {
            records: self.records,
            requests: self.counters.requests.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            pass_restarts: u64::from(self.pass_restarts),
            sync_token,
            duration: started.elapsed(),
            warnings: self.warnings,
        }
    }
}
