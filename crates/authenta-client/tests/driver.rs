//! The flows through both driver loops (blocking and async), end to end
//! over a fake in-memory server and a fake clock: create → upload → wait,
//! retries, listing, downloads, and what went on the wire. Every scenario
//! runs in both modes.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime};

use authenta_client::driver::{blocking, nonblocking};
use authenta_client::http::{Method, Request, Response};
use authenta_client::proto::engine::Flow;
use authenta_client::proto::engine::flows::{Download, SourceInfo};
use authenta_client::proto::{Config, Credentials, Error, ErrorClass, MediaFile, PollPolicy};
use authenta_client::types::{MediaId, MediaStatus, ModelType};
use authenta_client::{
    Async, AsyncDownloadSink, AsyncHttpClient, AsyncRuntime, AsyncUploadSource, Client,
    DownloadSink, OneShot, OneShotStream, Runtime, UploadSource,
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
    fn file_source(&self, _: std::path::PathBuf, _: u64) -> Box<dyn AsyncUploadSource> {
        unimplemented!("these tests upload from memory")
    }
    fn file_sink(&self, _: std::path::PathBuf) -> Box<dyn AsyncDownloadSink> {
        unimplemented!("these tests download into memory")
    }
    async fn unblock<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send>) -> T {
        work()
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

#[derive(Clone, Copy, Debug)]
enum Mode {
    Blocking,
    Async,
}

const MODES: [Mode; 2] = [Mode::Blocking, Mode::Async];

/// What a flow reads from and writes to.
struct Io<'a> {
    source: Option<(&'static [u8], bool)>,
    sink: Option<&'a mut Vec<u8>>,
    progress: Option<authenta_proto::ProgressFn>,
}

impl Io<'_> {
    fn none() -> Self {
        Io {
            source: None,
            sink: None,
            progress: None,
        }
    }
    fn source(bytes: &'static [u8], reopenable: bool) -> Self {
        Io {
            source: Some((bytes, reopenable)),
            ..Io::none()
        }
    }
}

/// Runs `flow` with the driver loop of `mode`.
fn run<F: Flow>(
    mode: Mode,
    server: &Server,
    clock: &FakeClock,
    flow: &mut F,
    io: Io<'_>,
) -> Result<F::Output, Error> {
    match mode {
        Mode::Blocking => {
            let mut slice = io.source.map(|(b, _)| b);
            let mut once = io.source.map(|(b, _)| OneShot::new(b, b.len() as u64));
            let source: Option<&mut dyn UploadSource> = match io.source {
                Some((_, true)) => slice.as_mut().map(|s| s as &mut dyn UploadSource),
                Some((_, false)) => once.as_mut().map(|s| s as &mut dyn UploadSource),
                None => None,
            };
            let mut io = blocking::Io {
                source,
                sink: io.sink.map(|s| s as &mut dyn DownloadSink),
                progress: io.progress,
            };
            let s = server.clone();
            let client = move |r| s.handle(r);
            blocking::run(&client, clock, flow, &mut io)
        }
        Mode::Async => {
            let mut bytes = io.source.map(|(b, _)| bytes::Bytes::from_static(b));
            let mut once = io.source.map(|(b, _)| {
                let chunk: std::io::Result<bytes::Bytes> = Ok(bytes::Bytes::from_static(b));
                OneShotStream::new(
                    Box::pin(futures_util::stream::iter([chunk])),
                    b.len() as u64,
                )
            });
            let source: Option<&mut dyn AsyncUploadSource> = match io.source {
                Some((_, true)) => bytes.as_mut().map(|s| s as &mut dyn AsyncUploadSource),
                Some((_, false)) => once.as_mut().map(|s| s as &mut dyn AsyncUploadSource),
                None => None,
            };
            let mut io = nonblocking::Io {
                source,
                sink: io.sink.map(|s| s as &mut dyn AsyncDownloadSink),
                progress: io.progress,
            };
            block_on(nonblocking::run(server, clock, flow, &mut io))
        }
    }
}

