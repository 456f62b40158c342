//! Where upload bytes come from and where downloads go: the source and
//! sink traits, in-memory and one-shot sources, and std's files as a
//! source and a sink (used by blocking clients; async runtimes run them
//! through their `unblock`: [`AsyncRuntime::file_source`](crate::AsyncRuntime::file_source)).
//!
//! The transport traits (`transport`) use these; nothing here uses them.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[cfg(feature = "async")]
use std::pin::Pin;

#[cfg(feature = "async")]
use bytes::Bytes;
#[cfg(feature = "async")]
use futures_core::Stream;

/// Where the bytes of a blocking upload come from.
pub trait UploadSource: Send {
    /// How many bytes the source holds.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`UploadSource::open`] can be called again after a failed
    /// attempt (a file can; a one-shot stream cannot). Only a reopenable
    /// upload is retried.
    fn reopenable(&self) -> bool;

    /// Opens the source from its first byte.
    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>>;

    /// A name for messages, such as the file's path.
    fn describe(&self) -> String {
        "the upload source".to_owned()
    }
}

impl UploadSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(&**self))
    }
}

impl UploadSource for Vec<u8> {
    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.as_slice()))
    }
}

/// The sources of a job's slots, one per slot: a run's driver reads the
/// one its [`SlotSelector`](crate::engine::jobs::SlotSelector) names (the
/// [`RunJob`](crate::engine::jobs::RunJob) flow sets it before each
/// slot's upload). `S` is `dyn UploadSource` or `dyn AsyncUploadSource`.
pub struct SlotSources<'a, S: ?Sized + 'a> {
    selector: crate::engine::jobs::SlotSelector,
    sources: Vec<(crate::types::SlotName, Box<S>)>,
    _source: std::marker::PhantomData<&'a ()>,
}

impl<'a, S: ?Sized + 'a> SlotSources<'a, S> {
    /// The slots' sources, switched by `selector`.
    pub fn new(
        selector: crate::engine::jobs::SlotSelector,
        sources: Vec<(crate::types::SlotName, Box<S>)>,
    ) -> Self {
        SlotSources {
            selector,
            sources,
            _source: std::marker::PhantomData,
        }
    }

    fn current(&self) -> Option<&S> {
        let slot = self.selector.current()?;
        self.sources
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, source)| &**source)
    }

    fn current_mut(&mut self) -> io::Result<&mut S> {
        let slot = self.selector.current();
        self.sources
            .iter_mut()
            .find(|(s, _)| Some(s) == slot.as_ref())
            .map(|(_, source)| &mut **source)
            .ok_or_else(|| match slot {
                Some(slot) => io::Error::other(format!("no source was given for the {slot} slot")),
                None => io::Error::other("no slot is being uploaded"),
            })
    }
}

impl<'a> UploadSource for SlotSources<'a, dyn UploadSource + 'a> {
    fn len(&self) -> u64 {
        self.current().map_or(0, |s| s.len())
    }

    fn reopenable(&self) -> bool {
        self.current().is_some_and(|s| s.reopenable())
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        self.current_mut()?.open()
    }

    fn describe(&self) -> String {
        self.current()
            .map_or_else(|| "the job's sources".to_owned(), |s| s.describe())
    }
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl<'a> AsyncUploadSource for SlotSources<'a, dyn AsyncUploadSource + 'a> {
    fn len(&self) -> u64 {
        self.current().map_or(0, |s| s.len())
    }

    fn reopenable(&self) -> bool {
        self.current().is_some_and(|s| s.reopenable())
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        self.current_mut()?.open().await
    }

    fn describe(&self) -> String {
        self.current()
            .map_or_else(|| "the job's sources".to_owned(), |s| s.describe())
    }
}

/// A reader that can seek: read again from its start for another attempt,
/// so its upload is retried like a file's.
pub struct SeekSource<R> {
    reader: R,
    len: u64,
}

impl<R: Read + io::Seek + Send> SeekSource<R> {
    /// `len` bytes from `reader`'s start.
    pub fn new(reader: R, len: u64) -> Self {
        SeekSource { reader, len }
    }
}

impl<R: Read + io::Seek + Send> UploadSource for SeekSource<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        self.reader.rewind()?;
        Ok(Box::new((&mut self.reader).take(self.len)))
    }
}

