//! Fault injection, in one place: arming faults, matching a request to one,
//! and applying it around the normal handling (before it, after it, or on
//! the bytes and the connection).
//!
//! [`FaultLayer`] wraps the handler of every faultable request (the API and
//! the upload endpoint; control requests are never faulted): it takes one
//! strike of the first armed fault that matches, and does what the fault
//! says, using the connection's [`ConnControl`] for the faults that act on
//! the TCP connection itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;

use crate::model::{ControlError, Fault, FaultAction, FaultBody, FaultStage};
use crate::responses::{emulator_row, error_response};
use crate::state::Volatile;

/// What a handler can do to the connection it runs on.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    /// Close with a reset (`SO_LINGER` 0) instead of a clean close.
    pub reset: AtomicBool,
    /// Close the connection shortly after the current answer, as a server
    /// closes an idle kept-alive connection.
    pub close_idle: tokio::sync::Notify,
}

/// Returned by a connection's service to make hyper drop the connection.
#[derive(Debug)]
pub(crate) struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by an injected fault")
    }
}

impl std::error::Error for ResetConnection {}

/// Checks and arms a fault; returns its id.
pub(crate) fn inject(state: &mut Volatile, fault: Fault) -> Result<u64, ControlError> {
    if fault.times == 0 {
        return Err(ControlError::Invalid("`times` must be at least 1".into()));
    }
    if !fault.path_prefix.starts_with('/') {
        return Err(ControlError::Invalid(
            "`pathPrefix` must start with '/'".into(),
        ));
    }
    if let FaultAction::Status { status, .. } = fault.action
        && !(400..=599).contains(&status)
    {
        return Err(ControlError::Invalid(format!(
            "an injected status must be between 400 and 599, not {status}"
        )));
    }
    match &fault.action {
        FaultAction::Respond {
            status,
            content_type,
            retry_after: _,
            body: _,
        } => {
            if !(200..=599).contains(status) {
                return Err(ControlError::Invalid(format!(
                    "an answered status must be between 200 and 599, not {status}"
                )));
            }
            if content_type
                .as_deref()
                .is_some_and(|c| HeaderValue::from_str(c).is_err())
            {
                return Err(ControlError::Invalid(
                    "`contentType` must be a header value".into(),
                ));
            }
        }
        FaultAction::S3Error { status, code, .. } => {
            if !(400..=599).contains(status) {
                return Err(ControlError::Invalid(format!(
                    "an S3 error status must be between 400 and 599, not {status}"
                )));
            }
            if code.is_empty() {
                return Err(ControlError::Invalid("`code` must not be empty".into()));
            }
        }
        FaultAction::Oversized { bytes } if *bytes < 2 => {
            return Err(ControlError::Invalid(
                "`bytes` must be at least 2 (a JSON object)".into(),
            ));
        }
        _ => {}
    }
    if let FaultAction::Redirect { status, location } = &fault.action {
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Err(ControlError::Invalid(format!(
                "a redirect status is 301, 302, 303, 307 or 308, not {status}"
            )));
        }
        if location
            .as_deref()
            .is_some_and(|l| HeaderValue::from_str(l).is_err() || l.is_empty())
        {
            return Err(ControlError::Invalid(
                "`location` must be a non-empty header value".into(),
            ));
        }
    }
    if let Some(m) = &fault.method
        && (m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(ControlError::Invalid(format!(
            "{m:?} is not an HTTP method"
        )));
    }
    let id = state.next_fault_id;
    state.next_fault_id += 1;
    let remaining = fault.times;
    state.faults.push(crate::model::ArmedFault {
        id,
        fault,
        remaining,
    });
    Ok(id)
}

/// Takes one strike of the first armed fault matching the request.
pub(crate) fn take(state: &mut Volatile, method: &str, path: &str) -> Option<Fault> {
    let i = state.faults.iter().position(|armed| {
        armed
            .fault
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.starts_with(&armed.fault.path_prefix)
    })?;
    let armed = &mut state.faults[i];
    armed.remaining -= 1;
    let fault = armed.fault.clone();
    if armed.remaining == 0 {
        state.faults.remove(i);
    }
    Some(fault)
}

