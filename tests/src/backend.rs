//! [`Backend`]: the operations every client offers, blocking, so a test
//! body is written once and instantiated for each: `authenta-ureq`,
//! `authenta-reqwest` (through a tokio runtime) and [`TcpClient`], proto's
//! client over the `TcpStream` HTTP client of proto's `custom_client`
//! example. The blocking clients are one `authenta_client::Client` type, so
//! one implementation serves both.

use std::path::{Path, PathBuf};
use std::time::Duration;

use authenta_client::Blocking;
use authenta_proto::engine::batch::{BatchWait, Finished};
use authenta_proto::engine::flows::Uploaded;
use authenta_proto::types::{
    Artifact, CreateMediaRequest, CreatedJob, CreatedMedia, Job, JobId, JobList, JobListQuery,
    JobStatus, JobStatusUpdate, ListQuery, Media, MediaId, MediaList, ResultDocument, SlotName,
    TaskType,
};
use authenta_proto::{
    Config, CredentialError, CredentialProvider, Credentials, Error, JobOptions, PollPolicy,
    RetryPolicy, UploadOptions, UploadReceipt, UploadTarget, jobs::JobFile,
};

#[path = "../../crates/authenta-client/examples/custom_client/std_client.rs"]
mod std_client;
pub use std_client::{StdClock, StdHttp};

type Outcome<T> = Result<T, Error>;

/// What a client is built from: where, who, and the policies.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The API base URL (an emulator's).
    pub base_url: String,
    /// The key.
    pub credentials: Credentials,
    /// Where the key comes from instead, when given (asked again after the
    /// API refuses it).
    pub provider: Option<SharedProvider>,
    /// When to retry.
    pub retry: RetryPolicy,
    /// How `wait` polls.
    pub poll: PollPolicy,
    /// How long an API call or a download may take (the backend's default
    /// when `None`). The `TcpStream` client uses the shorter of this and
    /// `upload_timeout` as its socket read and write timeout.
    pub request_timeout: Option<Duration>,
    /// How long an upload may take (the backend's default when `None`).
    pub upload_timeout: Option<Duration>,
    /// How long an upload may go without progress (the backend's default
    /// when `None`).
    pub upload_stall_timeout: Option<Duration>,
}

/// A credential provider a test shares with the clients it builds.
#[derive(Clone)]
pub struct SharedProvider(pub std::sync::Arc<dyn CredentialProvider>);

impl std::fmt::Debug for SharedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedProvider({})", self.0.describe())
    }
}

impl CredentialProvider for SharedProvider {
    fn credentials(&self) -> Result<Credentials, CredentialError> {
        self.0.credentials()
    }

