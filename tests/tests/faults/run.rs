//! Runs one row: a fresh emulator, the step's setup, the fault armed, the
//! step run once through the client, then the outcome and the invariants
//! checked on what the emulator logged and stored.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use authenta_emulator::{Fault as Injected, FaultAction, FaultBody, FaultStage, KeySpec};
use authenta_proto::types::{
    Artifact, ArtifactKind, CreatedMedia, Job, JobId, JobListQuery, JobParameters, JobStatus,
    ListQuery, Media, MediaId, Permission, ResultDocument, SlotName, TaskType,
};
use authenta_proto::{
    Credentials, Error, JobOptions, ProtocolError, UploadTarget, credentials::CredentialKind,
    jobs::JobFile,
};
use authenta_tests::env::{png_bytes, png_request};
use authenta_tests::{Backend, Env, Settings};

use crate::matrix::{
    Expect, Fault, IGNORED_PAGES, Kind, LARGE, LATE, RETRY_AFTER, SHORT_TIMEOUT, STALL, Step,
    policy,
};

/// The size of every file the rows upload.
const SIZE: usize = 64 * 1024;

/// Added to the longest gap the policy allows between two attempts: the
/// machine may be busy.
const SLACK: Duration = Duration::from_millis(1500);

/// How long an idle connection sits in the pool after the server said it
/// will close it (the emulator closes it about 100 ms after the answer).
const IDLE: Duration = Duration::from_millis(300);

