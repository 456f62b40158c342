//! The batch pipeline of the async [`Client`]: files are uploaded a few at
//! a time, and every uploaded record joins one shared
//! [`BatchWait`](crate::proto::engine::batch::BatchWait), so upload concurrency
//! does not limit how many records are waited for together, and a batch
//! spends about one query per file. Each item can resume from where a
//! journal (the `authenta` command's ledger) saw it last ([`Resume`]), and
//! an [`Interrupt`] stops the batch after the steps in flight.
//! [`Client::process_many`] and the `authenta process` command run it.
//!
//! Jobs have the same pipeline ([`Client::process_jobs`]): each job runs
//! (from its [`JobResume`](authenta_proto::engine::resume::JobResume)) until it is finalized, `-j` at a time, and
//! every finalized job joins one [`JobBatchWait`], which reads the list of
//! active jobs (the `status` filter) instead of one `GET` per job.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use authenta_proto::engine::BatchStop;
use authenta_proto::engine::batch::BatchWait;
use authenta_proto::engine::flows::{ListPages, Observer, checkpoint_failed, save_checkpoint};
use authenta_proto::engine::job_batch::JobBatchWait;
use authenta_proto::engine::jobs::{JobObserver, JobStarted};
use authenta_proto::engine::resume::{
    AfterCreated, JobResumeStep, Resume, ResumeStep, SWEEP_PAGES, after_created, left_overs,
};
use authenta_proto::engine::{Action, Event, Flow, Inputs};
use authenta_proto::types::{Job, JobId, Media, MediaId, SlotName, TaskType, Timestamp};
use authenta_proto::{
    Error, JobOptions, PollPolicy, ProtocolError, UploadOptions, UploadTarget, error::Interrupted,
    error::LocalIo, options::Checkpoint, options::Saved,
};
use futures_core::Stream;
use futures_util::future::{Either, select};
use futures_util::stream::{Fuse, StreamExt as _};
use futures_util::task::AtomicWaker;

use crate::client::{Async, Client};
use crate::driver::nonblocking;
use crate::transport::{AsyncHttpClient, AsyncRuntime};

/// What the batch pipeline reports, file by file (`K` is the caller's key
/// for a file: its path, its index). For a batch of jobs
/// ([`Client::process_jobs`]) `I` is a [`JobId`] and `T` a [`Job`].
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one event per file, moved once: a box would be an allocation for nothing"
)]
pub enum BatchEvent<K, I = MediaId, T = Media> {
    /// The file's record is uploaded (a job: uploaded and finalized), or
    /// was before a resume, and now waits with the others.
    Uploaded(K, I),
    /// The file is over: its final record (or job), or why it failed (or
    /// was not started: [`ProtocolError::Stopped`],
    /// [`ProtocolError::Interrupted`]).
    Finished(K, Result<T, Error>),
}

/// One file of a batch of jobs: the caller's key, the task type, each
/// slot's file, and the job's options (parameters, bound, progress,
/// checkpoints, and where it starts: [`JobOptions::resume`]).
#[derive(Debug)]
pub struct JobBatchItem<K> {
    /// The caller's key for the file.
    pub key: K,
    /// The task type.
    pub task: TaskType,
    /// Each slot's file.
    pub files: Vec<(SlotName, PathBuf)>,
    /// The job's options.
    pub options: JobOptions,
}

/// One file of a batch: the caller's key, the file, its upload options
/// (model, progress, checkpoints) and where it starts.
#[derive(Debug)]
pub struct BatchItem<K> {
    /// The caller's key for the file.
    pub key: K,
    /// The file.
    pub path: PathBuf,
    /// Its upload's options.
    pub options: UploadOptions,
    /// Where it starts.
    pub resume: Resume,
}

impl<K> BatchItem<K> {
    /// A file to check, create, upload and wait for.
    pub fn new(key: K, path: PathBuf, options: UploadOptions) -> Self {
        BatchItem {
            key,
            path,
            options,
            resume: Resume::New,
        }
    }

    /// Starts it from `resume` instead.
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = resume;
        self
    }
}

/// How a batch runs: how many uploads at once, the poll schedule, who sees
/// each status read, and what can interrupt it.
#[derive(Clone)]
pub struct BatchSettings {
    concurrency: usize,
    policy: PollPolicy,
    observe: Option<Observer>,
    observe_jobs: Option<JobObserver>,
    interrupt: Interrupt,
}

impl BatchSettings {
    /// At most `concurrency` uploads at a time (at least one), records
    /// polled on `policy`.
    pub fn new(concurrency: usize, policy: PollPolicy) -> Self {
        BatchSettings {
            concurrency: concurrency.max(1),
            policy,
            observe: None,
            observe_jobs: None,
            interrupt: Interrupt::new(),
        }
    }

