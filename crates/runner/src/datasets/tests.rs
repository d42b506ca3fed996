//! Whole datasets, planned from spec text and materialized from records held in memory (or a
//! replica-shaped SQLite file), checked against values each test computes on its own from the
//! raw records, never with the engine's helpers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ashflow_core::{DataType, Field, Projection, Record, Schema, StreamDescriptor};
use serde_json::{Value, json};
use toml::de::DeTable;

use super::*;
use crate::spec::parse_spec;

/// Replica contents held in memory, plus an optional SQLite file laid out as the replica.
struct MemoryInputs {
    records: HashMap<EntityRef, Vec<Record>>,
    replica: Option<PathBuf>,
}

impl DatasetInputs for MemoryInputs {
    fn records(&self, source: &str, entity: &str) -> Result<Vec<Record>, RunnerError> {
        Ok(self.records.get(&EntityRef::new(source, entity)).cloned().unwrap_or_default())
    }

    fn sql_connection(&self) -> Result<rusqlite::Connection, RunnerError> {
        let path = self.replica.as_ref().expect("this test wrote a replica file");
        Ok(rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?)
    }
}

fn record(value: Value) -> Record {
    value.as_object().cloned().expect("test records are objects")
}

fn field(name: &str, data_type: DataType) -> Field {
    Field::new(name, data_type, format!("The {name}."))
}

fn entity(source: &str, name: &str, dataset: &str, fields: Vec<Field>) -> EntityInput {
    EntityInput {
        entity: EntityRef::new(source, name),
        dataset: dataset.to_string(),
        stream: StreamDescriptor {
            name: name.to_string(),
            description: format!("The {name}."),
            schema: Schema::new(fields),
            primary_key: "id".into(),
            created_at_field: Some("createdAt".into()),
            incremental: false,
        },
    }
}

/// Plans the `[datasets]` of `toml` over `entities`, expecting no problem.
fn plans(toml: &str, entities: &[EntityInput], several_sources: bool) -> DatasetPlans {
    let root = DeTable::parse(toml).expect("valid TOML").into_inner();
    let (key, value) = root.iter().find(|(key, _)| key.get_ref() == "datasets").expect("datasets");
    let (definitions, problems) = parse_definitions(value, key.span().start, toml);
    assert!(problems.is_empty(), "{problems:?}");
    let (plans, problems) = plan_datasets(&definitions, entities, several_sources);
    assert!(problems.is_empty(), "{problems:?}");
    plans
}

fn run(
    plans: &DatasetPlans,
    name: &str,
    inputs: &MemoryInputs,
) -> (ashflow_core::DatasetDescriptor, Vec<Record>) {
    let plan = plans.get(name).unwrap_or_else(|| panic!("dataset {name} is planned"));
    materialize(plan, inputs).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// The value at a dotted path of a record, read the plain way.
fn at<'a>(row: &'a Record, path: &str) -> &'a Value {
    let mut value = row.get(path.split('.').next().unwrap_or_default()).unwrap_or(&Value::Null);
    for name in path.split('.').skip(1) {
        value = value.get(name).unwrap_or(&Value::Null);
    }
    value
}

// Joins ----------------------------------------------------------------------------------------

fn jobs_and_departments() -> (Vec<EntityInput>, MemoryInputs) {
    let entities = vec![
        entity(
            "ashby",
            "jobs",
            "jobs",
            vec![
                field("id", DataType::String),
                field("title", DataType::String),
                field("status", DataType::String),
                field("departmentId", DataType::String),
                field("createdAt", DataType::Timestamp),
            ],
        ),
        entity(
            "ashby",
            "departments",
            "departments",
            vec![field("id", DataType::String), field("name", DataType::String)],
        ),
    ];
    let jobs = vec![
        record(json!({"id": "j1", "title": "Engineer", "status": "Open", "departmentId": "d1"})),
        record(json!({"id": "j2", "title": "Seller", "status": "Open", "departmentId": "d2"})),
        record(json!({"id": "j3", "title": "Intern", "status": "Closed", "departmentId": null})),
        record(json!({"id": "j4", "title": "Orphan", "status": "Open", "departmentId": "d9"})),
        record(json!({"id": "j5", "title": "Numbered", "status": "Draft", "departmentId": "7"})),
    ];
    let departments = vec![
        record(json!({"id": "d1", "name": "Eng"})),
        record(json!({"id": "d2", "name": "Sales"})),
        record(json!({"id": "d2", "name": "Sales (copy)"})),
        record(json!({"id": null, "name": "Ghost"})),
        record(json!({"id": 7, "name": "Seven"})),
        record(json!({"id": "d5", "name": "Unused"})),
    ];
    let inputs = MemoryInputs {
        records: HashMap::from([
            (EntityRef::new("ashby", "jobs"), jobs),
            (EntityRef::new("ashby", "departments"), departments),
        ]),
        replica: None,
    };
    (entities, inputs)
}

