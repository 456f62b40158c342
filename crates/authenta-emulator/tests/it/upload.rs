//! The S3 upload step (every rule of the contract's table) and processing.

use std::time::Duration;

use authenta_types::{ErrorCode, MAX_UPLOAD_SIZE, Media, MediaStatus, ResultDocument};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::common::{Env, s3_code};

/// Bytes whose SHA-256 starts with an odd byte (fake) or an even one.
fn sample(fake: bool) -> Vec<u8> {
    (0u32..)
        .map(|i| format!("sample-{i}").into_bytes())
        .find(|b| authenta_emulator::verdict(&hex(&Sha256::digest(b))) == fake)
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_good_upload_gets_200_with_the_md5_etag() {
    let env = Env::new().await;
    let bytes = b"hello world".to_vec();
    let created = env.create_for("image/jpeg", "AC-1", &bytes).await;
    let url = created["uploadUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!(
        "http://{}/{}/users/",
        env.emu.addr(),
        authenta_emulator::BUCKET
    )));
    assert!(url.contains("X-Amz-Signature="));
    assert!(url.contains("X-Amz-SignedHeaders=content-type%3Bhost"));
    let a = env.put(url, "image/jpeg", &bytes).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        a.header("etag"),
        Some(format!("\"{}\"", hex(&Md5::digest(&bytes)))).as_deref()
    );
    let mid = created["mid"].as_str().unwrap();
    let record = env.emu.record(mid).unwrap();
    let upload = record.upload.unwrap();
    assert_eq!(upload.sha256, hex(&Sha256::digest(&bytes)));
    assert_eq!(upload.size, bytes.len() as u64);
    // What the client sent is on record, and no API credential went there.
    let seen = env.emu.upload_requests();
    let put = seen.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.header("content-type"), Some("image/jpeg"));
    assert_eq!(put.header("content-length"), Some("11"));
    assert!(put.header("x-client-secret").is_none());
    assert!(!put.path.contains('?'));
}

#[tokio::test]
async fn chunked_without_length_is_501() {
    let env = Env::new().await;
    let bytes = vec![7u8; 64];
    let created = env.create_for("image/png", "AC-1", &bytes).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(bytes[..32].to_vec()), Ok(bytes[32..].to_vec())];
    let a = env
        .send(
            env.http
                .put(created["uploadUrl"].as_str().unwrap())
                .header("content-type", "image/png")
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                ))),
        )
        .await;
    assert_eq!(a.status, 501);
    assert_eq!(s3_code(&a), "NotImplemented");
    assert!(a.text().contains("<Header>Transfer-Encoding</Header>"));
    assert_eq!(a.header("content-type"), Some("application/xml"));
}

#[tokio::test]
async fn no_length_is_411() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap();
    let answer = env
        .raw("PUT", url, &[("content-type", "image/png".into())], "")
        .await;
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");
    assert!(
        answer.contains("<Code>MissingContentLength</Code>"),
        "{answer}"
    );
}

