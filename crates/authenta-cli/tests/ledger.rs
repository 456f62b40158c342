//! The batch ledger of `authenta process`, against an emulator this test
//! starts: a rerun after any interruption spends nothing twice. A second
//! run prints final files from the ledger with no request; a record whose
//! upload failed is uploaded to its saved target (or created again once
//! the target expired); the same bytes at two paths are processed once;
//! `SIGKILL` at random moments then reruns end with exactly one record per
//! file; the first `SIGINT` stops starting files and a second exits at once;
//! a file replaced after its check fails alone.
//! Several workers sharing one ledger, SQLite or PostgreSQL (a server these
//! tests start), create each record once, however many are killed.
//! `process --task` (jobs) too: a rerun after an interruption at each
//! stage of a job (its create, its uploads, its finalize, its wait) spends
//! no create, upload or finalize twice, and killed batches and workers end
//! with exactly one completed job per file and none left waiting for its
//! finalize.

mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use authenta_emulator::{
    ApiKey, Emulator, Fault, FaultAction, FaultBody, FaultStage, KeySpec, RunningEmulator,
};
use common::{has, until};
use serde_json::Value;

/// An emulator, a key on it, a directory of media and a ledger: a path, or
/// a PostgreSQL server's database.
struct Env {
    emulator: RunningEmulator,
    key: ApiKey,
    dir: tempfile::TempDir,
    postgres: Option<postgres::Cluster>,
    /// The PostgreSQL URL's query (TLS settings), if any.
    query: String,
    /// With a task type: the batch runs jobs (`process --task`, an API key).
    task: Option<&'static str>,
}

/// Where a test's ledger is kept.
#[derive(Clone, Copy, Debug)]
enum Kept {
    Sqlite,
    Postgres,
    /// PostgreSQL over TLS, its certificate checked against its own CA.
    PostgresTls,
}

impl Env {
    fn new(processing: Duration, upload_expiry: Option<Duration>) -> Env {
        Env::kept(processing, upload_expiry, Kept::Sqlite)
    }

    fn kept(processing: Duration, upload_expiry: Option<Duration>, kept: Kept) -> Env {
        let mut builder = Emulator::builder().processing_time(processing);
        if let Some(expiry) = upload_expiry {
            builder = builder.upload_url_expiry(expiry);
        }
        let emulator = builder.spawn().unwrap();
        let key = emulator.create_key(KeySpec::new("ledger")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        let (postgres, query) = match kept {
            Kept::Sqlite => (None, String::new()),
            Kept::Postgres => {
                let cluster = postgres::Cluster::start();
                cluster.database("batch");
                (Some(cluster), String::new())
            }
            Kept::PostgresTls => {
                let cluster = postgres::Cluster::start_tls();
                cluster.database("batch");
                let query = format!("?sslmode=require&sslrootcert={}", cluster.ca().display());
                (Some(cluster), query)
            }
        };
        Env {
            emulator,
            key,
            dir,
            postgres,
            query,
            task: None,
        }
    }

    /// An environment whose batches run jobs of `ai-image-detection`.
    fn jobs(processing: Duration, upload_expiry: Option<Duration>, kept: Kept) -> Env {
        Env {
            task: Some("ai-image-detection"),
            ..Env::kept(processing, upload_expiry, kept)
        }
    }

    /// The API's path prefix the batch's requests go to.
    fn api_path(&self) -> &'static str {
        match self.task {
            Some(_) => "/api/v1/jobs",
            None => "/api/media",
        }
    }

    /// How many records (or jobs) the emulator holds.
    fn made(&self) -> usize {
        match self.task {
            Some(_) => self.emulator.jobs().len(),
            None => self.emulator.records().len(),
        }
    }

    /// Whether every record is `PROCESSED` (every job `completed`).
    fn all_done(&self) -> bool {
        match self.task {
            Some(_) => self.emulator.jobs().iter().all(|j| j.status == "completed"),
            None => (self.emulator.records().iter()).all(|r| r.status == "PROCESSED"),
        }
    }

