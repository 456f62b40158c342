//! What a dropped future leaves behind, checked against the in-process
//! emulator: a dropped `process` or `upload` leaves at most one record, in
//! `INITED` unless its bytes arrived, and the checkpoint callback heard of
//! every record before it could exist; a dropped download leaves no
//! `.part` file.
//!
//! Each call runs on a runtime of its own, dropped with the call: dropping
//! a tokio runtime waits for its blocking pool, so a file write handed to
//! it has ended (and dropped its sink) before anything is checked. The
//! emulator runs on its own thread ([`EmulatorBuilder::spawn`]).
//!
//! [`EmulatorBuilder::spawn`]: authenta_emulator::EmulatorBuilder::spawn

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authenta_emulator::{Emulator, Fault, FaultAction, KeySpec, RunningEmulator};
use authenta_reqwest::proto::options::Checkpoint;
use authenta_reqwest::{
    Client, Credentials, MediaStatus, ModelType, PollPolicy, RetryPolicy, UploadOptions,
};

/// What one call's checkpoint callback was told, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Saved {
    Creating(String),
    Created(String),
    Uploaded(String),
}

/// Upload options for the record `name`, whose checkpoints go to the
/// returned log.
fn options(name: &str) -> (UploadOptions, Arc<Mutex<Vec<Saved>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let saved = log.clone();
    let options = UploadOptions::new(ModelType::Ac1)
        .name(name)
        .on_checkpoint(move |point| {
            let entry = match point {
                Checkpoint::Creating { request, .. } => Saved::Creating(request.name.clone()),
                Checkpoint::Created { created, .. } => {
                    Saved::Created(created.media.mid.to_string())
                }
                Checkpoint::Uploaded { mid } => Saved::Uploaded(mid.to_string()),
                _ => return Ok(()),
            };
            saved.lock().unwrap().push(entry);
            Ok(())
        });
    (options, log)
}

fn emulator(processing: Duration) -> RunningEmulator {
    Emulator::builder()
        .processing_time(processing)
        .spawn()
        .expect("start the emulator")
}

fn client(emu: &RunningEmulator) -> Client {
    let key = emu.create_key(KeySpec::new("cancel")).expect("a key");
    Client::builder()
        .credentials(Credentials::new(key.client_id, key.client_secret))
        .base_url(emu.base_url())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .poll_policy(PollPolicy::fixed(
            Duration::from_millis(10),
            Duration::from_secs(3600),
        ))
        .build()
        .expect("a client")
}

/// A PNG of a few kilobytes, complete as far as validation looks.
fn png(dir: &Path, name: &str) -> PathBuf {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    bytes.resize(40_000, 0x5a);
    bytes.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a PNG");
    path
}

/// Runs `call` on a runtime of its own until it finishes or `stop` does
/// (the call is polled first), then drops both (the runtime waits for its
/// blocking pool). `Some` when the call finished first.
fn run_until<T>(call: impl Future<Output = T>, stop: impl Future<Output = ()>) -> Option<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = runtime.block_on(async {
        tokio::select! {
            biased;
            value = call => Some(value),
            () = stop => None,
        }
    });
    drop(runtime);
    outcome
}

/// A future that ends once `log` holds an entry `stage` accepts.
async fn saved(log: Arc<Mutex<Vec<Saved>>>, stage: fn(&Saved) -> bool) {
    while !log.lock().unwrap().iter().any(stage) {
        tokio::task::yield_now().await;
    }
}