/// Checks that a source opened again for another attempt still holds the
/// `measured` bytes it was created with (`now` is its length at opening):
/// a file that grew or shrank since is not uploaded. For
/// [`UploadSource::open`] and [`AsyncUploadSource::open`] over files.
///
/// ```
/// use authenta_client::check_reopened_len;
///
/// assert!(check_reopened_len(10, 10).is_ok());
/// let err = check_reopened_len(10, 14).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// assert!(err.to_string().contains("now 14 bytes, not the 10"));
/// ```
pub fn check_reopened_len(measured: u64, now: u64) -> io::Result<()> {
    if measured == now {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file is now {now} bytes, not the {measured} it had when measured; upload it again"
        ),
    ))
}

/// A reader of known length that can be read once: its upload is never
/// retried.
pub struct OneShot<R> {
    reader: Option<R>,
    len: u64,
}

impl<R: Read + Send> OneShot<R> {
    /// `len` bytes from `reader`.
    pub fn new(reader: R, len: u64) -> Self {
        OneShot {
            reader: Some(reader),
            len,
        }
    }
}

impl<R: Read + Send> UploadSource for OneShot<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn reopenable(&self) -> bool {
        false
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        match self.reader.as_mut() {
            Some(reader) => Ok(Box::new(reader)),
            None => Err(io::Error::other(
                "a one-shot upload source cannot be read twice",
            )),
        }
    }
}

#[cfg(feature = "async")]
/// Where the bytes of an async upload come from.
#[async_trait::async_trait]
pub trait AsyncUploadSource: Send {
    /// How many bytes the source holds.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`AsyncUploadSource::open`] can be called again; only a
    /// reopenable upload is retried.
    fn reopenable(&self) -> bool;

    /// Opens the source from its first byte.
    async fn open(&mut self) -> io::Result<ByteStream>;

