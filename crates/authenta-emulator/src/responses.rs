//! The answers every HTTP surface shares: JSON responses, error bodies from
//! the generated tables (the documented codes from `ERROR_CODES`, the
//! emulator's own from `EMULATOR_ERROR_CODES`) in each generation's shape
//! ([`in_generation`]), and reading a JSON body.

use std::fmt::Display;

use authenta_types::{
    ApiGeneration, EMULATOR_ERROR_CODES, ERROR_CODES, ErrorBody, ErrorCode, ErrorCodeInfo,
};
use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt as _;

/// The largest JSON body the API reads (64 KiB).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// The error code a response carries, for the request log.
#[derive(Clone, Debug)]
pub(crate) struct ApiCode(pub String);

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An error answer in its code's generation's shape (the emulator's own
/// codes in generation 1's); the body is kept in the answer's extensions so
/// [`in_generation`] can write it in the other shape.
pub(crate) fn error_response(row: &ErrorCodeInfo, message: String) -> Response<Body> {
    let status =
        StatusCode::from_u16(row.emulator_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody::new(
        ErrorCode::from_wire(row.code),
        message,
        status.as_u16(),
        row.generation.unwrap_or(ApiGeneration::First),
    );
    let mut resp = json_response(status, &body);
    resp.extensions_mut().insert(ApiCode(row.code.to_owned()));
    resp.extensions_mut().insert(body);
    resp
}

/// An API answer in `generation`'s error shape: a generation-2 request's
/// error body is `{code, statusCode, message}`, whatever made it (a check,
/// bad input, an injected fault).
pub(crate) fn in_generation(resp: Response<Body>, generation: ApiGeneration) -> Response<Body> {
    if generation != ApiGeneration::Second {
        return resp;
    }
    let Some(body) = resp.extensions().get::<ErrorBody>().cloned() else {
        return resp;
    };
    let (mut parts, _) = resp.into_parts();
    let extra = body.extra;
    let mut body = ErrorBody::new(body.code, body.message, parts.status.as_u16(), generation);
    body.extra = extra;
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.extensions.insert(body);
    Response::from_parts(parts, Body::from(bytes))
}

/// An error answer with one more field in its body (such as `jobStatus`),
/// kept when [`in_generation`] rewrites it.
pub(crate) fn with_field(
    resp: Response<Body>,
    name: &str,
    value: serde_json::Value,
) -> Response<Body> {
    let Some(mut body) = resp.extensions().get::<ErrorBody>().cloned() else {
        return resp;
    };
    body.extra.insert(name.to_owned(), value);
    let (mut parts, _) = resp.into_parts();
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.extensions.insert(body);
    Response::from_parts(parts, Body::from(bytes))
}

/// A `204 No Content` answer.
pub(crate) fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// The code of `generation` that means what `code` means (`U007` →
/// `INSUFFICIENT_BALANCE`, ...): the same class in the table.
pub(crate) fn counterpart(code: ErrorCode, generation: ApiGeneration) -> ErrorCode {
    let Some(info) = code.info() else {
        return code;
    };
    if info.generation == Some(generation) {
        return code;
    }
    ERROR_CODES
        .iter()
        .find(|row| row.generation == Some(generation) && row.class == info.class)
        .map(|row| ErrorCode::from_wire(row.code))
        .unwrap_or(code)
}

/// The documented body and status of `code` (from `ERROR_CODES`).
pub(crate) fn documented_error(code: ErrorCode) -> Response<Body> {
    match ERROR_CODES.iter().find(|row| row.code == code.as_str()) {
        Some(row) => error_response(row, row.message.to_owned()),
        None => emulator_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no table row for {code}"),
        ),
    }
}

/// The emulator's own row for an HTTP status (from `EMULATOR_ERROR_CODES`).
pub(crate) fn emulator_row(status: StatusCode) -> &'static ErrorCodeInfo {
    EMULATOR_ERROR_CODES
        .iter()
        .find(|row| row.emulator_status == status.as_u16())
        .or_else(|| {
            EMULATOR_ERROR_CODES
                .iter()
                .find(|row| row.emulator_status == 500)
        })
        .unwrap_or(&EMULATOR_ERROR_CODES[0])
}

/// An emulator error (`EMU400`, `EMU404`, ...) whose message names the
/// problem: `"Bad request: <detail>"`.
pub(crate) fn emulator_error(status: StatusCode, detail: impl Display) -> Response<Body> {
    let row = emulator_row(status);
    error_response(row, format!("{}: {detail}", row.message))
}

pub(crate) fn bad_request(detail: impl Display) -> Response<Body> {
    emulator_error(StatusCode::BAD_REQUEST, detail)
}

/// Reads a JSON body of at most [`MAX_JSON_BODY`] bytes.
pub(crate) async fn read_json_body(
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, Response<Body>> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(emulator_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be sent as `Content-Type: application/json`, not {content_type:?}"
            ),
        ));
    }
    let too_large = || {
        emulator_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the JSON body must be at most {MAX_JSON_BODY} bytes"),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_JSON_BODY as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, MAX_JSON_BODY)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(bad_request(format!("could not read the body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_rows_come_from_the_table() {
        for status in [400, 404, 405, 413, 415, 500] {
            let row = emulator_row(StatusCode::from_u16(status).unwrap());
            assert_eq!(row.emulator_status, status);
        }
    }
}
