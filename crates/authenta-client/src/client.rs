//! [`Client`]: every operation users call, written once, for any transport
//! and runtime. A backend's own client is a struct over it:
//! `authenta_ureq::Client` holds a `Client<Blocking<UreqTransport,
//! StdRuntime>>`, `authenta_reqwest::Client` a
//! `Client<Async<ReqwestTransport, TokioRuntime>>`; a program with its own
//! HTTP client uses `Client<Blocking<MyClient, MyRuntime>>` directly.
//!
//! Each method builds a [`flow`](crate::engine::flows) and runs it with the
//! one driver loop of its mode ([`driver::blocking::run`](crate::driver::blocking::run)
//! or [`driver::nonblocking::run`](crate::driver::nonblocking::run)). The method list is
//! stated once, in a macro expanded for both modes: the blocking methods
//! return results, the async ones futures, with the same names, arguments
//! and errors.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::types::{
    Artifact, CreateMediaRequest, CreatedJob, CreatedMedia, JOB_LIST_LIMIT_MAX, Job, JobId,
    JobList, JobListQuery, JobParameters, JobStatus, JobStatusUpdate, LIST_LIMIT_MAX, ListQuery,
    Media, MediaId, MediaList, ResultDocument, SlotName, TaskType,
};

use crate::Config;
use crate::MediaFile;
use crate::PollPolicy;
use crate::RetryPolicy;
use crate::UploadReceipt;
use crate::UploadTarget;
use crate::driver::{blocking, now};
#[cfg(feature = "async")]
use crate::driver::{later, nonblocking};
use crate::engine::Flow;
use crate::engine::flows::{
    Call, Download, FetchResult, ListPages, Observer, Process, SourceInfo, Upload, UploadTo,
    Uploaded, Wait,
};
use crate::engine::job_batch::JobBatchWait;
use crate::engine::jobs::{JobPages, JobUpload, RunJob, WaitJob, artifact_download};
#[cfg(feature = "async")]
use crate::io::ByteStream;
#[cfg(feature = "async")]
use crate::io::OneShotStream;
use crate::io::{OneShot, SlotSources};
use crate::settings::ClientSettings;
#[cfg(feature = "async")]
use crate::transport::{AsyncHttpClient, AsyncRuntime};
use crate::transport::{HttpClient, Runtime};
use crate::{CancelJob, CreateJob, DeleteJob, FinalizeJob, GetJob, JobFile, ListJobs};
use crate::{CreateMedia, DeleteMedia, GetMedia, JobOptions, ListMedia};
use crate::{Error, ValidationError};
use crate::{ProgressFn, UploadOptions};

#[cfg(feature = "async")]
/// The jobs of an async client's `list_all_jobs`: a `Stream` of
/// `Result<Job, Error>` (and `Unpin`).
pub type JobStream<'a> =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<Job, Error>> + Send + 'a>>;

#[cfg(feature = "async")]
/// The records of an async client's `list_all`: a `Stream` of
/// `Result<Media, Error>` (and `Unpin`, so `try_next().await` works).
pub type MediaStream<'a> =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<Media, Error>> + Send + 'a>>;

/// The blocking mode: a blocking [`HttpClient`] and [`Runtime`].
#[derive(Clone, Debug)]
pub struct Blocking<T, R> {
    /// The HTTP client.
    pub transport: T,
    /// Clocks, sleep and randomness.
    pub runtime: R,
}

/// The async mode: an [`AsyncHttpClient`] and [`AsyncRuntime`].
#[derive(Clone, Debug)]
pub struct Async<T, R> {
    /// The HTTP client.
    pub transport: T,
    /// Clocks, sleep, randomness and files.
    pub runtime: R,
}

/// A backend, implemented by its transport: how its own client type is
/// built from a [`ClientBuilder`]'s settings, so that the builder (with its
/// setters written once, here) serves every backend.
pub trait Backend: Sized {
    /// The backend's client (`authenta_ureq::Client`, say): usually a
    /// struct over a [`Client`] of this crate.
    type Client;
    /// The backend's own HTTP client, which a user may bring
    /// ([`ClientBuilder::http_client`]) for its proxy, pool and TLS
    /// settings.
    type Http: Clone;

    /// Whether [`ClientBuilder::build`] leaves a credential provider unread
    /// ([`ClientSettings::config_unread`]): the client's first call reads
    /// it through its runtime's `unblock`. An async backend says `true`, so
    /// that building never runs a secret command on the runtime's thread;
    /// the default, `false`, reads it in `build` (a blocking client's
    /// errors then come at once).
    const READS_PROVIDER_LATER: bool = false;

    /// Builds the client for `config`, with `settings`' timeouts and
    /// policies, over the user's HTTP client if one was given.
    fn build(
        settings: &ClientSettings,
        config: Config,
        http: Option<Self::Http>,
    ) -> Result<Self::Client, Error>;
}

/// Configures a backend's client: credentials (or the environment),
/// base URL, user agent, timeouts, retry and poll policies, or the
/// backend's own HTTP client. Both backends' `ClientBuilder` are this type.
#[must_use]
pub struct ClientBuilder<T: Backend> {
    settings: ClientSettings,
    http: Option<T::Http>,
}

impl<T: Backend> Default for ClientBuilder<T> {
    fn default() -> Self {
        ClientBuilder {
            settings: ClientSettings::default(),
            http: None,
        }
    }
}

impl<T: Backend> Clone for ClientBuilder<T> {
    fn clone(&self) -> Self {
        ClientBuilder {
            settings: self.settings.clone(),
            http: self.http.clone(),
        }
    }
}

impl<T: Backend> fmt::Debug for ClientBuilder<T> {
    // The HTTP client stays out: its proxy settings or default headers may
    // hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("http_client", &self.http.is_some())
            .finish()
    }
}

impl<T: Backend> ClientBuilder<T> {
    /// The API key to use. Without it, `build` reads
    /// `AUTHENTA_CLIENT_ID`, `AUTHENTA_CLIENT_SECRET` and
    /// `AUTHENTA_BASE_URL` from the environment.
    pub fn credentials(mut self, credentials: crate::Credentials) -> Self {
        self.settings.credentials = Some(credentials);
        self
    }

