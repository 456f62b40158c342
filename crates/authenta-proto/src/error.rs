//! The errors of the protocol: every way a request can fail that is not the
//! transport's own failure.

use std::borrow::Cow;
use std::time::Duration;

use authenta_types::{
    CodeClass, ErrorBody, ErrorCode, JOB_LIST_LIMIT_MAX, JOB_LIST_LIMIT_MIN, JobId, JobStatus,
    MediaId, MediaKind, MediaStatus, ModelType, Operation, SlotName, TASK_TYPES,
};
use http::StatusCode;
use jiff::Timestamp;

use crate::wire::{RetryAfter, TransportErrorKind};

/// A failure decided by the protocol: bad configuration or input, an error
/// answer from the API or from S3, an unreadable body, or a wait that timed
/// out. Transport failures (connection refused, timeouts) are the
/// transport's errors, wrapped by each backend's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The configuration is missing or invalid.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Config(#[source] ConfigError),
    /// The input was refused before any request was built.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Invalid(#[source] ValidationError),
    /// The API answered with its JSON error body.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Api(Box<ApiError>),
    /// A non-2xx answer without an API error body (an HTML 502 from a proxy,
    /// an empty 503).
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Http(Box<HttpError>),
    /// S3 refused the upload.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Upload(Box<UploadError>),
    /// The upload URL expired before the upload started.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    UploadExpired(UploadExpired),
    /// A 2xx answer whose body could not be read.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Decode(Box<DecodeError>),
    /// Waiting for a final status took longer than allowed.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    Timeout(WaitTimeout),
    /// A batch started no more work: an earlier item failed in a way
    /// every item would ([`ErrorClass::affects_every_request`]).
    #[error("{0}")]
    Stopped(BatchStopped),
    /// The batch was interrupted (`authenta_client::Interrupt`) before
    /// this item was done.
    #[error("{0}")]
    Interrupted(Interrupted),
    /// A job operation refused for the job's status (cancel once
    /// processing, a second finalize, delete while processing): the error
    /// says the status.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    JobState(Box<JobStateError>),
    /// Waiting for a job took longer than its bound.
    #[error("{0}{hint}", hint = hint_suffix(self))]
    JobTimeout(Box<JobWaitTimeout>),
}

/// `: what to do`, when the protocol knows, and the server's
/// `Retry-After`, when it sent one.
fn hint_suffix(error: &ProtocolError) -> String {
    let mut text = error.hint().map(|h| format!(": {h}")).unwrap_or_default();
    match error.retry_after() {
        Some(RetryAfter::Delay(d)) => {
            text.push_str(&format!(
                " (the server asked to wait {} s: Retry-After)",
                d.as_secs()
            ));
        }
        Some(RetryAfter::At(at)) => {
            text.push_str(&format!(
                " (the server asked to wait until {at}: Retry-After)"
            ));
        }
        None => {}
    }
    text
}

/// Why a batch item was not started: the earlier failure that would recur
/// for every item.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not started: an earlier file failed in a way every file would ({cause})")]
pub struct BatchStopped {
    /// The class of the earlier failure.
    pub class: ErrorClass,
    /// The earlier failure's message.
    pub cause: String,
}

/// Why a batch item is not done: the batch was interrupted. With a `mid`
/// its record was uploaded and waiting for processing (not final: see
/// [`ProtocolError::not_final`]); without, nothing of it was started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .mid {
    Some(mid) => format!("interrupted before the record was final (mid {mid})"),
    None => "interrupted before it started".to_owned(),
})]
pub struct Interrupted {
    /// The record, if one was created.
    pub mid: Option<MediaId>,
}

/// The broad class of an error: what a program (or the `authenta` command's
/// exit code) acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Missing or invalid configuration.
    Config,
    /// The credentials were refused (`IAM001`, `INVALID_API_KEY`).
    Authentication,
    /// The key lacks a permission (`IAM002`, `FORBIDDEN`).
    Permission,
    /// The key's quota is spent (`AA001`).
    Quota,
    /// The account has too few credits (`U007`, `INSUFFICIENT_BALANCE`,
    /// any 402).
    Credits,
    /// The input, or a request built from it, was refused.
    InvalidInput,
    /// No such record.
    NotFound,
    /// The connection failed or timed out.
    Network,
    /// The server failed (5xx) or answered something unreadable.
    Server,
    /// A wait ran out of time.
    Timeout,
    /// Local I/O failed: writing a downloaded artifact (disk full, no
    /// permission).
    LocalIo,
    /// The work was interrupted before it was done (a batch's
    /// `authenta_client::Interrupt`).
    Interrupted,
}

impl ErrorClass {
    /// Whether every other request with the same key would fail the same
    /// way (configuration, credentials, permission, quota, credits), so a
    /// batch should start no further work; per-request failures (invalid
    /// input, not found, network, server, timeout) are not.
    pub fn affects_every_request(self) -> bool {
        matches!(
            self,
            ErrorClass::Config
                | ErrorClass::Authentication
                | ErrorClass::Permission
                | ErrorClass::Quota
                | ErrorClass::Credits
        )
    }
}

