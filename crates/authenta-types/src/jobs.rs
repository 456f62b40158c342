//! Jobs (`/v1/jobs`, generation 2): a job runs one task type over one or
//! more uploaded input slots.
//!
//! Where Authenta's documentation and its own SDK disagree, these types read
//! both shapes: a job's id as `jobId` (documentation) or `id` (the SDK's
//! reading, and `job.id` in a create answer), the task type as a number or
//! a string. They write the documented shape.

use std::fmt;

use jiff::Timestamp;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::media::{lenient, redact_opt};
use crate::{ArtifactKind, Extra, JOB_FINAL_STATUSES, JobStatus, SlotName, TaskType};

/// How many numbers a face embedding holds.
pub const EMBEDDING_LEN: usize = 512;

/// The id of a job: a number in the documentation's examples (`469`), a
/// string in others; kept as text.
///
/// It is written as a JSON number when it is one (decimal digits without a
/// leading zero, fitting in 64 bits), else as a string, so an id reads back
/// as the server sent it.
///
/// ```
/// use authenta_types::JobId;
/// let n: JobId = serde_json::from_str("469").unwrap();
/// let s: JobId = serde_json::from_str(r#""job_7f3a""#).unwrap();
/// assert_eq!((n.as_str(), s.as_str()), ("469", "job_7f3a"));
/// assert_eq!(serde_json::to_string(&n).unwrap(), "469");
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#""job_7f3a""#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

/// A job id given by a person that cannot be one: empty, too long, or
/// holding characters no job id has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidJobId {
    reason: &'static str,
}

impl fmt::Display for InvalidJobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid job id: {}; a job id looks like 469",
            self.reason
        )
    }
}

impl std::error::Error for InvalidJobId {}

impl JobId {
    /// Wraps an id as the server sent it, unchecked.
    pub fn new(id: impl Into<String>) -> Self {
        JobId(id.into())
    }

    /// Checks an id typed by a person (it goes into a URL path): not
    /// empty, at most 64 characters, ASCII letters, digits, `-` and `_`.
    ///
    /// ```
    /// use authenta_types::JobId;
    /// assert!(JobId::parse("469").is_ok());
    /// assert!(JobId::parse("").is_err());
    /// assert!(JobId::parse("1/../2").is_err());
    /// ```
    pub fn parse(id: &str) -> Result<Self, InvalidJobId> {
        match crate::wire::id_problem(id) {
            Some(reason) => Err(InvalidJobId { reason }),
            None => Ok(JobId(id.to_owned())),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a number, when it is one the way JSON writes numbers.
    fn as_number(&self) -> Option<u64> {
        let canonical = !self.0.is_empty()
            && self.0.bytes().all(|b| b.is_ascii_digit())
            && (self.0 == "0" || !self.0.starts_with('0'));
        canonical.then(|| self.0.parse().ok()).flatten()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for JobId {
    type Err = InvalidJobId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobId::parse(s)
    }
}

/// An id as given, unchecked (as [`JobId::new`]): so that methods taking a
/// job accept `&str`, `String` and `&JobId` alike.
impl From<&str> for JobId {
    fn from(id: &str) -> Self {
        JobId::new(id)
    }
}

impl From<String> for JobId {
    fn from(id: String) -> Self {
        JobId(id)
    }
}

impl From<&String> for JobId {
    fn from(id: &String) -> Self {
        JobId::new(id.as_str())
    }
}

impl From<&JobId> for JobId {
    fn from(id: &JobId) -> Self {
        id.clone()
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for JobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_number() {
            Some(n) => s.serialize_u64(n),
            None => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if !s.is_empty() => Ok(JobId(s)),
            serde_json::Value::Number(n) if n.is_u64() => Ok(JobId(n.to_string())),
            other => Err(D::Error::custom(format!(
                "a job id is a whole number or a non-empty string, found {other}"
            ))),
        }
    }
}

impl JobStatus {
    /// Whether the job will not change any more: `completed`, `failed` or
    /// `cancelled`. Unknown statuses are not final.
    pub fn is_final(&self) -> bool {
        JOB_FINAL_STATUSES.contains(&self.as_str())
    }

    /// Whether the job still waits for its finalize (`created`,
    /// `waiting_for_finalize`): only then may a finalize whose answer was
    /// lost be sent again. Any other status (unknown ones included) means
    /// the job moved on.
    ///
    /// ```
    /// use authenta_types::JobStatus;
    /// assert!(JobStatus::WaitingForFinalize.awaits_finalize());
    /// assert!(!JobStatus::Queued.awaits_finalize());
    /// assert!(!JobStatus::from("archived").awaits_finalize());
    /// ```
    pub fn awaits_finalize(&self) -> bool {
        matches!(self, JobStatus::Created | JobStatus::WaitingForFinalize)
    }
}

/// Moves a job's id to `jobId`: a map with `jobId` keeps it (and loses an
/// `id` beside it), a map with only `id` has it renamed.
fn normalize_id(map: &mut Extra) {
    if map.contains_key("jobId") {
        map.remove("id");
    } else if let Some(id) = map.remove("id") {
        map.insert("jobId".to_owned(), id);
    }
}

/// One input slot of a [`CreateJobRequest`]: which slot, and the exact
/// content type, name and size its upload will carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobInput {
    /// The slot (`original`, `reference`).
    pub slot_name: SlotName,
    /// The MIME type the upload will declare.
    pub content_type: String,
    /// The file's name.
    pub file_name: String,
    /// The exact number of bytes the upload will carry.
    pub size_bytes: u64,
}

/// A job's parameters: `{version: "v1"}` and, for face intelligence, which
/// checks to run.
///
/// ```
/// use authenta_types::JobParameters;
/// let p = JobParameters { is_similarity_check: Some(true), ..JobParameters::v1() };
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"version":"v1","isSimilarityCheck":true}"#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobParameters {
    /// The parameters' version (`v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Face intelligence: check for a faceswap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_faceswap_check: Option<bool>,
    /// Face intelligence: check liveness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_liveness_check: Option<bool>,
    /// Face intelligence: compare with the `reference` slot's face.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_similarity_check: Option<bool>,
    /// Parameters this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl JobParameters {
    /// `{version: "v1"}`.
    pub fn v1() -> Self {
        JobParameters {
            version: Some("v1".to_owned()),
            ..JobParameters::default()
        }
    }
}

