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
