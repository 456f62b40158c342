//! Where an API key's credentials come from, and what a client spent with
//! them.
//!
//! A client holds its key in one shared cell: the credentials every request
//! is built with, the [`CredentialProvider`] they came from (if any), and
//! the quota the client's requests spent. The flows decide when to ask the
//! provider again (see [`Call`](crate::engine::flows::Call)): before a
//! request when the provider says the credentials
//! [changed](CredentialProvider::changed), and after the API refused them
//! (`IAM001` for a client id and secret, `INVALID_API_KEY` for an API key).
//! Asking is
//! I/O (a file read, a command run), so it is an action the driver performs
//! ([`Action::Refresh`](crate::engine::Action::Refresh)), never done inside
//! a flow.
//!
//! ```
//! use authenta_proto::{Config, SecretProvider, SecretSource};
//!
//! // A secret printed by a command (`pass show authenta/ci`, say): run
//! // once now, and again after the API refuses it.
//! # if cfg!(unix) {
//! let provider = SecretProvider::new("4d66620c69a0295f100b6e8a", SecretSource::Command("printf 's3c%s' r3t".into()));
//! let config = Config::from_provider(provider).unwrap();
//! assert_eq!(config.credentials().client_secret().unwrap().expose(), "s3cr3t");
//! assert!(!format!("{config:?}").contains("s3cr3t"));
//! # }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use authenta_types::{ErrorBody, ErrorCode, QuotaKind};
use http::header::{AUTHORIZATION, HeaderName};
use http::{HeaderValue, Response};

use crate::config::{
    ClientSecret, CredentialKind, Credentials, ENV_API_KEY, ENV_CLIENT_ID, ENV_CLIENT_SECRET,
};
use crate::error::ConfigError;

/// Where a client's credentials come from: asked once when the client is
/// built, again before a request when [`changed`](Self::changed) says so,
/// and again after the API refuses them (`IAM001`, `INVALID_API_KEY`).
/// Implement it to read a secret manager of your own; it may give either
/// kind of [`Credentials`].
///
/// [`credentials`](Self::credentials) may block (read a file, run a
/// command): the async driver runs it off the runtime's threads.
/// [`changed`](Self::changed) is asked before every API request and must be
/// cheap and must not block for long: a flag, a variable, a file's metadata.
pub trait CredentialProvider: Send + Sync {
    /// The credentials as they are now.
    fn credentials(&self) -> Result<Credentials, CredentialError>;

    /// Whether the credentials may have changed since the last
    /// [`credentials`](Self::credentials). The default is never: they are
    /// asked again only after the API refused them.
    fn changed(&self) -> bool {
        false
    }

    /// Where the credentials come from, for messages (never the secret),
    /// such as `the file /run/secrets/authenta`.
    fn describe(&self) -> String;
}

/// Fixed credentials: asking again gives the same ones.
impl CredentialProvider for Credentials {
    fn credentials(&self) -> Result<Credentials, CredentialError> {
        Ok(self.clone())
    }

    fn describe(&self) -> String {
        "fixed credentials".to_owned()
    }
}

/// A provider failed to give credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the credentials from {from}: {reason}")]
pub struct CredentialError {
    /// Where it was read from, as [`CredentialProvider::describe`] says.
    pub from: String,
    /// What went wrong, and what to do about it.
    pub reason: String,
}

impl CredentialError {
    /// The error of reading from `from`.
    pub fn new(from: impl Into<String>, reason: impl Into<String>) -> Self {
        CredentialError {
            from: from.into(),
            reason: reason.into(),
        }
    }
}

/// Where a secret (a client secret or an API key) is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretSource {
    /// The secret itself (given by a flag or a variable); never written to
    /// a profile.
    Value(ClientSecret),
    /// An environment variable of this name.
    Env(String),
    /// A file holding the secret (surrounding white space ignored), which
    /// other users must not be able to read or write (on Unix, mode `600`
    /// or `400`).
    File(PathBuf),
    /// A command run by the shell (`sh -c`, `cmd /C` on Windows) whose
    /// standard output's first line is the secret, as `pass show NAME`
    /// prints it. Its standard error goes to the caller's.
    Command(String),
}

