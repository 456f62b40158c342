//! The matrix itself, as data: every fault, the steps it strikes, and the
//! outcome the contract calls for on each. `run` executes a row against a
//! client and checks the outcome on the emulator's logs; `render` writes
//! the table that RELIABILITY.md holds.

use std::time::Duration;

use authenta_emulator::FaultStage;
use authenta_proto::engine::batch::STALE_LIST_READS;
use authenta_proto::{ErrorClass, RetryPolicy, wire::TransportErrorKind};

/// The retry policy every row runs with: three attempts, backoff ceilings
/// of 20 and 40 ms, a `Retry-After` honoured up to 5 s.
pub fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

/// The request and upload timeouts of the timeout rows (and the upload
/// stall timeout of the stall row).
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long the slow answer and the stalled upload keep the client
/// waiting: well past [`SHORT_TIMEOUT`].
pub const STALL: Duration = Duration::from_millis(1500);

/// How late the late `504` comes.
pub const LATE: Duration = Duration::from_millis(300);

/// How many pages the `ignoreOffset` fault answers (more than a client
/// that stops may ask).
pub const IGNORED_PAGES: u32 = 100;

/// The size of the upload S3 refuses on its head: more than the socket
/// buffers hold, so a client that sends the body at once breaks on it.
pub const LARGE: usize = 16 * 1024 * 1024;

/// The `Retry-After` the `503` and `SlowDown` rows send.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A step of a client's work that a fault can strike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `Client::create`: `POST /media`.
    Create,
    /// `Client::get`: `GET /media/{mid}`.
    Get,
    /// `Client::list`: one page of `GET /media`.
    List,
    /// `Client::delete`: `DELETE /media/{mid}`.
    Delete,
    /// `Client::upload` from a file (reopenable): the `PUT` to S3.
    Upload,
    /// `upload_reader` / `upload_stream` (a one-shot source): the `PUT`.
    UploadStream,
    /// `Client::result`: the `resultURL` document.
    Result,
    /// `Client::download_heatmap`: the `heatmapURL` image.
    Heatmap,
    /// `Client::wait`: polls of `GET /media/{mid}` until final.
    Wait,
    /// `Client::list_all`: every page of `GET /media`.
    ListAll,
    /// Proto's batch waiter over two records (`GET /media` pages).
    Batch,
    /// `Client::create_job`: `POST /v1/jobs`.
    JobCreate,
    /// `Client::run_job` of a two-slot job (face intelligence, original and
    /// reference): the first slot's `PUT`.
    JobSlot,
    /// The same run: the second slot's `PUT`, once the first is stored.
    JobSlotSecond,
    /// `Client::run_job` of a one-slot job: `POST /v1/jobs/{id}/finalize`.
    JobFinalize,
    /// `Client::get_job`: `GET /v1/jobs/{id}`.
    JobGet,
    /// `Client::list_jobs`: one page of `GET /v1/jobs`.
    JobList,
    /// `Client::cancel_job`: `POST /v1/jobs/{id}/cancel`.
    JobCancel,
    /// `Client::delete_job`: `DELETE /v1/jobs/{id}`.
    JobDelete,
    /// `Client::wait_job_with`: polls of `GET /v1/jobs/{id}` until final.
    JobWait,
    /// `Client::download_artifact`: a job's heatmap artifact.
    JobArtifact,
}

impl Step {
    /// The step in the table.
    pub fn label(self) -> &'static str {
        match self {
            Step::Create => "create (`POST /media`)",
            Step::Get => "get (`GET /media/{mid}`)",
            Step::List => "list page (`GET /media`)",
            Step::Delete => "delete (`DELETE /media/{mid}`)",
            Step::Upload => "upload from a file (`PUT`)",
            Step::UploadStream => "upload from a one-shot stream (`PUT`)",
            Step::Result => "result document (`resultURL`)",
            Step::Heatmap => "heatmap download (`heatmapURL`)",
            Step::Wait => "wait (polls of `GET /media/{mid}`)",
            Step::ListAll => "every page (`list_all`, `GET /media`)",
            Step::Batch => "batch wait of 2 records (`GET /media` pages)",
            Step::JobCreate => "job create (`POST /v1/jobs`)",
            Step::JobSlot => "job slot upload (`PUT`, the first of two slots, from a file)",
            Step::JobSlotSecond => {
                "job slot upload (`PUT`, the second of two slots, the first stored)"
            }
            Step::JobFinalize => "job finalize (`POST /v1/jobs/{id}/finalize`, in `run_job`)",
            Step::JobGet => "job get (`GET /v1/jobs/{id}`)",
            Step::JobList => "job list page (`GET /v1/jobs`)",
            Step::JobCancel => "job cancel (`POST /v1/jobs/{id}/cancel`)",
            Step::JobDelete => "job delete (`DELETE /v1/jobs/{id}`)",
            Step::JobWait => "job wait (polls of `GET /v1/jobs/{id}`)",
            Step::JobArtifact => "job artifact download (a heatmap's `downloadUrl`)",
        }
    }

    /// The jobs API's steps: the create, the finalize, then the others.
    pub const JOBS: [Step; 10] = [
        Step::JobCreate,
        Step::JobFinalize,
        Step::JobSlot,
        Step::JobSlotSecond,
        Step::JobGet,
        Step::JobList,
        Step::JobCancel,
        Step::JobDelete,
        Step::JobWait,
        Step::JobArtifact,
    ];

    /// Whether the step is of the jobs API (generation 2: an API key).
    pub fn is_job(self) -> bool {
        Step::JOBS.contains(&self)
    }

    /// Whether the step goes to S3 (the upload or a download URL) rather
    /// than the API.
    pub fn is_storage(self) -> bool {
        matches!(
            self,
            Step::Upload
                | Step::UploadStream
                | Step::Result
                | Step::Heatmap
                | Step::JobSlot
                | Step::JobSlotSecond
                | Step::JobArtifact
        )
    }
}

