//! The drivers, end to end over a fake in-memory server and a fake clock:
//! create → upload → wait, retries, listing, and what went on the wire.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime};

use authenta_proto::driver::{blocking, nonblocking};
use authenta_proto::http::{Method, Request, Response};
use authenta_proto::types::{MediaId, MediaStatus, ModelType};
use authenta_proto::{
    AsyncHttpClient, AsyncRuntime, Config, Credentials, ErrorClass, Failure, MediaFile, OneShot,
    PollPolicy, Runtime,
};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-and-some-pixels";

/// One request the fake server saw: method, URI, headers.
type Seen = (Method, String, Vec<(String, String)>);

/// What the fake server saw and holds.
#[derive(Default)]
struct State {
    records: BTreeMap<String, (String, u32)>, // mid → (status, polls left before PROCESSED)
    requests: Vec<Seen>,
    faults: Vec<u16>, // statuses to answer the next API requests with
    upload_faults: Vec<u16>,
    artifact_faults: Vec<u16>, // statuses to answer the next artifact downloads with
    next: u32,
}

#[derive(Clone, Default)]
struct Server(Arc<Mutex<State>>);

impl Server {
    fn handle(&self, req: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, io::Error> {
        let mut s = self.0.lock().unwrap();
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let path = req.uri().path().to_owned();
        s.requests
            .push((req.method().clone(), req.uri().to_string(), headers));
        let reply = |status: u16, body: String| {
            Ok(Response::builder()
                .status(status)
                .body(body.into_bytes())
                .unwrap())
        };
        if path.starts_with("/upload/") {
            if let Some(status) = s.upload_faults.pop() {
                return reply(status, String::new());
            }
            let mid = path.trim_start_matches("/upload/").to_owned();
            assert!(
                req.headers().get("x-client-secret").is_none(),
                "no credential on the upload"
            );
            assert_eq!(
                req.headers()["content-length"],
                req.body().len().to_string()
            );
            s.records.get_mut(&mid).unwrap().0 = "UPLOADED".into();
            return Ok(Response::builder()
                .status(200)
                .header("etag", "\"e1\"")
                .body(Vec::new())
                .unwrap());
        }
        if path.starts_with("/artifact/") {
            assert!(req.headers().is_empty(), "an artifact GET has no header");
            if let Some(status) = s.artifact_faults.pop() {
                return reply(status, "<html>busy</html>".into());
            }
            return reply(200, "heatmap".into());
        }
        assert_eq!(req.headers()["x-client-secret"], "secret");
        if let Some(status) = s.faults.pop() {
            return reply(status, "<html>busy</html>".into());
        }
        let media = |mid: &str, status: &str| {
            format!(
                r#"{{"mid":"{mid}","name":"a.png","type":"Image","status":"{status}","modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z"{}}}"#,
                if status == "PROCESSED" {
                    r#","fake":false"#
                } else {
                    ""
                }
            )
        };
        match (req.method().as_str(), path.as_str()) {
            ("POST", "/api/media") => {
                s.next += 1;
                let mid = format!("{:024x}", s.next);
                s.records.insert(mid.clone(), ("INITED".into(), 2));
                let body = media(&mid, "INITED").replace(
                    '}',
                    &format!(r#","uploadUrl":"http://127.0.0.1:1/upload/{mid}?X-Amz-Signature=a%2Bb","expiresIn":900}}"#),
                );
                reply(200, body)
            }
            ("GET", "/api/media") => {
                let q = req.uri().query().unwrap_or_default().to_owned();
                let get = |k: &str| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                        .map(|v| v.parse::<usize>().unwrap())
                };
                let (limit, offset) = (get("limit").unwrap_or(10), get("offset").unwrap_or(0));
                let data: Vec<String> = s
                    .records
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|(mid, (st, _))| media(mid, st))
                    .collect();
                reply(
                    200,
                    format!(
                        r#"{{"limit":{limit},"offset":{offset},"total":{},"data":[{}]}}"#,
                        s.records.len(),
                        data.join(",")
                    ),
                )
            }
            ("GET", p) => {
                let mid = p.trim_start_matches("/api/media/").to_owned();
                let (status, left) = s.records.get_mut(&mid).unwrap();
                if status == "UPLOADED" {
                    if *left == 0 {
                        *status = "PROCESSED".into();
                    } else {
                        *left -= 1;
                    }
                }
                let status = status.clone();
                reply(200, media(&mid, &status))
            }
            ("DELETE", p) => {
                let mid = p.trim_start_matches("/api/media/");
                s.records.remove(mid);
                reply(204, String::new())
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A fake clock: sleeping moves it, nothing waits.
#[derive(Clone)]
struct FakeClock {
    start: Instant,
    slept: Arc<Mutex<Duration>>,
}

impl FakeClock {
    fn new() -> Self {
        FakeClock {
            start: Instant::now(),
            slept: Arc::default(),
        }
    }
    fn slept(&self) -> Duration {
        *self.slept.lock().unwrap()
    }
}

impl Runtime for FakeClock {
    fn now(&self) -> Instant {
        self.start + self.slept()
    }
    fn wall_clock(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + self.slept()
    }
    fn sleep(&self, d: Duration) {
        *self.slept.lock().unwrap() += d;
    }
    fn random(&self) -> u64 {
        u64::MAX / 2
    }
}

#[async_trait::async_trait]
impl AsyncRuntime for FakeClock {
    fn now(&self) -> Instant {
        Runtime::now(self)
    }
    fn wall_clock(&self) -> SystemTime {
        Runtime::wall_clock(self)
    }
    async fn sleep(&self, d: Duration) {
        Runtime::sleep(self, d)
    }
    fn random(&self) -> u64 {
        Runtime::random(self)
    }
}

#[async_trait::async_trait]
impl AsyncHttpClient for Server {
    type Error = io::Error;
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, io::Error> {
        self.handle(request)
    }
}

fn config() -> Config {
    Config::new(Credentials::new("id", "secret"))
        .with_base_url("http://127.0.0.1:1/api")
        .unwrap()
}

fn block_on<F: Future>(future: F) -> F::Output {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[test]
fn blocking_create_upload_wait() {
    let server = Server::default();
    let clock = FakeClock::new();
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), clock.clone());
    let file = MediaFile::inspect("a.png", PNG, PNG.len() as u64, None).unwrap();
    let progress = Mutex::new(0u64);
    let on_progress = |sent: u64, _total: u64| *progress.lock().unwrap() = sent;
    let media = driver
        .process(&file, ModelType::Ac1, &mut { PNG }, Some(&on_progress))
        .unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert_eq!(media.fake, Some(false));
    assert_eq!(*progress.lock().unwrap(), PNG.len() as u64);
    let state = server.0.lock().unwrap();
    let methods: Vec<&str> = state.requests.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(methods, ["POST", "PUT", "GET", "GET", "GET"]);
    let put = &state.requests[1];
    assert!(
        put.1.ends_with("?X-Amz-Signature=a%2Bb"),
        "the URL byte for byte: {}",
        put.1
    );
    assert!(put.2.iter().all(|(k, _)| !k.starts_with("x-client")));
    assert!(!put.2.iter().any(|(k, _)| k == "transfer-encoding"));
    // The wait slept its schedule: 1 s, then 1.5 s.
    assert_eq!(clock.slept(), Duration::from_millis(2500));
}

#[test]
fn blocking_retries_a_get_but_not_a_create() {
    let server = Server::default();
    server.0.lock().unwrap().faults = vec![503, 502];
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), FakeClock::new());
    let page = driver.list(Default::default()).unwrap();
    assert_eq!(page.total, 0);
    assert_eq!(
        server.0.lock().unwrap().requests.len(),
        3,
        "two 5xx then the answer"
    );

    server.0.lock().unwrap().faults = vec![500];
    let file = MediaFile::inspect("a.png", PNG, PNG.len() as u64, None).unwrap();
    let err = driver
        .upload(&file, ModelType::Ac1, &mut { PNG }, None)
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(err.class(), ErrorClass::Server);
    assert_eq!(
        server.0.lock().unwrap().requests.len(),
        4,
        "the POST went once"
    );
}

#[test]
fn a_bad_file_never_reaches_the_server() {
    let server = Server::default();
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), FakeClock::new());
    let file = MediaFile::inspect("a.png", PNG, PNG.len() as u64, None).unwrap();
    let err = driver
        .upload(&file, ModelType::Df1, &mut { PNG }, None)
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(err.to_string().contains("DF-1 takes Video"), "{err}");
    let mut short: &[u8] = &PNG[..4];
    let err = driver
        .upload(&file, ModelType::Ac1, &mut short, None)
        .unwrap_err();
    assert!(err.to_string().contains("the body is 4 bytes"), "{err}");
    assert!(server.0.lock().unwrap().requests.is_empty());
}

