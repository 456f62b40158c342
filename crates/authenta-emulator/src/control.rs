//! The control surface under `/_emulator/`: what the Authenta dashboard does
//! (keys, credits), plus what tests need (processing time, upload URL
//! timing, records, logs, faults).
//!
//! The same operations are plain methods of
//! [`RunningEmulator`](crate::RunningEmulator); this module only maps them to
//! HTTP. When an admin token is configured, every control request must carry
//! `Authorization: Bearer <token>`.

// Handlers return the answer to send as their `Err`: it is built once and
// moved straight out, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use authenta_types::ErrorCode;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use http::{HeaderMap, Response, StatusCode, Uri};
use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::model::{ControlError, Fault, KeySpec};
use crate::responses::{documented_error, emulator_error, json_response, read_json_body};
use crate::store::StoreResult;

/// The prefix of every control path.
pub const CONTROL_PREFIX: &str = "/_emulator";

/// The body of `GET`/`PUT /_emulator/credits`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Credits {
    credits: u64,
}

/// The body of `GET`/`PUT /_emulator/processing-time`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProcessingTime {
    millis: u64,
}

/// The body of `GET`/`PUT /_emulator/upload-urls`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UploadUrls {
    expires_in_secs: u64,
    #[serde(default)]
    backdate_secs: u64,
}

fn control_error(e: ControlError) -> Response<Body> {
    let status = match e {
        ControlError::UnknownKey(_) => StatusCode::NOT_FOUND,
        ControlError::RevokedKey(_) | ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
        ControlError::Persist(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    emulator_error(status, e)
}

fn answer<T: Serialize>(result: Result<T, ControlError>) -> Response<Body> {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => control_error(e),
    }
}

/// A JSON answer from the store, or a 500 naming what failed.
fn stored<T: Serialize>(result: StoreResult<T>) -> Response<Body> {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => emulator_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn no_content(result: Result<(), ControlError>) -> Response<Body> {
    match result {
        Ok(()) => crate::responses::no_content(),
        Err(e) => control_error(e),
    }
}

/// Reads a JSON control body into `T`.
async fn body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Response<Body>> {
    let bytes = read_json_body(headers, body).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| emulator_error(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

/// Whether a control request carries the admin token (always true when none
/// is configured).
pub(crate) fn admitted(core: &Core, headers: &HeaderMap) -> Result<(), Response<Body>> {
    let Some(token) = &core.admin_token else {
        return Ok(());
    };
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if crate::ids::same(given, token) {
        Ok(())
    } else {
        Err(documented_error(ErrorCode::Iam001))
    }
}

/// The control routes.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/_emulator/info", get(info))
        .route("/_emulator/keys", get(list_keys).post(create_key))
        .route("/_emulator/keys/{client_id}/regenerate", post(regenerate))
        .route("/_emulator/keys/{client_id}/revoke", post(revoke))
        .route("/_emulator/credits", get(get_credits).put(set_credits))
        .route(
            "/_emulator/processing-time",
            get(get_processing_time).put(set_processing_time),
        )
        .route(
            "/_emulator/upload-urls",
            get(get_upload_urls).put(set_upload_urls),
        )
        .route("/_emulator/clock", get(get_clock))
        .route("/_emulator/clock/advance", post(advance_clock))
        .route("/_emulator/records", get(records))
        .route("/_emulator/records/{mid}", get(record))
        .route("/_emulator/jobs", get(jobs))
        .route("/_emulator/jobs/fail-next", post(fail_next))
        .route("/_emulator/jobs/{job_id}", get(job))
        .route("/_emulator/uploads", get(uploads).delete(clear_uploads))
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route(
            "/_emulator/faults",
            get(faults).post(inject_fault).delete(clear_faults),
        )
        .method_not_allowed_fallback(|method: http::Method, uri: Uri| async move {
            emulator_error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on {}", uri.path()),
            )
        })
        .fallback(|uri: Uri| async move {
            emulator_error(
                StatusCode::NOT_FOUND,
                format!("no control route {}; see the crate README", uri.path()),
            )
        })
        .with_state(core)
}

/// The last path segment but one: `{client_id}` in `/keys/{client_id}/x`.
fn segment(uri: &Uri, from_end: usize) -> String {
    uri.path()
        .rsplit('/')
        .nth(from_end)
        .unwrap_or("")
        .to_owned()
}

async fn info(State(core): State<Arc<Core>>) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "baseUrl": core.base_url,
            "accountId": core.shared.account.account_id,
            "bucket": crate::presign::BUCKET,
            "persistent": core.shared.persistent(),
            "clock": if core.shared.clock.is_manual() { "manual" } else { "system" },
            "listItems": core.list_items,
        }),
    )
}