/// The join the slow, obvious way: every pair, ids compared as text, nulls matching nothing.
fn nested_loop_join(left: &[Record], right: &[Record], inner: bool) -> Vec<(String, Value)> {
    let text = |value: &Value| match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    };
    let mut rows = Vec::new();
    for job in left {
        let key = job.get("departmentId").and_then(text);
        let matches: Vec<&Record> = right
            .iter()
            .filter(|department| key.is_some() && department.get("id").and_then(text) == key)
            .collect();
        for department in &matches {
            rows.push((job["id"].as_str().unwrap().to_string(), department["name"].clone()));
        }
        if matches.is_empty() && !inner {
            rows.push((job["id"].as_str().unwrap().to_string(), Value::Null));
        }
    }
    rows
}

#[test]
fn left_and_inner_joins_keep_unmatched_rows_multiply_duplicates_and_match_no_nulls() {
    let (entities, inputs) = jobs_and_departments();
    let plans = plans(
        r#"
[datasets.with_departments]
from = "ashby.jobs"
join = [{ with = "ashby.departments", on = { departmentId = "id" }, prefix = "department_" }]

[datasets.only_matched]
from = "jobs"
join = [{ with = "departments", on = { departmentId = "id" }, kind = "inner" }]
"#,
        &entities,
        false,
    );
    let jobs = &inputs.records[&EntityRef::new("ashby", "jobs")];
    let departments = &inputs.records[&EntityRef::new("ashby", "departments")];

    let (descriptor, rows) = run(&plans, "with_departments", &inputs);
    let got: Vec<(String, Value)> = rows
        .iter()
        .map(|row| (row["id"].as_str().unwrap().to_string(), row["department_name"].clone()))
        .collect();
    assert_eq!(got, nested_loop_join(jobs, departments, false));
    assert_eq!(
        got,
        [
            ("j1".to_string(), json!("Eng")),
            ("j2".into(), json!("Sales")),
            ("j2".into(), json!("Sales (copy)")),
            ("j3".into(), Value::Null),
            ("j4".into(), Value::Null),
            ("j5".into(), json!("Seven")),
        ]
    );
    assert_eq!(rows[1]["title"], json!("Seller"), "left columns ride along on every copy");
    assert_eq!(rows[2]["title"], json!("Seller"));
    let names: Vec<String> =
        Projection::new(&descriptor.schema).columns().iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        ["id", "title", "status", "departmentId", "createdAt", "department_id", "department_name"]
    );
    assert_eq!(descriptor.primary_key, None, "duplicate right keys make `id` repeat");
    assert_eq!(descriptor.rows, Some(6));

    let (descriptor, rows) = run(&plans, "only_matched", &inputs);
    let got: Vec<(String, Value)> = rows
        .iter()
        .map(|row| (row["id"].as_str().unwrap().to_string(), row["departments_name"].clone()))
        .collect();
    assert_eq!(got, nested_loop_join(jobs, departments, true));
    assert_eq!(got.len(), 4);
    assert!(descriptor.schema.field("departments_name").is_some(), "default prefix");
}

#[test]
fn a_join_on_the_right_sides_primary_key_keeps_the_left_key() {
    let (entities, _) = jobs_and_departments();
    let plans = plans(
        "[datasets.x]\nfrom = \"ashby.departments\"\n\
         join = [{ with = \"ashby.jobs\", on = { id = \"departmentId\" } }]\n\
         [datasets.y]\nfrom = \"ashby.jobs\"\n\
         join = [{ with = \"ashby.departments\", on = { departmentId = \"id\" } }]\n",
        &entities,
        false,
    );
    // Planning cannot know that departments' ids repeat in this test's data; it trusts the
    // declared primary key, so only a join on the right side's key keeps the left one.
    assert_eq!(plans.get("x").unwrap().primary_key, None);
    assert_eq!(plans.get("y").unwrap().primary_key.as_deref(), Some("id"));
    assert_eq!(
        plans.get("y").unwrap().inputs,
        [EntityRef::new("ashby", "departments"), EntityRef::new("ashby", "jobs")]
    );
}

// Append ---------------------------------------------------------------------------------------

#[test]
fn append_unions_two_sources_by_column_name_with_a_source_column() {
    let entities = vec![
        entity(
            "org_a",
            "candidates",
            "org_a_candidates",
            vec![
                field("id", DataType::String),
                field("name", DataType::String),
                field("email", DataType::String).contact(),
            ],
        ),
        entity(
            "org_b",
            "candidates",
            "org_b_candidates",
            vec![
                field("id", DataType::String),
                field("name", DataType::String),
                field("score", DataType::Integer),
                field("location", DataType::Object(vec![field("city", DataType::String)])),
            ],
        ),
    ];
    let org_a = vec![
        record(json!({"id": "a1", "name": "Ada", "email": "ada@a.test"})),
        record(json!({"id": "a2", "name": "Al", "email": null})),
    ];
    let org_b =
        vec![record(json!({"id": "b1", "name": "Bo", "score": 4, "location": {"city": "Oslo"}}))];
    let inputs = MemoryInputs {
        records: HashMap::from([
            (EntityRef::new("org_a", "candidates"), org_a.clone()),
            (EntityRef::new("org_b", "candidates"), org_b.clone()),
        ]),
        replica: None,
    };
    let plans = plans(
        "[datasets.all_candidates]\nappend = [\"org_a.candidates\", \"org_b_candidates\"]\n",
        &entities,
        true,
    );

    let (descriptor, rows) = run(&plans, "all_candidates", &inputs);

    let projection = Projection::new(&descriptor.schema);
    let names: Vec<&str> = projection.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["_source", "id", "name", "email", "score", "location.city"]);
    assert!(projection.columns()[3].contact_details, "tags survive the union");
    let expected: Vec<(&str, &Record)> =
        org_a.iter().map(|r| ("org_a", r)).chain(org_b.iter().map(|r| ("org_b", r))).collect();
    assert_eq!(rows.len(), expected.len());
    for (row, (source, original)) in rows.iter().zip(expected) {
        assert_eq!(row["_source"], json!(source));
        for column in ["id", "name", "email", "score", "location.city"] {
            assert_eq!(at(row, column), at(original, column), "{column} of {original:?}");
        }
    }
    assert_eq!(at(&rows[2], "email"), &Value::Null, "a column org_b lacks stays empty");
    assert_eq!(at(&rows[0], "score"), &Value::Null);
    assert_eq!(descriptor.primary_key, None);
}

