//! [`Client`], its [`ClientBuilder`], and the [`ListAll`] iterator.

use std::fmt;
use std::io::Read;
use std::path::Path;

use authenta_proto::driver::{OneShot, blocking};
use authenta_proto::types::{
    CreateMediaRequest, CreatedMedia, LIST_LIMIT_MAX, ListQuery, Media, MediaId, MediaList,
    ResultDocument,
};
use authenta_proto::{
    ClientSettings, Config, Failure, MediaFile, PollPolicy, ProgressFn, UploadOptions,
    UploadReceipt, UploadTarget, Uploaded, ValidationError,
};

use crate::Result;
use crate::files::{FileSink, FileSource};
use crate::runtime::StdRuntime;
use crate::transport::UreqTransport;

type Driver = blocking::Driver<UreqTransport, StdRuntime>;

/// A blocking Authenta client: every operation of the API, plus the
/// uploads, waits and downloads around them.
///
/// It runs proto's blocking driver over [`UreqTransport`] and
/// [`StdRuntime`], so what is validated, retried, polled and paged is
/// decided by `authenta-proto`, exactly as in the async `authenta-reqwest`.
/// Cloning is cheap (the connection pool is shared); a client is `Send` and
/// `Sync`, so threads can share one.
///
/// Its `Debug` shows the base URL, client id, timeouts and policies, never
/// the secret.
#[derive(Clone, Debug)]
pub struct Client {
    driver: Driver,
}

impl Client {
    /// A client configured from `AUTHENTA_CLIENT_ID`,
    /// `AUTHENTA_CLIENT_SECRET` and (optionally) `AUTHENTA_BASE_URL`, with
    /// the default timeouts and policies. A missing variable is a
    /// [`ConfigError`](authenta_proto::ConfigError) naming it.
    pub fn from_env() -> Result<Client> {
        Client::builder().build()
    }

    /// A client for `config` (credentials, base URL, user agent) with the
    /// default timeouts and policies.
    ///
    /// ```
    /// use authenta_ureq::{Client, Config, Credentials};
    ///
    /// let config = Config::new(Credentials::new("my-client-id", "my-secret"))
    ///     .with_base_url("https://staging.example.com/api")?;
    /// let client = Client::new(config);
    /// assert_eq!(client.config().base_url(), "https://staging.example.com/api");
    /// # Ok::<(), authenta_ureq::proto::ConfigError>(())
    /// ```
    pub fn new(config: Config) -> Client {
        ClientBuilder::default().finish(config)
    }

    /// A builder for timeouts, policies, user agent or your own agent.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The configuration: base URL, credentials, user agent.
    pub fn config(&self) -> &Config {
        self.driver.config()
    }

    /// `POST /media`: creates a record and returns it with its upload URL.
    /// The request is validated first; it is never retried once it may
    /// have reached the server, so it cannot create a record twice.
    pub fn create(&self, request: CreateMediaRequest) -> Result<CreatedMedia> {
        self.driver.create(request)
    }

    /// `GET /media/{mid}`: one record.
    pub fn get(&self, mid: &MediaId) -> Result<Media> {
        self.driver.get(mid)
    }

    /// `GET /media`: one page of records.
    pub fn list(&self, query: ListQuery) -> Result<MediaList> {
        self.driver.list(query)
    }

