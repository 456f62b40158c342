//! Injected faults: statuses and bodies, Retry-After, delays, resets,
//! truncated bodies, before and after handling.

use authenta_emulator::{Fault, FaultAction, FaultBody, FaultStage};
use authenta_types::ErrorBody;

use crate::common::Env;

fn status(code: u16, body: FaultBody, retry_after: Option<u64>) -> FaultAction {
    FaultAction::Status {
        status: code,
        body,
        retry_after,
    }
}

fn query_used(env: &Env) -> u64 {
    env.emu
        .keys()
        .into_iter()
        .find(|k| k.client_id == env.key.client_id)
        .unwrap()
        .query_used
}

#[tokio::test]
async fn status_faults_with_each_body_kind() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new(
            "/api/media",
            status(503, FaultBody::Json, Some(7)),
        ))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.header("retry-after"), Some("7"));
    let body: ErrorBody = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body.code.as_str(), "EMU500");
    // Before handling: no quota was spent.
    assert_eq!(query_used(&env), 0);

    env.emu
        .inject_fault(Fault::new("/api/", status(502, FaultBody::Html, None)))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!(a.status, 502);
    assert_eq!(a.header("content-type"), Some("text/html"));
    assert!(a.text().contains("502 Bad Gateway"));
    assert!(a.header("retry-after").is_none());

    env.emu
        .inject_fault(Fault::new("/api/", status(500, FaultBody::Empty, None)))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!(a.status, 500);
    assert!(a.body.is_empty());

    // All strikes used: back to normal, and the log shows the faults.
    assert_eq!(env.get("/media").await.status, 200);
    assert!(env.emu.faults().is_empty());
    let log = env.emu.api_requests();
    assert_eq!(log.iter().filter(|r| r.faulted).count(), 3);
}

#[tokio::test]
async fn faults_match_method_and_count() {
    let env = Env::new().await;
    env.emu
        .inject_fault(
            Fault::new("/api/media", status(500, FaultBody::Json, None))
                .method("POST")
                .times(2),
        )
        .unwrap();
    assert_eq!(env.get("/media").await.status, 200);
    let body =
        serde_json::json!({"name":"a","contentType":"image/png","size":1,"modelType":"AC-1"});
    assert_eq!(env.create_as(&env.key, &body).await.status, 500);
    assert_eq!(env.create_as(&env.key, &body).await.status, 500);
    assert_eq!(env.create_as(&env.key, &body).await.status, 200);
    assert_eq!(env.emu.records().len(), 1);
}

#[tokio::test]
async fn a_500_after_post_media_leaves_the_record_created() {
    let env = Env::new().await;
    let body =
        serde_json::json!({"name":"a","contentType":"image/png","size":1,"modelType":"AC-1"});
    env.emu
        .inject_fault(
            Fault::new("/api/media", status(500, FaultBody::Json, None))
                .method("POST")
                .stage(FaultStage::After),
        )
        .unwrap();
    assert_eq!(env.create_as(&env.key, &body).await.status, 500);
    assert_eq!(
        env.emu.records().len(),
        1,
        "the record exists although the client saw 500"
    );
    env.emu
        .inject_fault(
            Fault::new("/api/media", status(500, FaultBody::Json, None))
                .method("POST")
                .stage(FaultStage::Before),
        )
        .unwrap();
    assert_eq!(env.create_as(&env.key, &body).await.status, 500);
    assert_eq!(
        env.emu.records().len(),
        1,
        "no record when the fault strikes before"
    );
}

#[tokio::test]
async fn a_delay_then_the_normal_answer() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::Delay { millis: 50 }))
        .unwrap();
    assert_eq!(env.get("/media").await.status, 200);
    assert!(env.emu.faults().is_empty());
    assert!(env.emu.api_requests()[0].faulted);
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_an_answer() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::Reset))
        .unwrap();
    let got = env.raw("GET", "/api/media", &env.credentials(), "").await;
    assert!(got.is_empty(), "{got}");
    assert_eq!(query_used(&env), 0);
    // With reqwest, the same fault is a transport error.
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::Reset))
        .unwrap();
    let err = env
        .http
        .get(env.url("/media"))
        .header("x-client-id", &env.key.client_id)
        .header("x-client-secret", &env.key.client_secret)
        .send()
        .await;
    assert!(err.is_err());
    assert_eq!(env.get("/media").await.status, 200);
}