/// The body of `POST /v1/jobs`.
///
/// The task type goes in the query (`?taskTypeId=N`, the documentation's
/// place), so `task_type_id` stays `None` in what a client sends; a server
/// reads it when a client put it in the body (Authenta's SDK sends a
/// string; a number is read too).
///
/// ```
/// use authenta_types::{CreateJobRequest, SlotName};
/// let sdk: CreateJobRequest = serde_json::from_str(r#"{
///     "taskTypeId": "4",
///     "inputs": [{"slotName": "original", "contentType": "video/mp4",
///                 "fileName": "clip.mp4", "sizeBytes": 1024}]
/// }"#).unwrap();
/// assert_eq!(sdk.task_type_id, Some(4));
/// assert_eq!(sdk.inputs[0].slot_name, SlotName::Original);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateJobRequest {
    /// One entry per input slot.
    pub inputs: Vec<JobInput>,
    /// The task's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<JobParameters>,
    /// The task type in the body (Authenta's SDK's place; written as a
    /// string, read as a string or a number). `None` when the query
    /// carries it.
    #[serde(
        default,
        deserialize_with = "id_number",
        serialize_with = "id_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_type_id: Option<u32>,
}

/// Reads a task type id sent as a number or as a string of digits in
/// canonical form (`"4"`, not `" 4"` or `"04"`); anything else, `null`
/// included, is an error (a request names its task type exactly, or leaves
/// the field out).
fn id_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    lenient_id(&v)
        .filter(|id| !v.is_string() || v.as_str() == Some(id.to_string().as_str()))
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "taskTypeId must be a whole number, such as \"4\" or 4, found {v}"
            ))
        })
}

fn lenient_id(v: &serde_json::Value) -> Option<u32> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn id_string<S: Serializer>(id: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&id.to_string()),
        None => s.serialize_none(),
    }
}

/// Reads a task type id in an answer: a number or a string of digits;
/// anything else is read as absent.
fn lenient_task_type_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(lenient_id(&serde_json::Value::deserialize(d)?))
}

