//! Files as proto's upload sources and download sinks, streamed in chunks
//! so memory does not grow with the file.

use std::io;
use std::path::PathBuf;

use authenta_proto::{AsyncDownloadSink, AsyncUploadSource, ByteStream, UploadSource as _};
use authenta_proto::{naming, part_path};
use tokio::fs::File;
use tokio::io::AsyncWriteExt as _;

/// How many chunks the reader reads at a time.
const AHEAD: usize = 4;

/// A file to upload: proto's [`FileSource`](authenta_proto::FileSource)
/// (measured once, reopened for every attempt and checked to still be that
/// size), read by one task of tokio's blocking pool a few chunks ahead of
/// the connection.
#[derive(Debug)]
pub(crate) struct FileSource(authenta_proto::FileSource);

impl FileSource {
    /// A source for `path`, whose size was measured as `len`.
    pub(crate) fn new(path: PathBuf, len: u64) -> Self {
        FileSource(authenta_proto::FileSource::new(path, len))
    }
}

#[async_trait::async_trait]
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

/// A download written to [`part_path`] and renamed to its path on commit,
/// so a failed download never leaves a partial file (or clobbers one
/// already there). Nothing is created until the first attempt.
#[derive(Debug)]
pub(crate) struct FileSink {
    path: PathBuf,
    part: PathBuf,
    file: Option<File>,
}

impl FileSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        FileSink {
            part: part_path(&path),
            path,
            file: None,
        }
    }
}

#[async_trait::async_trait]
impl AsyncDownloadSink for FileSink {
    async fn restart(&mut self) -> io::Result<()> {
        // An earlier attempt's write may still be in flight on tokio's
        // blocking pool: let it land before the file is truncated.
        if let Some(mut earlier) = self.file.take() {
            let _ = earlier.flush().await;
        }
        let file = File::create(&self.part).await;
        self.file = Some(file.map_err(|e| naming(&self.part, e))?);
        Ok(())
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file
                .write_all(chunk)
                .await
                .map_err(|e| naming(&self.part, e)),
            None => Err(io::Error::other("the download was not started")),
        }
    }

    async fn commit(&mut self) -> io::Result<()> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        let done = async {
            file.flush().await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&self.part, &self.path).await
        }
        .await;
        if done.is_err() {
            let _ = tokio::fs::remove_file(&self.part).await;
        }
        done.map_err(|e| naming(&self.path, e))
    }

    async fn abandon(&mut self) {
        if self.file.take().is_some() {
            let _ = tokio::fs::remove_file(&self.part).await;
        }
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
            assert!(chunk.len() <= authenta_proto::FILE_CHUNK);
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_file_is_read_in_chunks_from_the_start_on_every_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let data: Vec<u8> = (0..authenta_proto::FILE_CHUNK * 2 + 17)
            .map(|i| i as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let mut source = FileSource::new(path.clone(), data.len() as u64);
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
        let mut sink = FileSink::new(dir.path().join("no-such-dir").join("heat.png"));
        let err = sink.restart().await.unwrap_err();
        assert!(err.to_string().contains("heat.png.part"), "{err}");
    }

    #[tokio::test]
    async fn a_sink_restarts_and_only_replaces_the_file_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heat.png");
        std::fs::write(&path, b"old").unwrap();
        let mut sink = FileSink::new(path.clone());
        sink.restart().await.unwrap();
        sink.write_chunk(b"broken off").await.unwrap();
        sink.restart().await.unwrap();
        sink.write_chunk(b"new ").await.unwrap();
        sink.write_chunk(b"bytes").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        sink.commit().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!dir.path().join("heat.png.part").exists());

        let mut failed = FileSink::new(path.clone());
        failed.restart().await.unwrap();
        failed.write_chunk(b"half").await.unwrap();
        failed.abandon().await;
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!dir.path().join("heat.png.part").exists());
    }
}