fn client(server: &Server, clock: &FakeClock) -> Client<Async<Server, FakeClock>> {
    Client::new(
        config(),
        Async {
            transport: server.clone(),
            runtime: clock.clone(),
        },
    )
}

fn png() -> MediaFile {
    MediaFile::inspect("a.png", PNG, PNG.len() as u64, None).unwrap()
}

fn memory(reopenable: bool) -> SourceInfo {
    SourceInfo {
        len: PNG.len() as u64,
        reopenable,
        name: "memory".into(),
    }
}

#[test]
fn create_upload_wait_in_both_modes() {
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        let progress = Arc::new(Mutex::new(0u64));
        let seen = progress.clone();
        let mut io = Io::source(PNG, true);
        io.progress = Some(Arc::new(move |sent, _| *seen.lock().unwrap() = sent));
        let upload = c.upload_flow(png(), ModelType::Ac1, memory(true));
        let mut flow = authenta_proto::engine::flows::Process::new(upload, PollPolicy::default());
        let media = run(mode, &server, &clock, &mut flow, io).unwrap();
        assert_eq!(media.status, MediaStatus::Processed, "{mode:?}");
        assert_eq!(media.fake, Some(false));
        assert_eq!(*progress.lock().unwrap(), PNG.len() as u64);
        let state = server.0.lock().unwrap();
        let methods: Vec<&str> = state.requests.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(methods, ["POST", "PUT", "GET", "GET", "GET"], "{mode:?}");
        let put = &state.requests[1];
        assert!(
            put.1.ends_with("?X-Amz-Signature=a%2Bb"),
            "the URL byte for byte: {}",
            put.1
        );
        assert!(put.2.iter().all(|(k, _)| !k.starts_with("x-client")));
        assert!(!put.2.iter().any(|(k, _)| k == "transfer-encoding"));
        assert!(
            put.2
                .iter()
                .any(|(k, v)| k == "user-agent" && v.starts_with("authenta-rs")),
            "the upload carries the API calls' user agent: {:?}",
            put.2
        );
        // No poll right after the upload: the wait slept its first delay,
        // then its schedule on from there: 1 s, 1.5 s, 2.25 s.
        assert_eq!(clock.slept(), Duration::from_millis(4750));
    }
}

/// A save that another thread ends, running `work` (a checkpoint saved
/// later, as a ledger that groups its writes does).
struct OnThread(Arc<Mutex<Ending>>);

/// How the save ended, if it did, and who waits for it.
type Ending = (Option<io::Result<()>>, Option<Waker>);

fn on_thread(work: impl FnOnce() -> io::Result<()> + Send + 'static) -> OnThread {
    let shared: Arc<Mutex<Ending>> = Arc::default();
    let ends = shared.clone();
    std::thread::spawn(move || {
        let result = work();
        let mut ends = ends.lock().unwrap();
        ends.0 = Some(result);
        if let Some(waker) = ends.1.take() {
            waker.wake();
        }
    });
    OnThread(shared)
}

