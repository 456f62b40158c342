//! Project tasks for authenta-rs, run as `cargo xtask <task>`.
//!
//! - `codegen [--check]`: regenerate (or check) the tables generated from
//!   `spec/authenta.openapi.yaml`.
//! - `release <version> [--dry-run]`: move every published crate, the
//!   internal requirements, the changelog and the lock file to a new version
//!   and package the library crates; see [`release`].
//! - `outside-examples`: build authenta-client's embedder examples
//!   and the README's quick starts unchanged as crates of their own
//!   outside the workspace; see [`outside`].
//! - `ci`: run exactly what `.ci/run` runs.

pub mod codegen;
pub mod outside;
pub mod release;
