//! The spec file: parsing, validation of every plugin table, and the plan of datasets it implies.
//!
//! A spec is TOML with two top-level tables of named components:
//!
//! ```toml
//! [sources.ashby]
//! type = "ashby"
//! api_key = "${ASHBY_API_KEY}"
//!
//! [sinks.excel]
//! type = "excel"
//! path = "ashby.xlsx"
//! ```
//!
//! Two optional top-level keys come before the tables: `state_dir`, the folder of the spec's
//! replica (default `.ashflow` beside the spec), and `full_refresh_every`, a duration after
//! which every stream is read in full again (see [`crate::replica`]).
//!
//! Validation reads the spec file and nothing else: the runner checks the shape (known top-level
//! keys, names, `type`), and each plugin's registration checks its own table. Every problem is
//! collected, located as `spec.toml:LINE:COL`, and reported together, so one `ashflow check`
//! shows everything to fix.
//!
//! Dataset names: with one source a dataset is named after its stream (`candidates`); with
//! several, after the source and the stream (`ashby_candidates`), so names never depend on which
//! source happens to be valid.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ashflow_core::config::line_and_column;
use ashflow_core::{
    ConfigTable, Error, SpecContext, StreamDescriptor, ValidatedSink, ValidatedSource,
};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::datasets::definition::Located;
use crate::datasets::{
    DatasetPlans, EntityInput, EntityRef, Origin, Problem, parse_definitions, plan_datasets,
};
use crate::plugins::Registry;
use crate::summary::counted;

/// A spec that cannot run, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// One message per problem, each starting with `spec.toml:LINE:COL: `, in document order.
    pub problems: Vec<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for SpecError {}

/// What a valid spec would run, as `ashflow check` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSpec {
    /// The spec's file name, as locations in messages use it.
    pub file_name: String,
    /// The spec's path as given, for the commands the report suggests.
    pub spec_path: PathBuf,
    /// The sources, sorted by name.
    pub sources: Vec<CheckedSource>,
    /// The sinks, sorted by name.
    pub sinks: Vec<CheckedSink>,
    /// The datasets the spec defines, and the built-in ones a sink receives, sorted by name.
    pub datasets: Vec<CheckedDataset>,
    /// The replica file that keeps what was synced between runs.
    pub state_file: PathBuf,
    /// How often every stream is read in full again, when the spec asks for it.
    pub full_refresh_every: Option<Duration>,
}

/// One source of a valid spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSource {
    /// Its name in the spec, as in `[sources.NAME]`.
    pub name: String,
    /// Its plugin type.
    pub source_type: String,
    /// The streams it will read.
    pub streams: Vec<CheckedStream>,
}

/// One stream of a source and the dataset it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedStream {
    /// The stream's name, such as `candidates`.
    pub stream: String,
    /// The dataset sinks receive it as.
    pub dataset: String,
    /// True when the stream can be read incrementally.
    pub incremental: bool,
}

/// One sink of a valid spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSink {
    /// Its name in the spec, as in `[sinks.NAME]`.
    pub name: String,
    /// Its plugin type.
    pub sink_type: String,
    /// The datasets it receives, in the order it receives them.
    pub datasets: Vec<String>,
}

/// A dataset that a spec defines (or a built-in one that a sink receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedDataset {
    /// Its name.
    pub name: String,
    /// How it is made, in one line.
    pub summary: String,
    /// Its columns as known before the run.
    pub columns: usize,
    /// True when the run adds columns (custom fields of a pivot).
    pub columns_at_run_time: bool,
    /// The entities it reads, as `source.entity`.
    pub inputs: Vec<String>,
    /// True for a dataset ashflow provides, such as `pipeline`.
    pub builtin: bool,
}

impl CheckedSpec {
    /// Every dataset the run would produce, sorted by name as sinks receive them.
    pub fn datasets(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .sources
            .iter()
            .flat_map(|source| source.streams.iter().map(|stream| stream.dataset.as_str()))
            .collect();
        names.sort_unstable();
        names
    }

    /// The text `ashflow check` prints for a valid spec.
    pub fn render(&self) -> String {
        let mut text = format!("{} is valid.\n\nSources:\n", self.file_name);
        for source in &self.sources {
            text.push_str(&format!(
                "  {} (type {}): {}\n",
                source.name,
                source.source_type,
                counted(source.streams.len(), "stream")
            ));
            let width = source.streams.iter().map(|s| s.stream.len()).max().unwrap_or(0);
            let dataset_width = source.streams.iter().map(|s| s.dataset.len()).max().unwrap_or(0);
            for stream in &source.streams {
                let reads = if stream.incremental {
                    "changes after the first run"
                } else {
                    "in full every run"
                };
                text.push_str(&format!(
                    "    {:width$}  -> dataset {:dataset_width$}  (reads {reads})\n",
                    stream.stream, stream.dataset
                ));
            }
        }
        if !self.datasets.is_empty() {
            text.push_str("\nDatasets:\n");
        }
        for dataset in &self.datasets {
            let builtin = if dataset.builtin { " (built in)" } else { "" };
            let more = if dataset.columns_at_run_time { " + custom field columns" } else { "" };
            text.push_str(&format!(
                "  {}{builtin}: {}\n    {}{more}; reads {}\n",
                dataset.name,
                dataset.summary,
                counted(dataset.columns, "column"),
                dataset.inputs.join(", ")
            ));
        }
        text.push_str("\nSinks:\n");
        for sink in &self.sinks {
            text.push_str(&format!(
                "  {} (type {}): {}\n",
                sink.name,
                sink.sink_type,
                sink.datasets.join(", ")
            ));
        }
        let streams = self.datasets().len();
        let mut written: Vec<&str> =
            self.sinks.iter().flat_map(|sink| sink.datasets.iter().map(String::as_str)).collect();
        written.sort_unstable();
        written.dedup();
        text.push_str(&format!(
            "\n`ashflow run {}` would read {} and write {} to {}.\n",
            self.spec_path.display(),
            counted(streams, "stream"),
            counted(written.len(), "dataset"),
            counted(self.sinks.len(), "sink")
        ));
        text.push_str(&format!("State (replica and run history): {}\n", self.state_file.display()));
        if let Some(every) = self.full_refresh_every {
            text.push_str(&format!(
                "Every stream is read in full again every {}.\n",
                humantime::format_duration(every)
            ));
        }
        text
    }
}

