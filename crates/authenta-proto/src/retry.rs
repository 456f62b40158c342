//! Retries: a classifier (is this failure worth another try?) and a
//! strategy (may this request be replayed, and after how long?), after
//! smithy-rs. Randomness comes in as an argument, so every path is tested
//! without sleeping.

use std::time::Duration;

use authenta_types::RetryAdvice;
use http::StatusCode;

use crate::error::{Error, ProtocolError};
use crate::wire::TransportErrorKind;

/// What the classifier says about one outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAction {
    /// Nothing went wrong (or nothing is known): no retry.
    NoActionIndicated,
    /// Another try may succeed.
    RetryIndicated(RetryReason),
    /// Another try would get the same answer (or do harm).
    RetryForbidden,
}

impl RetryAction {
    /// Whether this is [`RetryAction::RetryIndicated`].
    pub fn is_retry(&self) -> bool {
        matches!(self, RetryAction::RetryIndicated(_))
    }
}

/// Why a retry may succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// The connection could not be made: the request never left.
    Connect,
    /// The request timed out; it may have reached the server.
    Timeout,
    /// The connection broke (reset, truncated answer); the request may have
    /// reached the server.
    Transport,
    /// The server failed with this status (500, 502, 503, 504).
    ServerError(u16),
    /// The request was throttled (a 429 that is not `AA001`): refused, not
    /// processed.
    Throttled,
}

/// Classifies an HTTP status alone.
pub fn classify_status(status: StatusCode) -> RetryAction {
    match status.as_u16() {
        200..=399 => RetryAction::NoActionIndicated,
        429 => RetryAction::RetryIndicated(RetryReason::Throttled),
        s @ (500 | 502 | 503 | 504) => RetryAction::RetryIndicated(RetryReason::ServerError(s)),
        _ => RetryAction::RetryForbidden,
    }
}

/// Classifies a protocol error. A code the spec's error table marks
/// `never` (`IAM001`, `IAM002`, `AA001`, `U007`, `INVALID_API_KEY`,
/// `FORBIDDEN`, `INSUFFICIENT_BALANCE`, ...) is never retried whatever its
/// status, and neither is a 402 (credits); otherwise the status decides.
/// Validation, configuration, expiry, decoding and wait timeouts are never
/// retried.
pub fn classify_error(error: &ProtocolError) -> RetryAction {
    match error {
        ProtocolError::Api(e) => match e.body.code.info() {
            Some(info) if info.retry == RetryAdvice::Never => RetryAction::RetryForbidden,
            _ => classify_status(e.status),
        },
        ProtocolError::Http(e) => classify_status(e.status),
        // S3 asks for a retry with RequestTimeout (400) and SlowDown (503).
        ProtocolError::Upload(e) if e.code == "RequestTimeout" => {
            RetryAction::RetryIndicated(RetryReason::Transport)
        }
        ProtocolError::Upload(e) => classify_status(e.status),
        _ => RetryAction::RetryForbidden,
    }
}

/// Classifies a transport failure: all may succeed on another try.
pub fn classify_transport(kind: TransportErrorKind) -> RetryAction {
    RetryAction::RetryIndicated(match kind {
        TransportErrorKind::Connect => RetryReason::Connect,
        TransportErrorKind::Timeout => RetryReason::Timeout,
        TransportErrorKind::Interrupted | TransportErrorKind::Other => RetryReason::Transport,
    })
}

/// The retry classifier's answers, asked of the errors themselves.
impl ProtocolError {
    /// Whether the same request may succeed if sent again. Mirrors the retry
    /// classifier ([`classify_error`]).
    pub fn is_retryable(&self) -> bool {
        classify_error(self).is_retry()
    }
}

impl Error {
    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Proto(e) => e.is_retryable(),
            Error::Transport { kind, .. } => classify_transport(*kind).is_retry(),
            Error::Io { .. } => false,
        }
    }
}

/// Whether a request may be sent again once it may have reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Idempotent (`GET`, `DELETE`): always.
    Idempotent,
    /// Not idempotent (`POST /media`): only when the server cannot have
    /// acted on it (the connection failed, or it was throttled). A retry
    /// after a timeout or a 5xx could create a second record and spend
    /// quota twice.
    NotIdempotent,
    /// The upload `PUT`: only when its body can be reopened (a file can, a
    /// one-shot stream cannot).
    Upload {
        /// Whether the body can be produced again from the start.
        reopenable: bool,
    },
}

impl Replay {
    /// How an API operation may be replayed: by its method, but a job's
    /// cancel (a `POST` whose repeat changes nothing: a job cancelled
    /// stays so, and a retry that finds it cancelled has succeeded) is
    /// idempotent.
    pub fn of(operation: authenta_types::Operation) -> Replay {
        if operation == authenta_types::Operation::CancelJob {
            return Replay::Idempotent;
        }
        match operation.route().method {
            "GET" | "DELETE" | "HEAD" | "PUT" => Replay::Idempotent,
            _ => Replay::NotIdempotent,
        }
    }

