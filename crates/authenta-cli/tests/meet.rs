//! What a user meets (issue 23): checks that cost nothing, answers that are
//! not the API's, states told honestly. Each test runs `authenta` against an
//! emulator it controls and reads what the emulator saw.

mod common;

use assert_cmd::Command;
use authenta_emulator::{ApiKey, Emulator, EmulatorBuilder, Fault, FaultAction, KeySpec, RunningEmulator};
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
        has(&out.stderr, "model XX-9 is not one the API lists; it takes DF-1 (Video)");
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
