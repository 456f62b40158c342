//! What a resumed batch item costs: the decisions of the batch pipelines
//! (`authenta-client`'s `Client::process_batch` and `Client::process_jobs`)
//! for an item that starts from where a journal saw it last ([`Resume`] for
//! a `/media` record, [`JobResume`] for a job), as pure functions of what
//! the API answered. The pipelines only run the requests they name.

use authenta_types::{Job, JobId, Media, MediaId, MediaStatus, Timestamp};
use jiff::SignedDuration;

use super::jobs::JobStage;
use crate::error::{Error, ErrorClass};
use crate::upload::UploadTarget;

/// Where an item of a batch starts: from nothing, or from where a journal
/// saw it last (saved from the upload's [`Checkpoint`](crate::Checkpoint)s and the batch's
/// events). [`ResumeStep`], [`after_created`] and [`left_overs`] decide what
/// each costs; the batch pipeline (`authenta-client`) runs them:
///
/// | resume | requests |
/// |---|---|
/// | `New` | check the file, create, upload, wait |
/// | `Creating` | list to find and delete the record the interrupted create may have left (no one knows its upload URL), then as `New` |
/// | `Created` | one `GET` to see what became of the record: uploaded → wait; waiting for its bytes → upload to the saved target if it has not expired, else delete it and start as `New`; gone → `New` |
/// | `Uploaded` | wait (polled at once) |
/// | `Final` | none |
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Resume {
    /// Nothing is known: check, create, upload, wait.
    #[default]
    New,
    /// A create was about to be sent at `since` for a record named `name`;
    /// its answer was not saved.
    Creating {
        /// The record's name in the create request.
        name: String,
        /// When the create was about to be sent.
        since: Timestamp,
    },
    /// The record was created; its bytes may not have arrived.
    Created {
        /// The record.
        mid: MediaId,
        /// Its `createdAt`.
        created_at: Option<Timestamp>,
        /// Where its bytes go.
        target: Box<UploadTarget>,
    },
    /// The bytes arrived: wait.
    Uploaded {
        /// The record.
        mid: MediaId,
        /// Its `createdAt` (the batch waiter learns the list's order from
        /// it).
        created_at: Option<Timestamp>,
    },
    /// The record is final: nothing to do.
    Final(Box<Media>),
}

/// What an item does first, by where it resumes from.
#[derive(Debug)]
pub enum ResumeStep {
    /// Check, create, upload and wait, as a new file.
    New,
    /// First look for what an interrupted create may have left (list
    /// records, delete those [`left_overs`] names), then start as new.
    Sweep {
        /// The record's name in the create request.
        name: String,
        /// When the create was about to be sent.
        since: Timestamp,
    },
    /// Read the record (one `GET`), then do what [`after_created`] says.
    Read {
        /// The record.
        mid: MediaId,
        /// Its `createdAt`, when saved.
        created_at: Option<Timestamp>,
        /// Where its bytes go.
        target: Box<UploadTarget>,
    },
    /// Wait for it, polled at once (it was uploaded some time ago).
    Wait {
        /// The record.
        mid: MediaId,
        /// Its `createdAt`, when saved.
        created_at: Option<Timestamp>,
    },
    /// Nothing: it is final.
    Final(Box<Media>),
}

impl Resume {
    /// What the item does first.
    pub fn first_step(self) -> ResumeStep {
        match self {
            Resume::New => ResumeStep::New,
            Resume::Creating { name, since } => ResumeStep::Sweep { name, since },
            Resume::Created {
                mid,
                created_at,
                target,
            } => ResumeStep::Read {
                mid,
                created_at,
                target,
            },
            Resume::Uploaded { mid, created_at } => ResumeStep::Wait { mid, created_at },
            Resume::Final(media) => ResumeStep::Final(media),
        }
    }
}

/// What to do with a record created before an interruption, once read.
#[derive(Debug)]
pub enum AfterCreated {
    /// It is gone: start as a new file.
    New,
    /// Its upload URL expired before its bytes arrived: delete it (best
    /// effort, when the key may delete), then start as a new file.
    DeleteThenNew,
    /// Its bytes never arrived and its URL is still good: upload to the
    /// saved target, then wait.
    UploadThenWait {
        /// The record's `createdAt`, as read.
        created_at: Timestamp,
    },
    /// Its bytes arrived: wait for it.
    Wait {
        /// The record's `createdAt`, as read.
        created_at: Timestamp,
    },
    /// It is final.
    Final(Box<Media>),
}

