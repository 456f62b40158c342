//! The `authenta` binary end to end: against the embedded emulator
//! (`--emulator`), or against an emulator this test starts and controls,
//! with the credentials passed by environment as a user would.

mod common;

use std::io::BufRead as _;
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{
    ApiKey, Emulator, EmulatorBuilder, Fault, FaultAction, FaultBody, KeySpec, RunningEmulator,
};
use authenta_reqwest::types::Permission;
use common::{authenta, has};
use serde_json::Value;

const SECRET_ENV: &str = "AUTHENTA_CLIENT_SECRET";

/// `authenta` pointed at `emulator` with `key`, by environment.
fn against(emulator: &RunningEmulator, key: &ApiKey) -> Command {
    let mut cmd = authenta();
    cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_CLIENT_ID", &key.client_id)
        .env(SECRET_ENV, &key.client_secret);
    cmd
}

fn quick() -> EmulatorBuilder {
    Emulator::builder().processing_time(Duration::from_millis(20))
}

/// An emulator and a key with every permission and no quota limit.
fn emulator_and_key(builder: EmulatorBuilder) -> (RunningEmulator, ApiKey) {
    emulator_with_key(builder, KeySpec::new("cli-tests"))
}

/// An emulator and a key made to `spec`.
fn emulator_with_key(builder: EmulatorBuilder, spec: KeySpec) -> (RunningEmulator, ApiKey) {
    let emulator = builder.spawn().unwrap();
    let key = emulator.create_key(spec).unwrap();
    (emulator, key)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command, args: &[&str]) -> Run {
    let output = cmd.args(args).output().unwrap();
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs and checks the exit code; the run's output when it differs.
fn run_expect(cmd: &mut Command, args: &[&str], code: i32) -> Run {
    let run = run(cmd, args);
    assert_eq!(
        run.code, code,
        "authenta {args:?}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

/// Every stdout line as JSON.
fn json_lines(run: &Run) -> Vec<Value> {
    let parse = |line: &str| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    run.stdout.lines().map(parse).collect()
}

fn sample(name: &str) -> String {
    format!("samples/{name}")
}

/// Uploads a sample with the CLI and returns its mid.
fn upload(emulator: &RunningEmulator, key: &ApiKey, name: &str) -> String {
    let run = run_expect(&mut against(emulator, key), &["upload", &sample(name)], 0);
    let mid = run.stdout.trim().to_owned();
    assert_eq!(mid.len(), 24, "{}", run.stdout);
    mid
}

#[test]
fn help_shows_the_exit_codes_and_models_but_never_the_secret() {
    let secret = "help-must-not-show-this-secret";
    let help = run_expect(authenta().env(SECRET_ENV, secret), &["--help"], 0);
    has(&help.stdout, "Exit codes:");
    has(&help.stdout, " 10  not final");
    has(&help.stdout, "130  interrupted");
    has(&help.stdout, "[env: AUTHENTA_CLIENT_SECRET]");
    let process = run_expect(
        authenta().env(SECRET_ENV, secret),
        &["process", "--help"],
        0,
    );
    has(&process.stdout, "FL-1");
    for output in [&help.stdout, &process.stdout] {
        assert!(!output.contains(secret));
    }
}

#[test]
fn usage_errors_exit_2() {
    run_expect(&mut authenta(), &["--no-such-flag"], 2);
    run_expect(&mut authenta(), &["process"], 2);
    run_expect(&mut authenta(), &["wait", "abc", "--timeout", "soon"], 2);
    let missing = run_expect(&mut authenta(), &["list"], 2);
    has(&missing.stderr, "AUTHENTA_API_KEY is not set");
    has(
        &missing.stderr,
        "AUTHENTA_CLIENT_ID and AUTHENTA_CLIENT_SECRET",
    );
    // Both kinds at once: which to unset.
    let both = run_expect(
        authenta()
            .env("AUTHENTA_API_KEY", "api_x")
            .env("AUTHENTA_CLIENT_ID", "id"),
        &["list"],
        2,
    );
    has(&both.stderr, "unset AUTHENTA_CLIENT_ID to use the API key");
    has(&both.stderr, "or unset AUTHENTA_API_KEY");
    let insecure = run_expect(
        authenta()
            .env("AUTHENTA_CLIENT_ID", "id")
            .env(SECRET_ENV, "secret"),
        &["--base-url", "http://example.com/api", "list"],
        2,
    );
    has(&insecure.stderr, "invalid base URL");
}

#[test]
fn process_samples_on_the_embedded_emulator_prints_a_verdict_for_each() {
    let run = run_expect(&mut authenta(), &["--emulator", "process", "samples/"], 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(lines[0].starts_with("FILE "), "{}", run.stdout);
    for (line, (name, model)) in lines[1..].iter().zip([
        ("test-pattern.jpg", "AC-1"),
        ("test-pattern.mp4", "DF-1"),
        ("test-pattern.png", "AC-1"),
    ]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], sample(name));
        assert_eq!((cells[2], cells[3]), (model, "PROCESSED"), "{line}");
        assert!(["fake", "real"].contains(&cells[4]), "{line}");
    }
    has(
        &run.stderr,
        "skipping samples/README.md: not media the API takes",
    );
}

#[test]
fn process_json_is_one_parsable_object_per_file() {
    let run = run_expect(
        &mut authenta(),
        &[
            "--emulator",
            "--json",
            "process",
            "samples/test-pattern.png",
            "samples/test-pattern.mp4",
            "-j",
            "1",
        ],
        0,
    );
    let lines = json_lines(&run);
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    for line in &lines {
        assert_eq!(line["media"]["status"], "PROCESSED", "{line}");
        assert!(line["media"]["fake"].is_boolean(), "{line}");
        assert!(line["elapsedMs"].is_u64(), "{line}");
    }
    let models: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["file"].as_str().unwrap(), l["model"].as_str().unwrap()))
        .collect();
    assert!(
        models.contains(&("samples/test-pattern.png", "AC-1")),
        "{models:?}"
    );
    assert!(
        models.contains(&("samples/test-pattern.mp4", "DF-1")),
        "{models:?}"
    );
}

