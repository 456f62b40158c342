//! [`UreqTransport`]: proto's [`HttpClient`] over a `ureq` agent.

use std::fmt;
use std::io::{self, Read};
use std::time::Duration;

use authenta_client::http::{Request, Response};
use authenta_client::proto::{
    upload::EXPECT_CONTINUE_WAIT, wire::RESPONSE_READ_LIMIT, wire::RequestTimeout,
    wire::TransportErrorKind,
};
use authenta_client::types::redact_url;
use authenta_client::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_UPLOAD_STALL_TIMEOUT, DownloadSink,
    FILE_CHUNK, HttpClient, SendDownloadError, SendUploadError, UploadBody,
};
use ureq::config::ConfigBuilder;
use ureq::typestate::HttpCrateScope;
use ureq::{Agent, AsSendBody, SendBody};

/// The blocking transport: sends proto's requests with a [`ureq::Agent`].
///
/// Whatever the agent's own settings, every request is sent with redirects
/// off (the answer to a request carrying credentials is returned as it is,
/// never followed), HTTP error statuses returned as answers (proto reads
/// them), and this transport's timeouts. API answers are read up to
/// [`RESPONSE_READ_LIMIT`] (proto refuses more); uploads stream their body with the
/// `Content-Length` of the request head, never chunked.
///
/// Most programs use it through [`Client`](crate::Client); use it directly
/// in your own [`authenta_client::Client`] or driver loop.
///
/// ```
/// use std::time::Duration;
/// use authenta_ureq::UreqTransport;
///
/// let transport = UreqTransport::new().request_timeout(Some(Duration::from_secs(5)));
/// # let _ = transport;
/// ```
#[derive(Clone)]
pub struct UreqTransport {
    agent: Agent,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    upload_timeout: Option<Duration>,
    upload_stall_timeout: Option<Duration>,
}

impl fmt::Debug for UreqTransport {
    // The agent stays out: its proxy settings may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqTransport")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("upload_stall_timeout", &self.upload_stall_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new()
    }
}

impl UreqTransport {
    /// A transport with its own agent: TLS from this crate's features,
    /// proxies from the environment, connections pooled; connect timeout
    /// [`DEFAULT_CONNECT_TIMEOUT`], request timeout
    /// [`DEFAULT_REQUEST_TIMEOUT`], no overall upload timeout but
    /// [`DEFAULT_UPLOAD_STALL_TIMEOUT`] without progress.
    pub fn new() -> Self {
        UreqTransport::with_agent(default_agent())
    }

    /// A transport over your own agent (its TLS, proxy, pool and resolver
    /// settings), with the default timeouts. Redirects and error statuses
    /// are still handled per request as described on [`UreqTransport`].
    pub fn with_agent(agent: Agent) -> Self {
        UreqTransport {
            agent,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            upload_timeout: None,
            upload_stall_timeout: Some(DEFAULT_UPLOAD_STALL_TIMEOUT),
        }
    }

    /// How long making a connection (DNS, TCP, TLS) may take; `None` for no
    /// limit.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one API call (or artifact download) may take from start to
    /// the last byte of its answer. `None` for no limit.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a whole upload `PUT` may take; `None` (the default) for no
    /// limit, since it grows with the file.
    pub fn upload_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// How long an upload may go without progress: the longest a single
    /// write of the body may wait to be accepted, and the longest to wait
    /// for S3's answer once the body is sent. `None` for no limit.
    pub fn upload_stall_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.upload_stall_timeout = timeout;
        self
    }

    /// The agent.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Sends an API request or artifact download and returns the answer
    /// with its body still to read.
    fn call(&self, request: Request<Vec<u8>>) -> Result<Response<ureq::Body>, ureq::Error> {
        let timeout = RequestTimeout::of(&request, self.request_timeout);
        if request.body().is_empty() {
            // No body, no `Content-Length: 0` on a GET or DELETE.
            let request = self
                .configure(request.map(|_| ()))
                .timeout_global(timeout)
                .build();
            self.agent.run(request)
        } else {
            let request = self.configure(request).timeout_global(timeout).build();
            self.agent.run(request)
        }
    }

    /// The settings every request gets, whatever the agent's.
    fn configure<S: AsSendBody>(&self, request: Request<S>) -> ConfigBuilder<HttpCrateScope<S>> {
        self.agent
            .configure_request(request)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(self.connect_timeout)
    }
}