/// Runs every row of `fault` on client `B`, each in its own thread with its
/// own emulator.
pub fn fault<B: Backend>(fault: Fault) {
    let rows = fault.rows();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .iter()
            .map(|(step, expect)| {
                scope.spawn(move || match step.is_job() {
                    // The jobs API is generation 2's: an API key.
                    true => authenta_tests::env::with_kind(CredentialKind::ApiKey, || {
                        row::<B>(fault, *step, *expect)
                    }),
                    false => row::<B>(fault, *step, *expect),
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&rows)
            .filter_map(|(handle, (step, _))| {
                handle.join().err().map(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    format!("{} / {fault:?} / {step:?}: {message}", B::NAME)
                })
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// What the step acts on, made before the fault is armed.
#[derive(Default)]
struct Fixture {
    /// The record of a get, delete, result or heatmap.
    mid: Option<MediaId>,
    /// The processed record of a result or heatmap.
    media: Option<Media>,
    /// The file an upload sends.
    file: Option<PathBuf>,
    /// Upload to this target instead of creating a record.
    target: Option<UploadTarget>,
    /// The result document read without a fault.
    document: Option<ResultDocument>,
    /// The heatmap downloaded without a fault.
    heatmap: Option<Vec<u8>>,
    /// The records of a batch.
    batch: Vec<MediaId>,
    /// The job of a job get, list, cancel, delete, wait or artifact.
    job: Option<JobId>,
    /// The files of a `run_job`, per slot.
    slots: Vec<(SlotName, PathBuf)>,
    /// The artifact downloaded (its URL moved by a row that needs it).
    artifact: Option<Artifact>,
    /// The artifact's bytes downloaded without a fault.
    artifact_bytes: Option<Vec<u8>>,
}

/// What the step returned.
enum Done {
    Created,
    Got(Box<Media>),
    Listed(Vec<MediaId>, u64),
    Deleted,
    Uploaded(Option<MediaId>),
    Document(Option<ResultDocument>),
    Heatmap(Option<u64>),
    Waited(Box<Media>),
    ListedAll(Vec<MediaId>),
    Batch(Vec<Media>),
    JobCreated,
    JobRan(Box<Job>),
    JobGot(Box<Job>),
    JobListed(Vec<JobId>, u64),
    JobCancelled(JobStatus),
    JobDeleted,
    JobWaited(Box<Job>),
    Artifact(Option<u64>),
}

/// The armed fault, and what the row must know of it.
#[derive(Default)]
struct Armed {
    /// The injected fault's id and strikes, to count the strikes taken.
    id: Option<(u64, u32)>,
    /// Another client's settings (another key, a closed port).
    settings: Option<Settings>,
    /// A listener at a redirect's `Location`: nothing may connect.
    trap: Option<TcpListener>,
    /// How long the fault itself holds an attempt.
    delay: Duration,
}

use authenta_tests::env::{ac1, sha256_hex};

/// The path of a URL (no scheme, host or query).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path).to_owned()
}

/// The same URL on another authority (`closed`).
fn refused(url: &str, closed: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("an absolute URL");
    let at = rest.find('/').unwrap_or(rest.len());
    format!("{scheme}://{closed}{}", &rest[at..])
}

/// An address where nothing listens (a port bound, then released).
fn closed_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// The method and path of a step's own request.
fn route(step: Step, fixture: &Fixture) -> (&'static str, String) {
    let mid = || fixture.mid.as_ref().expect("a record").as_str().to_owned();
    let media = || fixture.media.as_ref().expect("a processed record");
    let job = || fixture.job.as_ref().expect("a job").as_str().to_owned();
    match step {
        Step::Create => ("POST", "/api/media".to_owned()),
        Step::Get | Step::Wait => ("GET", format!("/api/media/{}", mid())),
        Step::List | Step::ListAll | Step::Batch => ("GET", "/api/media".to_owned()),
        Step::Delete => ("DELETE", format!("/api/media/{}", mid())),
        Step::Upload | Step::UploadStream => ("PUT", "/authenta-storage/".to_owned()),
        Step::Result => ("GET", path_of(media().result_url.as_deref().unwrap())),
        Step::Heatmap => ("GET", path_of(media().heatmap_url.as_deref().unwrap())),
        Step::JobCreate => ("POST", JOBS.to_owned()),
        Step::JobList => ("GET", JOBS.to_owned()),
        Step::JobGet | Step::JobWait => ("GET", format!("{JOBS}/{}", job())),
        Step::JobCancel => ("POST", format!("{JOBS}/{}/cancel", job())),
        Step::JobDelete => ("DELETE", format!("{JOBS}/{}", job())),
        // Whatever the job's id: the one finalize (or PUT) of the run.
        Step::JobFinalize => ("POST", format!("{JOBS}/")),
        Step::JobSlot | Step::JobSlotSecond => ("PUT", "/authenta-storage/".to_owned()),
        Step::JobArtifact => (
            "GET",
            path_of(
                fixture
                    .artifact
                    .as_ref()
                    .and_then(|a| a.download_url.as_deref())
                    .expect("an artifact"),
            ),
        ),
    }
}

/// The method and path the row counts: the step's own request, once
/// known (a `run_job`'s finalize and first slot are named after its job).
fn counted(env: &Env, step: Step, fixture: &Fixture) -> (&'static str, String) {
    let job = || env.emu.jobs().first().map(|j| j.id);
    match step {
        Step::JobCreate => ("POST", JOBS.to_owned()),
        Step::JobFinalize => (
            "POST",
            format!("{JOBS}/{}/finalize", job().unwrap_or_default()),
        ),
        Step::JobSlot | Step::JobSlotSecond => {
            let slot = match step {
                Step::JobSlot => "/original.media",
                _ => "/reference.media",
            };
            let path = env
                .emu
                .upload_requests()
                .into_iter()
                .map(|r| r.path)
                .find(|p| p.ends_with(slot));
            ("PUT", path.unwrap_or_else(|| "/nothing-sent".to_owned()))
        }
        _ => route(step, fixture),
    }
}

/// The jobs API's path.
const JOBS: &str = "/api/v1/jobs";

/// The size of the file a row uploads.
fn size(fault: Fault) -> usize {
    if fault == Fault::RefusedEarly {
        LARGE
    } else {
        SIZE
    }
}

fn setup<B: Backend>(env: &Env, client: &B, fault: Fault, step: Step) -> Fixture {
    let mut fixture = Fixture::default();
    match step {
        Step::Create => {}
        Step::Get | Step::List | Step::Delete | Step::ListAll => {
            let created = client.create(png_request("setup.png", 100)).unwrap();
            fixture.mid = Some(created.media.mid);
        }
        Step::Batch => {
            for name in ["one.png", "two.png"] {
                let media = client.process(&env.png(name, SIZE), &ac1()).unwrap();
                fixture.batch.push(media.mid);
            }
        }
        Step::Wait => {
            // Final already: the wait's first poll that gets through ends it.
            let media = client
                .process(&env.png("processed.png", SIZE), &ac1())
                .unwrap();
            fixture.mid = Some(media.mid);
        }
        Step::Upload | Step::UploadStream => {
            fixture.file = Some(env.png("photo.png", size(fault)));
        }
        Step::Result | Step::Heatmap => {
            let media = client
                .process(&env.png("processed.png", SIZE), &ac1())
                .unwrap();
            fixture.document = client.result(&media).unwrap();
            let clean = env.dir.path().join("clean.png");
            client.download_heatmap(&media, &clean).unwrap().unwrap();
            fixture.heatmap = Some(std::fs::read(&clean).unwrap());
            fixture.mid = Some(media.mid.clone());
            fixture.media = Some(media);
        }
        Step::JobCreate => {}
        Step::JobGet | Step::JobList | Step::JobCancel | Step::JobDelete => {
            let created = client
                .create_job(TaskType::AiImageDetection, &[job_file("setup.png")])
                .unwrap();
            fixture.job = Some(created.job.id);
        }
        Step::JobSlot | Step::JobSlotSecond => {
            fixture.slots = vec![
                (SlotName::Original, env.png("original.png", size(fault))),
                (
                    SlotName::Reference,
                    env.png("reference.png", REFERENCE_SIZE),
                ),
            ];
        }
        Step::JobFinalize => {
            fixture.slots = vec![(SlotName::Original, env.png("photo.png", SIZE))];
        }
        Step::JobWait | Step::JobArtifact => {
            let file = env.png("processed.png", SIZE);
            let job = client
                .run_job(
                    TaskType::AiImageDetection,
                    &[(SlotName::Original, file)],
                    &JobOptions::new(),
                )
                .unwrap();
            let artifact = job
                .artifacts
                .iter()
                .find(|a| a.kind == Some(ArtifactKind::Heatmap))
                .cloned()
                .expect("a heatmap artifact");
            let clean = env.dir.path().join("clean.png");
            client
                .download_artifact(&artifact, &clean)
                .unwrap()
                .unwrap();
            fixture.artifact_bytes = Some(std::fs::read(&clean).unwrap());
            fixture.artifact = Some(artifact);
            fixture.job = Some(job.id);
        }
    }
    fixture
}

/// The size of a two-slot job's reference image.
const REFERENCE_SIZE: usize = 8 * 1024;

/// A small PNG for a job's original slot.
fn job_file(name: &str) -> JobFile {
    JobFile::from_bytes(SlotName::Original, name, &png_bytes(100), None).unwrap()
}

/// The options of the two-slot job: face intelligence with its similarity
/// check (so the reference slot is taken).
fn similarity() -> JobOptions {
    JobOptions::new().parameters(JobParameters {
        is_similarity_check: Some(true),
        ..JobParameters::v1()
    })
}

fn status(status: u16, body: FaultBody, retry_after: Option<u64>) -> FaultAction {
    FaultAction::Status {
        status,
        body,
        retry_after,
    }
}

fn respond(status: u16, body: &str) -> FaultAction {
    FaultAction::Respond {
        status,
        content_type: Some("application/json".into()),
        body: body.into(),
        retry_after: None,
    }
}

fn s3_error(status: u16, code: &str, message: Option<&str>) -> FaultAction {
    FaultAction::S3Error {
        status,
        code: code.into(),
        message: message.map(str::to_owned),
    }
}

/// A record without `status`, with a pre-signed `uploadUrl` near its start
/// whose signature must not reach an error.
const RECORD_LACKING: &str = r#"{"mid":"0123456789abcdef01234567","uploadUrl":"http://127.0.0.1:9/authenta-storage/k?X-Amz-Credential=AKIA&X-Amz-Signature=5ec7e75160a7","name":"x.png","type":"Image","modelType":"AC-1","createdAt":"2025-12-02T19:39:27.525Z"}"#;

/// A job (a created job, a job, a finalize's answer) without its id or
/// `status`, with a pre-signed `uploadUrl`.
const JOB_LACKING: &str = r#"{"taskTypeId":1,"inputs":[{"slotName":"original","uploadUrl":"http://127.0.0.1:9/authenta-storage/k?X-Amz-Credential=AKIA&X-Amz-Signature=5ec7e75160a7"}]}"#;

/// A whole job (a created job too) whose id is `..`.
const DOT_JOB: &str = r#"{"jobId":"..","status":"waiting_for_finalize","inputs":[{"slotName":"original","uploadUrl":"http://127.0.0.1:9/authenta-storage/k"}]}"#;

/// The signature in [`RECORD_LACKING`].
const SIGNATURE: &str = "5ec7e75160a7";

/// A whole record (a create answer too) whose `mid` is `..`.
const DOT_MID: &str = r#"{"mid":"..","uploadUrl":"http://127.0.0.1:9/authenta-storage/k","name":"x.png","type":"Image","status":"INITED","modelType":"AC-1","createdAt":"2025-12-02T19:39:27.525Z"}"#;

/// The upload target of a record just created, with `url` in place of its
/// URL if given.
fn target_with(created: &CreatedMedia, url: Option<String>) -> UploadTarget {
    let request = png_request(&created.media.name, SIZE as u64);
    let target = UploadTarget::from_created(created, &request, SystemTime::now()).unwrap();
    let Some(url) = url else { return target };
    let mut saved = serde_json::to_value(&target).unwrap();
    saved["url"] = url.into();
    serde_json::from_value(saved).unwrap()
}

/// Arms `fault` for `step`: an injected fault on the step's request, or
/// the state that makes the real server (or the network) refuse it.
fn arm<B: Backend>(
    env: &Env,
    client: &B,
    fault: Fault,
    step: Step,
    fixture: &mut Fixture,
) -> Armed {
    let (method, prefix) = route(step, fixture);
    let mut armed = Armed::default();
    let inject = |armed: &mut Armed, action: FaultAction, times: u32, stage: FaultStage| {
        let fault = Injected::new(prefix.clone(), action)
            .method(method)
            .times(times)
            .stage(stage);
        let fault = if armed.delay > Duration::ZERO {
            fault.delay(armed.delay)
        } else {
            fault
        };
        armed.id = Some((env.emu.inject_fault(fault).unwrap(), times));
    };
    if step == Step::JobSlotSecond {
        // Struck first, changing nothing: the first slot's PUT, so that the
        // fault armed next strikes the second's.
        let pass = Injected::new(prefix.clone(), FaultAction::Delay { millis: 0 }).method(method);
        env.emu.inject_fault(pass).unwrap();
    }
    let stage = crate::matrix::stage(fault, step);
    let all = policy().max_attempts;
    let with_policy = |mut s: Settings| {
        s.retry = policy();
        s
    };
    let key = |spec: KeySpec| {
        let key = env.key(spec);
        with_policy(env.settings_with(env.credentials(&key)))
    };
    match fault {
        Fault::Status500Json => inject(&mut armed, status(500, FaultBody::Json, None), 1, stage),
        Fault::Status502Html => inject(&mut armed, status(502, FaultBody::Html, None), all, stage),
        Fault::Throttled => inject(&mut armed, status(429, FaultBody::Empty, None), all, stage),
        Fault::PlainHttp => {
            let created = client
                .create(png_request("photo.png", SIZE as u64))
                .unwrap();
            let url = refused(&created.upload_url, "example.invalid");
            fixture.target = Some(target_with(&created, Some(url)));
        }
        Fault::Status503RetryAfter => inject(
            &mut armed,
            status(503, FaultBody::Empty, Some(RETRY_AFTER.as_secs())),
            1,
            stage,
        ),
        Fault::HugeRetryAfter => inject(
            &mut armed,
            status(503, FaultBody::Empty, Some(99_999)),
            1,
            stage,
        ),
        Fault::IgnoreOffset => inject(
            &mut armed,
            FaultAction::IgnoreOffset {
                total: 1_000_000_000,
            },
            IGNORED_PAGES,
            stage,
        ),
        Fault::StaleList => inject(&mut armed, FaultAction::StaleList, IGNORED_PAGES, stage),
        Fault::RefusedEarly => env
            .emu
            .set_upload_url_backdate(Duration::from_secs(2 * 3600)),
        Fault::Status504Late => {
            armed.delay = LATE;
            inject(&mut armed, status(504, FaultBody::Html, None), 1, stage)
        }
        Fault::Aa001 => {
            let spec = KeySpec::new("spent");
            let spec = match step {
                Step::Create | Step::Delete => spec.mutation_quota(0),
                _ => spec.query_quota(0),
            };
            armed.settings = Some(key(spec));
        }
        Fault::Iam002 => {
            let missing = match step {
                Step::Create | Step::JobCreate | Step::JobCancel => Permission::Write,
                Step::Delete | Step::JobDelete => Permission::Delete,
                _ => Permission::Read,
            };
            let granted = [Permission::Read, Permission::Write, Permission::Delete]
                .into_iter()
                .filter(|p| *p != missing);
            armed.settings = Some(key(KeySpec::new("lacking").permissions(granted)));
        }
        Fault::Iam001 => {
            armed.settings = Some(with_policy(match step.is_job() {
                true => env.settings_with(Credentials::api_key(WRONG_API_KEY)),
                false => env.settings_for(&env.key.client_id, "not-the-secret"),
            }));
        }
        Fault::U007 => env.emu.set_credits(0).unwrap(),
        Fault::UnknownCode => inject(
            &mut armed,
            respond(
                463,
                r#"{"code":"ZZ042","type":"NEW_KIND","message":"Something new"}"#,
            ),
            1,
            stage,
        ),
        Fault::Refused => {
            let closed = closed_addr();
            match step {
                Step::Upload => {
                    let created = client
                        .create(png_request("photo.png", SIZE as u64))
                        .unwrap();
                    let url = refused(&created.upload_url, &closed);
                    fixture.target = Some(target_with(&created, Some(url)));
                }
                Step::JobArtifact => {
                    let artifact = fixture.artifact.as_mut().unwrap();
                    artifact.download_url = artifact
                        .download_url
                        .as_deref()
                        .map(|u| refused(u, &closed));
                }
                Step::Result | Step::Heatmap => {
                    let media = fixture.media.as_mut().unwrap();
                    media.result_url = media.result_url.as_deref().map(|u| refused(u, &closed));
                    media.heatmap_url = media.heatmap_url.as_deref().map(|u| refused(u, &closed));
                }
                _ => {
                    let mut settings = with_policy(env.settings());
                    settings.base_url = refused(&settings.base_url, &closed);
                    armed.settings = Some(settings);
                }
            }
        }
        Fault::ResetBeforeAnswer => inject(&mut armed, FaultAction::Reset, 1, stage),
        Fault::ResetMidBody => inject(&mut armed, FaultAction::ResetMidBody, 1, stage),
        Fault::Truncated => inject(&mut armed, FaultAction::Truncate, 1, stage),
        Fault::SlowAnswer => inject(
            &mut armed,
            FaultAction::Delay {
                millis: STALL.as_millis() as u64,
            },
            1,
            stage,
        ),
        Fault::StallMidUpload | Fault::UploadStall => inject(
            &mut armed,
            FaultAction::StallBody {
                millis: STALL.as_millis() as u64,
            },
            1,
            stage,
        ),
        Fault::NotJson => inject(&mut armed, FaultAction::NotJson, 1, stage),
        Fault::MissingField => {
            let body = match step {
                Step::List => r#"{"limit":10,"offset":0,"data":[]}"#,
                Step::JobList => r#"{"data":[]}"#,
                s if s.is_job() => JOB_LACKING,
                _ => RECORD_LACKING,
            };
            inject(&mut armed, respond(200, body), 1, stage)
        }
        Fault::DotMid => {
            let body = match step {
                Step::List => format!(r#"{{"limit":10,"offset":0,"total":1,"data":[{DOT_MID}]}}"#),
                Step::JobList => format!(
                    r#"{{"data":[{DOT_JOB}],"pagination":{{"page":1,"limit":10,"total":1,"pages":1}}}}"#
                ),
                s if s.is_job() => DOT_JOB.to_owned(),
                _ => DOT_MID.to_owned(),
            };
            inject(&mut armed, respond(200, &body), 1, stage)
        }
        Fault::OverCap => inject(
            &mut armed,
            FaultAction::Oversized {
                bytes: authenta_proto::wire::RESPONSE_READ_LIMIT + 1024 * 1024,
            },
            1,
            stage,
        ),
        Fault::Redirect => {
            let trap = TcpListener::bind("127.0.0.1:0").unwrap();
            trap.set_nonblocking(true).unwrap();
            let location = format!("http://{}/elsewhere", trap.local_addr().unwrap());
            armed.trap = Some(trap);
            inject(
                &mut armed,
                FaultAction::Redirect {
                    status: 307,
                    location: Some(location),
                },
                all,
                stage,
            )
        }
        Fault::SignatureDoesNotMatch => inject(
            &mut armed,
            s3_error(403, "SignatureDoesNotMatch", None),
            1,
            stage,
        ),
        Fault::AccessDeniedExpired => match step {
            // The real thing: S3 refuses a URL past its X-Amz-Expires.
            Step::Upload | Step::JobSlot => env
                .emu
                .set_upload_url_backdate(Duration::from_secs(2 * 3600)),
            _ => inject(
                &mut armed,
                s3_error(403, "AccessDenied", Some("Request has expired")),
                1,
                stage,
            ),
        },
        Fault::EntityTooLarge => {
            inject(&mut armed, s3_error(400, "EntityTooLarge", None), 1, stage)
        }
        Fault::NoSuchKey => match step {
            Step::Upload => {
                // The real thing: the record is deleted between its creation
                // and the upload.
                let created = client
                    .create(png_request("photo.png", SIZE as u64))
                    .unwrap();
                client.delete(&created.media.mid).unwrap();
                fixture.target = Some(target_with(&created, None));
            }
            _ => inject(&mut armed, s3_error(404, "NoSuchKey", None), 1, stage),
        },
        Fault::SlowDown => inject(&mut armed, FaultAction::SlowDown, 1, stage),
        Fault::IdleClosed => {
            // The client's previous request on this host is answered, then
            // its kept-alive connection is closed while it sits in the pool.
            let close = |prefix: &str, method: &str| {
                let fault = Injected::new(prefix, FaultAction::CloseIdle).method(method);
                env.emu.inject_fault(fault).unwrap();
            };
            if step == Step::Upload {
                close("/api/media", "POST");
                let created = client
                    .create(png_request("photo.png", SIZE as u64))
                    .unwrap();
                fixture.target = Some(target_with(&created, None));
            } else if step.is_job() {
                close(JOBS, "GET");
                client.list_jobs(JobListQuery::default()).unwrap();
            } else {
                close("/api/media", "GET");
                client.list(ListQuery::default()).unwrap();
            }
            assert!(env.emu.faults().is_empty(), "the close was struck");
            std::thread::sleep(IDLE);
        }
    }
    armed
}

fn act<B: Backend>(env: &Env, client: &B, step: Step, fixture: &Fixture) -> Result<Done, Error> {
    let mid = || fixture.mid.as_ref().unwrap();
    let media = || fixture.media.as_ref().unwrap();
    let job = || fixture.job.as_ref().unwrap();
    Ok(match step {
        Step::Create => {
            client.create(png_request("act.png", 100))?;
            Done::Created
        }
        Step::Get => Done::Got(Box::new(client.get(mid())?)),
        Step::List => {
            let page = client.list(ListQuery {
                limit: Some(10),
                offset: Some(0),
            })?;
            Done::Listed(page.data.into_iter().map(|m| m.mid).collect(), page.total)
        }
        Step::Delete => {
            client.delete(mid())?;
            Done::Deleted
        }
        Step::Upload => {
            let file = fixture.file.as_ref().unwrap();
            match &fixture.target {
                Some(target) => {
                    client.upload_to(target, file)?;
                    Done::Uploaded(target.mid.clone())
                }
                None => Done::Uploaded(Some(client.upload(file, &ac1())?.mid().clone())),
            }
        }
        Step::UploadStream => {
            let bytes = std::fs::read(fixture.file.as_ref().unwrap()).unwrap();
            let uploaded = client.upload_reader(bytes, &ac1().name("stream.png"))?;
            Done::Uploaded(Some(uploaded.mid().clone()))
        }
        Step::Result => Done::Document(client.result(media())?),
        Step::Heatmap => {
            Done::Heatmap(client.download_heatmap(media(), &env.dir.path().join("heatmap.png"))?)
        }
        Step::Wait => Done::Waited(Box::new(client.wait(mid())?)),
        Step::Batch => {
            let mut batch = authenta_proto::engine::batch::BatchWait::new(
                client.config().clone(),
                policy(),
                authenta_tests::env::fast_polls(),
            );
            let now = std::time::Instant::now();
            for mid in &fixture.batch {
                batch.add_due(mid.clone(), None, now);
            }
            let mut done = Vec::new();
            while batch.pending() > 0 {
                for (_, media) in client.wait_batch(&mut batch)? {
                    done.push(media?);
                }
            }
            Done::Batch(done)
        }
        Step::ListAll => Done::ListedAll(
            client
                .list_all()
                .into_iter()
                .map(|m| m.map(|m| m.mid))
                .collect::<Result<_, _>>()?,
        ),
        Step::JobCreate => {
            client.create_job(TaskType::AiImageDetection, &[job_file("act.png")])?;
            Done::JobCreated
        }
        Step::JobSlot | Step::JobSlotSecond => Done::JobRan(Box::new(client.run_job(
            TaskType::FaceIntelligence,
            &fixture.slots,
            &similarity(),
        )?)),
        Step::JobFinalize => Done::JobRan(Box::new(client.run_job(
            TaskType::AiImageDetection,
            &fixture.slots,
            &JobOptions::new(),
        )?)),
        Step::JobGet => Done::JobGot(Box::new(client.get_job(job().as_str())?)),
        Step::JobList => {
            let page = client.list_jobs(JobListQuery {
                page: Some(1),
                limit: Some(10),
                status: None,
            })?;
            Done::JobListed(
                page.data.into_iter().map(|j| j.id).collect(),
                page.pagination.total,
            )
        }
        Step::JobCancel => Done::JobCancelled(client.cancel_job(job().to_string())?.status),
        Step::JobDelete => {
            client.delete_job(job())?;
            Done::JobDeleted
        }
        Step::JobWait => {
            Done::JobWaited(Box::new(client.wait_job_with(job(), &JobOptions::new())?))
        }
        Step::JobArtifact => Done::Artifact(client.download_artifact(
            fixture.artifact.as_ref().unwrap(),
            &env.dir.path().join("artifact.png"),
        )?),
    })
}

/// An API key the emulator never gave.
const WRONG_API_KEY: &str = "api_00000000000000000000000000000000";

/// One row: setup, arm, act, check.
fn row<B: Backend>(fault: Fault, step: Step, expect: Expect) {
    let env = Env::new();
    let mut settings = env.settings();
    settings.retry = policy();
    if matches!(fault, Fault::SlowAnswer | Fault::StallMidUpload) {
        settings.request_timeout = Some(SHORT_TIMEOUT);
        settings.upload_timeout = Some(SHORT_TIMEOUT);
    }
    if fault == Fault::UploadStall {
        settings.upload_stall_timeout = Some(SHORT_TIMEOUT);
    }
    let client = B::connect(&settings).unwrap();
    let mut fixture = setup(&env, &client, fault, step);
    let armed = arm(&env, &client, fault, step, &mut fixture);
    env.emu.clear_api_requests();
    env.emu.clear_upload_requests();
    let records_before = env.emu.records().len();
    let jobs_before = env.emu.jobs().len();
    let credits_before = env.emu.credits();
    let other = armed.settings.as_ref().map(|s| B::connect(s).unwrap());
    let actor = other.as_ref().unwrap_or(&client);

    let outcome = act(&env, actor, step, &fixture);

    let (method, prefix) = counted(&env, step, &fixture);
    let attempts = Attempts::read(&env, step, method, &prefix, armed.id);
    let seen = Seen {
        fault,
        fixture: &fixture,
        outcome: &outcome,
        attempts: &attempts,
        fault_delay: armed.delay,
    };
    check_outcome(&env, fault, step, expect, &seen);
    check_invariants(&env, step, &seen, records_before);
    if step.is_job() {
        check_job_invariants(&env, step, &seen, jobs_before, credits_before);
    }
    if let Some(trap) = &armed.trap {
        assert!(
            matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the redirect was followed"
        );
    }
}

/// What a row saw.
struct Seen<'a> {
    fault: Fault,
    fixture: &'a Fixture,
    outcome: &'a Result<Done, Error>,
    attempts: &'a Attempts,
    fault_delay: Duration,
}

/// What the emulator saw of the step's own request.
struct Attempts {
    /// Every attempt that reached the emulator.
    count: u32,
    /// Their times, oldest first, when every one of them was logged.
    times: Option<Vec<SystemTime>>,
}

impl Attempts {
    fn read(
        env: &Env,
        step: Step,
        method: &str,
        prefix: &str,
        injected: Option<(u64, u32)>,
    ) -> Attempts {
        if step.is_storage() {
            // Logged on arrival, faulted or not.
            let mut times: Vec<_> = env
                .emu
                .upload_requests()
                .into_iter()
                .filter(|r| r.method == method && r.path.starts_with(prefix))
                .map(|r| SystemTime::from(r.at))
                .collect();
            times.sort();
            return Attempts {
                count: times.len() as u32,
                times: Some(times),
            };
        }
        // Logged once answered (a slow attempt may be logged late, or not
        // at all once its client left): the fault's strikes, and the
        // attempts it did not strike.
        let strikes = injected.map_or(0, |(id, times)| {
            let left = env
                .emu
                .faults()
                .into_iter()
                .find(|f| f.id == id)
                .map_or(0, |f| f.remaining);
            times - left
        });
        let logged: Vec<_> = env
            .emu
            .api_requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.split('?').next() == Some(prefix))
            .collect();
        let clean = logged.iter().filter(|r| !r.faulted).count() as u32;
        let count = strikes + clean;
        let mut times: Vec<_> = logged.iter().map(|r| SystemTime::from(r.at)).collect();
        times.sort();
        Attempts {
            count,
            times: (times.len() as u32 == count).then_some(times),
        }
    }
}

fn check_outcome(env: &Env, fault: Fault, step: Step, expect: Expect, seen: &Seen<'_>) {
    let attempts = seen.attempts;
    match expect {
        Expect::Recovers {
            attempts: expected,
            min_gap,
        } => {
            let done = match seen.outcome {
                Ok(done) => done,
                Err(e) => panic!("expected success, got {e:?}"),
            };
            assert_eq!(attempts.count, expected, "requests that reached the server");
            check_returned(env, step, seen.fixture, done);
            if let Some(times) = &attempts.times {
                let most = min_gap.max(policy().max_backoff) + seen.fault_delay + SLACK;
                for pair in times.windows(2) {
                    let gap = pair[1].duration_since(pair[0]).unwrap_or_default();
                    assert!(
                        gap >= min_gap,
                        "attempts {gap:?} apart, less than the Retry-After {min_gap:?}"
                    );
                    assert!(gap <= most, "attempts {gap:?} apart, more than {most:?}");
                }
            }
        }
        Expect::Fails {
            attempts: expected,
            class,
            kind,
        } => {
            let err = match seen.outcome {
                Ok(_) => panic!("expected a failure"),
                Err(e) => e,
            };
            assert_eq!(err.class(), class, "{err:?}");
            let shown = format!("{err} {err:?}");
            assert!(
                !shown.contains(SIGNATURE),
                "a signature in the error: {shown}"
            );
            let text = err.to_string();
            if fault == Fault::Redirect {
                assert!(text.contains("redirected to http://127.0.0.1:"), "{text}");
            }
            if fault == Fault::Status503RetryAfter {
                assert!(
                    text.contains("wait 1 s"),
                    "the Retry-After is shown: {text}"
                );
            }
            if fault == Fault::Throttled {
                assert!(!text.contains("quota"), "a throttle, not a quota: {text}");
            }
            check_kind(err, kind, expected);
            let reached = if fault == Fault::Refused { 0 } else { expected };
            assert_eq!(
                attempts.count, reached,
                "requests that reached the server: {err}"
            );
            check_mid(env, step, seen.fixture, err);
        }
    }
}

fn check_kind(err: &Error, kind: Kind, attempts: u32) {
    if let Kind::Network(kind) = kind {
        let Error::Transport {
            kind: got,
            attempts: sent,
            ..
        } = err
        else {
            panic!("expected a transport failure: {err:?}")
        };
        assert_eq!(*got, kind, "{err:?}");
        assert_eq!(*sent, attempts, "the failure's attempts: {err:?}");
        return;
    }
    let proto = err.as_proto().unwrap_or_else(|| panic!("{err:?}"));
    match (kind, proto) {
        (Kind::Api(status, code), ProtocolError::Api(api)) => {
            assert_eq!(api.status.as_u16(), status, "{err:?}");
            assert_eq!(api.body.code.as_str(), code, "{err:?}");
            assert!(err.to_string().contains(code), "{err}");
        }
        (Kind::Http(status), ProtocolError::Http(e)) => {
            assert_eq!(e.status.as_u16(), status, "{err:?}")
        }
        (Kind::Upload(status, code), ProtocolError::Upload(e)) => {
            assert_eq!(
                (e.status.as_u16(), e.code.as_str()),
                (status, code),
                "{err:?}"
            );
        }
        (Kind::Decode(status), ProtocolError::Decode(e)) => {
            assert_eq!(e.status.as_u16(), status, "{err:?}")
        }
        (kind, _) => panic!("expected {kind:?}, got {err:?}"),
    }
}

/// The `mid` a failure names: the record the step concerned.
fn check_mid(env: &Env, step: Step, fixture: &Fixture, err: &Error) {
    let expected = match step {
        Step::Get | Step::Delete | Step::Result | Step::Heatmap | Step::Wait => fixture.mid.clone(),
        Step::Upload | Step::UploadStream => match &fixture.target {
            Some(target) => target.mid.clone(),
            None => {
                let records = env.emu.records();
                assert_eq!(records.len(), 1, "the upload's record");
                Some(MediaId::new(records[0].mid.clone()))
            }
        },
        // No record: a create, a list, a batch, the jobs' steps.
        _ => None,
    };
    assert_eq!(err.mid(), expected.as_ref(), "{err:?}");
}

/// What a recovered step returned is what a clean one returns.
fn check_returned(env: &Env, step: Step, fixture: &Fixture, done: &Done) {
    match (step, done) {
        (Step::Create, Done::Created) => {}
        (Step::Get, Done::Got(media)) => {
            assert_eq!(Some(&media.mid), fixture.mid.as_ref());
        }
        (Step::List, Done::Listed(mids, total)) => {
            assert_eq!(
                mids.as_slice(),
                std::slice::from_ref(fixture.mid.as_ref().unwrap())
            );
            assert_eq!(*total, 1);
        }
        (Step::Delete, Done::Deleted) => {
            let mid = fixture.mid.as_ref().unwrap();
            assert!(env.emu.record(mid.as_str()).is_none(), "deleted");
        }
        (Step::Upload | Step::UploadStream, Done::Uploaded(mid)) => {
            let mid = mid.as_ref().expect("the uploaded record");
            let upload = env.emu.record(mid.as_str()).and_then(|r| r.upload);
            assert!(upload.is_some(), "the upload was stored");
        }
        (Step::Result, Done::Document(document)) => {
            let got = document.as_ref().expect("a document");
            let clean = fixture.document.as_ref().unwrap();
            assert_eq!((got.fake, got.score), (clean.fake, clean.score));
        }
        (Step::Wait, Done::Waited(media)) => {
            assert_eq!(Some(&media.mid), fixture.mid.as_ref());
            assert!(media.status.is_final(), "{}", media.status);
        }
        (Step::Batch, Done::Batch(done)) => {
            let mut mids: Vec<_> = done.iter().map(|m| m.mid.clone()).collect();
            mids.sort();
            let mut expected = fixture.batch.clone();
            expected.sort();
            assert_eq!(mids, expected);
            assert!(done.iter().all(|m| m.status.is_final()));
        }
        (Step::ListAll, Done::ListedAll(mids)) => {
            assert_eq!(
                mids.as_slice(),
                std::slice::from_ref(fixture.mid.as_ref().unwrap())
            );
        }
        (Step::Heatmap, Done::Heatmap(written)) => {
            let bytes = std::fs::read(env.dir.path().join("heatmap.png")).unwrap();
            assert_eq!(Some(&bytes), fixture.heatmap.as_ref(), "the whole heatmap");
            assert_eq!(*written, Some(bytes.len() as u64));
        }
        (Step::JobCreate, Done::JobCreated) => {}
        (Step::JobSlot | Step::JobSlotSecond | Step::JobFinalize, Done::JobRan(job)) => {
            assert_eq!(job.status, JobStatus::Completed, "{job:?}");
            let record = env.emu.job(numeric(&job.id)).expect("the job");
            assert!(
                record.inputs.iter().all(|i| i.upload.is_some()),
                "every slot stored: {record:?}"
            );
        }
        (Step::JobGet, Done::JobGot(job)) => assert_eq!(Some(&job.id), fixture.job.as_ref()),
        (Step::JobList, Done::JobListed(ids, total)) => {
            assert_eq!(
                ids.as_slice(),
                std::slice::from_ref(fixture.job.as_ref().unwrap())
            );
            assert_eq!(*total, 1);
        }
        (Step::JobCancel, Done::JobCancelled(status)) => {
            assert_eq!(*status, JobStatus::Cancelled);
            let id = numeric(fixture.job.as_ref().unwrap());
            assert_eq!(env.emu.job(id).unwrap().status, "cancelled");
        }
        (Step::JobDelete, Done::JobDeleted) => {
            let id = numeric(fixture.job.as_ref().unwrap());
            assert!(env.emu.job(id).is_none(), "deleted");
        }
        (Step::JobWait, Done::JobWaited(job)) => {
            assert_eq!(Some(&job.id), fixture.job.as_ref());
            assert!(job.status.is_final(), "{}", job.status);
        }
        (Step::JobArtifact, Done::Artifact(written)) => {
            let bytes = std::fs::read(env.dir.path().join("artifact.png")).unwrap();
            assert_eq!(
                Some(&bytes),
                fixture.artifact_bytes.as_ref(),
                "the whole artifact"
            );
            assert_eq!(*written, Some(bytes.len() as u64));
        }
        _ => unreachable!("each step returns its own"),
    }
}

/// Never a duplicate record, never altered bytes, never a one-shot stream
/// sent twice, never a partial file left.
fn check_invariants(env: &Env, step: Step, seen: &Seen<'_>, records_before: usize) {
    let posts = env
        .emu
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/api/media"))
        .count();
    let records = env.emu.records();
    let creates = matches!(step, Step::Create | Step::Upload | Step::UploadStream)
        && seen.fixture.target.is_none();
    assert!(
        posts <= usize::from(creates),
        "{posts} POST /media for one call"
    );
    assert!(
        records.len() <= records_before + usize::from(creates),
        "{} records, {records_before} before: a duplicate",
        records.len()
    );
    if step == Step::Create && crate::matrix::creates_record(seen.fault, step) {
        assert_eq!(
            records.len(),
            records_before + 1,
            "the fault struck after the server created the record"
        );
    }
    let file = sha256_hex(&png_bytes(SIZE));
    for record in &records {
        if let Some(upload) = &record.upload {
            assert_eq!(upload.sha256, file, "the stored bytes are the file's");
        }
    }
    if step == Step::UploadStream {
        let puts = env.puts().len();
        assert!(puts <= 1, "a one-shot stream sent {puts} times");
    }
    if step == Step::Heatmap && seen.outcome.is_err() {
        let left: Vec<_> = std::fs::read_dir(env.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("heatmap"))
            .collect();
        assert!(left.is_empty(), "a failed download left {left:?}");
    }
}

/// The emulator's number for job `id`.
fn numeric(id: &JobId) -> u64 {
    id.as_str()
        .parse()
        .expect("the emulator's job ids are numbers")
}

/// Never a duplicate job, never a finalize sent blindly or refused as
/// done, never a finalize after a refused slot upload, a failed run never
/// charged, never altered slot bytes, never a partial artifact left.
fn check_job_invariants(
    env: &Env,
    step: Step,
    seen: &Seen<'_>,
    jobs_before: usize,
    credits_before: u64,
) {
    let requests = env.emu.api_requests();
    // Those the server handled: a fault that answers before handling
    // (a throttle, say) leaves nothing to duplicate.
    let handled =
        |r: &&authenta_emulator::ApiRequest| !r.faulted || crate::matrix::handles(seen.fault, step);
    let creates = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.split('?').next() == Some(JOBS))
        .filter(handled)
        .count();
    let own = matches!(
        step,
        Step::JobCreate | Step::JobSlot | Step::JobSlotSecond | Step::JobFinalize
    );
    assert!(
        creates <= usize::from(own),
        "{creates} POST /v1/jobs for one call"
    );
    let jobs = env.emu.jobs();
    assert!(
        jobs.len() <= jobs_before + usize::from(own),
        "{} jobs, {jobs_before} before: a duplicate",
        jobs.len()
    );
    if crate::matrix::creates_record(seen.fault, step) {
        assert_eq!(
            jobs.len(),
            jobs_before + 1,
            "the fault struck after the server created the job"
        );
    }
    // A finalize is sent again only after a read of the job, and the
    // server never refuses one as done.
    let finalizes: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "POST" && r.path.ends_with("/finalize"))
        .map(|(i, _)| i)
        .collect();
    for i in &finalizes {
        assert_ne!(
            requests[*i].status, 400,
            "a finalize refused as done: {requests:?}"
        );
    }
    for pair in finalizes.windows(2) {
        if !handled(&&requests[pair[0]]) && requests[pair[0]].status == 429 {
            // Throttled: refused unread, sent again as any throttled request.
            continue;
        }
        assert!(
            requests[pair[0] + 1..pair[1]]
                .iter()
                .any(|r| r.method == "GET" && r.path.starts_with(&format!("{JOBS}/"))),
            "a finalize sent again without reading the job: {requests:?}"
        );
    }
    let spent = credits_before.saturating_sub(env.emu.credits());
    let runs = matches!(
        step,
        Step::JobSlot | Step::JobSlotSecond | Step::JobFinalize
    );
    assert!(spent <= u64::from(runs), "{spent} credits for one job");
    if runs && seen.outcome.is_err() {
        // A refused slot upload never finalizes; a finalize that failed
        // left the job waiting for one, uncharged.
        if matches!(step, Step::JobSlot | Step::JobSlotSecond) {
            assert!(
                finalizes.is_empty(),
                "a finalize after a refused slot upload"
            );
        }
        if step == Step::JobSlotSecond {
            // The first slot up; the second's bytes may be stored (a fault
            // that replaced S3's answer), but the job never finalized.
            let first = jobs.iter().flat_map(|j| &j.inputs).next();
            assert!(
                first.is_some_and(|i| i.slot_name == "original" && i.upload.is_some()),
                "the first slot stored: {jobs:?}"
            );
        }
        for job in &jobs {
            assert!(job.queued_at.is_none(), "a failed run finalized {job:?}");
            assert!(
                ["created", "waiting_for_finalize"].contains(&job.status.as_str()),
                "{job:?}"
            );
        }
        assert_eq!(spent, 0, "a failed run spent a credit");
    }
    for job in &jobs {
        for input in &job.inputs {
            if let Some(upload) = &input.upload {
                let file = png_bytes(input.size_bytes as usize);
                assert_eq!(
                    upload.sha256,
                    sha256_hex(&file),
                    "the slot's bytes are its file's"
                );
            }
        }
    }
    if step == Step::JobArtifact && seen.outcome.is_err() {
        let left: Vec<_> = std::fs::read_dir(env.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("artifact"))
            .collect();
        assert!(left.is_empty(), "a failed download left {left:?}");
    }
}
