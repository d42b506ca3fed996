//! The `[sources.<name>]` table of a spec with `type = "ashby"`, and its offline validation.
//!
//! The field names are a public contract: specs in the wild use them. Validation does no IO
//! (it neither reads the key nor contacts Ashby), so `ashflow check` can report every mistake
//! with its line before anything runs.

use std::collections::BTreeSet;
use std::time::Duration;

use ashflow_core::{ConfigTable, Result, Secret, SpecContext};
use reqwest::Url;
use serde::Deserialize;

use crate::entities::Entity;

/// The base URL of Ashby's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.ashbyhq.com";

/// The largest page Ashby serves.
const MAX_PAGE_SIZE: u32 = 100;

/// Settings of an Ashby source, as written in the spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AshbySourceConfig {
    /// The Ashby API key: `${ASHBY_API_KEY}` to read it from the environment (recommended),
    /// `file:PATH` to read it from a file, or the key itself (discouraged). Create one in
    /// Ashby under Admin > API Keys with read permissions for the entities to export.
    pub api_key: Secret,

    /// The Ashby API's base URL; change it only to reach a proxy or a test server.
    #[serde(default = "default_base_url")]
    pub base_url: String,

    /// The entities to read; all 14 when absent.
    #[serde(default)]
    pub entities: Option<Vec<String>>,

    /// Entities not to read, applied after `entities`.
    #[serde(default)]
    pub exclude: Option<Vec<String>>,

    /// The most requests this source has in flight at once, across all entities. After Ashby
    /// answers "too many requests" the source lowers it for a while by itself.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,

    /// Records asked for per page, from 1 to 100 (Ashby's maximum).
    #[serde(default = "default_page_size")]
    pub page_size: u32,

    /// Seconds one HTTP request may take before it is abandoned and retried.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,

    /// How many times one request is retried after a transient failure (rate limiting,
    /// server errors, timeouts, dropped connections) before the entity fails.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,

    /// The most seconds spent retrying one request, waits included, before the entity fails.
    #[serde(default = "default_max_retry_secs")]
    pub max_retry_secs: u64,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

const fn default_max_concurrent_requests() -> usize {
    4
}

const fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}

const fn default_request_timeout_secs() -> u64 {
    60
}

const fn default_max_retries() -> u32 {
    8
}

const fn default_max_retry_secs() -> u64 {
    300
}

/// A configuration that passed validation, in the form the client uses.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The key reference, resolved only when the source is built.
    pub(crate) api_key: Secret,
    /// The base URL without a trailing slash.
    pub(crate) base_url: String,
    /// The entities to read, in table order.
    pub(crate) entities: Vec<&'static Entity>,
    /// See [`AshbySourceConfig::max_concurrent_requests`].
    pub(crate) max_concurrent_requests: usize,
    /// See [`AshbySourceConfig::page_size`].
    pub(crate) page_size: u32,
    /// See [`AshbySourceConfig::request_timeout_secs`].
    pub(crate) request_timeout: Duration,
    /// See [`AshbySourceConfig::max_retries`].
    pub(crate) max_retries: u32,
    /// See [`AshbySourceConfig::max_retry_secs`].
    pub(crate) retry_budget: Duration,
}

impl AshbySourceConfig {
    /// Reads and checks the spec table, reporting problems at their line.
    pub(crate) fn validate(table: &ConfigTable, context: &SpecContext) -> Result<Settings> {
        let config: AshbySourceConfig = table.deserialize()?;

        if config.api_key.is_literal() {
            tracing::warn!(
                component = "ashby",
                source_name = %context.component_id,
                "The API key is written into the spec; prefer api_key = \"${{ASHBY_API_KEY}}\"."
            );
        }
        let base_url = normalize_base_url(&config.base_url)
            .map_err(|message| table.error_at("base_url", message))?;
        let entities = config.selected_entities(table)?;
        config.check_limits(table)?;

        Ok(Settings {
            api_key: config.api_key.relative_to(context),
            base_url,
            entities,
            max_concurrent_requests: config.max_concurrent_requests,
            page_size: config.page_size,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            max_retries: config.max_retries,
            retry_budget: Duration::from_secs(config.max_retry_secs),
        })
    }

