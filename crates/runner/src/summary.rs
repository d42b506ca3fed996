//! What a run did: one outcome per stream and per sink, the exit code they imply, and the
//! end-of-run summary printed for the user.
//!
//! The summary is the user's answer to "did it work, and if not, what now?": a row per stream
//! and per sink with counts, each failure's message in full, and a closing line saying what to
//! do. It is built only from plugin reports and errors, which never hold secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use ashflow_core::{Error, ErrorClass, SinkReport, StreamReport};

/// Exit code of a run in which every stream was read and every sink published every dataset.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit code of a run that failed in part or in whole.
pub const EXIT_FAILED: i32 = 1;
/// Exit code of an invalid spec or command line: nothing ran.
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a run interrupted by Ctrl-C: nothing was published.
pub const EXIT_CANCELLED: i32 = 130;

/// The outcome of one run.
#[derive(Debug)]
pub struct RunSummary {
    /// One outcome per stream, sorted by dataset name.
    pub streams: Vec<StreamOutcome>,
    /// One outcome per sink, sorted by sink name.
    pub sinks: Vec<SinkOutcome>,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// True when the run was interrupted; sinks then published nothing.
    pub cancelled: bool,
    /// The replica file and this run's number in its history, when the replica could be
    /// opened.
    pub state: Option<StateLocation>,
}

/// Where a run kept its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLocation {
    /// The replica file.
    pub file: std::path::PathBuf,
    /// The run's number in the history that `ashflow runs` lists.
    pub run_id: i64,
}

/// How reading one stream ended.
#[derive(Debug)]
pub struct StreamOutcome {
    /// The source's name in the spec.
    pub source: String,
    /// The stream's name.
    pub stream: String,
    /// The dataset the stream feeds.
    pub dataset: String,
    /// The source's report, or why the stream could not be read completely.
    pub result: Result<StreamReport, Error>,
    /// What the run did to the stream's copy in the replica, and what the sinks received.
    pub replica: ReplicaOutcome,
}

/// What one run did to a stream's copy in the replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaOutcome {
    /// True when the read asked only for changes since the previous run; false for a full pass.
    pub changes_only: bool,
    /// Rows inserted or changed.
    pub written: u64,
    /// Rows removed because a full pass no longer found them upstream.
    pub removed: u64,
    /// Rows the sinks received for this stream's dataset; `None` when it was withheld.
    pub delivered: Option<u64>,
    /// Set when this run's read failed and the sinks received the copy completed earlier,
    /// as of this time, rather than nothing.
    pub stale_as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// How one sink ended.
#[derive(Debug)]
pub struct SinkOutcome {
    /// The sink's name in the spec.
    pub sink: String,
    /// The sink's plugin type.
    pub sink_type: String,
    /// The sink's report after it published, or why it published nothing.
    pub result: Result<SinkReport, Error>,
    /// Datasets of the spec this sink did not publish: their stream failed, or the sink
    /// stopped first. Sorted by name.
    pub datasets_missing: Vec<String>,
    /// False when the runner did not start the sink at all, because no stream was read
    /// completely or the run was cancelled while reading.
    pub ran: bool,
}

impl RunSummary {
    /// True when every stream was read and every sink published every dataset.
    pub fn succeeded(&self) -> bool {
        !self.cancelled
            && self.streams.iter().all(|stream| stream.result.is_ok())
            && self.sinks.iter().all(|sink| sink.result.is_ok() && sink.datasets_missing.is_empty())
    }

    /// The process exit code: 0 on success, 130 when cancelled, 2 when a stream or sink failed
    /// because of its configuration (a secret's environment variable is not set, say), 1 on
    /// any other failure.
    pub fn exit_code(&self) -> i32 {
        if self.cancelled {
            EXIT_CANCELLED
        } else if self.succeeded() {
            EXIT_SUCCESS
        } else if self.has_configuration_failure() {
            EXIT_USAGE
        } else {
            EXIT_FAILED
        }
    }

