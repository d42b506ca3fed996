//! Integration tests of the Ashby source against the fake Ashby server (and, for the
//! concurrency cap, a tiny counting server), all on 127.0.0.1.
//!
//! One test binary with a module per concern, so the fake crate and this crate link once.

mod auth;
mod completeness;
mod concurrency;
mod faults;
mod recovery;
mod references;
mod support;