/// A validated spec, ready to build and run.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) file_name: String,
    pub(crate) spec_path: PathBuf,
    pub(crate) sources: Vec<SpecSource>,
    pub(crate) sinks: Vec<SpecSink>,
    /// Every dataset a sink may receive: one per stream, the spec's own and the built-ins.
    pub(crate) dataset_plans: DatasetPlans,
    /// The folder of the replica (`state_dir`), absolute.
    pub(crate) state_dir: PathBuf,
    /// How often a full pass is due (`full_refresh_every`), when the spec sets it.
    pub(crate) full_refresh_every: Option<Duration>,
}

/// A validated source and the datasets its streams become.
#[derive(Debug)]
pub(crate) struct SpecSource {
    pub(crate) name: String,
    /// Where the source's name is in the spec, for problems found after its validation.
    pub(crate) name_offset: usize,
    pub(crate) source_type: &'static str,
    pub(crate) validated: Box<dyn ValidatedSource>,
    pub(crate) datasets: Vec<PlannedDataset>,
}

/// A stream of a source under the dataset name sinks will see.
#[derive(Debug, Clone)]
pub(crate) struct PlannedDataset {
    pub(crate) name: String,
    pub(crate) stream: StreamDescriptor,
}

/// A validated sink.
#[derive(Debug)]
pub(crate) struct SpecSink {
    pub(crate) name: String,
    pub(crate) name_offset: usize,
    pub(crate) sink_type: &'static str,
    pub(crate) validated: Box<dyn ValidatedSink>,
    /// The datasets it receives, in order: its `datasets` key, or one per stream.
    pub(crate) datasets: Vec<String>,
}

impl Spec {
    /// The plain description of what this spec runs.
    pub(crate) fn checked(&self) -> CheckedSpec {
        let sources = self
            .sources
            .iter()
            .map(|source| CheckedSource {
                name: source.name.clone(),
                source_type: source.source_type.to_string(),
                streams: source
                    .datasets
                    .iter()
                    .map(|dataset| CheckedStream {
                        stream: dataset.stream.name.clone(),
                        dataset: dataset.name.clone(),
                        incremental: dataset.stream.incremental,
                    })
                    .collect(),
            })
            .collect();
        let sinks = self
            .sinks
            .iter()
            .map(|sink| CheckedSink {
                name: sink.name.clone(),
                sink_type: sink.sink_type.into(),
                datasets: sink.datasets.clone(),
            })
            .collect();
        let received: Vec<&str> =
            self.sinks.iter().flat_map(|sink| sink.datasets.iter().map(String::as_str)).collect();
        let datasets = self
            .dataset_plans
            .all()
            .filter(|plan| {
                plan.origin == Origin::Defined
                    || (plan.origin == Origin::Builtin && received.contains(&plan.name.as_str()))
            })
            .map(|plan| CheckedDataset {
                name: plan.name.clone(),
                summary: plan.summary(),
                columns: ashflow_core::Projection::new(&plan.schema).columns().len(),
                columns_at_run_time: plan.columns_at_run_time,
                inputs: plan.inputs.iter().map(ToString::to_string).collect(),
                builtin: plan.origin == Origin::Builtin,
            })
            .collect();
        CheckedSpec {
            file_name: self.file_name.clone(),
            spec_path: self.spec_path.clone(),
            sources,
            sinks,
            datasets,
            state_file: self.state_file(),
            full_refresh_every: self.full_refresh_every,
        }
    }

    /// The replica file of this spec: `<state_dir>/<spec file stem>.sqlite`.
    pub(crate) fn state_file(&self) -> PathBuf {
        crate::replica::replica_path(&self.state_dir, &self.file_name)
    }

    /// Every planned dataset, sorted by name.
    pub(crate) fn datasets(&self) -> Vec<&PlannedDataset> {
        let mut all: Vec<_> = self.sources.iter().flat_map(|source| &source.datasets).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }
}

/// Validates the spec at `spec_path` offline against the linked plugins.
///
/// Reads only the spec file. On success, says what `ashflow run` would do; on failure, lists
/// every problem found.
pub fn check_spec(spec_path: &Path) -> Result<CheckedSpec, SpecError> {
    load_spec(spec_path, &Registry::linked()).map(|spec| spec.checked())
}