    /// The entities left after `entities` and then `exclude`, in table order.
    fn selected_entities(&self, table: &ConfigTable) -> Result<Vec<&'static Entity>> {
        let included = match &self.entities {
            Some(names) if names.is_empty() => {
                return Err(table.error_at(
                    "entities",
                    "lists no entity; remove the key to read all 14 entities",
                ));
            }
            Some(names) => known_names(names).map_err(|m| table.error_at("entities", m))?,
            None => Entity::names().into_iter().collect(),
        };
        let excluded = match &self.exclude {
            Some(names) => known_names(names).map_err(|m| table.error_at("exclude", m))?,
            None => BTreeSet::new(),
        };

        let selected: Vec<_> = crate::entities::ENTITIES
            .iter()
            .filter(|entity| included.contains(entity.name) && !excluded.contains(entity.name))
            .collect();
        if selected.is_empty() {
            return Err(table.error_at(
                "exclude",
                "excludes every entity that `entities` selects, so nothing would be read",
            ));
        }
        Ok(selected)
    }

    fn check_limits(&self, table: &ConfigTable) -> Result<()> {
        if self.max_concurrent_requests == 0 {
            return Err(table.error_at("max_concurrent_requests", "must be at least 1"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(table.error_at(
                "page_size",
                format!(
                    "must be from 1 to {MAX_PAGE_SIZE} (Ashby's largest page), not {}",
                    self.page_size
                ),
            ));
        }
        if self.request_timeout_secs == 0 {
            return Err(table.error_at("request_timeout_secs", "must be at least 1 second"));
        }
        Ok(())
    }
}

/// The names in `names` as static entity names, or a message naming the first unknown one and
/// listing the valid ones.
fn known_names(names: &[String]) -> std::result::Result<BTreeSet<&'static str>, String> {
    names
        .iter()
        .map(|name| {
            Entity::named(name).map(|entity| entity.name).ok_or_else(|| {
                format!(
                    "`{name}` is not an Ashby entity; valid entities are {}",
                    Entity::names().join(", ")
                )
            })
        })
        .collect()
}

