//! `authenta process --task` and `authenta jobs` end to end: the binary
//! against an emulator this test starts, with an API key by environment
//! (jobs are the current API's).

mod common;

use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{ApiKey, Emulator, KeySpec, RunningEmulator};
use common::{authenta, has, run_expect as run, stdout_json as json_lines};
use serde_json::Value;

fn emulator(processing: Duration) -> (RunningEmulator, ApiKey) {
    let emulator = Emulator::builder()
        .processing_time(processing)
        .spawn()
        .unwrap();
    let key = emulator.create_key(KeySpec::new("cli-jobs")).unwrap();
    (emulator, key)
}

fn against(emulator: &RunningEmulator, key: &ApiKey) -> Command {
    let mut cmd = authenta();
    cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_API_KEY", &key.api_key);
    cmd
}

#[test]
fn process_task_runs_one_job_per_file_to_its_verdict() {
    let (emu, key) = emulator(Duration::from_millis(20));
    let table = run(
        &mut against(&emu, &key),
        &[
            "process",
            "--task",
            "faceswap-detection",
            "samples/test-pattern.mp4",
        ],
        0,
    );
    has(&table.stdout, "faceswap-detection");
    has(&table.stdout, "completed");
    assert!(
        table.stdout.contains("fake") || table.stdout.contains("real"),
        "{}",
        table.stdout
    );
    // By model code, two files, JSON lines: one completed job each.
    let lines = json_lines(&run(
        &mut against(&emu, &key),
        &[
            "--json",
            "process",
            "--task",
            "AC-1",
            "samples/test-pattern.png",
            "samples/test-pattern.jpg",
        ],
        0,
    ));
    let jobs: Vec<&Value> = lines.iter().filter(|l| l.get("job").is_some()).collect();
    assert_eq!(jobs.len(), 2, "{lines:?}");
    for line in jobs {
        assert_eq!(line["job"]["status"], "completed", "{line}");
        assert_eq!(line["task"], "ai-image-detection");
    }
    // Each job finalized once.
    let finalizes = emu
        .api_requests()
        .iter()
        .filter(|r| r.path.ends_with("/finalize"))
        .count();
    assert_eq!(finalizes, 3);
}

/// `--emulator` runs jobs too: the embedded emulator's fresh key is used
/// by its API key (jobs take no client id and secret).
#[test]
fn process_task_runs_on_the_embedded_emulator() {
    let out = run(
        authenta().env_remove("AUTHENTA_API_KEY"),
        &[
            "--emulator",
            "--json",
            "process",
            "--task",
            "ai-image-detection",
            "samples/test-pattern.png",
        ],
        0,
    );
    let lines = json_lines(&out);
    let job = lines
        .iter()
        .find(|l| l.get("job").is_some())
        .unwrap_or_else(|| panic!("no job line: {lines:?}"));
    assert_eq!(job["job"]["status"], "completed", "{job}");
}

