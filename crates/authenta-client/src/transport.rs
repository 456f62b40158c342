//! The transport seam: small traits over `http` types that any HTTP client
//! can implement, blocking or async, so the official backends and your own
//! client drive the same flows.
//!
//! A closure `Fn(Request<Vec<u8>>) -> Result<Response<Vec<u8>>, E>` is a
//! blocking [`HttpClient`], which makes a test's fake server one line.

use std::io::{self, Read};
use std::path::PathBuf;
#[cfg(feature = "async")]
use std::pin::Pin;
#[cfg(feature = "async")]
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use crate::ProgressFn;
#[cfg(feature = "async")]
use crate::io::{AsyncDownloadSink, AsyncUploadSource, ByteStream};
use crate::io::{DownloadSink, UploadSource};

use crate::TransportErrorKind;
use crate::http::{Request, Response};
#[cfg(feature = "async")]
use bytes::Bytes;
#[cfg(feature = "async")]
use futures_core::Stream;

/// How long a backend waits for a connection (TCP and TLS) unless told
/// otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a backend gives an API request and its answer, or an artifact
/// download, unless told otherwise. The upload `PUT` has no overall
/// timeout by default: its length depends on the file and the link.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an upload `PUT` may go without progress unless told otherwise:
/// no byte of the body accepted by the connection, or, once the body is
/// sent, no answer. A server or a link that stalls fails the attempt with a
/// [`TransportErrorKind::Timeout`] after this long, however long the whole
/// upload may take.
pub const DEFAULT_UPLOAD_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A blocking HTTP client.
pub trait HttpClient {
    /// The client's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends an API request (or an artifact `GET`) and reads the answer's
    /// body, at most [`RESPONSE_READ_LIMIT`](crate::proto::wire::RESPONSE_READ_LIMIT) bytes (stop reading there and
    /// return what was read: proto refuses it). Must not follow redirects:
    /// the request carries credentials that may only go to the API.
    fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Self::Error>;

    /// Sends the upload `PUT`: the head is complete (`Content-Type`,
    /// `Content-Length`), the body is read from `request.body()` and is
    /// exactly `Content-Length` bytes. Send it with that length, never
    /// chunked. When the head asks `Expect: 100-continue` (a large body:
    /// [`EXPECT_CONTINUE_MIN`](crate::EXPECT_CONTINUE_MIN)), send the body
    /// only after `100 Continue` or [`EXPECT_CONTINUE_WAIT`](crate::EXPECT_CONTINUE_WAIT)
    /// without an answer; a final answer that comes first is the answer
    /// (S3's early refusal), and no body is sent.
    ///
    /// The default reads the body into memory and calls [`HttpClient::send`];
    /// clients that can stream should override it.
    fn send_upload(
        &self,
        request: Request<UploadBody<'_>>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<Self::Error>> {
        let (parts, mut body) = request.into_parts();
        let mut bytes = Vec::with_capacity(body.len().min(64 * 1024 * 1024) as usize);
        body.read_to_end(&mut bytes)
            .map_err(SendUploadError::Source)?;
        self.send(Request::from_parts(parts, bytes))
            .map_err(SendUploadError::Transport)
    }

    /// Sends an artifact `GET` (a pre-signed URL, no credentials) and
    /// streams a 2xx body into `sink`; the response returned then has an
    /// empty body. Any other answer is returned with its body read as
    /// [`HttpClient::send`] reads it.
    ///
    /// The default reads the whole answer with [`HttpClient::send`] (so at
    /// most [`MAX_API_RESPONSE_BYTES`](crate::proto::wire::MAX_API_RESPONSE_BYTES)) and writes it to the sink; clients
    /// that can stream should override it.
    fn send_download(
        &self,
        request: Request<Vec<u8>>,
        sink: &mut dyn DownloadSink,
    ) -> Result<Response<Vec<u8>>, SendDownloadError<Self::Error>> {
        let response = self.send(request).map_err(SendDownloadError::Transport)?;
        if !response.status().is_success() {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        sink.write_chunk(&body).map_err(SendDownloadError::Sink)?;
        Ok(Response::from_parts(parts, Vec::new()))
    }

    /// Classifies one of the client's errors for the retry decision. The
    /// default finds an [`io::Error`] in the error's source chain
    /// ([`TransportErrorKind::of_error`]).
    fn error_kind(&self, error: &Self::Error) -> TransportErrorKind {
        TransportErrorKind::of_error(error)
    }
}

impl<F, E> HttpClient for F
where
    F: Fn(Request<Vec<u8>>) -> Result<Response<Vec<u8>>, E>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Error = E;

    fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, E> {
        self(request)
    }
}

#[cfg(feature = "async")]
/// An async HTTP client (with `async-trait`).
#[async_trait::async_trait]
pub trait AsyncHttpClient: Send + Sync {
    /// The client's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends an API request and reads the whole answer; see
    /// [`HttpClient::send`].
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Self::Error>;

    /// Sends the upload `PUT` with a streamed body of exactly
    /// `Content-Length` bytes; see [`HttpClient::send_upload`]. The default
    /// collects the stream into memory.
    async fn send_upload(
        &self,
        request: Request<AsyncUploadBody>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<Self::Error>> {
        let (parts, mut body) = request.into_parts();
        let mut bytes = Vec::with_capacity(body.len().min(64 * 1024 * 1024) as usize);
        while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
            bytes.extend_from_slice(&chunk.map_err(SendUploadError::Source)?);
        }
        self.send(Request::from_parts(parts, bytes))
            .await
            .map_err(SendUploadError::Transport)
    }

    /// Sends an artifact `GET` and streams a 2xx body into `sink`; see
    /// [`HttpClient::send_download`]. The default reads the whole answer
    /// with [`AsyncHttpClient::send`] and writes it to the sink.
    async fn send_download(
        &self,
        request: Request<Vec<u8>>,
        sink: &mut dyn AsyncDownloadSink,
    ) -> Result<Response<Vec<u8>>, SendDownloadError<Self::Error>> {
        let response = self
            .send(request)
            .await
            .map_err(SendDownloadError::Transport)?;
        if !response.status().is_success() {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        sink.write_chunk(&body)
            .await
            .map_err(SendDownloadError::Sink)?;
        Ok(Response::from_parts(parts, Vec::new()))
    }

    /// Classifies one of the client's errors for the retry decision. The
    /// default finds an [`io::Error`] in the error's source chain
    /// ([`TransportErrorKind::of_error`]).
    fn error_kind(&self, error: &Self::Error) -> TransportErrorKind {
        TransportErrorKind::of_error(error)
    }
}

/// A failed upload send: the transport failed, or the body's source did.
#[derive(Debug)]
pub enum SendUploadError<E> {
    /// The transport failed.
    Transport(E),
    /// Reading the body failed (the file vanished, shrank or grew).
    Source(io::Error),
    /// The upload made no progress for this long (the transport's own
    /// watch of the upload stall timeout, for an HTTP client that has no
    /// such timeout): a [`TransportErrorKind::Timeout`].
    Stalled(Duration),
}

/// A failed download send: the transport failed, or writing to the sink
/// did.
#[derive(Debug)]
pub enum SendDownloadError<E> {
    /// The transport failed (the answer may have broken off midway).
    Transport(E),
    /// Writing to the sink failed (disk full, no permission).
    Sink(io::Error),
}

/// Time, sleep and randomness for the blocking flows: the protocol reads
/// none of them itself.
pub trait Runtime {
    /// A monotonic now, for deadlines.
    fn now(&self) -> Instant;
    /// The wall clock, for upload URL expiry.
    fn wall_clock(&self) -> SystemTime;
    /// Blocks for `duration`.
    fn sleep(&self, duration: Duration);
    /// A random number, for backoff jitter.
    fn random(&self) -> u64;