    /// `observe` sees every status read.
    pub fn observed(mut self, observe: Option<Observer>) -> Self {
        self.observe = observe;
        self
    }

    /// `observe` sees every job read (a batch of jobs).
    pub fn observed_jobs(mut self, observe: Option<JobObserver>) -> Self {
        self.observe_jobs = observe;
        self
    }

    /// `interrupt` stops the batch ([`Interrupt`]).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }
}

impl std::fmt::Debug for BatchSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSettings")
            .field("concurrency", &self.concurrency)
            .field("policy", &self.policy)
            .field("observe", &self.observe.is_some())
            .field("observe_jobs", &self.observe_jobs.is_some())
            .field("interrupt", &self.interrupt.is_triggered())
            .finish()
    }
}

/// Stops a batch, from anywhere (a Ctrl-C handler): once triggered, no
/// further file is started, the uploads in flight finish, the shared wait
/// ends after its current step, and every file not final is yielded with
/// [`ProtocolError::Interrupted`] (with its `mid` when it has a record). Clones
/// share the trigger; one batch at a time should watch it.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<(AtomicBool, AtomicWaker)>);

impl Interrupt {
    /// An interrupt not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers it.
    pub fn trigger(&self) {
        self.0.0.store(true, Ordering::SeqCst);
        self.0.1.wake();
    }

    /// Whether it was triggered.
    pub fn is_triggered(&self) -> bool {
        self.0.0.load(Ordering::SeqCst)
    }

    /// Completes once it is triggered.
    fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        futures_util::future::poll_fn(move |cx| {
            this.0.1.register(cx.waker());
            if this.is_triggered() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    fn refusal(mid: Option<MediaId>) -> Error {
        Error::Proto(ProtocolError::Interrupted(Interrupted { mid }))
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Interrupt")
            .field(&self.is_triggered())
            .finish()
    }
}

/// The shared wait a pipeline feeds: [`BatchWait`] (records) or
/// [`JobBatchWait`] (jobs). Each run finishes with what ended since the
/// last.
trait Waiter: Flow<Output = Vec<(Self::Id, Result<Self::Item, Error>)>> + 'static {
    /// What it waits for: a record's id, a job's.
    type Id: Clone + Eq + std::hash::Hash + Send;
    /// What it ends with.
    type Item: Send;
    /// What a joining item brings besides its id.
    type Join: Send;
    /// Waits for `id` too.
    fn join(&mut self, id: Self::Id, join: Self::Join, now: Instant);
    /// Stops waiting for everything.
    fn clear(&mut self);
    /// The record an id names, for errors.
    fn mid(id: &Self::Id) -> Option<MediaId>;
}

impl Waiter for BatchWait {
    type Id = MediaId;
    type Item = Media;
    /// Its `createdAt`, and whether to poll it at once.
    type Join = (Option<Timestamp>, bool);

    fn join(&mut self, mid: MediaId, (created_at, due): Self::Join, now: Instant) {
        match due {
            true => self.add_due(mid, created_at, now),
            false => self.add(mid, created_at, now),
        }
    }

    fn clear(&mut self) {
        BatchWait::clear(self);
    }

    fn mid(id: &MediaId) -> Option<MediaId> {
        Some(id.clone())
    }
}

impl Waiter for JobBatchWait {
    type Id = JobId;
    type Item = Job;
    /// Its task type, its bound, and whether to poll it at once.
    type Join = (TaskType, Option<Duration>, bool);

    fn join(&mut self, job: JobId, (task, limit, due): Self::Join, _now: Instant) {
        match due {
            true => self.add_due(job, Some(&task), limit),
            false => self.add(job, Some(&task), limit),
        }
    }

    fn clear(&mut self) {
        JobBatchWait::clear(self);
    }