    /// The ledger's table of entries for this kind of batch.
    fn entries_table(&self) -> &'static str {
        match self.task {
            Some(_) => "job_entries",
            None => "entries",
        }
    }

    fn media(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    fn ledger(&self) -> PathBuf {
        self.dir.path().join("state/ledger.sqlite")
    }

    /// What `--ledger` says: the SQLite ledger's path, or the PostgreSQL
    /// database's URL.
    fn ledger_arg(&self) -> OsString {
        match &self.postgres {
            Some(cluster) => format!("{}{}", cluster.url("batch"), self.query).into(),
            None => self.ledger().into(),
        }
    }

    /// The number of claims the ledger holds (in SQLite, an entry's
    /// `owner`; in PostgreSQL, a row of `claims`).
    fn claims(&self) -> i64 {
        match &self.postgres {
            Some(_) => self.count("SELECT count(*) FROM claims"),
            None => self.count(
                "SELECT (SELECT count(*) FROM entries WHERE owner IS NOT NULL)
                      + (SELECT count(*) FROM job_entries WHERE owner IS NOT NULL)",
            ),
        }
    }

    /// The number of final entries the ledger holds.
    fn finals(&self) -> i64 {
        let table = self.entries_table();
        self.count(&format!(
            "SELECT count(*) FROM {table} WHERE stage = 'final'"
        ))
    }

    /// The number `query` of the ledger's tables answers (in PostgreSQL,
    /// in the schema `authenta`).
    fn count(&self, query: &str) -> i64 {
        match &self.postgres {
            Some(cluster) => {
                let query = format!("SET search_path = authenta; {query}");
                cluster.sql("batch", &query).parse().unwrap()
            }
            None => rusqlite_count(&self.ledger(), query),
        }
    }

    /// Writes `count` distinct small PNGs into the media directory.
    fn pngs(&self, count: u32) -> Vec<PathBuf> {
        (0..count)
            .map(|i| {
                let image = image::RgbImage::from_fn(8, 8, |x, y| {
                    image::Rgb([(i * 4 + x * 3 + y) as u8, (i * 7) as u8, (x * y + i) as u8])
                });
                let path = self.media().join(format!("p{i:02}.png"));
                image.save(&path).unwrap();
                path
            })
            .collect()
    }

    /// `authenta --ledger L ARGS` against the emulator.
    fn command(&self, args: &[&str]) -> StdCommand {
        let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_authenta"));
        cmd.env("XDG_STATE_HOME", self.dir.path().join("xdg"))
            .env("AUTHENTA_BASE_URL", self.emulator.base_url());
        match self.task {
            // Jobs are the current API's: an API key.
            Some(_) => cmd.env("AUTHENTA_API_KEY", &self.key.api_key),
            None => cmd
                .env("AUTHENTA_CLIENT_ID", &self.key.client_id)
                .env("AUTHENTA_CLIENT_SECRET", &self.key.client_secret),
        };
        cmd.arg("--ledger")
            .arg(self.ledger_arg())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `authenta process -j J MEDIA` started.
    fn spawn_process(&self, j: &str) -> Child {
        let mut args = vec!["process", "-j", j];
        if let Some(task) = self.task {
            args.extend(["--task", task]);
        }
        let media = self.media();
        args.push(media.to_str().unwrap());
        self.command(&args).spawn().unwrap()
    }

    /// Runs `authenta ARGS`, expects `code`; stdout and stderr.
    fn run(&self, args: &[&str], code: i32) -> (String, String) {
        let output = self.command(args).output().unwrap();
        let (stdout, stderr) = texts(&output);
        no_password(&stdout, &stderr);
        assert_eq!(
            output.status.code(),
            Some(code),
            "authenta {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }

    /// The key's (queries, mutations) as the emulator counted them.
    fn used(&self) -> (u64, u64) {
        let key = self
            .emulator
            .keys()
            .into_iter()
            .find(|k| k.client_id == self.key.client_id)
            .unwrap();
        (key.query_used, key.mutation_used)
    }
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// No output shows the PostgreSQL ledger's password.
fn no_password(stdout: &str, stderr: &str) {
    for text in [stdout, stderr] {
        assert!(
            !text.contains(postgres::PASSWORD),
            "the password shown:\n{text}"
        );
    }
}

/// The results table's row of `path`, which must appear exactly once.
fn row_of<'a>(stdout: &'a str, path: &Path) -> &'a str {
    let name = path.display().to_string();
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(name.as_str()))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "{name} printed {} times:\n{stdout}",
        rows.len()
    );
    rows[0]
}

/// Each file's row says PROCESSED (a job: completed) with a verdict, once.
fn every_verdict_once(stdout: &str, files: &[PathBuf]) {
    for file in files {
        let row = row_of(stdout, file);
        assert!(
            row.contains("PROCESSED") || row.contains("completed"),
            "{row}"
        );
        assert!(row.contains("real") || row.contains("fake"), "{row}");
    }
}

/// Waits for `child` to exit (at most `limit`: a hang fails the test).
fn wait(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}: {:?}", texts(&output));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = StdCommand::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {name} failed");
}

#[test]
fn a_second_run_costs_nothing_and_the_same_bytes_are_processed_once() {
    second_run_costs_nothing(Kept::Sqlite);
}

#[test]
fn a_second_run_costs_nothing_with_a_postgresql_ledger_too() {
    second_run_costs_nothing(Kept::Postgres);
}

#[test]
fn a_second_run_costs_nothing_over_tls_to_postgresql() {
    second_run_costs_nothing(Kept::PostgresTls);
}

