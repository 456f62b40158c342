//! The public data of the control surface: keys, records, logs and faults.
//!
//! Every type here is serde-serialisable with camelCase fields: the HTTP
//! control surface (`/_emulator/...`) sends and takes the same shapes as the
//! in-process methods of [`RunningEmulator`](crate::RunningEmulator).

use std::collections::BTreeMap;
use std::fmt;

use authenta_types::{ErrorBody, Permission};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What a new API key may do and how much it may spend.
///
/// ```
/// use authenta_emulator::KeySpec;
/// use authenta_types::Permission;
///
/// let spec = KeySpec::new("ci")
///     .permissions([Permission::Read, Permission::Write])
///     .query_quota(20)
///     .mutation_quota(10);
/// assert_eq!(spec.query_quota, Some(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct KeySpec {
    /// A label for people, such as `Backend-Server-Key`.
    pub name: String,
    /// What the key may do; all of `Read`, `Write` and `Delete` by default.
    #[serde(default = "all_permissions")]
    pub permissions: Vec<Permission>,
    /// How many `GET` requests the key may make; `None` for no limit.
    #[serde(default)]
    pub query_quota: Option<u64>,
    /// How many `POST` and `DELETE` requests the key may make; `None` for no
    /// limit.
    #[serde(default)]
    pub mutation_quota: Option<u64>,
}

fn all_permissions() -> Vec<Permission> {
    vec![Permission::Read, Permission::Write, Permission::Delete]
}

impl KeySpec {
    /// A key named `name` with every permission and no quota limit.
    pub fn new(name: impl Into<String>) -> Self {
        KeySpec {
            name: name.into(),
            permissions: all_permissions(),
            query_quota: None,
            mutation_quota: None,
        }
    }

    /// Replaces the key's permissions.
    pub fn permissions(mut self, permissions: impl IntoIterator<Item = Permission>) -> Self {
        self.permissions = permissions.into_iter().collect();
        self
    }

    /// Limits the key's `GET` requests.
    pub fn query_quota(mut self, quota: u64) -> Self {
        self.query_quota = Some(quota);
        self
    }

    /// Limits the key's `POST` and `DELETE` requests.
    pub fn mutation_quota(mut self, quota: u64) -> Self {
        self.mutation_quota = Some(quota);
        self
    }
}

/// A key's credentials, as shown once at creation or regeneration: an API
/// key token (today's kind, generation 2) and a client id and secret (the
/// older kind, generation 1), both for the same key.
///
/// `Debug` hides the secret and the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiKey {
    /// The public identifier, sent as `x-client-id`.
    pub client_id: String,
    /// The secret, sent as `x-client-secret`.
    pub client_secret: String,
    /// The API key token (`api_…`), sent as `Authorization: Bearer`.
    pub api_key: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// Which credentials the emulator takes, and so which generation of the
/// API it answers in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AuthMode {
    /// Only `x-client-id` / `x-client-secret` (generation 1: quotas,
    /// `IAM001`, `AA001`, `U007`, bodies `{code, type, message}`); a Bearer
    /// token is ignored.
    Headers,
    /// Only `Authorization: Bearer api_…` (generation 2: no quotas,
    /// `INVALID_API_KEY`, `FORBIDDEN`, `INSUFFICIENT_BALANCE`, bodies
    /// `{code, statusCode, message}`); the `x-client-*` headers are ignored.
    Bearer,
    /// Both: a request with a Bearer token is answered as generation 2,
    /// any other as generation 1.
    #[default]
    Both,
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "headers" => Ok(AuthMode::Headers),
            "bearer" => Ok(AuthMode::Bearer),
            "both" => Ok(AuthMode::Both),
            other => Err(format!(
                "unknown auth mode {other:?}; it is headers, bearer or both"
            )),
        }
    }
}

