//! Drivers: the flows (send with retries, upload, wait, list everything)
//! run over any [`HttpClient`](crate::HttpClient) or
//! [`AsyncHttpClient`](crate::AsyncHttpClient), with the time, sleep and
//! randomness of a [`Runtime`](crate::Runtime). Every decision is made by
//! the state machines of [`crate::flow`]; a driver only moves bytes and
//! sleeps. The official backends are these drivers with reqwest or ureq
//! plugged in; yours can be too.

use std::io::{self, Read};

use authenta_types::{CreatedMedia, MediaId};

use crate::response::UploadReceipt;
use crate::transport::ByteStream;
use crate::upload::UploadTarget;

pub mod blocking;
pub mod nonblocking;

/// Where the bytes of a blocking upload come from.
pub trait UploadSource: Send {
    /// How many bytes the source holds.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`UploadSource::open`] can be called again after a failed
    /// attempt (a file can; a one-shot stream cannot). Only a reopenable
    /// upload is retried.
    fn reopenable(&self) -> bool;

    /// Opens the source from its first byte.
    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>>;

    /// A name for messages, such as the file's path.
    fn describe(&self) -> String {
        "the upload source".to_owned()
    }
}

impl UploadSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(&**self))
    }
}

impl UploadSource for Vec<u8> {
    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.as_slice()))
    }
}

/// Checks that a source opened again for another attempt still holds the
/// `measured` bytes it was created with (`now` is its length at opening):
/// a file that grew or shrank since is not uploaded. For
/// [`UploadSource::open`] and [`AsyncUploadSource::open`] over files.
///
/// ```
/// use authenta_proto::driver::check_reopened_len;
///
/// assert!(check_reopened_len(10, 10).is_ok());
/// let err = check_reopened_len(10, 14).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// assert!(err.to_string().contains("now 14 bytes, not the 10"));
/// ```
pub fn check_reopened_len(measured: u64, now: u64) -> io::Result<()> {
    if measured == now {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file is now {now} bytes, not the {measured} it had when measured; upload it again"
        ),
    ))
}

/// A reader of known length that can be read once: its upload is never
/// retried.
pub struct OneShot<R> {
    reader: Option<R>,
    len: u64,
}

impl<R: Read + Send> OneShot<R> {
    /// `len` bytes from `reader`.
    pub fn new(reader: R, len: u64) -> Self {
        OneShot {
            reader: Some(reader),
            len,
        }
    }
}

impl<R: Read + Send> UploadSource for OneShot<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn reopenable(&self) -> bool {
        false
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        match self.reader.as_mut() {
            Some(reader) => Ok(Box::new(reader)),
            None => Err(io::Error::other(
                "a one-shot upload source cannot be read twice",
            )),
        }
    }
}

/// Where the bytes of an async upload come from.
#[async_trait::async_trait]
pub trait AsyncUploadSource: Send {
    /// How many bytes the source holds.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`AsyncUploadSource::open`] can be called again; only a
    /// reopenable upload is retried.
    fn reopenable(&self) -> bool;

    /// Opens the source from its first byte.
    async fn open(&mut self) -> io::Result<ByteStream>;

    /// A name for messages, such as the file's path.
    fn describe(&self) -> String {
        "the upload source".to_owned()
    }
}

#[async_trait::async_trait]
impl AsyncUploadSource for bytes::Bytes {
    fn len(&self) -> u64 {
        bytes::Bytes::len(self) as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        let chunk = self.clone();
        Ok(Box::pin(futures_util::stream::once(
            async move { Ok(chunk) },
        )))
    }
}

/// A stream of known length that can be read once: its upload is never
/// retried.
pub struct OneShotStream {
    stream: Option<ByteStream>,
    len: u64,
}

impl OneShotStream {
    /// `len` bytes from `stream`.
    pub fn new(stream: ByteStream, len: u64) -> Self {
        OneShotStream {
            stream: Some(stream),
            len,
        }
    }
}

#[async_trait::async_trait]
impl AsyncUploadSource for OneShotStream {
    fn len(&self) -> u64 {
        self.len
    }

    fn reopenable(&self) -> bool {
        false
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        self.stream
            .take()
            .ok_or_else(|| io::Error::other("a one-shot upload stream cannot be read twice"))
    }
}

/// A record created and its file uploaded.
#[derive(Clone, Debug)]
pub struct Uploaded {
    /// The create response.
    pub created: CreatedMedia,
    /// Where the file went (serializable: keep it to retry the upload).
    pub target: UploadTarget,
    /// S3's receipt.
    pub receipt: UploadReceipt,
}

impl Uploaded {
    /// The new record's id.
    pub fn mid(&self) -> &MediaId {
        &self.created.media.mid
    }
}

// What the blocking and async drivers share, so each is only its loop.

/// The span of one API operation: method, route template, mid, then the
/// attempt, status and error code as they become known. Never the URL's
/// values beyond the mid, never a header.
pub(crate) fn operation_span(
    operation: authenta_types::Operation,
    mid: Option<&MediaId>,
) -> tracing::Span {
    let route = operation.route();
    tracing::info_span!(
        "authenta.request",
        method = route.method,
        route = route.path,
        mid = mid.map(|m| tracing::field::display(m.clone())),
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        code = tracing::field::Empty,
    )
}

