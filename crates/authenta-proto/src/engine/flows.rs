//! The SDK's flows, each a [`Flow`]: written once here, run by any driver.
//!
//! | flow | what it does | finishes with |
//! |---|---|---|
//! | [`Call`] | one API operation with its retries | the operation's output |
//! | [`UploadTo`] | the `PUT` to an upload target, retried only from a reopenable source | [`UploadReceipt`] |
//! | [`Upload`] | create the record of a checked file, then [`UploadTo`] | [`Uploaded`] |
//! | [`Wait`] | poll until the record is final | [`Media`] |
//! | [`Process`] | [`Upload`], then [`Wait`] | [`Media`] |
//! | [`FetchResult`] | read a record's `resultURL` document | `Option<ResultDocument>` |
//! | [`Download`] | stream an artifact into a sink, committed only when whole | `Option<u64>` |
//! | [`ListPages`] | the next page of every record (run it again for the next) | `Option<Vec<Media>>` |
//! | [`ReadCredentials`] | the key's credentials, its provider read first if it was not yet | [`Credentials`] |

use std::sync::Arc;

use authenta_types::{
    CreateMediaRequest, CreatedMedia, ListQuery, Media, MediaId, ModelType, ResultDocument,
};
use http::HeaderValue;
use http::header::USER_AGENT;

use super::{
    Action, Attempts, Event, Flow, Inputs, PendingSave, Step, WaitStep, Waiter, Written,
    check_size, inconsistent_page, length_rule, unexpected,
};
use crate::config::Config;
use crate::credentials::{Credentials, KeyGeneration};
use crate::error::{Error, LocalIo, ProtocolError, ValidationError};
use crate::ops::{ApiRequest, CreateMedia, GetMedia, ListMedia};
use crate::options::{Checkpoint, CheckpointFn, Saved};
use crate::paginate::ListCursor;
use crate::poll::PollPolicy;
use crate::response::{UploadReceipt, read_artifact_response};
use crate::retry::{Replay, RetryPolicy};
use crate::upload::{UploadTarget, artifact_request, timestamp};
use crate::validate::MediaFile;

/// Feeds `event` to a sub-flow: `Err` with its result when it finished,
/// else the action to pass on.
fn relay<F: Flow, U>(
    flow: &mut F,
    event: Event,
    inputs: Inputs,
) -> Result<Action<U>, Result<F::Output, Error>> {
    flow.step(event, inputs).relay()
}

fn after<T>(step: Step<Result<T, Error>>) -> Action<T> {
    match step {
        Step::Done(result) => Action::Finish(result),
        Step::Retry(delay) => Action::Sleep(delay),
    }
}

/// One API operation with its retries: a `GET` or `DELETE` is sent again
/// after a 5xx, a throttle or a broken connection, a `POST /media` only
/// when it cannot have reached the server.
///
/// It also keeps the key fresh. A key built without reading its provider
/// ([`Config::with_unread_provider`]) is read first (one [`Action::Refresh`]:
/// [`Refresh::is_first_read`](crate::Refresh::is_first_read)); a failure
/// to read it is the call's error. Before its first attempt, when the key has
/// a provider, it asks whether the credentials changed, and for them if so
/// (one [`Action::Refresh`] that only checks: [`Refresh::is_check`](crate::Refresh::is_check)). After an `IAM001` or `INVALID_API_KEY` (refused
/// at the API's first check, before anything was created or spent) it asks the provider again;
/// if the credentials it gives differ from the ones the refused request
/// carried, the request is sent once more (even a `POST /media`), and never
/// more than once; the same credentials mean the refusal stands. When
/// another flow of the client already replaced the refused credentials, the
/// request is sent again with those, without asking.
#[derive(Debug)]
pub struct Call<Op> {
    op: Op,
    config: Config,
    attempts: Attempts,
    renewal: Renewal,
    /// The key generation the last request was built with.
    sent_with: u64,
}

/// Where a call is in keeping its key fresh.
#[derive(Debug)]
enum Renewal {
    /// The provider was not asked (or its answer was taken in).
    Idle,
    /// Reading an unread key's provider: the request needs what it gives.
    FirstRead,
    /// Asked whether the credentials changed (and for them if so); the
    /// request goes out next whatever it answers.
    Checking,
    /// Asked after a refusal of the credentials: the refusal stands unless
    /// the credentials change.
    AfterRefusal(Error),
    /// Sent again after a refusal of the credentials: a second refusal
    /// stands.
    Resent,
}

impl<Op: ApiRequest> Call<Op> {
    /// The call of `op` with `config`'s credentials, retried on `retry`.
    pub fn new(op: Op, config: Config, retry: RetryPolicy) -> Self {
        let attempts = Attempts::for_request(retry, &op);
        Call {
            op,
            config,
            attempts,
            renewal: Renewal::Idle,
            sent_with: 0,
        }
    }

    /// Builds the request (a new attempt, or the same one sent again with
    /// new credentials).
    fn send(&mut self, new_attempt: bool) -> Action<Op::Output> {
        let attempt = match new_attempt {
            true => self.attempts.start(),
            false => self.attempts.attempt(),
        };
        let route = Op::OPERATION.route();
        tracing::debug!(method = route.method, route = route.path, mid = ?self.op.mid(), attempt, "sending");
        match self.op.build(&self.config) {
            Ok(mut request) => {
                self.attempts.trace(&mut request, route.path);
                self.sent_with = request
                    .extensions()
                    .get::<KeyGeneration>()
                    .map_or(0, |g| g.0);
                Action::Send(request)
            }
            Err(e) => Action::Finish(Err(e.into())),
        }
    }

    /// After an answer: a refusal of the credentials in use (`IAM001`,
    /// `INVALID_API_KEY`), not yet sent again, with a provider to ask, turns into a refresh.
    fn after_answer(&mut self, step: Step<Result<Op::Output, Error>>) -> Action<Op::Output> {
        // `IAM001` or `INVALID_API_KEY`: the spec's table classes both as
        // refused credentials.
        let refused = matches!(&step, Step::Done(Err(f)) if f.as_proto().is_some_and(crate::ProtocolError::is_credentials_refused));
        if !refused || matches!(self.renewal, Renewal::Resent) {
            return after(step);
        }
        let key = self.config.key();
        if key.generation() != self.sent_with {
            tracing::info!(
                "credentials refused, but already replaced: sending again with the new ones"
            );
            self.renewal = Renewal::Resent;
            return self.send(false);
        }
        match (key.refresh(), step) {
            (Some(refresh), Step::Done(Err(failure))) => {
                tracing::info!(provider = ?refresh, "credentials refused: asking the key's provider for its credentials again");
                self.renewal = Renewal::AfterRefusal(failure);
                Action::Refresh(refresh)
            }
            (_, step) => after(step),
        }
    }

