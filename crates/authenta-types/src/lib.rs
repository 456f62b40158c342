//! The data types of the [Authenta](https://authenta.ai) API.
//!
//! Authenta detects deepfakes and manipulated media. This crate holds what
//! goes over the wire, and nothing else: the media record ([`Media`]), the
//! create request and response ([`CreateMediaRequest`], [`CreatedMedia`]),
//! a list page ([`MediaList`]), jobs ([`Job`], [`CreatedJob`],
//! [`CreateJobRequest`], [`JobList`]), the error body ([`ErrorBody`]) and the enums
//! that mirror server values ([`MediaStatus`], [`ModelType`], [`ErrorCode`],
//! ...). It depends on serde and `jiff` only.
//!
//! The tables the code must not restate by hand (error codes, model types,
//! content types, task types, routes) are generated from `spec/authenta.openapi.yaml` by
//! `cargo xtask codegen` into constants such as
//! [`ERROR_CODES`], [`MODEL_TYPES`] and [`TASK_TYPES`].
//!
//! Enums that mirror server values are `#[non_exhaustive]` and keep values
//! they do not know in an `Unknown(String)` variant, so a new status or model
//! is never a parse error. Records keep fields this version does not know in
//! their `extra` map.
//!
//! ```
//! use authenta_types::{Media, MediaStatus, ModelType};
//!
//! let media: Media = serde_json::from_str(r#"{
//!     "mid": "692f406f9f68d4b70080bb80",
//!     "name": "video_sample",
//!     "type": "Video",
//!     "status": "PROCESSED",
//!     "modelType": "DF-1",
//!     "createdAt": "2025-12-02T19:39:27.525Z",
//!     "fake": true,
//!     "region": "eu-west-1"
//! }"#).unwrap();
//! assert_eq!(media.status, MediaStatus::Processed);
//! assert!(media.status.is_final());
//! assert_eq!(media.model_type, ModelType::Df1);
//! assert_eq!(media.fake, Some(true));
//! assert_eq!(media.extra["region"], "eu-west-1");
//! ```

mod error;
mod generated;
mod generated_tables;
mod jobs;
mod media;
mod rows;
mod tables;
mod wire;

pub use error::ErrorBody;
pub use generated::*;
pub use generated_tables::*;
pub use jobs::{
    Artifact, CreateJobRequest, CreatedJob, EMBEDDING_LEN, FaceBox, IdentityDetails, InvalidJobId,
    Job, JobId, JobInput, JobList, JobListQuery, JobParameters, JobResult, JobSlot,
    JobStatusUpdate, Pagination,
};
pub use media::{
    CreateMediaRequest, CreatedMedia, InvalidMediaId, ListQuery, Media, MediaId, MediaList,
    Participant, ParticipantBoxes, ResultDocument, redact_url,
};
pub use rows::{
    ApiGeneration, CodeClass, ContentTypeInfo, CreditCheck, ErrorCodeInfo, MediaKind,
    ModelTypeInfo, Operation, QuotaKind, RetryAdvice, RouteInfo, SlotInfo, TaskTypeInfo,
    VerdictRule,
};

/// A JSON object: where records keep the fields this version does not know.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Timestamps on the wire (RFC 3339, UTC), re-exported from the `jiff`
/// crate.
pub use jiff::Timestamp;

/// The OpenAPI 3.0 description of the API this version speaks (a copy of
/// `spec/authenta.openapi.yaml`, kept fresh by `cargo xtask codegen`).
pub const OPENAPI_YAML: &str = include_str!("../authenta.openapi.yaml");