    /// A name for messages, such as the file's path.
    fn describe(&self) -> String {
        "the upload source".to_owned()
    }
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl AsyncUploadSource for bytes::Bytes {
    fn len(&self) -> u64 {
        bytes::Bytes::len(self) as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        let chunk = self.clone();
        Ok(Box::pin(futures_util::stream::once(
            async move { Ok(chunk) },
        )))
    }
}

#[cfg(feature = "async")]
/// A stream of known length that can be read once: its upload is never
/// retried.
pub struct OneShotStream {
    stream: Option<ByteStream>,
    len: u64,
}

#[cfg(feature = "async")]
impl OneShotStream {
    /// `len` bytes from `stream`.
    pub fn new(stream: ByteStream, len: u64) -> Self {
        OneShotStream {
            stream: Some(stream),
            len,
        }
    }
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl AsyncUploadSource for OneShotStream {
    fn len(&self) -> u64 {
        self.len
    }

    fn reopenable(&self) -> bool {
        false
    }

    async fn open(&mut self) -> io::Result<ByteStream> {
        self.stream
            .take()
            .ok_or_else(|| io::Error::other("a one-shot upload stream cannot be read twice"))
    }
}

/// Where a download to `path` is written until it is complete:
/// `<path>.part`, renamed to `path` on commit, so a failed download never
/// leaves a partial file at `path` (nor clobbers one already there). Both
/// backends' file sinks use it.
///
/// ```
/// use std::path::Path;
/// assert_eq!(
///     authenta_client::part_path(Path::new("out/heat.png")),
///     Path::new("out/heat.png.part")
/// );
/// ```
pub fn part_path(path: &Path) -> PathBuf {
    let mut part: OsString = path.as_os_str().to_owned();
    part.push(".part");
    part.into()
}

/// The error, naming the file it concerns.
pub fn naming(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A file to upload with std's files: measured once, reopened from its first
/// byte for every attempt (so its upload may be retried), and checked to
/// still be the size it had when measured.
#[derive(Clone, Debug)]
pub struct FileSource {
    path: PathBuf,
    len: u64,
}

impl FileSource {
    /// A source for `path`, whose size was measured as `len`.
    pub fn new(path: PathBuf, len: u64) -> Self {
        FileSource { path, len }
    }
}

impl UploadSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        // A transport reading at least FILE_CHUNK at a time (ureq does)
        // reads the file straight into its own buffer.
        Ok(Box::new(io::BufReader::with_capacity(
            FILE_CHUNK,
            self.open_file()?,
        )))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

impl FileSource {
    fn open_file(&self) -> io::Result<File> {
        let file = File::open(&self.path)?;
        check_reopened_len(self.len, file.metadata()?.len())?;
        Ok(file)
    }

    #[cfg(feature = "async")]
    /// The file from its first byte as chunks of at most [`FILE_CHUNK`]
    /// bytes, for an async runtime's file source: opened and checked as
    /// [`UploadSource::open`] does, then read, where blocking is allowed, as
    /// the chunks are taken. The chunks end after a failed read. A
    /// chunk's buffer is read into again once the transport has dropped the
    /// chunk, so the few buffers in use stay in the CPU's cache. A buffer
    /// is no larger than what is left of the file (and one byte once all
    /// of it is read, to see its end): a small file costs no 64 KiB
    /// buffers.
    pub fn chunks(&self) -> io::Result<impl Iterator<Item = io::Result<Bytes>> + Send + use<>> {
        let mut file = self.open_file()?;
        let (home, returned) = std::sync::mpsc::channel();
        let mut failed = false;
        let mut left = self.len;
        Ok(std::iter::from_fn(move || {
            while !failed {
                let want =
                    usize::try_from(left).map_or(FILE_CHUNK, |left| left.clamp(1, FILE_CHUNK));
                let mut buf: Vec<u8> = returned.try_recv().unwrap_or_default();
                // Zeroes only what the buffer grows by.
                buf.resize(want, 0);
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(len) => {
                        left = left.saturating_sub(len as u64);
                        let home = home.clone();
                        return Some(Ok(Bytes::from_owner(Reused { buf, len, home })));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failed = true;
                        return Some(Err(e));
                    }
                }
            }
            None
        }))
    }
}

#[cfg(feature = "async")]
/// A chunk's buffer, sent back to its reader when the chunk is dropped.
struct Reused {
    buf: Vec<u8>,
    len: usize,
    home: std::sync::mpsc::Sender<Vec<u8>>,
}

#[cfg(feature = "async")]
impl AsRef<[u8]> for Reused {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(feature = "async")]
impl Drop for Reused {
    fn drop(&mut self) {
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

/// The size of the chunks files are read and written in: memory stays at a
/// few of these whatever the file's size, and a buffer this size stays in
/// the CPU's cache between the read that fills it and the socket write
/// that sends it (copying a file into 128 KiB buffers cost twice the CPU;
/// see BENCHMARKS.md, the 1 GiB upload).
pub const FILE_CHUNK: usize = 64 * 1024;

/// A download written with std's files to [`part_path`] and renamed into
/// place on [`DownloadSink::commit`]. Nothing is created until the first
/// attempt. Dropped before its commit (a failed download, or an async
/// download whose future was dropped), it removes its `.part` file.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    part: PathBuf,
    file: Option<io::BufWriter<File>>,
}

impl FileSink {
    /// A sink for `path`.
    pub fn new(path: PathBuf) -> Self {
        FileSink {
            part: part_path(&path),
            path,
            file: None,
        }
    }
}

impl DownloadSink for FileSink {
    fn restart(&mut self) -> io::Result<()> {
        // What an earlier attempt left buffered is thrown away, not written.
        if let Some(earlier) = self.file.take() {
            drop(earlier.into_parts());
        }
        let file = File::create(&self.part).map_err(|e| naming(&self.part, e))?;
        self.file = Some(io::BufWriter::with_capacity(FILE_CHUNK, file));
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(chunk).map_err(|e| naming(&self.part, e)),
            None => Err(io::Error::other("the download was not started")),
        }
    }

    fn commit(&mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let done = file
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&self.part, &self.path));
        if done.is_err() {
            let _ = std::fs::remove_file(&self.part);
        }
        done.map_err(|e| naming(&self.path, e))
    }