#[test]
fn one_record_through_upload_wait_get_list_result_and_delete() {
    let (emulator, key) = emulator_and_key(quick());
    let mid = upload(&emulator, &key, "test-pattern.png");

    let wait = run_expect(&mut against(&emulator, &key), &["wait", &mid], 0);
    has(&wait.stdout, "PROCESSED");

    let get = run_expect(&mut against(&emulator, &key), &["--json", "get", &mid], 0);
    let record = &json_lines(&get)[0];
    assert_eq!(
        (record["mid"].as_str(), record["status"].as_str()),
        (Some(&*mid), Some("PROCESSED"))
    );
    let get = run_expect(&mut against(&emulator, &key), &["get", &mid], 0);
    has(&get.stdout, "test-pattern.png");

    let list = run_expect(&mut against(&emulator, &key), &["list"], 0);
    assert!(list.stdout.starts_with("MID "), "{}", list.stdout);
    has(&list.stdout, &mid);
    for args in [
        &["--json", "list", "--limit", "5"][..],
        &["--json", "list", "--all"],
    ] {
        let list = run_expect(&mut against(&emulator, &key), args, 0);
        let records = json_lines(&list);
        assert_eq!(records.len(), 1, "{}", list.stdout);
        assert_eq!(records[0]["mid"], mid.as_str());
    }

    let dir = tempfile::tempdir().unwrap();
    let heatmap = dir.path().join("heatmap.png");
    let heatmap_arg = heatmap.to_str().unwrap();
    let result = run_expect(
        &mut against(&emulator, &key),
        &["--json", "result", &mid, "--heatmap", heatmap_arg],
        0,
    );
    let result = &json_lines(&result)[0];
    assert_eq!(result["mid"], mid.as_str());
    assert!(result["result"].is_object(), "{result}");
    let written = std::fs::read(&heatmap).unwrap();
    assert!(written.starts_with(b"\x89PNG"));
    assert_eq!(result["heatmap"]["bytes"], written.len());
    let result = run_expect(&mut against(&emulator, &key), &["result", &mid], 0);
    has(&result.stdout, "verdict");

    let delete = run_expect(
        &mut against(&emulator, &key),
        &["--json", "delete", &mid],
        0,
    );
    assert_eq!(json_lines(&delete)[0]["deleted"], true);
    assert!(emulator.records().is_empty());
    let gone = run_expect(&mut against(&emulator, &key), &["get", &mid], 7);
    has(&gone.stderr, &mid);
}

#[test]
fn upload_json_names_the_record() {
    let (emulator, key) = emulator_and_key(quick());
    let run = run_expect(
        &mut against(&emulator, &key),
        &[
            "--json",
            "upload",
            "samples/test-pattern.mp4",
            "--name",
            "clip",
        ],
        0,
    );
    let uploaded = &json_lines(&run)[0];
    assert_eq!(
        (uploaded["name"].as_str(), uploaded["model"].as_str()),
        (Some("clip"), Some("DF-1"))
    );
    let record = emulator.record(uploaded["mid"].as_str().unwrap()).unwrap();
    assert_eq!(record.content_type, "video/mp4");
}