/// The records named `name`, and the checks every dropped call must pass:
/// at most one record; the callback heard `Creating` for it first; its
/// mid is the one `Created` named, if that was saved; `INITED` unless its
/// bytes arrived, and never `INITED` once `Uploaded` was saved.
fn check(emu: &RunningEmulator, name: &str, log: &[Saved]) -> Option<String> {
    let records: Vec<_> = emu
        .records()
        .into_iter()
        .filter(|r| r.name == name)
        .collect();
    assert!(records.len() <= 1, "{name}: {} records", records.len());
    let record = records.into_iter().next()?;
    assert_eq!(
        log.first(),
        Some(&Saved::Creating(name.to_owned())),
        "{name}: a record exists that the callback did not hear of first: {log:?}"
    );
    let created = log.iter().find_map(|s| match s {
        Saved::Created(mid) => Some(mid.clone()),
        _ => None,
    });
    if let Some(mid) = &created {
        assert_eq!(mid, &record.mid, "{name}: {log:?}");
    }
    if record.status != "INITED" {
        assert!(
            created.is_some(),
            "{name}: bytes arrived for a record the callback was not told of: {log:?}"
        );
    }
    if log.contains(&Saved::Uploaded(record.mid.clone())) {
        assert_ne!(record.status, "INITED", "{name}: {log:?}");
    }
    Some(record.status)
}

#[test]
fn a_process_dropped_before_its_create_is_handled_leaves_nothing() {
    let emu = emulator(Duration::from_millis(20));
    let client = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = png(dir.path(), "before.png");
    // The create is held on the server, before handling, long after this
    // test has ended.
    emu.inject_fault(
        Fault::new("/api/media", FaultAction::Delay { millis: 600_000 }).method("POST"),
    )
    .unwrap();
    let (options, log) = options("before.png");
    let creating = saved(log.clone(), |s| matches!(s, Saved::Creating(_)));
    assert!(run_until(client.process(&path, &options), creating).is_none());
    assert_eq!(*log.lock().unwrap(), [Saved::Creating("before.png".into())]);
    assert_eq!(check(&emu, "before.png", &log.lock().unwrap()), None);
}

/// Stopped after one poll, whatever that poll reached: nothing
/// unreported.
#[test]
fn a_process_dropped_after_one_poll_passes_the_checks() {
    let emu = emulator(Duration::from_millis(20));
    let client = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = png(dir.path(), "first-poll.png");
    let (options, log) = options("first-poll.png");
    assert!(run_until(client.process(&path, &options), async {}).is_none());
    let log = log.lock().unwrap();
    assert!(log.len() <= 1, "{log:?}");
    check(&emu, "first-poll.png", &log);
}

#[test]
fn a_process_dropped_during_its_upload_leaves_one_inited_record_it_reported() {
    let emu = emulator(Duration::from_millis(20));
    let client = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = png(dir.path(), "during.png");
    // The upload is held on the server long after this test has ended.
    emu.inject_fault(Fault::new(
        "/authenta-storage",
        FaultAction::Delay { millis: 600_000 },
    ))
    .unwrap();
    let (options, log) = options("during.png");
    let created = saved(log.clone(), |s| matches!(s, Saved::Created(_)));
    assert!(run_until(client.process(&path, &options), created).is_none());
    let log = log.lock().unwrap();
    assert_eq!(check(&emu, "during.png", &log).as_deref(), Some("INITED"));
    assert_eq!(log.len(), 2, "{log:?}");
}

#[test]
fn a_process_dropped_while_waiting_leaves_its_uploaded_record() {
    // Processing never ends while the test runs: the wait is under way.
    let emu = emulator(Duration::from_secs(3600));
    let client = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = png(dir.path(), "waiting.png");
    let (options, log) = options("waiting.png");
    let uploaded = saved(log.clone(), |s| matches!(s, Saved::Uploaded(_)));
    assert!(run_until(client.process(&path, &options), uploaded).is_none());
    let log = log.lock().unwrap();
    let status = check(&emu, "waiting.png", &log).expect("the record");
    assert_ne!(status, "INITED");
    assert_eq!(log.len(), 3, "{log:?}");
}

