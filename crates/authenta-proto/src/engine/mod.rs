//! The flow engine: every flow of the SDK (an API call with its retries,
//! an upload, a wait, create → upload → wait, a result, an artifact
//! download, a listing) is a state machine that the caller steps, after
//! quinn-proto and rustls' unbuffered API.
//!
//! A [`Flow`] is asked what to do next with [`Flow::step`], given what
//! happened to its last [`Action`] (an [`Event`]) and the [`Inputs`] of the
//! moment (the clocks and a random number). It answers with the next
//! action: send this request, send this upload head with the source's
//! bytes, stream this answer into the sink, commit or abandon the sink,
//! sleep this long, or finish with this result. Every decision and every
//! sequence is here; the I/O loops (`authenta_client::driver::blocking::run`
//! and `authenta_client::driver::nonblocking::run`) only do what they are
//! told, and are the same for every flow.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use authenta_proto::engine::{Action, Event, Flow, Inputs};
//! use authenta_proto::engine::flows::Call;
//! use authenta_proto::http::Response;
//! use authenta_proto::types::MediaId;
//! use authenta_proto::{Config, Credentials, ops::GetMedia, RetryPolicy};
//!
//! let config = Config::new(Credentials::new("id", "secret"));
//! let mut call = Call::new(GetMedia::new(MediaId::new("m1")), config, RetryPolicy::default());
//! let inputs = Inputs { now: Instant::now(), wall_clock: SystemTime::now(), random: 7 };
//! let Action::Send(request) = call.step(Event::Ready, inputs) else { panic!() };
//! assert_eq!(request.method(), "GET");
//! // The server is busy: the flow says to sleep, then sends again.
//! let busy = Response::builder().status(503).body(Vec::new()).unwrap();
//! assert!(matches!(call.step(Event::Response(busy), inputs), Action::Sleep(_)));
//! assert!(matches!(call.step(Event::Ready, inputs), Action::Send(_)));
//! ```

use std::io;
use std::time::{Duration, Instant, SystemTime};

use authenta_types::{Media, MediaId, MediaStatus, Operation};
use http::{Request, Response, StatusCode};

use crate::config::Config;
use crate::credentials::{Credentials, Refresh};
use crate::error::{BoxError, CredentialError, Error, ProtocolError, WaitTimeout};
use crate::ops::ApiRequest;
use crate::poll::{PollPolicy, PollStep};
use crate::response::{UploadReceipt, read_upload_response};
use crate::retry::{
    Replay, RetryAction, RetryDecision, RetryPolicy, classify_error, classify_transport,
};
use crate::wire::{MAX_API_RESPONSE_BYTES, TransportErrorKind};

pub mod batch;
pub mod flows;
pub mod job_batch;
pub mod jobs;
pub mod resume;

/// The moment a flow is stepped at: the caller's clocks and a fresh random
/// number. The protocol reads no clock and draws no randomness itself.
#[derive(Clone, Copy, Debug)]
pub struct Inputs {
    /// A monotonic now, for deadlines.
    pub now: Instant,
    /// The wall clock, for upload URL expiry and `Retry-After` dates.
    pub wall_clock: SystemTime,
    /// A random number, for backoff jitter.
    pub random: u64,
}

/// What a flow asks its driver to do next.
#[derive(Debug)]
#[must_use]
pub enum Action<T> {
    /// Send this request (an API call or an artifact `GET`) and read the
    /// answer's body into memory, at most
    /// [`RESPONSE_READ_LIMIT`](crate::wire::RESPONSE_READ_LIMIT)
    /// bytes. Then feed [`Event::Response`] or [`Event::Transport`].
    Send(Request<Vec<u8>>),
    /// Open the upload source from its first byte and send it, exactly
    /// `len` bytes, as the body of this head. Then feed
    /// [`Event::Response`], [`Event::Transport`] or [`Event::Source`].
    Upload {
        /// The `PUT`'s head (`Content-Type`, `Content-Length`).
        head: Request<()>,
        /// The body's length.
        len: u64,
    },
    /// Restart the sink, send this `GET`, and stream a 2xx answer's body
    /// into the sink (any other answer is read into memory). Then feed
    /// [`Event::Response`] (with [`Written`] in its extensions),
    /// [`Event::Transport`] or [`Event::Sink`].
    Download(Request<Vec<u8>>),
    /// Make the sink's bytes final. Then feed [`Event::Ready`] or
    /// [`Event::Sink`].
    Commit,
    /// Throw away the sink's bytes. Then feed [`Event::Ready`].
    Abandon,
    /// Sleep this long. Then feed [`Event::Ready`].
    Sleep(Duration),
    /// Ask the key's provider for its credentials again
    /// ([`Refresh::run`], off the async runtime's threads: it may read a
    /// file or run a command). Then feed [`Event::Credentials`].
    Refresh(Refresh),
    /// Wait for a checkpoint's save that ends later (a
    /// [`Saved::Later`](crate::options::Saved::Later)), without blocking a
    /// thread where the driver can. Then feed [`Event::Saved`].
    Await(PendingSave),
    /// The flow is over.
    Finish(Result<T, Error>),
}