/// Two runs over the same files with a ledger kept as `kept`: the second
/// prints from the ledger with no request; `ledger` lists and forgets; the
/// report finds records in it.
fn second_run_costs_nothing(kept: Kept) {
    let env = Env::kept(Duration::from_millis(200), None, kept);
    let mut files = env.pngs(3);
    let twin = env.media().join("twin.png");
    std::fs::copy(&files[0], &twin).unwrap();
    files.push(twin.clone());
    let media = env.media();
    let media = media.to_str().unwrap();

    // Listing before any run creates nothing.
    if env.postgres.is_none() {
        let (_, said) = env.run(&["ledger"], 0);
        has(&said, "yet");
        assert!(!env.ledger().exists());
    }

    let (first, stderr) = env.run(&["process", media], 0);
    every_verdict_once(&first, &files);
    has(&stderr, "has the same bytes as");
    let (queries, mutations) = env.used();
    assert_eq!(mutations, 3, "one record per distinct content");
    assert_eq!(env.emulator.records().len(), 3);
    // Small files' digests come from their checks' reads: none is saved
    // (the next run's checks compute them again).
    assert_eq!(env.count("SELECT count(*) FROM files"), 0);

    // Every file is final in the ledger: printed from it, no request.
    let (again, _) = env.run(&["process", media], 0);
    every_verdict_once(&again, &files);
    assert_eq!(env.used(), (queries, mutations));

    // --refresh reads them again: queries, no mutation.
    let (refreshed, _) = env.run(&["process", "--refresh", media], 0);
    every_verdict_once(&refreshed, &files);
    let (after, same) = env.used();
    assert!(after > queries, "--refresh read nothing");
    assert_eq!(same, mutations);

    // The ledger lists its three entries; forgetting a file processes it
    // (and its twin) anew.
    let (listed, _) = env.run(&["--json", "ledger"], 0);
    let rows: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{listed}");
    for row in &rows {
        assert_eq!(row["stage"], "final", "{row}");
        assert_eq!(row["status"], "PROCESSED", "{row}");
        assert!(!row.to_string().contains(&env.key.client_secret));
    }
    // The report finds a file's record by its bytes, under any name.
    let renamed = env.dir.path().join("renamed.png");
    std::fs::copy(&files[1], &renamed).unwrap();
    let page = env.dir.path().join("report.html");
    env.run(
        &["report", page.to_str().unwrap(), renamed.to_str().unwrap()],
        0,
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let mid = row_of(&first, &files[1]).split_whitespace().nth(1).unwrap();
    has(&html, mid);
    has(&html, &format!("data-file=\"{}\"", renamed.display()));
    assert!(
        !html.contains("data-verdict=\"failed\"") && !html.contains("data-verdict=\"pending\""),
        "the renamed file was not matched to its record"
    );
    assert!(!html.contains("X-Amz-"));

    // With nothing named, the report shows what the ledger holds, each
    // entry with its file.
    env.run(&["report", page.to_str().unwrap()], 0);
    let html = std::fs::read_to_string(&page).unwrap();
    let found: Vec<&str> = html
        .split("<article ")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .collect();
    assert_eq!(found.len(), 3, "one entry per record: {found:#?}");
    for file in &files[..3] {
        has(&html, &format!("data-file=\"{}\"", file.display()));
    }

    let (_, said) = env.run(&["ledger", "forget", twin.to_str().unwrap()], 0);
    has(&said, "forgot 1 entry");
    env.run(&["process", media], 0);
    assert_eq!(env.used().1, mutations + 1);
    let (_, said) = env.run(&["ledger", "forget", "no-such-mid"], 7);
    has(&said, "holds nothing for no-such-mid");

    // A PostgreSQL ledger refused: the server's reason, the URL without
    // its password.
    if let Some(cluster) = &env.postgres {
        let wrong = "wrong-Pw-41";
        let url = cluster.url("batch").replace(postgres::PASSWORD, wrong);
        let output = StdCommand::new(env!("CARGO_BIN_EXE_authenta"))
            .env("XDG_STATE_HOME", env.dir.path().join("xdg"))
            .args(["--ledger", &url, "ledger"])
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(11), "{stdout}\n{stderr}");
        has(&stderr, "password authentication failed");
        has(&stderr, "authenta:***@127.0.0.1");
        assert!(!stderr.contains(wrong), "{stderr}");
    }
}

/// The files are hashed while earlier ones are claimed and uploaded, a few
/// at a time: the same bytes in a later claim group than their first copy
/// (`-j 1`: groups of two) join the first copy's entry, claimed earlier or
/// already ended, and make no second record; `--json` tells both paths the
/// same record, once each.
#[test]
fn the_same_bytes_in_a_later_claim_group_make_one_record() {
    let env = Env::new(Duration::from_millis(100), None);
    let mut files = env.pngs(6);
    // Sorted after the six: two groups after its first copy's.
    let twin = env.media().join("z-twin.png");
    std::fs::copy(&files[0], &twin).unwrap();
    files.push(twin.clone());
    let media = env.media();
    let (stdout, stderr) = env.run(
        &["--json", "process", "-j", "1", media.to_str().unwrap()],
        0,
    );
    has(&stdout, "has the same bytes as");
    assert_eq!(env.emulator.records().len(), 6, "{stdout}\n{stderr}");
    assert_eq!(env.used().1, 6, "one create per distinct content");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mid_of = |path: &Path| -> String {
        let told: Vec<&Value> = lines
            .iter()
            .filter(|l| l["file"] == path.display().to_string() && l.get("media").is_some())
            .collect();
        assert_eq!(
            told.len(),
            1,
            "{} told {} times:\n{stdout}",
            path.display(),
            told.len()
        );
        assert_eq!(told[0]["media"]["status"], "PROCESSED", "{stdout}");
        told[0]["media"]["mid"].as_str().unwrap().to_owned()
    };
    assert_eq!(mid_of(&files[0]), mid_of(&twin));
    for file in &files[1..6] {
        mid_of(file);
    }
    assert_eq!(env.finals(), 6);
    assert_eq!(env.claims(), 0, "every claim ended");
}

#[cfg(target_os = "linux")]
#[test]
fn a_file_replaced_after_its_check_fails_alone_and_makes_no_record() {
    replaced_after_its_check(Env::new(Duration::from_millis(50), None));
}

#[cfg(target_os = "linux")]
#[test]
fn a_file_replaced_after_its_check_fails_alone_and_makes_no_job() {
    replaced_after_its_check(Env::jobs(Duration::from_millis(50), None, Kept::Sqlite));
}

