//! Smoke tests of the blocking backend against the in-process emulator:
//! what proves the transport (wire shape, streaming, retries through real
//! sockets, redaction). The full conformance suite, shared with the async
//! backend, lives in the workspace's `tests` crate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authenta_emulator::{
    ApiKey, Emulator, Fault, FaultAction, FaultBody, KeySpec, RunningEmulator,
};
use authenta_ureq::types::{CreateMediaRequest, ErrorCode, MediaStatus, MediaType, ModelType};
use authenta_ureq::{
    Client, Credentials, ErrorClass, PollPolicy, RetryPolicy, UploadOptions, UploadTarget,
};

const PIXEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pixel.png");

struct Env {
    emu: RunningEmulator,
    key: ApiKey,
    client: Client,
}

fn env() -> Env {
    let emu = Emulator::builder()
        .processing_time(Duration::from_millis(20))
        .spawn()
        .unwrap();
    let key = emu.create_key(KeySpec::new("authenta-ureq tests")).unwrap();
    let client = client_for(&emu, &key.client_id, &key.client_secret);
    Env { emu, key, client }
}

fn client_for(emu: &RunningEmulator, id: &str, secret: &str) -> Client {
    Client::builder()
        .credentials(Credentials::new(id, secret))
        .base_url(emu.base_url())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .poll_policy(PollPolicy::fixed(
            Duration::from_millis(20),
            Duration::from_secs(20),
        ))
        .build()
        .unwrap()
}

fn png_of(dir: &Path, size: usize) -> PathBuf {
    let mut bytes = std::fs::read(PIXEL).unwrap();
    bytes.resize(size, 0);
    let path = dir.join("large.png");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_png_is_processed_to_a_verdict_with_its_artifacts() {
    let env = env();
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    let options = UploadOptions::new(ModelType::Ac1)
        .on_progress(move |sent, total| seen.lock().unwrap().push((sent, total)));
    let media = env.client.process(PIXEL, &options).unwrap();

    let size = std::fs::metadata(PIXEL).unwrap().len();
    assert_eq!(media.status, MediaStatus::Processed);
    assert_eq!(media.media_type, MediaType::Image);
    assert_eq!(media.name, "pixel.png");
    let record = env.emu.record(media.mid.as_str()).unwrap();
    let upload = record.upload.unwrap();
    assert_eq!(upload.size, size);
    assert_eq!(upload.content_type, "image/png");
    assert_eq!(media.fake, Some(authenta_emulator::verdict(&upload.sha256)));
    assert_eq!(progress.lock().unwrap().last(), Some(&(size, size)));

    assert!(env.client.result(&media).unwrap().is_some());
    let dir = tempfile::tempdir().unwrap();
    let heatmap = dir.path().join("heatmap.png");
    let written = env
        .client
        .download_heatmap(&media, &heatmap)
        .unwrap()
        .unwrap();
    let bytes = std::fs::read(&heatmap).unwrap();
    assert_eq!(written, bytes.len() as u64);
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    let mut without = media.clone();
    without.heatmap_url = None;
    let nothing = dir.path().join("none.png");
    assert_eq!(
        env.client.download_heatmap(&without, &nothing).unwrap(),
        None
    );
    assert!(!nothing.exists());
}

#[test]
fn an_upload_streams_with_its_length_and_without_credentials() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let size = 3 * 1024 * 1024 + 17;
    let path = png_of(dir.path(), size);
    let calls = Arc::new(Mutex::new(0u32));
    let counter = calls.clone();
    let options =
        UploadOptions::new(ModelType::Ac1).on_progress(move |_, _| *counter.lock().unwrap() += 1);
    let uploaded = env.client.upload(&path, &options).unwrap();
    assert!(uploaded.receipt.etag.is_some());
    assert!(*calls.lock().unwrap() > 1, "the body went out in pieces");

    let puts: Vec<_> = env
        .emu
        .upload_requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    let put = &puts[0];
    assert_eq!(
        put.client_mistakes(size as u64, "image/png"),
        Vec::<String>::new()
    );
    let record = env.emu.record(uploaded.mid().as_str()).unwrap();
    assert_eq!(record.upload.unwrap().size, size as u64);
    let api = env.emu.api_requests();
    assert!(!api.is_empty());
    assert!(
        api.iter()
            .all(|r| r.client_id.as_deref() == Some(env.key.client_id.as_str()))
    );
}

