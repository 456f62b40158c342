//! The async driver: the same flows as [`super::blocking`], awaited.

use std::collections::VecDeque;
use std::sync::Arc;

use authenta_types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, MediaList, ModelType,
    ResultDocument,
};
use futures_core::Stream;
use tracing::Instrument as _;

use super::{AsyncUploadSource, Uploaded};
use crate::config::Config;
use crate::flow::{Attempts, Failure, Step, WaitStep, Waiter, inconsistent_page};
use crate::ops::{ApiRequest, CreateMedia, DeleteMedia, GetMedia, ListMedia};
use crate::paginate::ListCursor;
use crate::poll::PollPolicy;
use crate::response::UploadReceipt;
use crate::retry::RetryPolicy;
use crate::transport::{
    AsyncDownloadSink, AsyncHttpClient, AsyncRuntime, AsyncUploadBody, SendDownloadError,
    SendUploadError,
};
use crate::upload::{UploadTarget, artifact_request};
use crate::validate::MediaFile;

/// The records of [`Driver::list_all`], one at a time.
pub type MediaStream<'a, E> =
    std::pin::Pin<Box<dyn Stream<Item = Result<Media, Failure<E>>> + Send + 'a>>;

/// Upload progress for async uploads: (bytes sent, total).
pub type AsyncProgress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Runs the API's flows over an [`AsyncHttpClient`] and an [`AsyncRuntime`].
/// Its futures are `Send` when the client and runtime are.
#[derive(Clone, Debug)]
pub struct Driver<C, R> {
    config: Config,
    client: C,
    runtime: R,
    retry: RetryPolicy,
    poll: PollPolicy,
}