impl ProtocolError {
    /// The class of the error.
    pub fn class(&self) -> ErrorClass {
        match self {
            ProtocolError::Config(_) => ErrorClass::Config,
            ProtocolError::Invalid(_) => ErrorClass::InvalidInput,
            // The code's class from the spec's error table; an unknown
            // code is classed by its status.
            ProtocolError::Api(e) => match e.body.code.info().map(|info| info.class) {
                Some(CodeClass::Credentials) => ErrorClass::Authentication,
                Some(CodeClass::Permission) => ErrorClass::Permission,
                Some(CodeClass::Quota) => ErrorClass::Quota,
                Some(CodeClass::Credits) => ErrorClass::Credits,
                Some(CodeClass::InvalidInput) => ErrorClass::InvalidInput,
                Some(CodeClass::NotFound) => ErrorClass::NotFound,
                Some(CodeClass::Server) => ErrorClass::Server,
                // A job's status refused the operation: the request was
                // wrong for the job as it is.
                Some(CodeClass::JobState) => ErrorClass::InvalidInput,
                Some(_) | None => class_of_status(e.status),
            },
            // A download URL (`resultURL`, a heatmap) that S3 refuses is
            // expired or altered, as for the upload below: the key's
            // permissions are not in question.
            ProtocolError::Http(e)
                if e.operation.is_none() && matches!(e.status.as_u16(), 401 | 403) =>
            {
                ErrorClass::InvalidInput
            }
            ProtocolError::Http(e) => class_of_status(e.status),
            // S3's refusals say the upload was wrong (expired URL, another
            // Content-Type, a changed size), not that the key lacks a
            // permission.
            ProtocolError::Upload(e) if e.status.is_client_error() => ErrorClass::InvalidInput,
            ProtocolError::Upload(e) => class_of_status(e.status),
            ProtocolError::UploadExpired(_) => ErrorClass::InvalidInput,
            ProtocolError::Decode(_) => ErrorClass::Server,
            ProtocolError::Timeout(_) => ErrorClass::Timeout,
            ProtocolError::Stopped(e) => e.class,
            ProtocolError::Interrupted(_) => ErrorClass::Interrupted,
            ProtocolError::JobState(_) => ErrorClass::InvalidInput,
            ProtocolError::JobTimeout(_) => ErrorClass::Timeout,
        }
    }

    /// Whether the API refused the credentials themselves (`IAM001`,
    /// `INVALID_API_KEY`): what asking the key's provider again may cure.
    pub fn is_credentials_refused(&self) -> bool {
        self.code()
            .and_then(ErrorCode::info)
            .is_some_and(|info| info.class == CodeClass::Credentials)
    }