#[tokio::test]
async fn another_content_type_is_signature_does_not_match() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap();
    let a = env.put(url, "image/jpeg", b"abc").await;
    assert_eq!(
        (a.status, s3_code(&a).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert!(a.text().contains("<Message>"));
    // No Content-Type at all fails the same way.
    let a = env.send(env.http.put(url).body(b"abc".to_vec())).await;
    assert_eq!(
        (a.status, s3_code(&a).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert_eq!(
        env.emu
            .record(created["mid"].as_str().unwrap())
            .unwrap()
            .status,
        "INITED"
    );
}

/// Replaces the value of query parameter `name` in `url`.
fn alter(url: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, v)) if n == name => format!("{n}={}", f(v)),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[tokio::test]
async fn any_altered_signed_part_is_signature_does_not_match() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap().to_owned();
    let flip_last = |v: &str| {
        let mut s = v.to_owned();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        s
    };
    let other_mid = {
        let mid = created["mid"].as_str().unwrap();
        url.replace(mid, "692f406f9f68d4b70080bb80")
    };
    let altered = [
        alter(&url, "X-Amz-Signature", flip_last),
        alter(&url, "X-Amz-Credential", |v| v.replacen("AKIA", "AKIB", 1)),
        alter(&url, "X-Amz-Expires", |_| "7200".to_owned()),
        alter(&url, "X-Amz-Date", |v| {
            // One second off: still well formed, still unexpired.
            let (head, _z) = v.split_at(v.len() - 1);
            flip_last(head) + "Z"
        }),
        alter(&url, "X-Amz-SignedHeaders", |_| "host".to_owned()),
        format!("{url}&extra=1"),
        other_mid,
    ];
    for bad in altered {
        let a = env.put(&bad, "image/png", b"abc").await;
        assert_eq!(a.status, 403, "{bad}: {}", a.text());
        assert_eq!(s3_code(&a), "SignatureDoesNotMatch", "{bad}: {}", a.text());
    }
    // The unaltered URL still works.
    assert_eq!(env.put(&url, "image/png", b"abc").await.status, 200);
}

#[tokio::test]
async fn an_expired_url_is_access_denied() {
    let env = Env::new().await;
    env.emu
        .set_upload_url_expiry(Duration::from_secs(60))
        .unwrap();
    env.emu.set_upload_url_backdate(Duration::from_secs(120));
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    assert_eq!(created["expiresIn"], 60);
    let a = env
        .put(created["uploadUrl"].as_str().unwrap(), "image/png", b"abc")
        .await;
    assert_eq!((a.status, s3_code(&a).as_str()), (403, "AccessDenied"));
    assert!(a.text().contains("Request has expired"), "{}", a.text());
}

#[tokio::test]
async fn over_5_gib_is_entity_too_large() {
    let env = Env::new().await;
    let created = env.create_for("video/mp4", "DF-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap();
    let headers = [
        ("content-type", "video/mp4".to_owned()),
        ("content-length", (MAX_UPLOAD_SIZE + 1).to_string()),
    ];
    let answer = env.raw("PUT", url, &headers, "").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
}

#[tokio::test]
async fn a_length_other_than_the_declared_size_is_refused() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"12345").await;
    let url = created["uploadUrl"].as_str().unwrap();
    let a = env.put(url, "image/png", b"1234").await;
    assert_eq!((a.status, s3_code(&a).as_str()), (400, "EntityTooSmall"));
    let a = env.put(url, "image/png", b"123456").await;
    assert_eq!((a.status, s3_code(&a).as_str()), (400, "EntityTooLarge"));
    assert_eq!(
        env.emu
            .record(created["mid"].as_str().unwrap())
            .unwrap()
            .status,
        "INITED"
    );
    // A body cut short of its Content-Length never completes the upload.
    let headers = [
        ("content-type", "image/png".to_owned()),
        ("content-length", "5".to_owned()),
    ];
    env.raw("PUT", url, &headers, "123").await;
    assert_eq!(
        env.emu
            .record(created["mid"].as_str().unwrap())
            .unwrap()
            .status,
        "INITED"
    );
    assert_eq!(env.put(url, "image/png", b"12345").await.status, 200);
}

#[tokio::test]
async fn uploading_to_a_deleted_record_is_404() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let mid = created["mid"].as_str().unwrap();
    assert_eq!(
        env.delete_as(&env.key, &format!("/media/{mid}"))
            .await
            .status,
        204
    );
    let a = env
        .put(created["uploadUrl"].as_str().unwrap(), "image/png", b"abc")
        .await;
    assert_eq!((a.status, s3_code(&a).as_str()), (404, "NoSuchKey"));
}

#[tokio::test]
async fn processing_reaches_processed_with_a_predictable_verdict() {
    let env = Env::new().await;
    for fake in [true, false] {
        let bytes = sample(fake);
        let mid = env.upload("image/png", "AC-1", &bytes).await;
        let media: Media = serde_json::from_value(env.wait_final(&mid).await).unwrap();
        assert_eq!(media.status, MediaStatus::Processed);
        assert_eq!(media.fake, Some(fake));
        // The heatmap is a PNG.
        let png = env.send(env.http.get(media.heatmap_url.unwrap())).await;
        assert_eq!(png.status, 200);
        assert_eq!(png.header("content-type"), Some("image/png"));
        assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png.body[12..16], b"IHDR");
        // The result document agrees.
        let doc = env.send(env.http.get(media.result_url.unwrap())).await;
        let doc: ResultDocument = serde_json::from_slice(&doc.body).unwrap();
        assert_eq!(doc.fake, Some(fake));
        assert!(doc.bounding_boxes.is_none());
    }
    assert_eq!(env.emu.credits(), authenta_emulator::DEFAULT_CREDITS - 2);
}