impl SecretSource {
    /// The source in words, for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Value(_) => "the given secret".to_owned(),
            SecretSource::Env(name) => format!("the variable {name}"),
            SecretSource::File(path) => format!("the file {}", path.display()),
            SecretSource::Command(command) => format!("the command `{command}`"),
        }
    }

    /// Reads the secret (a client secret or an API key: the text, trimmed).
    pub fn read(&self) -> Result<ClientSecret, CredentialError> {
        let fail = |reason: String| CredentialError::new(self.describe(), reason);
        let secret = match self {
            SecretSource::Value(secret) => secret.expose().to_owned(),
            SecretSource::Env(name) => std::env::var(name)
                .map_err(|_| fail("the variable is not set (or is not UTF-8)".into()))?,
            SecretSource::File(path) => read_secret_file(path).map_err(fail)?,
            SecretSource::Command(command) => run_secret_command(command).map_err(fail)?,
        };
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(fail("it is empty".into()));
        }
        Ok(ClientSecret::new(secret))
    }

    /// What tells that the secret may have changed: the variable's value,
    /// the file's metadata; nothing for a value or a command.
    fn stamp(&self) -> Option<Stamp> {
        match self {
            SecretSource::Value(_) | SecretSource::Command(_) => None,
            SecretSource::Env(name) => {
                Some(Stamp::Env(std::env::var(name).ok().map(ClientSecret::new)))
            }
            SecretSource::File(path) => Some(Stamp::File(file_stamp(path))),
        }
    }
}

/// The longest secret file read: a key's secret is a few dozen bytes.
const MAX_SECRET_FILE: u64 = 64 * 1024;

fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    check_private(path, &meta)?;
    if meta.len() > MAX_SECRET_FILE {
        return Err(format!(
            "it is {} bytes, not a secret of a few dozen",
            meta.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// Refuses a secret file other users may read or write.
#[cfg(unix)]
pub(crate) fn check_private(
    path: &std::path::Path,
    meta: &std::fs::Metadata,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "its mode is {mode:04o}, so other users may read it; make it private with `chmod 600 {}`",
            path.display()
        ));
    }
    Ok(())
}

/// Refuses a secret file other users may read or write (Unix only: other
/// systems are left to their access lists).
#[cfg(not(unix))]
pub(crate) fn check_private(_: &std::path::Path, _: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

fn run_secret_command(command: &str) -> Result<String, String> {
    #[cfg(windows)]
    let mut cmd = {
        let mut cmd = std::process::Command::new("cmd");
        cmd.arg("/C").arg(command);
        cmd
    };
    #[cfg(not(windows))]
    let mut cmd = {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c").arg(command);
        cmd
    };
    let output = cmd
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("it cannot run: {e}"))?;
    if !output.status.success() {
        return Err(format!("it ended with {}", output.status));
    }
    let stdout =
        String::from_utf8(output.stdout).map_err(|_| "its output is not UTF-8 text".to_owned())?;
    Ok(stdout.lines().next().unwrap_or_default().to_owned())
}

#[derive(Clone, PartialEq, Eq)]
enum Stamp {
    Env(Option<ClientSecret>),
    File(Option<(Option<SystemTime>, u64, u64)>),
}

fn file_stamp(path: &std::path::Path) -> Option<(Option<SystemTime>, u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok(), meta.len(), inode))
}

/// An API key read from a source, or a client id and where its secret is
/// read from: the provider of a profile, or of a service that keeps its
/// key in a file or a secret manager. It says the credentials
/// [changed](CredentialProvider::changed) when the variable holds another
/// value or the file was replaced or written; a command is run again only
/// after the API refused the credentials.
///
/// ```
/// use authenta_proto::{CredentialProvider, SecretProvider, SecretSource};
///
/// let provider = SecretProvider::api_key(SecretSource::Value("api_3f9c2a71".into()));
/// assert_eq!(provider.credentials().unwrap().as_api_key().unwrap().expose(), "api_3f9c2a71");
/// ```
pub struct SecretProvider {
    client_id: Option<String>,
    source: SecretSource,
    stamp: Mutex<Option<Stamp>>,
}

impl SecretProvider {
    /// The key `client_id` with its secret from `source`.
    pub fn new(client_id: impl Into<String>, source: SecretSource) -> Self {
        SecretProvider {
            client_id: Some(client_id.into()),
            source,
            stamp: Mutex::new(None),
        }
    }

    /// An API key from `source`.
    pub fn api_key(source: SecretSource) -> Self {
        SecretProvider {
            client_id: None,
            source,
            stamp: Mutex::new(None),
        }
    }

