//! authenta-proto's job flows run end to end by the blocking driver over
//! this backend's transport, against an in-process emulator (a real HTTP
//! server and S3 endpoint on loopback): every slot uploaded with its
//! bytes, a multi-slot job through the flow's slot selector, the batch
//! wait, cancel and delete. No client method runs jobs yet; these run the
//! flows as a program with its own driver loop would.

use std::io::{Cursor, Read};
use std::time::Duration;

use authenta_emulator::{Emulator, KeySpec, RunningEmulator};
use authenta_ureq::client::UploadSource;
use authenta_ureq::client::driver::blocking;
use authenta_ureq::proto::engine::flows::SourceInfo;
use authenta_ureq::proto::engine::job_batch::JobBatchWait;
use authenta_ureq::proto::engine::jobs::{JobUpload, RunJob, SlotSelector};
use authenta_ureq::proto::types::{JobParameters, JobStatus, SlotName, TaskType};
use authenta_ureq::proto::{
    PollPolicy, ProtocolError, jobs::JobFile, ops::CancelJob, ops::DeleteJob, ops::GetJob,
};
use authenta_ureq::{Client, Credentials, Error, RetryPolicy};

const PNG: &[u8] = include_bytes!("../../../samples/test-pattern.png");
const JPEG: &[u8] = include_bytes!("../../../samples/test-pattern.jpg");
const MP4: &[u8] = include_bytes!("../../../samples/test-pattern.mp4");

fn emulator_and_client() -> (RunningEmulator, Client) {
    let emu = Emulator::builder()
        .processing_time(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let key = emu.create_key(KeySpec::new("jobs")).unwrap();
    let client = Client::builder()
        .credentials(Credentials::api_key(key.api_key.as_str()))
        .base_url(emu.base_url())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    (emu, client)
}

fn quick() -> PollPolicy {
    PollPolicy::fixed(Duration::from_millis(50), Duration::from_secs(30))
}

fn upload(slot: SlotName, name: &str, bytes: &[u8]) -> JobUpload {
    JobUpload {
        file: JobFile::from_reader(slot, name, Cursor::new(bytes), None).unwrap(),
        source: SourceInfo {
            len: bytes.len() as u64,
            reopenable: true,
            name: name.to_owned(),
        },
    }
}

/// Runs `flow` with the client's transport and runtime, `source` its bytes.
fn run<F: authenta_ureq::proto::engine::Flow>(
    client: &Client,
    flow: &mut F,
    source: Option<&mut dyn UploadSource>,
) -> Result<F::Output, Error> {
    let driver = client.generic().driver();
    let mut io = blocking::Io {
        source,
        sink: None,
        progress: None,
    };
    blocking::run(&driver.transport, &driver.runtime, flow, &mut io)
}

/// Each slot's bytes, served as the flow's [`SlotSelector`] names.
struct Slots {
    selector: SlotSelector,
    files: Vec<(SlotName, &'static [u8])>,
}

impl Slots {
    fn current(&self) -> &'static [u8] {
        let slot = self.selector.current().expect("a slot is being uploaded");
        self.files.iter().find(|(s, _)| *s == slot).unwrap().1
    }
}

impl UploadSource for Slots {
    fn len(&self) -> u64 {
        self.current().len() as u64
    }

    fn reopenable(&self) -> bool {
        true
    }

    fn open(&mut self) -> std::io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.current()))
    }
}

#[test]
fn a_job_runs_to_its_verdict_against_the_emulator() {
    let (emu, client) = emulator_and_client();
    let mut flow = RunJob::new(
        TaskType::AiImageDetection,
        vec![upload(SlotName::Original, "test-pattern.png", PNG)],
        Some(JobParameters::v1()),
        client.config().clone(),
        *client.retry_policy(),
    )
    .unwrap()
    .poll_policy(quick());
    let mut source: &[u8] = PNG;
    let job = run(&client, &mut flow, Some(&mut source)).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.task_type(), Some(TaskType::AiImageDetection));
    let result = job.result.as_ref().expect("a completed job has its result");
    assert!(result.is_ai_generated.is_some(), "{result:?}");
    assert!(job.verdict().is_some());
    // The bytes went up whole, exactly once, and the job was finalized once.
    let uploads = emu.upload_requests();
    assert_eq!(uploads.len(), 1);
    let finalizes = emu
        .api_requests()
        .iter()
        .filter(|r| r.path.ends_with("/finalize"))
        .count();
    assert_eq!(finalizes, 1);
}