/// One input slot of a job; a create answer gives each its `uploadUrl`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSlot {
    /// The slot (`original`, `reference`).
    pub slot_name: SlotName,
    /// The content type the upload must declare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The file's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The exact size the upload must have.
    #[serde(
        default,
        deserialize_with = "lenient::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub size_bytes: Option<u64>,
    /// The pre-signed URL to `PUT` the slot's bytes to (create answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// Seconds the upload URL stays valid, when the server says.
    #[serde(
        default,
        deserialize_with = "lenient::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in: Option<u64>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for JobSlot {
    /// The upload URL is shown without its query string (the signature).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobSlot")
            .field("slot_name", &self.slot_name)
            .field("content_type", &self.content_type)
            .field("file_name", &self.file_name)
            .field("size_bytes", &self.size_bytes)
            .field("upload_url", &redact_opt(&self.upload_url))
            .field("expires_in", &self.expires_in)
            .field("extra", &self.extra)
            .finish()
    }
}

/// A file a job produced: a result document, a heatmap (Authenta's SDK's
/// reading).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The artifact's id (a number or a string on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<JobId>,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ArtifactKind>,
    /// Its content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The pre-signed URL to download it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for Artifact {
    /// The download URL is shown without its query string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artifact")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("content_type", &self.content_type)
            .field("download_url", &redact_opt(&self.download_url))
            .field("extra", &self.extra)
            .finish()
    }
}

/// A face found (face intelligence), with its box.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceBox {
    /// `[xmin, ymin, xmax, ymax]` in pixels. A value that is not four
    /// numbers is read as absent (and kept nowhere: the rest of the face
    /// still reads).
    #[serde(
        default,
        deserialize_with = "lenient_box",
        skip_serializing_if = "Option::is_none"
    )]
    pub bounding_box: Option<[f64; 4]>,
    /// How confident the model is that this is a face, 0 to 1.
    #[serde(
        default,
        deserialize_with = "lenient::number",
        skip_serializing_if = "Option::is_none"
    )]
    pub confidence: Option<f64>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

fn lenient_box<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 4]>, D::Error> {
    Ok(Option::<[f64; 4]>::deserialize(serde_json::Value::deserialize(d)?).unwrap_or(None))
}

/// Face intelligence's `identityDetails`: the faces found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDetails {
    /// The faces found, each with its box.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faces: Vec<FaceBox>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What a completed job found. Which fields are present depends on the task
/// type; what this version does not know stays in [`JobResult::extra`].
///
/// ```
/// use authenta_types::JobResult;
/// let r: JobResult = serde_json::from_str(
///     r#"{"isDeepFake": true, "confidence": "0.91", "model": "v3"}"#,
/// ).unwrap();
/// assert_eq!((r.is_deep_fake, r.confidence), (Some(true), Some(0.91)));
/// assert_eq!(r.extra["model"], "v3");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    /// How confident the model is in its verdict, from 0 to 1.
    #[serde(
        default,
        deserialize_with = "lenient::number",
        skip_serializing_if = "Option::is_none"
    )]
    pub confidence: Option<f64>,
    /// AI detection (image, audio, video): the media is AI-generated.
    #[serde(
        default,
        deserialize_with = "lenient::flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_ai_generated: Option<bool>,
    /// Faceswap, eKYC, forgery and document detection: the media is
    /// manipulated.
    #[serde(
        default,
        deserialize_with = "lenient::flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_deep_fake: Option<bool>,
    /// Liveness: the face is a live person's.
    #[serde(
        default,
        deserialize_with = "lenient::flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_liveness: Option<bool>,
    /// Face intelligence with a reference: the faces are the same person's.
    #[serde(
        default,
        deserialize_with = "lenient::flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_similar: Option<bool>,
    /// Face intelligence with a reference: how similar the faces are.
    #[serde(
        default,
        deserialize_with = "lenient::number",
        skip_serializing_if = "Option::is_none"
    )]
    pub similarity_score: Option<f64>,
    /// Face embedding: the face's [`EMBEDDING_LEN`] numbers, as sent (see
    /// [`JobResult::embedding_vector`] for a checked length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f64>>,
    /// Face intelligence: the faces found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_details: Option<IdentityDetails>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl JobResult {
    /// The embedding, when it holds exactly [`EMBEDDING_LEN`] numbers.
    pub fn embedding_vector(&self) -> Option<&[f64; EMBEDDING_LEN]> {
        self.embedding.as_deref().and_then(|e| e.try_into().ok())
    }

    /// The verdict of a result of task type `task` by its
    /// [`VerdictRule`](crate::VerdictRule): `Some(true)` when the media is
    /// manipulated (AI-generated, a deepfake, not live), `Some(false)` when
    /// not, `None` when the task gives no verdict or the result lacks it.
    ///
    /// ```
    /// use authenta_types::{JobResult, TaskType};
    /// let live: JobResult = serde_json::from_str(r#"{"isLiveness": false}"#).unwrap();
    /// let task = TaskType::FaceLivenessDetection.info().unwrap();
    /// assert_eq!(live.verdict(task), Some(true));
    /// ```
    pub fn verdict(&self, task: &crate::TaskTypeInfo) -> Option<bool> {
        let rule = task.verdict?;
        let value = match rule.field {
            "isAiGenerated" => self.is_ai_generated,
            "isDeepFake" => self.is_deep_fake,
            "isLiveness" => self.is_liveness,
            "isSimilar" => self.is_similar,
            other => self.extra.get(other).and_then(serde_json::Value::as_bool),
        }?;
        Some(value == rule.fake_when)
    }

    /// The faces face intelligence found (empty when none were reported).
    pub fn faces(&self) -> &[FaceBox] {
        self.identity_details
            .as_ref()
            .map(|d| d.faces.as_slice())
            .unwrap_or_default()
    }
}