/// A file checked (read whole, a media file, its digest computed), then
/// replaced by a folder before the ledger's hashing thread looks at it
/// (its metadata is no longer its check's: the thread reads it again):
/// that file fails, saying which and why, nothing is made for it, the
/// batch goes on with the others, and
/// the exit code is the failed file's (6, the input's fault). The seam is
/// deterministic: while this test holds the ledger's write lock the
/// batch's first claim waits, so the hashing thread, started once every
/// file was checked, hashes at most three groups (`-j 1`: groups of four;
/// the file replaced is the seventeenth).
#[cfg(target_os = "linux")]
fn replaced_after_its_check(env: Env) {
    const FILES: usize = 20;
    let mut files = env.pngs(FILES as u32 + 1);
    // A first run over another file makes the ledger.
    let first = env.dir.path().join("first.png");
    std::fs::rename(files.pop().unwrap(), &first).unwrap();
    let mut args = vec!["process"];
    args.extend(env.task.iter().flat_map(|task| ["--task", task]));
    args.push(first.to_str().unwrap());
    env.run(&args, 0);
    let lock = rusqlite::Connection::open(env.ledger()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let child = env.spawn_process("1");
    let hashing = |pid: u32| {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
        (tasks.into_iter().flatten().flatten()).any(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim() == "authenta-hash")
        })
    };
    until(Duration::from_secs(60), || hashing(child.id()));
    let replaced = &files[16];
    std::fs::remove_file(replaced).unwrap();
    std::fs::create_dir(replaced).unwrap();
    lock.execute_batch("ROLLBACK").unwrap();
    let output = wait(child, Duration::from_secs(120));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(6), "{stdout}\n{stderr}");
    has(
        &stderr,
        &format!(
            "authenta: error: {}: reading p16.png to compute its digest",
            replaced.display()
        ),
    );
    has(&stderr, "Is a directory");
    let others: Vec<PathBuf> = (files.iter())
        .filter(|file| *file != replaced)
        .cloned()
        .collect();
    every_verdict_once(&stdout, &others);
    has(row_of(&stdout, replaced), "error");
    assert_eq!(
        env.made(),
        FILES,
        "one for the first run, none for the folder"
    );
    assert_eq!(env.claims(), 0, "every claim ended");
}

/// Each path's job in a `--json` jobs batch, told once, completed.
fn job_of(lines: &[Value], path: &Path) -> String {
    let told: Vec<&Value> = lines
        .iter()
        .filter(|l| l["file"] == path.display().to_string() && l.get("job").is_some())
        .collect();
    assert_eq!(
        told.len(),
        1,
        "{} told {} times: {lines:?}",
        path.display(),
        told.len()
    );
    assert_eq!(told[0]["job"]["status"], "completed", "{lines:?}");
    told[0]["job"]["jobId"].to_string()
}

/// `--json process -j 1 --task TASK MEDIA`: claim groups of two.
fn one_job_at_a_time<'a>(task: &'a str, media: &'a Path) -> [&'a str; 7] {
    let media = media.to_str().unwrap();
    ["--json", "process", "-j", "1", "--task", task, media]
}

