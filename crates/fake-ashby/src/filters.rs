//! Request filters and the per-record facts they test.
//!
//! Each list endpoint accepts its own body parameters (ashby-api.md §3.3) and hides some
//! records by default (§6.4). A record's [`Meta`] holds the few facts those rules look at,
//! extracted once when the record is stored, so that building the visible list for a filter
//! combination never parses JSON. [`Filters`] is the parsed, validated and normalised form of a
//! request body; its canonical JSON is the cache key of the visible list and travels inside
//! cursors, so later pages of a pass see exactly the filters of its first page.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::entity::Entity;

/// The facts about one record that filters and hidden-by-default rules test.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Meta {
    /// `isArchived` of lookup records.
    pub archived: bool,
    /// A user with `isEnabled: false`.
    pub deactivated: bool,
    /// A location with `type: "LocationHierarchy"`.
    pub hierarchy: bool,
    /// A job posting with `isListed: true`.
    pub listed: bool,
    /// `status` of applications and jobs.
    pub status: Option<Box<str>>,
    /// Creation instant: `createdAt` of applications, the earliest event of a schedule.
    pub created_ms: Option<i64>,
    /// `openedAt` of jobs.
    pub opened_ms: Option<i64>,
    /// `closedAt` of jobs.
    pub closed_ms: Option<i64>,
    /// `job.id` of applications.
    pub job_id: Option<Box<str>>,
    /// `applicationId` of schedules and offers.
    pub application_id: Option<Box<str>>,
    /// `interviewStageId` of schedules.
    pub stage_id: Option<Box<str>>,
    /// `offerStatus` of offers.
    pub offer_status: Option<Box<str>>,
    /// `acceptanceStatus` of offers.
    pub acceptance_status: Option<Box<str>>,
    /// `locationName` of job postings.
    pub location_name: Option<Box<str>>,
    /// `departmentName` of job postings.
    pub department_name: Option<Box<str>>,
}

/// Reads the facts of one record of `entity`.
pub(crate) fn meta_of(entity: Entity, record: &Value) -> Meta {
    let text = |key: &str| record.get(key).and_then(Value::as_str).map(Box::from);
    let millis = |key: &str| record.get(key).and_then(Value::as_str).and_then(parse_millis);
    let flag = |key: &str| record.get(key).and_then(Value::as_bool).unwrap_or(false);
    let mut meta = Meta { archived: flag("isArchived"), ..Meta::default() };
    match entity {
        Entity::Applications => {
            meta.status = text("status");
            meta.created_ms = millis("createdAt");
            meta.job_id = record.pointer("/job/id").and_then(Value::as_str).map(Box::from);
        }
        Entity::Jobs => {
            meta.status = text("status");
            meta.opened_ms = millis("openedAt");
            meta.closed_ms = millis("closedAt");
        }
        Entity::Users => {
            meta.deactivated = !record.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)
        }
        Entity::Locations => {
            meta.hierarchy =
                record.get("type").and_then(Value::as_str) == Some("LocationHierarchy");
        }
        Entity::JobPostings => {
            meta.listed = flag("isListed");
            meta.location_name = text("locationName");
            meta.department_name = text("departmentName");
        }
        Entity::InterviewSchedules => {
            meta.application_id = text("applicationId");
            meta.stage_id = text("interviewStageId");
            meta.created_ms = record
                .get("interviewEvents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|event| {
                    event.get("createdAt").and_then(Value::as_str).and_then(parse_millis)
                })
                .min();
        }
        Entity::Offers => {
            meta.application_id = text("applicationId");
            meta.offer_status = text("offerStatus");
            meta.acceptance_status = text("acceptanceStatus");
        }
        _ => {}
    }
    meta
}

fn parse_millis(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|instant| instant.timestamp_millis())
}

const APPLICATION_STATUSES: &[&str] = &["Hired", "Archived", "Active", "Lead"];
const JOB_STATUSES: &[&str] = &["Draft", "Open", "Closed", "Archived"];
const OFFER_STATUSES: &[&str] = &[
    "WaitingOnApprovalStart",
    "WaitingOnOfferApproval",
    "WaitingOnApprovalDefinition",
    "WaitingOnCandidateResponse",
    "CandidateRejected",
    "CandidateAccepted",
    "OfferCancelled",
];
const ACCEPTANCE_STATUSES: &[&str] =
    &["Accepted", "Declined", "Pending", "Created", "Cancelled", "WaitingOnResponse"];

