//! Files for an async runtime, built on nothing but its `unblock`: what
//! [`AsyncRuntime::file_source`](crate::AsyncRuntime::file_source) and
//! [`file_sink`](crate::AsyncRuntime::file_sink) give unless a runtime
//! brings its own, so an embedder writes only the HTTP adapter and the
//! clock.
//!
//! [`UnblockedFileSource`] reads std's [`FileSource`] in [`FILE_CHUNK`](crate::FILE_CHUNK)s,
//! [`READ_AHEAD`] chunks per `unblock` call, with one call in flight while
//! the transport takes the chunks of the one before: at most
//! `2 × READ_AHEAD` chunks (2 MiB) are read and not yet sent, whatever the
//! file's size. [`UnblockedFileSink`] runs std's [`FileSink`] (`.part`,
//! fsync, rename on commit, removed when dropped unfinished) one call at a
//! time.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::io::{
    AsyncDownloadSink, AsyncUploadSource, ByteStream, DownloadSink, FileSink, FileSource,
    UploadSource as _,
};

/// How many chunks of [`FILE_CHUNK`](crate::FILE_CHUNK) bytes an [`UnblockedFileSource`]
/// reads per `unblock` call; one call is in flight at a time, so at most
/// twice this many chunks wait for the transport.
pub const READ_AHEAD: usize = 8;

/// A piece of blocking work, boxed.
pub type BlockingWork = Box<dyn FnOnce() + Send>;

/// A future of an [`Unblocker`]'s run.
type Unblocked = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An async runtime's `unblock` as a value: runs blocking work off the
/// runtime's threads. Cheap to clone. The default file sources and sinks
/// hold one; [`AsyncRuntime::unblocker`](crate::AsyncRuntime::unblocker)
/// makes it from the runtime.
///
/// ```
/// use authenta_client::Unblocker;
///
/// // Work run in place (a runtime would hand it to its thread pool).
/// let unblocker = Unblocker::new(|work| Box::pin(async move { work() }));
/// let answer = futures_util::FutureExt::now_or_never(unblocker.run(|| 6 * 7));
/// assert_eq!(answer, Some(42));
/// ```
#[derive(Clone)]
pub struct Unblocker(Arc<dyn Fn(BlockingWork) -> Unblocked + Send + Sync>);

impl Unblocker {
    /// An unblocker that hands each piece of work to `spawn` and waits for
    /// the future it returns (which ends when the work has run).
    pub fn new(
        spawn: impl Fn(BlockingWork) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static,
    ) -> Self {
        Unblocker(Arc::new(spawn))
    }

    /// Runs `work` off the runtime's threads and gives its result.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let slot = Arc::new(Mutex::new(None));
        let filled = slot.clone();
        (self.0)(Box::new(move || {
            let value = work();
            *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        }))
        .await;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.expect("the runtime's unblock ran the work before it finished")
    }
}

impl fmt::Debug for Unblocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unblocker")
    }
}

/// A file to upload from an async runtime: std's [`FileSource`] (measured
/// once, reopened from its first byte for each attempt, checked to still be
/// that size), opened and read through an [`Unblocker`], [`READ_AHEAD`]
/// chunks at a time.
#[derive(Debug)]
pub struct UnblockedFileSource {
    file: FileSource,
    unblocker: Unblocker,
}

impl UnblockedFileSource {
    /// `path`, measured as `len` bytes, read through `unblocker`.
    pub fn new(path: PathBuf, len: u64, unblocker: Unblocker) -> Self {
        UnblockedFileSource {
            file: FileSource::new(path, len),
            unblocker,
        }
    }
}

#[async_trait::async_trait]
impl AsyncUploadSource for UnblockedFileSource {
    fn len(&self) -> u64 {
        self.file.len()
    }

    fn reopenable(&self) -> bool {
        true
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        let file = self.file.clone();
        let chunks: Chunks = Box::new(self.unblocker.run(move || file.chunks()).await?);
        Ok(Box::pin(ReadAhead {
            chunks: Some(chunks),
            ready: VecDeque::with_capacity(2 * READ_AHEAD),
            reading: None,
            ended: false,
            unblocker: self.unblocker.clone(),
        }))
    }

    fn describe(&self) -> String {
        self.file.describe()
    }
}

type Chunks = Box<dyn Iterator<Item = io::Result<Bytes>> + Send>;

/// A batch read off the runtime's threads: the chunks, the iterator back.
type Batch = Pin<Box<dyn Future<Output = (Chunks, Vec<io::Result<Bytes>>)> + Send>>;

/// The chunks of an opened file, read a batch ahead of the transport.
struct ReadAhead {
    /// The file's chunks, when no batch is being read.
    chunks: Option<Chunks>,
    /// Read, not yet taken.
    ready: VecDeque<io::Result<Bytes>>,
    /// The batch being read.
    reading: Option<Batch>,
    /// The last batch came back short: the file ended (or failed).
    ended: bool,
    unblocker: Unblocker,
}

impl ReadAhead {
    /// Makes the next batch's read, when fewer than a batch's chunks are
    /// ready and none is being read (polled at once, it starts).
    fn read_on(&mut self) {
        if self.ended || self.reading.is_some() || self.ready.len() >= READ_AHEAD {
            return;
        }
        let Some(mut chunks) = self.chunks.take() else {
            return;
        };
        let unblocker = self.unblocker.clone();
        self.reading = Some(Box::pin(async move {
            unblocker
                .run(move || {
                    let batch: Vec<_> = chunks.by_ref().take(READ_AHEAD).collect();
                    (chunks, batch)
                })
                .await
        }));
    }
}

impl Stream for ReadAhead {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            this.read_on();
            if let Some(reading) = &mut this.reading
                && let Poll::Ready((chunks, batch)) = reading.as_mut().poll(cx)
            {
                this.reading = None;
                // A short batch, or one ending in an error, is the last.
                this.ended = batch.len() < READ_AHEAD || batch.last().is_some_and(|c| c.is_err());
                this.chunks = Some(chunks);
                this.ready.extend(batch);
                continue;
            }
            // The batch started above is read while these chunks are sent.
            return match this.ready.pop_front() {
                Some(chunk) => Poll::Ready(Some(chunk)),
                None if this.ended => Poll::Ready(None),
                None => Poll::Pending,
            };
        }
    }
}

/// A download into std's [`FileSink`] (written to
/// [`part_path`](crate::part_path), flushed to disk and renamed on commit),
/// each call run through an [`Unblocker`]. Dropped unfinished (a failed
/// download, or a dropped future, even during a write), it leaves no
/// `.part` file.
#[derive(Debug)]
pub struct UnblockedFileSink {
    sink: Option<FileSink>,
    unblocker: Unblocker,
}

impl UnblockedFileSink {
    /// A sink for `path`, written through `unblocker`.
    pub fn new(path: PathBuf, unblocker: Unblocker) -> Self {
        UnblockedFileSink {
            sink: Some(FileSink::new(path)),
            unblocker,
        }
    }

    /// Runs `work` on the sink off the runtime's threads.
    async fn run<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut FileSink) -> T + Send + 'static,
    ) -> io::Result<T> {
        let mut sink = self
            .sink
            .take()
            .ok_or_else(|| io::Error::other("an earlier write broke off"))?;
        let (result, sink) = self.unblocker.run(move || (work(&mut sink), sink)).await;
        self.sink = Some(sink);
        Ok(result)
    }
}

#[async_trait::async_trait]
impl AsyncDownloadSink for UnblockedFileSink {
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
