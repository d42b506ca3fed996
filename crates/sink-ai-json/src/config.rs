//! The `ai_json` sink's spec keys, their defaults, and the offline check that turns a spec table
//! into a [`ValidatedAiJsonSink`].
//!
//! The keys are a public contract: specs in the wild name them, so they are renamed only with a
//! deprecation. Validation reads nothing from disk or the environment (so `ashflow check` works
//! offline); the salt is resolved and the folder touched only when the sink is opened.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use ashflow_core::{ConfigTable, Result, Secret, SpecContext};
use serde::Deserialize;

/// The default largest file size, 4 MiB. See [`AiJsonSinkConfig::max_file_bytes`] for why.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The smallest `max_file_bytes` accepted: below this, most real records would each need a
/// file of their own.
pub const MIN_MAX_FILE_BYTES: u64 = 1024;

/// The configuration of an `ai_json` sink, as written in the spec under `[sinks.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiJsonSinkConfig {
    /// The output folder, relative to the spec file's folder unless absolute. The whole folder
    /// is replaced on every successful run, so it must be new, empty, or an earlier output of
    /// this sink (one with its `dictionary.json`); anything else is refused rather than deleted.
    pub path: PathBuf,

    /// What happens to fields the source tags as a person's contact details (e-mail addresses,
    /// phone numbers, postal addresses, social links, IP addresses, user agents): `redact`
    /// (the default) replaces each value with `[redacted]`; `hash` replaces it with a stable
    /// `sha256:<16 hex digits>` of the trimmed, lowercased value, so people can still be
    /// counted and matched across datasets; `keep` writes them as received.
    #[serde(default)]
    pub contact_details: ContactDetailsPolicy,

    /// The largest size of one output file in bytes; a dataset that does not fit continues in
    /// numbered parts. The default, 4 MiB, is roughly a million tokens of JSON: far below the
    /// per-file upload limits of the common chat tools, small enough for their file search to
    /// index quickly and for a code-interpreter tool to load a part at once, and large enough
    /// that a typical Ashby account needs only a handful of files. To paste a whole part into a
    /// model with a 200k-token context window, lower it to about 512 KiB (524288). At least
    /// 1024; a single record larger than the limit is written alone to its own part, never
    /// dropped.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,

    /// A secret mixed into every hash when `contact_details = "hash"`, written like any secret
    /// (`${ENV_VAR}`, `file:PATH`, or, discouraged, the literal text). Without a salt anyone
    /// can hash a guessed e-mail address and find it in the export; with one they cannot,
    /// while the same value still hashes the same across datasets and runs that use the same
    /// salt. Changing the salt changes every hash.
    #[serde(default)]
    pub hash_salt: Option<Secret>,
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

/// What the sink does with values tagged as contact details.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactDetailsPolicy {
    /// Replace each string or number with the text `[redacted]`.
    #[default]
    Redact,
    /// Replace each string or number with a stable, salted hash.
    Hash,
    /// Write the values as received.
    Keep,
}

impl ContactDetailsPolicy {
    /// The policy's name as the spec spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactDetailsPolicy::Redact => "redact",
            ContactDetailsPolicy::Hash => "hash",
            ContactDetailsPolicy::Keep => "keep",
        }
    }

    /// The past participle the dictionary uses for a field this policy was applied to.
    pub fn treatment(self) -> &'static str {
        match self {
            ContactDetailsPolicy::Redact => "redacted",
            ContactDetailsPolicy::Hash => "hashed",
            ContactDetailsPolicy::Keep => "kept",
        }
    }
}

impl fmt::Display for ContactDetailsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `ai_json` sink whose configuration has been checked, ready to be opened for a run.
#[derive(Debug, Clone)]
pub struct ValidatedAiJsonSink {
    pub(crate) component_id: String,
    pub(crate) path: PathBuf,
    pub(crate) contact_details: ContactDetailsPolicy,
    pub(crate) max_file_bytes: u64,
    pub(crate) hash_salt: Option<Secret>,
}

impl ValidatedAiJsonSink {
    /// The output folder, resolved against the spec's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contact-details policy.
    pub fn contact_details(&self) -> ContactDetailsPolicy {
        self.contact_details
    }

    /// The largest size of one output file in bytes.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }
}

impl AiJsonSinkConfig {
    /// Checks the values and resolves the path against the spec's folder. Does no IO.
    pub fn validate(
        self,
        table: &ConfigTable,
        context: &SpecContext,
    ) -> Result<ValidatedAiJsonSink> {
        check_path(&self.path).map_err(|message| table.error_at("path", message))?;

        if self.max_file_bytes < MIN_MAX_FILE_BYTES {
            return Err(table.error_at(
                "max_file_bytes",
                format!(
                    "{} is too small; use at least {MIN_MAX_FILE_BYTES}, or leave it out for the \
                     default {DEFAULT_MAX_FILE_BYTES} (4 MiB)",
                    self.max_file_bytes
                ),
            ));
        }

        // A salt with any other policy would suggest hashing is on when it is not.
        if self.hash_salt.is_some() && self.contact_details != ContactDetailsPolicy::Hash {
            return Err(table.error_at(
                "hash_salt",
                format!(
                    "has no effect with contact_details = \"{}\"; set contact_details = \"hash\" \
                     or remove hash_salt",
                    self.contact_details
                ),
            ));
        }

        Ok(ValidatedAiJsonSink {
            component_id: context.component_id.clone(),
            path: context.resolve_path(&self.path),
            contact_details: self.contact_details,
            max_file_bytes: self.max_file_bytes,
            hash_salt: self.hash_salt.map(|salt| salt.relative_to(context)),
        })
    }
}