    fn abandon(&mut self) {
        if let Some(file) = self.file.take() {
            drop(file.into_parts());
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

impl Drop for FileSink {
    /// A download not committed leaves no `.part` file behind.
    fn drop(&mut self) {
        self.abandon();
    }
}

#[cfg(feature = "async")]
/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Where a streamed download's bytes go (a file, usually). The driver calls
/// [`DownloadSink::restart`] before each attempt, so a retried download
/// starts again from an empty sink.
pub trait DownloadSink: Send {
    /// Empties the sink: what follows starts at the first byte.
    fn restart(&mut self) -> io::Result<()>;
    /// Takes the next bytes of the body.
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The download is complete: make it final (a file sink moves its
    /// `.part` file into place). The default does nothing.
    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The download failed: throw away what was written. The default does
    /// nothing.
    fn abandon(&mut self) {}
}

impl DownloadSink for Vec<u8> {
    fn restart(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.extend_from_slice(chunk);
        Ok(())
    }
}

#[cfg(feature = "async")]
/// Where an async streamed download's bytes go; see [`DownloadSink`].
#[async_trait::async_trait]
pub trait AsyncDownloadSink: Send {
    /// Empties the sink: what follows starts at the first byte.
    async fn restart(&mut self) -> io::Result<()>;
    /// Takes the next bytes of the body.
    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The download is complete: make it final. The default does nothing.
    async fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The download failed: throw away what was written. The default does
    /// nothing.
    async fn abandon(&mut self) {}
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl AsyncDownloadSink for Vec<u8> {
    async fn restart(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.extend_from_slice(chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_source_reopens_and_notices_a_changed_file() {
        let dir = std::env::temp_dir().join(format!("authenta-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.bin");
        std::fs::write(&path, b"12345").unwrap();
        let mut source = FileSource::new(path.clone(), 5);
        for _ in 0..2 {
            let mut out = Vec::new();
            source.open().unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, b"12345");
        }
        std::fs::write(&path, b"123").unwrap();
        let err = source.open().map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("now 3 bytes"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(feature = "async")]
    #[test]
    fn a_file_is_read_as_chunks_into_reused_buffers() {
        let dir = std::env::temp_dir().join(format!("authenta-chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.bin");
        let data: Vec<u8> = (0..FILE_CHUNK * 3 + 17).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let source = FileSource::new(path.clone(), data.len() as u64);
        let (mut out, mut buffers) = (Vec::new(), std::collections::HashSet::new());
        for chunk in source.chunks().unwrap() {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= FILE_CHUNK);
            buffers.insert(chunk.as_ptr());
            out.extend_from_slice(&chunk);
        }
        assert_eq!(out, data);
        assert_eq!(
            buffers.len(),
            1,
            "a dropped chunk's buffer is read into again"
        );
        // A small file is read whole, in one chunk; bytes it gains once
        // opened are still read (one byte at a time past its size), so the
        // upload sees the file is not the size it was signed for.
        std::fs::write(&path, b"12345").unwrap();
        let small = FileSource::new(path.clone(), 5);
        let chunks: Vec<Bytes> = small.chunks().unwrap().map(Result::unwrap).collect();
        assert_eq!(chunks, [Bytes::from_static(b"12345")]);
        let grown = small.chunks().unwrap();
        std::fs::write(&path, b"1234567").unwrap();
        let read: Vec<u8> = grown.flat_map(Result::unwrap).collect();
        assert_eq!(read, b"1234567");
        std::fs::write(&path, b"123").unwrap();
        let err = source.chunks().map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("now 3 bytes"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_sink_replaces_the_file_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("authenta-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("heat.png");
        std::fs::write(&path, b"old").unwrap();
        let mut sink = FileSink::new(path.clone());
        sink.restart().unwrap();
        sink.write_chunk(b"broken off").unwrap();
        sink.restart().unwrap();
        sink.write_chunk(b"new ").unwrap();
        sink.write_chunk(b"bytes").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        sink.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!part_path(&path).exists());
        let mut failed = FileSink::new(path.clone());
        failed.restart().unwrap();
        failed.write_chunk(b"half").unwrap();
        failed.abandon();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!part_path(&path).exists());
        let err = FileSink::new(dir.join("no-such-dir").join("x"))
            .restart()
            .unwrap_err();
        assert!(err.to_string().contains("x.part"), "{err}");
        // Dropped mid-download (a dropped async call): no `.part` is left,
        // the file is untouched; dropped after its commit: the file stays.
        let mut dropped = FileSink::new(path.clone());
        dropped.restart().unwrap();
        dropped.write_chunk(b"half").unwrap();
        assert!(part_path(&path).exists());
        drop(dropped);
        assert!(!part_path(&path).exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        let mut committed = FileSink::new(path.clone());
        committed.restart().unwrap();
        committed.write_chunk(b"final").unwrap();
        committed.commit().unwrap();
        drop(committed);
        assert_eq!(std::fs::read(&path).unwrap(), b"final");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
