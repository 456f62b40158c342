//! Input the command must refuse before any record is made, walks that must
//! end, and errors that name their real cause: the `authenta` binary
//! against an emulator this test starts, checking in the emulator that a
//! refused file created no record (and sent no API request at all).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{ApiKey, Emulator, KeySpec, RunningEmulator};
use common::has;
use serde_json::Value;

const SAMPLE_PNG: &[u8] = include_bytes!("../../../samples/test-pattern.png");
const SAMPLE_MP4: &[u8] = include_bytes!("../../../samples/test-pattern.mp4");

/// An emulator, a key with every permission, and a directory for files.
struct Env {
    emulator: RunningEmulator,
    key: ApiKey,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let emulator = Emulator::builder()
            .processing_time(Duration::from_millis(20))
            .spawn()
            .unwrap();
        let key = emulator.create_key(KeySpec::new("edges")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        Env { emulator, key, dir }
    }

    /// Writes `bytes` to `name` in the directory; its path.
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `authenta` pointed at the emulator with the key, by environment.
    fn authenta(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authenta"));
        cmd.env("XDG_STATE_HOME", common::state_home())
            .env("AUTHENTA_BASE_URL", self.emulator.base_url())
            .env("AUTHENTA_CLIENT_ID", &self.key.client_id)
            .env("AUTHENTA_CLIENT_SECRET", &self.key.client_secret);
        cmd
    }

