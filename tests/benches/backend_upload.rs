//! Uploads a 1 GiB file to a fresh pre-signed URL of the `authenta-emulator`
//! binary (run as a separate process) with each backend's
//! `Client::upload_to` and with `curl -T`, several runs each, and prints the
//! throughput and the uploading process's peak resident memory (its
//! `VmHWM`, as `/usr/bin/time` reports it) for each, with the medians.
//!
//! ```text
//! cargo build --release -p authenta-emulator
//! cargo bench -p authenta-tests --bench backend_upload
//! ```
//!
//! Each backend upload runs in a child process (this bench binary run again
//! with `--child`), so its memory is the client's alone. Set `UPLOAD_MIB`
//! for another size (default 1024), `RUNS` for another number of runs per
//! client (default 5), `AUTHENTA_EMULATOR` for another emulator binary
//! (default: `authenta-emulator` beside this bench's build directory).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use authenta_emulator::EmulatorProcess;
use authenta_proto::types::{CreateMediaRequest, ModelType};
use authenta_proto::{Credentials, PollPolicy, RetryPolicy, UploadTarget};
use authenta_tests::{Backend, Connect, Reqwest, Settings};

const CONTENT_TYPE: &str = "video/mp4";

/// The clients compared, in the order each run goes through them.
const CLIENTS: [&str; 3] = ["curl", "authenta-ureq", "authenta-reqwest"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        return child(
            &args[at + 1],
            Path::new(&args[at + 2]),
            Path::new(&args[at + 3]),
        );
    }
    // `cargo test --benches` runs this without `--bench`: the uploads take
    // a minute, so they run only under `cargo bench`.
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "backend_upload: run it with `cargo bench -p authenta-tests --bench backend_upload`"
        );
        return;
    }
    let env_number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let size = env_number("UPLOAD_MIB", 1024) * 1024 * 1024;
    let runs = env_number("RUNS", 5).max(1) as usize;

    let server = start_emulator(&emulator_binary());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("bench.mp4");
    write_file(&file, size);
    let api = authenta_ureq::Client::connect(&settings(&server)).expect("an API client");

    let mut results: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    for run in 1..=runs {
        for (client, samples) in CLIENTS.iter().zip(&mut results) {
            let target = fresh_target(&api, size, dir.path());
            let sample = upload_with(client, &server, &target, &file);
            let mid = target.0.mid.as_ref().expect("a record");
            let uploaded = api.get(mid).expect("the record").status;
            assert_ne!(
                uploaded.as_str(),
                "INITED",
                "{client}: the upload did not land"
            );
            println!(
                "run {run}/{runs} {client:<17} {:>7.1} MiB/s  peak RSS {:>6.1} MiB  CPU {:>5.2} s (user {:.2} + sys {:.2})",
                sample.mib_per_sec(size),
                sample.peak_kib as f64 / 1024.0,
                sample.cpu_secs(),
                sample.user_secs,
                sample.sys_secs,
            );
            samples.push(sample);
        }
    }

    let mib = size / (1024 * 1024);
    println!("\n{mib} MiB, {runs} runs each, medians (min–max):\n");
    println!(
        "| client | throughput | peak RSS (VmHWM) | CPU (user + sys) | throughput vs curl | CPU vs curl |"
    );
    println!("|---|---|---|---|---|---|");
    let curl = median(results[0].iter().map(|s| s.mib_per_sec(size)).collect());
    for (client, samples) in CLIENTS.iter().zip(&results) {
        let speeds: Vec<f64> = samples.iter().map(|s| s.mib_per_sec(size)).collect();
        let peaks: Vec<f64> = samples.iter().map(|s| s.peak_kib as f64 / 1024.0).collect();
        let cpu: Vec<f64> = samples.iter().map(Sample::cpu_secs).collect();
        // Each run's CPU against curl's in the same run, which shared the
        // machine's load at that moment.
        let cpu_ratios = samples.iter().zip(&results[0]);
        let cpu_ratios = cpu_ratios
            .map(|(s, c)| s.cpu_secs() / c.cpu_secs())
            .collect();
        println!(
            "| {client} | {:.0} MiB/s ({:.0}–{:.0}) | {:.1} MiB ({:.1}–{:.1}) | {:.2} s ({:.2}–{:.2}) | {:.2}× | {:.2}× |",
            median(speeds.clone()),
            min(&speeds),
            max(&speeds),
            median(peaks.clone()),
            min(&peaks),
            max(&peaks),
            median(cpu.clone()),
            min(&cpu),
            max(&cpu),
            median(speeds) / curl,
            median(cpu_ratios),
        );
    }
}

/// One upload: how long the uploading process ran, its peak RSS, and the
/// CPU time it used (user and system).
#[derive(Clone, Copy, Debug)]
struct Sample {
    elapsed: Duration,
    peak_kib: u64,
    user_secs: f64,
    sys_secs: f64,
}

impl Sample {
    fn cpu_secs(&self) -> f64 {
        self.user_secs + self.sys_secs
    }