#[tokio::test]
async fn video_records_carry_participants_and_boxes() {
    let env = Env::new().await;
    let mid = env.upload("video/mp4", "DF-1", b"not really a video").await;
    let media: Media = serde_json::from_value(env.wait_final(&mid).await).unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert!(media.heatmap_url.is_none());
    let participants = media.participants.unwrap();
    assert!(!participants.is_empty());
    for p in &participants {
        let a = env.send(env.http.get(p.heatmap.clone().unwrap())).await;
        assert_eq!(a.status, 200);
    }
    let doc = env.send(env.http.get(media.result_url.unwrap())).await;
    let doc: ResultDocument = serde_json::from_slice(&doc.body).unwrap();
    let boxes = doc.bounding_boxes.unwrap();
    assert_eq!(boxes.len(), participants.len());
    for per_face in boxes.values() {
        for [xmin, ymin, xmax, ymax] in per_face.bounding_box.values() {
            assert!(xmin < xmax && ymin < ymax);
        }
    }
}

#[tokio::test]
async fn no_credit_left_at_processing_time_fails_the_record_with_u007() {
    let env = Env::new().await;
    env.emu.set_credits(1).unwrap();
    // Both creates pass the credit check (one credit left, nothing spent yet).
    let first = env.create_for("image/png", "AC-1", b"one").await;
    let second = env.create_for("image/png", "AC-1", b"two").await;
    for (created, bytes) in [(&first, b"one"), (&second, b"two")] {
        let a = env
            .put(created["uploadUrl"].as_str().unwrap(), "image/png", bytes)
            .await;
        assert_eq!(a.status, 200);
    }
    let done = env.wait_final(first["mid"].as_str().unwrap()).await;
    assert_eq!(done["status"], "PROCESSED");
    let failed = env.wait_final(second["mid"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "FAILED");
    let expected =
        serde_json::to_value(authenta_types::ErrorBody::documented(ErrorCode::U007).unwrap())
            .unwrap();
    assert_eq!(failed["error"], expected);
    assert_eq!(env.emu.credits(), 0);
    // And now creating is refused.
    let a = env
        .create_as(
            &env.key,
            &serde_json::json!({"name":"x","contentType":"image/png","size":1,"modelType":"AC-1"}),
        )
        .await;
    crate::common::assert_documented(&a, ErrorCode::U007);
}

#[tokio::test]
async fn a_second_upload_is_accepted_and_changes_nothing() {
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap();
    assert_eq!(env.put(url, "image/png", b"abc").await.status, 200);
    let mid = created["mid"].as_str().unwrap();
    let first = env.emu.record(mid).unwrap().upload.unwrap();
    assert_eq!(env.put(url, "image/png", b"xyz").await.status, 200);
    assert_eq!(env.emu.record(mid).unwrap().upload.unwrap(), first);
    assert_eq!(env.emu.credits(), authenta_emulator::DEFAULT_CREDITS - 1);
}

#[tokio::test]
async fn downloads_need_a_processed_record_and_a_valid_signature() {
    let env = Env::new().await;
    let mid = env.upload("image/png", "AC-1", b"abc").await;
    let media = env.wait_final(&mid).await;
    let result = media["resultURL"].as_str().unwrap();
    let a = env
        .send(env.http.get(alter(result, "X-Amz-Signature", |v| {
            v.chars().rev().collect()
        })))
        .await;
    assert_eq!(
        (a.status, s3_code(&a).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    let a = env
        .send(env.http.get(result.replace("result.json", "other.json")))
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        env.delete_as(&env.key, &format!("/media/{mid}"))
            .await
            .status,
        204
    );
    let a = env.send(env.http.get(result)).await;
    assert_eq!((a.status, s3_code(&a).as_str()), (404, "NoSuchKey"));
}

#[tokio::test]
async fn an_api_credential_on_the_upload_is_refused_and_not_kept() {
    let env = Env::new().await;
    for header in ["x-client-id", "x-client-secret"] {
        let created = env.create_for("image/png", "AC-1", b"abc").await;
        env.emu.clear_upload_requests();
        let secret_value = format!("leaked-{header}-value");
        let a = env
            .send(
                env.http
                    .put(created["uploadUrl"].as_str().unwrap())
                    .header("content-type", "image/png")
                    .header(header, &secret_value)
                    .body(b"abc".to_vec()),
            )
            .await;
        assert_eq!((a.status, s3_code(&a).as_str()), (400, "InvalidArgument"));
        assert!(
            a.text()
                .contains(&format!("<ArgumentName>{header}</ArgumentName>")),
            "{}",
            a.text()
        );
        assert!(!a.text().contains(&secret_value));
        let mid = created["mid"].as_str().unwrap();
        assert_eq!(env.emu.record(mid).unwrap().status, "INITED");
        // The log (in process and over HTTP) names the header, never its value.
        let logged = env.emu.upload_requests();
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0].header(header), Some("<redacted>"));
        let over_http = env
            .send(env.http.get(format!("{}/uploads", env.emu.control_url())))
            .await;
        assert_eq!(over_http.status, 200);
        assert!(
            !over_http.text().contains(&secret_value),
            "{}",
            over_http.text()
        );
        assert!(!logged[0].client_mistakes(3, "image/png").is_empty());
    }
}