// Filter, select, rename, sort -----------------------------------------------------------------

fn scored() -> (Vec<EntityInput>, MemoryInputs) {
    let entities = vec![entity(
        "ashby",
        "applications",
        "applications",
        vec![
            field("id", DataType::String),
            field("status", DataType::String),
            field("score", DataType::Integer),
            field("createdAt", DataType::Timestamp),
            field(
                "job",
                DataType::Object(vec![
                    field("id", DataType::String),
                    field("title", DataType::String),
                ]),
            ),
        ],
    )];
    let rows = vec![
        record(
            json!({"id": "a", "status": "Active", "score": 3, "createdAt": "2024-03-01T10:00:00Z", "job": {"id": "j1", "title": "Eng"}}),
        ),
        record(
            json!({"id": "b", "status": "Hired", "score": null, "createdAt": "2024-01-15T00:00:00.000Z", "job": {"id": "j2", "title": "Ops"}}),
        ),
        record(
            json!({"id": "c", "status": "Archived", "score": 7, "createdAt": "2023-12-24T08:30:00Z", "job": null}),
        ),
        record(
            json!({"id": "d", "status": "Active", "score": 3, "createdAt": "2024-02-01T00:00:00+01:00", "job": {"id": "j1", "title": "Eng"}}),
        ),
        record(
            json!({"id": "e", "status": "Lead", "createdAt": "2024-02-10T12:00:00Z", "job": {"id": "j3", "title": "Design"}}),
        ),
        record(
            json!({"id": "f", "status": "Active", "score": 7, "job": {"id": "j3", "title": "Design"}}),
        ),
    ];
    let inputs = MemoryInputs {
        records: HashMap::from([(EntityRef::new("ashby", "applications"), rows)]),
        replica: None,
    };
    (entities, inputs)
}

fn ids(rows: &[Record], key: &str) -> Vec<String> {
    rows.iter().map(|row| row[key].as_str().unwrap_or("?").to_string()).collect()
}

#[test]
fn filters_combine_and_or_not_parentheses_nulls_lists_and_times() {
    let (entities, inputs) = scored();
    let cases = [
        ("status = 'Active' and score > 3", vec!["f"]),
        ("status = 'Active' or (score is null and status != 'Lead')", vec!["a", "b", "d", "f"]),
        ("not (status in ('Active', 'Lead'))", vec!["b", "c"]),
        ("score not in (3, 7)", vec![]),
        ("job.title is null or job.title = 'Ops'", vec!["b", "c"]),
        ("createdAt >= '2024-01-15' and createdAt < '2024-02-01T00:00:00Z'", vec!["b", "d"]),
        ("createdAt is null", vec!["f"]),
    ];
    for (filter, expected) in cases {
        let toml = format!("[datasets.f]\nfrom = \"ashby.applications\"\nfilter = \"{filter}\"\n");
        let plans = plans(&toml, &entities, false);
        let (_, rows) = run(&plans, "f", &inputs);
        assert_eq!(ids(&rows, "id"), expected, "{filter}");
    }
}

#[test]
fn select_rename_and_sort_shape_the_rows_with_stable_ties_and_nulls_last() {
    let (entities, inputs) = scored();
    let plans = plans(
        r#"
[datasets.shaped]
from = "ashby.applications"
filter = "status != 'Archived'"
select = ["id", "job.title", "score", "createdAt"]
rename = { id = "application", "job.title" = "job" }
sort = ["score desc", "createdAt"]
"#,
        &entities,
        false,
    );

    let (descriptor, rows) = run(&plans, "shaped", &inputs);

    let names: Vec<&str> = descriptor.schema.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["application", "job", "score", "createdAt"]);
    assert_eq!(descriptor.primary_key.as_deref(), Some("application"));
    // By hand: score 7 (f), then the two 3s by time (d is 2024-01-31T23:00Z, before a), then
    // the two without a score (b, e) by time: empty values last, whatever the direction.
    assert_eq!(ids(&rows, "application"), ["f", "d", "a", "b", "e"]);
    assert_eq!(
        rows[0],
        record(json!({"application": "f", "job": "Design", "score": 7, "createdAt": null}))
    );
    assert_eq!(rows[1]["job"], json!("Eng"));

    let ascending = plans_with_sort(&entities, "[\"score\"]");
    let (_, rows) = run(&ascending, "s", &inputs);
    assert_eq!(ids(&rows, "id"), ["a", "d", "c", "f", "b", "e"], "ties keep their order");
}

