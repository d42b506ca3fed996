//! The served account: every record as ready-to-send JSON text, in serving order, with its
//! change sequence and filter facts.
//!
//! Records are kept serialised (not as `serde_json::Value` trees) because a 20,000-candidate
//! account is several hundred thousand JSON nodes: text takes a fraction of the memory, and a
//! page response becomes string concatenation instead of serialisation. The visible list for
//! each filter combination (and sync-token starting point) is computed once and cached as
//! row indexes, so paging is an offset into a shared list.
//!
//! Serving order is by a hash of the id: stable from run to run, and unrelated to creation
//! order, so clients must sort for themselves as they would against Ashby.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use crate::entity::Entity;
use crate::filters::{Filters, Meta, meta_of};
use crate::generator::{self, ANCHOR_MS, Emitted, timestamp};
use crate::tokens::fnv1a64;

/// One stored record.
pub(crate) struct Row {
    /// The record as compact JSON text.
    pub json: Box<str>,
    /// The facts filters test.
    pub meta: Meta,
    /// The account-wide change sequence number of the record's last change.
    pub seq: u64,
}

/// A cached visible list: canonical filters and the sync-token sequence (if incremental).
type ListKey = (String, Option<u64>);

/// How many visible lists a table caches before it starts over; clients use few filter
/// combinations, so this only bounds memory against unusual callers.
const MAX_CACHED_LISTS: usize = 64;

/// The records of one entity.
pub(crate) struct Table {
    entity: Entity,
    rows: Vec<Row>,
    lists: Mutex<HashMap<ListKey, Arc<Vec<u32>>>>,
    /// Where the next `mutate` starts, so repeated calls touch different records.
    next_mutation: usize,
}

impl Table {
    /// The JSON text of the record at `index` of the serving order.
    pub(crate) fn json(&self, index: u32) -> &str {
        &self.rows[index as usize].json
    }