/// The validated filters of one list request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Filters {
    /// Canonical JSON of the parameters that change the result (defaults left out, lists
    /// sorted): equal filters have equal text.
    pub canonical: String,
    include_archived: bool,
    include_deactivated: bool,
    include_hierarchy: bool,
    listed_only: bool,
    statuses: Option<Vec<String>>,
    created_after: Option<i64>,
    opened_after: Option<i64>,
    opened_before: Option<i64>,
    closed_after: Option<i64>,
    closed_before: Option<i64>,
    job_id: Option<String>,
    application_id: Option<String>,
    stage_id: Option<String>,
    offer_statuses: Option<Vec<String>>,
    acceptance_statuses: Option<Vec<String>>,
    location_name: Option<String>,
    department_name: Option<String>,
}

/// Reads typed parameters out of a body and records the effective ones canonically.
struct Reader<'a> {
    body: &'a Map<String, Value>,
    canonical: BTreeMap<&'static str, Value>,
}

impl<'a> Reader<'a> {
    fn present(&self, key: &str) -> Option<&'a Value> {
        self.body.get(key).filter(|value| !value.is_null())
    }

    fn boolean(&mut self, key: &'static str) -> Result<bool, String> {
        match self.present(key) {
            None => Ok(false),
            Some(Value::Bool(flag)) => {
                if *flag {
                    self.canonical.insert(key, Value::Bool(true));
                }
                Ok(*flag)
            }
            Some(_) => Err(format!("{key} must be a boolean")),
        }
    }

    fn text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(text)) => {
                self.canonical.insert(key, Value::String(text.clone()));
                Ok(Some(text.clone()))
            }
            Some(_) => Err(format!("{key} must be a string")),
        }
    }

    /// Epoch milliseconds; a float such as `1704067200000.0` is accepted and truncated.
    fn millis(&mut self, key: &'static str) -> Result<Option<i64>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Number(number)) => {
                let millis = number
                    .as_i64()
                    .or_else(|| number.as_f64().map(|float| float as i64))
                    .ok_or_else(|| format!("{key} must be milliseconds since the epoch"))?;
                self.canonical.insert(key, Value::from(millis));
                Ok(Some(millis))
            }
            Some(_) => {
                Err(format!("{key} must be an integer number of milliseconds since the epoch"))
            }
        }
    }

    fn one_of(&mut self, key: &'static str, allowed: &[&str]) -> Result<Option<String>, String> {
        let value = self.text(key)?;
        match value {
            Some(value) if !allowed.contains(&value.as_str()) => {
                Err(format!("{key} must be one of {}", allowed.join(", ")))
            }
            other => Ok(other),
        }
    }

    fn list_of(
        &mut self,
        key: &'static str,
        allowed: &[&str],
    ) -> Result<Option<Vec<String>>, String> {
        let Some(value) = self.present(key) else {
            return Ok(None);
        };
        let invalid = || format!("{key} must be a non-empty array of: {}", allowed.join(", "));
        let items = value.as_array().filter(|items| !items.is_empty()).ok_or_else(invalid)?;
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            match item.as_str() {
                Some(text) if allowed.contains(&text) => values.push(text.to_string()),
                _ => return Err(invalid()),
            }
        }
        values.sort();
        values.dedup();
        self.canonical.insert(key, Value::from(values.clone()));
        Ok(Some(values))
    }
}

impl Filters {
    /// Parses the parameters `entity`'s endpoint accepts; `Err` is the `invalid_input`
    /// message. Parameters the fake does not act on (`expand`, `jobBoardId`,
    /// `includeUnpublishedJobPostingsIds`) and unknown keys are ignored.
    // FIXME: `expand` (openings, location) is ignored, so a client relying on expanded fields
    // gets records without them; `includeUnpublishedJobPostingsIds` is ignored (jobPostingIds
    // always lists every posting); `jobBoardId` is ignored because every posting is on the
    // primary board, so a client iterating job boards is not exercised.
    pub(crate) fn parse(entity: Entity, body: &Map<String, Value>) -> Result<Filters, String> {
        let mut reader = Reader { body, canonical: BTreeMap::new() };
        let mut filters = Filters::default();
        match entity {
            Entity::Applications => {
                filters.created_after = reader.millis("createdAfter")?;
                filters.statuses =
                    reader.one_of("status", APPLICATION_STATUSES)?.map(|status| vec![status]);
                filters.job_id = reader.text("jobId")?;
            }
            Entity::ArchiveReasons
            | Entity::CandidateTags
            | Entity::Departments
            | Entity::FeedbackFormDefinitions
            | Entity::Sources => filters.include_archived = reader.boolean("includeArchived")?,
            Entity::CustomFields => {
                // Accepted (ESTUARY sends it) but without effect: custom fields are always
                // returned, archived ones included.
                reader.boolean("includeArchived")?;
                reader.canonical.clear();
            }
            Entity::Candidates => {}
            Entity::InterviewSchedules => {
                filters.created_after = reader.millis("createdAfter")?;
                filters.application_id = reader.text("applicationId")?;
                filters.stage_id = reader.text("interviewStageId")?;
            }
            Entity::JobPostings => {
                filters.listed_only = reader.boolean("listedOnly")?;
                filters.location_name = reader.text("location")?;
                filters.department_name = reader.text("department")?;
            }
            Entity::Jobs => {
                filters.statuses = reader.list_of("status", JOB_STATUSES)?;
                filters.opened_after = reader.millis("openedAfter")?;
                filters.opened_before = reader.millis("openedBefore")?;
                filters.closed_after = reader.millis("closedAfter")?;
                filters.closed_before = reader.millis("closedBefore")?;
            }
            Entity::Locations => {
                filters.include_archived = reader.boolean("includeArchived")?;
                filters.include_hierarchy = reader.boolean("includeLocationHierarchy")?;
            }
            Entity::Offers => {
                filters.offer_statuses = reader.list_of("offerStatus", OFFER_STATUSES)?;
                filters.acceptance_statuses =
                    reader.list_of("acceptanceStatus", ACCEPTANCE_STATUSES)?;
                filters.application_id = reader.text("applicationId")?;
            }
            Entity::Users => filters.include_deactivated = reader.boolean("includeDeactivated")?,
        }
        filters.canonical = serde_json::to_string(&reader.canonical)
            .map_err(|error| format!("filters cannot be encoded: {error}"))?;
        Ok(filters)
    }

