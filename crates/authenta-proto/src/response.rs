//! Reading answers: the one place where a non-2xx answer becomes an
//! [`Error`], for the API and for S3.

use authenta_types::{ErrorBody, MediaId, Operation};
use http::Response;
use http::header::{CONTENT_TYPE, ETAG, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{ApiError, DecodeError, Error, HttpError, UploadError};
use crate::retry::RetryAfter;

/// The most bytes of an unreadable body an error keeps.
pub const SNIPPET_LEN: usize = 512;

/// The start of a body as one line of text: at most [`SNIPPET_LEN`] bytes,
/// invalid UTF-8 replaced, control characters and runs of white space
/// folded to one space, the client secret (if it appears) redacted.
pub fn snippet(body: &[u8], config: Option<&Config>) -> String {
    let head = &body[..body.len().min(SNIPPET_LEN * 4)];
    let text = String::from_utf8_lossy(head);
    let text = match config {
        Some(c) => {
            let credentials = c.credentials();
            let secret = credentials.secret();
            if secret.is_empty() {
                text.into_owned()
            } else {
                text.replace(secret, "<redacted>")
            }
        }
        None => text.into_owned(),
    };
    let mut out = String::with_capacity(SNIPPET_LEN.min(text.len()));
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if out.len() + c.len_utf8() > SNIPPET_LEN {
            out.push('…');
            return out;
        }
        out.push(c);
    }
    if body.len() > head.len() {
        out.push('…');
    }
    out.trim_end().to_owned()
}

/// Returns the answer when it is a 2xx; otherwise the error it carries: a
/// typed [`ApiError`] when the body is the API's JSON error body (known code
/// or not), else an [`HttpError`] with the status and a bounded snippet.
pub fn check_api_response(
    response: Response<Vec<u8>>,
    operation: Operation,
    mid: Option<&MediaId>,
    config: &Config,
) -> Result<Response<Vec<u8>>, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(&response);
    let body = response.body();
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(body) {
        return Err(Error::Api(Box::new(ApiError {
            status,
            body,
            operation: Some(operation),
            mid: mid.cloned(),
            retry_after,
        })));
    }
    Err(Error::Http(Box::new(HttpError {
        status,
        snippet: snippet(body, Some(config)),
        operation: Some(operation),
        mid: mid.cloned(),
        retry_after,
    })))
}

/// The answer's `Retry-After`, if it has one that parses.
fn retry_after(response: &Response<Vec<u8>>) -> Option<RetryAfter> {
    response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse)
}

/// Reads a 2xx JSON body into `T`.
pub fn read_json<T: DeserializeOwned>(
    response: &Response<Vec<u8>>,
    operation: Operation,
    mid: Option<&MediaId>,
) -> Result<T, Error> {
    serde_json::from_slice(response.body()).map_err(|e| {
        let looks_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.contains("json"));
        let reason = if looks_json {
            format!("the JSON does not match: {e}")
        } else {
            format!("expected JSON, got {:?}", response.headers()[CONTENT_TYPE])
        };
        Error::Decode(Box::new(DecodeError {
            status: response.status(),
            operation: Some(operation),
            reason,
            snippet: snippet(response.body(), None),
            mid: mid.cloned(),
        }))
    })
}

/// What S3 answered to a good upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReceipt {
    /// The object's `ETag`, if S3 sent one.
    pub etag: Option<String>,
}

/// Reads S3's answer to the upload `PUT`: a receipt on 2xx, otherwise an
/// [`UploadError`] with S3's code and message from its XML error body.
pub fn read_upload_response(
    response: &Response<Vec<u8>>,
    mid: Option<&MediaId>,
) -> Result<UploadReceipt, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(UploadReceipt {
            etag: response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
    }
    let (code, message) = parse_s3_error(response.body())
        .unwrap_or_else(|| (String::new(), snippet(response.body(), None)));
    Err(Error::Upload(Box::new(UploadError {
        status,
        code,
        message,
        mid: mid.cloned(),
        retry_after: retry_after(response),
    })))
}

/// Reads the answer to an artifact download (`resultURL`, a heatmap): the
/// body on 2xx, otherwise an [`HttpError`] with the status and the start of
/// the body (S3's XML error, usually).
pub fn read_artifact_response(
    response: Response<Vec<u8>>,
    mid: Option<&MediaId>,
) -> Result<Vec<u8>, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response.into_body());
    }
    Err(Error::Http(Box::new(HttpError {
        status,
        snippet: snippet(response.body(), None),
        operation: None,
        mid: mid.cloned(),
        retry_after: retry_after(&response),
    })))
}

