//! Runs the Authenta SDK's protocol: the layer between the sans-IO core
//! (`authenta-proto`, re-exported as [`proto`]) and the backends
//! (`authenta-ureq`, `authenta-reqwest`).
//!
//! `authenta-proto` builds requests, reads answers and makes every
//! decision, as flows ([`engine::Flow`]) that say what to do next and
//! are told what happened. This crate does what they say:
//!
//! - the seam: [`HttpClient`] and [`AsyncHttpClient`] (an HTTP client),
//!   [`Runtime`] and [`AsyncRuntime`] (clocks, sleep, randomness, running
//!   blocking work), upload bodies and download sinks;
//! - the driver loops ([`driver::blocking::run`], [`driver::nonblocking::run`]),
//!   the same for every flow;
//! - [`Client`]: every operation users call, over any transport and
//!   runtime, and its [`ClientBuilder`]; the async batch pipeline
//!   (`Client::process_batch`);
//! - files as upload sources and download sinks ([`FileSource`],
//!   [`FileSink`]: written as `.part`, renamed when whole), and the checks
//!   of a file on disk ([`media_file`]);
//! - credentials that come from somewhere: a variable, a file or a
//!   command ([`SecretProvider`]), the environment ([`config_from_env`]),
//!   and, with the `profile` feature, the config file ([`Profile`]).
//!
//! An embedder with its own HTTP client or runtime implements the traits
//! (async ones with [`async_trait`](macro@async_trait), re-exported here with [`bytes`], so
//! its manifest names neither) and uses [`Client`]: see
//! `examples/custom_client`, over std's `TcpStream`.

// The crate docs link the async and profile items; a build without those
// features (authenta-ureq's) has nothing to link them to.
#![cfg_attr(
    not(all(feature = "async", feature = "profile")),
    allow(rustdoc::broken_intra_doc_links)
)]

// Proto's items, nameable as `crate::X` inside this crate (the modules
// below were proto's, and name them so).
#[allow(unused_imports, reason = "globs: each module takes what it needs")]
use authenta_proto::{
    config::*, credentials::*, engine::resume::Resume, error::*, job_options::*, jobs::*, ops::*,
    options::*, paginate::*, poll::*, response::*, retry::*, upload::*, validate::*, wire::*, *,
};

mod client;
pub mod driver;
mod env;
mod files;
mod io;
#[cfg(feature = "async")]
mod pipeline;
#[cfg(feature = "profile")]
mod profile;
mod secrets;
mod settings;
mod transport;
#[cfg(feature = "async")]
mod unblocked;

/// `#[async_trait]` (the `async-trait` crate's), for implementing the
/// async traits without adding the crate to your manifest.
#[cfg(feature = "async")]
pub use async_trait::async_trait;
pub use authenta_proto as proto;
pub use authenta_proto::{engine, http, types};
#[cfg(feature = "async")]
pub use bytes;

pub use client::{Async, Backend, Blocking, Client, ClientBuilder, media_id};
#[cfg(feature = "async")]
pub use client::{JobStream, MediaStream};
pub use driver::block_on;
pub use env::config_from_env;
pub use files::{
    CHECK_READ, ReadFile, inspect_path, job_upload, job_upload_of, media_file, media_file_read,
};
#[cfg(feature = "async")]
pub use io::{AsyncDownloadSink, AsyncUploadSource, ByteStream, OneShotStream};
pub use io::{
    DownloadSink, FILE_CHUNK, FileSink, FileSource, OneShot, SeekSource, SlotSources, UploadSource,
    check_reopened_len, naming, part_path,
};
#[cfg(feature = "async")]
pub use pipeline::{BatchEvent, BatchItem, BatchSettings, Interrupt, JobBatchItem};
#[cfg(feature = "profile")]
pub use profile::{
    DEFAULT_PROFILE, ENV_CONFIG, ENV_PROFILE, GivenKey, Profile, ProfileFile, config_path,
    redacted_url, write_secret_file,
};
pub use secrets::{SecretProvider, SecretSource};
pub use settings::{ClientSettings, SharedProvider};
#[cfg(feature = "async")]
pub use transport::{AsyncHttpClient, AsyncRuntime, AsyncUploadBody};
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_UPLOAD_STALL_TIMEOUT, HttpClient,
    Runtime, SendDownloadError, SendUploadError, SourceFault, UploadBody,
};
#[cfg(feature = "async")]
pub use unblocked::{BlockingWork, READ_AHEAD, UnblockedFileSink, UnblockedFileSource, Unblocker};