/// The error a failing row ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The API's typed error (`ProtocolError::Api`): status and code.
    Api(u16, &'static str),
    /// An answer that is not the API's error body (`ProtocolError::Http`).
    Http(u16),
    /// S3's refusal of the upload (`ProtocolError::Upload`): status and S3 code
    /// (empty when the body was not S3's XML).
    Upload(u16, &'static str),
    /// A 2xx answer that cannot be read (`ProtocolError::Decode`).
    Decode(u16),
    /// The HTTP client failed (`Error::Transport`).
    Network(TransportErrorKind),
}

/// What a row must end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Success after `attempts` requests, at least `min_gap` apart.
    Recovers {
        /// Requests sent, the first included.
        attempts: u32,
        /// The least time between two of them (a `Retry-After`).
        min_gap: Duration,
    },
    /// A typed error of `class` after exactly `attempts` requests.
    Fails {
        /// Requests sent, the first included.
        attempts: u32,
        /// The error's class.
        class: ErrorClass,
        /// The error itself.
        kind: Kind,
    },
}

fn ok(attempts: u32) -> Expect {
    Expect::Recovers {
        attempts,
        min_gap: Duration::ZERO,
    }
}

fn ok_after(attempts: u32, min_gap: Duration) -> Expect {
    Expect::Recovers { attempts, min_gap }
}

fn fails(attempts: u32, class: ErrorClass, kind: Kind) -> Expect {
    Expect::Fails {
        attempts,
        class,
        kind,
    }
}

/// Every fault of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `500` with the API's JSON error body (`EMU500`), once.
    Status500Json,
    /// `502` with a proxy's HTML page, on every attempt.
    Status502Html,
    /// `503`, empty body, `Retry-After: 1`, once.
    Status503RetryAfter,
    /// `504` (HTML) after 300 ms, once.
    Status504Late,
    /// `429 AA001`: the key's quota is spent.
    Aa001,
    /// `403 IAM002`: the key lacks the permission.
    Iam002,
    /// `401 IAM001`: a wrong secret.
    Iam001,
    /// `U007`: no credits left.
    U007,
    /// An error code and a status nobody documented (`463 ZZ042`).
    UnknownCode,
    /// Nothing listens: the connection is refused.
    Refused,
    /// The connection reset before any answer, once.
    ResetBeforeAnswer,
    /// Half the answer's body, then a reset, once.
    ResetMidBody,
    /// A `Content-Length` larger than the body that arrives, once.
    Truncated,
    /// No answer within the request timeout, once.
    SlowAnswer,
    /// The server stops reading the upload past the upload timeout, once.
    StallMidUpload,
    /// `200` whose body is not JSON (a captive portal's page), once.
    NotJson,
    /// `200` whose JSON lacks a required field, once.
    MissingField,
    /// `200` with a body over the 16 MiB cap, once.
    OverCap,
    /// `307` to another host.
    Redirect,
    /// S3's `403 SignatureDoesNotMatch`.
    SignatureDoesNotMatch,
    /// S3's `403 AccessDenied`, "Request has expired".
    AccessDeniedExpired,
    /// S3's `400 EntityTooLarge`.
    EntityTooLarge,
    /// S3's `404 NoSuchKey` (the record was deleted).
    NoSuchKey,
    /// S3's `503 SlowDown` with `Retry-After: 1`, once.
    SlowDown,
    /// A kept-alive connection the server closed while it was idle in the
    /// client's pool.
    IdleClosed,
    /// S3 refuses a large upload on its head (an expired URL) and closes
    /// without reading the body.
    RefusedEarly,
    /// `503` with `Retry-After: 99999`, once.
    HugeRetryAfter,
    /// A list that ignores `offset` while echoing it, claiming 10⁹ records.
    IgnoreOffset,
    /// A list that lags: every record `UPLOADED` while the record says
    /// `PROCESSED`.
    StaleList,
    /// `200` whose record's `mid` is `..`, once.
    DotMid,
    /// The server stops reading the upload, with no overall upload timeout:
    /// the stall timeout ends the attempt.
    UploadStall,
    /// `429` without the API's error body (a gateway's throttle), on every
    /// attempt.
    Throttled,
    /// An upload URL in plain `http` to a host that is not this machine.
    PlainHttp,
}

impl Fault {
    /// Every fault, in the table's order.
    pub const ALL: [Fault; 33] = [
        Fault::Status500Json,
        Fault::Status502Html,
        Fault::Status503RetryAfter,
        Fault::Status504Late,
        Fault::Aa001,
        Fault::Iam002,
        Fault::Iam001,
        Fault::U007,
        Fault::UnknownCode,
        Fault::Refused,
        Fault::ResetBeforeAnswer,
        Fault::ResetMidBody,
        Fault::Truncated,
        Fault::SlowAnswer,
        Fault::StallMidUpload,
        Fault::NotJson,
        Fault::MissingField,
        Fault::OverCap,
        Fault::Redirect,
        Fault::SignatureDoesNotMatch,
        Fault::AccessDeniedExpired,
        Fault::EntityTooLarge,
        Fault::NoSuchKey,
        Fault::SlowDown,
        Fault::IdleClosed,
        Fault::RefusedEarly,
        Fault::HugeRetryAfter,
        Fault::IgnoreOffset,
        Fault::StaleList,
        Fault::DotMid,
        Fault::UploadStall,
        Fault::Throttled,
        Fault::PlainHttp,
    ];

