//! Validation before any request is built: what a file is, and whether the
//! API and the chosen model can take it. Nothing here spends quota; a file
//! that fails is refused before its record is created.

use std::io::Read;
use std::path::Path;

use authenta_types::{CreateMediaRequest, MAX_UPLOAD_SIZE, MODEL_TYPES, MediaKind, ModelType};

use crate::error::ValidationError;

/// How many leading bytes content detection looks at.
pub const SNIFF_LEN: usize = 8192;

/// The longest media name the API takes.
pub const MAX_NAME_LEN: usize = 255;

/// A file checked for upload: its name, type and size.
///
/// ```
/// use authenta_proto::MediaFile;
/// use authenta_proto::types::{MediaKind, ModelType};
///
/// // The bytes decide (a PNG named .jpg is a PNG); the extension is the fallback.
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
/// let file = MediaFile::inspect("cat.jpg", png, 2048, None).unwrap();
/// assert_eq!(file.content_type, "image/png");
/// assert_eq!(file.kind, MediaKind::Image);
///
/// // DF-1 takes video: refused before any request is built.
/// let err = file.create_request(ModelType::Df1).unwrap_err();
/// assert!(err.to_string().contains("model DF-1 takes Video media, not Image"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFile {
    /// The name the record gets (the file's name).
    pub name: String,
    /// The MIME type the upload declares.
    pub content_type: String,
    /// The exact size in bytes.
    pub size: u64,
    /// The kind of media.
    pub kind: MediaKind,
}

impl MediaFile {
    /// Checks a file from its name, first bytes (up to [`SNIFF_LEN`]) and
    /// size. The content type comes from `content_type` when given, else
    /// from the magic bytes, else from the extension; it must be one the API
    /// takes. Empty files and files over 5 GiB are refused.
    pub fn inspect(
        name: impl Into<String>,
        head: &[u8],
        size: u64,
        content_type: Option<&str>,
    ) -> Result<MediaFile, ValidationError> {
        let name = name.into();
        check_name(&name)?;
        if size == 0 {
            return Err(ValidationError::EmptyFile { name });
        }
        if size > MAX_UPLOAD_SIZE {
            return Err(ValidationError::TooLarge { name, size });
        }
        let content_type = match content_type {
            Some(given) => normalize(given),
            None => detect_content_type(&name, head)
                .ok_or_else(|| ValidationError::UnknownContentType { name: name.clone() })?,
        };
        let kind = MediaKind::of_content_type(&content_type).ok_or_else(|| {
            ValidationError::UnsupportedContentType {
                name: name.clone(),
                content_type: content_type.clone(),
            }
        })?;
        Ok(MediaFile {
            name,
            content_type,
            size,
            kind,
        })
    }

    /// Reads a file's size and first bytes from disk and checks it, like
    /// [`MediaFile::inspect`]; the record is named after the file. A missing
    /// or unreadable file is a [`ValidationError::Unreadable`].
    ///
    /// This reads at most [`SNIFF_LEN`] bytes with `std::fs`; async callers
    /// may run it on a blocking thread.
    pub fn from_path(
        path: &Path,
        content_type: Option<&str>,
    ) -> Result<MediaFile, ValidationError> {
        let unreadable = |e: std::io::Error| ValidationError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if !meta.is_file() {
            return Err(ValidationError::Unreadable {
                path: path.display().to_string(),
                reason: "not a regular file".into(),
            });
        }
        let mut head = Vec::with_capacity(SNIFF_LEN);
        file.take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .map_err(unreadable)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        MediaFile::inspect(name, &head, meta.len(), content_type)
    }

    /// The create request for this file and model; refused when the model
    /// does not take this kind of media. Unknown models are not checked:
    /// their rules are not known to this version.
    pub fn create_request(&self, model: ModelType) -> Result<CreateMediaRequest, ValidationError> {
        let request = CreateMediaRequest {
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            model_type: model,
        };
        validate_create(&request)?;
        Ok(request)
    }

    /// The model for this file when the caller names none: the documented
    /// model for its kind ([`default_model`]). Media no documented model
    /// takes (audio, documents) is a [`ValidationError::NoDefaultModel`].
    ///
    /// ```
    /// use authenta_proto::MediaFile;
    /// use authenta_proto::types::ModelType;
    ///
    /// let clip = MediaFile::inspect("clip.mp4", b"", 2048, None).unwrap();
    /// assert_eq!(clip.default_model().unwrap(), ModelType::Df1);
    /// ```
    pub fn default_model(&self) -> Result<ModelType, ValidationError> {
        default_model(self.kind).ok_or_else(|| ValidationError::NoDefaultModel {
            name: self.name.clone(),
            kind: self.kind,
        })
    }
}

