//! Jobs (`/v1/jobs`): what the job operations ([`crate::ops`]) and the job
//! flows ([`crate::engine::jobs`]) share: a slot's checked input
//! ([`JobFile`]), the check of a job's inputs against its task type
//! ([`check_job_inputs`]), the job errors ([`JobStateError`],
//! [`JobWaitTimeout`], [`JobInputError`]) and the page walk
//! ([`JobCursor`]).

use std::collections::HashSet;
use std::io::{Cursor, Read, Seek};
use std::time::Duration;

use authenta_types::{
    ErrorCode, JOB_LIST_LIMIT_MAX, JOB_LIST_LIMIT_MIN, JobId, JobInput, JobList, JobListQuery,
    JobParameters, JobStatus, MAX_UPLOAD_SIZE, Operation, SlotName, TASK_TYPES, TaskType,
    TaskTypeInfo,
};
use http::StatusCode;

use crate::error::ValidationError;
use crate::validate::{MediaFile, check_name, same_type};

/// One slot's input, checked: which slot, and the file (its name, content
/// type from its bytes, exact size). Made from bytes or a `Read + Seek`
/// handed in, never a path.
///
/// ```
/// use authenta_proto::JobFile;
/// use authenta_proto::types::SlotName;
///
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82";
/// let file = JobFile::from_bytes(SlotName::Original, "face.png", png, None).unwrap();
/// assert_eq!(file.file.content_type, "image/png");
/// assert_eq!(file.input().size_bytes, png.len() as u64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFile {
    /// The slot it fills.
    pub slot: SlotName,
    /// The checked file.
    pub file: MediaFile,
}

impl JobFile {
    /// A slot's input from a file checked already.
    pub fn new(slot: SlotName, file: MediaFile) -> Self {
        JobFile { slot, file }
    }

    /// Checks the file read through `reader` (its type from its bytes, and
    /// that it is whole: [`MediaFile::from_reader`]).
    pub fn from_reader<R: Read + Seek>(
        slot: SlotName,
        name: impl Into<String>,
        reader: R,
        content_type: Option<&str>,
    ) -> Result<Self, ValidationError> {
        Ok(JobFile::new(
            slot,
            MediaFile::from_reader(name, reader, content_type)?,
        ))
    }

    /// Checks a file held in memory.
    pub fn from_bytes(
        slot: SlotName,
        name: impl Into<String>,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<Self, ValidationError> {
        JobFile::from_reader(slot, name, Cursor::new(bytes), content_type)
    }

    /// The slot's entry in the create request.
    pub fn input(&self) -> JobInput {
        JobInput {
            slot_name: self.slot.clone(),
            content_type: self.file.content_type.clone(),
            file_name: self.file.name.clone(),
            size_bytes: self.file.size,
        }
    }
}

/// Checks a job's inputs as the API would, before any request: a task type
/// the table lists, every input a slot of it (once), every required slot
/// given, each a name, a size from 1 byte to 5 GiB and a content type the
/// slot takes; face intelligence's similarity check needs its `reference`.
/// Returns the task type's row.
///
/// ```
/// use authenta_proto::check_job_inputs;
/// use authenta_proto::types::{JobInput, SlotName, TaskType};
///
/// let clip = JobInput { slot_name: SlotName::Original, content_type: "video/mp4".into(),
///     file_name: "clip.mp4".into(), size_bytes: 1024 };
/// assert!(check_job_inputs(&TaskType::FaceswapDetection, &[clip.clone()], None).is_ok());
/// let err = check_job_inputs(&TaskType::AiImageDetection, &[clip], None).unwrap_err();
/// assert!(err.to_string().contains("ai-image-detection takes JPEG or PNG in its original slot"), "{err}");
/// ```
pub fn check_job_inputs(
    task: &TaskType,
    inputs: &[JobInput],
    parameters: Option<&JobParameters>,
) -> Result<&'static TaskTypeInfo, ValidationError> {
    let info = task.info().ok_or_else(|| JobInputError::UnknownTaskType {
        given: task.to_string(),
    })?;
    let mut seen = HashSet::new();
    for input in inputs {
        let Some(slot) = info.slot(&input.slot_name) else {
            return Err(JobInputError::UnknownSlot {
                task: info.slug,
                slot: input.slot_name.clone(),
            }
            .into());
        };
        if !seen.insert(input.slot_name.clone()) {
            return Err(JobInputError::DuplicateSlot {
                slot: input.slot_name.clone(),
            }
            .into());
        }
        check_name(&input.file_name)?;
        if input.size_bytes == 0 {
            return Err(ValidationError::EmptyFile {
                name: input.file_name.clone(),
            });
        }
        if input.size_bytes > MAX_UPLOAD_SIZE {
            return Err(ValidationError::TooLarge {
                name: input.file_name.clone(),
                size: input.size_bytes,
            });
        }
        let essence = input
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if !slot
            .content_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(essence) || same_type(t, essence))
        {
            return Err(JobInputError::SlotFormat {
                name: input.file_name.clone(),
                task: info.slug,
                slot: input.slot_name.clone(),
                content_type: input.content_type.clone(),
                formats: slot.formats,
            }
            .into());
        }
    }
    if let Some(missing) = info
        .slots
        .iter()
        .find(|s| s.required && !seen.contains(&s.name))
    {
        return Err(JobInputError::MissingSlot {
            task: info.slug,
            slot: missing.name.clone(),
        }
        .into());
    }
    if parameters.is_some_and(|p| p.is_similarity_check == Some(true))
        && !seen.contains(&SlotName::Reference)
    {
        return Err(JobInputError::NoReference { task: info.slug }.into());
    }
    Ok(info)
}

