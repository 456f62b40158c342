//! Project tasks for authenta-rs, run as `cargo xtask <task>`.
//!
//! - `codegen [--check]`: regenerate (or check) the tables generated from
//!   `spec/authenta.openapi.yaml`.
//! - `ci`: run exactly what `.ci/run` runs.

pub mod codegen;