    /// Whether a request of this kind may be sent again after failing for
    /// `reason`.
    pub fn allows(self, reason: RetryReason) -> bool {
        match self {
            Replay::Idempotent => true,
            Replay::NotIdempotent => {
                matches!(reason, RetryReason::Connect | RetryReason::Throttled)
            }
            Replay::Upload { reopenable } => reopenable,
        }
    }
}

/// What the strategy decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Send again after this delay.
    RetryAfter(Duration),
    /// Give up and report the failure.
    GiveUp,
}

/// Exponential backoff with full jitter, a cap, a maximum number of
/// attempts, and the server's `Retry-After` honoured.
///
/// ```
/// use std::time::Duration;
/// use authenta_proto::{retry::Replay, retry::RetryAction, retry::RetryDecision, RetryPolicy, retry::RetryReason};
///
/// let policy = RetryPolicy::default();
/// let action = RetryAction::RetryIndicated(RetryReason::ServerError(503));
/// // A GET may be replayed; `random` picks the point in the jitter window.
/// assert!(matches!(
///     policy.decide(action, Replay::Idempotent, 1, None, u64::MAX / 2),
///     RetryDecision::RetryAfter(_)
/// ));
/// // POST /media may not: the server may have created the record.
/// assert_eq!(policy.decide(action, Replay::NotIdempotent, 1, None, 0), RetryDecision::GiveUp);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many attempts in all, the first included (1 turns retries off).
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; it doubles per attempt.
    pub initial_backoff: Duration,
    /// The most any backoff ceiling grows to.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a server asking for more gets no
    /// retry (the error is reported, with its `Retry-After`).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts; backoff ceilings 250 ms, 500 ms, 1 s, ... up to 8 s;
    /// `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff after failed attempt number `attempt` (1-based): uniform
    /// in `[0, min(max_backoff, initial_backoff × 2^(attempt-1))]`, the
    /// point chosen by `random` (full jitter).
    pub fn backoff(&self, attempt: u32, random: u64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let fraction = random as f64 / u64::MAX as f64;
        ceiling.mul_f64(fraction)
    }

    /// Decides what to do after failed attempt number `attempt` (1-based).
    pub fn decide(
        &self,
        action: RetryAction,
        replay: Replay,
        attempt: u32,
        retry_after: Option<Duration>,
        random: u64,
    ) -> RetryDecision {
        let RetryAction::RetryIndicated(reason) = action else {
            return RetryDecision::GiveUp;
        };
        if attempt >= self.max_attempts || !replay.allows(reason) {
            return RetryDecision::GiveUp;
        }
        let backoff = self.backoff(attempt, random);
        match retry_after {
            Some(wait) if wait > self.max_retry_after => RetryDecision::GiveUp,
            Some(wait) => RetryDecision::RetryAfter(wait.max(backoff)),
            None => RetryDecision::RetryAfter(backoff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, HttpError, UploadError};
    use crate::wire::RetryAfter;
    use authenta_types::{ApiGeneration, ErrorBody, ErrorCode};
    use std::time::SystemTime;

    fn api(code: &str, status: u16) -> ProtocolError {
        ProtocolError::Api(Box::new(ApiError {
            status: StatusCode::from_u16(status).unwrap(),
            body: ErrorBody::new(ErrorCode::from(code), "m", status, ApiGeneration::First),
            operation: None,
            mid: None,
            retry_after: None,
        }))
    }

    fn http(status: u16) -> ProtocolError {
        ProtocolError::Http(Box::new(HttpError {
            status: StatusCode::from_u16(status).unwrap(),
            snippet: String::new(),
            operation: None,
            mid: None,
            retry_after: None,
        }))
    }

    #[test]
    fn retryable_classes() {
        for s in [500, 502, 503, 504] {
            assert_eq!(
                classify_error(&http(s)),
                RetryAction::RetryIndicated(RetryReason::ServerError(s))
            );
        }
        assert_eq!(
            classify_error(&http(429)),
            RetryAction::RetryIndicated(RetryReason::Throttled)
        );
        assert_eq!(
            classify_error(&api("X1", 429)),
            RetryAction::RetryIndicated(RetryReason::Throttled),
            "a 429 that is not AA001"
        );
        assert_eq!(
            classify_transport(TransportErrorKind::Connect),
            RetryAction::RetryIndicated(RetryReason::Connect)
        );
        assert_eq!(
            classify_transport(TransportErrorKind::Timeout),
            RetryAction::RetryIndicated(RetryReason::Timeout)
        );
        assert_eq!(
            classify_transport(TransportErrorKind::Interrupted),
            RetryAction::RetryIndicated(RetryReason::Transport)
        );
    }

    #[test]
    fn never_retried() {
        assert_eq!(
            classify_error(&api("IAM001", 401)),
            RetryAction::RetryForbidden
        );
        assert_eq!(
            classify_error(&api("IAM002", 403)),
            RetryAction::RetryForbidden
        );
        assert_eq!(
            classify_error(&api("AA001", 429)),
            RetryAction::RetryForbidden
        );
        // U007's status is not documented: whatever it is, the code decides.
        for status in [402, 403, 500, 503] {
            assert_eq!(
                classify_error(&api("U007", status)),
                RetryAction::RetryForbidden
            );
        }
        // Generation 2's codes: never, whatever the status (a balance may
        // be topped up meanwhile, but a batch stops rather than waits).
        for (code, status) in [
            ("INVALID_API_KEY", 401),
            ("FORBIDDEN", 403),
            ("INSUFFICIENT_BALANCE", 402),
            ("INSUFFICIENT_BALANCE", 503),
        ] {
            assert_eq!(
                classify_error(&api(code, status)),
                RetryAction::RetryForbidden,
                "{code}"
            );
        }
        for s in [400, 401, 402, 403, 404, 409, 413, 422] {
            assert_eq!(classify_error(&http(s)), RetryAction::RetryForbidden, "{s}");
        }
        assert_eq!(classify_error(&http(501)), RetryAction::RetryForbidden);
        let s3 = |status: u16, code: &str| {
            ProtocolError::Upload(Box::new(UploadError {
                status: StatusCode::from_u16(status).unwrap(),
                code: code.into(),
                message: String::new(),
                mid: None,
                retry_after: None,
            }))
        };
        assert_eq!(
            classify_error(&s3(403, "SignatureDoesNotMatch")),
            RetryAction::RetryForbidden
        );
        assert_eq!(
            classify_error(&s3(403, "AccessDenied")),
            RetryAction::RetryForbidden
        );
        assert!(classify_error(&s3(503, "SlowDown")).is_retry());
        assert!(classify_error(&s3(400, "RequestTimeout")).is_retry());
    }

    #[test]
    fn what_may_be_replayed() {
        use RetryReason::*;
        for reason in [Connect, Timeout, Transport, ServerError(500), Throttled] {
            assert!(Replay::Idempotent.allows(reason));
            assert!(Replay::Upload { reopenable: true }.allows(reason));
            assert!(!Replay::Upload { reopenable: false }.allows(reason));
        }
        assert!(Replay::NotIdempotent.allows(Connect));
        assert!(Replay::NotIdempotent.allows(Throttled));
        assert!(!Replay::NotIdempotent.allows(Timeout));
        assert!(!Replay::NotIdempotent.allows(Transport));
        assert!(!Replay::NotIdempotent.allows(ServerError(500)));
    }

    #[test]
    fn full_jitter_exponential_backoff_with_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(60),
        };
        assert_eq!(p.backoff(1, 0), Duration::ZERO);
        assert_eq!(p.backoff(1, u64::MAX), Duration::from_millis(100));
        assert_eq!(p.backoff(2, u64::MAX), Duration::from_millis(200));
        assert_eq!(p.backoff(3, u64::MAX), Duration::from_millis(400));
        assert_eq!(p.backoff(5, u64::MAX), Duration::from_secs(1), "capped");
        assert_eq!(
            p.backoff(60, u64::MAX),
            Duration::from_secs(1),
            "no overflow"
        );
        let half = p.backoff(3, u64::MAX / 2);
        assert!(
            half > Duration::from_millis(199) && half < Duration::from_millis(201),
            "{half:?}"
        );
    }

    #[test]
    fn attempts_run_out() {
        let p = RetryPolicy::default();
        let action = RetryAction::RetryIndicated(RetryReason::ServerError(503));
        assert!(matches!(
            p.decide(action, Replay::Idempotent, 3, None, 1),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(
            p.decide(action, Replay::Idempotent, 4, None, 1),
            RetryDecision::GiveUp
        );
        assert_eq!(
            RetryPolicy::never().decide(action, Replay::Idempotent, 1, None, 1),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(RetryAction::RetryForbidden, Replay::Idempotent, 1, None, 1),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(
                RetryAction::NoActionIndicated,
                Replay::Idempotent,
                1,
                None,
                1
            ),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RetryPolicy::default();
        let action = RetryAction::RetryIndicated(RetryReason::Throttled);
        assert_eq!(
            p.decide(
                action,
                Replay::Idempotent,
                1,
                Some(Duration::from_secs(3)),
                0
            ),
            RetryDecision::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            p.decide(
                action,
                Replay::Idempotent,
                1,
                Some(Duration::from_secs(3600)),
                0
            ),
            RetryDecision::GiveUp,
            "a server asking for an hour is not waited on"
        );
        assert_eq!(
            RetryAfter::parse("120"),
            Some(RetryAfter::Delay(Duration::from_secs(120)))
        );
        let at = RetryAfter::parse("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(at.delay(now), Duration::from_secs(10));
        assert_eq!(at.delay(now + Duration::from_secs(100)), Duration::ZERO);
        assert_eq!(RetryAfter::parse("soon"), None);
    }
}
