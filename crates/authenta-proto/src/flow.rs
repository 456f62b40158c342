//! The flows' decisions as small state machines: one operation's attempts
//! (retry or give up), and a wait for a final status. A driver feeds them
//! what happened and does what they say: send, sleep, stop. The drivers in
//! [`crate::driver`] are such loops; a program with its own runtime can
//! write its own around the same machines.

use std::fmt;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use authenta_types::{ErrorCode, Media, MediaId, MediaStatus, Operation};
use http::{Response, StatusCode};

use crate::config::Config;
use crate::error::{Error, ErrorClass, WaitTimeout};
use crate::ops::ApiRequest;
use crate::poll::{PollPolicy, PollStep};
use crate::response::{UploadReceipt, read_upload_response};
use crate::retry::{
    Replay, RetryAction, RetryDecision, RetryPolicy, classify_error, classify_transport,
};
use crate::transport::TransportErrorKind;

/// Why a flow failed: the protocol's [`Error`], the transport's error `E`
/// (after any retries), or local I/O (reading the file to upload, writing an
/// artifact). Each backend's error type is this, with `E` its HTTP client's
/// error.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure<E> {
    /// The protocol's error: invalid input, an API or S3 error answer, a
    /// timeout, ...
    Proto(Error),
    /// The HTTP client failed.
    Transport {
        /// The client's error.
        error: E,
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
    Io {
        /// The error.
        error: io::Error,
        /// What was being done, such as "reading clip.mp4".
        context: String,
        /// The record concerned, if any.
        mid: Option<MediaId>,
    },
}

impl<E> Failure<E> {
    /// The class of the failure (what a program or an exit code acts on).
    pub fn class(&self) -> ErrorClass {
        match self {
            Failure::Proto(e) => e.class(),
            Failure::Transport { .. } => ErrorClass::Network,
            Failure::Io { .. } => ErrorClass::InvalidInput,
        }
    }

    /// The API's error code, if the API sent one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Failure::Proto(e) => e.code(),
            _ => None,
        }
    }

    /// The HTTP status of the failed answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::Proto(e) => e.status(),
            _ => None,
        }
    }

    /// The media record concerned, if any.
    pub fn mid(&self) -> Option<&MediaId> {
        match self {
            Failure::Proto(e) => e.mid(),
            Failure::Transport { mid, .. } | Failure::Io { mid, .. } => mid.as_ref(),
        }
    }

    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Proto(e) => e.is_retryable(),
            Failure::Transport { kind, .. } => classify_transport(*kind).is_retry(),
            Failure::Io { .. } => false,
        }
    }

    /// The protocol error, if this is one.
    pub fn as_proto(&self) -> Option<&Error> {
        match self {
            Failure::Proto(e) => Some(e),
            _ => None,
        }
    }

    /// Attaches the `mid` the failure concerns, where it has none.
    pub fn with_mid(self, mid: &MediaId) -> Self {
        match self {
            Failure::Proto(e) => Failure::Proto(e.with_mid(mid)),
            Failure::Transport {
                error,
                kind,
                attempts,
                operation,
                mid: None,
            } => Failure::Transport {
                error,
                kind,
                attempts,
                operation,
                mid: Some(mid.clone()),
            },
            Failure::Io {
                error,
                context,
                mid: None,
            } => Failure::Io {
                error,
                context,
                mid: Some(mid.clone()),
            },
            other => other,
        }
    }

    /// Maps the transport error.
    pub fn map_transport<F>(self, f: impl FnOnce(E) -> F) -> Failure<F> {
        match self {
            Failure::Proto(e) => Failure::Proto(e),
            Failure::Transport {
                error,
                kind,
                attempts,
                operation,
                mid,
            } => Failure::Transport {
                error: f(error),
                kind,
                attempts,
                operation,
                mid,
            },
            Failure::Io {
                error,
                context,
                mid,
            } => Failure::Io {
                error,
                context,
                mid,
            },
        }
    }
}

impl<E> From<Error> for Failure<E> {
    fn from(e: Error) -> Self {
        Failure::Proto(e)
    }
}

impl<E> From<crate::error::ConfigError> for Failure<E> {
    fn from(e: crate::error::ConfigError) -> Self {
        Failure::Proto(Error::Config(e))
    }
}