    /// The API's error code, when the API sent one. S3's code for a refused
    /// upload is [`ProtocolError::s3_code`].
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ProtocolError::Api(e) => Some(&e.body.code),
            _ => None,
        }
    }

    /// S3's error code (`AccessDenied`, `SignatureDoesNotMatch`, ...), when
    /// S3 refused the upload with its XML error body.
    ///
    /// ```
    /// use authenta_proto::{ProtocolError, error::UploadError};
    ///
    /// let refused = ProtocolError::Upload(Box::new(UploadError {
    ///     status: http::StatusCode::FORBIDDEN,
    ///     code: "AccessDenied".into(),
    ///     message: "Request has expired".into(),
    ///     mid: None,
    ///     retry_after: None,
    /// }));
    /// assert_eq!(refused.s3_code(), Some("AccessDenied"));
    /// assert_eq!(refused.code(), None);
    /// assert!(refused.hint().unwrap().starts_with("the upload URL expired"));
    /// ```
    pub fn s3_code(&self) -> Option<&str> {
        match self {
            ProtocolError::Upload(e) if !e.code.is_empty() => Some(&e.code),
            _ => None,
        }
    }

    /// The HTTP status of the answer that failed, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ProtocolError::Api(e) => Some(e.status),
            ProtocolError::Http(e) => Some(e.status),
            ProtocolError::Upload(e) => Some(e.status),
            ProtocolError::Decode(e) => Some(e.status),
            ProtocolError::JobState(e) => Some(e.status),
            _ => None,
        }
    }

    /// The media record the error concerns, where there is one.
    pub fn mid(&self) -> Option<&MediaId> {
        match self {
            ProtocolError::Api(e) => e.mid.as_ref(),
            ProtocolError::Http(e) => e.mid.as_ref(),
            ProtocolError::Upload(e) => e.mid.as_ref(),
            ProtocolError::UploadExpired(e) => e.mid.as_ref(),
            ProtocolError::Decode(e) => e.mid.as_ref(),
            ProtocolError::Timeout(e) => Some(&e.mid),
            ProtocolError::Invalid(ValidationError::SizeMismatch { mid, .. }) => mid.as_ref(),
            ProtocolError::Interrupted(e) => e.mid.as_ref(),
            ProtocolError::Config(_)
            | ProtocolError::Invalid(_)
            | ProtocolError::Stopped(_)
            | ProtocolError::JobState(_)
            | ProtocolError::JobTimeout(_) => None,
        }
    }

    /// The delay the server asked for (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            ProtocolError::Api(e) => e.retry_after,
            ProtocolError::Http(e) => e.retry_after,
            ProtocolError::Upload(e) => e.retry_after,
            _ => None,
        }
    }

    /// The operation whose answer failed, when known (`POST /media` for a
    /// create, ...): its [`route`](Operation::route) names the permission,
    /// quota and credits it needs.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            ProtocolError::Api(e) => e.operation,
            ProtocolError::Http(e) => e.operation,
            ProtocolError::Decode(e) => e.operation,
            ProtocolError::JobState(e) => Some(e.operation),
            _ => None,
        }
    }

    /// What to do about the error, in a sentence. A missing permission is
    /// named when the operation is known ("the key lacks the Write
    /// permission ...").
    pub fn hint(&self) -> Option<Cow<'static, str>> {
        let fixed = match self.class() {
            ErrorClass::Config => match self {
                ProtocolError::Config(e) => return e.hint().map(Cow::Borrowed),
                _ => return None,
            },
            ErrorClass::Authentication => match self.code() {
                Some(ErrorCode::InvalidApiKey) => {
                    "check the API key (AUTHENTA_API_KEY or the profile's): it may be revoked or regenerated; copy a current one from the console"
                }
                Some(ErrorCode::Iam001) => {
                    "check the client id and secret: the key may be revoked or its secret regenerated"
                }
                _ => {
                    "check the credentials (the API key, or the client id and secret): the key may be revoked or regenerated"
                }
            },
            ErrorClass::Permission => {
                let needed = match self.operation() {
                    Some(op) => format!("the {} permission", op.route().permission),
                    None => "the permission".to_owned(),
                };
                return Some(Cow::Owned(format!(
                    "the key lacks {needed} this operation needs; grant it in Settings → API Access → API Keys, or use another key"
                )));
            }
            ErrorClass::Quota => {
                "the key's quota is spent: wait for the next period or give the key more quota; retrying will not help"
            }
            ErrorClass::Credits => "add credits to the account; retrying will not help",
            ErrorClass::Interrupted => return None,
            // A redirect has its own hint below (why it is not followed).
            _ if self.is_not_from_the_api()
                && !self.status().is_some_and(|s| s.is_redirection()) =>
            {
                "this answer is not the Authenta API's (a web page or a redirect): check the base URL (AUTHENTA_BASE_URL, or the client's base URL; the API's is https://platform.authenta.ai/api)"
            }
            ErrorClass::NotFound if self.operation().is_some_and(is_job_operation) => {
                "check the job id: the job may have been deleted"
            }
            ErrorClass::NotFound => "check the mid: the record may have been deleted",
            ErrorClass::Server => match self.status().map(|s| s.as_u16()) {
                Some(300..=399) => {
                    "the server answered with a redirect, which is never followed (it would carry the credentials or the upload elsewhere): check the base URL, or the proxy in between"
                }
                Some(429) => "the service is throttling requests; try again later",
                _ => "the service failed; try again later",
            },
            ErrorClass::Timeout if matches!(self, ProtocolError::JobTimeout(_)) => {
                "the job goes on; wait for it again later with the same job id, or allow a longer bound"
            }
            ErrorClass::Timeout => {
                "the record is still processing; wait again later with the same mid, or allow a longer timeout"
            }
            ErrorClass::InvalidInput => match self {
                ProtocolError::JobState(e) => e.hint(),
                // The message already says the URL expired.
                ProtocolError::UploadExpired(_) => "create a new record and upload again",
                ProtocolError::Upload(e) if e.is_expired() => {
                    "the upload URL expired: create a new record and upload again"
                }
                ProtocolError::Upload(_) => {
                    "the upload must carry exactly the declared Content-Type and size, to the URL as given"
                }
                _ => return None,
            },
            ErrorClass::Network | ErrorClass::LocalIo => return None,
        };
        Some(Cow::Borrowed(fixed))
    }

    /// The record this error leaves *not final*: uploaded and still being
    /// processed when the wait ended (a wait's [`ProtocolError::Timeout`], or a
    /// batch [`ProtocolError::Interrupted`] while it waited), with its last status
    /// seen. Nothing failed: waiting again with the same mid (no upload, no
    /// mutation) gives the verdict. `None` for every other error.
    ///
    /// ```
    /// use authenta_proto::{ProtocolError, error::Interrupted};
    /// use authenta_proto::types::{MediaId, MediaStatus};
    ///
    /// let mid = MediaId::new("692f406f9f68d4b70080bb80");
    /// let waiting = ProtocolError::Interrupted(Interrupted { mid: Some(mid.clone()) });
    /// assert_eq!(waiting.not_final(), Some((&mid, Some(MediaStatus::Uploaded))));
    /// assert_eq!(ProtocolError::Interrupted(Interrupted { mid: None }).not_final(), None);
    /// ```
    pub fn not_final(&self) -> Option<(&MediaId, Option<MediaStatus>)> {
        match self {
            ProtocolError::Timeout(e) => Some((&e.mid, e.last_status.clone())),
            // The pipeline yields a mid only for records uploaded and waiting.
            ProtocolError::Interrupted(Interrupted { mid: Some(mid) }) => {
                Some((mid, Some(MediaStatus::Uploaded)))
            }
            _ => None,
        }
    }

    /// Whether an API request was answered by something other than the
    /// API: a redirect (the API never redirects), or a body that is HTML
    /// where the API sends JSON (a 2xx, or a 4xx without the API's error
    /// body). A wrong base URL does this. A 5xx page from a proxy in front
    /// of the API is not counted: that is the service failing.
    ///
    /// ```
    /// use authenta_proto::{ProtocolError, error::HttpError};
    /// use authenta_proto::types::Operation;
    ///
    /// let moved = ProtocolError::Http(Box::new(HttpError {
    ///     status: http::StatusCode::TEMPORARY_REDIRECT,
    ///     snippet: String::new(),
    ///     operation: Some(Operation::ListMedia),
    ///     mid: None,
    ///     retry_after: None,
    /// }));
    /// assert!(moved.is_not_from_the_api());
    /// assert!(moved.hint().unwrap().contains("check the base URL"));
    /// ```
    pub fn is_not_from_the_api(&self) -> bool {
        let html = |snippet: &str| snippet.trim_start().starts_with('<');
        match self {
            ProtocolError::Http(e) if e.operation.is_some() => {
                e.status.is_redirection() || (e.status.is_client_error() && html(&e.snippet))
            }
            ProtocolError::Decode(e) => e.operation.is_some() && html(&e.snippet),
            _ => false,
        }
    }

    /// Attaches the `mid` the failed request concerned.
    pub fn with_mid(mut self, mid: &MediaId) -> Self {
        let slot = match &mut self {
            ProtocolError::Api(e) => &mut e.mid,
            ProtocolError::Http(e) => &mut e.mid,
            ProtocolError::Upload(e) => &mut e.mid,
            ProtocolError::UploadExpired(e) => &mut e.mid,
            ProtocolError::Decode(e) => &mut e.mid,
            ProtocolError::Invalid(ValidationError::SizeMismatch { mid, .. }) => mid,
            _ => return self,
        };
        if slot.is_none() {
            *slot = Some(mid.clone());
        }
        self
    }
}

/// An error and its sources as one line, `outer: inner: innermost`, each
/// source written only when the text so far does not already say it (many
/// errors repeat their source in their own message).
///
/// ```
/// use authenta_proto::error::error_chain;
/// let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
/// let outer = std::io::Error::new(std::io::ErrorKind::Other, inner);
/// assert_eq!(error_chain(&outer), "invalid peer certificate: UnknownIssuer");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

