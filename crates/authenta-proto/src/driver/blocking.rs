//! The blocking driver.

use std::collections::VecDeque;

use authenta_types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, ModelType,
    ResultDocument,
};

use super::{UploadSource, Uploaded};
use crate::config::Config;
use crate::flow::{Attempts, Failure, Step, WaitStep, Waiter, inconsistent_page};
use crate::ops::{ApiRequest, CreateMedia, DeleteMedia, GetMedia, ListMedia};
use crate::paginate::ListCursor;
use crate::poll::PollPolicy;
use crate::response::UploadReceipt;
use crate::retry::RetryPolicy;
use crate::transport::{
    DownloadSink, HttpClient, Progress, Runtime, SendDownloadError, SendUploadError, UploadBody,
};
use crate::upload::{UploadTarget, artifact_request};
use crate::validate::MediaFile;

/// Runs the API's flows over a blocking [`HttpClient`] and a [`Runtime`].
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use authenta_proto::driver::blocking::Driver;
/// use authenta_proto::http::{Request, Response};
/// use authenta_proto::{Config, Credentials, Runtime};
/// use authenta_proto::types::MediaId;
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
/// let client = |req: Request<Vec<u8>>| -> Result<Response<Vec<u8>>, std::io::Error> {
///     assert_eq!(req.headers()["x-client-id"], "id");
///     Ok(Response::new(br#"{"mid":"m1","name":"a.png","type":"Image","status":"PROCESSED",
///         "modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z","fake":false}"#.to_vec()))
/// };
/// let driver = Driver::new(Config::new(Credentials::new("id", "secret")), client, Std);
/// let media = driver.get(&MediaId::new("m1")).unwrap();
/// assert_eq!(media.fake, Some(false));
/// ```
#[derive(Clone, Debug)]
pub struct Driver<C, R> {
    config: Config,
    client: C,
    runtime: R,
    retry: RetryPolicy,
    poll: PollPolicy,
}

impl<C: HttpClient, R: Runtime> Driver<C, R> {
    /// A driver with the default retry and poll policies.
    pub fn new(config: Config, client: C, runtime: R) -> Self {
        Driver {
            config,
            client,
            runtime,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
        }
    }

    /// Replaces the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the poll policy used by [`Driver::wait`].
    pub fn with_poll_policy(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The HTTP client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The poll policy.
    pub fn poll_policy(&self) -> &PollPolicy {
        &self.poll
    }

    /// Sends an API request, retrying as the policy allows.
    pub fn send<Op: ApiRequest>(&self, op: &Op) -> Result<Op::Output, Failure<C::Error>> {
        let span = crate::driver::operation_span(Op::OPERATION, op.mid());
        let _entered = span.enter();
        let mut attempts = Attempts::for_request(self.retry, op);
        loop {
            let attempt = attempts.start();
            span.record("attempt", attempt);
            let request = op.build(&self.config)?;
            let step = match self.client.send(request) {
                Ok(response) => {
                    crate::driver::record_response(&span, &response);
                    attempts.on_response(
                        op,
                        &self.config,
                        response,
                        self.runtime.wall_clock(),
                        self.runtime.random(),
                    )
                }
                Err(error) => {
                    let kind = self.client.error_kind(&error);
                    attempts.on_transport_error(error, kind, self.runtime.random())
                }
            };
            match step {
                Step::Done(result) => return crate::driver::record_result(&span, result),
                Step::Retry(delay) => self.runtime.sleep(delay),
            }
        }
    }

    /// `POST /media`: creates a record (validated first; never retried once
    /// it may have reached the server).
    pub fn create(&self, request: CreateMediaRequest) -> Result<CreatedMedia, Failure<C::Error>> {
        self.send(&CreateMedia::new(request)?)
    }

    /// `GET /media/{mid}`.
    pub fn get(&self, mid: &MediaId) -> Result<Media, Failure<C::Error>> {
        self.send(&GetMedia::new(mid.clone()))
    }

    /// `GET /media`: one page.
    pub fn list(&self, query: ListQuery) -> Result<MediaList, Failure<C::Error>> {
        self.send(&ListMedia::new(query)?)
    }

    /// Every record, page by page, lazily; each record once.
    pub fn list_all(&self, page_size: u32) -> Result<ListAll<'_, C, R>, Failure<C::Error>> {
        Ok(ListAll {
            driver: self,
            cursor: ListCursor::new(page_size)?,
            buffer: VecDeque::new(),
        })
    }