    fn mid(_: &JobId) -> Option<MediaId> {
        None
    }
}

/// A waiter shared between the pipeline (which adds to it) and its run.
struct Shared<W>(Arc<Mutex<W>>);

impl<W> Clone for Shared<W> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<W> Shared<W> {
    fn with<R>(&self, f: impl FnOnce(&mut W) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl<W: Waiter> Flow for Shared<W> {
    type Output = W::Output;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<W::Output> {
        self.with(|waiter| waiter.step(event, inputs))
    }
}

/// How an item's start ended.
enum Started<W: Waiter> {
    /// It waits for processing.
    Waiting(W::Id, W::Join),
    /// It is final already.
    Final(Box<W::Item>),
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Starts<'a, K, W> = Pin<Box<dyn Stream<Item = (K, Result<Started<W>, Error>)> + Send + 'a>>;
type Events<K, W> = BatchEvent<K, <W as Waiter>::Id, <W as Waiter>::Item>;
/// A run of the shared wait: what ended, or `None` when interrupted.
type Run<'a, W> = Boxed<'a, Option<Result<<W as Flow>::Output, Error>>>;

/// The pipeline's state between two events.
struct Pipe<'a, K, W: Waiter> {
    starts: Fuse<Starts<'a, K, W>>,
    batch: Shared<W>,
    keys: HashMap<W::Id, K>,
    /// The shared wait's current run; `None` from it: interrupted.
    running: Option<Run<'a, W>>,
    ready: VecDeque<Events<K, W>>,
    stop: Arc<Mutex<BatchStop>>,
    interrupt: Interrupt,
}

impl<K: Clone, W: Waiter> Pipe<'_, K, W> {
    fn on_start(&mut self, key: K, result: Result<Started<W>, Error>, now: Instant) {
        match result {
            Ok(Started::Final(item)) => self.ready.push_back(BatchEvent::Finished(key, Ok(*item))),
            Ok(Started::Waiting(id, _)) if self.interrupt.is_triggered() => {
                let interrupted = Err(Interrupt::refusal(W::mid(&id)));
                self.ready.push_back(BatchEvent::Finished(key, interrupted));
            }
            Ok(Started::Waiting(id, join)) => {
                self.batch.with(|b| b.join(id.clone(), join, now));
                self.keys.insert(id.clone(), key.clone());
                self.ready.push_back(BatchEvent::Uploaded(key, id));
            }
            Err(failure) => {
                let result = Err(failure);
                BatchStop::record(&self.stop, &result);
                self.ready.push_back(BatchEvent::Finished(key, result));
            }
        }
    }

    fn on_finished(&mut self, result: Option<Result<W::Output, Error>>) {
        match result {
            Some(Ok(finished)) => {
                for (id, result) in finished {
                    if let Some(key) = self.keys.remove(&id) {
                        BatchStop::record(&self.stop, &result);
                        self.ready.push_back(BatchEvent::Finished(key, result));
                    }
                }
            }
            // Interrupted: every item waiting is yielded as such (the
            // journal holds it as uploaded or finalized; a resume waits for
            // it).
            None => {
                for (id, key) in self.keys.drain() {
                    let interrupted = Err(Interrupt::refusal(W::mid(&id)));
                    self.ready.push_back(BatchEvent::Finished(key, interrupted));
                }
                self.batch.with(W::clear);
            }
            // Only a driver's mistake ends the waiter itself: every item
            // it held fails with it.
            Some(Err(failure)) => {
                let text = failure.to_string();
                for (id, key) in self.keys.drain() {
                    let failure = Error::Io {
                        error: std::io::Error::other(text.clone()),
                        during: LocalIo::ReadingSource,
                        context: "waiting for the batch".to_owned(),
                        mid: W::mid(&id),
                    };
                    self.ready
                        .push_back(BatchEvent::Finished(key, Err(failure)));
                }
                self.batch.with(W::clear);
            }
        }
    }
}

impl<T: AsyncHttpClient + 'static, R: AsyncRuntime + 'static> Client<Async<T, R>> {
    /// The batch pipeline: starts each item (from its [`Resume`]; a new
    /// file is checked, created and uploaded with its options: model,
    /// progress, checkpoints) at most `settings`' concurrency at a time, and
    /// waits for every uploaded record in one shared waiter (about one
    /// `GET /media` page per poll for the whole batch, instead of one
    /// `GET /media/{mid}` per record). Yields each file's upload and end
    /// as they happen.
    ///
    /// Items are taken from `items` as room frees up. Once a file fails in
    /// a way every file would ([`BatchStop`]), no further file is started:
    /// each is yielded with [`ProtocolError::Stopped`]. Once the settings'
    /// [`Interrupt`] is triggered, the batch winds down ([`Interrupt`]).
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
        self.process_batch_stream(futures_util::stream::iter(items), settings)
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
        let BatchSettings {
            concurrency,
            policy,
            observe,
            interrupt,
            ..
        } = settings;
        let batch =
            BatchWait::new(self.config().clone(), *self.retry_policy(), policy).observed(observe);
        let starts = items.map(move |item| {
            let BatchItem {
                key,
                path,
                options,
                resume,
            } = item;
            (key, move || self.start(path, options, resume))
        });
        self.pipeline(starts, batch, concurrency, interrupt)
    }

