//! Validation before any request is built: what a file is, and whether the
//! API and the chosen model can take it. Nothing here spends quota; a file
//! that fails is refused before its record is created.
//!
//! A file is what its bytes say: its first bytes must match a media
//! signature (the extension only decides when no bytes are at hand), and a
//! file read from disk must end as its format ends (a PNG's `IEND`, a
//! JPEG's end-of-image marker, an MP4's `moov` box and boxes that fit in
//! the file). These checks read the first `SNIFF_LEN` bytes and then
//! seek: the tail of a PNG or JPEG, the box headers of an MP4. They never
//! read a whole file into memory.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use authenta_types::{
    CreateMediaRequest, MAX_UPLOAD_SIZE, MODEL_TYPES, MediaId, MediaKind, ModelType, ModelTypeInfo,
};

use crate::error::ValidationError;

/// How many leading bytes content detection looks at.
pub(crate) const SNIFF_LEN: usize = 8192;

/// The longest media name the API takes.
pub(crate) const MAX_NAME_LEN: usize = 255;

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
    /// Checks a file from its name, first bytes (up to `SNIFF_LEN`) and
    /// size. The content type comes from `content_type` when given, else
    /// from the magic bytes; it must be one the API takes. Bytes that match
    /// no media signature are refused ([`ValidationError::NotMedia`]) even
    /// when the extension names a media type; only when `head` is empty (no
    /// bytes at hand, as for a stream) does the extension decide. Empty
    /// files and files over 5 GiB are refused.
    ///
    /// This sees only the first bytes: [`MediaFile::from_reader`] (and
    /// `authenta-client`'s `media_file` over a path) also check that the file is complete.
    ///
    /// ```
    /// use authenta_proto::MediaFile;
    ///
    /// let err = MediaFile::inspect("x.png", b"hello, world", 12, None).unwrap_err();
    /// assert!(err.to_string().contains("x.png: expected image/png"), "{err}");
    /// ```
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
            None => match infer::get(head) {
                Some(kind) => normalize(kind.mime_type()),
                None => match (head.is_empty(), content_type_of_extension(&name)) {
                    (true, Some(by_extension)) => by_extension.to_owned(),
                    (false, Some(by_extension)) => {
                        return Err(ValidationError::NotMedia {
                            found: describe(head),
                            expected: by_extension.to_owned(),
                            name,
                        });
                    }
                    (_, None) => return Err(ValidationError::UnknownContentType { name }),
                },
            },
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

    /// Checks a file read through `reader`, named `name`: its first bytes
    /// as [`MediaFile::inspect`] does, then whether it ends as its format
    /// ends. A PNG must hold its `IEND` chunk, a JPEG its end-of-image
    /// marker, and an MP4 (or QuickTime, M4A) file top-level boxes that fit
    /// in the file, one of them `moov`; anything else is a
    /// [`ValidationError::Truncated`]. The checks follow the bytes' format,
    /// even when `content_type` declares another.
    ///
    /// Reads `SNIFF_LEN` bytes, then seeks: to the end for a PNG or JPEG
    /// (the whole structure is walked only when the last bytes are not the
    /// end marker), from box header to box header for an MP4.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use authenta_proto::MediaFile;
    ///
    /// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
    /// let err = MediaFile::from_reader("cut.png", Cursor::new(&png[..]), None).unwrap_err();
    /// assert!(err.to_string().contains("cut.png: the file is cut short"), "{err}");
    /// ```
    pub fn from_reader<R: Read + Seek>(
        name: impl Into<String>,
        mut reader: R,
        content_type: Option<&str>,
    ) -> Result<MediaFile, ValidationError> {
        let name = name.into();
        let unreadable = |name: &str, e: std::io::Error| ValidationError::Unreadable {
            path: name.to_owned(),
            reason: e.to_string(),
        };
        let size = reader
            .seek(SeekFrom::End(0))
            .map_err(|e| unreadable(&name, e))?;
        let checked = reader
            .seek(SeekFrom::Start(0))
            .map_err(Checked::Io)
            .and_then(|_| check_reader(name.clone(), reader, size, content_type));
        checked.map_err(|e| match e {
            Checked::Invalid(e) => e,
            Checked::Io(e) => unreadable(&name, e),
        })
    }

    /// The content type the file's extension names when its bytes are of
    /// another type (a PNG named `.mp4`): the bytes won, and a caller may
    /// say so. `None` when they agree, or the extension names no type the
    /// API takes.
    ///
    /// ```
    /// use authenta_proto::MediaFile;
    ///
    /// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    /// let file = MediaFile::inspect("clip.mp4", png, 2048, None).unwrap();
    /// assert_eq!(file.content_type, "image/png");
    /// assert_eq!(file.extension_mismatch(), Some("video/mp4"));
    /// ```
    pub fn extension_mismatch(&self) -> Option<&'static str> {
        content_type_of_extension(&self.name)
            .filter(|by_extension| !same_type(by_extension, &self.content_type))
    }

    /// The create request for this file and model; refused when the model
    /// is not in the API's table ([`check_model`]) or does not take this
    /// kind of media.
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

