//! The batch pipeline of the async [`Client`]: files are uploaded a few at
//! a time, and every uploaded record joins one shared
//! [`BatchWait`](crate::proto::engine::batch::BatchWait), so upload concurrency
//! does not limit how many records are waited for together, and a batch
//! spends about one query per file. Each item can resume from where a
//! journal (the `authenta` command's ledger) saw it last ([`Resume`]), and
//! an [`Interrupt`] stops the batch after the steps in flight.
//! [`Client::process_many`] and the `authenta process` command run it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use authenta_proto::engine::BatchStop;
use authenta_proto::engine::batch::{BatchWait, Finished, SharedBatch};
use authenta_proto::engine::flows::{ListPages, Observer, save_checkpoint};
use authenta_proto::engine::resume::{
    AfterCreated, Resume, ResumeStep, SWEEP_PAGES, after_created, left_overs,
};
use authenta_proto::types::{Media, MediaId, Timestamp};
use authenta_proto::{
    Error, PollPolicy, ProtocolError, UploadOptions, UploadTarget, error::Interrupted,
    error::LocalIo, options::Checkpoint,
};
use futures_core::Stream;
use futures_util::future::{Either, select};
use futures_util::stream::{Fuse, StreamExt as _};
use futures_util::task::AtomicWaker;

use crate::client::{Async, Client};
use crate::driver::nonblocking;
use crate::transport::{AsyncHttpClient, AsyncRuntime};