/// Whether `operation` is one of the jobs API's.
fn is_job_operation(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::CreateJob
            | Operation::ListJobs
            | Operation::GetJob
            | Operation::DeleteJob
            | Operation::FinalizeJob
            | Operation::CancelJob
    )
}

fn class_of_status(status: StatusCode) -> ErrorClass {
    match status.as_u16() {
        401 => ErrorClass::Authentication,
        402 => ErrorClass::Credits,
        403 => ErrorClass::Permission,
        404 | 410 => ErrorClass::NotFound,
        // A throttle: only `AA001` says the key's quota is spent.
        429 => ErrorClass::Server,
        400..=499 => ErrorClass::InvalidInput,
        _ => ErrorClass::Server,
    }
}

impl From<ConfigError> for ProtocolError {
    fn from(e: ConfigError) -> Self {
        ProtocolError::Config(e)
    }
}

impl From<ValidationError> for ProtocolError {
    fn from(e: ValidationError) -> Self {
        ProtocolError::Invalid(e)
    }
}

/// A configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required environment variable (or value) is missing or empty.
    #[error("{0} is not set (or is empty)")]
    MissingVariable(&'static str),
    /// Credentials of both kinds are set (an API key, and a client id or
    /// secret): which one is meant is not for the SDK to guess.
    #[error(
        "both an API key ({api_key}) and a client id or secret ({client_secret}) are set; unset {client_secret} to use the API key, or unset {api_key} to use the client id and secret"
    )]
    BothKinds {
        /// Where the API key is set.
        api_key: &'static str,
        /// Where the client id or secret is set.
        client_secret: &'static str,
    },
    /// A credential holds characters an HTTP header cannot carry.
    #[error("{0} holds characters an HTTP header cannot carry; copy the credential again")]
    InvalidCredential(&'static str),
    /// The base URL cannot be used.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used, and what to give instead.
        reason: String,
    },
    /// The user agent cannot be a header value.
    #[error("invalid user agent: {0}")]
    InvalidUserAgent(String),
    /// The HTTP client cannot be used (it follows redirects, which would
    /// carry the credentials to another host; or it failed to start).
    #[error("cannot use the HTTP client: {0}")]
    HttpClient(String),
    /// A credential provider (a secret file, variable or command) failed.
    #[error("{0}")]
    Credentials(CredentialError),
    /// A profile or the config file holding it cannot be used; the message
    /// says which and what to do.
    #[error("{0}")]
    Profile(String),
}

impl ConfigError {
    /// What to do about this cause, in a sentence; `None` when the message
    /// already says it.
    ///
    /// ```
    /// use authenta_proto::ConfigError;
    ///
    /// assert!(ConfigError::MissingVariable("AUTHENTA_API_KEY").hint().unwrap().contains("set AUTHENTA_API_KEY"));
    /// let url = ConfigError::InvalidBaseUrl { url: "ftp://x".into(), reason: "...".into() };
    /// assert!(!url.hint().unwrap().contains("CLIENT_SECRET"));
    /// ```
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ConfigError::MissingVariable(_) => Some(
                "set AUTHENTA_API_KEY (an API key from the console, api_…), or AUTHENTA_CLIENT_ID and AUTHENTA_CLIENT_SECRET for an older key (and AUTHENTA_BASE_URL for another deployment), or pass the credentials explicitly",
            ),
            ConfigError::InvalidBaseUrl { .. } => Some(
                "fix AUTHENTA_BASE_URL or the base URL given to the client (the default is https://platform.authenta.ai/api)",
            ),
            ConfigError::InvalidUserAgent(_) => {
                Some("give a user agent of visible ASCII characters")
            }
            // The message already says what to do.
            ConfigError::InvalidCredential(_)
            | ConfigError::BothKinds { .. }
            | ConfigError::HttpClient(_)
            | ConfigError::Credentials(_)
            | ConfigError::Profile(_) => None,
        }
    }
}