fn json_lines(stdout: &str) -> Vec<Value> {
    (stdout.lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `process --task` hashes as `process` does, on a thread of its own, a
/// claim group ahead: the same bytes in a later claim group than their
/// first copy (`-j 1`: groups of two) join the first copy's job and make
/// no second one; `--json` tells both paths the same job, once each.
#[test]
fn the_same_bytes_in_a_later_claim_group_make_one_job() {
    let env = Env::jobs(Duration::from_millis(100), None, Kept::Sqlite);
    let mut files = env.pngs(6);
    // Sorted after the six: two groups after its first copy's.
    let twin = env.media().join("z-twin.png");
    std::fs::copy(&files[0], &twin).unwrap();
    files.push(twin.clone());
    let media = env.media();
    let task = env.task.unwrap();
    let (stdout, stderr) = env.run(&one_job_at_a_time(task, &media), 0);
    has(&stdout, "has the same bytes as");
    assert_eq!(env.made(), 6, "{stdout}\n{stderr}");
    assert_eq!(spent(&env), (6, 6, 6), "one job per distinct content");
    let lines = json_lines(&stdout);
    assert_eq!(job_of(&lines, &files[0]), job_of(&lines, &twin));
    for file in &files[1..6] {
        job_of(&lines, file);
    }
    assert_eq!(env.finals(), 6);
    assert_eq!(env.claims(), 0, "every claim ended");
}

/// `process --task` creates its first job before the last file is hashed:
/// while the first create's answer is held back (the job exists, the
/// batch waits for it), the last file is given the first file's bytes. A
/// batch that hashed every file first, or kept the digest its check
/// computed, would have made a job of its old bytes; looked at a group
/// ahead of the claims (`-j 1`: groups of four, the last file six groups
/// on), its metadata is no longer its check's, it is read again, and its
/// digest is its new bytes', so it joins the first file's job.
#[test]
fn a_jobs_batch_creates_its_first_job_before_the_last_file_is_hashed() {
    const FILES: u32 = 24;
    let env = Env::jobs(Duration::from_millis(50), None, Kept::Sqlite);
    let files = env.pngs(FILES);
    let hold = Fault::new("/api/v1/jobs", FaultAction::Delay { millis: 3000 })
        .method("POST")
        .stage(FaultStage::After)
        .times(1);
    env.emulator.inject_fault(hold).unwrap();
    let media = env.media();
    let task = env.task.unwrap();
    let child = env
        .command(&one_job_at_a_time(task, &media))
        .spawn()
        .unwrap();
    until(Duration::from_secs(60), || env.made() >= 1);
    let last = &files[FILES as usize - 1];
    std::fs::copy(&files[0], last).unwrap();
    let output = wait(child, Duration::from_secs(120));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    has(&stdout, "has the same bytes as");
    assert_eq!(env.made(), FILES as usize - 1, "{stdout}\n{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(job_of(&lines, &files[0]), job_of(&lines, last));
    for file in &files[1..FILES as usize - 1] {
        job_of(&lines, file);
    }
}

#[test]
fn a_failed_upload_resumes_to_its_saved_target_or_a_new_record_once_expired() {
    let env = Env::new(Duration::from_millis(200), Some(Duration::from_secs(3)));
    let files = env.pngs(1);
    let media = env.media();
    let media = media.to_str().unwrap();
    let refuse = || {
        let fault = Fault::new(
            "/authenta-storage",
            FaultAction::Status {
                status: 403,
                body: FaultBody::Empty,
                retry_after: None,
            },
        );
        env.emulator.inject_fault(fault.times(1)).unwrap();
    };

    // The upload is refused once: the record exists, its bytes do not.
    refuse();
    env.run(&["process", media], 6);
    assert_eq!(env.used().1, 1);
    let (listed, _) = env.run(&["--json", "ledger"], 0);
    has(&listed, "\"stage\":\"created\"");

    // Rerun at once: the saved target is still good, no new record.
    let (stdout, _) = env.run(&["process", media], 0);
    every_verdict_once(&stdout, &files);
    assert_eq!(env.used().1, 1, "uploaded to the saved target");
    assert_eq!(env.emulator.records().len(), 1);

    // Again with a target that expires before the rerun: the stale record
    // is deleted and a new one made.
    env.run(&["ledger", "forget", files[0].to_str().unwrap()], 0);
    refuse();
    env.run(&["process", media], 6);
    let stale = env.emulator.records();
    assert_eq!(stale.len(), 2);
    std::thread::sleep(Duration::from_millis(3500));
    let (stdout, _) = env.run(&["process", media], 0);
    every_verdict_once(&stdout, &files);
    let records = env.emulator.records();
    assert_eq!(
        records.len(),
        2,
        "the stale record was replaced: {records:?}"
    );
    assert!(
        records.iter().all(|r| r.status == "PROCESSED"),
        "{records:?}"
    );
}

#[test]
fn sigkill_at_random_moments_then_reruns_spend_each_file_once() {
    killed_at_random_moments(Env::new(Duration::from_millis(400), None));
}

#[test]
fn sigkill_at_random_moments_of_a_jobs_batch_then_reruns_end_with_one_job_per_file() {
    killed_at_random_moments(Env::jobs(Duration::from_millis(400), None, Kept::Sqlite));
}

/// Runs of `process` over 40 files killed at random moments, then reruns:
/// exactly one record (or completed job) per file, none left waiting.
fn killed_at_random_moments(env: Env) {
    const FILES: u32 = 40;
    let files = env.pngs(FILES);
    let (seed, mut random) = kill_seed();

    // Every API request and upload takes 100 ms more, so the batch lasts
    // a few seconds and a kill lands in the middle of requests.
    for path in [env.api_path(), "/authenta-storage"] {
        let slow = Fault::new(path, FaultAction::Delay { millis: 100 });
        env.emulator.inject_fault(slow.times(100_000)).unwrap();
    }
    // Kill runs at random moments until one ends by itself: the first
    // two runs cannot (uploading 40 files 4 at a time takes 2 s or more).
    let mut kills = 0;
    for _ in 0..20 {
        let mut child = env.spawn_process("4");
        std::thread::sleep(Duration::from_millis(50 + random(600)));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        signal(&child, "-KILL");
        kills += 1;
        wait(child, Duration::from_secs(30));
    }
    let created = env.made();
    eprintln!("killed {kills} times; records (or jobs) so far: {created}");
    assert!(
        kills >= 2,
        "the batch ended before it was killed (seed {seed})"
    );
    env.emulator.clear_faults();
    let mut last = None;
    for _ in 0..3 {
        let output = wait(env.spawn_process("4"), Duration::from_secs(120));
        let done = output.status.code() == Some(0);
        last = Some(output);
        if done {
            break;
        }
    }
    let output = last.unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    every_verdict_once(&stdout, &files);
    assert_eq!(
        env.made(),
        FILES as usize,
        "exactly one record (or job) per file (seed {seed}): {:?}",
        env.emulator.jobs()
    );
    assert!(
        env.all_done(),
        "{:?} {:?}",
        env.emulator.records(),
        env.emulator.jobs()
    );
}

/// Holds the next `n` uploads 3 s each before the storage answers them.
fn hold_first_uploads(env: &Env, n: u32) {
    let hold = Fault::new("/authenta-storage", FaultAction::Delay { millis: 3000 });
    env.emulator.inject_fault(hold.times(n)).unwrap();
}

#[test]
fn the_first_sigint_stops_starting_files_and_a_second_exits_at_once() {
    const FILES: u32 = 40;
    let env = Env::new(Duration::from_millis(1500), None);
    let files = env.pngs(FILES);

    // One SIGINT once a few records exist: no further file is started,
    // the ones in flight end their step, the command exits 130. The first
    // two uploads are held 3 s, so the two records in flight stay in
    // flight until the signal lands, however loaded the machine (no new
    // file can start before a slot frees).
    hold_first_uploads(&env, 2);
    let child = env.spawn_process("2");
    until(Duration::from_secs(60), || {
        env.emulator.records().len() >= 2
    });
    let before = env.emulator.records().len();
    signal(&child, "-INT");
    let output = wait(child, Duration::from_secs(60));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(130), "{stdout}\n{stderr}");
    has(&stderr, "starting no more files");
    has(&stderr, "run the same command again to resume");
    let after = env.emulator.records().len();
    assert!(
        after <= before + 3,
        "{after} records after the interrupt, {before} before: files were still started"
    );
    assert!(after < FILES as usize);
    has(&stdout, "interrupted");

    // Two SIGINTs while uploads are held for 20 s: the first waits for
    // them, the second exits at once, still 130.
    let hold = Fault::new("/authenta-storage", FaultAction::Delay { millis: 20_000 });
    env.emulator.inject_fault(hold.times(1000)).unwrap();
    let child = env.spawn_process("2");
    until(Duration::from_secs(60), || {
        env.emulator.records().len() >= after + 2
    });
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(500));
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first SIGINT must let the uploads in flight finish"
    );
    signal(&child, "-INT");
    let output = wait(child, Duration::from_secs(10));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(130), "{stdout}\n{stderr}");
    has(&stderr, "exiting now");
    env.emulator.clear_faults();

    // The rerun finishes every file, each once.
    let output = wait(env.spawn_process("4"), Duration::from_secs(120));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    every_verdict_once(&stdout, &files);
    assert_eq!(env.emulator.records().len(), FILES as usize);
}