/// The task type a person named (its slug, id or model code), or the
/// error listing the ones there are.
///
/// ```
/// use authenta_proto::task_type;
/// use authenta_proto::types::TaskType;
/// assert_eq!(task_type("DF-1").unwrap(), TaskType::FaceswapDetection);
/// assert!(task_type("sharpen").unwrap_err().to_string().contains("faceswap-detection (4, DF-1)"));
/// ```
pub fn task_type(name: &str) -> Result<TaskType, ValidationError> {
    TaskType::find(name).ok_or_else(|| {
        JobInputError::UnknownTaskType {
            given: name.to_owned(),
        }
        .into()
    })
}

fn known_task_types() -> String {
    TASK_TYPES
        .iter()
        .map(|t| format!("{} ({}, {})", t.slug, t.id, t.model))
        .collect::<Vec<_>>()
        .join(", ")
}

fn format_list(formats: &[&str]) -> String {
    match formats {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A job's inputs that the API would refuse, found before any request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobInputError {
    /// A task type the table does not list.
    #[error(
        "task type {given} is not one the API lists; it takes {}",
        known_task_types()
    )]
    UnknownTaskType {
        /// What was given.
        given: String,
    },
    /// An input for a slot the task type does not have.
    #[error("{task} has no {slot} slot; give its inputs only")]
    UnknownSlot {
        /// The task type's slug.
        task: &'static str,
        /// The slot given.
        slot: SlotName,
    },
    /// Two inputs for one slot.
    #[error("two inputs for the {slot} slot; give one file per slot")]
    DuplicateSlot {
        /// The slot.
        slot: SlotName,
    },
    /// A required slot without an input.
    #[error("{task} needs a file in its {slot} slot")]
    MissingSlot {
        /// The task type's slug.
        task: &'static str,
        /// The slot.
        slot: SlotName,
    },
    /// A file whose content type the slot does not take.
    #[error(
        "{name}: {task} takes {} in its {slot} slot, not {content_type}; choose a file of one of those formats or another task type",
        format_list(formats)
    )]
    SlotFormat {
        /// The file's name.
        name: String,
        /// The task type's slug.
        task: &'static str,
        /// The slot.
        slot: SlotName,
        /// The file's content type.
        content_type: String,
        /// The formats the slot takes.
        formats: &'static [&'static str],
    },
    /// The similarity check without a reference image.
    #[error(
        "{task}'s similarity check compares with a reference image: give one in the reference slot"
    )]
    NoReference {
        /// The task type's slug.
        task: &'static str,
    },
    /// A saved stage whose slots are not the inputs given to resume it.
    #[error(
        "the saved job {job} was created for the slots {saved}, not the inputs given ({given}); resume it with the same files"
    )]
    StageMismatch {
        /// The saved job.
        job: JobId,
        /// Its slots.
        saved: String,
        /// The slots of the inputs given.
        given: String,
    },
    /// A page number below 1.
    #[error("page {page} is out of range: pages count from 1")]
    InvalidPage {
        /// The page given.
        page: u32,
    },
    /// A jobs page size outside what the API takes.
    #[error("limit {limit} is out of range: the API takes {min} to {max} jobs per page", min = JOB_LIST_LIMIT_MIN, max = JOB_LIST_LIMIT_MAX)]
    InvalidLimit {
        /// The limit given.
        limit: u32,
    },
}