/// Input refused before any request was built, so no quota is spent on a
/// record that could not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The file is empty.
    #[error("{name}: the file is empty; choose a file with content")]
    EmptyFile {
        /// The file's name.
        name: String,
    },
    /// The file is larger than one S3 PUT takes (5 GiB).
    #[error("{name}: {size} bytes is more than one upload takes ({max} bytes, 5 GiB); shorten or compress the file", max = authenta_types::MAX_UPLOAD_SIZE)]
    TooLarge {
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// Neither the file's bytes nor its extension tell its type.
    #[error(
        "{name}: cannot tell the file's type from its bytes or its extension; give the content type explicitly (for example image/png)"
    )]
    UnknownContentType {
        /// The file's name.
        name: String,
    },
    /// The file's extension names a media type, but its bytes match no
    /// media format (a text file named `x.png`).
    #[error(
        "{name}: expected {expected} (from its extension) but its bytes are no media format the API takes (found {found}); check that the file is what its name says"
    )]
    NotMedia {
        /// The file's name.
        name: String,
        /// The content type its extension names.
        expected: String,
        /// What its first bytes look like.
        found: String,
    },
    /// The file is cut short: its bytes start as a media format but do not
    /// end as one (a PNG without `IEND`, an MP4 without `moov`).
    #[error(
        "{name}: the file is cut short: expected a complete {content_type}, found {found}; send the whole file"
    )]
    Truncated {
        /// The file's name.
        name: String,
        /// The content type its bytes start as.
        content_type: String,
        /// What is missing or cut.
        found: String,
    },
    /// The API does not take this content type.
    #[error("{name}: the API does not take {content_type}; it takes {takes}", takes = api_content_types())]
    UnsupportedContentType {
        /// The file's name.
        name: String,
        /// The content type found or given.
        content_type: String,
    },
    /// The model does not take this kind of media (DF-1 with an image, say).
    #[error("{name}: model {model} takes {kinds} media, not {kind}; choose a model for {kind} media{models}", kinds = kinds(takes), models = models_for(*kind))]
    ModelMismatch {
        /// The file's name.
        name: String,
        /// The model asked for.
        model: ModelType,
        /// The kind of media the file is.
        kind: MediaKind,
        /// The kinds the model takes.
        takes: &'static [MediaKind],
    },
    /// A media name the API would refuse.
    #[error("invalid media name: {reason}")]
    InvalidName {
        /// Why.
        reason: &'static str,
    },
    /// The file cannot be read (missing, a directory, no permission).
    #[error("{path}: cannot read the file ({reason}); check the path and its permissions")]
    Unreadable {
        /// The path given.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// No model was chosen and no documented model takes this kind of
    /// media (audio, documents): the caller must choose one.
    #[error("{name}: no documented model takes {kind} media; choose a model{models}", models = models_for(*kind))]
    NoDefaultModel {
        /// The file's name.
        name: String,
        /// The kind of media the file is.
        kind: MediaKind,
    },
    /// A `mid` that cannot be a record's: the API's are 24 lower-case
    /// hexadecimal characters (the spec's `MediaId` pattern).
    #[error(
        "{mid:?} is not a media id: {reason}; a mid is 24 hexadecimal characters, such as 692f406f9f68d4b70080bb80 (`authenta list` shows them)"
    )]
    InvalidMid {
        /// The text given.
        mid: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A model the API's model table does not list.
    #[error("model {model} is not one the API lists; it takes {}", known_models())]
    UnknownModel {
        /// The model asked for.
        model: ModelType,
    },
    /// A job's inputs the API would refuse (task type, slots, formats).
    #[error("{0}")]
    Job(#[from] JobInputError),
    /// A list page size outside what the API takes.
    #[error("limit {limit} is out of range: the API takes {min} to {max} records per page", min = authenta_types::LIST_LIMIT_MIN, max = authenta_types::LIST_LIMIT_MAX)]
    InvalidLimit {
        /// The limit given.
        limit: u32,
    },
    /// The body to upload is not the size the record was created with.
    #[error("{}", size_mismatch(*expected, *actual, mid.as_ref()))]
    SizeMismatch {
        /// The size the upload URL was made for.
        expected: u64,
        /// The size of the body given.
        actual: u64,
        /// The record the upload is for, when known.
        mid: Option<MediaId>,
    },
}

/// The content types the API takes, as a list.
fn api_content_types() -> String {
    let types: Vec<&str> = authenta_types::CONTENT_TYPES
        .iter()
        .map(|row| row.content_type)
        .collect();
    types.join(", ")
}

/// `DF-1 (Video), AC-1 (Image), ...`: every model of the table.
fn known_models() -> String {
    let models: Vec<String> = authenta_types::MODEL_TYPES
        .iter()
        .map(|m| format!("{} ({})", m.id, kinds(m.media_kinds)))
        .collect();
    models.join(", ")
}

/// `Image or Video`.
fn kinds(takes: &[MediaKind]) -> String {
    let takes: Vec<&str> = takes.iter().map(|k| k.as_str()).collect();
    takes.join(" or ")
}

/// ` (AC-1, FD-1, ...)`: the models that take `kind`, if any.
fn models_for(kind: MediaKind) -> String {
    let models: Vec<&str> = authenta_types::MODEL_TYPES
        .iter()
        .filter(|m| m.media_kinds.contains(&kind))
        .map(|m| m.id)
        .collect();
    if models.is_empty() {
        return String::new();
    }
    format!(" ({})", models.join(", "))
}

fn size_mismatch(expected: u64, actual: u64, mid: Option<&MediaId>) -> String {
    match mid {
        Some(mid) => format!(
            "the body is {actual} bytes but the record was created for {expected}; upload the same file the record was created for (mid {mid})"
        ),
        None => format!(
            "the body is {actual} bytes but the upload URL was signed for {expected}; upload exactly the bytes the URL was made for"
        ),
    }
}

/// ` on GET /media/{mid}`, when the operation is known.
fn on_operation(op: &Option<Operation>) -> String {
    op.map(|op| format!(" on {} {}", op.route().method, op.route().path))
        .unwrap_or_default()
}

/// The API's JSON error answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{} {} (HTTP {}{}){}", body.code, body.message, status.as_u16(), on_operation(operation), mid_suffix(mid.as_ref()))]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error body: code, type, message.
    pub body: ErrorBody,
    /// The operation that failed.
    pub operation: Option<Operation>,
    /// The record concerned, if any.
    pub mid: Option<MediaId>,
    /// The server's `Retry-After`, if any.
    pub retry_after: Option<RetryAfter>,
}

/// A non-2xx answer whose body is not an API error (an HTML page from a
/// proxy, an empty 503).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status}{}{}{}", on_operation(operation), mid_suffix(mid.as_ref()), body_suffix(snippet))]
pub struct HttpError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The start of the body, at most [`SNIPPET_LEN`](crate::SNIPPET_LEN)
    /// bytes, as text.
    pub snippet: String,
    /// The operation that failed.
    pub operation: Option<Operation>,
    /// The record concerned, if any.
    pub mid: Option<MediaId>,
    /// The server's `Retry-After`, if any.
    pub retry_after: Option<RetryAfter>,
}

impl UploadError {
    /// Whether S3 refused the upload because its pre-signed URL expired
    /// (`AccessDenied` "Request has expired", or an `ExpiredToken`).
    pub fn is_expired(&self) -> bool {
        self.code == "ExpiredToken"
            || (self.code == "AccessDenied"
                && self.message.to_ascii_lowercase().contains("expired"))
    }
}

/// ` with an empty body`, or `: "the start of it"`.
fn body_suffix(snippet: &str) -> String {
    if snippet.is_empty() {
        " with an empty body".to_owned()
    } else {
        format!(": {snippet:?}")
    }
}