    /// Takes in what the provider gave.
    fn on_credentials(
        &mut self,
        given: Result<crate::credentials::Credentials, crate::error::CredentialError>,
    ) -> Action<Op::Output> {
        let offered = given
            .map_err(crate::error::ConfigError::Credentials)
            .and_then(|credentials| self.config.key().offer(credentials));
        match std::mem::replace(&mut self.renewal, Renewal::Idle) {
            Renewal::FirstRead => match offered {
                Ok(_) => self.send(true),
                Err(e) => Action::Finish(Err(ProtocolError::Config(e).into())),
            },
            Renewal::Checking => {
                if let Err(e) = offered {
                    tracing::warn!("{e}; sending with the credentials in use");
                }
                self.send(true)
            }
            Renewal::AfterRefusal(refusal) => match offered {
                Ok(generation) if generation != self.sent_with => {
                    tracing::info!(
                        "the provider gave new credentials: sending the refused request once more"
                    );
                    self.renewal = Renewal::Resent;
                    self.send(false)
                }
                Ok(_) => {
                    tracing::info!("the provider gave the same credentials: the refusal stands");
                    Action::Finish(Err(refusal))
                }
                Err(e) => Action::Finish(Err(ProtocolError::Config(e).into())),
            },
            _ => panic!("a driver bug: the flow was fed credentials it did not ask for"),
        }
    }
}

impl<Op> Flow for Call<Op>
where
    Op: ApiRequest + Send,
    Op::Output: Send,
{
    type Output = Op::Output;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Op::Output> {
        let step = match length_rule(event) {
            Event::Ready => {
                // Reading the provider, or whether the credentials changed,
                // is I/O (a command, a variable, a file's metadata): the
                // driver asks, never the flow.
                if self.attempts.attempt() == 0 && matches!(self.renewal, Renewal::Idle) {
                    if let Some(first) = self.config.first_read() {
                        self.renewal = Renewal::FirstRead;
                        return Action::Refresh(first);
                    }
                    if let Some(check) = self.config.key().check() {
                        self.renewal = Renewal::Checking;
                        return Action::Refresh(check);
                    }
                }
                return self.send(true);
            }
            Event::Credentials(given) => return self.on_credentials(given),
            Event::Response(response) => {
                self.config
                    .key()
                    .record(Op::OPERATION.route().quota, &response);
                let step = self
                    .attempts
                    .on_response(&self.op, &self.config, response, inputs);
                return self.after_answer(step);
            }
            Event::Transport { error, kind } => {
                self.attempts.on_transport_error(error, kind, inputs)
            }
            other => return unexpected(&other),
        };
        after(step)
    }
}

/// The credentials requests are built with: those in use, or, for a key
/// not read yet ([`Config::with_unread_provider`]), what its provider
/// gives (one [`Action::Refresh`]; its failure is the flow's error). For a
/// program that needs the key before its first call (to name the account,
/// say).
#[derive(Debug)]
pub struct ReadCredentials {
    config: Config,
}

impl ReadCredentials {
    /// The credentials of `config`'s key.
    pub fn new(config: Config) -> Self {
        ReadCredentials { config }
    }

    fn in_use(&self) -> Action<Credentials> {
        let credentials = self.config.credentials();
        Action::Finish(Ok(
            credentials.expect("a key without credentials has a provider to read")
        ))
    }
}

impl Flow for ReadCredentials {
    type Output = Credentials;

    fn step(&mut self, event: Event, _: Inputs) -> Action<Credentials> {
        match event {
            Event::Ready => match self.config.first_read() {
                Some(first) => Action::Refresh(first),
                None => self.in_use(),
            },
            Event::Credentials(given) => {
                let offered = given
                    .map_err(crate::error::ConfigError::Credentials)
                    .and_then(|credentials| self.config.key().offer(credentials));
                match offered {
                    Ok(_) => self.in_use(),
                    Err(e) => Action::Finish(Err(ProtocolError::Config(e).into())),
                }
            }
            other => unexpected(&other),
        }
    }
}

/// What a flow knows of its upload source before any byte is read.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    /// How many bytes it holds.
    pub len: u64,
    /// Whether it can be opened again from its first byte (only then is
    /// its upload retried).
    pub reopenable: bool,
    /// A name for messages, such as the file's path.
    pub name: String,
}

/// The upload `PUT` to a target: the source must be exactly the target's
/// size (a longer or shorter one is refused before a byte is sent), an
/// expired URL is refused locally, and the upload is retried only from a
/// source that can be reopened.
#[derive(Debug)]
pub struct UploadTo {
    target: UploadTarget,
    source: SourceInfo,
    user_agent: HeaderValue,
    attempts: Attempts,
}

impl UploadTo {
    /// The upload of `source` to `target`, retried on `retry`; the head
    /// carries `config`'s user agent (and no credentials).
    pub fn new(
        target: UploadTarget,
        source: SourceInfo,
        config: &Config,
        retry: RetryPolicy,
    ) -> Self {
        let attempts = Attempts::for_upload(retry, source.reopenable, target.mid.clone());
        UploadTo {
            target,
            source,
            user_agent: config.user_agent().clone(),
            attempts,
        }
    }

    fn source_failed(&self, error: std::io::Error) -> Error {
        Error::Io {
            error,
            during: LocalIo::ReadingSource,
            context: format!("reading {}", self.source.name),
            mid: self.target.mid.clone(),
        }
    }
}