/// Reads and validates the spec at `spec_path` against `registry`.
pub(crate) fn load_spec(spec_path: &Path, registry: &Registry) -> Result<Spec, SpecError> {
    let text = std::fs::read_to_string(spec_path).map_err(|error| SpecError {
        problems: vec![format!("cannot read the spec file {}: {error}", spec_path.display())],
    })?;
    let file_name = spec_path
        .file_name()
        .map_or_else(|| spec_path.display().to_string(), |name| name.to_string_lossy().into());
    let spec_dir = std::path::absolute(spec_path)
        .ok()
        .and_then(|path| path.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let spec = parse_spec(&file_name, &spec_dir, &text, registry)?;
    Ok(Spec { spec_path: spec_path.to_path_buf(), ..spec })
}

/// Validates a spec's text; `file_name` is used in messages and `spec_dir` resolves relative
/// paths. Does no IO.
pub(crate) fn parse_spec(
    file_name: &str,
    spec_dir: &Path,
    text: &str,
    registry: &Registry,
) -> Result<Spec, SpecError> {
    let mut validator = Validator {
        file_name,
        spec_dir,
        document: Arc::from(text),
        registry,
        problems: Vec::new(),
        state_dir: None,
        full_refresh_every: None,
    };

    let root = match DeTable::parse(text) {
        Ok(root) => root.into_inner(),
        Err(error) => {
            let offset = error.span().map_or(0, |span| span.start);
            validator.problem(offset, error.message().trim_end());
            return Err(validator.into_error());
        }
    };
    let (sources, sinks) = validator.top_level(&root);

    let source_entries = validator.components(Kind::Source, sources);
    let sink_entries = validator.components(Kind::Sink, sinks);
    let several_sources = source_entries.len() > 1;
    let source_entries_count = source_entries.len();
    let sources: Vec<SpecSource> = source_entries
        .into_iter()
        .filter_map(|entry| validator.source(entry?, several_sources))
        .collect();
    let all_sources_valid = sources.len() == source_entries_count;
    let mut sinks: Vec<SpecSink> =
        sink_entries.into_iter().filter_map(|entry| validator.sink(entry?)).collect();
    let dataset_plans =
        validator.datasets(&root, &sources, &mut sinks, several_sources, all_sources_valid);
    validator.check_unique_datasets(&sources);
    validator.check_distinct_destinations(&sinks);
    let state_dir = validator.state_dir_outside_sinks(&sinks);

    if validator.problems.is_empty() {
        Ok(Spec {
            file_name: file_name.into(),
            spec_path: file_name.into(),
            sources,
            sinks,
            dataset_plans,
            state_dir,
            full_refresh_every: validator.full_refresh_every,
        })
    } else {
        Err(validator.into_error())
    }
}

/// `path` with `.` and `..` resolved by its text alone, so `out/../out/a.xlsx` and `out/a.xlsx`
/// compare equal without touching the file system (validation does no IO).
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;

    let mut normal = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push("..");
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

/// The dataset name of `stream` read by `source`: see the module documentation.
pub(crate) fn dataset_name(several_sources: bool, source: &str, stream: &str) -> String {
    if several_sources { format!("{source}_{stream}") } else { stream.to_string() }
}

/// True for names made only of lowercase ASCII letters, digits, `_` and `-`.
fn is_simple_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Which of the two component tables is being validated.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Source,
    Sink,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Source => "sources",
            Kind::Sink => "sinks",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Sink => "sink",
        }
    }
}

/// A component table whose shape is valid: a simple name and a string `type`.
struct Entry {
    name: String,
    name_offset: usize,
    type_name: String,
    type_offset: usize,
}

type Section<'a, 'i> = Option<(usize, &'a Spanned<DeValue<'i>>)>;

struct Validator<'s> {
    file_name: &'s str,
    spec_dir: &'s Path,
    document: Arc<str>,
    registry: &'s Registry,
    problems: Vec<(usize, String)>,
    /// `state_dir` as written, with its offset, when the spec sets it.
    state_dir: Option<(PathBuf, usize)>,
    full_refresh_every: Option<Duration>,
}

/// The keys a spec may have at its top level, for the message about an unknown one.
const TOP_LEVEL_KEYS: &str = "`sources`, `sinks`, `datasets`, `state_dir` and `full_refresh_every`";

