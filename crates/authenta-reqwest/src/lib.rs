#![doc = include_str!("../README.md")]

mod builder;
mod runtime;
mod source;
mod tls;
mod transport;

pub use builder::ClientBuilder;
pub use runtime::TokioRuntime;
pub use tls::reqwest_client_builder;
pub use transport::ReqwestTransport;

pub use authenta_client as client;
pub use authenta_client::proto;
pub use authenta_client::proto::engine::flows::Uploaded;
pub use authenta_client::proto::{
    ApiKey, CallOptions, ClientSecret, Config, ConfigError, CredentialError, CredentialKind,
    CredentialProvider, Credentials, Error, ErrorClass, MediaFile, PollPolicy, ProgressFn,
    QuotaUsage, RetryPolicy, UploadOptions, UploadReceipt, UploadTarget,
};
pub use authenta_client::types;
// Jobs (`/v1/jobs`): `Client::run_job` and its kin.
pub use authenta_client::proto::JobOptions;
pub use authenta_client::types::{Job, JobId, JobStatus, SlotName, TaskType};
pub use authenta_client::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, MediaStatus, ModelType,
    ResultDocument,
};
pub use authenta_client::{
    ByteStream, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, SecretProvider, SecretSource,
};
#[cfg(feature = "profile")]
pub use authenta_client::{GivenKey, Profile, ProfileFile};
pub use reqwest;

/// An async Authenta client: every operation of the API, uploads streamed
/// from disk, waiting for the verdict, and the verdict's artifacts. It is
/// [`authenta_client::Client`] over [`ReqwestTransport`] and
/// [`TokioRuntime`]: the same methods as `authenta-ureq`'s, async.
///
/// Cheap to clone (clones share one connection pool); its `Debug` shows the
/// base URL, client id, timeouts and policies, never the secret. Make one
/// with [`Client::builder`](authenta_client::Client::builder) or
/// [`Client::from_env`](authenta_client::Client::from_env).
///
/// The same against a local emulator (`authenta-emulator`), as the tests
/// do:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use authenta_emulator::{Emulator, KeySpec};
/// use authenta_reqwest::{Client, Credentials, MediaStatus, ModelType, PollPolicy, UploadOptions};
///
/// let emulator = Emulator::builder().processing_time(Duration::from_millis(20)).start().await?;
/// let key = emulator.create_key(KeySpec::new("docs"))?;
/// let client = Client::builder()
///     .credentials(Credentials::api_key(key.api_key))
///     .base_url(emulator.base_url())
///     .poll_policy(PollPolicy::fixed(Duration::from_millis(20), Duration::from_secs(10)))
///     .build()?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("pixel.png");
/// std::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82")?;
/// let media = client.process(&path, &UploadOptions::new(ModelType::Ac1)).await?;
/// assert_eq!(media.status, MediaStatus::Processed);
/// # Ok(())
/// # }
/// ```
pub type Client = authenta_client::Client<authenta_client::Async<ReqwestTransport, TokioRuntime>>;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
