//! The media record and the bodies that carry it.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Extra, FINAL_STATUSES, MediaStatus, MediaType, ModelType};

/// The id of a media record (`mid`): 24 hexadecimal characters in every
/// documented example, kept as the server sends it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaId(String);

/// A `mid` given by a person that cannot be one: empty, too long, or holding
/// characters no record id has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidMediaId {
    reason: &'static str,
}

impl fmt::Display for InvalidMediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid media id: {}; a mid looks like 692f406f9f68d4b70080bb80",
            self.reason
        )
    }
}

impl std::error::Error for InvalidMediaId {}

impl MediaId {
    /// Wraps a `mid` as the server sent it, unchecked.
    pub fn new(mid: impl Into<String>) -> Self {
        MediaId(mid.into())
    }

    /// Checks a `mid` typed by a person: not empty, at most 64 characters,
    /// ASCII letters, digits, `-` and `_` only.
    ///
    /// ```
    /// use authenta_types::MediaId;
    /// assert!(MediaId::parse("692f406f9f68d4b70080bb80").is_ok());
    /// assert!(MediaId::parse("").is_err());
    /// assert!(MediaId::parse("../admin").is_err());
    /// ```
    pub fn parse(mid: &str) -> Result<Self, InvalidMediaId> {
        match crate::wire::id_problem(mid) {
            Some(reason) => Err(InvalidMediaId { reason }),
            None => Ok(MediaId(mid.to_owned())),
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for MediaId {
    type Err = InvalidMediaId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MediaId::parse(s)
    }
}

impl AsRef<str> for MediaId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl MediaStatus {
    /// Whether the record will not change any more: `PROCESSED`, `FAILED` or
    /// `ERROR`. Unknown statuses are not final.
    pub fn is_final(&self) -> bool {
        FINAL_STATUSES.contains(&self.as_str())
    }
}

/// A media record, as `GET /media/{mid}` returns it.
///
/// `fake`, `heatmapURL`, `resultURL` and `participants` are not in the
/// first generation's API pages but real servers send them once the record
/// is `PROCESSED`; the second generation adds `srcURL`, `confidence` (images)
/// and `faces` / `deepFakes` (video). Fields this version does not know are
/// kept in [`Media::extra`].
///
/// ```
/// use authenta_types::Media;
/// let media: Media = serde_json::from_str(r#"{
///     "mid": "692f406f9f68d4b70080bb80", "name": "clip", "type": "Video",
///     "status": "PROCESSED", "modelType": "DF-1", "createdAt": "2025-12-02T19:39:27Z",
///     "fake": true, "faces": 2, "deepFakes": 1,
///     "srcURL": "https://s3.example/clip.mp4?X-Amz-Signature=abc"
/// }"#).unwrap();
/// assert_eq!((media.faces, media.deep_fakes), (Some(2), Some(1)));
/// assert!(!format!("{media:?}").contains("X-Amz-Signature"));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// The record's id.
    pub mid: MediaId,
    /// The name given at creation.
    pub name: String,
    /// The kind of media (`Image`, `Video`, ...).
    #[serde(rename = "type")]
    pub media_type: MediaType,
    /// Where the record is: `INITED` → `UPLOADED` → `PROCESSED`.
    pub status: MediaStatus,
    /// The model the server runs; not always the one requested.
    pub model_type: ModelType,
    /// When the record was created (RFC 3339 on the wire, such as
    /// `2025-12-02T19:39:27.525Z`).
    pub created_at: Timestamp,
    /// The verdict once processed: `true` when the media is manipulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake: Option<bool>,
    /// Pre-signed URL of a heatmap image (image models).
    #[serde(
        rename = "heatmapURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub heatmap_url: Option<String>,
    /// Pre-signed URL of the JSON detail document ([`ResultDocument`]).
    #[serde(rename = "resultURL", default, skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    /// The faces found in a video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<Participant>>,
    /// Pre-signed URL of the original upload (generation 2).
    #[serde(rename = "srcURL", default, skip_serializing_if = "Option::is_none")]
    pub src_url: Option<String>,
    /// How confident the model is in its verdict, from 0 to 1 (generation
    /// 2, images). A value that is no number is read as absent.
    #[serde(
        default,
        deserialize_with = "lenient::number",
        skip_serializing_if = "Option::is_none"
    )]
    pub confidence: Option<f64>,
    /// How many faces were found (generation 2, video). A value that is no
    /// whole number is read as absent.
    #[serde(
        default,
        deserialize_with = "lenient::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub faces: Option<u64>,
    /// How many of those faces are fake (generation 2, video). A value that
    /// is no whole number is read as absent.
    #[serde(
        rename = "deepFakes",
        default,
        deserialize_with = "lenient::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub deep_fakes: Option<u64>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Readers for the fields a record gained in generation 2 (and a job's):