    /// The fault in the table.
    pub fn label(self) -> &'static str {
        match self {
            Fault::Status500Json => "500, JSON error body",
            Fault::Status502Html => "502, a proxy's HTML page (every attempt)",
            Fault::Status503RetryAfter => "503, empty, `Retry-After: 1`",
            Fault::Status504Late => "504 after 300 ms",
            Fault::Aa001 => "429 `AA001` (quota spent)",
            Fault::Iam002 => "403 `IAM002` (permission missing; `FORBIDDEN` on jobs)",
            Fault::Iam001 => "401 `IAM001` (wrong secret; `INVALID_API_KEY` on jobs)",
            Fault::U007 => "`U007` (no credits; `INSUFFICIENT_BALANCE` at a job's finalize)",
            Fault::UnknownCode => "unknown code `ZZ042`, unknown status 463",
            Fault::Refused => "connection refused",
            Fault::ResetBeforeAnswer => "reset before any answer",
            Fault::ResetMidBody => "reset in the middle of the body",
            Fault::Truncated => "truncated body (`Content-Length` larger than what arrives)",
            Fault::SlowAnswer => "answer slower than the request timeout",
            Fault::StallMidUpload => "stall mid-upload past the upload timeout",
            Fault::NotJson => "200 whose body is not JSON",
            Fault::MissingField => {
                "200 whose JSON lacks a required field (and holds a pre-signed URL)"
            }
            Fault::OverCap => "200 over the 16 MiB body cap",
            Fault::Redirect => "307 to another host",
            Fault::SignatureDoesNotMatch => "S3 403 `SignatureDoesNotMatch`",
            Fault::AccessDeniedExpired => "S3 403 `AccessDenied` (expired)",
            Fault::EntityTooLarge => "S3 400 `EntityTooLarge`",
            Fault::NoSuchKey => "S3 404 `NoSuchKey`",
            Fault::SlowDown => "S3 503 `SlowDown`, `Retry-After: 1`",
            Fault::IdleClosed => "pooled keep-alive connection closed while idle",
            Fault::RefusedEarly => {
                "S3 403 `AccessDenied` on the head of a 16 MiB upload (answered before the body, then closed)"
            }
            Fault::HugeRetryAfter => "503, empty, `Retry-After: 99999`",
            Fault::IgnoreOffset => {
                "a list that ignores `offset` but echoes it (claims 10⁹ records)"
            }
            Fault::StaleList => {
                "a list that lags (`UPLOADED`) behind `GET /media/{mid}` (`PROCESSED`)"
            }
            Fault::DotMid => "200 whose record's `mid` (a job's id) is `..`",
            Fault::UploadStall => {
                "stall mid-upload past the upload stall timeout (no overall upload timeout)"
            }
            Fault::Throttled => "429 without a code (a gateway's throttle, every attempt)",
            Fault::PlainHttp => "an `http://` upload URL to another host",
        }
    }

    /// The steps it strikes and the outcome on each: `/media`'s, then the
    /// jobs API's.
    pub fn rows(self) -> Vec<(Step, Expect)> {
        let mut rows = self.media_rows();
        rows.extend(self.job_rows());
        rows
    }

    /// The jobs API's steps it strikes and the outcome on each. Never a
    /// create sent twice (it would make a second job); a cancel is retried
    /// (a retry finding the job cancelled has succeeded); a finalize that
    /// may have been taken is resent only after a read of the job found it
    /// still waiting, after the policy's backoff or `Retry-After`, within
    /// its attempts.
    fn job_rows(self) -> Vec<(Step, Expect)> {
        use ErrorClass::{Authentication, Credits, InvalidInput, NotFound, Permission, Server};
        use Step::*;
        use TransportErrorKind::{Connect, Interrupted, Timeout};
        let all = policy().max_attempts;
        let api = [JobCreate, JobGet, JobList, JobCancel, JobDelete];
        let each = |steps: &[Step], expect: Expect| -> Vec<(Step, Expect)> {
            steps.iter().map(|s| (*s, expect)).collect()
        };
        // The API steps and one more.
        let plus = |extra: Step| -> Vec<Step> {
            let mut steps = api.to_vec();
            steps.push(extra);
            steps
        };
        let network = |kind| fails(1, ErrorClass::Network, Kind::Network(kind));
        // An answer lost, cut or late: the create fails (never sent twice),
        // the finalize is read and waited for, the others retried once.
        let lost = |create: Expect, others: &[Step]| -> Vec<(Step, Expect)> {
            let mut rows = vec![(JobCreate, create), (JobFinalize, ok(1))];
            rows.extend(each(others, ok(2)));
            rows
        };
        match self {
            // Finalized, the answer lost: read (queued), then waited for;
            // cancelled, the answer lost: the retry finds it cancelled.
            Fault::Status500Json => {
                lost(fails(1, Server, Kind::Api(500, "EMU500")), &Step::JOBS[2..])
            }
            Fault::Status502Html => vec![
                (JobCreate, fails(1, Server, Kind::Http(502))),
                (JobSlot, fails(all, Server, Kind::Upload(502, ""))),
                (JobSlotSecond, fails(all, Server, Kind::Upload(502, ""))),
                (JobFinalize, fails(all, Server, Kind::Http(502))),
                (JobGet, fails(all, Server, Kind::Http(502))),
                (JobList, fails(all, Server, Kind::Http(502))),
                (JobCancel, fails(all, Server, Kind::Http(502))),
                (JobDelete, fails(all, Server, Kind::Http(502))),
                (JobWait, ok(all + 1)),
                (JobArtifact, fails(all, Server, Kind::Http(502))),
            ],
            Fault::Status503RetryAfter => {
                let mut rows = vec![(JobCreate, fails(1, Server, Kind::Http(503)))];
                // Every step but the create.
                rows.extend(each(&Step::JOBS[1..], ok_after(2, RETRY_AFTER)));
                rows
            }
            Fault::Status504Late => {
                let mut rows = vec![(JobCreate, fails(1, Server, Kind::Http(504)))];
                rows.extend(each(
                    &[
                        JobSlot,
                        JobFinalize,
                        JobGet,
                        JobList,
                        JobCancel,
                        JobDelete,
                        JobArtifact,
                    ],
                    ok(2),
                ));
                rows
            }
            // Generation 2 has no quotas.
            Fault::Aa001 => vec![],
            Fault::Iam002 => each(&api, fails(1, Permission, Kind::Api(403, "FORBIDDEN"))),
            Fault::Iam001 => each(
                &api,
                fails(1, Authentication, Kind::Api(401, "INVALID_API_KEY")),
            ),
            Fault::U007 => vec![(
                JobFinalize,
                fails(1, Credits, Kind::Api(402, "INSUFFICIENT_BALANCE")),
            )],
            Fault::UnknownCode => each(
                &plus(JobFinalize),
                fails(1, InvalidInput, Kind::Api(463, "ZZ042")),
            ),
            Fault::Refused => each(
                &plus(JobArtifact),
                fails(all, ErrorClass::Network, Kind::Network(Connect)),
            ),
            Fault::ResetBeforeAnswer => lost(network(Interrupted), &Step::JOBS[2..]),
            Fault::ResetMidBody | Fault::Truncated => lost(
                network(Interrupted),
                &[JobGet, JobList, JobCancel, JobWait, JobArtifact],
            ),
            Fault::SlowAnswer => lost(
                network(Timeout),
                &[JobGet, JobList, JobCancel, JobDelete, JobWait, JobArtifact],
            ),
            Fault::StallMidUpload | Fault::UploadStall => each(&[JobSlot, JobSlotSecond], ok(2)),
            Fault::NotJson => vec![
                (JobCreate, fails(1, Server, Kind::Decode(200))),
                (JobSlot, fails(1, Server, Kind::Upload(200, ""))),
                // Taken (a 200): read, then waited for.
                (JobFinalize, ok(1)),
                (JobGet, fails(1, Server, Kind::Decode(200))),
                (JobList, fails(1, Server, Kind::Decode(200))),
                (JobCancel, fails(1, Server, Kind::Decode(200))),
                (JobDelete, fails(1, Server, Kind::Decode(200))),
            ],
            Fault::MissingField | Fault::OverCap => vec![
                (JobCreate, fails(1, Server, Kind::Decode(200))),
                (JobFinalize, ok(1)),
                (JobGet, fails(1, Server, Kind::Decode(200))),
                (JobList, fails(1, Server, Kind::Decode(200))),
            ],
            Fault::Redirect => {
                let mut rows = each(&plus(JobFinalize), fails(1, Server, Kind::Http(307)));
                rows.push((JobSlot, fails(1, Server, Kind::Upload(307, ""))));
                rows.push((JobArtifact, fails(1, Server, Kind::Http(307))));
                rows
            }
            Fault::SignatureDoesNotMatch => vec![
                (
                    JobSlot,
                    fails(1, InvalidInput, Kind::Upload(403, "SignatureDoesNotMatch")),
                ),
                (
                    JobSlotSecond,
                    fails(1, InvalidInput, Kind::Upload(403, "SignatureDoesNotMatch")),
                ),
                (JobArtifact, fails(1, InvalidInput, Kind::Http(403))),
            ],
            Fault::AccessDeniedExpired => vec![
                (
                    JobSlot,
                    fails(1, InvalidInput, Kind::Upload(403, "AccessDenied")),
                ),
                (JobArtifact, fails(1, InvalidInput, Kind::Http(403))),
            ],
            Fault::EntityTooLarge => vec![(
                JobSlot,
                fails(1, InvalidInput, Kind::Upload(400, "EntityTooLarge")),
            )],
            Fault::NoSuchKey => vec![
                (
                    JobSlot,
                    fails(1, InvalidInput, Kind::Upload(404, "NoSuchKey")),
                ),
                (JobArtifact, fails(1, NotFound, Kind::Http(404))),
            ],
            Fault::SlowDown => vec![
                (JobSlot, ok_after(2, RETRY_AFTER)),
                (JobSlotSecond, ok_after(2, RETRY_AFTER)),
                (JobArtifact, ok_after(2, RETRY_AFTER)),
            ],
            Fault::IdleClosed => each(&plus(JobArtifact), ok(1)),
            Fault::RefusedEarly => vec![(
                JobSlot,
                fails(1, InvalidInput, Kind::Upload(403, "AccessDenied")),
            )],
            // Past the policy's most: the finalize is not resent (the job
            // read, still waiting), a wait polls again later.
            Fault::HugeRetryAfter => vec![
                (JobFinalize, fails(1, Server, Kind::Http(503))),
                (JobGet, fails(1, Server, Kind::Http(503))),
                (JobWait, ok(2)),
            ],
            // A throttle refused the request: even a create is sent again.
            Fault::Throttled => each(
                &[JobCreate, JobFinalize, JobGet, JobList],
                fails(all, Server, Kind::Http(429)),
            ),
            Fault::DotMid => each(
                &[JobCreate, JobGet, JobList],
                fails(1, Server, Kind::Decode(200)),
            ),
            // `GET /media`'s faults; the upload URL of a job is the server's.
            Fault::IgnoreOffset | Fault::StaleList | Fault::PlainHttp => vec![],
        }
    }

    /// `/media`'s steps it strikes and the outcome on each.
    fn media_rows(self) -> Vec<(Step, Expect)> {
        use ErrorClass::{
            Authentication, Credits, InvalidInput, NotFound, Permission, Quota, Server,
        };
        use Step::*;
        use TransportErrorKind::{Connect, Interrupted, Timeout};
        let all = policy().max_attempts;
        let api = [Create, Get, List, Delete];
        let api_rows = |expect: &dyn Fn(Step) -> Expect| -> Vec<(Step, Expect)> {
            api.iter().map(|s| (*s, expect(*s))).collect()
        };
        match self {
            Fault::Status500Json => vec![
                (Create, fails(1, Server, Kind::Api(500, "EMU500"))),
                (Get, ok(2)),
                (List, ok(2)),
                (Delete, ok(2)),
                (Upload, ok(2)),
                (Result, ok(2)),
                (Heatmap, ok(2)),
                (Wait, ok(2)),
            ],
            Fault::Status502Html => vec![
                (Create, fails(1, Server, Kind::Http(502))),
                (Get, fails(all, Server, Kind::Http(502))),
                (List, fails(all, Server, Kind::Http(502))),
                (Delete, fails(all, Server, Kind::Http(502))),
                (Upload, fails(all, Server, Kind::Upload(502, ""))),
                (UploadStream, fails(1, Server, Kind::Upload(502, ""))),
                (Result, fails(all, Server, Kind::Http(502))),
                (Heatmap, fails(all, Server, Kind::Http(502))),
                // Each poll's retries spent, the wait polls again later.
                (Wait, ok(all + 1)),
            ],
            Fault::Status503RetryAfter => vec![
                (Create, fails(1, Server, Kind::Http(503))),
                (Get, ok_after(2, RETRY_AFTER)),
                (List, ok_after(2, RETRY_AFTER)),
                (Delete, ok_after(2, RETRY_AFTER)),
                (Upload, ok_after(2, RETRY_AFTER)),
                (Result, ok_after(2, RETRY_AFTER)),
                (Heatmap, ok_after(2, RETRY_AFTER)),
                (Wait, ok_after(2, RETRY_AFTER)),
            ],
            Fault::Status504Late => vec![
                (Create, fails(1, Server, Kind::Http(504))),
                (Get, ok(2)),
                (List, ok(2)),
                (Delete, ok(2)),
                (Upload, ok(2)),
                (Result, ok(2)),
                (Heatmap, ok(2)),
            ],
            Fault::Aa001 => api_rows(&|_| fails(1, Quota, Kind::Api(429, "AA001"))),
            Fault::Iam002 => api_rows(&|_| fails(1, Permission, Kind::Api(403, "IAM002"))),
            Fault::Iam001 => api_rows(&|_| fails(1, Authentication, Kind::Api(401, "IAM001"))),
            Fault::U007 => vec![(Create, fails(1, Credits, Kind::Api(402, "U007")))],
            Fault::UnknownCode => api_rows(&|_| fails(1, InvalidInput, Kind::Api(463, "ZZ042"))),
            Fault::Refused => [Create, Get, List, Delete, Upload, Result, Heatmap]
                .into_iter()
                .map(|s| (s, fails(all, ErrorClass::Network, Kind::Network(Connect))))
                .collect(),
            Fault::ResetBeforeAnswer => vec![
                (
                    Create,
                    fails(1, ErrorClass::Network, Kind::Network(Interrupted)),
                ),
                (Get, ok(2)),
                (List, ok(2)),
                (Delete, ok(2)),
                (Upload, ok(2)),
                (
                    UploadStream,
                    fails(1, ErrorClass::Network, Kind::Network(Interrupted)),
                ),
                (Result, ok(2)),
                (Heatmap, ok(2)),
                (Wait, ok(2)),
            ],
            Fault::ResetMidBody | Fault::Truncated => vec![
                (
                    Create,
                    fails(1, ErrorClass::Network, Kind::Network(Interrupted)),
                ),
                (Get, ok(2)),
                (List, ok(2)),
                (Result, ok(2)),
                (Heatmap, ok(2)),
            ],
            Fault::SlowAnswer => vec![
                (
                    Create,
                    fails(1, ErrorClass::Network, Kind::Network(Timeout)),
                ),
                (Get, ok(2)),
                (List, ok(2)),
                (Delete, ok(2)),
                (Result, ok(2)),
                (Heatmap, ok(2)),
                (Wait, ok(2)),
            ],
            Fault::StallMidUpload | Fault::UploadStall => vec![
                (Upload, ok(2)),
                (
                    UploadStream,
                    fails(1, ErrorClass::Network, Kind::Network(Timeout)),
                ),
            ],
            Fault::NotJson => vec![
                (Create, fails(1, Server, Kind::Decode(200))),
                // No ETag: not counted as stored.
                (Upload, fails(1, Server, Kind::Upload(200, ""))),
                (Get, fails(1, Server, Kind::Decode(200))),
                (List, fails(1, Server, Kind::Decode(200))),
                (Delete, fails(1, Server, Kind::Decode(200))),
                (Result, fails(1, Server, Kind::Decode(200))),
            ],
            Fault::MissingField => vec![
                (Create, fails(1, Server, Kind::Decode(200))),
                (Get, fails(1, Server, Kind::Decode(200))),
                (List, fails(1, Server, Kind::Decode(200))),
            ],
            Fault::OverCap => vec![
                (Create, fails(1, Server, Kind::Decode(200))),
                (Get, fails(1, Server, Kind::Decode(200))),
                (List, fails(1, Server, Kind::Decode(200))),
                (Result, fails(1, Server, Kind::Decode(200))),
            ],
            Fault::Redirect => vec![
                (Create, fails(1, Server, Kind::Http(307))),
                (Get, fails(1, Server, Kind::Http(307))),
                (List, fails(1, Server, Kind::Http(307))),
                (Delete, fails(1, Server, Kind::Http(307))),
                (Upload, fails(1, Server, Kind::Upload(307, ""))),
                (Result, fails(1, Server, Kind::Http(307))),
                (Heatmap, fails(1, Server, Kind::Http(307))),
            ],
            Fault::SignatureDoesNotMatch => vec![
                (
                    Upload,
                    fails(1, InvalidInput, Kind::Upload(403, "SignatureDoesNotMatch")),
                ),
                (Result, fails(1, InvalidInput, Kind::Http(403))),
                (Heatmap, fails(1, InvalidInput, Kind::Http(403))),
            ],
            Fault::AccessDeniedExpired => vec![
                (
                    Upload,
                    fails(1, InvalidInput, Kind::Upload(403, "AccessDenied")),
                ),
                (Result, fails(1, InvalidInput, Kind::Http(403))),
                (Heatmap, fails(1, InvalidInput, Kind::Http(403))),
            ],
            Fault::EntityTooLarge => vec![(
                Upload,
                fails(1, InvalidInput, Kind::Upload(400, "EntityTooLarge")),
            )],
            Fault::NoSuchKey => vec![
                (
                    Upload,
                    fails(1, InvalidInput, Kind::Upload(404, "NoSuchKey")),
                ),
                (Result, fails(1, NotFound, Kind::Http(404))),
                (Heatmap, fails(1, NotFound, Kind::Http(404))),
            ],
            Fault::SlowDown => vec![
                (Upload, ok_after(2, RETRY_AFTER)),
                (
                    UploadStream,
                    fails(1, Server, Kind::Upload(503, "SlowDown")),
                ),
                (Result, ok_after(2, RETRY_AFTER)),
                (Heatmap, ok_after(2, RETRY_AFTER)),
            ],
            Fault::IdleClosed => [Create, Get, List, Delete, Upload, Result, Heatmap]
                .into_iter()
                .map(|s| (s, ok(1)))
                .collect(),
            Fault::RefusedEarly => [Upload, UploadStream]
                .into_iter()
                .map(|s| (s, fails(1, InvalidInput, Kind::Upload(403, "AccessDenied"))))
                .collect(),
            // More than the retry policy takes: the call reports it; a wait
            // polls again later, within its own deadline.
            Fault::HugeRetryAfter => vec![(Get, fails(1, Server, Kind::Http(503))), (Wait, ok(2))],
            Fault::IgnoreOffset => vec![(ListAll, fails(2, Server, Kind::Decode(200)))],
            // A throttle, not a spent quota.
            Fault::Throttled => vec![
                (Get, fails(all, Server, Kind::Http(429))),
                (List, fails(all, Server, Kind::Http(429))),
            ],
            Fault::PlainHttp => vec![(Upload, fails(0, Server, Kind::Decode(200)))],
            // The list read until it has not moved for STALE_LIST_READS
            // reads, then one GET per record.
            Fault::StaleList => vec![(Batch, ok(STALE_LIST_READS + 1 + 2))],
            // Never a path segment: no `GET /api/media/..` follows.
            Fault::DotMid => [Create, Get, List]
                .into_iter()
                .map(|s| (s, fails(1, Server, Kind::Decode(200))))
                .collect(),
        }
    }
}

