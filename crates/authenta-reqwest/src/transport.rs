//! [`ReqwestTransport`]: proto's [`AsyncHttpClient`] over reqwest.
//!
//! A translation only: `http::Request` in, reqwest's call, `http::Response`
//! out, plus streaming. Every decision (retry, what an answer means) is
//! proto's.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use authenta_client::proto::{
    ConfigError, upload::EXPECT_CONTINUE_WAIT, wire::RESPONSE_READ_LIMIT, wire::RequestTimeout,
    wire::TransportErrorKind,
};
use authenta_client::{
    AsyncDownloadSink, AsyncHttpClient, AsyncUploadBody, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_UPLOAD_STALL_TIMEOUT, SendDownloadError, SendUploadError,
};
use futures_util::Stream;
use http::{Request, Response};

/// Proto's [`AsyncHttpClient`] over a [`reqwest::Client`]: API requests and
/// artifact downloads with the request timeout, the upload `PUT` streamed
/// with its exact `Content-Length` (never chunked), the upload timeout and
/// the upload stall timeout (watched here: hyper has none).
///
/// hyper does not wait for `100 Continue`: when proto's head asks
/// `Expect: 100-continue` (a large upload), the body is held until the
/// connection answers (`100 Continue`, seen as hyper waking up) or
/// [`EXPECT_CONTINUE_WAIT`] passes, so that S3's early refusal arrives as
/// its answer rather than as a connection broken under the body.
///
/// Errors have their URL removed ([`reqwest::Error::without_url`]), so no
/// pre-signed query string reaches a message or a log.
///
/// [`Client`](crate::Client) builds one; build your own with
/// [`ReqwestTransport::new`] to drive proto's flows directly:
///
/// ```
/// use authenta_reqwest::{Config, Credentials, GenericClient, ReqwestTransport, TokioRuntime};
/// use authenta_reqwest::client::Async;
///
/// let http = authenta_reqwest::reqwest_client_builder().build()?;
/// let transport = ReqwestTransport::new(http)?;
/// let config = Config::new(Credentials::new("id", "secret"));
/// let client = GenericClient::new(config, Async { transport, runtime: TokioRuntime });
/// // Or the crate's own client over it:
/// let client = authenta_reqwest::Client::from_generic(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    request_timeout: Option<Duration>,
    upload_timeout: Option<Duration>,
    upload_stall_timeout: Option<Duration>,
}

impl std::fmt::Debug for ReqwestTransport {
    // Not the reqwest client's own Debug: it shows its default headers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("upload_stall_timeout", &self.upload_stall_timeout)
            .finish_non_exhaustive()
    }
}

impl ReqwestTransport {
    /// A transport over `client`, with the request timeout
    /// [`DEFAULT_REQUEST_TIMEOUT`], no upload timeout, and the upload stall
    /// timeout [`DEFAULT_UPLOAD_STALL_TIMEOUT`].
    ///
    /// The client must not follow redirects: reqwest keeps custom headers
    /// such as `x-client-secret` on a redirect, even to another host. Build
    /// it with `.redirect(reqwest::redirect::Policy::none())`. A client that
    /// may follow redirects (the default policy, or a custom one, which
    /// cannot be inspected) is refused with [`ConfigError::HttpClient`].
    pub fn new(client: reqwest::Client) -> Result<Self, ConfigError> {
        check_no_redirects(&client)?;
        Ok(ReqwestTransport {
            client,
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            upload_timeout: None,
            upload_stall_timeout: Some(DEFAULT_UPLOAD_STALL_TIMEOUT),
        })
    }

    /// The timeout of an API request and its answer, and of an artifact
    /// download; `None` leaves only the reqwest client's own.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The timeout of the whole upload `PUT`; `None` (the default) leaves
    /// only the reqwest client's own.
    pub fn upload_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// How long an upload may go without progress: no chunk of the body
    /// taken by the connection, or no answer once it is all taken. `None`
    /// for no limit.
    pub fn upload_stall_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.upload_stall_timeout = timeout;
        self
    }

    /// The reqwest client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.client
    }

    async fn execute(
        &self,
        request: Request<reqwest::Body>,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request =
            reqwest::Request::try_from(request).map_err(reqwest::Error::without_url)?;
        *request.timeout_mut() = timeout;
        self.client
            .execute(request)
            .await
            .map_err(reqwest::Error::without_url)
    }
}

/// Refuses a client whose redirect policy may follow a redirect. reqwest
/// offers no way to read the policy back but its `Debug`, which names any
/// policy other than the default; only "none" and "limited to 0" are safe.
fn check_no_redirects(client: &reqwest::Client) -> Result<(), ConfigError> {
    let debug = format!("{client:?}");
    let safe = ["Policy(None)", "Policy(Limit(0))"]
        .iter()
        .any(|policy| debug.contains(&format!("redirect_policy: {policy:?}")));
    if safe {
        Ok(())
    } else {
        Err(ConfigError::HttpClient(
            "the reqwest client may follow redirects, which would carry the client secret to another host; build it with .redirect(reqwest::redirect::Policy::none())".into(),
        ))
    }
}

