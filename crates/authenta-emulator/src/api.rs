//! The API under `/api`: the four documented `/media` routes, the jobs API
//! ([`jobs`]) and the OpenAPI description.
//!
//! A request is answered in the generation of the credentials it carries
//! ([`generation_of`]): a Bearer API key as generation 2, the `x-client-*`
//! headers as generation 1. Every request goes through its generation's
//! documented checks in order (client id, client secret, permission, quota;
//! or API key, permission), then its input is validated, then (for
//! `POST /media`) the credit balance is checked. Errors are JSON bodies from
//! the generated tables: the documented codes from `ERROR_CODES`, the
//! emulator's own (bad input, unknown record, wrong method, ...) from
//! `EMULATOR_ERROR_CODES`, each in its generation's shape
//! ([`in_generation`](crate::responses::in_generation)).

// Handlers return the answer to send as their `Err`: it is built once and
// moved straight out, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use authenta_types::{
    ApiGeneration, CONTENT_TYPES, CreateMediaRequest, CreatedMedia, ErrorCode, LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX, LIST_LIMIT_MIN, MAX_UPLOAD_SIZE, MediaKind, ModelType, Operation,
};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, Response, StatusCode, Uri};

use crate::clock::minus;
use crate::core::Core;
use crate::ids::{is_valid_mid, new_mid};
use crate::model::{AuthMode, MediaRecord, status_str};
use crate::responses::{
    bad_request, counterpart, documented_error, emulator_error, error_response, json_response,
    no_content, read_json_body,
};
use crate::store::{Denied, Store, StoreResult};

mod jobs;

pub(crate) use jobs::JOBS_PATH;

/// The largest `offset` of `GET /media` (the spec's `maximum`).
pub(crate) const MAX_OFFSET: u64 = i64::MAX as u64;

/// The longest record `name` the API takes.
pub(crate) const MAX_NAME_CHARS: usize = 255;

/// The generation a request is answered in: with [`AuthMode::Both`], a
/// request carrying `Authorization` is generation 2 (it is checked as a
/// Bearer API key), any other generation 1.
pub(crate) fn generation_of(auth: AuthMode, headers: &HeaderMap) -> ApiGeneration {
    match auth {
        AuthMode::Headers => ApiGeneration::First,
        AuthMode::Bearer => ApiGeneration::Second,
        _ if headers.contains_key(http::header::AUTHORIZATION) => ApiGeneration::Second,
        _ => ApiGeneration::First,
    }
}

/// The API's routes, with JSON answers for unknown paths and methods.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/api/media", get(list_media).post(create_media))
        .route("/api/media/{mid}", get(get_media).delete(delete_media))
        .route(jobs::JOBS_PATH, get(jobs::list_jobs).post(jobs::create_job))
        .route(
            "/api/v1/jobs/{job_id}",
            get(jobs::get_job).delete(jobs::delete_job),
        )
        .route("/api/v1/jobs/{job_id}/finalize", post(jobs::finalize_job))
        .route("/api/v1/jobs/{job_id}/cancel", post(jobs::cancel_job))
        .route("/api/openapi.yaml", get(openapi))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(core)
}

async fn not_found(uri: Uri) -> Response<Body> {
    emulator_error(
        StatusCode::NOT_FOUND,
        format!(
            "no route {}; the API has /media, /media/{{mid}}, /v1/jobs, /v1/jobs/{{jobId}}, \
             /v1/jobs/{{jobId}}/finalize and /v1/jobs/{{jobId}}/cancel",
            uri.path()
        ),
    )
}

/// The methods a path of the API takes, for `Allow`.
fn allowed_methods(path: &str) -> &'static str {
    match path {
        "/api/media" | jobs::JOBS_PATH => "GET, HEAD, POST",
        "/api/openapi.yaml" => "GET, HEAD",
        p if p.ends_with("/finalize") || p.ends_with("/cancel") => "POST",
        _ => "GET, HEAD, DELETE",
    }
}

async fn method_not_allowed(method: http::Method, uri: Uri) -> Response<Body> {
    let mut resp = emulator_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    );
    resp.headers_mut().insert(
        http::header::ALLOW,
        HeaderValue::from_static(allowed_methods(uri.path())),
    );
    resp
}