    /// The batch pipeline of jobs: runs each item's job (from its
    /// [`JobOptions::resume`], which proto's
    /// [`JobResume::first_step`](authenta_proto::engine::resume::JobResume::first_step)
    /// and `RunJob::resume_from` say the cost of: a final job costs
    /// nothing, a finalized one is only waited for) until it is finalized,
    /// at most `settings`' concurrency at a time, and waits for every
    /// finalized job in one shared [`JobBatchWait`] (the lists of active
    /// jobs, `status=queued` and `status=processing`, each round, instead
    /// of one `GET /v1/jobs/{jobId}` per job), each bounded by its task
    /// type's time limit unless its options bound it. Yields each job's
    /// finalize ([`BatchEvent::Uploaded`]) and end as they happen; the
    /// stop rule and the interrupt apply as in
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
        self.process_jobs_stream(futures_util::stream::iter(items), settings)
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
        let BatchSettings {
            concurrency,
            policy,
            observe_jobs,
            interrupt,
            ..
        } = settings;
        let batch = JobBatchWait::new(policy, self.config().clone(), *self.retry_policy())
            .observed(observe_jobs);
        let starts = items.map(move |item| (item.key.clone(), move || self.start_job(item)));
        self.pipeline(starts, batch, concurrency, interrupt)
    }