/// S3's refusal of an upload, read from its XML error body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upload refused: HTTP {}{}{}{}", status.as_u16(), prefixed(" ", code), prefixed(": ", message), mid_suffix(mid.as_ref()))]
pub struct UploadError {
    /// The HTTP status.
    pub status: StatusCode,
    /// S3's error code, such as `SignatureDoesNotMatch`; empty when the body
    /// was not S3's XML.
    pub code: String,
    /// S3's message, or the start of the body.
    pub message: String,
    /// The record the upload was for.
    pub mid: Option<MediaId>,
    /// S3's `Retry-After` (sent with `503 SlowDown`), if any.
    pub retry_after: Option<RetryAfter>,
}

/// `; body starts "..."`, or nothing for an empty body.
fn body_starts(snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!("; body starts {snippet:?}")
    }
}

/// `prefix` and `text`, or nothing when `text` is empty.
fn prefixed(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{prefix}{text}")
    }
}

/// The upload URL had expired before the upload started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the upload URL expired at {expired_at}{}", mid_suffix(mid.as_ref()))]
pub struct UploadExpired {
    /// The record the URL was for.
    pub mid: Option<MediaId>,
    /// When the URL expired.
    pub expired_at: Timestamp,
}

/// A 2xx answer whose body is not what the operation returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unreadable answer (HTTP {}{}): {reason}{}{}", status.as_u16(), on_operation(operation), mid_suffix(mid.as_ref()), body_starts(snippet))]
pub struct DecodeError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The operation.
    pub operation: Option<Operation>,
    /// What was wrong with the body.
    pub reason: String,
    /// The start of the body.
    pub snippet: String,
    /// The record concerned, if any.
    pub mid: Option<MediaId>,
}

/// A wait gave up before the record reached a final status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("media {mid} did not reach a final status after {:.1} s and {polls} poll{}{}", waited.as_secs_f64(), if *polls == 1 { "" } else { "s" }, last_status.as_ref().map(|s| format!("; last status {s}")).unwrap_or_default())]
pub struct WaitTimeout {
    /// The record waited for.
    pub mid: MediaId,
    /// The last status seen, if any poll succeeded.
    pub last_status: Option<MediaStatus>,
    /// How long the wait lasted.
    pub waited: Duration,
    /// How many polls it spent.
    pub polls: u32,
}

/// A provider failed to give credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the credentials from {from}: {reason}")]
pub struct CredentialError {
    /// Where it was read from, as [`CredentialProvider::describe`](crate::CredentialProvider::describe) says.
    pub from: String,
    /// What went wrong, and what to do about it.
    pub reason: String,
}

impl CredentialError {
    /// The error of reading from `from`.
    pub fn new(from: impl Into<String>, reason: impl Into<String>) -> Self {
        CredentialError {
            from: from.into(),
            reason: reason.into(),
        }
    }
}

fn known_task_types() -> String {
    TASK_TYPES
        .iter()
        .map(|t| format!("{} ({}, {})", t.slug, t.id, t.model))
        .collect::<Vec<_>>()
        .join(", ")
}

fn format_list(formats: &[&str]) -> String {
    match formats {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A job's inputs that the API would refuse, found before any request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobInputError {
    /// A task type the table does not list.
    #[error(
        "task type {given} is not one the API lists; it takes {}",
        known_task_types()
    )]
    UnknownTaskType {
        /// What was given.
        given: String,
    },
    /// An input for a slot the task type does not have.
    #[error("{task} has no {slot} slot; give its inputs only")]
    UnknownSlot {
        /// The task type's slug.
        task: &'static str,
        /// The slot given.
        slot: SlotName,
    },
    /// Two inputs for one slot.
    #[error("two inputs for the {slot} slot; give one file per slot")]
    DuplicateSlot {
        /// The slot.
        slot: SlotName,
    },
    /// A required slot without an input.
    #[error("{task} needs a file in its {slot} slot")]
    MissingSlot {
        /// The task type's slug.
        task: &'static str,
        /// The slot.
        slot: SlotName,
    },
    /// A file whose content type the slot does not take.
    #[error(
        "{name}: {task} takes {} in its {slot} slot, not {content_type}; choose a file of one of those formats or another task type",
        format_list(formats)
    )]
    SlotFormat {
        /// The file's name.
        name: String,
        /// The task type's slug.
        task: &'static str,
        /// The slot.
        slot: SlotName,
        /// The file's content type.
        content_type: String,
        /// The formats the slot takes.
        formats: &'static [&'static str],
    },
    /// The similarity check without a reference image.
    #[error(
        "{task}'s similarity check compares with a reference image: give one in the reference slot"
    )]
    NoReference {
        /// The task type's slug.
        task: &'static str,
    },
    /// A saved stage whose slots are not the inputs given to resume it.
    #[error(
        "the saved job {job} was created for the slots {saved}, not the inputs given ({given}); resume it with the same files"
    )]
    StageMismatch {
        /// The saved job.
        job: JobId,
        /// Its slots.
        saved: String,
        /// The slots of the inputs given.
        given: String,
    },
    /// A job id that cannot be one.
    #[error("{id:?} is not a job id ({reason}); `authenta jobs list` shows the ids")]
    InvalidJobId {
        /// The text given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A page number below 1.
    #[error("page {page} is out of range: pages count from 1")]
    InvalidPage {
        /// The page given.
        page: u32,
    },
    /// A jobs page size outside what the API takes.
    #[error("limit {limit} is out of range: the API takes {min} to {max} jobs per page", min = JOB_LIST_LIMIT_MIN, max = JOB_LIST_LIMIT_MAX)]
    InvalidLimit {
        /// The limit given.
        limit: u32,
    },
}

/// A job operation refused for the job's status: cancelling a job that is
/// processing or final (409), a second finalize (400), deleting a job
/// while it is processing (409), or the documentation's 422 ("invalid
/// state"). `job_status` is the job's status when the server said it
/// (authenta-emulator's `jobStatus`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {verb} job {job}: {state} (HTTP {status}: {code}: {message})", verb = verb(*operation), state = state(job_status.as_ref(), *operation, *status))]
pub struct JobStateError {
    /// The job.
    pub job: JobId,
    /// What was refused.
    pub operation: Operation,
    /// The HTTP status (409, 422, 400).
    pub status: StatusCode,
    /// The job's status, when the answer said it.
    pub job_status: Option<JobStatus>,
    /// The error code the server sent.
    pub code: ErrorCode,
    /// The server's message.
    pub message: String,
}