/// Whether the fault is made by the real server (or network) refusing,
/// rather than injected by the emulator's fault layer.
fn is_natural(fault: Fault, step: Step) -> bool {
    match fault {
        Fault::Aa001
        | Fault::Iam002
        | Fault::Iam001
        | Fault::U007
        | Fault::Refused
        | Fault::RefusedEarly
        | Fault::PlainHttp => true,
        Fault::AccessDeniedExpired => matches!(step, Step::Upload | Step::JobSlot),
        Fault::NoSuchKey => step == Step::Upload,
        _ => false,
    }
}

/// When an injected fault strikes the step's request: a create is struck
/// after the server created the record where that is the risky case (the
/// answer is lost, the record exists); an upload's answer is replaced once
/// its body was read (a server that answers before reading the body and
/// closes makes a client fail writing or read the answer, by chance);
/// otherwise before the server acts.
pub fn stage(fault: Fault, step: Step) -> FaultStage {
    use Fault::*;
    let replaces_answer = matches!(
        fault,
        Status500Json
            | Status502Html
            | Status503RetryAfter
            | Status504Late
            | UnknownCode
            | NotJson
            | MissingField
            | OverCap
            | Redirect
            | SignatureDoesNotMatch
            | AccessDeniedExpired
            | EntityTooLarge
            | NoSuchKey
            | SlowDown
    );
    let lost_answer = matches!(
        fault,
        Status500Json | ResetBeforeAnswer | MissingField | OverCap
    );
    match step {
        Step::Create | Step::JobCreate if lost_answer => FaultStage::After,
        // The finalize taken, its answer lost, unreadable or late.
        Step::JobFinalize if lost_answer || matches!(fault, NotJson | SlowAnswer) => {
            FaultStage::After
        }
        Step::JobCancel if matches!(fault, Status500Json | ResetBeforeAnswer) => FaultStage::After,
        Step::Upload | Step::UploadStream | Step::JobSlot | Step::JobSlotSecond
            if replaces_answer =>
        {
            FaultStage::After
        }
        _ => FaultStage::Before,
    }
}