/// The model to run on media of `kind` when the caller names none: the
/// model Authenta's API pages document for it (`AC-1` for images, `DF-1`
/// for video), read from [`MODEL_TYPES`]. `None` when no documented model
/// takes the kind: the caller must choose one.
///
/// ```
/// use authenta_proto::validate::default_model;
/// use authenta_proto::types::{MediaKind, ModelType};
///
/// assert_eq!(default_model(MediaKind::Image), Some(ModelType::Ac1));
/// assert_eq!(default_model(MediaKind::Video), Some(ModelType::Df1));
/// assert_eq!(default_model(MediaKind::Audio), None);
/// ```
pub fn default_model(kind: MediaKind) -> Option<ModelType> {
    MODEL_TYPES
        .iter()
        .find(|row| row.documented && row.media_kinds.contains(&kind))
        .map(|row| ModelType::from_wire(row.id))
}

/// The content type of a file: from its magic bytes, else its extension.
///
/// ```
/// use authenta_proto::validate::detect_content_type;
/// assert_eq!(detect_content_type("x.bin", b"%PDF-1.7\n").as_deref(), Some("application/pdf"));
/// assert_eq!(detect_content_type("clip.mp4", b"").as_deref(), Some("video/mp4"));
/// assert_eq!(detect_content_type("notes", b"hello"), None);
/// ```
pub fn detect_content_type(name: &str, head: &[u8]) -> Option<String> {
    if let Some(kind) = infer::get(head) {
        return Some(normalize(kind.mime_type()));
    }
    mime_guess::from_path(name)
        .first()
        .map(|m| normalize(m.essence_str()))
}

fn normalize(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn check_name(name: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() {
        return Err(ValidationError::InvalidName {
            reason: "it is empty; give the media a name",
        });
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ValidationError::InvalidName {
            reason: "it is longer than 255 characters; give a shorter name",
        });
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::InvalidName {
            reason: "it holds control characters",
        });
    }
    Ok(())
}