fn plans_with_sort(entities: &[EntityInput], sort: &str) -> DatasetPlans {
    plans(&format!("[datasets.s]\nfrom = \"ashby.applications\"\nsort = {sort}\n"), entities, false)
}

// SQL ------------------------------------------------------------------------------------------

/// Per status, computed by hand: rows, sum of scores, the scores, the largest job title.
type StatusTotals = (i64, Option<i64>, Vec<i64>, Option<String>);

/// Writes `entities` into a SQLite file laid out as the replica: one table per entity named
/// `"<source>.<entity>"`, the record in `_json`, and a virtual column per projected column.
fn write_replica(path: &Path, entities: &[(EntityInput, Vec<Record>)]) {
    let connection = rusqlite::Connection::open(path).unwrap();
    for (input, records) in entities {
        let table = format!("\"{}.{}\"", input.entity.source, input.entity.entity);
        let mut columns = vec![
            "_id TEXT PRIMARY KEY".to_string(),
            "_created_ms INTEGER".into(),
            "_json TEXT NOT NULL".into(),
            "_seen_run INTEGER NOT NULL".into(),
        ];
        for column in Projection::new(&input.stream.schema).columns() {
            let json_path: String = column.path.iter().map(|name| format!(".\"{name}\"")).collect();
            columns.push(format!(
                "\"{}\" GENERATED ALWAYS AS (json_extract(_json, '${json_path}')) VIRTUAL",
                column.name
            ));
        }
        connection
            .execute_batch(&format!("CREATE TABLE {table} ({})", columns.join(", ")))
            .unwrap();
        for record in records {
            connection
                .execute(
                    &format!("INSERT INTO {table} (_id, _json, _seen_run) VALUES (?1, ?2, 1)"),
                    rusqlite::params![
                        record["id"].as_str().unwrap(),
                        Value::Object(record.clone()).to_string()
                    ],
                )
                .unwrap();
        }
    }
}

#[test]
fn sql_datasets_aggregate_the_replica_through_views_named_after_datasets() {
    let (entities, inputs) = scored();
    let folder = tempfile::tempdir().unwrap();
    let replica = folder.path().join("spec.sqlite");
    let applications = inputs.records[&EntityRef::new("ashby", "applications")].clone();
    write_replica(&replica, &[(entities[0].clone(), applications.clone())]);
    let inputs = MemoryInputs { replica: Some(replica.clone()), ..inputs };
    let plans = plans(
        r#"
[datasets.per_status]
sql = """
SELECT status, count(*) AS applications, sum(score) AS points, avg(score) AS mean, max("job.title") AS last_job
FROM applications GROUP BY status ORDER BY status
"""
"#,
        &entities,
        false,
    );
    assert_eq!(plans.get("per_status").unwrap().inputs, [EntityRef::new("ashby", "applications")]);

    let (descriptor, rows) = run(&plans, "per_status", &inputs);

    // The same aggregates, by hand from the records.
    let mut expected: std::collections::BTreeMap<String, StatusTotals> = Default::default();
    for record in &applications {
        let entry = expected.entry(record["status"].as_str().unwrap().to_string()).or_default();
        entry.0 += 1;
        if let Some(score) = record.get("score").and_then(Value::as_i64) {
            entry.1 = Some(entry.1.unwrap_or(0) + score);
            entry.2.push(score);
        }
        if let Some(title) =
            record.get("job").and_then(|job| job.get("title")).and_then(Value::as_str)
        {
            entry.3 = entry.3.take().max(Some(title.to_string()));
        }
    }
    assert_eq!(rows.len(), expected.len());
    for (row, (status, (count, sum, scores, last_job))) in rows.iter().zip(&expected) {
        assert_eq!(row["status"], json!(status));
        assert_eq!(row["applications"], json!(count));
        assert_eq!(row["points"], sum.map_or(Value::Null, |sum| json!(sum)));
        let mean =
            (!scores.is_empty()).then(|| scores.iter().sum::<i64>() as f64 / scores.len() as f64);
        assert_eq!(row["mean"].as_f64(), mean, "{status}");
        assert_eq!(row["last_job"], last_job.clone().map_or(Value::Null, Value::String));
    }
    let types: Vec<String> = descriptor.schema.fields.iter().map(|f| f.data_type.name()).collect();
    assert_eq!(types, ["string", "integer", "integer", "number", "string"]);
}