    /// Row indexes of the records `filters` lets through and (for incremental requests)
    /// changed after `since`, in serving order.
    pub(crate) fn visible(&self, filters: &Filters, since: Option<u64>) -> Arc<Vec<u32>> {
        let key = (filters.canonical.clone(), since);
        let mut lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = lists.get(&key) {
            return Arc::clone(list);
        }
        let list: Vec<u32> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| since.is_none_or(|since| row.seq > since))
            .filter(|(_, row)| filters.matches(self.entity, &row.meta))
            .map(|(index, _)| index as u32)
            .collect();
        if lists.len() >= MAX_CACHED_LISTS {
            lists.clear();
        }
        let list = Arc::new(list);
        lists.insert(key, Arc::clone(&list));
        list
    }

    fn forget_lists(&mut self) {
        self.lists.get_mut().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// Every table, and the account-wide change sequence.
pub(crate) struct Store {
    tables: Vec<Table>,
    seq: u64,
    mutations: u64,
}

impl Store {
    /// Generates the account for `seed` and `candidates` and arranges it for serving.
    pub(crate) fn generate(seed: u64, candidates: usize) -> Store {
        let mut pending: Vec<Vec<(u64, Row)>> = Entity::ALL.iter().map(|_| Vec::new()).collect();
        let mut seq = 0;
        generator::generate(seed, candidates, &mut |entity, emitted| {
            seq += 1;
            let (order, json, meta) = match emitted {
                Emitted::Tree(record) => {
                    let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
                    (fnv1a64(id.as_bytes()), record.to_string(), meta_of(entity, &record))
                }
                Emitted::Text { id, json, meta } => (fnv1a64(id.as_bytes()), json, meta),
            };
            let row = Row { json: json.into_boxed_str(), meta, seq };
            pending[entity.index()].push((order, row));
        });
        let tables = Entity::ALL
            .into_iter()
            .zip(pending)
            .map(|(entity, mut rows)| {
                rows.sort_by_key(|(order, _)| *order);
                Table {
                    entity,
                    rows: rows.into_iter().map(|(_, row)| row).collect(),
                    lists: Mutex::new(HashMap::new()),
                    next_mutation: 0,
                }
            })
            .collect();
        Store { tables, seq, mutations: 0 }
    }

    /// The table of `entity`.
    pub(crate) fn table(&self, entity: Entity) -> &Table {
        &self.tables[entity.index()]
    }

    /// The latest change sequence number of the account.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Every record of `entity`, hidden ones included, in serving order.
    pub(crate) fn records(&self, entity: Entity) -> Vec<Value> {
        self.table(entity)
            .rows
            .iter()
            .map(|row| serde_json::from_str(&row.json).unwrap_or(Value::Null))
            .collect()
    }

    /// Changes `count` records of `entity` (see [`crate::FakeAshby::mutate`]): one field
    /// each, a later `updatedAt` where the record has one, and a new change sequence.
    pub(crate) fn mutate(&mut self, entity: Entity, count: usize) {
        let table = &mut self.tables[entity.index()];
        let total = table.rows.len();
        for step in 0..count.min(total) {
            let index = (table.next_mutation + step) % total;
            let row = &mut table.rows[index];
            let Ok(mut record) = serde_json::from_str::<Value>(&row.json) else {
                continue;
            };
            self.mutations += 1;
            self.seq += 1;
            let at = ANCHOR_MS + self.mutations as i64 * 60_000;
            revise(entity, &mut record, self.mutations, at);
            row.json = record.to_string().into_boxed_str();
            row.meta = meta_of(entity, &record);
            row.seq = self.seq;
        }
        if total > 0 {
            table.next_mutation = (table.next_mutation + count) % total;
        }
        table.forget_lists();
    }
}

impl Store {
    /// Removes `count` records of `entity` upstream, as a deletion in Ashby would (see
    /// [`crate::FakeAshby::delete`]), and returns their ids. The change sequence is not
    /// advanced: Ashby's incremental passes never report deletions.
    pub(crate) fn delete(&mut self, entity: Entity, count: usize) -> Vec<String> {
        let table = &mut self.tables[entity.index()];
        let keep = table.rows.len().saturating_sub(count);
        let removed: Vec<String> = table
            .rows
            .drain(keep..)
            .filter_map(|row| {
                let record: Value = serde_json::from_str(&row.json).ok()?;
                record.get("id").and_then(Value::as_str).map(str::to_string)
            })
            .collect();
        if table.next_mutation >= table.rows.len() {
            table.next_mutation = 0;
        }
        table.forget_lists();
        removed
    }
}

const SCHEDULE_STATUSES: &[&str] = &[
    "NeedsScheduling",
    "WaitingOnCandidateBooking",
    "WaitingOnCandidateAvailability",
    "CandidateAvailabilitySubmitted",
    "Scheduled",
    "WaitingOnFeedback",
    "Complete",
    "Cancelled",
];

/// Applies one edit to a record: the field per entity is listed on `FakeAshby::mutate`.
fn revise(entity: Entity, record: &mut Value, revision: u64, at: i64) {
    let text_field = match entity {
        Entity::Applications => Some("submitterUserAgent"),
        Entity::ArchiveReasons => Some("text"),
        Entity::CandidateTags
        | Entity::CustomFields
        | Entity::FeedbackFormDefinitions
        | Entity::JobPostings
        | Entity::Jobs
        | Entity::Sources => Some("title"),
        Entity::Candidates => Some("position"),
        Entity::Departments | Entity::Locations => Some("name"),
        Entity::Users => Some("lastName"),
        Entity::InterviewSchedules | Entity::Offers => None,
    };
    if let Some(field) = text_field {
        let current = record.get(field).and_then(Value::as_str).unwrap_or("");
        let base = current.split(" (rev ").next().unwrap_or(current);
        record[field] = json!(format!("{base} (rev {revision})"));
    }
    match entity {
        Entity::InterviewSchedules => {
            let current = record.get("status").and_then(Value::as_str).unwrap_or("");
            let position = SCHEDULE_STATUSES.iter().position(|status| *status == current);
            let next = position.map_or(0, |position| (position + 1) % SCHEDULE_STATUSES.len());
            record["status"] = json!(SCHEDULE_STATUSES[next]);
            if let Some(event) = record.pointer_mut("/interviewEvents/0") {
                event["updatedAt"] = json!(timestamp(at, true));
            }
        }
        Entity::Offers => {
            if let Some(salary) = record.pointer_mut("/latestVersion/salary/value") {
                let value = salary.as_f64().unwrap_or(0.0) + 1_000.0;
                *salary = json!(value.round() as i64);
            }
        }
        _ => {}
    }
    if record.get("updatedAt").is_some() {
        record["updatedAt"] = json!(timestamp(at, true));
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_written_by_the_generator_match_the_facts_read_from_the_text() {
        let mut checked = 0;
        generator::generate(11, 150, &mut |entity, emitted| {
            if let Emitted::Text { json, meta, .. } = emitted {
                let record: Value = serde_json::from_str(&json).expect("generated text is JSON");
                assert_eq!(meta_of(entity, &record), meta, "{entity:?} {json}");
                checked += 1;
            }
        });
        assert!(checked > 400, "checked {checked} text records");
    }

    #[test]
    fn mutation_changes_one_field_bumps_updated_at_and_the_sequence() {
        let mut store = Store::generate(2, 30);
        let before = store.records(Entity::Jobs);
        let seq = store.seq();
        store.mutate(Entity::Jobs, 2);
        let after = store.records(Entity::Jobs);
        assert_eq!(store.seq(), seq + 2);
        let changed: Vec<(&Value, &Value)> =
            before.iter().zip(&after).filter(|(old, new)| old != new).collect();
        assert_eq!(changed.len(), 2);
        for (old, new) in changed {
            assert_eq!(
                new["title"],
                json!(format!(
                    "{} (rev {})",
                    old["title"].as_str().expect("title"),
                    if new["title"].as_str().expect("title").ends_with("(rev 1)") { 1 } else { 2 }
                ))
            );
            assert!(new["updatedAt"].as_str() > old["updatedAt"].as_str());
            assert_eq!(new["id"], old["id"]);
        }
    }
}