    /// The client id; `None` for an API key.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// Which kind of credentials it gives.
    pub fn kind(&self) -> CredentialKind {
        match self.client_id {
            Some(_) => CredentialKind::ClientSecret,
            None => CredentialKind::ApiKey,
        }
    }

    /// Where the secret comes from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }
}

impl fmt::Debug for SecretProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretProvider")
            .field("client_id", &self.client_id)
            .field("source", &self.source)
            .finish()
    }
}

impl CredentialProvider for SecretProvider {
    fn credentials(&self) -> Result<Credentials, CredentialError> {
        // The stamp is taken before the read: a change during the read is
        // seen next time.
        let stamp = self.source.stamp();
        let secret = self.source.read()?;
        *self.stamp.lock().unwrap_or_else(|e| e.into_inner()) = stamp;
        Ok(match &self.client_id {
            Some(id) => Credentials::new(id.clone(), secret),
            None => Credentials::api_key(secret.expose()),
        })
    }

    fn changed(&self) -> bool {
        let last = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
        match &*last {
            Some(stamp) => self.source.stamp().as_ref() != Some(stamp),
            None => false,
        }
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

/// What a client's requests spent. With a client id and secret, quota by
/// class: `GET`s spend the key's query quota, `POST`s and `DELETE`s its
/// mutation quota (the routes table,
/// [`RouteInfo::quota`](authenta_types::RouteInfo)). An API key has no
/// quotas: its requests are counted as calls.
///
/// With a client id and secret, a request counts when the API answered it
/// past its quota check: any answer but `IAM001`, `IAM002` and `AA001`
/// (refused before quota is spent). With an API key, every answered
/// request is a call. A request whose answer never came is not counted.
/// Uploads to S3 and artifact downloads are not API calls and count for
/// nothing.
///
/// ```
/// use authenta_proto::QuotaUsage;
///
/// let usage = QuotaUsage { queries: 61, mutations: 1, ..Default::default() };
/// assert_eq!(usage.to_string(), "61 queries and 1 mutation");
/// let calls = QuotaUsage { calls: 62, ..Default::default() };
/// assert_eq!(calls.to_string(), "62 calls");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QuotaUsage {
    /// Query quota spent (`GET /media`, `GET /media/{mid}`), with a client
    /// id and secret.
    pub queries: u64,
    /// Mutation quota spent (`POST /media`, `DELETE /media/{mid}`), with a
    /// client id and secret.
    pub mutations: u64,
    /// Calls made with an API key (which has no quotas).
    pub calls: u64,
}

fn plural(n: u64, one: &'static str, many: &'static str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for QuotaUsage {
    /// `61 queries and 1 mutation` (quota), `62 calls` (an API key's), or
    /// both when a provider changed the kind of key on the way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quota = format!(
            "{} and {}",
            plural(self.queries, "query", "queries"),
            plural(self.mutations, "mutation", "mutations")
        );
        let calls = plural(self.calls, "call", "calls");
        match (self.queries + self.mutations, self.calls) {
            (0, c) if c > 0 => f.write_str(&calls),
            (_, 0) => f.write_str(&quota),
            _ => write!(f, "{quota}, and {calls} with an API key"),
        }
    }
}

/// Whether an API answer means the request spent quota (see
/// [`QuotaUsage`]).
fn spent_quota(response: &Response<Vec<u8>>) -> bool {
    let status = response.status();
    if status.is_success() {
        return true;
    }
    match serde_json::from_slice::<ErrorBody>(response.body()) {
        Ok(body) => !matches!(
            body.code,
            ErrorCode::Iam001 | ErrorCode::Iam002 | ErrorCode::Aa001
        ),
        Err(_) => !matches!(status.as_u16(), 401 | 403 | 429),
    }
}

/// What [`Action::Refresh`](crate::engine::Action::Refresh) asks the
/// driver to do: [`run`](Refresh::run) the provider (off the async
/// runtime's threads: it may read a file or run a command) and feed what
/// it gave as [`Event::Credentials`](crate::engine::Event::Credentials).
pub struct Refresh {
    provider: Arc<dyn CredentialProvider>,
}

impl Refresh {
    /// Asks the provider.
    pub fn run(self) -> Result<Credentials, CredentialError> {
        self.provider.credentials()
    }
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Refresh({})", self.provider.describe())
    }
}

