//! The whole `process` flow (check, create, streamed upload, wait, result,
//! heatmap) on an async runtime that is not tokio: `async-io`'s reactor,
//! timer and `block_on`, and `blocking`'s thread pool for files. All the
//! glue an embedder writes is in this file: an HTTP adapter
//! ([`AsyncHttpClient`], answers parsed with `httparse`) and a runtime
//! ([`AsyncRuntime`]: the clocks, `sleep`, and `unblock`, on which the
//! default file sources and sinks are built).
//!
//! ```text
//! AUTHENTA_API_KEY=... AUTHENTA_BASE_URL=http://127.0.0.1:8080/api \
//!     cargo run -p authenta-client --example async_client -- samples/test-pattern.png heatmap.png
//! ```
//!
//! (an emulator: `authenta emulator` prints a key). The file is self-contained:
//! it builds unchanged as the `main.rs` of a crate of its own
//! (`cargo xtask outside-examples`), and `tests/async_client.rs` runs it
//! against an in-process emulator.

use std::hash::{BuildHasher as _, RandomState};
use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use async_io::{Async, Timer};
use authenta_client::http::{self, Request, Response};
use std::path::Path;

use authenta_client::proto::{Config, Error, UploadOptions, wire::RESPONSE_READ_LIMIT};
use authenta_client::types::Media;
use authenta_client::{
    Async as AsyncMode, AsyncHttpClient, AsyncRuntime, AsyncUploadBody, Client, SendUploadError,
};
use futures_util::StreamExt as _;
use futures_util::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// HTTP/1.1 over `async-io`'s sockets, one request per connection.
///
/// Traps an adapter must not fall into: a body shorter than its
/// `Content-Length` is handed over as it came, with that header (proto's
/// length rule makes it a broken connection; never pad it or drop the
/// header), and its error type keeps its cause in `source()` (an error
/// that only implements the deprecated `cause()` loses its chain: proto
/// finds the `io::Error` that decides a retry through `source()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncIoHttp;

impl AsyncIoHttp {
    /// Connects and writes the request head, with its `Content-Length`.
    async fn open(parts: &http::request::Parts, len: u64) -> io::Result<Async<TcpStream>> {
        let authority = parts
            .uri
            .authority()
            .ok_or_else(|| io::Error::other("a URL without a host"))?;
        let addr = std::net::ToSocketAddrs::to_socket_addrs(authority.as_str())?
            .next()
            .ok_or_else(|| io::Error::other("a host with no address"))?;
        let mut stream = Async::<TcpStream>::connect(addr).await?;
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
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
        if !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
            head.push_str(&format!("content-length: {len}\r\n"));
        }
        head.push_str("connection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        Ok(stream)
    }

    /// Reads the answer to the end of the connection (at most proto's read
    /// limit and a head), then parses it: the head with `httparse`, the
    /// body as it came (a short one keeps its `Content-Length`: proto
    /// calls it a broken connection), or unchunked.
    async fn answer(stream: Async<TcpStream>) -> io::Result<Response<Vec<u8>>> {
        let mut bytes = Vec::new();
        stream
            .take(RESPONSE_READ_LIMIT + 64 * 1024)
            .read_to_end(&mut bytes)
            .await?;
        let bad =
            |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(len) = head.parse(&bytes).map_err(|e| bad(&e))? else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        let mut response = Response::builder().status(head.code.unwrap_or_default());
        let mut chunked = false;
        for header in head.headers.iter() {
            chunked |= header.name.eq_ignore_ascii_case("transfer-encoding")
                && header.value.eq_ignore_ascii_case(b"chunked");
            response = response.header(header.name, header.value);
        }
        let body = match chunked {
            true => unchunk(&bytes[len..])?,
            false => bytes[len..].to_vec(),
        };
        response.body(body).map_err(|e| bad(&e))
    }
}

#[authenta_client::async_trait]
impl AsyncHttpClient for AsyncIoHttp {
    type Error = io::Error;

    async fn send(&self, request: Request<Vec<u8>>) -> io::Result<Response<Vec<u8>>> {
        let (parts, body) = request.into_parts();
        let mut stream = AsyncIoHttp::open(&parts, body.len() as u64).await?;
        stream.write_all(&body).await?;
        AsyncIoHttp::answer(stream).await
    }