    /// Where the credentials come from (a [`SecretProvider`](crate::SecretProvider)
    /// reading a file, a variable or a command, or your own): asked once by
    /// `build` (by the first call, on an async backend), again when it says
    /// they changed or after an `IAM001`.
    /// [`credentials`](ClientBuilder::credentials) wins over it.
    pub fn credentials_provider(
        mut self,
        provider: impl crate::CredentialProvider + 'static,
    ) -> Self {
        self.settings.provider = Some(crate::settings::SharedProvider(Arc::new(provider)));
        self
    }

    /// The key, base URL and secret source of a profile of the config file
    /// ([`Profile::load`](crate::Profile::load)); what
    /// [`credentials`](ClientBuilder::credentials),
    /// [`credentials_provider`](ClientBuilder::credentials_provider) and
    /// [`base_url`](ClientBuilder::base_url) give wins over it.
    #[cfg(feature = "profile")]
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.settings.profile = Some(name.into());
        self
    }

    /// The API root of another deployment (staging, on-prem, an
    /// emulator), such as `https://staging.example.com/api`. Plain
    /// `http` is accepted only for loopback hosts; checked by `build`.
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.settings.base_url = Some(url.as_ref().to_owned());
        self
    }

    /// The `User-Agent` of API requests, such as
    /// `my-app/1.2 authenta-rs/0.1`.
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.settings.user_agent = Some(user_agent.to_owned());
        self
    }

    /// How long making a connection (TCP and TLS) may take (default
    /// 10 s).
    pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long one API call or artifact download may take, answer
    /// included (default 30 s).
    pub fn request_timeout(mut self, timeout: ::std::time::Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// How long a whole upload `PUT` may take (default: no limit, since
    /// it depends on the file and the link).
    pub fn upload_timeout(mut self, timeout: ::std::time::Duration) -> Self {
        self.settings.upload_timeout = Some(timeout);
        self
    }

    /// How long an upload `PUT` may go without progress: no byte of the
    /// body accepted by the connection, or no answer once it is sent
    /// (default 60 s, [`DEFAULT_UPLOAD_STALL_TIMEOUT`](crate::DEFAULT_UPLOAD_STALL_TIMEOUT));
    /// `None` for no limit. A stalled attempt fails as a timeout and is
    /// retried like any other.
    pub fn upload_stall_timeout(mut self, timeout: Option<::std::time::Duration>) -> Self {
        self.settings.upload_stall_timeout = timeout;
        self
    }

    /// When and how often to retry (default `RetryPolicy::default()`).
    pub fn retry_policy(mut self, policy: crate::RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// How `wait` polls (default `PollPolicy::default()`).
    pub fn poll_policy(mut self, policy: crate::PollPolicy) -> Self {
        self.settings.poll = policy;
        self
    }

    /// Sends everything through your own HTTP client of the backend's
    /// kind (a `ureq::Agent`, a `reqwest::Client`): its proxy, pool and
    /// TLS settings. Redirects must stay off (the requests carry the
    /// secret): see the backend's documentation.
    pub fn http_client(mut self, http: T::Http) -> Self {
        self.http = Some(http);
        self
    }

    /// The settings collected so far.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Builds the client. Fails on invalid credentials, base URL or user
    /// agent, a missing environment variable (without
    /// [`credentials`](ClientBuilder::credentials)), or an HTTP client the
    /// backend refuses. A blocking backend reads a
    /// [`credentials_provider`](ClientBuilder::credentials_provider) (or a
    /// profile's secret) here; an async one leaves it to the first call,
    /// which reads it off the runtime's threads and fails with the same
    /// error if it cannot ([`Backend::READS_PROVIDER_LATER`]).
    pub fn build(self) -> Result<T::Client, Error> {
        let config = match T::READS_PROVIDER_LATER {
            true => self.settings.config_unread()?,
            false => self.settings.config()?,
        };
        T::build(&self.settings, config, self.http)
    }
}

struct Shared<D> {
    config: Config,
    driver: D,
    retry: RetryPolicy,
    poll: PollPolicy,
    /// A request timeout of its own ([`Client::with_options`]).
    timeout: Option<std::time::Duration>,
}

/// An Authenta client: every operation of the API, uploads streamed from
/// files or readers, waiting for the verdict, and its artifacts.
///
/// Cheap to clone (clones share one transport). Its `Debug` shows the base
/// URL, client id, policies and transport, never the secret.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use authenta_client::{Blocking, Client};
/// use authenta_client::proto::http::{Request, Response};
/// use authenta_client::proto::{Config, Credentials};
/// use authenta_client::{Runtime};
/// use authenta_client::proto::types::MediaId;
///
/// struct Std;
/// impl Runtime for Std {
///     fn now(&self) -> Instant { Instant::now() }
///     fn wall_clock(&self) -> SystemTime { SystemTime::now() }
///     fn sleep(&self, d: Duration) { std::thread::sleep(d) }
///     fn random(&self) -> u64 { 42 }
/// }
///
/// // Any closure is a client: here a fake server that knows one record.
/// let server = |req: Request<Vec<u8>>| -> Result<Response<Vec<u8>>, std::io::Error> {
///     assert_eq!(req.headers()["x-client-id"], "id");
///     Ok(Response::new(br#"{"mid":"m1","name":"a.png","type":"Image","status":"PROCESSED",
///         "modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z","fake":false}"#.to_vec()))
/// };
/// let config = Config::new(Credentials::new("id", "secret"));
/// let client = Client::new(config, Blocking { transport: server, runtime: Std });
/// let media = client.get(&MediaId::new("m1")).unwrap();
/// assert_eq!(media.fake, Some(false));
/// ```
///
/// # Cancellation (async mode)
///
/// A dropped future stops at its await: a download's sink is dropped and
/// a [`FileSink`](crate::FileSink) removes its `.part`; an upload or
/// process leaves at most one record, `INITED` unless its bytes arrived,
/// which the checkpoint callback heard of first (`Creating` before the
/// create is sent, `Created` with its mid before the upload). The
/// reqwest backend's `Client` docs spell it out per method, and its
/// `tests/cancel.rs` checks it.
pub struct Client<D> {
    shared: Arc<Shared<D>>,
}

impl<D> Clone for Client<D> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
        }
    }
}