    /// `DELETE /media/{mid}`.
    pub fn delete(&self, mid: &MediaId) -> Result<(), Failure<C::Error>> {
        self.send(&DeleteMedia::new(mid.clone()))
    }

    /// Uploads `source` to an existing upload target (a saved create
    /// response, say), streaming it with its exact length. Retried only when
    /// the source can be reopened.
    pub fn upload_to(
        &self,
        target: &UploadTarget,
        source: &mut dyn UploadSource,
        progress: Option<Progress<'_>>,
    ) -> Result<UploadReceipt, Failure<C::Error>> {
        let span = crate::driver::upload_span(target);
        let _entered = span.enter();
        crate::driver::check_source_len(target, source.len())?;
        let mut attempts =
            Attempts::for_upload(self.retry, source.reopenable(), target.mid.clone());
        let name = source.describe();
        loop {
            let attempt = attempts.start();
            span.record("attempt", attempt);
            let head = target.request_head(self.runtime.wall_clock())?;
            let reader = source
                .open()
                .map_err(|e| crate::driver::source_failure(e, name.clone(), target))?;
            let body = UploadBody::new(reader, target.size, progress);
            let step = match self.client.send_upload(head.map(|()| body)) {
                Ok(response) => {
                    crate::driver::record_response(&span, &response);
                    attempts.on_upload_response(
                        response,
                        self.runtime.wall_clock(),
                        self.runtime.random(),
                    )
                }
                Err(SendUploadError::Source(e)) => {
                    return Err(crate::driver::source_failure(e, name.clone(), target));
                }
                Err(SendUploadError::Transport(error)) => {
                    let kind = self.client.error_kind(&error);
                    attempts.on_transport_error(error, kind, self.runtime.random())
                }
            };
            match step {
                Step::Done(result) => return crate::driver::record_result(&span, result),
                Step::Retry(delay) => self.runtime.sleep(delay),
            }
        }
    }

    /// Creates the record for a checked file and uploads it: the file was
    /// validated (by [`MediaFile`]) and the model is checked before the
    /// record is created.
    pub fn upload(
        &self,
        file: &MediaFile,
        model: ModelType,
        source: &mut dyn UploadSource,
        progress: Option<Progress<'_>>,
    ) -> Result<Uploaded, Failure<C::Error>> {
        let request = file.create_request(model)?;
        crate::driver::check_len(file.size, source.len(), None)?;
        let created = self.create(request.clone())?;
        let target = UploadTarget::from_created(&created, &request, self.runtime.wall_clock())?;
        let receipt = self.upload_to(&target, source, progress)?;
        Ok(Uploaded {
            created,
            target,
            receipt,
        })
    }

    /// Polls `GET /media/{mid}` on the driver's poll policy until the record
    /// reaches a final status (`PROCESSED`, `FAILED`, `ERROR`), and returns
    /// it; a timeout states the last status, the time waited and the polls.
    pub fn wait(&self, mid: &MediaId) -> Result<Media, Failure<C::Error>> {
        self.wait_with(mid, self.poll)
    }

    /// Like [`Driver::wait`], with another poll policy.
    pub fn wait_with(&self, mid: &MediaId, policy: PollPolicy) -> Result<Media, Failure<C::Error>> {
        self.wait_observed(mid, policy, &|_| {})
    }

    /// Like [`Driver::wait_with`], showing each polled record to `observe`
    /// (to draw its status, say).
    pub fn wait_observed(
        &self,
        mid: &MediaId,
        policy: PollPolicy,
        observe: &(dyn Fn(&Media) + Send + Sync),
    ) -> Result<Media, Failure<C::Error>> {
        let mut waiter = Waiter::new(mid.clone(), policy, self.runtime.now());
        loop {
            let media = self.get(mid)?;
            observe(&media);
            match waiter.on_media(media, self.runtime.now()) {
                WaitStep::Done(media) => return Ok(*media),
                WaitStep::PollAfter(delay) => self.runtime.sleep(delay),
                WaitStep::TimedOut(timeout) => {
                    return Err(Failure::Proto(crate::Error::Timeout(timeout)));
                }
            }
        }
    }