#[test]
fn a_wrong_secret_exits_3_and_is_never_shown() {
    let (emulator, key) = emulator_and_key(quick());
    let wrong = "wrong-secret-0123456789abcdef";
    let run = run_expect(
        against(&emulator, &key).env(SECRET_ENV, wrong),
        &["list"],
        3,
    );
    has(&run.stderr, "IAM001");
    has(&run.stderr, "check the client id and secret");
    let flag = run_expect(
        &mut against(&emulator, &key),
        &[
            "--client-secret",
            wrong,
            "process",
            "samples/test-pattern.png",
        ],
        3,
    );
    for output in [&run.stdout, &run.stderr, &flag.stdout, &flag.stderr] {
        assert!(!output.contains(wrong) && !output.contains(&key.client_secret));
    }
}

#[test]
fn a_key_without_write_exits_4_and_the_error_names_the_permission() {
    let (emulator, key) = emulator_with_key(
        quick(),
        KeySpec::new("read-only").permissions([Permission::Read]),
    );
    let run = run_expect(
        &mut against(&emulator, &key),
        &["process", "samples/test-pattern.png"],
        4,
    );
    has(&run.stderr, "IAM002");
    has(&run.stderr, "the key lacks the Write permission");
    assert!(emulator.records().is_empty());
}

#[test]
fn a_spent_quota_exits_5_and_stops_the_other_files() {
    let (emulator, key) =
        emulator_with_key(quick(), KeySpec::new("one-mutation").mutation_quota(1));
    let run = run_expect(
        &mut against(&emulator, &key),
        &[
            "process",
            "-j",
            "1",
            "samples/test-pattern.jpg",
            "samples/test-pattern.png",
            "samples/test-pattern.mp4",
        ],
        5,
    );
    has(&run.stderr, "AA001");
    has(&run.stderr, "give the key more quota");
    has(&run.stdout, "PROCESSED");
    has(&run.stdout, "skipped");
    assert_eq!(emulator.records().len(), 1);
}

#[test]
fn no_credits_exits_5_and_says_to_add_credits() {
    let (emulator, key) = emulator_and_key(quick().credits(0));
    let run = run_expect(
        &mut against(&emulator, &key),
        &["upload", "samples/test-pattern.png"],
        5,
    );
    has(&run.stderr, "U007");
    has(&run.stderr, "add credits");
    let json = run_expect(
        &mut against(&emulator, &key),
        &["--json", "process", "samples/test-pattern.png"],
        5,
    );
    let line = &json_lines(&json)[0];
    assert_eq!(
        (
            line["error"]["code"].as_str(),
            line["error"]["exitCode"].as_u64()
        ),
        (Some("U007"), Some(5))
    );
}

#[test]
fn insufficient_balance_for_an_api_key_exits_5_and_stops_the_batch() {
    let (emulator, key) = emulator_and_key(quick().credits(0));
    let mut cmd = authenta();
    cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_API_KEY", &key.api_key);
    let run = run_expect(&mut cmd, &["--json", "process", "-j", "1", "samples/"], 5);
    // The files' lines (the note about samples/README.md aside).
    let lines: Vec<Value> = (json_lines(&run).into_iter())
        .filter(|l| l.get("note").is_none())
        .collect();
    let first = &lines[0];
    assert_eq!(
        (
            first["error"]["code"].as_str(),
            first["error"]["class"].as_str(),
            first["error"]["status"].as_u64(),
            first["error"]["exitCode"].as_u64()
        ),
        (
            Some("INSUFFICIENT_BALANCE"),
            Some("credits"),
            Some(402),
            Some(5)
        ),
        "{}",
        run.stdout
    );
    // The batch started no other file.
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for line in &lines[1..] {
        assert_eq!(line["skipped"], true, "{line}");
    }
    // One refused create, never retried.
    assert_eq!(emulator.api_requests().len(), 1);
    // For people: the code, and what to do.
    let mut cmd = authenta();
    cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_API_KEY", &key.api_key);
    let plain = run_expect(&mut cmd, &["upload", "samples/test-pattern.png"], 5);
    has(&plain.stderr, "INSUFFICIENT_BALANCE");
    has(&plain.stderr, "add credits");
    assert!(!plain.stderr.contains(&key.api_key), "{}", plain.stderr);
}

