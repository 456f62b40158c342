//! Peak memory of reading a 200 MiB upload from an async runtime, each way
//! in a process of its own (peak RSS, `VmHWM`), against a consumer that
//! takes 128 KiB a millisecond (a 125 MB/s link):
//!
//! - `default`: the runtime's default file source
//!   (`AsyncRuntime::file_source`, authenta-client's `UnblockedFileSource`:
//!   `READ_AHEAD` chunks per `unblock` call, one call in flight);
//! - `unblock-8`: `blocking::Unblock::with_capacity(8, FileSource::chunks)`;
//! - `unblock-new`: `blocking::Unblock::new(FileSource::chunks)`, the trap:
//!   it reads up to 8192 chunks ahead.
//!
//! ```text
//! cargo run -p authenta-client --example read_ahead
//! ```
//!
//! `UPLOAD_MIB` changes the size (default 200).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use authenta_client::{AsyncRuntime, ByteStream, FILE_CHUNK, FileSource};
use futures_util::StreamExt as _;

#[derive(Clone, Copy)]
struct Pool;

#[authenta_client::async_trait]
impl AsyncRuntime for Pool {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }
    async fn sleep(&self, duration: Duration) {
        async_io::Timer::after(duration).await;
    }
    fn random(&self) -> u64 {
        7
    }
    async fn unblock<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send + 'static>) -> T {
        blocking::unblock(work).await
    }
}

/// The process's peak resident memory, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn open(way: &str, path: PathBuf, len: u64) -> ByteStream {
    let source = FileSource::new(path.clone(), len);
    match way {
        "default" => Pool.file_source(path, len).open().await.expect("open"),
        "unblock-8" => Box::pin(blocking::Unblock::with_capacity(
            8,
            source.chunks().expect("open"),
        )),
        "unblock-new" => Box::pin(blocking::Unblock::new(source.chunks().expect("open"))),
        other => panic!("no way {other}"),
    }
}

/// Reads the file one way, as a 125 MB/s link takes it; prints the figures.
fn child(way: &str, path: &Path, len: u64) {
    let started = Instant::now();
    let sent = async_io::block_on(async {
        let mut stream = open(way, path.to_owned(), len).await;
        let (mut sent, mut taken) = (0u64, 0u64);
        while let Some(chunk) = stream.next().await {
            sent += chunk.expect("a chunk").len() as u64;
            taken += 1;
            if taken % 2 == 0 {
                async_io::Timer::after(Duration::from_millis(1)).await;
            }
        }
        sent
    });
    assert_eq!(sent, len, "every byte");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {way} | {:.1} MiB | {:.0} MiB/s |",
        peak_mib(),
        len as f64 / secs / 1024.0 / 1024.0
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    if let (Some(way), Some(path), Some(len)) = (args.next(), args.next(), args.next()) {
        return child(&way, Path::new(&path), len.parse().expect("a length"));
    }
    let mib: u64 = std::env::var("UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("upload.bin");
    // Written a chunk at a time: this process stays small too.
    let mut file = std::fs::File::create(&path).expect("create");
    let chunk = vec![0x5a; FILE_CHUNK];
    for _ in 0..mib * 1024 * 1024 / FILE_CHUNK as u64 {
        file.write_all(&chunk).expect("write");
    }
    drop(file);
    let len = mib * 1024 * 1024;
    println!("{mib} MiB, a consumer taking 128 KiB per ms; peak RSS of each process:\n");
    println!("| source | peak RSS (VmHWM) | throughput |\n|---|---|---|");
    let me = std::env::current_exe().expect("this program");
    // A process that reads an empty file: what the others start from.
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").expect("write");
    let out = std::process::Command::new(&me)
        .args(["default", &empty.display().to_string(), "0"])
        .output()
        .expect("run");
    print!(
        "{}",
        String::from_utf8_lossy(&out.stdout).replace("| default |", "| nothing (an empty file) |")
    );
    for way in ["default", "unblock-8", "unblock-new"] {
        let status = std::process::Command::new(&me)
            .args([way, &path.display().to_string(), &len.to_string()])
            .status()
            .expect("run");
        assert!(status.success());
    }
}
