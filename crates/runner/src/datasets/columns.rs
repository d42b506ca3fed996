//! Column names and the paths behind them: resolving `job.departmentId` in a schema, reading and
//! writing values at a path of a record, and suggesting the closest name for a misspelt one.
//!
//! A column name is a field's name, with dots reaching into nested objects. A field's own name
//! may hold a dot (an SQL result column `candidate.name`, a custom field titled `Rev. share`),
//! so names are resolved against the schema, longest field name first, rather than split on
//! every dot.

use ashflow_core::{DataType, Field, Projection, Record, Schema};
use serde_json::Value;

/// The path of field names that `name` reaches in `fields`, and the field at its end.
pub(crate) fn resolve<'a>(fields: &'a [Field], name: &str) -> Option<(Vec<String>, &'a Field)> {
    if let Some(field) = fields.iter().find(|field| field.name == name) {
        return Some((vec![field.name.clone()], field));
    }
    // Longer prefixes first, so `a.b` as one field wins over object `a` with a child `b.c`.
    let mut prefixed: Vec<&Field> = fields
        .iter()
        .filter(|field| {
            name.len() > field.name.len() + 1
                && name.starts_with(field.name.as_str())
                && name.as_bytes()[field.name.len()] == b'.'
        })
        .collect();
    prefixed.sort_by_key(|field| std::cmp::Reverse(field.name.len()));
    for field in prefixed {
        if let DataType::Object(nested) = &field.data_type {
            let rest = &name[field.name.len() + 1..];
            if let Some((mut path, leaf)) = resolve(nested, rest) {
                path.insert(0, field.name.clone());
                return Some((path, leaf));
            }
        }
    }
    None
}

/// The column names of `schema` as sinks show them: leaf fields, dotted.
pub(crate) fn column_names(schema: &Schema) -> Vec<String> {
    Projection::new(schema).columns().iter().map(|column| column.name.clone()).collect()
}

/// The value at `path` of `record`, when every object on the way exists.
pub(crate) fn lookup<'a>(record: &'a Record, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = record.get(first)?;
    for name in rest {
        value = value.as_object()?.get(name)?;
    }
    Some(value)
}

/// Writes `value` at `path` of `record`, creating the objects on the way.
pub(crate) fn insert_at(record: &mut Record, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut object = record;
    for name in parents {
        let entry = object.entry(name.clone()).or_insert_with(|| Value::Object(Record::new()));
        if !entry.is_object() {
            *entry = Value::Object(Record::new());
        }
        let Value::Object(inner) = entry else { unreachable!("made an object just above") };
        object = inner;
    }
    object.insert(last.clone(), value);
}

/// Removes and returns the value at `path` of `record`. Objects left empty by the removal are
/// removed too, as the schema drops objects without fields.
pub(crate) fn remove_at(record: &mut Record, path: &[String]) -> Option<Value> {
    let (first, rest) = path.split_first()?;
    if rest.is_empty() {
        return record.shift_remove(first);
    }
    let Some(Value::Object(inner)) = record.get_mut(first) else { return None };
    let removed = remove_at(inner, rest);
    if inner.is_empty() {
        record.shift_remove(first);
    }
    removed
}

/// Removes the field at `path` from `fields` and returns it; objects left without fields are
/// removed too.
pub(crate) fn remove_field(fields: &mut Vec<Field>, path: &[String]) -> Option<Field> {
    let (first, rest) = path.split_first()?;
    let index = fields.iter().position(|field| &field.name == first)?;
    if rest.is_empty() {
        return Some(fields.remove(index));
    }
    let DataType::Object(nested) = &mut fields[index].data_type else { return None };
    let removed = remove_field(nested, rest);
    if nested.is_empty() {
        fields.remove(index);
    }
    removed
}

