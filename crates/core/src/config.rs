//! Plugin configuration: the spec's tables, errors that point at the spec's lines, and secrets.
//!
//! The runner parses the spec once and hands each plugin a [`ConfigTable`], the plugin's own
//! section of the document. Deserializing through it keeps TOML's spans, so a wrong key or value
//! is reported as `spec.toml:12:1` with the offending key, without the plugin doing anything
//! special. Nothing here reads files or the network; [`Secret`] values are only resolved when a
//! plugin is built for a run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// One plugin's section of the spec, such as `[sources.ashby]`.
#[derive(Clone)]
pub struct ConfigTable {
    spec_name: Arc<str>,
    document: Arc<str>,
    path: Vec<String>,
    /// Keys of the table that the runner reads itself, hidden from the plugin.
    runner_keys: Vec<String>,
}

impl fmt::Debug for ConfigTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigTable({})", self.section())
    }
}

impl ConfigTable {
    /// The table at `path` (such as `["sources", "ashby"]`) of the spec `document`, which was
    /// read from a file named `spec_name`.
    pub fn new(spec_name: impl Into<Arc<str>>, document: Arc<str>, path: Vec<String>) -> Self {
        ConfigTable {
            spec_name: spec_name.into(),
            document,
            path,
            runner_keys: vec!["type".to_string()],
        }
    }

    /// The same table with `key` kept from the plugin, as `type` always is: the runner reads
    /// it (a sink's `datasets`, say), so plugin config types can still deny unknown keys.
    pub fn without_runner_key(mut self, key: &str) -> Self {
        self.runner_keys.push(key.to_string());
        self
    }

    /// A table parsed from a standalone TOML text, for tests and examples.
    pub fn from_toml(text: &str) -> Self {
        ConfigTable::new("<inline>", Arc::from(text), Vec::new())
    }

    /// The section header this table was written under, such as `[sources.ashby]`.
    pub fn section(&self) -> String {
        format!("[{}]", self.path.join("."))
    }

    /// Deserializes the table into a plugin's config type.
    ///
    /// Errors name the spec file, line and column, and keep serde's message (which names an
    /// unknown key and lists the valid ones, when the config type denies unknown fields).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let root =
            toml::de::DeTable::parse(&self.document).map_err(|error| self.toml_error(&error))?;
        let table = self.descend(root)?;

        // `type` chooses the plugin and belongs to the runner, as do the runner's other keys,
        // so plugin config types never declare them and can still deny unknown keys.
        let span = table.span();
        let mut table = table.into_inner();
        let runner_keys: Vec<_> = table
            .keys()
            .filter(|k| self.runner_keys.iter().any(|runner_key| k.get_ref() == runner_key))
            .cloned()
            .collect();
        for key in runner_keys {
            table.remove(&key);
        }
        let table = toml::Spanned::new(span, table);

        T::deserialize(toml::de::Deserializer::from(table)).map_err(|error| self.toml_error(&error))
    }

    /// A configuration error about `key` of this table, located at the key's line when the key
    /// is present and at the section header otherwise.
    pub fn error_at(&self, key: &str, message: impl fmt::Display) -> Error {
        let location = self
            .key_offset(key)
            .map(|offset| self.location_of(offset))
            .unwrap_or_else(|| format!("{} {}", self.spec_name, self.section()));
        Error::Config { location: Some(location), message: format!("`{key}`: {message}") }
    }

    fn descend<'a>(
        &self,
        root: toml::Spanned<toml::de::DeTable<'a>>,
    ) -> Result<toml::Spanned<toml::de::DeTable<'a>>> {
        let mut current = root;
        for name in &self.path {
            let span = current.span();
            let mut table = current.into_inner();
            let key = table.keys().find(|k| k.get_ref().as_ref() == name.as_str()).cloned();
            let value = key.and_then(|k| table.remove(&k)).ok_or_else(|| Error::Config {
                location: Some(self.location_of(span.start)),
                message: format!("missing table {}", self.section()),
            })?;
            let value_span = value.span();
            match value.into_inner() {
                toml::de::DeValue::Table(inner) => {
                    current = toml::Spanned::new(value_span, inner);
                }
                other => {
                    return Err(Error::Config {
                        location: Some(self.location_of(value_span.start)),
                        message: format!("`{name}` must be a table, found {}", other.type_str()),
                    });
                }
            }
        }
        Ok(current)
    }

    fn key_offset(&self, key: &str) -> Option<usize> {
        let root = toml::de::DeTable::parse(&self.document).ok()?;
        let table = self.descend(root).ok()?;
        table.get_ref().keys().find(|k| k.get_ref().as_ref() == key).map(|k| k.span().start)
    }

    fn toml_error(&self, error: &toml::de::Error) -> Error {
        let location = error.span().map(|span| self.location_of(span.start));
        Error::Config {
            location: location.or_else(|| Some(format!("{} {}", self.spec_name, self.section()))),
            message: error.message().trim_end().to_string(),
        }
    }

    fn location_of(&self, offset: usize) -> String {
        let (line, column) = line_and_column(&self.document, offset);
        format!("{}:{line}:{column}", self.spec_name)
    }
}

/// The 1-based line and column of a byte offset in `text`.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |newline| before.len() - newline - 1) + 1;
    (line, column)
}

/// Facts about the spec that plugins need while validating their configuration.
#[derive(Debug, Clone)]
pub struct SpecContext {
    /// The folder holding the spec file; relative paths in the spec are relative to it.
    pub spec_dir: PathBuf,
    /// The plugin's name in the spec, such as `ashby` in `[sources.ashby]`.
    pub component_id: String,
}