#[tokio::test]
async fn a_reset_after_an_upload_keeps_the_upload() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    env.emu
        .inject_fault(
            Fault::new(
                format!("/{}/", authenta_emulator::BUCKET),
                FaultAction::Reset,
            )
            .method("PUT")
            .stage(FaultStage::After),
        )
        .unwrap();
    let put = env
        .http
        .put(created["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(b"abc".to_vec())
        .send()
        .await;
    assert!(put.is_err());
    let media = env.wait_final(created["mid"].as_str().unwrap()).await;
    assert_eq!(media["status"], "PROCESSED");
}

#[tokio::test]
async fn an_upload_fault_before_handling_stores_nothing() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    env.emu
        .inject_fault(Fault::new(
            format!("/{}/", authenta_emulator::BUCKET),
            status(503, FaultBody::Empty, Some(1)),
        ))
        .unwrap();
    let url = created["uploadUrl"].as_str().unwrap();
    let a = env.put(url, "image/png", b"abc").await;
    assert_eq!(a.status, 503);
    let mid = created["mid"].as_str().unwrap();
    assert_eq!(env.emu.record(mid).unwrap().status, "INITED");
    assert_eq!(env.put(url, "image/png", b"abc").await.status, 200);
    // Both attempts are logged, on arrival: the faulted one too.
    let logged: Vec<_> = env
        .emu
        .upload_requests()
        .into_iter()
        .map(|r| (r.method, r.faulted))
        .collect();
    assert_eq!(
        logged,
        [("PUT".to_owned(), true), ("PUT".to_owned(), false)]
    );
}

#[tokio::test]
async fn a_truncated_body_announces_more_than_it_sends() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::Truncate))
        .unwrap();
    let text = env.raw("GET", "/api/media", &env.credentials(), "").await;
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a content-length")
        .parse()
        .unwrap();
    assert!(body.len() < declared, "{} < {declared}", body.len());
    // reqwest sees an error reading the body.
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::Truncate))
        .unwrap();
    let resp = env
        .http
        .get(env.url("/media"))
        .header("x-client-id", &env.key.client_id)
        .header("x-client-secret", &env.key.client_secret)
        .send()
        .await
        .unwrap();
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn bad_faults_are_refused_and_control_is_never_faulted() {
    let env = Env::new().await;
    assert!(
        env.emu
            .inject_fault(Fault::new("/api", status(200, FaultBody::Json, None)))
            .is_err()
    );
    assert!(
        env.emu
            .inject_fault(Fault::new("api", FaultAction::Reset))
            .is_err()
    );
    assert!(
        env.emu
            .inject_fault(Fault::new("/api", FaultAction::Reset).times(0))
            .is_err()
    );
    env.emu
        .inject_fault(Fault::new("/", FaultAction::Reset))
        .unwrap();
    let a = env
        .send(env.http.get(env.emu.control_url() + "/info"))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(env.emu.faults().len(), 1);
    env.emu.clear_faults();
    assert!(env.emu.faults().is_empty());
}

#[tokio::test]
async fn a_200_that_is_not_json() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::NotJson))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<serde_json::Value>(&a.body).is_err());
    assert_eq!(query_used(&env), 0);
}

#[tokio::test]
async fn slow_down_on_the_upload_endpoint() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    env.emu
        .inject_fault(Fault::new(
            format!("/{}/", authenta_emulator::BUCKET),
            FaultAction::SlowDown,
        ))
        .unwrap();
    let url = created["uploadUrl"].as_str().unwrap();
    let a = env.put(url, "image/png", b"abc").await;
    assert_eq!(
        (a.status, crate::common::s3_code(&a).as_str()),
        (503, "SlowDown")
    );
    assert_eq!(a.header("retry-after"), Some("1"));
    assert_eq!(env.put(url, "image/png", b"abc").await.status, 200);
}

#[tokio::test]
async fn a_redirect_to_another_host() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new(
            "/api/media",
            FaultAction::Redirect {
                status: 307,
                location: None,
            },
        ))
        .unwrap();
    let got = env
        .raw("GET", "/api/media?limit=2", &env.credentials(), "")
        .await;
    assert!(got.starts_with("HTTP/1.1 307"), "{got}");
    assert!(
        got.to_lowercase()
            .contains("location: http://redirected.invalid/api/media?limit=2"),
        "{got}"
    );
}

#[tokio::test]
async fn a_reset_in_the_middle_of_the_body() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::ResetMidBody))
        .unwrap();
    let got = env.raw("GET", "/api/media", &env.credentials(), "").await;
    let (head, body) = got.split_once("\r\n\r\n").expect("a head came");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| {
            l.to_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .unwrap()
        .parse()
        .unwrap();
    assert!(body.len() < declared, "{body}");
    // The request was handled: quota spent.
    assert_eq!(query_used(&env), 1);
}