#[test]
fn sql_that_writes_is_refused_before_and_while_running() {
    let (entities, _) = scored();
    for query in [
        "INSERT INTO applications (_id, _json, _seen_run) VALUES ('x', '{}', 1)",
        "UPDATE applications SET _json = '{}'",
        "DELETE FROM applications",
        "DROP TABLE applications",
        "ATTACH DATABASE 'other.db' AS other",
        "PRAGMA query_only = OFF",
        "WITH gone AS (SELECT 1) DELETE FROM applications",
        "SELECT load_extension('/tmp/evil')",
    ] {
        let toml = format!("[datasets.bad]\nsql = \"{query}\"\n");
        let root = DeTable::parse(&toml).unwrap().into_inner();
        let (key, value) = root.iter().next().unwrap();
        let (definitions, problems) = parse_definitions(value, key.span().start, &toml);
        assert!(problems.is_empty());
        let (_, problems) = plan_datasets(&definitions, &entities, false);
        assert_eq!(problems.len(), 1, "{query}: {problems:?}");
        assert!(problems[0].message.contains("only read-only queries"), "{query}: {problems:?}");
    }

    // Past the check (a plan made by hand), the run still refuses, on a read-only connection.
    let folder = tempfile::tempdir().unwrap();
    let replica = folder.path().join("spec.sqlite");
    write_replica(&replica, &[(entities[0].clone(), Vec::new())]);
    let inputs = MemoryInputs { records: HashMap::new(), replica: Some(replica) };
    let query = "WITH gone AS (SELECT 1) DELETE FROM \"ashby.applications\"";
    let plan = sql::SqlPlan {
        query: definition::LocatedText { text: query.into(), offset: 0, content: None },
        views: vec![("applications".into(), EntityRef::new("ashby", "applications"))],
        columns: Vec::new(),
        reads: Vec::new(),
    };
    let connection = inputs.sql_connection().unwrap();
    let error = sql::run(&plan, &connection, "bad").unwrap_err().to_string();
    assert!(error.contains("refused because SQLite reports that it writes"), "{error}");
    let plan = sql::SqlPlan {
        query: definition::LocatedText {
            text: "DROP TABLE \"ashby.applications\"".into(),
            ..plan.query.clone()
        },
        ..plan
    };
    let error = sql::run(&plan, &connection, "bad").unwrap_err().to_string();
    assert!(error.contains("refused because it starts with DROP"), "{error}");
}

// Pivot ----------------------------------------------------------------------------------------

#[test]
fn pivoted_custom_fields_are_typed_columns_that_later_steps_can_use() {
    let entities = vec![
        entity(
            "ashby",
            "candidates",
            "candidates",
            vec![
                field("id", DataType::String),
                field("name", DataType::String),
                field("customFields", DataType::Array(Box::new(DataType::Json))),
            ],
        ),
        entity(
            "ashby",
            "custom_fields",
            "custom_fields",
            vec![
                field("id", DataType::String),
                field("title", DataType::String),
                field("objectType", DataType::String),
                field("fieldType", DataType::String),
            ],
        ),
    ];
    let definitions = vec![
        record(
            json!({"id": "f1", "title": "Years of experience", "objectType": "Candidate", "fieldType": "Number"}),
        ),
        record(
            json!({"id": "f2", "title": "Visa", "objectType": "Candidate", "fieldType": "Boolean"}),
        ),
        record(
            json!({"id": "f3", "title": "Visa", "objectType": "Candidate", "fieldType": "String"}),
        ),
        record(
            json!({"id": "f4", "title": "Empty", "objectType": "Candidate", "fieldType": "Date"}),
        ),
        record(
            json!({"id": "f5", "title": "Cost center", "objectType": "Job", "fieldType": "String"}),
        ),
    ];
    let candidates = vec![
        record(json!({"id": "c1", "name": "Ada", "customFields": [
            {"id": "f1", "title": "Years of experience", "value": 12},
            {"id": "f2", "title": "Visa", "value": true},
            {"id": "f3", "title": "Visa", "value": "H-1B"}]})),
        record(json!({"id": "c2", "name": "Bo", "customFields": [
            {"id": "f1", "title": "Years of experience", "value": 2.5}]})),
        record(json!({"id": "c3", "name": "Cy"})),
    ];
    let inputs = MemoryInputs {
        records: HashMap::from([
            (EntityRef::new("ashby", "candidates"), candidates),
            (EntityRef::new("ashby", "custom_fields"), definitions),
        ]),
        replica: None,
    };
    let plans = plans(
        r#"
[datasets.experienced]
from = "ashby.candidates"
pivot_custom_fields = true
filter = "\"Years of experience\" > 2"
select = ["id", "Years of experience", "Visa", "Visa (2)", "Empty"]
sort = ["Years of experience desc"]

[datasets.wrong]
from = "ashby.candidates"
pivot_custom_fields = true
select = ["id", "Years of experiense"]
"#,
        &entities,
        false,
    );
    let plan = plans.get("experienced").unwrap();
    assert!(plan.columns_at_run_time);
    assert_eq!(
        plan.inputs,
        [EntityRef::new("ashby", "candidates"), EntityRef::new("ashby", "custom_fields")]
    );

    let (descriptor, rows) = run(&plans, "experienced", &inputs);

    let types: Vec<(String, String)> =
        descriptor.schema.fields.iter().map(|f| (f.name.clone(), f.data_type.name())).collect();
    assert_eq!(
        types,
        [
            ("id".to_string(), "string".to_string()),
            ("Years of experience".into(), "number".into()),
            ("Visa".into(), "boolean".into()),
            ("Visa (2)".into(), "string".into()),
            ("Empty".into(), "date".into()),
        ]
    );
    assert_eq!(ids(&rows, "id"), ["c1", "c2"]);
    assert_eq!(rows[0]["Visa (2)"], json!("H-1B"));
    assert_eq!(rows[1]["Visa"], Value::Null);
    assert!(rows.iter().all(|row| row["Empty"].is_null()));

    let error = materialize(plans.get("wrong").unwrap(), &inputs).unwrap_err().to_string();
    assert!(
        error.contains("no column `Years of experiense`; did you mean `Years of experience`?"),
        "{error}"
    );
}