impl<D: fmt::Debug> fmt::Debug for Client<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("Client")
            .field("base_url", &s.config.base_url())
            .field(
                "key",
                &s.config
                    .credentials()
                    .map_or_else(|| "(not read yet)".to_owned(), |c| c.label()),
            )
            .field("driver", &s.driver)
            .field("retry_policy", &s.retry)
            .field("poll_policy", &s.poll)
            .finish()
    }
}

impl<D> Client<D> {
    /// A client for `config` over `driver`, with the default retry and
    /// poll policies.
    pub fn new(config: Config, driver: D) -> Self {
        Client::with_policies(
            config,
            driver,
            RetryPolicy::default(),
            PollPolicy::default(),
        )
    }

    /// A client with its retry and poll policies. It counts the quota its
    /// own requests spend ([`usage`](Client::usage)), whatever `config`
    /// counted before.
    pub fn with_policies(config: Config, driver: D, retry: RetryPolicy, poll: PollPolicy) -> Self {
        Client {
            shared: Arc::new(Shared {
                config: config.with_own_key(),
                driver,
                retry,
                poll,
                timeout: None,
            }),
        }
    }

    /// This client with `options` in place of its own settings, for the
    /// calls made through the result: a request timeout, a retry policy, a
    /// poll policy. It shares this client's connections, key and quota
    /// counts ([`usage`](Client::usage)); cheap to make for one call.
    pub fn with_options(&self, options: &crate::CallOptions) -> Client<D>
    where
        D: Clone,
    {
        let s = &self.shared;
        Client {
            shared: Arc::new(Shared {
                config: s.config.clone(),
                driver: s.driver.clone(),
                retry: options.retry.unwrap_or(s.retry),
                poll: options.poll.unwrap_or(s.poll),
                timeout: options.timeout.or(s.timeout),
            }),
        }
    }

    /// The configuration: base URL, credentials, user agent.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The quota this client's requests spent so far, by class (see
    /// [`QuotaUsage`](crate::QuotaUsage) for what counts).
    pub fn usage(&self) -> crate::QuotaUsage {
        self.shared.config.usage()
    }

    /// The transport and runtime.
    pub fn driver(&self) -> &D {
        &self.shared.driver
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.shared.retry
    }

    /// The poll policy of [`wait`](Client::wait).
    pub fn poll_policy(&self) -> &PollPolicy {
        &self.shared.poll
    }

    /// The flow of one API operation on this client's key and retries.
    pub fn call<Op: crate::ApiRequest>(&self, op: Op) -> Call<Op> {
        Call::new(op, self.shared.config.clone(), self.shared.retry)
    }

    /// The flow that creates the record of `file` and uploads `source`.
    pub fn upload_flow(
        &self,
        file: MediaFile,
        model: crate::types::ModelType,
        source: SourceInfo,
    ) -> Upload {
        Upload::new(
            file,
            model,
            source,
            self.shared.config.clone(),
            self.shared.retry,
        )
    }

    /// The flow that runs a job of `task` over `uploads` (one per slot)
    /// with `options` (parameters, bound, checkpoints, observer, a stage to
    /// resume from), on this client's retry and poll policies. Checked
    /// here: nothing is spent on inputs the task type would refuse.
    pub fn job_flow(
        &self,
        task: TaskType,
        uploads: Vec<JobUpload>,
        options: &JobOptions,
    ) -> Result<RunJob, Error> {
        let flow = RunJob::new(
            task,
            uploads,
            options.parameters.clone(),
            self.shared.config.clone(),
            self.shared.retry,
        )?
        .poll_policy(self.shared.poll)
        .bounded(options.limit)
        .checkpointed(options.checkpoint.clone())
        .observed(options.observer.clone());
        Ok(flow.resume_from(options.resume.clone()))
    }

    /// The flow that reads every job (only those in `status`), a page of
    /// [`JOB_LIST_LIMIT_MAX`](crate::types::JOB_LIST_LIMIT_MAX) at a time.
    pub fn job_pages(&self, status: Option<JobStatus>) -> JobPages {
        JobPages::new(
            JOB_LIST_LIMIT_MAX,
            status,
            self.shared.config.clone(),
            self.shared.retry,
        )
        .expect("the largest page size is a valid page size")
    }

    /// The flow that waits for `job` (bounded by its task type's time
    /// limit, read from the first poll, unless `options` bounds it).
    pub fn wait_job_flow(&self, job: JobId, options: &JobOptions) -> WaitJob {
        WaitJob::new(
            job,
            None,
            self.shared.poll,
            self.shared.config.clone(),
            self.shared.retry,
        )
        .bounded(options.limit)
        .observed(options.observer.clone())
    }

    /// The flow that waits for `mid` on `policy`.
    pub fn wait_flow(&self, mid: &MediaId, policy: PollPolicy) -> Wait {
        Wait::new(
            mid.clone(),
            policy,
            self.shared.config.clone(),
            self.shared.retry,
        )
    }
}

/// A record id from what a caller has (`&str`, `String`, `&MediaId`,
/// `MediaId`): one that cannot be an id (empty, longer than 64
/// characters, or holding anything but ASCII letters, digits, `-` and `_`,
/// which could change the request's path) fails before any request with
/// [`ValidationError::InvalidMid`](crate::proto::ValidationError::InvalidMid).
///
/// ```
/// use authenta_client::media_id;
/// use authenta_client::types::MediaId;
///
/// let mid = MediaId::new("692f406f9f68d4b70080bb80");
/// assert_eq!(media_id("692f406f9f68d4b70080bb80").unwrap(), mid);
/// assert_eq!(media_id(&mid).unwrap(), mid);
/// assert!(media_id("../admin").is_err());
/// ```
pub fn media_id(mid: impl AsRef<str>) -> Result<MediaId, Error> {
    let text = mid.as_ref();
    MediaId::parse(text).map_err(|_| {
        let reason = match text.is_empty() {
            true => "it is empty",
            false => "a mid is at most 64 ASCII letters, digits, '-' and '_'",
        };
        ValidationError::InvalidMid {
            mid: text.to_owned(),
            reason,
        }
        .into()
    })
}

