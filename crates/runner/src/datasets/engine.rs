//! Evaluating a dataset: each step (append, pivot, join, filter, select, rename, sort) first
//! computes its output schema from its input schema, resolving every column name, and then
//! applies itself to the rows.
//!
//! Planning runs the same schema half over the sources' declared schemas with no rows, so
//! `ashflow check` and a run agree on which names are valid; a run repeats it over the schemas
//! of the records actually read (undeclared fields and custom field columns included).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use ashflow_core::time::parse_timestamp;
use ashflow_core::{DataType, DatasetDescriptor, Field, Record, Schema};
use serde_json::Value;

use crate::datasets::columns::{
    self, add_field, insert_at, lookup, remove_at, remove_field, unknown_column_message,
};
use crate::datasets::definition::{JoinKind, Located};
use crate::datasets::filter::{ResolvedFilter, compare_numbers};
use crate::datasets::plan::{Base, DatasetPlan, Input, InputSource, JoinPlan, PlanKind, StepsPlan};
use crate::datasets::{DatasetInputs, EntityRef, Problem, SOURCE_COLUMN, pivot, sql};
use crate::error::RunnerError;

/// A dataset's schema as one step sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    /// The fields.
    pub(crate) schema: Schema,
    /// True when the schema may gain columns at run time (custom field columns of a pivot),
    /// so names it lacks are not yet errors.
    pub(crate) open: bool,
    /// The top-level field that identifies a row, while the steps keep it unique.
    pub(crate) primary_key: Option<String>,
}

/// A shape and, at run time, its rows.
#[derive(Debug, Clone)]
pub(crate) struct Evaluated {
    pub(crate) shape: Shape,
    /// `None` while planning, and after a step that could not be resolved.
    pub(crate) rows: Option<Vec<Record>>,
}

/// Collects the problems of one dataset's steps, each prefixed with the dataset and key.
pub(crate) struct Problems {
    label: String,
    pub(crate) list: Vec<Problem>,
}

impl Problems {
    /// Problems of the dataset called `label` in messages, such as `[datasets.open_jobs]`.
    pub(crate) fn new(label: impl Into<String>) -> Self {
        Problems { label: label.into(), list: Vec::new() }
    }

    pub(crate) fn push(&mut self, offset: usize, key: &str, message: impl std::fmt::Display) {
        self.list.push(Problem::new(offset, format!("{} `{key}`: {message}", self.label)));
    }
}

/// Materializes a dataset from the replica: its descriptor (name, description, the schema of
/// the rows actually produced, primary key and row count) and its rows in order.
///
/// FIXME: every row of the dataset and of its inputs is held in memory while it is made, which
/// is tens of megabytes for an account of 20,000 candidates but would not scale to accounts
/// many times larger; plain entity datasets should keep being streamed page by page instead
/// (see [`DatasetPlan::entity`]).
pub fn materialize(
    plan: &DatasetPlan,
    inputs: &dyn DatasetInputs,
) -> Result<(DatasetDescriptor, Vec<Record>), RunnerError> {
    let started = std::time::Instant::now();
    let mut cache = Cache::default();
    let evaluated = evaluate(plan, inputs, &mut cache)?;
    let rows = evaluated.rows.unwrap_or_default();
    tracing::debug!(
        component_kind = "dataset",
        dataset = %plan.name,
        rows = rows.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Dataset materialized."
    );
    let descriptor = DatasetDescriptor {
        name: plan.name.clone(),
        description: plan.description.clone(),
        schema: evaluated.shape.schema,
        primary_key: evaluated.shape.primary_key,
        rows: Some(rows.len() as u64),
    };
    Ok((descriptor, rows))
}

/// What one materialization has already read or computed: entities and datasets that several
/// steps use (the pipeline's joins, a dataset joined twice) are read once.
#[derive(Default)]
struct Cache {
    entities: HashMap<EntityRef, Arc<Vec<Record>>>,
    datasets: HashMap<String, Evaluated>,
}

impl Cache {
    fn entity(
        &mut self,
        entity: &EntityRef,
        inputs: &dyn DatasetInputs,
    ) -> Result<Arc<Vec<Record>>, RunnerError> {
        if let Some(records) = self.entities.get(entity) {
            return Ok(Arc::clone(records));
        }
        let records = Arc::new(inputs.records(&entity.source, &entity.entity)?);
        self.entities.insert(entity.clone(), Arc::clone(&records));
        Ok(records)
    }
}

