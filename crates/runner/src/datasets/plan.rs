//! Planning: every dataset of a spec resolved against the entities its sources read, checked
//! column by column, with its schema, primary key and the entities it needs.
//!
//! Names in `from`, `append` and `join.with` are either `<source>.<entity>` or a dataset name
//! (an entity's dataset such as `candidates`, a dataset the spec defines, or a built-in).
//! Datasets that refer to each other in a cycle are refused. Every problem is collected, so
//! `ashflow check` shows them all at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use ashflow_core::Schema;

use crate::datasets::columns::{closest, list_names};
use crate::datasets::definition::{Body, Definition, JoinKind, Located, LocatedText};
use crate::datasets::engine::{self, Evaluated, Problems, Shape};
use crate::datasets::filter::Filter;
use crate::datasets::sql::{self, SqlPlan};
use crate::datasets::{EntityInput, EntityRef, Problem, builtin, pivot};

/// One dataset a sink can receive, ready to materialize.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetPlan {
    /// The dataset's name, as sinks use it.
    pub name: String,
    /// What the dataset holds, for data dictionaries.
    pub description: String,
    /// The schema as known before the run: the sources' declared fields. A run adds fields
    /// the records carry undeclared, and the columns of pivoted custom fields.
    pub schema: Schema,
    /// True when the run adds columns to [`DatasetPlan::schema`] that planning cannot know:
    /// the custom field columns of a pivot.
    pub columns_at_run_time: bool,
    /// The field that identifies a row, when the dataset keeps one unique.
    pub primary_key: Option<String>,
    /// Every entity the dataset reads, directly or through other datasets, sorted.
    pub inputs: Vec<EntityRef>,
    /// Where the dataset comes from.
    pub origin: Origin,
    /// How it is computed.
    pub(crate) kind: PlanKind,
}

/// Where a dataset comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// One entity of one source, as read.
    Entity,
    /// A `[datasets.NAME]` table of the spec.
    Defined,
    /// Provided by ashflow, such as `pipeline`.
    Builtin,
}

/// How a dataset is computed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PlanKind {
    /// The records of one entity.
    Entity(EntityInput),
    /// A `from` or `append` dataset and its steps.
    Steps(Box<StepsPlan>),
    /// A read-only query.
    Sql(SqlPlan),
}

/// The steps of a `from` or `append` dataset, with every input resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepsPlan {
    pub(crate) base: Base,
    pub(crate) pivot: bool,
    pub(crate) joins: Vec<JoinPlan>,
    pub(crate) filter: Option<(Filter, LocatedText)>,
    pub(crate) select: Option<Located<Vec<Located<String>>>>,
    pub(crate) rename: Vec<(Located<String>, Located<String>)>,
    pub(crate) sort: Vec<Located<String>>,
}

/// Where the rows of a `from` or `append` dataset start.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Base {
    From(Input),
    Append(Vec<Input>),
}

/// An entity or dataset that a step reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Input {
    /// The name as the spec wrote it.
    pub(crate) label: String,
    pub(crate) source: InputSource,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InputSource {
    Entity(EntityInput),
    Dataset(Arc<DatasetPlan>),
}

/// One resolved `join` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JoinPlan {
    pub(crate) input: Input,
    pub(crate) on: Vec<(Located<String>, Located<String>)>,
    pub(crate) kind: JoinKind,
    pub(crate) prefix: String,
    pub(crate) offset: usize,
}

impl DatasetPlan {
    /// How messages name the dataset: `[datasets.open_jobs]`, or the built-in's name.
    pub fn label(&self) -> String {
        label(&self.name, self.origin)
    }

    /// The entity of a plain entity dataset, which a run can stream from the replica page by
    /// page instead of materializing it.
    pub fn entity(&self) -> Option<&EntityRef> {
        match &self.kind {
            PlanKind::Entity(entity) => Some(&entity.entity),
            _ => None,
        }
    }

