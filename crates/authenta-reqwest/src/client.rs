//! [`Client`] and [`ClientBuilder`]: proto's async driver over reqwest and
//! tokio, with files streamed from and to disk.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authenta_proto::driver::nonblocking::Driver;
use authenta_proto::types::{
    CreateMediaRequest, CreatedMedia, LIST_LIMIT_MAX, ListQuery, Media, MediaId, MediaList,
    ResultDocument,
};
use authenta_proto::{
    AsyncUploadSource, ByteStream, ClientSettings, Config, ConfigError, Failure, MediaFile,
    OneShotStream, PollPolicy, ProgressFn, UploadOptions, UploadReceipt, UploadTarget, Uploaded,
    ValidationError,
};
use futures_core::Stream;
use futures_util::StreamExt as _;

use crate::source::{FileSink, FileSource};
use crate::{Error, ReqwestTransport, Result, TokioRuntime};

/// The records of [`Client::list_all`]: a `Stream` of `Result<Media>`.
pub type MediaStream<'a> = authenta_proto::driver::nonblocking::MediaStream<'a, reqwest::Error>;

/// An async Authenta client: every operation of the API, uploads streamed
/// from disk, waiting for the verdict, and the verdict's artifacts.
///
/// Cheap to clone (the clones share one connection pool); its `Debug`
/// shows the base URL, client id, timeouts and policies, never the secret.
///
/// ```no_run
/// use authenta_reqwest::{Client, ModelType, UploadOptions};
///
/// # async fn run() -> authenta_reqwest::Result<()> {
/// let client = Client::from_env()?;
/// let media = client
///     .process("portrait.jpg", &UploadOptions::new(ModelType::Ac1))
///     .await?;
/// println!("{}: fake = {:?}", media.mid, media.fake);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    driver: Arc<Driver<ReqwestTransport, TokioRuntime>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.driver.config();
        f.debug_struct("Client")
            .field("base_url", &config.base_url())
            .field("client_id", &config.credentials().client_id)
            .field("transport", self.driver.client())
            .field("retry_policy", self.driver.retry_policy())
            .field("poll_policy", self.driver.poll_policy())
            .finish()
    }
}

impl Client {
    /// A client configured from `AUTHENTA_CLIENT_ID`,
    /// `AUTHENTA_CLIENT_SECRET` and (optionally) `AUTHENTA_BASE_URL`, with
    /// the default timeouts and policies. A missing variable is a
    /// [`ConfigError::MissingVariable`].
    pub fn from_env() -> Result<Client> {
        Client::builder().build()
    }

    /// A client for `config`, with the default timeouts and policies.
    ///
    /// # Panics
    /// If the TLS backend cannot start, as [`reqwest::Client::new`] does
    /// (with `native-tls`, when the platform's library cannot be loaded).
    /// [`ClientBuilder::build`] returns that as an error instead.
    pub fn new(config: Config) -> Client {
        ClientBuilder::default()
            .finish(config)
            .expect("the HTTP client could not start")
    }

    /// A builder for timeouts, policies, user agent or your own reqwest
    /// client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The configuration: base URL, credentials, user agent.
    pub fn config(&self) -> &Config {
        self.driver.config()
    }

    /// `POST /media`: creates a record and returns it with its upload URL.
    /// The request is checked first (name, size, content type, model), and
    /// never retried once it may have reached the server.
    pub async fn create(&self, request: CreateMediaRequest) -> Result<CreatedMedia> {
        self.driver.create(request).await
    }

    /// `GET /media/{mid}`.
    pub async fn get(&self, mid: &MediaId) -> Result<Media> {
        self.driver.get(mid).await
    }

    /// `GET /media`: one page of records.
    pub async fn list(&self, query: ListQuery) -> Result<MediaList> {
        self.driver.list(query).await
    }