/// How much of a streamed download is held at a time.
const DOWNLOAD_BUFFER: usize = 64 * 1024;

/// The agent [`UreqTransport::new`] builds.
fn default_agent() -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // An upload reads the file straight into this buffer: at proto's
        // chunk size it stays in the CPU's cache (see FILE_CHUNK).
        .output_buffer_size(FILE_CHUNK);
    // The platform's store (a company CA installed on the system, or named
    // by SSL_CERT_FILE for OpenSSL), as the reqwest backend trusts: ureq's
    // default roots are the Mozilla list only.
    #[cfg(feature = "native-tls")]
    let config = config.tls_config(
        ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build(),
    );
    #[cfg(all(feature = "rustls", not(feature = "native-tls")))]
    let config = config.tls_config(
        ureq::tls::TlsConfig::builder()
            .root_certs(rustls_root_certs())
            .build(),
    );
    config.build().new_agent()
}

/// The system's roots (on-prem deployments and proxies add their CA there),
/// or the Mozilla roots where the system has none (a bare container): the
/// same choice as authenta-reqwest's.
#[cfg(all(feature = "rustls", not(feature = "native-tls")))]
fn rustls_root_certs() -> ureq::tls::RootCerts {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    match rustls_platform_verifier::Verifier::new(provider) {
        Ok(_) => ureq::tls::RootCerts::PlatformVerifier,
        Err(e) => {
            tracing::debug!(error = %e, "no system root certificates; using the Mozilla roots");
            ureq::tls::RootCerts::WebPki
        }
    }
}

/// Reads an answer's body, at most [`RESPONSE_READ_LIMIT`] bytes (proto
/// refuses a longer one).
fn read_answer(response: Response<ureq::Body>) -> Result<Response<Vec<u8>>, ureq::Error> {
    let (parts, body) = response.into_parts();
    let mut bytes = Vec::new();
    body.into_with_config()
        .limit(u64::MAX)
        .reader()
        .take(RESPONSE_READ_LIMIT)
        .read_to_end(&mut bytes)?;
    Ok(Response::from_parts(parts, bytes))
}

impl HttpClient for UreqTransport {
    type Error = ureq::Error;

    fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, ureq::Error> {
        self.call(request).and_then(read_answer).map_err(scrub)
    }

    fn send_upload(
        &self,
        request: Request<UploadBody<'_>>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<ureq::Error>> {
        // A failure of the body's source is kept by the body itself
        // (proto's SourceFault): every error here is the transport's.
        let (parts, mut body) = request.into_parts();
        let head = self
            .configure(Request::from_parts(parts, ()))
            .timeout_global(self.upload_timeout)
            .timeout_per_write(self.upload_stall_timeout)
            .timeout_recv_response(self.upload_stall_timeout)
            .timeout_await_100(Some(EXPECT_CONTINUE_WAIT))
            .build();
        // The head's `Content-Length` makes ureq send exactly that many
        // bytes, read from the body as it goes: never chunked, never whole.
        // A head with proto's `Expect: 100-continue` makes ureq wait for
        // `100 Continue` first, and take an early refusal as the answer.
        let result = self
            .agent
            .run(head.map(|()| SendBody::from_reader(&mut body)))
            .and_then(read_answer);
        result.map_err(|e| SendUploadError::Transport(scrub(e)))
    }

