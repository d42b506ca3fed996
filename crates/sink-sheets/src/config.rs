//! The `google_sheets` sink's spec keys, their defaults, and the offline check that turns a
//! spec table into a [`ValidatedSheetsSink`].
//!
//! Nothing here reads the key file or talks to Google: `ashflow check` must work offline. The
//! key file is read and the spreadsheet's sharing checked when the sink is opened.

use std::path::PathBuf;
use std::time::Duration;

use ashflow_core::{ConfigTable, Result, SpecContext};
use serde::Deserialize;

/// Google's API root.
pub const DEFAULT_BASE_URL: &str = "https://sheets.googleapis.com/";

/// Write requests per minute the sink allows itself: Google's default quota per user.
pub const DEFAULT_WRITE_REQUESTS_PER_MINUTE: u32 = 60;

/// The largest request body the sink builds by default. Google refuses bodies over 10 MB and
/// recommends about 2 MB, which also keeps a retried request cheap.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// The largest `max_request_bytes` accepted: well under Google's 10 MB limit, because a body's
/// size is estimated from its values and the envelope adds to it.
pub const MAX_REQUEST_BYTES_LIMIT: usize = 8 * 1024 * 1024;

/// How a dataset's rows meet the rows already in its tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// The tab ends with exactly the new data, written over the old in place.
    #[default]
    Replace,
    /// New rows go below the old ones, matched to the existing header by column name.
    Append,
    /// Rows whose key exists are updated in place, new rows are added at the end, and every
    /// other row stays where it is.
    Upsert,
}

impl std::fmt::Display for WriteMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteMode::Replace => "replace",
            WriteMode::Append => "append",
            WriteMode::Upsert => "upsert",
        })
    }
}

/// The configuration of a `google_sheets` sink, as written under `[sinks.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetsSinkConfig {
    /// The service account's JSON key file: a path (relative to the spec's folder unless
    /// absolute), or `${VARIABLE}` naming an environment variable that holds the path, such as
    /// `${GOOGLE_APPLICATION_CREDENTIALS}`.
    pub credentials: String,

    /// The spreadsheet to write: its id, or its whole URL as copied from the browser. It must
    /// be shared with the service account's e-mail as an editor.
    pub spreadsheet_id: String,

    /// The API root, `https://sheets.googleapis.com/` unless overridden (tests point it at a
    /// local fake). The token endpoint is always the key file's own `token_uri`.
    #[serde(default)]
    pub base_url: Option<String>,

    /// `replace` (the default), `append` or `upsert`.
    #[serde(default)]
    pub mode: WriteMode,

    /// The column that identifies a row in `upsert` mode, `id` by default. Only valid with
    /// `mode = "upsert"`.
    #[serde(default)]
    pub key: Option<String>,

    /// Write requests the sink sends per minute at most, 60 by default (Google's default quota
    /// per user). Raise it only when the project's quota was raised; at most 300.
    #[serde(default = "default_write_requests_per_minute")]
    pub write_requests_per_minute: u32,

    /// The largest request body in bytes, 2 MiB by default, at most 8 MiB (Google's limit is
    /// 10 MB).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
}

fn default_write_requests_per_minute() -> u32 {
    DEFAULT_WRITE_REQUESTS_PER_MINUTE
}

fn default_max_request_bytes() -> usize {
    DEFAULT_MAX_REQUEST_BYTES
}

/// Where the key file is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSource {
    /// A path written in the spec, resolved against the spec's folder.
    Path(PathBuf),
    /// An environment variable holding the path, read when the sink opens.
    EnvVar(String),
}

/// Timing knobs that are not part of the spec; tests shrink them to run fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The first backoff wait, doubled on each retry.
    pub min_backoff: Duration,
    /// The longest backoff wait.
    pub max_backoff: Duration,
    /// Retries of one request before giving up.
    pub max_retries: u32,
    /// The window `write_requests_per_minute` counts over: a minute.
    pub quota_window: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(64),
            max_retries: 10,
            quota_window: Duration::from_secs(60),
        }
    }
}

/// A `google_sheets` sink whose configuration has been checked, ready to open.
#[derive(Debug, Clone)]
pub struct ValidatedSheetsSink {
    pub(crate) component_id: String,
    pub(crate) credentials: CredentialsSource,
    pub(crate) spreadsheet_id: String,
    pub(crate) base_url: String,
    pub(crate) mode: WriteMode,
    pub(crate) key: String,
    pub(crate) write_requests_per_minute: u32,
    pub(crate) max_request_bytes: usize,
    pub(crate) timing: Timing,
}