    fn has_configuration_failure(&self) -> bool {
        let streams = self.streams.iter().filter_map(|s| s.result.as_ref().err());
        let sinks = self.sinks.iter().filter_map(|s| s.result.as_ref().err());
        streams.chain(sinks).any(|error| error.class() == ErrorClass::Config)
    }

    /// The end-of-run summary: streams, sinks, problems, what to do, and the outcome.
    pub fn render(&self) -> String {
        let mut text = String::new();
        text.push_str("Streams:\n");
        text.push_str(&self.stream_table());
        text.push_str("\nSinks:\n");
        text.push_str(&self.sink_table());

        let problems = self.problems();
        if !problems.is_empty() {
            text.push_str("\nProblems:\n");
            for problem in problems {
                let _ = writeln!(text, "  {problem}");
            }
        }
        let notes = self.notes();
        if !notes.is_empty() {
            text.push_str("\nNotes:\n");
            for note in notes {
                let _ = writeln!(text, "  {note}");
            }
        }
        let links = self.links();
        if !links.is_empty() {
            text.push_str("\nLinks:\n");
            for link in links {
                let _ = writeln!(text, "  {link}");
            }
        }
        let advice = self.advice();
        if !advice.is_empty() {
            text.push('\n');
            for line in advice {
                let _ = writeln!(text, "What to do: {line}");
            }
        }
        let _ = writeln!(text, "\n{}", self.outcome());
        if let Some(state) = &self.state {
            let _ = writeln!(
                text,
                "State: {} (run {}; `ashflow runs` lists the history)",
                state.file.display(),
                state.run_id
            );
        }
        text
    }

    fn stream_table(&self) -> String {
        let rows = self.streams.iter().map(|outcome| {
            let replica = &outcome.replica;
            let delivered = replica.delivered.map_or_else(|| "-".into(), group_thousands);
            match &outcome.result {
                Ok(report) => vec![
                    outcome.dataset.clone(),
                    if replica.changes_only { "changes" } else { "full" }.into(),
                    group_thousands(report.records),
                    group_thousands(replica.written),
                    group_thousands(replica.removed),
                    delivered,
                    group_thousands(report.requests),
                    group_thousands(report.retries),
                    group_thousands(report.pass_restarts),
                    format_duration(report.duration),
                    "ok".into(),
                ],
                Err(error) => {
                    let mut row = vec![outcome.dataset.clone()];
                    row.extend(["-", "-", "-", "-"].map(String::from));
                    row.push(delivered);
                    row.extend(["-", "-", "-", "-"].map(String::from));
                    let status = failure_status(error);
                    row.push(if replica.stale_as_of.is_some() {
                        format!("{status}, earlier copy sent")
                    } else {
                        status
                    });
                    row
                }
            }
        });
        render_table(
            &[
                "dataset", "pass", "read", "written", "removed", "rows", "requests", "retries",
                "restarts", "duration", "status",
            ],
            &[false, false, true, true, true, true, true, true, true, true, false],
            rows.collect(),
        )
    }

    fn sink_table(&self) -> String {
        let rows = self.sinks.iter().map(|outcome| {
            // Each sink chooses its datasets: what it published plus what it is missing.
            let mut row = vec![outcome.sink.clone(), outcome.sink_type.clone()];
            match &outcome.result {
                Ok(report) => {
                    let rows: u64 = report.datasets.iter().map(|dataset| dataset.rows).sum();
                    let status =
                        if outcome.datasets_missing.is_empty() { "ok" } else { "incomplete" };
                    let total = report.datasets.len() + outcome.datasets_missing.len();
                    row.extend([
                        report.location.clone().unwrap_or_else(|| "-".into()),
                        format!("{} of {total}", report.datasets.len()),
                        group_thousands(rows),
                        status.into(),
                    ]);
                }
                Err(error) => {
                    let total = outcome.datasets_missing.len();
                    row.extend(["-".into(), format!("0 of {total}"), "-".into()]);
                    row.push(if outcome.ran { failure_status(error) } else { "not run".into() });
                }
            }
            row
        });
        render_table(
            &["sink", "type", "location", "datasets", "rows", "status"],
            &[false, false, false, true, true, false],
            rows.collect(),
        )
    }

