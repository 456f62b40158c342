//! The default file source and sink of an async runtime
//! (`AsyncRuntime::file_source`, `file_sink`), built on nothing but its
//! `unblock`: here `blocking`'s thread pool, driven by `async-io`.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use authenta_client::{AsyncRuntime, AsyncUploadSource, FILE_CHUNK, READ_AHEAD, part_path};
use futures_util::StreamExt as _;

/// A runtime that implements only what an embedder must: clocks, sleep,
/// randomness and `unblock`.
#[derive(Clone, Copy, Debug)]
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

fn file(dir: &tempfile::TempDir, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join(name);
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

/// Reads the whole source, dropping each chunk before taking the next, and
/// counts the distinct buffers the chunks came in: std's file source reads
/// into a buffer again once its chunk is dropped, so that count is the most
/// chunks ever read and not yet sent.
async fn drain(source: &mut dyn AsyncUploadSource) -> io::Result<(Vec<u8>, usize)> {
    let mut stream = source.open().await?;
    let (mut out, mut buffers) = (Vec::new(), HashSet::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        assert!(chunk.len() <= FILE_CHUNK);
        buffers.insert(chunk.as_ptr());
        out.extend_from_slice(&chunk);
    }
    Ok((out, buffers.len()))
}

#[test]
fn the_default_source_reads_every_byte_a_bounded_few_chunks_ahead() {
    let dir = tempfile::tempdir().unwrap();
    // 100 chunks and a bit: many batches, the last one short.
    let (path, data) = file(&dir, "big.bin", FILE_CHUNK * 100 + 17);
    let mut source = Pool.file_source(path.clone(), data.len() as u64);
    assert_eq!(
        (source.len(), source.reopenable()),
        (data.len() as u64, true)
    );
    assert_eq!(source.describe(), path.display().to_string());
    async_io::block_on(async {
        for _ in 0..2 {
            let (out, buffers) = drain(&mut *source).await.unwrap();
            assert!(out == data, "every byte, in order, on every open");
            assert!(
                buffers <= 2 * READ_AHEAD + 1,
                "{buffers} chunks in memory at once: the read-ahead is bounded"
            );
        }
        // Exactly a batch's multiple: the file ends on a batch's edge.
        let (edge, edge_data) = file(&dir, "edge.bin", FILE_CHUNK * READ_AHEAD * 2);
        let mut source = Pool.file_source(edge, edge_data.len() as u64);
        assert!(drain(&mut *source).await.unwrap().0 == edge_data);
        // An empty file is an empty stream.
        let (empty, _) = file(&dir, "empty.bin", 0);
        let mut source = Pool.file_source(empty, 0);
        assert!(drain(&mut *source).await.unwrap().0.is_empty());
        // Changed since it was measured: refused on opening.
        std::fs::write(&path, b"shorter").unwrap();
        let mut source = Pool.file_source(path.clone(), data.len() as u64);
        let err = drain(&mut *source).await.unwrap_err();
        assert!(err.to_string().contains("the file is now 7 bytes"), "{err}");
    });
}

#[test]
fn the_default_sink_writes_a_part_file_and_renames_it_only_when_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heat.png");
    std::fs::write(&path, b"old").unwrap();
    async_io::block_on(async {
        let mut sink = Pool.file_sink(path.clone());
        sink.restart().await.unwrap();
        sink.write_chunk(b"broken off").await.unwrap();
        sink.restart().await.unwrap();
        sink.write_chunk(b"new ").await.unwrap();
        sink.write_chunk(b"bytes").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(part_path(&path).exists());
        sink.commit().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!part_path(&path).exists());

        let mut failed = Pool.file_sink(path.clone());
        failed.restart().await.unwrap();
        failed.write_chunk(b"half").await.unwrap();
        failed.abandon().await;
        assert!(!part_path(&path).exists());

        // Dropped between two writes (a dropped download): no `.part`.
        let mut dropped = Pool.file_sink(path.clone());
        dropped.restart().await.unwrap();
        dropped.write_chunk(b"half").await.unwrap();
        drop(dropped);
        assert!(!part_path(&path).exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");

        // Dropped during a write: the write ends on the pool, then the
        // sink it held is dropped there, and its `.part` with it.
        let mut mid_write = Pool.file_sink(path.clone());
        mid_write.restart().await.unwrap();
        let big = vec![1u8; 8 * 1024 * 1024];
        {
            let mut write = std::pin::pin!(mid_write.write_chunk(&big));
            let _ = futures_util::FutureExt::now_or_never(write.as_mut());
        }
        drop(mid_write);
        let waited = Instant::now();
        while part_path(&path).exists() && waited.elapsed() < Duration::from_secs(10) {
            async_io::Timer::after(Duration::from_millis(5)).await;
        }
        assert!(!part_path(&path).exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");

        let err = Pool
            .file_sink(dir.path().join("no-such-dir").join("x.png"))
            .restart()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("x.png.part"), "{err}");
    });
}
