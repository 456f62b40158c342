//! Dispatch: each request goes to the control surface, the API or the S3
//! endpoint; API and upload requests pass through the fault layer and are
//! logged.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode};
use tower::Service as _;
use tracing::instrument::WithSubscriber as _;

use crate::core::Core;
use crate::faults::{ConnControl, ResetConnection};
use crate::model::{ApiRequest, UploadRequest};
use crate::responses::ApiCode;
use crate::s3::{CREDENTIAL_HEADERS, s3_error_response};

/// The request router of one emulator.
pub(crate) struct App {
    pub core: Arc<Core>,
    pub api: Router,
    pub control: Router,
    pub s3: s3s::service::S3Service,
    /// The subscriber s3s runs under: [`crate::s3s_logs::dispatch`].
    pub s3_logs: tracing::Dispatch,
}

fn header_str(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The longest request target (path and query) a log line or a log entry
/// holds; the rest is cut, and its length said.
const LOGGED_TARGET_MAX: usize = 256;

/// `target` as logged: at most [`LOGGED_TARGET_MAX`] bytes of it, so a long
/// query string does not make a log line as long.
fn for_log(target: &str) -> String {
    if target.len() <= LOGGED_TARGET_MAX {
        return target.to_owned();
    }
    let mut end = LOGGED_TARGET_MAX;
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} more bytes]", &target[..end], target.len() - end)
}

/// Whether `path` is under `prefix` (the prefix itself, or `prefix/...`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl App {
    /// Handles one request of a connection.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Body>,
        conn: Arc<ConnControl>,
    ) -> Result<Response<Body>, ResetConnection> {
        let path = req.uri().path().to_owned();
        if under(&path, crate::control::CONTROL_PREFIX) {
            if let Err(resp) = crate::control::admitted(&self.core, req.headers()) {
                return Ok(resp);
            }
            let resp = self.control.clone().call(req).await;
            return Ok(resp.unwrap_or_else(|e: Infallible| match e {}));
        }
        let method = req.method().clone();
        let is_api = under(&path, "/api");
        let log = is_api.then(|| {
            (
                for_log(req.uri().path_and_query().map_or(&path, |p| p.as_str())),
                header_str(req.headers(), "x-client-id"),
                CREDENTIAL_HEADERS
                    .iter()
                    .filter(|name| req.headers().contains_key(**name))
                    .map(|name| (*name).to_owned())
                    .collect::<Vec<_>>(),
            )
        });
        // The jobs API is generation 2's only: its answers are in that
        // shape whatever the request carries.
        let generation = match under(&path, crate::api::JOBS_PATH) {
            true => authenta_types::ApiGeneration::Second,
            false => crate::api::generation_of(self.core.auth, req.headers()),
        };
        let fault = crate::faults::take(&mut self.core.shared.lock(), method.as_str(), &path);
        if let Some(f) = &fault {
            tracing::info!(%method, path = %for_log(&path), action = ?f.action, stage = ?f.stage, "injecting a fault");
        }
        if !is_api {
            // Logged on arrival, faulted or not: the log counts every
            // attempt, even one a fault answers before handling.
            self.log_upload(&req, fault.is_some());
        }
        let result = crate::faults::apply(req, fault.as_ref(), &conn, |req| self.route(req)).await;
        // An API error, whatever made it (a check, bad input, a fault), in
        // the shape of the request's generation.
        let result = match is_api {
            true => result.map(|resp| crate::responses::in_generation(resp, generation)),
            false => result,
        };
        if let Some((path, client_id, credential_headers)) = log {
            let (status, code) = match &result {
                Ok(resp) => (
                    resp.status().as_u16(),
                    resp.extensions().get::<ApiCode>().map(|c| c.0.clone()),
                ),
                Err(ResetConnection) => (0, None),
            };
            tracing::info!(%method, %path, status, code = code.as_deref().unwrap_or(""), "api request");
            let at = self.core.shared.clock.now();
            self.core.shared.lock().log_api(ApiRequest {
                at,
                method: method.to_string(),
                path,
                client_id,
                credential_headers,
                status,
                code,
                faulted: fault.is_some(),
            });
        }
        result
    }

    /// The normal handling: the API, or the S3 endpoint.
    async fn route(&self, req: Request<Body>) -> Response<Body> {
        if under(req.uri().path(), "/api") {
            let resp = self.api.clone().call(req).await;
            return resp.unwrap_or_else(|e: Infallible| match e {});
        }
        self.s3(req).await
    }

    fn log_upload(&self, req: &Request<Body>, faulted: bool) {
        let entry = UploadRequest {
            at: self.core.shared.clock.now(),
            method: req.method().to_string(),
            path: for_log(req.uri().path()),
            headers: req
                .headers()
                .iter()
                .map(|(n, v)| {
                    let value = if CREDENTIAL_HEADERS.contains(&n.as_str()) {
                        // Never kept: the name is enough to see the leak.
                        "<redacted>".to_owned()
                    } else {
                        String::from_utf8_lossy(v.as_bytes()).into_owned()
                    };
                    (n.as_str().to_owned(), value)
                })
                .collect(),
            faulted,
        };
        tracing::info!(method = %entry.method, path = %entry.path, faulted, "s3 request");
        self.core.shared.lock().log_upload(entry);
    }

    async fn s3(&self, req: Request<Body>) -> Response<Body> {
        let put = req.method() == http::Method::PUT;
        let mut resp = self.s3_answer(req).await;
        if put && !resp.status().is_success() {
            // As S3 does: a refused upload (decided on its head, before a
            // byte of the body is read; with `Expect: 100-continue`, instead
            // of `100 Continue`) closes the connection rather than read a
            // body it will not store.
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        resp
    }

    async fn s3_answer(&self, req: Request<Body>) -> Response<Body> {
        if let Some(resp) = crate::s3::front_checks(req.method(), req.headers()) {
            return resp;
        }
        if self.core.shared.clock.is_manual()
            && let Some(resp) =
                crate::s3::expired_by_clock(req.uri().query(), self.core.shared.clock.now())
        {
            return resp;
        }
        let called = self
            .s3
            .call(req.map(s3s::Body::http_body_unsync))
            .with_subscriber(self.s3_logs.clone());
        match called.await {
            Ok(resp) => crate::s3::with_standard_message(resp.map(Body::new)).await,
            Err(e) => {
                tracing::error!(error = ?e, "s3 service failed");
                s3_error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    &[],
                )
            }
        }
    }
}