impl ValidatedSheetsSink {
    /// The spreadsheet's id (extracted from the URL when one was given).
    pub fn spreadsheet_id(&self) -> &str {
        &self.spreadsheet_id
    }

    /// The API root, ending in `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The write mode.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// The upsert key column.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the key file is named.
    pub fn credentials(&self) -> &CredentialsSource {
        &self.credentials
    }

    /// Replaces the backoff schedule (1 s doubling to 64 s by default) and the retries per
    /// request (10).
    ///
    /// Not part of the spec: tests use it to exercise retries in milliseconds.
    #[doc(hidden)]
    pub fn with_backoff(mut self, min: Duration, max: Duration, max_retries: u32) -> Self {
        self.timing.min_backoff = min;
        self.timing.max_backoff = max.max(min);
        self.timing.max_retries = max_retries;
        self
    }

    /// Replaces the minute that `write_requests_per_minute` counts over.
    ///
    /// Not part of the spec: tests use it to exercise pacing without waiting minutes.
    #[doc(hidden)]
    pub fn with_quota_window(mut self, window: Duration) -> Self {
        self.timing.quota_window = window;
        self
    }
}

impl SheetsSinkConfig {
    /// Checks the values. Does no IO.
    pub fn validate(
        self,
        table: &ConfigTable,
        context: &SpecContext,
    ) -> Result<ValidatedSheetsSink> {
        let credentials = parse_credentials(&self.credentials, context)
            .map_err(|message| table.error_at("credentials", message))?;
        let spreadsheet_id = parse_spreadsheet_id(&self.spreadsheet_id)
            .map_err(|message| table.error_at("spreadsheet_id", message))?;
        let base_url = match self.base_url {
            None => DEFAULT_BASE_URL.to_string(),
            Some(url) => {
                parse_base_url(&url).map_err(|message| table.error_at("base_url", message))?
            }
        };
        if self.key.is_some() && self.mode != WriteMode::Upsert {
            return Err(table.error_at(
                "key",
                format!(
                    "only applies to mode = \"upsert\", but the mode is \"{}\"; remove `key` or \
                     set mode = \"upsert\"",
                    self.mode
                ),
            ));
        }
        let key = self.key.unwrap_or_else(|| "id".to_string());
        if key.trim().is_empty() {
            return Err(table.error_at("key", "must name a column, for example key = \"id\""));
        }
        if !(1..=300).contains(&self.write_requests_per_minute) {
            return Err(table.error_at(
                "write_requests_per_minute",
                format!(
                    "{} is out of range; use 1 to 300 (Google's default quota is 60 per user)",
                    self.write_requests_per_minute
                ),
            ));
        }
        if !(64 * 1024..=MAX_REQUEST_BYTES_LIMIT).contains(&self.max_request_bytes) {
            return Err(table.error_at(
                "max_request_bytes",
                format!(
                    "{} is out of range; use 65536 to {MAX_REQUEST_BYTES_LIMIT}, or leave it out \
                     for the default of {DEFAULT_MAX_REQUEST_BYTES}",
                    self.max_request_bytes
                ),
            ));
        }
        Ok(ValidatedSheetsSink {
            component_id: context.component_id.clone(),
            credentials,
            spreadsheet_id,
            base_url,
            mode: self.mode,
            key,
            write_requests_per_minute: self.write_requests_per_minute,
            max_request_bytes: self.max_request_bytes,
            timing: Timing::default(),
        })
    }
}

fn parse_credentials(
    text: &str,
    context: &SpecContext,
) -> std::result::Result<CredentialsSource, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must name the service account's JSON key file, for example credentials = \
                    \"${GOOGLE_APPLICATION_CREDENTIALS}\" or credentials = \"keys/exporter.json\""
            .into());
    }
    if let Some(name) = text.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')) {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{text}` is not a valid environment variable reference"));
        }
        return Ok(CredentialsSource::EnvVar(name.to_string()));
    }
    if text.trim_start().starts_with('{') {
        return Err("holds the key itself; save the key as a file and give its path, so the \
                    private key stays out of the spec"
            .into());
    }
    Ok(CredentialsSource::Path(context.resolve_path(text)))
}