    /// The moment, for a flow's step: the clocks and a random number.
    fn inputs(&self) -> crate::engine::Inputs {
        crate::engine::Inputs {
            now: self.now(),
            wall_clock: self.wall_clock(),
            random: self.random(),
        }
    }

    /// A file as an upload source, measured as `len` bytes. The default is
    /// [`FileSource`](crate::FileSource) (std's files).
    fn file_source(&self, path: PathBuf, len: u64) -> Box<dyn UploadSource> {
        Box::new(crate::FileSource::new(path, len))
    }

    /// A file as a download sink. The default is
    /// [`FileSink`](crate::FileSink) (std's files; written as `<path>.part`,
    /// renamed on commit).
    fn file_sink(&self, path: PathBuf) -> Box<dyn DownloadSink> {
        Box::new(crate::FileSink::new(path))
    }

    /// Runs `work`, which blocks on local files (reading a file's first
    /// and last bytes to check it). The default runs it in place.
    fn unblock<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        work()
    }
}

#[cfg(feature = "async")]
/// Time, sleep and randomness for the async flows, and a way to run
/// blocking work ([`unblock`](AsyncRuntime::unblock)) on which the default
/// files are built: an embedder implements the clocks, `sleep`, `random`
/// and `unblock`.
#[async_trait::async_trait]
pub trait AsyncRuntime: Send + Sync + Clone + 'static {
    /// A monotonic now, for deadlines.
    fn now(&self) -> Instant;
    /// The wall clock, for upload URL expiry.
    fn wall_clock(&self) -> SystemTime;
    /// Waits for `duration` without blocking the thread.
    async fn sleep(&self, duration: Duration);
    /// A random number, for backoff jitter.
    fn random(&self) -> u64;

    /// The moment, for a flow's step: the clocks and a random number.
    fn inputs(&self) -> crate::engine::Inputs {
        crate::engine::Inputs {
            now: self.now(),
            wall_clock: self.wall_clock(),
            random: self.random(),
        }
    }

    /// A file as an upload source, measured as `len` bytes, read without
    /// blocking the runtime's threads. The default is an
    /// [`UnblockedFileSource`](crate::UnblockedFileSource): std's file read
    /// through [`unblock`](AsyncRuntime::unblock), at most
    /// `2 × READ_AHEAD` chunks ahead of the transport.
    fn file_source(&self, path: PathBuf, len: u64) -> Box<dyn AsyncUploadSource> {
        Box::new(crate::UnblockedFileSource::new(path, len, self.unblocker()))
    }

    /// A file as a download sink, written as `<path>.part` and renamed on
    /// commit ([`part_path`](crate::io::part_path)). The default is an
    /// [`UnblockedFileSink`](crate::UnblockedFileSink): std's
    /// [`FileSink`](crate::FileSink) run through [`unblock`](AsyncRuntime::unblock).
    fn file_sink(&self, path: PathBuf) -> Box<dyn AsyncDownloadSink> {
        Box::new(crate::UnblockedFileSink::new(path, self.unblocker()))
    }

    /// [`unblock`](AsyncRuntime::unblock) as a value, for the default
    /// files (a clone of the runtime runs each piece of work).
    fn unblocker(&self) -> crate::Unblocker {
        let runtime = self.clone();
        crate::Unblocker::new(move |work| {
            let runtime = runtime.clone();
            Box::pin(async move { runtime.unblock(work).await })
        })
    }

    /// Runs `work`, which blocks on local files (reading a file's first and
    /// last bytes to check it), off the runtime's threads where it can.
    async fn unblock<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send + 'static>) -> T;
}

/// Where an upload body keeps its source's own failure (the file vanished,
/// shrank or grew), so that the driver reports the file and not the
/// network, whatever the transport made of the copy it was handed.
#[derive(Clone, Debug, Default)]
pub struct SourceFault(std::sync::Arc<std::sync::Mutex<Option<io::Error>>>);