/// What the batch pipeline reports, file by file (`K` is the caller's key
/// for a file: its path, its index).
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one event per file, moved once: a box would be an allocation for nothing"
)]
pub enum BatchEvent<K> {
    /// The file's record is uploaded (or was, before a resume) and now
    /// waits with the others.
    Uploaded(K, MediaId),
    /// The file is over: its final record, or why it failed (or was not
    /// started: [`ProtocolError::Stopped`], [`ProtocolError::Interrupted`]).
    Finished(K, Result<Media, Error>),
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
            interrupt: Interrupt::new(),
        }
    }

    /// `observe` sees every status read.
    pub fn observed(mut self, observe: Option<Observer>) -> Self {
        self.observe = observe;
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

/// How an item's start ended.
enum Started {
    /// Its record waits for processing.
    Waiting {
        mid: MediaId,
        created_at: Option<Timestamp>,
        /// Poll it at once (it was uploaded some time ago).
        due: bool,
    },
    /// It is final already.
    Final(Box<Media>),
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Uploads<'a, K> = Pin<Box<dyn Stream<Item = (K, Result<Started, Error>)> + Send + 'a>>;

/// The pipeline's state between two events.
struct Pipe<'a, K> {
    uploads: Fuse<Uploads<'a, K>>,
    batch: SharedBatch,
    keys: HashMap<MediaId, K>,
    /// The shared wait's current run; `None` from it: interrupted.
    running: Option<Boxed<'a, Option<Result<Finished, Error>>>>,
    ready: VecDeque<BatchEvent<K>>,
    stop: Arc<Mutex<BatchStop>>,
    interrupt: Interrupt,
}

impl<K: Clone> Pipe<'_, K> {
    fn on_upload(&mut self, key: K, result: Result<Started, Error>, now: std::time::Instant) {
        match result {
            Ok(Started::Final(media)) => {
                self.ready.push_back(BatchEvent::Finished(key, Ok(*media)))
            }
            Ok(Started::Waiting { mid, .. }) if self.interrupt.is_triggered() => {
                let interrupted = Err(Interrupt::refusal(Some(mid)));
                self.ready.push_back(BatchEvent::Finished(key, interrupted));
            }
            Ok(Started::Waiting {
                mid,
                created_at,
                due,
            }) => {
                self.batch.with(|b| match due {
                    true => b.add_due(mid.clone(), created_at, now),
                    false => b.add(mid.clone(), created_at, now),
                });
                self.keys.insert(mid.clone(), key.clone());
                self.ready.push_back(BatchEvent::Uploaded(key, mid));
            }
            Err(failure) => {
                let result = Err(failure);
                BatchStop::record(&self.stop, &result);
                self.ready.push_back(BatchEvent::Finished(key, result));
            }
        }
    }

    fn on_finished(&mut self, result: Option<Result<Finished, Error>>) {
        match result {
            Some(Ok(finished)) => {
                for (mid, result) in finished {
                    if let Some(key) = self.keys.remove(&mid) {
                        BatchStop::record(&self.stop, &result);
                        self.ready.push_back(BatchEvent::Finished(key, result));
                    }
                }
            }
            // Interrupted: every record waiting is yielded as such (the
            // journal holds it as uploaded; a resume waits for it).
            None => {
                for (mid, key) in self.keys.drain() {
                    let interrupted = Err(Interrupt::refusal(Some(mid)));
                    self.ready.push_back(BatchEvent::Finished(key, interrupted));
                }
                self.batch.with(BatchWait::clear);
            }
            // Only a driver's mistake ends the waiter itself: every record
            // it held fails with it.
            Some(Err(failure)) => {
                let text = failure.to_string();
                for (mid, key) in self.keys.drain() {
                    let failure = Error::Io {
                        error: std::io::Error::other(text.clone()),
                        during: LocalIo::ReadingSource,
                        context: "waiting for the batch".to_owned(),
                        mid: Some(mid),
                    };
                    self.ready
                        .push_back(BatchEvent::Finished(key, Err(failure)));
                }
                self.batch.with(BatchWait::clear);
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
        let BatchSettings {
            concurrency,
            policy,
            observe,
            interrupt,
        } = settings;
        let stop = Arc::new(Mutex::new(BatchStop::default()));
        let (upload_stop, upload_interrupt) = (stop.clone(), interrupt.clone());
        let uploads: Uploads<'a, K> = futures_util::stream::iter(items)
            .map(move |item| {
                let stop = upload_stop.clone();
                let interrupt = upload_interrupt.clone();
                async move {
                    if interrupt.is_triggered() {
                        return (item.key, Err(Interrupt::refusal(None)));
                    }
                    if let Some(refused) = BatchStop::check(&stop) {
                        return (item.key, Err(refused));
                    }
                    let BatchItem {
                        key,
                        path,
                        options,
                        resume,
                    } = item;
                    (key, self.start(path, options, resume).await)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .boxed();
        let batch =
            BatchWait::new(self.config().clone(), *self.retry_policy(), policy).observed(observe);
        let pipe = Pipe {
            uploads: uploads.fuse(),
            batch: SharedBatch::new(batch),
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
                let done = pipe.uploads.is_done();
                match (done, pipe.running.take()) {
                    (true, None) => return None,
                    (true, Some(running)) => {
                        let result = running.await;
                        pipe.on_finished(result);
                    }
                    (false, None) => {
                        if let Some((key, result)) = pipe.uploads.next().await {
                            pipe.on_upload(key, result, self.driver().runtime.now());
                        }
                    }
                    (false, Some(running)) => match select(pipe.uploads.next(), running).await {
                        Either::Left((upload, running)) => {
                            pipe.running = Some(running);
                            if let Some((key, result)) = upload {
                                pipe.on_upload(key, result, self.driver().runtime.now());
                            }
                        }
                        Either::Right((result, _)) => pipe.on_finished(result),
                    },
                }
            }
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
    ) -> Result<Started, Error> {
        match resume.first_step() {
            ResumeStep::Final(media) => return Ok(Started::Final(media)),
            ResumeStep::Wait { mid, created_at } => {
                return Ok(Started::Waiting {
                    mid,
                    created_at,
                    due: true,
                });
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
        Ok(Started::Waiting {
            mid: uploaded.mid().clone(),
            created_at: Some(uploaded.created.media.created_at),
            due: false,
        })
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
    ) -> Result<Option<Started>, Error> {
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
        save_checkpoint(checkpoint, Checkpoint::Uploaded { mid: &mid }, Some(&mid))?;
        Ok(Some(Started::Waiting {
            mid,
            created_at: created_at.or(Some(read_at)),
            due: false,
        }))
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
