//! The workspace's cross-crate tests (not published).
//!
//! - [`backend`]: [`Backend`], one blocking face over both official
//!   backends (`authenta-ureq` directly, `authenta-reqwest` through a tokio
//!   runtime), so each conformance test is written once and run against
//!   both.
//! - [`env`](mod@env): an in-process emulator on port 0, a key, a temporary
//!   directory and clients with short policies: one per test, so tests run
//!   in parallel.
//!
//! The suites are in `tests/` (`conformance`: every operation, error and
//! wire rule for both backends; `faults`: the fault matrix of
//! RELIABILITY.md, every fault against every step on every client; `seam`:
//! the flows over a hand-written `std::net` client), the upload bench in
//! `benches/backend_upload.rs`.

pub mod backend;
pub mod env;

pub use backend::{
    Backend, Connect, Reqwest, Settings, SharedProvider, StdClock, StdHttp, TcpClient,
};
pub use env::Env;

/// The README's Rust snippets: compiled by `cargo test --doc`, and run
/// where they need no account.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