impl SourceFault {
    /// Keeps `error` and returns a copy of it for the transport.
    fn keep(&self, error: io::Error) -> io::Error {
        let copy = io::Error::new(error.kind(), error.to_string());
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
        copy
    }

    /// The source's failure, if reading it failed.
    pub fn take(&self) -> Option<io::Error> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The body of a blocking upload: exactly `len` bytes from a reader, with
/// progress reported as the transport reads. A source that ends early or
/// holds more than `len` bytes is an error (the file changed since it was
/// measured), never a cut or padded body.
pub struct UploadBody<'a> {
    reader: Box<dyn Read + Send + 'a>,
    len: u64,
    sent: u64,
    progress: Option<ProgressFn>,
    fault: SourceFault,
}

impl<'a> UploadBody<'a> {
    /// A body of `len` bytes read from `reader`.
    pub fn new(reader: Box<dyn Read + Send + 'a>, len: u64, progress: Option<ProgressFn>) -> Self {
        UploadBody {
            reader,
            len,
            sent: 0,
            progress,
            fault: SourceFault::default(),
        }
    }

    /// Where the body keeps its source's failure (see [`SourceFault`]).
    pub fn fault(&self) -> SourceFault {
        self.fault.clone()
    }

    /// The body's length (the `Content-Length`).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for UploadBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadBody")
            .field("len", &self.len)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

fn source_ended(sent: u64, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the upload source ended after {sent} of {len} bytes; did the file change?"),
    )
}

fn source_longer(len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the upload source holds more than the {len} bytes declared; did the file change?"),
    )
}

impl Read for UploadBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_source(buf).map_err(|e| self.fault.keep(e))
    }
}

impl UploadBody<'_> {
    fn read_source(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len - self.sent;
        if buf.is_empty() {
            return Ok(0);
        }
        if left == 0 {
            // The declared length is sent: the source must be at its end.
            let mut probe = [0u8; 1];
            return loop {
                match self.reader.read(&mut probe) {
                    Ok(0) => break Ok(0),
                    Ok(_) => break Err(source_longer(self.len)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => break Err(e),
                }
            };
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(source_ended(self.sent, self.len));
        }
        self.sent += n as u64;
        if let Some(progress) = &self.progress {
            progress(self.sent, self.len);
        }
        Ok(n)
    }
}

#[cfg(feature = "async")]
/// The body of an async upload: exactly `len` bytes from a stream, with
/// progress reported as the transport pulls chunks. A stream that ends
/// early or yields more than `len` bytes is an error, never a cut body: the
/// last chunk is held back until the stream has said it is done.
pub struct AsyncUploadBody {
    stream: ByteStream,
    len: u64,
    sent: u64,
    last: Option<Bytes>,
    progress: Option<ProgressFn>,
    fault: SourceFault,
}

#[cfg(feature = "async")]
impl AsyncUploadBody {
    /// A body of `len` bytes pulled from `stream`.
    pub fn new(stream: ByteStream, len: u64, progress: Option<ProgressFn>) -> Self {
        AsyncUploadBody {
            stream,
            len,
            sent: 0,
            last: None,
            progress,
            fault: SourceFault::default(),
        }
    }

    /// Where the body keeps its source's failure (see [`SourceFault`]).
    pub fn fault(&self) -> SourceFault {
        self.fault.clone()
    }

    /// The body's length (the `Content-Length`).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(feature = "async")]
impl std::fmt::Debug for AsyncUploadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncUploadBody")
            .field("len", &self.len)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "async")]
impl Stream for AsyncUploadBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.as_mut().poll_source(cx) {
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(self.fault.keep(e)))),
            other => other,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

