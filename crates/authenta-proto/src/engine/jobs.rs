//! The jobs API's flows, each a [`Flow`]:
//!
//! | flow | what it does | finishes with |
//! |---|---|---|
//! | [`RunJob`] | check every slot, create the job, upload every slot, finalize, wait | the final [`Job`] |
//! | [`WaitJob`] | poll a job until `completed`, `failed` or `cancelled`, within a bound | the final [`Job`] |
//! | [`JobPages`] | the next page of every job (run it again for the next) | `Option<Vec<Job>>` |
//! | [`SweepJobs`] | find and delete what an interrupted create left | [`Swept`] |
//!
//! A job's artifacts (result document, heatmaps) download with the
//! [`Download`] flow's streaming rules: [`artifact_download`].
//!
//! [`RunJob`] spends nothing on inputs the task type would refuse (checked
//! when it is made), uploads each slot with its exact length and content
//! type through [`UploadTo`] (the upload rules of `/media`), and finalizes
//! only once every `PUT` was answered 2xx: a refused slot upload ends the
//! flow with its error and the job is never finalized. A finalize whose
//! answer is lost (a transport failure, a 5xx) or refused for the job's
//! status is never sent again blindly: the job is read first (after the
//! retry policy's backoff, or the server's `Retry-After`), and only a job
//! still waiting for its finalize is finalized again, within the policy's
//! attempts. A finalize answered 2xx with a body that cannot be read was
//! taken: the job is read and waited for. The wait ends at
//! the first final status and is bounded by the task type's time limit
//! unless the caller sets another bound.
//!
//! It can start from a saved [`JobStage`] (created with its upload URLs;
//! uploaded; finalized), which it hands to the caller's checkpoint before
//! each request that depends on it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authenta_types::{
    CreateJobRequest, CreatedJob, Job, JobId, JobParameters, JobStatus, SlotName, TaskType,
    TaskTypeInfo,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::flows::{Call, Download, SourceInfo, UploadTo};
use super::resume::JobResume;
use super::{Action, Event, Flow, Inputs, poll_again_after, unexpected};
use crate::config::Config;
use crate::error::{
    DecodeError, Error, JobWaitTimeout, LocalIo, ProtocolError, ValidationError, WaitBound,
};
use crate::jobs::{JobCursor, JobFile, check_job_inputs};
use crate::ops::{CreateJob, DeleteJob, FinalizeJob, GetJob, ListJobs};
use crate::poll::{PollPolicy, PollStep};
use crate::retry::{Replay, RetryDecision, RetryPolicy, classify_error, classify_transport};
use crate::upload::{UploadTarget, timestamp};

/// Feeds `event` to a sub-flow: `Err` with its result when it finished,
/// else the action to pass on.
fn relay<F: Flow, U>(
    flow: &mut F,
    event: Event,
    inputs: Inputs,
) -> Result<Action<U>, Result<F::Output, Error>> {
    flow.step(event, inputs).relay()
}

/// One slot's upload: its checked file and what the flow knows of its
/// source (length, whether it reopens, a name for messages). The bytes
/// are the driver's.
#[derive(Clone, Debug)]
pub struct JobUpload {
    /// The slot's checked file.
    pub file: JobFile,
    /// The source's length and whether it can be read again.
    pub source: SourceInfo,
}

/// One slot's upload target, and whether its bytes are up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotTarget {
    /// The slot.
    pub slot: SlotName,
    /// Where its bytes go (the pre-signed URL, content type, size, expiry).
    pub target: UploadTarget,
    /// Whether S3 took them (2xx).
    pub uploaded: bool,
}

/// Where a job stands, saved at each checkpoint so a run can resume from
/// it ([`RunJob::resume`]). Serializable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "camelCase")]
#[non_exhaustive]
pub enum JobStage {
    /// Created, with each slot's upload target (and which are up).
    Created {
        /// The job.
        job: JobId,
        /// Its slots, in upload order.
        slots: Vec<SlotTarget>,
    },
    /// Every slot uploaded; not known to be finalized.
    Uploaded {
        /// The job.
        job: JobId,
    },
    /// Finalized: only the wait is left.
    Finalized {
        /// The job.
        job: JobId,
    },
}

impl JobStage {
    /// The job this stage is of.
    pub fn job(&self) -> &JobId {
        match self {
            JobStage::Created { job, .. }
            | JobStage::Uploaded { job }
            | JobStage::Finalized { job } => job,
        }
    }
}

/// What a [`RunJob`] hands its checkpoint, each time before the request
/// that depends on it.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobCheckpoint<'a> {
    /// About to create the job: should the process die before the next
    /// checkpoint, a job may exist that no stage names (it stays
    /// `created`/`waiting_for_finalize`; it is never processed or charged).
    Creating {
        /// The task type.
        task: &'static TaskTypeInfo,
        /// The create request.
        request: &'a CreateJobRequest,
        /// When.
        at: Timestamp,
    },
    /// The stage to save: resume from it.
    Stage(&'a JobStage),
}

/// Saves a [`RunJob`]'s [`JobCheckpoint`]s; an error stops the run.
pub type JobCheckpointFn = Arc<dyn Fn(JobCheckpoint<'_>) -> std::io::Result<()> + Send + Sync>;

/// Sees each polled job (to show its status, say).
pub type JobObserver = Arc<dyn Fn(&Job) + Send + Sync>;

/// The slot an [`Action::Upload`] of a job carries, in its head's
/// extensions: the driver sends the bytes of this slot's source. The same
/// slot is also set in the flow's [`SlotSelector`] before the action, for
/// a source that switches by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadSlot(pub SlotName);

/// The slot being uploaded, shared between a [`RunJob`] and the source
/// its driver reads: the flow sets it before each upload.
#[derive(Clone, Debug, Default)]
pub struct SlotSelector(Arc<Mutex<Option<SlotName>>>);

impl SlotSelector {
    /// The slot of the upload in progress (or the last one).
    pub fn current(&self) -> Option<SlotName> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, slot: &SlotName) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot.clone());
    }
}

