//! `authenta mcp` driven by an MCP client this project did not write: the
//! official Python SDK's (the `mcp` package), running `tests/mcp/client.py`.
//! The scenarios assert what the server answers; these tests run them and
//! check what the emulator saw.
//!
//! The Python is `AUTHENTA_MCP_PYTHON`, else the virtual environment
//! `target/mcp-venv` (under `CARGO_TARGET_DIR` when set), made by the first
//! test that needs it when missing (`python3 -m venv`, `pip install mcp`):
//! `cargo test --workspace` needs only `python3` and PyPI. When that fails,
//! the tests fail saying how to install it.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use authenta_emulator::{ClockMode, Emulator, Fault, FaultAction, KeySpec};
use common::has;

/// The version `.ci/run` installs.
const MCP_VERSION: &str = "2.3.0";

/// The Python with the `mcp` package; panics saying how to get one.
///
/// `AUTHENTA_MCP_PYTHON` if set; else the virtual environment under the
/// target directory (`.ci/run` makes it), made here on first use when it is
/// missing (`python3 -m venv`, then `pip install mcp==MCP_VERSION` from
/// PyPI), so `cargo test --workspace` works on a fresh machine that has
/// `python3`. Any failure on the way is a panic that says what to do.
fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(find_or_make_python).clone()
}

