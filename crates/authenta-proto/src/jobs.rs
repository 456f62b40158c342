//! Jobs (`/v1/jobs`): what the job operations ([`crate::ops`]) and the job
//! flows ([`crate::engine::jobs`]) share: a slot's checked input
//! ([`JobFile`]), the check of a job's inputs against its task type
//! ([`check_job_inputs`]) and the page walk ([`JobCursor`]). The job
//! errors ([`JobInputError`],
//! [`JobStateError`](crate::JobStateError),
//! [`JobWaitTimeout`](crate::JobWaitTimeout)) live with the other errors
//! in `error`, which imports nothing of this module's.

use std::collections::HashSet;
use std::io::{Cursor, Read, Seek};

use authenta_types::{
    JOB_LIST_LIMIT_MAX, JOB_LIST_LIMIT_MIN, JobId, JobInput, JobList, JobListQuery, JobParameters,
    JobStatus, MAX_UPLOAD_SIZE, SlotName, TaskType, TaskTypeInfo,
};

use crate::error::{JobInputError, ValidationError};
use crate::validate::{MediaFile, check_name, same_type};

/// One slot's input, checked: which slot, and the file (its name, content
/// type from its bytes, exact size). Made from bytes or a `Read + Seek`
/// handed in, never a path.
///
/// ```
/// use authenta_proto::jobs::JobFile;
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
/// use authenta_proto::jobs::check_job_inputs;
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

/// Checks a job id before it goes into a request: one a person typed or a
/// program passed as text (not empty, at most 64 ASCII letters, digits,
/// `-` and `_`, as every job id the API gives).
///
/// ```
/// use authenta_proto::jobs::check_job_id;
/// use authenta_proto::types::JobId;
/// assert!(check_job_id(&JobId::from("469")).is_ok());
/// let err = check_job_id(&JobId::from("")).unwrap_err();
/// assert!(err.to_string().contains("is not a job id"), "{err}");
/// ```
pub fn check_job_id(id: &JobId) -> Result<(), ValidationError> {
    JobId::parse(id.as_str()).map(drop).map_err(|e| {
        JobInputError::InvalidJobId {
            id: id.as_str().to_owned(),
            reason: e.to_string(),
        }
        .into()
    })
}

/// The task type a person named (its slug, id or model code), or the
/// error listing the ones there are.
///
/// ```
/// use authenta_proto::jobs::task_type;
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

/// Walks every page of `GET /v1/jobs` (`page` from 1), with the same rules
/// as [`ListCursor`](crate::ListCursor): it ends at the last page the
/// server announces, on a short or an empty page, and on a page for
/// another number than asked or holding only jobs listed before (a server
/// that ignores `page`), so it cannot loop for ever; a job served twice is
/// listed once.
///
/// ```
/// use authenta_proto::jobs::JobCursor;
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
    use authenta_types::{Job, Pagination, TASK_TYPES};

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