impl Validator<'_> {
    fn problem(&mut self, offset: usize, message: impl fmt::Display) {
        let (line, column) = line_and_column(&self.document, offset);
        self.problems.push((offset, format!("{}:{line}:{column}: {message}", self.file_name)));
    }

    /// Records a plugin's validation error. Errors that carry a line keep it; others are placed
    /// at the component's name, so every message starts with `file:LINE:COL`.
    fn plugin_problem(&mut self, name_offset: usize, error: Error) {
        let line_prefix = format!("{}:", self.file_name);
        match error {
            Error::Config { location: Some(location), message }
                if location.starts_with(&line_prefix) =>
            {
                self.problems.push((name_offset, format!("{location}: {message}")));
            }
            Error::Config { message, .. } => self.problem(name_offset, message),
            other => self.problem(name_offset, other),
        }
    }

    fn into_error(mut self) -> SpecError {
        self.problems.sort_by_key(|(offset, _)| *offset);
        SpecError { problems: self.problems.into_iter().map(|(_, message)| message).collect() }
    }

    /// Splits the document into its `sources` and `sinks` tables, reporting any other key.
    fn top_level<'a, 'i>(&mut self, root: &'a DeTable<'i>) -> (Section<'a, 'i>, Section<'a, 'i>) {
        let (mut sources, mut sinks) = (None, None);
        for (key, value) in root {
            let offset = key.span().start;
            match key.get_ref().as_ref() {
                "sources" => sources = Some((offset, value)),
                "sinks" => sinks = Some((offset, value)),
                // Read by `datasets` once the sources say which entities there are.
                "datasets" => {}
                "state_dir" => self.state_dir_key(value),
                "full_refresh_every" => self.full_refresh_every_key(value),
                other => self.problem(
                    offset,
                    format!("unknown key `{other}`; a spec's top level has only {TOP_LEVEL_KEYS}"),
                ),
            }
        }
        (sources, sinks)
    }

    /// Reads `state_dir`: a folder, relative to the spec's folder unless absolute.
    fn state_dir_key(&mut self, value: &Spanned<DeValue<'_>>) {
        let offset = value.span().start;
        match value.get_ref().as_str() {
            Some(dir) if !dir.trim().is_empty() => {
                self.state_dir = Some((PathBuf::from(dir), offset))
            }
            Some(_) => self.problem(
                offset,
                "`state_dir` is empty: name the folder for the replica, such as \".ashflow\"",
            ),
            None => self.problem(
                offset,
                format!(
                    "`state_dir` must be a string naming a folder, such as \".ashflow\", found {}",
                    value.get_ref().type_str()
                ),
            ),
        }
    }

    /// Reads `full_refresh_every`: a duration such as `"7d"`.
    fn full_refresh_every_key(&mut self, value: &Spanned<DeValue<'_>>) {
        let offset = value.span().start;
        let advice = "write a duration such as \"7d\", \"12h\" or \"1d 12h\"";
        let Some(text) = value.get_ref().as_str() else {
            self.problem(
                offset,
                format!(
                    "`full_refresh_every` must be a string; {advice}, found {}",
                    value.get_ref().type_str()
                ),
            );
            return;
        };
        match humantime::parse_duration(text) {
            Ok(every) if every.is_zero() => self.problem(
                offset,
                format!("`full_refresh_every` must be longer than zero; {advice}"),
            ),
            Ok(every) => self.full_refresh_every = Some(every),
            Err(error) => self.problem(
                offset,
                format!(
                    "`full_refresh_every`: cannot read \"{text}\" as a duration ({error}); {advice}"
                ),
            ),
        }
    }

    /// The absolute state folder, after checking that no sink replaces it: an AI folder or a
    /// workbook path around it would delete the replica when published.
    fn state_dir_outside_sinks(&mut self, sinks: &[SpecSink]) -> PathBuf {
        let (dir, offset) = match self.state_dir.clone() {
            Some((dir, offset)) => (self.spec_dir.join(dir), Some(offset)),
            None => (self.spec_dir.join(".ashflow"), None),
        };
        let dir = normalize(&dir);
        for sink in sinks {
            let Some(destination) = sink.validated.local_destination().map(normalize) else {
                continue;
            };
            if dir.starts_with(&destination) {
                self.problem(
                    offset.unwrap_or(sink.name_offset),
                    format!(
                        "the state folder {} is inside {}, which [sinks.{}] replaces on every \
                         run; set `state_dir` to a folder outside every sink's path",
                        dir.display(),
                        destination.display(),
                        sink.name
                    ),
                );
            }
        }
        dir
    }

    /// Checks the shape of every table under `sources` or `sinks`. Returns one element per
    /// table, `None` where the table's shape is wrong (already reported).
    fn components(&mut self, kind: Kind, section: Section<'_, '_>) -> Vec<Option<Entry>> {
        let section_name = kind.section();
        let example = self.example_type(kind);
        let Some((offset, value)) = section else {
            self.problem(
                0,
                format!(
                    "missing `{section_name}`: add at least one {}, for example \
                     [{section_name}.{example}] with type = \"{example}\"",
                    kind.noun()
                ),
            );
            return Vec::new();
        };
        let Some(table) = value.get_ref().as_table() else {
            self.problem(
                offset,
                format!(
                    "`{section_name}` must be a table of named {section_name}, found {}",
                    value.get_ref().type_str()
                ),
            );
            return Vec::new();
        };
        if table.is_empty() {
            self.problem(
                offset,
                format!(
                    "`{section_name}` is empty: add at least one {}, for example \
                     [{section_name}.{example}] with type = \"{example}\"",
                    kind.noun()
                ),
            );
        }
        table.iter().map(|(key, value)| self.entry(kind, key, value)).collect()
    }

    fn entry(
        &mut self,
        kind: Kind,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Entry> {
        let name = key.get_ref().to_string();
        let name_offset = key.span().start;
        let section = format!("[{}.{name}]", kind.section());
        let mut valid = true;

        if !is_simple_identifier(&name) {
            self.problem(
                name_offset,
                format!(
                    "the {} name `{name}` may use only lowercase letters, digits, `_` and `-`; \
                     rename it, for example [{}.{}]",
                    kind.noun(),
                    kind.section(),
                    suggest_identifier(&name)
                ),
            );
            valid = false;
        }
        let Some(table) = value.get_ref().as_table() else {
            self.problem(
                value.span().start,
                format!("{section} must be a table, found {}", value.get_ref().type_str()),
            );
            return None;
        };
        let (type_name, type_offset) = self.type_of(kind, &section, name_offset, table)?;
        valid.then_some(Entry { name, name_offset, type_name, type_offset })
    }

    fn type_of(
        &mut self,
        kind: Kind,
        section: &str,
        name_offset: usize,
        table: &DeTable<'_>,
    ) -> Option<(String, usize)> {
        let known = self.known_types(kind);
        let Some((_, type_value)) = table.iter().find(|(key, _)| key.get_ref() == "type") else {
            self.problem(
                name_offset,
                format!(
                    "{section} has no `type`: add type = \"{}\" (registered {} types: {known})",
                    self.example_type(kind),
                    kind.noun()
                ),
            );
            return None;
        };
        let Some(type_name) = type_value.get_ref().as_str() else {
            self.problem(
                type_value.span().start,
                format!(
                    "`type` must be a string naming a {} plugin, found {} (registered {} types: \
                     {known})",
                    kind.noun(),
                    type_value.get_ref().type_str(),
                    kind.noun()
                ),
            );
            return None;
        };
        Some((type_name.to_string(), type_value.span().start))
    }

    fn known_types(&self, kind: Kind) -> String {
        let names = match kind {
            Kind::Source => self.registry.source_names(),
            Kind::Sink => self.registry.sink_names(),
        };
        if names.is_empty() { "none".into() } else { names.join(", ") }
    }

    fn example_type(&self, kind: Kind) -> &'static str {
        let first = match kind {
            Kind::Source => self.registry.source_names().first().copied(),
            Kind::Sink => self.registry.sink_names().first().copied(),
        };
        first.unwrap_or("NAME")
    }

    fn config_table(&self, kind: Kind, name: &str) -> (ConfigTable, SpecContext) {
        let table = ConfigTable::new(
            self.file_name,
            self.document.clone(),
            vec![kind.section().to_string(), name.to_string()],
        );
        // A sink's `datasets` says what the runner feeds it, so the plugin never sees it.
        let table = match kind {
            Kind::Sink => table.without_runner_key("datasets"),
            Kind::Source => table,
        };
        let context =
            SpecContext { spec_dir: self.spec_dir.to_path_buf(), component_id: name.to_string() };
        (table, context)
    }

    fn unknown_type(&mut self, kind: Kind, entry: &Entry) {
        let known = self.known_types(kind);
        self.problem(
            entry.type_offset,
            format!(
                "unknown {} type `{}`; registered {} types: {known}",
                kind.noun(),
                entry.type_name,
                kind.noun()
            ),
        );
    }

    fn source(&mut self, entry: Entry, several_sources: bool) -> Option<SpecSource> {
        let Some(registration) = self.registry.source(&entry.type_name) else {
            self.unknown_type(Kind::Source, &entry);
            return None;
        };
        let (table, context) = self.config_table(Kind::Source, &entry.name);
        let validated = match (registration.validate)(&table, &context) {
            Ok(validated) => validated,
            Err(error) => {
                self.plugin_problem(entry.name_offset, error);
                return None;
            }
        };
        let datasets = validated
            .streams()
            .into_iter()
            .map(|stream| PlannedDataset {
                name: dataset_name(several_sources, &entry.name, &stream.name),
                stream,
            })
            .collect();
        Some(SpecSource {
            name: entry.name,
            name_offset: entry.name_offset,
            source_type: registration.name,
            validated,
            datasets,
        })
    }

    fn sink(&mut self, entry: Entry) -> Option<SpecSink> {
        let Some(registration) = self.registry.sink(&entry.type_name) else {
            self.unknown_type(Kind::Sink, &entry);
            return None;
        };
        let (table, context) = self.config_table(Kind::Sink, &entry.name);
        match (registration.validate)(&table, &context) {
            Ok(validated) => Some(SpecSink {
                name: entry.name,
                name_offset: entry.name_offset,
                sink_type: registration.name,
                validated,
                datasets: Vec::new(),
            }),
            Err(error) => {
                self.plugin_problem(entry.name_offset, error);
                None
            }
        }
    }

    /// Plans the spec's datasets over the entities of `sources` and sets what each sink
    /// receives. While a source is invalid its entities are unknown, so only the shape of the
    /// `datasets` tables is checked then: names would be reported missing for no fault of
    /// theirs.
    fn datasets(
        &mut self,
        root: &DeTable<'_>,
        sources: &[SpecSource],
        sinks: &mut [SpecSink],
        several_sources: bool,
        all_sources_valid: bool,
    ) -> DatasetPlans {
        let mut problems: Vec<Problem> = Vec::new();
        let definitions = match root.iter().find(|(key, _)| key.get_ref() == "datasets") {
            Some((key, value)) => {
                let (definitions, mut found) =
                    parse_definitions(value, key.span().start, &self.document);
                problems.append(&mut found);
                definitions
            }
            None => Vec::new(),
        };
        let requested = sink_dataset_keys(root, &mut problems);
        if !all_sources_valid {
            self.report(problems);
            return DatasetPlans::default();
        }
        let entities: Vec<EntityInput> = sources
            .iter()
            .flat_map(|source| {
                source.datasets.iter().map(|dataset| EntityInput {
                    entity: EntityRef::new(source.name.clone(), dataset.stream.name.clone()),
                    dataset: dataset.name.clone(),
                    stream: dataset.stream.clone(),
                })
            })
            .collect();
        let (mut plans, mut planned) = plan_datasets(&definitions, &entities, several_sources);
        problems.append(&mut planned);
        // A dataset whose table could not even be read has its problems reported where it is
        // defined; a sink naming it must not add a second, misleading "no dataset" problem.
        if let Some((_, value)) = root.iter().find(|(key, _)| key.get_ref() == "datasets")
            && let toml::de::DeValue::Table(table) = value.get_ref()
        {
            for (name, _) in table.iter() {
                plans.mark_failed(name.get_ref());
            }
        }
        for sink in sinks.iter_mut() {
            let (selected, mut found) =
                plans.select_for_sink(requested.get(&sink.name), &sink.name);
            sink.datasets = selected;
            problems.append(&mut found);
        }
        self.report(problems);
        plans
    }

    fn report(&mut self, problems: Vec<Problem>) {
        for problem in problems {
            self.problem(problem.offset, problem.message);
        }
    }

    /// Reports sinks that would write the same local file or folder, or one inside the other:
    /// each would replace what the other wrote.
    fn check_distinct_destinations(&mut self, sinks: &[SpecSink]) {
        for (index, sink) in sinks.iter().enumerate() {
            let Some(path) = sink.validated.local_destination().map(normalize) else { continue };
            for earlier in &sinks[..index] {
                let Some(earlier_path) = earlier.validated.local_destination().map(normalize)
                else {
                    continue;
                };
                if path.starts_with(&earlier_path) || earlier_path.starts_with(&path) {
                    self.problem(
                        sink.name_offset,
                        format!(
                            "[sinks.{}] writes {} and [sinks.{}] writes {}; each would replace \
                             the other's output, so give them separate paths",
                            sink.name,
                            path.display(),
                            earlier.name,
                            earlier_path.display()
                        ),
                    );
                }
            }
        }
    }

    /// Reports datasets whose names collide, such as source `a` with stream `b_c` and source
    /// `a_b` with stream `c`: sinks key their output by dataset name.
    fn check_unique_datasets(&mut self, sources: &[SpecSource]) {
        let mut seen = std::collections::HashSet::new();
        for source in sources {
            for dataset in &source.datasets {
                if !seen.insert(dataset.name.as_str()) {
                    self.problem(
                        source.name_offset,
                        format!(
                            "dataset `{}` of [sources.{}] has the same name as another \
                             dataset; rename one of the sources",
                            dataset.name, source.name
                        ),
                    );
                }
            }
        }
    }
}