impl Future for OnThread {
    type Output = io::Result<()>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = self.0.lock().unwrap();
        match shared.0.take() {
            Some(result) => Poll::Ready(result),
            None => {
                shared.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn a_checkpoint_saved_later_holds_the_upload_until_it_is_saved_in_both_modes() {
    use authenta_client::proto::options::{Checkpoint, CheckpointFn, Saved};
    let methods = |server: &Server| -> Vec<String> {
        let state = server.0.lock().unwrap();
        state.requests.iter().map(|r| r.0.to_string()).collect()
    };
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        // What the server had seen when the `Created` state was saved.
        let at_save: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
        let (seen, watched) = (at_save.clone(), server.clone());
        let checkpoint: CheckpointFn = Arc::new(move |point| {
            Ok(match point {
                Checkpoint::Created { .. } => {
                    let (seen, watched) = (seen.clone(), watched.clone());
                    Saved::later(on_thread(move || {
                        *seen.lock().unwrap() = Some(methods(&watched));
                        Ok(())
                    }))
                }
                _ => Saved::Now,
            })
        });
        let mut upload = c
            .upload_flow(png(), ModelType::Ac1, memory(true))
            .checkpointed(Some(checkpoint));
        run(mode, &server, &clock, &mut upload, Io::source(PNG, true)).unwrap();
        assert_eq!(
            *at_save.lock().unwrap(),
            Some(vec!["POST".to_owned()]),
            "{mode:?}"
        );
        assert_eq!(methods(&server), ["POST", "PUT"], "{mode:?}");

        // A save that fails later: no byte goes out, the error names it.
        let server = Server::default();
        let c = client(&server, &clock);
        let checkpoint: CheckpointFn = Arc::new(|point| {
            Ok(match point {
                Checkpoint::Created { .. } => {
                    Saved::later(on_thread(|| Err(io::Error::other("the disk is full"))))
                }
                _ => Saved::Now,
            })
        });
        let mut upload = c
            .upload_flow(png(), ModelType::Ac1, memory(true))
            .checkpointed(Some(checkpoint));
        let err = run(mode, &server, &clock, &mut upload, Io::source(PNG, true)).unwrap_err();
        assert!(
            err.to_string().contains("the disk is full"),
            "{mode:?}: {err}"
        );
        assert_eq!(methods(&server), ["POST"], "{mode:?}");
    }
}

#[test]
fn a_get_is_retried_but_a_create_is_not() {
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        server.0.lock().unwrap().faults = vec![503, 502];
        let mut list = c.call(authenta_proto::ops::ListMedia::new(Default::default()).unwrap());
        let page = run(mode, &server, &clock, &mut list, Io::none()).unwrap();
        assert_eq!(page.total, 0);
        assert_eq!(
            server.0.lock().unwrap().requests.len(),
            3,
            "two 5xx then the answer"
        );

        server.0.lock().unwrap().faults = vec![500];
        let mut upload = c.upload_flow(png(), ModelType::Ac1, memory(true));
        let err = run(mode, &server, &clock, &mut upload, Io::source(PNG, true)).unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
        assert_eq!(err.class(), ErrorClass::Server);
        assert_eq!(
            server.0.lock().unwrap().requests.len(),
            4,
            "the POST went once"
        );
    }
}

#[test]
fn a_bad_file_never_reaches_the_server() {
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        let mut flow = c.upload_flow(png(), ModelType::Df1, memory(true));
        let err = run(mode, &server, &clock, &mut flow, Io::source(PNG, true)).unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput);
        assert!(err.to_string().contains("DF-1 takes Video"), "{err}");
        let short = SourceInfo {
            len: 4,
            ..memory(true)
        };
        let mut flow = c.upload_flow(png(), ModelType::Ac1, short);
        let err = run(
            mode,
            &server,
            &clock,
            &mut flow,
            Io::source(&PNG[..4], true),
        )
        .unwrap_err();
        assert!(err.to_string().contains("the body is 4 bytes"), "{err}");
        assert!(server.0.lock().unwrap().requests.is_empty());
    }
}

#[test]
fn uploads_retry_only_when_the_body_can_be_reopened() {
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        server.0.lock().unwrap().upload_faults = vec![503];
        let mut flow = c.upload_flow(png(), ModelType::Ac1, memory(true));
        let done = run(mode, &server, &clock, &mut flow, Io::source(PNG, true)).unwrap();
        assert_eq!(done.receipt.etag.as_deref(), Some("\"e1\""));

        server.0.lock().unwrap().upload_faults = vec![503];
        let mut flow = c.upload_flow(png(), ModelType::Ac1, memory(false));
        let err = run(mode, &server, &clock, &mut flow, Io::source(PNG, false)).unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
        assert!(
            err.mid().is_some(),
            "the error names the record left INITED"
        );
    }
}

