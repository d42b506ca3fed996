//! Links every plugin crate into the binary and gives the runner the registry they fill.
//!
//! Plugins register through `inventory`, whose entries live in the plugin crates' object files.
//! The linker drops a crate that nothing references, and its registrations vanish without an
//! error. The `use ... as _` lines below are those references; because they sit in the library,
//! the binary and every test binary see the same plugins. The test at the bottom fails when one
//! goes missing. Adding a plugin is one `use` line here and one name in the test.

use ashflow_core::{SinkRegistration, SourceRegistration};

use ashflow_sink_ai_json as _;
use ashflow_sink_bigquery as _;
use ashflow_sink_excel as _;
use ashflow_sink_sheets as _;
use ashflow_source_ashby as _;

/// The plugins a spec can name by their `type`, sorted by name.
#[derive(Debug, Clone)]
pub struct Registry {
    sources: Vec<&'static SourceRegistration>,
    sinks: Vec<&'static SinkRegistration>,
}

impl Registry {
    /// Every plugin linked into this binary.
    pub fn linked() -> Self {
        Registry::new(
            ashflow_core::plugin::source_registrations(),
            ashflow_core::plugin::sink_registrations(),
        )
    }

    /// A registry of the given plugins; tests use it to validate specs against stand-ins.
    pub fn new(
        mut sources: Vec<&'static SourceRegistration>,
        mut sinks: Vec<&'static SinkRegistration>,
    ) -> Self {
        sources.sort_by_key(|registration| registration.name);
        sinks.sort_by_key(|registration| registration.name);
        Registry { sources, sinks }
    }

    /// Every source plugin.
    pub fn sources(&self) -> &[&'static SourceRegistration] {
        &self.sources
    }

    /// Every sink plugin.
    pub fn sinks(&self) -> &[&'static SinkRegistration] {
        &self.sinks
    }

    /// The source plugin a spec calls `type_name`.
    pub fn source(&self, type_name: &str) -> Option<&'static SourceRegistration> {
        self.sources.iter().copied().find(|registration| registration.name == type_name)
    }

    /// The sink plugin a spec calls `type_name`.
    pub fn sink(&self, type_name: &str) -> Option<&'static SinkRegistration> {
        self.sinks.iter().copied().find(|registration| registration.name == type_name)
    }

    /// The names of the source plugins, sorted.
    pub fn source_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|registration| registration.name).collect()
    }

    /// The names of the sink plugins, sorted.
    pub fn sink_names(&self) -> Vec<&'static str> {
        self.sinks.iter().map(|registration| registration.name).collect()
    }

    /// A listing of every plugin with its description and example table, for `ashflow plugins`.
    pub fn render(&self) -> String {
        let mut text = String::from("Sources (the `type` of a [sources.NAME] table):\n");
        for source in &self.sources {
            push_plugin(&mut text, source.name, source.description, source.example);
        }
        text.push_str("\nSinks (the `type` of a [sinks.NAME] table):\n");
        for sink in &self.sinks {
            push_plugin(&mut text, sink.name, sink.description, sink.example);
        }
        text
    }
}

fn push_plugin(text: &mut String, name: &str, description: &str, example: &str) {
    text.push_str(&format!("\n  {name}: {description}\n\n"));
    for line in example.trim().lines() {
        if !line.trim().is_empty() {
            text.push_str("      ");
            text.push_str(line);
        }
        text.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plugins the binary must contain, one name per line, sorted.
    const EXPECTED_SOURCES: &[&str] = &[
        "ashby", //
    ];
    const EXPECTED_SINKS: &[&str] = &[
        "ai_json", //
        "bigquery",
        "excel",
        "google_sheets",
    ];

    #[test]
    fn the_registry_holds_exactly_the_linked_plugins() {
        let registry = Registry::linked();
        assert_eq!(registry.source_names(), EXPECTED_SOURCES);
        assert_eq!(registry.sink_names(), EXPECTED_SINKS);
    }

    #[test]
    fn every_plugin_describes_itself_and_shows_an_example() {
        let registry = Registry::linked();
        let listing = registry.render();
        for source in registry.sources() {
            assert!(!source.description.is_empty(), "{} has no description", source.name);
            assert!(listing.contains(&format!("  {}: ", source.name)), "{listing}");
        }
        for sink in registry.sinks() {
            assert!(!sink.description.is_empty(), "{} has no description", sink.name);
            assert!(listing.contains(&format!("  {}: ", sink.name)), "{listing}");
        }
    }
}