/// The download of one of a job's artifacts (a result document, a
/// heatmap): streamed into the driver's sink, retried as a `GET`, committed
/// only when whole ([`Download`]); `None` from the flow when the artifact
/// has no URL.
///
/// ```
/// use authenta_proto::engine::jobs::artifact_download;
/// use authenta_proto::types::Artifact;
/// use authenta_proto::RetryPolicy;
///
/// let heatmap: Artifact = serde_json::from_str(
///     r#"{"id": 1, "kind": "heatmap", "downloadUrl": "https://s3.example/h.png?X-Amz-Signature=s"}"#,
/// ).unwrap();
/// let flow = artifact_download(&heatmap, RetryPolicy::default());
/// assert!(!format!("{flow:?}").contains("X-Amz-Signature"));
/// ```
pub fn artifact_download(artifact: &authenta_types::Artifact, retry: RetryPolicy) -> Download {
    Download::new(artifact.download_url.clone(), None, retry)
}

/// How a job wait is bounded.
fn bound(
    task: Option<&TaskTypeInfo>,
    caller: Option<Duration>,
    policy: &PollPolicy,
) -> (Duration, WaitBound) {
    match (
        caller,
        task.and_then(|t| t.time_limit_secs.map(|s| (t.slug, s))),
    ) {
        (Some(limit), _) => (limit, WaitBound::Caller),
        (None, Some((slug, secs))) => (Duration::from_secs(secs), WaitBound::TaskType(slug)),
        (None, None) => (policy.max_wait, WaitBound::Policy),
    }
}

/// Polls `GET /v1/jobs/{jobId}` until the job is `completed`, `failed` or
/// `cancelled` (each ends the wait at once; a `failed` or `cancelled` job
/// is the result, not an error), within a bound: the task type's time
/// limit unless the caller sets another ([`WaitJob::bounded`]), else the
/// poll policy's deadline. A poll that fails transiently within the bound
/// is polled again later; past the bound the wait ends with an
/// [`ProtocolError::JobTimeout`] stating the last status, the time waited and the
/// polls spent.
pub struct WaitJob {
    job: JobId,
    policy: PollPolicy,
    limit: Duration,
    bound: WaitBound,
    config: Config,
    retry: RetryPolicy,
    observer: Option<JobObserver>,
    poll: Option<Call<GetJob>>,
    started: Option<Instant>,
    polls: u32,
    skipped: u32,
    last_status: Option<JobStatus>,
    after_finalize: bool,
}

impl std::fmt::Debug for WaitJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitJob")
            .field("job", &self.job)
            .field("limit", &self.limit)
            .field("bound", &self.bound)
            .field("polls", &self.polls)
            .field("last_status", &self.last_status)
            .finish_non_exhaustive()
    }
}

impl WaitJob {
    /// A wait for `job` of task type `task` (its time limit bounds the
    /// wait) on `policy`'s schedule. Without `task`, the first polled job
    /// names it; a task type without a time limit (or none named) is
    /// bounded by `policy`'s deadline.
    pub fn new(
        job: JobId,
        task: Option<&TaskType>,
        policy: PollPolicy,
        config: Config,
        retry: RetryPolicy,
    ) -> Self {
        let (limit, bound) = bound(task.and_then(TaskType::info), None, &policy);
        WaitJob {
            job,
            policy,
            limit,
            bound,
            config,
            retry,
            observer: None,
            poll: None,
            started: None,
            polls: 0,
            skipped: 0,
            last_status: None,
            after_finalize: false,
        }
    }

    /// Bounds the wait at `limit` instead of the task type's time limit
    /// (`None` keeps it).
    pub fn bounded(mut self, limit: Option<Duration>) -> Self {
        if let Some(limit) = limit {
            self.limit = limit;
            self.bound = WaitBound::Caller;
        }
        self
    }

    /// The job was just finalized: the first poll comes after the policy's
    /// first delay, not at once.
    pub fn after_finalize(mut self) -> Self {
        self.after_finalize = true;
        self
    }