    /// Parses filters back from their canonical JSON (as carried in a cursor).
    pub(crate) fn from_canonical(entity: Entity, canonical: &str) -> Option<Filters> {
        let body: Map<String, Value> = serde_json::from_str(canonical).ok()?;
        Filters::parse(entity, &body).ok()
    }

    /// True when a record with `meta` belongs in the response.
    pub(crate) fn matches(&self, entity: Entity, meta: &Meta) -> bool {
        match entity {
            Entity::Applications => {
                after(meta.created_ms, self.created_after)
                    && one_of(meta.status.as_deref(), self.statuses.as_deref())
                    && equals(meta.job_id.as_deref(), self.job_id.as_deref())
            }
            Entity::ArchiveReasons
            | Entity::CandidateTags
            | Entity::Departments
            | Entity::FeedbackFormDefinitions
            | Entity::Sources => self.include_archived || !meta.archived,
            Entity::Candidates | Entity::CustomFields => true,
            Entity::InterviewSchedules => {
                // A schedule without events has no creation time; it is kept rather than lost.
                (meta.created_ms.is_none() || after(meta.created_ms, self.created_after))
                    && equals(meta.application_id.as_deref(), self.application_id.as_deref())
                    && equals(meta.stage_id.as_deref(), self.stage_id.as_deref())
            }
            Entity::JobPostings => {
                (!self.listed_only || meta.listed)
                    && equals(meta.location_name.as_deref(), self.location_name.as_deref())
                    && equals(meta.department_name.as_deref(), self.department_name.as_deref())
            }
            Entity::Jobs => {
                let status_ok = match &self.statuses {
                    Some(statuses) => one_of(meta.status.as_deref(), Some(statuses)),
                    None => meta.status.as_deref() != Some("Draft"),
                };
                status_ok
                    && after(meta.opened_ms, self.opened_after)
                    && before(meta.opened_ms, self.opened_before)
                    && after(meta.closed_ms, self.closed_after)
                    && before(meta.closed_ms, self.closed_before)
            }
            Entity::Locations => {
                (self.include_archived || !meta.archived)
                    && (self.include_hierarchy || !meta.hierarchy)
            }
            Entity::Offers => {
                one_of(meta.offer_status.as_deref(), self.offer_statuses.as_deref())
                    && one_of(
                        meta.acceptance_status.as_deref(),
                        self.acceptance_statuses.as_deref(),
                    )
                    && equals(meta.application_id.as_deref(), self.application_id.as_deref())
            }
            Entity::Users => self.include_deactivated || !meta.deactivated,
        }
    }
}

fn after(value: Option<i64>, bound: Option<i64>) -> bool {
    bound.is_none_or(|bound| value.is_some_and(|value| value >= bound))
}

fn before(value: Option<i64>, bound: Option<i64>) -> bool {
    bound.is_none_or(|bound| value.is_some_and(|value| value < bound))
}

fn equals(value: Option<&str>, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|wanted| value == Some(wanted))
}

