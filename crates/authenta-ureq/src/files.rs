//! Files on disk as proto's upload sources and download sinks.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use authenta_proto::driver::check_reopened_len;
use authenta_proto::{DownloadSink, UploadSource};

/// How much of the file one read asks for when the transport asks for
/// less; memory stays at this plus the transport's buffer, whatever the
/// file's size.
const READ_BUFFER: usize = 64 * 1024;

/// A file to upload: opened once, read from its first byte on every
/// attempt (so its upload may be retried), and checked to still be the
/// size it had when it was measured.
pub(crate) struct FileSource {
    file: File,
    path: PathBuf,
    len: u64,
}

impl FileSource {
    /// Opens a regular file and measures it.
    pub(crate) fn open(path: &Path) -> io::Result<FileSource> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        Ok(FileSource {
            file,
            path: path.to_owned(),
            len: meta.len(),
        })
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
        check_reopened_len(self.len, self.file.metadata()?.len())?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, &self.file)))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// A download written to `<path>.part` and moved to `path` once complete,
/// so a failed download never leaves a partial file at `path` (nor
/// replaces one already there). Nothing is created until the first
/// attempt starts; each attempt starts the part file over.
pub(crate) struct FileSink {
    path: PathBuf,
    part: PathBuf,
    file: Option<File>,
}

impl FileSink {
    /// A sink for `path`.
    pub(crate) fn new(path: &Path) -> FileSink {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        FileSink {
            path: path.to_owned(),
            part: part.into(),
            file: None,
        }
    }

    /// Flushes the download to disk and moves it to its path.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.part, &self.path)
    }

    /// Removes the partial download, if any.
    pub(crate) fn abandon(mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.part);
        }
    }

    fn with_path(&self, error: io::Error) -> io::Error {
        io::Error::new(error.kind(), format!("{}: {error}", self.part.display()))
    }
}

impl DownloadSink for FileSink {
    fn restart(&mut self) -> io::Result<()> {
        self.file = Some(File::create(&self.part).map_err(|e| self.with_path(e))?);
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        let result = match &mut self.file {
            Some(file) => file.write_all(chunk),
            None => Err(io::Error::other("the download was not started")),
        };
        result.map_err(|e| self.with_path(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reopens_from_the_start_and_notices_a_change_of_size() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"0123456789").unwrap();
        let mut source = FileSource::open(file.path()).unwrap();
        assert_eq!((source.len(), source.reopenable()), (10, true));
        for _ in 0..2 {
            let mut out = Vec::new();
            source.open().unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, b"0123456789");
        }
        file.write_all(b"more").unwrap();
        let err = source.open().err().unwrap();
        assert!(
            err.to_string().contains("now 14 bytes, not the 10"),
            "{err}"
        );
        assert_eq!(source.describe(), file.path().display().to_string());
    }

    #[test]
    fn a_sink_starts_over_and_only_replaces_the_file_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heat.png");
        let part = dir.path().join("heat.png.part");
        std::fs::write(&path, b"old").unwrap();
        let mut sink = FileSink::new(&path);
        assert!(!part.exists(), "nothing before the first attempt");
        sink.restart().unwrap();
        sink.write_chunk(b"broken off").unwrap();
        sink.restart().unwrap();
        sink.write_chunk(b"new ").unwrap();
        sink.write_chunk(b"bytes").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        sink.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!part.exists());

        let mut failed = FileSink::new(&path);
        failed.restart().unwrap();
        failed.write_chunk(b"half").unwrap();
        failed.abandon();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!part.exists());

        let err = FileSink::new(&dir.path().join("missing/out.bin"))
            .restart()
            .unwrap_err();
        assert!(err.to_string().contains("missing/out.bin.part"), "{err}");
    }

    #[test]
    fn a_directory_is_not_a_source() {
        let dir = tempfile::tempdir().unwrap();
        assert!(FileSource::open(dir.path()).is_err());
    }
}