// Pipeline -------------------------------------------------------------------------------------

fn pipeline_entities() -> Vec<EntityInput> {
    let ashby = |name: &str, fields: Vec<Field>| entity("ashby", name, name, fields);
    let object = |name: &str, fields: Vec<Field>| field(name, DataType::Object(fields));
    let string = |name: &str| field(name, DataType::String);
    vec![
        ashby(
            "applications",
            vec![
                string("id"),
                field("createdAt", DataType::Timestamp),
                field("updatedAt", DataType::Timestamp),
                string("status"),
                object(
                    "candidate",
                    vec![
                        string("id"),
                        string("name"),
                        object("primaryEmailAddress", vec![string("value").contact()]),
                    ],
                ),
                object("currentInterviewStage", vec![string("title"), string("type")]),
                object("source", vec![string("title")]),
                object("archiveReason", vec![string("text")]),
                field("archivedAt", DataType::Timestamp),
                object("job", vec![string("id"), string("title")]),
                object("creditedToUser", vec![string("firstName"), string("lastName")]),
            ],
        ),
        ashby(
            "jobs",
            vec![
                string("id"),
                string("title"),
                string("status"),
                string("locationId"),
                string("departmentId"),
            ],
        ),
        ashby("departments", vec![string("id"), string("name")]),
        ashby("locations", vec![string("id"), string("name")]),
    ]
}

#[test]
fn the_pipeline_puts_names_behind_ids_and_leaves_missing_ones_empty() {
    let applications = vec![
        record(json!({"id": "a1", "status": "Active", "createdAt": "2024-01-01T00:00:00Z",
            "candidate": {"id": "c1", "name": "Ada", "primaryEmailAddress": {"value": "ada@x.test"}},
            "currentInterviewStage": {"title": "Onsite", "type": "Active"},
            "source": {"title": "Referral"}, "archiveReason": null,
            "job": {"id": "j1", "title": "Old title"},
            "creditedToUser": {"firstName": "Rita", "lastName": "Cruz"}})),
        record(json!({"id": "a2", "status": "Archived", "archivedAt": "2024-02-01T00:00:00Z",
            "candidate": {"id": "c2", "name": "Bo"}, "archiveReason": {"text": "Too junior"},
            "job": {"id": "j2"}, "creditedToUser": null})),
        record(json!({"id": "a3", "status": "Lead", "candidate": {"id": "c3", "name": "Cy"},
            "job": {"id": "j404"}})),
    ];
    let inputs = MemoryInputs {
        records: HashMap::from([
            (EntityRef::new("ashby", "applications"), applications),
            (
                EntityRef::new("ashby", "jobs"),
                vec![
                    record(
                        json!({"id": "j1", "title": "Engineer", "status": "Open", "departmentId": "d1", "locationId": "l1"}),
                    ),
                    record(
                        json!({"id": "j2", "title": "Analyst", "status": "Closed", "departmentId": "d-gone", "locationId": "l1"}),
                    ),
                ],
            ),
            (
                EntityRef::new("ashby", "departments"),
                vec![record(json!({"id": "d1", "name": "Engineering"}))],
            ),
            (
                EntityRef::new("ashby", "locations"),
                vec![record(json!({"id": "l1", "name": "Lisbon"}))],
            ),
        ]),
        replica: None,
    };
    let (plans, problems) = plan_datasets(&[], &pipeline_entities(), false);
    assert!(problems.is_empty(), "{problems:?}");

    let (descriptor, rows) = run(&plans, "pipeline", &inputs);

    let names: Vec<&str> = descriptor.schema.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "application_id",
            "application_status",
            "candidate_id",
            "candidate_name",
            "candidate_email",
            "job_id",
            "job_title",
            "job_status",
            "department",
            "location",
            "stage",
            "stage_type",
            "source",
            "archive_reason",
            "credited_user_first_name",
            "credited_user_last_name",
            "created_at",
            "updated_at",
            "archived_at"
        ]
    );
    assert!(descriptor.schema.field("candidate_email").unwrap().contact_details);
    assert_eq!(descriptor.primary_key.as_deref(), Some("application_id"));
    let cells = |row: &Record, keys: &[&str]| -> Vec<Value> {
        keys.iter().map(|key| row.get(*key).cloned().unwrap_or(Value::Null)).collect()
    };
    let keys = [
        "application_id",
        "job_title",
        "job_status",
        "department",
        "location",
        "stage",
        "source",
        "archive_reason",
        "credited_user_last_name",
        "candidate_email",
    ];
    assert_eq!(
        cells(&rows[0], &keys),
        [
            json!("a1"),
            json!("Engineer"),
            json!("Open"),
            json!("Engineering"),
            json!("Lisbon"),
            json!("Onsite"),
            json!("Referral"),
            Value::Null,
            json!("Cruz"),
            json!("ada@x.test")
        ]
    );
    assert_eq!(
        cells(&rows[1], &keys),
        [
            json!("a2"),
            json!("Analyst"),
            json!("Closed"),
            Value::Null,
            json!("Lisbon"),
            Value::Null,
            Value::Null,
            json!("Too junior"),
            Value::Null,
            Value::Null
        ],
        "a department missing from the departments entity leaves the cell empty"
    );
    assert_eq!(
        cells(&rows[2], &keys[..5]),
        [json!("a3"), Value::Null, Value::Null, Value::Null, Value::Null]
    );
}