    /// Streams the file: memory stays at a few chunks.
    async fn send_upload(
        &self,
        request: Request<AsyncUploadBody>,
    ) -> Result<Response<Vec<u8>>, SendUploadError<io::Error>> {
        let (parts, mut body) = request.into_parts();
        let mut stream = AsyncIoHttp::open(&parts, body.len())
            .await
            .map_err(SendUploadError::Transport)?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(SendUploadError::Source)?;
            stream
                .write_all(&chunk)
                .await
                .map_err(SendUploadError::Transport)?;
        }
        AsyncIoHttp::answer(stream)
            .await
            .map_err(SendUploadError::Transport)
    }
    // `send_download` is the default (the whole answer, then the sink);
    // `error_kind` too (the io::ErrorKind found through `source()`).
}

/// The clocks, `async-io`'s timer, and `blocking`'s pool for blocking
/// work. Files come free: the default file source and sink run std's files
/// through `unblock`, the source a few chunks ahead of the socket.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncIoRuntime;

#[authenta_client::async_trait]
impl AsyncRuntime for AsyncIoRuntime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, duration: Duration) {
        Timer::after(duration).await;
    }

    fn random(&self) -> u64 {
        RandomState::new().hash_one(0u8)
    }

    async fn unblock<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send + 'static>) -> T {
        blocking::unblock(work).await
    }
}

/// A chunked body's data; one that ends before its last chunk is cut.
fn unchunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let cut = || io::Error::from(io::ErrorKind::UnexpectedEof);
    let mut body = Vec::new();
    loop {
        let Ok(httparse::Status::Complete((at, size))) = httparse::parse_chunk_size(rest) else {
            return Err(cut());
        };
        if size == 0 {
            return Ok(body);
        }
        let size = usize::try_from(size).map_err(|_| cut())?;
        let data = rest.get(at..at + size).ok_or_else(cut)?;
        body.extend_from_slice(data);
        // The chunk's data and its CRLF.
        rest = rest.get(at + size + 2..).ok_or_else(cut)?;
    }
}

/// The async-io client.
pub type AsyncIoClient = Client<AsyncMode<AsyncIoHttp, AsyncIoRuntime>>;

/// A client for `config` on async-io.
pub fn client(config: Config) -> AsyncIoClient {
    Client::new(
        config,
        AsyncMode {
            transport: AsyncIoHttp,
            runtime: AsyncIoRuntime,
        },
    )
}

/// Processes `path` (the model its kind's default), prints the verdict and
/// the score, and writes the heatmap, if there is one, to `heatmap`.
pub async fn process(client: &AsyncIoClient, path: &Path, heatmap: &Path) -> Result<Media, Error> {
    // Checking the file reads it: off the reactor's thread.
    let file = path.to_owned();
    let file = blocking::unblock(move || authenta_client::media_file(&file, None)).await?;
    let media = client
        .process(path, &UploadOptions::new(file.default_model()?))
        .await?;
    let verdict = match media.fake {
        Some(true) => "fake",
        Some(false) => "real",
        None => "no verdict",
    };
    println!("{} {} {verdict}", media.mid, media.status);
    if let Some(result) = client.result(&media).await? {
        println!("score {:?}", result.score);
    }
    if let Some(written) = client.download_heatmap(&media, heatmap).await? {
        println!("heatmap: {written} bytes in {}", heatmap.display());
    }
    Ok(media)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), heatmap) = (args.next(), args.next()) else {
        return Err("usage: async_client FILE [HEATMAP] (with AUTHENTA_API_KEY, or AUTHENTA_CLIENT_ID and AUTHENTA_CLIENT_SECRET, and AUTHENTA_BASE_URL set)".into());
    };
    let heatmap = heatmap.unwrap_or_else(|| "heatmap.png".into());
    // The variables, checked (https only, but for loopback).
    let client = client(authenta_client::config_from_env()?);
    async_io::block_on(process(&client, Path::new(&path), Path::new(&heatmap)))?;
    Ok(())
}