/// The span of an upload: the URL without its query (the signature).
pub(crate) fn upload_span(target: &UploadTarget) -> tracing::Span {
    tracing::info_span!(
        "authenta.upload",
        method = "PUT",
        url = %target.redacted_url(),
        mid = target.mid.as_ref().map(|m| tracing::field::display(m.clone())),
        size = target.size,
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        code = tracing::field::Empty,
    )
}

pub(crate) fn record_response(span: &tracing::Span, response: &http::Response<Vec<u8>>) {
    span.record("status", response.status().as_u16());
}

pub(crate) fn record_result<T, E>(
    span: &tracing::Span,
    result: Result<T, crate::flow::Failure<E>>,
) -> Result<T, crate::flow::Failure<E>> {
    if let Err(failure) = &result {
        if let Some(code) = failure.code() {
            span.record("code", code.as_str());
        }
        span.in_scope(|| tracing::debug!(class = ?failure.class(), "failed"));
    }
    result
}

pub(crate) fn check_len(
    expected: u64,
    actual: u64,
    mid: Option<&MediaId>,
) -> Result<(), crate::error::ValidationError> {
    if expected == actual {
        Ok(())
    } else {
        Err(crate::error::ValidationError::SizeMismatch {
            expected,
            actual,
            mid: mid.cloned(),
        })
    }
}

pub(crate) fn check_source_len(target: &UploadTarget, actual: u64) -> Result<(), crate::Error> {
    check_len(target.size, actual, target.mid.as_ref()).map_err(crate::Error::Invalid)
}

pub(crate) fn source_failure<E>(
    error: io::Error,
    source: String,
    target: &UploadTarget,
) -> crate::flow::Failure<E> {
    crate::flow::Failure::Io {
        error,
        context: format!("reading {source}"),
        mid: target.mid.clone(),
    }
}

/// A sink that counts the bytes it takes (since its last restart).
pub(crate) struct Counted<'a, S: ?Sized> {
    sink: &'a mut S,
    pub(crate) written: u64,
}

impl<'a, S: ?Sized> Counted<'a, S> {
    pub(crate) fn new(sink: &'a mut S) -> Self {
        Counted { sink, written: 0 }
    }
}

impl<S: crate::transport::DownloadSink + ?Sized> crate::transport::DownloadSink for Counted<'_, S> {
    fn restart(&mut self) -> io::Result<()> {
        self.written = 0;
        self.sink.restart()
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.sink.write_chunk(chunk)?;
        self.written += chunk.len() as u64;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<S: crate::transport::AsyncDownloadSink + ?Sized> crate::transport::AsyncDownloadSink
    for Counted<'_, S>
{
    async fn restart(&mut self) -> io::Result<()> {
        self.written = 0;
        self.sink.restart().await
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.sink.write_chunk(chunk).await?;
        self.written += chunk.len() as u64;
        Ok(())
    }
}

/// A sink into memory that takes at most
/// [`MAX_API_RESPONSE_BYTES`](crate::transport::MAX_API_RESPONSE_BYTES):
/// what is read into memory stays bounded whatever the transport.
#[derive(Default)]
pub(crate) struct Bounded(Vec<u8>);

impl Bounded {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn take(&mut self, chunk: &[u8]) -> io::Result<()> {
        let max = crate::transport::MAX_API_RESPONSE_BYTES;
        if (self.0.len() + chunk.len()) as u64 > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the answer is larger than {max} bytes, more than a document holds"),
            ));
        }
        self.0.extend_from_slice(chunk);
        Ok(())
    }
}

impl crate::transport::DownloadSink for Bounded {
    fn restart(&mut self) -> io::Result<()> {
        self.0.clear();
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.take(chunk)
    }
}

#[async_trait::async_trait]
impl crate::transport::AsyncDownloadSink for Bounded {
    async fn restart(&mut self) -> io::Result<()> {
        self.0.clear();
        Ok(())
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.take(chunk)
    }
}

pub(crate) fn sink_failure<E>(error: io::Error, mid: Option<&MediaId>) -> crate::flow::Failure<E> {
    crate::flow::Failure::Io {
        error,
        context: "writing the download".to_owned(),
        mid: mid.cloned(),
    }
}

pub(crate) fn parse_result<E>(
    bytes: &[u8],
    mid: &MediaId,
) -> Result<authenta_types::ResultDocument, crate::flow::Failure<E>> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::flow::Failure::Proto(crate::Error::Decode(Box::new(crate::error::DecodeError {
            status: http::StatusCode::OK,
            operation: None,
            reason: format!("the result document is not what resultURL holds: {e}"),
            snippet: crate::response::snippet(bytes, None),
            mid: Some(mid.clone()),
        })))
    })
}

#[cfg(test)]
mod tests {
    use super::Bounded;
    use crate::transport::DownloadSink as _;

    #[test]
    fn a_bounded_sink_refuses_more_than_an_api_answer() {
        let mut sink = Bounded::default();
        sink.write_chunk(b"abc").unwrap();
        sink.restart().unwrap();
        sink.write_chunk(b"de").unwrap();
        let big = vec![0u8; crate::transport::MAX_API_RESPONSE_BYTES as usize];
        let err = sink.write_chunk(&big).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        assert_eq!(sink.into_bytes(), b"de");
    }
}
