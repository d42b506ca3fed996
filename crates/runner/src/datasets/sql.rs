//! `sql` datasets: one read-only SQLite query over the replica.
//!
//! The replica holds one table per entity and source, named `"<source>.<entity>"`, with the
//! record's JSON in `_json` and a generated column per projected column (`status`,
//! `candidate.name`). A query names entities by their dataset names instead (`applications`
//! with one source, `<source>_applications` with several): before it runs, each is created as
//! a temporary view over its table, so queries never depend on how the replica is laid out.
//!
//! A query may only read. It is refused when it does not start with `SELECT`, `WITH` or
//! `VALUES`, when SQLite says the prepared statement would write, or when it holds more than one
//! statement; and it runs on a connection the replica opened read-only, with
//! `PRAGMA query_only` set after the views are made. At `ashflow check`, the query is prepared
//! against empty tables of the same names and columns, which finds syntax errors, unknown
//! tables and columns, writes, and the entities it reads, all before anything is fetched.
//!
//! The result's schema comes from its values: INTEGER columns are integers, REAL numbers and
//! TEXT strings (times stay text, as SQLite holds them); a column holding only NULLs is a
//! string column, and one holding integers and reals is a number column.

use std::collections::BTreeSet;

use ashflow_core::{DataType, Field, Projection, Record, Schema};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Statement};
use serde_json::{Number, Value};

use crate::datasets::definition::LocatedText;
use crate::datasets::{EntityInput, EntityRef, Problem};
use crate::error::RunnerError;

/// A checked query and what it needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SqlPlan {
    /// The query as written.
    pub(crate) query: LocatedText,
    /// The temporary views to create: (view name, the entity it shows).
    pub(crate) views: Vec<(String, EntityRef)>,
    /// The result's column names, in order.
    pub(crate) columns: Vec<String>,
    /// The entities the query reads.
    pub(crate) reads: Vec<EntityRef>,
}

/// Quotes `name` as an SQLite identifier.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The columns every replica table has besides the projected ones.
const BOOKKEEPING_COLUMNS: &str = "\"_id\" TEXT PRIMARY KEY, \"_created_ms\" INTEGER, \"_json\" TEXT NOT NULL, \
     \"_seen_run\" INTEGER NOT NULL";

/// Checks `query` offline against empty tables shaped like the replica's views of `entities`.
pub(crate) fn check(
    query: &LocatedText,
    entities: &[EntityInput],
    label: &str,
) -> Result<SqlPlan, Vec<Problem>> {
    let problem = |position: Option<usize>, message: String| {
        let offset = position.map_or(query.offset, |position| query.offset_of(position));
        vec![Problem::new(offset, format!("{label} `sql`: {message}"))]
    };
    if let Err((position, message)) = first_keyword_reads(&query.text) {
        return Err(problem(Some(position), message));
    }
    // The bundled SQLite refuses extensions at run time anyway; saying so here keeps the
    // mistake in `check`, where every other problem of the spec is reported.
    if let Some(position) = query.text.to_ascii_lowercase().find("load_extension") {
        return Err(problem(
            Some(position),
            refusal("it calls load_extension, and SQLite extensions are not available"),
        ));
    }
    let connection = Connection::open_in_memory().map_err(|error| {
        problem(None, format!("cannot open an in-memory database to check the query: {error}"))
    })?;
    for entity in entities {
        let columns: Vec<String> = Projection::new(&entity.stream.schema)
            .columns()
            .iter()
            .map(|column| quote_identifier(&column.name))
            .collect();
        let mut definition =
            format!("CREATE TABLE {} ({BOOKKEEPING_COLUMNS}", quote_identifier(&entity.dataset));
        for column in columns {
            definition.push_str(", ");
            definition.push_str(&column);
        }
        definition.push(')');
        connection
            .execute_batch(&definition)
            .map_err(|error| problem(None, format!("cannot lay out {}: {error}", entity.entity)))?;
    }
    connection
        .execute_batch("PRAGMA query_only = ON")
        .map_err(|error| problem(None, error.to_string()))?;

    let statement = connection.prepare(&query.text).map_err(|error| {
        let (position, message) = describe_prepare_error(&error, entities);
        problem(position, message)
    })?;
    if !statement.readonly() {
        return Err(problem(Some(0), refusal("SQLite reports that it writes")));
    }
    let columns: Vec<String> = statement.column_names().map(str::to_string).collect();
    let mut seen = BTreeSet::new();
    for column in &columns {
        if !seen.insert(column) {
            return Err(problem(
                None,
                format!(
                    "the result has two columns called `{column}`; give one another name with AS"
                ),
            ));
        }
    }
    drop(statement);
    let read_tables = tables_read(&connection, &query.text)
        .map_err(|error| problem(None, format!("cannot tell which entities it reads: {error}")))?;
    let reads = entities
        .iter()
        .filter(|e| read_tables.contains(&e.dataset))
        .map(|e| e.entity.clone())
        .collect();
    let views = entities.iter().map(|e| (e.dataset.clone(), e.entity.clone())).collect();
    Ok(SqlPlan { query: query.clone(), views, columns, reads })
}