    fn send_download(
        &self,
        request: Request<Vec<u8>>,
        sink: &mut dyn DownloadSink,
    ) -> Result<Response<Vec<u8>>, SendDownloadError<ureq::Error>> {
        let failed = |e| SendDownloadError::Transport(scrub(e));
        let response = self.call(request).map_err(failed)?;
        if !response.status().is_success() {
            return read_answer(response).map_err(failed);
        }
        let (parts, body) = response.into_parts();
        let mut reader = body.into_reader();
        let mut buffer = vec![0; DOWNLOAD_BUFFER];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed(ureq::Error::from(e))),
            };
            sink.write_chunk(&buffer[..n])
                .map_err(SendDownloadError::Sink)?;
        }
        Ok(Response::from_parts(parts, Vec::new()))
    }

    fn error_kind(&self, error: &ureq::Error) -> TransportErrorKind {
        error_kind(error)
    }
}

/// What kind of failure a ureq error is, for the retry decision. A failure
/// before the request left (refused, DNS, TLS, a connect timeout) is
/// [`TransportErrorKind::Connect`]; other timeouts are
/// [`TransportErrorKind::Timeout`]; a connection that broke or an answer
/// that is not HTTP is [`TransportErrorKind::Interrupted`].
fn error_kind(error: &ureq::Error) -> TransportErrorKind {
    use TransportErrorKind::{Connect, Interrupted, Other, Timeout};
    match error {
        ureq::Error::Io(e) => TransportErrorKind::of_io(e),
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => Connect,
        ureq::Error::Timeout(_) => Timeout,
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::Tls(_)
        | ureq::Error::TlsRequired => Connect,
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        ureq::Error::Pem(_) => Connect,
        #[cfg(feature = "rustls")]
        ureq::Error::Rustls(_) => Connect,
        #[cfg(feature = "native-tls")]
        ureq::Error::NativeTls(_) | ureq::Error::Der(_) => Connect,
        ureq::Error::Protocol(_) => Interrupted,
        _ => Other,
    }
}

/// Takes URLs out of the errors that carry one: an upload URL's query
/// string is its signature.
fn scrub(error: ureq::Error) -> ureq::Error {
    match error {
        ureq::Error::BadUri(uri) => ureq::Error::BadUri(redact_words(&uri)),
        ureq::Error::RequireHttpsOnly(uri) => ureq::Error::RequireHttpsOnly(redact_url(&uri)),
        other => other,
    }
}