/// a server that sends `"0.93"` or `null` for a number must not make the
/// whole record unreadable.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    fn value<'de, D: Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
        serde_json::Value::deserialize(d)
    }

    fn as_f64(v: &serde_json::Value) -> Option<f64> {
        match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|n: &f64| n.is_finite())
    }

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(as_f64(&value(d)?))
    }

    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(as_f64(&value(d)?)
            .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= u64::MAX as f64)
            .map(|n| n as u64))
    }

    /// `true`/`false`, or those words as a string; anything else is absent.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(match value(d)? {
            serde_json::Value::Bool(b) => Some(b),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// An RFC 3339 timestamp; anything else is absent.
    pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<jiff::Timestamp>, D::Error> {
        Ok(value(d)?.as_str().and_then(|s| s.parse().ok()))
    }
}

/// A URL without its query string and fragment (a pre-signed URL's query
/// is its signature: a credential for as long as it is valid), for logs,
/// messages and `Debug`.
///
/// ```
/// assert_eq!(
///     authenta_types::redact_url("https://s3.example/o.png?X-Amz-Signature=abc"),
///     "https://s3.example/o.png?<redacted>"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let mut out = url[..end].to_owned();
    if end < url.len() {
        out.push_str("?<redacted>");
    }
    out
}

pub(crate) fn redact_opt(url: &Option<String>) -> Option<String> {
    url.as_deref().map(redact_url)
}

impl std::fmt::Debug for Media {
    /// The pre-signed URLs (`heatmapURL`, `resultURL`, `srcURL`,
    /// participants' heatmaps) are shown without their query string.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("mid", &self.mid)
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("status", &self.status)
            .field("model_type", &self.model_type)
            .field("created_at", &self.created_at)
            .field("fake", &self.fake)
            .field("heatmap_url", &redact_opt(&self.heatmap_url))
            .field("result_url", &redact_opt(&self.result_url))
            .field("participants", &self.participants)
            .field("src_url", &redact_opt(&self.src_url))
            .field("confidence", &self.confidence)
            .field("faces", &self.faces)
            .field("deep_fakes", &self.deep_fakes)
            .field("extra", &self.extra)
            .finish()
    }
}

/// One face found in a video.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Pre-signed URL of a per-face heatmap video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heatmap: Option<String>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl std::fmt::Debug for Participant {
    /// The heatmap's pre-signed URL is shown without its query string.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant")
            .field("heatmap", &redact_opt(&self.heatmap))
            .field("extra", &self.extra)
            .finish()
    }
}

/// The body of `POST /media`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMediaRequest {
    /// A name for the record.
    pub name: String,
    /// The MIME type the upload will declare.
    pub content_type: String,
    /// The exact number of bytes the upload will carry.
    pub size: u64,
    /// The model to run.
    pub model_type: ModelType,
}

/// The answer to `POST /media`: the new record and where to upload its file.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedMedia {
    /// The new record (status `INITED`).
    #[serde(flatten)]
    pub media: Media,
    /// The pre-signed S3 URL to `PUT` the file to; send it byte for byte.
    pub upload_url: String,
    /// How many seconds the upload URL stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for CreatedMedia {
    /// The upload URL is shown without its query string (the signature).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedMedia")
            .field("media", &self.media)
            .field("upload_url", &redact_url(&self.upload_url))
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The query of `GET /media`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// How many records per page; the server's default when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many records to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// One page of `GET /media`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaList {
    /// The page size the server used.
    pub limit: u32,
    /// How many records were skipped.
    pub offset: u64,
    /// How many records there are in all.
    pub total: u64,
    /// The records of this page.
    pub data: Vec<Media>,
}

/// The JSON detail document behind a record's `resultURL`.
///
/// ```
/// use authenta_types::ResultDocument;
///
/// let doc: ResultDocument =
///     serde_json::from_str(r#"{"fake": true, "score": 0.93, "model": "v2"}"#).unwrap();
/// assert_eq!((doc.fake, doc.score), (Some(true), Some(0.93)));
/// assert_eq!(doc.extra["model"], "v2");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultDocument {
    /// The verdict: `true` when the media is manipulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake: Option<bool>,
    /// How confident the model is that the media is manipulated, from 0 to
    /// 1 (above 0.5 when `fake`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// For video: participant index → that face's boxes per frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding_boxes: Option<BTreeMap<u32, ParticipantBoxes>>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The boxes of one participant: frame index → `[xmin, ymin, xmax, ymax]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantBoxes {
    /// Frame index → `[xmin, ymin, xmax, ymax]`.
    pub bounding_box: BTreeMap<u32, [f64; 4]>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}