#[test]
fn invalid_input_exits_6_before_any_record_is_created() {
    let (emulator, key) = emulator_and_key(quick());
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not media").unwrap();
    let notes = notes.to_str().unwrap();
    let cases: [&[&str]; 4] = [
        &["process", "samples/test-pattern.png", notes],
        &["process", "--model", "DF-1", "samples/test-pattern.png"],
        &["upload", notes],
        &[
            "process",
            "samples/test-pattern.png",
            "samples/no-such-file.png",
        ],
    ];
    for args in cases {
        let run = run_expect(&mut against(&emulator, &key), args, 6);
        has(&run.stderr, "nothing was uploaded");
    }
    let missing = run(&mut against(&emulator, &key), cases[3]);
    has(&missing.stderr, "no-such-file.png: cannot read the file");
    assert!(emulator.records().is_empty());
    assert!(
        emulator.api_requests().is_empty(),
        "{:?}",
        emulator.api_requests()
    );
}

#[test]
fn a_closed_port_exits_8() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = run_expect(
        authenta()
            .env("AUTHENTA_CLIENT_ID", "id")
            .env(SECRET_ENV, "secret"),
        &[
            "--base-url",
            &format!("http://127.0.0.1:{port}/api"),
            "list",
        ],
        8,
    );
    has(&run.stderr, "cannot connect");
}

#[test]
fn a_server_error_exits_9() {
    let (emulator, key) = emulator_and_key(quick());
    let fault = Fault::new(
        "/api/media",
        FaultAction::Status {
            status: 500,
            body: FaultBody::Json,
            retry_after: None,
        },
    );
    emulator.inject_fault(fault.times(10)).unwrap();
    let run = run_expect(&mut against(&emulator, &key), &["list"], 9);
    has(&run.stderr, "HTTP 500");
}

#[test]
fn a_wait_past_its_timeout_and_result_before_the_verdict_exit_10_not_final() {
    let (emulator, key) =
        emulator_and_key(Emulator::builder().processing_time(Duration::from_secs(600)));
    let mid = upload(&emulator, &key, "test-pattern.jpg");
    let run = run_expect(
        &mut against(&emulator, &key),
        &["wait", &mid, "--timeout", "1s"],
        10,
    );
    has(&run.stderr, "did not reach a final status");
    has(&run.stderr, &mid);
    let early = run_expect(&mut against(&emulator, &key), &["result", &mid], 10);
    has(&early.stderr, "not final: no result yet");
}

/// `NAME=value` pairs of a line of `authenta emulator`'s output, after
/// `export ` (a comment's too).
fn exports(line: &str) -> Vec<(String, String)> {
    let (_, assignments) = line.split_once("export ").expect("an export line");
    assignments
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_emulator_command_prints_keys_of_both_kinds_that_process_every_sample() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_authenta"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--processing-time",
            "20ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let (base_url, api_key, older) = (next(), next(), next());
    let base_url = exports(&base_url);
    let api_key = exports(&api_key);
    assert!(
        older.starts_with("# "),
        "the older kind is a comment: {older}"
    );
    let older = exports(&older);
    let names = |env: &[(String, String)]| env.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&base_url), ["AUTHENTA_BASE_URL"]);
    assert_eq!(names(&api_key), ["AUTHENTA_API_KEY"]);
    assert!(api_key[0].1.starts_with("api_"), "{api_key:?}");
    assert_eq!(names(&older), ["AUTHENTA_CLIENT_ID", SECRET_ENV]);
    // `AUTHENTA_API_KEY=… AUTHENTA_BASE_URL=… authenta process samples/`,
    // and the same with the client id and secret: every sample processed.
    let mut runs = Vec::new();
    for credentials in [&api_key, &older] {
        let mut cmd = authenta();
        cmd.envs(
            base_url
                .iter()
                .chain(credentials.iter())
                .map(|(n, v)| (n, v)),
        );
        runs.push(run(&mut cmd, &["process", "samples/"]));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for (run, spent) in runs
        .iter()
        .zip([" API calls with key api_", "authenta: spent "])
    {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows: Vec<&str> = run.stdout.lines().skip(1).collect();
        assert_eq!(rows.len(), 3, "{}", run.stdout);
        for row in rows {
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cells[3], "PROCESSED", "{row}");
            assert!(["fake", "real"].contains(&cells[4]), "{row}");
        }
        // An image's confidence, a video's faces.
        has(&run.stdout, "confidence 0.");
        has(&run.stdout, " face");
        has(&run.stderr, spent);
    }
    assert!(!runs[0].stderr.contains("quer"), "{}", runs[0].stderr);
}