/// The answer an injected `Status` fault sends.
fn status_response(status: u16, body: FaultBody, retry_after: Option<u64>) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        FaultBody::Json => {
            let row = emulator_row(StatusCode::INTERNAL_SERVER_ERROR);
            error_response(row, format!("{}: injected fault ({status})", row.message))
        }
        FaultBody::Html => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let html = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                code = status.as_u16()
            );
            let mut resp = Response::new(Body::from(html));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html"),
            );
            resp
        }
        FaultBody::Empty => {
            let mut resp = Response::new(Body::empty());
            resp.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            resp
        }
    };
    *resp.status_mut() = status;
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// A 200 whose body is not JSON (though it says it is), as a captive portal
/// or a misconfigured proxy answers.
fn not_json() -> Response<Body> {
    let mut resp = Response::new(Body::from(
        "<html><body>Welcome! Please sign in to continue.</body></html>",
    ));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// S3's `503 SlowDown`.
fn slow_down() -> Response<Body> {
    let mut resp = crate::s3::s3_error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "SlowDown",
        "Please reduce your request rate.",
        &[],
    );
    resp.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// Exactly the answer a `Respond` fault describes.
fn respond(
    status: u16,
    content_type: Option<&str>,
    body: &str,
    retry_after: Option<u64>,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_owned()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Some(v) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// S3's XML error with `code` (and its standard message by default).
fn s3_error(status: u16, code: &str, message: Option<&str>) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = message
        .or_else(|| crate::s3::standard_message(code))
        .unwrap_or(code);
    crate::s3::s3_error_response(status, code, message, &[])
}

/// A `200 OK` JSON answer of `bytes` bytes (`{` spaces `}`), streamed in
/// 64 KiB pieces, with its `Content-Length`.
fn oversized(bytes: u64) -> Response<Body> {
    const PIECE: usize = 64 * 1024;
    let spaces = bytes::Bytes::from(vec![b' '; PIECE]);
    let frames = futures_util::stream::unfold(0u64, move |sent| {
        let spaces = spaces.clone();
        async move {
            if sent >= bytes {
                return None;
            }
            let left = bytes - sent;
            let chunk = if sent == 0 {
                bytes::Bytes::from_static(b"{")
            } else if left == 1 {
                bytes::Bytes::from_static(b"}")
            } else {
                spaces.slice(..(left - 1).min(PIECE as u64) as usize)
            };
            let next = sent + chunk.len() as u64;
            Some((Ok::<_, std::io::Error>(http_body::Frame::data(chunk)), next))
        }
    });
    let mut resp = Response::new(Body::new(http_body_util::StreamBody::new(frames)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes));
    resp
}

/// The answer of a fault that replaces the answer, if `action` is one.
fn replacement(action: &FaultAction, path_and_query: &str) -> Option<Response<Body>> {
    Some(match action {
        FaultAction::Status {
            status,
            body,
            retry_after,
        } => status_response(*status, *body, *retry_after),
        FaultAction::NotJson => not_json(),
        FaultAction::SlowDown => slow_down(),
        FaultAction::Redirect { status, location } => {
            redirect(*status, location.as_deref(), path_and_query)
        }
        FaultAction::Respond {
            status,
            content_type,
            body,
            retry_after,
        } => respond(*status, content_type.as_deref(), body, *retry_after),
        FaultAction::S3Error {
            status,
            code,
            message,
        } => s3_error(*status, code, message.as_deref()),
        FaultAction::Oversized { bytes } => oversized(*bytes),
        _ => return None,
    })
}

/// A redirect to `location` (default: the same path on another host).
fn redirect(status: u16, location: Option<&str>, path_and_query: &str) -> Response<Body> {
    let location = location
        .map(str::to_owned)
        .unwrap_or_else(|| format!("http://redirected.invalid{path_and_query}"));
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

/// The answer's head and half its body; then the connection breaks: with a
/// `Content-Length` larger than what follows (`Truncate`), or with a reset
/// (`ResetMidBody`).
async fn cut_body(resp: Response<Body>, conn: Arc<ConnControl>, reset: bool) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let sent = bytes.len() / 2;
    let declared = bytes.len().max(sent + 1);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(declared));
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    let head = bytes.slice(..sent);
    let frames = futures_util::stream::unfold(0u8, move |step| {
        let head = head.clone();
        let conn = conn.clone();
        async move {
            match step {
                0 if !head.is_empty() => Some((Ok(http_body::Frame::data(head)), 1)),
                0 | 1 => {
                    // Give the bytes a moment to leave before the connection breaks.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if reset {
                        conn.reset.store(true, Ordering::SeqCst);
                    }
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "body cut by an injected fault",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::new(http_body_util::StreamBody::new(frames)))
}

/// The request body, with a pause of `millis` after its first chunk: the
/// server stops reading in the middle of an upload.
fn stall_body(body: Body, millis: u64) -> Body {
    let stream =
        futures_util::stream::unfold((body, false), move |(mut body, stalled)| async move {
            let frame = body.frame().await?;
            let stalled = match &frame {
                Ok(f) if f.is_data() && !stalled => {
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                    true
                }
                _ => stalled,
            };
            Some((frame, (body, stalled)))
        });
    Body::new(http_body_util::StreamBody::new(stream))
}

/// The `offset` of a list query (0 when absent).
fn query_offset(path_and_query: &str) -> u64 {
    path_and_query
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The same list request without its `offset` (so from the first record).
fn from_offset_zero(mut req: Request<Body>) -> Request<Body> {
    let kept: Vec<&str> = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("offset="))
        .collect();
    let target = if kept.is_empty() {
        req.uri().path().to_owned()
    } else {
        format!("{}?{}", req.uri().path(), kept.join("&"))
    };
    if let Ok(uri) = target.parse() {
        *req.uri_mut() = uri;
    }
    req
}

/// A `200` list answer with its JSON changed by `edit` (any other answer as
/// it is).
async fn rewrite_list(
    resp: Response<Body>,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Response<Body> {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let Ok(mut page) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    edit(&mut page);
    let bytes = page.to_string();
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from(bytes))
}

/// The fault layer: applies `fault` (if any) around `handle`.
pub(crate) async fn apply<F, Fut>(
    req: Request<Body>,
    fault: Option<&Fault>,
    conn: &Arc<ConnControl>,
    handle: F,
) -> Result<Response<Body>, ResetConnection>
where
    F: FnOnce(Request<Body>) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let Some(fault) = fault else {
        return Ok(handle(req).await);
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let before = fault.stage == FaultStage::Before;
    let delay = fault.delay_millis.map(Duration::from_millis);
    if before && let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if before {
        if let Some(resp) = replacement(&fault.action, &path_and_query) {
            return Ok(resp);
        }
        match &fault.action {
            FaultAction::Reset => {
                conn.reset.store(true, Ordering::SeqCst);
                return Err(ResetConnection);
            }
            FaultAction::Delay { millis } => {
                tokio::time::sleep(Duration::from_millis(*millis)).await;
            }
            _ => {}
        }
    }
    let list = req.method() == http::Method::GET && req.uri().path() == "/api/media";
    let req = match &fault.action {
        FaultAction::StallBody { millis } => req.map(|b| stall_body(b, *millis)),
        FaultAction::IgnoreOffset { .. } if list => from_offset_zero(req),
        _ => req,
    };
    let resp = handle(req).await;
    if !before && let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match &fault.action {
        FaultAction::IgnoreOffset { total } if list => {
            let asked = query_offset(&path_and_query);
            Ok(rewrite_list(resp, |page| {
                let sent = page["data"].as_array().map_or(0, Vec::len);
                page["offset"] = asked.into();
                page["limit"] = sent.into();
                page["total"] = (*total).into();
            })
            .await)
        }
        FaultAction::StaleList if list => Ok(rewrite_list(resp, |page| {
            for item in page["data"].as_array_mut().into_iter().flatten() {
                if let Some(item) = item.as_object_mut() {
                    item.insert("status".into(), "UPLOADED".into());
                    for verdict in ["fake", "score", "resultURL", "heatmapURL", "participants"] {
                        item.remove(verdict);
                    }
                }
            }
        })
        .await),
        FaultAction::IgnoreOffset { .. } | FaultAction::StaleList => Ok(resp),
        FaultAction::Truncate => Ok(cut_body(resp, conn.clone(), false).await),
        FaultAction::ResetMidBody => Ok(cut_body(resp, conn.clone(), true).await),
        FaultAction::CloseIdle => {
            conn.close_idle.notify_one();
            Ok(resp)
        }
        _ if before => Ok(resp),
        FaultAction::Reset => {
            conn.reset.store(true, Ordering::SeqCst);
            Err(ResetConnection)
        }
        FaultAction::Delay { millis } => {
            tokio::time::sleep(Duration::from_millis(*millis)).await;
            Ok(resp)
        }
        action => Ok(replacement(action, &path_and_query).unwrap_or(resp)),
    }
}
