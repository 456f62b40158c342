//! Connections that cannot be held: the header-read timeout, the idle
//! timeout and the cap on concurrent connections.

use std::time::{Duration, Instant};

use authenta_emulator::Emulator;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::Env;

/// Reads until the server closes the connection (or `limit` passes: then
/// the test fails); returns what arrived and when the close came.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {limit:?}; got {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, started.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_within_the_timeout() {
    let env = Env::with(Emulator::builder().header_read_timeout(Duration::from_millis(300))).await;
    let mut stream = TcpStream::connect(env.emu.addr()).await.unwrap();
    stream
        .write_all(b"GET /api/media HTTP/1.1\r\nhost: emulator\r\nx-client-id: ")
        .await
        .unwrap();
    let (got, after) = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(250),
        "closed after {after:?}, before the timeout"
    );
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{got:?}");
    // The emulator still serves others.
    assert_eq!(env.get("/media").await.status, 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let env = Env::with(Emulator::builder().idle_timeout(Duration::from_millis(200))).await;
    let mut stream = TcpStream::connect(env.emu.addr()).await.unwrap();
    let head = format!(
        "GET /api/media HTTP/1.1\r\nhost: emulator\r\nx-client-id: {}\r\nx-client-secret: {}\r\n\r\n",
        env.key.client_id, env.key.client_secret
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (got, _) = read_to_close(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let env = Env::with(Emulator::builder().max_connections(1)).await;
    let request = format!(
        "GET /api/media HTTP/1.1\r\nhost: emulator\r\nx-client-id: {}\r\nx-client-secret: {}\r\nconnection: close\r\n\r\n",
        env.key.client_id, env.key.client_secret
    );
    // The first connection holds the only slot (it sends nothing yet).
    let mut first = TcpStream::connect(env.emu.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut second = TcpStream::connect(env.emu.addr()).await.unwrap();
    second.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_millis(200), second.read(&mut buf)).await;
    assert!(waited.is_err(), "the second connection was served at once");
    // Once the first is done, the second is served.
    first.write_all(request.as_bytes()).await.unwrap();
    let (got, _) = read_to_close(&mut first, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"));
    drop(first);
    let (got, _) = read_to_close(&mut second, Duration::from_secs(5)).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

/// Opens a connection and sends `head` (a whole request head) and the first
/// `sent` bytes of its body, then nothing more: the stream stays open.
async fn stall_after(env: &Env, head: String, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(env.emu.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream
}

/// A `POST /api/media` head declaring a 100-byte body.
fn create_head(env: &Env) -> String {
    format!(
        "POST /api/media HTTP/1.1\r\nhost: emulator\r\nx-client-id: {}\r\nx-client-secret: {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n",
        env.key.client_id, env.key.client_secret
    )
}

#[tokio::test]
async fn a_stalled_api_body_is_answered_and_its_connection_closed() {
    let env = Env::with(Emulator::builder().body_read_timeout(Duration::from_millis(300))).await;
    let mut stream = stall_after(&env, create_head(&env), b"{\"name\": \"half").await;
    let (got, _) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(
        text.contains("no byte of the request body arrived for 300ms"),
        "{text}"
    );
    assert!(env.emu.records().is_empty());
}

#[tokio::test]
async fn a_stalled_upload_is_answered_request_timeout_and_closed() {
    let env = Env::with(Emulator::builder().body_read_timeout(Duration::from_millis(300))).await;
    let bytes = vec![7u8; 1000];
    let created = env.create_for("image/png", "AC-1", &bytes).await;
    let url = created["uploadUrl"].as_str().unwrap();
    let target = url.split_once(&env.emu.addr().to_string()).unwrap().1;
    let head = format!(
        "PUT {target} HTTP/1.1\r\nhost: {}\r\ncontent-type: image/png\r\ncontent-length: 1000\r\n\r\n",
        env.emu.addr()
    );
    let mut stream = stall_after(&env, head, &bytes[..400]).await;
    let (got, _) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("<Code>RequestTimeout</Code>"), "{text}");
    let mid = created["mid"].as_str().unwrap();
    assert_eq!(env.emu.record(mid).unwrap().status, "INITED");
    // The record still takes a whole upload.
    assert_eq!(env.put(url, "image/png", &bytes).await.status, 200);
}

#[tokio::test]
async fn stalled_bodies_cannot_hold_every_connection() {
    let env = Env::with(
        Emulator::builder()
            .max_connections(4)
            .body_read_timeout(Duration::from_millis(300)),
    )
    .await;
    // Every slot taken by a client that sends half a body, then nothing.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(stall_after(&env, create_head(&env), b"{\"na").await);
    }
    // Another client is served once the stalls are cut off.
    let mut other = TcpStream::connect(env.emu.addr()).await.unwrap();
    let request = format!(
        "GET /api/media HTTP/1.1\r\nhost: emulator\r\nx-client-id: {}\r\nx-client-secret: {}\r\nconnection: close\r\n\r\n",
        env.key.client_id, env.key.client_secret
    );
    other.write_all(request.as_bytes()).await.unwrap();
    let (got, _) = read_to_close(&mut other, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for mut s in stalled {
        let (got, _) = read_to_close(&mut s, Duration::from_secs(10)).await;
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 400 "));
    }
}

#[tokio::test]
async fn a_slow_body_that_keeps_sending_is_not_cut_off() {
    let env = Env::with(Emulator::builder().body_read_timeout(Duration::from_secs(1))).await;
    let body = br#"{"name": "slow", "contentType": "image/png", "size": 10, "modelType": "AC-1"}"#;
    let head = format!(
        "POST /api/media HTTP/1.1\r\nhost: emulator\r\nx-client-id: {}\r\nx-client-secret: {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        env.key.client_id,
        env.key.client_secret,
        body.len()
    );
    let mut stream = TcpStream::connect(env.emu.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // A piece every 250 ms: slower in total than the timeout, never silent
    // for as long.
    for piece in body.chunks(16) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        stream.write_all(piece).await.unwrap();
    }
    let (got, _) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
}