/// Refuses anything that does not start as a query: writes, `ATTACH`, `PRAGMA` and the rest
/// are stopped before SQLite sees them, with a message that says why.
fn first_keyword_reads(query: &str) -> Result<(), (usize, String)> {
    let start = skip_comments(query);
    let word: String =
        query[start..].chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>();
    match word.to_ascii_uppercase().as_str() {
        "SELECT" | "WITH" | "VALUES" => Ok(()),
        "" => Err((start, "expected a query starting with SELECT or WITH".into())),
        other => Err((start, refusal(&format!("it starts with {other}")))),
    }
}

fn refusal(reason: &str) -> String {
    format!(
        "only read-only queries (SELECT, or WITH … SELECT) may define a dataset, and this one is \
         refused because {reason}; datasets never change the replica"
    )
}

/// The offset of the first character that is not white space or inside a comment.
fn skip_comments(query: &str) -> usize {
    let mut at = 0;
    loop {
        let rest = &query[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            at += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if trimmed.starts_with("/*") {
            at += trimmed.find("*/").map_or(trimmed.len(), |end| end + 2);
        } else {
            return at;
        }
    }
}

fn describe_prepare_error(
    error: &rusqlite::Error,
    entities: &[EntityInput],
) -> (Option<usize>, String) {
    let tables: Vec<String> = entities.iter().map(|entity| entity.dataset.clone()).collect();
    let tables = super::columns::list_names(&tables, tables.len());
    match error {
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            let position = usize::try_from(*offset).ok();
            (position, format!("{msg} (tables: {tables})"))
        }
        rusqlite::Error::MultipleStatement => {
            (None, "holds more than one statement; a dataset is one query".into())
        }
        rusqlite::Error::SqliteFailure(_, Some(message)) if message.contains("no such table") => {
            (None, format!("{message}; the tables are the dataset names: {tables}"))
        }
        other => (None, other.to_string()),
    }
}

/// The tables a prepared query reads, from the `OpenRead` steps of its program.
fn tables_read(connection: &Connection, query: &str) -> rusqlite::Result<BTreeSet<String>> {
    let mut root_pages = std::collections::HashMap::new();
    let mut schema =
        connection.prepare("SELECT rootpage, name FROM sqlite_schema WHERE type = 'table'")?;
    let mut rows = schema.query([])?;
    while let Some(row) = rows.next()? {
        root_pages.insert(row.get::<_, i64>(0)?, row.get::<_, String>(1)?);
    }
    let mut explain = connection.prepare(&format!("EXPLAIN {query}"))?;
    let mut steps = explain.query([])?;
    let mut read = BTreeSet::new();
    while let Some(step) = steps.next()? {
        let opcode: String = step.get(1)?;
        let database: i64 = step.get(4)?;
        if opcode == "OpenRead"
            && database == 0
            && let Some(table) = root_pages.get(&step.get::<_, i64>(3)?)
        {
            read.insert(table.clone());
        }
    }
    Ok(read)
}