/// Redacts the query of every URL-looking word in a message.
fn redact_words(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            if word.contains('?') {
                redact_url(word)
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    /// A one-connection server that answers `answer` and returns the
    /// request head it read.
    fn serve_once(answer: impl Into<Vec<u8>>) -> (String, std::thread::JoinHandle<String>) {
        let answer = answer.into();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            reader.get_mut().write_all(&answer).unwrap();
            head
        });
        (url, handle)
    }

    #[test]
    fn a_redirect_is_returned_not_followed() {
        let trap = TcpListener::bind("127.0.0.1:0").unwrap();
        trap.set_nonblocking(true).unwrap();
        let answer = format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{}/steal\r\nContent-Length: 0\r\n\r\n",
            trap.local_addr().unwrap()
        );
        let (url, server) = serve_once(answer);
        let request = Request::get(format!("{url}/api/media"))
            .header("x-client-secret", "s3cr3t")
            .body(Vec::new())
            .unwrap();
        let response = UreqTransport::new().send(request).unwrap();
        assert_eq!(response.status(), 302);
        let head = server.join().unwrap();
        assert!(
            !head.to_ascii_lowercase().contains("content-length"),
            "a GET goes without a body: {head}"
        );
        assert!(trap.accept().is_err(), "the redirect was followed");
    }

    #[test]
    fn error_statuses_are_answers() {
        let (url, server) = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy",
        );
        let request = Request::get(url).body(Vec::new()).unwrap();
        let response = UreqTransport::new().send(request).unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.body(), b"busy");
        server.join().unwrap();
    }

    /// A sink that records each chunk's size.
    #[derive(Default)]
    struct Chunks(Vec<usize>, Vec<u8>);

    impl DownloadSink for Chunks {
        fn restart(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
            self.0.push(chunk.len());
            self.1.extend_from_slice(chunk);
            Ok(())
        }
    }

    #[test]
    fn a_download_streams_into_the_sink_and_an_error_answer_does_not() {
        let size = 5 * DOWNLOAD_BUFFER / 2;
        let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n").into_bytes();
        answer.resize(answer.len() + size, 7);
        let (url, server) = serve_once(answer);
        let mut sink = Chunks::default();
        let response = UreqTransport::new()
            .send_download(Request::get(url).body(Vec::new()).unwrap(), &mut sink)
            .unwrap();
        server.join().unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.body().is_empty());
        assert_eq!(sink.1.len(), size);
        assert!(sink.0.len() >= 3 && sink.0.iter().all(|&n| n <= DOWNLOAD_BUFFER));

        let (url, server) =
            serve_once("HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\n<Error>");
        let mut sink = Chunks::default();
        let response = UreqTransport::new()
            .send_download(Request::get(url).body(Vec::new()).unwrap(), &mut sink)
            .unwrap();
        server.join().unwrap();
        assert_eq!(
            (response.status().as_u16(), response.body().as_slice()),
            (403, &b"<Error>"[..])
        );
        assert!(sink.0.is_empty());
    }

    #[test]
    fn a_refused_connection_is_connect() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let request = Request::get(format!("http://127.0.0.1:{port}/"))
            .body(Vec::new())
            .unwrap();
        let transport = UreqTransport::new();
        let error = transport.send(request).unwrap_err();
        assert_eq!(
            transport.error_kind(&error),
            TransportErrorKind::Connect,
            "{error:?}"
        );
    }

    #[test]
    fn a_silent_server_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let transport = UreqTransport::new().request_timeout(Some(Duration::from_millis(200)));
        let started = Instant::now();
        let error = transport
            .send(Request::get(url).body(Vec::new()).unwrap())
            .unwrap_err();
        assert_eq!(
            transport.error_kind(&error),
            TransportErrorKind::Timeout,
            "{error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[test]
    fn a_truncated_answer_is_interrupted() {
        let (url, server) =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"only\":\"part\"");
        let transport = UreqTransport::new();
        let error = transport
            .send(Request::get(url).body(Vec::new()).unwrap())
            .unwrap_err();
        server.join().unwrap();
        assert_eq!(
            transport.error_kind(&error),
            TransportErrorKind::Interrupted,
            "{error:?}"
        );
    }

    #[test]
    fn a_failing_source_is_reported_as_the_source() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/bucket/key?X-Amz-Signature=abc",
            listener.local_addr().unwrap()
        );
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        });
        let head = Request::put(url)
            .header("content-type", "image/png")
            .header("content-length", 10)
            .body(())
            .unwrap();
        let body = UploadBody::new(Box::new(&b"short"[..]), 10, None);
        // The body keeps its source's own failure; the driver reads it there
        // and reports the file, not the network.
        let fault = body.fault();
        let error = UreqTransport::new()
            .send_upload(head.map(|()| body))
            .unwrap_err();
        server.join().unwrap();
        assert!(matches!(error, SendUploadError::Transport(_)), "{error:?}");
        let source = fault.take().expect("the source's failure is kept");
        assert!(
            source.to_string().contains("after 5 of 10 bytes"),
            "{source}"
        );
    }

    #[test]
    fn urls_in_errors_lose_their_query() {
        let error = scrub(ureq::Error::BadUri(
            "https://s3.example/k?X-Amz-Signature=abc is missing host".into(),
        ));
        let text = error.to_string();
        assert!(!text.contains("Signature"), "{text}");
        assert!(
            text.contains("https://s3.example/k?<redacted> is missing host"),
            "{text}"
        );
        let error = scrub(ureq::Error::RequireHttpsOnly(
            "http://s3.example/k?X-Amz-Signature=abc".into(),
        ));
        assert!(!error.to_string().contains("Signature"), "{error}");
    }

    #[test]
    fn debug_shows_timeouts_only() {
        let debug = format!("{:?}", UreqTransport::new());
        assert!(
            debug.starts_with("UreqTransport { connect_timeout: Some(10s)"),
            "{debug}"
        );
    }
}