impl Flow for UploadTo {
    type Output = UploadReceipt;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<UploadReceipt> {
        let step = match length_rule(event) {
            Event::Ready => {
                if self.attempts.attempt() == 0 && self.source.len != self.target.size {
                    return Action::Finish(Err(ValidationError::SizeMismatch {
                        expected: self.target.size,
                        actual: self.source.len,
                        mid: self.target.mid.clone(),
                    }
                    .into()));
                }
                let attempt = self.attempts.start();
                tracing::debug!(url = %self.target.redacted_url(), mid = ?self.target.mid, attempt, "uploading");
                return match self.target.request_head(inputs.wall_clock) {
                    Ok(mut head) => {
                        head.headers_mut()
                            .insert(USER_AGENT, self.user_agent.clone());
                        self.attempts.trace(&mut head, "{uploadUrl}");
                        Action::Upload {
                            head,
                            len: self.target.size,
                        }
                    }
                    Err(e) => Action::Finish(Err(e.into())),
                };
            }
            Event::Response(response) => self.attempts.on_upload_response(response, inputs),
            Event::Transport { error, kind } => {
                self.attempts.on_transport_error(error, kind, inputs)
            }
            Event::Source(error) => return Action::Finish(Err(self.source_failed(error))),
            other => return unexpected(&other),
        };
        after(step)
    }
}

/// A record created and its file uploaded.
#[derive(Clone, Debug)]
pub struct Uploaded {
    /// The create response.
    pub created: CreatedMedia,
    /// Where the file went (serializable: keep it to retry the upload).
    pub target: UploadTarget,
    /// S3's receipt.
    pub receipt: UploadReceipt,
}

impl Uploaded {
    /// The new record's id.
    pub fn mid(&self) -> &MediaId {
        &self.created.media.mid
    }
}

#[derive(Debug)]
enum UploadState {
    Start,
    Create(Call<CreateMedia>, CreateMediaRequest),
    Put(UploadTo, Box<CreatedMedia>),
    /// A checkpoint is being saved ([`Saved::Later`]): then `then` (`mid`:
    /// the record, if created, for the error of a failed save).
    Saving {
        then: Box<UploadState>,
        mid: Option<MediaId>,
    },
    /// Uploaded, its last checkpoint saved.
    Done(Box<Uploaded>),
    /// Finished (a bug of the driver steps it again).
    Over,
}

/// Creates the record of a checked file and uploads it: the model and the
/// source's length are checked before the record is created (no mutation
/// is spent on a file that cannot be uploaded).
pub struct Upload {
    file: MediaFile,
    model: ModelType,
    source: SourceInfo,
    config: Config,
    retry: RetryPolicy,
    checkpoint: Option<CheckpointFn>,
    state: UploadState,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("file", &self.file)
            .field("model", &self.model)
            .field("source", &self.source)
            .field("checkpoint", &self.checkpoint.is_some())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// The upload of `source`, checked as `file`, for `model`.
    pub fn new(
        file: MediaFile,
        model: ModelType,
        source: SourceInfo,
        config: Config,
        retry: RetryPolicy,
    ) -> Self {
        Upload {
            file,
            model,
            source,
            config,
            retry,
            checkpoint: None,
            state: UploadState::Start,
        }
    }

    /// Calls `checkpoint` at each [`Checkpoint`] (before the create, after
    /// it, after the upload), each before the request that depends on it.
    pub fn checkpointed(mut self, checkpoint: Option<CheckpointFn>) -> Self {
        self.checkpoint = checkpoint;
        self
    }

    /// Saves `point` with the caller's checkpoint, if any.
    fn save(&self, point: Checkpoint<'_>, mid: Option<&MediaId>) -> Result<Saved, Error> {
        save_checkpoint(self.checkpoint.as_ref(), point, mid)
    }

    /// Goes on to `then` once a checkpoint is `saved`: at once when it is,
    /// after an [`Action::Await`] when it is saved later (`mid`: the
    /// record, if created); the action to take first, if any.
    fn went_on(
        &mut self,
        saved: Result<Saved, Error>,
        mid: Option<&MediaId>,
        then: UploadState,
    ) -> Option<Action<Uploaded>> {
        match saved {
            Err(e) => Some(Action::Finish(Err(e))),
            Ok(Saved::Now) => {
                self.state = then;
                None
            }
            Ok(Saved::Later(save)) => {
                self.state = UploadState::Saving {
                    then: Box::new(then),
                    mid: mid.cloned(),
                };
                Some(Action::Await(PendingSave::new(save)))
            }
        }
    }

    fn begin(&mut self) -> Result<(Call<CreateMedia>, CreateMediaRequest), Error> {
        let request = self.file.create_request(self.model.clone())?;
        if self.source.len != self.file.size {
            return Err(ValidationError::SizeMismatch {
                expected: self.file.size,
                actual: self.source.len,
                mid: None,
            }
            .into());
        }
        let op = CreateMedia::new(request.clone())?;
        Ok((Call::new(op, self.config.clone(), self.retry), request))
    }
}

impl Flow for Upload {
    type Output = Uploaded;