#[test]
fn uploads_retry_only_when_the_body_can_be_reopened() {
    let server = Server::default();
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), FakeClock::new());
    let file = MediaFile::inspect("a.png", PNG, PNG.len() as u64, None).unwrap();
    server.0.lock().unwrap().upload_faults = vec![503];
    let done = driver
        .upload(&file, ModelType::Ac1, &mut { PNG }, None)
        .unwrap();
    assert_eq!(done.receipt.etag.as_deref(), Some("\"e1\""));

    server.0.lock().unwrap().upload_faults = vec![503];
    let mut once = OneShot::new(PNG, PNG.len() as u64);
    let err = driver
        .upload(&file, ModelType::Ac1, &mut once, None)
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert!(
        err.mid().is_some(),
        "the error names the record left INITED"
    );
}

#[test]
fn wait_times_out_with_its_error() {
    let server = Server::default();
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), FakeClock::new());
    let created = driver
        .create(
            MediaFile::inspect("a.png", PNG, 3, None)
                .unwrap()
                .create_request(ModelType::Ac1)
                .unwrap(),
        )
        .unwrap();
    let policy = PollPolicy::fixed(Duration::from_secs(2), Duration::from_secs(5));
    let err = driver.wait_with(&created.media.mid, policy).unwrap_err();
    let Failure::Proto(authenta_proto::Error::Timeout(t)) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(t.last_status, Some(MediaStatus::Inited));
    assert_eq!(t.polls, 4);
    assert_eq!(t.waited, Duration::from_secs(5));
    assert_eq!(err.class(), ErrorClass::Timeout);
}