/// A job, as `GET /v1/jobs/{jobId}` and the list return it.
///
/// Its id is read from `jobId` (the documentation) or `id` (Authenta's SDK's
/// reading); `jobId` wins when both are there. It is written as `jobId`.
///
/// ```
/// use authenta_types::{Job, JobStatus, TaskType};
/// let job: Job = serde_json::from_str(r#"{
///     "jobId": 469, "taskTypeId": 4, "taskTypeSlug": "faceswap-detection",
///     "status": "completed", "createdAt": "2026-09-01T10:00:00Z",
///     "inputs": [{"slotName": "original", "contentType": "video/mp4",
///                 "fileName": "clip.mp4", "sizeBytes": 1024}],
///     "result": {"isDeepFake": true, "confidence": 0.97},
///     "region": "eu"
/// }"#).unwrap();
/// assert_eq!(job.id.as_str(), "469");
/// assert_eq!(job.task_type(), Some(TaskType::FaceswapDetection));
/// assert!(job.status.is_final());
/// assert_eq!(job.result.unwrap().is_deep_fake, Some(true));
/// assert_eq!(job.extra["region"], "eu");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Job {
    /// The job's id (`jobId`, or `id`).
    #[serde(rename = "jobId")]
    pub id: JobId,
    /// The task type's id.
    #[serde(
        default,
        deserialize_with = "lenient_task_type_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_type_id: Option<u32>,
    /// The task type's slug (job detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type_slug: Option<TaskType>,
    /// Where the job is.
    pub status: JobStatus,
    /// When the job was created. A value that is no timestamp is read as
    /// absent.
    #[serde(
        default,
        deserialize_with = "lenient::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<Timestamp>,
    /// When the job last changed.
    #[serde(
        default,
        deserialize_with = "lenient::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<Timestamp>,
    /// When the job was queued (finalized).
    #[serde(
        default,
        deserialize_with = "lenient::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub queued_at: Option<Timestamp>,
    /// When the job reached a final status.
    #[serde(
        default,
        deserialize_with = "lenient::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed_at: Option<Timestamp>,
    /// The input slots (with `uploadUrl` in a create answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<JobSlot>,
    /// The task's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<JobParameters>,
    /// What the job found, once `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
    /// Why the job failed, once `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The files the job produced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Job {
    /// The job's task type: from its id, else from its slug.
    pub fn task_type(&self) -> Option<TaskType> {
        self.task_type_id
            .map(TaskType::from_id)
            .or_else(|| self.task_type_slug.clone())
    }

    /// The verdict of a completed job (see [`JobResult::verdict`]):
    /// `None` for a job not completed, of an unknown task type, or whose
    /// task gives no verdict.
    pub fn verdict(&self) -> Option<bool> {
        let task = self.task_type()?.info()?;
        self.result.as_ref()?.verdict(task)
    }

    /// The input slot of this name.
    pub fn slot(&self, name: &SlotName) -> Option<&JobSlot> {
        self.inputs.iter().find(|s| &s.slot_name == name)
    }
}

