//! The upload step: from a create response, the exact head of the `PUT` to
//! the pre-signed S3 URL, and when that URL expires.

use std::fmt;
use std::time::SystemTime;

use authenta_types::{CreateMediaRequest, CreatedMedia, MediaId};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use http::{HeaderValue, Method, Request, Uri};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, ProtocolError, UploadExpired, ValidationError};

/// The smallest upload whose `PUT` asks `Expect: 100-continue` (1 MiB, as
/// curl does): S3 refuses a bad upload (an expired URL, a wrong signature or
/// `Content-Type`) as soon as it has read the head, and closes without
/// reading the body; a client that is still writing the body then sees a
/// broken connection instead of S3's answer. With the header, the body is
/// sent only after S3's `100 Continue` (or after
/// [`EXPECT_CONTINUE_WAIT`] without an answer), so its refusal arrives as
/// the typed [`UploadError`](crate::UploadError). Smaller bodies fit in the
/// socket's buffers and are sent at once.
pub const EXPECT_CONTINUE_MIN: u64 = 1024 * 1024;

/// How long a transport waits for `100 Continue` (or an early refusal)
/// before it sends the body of an upload whose head asks
/// `Expect: 100-continue`: 1 s, as curl and ureq wait.
pub const EXPECT_CONTINUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where and how to upload a record's file: the pre-signed URL (kept byte
/// for byte), the declared content type and size, and the URL's expiry.
///
/// It serializes, so a program can save it after `POST /media` and upload
/// later, or from another process. Its `Debug` hides the URL's query string
/// (the signature).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTarget {
    /// The record the upload is for, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<MediaId>,
    url: String,
    /// The `Content-Type` the URL was signed for.
    pub content_type: String,
    /// The exact number of bytes to send.
    pub size: u64,
    /// When the URL stops working, if known.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for UploadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadTarget")
            .field("mid", &self.mid)
            .field("url", &self.redacted_url())
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl UploadTarget {
    /// A target from its parts. The URL must be an absolute `http(s)` URL.
    /// Without `expires_at`, the expiry is read from the URL's own
    /// `X-Amz-Date` and `X-Amz-Expires` (a SigV4 pre-signed URL states
    /// both), so an expired URL is refused locally, before a byte is sent.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use authenta_proto::UploadTarget;
    ///
    /// let url = "https://s3.example/o?X-Amz-Date=20251202T193927Z&X-Amz-Expires=900&X-Amz-Signature=s";
    /// let target = UploadTarget::new(url, "image/png", 3, None).unwrap();
    /// let signed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_704_367);
    /// assert!(!target.is_expired(signed + Duration::from_secs(899)));
    /// assert!(target.is_expired(signed + Duration::from_secs(900)));
    /// ```
    pub fn new(
        url: impl Into<String>,
        content_type: impl Into<String>,
        size: u64,
        expires_at: Option<Timestamp>,
    ) -> Result<Self, ProtocolError> {
        let url = url.into();
        parse_url(&url, None)?;
        Ok(UploadTarget {
            mid: None,
            expires_at: expires_at.or_else(|| amz_expiry(&url)),
            url,
            content_type: content_type.into(),
            size,
        })
    }

    /// The target of a just-created record: the URL as the server sent it,
    /// the content type and size of the request that created it, and the
    /// expiry `expiresIn` seconds after `now` (or, without `expiresIn`,
    /// from the URL's own `X-Amz-Date` and `X-Amz-Expires`).
    pub fn from_created(
        created: &CreatedMedia,
        request: &CreateMediaRequest,
        now: SystemTime,
    ) -> Result<Self, ProtocolError> {
        let mid = &created.media.mid;
        parse_url(&created.upload_url, Some(mid))?;
        let expires_at = match created.expires_in {
            Some(secs) => {
                let secs = i64::try_from(secs).unwrap_or(i64::MAX);
                Some(
                    timestamp(now)
                        .checked_add(SignedDuration::from_secs(secs))
                        .unwrap_or(Timestamp::MAX),
                )
            }
            None => amz_expiry(&created.upload_url),
        };
        Ok(UploadTarget {
            mid: Some(mid.clone()),
            url: created.upload_url.clone(),
            content_type: request.content_type.clone(),
            size: request.size,
            expires_at,
        })
    }

    /// The URL exactly as the server sent it. It holds the upload's
    /// signature: keep it out of logs ([`UploadTarget::redacted_url`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its query string, for logs and messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Whether the URL has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| timestamp(now) >= at)
    }

    /// The head of the upload `PUT`: the URL byte for byte, `Content-Type`
    /// as declared, `Content-Length` always, `Expect: 100-continue` from
    /// [`EXPECT_CONTINUE_MIN`] bytes; no credentials, no
    /// `Transfer-Encoding`. An expired target is refused here, before a byte
    /// is sent.
    pub fn request_head(&self, now: SystemTime) -> Result<Request<()>, ProtocolError> {
        if let Some(expired_at) = self.expires_at
            && timestamp(now) >= expired_at
        {
            return Err(ProtocolError::UploadExpired(UploadExpired {
                mid: self.mid.clone(),
                expired_at,
            }));
        }
        let uri = parse_url(&self.url, self.mid.as_ref())?;
        let content_type = HeaderValue::from_str(&self.content_type).map_err(|_| {
            ProtocolError::Invalid(ValidationError::UnsupportedContentType {
                name: self.mid.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                content_type: self.content_type.clone(),
            })
        })?;
        let mut head = Request::builder()
            .method(Method::PUT)
            .uri(uri)
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, self.size);
        if self.size >= EXPECT_CONTINUE_MIN {
            head = head.header(EXPECT, HeaderValue::from_static("100-continue"));
        }
        Ok(head
            .body(())
            .expect("a parsed URI and valid headers make a request"))
    }
}