/// What a record created before an interruption costs, from its read
/// (`read`: the `GET` of its `mid`) and the wall clock: a record not found
/// starts again as new, a final one is done, one still waiting for its
/// bytes is uploaded to its saved `target` unless that expired (then it is
/// deleted and created anew), and anything else is waited for. Any other
/// failure of the read fails the item.
pub fn after_created(
    read: Result<Media, Error>,
    target: &UploadTarget,
    wall_clock: std::time::SystemTime,
) -> Result<AfterCreated, Error> {
    let media = match read {
        Ok(media) => media,
        Err(e) if e.class() == ErrorClass::NotFound => return Ok(AfterCreated::New),
        Err(e) => return Err(e),
    };
    Ok(if media.status.is_final() {
        AfterCreated::Final(Box::new(media))
    } else if media.status == MediaStatus::Inited && target.is_expired(wall_clock) {
        AfterCreated::DeleteThenNew
    } else if media.status == MediaStatus::Inited {
        AfterCreated::UploadThenWait {
            created_at: media.created_at,
        }
    } else {
        AfterCreated::Wait {
            created_at: media.created_at,
        }
    })
}

/// How far back from the saved time a left-over record's `createdAt` may
/// be (the server's clock is not ours).
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// How many list pages a search for a left-over record reads.
pub const SWEEP_PAGES: usize = 3;

/// The records of a listed page an interrupted create of a record named
/// `name` at `since` may have left: that name, still waiting for its bytes
/// (no one knows its upload URL), created after `since` (less
/// [`CLOCK_SKEW`]). They are to be deleted.
pub fn left_overs<'a>(
    page: &'a [Media],
    name: &'a str,
    since: Timestamp,
) -> impl Iterator<Item = &'a MediaId> + 'a {
    let after = since.checked_sub(CLOCK_SKEW).unwrap_or(since);
    page.iter()
        .filter(move |m| m.name == name && m.status == MediaStatus::Inited && m.created_at >= after)
        .map(|m| &m.mid)
}

/// Where a job of a batch starts: from nothing, or from where a journal saw
/// it last (saved from [`RunJob`](super::jobs::RunJob)'s
/// [`JobCheckpoint`](super::jobs::JobCheckpoint)s and the batch's events).
/// [`JobResume::first_step`] and [`RunJob::resume_from`](super::jobs::RunJob::resume_from)
/// decide what each costs:
///
/// | resume | requests |
/// |---|---|
/// | `New` | check the files, create, upload every slot, finalize, wait |
/// | `Creating` | list the jobs waiting for their finalize (the `status` filter) and delete the one the interrupted create may have left ([`SweepJobs`](super::jobs::SweepJobs)), then as `New` |
/// | `Stage(Created)` | upload the slots not yet up to their saved URLs, finalize, wait; once one of those URLs expired: delete the stale job, then as `New`; a job found gone (an upload or the finalize answered 404): as `New` |
/// | `Stage(Uploaded)` | read the job (the finalize's answer may have been lost): finalize only if it still waits for one; wait; gone (404): as `New` |
/// | `Stage(Finalized)` | wait (polled at once; in a batch, with the others by the list) |
/// | `Final` | none |
///
/// ```
/// use authenta_proto::engine::jobs::JobStage;
/// use authenta_proto::engine::resume::{JobResume, JobResumeStep};
/// use authenta_proto::types::JobId;
///
/// let saved = JobResume::from(JobStage::Finalized { job: JobId::new("7") });
/// assert!(matches!(saved.first_step(), JobResumeStep::Wait { job } if job.as_str() == "7"));
/// assert!(matches!(JobResume::New.first_step(), JobResumeStep::Run(JobResume::New)));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum JobResume {
    /// Nothing is known: check, create, upload, finalize, wait.
    #[default]
    New,
    /// A create was about to be sent at `at`; its answer was not saved.
    Creating {
        /// When the create was about to be sent.
        at: Timestamp,
    },
    /// A saved stage: created (with its slots' upload URLs), uploaded, or
    /// finalized.
    Stage(JobStage),
    /// The job is final: nothing to do.
    Final(Box<Job>),
}

impl From<JobStage> for JobResume {
    fn from(stage: JobStage) -> Self {
        JobResume::Stage(stage)
    }
}

/// What a job of a batch does first, by where it resumes from.
#[derive(Debug)]
pub enum JobResumeStep {
    /// Run it (files checked, and what [`RunJob::resume_from`](super::jobs::RunJob::resume_from)
    /// says for this resume) until it is finalized.
    Run(JobResume),
    /// Only wait for it, polled at once (finalized some time ago).
    Wait {
        /// The job.
        job: JobId,
    },
    /// Nothing: it is final.
    Final(Box<Job>),
}

impl JobResume {
    /// What the job does first: a finalized job is only waited for, a
    /// final one costs nothing, anything else runs.
    pub fn first_step(self) -> JobResumeStep {
        match self {
            JobResume::Stage(JobStage::Finalized { job }) => JobResumeStep::Wait { job },
            JobResume::Final(job) => JobResumeStep::Final(job),
            other => JobResumeStep::Run(other),
        }
    }
}
