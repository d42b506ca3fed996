//! The Ashby source: reads the 14 Ashby entities through Ashby's public API as typed streams.
//!
//! Spec type `ashby`. The source validates its table offline ([`ValidatedAshbySource`]), then
//! builds one HTTP client per run ([`AshbySource`]) that every stream shares, with one cap on
//! requests in flight. Each stream is read page by page and sent to the runner one batch per
//! page; incremental streams start from the runner's sync token and report the next one.
//!
//! - [`config`]: the spec keys and their validation.
//! - `entities` / `schemas`: the 14 streams, their endpoints, request filters and typed fields.
//! - `client` / `envelope` / `retry` / `limiter`: HTTP, Ashby's answer format, retries with
//!   backoff, and the adaptive concurrency cap.
//! - `reader`: the pass loop with its recovery from cursor and sync-token errors.
//!
//! # Limitations
//!
//! - Job postings are read from the primary job board only (see the FIXME in `entities`).
//! - Ashby's list endpoints signal no deletions; an incremental pass cannot see deleted records.

mod client;
pub mod config;
mod entities;
mod envelope;
mod error;
mod limiter;
mod reader;
mod retry;
mod schemas;
mod source;

use ashflow_core::prelude::*;

pub use config::{AshbySourceConfig, DEFAULT_BASE_URL};
pub use source::{AshbySource, ValidatedAshbySource};

/// The `type` a spec uses for this source.
pub const SOURCE_TYPE: &str = "ashby";

/// A complete spec table for the source, with every key at its default or a typical value.
pub const EXAMPLE: &str = r#"[sources.ashby]
type = "ashby"
# The API key, read from an environment variable; create one in Ashby under Admin > API Keys.
api_key = "${ASHBY_API_KEY}"
# Leave `entities` out to read all 14; `exclude` is applied after it.
entities = [
    "applications", "archive_reasons", "candidate_tags", "candidates", "custom_fields",
    "departments", "feedback_form_definitions", "interview_schedules", "job_postings", "jobs",
    "locations", "offers", "sources", "users",
]
exclude = ["feedback_form_definitions"]
base_url = "https://api.ashbyhq.com"
max_concurrent_requests = 4
page_size = 100
request_timeout_secs = 60
max_retries = 8
max_retry_secs = 300
"#;

/// The names of the 14 streams this source can read, sorted.
pub fn entity_names() -> Vec<&'static str> {
    entities::Entity::names()
}

/// Checks an `ashby` spec table and returns the validated source. Does no IO.
pub fn validate(table: &ConfigTable, context: &SpecContext) -> Result<Box<dyn ValidatedSource>> {
    Ok(Box::new(ValidatedAshbySource::from_table(table, context)?))
}

ashflow_core::register_source!(SourceRegistration {
    name: SOURCE_TYPE,
    description: "Reads the 14 Ashby entities (applications, candidates, jobs, offers, users \
                  and their lookups) from Ashby's public API, archived and draft records included",
    example: EXAMPLE,
    validate,
});

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn context() -> SpecContext {
        SpecContext { spec_dir: PathBuf::from("."), component_id: "ashby".into() }
    }

    #[test]
    fn the_example_validates_and_narrows_the_streams() {
        let table = ConfigTable::new(
            "example.toml",
            std::sync::Arc::from(EXAMPLE),
            vec!["sources".into(), "ashby".into()],
        );
        let validated = validate(&table, &context()).expect("valid");
        let names: Vec<_> = validated.streams().into_iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 13);
        assert!(!names.contains(&"feedback_form_definitions".to_string()));
    }

    #[test]
    fn the_source_is_registered_under_its_type() {
        let registration = ashflow_core::plugin::source_registrations()
            .into_iter()
            .find(|registration| registration.name == "ashby")
            .expect("registered");
        assert_eq!(registration.example, EXAMPLE);
    }

    #[test]
    fn every_stream_is_described_with_contact_tags_where_people_are_reached() {
        let validated = ValidatedAshbySource::from_table(
            &ConfigTable::from_toml("api_key = \"${K}\"\n"),
            &context(),
        )
        .expect("valid");
        let streams = ValidatedSource::streams(&validated);
        assert_eq!(streams.len(), 14);
        let with_contacts: Vec<_> = streams
            .iter()
            .filter(|s| s.schema.fields.iter().any(|f| f.holds_contact_details()))
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            with_contacts,
            ["applications", "candidates", "interview_schedules", "jobs", "offers", "users"]
        );
        let incremental = streams.iter().filter(|s| s.incremental).count();
        assert_eq!(incremental, 11);
    }

    #[tokio::test]
    async fn building_resolves_the_key_and_reports_a_missing_variable() {
        let table = ConfigTable::from_toml("api_key = \"${ASHFLOW_TEST_UNSET_ASHBY_KEY}\"\n");
        let validated = validate(&table, &context()).expect("valid");
        let error = match validated.build().await {
            Ok(_) => panic!("the variable is not set"),
            Err(error) => error,
        };
        assert!(error.to_string().contains("export ASHFLOW_TEST_UNSET_ASHBY_KEY="), "{error}");

        let literal = ConfigTable::from_toml("api_key = \"sk_literal_secret\"\n");
        let validated = validate(&literal, &context()).expect("valid");
        assert!(!format!("{validated:?}").contains("sk_literal_secret"));
        let source = validated.build().await.expect("builds offline");
        assert_eq!(source.streams().len(), 14);

        let built = ValidatedAshbySource::from_table(&literal, &context())
            .and_then(ValidatedAshbySource::into_source)
            .expect("builds offline");
        let debug = format!("{built:?}");
        assert!(!debug.contains("sk_literal_secret"), "{debug}");
    }
}
