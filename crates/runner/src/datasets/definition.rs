//! The `[datasets.NAME]` tables of a spec, read into [`Definition`]s with the spec offsets of
//! every value, so later checks can point at the exact line (and, inside a `filter` or `sql`
//! string, the exact character).
//!
//! Reading checks only the shape: known keys, value types, exactly one of `from`, `append` and
//! `sql`, and which keys apply to which. Names, columns and cycles are checked by `plan`, which
//! knows the entities.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::datasets::Problem;
use crate::datasets::columns::{closest, list_names};

/// A value of the spec and the byte offset where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located<T> {
    /// The value.
    pub(crate) value: T,
    /// Byte offset in the spec document (0 for built-in definitions).
    pub(crate) offset: usize,
}

impl<T> Located<T> {
    pub(crate) fn new(value: T, offset: usize) -> Self {
        Located { value, offset }
    }
}

/// A text value whose characters can be located one by one: for messages that point inside a
/// filter or a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocatedText {
    /// The text as TOML decoded it.
    pub(crate) text: String,
    /// Byte offset of the string in the spec (its opening quote).
    pub(crate) offset: usize,
    /// Byte offset of the text's first character in the spec, when each character of the text
    /// is written as itself there (no escapes), so `content + i` is the `i`th byte's place.
    pub(crate) content: Option<usize>,
}

impl LocatedText {
    /// The spec offset of byte `position` of the text, or of the string when escapes make the
    /// two differ.
    pub(crate) fn offset_of(&self, position: usize) -> usize {
        self.content.map_or(self.offset, |content| content + position)
    }
}

/// How a join treats left rows without a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    /// Keep them, with the joined columns empty.
    Left,
    /// Drop them.
    Inner,
}

/// One entry of `join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinDefinition {
    /// The entity (`source.entity`) or dataset joined.
    pub(crate) with: Located<String>,
    /// Pairs of (column of the rows so far, column of `with`) that must be equal.
    pub(crate) on: Vec<(Located<String>, Located<String>)>,
    /// Left (the default) or inner.
    pub(crate) kind: JoinKind,
    /// Put before every joined column's name; by default `<with's entity or dataset>_`.
    pub(crate) prefix: Option<Located<String>>,
    /// Where the entry is written.
    pub(crate) offset: usize,
}

/// Where a dataset's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// `from`: one entity or dataset.
    From(Located<String>),
    /// `append`: the rows of several, one after the other, unioned by column name.
    Append(Vec<Located<String>>),
    /// `sql`: a read-only query over the replica.
    Sql(LocatedText),
}

/// One `[datasets.NAME]` table, or a built-in definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    /// The dataset's name.
    pub(crate) name: String,
    /// Where the name is written.
    pub(crate) offset: usize,
    /// Where its rows come from.
    pub(crate) body: Body,
    /// Joins, in order.
    pub(crate) join: Vec<JoinDefinition>,
    /// The rows to keep.
    pub(crate) filter: Option<LocatedText>,
    /// The columns to keep, in order.
    pub(crate) select: Option<Located<Vec<Located<String>>>>,
    /// Columns to rename: (current name, new name).
    pub(crate) rename: Vec<(Located<String>, Located<String>)>,
    /// Sort keys: a column name, optionally followed by ` asc` or ` desc`.
    pub(crate) sort: Vec<Located<String>>,
    /// Whether custom fields become columns; where the key is written.
    pub(crate) pivot_custom_fields: Option<Located<bool>>,
    /// True for a definition ashflow provides (`pipeline`).
    pub(crate) builtin: bool,
}

const KEYS: [&str; 9] =
    ["from", "append", "sql", "join", "filter", "select", "rename", "sort", "pivot_custom_fields"];

const JOIN_KEYS: [&str; 4] = ["with", "on", "kind", "prefix"];

/// Reads the spec's `datasets` table (written at `offset`); every shape problem is returned
/// with the definitions that were readable.
pub(crate) fn parse_definitions(
    value: &Spanned<DeValue<'_>>,
    offset: usize,
    document: &str,
) -> (Vec<Definition>, Vec<Problem>) {
    let mut reader = Reader { document, problems: Vec::new() };
    let Some(table) = value.get_ref().as_table() else {
        reader.problem(
            offset,
            format!(
                "`datasets` must be a table of named datasets, as in [datasets.open_jobs], \
                 found {}",
                value.get_ref().type_str()
            ),
        );
        return (Vec::new(), reader.problems);
    };
    let definitions =
        table.iter().filter_map(|(name, value)| reader.definition(name, value)).collect();
    (definitions, reader.problems)
}

/// True for names made only of lowercase ASCII letters, digits, `_` and `-`, as the spec's
/// other names.
pub(crate) fn is_dataset_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