fn verb(operation: Operation) -> &'static str {
    match operation {
        Operation::CancelJob => "cancel",
        Operation::DeleteJob => "delete",
        Operation::FinalizeJob => "finalize",
        _ => "change",
    }
}

fn state(job_status: Option<&JobStatus>, operation: Operation, status: StatusCode) -> String {
    match (job_status, operation, status.as_u16()) {
        (Some(s), _, _) => format!("it is {s}"),
        (None, Operation::CancelJob, 409) => "it is processing or done".to_owned(),
        (None, Operation::DeleteJob, 409) => "it is processing".to_owned(),
        (None, Operation::FinalizeJob, _) => "it is finalized already".to_owned(),
        (None, _, _) => "its status does not allow it".to_owned(),
    }
}

impl JobStateError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        let status = self.job_status.as_ref();
        match self.operation {
            Operation::CancelJob if status.is_some_and(JobStatus::is_final) => {
                "the job is over: there is nothing to cancel (delete it to remove it)"
            }
            Operation::CancelJob => {
                "a job can be cancelled only before it is processing; wait for it to end, then delete it if unwanted"
            }
            Operation::DeleteJob => {
                "a job cannot be deleted while it is processing; wait until it is final (or cancel it before processing), then delete it"
            }
            Operation::FinalizeJob => {
                "the job was finalized already: wait for it instead of finalizing it again"
            }
            _ => "read the job to see its status",
        }
    }
}

/// Waiting for a job ran out of time: its last status, the time waited
/// and the polls spent, and where the bound came from. The job goes on:
/// waiting again with its id spends nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "job {job} is still {} after {} s ({polls} polls); the wait was bounded at {} s by {bound}",
    last_status.as_ref().map_or("not final".to_owned(), |s| s.to_string()),
    waited.as_secs(),
    limit.as_secs()
)]
pub struct JobWaitTimeout {
    /// The job.
    pub job: JobId,
    /// The last status seen.
    pub last_status: Option<JobStatus>,
    /// How long the wait lasted.
    pub waited: Duration,
    /// How many polls it made.
    pub polls: u32,
    /// The bound.
    pub limit: Duration,
    /// Where the bound came from: `the task type's time limit` or `the
    /// caller`.
    pub bound: WaitBound,
}

/// Where a job wait's bound came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitBound {
    /// The task type's time limit (`x-task-types`).
    TaskType(&'static str),
    /// The caller's own bound.
    Caller,
    /// The poll policy's deadline (a task type with no documented limit).
    Policy,
}

impl std::fmt::Display for WaitBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitBound::TaskType(slug) => write!(f, "{slug}'s time limit"),
            WaitBound::Caller => f.write_str("the caller"),
            WaitBound::Policy => f.write_str("the poll policy's deadline"),
        }
    }
}

/// A transport's error, boxed: users name one error type whatever HTTP
/// client runs underneath, and reach the client's own error with
/// [`std::error::Error::source`] and `downcast_ref`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What local I/O was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalIo {
    /// Reading the file (or stream) being uploaded: the input is at fault.
    ReadingSource,
    /// Writing a downloaded artifact to disk (disk full, no permission).
    WritingArtifact,
    /// Saving an upload's progress ([`Checkpoint`](crate::Checkpoint)):
    /// the caller's checkpoint failed.
    Checkpoint,
}

/// Why a flow failed: the protocol's [`ProtocolError`], the HTTP client's failure
/// (after any retries), or local I/O. This is the error type of both
/// backends and of `authenta_client::Client`: no generic parameter, the
/// transport's own error boxed as the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The protocol's error: invalid input, an API or S3 error answer, a
    /// timeout, ...
    #[error(transparent)]
    Proto(ProtocolError),
    /// The HTTP client failed.
    #[error("{}", transport_message(.kind, *.attempts, .operation, .mid.as_ref(), .error))]
    Transport {
        /// The client's error.
        #[source]
        error: BoxError,
        /// What kind of failure it was.
        kind: TransportErrorKind,
        /// How many attempts were made.
        attempts: u32,
        /// The operation, or `None` for the upload and artifact downloads.
        operation: Option<Operation>,
        /// The record concerned, if any.
        mid: Option<MediaId>,
    },
    /// Local I/O failed.
    #[error("{context}: {error}{}", mid_suffix(.mid.as_ref()))]
    Io {
        /// The error.
        #[source]
        error: std::io::Error,
        /// What was being done.
        during: LocalIo,
        /// What was being done, in words, such as "reading clip.mp4".
        context: String,
        /// The record concerned, if any.
        mid: Option<MediaId>,
    },
}

fn mid_suffix(mid: Option<&MediaId>) -> String {
    mid.map(|m| format!(" (mid {m})")).unwrap_or_default()
}

fn transport_message(
    kind: &TransportErrorKind,
    attempts: u32,
    operation: &Option<Operation>,
    mid: Option<&MediaId>,
    error: &BoxError,
) -> String {
    use TransportErrorKind as K;
    let what = match kind {
        K::Connect => "cannot connect",
        K::Timeout => "timed out",
        K::Interrupted => "connection broken",
        K::Other => "network error",
    };
    let mut text = what.to_owned();
    match operation {
        Some(op) => text.push_str(&format!(" on {} {}", op.route().method, op.route().path)),
        None => text.push_str(" on the upload or download"),
    }
    if attempts > 1 {
        text.push_str(&format!(" after {attempts} attempts"));
    }
    text.push_str(&mid_suffix(mid));
    text.push_str(": ");
    text.push_str(&error_chain(error.as_ref()));
    text
}