    fn mib_per_sec(&self, size: u64) -> f64 {
        size as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// The emulator binary: `AUTHENTA_EMULATOR`, or the one built into this
/// bench's target directory (`target/release/deps/<bench>` → `target/release`).
fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("AUTHENTA_EMULATOR") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the bench's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("a target directory")
        .join("authenta-emulator");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --release -p authenta-emulator` first",
        path.display()
    );
    path
}

/// Starts the emulator `binary` on a free port (it prints its key).
fn start_emulator(binary: &Path) -> EmulatorProcess {
    let mut command = Command::new(binary);
    command
        .args(["--listen", "127.0.0.1:0", "--processing-time", "10ms"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    EmulatorProcess::spawn(command).unwrap_or_else(|e| panic!("run {}: {e}", binary.display()))
}

/// Settings for a backend client of the emulator: no retries, so a failure
/// shows.
fn settings(server: &EmulatorProcess) -> Settings {
    Settings {
        base_url: server.base_url().to_owned(),
        credentials: Credentials::new(&server.key().client_id, server.key().client_secret.as_str()),
        provider: None,
        retry: RetryPolicy::never(),
        poll: PollPolicy::default(),
        request_timeout: None,
        upload_timeout: None,
        upload_stall_timeout: None,
    }
}

/// Writes `size` bytes of a repeating pattern.
fn write_file(path: &Path, size: u64) {
    let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create the file"));
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).expect("write the file");
        left -= n as u64;
    }
    file.flush().expect("write the file");
}

/// A new record's upload target, and where it is saved as JSON.
fn fresh_target(api: &authenta_ureq::Client, size: u64, dir: &Path) -> (UploadTarget, PathBuf) {
    let request = CreateMediaRequest {
        name: "bench.mp4".into(),
        content_type: CONTENT_TYPE.into(),
        size,
        model_type: ModelType::Df1,
    };
    let created = api.create(request.clone()).expect("create a record");
    let target = UploadTarget::from_created(&created, &request, SystemTime::now())
        .expect("an upload target");
    let saved = dir.join("target.json");
    std::fs::write(&saved, serde_json::to_vec(&target).expect("JSON")).expect("save the target");
    (target, saved)
}

/// Runs one upload under `/usr/bin/time` (which reports the peak RSS of the
/// process it runs) and times it from spawn to exit.
fn upload_with(
    client: &str,
    server: &EmulatorProcess,
    (target, saved): &(UploadTarget, PathBuf),
    file: &Path,
) -> Sample {
    let report = saved.with_extension("time");
    let mut command = Command::new("/usr/bin/time");
    command.arg("-f").arg("%M %U %S").arg("-o").arg(&report);
    if client == "curl" {
        command
            .args(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
            .arg(file)
            .args(["-H", &format!("Content-Type: {CONTENT_TYPE}")])
            .arg(target.url());
    } else {
        command
            .arg(std::env::current_exe().expect("the bench's path"))
            .args(["--child", client])
            .arg(saved)
            .arg(file)
            .env("AUTHENTA_BASE_URL", server.base_url())
            .env("AUTHENTA_CLIENT_ID", &server.key().client_id)
            .env("AUTHENTA_CLIENT_SECRET", &server.key().client_secret);
    }
    let started = Instant::now();
    let output = command.output().expect("run the upload");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{client} failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if client == "curl" {
        assert_eq!(stdout.trim(), "200", "curl's upload was refused");
    }
    let report = std::fs::read_to_string(&report).expect("/usr/bin/time's report");
    let fields: Vec<f64> = report
        .lines()
        .last()
        .unwrap_or_default()
        .split(' ')
        .map(|field| field.parse().expect("a number"))
        .collect();
    let [peak_kib, user, system] = fields[..] else {
        panic!("/usr/bin/time's report: {report}")
    };
    Sample {
        elapsed,
        peak_kib: peak_kib as u64,
        user_secs: user,
        sys_secs: system,
    }
}

/// The child: uploads `file` to the saved target with one backend, then
/// prints its own `VmHWM`.
fn child(backend: &str, saved: &Path, file: &Path) {
    let target: UploadTarget =
        serde_json::from_slice(&std::fs::read(saved).expect("the saved target")).expect("JSON");
    let var = |name| std::env::var(name).expect(name);
    let settings = Settings {
        base_url: var("AUTHENTA_BASE_URL"),
        credentials: Credentials::new(var("AUTHENTA_CLIENT_ID"), var("AUTHENTA_CLIENT_SECRET")),
        provider: None,
        retry: RetryPolicy::never(),
        poll: PollPolicy::default(),
        request_timeout: None,
        upload_timeout: None,
        upload_stall_timeout: None,
    };
    match backend {
        "authenta-ureq" => upload::<authenta_ureq::Client>(&settings, &target, file),
        "authenta-reqwest" => upload::<Reqwest>(&settings, &target, file),
        other => panic!("no backend {other}"),
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status.lines().find(|l| l.starts_with("VmHWM:"));
    println!("{}", peak.unwrap_or("VmHWM: unknown"));
}

fn upload<B: Backend>(settings: &Settings, target: &UploadTarget, file: &Path) {
    let client = B::connect(settings).unwrap_or_else(|e| panic!("{}: {e}", B::NAME));
    client
        .upload_to(target, file)
        .unwrap_or_else(|e| panic!("{}: {e}", B::NAME));
}