    /// One line saying how the dataset is made, for `ashflow check`.
    pub fn summary(&self) -> String {
        match &self.kind {
            PlanKind::Entity(entity) => format!("entity {}", entity.entity),
            PlanKind::Sql(query) => {
                let reads: Vec<String> = query.reads.iter().map(ToString::to_string).collect();
                format!(
                    "sql reading {}",
                    if reads.is_empty() { "no entity".into() } else { reads.join(", ") }
                )
            }
            PlanKind::Steps(steps) => {
                let mut parts = vec![match &steps.base {
                    Base::From(input) => format!("from {}", input.label),
                    Base::Append(inputs) => format!(
                        "append {}",
                        inputs.iter().map(|i| i.label.as_str()).collect::<Vec<_>>().join(" + ")
                    ),
                }];
                if steps.pivot {
                    parts.push("custom fields as columns".into());
                }
                for join in &steps.joins {
                    let kind = if join.kind == JoinKind::Inner { "inner join" } else { "join" };
                    parts.push(format!("{kind} {}", join.input.label));
                }
                if let Some((_, text)) = &steps.filter {
                    parts.push(format!("filter {}", text.text));
                }
                if !steps.sort.is_empty() {
                    let keys: Vec<&str> = steps.sort.iter().map(|k| k.value.as_str()).collect();
                    parts.push(format!("sort {}", keys.join(", ")));
                }
                parts.join("; ")
            }
        }
    }
}

fn label(name: &str, origin: Origin) -> String {
    match origin {
        Origin::Builtin => format!("built-in dataset `{name}`"),
        Origin::Entity => format!("dataset `{name}`"),
        Origin::Defined => format!("[datasets.{name}]"),
    }
}

/// Every dataset of a spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetPlans {
    plans: BTreeMap<String, Arc<DatasetPlan>>,
    entity_datasets: Vec<String>,
    /// Built-ins that cannot be made from what the sources read, and why.
    unavailable: BTreeMap<String, String>,
    /// `<source>.<entity>` to the entity's dataset name, for hints.
    entity_names: BTreeMap<String, String>,
    /// Datasets the spec defines that could not be planned; their problems are reported
    /// where they are defined, not again where they are used.
    failed: BTreeSet<String>,
}

impl DatasetPlans {
    /// The dataset called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<DatasetPlan>> {
        self.plans.get(name)
    }

    /// Every dataset, sorted by name: entities', the spec's and the available built-ins.
    pub fn all(&self) -> impl Iterator<Item = &Arc<DatasetPlan>> {
        self.plans.values()
    }

    /// Records that the spec defines `name` but it could not be planned, unless it was: its
    /// problems are reported where it is defined, not again where a sink names it.
    pub(crate) fn mark_failed(&mut self, name: &str) {
        if !self.plans.contains_key(name) {
            self.failed.insert(name.to_string());
        }
    }

    /// The datasets a sink receives when it does not choose: one per entity, sorted by name.
    pub fn entity_datasets(&self) -> &[String] {
        &self.entity_datasets
    }

    /// The datasets a sink receives: `requested` (its `datasets` key, in the order written)
    /// or, without one, every entity's dataset. `sink` names the sink in messages.
    pub(crate) fn select_for_sink(
        &self,
        requested: Option<&Located<Vec<Located<String>>>>,
        sink: &str,
    ) -> (Vec<String>, Vec<Problem>) {
        let Some(requested) = requested else {
            return (self.entity_datasets.clone(), Vec::new());
        };
        let mut problems = Vec::new();
        if requested.value.is_empty() {
            problems.push(Problem::new(
                requested.offset,
                format!(
                    "[sinks.{sink}] `datasets` is empty; list the datasets to write, or remove \
                     the key to write one dataset per entity"
                ),
            ));
        }
        let mut selected = Vec::new();
        for name in &requested.value {
            if selected.contains(&name.value) {
                problems.push(Problem::new(
                    name.offset,
                    format!("[sinks.{sink}] `datasets` lists `{}` twice", name.value),
                ));
            } else if self.plans.contains_key(&name.value) {
                selected.push(name.value.clone());
            } else if !self.failed.contains(&name.value) {
                let message = self.unknown_dataset(&name.value);
                problems.push(Problem::new(
                    name.offset,
                    format!("[sinks.{sink}] `datasets`: {message}"),
                ));
            }
        }
        (selected, problems)
    }

    fn unknown_dataset(&self, name: &str) -> String {
        if let Some(reason) = self.unavailable.get(name) {
            return reason.clone();
        }
        if let Some(dataset) = self.entity_names.get(name) {
            return format!("`{name}` is an entity; its dataset is called `{dataset}`");
        }
        let names: BTreeSet<String> = self.plans.keys().chain(&self.failed).cloned().collect();
        let names: Vec<String> = names.into_iter().collect();
        let mut message = format!("no dataset `{name}`");
        if let Some(closest) = closest(name, names.iter().map(String::as_str)) {
            message.push_str(&format!("; did you mean `{closest}`?"));
        }
        message.push_str(&format!(" Datasets: {}", list_names(&names, 60)));
        message
    }
}