async fn openapi() -> Response<Body> {
    let mut resp = Response::new(Body::from(authenta_types::OPENAPI_YAML));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    resp
}

/// The documented checks, then `then`, in one transaction: the quota a
/// request spends and what it changes commit together, before the answer
/// leaves; a refused request writes nothing. `then` returns the answer to
/// send as its inner `Err` (bad input, unknown record): the quota stays spent.
fn checked<R>(
    core: &Core,
    headers: &HeaderMap,
    operation: Operation,
    then: impl FnOnce(&mut Store) -> StoreResult<Result<R, Response<Body>>>,
) -> Result<R, Response<Body>> {
    checked_as(
        core,
        generation_of(core.auth, headers),
        headers,
        operation,
        then,
    )
}

/// [`checked`] with `generation`'s checks.
fn checked_as<R>(
    core: &Core,
    generation: ApiGeneration,
    headers: &HeaderMap,
    operation: Operation,
    then: impl FnOnce(&mut Store) -> StoreResult<Result<R, Response<Body>>>,
) -> Result<R, Response<Body>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let outcome = core.shared.store(|store| {
        store.atomically(|store| {
            let allowed = match generation {
                ApiGeneration::First => {
                    store.authorize(header("x-client-id"), header("x-client-secret"), operation)?
                }
                _ => store.authorize_bearer(header("authorization"), operation)?,
            };
            match allowed {
                Ok(()) => then(store),
                Err(Denied(code)) => Ok(Err(documented_error(code))),
            }
        })
    });
    match outcome {
        Ok(answer) => answer,
        Err(e) => Err(emulator_error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

/// Rejects query parameters: the routes that take none.
fn no_query(uri: &Uri) -> Result<(), Response<Body>> {
    match uri.query() {
        Some(q) if !q.is_empty() => Err(bad_request(format!(
            "this route takes no query parameters, got {q:?}"
        ))),
        _ => Ok(()),
    }
}

/// Decodes one query-string component as HTTP servers do: `+` is a space,
/// `%XX` a byte; the result must be UTF-8.
fn decode_component(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("query component {raw:?} is not UTF-8 once decoded"))
}

/// The query parameters of `uri`, decoded; each at most once, and only
/// those in `allowed` (`route` names the route in the error).
fn query_params(
    uri: &Uri,
    allowed: &[&str],
    route: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut params = std::collections::BTreeMap::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode_component(name)?, decode_component(value)?);
        if !allowed.contains(&name.as_str()) {
            let takes: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
            return Err(format!(
                "unknown query parameter {name:?}; {route} takes {}",
                takes.join(", ")
            ));
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(format!("query parameter `{name}` is given twice"));
        }
    }
    Ok(params)
}

/// A list's `limit`: `default` when not given, else a whole number in
/// `range`.
fn list_limit(
    given: Option<&String>,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, String> {
    let Some(v) = given else {
        return Ok(default);
    };
    v.parse::<u32>()
        .ok()
        .filter(|l| range.contains(l))
        .ok_or_else(|| {
            format!(
                "`limit` must be a whole number from {} to {}, got {v:?}",
                range.start(),
                range.end()
            )
        })
}

fn parse_list_query(uri: &Uri) -> Result<(u32, u64), String> {
    let params = query_params(uri, &["limit", "offset"], "GET /media")?;
    let (limit, offset) = (params.get("limit"), params.get("offset"));
    let limit = list_limit(limit, LIST_LIMIT_MIN..=LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT)?;
    let offset = match offset {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|o| *o <= MAX_OFFSET)
            .ok_or_else(|| {
                format!("`offset` must be a whole number from 0 to {MAX_OFFSET}, got {v:?}")
            })?,
    };
    Ok((limit, offset))
}

async fn list_media(State(core): State<Arc<Core>>, headers: HeaderMap, uri: Uri) -> Response<Body> {
    let page = checked(&core, &headers, Operation::ListMedia, |s| {
        let (limit, offset) = match parse_list_query(&uri) {
            Ok(v) => v,
            Err(why) => return Ok(Err(bad_request(why))),
        };
        s.page(limit, offset)
            .map(|(total, records)| Ok((limit, offset, total, records)))
    });
    let (limit, offset, total, records) = match page {
        Ok(page) => page,
        Err(resp) => return resp,
    };
    let data: Vec<serde_json::Value> = records.iter().map(|r| core.list_item(r)).collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "limit": limit, "offset": offset, "total": total, "data": data }),
    )
}