    /// Every record, fetched lazily in pages of
    /// [`LIST_LIMIT_MAX`](authenta_proto::types::LIST_LIMIT_MAX), each
    /// record once. A page that fails is yielded as an error and ends the
    /// iteration.
    pub fn list_all(&self) -> ListAll<'_> {
        ListAll {
            inner: self
                .driver
                .list_all(LIST_LIMIT_MAX)
                .expect("the largest page size is a valid page size"),
        }
    }

    /// `DELETE /media/{mid}`.
    pub fn delete(&self, mid: &MediaId) -> Result<()> {
        self.driver.delete(mid)
    }

    /// Uploads a file: checks it (readable, size, content type, model)
    /// before anything is sent, creates its record, and streams the file to
    /// the upload URL with its exact length. Memory use does not grow with
    /// the file. The upload is retried (from the file's start) when the
    /// retry policy allows.
    ///
    /// Keep [`Uploaded::target`] to retry a failed upload later with
    /// [`Client::upload_to`].
    pub fn upload(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Uploaded> {
        let (file, mut source) = inspect(path.as_ref(), options)?;
        self.driver.upload(
            &file,
            options.model.clone(),
            &mut source,
            options.progress.as_deref(),
        )
    }

    /// Uploads `size` bytes read from `reader` (which must yield exactly
    /// that many). [`UploadOptions::name`] is required and the content type
    /// is given or implied by the name's extension. A reader can be read
    /// once, so this upload is never retried.
    pub fn upload_reader(
        &self,
        reader: impl Read + Send,
        size: u64,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        let file = options.inspect_body(size)?;
        let mut source = OneShot::new(reader, size);
        self.driver.upload(
            &file,
            options.model.clone(),
            &mut source,
            options.progress.as_deref(),
        )
    }

    /// Uploads a file to an existing upload target: one saved from
    /// [`Uploaded::target`] or built with
    /// [`UploadTarget::from_created`] from a saved create response. The
    /// file must be the size the record was created for; an expired target
    /// is refused before a byte is sent.
    pub fn upload_to(
        &self,
        target: &UploadTarget,
        path: impl AsRef<Path>,
        progress: Option<ProgressFn>,
    ) -> Result<UploadReceipt> {
        let mut source = open(path.as_ref()).map_err(|e| match &target.mid {
            Some(mid) => e.with_mid(mid),
            None => e,
        })?;
        self.driver
            .upload_to(target, &mut source, progress.as_deref())
    }

    /// Polls the record on the client's poll policy until its status is
    /// final (`PROCESSED`, `FAILED` or `ERROR`) and returns it. A timeout
    /// states the last status, the time waited and the polls spent.
    pub fn wait(&self, mid: &MediaId) -> Result<Media> {
        self.driver.wait(mid)
    }

    /// Like [`Client::wait`], with another poll policy.
    pub fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Result<Media> {
        self.driver.wait_with(mid, policy)
    }

    /// Like [`Client::wait_with`], showing each polled record to `observe`
    /// (to draw its status, say).
    pub fn wait_observed(
        &self,
        mid: &MediaId,
        policy: PollPolicy,
        observe: &(dyn Fn(&Media) + Send + Sync),
    ) -> Result<Media> {
        self.driver.wait_observed(mid, policy, observe)
    }

    /// Uploads a file ([`Client::upload`]) and waits for its final status
    /// ([`Client::wait`]): the whole job for one file.
    pub fn process(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Media> {
        let (file, mut source) = inspect(path.as_ref(), options)?;
        self.driver.process(
            &file,
            options.model.clone(),
            &mut source,
            options.progress.as_deref(),
        )
    }

    /// Reads a processed record's detail document (its `resultURL`), or
    /// `None` when the record has none.
    pub fn result(&self, media: &Media) -> Result<Option<ResultDocument>> {
        self.driver.result(media)
    }

    /// Streams a processed record's heatmap image (its `heatmapURL`) to a
    /// file at `path` and returns the bytes written, or `None` when the
    /// record has no heatmap (video records keep theirs per participant).
    /// The download carries no credentials and is retried as a `GET`. It
    /// goes to `<path>.part`, renamed to `path` once complete, so a failed
    /// download leaves no partial file (and an existing file untouched).
    pub fn download_heatmap(&self, media: &Media, path: impl AsRef<Path>) -> Result<Option<u64>> {
        let path = path.as_ref();
        let mut sink = FileSink::new(path);
        let written = match self.driver.download_heatmap(media, &mut sink) {
            Ok(written) => written,
            Err(e) => {
                sink.abandon();
                return Err(e);
            }
        };
        sink.finish().map_err(|error| Failure::Io {
            error,
            context: format!("writing {}", path.display()),
            mid: Some(media.mid.clone()),
        })?;
        Ok(written)
    }
}

/// Checks a file for an upload and opens it, before anything is sent.
fn inspect(path: &Path, options: &UploadOptions) -> Result<(MediaFile, FileSource)> {
    let file = options.inspect_path(path)?;
    Ok((file, open(path)?))
}

/// Opens a file to upload; failing to is the same error as failing the
/// checks.
fn open(path: &Path) -> Result<FileSource> {
    FileSource::open(path).map_err(|e| {
        Failure::from(ValidationError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    })
}

/// Every record, one at a time: an `Iterator` of `Result<Media>` from
/// [`Client::list_all`]. It asks for the next page only when the records
/// of the last one are used up.
///
/// ```no_run
/// # let client = authenta_ureq::Client::from_env()?;
/// for media in client.list_all() {
///     let media = media?;
///     println!("{} {} {}", media.mid, media.status, media.name);
/// }
/// # Ok::<(), authenta_ureq::Error>(())
/// ```
pub struct ListAll<'a> {
    inner: blocking::ListAll<'a, UreqTransport, StdRuntime>,
}

impl fmt::Debug for ListAll<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListAll").finish_non_exhaustive()
    }
}