    /// Shows each polled job to `observer`.
    pub fn observed(mut self, observer: Option<JobObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The bound, and where it came from.
    pub fn bound(&self) -> (Duration, WaitBound) {
        (self.limit, self.bound)
    }

    fn schedule(&self) -> PollPolicy {
        self.policy.with_max_wait(self.limit)
    }

    fn timed_out(&self, elapsed: Duration) -> Error {
        ProtocolError::JobTimeout(Box::new(JobWaitTimeout {
            job: self.job.clone(),
            last_status: self.last_status.clone(),
            waited: elapsed,
            polls: self.polls,
            limit: self.limit,
            bound: self.bound,
        }))
        .into()
    }
}

impl Flow for WaitJob {
    type Output = Job;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Job> {
        let schedule = self.schedule();
        let started = match self.started {
            Some(started) => started,
            None => {
                self.started = Some(inputs.now);
                if self.after_finalize {
                    self.skipped = 1;
                    return Action::Sleep(schedule.first_delay.min(schedule.max_wait));
                }
                inputs.now
            }
        };
        let elapsed = inputs.now.saturating_duration_since(started);
        let poll = match &mut self.poll {
            Some(poll) => poll,
            None => self.poll.insert(Call::new(
                GetJob::new(self.job.clone()),
                self.config.clone(),
                self.retry,
            )),
        };
        let job = match relay(poll, event, inputs) {
            Ok(action) => return action,
            Err(result) => {
                self.poll = None;
                match result {
                    Ok(job) => job,
                    Err(failure) => {
                        let polls = self.polls + self.skipped + 1;
                        return match poll_again_after(
                            &failure,
                            &schedule,
                            polls,
                            elapsed,
                            inputs.wall_clock,
                        ) {
                            Some(delay) => {
                                tracing::warn!(job = %self.job, delay_ms = delay.as_millis() as u64, "a job poll failed: polling again later ({failure})");
                                Action::Sleep(delay)
                            }
                            None => Action::Finish(Err(failure)),
                        };
                    }
                }
            }
        };
        self.polls += 1;
        if self.bound == WaitBound::Policy
            && let Some(task) = job.task_type()
            && let (limit, bound @ WaitBound::TaskType(_)) =
                self::bound(task.info(), None, &self.policy)
        {
            // Made without its task type: the job names it.
            (self.limit, self.bound) = (limit, bound);
        }
        tracing::debug!(job = %self.job, status = %job.status, polls = self.polls, "polled a job");
        if let Some(observer) = &self.observer {
            observer(&job);
        }
        if job.status.is_final() {
            return Action::Finish(Ok(job));
        }
        self.last_status = Some(job.status);
        match schedule.next(self.polls + self.skipped, elapsed) {
            PollStep::PollAfter(delay) => Action::Sleep(delay),
            PollStep::GiveUp => Action::Finish(Err(self.timed_out(elapsed))),
        }
    }
}

#[derive(Debug)]
enum RunState {
    /// Not started, or starting over (after a stale job was deleted).
    Start,
    /// A saved stage to pick up at the next step.
    Resume(JobStage),
    /// Deleting a job whose upload URLs expired before its slots were up.
    DeleteStale(Call<DeleteJob>),
    /// Deleting what a create interrupted before its answer was saved may
    /// have left, before creating the job again.
    Sweep(Box<SweepJobs>),
    Create(Call<CreateJob>),
    Put {
        job: JobId,
        slots: Vec<SlotTarget>,
        index: usize,
        put: Box<UploadTo>,
    },
    Finalize {
        job: JobId,
        call: Call<FinalizeJob>,
    },
    /// Reading the job before a finalize is (re)sent; the failure of the
    /// finalize that was not answered, if any, and whether the retry
    /// policy lets it be sent again.
    Check {
        job: JobId,
        call: Call<GetJob>,
        after: Option<Error>,
        resend: bool,
    },
    Wait(Box<WaitJob>),
    /// Resumed from a final job: nothing to do.
    Final(Box<Job>),
    Done,
}

/// How a [`StartJob`] ends: the job finalized (to be waited for, with
/// others: [`JobBatchWait`](super::job_batch::JobBatchWait)), or final
/// already.
#[derive(Debug)]
pub enum JobStarted {
    /// Finalized: only the wait is left.
    Finalized {
        /// The job.
        job: JobId,
        /// It was finalized before this run (a resumed
        /// [`JobStage::Finalized`]): poll it at once.
        earlier: bool,
    },
    /// Final already (read while resuming, or resumed from a final job).
    Final(Box<Job>),
}

/// The whole job: checks every slot's input against the task type (when
/// made: nothing is spent on inputs it would refuse), creates the job
/// (`POST /v1/jobs?taskTypeId=N`), uploads every slot to its URL (each
/// with its exact length and content type; sequentially), finalizes once
/// every upload was answered 2xx, and waits for a final status
/// ([`WaitJob`], bounded by the task type's time limit unless
/// [`RunJob::bounded`]). See the [module](self) for the rules.
///
/// Slots are uploaded one after another, in the task type's slot order;
/// each upload's head carries its [`UploadSlot`], and the flow's
/// [`SlotSelector`] names it, so a driver reads the right source. Several
/// slots at once would need a driver that runs more than one action at a
/// time: the `Put` state would then hold one [`UploadTo`] per slot and
/// finalize once all have finished.
pub struct RunJob {
    task: &'static TaskTypeInfo,
    uploads: Vec<JobUpload>,
    parameters: Option<JobParameters>,
    config: Config,
    retry: RetryPolicy,
    policy: PollPolicy,
    limit: Option<Duration>,
    checkpoint: Option<JobCheckpointFn>,
    observer: Option<JobObserver>,
    selector: SlotSelector,
    /// Finalize requests sent (one per round, never twice without a read).
    finalizes: u32,
    /// End at the finalize (a [`StartJob`]) instead of waiting.
    stop_at_finalize: bool,
    /// Resumed from a saved stage: a job found gone is created anew.
    resumed: bool,
    state: RunState,
}

/// A [`RunJob`] that ends once the job is finalized, without waiting
/// ([`RunJob::until_finalized`]): what a batch runs for each file before
/// every finalized job is waited for together.
#[derive(Debug)]
pub struct StartJob(RunJob);

impl std::fmt::Debug for RunJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunJob")
            .field("task", &self.task.slug)
            .field("uploads", &self.uploads)
            .field("limit", &self.limit)
            .field("checkpoint", &self.checkpoint.is_some())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl RunJob {
    /// The run of `task_type` over `uploads` (one per slot) with
    /// `parameters`. Checked here, before anything is spent: the task type,
    /// every slot and its content type ([`check_job_inputs`]), and each
    /// source's length against its file's size.
    pub fn new(
        task_type: TaskType,
        mut uploads: Vec<JobUpload>,
        parameters: Option<JobParameters>,
        config: Config,
        retry: RetryPolicy,
    ) -> Result<Self, ValidationError> {
        let inputs: Vec<_> = uploads.iter().map(|u| u.file.input()).collect();
        let task = check_job_inputs(&task_type, &inputs, parameters.as_ref())?;
        for upload in &uploads {
            if upload.source.len != upload.file.file.size {
                return Err(ValidationError::SizeMismatch {
                    expected: upload.file.file.size,
                    actual: upload.source.len,
                    mid: None,
                });
            }
        }
        let order = |slot: &SlotName| task.slots.iter().position(|s| &s.name == slot);
        uploads.sort_by_key(|u| order(&u.file.slot));
        Ok(RunJob {
            task,
            uploads,
            parameters,
            config,
            retry,
            policy: PollPolicy::default(),
            limit: None,
            checkpoint: None,
            observer: None,
            selector: SlotSelector::default(),
            finalizes: 0,
            stop_at_finalize: false,
            resumed: false,
            state: RunState::Start,
        })
    }

    /// Polls on `policy`'s schedule (its deadline applies only to a task
    /// type without a time limit).
    pub fn poll_policy(mut self, policy: PollPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Bounds the wait at `limit` instead of the task type's time limit
    /// (`None` keeps it).
    pub fn bounded(mut self, limit: Option<Duration>) -> Self {
        self.limit = limit;
        self
    }

    /// Calls `checkpoint` at each [`JobCheckpoint`], before the request
    /// that depends on it.
    pub fn checkpointed(mut self, checkpoint: Option<JobCheckpointFn>) -> Self {
        self.checkpoint = checkpoint;
        self
    }

    /// Shows each polled job to `observer`.
    pub fn observed(mut self, observer: Option<JobObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Starts from a saved stage instead of creating a job: `Created`
    /// uploads the slots not yet up to their saved URLs (or, once one of
    /// those expired, deletes the stale job and creates a new one);
    /// `Uploaded` reads the job and finalizes it only if it still waits
    /// for that; `Finalized` only waits (polled at once). A job found gone
    /// meanwhile (an upload, the read or the finalize answered 404) is
    /// created anew, once.
    pub fn resume(mut self, stage: JobStage) -> Self {
        self.state = RunState::Resume(stage);
        self
    }

    /// Starts over after a create that may have reached the server but
    /// whose answer was never saved (the run stopped after its
    /// [`JobCheckpoint::Creating`], saved at `at`): what it may have left
    /// is found and deleted ([`SweepJobs`]), then the job is created anew.
    pub fn resume_creating(mut self, at: Timestamp) -> Self {
        let request = CreateJobRequest {
            inputs: self.uploads.iter().map(|u| u.file.input()).collect(),
            parameters: None,
            task_type_id: None,
        };
        let sweep = SweepJobs::new(
            self.task.task_type(),
            request,
            at,
            self.config.clone(),
            self.retry,
        );
        self.state = RunState::Sweep(Box::new(sweep));
        self
    }

    /// Starts from `resume` (see [`JobResume`] for what each costs):
    /// nothing saved creates the job; an interrupted create is swept first
    /// ([`RunJob::resume_creating`]); a saved stage resumes
    /// ([`RunJob::resume`]); a final job ends the run at once, with no
    /// request.
    pub fn resume_from(mut self, resume: JobResume) -> Self {
        match resume {
            JobResume::New => self,
            JobResume::Creating { at } => self.resume_creating(at),
            JobResume::Stage(stage) => self.resume(stage),
            JobResume::Final(job) => {
                self.state = RunState::Final(job);
                self
            }
        }
    }

    /// Ends the run once the job is finalized, instead of waiting for it:
    /// the batch pipeline waits for every finalized job together.
    pub fn until_finalized(mut self) -> StartJob {
        self.stop_at_finalize = true;
        StartJob(self)
    }

    /// The slot being uploaded, for a source that switches by it.
    pub fn slot_selector(&self) -> SlotSelector {
        self.selector.clone()
    }

    /// The task type's row.
    pub fn task(&self) -> &'static TaskTypeInfo {
        self.task
    }

    fn save(&self, point: JobCheckpoint<'_>, job: Option<&JobId>) -> Result<(), Error> {
        let Some(checkpoint) = &self.checkpoint else {
            return Ok(());
        };
        checkpoint(point).map_err(|error| Error::Io {
            error,
            during: LocalIo::Checkpoint,
            context: match job {
                Some(job) => format!("saving the progress of job {job}"),
                None => "saving the job's progress".to_owned(),
            },
            mid: None,
        })
    }

    fn save_stage(&self, stage: &JobStage) -> Result<(), Error> {
        self.save(JobCheckpoint::Stage(stage), Some(stage.job()))
    }

    fn source(&self, slot: &SlotName) -> &SourceInfo {
        &self
            .uploads
            .iter()
            .find(|u| &u.file.slot == slot)
            .expect("every target is of a slot the run uploads")
            .source
    }

    /// The upload targets of a created job, one per slot in upload order.
    fn targets(&self, created: &CreatedJob, inputs: Inputs) -> Result<Vec<SlotTarget>, Error> {
        self.uploads
            .iter()
            .map(|upload| {
                let slot = &upload.file.slot;
                let given = created.job.slot(slot);
                let Some(url) = given.and_then(|s| s.upload_url.as_deref()) else {
                    return Err(ProtocolError::Decode(Box::new(DecodeError {
                        status: http::StatusCode::OK,
                        operation: Some(authenta_types::Operation::CreateJob),
                        reason: format!(
                            "the created job {} has no upload URL for its {slot} slot",
                            created.job.id
                        ),
                        snippet: String::new(),
                        mid: None,
                    }))
                    .into());
                };
                let expires_at = given.and_then(|s| s.expires_in).map(|secs| {
                    timestamp(inputs.wall_clock)
                        .checked_add(SignedDuration::from_secs(
                            i64::try_from(secs).unwrap_or(i64::MAX),
                        ))
                        .unwrap_or(Timestamp::MAX)
                });
                let target = UploadTarget::new(
                    url,
                    upload.file.file.content_type.clone(),
                    upload.file.file.size,
                    expires_at,
                )?;
                Ok(SlotTarget {
                    slot: slot.clone(),
                    target,
                    uploaded: false,
                })
            })
            .collect()
    }

    /// The next slot to upload from `index`, or on to finalize.
    fn put_from(&mut self, job: JobId, slots: Vec<SlotTarget>, from: usize) -> RunState {
        match slots.iter().skip(from).position(|s| !s.uploaded) {
            Some(offset) => {
                let index = from + offset;
                let slot = &slots[index];
                let put = UploadTo::new(
                    slot.target.clone(),
                    self.source(&slot.slot).clone(),
                    &self.config,
                    self.retry,
                );
                RunState::Put {
                    job,
                    slots,
                    index,
                    put: Box::new(put),
                }
            }
            None => self.finalize(job),
        }
    }

    fn finalize(&mut self, job: JobId) -> RunState {
        self.finalizes += 1;
        RunState::Finalize {
            call: Call::new(
                FinalizeJob::new(job.clone()),
                self.config.clone(),
                self.retry,
            ),
            job,
        }
    }

    fn check(&self, job: JobId, after: Option<Error>, resend: bool) -> RunState {
        RunState::Check {
            call: Call::new(GetJob::new(job.clone()), self.config.clone(), self.retry),
            job,
            after,
            resend,
        }
    }

    /// How long to wait before reading the job and sending the finalize
    /// again after `failure`, as the retry policy says for a request that
    /// may be replayed (the read makes it safe): its backoff, or the
    /// server's `Retry-After`. `None`: never sent again (a refusal for the
    /// job's state, an answer that cannot be read, a failure not worth a
    /// retry, the attempts spent, a `Retry-After` past the policy's most);
    /// the job is still read, to tell whether it was finalized.
    fn resend_delay(&self, failure: &Error, inputs: Inputs) -> Option<Duration> {
        let action = match failure {
            Error::Transport { kind, .. } => classify_transport(*kind),
            Error::Proto(ProtocolError::JobState(_)) | Error::Io { .. } => return None,
            Error::Proto(e) => classify_error(e),
        };
        let retry_after = failure
            .as_proto()
            .and_then(ProtocolError::retry_after)
            .map(|r| r.delay(inputs.wall_clock));
        match self.retry.decide(
            action,
            Replay::Idempotent,
            self.finalizes,
            retry_after,
            inputs.random,
        ) {
            RetryDecision::RetryAfter(delay) => Some(delay),
            RetryDecision::GiveUp => None,
        }
    }

    /// The wait of `job`, finalized just now or (`earlier`) before this
    /// run, when it is polled at once; or the end of a [`StartJob`].
    fn wait(&self, job: JobId, earlier: bool) -> Result<RunState, JobStarted> {
        if self.stop_at_finalize {
            return Err(JobStarted::Finalized { job, earlier });
        }
        let wait = WaitJob::new(
            job,
            Some(&self.task.task_type()),
            self.policy,
            self.config.clone(),
            self.retry,
        )
        .bounded(self.limit)
        .observed(self.observer.clone());
        let wait = match earlier {
            true => wait,
            false => wait.after_finalize(),
        };
        Ok(RunState::Wait(Box::new(wait)))
    }

    /// Whether `failure` says the job a resumed run picked up is gone
    /// (deleted meanwhile): it is then created anew, once.
    fn gone(&mut self, failure: &Error) -> bool {
        let missing = match failure.as_proto() {
            // S3 knows no such object: its job was deleted.
            Some(ProtocolError::Upload(e)) => e.status == http::StatusCode::NOT_FOUND,
            _ => failure.class() == crate::error::ErrorClass::NotFound,
        };
        let gone = self.resumed && missing;
        if gone {
            self.resumed = false;
        }
        gone
    }

    /// A finalized job: saved, then waited for.
    fn finalized(&mut self, job: JobId) -> Result<Result<RunState, JobStarted>, Error> {
        self.save_stage(&JobStage::Finalized { job: job.clone() })?;
        Ok(self.wait(job, false))
    }

    /// One transition: `Some` action to hand the driver, or `None` when
    /// the state changed and the next state takes a fresh
    /// [`Event::Ready`].
    fn advance(
        &mut self,
        event: Event,
        inputs: Inputs,
    ) -> Result<Option<Action<JobStarted>>, Error> {
        let state = std::mem::replace(&mut self.state, RunState::Done);
        let next = match state {
            RunState::Done => return Ok(Some(unexpected(&event))),
            RunState::Final(job) => return Ok(Some(Action::Finish(Ok(JobStarted::Final(job))))),
            RunState::Start => {
                let request = CreateJobRequest {
                    inputs: self.uploads.iter().map(|u| u.file.input()).collect(),
                    parameters: self.parameters.clone(),
                    task_type_id: None,
                };
                let op = CreateJob::from_request(self.task.task_type(), request)?;
                self.save(
                    JobCheckpoint::Creating {
                        task: self.task,
                        request: op.request(),
                        at: timestamp(inputs.wall_clock),
                    },
                    None,
                )?;
                RunState::Create(Call::new(op, self.config.clone(), self.retry))
            }
            RunState::Resume(stage) => {
                self.resumed = true;
                match stage {
                    JobStage::Created { job, slots } => {
                        let names = |mut v: Vec<String>| {
                            v.sort();
                            v.join(", ")
                        };
                        let saved = names(slots.iter().map(|s| s.slot.to_string()).collect());
                        let given = names(
                            self.uploads
                                .iter()
                                .map(|u| u.file.slot.to_string())
                                .collect(),
                        );
                        if saved != given {
                            return Err(Error::from(ProtocolError::Invalid(
                                crate::error::JobInputError::StageMismatch { job, saved, given }
                                    .into(),
                            )));
                        }
                        let stale = slots
                            .iter()
                            .any(|s| !s.uploaded && s.target.is_expired(inputs.wall_clock));
                        if stale {
                            tracing::info!(%job, "the saved upload URLs expired: deleting the job and creating it anew");
                            RunState::DeleteStale(Call::new(
                                DeleteJob::new(job),
                                self.config.clone(),
                                self.retry,
                            ))
                        } else {
                            self.put_from(job, slots, 0)
                        }
                    }
                    JobStage::Uploaded { job } => self.check(job, None, true),
                    JobStage::Finalized { job } => match self.wait(job, true) {
                        Ok(next) => next,
                        Err(end) => return Ok(Some(Action::Finish(Ok(end)))),
                    },
                }
            }
            RunState::DeleteStale(mut call) => match relay(&mut call, event, inputs) {
                Ok(action) => {
                    self.state = RunState::DeleteStale(call);
                    return Ok(Some(action));
                }
                Err(result) => {
                    if let Err(failure) = result {
                        // Never finalized, it is never processed nor charged.
                        tracing::warn!(
                            "the stale job could not be deleted ({failure}); creating a new one anyway"
                        );
                    }
                    RunState::Start
                }
            },
            RunState::Sweep(mut sweep) => match relay(&mut *sweep, event, inputs) {
                Ok(action) => {
                    self.state = RunState::Sweep(sweep);
                    return Ok(Some(action));
                }
                Err(result) => {
                    let swept = result?;
                    tracing::info!(
                        deleted = swept.deleted.len(),
                        complete = swept.complete,
                        "an interrupted create's left-overs swept; creating the job anew"
                    );
                    RunState::Start
                }
            },
            RunState::Create(mut call) => match relay(&mut call, event, inputs) {
                Ok(action) => {
                    self.state = RunState::Create(call);
                    return Ok(Some(action));
                }
                Err(result) => {
                    let created = result?;
                    let slots = self.targets(&created, inputs)?;
                    let job = created.job.id.clone();
                    self.save_stage(&JobStage::Created {
                        job: job.clone(),
                        slots: slots.clone(),
                    })?;
                    self.put_from(job, slots, 0)
                }
            },
            RunState::Put {
                job,
                mut slots,
                index,
                mut put,
            } => {
                match relay(&mut *put, event, inputs) {
                    Ok(mut action) => {
                        if let Action::Upload { head, .. } = &mut action {
                            let slot = &slots[index].slot;
                            self.selector.set(slot);
                            head.extensions_mut().insert(UploadSlot(slot.clone()));
                        }
                        self.state = RunState::Put {
                            job,
                            slots,
                            index,
                            put,
                        };
                        return Ok(Some(action));
                    }
                    // A resumed job deleted meanwhile: created anew.
                    Err(Err(failure)) if self.gone(&failure) => {
                        tracing::info!(%job, "the saved job is gone: creating it anew");
                        RunState::Start
                    }
                    // A refused or failed upload ends the run: no finalize.
                    Err(Err(failure)) => return Err(failure),
                    Err(Ok(_receipt)) => {
                        slots[index].uploaded = true;
                        let stage = if slots.iter().all(|s| s.uploaded) {
                            JobStage::Uploaded { job: job.clone() }
                        } else {
                            JobStage::Created {
                                job: job.clone(),
                                slots: slots.clone(),
                            }
                        };
                        self.save_stage(&stage)?;
                        self.put_from(job, slots, index + 1)
                    }
                }
            }
            RunState::Finalize { job, mut call } => match relay(&mut call, event, inputs) {
                Ok(action) => {
                    self.state = RunState::Finalize { job, call };
                    return Ok(Some(action));
                }
                Err(Ok(update)) => {
                    tracing::debug!(%job, status = %update.status, "finalized");
                    match self.finalized(job)? {
                        Ok(next) => next,
                        Err(end) => return Ok(Some(Action::Finish(Ok(end)))),
                    }
                }
                // The answer was lost or unreadable, or the server says
                // the job's status does not allow it: whether the finalize
                // happened is read from the job, never guessed.
                Err(Err(failure)) if self.gone(&failure) => {
                    tracing::info!(%job, "the saved job is gone: creating it anew");
                    RunState::Start
                }
                Err(Err(failure)) if finalize_unsure(&failure) => {
                    tracing::warn!(%job, "the finalize was not answered ({failure}): reading the job before sending it again");
                    match self.resend_delay(&failure, inputs) {
                        Some(delay) => {
                            self.state = self.check(job, Some(failure), true);
                            return Ok(Some(Action::Sleep(delay)));
                        }
                        None => self.check(job, Some(failure), false),
                    }
                }
                Err(Err(failure)) => return Err(failure),
            },
            RunState::Check {
                job,
                mut call,
                after,
                resend,
            } => match relay(&mut call, event, inputs) {
                Ok(action) => {
                    self.state = RunState::Check {
                        job,
                        call,
                        after,
                        resend,
                    };
                    return Ok(Some(action));
                }
                Err(result) => {
                    let read = match result {
                        Err(failure) if after.is_none() && self.gone(&failure) => {
                            tracing::info!(%job, "the saved job is gone: creating it anew");
                            self.state = RunState::Start;
                            return Ok(None);
                        }
                        read => read?,
                    };
                    if read.status.is_final() {
                        // Done already (or cancelled meanwhile): nothing to wait for.
                        self.save_stage(&JobStage::Finalized { job: job.clone() })?;
                        return Ok(Some(Action::Finish(Ok(JobStarted::Final(Box::new(read))))));
                    }
                    if !read.status.awaits_finalize() {
                        match self.finalized(job)? {
                            Ok(next) => next,
                            Err(end) => return Ok(Some(Action::Finish(Ok(end)))),
                        }
                    } else {
                        match after {
                            // Not to be sent again (a refusal for the job's
                            // state would be refused again; the policy's
                            // attempts are spent): the failure stands.
                            Some(f) if !resend => return Err(f),
                            _ => self.finalize(job),
                        }
                    }
                }
            },
            RunState::Wait(mut wait) => {
                let action = match wait.step(event, inputs).relay() {
                    Ok(action) => action,
                    Err(result) => {
                        Action::Finish(result.map(|job| JobStarted::Final(Box::new(job))))
                    }
                };
                self.state = RunState::Wait(wait);
                return Ok(Some(action));
            }
        };
        self.state = next;
        Ok(None)
    }
}

/// Whether a finalize's failure leaves it unknown whether the job was
/// finalized: the answer was lost (a transport failure), a 5xx, a
/// refusal for the job's status (it may be finalized already), or a 2xx
/// whose body cannot be read (the server took it: the job is read, not
/// given up as failed while it runs and is charged).
fn finalize_unsure(failure: &Error) -> bool {
    match failure {
        Error::Transport { .. } => true,
        Error::Proto(ProtocolError::JobState(_)) => true,
        Error::Proto(e) => e
            .status()
            .is_some_and(|s| s.is_server_error() || s.is_success()),
        _ => false,
    }
}

impl RunJob {
    /// Steps the run until it has an action for the driver.
    fn run(&mut self, mut event: Event, inputs: Inputs) -> Action<JobStarted> {
        loop {
            match self.advance(event, inputs) {
                Ok(None) => event = Event::Ready,
                Ok(Some(action)) => {
                    if matches!(action, Action::Finish(_)) {
                        self.state = RunState::Done;
                    }
                    return action;
                }
                Err(failure) => {
                    self.state = RunState::Done;
                    return Action::Finish(Err(failure));
                }
            }
        }
    }
}

impl Flow for RunJob {
    type Output = Job;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Job> {
        match self.run(event, inputs).relay() {
            Ok(action) => action,
            Err(result) => Action::Finish(result.map(|started| match started {
                JobStarted::Final(job) => *job,
                JobStarted::Finalized { .. } => {
                    unreachable!("a run that waits never ends at its finalize")
                }
            })),
        }
    }
}

impl StartJob {
    /// The slot being uploaded, for a source that switches by it.
    pub fn slot_selector(&self) -> SlotSelector {
        self.0.slot_selector()
    }
}

impl Flow for StartJob {
    type Output = JobStarted;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<JobStarted> {
        self.0.run(event, inputs)
    }
}

/// Every job (only those in a status, when given), a page at a time: each
/// run finishes with the next page's jobs not listed before, or `None`
/// when there are no more. A failed page is reported once and ends the
/// listing.
#[derive(Debug)]
pub struct JobPages {
    cursor: JobCursor,
    config: Config,
    retry: RetryPolicy,
    page: Option<Call<ListJobs>>,
}

impl JobPages {
    /// Pages of `limit` jobs (1 to 100), only those in `status` when given.
    pub fn new(
        limit: u32,
        status: Option<JobStatus>,
        config: Config,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        Ok(JobPages {
            cursor: JobCursor::new(limit, status).map_err(ValidationError::from)?,
            config,
            retry,
            page: None,
        })
    }
}

impl Flow for JobPages {
    type Output = Option<Vec<Job>>;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Option<Vec<Job>>> {
        if self.page.is_none() {
            let Some(query) = self.cursor.next_query() else {
                return Action::Finish(Ok(None));
            };
            match ListJobs::new(query) {
                Ok(op) => self.page = Some(Call::new(op, self.config.clone(), self.retry)),
                Err(e) => {
                    self.cursor.stop();
                    return Action::Finish(Err(e.into()));
                }
            }
        }
        let page = self.page.as_mut().expect("a page is being read");
        let result = match relay(page, event, inputs) {
            Ok(action) => return action,
            Err(result) => result,
        };
        self.page = None;
        let page = match result {
            Ok(page) => page,
            Err(e) => {
                self.cursor.stop();
                return Action::Finish(Err(e));
            }
        };
        match self.cursor.fresh(page) {
            Ok(jobs) => Action::Finish(Ok(Some(jobs))),
            Err(e) => Action::Finish(Err(ProtocolError::Decode(Box::new(DecodeError {
                status: http::StatusCode::OK,
                operation: Some(authenta_types::Operation::ListJobs),
                reason: e.to_string(),
                snippet: String::new(),
                mid: None,
            }))
            .into())),
        }
    }
}

/// How far back from the saved time a left-over job's `createdAt` may be
/// (the server's clock is not ours).
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// How many list pages (of 100 jobs) a sweep reads per status.
pub const SWEEP_PAGES: u32 = 3;

/// Whether `job` is what a create of `request` for task type `task`, sent
/// at `after` or later, may have left: a job still waiting for its
/// finalize (never processed, never charged), of that task type, created
/// after `after` less [`CLOCK_SKEW`], whose inputs are the request's (slot,
/// file name, size, content type). A job whose list item does not show
/// its inputs is never taken for one.
pub fn is_left_over(job: &Job, request: &CreateJobRequest, task: u32, after: Timestamp) -> bool {
    let since = after.checked_sub(CLOCK_SKEW).unwrap_or(after);
    job.status.awaits_finalize()
        && job.task_type_id.is_none_or(|id| id == task)
        && job.created_at.is_none_or(|at| at >= since)
        && job.inputs.len() == request.inputs.len()
        && request.inputs.iter().all(|input| {
            job.slot(&input.slot_name).is_some_and(|slot| {
                slot.file_name.as_deref() == Some(input.file_name.as_str())
                    && slot.size_bytes == Some(input.size_bytes)
                    && slot
                        .content_type
                        .as_deref()
                        .is_none_or(|t| t.eq_ignore_ascii_case(&input.content_type))
            })
        })
}

/// What a [`SweepJobs`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// The left-over jobs it deleted.
    pub deleted: Vec<JobId>,
    /// Whether it read every page it meant to and every delete succeeded
    /// (a sweep is best effort: what it leaves is never processed nor
    /// charged).
    pub complete: bool,
}

/// Finds and deletes what an interrupted create may have left
/// ([`is_left_over`]): lists the jobs `waiting_for_finalize`, then those
/// `created` (at most [`SWEEP_PAGES`] pages each, by the list's `status`
/// filter), and deletes each match. Best effort: a failed page or delete
/// is logged and the sweep goes on ([`Swept::complete`] says so).
#[derive(Debug)]
pub struct SweepJobs {
    task: u32,
    request: CreateJobRequest,
    after: Timestamp,
    config: Config,
    retry: RetryPolicy,
    statuses: Vec<JobStatus>,
    pages: Option<(JobPages, u32)>,
    found: Vec<JobId>,
    delete: Option<Call<DeleteJob>>,
    swept: Swept,
}

impl SweepJobs {
    /// The sweep for a create of `request` for `task` sent at `after`.
    pub fn new(
        task: TaskType,
        request: CreateJobRequest,
        after: Timestamp,
        config: Config,
        retry: RetryPolicy,
    ) -> Self {
        SweepJobs {
            task: task.id().unwrap_or_default(),
            request,
            after,
            config,
            retry,
            // Popped from the end: `waiting_for_finalize` first.
            statuses: vec![JobStatus::Created, JobStatus::WaitingForFinalize],
            pages: None,
            found: Vec::new(),
            delete: None,
            swept: Swept {
                deleted: Vec::new(),
                complete: true,
            },
        }
    }
}

impl Flow for SweepJobs {
    type Output = Swept;