/// An answer's status, version and headers (taken out of `response`).
fn head(response: &mut reqwest::Response) -> Response<()> {
    let mut head = Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = std::mem::take(response.headers_mut());
    head
}

/// Reads an answer's body, at most [`RESPONSE_READ_LIMIT`] bytes (proto
/// refuses a body that reaches it).
async fn read_capped(mut response: reqwest::Response) -> reqwest::Result<Response<Vec<u8>>> {
    let head = head(&mut response);
    let cap = usize::try_from(RESPONSE_READ_LIMIT).unwrap_or(usize::MAX);
    let hint = response.content_length().unwrap_or(0).min(64 * 1024) as usize;
    let mut body = Vec::with_capacity(hint.min(cap));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(reqwest::Error::without_url)?
    {
        let room = cap - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(head.map(|()| body))
}

/// What an upload's body tells its watchdog: when hyper last took a chunk,
/// and whether the answer came.
struct Watch {
    started: tokio::time::Instant,
    /// Milliseconds from `started` to the last chunk taken.
    last: AtomicU64,
    answered: AtomicBool,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            started: tokio::time::Instant::now(),
            last: AtomicU64::new(0),
            answered: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let now = self.started.elapsed().as_millis();
        self.last
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Resolves once no chunk was taken for `stall` (hyper takes the next
    /// chunk as soon as the connection accepted the previous ones).
    async fn stalled(&self, stall: Duration) {
        let tick = (stall / 8).clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            tokio::time::sleep(tick).await;
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            if self.started.elapsed().saturating_sub(last) >= stall {
                return;
            }
        }
    }
}

/// How long the body is still held once the connection woke up during the
/// `100 Continue` wait: long enough for a final answer hyper just read to
/// reach the caller (which then never sends the body).
const SETTLE: Duration = Duration::from_millis(10);

/// A poll of the body this soon after the first is hyper's own (it polls
/// again once it has flushed the head), not the connection waking up: no
/// answer crosses a network, or leaves a server, that fast.
const SAME_RUN: Duration = Duration::from_micros(300);

/// Where the body is in the `100 Continue` wait.
enum Gate {
    /// Held: the wait's deadline, and when hyper first polled the body.
    Holding(Pin<Box<tokio::time::Sleep>>, Option<tokio::time::Instant>),
    /// The connection woke up before the deadline (hyper polls the body
    /// again whenever bytes arrive: `100 Continue`, or a final answer).
    Settling(Pin<Box<tokio::time::Sleep>>),
    /// Sent (or never held).
    Open,
}

/// The upload body as hyper sees it: held back for the `100 Continue` wait
/// when the head asks for it, each chunk taken reported to the watch.
///
/// hyper reads and ignores `100 Continue` without telling anyone, but it
/// polls the body again when the connection wakes up: the body is held
/// until that wake (and [`SETTLE`] more, in case it was a final answer) or
/// [`EXPECT_CONTINUE_WAIT`], whichever comes first.
struct Watched {
    gate: Gate,
    stream: AsyncUploadBody,
    watch: Arc<Watch>,
}

impl Stream for Watched {
    type Item = std::io::Result<authenta_client::bytes::Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.gate {
                Gate::Open => break,
                Gate::Holding(deadline, first) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.gate = Gate::Open;
                        this.watch.touch();
                        continue;
                    }
                    let now = tokio::time::Instant::now();
                    match first {
                        None => *first = Some(now),
                        Some(at) if now.duration_since(*at) < SAME_RUN => {}
                        Some(_) => {
                            this.gate = Gate::Settling(Box::pin(tokio::time::sleep(SETTLE)));
                            continue;
                        }
                    }
                    return Poll::Pending;
                }
                Gate::Settling(settle) => {
                    ready!(settle.as_mut().poll(cx));
                    this.gate = Gate::Open;
                }
            }
            this.watch.touch();
        }
        if this.watch.answered.load(Ordering::SeqCst) {
            return Poll::Ready(Some(Err(std::io::Error::other(
                "the server answered before the upload body was sent",
            ))));
        }
        let polled = Pin::new(&mut this.stream).poll_next(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.watch.touch();
        }
        polled
    }
}

#[authenta_client::async_trait]
impl AsyncHttpClient for ReqwestTransport {
    type Error = reqwest::Error;

    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, reqwest::Error> {
        let timeout = RequestTimeout::of(&request, self.request_timeout);
        let response = self
            .execute(request.map(reqwest::Body::from), timeout)
            .await?;
        read_capped(response).await
    }