/// Drops `process` and `upload` after ever longer times, from nothing sent
/// to the whole call done: each dropped call passes [`check`].
#[test]
fn process_and_upload_dropped_at_any_point_pass_the_checks() {
    let emu = emulator(Duration::from_millis(5));
    let client = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = png(dir.path(), "sweep.png");
    for upload in [false, true] {
        let mut micros = 50;
        for attempt in 0.. {
            let name = format!("sweep-{upload}-{attempt}.png");
            let (options, log) = options(&name);
            let stop = async move { tokio::time::sleep(Duration::from_micros(micros)).await };
            let finished = if upload {
                run_until(client.upload(&path, &options), stop)
                    .map(|r| r.expect("the upload").created.media.mid.to_string())
            } else {
                run_until(client.process(&path, &options), stop).map(|r| {
                    let media = r.expect("the process");
                    assert_eq!(media.status, MediaStatus::Processed);
                    media.mid.to_string()
                })
            };
            let status = check(&emu, &name, &log.lock().unwrap());
            if let Some(mid) = finished {
                assert!(status.is_some_and(|s| s != "INITED"), "{name}");
                assert!(log.lock().unwrap().contains(&Saved::Uploaded(mid)));
                break;
            }
            micros = micros * 3 / 2;
        }
    }
}

/// A processed record, and the client and directory that made it.
fn processed(emu: &RunningEmulator) -> (Client, tempfile::TempDir, authenta_reqwest::Media) {
    let client = client(emu);
    let dir = tempfile::tempdir().unwrap();
    let path = png(dir.path(), "heat-source.png");
    let (options, _) = options("heat-source.png");
    let media = run_until(client.process(&path, &options), std::future::pending())
        .expect("no stop")
        .expect("processed");
    (client, dir, media)
}

/// Drops `download_heatmap` while its `.part` file is open and the answer
/// is held on the server: the `.part` is gone, the file never appeared.
#[test]
fn a_download_dropped_midway_leaves_no_part_file() {
    let emu = emulator(Duration::from_millis(5));
    let (client, dir, media) = processed(&emu);
    let url: authenta_reqwest::proto::http::Uri = media
        .heatmap_url
        .as_deref()
        .expect("a heatmap")
        .parse()
        .unwrap();
    emu.inject_fault(Fault::new(
        url.path(),
        FaultAction::Delay { millis: 600_000 },
    ))
    .unwrap();
    let target = dir.path().join("heatmap.png");
    let part = dir.path().join("heatmap.png.part");
    let part_open = async {
        while !part.exists() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    assert!(run_until(client.download_heatmap(&media, &target), part_open).is_none());
    assert!(!part.exists());
    assert!(!target.exists());
}

/// Drops `download_heatmap` after ever longer times: no `.part` file is
/// left, and the file is either absent or whole (a drop while the finished
/// file is moved into place lets the move end).
#[test]
fn a_download_dropped_at_any_point_leaves_no_part_file() {
    let emu = emulator(Duration::from_millis(5));
    let (client, dir, media) = processed(&emu);
    let whole = dir.path().join("whole.png");
    run_until(
        client.download_heatmap(&media, &whole),
        std::future::pending(),
    )
    .expect("no stop")
    .expect("the download")
    .expect("a heatmap");
    let whole = std::fs::read(whole).unwrap();
    let mut micros = 20;
    for attempt in 0.. {
        let target = dir.path().join(format!("heatmap-{attempt}.png"));
        let stop = async move { tokio::time::sleep(Duration::from_micros(micros)).await };
        let finished = run_until(client.download_heatmap(&media, &target), stop);
        assert!(
            !dir.path()
                .join(format!("heatmap-{attempt}.png.part"))
                .exists()
        );
        if let Some(written) = finished {
            let written = written.expect("the download").expect("a heatmap");
            assert_eq!(std::fs::metadata(&target).unwrap().len(), written);
            break;
        }
        if target.exists() {
            assert!(std::fs::read(&target).unwrap() == whole, "{attempt}");
        }
        micros = micros * 3 / 2;
    }
}