/// Checks a jobs list query: `page` from 1, `limit` within what the API
/// takes.
pub(crate) fn check_list_query(query: &JobListQuery) -> Result<(), JobInputError> {
    if let Some(page) = query.page.filter(|p| *p == 0) {
        return Err(JobInputError::InvalidPage { page });
    }
    if let Some(limit) = query
        .limit
        .filter(|l| !(JOB_LIST_LIMIT_MIN..=JOB_LIST_LIMIT_MAX).contains(l))
    {
        return Err(JobInputError::InvalidLimit { limit });
    }
    Ok(())
}

/// A job operation refused for the job's status: cancelling a job that is
/// processing or final (409), a second finalize (400), deleting a job
/// while it is processing (409), or the documentation's 422 ("invalid
/// state"). `job_status` is the job's status when the server said it
/// (authenta-emulator's `jobStatus`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {verb} job {job}: {state} (HTTP {status}: {code}: {message})", verb = verb(*operation), state = state(job_status.as_ref(), *operation, *status))]
pub struct JobStateError {
    /// The job.
    pub job: JobId,
    /// What was refused.
    pub operation: Operation,
    /// The HTTP status (409, 422, 400).
    pub status: StatusCode,
    /// The job's status, when the answer said it.
    pub job_status: Option<JobStatus>,
    /// The error code the server sent.
    pub code: ErrorCode,
    /// The server's message.
    pub message: String,
}

fn verb(operation: Operation) -> &'static str {
    match operation {
        Operation::CancelJob => "cancel",
        Operation::DeleteJob => "delete",
        Operation::FinalizeJob => "finalize",
        _ => "change",
    }
}

fn state(job_status: Option<&JobStatus>, operation: Operation, status: StatusCode) -> String {
    match (job_status, operation, status.as_u16()) {
        (Some(s), _, _) => format!("it is {s}"),
        (None, Operation::CancelJob, 409) => "it is processing or done".to_owned(),
        (None, Operation::DeleteJob, 409) => "it is processing".to_owned(),
        (None, Operation::FinalizeJob, _) => "it is finalized already".to_owned(),
        (None, _, _) => "its status does not allow it".to_owned(),
    }
}

impl JobStateError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        let status = self.job_status.as_ref();
        match self.operation {
            Operation::CancelJob if status.is_some_and(JobStatus::is_final) => {
                "the job is over: there is nothing to cancel (delete it to remove it)"
            }
            Operation::CancelJob => {
                "a job can be cancelled only before it is processing; wait for it to end, then delete it if unwanted"
            }
            Operation::DeleteJob => {
                "a job cannot be deleted while it is processing; wait until it is final (or cancel it before processing), then delete it"
            }
            Operation::FinalizeJob => {
                "the job was finalized already: wait for it instead of finalizing it again"
            }
            _ => "read the job to see its status",
        }
    }
}

/// Waiting for a job ran out of time: its last status, the time waited
/// and the polls spent, and where the bound came from. The job goes on:
/// waiting again with its id spends nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "job {job} is still {} after {} s ({polls} polls); the wait was bounded at {} s by {bound}",
    last_status.as_ref().map_or("not final".to_owned(), |s| s.to_string()),
    waited.as_secs(),
    limit.as_secs()
)]
pub struct JobWaitTimeout {
    /// The job.
    pub job: JobId,
    /// The last status seen.
    pub last_status: Option<JobStatus>,
    /// How long the wait lasted.
    pub waited: Duration,
    /// How many polls it made.
    pub polls: u32,
    /// The bound.
    pub limit: Duration,
    /// Where the bound came from: `the task type's time limit` or `the
    /// caller`.
    pub bound: WaitBound,
}

/// Where a job wait's bound came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitBound {
    /// The task type's time limit (`x-task-types`).
    TaskType(&'static str),
    /// The caller's own bound.
    Caller,
    /// The poll policy's deadline (a task type with no documented limit).
    Policy,
}