/// A checkpoint's save in flight, for the driver to wait for
/// ([`Action::Await`]).
pub struct PendingSave(crate::options::SaveFuture);

impl PendingSave {
    /// The save's future.
    pub fn new(save: crate::options::SaveFuture) -> Self {
        PendingSave(save)
    }

    /// The future to wait for: its output is [`Event::Saved`]'s.
    pub fn into_future(self) -> crate::options::SaveFuture {
        self.0
    }
}

impl std::fmt::Debug for PendingSave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingSave(..)")
    }
}

impl<T> Action<T> {
    /// The same action for a flow with another output (a parent flow
    /// passing on its sub-flow's action); a finish comes back as `Err`
    /// with the sub-flow's result.
    pub fn relay<U>(self) -> Result<Action<U>, Result<T, Error>> {
        Ok(match self {
            Action::Finish(result) => return Err(result),
            Action::Send(request) => Action::Send(request),
            Action::Upload { head, len } => Action::Upload { head, len },
            Action::Download(request) => Action::Download(request),
            Action::Commit => Action::Commit,
            Action::Abandon => Action::Abandon,
            Action::Sleep(delay) => Action::Sleep(delay),
            Action::Refresh(refresh) => Action::Refresh(refresh),
            Action::Await(save) => Action::Await(save),
        })
    }
}

/// What happened to a flow's last action.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Nothing to report: the first step, or a sleep, commit or abandon
    /// that completed.
    Ready,
    /// The answer (its body in memory; empty after a streamed download).
    Response(Response<Vec<u8>>),
    /// The HTTP client failed.
    Transport {
        /// The client's error.
        error: BoxError,
        /// What kind of failure it was (see
        /// [`TransportErrorKind::of_error`]).
        kind: TransportErrorKind,
    },
    /// Opening or reading the upload source failed.
    Source(io::Error),
    /// Restarting, writing or committing the sink failed.
    Sink(io::Error),
    /// What the provider gave, after an [`Action::Refresh`].
    Credentials(Result<Credentials, CredentialError>),
    /// How the save ended, after an [`Action::Await`].
    Saved(io::Result<()>),
}

impl Event {
    /// The event of a transport failure of kind `kind`.
    pub fn transport(
        kind: TransportErrorKind,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Event {
        Event::Transport {
            error: Box::new(error),
            kind,
        }
    }
}

/// How many bytes a streamed download wrote into the sink: the driver puts
/// it in the extensions of the [`Event::Response`] that answers an
/// [`Action::Download`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written(pub u64);

/// A flow: a state machine that says what to do next.
pub trait Flow: Send {
    /// What it finishes with.
    type Output;

    /// Takes what happened to the last action (or [`Event::Ready`] to
    /// begin) and says what to do next.
    ///
    /// # Panics
    ///
    /// When fed an event its last action does not answer (see each
    /// [`Action`]'s documentation): that is a bug in the driver, not a
    /// failure of the request.
    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Self::Output>;
}

impl<F: Flow + ?Sized> Flow for Box<F> {
    type Output = F::Output;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<F::Output> {
        (**self).step(event, inputs)
    }
}

/// A flow whose API requests and artifact downloads carry a timeout of
/// their own ([`RequestTimeout`](crate::RequestTimeout)): what
/// `Client::with_options` (in `authenta-client`) runs.
#[derive(Debug)]
pub struct Timed<'a, F: ?Sized> {
    flow: &'a mut F,
    timeout: Duration,
}

impl<'a, F: Flow + ?Sized> Timed<'a, F> {
    /// `flow`, its requests timed out after `timeout`.
    pub fn new(flow: &'a mut F, timeout: Duration) -> Self {
        Timed { flow, timeout }
    }
}

impl<F: Flow + ?Sized> Flow for Timed<'_, F> {
    type Output = F::Output;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<F::Output> {
        let mut action = self.flow.step(event, inputs);
        if let Action::Send(request) | Action::Download(request) = &mut action {
            request
                .extensions_mut()
                .insert(crate::RequestTimeout(self.timeout));
        }
        action
    }
}