/// S3's `<Error><Code>…</Code><Message>…</Message></Error>`.
fn parse_s3_error(body: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}')).ok()?;
    let root = doc.root_element();
    if root.tag_name().name() != "Error" {
        return None;
    }
    let child = |name: &str| {
        root.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_owned())
    };
    Some((child("Code")?, child("Message").unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Credentials;
    use authenta_types::{ERROR_CODES, ErrorCode};
    use http::StatusCode;

    fn config() -> Config {
        Config::new(Credentials::new("id", "top-secret-value"))
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Response<Vec<u8>> {
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, content_type)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn every_documented_code_becomes_a_typed_api_error() {
        for row in ERROR_CODES {
            let status = row.status.unwrap_or(row.emulator_status);
            // In its generation's shape: `type` or `statusCode`.
            let body =
                serde_json::to_string(&ErrorBody::documented(ErrorCode::from(row.code)).unwrap())
                    .unwrap();
            let err = check_api_response(
                answer(status, "application/json", &body),
                Operation::GetMedia,
                Some(&MediaId::new("m1")),
                &config(),
            )
            .unwrap_err();
            let Error::Api(api) = &err else {
                panic!("{err:?}")
            };
            assert_eq!(api.body.code.as_str(), row.code);
            assert!(!matches!(api.body.code, ErrorCode::Unknown(_)));
            assert_eq!(api.body.message, row.message);
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(err.mid().unwrap().as_str(), "m1");
            assert!(!err.is_retryable(), "{} is never retried", row.code);
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        let err = check_api_response(
            answer(
                418,
                "application/json",
                r#"{"code":"X999","type":"ODD","message":"odd"}"#,
            ),
            Operation::ListMedia,
            None,
            &config(),
        )
        .unwrap_err();
        assert_eq!(err.code(), Some(&ErrorCode::Unknown("X999".into())));
    }

    #[test]
    fn html_502_keeps_status_and_a_bounded_snippet() {
        let page = format!(
            "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>{}</body></html>",
            "x".repeat(10_000)
        );
        let err = check_api_response(
            answer(502, "text/html", &page),
            Operation::GetMedia,
            None,
            &config(),
        )
        .unwrap_err();
        let Error::Http(http) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(http.status, StatusCode::BAD_GATEWAY);
        assert!(
            http.snippet
                .starts_with("<html> <head><title>502 Bad Gateway</title>"),
            "{}",
            http.snippet
        );
        assert!(http.snippet.len() <= SNIPPET_LEN + '…'.len_utf8());
        assert!(err.is_retryable());
        assert!(err.to_string().contains("502 Bad Gateway"));
    }

    #[test]
    fn empty_503_is_clear() {
        let response = Response::builder()
            .status(503)
            .header(RETRY_AFTER, "7")
            .body(Vec::new())
            .unwrap();
        let err = check_api_response(response, Operation::GetMedia, None, &config()).unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert!(err.to_string().contains("empty body"), "{err}");
        assert_eq!(
            err.retry_after(),
            Some(RetryAfter::Delay(std::time::Duration::from_secs(7)))
        );
    }

    #[test]
    fn a_secret_echoed_by_a_proxy_is_redacted() {
        let err = check_api_response(
            answer(
                400,
                "text/plain",
                "bad header x-client-secret: top-secret-value",
            ),
            Operation::GetMedia,
            None,
            &config(),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("top-secret-value"), "{err}");
        assert!(!format!("{err:?}").contains("top-secret-value"));
    }

    #[test]
    fn s3_xml_403_is_a_typed_upload_error() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;
        let err = read_upload_response(
            &answer(403, "application/xml", xml),
            Some(&MediaId::new("m1")),
        )
        .unwrap_err();
        let Error::Upload(up) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(up.status, StatusCode::FORBIDDEN);
        assert_eq!(up.code, "SignatureDoesNotMatch");
        assert!(up.message.starts_with("The request signature"));
        assert_eq!(err.mid().unwrap().as_str(), "m1");
        assert!(!err.is_retryable());
        let expired = read_upload_response(
            &answer(
                403,
                "application/xml",
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            ),
            None,
        )
        .unwrap_err();
        assert!(
            expired
                .to_string()
                .contains("AccessDenied: Request has expired")
        );
    }

    #[test]
    fn upload_success_keeps_the_etag() {
        let response = Response::builder()
            .status(200)
            .header(ETAG, "\"abc\"")
            .body(Vec::new())
            .unwrap();
        assert_eq!(
            read_upload_response(&response, None)
                .unwrap()
                .etag
                .as_deref(),
            Some("\"abc\"")
        );
    }

    #[test]
    fn snippet_folds_and_bounds() {
        assert_eq!(snippet(b"  a\n\n\tb  ", None), "a b");
        assert_eq!(snippet(b"", None), "");
        let long = "é".repeat(1000);
        let s = snippet(long.as_bytes(), None);
        assert!(s.len() <= SNIPPET_LEN + 3 && s.ends_with('…'));
        assert_eq!(snippet(&[0xff, b'a'], None), "\u{fffd}a");
    }

    #[test]
    fn storage_errors_keep_retry_after_and_a_refused_download_is_not_a_permission() {
        let mut slow = answer(
            503,
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        );
        slow.headers_mut()
            .insert(RETRY_AFTER, http::HeaderValue::from_static("1"));
        let err = read_upload_response(&slow, None).unwrap_err();
        assert_eq!(
            err.retry_after(),
            Some(RetryAfter::Delay(std::time::Duration::from_secs(1)))
        );
        let err = read_artifact_response(slow, None).unwrap_err();
        assert_eq!(
            err.retry_after(),
            Some(RetryAfter::Delay(std::time::Duration::from_secs(1)))
        );

        let expired = answer(
            403,
            "application/xml",
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        );
        let err = read_artifact_response(expired, None).unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::InvalidInput);
        assert!(!err.class().affects_every_request());
        let gone = answer(
            404,
            "application/xml",
            "<Error><Code>NoSuchKey</Code></Error>",
        );
        let err = read_artifact_response(gone, None).unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::NotFound);
    }
}