/// The `datasets` key of every table under `sinks`, by sink name; a key of the wrong shape is
/// reported and left out.
fn sink_dataset_keys(
    root: &DeTable<'_>,
    problems: &mut Vec<Problem>,
) -> std::collections::HashMap<String, Located<Vec<Located<String>>>> {
    let mut keys = std::collections::HashMap::new();
    let sinks = root.iter().find(|(key, _)| key.get_ref() == "sinks");
    let Some(sinks) = sinks.and_then(|(_, value)| value.get_ref().as_table()) else { return keys };
    for (name, table) in sinks {
        let Some(table) = table.get_ref().as_table() else { continue };
        let Some((_, value)) = table.iter().find(|(key, _)| key.get_ref() == "datasets") else {
            continue;
        };
        let items = value.get_ref().as_array();
        let names: Option<Vec<Located<String>>> = items.and_then(|items| {
            items
                .iter()
                .map(|item| {
                    item.get_ref().as_str().map(|text| Located::new(text.into(), item.span().start))
                })
                .collect()
        });
        match names {
            Some(names) => {
                keys.insert(name.get_ref().to_string(), Located::new(names, value.span().start));
            }
            None => problems.push(Problem::new(
                value.span().start,
                format!(
                    "[sinks.{}] `datasets` must be a list of dataset names, as in datasets = \
                     [\"pipeline\", \"jobs\"]",
                    name.get_ref()
                ),
            )),
        }
    }
    keys
}