fn evaluate(
    plan: &DatasetPlan,
    inputs: &dyn DatasetInputs,
    cache: &mut Cache,
) -> Result<Evaluated, RunnerError> {
    if let Some(done) = cache.datasets.get(&plan.name) {
        return Ok(done.clone());
    }
    let evaluated = match &plan.kind {
        PlanKind::Entity(entity) => {
            let records = cache.entity(&entity.entity, inputs)?;
            let schema = super::widen_schema(&entity.stream.schema, &records);
            Evaluated {
                shape: Shape {
                    schema,
                    open: false,
                    primary_key: Some(entity.stream.primary_key.clone()),
                },
                rows: Some(records.as_ref().clone()),
            }
        }
        PlanKind::Sql(query) => {
            let connection = inputs.sql_connection()?;
            let (schema, rows) = sql::run(query, &connection, &plan.name)?;
            Evaluated { shape: Shape { schema, open: false, primary_key: None }, rows: Some(rows) }
        }
        PlanKind::Steps(steps) => {
            let mut problems = Problems::new(plan.label());
            let mut load = |input: &Input, pivoted: bool| -> Result<Evaluated, RunnerError> {
                load_input(input, pivoted, inputs, cache)
            };
            let evaluated = run_steps(steps, &mut load, &mut problems)?;
            if !problems.list.is_empty() {
                let messages: Vec<String> =
                    problems.list.into_iter().map(|problem| problem.message).collect();
                return Err(RunnerError::Dataset {
                    dataset: plan.name.clone(),
                    message: messages.join("; "),
                });
            }
            evaluated
        }
    };
    cache.datasets.insert(plan.name.clone(), evaluated.clone());
    Ok(evaluated)
}

/// Reads an input of a step: an entity (with its custom fields pivoted when asked) or another
/// dataset.
fn load_input(
    input: &Input,
    pivoted: bool,
    inputs: &dyn DatasetInputs,
    cache: &mut Cache,
) -> Result<Evaluated, RunnerError> {
    match &input.source {
        InputSource::Dataset(plan) => evaluate(plan, inputs, cache),
        InputSource::Entity(entity) => {
            let records = cache.entity(&entity.entity, inputs)?;
            let schema = super::widen_schema(&entity.stream.schema, &records);
            let primary_key = Some(entity.stream.primary_key.clone());
            if !pivoted {
                let shape = Shape { schema, open: false, primary_key };
                return Ok(Evaluated { shape, rows: Some(records.as_ref().clone()) });
            }
            let definitions = cache.entity(&pivot::definitions_entity(&entity.entity), inputs)?;
            let (schema, rows) = pivot::pivot(
                &entity.entity.entity,
                &schema,
                records.as_ref().clone(),
                &definitions,
            );
            Ok(Evaluated { shape: Shape { schema, open: false, primary_key }, rows: Some(rows) })
        }
    }
}

/// Runs the steps of a `from` or `append` dataset. `load` gives each input's shape (and rows
/// at run time; the flag asks for custom fields pivoted); problems are collected in `problems`.
pub(crate) fn run_steps(
    steps: &StepsPlan,
    load: &mut dyn FnMut(&Input, bool) -> Result<Evaluated, RunnerError>,
    problems: &mut Problems,
) -> Result<Evaluated, RunnerError> {
    let mut current = match &steps.base {
        Base::From(input) => load(input, steps.pivot)?,
        Base::Append(list) => {
            let mut parts = Vec::new();
            for input in list {
                parts.push((append_label(input), load(input, steps.pivot)?));
            }
            append(parts)
        }
    };
    for join in &steps.joins {
        let right = load(&join.input, false)?;
        current = apply_join(current, right, join, problems);
    }
    if let Some((filter, text)) = &steps.filter {
        let (resolved, filter_problems) = filter.resolve(&current.shape.schema, current.shape.open);
        for problem in filter_problems {
            problems.push(text.offset_of(problem.position), "filter", problem.message);
        }
        current.rows = match (current.rows, resolved) {
            (Some(rows), Some(resolved)) => Some(keep_matching(rows, &resolved)),
            _ => None,
        };
    }
    if let Some(select) = &steps.select {
        current = apply_select(current, &select.value, problems);
    }
    if !steps.rename.is_empty() {
        current = apply_rename(current, &steps.rename, problems);
    }
    if !steps.sort.is_empty() {
        current = apply_sort(current, &steps.sort, problems);
    }
    Ok(current)
}

