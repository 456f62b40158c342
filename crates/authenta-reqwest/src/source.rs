//! Files as proto's upload sources and download sinks, streamed in chunks
//! so memory does not grow with the file.

use std::io;

use authenta_client::{AsyncDownloadSink, AsyncUploadSource, ByteStream};
use authenta_client::{DownloadSink, UploadSource as _};

/// How many chunks the reader reads each time it wakes (it keeps 8 to 16
/// queued; 4 and 16 spent more CPU on the 1 GiB upload bench).
const AHEAD: usize = 8;

/// A file to upload: proto's [`FileSource`](authenta_client::FileSource)
/// (measured once, reopened for every attempt and checked to still be that
/// size), read by one task of tokio's blocking pool a few chunks ahead of
/// the connection.
#[derive(Debug)]
pub(crate) struct FileSource(pub(crate) authenta_client::FileSource);

#[authenta_client::async_trait]
impl AsyncUploadSource for FileSource {
    fn len(&self) -> u64 {
        self.0.len()
    }

    fn reopenable(&self) -> bool {
        true
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        let source = self.0.clone();
        let chunks = tokio::task::spawn_blocking(move || source.chunks());
        let chunks = chunks.await.map_err(io::Error::other)??;
        let (sender, mut receiver) = tokio::sync::mpsc::channel(2 * AHEAD);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut chunks = chunks.peekable();
            // Woken once per AHEAD chunks taken, not once per chunk.
            while chunks.peek().is_some() {
                let Ok(room) = runtime.block_on(sender.reserve_many(AHEAD)) else {
                    break;
                };
                for (permit, chunk) in room.zip(&mut chunks) {
                    permit.send(chunk);
                }
            }
        });
        Ok(Box::pin(futures_util::stream::poll_fn(move |cx| {
            receiver.poll_recv(cx)
        })))
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// A download into proto's [`FileSink`](authenta_client::FileSink) (written
/// to [`part_path`](authenta_client::part_path), renamed on commit), each
/// call run on tokio's blocking pool.
#[derive(Debug)]
pub(crate) struct FileSink(pub(crate) Option<authenta_client::FileSink>);

impl FileSink {
    /// Runs `work` on the sink on tokio's blocking pool.
    async fn run<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut authenta_client::FileSink) -> T + Send + 'static,
    ) -> io::Result<T> {
        let broken = || io::Error::other("an earlier write broke off");
        let mut sink = self.0.take().ok_or_else(broken)?;
        let done = tokio::task::spawn_blocking(move || (work(&mut sink), sink)).await;
        let (result, sink) = done.map_err(io::Error::other)?;
        self.0 = Some(sink);
        Ok(result)
    }
}

#[authenta_client::async_trait]
impl AsyncDownloadSink for FileSink {
    async fn restart(&mut self) -> io::Result<()> {
        self.run(DownloadSink::restart).await?
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        let chunk = chunk.to_vec();
        self.run(move |sink| sink.write_chunk(&chunk)).await?
    }

    async fn commit(&mut self) -> io::Result<()> {
        self.run(DownloadSink::commit).await?
    }

    async fn abandon(&mut self) {
        let _ = self.run(DownloadSink::abandon).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;

    async fn read_all(source: &mut FileSource) -> io::Result<Vec<u8>> {
        let mut stream = source.open().await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            assert!(chunk.len() <= authenta_client::FILE_CHUNK);
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_file_is_read_in_chunks_from_the_start_on_every_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let data: Vec<u8> = (0..authenta_client::FILE_CHUNK * 2 + 17)
            .map(|i| i as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let mut source = FileSource(authenta_client::FileSource::new(
            path.clone(),
            data.len() as u64,
        ));
        assert_eq!(
            (source.len(), source.reopenable()),
            (data.len() as u64, true)
        );
        for _ in 0..2 {
            assert_eq!(read_all(&mut source).await.unwrap(), data);
        }
        std::fs::write(&path, b"shorter").unwrap();
        let err = read_all(&mut source).await.unwrap_err();
        assert!(err.to_string().contains("the file is now 7 bytes"), "{err}");
    }

    #[tokio::test]
    async fn a_sink_that_cannot_write_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = FileSink(Some(authenta_client::FileSink::new(
            dir.path().join("no-such-dir").join("heat.png"),
        )));
        let err = sink.restart().await.unwrap_err();
        assert!(err.to_string().contains("heat.png.part"), "{err}");
    }

    #[tokio::test]
    async fn a_sink_restarts_and_only_replaces_the_file_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heat.png");
        std::fs::write(&path, b"old").unwrap();
        let mut sink = FileSink(Some(authenta_client::FileSink::new(path.clone())));
        sink.restart().await.unwrap();
        sink.write_chunk(b"broken off").await.unwrap();
        sink.restart().await.unwrap();
        sink.write_chunk(b"new ").await.unwrap();
        sink.write_chunk(b"bytes").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        sink.commit().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!dir.path().join("heat.png.part").exists());

        let mut failed = FileSink(Some(authenta_client::FileSink::new(path.clone())));
        failed.restart().await.unwrap();
        failed.write_chunk(b"half").await.unwrap();
        failed.abandon().await;
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!dir.path().join("heat.png.part").exists());

        // A download whose future is dropped between two writes drops its
        // sink: the `.part` goes with it, the file is untouched.
        let mut dropped = FileSink(Some(authenta_client::FileSink::new(path.clone())));
        dropped.restart().await.unwrap();
        dropped.write_chunk(b"half").await.unwrap();
        assert!(dir.path().join("heat.png.part").exists());
        drop(dropped);
        assert!(!dir.path().join("heat.png.part").exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
    }
}
