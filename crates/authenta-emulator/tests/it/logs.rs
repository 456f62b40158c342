//! What the emulator logs: a client's mistake is not an `ERROR`, s3s's own
//! request dumps (signatures) never get through, and a long query string
//! does not make a long log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use crate::common::Env;

/// Every log line written while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Captures everything, down to `TRACE`, on this thread (the tests run on
/// a current-thread runtime, so the emulator's tasks log here too).
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (captured, guard)
}

#[tokio::test]
async fn a_bad_signature_is_logged_below_error_and_no_signature_is_logged() {
    let (captured, _guard) = capture();
    let env = Env::new().await;
    let created = env.create_for("image/png", "AC-1", b"abc").await;
    let url = created["uploadUrl"].as_str().unwrap();
    let signature = url.split("X-Amz-Signature=").nth(1).unwrap().to_owned();
    let forged = url.replace(&signature, &"0".repeat(64));
    let a = env.put(&forged, "image/png", b"abc").await;
    assert_eq!(a.status, 403, "{}", a.text());
    // A wrong content type is the same mistake, found another way.
    assert_eq!(env.put(url, "image/jpeg", b"abc").await.status, 403);
    let lines = captured.lines();
    let refused: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("upload request refused"))
        .collect();
    assert_eq!(refused.len(), 2, "{lines:#?}");
    assert!(
        refused
            .iter()
            .all(|l| l.contains(" INFO ") && l.contains("SignatureDoesNotMatch")),
        "{refused:#?}"
    );
    let errors: Vec<_> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let from_s3s: Vec<_> = lines.iter().filter(|l| l.contains(" s3s::")).collect();
    assert!(from_s3s.is_empty(), "{from_s3s:#?}");
    assert!(!lines.iter().any(|l| l.contains(&signature)));
}

#[tokio::test]
async fn a_long_query_string_is_cut_in_the_log() {
    let (captured, _guard) = capture();
    let env = Env::new().await;
    let query = format!("limit=1&junk={}", "x".repeat(60 * 1024));
    let a = env.get(&format!("/media?{query}")).await;
    assert_eq!(a.status, 400, "{}", a.text());
    let lines = captured.lines();
    let line = lines
        .iter()
        .find(|l| l.contains("api request") && l.contains("/api/media?limit=1&junk=xxx"))
        .unwrap_or_else(|| panic!("no api request line in {lines:#?}"));
    assert!(line.len() < 1024, "a {}-byte log line", line.len());
    assert!(line.contains("more bytes]"), "{line}");
    let logged = env.emu.api_requests().pop().unwrap();
    assert!(logged.path.len() < 1024, "{}", logged.path.len());
    assert!(logged.path.starts_with("/api/media?limit=1&junk=xxx"));
}