/// A key as the dashboard shows it: everything but the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key's label.
    pub name: String,
    /// The public identifier.
    pub client_id: String,
    /// What the key may do.
    pub permissions: Vec<Permission>,
    /// The `GET` allowance; `None` for no limit.
    pub query_quota: Option<u64>,
    /// The `POST`/`DELETE` allowance; `None` for no limit.
    pub mutation_quota: Option<u64>,
    /// `GET` requests spent so far.
    pub query_used: u64,
    /// `POST`/`DELETE` requests spent so far.
    pub mutation_used: u64,
    /// When the key was created.
    pub created_at: Timestamp,
    /// Whether the key was revoked (its id and secret no longer work).
    pub revoked: bool,
}

/// What the emulator knows about one uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UploadInfo {
    /// The number of bytes received.
    pub size: u64,
    /// The SHA-256 of the bytes, lower-case hex. The verdict is derived from
    /// it: `fake` is `true` when its first byte is odd.
    pub sha256: String,
    /// The `ETag` the upload was answered with (quoted MD5, as S3 does).
    pub etag: String,
    /// The `Content-Type` the upload carried.
    pub content_type: String,
    /// When the upload completed.
    pub uploaded_at: Timestamp,
}

/// A media record with everything the emulator keeps about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MediaRecord {
    /// The record's id: 24 lower-case hex characters.
    pub mid: String,
    /// The name given at creation.
    pub name: String,
    /// The record's `type` (`Image`, `Video`, `Audio`, `Document`).
    #[serde(rename = "type")]
    pub media_type: String,
    /// `INITED`, `UPLOADED`, `PROCESSED` or `FAILED`.
    pub status: String,
    /// The model requested.
    pub model_type: String,
    /// The MIME type declared at creation (the upload must carry it).
    pub content_type: String,
    /// The byte count declared at creation (the upload must carry exactly it).
    pub size: u64,
    /// When the record was created.
    pub created_at: Timestamp,
    /// The upload, once one completed.
    #[serde(default)]
    pub upload: Option<UploadInfo>,
    /// When processing is due to finish (records in `UPLOADED`).
    #[serde(default)]
    pub processing_due: Option<Timestamp>,
    /// The verdict, once `PROCESSED`.
    #[serde(default)]
    pub fake: Option<bool>,
    /// Why the record `FAILED` (`U007` when no credit was left when
    /// processing started).
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

/// A job of the jobs API (`/api/v1/jobs`) with everything the emulator
/// keeps about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JobRecord {
    /// The job's id (a number, never reused).
    pub id: u64,
    /// The task type's id (`TASK_TYPES`).
    pub task_type_id: u32,
    /// `created`, `waiting_for_finalize`, `queued`, `processing`,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The `parameters` given at creation.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    /// When the job was created.
    pub created_at: Timestamp,
    /// When the job last changed.
    pub updated_at: Timestamp,
    /// When it was finalized.
    #[serde(default)]
    pub queued_at: Option<Timestamp>,
    /// When its next step is due: `processing` (from `queued`), then its
    /// end (from `processing`).
    #[serde(default)]
    pub due: Option<Timestamp>,
    /// When processing ends (set at finalize).
    #[serde(default)]
    pub finish_at: Option<Timestamp>,
    /// When it reached `completed` or `failed`.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Why it `failed`: once failed, or, from finalize on, the failure
    /// [`RunningEmulator::fail_next_jobs`](crate::RunningEmulator::fail_next_jobs)
    /// armed for it.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Its input slots, in the order given at creation.
    pub inputs: Vec<JobInputRecord>,
}

/// One input slot of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JobInputRecord {
    /// `original`, or `reference` (face intelligence's second image).
    pub slot_name: String,
    /// The MIME type declared at creation (the upload must carry it).
    pub content_type: String,
    /// The file name given at creation.
    pub file_name: String,
    /// The byte count declared at creation (the upload must carry exactly it).
    pub size_bytes: u64,
    /// The upload, once one completed.
    #[serde(default)]
    pub upload: Option<UploadInfo>,
}