#[test]
fn wait_times_out_with_its_error() {
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        let request = png().create_request(ModelType::Ac1).unwrap();
        let mut create = c.call(authenta_proto::ops::CreateMedia::new(request).unwrap());
        let created = run(mode, &server, &clock, &mut create, Io::none()).unwrap();
        let policy = PollPolicy::fixed(Duration::from_secs(2), Duration::from_secs(5));
        let mut wait = c.wait_flow(&created.media.mid, policy);
        let err = run(mode, &server, &clock, &mut wait, Io::none()).unwrap_err();
        let Error::Proto(authenta_proto::ProtocolError::Timeout(t)) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(t.last_status, Some(MediaStatus::Inited));
        assert_eq!(t.polls, 4);
        assert_eq!(t.waited, Duration::from_secs(5));
        assert_eq!(err.class(), ErrorClass::Timeout);
    }
}

#[test]
fn list_all_pages_and_delete() {
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        let c = client(&server, &clock);
        for _ in 0..7 {
            let request = png().create_request(ModelType::Ac1).unwrap();
            let mut create = c.call(authenta_proto::ops::CreateMedia::new(request).unwrap());
            run(mode, &server, &clock, &mut create, Io::none()).unwrap();
        }
        let mut pages =
            authenta_proto::engine::flows::ListPages::new(3, config(), Default::default()).unwrap();
        let mut all: Vec<MediaId> = Vec::new();
        while let Some(page) = run(mode, &server, &clock, &mut pages, Io::none()).unwrap() {
            assert!(page.len() <= 3);
            all.extend(page.into_iter().map(|m| m.mid));
        }
        assert_eq!(all.len(), 7, "{mode:?}");
        let mut delete = c.call(authenta_proto::ops::DeleteMedia::new(all[0].clone()));
        run(mode, &server, &clock, &mut delete, Io::none()).unwrap();
        assert_eq!(server.0.lock().unwrap().records.len(), 6);
    }
}

#[test]
fn the_async_client_lists_and_processes() {
    use futures_util::StreamExt as _;
    let server = Server::default();
    let clock = FakeClock::new();
    let c = client(&server, &clock);
    let stream: authenta_client::ByteStream = Box::pin(futures_util::stream::iter([Ok(
        bytes::Bytes::from_static(PNG),
    )]));
    let options = authenta_proto::UploadOptions::new(ModelType::Ac1).name("a.png");
    let uploaded = block_on(c.upload_stream(stream, PNG.len() as u64, &options)).unwrap();
    let media = block_on(c.wait(uploaded.mid())).unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    let all: Vec<_> = block_on(c.list_all().collect::<Vec<_>>());
    assert_eq!(all.len(), 1);
    assert!(all[0].is_ok());
}

#[test]
fn downloads_stream_into_a_sink_that_restarts_on_retry() {
    const URL: &str = "http://127.0.0.1:1/artifact/heat.png?X-Amz-Signature=x";
    for mode in MODES {
        let server = Server::default();
        let clock = FakeClock::new();
        server.0.lock().unwrap().artifact_faults = vec![503];
        let mut sink = b"stale bytes".to_vec();
        let mut flow = Download::new(Some(URL.into()), None, Default::default());
        let io = Io {
            sink: Some(&mut sink),
            ..Io::none()
        };
        assert_eq!(run(mode, &server, &clock, &mut flow, io).unwrap(), Some(7));
        assert_eq!(
            sink, b"heatmap",
            "restarted, and the 503's body never went in"
        );

        let mut media: authenta_client::types::Media = serde_json::from_str(
            r#"{"mid":"m1","name":"n","type":"Image","status":"PROCESSED","modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z"}"#,
        )
        .unwrap();
        let mut flow = Download::heatmap(&media, Default::default());
        assert_eq!(
            run(mode, &server, &clock, &mut flow, Io::none()).unwrap(),
            None
        );
        media.heatmap_url = Some(URL.into());
        server.0.lock().unwrap().artifact_faults = vec![404];
        let mut sink = Vec::new();
        let mut flow = Download::heatmap(&media, Default::default());
        let io = Io {
            sink: Some(&mut sink),
            ..Io::none()
        };
        let err = run(mode, &server, &clock, &mut flow, io).unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
        assert_eq!(err.mid().unwrap().as_str(), "m1");
    }
}