/// Adds `leaf` at `path` of `fields`, creating (or extending) the objects on the way; `parent`
/// gives the fields that the objects on the way are copied from (their names, descriptions and
/// tags), so a selected `job.title` keeps `job`'s description.
pub(crate) fn add_field(fields: &mut Vec<Field>, path: &[String], leaf: Field, parent: &[Field]) {
    let Some((first, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        match fields.iter_mut().find(|field| &field.name == first) {
            Some(existing) => *existing = leaf,
            None => fields.push(leaf),
        }
        return;
    }
    let template = parent.iter().find(|field| &field.name == first);
    let template_nested = match template.map(|field| &field.data_type) {
        Some(DataType::Object(nested)) => nested.as_slice(),
        _ => &[],
    };
    let index = match fields.iter().position(|field| &field.name == first) {
        Some(index) => index,
        None => {
            let mut object = template.cloned().unwrap_or_else(|| {
                Field::new(first.clone(), DataType::Object(Vec::new()), "A group of columns.")
            });
            object.data_type = DataType::Object(Vec::new());
            fields.push(object);
            fields.len() - 1
        }
    };
    if !matches!(fields[index].data_type, DataType::Object(_)) {
        fields[index].data_type = DataType::Object(Vec::new());
    }
    if let DataType::Object(nested) = &mut fields[index].data_type {
        add_field(nested, rest, leaf, template_nested);
    }
}

/// The message for a column name that `schema` does not have: the closest name, then the
/// columns there are.
pub(crate) fn unknown_column_message(name: &str, schema: &Schema) -> String {
    let columns = column_names(schema);
    let mut message = format!("no column `{name}`");
    if let Some(closest) = closest(name, columns.iter().map(String::as_str)) {
        message.push_str(&format!("; did you mean `{closest}`?"));
    }
    message.push_str(&format!(" Columns: {}", list_names(&columns, 40)));
    message
}

/// Up to `limit` names, backquoted and comma-separated, and how many more there are.
pub(crate) fn list_names(names: &[String], limit: usize) -> String {
    if names.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = names.iter().take(limit).map(|name| format!("`{name}`")).collect();
    let mut text = shown.join(", ");
    if names.len() > limit {
        text.push_str(&format!(" and {} more", names.len() - limit));
    }
    text
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely
/// misspelling; a difference of case alone always counts.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&lower, &candidate.to_lowercase());
        if best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    let allowed = (name.chars().count() / 3).max(2);
    best.filter(|(distance, _)| *distance <= allowed).map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new(
                "job",
                DataType::Object(vec![
                    Field::new("id", DataType::String, "Job id."),
                    Field::new("title", DataType::String, "Job title."),
                ]),
                "Job.",
            ),
            Field::new("job.title", DataType::String, "A dotted top-level name."),
        ])
    }

    #[test]
    fn dotted_names_reach_into_objects_and_whole_names_win() {
        let schema = schema();
        let (path, field) = resolve(&schema.fields, "job.id").unwrap();
        assert_eq!(path, ["job", "id"]);
        assert_eq!(field.description, "Job id.");
        let (path, _) = resolve(&schema.fields, "job.title").unwrap();
        assert_eq!(path, ["job.title"]);
        assert!(resolve(&schema.fields, "job.nope").is_none());
        assert!(resolve(&schema.fields, "jo").is_none());
    }

    #[test]
    fn values_are_read_written_and_removed_at_paths() {
        let mut record = json!({"job": {"id": "j1"}}).as_object().cloned().unwrap();
        let path = vec!["job".to_string(), "id".to_string()];
        assert_eq!(lookup(&record, &path), Some(&json!("j1")));
        insert_at(&mut record, &["a".into(), "b".into()], json!(3));
        assert_eq!(record["a"], json!({"b": 3}));
        assert_eq!(remove_at(&mut record, &path), Some(json!("j1")));
        assert!(!record.contains_key("job"), "an emptied object goes too");
    }

    #[test]
    fn misspelt_names_get_the_closest_suggestion() {
        let names = ["status", "createdAt", "department_name"];
        assert_eq!(closest("stauts", names.into_iter()), Some("status"));
        assert_eq!(closest("CREATEDAT", names.into_iter()), Some("createdAt"));
        assert_eq!(closest("zzzzzz", names.into_iter()), None);
        let message = unknown_column_message("job.titel", &schema());
        assert!(
            message.starts_with("no column `job.titel`; did you mean `job.title`?"),
            "{message}"
        );
    }
}