/// What `_source` says for rows of an appended input: the source's name for an entity, the
/// dataset's name otherwise.
fn append_label(input: &Input) -> String {
    match &input.source {
        InputSource::Entity(entity) => entity.entity.source.clone(),
        InputSource::Dataset(plan) => plan.name.clone(),
    }
}

fn keep_matching(rows: Vec<Record>, filter: &ResolvedFilter) -> Vec<Record> {
    rows.into_iter().filter(|row| filter.matches(row)).collect()
}

// Append ---------------------------------------------------------------------------------------

/// The union by column name of several inputs, each row led by `_source`.
fn append(parts: Vec<(String, Evaluated)>) -> Evaluated {
    let mut fields = vec![Field::new(
        SOURCE_COLUMN,
        DataType::String,
        "Which source (or dataset) of the append the row came from.",
    )];
    let mut open = false;
    for (_, part) in &parts {
        merge_fields(&mut fields, &part.shape.schema.fields);
        open |= part.shape.open;
    }
    let complete = parts.iter().all(|(_, part)| part.rows.is_some());
    let rows = complete.then(|| {
        let mut rows = Vec::new();
        for (label, part) in parts {
            for record in part.rows.unwrap_or_default() {
                // Rows of an input that is itself an append keep the source they came from.
                let source =
                    record.get(SOURCE_COLUMN).cloned().unwrap_or(Value::String(label.clone()));
                let mut row = Record::with_capacity(record.len() + 1);
                row.insert(SOURCE_COLUMN.to_string(), source);
                row.extend(record.into_iter().filter(|(key, _)| key != SOURCE_COLUMN));
                rows.push(row);
            }
        }
        rows
    });
    Evaluated { shape: Shape { schema: Schema::new(fields), open, primary_key: None }, rows }
}

/// Adds `more` to `fields` by name: new names at the end, objects merged field by field, and a
/// name with two different types typed so that both kinds of value fit.
fn merge_fields(fields: &mut Vec<Field>, more: &[Field]) {
    for field in more {
        let Some(existing) = fields.iter_mut().find(|f| f.name == field.name) else {
            fields.push(field.clone());
            continue;
        };
        existing.contact_details |= field.contact_details;
        if existing.references != field.references {
            existing.references = None;
        }
        match (&mut existing.data_type, &field.data_type) {
            (DataType::Object(mine), DataType::Object(theirs)) => merge_fields(mine, theirs),
            (mine, theirs) if mine == theirs => {}
            (
                mine @ (DataType::Integer | DataType::Number),
                DataType::Integer | DataType::Number,
            ) => {
                *mine = DataType::Number;
            }
            (mine, theirs) if is_scalar(mine) && is_scalar(theirs) => *mine = DataType::String,
            (mine, _) => *mine = DataType::Json,
        }
    }
}

fn is_scalar(data_type: &DataType) -> bool {
    !matches!(data_type, DataType::Object(_) | DataType::Array(_) | DataType::Json)
}

// Join -----------------------------------------------------------------------------------------

fn apply_join(
    left: Evaluated,
    right: Evaluated,
    join: &JoinPlan,
    problems: &mut Problems,
) -> Evaluated {
    let mut left_paths = Some(Vec::new());
    let mut right_paths = Some(Vec::new());
    for (left_name, right_name) in &join.on {
        let left_path = join_column(&left.shape, left_name, "this dataset", problems);
        let right_path = join_column(&right.shape, right_name, &join.input.label, problems);
        match (left_path, &mut left_paths) {
            (Some(path), Some(paths)) => paths.push(path),
            _ => left_paths = None,
        }
        match (right_path, &mut right_paths) {
            (Some(path), Some(paths)) => paths.push(path),
            _ => right_paths = None,
        }
    }

    let mut fields = left.shape.schema.fields.clone();
    let mut renamed = Vec::new();
    for field in &right.shape.schema.fields {
        let name = format!("{}{}", join.prefix, field.name);
        if fields.iter().any(|existing| existing.name == name) {
            problems.push(
                join.offset,
                "join",
                format!(
                    "joining `{}` adds the column `{name}`, which the dataset already has; choose \
                     another `prefix` (now \"{}\")",
                    join.input.label, join.prefix
                ),
            );
            continue;
        }
        let mut joined = field.clone();
        joined.name = name.clone();
        joined.description = format!("From {}: {}", join.input.label, field.description);
        if right.shape.primary_key.as_deref() == Some(field.name.as_str())
            && let InputSource::Entity(entity) = &join.input.source
        {
            joined.references = Some(entity.entity.entity.clone());
        }
        fields.push(joined);
        renamed.push((field.name.clone(), name));
    }

    // Rows stay unique only when every left row matches at most one right row: when the join
    // is on the right side's primary key.
    let unique_match = right_paths.as_ref().is_some_and(|paths| {
        right.shape.primary_key.as_ref().is_some_and(|key| {
            paths.iter().any(|path| path.as_slice() == std::slice::from_ref(key))
        })
    });
    let mut shape = Shape {
        schema: Schema::new(fields),
        open: left.shape.open || right.shape.open,
        primary_key: if unique_match { left.shape.primary_key.clone() } else { None },
    };
    let rows = match (left.rows, right.rows, left_paths, right_paths) {
        (Some(left_rows), Some(right_rows), Some(left_paths), Some(right_paths))
            if problems.list.is_empty() =>
        {
            let (rows, multiplied) =
                join_rows(left_rows, &right_rows, &left_paths, &right_paths, &renamed, join.kind);
            // The right side's key is declared unique but the data can disagree; repeated
            // rows have no primary key.
            if multiplied {
                shape.primary_key = None;
            }
            Some(rows)
        }
        _ => None,
    };
    Evaluated { shape, rows }
}

