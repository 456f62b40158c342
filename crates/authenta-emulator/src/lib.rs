//! A local Authenta-compatible server, for tests, demos and CI.
//!
//! `authenta-emulator` speaks the [Authenta](https://authenta.ai) API (the
//! four `/api/media` routes, with API keys, quotas and credits checked in the
//! documented order) and plays the part of S3 for the upload step: `POST
//! /api/media` hands out a genuine SigV4 pre-signed URL pointing at the
//! emulator's own S3-compatible endpoint, which checks it with [`s3s`] and
//! enforces S3's upload rules with S3's XML errors. Records then go
//! `UPLOADED` → `PROCESSED` with a verdict that tests can predict (see
//! [`verdict`]). The jobs API (`/api/v1/jobs`, API keys only) runs the same
//! way: one upload URL per input slot of the task type, processing only
//! after `finalize` (one credit), a result per task type derived from the
//! uploaded bytes, and artifacts to download (see the crate README).
//! Think of it as stripe-mock or LocalStack for Authenta, but
//! strict: where it accepts a request, the real service would too.
//!
//! Use it when a test, a demo or a user's CI needs a real server without an
//! account or a network. Every table it answers from (error codes and
//! messages, model types, content types, routes, limits) comes from
//! [`authenta_types`]' generated constants, the same source the SDK reads.
//!
//! # Starting one
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use authenta_emulator::{Emulator, KeySpec};
//! use authenta_types::Permission;
//!
//! let emulator = Emulator::builder()
//!     .processing_time(Duration::from_millis(50))
//!     .start()
//!     .await?;
//! let key = emulator.create_key(
//!     KeySpec::new("tests").permissions([Permission::Read]).query_quota(5),
//! )?;
//! // Point a client at `emulator.base_url()` with the API key
//! // `key.api_key` (or the older `key.client_id` and `key.client_secret`).
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! emulator.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! Code without a tokio runtime uses [`EmulatorBuilder::spawn`], which runs
//! the server on a background thread. The same control operations are
//! served over HTTP under `/_emulator/` (see the crate README), and the
//! `authenta-emulator` binary runs it from the command line.
//!
//! # Time
//!
//! Tests that wait for processing or for an upload URL to expire run the
//! emulator on a manual clock ([`ClockMode::Manual`]) and move it with
//! [`RunningEmulator::advance`]: processing finishes when the clock passes
//! its due time, and not before, with no sleeping.
//!
//! # Persistence
//!
//! In memory by default; with [`EmulatorBuilder::data_dir`] the state is an
//! SQLite database (WAL) in that directory, and every change a request makes
//! is committed before it is answered: a killed process loses nothing
//! acknowledged. The WAL stays under [`WAL_SIZE_LIMIT`] plus one change,
//! and the directory's files are readable by their owner only. See the
//! crate README for what a power loss can lose.
//!
//! # Logging
//!
//! The emulator logs with `tracing` and never logs a secret, a signature or
//! a pre-signed query string; a request target is cut to 256 bytes in log
//! lines. A client's mistake (a bad signature, an expired URL) is logged at
//! `INFO`; `ERROR` is for the emulator's own failures. The `s3s` crate it
//! uses logs every error answer at `ERROR` and whole requests, signatures
//! included, at `DEBUG`: the emulator runs it under a subscriber that drops
//! those events and passes the rest to the subscriber that was current when
//! [`EmulatorBuilder::start`] ran (for [`EmulatorBuilder::spawn`], the
//! global one).

mod api;
mod body_timeout;
mod builder;
mod clock;
mod control;
mod core;
mod faults;
mod files;
mod ids;
mod listener;
mod model;
mod png;
mod presign;
mod process;
mod processing;
mod responses;
mod router;
mod running;
mod s3;
mod s3s_logs;
mod state;
mod store;
mod verdict;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

pub use builder::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LISTEN,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_PROCESSING_TIME, DEFAULT_UPLOAD_URL_EXPIRY, EmulatorBuilder,
};
pub use clock::ClockMode;
pub use control::CONTROL_PREFIX;
pub use core::ListItems;
pub use model::{
    ApiKey, ApiRequest, ApiStats, ArmedFault, AuthMode, ControlError, Fault, FaultAction,
    FaultBody, FaultStage, JobInputRecord, JobRecord, KeyInfo, KeySpec, MediaRecord, UploadInfo,
    UploadRequest,
};
pub use presign::{BUCKET, MAX_UPLOAD_URL_EXPIRY};
pub use process::{
    BANNER_API_KEY, BANNER_BASE_URL, BANNER_CLIENT_ID, BANNER_CLIENT_SECRET, EmulatorProcess,
};
pub use responses::MAX_JSON_BODY;
pub use running::RunningEmulator;
pub use state::DEFAULT_CREDITS;
pub use store::WAL_SIZE_LIMIT;
pub use verdict::verdict;

/// The entry point: [`Emulator::builder`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0`, in memory, 300 ms
    /// processing, 1000 credits, one-hour upload URLs, no admin token.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Why the emulator could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listen address is not loopback and no admin token is configured:
    /// the control surface would be open to the network.
    NonLoopbackWithoutToken(SocketAddr),
    /// Binding the listen address failed.
    Bind(SocketAddr, String),
    /// The data directory could not be read or written.
    DataDir(String),
    /// A setting is out of range.
    Config(String),
    /// The background runtime could not start.
    Runtime(String),
}

impl EmulatorError {
    pub(crate) fn data_dir(path: &Path, why: impl fmt::Display) -> Self {
        EmulatorError::DataDir(format!("{}: {why}", path.display()))
    }
}

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmulatorError::NonLoopbackWithoutToken(addr) => write!(
                f,
                "refusing to listen on {addr} without an admin token: the control surface \
                 would be open to the network (listen on 127.0.0.1, or set an admin token)"
            ),
            EmulatorError::Bind(addr, why) => write!(f, "cannot listen on {addr}: {why}"),
            EmulatorError::DataDir(why) => write!(f, "data directory: {why}"),
            EmulatorError::Config(why) => write!(f, "invalid configuration: {why}"),
            EmulatorError::Runtime(why) => write!(f, "cannot start the emulator's runtime: {why}"),
        }
    }
}

impl std::error::Error for EmulatorError {}