/// The headers of one request received on the S3 upload endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UploadRequest {
    /// When it arrived.
    pub at: Timestamp,
    /// The HTTP method.
    pub method: String,
    /// The path, without the (pre-signed) query string.
    pub path: String,
    /// The headers as received: lower-case names, values decoded lossily,
    /// in arrival order. Kept so tests can check what clients sent (for
    /// example that no `x-client-secret` went to the upload URL).
    pub headers: Vec<(String, String)>,
    /// Whether an injected fault struck it (it is logged on arrival, faulted
    /// or not, so the log counts every attempt).
    #[serde(default)]
    pub faulted: bool,
}

impl UploadRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What a well-behaved client got wrong on this upload of `size` bytes
    /// declared as `content_type`: a `Content-Length` other than `size`,
    /// another `Content-Type`, any `Transfer-Encoding`, or a credential
    /// header (`x-client-*`, `authorization`). Empty when it did all right;
    /// tests assert it is empty.
    pub fn client_mistakes(&self, size: u64, content_type: &str) -> Vec<String> {
        let mut mistakes = Vec::new();
        let length = size.to_string();
        if self.header("content-length") != Some(length.as_str()) {
            mistakes.push(format!(
                "Content-Length is {:?}, not {length}",
                self.header("content-length")
            ));
        }
        if self.header("content-type") != Some(content_type) {
            mistakes.push(format!(
                "Content-Type is {:?}, not {content_type}",
                self.header("content-type")
            ));
        }
        if let Some(te) = self.header("transfer-encoding") {
            mistakes.push(format!("Transfer-Encoding: {te} was sent"));
        }
        for (name, _) in &self.headers {
            if name.starts_with("x-client-") || name.eq_ignore_ascii_case("authorization") {
                mistakes.push(format!("a credential header was sent: {name}"));
            }
        }
        mistakes
    }
}

/// One request received under `/api`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiRequest {
    /// When it arrived.
    pub at: Timestamp,
    /// The HTTP method.
    pub method: String,
    /// The path and query string.
    pub path: String,
    /// The `x-client-id` it carried, if any (never the secret).
    pub client_id: Option<String>,
    /// The names of the credential headers it carried (`x-client-id`,
    /// `x-client-secret`, `authorization`), never their values.
    #[serde(default)]
    pub credential_headers: Vec<String>,
    /// The status answered (after any injected fault).
    pub status: u16,
    /// The error code answered, if any (`IAM001`, `EMU400`, ...).
    pub code: Option<String>,
    /// Whether an injected fault changed the answer.
    pub faulted: bool,
}

/// Counters over every request received under `/api`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiStats {
    /// How many requests in all.
    pub total: u64,
    /// How many per answered status.
    pub by_status: BTreeMap<u16, u64>,
    /// How many per answered error code.
    pub by_code: BTreeMap<String, u64>,
}

/// When an injected fault strikes, relative to the emulator's own handling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum FaultStage {
    /// Before the request is handled: nothing happens on the server (no
    /// record created, no quota spent, no upload stored).
    #[default]
    Before,
    /// After the request was handled normally: its effects stay (a record
    /// created by `POST /media` exists, quota is spent, an upload is stored)
    /// but the client gets the fault instead of the answer.
    After,
}