impl<E> From<crate::error::ValidationError> for Failure<E> {
    fn from(e: crate::error::ValidationError) -> Self {
        Failure::Proto(Error::Invalid(e))
    }
}

impl<E: std::error::Error> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Proto(e) => e.fmt(f),
            Failure::Transport {
                error,
                kind,
                attempts,
                operation,
                mid,
            } => {
                let what = match kind {
                    TransportErrorKind::Connect => "cannot connect",
                    TransportErrorKind::Timeout => "timed out",
                    TransportErrorKind::Interrupted => "connection broken",
                    TransportErrorKind::Other => "network error",
                };
                f.write_str(what)?;
                match operation {
                    Some(op) => write!(f, " on {} {}", op.route().method, op.route().path)?,
                    None => f.write_str(" on the upload or download")?,
                }
                if *attempts > 1 {
                    write!(f, " after {attempts} attempts")?;
                }
                if let Some(mid) = mid {
                    write!(f, " (mid {mid})")?;
                }
                write!(f, ": {}", crate::error::error_chain(error))
            }
            Failure::Io {
                error,
                context,
                mid,
            } => {
                write!(f, "{context}: {error}")?;
                if let Some(mid) = mid {
                    write!(f, " (mid {mid})")?;
                }
                Ok(())
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Failure<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Proto(e) => Some(e),
            Failure::Transport { error, .. } => Some(error),
            Failure::Io { error, .. } => Some(error),
        }
    }
}

/// What to do next.
#[derive(Debug)]
pub enum Step<T> {
    /// Stop with this result.
    Done(T),
    /// Sleep this long, then try again.
    Retry(Duration),
}

/// The attempts of one request: feed it each outcome, it says whether to
/// retry (and after how long) or stop.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use authenta_proto::flow::{Attempts, Step};
/// use authenta_proto::{ApiRequest, Config, Credentials, GetMedia, RetryPolicy};
/// use authenta_proto::types::MediaId;
/// use authenta_proto::http::Response;
///
/// let config = Config::new(Credentials::new("id", "secret"));
/// let op = GetMedia::new(MediaId::new("m1"));
/// let mut attempts = Attempts::for_request(RetryPolicy::default(), &op);
/// attempts.start();
/// let busy = Response::builder().status(503).body(Vec::new()).unwrap();
/// match attempts.on_response::<_, std::io::Error>(&op, &config, busy, SystemTime::now(), 7) {
///     Step::Retry(delay) => assert!(delay <= Duration::from_millis(250)),
///     Step::Done(_) => panic!("a 503 on a GET is retried"),
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    replay: Replay,
    attempt: u32,
    operation: Option<Operation>,
    mid: Option<MediaId>,
}

impl Attempts {
    /// The attempts of a request that replays as `replay`.
    pub fn new(
        policy: RetryPolicy,
        replay: Replay,
        operation: Option<Operation>,
        mid: Option<MediaId>,
    ) -> Self {
        Attempts {
            policy,
            replay,
            attempt: 0,
            operation,
            mid,
        }
    }

    /// The attempts of an API request (its method decides the replay rule).
    pub fn for_request<Op: ApiRequest>(policy: RetryPolicy, op: &Op) -> Self {
        Attempts::new(
            policy,
            Replay::of(Op::OPERATION),
            Some(Op::OPERATION),
            op.mid().cloned(),
        )
    }

    /// The attempts of an upload `PUT`.
    pub fn for_upload(policy: RetryPolicy, reopenable: bool, mid: Option<MediaId>) -> Self {
        Attempts::new(policy, Replay::Upload { reopenable }, None, mid)
    }

    /// Begins the next attempt; returns its number (1-based).
    pub fn start(&mut self) -> u32 {
        self.attempt += 1;
        self.attempt
    }

    /// The current attempt's number.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Takes in an API answer.
    pub fn on_response<Op: ApiRequest, E>(
        &mut self,
        op: &Op,
        config: &Config,
        response: Response<Vec<u8>>,
        now: SystemTime,
        random: u64,
    ) -> Step<Result<Op::Output, Failure<E>>> {
        match op.read(config, response) {
            Ok(output) => Step::Done(Ok(output)),
            Err(error) => match op.recover(&error, self.attempt) {
                Some(output) => Step::Done(Ok(output)),
                None => self.on_error(error, now, random),
            },
        }
    }