#[test]
fn a_get_is_retried_through_a_503_and_a_reset() {
    let env = env();
    let created = env
        .client
        .create(CreateMediaRequest {
            name: "later.png".into(),
            content_type: "image/png".into(),
            size: 70,
            model_type: ModelType::Ac1,
        })
        .unwrap();
    let mid = created.media.mid.clone();
    let path = format!("/api/media/{mid}");
    let busy = FaultAction::Status {
        status: 503,
        body: FaultBody::Empty,
        retry_after: None,
    };
    env.emu
        .inject_fault(Fault::new(&path, busy).method("GET"))
        .unwrap();
    env.emu
        .inject_fault(Fault::new(&path, FaultAction::Reset).method("GET"))
        .unwrap();
    env.emu.clear_api_requests();

    let media = env.client.get(&mid).unwrap();
    assert_eq!(media.status, MediaStatus::Inited);
    let gets: Vec<_> = env
        .emu
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .collect();
    let statuses: Vec<_> = gets.iter().map(|r| (r.status, r.faulted)).collect();
    assert_eq!(
        statuses,
        [(503, true), (0, true), (200, false)],
        "a 503, then a reset connection, then the answer"
    );

    // The record created above can still get its file: resume from the
    // saved create response.
    let target = UploadTarget::from_created(
        &created,
        &CreateMediaRequest {
            name: "later.png".into(),
            content_type: "image/png".into(),
            size: 70,
            model_type: ModelType::Ac1,
        },
        std::time::SystemTime::now(),
    )
    .unwrap();
    let saved = serde_json_roundtrip(&target);
    env.client.upload_to(&saved, PIXEL, None).unwrap();
    assert_eq!(
        env.client.wait(&mid).unwrap().status,
        MediaStatus::Processed
    );
}

fn serde_json_roundtrip(target: &UploadTarget) -> UploadTarget {
    let saved = serde_json::to_string(target).unwrap();
    serde_json::from_str(&saved).unwrap()
}

#[test]
fn no_debug_or_message_shows_the_secret() {
    let env = env();
    let secret = env.key.client_secret.clone();
    let client_debug = format!("{:?}", env.client);
    let config_debug = format!("{:?}", env.client.config());
    assert!(!client_debug.contains(&secret), "{client_debug}");
    assert!(!config_debug.contains(&secret), "{config_debug}");

    let wrong = "wrong-secret-0123456789abcdef";
    let client = client_for(&env.emu, &env.key.client_id, wrong);
    assert!(!format!("{client:?}").contains(wrong));
    let err = client.list_all().next().unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::Iam001));
    assert_eq!(err.class(), ErrorClass::Authentication);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(!err.is_retryable());
    for text in [format!("{err:?}"), err.to_string()] {
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(&secret), "{text}");
    }
    assert_eq!(
        env.emu.api_stats().by_code.get("IAM001"),
        Some(&1),
        "IAM001 is not retried"
    );

    // An expired upload URL is refused by S3; the message keeps the
    // signature out.
    env.emu.set_upload_url_backdate(Duration::from_secs(7200));
    let err = env
        .client
        .upload(PIXEL, &UploadOptions::new(ModelType::Ac1))
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("X-Amz-Signature"), "{text}");
    assert!(!text.contains(&secret), "{text}");
}

#[test]
fn process_many_runs_on_threads_and_ids_are_taken_as_text() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("pixel-{i}.png"));
            std::fs::copy(PIXEL, &path).unwrap();
            path
        })
        .collect();
    let missing = dir.path().join("missing.png");
    let mut all = paths.clone();
    all.push(missing.clone());
    let options = UploadOptions::new(ModelType::Ac1);
    let mut outcomes: Vec<_> = env.client.process_many(all, &options, 2).collect();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    let mut mids = Vec::new();
    for (path, result) in outcomes {
        if path == missing {
            let err = result.unwrap_err();
            assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
            continue;
        }
        let media = result.unwrap();
        assert_eq!(media.status, MediaStatus::Processed, "{}", path.display());
        mids.push(media.mid);
    }
    assert_eq!(mids.len(), 3);
    // A record id as the user has it: a String, a &str, a &MediaId.
    let text: String = mids[0].as_str().to_owned();
    assert_eq!(env.client.get(text.clone()).unwrap().mid, mids[0]);
    assert_eq!(env.client.get(text.as_str()).unwrap().mid, mids[0]);
    assert_eq!(env.client.wait(&mids[1]).unwrap().mid, mids[1]);
    // Text that cannot be an id fails before any request.
    let err = env.client.get("../media").unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
    assert!(err.to_string().contains("../media"), "{err}");
}