    /// Every record, fetched lazily in pages of
    /// [`LIST_LIMIT_MAX`](authenta_proto::types::LIST_LIMIT_MAX) as the
    /// stream is polled, each record once. A page that fails is yielded as
    /// an error and ends the stream.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    ///
    /// # async fn run(client: authenta_reqwest::Client) -> authenta_reqwest::Result<()> {
    /// let mut records = client.list_all();
    /// while let Some(media) = records.try_next().await? {
    ///     println!("{} {} {}", media.mid, media.status, media.name);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_all(&self) -> MediaStream<'_> {
        self.driver
            .list_all(LIST_LIMIT_MAX)
            .expect("the largest page size is a valid page size")
    }

    /// `DELETE /media/{mid}`.
    pub async fn delete(&self, mid: &MediaId) -> Result<()> {
        self.driver.delete(mid).await
    }

    /// Uploads a file: checks it (readable, size, content type, model) on a
    /// blocking thread before anything is sent, creates its record, and
    /// streams the file to the upload URL with its exact length. Memory use
    /// does not grow with the file. The upload is retried (from the file's
    /// start) when the retry policy allows.
    ///
    /// Keep [`Uploaded::target`] to retry a failed upload later with
    /// [`Client::upload_to`].
    pub async fn upload(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        let (file, mut source) = inspect(path.as_ref(), options).await?;
        self.upload_checked(&file, &mut source, options).await
    }

    /// Uploads `size` bytes pulled from `stream` (which must yield exactly
    /// that many). [`UploadOptions::name`] is required and the content type
    /// is given or implied by the name's extension. A stream can be read
    /// once, so this upload is never retried.
    pub async fn upload_stream(
        &self,
        stream: ByteStream,
        size: u64,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        let file = options.inspect_body(size)?;
        let mut source = OneShotStream::new(stream, size);
        self.upload_checked(&file, &mut source, options).await
    }

    /// Creates the record of a checked body and uploads it.
    async fn upload_checked(
        &self,
        file: &MediaFile,
        source: &mut dyn AsyncUploadSource,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        let (model, progress) = (options.model.clone(), options.progress.clone());
        self.driver.upload(file, model, source, progress).await
    }

    /// Uploads a file to an existing upload target: one saved from
    /// [`Uploaded::target`] or built with [`UploadTarget::from_created`]
    /// from a saved create response. The file must be the size the record
    /// was created for; an expired target is refused before a byte is sent.
    pub async fn upload_to(
        &self,
        target: &UploadTarget,
        path: impl AsRef<Path>,
        progress: Option<ProgressFn>,
    ) -> Result<UploadReceipt> {
        let path = path.as_ref();
        let mut source = FileSource::measure(path)
            .await
            .map_err(|e| unreadable(path, e))?;
        self.driver.upload_to(target, &mut source, progress).await
    }

    /// Polls the record on the client's poll policy until its status is
    /// final (`PROCESSED`, `FAILED` or `ERROR`) and returns it. A timeout
    /// states the last status, the time waited and the polls spent.
    pub async fn wait(&self, mid: &MediaId) -> Result<Media> {
        self.driver.wait(mid).await
    }

    /// Like [`Client::wait`], on another poll policy.
    pub async fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Result<Media> {
        self.driver.wait_with(mid, policy).await
    }

    /// Like [`Client::wait_with`], showing each polled record to `observe`
    /// (to draw its status, say).
    pub async fn wait_observed(
        &self,
        mid: &MediaId,
        policy: PollPolicy,
        observe: &(dyn Fn(&Media) + Send + Sync),
    ) -> Result<Media> {
        self.driver.wait_observed(mid, policy, observe).await
    }

    /// The whole job for one file: [`Client::upload`], then
    /// [`Client::wait`].
    pub async fn process(&self, path: impl AsRef<Path>, options: &UploadOptions) -> Result<Media> {
        let (file, mut source) = inspect(path.as_ref(), options).await?;
        let (model, progress) = (options.model.clone(), options.progress.clone());
        self.driver
            .process(&file, model, &mut source, progress)
            .await
    }

    /// Processes many files, at most `concurrency` at a time (at least
    /// one), and yields each file's outcome as soon as it is known, in the
    /// order they finish. Files are taken from `paths` as room frees up.
    ///
    /// ```no_run
    /// use futures_util::StreamExt as _;
    /// use authenta_reqwest::{Client, ModelType, UploadOptions};
    ///
    /// # async fn run(client: Client, paths: Vec<std::path::PathBuf>) {
    /// let options = UploadOptions::new(ModelType::Ac1);
    /// let mut results = std::pin::pin!(client.process_many(paths, &options, 4));
    /// while let Some((path, result)) = results.next().await {
    ///     match result {
    ///         Ok(media) => println!("{}: fake = {:?}", path.display(), media.fake),
    ///         Err(e) => eprintln!("{}: {e}", path.display()),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn process_many(
        &self,
        paths: impl IntoIterator<Item = PathBuf>,
        options: &UploadOptions,
        concurrency: usize,
    ) -> impl Stream<Item = (PathBuf, Result<Media>)> {
        futures_util::stream::iter(paths)
            .map(move |path| async move {
                let result = self.process(&path, options).await;
                (path, result)
            })
            .buffer_unordered(concurrency.max(1))
    }

    /// Reads a processed record's `resultURL` document (no credentials are
    /// sent with it); `None` when the record has none.
    pub async fn result(&self, media: &Media) -> Result<Option<ResultDocument>> {
        self.driver.result(media).await
    }

    /// Downloads a processed record's heatmap image (its `heatmapURL`) to
    /// `path`, streamed (no credentials are sent with it, retried as a
    /// `GET`): the bytes written, or `None` when the record has no heatmap
    /// (video records keep theirs per participant). The file is written
    /// beside `path` as `<path>.part` and renamed when complete, so a
    /// failed download leaves no partial file.
    pub async fn download_heatmap(
        &self,
        media: &Media,
        path: impl AsRef<Path>,
    ) -> Result<Option<u64>> {
        let path = path.as_ref();
        let mut sink = FileSink::new(path);
        let written = match self.driver.download_heatmap(media, &mut sink).await {
            Ok(written) => written,
            Err(e) => {
                sink.abandon().await;
                return Err(e);
            }
        };
        sink.finish().await.map_err(|error| Failure::Io {
            error,
            context: format!("writing {}", path.display()),
            mid: Some(media.mid.clone()),
        })?;
        Ok(written)
    }
}

