//! Uploads 1 GiB to the `authenta-emulator` binary (run as a child process)
//! and prints the server's peak resident memory above idle and the upload
//! throughput, in memory and with a data directory.
//!
//! ```text
//! cargo bench -p authenta-emulator --bench upload_memory
//! ```
//!
//! Set `UPLOAD_MIB` to upload another size (default 1024).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use authenta_emulator::EmulatorProcess;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A `kB` figure of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn start(data_dir: Option<&std::path::Path>) -> EmulatorProcess {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authenta-emulator"));
    cmd.args(["--listen", "127.0.0.1:0", "--processing-time", "10ms"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    if let Some(dir) = data_dir {
        cmd.arg("--data-dir").arg(dir);
    }
    EmulatorProcess::spawn(cmd).expect("run authenta-emulator")
}

/// Creates a record of `size` bytes and returns its upload URL.
async fn create(server: &EmulatorProcess, size: u64) -> String {
    // Features unify across the workspace: with authenta-reqwest built,
    // reqwest needs a crypto provider even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let body =
        format!(r#"{{"name":"bench","contentType":"video/mp4","size":{size},"modelType":"DF-1"}}"#);
    let resp = http
        .post(format!("{}/media", server.base_url()))
        .header("x-client-id", &server.key().client_id)
        .header("x-client-secret", &server.key().client_secret)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("create");
    let json: serde_json::Value =
        serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
    json["uploadUrl"].as_str().expect("uploadUrl").to_owned()
}

/// PUTs `size` bytes over a raw connection; returns the status line.
async fn upload(url: &str, size: u64) -> String {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, target) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let head = format!(
        "PUT {target} HTTP/1.1\r\nhost: {host}\r\ncontent-type: video/mp4\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        stream.write_all(&block[..n]).await.expect("body");
        left -= n as u64;
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

async fn run(label: &str, data_dir: Option<&std::path::Path>, size: u64) {
    let server = start(data_dir);
    let pid = server.id();
    // Warm up: one small upload, so idle includes a used connection path.
    let url = create(&server, 1024).await;
    upload(&url, 1024).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = status_kib(pid, "VmRSS:");
    let url = create(&server, size).await;
    let started = Instant::now();
    let status = upload(&url, size).await;
    let elapsed = started.elapsed();
    let peak = status_kib(pid, "VmHWM:");
    assert!(status.contains(" 200 "), "upload failed: {status}");
    let mib = size as f64 / (1024.0 * 1024.0);
    println!(
        "{label}: uploaded {mib:.0} MiB in {:.2} s = {:.0} MiB/s; server RSS idle {:.1} MiB, peak {:.1} MiB, peak above idle {:.1} MiB",
        elapsed.as_secs_f64(),
        mib / elapsed.as_secs_f64(),
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(idle) as f64 / 1024.0,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: u64 = std::env::var("UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib * 1024 * 1024;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        run("in memory", None, size).await;
        let dir = tempfile::tempdir().expect("temp dir");
        run("with --data-dir", Some(dir.path()), size).await;
    });
}