/// The base URL without its trailing slash, or why it cannot be used.
fn normalize_base_url(text: &str) -> std::result::Result<String, String> {
    let url = Url::parse(text.trim()).map_err(|error| {
        format!("`{text}` is not a URL ({error}); the default is {DEFAULT_BASE_URL}")
    })?;

    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}` must start with https:// (or http:// for a local server)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials; put the key in `api_key`".to_string());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` must not have a query or fragment; endpoints are appended to its path"
        ));
    }

    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn context() -> SpecContext {
        SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "ashby".into() }
    }

    fn validate(body: &str) -> Result<Settings> {
        let text = format!("[sources.ashby]\ntype = \"ashby\"\n{body}");
        let table = ConfigTable::new(
            "spec.toml",
            std::sync::Arc::from(text.as_str()),
            vec!["sources".into(), "ashby".into()],
        );
        AshbySourceConfig::validate(&table, &context())
    }

    fn error(body: &str) -> String {
        match validate(body) {
            Ok(_) => panic!("expected an error for {body:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn defaults_read_all_entities_from_ashby() {
        let settings = validate("api_key = \"${ASHBY_API_KEY}\"\n").expect("valid");
        assert_eq!(settings.base_url, "https://api.ashbyhq.com");
        assert_eq!(settings.entities.len(), 14);
        assert_eq!(settings.max_concurrent_requests, 4);
        assert_eq!(settings.page_size, 100);
        assert_eq!(settings.request_timeout, Duration::from_secs(60));
        assert_eq!(settings.max_retries, 8);
        assert_eq!(settings.retry_budget, Duration::from_secs(300));
        assert_eq!(settings.api_key.env_var(), Some("ASHBY_API_KEY"));
    }

    #[test]
    fn an_unknown_key_is_reported_with_its_line() {
        let message = error("api_key = \"${K}\"\npage_sise = 10\n");
        assert!(message.starts_with("spec.toml:4:1: "), "{message}");
        assert!(message.contains("unknown field `page_sise`"), "{message}");
    }

    #[test]
    fn a_missing_api_key_is_an_error() {
        let message = error("page_size = 10\n");
        assert!(message.contains("missing field `api_key`"), "{message}");
    }

    #[test]
    fn an_unknown_entity_lists_the_valid_ones() {
        let message = error("api_key = \"${K}\"\nentities = [\"candidates\", \"orders\"]\n");
        assert!(message.starts_with("spec.toml:4:1: `entities`: "), "{message}");
        assert!(message.contains("`orders` is not an Ashby entity"), "{message}");
        assert!(message.contains("applications, archive_reasons, candidate_tags"), "{message}");
        assert!(message.contains("sources, users"), "{message}");

        let message = error("api_key = \"${K}\"\nexclude = [\"offer\"]\n");
        assert!(message.contains("`exclude`: `offer` is not an Ashby entity"), "{message}");
    }

    #[test]
    fn exclude_applies_after_entities() {
        let settings = validate(
            "api_key = \"${K}\"\n\
             entities = [\"users\", \"offers\", \"jobs\"]\n\
             exclude = [\"offers\"]\n",
        )
        .expect("valid");
        let names: Vec<_> = settings.entities.iter().map(|e| e.name).collect();
        assert_eq!(names, ["jobs", "users"]);

        let settings = validate("api_key = \"${K}\"\nexclude = [\"offers\"]\n").expect("valid");
        assert_eq!(settings.entities.len(), 13);
    }

    #[test]
    fn selecting_nothing_is_an_error() {
        let message =
            error("api_key = \"${K}\"\nentities = [\"offers\"]\nexclude = [\"offers\"]\n");
        assert!(message.starts_with("spec.toml:5:1: `exclude`: "), "{message}");
        assert!(message.contains("nothing would be read"), "{message}");

        let message = error("api_key = \"${K}\"\nentities = []\n");
        assert!(message.contains("lists no entity"), "{message}");
    }

    #[test]
    fn limits_are_checked_at_their_line() {
        let message = error("api_key = \"${K}\"\npage_size = 101\n");
        assert!(
            message.starts_with("spec.toml:4:1: `page_size`: must be from 1 to 100"),
            "{message}"
        );
        assert!(error("api_key = \"${K}\"\npage_size = 0\n").contains("`page_size`"));
        assert!(
            error("api_key = \"${K}\"\nmax_concurrent_requests = 0\n")
                .contains("`max_concurrent_requests`: must be at least 1")
        );
        assert!(error("api_key = \"${K}\"\nrequest_timeout_secs = 0\n").contains("at least 1"));
        let message = error("api_key = \"${K}\"\nmax_retries = -1\n");
        assert!(message.starts_with("spec.toml:4:"), "{message}");
    }

    #[test]
    fn base_urls_must_be_plain_http_addresses() {
        let settings =
            validate("api_key = \"${K}\"\nbase_url = \"http://127.0.0.1:8080/\"\n").expect("valid");
        assert_eq!(settings.base_url, "http://127.0.0.1:8080");
        let settings =
            validate("api_key = \"${K}\"\nbase_url = \"https://proxy.example/ashby/\"\n")
                .expect("valid");
        assert_eq!(settings.base_url, "https://proxy.example/ashby");

        for (url, expected) in [
            ("api.ashbyhq.com", "is not a URL"),
            ("ftp://api.ashbyhq.com", "must start with https://"),
            ("https://key:x@api.ashbyhq.com", "must not contain credentials"),
            ("https://api.ashbyhq.com/?a=1", "must not have a query"),
        ] {
            let message = error(&format!("api_key = \"${{K}}\"\nbase_url = \"{url}\"\n"));
            assert!(message.starts_with("spec.toml:4:1: `base_url`: "), "{message}");
            assert!(message.contains(expected), "{url}: {message}");
        }
    }

    #[test]
    fn file_keys_are_resolved_against_the_spec_folder() {
        let settings = validate("api_key = \"file:ashby.key\"\n").expect("valid");
        assert_eq!(settings.api_key.to_string(), "file:/specs/ashby.key");
    }
}
