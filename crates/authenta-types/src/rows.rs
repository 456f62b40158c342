//! The row types of the generated tables (`generated_tables`); their
//! look-ups are in `tables`.

use crate::{Permission, SlotName};

/// The kind of media a file is, and a model takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MediaKind {
    /// A still image (JPEG, PNG, ...).
    Image,
    /// A video (MP4, QuickTime, ...).
    Video,
    /// An audio recording.
    Audio,
    /// A document (PDF).
    Document,
}

/// Whether the documentation allows retrying an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAdvice {
    /// Never retry: the same request gets the same answer.
    Never,
    /// A retry may succeed.
    Allowed,
}

/// Which generation of the API a code belongs to: the kind of credentials
/// the request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiGeneration {
    /// A client id and secret (`x-client-id` / `x-client-secret`): quotas,
    /// error bodies `{code, type, message}`.
    First,
    /// An API key (`Authorization: Bearer api_…`): no quotas, error bodies
    /// `{code, statusCode, message}`.
    Second,
}

/// What an error code means for a client: the class a program acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeClass {
    /// The credentials were refused (`IAM001`, `INVALID_API_KEY`).
    Credentials,
    /// The key lacks a permission (`IAM002`, `FORBIDDEN`).
    Permission,
    /// A quota is spent (`AA001`).
    Quota,
    /// The account has too few credits (`U007`, `INSUFFICIENT_BALANCE`).
    Credits,
    /// The request was refused for what it asked (`UNSUPPORTED_MEDIA_TYPE`,
    /// ...).
    InvalidInput,
    /// What the request names does not exist (`JOB_NOT_FOUND`, ...).
    NotFound,
    /// The server failed.
    Server,
    /// A job's status does not allow the operation (cancelling a job that
    /// is processing, a second finalize, ...).
    JobState,
}

/// One row of [`ERROR_CODES`](crate::ERROR_CODES).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCodeInfo {
    /// The code, such as `IAM001`.
    pub code: &'static str,
    /// The generation of the API that sends it; `None` for the emulator's
    /// own codes, which both generations use.
    pub generation: Option<ApiGeneration>,
    /// What the code means for a client.
    pub class: CodeClass,
    /// The error type the server sends with it, such as `UNAUTHENTICATED`;
    /// `None` for generation 2, whose bodies carry `statusCode` instead.
    pub error_type: Option<&'static str>,
    /// The documented message.
    pub message: &'static str,
    /// The documented HTTP status; `None` where the documentation gives none
    /// (`U007`). Classify by code, not by status.
    pub status: Option<u16>,
    /// The status authenta-emulator answers with.
    pub emulator_status: u16,
    /// Whether the documentation allows a retry.
    pub retry: RetryAdvice,
    /// When the server sends it.
    pub description: &'static str,
}

/// One row of [`MODEL_TYPES`](crate::MODEL_TYPES).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelTypeInfo {
    /// The model's id, such as `DF-1`.
    pub id: &'static str,
    /// The kinds of media the model takes.
    pub media_kinds: &'static [MediaKind],
    /// The content types the model takes; empty when it takes every content
    /// type of its kinds.
    pub content_types: &'static [&'static str],
    /// Whether Authenta's API pages document the model (`DF-1`, `AC-1`), or
    /// only its published client code.
    pub documented: bool,
    /// What the model detects.
    pub description: &'static str,
}

/// One row of [`CONTENT_TYPES`](crate::CONTENT_TYPES).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentTypeInfo {
    /// The MIME type, such as `image/png`.
    pub content_type: &'static str,
    /// The kind of media it is.
    pub media_kind: MediaKind,
}

/// The API's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /media`.
    CreateMedia,
    /// `GET /media`.
    ListMedia,
    /// `GET /media/{mid}`.
    GetMedia,
    /// `DELETE /media/{mid}`.
    DeleteMedia,
    /// `POST /v1/jobs`.
    CreateJob,
    /// `GET /v1/jobs`.
    ListJobs,
    /// `GET /v1/jobs/{jobId}`.
    GetJob,
    /// `DELETE /v1/jobs/{jobId}`.
    DeleteJob,
    /// `POST /v1/jobs/{jobId}/finalize`.
    FinalizeJob,
    /// `POST /v1/jobs/{jobId}/cancel`.
    CancelJob,
}

/// Which of a key's quotas a route spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuotaKind {
    /// GET requests.
    Query,
    /// POST and DELETE requests.
    Mutation,
}

/// What a route does with the account's credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CreditCheck {
    /// Credits play no part.
    None,
    /// The balance is checked (`U007` when too low) but nothing is spent.
    Checked,
    /// Credits are spent.
    Spent,
}

/// One row of [`ROUTES`](crate::ROUTES).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The operation.
    pub operation: Operation,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template under the base URL, such as `/media/{mid}`.
    pub path: &'static str,
    /// The permission the key needs.
    pub permission: Permission,
    /// The quota the request spends.
    pub quota: QuotaKind,
    /// What the request does with credits.
    pub credits: CreditCheck,
}

/// One row of [`TASK_TYPES`](crate::TASK_TYPES): a task type a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskTypeInfo {
    /// The id that goes on the wire as `taskTypeId`.
    pub id: u32,
    /// The slug, such as `faceswap-detection`.
    pub slug: &'static str,
    /// The model code, such as `DF-1` (the mapping in Authenta's SDK).
    pub model: &'static str,
    /// Whether Authenta's documentation lists the task type.
    pub documented: bool,
    /// How long a job of this type may take, in seconds: what bounds a
    /// wait unless the caller sets another bound. `None` where the
    /// documentation gives no limit.
    pub time_limit_secs: Option<u64>,
    /// What the task does.
    pub description: &'static str,
    /// Its input slots; the first is the required `original`.
    pub slots: &'static [SlotInfo],
    /// The [`JobResult`](crate::JobResult) fields (as on the wire, such as
    /// `isDeepFake`) a completed job of this type holds.
    pub result_fields: &'static [&'static str],
    /// Which result field is the verdict; `None` when the task gives none
    /// (embeddings, audio splitting).
    pub verdict: Option<VerdictRule>,
}

/// Which boolean of a job's result is its verdict, and the value that
/// means the media is manipulated (`isDeepFake: true`, `isLiveness: false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictRule {
    /// The result field, as on the wire (`isAiGenerated`, `isDeepFake`,
    /// `isLiveness`, `isSimilar`).
    pub field: &'static str,
    /// The value that means manipulated (or not live).
    pub fake_when: bool,
}

/// One input slot of a [`TaskTypeInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    /// The slot's name.
    pub name: SlotName,
    /// Whether every job of the type needs it.
    pub required: bool,
    /// The formats as the documentation names them (`JPEG`, `MP4`, ...).
    pub formats: &'static [&'static str],
    /// The content types the slot takes.
    pub content_types: &'static [&'static str],
}