    fn step(&mut self, mut event: Event, inputs: Inputs) -> Action<Uploaded> {
        loop {
            match &mut self.state {
                UploadState::Start => match self.begin() {
                    Ok((call, request)) => {
                        let at = timestamp(inputs.wall_clock);
                        let point = Checkpoint::Creating {
                            request: &request,
                            at,
                        };
                        let saved = self.save(point, None);
                        let then = UploadState::Create(call, request);
                        if let Some(action) = self.went_on(saved, None, then) {
                            return action;
                        }
                    }
                    Err(e) => return Action::Finish(Err(e)),
                },
                UploadState::Create(call, request) => match relay(call, event, inputs) {
                    Ok(action) => return action,
                    Err(Err(e)) => return Action::Finish(Err(e)),
                    Err(Ok(created)) => {
                        // The operation's span learns its record.
                        tracing::Span::current().record("authenta.mid", created.media.mid.as_str());
                        let target = match UploadTarget::from_created(
                            &created,
                            request,
                            inputs.wall_clock,
                        ) {
                            Ok(target) => target,
                            Err(e) => return Action::Finish(Err(e.into())),
                        };
                        let point = Checkpoint::Created {
                            created: &created,
                            target: &target,
                        };
                        let mid = created.media.mid.clone();
                        let saved = self.save(point, Some(&mid));
                        let put =
                            UploadTo::new(target, self.source.clone(), &self.config, self.retry);
                        let then = UploadState::Put(put, Box::new(created));
                        if let Some(action) = self.went_on(saved, Some(&mid), then) {
                            return action;
                        }
                        event = Event::Ready;
                    }
                },
                UploadState::Put(put, created) => {
                    let receipt = match relay(put, event, inputs) {
                        Ok(action) => return action,
                        Err(Err(e)) => return Action::Finish(Err(e)),
                        Err(Ok(receipt)) => receipt,
                    };
                    let uploaded = Uploaded {
                        created: (**created).clone(),
                        target: put.target.clone(),
                        receipt,
                    };
                    let mid = uploaded.created.media.mid.clone();
                    let saved = self.save(Checkpoint::Uploaded { mid: &mid }, Some(&mid));
                    let then = UploadState::Done(Box::new(uploaded));
                    if let Some(action) = self.went_on(saved, Some(&mid), then) {
                        return action;
                    }
                    event = Event::Ready;
                }
                UploadState::Saving { .. } => {
                    let UploadState::Saving { then, mid } =
                        std::mem::replace(&mut self.state, UploadState::Over)
                    else {
                        unreachable!()
                    };
                    match event {
                        Event::Saved(Ok(())) => {
                            self.state = *then;
                            event = Event::Ready;
                        }
                        Event::Saved(Err(error)) => {
                            return Action::Finish(Err(checkpoint_failed(error, mid.as_ref())));
                        }
                        other => panic!("an upload awaiting its checkpoint was fed {other:?}"),
                    }
                }
                UploadState::Done(_) => {
                    let UploadState::Done(uploaded) =
                        std::mem::replace(&mut self.state, UploadState::Over)
                    else {
                        unreachable!()
                    };
                    return Action::Finish(Ok(*uploaded));
                }
                UploadState::Over => panic!("an upload was stepped after it finished"),
            }
        }
    }
}

/// Saves `point` with `checkpoint`, if any: a failure is local I/O (a
/// [`Error::Io`] naming the record, [`checkpoint_failed`]); a save that ends
/// later is to be waited for before the request that depends on it. Flows
/// and the batch pipeline call it.
pub fn save_checkpoint(
    checkpoint: Option<&CheckpointFn>,
    point: Checkpoint<'_>,
    mid: Option<&MediaId>,
) -> Result<Saved, Error> {
    let Some(checkpoint) = checkpoint else {
        return Ok(Saved::Now);
    };
    checkpoint(point).map_err(|error| checkpoint_failed(error, mid))
}

/// The error of a checkpoint's save that failed (at once, or later): local
/// I/O, naming the record `mid` if it was created.
pub fn checkpoint_failed(error: std::io::Error, mid: Option<&MediaId>) -> Error {
    Error::Io {
        error,
        during: LocalIo::Checkpoint,
        context: "saving the upload's progress".to_owned(),
        mid: mid.cloned(),
    }
}

/// Sees each polled record (to draw its status, say).
pub type Observer = Arc<dyn Fn(&Media) + Send + Sync>;

/// Polls `GET /media/{mid}` on a [`PollPolicy`] until the record's status
/// is final (`PROCESSED`, `FAILED`, `ERROR`); a timeout states the last
/// status, the time waited and the polls spent. Each poll is a [`Call`]
/// with its own retries; a poll that still fails transiently (5xx,
/// throttled, a broken or timed-out connection, a `Retry-After` longer than
/// the retry policy takes) is polled again later within the wait's
/// deadline ([`Waiter::on_failure`]), not the end of the wait.
pub struct Wait {
    mid: MediaId,
    policy: PollPolicy,
    observer: Option<Observer>,
    config: Config,
    retry: RetryPolicy,
    waiter: Option<Waiter>,
    poll: Option<Call<GetMedia>>,
    after_upload: bool,
}

impl std::fmt::Debug for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait")
            .field("mid", &self.mid)
            .field("policy", &self.policy)
            .field("waiter", &self.waiter)
            .finish_non_exhaustive()
    }
}

impl Wait {
    /// A wait for `mid` on `policy`.
    pub fn new(mid: MediaId, policy: PollPolicy, config: Config, retry: RetryPolicy) -> Self {
        Wait {
            mid,
            policy,
            observer: None,
            config,
            retry,
            waiter: None,
            poll: None,
            after_upload: false,
        }
    }

    /// The record's file was just uploaded: the first poll comes after the
    /// poll policy's first delay, not at once (it would find the record
    /// just `UPLOADED`).
    pub fn after_upload(mut self) -> Self {
        self.after_upload = true;
        self
    }

    /// Shows each polled record to `observer`.
    pub fn observed(mut self, observer: Option<Observer>) -> Self {
        self.observer = observer;
        self
    }
}

impl Flow for Wait {
    type Output = Media;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Media> {
        if self.waiter.is_none() && self.after_upload {
            let (waiter, delay) = Waiter::after_upload(self.mid.clone(), self.policy, inputs.now);
            self.waiter = Some(waiter);
            return Action::Sleep(delay);
        }
        let waiter = self
            .waiter
            .get_or_insert_with(|| Waiter::new(self.mid.clone(), self.policy, inputs.now));
        let poll = match &mut self.poll {
            Some(poll) => poll,
            // Starting, or a sleep between polls ended: poll again.
            None => self.poll.insert(Call::new(
                GetMedia::new(self.mid.clone()),
                self.config.clone(),
                self.retry,
            )),
        };
        let media = match relay(poll, event, inputs) {
            Ok(action) => return action,
            Err(Err(e)) => {
                // A transient failure within the deadline: poll again later.
                self.poll = None;
                return match waiter.on_failure(&e, inputs.wall_clock, inputs.now) {
                    Some(delay) => Action::Sleep(delay),
                    None => Action::Finish(Err(e)),
                };
            }
            Err(Ok(media)) => media,
        };
        self.poll = None;
        if let Some(observer) = &self.observer {
            observer(&media);
        }
        match waiter.on_media(media, inputs.now) {
            WaitStep::Done(media) => Action::Finish(Ok(*media)),
            WaitStep::PollAfter(delay) => Action::Sleep(delay),
            WaitStep::TimedOut(timeout) => {
                Action::Finish(Err(ProtocolError::Timeout(timeout).into()))
            }
        }
    }
}