fn join_column(
    shape: &Shape,
    name: &Located<String>,
    side: &str,
    problems: &mut Problems,
) -> Option<Vec<String>> {
    match columns::resolve(&shape.schema.fields, &name.value) {
        Some((_, field)) if matches!(field.data_type, DataType::Object(_) | DataType::Array(_)) => {
            problems.push(
                name.offset,
                "join",
                format!(
                    "`{}` of {side} holds {} values; join on a column of single values, such as \
                     an id",
                    name.value,
                    field.data_type.name()
                ),
            );
            None
        }
        Some((path, _)) => Some(path),
        None => {
            if !shape.open {
                problems.push(
                    name.offset,
                    "join",
                    format!("{side}: {}", unknown_column_message(&name.value, &shape.schema)),
                );
            }
            None
        }
    }
}

/// The text a join compares for one value: ids match whether sent as text or as a number, and
/// a null or missing value matches nothing.
fn join_key(record: &Record, paths: &[Vec<String>]) -> Option<Vec<String>> {
    paths
        .iter()
        .map(|path| match lookup(record, path)? {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        })
        .collect()
}

fn join_rows(
    left_rows: Vec<Record>,
    right_rows: &[Record],
    left_paths: &[Vec<String>],
    right_paths: &[Vec<String>],
    renamed: &[(String, String)],
    kind: JoinKind,
) -> (Vec<Record>, bool) {
    let mut index: HashMap<Vec<String>, Vec<&Record>> = HashMap::new();
    for row in right_rows {
        if let Some(key) = join_key(row, right_paths) {
            index.entry(key).or_default().push(row);
        }
    }
    let mut joined = Vec::with_capacity(left_rows.len());
    let mut multiplied = false;
    for left in left_rows {
        let matches = join_key(&left, left_paths).and_then(|key| index.get(&key));
        match matches {
            Some(matches) => {
                multiplied |= matches.len() > 1;
                for right in matches {
                    let mut row = left.clone();
                    for (name, new_name) in renamed {
                        let value = right.get(name).cloned().unwrap_or(Value::Null);
                        row.insert(new_name.clone(), value);
                    }
                    joined.push(row);
                }
            }
            None if kind == JoinKind::Left => {
                let mut row = left;
                for (_, new_name) in renamed {
                    row.insert(new_name.clone(), Value::Null);
                }
                joined.push(row);
            }
            None => {}
        }
    }
    (joined, multiplied)
}

// Select and rename ----------------------------------------------------------------------------

