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
//!   reader; errors are read in one place ([`ProtocolError`]);
//! - [`UploadTarget`]: the exact head of the S3 `PUT` and the URL's expiry;
//! - [`RetryPolicy`], [`PollPolicy`], [`ListCursor`]: when to retry, how
//!   long to wait between polls, when a listing is complete;
//! - jobs (`/v1/jobs`): [`JobFile`] and [`check_job_inputs`] (a slot's
//!   input against its task type), the operations ([`CreateJob`],
//!   [`FinalizeJob`], ...) and the flows in [`engine::jobs`];
//! - [`engine`]: every flow (a call with its retries, an upload, a wait,
//!   create → upload → wait, a download, a listing, what a resumed batch
//!   item costs) as a state machine the caller steps.
//!
//! It does no I/O at all: it opens no socket, file or process, reads no
//! clock, no environment variable and no config file, and never sleeps.
//! A flow says what to do next ([`engine::Action`]) and is told what
//! happened ([`engine::Event`]); the clocks and randomness are arguments
//! ([`engine::Inputs`]). `authenta-client` holds the transport and runtime
//! traits, the driver loops that run flows over them, the generic client,
//! files, secret providers and profiles; most users want a backend built
//! on it: `authenta-ureq` (blocking) or `authenta-reqwest` (async). Use
//! this crate directly to build and read the requests yourself:
//!
//! ```
//! use authenta_proto::{ApiRequest, Config, Credentials, ops::GetMedia};
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

// The public API by module: operations (`ops`), flows (`engine`),
// policies (`retry`, `poll`, `paginate`), wire types (`wire`, `response`,
// `upload`), errors (`error`), and credentials, configuration, checks and
// options. The root re-exports the names most programs use.
pub mod config;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod job_options;
pub mod jobs;
pub mod ops;
pub mod options;
pub mod paginate;
pub mod poll;
pub mod response;
pub mod retry;
pub mod upload;
pub mod validate;
pub mod wire;

pub use authenta_types as types;
pub use authenta_types::{JobId, MediaId};
pub use http;

pub use config::Config;
pub use credentials::{ApiKey, ClientSecret, CredentialProvider, Credentials, QuotaUsage};
pub use error::{ConfigError, CredentialError, Error, ErrorClass, ProtocolError, ValidationError};
pub use job_options::JobOptions;
pub use ops::ApiRequest;
pub use options::{CallOptions, ProgressFn, UploadOptions};
pub use poll::PollPolicy;
pub use response::UploadReceipt;
pub use retry::RetryPolicy;
pub use upload::UploadTarget;
pub use validate::MediaFile;

// Inside this crate every item is still `crate::Name`.
#[allow(unused_imports, reason = "each module takes what it needs")]
pub(crate) use {
    config::{DEFAULT_USER_AGENT, ENV_BASE_URL},
    credentials::{
        CredentialKind, ENV_API_KEY, ENV_CLIENT_ID, ENV_CLIENT_SECRET, HEADER_CLIENT_ID,
        HEADER_CLIENT_SECRET, Refresh,
    },
    engine::resume::Resume,
    error::{
        ApiError, BatchStopped, BoxError, DecodeError, HttpError, Interrupted, JobInputError,
        JobStateError, JobWaitTimeout, LocalIo, UploadError, UploadExpired, WaitBound, WaitTimeout,
        error_chain,
    },
    jobs::{InconsistentJobPage, JobCursor, JobFile, check_job_id, check_job_inputs, task_type},
    ops::{
        CancelJob, CreateJob, CreateMedia, DeleteJob, DeleteMedia, FinalizeJob, GetJob, GetMedia,
        ListJobs, ListMedia,
    },
    options::{Checkpoint, CheckpointFn},
    paginate::{InconsistentPage, ListCursor},
    poll::PollStep,
    response::{
        SNIPPET_LEN, check_api_response, read_artifact_response, read_json, read_upload_response,
        snippet,
    },
    retry::{
        Replay, RetryAction, RetryDecision, RetryReason, classify_error, classify_status,
        classify_transport,
    },
    upload::{EXPECT_CONTINUE_MIN, EXPECT_CONTINUE_WAIT, artifact_request},
    validate::{
        check_mid, check_model, content_type_of_extension, default_model, detect_content_type,
    },
    wire::{
        MAX_API_RESPONSE_BYTES, RESPONSE_READ_LIMIT, RequestTimeout, RetryAfter, ShortBody,
        TransportErrorKind, UploadStalled,
    },
};