#[test]
fn blocking_list_all_and_delete() {
    let server = Server::default();
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), FakeClock::new());
    for _ in 0..7 {
        driver
            .create(
                MediaFile::inspect("a.png", PNG, 3, None)
                    .unwrap()
                    .create_request(ModelType::Ac1)
                    .unwrap(),
            )
            .unwrap();
    }
    let all: Vec<MediaId> = driver
        .list_all(3)
        .unwrap()
        .map(|m| m.unwrap().mid)
        .collect();
    assert_eq!(all.len(), 7);
    driver.delete(&all[0]).unwrap();
    assert_eq!(driver.list_all(100).unwrap().count(), 6);
}

#[test]
fn async_driver_runs_the_same_flows() {
    let server = Server::default();
    server.0.lock().unwrap().upload_faults = vec![503];
    let driver = nonblocking::Driver::new(config(), server.clone(), FakeClock::new());
    let file = MediaFile::inspect("a.png", PNG, PNG.len() as u64, None).unwrap();
    let mut body = bytes::Bytes::from_static(PNG);
    let media = block_on(driver.process(&file, ModelType::Ac1, &mut body, None)).unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    let all: Vec<_> = block_on(async {
        use futures_util::StreamExt as _;
        driver.list_all(1).unwrap().collect::<Vec<_>>().await
    });
    assert_eq!(all.len(), 1);
    assert!(all[0].is_ok());
}

#[test]
fn downloads_stream_into_a_sink_that_restarts_on_retry() {
    const URL: &str = "http://127.0.0.1:1/artifact/heat.png?X-Amz-Signature=x";
    let server = Server::default();
    server.0.lock().unwrap().artifact_faults = vec![503];
    let s = server.clone();
    let driver = blocking::Driver::new(config(), move |r| s.handle(r), FakeClock::new());
    let mut sink = b"stale bytes".to_vec();
    assert_eq!(driver.download_to(URL, None, &mut sink).unwrap(), 7);
    assert_eq!(
        sink, b"heatmap",
        "restarted, and the 503's body never went in"
    );

    let mut media: authenta_proto::types::Media = serde_json::from_str(
        r#"{"mid":"m1","name":"n","type":"Image","status":"PROCESSED","modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z"}"#,
    )
    .unwrap();
    assert_eq!(driver.download_heatmap(&media, &mut sink).unwrap(), None);
    media.heatmap_url = Some(URL.into());
    let driver = nonblocking::Driver::new(config(), server.clone(), FakeClock::new());
    let mut sink = Vec::new();
    server.0.lock().unwrap().artifact_faults = vec![404];
    let err = block_on(driver.download_heatmap(&media, &mut sink)).unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(err.mid().unwrap().as_str(), "m1");
    assert_eq!(
        block_on(driver.download_heatmap(&media, &mut sink)).unwrap(),
        Some(7)
    );
    assert_eq!(sink, b"heatmap");
}