#[test]
fn face_intelligence_takes_a_reference_image() {
    let (emu, key) = emulator(Duration::from_millis(20));
    let lines = json_lines(&run(
        &mut against(&emu, &key),
        &[
            "--json",
            "process",
            "--task",
            "face-intelligence",
            "--reference",
            "samples/test-pattern.jpg",
            "samples/test-pattern.mp4",
        ],
        0,
    ));
    let job = &lines[0]["job"];
    assert_eq!(job["status"], "completed", "{lines:?}");
    assert!(job["result"]["isSimilar"].is_boolean(), "{job}");
    assert_eq!(
        emu.upload_requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .count(),
        2
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let (emu, key) = emulator(Duration::from_millis(20));
    let unknown = run(
        &mut against(&emu, &key),
        &["process", "--task", "sharpen", "samples/test-pattern.png"],
        6,
    );
    has(
        &unknown.stderr,
        "task type sharpen is not one the API lists",
    );
    has(&unknown.stderr, "faceswap-detection (4, DF-1)");
    let format = run(
        &mut against(&emu, &key),
        &[
            "process",
            "--task",
            "faceswap-detection",
            "samples/test-pattern.mp4",
            "samples/test-pattern.png",
        ],
        6,
    );
    has(
        &format.stderr,
        "faceswap-detection takes MP4, MOV or WebM in its original slot",
    );
    has(&format.stderr, "nothing was uploaded");
    let reference = run(
        &mut against(&emu, &key),
        &[
            "process",
            "--task",
            "face-intelligence",
            "--reference",
            "samples/test-pattern.mp4",
            "samples/test-pattern.png",
        ],
        6,
    );
    has(&reference.stderr, "in its reference slot");
    let id = run(&mut against(&emu, &key), &["jobs", "get", "1/../2"], 6);
    has(&id.stderr, "is not a job id");
    assert!(emu.api_requests().is_empty(), "{:?}", emu.api_requests());
    assert!(emu.jobs().is_empty());
}

#[test]
fn jobs_are_listed_read_waited_for_cancelled_and_deleted() {
    let (emu, key) = emulator(Duration::from_millis(20));
    let lines = json_lines(&run(
        &mut against(&emu, &key),
        &[
            "--json",
            "process",
            "--task",
            "image-forgery-detection",
            "samples/test-pattern.png",
        ],
        0,
    ));
    let id = match &lines[0]["job"]["jobId"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let listed = json_lines(&run(
        &mut against(&emu, &key),
        &["--json", "jobs", "list", "--all", "--status", "completed"],
        0,
    ));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let table = run(&mut against(&emu, &key), &["jobs", "list"], 0);
    has(&table.stdout, "image-forgery-detection");
    has(&table.stderr, "1 of 1 jobs");
    let got = run(&mut against(&emu, &key), &["jobs", "get", &id], 0);
    has(&got.stdout, "completed");
    let waited = run(&mut against(&emu, &key), &["jobs", "wait", &id], 0);
    has(&waited.stdout, "completed");
    // A completed job cannot be cancelled: the error names its status.
    let cancel = run(&mut against(&emu, &key), &["jobs", "cancel", &id], 6);
    has(
        &cancel.stderr,
        &format!("cannot cancel job {id}: it is completed"),
    );
    run(&mut against(&emu, &key), &["jobs", "delete", &id], 0);
    let gone = run(&mut against(&emu, &key), &["jobs", "get", &id], 7);
    has(&gone.stderr, &id);
    run(
        &mut against(&emu, &key),
        &["jobs", "list", "--status", "done"],
        2,
    );
}

#[test]
fn no_credits_stops_the_batch_after_the_first_job() {
    let emulator = Emulator::builder().credits(0).spawn().unwrap();
    let key = emulator.create_key(KeySpec::new("cli-jobs")).unwrap();
    let lines = json_lines(&run(
        &mut against(&emulator, &key),
        &[
            "--json",
            "process",
            "-j",
            "1",
            "--task",
            "ai-image-detection",
            "samples/test-pattern.png",
            "samples/test-pattern.jpg",
        ],
        5,
    ));
    assert_eq!(
        lines[0]["error"]["code"], "INSUFFICIENT_BALANCE",
        "{lines:?}"
    );
    assert_eq!(lines[1]["skipped"], true, "{lines:?}");
    // The refused finalize spent nothing; the second file created no job.
    assert_eq!(emulator.jobs().len(), 1);
}

#[test]
fn many_finalized_jobs_are_waited_for_by_the_list_not_one_get_each() {
    const FILES: usize = 12;
    let (emu, key) = emulator(Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--no-ledger".to_owned(), "process".into(), "-j".into()];
    args.extend([
        FILES.to_string(),
        "--task".into(),
        "ai-image-detection".into(),
    ]);
    for i in 0..FILES {
        let image = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([i as u8, x as u8, y as u8]));
        let path = dir.path().join(format!("f{i:02}.png"));
        image.save(&path).unwrap();
        args.push(path.to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let table = run(&mut against(&emu, &key), &args, 0);
    assert_eq!(
        table.stdout.matches("completed").count(),
        FILES,
        "{}",
        table.stdout
    );
    let api = emu.api_requests();
    let gets = |f: &dyn Fn(&str) -> bool| {
        (api.iter())
            .filter(|r| r.method == "GET" && f(&r.path))
            .count()
    };
    let lists = gets(&|p| p.contains("status=queued") || p.contains("status=processing"));
    let singles = gets(&|p| {
        p.strip_prefix("/api/v1/jobs/")
            .is_some_and(|id| id.chars().all(|c| c.is_ascii_digit()))
    });
    eprintln!("{lists} list pages, {singles} single reads for {FILES} jobs");
    assert!(lists > 0, "the list was never read");
    // About one read each, for its result (a job due alone is read alone).
    assert!(
        singles < 2 * FILES,
        "{singles} single reads for {FILES} jobs"
    );
}