#[test]
fn with_several_sources_each_gets_its_own_pipeline_and_missing_entities_say_why() {
    let mut entities = pipeline_entities();
    for entity in &mut entities {
        entity.dataset = format!("eu_{}", entity.entity.entity);
        entity.entity.source = "eu".into();
    }
    let mut us = pipeline_entities();
    us.retain(|entity| entity.entity.entity != "locations");
    for entity in &mut us {
        entity.dataset = format!("us_{}", entity.entity.entity);
        entity.entity.source = "us".into();
    }
    entities.extend(us);
    let (plans, problems) = plan_datasets(&[], &entities, true);
    assert!(problems.is_empty());
    assert!(plans.get("eu_pipeline").is_some());
    assert!(plans.get("pipeline").is_none());
    let requested =
        definition::Located::new(vec![definition::Located::new("us_pipeline".to_string(), 7)], 5);
    let (selected, problems) = plans.select_for_sink(Some(&requested), "book");
    assert!(selected.is_empty());
    assert_eq!(problems[0].offset, 7);
    assert!(problems[0].message.contains("does not export locations"), "{problems:?}");
}

// Validation through the spec ------------------------------------------------------------------

fn spec_problems(text: &str) -> Vec<String> {
    parse_spec("spec.toml", Path::new("/specs"), text, &crate::testing::registry())
        .expect_err("the spec is invalid")
        .problems
}