fn find_or_make_python() -> PathBuf {
    let install = format!(
        "python3 -m venv target/mcp-venv && target/mcp-venv/bin/pip install mcp=={MCP_VERSION} \
         (as .ci/run does), or set AUTHENTA_MCP_PYTHON to a Python that has the `mcp` package"
    );
    let python = match std::env::var_os("AUTHENTA_MCP_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| common::root().join("target"));
            let venv = target.join("mcp-venv");
            let python = venv.join("bin/python");
            if !has_mcp(&python) {
                make_venv(&venv, &install);
            }
            python
        }
    };
    let probe = Command::new(&python)
        .args(["-c", "import mcp"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {install}", python.display()));
    assert!(
        probe.status.success(),
        "{} has no `mcp` package ({}): {install}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    python
}

fn has_mcp(python: &Path) -> bool {
    python.is_file()
        && Command::new(python)
            .args(["-c", "import mcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `python3 -m venv VENV && VENV/bin/pip install mcp==MCP_VERSION`.
fn make_venv(venv: &Path, install: &str) {
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| {
            panic!(
                "these tests need Python with the MCP SDK; {what} failed to start: {e}; {install}"
            )
        });
        assert!(
            out.status.success(),
            "these tests need Python with the MCP SDK; {what} failed ({}): {}; {install}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    };
    run(
        Command::new("python3").arg("-m").arg("venv").arg(venv),
        "python3 -m venv",
    );
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(format!("mcp=={MCP_VERSION}")),
        "pip install mcp",
    );
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py")
}

/// `client.py SCENARIO authenta DIR ARGS...`, run in `dir`.
fn scenario(name: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(client_script())
        .arg(name)
        .arg(env!("CARGO_BIN_EXE_authenta"))
        .arg(dir)
        .args(args)
        .current_dir(dir)
        .env("XDG_STATE_HOME", common::state_home())
        .env_remove("AUTHENTA_CLIENT_ID")
        .env_remove("AUTHENTA_CLIENT_SECRET")
        .env_remove("AUTHENTA_BASE_URL")
        .env_remove("AUTHENTA_PROFILE");
    cmd
}

/// Prints a scenario's output and the server logs; asserts it succeeded.
#[track_caller]
fn succeeded(output: &Output, dir: &Path) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut logs = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            logs.push_str(&format!("--- {}\n{text}", entry.path().display()));
        }
    }
    println!("{stdout}\n{logs}");
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}\n{}\n{logs}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_python_sdk_checks_the_samples_through_the_embedded_emulator() {
    // `samples/` as in the README, a file beside it, and a link out of it.
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for name in ["test-pattern.png", "test-pattern.jpg", "test-pattern.mp4"] {
        std::fs::copy(
            common::root().join("samples").join(name),
            samples.join(name),
        )
        .unwrap();
    }
    std::fs::create_dir(dir.path().join("outside")).unwrap();
    std::fs::copy(
        common::root().join("samples/test-pattern.png"),
        dir.path().join("outside/secret.png"),
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../outside/secret.png", samples.join("link.png")).unwrap();

    let output = scenario("full", dir.path(), &[]).output().unwrap();
    let stdout = succeeded(&output, dir.path());
    has(&stdout, "second check of the same bytes: mutations 2 -> 2");
    has(&stdout, "bounded wait: UPLOADED then");
    has(&stdout, "cancelled, then resumed: mutations 3 -> 4");
    has(&stdout, "\nok\n");
}

#[test]
fn a_client_killed_mid_call_leaves_a_ledger_that_spends_nothing_twice() {
    // A manual clock: no record is processed until the test says so, so
    // the client is killed while its call is surely in flight.
    let emulator = Emulator::builder()
        .clock(ClockMode::Manual)
        .processing_time(Duration::from_secs(1))
        .spawn()
        .unwrap();
    let key = emulator.create_key(KeySpec::new("mcp")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    std::fs::copy(
        common::root().join("samples/test-pattern.png"),
        dir.path().join("media/a.png"),
    )
    .unwrap();
    let with_key = |cmd: &mut Command| {
        cmd.env("AUTHENTA_BASE_URL", emulator.base_url())
            .env("AUTHENTA_CLIENT_ID", &key.client_id)
            .env("AUTHENTA_CLIENT_SECRET", &key.client_secret);
    };

    // The client dies at the first progress notification: the record is
    // created and its upload under way (or just done).
    let mut start = scenario("start", dir.path(), &["media/a.png"]);
    with_key(&mut start);
    let mut child = start.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .next()
        .expect("the client ended without a line")
        .unwrap();
    assert!(first.starts_with("PROGRESS"), "{first}");
    // The server (the client's child) sees its stdin closed and ends; on
    // Linux the rerun waits for that, so it resumes from the ledger rather
    // than from the work the old server finished meanwhile.
    let server = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
        .unwrap_or_default();
    child.kill().unwrap();
    child.wait().unwrap();
    if let Some(pid) = server.split_whitespace().next() {
        let alive = PathBuf::from(format!("/proc/{pid}"));
        common::until(Duration::from_secs(120), || !alive.exists());
    }

    // The same call again, to its verdict: time moves while it waits.
    let mut finish = scenario("finish", dir.path(), &["media/a.png"]);
    with_key(&mut finish);
    let mut child = finish.stdout(Stdio::piped()).spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        emulator.advance(Duration::from_secs(1)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = succeeded(&output, dir.path());
    has(&stdout, "VERDICT");
    let records = emulator.records();
    assert_eq!(records.len(), 1, "{records:?}");
    let keys = emulator.keys();
    let used = keys.iter().find(|k| k.client_id == key.client_id).unwrap();
    assert_eq!(used.mutation_used, 1, "one record created, once: {used:?}");
}

#[test]
fn max_concurrency_one_uploads_one_file_at_a_time_over_a_call() {
    let emulator = Emulator::builder().spawn().unwrap();
    let key = emulator.create_key(KeySpec::new("mcp")).unwrap();
    // Each upload is answered a while after it arrives: an upload started
    // before the previous one was answered would arrive within that while.
    let hold = Duration::from_millis(700);
    let delay = FaultAction::Delay {
        millis: hold.as_millis() as u64,
    };
    let fault = Fault::new("/authenta-storage", delay)
        .method("PUT")
        .times(3);
    emulator.inject_fault(fault).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    let mut paths = Vec::new();
    for i in 0..3u8 {
        let image = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([i * 40, x as u8, y as u8]));
        let name = format!("media/p{i}.png");
        image.save(dir.path().join(&name)).unwrap();
        paths.push(name);
    }
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut serial = scenario("serial", dir.path(), &paths);
    serial
        .env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_CLIENT_ID", &key.client_id)
        .env("AUTHENTA_CLIENT_SECRET", &key.client_secret);
    let stdout = succeeded(&serial.output().unwrap(), dir.path());
    has(&stdout, "VERDICTS 3");
    let mut puts: Vec<_> = (emulator.upload_requests().into_iter())
        .filter(|r| r.method == "PUT")
        .map(|r| r.at)
        .collect();
    puts.sort();
    assert_eq!(puts.len(), 3, "{puts:?}");
    for pair in puts.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= jiff::SignedDuration::try_from(hold).unwrap(),
            "an upload began {gap:?} after the previous one, before it was answered: {puts:?}"
        );
    }
}
