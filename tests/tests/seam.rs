//! The transport seam, proven: create → upload → wait (and the other
//! operations) through `authenta_proto::driver::blocking::Driver` over a
//! client that is neither reqwest nor ureq: [`StdHttp`], minimal HTTP/1.1
//! over std's `TcpStream`, with [`StdClock`] as the runtime.

use std::hash::{BuildHasher as _, RandomState};
use std::io::{self, BufReader, Read, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use authenta_emulator::{Fault, FaultAction};
use authenta_proto::driver::blocking::Driver;
use authenta_proto::http::{self, Request, Response, request::Parts};
use authenta_proto::types::{MediaStatus, ModelType};
use authenta_proto::{
    Config, Credentials, HttpClient, MediaFile, Runtime, SendUploadError, TransportErrorKind,
    UploadBody,
};
use authenta_tests::Env;
use authenta_tests::env::{fast_polls, fast_retries, png_bytes};

/// One request per connection (`connection: close`): the head with a
/// `Content-Length` whenever there is a body, the body, then the answer's
/// status line, headers and body (by `Content-Length`, chunked, or to the
/// end of the connection).
struct StdHttp;

impl StdHttp {
    fn open(parts: &Parts, len: u64) -> io::Result<TcpStream> {
        let authority = parts
            .uri
            .authority()
            .ok_or_else(|| io::Error::other("a URL without a host"))?;
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut stream = TcpStream::connect(authority.as_str())?;
        let mut head = format!(
            "{} {target} HTTP/1.1\r\nhost: {authority}\r\n",
            parts.method
        );
        for (name, value) in &parts.headers {
            let value = value
                .to_str()
                .map_err(|_| io::Error::other("a header that is not text"))?;
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let bodyless =
            len == 0 && (parts.method == http::Method::GET || parts.method == http::Method::DELETE);
        if !bodyless && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
            head.push_str(&format!("content-length: {len}\r\n"));
        }
        head.push_str("connection: close\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        Ok(stream)
    }

    fn read_answer(stream: impl Read) -> io::Result<Response<Vec<u8>>> {
        let mut reader = BufReader::new(stream);
        let status_line = read_line(&mut reader)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| bad(format!("not an HTTP status line: {status_line:?}")))?;
        let mut response = Response::builder().status(status);
        let (mut length, mut chunked) = (None, false);
        loop {
            let line = read_line(&mut reader)?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("not a header: {line:?}")))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(bad)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
            response = response.header(name, value);
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let line = read_line(&mut reader)?;
                let hex = line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(hex, 16).map_err(bad)?;
                if size == 0 {
                    while !read_line(&mut reader)?.is_empty() {}
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..])?;
                read_line(&mut reader)?;
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        } else if status != 204 && status != 304 {
            reader.read_to_end(&mut body)?;
        }
        response.body(body).map_err(bad)
    }
}

fn bad(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// A line without its CRLF; a connection closed before it is an error.
fn read_line(reader: &mut impl io::BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

impl HttpClient for StdHttp {
    type Error = io::Error;

    fn send(&self, request: Request<Vec<u8>>) -> io::Result<Response<Vec<u8>>> {
        let (parts, body) = request.into_parts();
        let mut stream = StdHttp::open(&parts, body.len() as u64)?;
        stream.write_all(&body)?;
        StdHttp::read_answer(stream)
    }

    /// Streams the body: the head already holds its `Content-Length`.
    fn send_upload(
        &self,
        request: Request<UploadBody<'_>>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<io::Error>> {
        let (parts, mut body) = request.into_parts();
        let mut stream = StdHttp::open(&parts, body.len()).map_err(SendUploadError::Transport)?;
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let n = body.read(&mut buffer).map_err(SendUploadError::Source)?;
            if n == 0 {
                break;
            }
            stream
                .write_all(&buffer[..n])
                .map_err(SendUploadError::Transport)?;
        }
        StdHttp::read_answer(stream).map_err(SendUploadError::Transport)
    }

    fn error_kind(&self, error: &io::Error) -> TransportErrorKind {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
            io::ErrorKind::TimedOut => TransportErrorKind::Timeout,
            _ => TransportErrorKind::Interrupted,
        }
    }
}

/// Time, sleep and randomness from std.
struct StdClock;

impl Runtime for StdClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn random(&self) -> u64 {
        RandomState::new().hash_one(0u8)
    }
}

#[test]
fn create_upload_and_wait_over_a_std_tcp_client() {
    let env = Env::new();
    let config = Config::new(Credentials::new(
        &env.key.client_id,
        env.key.client_secret.as_str(),
    ))
    .with_base_url(env.emu.base_url())
    .unwrap();
    let driver = Driver::new(config, StdHttp, StdClock)
        .with_retry_policy(fast_retries())
        .with_poll_policy(fast_polls());

    let bytes = png_bytes(200_000);
    let size = bytes.len() as u64;
    let file = MediaFile::inspect("seam.png", &bytes, size, None).unwrap();
    let mut source = bytes;
    let uploaded = driver
        .upload(&file, ModelType::Ac1, &mut source, None)
        .unwrap();
    let mid = uploaded.mid().clone();
    // The first poll's connection is reset: retried through this client's
    // error kinds.
    env.emu
        .inject_fault(Fault::new(format!("/api/media/{mid}"), FaultAction::Reset).method("GET"))
        .unwrap();
    let media = driver.wait(&mid).unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert!(env.emu.faults().is_empty(), "the reset struck");

    // What the emulator received: the upload with its length and no
    // credentials; API requests with the key (a request without its secret
    // would have been answered IAM001).
    let upload = env.emu.record(mid.as_str()).unwrap().upload.unwrap();
    assert_eq!(upload.size, size);
    env.assert_one_clean_upload(size, "image/png");
    for request in env.emu.api_requests() {
        assert_eq!(
            request.client_id.as_deref(),
            Some(env.key.client_id.as_str())
        );
        assert!(request.faulted || request.status < 300, "{request:?}");
    }

    // The rest of the flows over the same client: artifacts, listing, a
    // delete answered 204 without a body.
    assert!(driver.result(&media).unwrap().is_some());
    let mut heatmap = Vec::new();
    assert!(
        driver
            .download_heatmap(&media, &mut heatmap)
            .unwrap()
            .is_some()
    );
    assert!(heatmap.starts_with(b"\x89PNG"));
    let listed: Vec<_> = driver
        .list_all(2)
        .unwrap()
        .map(|m| m.unwrap().mid)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&mid));
    driver.delete(&mid).unwrap();
    assert!(env.emu.record(mid.as_str()).is_none());
}

/// The emulator frames its answers with `Content-Length`; the other two
/// framings, on canned bytes.
#[test]
fn the_std_client_reads_chunked_and_unframed_answers() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
    let answer = StdHttp::read_answer(&chunked[..]).unwrap();
    assert_eq!(answer.body(), b"hello world");
    assert_eq!(answer.headers()["transfer-encoding"], "chunked");
    let unframed = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\nbusy";
    let answer = StdHttp::read_answer(&unframed[..]).unwrap();
    assert_eq!(
        (answer.status().as_u16(), answer.body().as_slice()),
        (503, &b"busy"[..])
    );
    let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
    assert!(StdHttp::read_answer(&empty[..]).unwrap().body().is_empty());
    let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    assert!(StdHttp::read_answer(&cut[..]).is_err());
}