/// The body of an injected error answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum FaultBody {
    /// The `EMU500` JSON error body from the generated table.
    #[default]
    Json,
    /// A small HTML page, as a proxy sends.
    Html,
    /// No body at all.
    Empty,
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", deny_unknown_fields)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status (400 to 599) instead.
    #[serde(rename_all = "camelCase")]
    Status {
        /// The HTTP status, such as 500, 502 or 503.
        status: u16,
        /// The body to send.
        #[serde(default)]
        body: FaultBody,
        /// A `Retry-After` header, in seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait this long, then carry on normally (before handling, or before
    /// sending the answer).
    #[serde(rename_all = "camelCase")]
    Delay {
        /// How long, in milliseconds.
        millis: u64,
    },
    /// Close the TCP connection with a reset and no answer.
    Reset,
    /// Send the real answer's head with a `Content-Length` larger than the
    /// bytes that follow (half of the body), then close the connection. The
    /// request is always handled first, whatever the stage.
    Truncate,
    /// Send the real answer's head and half its body, then reset the
    /// connection. The request is always handled first.
    ResetMidBody,
    /// Stop reading the request body for `millis` after its first chunk (a
    /// stall in the middle of an upload), then carry on normally.
    #[serde(rename_all = "camelCase")]
    StallBody {
        /// How long, in milliseconds.
        millis: u64,
    },
    /// Answer `200 OK` with `Content-Type: application/json` and a body that
    /// is not JSON (an HTML page, as a captive portal sends).
    NotJson,
    /// Answer S3's `503 SlowDown` XML error (with `Retry-After: 1`), as the
    /// upload endpoint does under load.
    SlowDown,
    /// Answer normally, then close the connection about 100 ms later, as a
    /// server closes an idle kept-alive connection: a client that reuses it
    /// finds it closed.
    CloseIdle,
    /// Redirect to another host: `Location` is `location`, or the same
    /// path and query on `http://redirected.invalid`.
    #[serde(rename_all = "camelCase")]
    Redirect {
        /// 301, 302, 303, 307 (default) or 308.
        #[serde(default = "temporary_redirect")]
        status: u16,
        /// Where to; default the same path on another host.
        #[serde(default)]
        location: Option<String>,
    },
    /// Answer exactly this: any status from 200 to 599, the body as given
    /// (an error code the SDK does not know, a record lacking a required
    /// field, ...), with this `Content-Type` and `Retry-After`.
    #[serde(rename_all = "camelCase")]
    Respond {
        /// The HTTP status, 200 to 599.
        status: u16,
        /// The `Content-Type`; none when `None`.
        #[serde(default)]
        content_type: Option<String>,
        /// The body, sent as is.
        #[serde(default)]
        body: String,
        /// A `Retry-After` header, in seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Answer S3's XML error `<Error><Code>code</Code><Message>message</Message></Error>`
    /// with this status (400 to 599): `SignatureDoesNotMatch`,
    /// `AccessDenied`, `EntityTooLarge`, `NoSuchKey`, ... on an upload or a
    /// download URL.
    #[serde(rename_all = "camelCase")]
    S3Error {
        /// The HTTP status, such as 403.
        status: u16,
        /// S3's error code.
        code: String,
        /// S3's message; default S3's own for the code, if known.
        #[serde(default)]
        message: Option<String>,
    },
    /// Answer `200 OK` with `Content-Type: application/json` and a body of
    /// `bytes` bytes (a JSON object padded with spaces), streamed: an answer
    /// over any client's body cap.
    #[serde(rename_all = "camelCase")]
    Oversized {
        /// The body's length, at least 2.
        bytes: u64,
    },
    /// On `GET /media`, answer every page as the first one (the records
    /// from offset 0, `limit` the number sent) while echoing the `offset`
    /// asked and claiming `total` records: a server that ignores `offset`.
    /// Other requests are handled normally.
    #[serde(rename_all = "camelCase")]
    IgnoreOffset {
        /// The `total` claimed.
        total: u64,
    },
    /// On `GET /media`, show every record as `UPLOADED` (no verdict), as a
    /// list that lags behind the records does; `GET /media/{mid}` and other
    /// requests are handled normally.
    StaleList,
}

fn temporary_redirect() -> u16 {
    307
}

/// A fault to inject into the next `times` requests that match.
///
/// ```
/// use authenta_emulator::{Fault, FaultAction, FaultBody, FaultStage};
///
/// // The next POST /api/media creates its record, then answers 500.
/// let fault = Fault::new("/api/media", FaultAction::Status {
///     status: 500,
///     body: FaultBody::Json,
///     retry_after: None,
/// })
/// .method("POST")
/// .stage(FaultStage::After);
/// assert_eq!(fault.times, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Fault {
    /// Only requests with this method (any when `None`).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this (for example `/api/media`
    /// or `/authenta-storage/` for uploads). Control requests
    /// (`/_emulator/...`) are never faulted.
    pub path_prefix: String,
    /// How many matching requests it strikes (at least 1).
    #[serde(default = "one")]
    pub times: u32,
    /// Before or after handling.
    #[serde(default)]
    pub stage: FaultStage,
    /// Wait this long (in milliseconds) before acting: with `stage` before,
    /// before the request is handled; with after, once it was handled and
    /// before the fault replaces or changes its answer (a `504` after a
    /// second, a reset after a slow answer).
    #[serde(default)]
    pub delay_millis: Option<u64>,
    /// What it does.
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault on the next request whose path starts with `path_prefix`,
    /// any method, struck before handling.
    pub fn new(path_prefix: impl Into<String>, action: FaultAction) -> Self {
        Fault {
            method: None,
            path_prefix: path_prefix.into(),
            times: 1,
            stage: FaultStage::Before,
            delay_millis: None,
            action,
        }
    }

    /// Wait `delay` before acting (see [`Fault::delay_millis`]).
    pub fn delay(mut self, delay: std::time::Duration) -> Self {
        self.delay_millis = Some(delay.as_millis().try_into().unwrap_or(u64::MAX));
        self
    }

    /// Only requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Strike the next `times` matching requests.
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// Strike before or after handling.
    pub fn stage(mut self, stage: FaultStage) -> Self {
        self.stage = stage;
        self
    }
}

