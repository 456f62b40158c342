//! [`Client`]: the async Authenta client, a struct with its own methods
//! over `authenta-client`'s generic client (reachable with
//! [`Client::generic`] for driving flows directly).

use std::fmt;
use std::path::{Path, PathBuf};

use authenta_client::proto::engine::flows::{Observer, Uploaded};
use authenta_client::proto::{
    CallOptions, Config, Credentials, PollPolicy, ProgressFn, QuotaUsage, RetryPolicy,
    UploadOptions, UploadReceipt, UploadTarget,
};
use authenta_client::types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, ResultDocument,
};
use authenta_client::{
    Async, BatchEvent, BatchItem, BatchSettings, ByteStream, JobBatchItem, MediaStream, media_id,
};
use futures_util::Stream;

use authenta_client::proto::{JobOptions, jobs::JobFile};
use authenta_client::types::{
    Artifact, CreatedJob, Job, JobId, JobList, JobListQuery, JobParameters, JobStatus,
    JobStatusUpdate, SlotName, TaskType,
};

use crate::{ClientBuilder, ReqwestTransport, Result, TokioRuntime};

/// The generic client this crate's [`Client`] is made of:
/// `authenta_client::Client` over [`ReqwestTransport`] and [`TokioRuntime`].
/// Its run, call and *_flow methods drive `authenta-proto`'s flows
/// directly.
pub type GenericClient = authenta_client::Client<Async<ReqwestTransport, TokioRuntime>>;

