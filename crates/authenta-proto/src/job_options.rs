//! What a caller chooses for one job: above the job flows
//! ([`crate::engine::jobs`]), whose checkpoint, observer and stage types
//! it holds, so `options` (which the flows read) imports nothing of
//! `engine`.

use std::fmt;
use std::sync::Arc;

use crate::engine::jobs::{JobCheckpoint, JobCheckpointFn, JobObserver};
use crate::engine::resume::JobResume;
use crate::options::ProgressFn;

/// The choices for one job ([`RunJob`](crate::engine::jobs::RunJob), and
/// a job wait): the task's parameters, a bound on the wait in place of the
/// task type's time limit, a progress callback (each slot's upload),
/// checkpoints to resume from, an observer of each polled job, and a saved
/// stage to resume.
///
/// ```
/// use std::time::Duration;
/// use authenta_proto::JobOptions;
/// use authenta_proto::types::JobParameters;
///
/// let options = JobOptions::new()
///     .parameters(JobParameters::v1())
///     .bounded(Duration::from_secs(900))
///     .on_progress(|sent, total| eprintln!("{sent}/{total}"));
/// assert_eq!(options.limit, Some(Duration::from_secs(900)));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct JobOptions {
    /// The task's parameters (`None`: the API's defaults).
    pub parameters: Option<authenta_types::JobParameters>,
    /// The wait's bound, instead of the task type's time limit.
    pub limit: Option<std::time::Duration>,
    /// Called as each slot's bytes go out: (sent, that slot's total).
    pub progress: Option<ProgressFn>,
    /// Called at each [`JobCheckpoint`]
    /// of the run, before the request that depends on it.
    pub checkpoint: Option<JobCheckpointFn>,
    /// Shown each polled job.
    pub observer: Option<JobObserver>,
    /// Where the job starts: [`JobResume::New`], or what a journal saved
    /// ([`JobResume`] says what each costs).
    pub resume: JobResume,
}

impl JobOptions {
    /// The defaults: the API's parameters, the task type's time limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// The task's parameters.
    pub fn parameters(mut self, parameters: authenta_types::JobParameters) -> Self {
        self.parameters = Some(parameters);
        self
    }

    /// Bounds the wait at `limit` instead of the task type's time limit.
    pub fn bounded(mut self, limit: std::time::Duration) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Calls `progress(sent, total)` as each slot's bytes go out.
    pub fn on_progress(mut self, progress: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Calls `checkpoint` at each
    /// [`JobCheckpoint`], before the
    /// request that depends on it; an error it returns stops the run (a
    /// [`LocalIo::Checkpoint`](crate::LocalIo::Checkpoint) failure).
    pub fn on_checkpoint(
        mut self,
        checkpoint: impl Fn(JobCheckpoint<'_>) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.checkpoint = Some(Arc::new(checkpoint));
        self
    }

    /// Shows each polled job to `observer`.
    pub fn on_poll(
        mut self,
        observer: impl Fn(&authenta_types::Job) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Starts from `resume` (a [`JobStage`](crate::engine::jobs::JobStage)
    /// saved from a checkpoint, an interrupted create, a final job) instead
    /// of creating a job.
    pub fn resume(mut self, resume: impl Into<JobResume>) -> Self {
        self.resume = resume.into();
        self
    }
}

impl fmt::Debug for JobOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobOptions")
            .field("parameters", &self.parameters)
            .field("limit", &self.limit)
            .field("progress", &self.progress.is_some())
            .field("checkpoint", &self.checkpoint.is_some())
            .field("observer", &self.observer.is_some())
            .field("resume", &self.resume)
            .finish()
    }
}