impl Error {
    /// The class of the failure (what a program or an exit code acts on).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Proto(e) => e.class(),
            Error::Transport { .. } => ErrorClass::Network,
            Error::Io {
                during: LocalIo::ReadingSource,
                ..
            } => ErrorClass::InvalidInput,
            Error::Io { .. } => ErrorClass::LocalIo,
        }
    }

    /// The API's error code, if the API sent one.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.as_proto().and_then(ProtocolError::code)
    }

    /// S3's error code, if S3 refused an upload ([`ProtocolError::s3_code`]).
    pub fn s3_code(&self) -> Option<&str> {
        self.as_proto().and_then(ProtocolError::s3_code)
    }

    /// The HTTP status of the failed answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.as_proto().and_then(ProtocolError::status)
    }

    /// The media record concerned, if any.
    pub fn mid(&self) -> Option<&MediaId> {
        match self {
            Error::Proto(e) => e.mid(),
            Error::Transport { mid, .. } | Error::Io { mid, .. } => mid.as_ref(),
        }
    }

    /// The protocol error, if this is one.
    pub fn as_proto(&self) -> Option<&ProtocolError> {
        match self {
            Error::Proto(e) => Some(e),
            _ => None,
        }
    }

    /// What to do about it, where the protocol knows.
    pub fn hint(&self) -> Option<Cow<'static, str>> {
        self.as_proto().and_then(ProtocolError::hint)
    }

    /// Attaches the `mid` the failure concerns, where it has none.
    pub fn with_mid(self, mid: &MediaId) -> Self {
        match self {
            Error::Proto(e) => Error::Proto(e.with_mid(mid)),
            Error::Transport {
                error,
                kind,
                attempts,
                operation,
                mid: None,
            } => Error::Transport {
                error,
                kind,
                attempts,
                operation,
                mid: Some(mid.clone()),
            },
            Error::Io {
                error,
                during,
                context,
                mid: None,
            } => Error::Io {
                error,
                during,
                context,
                mid: Some(mid.clone()),
            },
            other => other,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Proto(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Proto(ProtocolError::Config(e))
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Proto(ProtocolError::Invalid(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_problem_and_what_to_do() {
        let err = ProtocolError::Api(Box::new(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: ErrorBody::documented(ErrorCode::Aa001).unwrap(),
            operation: Some(Operation::GetMedia),
            mid: Some(MediaId::new("692f406f9f68d4b70080bb80")),
            retry_after: None,
        }));
        let text = err.to_string();
        assert!(text.starts_with("AA001 API limit reached (HTTP 429 on GET /media/{mid}) (mid 692f406f9f68d4b70080bb80)"), "{text}");
        assert!(text.contains("give the key more quota"), "{text}");
        assert_eq!(err.class(), ErrorClass::Quota);
        assert_eq!(err.code(), Some(&ErrorCode::Aa001));
    }

    #[test]
    fn a_missing_permission_is_named_from_the_operation() {
        let refused = |operation| {
            ProtocolError::Api(Box::new(ApiError {
                status: StatusCode::FORBIDDEN,
                body: ErrorBody::documented(ErrorCode::Iam002).unwrap(),
                operation,
                mid: None,
                retry_after: None,
            }))
        };
        for (op, permission) in [
            (Operation::CreateMedia, "Write"),
            (Operation::ListMedia, "Read"),
            (Operation::GetMedia, "Read"),
            (Operation::DeleteMedia, "Delete"),
        ] {
            let err = refused(Some(op));
            assert_eq!(err.class(), ErrorClass::Permission);
            assert_eq!(err.operation(), Some(op));
            let text = err.to_string();
            let needed = format!("the key lacks the {permission} permission this operation needs");
            assert!(text.contains(&needed), "{text}");
        }
        let text = refused(None).to_string();
        assert!(
            text.contains("the key lacks the permission this operation needs"),
            "{text}"
        );
    }

    #[test]
    fn which_classes_affect_every_request() {
        use ErrorClass::*;
        for class in [Config, Authentication, Permission, Quota, Credits] {
            assert!(class.affects_every_request(), "{class:?}");
        }
        for class in [InvalidInput, NotFound, Network, Server, Timeout] {
            assert!(!class.affects_every_request(), "{class:?}");
        }
    }

    #[test]
    fn timeout_states_status_time_and_polls() {
        let err = ProtocolError::Timeout(WaitTimeout {
            mid: MediaId::new("abc"),
            last_status: Some(MediaStatus::Uploaded),
            waited: Duration::from_millis(90_500),
            polls: 12,
        });
        let text = err.to_string();
        assert!(
            text.contains("after 90.5 s and 12 polls; last status UPLOADED"),
            "{text}"
        );
        assert_eq!(err.class(), ErrorClass::Timeout);
        assert_eq!(err.mid().unwrap().as_str(), "abc");
    }

    #[test]
    fn an_unusable_http_client_says_why_without_the_env_hint() {
        let err = ProtocolError::Config(ConfigError::HttpClient(
            "it follows redirects; build it with redirect::Policy::none()".into(),
        ));
        assert_eq!(err.class(), ErrorClass::Config);
        assert_eq!(
            err.to_string(),
            "cannot use the HTTP client: it follows redirects; build it with redirect::Policy::none()"
        );
    }

    #[test]
    fn validation_errors_say_what_to_do() {
        let e = ValidationError::ModelMismatch {
            name: "cat.png".into(),
            model: ModelType::Df1,
            kind: MediaKind::Image,
            takes: ModelType::Df1.info().unwrap().media_kinds,
        };
        let text = e.to_string();
        assert!(
            text.contains("model DF-1 takes Video media, not Image"),
            "{text}"
        );
        assert!(text.contains("AC-1"), "{text}");
        let e = ValidationError::UnsupportedContentType {
            name: "a.txt".into(),
            content_type: "text/plain".into(),
        };
        assert!(e.to_string().contains("image/jpeg"));
    }
}