    /// Uploads and waits: the whole job for one file.
    pub fn process(
        &self,
        file: &MediaFile,
        model: ModelType,
        source: &mut dyn UploadSource,
        progress: Option<Progress<'_>>,
    ) -> Result<Media, Failure<C::Error>> {
        let uploaded = self.upload(file, model, source, progress)?;
        self.wait(uploaded.mid())
    }

    /// Reads a processed record's `resultURL` document.
    pub fn result(&self, media: &Media) -> Result<Option<ResultDocument>, Failure<C::Error>> {
        let Some(url) = &media.result_url else {
            return Ok(None);
        };
        let bytes = self.download(url, Some(&media.mid))?;
        crate::driver::parse_result(&bytes, &media.mid).map(Some)
    }

    /// Fetches a pre-signed artifact URL (no credentials) into memory, at
    /// most [`MAX_API_RESPONSE_BYTES`](crate::transport::MAX_API_RESPONSE_BYTES),
    /// retrying as for a `GET`.
    pub fn download(&self, url: &str, mid: Option<&MediaId>) -> Result<Vec<u8>, Failure<C::Error>> {
        let mut sink = crate::driver::Bounded::default();
        self.download_to(url, mid, &mut sink)?;
        Ok(sink.into_bytes())
    }

    /// Streams a pre-signed artifact URL (no credentials) into `sink`,
    /// retrying as for a `GET`; the sink restarts before each attempt.
    /// Returns the bytes written.
    pub fn download_to(
        &self,
        url: &str,
        mid: Option<&MediaId>,
        sink: &mut dyn DownloadSink,
    ) -> Result<u64, Failure<C::Error>> {
        let mut sink = crate::driver::Counted::new(sink);
        let mut attempts = Attempts::new(
            self.retry,
            crate::retry::Replay::Idempotent,
            None,
            mid.cloned(),
        );
        loop {
            attempts.start();
            let request = artifact_request(url, mid)?;
            sink.restart()
                .map_err(|e| crate::driver::sink_failure(e, mid))?;
            let step = match self.client.send_download(request, &mut sink) {
                Ok(response) => match crate::response::read_artifact_response(response, mid) {
                    Ok(_) => Step::Done(Ok(sink.written)),
                    Err(e) => {
                        attempts.on_error(e, self.runtime.wall_clock(), self.runtime.random())
                    }
                },
                Err(SendDownloadError::Sink(e)) => {
                    return Err(crate::driver::sink_failure(e, mid));
                }
                Err(SendDownloadError::Transport(error)) => {
                    let kind = self.client.error_kind(&error);
                    attempts.on_transport_error(error, kind, self.runtime.random())
                }
            };
            match step {
                Step::Done(result) => return result,
                Step::Retry(delay) => self.runtime.sleep(delay),
            }
        }
    }

    /// Streams a processed record's heatmap image (`heatmapURL`) into
    /// `sink`: the bytes written, or `None` when the record has no heatmap.
    pub fn download_heatmap(
        &self,
        media: &Media,
        sink: &mut dyn DownloadSink,
    ) -> Result<Option<u64>, Failure<C::Error>> {
        let Some(url) = &media.heatmap_url else {
            return Ok(None);
        };
        self.download_to(url, Some(&media.mid), sink).map(Some)
    }
}

/// Every record, lazily paged: an `Iterator` of `Result<Media, _>`. A
/// failed page ends the iteration after yielding its error.
pub struct ListAll<'d, C: HttpClient, R> {
    driver: &'d Driver<C, R>,
    cursor: ListCursor,
    buffer: VecDeque<Media>,
}

impl<C: HttpClient, R: Runtime> Iterator for ListAll<'_, C, R> {
    type Item = Result<Media, Failure<C::Error>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(media) = self.buffer.pop_front() {
                return Some(Ok(media));
            }
            let query = self.cursor.next_query()?;
            match self.driver.list(query) {
                Ok(page) => {
                    if let Err(e) = self.cursor.advance(&page) {
                        return Some(Err(Failure::Proto(inconsistent_page(e))));
                    }
                    self.buffer.extend(page.data);
                }
                Err(e) => {
                    // Stop after reporting: the same page would fail again.
                    self.cursor.stop();
                    return Some(Err(e));
                }
            }
        }
    }
}