    fn changed(&self) -> bool {
        self.0.changed()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

impl Settings {
    /// The `TcpStream` client's socket timeout: the shortest of the three.
    fn socket_timeout(&self) -> Option<Duration> {
        [
            self.request_timeout,
            self.upload_timeout,
            self.upload_stall_timeout,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// How a client is made from [`Settings`], and named.
pub trait Connect: Sized {
    /// The client's crate, for messages.
    const NAME: &'static str;

    /// A client built with the backend's builder.
    fn connect(settings: &Settings) -> Result<Self, Error>;
    /// The `Debug` of the backend's builder, configured from `settings`.
    fn builder_debug(settings: &Settings) -> String;
}

/// One client, blocking: the same method names, taking what every client
/// accepts (a path, bytes for the reader or stream upload).
pub trait Backend: Connect {
    /// The `Debug` of the client.
    fn client_debug(&self) -> String;
    /// The client's configuration.
    fn config(&self) -> &Config;

    /// `Client::create`.
    fn create(&self, request: CreateMediaRequest) -> Outcome<CreatedMedia>;
    /// `Client::get`.
    fn get(&self, mid: &MediaId) -> Outcome<Media>;
    /// `Client::list`.
    fn list(&self, query: ListQuery) -> Outcome<MediaList>;
    /// `Client::list_all`, drained.
    fn list_all(&self) -> Vec<Outcome<Media>>;
    /// `Client::delete`.
    fn delete(&self, mid: &MediaId) -> Outcome<()>;
    /// `Client::upload` (a path).
    fn upload(&self, path: &Path, options: &UploadOptions) -> Outcome<Uploaded>;
    /// `upload_reader` (ureq) or `upload_stream` (reqwest) of `bytes`, in
    /// several pieces.
    fn upload_reader(&self, bytes: Vec<u8>, options: &UploadOptions) -> Outcome<Uploaded>;
    /// `Client::upload_to` (a path), without progress.
    fn upload_to(&self, target: &UploadTarget, path: &Path) -> Outcome<UploadReceipt>;
    /// `Client::wait`.
    fn wait(&self, mid: &MediaId) -> Outcome<Media>;
    /// `Client::wait_with`.
    fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Outcome<Media>;
    /// `Client::process` (a path).
    fn process(&self, path: &Path, options: &UploadOptions) -> Outcome<Media>;
    /// `Client::result`.
    fn result(&self, media: &Media) -> Outcome<Option<ResultDocument>>;
    /// `Client::download_heatmap` to a file.
    fn download_heatmap(&self, media: &Media, path: &Path) -> Outcome<Option<u64>>;
    /// `Client::run` of proto's batch waiter, once (it ends when some of
    /// its records are final).
    fn wait_batch(&self, batch: &mut BatchWait) -> Outcome<Finished>;

    /// `Client::run_job` (paths per slot).
    fn run_job(
        &self,
        task: TaskType,
        files: &[(SlotName, PathBuf)],
        options: &JobOptions,
    ) -> Outcome<Job>;
    /// `Client::create_job`.
    fn create_job(&self, task: TaskType, files: &[JobFile]) -> Outcome<CreatedJob>;
    /// `Client::finalize_job`.
    fn finalize_job(&self, job: &JobId) -> Outcome<JobStatusUpdate>;
    /// `Client::get_job` (the id as `&str`).
    fn get_job(&self, job: &str) -> Outcome<Job>;
    /// `Client::list_jobs`.
    fn list_jobs(&self, query: JobListQuery) -> Outcome<JobList>;
    /// `Client::list_all_jobs`, drained.
    fn list_all_jobs(&self, status: Option<JobStatus>) -> Vec<Outcome<Job>>;
    /// `Client::cancel_job` (the id as `String`).
    fn cancel_job(&self, job: String) -> Outcome<JobStatusUpdate>;
    /// `Client::delete_job`.
    fn delete_job(&self, job: &JobId) -> Outcome<()>;
    /// `Client::wait_job_with`.
    fn wait_job_with(&self, job: &JobId, options: &JobOptions) -> Outcome<Job>;
    /// `Client::wait_job` on a copy of this client whose clock is
    /// [`FastForward`]: every sleep is skipped and added to its clock, so a
    /// wait bounded by half an hour ends in milliseconds.
    fn wait_job_fast_forward(&self, job: &JobId) -> Outcome<Job>;
    /// `Client::wait_jobs`.
    fn wait_jobs(
        &self,
        jobs: &[(JobId, Option<TaskType>)],
        options: &JobOptions,
    ) -> Outcome<Vec<(JobId, Outcome<Job>)>>;
    /// `Client::download_artifact` to a file.
    fn download_artifact(&self, artifact: &Artifact, path: &Path) -> Outcome<Option<u64>>;
}

/// The pieces a reader or stream upload is cut into: more than one, so the
/// backends join them.
const PIECES: usize = 3;

fn pieces(bytes: Vec<u8>) -> Vec<bytes::Bytes> {
    let bytes = bytes::Bytes::from(bytes);
    let size = bytes.len().div_ceil(PIECES).max(1);
    (0..bytes.len())
        .step_by(size)
        .map(|at| bytes.slice(at..(at + size).min(bytes.len())))
        .collect()
}

/// One implementation for every blocking client: authenta-ureq's `Client`
/// and the generic client have the same methods with the same arguments;
/// `$generic` reaches the generic client, to drive a flow.
macro_rules! blocking_backend {
    ($ty:ty, $generic:expr) => {
        impl Backend for $ty {
            fn client_debug(&self) -> String {
                format!("{self:?}")
            }

            fn config(&self) -> &Config {
                <$ty>::config(self)
            }

            fn create(&self, request: CreateMediaRequest) -> Outcome<CreatedMedia> {
                <$ty>::create(self, request)
            }

            fn get(&self, mid: &MediaId) -> Outcome<Media> {
                <$ty>::get(self, mid)
            }

            fn list(&self, query: ListQuery) -> Outcome<MediaList> {
                <$ty>::list(self, query)
            }

            fn list_all(&self) -> Vec<Outcome<Media>> {
                <$ty>::list_all(self).collect()
            }

            fn delete(&self, mid: &MediaId) -> Outcome<()> {
                <$ty>::delete(self, mid)
            }

            fn upload(&self, path: &Path, options: &UploadOptions) -> Outcome<Uploaded> {
                <$ty>::upload(self, path, options)
            }

            fn upload_reader(&self, bytes: Vec<u8>, options: &UploadOptions) -> Outcome<Uploaded> {
                let size = bytes.len() as u64;
                let chained = pieces(bytes).into_iter().map(std::io::Cursor::new).fold(
                    Box::new(std::io::empty()) as Box<dyn std::io::Read + Send>,
                    |r, p| Box::new(std::io::Read::chain(r, p)),
                );
                <$ty>::upload_reader(self, chained, size, options)
            }

            fn upload_to(&self, target: &UploadTarget, path: &Path) -> Outcome<UploadReceipt> {
                <$ty>::upload_to(self, target, path, None)
            }

            fn wait(&self, mid: &MediaId) -> Outcome<Media> {
                <$ty>::wait(self, mid)
            }

            fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Outcome<Media> {
                <$ty>::wait_with(self, mid, policy)
            }

            fn process(&self, path: &Path, options: &UploadOptions) -> Outcome<Media> {
                <$ty>::process(self, path, options)
            }

            fn result(&self, media: &Media) -> Outcome<Option<ResultDocument>> {
                <$ty>::result(self, media)
            }

            fn download_heatmap(&self, media: &Media, path: &Path) -> Outcome<Option<u64>> {
                <$ty>::download_heatmap(self, media, path)
            }

            fn wait_batch(&self, batch: &mut BatchWait) -> Outcome<Finished> {
                let mut io = authenta_client::driver::blocking::Io::default();
                ($generic)(self).run(batch, &mut io)
            }

            fn run_job(
                &self,
                task: TaskType,
                files: &[(SlotName, PathBuf)],
                options: &JobOptions,
            ) -> Outcome<Job> {
                <$ty>::run_job(self, task, files, options)
            }

            fn create_job(&self, task: TaskType, files: &[JobFile]) -> Outcome<CreatedJob> {
                <$ty>::create_job(self, task, files, None)
            }

            fn finalize_job(&self, job: &JobId) -> Outcome<JobStatusUpdate> {
                <$ty>::finalize_job(self, job)
            }

            fn get_job(&self, job: &str) -> Outcome<Job> {
                <$ty>::get_job(self, job)
            }

            fn list_jobs(&self, query: JobListQuery) -> Outcome<JobList> {
                <$ty>::list_jobs(self, query)
            }

            fn list_all_jobs(&self, status: Option<JobStatus>) -> Vec<Outcome<Job>> {
                <$ty>::list_all_jobs(self, status).collect()
            }

            fn cancel_job(&self, job: String) -> Outcome<JobStatusUpdate> {
                <$ty>::cancel_job(self, job)
            }

            fn delete_job(&self, job: &JobId) -> Outcome<()> {
                <$ty>::delete_job(self, job)
            }

            fn wait_job_with(&self, job: &JobId, options: &JobOptions) -> Outcome<Job> {
                <$ty>::wait_job_with(self, job, options)
            }

            fn wait_job_fast_forward(&self, job: &JobId) -> Outcome<Job> {
                let generic = ($generic)(self);
                let driver = generic.driver();
                let fast = fast_forward(
                    generic,
                    Blocking {
                        transport: driver.transport.clone(),
                        runtime: FastForward::new(driver.runtime.clone()),
                    },
                );
                fast.wait_job(job)
            }

            fn wait_jobs(
                &self,
                jobs: &[(JobId, Option<TaskType>)],
                options: &JobOptions,
            ) -> Outcome<Vec<(JobId, Outcome<Job>)>> {
                <$ty>::wait_jobs(self, jobs, options)
            }

            fn download_artifact(&self, artifact: &Artifact, path: &Path) -> Outcome<Option<u64>> {
                <$ty>::download_artifact(self, artifact, path)
            }
        }
    };
}

blocking_backend!(authenta_ureq::Client, authenta_ureq::Client::generic);
blocking_backend!(TcpClient, std::convert::identity::<&TcpClient>);

impl Connect for authenta_ureq::Client {
    const NAME: &'static str = "authenta-ureq";

    fn connect(settings: &Settings) -> Result<Self, Error> {
        ureq_builder(settings).build()
    }

    fn builder_debug(settings: &Settings) -> String {
        format!("{:?}", ureq_builder(settings))
    }
}

/// Proto's client over the `custom_client` example's `TcpStream` HTTP
/// client and std's clocks.
pub type TcpClient = authenta_client::Client<Blocking<StdHttp, StdClock>>;

impl Connect for TcpClient {
    const NAME: &'static str = "TcpStream client";

    fn connect(settings: &Settings) -> Result<Self, Error> {
        let config = match &settings.provider {
            Some(provider) => Config::from_shared_provider(provider.0.clone())?,
            None => Config::new(settings.credentials.clone()),
        }
        .with_base_url(&settings.base_url)?;
        let driver = Blocking {
            transport: settings
                .socket_timeout()
                .map_or_else(StdHttp::default, StdHttp::with_timeout),
            runtime: StdClock,
        };
        Ok(authenta_client::Client::with_policies(
            config,
            driver,
            settings.retry,
            settings.poll,
        ))
    }

    fn builder_debug(settings: &Settings) -> String {
        format!(
            "TcpClient {{ base_url: {:?}, credentials: {:?} }}",
            settings.base_url, settings.credentials
        )
    }
}

/// A backend's builder (both are proto's `ClientBuilder`), configured
/// from `settings`.
fn builder<T: authenta_client::Backend>(settings: &Settings) -> authenta_client::ClientBuilder<T> {
    let builder = authenta_client::ClientBuilder::<T>::default();
    let builder = match &settings.provider {
        Some(provider) => builder.credentials_provider(provider.clone()),
        None => builder.credentials(settings.credentials.clone()),
    };
    let builder = builder
        .base_url(&settings.base_url)
        .retry_policy(settings.retry)
        .poll_policy(settings.poll);
    let builder = match settings.request_timeout {
        Some(timeout) => builder.request_timeout(timeout),
        None => builder,
    };
    let builder = match settings.upload_stall_timeout {
        Some(timeout) => builder.upload_stall_timeout(Some(timeout)),
        None => builder,
    };
    match settings.upload_timeout {
        Some(timeout) => builder.upload_timeout(timeout),
        None => builder,
    }
}

fn ureq_builder(settings: &Settings) -> authenta_ureq::ClientBuilder {
    builder(settings)
}

fn reqwest_builder(settings: &Settings) -> authenta_reqwest::ClientBuilder {
    builder(settings)
}

/// The async client, driven to completion on its own tokio runtime (one
/// worker thread).
pub struct Reqwest {
    runtime: tokio::runtime::Runtime,
    client: authenta_reqwest::Client,
}

impl Reqwest {
    /// The async client.
    pub fn client(&self) -> &authenta_reqwest::Client {
        &self.client
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs `future` on the client's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Connect for Reqwest {
    const NAME: &'static str = "authenta-reqwest";

    fn connect(settings: &Settings) -> Result<Self, Error> {
        // One worker keeps the runtime running between calls, as in an
        // async program: the connection pool's tasks see a kept-alive
        // connection the server closed while it was idle.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = {
            let _entered = runtime.enter();
            reqwest_builder(settings).build()?
        };
        Ok(Reqwest { runtime, client })
    }

    fn builder_debug(settings: &Settings) -> String {
        format!("{:?}", reqwest_builder(settings))
    }
}

impl Backend for Reqwest {
    fn client_debug(&self) -> String {
        format!("{:?}", self.client)
    }

    fn config(&self) -> &Config {
        self.client.config()
    }

    fn create(&self, request: CreateMediaRequest) -> Outcome<CreatedMedia> {
        self.run(self.client.create(request))
    }

    fn get(&self, mid: &MediaId) -> Outcome<Media> {
        self.run(self.client.get(mid))
    }

    fn list(&self, query: ListQuery) -> Outcome<MediaList> {
        self.run(self.client.list(query))
    }

    fn list_all(&self) -> Vec<Outcome<Media>> {
        use futures_util::StreamExt as _;
        self.run(self.client.list_all().collect())
    }

    fn delete(&self, mid: &MediaId) -> Outcome<()> {
        self.run(self.client.delete(mid))
    }

    fn upload(&self, path: &Path, options: &UploadOptions) -> Outcome<Uploaded> {
        self.run(self.client.upload(path, options))
    }

    fn upload_reader(&self, bytes: Vec<u8>, options: &UploadOptions) -> Outcome<Uploaded> {
        let size = bytes.len() as u64;
        let stream = futures_util::stream::iter(pieces(bytes).into_iter().map(Ok));
        self.run(self.client.upload_stream(Box::pin(stream), size, options))
    }

    fn upload_to(&self, target: &UploadTarget, path: &Path) -> Outcome<UploadReceipt> {
        self.run(self.client.upload_to(target, path, None))
    }

    fn wait(&self, mid: &MediaId) -> Outcome<Media> {
        self.run(self.client.wait(mid))
    }

    fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Outcome<Media> {
        self.run(self.client.wait_with(mid, policy))
    }

    fn process(&self, path: &Path, options: &UploadOptions) -> Outcome<Media> {
        self.run(self.client.process(path, options))
    }

    fn result(&self, media: &Media) -> Outcome<Option<ResultDocument>> {
        self.run(self.client.result(media))
    }

    fn download_heatmap(&self, media: &Media, path: &Path) -> Outcome<Option<u64>> {
        self.run(self.client.download_heatmap(media, path))
    }

    fn wait_batch(&self, batch: &mut BatchWait) -> Outcome<Finished> {
        let mut io = authenta_client::driver::nonblocking::Io::default();
        self.run(self.client.generic().run(batch, &mut io))
    }

    fn run_job(
        &self,
        task: TaskType,
        files: &[(SlotName, PathBuf)],
        options: &JobOptions,
    ) -> Outcome<Job> {
        self.run(send(self.client.run_job(task, files, options)))
    }

    fn create_job(&self, task: TaskType, files: &[JobFile]) -> Outcome<CreatedJob> {
        self.run(send(self.client.create_job(task, files, None)))
    }

    fn finalize_job(&self, job: &JobId) -> Outcome<JobStatusUpdate> {
        self.run(send(self.client.finalize_job(job)))
    }

    fn get_job(&self, job: &str) -> Outcome<Job> {
        self.run(send(self.client.get_job(job)))
    }

    fn list_jobs(&self, query: JobListQuery) -> Outcome<JobList> {
        self.run(send(self.client.list_jobs(query)))
    }

    fn list_all_jobs(&self, status: Option<JobStatus>) -> Vec<Outcome<Job>> {
        use futures_util::StreamExt as _;
        self.run(self.client.list_all_jobs(status).collect())
    }

    fn cancel_job(&self, job: String) -> Outcome<JobStatusUpdate> {
        self.run(send(self.client.cancel_job(job)))
    }

    fn delete_job(&self, job: &JobId) -> Outcome<()> {
        self.run(send(self.client.delete_job(job)))
    }

    fn wait_job_with(&self, job: &JobId, options: &JobOptions) -> Outcome<Job> {
        self.run(send(self.client.wait_job_with(job, options)))
    }

    fn wait_job_fast_forward(&self, job: &JobId) -> Outcome<Job> {
        let generic = self.client.generic();
        let driver = generic.driver();
        let fast = fast_forward(
            generic,
            authenta_client::Async {
                transport: driver.transport.clone(),
                runtime: FastForward::new(driver.runtime),
            },
        );
        self.run(send(fast.wait_job(job)))
    }

    fn wait_jobs(
        &self,
        jobs: &[(JobId, Option<TaskType>)],
        options: &JobOptions,
    ) -> Outcome<Vec<(JobId, Outcome<Job>)>> {
        self.run(send(self.client.wait_jobs(jobs, options)))
    }

    fn download_artifact(&self, artifact: &Artifact, path: &Path) -> Outcome<Option<u64>> {
        self.run(send(self.client.download_artifact(artifact, path)))
    }
}

/// The poll policy of a [`FastForward`] wait: a poll a minute, a 20 s
/// deadline that a job's task type's limit replaces.
fn fast_forward_polls() -> PollPolicy {
    PollPolicy::fixed(Duration::from_secs(60), Duration::from_secs(20))
}

/// `client`'s configuration and retries over `driver` (whose runtime is a
/// [`FastForward`]), polling on [`fast_forward_polls`].
fn fast_forward<D, E>(
    client: &authenta_client::Client<D>,
    driver: E,
) -> authenta_client::Client<E> {
    authenta_client::Client::with_policies(
        client.config().clone(),
        driver,
        *client.retry_policy(),
        fast_forward_polls(),
    )
}

/// `future`, checked to be `Send` (an async client's futures run on any
/// executor's threads).
fn send<F: Future + Send>(future: F) -> F {
    future
}

/// A runtime whose clock never waits: each sleep is skipped and added to
/// its monotonic and wall clocks. Everything else is `R`'s.
#[derive(Clone, Debug)]
pub struct FastForward<R> {
    inner: R,
    skipped: std::sync::Arc<std::sync::Mutex<Duration>>,
}

impl<R> FastForward<R> {
    /// `inner`, its sleeps skipped.
    pub fn new(inner: R) -> Self {
        FastForward {
            inner,
            skipped: Default::default(),
        }
    }

    fn skipped(&self) -> Duration {
        *self.skipped.lock().unwrap()
    }

    fn skip(&self, duration: Duration) {
        *self.skipped.lock().unwrap() += duration;
    }
}

impl<R: authenta_client::Runtime> authenta_client::Runtime for FastForward<R> {
    fn now(&self) -> std::time::Instant {
        self.inner.now() + self.skipped()
    }

    fn wall_clock(&self) -> std::time::SystemTime {
        self.inner.wall_clock() + self.skipped()
    }

    fn sleep(&self, duration: Duration) {
        self.skip(duration);
    }

    fn random(&self) -> u64 {
        self.inner.random()
    }
}

#[authenta_client::async_trait]
impl<R: authenta_client::AsyncRuntime> authenta_client::AsyncRuntime for FastForward<R> {
    fn now(&self) -> std::time::Instant {
        self.inner.now() + self.skipped()
    }

    fn wall_clock(&self) -> std::time::SystemTime {
        self.inner.wall_clock() + self.skipped()
    }

    async fn sleep(&self, duration: Duration) {
        self.skip(duration);
    }

    fn random(&self) -> u64 {
        self.inner.random()
    }

    fn file_source(&self, path: PathBuf, len: u64) -> Box<dyn authenta_client::AsyncUploadSource> {
        self.inner.file_source(path, len)
    }

    fn file_sink(&self, path: PathBuf) -> Box<dyn authenta_client::AsyncDownloadSink> {
        self.inner.file_sink(path)
    }

    async fn unblock<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send + 'static>) -> T {
        self.inner.unblock(work).await
    }
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn bytes_are_cut_into_pieces_that_join_up() {
        let bytes: Vec<u8> = (0..10).collect();
        let cut = pieces(bytes.clone());
        assert_eq!(cut.len(), 3);
        assert_eq!(cut.concat(), bytes);
        assert_eq!(pieces(vec![7]).concat(), [7]);
    }
}