#[test]
fn own_only_leaves_the_files_another_process_holds_to_it() {
    let env = Env::new(Duration::from_millis(50), None);
    let files = env.pngs(3);
    // A first run makes the ledger (and processes the second file); then
    // another process, alive elsewhere, holds the first file's entry.
    env.run(&["process", files[1].to_str().unwrap()], 0);
    let conn = rusqlite::Connection::open(env.ledger()).unwrap();
    let (base_url, client_id, model): (String, String, String) = conn
        .query_row(
            "SELECT base_url, client_id, model FROM entries",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    let sha256: String = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(std::fs::read(&files[0]).unwrap());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    };
    // Its `Creating` state, written with its claim.
    conn.execute(
        "INSERT INTO entries (base_url, client_id, sha256, model, path, size, name, since,
                              stage, updated_at, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, 'f', ?6, 'creating', ?6, 'elsewhere/1/1/0')",
        rusqlite::params![
            base_url,
            client_id,
            sha256,
            model,
            files[0].display().to_string(),
            "2026-12-01T00:00:00Z"
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO workers VALUES ('elsewhere/1/1/0', 'elsewhere', 1, ?1)",
        rusqlite::params![i64::MAX],
    )
    .unwrap();
    let media = env.media();
    let (stdout, stderr) = env.run(&["process", "--own-only", media.to_str().unwrap()], 0);
    every_verdict_once(&stdout, &files[1..]);
    assert!(
        !stdout.contains(&files[0].display().to_string()),
        "{stdout}"
    );
    has(
        &stderr,
        "1 file(s) are being processed by another authenta process",
    );
    has(&stderr, "--own-only");
    assert_eq!(
        env.emulator.records().len(),
        2,
        "the held file was left to its holder"
    );
}

/// A seed from the clock (or `AUTHENTA_KILL_SEED`), printed, so a failure
/// can be replayed, and random numbers below a bound from it.
fn kill_seed() -> (u64, impl FnMut(u64) -> u64) {
    let seed = std::env::var("AUTHENTA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as u64
        });
    eprintln!("AUTHENTA_KILL_SEED={seed}");
    let mut state = seed | 1;
    let random = move |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    (seed, random)
}

/// `workers` runs of `authenta process -j 4` over the same 40 files with
/// the same ledger, started together; with `kill`, some of them (1 to
/// `workers - 1`, at random) are killed (`SIGKILL`), each once a random
/// number of records exist, and a rerun follows. Every run that ends prints
/// every file's verdict (its own, or another's read from the ledger); the
/// emulator ends with exactly one record per file, the ledger with every
/// entry final and no claim.
fn workers_share_one_ledger(workers: usize, kill: bool, kept: Kept) {
    let env = Env::kept(Duration::from_millis(300), None, kept);
    workers_share(env, workers, kill, kept);
}

/// [`workers_share_one_ledger`] in `env` (records, or jobs).
fn workers_share(env: Env, workers: usize, kill: bool, kept: Kept) {
    const FILES: u32 = 40;
    let files = env.pngs(FILES);
    if kill {
        // Slower requests, so the kill lands in the middle of the batch.
        for path in [env.api_path(), "/authenta-storage"] {
            let slow = Fault::new(path, FaultAction::Delay { millis: 50 });
            env.emulator.inject_fault(slow.times(100_000)).unwrap();
        }
    }
    let mut children: Vec<Child> = (0..workers).map(|_| env.spawn_process("4")).collect();
    if kill {
        let (seed, mut random) = kill_seed();
        let victims = 1 + random(workers as u64 - 1) as usize;
        let mut at: Vec<usize> = (0..victims).map(|_| 2 + random(20) as usize).collect();
        at.sort_unstable();
        for records in at {
            let victim = children.remove(random(children.len() as u64) as usize);
            until(Duration::from_secs(60), || env.made() >= records);
            signal(&victim, "-KILL");
            wait(victim, Duration::from_secs(30));
            eprintln!("killed a worker at {records}+ records (seed {seed})");
        }
    }
    for child in children {
        let output = wait(child, Duration::from_secs(180));
        let (stdout, stderr) = texts(&output);
        no_password(&stdout, &stderr);
        assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
        every_verdict_once(&stdout, &files);
    }
    if kill {
        env.emulator.clear_faults();
        let (stdout, _) = env.run(&["process", env.media().to_str().unwrap()], 0);
        every_verdict_once(&stdout, &files);
    }
    assert_eq!(
        env.made(),
        FILES as usize,
        "exactly one record (or job) per file over {workers} workers: {:?} {:?}",
        env.emulator.records(),
        env.emulator.jobs()
    );
    assert!(
        env.all_done(),
        "{:?} {:?}",
        env.emulator.records(),
        env.emulator.jobs()
    );
    // No claim outlives the runs.
    assert_eq!(env.claims(), 0, "claims left in the ledger ({kept:?})");
    assert_eq!(env.finals(), i64::from(FILES), "final entries ({kept:?})");
}