/// A fault still armed, with how many strikes it has left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ArmedFault {
    /// The id [`RunningEmulator::inject_fault`](crate::RunningEmulator::inject_fault) returned.
    pub id: u64,
    /// The fault as injected.
    pub fault: Fault,
    /// Strikes left.
    pub remaining: u32,
}

/// Why a control request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlError {
    /// No key has this client id.
    UnknownKey(String),
    /// The key was revoked.
    RevokedKey(String),
    /// The request is not valid; the message says why.
    Invalid(String),
    /// Writing the state to the data directory failed.
    Persist(String),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::UnknownKey(id) => write!(f, "no API key has client id {id:?}"),
            ControlError::RevokedKey(id) => write!(f, "the API key {id:?} was revoked"),
            ControlError::Invalid(why) => write!(f, "invalid control request: {why}"),
            ControlError::Persist(why) => write!(f, "could not save the emulator's state: {why}"),
        }
    }
}

impl std::error::Error for ControlError {}

/// Statuses, as the API spells them (from the generated enum).
pub(crate) fn status_str(status: authenta_types::MediaStatus) -> String {
    status.as_str().to_owned()
}

/// A job status as stored and sent.
pub(crate) fn job_status_str(status: authenta_types::JobStatus) -> String {
    status.as_str().to_owned()
}

#[cfg(test)]
mod upload_request_tests {
    use super::*;

    fn put(headers: &[(&str, &str)]) -> UploadRequest {
        UploadRequest {
            at: Timestamp::UNIX_EPOCH,
            method: "PUT".into(),
            path: "/b/k".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            faulted: false,
        }
    }

    #[test]
    fn a_clean_upload_has_no_mistakes() {
        let ok = put(&[
            ("content-length", "5"),
            ("content-type", "image/png"),
            ("host", "h"),
        ]);
        assert!(ok.client_mistakes(5, "image/png").is_empty());
    }

    #[test]
    fn each_mistake_is_named() {
        let bad = put(&[
            ("content-type", "image/jpeg"),
            ("transfer-encoding", "chunked"),
            ("x-client-secret", "s"),
            ("authorization", "Bearer t"),
        ]);
        let mistakes = bad.client_mistakes(5, "image/png");
        assert_eq!(mistakes.len(), 5, "{mistakes:?}");
        assert!(mistakes[0].starts_with("Content-Length is None"));
        assert!(mistakes.iter().any(|m| m.contains("x-client-secret")));
        assert!(mistakes.iter().any(|m| m.contains("authorization")));
        assert!(
            mistakes
                .iter()
                .any(|m| m.contains("Transfer-Encoding: chunked"))
        );
    }
}