impl<C: AsyncHttpClient, R: AsyncRuntime> Driver<C, R> {
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
    pub async fn send<Op>(&self, op: &Op) -> Result<Op::Output, Failure<C::Error>>
    where
        Op: ApiRequest + Sync,
        Op::Output: Send,
    {
        let span = crate::driver::operation_span(Op::OPERATION, op.mid());
        let record = span.clone();
        async move {
            let mut attempts = Attempts::for_request(self.retry, op);
            loop {
                let attempt = attempts.start();
                record.record("attempt", attempt);
                let request = op.build(&self.config)?;
                let step = match self.client.send(request).await {
                    Ok(response) => {
                        crate::driver::record_response(&record, &response);
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
                    Step::Done(result) => return crate::driver::record_result(&record, result),
                    Step::Retry(delay) => self.runtime.sleep(delay).await,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// `POST /media`: creates a record (validated first; never retried once
    /// it may have reached the server).
    pub async fn create(
        &self,
        request: CreateMediaRequest,
    ) -> Result<CreatedMedia, Failure<C::Error>> {
        self.send(&CreateMedia::new(request)?).await
    }

    /// `GET /media/{mid}`.
    pub async fn get(&self, mid: &MediaId) -> Result<Media, Failure<C::Error>> {
        self.send(&GetMedia::new(mid.clone())).await
    }

    /// `GET /media`: one page.
    pub async fn list(&self, query: ListQuery) -> Result<MediaList, Failure<C::Error>> {
        self.send(&ListMedia::new(query)?).await
    }

    /// Every record, page by page, lazily: a `Stream` of
    /// `Result<Media, _>`, each record once. A failed page ends the stream
    /// after yielding its error.
    pub fn list_all(&self, page_size: u32) -> Result<MediaStream<'_, C::Error>, Failure<C::Error>> {
        let cursor = ListCursor::new(page_size)?;
        let state = (cursor, VecDeque::<Media>::new());
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            move |(mut cursor, mut buffer)| async move {
                loop {
                    if let Some(media) = buffer.pop_front() {
                        return Some((Ok(media), (cursor, buffer)));
                    }
                    let query = cursor.next_query()?;
                    match self.list(query).await {
                        Ok(page) => {
                            if let Err(e) = cursor.advance(&page) {
                                return Some((
                                    Err(Failure::Proto(inconsistent_page(e))),
                                    (cursor, buffer),
                                ));
                            }
                            buffer.extend(page.data);
                        }
                        Err(e) => {
                            cursor.stop();
                            return Some((Err(e), (cursor, buffer)));
                        }
                    }
                }
            },
        )))
    }

    /// `DELETE /media/{mid}`.
    pub async fn delete(&self, mid: &MediaId) -> Result<(), Failure<C::Error>> {
        self.send(&DeleteMedia::new(mid.clone())).await
    }

    /// Uploads `source` to an existing upload target, streaming it with its
    /// exact length. Retried only when the source can be reopened.
    pub async fn upload_to(
        &self,
        target: &UploadTarget,
        source: &mut dyn AsyncUploadSource,
        progress: Option<AsyncProgress>,
    ) -> Result<UploadReceipt, Failure<C::Error>> {
        let span = crate::driver::upload_span(target);
        let record = span.clone();
        async move {
            crate::driver::check_source_len(target, source.len())?;
            let mut attempts =
                Attempts::for_upload(self.retry, source.reopenable(), target.mid.clone());
            let name = source.describe();
            loop {
                let attempt = attempts.start();
                record.record("attempt", attempt);
                let head = target.request_head(self.runtime.wall_clock())?;
                let stream = source
                    .open()
                    .await
                    .map_err(|e| crate::driver::source_failure(e, name.clone(), target))?;
                let body = AsyncUploadBody::new(stream, target.size, progress.clone());
                let step = match self.client.send_upload(head.map(|()| body)).await {
                    Ok(response) => {
                        crate::driver::record_response(&record, &response);
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
                    Step::Done(result) => return crate::driver::record_result(&record, result),
                    Step::Retry(delay) => self.runtime.sleep(delay).await,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Creates the record for a checked file and uploads it; the model is
    /// checked before the record is created.
    pub async fn upload(
        &self,
        file: &MediaFile,
        model: ModelType,
        source: &mut dyn AsyncUploadSource,
        progress: Option<AsyncProgress>,
    ) -> Result<Uploaded, Failure<C::Error>> {
        let request = file.create_request(model)?;
        crate::driver::check_len(file.size, source.len(), None)?;
        let created = self.create(request.clone()).await?;
        let target = UploadTarget::from_created(&created, &request, self.runtime.wall_clock())?;
        let receipt = self.upload_to(&target, source, progress).await?;
        Ok(Uploaded {
            created,
            target,
            receipt,
        })
    }

    /// Polls until the record reaches a final status, on the driver's poll
    /// policy; see [`super::blocking::Driver::wait`].
    pub async fn wait(&self, mid: &MediaId) -> Result<Media, Failure<C::Error>> {
        self.wait_with(mid, self.poll).await
    }

    /// Like [`Driver::wait`], with another poll policy.
    pub async fn wait_with(
        &self,
        mid: &MediaId,
        policy: PollPolicy,
    ) -> Result<Media, Failure<C::Error>> {
        self.wait_observed(mid, policy, &|_| {}).await
    }

    /// Like [`Driver::wait_with`], showing each polled record to `observe`
    /// (to draw its status, say).
    pub async fn wait_observed(
        &self,
        mid: &MediaId,
        policy: PollPolicy,
        observe: &(dyn Fn(&Media) + Send + Sync),
    ) -> Result<Media, Failure<C::Error>> {
        let mut waiter = Waiter::new(mid.clone(), policy, self.runtime.now());
        loop {
            let media = self.get(mid).await?;
            observe(&media);
            match waiter.on_media(media, self.runtime.now()) {
                WaitStep::Done(media) => return Ok(*media),
                WaitStep::PollAfter(delay) => self.runtime.sleep(delay).await,
                WaitStep::TimedOut(timeout) => {
                    return Err(Failure::Proto(crate::Error::Timeout(timeout)));
                }
            }
        }
    }

    /// Uploads and waits: the whole job for one file.
    pub async fn process(
        &self,
        file: &MediaFile,
        model: ModelType,
        source: &mut dyn AsyncUploadSource,
        progress: Option<AsyncProgress>,
    ) -> Result<Media, Failure<C::Error>> {
        let uploaded = self.upload(file, model, source, progress).await?;
        self.wait(uploaded.mid()).await
    }

    /// Reads a processed record's `resultURL` document.
    pub async fn result(&self, media: &Media) -> Result<Option<ResultDocument>, Failure<C::Error>> {
        let Some(url) = &media.result_url else {
            return Ok(None);
        };
        let bytes = self.download(url, Some(&media.mid)).await?;
        crate::driver::parse_result(&bytes, &media.mid).map(Some)
    }

    /// Fetches a pre-signed artifact URL (no credentials) into memory, at
    /// most [`MAX_API_RESPONSE_BYTES`](crate::transport::MAX_API_RESPONSE_BYTES),
    /// retrying as for a `GET`.
    pub async fn download(
        &self,
        url: &str,
        mid: Option<&MediaId>,
    ) -> Result<Vec<u8>, Failure<C::Error>> {
        let mut sink = crate::driver::Bounded::default();
        self.download_to(url, mid, &mut sink).await?;
        Ok(sink.into_bytes())
    }

    /// Streams a pre-signed artifact URL (no credentials) into `sink`,
    /// retrying as for a `GET`; the sink restarts before each attempt.
    /// Returns the bytes written.
    pub async fn download_to(
        &self,
        url: &str,
        mid: Option<&MediaId>,
        sink: &mut dyn AsyncDownloadSink,
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
                .await
                .map_err(|e| crate::driver::sink_failure(e, mid))?;
            let step = match self.client.send_download(request, &mut sink).await {
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
                Step::Retry(delay) => self.runtime.sleep(delay).await,
            }
        }
    }

    /// Streams a processed record's heatmap image (`heatmapURL`) into
    /// `sink`: the bytes written, or `None` when the record has no heatmap.
    pub async fn download_heatmap(
        &self,
        media: &Media,
        sink: &mut dyn AsyncDownloadSink,
    ) -> Result<Option<u64>, Failure<C::Error>> {
        let Some(url) = &media.heatmap_url else {
            return Ok(None);
        };
        self.download_to(url, Some(&media.mid), sink)
            .await
            .map(Some)
    }
}