/// A simple identifier close to `name`, for the rename suggestion.
fn suggest_identifier(name: &str) -> String {
    let suggestion: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' { c } else { '_' }
        })
        .collect();
    if suggestion.is_empty() { "name".into() } else { suggestion }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::registry;

    fn problems(text: &str) -> Vec<String> {
        parse_spec("spec.toml", Path::new("/specs"), text, &registry())
            .expect_err("the spec is invalid")
            .problems
    }

    fn valid(text: &str) -> Spec {
        parse_spec("spec.toml", Path::new("/specs"), text, &registry()).expect("the spec is valid")
    }

    const SINK: &str = "[sinks.book]\ntype = \"journal\"\njournal = \"spec-tests\"\n";

    #[test]
    fn an_unknown_top_level_key_is_reported_at_its_line() {
        let text =
            format!("\nschedule = 3\n[sources.a]\ntype = \"memory\"\nstreams = [\"x\"]\n{SINK}");
        assert_eq!(
            problems(&text),
            [format!(
                "spec.toml:2:1: unknown key `schedule`; a spec's top level has only {TOP_LEVEL_KEYS}"
            )]
        );
    }

    #[test]
    fn an_unknown_plugin_type_lists_the_registered_ones() {
        let text = format!("[sources.a]\ntype = \"ashbee\"\n{SINK}");
        assert_eq!(
            problems(&text),
            ["spec.toml:2:8: unknown source type `ashbee`; registered source types: memory"]
        );
    }

    #[test]
    fn a_table_without_a_type_is_reported_at_its_name() {
        let text = format!("[sources.a]\nstreams = [\"x\"]\n{SINK}");
        assert_eq!(
            problems(&text),
            ["spec.toml:1:10: [sources.a] has no `type`: add type = \"memory\" (registered \
                 source types: memory)"]
        );
    }

    #[test]
    fn plugin_config_errors_come_through_with_their_line() {
        let text =
            format!("{SINK}\n[sources.a]\ntype = \"memory\"\nstreams = [\"x\"]\ncolour = 3\n");
        let problems = problems(&text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("spec.toml:8:1: "), "{problems:?}");
        assert!(problems[0].contains("unknown field `colour`"), "{problems:?}");
    }

    #[test]
    fn plugin_errors_without_a_line_are_placed_at_the_component() {
        let text = format!("[sources.a]\ntype = \"memory\"\nstreams = []\n{SINK}");
        assert_eq!(problems(&text), ["spec.toml:3:1: `streams`: list at least one stream"]);

        let text = format!("[sources.a]\ntype = \"memory\"\n{SINK}");
        let problems = problems(&text);
        assert!(problems[0].starts_with("spec.toml:1:1: missing field `streams`"), "{problems:?}");
    }

    #[test]
    fn every_problem_is_reported_together_in_document_order() {
        let text = "\
[sources.\"Bad Name\"]
type = \"memory\"
streams = [\"x\"]

[sources.b]
type = 7

[sinks.book]
type = \"journal\"
journal = \"x\"
fail_at = 3

[sinks.c]
type = \"sheets\"

[extra]
";
        let problems = problems(text);
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].starts_with("spec.toml:1:10: the source name `Bad Name` may use only"));
        assert!(problems[0].ends_with("for example [sources.bad_name]"), "{}", problems[0]);
        assert!(problems[1].starts_with("spec.toml:6:8: `type` must be a string"), "{problems:#?}");
        assert!(problems[2].starts_with("spec.toml:11:11: "), "{problems:#?}");
        assert_eq!(
            problems[3],
            "spec.toml:14:8: unknown sink type `sheets`; registered sink types: journal"
        );
        assert!(problems[4].starts_with("spec.toml:16:2: unknown key `extra`"), "{problems:#?}");
    }

    #[test]
    fn missing_or_empty_sections_say_what_to_add() {
        assert_eq!(
            problems(SINK),
            ["spec.toml:1:1: missing `sources`: add at least one source, for example \
                 [sources.memory] with type = \"memory\""]
        );
        let text = "sources = {}\n[sinks]\n";
        let problems = problems(text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("spec.toml:1:1: `sources` is empty"), "{problems:?}");
        assert!(problems[1].starts_with("spec.toml:2:2: `sinks` is empty"), "{problems:?}");
    }

    #[test]
    fn a_toml_syntax_error_is_reported_at_its_line() {
        let problems = problems("[sources.a]\ntype = \"memory\"\nstreams = [\"x\"\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("spec.toml:3:"), "{problems:?}");
    }

    #[test]
    fn a_dataset_that_cannot_be_read_is_reported_once_not_again_at_the_sink_naming_it() {
        let problems = problems(
            "[sources.ashby]\ntype = \"memory\"\nstreams = [\"candidates\"]\n\n\
             [datasets.d]\nfrom = \"ashby.candidates\"\nsql = \"SELECT 1\"\n\n\
             [sinks.book]\ntype = \"journal\"\njournal = \"x\"\ndatasets = [\"d\"]\n",
        );

        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("has `from` and `sql`"), "{problems:?}");
        assert!(!problems[0].contains("no dataset"), "{problems:?}");
    }

    #[test]
    fn with_one_source_datasets_are_named_after_their_streams() {
        let spec = valid(&format!(
            "[sources.ashby]\ntype = \"memory\"\nstreams = [\"offers\", \"candidates\"]\n{SINK}"
        ));

        let checked = spec.checked();
        assert_eq!(checked.datasets(), ["candidates", "offers"]);
        assert_eq!(checked.sources[0].streams[0].stream, "offers");
        assert_eq!(
            checked.sinks,
            [CheckedSink {
                name: "book".into(),
                sink_type: "journal".into(),
                datasets: vec!["candidates".into(), "offers".into()]
            }]
        );
    }

    #[test]
    fn with_several_sources_datasets_carry_the_source_name() {
        let spec = valid(&format!(
            "[sources.eu]\ntype = \"memory\"\nstreams = [\"jobs\"]\n\
             [sources.us]\ntype = \"memory\"\nstreams = [\"jobs\", \"offers\"]\n{SINK}"
        ));
        let names: Vec<_> = spec.datasets().iter().map(|d| d.name.clone()).collect();
        assert_eq!(names, ["eu_jobs", "us_jobs", "us_offers"]);
    }

    #[test]
    fn colliding_dataset_names_are_reported() {
        let text = format!(
            "[sources.a]\ntype = \"memory\"\nstreams = [\"b_c\"]\n\
             [sources.a_b]\ntype = \"memory\"\nstreams = [\"c\"]\n{SINK}"
        );
        let problems = problems(&text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("spec.toml:4:10: dataset `a_b_c` of [sources.a_b]"));
    }

    #[test]
    fn a_spec_file_is_located_by_its_file_name_and_its_folder_resolves_paths() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("pipeline.toml");
        std::fs::write(&path, "[sources.a]\ntype = \"memory\"\nstreams = [\"x\"]\nnope = 1\n")
            .unwrap();

        let error = load_spec(&path, &registry()).unwrap_err();
        assert!(error.problems[0].starts_with("pipeline.toml:1:1: missing `sinks`"), "{error}");
        assert!(error.problems[1].starts_with("pipeline.toml:4:1: unknown field `nope`"));

        let missing = load_spec(&folder.path().join("absent.toml"), &registry()).unwrap_err();
        assert!(missing.problems[0].starts_with("cannot read the spec file "), "{missing}");
    }

    #[test]
    fn the_check_report_lists_sources_streams_datasets_and_sinks() {
        let spec =
            valid(&format!("[sources.ashby]\ntype = \"memory\"\nstreams = [\"offers\"]\n{SINK}"));
        let text = spec.checked().render();
        assert!(text.starts_with("spec.toml is valid."), "{text}");
        assert!(text.contains("  ashby (type memory): 1 stream\n    offers  -> dataset offers"));
        assert!(text.contains("`ashflow run spec.toml` would read 1 stream and write 1 dataset"));
        assert!(text.contains("  book (type journal)"), "{text}");
    }

    #[test]
    fn every_registered_plugin_example_is_a_valid_spec() {
        let registry = Registry::linked();
        let first_sink = registry.sinks()[0].example;
        let first_source = registry.sources()[0].example;
        for source in registry.sources() {
            let text = format!("{}\n{first_sink}", source.example);
            let result = parse_spec("example.toml", Path::new("/specs"), &text, &registry);
            assert!(result.is_ok(), "{}: {:?}", source.name, result.err());
        }
        for sink in registry.sinks() {
            let text = format!("{first_source}\n{}", sink.example);
            let result = parse_spec("example.toml", Path::new("/specs"), &text, &registry);
            assert!(result.is_ok(), "{}: {:?}", sink.name, result.err());
        }
    }

    #[test]
    fn the_state_folder_defaults_beside_the_spec_and_state_dir_moves_it() {
        let text = format!("[sources.a]\ntype = \"memory\"\nstreams = [\"x\"]\n{SINK}");
        let spec = valid(&text);
        assert_eq!(spec.state_file(), Path::new("/specs/.ashflow/spec.sqlite"));
        assert_eq!(spec.full_refresh_every, None);

        let spec =
            valid(&format!("state_dir = \"../state\"\nfull_refresh_every = \"7d 12h\"\n{text}"));
        assert_eq!(spec.state_file(), Path::new("/state/spec.sqlite"));
        assert_eq!(spec.full_refresh_every, Some(Duration::from_secs(7 * 86_400 + 12 * 3_600)));
        let report = spec.checked().render();
        assert!(report.contains("State (replica and run history): /state/spec.sqlite"), "{report}");
        assert!(report.contains("read in full again every 7days 12h"), "{report}");
    }

    #[test]
    fn a_bad_full_refresh_every_says_how_to_write_a_duration_at_its_line() {
        let text = format!("[sources.a]\ntype = \"memory\"\nstreams = [\"x\"]\n{SINK}");
        let misspelt = problems(&format!("full_refresh_every = \"7 dais\"\n{text}"));
        assert_eq!(misspelt.len(), 1, "{misspelt:?}");
        assert!(
            misspelt[0].starts_with("spec.toml:1:22: `full_refresh_every`: cannot read \"7 dais\"")
        );
        assert!(misspelt[0].ends_with("write a duration such as \"7d\", \"12h\" or \"1d 12h\""));

        let wrong = problems(&format!("full_refresh_every = 7\nstate_dir = \"\"\n{text}"));
        assert!(wrong[0].starts_with("spec.toml:1:22: `full_refresh_every` must be a string"));
        assert!(wrong[1].starts_with("spec.toml:2:13: `state_dir` is empty"), "{wrong:?}");
        let zero = problems(&format!("full_refresh_every = \"0s\"\n{text}"));
        assert!(zero[0].contains("must be longer than zero"), "{zero:?}");
    }

    #[test]
    fn a_state_folder_inside_a_sink_output_is_refused() {
        let text = "state_dir = \"out/ai/state\"\n[sources.a]\ntype = \"memory\"\nstreams = [\"x\"]\n\
                    [sinks.ai]\ntype = \"journal\"\njournal = \"j\"\npath = \"out/ai\"\n";
        let problems = problems(text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("spec.toml:1:13: the state folder /specs/out/ai/state is inside /specs/out/ai, which [sinks.ai] replaces"), "{problems:?}");
    }
}