/// Plans every dataset: one per entity of `entities`, one per definition, and the built-ins
/// that the entities allow and no definition replaces.
pub(crate) fn plan_datasets(
    definitions: &[Definition],
    entities: &[EntityInput],
    several_sources: bool,
) -> (DatasetPlans, Vec<Problem>) {
    let mut plans = DatasetPlans::default();
    let mut problems = Vec::new();
    for entity in entities {
        let plan = DatasetPlan {
            name: entity.dataset.clone(),
            description: entity.stream.description.clone(),
            schema: entity.stream.schema.clone(),
            columns_at_run_time: false,
            primary_key: Some(entity.stream.primary_key.clone()),
            inputs: vec![entity.entity.clone()],
            origin: Origin::Entity,
            kind: PlanKind::Entity(entity.clone()),
        };
        plans.plans.insert(entity.dataset.clone(), Arc::new(plan));
        plans.entity_datasets.push(entity.dataset.clone());
        plans.entity_names.insert(entity.entity.to_string(), entity.dataset.clone());
    }
    plans.entity_datasets.sort();

    let mut all: Vec<Definition> = Vec::new();
    for definition in definitions {
        if plans.plans.contains_key(&definition.name) {
            problems.push(Problem::new(
                definition.offset,
                format!(
                    "[datasets.{}]: `{}` is already the dataset of an entity; choose another name",
                    definition.name, definition.name
                ),
            ));
        } else {
            all.push(definition.clone());
        }
    }
    for builtin in builtin::builtins(entities, several_sources) {
        if definitions.iter().any(|definition| definition.name == builtin.name) {
            continue;
        }
        match builtin.definition {
            Ok(definition) => all.push(definition),
            Err(reason) => {
                plans.unavailable.insert(builtin.name, reason);
            }
        }
    }

    let mut planner = Planner {
        definitions: all.iter().map(|definition| (definition.name.as_str(), definition)).collect(),
        entities,
        plans: &plans,
        done: HashMap::new(),
        stack: Vec::new(),
        problems: Vec::new(),
    };
    for definition in &all {
        planner.plan(&definition.name);
    }
    let done = std::mem::take(&mut planner.done);
    problems.append(&mut planner.problems);
    for (name, plan) in done {
        match plan {
            Some(plan) => {
                plans.plans.insert(name, plan);
            }
            None => {
                plans.failed.insert(name);
            }
        }
    }
    (plans, problems)
}

struct Planner<'a> {
    definitions: HashMap<&'a str, &'a Definition>,
    entities: &'a [EntityInput],
    plans: &'a DatasetPlans,
    /// Planned definitions; `None` for one with problems (already reported).
    done: HashMap<String, Option<Arc<DatasetPlan>>>,
    /// Definitions being planned, outermost first, to find cycles.
    stack: Vec<String>,
    problems: Vec<Problem>,
}