/// The id of a spreadsheet given as an id or as its URL
/// (`https://docs.google.com/spreadsheets/d/<id>/edit#gid=0`).
pub fn parse_spreadsheet_id(text: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    let id = match text.split_once("/spreadsheets/d/") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or(""),
        None if text.contains("://") => {
            return Err(format!(
                "`{text}` is not a Google Sheets URL; copy the spreadsheet's address, which \
                 looks like https://docs.google.com/spreadsheets/d/<id>/edit"
            ));
        }
        None => text,
    };
    let legal =
        !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !legal {
        return Err(format!(
            "`{text}` is not a spreadsheet id; give the id (the long part between /d/ and /edit \
             in the spreadsheet's address) or the whole address"
        ));
    }
    Ok(id.to_string())
}

fn parse_base_url(text: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    let host = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"));
    match host {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {}
        _ => {
            return Err(format!(
                "`{text}` is not an http(s) URL; leave base_url out to use {DEFAULT_BASE_URL}"
            ));
        }
    }
    Ok(if text.ends_with('/') { text.to_string() } else { format!("{text}/") })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn validate(body: &str) -> Result<ValidatedSheetsSink> {
        let document = format!("[sinks.sheet]\ntype = \"google_sheets\"\n{body}");
        let table = ConfigTable::new(
            "spec.toml",
            Arc::from(document),
            vec!["sinks".into(), "sheet".into()],
        );
        let context =
            SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "sheet".into() };
        table.deserialize::<SheetsSinkConfig>()?.validate(&table, &context)
    }

    #[test]
    fn defaults_replace_through_google_with_the_id_key() {
        let sink =
            validate("credentials = \"keys/sa.json\"\nspreadsheet_id = \"abc_DEF-123\"\n").unwrap();
        assert_eq!(
            sink.credentials(),
            &CredentialsSource::Path(PathBuf::from("/specs/keys/sa.json"))
        );
        assert_eq!(sink.spreadsheet_id(), "abc_DEF-123");
        assert_eq!(sink.base_url(), DEFAULT_BASE_URL);
        assert_eq!(sink.mode(), WriteMode::Replace);
        assert_eq!(sink.key(), "id");
        assert_eq!(sink.write_requests_per_minute, 60);
    }

    #[test]
    fn a_spreadsheet_url_gives_its_id_and_env_references_are_kept() {
        let sink = validate(
            "credentials = \"${GOOGLE_APPLICATION_CREDENTIALS}\"\nspreadsheet_id = \
             \"https://docs.google.com/spreadsheets/d/1AbC-x_9/edit#gid=0\"\nmode = \"upsert\"\n\
             key = \"candidate.id\"\nbase_url = \"http://127.0.0.1:9\"\n",
        )
        .unwrap();
        assert_eq!(sink.spreadsheet_id(), "1AbC-x_9");
        assert_eq!(
            sink.credentials(),
            &CredentialsSource::EnvVar("GOOGLE_APPLICATION_CREDENTIALS".into())
        );
        assert_eq!(sink.key(), "candidate.id");
        assert_eq!(sink.base_url(), "http://127.0.0.1:9/");
    }

    #[test]
    fn mistakes_are_reported_at_their_key_with_what_to_do() {
        let cases = [
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"https://example.com/x\"\n",
                "spec.toml:4:1: `spreadsheet_id`",
                "docs.google.com/spreadsheets/d/",
            ),
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"has space\"\n",
                "spec.toml:4:1: `spreadsheet_id`",
                "between /d/ and /edit",
            ),
            (
                "credentials = \"\"\nspreadsheet_id = \"x\"\n",
                "spec.toml:3:1: `credentials`",
                "GOOGLE_APPLICATION_CREDENTIALS",
            ),
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"x\"\nkey = \"id\"\n",
                "spec.toml:5:1: `key`",
                "mode = \"upsert\"",
            ),
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"x\"\nmode = \"merge\"\n",
                "spec.toml:5:",
                "upsert",
            ),
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"x\"\nwrite_requests_per_minute = 0\n",
                "`write_requests_per_minute`",
                "1 to 300",
            ),
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"x\"\nbase_url = \"ftp://x\"\n",
                "`base_url`",
                "http(s)",
            ),
            (
                "credentials = \"a.json\"\nspreadsheet_id = \"x\"\ntab = 1\n",
                "spec.toml:5:1",
                "unknown field `tab`",
            ),
        ];
        for (body, location, advice) in cases {
            let message = validate(body).unwrap_err().to_string();
            assert!(message.contains(location), "{body}: {message}");
            assert!(message.contains(advice), "{body}: {message}");
        }
    }
}