/// What a failed check found: a refusal, or a read that failed.
enum Checked {
    Invalid(ValidationError),
    Io(std::io::Error),
}

impl From<std::io::Error> for Checked {
    fn from(e: std::io::Error) -> Self {
        Checked::Io(e)
    }
}

/// [`MediaFile::from_reader`] on a reader positioned at the start of a file
/// of `size` bytes.
fn check_reader<R: Read + Seek>(
    name: String,
    mut reader: R,
    size: u64,
    content_type: Option<&str>,
) -> Result<MediaFile, Checked> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut reader)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    let file = MediaFile::inspect(name, &head, size, content_type).map_err(Checked::Invalid)?;
    let Some(format) = infer::get(&head).map(|kind| normalize(kind.mime_type())) else {
        return Ok(file);
    };
    let cut = match format.as_str() {
        "image/png" => check_png(&mut reader, size)?,
        "image/jpeg" => check_jpeg(&mut reader, size)?,
        "video/mp4" | "video/quicktime" | "video/x-m4v" | "video/3gpp" | "audio/m4a"
        | "audio/mp4" => check_boxes(&mut reader, size)?,
        _ => None,
    };
    match cut {
        None => Ok(file),
        Some(found) => Err(Checked::Invalid(ValidationError::Truncated {
            name: file.name,
            content_type: format,
            found,
        })),
    }
}

/// A PNG's last chunk: `IEND`, empty, with its CRC.
const PNG_IEND: [u8; 12] = *b"\0\0\0\0IEND\xaeB`\x82";

/// `None` when the PNG ends with its `IEND` chunk (or holds one, with bytes
/// after it); else what was found instead.
fn check_png<R: Read + Seek>(reader: &mut R, size: u64) -> std::io::Result<Option<String>> {
    if size >= 8 + 12 {
        let mut tail = [0u8; 12];
        reader.seek(SeekFrom::End(-12))?;
        reader.read_exact(&mut tail)?;
        if tail == PNG_IEND {
            return Ok(None);
        }
    }
    // Not at the very end: walk the chunks, seeking over their data.
    let mut pos = 8u64;
    loop {
        if size.saturating_sub(pos) < 12 {
            return Ok(Some(format!(
                "no IEND chunk: the chunks stop at byte {pos} of {size}"
            )));
        }
        let mut header = [0u8; 8];
        reader.seek(SeekFrom::Start(pos))?;
        reader.read_exact(&mut header)?;
        let len = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let kind = box_name(&header[4..8]);
        let end = pos + 12 + len;
        if end > size {
            return Ok(Some(format!(
                "chunk {kind} at byte {pos} declaring {len} bytes of data where {} are left",
                (size - pos).saturating_sub(12)
            )));
        }
        if &header[4..8] == b"IEND" {
            return Ok(None);
        }
        pos = end;
    }
}