impl Serialize for Job {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Job::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Extra::deserialize(d)?;
        normalize_id(&mut map);
        Job::deserialize(serde_json::Value::Object(map)).map_err(D::Error::custom)
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("task_type_id", &self.task_type_id)
            .field("task_type_slug", &self.task_type_slug)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("queued_at", &self.queued_at)
            .field("completed_at", &self.completed_at)
            .field("inputs", &self.inputs)
            .field("parameters", &self.parameters)
            .field("result", &self.result)
            .field("error_message", &self.error_message)
            .field("artifacts", &self.artifacts)
            .field("extra", &self.extra)
            .finish()
    }
}

/// The answer to `POST /v1/jobs`: the new job, with an upload URL per
/// slot.
///
/// Read from either shape: the documentation's (the job at the top level,
/// its id as `jobId`) or Authenta's SDK's (the job under `job`, its id as
/// `job.id`), or both at once (top-level fields win). Written in both, so
/// either kind of client reads it: the job at the top level with `jobId`,
/// and again under `job` with `id`.
///
/// ```
/// use authenta_types::{CreatedJob, SlotName};
/// let docs: CreatedJob = serde_json::from_str(r#"{"jobId": 469, "status": "waiting_for_finalize",
///     "inputs": [{"slotName": "original", "uploadUrl": "https://s3.example/u?X-Amz-Signature=s"}]}"#).unwrap();
/// let sdk: CreatedJob = serde_json::from_str(r#"{"job": {"id": "469", "status": "created",
///     "inputs": [{"slotName": "original", "uploadUrl": "https://s3.example/u?X-Amz-Signature=s"}]}}"#).unwrap();
/// assert_eq!(docs.job.id, sdk.job.id);
/// assert!(sdk.upload_url(&SlotName::Original).is_some());
/// assert!(!format!("{docs:?}").contains("X-Amz-Signature"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CreatedJob {
    /// The new job; its slots carry their `uploadUrl`.
    pub job: Job,
}

impl CreatedJob {
    /// The upload URL of a slot.
    pub fn upload_url(&self, slot: &SlotName) -> Option<&str> {
        self.job.slot(slot).and_then(|s| s.upload_url.as_deref())
    }
}

impl Serialize for CreatedJob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let serde_json::Value::Object(mut top) =
            serde_json::to_value(&self.job).map_err(serde::ser::Error::custom)?
        else {
            return Err(serde::ser::Error::custom("a job is a JSON object"));
        };
        let mut nested = top.clone();
        if let Some(id) = nested.remove("jobId") {
            nested.insert("id".to_owned(), id);
        }
        top.insert("job".to_owned(), serde_json::Value::Object(nested));
        top.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CreatedJob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut top = Extra::deserialize(d)?;
        normalize_id(&mut top);
        if let Some(serde_json::Value::Object(mut nested)) = top.remove("job") {
            normalize_id(&mut nested);
            for (k, v) in nested {
                top.entry(k).or_insert(v);
            }
        }
        let job = Job::deserialize(serde_json::Value::Object(top)).map_err(D::Error::custom)?;
        Ok(CreatedJob { job })
    }
}

/// The answer to finalize (`queued` or `processing`) and to cancel
/// (`cancelled`). Its id is read from `jobId` or `id`, as a [`Job`]'s.
///
/// ```
/// use authenta_types::{JobStatus, JobStatusUpdate};
/// let u: JobStatusUpdate = serde_json::from_str(r#"{"jobId": 469, "taskTypeId": 4,
///     "status": "queued", "queuedAt": "2026-09-01T10:00:00Z", "message": "Job queued"}"#).unwrap();
/// assert_eq!((u.status, u.task_type_id), (JobStatus::Queued, Some(4)));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct JobStatusUpdate {
    /// The job's id, when the answer names it.
    #[serde(rename = "jobId", default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// The task type's id.
    #[serde(
        default,
        deserialize_with = "lenient_task_type_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_type_id: Option<u32>,
    /// The job's status after the operation.
    pub status: JobStatus,
    /// When the job was queued.
    #[serde(
        default,
        deserialize_with = "lenient::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub queued_at: Option<Timestamp>,
    /// When the job last changed.
    #[serde(
        default,
        deserialize_with = "lenient::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<Timestamp>,
    /// A message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Serialize for JobStatusUpdate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        JobStatusUpdate::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for JobStatusUpdate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Extra::deserialize(d)?;
        normalize_id(&mut map);
        JobStatusUpdate::deserialize(serde_json::Value::Object(map)).map_err(D::Error::custom)
    }
}