    /// Takes in S3's answer to an upload.
    pub fn on_upload_response<E>(
        &mut self,
        response: Response<Vec<u8>>,
        now: SystemTime,
        random: u64,
    ) -> Step<Result<UploadReceipt, Failure<E>>> {
        match read_upload_response(&response, self.mid.as_ref()) {
            Ok(receipt) => Step::Done(Ok(receipt)),
            Err(error) => self.on_error(error, now, random),
        }
    }

    /// Takes in a protocol error.
    pub fn on_error<T, E>(
        &mut self,
        error: Error,
        now: SystemTime,
        random: u64,
    ) -> Step<Result<T, Failure<E>>> {
        let action = classify_error(&error);
        let retry_after = error.retry_after().map(|r| r.delay(now));
        match self.decide(action, retry_after, random) {
            Some(delay) => {
                tracing::warn!(attempt = self.attempt, status = ?error.status(), code = ?error.code(), delay_ms = delay.as_millis() as u64, "retrying after an error answer");
                Step::Retry(delay)
            }
            None => {
                let error = match &self.mid {
                    Some(mid) => error.with_mid(mid),
                    None => error,
                };
                Step::Done(Err(Failure::Proto(error)))
            }
        }
    }

    /// Takes in a transport failure of kind `kind`.
    pub fn on_transport_error<T, E>(
        &mut self,
        error: E,
        kind: TransportErrorKind,
        random: u64,
    ) -> Step<Result<T, Failure<E>>> {
        match self.decide(classify_transport(kind), None, random) {
            Some(delay) => {
                tracing::warn!(
                    attempt = self.attempt,
                    ?kind,
                    delay_ms = delay.as_millis() as u64,
                    "retrying after a transport failure"
                );
                Step::Retry(delay)
            }
            None => Step::Done(Err(Failure::Transport {
                error,
                kind,
                attempts: self.attempt,
                operation: self.operation,
                mid: self.mid.clone(),
            })),
        }
    }

    fn decide(
        &self,
        action: RetryAction,
        retry_after: Option<Duration>,
        random: u64,
    ) -> Option<Duration> {
        match self
            .policy
            .decide(action, self.replay, self.attempt, retry_after, random)
        {
            RetryDecision::RetryAfter(d) => Some(d),
            RetryDecision::GiveUp => None,
        }
    }
}

/// What a wait does after a poll.
#[derive(Debug)]
pub enum WaitStep {
    /// The record reached a final status.
    Done(Box<Media>),
    /// Poll again after this delay.
    PollAfter(Duration),
    /// The deadline passed; the error states the last status, the time
    /// waited and the polls spent.
    TimedOut(WaitTimeout),
}

/// A wait for a record's final status: feed it each polled record and the
/// (caller's) clock.
///
/// ```
/// use std::time::{Duration, Instant};
/// use authenta_proto::flow::{WaitStep, Waiter};
/// use authenta_proto::PollPolicy;
/// use authenta_proto::types::{Media, MediaId, MediaStatus};
///
/// let start = Instant::now();
/// let mut waiter = Waiter::new(MediaId::new("m1"), PollPolicy::default(), start);
/// let mut media: Media = serde_json::from_str(r#"{"mid":"m1","name":"n","type":"Image",
///     "status":"UPLOADED","modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z"}"#).unwrap();
/// assert!(matches!(waiter.on_media(media.clone(), start), WaitStep::PollAfter(_)));
/// media.status = MediaStatus::Processed;
/// assert!(matches!(waiter.on_media(media, start + Duration::from_secs(1)), WaitStep::Done(_)));
/// ```
#[derive(Clone, Debug)]
pub struct Waiter {
    mid: MediaId,
    policy: PollPolicy,
    started: Instant,
    polls: u32,
    last_status: Option<MediaStatus>,
}

impl Waiter {
    /// A wait for `mid` beginning at `now`.
    pub fn new(mid: MediaId, policy: PollPolicy, now: Instant) -> Self {
        Waiter {
            mid,
            policy,
            started: now,
            polls: 0,
            last_status: None,
        }
    }