async fn list_keys(State(core): State<Arc<Core>>) -> Response<Body> {
    stored(core.shared.store(|s| s.keys()))
}

async fn create_key(State(core): State<Arc<Core>>, headers: HeaderMap, b: Body) -> Response<Body> {
    match body::<KeySpec>(&headers, b).await {
        Ok(spec) => {
            let now = core.shared.clock.now();
            answer(core.shared.control(|s| s.create_key(spec, now)))
        }
        Err(resp) => resp,
    }
}

async fn regenerate(State(core): State<Arc<Core>>, uri: Uri) -> Response<Body> {
    let id = segment(&uri, 1);
    answer(core.shared.control(|s| s.regenerate_secret(&id)))
}

async fn revoke(State(core): State<Arc<Core>>, uri: Uri) -> Response<Body> {
    let id = segment(&uri, 1);
    no_content(core.shared.control(|s| s.revoke_key(&id)))
}

async fn get_credits(State(core): State<Arc<Core>>) -> Response<Body> {
    stored(
        core.shared
            .store(|s| s.credits())
            .map(|credits| Credits { credits }),
    )
}

async fn set_credits(State(core): State<Arc<Core>>, headers: HeaderMap, b: Body) -> Response<Body> {
    match body::<Credits>(&headers, b).await {
        Ok(c) => stored(
            core.shared
                .store(|s| s.set_credits(c.credits))
                .map(|()| Credits { credits: c.credits }),
        ),
        Err(resp) => resp,
    }
}

async fn get_processing_time(State(core): State<Arc<Core>>) -> Response<Body> {
    let millis = core.shared.lock().processing_time.as_millis() as u64;
    json_response(StatusCode::OK, &ProcessingTime { millis })
}

async fn set_processing_time(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    b: Body,
) -> Response<Body> {
    match body::<ProcessingTime>(&headers, b).await {
        Ok(t) => {
            core.shared.lock().processing_time = Duration::from_millis(t.millis);
            json_response(StatusCode::OK, &t)
        }
        Err(resp) => resp,
    }
}

async fn get_upload_urls(State(core): State<Arc<Core>>) -> Response<Body> {
    let state = core.shared.lock();
    json_response(
        StatusCode::OK,
        &UploadUrls {
            expires_in_secs: state.upload_expires_in.as_secs(),
            backdate_secs: state.upload_backdate.as_secs(),
        },
    )
}

async fn set_upload_urls(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    b: Body,
) -> Response<Body> {
    match body::<UploadUrls>(&headers, b).await {
        Ok(u)
            if u.expires_in_secs == 0
                || u.expires_in_secs > crate::presign::MAX_UPLOAD_URL_EXPIRY.as_secs() =>
        {
            control_error(ControlError::Invalid(format!(
                "`expiresInSecs` must be from 1 to {} (7 days, S3's limit)",
                crate::presign::MAX_UPLOAD_URL_EXPIRY.as_secs()
            )))
        }
        Ok(u) => {
            let mut state = core.shared.lock();
            state.upload_expires_in = Duration::from_secs(u.expires_in_secs);
            state.upload_backdate = Duration::from_secs(u.backdate_secs);
            json_response(StatusCode::OK, &u)
        }
        Err(resp) => resp,
    }
}

/// The body of `GET /_emulator/clock` and the answer of `POST
/// /_emulator/clock/advance`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClockView {
    mode: &'static str,
    now: jiff::Timestamp,
}

/// The body of `POST /_emulator/clock/advance`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    millis: u64,
}

fn clock_view(core: &Core) -> ClockView {
    ClockView {
        mode: if core.shared.clock.is_manual() {
            "manual"
        } else {
            "system"
        },
        now: core.shared.clock.now(),
    }
}

/// Moves a manual clock forward and finishes the processing due by then,
/// before returning.
pub(crate) fn advance(core: &Core, by: Duration) -> Result<jiff::Timestamp, ControlError> {
    let now = core.shared.clock.advance(by).ok_or_else(|| {
        ControlError::Invalid(
            "the emulator runs on the system clock; start it with `--clock manual` \
             (or `ClockMode::Manual`) to move time"
                .into(),
        )
    })?;
    if !crate::processing::finish_due(&core.shared) {
        return Err(ControlError::Persist(
            "the clock moved, but finishing the processing due failed (see the log)".into(),
        ));
    }
    core.shared.processing.notify_one();
    tracing::info!(millis = by.as_millis() as u64, now = %now, "clock advanced");
    Ok(now)
}

