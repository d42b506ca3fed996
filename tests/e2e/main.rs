//! End-to-end tests: whole spec files run by the `ashflow` runner against a fake Ashby server
//! on 127.0.0.1, with real outputs read back from disk.
//!
//! One test binary for all end-to-end behaviour (it is built as the runner crate's `e2e` test),
//! so the plugins are linked once and every test sees the same registry.

mod datasets;
mod demo;
mod export;
mod failures;
mod incremental;
mod spec;
mod support;