/// A flow's event that it did not ask for: a driver's mistake, a bug in
/// the driver (never the user's input), so it panics saying so.
#[track_caller]
pub(crate) fn unexpected<T>(event: &Event) -> Action<T> {
    panic!(
        "a driver bug: the flow was fed an event it did not ask for ({event:?}); \
         a driver must answer each action with the events its documentation names"
    )
}

/// The `tracing` span of one attempt ([`Attempts::trace`]), carried by its
/// request to the driver. A request without one is sent in no span.
#[derive(Clone, Debug)]
pub struct AttemptSpan(pub tracing::Span);

impl AttemptSpan {
    /// The span `request` carries, or a disabled one.
    pub fn of<B>(request: &Request<B>) -> tracing::Span {
        request
            .extensions()
            .get::<AttemptSpan>()
            .map_or_else(tracing::Span::none, |s| s.0.clone())
    }

    /// Records the answer: its status, and as `error.type` the status when
    /// it is an error (OpenTelemetry's rule for HTTP clients).
    pub fn answered(span: &tracing::Span, status: StatusCode) {
        span.record("http.response.status_code", status.as_u16());
        if status.is_client_error() || status.is_server_error() {
            span.record("error.type", status.as_str());
        }
    }

    /// Records a transport failure as `error.type` (`connect`, `timeout`,
    /// `interrupted`, `other`).
    pub fn failed(span: &tracing::Span, kind: TransportErrorKind) {
        let name = match kind {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Interrupted => "interrupted",
            TransportErrorKind::Other => "other",
        };
        span.record("error.type", name);
    }
}

/// What to do after one attempt.
#[derive(Debug)]
pub enum Step<T> {
    /// Stop with this result.
    Done(T),
    /// Sleep this long, then try again.
    Retry(Duration),
}