#[cfg(feature = "async")]
impl AsyncUploadBody {
    fn poll_source(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Bytes>>> {
        let this = &mut *self;
        loop {
            let left = this.len - this.sent;
            let polled = if left == 0 && this.last.is_none() {
                // Everything was handed over and the stream said it ended.
                return Poll::Ready(None);
            } else {
                this.stream.as_mut().poll_next(cx)
            };
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(_))) if this.last.is_some() => {
                    this.last = None;
                    return Poll::Ready(Some(Err(source_longer(this.len))));
                }
                Poll::Ready(Some(Ok(chunk))) if chunk.len() as u64 > left => {
                    return Poll::Ready(Some(Err(source_longer(this.len))));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    this.sent += chunk.len() as u64;
                    if this.sent < this.len {
                        if let Some(progress) = &this.progress {
                            progress(this.sent, this.len);
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    // The last chunk waits for the stream's end.
                    this.last = Some(chunk);
                }
                Poll::Ready(None) => match this.last.take() {
                    Some(chunk) => {
                        if let Some(progress) = &this.progress {
                            progress(this.sent, this.len);
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    None => return Poll::Ready(Some(Err(source_ended(this.sent, this.len)))),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn upload_body_is_exactly_len_bytes_with_progress() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let progress: ProgressFn = std::sync::Arc::new(move |sent: u64, total: u64| {
            record.lock().unwrap().push((sent, total))
        });
        let mut body = UploadBody::new(Box::new(&b"hello"[..]), 5, Some(progress));
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(seen.lock().unwrap().last(), Some(&(5, 5)));
    }

    #[test]
    fn a_longer_source_is_an_error_not_a_cut_body() {
        let mut body = UploadBody::new(Box::new(&b"hello world"[..]), 5, None);
        let err = body.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("more than the 5 bytes"), "{err}");
    }

    #[cfg(feature = "async")]
    fn drain(mut body: AsyncUploadBody) -> io::Result<Vec<u8>> {
        use futures_util::StreamExt as _;
        futures_util::future::FutureExt::now_or_never(async move {
            let mut out = Vec::new();
            while let Some(chunk) = body.next().await {
                out.extend_from_slice(&chunk?);
            }
            Ok(out)
        })
        .expect("ready streams")
    }

    #[cfg(feature = "async")]
    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let parts: Vec<io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures_util::stream::iter(parts))
    }

    #[cfg(feature = "async")]
    #[test]
    fn an_async_body_is_exactly_its_length() {
        assert_eq!(
            drain(AsyncUploadBody::new(chunks(&[b"he", b"llo"]), 5, None)).unwrap(),
            b"hello"
        );
        let long = drain(AsyncUploadBody::new(
            chunks(&[b"he", b"llo", b"!"]),
            5,
            None,
        ));
        assert!(long.unwrap_err().to_string().contains("more than the 5"));
        let longer_chunk = drain(AsyncUploadBody::new(chunks(&[b"hello!"]), 5, None));
        assert!(
            longer_chunk
                .unwrap_err()
                .to_string()
                .contains("more than the 5")
        );
        let short = drain(AsyncUploadBody::new(chunks(&[b"hell"]), 5, None));
        assert!(short.unwrap_err().to_string().contains("after 4 of 5"));
    }

    #[test]
    fn a_short_source_is_an_error() {
        let mut body = UploadBody::new(Box::new(&b"abc"[..]), 5, None);
        let err = body.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("after 3 of 5 bytes"));
    }

    #[test]
    fn a_closure_is_a_client_and_uploads_in_memory_by_default() {
        let client = |req: Request<Vec<u8>>| -> Result<Response<Vec<u8>>, io::Error> {
            Ok(Response::new(req.into_body()))
        };
        let body = UploadBody::new(Box::new(&b"12345"[..]), 5, None);
        let echoed = client.send_upload(Request::new(body)).unwrap();
        assert_eq!(echoed.body(), b"12345");
        assert_eq!(
            client.error_kind(&io::Error::other("x")),
            TransportErrorKind::Other
        );
    }
}
