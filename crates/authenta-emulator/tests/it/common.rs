//! Helpers shared by the integration tests: an emulator on port 0 and a
//! plain HTTP client (reqwest, not the SDK's backends).

use std::time::Duration;

use authenta_emulator::{ApiKey, ClockMode, Emulator, KeySpec, RunningEmulator};
use authenta_types::{EMULATOR_ERROR_CODES, ERROR_CODES, ErrorBody, ErrorCode};
use serde_json::{Value, json};

/// A plain reqwest client for loopback HTTP.
///
/// When the workspace also builds authenta-reqwest, reqwest is compiled with
/// `rustls-no-provider` (features unify), and then its default client needs
/// a process-wide rustls crypto provider even for plain http: install
/// ring's (a no-op when one is installed already).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The processing time of [`Env::new`]'s emulator (on a manual clock: tests
/// advance it rather than wait).
pub const PROCESSING: Duration = Duration::from_millis(20);

/// A running emulator, a client and a key with every permission.
pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub key: ApiKey,
}

/// What the server answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("read body").to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

impl Env {
    pub async fn new() -> Env {
        Env::with(
            Emulator::builder()
                .processing_time(PROCESSING)
                .clock(ClockMode::Manual),
        )
        .await
    }

    /// On the system clock with its state in `dir`: 20 ms processing, 10
    /// credits.
    pub async fn in_dir(dir: &std::path::Path) -> Env {
        Env::with(
            Emulator::builder()
                .data_dir(dir)
                .processing_time(Duration::from_millis(20))
                .credits(10),
        )
        .await
    }

    /// An emulator whose database in `dir` was taken back to an earlier
    /// schema: one started there, stopped, `sql` run on its database, and
    /// a new one started there on the same address; with the first's key.
    pub async fn downgraded(dir: &std::path::Path, sql: &str) -> Env {
        let first = Env::with(Emulator::builder().data_dir(dir)).await;
        let addr = first.emu.addr();
        first.emu.stopped().await;
        let db = rusqlite::Connection::open(dir.join("emulator.sqlite3")).unwrap();
        db.execute_batch(sql).unwrap();
        drop(db);
        let second = Env::with(Emulator::builder().listen(addr).data_dir(dir)).await;
        Env {
            key: first.key,
            ..second
        }
    }

