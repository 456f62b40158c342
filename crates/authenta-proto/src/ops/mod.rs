//! The API's operations, one module each: how to build the request and how
//! to read the answer. Every answer goes through
//! [`check_api_response`] first, so
//! errors are read in one place.

use authenta_types::{MediaId, Operation};
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::Config;
use crate::error::ProtocolError;
use crate::response::check_api_response;

mod create;
mod delete;
mod get;
mod jobs;
mod list;

pub use create::CreateMedia;
pub use delete::DeleteMedia;
pub use get::GetMedia;
pub use jobs::{CancelJob, CreateJob, DeleteJob, FinalizeJob, GetJob, ListJobs};
pub use list::ListMedia;

/// One API operation: a request to build and an answer to read.
///
/// ```
/// use authenta_proto::{ApiRequest, Config, Credentials, ops::GetMedia};
/// use authenta_proto::types::MediaId;
///
/// let config = Config::new(Credentials::new("id", "secret"));
/// let op = GetMedia::new(MediaId::new("692f406f9f68d4b70080bb80"));
/// let request = op.build(&config).unwrap();
/// assert_eq!(request.method(), "GET");
/// assert_eq!(
///     request.uri(),
///     "https://platform.authenta.ai/api/media/692f406f9f68d4b70080bb80"
/// );
/// ```
pub trait ApiRequest {
    /// What a successful answer reads into.
    type Output;

    /// Which operation this is (its route, permission, quota).
    const OPERATION: Operation;

    /// The record the request concerns, if any; errors carry it.
    fn mid(&self) -> Option<&MediaId> {
        None
    }

    /// Builds the request, with the credential headers.
    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError>;

    /// Reads a 2xx answer.
    fn parse(&self, response: Response<Vec<u8>>) -> Result<Self::Output, ProtocolError>;

    /// A success to report in place of `error` on attempt number `attempt`:
    /// a `DELETE` retried after a lost answer finds the record gone (404)
    /// and that is what it wanted. `None` (the default) keeps the error.
    fn recover(&self, error: &ProtocolError, attempt: u32) -> Option<Self::Output> {
        let _ = (error, attempt);
        None
    }

    /// Reads any answer: non-2xx becomes an [`ProtocolError`], 2xx goes to
    /// [`ApiRequest::parse`].
    fn read(
        &self,
        config: &Config,
        response: Response<Vec<u8>>,
    ) -> Result<Self::Output, ProtocolError> {
        let response = check_api_response(response, Self::OPERATION, self.mid(), config)?;
        self.parse(response)
    }
}

/// Characters that stay as they are in a path segment: RFC 3986's
/// unreserved but `.`, so that no mid (`.`, `..`) can be a dot segment that
/// leaves its path.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// Checks the `mid`s an answer holds before any of them becomes a path
/// segment: a mid that is not a record id (ASCII letters, digits, `-`,
/// `_`, at most 64; never `.` or `..`) makes the answer a decode error.
pub(crate) fn check_server_mids<'m>(
    mids: impl IntoIterator<Item = &'m MediaId>,
    response: &Response<Vec<u8>>,
    operation: Operation,
) -> Result<(), ProtocolError> {
    for mid in mids {
        if let Err(e) = MediaId::parse(mid.as_str()) {
            return Err(ProtocolError::Decode(Box::new(crate::error::DecodeError {
                status: response.status(),
                operation: Some(operation),
                reason: format!(
                    "the server sent the mid {:?}, which is not one ({e})",
                    mid.as_str()
                ),
                snippet: String::new(),
                mid: None,
            })));
        }
    }
    Ok(())
}

/// `base + path`, with `{mid}` replaced by the percent-encoded id.
pub(crate) fn url(config: &Config, operation: Operation, mid: Option<&MediaId>) -> String {
    let path = operation.route().path;
    let path = match mid {
        Some(mid) => path.replace(
            "{mid}",
            &utf8_percent_encode(mid.as_str(), PATH_SEGMENT).to_string(),
        ),
        None => path.to_owned(),
    };
    format!("{}{}", config.base_url(), path)
}

/// A request to the API with the credential, accept and user-agent headers.
pub(crate) fn api_request(
    config: &Config,
    operation: Operation,
    uri: String,
    body: Option<Vec<u8>>,
) -> Result<Request<Vec<u8>>, ProtocolError> {
    let method = Method::from_bytes(operation.route().method.as_bytes())
        .expect("generated routes hold valid methods");
    // A `Call` reads an unread key's provider before it builds a request.
    let key = config.key().current().ok_or_else(|| {
        ProtocolError::Config(crate::ConfigError::Credentials(
            crate::CredentialError::new(
                config.provider().map_or_else(String::new, |p| p.describe()),
                "not read yet: run the request in a `Call` flow, which reads them first",
            ),
        ))
    })?;
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .extension(crate::credentials::KeyGeneration(key.generation));
    for (name, value) in key.headers {
        builder = builder.header(name, value);
    }
    builder = builder
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, config.user_agent());
    if body.is_some() {
        builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    builder.body(body.unwrap_or_default()).map_err(|e| {
        ProtocolError::Config(crate::ConfigError::InvalidBaseUrl {
            url: config.base_url().to_owned(),
            reason: e.to_string(),
        })
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::credentials::{Credentials, HEADER_CLIENT_ID, HEADER_CLIENT_SECRET};

    pub fn config() -> Config {
        Config::new(Credentials::new("client-1", "secret-1"))
            .with_base_url("http://127.0.0.1:1/api")
            .unwrap()
    }

    pub fn json(status: u16, body: &str) -> Response<Vec<u8>> {
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    pub const MEDIA: &str = r#"{"mid":"692f406f9f68d4b70080bb80","name":"video_sample","type":"Video","status":"INITED","modelType":"DF-1","createdAt":"2025-12-02T19:39:27.525Z"}"#;

    pub fn assert_credentials(request: &Request<Vec<u8>>) {
        assert_eq!(request.headers()[HEADER_CLIENT_ID], "client-1");
        assert_eq!(request.headers()[HEADER_CLIENT_SECRET], "secret-1");
        assert!(request.headers()[HEADER_CLIENT_SECRET].is_sensitive());
        assert_eq!(request.headers()[ACCEPT], "application/json");
    }
}
