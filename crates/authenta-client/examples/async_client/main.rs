//! The whole `process` flow (check, create, streamed upload, wait, result)
//! on an async runtime that is not tokio: `async-io`'s reactor, timer and
//! `block_on`, and `blocking`'s thread pool for files. All the glue an
//! embedder writes is in this file: an HTTP adapter ([`AsyncHttpClient`])
//! and a runtime ([`AsyncRuntime`]: the clocks, `sleep`, and `unblock`, on
//! which the default file sources and sinks are built).
//!
//! It runs against an emulator it starts in-process (on tokio, on the
//! emulator's own threads; this client never touches tokio):
//!
//! ```text
//! cargo run -p authenta-client --example async_client
//! ```
//!
//! `cargo test -p authenta-client --example async_client` runs it too.

// The answer parser of the blocking example: a whole answer, read to the
// end of the connection, is parsed with it.
#[allow(dead_code)]
#[path = "../custom_client/std_client.rs"]
mod std_client;

use std::hash::{BuildHasher as _, RandomState};
use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use async_io::{Async, Timer};
use authenta_client::http::{self, Request, Response};
use authenta_client::proto::{Config, Credentials, RESPONSE_READ_LIMIT, UploadOptions};
use authenta_client::types::{MediaStatus, ModelType};
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
struct AsyncIoHttp;

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
    /// limit and a head), then parses it.
    async fn answer(stream: Async<TcpStream>) -> io::Result<Response<Vec<u8>>> {
        let mut bytes = Vec::new();
        stream
            .take(RESPONSE_READ_LIMIT + 64 * 1024)
            .read_to_end(&mut bytes)
            .await?;
        std_client::StdHttp::read_answer(&bytes[..])
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
struct AsyncIoRuntime;

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

/// A PNG complete as far as validation looks.
const PIXEL: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The emulator runs tokio on its own thread; nothing below does.
    let emulator = authenta_emulator::Emulator::builder()
        .processing_time(Duration::from_millis(50))
        .spawn()?;
    let key = emulator.create_key(authenta_emulator::KeySpec::new("async-io"))?;
    let config = Config::new(Credentials::new(key.client_id, key.client_secret))
        .with_base_url(emulator.base_url())?;
    let client = Client::new(
        config,
        AsyncMode {
            transport: AsyncIoHttp,
            runtime: AsyncIoRuntime,
        },
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("pixel.png");
    std::fs::write(&path, PIXEL)?;
    let heatmap = dir.path().join("heatmap.png");

    async_io::block_on(async {
        let media = client
            .process(&path, &UploadOptions::new(ModelType::Ac1))
            .await?;
        assert_eq!(media.status, MediaStatus::Processed);
        let verdict = match media.fake {
            Some(true) => "fake",
            Some(false) => "real",
            None => "no verdict",
        };
        println!("{} {} {verdict}", media.mid, media.status);
        if let Some(result) = client.result(&media).await? {
            println!("score {:?}", result.score);
        }
        if let Some(written) = client.download_heatmap(&media, &heatmap).await? {
            println!("heatmap: {written} bytes");
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(std::fs::read(&heatmap)?.starts_with(b"\x89PNG"));
    Ok(())
}

#[test]
fn the_whole_flow_runs_on_async_io() {
    main().unwrap();
}