    pub async fn with(builder: authenta_emulator::EmulatorBuilder) -> Env {
        let emu = builder.start().await.expect("start the emulator");
        let key = emu.create_key(KeySpec::new("tests")).expect("create a key");
        Env {
            emu,
            http: http_client(),
            key,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    pub fn key_with(&self, spec: KeySpec) -> ApiKey {
        self.emu.create_key(spec).expect("create a key")
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        answer(req.send().await.expect("send the request")).await
    }

    fn auth(req: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        req.header("x-client-id", &key.client_id)
            .header("x-client-secret", &key.client_secret)
    }

    /// A request of `method` to `path` with `Authorization: Bearer token`
    /// only.
    pub async fn bearer(&self, method: reqwest::Method, token: &str, path: &str) -> Answer {
        self.send(
            self.http
                .request(method, self.url(path))
                .header("authorization", format!("Bearer {token}")),
        )
        .await
    }

    /// `POST /media` with `Authorization: Bearer token` only.
    pub async fn create_bearer(&self, token: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(self.url("/media"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn get_as(&self, key: &ApiKey, path: &str) -> Answer {
        self.send(Self::auth(self.http.get(self.url(path)), key))
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_as(&self.key, path).await
    }

    pub async fn delete_as(&self, key: &ApiKey, path: &str) -> Answer {
        self.send(Self::auth(self.http.delete(self.url(path)), key))
            .await
    }

    pub async fn post_raw(
        &self,
        key: &ApiKey,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut req = Self::auth(self.http.post(self.url("/media")), key).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.send(req).await
    }

    pub async fn create_as(&self, key: &ApiKey, body: &Value) -> Answer {
        self.post_raw(key, Some("application/json"), body.to_string().into_bytes())
            .await
    }

    /// Creates a record for `bytes` and returns the create answer's JSON.
    pub async fn create_for(&self, content_type: &str, model: &str, bytes: &[u8]) -> Value {
        let a = self
            .create_as(
                &self.key,
                &json!({"name": "sample", "contentType": content_type, "size": bytes.len(), "modelType": model}),
            )
            .await;
        assert_eq!(a.status, 200, "create: {}", a.text());
        a.json()
    }

    /// PUTs `bytes` to an upload URL, as a careful client does.
    pub async fn put(&self, url: &str, content_type: &str, bytes: &[u8]) -> Answer {
        self.send(
            self.http
                .put(url)
                .header("content-type", content_type)
                .body(bytes.to_vec()),
        )
        .await
    }

    /// Creates a record, uploads `bytes`, returns the mid.
    pub async fn upload(&self, content_type: &str, model: &str, bytes: &[u8]) -> String {
        let created = self.create_for(content_type, model, bytes).await;
        let put = self
            .put(created["uploadUrl"].as_str().unwrap(), content_type, bytes)
            .await;
        assert_eq!(put.status, 200, "upload: {}", put.text());
        created["mid"].as_str().unwrap().to_owned()
    }

    /// Polls `GET /media/{mid}` until the record's status is final: on a
    /// manual clock by advancing it past the processing time, on the system
    /// clock by polling every 10 ms (at most 30 s, then the test fails).
    pub async fn wait_final(&self, mid: &str) -> Value {
        for _ in 0..3000 {
            let a = self.get(&format!("/media/{mid}")).await;
            assert_eq!(a.status, 200, "{}", a.text());
            let media = a.json();
            if authenta_types::FINAL_STATUSES.contains(&media["status"].as_str().unwrap_or("")) {
                return media;
            }
            if self.emu.clock_mode() == ClockMode::Manual {
                self.emu
                    .advance(self.emu.processing_time())
                    .expect("advance the clock");
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        panic!("record {mid} never reached a final status");
    }
}

/// Asserts a documented error: status and exact body from `ERROR_CODES`.
#[track_caller]
pub fn assert_documented(a: &Answer, code: ErrorCode) {
    let row = ERROR_CODES
        .iter()
        .find(|r| r.code == code.as_str())
        .expect("a documented code");
    assert_eq!(a.status, row.emulator_status, "{code}: {}", a.text());
    let expected = serde_json::to_value(ErrorBody::documented(code).unwrap()).unwrap();
    assert_eq!(a.json(), expected);
    assert_eq!(a.header("content-type"), Some("application/json"));
}

/// Asserts an emulator error for `status` whose message mentions `needle`.
#[track_caller]
pub fn assert_emulator(a: &Answer, status: u16, needle: &str) {
    let row = EMULATOR_ERROR_CODES
        .iter()
        .find(|r| r.emulator_status == status)
        .expect("an emulator code for the status");
    assert_eq!(a.status, status, "{}", a.text());
    assert_eq!(a.header("content-type"), Some("application/json"));
    let body: ErrorBody = serde_json::from_slice(&a.body).expect("an error body");
    assert_eq!(body.code.as_str(), row.code);
    assert_eq!(body.error_type.as_ref().map(|t| t.as_str()), row.error_type);
    assert!(
        body.message.starts_with(row.message),
        "message {:?}",
        body.message
    );
    assert!(
        body.message.to_lowercase().contains(&needle.to_lowercase()),
        "message {:?} should mention {needle:?}",
        body.message
    );
}

/// An S3 XML error's `<Code>`.
pub fn s3_code(a: &Answer) -> String {
    let text = a.text();
    text.split_once("<Code>")
        .and_then(|(_, r)| r.split_once("</Code>"))
        .map(|(c, _)| c.to_owned())
        .unwrap_or_else(|| panic!("no S3 error code in {text:?}"))
}

/// Sends raw bytes to `addr`, half-closes, and reads until the server
/// closes (what arrived before an error counts).
pub async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    stream.shutdown().await?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => return Ok(out),
        }
    }
}

impl Env {
    /// A hand-written HTTP/1.1 request to this emulator (`target` is a path
    /// or one of its URLs), for what a well-behaved client cannot send.
    /// Returns what came back before the connection closed.
    pub async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> String {
        let addr = self.emu.addr();
        let target = target
            .split_once(&addr.to_string())
            .map_or(target, |(_, path)| path);
        let mut request = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        let got = raw(addr, request.as_bytes()).await.unwrap_or_default();
        String::from_utf8_lossy(&got).into_owned()
    }

    /// The API credentials of the default key, as raw headers.
    pub fn credentials(&self) -> Vec<(&'static str, String)> {
        vec![
            ("x-client-id", self.key.client_id.clone()),
            ("x-client-secret", self.key.client_secret.clone()),
        ]
    }
}