/// Whether the row's own call creates a record (or a job) on the server
/// before the fault strikes (checked: exactly one more).
pub fn creates_record(fault: Fault, step: Step) -> bool {
    // `truncate` and `resetMidBody` always let the server handle the
    // request: they cut its real answer.
    matches!(step, Step::Create | Step::JobCreate)
        && !is_natural(fault, step)
        && (stage(fault, step) == FaultStage::After
            || matches!(fault, Fault::ResetMidBody | Fault::Truncated))
}

/// Whether a request the injected fault struck was handled by the server
/// all the same (struck after, or a fault that cuts or delays the real
/// answer).
pub fn handles(fault: Fault, step: Step) -> bool {
    stage(fault, step) == FaultStage::After
        || matches!(
            fault,
            Fault::ResetMidBody | Fault::Truncated | Fault::SlowAnswer | Fault::StallMidUpload
        )
}

/// How the row makes the fault happen.
pub fn how(fault: Fault, step: Step) -> String {
    let natural = match (fault, step) {
        (Fault::Aa001, Step::Create | Step::Delete) => Some("a key whose mutation quota is 0"),
        (Fault::Aa001, _) => Some("a key whose query quota is 0"),
        (Fault::Iam002, Step::Create | Step::JobCreate | Step::JobCancel) => {
            Some("a key without `Write`")
        }
        (Fault::Iam002, Step::Delete | Step::JobDelete) => Some("a key without `Delete`"),
        (Fault::Iam002, _) => Some("a key without `Read`"),
        (Fault::Iam001, s) if s.is_job() => Some("a wrong API key"),
        (Fault::Iam001, _) => Some("a wrong client secret"),
        (Fault::U007, _) => Some("no credits left (the emulator answers HTTP 402)"),
        (Fault::Refused, Step::Upload) => Some("the upload URL on a closed port"),
        (Fault::Refused, Step::Result | Step::Heatmap | Step::JobArtifact) => {
            Some("the download URL on a closed port")
        }
        (Fault::Refused, _) => Some("the base URL on a closed port"),
        (Fault::AccessDeniedExpired, Step::Upload | Step::JobSlot) => {
            Some("S3 itself: upload URLs signed 2 h ago for 1 h")
        }
        (Fault::NoSuchKey, Step::Upload) => Some("S3 itself: the record deleted before its upload"),
        (Fault::PlainHttp, _) => Some("the upload URL moved to `http://example.invalid`"),
        (Fault::RefusedEarly, _) => Some(
            "S3 itself: upload URLs signed 2 h ago for 1 h, refused on the head (with `Expect: 100-continue`, instead of `100 Continue`)",
        ),
        (Fault::IdleClosed, _) => {
            Some("`closeIdle` on the client's previous request to the host, then 300 ms idle")
        }
        _ => None,
    };
    if let Some(natural) = natural {
        return natural.to_owned();
    }
    let (kind, times) = match fault {
        Fault::Status500Json
        | Fault::Status503RetryAfter
        | Fault::Status504Late
        | Fault::HugeRetryAfter => ("status", 1),
        Fault::Status502Html | Fault::Throttled => ("status", policy().max_attempts),
        Fault::UnknownCode | Fault::MissingField | Fault::DotMid => ("respond", 1),
        Fault::ResetBeforeAnswer => ("reset", 1),
        Fault::ResetMidBody => ("resetMidBody", 1),
        Fault::Truncated => ("truncate", 1),
        Fault::SlowAnswer => ("delay", 1),
        Fault::StallMidUpload | Fault::UploadStall => ("stallBody", 1),
        Fault::NotJson => ("notJson", 1),
        Fault::OverCap => ("oversized", 1),
        Fault::Redirect => ("redirect", policy().max_attempts),
        Fault::SignatureDoesNotMatch
        | Fault::AccessDeniedExpired
        | Fault::EntityTooLarge
        | Fault::NoSuchKey => ("s3Error", 1),
        Fault::SlowDown => ("slowDown", 1),
        Fault::IgnoreOffset | Fault::StaleList => (
            if fault == Fault::StaleList {
                "staleList"
            } else {
                "ignoreOffset"
            },
            IGNORED_PAGES,
        ),
        _ => unreachable!("a natural fault"),
    };
    let mut text = format!("`{kind}`");
    if fault == Fault::Status504Late {
        text.push_str(" with `delayMillis`");
    }
    text.push_str(if times == 1 {
        ", once"
    } else {
        ", every attempt"
    });
    if fault == Fault::Redirect {
        text.push_str(", to a listener on another port");
    }
    if step == Step::JobSlotSecond {
        text.push_str(", on the second slot's `PUT` (the first let through)");
    }
    if stage(fault, step) == FaultStage::After || creates_record(fault, step) {
        text.push_str(match step {
            Step::Create => ", after the record is created",
            Step::JobCreate => ", after the job is created",
            Step::JobFinalize => ", after the job is finalized",
            Step::JobCancel => ", after the job is cancelled",
            _ => ", once the body is read",
        });
    }
    text
}