/// The attempts of one request: feed it each outcome, it says whether to
/// retry (and after how long) or stop. The flows use it for every request.
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

    /// Opens the current attempt's `tracing` span, a child of the span
    /// the flow runs in (the operation's), and hands it to the driver in
    /// `request`'s extensions ([`AttemptSpan`]): the driver sends inside it
    /// and records `http.response.status_code` or `error.type`. Its fields
    /// are OpenTelemetry's HTTP client attributes where they fit
    /// (`http.request.method`, `url.template`: the route, never the URL,
    /// whose query may be a pre-signed credential) and the project's own
    /// (`authenta.attempt`, `authenta.mid`, `authenta.quota`: the route's
    /// quota class, for API requests).
    pub fn trace<B>(&self, request: &mut Request<B>, template: &'static str) {
        let method = request.method().as_str();
        let span = tracing::info_span!(
            "authenta.attempt",
            "otel.name" = format!("{method} {template}"),
            "otel.kind" = "client",
            "http.request.method" = method,
            "url.template" = template,
            "authenta.attempt" = self.attempt,
            "authenta.mid" = tracing::field::Empty,
            "authenta.quota" = tracing::field::Empty,
            "http.response.status_code" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
        );
        if let Some(mid) = &self.mid {
            span.record("authenta.mid", mid.as_str());
        }
        if let Some(operation) = self.operation {
            span.record(
                "authenta.quota",
                format!("{:?}", operation.route().quota).to_lowercase(),
            );
        }
        request.extensions_mut().insert(AttemptSpan(span));
    }

    /// Takes in an API answer.
    pub fn on_response<Op: ApiRequest>(
        &mut self,
        op: &Op,
        config: &Config,
        response: Response<Vec<u8>>,
        inputs: Inputs,
    ) -> Step<Result<Op::Output, Error>> {
        let read = check_size(response, Some(Op::OPERATION), op.mid())
            .and_then(|response| op.read(config, response));
        match read {
            Ok(output) => Step::Done(Ok(output)),
            Err(error) => match op.recover(&error, self.attempt) {
                Some(output) => Step::Done(Ok(output)),
                None => self.on_error(error, inputs),
            },
        }
    }

    /// Takes in S3's answer to an upload.
    pub fn on_upload_response(
        &mut self,
        response: Response<Vec<u8>>,
        inputs: Inputs,
    ) -> Step<Result<UploadReceipt, Error>> {
        let read = check_size(response, None, self.mid.as_ref())
            .and_then(|response| read_upload_response(&response, self.mid.as_ref()));
        match read {
            Ok(receipt) => Step::Done(Ok(receipt)),
            Err(error) => self.on_error(error, inputs),
        }
    }

    /// Takes in a protocol error.
    pub fn on_error<T>(&mut self, error: ProtocolError, inputs: Inputs) -> Step<Result<T, Error>> {
        let action = classify_error(&error);
        let retry_after = error.retry_after().map(|r| r.delay(inputs.wall_clock));
        match self.decide(action, retry_after, inputs.random) {
            Some(delay) => {
                tracing::warn!(attempt = self.attempt, status = ?error.status(), code = ?error.code(), delay_ms = delay.as_millis() as u64, "retrying after an error answer");
                Step::Retry(delay)
            }
            None => {
                let error = match &self.mid {
                    Some(mid) => error.with_mid(mid),
                    None => error,
                };
                Step::Done(Err(Error::Proto(error)))
            }
        }
    }

    /// Takes in a transport failure of kind `kind`.
    pub fn on_transport_error<T>(
        &mut self,
        error: BoxError,
        kind: TransportErrorKind,
        inputs: Inputs,
    ) -> Step<Result<T, Error>> {
        match self.decide(classify_transport(kind), None, inputs.random) {
            Some(delay) => {
                tracing::warn!(
                    attempt = self.attempt,
                    ?kind,
                    delay_ms = delay.as_millis() as u64,
                    "retrying after a transport failure"
                );
                Step::Retry(delay)
            }
            None => Step::Done(Err(Error::Transport {
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

/// The length rule, the same whatever the transport: an answer whose body
/// (in memory, or [`Written`] into a download's sink) is shorter than its
/// `Content-Length` becomes a broken connection
/// ([`TransportErrorKind::Interrupted`], [`ShortBody`](crate::ShortBody)),
/// so it is retried where its request may be and never read as whole. A
/// body cut at the read limit is left to the body cap.
pub(crate) fn length_rule(event: Event) -> Event {
    let Event::Response(response) = &event else {
        return event;
    };
    let status = response.status().as_u16();
    if status < 200 || status == 204 || status == 304 {
        return event;
    }
    let Some(declared) = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return event;
    };
    let in_memory = response.body().len() as u64;
    let received = match response.extensions().get::<Written>() {
        Some(written) if in_memory == 0 => written.0,
        _ => in_memory,
    };
    if received >= declared || in_memory >= crate::wire::RESPONSE_READ_LIMIT {
        return event;
    }
    tracing::warn!(
        declared,
        received,
        "an answer shorter than its Content-Length"
    );
    Event::transport(
        TransportErrorKind::Interrupted,
        crate::wire::ShortBody { declared, received },
    )
}

/// The body cap, the same whatever the transport: an answer larger than
/// [`MAX_API_RESPONSE_BYTES`] is not one the API or S3 sends, and is
/// refused (a decode error of the 2xx or the error answer it came with;
/// never retried, since it would come back as large).
pub(crate) fn check_size(
    response: Response<Vec<u8>>,
    operation: Option<Operation>,
    mid: Option<&MediaId>,
) -> Result<Response<Vec<u8>>, ProtocolError> {
    if response.body().len() as u64 <= MAX_API_RESPONSE_BYTES {
        return Ok(response);
    }
    Err(ProtocolError::Decode(Box::new(crate::error::DecodeError {
        status: response.status(),
        operation,
        reason: format!(
            "the answer is larger than {MAX_API_RESPONSE_BYTES} bytes, more than the API or S3 sends"
        ),
        snippet: crate::response::snippet(&response.body()[..64], None),
        mid: mid.cloned(),
    })))
}

/// The poll rule after a failed poll, the same for one wait and a batch: a
/// transient failure ([`Error::is_retryable`]) with the deadline not
/// passed polls again after the schedule's next delay (the `polls` made,
/// `elapsed` since the wait began) or the server's `Retry-After`, capped at
/// the policy's `max_delay` (a server asking for a day does not hold the
/// wait that long) and at the deadline. `None`: the failure ends the wait.
pub(crate) fn poll_again_after(
    failure: &Error,
    policy: &PollPolicy,
    polls: u32,
    elapsed: Duration,
    wall_clock: SystemTime,
) -> Option<Duration> {
    if !failure.is_retryable() {
        return None;
    }
    let PollStep::PollAfter(delay) = policy.next(polls, elapsed) else {
        return None;
    };
    let asked = failure
        .as_proto()
        .and_then(ProtocolError::retry_after)
        .map(|r| r.delay(wall_clock));
    let left = policy.max_wait.saturating_sub(elapsed);
    Some(
        asked
            .map_or(delay, |asked| asked.max(delay))
            .min(policy.max_delay)
            .min(left),
    )
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
/// use authenta_proto::engine::{WaitStep, Waiter};
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
    /// Polls of the schedule skipped (the one right after an upload).
    skipped: u32,
    /// Polls that failed transiently (polled again later).
    failures: u32,
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
            skipped: 0,
            failures: 0,
            last_status: None,
        }
    }

    /// A wait for `mid` whose file was uploaded at `now`: the schedule's
    /// first poll (which would find the record just `UPLOADED`) is skipped,
    /// and the first poll comes after the policy's first delay (returned).
    pub fn after_upload(mid: MediaId, policy: PollPolicy, now: Instant) -> (Self, Duration) {
        let mut waiter = Waiter::new(mid, policy, now);
        waiter.skipped = 1;
        (waiter, policy.first_delay.min(policy.max_wait))
    }

    /// The record waited for.
    pub fn mid(&self) -> &MediaId {
        &self.mid
    }

    /// Takes in a poll that failed at `now` (after its own retries): a
    /// transient failure (a 5xx, a throttle, a broken or timed-out
    /// connection: [`Error::is_retryable`]) within the wait's deadline
    /// is a reason to poll again later, after the schedule's next delay or
    /// the server's `Retry-After` (capped at the poll policy's `max_delay`,
    /// and never past the deadline, where one last poll is made). `None` when the failure ends
    /// the wait: it is not transient, or the deadline has passed.
    pub fn on_failure(
        &mut self,
        failure: &Error,
        wall_clock: SystemTime,
        now: Instant,
    ) -> Option<Duration> {
        let delay = poll_again_after(
            failure,
            &self.policy,
            self.polls + self.skipped + 1,
            now.saturating_duration_since(self.started),
            wall_clock,
        )?;
        self.failures += 1;
        tracing::warn!(mid = %self.mid, failures = self.failures, delay_ms = delay.as_millis() as u64, "a poll failed: polling again later ({failure})");
        Some(delay)
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
        match self.policy.next(self.polls + self.skipped, elapsed) {
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
pub(crate) fn inconsistent_page(e: crate::paginate::InconsistentPage) -> ProtocolError {
    ProtocolError::Decode(Box::new(crate::error::DecodeError {
        status: StatusCode::OK,
        operation: Some(Operation::ListMedia),
        reason: e.to_string(),
        snippet: String::new(),
        mid: None,
    }))
}

/// The batch stop rule: once an item fails in a way every other item would
/// too (configuration, credentials, permission, quota, credits:
/// [`ErrorClass::affects_every_request`](crate::ErrorClass::affects_every_request)),
/// a batch starts no further item. Used by `process_many` and the
/// `authenta process` command.
///
/// ```
/// use authenta_proto::engine::BatchStop;
/// use authenta_proto::{ProtocolError, Error};
///
/// let mut stop = BatchStop::default();
/// assert!(stop.refusal().is_none());
/// stop.on_result::<()>(&Ok(()));
/// let quota: Error = authenta_proto::ConfigError::MissingVariable("AUTHENTA_CLIENT_ID").into();
/// stop.on_result::<()>(&Err(quota));
/// let refusal = stop.refusal().unwrap();
/// assert!(matches!(refusal.as_proto(), Some(ProtocolError::Stopped(_))));
/// ```
#[derive(Clone, Debug, Default)]
pub struct BatchStop {
    cause: Option<crate::error::BatchStopped>,
}

impl BatchStop {
    /// Takes in an item's outcome.
    pub fn on_result<T>(&mut self, result: &Result<T, Error>) {
        if let Err(failure) = result
            && self.cause.is_none()
            && failure.class().affects_every_request()
            && !matches!(failure.as_proto(), Some(ProtocolError::Stopped(_)))
        {
            self.cause = Some(crate::error::BatchStopped {
                class: failure.class(),
                cause: failure.to_string(),
            });
        }
    }

    /// Whether the batch has stopped.
    pub fn is_stopped(&self) -> bool {
        self.cause.is_some()
    }

    /// The error for an item not started, once the batch has stopped.
    pub fn refusal(&self) -> Option<Error> {
        self.cause
            .clone()
            .map(|cause| Error::Proto(ProtocolError::Stopped(cause)))
    }

    /// [`BatchStop::refusal`] of a shared rule.
    pub fn check(shared: &std::sync::Mutex<BatchStop>) -> Option<Error> {
        shared.lock().unwrap_or_else(|e| e.into_inner()).refusal()
    }

    /// [`BatchStop::on_result`] on a shared rule.
    pub fn record<T>(shared: &std::sync::Mutex<BatchStop>, result: &Result<T, Error>) {
        shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .on_result(result);
    }
}
