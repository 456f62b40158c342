//! The sans-IO core of the Authenta SDK.
//!
//! [Authenta](https://authenta.ai) detects deepfakes and manipulated media:
//! a client creates a media record, uploads the file to a pre-signed S3 URL,
//! polls until the record is `PROCESSED`, and reads the verdict. This crate
//! builds the `http::Request` values of those steps, reads the
//! `http::Response` values, and makes every decision on the way:
//!
//! - [`MediaFile`]: what a file is (magic bytes, then extension) and
//!   whether the API and the model take it, before any request spends
//!   quota;
//! - [`ApiRequest`]: one per operation ([`CreateMedia`], [`GetMedia`],
//!   [`ListMedia`], [`DeleteMedia`]), each a request builder and a response
//!   reader; errors are read in one place ([`Error`]);
//! - [`UploadTarget`]: the exact head of the S3 `PUT` and the URL's expiry;
//! - [`RetryPolicy`], [`PollPolicy`], [`ListCursor`]: when to retry, how
//!   long to wait between polls, when a listing is complete;
//! - jobs (`/v1/jobs`): [`JobFile`] and [`check_job_inputs`] (a slot's
//!   input against its task type), the operations ([`CreateJob`],
//!   [`FinalizeJob`], ...) and the flows in [`engine::jobs`];
//! - [`engine`]: every flow (a call with its retries, an upload, a wait,
//!   create → upload → wait, a download, a listing) as a state machine
//!   the caller steps, and the one driver loop per mode that runs any of
//!   them;
//! - [`Client`]: the methods users call, for any transport and runtime
//!   (the backends are type aliases of it).
//!
//! It opens no socket, reads no clock and never sleeps: the HTTP client
//! ([`HttpClient`], [`AsyncHttpClient`]) and the time, sleep and randomness
//! ([`Runtime`], [`AsyncRuntime`]) are the caller's. Most users want a
//! backend that plugs those in: `authenta-ureq` (blocking) or
//! `authenta-reqwest` (async). Use this crate directly to drive the flows
//! with your own HTTP client or runtime:
//!
//! ```
//! use authenta_proto::{ApiRequest, Config, Credentials, GetMedia};
//! use authenta_proto::http::Response;
//! use authenta_proto::types::{MediaId, MediaStatus};
//!
//! let config = Config::new(Credentials::api_key("api_3f9c2a71d04b8e65c1a7f02d9b34e810"));
//! let op = GetMedia::new(MediaId::new("692f406f9f68d4b70080bb80"));
//! let request = op.build(&config).unwrap(); // send it with any client...
//! assert!(request.headers()["authorization"].is_sensitive());
//!
//! // ...and read what came back.
//! let response = Response::builder().status(200).body(br#"{
//!     "mid": "692f406f9f68d4b70080bb80", "name": "clip.mp4", "type": "Video",
//!     "status": "PROCESSED", "modelType": "DF-1",
//!     "createdAt": "2025-12-02T19:39:27.525Z", "fake": true
//! }"#.to_vec()).unwrap();
//! let media = op.read(&config, response).unwrap();
//! assert_eq!(media.status, MediaStatus::Processed);
//! assert_eq!(media.fake, Some(true));
//! ```

// Every module but `engine` is private: its items are re-exported below,
// so each public item has one path.
mod client;
mod config;
mod credentials;
pub mod engine;
mod error;
mod io;
mod jobs;
mod ops;
mod options;
mod paginate;
#[cfg(feature = "async")]
mod pipeline;
mod poll;
#[cfg(feature = "profile")]
mod profile;
mod response;
mod retry;
mod settings;
mod transport;
mod upload;
mod validate;

pub use authenta_types as types;
pub use http;

#[cfg(feature = "async")]
pub use client::MediaStream;
pub use client::{Async, Backend, Blocking, Client, ClientBuilder, Mode};
pub use config::{
    ApiKey, ClientSecret, Config, CredentialKind, Credentials, DEFAULT_USER_AGENT, ENV_API_KEY,
    ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET,
};
pub use credentials::{
    CredentialError, CredentialProvider, QuotaUsage, Refresh, SecretProvider, SecretSource,
};
pub use error::{
    ApiError, BatchStopped, BoxError, ConfigError, DecodeError, Error, ErrorClass, Failure,
    HttpError, Interrupted, LocalIo, UploadError, UploadExpired, ValidationError, WaitTimeout,
    error_chain,
};
#[cfg(feature = "async")]
pub use io::{AsyncUploadSource, OneShotStream};
pub use io::{
    FILE_CHUNK, FileSink, FileSource, OneShot, UploadSource, check_reopened_len, naming, part_path,
};
pub use jobs::{
    InconsistentJobPage, JobCursor, JobFile, JobInputError, JobStateError, JobWaitTimeout,
    WaitBound, check_job_inputs, task_type,
};
pub use ops::{
    ApiRequest, CancelJob, CreateJob, CreateMedia, DeleteJob, DeleteMedia, FinalizeJob, GetJob,
    GetMedia, HEADER_CLIENT_ID, HEADER_CLIENT_SECRET, ListJobs, ListMedia,
};
pub use options::{CallOptions, Checkpoint, CheckpointFn, ProgressFn, UploadOptions};
pub use paginate::{InconsistentPage, ListCursor};
#[cfg(feature = "async")]
pub use pipeline::{BatchEvent, BatchItem, BatchSettings, Interrupt, Resume};
pub use poll::{PollPolicy, PollStep};
#[cfg(feature = "profile")]
pub use profile::{
    DEFAULT_PROFILE, ENV_CONFIG, ENV_PROFILE, GivenKey, Profile, ProfileFile, config_path,
    write_secret_file,
};
pub use response::{
    SNIPPET_LEN, UploadReceipt, check_api_response, read_artifact_response, read_json,
    read_upload_response, snippet,
};
pub use retry::{
    Replay, RetryAction, RetryAfter, RetryDecision, RetryPolicy, RetryReason, classify_error,
    classify_status, classify_transport,
};
pub use settings::ClientSettings;
#[cfg(feature = "async")]
pub use transport::{
    AsyncDownloadSink, AsyncHttpClient, AsyncRuntime, AsyncUploadBody, ByteStream,
};
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_UPLOAD_STALL_TIMEOUT, DownloadSink,
    HttpClient, MAX_API_RESPONSE_BYTES, RESPONSE_READ_LIMIT, RequestTimeout, Runtime,
    SendDownloadError, SendUploadError, ShortBody, SourceFault, TransportErrorKind, UploadBody,
    UploadStalled,
};
pub use upload::{EXPECT_CONTINUE_MIN, EXPECT_CONTINUE_WAIT, UploadTarget, artifact_request};
pub use validate::{
    MediaFile, check_mid, check_model, content_type_of_extension, default_model,
    detect_content_type,
};
