//! The blocking Authenta SDK, over [ureq](https://docs.rs/ureq).
//!
//! [Authenta](https://authenta.ai) detects deepfakes and manipulated media.
//! This crate is its client for programs without an async runtime: scripts,
//! command-line tools, batch jobs, threads. Every call blocks until done;
//! no tokio is compiled in, not even transitively. Pick the async twin,
//! `authenta-reqwest`, when your program already runs on tokio: both have
//! the same methods, the same errors and the same behaviour, because every
//! decision (validation, retries, polling, paging, the upload's exact head)
//! is made by `authenta-proto` (re-exported as [`proto`]), which both
//! drive through [`authenta_client`].
//!
//! ```no_run
//! use authenta_ureq::{Client, UploadOptions};
//! use authenta_ureq::types::ModelType;
//!
//! // AUTHENTA_API_KEY (or, for an older key, AUTHENTA_CLIENT_ID and
//! // AUTHENTA_CLIENT_SECRET; and optionally AUTHENTA_BASE_URL) come from
//! // the environment.
//! let client = Client::from_env()?;
//!
//! // Checked, created, streamed to S3, and waited for.
//! let media = client.process("portrait.jpg", &UploadOptions::new(ModelType::Ac1))?;
//! println!("{} is {:?}: fake = {:?}", media.mid, media.status, media.fake);
//!
//! // The artifacts of a processed record.
//! if let Some(bytes) = client.download_heatmap(&media, "portrait-heatmap.png")? {
//!     println!("heatmap: {bytes} bytes");
//! }
//! # Ok::<(), authenta_ureq::Error>(())
//! ```
//!
//! # Against a local emulator
//!
//! `authenta-emulator` serves the same API on loopback, so tests and demos
//! need no account (this example runs as a doctest):
//!
//! ```
//! use std::time::Duration;
//! use authenta_emulator::{Emulator, KeySpec};
//! use authenta_ureq::{Client, Credentials, PollPolicy, UploadOptions};
//! use authenta_ureq::types::{MediaStatus, ModelType};
//!
//! let emulator = Emulator::builder().processing_time(Duration::from_millis(20)).spawn()?;
//! let key = emulator.create_key(KeySpec::new("docs"))?;
//! let client = Client::builder()
//!     .credentials(Credentials::api_key(key.api_key))
//!     .base_url(emulator.base_url())
//!     .poll_policy(PollPolicy::fixed(Duration::from_millis(20), Duration::from_secs(10)))
//!     .build()?;
//!
//! // Any reader of known length uploads too; it needs a name.
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
//! let options = UploadOptions::new(ModelType::Ac1).name("pixel.png");
//! let uploaded = client.upload_reader(&png[..], png.len() as u64, &options)?;
//! let media = client.wait(uploaded.mid())?;
//! assert_eq!(media.status, MediaStatus::Processed);
//! assert!(media.fake.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! Every method returns [`Error`] (a failed request's [`ureq::Error`] is its
//! source): an API error with its documented code (`IAM001`,
//! `IAM002`, `AA001`, `U007`, ...), an S3 refusal of the upload, a
//! validation error raised before any request, a wait that timed out, a
//! network failure after the retries the policy allows, or local I/O.
//! [`Error::code`], [`Error::status`], [`Error::mid`],
//! [`Error::class`] and [`Error::is_retryable`] say which. No error
//! message, `Debug` string or log line holds the client secret or an
//! upload URL's signature.
//!
//! # Features
//!
//! - `rustls` (default): TLS with rustls (ring), trusting the system's root
//!   certificates, or the Mozilla roots where the system has none.
//! - `native-tls`: TLS with the platform's library and its trust store
//!   (a CA installed on the system is trusted, as with authenta-reqwest);
//!   when enabled, it is the one used. Without either feature only plain
//!   `http` works (which [`Config`] allows for loopback hosts only).
//!
//! # Logging
//!
//! Each operation (`get`, `upload`, `wait`, ...) runs in a `tracing` span
//! `authenta.operation` (`authenta.operation`, `authenta.mid`), and each
//! HTTP attempt in a child span `authenta.attempt` with OpenTelemetry's
//! HTTP client attributes (`http.request.method`, `url.template`,
//! `http.response.status_code`, `error.type`) and the project's
//! (`authenta.attempt`, `authenta.mid`, `authenta.quota`); no field holds a
//! secret or a URL. Retries and waits are `tracing` events inside them.
//! `ureq` itself logs through the `log` crate and redacts query strings and
//! sensitive headers.

mod api;
mod builder;
mod runtime;
mod transport;

pub use api::{Client, GenericClient};
pub use builder::ClientBuilder;
pub use runtime::StdRuntime;
pub use transport::UreqTransport;

pub use authenta_client as client;
pub use authenta_client::proto;
pub use authenta_client::proto::engine::flows::Uploaded;
pub use authenta_client::proto::{
    ApiKey, CallOptions, ClientSecret, Config, CredentialError, CredentialProvider, Credentials,
    Error, ErrorClass, MediaFile, PollPolicy, ProgressFn, QuotaUsage, RetryPolicy, UploadOptions,
    UploadReceipt, UploadTarget, credentials::CredentialKind,
};
pub use authenta_client::types;
// Jobs (`/v1/jobs`): `Client::run_job` and its kin.
pub use authenta_client::proto::JobOptions;
pub use authenta_client::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, MediaStatus, ModelType,
    ResultDocument,
};
pub use authenta_client::types::{Job, JobId, JobStatus, SlotName, TaskType};
#[cfg(feature = "profile")]
pub use authenta_client::{GivenKey, Profile, ProfileFile};
pub use authenta_client::{SecretProvider, SecretSource};
pub use ureq;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