    /// Every planned dataset, counted once.
    fn dataset_count(&self) -> usize {
        self.streams.len()
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = self.stream_problems();
        // Sinks that published without the same datasets (usually the failed streams') are
        // named together, so one failed stream makes one line, not one per sink.
        let mut incomplete: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
        for outcome in &self.sinks {
            match &outcome.result {
                Err(Error::Cancelled) => {}
                Err(error) => problems.push(format!(
                    "sink {}: {error}; it published nothing, so its previous output is unchanged",
                    outcome.sink
                )),
                Ok(_) if !outcome.datasets_missing.is_empty() => {
                    incomplete.entry(&outcome.datasets_missing).or_default().push(&outcome.sink);
                }
                Ok(_) => {}
            }
        }
        for (missing, sinks) in incomplete {
            let noun = if sinks.len() == 1 { "sink" } else { "sinks" };
            problems.push(format!(
                "{noun} {} published without {}",
                sinks.join(", "),
                missing.join(", ")
            ));
        }
        problems
    }

    /// One line per stream failure; a failure shared by every stream of a source (such as a
    /// key that cannot be read) is said once for the source.
    fn stream_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut said_for_source: BTreeSet<(&str, String)> = BTreeSet::new();
        for outcome in &self.streams {
            let Err(error) = &outcome.result else { continue };
            if matches!(error, Error::Cancelled) {
                continue;
            }
            let message = error.to_string();
            let siblings: Vec<&StreamOutcome> =
                self.streams.iter().filter(|s| s.source == outcome.source).collect();
            let shared = siblings.len() > 1
                && siblings.iter().all(|s| matches!(&s.result, Err(e) if e.to_string() == message));
            if !shared {
                problems.push(format!("{}: {message}", outcome.dataset));
            } else if said_for_source.insert((outcome.source.as_str(), message.clone())) {
                problems.push(format!("source {} (every stream): {message}", outcome.source));
            }
        }
        for outcome in &self.streams {
            if let (Err(_), Some(as_of)) = (&outcome.result, outcome.replica.stale_as_of) {
                problems.push(format!(
                    "{}: the sinks received the copy kept from the last completed read, as of \
                     {}; it may be out of date until a run reads it again",
                    outcome.dataset,
                    as_of.format("%Y-%m-%d %H:%M UTC")
                ));
            }
        }
        problems
    }

    /// The links sinks give to what they published (a BigQuery table's Looker Studio report).
    fn links(&self) -> Vec<String> {
        let mut links = Vec::new();
        for outcome in &self.sinks {
            let Ok(report) = &outcome.result else { continue };
            for dataset in &report.datasets {
                for link in &dataset.links {
                    links.push(format!("sink {}, {}: {link}", outcome.sink, dataset.dataset));
                }
            }
        }
        links
    }

    fn notes(&self) -> Vec<String> {
        let stream_notes = self.streams.iter().filter_map(|outcome| {
            let report = outcome.result.as_ref().ok()?;
            Some(
                report
                    .warnings
                    .iter()
                    .map(move |warning| format!("{}: {warning}", outcome.dataset)),
            )
        });
        let sink_notes = self.sinks.iter().filter_map(|outcome| {
            let report = outcome.result.as_ref().ok()?;
            Some(report.datasets.iter().flat_map(move |dataset| {
                dataset.warnings.iter().map(move |warning| {
                    format!("sink {}, {}: {warning}", outcome.sink, dataset.dataset)
                })
            }))
        });
        stream_notes.flatten().chain(sink_notes.flatten()).collect()
    }

    fn errors(&self) -> impl Iterator<Item = &Error> {
        let streams = self.streams.iter().filter_map(|outcome| outcome.result.as_ref().err());
        let sinks = self.sinks.iter().filter_map(|outcome| outcome.result.as_ref().err());
        streams.chain(sinks)
    }

    /// One line per kind of failure, saying what the user can do about it.
    fn advice(&self) -> Vec<String> {
        if self.cancelled {
            return vec!["run the spec again to export; nothing was published this time".into()];
        }
        let permissions: BTreeSet<&str> = self
            .errors()
            .filter_map(|error| match error {
                Error::MissingPermission { permission, .. } => Some(permission.as_str()),
                _ => None,
            })
            .collect();
        let classes: Vec<ErrorClass> = self.errors().map(Error::class).collect();

        let mut advice = Vec::new();
        if !permissions.is_empty() {
            let list = permissions.into_iter().collect::<Vec<_>>().join(", ");
            advice.push(format!(
                "give the API key the missing permission ({list}) in Ashby under Admin > API Keys, \
                 then run again; the other datasets were written"
            ));
        }
        if classes.contains(&ErrorClass::Auth) {
            advice.push(
                "check the API key the spec refers to: the service refused it (revoked, \
                 mistyped or from another account)"
                    .into(),
            );
        }
        let other =
            [ErrorClass::Config, ErrorClass::Upstream, ErrorClass::Destination, ErrorClass::Io];
        if other.iter().any(|class| classes.contains(class)) {
            advice.push(
                "fix the problems above and run again; a re-run writes every output completely"
                    .into(),
            );
        }
        advice
    }

    fn outcome(&self) -> String {
        let duration = format_duration(self.duration);
        let datasets = self.dataset_count();
        let published = self.sinks.iter().filter(|sink| sink.result.is_ok()).count();
        if self.cancelled {
            return format!(
                "Cancelled after {duration}: reading stopped and nothing was published."
            );
        }
        if self.succeeded() {
            // Every dataset once, however many sinks received it.
            let mut written: BTreeMap<&str, u64> = BTreeMap::new();
            for report in self.sinks.iter().filter_map(|sink| sink.result.as_ref().ok()) {
                for dataset in &report.datasets {
                    written.entry(dataset.dataset.as_str()).or_insert(dataset.rows);
                }
            }
            let rows: u64 = written.values().sum();
            return format!(
                "Succeeded: {} ({} rows) written to {} in {duration}.",
                counted(written.len(), "dataset"),
                group_thousands(rows),
                counted(self.sinks.len(), "sink")
            );
        }
        let failed_streams = self.streams.iter().filter(|s| s.result.is_err()).count();
        let incomplete_sinks = self
            .sinks
            .iter()
            .filter(|sink| sink.result.is_err() || !sink.datasets_missing.is_empty())
            .count();
        let scope = if published == 0 { "Failed" } else { "Failed in part" };
        format!(
            "{scope} after {duration}: {failed_streams} of {} failed and {incomplete_sinks} of {} \
             did not publish every dataset.",
            counted(datasets, "stream"),
            counted(self.sinks.len(), "sink")
        )
    }
}