/// The raw `{mid}` segment of `/api/media/{mid}`.
fn mid_of(uri: &Uri) -> &str {
    uri.path().strip_prefix("/api/media/").unwrap_or("")
}

fn check_mid(mid: &str) -> Result<(), Response<Body>> {
    if is_valid_mid(mid) {
        Ok(())
    } else {
        Err(bad_request(format!(
            "malformed mid {mid:?}: a mid is 24 lower-case hex characters, like 692f406f9f68d4b70080bb80"
        )))
    }
}

fn unknown_mid(mid: &str) -> Response<Body> {
    emulator_error(
        StatusCode::NOT_FOUND,
        format!("no media record has mid {mid}"),
    )
}

async fn get_media(State(core): State<Arc<Core>>, headers: HeaderMap, uri: Uri) -> Response<Body> {
    let mid = mid_of(&uri);
    let found = checked(&core, &headers, Operation::GetMedia, |s| {
        if let Err(resp) = no_query(&uri).and_then(|()| check_mid(mid)) {
            return Ok(Err(resp));
        }
        Ok(s.record(mid)?.ok_or_else(|| unknown_mid(mid)))
    });
    match found {
        Ok(r) => json_response(StatusCode::OK, &core.media_view(&r)),
        Err(resp) => resp,
    }
}

async fn delete_media(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let mid = mid_of(&uri);
    let deleted = checked(&core, &headers, Operation::DeleteMedia, |s| {
        if let Err(resp) = no_query(&uri).and_then(|()| check_mid(mid)) {
            return Ok(Err(resp));
        }
        Ok(if s.delete_record(mid)? {
            Ok(())
        } else {
            Err(unknown_mid(mid))
        })
    });
    match deleted {
        Ok(()) => {
            core.remove_object(mid);
            tracing::info!(%mid, "media deleted");
            no_content()
        }
        Err(resp) => resp,
    }
}

/// Why a create request is refused: malformed (`EMU400`), or a model that
/// does not take the content type (`EMU400` in generation 1,
/// `UNSUPPORTED_MEDIA_TYPE` in generation 2).
enum CreateRefusal {
    Malformed(String),
    Unsupported(String),
}

impl From<String> for CreateRefusal {
    fn from(why: String) -> Self {
        CreateRefusal::Malformed(why)
    }
}

impl From<&str> for CreateRefusal {
    fn from(why: &str) -> Self {
        CreateRefusal::Malformed(why.to_owned())
    }
}

/// The checks on a create request beyond its JSON shape.
fn validate_create(req: &CreateMediaRequest) -> Result<MediaKind, CreateRefusal> {
    let chars = req.name.chars().count();
    if req.name.trim().is_empty() {
        return Err("`name` must not be empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Err(
            format!("`name` must be at most {MAX_NAME_CHARS} characters, not {chars}").into(),
        );
    }
    if req.size == 0 {
        return Err("`size` must be at least 1 byte".into());
    }
    if req.size > MAX_UPLOAD_SIZE {
        return Err(format!(
            "`size` must be at most {MAX_UPLOAD_SIZE} bytes (5 GiB, the largest single upload), not {}",
            req.size
        ).into());
    }
    let kind = CONTENT_TYPES
        .iter()
        .find(|row| row.content_type == req.content_type)
        .map(|row| row.media_kind)
        .ok_or_else(|| {
            let all: Vec<&str> = CONTENT_TYPES.iter().map(|r| r.content_type).collect();
            format!(
                "`contentType` {:?} is not one the API takes; it takes {}",
                req.content_type,
                all.join(", ")
            )
        })?;
    let model = req.model_type.info().ok_or_else(|| {
        format!(
            "unknown `modelType` {:?}; the models are {}",
            req.model_type.as_str(),
            ModelType::KNOWN.join(", ")
        )
    })?;
    if !model.media_kinds.contains(&kind) {
        let takes: Vec<&str> = model.media_kinds.iter().map(|k| k.as_str()).collect();
        return Err(CreateRefusal::Unsupported(format!(
            "`modelType` {} does not take {kind} media ({}); it takes {}",
            model.id,
            req.content_type,
            takes.join(", ")
        )));
    }
    if !model.takes_content_type(&req.content_type) {
        return Err(CreateRefusal::Unsupported(format!(
            "`modelType` {} does not support media type: {}; it takes {}",
            model.id,
            req.content_type,
            model.content_types.join(", ")
        )));
    }
    Ok(kind)
}

