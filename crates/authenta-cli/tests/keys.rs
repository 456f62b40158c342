//! API keys end to end: profiles of a config file (a secret from a command,
//! a file, a variable), the order of flags, variables and profile, a secret
//! regenerated in the middle of a batch, a revoked key, and the quota line
//! checked against the emulator's own count.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{ApiKey, Emulator, Fault, FaultAction, KeySpec, RunningEmulator};
use common::{has, root, until};

/// An emulator, a key, and a directory for the config file and secrets.
struct Env {
    emulator: RunningEmulator,
    key: ApiKey,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(processing: Duration) -> Env {
        let emulator = Emulator::builder()
            .processing_time(processing)
            .spawn()
            .unwrap();
        let key = emulator.create_key(KeySpec::new("keys-tests")).unwrap();
        Env {
            emulator,
            key,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Writes the config file.
    fn write_config(&self, text: &str) {
        std::fs::write(self.config(), text).unwrap();
    }

    /// A profile `[profile.NAME]` of this key, with `secret_line` saying
    /// where its secret is.
    fn profile(&self, name: &str, secret_line: &str) -> String {
        format!(
            "[profile.{name}]\nbase_url = \"{}\"\nclient_id = \"{}\"\n{secret_line}\n",
            self.emulator.base_url(),
            self.key.client_id
        )
    }

    /// A file holding `secret`, of mode `mode`.
    fn secret_file(&self, name: &str, secret: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        let temp = path.with_extension("new");
        std::fs::write(&temp, format!("{secret}\n")).unwrap();
        set_mode(&temp, mode);
        std::fs::rename(&temp, &path).unwrap();
        path
    }

    /// `authenta` with no key from the test's environment, reading this
    /// config file only.
    fn authenta(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authenta"));
        self.clean(cmd.current_dir(root()));
        cmd
    }

    fn clean<C: Clear>(&self, cmd: &mut C) {
        for var in [
            "AUTHENTA_API_KEY",
            "AUTHENTA_CLIENT_ID",
            "AUTHENTA_CLIENT_SECRET",
            "AUTHENTA_BASE_URL",
            "AUTHENTA_PROFILE",
        ] {
            cmd.remove(var);
        }
        cmd.set("AUTHENTA_CONFIG", self.config().to_str().unwrap());
        cmd.set("XDG_CONFIG_HOME", self.dir.path().to_str().unwrap());
        cmd.set(
            "XDG_STATE_HOME",
            self.dir.path().join("state").to_str().unwrap(),
        );
    }

    /// The key's usage as the emulator counted it.
    fn used(&self) -> (u64, u64) {
        let keys = self.emulator.keys();
        let key = keys
            .iter()
            .find(|k| k.client_id == self.key.client_id)
            .unwrap();
        (key.query_used, key.mutation_used)
    }

    /// `POST` to the emulator's control surface, over HTTP as a rotation
    /// script would; the answer's body.
    fn control(&self, path: &str) -> String {
        let url = format!("{}{path}", self.emulator.control_url());
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 2"), "{answer}");
        answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
    }

    /// Regenerates the key's secret through the control surface.
    fn regenerate(&self) -> String {
        let body = self.control(&format!("/keys/{}/regenerate", self.key.client_id));
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        value["clientSecret"].as_str().unwrap().to_owned()
    }
}

/// What a command's environment can be told.
trait Clear {
    fn remove(&mut self, var: &str);
    fn set(&mut self, var: &str, value: &str);
}

impl Clear for Command {
    fn remove(&mut self, var: &str) {
        self.env_remove(var);
    }
    fn set(&mut self, var: &str, value: &str) {
        self.env(var, value);
    }
}

impl Clear for StdCommand {
    fn remove(&mut self, var: &str) {
        self.env_remove(var);
    }
    fn set(&mut self, var: &str, value: &str) {
        self.env(var, value);
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command, args: &[&str], code: i32) -> Run {
    let output = cmd.args(args).output().unwrap();
    let run = Run {
        code: output.status.code().expect("exited"),
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

/// The figures of the "spent" line.
fn spent(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .rfind(|l| l.starts_with("authenta: spent "))
        .unwrap_or_else(|| panic!("no spent line in:\n{stderr}"));
    assert_eq!(
        stderr.trim_end().lines().last(),
        Some(line),
        "the spent line ends the output"
    );
    let words: Vec<&str> = line.split_whitespace().collect();
    // authenta: spent N queries and M mutations of key XXXX…
    (words[2].parse().unwrap(), words[5].parse().unwrap())
}

#[test]
fn a_profile_whose_secret_comes_from_a_command_lists() {
    let env = Env::new(Duration::from_millis(20));
    let store = env.secret_file("store", &env.key.client_secret, 0o600);
    let command = format!("client_secret_command = \"cat '{}'\"", store.display());
    env.write_config(&env.profile("ci", &command));
    let list = run(&mut env.authenta(), &["--profile", "ci", "list"], 0);
    has(&list.stderr, "0 of 0 records");
    let short: String = env.key.client_id.chars().take(4).collect();
    has(
        &list.stderr,
        &format!("authenta: spent 1 query and 0 mutations of key {short}…"),
    );
    // AUTHENTA_PROFILE names it too.
    run(env.authenta().env("AUTHENTA_PROFILE", "ci"), &["list"], 0);
    // A profile that is not there names those that are.
    let missing = run(&mut env.authenta(), &["--profile", "prod", "list"], 2);
    has(&missing.stderr, "no profile prod in");
    has(&missing.stderr, "its profiles are ci");
    for run in [&list, &missing] {
        assert!(!run.stderr.contains(&env.key.client_secret));
        assert!(!run.stdout.contains(&env.key.client_secret));
    }
}

#[cfg(unix)]
#[test]
fn a_secret_file_others_can_read_is_refused_saying_how_to_fix_its_mode() {
    let env = Env::new(Duration::from_millis(20));
    let file = env.secret_file("ci.secret", &env.key.client_secret, 0o644);
    let line = format!("client_secret_file = \"{}\"", file.display());
    env.write_config(&env.profile("ci", &line));
    let refused = run(&mut env.authenta(), &["--profile", "ci", "list"], 2);
    has(&refused.stderr, "mode is 0644, so other users may read it");
    has(&refused.stderr, &format!("chmod 600 {}", file.display()));
    assert!(!refused.stderr.contains(&env.key.client_secret));
    assert_eq!(env.used(), (0, 0), "nothing was sent");
    set_mode(&file, 0o600);
    run(&mut env.authenta(), &["--profile", "ci", "list"], 0);
}

#[test]
fn flags_beat_variables_beat_the_profile_and_the_profile_beats_nothing() {
    let env = Env::new(Duration::from_millis(20));
    let wrong = env.secret_file("wrong.secret", "not-the-secret", 0o600);
    let line = format!("client_secret_file = \"{}\"", wrong.display());
    // The `default` profile, used when none is named.
    env.write_config(&env.profile("default", &line));
    let refused = run(&mut env.authenta(), &["list"], 3);
    has(&refused.stderr, "IAM001");
    // The flag's secret wins over the profile's file...
    let secret = env.key.client_secret.as_str();
    run(&mut env.authenta(), &["--client-secret", secret, "list"], 0);
    // ...and so does the variable's...
    run(
        env.authenta().env("AUTHENTA_CLIENT_SECRET", secret),
        &["list"],
        0,
    );
    // ...and the flag wins over the variable.
    run(
        env.authenta().env("AUTHENTA_CLIENT_SECRET", "also-wrong"),
        &["--client-secret", secret, "list"],
        0,
    );
    // The flag's base URL wins over the profile's.
    let elsewhere = run(
        &mut env.authenta(),
        &[
            "--client-secret",
            secret,
            "--base-url",
            "http://127.0.0.1:1/api",
            "list",
        ],
        8,
    );
    has(&elsewhere.stderr, "cannot connect");
    // The profile beats nothing: with no profile at all, nothing is set.
    env.write_config("");
    let nothing = run(&mut env.authenta(), &["list"], 2);
    has(&nothing.stderr, "AUTHENTA_API_KEY is not set");
    // And the profile fills what the flags leave out.
    env.write_config(&env.profile("ci", &line));
    run(
        &mut env.authenta(),
        &["--profile", "ci", "--client-secret", secret, "list"],
        0,
    );
}

#[test]
fn a_batch_survives_a_secret_regenerated_in_its_middle() {
    let env = Env::new(Duration::from_millis(20));
    let secret_file = env.secret_file("ci.secret", &env.key.client_secret, 0o600);
    let line = format!("client_secret_file = \"{}\"", secret_file.display());
    env.write_config(&env.profile("ci", &line));
    let media = env.dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    let png = std::fs::read(root().join("samples/test-pattern.png")).unwrap();
    for i in 0..30 {
        std::fs::write(media.join(format!("frame-{i:02}.png")), &png).unwrap();
    }

    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_authenta"));
    env.clean(&mut cmd);
    let child = cmd
        // Thirty copies of one image: without a ledger each is its own
        // file (with one, the same bytes are processed once).
        .args(["--profile", "ci", "--no-ledger", "process", "-j", "4"])
        .arg(&media)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // A third of the way in, hold every API request for 2 s, so that the
    // ones sent in the next 1.2 s reach the key check after the rotation,
    // with the old secret (each of the 4 workers sends at least one request
    // a second: a poll after its 1 s wait, then the next file's POST).
    until(Duration::from_secs(60), || {
        env.emulator.records().len() >= 10
    });
    env.emulator
        .inject_fault(Fault::new("/api/media", FaultAction::Delay { millis: 2000 }).times(10_000))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let new_secret = env.regenerate();
    assert_ne!(new_secret, env.key.client_secret);
    env.secret_file("ci.secret", &new_secret, 0o600);
    env.emulator.clear_faults();

    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let records = env.emulator.records();
    assert_eq!(records.len(), 30, "exactly one record per file");
    assert_eq!(stdout.matches("PROCESSED").count(), 30, "{stdout}");
    // Requests were refused with the old secret, and each was sent once
    // more with the new one.
    let stats = env.emulator.api_stats();
    let refused = stats.by_code.get("IAM001").copied().unwrap_or(0);
    assert!(refused >= 1, "no request met the rotation: {stats:?}");
    // What the command says it spent is what the emulator counted (the
    // refusals spent nothing).
    assert_eq!(spent(&stderr), env.used());
    assert!(!stderr.contains(&new_secret) && !stdout.contains(&new_secret));
}

#[test]
fn a_revoked_key_ends_with_iam001_after_one_refresh_not_a_loop() {
    let env = Env::new(Duration::from_millis(20));
    let store = env.secret_file("store", &env.key.client_secret, 0o600);
    let asked = env.dir.path().join("asked");
    let command = format!(
        "client_secret_command = \"echo >> '{}'; cat '{}'\"",
        asked.display(),
        store.display()
    );
    env.write_config(&env.profile("ci", &command));
    env.control(&format!("/keys/{}/revoke", env.key.client_id));
    for args in [
        &["--profile", "ci", "list"][..],
        &["--profile", "ci", "process", "samples/test-pattern.png"][..],
    ] {
        std::fs::write(&asked, "").unwrap();
        let before = env.emulator.api_stats().by_code.get("IAM001").copied();
        let refused = run(&mut env.authenta(), args, 3);
        has(&refused.stderr, "IAM001");
        let after = env.emulator.api_stats().by_code.get("IAM001").copied();
        assert_eq!(
            after.unwrap_or(0) - before.unwrap_or(0),
            1,
            "one request, refused, not sent again with the same secret"
        );
        let times = std::fs::read_to_string(&asked).unwrap().lines().count();
        assert_eq!(
            times, 2,
            "the command ran when the client was built, then once after IAM001"
        );
        assert_eq!(spent(&refused.stderr), (0, 0));
    }
}

#[test]
fn the_spent_line_matches_the_emulators_count_for_process_list_and_delete() {
    let env = Env::new(Duration::from_millis(20));
    let file = env.secret_file("ci.secret", &env.key.client_secret, 0o600);
    env.write_config(&env.profile(
        "ci",
        &format!("client_secret_file = \"{}\"", file.display()),
    ));
    let mut total = (0, 0);
    let mut check = |args: &[&str]| -> Run {
        let run = run(&mut env.authenta(), args, 0);
        let (queries, mutations) = spent(&run.stderr);
        total = (total.0 + queries, total.1 + mutations);
        assert_eq!(env.used(), total, "after authenta {args:?}: {}", run.stderr);
        run
    };
    let process = check(&["--profile", "ci", "process", "samples/"]);
    assert_eq!(process.stdout.matches("PROCESSED").count(), 3);
    check(&["--profile", "ci", "list"]);
    check(&["--profile", "ci", "list", "--all"]);
    let mid = env.emulator.records()[0].mid.to_string();
    check(&["--profile", "ci", "delete", &mid]);
    // The batch waiter reads the three records from one list page: few
    // queries, but the two lists spend one each.
    assert!(total.0 >= 2 && total.1 == 4, "{total:?}");
    // With --json the figures are a JSON object, the client id whole.
    let json = run(
        &mut env.authenta(),
        &["--profile", "ci", "--json", "list"],
        0,
    );
    let last = json.stderr.trim_end().lines().last().unwrap();
    let value: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(value["spent"]["queries"], 1);
    assert_eq!(value["spent"]["mutations"], 0);
    assert_eq!(value["spent"]["clientId"], env.key.client_id.as_str());
}

#[cfg(unix)]
#[test]
fn configure_writes_a_profile_and_keeps_the_secret_only_where_told() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new(Duration::from_millis(20));
    let secret_path = env.dir.path().join("keys").join("ci.secret");
    let base_url = env.emulator.base_url();
    let mut cmd = env.authenta();
    let configured = cmd
        .args([
            "--profile",
            "ci",
            "--base-url",
            base_url,
            "--client-id",
            &env.key.client_id,
            "configure",
            "--secret-file",
        ])
        .arg(&secret_path)
        .write_stdin(format!("{}\n", env.key.client_secret))
        .output()
        .unwrap();
    let stderr = String::from_utf8(configured.stderr).unwrap();
    assert_eq!(configured.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(&env.key.client_secret));
    let mode = std::fs::metadata(&secret_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(!config.contains(&env.key.client_secret), "{config}");
    has(
        &config,
        &format!("client_secret_file = \"{}\"", secret_path.display()),
    );
    run(&mut env.authenta(), &["--profile", "ci", "list"], 0);

    // A variable: nothing is stored, the profile names it.
    let mut cmd = env.authenta();
    let staged = cmd
        .args([
            "--profile",
            "staging",
            "--client-id",
            &env.key.client_id,
            "--base-url",
            base_url,
            "configure",
            "--secret-env",
            "STAGING_SECRET",
        ])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(staged.status.code(), Some(0));
    let config = std::fs::read_to_string(env.config()).unwrap();
    has(&config, "[profile.ci]");
    has(&config, "client_secret_env = \"STAGING_SECRET\"");
    run(
        env.authenta().env("STAGING_SECRET", &env.key.client_secret),
        &["--profile", "staging", "list"],
        0,
    );
    let unset = run(&mut env.authenta(), &["--profile", "staging", "list"], 2);
    has(&unset.stderr, "the variable STAGING_SECRET");

    // An API key, kept in a private file: the profile names the file, and
    // the spent line counts calls, not quota.
    let key_path = env.dir.path().join("keys").join("prod.key");
    let mut cmd = env.authenta();
    let configured = cmd
        .args([
            "--profile",
            "prod",
            "--base-url",
            base_url,
            "configure",
            "--api-key-file",
        ])
        .arg(&key_path)
        .write_stdin(format!("{}\n", env.key.api_key))
        .output()
        .unwrap();
    let stderr = String::from_utf8(configured.stderr).unwrap();
    assert_eq!(configured.status.code(), Some(0), "{stderr}");
    has(&stderr, "the API key is read from");
    assert!(!stderr.contains(&env.key.api_key));
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(!config.contains(&env.key.api_key), "{config}");
    has(
        &config,
        &format!(
            "[profile.prod]\nbase_url = \"{base_url}\"\napi_key_file = \"{}\"",
            key_path.display()
        ),
    );
    let listed = run(&mut env.authenta(), &["--profile", "prod", "list"], 0);
    has(&listed.stderr, "authenta: made 1 API call with key api_");
    // A client id given with an API key flag is refused.
    let mut cmd = env.authenta();
    let mixed = cmd
        .args(["--client-id", "id", "configure", "--api-key-env", "KEY"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(mixed.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn a_profile_names_the_ledger_and_a_password_in_its_url_is_never_shown() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new(Duration::from_millis(20));
    let authenta = || {
        let mut cmd = env.authenta();
        cmd.env_remove("AUTHENTA_LEDGER");
        cmd
    };
    let base_url = env.emulator.base_url();
    let configure = [
        "--profile",
        "fleet",
        "--base-url",
        base_url,
        "configure",
        "--api-key-env",
        "FLEET_KEY",
    ];
    run(&mut authenta(), &configure, 0);
    // The ledger alone, for a profile that holds a key: the rest stays.
    let url = "postgres://fleet:s3cret@127.0.0.1:1/batch";
    let set = run(
        &mut authenta(),
        &["--profile", "fleet", "--ledger", url, "configure"],
        0,
    );
    has(&set.stderr, "postgres://fleet:***@127.0.0.1:1/batch");
    assert!(!set.stderr.contains("s3cret"), "{}", set.stderr);
    let config = std::fs::read_to_string(env.config()).unwrap();
    has(&config, "api_key_env = \"FLEET_KEY\"");
    has(&config, &format!("ledger = \"{url}\""));
    let mode = std::fs::metadata(env.config())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "a file holding a password is its owner's only");
    let json = run(
        &mut authenta(),
        &["--json", "--profile", "fleet", "--ledger", url, "configure"],
        0,
    );
    has(
        &json.stdout,
        "\"ledger\":\"postgres://fleet:***@127.0.0.1:1/batch\"",
    );
    assert!(!json.stdout.contains("s3cret"), "{}", json.stdout);

    // The profile's ledger is the one a command uses (nothing listens on
    // port 1: the error names it, without its password).
    let used = run(&mut authenta(), &["--profile", "fleet", "ledger"], 11);
    has(
        &used.stderr,
        "cannot open the batch ledger postgres://fleet:***@127.0.0.1:1/batch",
    );
    assert!(!used.stderr.contains("s3cret"), "{}", used.stderr);
    // --ledger and AUTHENTA_LEDGER win over it, --no-ledger too.
    let other = env.dir.path().join("other").join("ledger.sqlite");
    let mut cmd = authenta();
    let listed = run(
        cmd.env("AUTHENTA_LEDGER", &other),
        &["--profile", "fleet", "ledger"],
        0,
    );
    has(
        &listed.stderr,
        &format!("no ledger at {} yet", other.display()),
    );
    let none = run(
        &mut authenta(),
        &["--profile", "fleet", "--no-ledger", "ledger"],
        11,
    );
    has(&none.stderr, "no ledger to read");

    // A path is kept absolute; --no-ledger takes the ledger out of the
    // profile.
    let mut cmd = authenta();
    run(
        cmd.current_dir(env.dir.path()),
        &[
            "--profile",
            "fleet",
            "--ledger",
            "batch/ledger.sqlite",
            "configure",
        ],
        0,
    );
    let config = std::fs::read_to_string(env.config()).unwrap();
    has(
        &config,
        &format!(
            "ledger = \"{}\"",
            env.dir.path().join("batch/ledger.sqlite").display()
        ),
    );
    run(
        &mut authenta(),
        &["--profile", "fleet", "--no-ledger", "configure"],
        0,
    );
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(!config.contains("ledger"), "{config}");
    has(&config, "api_key_env = \"FLEET_KEY\"");
}