impl Planner<'_> {
    fn plan(&mut self, name: &str) -> Option<Arc<DatasetPlan>> {
        if let Some(done) = self.done.get(name) {
            return done.clone();
        }
        let definition = *self.definitions.get(name)?;
        self.stack.push(name.to_string());
        let before = self.problems.len();
        let plan = self.plan_definition(definition);
        self.stack.pop();
        let plan = plan.filter(|_| self.problems.len() == before).map(Arc::new);
        self.done.insert(name.to_string(), plan.clone());
        plan
    }

    fn plan_definition(&mut self, definition: &Definition) -> Option<DatasetPlan> {
        let origin = if definition.builtin { Origin::Builtin } else { Origin::Defined };
        let label = label(&definition.name, origin);
        let (kind, shape, inputs) = match &definition.body {
            Body::Sql(query) => match sql::check(query, self.entities, &label) {
                Ok(plan) => {
                    let fields = plan
                        .columns
                        .iter()
                        .map(|name| {
                            ashflow_core::Field::new(
                                name.clone(),
                                ashflow_core::DataType::String,
                                "A column of the SQL query; its type is read from the values.",
                            )
                        })
                        .collect();
                    let shape =
                        Shape { schema: Schema::new(fields), open: false, primary_key: None };
                    let inputs = plan.reads.clone();
                    (PlanKind::Sql(plan), shape, inputs)
                }
                Err(mut problems) => {
                    self.problems.append(&mut problems);
                    return None;
                }
            },
            body => {
                let steps = self.steps(definition, body, &label)?;
                let mut problems = Problems::new(label.clone());
                let mut load = |input: &Input, pivoted: bool| Ok(planned_shape(input, pivoted));
                let evaluated = engine::run_steps(&steps, &mut load, &mut problems).ok()?;
                if !problems.list.is_empty() {
                    self.problems.append(&mut problems.list);
                    return None;
                }
                let inputs = steps_inputs(&steps);
                (PlanKind::Steps(Box::new(steps)), evaluated.shape, inputs)
            }
        };
        let description = match (&kind, definition.builtin) {
            (_, true) => builtin::description(&definition.name),
            (PlanKind::Sql(_), _) => "The result of an SQL query over the replica.".to_string(),
            _ => String::new(),
        };
        let mut plan = DatasetPlan {
            name: definition.name.clone(),
            description,
            schema: shape.schema,
            columns_at_run_time: shape.open,
            primary_key: shape.primary_key,
            inputs,
            origin,
            kind,
        };
        if plan.description.is_empty() {
            plan.description = format!("Defined in the spec: {}.", plan.summary());
        }
        Some(plan)
    }

    fn steps(&mut self, definition: &Definition, body: &Body, label: &str) -> Option<StepsPlan> {
        let before = self.problems.len();
        let base = match body {
            Body::From(reference) => self.input(reference, label, "from").map(Base::From),
            Body::Append(references) => {
                let inputs: Vec<Option<Input>> = references
                    .iter()
                    .map(|reference| self.input(reference, label, "append"))
                    .collect();
                inputs.into_iter().collect::<Option<Vec<Input>>>().map(Base::Append)
            }
            Body::Sql(_) => None,
        };
        let pivot = definition.pivot_custom_fields.as_ref().is_some_and(|flag| flag.value);
        if let (Some(base), Some(flag)) = (&base, &definition.pivot_custom_fields)
            && flag.value
        {
            self.check_pivot(base, flag.offset, label);
        }
        let mut joins = Vec::new();
        for join in &definition.join {
            let Some(input) = self.input(&join.with, label, "join") else { continue };
            let prefix = match &join.prefix {
                Some(prefix) => prefix.value.clone(),
                None => match &input.source {
                    InputSource::Entity(entity) => format!("{}_", entity.entity.entity),
                    InputSource::Dataset(plan) => format!("{}_", plan.name),
                },
            };
            joins.push(JoinPlan {
                input,
                on: join.on.clone(),
                kind: join.kind,
                prefix,
                offset: join.offset,
            });
        }
        let filter = definition.filter.as_ref().and_then(|text| match Filter::parse(&text.text) {
            Ok(filter) => Some((filter, text.clone())),
            Err(error) => {
                self.problems.push(Problem::new(
                    text.offset_of(error.position),
                    format!(
                        "{label} `filter`: {} (at character {} of the filter)",
                        error.message,
                        error.position + 1
                    ),
                ));
                None
            }
        });
        if self.problems.len() > before {
            return None;
        }
        Some(StepsPlan {
            base: base?,
            pivot,
            joins,
            filter,
            select: definition.select.clone(),
            rename: definition.rename.clone(),
            sort: definition.sort.clone(),
        })
    }

    fn check_pivot(&mut self, base: &Base, offset: usize, label: &str) {
        let inputs = match base {
            Base::From(input) => vec![input],
            Base::Append(inputs) => inputs.iter().collect(),
        };
        for input in inputs {
            let InputSource::Entity(entity) = &input.source else {
                self.problems.push(Problem::new(
                    offset,
                    format!(
                        "{label} `pivot_custom_fields`: `{}` is a dataset; pivot custom fields \
                         where it reads its entity, or read an entity here",
                        input.label
                    ),
                ));
                continue;
            };
            if !pivot::is_pivotable(&entity.entity.entity) {
                self.problems.push(Problem::new(
                    offset,
                    format!(
                        "{label} `pivot_custom_fields`: records of `{}` have no custom fields; \
                         it applies to {}",
                        entity.entity,
                        list_names(&pivot::pivotable_entities(), 10)
                    ),
                ));
                continue;
            }
            let definitions = pivot::definitions_entity(&entity.entity);
            if !self.entities.iter().any(|e| e.entity == definitions) {
                self.problems.push(Problem::new(
                    offset,
                    format!(
                        "{label} `pivot_custom_fields`: it needs the custom field definitions, \
                         the `{}` entity of source `{}`; export it too (add it to the source's \
                         `entities`, or take it out of `exclude`)",
                        pivot::DEFINITIONS_ENTITY,
                        entity.entity.source
                    ),
                ));
            }
        }
    }

    /// Resolves a name written in `key` of the dataset `label`.
    fn input(&mut self, reference: &Located<String>, label: &str, key: &str) -> Option<Input> {
        let name = reference.value.as_str();
        let entity = self
            .entities
            .iter()
            .find(|entity| entity.entity.to_string() == name || entity.dataset == name);
        if let Some(entity) = entity {
            return Some(Input {
                label: name.to_string(),
                source: InputSource::Entity(entity.clone()),
            });
        }
        if self.definitions.contains_key(name) {
            if let Some(start) = self.stack.iter().position(|on_stack| on_stack == name) {
                let mut cycle: Vec<&str> = self.stack[start..].iter().map(String::as_str).collect();
                cycle.push(name);
                self.problems.push(Problem::new(
                    reference.offset,
                    format!(
                        "{label} `{key}`: datasets refer to each other in a cycle ({}); a \
                         dataset cannot be made from itself",
                        cycle.join(" -> ")
                    ),
                ));
                return None;
            }
            let plan = self.plan(name)?;
            return Some(Input { label: name.to_string(), source: InputSource::Dataset(plan) });
        }
        let message = match self.plans.unavailable.get(name) {
            Some(reason) => reason.clone(),
            None => self.unknown_reference(name),
        };
        self.problems.push(Problem::new(reference.offset, format!("{label} `{key}`: {message}")));
        None
    }

    fn unknown_reference(&self, name: &str) -> String {
        let entities: Vec<String> = self.entities.iter().map(|e| e.entity.to_string()).collect();
        let mut datasets: BTreeSet<String> =
            self.definitions.keys().map(|n| n.to_string()).collect();
        datasets.extend(self.entities.iter().map(|e| e.dataset.clone()));
        let candidates = entities.iter().chain(datasets.iter()).map(String::as_str);
        let mut message = format!("no entity or dataset `{name}`");
        if let Some(closest) = closest(name, candidates) {
            message.push_str(&format!("; did you mean `{closest}`?"));
        }
        let datasets: Vec<String> = datasets.into_iter().collect();
        message.push_str(&format!(
            " Entities: {}. Datasets: {}",
            list_names(&entities, 60),
            list_names(&datasets, 60)
        ));
        message
    }
}

