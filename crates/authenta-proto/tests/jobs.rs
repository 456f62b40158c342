//! The jobs flows stepped by hand: each test feeds hand-made
//! `http::Response`s and a fake clock to [`RunJob`], [`WaitJob`] and
//! [`JobPages`] and reads the actions they answer with. No driver, no
//! socket, no sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use authenta_proto::engine::flows::SourceInfo;
use authenta_proto::engine::jobs::{
    JobCheckpoint, JobPages, JobStage, JobUpload, RunJob, SlotTarget, SweepJobs, Swept, UploadSlot,
    WaitJob,
};
use authenta_proto::engine::{Action, Event, Flow, Inputs};
use authenta_proto::http::{Request, Response};
use authenta_proto::types::{
    JobId, JobParameters, JobStatus, SlotName, TASK_TYPES, TaskType, TaskTypeInfo,
};
use authenta_proto::{
    Config, Credentials, Error, ErrorClass, MediaFile, PollPolicy, ProtocolError, RetryPolicy,
    UploadTarget, error::WaitBound, jobs::JobFile, wire::TransportErrorKind,
};

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn at(secs: u64) -> Inputs {
    let start = *START.get_or_init(Instant::now);
    Inputs {
        now: start + Duration::from_secs(secs),
        wall_clock: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs),
        random: 0,
    }
}

fn config() -> Config {
    Config::new(Credentials::api_key("api_3f9c2a71d04b8e65c1a7f02d9b34e810"))
        .with_base_url("http://127.0.0.1:1/api")
        .unwrap()
}

fn json(status: u16, body: &str) -> Event {
    Event::Response(
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap(),
    )
}

fn stored() -> Event {
    Event::Response(
        Response::builder()
            .status(200)
            .header("etag", "\"e1\"")
            .body(Vec::new())
            .unwrap(),
    )
}

fn s3_refusal(code: &str, message: &str) -> Event {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    Event::Response(
        Response::builder()
            .status(403)
            .header("content-type", "application/xml")
            .body(body.into_bytes())
            .unwrap(),
    )
}

fn reset() -> Event {
    Event::transport(
        TransportErrorKind::Interrupted,
        std::io::Error::from(std::io::ErrorKind::ConnectionReset),
    )
}

/// A checked file for `slot` of type `content_type`, `size` bytes.
fn upload(slot: SlotName, name: &str, content_type: &str, size: u64) -> JobUpload {
    let file = MediaFile::inspect(name, b"", size, Some(content_type)).unwrap();
    JobUpload {
        file: JobFile::new(slot, file),
        source: SourceInfo {
            len: size,
            reopenable: true,
            name: name.to_owned(),
        },
    }
}

/// One file each task type's original slot takes.
fn original_for(task: &TaskTypeInfo) -> JobUpload {
    let content_type = task.slots[0].content_types[0];
    upload(SlotName::Original, "input", content_type, 100)
}

fn url(slot: &str) -> String {
    format!("https://s3.example/jobs/{slot}?X-Amz-Signature=s")
}

