//! How the emulator's store scales: creates 5,000 records on the
//! `authenta-emulator` binary (run as a child process with `--data-dir`) and
//! prints `POST /api/media` per second for each band of 1,000 records, then
//! `GET /api/media/{mid}` and a `GET /api/media` page at 5,000 records;
//! then as many jobs (`POST /api/v1/jobs`, an API key), and a
//! `GET /api/v1/jobs` page, all jobs and one status's.
//!
//! ```text
//! cargo bench -p authenta-emulator --bench store
//! ```
//!
//! Set `STORE_RECORDS` for another count (a multiple of 1,000) and
//! `STORE_CLIENTS` for another number of concurrent clients (default 4).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use authenta_emulator::EmulatorProcess;

const BAND: usize = 1000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Bench {
    http: reqwest::Client,
    server: EmulatorProcess,
}

impl Bench {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.server.base_url()))
            .header("x-client-id", &self.server.key().client_id)
            .header("x-client-secret", &self.server.key().client_secret)
    }

    async fn create(&self, i: usize) -> String {
        let body = format!(
            r#"{{"name":"bench-{i}","contentType":"video/mp4","size":1024,"modelType":"DF-1"}}"#
        );
        let resp = self
            .req(reqwest::Method::POST, "/media")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /media");
        assert_eq!(resp.status().as_u16(), 200, "POST /media");
        let json: serde_json::Value =
            serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
        json["mid"].as_str().expect("mid").to_owned()
    }

    /// Creates a job of task type 1 with one slot.
    async fn create_job(&self, i: usize) {
        let body = format!(
            r#"{{"inputs":[{{"slotName":"original","contentType":"image/png","fileName":"bench-{i}.png","sizeBytes":1024}}]}}"#
        );
        let resp = self
            .http
            .post(format!("{}/v1/jobs?taskTypeId=1", self.server.base_url()))
            .bearer_auth(&self.server.key().api_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /v1/jobs");
        assert_eq!(resp.status().as_u16(), 200, "POST /v1/jobs");
        resp.bytes().await.expect("body");
    }

    async fn get_job_page(&self, query: &str) {
        let resp = self
            .http
            .get(format!("{}/v1/jobs{query}", self.server.base_url()))
            .bearer_auth(&self.server.key().api_key)
            .send()
            .await
            .expect("GET /v1/jobs");
        assert_eq!(resp.status().as_u16(), 200, "GET /v1/jobs{query}");
        resp.bytes().await.expect("body");
    }

    async fn get(&self, path: &str) {
        let resp = self
            .req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status().as_u16(), 200, "GET {path}");
        resp.bytes().await.expect("body");
    }
}

/// Runs `count` calls of `f` over `clients` concurrent tasks; returns the
/// rate per second.
async fn rate<F, Fut>(bench: &Arc<Bench>, clients: usize, count: usize, start: usize, f: F) -> f64
where
    F: Fn(Arc<Bench>, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let bench = bench.clone();
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = start + c;
            while i < start + count {
                f(bench.clone(), i).await;
                i += clients;
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let records = env_usize("STORE_RECORDS", 5000).max(BAND) / BAND * BAND;
    let clients = env_usize("STORE_CLIENTS", 4).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authenta-emulator"));
    cmd.args(["--listen", "127.0.0.1:0", "--credits", "1000000"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let server = EmulatorProcess::spawn(cmd).expect("run authenta-emulator");
    // Features unify across the workspace: with authenta-reqwest built,
    // reqwest needs a crypto provider even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bench = Arc::new(Bench {
        http: reqwest::Client::new(),
        server,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("{records} records with --data-dir, {clients} concurrent clients");
        let mut first = None;
        let mut last = 0.0;
        for band in 0..records / BAND {
            let r = rate(&bench, clients, BAND, band * BAND, |b, i| async move {
                b.create(i).await;
            })
            .await;
            println!(
                "POST /api/media, records {:>5}–{:>5}: {r:>7.0} /s",
                band * BAND,
                (band + 1) * BAND
            );
            first.get_or_insert(r);
            last = r;
        }
        let mid = bench.create(records).await;
        let path = format!("/media/{mid}");
        let get = rate(&bench, clients, 1000, 0, move |b, _| {
            let path = path.clone();
            async move { b.get(&path).await }
        })
        .await;
        println!("GET /api/media/{{mid}} at {records} records:        {get:>7.0} /s");
        let page = rate(&bench, clients, 200, 0, |b, _| async move {
            b.get("/media?limit=100&offset=2500").await
        })
        .await;
        println!("GET /api/media?limit=100&offset=2500 at {records}:  {page:>7.0} /s");
        if let Some(first) = first {
            println!("last band / first band: {:.2}", last / first);
        }
        let mut first = None;
        for band in 0..records / BAND {
            let r = rate(&bench, clients, BAND, band * BAND, |b, i| async move {
                b.create_job(i).await;
            })
            .await;
            println!(
                "POST /api/v1/jobs, jobs {:>5}–{:>5}: {r:>7.0} /s",
                band * BAND,
                (band + 1) * BAND
            );
            first.get_or_insert(r);
            last = r;
        }
        let middle = records / 200;
        for query in [
            format!("?limit=100&page={middle}"),
            format!("?limit=100&page={middle}&status=created"),
        ] {
            let shown = query.clone();
            let page = rate(&bench, clients, 200, 0, move |b, _| {
                let query = query.clone();
                async move { b.get_job_page(&query).await }
            })
            .await;
            println!("GET /api/v1/jobs{shown} at {records} jobs: {page:>7.0} /s");
        }
        if let Some(first) = first {
            println!("jobs: last band / first band: {:.2}", last / first);
        }
    });
}