    /// Runs `starts` (each item's key, and how it starts) at most
    /// `concurrency` at a time, every started item joining `waiter`; the
    /// events of both, as they happen.
    fn pipeline<'a, K, W, S, F>(
        &'a self,
        starts: impl Stream<Item = (K, S)> + Send + 'a,
        waiter: W,
        concurrency: usize,
        interrupt: Interrupt,
    ) -> impl Stream<Item = Events<K, W>> + Send + 'a
    where
        K: Clone + Send + 'a,
        W: Waiter,
        W::Output: Send,
        S: FnOnce() -> F + Send + 'a,
        F: Future<Output = Result<Started<W>, Error>> + Send + 'a,
    {
        let stop = Arc::new(Mutex::new(BatchStop::default()));
        let (start_stop, start_interrupt) = (stop.clone(), interrupt.clone());
        let starts: Starts<'a, K, W> = starts
            .map(move |(key, start)| {
                let stop = start_stop.clone();
                let interrupt = start_interrupt.clone();
                async move {
                    if interrupt.is_triggered() {
                        return (key, Err(Interrupt::refusal(None)));
                    }
                    if let Some(refused) = BatchStop::check(&stop) {
                        return (key, Err(refused));
                    }
                    (key, start().await)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .boxed();
        let pipe = Pipe {
            starts: starts.fuse(),
            batch: Shared(Arc::new(Mutex::new(waiter))),
            keys: HashMap::new(),
            running: None,
            ready: VecDeque::new(),
            stop,
            interrupt,
        };
        futures_util::stream::unfold(pipe, move |mut pipe| async move {
            loop {
                if let Some(event) = pipe.ready.pop_front() {
                    return Some((event, pipe));
                }
                if pipe.running.is_none() && !pipe.keys.is_empty() {
                    let mut flow = pipe.batch.clone();
                    let interrupted = pipe.interrupt.triggered();
                    pipe.running = Some(Box::pin(async move {
                        let mut io = nonblocking::Io::default();
                        let run = Box::pin(self.run(&mut flow, &mut io));
                        match select(run, Box::pin(interrupted)).await {
                            Either::Left((result, _)) => Some(result),
                            Either::Right(((), _)) => None,
                        }
                    }));
                }
                let done = pipe.starts.is_done();
                match (done, pipe.running.take()) {
                    (true, None) => return None,
                    (true, Some(running)) => {
                        let result = running.await;
                        pipe.on_finished(result);
                    }
                    (false, None) => {
                        if let Some((key, result)) = pipe.starts.next().await {
                            pipe.on_start(key, result, self.driver().runtime.now());
                        }
                    }
                    (false, Some(running)) => match select(pipe.starts.next(), running).await {
                        Either::Left((started, running)) => {
                            pipe.running = Some(running);
                            if let Some((key, result)) = started {
                                pipe.on_start(key, result, self.driver().runtime.now());
                            }
                        }
                        Either::Right((result, _)) => pipe.on_finished(result),
                    },
                }
            }
        })
    }

    /// Starts one job: proto's `JobResume::first_step` says whether it
    /// runs (until finalized: `RunJob::until_finalized`), is only waited
    /// for, or is final; this runs what it names.
    async fn start_job<K>(&self, item: JobBatchItem<K>) -> Result<Started<JobBatchWait>, Error> {
        let JobBatchItem {
            task,
            files,
            mut options,
            ..
        } = item;
        let limit = options.limit;
        let resume = std::mem::take(&mut options.resume);
        let resume = match resume.first_step() {
            JobResumeStep::Final(job) => return Ok(Started::Final(job)),
            JobResumeStep::Wait { job } => return Ok(Started::Waiting(job, (task, limit, true))),
            JobResumeStep::Run(resume) => resume,
        };
        options.resume = resume;
        let uploads = self.inspect_job(files.clone()).await?;
        let mut flow = self
            .job_flow(task.clone(), uploads.clone(), &options)?
            .until_finalized();
        let selector = flow.slot_selector();
        let run = self.run_slots(
            &mut flow,
            selector,
            &uploads,
            files,
            options.progress.clone(),
        );
        let started =
            tracing::Instrument::instrument(run, crate::client::operation_span("start_job", None))
                .await?;
        Ok(match started {
            JobStarted::Finalized { job, earlier } => Started::Waiting(job, (task, limit, earlier)),
            JobStarted::Final(job) => Started::Final(job),
        })
    }

    /// Starts one item from `resume`: proto's [`Resume::first_step`],
    /// [`after_created`] and [`left_overs`] decide what each costs; this
    /// runs the requests they name.
    async fn start(
        &self,
        path: PathBuf,
        options: UploadOptions,
        resume: Resume,
    ) -> Result<Started<BatchWait>, Error> {
        match resume.first_step() {
            ResumeStep::Final(media) => return Ok(Started::Final(media)),
            ResumeStep::Wait { mid, created_at } => {
                return Ok(Started::Waiting(mid, (created_at, true)));
            }
            ResumeStep::Read {
                mid,
                created_at,
                target,
            } => {
                if let Some(started) = self
                    .resume_created(&path, &options, mid, created_at, &target)
                    .await?
                {
                    return Ok(started);
                }
            }
            ResumeStep::Sweep { name, since } => self.sweep(&name, since).await,
            ResumeStep::New => {}
        }
        let uploaded = self.upload(&path, &options).await?;
        let created_at = Some(uploaded.created.media.created_at);
        Ok(Started::Waiting(
            uploaded.mid().clone(),
            (created_at, false),
        ))
    }

    /// A record created before an interruption: `None` when it must be
    /// created again.
    async fn resume_created(
        &self,
        path: &std::path::Path,
        options: &UploadOptions,
        mid: MediaId,
        created_at: Option<Timestamp>,
        target: &UploadTarget,
    ) -> Result<Option<Started<BatchWait>>, Error> {
        let read = self.get(&mid).await;
        let wall_clock = self.driver().runtime.wall_clock();
        let read_at = match after_created(read, target, wall_clock)? {
            AfterCreated::New => return Ok(None),
            AfterCreated::DeleteThenNew => {
                if let Err(e) = self.delete(&mid).await {
                    tracing::debug!(%mid, error = %e, "the stale record was not deleted");
                }
                return Ok(None);
            }
            AfterCreated::Final(media) => return Ok(Some(Started::Final(media))),
            AfterCreated::UploadThenWait { created_at } => {
                self.upload_to(target, path, options.progress.clone())
                    .await?;
                created_at
            }
            AfterCreated::Wait { created_at } => created_at,
        };
        let checkpoint = options.checkpoint.as_ref();
        if let Saved::Later(save) =
            save_checkpoint(checkpoint, Checkpoint::Uploaded { mid: &mid }, Some(&mid))?
        {
            save.await.map_err(|e| checkpoint_failed(e, Some(&mid)))?;
        }
        Ok(Some(Started::Waiting(
            mid,
            (created_at.or(Some(read_at)), false),
        )))
    }

    /// Deletes what an interrupted create may have left ([`left_overs`]).
    /// Best effort: a failure only leaves it.
    async fn sweep(&self, name: &str, since: Timestamp) {
        let Ok(mut pages) = ListPages::new(
            authenta_proto::types::LIST_LIMIT_MAX,
            self.config().clone(),
            *self.retry_policy(),
        ) else {
            return;
        };
        for _ in 0..SWEEP_PAGES {
            let page = match self.run(&mut pages, &mut nonblocking::Io::default()).await {
                Ok(Some(page)) => page,
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot list records to find a left-over one");
                    return;
                }
            };
            for mid in left_overs(&page, name, since) {
                if let Err(e) = self.delete(mid).await {
                    tracing::debug!(%mid, error = %e, "a left-over record was not deleted");
                }
            }
        }
    }
}