/// The shape an input has before the run: the declared schema (without the custom field list
/// when pivoted, and then open to the columns the run adds) or the planned dataset's.
fn planned_shape(input: &Input, pivoted: bool) -> Evaluated {
    let shape = match &input.source {
        InputSource::Entity(entity) => Shape {
            schema: if pivoted {
                pivot::schema_without_list(&entity.entity.entity, &entity.stream.schema)
            } else {
                entity.stream.schema.clone()
            },
            open: pivoted,
            primary_key: Some(entity.stream.primary_key.clone()),
        },
        InputSource::Dataset(plan) => Shape {
            schema: plan.schema.clone(),
            open: plan.columns_at_run_time,
            primary_key: plan.primary_key.clone(),
        },
    };
    Evaluated { shape, rows: None }
}

/// Every entity the steps read, directly or through the datasets they use, sorted.
fn steps_inputs(steps: &StepsPlan) -> Vec<EntityRef> {
    let mut inputs = BTreeSet::new();
    let mut add = |input: &Input, pivoted: bool| match &input.source {
        InputSource::Entity(entity) => {
            inputs.insert(entity.entity.clone());
            if pivoted {
                inputs.insert(pivot::definitions_entity(&entity.entity));
            }
        }
        InputSource::Dataset(plan) => inputs.extend(plan.inputs.iter().cloned()),
    };
    match &steps.base {
        Base::From(input) => add(input, steps.pivot),
        Base::Append(list) => list.iter().for_each(|input| add(input, steps.pivot)),
    }
    for join in &steps.joins {
        add(&join.input, false);
    }
    inputs.into_iter().collect()
}