impl Iterator for ListAll<'_> {
    type Item = Result<Media>;

    fn next(&mut self) -> Option<Result<Media>> {
        self.inner.next()
    }
}

/// Configures a [`Client`]: credentials, base URL, user agent, timeouts,
/// retry and poll policies, or your own `ureq::Agent`.
///
/// ```
/// use std::time::Duration;
/// use authenta_ureq::{Client, Credentials, PollPolicy, RetryPolicy};
///
/// let client = Client::builder()
///     .credentials(Credentials::new("my-client-id", "my-secret"))
///     .base_url("https://staging.example.com/api")
///     .user_agent("my-app/1.0")
///     .connect_timeout(Duration::from_secs(5))
///     .request_timeout(Duration::from_secs(20))
///     .upload_timeout(Duration::from_secs(600))
///     .retry_policy(RetryPolicy::default())
///     .poll_policy(PollPolicy::default().with_max_wait(Duration::from_secs(300)))
///     .build()?;
/// assert!(!format!("{client:?}").contains("my-secret"));
/// # Ok::<(), authenta_ureq::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    settings: ClientSettings,
    agent: Option<ureq::Agent>,
}

impl fmt::Debug for ClientBuilder {
    // The agent stays out: its proxy settings may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("agent", &self.agent.is_some())
            .finish()
    }
}

impl ClientBuilder {
    authenta_proto::client_builder_setters!();

    /// Sends through your own agent (its TLS, proxy and pool settings).
    /// Redirects stay off and error statuses stay answers for every
    /// request, and this builder's timeouts apply, whatever the agent's
    /// configuration.
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Builds the client. Fails on invalid credentials, base URL or user
    /// agent, or, without [`ClientBuilder::credentials`], a missing
    /// environment variable.
    pub fn build(self) -> Result<Client> {
        let config = self.settings.config()?;
        Ok(self.finish(config))
    }

    fn finish(self, config: Config) -> Client {
        let transport = match self.agent {
            Some(agent) => UreqTransport::with_agent(agent),
            None => UreqTransport::new(),
        }
        .connect_timeout(Some(self.settings.connect_timeout))
        .request_timeout(Some(self.settings.request_timeout))
        .upload_timeout(self.settings.upload_timeout);
        let driver = Driver::new(config, transport, StdRuntime)
            .with_retry_policy(self.settings.retry)
            .with_poll_policy(self.settings.poll);
        Client { driver }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_proto::Credentials;

    #[test]
    fn a_client_is_shared_across_threads() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<Client>();
        send_sync::<ClientBuilder>();
    }

    #[test]
    fn the_builder_checks_what_it_is_given() {
        let creds = || Credentials::new("id", "hunter2-secret");
        let err = Client::builder()
            .credentials(creds())
            .base_url("http://example.com/api")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("use https"), "{err}");
        let err = Client::builder()
            .credentials(creds())
            .user_agent("bad\nagent")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("user agent"), "{err}");
        let client = Client::builder()
            .credentials(creds())
            .user_agent("app/1")
            .build()
            .unwrap();
        assert_eq!(client.config().user_agent(), "app/1");
        assert_eq!(
            client.config().base_url(),
            "https://platform.authenta.ai/api"
        );
    }

    #[test]
    fn client_and_builder_debug_hide_the_secret() {
        let builder = Client::builder()
            .credentials(Credentials::new("id", "hunter2-secret"))
            .agent(ureq::Agent::new_with_defaults());
        let debug = format!("{builder:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("agent: true"), "{debug}");
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("platform.authenta.ai"), "{debug}");
    }

    #[test]
    fn a_missing_file_is_refused_before_any_request() {
        // Port 1 on loopback: any request would fail with a connect error.
        let client = Client::builder()
            .credentials(Credentials::new("id", "secret"))
            .base_url("http://127.0.0.1:1/api")
            .build()
            .unwrap();
        let options = UploadOptions::new(authenta_proto::types::ModelType::Ac1);
        let err = client.upload("/no/such/file.png", &options).unwrap_err();
        assert!(
            matches!(
                err.as_proto(),
                Some(authenta_proto::Error::Invalid(
                    ValidationError::Unreadable { .. }
                ))
            ),
            "{err:?}"
        );
        let err = client.upload_reader(&b"abc"[..], 3, &options).unwrap_err();
        assert!(err.to_string().contains("needs a name"), "{err}");
    }
}