#[test]
fn a_multi_slot_job_uploads_each_slots_bytes() {
    let (emu, client) = emulator_and_client();
    let mut flow = RunJob::new(
        TaskType::FaceIntelligence,
        vec![
            upload(SlotName::Original, "test-pattern.mp4", MP4),
            upload(SlotName::Reference, "test-pattern.jpg", JPEG),
        ],
        Some(JobParameters {
            is_similarity_check: Some(true),
            ..JobParameters::v1()
        }),
        client.config().clone(),
        *client.retry_policy(),
    )
    .unwrap()
    .poll_policy(quick());
    let mut slots = Slots {
        selector: flow.slot_selector(),
        files: vec![(SlotName::Original, MP4), (SlotName::Reference, JPEG)],
    };
    let job = run(&client, &mut flow, Some(&mut slots)).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    let result = job.result.unwrap();
    assert!(
        result.is_similar.is_some() && result.similarity_score.is_some(),
        "{result:?}"
    );
    let uploads = emu.upload_requests();
    assert_eq!(uploads.len(), 2);
    let mut sizes: Vec<u64> = uploads
        .iter()
        .map(|u| u.header("content-length").unwrap().parse().unwrap())
        .collect();
    sizes.sort();
    let mut expected = vec![JPEG.len() as u64, MP4.len() as u64];
    expected.sort();
    assert_eq!(sizes, expected);
}

#[test]
fn many_jobs_are_waited_for_together_and_cancel_and_delete_say_the_state() {
    let (emu, client) = emulator_and_client();
    emu.set_processing_time(Duration::from_secs(2));
    let mut batch = JobBatchWait::new(quick(), client.config().clone(), *client.retry_policy());
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut flow = RunJob::new(
            TaskType::ImageForgeryDetection,
            vec![upload(SlotName::Original, "test-pattern.png", PNG)],
            None,
            client.config().clone(),
            *client.retry_policy(),
        )
        .unwrap()
        .poll_policy(quick())
        .bounded(Some(Duration::ZERO));
        let mut source: &[u8] = PNG;
        // A zero bound: the run ends at its first poll, the job processing.
        let err = run(&client, &mut flow, Some(&mut source)).unwrap_err();
        let Some(ProtocolError::JobTimeout(timeout)) = err.as_proto() else {
            panic!("{err:?}")
        };
        batch.add(
            timeout.job.clone(),
            Some(&TaskType::ImageForgeryDetection),
            None,
        );
        ids.push(timeout.job.clone());
    }
    emu.clear_api_requests();
    let mut done = Vec::new();
    while done.len() < 3 {
        let finished = run(&client, &mut batch, None).unwrap();
        assert!(!finished.is_empty());
        done.extend(finished);
    }
    for (id, result) in &done {
        let job = result.as_ref().unwrap();
        assert_eq!((&job.id, &job.status), (id, &JobStatus::Completed));
    }
    // The wait read the lists, and each job once on its own at most.
    let gets = emu
        .api_requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/jobs/"))
        .count();
    // (A job moving from queued to processing between the two lists is
    // in neither, and read once more.)
    assert!(gets <= 3 * 2, "{gets} single reads for 3 jobs");
    // Cancelling a completed job is refused, saying its status.
    let err = run(
        &client,
        &mut client.generic().call(CancelJob::new(ids[0].clone())),
        None,
    )
    .unwrap_err();
    let Some(ProtocolError::JobState(state)) = err.as_proto() else {
        panic!("{err:?}")
    };
    assert_eq!(state.job_status, Some(JobStatus::Completed), "{state:?}");
    assert!(err.to_string().contains("nothing to cancel"), "{err}");
    // Deleting a completed job works; reading it then is JOB_NOT_FOUND.
    run(
        &client,
        &mut client.generic().call(DeleteJob::new(ids[1].clone())),
        None,
    )
    .unwrap();
    let err = run(
        &client,
        &mut client.generic().call(GetJob::new(ids[1].clone())),
        None,
    )
    .unwrap_err();
    assert_eq!(err.class(), authenta_ureq::proto::ErrorClass::NotFound);
}