/// Every row of the matrix.
pub fn rows() -> Vec<(Fault, Step, Expect)> {
    Fault::ALL
        .iter()
        .flat_map(|f| f.rows().into_iter().map(|(s, e)| (*f, s, e)))
        .collect()
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The outcome in words.
pub fn describe(fault: Fault, step: Step, expect: Expect) -> String {
    let text = describe_outcome(fault, expect);
    // Handled before the retry: a cancel struck after, or its answer cut.
    let cancelled_first = stage(fault, step) == FaultStage::After
        || matches!(fault, Fault::ResetMidBody | Fault::Truncated);
    if step == Step::JobCancel
        && cancelled_first
        && matches!(expect, Expect::Recovers { attempts: 2.., .. })
    {
        return format!("{text}; the retry finds the job cancelled: done");
    }
    if step != Step::JobFinalize {
        return text;
    }
    match expect {
        Expect::Recovers { attempts: 1, .. } => {
            "succeeds, 1 finalize: the job read (finalized), then waited for".to_owned()
        }
        Expect::Recovers { .. } | Expect::Fails { attempts: 2.., .. } => {
            format!("{text}; each resend after a read found the job waiting for it")
        }
        Expect::Fails { .. } => text,
    }
}

fn describe_outcome(fault: Fault, expect: Expect) -> String {
    match expect {
        Expect::Recovers { attempts: 1, .. } => "succeeds, 1 request".to_owned(),
        Expect::Recovers { attempts, .. } if fault == Fault::StaleList => format!(
            "succeeds: {} list pages, then one `GET /media/{{mid}}` per record ({attempts} requests)",
            STALE_LIST_READS + 1
        ),
        Expect::Recovers { attempts, min_gap } => {
            let mut text = format!("retried to success: {attempts} requests");
            if min_gap > Duration::ZERO {
                text.push_str(&format!(
                    ", ≥ {} s apart (`Retry-After`)",
                    min_gap.as_secs()
                ));
            } else {
                text.push_str(", backoff ≤ 40 ms");
            }
            text
        }
        Expect::Fails {
            attempts,
            class,
            kind,
        } => {
            let error = match kind {
                Kind::Api(status, code) => format!("`ProtocolError::Api` {status} `{code}`"),
                Kind::Http(status) => format!("`ProtocolError::Http` {status}"),
                Kind::Upload(status, "") => format!("`ProtocolError::Upload` {status}, no S3 code"),
                Kind::Upload(status, code) => format!("`ProtocolError::Upload` {status} `{code}`"),
                Kind::Decode(status) => format!("`ProtocolError::Decode` (status {status})"),
                Kind::Network(kind) => format!("`Error::Transport` `{kind:?}`"),
            };
            let sent = if attempts == 0 {
                "none sent (refused before the request)".to_owned()
            } else if fault == Fault::Refused {
                format!(
                    "{attempts} attempt{} (none reach the server)",
                    plural(attempts)
                )
            } else {
                format!("{attempts} request{}", plural(attempts))
            };
            match attempts {
                0 => format!("fails: {error}, class `{class:?}`, {sent}"),
                _ => format!("fails: {error}, class `{class:?}`, after {sent}"),
            }
        }
    }
}

/// The clients every row runs on.
pub const CLIENTS: [&str; 3] = [
    "`authenta_ureq::Client`",
    "`authenta_reqwest::Client`",
    "`authenta_client::Client` over the `TcpStream` client (`TcpClient`)",
];

/// RELIABILITY.md, from the rows.
pub fn render() -> String {
    let rows = rows();
    let attempts: u32 = rows
        .iter()
        .map(|(_, _, e)| match e {
            Expect::Recovers { attempts, .. } | Expect::Fails { attempts, .. } => *attempts,
        })
        .sum();
    let mut out = String::new();
    out.push_str("<!-- Generated by `tests/tests/faults` from its matrix; do not edit.\n");
    out.push_str(
        "     Regenerate: AUTHENTA_BLESS=1 cargo test -p authenta-tests --test faults reliability -->\n\n",
    );
    out.push_str("# Reliability: the fault matrix\n\n");
    out.push_str(
        "Every way the network and the servers fail, against every step a client takes, \
with the outcome the contract calls for. Each row runs in `cargo test` \
(`cargo test -p authenta-tests --test faults`) against a fresh in-process \
emulator on loopback, on each of these clients:\n\n",
    );
    for client in CLIENTS {
        out.push_str(&format!("- {client}\n"));
    }
    out.push_str(&format!(
        "\n{} rows ({} distinct faults) × {} clients = {} runs; {} requests counted per client.\n\n",
        rows.len(),
        Fault::ALL.len(),
        CLIENTS.len(),
        rows.len() * CLIENTS.len(),
        attempts,
    ));
    out.push_str(
        "The retry policy under test: 3 attempts, full-jitter backoff with ceilings of \
20 and 40 ms, `Retry-After` honoured up to 5 s; the timeout rows use 500 ms request \
and upload timeouts (the stall row a 500 ms upload stall timeout alone). A request count is read from the emulator's logs (every \
request that reached it, faulted or not); where none reached it (a refused \
connection), from the failure's own attempt count. On every row, besides its \
outcome, the suite checks:\n\n\
- never a second `POST /media` for one call, and never a duplicate record;\n\
- every stored upload's SHA-256 equals the file's (no altered bytes), and a \
one-shot stream is sent once (never replayed);\n\
- a result or a record is never read from a partial body: what a recovered \
step returns equals what a clean one returns, and a failed heatmap download \
leaves no file behind;\n\
- the gap between two attempts is at least the server's `Retry-After` and at \
most that (or the backoff ceiling) plus the fault's own delay and a scheduling \
slack;\n\
- a typed error carries its class, status, code and the record's `mid` where \
there is one; a redirect is never followed (a listener at its `Location` \
sees no connection);\n\
- on the jobs rows (an API key: the jobs API is generation 2's): never a \
second `POST /v1/jobs` for one call, and never a duplicate job; a finalize \
is sent again only after a `GET` of the job found it still waiting for one, \
is never refused as finalized already (no 400), and a job spends at most one \
credit; a refused slot upload never finalizes (no finalize request, the job \
left `created` or `waiting_for_finalize`, no credit spent), and the slots \
before it stay stored; every slot's stored bytes are \
its file's; a failed artifact download leaves no file behind.\n\n\
On the finalize rows the requests counted are the finalizes; on the slot \
rows, the struck slot's `PUT`s.\n\n\
\"made by\" names the emulator's fault (`action.kind`, see \
`crates/authenta-emulator/README.md`) or the real refusal the row sets up.\n\n",
    );
    out.push_str(
        "Known limits, left as they are:\n\n\
- `authenta-reqwest` on a runtime that does not run between calls (a \
current-thread runtime driven by `block_on` per call) cannot see that the \
server closed a pooled connection while it was idle: a create sent on it \
fails with `Interrupted` after 1 request and is not retried, since it may \
have reached the server. The suite's async client keeps its runtime running \
(one worker thread), as an async program does.\n\
- A redirect's error is class `Server` (a 3xx is neither the caller's mistake \
nor a refusal).\n\
- The jobs API has no quotas (no `AA001` rows) and no offset (no \
`ignoreOffset`, `staleList` rows); its upload URLs are the server's (no \
`http://` row).\n\
- A finalize still on its way into the server when the client's timeout \
ends can be overtaken by the client's read of the job: the read finds the \
job waiting, the resend is taken, and the late one is refused (400; no \
credit spent twice). So the slow-answer row on finalize delays the answer \
of a finalize the server took.\n\n",
    );
    out.push_str("| fault | step | made by | outcome |\n|---|---|---|---|\n");
    for (fault, step, expect) in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            fault.label(),
            step.label(),
            how(*fault, *step),
            describe(*fault, *step, *expect)
        ));
    }
    out
}