/// The history of runs as `ashflow runs` prints it: newest first, one line per run, then the
/// errors of the runs shown.
pub(crate) fn render_history(runs: &[crate::replica::RunRecord]) -> String {
    let rows = runs
        .iter()
        .map(|run| {
            let outcome = if run.full_refresh {
                format!("{} (full refresh)", run.outcome)
            } else {
                run.outcome.clone()
            };
            vec![
                run.run_id.to_string(),
                run.started.replace('T', " ").replace('Z', " UTC"),
                run.duration_ms.map_or_else(
                    || "-".into(),
                    |ms| format_duration(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                ),
                outcome,
                group_thousands(run.rows_read),
                group_thousands(run.rows_written),
                group_thousands(run.rows_removed),
                group_thousands(run.requests),
                group_thousands(run.retries),
                group_thousands(run.errors.len() as u64),
            ]
        })
        .collect();
    let mut text = render_table(
        &[
            "run", "started", "duration", "outcome", "read", "written", "removed", "requests",
            "retries", "errors",
        ],
        &[true, false, true, false, true, true, true, true, true, true],
        rows,
    );
    let errors: Vec<String> = runs
        .iter()
        .flat_map(|run| {
            run.errors.iter().map(move |error| format!("  run {}: {error}", run.run_id))
        })
        .collect();
    if !errors.is_empty() {
        text.push_str("\nErrors:\n");
        for error in errors {
            let _ = writeln!(text, "{error}");
        }
    }
    text
}

fn failure_status(error: &Error) -> String {
    match error {
        Error::Cancelled => "cancelled".into(),
        other => format!("failed ({})", other.class()),
    }
}

/// Renders rows under headers, padding each column to its widest cell.
fn render_table(headers: &[&str], right_aligned: &[bool], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|header| header.to_string()).collect();

    let mut text = String::new();
    for row in std::iter::once(&header_row).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(right_aligned)
            .map(
                |((cell, width), right)| {
                    if *right { format!("{cell:>width$}") } else { format!("{cell:<width$}") }
                },
            )
            .collect();
        let _ = writeln!(text, "  {}", cells.join("  ").trim_end());
    }
    text
}