struct Reader<'d> {
    document: &'d str,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, offset: usize, message: impl Into<String>) {
        self.problems.push(Problem::new(offset, message));
    }

    fn definition(
        &mut self,
        name: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Definition> {
        let dataset = name.get_ref().to_string();
        let name_offset = name.span().start;
        let before = self.problems.len();
        if !is_dataset_name(&dataset) {
            self.problem(
                name_offset,
                format!(
                    "the dataset name `{dataset}` may use only lowercase letters, digits, `_` and \
                     `-`; sinks use it for sheet, file and table names"
                ),
            );
        }
        let Some(table) = value.get_ref().as_table() else {
            self.problem(
                value.span().start,
                format!(
                    "[datasets.{dataset}] must be a table, found {}",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        let context = format!("[datasets.{dataset}]");
        self.unknown_keys(table, &KEYS, &context);

        let from = self.optional(table, "from", |reader, value| reader.string(value, "from"));
        let append = self.optional(table, "append", |reader, value| {
            reader.strings(value, "append", "names of entities or datasets")
        });
        let sql = self.optional(table, "sql", |reader, value| reader.text(value, "sql"));
        let join = self.optional(table, "join", |reader, value| reader.joins(value));
        let filter = self.optional(table, "filter", |reader, value| reader.text(value, "filter"));
        let select = self.optional(table, "select", |reader, value| {
            let names = reader.strings(value, "select", "column names")?;
            Some(Located::new(names, value.span().start))
        });
        let rename = self.optional(table, "rename", |reader, value| reader.renames(value));
        let sort = self.optional(table, "sort", |reader, value| {
            reader.strings(value, "sort", "column names, each optionally followed by asc or desc")
        });
        let pivot = self.optional(table, "pivot_custom_fields", |reader, value| {
            match value.get_ref().as_bool() {
                Some(flag) => Some(Located::new(flag, value.span().start)),
                None => {
                    reader.problem(
                        value.span().start,
                        format!(
                            "`pivot_custom_fields` must be true or false, found {}",
                            value.get_ref().type_str()
                        ),
                    );
                    None
                }
            }
        });

        let body = self.body(&dataset, name_offset, table, from, append, sql)?;
        if let Body::Sql(_) = body {
            for key in ["join", "filter", "select", "rename", "sort", "pivot_custom_fields"] {
                if let Some(offset) = key_offset(table, key) {
                    self.problem(
                        offset,
                        format!(
                            "[datasets.{dataset}]: `{key}` applies to `from` and `append` \
                             datasets; with `sql`, say it in the query"
                        ),
                    );
                }
            }
        }
        (self.problems.len() == before).then(|| Definition {
            name: dataset,
            offset: name_offset,
            body,
            join: join.unwrap_or_default(),
            filter,
            select,
            rename: rename.unwrap_or_default(),
            sort: sort.unwrap_or_default(),
            pivot_custom_fields: pivot,
            builtin: false,
        })
    }

    fn body(
        &mut self,
        dataset: &str,
        name_offset: usize,
        table: &DeTable<'_>,
        from: Option<Located<String>>,
        append: Option<Vec<Located<String>>>,
        sql: Option<LocatedText>,
    ) -> Option<Body> {
        let present: Vec<&str> = ["from", "append", "sql"]
            .into_iter()
            .filter(|key| key_offset(table, key).is_some())
            .collect();
        if present.len() > 1 {
            let second = key_offset(table, present[1]).unwrap_or(name_offset);
            self.problem(
                second,
                format!(
                    "[datasets.{dataset}] has {}; a dataset takes its rows from exactly one of \
                     `from`, `append` and `sql`",
                    present.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(" and ")
                ),
            );
            return None;
        }
        if present.is_empty() {
            self.problem(
                name_offset,
                format!(
                    "[datasets.{dataset}] says nowhere its rows come from: add `from` (an entity \
                     such as \"ashby.jobs\" or a dataset), `append` (a list of them) or `sql` (a \
                     query)"
                ),
            );
            return None;
        }
        if let Some(from) = from {
            return Some(Body::From(from));
        }
        if let Some(append) = append {
            if append.is_empty() {
                let offset = key_offset(table, "append").unwrap_or(name_offset);
                self.problem(offset, "`append` lists no entities or datasets; name at least one");
                return None;
            }
            return Some(Body::Append(append));
        }
        sql.map(Body::Sql)
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, known: &[&str], context: &str) {
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let mut message = format!("{context}: unknown key `{name}`");
            if let Some(closest) = closest(name, known.iter().copied()) {
                message.push_str(&format!("; did you mean `{closest}`?"));
            }
            let known: Vec<String> = known.iter().map(|key| key.to_string()).collect();
            message.push_str(&format!(" Keys: {}", list_names(&known, known.len())));
            self.problem(key.span().start, message);
        }
    }

    /// Reads `key` of `table` with `read`, when present.
    fn optional<T>(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        read: impl FnOnce(&mut Self, &Spanned<DeValue<'_>>) -> Option<T>,
    ) -> Option<T> {
        let (_, value) = table.iter().find(|(name, _)| name.get_ref() == key)?;
        read(self, value)
    }

    fn string(&mut self, value: &Spanned<DeValue<'_>>, key: &str) -> Option<Located<String>> {
        match value.get_ref().as_str() {
            Some(text) => Some(Located::new(text.to_string(), value.span().start)),
            None => {
                self.problem(
                    value.span().start,
                    format!("`{key}` must be a string, found {}", value.get_ref().type_str()),
                );
                None
            }
        }
    }

    fn text(&mut self, value: &Spanned<DeValue<'_>>, key: &str) -> Option<LocatedText> {
        let located = self.string(value, key)?;
        if located.value.trim().is_empty() {
            self.problem(located.offset, format!("`{key}` is empty"));
            return None;
        }
        let content = content_offset(self.document, located.offset, &located.value);
        Some(LocatedText { text: located.value, offset: located.offset, content })
    }

    fn strings(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
        what: &str,
    ) -> Option<Vec<Located<String>>> {
        let Some(items) = value.get_ref().as_array() else {
            self.problem(
                value.span().start,
                format!("`{key}` must be a list of {what}, found {}", value.get_ref().type_str()),
            );
            return None;
        };
        let mut strings = Vec::new();
        for item in items.iter() {
            strings.push(self.string(item, key)?);
        }
        Some(strings)
    }

    fn renames(
        &mut self,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Vec<(Located<String>, Located<String>)>> {
        let Some(table) = value.get_ref().as_table() else {
            self.problem(
                value.span().start,
                format!(
                    "`rename` must be a table of old = \"new\" names, as in rename = {{ \
                     department_name = \"department\" }}, found {}",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut renames = Vec::new();
        for (old, new) in table {
            let new = self.string(new, "rename")?;
            if new.value.is_empty() || new.value.contains('.') {
                self.problem(
                    new.offset,
                    format!(
                        "a new column name must be non-empty and without dots (dots reach into \
                         nested objects); found \"{}\"",
                        new.value
                    ),
                );
                return None;
            }
            renames.push((Located::new(old.get_ref().to_string(), old.span().start), new));
        }
        Some(renames)
    }

    fn joins(&mut self, value: &Spanned<DeValue<'_>>) -> Option<Vec<JoinDefinition>> {
        let Some(items) = value.get_ref().as_array() else {
            self.problem(
                value.span().start,
                format!(
                    "`join` must be a list of tables, as in \
                     join = [{{ with = \"ashby.departments\", on = {{ departmentId = \"id\" }} }}], \
                     found {}",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut joins = Vec::new();
        for item in items.iter() {
            joins.push(self.join(item)?);
        }
        Some(joins)
    }

    fn join(&mut self, item: &Spanned<DeValue<'_>>) -> Option<JoinDefinition> {
        let offset = item.span().start;
        let Some(table) = item.get_ref().as_table() else {
            self.problem(
                offset,
                format!(
                    "each `join` entry must be a table with `with` and `on`, found {}",
                    item.get_ref().type_str()
                ),
            );
            return None;
        };
        let before = self.problems.len();
        self.unknown_keys(table, &JOIN_KEYS, "`join` entry");
        let Some(with) = self.optional(table, "with", |reader, value| reader.string(value, "with"))
        else {
            if self.problems.len() == before {
                self.problem(
                    offset,
                    "this `join` entry has no `with`: name the entity (\"ashby.departments\") \
                     or dataset to join",
                );
            }
            return None;
        };
        let on = self.optional(table, "on", |reader, value| reader.join_keys(value));
        let Some(on) = on else {
            if self.problems.len() == before {
                self.problem(
                    offset,
                    "this `join` entry has no `on`: say which columns must match, as in \
                     on = { departmentId = \"id\" } (this dataset's column = the joined one's)",
                );
            }
            return None;
        };
        let kind = self.optional(table, "kind", |reader, value| {
            let kind = reader.string(value, "kind")?;
            match kind.value.as_str() {
                "left" => Some(JoinKind::Left),
                "inner" => Some(JoinKind::Inner),
                other => {
                    reader.problem(
                        kind.offset,
                        format!(
                            "unknown join kind \"{other}\"; use \"left\" (keep rows without a \
                             match) or \"inner\" (drop them)"
                        ),
                    );
                    None
                }
            }
        });
        if key_offset(table, "kind").is_some() && kind.is_none() {
            return None;
        }
        let prefix = self.optional(table, "prefix", |reader, value| reader.string(value, "prefix"));
        (self.problems.len() == before).then(|| JoinDefinition {
            with,
            on,
            kind: kind.unwrap_or(JoinKind::Left),
            prefix,
            offset,
        })
    }

    fn join_keys(
        &mut self,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Vec<(Located<String>, Located<String>)>> {
        let table = value.get_ref().as_table().filter(|table| !table.is_empty());
        let Some(table) = table else {
            self.problem(
                value.span().start,
                "`on` must be a table of column pairs, as in on = { departmentId = \"id\" }: \
                 this dataset's column = the joined one's (quote dotted names: \
                 { \"job.id\" = \"id\" })",
            );
            return None;
        };
        let mut pairs = Vec::new();
        for (left, right) in table {
            let right = self.string(right, "on")?;
            pairs.push((Located::new(left.get_ref().to_string(), left.span().start), right));
        }
        Some(pairs)
    }
}

/// The offset of `key` in `table`, when present.
fn key_offset(table: &DeTable<'_>, key: &str) -> Option<usize> {
    table.keys().find(|name| name.get_ref() == key).map(|name| name.span().start)
}

/// Where the characters of a string value written at `offset` start, when they are written
/// exactly as `value` (no escapes).
fn content_offset(document: &str, offset: usize, value: &str) -> Option<usize> {
    let rest = document.get(offset..)?;
    let mut start = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        // A newline right after the opening delimiter of a multi-line string is not part of it.
        let after = &rest[3..];
        3 + if after.starts_with("\r\n") { 2 } else { usize::from(after.starts_with('\n')) }
    } else {
        1
    };
    start += offset;
    (document.get(start..start + value.len()) == Some(value)).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Definition>, Vec<Problem>) {
        let root = DeTable::parse(text).unwrap().into_inner();
        let (key, value) = root.iter().find(|(key, _)| key.get_ref() == "datasets").unwrap();
        parse_definitions(value, key.span().start, text)
    }

    #[test]
    fn every_key_is_read_with_its_place() {
        let text = r#"
[datasets.open_jobs]
from = "ashby.jobs"
join = [{ with = "ashby.departments", on = { departmentId = "id" }, kind = "inner", prefix = "d_" }]
filter = "status = 'Open'"
select = ["id", "title"]
rename = { title = "job" }
sort = ["createdAt desc"]
pivot_custom_fields = true
"#;
        let (definitions, problems) = parse(text);
        assert!(problems.is_empty(), "{problems:?}");
        let open_jobs = &definitions[0];
        assert_eq!(open_jobs.body, Body::From(Located::new("ashby.jobs".into(), 29)));
        assert_eq!(open_jobs.join[0].kind, JoinKind::Inner);
        assert_eq!(open_jobs.join[0].on[0].0.value, "departmentId");
        let filter = open_jobs.filter.as_ref().unwrap();
        assert_eq!(&text[filter.offset_of(0)..filter.offset_of(6)], "status");
        assert_eq!(open_jobs.rename[0].1.value, "job");
        assert_eq!(open_jobs.pivot_custom_fields.as_ref().map(|p| p.value), Some(true));
    }

    #[test]
    fn shape_problems_name_the_dataset_and_the_valid_choices() {
        let text = r#"
[datasets.both]
from = "ashby.jobs"
sql = "select 1"

[datasets.none]
filter = "x = 1"

[datasets.typo]
from = "ashby.jobs"
fliter = "x = 1"
join = [{ with = "ashby.departments" }]
rename = { a = "b.c" }
"#;
        let (definitions, problems) = parse(text);
        assert!(definitions.is_empty());
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert!(messages[0].contains("exactly one of `from`, `append` and `sql`"), "{messages:?}");
        assert!(messages[1].contains("add `from`"), "{messages:?}");
        assert!(messages[2].contains("unknown key `fliter`; did you mean `filter`?"));
        assert!(messages[3].contains("has no `on`"), "{messages:?}");
        assert!(messages[4].contains("without dots"), "{messages:?}");
    }

    #[test]
    fn sql_datasets_refuse_the_reshaping_keys() {
        let (_, problems) = parse("[datasets.x]\nsql = \"select 1\"\nsort = [\"a\"]\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("say it in the query"), "{problems:?}");
    }

    #[test]
    fn escaped_strings_are_located_at_their_start() {
        let text = "[datasets.x]\nfrom = \"a.b\"\nfilter = \"s = 'a\\tb'\"\n";
        let (definitions, _) = parse(text);
        let filter = definitions[0].filter.as_ref().unwrap();
        assert_eq!(filter.content, None);
        assert_eq!(filter.offset_of(4), filter.offset);
    }
}
