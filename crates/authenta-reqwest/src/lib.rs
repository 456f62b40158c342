#![doc = include_str!("../README.md")]

mod api;
mod builder;
mod runtime;
mod tls;
mod transport;

pub use api::{Client, GenericClient};
pub use builder::ClientBuilder;
pub use runtime::TokioRuntime;
pub use tls::reqwest_client_builder;
pub use transport::ReqwestTransport;

pub use authenta_client as client;
pub use authenta_client::proto;
pub use authenta_client::proto::engine::flows::Uploaded;
pub use authenta_client::proto::{
    ApiKey, CallOptions, ClientSecret, Config, ConfigError, CredentialError, CredentialProvider,
    Credentials, Error, ErrorClass, MediaFile, PollPolicy, ProgressFn, QuotaUsage, RetryPolicy,
    UploadOptions, UploadReceipt, UploadTarget, credentials::CredentialKind,
};
pub use authenta_client::types;
// Jobs (`/v1/jobs`): `Client::run_job` and its kin.
pub use authenta_client::proto::JobOptions;
pub use authenta_client::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, MediaStatus, ModelType,
    ResultDocument,
};
pub use authenta_client::types::{Job, JobId, JobStatus, SlotName, TaskType};
pub use authenta_client::{
    ByteStream, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, SecretProvider, SecretSource,
};
#[cfg(feature = "profile")]
pub use authenta_client::{GivenKey, Profile, ProfileFile};
pub use reqwest;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
