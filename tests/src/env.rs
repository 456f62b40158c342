//! [`Env`]: one emulator per test, with a key, a temporary directory, and
//! clients whose policies are short (millisecond backoffs and polls).

use std::path::PathBuf;
use std::time::Duration;

use authenta_emulator::{ApiKey, ApiRequest, Emulator, KeySpec, RunningEmulator, UploadRequest};
use authenta_proto::types::{CreateMediaRequest, ModelType};
use authenta_proto::{
    Credentials, PollPolicy, RetryPolicy, UploadOptions, credentials::CredentialKind,
};

use crate::backend::{Backend, Settings};

/// A PNG's first bytes: enough for its content type to be detected.
pub const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

/// How long a record stays `UPLOADED` in a test's emulator by default.
pub const PROCESSING_TIME: Duration = Duration::from_millis(20);

/// Four attempts with millisecond backoffs: retries are exercised without
/// slowing the suite.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    }
}

/// Polls every 10 ms, giving up after 20 s (a hung test, not a slow one).
pub fn fast_polls() -> PollPolicy {
    PollPolicy::fixed(Duration::from_millis(10), Duration::from_secs(20))
}

/// A PNG's last chunk, `IEND`: validation refuses a PNG without it.
pub const PNG_IEND: &[u8] = b"\0\0\0\0IEND\xaeB`\x82";

/// A PNG of `size` bytes (at least its head and its `IEND` chunk), filler
/// between them: complete as far as validation looks.
pub fn png_bytes(size: usize) -> Vec<u8> {
    let size = size.max(PNG_HEAD.len() + PNG_IEND.len());
    let mut bytes = PNG_HEAD.to_vec();
    bytes.resize(size - PNG_IEND.len(), 0x5a);
    bytes.extend_from_slice(PNG_IEND);
    bytes
}

/// The create request for a PNG of `size` bytes, for `AC-1`.
pub fn png_request(name: &str, size: u64) -> CreateMediaRequest {
    CreateMediaRequest {
        name: name.to_owned(),
        content_type: "image/png".to_owned(),
        size,
        model_type: ModelType::Ac1,
    }
}

thread_local! {
    /// The kind of credentials the clients of [`Env`]s made on this thread
    /// use: see [`with_kind`].
    static KIND: std::cell::Cell<CredentialKind> =
        const { std::cell::Cell::new(CredentialKind::ClientSecret) };
}

/// Runs `test` with every [`Env`] it makes giving its clients credentials
/// of `kind` (an API key, or a client id and secret; the latter when not
/// told). A test runs on a thread of its own, so its cases run once per
/// kind without a parameter threaded through every body.
pub fn with_kind<R>(kind: CredentialKind, test: impl FnOnce() -> R) -> R {
    let before = KIND.replace(kind);
    let result = test();
    KIND.set(before);
    result
}

/// An in-process emulator on port 0, a key with every permission and no
/// quota, and a temporary directory.
pub struct Env {
    /// The emulator.
    pub emu: RunningEmulator,
    /// The key the default client uses.
    pub key: ApiKey,
    /// Files for the test.
    pub dir: tempfile::TempDir,
    /// The kind of credentials its clients use.
    pub kind: CredentialKind,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    /// An emulator processing records in [`PROCESSING_TIME`].
    pub fn new() -> Env {
        Env::with_processing_time(PROCESSING_TIME)
    }

    /// An emulator processing records in `time`.
    pub fn with_processing_time(time: Duration) -> Env {
        Env::with_list_items(time, authenta_emulator::ListItems::Full)
    }

    /// An emulator processing records in `time` whose `GET /media` answers
    /// with `items` (full records, or the documented summaries).
    pub fn with_list_items(time: Duration, items: authenta_emulator::ListItems) -> Env {
        // Kept-alive connections stay open for the whole case: an idle
        // close racing a reused connection's create (not retried: it may
        // have reached the server) is the fault matrix's row to test, not
        // a random failure on a loaded machine.
        let emu = Emulator::builder()
            .processing_time(time)
            .list_items(items)
            .idle_timeout(Duration::from_secs(300))
            .spawn()
            .expect("start the emulator");
        let key = emu.create_key(KeySpec::new("conformance")).expect("a key");
        Env {
            emu,
            key,
            dir: tempfile::tempdir().expect("a temporary directory"),
            kind: KIND.get(),
        }
    }

    /// Settings for a client id and secret on this emulator, with short
    /// policies.
    pub fn settings_for(&self, client_id: &str, client_secret: &str) -> Settings {
        self.settings_with(Credentials::new(client_id, client_secret))
    }

    /// Settings for `credentials` on this emulator, with short policies.
    pub fn settings_with(&self, credentials: Credentials) -> Settings {
        Settings {
            base_url: self.emu.base_url().to_owned(),
            credentials,
            provider: None,
            retry: fast_retries(),
            poll: fast_polls(),
            request_timeout: None,
            upload_timeout: None,
            upload_stall_timeout: None,
        }
    }

    /// The credentials of `key` of the kind this environment's clients use.
    pub fn credentials(&self, key: &ApiKey) -> Credentials {
        match self.kind {
            CredentialKind::ApiKey => Credentials::api_key(key.api_key.as_str()),
            _ => Credentials::new(&key.client_id, key.client_secret.as_str()),
        }
    }

    /// The secret part of `key` its clients send (the API key, or the
    /// client secret).
    pub fn secret(&self, key: &ApiKey) -> String {
        match self.kind {
            CredentialKind::ApiKey => key.api_key.clone(),
            _ => key.client_secret.clone(),
        }
    }

    /// Settings for the environment's key.
    pub fn settings(&self) -> Settings {
        self.settings_with(self.credentials(&self.key))
    }

    /// A client of backend `B` with the environment's key.
    pub fn client<B: Backend>(&self) -> B {
        self.client_with(&self.key)
    }

    /// A client of backend `B` with another key.
    pub fn client_with<B: Backend>(&self, key: &ApiKey) -> B {
        B::connect(&self.settings_with(self.credentials(key)))
            .unwrap_or_else(|e| panic!("a {} client: {e}", B::NAME))
    }

    /// A key made from `spec`.
    pub fn key(&self, spec: KeySpec) -> ApiKey {
        self.emu.create_key(spec).expect("a key")
    }

    /// A PNG of `size` bytes in the temporary directory.
    pub fn png(&self, name: &str, size: usize) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, png_bytes(size)).expect("write a PNG");
        path
    }

    /// The API requests received with `method` whose path (and query)
    /// starts with `path`, oldest first.
    pub fn requests(&self, method: &str, path: &str) -> Vec<ApiRequest> {
        self.emu
            .api_requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(path))
            .collect()
    }

    /// The `PUT`s received on the upload endpoint.
    pub fn puts(&self) -> Vec<UploadRequest> {
        self.emu
            .upload_requests()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .collect()
    }

    /// Checks that the emulator received one `PUT`, as S3 takes it: its
    /// length in `Content-Length`, the declared `Content-Type`, no
    /// `Transfer-Encoding`, and no credential header.
    pub fn assert_one_clean_upload(&self, size: u64, content_type: &str) {
        let puts = self.puts();
        let [put] = &puts[..] else {
            panic!("expected one PUT: {puts:?}")
        };
        assert_eq!(
            put.client_mistakes(size, content_type),
            Vec::<String>::new()
        );
    }
}

/// The options of an `AC-1` upload.
pub fn ac1() -> UploadOptions {
    UploadOptions::new(ModelType::Ac1)
}

/// The SHA-256 of `bytes`, in lowercase hex (as the emulator logs uploads).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