impl SpecContext {
    /// Resolves a path written in the spec against the spec's folder.
    pub fn resolve_path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() { path.to_path_buf() } else { self.spec_dir.join(path) }
    }
}

/// A secret written in the spec: `${ENV_VAR}` (the usual form), `file:PATH`, or, discouraged,
/// the literal value.
///
/// Its `Debug` and `Display` never show a resolved or literal value, only the reference, so a
/// secret can sit in any config struct that is logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    reference: SecretReference,
}

#[derive(Clone, PartialEq, Eq)]
enum SecretReference {
    Env(String),
    File(PathBuf),
    Literal(String),
}

impl Secret {
    /// Parses a secret reference as written in a spec.
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        let reference = if let Some(name) =
            trimmed.strip_prefix("${").and_then(|rest| rest.strip_suffix('}'))
        {
            SecretReference::Env(name.to_string())
        } else if let Some(path) = trimmed.strip_prefix("file:") {
            SecretReference::File(PathBuf::from(path))
        } else {
            SecretReference::Literal(text.to_string())
        };
        Secret { reference }
    }

    /// True when the secret is written into the spec itself rather than referenced.
    pub fn is_literal(&self) -> bool {
        matches!(self.reference, SecretReference::Literal(_))
    }

    /// The environment variable this secret reads, when it reads one.
    pub fn env_var(&self) -> Option<&str> {
        match &self.reference {
            SecretReference::Env(name) => Some(name),
            _ => None,
        }
    }

    /// Makes a `file:` reference relative to the spec's folder, as every spec path is.
    pub fn relative_to(mut self, context: &SpecContext) -> Self {
        if let SecretReference::File(path) = &self.reference {
            self.reference = SecretReference::File(context.resolve_path(path));
        }
        self
    }

    /// Reads the secret's value from the environment or its file.
    ///
    /// This is the only place a secret's value exists outside the plugin that uses it; callers
    /// must not log or embed the returned string in errors.
    pub fn expose(&self) -> Result<String> {
        let value = match &self.reference {
            SecretReference::Env(name) => std::env::var(name).map_err(|_| {
                Error::config(format!(
                    "the environment variable {name} is not set; export it before running, \
                     for example `export {name}=...`"
                ))
            })?,
            SecretReference::File(path) => std::fs::read_to_string(path)
                .map_err(|source| {
                    Error::io(format!("cannot read the secret file {}", path.display()), source)
                })?
                .trim()
                .to_string(),
            SecretReference::Literal(value) => value.clone(),
        };
        if value.is_empty() {
            return Err(Error::config(format!("the secret {self} is empty")));
        }
        Ok(value)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            SecretReference::Env(name) => write!(f, "${{{name}}}"),
            SecretReference::File(path) => write!(f, "file:{}", path.display()),
            SecretReference::Literal(_) => f.write_str("<redacted>"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Secret::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        path: String,
        #[serde(default)]
        limit: u32,
    }

    const SPEC: &str = concat!(
        "[sources.a]\ntype = \"x\"\n\n",
        "[sinks.book]\ntype = \"excel\"\npath = \"out.xlsx\"\npaht = 3\n",
    );

    fn sink_table() -> ConfigTable {
        ConfigTable::new("spec.toml", Arc::from(SPEC), vec!["sinks".into(), "book".into()])
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let error = sink_table().deserialize::<Example>().unwrap_err().to_string();
        assert!(error.starts_with("spec.toml:7:1: "), "{error}");
        assert!(error.contains("unknown field `paht`"), "{error}");
    }

    #[test]
    fn runner_keys_are_kept_from_the_plugin() {
        let spec = "[sinks.book]\ntype = \"excel\"\npath = \"a.xlsx\"\ndatasets = [\"jobs\"]\n";
        let table =
            ConfigTable::new("spec.toml", Arc::from(spec), vec!["sinks".into(), "book".into()]);
        let error = table.clone().deserialize::<Example>().unwrap_err().to_string();
        assert!(error.contains("unknown field `datasets`"), "{error}");
        let example: Example = table.without_runner_key("datasets").deserialize().unwrap();
        assert_eq!(example.path, "a.xlsx");
    }

    #[test]
    fn plugin_errors_point_at_the_key_or_the_section() {
        let table = sink_table();
        assert_eq!(table.error_at("path", "bad").to_string(), "spec.toml:6:1: `path`: bad");
        assert_eq!(
            table.error_at("limit", "too big").to_string(),
            "spec.toml [sinks.book]: `limit`: too big"
        );
    }

    #[test]
    fn secrets_never_print_their_value() {
        let literal = Secret::parse("sk_live_123");
        assert_eq!(format!("{literal:?}"), "Secret(<redacted>)");
        assert!(literal.is_literal());
        let env = Secret::parse("${ASHBY_API_KEY}");
        assert_eq!(env.env_var(), Some("ASHBY_API_KEY"));
        assert_eq!(env.to_string(), "${ASHBY_API_KEY}");
    }

    #[test]
    fn a_missing_environment_variable_says_how_to_set_it() {
        let secret = Secret::parse("${ASHFLOW_TEST_SURELY_UNSET_VARIABLE}");
        let message = secret.expose().unwrap_err().to_string();
        assert!(message.contains("export ASHFLOW_TEST_SURELY_UNSET_VARIABLE="), "{message}");
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
    }
}