/// Opens a connection to `url`'s host and sends a `PUT` head for `len`
/// bytes of `content_type` (with `Expect: 100-continue` if `expect`) and
/// the first `sent` bytes of the body, no more.
async fn put_head(
    env: &Env,
    url: &str,
    content_type: &str,
    len: usize,
    expect: bool,
    sent: usize,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let addr = env.emu.addr();
    let target = url.split_once(&addr.to_string()).unwrap().1;
    let mut head = format!(
        "PUT {target} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\ncontent-length: {len}\r\n"
    );
    if expect {
        head.push_str("expect: 100-continue\r\n");
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![7u8; sent]).await.unwrap();
    stream
}

/// Reads what the server sends until it closes or pauses for 2 s.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> (String, bool) {
    use tokio::io::AsyncReadExt as _;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_bad_upload_is_refused_before_its_body_and_the_connection_closed() {
    let env = Env::new().await;
    const LEN: usize = 8 * 1024 * 1024;
    let bytes = vec![7u8; LEN];
    let created = env.create_for("image/png", "AC-1", &bytes).await;
    let url = created["uploadUrl"].as_str().unwrap().to_owned();
    let signature = url.rfind("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut forged = url.clone();
    let flipped = if forged.ends_with('0') { "1" } else { "0" };
    forged.replace_range(forged.len() - 1.., flipped);
    assert!(forged.len() > signature);
    // As S3 does: the head alone decides (a wrong signature, a wrong
    // Content-Type), the answer comes before the body, and the connection
    // is closed rather than the body read.
    for (url, content_type) in [(forged.as_str(), "image/png"), (url.as_str(), "image/jpeg")] {
        let mut stream = put_head(&env, url, content_type, LEN, false, 1024).await;
        let (answer, closed) = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert!(
            answer.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
        assert!(
            closed,
            "the connection is closed, not kept to read the body"
        );
    }
    // With `Expect: 100-continue`, a refusal is the answer instead of
    // `100 Continue`; a good upload gets `100 Continue`, then its body.
    let mut stream = put_head(&env, &forged, "image/png", LEN, true, 0).await;
    let (answer, closed) = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(closed);
    let mut stream = put_head(&env, &url, "image/png", LEN, true, 0).await;
    let (answer, closed) = read_answer(&mut stream).await;
    assert_eq!(answer, "HTTP/1.1 100 Continue\r\n\r\n");
    assert!(!closed, "the server waits for the body");
    {
        use tokio::io::AsyncWriteExt as _;
        stream.write_all(&bytes).await.unwrap();
    }
    let (answer, _) = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let record = env.emu.record(created["mid"].as_str().unwrap()).unwrap();
    assert_eq!(record.upload.unwrap().size, LEN as u64);
}
