//! Files on disk checked before an upload: what `authenta-proto` checks
//! over bytes (`MediaFile::from_reader`), read from a path.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use authenta_proto::engine::flows::SourceInfo;
use authenta_proto::engine::jobs::JobUpload;
use authenta_proto::types::SlotName;
use authenta_proto::{MediaFile, UploadOptions, ValidationError, jobs::JobFile};

/// How many bytes [`media_file`] reads at once, and so the size up to
/// which it reads a file whole in one read (its check reads that much of
/// it anyway): what to give [`media_file_read`] for no more reads than
/// [`media_file`] makes.
pub const CHECK_READ: u64 = 8 << 10;

/// Reads a file's size and first bytes from disk and checks it, like
/// [`MediaFile::inspect`], then checks that it is complete
/// ([`MediaFile::from_reader`]); the record is named after the file. A
/// missing or unreadable file is a [`ValidationError::Unreadable`] naming
/// the path.
///
/// This reads a few KiB and a few headers with `std::fs` (a file of at
/// most 8 KiB in one read); async callers run it on a blocking thread
/// (the async client does).
///
/// ```
/// let err = authenta_client::media_file("no/such/file.png".as_ref(), None).unwrap_err();
/// assert!(err.to_string().contains("no/such/file.png"), "{err}");
/// ```
pub fn media_file(path: &Path, content_type: Option<&str>) -> Result<MediaFile, ValidationError> {
    media_file_read(path, content_type, CHECK_READ).map(|read| read.file)
}

/// A file on disk checked by [`media_file_read`], and its bytes when it
/// was read whole (`Debug` shows how many, not the bytes).
pub struct ReadFile {
    /// The file, checked.
    pub file: MediaFile,
    /// All its bytes, as checked, when it was at most the size asked for
    /// (one read: a caller that needs them, such as one computing their
    /// digest, does not open the file again).
    pub bytes: Option<Vec<u8>>,
    /// Its modification time when it was opened, where the system keeps
    /// one.
    pub modified: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for ReadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadFile")
            .field("file", &self.file)
            .field("bytes", &self.bytes.as_ref().map(Vec::len))
            .field("modified", &self.modified)
            .finish()
    }
}

/// [`media_file`], reading the file whole (in one read) when its size is
/// at most `whole` bytes: the bytes checked are then in
/// [`ReadFile::bytes`]. A larger file is read as [`media_file`] reads it
/// (its first bytes and headers).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("authenta-read-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("pic.png");
/// std::fs::write(&path, include_bytes!("../../../samples/test-pattern.png")).unwrap();
/// let read = authenta_client::media_file_read(&path, None, 64 << 10).unwrap();
/// assert_eq!(read.bytes.unwrap().len() as u64, read.file.size);
/// let read = authenta_client::media_file_read(&path, None, 16).unwrap();
/// assert!(read.bytes.is_none());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn media_file_read(
    path: &Path,
    content_type: Option<&str>,
    whole: u64,
) -> Result<ReadFile, ValidationError> {
    let unreadable = |reason: String| ValidationError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let meta = file.metadata().map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("not a regular file".into()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let modified = meta.modified().ok();
    let named = |e| match e {
        ValidationError::Unreadable { reason, .. } => unreadable(reason),
        other => other,
    };
    if meta.len() <= whole {
        match read_whole(&mut file, meta.len()).map_err(|e| unreadable(e.to_string()))? {
            Some(bytes) => {
                let file = MediaFile::from_reader(name, Cursor::new(&bytes), content_type)
                    .map_err(named)?;
                return Ok(ReadFile {
                    file,
                    bytes: Some(bytes),
                    modified,
                });
            }
            // It grew since its metadata was read: checked as a large file.
            None => {
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| unreadable(e.to_string()))?;
            }
        }
    }
    let reader = std::io::BufReader::with_capacity(CHECK_READ as usize, file);
    let file = MediaFile::from_reader(name, reader, content_type).map_err(named)?;
    Ok(ReadFile {
        file,
        bytes: None,
        modified,
    })
}