async fn get_clock(State(core): State<Arc<Core>>) -> Response<Body> {
    json_response(StatusCode::OK, &clock_view(&core))
}

async fn advance_clock(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    b: Body,
) -> Response<Body> {
    match body::<Advance>(&headers, b).await {
        Ok(a) => match advance(&core, Duration::from_millis(a.millis)) {
            Ok(_) => json_response(StatusCode::OK, &clock_view(&core)),
            Err(e) => control_error(e),
        },
        Err(resp) => resp,
    }
}

async fn records(State(core): State<Arc<Core>>) -> Response<Body> {
    stored(core.shared.store(|s| s.all_records()))
}

async fn record(State(core): State<Arc<Core>>, uri: Uri) -> Response<Body> {
    let mid = segment(&uri, 0);
    match core.shared.store(|s| s.record(&mid)) {
        Ok(Some(r)) => json_response(StatusCode::OK, &r),
        Ok(None) => emulator_error(
            StatusCode::NOT_FOUND,
            format!("no media record has mid {mid:?}"),
        ),
        Err(e) => emulator_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn jobs(State(core): State<Arc<Core>>) -> Response<Body> {
    stored(core.shared.store(|s| s.all_jobs()))
}

async fn job(State(core): State<Arc<Core>>, uri: Uri) -> Response<Body> {
    let raw = segment(&uri, 0);
    let found = match raw.parse::<u64>() {
        Ok(id) => core.shared.store(|s| s.job(id)),
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(j)) => json_response(StatusCode::OK, &j),
        Ok(None) => emulator_error(StatusCode::NOT_FOUND, format!("no job has id {raw:?}")),
        Err(e) => emulator_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The body of `POST /_emulator/jobs/fail-next`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailNext {
    #[serde(default = "one")]
    times: u32,
    message: String,
}

fn one() -> u32 {
    1
}

/// Arms failures for the next `times` jobs finalized: each ends `failed`
/// with `message` as its `errorMessage` when its processing time is over.
pub(crate) fn fail_next_jobs(core: &Core, times: u32, message: &str) -> Result<(), ControlError> {
    if times == 0 || message.trim().is_empty() {
        return Err(ControlError::Invalid(
            "`times` must be at least 1 and `message` must not be empty".into(),
        ));
    }
    let mut v = core.shared.lock();
    v.job_failures
        .extend(std::iter::repeat_n(message.to_owned(), times as usize));
    Ok(())
}

async fn fail_next(State(core): State<Arc<Core>>, headers: HeaderMap, b: Body) -> Response<Body> {
    match body::<FailNext>(&headers, b).await {
        Ok(f) => no_content(fail_next_jobs(&core, f.times, &f.message)),
        Err(resp) => resp,
    }
}

async fn uploads(State(core): State<Arc<Core>>) -> Response<Body> {
    json_response(StatusCode::OK, &core.shared.lock().uploads)
}

async fn clear_uploads(State(core): State<Arc<Core>>) -> Response<Body> {
    core.shared.lock().uploads.clear();
    no_content(Ok(()))
}

async fn requests(State(core): State<Arc<Core>>) -> Response<Body> {
    let state = core.shared.lock();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "requests": state.api_log, "stats": state.stats }),
    )
}

async fn clear_requests(State(core): State<Arc<Core>>) -> Response<Body> {
    let mut state = core.shared.lock();
    state.api_log.clear();
    state.stats = Default::default();
    no_content(Ok(()))
}

async fn faults(State(core): State<Arc<Core>>) -> Response<Body> {
    json_response(StatusCode::OK, &core.shared.lock().faults)
}

async fn inject_fault(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    b: Body,
) -> Response<Body> {
    match body::<Fault>(&headers, b).await {
        Ok(fault) => answer(
            crate::faults::inject(&mut core.shared.lock(), fault)
                .map(|id| serde_json::json!({ "id": id })),
        ),
        Err(resp) => resp,
    }
}

async fn clear_faults(State(core): State<Arc<Core>>) -> Response<Body> {
    core.shared.lock().faults.clear();
    no_content(Ok(()))
}