/// Checks a file for an upload on a blocking thread (it reads the file's
/// first bytes), before anything is sent.
async fn inspect(path: &Path, options: &UploadOptions) -> Result<(MediaFile, FileSource)> {
    let (owned, options) = (path.to_owned(), options.clone());
    let checked = tokio::task::spawn_blocking(move || options.inspect_path(&owned)).await;
    let file = match checked {
        Ok(file) => file?,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => return Err(unreadable(path, std::io::Error::other(e))),
    };
    let source = FileSource::new(path.to_owned(), file.size);
    Ok((file, source))
}

/// A file that cannot be read: the same error as failing the checks.
fn unreadable(path: &Path, e: std::io::Error) -> Error {
    Failure::from(ValidationError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Configures a [`Client`]: credentials, base URL, user agent, timeouts,
/// retry and poll policies, or your own reqwest client.
///
/// ```
/// use std::time::Duration;
/// use authenta_reqwest::{Client, Credentials, PollPolicy, RetryPolicy};
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
/// assert_eq!(client.config().base_url(), "https://staging.example.com/api");
/// # Ok::<(), authenta_reqwest::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    settings: ClientSettings,
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("http_client", &self.http_client.is_some())
            .finish()
    }
}

impl ClientBuilder {
    authenta_proto::client_builder_setters!();

    /// Sends everything through your own reqwest client (its proxy, pool
    /// and TLS settings).
    ///
    /// **It must be built without redirects**
    /// (`.redirect(reqwest::redirect::Policy::none())`): reqwest keeps
    /// custom headers such as `x-client-secret` on a redirect, even to
    /// another host. [`ClientBuilder::build`] refuses a client whose policy
    /// may follow one. Start from [`reqwest_client_builder`](crate::reqwest_client_builder)
    /// to keep this crate's settings. The request and upload timeouts of
    /// this builder apply to each request; the connect timeout and user
    /// agent are the client's own.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client. Fails on invalid credentials, base URL or user
    /// agent, a missing environment variable (without
    /// [`ClientBuilder::credentials`]), or an HTTP client that may follow
    /// redirects or cannot start ([`ConfigError::HttpClient`]).
    pub fn build(self) -> Result<Client> {
        let config = self.settings.config()?;
        self.finish(config)
    }

    fn finish(self, config: Config) -> Result<Client> {
        let http = match self.http_client {
            Some(http) => http,
            None => crate::reqwest_client_builder()
                .connect_timeout(self.settings.connect_timeout)
                .user_agent(config.user_agent().clone())
                .build()
                .map_err(|e| {
                    ConfigError::HttpClient(format!(
                        "reqwest could not start: {}",
                        authenta_proto::error::error_chain(&e)
                    ))
                })?,
        };
        let transport = ReqwestTransport::new(http)?
            .request_timeout(Some(self.settings.request_timeout))
            .upload_timeout(self.settings.upload_timeout);
        let driver = Driver::new(config, transport, TokioRuntime)
            .with_retry_policy(self.settings.retry)
            .with_poll_policy(self.settings.poll);
        Ok(Client {
            driver: Arc::new(driver),
        })
    }
}

/// An error and its sources, as one line.
#[cfg(test)]
mod tests {
    use super::*;
    use authenta_proto::Credentials;

    fn creds() -> Credentials {
        Credentials::new("id", "hunter2-secret")
    }

    #[test]
    fn the_builder_checks_what_it_is_given() {
        let refused = [
            (
                Client::builder().base_url("http://example.com/api"),
                "use https",
            ),
            (Client::builder().user_agent("bad\nagent"), "user agent"),
        ];
        for (builder, why) in refused {
            let err = builder.credentials(creds()).build().unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
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
    fn clients_futures_and_streams_can_move_between_threads() {
        fn send<T: Send + Sync + 'static>(_: &T) {}
        fn send_borrowed<T: Send>(_: &T) {}
        let client = Client::builder().credentials(creds()).build().unwrap();
        send(&client);
        let options = UploadOptions::new(authenta_proto::types::ModelType::Ac1);
        send_borrowed(&client.process("a.png", &options));
        send_borrowed(&client.process_many(vec![PathBuf::from("a.png")], &options, 2));
        send_borrowed(&client.list_all());
        let stream: ByteStream = Box::pin(futures_util::stream::empty());
        send_borrowed(&client.upload_stream(stream, 1, &options));
    }

    #[test]
    fn a_client_that_follows_redirects_is_refused() {
        let http = crate::reqwest_client_builder()
            .redirect(reqwest::redirect::Policy::default())
            .build()
            .unwrap();
        let err = Client::builder()
            .credentials(creds())
            .http_client(http)
            .build()
            .unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::Config);
        assert!(err.to_string().contains("follow redirects"), "{err}");
    }

    #[test]
    fn list_all_pages_are_the_largest_the_api_takes() {
        // `list_all` relies on it being a valid page size.
        assert!(authenta_proto::ListCursor::new(LIST_LIMIT_MAX).is_ok());
    }
}