impl std::fmt::Display for WaitBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitBound::TaskType(slug) => write!(f, "{slug}'s time limit"),
            WaitBound::Caller => f.write_str("the caller"),
            WaitBound::Policy => f.write_str("the poll policy's deadline"),
        }
    }
}

/// Walks every page of `GET /v1/jobs` (`page` from 1), with the same rules
/// as [`ListCursor`](crate::ListCursor): it ends at the last page the
/// server announces, on a short or an empty page, and on a page for
/// another number than asked or holding only jobs listed before (a server
/// that ignores `page`), so it cannot loop for ever; a job served twice is
/// listed once.
///
/// ```
/// use authenta_proto::JobCursor;
/// use authenta_proto::types::{JobList, JobStatus, Pagination};
///
/// let mut cursor = JobCursor::new(2, Some(JobStatus::Processing)).unwrap();
/// let query = cursor.next_query().unwrap();
/// assert_eq!((query.page, query.limit), (Some(1), Some(2)));
/// let last = JobList { data: vec![], pagination: Pagination { page: 1, limit: 2, total: 0, pages: 0 } };
/// assert!(cursor.fresh(last).unwrap().is_empty());
/// assert!(cursor.next_query().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobCursor {
    limit: u32,
    status: Option<JobStatus>,
    page: u32,
    done: bool,
    seen: HashSet<JobId>,
    duplicates: u64,
}

impl JobCursor {
    /// A walk of `limit` jobs per page (1 to 100), only those in `status`
    /// when given.
    pub fn new(limit: u32, status: Option<JobStatus>) -> Result<Self, JobInputError> {
        check_list_query(&JobListQuery {
            page: None,
            limit: Some(limit),
            status: None,
        })?;
        Ok(JobCursor {
            limit,
            status,
            page: 1,
            done: false,
            seen: HashSet::new(),
            duplicates: 0,
        })
    }

    /// The query for the next page, or `None` once every page was read.
    pub fn next_query(&self) -> Option<JobListQuery> {
        (!self.done).then(|| JobListQuery {
            page: Some(self.page),
            limit: Some(self.limit),
            status: self.status.clone(),
        })
    }

    /// Takes in the page answering the last query; returns its jobs not
    /// listed before.
    pub fn fresh(
        &mut self,
        page: JobList,
    ) -> Result<Vec<authenta_types::Job>, InconsistentJobPage> {
        if page.pagination.page != self.page {
            self.done = true;
            return Err(InconsistentJobPage::WrongPage {
                asked: self.page,
                got: page.pagination.page,
            });
        }
        let total = page.data.len();
        let fresh: Vec<_> = page
            .data
            .into_iter()
            .filter(|job| self.seen.insert(job.id.clone()))
            .collect();
        let repeated = (total - fresh.len()) as u64;
        if total > 0 && fresh.is_empty() {
            self.done = true;
            return Err(InconsistentJobPage::NoNewJob {
                page: self.page,
                repeated,
            });
        }
        if repeated > 0 {
            self.duplicates += repeated;
            tracing::warn!(
                page = self.page,
                repeated,
                "the server served jobs already listed; each is listed once"
            );
        }
        let served_limit = page.pagination.limit.clamp(1, self.limit) as usize;
        if total == 0 || total < served_limit || self.page >= page.pagination.pages {
            self.done = true;
        }
        self.page = self.page.saturating_add(1);
        Ok(fresh)
    }