/// The whole job for one file: [`Upload`], then [`Wait`] for its record.
pub struct Process {
    upload: Upload,
    wait: Option<Wait>,
    policy: PollPolicy,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("upload", &self.upload)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl Process {
    /// Uploads `source` (checked as `file`) for `model`, then waits on
    /// `policy`.
    pub fn new(upload: Upload, policy: PollPolicy) -> Self {
        Process {
            upload,
            wait: None,
            policy,
            observer: None,
        }
    }

    /// Shows each polled record to `observer`.
    pub fn observed(mut self, observer: Option<Observer>) -> Self {
        self.observer = observer;
        self
    }
}

impl Flow for Process {
    type Output = Media;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Media> {
        if let Some(wait) = &mut self.wait {
            return wait.step(event, inputs);
        }
        match relay(&mut self.upload, event, inputs) {
            Ok(action) => action,
            Err(Err(e)) => Action::Finish(Err(e)),
            Err(Ok(uploaded)) => {
                let wait = Wait::new(
                    uploaded.mid().clone(),
                    self.policy,
                    self.upload.config.clone(),
                    self.upload.retry,
                )
                .after_upload()
                .observed(self.observer.clone());
                self.wait.insert(wait).step(Event::Ready, inputs)
            }
        }
    }
}

/// Reads a processed record's `resultURL` document (no credentials; retried
/// as a `GET`); `None` when the record has none.
pub struct FetchResult {
    url: Option<String>,
    mid: MediaId,
    attempts: Attempts,
}

impl std::fmt::Debug for FetchResult {
    /// The URL without its query string (the pre-signed signature).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchResult")
            .field("url", &self.url.as_deref().map(authenta_types::redact_url))
            .field("mid", &self.mid)
            .finish_non_exhaustive()
    }
}

impl FetchResult {
    /// The result document of `media`.
    pub fn new(media: &Media, retry: RetryPolicy) -> Self {
        FetchResult {
            url: media.result_url.clone(),
            mid: media.mid.clone(),
            attempts: Attempts::new(retry, Replay::Idempotent, None, Some(media.mid.clone())),
        }
    }
}

impl Flow for FetchResult {
    type Output = Option<ResultDocument>;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Option<ResultDocument>> {
        let Some(url) = &self.url else {
            return Action::Finish(Ok(None));
        };
        let step = match length_rule(event) {
            Event::Ready => {
                self.attempts.start();
                return match artifact_request(url, Some(&self.mid)) {
                    Ok(mut request) => {
                        self.attempts.trace(&mut request, "{resultURL}");
                        Action::Send(request)
                    }
                    Err(e) => Action::Finish(Err(e.into())),
                };
            }
            Event::Response(response) => {
                let read = check_size(response, None, Some(&self.mid))
                    .and_then(|r| read_artifact_response(r, Some(&self.mid)));
                match read {
                    Ok(bytes) => {
                        return Action::Finish(parse_result(&bytes, &self.mid).map(Some));
                    }
                    Err(e) => self.attempts.on_error(e, inputs),
                }
            }
            Event::Transport { error, kind } => {
                self.attempts.on_transport_error(error, kind, inputs)
            }
            other => return unexpected(&other),
        };
        after(step)
    }
}

fn parse_result(bytes: &[u8], mid: &MediaId) -> Result<ResultDocument, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::Proto(ProtocolError::Decode(Box::new(crate::error::DecodeError {
            status: http::StatusCode::OK,
            operation: None,
            reason: format!("the result document is not what resultURL holds: {e}"),
            snippet: crate::response::snippet(bytes, None),
            mid: Some(mid.clone()),
        })))
    })
}

#[derive(Debug)]
enum DownloadState {
    Fetching,
    Committing(u64),
    Abandoning(Option<Error>),
}

/// Streams an artifact (a pre-signed URL, no credentials) into the
/// driver's sink, retried as a `GET` (the sink restarts for each attempt),
/// and commits the sink only when the whole body arrived; on failure the
/// sink is abandoned. `None` when there is no URL (a record without a
/// heatmap).
pub struct Download {
    url: Option<String>,
    mid: Option<MediaId>,
    attempts: Attempts,
    state: DownloadState,
}

impl std::fmt::Debug for Download {
    /// The URL without its query string (the pre-signed signature).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("url", &self.url.as_deref().map(authenta_types::redact_url))
            .field("mid", &self.mid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The download of `url` (for the record `mid`).
    pub fn new(url: Option<String>, mid: Option<MediaId>, retry: RetryPolicy) -> Self {
        Download {
            attempts: Attempts::new(retry, Replay::Idempotent, None, mid.clone()),
            url,
            mid,
            state: DownloadState::Fetching,
        }
    }

    /// The heatmap image of a processed record (`heatmapURL`).
    pub fn heatmap(media: &Media, retry: RetryPolicy) -> Self {
        Download::new(media.heatmap_url.clone(), Some(media.mid.clone()), retry)
    }

    fn sink_failed(&self, error: std::io::Error) -> Error {
        Error::Io {
            error,
            during: LocalIo::WritingArtifact,
            context: "writing the download".to_owned(),
            mid: self.mid.clone(),
        }
    }
}

impl Flow for Download {
    type Output = Option<u64>;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Option<u64>> {
        let Some(url) = &self.url else {
            return Action::Finish(Ok(None));
        };
        let step = match (&mut self.state, length_rule(event)) {
            (DownloadState::Committing(written), Event::Ready) => {
                return Action::Finish(Ok(Some(*written)));
            }
            (DownloadState::Committing(_), Event::Sink(e)) => {
                // A commit that failed has cleaned up after itself.
                return Action::Finish(Err(self.sink_failed(e)));
            }
            (DownloadState::Abandoning(failure), Event::Ready) => {
                let failure = failure.take().expect("an abandoned download has its error");
                return Action::Finish(Err(failure));
            }
            (DownloadState::Fetching, Event::Ready) => {
                self.attempts.start();
                return match artifact_request(url, self.mid.as_ref()) {
                    Ok(mut request) => {
                        self.attempts.trace(&mut request, "{artifactURL}");
                        Action::Download(request)
                    }
                    Err(e) => Action::Finish(Err(e.into())),
                };
            }
            (DownloadState::Fetching, Event::Response(response)) => {
                if response.status().is_success() {
                    let written = response.extensions().get::<Written>().copied();
                    self.state = DownloadState::Committing(written.unwrap_or_default().0);
                    return Action::Commit;
                }
                let error = check_size(response, None, self.mid.as_ref())
                    .and_then(|r| read_artifact_response(r, self.mid.as_ref()))
                    .expect_err("a non-2xx answer is an error");
                self.attempts.on_error::<Option<u64>>(error, inputs)
            }
            (DownloadState::Fetching, Event::Transport { error, kind }) => {
                self.attempts.on_transport_error(error, kind, inputs)
            }
            (DownloadState::Fetching, Event::Sink(e)) => Step::Done(Err(self.sink_failed(e))),
            (_, other) => return unexpected(&other),
        };
        match step {
            Step::Retry(delay) => Action::Sleep(delay),
            Step::Done(Ok(_)) => unreachable!("a download succeeds only through its commit"),
            Step::Done(Err(failure)) => {
                self.state = DownloadState::Abandoning(Some(failure));
                Action::Abandon
            }
        }
    }
}

/// Every record, a page at a time: each run finishes with the next page's
/// records, or `None` when there are no more. A failed page is reported
/// once and ends the listing.
#[derive(Debug)]
pub struct ListPages {
    cursor: ListCursor,
    config: Config,
    retry: RetryPolicy,
    page: Option<Call<ListMedia>>,
}

impl ListPages {
    /// Pages of `page_size` records.
    pub fn new(page_size: u32, config: Config, retry: RetryPolicy) -> Result<Self, Error> {
        Ok(ListPages {
            cursor: ListCursor::new(page_size)?,
            config,
            retry,
            page: None,
        })
    }