    /// The record waited for.
    pub fn mid(&self) -> &MediaId {
        &self.mid
    }

    /// Takes in a polled record, read at `now`.
    pub fn on_media(&mut self, media: Media, now: Instant) -> WaitStep {
        self.polls += 1;
        tracing::debug!(mid = %self.mid, status = %media.status, polls = self.polls, "polled");
        if media.status.is_final() {
            return WaitStep::Done(Box::new(media));
        }
        self.last_status = Some(media.status);
        let elapsed = now.saturating_duration_since(self.started);
        match self.policy.next(self.polls, elapsed) {
            PollStep::PollAfter(delay) => WaitStep::PollAfter(delay),
            PollStep::GiveUp => WaitStep::TimedOut(WaitTimeout {
                mid: self.mid.clone(),
                last_status: self.last_status.clone(),
                waited: elapsed,
                polls: self.polls,
            }),
        }
    }
}

/// The message for a listing stopped by an inconsistent page.
pub(crate) fn inconsistent_page(e: crate::paginate::InconsistentPage) -> Error {
    Error::Decode(Box::new(crate::error::DecodeError {
        status: StatusCode::OK,
        operation: Some(Operation::ListMedia),
        reason: e.to_string(),
        snippet: String::new(),
        mid: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::{MEDIA, config, json};
    use crate::ops::{CreateMedia, DeleteMedia, GetMedia};
    use authenta_types::{CreateMediaRequest, ModelType};

    type Out<T> = Step<Result<T, Failure<io::Error>>>;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn empty(status: u16) -> Response<Vec<u8>> {
        Response::builder().status(status).body(Vec::new()).unwrap()
    }

    #[test]
    fn a_transport_failure_names_its_root_cause() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let failure: Failure<Outer> = Failure::Transport {
            error: Outer(io::Error::other("invalid peer certificate: UnknownIssuer")),
            kind: TransportErrorKind::Connect,
            attempts: 1,
            operation: Some(Operation::GetMedia),
            mid: None,
        };
        assert_eq!(
            failure.to_string(),
            "cannot connect on GET /media/{mid}: error sending request: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn get_retries_5xx_then_succeeds() {
        let op = GetMedia::new(MediaId::new("m"));
        let mut a = Attempts::for_request(RetryPolicy::default(), &op);
        a.start();
        let step: Out<Media> = a.on_response(&op, &config(), empty(500), now(), 0);
        assert!(matches!(step, Step::Retry(_)));
        a.start();
        let step: Out<Media> = a.on_response(&op, &config(), json(200, MEDIA), now(), 0);
        assert!(matches!(step, Step::Done(Ok(_))));
    }

    #[test]
    fn get_gives_up_after_max_attempts_with_the_last_error() {
        let op = GetMedia::new(MediaId::new("m"));
        let mut a = Attempts::for_request(RetryPolicy::default(), &op);
        for _ in 0..3 {
            a.start();
            assert!(matches!(
                a.on_response::<_, io::Error>(&op, &config(), empty(503), now(), 0),
                Step::Retry(_)
            ));
        }
        a.start();
        let Step::Done(Err(failure)) =
            a.on_response::<_, io::Error>(&op, &config(), empty(503), now(), 0)
        else {
            panic!("the fourth 503 is final")
        };
        assert_eq!(failure.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(failure.mid().unwrap().as_str(), "m");
    }

    #[test]
    fn create_is_not_retried_once_it_may_have_reached_the_server() {
        let op = CreateMedia::new(CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 3,
            model_type: ModelType::Ac1,
        })
        .unwrap();
        let mut a = Attempts::for_request(RetryPolicy::default(), &op);
        a.start();
        assert!(matches!(
            a.on_response::<_, io::Error>(&op, &config(), empty(500), now(), 0),
            Step::Done(Err(_))
        ));
        let mut a = Attempts::for_request(RetryPolicy::default(), &op);
        a.start();
        let step: Out<()> =
            a.on_transport_error(io::Error::other("t"), TransportErrorKind::Timeout, 0);
        assert!(matches!(
            step,
            Step::Done(Err(Failure::Transport { attempts: 1, .. }))
        ));
        let step: Out<()> =
            a.on_transport_error(io::Error::other("c"), TransportErrorKind::Connect, 0);
        assert!(
            matches!(step, Step::Retry(_)),
            "a refused connection never reached the server"
        );
    }

    #[test]
    fn documented_codes_are_never_retried() {
        let op = GetMedia::new(MediaId::new("m"));
        for (code, status) in [
            ("IAM001", 401),
            ("IAM002", 403),
            ("AA001", 429),
            ("U007", 402),
        ] {
            let mut a = Attempts::for_request(RetryPolicy::default(), &op);
            a.start();
            let body = format!(r#"{{"code":"{code}","type":"CLIENT_ERROR","message":"m"}}"#);
            let Step::Done(Err(f)) =
                a.on_response::<_, io::Error>(&op, &config(), json(status, &body), now(), 0)
            else {
                panic!("{code} is final")
            };
            assert_eq!(f.code().unwrap().as_str(), code);
        }
    }

    #[test]
    fn a_retried_delete_finding_nothing_succeeded() {
        let op = DeleteMedia::new(MediaId::new("m"));
        let mut a = Attempts::for_request(RetryPolicy::default(), &op);
        a.start();
        let step: Out<()> = a.on_transport_error(
            io::Error::other("reset"),
            TransportErrorKind::Interrupted,
            0,
        );
        assert!(matches!(step, Step::Retry(_)));
        a.start();
        let gone = json(
            404,
            r#"{"code":"EMU404","type":"CLIENT_ERROR","message":"Not found"}"#,
        );
        assert!(matches!(
            a.on_response::<_, io::Error>(&op, &config(), gone, now(), 0),
            Step::Done(Ok(()))
        ));
    }

    #[test]
    fn uploads_retry_only_a_reopenable_body() {
        let mut one_shot = Attempts::for_upload(RetryPolicy::default(), false, None);
        one_shot.start();
        assert!(matches!(
            one_shot.on_upload_response::<io::Error>(empty(503), now(), 0),
            Step::Done(Err(_))
        ));
        let mut file = Attempts::for_upload(RetryPolicy::default(), true, Some(MediaId::new("m")));
        file.start();
        assert!(matches!(
            file.on_upload_response::<io::Error>(empty(503), now(), 0),
            Step::Retry(_)
        ));
        file.start();
        let forbidden = Response::builder()
            .status(403)
            .body(b"<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>".to_vec())
            .unwrap();
        let Step::Done(Err(f)) = file.on_upload_response::<io::Error>(forbidden, now(), 0) else {
            panic!()
        };
        assert_eq!(f.mid().unwrap().as_str(), "m");
        assert_eq!(
            f.class(),
            ErrorClass::InvalidInput,
            "an S3 403 is not a key permission"
        );
        assert!(
            f.to_string().contains("exactly the declared Content-Type"),
            "{f}"
        );
    }

    #[test]
    fn waiter_times_out_with_last_status_time_and_polls() {
        let start = Instant::now();
        let policy = PollPolicy {
            first_delay: Duration::from_secs(1),
            growth: 2.0,
            max_delay: Duration::from_secs(4),
            max_wait: Duration::from_secs(10),
        };
        let mut waiter = Waiter::new(MediaId::new("m"), policy, start);
        let mut media: Media = serde_json::from_str(MEDIA).unwrap();
        media.status = MediaStatus::Uploaded;
        // A fake clock: advance by exactly the delays asked for.
        let mut clock = start;
        let mut delays = Vec::new();
        loop {
            match waiter.on_media(media.clone(), clock) {
                WaitStep::PollAfter(d) => {
                    delays.push(d.as_secs());
                    clock += d;
                }
                WaitStep::TimedOut(t) => {
                    assert_eq!(t.last_status, Some(MediaStatus::Uploaded));
                    assert_eq!(t.waited, Duration::from_secs(10));
                    assert_eq!(t.polls, 5);
                    break;
                }
                WaitStep::Done(_) => panic!("never final"),
            }
        }
        assert_eq!(delays, [1, 2, 4, 3], "the last delay lands on the deadline");
    }
}
