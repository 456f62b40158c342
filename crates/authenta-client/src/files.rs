//! Files on disk checked before an upload: what `authenta-proto` checks
//! over bytes (`MediaFile::from_reader`), read from a path.

use std::path::Path;

use authenta_proto::engine::flows::SourceInfo;
use authenta_proto::engine::jobs::JobUpload;
use authenta_proto::types::SlotName;
use authenta_proto::{MediaFile, UploadOptions, ValidationError, jobs::JobFile};

/// Reads a file's size and first bytes from disk and checks it, like
/// [`MediaFile::inspect`], then checks that it is complete
/// ([`MediaFile::from_reader`]); the record is named after the file. A
/// missing or unreadable file is a [`ValidationError::Unreadable`] naming
/// the path.
///
/// This reads a few KiB and a few headers with `std::fs`; async callers
/// run it on a blocking thread (the async client does).
///
/// ```
/// let err = authenta_client::media_file("no/such/file.png".as_ref(), None).unwrap_err();
/// assert!(err.to_string().contains("no/such/file.png"), "{err}");
/// ```
pub fn media_file(path: &Path, content_type: Option<&str>) -> Result<MediaFile, ValidationError> {
    let unreadable = |reason: String| ValidationError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let meta = file.metadata().map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("not a regular file".into()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let reader = std::io::BufReader::new(file);
    MediaFile::from_reader(name, reader, content_type).map_err(|e| match e {
        ValidationError::Unreadable { reason, .. } => unreadable(reason),
        other => other,
    })
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
    let file = media_file(path, None)?;
    Ok(JobUpload {
        source: SourceInfo {
            len: file.size,
            reopenable: true,
            name: path.display().to_string(),
        },
        file: JobFile::new(slot, file),
    })
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