/// An async Authenta client: every operation of the API, uploads streamed
/// from disk, waiting for the verdict, and the verdict's artifacts. What is
/// validated, retried, polled and paged is decided by `authenta-proto`,
/// exactly as in the blocking `authenta-ureq`, whose `Client` has the same
/// methods.
///
/// Cloning is cheap (clones share one connection pool); a client is `Send`
/// and `Sync`, and so are its futures. Its `Debug` shows the base URL, the key's id, the policies
/// and the transport, never the secret. Make one with [`Client::builder`]
/// or [`Client::from_env`].
///
/// Methods that take a record id accept what you have: `&str`, `String`,
/// `&MediaId` or `MediaId`; a text that cannot be an id fails before any
/// request.
///
/// The same against a local emulator (`authenta-emulator`), as the tests
/// do:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use authenta_emulator::{Emulator, KeySpec};
/// use authenta_reqwest::{Client, Credentials, MediaStatus, ModelType, PollPolicy, UploadOptions};
///
/// let emulator = Emulator::builder().processing_time(Duration::from_millis(20)).start().await?;
/// let key = emulator.create_key(KeySpec::new("docs"))?;
/// let client = Client::builder()
///     .credentials(Credentials::api_key(key.api_key))
///     .base_url(emulator.base_url())
///     .poll_policy(PollPolicy::fixed(Duration::from_millis(20), Duration::from_secs(10)))
///     .build()?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("pixel.png");
/// std::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82")?;
/// let media = client.process(&path, &UploadOptions::new(ModelType::Ac1)).await?;
/// assert_eq!(media.status, MediaStatus::Processed);
/// # Ok(())
/// # }
/// ```
///
/// # Cancellation
///
/// Every future may be dropped at any await (a `tokio::time::timeout`, a
/// `select!`, a task aborted); what it leaves behind:
///
/// - **Reads** (`get`, `list`, `wait`, `result`, …) leave nothing; a
///   dropped `delete` or `create` may still have been carried out.
/// - **Downloads** leave no `.part` file: it is removed with its sink (at
///   once, or when the write in flight on the blocking pool ends); the
///   file at `path` is untouched, or whole if the drop came as the
///   finished file was being moved into place.
/// - **`upload`, `process` and their kin** leave at most one record per
///   call, which the [`UploadOptions::on_checkpoint`] callback heard of
///   first: `Creating` (its name) before the create is sent, `Created`
///   (its mid and upload target) before a byte of the upload. The record
///   stays `INITED` unless its bytes arrived; resume it with
///   [`upload_to`](Client::upload_to), or delete it. A call dropped after
///   the upload completed leaves the record processing as usual: `wait`
///   for the mid `Created` named.
/// - **`process_many` and `process_batch`**: dropping the stream drops
///   every file in flight, each leaving what `process` does.
///
/// `crates/authenta-reqwest/tests/cancel.rs` drops calls at every stage
/// and checks exactly this.
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
    /// poll policies, or your own `reqwest::Client`.
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

    /// The key's credentials: those requests are built with, or, before
    /// the first call, what the provider (a secret command, file or
    /// variable, given or a profile's) gives, read on tokio's blocking
    /// pool: `build` does not read it. Its failure is the one every call
    /// would meet. Sends nothing.
    pub async fn read_credentials(&self) -> Result<Credentials> {
        self.inner.read_credentials().await
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
    pub async fn create(&self, request: CreateMediaRequest) -> Result<CreatedMedia> {
        self.inner.create(request).await
    }

    /// `GET /media/{mid}`.
    ///
    /// Spends one query per answered attempt; no credits.
    pub async fn get(&self, mid: impl AsRef<str>) -> Result<Media> {
        self.inner.get(&media_id(mid)?).await
    }

    /// `GET /media`: one page of records.
    ///
    /// Spends one query per answered attempt; no credits.
    pub async fn list(&self, query: ListQuery) -> Result<MediaList> {
        self.inner.list(query).await
    }

    /// Every record, fetched lazily in pages of 100 as the stream is
    /// polled, each record once. A page that fails is yielded as an error
    /// and ends the stream.
    ///
    /// Spends one query per page read.
    pub fn list_all(&self) -> MediaStream<'_> {
        self.inner.list_all()
    }

    /// `DELETE /media/{mid}`. A retried delete that finds the record gone
    /// has succeeded.
    ///
    /// Spends one mutation per answered attempt; no credits.
    pub async fn delete(&self, mid: impl AsRef<str>) -> Result<()> {
        self.inner.delete(&media_id(mid)?).await
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
    ///
    /// Dropped, it leaves at most one record, `INITED` unless its bytes
    /// arrived, which the checkpoint callback heard of first (see
    /// [Cancellation](Client#cancellation)).
    pub async fn upload(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        self.inner.upload(path, options).await
    }

    /// Uploads `size` bytes pulled from `stream` (which must yield exactly
    /// that many). [`UploadOptions::name`] is required and the content type
    /// is given or implied by the name's extension. A stream can be read
    /// once, so this upload is never retried. (The blocking client's twin
    /// is `upload_reader`.) Dropped, it leaves what
    /// [`upload`](Client::upload) does.
    pub async fn upload_stream(
        &self,
        stream: ByteStream,
        size: u64,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        self.inner.upload_stream(stream, size, options).await
    }

    /// Uploads a file to an existing upload target (one saved from
    /// [`Uploaded::target`], say). The file must be the target's size; an
    /// expired target is refused before a byte is sent.
    ///
    /// Spends no quota and no credits (the request goes to S3).
    pub async fn upload_to(
        &self,
        target: &UploadTarget,
        path: impl AsRef<Path>,
        progress: Option<ProgressFn>,
    ) -> Result<UploadReceipt> {
        self.inner.upload_to(target, path, progress).await
    }

    /// Polls the record on the client's poll policy until its status is
    /// final (`PROCESSED`, `FAILED` or `ERROR`) and returns it. A timeout
    /// states the last status, the time waited and the polls.
    ///
    /// Spends one query per poll; no credits.
    pub async fn wait(&self, mid: impl AsRef<str>) -> Result<Media> {
        self.inner.wait(&media_id(mid)?).await
    }

    /// Like [`wait`](Client::wait), on another poll policy.
    pub async fn wait_with(&self, mid: impl AsRef<str>, policy: PollPolicy) -> Result<Media> {
        self.inner.wait_with(&media_id(mid)?, policy).await
    }

    /// Like [`wait_with`](Client::wait_with), showing each polled record
    /// to `observe` (to draw its status, say).
    pub async fn wait_observed(
        &self,
        mid: impl AsRef<str>,
        policy: PollPolicy,
        observe: impl Fn(&Media) + Send + Sync + 'static,
    ) -> Result<Media> {
        self.inner
            .wait_observed(&media_id(mid)?, policy, observe)
            .await
    }

    /// The whole job for one file: [`upload`](Client::upload), then
    /// [`wait`](Client::wait).
    ///
    /// Spends one mutation (the create; credits checked) and one query per
    /// poll.
    ///
    /// Dropped, it leaves at most one record, `INITED` unless its bytes
    /// arrived, which the checkpoint callback heard of first (see
    /// [Cancellation](Client#cancellation)).
    pub async fn process(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Media> {
        self.inner.process(path, options).await
    }

    /// Like [`process`](Client::process), showing each polled record to
    /// `observe`.
    pub async fn process_observed(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
        observe: Option<Observer>,
    ) -> Result<Media> {
        self.inner.process_observed(path, options, observe).await
    }

    /// Processes many files, uploading at most `concurrency` at a time (at
    /// least one), and yields each file's outcome as soon as it is known,
    /// in the order they finish. Every uploaded record waits in one shared
    /// batch waiter ([`process_batch`](Client::process_batch)), so the
    /// batch spends about one query per file. Once a file fails in a way
    /// every file would (credentials, permission, quota, credits), no
    /// further file is started: each is yielded with
    /// `ProtocolError::Stopped`. Dropping the stream leaves, for each file
    /// in flight, what a dropped [`process`](Client::process) does.
    pub fn process_many(
        &self,
        paths: impl IntoIterator<Item = PathBuf, IntoIter: Send + 'static>,
        options: &UploadOptions,
        concurrency: usize,
    ) -> impl Stream<Item = (PathBuf, Result<Media>)> + Send + '_ {
        self.inner.process_many(paths, options, concurrency)
    }

    /// The batch pipeline: starts each item (from its `Resume`: a new file
    /// is checked, created and uploaded with its options) at most
    /// `settings`' concurrency at a time, and waits for every uploaded
    /// record in one shared waiter; yields each file's upload and end as
    /// they happen. An `Interrupt` in the settings winds it down.
    pub fn process_batch<'a, K, I>(
        &'a self,
        items: I,
        settings: BatchSettings,
    ) -> impl Stream<Item = BatchEvent<K>> + Send + 'a
    where
        K: Clone + Send + 'a,
        I: IntoIterator<Item = BatchItem<K>>,
        I::IntoIter: Send + 'a,
    {
        self.inner.process_batch(items, settings)
    }

    /// [`process_batch`](Client::process_batch) with items that come from
    /// a stream: while the stream has no item ready (its caller is still
    /// preparing one, such as hashing a file), the items already started
    /// go on.
    pub fn process_batch_stream<'a, K, I>(
        &'a self,
        items: I,
        settings: BatchSettings,
    ) -> impl Stream<Item = BatchEvent<K>> + Send + 'a
    where
        K: Clone + Send + 'a,
        I: Stream<Item = BatchItem<K>> + Send + 'a,
    {
        self.inner.process_batch_stream(items, settings)
    }

    /// The batch pipeline of jobs: runs each item's job (from its
    /// `JobOptions::resume`: a final job costs nothing, a finalized one is
    /// only waited for) until it is finalized, at most `settings`'
    /// concurrency at a time, and waits for every finalized job in one
    /// shared waiter that reads the lists of active jobs (`status=queued`,
    /// `status=processing`) instead of one `GET` per job; yields each
    /// job's finalize (`BatchEvent::Uploaded`) and end as they happen. The
    /// stop rule and an `Interrupt` apply as in
    /// [`process_batch`](Client::process_batch).
    pub fn process_jobs<'a, K, I>(
        &'a self,
        items: I,
        settings: BatchSettings,
    ) -> impl Stream<Item = BatchEvent<K, JobId, Job>> + Send + 'a
    where
        K: Clone + Send + 'a,
        I: IntoIterator<Item = JobBatchItem<K>>,
        I::IntoIter: Send + 'a,
    {
        self.inner.process_jobs(items, settings)
    }

    /// [`process_jobs`](Client::process_jobs) with items that come from a
    /// stream: while the stream has no item ready (its caller is still
    /// preparing one, such as hashing a file), the jobs already started go
    /// on.
    pub fn process_jobs_stream<'a, K, I>(
        &'a self,
        items: I,
        settings: BatchSettings,
    ) -> impl Stream<Item = BatchEvent<K, JobId, Job>> + Send + 'a
    where
        K: Clone + Send + 'a,
        I: Stream<Item = JobBatchItem<K>> + Send + 'a,
    {
        self.inner.process_jobs_stream(items, settings)
    }

    /// Reads a processed record's `resultURL` document (no credentials are
    /// sent with it); `None` when the record has none.
    ///
    /// Spends no quota and no credits (the document is read from S3).
    pub async fn result(&self, media: &Media) -> Result<Option<ResultDocument>> {
        self.inner.result(media).await
    }

    /// Downloads a processed record's heatmap image to `path`, streamed:
    /// the bytes written, or `None` when the record has no heatmap. The
    /// file is written as `<path>.part` and renamed when complete, so a
    /// failed download leaves no partial file.
    ///
    /// Dropping the future leaves no partial file either: the `.part` is
    /// removed with its sink (at once, or when the write in flight on the
    /// blocking pool ends).
    ///
    /// Spends no quota and no credits (the image is read from S3).
    pub async fn download_heatmap(
        &self,
        media: &Media,
        path: impl AsRef<Path>,
    ) -> Result<Option<u64>> {
        self.inner.download_heatmap(media, path).await
    }

    /// Downloads any artifact URL of a record (a participant's heatmap,
    /// say) to `path`, as [`download_heatmap`](Client::download_heatmap)
    /// does: the bytes written.
    ///
    /// Spends no quota and no credits.
    pub async fn download(
        &self,
        url: &str,
        mid: Option<&MediaId>,
        path: impl AsRef<Path>,
    ) -> Result<u64> {
        self.inner.download(url, mid, path).await
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
    pub async fn run_job<P: AsRef<Path> + Sync>(
        &self,
        task: TaskType,
        files: &[(SlotName, P)],
        options: &JobOptions,
    ) -> Result<Job> {
        self.inner.run_job(task, files, options).await
    }

    /// `POST /v1/jobs`: creates a job for `files` (one per slot, checked
    /// against the task type) with each slot's upload URL; upload each with
    /// [`upload_to`](Client::upload_to), then
    /// [`finalize_job`](Client::finalize_job).
    ///
    /// Spends one mutation; no credits (finalize spends them).
    pub async fn create_job(
        &self,
        task: TaskType,
        files: &[JobFile],
        parameters: Option<JobParameters>,
    ) -> Result<CreatedJob> {
        self.inner.create_job(task, files, parameters).await
    }

    /// `POST /v1/jobs/{jobId}/finalize`: queues a job whose slots are all
    /// uploaded; a job finalized already is a `ProtocolError::JobState`.
    ///
    /// Spends one mutation and the job's credits.
    pub async fn finalize_job(&self, job: impl AsRef<str>) -> Result<JobStatusUpdate> {
        self.inner.finalize_job(job).await
    }

    /// `GET /v1/jobs/{jobId}`: the job, its result once completed.
    ///
    /// Spends one query per answered attempt; no credits.
    pub async fn get_job(&self, job: impl AsRef<str>) -> Result<Job> {
        self.inner.get_job(job).await
    }

    /// `GET /v1/jobs`: one page of jobs (`page`, `limit`, `status`).
    ///
    /// Spends one query per answered attempt; no credits.
    pub async fn list_jobs(&self, query: JobListQuery) -> Result<JobList> {
        self.inner.list_jobs(query).await
    }

    /// Every job (only those in `status`, when given), fetched lazily in
    /// pages of 100, each job once; a page that fails is yielded as an
    /// error and ends the listing.
    ///
    /// Spends one query per page read.
    pub fn list_all_jobs(&self, status: Option<JobStatus>) -> authenta_client::JobStream<'_> {
        self.inner.list_all_jobs(status)
    }

    /// `POST /v1/jobs/{jobId}/cancel`: cancels a job not yet processing; a
    /// job processing or final is a `ProtocolError::JobState` naming its
    /// status.
    ///
    /// Spends one mutation; no credits.
    pub async fn cancel_job(&self, job: impl AsRef<str>) -> Result<JobStatusUpdate> {
        self.inner.cancel_job(job).await
    }

    /// `DELETE /v1/jobs/{jobId}`: deletes a job and its media (refused
    /// while it is processing); a retried delete that finds it gone has
    /// succeeded.
    ///
    /// Spends one mutation; no credits.
    pub async fn delete_job(&self, job: impl AsRef<str>) -> Result<()> {
        self.inner.delete_job(job).await
    }

    /// Polls a job until it is `completed`, `failed` or `cancelled`,
    /// bounded by its task type's time limit (read from the first poll).
    ///
    /// Spends one query per poll; no credits.
    pub async fn wait_job(&self, job: impl AsRef<str>) -> Result<Job> {
        self.inner.wait_job(job).await
    }

    /// Like [`wait_job`](Client::wait_job), with `options`' bound and
    /// observer.
    pub async fn wait_job_with(&self, job: impl AsRef<str>, options: &JobOptions) -> Result<Job> {
        self.inner.wait_job_with(job, options).await
    }

    /// Waits for many finalized jobs at once with the lists of active jobs
    /// (one `GET` per job only once it left them), each bounded by its task
    /// type's time limit unless `options` bounds it: each job's final job,
    /// or why waiting for it failed.
    ///
    /// Spends about one query per round, plus one per finished job.
    pub async fn wait_jobs(
        &self,
        jobs: &[(JobId, Option<TaskType>)],
        options: &JobOptions,
    ) -> Result<Vec<(JobId, Result<Job>)>> {
        self.inner.wait_jobs(jobs, options).await
    }

    /// Downloads one of a job's artifacts to `path`, streamed (written as
    /// `<path>.part`, renamed when whole): the bytes written, or `None`
    /// when it has no URL.
    ///
    /// Spends no quota and no credits.
    pub async fn download_artifact(
        &self,
        artifact: &Artifact,
        path: impl AsRef<Path>,
    ) -> Result<Option<u64>> {
        self.inner.download_artifact(artifact, path).await
    }
}