fn one_of(value: Option<&str>, allowed: Option<&[String]>) -> bool {
    allowed
        .is_none_or(|allowed| value.is_some_and(|value| allowed.iter().any(|item| item == value)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("test bodies are objects")
    }

    #[test]
    fn defaults_hide_archived_deactivated_draft_and_hierarchy_records() {
        let none = body(json!({}));
        let archived = Meta { archived: true, ..Meta::default() };
        assert!(
            !Filters::parse(Entity::Departments, &none)
                .expect("valid")
                .matches(Entity::Departments, &archived)
        );
        assert!(
            Filters::parse(Entity::CustomFields, &none)
                .expect("valid")
                .matches(Entity::CustomFields, &archived)
        );
        let deactivated = Meta { deactivated: true, ..Meta::default() };
        assert!(
            !Filters::parse(Entity::Users, &none)
                .expect("valid")
                .matches(Entity::Users, &deactivated)
        );
        let draft = Meta { status: Some("Draft".into()), ..Meta::default() };
        assert!(!Filters::parse(Entity::Jobs, &none).expect("valid").matches(Entity::Jobs, &draft));
        let region = Meta { hierarchy: true, ..Meta::default() };
        let archived_only = body(json!({ "includeArchived": true }));
        let locations = Filters::parse(Entity::Locations, &archived_only).expect("valid");
        assert!(!locations.matches(Entity::Locations, &region));
        assert!(locations.matches(Entity::Locations, &archived));
    }

    #[test]
    fn explicit_flags_and_status_lists_reveal_hidden_records() {
        let draft = Meta { status: Some("Draft".into()), ..Meta::default() };
        let open = Meta { status: Some("Open".into()), ..Meta::default() };
        let all = body(json!({ "status": ["Open", "Draft", "Closed", "Archived"] }));
        let jobs = Filters::parse(Entity::Jobs, &all).expect("valid");
        assert!(jobs.matches(Entity::Jobs, &draft) && jobs.matches(Entity::Jobs, &open));
        let drafts =
            Filters::parse(Entity::Jobs, &body(json!({ "status": ["Draft"] }))).expect("valid");
        assert!(!drafts.matches(Entity::Jobs, &open));
        let deactivated = Meta { deactivated: true, ..Meta::default() };
        let users = Filters::parse(Entity::Users, &body(json!({ "includeDeactivated": true })))
            .expect("valid");
        assert!(users.matches(Entity::Users, &deactivated));
    }

    #[test]
    fn canonical_text_ignores_defaults_and_order_and_survives_a_round_trip() {
        let first =
            Filters::parse(Entity::Jobs, &body(json!({ "status": ["Open", "Draft"], "limit": 5 })))
                .expect("valid");
        let second =
            Filters::parse(Entity::Jobs, &body(json!({ "status": ["Draft", "Open", "Open"] })))
                .expect("valid");
        assert_eq!(first.canonical, r#"{"status":["Draft","Open"]}"#);
        assert_eq!(first, second);
        assert_eq!(Filters::from_canonical(Entity::Jobs, &first.canonical), Some(first));
        let plain = Filters::parse(Entity::Locations, &body(json!({ "includeArchived": false })))
            .expect("valid");
        assert_eq!(plain.canonical, "{}");
    }

    #[test]
    fn wrongly_typed_or_unknown_enum_parameters_are_invalid_input() {
        let cases = [
            (Entity::Sources, json!({ "includeArchived": "yes" })),
            (Entity::Jobs, json!({ "status": "Open" })),
            (Entity::Jobs, json!({ "status": [] })),
            (Entity::Jobs, json!({ "status": ["Paused"] })),
            (Entity::Applications, json!({ "status": "Rejected" })),
            (Entity::Applications, json!({ "createdAfter": "2024-01-01" })),
            (Entity::Offers, json!({ "applicationId": 7 })),
        ];
        for (entity, case) in cases {
            assert!(
                Filters::parse(entity, &body(case.clone())).is_err(),
                "{case} should be rejected"
            );
        }
        let float =
            Filters::parse(Entity::Applications, &body(json!({ "createdAfter": 1704067200000.0 })));
        assert_eq!(
            float.expect("floats are accepted").canonical,
            r#"{"createdAfter":1704067200000}"#
        );
    }

    #[test]
    fn record_facts_come_from_the_record_fields() {
        let schedule = json!({
            "applicationId": "a", "interviewStageId": "s",
            "interviewEvents": [
                { "createdAt": "2025-03-05T10:00:00Z" },
                { "createdAt": "2025-03-04T10:00:00.000Z" },
            ],
        });
        let meta = meta_of(Entity::InterviewSchedules, &schedule);
        assert_eq!(meta.application_id.as_deref(), Some("a"));
        assert_eq!(meta.created_ms, parse_millis("2025-03-04T10:00:00Z"));
        let user = meta_of(Entity::Users, &json!({ "isEnabled": false }));
        assert!(user.deactivated);
    }
}
