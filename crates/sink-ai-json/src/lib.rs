//! The `ai_json` sink: a folder of JSON Lines that an AI tool (ChatGPT, Claude, Gemini, or a
//! local MCP client) can read, with contact details redacted or hashed unless the spec opts in.
//!
//! For each dataset the folder holds `<dataset>.jsonl` (or, when the dataset is larger than
//! `max_file_bytes`, numbered parts `<dataset>.part-001.jsonl`, `<dataset>.part-002.jsonl`, …),
//! one record per line exactly as the source sent it, nested objects and field order included.
//! `dictionary.json` describes every dataset and field; `README.md` tells a model what the folder
//! is, how the files are split, how records relate and what was redacted. The `parts` module
//! holds the naming rule, `protect` the redaction and hashing, and `publish` the sequence that
//! swaps the folder into place so a failed run never leaves a half-written export.
//!
//! ```toml
//! [sinks.ai]
//! type = "ai_json"
//! path = "out/ai"
//! contact_details = "hash"
//! hash_salt = "${ASHFLOW_HASH_SALT}"
//! ```

mod config;
mod dictionary;
mod error;
mod parts;
mod protect;
mod publish;
mod sink;

use ashflow_core::{ConfigTable, Result, SinkRegistration, SpecContext, ValidatedSink};

pub use config::{
    AiJsonSinkConfig, ContactDetailsPolicy, DEFAULT_MAX_FILE_BYTES, MIN_MAX_FILE_BYTES,
    ValidatedAiJsonSink,
};
pub use dictionary::{DICTIONARY_FILE, README_FILE};
pub use protect::{HASH_PREFIX, REDACTION_MARKER};

/// The `type` a spec uses for this sink.
pub const SINK_TYPE: &str = "ai_json";

/// A complete spec table for the sink, shown by `ashflow plugins`.
pub const EXAMPLE: &str = r#"[sinks.ai]
type = "ai_json"
# The output folder, relative to this spec's folder; replaced as a whole by each successful run.
path = "out/ai"
# Contact details: "redact" (the default), "hash" (stable, so people can still be matched)
# or "keep".
contact_details = "hash"
# Mixed into every hash so a guessed e-mail address cannot be hashed and looked up.
hash_salt = "${ASHFLOW_HASH_SALT}"
# The largest file in bytes (default 4 MiB); a larger dataset continues in numbered parts.
max_file_bytes = 4194304
"#;

/// Checks an `ai_json` spec table and returns the validated sink. Does no IO.
pub fn validate(table: &ConfigTable, context: &SpecContext) -> Result<Box<dyn ValidatedSink>> {
    let config: AiJsonSinkConfig = table.deserialize()?;
    Ok(Box::new(config.validate(table, context)?))
}

ashflow_core::register_sink!(SinkRegistration {
    name: SINK_TYPE,
    description: "A folder of JSON Lines with a data dictionary and README for AI tools, \
                  contact details redacted or hashed.",
    example: EXAMPLE,
    validate,
});