fn apply_select(
    current: Evaluated,
    select: &[Located<String>],
    problems: &mut Problems,
) -> Evaluated {
    let input = &current.shape.schema.fields;
    let mut fields = Vec::new();
    let mut paths = Some(Vec::new());
    let mut seen = std::collections::HashSet::new();
    for name in select {
        if !seen.insert(name.value.as_str()) {
            problems.push(name.offset, "select", format!("`{}` is listed twice", name.value));
            continue;
        }
        match columns::resolve(input, &name.value) {
            Some((path, field)) => {
                add_field(&mut fields, &path, field.clone(), input);
                if let Some(paths) = &mut paths {
                    paths.push(path);
                }
            }
            None => {
                paths = None;
                if current.shape.open {
                    fields.push(placeholder(&name.value));
                } else {
                    problems.push(
                        name.offset,
                        "select",
                        unknown_column_message(&name.value, &current.shape.schema),
                    );
                }
            }
        }
    }
    let primary_key = current.shape.primary_key.filter(|key| {
        select.iter().any(|name| &name.value == key) && fields.iter().any(|f| &f.name == key)
    });
    let rows = match (current.rows, paths) {
        (Some(rows), Some(paths)) => Some(
            rows.into_iter()
                .map(|row| {
                    let mut selected = Record::with_capacity(paths.len());
                    // Every selected column is present in every row, empty where the record
                    // has no value, so rows of a selected dataset all have the same keys.
                    for path in &paths {
                        let value = lookup(&row, path).cloned().unwrap_or(Value::Null);
                        insert_at(&mut selected, path, value);
                    }
                    selected
                })
                .collect(),
        ),
        _ => None,
    };
    let shape = Shape { schema: Schema::new(fields), open: current.shape.open, primary_key };
    Evaluated { shape, rows }
}

/// A column that only the run will know, such as a custom field of a pivot.
fn placeholder(name: &str) -> Field {
    Field::new(name, DataType::Json, "Known when the dataset is materialized.")
}

fn apply_rename(
    current: Evaluated,
    renames: &[(Located<String>, Located<String>)],
    problems: &mut Problems,
) -> Evaluated {
    let input = &current.shape.schema;
    let mut resolved: Vec<(Vec<String>, String)> = Vec::new();
    let mut complete = true;
    for (old, new) in renames {
        match columns::resolve(&input.fields, &old.value) {
            Some((path, _)) => resolved.push((path, new.value.clone())),
            None => {
                complete = false;
                if !current.shape.open {
                    problems.push(old.offset, "rename", unknown_column_message(&old.value, input));
                }
            }
        }
    }

    let mut fields = Vec::new();
    for field in &input.fields {
        let mut holder = vec![field.clone()];
        for (path, new_name) in resolved.iter().filter(|(path, _)| path[0] == field.name) {
            if let Some(mut lifted) = remove_field(&mut holder, path) {
                lifted.name = new_name.clone();
                fields.push(lifted);
            }
        }
        fields.extend(holder);
    }
    if !complete {
        // A name only the run can resolve is renamed then; until then, show the new name.
        for (old, new) in renames {
            if columns::resolve(&input.fields, &old.value).is_none() && current.shape.open {
                fields.push(placeholder(&new.value));
            }
        }
    }
    let mut names = std::collections::HashSet::new();
    for field in &fields {
        if !names.insert(field.name.as_str()) {
            let offset = renames
                .iter()
                .find(|(_, new)| new.value == field.name)
                .map_or(0, |(_, new)| new.offset);
            problems.push(
                offset,
                "rename",
                format!("two columns would be called `{}`; choose another new name", field.name),
            );
        }
    }

    let primary_key = current.shape.primary_key.map(|key| {
        resolved
            .iter()
            .find(|(path, _)| path.len() == 1 && path[0] == key)
            .map_or(key, |(_, new)| new.clone())
    });
    let rows = match current.rows {
        Some(rows) if complete => Some(
            rows.into_iter()
                .map(|row| {
                    let mut renamed = Record::with_capacity(row.len());
                    for (key, value) in row {
                        let here: Vec<&(Vec<String>, String)> =
                            resolved.iter().filter(|(path, _)| path[0] == key).collect();
                        if here.is_empty() {
                            renamed.insert(key, value);
                            continue;
                        }
                        let mut holder = Record::new();
                        holder.insert(key, value);
                        for (path, new_name) in here {
                            if let Some(value) = remove_at(&mut holder, path) {
                                renamed.insert(new_name.clone(), value);
                            }
                        }
                        renamed.extend(holder);
                    }
                    renamed
                })
                .collect(),
        ),
        _ => None,
    };
    let shape = Shape { schema: Schema::new(fields), open: current.shape.open, primary_key };
    Evaluated { shape, rows }
}

// Sort -----------------------------------------------------------------------------------------

/// One sort key: a column and its direction.
struct SortKey {
    path: Vec<String>,
    instants: bool,
    descending: bool,
}

/// A value as a sort compares it, computed once per row.
#[derive(Debug, Clone, PartialEq)]
enum SortValue {
    Boolean(bool),
    Number(serde_json::Number),
    Instant(i64),
    Text(String),
    Other(String),
}

