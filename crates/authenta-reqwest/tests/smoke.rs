//! Smoke tests of the reqwest backend against the in-process emulator: the
//! whole job for one file and for many, what went on the wire, a retried
//! GET, redirects, and secrets kept out of `Debug`. The full conformance
//! suite (every operation and error, both backends) is in the workspace's
//! `tests` crate.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use authenta_emulator::{
    ApiKey, Emulator, Fault, FaultAction, FaultBody, KeySpec, RunningEmulator,
};
use authenta_reqwest::{
    Client, Credentials, ErrorClass, MediaStatus, ModelType, PollPolicy, RetryPolicy,
    UploadOptions, UploadTarget,
};
use futures_util::StreamExt as _;

/// A PNG's first bytes: enough for the content type to be detected.
const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

/// An emulator, a key for it, and a client with short policies.
struct Env {
    emu: RunningEmulator,
    key: ApiKey,
    client: Client,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let emu = Emulator::builder()
            .processing_time(Duration::from_millis(20))
            .start()
            .await
            .expect("start the emulator");
        let key = emu.create_key(KeySpec::new("smoke")).expect("a key");
        let client = client_for(&emu, &key.client_id, &key.client_secret);
        Env {
            emu,
            key,
            client,
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A PNG of `size` bytes in the temporary directory, complete as far as
    /// validation looks.
    fn png(&self, name: &str, size: usize) -> PathBuf {
        // Head, filler, and the IEND chunk validation looks for at the end.
        const IEND: &[u8] = b"\0\0\0\0IEND\xaeB`\x82";
        let mut bytes = PNG_HEAD.to_vec();
        bytes.resize(size.max(PNG_HEAD.len() + IEND.len()) - IEND.len(), 0x5a);
        bytes.extend_from_slice(IEND);
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write a PNG");
        path
    }
}

fn client_for(emu: &RunningEmulator, id: &str, secret: &str) -> Client {
    Client::builder()
        .credentials(Credentials::new(id, secret))
        .base_url(emu.base_url())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .poll_policy(PollPolicy::fixed(
            Duration::from_millis(20),
            Duration::from_secs(10),
        ))
        .build()
        .expect("a client")
}

#[tokio::test]
async fn a_small_png_is_processed_and_its_artifacts_read() {
    let env = Env::new().await;
    let path = env.png("pixel.png", 300);
    let sent = Arc::new(AtomicU64::new(0));
    let seen = sent.clone();
    let options =
        UploadOptions::new(ModelType::Ac1).on_progress(move |n, _| seen.store(n, Ordering::SeqCst));
    let media = env.client.process(&path, &options).await.unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert_eq!(media.name, "pixel.png");
    assert!(media.fake.is_some());
    assert_eq!(
        sent.load(Ordering::SeqCst),
        300,
        "progress reached the total"
    );

    let document = env.client.result(&media).await.unwrap();
    assert!(document.is_some(), "an image record has a result document");
    let heatmap = env.dir.path().join("heat.png");
    let written = env.client.download_heatmap(&media, &heatmap).await.unwrap();
    assert_eq!(written, Some(std::fs::metadata(&heatmap).unwrap().len()));
    assert!(std::fs::read(&heatmap).unwrap().starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn an_upload_has_its_length_and_no_chunking_or_credentials() {
    let env = Env::new().await;
    // Several of the source's chunks, and not a multiple of them.
    let size = 3 * 128 * 1024 + 1234;
    let path = env.png("big.png", size);
    let uploaded = env
        .client
        .upload(&path, &UploadOptions::new(ModelType::Ac1))
        .await
        .unwrap();
    assert!(uploaded.receipt.etag.is_some());
    let puts = env.emu.upload_requests();
    assert_eq!(puts.len(), 1, "{puts:?}");
    let put = &puts[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.client_mistakes(size as u64, "image/png"),
        Vec::<String>::new()
    );
    let record = env.emu.record(uploaded.mid().as_str()).unwrap();
    assert_eq!(record.upload.unwrap().size, size as u64);
}

#[tokio::test]
async fn a_stream_and_a_saved_target_upload_too() {
    let env = Env::new().await;
    // A stream of known length, in two chunks: one shot, never retried.
    let body = PNG_HEAD.repeat(4);
    let chunks = vec![
        Ok(authenta_reqwest::client::bytes::Bytes::copy_from_slice(
            &body[..10],
        )),
        Ok(authenta_reqwest::client::bytes::Bytes::copy_from_slice(
            &body[10..],
        )),
    ];
    let options = UploadOptions::new(ModelType::Ac1).name("streamed.png");
    let uploaded = env
        .client
        .upload_stream(
            Box::pin(futures_util::stream::iter(chunks)),
            body.len() as u64,
            &options,
        )
        .await
        .unwrap();
    assert_eq!(uploaded.created.media.name, "streamed.png");

    // A target saved after create, resumed from its JSON.
    let path = env.png("later.png", 500);
    let request = authenta_reqwest::client::media_file(&path, None)
        .unwrap()
        .create_request(ModelType::Ac1)
        .unwrap();
    let created = env.client.create(request.clone()).await.unwrap();
    let target =
        UploadTarget::from_created(&created, &request, std::time::SystemTime::now()).unwrap();
    let saved = serde_json::to_string(&target).unwrap();
    let target: UploadTarget = serde_json::from_str(&saved).unwrap();
    env.client.upload_to(&target, &path, None).await.unwrap();
    let media = env.client.wait(&created.media.mid).await.unwrap();
    assert_eq!(media.status, MediaStatus::Processed);

    let err = env
        .client
        .upload_to(&target, env.dir.path().join("missing.png"), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(err.to_string().contains("missing.png"), "{err}");
}

#[tokio::test]
async fn a_get_is_retried_through_an_injected_503() {
    let env = Env::new().await;
    let created = env
        .client
        .upload(&env.png("a.png", 100), &UploadOptions::new(ModelType::Ac1))
        .await
        .unwrap();
    let mid = created.mid().clone();
    env.emu.clear_api_requests();
    env.emu
        .inject_fault(
            Fault::new(
                format!("/api/media/{mid}"),
                FaultAction::Status {
                    status: 503,
                    body: FaultBody::Empty,
                    retry_after: None,
                },
            )
            .method("GET")
            .times(2),
        )
        .unwrap();
    let media = env.client.get(&mid).await.unwrap();
    assert_eq!(media.mid, mid);
    let gets: Vec<_> = env
        .emu
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| (r.status, r.faulted))
        .collect();
    assert_eq!(gets, [(503, true), (503, true), (200, false)]);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_a_get_is_retried() {
    let env = Env::new().await;
    let client = Client::builder()
        .credentials(Credentials::new(
            &env.key.client_id,
            env.key.client_secret.as_str(),
        ))
        .base_url(env.emu.base_url())
        .request_timeout(Duration::from_millis(100))
        .retry_policy(RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let slow = |times| {
        Fault::new("/api/media", FaultAction::Delay { millis: 1000 })
            .method("GET")
            .times(times)
    };
    env.emu.inject_fault(slow(1)).unwrap();
    client.list(Default::default()).await.unwrap();
    env.emu.inject_fault(slow(2)).unwrap();
    let err = client.list(Default::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            authenta_reqwest::Error::Transport {
                kind: authenta_reqwest::proto::wire::TransportErrorKind::Timeout,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn an_upload_cut_off_is_sent_again_from_the_file() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/authenta-storage/", FaultAction::Reset).method("PUT"))
        .unwrap();
    let size = 200 * 1024;
    let uploaded = env
        .client
        .upload(
            env.png("cut.png", size),
            &UploadOptions::new(ModelType::Ac1),
        )
        .await
        .unwrap();
    let record = env.emu.record(uploaded.mid().as_str()).unwrap();
    assert_eq!(record.upload.unwrap().size, size as u64);
    assert!(env.emu.faults().is_empty(), "the reset struck");
}

#[tokio::test]
async fn process_many_yields_every_file_once() {
    let env = Env::new().await;
    let mut paths: Vec<PathBuf> = (0..5)
        .map(|i| env.png(&format!("f{i}.png"), 200 + i))
        .collect();
    let text = env.dir.path().join("notes.txt");
    std::fs::write(&text, "not media").unwrap();
    paths.push(text.clone());
    let options = UploadOptions::new(ModelType::Ac1);
    let results: Vec<_> = env
        .client
        .process_many(paths.clone(), &options, 3)
        .collect()
        .await;
    assert_eq!(results.len(), paths.len());
    let mut mids = HashSet::new();
    for (path, result) in results {
        if path == text {
            let err = result.unwrap_err();
            assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
        } else {
            let media = result.unwrap();
            assert_eq!(media.status, MediaStatus::Processed);
            assert_eq!(Path::new(&media.name), path.file_name().unwrap());
            mids.insert(media.mid);
        }
    }
    assert_eq!(mids.len(), 5);
    assert_eq!(env.emu.records().len(), 5, "the text file made no record");
}

#[tokio::test]
async fn no_debug_shows_the_secret() {
    let env = Env::new().await;
    let secret = env.key.client_secret.clone();
    let debug = format!("{:?} {:?}", env.client, env.client.config());
    assert!(!debug.contains(&secret), "{debug}");
    assert!(debug.contains(&env.key.client_id), "{debug}");
    let builder = Client::builder().credentials(Credentials::new("id", secret.as_str()));
    assert!(!format!("{builder:?}").contains(&secret));

    // An error answer (a revoked key) and a transport error (a closed port).
    env.emu.revoke_key(&env.key.client_id).unwrap();
    let err = env.client.list(Default::default()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Authentication);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let offline = Client::builder()
        .credentials(Credentials::new("id", secret.as_str()))
        .base_url(format!("http://{closed}/api"))
        .retry_policy(RetryPolicy::never())
        .build()
        .unwrap();
    let network = offline.list(Default::default()).await.unwrap_err();
    assert_eq!(network.class(), ErrorClass::Network);
    for err in [err, network] {
        let text = format!("{err:?} {err}");
        assert!(!text.contains(&secret), "{text}");
    }
}

/// The credentials never follow a redirect: the API answers 302 to another
/// host, and that host sees nothing.
#[tokio::test]
async fn credentials_never_follow_a_redirect() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = elsewhere.local_addr().unwrap();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = api.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = api.accept().await {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: http://{target}/steal\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    let client = Client::builder()
        .credentials(Credentials::new("id", "redirect-secret"))
        .base_url(format!("http://{api_addr}/api"))
        .build()
        .unwrap();
    let err = client.list(Default::default()).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(302), "{err}");
    let stolen = tokio::time::timeout(Duration::from_millis(200), elsewhere.accept()).await;
    assert!(stolen.is_err(), "the redirect target got a connection");
}

/// `build` leaves a secret command to the first call, which runs it once
/// (on tokio's blocking pool) however many calls start together; a command
/// that fails is that call's error, with the message `build` would have
/// given: it names the command, never the secret.
#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn build_leaves_the_secret_command_to_the_first_call() {
    use authenta_reqwest::{ListQuery, SecretProvider, SecretSource};

    let env = Env::new().await;
    let (runs, store) = (env.dir.path().join("runs"), env.dir.path().join("store"));
    std::fs::write(&store, &env.key.client_secret).unwrap();
    // Slow, and counting its runs.
    let command = format!(
        "echo run >> '{}'; sleep 0.3; cat '{}'",
        runs.display(),
        store.display()
    );
    let build = |source: SecretSource| {
        Client::builder()
            .credentials_provider(SecretProvider::new(&env.key.client_id, source))
            .base_url(env.emu.base_url())
            .build()
            .expect("a client")
    };
    let client = build(SecretSource::Command(command));
    assert!(!runs.exists(), "build ran the secret command");
    assert_eq!(client.config().credentials(), None);
    assert!(format!("{client:?}").contains("not read yet"));
    let runs_now = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };

    let (first, second) = tokio::join!(
        client.list(ListQuery::default()),
        client.get("692f406f9f68d4b70080bb80")
    );
    first.expect("the first call reads the secret and lists");
    assert_eq!(second.unwrap_err().status().map(|s| s.as_u16()), Some(404));
    assert_eq!(runs_now(), 1, "two calls started together read it once");
    client.list(ListQuery::default()).await.unwrap();
    assert_eq!(runs_now(), 1, "read once, asked again only after a refusal");
    assert_eq!(
        client.read_credentials().await.unwrap().client_id(),
        Some(env.key.client_id.as_str())
    );

    // Failing: the secret reaches stdout, and the command fails.
    let failing = format!("cat '{}'; exit 3", store.display());
    let expected = SecretSource::Command(failing.clone()).read().unwrap_err();
    let client = build(SecretSource::Command(failing.clone()));
    let err = client.list(ListQuery::default()).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(message, expected.to_string());
    assert!(
        message.contains(&format!("the command `{failing}`")),
        "{message}"
    );
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(!message.contains(&env.key.client_secret), "{message}");
    assert!(!format!("{err:?}").contains(&env.key.client_secret));
    assert_eq!(err.class(), ErrorClass::Config);
    let again = client.read_credentials().await.unwrap_err();
    assert_eq!(again.to_string(), message, "a failed read is tried again");
}