/// `None` when the JPEG ends with its end-of-image marker (`FF D9`), or
/// holds one where its segments and image data end (bytes appended after
/// the image, as in motion photos); else what was found instead.
fn check_jpeg<R: Read + Seek>(reader: &mut R, size: u64) -> std::io::Result<Option<String>> {
    if size >= 4 {
        let mut tail = [0u8; 2];
        reader.seek(SeekFrom::End(-2))?;
        reader.read_exact(&mut tail)?;
        if tail == [0xff, 0xd9] {
            return Ok(None);
        }
    }
    // Not at the very end: walk the segments, and scan the image data
    // (where `FF` is always followed by `00` or a restart marker) for the
    // next marker, reading through a small buffer.
    let missing = || {
        Some(format!(
            "no end-of-image marker (FF D9) in its {size} bytes"
        ))
    };
    reader.seek(SeekFrom::Start(2))?;
    let mut input = BufReader::with_capacity(64 * 1024, reader);
    let mut pos = 2u64;
    fn byte(input: &mut impl Read, pos: &mut u64) -> std::io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        match input.read(&mut b)? {
            0 => Ok(None),
            _ => {
                *pos += 1;
                Ok(Some(b[0]))
            }
        }
    }
    // At the first segment's marker: 0xFF (fill bytes allowed) then its code.
    match byte(&mut input, &mut pos)? {
        None => return Ok(missing()),
        Some(0xff) => {}
        Some(_) => {
            return Ok(Some(format!(
                "no JPEG marker at byte {}: the segments are damaged",
                pos - 1
            )));
        }
    }
    let mut marker = 0xff;
    while marker == 0xff {
        marker = match byte(&mut input, &mut pos)? {
            Some(code) => code,
            None => return Ok(missing()),
        };
    }
    loop {
        match marker {
            0xd9 => return Ok(None),
            0x01 | 0xd0..=0xd7 => {}
            _ => {
                let mut len = [0u8; 2];
                if input.read_exact(&mut len).is_err() {
                    return Ok(missing());
                }
                pos += 2;
                let len = u64::from(u16::from_be_bytes(len)).saturating_sub(2);
                if pos + len > size {
                    return Ok(Some(format!(
                        "segment FF {marker:02X} declaring {len} bytes where {} are left",
                        size - pos
                    )));
                }
                input.seek_relative(i64::try_from(len).unwrap_or(i64::MAX))?;
                pos += len;
                if marker != 0xda {
                    // The next segment follows at once.
                    marker = match (byte(&mut input, &mut pos)?, byte(&mut input, &mut pos)?) {
                        (Some(0xff), Some(code)) => code,
                        (None, _) | (_, None) => return Ok(missing()),
                        _ => {
                            return Ok(Some(format!(
                                "no JPEG marker at byte {}: the segments are damaged",
                                pos - 2
                            )));
                        }
                    };
                    continue;
                }
            }
        }
        // Image data: scan for the next marker that is not a stuffed byte
        // or a restart marker.
        marker = loop {
            let buf = input.fill_buf()?;
            if buf.is_empty() {
                return Ok(missing());
            }
            let found = buf.iter().position(|&b| b == 0xff);
            let skip = found.unwrap_or(buf.len());
            input.consume(skip);
            pos += skip as u64;
            if found.is_none() {
                continue;
            }
            byte(&mut input, &mut pos)?;
            let mut code = byte(&mut input, &mut pos)?;
            // `FF FF ...`: fill bytes before a marker.
            while code == Some(0xff) {
                code = byte(&mut input, &mut pos)?;
            }
            match code {
                None => return Ok(missing()),
                Some(0x00 | 0xd0..=0xd7) => {}
                Some(code) => break code,
            }
        };
    }
}

/// `None` when the ISO base media file (MP4, QuickTime, M4A) is top-level
/// boxes that each fit in the file, one of them `moov`; else what was found
/// instead. Only the box headers are read.
fn check_boxes<R: Read + Seek>(reader: &mut R, size: u64) -> std::io::Result<Option<String>> {
    let mut pos = 0u64;
    let mut moov = false;
    while pos < size {
        if size - pos < 8 {
            return Ok(Some(format!(
                "{} bytes after the last box, too few for a box header",
                size - pos
            )));
        }
        let mut header = [0u8; 8];
        reader.seek(SeekFrom::Start(pos))?;
        reader.read_exact(&mut header)?;
        let kind = box_name(&header[4..8]);
        let (header_len, len) =
            match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
                // The box runs to the end of the file.
                0 => (8, size - pos),
                1 => {
                    let mut large = [0u8; 8];
                    if size - pos < 16 {
                        return Ok(Some(format!("box {kind} at byte {pos} cut in its header")));
                    }
                    reader.read_exact(&mut large)?;
                    (16, u64::from_be_bytes(large))
                }
                len => (8, u64::from(len)),
            };
        if len < header_len {
            return Ok(Some(format!(
                "box {kind} at byte {pos} declaring an impossible size of {len} bytes"
            )));
        }
        if len > size - pos {
            return Ok(Some(format!(
                "box {kind} at byte {pos} declaring {len} bytes where {} are left",
                size - pos
            )));
        }
        moov |= &header[4..8] == b"moov";
        pos += len;
    }
    Ok((!moov).then(|| "no moov box (the index a player needs)".to_owned()))
}