/// The credentials requests are built with now, and their headers.
#[derive(Clone)]
pub(crate) struct Current {
    pub(crate) credentials: Credentials,
    /// `Authorization: Bearer …` for an API key; `x-client-id` and
    /// `x-client-secret` for an id and secret. Secrets are marked
    /// sensitive.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Bumped each time the credentials are replaced.
    pub(crate) generation: u64,
}

impl Current {
    fn new(credentials: Credentials, generation: u64) -> Result<Current, ConfigError> {
        let sensitive = |mut value: HeaderValue| {
            value.set_sensitive(true);
            value
        };
        let headers = match &credentials {
            Credentials::ApiKey(key) => {
                header_value(key.expose(), ENV_API_KEY)?;
                let bearer = header_value(&format!("Bearer {}", key.expose()), ENV_API_KEY)?;
                vec![(AUTHORIZATION, sensitive(bearer))]
            }
            Credentials::ClientSecret {
                client_id,
                client_secret,
            } => vec![
                (
                    HeaderName::from_static(crate::ops::HEADER_CLIENT_ID),
                    header_value(client_id, ENV_CLIENT_ID)?,
                ),
                (
                    HeaderName::from_static(crate::ops::HEADER_CLIENT_SECRET),
                    sensitive(header_value(client_secret.expose(), ENV_CLIENT_SECRET)?),
                ),
            ],
        };
        Ok(Current {
            credentials,
            headers,
            generation,
        })
    }
}

pub(crate) fn header_value(value: &str, what: &'static str) -> Result<HeaderValue, ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::MissingVariable(what));
    }
    HeaderValue::from_str(value).map_err(|_| ConfigError::InvalidCredential(what))
}

/// Which credentials a request was built with: put in its extensions by
/// the request builder, read back by the [`Call`](crate::engine::flows::Call)
/// flow to tell whether a refusal is of the credentials in use now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyGeneration(pub(crate) u64);

/// A client's key: its credentials now, their provider, and the quota
/// spent. Shared by every clone of a [`Config`](crate::Config), so a
/// refresh by one flow serves every other flow of the client.
pub(crate) struct Key {
    provider: Option<Arc<dyn CredentialProvider>>,
    current: RwLock<Current>,
    queries: AtomicU64,
    mutations: AtomicU64,
    calls: AtomicU64,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.current();
        f.debug_struct("Key")
            .field("credentials", &current.credentials)
            .field("provider", &self.provider.as_ref().map(|p| p.describe()))
            .field("usage", &self.usage())
            .finish()
    }
}

impl Key {
    pub(crate) fn new(
        credentials: Credentials,
        provider: Option<Arc<dyn CredentialProvider>>,
    ) -> Result<Key, ConfigError> {
        Ok(Key {
            provider,
            current: RwLock::new(Current::new(credentials, 0)?),
            queries: AtomicU64::new(0),
            mutations: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        })
    }

