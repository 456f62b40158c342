//! Reading answers: the one place where a non-2xx answer becomes an
//! [`ProtocolError`], for the API and for S3.

use authenta_types::{ErrorBody, MediaId, Operation};
use http::Response;
use http::header::{CONTENT_TYPE, ETAG, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{ApiError, DecodeError, HttpError, ProtocolError, UploadError};
use crate::wire::RetryAfter;

/// The most bytes of an unreadable body an error keeps.
pub const SNIPPET_LEN: usize = 512;

/// The start of a body as one line of text: at most [`SNIPPET_LEN`] bytes,
/// invalid UTF-8 replaced, control characters and runs of white space
/// folded to one space, the client secret (if it appears) and every URL's
/// query string and pre-signed parameter (`X-Amz-Signature`, ...)
/// redacted.
pub fn snippet(body: &[u8], config: Option<&Config>) -> String {
    let head = &body[..body.len().min(SNIPPET_LEN * 4)];
    let text = redact_presigned(&String::from_utf8_lossy(head));
    let text = match config {
        // Credentials not read yet cannot appear in an answer.
        Some(c) => match c.credentials() {
            Some(credentials) if !credentials.secret().is_empty() => {
                text.replace(credentials.secret(), "<redacted>")
            }
            _ => text,
        },
        None => text,
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

/// Where a URL or a parameter's value ends in running text (JSON, XML,
/// HTML, a log line).
fn ends_value(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '<' | '>' | '`' | ',' | ')' | ']' | '}' | '\\'
        )
}

/// `text` with the query string of every `scheme://` URL, and the value of
/// every `X-Amz-*` parameter (a pre-signed URL's signature, credential,
/// token), replaced by `<redacted>`: a pre-signed URL echoed in an error
/// body is a working key to the object.
fn redact_presigned(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Query strings of URLs.
    while let Some(at) = rest.find("://") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end = url.find(ends_value).unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        match url.split_once('?') {
            Some((path, _)) => {
                out.push_str(path);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    // Pre-signed parameters anywhere else (a URL cut or escaped).
    let lower = out.to_ascii_lowercase();
    if !lower.contains("x-amz-") {
        return out;
    }
    let mut redacted = String::with_capacity(out.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find("x-amz-") {
        let start = from + found;
        let Some(eq) = out[start..].find('=').map(|e| start + e) else {
            break;
        };
        if out[start..eq].contains(ends_value) || out[start..eq].contains('&') {
            redacted.push_str(&out[from..start + 6]);
            from = start + 6;
            continue;
        }
        let value_end = out[eq + 1..]
            .find(|c: char| c == '&' || ends_value(c))
            .map_or(out.len(), |e| eq + 1 + e);
        redacted.push_str(&out[from..=eq]);
        redacted.push_str("<redacted>");
        from = value_end;
    }
    redacted.push_str(&out[from..]);
    redacted
}

/// The body's snippet, led by where a redirect points (`Location`, its
/// query redacted): the SDK never follows one, so the message says where.
fn answer_snippet(response: &Response<Vec<u8>>, config: Option<&Config>) -> String {
    let body = snippet(response.body(), config);
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .filter(|_| response.status().is_redirection())
        .map(|l| authenta_types::redact_url(&String::from_utf8_lossy(l.as_bytes())));
    match location {
        Some(location) if body.is_empty() => format!("redirected to {location}"),
        Some(location) => format!("redirected to {location}; {body}"),
        None => body,
    }
}

/// Returns the answer when it is a 2xx; otherwise the error it carries: a
/// typed [`ApiError`] when the body is the API's JSON error body (known code
/// or not), else an [`HttpError`] with the status and a bounded snippet.
pub fn check_api_response(
    response: Response<Vec<u8>>,
    operation: Operation,
    mid: Option<&MediaId>,
    config: &Config,
) -> Result<Response<Vec<u8>>, ProtocolError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(&response);
    let body = response.body();
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(body) {
        return Err(ProtocolError::Api(Box::new(ApiError {
            status,
            body,
            operation: Some(operation),
            mid: mid.cloned(),
            retry_after,
        })));
    }
    Err(ProtocolError::Http(Box::new(HttpError {
        status,
        snippet: answer_snippet(&response, Some(config)),
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
) -> Result<T, ProtocolError> {
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
        ProtocolError::Decode(Box::new(DecodeError {
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

/// Reads S3's answer to the upload `PUT`: a receipt on a 2xx with an
/// `ETag` (S3 sends one for every object it stores), otherwise an
/// [`UploadError`] with S3's code and message from its XML error body. A
/// 2xx with S3's error body, or without an `ETag` (a proxy's or captive
/// portal's page), is not counted as stored.
pub fn read_upload_response(
    response: &Response<Vec<u8>>,
    mid: Option<&MediaId>,
) -> Result<UploadReceipt, ProtocolError> {
    let status = response.status();
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status.is_success() && etag.is_some() && parse_s3_error(response.body()).is_none() {
        return Ok(UploadReceipt { etag });
    }
    if status.is_success() && parse_s3_error(response.body()).is_none() {
        return Err(ProtocolError::Upload(Box::new(UploadError {
            status,
            code: String::new(),
            message: format!(
                "answered without an ETag, so the file is not known to be stored (a proxy's or captive portal's page?){}",
                match snippet(response.body(), None) {
                    s if s.is_empty() => String::new(),
                    s => format!(": {s:?}"),
                }
            ),
            mid: mid.cloned(),
            retry_after: retry_after(response),
        })));
    }
    let (code, message) = parse_s3_error(response.body())
        .unwrap_or_else(|| (String::new(), answer_snippet(response, None)));
    Err(ProtocolError::Upload(Box::new(UploadError {
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
) -> Result<Vec<u8>, ProtocolError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response.into_body());
    }
    Err(ProtocolError::Http(Box::new(HttpError {
        status,
        snippet: answer_snippet(&response, None),
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
    use crate::credentials::Credentials;
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
            let ProtocolError::Api(api) = &err else {
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
        let ProtocolError::Http(http) = &err else {
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
        let ProtocolError::Upload(up) = &err else {
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
    fn hostile_answers_say_what_they_are() {
        // A 200 without an ETag, or with S3's error body, is not stored.
        let portal = answer(200, "text/html", "<html>Sign in</html>");
        let err = read_upload_response(&portal, None).unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::Server);
        assert!(err.to_string().contains("without an ETag"), "{err}");
        let mut s3 = answer(
            200,
            "application/xml",
            "<Error><Code>InternalError</Code><Message>retry</Message></Error>",
        );
        s3.headers_mut()
            .insert(ETAG, http::HeaderValue::from_static("\"x\""));
        let ProtocolError::Upload(e) = read_upload_response(&s3, None).unwrap_err() else {
            panic!()
        };
        assert_eq!((e.status.as_u16(), e.code.as_str()), (200, "InternalError"));
        // A redirect says where to, its query redacted, and what to do.
        let mut moved = answer(307, "text/html", "");
        moved.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("https://elsewhere.example/api?token=1"),
        );
        let err = check_api_response(moved, Operation::GetMedia, None, &config()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("redirected to https://elsewhere.example/api?<redacted>"),
            "{text}"
        );
        assert!(text.contains("never followed"), "{text}");
        // A 429 without AA001 is a throttle, not a spent quota; its
        // Retry-After is shown.
        let mut busy = answer(429, "text/plain", "slow down");
        busy.headers_mut()
            .insert(RETRY_AFTER, http::HeaderValue::from_static("30"));
        let err = check_api_response(busy, Operation::GetMedia, None, &config()).unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::Server);
        let text = err.to_string();
        assert!(
            text.contains("throttling") && !text.contains("quota"),
            "{text}"
        );
        assert!(text.contains("wait 30 s"), "{text}");
    }

    #[test]
    fn a_pre_signed_url_in_a_body_is_redacted() {
        let body = r#"{"uploadUrl":"https://s3.example/b/k?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=abc123","mid":"m"}"#;
        let text = snippet(body.as_bytes(), None);
        assert!(!text.contains("abc123") && !text.contains("AKIA"), "{text}");
        assert!(text.contains("https://s3.example/b/k?<redacted>"), "{text}");
        assert!(text.contains(r#""mid":"m""#), "{text}");
        // Escaped or cut URLs: the parameters themselves.
        let escaped =
            r#"{"uploadUrl":"https:\/\/s3.example\/k?X-Amz-Signature=abc123&X-Amz-Date=1"}"#;
        let text = snippet(escaped.as_bytes(), None);
        assert!(!text.contains("abc123"), "{text}");
        assert!(
            text.contains("X-Amz-Signature=<redacted>&X-Amz-Date=<redacted>"),
            "{text}"
        );
        assert_eq!(snippet(b"no url here x-amz-", None), "no url here x-amz-");
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