/// Checks a create request as the API would: a name, a size from 1 byte to
/// 5 GiB, a content type the API takes, and a model that takes that kind of
/// media. Returns the kind.
pub fn validate_create(request: &CreateMediaRequest) -> Result<MediaKind, ValidationError> {
    check_name(&request.name)?;
    if request.size == 0 {
        return Err(ValidationError::EmptyFile {
            name: request.name.clone(),
        });
    }
    if request.size > MAX_UPLOAD_SIZE {
        return Err(ValidationError::TooLarge {
            name: request.name.clone(),
            size: request.size,
        });
    }
    let kind = MediaKind::of_content_type(&request.content_type).ok_or_else(|| {
        ValidationError::UnsupportedContentType {
            name: request.name.clone(),
            content_type: request.content_type.clone(),
        }
    })?;
    if let Some(info) = request.model_type.info()
        && !info.media_kinds.contains(&kind)
    {
        return Err(ValidationError::ModelMismatch {
            name: request.name.clone(),
            model: request.model_type.clone(),
            kind,
            takes: info.media_kinds,
        });
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
    const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";

    #[test]
    fn magic_bytes_first_then_extension_then_override() {
        assert_eq!(
            MediaFile::inspect("a.jpg", PNG, 10, None)
                .unwrap()
                .content_type,
            "image/png"
        );
        assert_eq!(
            MediaFile::inspect("a", JPEG, 10, None)
                .unwrap()
                .content_type,
            "image/jpeg"
        );
        let mp4 = MediaFile::inspect("clip", MP4, 10, None).unwrap();
        assert_eq!(
            (mp4.content_type.as_str(), mp4.kind),
            ("video/mp4", MediaKind::Video)
        );
        assert_eq!(
            MediaFile::inspect("b.webm", b"????", 10, None)
                .unwrap()
                .content_type,
            "video/webm"
        );
        let forced = MediaFile::inspect("a.bin", b"????", 10, Some("Image/PNG")).unwrap();
        assert_eq!(forced.content_type, "image/png");
    }

    #[test]
    fn empty_file() {
        let err = MediaFile::inspect("a.png", PNG, 0, None).unwrap_err();
        assert_eq!(
            err,
            ValidationError::EmptyFile {
                name: "a.png".into()
            }
        );
        assert!(err.to_string().contains("a.png: the file is empty"));
    }

    #[test]
    fn over_five_gib() {
        assert!(MediaFile::inspect("a.png", PNG, MAX_UPLOAD_SIZE, None).is_ok());
        let err = MediaFile::inspect("a.png", PNG, MAX_UPLOAD_SIZE + 1, None).unwrap_err();
        assert!(
            matches!(err, ValidationError::TooLarge { size, .. } if size == MAX_UPLOAD_SIZE + 1)
        );
        assert!(err.to_string().contains("5 GiB"));
    }

    #[test]
    fn unknown_and_unsupported_types() {
        let err = MediaFile::inspect("notes", b"just text", 9, None).unwrap_err();
        assert_eq!(
            err,
            ValidationError::UnknownContentType {
                name: "notes".into()
            }
        );
        assert!(err.to_string().contains("give the content type explicitly"));
        let err = MediaFile::inspect("notes.txt", b"just text", 9, None).unwrap_err();
        assert_eq!(
            err,
            ValidationError::UnsupportedContentType {
                name: "notes.txt".into(),
                content_type: "text/plain".into()
            }
        );
        let err = MediaFile::inspect("a.png", PNG, 9, Some("application/zip")).unwrap_err();
        assert!(matches!(
            err,
            ValidationError::UnsupportedContentType { .. }
        ));
    }

    #[test]
    fn model_must_take_the_media_kind() {
        let image = MediaFile::inspect("cat.png", PNG, 10, None).unwrap();
        let err = image.create_request(ModelType::Df1).unwrap_err();
        assert!(matches!(
            err,
            ValidationError::ModelMismatch {
                kind: MediaKind::Image,
                ..
            }
        ));
        let ok = image.create_request(ModelType::Ac1).unwrap();
        assert_eq!((ok.size, ok.content_type.as_str()), (10, "image/png"));
        let video = MediaFile::inspect("clip.mp4", MP4, 10, None).unwrap();
        assert!(video.create_request(ModelType::Ac1).is_err());
        assert!(video.create_request(ModelType::Df1).is_ok());
        // Unknown models are let through: their rules are not known here.
        assert!(image.create_request(ModelType::from("ZZ-1")).is_ok());
    }

    #[test]
    fn the_default_model_is_the_documented_one_for_the_kind() {
        let image = MediaFile::inspect("cat.png", PNG, 10, None).unwrap();
        let video = MediaFile::inspect("clip", MP4, 10, None).unwrap();
        assert_eq!(image.default_model(), Ok(ModelType::Ac1));
        assert_eq!(video.default_model(), Ok(ModelType::Df1));
        // Each default takes its kind, and is documented.
        for file in [&image, &video] {
            let model = file.default_model().unwrap();
            assert!(model.info().unwrap().documented);
            assert!(file.create_request(model).is_ok());
        }
        let audio = MediaFile::inspect("talk.mp3", b"", 10, None).unwrap();
        let err = audio.default_model().unwrap_err();
        assert_eq!(
            err,
            ValidationError::NoDefaultModel {
                name: "talk.mp3".into(),
                kind: MediaKind::Audio
            }
        );
        assert!(err.to_string().contains("choose a model (AF-1)"), "{err}");
        assert_eq!(default_model(MediaKind::Document), None);
    }

    #[test]
    fn names() {
        assert!(matches!(
            MediaFile::inspect(" ", PNG, 1, None),
            Err(ValidationError::InvalidName { .. })
        ));
        assert!(matches!(
            MediaFile::inspect("x".repeat(256), PNG, 1, None),
            Err(ValidationError::InvalidName { .. })
        ));
    }

    #[test]
    fn from_path_reads_disk() {
        let dir =
            std::env::temp_dir().join(format!("authenta-proto-validate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pic.png");
        std::fs::write(&path, PNG).unwrap();
        let file = MediaFile::from_path(&path, None).unwrap();
        assert_eq!(
            (file.name.as_str(), file.size),
            ("pic.png", PNG.len() as u64)
        );
        let err = MediaFile::from_path(&dir.join("missing.png"), None).unwrap_err();
        assert!(matches!(err, ValidationError::Unreadable { .. }));
        assert!(err.to_string().contains("missing.png"), "{err}");
        let err = MediaFile::from_path(&dir, None).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