#[tokio::test]
async fn a_stall_in_the_middle_of_an_upload_then_success() {
    let env = Env::new().await;
    let bytes = vec![7u8; 256 * 1024];
    let created = env.create_for("image/png", "AC-1", &bytes).await;
    env.emu
        .inject_fault(Fault::new(
            format!("/{}/", authenta_emulator::BUCKET),
            FaultAction::StallBody { millis: 40 },
        ))
        .unwrap();
    let started = std::time::Instant::now();
    let a = env
        .put(created["uploadUrl"].as_str().unwrap(), "image/png", &bytes)
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(started.elapsed() >= std::time::Duration::from_millis(40));
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_by_the_fault() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new("/api/media", FaultAction::CloseIdle))
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(env.emu.addr())
        .await
        .unwrap();
    let head = format!(
        "GET /api/media HTTP/1.1\r\nhost: e\r\nx-client-id: {}\r\nx-client-secret: {}\r\n\r\n",
        env.key.client_id, env.key.client_secret
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The answer comes, then the close (well before the 5 s idle timeout),
    // with no `Connection: close`.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&got).to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(!text.contains("connection: close"), "{text}");
}

#[tokio::test]
async fn an_exact_answer_with_any_status_and_body() {
    let env = Env::new().await;
    let body = r#"{"code":"X777","type":"ODD","message":"odd"}"#;
    env.emu
        .inject_fault(Fault::new(
            "/api/media",
            FaultAction::Respond {
                status: 463,
                content_type: Some("application/json".into()),
                body: body.into(),
                retry_after: Some(3),
            },
        ))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!(a.status, 463);
    assert_eq!(a.text(), body);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.header("retry-after"), Some("3"));
    assert_eq!(query_used(&env), 0, "before handling");

    // A 200 too, and no Content-Type when none is given.
    env.emu
        .inject_fault(Fault::new(
            "/api/media",
            FaultAction::Respond {
                status: 200,
                content_type: None,
                body: r#"{"mid":"0123456789abcdef01234567"}"#.into(),
                retry_after: None,
            },
        ))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!((a.status, a.header("content-type")), (200, None));
    for bad in [199, 600] {
        let fault = Fault::new(
            "/api/",
            FaultAction::Respond {
                status: bad,
                content_type: None,
                body: String::new(),
                retry_after: None,
            },
        );
        assert!(env.emu.inject_fault(fault).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn s3_errors_on_the_upload_endpoint() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap();
    for (status, code, message) in [
        (
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated",
        ),
        (400, "EntityTooLarge", "EntityTooLarge"),
        (403, "AccessDenied", "Request has expired"),
    ] {
        let custom = (code == "AccessDenied").then(|| message.to_owned());
        env.emu
            .inject_fault(Fault::new(
                format!("/{}/", authenta_emulator::BUCKET),
                FaultAction::S3Error {
                    status,
                    code: code.into(),
                    message: custom,
                },
            ))
            .unwrap();
        let a = env.put(url, "image/png", b"abc").await;
        assert_eq!(
            (a.status, crate::common::s3_code(&a).as_str()),
            (status, code)
        );
        assert!(a.text().contains(message), "{}", a.text());
    }
    assert!(env.emu.records()[0].upload.is_none(), "nothing stored");
    assert_eq!(env.put(url, "image/png", b"abc").await.status, 200);
}

#[tokio::test]
async fn an_oversized_answer_and_a_late_504() {
    let env = Env::new().await;
    env.emu
        .inject_fault(Fault::new(
            "/api/media",
            FaultAction::Oversized { bytes: 200_000 },
        ))
        .unwrap();
    let a = env.get("/media").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body.len(), 200_000);
    assert_eq!(a.header("content-length"), Some("200000"));
    let parsed: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert!(parsed.as_object().unwrap().is_empty());

    let fault = Fault::new("/api/media", status(504, FaultBody::Html, None))
        .delay(std::time::Duration::from_millis(200));
    assert_eq!(fault.delay_millis, Some(200));
    env.emu.inject_fault(fault).unwrap();
    let started = std::time::Instant::now();
    let a = env.get("/media").await;
    assert_eq!(a.status, 504);
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(
        env.emu
            .inject_fault(Fault::new("/api/", FaultAction::Oversized { bytes: 1 }))
            .is_err()
    );
}