/// A create answer in the documentation's shape (`jobId` at the top) or
/// Authenta's SDK's (`job.id`).
fn created(id: &str, slots: &[&str], sdk: bool) -> Event {
    let inputs: Vec<String> = slots
        .iter()
        .map(|s| format!(r#"{{"slotName":"{s}","uploadUrl":"{}"}}"#, url(s)))
        .collect();
    let inputs = inputs.join(",");
    let body = if sdk {
        format!(r#"{{"job":{{"id":"{id}","status":"created","inputs":[{inputs}]}}}}"#)
    } else {
        format!(r#"{{"jobId":{id},"status":"waiting_for_finalize","inputs":[{inputs}]}}"#)
    };
    json(200, &body)
}

fn job(id: &str, status: &str, extra: &str) -> Event {
    json(
        200,
        &format!(r#"{{"jobId":{id},"status":"{status}"{extra}}}"#),
    )
}

fn queued(id: &str) -> Event {
    job(id, "queued", r#","message":"Job queued""#)
}

fn send<T: std::fmt::Debug>(action: Action<T>) -> Request<Vec<u8>> {
    match action {
        Action::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn sleep<T: std::fmt::Debug>(action: Action<T>) -> Duration {
    match action {
        Action::Sleep(d) => d,
        other => panic!("expected a sleep, got {other:?}"),
    }
}

/// A recorder of checkpoints: "creating", or the stage's tag.
fn recorder() -> (
    Arc<Mutex<Vec<String>>>,
    authenta_proto::engine::jobs::JobCheckpointFn,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let checkpoint = Arc::new(move |point: JobCheckpoint<'_>| {
        let name = match point {
            JobCheckpoint::Creating { .. } => "creating".to_owned(),
            JobCheckpoint::Stage(stage) => {
                let value = serde_json::to_value(stage).unwrap();
                let tag = value["stage"].as_str().unwrap().to_owned();
                let up = value["slots"]
                    .as_array()
                    .map(|s| s.iter().filter(|s| s["uploaded"] == true).count());
                match up {
                    Some(n) => format!("{tag}:{n}"),
                    None => tag,
                }
            }
            _ => "other".to_owned(),
        };
        sink.lock().unwrap().push(name);
        Ok(())
    });
    (seen, checkpoint)
}

/// Steps `flow` from `event` at `clock`, answering every upload with 200 +
/// ETag and every sleep with Ready (the clock moving on), until it sends
/// an API request (returned with the clock) or finishes.
#[allow(clippy::result_large_err)] // the finish is what a test looks at, once
fn until_request<F: Flow<Output = authenta_proto::types::Job>>(
    flow: &mut F,
    mut event: Event,
    clock: &mut u64,
    uploads: &mut Vec<Request<()>>,
) -> Result<Request<Vec<u8>>, Result<authenta_proto::types::Job, Error>> {
    loop {
        match flow.step(event, at(*clock)) {
            Action::Send(request) => return Ok(request),
            Action::Upload { head, len } => {
                assert_eq!(head.headers()["content-length"], len.to_string().as_str());
                uploads.push(head);
                event = stored();
            }
            Action::Sleep(d) => {
                *clock += d.as_secs();
                event = Event::Ready;
            }
            Action::Finish(result) => return Err(result),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn every_task_type_runs_create_upload_finalize_wait() {
    for (i, task) in TASK_TYPES.iter().enumerate() {
        let id = (400 + task.id).to_string();
        let (seen, checkpoint) = recorder();
        let mut run = RunJob::new(
            task.task_type(),
            vec![original_for(task)],
            Some(JobParameters::v1()),
            config(),
            RetryPolicy::default(),
        )
        .unwrap()
        .checkpointed(Some(checkpoint));
        let mut clock = 0;
        let mut uploads = Vec::new();
        let create = until_request(&mut run, Event::Ready, &mut clock, &mut uploads).unwrap();
        assert_eq!(create.method(), "POST");
        assert_eq!(
            create.uri().to_string(),
            format!("http://127.0.0.1:1/api/v1/jobs?taskTypeId={}", task.id)
        );
        let body: serde_json::Value = serde_json::from_slice(create.body()).unwrap();
        assert!(body.get("taskTypeId").is_none());
        assert_eq!(
            body["inputs"][0]["contentType"],
            task.slots[0].content_types[0]
        );
        // Either shape of the answer: the id is read from both.
        let answer = created(&id, &["original"], i % 2 == 1);
        let finalize = until_request(&mut run, answer, &mut clock, &mut uploads).unwrap();
        assert_eq!(uploads.len(), 1, "{}", task.slug);
        let put = &uploads[0];
        assert_eq!(put.method(), "PUT");
        assert_eq!(put.uri().to_string(), url("original"));
        assert_eq!(
            put.headers()["content-type"],
            task.slots[0].content_types[0]
        );
        assert!(put.headers().get("authorization").is_none());
        assert_eq!(
            put.extensions().get::<UploadSlot>(),
            Some(&UploadSlot(SlotName::Original))
        );
        assert_eq!(
            finalize.uri().to_string(),
            format!("http://127.0.0.1:1/api/v1/jobs/{id}/finalize")
        );
        let poll = until_request(&mut run, queued(&id), &mut clock, &mut uploads).unwrap();
        assert_eq!(poll.method(), "GET");
        assert_eq!(clock, 1, "the first poll comes after the first delay");
        let poll = until_request(
            &mut run,
            job(&id, "processing", ""),
            &mut clock,
            &mut uploads,
        )
        .unwrap();
        assert_eq!(
            poll.uri().to_string(),
            format!("http://127.0.0.1:1/api/v1/jobs/{id}")
        );
        let result = match task.slug {
            "ai-image-detection" | "ai-audio-detection" | "ai-video-detection" => {
                r#"{"isAiGenerated":true,"confidence":0.91}"#.to_owned()
            }
            "face-liveness-detection" => r#"{"isLiveness":false,"confidence":0.8}"#.to_owned(),
            "face-embedding" => format!(r#"{{"embedding":{:?}}}"#, vec![0.5; 512]),
            "face-intelligence" => {
                r#"{"identityDetails":{"faces":[{"boundingBox":[1,2,3,4]}]}}"#.to_owned()
            }
            _ => r#"{"isDeepFake":true,"confidence":0.97,"segments":[]}"#.to_owned(),
        };
        let done = job(
            &id,
            "completed",
            &format!(r#","taskTypeId":{},"result":{result}"#, task.id),
        );
        let Err(Ok(finished)) = until_request(&mut run, done, &mut clock, &mut uploads) else {
            panic!("{}: the completed job ends the run", task.slug)
        };
        assert_eq!(finished.id.as_str(), id);
        assert_eq!(finished.task_type(), Some(task.task_type()));
        let r = finished.result.unwrap();
        match task.slug {
            "ai-image-detection" | "ai-audio-detection" | "ai-video-detection" => {
                assert_eq!(r.is_ai_generated, Some(true))
            }
            "face-liveness-detection" => assert_eq!(r.is_liveness, Some(false)),
            "face-embedding" => assert!(r.embedding_vector().is_some()),
            "face-intelligence" => {
                assert_eq!(r.faces()[0].bounding_box, Some([1.0, 2.0, 3.0, 4.0]))
            }
            _ => assert_eq!(r.is_deep_fake, Some(true)),
        }
        assert_eq!(
            *seen.lock().unwrap(),
            ["creating", "created:0", "uploaded", "finalized"],
            "{}",
            task.slug
        );
    }
}

fn face_intelligence() -> RunJob {
    RunJob::new(
        TaskType::FaceIntelligence,
        // Given reference first: uploaded in the task type's slot order.
        vec![
            upload(SlotName::Reference, "id-photo.jpg", "image/jpeg", 50),
            upload(SlotName::Original, "selfie.mp4", "video/mp4", 300),
        ],
        Some(JobParameters {
            is_similarity_check: Some(true),
            ..JobParameters::v1()
        }),
        config(),
        RetryPolicy::default(),
    )
    .unwrap()
}

#[test]
fn a_multi_slot_job_uploads_every_slot_before_its_finalize() {
    let (seen, checkpoint) = recorder();
    let mut run = face_intelligence().checkpointed(Some(checkpoint));
    let selector = run.slot_selector();
    let create = send(run.step(Event::Ready, at(0)));
    let body: serde_json::Value = serde_json::from_slice(create.body()).unwrap();
    assert_eq!(body["inputs"][0]["slotName"], "original");
    assert_eq!(body["inputs"][1]["slotName"], "reference");
    assert_eq!(body["parameters"]["isSimilarityCheck"], true);
    let Action::Upload { head, len } =
        run.step(created("8", &["original", "reference"], true), at(0))
    else {
        panic!("the first slot's upload")
    };
    assert_eq!((head.uri().to_string(), len), (url("original"), 300));
    assert_eq!(head.headers()["content-type"], "video/mp4");
    assert_eq!(selector.current(), Some(SlotName::Original));
    let Action::Upload { head, len } = run.step(stored(), at(1)) else {
        panic!("the second slot's upload, before any finalize")
    };
    assert_eq!((head.uri().to_string(), len), (url("reference"), 50));
    assert_eq!(head.headers()["content-type"], "image/jpeg");
    assert_eq!(
        head.extensions().get::<UploadSlot>().unwrap().0,
        SlotName::Reference
    );
    assert_eq!(selector.current(), Some(SlotName::Reference));
    let finalize = send(run.step(stored(), at(2)));
    assert_eq!(finalize.uri().path(), "/api/v1/jobs/8/finalize");
    assert!(sleep(run.step(queued("8"), at(2))) > Duration::ZERO);
    let _poll = send(run.step(Event::Ready, at(3)));
    let done = job(
        "8",
        "completed",
        r#","result":{"isSimilar":true,"similarityScore":0.93,"isDeepFake":false}"#,
    );
    let Action::Finish(Ok(finished)) = run.step(done, at(3)) else {
        panic!("completed")
    };
    let r = finished.result.unwrap();
    assert_eq!((r.is_similar, r.similarity_score), (Some(true), Some(0.93)));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "creating",
            "created:0",
            "created:1",
            "uploaded",
            "finalized"
        ]
    );
}

#[test]
fn a_refused_slot_upload_ends_the_run_without_a_finalize() {
    let (seen, checkpoint) = recorder();
    let mut run = face_intelligence().checkpointed(Some(checkpoint));
    let _create = send(run.step(Event::Ready, at(0)));
    assert!(matches!(
        run.step(created("9", &["original", "reference"], false), at(0)),
        Action::Upload { .. }
    ));
    assert!(matches!(run.step(stored(), at(1)), Action::Upload { .. }));
    let refused = s3_refusal(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match",
    );
    let Action::Finish(Err(failure)) = run.step(refused, at(1)) else {
        panic!("a refused upload is final: never retried, never finalized")
    };
    let Some(ProtocolError::Upload(upload)) = failure.as_proto() else {
        panic!("{failure:?}")
    };
    assert_eq!(upload.code, "SignatureDoesNotMatch");
    assert_eq!(failure.class(), ErrorClass::InvalidInput);
    assert_eq!(
        *seen.lock().unwrap(),
        ["creating", "created:0", "created:1"]
    );
    // Nothing more comes out of it: stepping a finished flow is a driver
    // bug, which panics (it never becomes an error of the request).
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run.step(Event::Ready, at(2))
    }));
    let panic = again.expect_err("a finished flow gives no further action");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("a driver bug"), "{message}");
}

fn single(task: TaskType, content_type: &str) -> RunJob {
    RunJob::new(
        task,
        vec![upload(SlotName::Original, "in", content_type, 10)],
        None,
        config(),
        RetryPolicy::default(),
    )
    .unwrap()
}

#[test]
fn a_lost_finalize_answer_is_followed_by_a_read_never_a_blind_resend() {
    for (read, resent) in [
        ("waiting_for_finalize", true),
        ("queued", false),
        ("processing", false),
    ] {
        let mut run = single(TaskType::AiImageDetection, "image/png");
        let _ = send(run.step(Event::Ready, at(0)));
        assert!(matches!(
            run.step(created("5", &["original"], false), at(0)),
            Action::Upload { .. }
        ));
        let finalize = send(run.step(stored(), at(0)));
        assert_eq!(finalize.method(), "POST");
        // The answer is lost: after the retry policy's backoff, the flow
        // reads the job (a GET), not a second POST.
        let _backoff = sleep(run.step(reset(), at(1)));
        let check = send(run.step(Event::Ready, at(1)));
        assert_eq!(check.method(), "GET", "after {read}");
        assert_eq!(check.uri().path(), "/api/v1/jobs/5");
        let next = run.step(job("5", read, ""), at(1));
        if resent {
            let again = send(next);
            assert_eq!(
                (again.method().as_str(), again.uri().path()),
                ("POST", "/api/v1/jobs/5/finalize")
            );
            assert!(sleep(run.step(queued("5"), at(2))) > Duration::ZERO);
        } else {
            // Finalized already: on to the wait.
            assert!(sleep(next) > Duration::ZERO, "after {read}");
        }
        let poll = send(run.step(Event::Ready, at(5)));
        assert_eq!(poll.method(), "GET");
        let Action::Finish(Ok(done)) = run.step(job("5", "completed", ""), at(5)) else {
            panic!("done")
        };
        assert_eq!(done.status, JobStatus::Completed);
    }
}

#[test]
fn a_finalize_resend_keeps_to_the_retry_policy_and_an_unreadable_2xx_is_read_not_resent() {
    // A 503 asking for 7 s: the read and the resend come after it.
    let mut run = single(TaskType::AiImageDetection, "image/png");
    let _ = send(run.step(Event::Ready, at(0)));
    let _ = run.step(created("8", &["original"], false), at(0));
    let _finalize = send(run.step(stored(), at(0)));
    let busy = Event::Response(
        Response::builder()
            .status(503)
            .header("retry-after", "7")
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(sleep(run.step(busy, at(0))), Duration::from_secs(7));
    assert_eq!(send(run.step(Event::Ready, at(7))).method(), "GET");
    let again = send(run.step(job("8", "waiting_for_finalize", ""), at(7)));
    assert_eq!(again.uri().path(), "/api/v1/jobs/8/finalize");
    // More than the policy waits for: read, never sent again.
    let huge = Event::Response(
        Response::builder()
            .status(503)
            .header("retry-after", "99999")
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(send(run.step(huge, at(8))).method(), "GET");
    let Action::Finish(Err(failure)) = run.step(job("8", "waiting_for_finalize", ""), at(8)) else {
        panic!("the 503 stands")
    };
    assert_eq!(
        failure.status().map(|s| s.as_u16()),
        Some(503),
        "{failure:?}"
    );
    // A 200 that is not JSON: the server took it; read, then waited for.
    let mut run = single(TaskType::AiImageDetection, "image/png");
    let _ = send(run.step(Event::Ready, at(0)));
    let _ = run.step(created("9", &["original"], false), at(0));
    let _finalize = send(run.step(stored(), at(0)));
    let check = send(run.step(json(200, "<html>portal</html>"), at(0)));
    assert_eq!(check.method(), "GET");
    assert!(sleep(run.step(queued("9"), at(0))) > Duration::ZERO);
}

#[test]
fn a_finalize_refused_as_already_done_reads_the_job_and_waits() {
    let mut run = single(TaskType::AiImageDetection, "image/jpeg");
    let _ = send(run.step(Event::Ready, at(0)));
    let _ = run.step(created("6", &["original"], true), at(0));
    let _finalize = send(run.step(stored(), at(0)));
    let again = json(
        400,
        r#"{"code":"EMU400","statusCode":400,"message":"Bad request: job 6 is finalized already","jobStatus":"queued"}"#,
    );
    let check = send(run.step(again, at(0)));
    assert_eq!(check.method(), "GET");
    assert!(sleep(run.step(job("6", "processing", ""), at(0))) > Duration::ZERO);
    // A refusal for a job that still waits for its finalize stands.
    let mut run = single(TaskType::AiImageDetection, "image/jpeg");
    let _ = send(run.step(Event::Ready, at(0)));
    let _ = run.step(created("6", &["original"], true), at(0));
    let _finalize = send(run.step(stored(), at(0)));
    let refused = json(
        422,
        r#"{"code":"EMU422","statusCode":422,"message":"Unprocessable","jobStatus":"waiting_for_finalize"}"#,
    );
    let _check = send(run.step(refused, at(0)));
    let Action::Finish(Err(failure)) = run.step(job("6", "waiting_for_finalize", ""), at(0)) else {
        panic!("the refusal stands")
    };
    assert!(
        matches!(failure.as_proto(), Some(ProtocolError::JobState(_))),
        "{failure:?}"
    );
    // Credits short: no read, no resend; the error as it came.
    let mut run = single(TaskType::AiImageDetection, "image/jpeg");
    let _ = send(run.step(Event::Ready, at(0)));
    let _ = run.step(created("6", &["original"], true), at(0));
    let _finalize = send(run.step(stored(), at(0)));
    let broke = json(
        402,
        r#"{"code":"INSUFFICIENT_BALANCE","statusCode":402,"message":"Insufficient balance"}"#,
    );
    let Action::Finish(Err(failure)) = run.step(broke, at(0)) else {
        panic!("credits end it")
    };
    assert_eq!(failure.class(), ErrorClass::Credits);
}

#[test]
fn cancelled_and_failed_end_the_wait_at_once() {
    for status in ["cancelled", "failed"] {
        let mut wait = WaitJob::new(
            JobId::new("11"),
            Some(&TaskType::FaceswapDetection),
            PollPolicy::default(),
            config(),
            RetryPolicy::default(),
        );
        let _ = send(wait.step(Event::Ready, at(0)));
        assert!(sleep(wait.step(job("11", "queued", ""), at(0))) > Duration::ZERO);
        let _ = send(wait.step(Event::Ready, at(1)));
        let last = job("11", status, r#","errorMessage":"no face found""#);
        let Action::Finish(Ok(ended)) = wait.step(last, at(1)) else {
            panic!("{status} is final")
        };
        assert_eq!(ended.status, JobStatus::from(status));
        assert_eq!(ended.error_message.as_deref(), Some("no face found"));
    }
}

/// Answers every poll of `flow` with `processing` until it finishes.
fn poll_until_done(wait: &mut WaitJob) -> (Error, u64, u32) {
    let mut clock = 0;
    let mut polls = 0;
    let mut event = Event::Ready;
    loop {
        match wait.step(event, at(clock)) {
            Action::Send(_) => {
                polls += 1;
                event = job("12", "processing", "");
            }
            Action::Sleep(d) => {
                clock += d.as_secs();
                event = Event::Ready;
            }
            Action::Finish(Err(failure)) => return (failure, clock, polls),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn the_wait_is_bounded_by_the_task_types_time_limit_unless_the_caller_sets_one() {
    let policy = PollPolicy::fixed(Duration::from_secs(60), Duration::from_secs(30));
    for (task, limit) in [
        (TaskType::AiImageDetection, 300),
        (TaskType::FaceswapDetection, 1800),
        (TaskType::EkycDeepfake, 600),
    ] {
        let mut wait = WaitJob::new(
            JobId::new("12"),
            Some(&task),
            policy,
            config(),
            RetryPolicy::default(),
        );
        assert_eq!(wait.bound().0, Duration::from_secs(limit));
        let (failure, clock, polls) = poll_until_done(&mut wait);
        let Some(ProtocolError::JobTimeout(timeout)) = failure.as_proto() else {
            panic!("{failure:?}")
        };
        // One poll every 60 s and a last one at the limit.
        assert_eq!(clock, limit);
        assert_eq!((timeout.limit.as_secs(), timeout.polls), (limit, polls));
        assert_eq!(
            timeout.bound,
            WaitBound::TaskType(task.info().unwrap().slug)
        );
        assert_eq!(timeout.last_status, Some(JobStatus::Processing));
        assert_eq!(failure.class(), ErrorClass::Timeout);
        let text = failure.to_string();
        assert!(
            text.contains(&format!("bounded at {limit} s by {task}'s time limit")),
            "{text}"
        );
        assert!(
            text.contains("wait for it again later with the same job id"),
            "{text}"
        );
    }
    // The caller's bound wins; a task type without a limit uses the policy's.
    let mut wait = WaitJob::new(
        JobId::new("12"),
        Some(&TaskType::FaceswapDetection),
        policy,
        config(),
        RetryPolicy::default(),
    )
    .bounded(Some(Duration::from_secs(120)));
    let (failure, clock, _) = poll_until_done(&mut wait);
    assert_eq!(clock, 120);
    assert!(failure.to_string().contains("by the caller"), "{failure}");
    let pdf = TaskTypeInfo::by_id(13).unwrap().task_type();
    let wait = WaitJob::new(
        JobId::new("12"),
        Some(&pdf),
        policy,
        config(),
        RetryPolicy::default(),
    );
    assert_eq!(wait.bound(), (Duration::from_secs(30), WaitBound::Policy));
    // The run hands its bound to its wait.
    let mut run = single(TaskType::AiImageDetection, "image/png")
        .poll_policy(policy)
        .bounded(Some(Duration::from_secs(90)));
    let mut clock = 0;
    let mut uploads = Vec::new();
    let _ = until_request(&mut run, Event::Ready, &mut clock, &mut uploads).unwrap();
    let _ = until_request(
        &mut run,
        created("12", &["original"], false),
        &mut clock,
        &mut uploads,
    )
    .unwrap();
    let mut event = queued("12");
    let failure = loop {
        match until_request(&mut run, event, &mut clock, &mut uploads) {
            Ok(_) => event = job("12", "processing", ""),
            Err(Err(failure)) => break failure,
            Err(Ok(job)) => panic!("{job:?}"),
        }
    };
    assert!(
        matches!(failure.as_proto(), Some(ProtocolError::JobTimeout(t)) if t.limit == Duration::from_secs(90))
    );
}

#[test]
fn a_transient_poll_failure_polls_again_within_the_bound() {
    let mut wait = WaitJob::new(
        JobId::new("13"),
        Some(&TaskType::AiImageDetection),
        PollPolicy::default(),
        config(),
        RetryPolicy::never(),
    );
    let _ = send(wait.step(Event::Ready, at(0)));
    assert!(
        sleep(wait.step(
            json(
                503,
                r#"{"code":"EMU500","statusCode":503,"message":"busy"}"#
            ),
            at(0)
        )) > Duration::ZERO
    );
    let _ = send(wait.step(Event::Ready, at(2)));
    let gone = json(
        404,
        r#"{"code":"JOB_NOT_FOUND","statusCode":404,"message":"Job with ID 13 does not exist"}"#,
    );
    let Action::Finish(Err(failure)) = wait.step(gone, at(2)) else {
        panic!("a missing job ends the wait")
    };
    assert_eq!(failure.class(), ErrorClass::NotFound);
}

fn target(slot: &str, expires_in: Option<u64>) -> UploadTarget {
    let expires_at = expires_in
        .map(|s| authenta_proto::types::Timestamp::from_second(1_800_000_000 + s as i64).unwrap());
    let (content_type, size) = match slot {
        "original" => ("video/mp4", 300),
        _ => ("image/jpeg", 50),
    };
    UploadTarget::new(url(slot), content_type, size, expires_at).unwrap()
}

#[test]
fn a_run_resumes_from_each_saved_stage() {
    // Created, the original slot up: only the reference is uploaded.
    let stage = JobStage::Created {
        job: JobId::new("20"),
        slots: vec![
            SlotTarget {
                slot: SlotName::Original,
                target: target("original", None),
                uploaded: true,
            },
            SlotTarget {
                slot: SlotName::Reference,
                target: target("reference", None),
                uploaded: false,
            },
        ],
    };
    // The stage survives a save and a load.
    let saved = serde_json::to_string(&stage).unwrap();
    let stage: JobStage = serde_json::from_str(&saved).unwrap();
    let mut run = face_intelligence().resume(stage);
    let Action::Upload { head, .. } = run.step(Event::Ready, at(0)) else {
        panic!("the slot not yet up")
    };
    assert_eq!(head.uri().to_string(), url("reference"));
    let finalize = send(run.step(stored(), at(0)));
    assert_eq!(finalize.uri().path(), "/api/v1/jobs/20/finalize");

    // A stage of other slots than the inputs given is refused, nothing sent.
    let other = JobStage::Created {
        job: JobId::new("20"),
        slots: vec![SlotTarget {
            slot: SlotName::Original,
            target: target("original", None),
            uploaded: false,
        }],
    };
    let Action::Finish(Err(failure)) = face_intelligence().resume(other).step(Event::Ready, at(0))
    else {
        panic!("refused")
    };
    assert!(
        failure
            .to_string()
            .contains("resume it with the same files"),
        "{failure}"
    );

    // Uploaded: the job is read first; finalized only if it waits for it.
    let mut run = face_intelligence().resume(JobStage::Uploaded {
        job: JobId::new("21"),
    });
    let read = send(run.step(Event::Ready, at(0)));
    assert_eq!(
        (read.method().as_str(), read.uri().path()),
        ("GET", "/api/v1/jobs/21")
    );
    let finalize = send(run.step(job("21", "waiting_for_finalize", ""), at(0)));
    assert_eq!(finalize.uri().path(), "/api/v1/jobs/21/finalize");
    let mut run = face_intelligence().resume(JobStage::Uploaded {
        job: JobId::new("21"),
    });
    let _ = send(run.step(Event::Ready, at(0)));
    assert!(
        sleep(run.step(job("21", "queued", ""), at(0))) > Duration::ZERO,
        "no second finalize"
    );
    let mut run = face_intelligence().resume(JobStage::Uploaded {
        job: JobId::new("21"),
    });
    let _ = send(run.step(Event::Ready, at(0)));
    assert!(matches!(
        run.step(job("21", "completed", ""), at(0)),
        Action::Finish(Ok(_))
    ));

    // Finalized (some time ago): only the wait, polled at once.
    let mut run = face_intelligence().resume(JobStage::Finalized {
        job: JobId::new("22"),
    });
    let poll = send(run.step(Event::Ready, at(0)));
    assert_eq!(
        (poll.method().as_str(), poll.uri().path()),
        ("GET", "/api/v1/jobs/22")
    );

    // Created, but its URLs expired: the stale job is deleted, a new one created.
    let stale = JobStage::Created {
        job: JobId::new("23"),
        slots: vec![SlotTarget {
            slot: SlotName::Original,
            target: target("original", Some(0)),
            uploaded: false,
        }],
    };
    let mut run = single(TaskType::FaceswapDetection, "video/mp4").resume(stale);
    let delete = send(run.step(Event::Ready, at(5)));
    assert_eq!(
        (delete.method().as_str(), delete.uri().path()),
        ("DELETE", "/api/v1/jobs/23")
    );
    let empty = Response::builder().status(204).body(Vec::new()).unwrap();
    let create = send(run.step(Event::Response(empty), at(5)));
    assert_eq!(
        create.uri().to_string(),
        "http://127.0.0.1:1/api/v1/jobs?taskTypeId=4"
    );
    // A delete refused (the stale job was processing?) still creates anew.
    let stale = JobStage::Created {
        job: JobId::new("24"),
        slots: vec![SlotTarget {
            slot: SlotName::Original,
            target: target("original", Some(0)),
            uploaded: false,
        }],
    };
    let mut run = single(TaskType::FaceswapDetection, "video/mp4").resume(stale);
    let _ = send(run.step(Event::Ready, at(5)));
    let busy = json(
        409,
        r#"{"code":"EMU409","statusCode":409,"message":"Conflict","jobStatus":"processing"}"#,
    );
    assert_eq!(send(run.step(busy, at(5))).method(), "POST");
}

#[test]
fn inputs_the_task_type_refuses_spend_nothing() {
    let err = RunJob::new(
        TaskType::AiImageDetection,
        vec![upload(SlotName::Original, "clip.mp4", "video/mp4", 10)],
        None,
        config(),
        RetryPolicy::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("ai-image-detection takes JPEG or PNG"),
        "{err}"
    );
    let mut short = upload(SlotName::Original, "a.png", "image/png", 10);
    short.source.len = 9;
    assert!(
        RunJob::new(
            TaskType::AiImageDetection,
            vec![short],
            None,
            config(),
            RetryPolicy::default()
        )
        .is_err()
    );
    let err = RunJob::new(
        TaskType::FaceIntelligence,
        vec![upload(SlotName::Original, "s.mp4", "video/mp4", 10)],
        Some(JobParameters {
            is_similarity_check: Some(true),
            ..JobParameters::v1()
        }),
        config(),
        RetryPolicy::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("reference"), "{err}");
    // A created job without an upload URL for a slot: no upload, no finalize.
    let mut run = face_intelligence();
    let _ = send(run.step(Event::Ready, at(0)));
    let Action::Finish(Err(failure)) = run.step(created("30", &["original"], false), at(0)) else {
        panic!("refused")
    };
    assert!(
        failure
            .to_string()
            .contains("no upload URL for its reference slot"),
        "{failure}"
    );
}

#[test]
fn every_job_is_listed_once_page_by_page() {
    let mut pages = JobPages::new(
        2,
        Some(JobStatus::Processing),
        config(),
        RetryPolicy::default(),
    )
    .unwrap();
    let first = send(pages.step(Event::Ready, at(0)));
    assert_eq!(
        first.uri().query(),
        Some("page=1&limit=2&status=processing")
    );
    let page = json(
        200,
        r#"{"data":[{"jobId":1,"status":"processing"},{"jobId":2,"status":"processing"}],"pagination":{"page":1,"limit":2,"total":3,"pages":2}}"#,
    );
    let Action::Finish(Ok(Some(jobs))) = pages.step(page, at(0)) else {
        panic!("a page")
    };
    assert_eq!(jobs.len(), 2);
    let second = send(pages.step(Event::Ready, at(0)));
    assert_eq!(
        second.uri().query(),
        Some("page=2&limit=2&status=processing")
    );
    let page = json(
        200,
        r#"{"data":[{"jobId":2,"status":"processing"},{"jobId":3,"status":"processing"}],"pagination":{"page":2,"limit":2,"total":3,"pages":2}}"#,
    );
    let Action::Finish(Ok(Some(jobs))) = pages.step(page, at(0)) else {
        panic!("a page")
    };
    assert_eq!(
        jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["3"]
    );
    assert!(matches!(
        pages.step(Event::Ready, at(0)),
        Action::Finish(Ok(None))
    ));
}

/// One page of `GET /v1/jobs`: all there is.
fn list(jobs: &[String]) -> Event {
    json(
        200,
        &format!(
            r#"{{"data":[{}],"pagination":{{"page":1,"limit":100,"total":{n},"pages":1}}}}"#,
            jobs.join(","),
            n = jobs.len()
        ),
    )
}

/// A list item: id, status, task type, when, and its original slot.
fn item(id: u32, status: &str, task: u32, created: &str, file: &str, size: u64) -> String {
    format!(
        r#"{{"jobId":{id},"status":"{status}","taskTypeId":{task},"createdAt":"{created}","inputs":[{{"slotName":"original","contentType":"image/png","fileName":"{file}","sizeBytes":{size}}}]}}"#
    )
}

#[test]
fn a_run_after_an_interrupted_create_deletes_what_it_left_then_creates_anew() {
    // Saved at 2027-01-15T08:00:00Z (1_800_000_000 s).
    let saved = authenta_proto::types::Timestamp::from_second(1_800_000_000).unwrap();
    let mut run = single(TaskType::AiImageDetection, "image/png").resume_creating(saved);
    let first = send(run.step(Event::Ready, at(0)));
    assert_eq!(
        first.uri().query(),
        Some("page=1&limit=100&status=waiting_for_finalize")
    );
    let waiting = list(&[
        // Its own left-over: same file, size, task, after the save.
        item(
            31,
            "waiting_for_finalize",
            1,
            "2027-01-15T08:00:01Z",
            "in",
            10,
        ),
        // Another file, another task type, or long before: kept.
        item(
            32,
            "waiting_for_finalize",
            1,
            "2027-01-15T08:00:01Z",
            "other",
            10,
        ),
        item(
            33,
            "waiting_for_finalize",
            4,
            "2027-01-15T08:00:01Z",
            "in",
            10,
        ),
        item(
            34,
            "waiting_for_finalize",
            1,
            "2027-01-14T08:00:00Z",
            "in",
            10,
        ),
    ]);
    let delete = send(run.step(waiting, at(0)));
    assert_eq!(
        (delete.method().as_str(), delete.uri().path()),
        ("DELETE", "/api/v1/jobs/31")
    );
    let empty = Response::builder().status(204).body(Vec::new()).unwrap();
    let created_list = send(run.step(Event::Response(empty), at(0)));
    assert_eq!(
        created_list.uri().query(),
        Some("page=1&limit=100&status=created")
    );
    // A server's clock a little behind ours still matches.
    let created = list(&[item(35, "created", 1, "2027-01-15T07:58:00Z", "in", 10)]);
    let delete = send(run.step(created, at(0)));
    assert_eq!(delete.uri().path(), "/api/v1/jobs/35");
    let empty = Response::builder().status(204).body(Vec::new()).unwrap();
    let create = send(run.step(Event::Response(empty), at(0)));
    assert_eq!(
        create.uri().to_string(),
        "http://127.0.0.1:1/api/v1/jobs?taskTypeId=1"
    );
}

#[test]
fn a_sweep_is_best_effort() {
    let saved = authenta_proto::types::Timestamp::from_second(1_800_000_000).unwrap();
    let request = authenta_proto::types::CreateJobRequest {
        inputs: vec![
            upload(SlotName::Original, "in", "image/png", 10)
                .file
                .input(),
        ],
        parameters: None,
        task_type_id: None,
    };
    let mut sweep = SweepJobs::new(
        TaskType::AiImageDetection,
        request,
        saved,
        config(),
        RetryPolicy::never(),
    );
    let _ = send(sweep.step(Event::Ready, at(0)));
    let waiting = list(&[item(
        41,
        "waiting_for_finalize",
        1,
        "2027-01-15T08:00:05Z",
        "in",
        10,
    )]);
    let _delete = send(sweep.step(waiting, at(0)));
    let busy = json(
        409,
        r#"{"code":"EMU409","statusCode":409,"message":"Conflict","jobStatus":"processing"}"#,
    );
    let _created_list = send(sweep.step(busy, at(0)));
    let Action::Finish(Ok(swept)) = sweep.step(
        json(500, r#"{"code":"EMU500","statusCode":500,"message":"x"}"#),
        at(0),
    ) else {
        panic!("a failed page ends the sweep, not the run")
    };
    assert_eq!(
        swept,
        Swept {
            deleted: vec![],
            complete: false
        }
    );
}

mod batch {
    use super::*;
    use authenta_proto::engine::job_batch::JobBatchWait;

    fn page(items: &[(u32, &str)]) -> Event {
        let data: Vec<String> = items
            .iter()
            .map(|(id, status)| format!(r#"{{"jobId":{id},"status":"{status}"}}"#))
            .collect();
        list(&data)
    }

    #[test]
    fn many_jobs_are_waited_for_with_the_active_lists_and_one_read_each() {
        let mut wait = JobBatchWait::new(PollPolicy::default(), config(), RetryPolicy::default());
        for id in ["1", "2", "3"] {
            wait.add(JobId::new(id), Some(&TaskType::AiImageDetection), None);
        }
        assert_eq!(wait.len(), 3);
        // The first poll after the first delay.
        assert_eq!(
            sleep(wait.step(Event::Ready, at(0))),
            Duration::from_secs(1)
        );
        let queued = send(wait.step(Event::Ready, at(1)));
        assert_eq!(queued.uri().query(), Some("page=1&limit=100&status=queued"));
        let processing = send(wait.step(page(&[(1, "queued"), (9, "queued")]), at(1)));
        assert_eq!(
            processing.uri().query(),
            Some("page=1&limit=100&status=processing")
        );
        // Job 3 is in neither list: read on its own, for its result.
        let read = send(wait.step(page(&[(2, "processing")]), at(1)));
        assert_eq!(read.uri().path(), "/api/v1/jobs/3");
        let done = job("3", "completed", r#","result":{"isAiGenerated":false}"#);
        let Action::Finish(Ok(finished)) = wait.step(done, at(1)) else {
            panic!("job 3 is done")
        };
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].0.as_str(), "3");
        assert_eq!(
            finished[0]
                .1
                .as_ref()
                .unwrap()
                .result
                .as_ref()
                .unwrap()
                .is_ai_generated,
            Some(false)
        );
        // The next round: both left jobs seen in the lists, 1 gone too.
        let pause = sleep(wait.step(Event::Ready, at(1)));
        assert!(pause >= Duration::from_secs(1), "{pause:?}");
        let t = 1 + pause.as_secs_f64().ceil() as u64;
        let _queued = send(wait.step(Event::Ready, at(t)));
        // A server ignoring the filter lists a final job: it is read on its own.
        let _processing = send(wait.step(page(&[(1, "completed")]), at(t)));
        let read = send(wait.step(page(&[(2, "processing")]), at(t)));
        assert_eq!(read.uri().path(), "/api/v1/jobs/1");
        let Action::Finish(Ok(finished)) = wait.step(job("1", "cancelled", ""), at(t)) else {
            panic!("job 1 ended")
        };
        assert_eq!(finished[0].1.as_ref().unwrap().status, JobStatus::Cancelled);
        // One job left: read on its own, no lists.
        let pause = sleep(wait.step(Event::Ready, at(t)));
        let t = t + pause.as_secs_f64().ceil() as u64;
        let read = send(wait.step(Event::Ready, at(t)));
        assert_eq!(read.uri().path(), "/api/v1/jobs/2");
        let Action::Finish(Ok(finished)) = wait.step(job("2", "failed", ""), at(t)) else {
            panic!("job 2 ended")
        };
        assert_eq!(finished[0].1.as_ref().unwrap().status, JobStatus::Failed);
        assert!(wait.is_empty());
        assert!(matches!(wait.step(Event::Ready, at(t)), Action::Finish(Ok(f)) if f.is_empty()));
    }

    #[test]
    fn a_refused_list_reads_each_job_and_a_bound_times_out_on_a_last_read() {
        let policy = PollPolicy::fixed(Duration::from_secs(5), Duration::from_secs(600));
        let mut wait = JobBatchWait::new(policy, config(), RetryPolicy::never());
        wait.add(
            JobId::new("1"),
            Some(&TaskType::FaceswapDetection),
            Some(Duration::from_secs(12)),
        );
        wait.add(JobId::new("2"), Some(&TaskType::FaceswapDetection), None);
        let mut clock = sleep(wait.step(Event::Ready, at(0))).as_secs();
        let _ = send(wait.step(Event::Ready, at(clock)));
        let refused = json(
            400,
            r#"{"code":"EMU400","statusCode":400,"message":"Bad request: status"}"#,
        );
        let first = send(wait.step(refused, at(clock)));
        assert_eq!(first.uri().path(), "/api/v1/jobs/1");
        let second = send(wait.step(job("1", "processing", ""), at(clock)));
        assert_eq!(second.uri().path(), "/api/v1/jobs/2");
        let mut event = job("2", "processing", "");
        let mut lists = 0;
        let finished = loop {
            match wait.step(event, at(clock)) {
                Action::Sleep(d) => {
                    clock += d.as_secs();
                    event = Event::Ready;
                }
                Action::Send(request) => {
                    lists += usize::from(request.uri().query().is_some());
                    let id = request.uri().path().rsplit('/').next().unwrap().to_owned();
                    event = job(&id, "processing", "");
                }
                Action::Finish(Ok(finished)) => break finished,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(lists, 0, "no list once the server refused one");
        assert_eq!(finished.len(), 1);
        let Err(failure) = &finished[0].1 else {
            panic!()
        };
        let Some(ProtocolError::JobTimeout(timeout)) = failure.as_proto() else {
            panic!("{failure:?}")
        };
        assert_eq!(
            (timeout.job.as_str(), timeout.bound),
            ("1", WaitBound::Caller)
        );
        assert_eq!(timeout.limit, Duration::from_secs(12));
        assert_eq!(timeout.last_status, Some(JobStatus::Processing));
        assert!(clock >= 12, "{clock}");
        assert_eq!(wait.len(), 1, "job 2 goes on, bounded by faceswap's 1800 s");
    }
}

#[test]
fn no_flow_shows_a_pre_signed_query_in_debug() {
    let mut run = face_intelligence();
    let _ = send(run.step(Event::Ready, at(0)));
    let _ = run.step(created("8", &["original", "reference"], false), at(0));
    let media: authenta_proto::types::Media = serde_json::from_value(serde_json::json!({
        "mid": "692f406f9f68d4b70080bb80", "name": "a.png", "type": "Image",
        "status": "PROCESSED", "modelType": "AC-1", "createdAt": "2025-12-02T19:39:27Z",
        "resultURL": "https://s3.example/r.json?X-Amz-Signature=s"
    }))
    .unwrap();
    let fetch = authenta_proto::engine::flows::FetchResult::new(&media, RetryPolicy::default());
    let download = authenta_proto::engine::flows::Download::new(
        Some("https://s3.example/h.png?X-Amz-Signature=s".into()),
        None,
        RetryPolicy::default(),
    );
    for debug in [
        format!("{run:?}"),
        format!("{fetch:?}"),
        format!("{download:?}"),
    ] {
        assert!(!debug.contains("X-Amz-Signature"), "{debug}");
        assert!(debug.contains("s3.example"), "{debug}");
    }
}

#[test]
fn a_started_job_ends_at_its_finalize_and_each_resume_costs_what_it_says() {
    use authenta_proto::engine::jobs::JobStarted;
    use authenta_proto::engine::resume::{JobResume, JobResumeStep};

    // New: create, upload, finalize, then it ends (no poll).
    let mut start = single(TaskType::AiImageDetection, "image/png").until_finalized();
    let create = send(start.step(Event::Ready, at(0)));
    assert_eq!(create.method(), "POST");
    let Action::Upload { .. } = start.step(created("40", &["original"], false), at(0)) else {
        panic!("the upload")
    };
    let finalize = send(start.step(stored(), at(0)));
    assert_eq!(finalize.uri().path(), "/api/v1/jobs/40/finalize");
    let Action::Finish(Ok(JobStarted::Finalized { job: id, earlier })) =
        start.step(queued("40"), at(0))
    else {
        panic!("ends at the finalize")
    };
    assert_eq!((id.as_str(), earlier), ("40", false));

    // Uploaded: read first; a job finalized already is not finalized again.
    let mut start = single(TaskType::AiImageDetection, "image/png")
        .resume_from(
            JobStage::Uploaded {
                job: JobId::new("41"),
            }
            .into(),
        )
        .until_finalized();
    let read = send(start.step(Event::Ready, at(0)));
    assert_eq!(read.method(), "GET");
    assert!(matches!(
        start.step(job("41", "processing", ""), at(0)),
        Action::Finish(Ok(JobStarted::Finalized { .. }))
    ));

    // Finalized: nothing sent, polled at once by whoever waits; final:
    // nothing at all.
    let saved = JobResume::from(JobStage::Finalized {
        job: JobId::new("42"),
    });
    assert!(
        matches!(saved.clone().first_step(), JobResumeStep::Wait { job } if job.as_str() == "42")
    );
    let mut start = single(TaskType::AiImageDetection, "image/png")
        .resume_from(saved)
        .until_finalized();
    assert!(matches!(
        start.step(Event::Ready, at(0)),
        Action::Finish(Ok(JobStarted::Finalized { earlier: true, .. }))
    ));
    let done: authenta_proto::types::Job =
        serde_json::from_str(r#"{"jobId": 43, "status": "completed"}"#).unwrap();
    let mut run = single(TaskType::AiImageDetection, "image/png")
        .resume_from(JobResume::Final(Box::new(done)));
    assert!(matches!(
        run.step(Event::Ready, at(0)),
        Action::Finish(Ok(job)) if job.id.as_str() == "43"
    ));

    // Creating: the sweep's list comes first.
    let saved = authenta_proto::types::Timestamp::from_second(1_800_000_000).unwrap();
    let mut start = single(TaskType::AiImageDetection, "image/png")
        .resume_from(JobResume::Creating { at: saved })
        .until_finalized();
    let list = send(start.step(Event::Ready, at(0)));
    assert_eq!(
        list.uri().query(),
        Some("page=1&limit=100&status=waiting_for_finalize")
    );
}

#[test]
fn a_resumed_job_found_gone_is_created_anew_once() {
    // Created: its upload answered 404 (the job was deleted meanwhile).
    let saved = JobStage::Created {
        job: JobId::new("50"),
        slots: vec![SlotTarget {
            slot: SlotName::Original,
            target: UploadTarget::new(url("original"), "video/mp4", 10, None).unwrap(),
            uploaded: false,
        }],
    };
    let mut run = single(TaskType::FaceswapDetection, "video/mp4").resume(saved);
    let Action::Upload { .. } = run.step(Event::Ready, at(0)) else {
        panic!("the saved URL first")
    };
    let gone = Event::Response(
        Response::builder()
            .status(404)
            .header("content-type", "application/xml")
            .body(b"<Error><Code>NoSuchKey</Code><Message>no job</Message></Error>".to_vec())
            .unwrap(),
    );
    let create = send(run.step(gone, at(0)));
    assert_eq!(
        create.uri().to_string(),
        "http://127.0.0.1:1/api/v1/jobs?taskTypeId=4"
    );
    // Uploaded: the read answers 404: created anew.
    let mut run = single(TaskType::FaceswapDetection, "video/mp4").resume(JobStage::Uploaded {
        job: JobId::new("51"),
    });
    let _ = send(run.step(Event::Ready, at(0)));
    let missing = json(
        404,
        r#"{"code":"JOB_NOT_FOUND","statusCode":404,"message":"Job with ID 51 does not exist"}"#,
    );
    assert_eq!(send(run.step(missing, at(0))).method(), "POST");
    // A run not resumed keeps the failure: nothing is created twice.
    let mut run = single(TaskType::FaceswapDetection, "video/mp4");
    let _ = send(run.step(Event::Ready, at(0)));
    let Action::Upload { .. } = run.step(created("52", &["original"], false), at(0)) else {
        panic!("the upload")
    };
    let gone = Event::Response(
        Response::builder()
            .status(404)
            .header("content-type", "application/xml")
            .body(b"<Error><Code>NoSuchKey</Code><Message>no job</Message></Error>".to_vec())
            .unwrap(),
    );
    let Action::Finish(Err(failure)) = run.step(gone, at(0)) else {
        panic!("the failure")
    };
    assert!(
        matches!(failure.as_proto(), Some(ProtocolError::Upload(_))),
        "{failure:?}"
    );
}