    /// Ends the walk (after a page failed, say).
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// How many jobs were served again on a later page (and skipped).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

/// A jobs page that contradicts the walk so far: the walk stops rather
/// than repeat jobs or never end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InconsistentJobPage {
    /// The server answered another page than asked.
    #[error(
        "the server answered page {got} when asked for page {asked}; the listing stopped rather than repeat jobs"
    )]
    WrongPage {
        /// The page asked for.
        asked: u32,
        /// The page the answer says it is.
        got: u32,
    },
    /// The page held only jobs listed before (a server ignoring `page`).
    #[error(
        "the server answered page {page} with {repeated} jobs all listed before (it ignores `page`); the listing stopped rather than repeat them without end"
    )]
    NoNewJob {
        /// The page asked for.
        page: u32,
        /// How many jobs it repeated.
        repeated: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_types::{Job, Pagination};

    fn input(slot: SlotName, content_type: &str) -> JobInput {
        JobInput {
            slot_name: slot,
            content_type: content_type.into(),
            file_name: "f".into(),
            size_bytes: 10,
        }
    }

    #[test]
    fn inputs_are_checked_against_the_task_type() {
        let fi = TaskType::FaceIntelligence;
        let video = input(SlotName::Original, "video/mp4");
        let face = input(SlotName::Reference, "image/jpeg");
        assert_eq!(
            check_job_inputs(&fi, &[video.clone(), face.clone()], None)
                .unwrap()
                .id,
            8
        );
        let similarity = JobParameters {
            is_similarity_check: Some(true),
            ..JobParameters::v1()
        };
        let err =
            check_job_inputs(&fi, std::slice::from_ref(&video), Some(&similarity)).unwrap_err();
        assert!(err.to_string().contains("reference image"), "{err}");
        let err = check_job_inputs(&fi, std::slice::from_ref(&face), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("face-intelligence needs a file in its original slot"),
            "{err}"
        );
        let err = check_job_inputs(&fi, &[video.clone(), video.clone()], None).unwrap_err();
        assert!(err.to_string().contains("two inputs for the original slot"));
        let err = check_job_inputs(
            &fi,
            &[video.clone(), input(SlotName::Reference, "video/mp4")],
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("face-intelligence takes JPEG or PNG in its reference slot"),
            "{err}"
        );
        let err = check_job_inputs(&TaskType::FaceswapDetection, &[video.clone(), face], None)
            .unwrap_err();
        assert!(err.to_string().contains("has no reference slot"));
        // Equivalent spellings of a format are one format.
        let wav = input(SlotName::Original, "audio/vnd.wave");
        assert!(check_job_inputs(&TaskType::AiAudioDetection, &[wav], None).is_err());
        let m4a = input(SlotName::Original, "audio/x-m4a");
        assert!(check_job_inputs(&TaskType::AudioSplitter, &[m4a], None).is_ok());
        let empty = JobInput {
            size_bytes: 0,
            ..video.clone()
        };
        assert!(matches!(
            check_job_inputs(&TaskType::FaceswapDetection, &[empty], None),
            Err(ValidationError::EmptyFile { .. })
        ));
        let err = check_job_inputs(&TaskType::from("sharpen"), &[video], None).unwrap_err();
        assert!(err.to_string().contains("task type sharpen is not one"));
        assert_eq!(err.to_string().matches(" (").count(), TASK_TYPES.len());
    }

    fn job(id: &str) -> Job {
        serde_json::from_value(serde_json::json!({"jobId": id, "status": "queued"})).unwrap()
    }

    fn page(page: u32, limit: u32, pages: u32, ids: &[&str]) -> JobList {
        JobList {
            data: ids.iter().map(|id| job(id)).collect(),
            pagination: Pagination {
                page,
                limit,
                total: u64::from(pages * limit),
                pages,
            },
        }
    }

    #[test]
    fn the_page_walk_ends() {
        let mut cursor = JobCursor::new(2, None).unwrap();
        assert_eq!(cursor.fresh(page(1, 2, 2, &["1", "2"])).unwrap().len(), 2);
        assert_eq!(cursor.next_query().unwrap().page, Some(2));
        // A job moved down a page is listed once.
        assert_eq!(cursor.fresh(page(2, 2, 2, &["2", "3"])).unwrap().len(), 1);
        assert_eq!(cursor.duplicates(), 1);
        assert!(cursor.next_query().is_none());
        // A server ignoring `page`.
        let mut cursor = JobCursor::new(2, None).unwrap();
        cursor.fresh(page(1, 2, 5, &["1", "2"])).unwrap();
        assert!(matches!(
            cursor.fresh(page(2, 2, 5, &["1", "2"])),
            Err(InconsistentJobPage::NoNewJob { page: 2, .. })
        ));
        assert!(cursor.next_query().is_none());
        let mut cursor = JobCursor::new(2, None).unwrap();
        assert!(matches!(
            cursor.fresh(page(3, 2, 5, &["1"])),
            Err(InconsistentJobPage::WrongPage { asked: 1, got: 3 })
        ));
        // A short page ends it whatever `pages` says.
        let mut cursor = JobCursor::new(3, None).unwrap();
        cursor.fresh(page(1, 3, 9, &["1"])).unwrap();
        assert!(cursor.next_query().is_none());
        assert!(JobCursor::new(0, None).is_err());
        assert!(JobCursor::new(JOB_LIST_LIMIT_MAX + 1, None).is_err());
    }
}
