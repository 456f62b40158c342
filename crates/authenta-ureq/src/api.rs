//! [`Client`]: the blocking Authenta client, a struct with its own methods
//! over `authenta-client`'s generic client (reachable with
//! [`Client::generic`] for driving flows directly).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use authenta_client::proto::engine::BatchStop;
use authenta_client::proto::engine::flows::{Observer, Uploaded};
use authenta_client::proto::{
    CallOptions, Config, Credentials, PollPolicy, ProgressFn, QuotaUsage, RetryPolicy,
    UploadOptions, UploadReceipt, UploadTarget,
};
use authenta_client::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, ResultDocument,
};
use authenta_client::{Blocking, media_id};

use authenta_client::proto::{JobOptions, jobs::JobFile};
use authenta_client::types::{
    Artifact, CreatedJob, Job, JobId, JobList, JobListQuery, JobParameters, JobStatus,
    JobStatusUpdate, SlotName, TaskType,
};

use crate::{ClientBuilder, Result, StdRuntime, UreqTransport};

/// The generic client this crate's [`Client`] is made of:
/// `authenta_client::Client` over [`UreqTransport`] and [`StdRuntime`].
/// Its run, call and *_flow methods drive `authenta-proto`'s flows
/// directly.
pub type GenericClient = authenta_client::Client<Blocking<UreqTransport, StdRuntime>>;

/// A blocking Authenta client: every operation of the API, plus the
/// uploads, waits and downloads around them. What is validated, retried,
/// polled and paged is decided by `authenta-proto`, exactly as in the
/// async `authenta-reqwest`, whose `Client` has the same methods.
///
/// Cloning is cheap (the connection pool is shared); a client is `Send`
/// and `Sync`. Its `Debug` shows the base URL, the key's id, the policies
/// and the transport, never the secret. Make one with [`Client::builder`]
/// or [`Client::from_env`].
///
/// Methods that take a record id accept what you have: `&str`, `String`,
/// `&MediaId` or `MediaId`; a text that cannot be an id fails before any
/// request.
#[derive(Clone)]
pub struct Client {
    inner: GenericClient,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Client {
    /// The builder: credentials, base URL, user agent, timeouts, retry and
    /// poll policies, or your own `ureq::Agent`.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment (`AUTHENTA_API_KEY`, or
    /// `AUTHENTA_CLIENT_ID` and `AUTHENTA_CLIENT_SECRET`; optionally
    /// `AUTHENTA_BASE_URL`), with the default timeouts and policies.
    pub fn from_env() -> Result<Client> {
        ClientBuilder::default().build()
    }

    /// This client with `options` in place of its own settings (a request
    /// timeout, a retry policy, a poll policy) for the calls made through
    /// the result. It shares this client's connections, key and quota
    /// counts; cheap to make for one call.
    pub fn with_options(&self, options: &CallOptions) -> Client {
        Client::from_generic(self.inner.with_options(options))
    }

    /// The configuration: base URL, credentials, user agent.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }

    /// The quota this client's requests spent so far, by class.
    pub fn usage(&self) -> QuotaUsage {
        self.inner.usage()
    }

    /// The key's credentials: those requests are built with (`build` read
    /// the provider's). Sends nothing; the async backend's twin reads a
    /// provider not read yet.
    pub fn read_credentials(&self) -> Result<Credentials> {
        self.inner.read_credentials()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        self.inner.retry_policy()
    }

    /// The poll policy of [`wait`](Client::wait).
    pub fn poll_policy(&self) -> &PollPolicy {
        self.inner.poll_policy()
    }

    /// This crate's client over a generic client you built yourself
    /// (over your own transport settings, say).
    pub fn from_generic(inner: GenericClient) -> Client {
        Client { inner }
    }

    /// The generic client underneath, to drive `authenta-proto`'s flows
    /// yourself (with its run, call, upload_flow and wait_flow methods).
    pub fn generic(&self) -> &GenericClient {
        &self.inner
    }

    /// `POST /media`: creates a record and returns it with its upload
    /// URL. The request is checked first (name, size, content type,
    /// model), and never sent again once it may have reached the server.
    ///
    /// Spends one mutation of the key's quota per answered attempt; the
    /// account's credits are checked (`U007` when too low), not spent.
    pub fn create(&self, request: CreateMediaRequest) -> Result<CreatedMedia> {
        self.inner.create(request)
    }

    /// `GET /media/{mid}`.
    ///
    /// Spends one query per answered attempt; no credits.
    pub fn get(&self, mid: impl AsRef<str>) -> Result<Media> {
        self.inner.get(&media_id(mid)?)
    }

    /// `GET /media`: one page of records.
    ///
    /// Spends one query per answered attempt; no credits.
    pub fn list(&self, query: ListQuery) -> Result<MediaList> {
        self.inner.list(query)
    }

    /// Every record, fetched lazily in pages of 100 as the iterator
    /// advances, each record once. A page that fails is yielded as an
    /// error and ends the iteration.
    ///
    /// Spends one query per page read.
    pub fn list_all(&self) -> impl Iterator<Item = Result<Media>> + '_ {
        self.inner.list_all()
    }