    /// Runs `authenta ARGS`, checks the exit code, returns stdout and stderr.
    fn run(&self, args: &[&str], code: i32) -> (String, String) {
        let output = self.authenta().args(args).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "authenta {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }

    /// Asserts that the emulator made no record and received no API call.
    #[track_caller]
    fn nothing_created(&self) {
        assert!(self.emulator.records().is_empty());
        assert!(
            self.emulator.api_requests().is_empty(),
            "{:?}",
            self.emulator.api_requests()
        );
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_text_file_named_png_exits_6_naming_the_file() {
    let env = Env::new();
    let path = env.file("x.png", b"just some notes, not an image\n");
    let (stdout, stderr) = env.run(&["process", text(&path)], 6);
    assert!(stdout.is_empty(), "{stdout}");
    has(&stderr, "x.png: expected image/png");
    has(&stderr, "found text \"just some notes");
    has(&stderr, "nothing was uploaded");
    env.nothing_created();
    // `upload` refuses it the same way.
    let (_, stderr) = env.run(&["upload", text(&path)], 6);
    has(&stderr, "x.png: expected image/png");
    env.nothing_created();
}

#[test]
fn a_png_cut_to_100_bytes_exits_6() {
    let env = Env::new();
    let path = env.file("cut.png", &SAMPLE_PNG[..100]);
    let (_, stderr) = env.run(&["process", text(&path)], 6);
    has(
        &stderr,
        "cut.png: the file is cut short: expected a complete image/png",
    );
    env.nothing_created();
}

#[test]
fn an_mp4_cut_in_half_exits_6() {
    let env = Env::new();
    let path = env.file("half.mp4", &SAMPLE_MP4[..SAMPLE_MP4.len() / 2]);
    let (_, stderr) = env.run(&["process", text(&path)], 6);
    has(
        &stderr,
        "half.mp4: the file is cut short: expected a complete video/mp4",
    );
    has(&stderr, "box 'mdat'");
    env.nothing_created();
}

#[test]
fn a_refused_file_in_a_batch_stops_the_whole_batch() {
    let env = Env::new();
    let good = env.file("good.png", SAMPLE_PNG);
    let bad = env.file("bad.png", &SAMPLE_PNG[..100]);
    let (_, stderr) = env.run(&["process", text(&good), text(&bad)], 6);
    has(&stderr, "bad.png: the file is cut short");
    env.nothing_created();
}

#[cfg(unix)]
#[test]
fn a_directory_linking_to_itself_is_walked_once_with_one_line_about_the_loop() {
    let env = Env::new();
    env.file("media/a.png", SAMPLE_PNG);
    env.file("media/sub/b.mp4", SAMPLE_MP4);
    let media = env.dir.path().join("media");
    std::os::unix::fs::symlink(&media, media.join("self")).unwrap();
    std::os::unix::fs::symlink(&media, media.join("sub/up")).unwrap();
    let (stdout, stderr) = env.run(&["--json", "process", "-r", text(&media)], 0);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results = lines.iter().filter(|l| l.get("media").is_some());
    assert_eq!(results.count(), 2, "{stdout}");
    let mut names: Vec<String> = env.emulator.records().into_iter().map(|r| r.name).collect();
    names.sort();
    assert_eq!(names, ["a.png", "b.mp4"]);
    // One note per link back to an ancestor, never a flood (with --json,
    // a JSON line on stdout).
    let loops: Vec<&str> = (lines.iter())
        .filter(|l| l["note"] == "skipped")
        .filter_map(|l| l["message"].as_str())
        .filter(|m| m.contains("loop"))
        .collect();
    assert_eq!(loops.len(), 2, "{stdout}");
    assert!(loops.iter().any(|l| l.contains("self")), "{stdout}");
    assert!(stderr.lines().count() <= 3, "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_directory_containing_a_link_to_itself_processes_its_media_once() {
    let env = Env::new();
    env.file("dir/a.png", SAMPLE_PNG);
    let dir = env.dir.path().join("dir");
    std::os::unix::fs::symlink(&dir, dir.join("self")).unwrap();
    let (_, stderr) = env.run(&["process", "-r", text(&dir)], 0);
    assert_eq!(env.emulator.records().len(), 1);
    let about_the_loop = stderr.lines().filter(|l| l.contains("self")).count();
    assert!(about_the_loop <= 1, "{stderr}");
    has(&stderr, "(a loop)");
}

#[test]
fn an_empty_directory_exits_6_saying_no_media_in_it() {
    let env = Env::new();
    let empty = env.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (_, stderr) = env.run(&["process", "-r", text(&empty)], 6);
    has(&stderr, &format!("no media in {}", empty.display()));
    assert!(!stderr.contains("permission"), "{stderr}");
    // Without -r, the message says where else to look.
    env.file("notes/readme.txt", b"hello");
    let notes = env.dir.path().join("notes");
    let (_, stderr) = env.run(&["process", text(&notes)], 6);
    has(&stderr, "no media in");
    has(&stderr, "-r looks in subdirectories");
    env.nothing_created();
}

#[test]
fn a_bad_base_url_says_what_is_wrong_with_it_not_to_set_credentials() {
    let env = Env::new();
    let output = env
        .authenta()
        .args(["--base-url", "ftp://x", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    has(&stderr, "invalid base URL \"ftp://x\"");
    has(&stderr, "its scheme is ftp");
    assert!(!stderr.contains("AUTHENTA_CLIENT"), "{stderr}");
    assert!(!stderr.contains("credentials"), "{stderr}");
    env.nothing_created();
}

#[test]
fn json_prints_a_refused_file_as_one_line_with_an_error_object() {
    let env = Env::new();
    let path = env.file("x.png", b"not an image");
    let (stdout, stderr) = env.run(&["--json", "process", text(&path)], 6);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    let error = &line["error"];
    assert!(error.is_object(), "{line}");
    assert_eq!(error["class"], "invalid_input", "{line}");
    assert_eq!(error["exitCode"], 6, "{line}");
    assert_eq!(error["path"], text(&path), "the path as given: {line}");
    assert_eq!(line["file"], text(&path), "{line}");
    has(
        error["message"].as_str().unwrap(),
        "x.png: expected image/png",
    );
    env.nothing_created();
    // A configuration error too: one JSON line on stdout.
    let output = env
        .authenta()
        .args(["--json", "--base-url", "ftp://x", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["error"]["class"], "config", "{line}");
}

#[test]
fn bytes_win_over_the_extension_and_the_command_says_so_once() {
    let env = Env::new();
    let path = env.file("clip.mp4", SAMPLE_PNG);
    let (_, stderr) = env.run(&["process", text(&path)], 0);
    let notes: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("as its extension says"))
        .collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    has(notes[0], "its bytes are image/png, not video/mp4");
    let records = env.emulator.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].content_type, "image/png");
    assert_eq!(records[0].model_type, "AC-1");
}