    fn step(&mut self, mut event: Event, inputs: Inputs) -> Action<Swept> {
        loop {
            if let Some(delete) = &mut self.delete {
                match relay(delete, event, inputs) {
                    Ok(action) => return action,
                    Err(result) => {
                        let job = self.found.remove(0);
                        match result {
                            Ok(()) => {
                                tracing::info!(%job, "deleted a job an interrupted create left");
                                self.swept.deleted.push(job);
                            }
                            Err(e) => {
                                tracing::warn!(%job, "a left-over job was not deleted ({e})");
                                self.swept.complete = false;
                            }
                        }
                        self.delete = None;
                        event = Event::Ready;
                    }
                }
            }
            // Deleted once a status's pages are read: deleting while
            // listing would move later jobs onto pages already read.
            if self.pages.is_none()
                && let Some(job) = self.found.first()
            {
                self.delete = Some(Call::new(
                    DeleteJob::new(job.clone()),
                    self.config.clone(),
                    self.retry,
                ));
                continue;
            }
            if self
                .pages
                .as_ref()
                .is_some_and(|(_, read)| *read >= SWEEP_PAGES)
            {
                self.pages = None;
                continue;
            }
            let (pages, read) = match &mut self.pages {
                Some(pages) => pages,
                None => {
                    let Some(status) = self.statuses.pop() else {
                        return Action::Finish(Ok(std::mem::take(&mut self.swept)));
                    };
                    match JobPages::new(
                        authenta_types::JOB_LIST_LIMIT_MAX,
                        Some(status),
                        self.config.clone(),
                        self.retry,
                    ) {
                        Ok(pages) => self.pages.insert((pages, 0)),
                        Err(e) => return Action::Finish(Err(e)),
                    }
                }
            };
            match relay(pages, event, inputs) {
                Ok(action) => return action,
                Err(Ok(Some(jobs))) => {
                    *read += 1;
                    self.found.extend(
                        jobs.iter()
                            .filter(|job| is_left_over(job, &self.request, self.task, self.after))
                            .map(|job| job.id.clone()),
                    );
                }
                Err(Ok(None)) => self.pages = None,
                Err(Err(e)) => {
                    tracing::warn!("cannot list jobs to find a left-over one ({e})");
                    self.swept.complete = false;
                    self.pages = None;
                }
            }
            event = Event::Ready;
        }
    }
}
