//! What a user meets (issue 23): checks that cost nothing, answers that are
//! not the API's, states told honestly. Each test runs `authenta` against an
//! emulator it controls and reads what the emulator saw.

mod common;

use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{
    ApiKey, Emulator, EmulatorBuilder, Fault, FaultAction, KeySpec, RunningEmulator,
};
use common::{authenta, has};
use serde_json::Value;

/// An emulator and a key with every permission.
fn emulator(builder: EmulatorBuilder) -> (RunningEmulator, ApiKey) {
    let emulator = builder.spawn().unwrap();
    let key = emulator.create_key(KeySpec::new("meet")).unwrap();
    (emulator, key)
}

/// `authenta` pointed at `emulator` with `key`, by environment.
fn against(emulator: &RunningEmulator, key: &ApiKey) -> Command {
    let mut cmd = authenta();
    cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_CLIENT_ID", &key.client_id)
        .env("AUTHENTA_CLIENT_SECRET", &key.client_secret);
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs and checks the exit code; the run's output when it differs.
fn run(cmd: &mut Command, args: &[&str], code: i32) -> Run {
    let output = cmd.args(args).output().unwrap();
    let run = Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert_eq!(
        run.code, code,
        "authenta {args:?}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

/// Every stdout line as JSON.
fn json_lines(text: &str) -> Vec<Value> {
    let parse = |line: &str| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    text.lines().map(parse).collect()
}

#[test]
fn a_malformed_mid_or_unknown_model_exits_6_and_the_emulator_sees_no_request() {
    let (emulator, key) = emulator(Emulator::builder());
    for args in [
        &["get", "not-a-mid"][..],
        &["delete", "692f406f9f68d4b70080bb8"],
        &["result", "692f406f9f68d4b70080bb80ff"],
        &["wait", "../admin"],
    ] {
        let out = run(&mut against(&emulator, &key), args, 6);
        has(&out.stderr, "is not a media id");
        has(&out.stderr, "24 hexadecimal characters");
        // Nothing was spent, so there is no closing `spent` line.
        assert!(!out.stderr.contains("spent"), "{}", out.stderr);
    }
    let json = run(&mut against(&emulator, &key), &["--json", "get", "XYZ"], 6);
    let lines = json_lines(&json.stdout);
    assert_eq!(lines[0]["error"]["class"], "invalid_input", "{lines:?}");
    assert_eq!(lines[0]["error"]["exitCode"], 6);

    for args in [
        &["process", "--model", "XX-9", "samples/"][..],
        &["upload", "--model", "xx-9", "samples/test-pattern.png"],
    ] {
        let out = run(&mut against(&emulator, &key), args, 6);
        has(
            &out.stderr,
            "model XX-9 is not one the API lists; it takes DF-1 (Video)",
        );
        has(&out.stderr, "AC-1 (Image)");
        // Once, not once per file.
        assert_eq!(out.stderr.matches("XX-9").count(), 1, "{}", out.stderr);
    }
    assert!(
        emulator.api_requests().is_empty(),
        "{:?}",
        emulator.api_requests()
    );
    // An upper-case mid is read as the lower-case one the API gave.
    let uploaded = run(
        &mut against(&emulator, &key),
        &["upload", "samples/test-pattern.png"],
        0,
    );
    let mid = uploaded.stdout.trim().to_ascii_uppercase();
    let got = run(&mut against(&emulator, &key), &["--json", "get", &mid], 0);
    assert_eq!(json_lines(&got.stdout)[0]["mid"], mid.to_ascii_lowercase());
}

#[test]
fn an_answer_that_is_not_the_apis_says_to_check_the_base_url() {
    let (emulator, key) = emulator(Emulator::builder());
    // A web page where the API's JSON should be (a wrong base URL).
    let page = FaultAction::Respond {
        status: 200,
        body: "<!doctype html><html><body>Welcome</body></html>".into(),
        content_type: Some("text/html".into()),
        retry_after: None,
    };
    emulator
        .inject_fault(Fault::new("/api/media", page).times(1))
        .unwrap();
    let html = run(&mut against(&emulator, &key), &["list"], 9);
    has(&html.stderr, "not the Authenta API's");
    has(&html.stderr, "check the base URL");
    assert!(!html.stderr.contains("try again later"), "{}", html.stderr);

    // A redirect (the API never sends one).
    let moved = FaultAction::Redirect {
        status: 307,
        location: None,
    };
    emulator
        .inject_fault(Fault::new("/api/media", moved).times(1))
        .unwrap();
    let redirect = run(&mut against(&emulator, &key), &["list"], 9);
    has(&redirect.stderr, "HTTP 307");
    has(&redirect.stderr, "check the base URL");
}

#[test]
fn a_record_still_processing_when_the_wait_ends_is_not_final_not_failed() {
    let (emulator, key) = emulator(Emulator::builder().processing_time(Duration::from_secs(600)));
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let args = [
        "process",
        "samples/test-pattern.png",
        "--timeout",
        "1s",
        "--no-ledger",
        "--report",
        report.to_str().unwrap(),
    ];
    // The table: its own word and the last status; exit 10, not 1.
    let table = run(&mut against(&emulator, &key), &args, 10);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("samples/test-pattern.png"))
        .unwrap_or_else(|| panic!("no row:\n{}", table.stdout));
    has(row, "not final (UPLOADED)");
    assert!(!row.contains("error"), "{row}");
    has(
        &table.stderr,
        "authenta: not final: samples/test-pattern.png",
    );
    has(&table.stderr, "0 failed, 1 not final");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<strong>1</strong>not final"), "{html}");
    assert!(html.contains("<strong>0</strong>failed"), "{html}");
    has(&html, "not final (UPLOADED)");

    // The JSON line: `notFinal` with the mid and last status, no `error`.
    let json_args: Vec<&str> = std::iter::once("--json")
        .chain(args[..5].iter().copied())
        .collect();
    let json = run(&mut against(&emulator, &key), &json_args, 10);
    let line = &json_lines(&json.stdout)[0];
    assert_eq!(line["file"], "samples/test-pattern.png", "{line}");
    assert!(line.get("error").is_none(), "{line}");
    let not_final = &line["notFinal"];
    assert_eq!(not_final["status"], "UPLOADED", "{line}");
    assert_eq!(not_final["exitCode"], 10, "{line}");
    let mid = not_final["mid"].as_str().unwrap();
    assert_eq!(mid.len(), 24, "{line}");

    // Its result is not there yet either: exit 10 again, saying so.
    let result = run(&mut against(&emulator, &key), &["result", mid], 10);
    has(&result.stderr, "not final: no result yet");
}

#[cfg(unix)]
#[test]
fn after_ctrl_c_an_uploaded_record_is_not_final_not_an_error() {
    let (emulator, key) = emulator(Emulator::builder().processing_time(Duration::from_secs(600)));
    let dir = tempfile::tempdir().unwrap();
    let png = std::fs::read(common::root().join("samples/test-pattern.png")).unwrap();
    // Two distinct files, uploaded one at a time.
    let (first, second) = (dir.path().join("a.png"), dir.path().join("b.png"));
    std::fs::write(&first, &png).unwrap();
    let mut other = png.clone();
    other.extend_from_slice(b"!");
    std::fs::write(&second, &other).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_authenta"))
        .current_dir(common::root())
        .env("XDG_STATE_HOME", common::state_home())
        .env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_CLIENT_ID", &key.client_id)
        .env("AUTHENTA_CLIENT_SECRET", &key.client_secret)
        .args(["process", "-j", "1", "--no-ledger"])
        .arg(&first)
        .arg(&second)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::until(Duration::from_secs(60), || {
        emulator.records().iter().any(|r| r.status == "UPLOADED")
    });
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    let row = |path: &std::path::Path| {
        let name = path.display().to_string();
        stdout
            .lines()
            .find(|l| l.starts_with(&name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_owned()
    };
    has(&row(&first), "not final (UPLOADED)");
    // The second was uploaded too, or not started, depending on timing.
    let second = row(&second);
    assert!(
        second.contains("not final (UPLOADED)") || second.contains("not started (interrupted)"),
        "{second}"
    );
    assert!(!stdout.contains("error"), "{stdout}");
}

#[test]
fn json_tells_every_event_with_the_path_as_given() {
    let (emulator, key) = emulator(Emulator::builder().processing_time(Duration::from_millis(20)));
    let dir = tempfile::tempdir().unwrap();
    let png = std::fs::read(common::root().join("samples/test-pattern.png")).unwrap();
    std::fs::write(dir.path().join("a.png"), &png).unwrap();
    std::fs::write(dir.path().join("b.png"), &png).unwrap();
    std::fs::write(dir.path().join("c.mp4"), &png).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not media").unwrap();
    let given = dir.path().to_str().unwrap();
    let at = |name: &str| format!("{given}/{name}");

    // Notes (skipped, same bytes, another type than the extension) are JSON
    // lines on stdout, not text on stderr.
    let out = run(
        &mut against(&emulator, &key),
        &["--json", "process", given],
        0,
    );
    assert!(!out.stderr.contains("skipping"), "{}", out.stderr);
    let lines = json_lines(&out.stdout);
    let note = |kind: &str, file: &str| {
        lines
            .iter()
            .find(|l| l["note"] == kind && l["file"] == file)
            .unwrap_or_else(|| panic!("no {kind} note for {file}: {lines:?}"))
    };
    has(
        note("skipped", &at("notes.txt"))["message"]
            .as_str()
            .unwrap(),
        "not media the API takes",
    );
    has(
        note("sameBytes", &at("b.png"))["message"].as_str().unwrap(),
        "processed once",
    );
    has(
        note("extensionMismatch", &at("c.mp4"))["message"]
            .as_str()
            .unwrap(),
        "image/png",
    );
    for name in ["a.png", "b.png", "c.mp4"] {
        let done = lines
            .iter()
            .find(|l| l["file"] == at(name) && l.get("media").is_some());
        assert!(done.is_some(), "no result for {name}: {lines:?}");
    }

    // A refused file: the path as given and the model at the top.
    let txt = at("notes.txt");
    let refused = run(
        &mut against(&emulator, &key),
        &["--json", "process", "--model", "AC-1", &txt],
        6,
    );
    let line = &json_lines(&refused.stdout)[0];
    assert_eq!(line["file"], txt.as_str(), "{line}");
    assert_eq!(line["model"], "AC-1", "{line}");
    assert_eq!(line["error"]["path"], txt.as_str(), "{line}");
    assert_eq!(line["error"]["exitCode"], 6, "{line}");

    // A report that cannot be written: a local write, exit 11, as JSON.
    let before = emulator.api_requests().len();
    let nowhere = dir.path().join("missing/dir/report.html");
    let report = run(
        &mut against(&emulator, &key),
        &[
            "--json",
            "process",
            &at("a.png"),
            "--report",
            nowhere.to_str().unwrap(),
        ],
        11,
    );
    let line = &json_lines(&report.stdout)[0];
    assert_eq!(line["error"]["class"], "local_io", "{line}");
    assert_eq!(line["error"]["exitCode"], 11, "{line}");
    has(
        line["error"]["message"].as_str().unwrap(),
        "cannot write the report",
    );
    assert!(!report.stderr.contains("error:"), "{}", report.stderr);
    assert_eq!(emulator.api_requests().len(), before, "nothing was sent");
}

#[test]
fn an_expired_upload_url_gets_the_expiry_hint_and_s3s_code() {
    let (emulator, key) = emulator(Emulator::builder());
    let expired = FaultAction::S3Error {
        status: 403,
        code: "AccessDenied".into(),
        message: Some("Request has expired".into()),
    };
    emulator
        .inject_fault(Fault::new("/authenta-storage", expired).times(10))
        .unwrap();
    let out = run(
        &mut against(&emulator, &key),
        &["upload", "samples/test-pattern.png"],
        6,
    );
    has(
        &out.stderr,
        "the upload URL expired: create a new record and upload again",
    );
    assert!(!out.stderr.contains("Content-Type"), "{}", out.stderr);
    let json = run(
        &mut against(&emulator, &key),
        &["--json", "upload", "samples/test-pattern.png"],
        6,
    );
    assert_eq!(json_lines(&json.stdout)[0]["error"]["code"], "AccessDenied");
}

#[test]
fn without_credentials_the_profiles_of_the_config_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profile.emu]\nbase_url = \"http://127.0.0.1:9/api\"\nclient_id = \"id\"\nclient_secret_env = \"EMU_SECRET\"\n",
    )
    .unwrap();
    let out = run(authenta().env("AUTHENTA_CONFIG", &config), &["list"], 2);
    has(&out.stderr, "has no `default` profile; it has emu");
    has(&out.stderr, "--profile emu");
}

#[test]
fn terminal_details_help_suggestions_and_the_overlay_line() {
    let typo = run(&mut authenta(), &["proces"], 2);
    has(&typo.stderr, "similar subcommand exists: 'process'");
    let help = run(authenta().env_remove("AUTHENTA_PROFILE"), &["--help"], 0);
    assert!(
        !help.stdout.contains("AUTHENTA_PROFILE="),
        "{}",
        help.stdout
    );
    let process = run(&mut authenta(), &["process", "--help"], 0);
    has(&process.stdout, "How many files to upload at a time");

    let (emulator, key) = emulator(Emulator::builder().processing_time(Duration::from_millis(20)));
    let uploaded = run(
        &mut against(&emulator, &key),
        &["upload", "samples/test-pattern.png"],
        0,
    );
    let mid = uploaded.stdout.trim().to_owned();
    run(&mut against(&emulator, &key), &["wait", &mid], 0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("overlay.png");
    let overlay = run(
        &mut against(&emulator, &key),
        &[
            "result",
            &mid,
            "--overlay",
            out.to_str().unwrap(),
            "--file",
            "samples/test-pattern.png",
        ],
        0,
    );
    has(
        &overlay.stderr,
        &format!("wrote the overlay {}", out.display()),
    );
    assert!(out.exists());
}

#[test]
fn the_report_states_the_scores_source_a_readable_time_and_lists_fakes_first() {
    let (emulator, key) = emulator(Emulator::builder().processing_time(Duration::from_millis(20)));
    let dir = tempfile::tempdir().unwrap();
    // Enough distinct files that both verdicts occur (the emulator's
    // verdict is a hash of the bytes).
    let png = std::fs::read(common::root().join("samples/test-pattern.png")).unwrap();
    let mut paths = Vec::new();
    for n in 0..8 {
        let path = dir.path().join(format!("p{n}.png"));
        let mut bytes = png.clone();
        bytes.extend_from_slice(format!("{n}").as_bytes());
        std::fs::write(&path, bytes).unwrap();
        paths.push(path.to_str().unwrap().to_owned());
    }
    let report = dir.path().join("report.html");
    let mut args = vec![
        "--no-ledger",
        "process",
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend(paths.iter().map(String::as_str));
    let out = output_of(&mut against(&emulator, &key), &args);
    assert!(matches!(out.code, 0 | 1), "{}", out.stderr);
    let html = std::fs::read_to_string(&report).unwrap();
    has(
        &html,
        "the score of the result document, as the service gave it",
    );
    // The time it was written: to the second, in UTC.
    let written = html.split("written ").nth(1).unwrap();
    let stamp = &written[..written.find(" by authenta").unwrap()];
    assert_eq!(stamp.len(), "2026-12-03 15:13:07 UTC".len(), "{stamp}");
    assert!(
        stamp.ends_with(" UTC") && stamp.as_bytes()[10] == b' ',
        "{stamp}"
    );
    // The index: every fake before every real, each marked.
    let nav = &html[html.find("<nav").unwrap()..html.find("</nav>").unwrap()];
    let verdicts: Vec<&str> = nav
        .split("<span class=\"badge ")
        .skip(1)
        .map(|li| &li[..li.find('"').unwrap()])
        .collect();
    assert_eq!(verdicts.len(), 8, "{nav}");
    let last_fake = verdicts.iter().rposition(|v| *v == "fake");
    let first_real = verdicts.iter().position(|v| *v == "real");
    if let (Some(f), Some(r)) = (last_fake, first_real) {
        assert!(f < r, "{verdicts:?}");
    }
    assert!(
        verdicts.contains(&"fake") && verdicts.contains(&"real"),
        "{verdicts:?}"
    );

    // A record added by `authenta report` was not timed here: it says so.
    let mid = emulator.records()[0].mid.clone();
    let again = dir.path().join("again.html");
    run(
        &mut against(&emulator, &key),
        &["report", again.to_str().unwrap(), &mid],
        0,
    );
    has(
        &std::fs::read_to_string(&again).unwrap(),
        "not measured (read from the record",
    );
}

/// Runs, whatever the exit code.
fn output_of(cmd: &mut Command, args: &[&str]) -> Run {
    let output = cmd.args(args).output().unwrap();
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