const SOURCE_AND_SINK: &str = "\
[sources.ashby]
type = \"memory\"
streams = [\"jobs\", \"departments\"]

[sinks.book]
type = \"journal\"
journal = \"datasets-spec\"
";

#[test]
fn every_dataset_mistake_is_reported_at_its_line_with_what_would_be_valid() {
    let text = format!(
        "{SOURCE_AND_SINK}datasets = [\"open_jobs\", \"pipline\", \"ashby.jobs\"]

[datasets.open_jobs]
from = \"ashby.job\"

[datasets.typo]
from = \"ashby.jobs\"
select = [\"id\", \"createdat\"]

[datasets.both]
from = \"ashby.jobs\"
sql = \"SELECT 1\"

[datasets.a]
from = \"b\"

[datasets.b]
from = \"a\"

[datasets.filtered]
from = \"jobs\"
filter = \"id = 'x' and (createdAt > '2024-01-01'\"
"
    );
    let problems = spec_problems(&text);
    assert_eq!(problems.len(), 7, "{problems:#?}");
    assert!(
        problems[0].starts_with("spec.toml:8:26: [sinks.book] `datasets`: no dataset `pipline`"),
        "{problems:#?}"
    );
    assert!(
        problems[0].contains(
            "Datasets: `a`, `b`, `both`, `departments`, `filtered`, `jobs`, `open_jobs`, `typo`"
        ),
        "{}",
        problems[0]
    );
    assert!(problems[1].starts_with("spec.toml:8:37: [sinks.book] `datasets`: `ashby.jobs` is an entity; its dataset is called `jobs`"), "{problems:#?}");
    assert!(problems[2].starts_with("spec.toml:11:8: [datasets.open_jobs] `from`: no entity or dataset `ashby.job`; did you mean `ashby.jobs`? Entities: `ashby.jobs`, `ashby.departments`"), "{problems:#?}");
    assert!(problems[3].starts_with("spec.toml:15:17: [datasets.typo] `select`: no column `createdat`; did you mean `createdAt`? Columns: `id`, `createdAt`"), "{problems:#?}");
    assert!(problems[4].starts_with("spec.toml:19:1: [datasets.both] has `from` and `sql`; a dataset takes its rows from exactly one of"), "{problems:#?}");
    assert_eq!(
        problems[5],
        "spec.toml:25:8: [datasets.b] `from`: datasets refer to each other in a cycle (a -> b -> a); a dataset cannot be made from itself"
    );
    assert!(problems[6].starts_with("spec.toml:29:49: [datasets.filtered] `filter`: expected `)` to close the `(` at character 14"), "{problems:#?}");
    assert!(problems[6].ends_with("(at character 39 of the filter)"), "{problems:#?}");
}

#[test]
fn a_valid_spec_plans_its_datasets_and_each_sinks_selection() {
    let text = format!(
        "{SOURCE_AND_SINK}datasets = [\"named\", \"jobs\"]

[sinks.other]
type = \"journal\"
journal = \"datasets-spec-2\"

[datasets.named]
from = \"ashby.jobs\"
join = [{{ with = \"ashby.departments\", on = {{ id = \"id\" }}, kind = \"inner\" }}]
select = [\"id\", \"departments_createdAt\"]
rename = {{ departments_createdAt = \"department_created\" }}
"
    );
    let spec = parse_spec("spec.toml", Path::new("/specs"), &text, &crate::testing::registry())
        .expect("valid");
    let book = spec.sinks.iter().find(|sink| sink.name == "book").unwrap();
    assert_eq!(book.datasets, ["named", "jobs"]);
    let other = spec.sinks.iter().find(|sink| sink.name == "other").unwrap();
    assert_eq!(other.datasets, ["departments", "jobs"], "by default one dataset per entity");
    let checked = spec.checked();
    let text = checked.render();
    assert!(text.contains("Datasets:\n  named: from ashby.jobs; inner join ashby.departments\n    2 columns; reads ashby.departments, ashby.jobs\n"), "{text}");
    assert!(text.contains("  book (type journal): named, jobs\n"), "{text}");
    assert!(text.contains("would read 2 streams and write 3 datasets to 2 sinks"), "{text}");
}

// Against the fake's generated account ---------------------------------------------------------

#[tokio::test]
async fn the_pipeline_over_the_fakes_data_names_what_its_records_say() {
    let fake = ashflow_fake_ashby::FakeAshby::start(ashflow_fake_ashby::FakeConfig {
        candidates: 400,
        ..Default::default()
    })
    .await
    .unwrap();
    let spec_text = format!(
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"${{ASHFLOW_UNUSED_KEY}}\"\nbase_url = \"{}\"\n\
         [sinks.book]\ntype = \"ai_json\"\npath = \"out\"\ndatasets = [\"pipeline\", \"hired\"]\n\
         [datasets.hired]\nfrom = \"candidates\"\npivot_custom_fields = true\n\
         join = [{{ with = \"pipeline\", on = {{ id = \"candidate_id\" }}, kind = \"inner\", prefix = \"p_\" }}]\n\
         filter = \"p_application_status = 'Hired'\"\nselect = [\"id\", \"name\", \"p_job_title\", \"Seniority\"]\n",
        fake.base_url()
    );
    let spec = parse_spec("spec.toml", Path::new("/specs"), &spec_text, &crate::Registry::linked())
        .unwrap_or_else(|error| panic!("{error}"));
    let mut records = HashMap::new();
    for (entity, _, _) in ashflow_fake_ashby::ENTITIES {
        let mut rows: Vec<Record> = fake.records(entity).into_iter().map(record).collect();
        let created = |row: &Record| {
            row.get("createdAt")
                .and_then(Value::as_str)
                .and_then(ashflow_core::time::timestamp_millis)
                .unwrap_or(i64::MAX)
        };
        rows.sort_by(|a, b| {
            created(a).cmp(&created(b)).then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
        });
        records.insert(EntityRef::new("ashby", entity), rows);
    }
    let inputs = MemoryInputs { records, replica: None };
    fake.shutdown().await;

    let (descriptor, rows) =
        materialize(spec.dataset_plans.get("pipeline").unwrap(), &inputs).unwrap();

    let by_id = |entity: &str| -> HashMap<String, Record> {
        inputs.records[&EntityRef::new("ashby", entity)]
            .iter()
            .map(|row| (row["id"].as_str().unwrap().to_string(), row.clone()))
            .collect()
    };
    let (jobs, departments, locations) = (by_id("jobs"), by_id("departments"), by_id("locations"));
    let applications = &inputs.records[&EntityRef::new("ashby", "applications")];
    assert_eq!(rows.len(), applications.len(), "one row per application");
    assert_eq!(descriptor.rows, Some(applications.len() as u64));
    let name_of = |table: &HashMap<String, Record>, id: Option<&Value>| {
        id.and_then(Value::as_str)
            .and_then(|id| table.get(id))
            .map_or(Value::Null, |row| row["name"].clone())
    };
    let mut departments_named = 0;
    for (row, application) in rows.iter().zip(applications) {
        assert_eq!(row["application_id"], application["id"]);
        assert_eq!(row["candidate_name"], application["candidate"]["name"]);
        let job = application["job"]["id"].as_str().and_then(|id| jobs.get(id));
        assert_eq!(row["job_title"], job.map_or(Value::Null, |job| job["title"].clone()));
        assert_eq!(
            row["department"],
            name_of(&departments, job.and_then(|job| job.get("departmentId")))
        );
        assert_eq!(row["location"], name_of(&locations, job.and_then(|job| job.get("locationId"))));
        assert_eq!(row["stage"], *at(application, "currentInterviewStage.title"));
        assert_eq!(row["archive_reason"], *at(application, "archiveReason.text"));
        assert_eq!(row["credited_user_last_name"], *at(application, "creditedToUser.lastName"));
        departments_named += usize::from(row["department"].is_string());
    }
    assert!(departments_named > applications.len() / 2, "most jobs have a known department");

    let (_, hired) = materialize(spec.dataset_plans.get("hired").unwrap(), &inputs).unwrap();
    let hired_applications =
        applications.iter().filter(|application| application["status"] == "Hired").count();
    assert_eq!(hired.len(), hired_applications);
    assert!(hired.iter().any(|row| row["Seniority"].is_string()), "custom fields pivoted");
}
