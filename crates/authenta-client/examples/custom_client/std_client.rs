//! A minimal HTTP/1.1 client on std's `TcpStream`, and std's clocks: all a
//! program needs to run every flow of `authenta-proto` without reqwest or
//! ureq. (The workspace's conformance suite runs it too.)

use std::hash::{BuildHasher as _, RandomState};
use std::io::{self, BufRead as _, BufReader, Read, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use authenta_client::http::{self, Request, Response, request::Parts};
use authenta_client::proto::{upload::EXPECT_CONTINUE_WAIT, wire::RESPONSE_READ_LIMIT};
use authenta_client::{HttpClient, Runtime, SendUploadError, UploadBody};

/// One request per connection (`connection: close`): the head with a
/// `Content-Length` whenever there is a body, the body (after `100
/// Continue` when the head asks for it), then the answer's status line,
/// headers and body (by `Content-Length`, chunked, or to the end of the
/// connection). A read or a write that waits longer than its timeout (30 s
/// by default) fails with `TimedOut` or `WouldBlock`.
///
/// Like some HTTP clients, it does not check that a body is as long as its
/// `Content-Length`: a connection that ends early gives the bytes that
/// came. proto compares them with the declared length (a short body is a
/// broken connection, retried; a short download is never committed).
#[derive(Clone, Copy, Debug)]
pub struct StdHttp {
    timeout: Duration,
}

impl Default for StdHttp {
    fn default() -> Self {
        StdHttp::with_timeout(Duration::from_secs(30))
    }
}

impl StdHttp {
    /// A client whose socket reads and writes give up after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        StdHttp { timeout }
    }

    fn open(&self, parts: &Parts, len: u64) -> io::Result<TcpStream> {
        let authority = parts
            .uri
            .authority()
            .ok_or_else(|| io::Error::other("a URL without a host"))?;
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut stream = TcpStream::connect(authority.as_str())?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
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

    /// Reads an answer: status line, headers, and a body framed by
    /// `Content-Length` (at most proto's read limit, fewer if the connection
    /// ends first), chunked, or to the end.
    pub fn read_answer(stream: impl Read) -> io::Result<Response<Vec<u8>>> {
        StdHttp::read_buffered(BufReader::new(stream))
    }

    fn read_buffered(mut reader: impl io::BufRead) -> io::Result<Response<Vec<u8>>> {
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
            // At most proto's read limit: it refuses a larger answer.
            let length = length.min(RESPONSE_READ_LIMIT as usize) as u64;
            reader.take(length).read_to_end(&mut body)?;
        } else if status != 204 && status != 304 {
            reader.take(RESPONSE_READ_LIMIT).read_to_end(&mut body)?;
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
        let mut stream = self.open(&parts, body.len() as u64)?;
        stream.write_all(&body)?;
        StdHttp::read_answer(stream)
    }
    // `error_kind` is proto's default: the io::ErrorKind table.

    /// Streams the body: the head already holds its `Content-Length`.
    fn send_upload(
        &self,
        request: Request<UploadBody<'_>>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<io::Error>> {
        let (parts, mut body) = request.into_parts();
        let mut stream = self
            .open(&parts, body.len())
            .map_err(SendUploadError::Transport)?;
        let expect = parts
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expect
            && let Some(answer) = self
                .await_100(&stream)
                .map_err(SendUploadError::Transport)?
        {
            // Refused before the body: the answer is final, no body is sent.
            return Ok(answer);
        }
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
}

impl StdHttp {
    /// Waits up to proto's `EXPECT_CONTINUE_WAIT` for `100 Continue`: `None`
    /// to send the body (it came, or nothing did), or the server's final
    /// answer (an early refusal).
    fn await_100(&self, stream: &TcpStream) -> io::Result<Option<Response<Vec<u8>>>> {
        stream.set_read_timeout(Some(EXPECT_CONTINUE_WAIT))?;
        let mut reader = BufReader::new(stream);
        let waited = match reader.fill_buf() {
            Ok(bytes) => {
                Ok(bytes.starts_with(b"HTTP/1.1 100") || bytes.starts_with(b"HTTP/1.0 100"))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                stream.set_read_timeout(Some(self.timeout))?;
                return Ok(None);
            }
            Err(e) => Err(e),
        };
        stream.set_read_timeout(Some(self.timeout))?;
        if waited? {
            // `100 Continue` and its empty header block: nothing follows
            // until the body is sent.
            while !read_line(&mut reader)?.is_empty() {}
            return Ok(None);
        }
        StdHttp::read_buffered(reader).map(Some)
    }
}

/// Time, sleep and randomness from std.
#[derive(Clone, Copy, Debug)]
pub struct StdClock;

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