    /// The same provider and credentials, nothing spent yet: a client's
    /// own key.
    pub(crate) fn fork(&self) -> Key {
        Key {
            provider: self.provider.clone(),
            current: RwLock::new(self.current()),
            queries: AtomicU64::new(0),
            mutations: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    pub(crate) fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    pub(crate) fn provider(&self) -> Option<&Arc<dyn CredentialProvider>> {
        self.provider.as_ref()
    }

    /// Whether the provider says the credentials changed.
    pub(crate) fn changed(&self) -> bool {
        self.provider.as_ref().is_some_and(|p| p.changed())
    }

    /// The action of asking the provider again; `None` without one.
    pub(crate) fn refresh(&self) -> Option<Refresh> {
        self.provider.clone().map(|provider| Refresh { provider })
    }

    /// Takes in what the provider gave: replaces the credentials when they
    /// differ. Returns the generation in use afterwards.
    pub(crate) fn offer(&self, credentials: Credentials) -> Result<u64, ConfigError> {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.credentials != credentials {
            let generation = current.generation + 1;
            *current = Current::new(credentials, generation)?;
            tracing::info!(
                key = %current.credentials.label(),
                generation,
                "the key's credentials were replaced by their provider's new ones"
            );
        }
        Ok(current.generation)
    }

    /// Counts an API answer to a request of quota class `kind`: a call
    /// for an API key, quota for a client id and secret.
    pub(crate) fn record(&self, kind: QuotaKind, response: &Response<Vec<u8>>) {
        let api_key = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .credentials
            .kind()
            == CredentialKind::ApiKey;
        if api_key {
            self.calls.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !spent_quota(response) {
            return;
        }
        let counter = match kind {
            QuotaKind::Query => &self.queries,
            QuotaKind::Mutation => &self.mutations,
            // A quota class this version does not know of.
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn usage(&self) -> QuotaUsage {
        QuotaUsage {
            queries: self.queries.load(Ordering::Relaxed),
            mutations: self.mutations.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response<Vec<u8>> {
        Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn only_answers_past_the_quota_check_count() {
        let key = Key::new(Credentials::new("id", "s"), None).unwrap();
        key.record(QuotaKind::Query, &answer(200, "{}"));
        key.record(QuotaKind::Mutation, &answer(204, ""));
        key.record(
            QuotaKind::Query,
            &answer(
                404,
                r#"{"code":"EMU404","type":"CLIENT_ERROR","message":"x"}"#,
            ),
        );
        key.record(QuotaKind::Query, &answer(503, "<html>"));
        for refused in ["IAM001", "IAM002", "AA001"] {
            let body = format!(r#"{{"code":"{refused}","type":"X","message":"x"}}"#);
            key.record(QuotaKind::Mutation, &answer(401, &body));
        }
        key.record(QuotaKind::Mutation, &answer(429, "slow down"));
        assert_eq!(
            key.usage(),
            QuotaUsage {
                queries: 3,
                mutations: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_new_secret_replaces_the_old_one_and_the_same_one_does_not() {
        let key = Key::new(Credentials::new("id", "old"), None).unwrap();
        assert_eq!(key.offer(Credentials::new("id", "old")).unwrap(), 0);
        assert_eq!(key.offer(Credentials::new("id", "new")).unwrap(), 1);
        assert_eq!(key.current().headers[1].1, "new");
        assert!(key.current().headers[1].1.is_sensitive());
        assert!(key.offer(Credentials::new("id", "bad\nsecret")).is_err());
        assert_eq!(key.generation(), 1);
    }

    #[test]
    fn a_file_provider_sees_a_new_file_and_refuses_one_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "first\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let provider = SecretProvider::new("id", SecretSource::File(path.clone()));
            let err = provider.credentials().unwrap_err().to_string();
            assert!(err.contains("mode is 0644"), "{err}");
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let provider = SecretProvider::new("id", SecretSource::File(path.clone()));
        assert!(!provider.changed(), "nothing read yet");
        let first = provider.credentials().unwrap();
        assert_eq!(first.client_secret().unwrap().expose(), "first");
        assert!(!provider.changed());
        // Replaced as a rotation script would: written beside, renamed.
        let next = dir.path().join("secret.new");
        std::fs::write(&next, "second-secret\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::rename(&next, &path).unwrap();
        assert!(provider.changed());
        assert_eq!(
            provider
                .credentials()
                .unwrap()
                .client_secret()
                .unwrap()
                .expose(),
            "second-secret"
        );
        assert!(!provider.changed());
        assert!(!format!("{provider:?}").contains("second-secret"));
    }

    #[cfg(unix)]
    #[test]
    fn a_command_provider_takes_the_first_line_and_says_how_it_failed() {
        let provider = SecretProvider::new(
            "id",
            SecretSource::Command("printf 'from-command\\nmetadata: x\\n'".into()),
        );
        assert_eq!(
            provider
                .credentials()
                .unwrap()
                .client_secret()
                .unwrap()
                .expose(),
            "from-command"
        );
        assert!(
            !provider.changed(),
            "a command is asked again only after IAM001"
        );
        let failing = SecretProvider::new("id", SecretSource::Command("exit 3".into()));
        let err = failing.credentials().unwrap_err().to_string();
        assert!(
            err.contains("the command `exit 3`") && err.contains("exit status: 3"),
            "{err}"
        );
        let silent = SecretProvider::new("id", SecretSource::Command("true".into()));
        assert!(
            silent
                .credentials()
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    /// The refresh decision, stepped by hand: the flow asks, the test
    /// answers as a driver would.
    mod refresh {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant, SystemTime};

        use authenta_types::{CreateMediaRequest, MediaId, ModelType};

        use super::*;
        use crate::engine::flows::Call;
        use crate::engine::{Action, Event, Flow, Inputs};
        use crate::ops::{CreateMedia, GetMedia};
        use crate::{Config, Failure, RetryPolicy};

        /// A provider whose answers the test feeds itself (the flow never
        /// calls it: the driver does).
        struct Rotating {
            changed: AtomicBool,
        }

        impl CredentialProvider for Rotating {
            fn credentials(&self) -> Result<Credentials, CredentialError> {
                Ok(Credentials::new("id", "old"))
            }
            fn changed(&self) -> bool {
                self.changed.swap(false, Ordering::Relaxed)
            }
            fn describe(&self) -> String {
                "the test's provider".into()
            }
        }

        fn config(changed: bool) -> Config {
            Config::from_provider(Rotating {
                changed: AtomicBool::new(changed),
            })
            .unwrap()
            .with_base_url("http://127.0.0.1:1/api")
            .unwrap()
        }

        fn inputs() -> Inputs {
            Inputs {
                now: Instant::now(),
                wall_clock: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                random: 0,
            }
        }

        fn iam001() -> Event {
            Event::Response(
                Response::builder()
                    .status(401)
                    .body(
                        br#"{"code":"IAM001","type":"UNAUTHENTICATED","message":"You are not authenticated"}"#
                            .to_vec(),
                    )
                    .unwrap(),
            )
        }

        fn create(config: &Config) -> Call<CreateMedia> {
            let request = CreateMediaRequest {
                name: "a.png".into(),
                content_type: "image/png".into(),
                size: 3,
                model_type: ModelType::Ac1,
            };
            Call::new(
                CreateMedia::new(request).unwrap(),
                config.clone(),
                RetryPolicy::default(),
            )
        }

        fn secret_sent<T: std::fmt::Debug>(action: Action<T>) -> String {
            match action {
                Action::Send(request) => request.headers()["x-client-secret"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
                other => panic!("expected a request, got {other:?}"),
            }
        }

        fn refused<T: std::fmt::Debug>(action: Action<T>) -> Failure {
            match action {
                Action::Finish(Err(failure)) => failure,
                other => panic!("expected the refusal, got {other:?}"),
            }
        }

        #[test]
        fn a_refused_post_is_sent_once_more_with_new_credentials_and_never_twice() {
            let config = config(false);
            let mut call = create(&config);
            assert_eq!(secret_sent(call.step(Event::Ready, inputs())), "old");
            assert!(matches!(call.step(iam001(), inputs()), Action::Refresh(_)));
            let rotated = Ok(Credentials::new("id", "new"));
            assert_eq!(
                secret_sent(call.step(Event::Credentials(rotated), inputs())),
                "new",
                "the same POST once more"
            );
            // Refused again: it stands, without asking again.
            let failure = refused(call.step(iam001(), inputs()));
            assert_eq!(failure.code(), Some(&ErrorCode::Iam001));
            // The client's other flows now build with the new secret.
            assert_eq!(
                config.credentials().client_secret().unwrap().expose(),
                "new"
            );
            // Refusals spend no quota.
            assert_eq!(config.usage(), QuotaUsage::default());
        }

        #[test]
        fn the_same_credentials_mean_the_refusal_stands() {
            let config = config(false);
            let mut call = Call::new(
                GetMedia::new(MediaId::new("692f406f9f68d4b70080bb80")),
                config.clone(),
                RetryPolicy::default(),
            );
            let _ = secret_sent(call.step(Event::Ready, inputs()));
            assert!(matches!(call.step(iam001(), inputs()), Action::Refresh(_)));
            let same = Ok(Credentials::new("id", "old"));
            let failure = refused(call.step(Event::Credentials(same), inputs()));
            assert_eq!(failure.code(), Some(&ErrorCode::Iam001));
            assert_eq!(
                failure.mid().map(|m| m.as_str()),
                Some("692f406f9f68d4b70080bb80")
            );
        }

        #[test]
        fn a_provider_that_fails_after_a_refusal_says_why() {
            let config = config(false);
            let mut call = create(&config);
            let _ = secret_sent(call.step(Event::Ready, inputs()));
            assert!(matches!(call.step(iam001(), inputs()), Action::Refresh(_)));
            let failed = Err(CredentialError::new(
                "the command `pass show ci`",
                "it ended with exit status: 1",
            ));
            let failure = refused(call.step(Event::Credentials(failed), inputs()));
            assert_eq!(failure.class(), crate::ErrorClass::Config);
            assert!(failure.to_string().contains("`pass show ci`"), "{failure}");
        }

        #[test]
        fn fixed_credentials_are_never_asked_again() {
            let config = Config::new(Credentials::new("id", "old"));
            let mut call = create(&config);
            let _ = secret_sent(call.step(Event::Ready, inputs()));
            let failure = refused(call.step(iam001(), inputs()));
            assert_eq!(failure.class(), crate::ErrorClass::Authentication);
        }

        #[test]
        fn credentials_another_flow_renewed_are_used_without_asking() {
            let config = config(false);
            let mut first = create(&config);
            let mut second = create(&config);
            let _ = secret_sent(first.step(Event::Ready, inputs()));
            let _ = secret_sent(second.step(Event::Ready, inputs()));
            // Both refused; the first renews the key.
            assert!(matches!(first.step(iam001(), inputs()), Action::Refresh(_)));
            let rotated = Ok(Credentials::new("id", "new"));
            assert_eq!(
                secret_sent(first.step(Event::Credentials(rotated), inputs())),
                "new"
            );
            // The second sees its credentials were replaced meanwhile.
            assert_eq!(secret_sent(second.step(iam001(), inputs())), "new");
            // A provider that answers late with what the other already
            // installed still counts as new for the request refused.
            let mut third = create(&config);
            let _ = secret_sent(third.step(Event::Ready, inputs()));
            assert!(matches!(third.step(iam001(), inputs()), Action::Refresh(_)));
            let same_as_now = Ok(Credentials::new("id", "new"));
            assert!(
                matches!(
                    third.step(Event::Credentials(same_as_now), inputs()),
                    Action::Finish(Err(_))
                ),
                "sent with the current credentials and given them again: the refusal stands"
            );
        }

        #[test]
        fn a_provider_that_says_it_changed_is_asked_before_the_request() {
            let config = config(true);
            let mut call = create(&config);
            assert!(matches!(
                call.step(Event::Ready, inputs()),
                Action::Refresh(_)
            ));
            let rotated = Ok(Credentials::new("id", "new"));
            assert_eq!(
                secret_sent(call.step(Event::Credentials(rotated), inputs())),
                "new"
            );
            let created = Response::builder().status(200).body(br#"{"mid":"692f406f9f68d4b70080bb80","name":"a.png","type":"Image","status":"INITED","modelType":"AC-1","createdAt":"2025-12-02T19:39:27.525Z","uploadUrl":"http://127.0.0.1:1/b/o?X-Amz-Signature=s"}"#.to_vec()).unwrap();
            assert!(matches!(
                call.step(Event::Response(created), inputs()),
                Action::Finish(Ok(_))
            ));
            assert_eq!(
                config.usage(),
                QuotaUsage {
                    queries: 0,
                    mutations: 1,
                    ..Default::default()
                }
            );
            // Failing to read is not fatal then: the request goes out with
            // the credentials in use.
            let config = config_changed_again();
            let mut call = create(&config);
            assert!(matches!(
                call.step(Event::Ready, inputs()),
                Action::Refresh(_)
            ));
            let failed = Err(CredentialError::new("x", "y"));
            assert_eq!(
                secret_sent(call.step(Event::Credentials(failed), inputs())),
                "old"
            );
        }

        fn config_changed_again() -> Config {
            config(true)
        }

        fn invalid_api_key() -> Event {
            Event::Response(
                Response::builder()
                    .status(401)
                    .body(
                        br#"{"code":"INVALID_API_KEY","statusCode":401,"message":"API key authentication failed"}"#
                            .to_vec(),
                    )
                    .unwrap(),
            )
        }

        fn bearer_sent<T: std::fmt::Debug>(action: Action<T>) -> String {
            match action {
                Action::Send(request) => {
                    assert!(!request.headers().contains_key("x-client-id"));
                    assert!(!request.headers().contains_key("x-client-secret"));
                    let value = &request.headers()[http::header::AUTHORIZATION];
                    assert!(value.is_sensitive());
                    value.to_str().unwrap().to_owned()
                }
                other => panic!("expected a request, got {other:?}"),
            }
        }

        /// Gives the API key the test feeds it; the flow never calls it.
        struct KeyFile;
        impl CredentialProvider for KeyFile {
            fn credentials(&self) -> Result<Credentials, CredentialError> {
                Ok(Credentials::api_key("api_old"))
            }
            fn describe(&self) -> String {
                "the test's key file".into()
            }
        }

        #[test]
        fn an_invalid_api_key_refreshes_once_and_resends_only_a_new_key() {
            let config = Config::from_provider(KeyFile).unwrap();
            let mut call = create(&config);
            assert_eq!(
                bearer_sent(call.step(Event::Ready, inputs())),
                "Bearer api_old"
            );
            assert!(matches!(
                call.step(invalid_api_key(), inputs()),
                Action::Refresh(_)
            ));
            let rotated = Ok(Credentials::api_key("api_new"));
            assert_eq!(
                bearer_sent(call.step(Event::Credentials(rotated), inputs())),
                "Bearer api_new"
            );
            let failure = refused(call.step(invalid_api_key(), inputs()));
            assert_eq!(failure.code(), Some(&ErrorCode::InvalidApiKey));
            assert_eq!(failure.class(), crate::ErrorClass::Authentication);
            // An API key counts calls, not quota: both answers were calls.
            assert_eq!(
                config.usage(),
                QuotaUsage {
                    calls: 2,
                    ..Default::default()
                }
            );
            // The same key again: the refusal stands, nothing resent.
            let config = Config::from_provider(KeyFile).unwrap();
            let mut call = create(&config);
            let _ = bearer_sent(call.step(Event::Ready, inputs()));
            assert!(matches!(
                call.step(invalid_api_key(), inputs()),
                Action::Refresh(_)
            ));
            let same = Ok(Credentials::api_key("api_old"));
            let failure = refused(call.step(Event::Credentials(same), inputs()));
            assert!(
                failure.to_string().contains("check the API key"),
                "{failure}"
            );
        }
    }

    /// The blocking driver runs the refresh: a client whose secret was
    /// rotated gets its record with one refused request and one resent.
    #[test]
    fn the_blocking_driver_asks_the_provider_and_sends_again() {
        use std::sync::atomic::AtomicUsize;
        use std::time::{Duration, Instant};

        use crate::client::{Blocking, Client};
        use crate::transport::Runtime;

        struct Std;
        impl Runtime for Std {
            fn now(&self) -> Instant {
                Instant::now()
            }
            fn wall_clock(&self) -> SystemTime {
                SystemTime::now()
            }
            fn sleep(&self, d: Duration) {
                std::thread::sleep(d)
            }
            fn random(&self) -> u64 {
                0
            }
        }

        /// Gives "old" once, then "new": the secret was rotated.
        struct Rotated(AtomicUsize);
        impl CredentialProvider for Rotated {
            fn credentials(&self) -> Result<Credentials, CredentialError> {
                let secret = match self.0.fetch_add(1, Ordering::SeqCst) {
                    0 => "old",
                    _ => "new",
                };
                Ok(Credentials::new("id", secret))
            }
            fn describe(&self) -> String {
                "a rotated secret".into()
            }
        }

        let seen = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let seen = seen.clone();
            move |request: http::Request<Vec<u8>>| -> Result<Response<Vec<u8>>, std::io::Error> {
                let secret = request.headers()["x-client-secret"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                seen.lock().unwrap().push(secret.clone());
                Ok(match secret.as_str() {
                    "new" => answer(
                        200,
                        r#"{"mid":"692f406f9f68d4b70080bb80","name":"a.png","type":"Image","status":"PROCESSED","modelType":"AC-1","createdAt":"2025-12-02T19:39:27Z","fake":false}"#,
                    ),
                    _ => answer(
                        401,
                        r#"{"code":"IAM001","type":"UNAUTHENTICATED","message":"You are not authenticated"}"#,
                    ),
                })
            }
        };
        let config = crate::Config::from_provider(Rotated(AtomicUsize::new(0))).unwrap();
        let client = Client::new(
            config,
            Blocking {
                transport: server,
                runtime: Std,
            },
        );
        let media = client
            .get(&authenta_types::MediaId::new("692f406f9f68d4b70080bb80"))
            .unwrap();
        assert_eq!(media.fake, Some(false));
        assert_eq!(*seen.lock().unwrap(), ["old", "new"]);
        assert_eq!(
            client.usage(),
            QuotaUsage {
                queries: 1,
                mutations: 0,
                ..Default::default()
            }
        );
        assert_eq!(
            client
                .config()
                .credentials()
                .client_secret()
                .unwrap()
                .expose(),
            "new"
        );
    }
}