/// The methods users call, stated once and expanded for each mode:
/// `$mode` is the driver module, `$aw` says how to wait for a result.
macro_rules! methods {
    ($($async:ident)?; $mode:ident; $aw:ident) => {
        /// The key's credentials: those requests are built with, or, for a
        /// client built without reading its provider (an async backend's
        /// `build` leaves it to the first call), what the provider gives
        /// now, read through the runtime's `unblock`. Its failure is the
        /// one every call would meet. Sends nothing.
        pub $($async)? fn read_credentials(&self) -> Result<crate::Credentials, Error> {
            let mut flow = crate::engine::flows::ReadCredentials::new(self.shared.config.clone());
            $aw!(self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `POST /media`: creates a record and returns it with its upload
        /// URL. The request is checked first (name, size, content type,
        /// model), and never sent again once it may have reached the server.
        ///
        /// Spends one mutation of the key's quota per answered attempt;
        /// the account's credits are checked (`U007` when too low), not
        /// spent. A request refused by the checks spends nothing.
        pub $($async)? fn create(&self, request: CreateMediaRequest) -> Result<CreatedMedia, Error> {
            let mut flow = self.call(CreateMedia::new(request)?);
            $aw!(in operation_span("create", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `GET /media/{mid}`.
        ///
        /// Spends one query per answered attempt; no credits.
        pub $($async)? fn get(&self, mid: &MediaId) -> Result<Media, Error> {
            let mut flow = self.call(GetMedia::new(mid.clone()));
            $aw!(in operation_span("get", Some(mid)); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `GET /media`: one page of records.
        ///
        /// Spends one query per answered attempt; no credits.
        pub $($async)? fn list(&self, query: ListQuery) -> Result<MediaList, Error> {
            let mut flow = self.call(ListMedia::new(query)?);
            $aw!(in operation_span("list", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `DELETE /media/{mid}`. A retried delete that finds the record
        /// gone has succeeded.
        ///
        /// Spends one mutation per answered attempt; no credits.
        pub $($async)? fn delete(&self, mid: &MediaId) -> Result<(), Error> {
            let mut flow = self.call(DeleteMedia::new(mid.clone()));
            $aw!(in operation_span("delete", Some(mid)); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// Uploads a file: checks it (readable, its bytes a media type the
        /// API takes, whole, the model) before anything is sent, creates
        /// its record, and streams the file to the upload URL with its
        /// exact length. Memory does not grow with the file; the upload is
        /// retried (from the file's start) when the retry policy allows.
        ///
        /// Keep [`Uploaded::target`] to retry a failed upload later with
        /// [`upload_to`](Client::upload_to).
        ///
        /// Spends what [`create`](Client::create) does (one mutation,
        /// credits checked); the upload to S3 spends no quota. A file
        /// refused by the checks spends nothing.
        pub $($async)? fn upload(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Uploaded, Error> {
            let path = path.as_ref();
            let file = $aw!(self.inspect(path, options))?;
            let mut source = self.driver().runtime.file_source(path.to_owned(), file.size);
            let info = SourceInfo { len: file.size, reopenable: true, name: path.display().to_string() };
            let mut flow = self.upload_flow(file, options.model.clone(), info).checkpointed(options.checkpoint.clone());
            let mut io = crate::driver::$mode::Io { source: Some(&mut *source), sink: None, progress: options.progress.clone() };
            $aw!(in operation_span("upload", None); self.run(&mut flow, &mut io))
        }

        /// Uploads a file to an existing upload target: one saved from
        /// [`Uploaded::target`] or built with [`UploadTarget::new`] or
        /// [`UploadTarget::from_created`]. The file must be the target's
        /// size; an expired target is refused before a byte is sent.
        ///
        /// Spends no quota and no credits (the request goes to S3).
        pub $($async)? fn upload_to(&self, target: &UploadTarget, path: impl AsRef<Path>, progress: Option<ProgressFn>) -> Result<UploadReceipt, Error> {
            let path = path.as_ref();
            let len = measure(path).map_err(|e| unreadable(path, e))?;
            let mut source = self.driver().runtime.file_source(path.to_owned(), len);
            let info = SourceInfo { len, reopenable: true, name: path.display().to_string() };
            let mut flow = UploadTo::new(target.clone(), info, self.config(), *self.retry_policy());
            let mut io = crate::driver::$mode::Io { source: Some(&mut *source), sink: None, progress };
            $aw!(in operation_span("upload_to", target.mid.as_ref()); self.run(&mut flow, &mut io))
        }

        /// Polls the record on the client's poll policy until its status
        /// is final (`PROCESSED`, `FAILED` or `ERROR`) and returns it. A
        /// timeout states the last status, the time waited and the polls.
        ///
        /// Spends one query per poll (the policy sets how many: see
        /// [`PollPolicy`]); no credits.
        pub $($async)? fn wait(&self, mid: &MediaId) -> Result<Media, Error> {
            $aw!(self.wait_with(mid, *self.poll_policy()))
        }

        /// Like [`wait`](Client::wait), on another poll policy.
        pub $($async)? fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Result<Media, Error> {
            let mut flow = self.wait_flow(mid, policy);
            $aw!(in operation_span("wait", Some(mid)); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// Like [`wait_with`](Client::wait_with), showing each polled
        /// record to `observe` (to draw its status, say).
        pub $($async)? fn wait_observed(&self, mid: &MediaId, policy: PollPolicy, observe: impl Fn(&Media) + Send + Sync + 'static) -> Result<Media, Error> {
            let mut flow = self.wait_flow(mid, policy).observed(Some(Arc::new(observe)));
            $aw!(in operation_span("wait", Some(mid)); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// The whole job for one file: [`upload`](Client::upload), then
        /// [`wait`](Client::wait).
        ///
        /// Spends one mutation (the create; credits checked) and one query
        /// per poll.
        pub $($async)? fn process(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Media, Error> {
            $aw!(self.process_observed(path, options, None))
        }

        /// Like [`process`](Client::process), showing each polled record
        /// to `observe`.
        pub $($async)? fn process_observed(&self, path: impl AsRef<Path>, options: &UploadOptions, observe: Option<Observer>) -> Result<Media, Error> {
            let path = path.as_ref();
            let file = $aw!(self.inspect(path, options))?;
            let mut source = self.driver().runtime.file_source(path.to_owned(), file.size);
            let info = SourceInfo { len: file.size, reopenable: true, name: path.display().to_string() };
            let upload = self.upload_flow(file, options.model.clone(), info).checkpointed(options.checkpoint.clone());
            let mut flow = Process::new(upload, *self.poll_policy()).observed(observe);
            let mut io = crate::driver::$mode::Io { source: Some(&mut *source), sink: None, progress: options.progress.clone() };
            $aw!(in operation_span("process", None); self.run(&mut flow, &mut io))
        }

        /// Reads a processed record's `resultURL` document (no credentials
        /// are sent with it); `None` when the record has none.
        ///
        /// Spends no quota and no credits (the document is read from S3).
        pub $($async)? fn result(&self, media: &Media) -> Result<Option<ResultDocument>, Error> {
            let mut flow = FetchResult::new(media, *self.retry_policy());
            $aw!(in operation_span("result", Some(&media.mid)); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// Downloads a processed record's heatmap image (its `heatmapURL`)
        /// to `path`, streamed (no credentials are sent with it, retried as
        /// a `GET`): the bytes written, or `None` when the record has no
        /// heatmap (video records keep theirs per participant). The file is
        /// written as `<path>.part` and renamed when complete, so a failed
        /// download leaves no partial file.
        ///
        /// Spends no quota and no credits (the image is read from S3).
        pub $($async)? fn download_heatmap(&self, media: &Media, path: impl AsRef<Path>) -> Result<Option<u64>, Error> {
            let mut flow = Download::heatmap(media, *self.retry_policy());
            let mut sink = self.driver().runtime.file_sink(path.as_ref().to_owned());
            let mut io = crate::driver::$mode::Io { source: None, sink: Some(&mut *sink), progress: None };
            $aw!(in operation_span("download_heatmap", Some(&media.mid)); self.run(&mut flow, &mut io))
        }

        /// Downloads any artifact URL of a record (a participant's heatmap,
        /// say) to `path`, as [`download_heatmap`](Client::download_heatmap)
        /// does: the bytes written.
        ///
        /// Spends no quota and no credits.
        pub $($async)? fn download(&self, url: &str, mid: Option<&MediaId>, path: impl AsRef<Path>) -> Result<u64, Error> {
            let mut flow = Download::new(Some(url.to_owned()), mid.cloned(), *self.retry_policy());
            let mut sink = self.driver().runtime.file_sink(path.as_ref().to_owned());
            let mut io = crate::driver::$mode::Io { source: None, sink: Some(&mut *sink), progress: None };
            Ok($aw!(in operation_span("download", mid); self.run(&mut flow, &mut io))?.unwrap_or_default())
        }

        /// Runs a job: checks each slot's file (readable, whole, a format
        /// the task type takes in that slot, every required slot given)
        /// before anything is spent, creates the job, streams every slot's
        /// file to its upload URL with its exact length, finalizes only
        /// once every upload was answered 2xx, and waits until the job is
        /// `completed`, `failed` or `cancelled` (a `failed` or `cancelled`
        /// job is returned, not an error), bounded by the task type's time
        /// limit unless [`JobOptions::bounded`]. A finalize whose answer
        /// was lost is never sent again without reading the job first.
        ///
        /// `files` pairs each slot with its file: `&[(SlotName::Original,
        /// "clip.mp4")]`, plus `(SlotName::Reference, "face.jpg")` for
        /// face intelligence's similarity check.
        ///
        /// Spends one mutation (the create), one per finalize (the job's
        /// credits), one query per poll; the uploads spend no quota.
        pub $($async)? fn run_job<P: AsRef<Path> + Sync>(&self, task: TaskType, files: &[(SlotName, P)], options: &JobOptions) -> Result<Job, Error> {
            let files: Vec<(SlotName, std::path::PathBuf)> = files.iter().map(|(slot, path)| (slot.clone(), path.as_ref().to_owned())).collect();
            let uploads = $aw!(self.inspect_job(files.clone()))?;
            let mut flow = self.job_flow(task, uploads.clone(), options)?;
            let selector = flow.slot_selector();
            $aw!(in operation_span("run_job", None); self.run_slots(&mut flow, selector, &uploads, files, options.progress.clone()))
        }

        /// Runs `flow` (a job's run or start) with each slot's file as its
        /// source, switched by `selector`.
        pub(crate) $($async)? fn run_slots<F: Flow + ?Sized>(&self, flow: &mut F, selector: crate::engine::jobs::SlotSelector, uploads: &[JobUpload], files: Vec<(SlotName, std::path::PathBuf)>, progress: Option<ProgressFn>) -> Result<F::Output, Error> {
            let sources = uploads.iter().zip(files).map(|(upload, (slot, path))| (slot, self.driver().runtime.file_source(path, upload.source.len))).collect();
            let mut source = SlotSources::new(selector, sources);
            let mut io = crate::driver::$mode::Io { source: Some(&mut source), sink: None, progress };
            $aw!(self.run(flow, &mut io))
        }

        /// `POST /v1/jobs`: creates a job of `task` for `files` (one per
        /// slot, checked: [`JobFile`]) and returns it with each slot's
        /// upload URL. Checked against the task type first; never sent
        /// again once it may have reached the server. Upload each slot
        /// with [`upload_to`](Client::upload_to), then
        /// [`finalize_job`](Client::finalize_job); [`run_job`](Client::run_job)
        /// does all of it.
        ///
        /// Spends one mutation; no credits (finalize spends them).
        pub $($async)? fn create_job(&self, task: TaskType, files: &[JobFile], parameters: Option<JobParameters>) -> Result<CreatedJob, Error> {
            let mut flow = self.call(CreateJob::new(task, files, parameters)?);
            $aw!(in operation_span("create_job", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `POST /v1/jobs/{jobId}/finalize`: queues a job whose slots are
        /// all uploaded. A job finalized already is a
        /// [`ProtocolError::JobState`](crate::ProtocolError::JobState).
        /// `job` is a `&str`, a `String` or a [`JobId`], checked before any
        /// request.
        ///
        /// Spends one mutation and the job's credits.
        pub $($async)? fn finalize_job(&self, job: impl AsRef<str>) -> Result<JobStatusUpdate, Error> {
            let mut flow = self.call(FinalizeJob::new(checked_job(job)?));
            $aw!(in operation_span("finalize_job", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `GET /v1/jobs/{jobId}`: the job, its result once completed.
        ///
        /// Spends one query per answered attempt; no credits.
        pub $($async)? fn get_job(&self, job: impl AsRef<str>) -> Result<Job, Error> {
            let mut flow = self.call(GetJob::new(checked_job(job)?));
            $aw!(in operation_span("get_job", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `GET /v1/jobs`: one page of jobs (`page`, `limit`, `status`).
        ///
        /// Spends one query per answered attempt; no credits.
        pub $($async)? fn list_jobs(&self, query: JobListQuery) -> Result<JobList, Error> {
            let mut flow = self.call(ListJobs::new(query)?);
            $aw!(in operation_span("list_jobs", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `POST /v1/jobs/{jobId}/cancel`: cancels a job not yet
        /// processing. A job processing or final is a
        /// [`ProtocolError::JobState`](crate::ProtocolError::JobState)
        /// naming its status.
        ///
        /// Spends one mutation; no credits.
        pub $($async)? fn cancel_job(&self, job: impl AsRef<str>) -> Result<JobStatusUpdate, Error> {
            let mut flow = self.call(CancelJob::new(checked_job(job)?));
            $aw!(in operation_span("cancel_job", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// `DELETE /v1/jobs/{jobId}`: deletes a job and its media. A job
        /// processing is a [`ProtocolError::JobState`](crate::ProtocolError::JobState);
        /// a retried delete that finds the job gone has succeeded.
        ///
        /// Spends one mutation; no credits.
        pub $($async)? fn delete_job(&self, job: impl AsRef<str>) -> Result<(), Error> {
            let mut flow = self.call(DeleteJob::new(checked_job(job)?));
            $aw!(in operation_span("delete_job", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// Polls a job on the client's poll policy until it is
        /// `completed`, `failed` or `cancelled`, bounded by its task
        /// type's time limit (read from the first poll); a timeout states
        /// the last status, the time waited and the bound.
        ///
        /// Spends one query per poll; no credits.
        pub $($async)? fn wait_job(&self, job: impl AsRef<str>) -> Result<Job, Error> {
            $aw!(self.wait_job_with(job, &JobOptions::default()))
        }

        /// Like [`wait_job`](Client::wait_job), with `options`' bound and
        /// observer.
        pub $($async)? fn wait_job_with(&self, job: impl AsRef<str>, options: &JobOptions) -> Result<Job, Error> {
            let mut flow = self.wait_job_flow(checked_job(job)?, options);
            $aw!(in operation_span("wait_job", None); self.run(&mut flow, &mut crate::driver::$mode::Io::default()))
        }

        /// Waits for many finalized jobs at once, reading the lists of
        /// active jobs (`status=queued`, `status=processing`) each round and
        /// only a job that left them on its own (proto's `JobBatchWait`),
        /// instead of one `GET` per job per poll. Each job (with its task
        /// type, for its time limit) ends with its final job or why waiting
        /// failed; `options` gives a bound and an observer.
        ///
        /// Spends about one query per round while two or more wait, plus one
        /// per finished job.
        pub $($async)? fn wait_jobs(&self, jobs: &[(JobId, Option<TaskType>)], options: &JobOptions) -> Result<Vec<(JobId, Result<Job, Error>)>, Error> {
            let mut batch = JobBatchWait::new(*self.poll_policy(), self.config().clone(), *self.retry_policy()).observed(options.observer.clone());
            for (job, task) in jobs {
                crate::check_job_id(job)?;
                batch.add(job.clone(), task.as_ref(), options.limit);
            }
            let mut finished = Vec::new();
            while !batch.is_empty() {
                finished.extend($aw!(in operation_span("wait_jobs", None); self.run(&mut batch, &mut crate::driver::$mode::Io::default()))?);
            }
            Ok(finished)
        }

        /// Downloads one of a job's artifacts (its result document, a
        /// heatmap) to `path`, streamed with the download rules of
        /// [`download_heatmap`](Client::download_heatmap) (no credentials
        /// sent, retried as a `GET`, written as `<path>.part` and renamed
        /// when whole): the bytes written, or `None` when the artifact has
        /// no URL.
        ///
        /// Spends no quota and no credits.
        pub $($async)? fn download_artifact(&self, artifact: &Artifact, path: impl AsRef<Path>) -> Result<Option<u64>, Error> {
            let mut flow = artifact_download(artifact, *self.retry_policy());
            let mut sink = self.driver().runtime.file_sink(path.as_ref().to_owned());
            let mut io = crate::driver::$mode::Io { source: None, sink: Some(&mut *sink), progress: None };
            $aw!(in operation_span("download_artifact", None); self.run(&mut flow, &mut io))
        }
    };
}

/// A job id passed as text (`&str`, `String`, `&JobId`), checked before it
/// goes into a request.
fn checked_job(job: impl AsRef<str>) -> Result<JobId, Error> {
    let job = JobId::new(job.as_ref());
    crate::check_job_id(&job)?;
    Ok(job)
}

/// Each slot's file checked ([`job_upload`](crate::job_upload)).
fn inspect_job_files(files: Vec<(SlotName, std::path::PathBuf)>) -> Result<Vec<JobUpload>, Error> {
    files
        .into_iter()
        .map(|(slot, path)| Ok(crate::files::job_upload(slot, &path)?))
        .collect()
}

/// The `tracing` span of one operation a client method runs (`get`,
/// `upload`, `wait`, ...): each attempt's span is its child. Fields:
/// `authenta.operation`, and `authenta.mid` when the record is known (an
/// upload records it once created).
pub(crate) fn operation_span(name: &'static str, mid: Option<&MediaId>) -> tracing::Span {
    let span = tracing::info_span!(
        "authenta.operation",
        "otel.name" = name,
        "authenta.operation" = name,
        "authenta.mid" = tracing::field::Empty,
    );
    if let Some(mid) = mid {
        span.record("authenta.mid", mid.as_str());
    }
    span
}

/// A file's size, for an upload to an existing target.
fn measure(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(meta.len())
}

/// A file that cannot be read: the same error as failing the checks.
fn unreadable(path: &Path, e: std::io::Error) -> Error {
    Error::from(ValidationError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

impl<T: HttpClient, R: Runtime> Client<Blocking<T, R>> {
    /// Runs any flow with this client's transport and runtime: the one
    /// blocking driver loop.
    pub fn run<F: Flow + ?Sized>(
        &self,
        flow: &mut F,
        io: &mut blocking::Io<'_>,
    ) -> Result<F::Output, Error> {
        let driver = self.driver();
        match self.shared.timeout {
            Some(timeout) => {
                let mut flow = crate::engine::Timed::new(flow, timeout);
                blocking::run(&driver.transport, &driver.runtime, &mut flow, io)
            }
            None => blocking::run(&driver.transport, &driver.runtime, flow, io),
        }
    }

    fn inspect(&self, path: &Path, options: &UploadOptions) -> Result<MediaFile, Error> {
        Ok(crate::files::inspect_path(options, path)?)
    }

    fn inspect_job(
        &self,
        files: Vec<(SlotName, std::path::PathBuf)>,
    ) -> Result<Vec<JobUpload>, Error> {
        inspect_job_files(files)
    }

    methods!(; blocking; now);

    /// Runs a job as [`run_job`](Client::run_job) does, each slot's bytes
    /// read from a reader that can seek (a file, a `Cursor` over bytes):
    /// checked from its bytes first, then read again from its start for
    /// each attempt, so its upload is retried like a file's.
    pub fn run_job_readers<S: std::io::Read + std::io::Seek + Send>(
        &self,
        task: TaskType,
        readers: Vec<(SlotName, String, S)>,
        options: &JobOptions,
    ) -> Result<Job, Error> {
        let mut uploads = Vec::new();
        let mut sources: Vec<(SlotName, Box<dyn crate::UploadSource + '_>)> = Vec::new();
        for (slot, name, mut reader) in readers {
            let file = JobFile::from_reader(slot.clone(), name.clone(), &mut reader, None)?;
            let len = file.file.size;
            uploads.push(JobUpload {
                file,
                source: SourceInfo {
                    len,
                    reopenable: true,
                    name,
                },
            });
            sources.push((slot, Box::new(crate::SeekSource::new(reader, len))));
        }
        let mut flow = self.job_flow(task, uploads, options)?;
        let mut source = SlotSources::new(flow.slot_selector(), sources);
        let mut io = blocking::Io {
            source: Some(&mut source),
            sink: None,
            progress: options.progress.clone(),
        };
        let _span = operation_span("run_job", None).entered();
        self.run(&mut flow, &mut io)
    }

    /// Uploads `size` bytes read from `reader` (which must hold exactly
    /// that many). [`UploadOptions::name`] is required and the content
    /// type is given or implied by the name's extension. A reader can be
    /// read once, so this upload is never retried.
    pub fn upload_reader(
        &self,
        reader: impl std::io::Read + Send,
        size: u64,
        options: &UploadOptions,
    ) -> Result<Uploaded, Error> {
        let file = options.inspect_body(size)?;
        let mut source = OneShot::new(reader, size);
        let info = SourceInfo {
            len: size,
            reopenable: false,
            name: "the upload reader".to_owned(),
        };
        let mut flow = self
            .upload_flow(file, options.model.clone(), info)
            .checkpointed(options.checkpoint.clone());
        let mut io = blocking::Io {
            source: Some(&mut source),
            sink: None,
            progress: options.progress.clone(),
        };
        self.run(&mut flow, &mut io)
    }

    /// Every record, fetched lazily in pages of
    /// [`LIST_LIMIT_MAX`](crate::types::LIST_LIMIT_MAX) as the iterator
    /// advances, each record once. A page that fails is yielded as an
    /// error and ends the iteration.
    ///
    /// Spends one query per page read (a page holds up to 100 records).
    pub fn list_all(&self) -> impl Iterator<Item = Result<Media, Error>> + '_ {
        let pages = ListPages::new(LIST_LIMIT_MAX, self.config().clone(), *self.retry_policy())
            .expect("the largest page size is a valid page size");
        self.items(pages)
    }

    /// Every job (only those in `status`, when given), fetched lazily in
    /// pages of [`JOB_LIST_LIMIT_MAX`](crate::types::JOB_LIST_LIMIT_MAX)
    /// as the iterator advances, each job once. A page that fails is
    /// yielded as an error and ends the iteration.
    ///
    /// Spends one query per page read.
    pub fn list_all_jobs(
        &self,
        status: Option<JobStatus>,
    ) -> impl Iterator<Item = Result<Job, Error>> + '_ {
        self.items(self.job_pages(status))
    }

    /// The items of a flow that yields a page at a time.
    fn items<I, F>(&self, mut pages: F) -> impl Iterator<Item = Result<I, Error>> + '_
    where
        F: Flow<Output = Option<Vec<I>>> + 'static,
        I: 'static,
    {
        std::iter::from_fn(move || {
            self.run(&mut pages, &mut blocking::Io::default())
                .transpose()
        })
        .flat_map(|page| -> Vec<Result<I, Error>> {
            match page {
                Ok(items) => items.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            }
        })
    }
}

#[cfg(feature = "async")]
impl<T: AsyncHttpClient, R: AsyncRuntime> Client<Async<T, R>> {
    /// Runs any flow with this client's transport and runtime: the one
    /// async driver loop.
    pub async fn run<F: Flow + ?Sized>(
        &self,
        flow: &mut F,
        io: &mut nonblocking::Io<'_>,
    ) -> Result<F::Output, Error> {
        let driver = self.driver();
        match self.shared.timeout {
            Some(timeout) => {
                let mut flow = crate::engine::Timed::new(flow, timeout);
                nonblocking::run(&driver.transport, &driver.runtime, &mut flow, io).await
            }
            None => nonblocking::run(&driver.transport, &driver.runtime, flow, io).await,
        }
    }

    async fn inspect(&self, path: &Path, options: &UploadOptions) -> Result<MediaFile, Error> {
        let (path, options) = (path.to_owned(), options.clone());
        let work = Box::new(move || crate::files::inspect_path(&options, &path));
        Ok(self.driver().runtime.unblock(work).await?)
    }

    pub(crate) async fn inspect_job(
        &self,
        files: Vec<(SlotName, std::path::PathBuf)>,
    ) -> Result<Vec<JobUpload>, Error> {
        let work = Box::new(move || inspect_job_files(files));
        self.driver().runtime.unblock(work).await
    }

    methods!(async; nonblocking; later);

    /// Uploads `size` bytes pulled from `stream` (which must yield exactly
    /// that many). [`UploadOptions::name`] is required and the content type
    /// is given or implied by the name's extension. A stream can be read
    /// once, so this upload is never retried.
    pub async fn upload_stream(
        &self,
        stream: ByteStream,
        size: u64,
        options: &UploadOptions,
    ) -> Result<Uploaded, Error> {
        let file = options.inspect_body(size)?;
        let mut source = OneShotStream::new(stream, size);
        let info = SourceInfo {
            len: size,
            reopenable: false,
            name: "the upload stream".to_owned(),
        };
        let mut flow = self
            .upload_flow(file, options.model.clone(), info)
            .checkpointed(options.checkpoint.clone());
        let mut io = nonblocking::Io {
            source: Some(&mut source),
            sink: None,
            progress: options.progress.clone(),
        };
        self.run(&mut flow, &mut io).await
    }

    /// Every record, fetched lazily in pages of
    /// [`LIST_LIMIT_MAX`](crate::types::LIST_LIMIT_MAX) as the stream is
    /// polled, each record once. A page that fails is yielded as an error
    /// and ends the stream.
    ///
    /// Spends one query per page read (a page holds up to 100 records).
    pub fn list_all(&self) -> MediaStream<'_>
    where
        T: 'static,
        R: 'static,
    {
        let pages = ListPages::new(LIST_LIMIT_MAX, self.config().clone(), *self.retry_policy())
            .expect("the largest page size is a valid page size");
        self.items(pages)
    }

    /// Every job (only those in `status`, when given), fetched lazily in
    /// pages of [`JOB_LIST_LIMIT_MAX`](crate::types::JOB_LIST_LIMIT_MAX)
    /// as the stream is polled, each job once. A page that fails is
    /// yielded as an error and ends the stream.
    ///
    /// Spends one query per page read.
    pub fn list_all_jobs(&self, status: Option<JobStatus>) -> JobStream<'_>
    where
        T: 'static,
        R: 'static,
    {
        self.items(self.job_pages(status))
    }

    /// The items of a flow that yields a page at a time, as a stream.
    fn items<I, F>(
        &self,
        pages: F,
    ) -> std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<I, Error>> + Send + '_>>
    where
        T: 'static,
        R: 'static,
        I: Send + 'static,
        F: Flow<Output = Option<Vec<I>>> + 'static,
    {
        use futures_util::StreamExt as _;
        futures_util::stream::unfold(pages, move |mut pages| async move {
            let page = self
                .run(&mut pages, &mut nonblocking::Io::default())
                .await
                .transpose()?;
            Some((page, pages))
        })
        .flat_map(|page| {
            let items: Vec<Result<I, Error>> = match page {
                Ok(items) => items.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(items)
        })
        .boxed()
    }

    /// Processes many files, uploading at most `concurrency` at a time (at
    /// least one), and yields each file's outcome as soon as it is known,
    /// in the order they finish. Files are taken from `paths` as room frees
    /// up; every uploaded record waits in one shared batch waiter
    /// ([`process_batch`](Client::process_batch)), so the batch spends
    /// about one query per file.
    /// Once a file fails in a way every file would (credentials,
    /// permission, quota, credits: [`BatchStop`](crate::engine::BatchStop)),
    /// no further file is started: each is yielded with
    /// [`ProtocolError::Stopped`](crate::ProtocolError::Stopped).
    ///
    /// Spends one mutation per file (its create; credits checked) and the
    /// shared wait's queries: about one list page per round while two or
    /// more records wait, one query per poll for a record on its own.
    pub fn process_many(
        &self,
        paths: impl IntoIterator<Item = std::path::PathBuf, IntoIter: Send + 'static>,
        options: &UploadOptions,
        concurrency: usize,
    ) -> impl futures_core::Stream<Item = (std::path::PathBuf, Result<Media, Error>)> + Send + '_
    where
        T: 'static,
        R: 'static,
    {
        use futures_util::StreamExt as _;
        let items = paths.into_iter().map({
            let options = options.clone();
            move |path| crate::BatchItem::new(path.clone(), path, options.clone())
        });
        let settings = crate::BatchSettings::new(concurrency, *self.poll_policy());
        self.process_batch(items, settings)
            .filter_map(|event| async move {
                match event {
                    crate::BatchEvent::Finished(path, result) => Some((path, result)),
                    crate::BatchEvent::Uploaded(..) => None,
                }
            })
    }
}
