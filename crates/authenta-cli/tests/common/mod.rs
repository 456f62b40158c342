//! What the command's test files share: where they run and how they start
//! `authenta`. (Each test file uses part of it.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The workspace root: commands run there, so `samples/` is as in the README.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `XDG_STATE_HOME` of every command a test binary runs: its batch
/// ledger is there, never in the home directory of the test run.
pub fn state_home() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// `authenta`, run from the workspace root, with no credentials from the
/// environment of the test run and its ledger under [`state_home`].
pub fn authenta() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authenta"));
    cmd.current_dir(root())
        .env("XDG_STATE_HOME", state_home())
        .env_remove("AUTHENTA_CLIENT_ID")
        .env_remove("AUTHENTA_CLIENT_SECRET")
        .env_remove("AUTHENTA_BASE_URL");
    cmd
}

/// Asserts that `text` holds `part`, showing `text` when not.
#[track_caller]
pub fn has(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in:\n{text}");
}

/// Waits until `done`, at most `limit` (a hang fails the test).
#[track_caller]
pub fn until(limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not done after {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// What a finished `authenta` run printed, and its exit code.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Runs `cmd` with `args` and checks its exit code (showing the output
/// when it differs).
#[track_caller]
pub fn run_expect(cmd: &mut Command, args: &[&str], code: i32) -> Run {
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

/// Every stdout line of `run`, as JSON.
pub fn stdout_json(run: &Run) -> Vec<serde_json::Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}