impl SortValue {
    fn of(value: Option<&Value>, instants: bool) -> Option<SortValue> {
        match value? {
            Value::Null => None,
            Value::Bool(flag) => Some(SortValue::Boolean(*flag)),
            Value::Number(number) => Some(SortValue::Number(number.clone())),
            Value::String(text) => Some(
                instants
                    .then(|| {
                        parse_timestamp(text).map(|t| SortValue::Instant(t.timestamp_millis()))
                    })
                    .flatten()
                    .unwrap_or_else(|| SortValue::Text(text.clone())),
            ),
            other => Some(SortValue::Other(other.to_string())),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortValue::Boolean(_) => 0,
            SortValue::Number(_) => 1,
            SortValue::Instant(_) => 2,
            SortValue::Text(_) => 3,
            SortValue::Other(_) => 4,
        }
    }

    fn compare(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Boolean(a), SortValue::Boolean(b)) => a.cmp(b),
            (SortValue::Number(a), SortValue::Number(b)) => {
                compare_numbers(a, b).unwrap_or(Ordering::Equal)
            }
            (SortValue::Instant(a), SortValue::Instant(b)) => a.cmp(b),
            (SortValue::Text(a), SortValue::Text(b))
            | (SortValue::Other(a), SortValue::Other(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Reads `"createdAt desc"` as the column and the direction.
pub(crate) fn parse_sort_key(text: &str) -> (String, bool) {
    let trimmed = text.trim();
    let (name, descending) = match trimmed.rsplit_once(char::is_whitespace) {
        Some((name, direction)) if direction.eq_ignore_ascii_case("desc") => {
            (name.trim_end(), true)
        }
        Some((name, direction)) if direction.eq_ignore_ascii_case("asc") => {
            (name.trim_end(), false)
        }
        _ => (trimmed, false),
    };
    let unquoted = name
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .or_else(|| name.strip_prefix('`').and_then(|rest| rest.strip_suffix('`')))
        .unwrap_or(name);
    (unquoted.to_string(), descending)
}

fn apply_sort(current: Evaluated, sort: &[Located<String>], problems: &mut Problems) -> Evaluated {
    let schema = &current.shape.schema;
    let mut keys = Some(Vec::new());
    for key in sort {
        let (name, descending) = parse_sort_key(&key.value);
        match columns::resolve(&schema.fields, &name) {
            Some((_, field))
                if matches!(field.data_type, DataType::Object(_) | DataType::Array(_)) =>
            {
                problems.push(
                    key.offset,
                    "sort",
                    format!("`{name}` holds {} values, which do not sort", field.data_type.name()),
                );
                keys = None;
            }
            Some((path, field)) => {
                let instants = matches!(field.data_type, DataType::Timestamp | DataType::Date);
                if let Some(keys) = &mut keys {
                    keys.push(SortKey { path, instants, descending });
                }
            }
            None => {
                keys = None;
                if !current.shape.open {
                    let mut message = unknown_column_message(&name, schema);
                    message.push_str(
                        " (sort comes after select and rename, so it uses the new names)",
                    );
                    problems.push(key.offset, "sort", message);
                }
            }
        }
    }
    let rows = match (current.rows, keys) {
        (Some(rows), Some(keys)) => Some(sort_rows(rows, &keys)),
        _ => None,
    };
    Evaluated { shape: current.shape, rows }
}

/// Sorts stably: rows equal on every key keep their order. Empty values sort last whichever
/// the direction, as blanks do in a sorted spreadsheet.
fn sort_rows(rows: Vec<Record>, keys: &[SortKey]) -> Vec<Record> {
    let mut keyed: Vec<(Vec<Option<SortValue>>, Record)> = rows
        .into_iter()
        .map(|row| {
            let values = keys
                .iter()
                .map(|key| SortValue::of(lookup(&row, &key.path), key.instants))
                .collect();
            (values, row)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for ((a, b), key) in a.iter().zip(b).zip(keys) {
            let ordering = match (a, b) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) if key.descending => b.compare(a),
                (Some(a), Some(b)) => a.compare(b),
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    keyed.into_iter().map(|(_, row)| row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_read_their_direction_and_quotes() {
        assert_eq!(parse_sort_key("createdAt desc"), ("createdAt".into(), true));
        assert_eq!(parse_sort_key(" id "), ("id".into(), false));
        assert_eq!(
            parse_sort_key("\"Years of experience\" DESC"),
            ("Years of experience".into(), true)
        );
        assert_eq!(
            parse_sort_key("Years of experience asc"),
            ("Years of experience".into(), false)
        );
    }
}