/// All of `file`'s bytes, its metadata saying `len`: `None` if it holds
/// more. A read that stops short at `len` bytes is its end (a regular
/// file's read stops short only there): one read, not a second one that
/// finds nothing.
fn read_whole(file: &mut std::fs::File, len: u64) -> std::io::Result<Option<Vec<u8>>> {
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut bytes = vec![0; len + 1];
    let mut n = 0;
    loop {
        let asked = bytes.len() - n;
        match file.read(&mut bytes[n..]) {
            Ok(0) => break,
            Ok(read) => {
                n += read;
                if n > len {
                    return Ok(None);
                }
                if n == len && read < asked {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(n);
    Ok(Some(bytes))
}

/// Checks a file on disk for an upload with `options`: readable, not
/// empty, at most 5 GiB, a content type the API takes, named as the
/// options say, and a model that takes it ([`UploadOptions::check_file`]).
pub fn inspect_path(options: &UploadOptions, path: &Path) -> Result<MediaFile, ValidationError> {
    options.check_file(media_file(path, options.content_type.as_deref())?)
}

/// Checks a file on disk as `slot`'s input of a job ([`media_file`]; the
/// task type's formats are checked when the run is made): its checked file
/// and its source's length, reopenable.
pub fn job_upload(slot: SlotName, path: &Path) -> Result<JobUpload, ValidationError> {
    Ok(job_upload_of(slot, path, media_file(path, None)?))
}

/// `slot`'s input of a job from the file at `path`, already checked
/// (`file`, by [`media_file`] or [`media_file_read`]): [`job_upload`]
/// without reading the file again.
pub fn job_upload_of(slot: SlotName, path: &Path, file: MediaFile) -> JobUpload {
    JobUpload {
        source: SourceInfo {
            len: file.size,
            reopenable: true,
            name: path.display().to_string(),
        },
        file: JobFile::new(slot, file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_proto::types::ModelType;

    const SAMPLE_PNG: &[u8] = include_bytes!("../../../samples/test-pattern.png");

    #[test]
    fn from_path_reads_disk() {
        let dir =
            std::env::temp_dir().join(format!("authenta-proto-validate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pic.png");
        std::fs::write(&path, SAMPLE_PNG).unwrap();
        let file = media_file(&path, None).unwrap();
        assert_eq!(
            (file.name.as_str(), file.size),
            ("pic.png", SAMPLE_PNG.len() as u64)
        );
        std::fs::write(&path, &SAMPLE_PNG[..100]).unwrap();
        let err = media_file(&path, None).unwrap_err();
        assert!(matches!(err, ValidationError::Truncated { .. }), "{err}");
        let err = media_file(&dir.join("missing.png"), None).unwrap_err();
        assert!(matches!(err, ValidationError::Unreadable { .. }));
        assert!(err.to_string().contains("missing.png"), "{err}");
        let err = media_file(&dir, None).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A small file is read whole, in one read, and checked from those
    /// bytes as a larger one is from disk; one that holds more or fewer
    /// bytes than its metadata said is read as it is.
    #[test]
    fn a_small_file_is_read_whole_and_checked_the_same() {
        let dir = std::env::temp_dir().join(format!("authenta-whole-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pic.png");
        std::fs::write(&path, SAMPLE_PNG).unwrap();
        let whole = media_file_read(&path, None, 64 << 10).unwrap();
        assert_eq!(whole.bytes.as_deref(), Some(SAMPLE_PNG));
        let read = media_file_read(&path, None, 0).unwrap();
        assert!(read.bytes.is_none());
        assert_eq!(
            (whole.file.size, &whole.file.content_type, &whole.file.name),
            (read.file.size, &read.file.content_type, &read.file.name)
        );
        std::fs::write(&path, &SAMPLE_PNG[..100]).unwrap();
        let err = media_file_read(&path, None, 64 << 10).unwrap_err();
        assert!(matches!(err, ValidationError::Truncated { .. }), "{err}");
        // Its metadata said fewer bytes than it holds (it grew): not whole.
        let mut file = std::fs::File::open(&path).unwrap();
        assert_eq!(read_whole(&mut file, 99).unwrap(), None);
        // More than it holds (it shrank): what it holds.
        let mut file = std::fs::File::open(&path).unwrap();
        assert_eq!(
            read_whole(&mut file, 150).unwrap().as_deref(),
            Some(&SAMPLE_PNG[..100])
        );
        let mut file = std::fs::File::open(&path).unwrap();
        assert_eq!(
            read_whole(&mut file, 100).unwrap().as_deref(),
            Some(&SAMPLE_PNG[..100])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_is_checked_with_the_model() {
        let dir = std::env::temp_dir().join(format!("authenta-options-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.png");
        std::fs::write(&path, include_bytes!("../../../samples/test-pattern.png")).unwrap();
        let file =
            inspect_path(&UploadOptions::new(ModelType::Ac1).name("renamed"), &path).unwrap();
        assert_eq!(
            (file.name.as_str(), file.content_type.as_str()),
            ("renamed", "image/png")
        );
        assert!(inspect_path(&UploadOptions::new(ModelType::Df1), &path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
