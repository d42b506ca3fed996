//! Test support for the BigQuery sink: the real BigQuery emulator, and a small fake for what
//! the emulator does not reproduce.
//!
//! - [`emulator`]: finds or starts `bqemulator` (installed by `scripts/bq-emulator.sh` into
//!   `.venv-bq/`) once per test process, and reads tables back through its REST API.
//! - [`fake`]: an in-memory stand-in on 127.0.0.1 for per-row insert errors, 429 and 5xx
//!   answers, and the service-account token endpoint.
//!
//! Used by the sink's tests and benchmark only; nothing here reaches beyond 127.0.0.1.

pub mod emulator;
pub mod fake;

pub use emulator::{EMULATOR_URL_VAR, Emulator};
pub use fake::FakeBigQuery;