/// Runs a checked query on a read-only `connection` to the replica.
pub(crate) fn run(
    plan: &SqlPlan,
    connection: &Connection,
    dataset: &str,
) -> Result<(Schema, Vec<Record>), RunnerError> {
    let refuse = |message: String| RunnerError::Dataset { dataset: dataset.to_string(), message };
    first_keyword_reads(&plan.query.text).map_err(|(_, message)| refuse(message))?;
    for (view, entity) in &plan.views {
        connection
            .execute_batch(&format!(
                "CREATE TEMP VIEW IF NOT EXISTS {} AS SELECT * FROM main.{}",
                quote_identifier(view),
                entity.table_identifier()
            ))
            .map_err(|error| refuse(format!("cannot show {entity} as `{view}`: {error}")))?;
    }
    connection
        .execute_batch("PRAGMA query_only = ON")
        .map_err(|error| refuse(format!("cannot make the connection read-only: {error}")))?;
    let mut statement = connection
        .prepare(&plan.query.text)
        .map_err(|error| refuse(format!("the query failed: {error}")))?;
    if !statement.readonly() {
        return Err(refuse(refusal("SQLite reports that it writes")));
    }
    read_rows(&mut statement).map_err(|error| refuse(format!("the query failed: {error}")))
}

fn read_rows(statement: &mut Statement<'_>) -> rusqlite::Result<(Schema, Vec<Record>)> {
    let names: Vec<String> = statement.column_names().map(str::to_string).collect();
    let mut types: Vec<Option<DataType>> = vec![None; names.len()];
    let mut records = Vec::new();
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let mut record = Record::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let (value, seen) = match row.get_ref(index)? {
                ValueRef::Null => (Value::Null, None),
                ValueRef::Integer(integer) => (Value::from(integer), Some(DataType::Integer)),
                ValueRef::Real(real) => (
                    Number::from_f64(real).map_or(Value::Null, Value::Number),
                    Some(DataType::Number),
                ),
                ValueRef::Text(text) => (
                    Value::String(String::from_utf8_lossy(text).into_owned()),
                    Some(DataType::String),
                ),
                ValueRef::Blob(bytes) => {
                    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
                    (Value::String(hex), Some(DataType::String))
                }
            };
            if let Some(seen) = seen {
                types[index] = Some(match (types[index].take(), seen) {
                    (None, seen) => seen,
                    (Some(known), seen) if known == seen => known,
                    (
                        Some(DataType::Integer | DataType::Number),
                        DataType::Integer | DataType::Number,
                    ) => DataType::Number,
                    _ => DataType::String,
                });
            }
            record.insert(name.clone(), value);
        }
        records.push(record);
    }
    let fields = names
        .into_iter()
        .zip(types)
        .map(|(name, data_type)| {
            Field::new(name, data_type.unwrap_or(DataType::String), "A column of the SQL query.")
        })
        .collect();
    Ok((Schema::new(fields), records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_pass_the_first_keyword_check() {
        assert!(first_keyword_reads("  -- note\n /* c */ select 1").is_ok());
        assert!(first_keyword_reads("WITH x AS (SELECT 1) SELECT * FROM x").is_ok());
        for statement in [
            "INSERT INTO t VALUES (1)",
            "update t set a = 1",
            "DELETE FROM t",
            "DROP TABLE t",
            "ATTACH 'x.db' AS x",
            "PRAGMA query_only = OFF",
            "CREATE TABLE t (a)",
        ] {
            let (position, message) = first_keyword_reads(statement).unwrap_err();
            assert_eq!(position, 0);
            assert!(message.contains("refused because it starts with"), "{message}");
        }
        assert_eq!(first_keyword_reads("\n  delete from t").unwrap_err().0, 3);
    }
}