    fn call(&self, query: ListQuery) -> Result<Call<ListMedia>, Error> {
        Ok(Call::new(
            ListMedia::new(query)?,
            self.config.clone(),
            self.retry,
        ))
    }
}

impl Flow for ListPages {
    type Output = Option<Vec<Media>>;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Option<Vec<Media>>> {
        if self.page.is_none() {
            let Some(query) = self.cursor.next_query() else {
                return Action::Finish(Ok(None));
            };
            match self.call(query) {
                Ok(call) => self.page = Some(call),
                Err(e) => {
                    self.cursor.stop();
                    return Action::Finish(Err(e));
                }
            }
        }
        let page = self.page.as_mut().expect("a page is being read");
        let result = match relay(page, event, inputs) {
            Ok(action) => return action,
            Err(result) => result,
        };
        self.page = None;
        let page = match result {
            Ok(page) => page,
            Err(e) => {
                // The same page would fail again.
                self.cursor.stop();
                return Action::Finish(Err(e));
            }
        };
        match self.cursor.fresh(page) {
            Ok(records) => Action::Finish(Ok(Some(records))),
            Err(e) => {
                self.cursor.stop();
                Action::Finish(Err(inconsistent_page(e).into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each flow stepped by hand: events fed, actions read, no clock, no
    //! sleeping, no driver.

    use std::time::{Duration, Instant, SystemTime};

    use authenta_types::MediaStatus;
    use http::Response;

    use super::*;
    use crate::ops::test_support::{MEDIA, config, json};
    use crate::wire::TransportErrorKind;

    fn at(secs: u64) -> Inputs {
        let start = *START.get_or_init(Instant::now);
        Inputs {
            now: start + Duration::from_secs(secs),
            wall_clock: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs),
            random: 0,
        }
    }

    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

    fn empty(status: u16) -> Event {
        Event::Response(Response::builder().status(status).body(Vec::new()).unwrap())
    }

    fn reset() -> Event {
        Event::Transport {
            error: "reset".into(),
            kind: TransportErrorKind::Interrupted,
        }
    }

    #[test]
    #[should_panic(expected = "a driver bug")]
    fn an_event_out_of_turn_is_a_driver_bug_not_an_error() {
        let mut call = Call::new(
            GetMedia::new(MediaId::new("m")),
            config(),
            RetryPolicy::default(),
        );
        let _ = call.step(Event::Ready, at(0));
        // A sink failure answers a download, never a request.
        let _ = call.step(Event::Sink(std::io::Error::other("disk full")), at(0));
    }

    #[test]
    fn a_get_is_sent_again_after_a_503() {
        let mut call = Call::new(
            GetMedia::new(MediaId::new("m")),
            config(),
            RetryPolicy::default(),
        );
        assert!(matches!(call.step(Event::Ready, at(0)), Action::Send(r) if r.method() == "GET"));
        assert!(matches!(call.step(empty(503), at(0)), Action::Sleep(_)));
        assert!(matches!(call.step(Event::Ready, at(1)), Action::Send(_)));
        let Action::Finish(Ok(media)) = call.step(Event::Response(json(200, MEDIA)), at(1)) else {
            panic!("the second answer is the result")
        };
        assert_eq!(media.status, MediaStatus::Inited);
    }

    #[test]
    fn a_create_is_never_sent_again_once_it_may_have_arrived() {
        let request = authenta_types::CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 3,
            model_type: ModelType::Ac1,
        };
        for outcome in [empty(500), reset()] {
            let op = CreateMedia::new(request.clone()).unwrap();
            let mut call = Call::new(op, config(), RetryPolicy::default());
            assert!(
                matches!(call.step(Event::Ready, at(0)), Action::Send(r) if r.method() == "POST")
            );
            let Action::Finish(Err(failure)) = call.step(outcome, at(0)) else {
                panic!("a POST that may have arrived is final")
            };
            match &failure {
                Error::Transport { attempts, .. } => assert_eq!(*attempts, 1),
                other => assert_eq!(other.status().map(|s| s.as_u16()), Some(500)),
            }
        }
    }

    fn target(size: u64) -> UploadTarget {
        UploadTarget::new(
            "https://s3.example/o?X-Amz-Signature=s",
            "image/png",
            size,
            None,
        )
        .unwrap()
    }

    fn source(len: u64, reopenable: bool) -> SourceInfo {
        SourceInfo {
            len,
            reopenable,
            name: "a.png".into(),
        }
    }

    /// An upload of the sample PNG whose checkpoint records each point and
    /// saves a `Created` state later with `later`'s outcome.
    fn upload_saving_later(
        later: fn() -> std::io::Result<()>,
    ) -> (Upload, Arc<std::sync::Mutex<Vec<&'static str>>>) {
        const PNG: &[u8] = include_bytes!("../../../../samples/test-pattern.png");
        let file = MediaFile::from_reader("a.png", std::io::Cursor::new(PNG), None).unwrap();
        let points = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = points.clone();
        let checkpoint: CheckpointFn = Arc::new(move |point| {
            let (name, saved) = match point {
                Checkpoint::Creating { .. } => ("creating", Saved::Now),
                Checkpoint::Created { .. } => ("created", Saved::later(async move { later() })),
                Checkpoint::Uploaded { .. } => ("uploaded", Saved::Now),
            };
            seen.lock().unwrap().push(name);
            Ok(saved)
        });
        let len = PNG.len() as u64;
        let upload = Upload::new(
            file,
            ModelType::Ac1,
            source(len, true),
            config(),
            RetryPolicy::default(),
        )
        .checkpointed(Some(checkpoint));
        (upload, points)
    }

    fn created_answer() -> Event {
        let body = MEDIA.replace(
            '}',
            r#","uploadUrl":"https://s3.example/x?X-Amz-Signature=ab%2Bc","expiresIn":900}"#,
        );
        Event::Response(json(200, &body))
    }

    #[test]
    fn a_checkpoint_saved_later_is_awaited_before_the_upload_it_guards() {
        let (mut upload, points) = upload_saving_later(|| Ok(()));
        assert!(
            matches!(upload.step(Event::Ready, at(0)), Action::Send(r) if r.method() == "POST")
        );
        // The record exists: its state is being saved, and no byte goes
        // out before it is.
        let Action::Await(save) = upload.step(created_answer(), at(0)) else {
            panic!("the Created state is awaited first")
        };
        assert_eq!(*points.lock().unwrap(), ["creating", "created"]);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(saved) = save.into_future().as_mut().poll(&mut cx) else {
            panic!("an `async` block that returns at once is ready")
        };
        let Action::Upload { len, .. } = upload.step(Event::Saved(saved), at(0)) else {
            panic!("then the PUT")
        };
        assert!(len > 0);
        let stored = Response::builder()
            .status(200)
            .header("etag", "\"e\"")
            .body(Vec::new())
            .unwrap();
        let Action::Finish(Ok(uploaded)) = upload.step(Event::Response(stored), at(0)) else {
            panic!("uploaded")
        };
        assert_eq!(
            uploaded.created.media.mid.as_str(),
            "692f406f9f68d4b70080bb80"
        );
        assert_eq!(*points.lock().unwrap(), ["creating", "created", "uploaded"]);
    }

    #[test]
    fn a_checkpoint_whose_later_save_fails_stops_the_upload_naming_its_record() {
        let (mut upload, _) = upload_saving_later(|| Err(std::io::Error::other("disk full")));
        let _ = upload.step(Event::Ready, at(0));
        let Action::Await(_) = upload.step(created_answer(), at(0)) else {
            panic!("the Created state is awaited first")
        };
        let failed = Event::Saved(Err(std::io::Error::other("disk full")));
        let Action::Finish(Err(failure)) = upload.step(failed, at(0)) else {
            panic!("a failed save stops the upload before its PUT")
        };
        assert!(matches!(
            &failure,
            Error::Io { during: LocalIo::Checkpoint, mid: Some(mid), .. }
                if mid.as_str() == "692f406f9f68d4b70080bb80"
        ));
        assert!(failure.to_string().contains("disk full"), "{failure}");
    }

    #[test]
    fn an_upload_source_one_byte_long_or_short_is_refused_before_a_byte_is_sent() {
        for len in [101, 99] {
            let mut put = UploadTo::new(
                target(100),
                source(len, true),
                &config(),
                RetryPolicy::default(),
            );
            let Action::Finish(Err(failure)) = put.step(Event::Ready, at(0)) else {
                panic!("refused before the PUT")
            };
            let text = failure.to_string();
            assert!(text.contains(&format!("the body is {len} bytes")), "{text}");
            assert!(
                text.contains("upload URL was signed for 100"),
                "no record to speak of: {text}"
            );
        }
        // A source that changes while it is sent: the body refuses it, and
        // the flow reports the source, never retrying a changed file.
        let mut put = UploadTo::new(
            target(100),
            source(100, true),
            &config(),
            RetryPolicy::default(),
        );
        let Action::Upload { head, len } = put.step(Event::Ready, at(0)) else {
            panic!("the PUT")
        };
        assert_eq!(
            (len, &head.headers()["content-length"]),
            (100, &"100".parse::<http::HeaderValue>().unwrap())
        );
        let longer =
            std::io::Error::new(std::io::ErrorKind::InvalidData, "more than the 100 bytes");
        let Action::Finish(Err(failure)) = put.step(Event::Source(longer), at(0)) else {
            panic!("a source failure is final")
        };
        assert_eq!(failure.class(), crate::ErrorClass::InvalidInput);
        assert!(
            failure.to_string().starts_with("reading a.png"),
            "{failure}"
        );
    }

    #[test]
    fn a_download_is_retried_into_a_restarted_sink_and_committed_once_whole() {
        let mut download = Download::new(
            Some("https://s3.example/h.png?sig=1".into()),
            None,
            RetryPolicy::default(),
        );
        assert!(matches!(
            download.step(Event::Ready, at(0)),
            Action::Download(_)
        ));
        // Broken off midway: the sink's bytes are not committed; the next
        // attempt is another Download action (the driver restarts the sink).
        assert!(matches!(download.step(reset(), at(0)), Action::Sleep(_)));
        assert!(matches!(
            download.step(Event::Ready, at(1)),
            Action::Download(_)
        ));
        let mut whole = Response::builder().status(200).body(Vec::new()).unwrap();
        whole.extensions_mut().insert(Written(7));
        assert!(matches!(
            download.step(Event::Response(whole), at(1)),
            Action::Commit
        ));
        assert!(matches!(
            download.step(Event::Ready, at(1)),
            Action::Finish(Ok(Some(7)))
        ));

        let mut refused = Download::new(
            Some("https://s3.example/h.png?sig=1".into()),
            None,
            RetryPolicy::default(),
        );
        let _ = refused.step(Event::Ready, at(0));
        assert!(
            matches!(refused.step(empty(403), at(0)), Action::Abandon),
            "a partial file is removed"
        );
        assert!(
            matches!(refused.step(Event::Ready, at(0)), Action::Finish(Err(f)) if f.status().map(|s| s.as_u16()) == Some(403))
        );
    }

    #[test]
    fn a_body_shorter_than_its_content_length_is_a_broken_connection() {
        // A download whose sink took fewer bytes than declared: retried into
        // a restarted sink, never committed.
        let mut download = Download::new(
            Some("https://s3.example/h.png?sig=1".into()),
            None,
            RetryPolicy::default(),
        );
        let _ = download.step(Event::Ready, at(0));
        let mut short = Response::builder()
            .status(200)
            .header("content-length", "3172")
            .body(Vec::new())
            .unwrap();
        short.extensions_mut().insert(Written(1586));
        assert!(matches!(
            download.step(Event::Response(short), at(0)),
            Action::Sleep(_)
        ));
        assert!(matches!(
            download.step(Event::Ready, at(1)),
            Action::Download(_)
        ));
        // An API answer cut short: a GET is sent again, never decoded.
        let mut call = Call::new(
            GetMedia::new(MediaId::new("m")),
            config(),
            RetryPolicy::default(),
        );
        let _ = call.step(Event::Ready, at(0));
        let mut cut = json(200, MEDIA);
        let whole = cut.body().len();
        cut.headers_mut()
            .insert("content-length", (whole + 10).to_string().parse().unwrap());
        assert!(matches!(
            call.step(Event::Response(cut), at(0)),
            Action::Sleep(_)
        ));
        let mut retry = RetryPolicy::never();
        retry.max_attempts = 1;
        let mut once = Call::new(GetMedia::new(MediaId::new("m")), config(), retry);
        let _ = once.step(Event::Ready, at(0));
        let mut cut = json(200, MEDIA);
        cut.headers_mut()
            .insert("content-length", (whole + 10).to_string().parse().unwrap());
        let Action::Finish(Err(failure)) = once.step(Event::Response(cut), at(0)) else {
            panic!("a short answer is never read")
        };
        assert!(
            matches!(
                failure,
                Error::Transport {
                    kind: TransportErrorKind::Interrupted,
                    ..
                }
            ),
            "{failure:?}"
        );
        assert!(failure.to_string().contains("Content-Length"), "{failure}");
    }

    #[test]
    fn a_wait_after_an_upload_sleeps_first_and_keeps_the_schedule() {
        let mut wait = Wait::new(
            MediaId::new("692f406f9f68d4b70080bb80"),
            PollPolicy::default(),
            config(),
            RetryPolicy::default(),
        )
        .after_upload();
        // No poll right after the upload: the first comes after 1 s...
        assert!(
            matches!(wait.step(Event::Ready, at(0)), Action::Sleep(d) if d == Duration::from_secs(1))
        );
        assert!(matches!(wait.step(Event::Ready, at(1)), Action::Send(_)));
        // ...and the schedule goes on as if the skipped poll was made: the
        // next delay is 1.5 s, not the first delay again.
        let uploaded = Event::Response(json(200, &MEDIA.replace("INITED", "UPLOADED")));
        assert!(
            matches!(wait.step(uploaded, at(1)), Action::Sleep(d) if d == Duration::from_millis(1500))
        );
    }

    #[test]
    fn a_wait_polls_again_after_a_transient_failure_within_its_deadline() {
        let policy = PollPolicy::fixed(Duration::from_secs(4), Duration::from_secs(600));
        let mut wait = Wait::new(
            MediaId::new("692f406f9f68d4b70080bb80"),
            policy,
            config(),
            RetryPolicy::never(),
        );
        assert!(matches!(wait.step(Event::Ready, at(0)), Action::Send(_)));
        // A 503 asking for far more than the retry policy takes: the wait
        // polls again, after the Retry-After cut to the longest delay.
        let busy = Response::builder()
            .status(503)
            .header("retry-after", "99999")
            .body(Vec::new())
            .unwrap();
        assert!(
            matches!(wait.step(Event::Response(busy), at(0)), Action::Sleep(d) if d == Duration::from_secs(4))
        );
        assert!(matches!(wait.step(Event::Ready, at(590)), Action::Send(_)));
        assert!(matches!(wait.step(reset(), at(590)), Action::Sleep(_)));
        assert!(matches!(wait.step(Event::Ready, at(594)), Action::Send(_)));
        let done = Event::Response(json(200, &MEDIA.replace("INITED", "PROCESSED")));
        assert!(matches!(wait.step(done, at(594)), Action::Finish(Ok(_))));
        // Past the deadline, or a failure that is not transient, ends it.
        let mut gone = Wait::new(
            MediaId::new("692f406f9f68d4b70080bb80"),
            policy,
            config(),
            RetryPolicy::never(),
        );
        let _ = gone.step(Event::Ready, at(0));
        assert!(matches!(
            gone.step(empty(404), at(0)),
            Action::Finish(Err(_))
        ));
    }

    #[test]
    fn a_wait_times_out_after_its_final_poll() {
        let policy = PollPolicy::fixed(Duration::from_secs(4), Duration::from_secs(10));
        let mut wait = Wait::new(
            MediaId::new("692f406f9f68d4b70080bb80"),
            policy,
            config(),
            RetryPolicy::default(),
        );
        let mut clock = 0;
        let mut polls = 0;
        let mut event = Event::Ready;
        let failure = loop {
            match wait.step(event, at(clock)) {
                Action::Send(_) => {
                    polls += 1;
                    event = Event::Response(json(200, &MEDIA.replace("INITED", "UPLOADED")));
                }
                Action::Sleep(d) => {
                    clock += d.as_secs();
                    event = Event::Ready;
                }
                Action::Finish(Err(failure)) => break failure,
                other => panic!("unexpected {other:?}"),
            }
        };
        let Some(ProtocolError::Timeout(timeout)) = failure.as_proto() else {
            panic!("{failure:?}")
        };
        // Polls at 0, 4, 8 and a final one at the deadline (10 s).
        assert_eq!((polls, timeout.polls, clock), (4, 4, 10));
        assert_eq!(timeout.last_status, Some(MediaStatus::Uploaded));
        assert_eq!(timeout.waited, Duration::from_secs(10));
    }
}