use authenta_types::redact_url;

fn parse_url(url: &str, mid: Option<&MediaId>) -> Result<Uri, ProtocolError> {
    let bad = |reason: String| {
        ProtocolError::Decode(Box::new(DecodeError {
            status: http::StatusCode::OK,
            operation: Some(authenta_types::Operation::CreateMedia),
            reason,
            snippet: String::new(),
            mid: mid.cloned(),
        }))
    };
    let uri: Uri = url.parse().map_err(|e| {
        bad(format!(
            "the upload URL {} is not a URL: {e}",
            redact_url(url)
        ))
    })?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => Ok(uri),
        // Plain http only on this machine (an emulator), as for the API:
        // elsewhere the file and the signature would cross the network in
        // clear.
        (Some("http"), Some(host)) if crate::config::is_loopback(host) => Ok(uri),
        (Some("http"), Some(_)) => Err(bad(format!(
            "the URL {} is plain http to a host that is not this machine: the file and its signature would cross the network unencrypted; the service must give https URLs",
            redact_url(url)
        ))),
        _ => Err(bad(format!(
            "the upload URL {} is not an absolute http(s) URL",
            redact_url(url)
        ))),
    }
}

/// The expiry a SigV4 pre-signed URL states: `X-Amz-Date` + `X-Amz-Expires`.
fn amz_expiry(url: &str) -> Option<Timestamp> {
    let query = url.split_once('?')?.1;
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let date = param("X-Amz-Date")?;
    let expires: i64 = param("X-Amz-Expires")?.parse().ok()?;
    let signed = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", date).ok()?;
    let signed = jiff::tz::Offset::UTC.to_timestamp(signed).ok()?;
    signed.checked_add(SignedDuration::from_secs(expires)).ok()
}

/// A wall-clock time as a timestamp; times out of jiff's range (years
/// beyond ±9999) are clamped to it.
pub(crate) fn timestamp(now: SystemTime) -> Timestamp {
    Timestamp::try_from(now).unwrap_or_else(|_| {
        if now > SystemTime::UNIX_EPOCH {
            Timestamp::MAX
        } else {
            Timestamp::MIN
        }
    })
}