/// One number a query of the ledger's database answers.
fn rusqlite_count(ledger: &Path, query: &str) -> i64 {
    let conn = rusqlite::Connection::open(ledger).unwrap();
    conn.query_row(query, [], |row| row.get(0)).unwrap()
}

#[test]
fn two_workers_over_one_ledger_create_each_record_once() {
    workers_share_one_ledger(2, false, Kept::Sqlite);
}

#[test]
fn four_workers_over_one_ledger_create_each_record_once() {
    workers_share_one_ledger(4, false, Kept::Sqlite);
}

#[test]
fn a_killed_worker_s_files_are_taken_over_and_each_record_made_once() {
    workers_share_one_ledger(4, true, Kept::Sqlite);
}

#[test]
fn four_workers_over_one_postgresql_ledger_create_each_record_once() {
    workers_share_one_ledger(4, false, Kept::Postgres);
}

#[test]
fn two_workers_over_one_postgresql_ledger_create_each_record_once() {
    workers_share_one_ledger(2, false, Kept::Postgres);
}

#[test]
fn two_workers_over_one_postgresql_ledger_one_killed_create_each_record_once() {
    workers_share_one_ledger(2, true, Kept::Postgres);
}

#[test]
fn four_workers_over_one_postgresql_ledger_some_killed_create_each_record_once() {
    workers_share_one_ledger(4, true, Kept::Postgres);
}

#[test]
fn two_workers_over_one_ledger_run_each_job_once() {
    let env = Env::jobs(Duration::from_millis(300), None, Kept::Sqlite);
    workers_share(env, 2, false, Kept::Sqlite);
}

#[test]
fn killed_workers_over_one_ledger_run_each_job_once() {
    let env = Env::jobs(Duration::from_millis(300), None, Kept::Sqlite);
    workers_share(env, 3, true, Kept::Sqlite);
}

#[test]
fn killed_workers_over_one_postgresql_ledger_run_each_job_once() {
    let env = Env::jobs(Duration::from_millis(300), None, Kept::Postgres);
    workers_share(env, 3, true, Kept::Postgres);
}

/// What the emulator counted of a jobs batch: creates, finalizes it took
/// (answered 2xx), slot uploads it answered (not struck by a fault).
fn spent(env: &Env) -> (usize, usize, usize) {
    let api = env.emulator.api_requests();
    let ok = |r: &&authenta_emulator::ApiRequest| (200..300).contains(&r.status);
    let creates = (api.iter())
        .filter(|r| r.method == "POST" && r.path.split('?').next() == Some("/api/v1/jobs"))
        .count();
    let finalizes = (api.iter())
        .filter(|r| r.path.ends_with("/finalize"))
        .filter(ok)
        .count();
    let puts = (env.emulator.upload_requests().iter())
        .filter(|r| r.method == "PUT" && !r.faulted)
        .count();
    (creates, finalizes, puts)
}

#[test]
fn a_job_resumes_from_each_stage_and_spends_nothing_twice() {
    resumes_from_each_stage(Kept::Sqlite);
}

#[test]
fn a_job_resumes_from_each_stage_with_a_postgresql_ledger_too() {
    resumes_from_each_stage(Kept::Postgres);
}