    /// `DELETE /media/{mid}`. A retried delete that finds the record gone
    /// has succeeded.
    ///
    /// Spends one mutation per answered attempt; no credits.
    pub fn delete(&self, mid: impl AsRef<str>) -> Result<()> {
        self.inner.delete(&media_id(mid)?)
    }

    /// Uploads a file: checks it (readable, its bytes a media type the API
    /// takes, whole, the model) before anything is sent, creates its
    /// record, and streams the file to the upload URL with its exact
    /// length; retried from the file's start when the policy allows. Keep
    /// [`Uploaded::target`] to retry a failed upload later with
    /// [`upload_to`](Client::upload_to).
    ///
    /// Spends what [`create`](Client::create) does; the upload to S3
    /// spends no quota. A file refused by the checks spends nothing.
    pub fn upload(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Uploaded> {
        self.inner.upload(path, options)
    }

    /// Uploads `size` bytes read from `reader` (which must hold exactly
    /// that many). [`UploadOptions::name`] is required and the content
    /// type is given or implied by the name's extension. A reader can be
    /// read once, so this upload is never retried. (The async client's
    /// twin is `upload_stream`.)
    pub fn upload_reader(
        &self,
        reader: impl std::io::Read + Send,
        size: u64,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        self.inner.upload_reader(reader, size, options)
    }

    /// Uploads a file to an existing upload target (one saved from
    /// [`Uploaded::target`], say). The file must be the target's size; an
    /// expired target is refused before a byte is sent.
    ///
    /// Spends no quota and no credits (the request goes to S3).
    pub fn upload_to(
        &self,
        target: &UploadTarget,
        path: impl AsRef<Path>,
        progress: Option<ProgressFn>,
    ) -> Result<UploadReceipt> {
        self.inner.upload_to(target, path, progress)
    }

    /// Polls the record on the client's poll policy until its status is
    /// final (`PROCESSED`, `FAILED` or `ERROR`) and returns it. A timeout
    /// states the last status, the time waited and the polls.
    ///
    /// Spends one query per poll; no credits.
    pub fn wait(&self, mid: impl AsRef<str>) -> Result<Media> {
        self.inner.wait(&media_id(mid)?)
    }

    /// Like [`wait`](Client::wait), on another poll policy.
    pub fn wait_with(&self, mid: impl AsRef<str>, policy: PollPolicy) -> Result<Media> {
        self.inner.wait_with(&media_id(mid)?, policy)
    }

    /// Like [`wait_with`](Client::wait_with), showing each polled record
    /// to `observe` (to draw its status, say).
    pub fn wait_observed(
        &self,
        mid: impl AsRef<str>,
        policy: PollPolicy,
        observe: impl Fn(&Media) + Send + Sync + 'static,
    ) -> Result<Media> {
        self.inner.wait_observed(&media_id(mid)?, policy, observe)
    }

    /// The whole job for one file: [`upload`](Client::upload), then
    /// [`wait`](Client::wait).
    ///
    /// Spends one mutation (the create; credits checked) and one query per
    /// poll.
    pub fn process(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Media> {
        self.inner.process(path, options)
    }

    /// Like [`process`](Client::process), showing each polled record to
    /// `observe`.
    pub fn process_observed(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
        observe: Option<Observer>,
    ) -> Result<Media> {
        self.inner.process_observed(path, options, observe)
    }

    /// Processes many files on `concurrency` threads (at least one), each
    /// taking the next file and running [`process`](Client::process) on
    /// it, and yields each file's outcome as it finishes. Once a file
    /// fails in a way every file would (credentials, permission, quota,
    /// credits), no further file is started: each is yielded with
    /// `ProtocolError::Stopped`.
    ///
    /// The blocking equivalent of the async client's `process_many`: each
    /// file waits for its own record (one query per poll), where the async
    /// batch waits for all its records together (about one list page per
    /// round). Dropping the iterator stops the threads after the files
    /// they are processing.
    pub fn process_many(
        &self,
        paths: impl IntoIterator<Item = PathBuf, IntoIter: Send + 'static>,
        options: &UploadOptions,
        concurrency: usize,
    ) -> std::sync::mpsc::IntoIter<(PathBuf, Result<Media>)> {
        let (sender, outcomes) = std::sync::mpsc::channel();
        let paths = Arc::new(Mutex::new(paths.into_iter()));
        let stop = Arc::new(Mutex::new(BatchStop::default()));
        for _ in 0..concurrency.max(1) {
            let (client, options) = (self.clone(), options.clone());
            let (paths, stop, sender) = (paths.clone(), stop.clone(), sender.clone());
            std::thread::spawn(move || {
                loop {
                    let next = paths.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(path) = next else { break };
                    let result = match BatchStop::check(&stop) {
                        Some(refused) => Err(refused),
                        None => client.process(&path, &options),
                    };
                    BatchStop::record(&stop, &result);
                    if sender.send((path, result)).is_err() {
                        break;
                    }
                }
            });
        }
        outcomes.into_iter()
    }

    /// Reads a processed record's `resultURL` document (no credentials are
    /// sent with it); `None` when the record has none.
    ///
    /// Spends no quota and no credits (the document is read from S3).
    pub fn result(&self, media: &Media) -> Result<Option<ResultDocument>> {
        self.inner.result(media)
    }

    /// Downloads a processed record's heatmap image to `path`, streamed:
    /// the bytes written, or `None` when the record has no heatmap. The
    /// file is written as `<path>.part` and renamed when complete, so a
    /// failed download leaves no partial file.
    ///
    /// Spends no quota and no credits (the image is read from S3).
    pub fn download_heatmap(&self, media: &Media, path: impl AsRef<Path>) -> Result<Option<u64>> {
        self.inner.download_heatmap(media, path)
    }

    /// Downloads any artifact URL of a record (a participant's heatmap,
    /// say) to `path`, as [`download_heatmap`](Client::download_heatmap)
    /// does: the bytes written.
    ///
    /// Spends no quota and no credits.
    pub fn download(
        &self,
        url: &str,
        mid: Option<&MediaId>,
        path: impl AsRef<Path>,
    ) -> Result<u64> {
        self.inner.download(url, mid, path)
    }

    /// Runs a job: checks each slot's file against the task type before
    /// anything is spent, creates the job, streams every slot to its upload
    /// URL, finalizes only once every upload was answered 2xx (a finalize
    /// whose answer was lost is never resent without reading the job), and
    /// waits until it is `completed`, `failed` or `cancelled` (returned,
    /// not errors), bounded by the task type's time limit unless
    /// [`JobOptions::bounded`]. `files` pairs each slot with its file:
    /// `&[(SlotName::Original, "clip.mp4")]`.
    ///
    /// Spends one mutation (the create), one per finalize (and the job's
    /// credits), one query per poll.
    pub fn run_job<P: AsRef<Path> + Sync>(
        &self,
        task: TaskType,
        files: &[(SlotName, P)],
        options: &JobOptions,
    ) -> Result<Job> {
        self.inner.run_job(task, files, options)
    }

    /// Runs a job as [`run_job`](Client::run_job) does, each slot read from
    /// a `Read + Seek` (a file, a `Cursor` over bytes) named `name`: read
    /// again from its start for each attempt.
    pub fn run_job_readers<S: std::io::Read + std::io::Seek + Send>(
        &self,
        task: TaskType,
        readers: Vec<(SlotName, String, S)>,
        options: &JobOptions,
    ) -> Result<Job> {
        self.inner.run_job_readers(task, readers, options)
    }

    /// `POST /v1/jobs`: creates a job for `files` (one per slot, checked
    /// against the task type) with each slot's upload URL; upload each with
    /// [`upload_to`](Client::upload_to), then
    /// [`finalize_job`](Client::finalize_job).
    ///
    /// Spends one mutation; no credits (finalize spends them).
    pub fn create_job(
        &self,
        task: TaskType,
        files: &[JobFile],
        parameters: Option<JobParameters>,
    ) -> Result<CreatedJob> {
        self.inner.create_job(task, files, parameters)
    }

    /// `POST /v1/jobs/{jobId}/finalize`: queues a job whose slots are all
    /// uploaded; a job finalized already is a `ProtocolError::JobState`.
    ///
    /// Spends one mutation and the job's credits.
    pub fn finalize_job(&self, job: impl AsRef<str>) -> Result<JobStatusUpdate> {
        self.inner.finalize_job(job)
    }

    /// `GET /v1/jobs/{jobId}`: the job, its result once completed.
    ///
    /// Spends one query per answered attempt; no credits.
    pub fn get_job(&self, job: impl AsRef<str>) -> Result<Job> {
        self.inner.get_job(job)
    }

    /// `GET /v1/jobs`: one page of jobs (`page`, `limit`, `status`).
    ///
    /// Spends one query per answered attempt; no credits.
    pub fn list_jobs(&self, query: JobListQuery) -> Result<JobList> {
        self.inner.list_jobs(query)
    }

    /// Every job (only those in `status`, when given), fetched lazily in
    /// pages of 100, each job once; a page that fails is yielded as an
    /// error and ends the listing.
    ///
    /// Spends one query per page read.
    pub fn list_all_jobs(
        &self,
        status: Option<JobStatus>,
    ) -> impl Iterator<Item = Result<Job>> + '_ {
        self.inner.list_all_jobs(status)
    }

    /// `POST /v1/jobs/{jobId}/cancel`: cancels a job not yet processing; a
    /// job processing or final is a `ProtocolError::JobState` naming its
    /// status.
    ///
    /// Spends one mutation; no credits.
    pub fn cancel_job(&self, job: impl AsRef<str>) -> Result<JobStatusUpdate> {
        self.inner.cancel_job(job)
    }

    /// `DELETE /v1/jobs/{jobId}`: deletes a job and its media (refused
    /// while it is processing); a retried delete that finds it gone has
    /// succeeded.
    ///
    /// Spends one mutation; no credits.
    pub fn delete_job(&self, job: impl AsRef<str>) -> Result<()> {
        self.inner.delete_job(job)
    }

    /// Polls a job until it is `completed`, `failed` or `cancelled`,
    /// bounded by its task type's time limit (read from the first poll).
    ///
    /// Spends one query per poll; no credits.
    pub fn wait_job(&self, job: impl AsRef<str>) -> Result<Job> {
        self.inner.wait_job(job)
    }

    /// Like [`wait_job`](Client::wait_job), with `options`' bound and
    /// observer.
    pub fn wait_job_with(&self, job: impl AsRef<str>, options: &JobOptions) -> Result<Job> {
        self.inner.wait_job_with(job, options)
    }

    /// Waits for many finalized jobs at once with the lists of active jobs
    /// (one `GET` per job only once it left them), each bounded by its task
    /// type's time limit unless `options` bounds it: each job's final job,
    /// or why waiting for it failed.
    ///
    /// Spends about one query per round, plus one per finished job.
    pub fn wait_jobs(
        &self,
        jobs: &[(JobId, Option<TaskType>)],
        options: &JobOptions,
    ) -> Result<Vec<(JobId, Result<Job>)>> {
        self.inner.wait_jobs(jobs, options)
    }

    /// Downloads one of a job's artifacts to `path`, streamed (written as
    /// `<path>.part`, renamed when whole): the bytes written, or `None`
    /// when it has no URL.
    ///
    /// Spends no quota and no credits.
    pub fn download_artifact(
        &self,
        artifact: &Artifact,
        path: impl AsRef<Path>,
    ) -> Result<Option<u64>> {
        self.inner.download_artifact(artifact, path)
    }
}