/// `3 datasets`, `1 sink`.
pub(crate) fn counted(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

pub(crate) use ashflow_core::report::group_thousands;

/// A duration as a person reads it: `0.4s`, `12.0s`, `3m 05s`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ashflow_core::DatasetReport;

    fn read(dataset: &str, records: u64) -> StreamOutcome {
        StreamOutcome {
            source: "ashby".into(),
            stream: dataset.into(),
            dataset: dataset.into(),
            result: Ok(StreamReport {
                records,
                requests: 2,
                duration: Duration::from_millis(1_250),
                ..StreamReport::default()
            }),
            replica: ReplicaOutcome {
                written: records,
                delivered: Some(records),
                ..ReplicaOutcome::default()
            },
        }
    }

    fn failed(dataset: &str, error: Error) -> StreamOutcome {
        StreamOutcome { result: Err(error), replica: ReplicaOutcome::default(), ..read(dataset, 0) }
    }

    fn published(datasets: &[(&str, u64)], missing: &[&str]) -> SinkOutcome {
        SinkOutcome {
            sink: "book".into(),
            sink_type: "excel".into(),
            result: Ok(SinkReport {
                location: Some("out/ashby.xlsx".into()),
                requests: 0,
                datasets: datasets
                    .iter()
                    .map(|(name, rows)| DatasetReport {
                        dataset: name.to_string(),
                        rows: *rows,
                        warnings: Vec::new(),
                        links: vec![format!("Report: https://example.test/{name}")],
                    })
                    .collect(),
            }),
            datasets_missing: missing.iter().map(|name| name.to_string()).collect(),
            ran: true,
        }
    }

    fn summary(streams: Vec<StreamOutcome>, sinks: Vec<SinkOutcome>) -> RunSummary {
        RunSummary {
            streams,
            sinks,
            duration: Duration::from_secs(3),
            cancelled: false,
            state: Some(StateLocation { file: ".ashflow/spec.sqlite".into(), run_id: 4 }),
        }
    }

    fn missing_offers_permission() -> Error {
        Error::MissingPermission {
            permission: "offersRead".into(),
            message: "the API key lacks the offersRead permission needed for offer.list".into(),
        }
    }

    #[test]
    fn a_complete_run_exits_zero_and_says_so() {
        let summary = summary(
            vec![read("candidates", 1_500), read("jobs", 12)],
            vec![published(&[("candidates", 1_500), ("jobs", 12)], &[])],
        );

        assert!(summary.succeeded());
        assert_eq!(summary.exit_code(), 0);
        let text = summary.render();
        assert!(
            text.contains("candidates  full  1,500    1,500        0  1,500         2        0"),
            "{text}"
        );
        assert!(text.contains("book  excel  out/ashby.xlsx    2 of 2  1,512  ok"), "{text}");
        assert!(text.contains("Succeeded: 2 datasets (1,512 rows) written to 1 sink in 3.0s."));
        assert!(
            text.contains(
                "Links:\n  sink book, candidates: Report: https://example.test/candidates\n"
            ),
            "{text}"
        );
        assert!(!text.contains("What to do"), "{text}");
        assert!(
            text.ends_with(
                "State: .ashflow/spec.sqlite (run 4; `ashflow runs` lists the history)\n"
            )
        );
    }

    #[test]
    fn a_failed_stream_whose_earlier_copy_was_sent_says_as_of_when() {
        let mut stale = failed("offers", missing_offers_permission());
        stale.replica.delivered = Some(7);
        stale.replica.stale_as_of = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        let summary = summary(
            vec![read("candidates", 10), stale],
            vec![published(&[("candidates", 10), ("offers", 7)], &[])],
        );

        assert_eq!(summary.exit_code(), 1, "a failed read fails the run even with a copy sent");
        let text = summary.render();
        assert!(text.contains("failed (permission), earlier copy sent"), "{text}");
        assert!(
            text.contains("offers: the sinks received the copy kept from the last completed read, as of 2023-11-14 22:13 UTC"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_permission_fails_the_run_and_names_the_permission_to_grant() {
        let summary = summary(
            vec![read("candidates", 10), failed("offers", missing_offers_permission())],
            vec![
                published(&[("candidates", 10)], &["offers"]),
                SinkOutcome { sink: "ai".into(), ..published(&[("candidates", 10)], &["offers"]) },
            ],
        );

        assert!(!summary.succeeded());
        assert_eq!(summary.exit_code(), 1);
        let text = summary.render();
        assert!(text.contains("offers: the API key lacks the offersRead permission"), "{text}");
        assert!(text.contains("failed (permission)"), "{text}");
        assert!(text.contains("  sinks book, ai published without offers\n"), "{text}");
        assert_eq!(text.matches("published without").count(), 1, "{text}");
        assert!(text.contains("What to do: give the API key the missing permission (offersRead)"));
        assert!(text.contains("Failed in part after 3.0s: 1 of 2 streams failed and 2 of 2 sinks"));
    }

    #[test]
    fn a_failed_sink_fails_the_run_even_when_every_stream_was_read() {
        let broken = SinkOutcome {
            result: Err(Error::destination("the disk is full")),
            datasets_missing: vec!["candidates".into()],
            ..published(&[], &[])
        };
        let summary = summary(vec![read("candidates", 10)], vec![broken]);

        assert_eq!(summary.exit_code(), 1);
        let text = summary.render();
        assert!(text.contains("sink book: the disk is full; it published nothing"), "{text}");
        assert!(text.contains("Failed after 3.0s"), "{text}");
    }

    #[test]
    fn a_sink_missing_a_dataset_is_not_a_success() {
        let summary = summary(vec![read("candidates", 10)], vec![published(&[], &["candidates"])]);
        assert!(!summary.succeeded());
        assert_eq!(summary.exit_code(), 1);
    }

    #[test]
    fn a_cancelled_run_exits_130_and_says_nothing_was_published() {
        let mut summary = summary(
            vec![failed("candidates", Error::Cancelled)],
            vec![SinkOutcome {
                result: Err(Error::Cancelled),
                datasets_missing: vec!["candidates".into()],
                ..published(&[], &[])
            }],
        );
        summary.cancelled = true;

        assert_eq!(summary.exit_code(), 130);
        let text = summary.render();
        assert!(text.contains("Cancelled after 3.0s: reading stopped and nothing was published."));
        assert!(!text.contains("Problems:"), "{text}");
    }

    #[test]
    fn a_failure_shared_by_every_stream_of_a_source_is_said_once() {
        let unset = || Error::config("the environment variable ASHBY_API_KEY is not set");
        let never_run = SinkOutcome {
            result: Err(Error::upstream("no stream was read completely")),
            datasets_missing: vec!["candidates".into(), "jobs".into()],
            ran: false,
            ..published(&[], &[])
        };
        let summary =
            summary(vec![failed("candidates", unset()), failed("jobs", unset())], vec![never_run]);

        let text = summary.render();
        assert_eq!(text.matches("ASHBY_API_KEY is not set").count(), 1, "{text}");
        assert!(text.contains("  source ashby (every stream): the environment variable"), "{text}");
        assert!(text.contains("0 of 2     -  not run"), "{text}");
        assert!(text.contains("What to do: fix the problems above and run again"), "{text}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(420)), "0.4s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m 05s");
    }
}