/// One file's job interrupted at each stage, then run again: the rerun
/// spends no create, upload or finalize the first run had spent.
fn resumes_from_each_stage(kept: Kept) {
    let env = Env::jobs(Duration::from_millis(1500), None, kept);
    let files = env.pngs(1);
    let file = files[0].to_str().unwrap();
    let (tasked, task) = ("--task", env.task.unwrap());
    let stage = || {
        let (listed, _) = env.run(&["--json", "ledger"], 0);
        let row: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
        assert!(row["model"].as_str().unwrap().starts_with("job:"), "{row}");
        row["stage"].as_str().unwrap().to_owned()
    };
    let fault = |path: &str, action: FaultAction, stage: Option<FaultStage>| {
        let mut fault = Fault::new(path, action).times(1);
        if let Some(stage) = stage {
            fault = fault.stage(stage);
        }
        env.emulator.inject_fault(fault).unwrap();
    };
    let refused = || FaultAction::Status {
        status: 403,
        body: FaultBody::Empty,
        retry_after: None,
    };

    // 1. The create's answer lost (handled, then the connection reset):
    // the job exists, no one knows its upload URL.
    let create = Fault::new("/api/v1/jobs", FaultAction::Reset)
        .method("POST")
        .stage(FaultStage::After)
        .times(1);
    env.emulator.inject_fault(create).unwrap();
    env.run(&["process", tasked, task, file], 8);
    assert_eq!(stage(), "creating");
    let left = env.emulator.jobs();
    assert_eq!(left.len(), 1);
    assert!(
        ["created", "waiting_for_finalize"].contains(&left[0].status.as_str()),
        "{left:?}"
    );
    // The rerun deletes what the lost create left, then creates anew.
    let (stdout, _) = env.run(&["process", tasked, task, file], 0);
    every_verdict_once(&stdout, &files);
    let jobs = env.emulator.jobs();
    assert_eq!(jobs.len(), 1, "the left-over was deleted: {jobs:?}");
    assert_ne!(jobs[0].id, left[0].id);
    assert_eq!(spent(&env), (2, 1, 1));
    assert_eq!(stage(), "final");

    // 2. Created, the slot's upload refused: the rerun uploads to the
    // saved URL, no second create.
    env.run(&["ledger", "forget", file], 0);
    fault("/authenta-storage", refused(), None);
    env.run(&["process", tasked, task, file], 6);
    assert_eq!(stage(), "created");
    assert_eq!(spent(&env), (3, 1, 1));
    let (stdout, _) = env.run(&["process", tasked, task, file], 0);
    every_verdict_once(&stdout, &files);
    assert_eq!(spent(&env), (3, 2, 2), "uploaded to the saved URL");

    // 2b. Created, then the job deleted (by hand): the rerun finds it gone
    // at its saved URL and creates it anew, in the same run.
    env.run(&["ledger", "forget", file], 0);
    fault("/authenta-storage", refused(), None);
    env.run(&["process", tasked, task, file], 6);
    let (listed, _) = env.run(&["--json", "ledger"], 0);
    let row: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    let id = row["mid"].as_str().unwrap().to_owned();
    env.run(&["jobs", "delete", &id], 0);
    let (stdout, _) = env.run(&["process", tasked, task, file], 0);
    every_verdict_once(&stdout, &files);
    assert_eq!(
        spent(&env),
        (5, 3, 4),
        "one new job (one PUT found it gone)"
    );

    // 3. Uploaded, the finalize refused every time: the rerun finalizes
    // without uploading again.
    env.run(&["ledger", "forget", file], 0);
    let busy = Fault::new(
        "/api/v1/jobs/",
        FaultAction::Status {
            status: 503,
            body: FaultBody::Empty,
            retry_after: None,
        },
    )
    .method("POST")
    .times(20);
    env.emulator.inject_fault(busy).unwrap();
    env.run(&["process", tasked, task, file], 9);
    env.emulator.clear_faults();
    assert_eq!(stage(), "uploaded");
    assert_eq!(spent(&env), (6, 3, 5));
    let (stdout, _) = env.run(&["process", tasked, task, file], 0);
    every_verdict_once(&stdout, &files);
    assert_eq!(spent(&env), (6, 4, 5), "finalized without uploading again");

    // 4. Finalized, the process killed while it waits: the rerun only
    // waits (in SQLite the `Finalized` stage waits for the queue, so the
    // rerun may resume from `Uploaded`: it reads the job, finalized, and
    // does not finalize it again).
    env.run(&["ledger", "forget", file], 0);
    let child = env
        .command(&["process", tasked, task, file])
        .spawn()
        .unwrap();
    until(Duration::from_secs(30), || spent(&env).1 == 5);
    until(Duration::from_secs(30), || spent(&env).2 == 6);
    signal(&child, "-KILL");
    wait(child, Duration::from_secs(30));
    assert_eq!(spent(&env), (7, 5, 6));
    let (stdout, _) = env.run(&["process", tasked, task, file], 0);
    every_verdict_once(&stdout, &files);
    assert_eq!(spent(&env), (7, 5, 6), "only waited");

    // Final: a second run reads the ledger, no request at all.
    let before = env.emulator.api_requests().len();
    let (stdout, _) = env.run(&["process", tasked, task, file], 0);
    every_verdict_once(&stdout, &files);
    assert_eq!(env.emulator.api_requests().len(), before);
    // The same bytes at another path: the same job, printed for both.
    let twin = env.media().join("twin.png");
    std::fs::copy(&files[0], &twin).unwrap();
    let (stdout, stderr) = env.run(&["process", tasked, task, file, twin.to_str().unwrap()], 0);
    has(&stderr, "has the same bytes as");
    every_verdict_once(&stdout, &[files[0].clone(), twin]);
    assert_eq!(env.emulator.api_requests().len(), before);
    // Every job left is completed; none waits for its finalize.
    let jobs = env.emulator.jobs();
    assert!(jobs.iter().all(|j| j.status == "completed"), "{jobs:?}");
}

#[test]
fn a_sigint_stops_starting_jobs_and_the_rerun_finishes_each_once() {
    const FILES: u32 = 16;
    let env = Env::jobs(Duration::from_millis(1500), None, Kept::Sqlite);
    let files = env.pngs(FILES);
    // As for records: the two jobs in flight stay there until the signal
    // lands.
    hold_first_uploads(&env, 2);
    let child = env.spawn_process("2");
    until(Duration::from_secs(60), || env.made() >= 2);
    let before = env.made();
    signal(&child, "-INT");
    let output = wait(child, Duration::from_secs(60));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(130), "{stdout}\n{stderr}");
    has(&stderr, "starting no more files");
    has(&stderr, "run the same command again to resume");
    let after = env.made();
    assert!(
        after <= before + 3,
        "{after} jobs after the interrupt, {before} before: jobs were still started"
    );
    assert!(after < FILES as usize);
    let output = wait(env.spawn_process("4"), Duration::from_secs(120));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    every_verdict_once(&stdout, &files);
    assert_eq!(env.made(), FILES as usize);
    assert!(env.all_done(), "{:?}", env.emulator.jobs());
}