/// The query of `GET /v1/jobs`.
///
/// ```
/// use authenta_types::{JobListQuery, JobStatus};
/// let q = JobListQuery { page: Some(2), limit: Some(100), status: Some(JobStatus::Processing) };
/// assert_eq!(
///     serde_json::to_value(&q).unwrap(),
///     serde_json::json!({"page": 2, "limit": 100, "status": "processing"})
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobListQuery {
    /// The page, from 1; the server's default (1) when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Jobs per page; the server's default when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only jobs in this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
}

/// Where a page of `GET /v1/jobs` sits in the whole list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// This page's number, from 1.
    pub page: u32,
    /// The page size the server used.
    pub limit: u32,
    /// How many jobs match in all.
    pub total: u64,
    /// How many pages there are.
    pub pages: u32,
}

/// One page of `GET /v1/jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    /// The jobs of this page.
    pub data: Vec<Job>,
    /// Where the page sits.
    pub pagination: Pagination,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn created(value: serde_json::Value) -> CreatedJob {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_created_job_reads_from_every_documented_shape() {
        let slot = json!([{"slotName": "original", "contentType": "image/png",
            "fileName": "a.png", "sizeBytes": 10, "uploadUrl": "https://s3/u?X-Amz-Expires=3600"}]);
        let docs = created(json!({"jobId": 469, "status": "waiting_for_finalize", "inputs": slot}));
        let docs_text = created(json!({"jobId": "469", "status": "created", "inputs": slot}));
        let sdk = created(json!({"job": {"id": 469, "status": "created", "inputs": slot}}));
        let sdk_text = created(json!({"job": {"id": "469", "status": "created", "inputs": slot}}));
        let both = created(json!({"jobId": 469, "status": "created", "message": "ok",
            "job": {"id": 469, "status": "created", "inputs": slot}}));
        // The SDK's id beside the documentation's fields, at the top level.
        let flat_sdk = created(json!({"id": 469, "status": "created", "inputs": slot}));
        for c in [&docs, &docs_text, &sdk, &sdk_text, &both, &flat_sdk] {
            assert_eq!(c.job.id.as_str(), "469");
            assert_eq!(
                c.upload_url(&SlotName::Original),
                Some("https://s3/u?X-Amz-Expires=3600")
            );
            assert_eq!(c.job.inputs[0].size_bytes, Some(10));
        }
        assert_eq!(both.job.extra["message"], "ok");
        assert!(!both.job.extra.contains_key("job"));
        assert_eq!(docs.job.status, JobStatus::WaitingForFinalize);
        // No id anywhere is an error naming the field.
        let err = serde_json::from_value::<CreatedJob>(json!({"status": "created"})).unwrap_err();
        assert!(err.to_string().contains("jobId"), "{err}");
    }

    #[test]
    fn a_created_job_is_written_in_both_shapes() {
        let c = created(json!({"jobId": 7, "status": "created",
            "inputs": [{"slotName": "original", "uploadUrl": "https://s3/u"}]}));
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["jobId"], 7);
        assert_eq!(v["job"]["id"], 7);
        assert!(v["job"].get("jobId").is_none());
        assert_eq!(v["job"]["inputs"][0]["uploadUrl"], "https://s3/u");
        assert_eq!(serde_json::from_value::<CreatedJob>(v).unwrap(), c);
    }

    #[test]
    fn both_ids_prefer_job_id() {
        let job: Job =
            serde_json::from_value(json!({"jobId": 1, "id": 2, "status": "queued"})).unwrap();
        assert_eq!(job.id.as_str(), "1");
        assert!(!job.extra.contains_key("id"));
        let job: Job = serde_json::from_value(json!({"id": "j-2", "status": "queued"})).unwrap();
        assert_eq!(job.id.as_str(), "j-2");
    }

    #[test]
    fn a_job_reads_every_documented_field() {
        let job: Job = serde_json::from_value(json!({
            "jobId": 12, "taskTypeId": "8", "taskTypeSlug": "face-intelligence",
            "status": "completed",
            "createdAt": "2026-09-01T10:00:00Z", "updatedAt": "2026-09-01T10:01:00Z",
            "queuedAt": "2026-09-01T10:00:30Z", "completedAt": "2026-09-01T10:01:00Z",
            "inputs": [
                {"slotName": "original", "contentType": "video/mp4", "fileName": "c.mp4", "sizeBytes": 100},
                {"slotName": "reference", "contentType": "image/jpeg", "fileName": "r.jpg", "sizeBytes": 50}
            ],
            "parameters": {"version": "v1", "isSimilarityCheck": true, "isLivenessCheck": false},
            "result": {
                "confidence": 0.88, "isDeepFake": false, "isLiveness": true,
                "isSimilar": true, "similarityScore": 0.93,
                "identityDetails": {"faces": [
                    {"boundingBox": [10, 20, 110, 140], "confidence": 0.99, "age": 31},
                    {"boundingBox": "bad"}
                ], "count": 2}
            },
            "artifacts": [
                {"id": 1, "kind": "result", "contentType": "application/json",
                 "downloadUrl": "https://s3/r.json?X-Amz-Signature=z"},
                {"id": "h1", "kind": "heatmap", "contentType": "image/png", "downloadUrl": "https://s3/h.png"},
                {"kind": "thumbnail"}
            ]
        }))
        .unwrap();
        assert_eq!(job.task_type(), Some(TaskType::FaceIntelligence));
        assert_eq!(job.task_type_id, Some(8));
        assert!(job.completed_at.is_some() && job.queued_at.is_some());
        assert_eq!(job.slot(&SlotName::Reference).unwrap().size_bytes, Some(50));
        let p = job.parameters.as_ref().unwrap();
        assert_eq!(
            (p.is_similarity_check, p.is_liveness_check),
            (Some(true), Some(false))
        );
        let r = job.result.as_ref().unwrap();
        assert_eq!((r.is_similar, r.similarity_score), (Some(true), Some(0.93)));
        assert_eq!((r.is_liveness, r.is_deep_fake), (Some(true), Some(false)));
        assert_eq!(r.faces().len(), 2);
        assert_eq!(r.faces()[0].bounding_box, Some([10.0, 20.0, 110.0, 140.0]));
        assert_eq!(r.faces()[0].extra["age"], 31);
        assert_eq!(r.faces()[1].bounding_box, None);
        assert_eq!(r.identity_details.as_ref().unwrap().extra["count"], 2);
        assert_eq!(job.artifacts[0].kind, Some(ArtifactKind::Result));
        assert_eq!(job.artifacts[1].id.as_ref().unwrap().as_str(), "h1");
        assert_eq!(job.artifacts[2].kind, Some(ArtifactKind::from("thumbnail")));
        let debug = format!("{job:?}");
        assert!(!debug.contains("X-Amz-Signature"), "{debug}");
        // What it reads it writes back.
        let again: Job = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
        assert_eq!(again, job);
    }

    #[test]
    fn results_per_task_type() {
        let ai: JobResult =
            serde_json::from_value(json!({"isAiGenerated": true, "confidence": 0.7})).unwrap();
        assert_eq!((ai.is_ai_generated, ai.confidence), (Some(true), Some(0.7)));
        let embedding: Vec<f64> = (0..EMBEDDING_LEN).map(|i| i as f64 / 512.0).collect();
        let fe: JobResult = serde_json::from_value(json!({"embedding": embedding})).unwrap();
        assert_eq!(fe.embedding_vector().unwrap()[511], 511.0 / 512.0);
        let short: JobResult = serde_json::from_value(json!({"embedding": [0.1, 0.2]})).unwrap();
        assert_eq!(short.embedding.as_ref().unwrap().len(), 2);
        assert!(short.embedding_vector().is_none());
        // Values of the wrong type are absent, not an unreadable job.
        let odd: JobResult = serde_json::from_value(json!({"isLiveness": "yes",
            "isSimilar": "true", "confidence": null, "segments": [1, 2]}))
        .unwrap();
        assert_eq!(
            (odd.is_liveness, odd.is_similar, odd.confidence),
            (None, Some(true), None)
        );
        assert_eq!(odd.extra["segments"], json!([1, 2]));
        assert!(odd.faces().is_empty());
    }

    #[test]
    fn verdicts_follow_the_task_types_rule() {
        let job = |task: u32, result: serde_json::Value| -> Job {
            serde_json::from_value(json!({"jobId": 1, "taskTypeId": task,
                "status": "completed", "result": result}))
            .unwrap()
        };
        assert_eq!(job(1, json!({"isAiGenerated": true})).verdict(), Some(true));
        assert_eq!(job(4, json!({"isDeepFake": false})).verdict(), Some(false));
        assert_eq!(job(7, json!({"isLiveness": true})).verdict(), Some(false));
        assert_eq!(
            job(8, json!({"isDeepFake": true, "isSimilar": false})).verdict(),
            Some(true)
        );
        assert_eq!(job(9, json!({"embedding": [0.0]})).verdict(), None);
        assert_eq!(job(4, json!({"confidence": 0.5})).verdict(), None);
        assert_eq!(job(99, json!({"isDeepFake": true})).verdict(), None);
    }

    #[test]
    fn a_failed_job_and_unknown_values() {
        let job: Job = serde_json::from_value(json!({"jobId": "a-1", "taskTypeId": 12,
            "status": "archived", "errorMessage": "no face", "createdAt": "yesterday"}))
        .unwrap();
        assert_eq!(job.status, JobStatus::Unknown("archived".into()));
        assert!(!job.status.is_final());
        assert_eq!(job.task_type(), Some(TaskType::Unknown("12".into())));
        assert_eq!(job.error_message.as_deref(), Some("no face"));
        assert_eq!(job.created_at, None);
        for (status, final_) in [
            ("completed", true),
            ("failed", true),
            ("cancelled", true),
            ("processing", false),
            ("queued", false),
            ("waiting_for_finalize", false),
        ] {
            assert_eq!(JobStatus::from(status).is_final(), final_, "{status}");
        }
    }

    #[test]
    fn create_request_shapes() {
        let req = CreateJobRequest {
            inputs: vec![JobInput {
                slot_name: SlotName::Original,
                content_type: "image/png".into(),
                file_name: "a.png".into(),
                size_bytes: 10,
            }],
            parameters: Some(JobParameters::v1()),
            task_type_id: None,
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"inputs": [{"slotName": "original", "contentType": "image/png",
                "fileName": "a.png", "sizeBytes": 10}], "parameters": {"version": "v1"}})
        );
        let sdk = CreateJobRequest {
            task_type_id: Some(4),
            ..req.clone()
        };
        let v = serde_json::to_value(&sdk).unwrap();
        assert_eq!(v["taskTypeId"], "4");
        assert_eq!(serde_json::from_value::<CreateJobRequest>(v).unwrap(), sdk);
        let number: CreateJobRequest =
            serde_json::from_value(json!({"taskTypeId": 8, "inputs": []})).unwrap();
        assert_eq!(number.task_type_id, Some(8));
        for bad in [
            json!({"taskTypeId": "four", "inputs": []}),
            // Found by Schemathesis: the spec names no null, and ids are
            // written one way.
            json!({"taskTypeId": null, "inputs": []}),
            json!({"taskTypeId": "04", "inputs": []}),
            json!({"taskTypeId": " 4", "inputs": []}),
            json!({"inputs": [], "x": 1}),
        ] {
            assert!(serde_json::from_value::<CreateJobRequest>(bad).is_err());
        }
    }

    #[test]
    fn status_updates_and_lists() {
        let cancel: JobStatusUpdate = serde_json::from_value(
            json!({"id": 5, "status": "cancelled", "message": "Job cancelled"}),
        )
        .unwrap();
        assert_eq!(cancel.job_id, Some(JobId::new("5")));
        assert_eq!(cancel.status, JobStatus::Cancelled);
        let bare: JobStatusUpdate =
            serde_json::from_value(json!({"status": "processing"})).unwrap();
        assert_eq!(bare.job_id, None);
        let list: JobList = serde_json::from_value(json!({
            "data": [{"jobId": 3, "status": "queued"}, {"id": "4", "status": "failed"}],
            "pagination": {"page": 1, "limit": 10, "total": 2, "pages": 1}
        }))
        .unwrap();
        assert_eq!(list.data[1].id.as_str(), "4");
        assert_eq!(list.pagination.pages, 1);
    }

    #[test]
    fn job_ids() {
        for (text, json) in [
            ("0", "0"),
            ("469", "469"),
            ("0469", "\"0469\""),
            ("ab", "\"ab\""),
        ] {
            let id = JobId::new(text);
            assert_eq!(serde_json::to_string(&id).unwrap(), json);
            assert_eq!(serde_json::from_str::<JobId>(json).unwrap(), id);
        }
        for bad in ["\"\"", "-1", "1.5", "null", "[]"] {
            assert!(serde_json::from_str::<JobId>(bad).is_err(), "{bad}");
        }
        let huge = "99999999999999999999";
        assert_eq!(JobId::new(huge).as_number(), None);
        assert!(
            JobId::parse(&"9".repeat(65))
                .unwrap_err()
                .to_string()
                .contains("64")
        );
    }
}