/// A four-byte chunk or box type, quoted, as printable text.
fn box_name(kind: &[u8]) -> String {
    let text: String = kind
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    format!("'{text}'")
}

/// What a file's first bytes look like, for a message: text as text, else
/// the first bytes in hex.
fn describe(head: &[u8]) -> String {
    let start = &head[..head.len().min(24)];
    let text = match std::str::from_utf8(start) {
        Ok(text) => Some(text),
        // A multi-byte character cut at the end of the window.
        Err(e) if e.valid_up_to() + 4 > start.len() => {
            std::str::from_utf8(&start[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text {
        Some(text)
            if text
                .chars()
                .all(|c| !c.is_control() || c.is_ascii_whitespace()) =>
        {
            let more = if head.len() > start.len() { "..." } else { "" };
            format!("text {:?}", format!("{text}{more}"))
        }
        _ => {
            let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02X}")).collect();
            format!("bytes {}", hex.join(" "))
        }
    }
}

/// The extensions of the content types the API takes (see
/// [`authenta_types::CONTENT_TYPES`]).
const EXTENSIONS: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("jpe", "image/jpeg"),
    ("jfif", "image/jpeg"),
    ("png", "image/png"),
    ("webp", "image/webp"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("qt", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("avi", "video/x-msvideo"),
    ("mpeg", "video/mpeg"),
    ("mpg", "video/mpeg"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("flac", "audio/flac"),
    ("aac", "audio/aac"),
    ("m4a", "audio/m4a"),
    ("pdf", "application/pdf"),
];

/// The content type a file name's extension names, among those the API
/// takes; `None` for other extensions.
///
/// ```
/// use authenta_proto::validate::content_type_of_extension;
/// assert_eq!(content_type_of_extension("Cat.JPG"), Some("image/jpeg"));
/// assert_eq!(content_type_of_extension("notes.txt"), None);
/// ```
pub fn content_type_of_extension(name: &str) -> Option<&'static str> {
    let (_, extension) = name.rsplit_once('.')?;
    EXTENSIONS
        .iter()
        .find(|(ext, _)| ext.eq_ignore_ascii_case(extension))
        .map(|&(_, content_type)| content_type)
}

/// Whether two content types name the same format (`audio/wav` and
/// `audio/x-wav`, `image/heic` and `image/heif`...).
pub(crate) fn same_type(a: &str, b: &str) -> bool {
    let family = |t: &str| -> String {
        let t = t.replace("/x-", "/");
        match t.as_str() {
            "image/heic" => "image/heif".into(),
            "audio/mp4" => "audio/m4a".into(),
            "video/x-m4v" | "video/m4v" => "video/mp4".into(),
            _ => t,
        }
    };
    family(a) == family(b)
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
    content_type_of_extension(name).map(str::to_owned)
}

fn normalize(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn check_name(name: &str) -> Result<(), ValidationError> {
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

/// Checks a model named by a caller against the API's model table
/// ([`MODEL_TYPES`]): a model it does not list is refused before any
/// request, so a mistyped `--model` spends no mutation. Returns its row.
///
/// ```
/// use authenta_proto::validate::check_model;
/// use authenta_proto::types::ModelType;
///
/// assert!(check_model(&ModelType::Df1).is_ok());
/// let err = check_model(&ModelType::from("XX-9")).unwrap_err();
/// assert!(err.to_string().contains("model XX-9 is not one the API lists; it takes DF-1 (Video)"));
/// ```
pub fn check_model(model: &ModelType) -> Result<&'static ModelTypeInfo, ValidationError> {
    model.info().ok_or_else(|| ValidationError::UnknownModel {
        model: model.clone(),
    })
}

/// Checks a `mid` given by a caller (a command-line argument, a file): 24
/// hexadecimal characters, as the spec's `MediaId` pattern says, upper
/// case read as lower. Refused before any request, so a mistyped mid spends
/// no query.
///
/// ```
/// use authenta_proto::validate::check_mid;
///
/// assert_eq!(check_mid("692F406F9F68D4B70080BB80").unwrap().as_str(), "692f406f9f68d4b70080bb80");
/// assert!(check_mid("not-a-mid").unwrap_err().to_string().contains("is not a media id"));
/// ```
pub fn check_mid(text: &str) -> Result<MediaId, ValidationError> {
    let invalid = |reason| ValidationError::InvalidMid {
        mid: text.to_owned(),
        reason,
    };
    let mid = text.trim();
    if mid.is_empty() {
        return Err(invalid("it is empty"));
    }
    if !mid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("it holds characters other than 0-9 and a-f"));
    }
    if mid.len() != MEDIA_ID_LEN {
        return Err(invalid(if mid.len() < MEDIA_ID_LEN {
            "it is shorter than 24 characters"
        } else {
            "it is longer than 24 characters"
        }));
    }
    Ok(MediaId::new(mid.to_ascii_lowercase()))
}

/// The length of a record's id (the spec's `MediaId`: `^[0-9a-f]{24}$`).
const MEDIA_ID_LEN: usize = 24;

/// Checks a create request as the API would: a name, a size from 1 byte to
/// 5 GiB, a content type the API takes, and a model that takes that kind of
/// media. Returns the kind.
pub(crate) fn validate_create(request: &CreateMediaRequest) -> Result<MediaKind, ValidationError> {
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
    let info = check_model(&request.model_type)?;
    if !info.media_kinds.contains(&kind) {
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
        // No bytes at hand (a stream): the extension decides.
        assert_eq!(
            MediaFile::inspect("b.webm", b"", 10, None)
                .unwrap()
                .content_type,
            "video/webm"
        );
        let forced = MediaFile::inspect("a.bin", b"????", 10, Some("Image/PNG")).unwrap();
        assert_eq!(forced.content_type, "image/png");
    }

    const SAMPLE_PNG: &[u8] = include_bytes!("../../../samples/test-pattern.png");
    const SAMPLE_JPEG: &[u8] = include_bytes!("../../../samples/test-pattern.jpg");
    const SAMPLE_MP4: &[u8] = include_bytes!("../../../samples/test-pattern.mp4");

    fn read(name: &str, bytes: &[u8]) -> Result<MediaFile, ValidationError> {
        MediaFile::from_reader(name, std::io::Cursor::new(bytes), None)
    }

    fn truncated(name: &str, bytes: &[u8]) -> String {
        match read(name, bytes) {
            Err(ValidationError::Truncated { found, .. }) => found,
            other => panic!("{name}: expected Truncated, got {other:?}"),
        }
    }

    #[test]
    fn bytes_that_match_no_signature_are_refused_whatever_the_extension() {
        let err = MediaFile::inspect("x.png", b"hello, world\n", 13, None).unwrap_err();
        assert_eq!(
            err,
            ValidationError::NotMedia {
                name: "x.png".into(),
                expected: "image/png".into(),
                found: "text \"hello, world\\n\"".into(),
            }
        );
        let msg = err.to_string();
        assert!(msg.starts_with("x.png: expected image/png"), "{msg}");
        assert!(msg.contains("found text \"hello, world"), "{msg}");
        let err = MediaFile::inspect("clip.mp4", &[0, 1, 2, 0xfe, 0xff, 9], 6, None).unwrap_err();
        assert!(
            err.to_string().contains("found bytes 00 01 02 FE FF 09"),
            "{err}"
        );
        // Through a reader too, and so from disk.
        assert!(matches!(
            read("x.png", b"hello"),
            Err(ValidationError::NotMedia { .. })
        ));
        // A declared content type is the caller's word for what the bytes are.
        assert!(MediaFile::inspect("x.png", b"hello", 5, Some("image/png")).is_ok());
    }

    #[test]
    fn the_bytes_win_over_the_extension_and_the_mismatch_is_known() {
        let file = read("clip.mp4", SAMPLE_PNG).unwrap();
        assert_eq!(
            (file.content_type.as_str(), file.kind),
            ("image/png", MediaKind::Image)
        );
        assert_eq!(file.extension_mismatch(), Some("video/mp4"));
        let file = read("pic.jpeg", SAMPLE_JPEG).unwrap();
        assert_eq!(file.extension_mismatch(), None);
        let file = read("pic", SAMPLE_JPEG).unwrap();
        assert_eq!(file.extension_mismatch(), None);
        let file = read("clip.m4v", SAMPLE_MP4).unwrap();
        assert_eq!(file.extension_mismatch(), None);
        assert_eq!(content_type_of_extension("a.MOV"), Some("video/quicktime"));
        assert_eq!(content_type_of_extension("mov"), None);
    }

    #[test]
    fn complete_samples_pass() {
        assert_eq!(read("p.png", SAMPLE_PNG).unwrap().content_type, "image/png");
        assert_eq!(
            read("p.jpg", SAMPLE_JPEG).unwrap().content_type,
            "image/jpeg"
        );
        assert_eq!(read("p.mp4", SAMPLE_MP4).unwrap().content_type, "video/mp4");
    }

    #[test]
    fn a_png_must_hold_its_iend_chunk() {
        let found = truncated("cut.png", &SAMPLE_PNG[..100]);
        assert!(
            found.contains("declaring") && found.contains("are left"),
            "{found}"
        );
        let found = truncated("cut.png", &SAMPLE_PNG[..SAMPLE_PNG.len() - 12]);
        assert!(found.starts_with("no IEND chunk"), "{found}");
        // Bytes after IEND: the chunks are walked and IEND found.
        let mut trailer = SAMPLE_PNG.to_vec();
        trailer.extend_from_slice(b"trailing metadata");
        assert!(read("t.png", &trailer).is_ok());
        let err = read("cut.png", &SAMPLE_PNG[..100]).unwrap_err().to_string();
        assert!(
            err.starts_with("cut.png: the file is cut short: expected a complete image/png"),
            "{err}"
        );
    }

    #[test]
    fn a_jpeg_must_hold_its_end_of_image_marker() {
        let found = truncated("cut.jpg", &SAMPLE_JPEG[..SAMPLE_JPEG.len() / 2]);
        assert!(found.contains("no end-of-image marker"), "{found}");
        let found = truncated("cut.jpg", &SAMPLE_JPEG[..SAMPLE_JPEG.len() - 2]);
        assert!(found.contains("no end-of-image marker"), "{found}");
        // A segment cut in its header.
        let found = truncated("cut.jpg", &SAMPLE_JPEG[..30]);
        assert!(
            found.contains("segment FF") || found.contains("no end-of-image"),
            "{found}"
        );
        // Bytes after the image (a motion photo's video, padding): the
        // segments are walked and the marker found.
        let mut trailer = SAMPLE_JPEG.to_vec();
        trailer.extend_from_slice(&[0u8; 100]);
        assert!(read("t.jpg", &trailer).is_ok());
    }

    #[test]
    fn an_mp4_must_be_whole_boxes_with_a_moov() {
        let found = truncated("cut.mp4", &SAMPLE_MP4[..SAMPLE_MP4.len() / 2]);
        assert!(
            found.starts_with("box 'mdat' at byte 1247 declaring 8169 bytes"),
            "{found}"
        );
        // ftyp then mdat, no moov.
        let mut no_moov = SAMPLE_MP4[..32].to_vec();
        no_moov.extend_from_slice(b"\0\0\0\x10mdat01234567");
        assert_eq!(
            truncated("x.mp4", &no_moov),
            "no moov box (the index a player needs)"
        );
        // A header cut short.
        let found = truncated("x.mp4", &SAMPLE_MP4[..36]);
        assert!(found.contains("too few for a box header"), "{found}");
        // A 64-bit size and a size of 0 (to the end of the file) are read.
        let mut large = SAMPLE_MP4[..32 + 1207].to_vec();
        large.extend_from_slice(b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x14data");
        large.extend_from_slice(b"\0\0\0\0free...");
        assert!(read("l.mp4", &large).is_ok());
        large.truncate(large.len() - 12);
        assert!(truncated("l.mp4", &large).contains("box 'mdat'"));
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
            ValidationError::UnknownContentType {
                name: "notes.txt".into()
            }
        );
        // Bytes of a format the API does not take.
        let err = MediaFile::inspect("a.png", b"PK\x03\x04\x14\0\0\0", 9, None).unwrap_err();
        assert_eq!(
            err,
            ValidationError::UnsupportedContentType {
                name: "a.png".into(),
                content_type: "application/zip".into()
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
        // A model the table does not list is refused: the API would.
        assert!(matches!(
            image.create_request(ModelType::from("ZZ-1")),
            Err(ValidationError::UnknownModel { .. })
        ));
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
}