/// A `GET` for a processed record's artifact (`resultURL`, `heatmapURL`, a
/// participant's heatmap): a pre-signed URL, fetched without credentials.
pub fn artifact_request(
    url: &str,
    mid: Option<&MediaId>,
) -> Result<Request<Vec<u8>>, ProtocolError> {
    let uri = parse_url(url, mid)?;
    Ok(Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Vec::new())
        .expect("a parsed URI makes a request"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_types::ModelType;
    use std::time::Duration;

    const URL: &str = "https://authenta-storage.s3.us-east-1.amazonaws.com/users/u/media/m/original.media?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20251202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20251202T193927Z&X-Amz-Expires=900&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=ab%2Bcd";

    fn created(expires_in: Option<u64>) -> (CreatedMedia, CreateMediaRequest) {
        let mut media: CreatedMedia = serde_json::from_value(serde_json::json!({
            "mid": "692f406f9f68d4b70080bb80", "name": "v", "type": "Video", "status": "INITED",
            "modelType": "DF-1", "createdAt": "2025-12-02T19:39:27.525Z", "uploadUrl": URL
        }))
        .unwrap();
        media.expires_in = expires_in;
        let request = CreateMediaRequest {
            name: "v".into(),
            content_type: "video/mp4".into(),
            size: 1234,
            model_type: ModelType::Df1,
        };
        (media, request)
    }

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn the_head_is_exact() {
        let (c, r) = created(Some(900));
        let now = at(1_764_704_367);
        let target = UploadTarget::from_created(&c, &r, now).unwrap();
        let head = target.request_head(now).unwrap();
        assert_eq!(head.method(), Method::PUT);
        assert_eq!(head.uri().to_string(), URL, "byte for byte: %2B stays %2B");
        assert_eq!(head.headers()[CONTENT_TYPE], "video/mp4");
        assert_eq!(head.headers()[CONTENT_LENGTH], "1234");
        assert_eq!(
            head.headers().len(),
            2,
            "no credentials, no Transfer-Encoding"
        );
    }

    #[test]
    fn a_large_upload_asks_for_100_continue() {
        let (c, mut r) = created(Some(900));
        let now = at(1_764_704_367);
        for (size, expect) in [
            (EXPECT_CONTINUE_MIN - 1, None),
            (EXPECT_CONTINUE_MIN, Some("100-continue")),
        ] {
            r.size = size;
            let head = UploadTarget::from_created(&c, &r, now)
                .unwrap()
                .request_head(now)
                .unwrap();
            let got = head.headers().get(EXPECT).map(|v| v.to_str().unwrap());
            assert_eq!(got, expect, "{size} bytes");
        }
    }

    #[test]
    fn expiry_from_expires_in_and_now() {
        let (c, r) = created(Some(900));
        let now = at(2_000_000_000);
        let target = UploadTarget::from_created(&c, &r, now).unwrap();
        assert!(!target.is_expired(now + Duration::from_secs(899)));
        assert!(target.request_head(now + Duration::from_secs(899)).is_ok());
        assert!(target.is_expired(now + Duration::from_secs(900)));
        let err = target
            .request_head(now + Duration::from_secs(901))
            .unwrap_err();
        assert!(matches!(err, ProtocolError::UploadExpired(_)), "{err:?}");
        assert!(err.to_string().contains("create a new record"), "{err}");
        assert_eq!(err.mid().unwrap().as_str(), "692f406f9f68d4b70080bb80");
    }

    #[test]
    fn expiry_from_the_url_without_expires_in() {
        let (c, r) = created(None);
        let target = UploadTarget::from_created(&c, &r, at(0)).unwrap();
        // X-Amz-Date 2025-12-02T19:39:27Z + 900 s.
        assert_eq!(target.expires_at.unwrap().as_second(), 1_764_704_367 + 900);
    }

    #[test]
    fn saved_and_resumed() {
        let (c, r) = created(Some(60));
        let target = UploadTarget::from_created(&c, &r, at(1_800_000_000)).unwrap();
        let saved = serde_json::to_string(&target).unwrap();
        let back: UploadTarget = serde_json::from_str(&saved).unwrap();
        assert_eq!(back, target);
        assert_eq!(back.url(), URL);
    }

    #[test]
    fn debug_hides_the_signature() {
        let (c, r) = created(Some(60));
        let target = UploadTarget::from_created(&c, &r, at(0)).unwrap();
        let debug = format!("{target:?}");
        assert!(!debug.contains("Signature"), "{debug}");
        assert!(debug.contains("original.media?<redacted>"), "{debug}");
    }

    #[test]
    fn a_bad_upload_url_is_refused() {
        let (mut c, r) = created(Some(60));
        c.upload_url = "/relative/path".into();
        assert!(UploadTarget::from_created(&c, &r, at(0)).is_err());
        assert!(UploadTarget::new("ftp://x/y", "image/png", 1, None).is_err());
        let clear = UploadTarget::new(
            "http://s3.example/k?X-Amz-Signature=s",
            "image/png",
            1,
            None,
        )
        .unwrap_err();
        assert!(clear.to_string().contains("plain http"), "{clear}");
        assert!(!clear.to_string().contains("Signature"), "{clear}");
        assert!(UploadTarget::new("http://127.0.0.1:9/k", "image/png", 1, None).is_ok());
        assert!(UploadTarget::new("http://localhost:9/k", "image/png", 1, None).is_ok());
        assert!(UploadTarget::new("http://[::1]:9/k", "image/png", 1, None).is_ok());
    }

    #[test]
    fn artifacts_carry_no_credentials() {
        let req = artifact_request("https://s3.example/heat.png?X-Amz-Signature=1", None).unwrap();
        assert_eq!(req.method(), Method::GET);
        assert!(req.headers().is_empty());
    }
}