    async fn send_upload(
        &self,
        request: Request<AsyncUploadBody>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<reqwest::Error>> {
        // The head already holds Content-Length, so hyper sends exactly that
        // many bytes and never `Transfer-Encoding: chunked`. A failure of the
        // body's source is kept by the body itself (proto's SourceFault).
        let expect = request
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let watch = Arc::new(Watch::new());
        let (parts, upload) = request.into_parts();
        let body = Watched {
            gate: match expect {
                true => Gate::Holding(Box::pin(tokio::time::sleep(EXPECT_CONTINUE_WAIT)), None),
                false => Gate::Open,
            },
            stream: upload,
            watch: watch.clone(),
        };
        let request = Request::from_parts(parts, reqwest::Body::wrap_stream(body));
        let answer = async {
            let response = self.execute(request, self.upload_timeout).await;
            // The answer came: a body still held back is never sent.
            watch.answered.store(true, Ordering::SeqCst);
            read_capped(response?).await
        };
        let Some(stall) = self.upload_stall_timeout else {
            return answer.await.map_err(SendUploadError::Transport);
        };
        tokio::select! {
            answer = answer => answer.map_err(SendUploadError::Transport),
            () = watch.stalled(stall) => {
                tracing::warn!(stall_ms = stall.as_millis() as u64, "the upload made no progress");
                Err(SendUploadError::Stalled(stall))
            }
        }
    }

    async fn send_download(
        &self,
        request: Request<Vec<u8>>,
        sink: &mut dyn AsyncDownloadSink,
    ) -> Result<Response<Vec<u8>>, SendDownloadError<reqwest::Error>> {
        let timeout = RequestTimeout::of(&request, self.request_timeout);
        let mut response = self
            .execute(request.map(reqwest::Body::from), timeout)
            .await
            .map_err(SendDownloadError::Transport)?;
        if !response.status().is_success() {
            return read_capped(response)
                .await
                .map_err(SendDownloadError::Transport);
        }
        let head = head(&mut response);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| SendDownloadError::Transport(e.without_url()))?
        {
            sink.write_chunk(&chunk)
                .await
                .map_err(SendDownloadError::Sink)?;
        }
        Ok(head.map(|()| Vec::new()))
    }

    fn error_kind(&self, error: &reqwest::Error) -> TransportErrorKind {
        // A connect timeout is a connect error: the request never left.
        if error.is_connect() {
            TransportErrorKind::Connect
        } else if error.is_timeout() {
            TransportErrorKind::Timeout
        } else if error.is_body() || error.is_request() || error.is_decode() {
            TransportErrorKind::Interrupted
        } else {
            TransportErrorKind::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::redirect::Policy;

    /// A server that reads a `PUT` head, takes 300 ms to decide (a far
    /// S3), refuses it and closes: the bytes of the body it saw.
    async fn refusing_server() -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/b/k", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            let head_end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let xml =
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
            let answer = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{xml}",
                xml.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            // What came of the body before the answer.
            let mut body = seen.len() - head_end;
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                body += n;
            }
            body
        });
        (url, server)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_large_upload_waits_for_the_early_answer_and_never_sends_its_body() {
        let (url, server) = refusing_server().await;
        const LEN: usize = 16 * 1024 * 1024;
        let chunks = (0..LEN / (1024 * 1024))
            .map(|_| Ok(authenta_client::bytes::Bytes::from(vec![7u8; 1024 * 1024])));
        let body = AsyncUploadBody::new(
            Box::pin(futures_util::stream::iter(chunks)),
            LEN as u64,
            None,
        );
        let request = Request::put(url)
            .header(http::header::CONTENT_LENGTH, LEN)
            .header(http::header::EXPECT, "100-continue")
            .body(body)
            .unwrap();
        let transport =
            ReqwestTransport::new(crate::reqwest_client_builder().build().unwrap()).unwrap();
        let response = transport.send_upload(request).await.unwrap();
        assert_eq!(response.status(), 403);
        assert!(String::from_utf8_lossy(response.body()).contains("AccessDenied"));
        assert_eq!(server.await.unwrap(), 0, "no byte of the body was sent");
    }

    fn client(policy: Policy) -> reqwest::Client {
        crate::reqwest_client_builder()
            .redirect(policy)
            .build()
            .unwrap()
    }

    #[test]
    fn only_a_client_that_never_follows_redirects_is_taken() {
        assert!(ReqwestTransport::new(crate::reqwest_client_builder().build().unwrap()).is_ok());
        assert!(ReqwestTransport::new(client(Policy::none())).is_ok());
        assert!(ReqwestTransport::new(client(Policy::limited(0))).is_ok());
        for risky in [
            client(Policy::default()),
            client(Policy::limited(3)),
            client(Policy::custom(|a| a.stop())),
        ] {
            let err = ReqwestTransport::new(risky).unwrap_err();
            assert!(
                err.to_string().contains("Policy::none()"),
                "the error says what to do: {err}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_clients_default_headers() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-private", "hunter2".parse().unwrap());
        let http = crate::reqwest_client_builder()
            .default_headers(headers)
            .build()
            .unwrap();
        let debug = format!("{:?}", ReqwestTransport::new(http).unwrap());
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