/// A JSON body read as `T`: 400 when it is malformed, not an object (the
/// answer then says `shape`), or not a `T`.
fn json_object<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    shape: &str,
) -> Result<T, Response<Body>> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad_request(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad_request(shape));
    }
    serde_json::from_value(value).map_err(|e| bad_request(format!("invalid body: {e}")))
}

/// The record a create request's body asks for, or the 400 to answer (in
/// `generation`'s words).
fn record_to_create(
    bytes: &[u8],
    now: jiff::Timestamp,
    generation: ApiGeneration,
) -> Result<MediaRecord, Response<Body>> {
    let req: CreateMediaRequest = json_object(
        bytes,
        "the body must be a JSON object with `name`, `contentType`, `size` and `modelType`",
    )?;
    let kind = validate_create(&req).map_err(|refusal| match refusal {
        CreateRefusal::Unsupported(why) if generation == ApiGeneration::Second => {
            let row = ErrorCode::UnsupportedMediaType
                .info()
                .expect("UNSUPPORTED_MEDIA_TYPE is in the table");
            error_response(row, why)
        }
        CreateRefusal::Malformed(why) | CreateRefusal::Unsupported(why) => bad_request(why),
    })?;
    Ok(MediaRecord {
        mid: new_mid(now),
        name: req.name,
        media_type: kind.as_str().to_owned(),
        status: status_str(authenta_types::MediaStatus::Inited),
        model_type: req.model_type.as_str().to_owned(),
        content_type: req.content_type,
        size: req.size,
        created_at: now,
        upload: None,
        processing_due: None,
        fake: None,
        error: None,
    })
}

async fn create_media(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response<Body> {
    // The body is read first (at most 64 KiB), but looked at only after the
    // documented checks, so the whole request is one transaction.
    let read = read_json_body(&headers, body).await;
    let now = core.shared.clock.now();
    let generation = generation_of(core.auth, &headers);
    let created = checked(&core, &headers, Operation::CreateMedia, |s| {
        let record = match no_query(&uri)
            .and(read)
            .and_then(|bytes| record_to_create(&bytes, now, generation))
        {
            Ok(r) => r,
            Err(resp) => return Ok(Err(resp)),
        };
        Ok(s.create_record(record)?
            .map_err(|Denied(code)| documented_error(counterpart(code, generation))))
    });
    let record = match created {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (expires_in, backdate) = {
        let v = core.shared.lock();
        (v.upload_expires_in, v.upload_backdate)
    };
    tracing::info!(mid = %record.mid, model = %record.model_type, size = record.size, "media created");
    let upload_url = core.presigner.upload_url(
        &record.mid,
        &record.content_type,
        expires_in,
        minus(now, backdate),
    );
    let created = CreatedMedia {
        media: core.media_view(&record),
        upload_url,
        expires_in: Some(expires_in.as_secs()),
    };
    json_response(StatusCode::OK, &created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn list_query_bounds() {
        assert_eq!(
            parse_list_query(&uri("/api/media")).unwrap(),
            (LIST_LIMIT_DEFAULT, 0)
        );
        assert_eq!(
            parse_list_query(&uri("/api/media?limit=3&offset=2")).unwrap(),
            (3, 2)
        );
        assert_eq!(
            parse_list_query(&uri("/api/media?limit=%31%30&%6Fffset=%35")).unwrap(),
            (10, 5)
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "offset=-1",
            "limit=",
            "limit=1&limit=2",
            "page=2",
            "limit=%3",
            "lim%69t=1&limit=2",
        ] {
            assert!(
                parse_list_query(&uri(&format!("/api/media?{bad}"))).is_err(),
                "{bad}"
            );
        }
    }
}