/// Refuses paths that cannot name a folder of its own, such as `""`, `/` or `out/..`, because
/// the sink replaces the folder as a whole and must know its parent.
fn check_path(path: &Path) -> std::result::Result<(), String> {
    let example = "for example path = \"out/ai\"";
    if path.as_os_str().is_empty() {
        return Err(format!("must name the output folder, {example}"));
    }

    let last = path.components().next_back();
    if !matches!(last, Some(Component::Normal(_))) {
        return Err(format!(
            "`{}` does not name a folder of its own (it ends in `..`, `.` or the root); \
             name a subfolder, {example}",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn context() -> SpecContext {
        SpecContext { spec_dir: PathBuf::from("/specs"), component_id: "ai".into() }
    }

    fn table(body: &str) -> ConfigTable {
        let document =
            format!("[sources.a]\ntype = \"x\"\n\n[sinks.ai]\ntype = \"ai_json\"\n{body}");
        ConfigTable::new("spec.toml", Arc::from(document), vec!["sinks".into(), "ai".into()])
    }

    fn validate(body: &str) -> Result<ValidatedAiJsonSink> {
        let table = table(body);
        table.deserialize::<AiJsonSinkConfig>()?.validate(&table, &context())
    }

    #[test]
    fn defaults_redact_with_four_mebibyte_files_and_resolve_the_path_against_the_spec() {
        let sink = validate("path = \"out/ai\"\n").unwrap();

        assert_eq!(sink.path(), Path::new("/specs/out/ai"));
        assert_eq!(sink.contact_details(), ContactDetailsPolicy::Redact);
        assert_eq!(sink.max_file_bytes(), 4_194_304);
        assert!(sink.hash_salt.is_none());
        assert_eq!(sink.component_id, "ai");
    }

    #[test]
    fn absolute_paths_are_kept_and_every_key_is_read() {
        let sink = validate(
            "path = \"/data/ai\"\ncontact_details = \"hash\"\nmax_file_bytes = 2048\n\
             hash_salt = \"${SALT}\"\n",
        )
        .unwrap();

        assert_eq!(sink.path(), Path::new("/data/ai"));
        assert_eq!(sink.contact_details(), ContactDetailsPolicy::Hash);
        assert_eq!(sink.max_file_bytes(), 2048);
        assert_eq!(sink.hash_salt.as_ref().and_then(Secret::env_var), Some("SALT"));
    }

    #[test]
    fn an_unknown_key_is_reported_with_its_line() {
        let message = validate("path = \"out\"\nmax_file_size = 10\n").unwrap_err().to_string();

        assert!(message.starts_with("spec.toml:7:1: "), "{message}");
        assert!(message.contains("unknown field `max_file_size`"), "{message}");
        assert!(message.contains("max_file_bytes"), "{message}");
    }

    #[test]
    fn a_bad_contact_details_value_lists_the_valid_ones() {
        let error = validate("path = \"out\"\ncontact_details = \"mask\"\n").unwrap_err();
        let message = error.to_string();

        assert_eq!(error.class(), ashflow_core::ErrorClass::Config);
        assert!(message.starts_with("spec.toml:7:"), "{message}");
        assert!(message.contains("`mask`"), "{message}");
        for valid in ["`redact`", "`hash`", "`keep`"] {
            assert!(message.contains(valid), "{message}");
        }
    }

    #[test]
    fn a_missing_path_is_an_error() {
        let message = validate("contact_details = \"keep\"\n").unwrap_err().to_string();
        assert!(message.contains("missing field `path`"), "{message}");
    }

    #[test]
    fn paths_that_name_no_folder_of_their_own_are_refused_at_their_line() {
        for bad in ["", "/", "out/..", "."] {
            let message = validate(&format!("path = \"{bad}\"\n")).unwrap_err().to_string();
            assert!(message.starts_with("spec.toml:6:1: `path`: "), "{bad:?}: {message}");
        }
    }

    #[test]
    fn too_small_a_file_limit_names_the_minimum() {
        let message = validate("path = \"out\"\nmax_file_bytes = 100\n").unwrap_err().to_string();
        assert!(message.starts_with("spec.toml:7:1: `max_file_bytes`: "), "{message}");
        assert!(message.contains("at least 1024"), "{message}");
    }

    #[test]
    fn a_salt_without_hashing_is_refused() {
        let message = validate("path = \"out\"\nhash_salt = \"pepper\"\n").unwrap_err().to_string();
        assert!(message.contains("`hash_salt`: has no effect"), "{message}");
    }

    #[test]
    fn the_salt_never_appears_in_debug_output() {
        let sink = validate("path = \"out\"\ncontact_details = \"hash\"\nhash_salt = \"pepper\"\n")
            .unwrap();
        assert!(!format!("{sink:?}").contains("pepper"));
    }
}
