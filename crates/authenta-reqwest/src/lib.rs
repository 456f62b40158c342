//! The async Authenta SDK, on reqwest and tokio.
//!
//! [Authenta](https://authenta.ai) detects deepfakes and manipulated
//! media. This crate uploads a file, waits for the verdict and reads its
//! artifacts, from async code: [`Client`] creates a record, streams the
//! file to its pre-signed upload URL, polls until the record is
//! `PROCESSED`, and hands back the [`Media`] with its verdict.
//!
//! Pick it for tokio programs and services, and to process many files
//! concurrently ([`Client::process_many`]). For blocking code without an
//! async runtime, `authenta-ureq` has the same API, blocking. Both are thin
//! backends over `authenta-proto`, which makes every decision (validation,
//! retries, polling, pagination, the upload's exact head); this crate moves
//! the bytes and sleeps.
//!
//! ```no_run
//! use authenta_reqwest::{Client, ModelType, UploadOptions};
//!
//! #[tokio::main]
//! async fn main() -> authenta_reqwest::Result<()> {
//!     // AUTHENTA_CLIENT_ID, AUTHENTA_CLIENT_SECRET (and AUTHENTA_BASE_URL).
//!     let client = Client::from_env()?;
//!     let options = UploadOptions::new(ModelType::Ac1)
//!         .on_progress(|sent, total| eprintln!("{sent}/{total} bytes"));
//!     let media = client.process("portrait.jpg", &options).await?;
//!     println!("{} is {}: fake = {:?}", media.mid, media.status, media.fake);
//!     if let Some(bytes) = client.download_heatmap(&media, "portrait-heatmap.png").await? {
//!         println!("heatmap: {bytes} bytes");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The same against a local emulator (`authenta-emulator`), as the tests
//! do:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use authenta_emulator::{Emulator, KeySpec};
//! use authenta_reqwest::{Client, Credentials, MediaStatus, ModelType, PollPolicy, UploadOptions};
//!
//! let emulator = Emulator::builder().processing_time(Duration::from_millis(20)).start().await?;
//! let key = emulator.create_key(KeySpec::new("docs"))?;
//! let client = Client::builder()
//!     .credentials(Credentials::new(key.client_id, key.client_secret))
//!     .base_url(emulator.base_url())
//!     .poll_policy(PollPolicy::fixed(Duration::from_millis(20), Duration::from_secs(10)))
//!     .build()?;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("pixel.png");
//! std::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82")?;
//! let media = client.process(&path, &UploadOptions::new(ModelType::Ac1)).await?;
//! assert_eq!(media.status, MediaStatus::Processed);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every operation returns [`Error`], proto's [`Failure`] (a failed
//! request's [`reqwest::Error`] is its source): [`Failure::class`], [`Failure::code`] (the API's
//! `IAM001`, `AA001`, ...), [`Failure::status`], [`Failure::mid`] and
//! [`Failure::is_retryable`] tell what happened; its message says what to
//! do. Requests that may be retried were retried already, on the client's
//! [`RetryPolicy`]. No error, log line or `Debug` output holds the client
//! secret or an upload URL's signature.
//!
//! # Features
//!
//! - `rustls` (default): TLS with rustls on the `ring` provider, trusting
//!   the system's root certificates (the Mozilla roots of `webpki-roots`
//!   where the system has none). No process-wide crypto provider is
//!   installed.
//! - `native-tls`: TLS with the platform's library; with both features on
//!   it is the one used, as in reqwest.
//!
//! Without either, only plain `http` works (an emulator on loopback).
//!
//! The `rustls` feature turns on reqwest's `rustls-no-provider`, and cargo
//! unifies features: if your program also builds its *own* reqwest clients
//! and enables no TLS feature of reqwest itself, those clients now need a
//! process-wide rustls provider. Enable reqwest's `rustls` feature in your
//! program, or install one at start-up:
//! `rustls::crypto::ring::default_provider().install_default()`.
//!
//! # Redirects
//!
//! The client never follows a redirect: reqwest would carry the
//! `x-client-secret` header along, even to another host. A reqwest client
//! of your own ([`ClientBuilder::http_client`]) must be built the same way;
//! [`reqwest_client_builder`] starts one.

mod builder;
mod runtime;
mod source;
mod tls;
mod transport;

pub use builder::ClientBuilder;
pub use runtime::TokioRuntime;
pub use tls::reqwest_client_builder;
pub use transport::ReqwestTransport;

pub use authenta_proto as proto;
pub use authenta_proto::transport::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use authenta_proto::types;
pub use authenta_proto::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, MediaStatus, ModelType,
    ResultDocument,
};
pub use authenta_proto::{
    ByteStream, ClientSecret, Config, ConfigError, CredentialError, CredentialProvider,
    Credentials, ErrorClass, Failure, MediaFile, PollPolicy, ProgressFn, QuotaUsage, RetryPolicy,
    SecretProvider, SecretSource, UploadOptions, UploadReceipt, UploadTarget, Uploaded,
};
#[cfg(feature = "profile")]
pub use authenta_proto::{Profile, ProfileFile};
pub use reqwest;

/// An async Authenta client: every operation of the API, uploads streamed
/// from disk, waiting for the verdict, and the verdict's artifacts. It is
/// [`authenta_proto::Client`] over [`ReqwestTransport`] and
/// [`TokioRuntime`]: the same methods as `authenta-ureq`'s, async.
///
/// Cheap to clone (clones share one connection pool); its `Debug` shows the
/// base URL, client id, timeouts and policies, never the secret. Make one
/// with [`Client::builder`](authenta_proto::Client::builder) or
/// [`Client::from_env`](authenta_proto::Client::from_env).
pub type Client = authenta_proto::Client<authenta_proto::Async<ReqwestTransport, TokioRuntime>>;

/// Everything that can go wrong: proto's [`Failure`] (the protocol's
/// [`proto::Error`], local I/O, or the transport's [`reqwest::Error`]
/// boxed as its source).
pub type Error = Failure;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
