//! Credentials as values (an API key, or a client id and secret: redacted
//! `Debug`, the headers they go in), where they come from, and what a
//! client spent with them.
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
//! The providers that read a variable, a file or a command's output
//! (`SecretProvider`) live in `authenta-client`: this crate only holds
//! credentials as values and decides when to ask again.
//!
//! ```
//! use authenta_proto::{Config, Credentials};
//!
//! let config = Config::from_provider(Credentials::new("4d66620c69a0295f100b6e8a", "s3cr3t")).unwrap();
//! assert_eq!(config.credentials().unwrap().client_secret().unwrap().expose(), "s3cr3t");
//! assert!(!format!("{config:?}").contains("s3cr3t"));
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use authenta_types::{ErrorBody, ErrorCode, QuotaKind};
use http::header::{AUTHORIZATION, HeaderName};
use http::{HeaderValue, Response};

use crate::error::{ConfigError, CredentialError};

/// The environment variable holding an API key (`api_…`, what today's
/// console gives).
pub const ENV_API_KEY: &str = "AUTHENTA_API_KEY";
/// The environment variable holding the client id (older keys).
pub const ENV_CLIENT_ID: &str = "AUTHENTA_CLIENT_ID";
/// The environment variable holding the client secret (older keys).
pub const ENV_CLIENT_SECRET: &str = "AUTHENTA_CLIENT_SECRET";

/// The client id's header (a client id and secret; an API key goes in
/// `Authorization: Bearer`, marked sensitive).
pub const HEADER_CLIENT_ID: &str = "x-client-id";
/// The secret's header; its value is always marked sensitive.
pub const HEADER_CLIENT_SECRET: &str = "x-client-secret";

/// A client secret. Its `Debug` and `Display` never show it, and the header
/// built from it is marked sensitive so HTTP libraries keep it out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(secret.into())
    }

    /// The secret itself; call this only to hand it to the API.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        ClientSecret(s)
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        ClientSecret(s.to_owned())
    }
}

/// An API key: one token (`api_…` in every example), sent as
/// `Authorization: Bearer <key>`. Its `Debug` shows at most its first few
/// characters, and the header built from it is marked sensitive.
///
/// ```
/// use authenta_proto::ApiKey;
/// let key = ApiKey::new("api_3f9c2a71d04b8e65c1a7f02d9b34e810");
/// assert_eq!(format!("{key:?}"), "ApiKey(api_3f…)");
/// assert_eq!(format!("{:?}", ApiKey::new("short")), "ApiKey(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// How many leading characters of an API key `Debug` shows, and the
/// shortest key it shows them of.
const API_KEY_SHOWN: usize = 6;
const API_KEY_SHOWN_MIN_LEN: usize = 24;

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself; call this only to hand it to the API.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its first few characters followed by `…` (enough to tell keys apart
    /// in a message, far too few to use), or `<redacted>` for a key too
    /// short to show any of.
    pub fn redacted(&self) -> String {
        match self.0.get(..API_KEY_SHOWN) {
            Some(start) if self.0.len() >= API_KEY_SHOWN_MIN_LEN => format!("{start}…"),
            _ => "<redacted>".to_owned(),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey(s.to_owned())
    }
}

/// Which kind of credentials a key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An API key (`Authorization: Bearer`): today's keys, no quotas.
    ApiKey,
    /// A client id and secret (`x-client-id` / `x-client-secret`): older
    /// keys, with query and mutation quotas.
    ClientSecret,
}

/// What a request authenticates with: an API key (today's console gives
/// these) or, for older keys, a client id and secret.
///
/// ```
/// use authenta_proto::{credentials::CredentialKind, Credentials};
///
/// let key = Credentials::api_key("api_3f9c2a71d04b8e65c1a7f02d9b34e810");
/// assert_eq!(key.kind(), CredentialKind::ApiKey);
/// assert_eq!(key.client_id(), None);
/// let pair = Credentials::new("4d66620c69a0295f100b6e8a", "s3cr3t");
/// assert_eq!(pair.client_id(), Some("4d66620c69a0295f100b6e8a"));
/// assert!(!format!("{key:?} {pair:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// An API key, sent as `Authorization: Bearer <key>` (generation 2).
    ApiKey(ApiKey),
    /// A client id and secret, sent as `x-client-id` and `x-client-secret`
    /// (generation 1).
    ClientSecret {
        /// The public client id (`x-client-id`).
        client_id: String,
        /// The private client secret (`x-client-secret`).
        client_secret: ClientSecret,
    },
}

impl Credentials {
    /// Credentials from a client id and secret (older keys).
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<ClientSecret>) -> Self {
        Credentials::ClientSecret {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// Credentials from an API key (`api_…`).
    pub fn api_key(key: impl Into<ApiKey>) -> Self {
        Credentials::ApiKey(key.into())
    }

    /// Which kind of credentials these are.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credentials::ApiKey(_) => CredentialKind::ApiKey,
            Credentials::ClientSecret { .. } => CredentialKind::ClientSecret,
        }
    }

    /// The client id, for an id and secret.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Credentials::ClientSecret { client_id, .. } => Some(client_id),
            Credentials::ApiKey(_) => None,
        }
    }

    /// The client secret, for an id and secret.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        match self {
            Credentials::ClientSecret { client_secret, .. } => Some(client_secret),
            Credentials::ApiKey(_) => None,
        }
    }

    /// The API key, for an API key.
    pub fn as_api_key(&self) -> Option<&ApiKey> {
        match self {
            Credentials::ApiKey(key) => Some(key),
            Credentials::ClientSecret { .. } => None,
        }
    }

    /// The secret part: the client secret, or the API key.
    pub(crate) fn secret(&self) -> &str {
        match self {
            Credentials::ClientSecret { client_secret, .. } => client_secret.expose(),
            Credentials::ApiKey(key) => key.expose(),
        }
    }

    /// Who is calling, for messages and logs, never a secret: the client
    /// id, or the API key's first characters.
    pub fn label(&self) -> String {
        match self {
            Credentials::ClientSecret { client_id, .. } => client_id.clone(),
            Credentials::ApiKey(key) => key.redacted(),
        }
    }
}

/// Where a client's credentials come from: asked once when the client is
/// built (by its first call, for a client built
/// [unread](crate::Config::with_unread_provider): the async backends),
/// again before a request when [`changed`](Self::changed) says so,
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
/// runtime's threads: it may stat or read a file, or run a command) and
/// feed what it gave as [`Event::Credentials`](crate::engine::Event::Credentials).
///
/// Three kinds: the first read of a key built without reading its
/// provider ([`Config::with_unread_provider`](crate::Config::with_unread_provider):
/// the first call reads it, once however many calls start together);
/// before a call's first request, a check: the provider is asked only
/// whether they [changed](CredentialProvider::changed), and for them only
/// if so (else `run` gives back the credentials in use, which change
/// nothing); after a refusal, the provider is asked for its credentials.
pub struct Refresh {
    provider: Arc<dyn CredentialProvider>,
    kind: RefreshKind,
}

enum RefreshKind {
    /// The key's first read: under its gate, taken in by the key at once.
    First(Arc<Key>),
    /// A check: the credentials in use, given back when the provider says
    /// nothing changed.
    Check(Credentials),
    /// A renewal after a refusal.
    Renew,
}

impl Refresh {
    /// Asks the provider (whether its credentials changed first, for a
    /// check). This is I/O: a driver runs it, never a flow.
    pub fn run(self) -> Result<Credentials, CredentialError> {
        match self.kind {
            RefreshKind::First(key) => key.read_first(&*self.provider),
            RefreshKind::Check(current) if !self.provider.changed() => Ok(current),
            RefreshKind::Check(_) | RefreshKind::Renew => self.provider.credentials(),
        }
    }

    /// Whether this only checks for a change (before a first request)
    /// rather than asking after a refusal.
    pub fn is_check(&self) -> bool {
        matches!(self.kind, RefreshKind::Check(_))
    }

    /// Whether this is the key's first read (its provider was not read
    /// when the client was built).
    pub fn is_first_read(&self) -> bool {
        matches!(self.kind, RefreshKind::First(_))
    }
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RefreshKind::First(_) => "FirstRead",
            RefreshKind::Check(_) => "Check",
            RefreshKind::Renew => "Refresh",
        };
        write!(f, "{kind}({})", self.provider.describe())
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
                    HeaderName::from_static(HEADER_CLIENT_ID),
                    header_value(client_id, ENV_CLIENT_ID)?,
                ),
                (
                    HeaderName::from_static(HEADER_CLIENT_SECRET),
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
    /// `None` until the provider of a key built unread is first read.
    current: RwLock<Option<Current>>,
    /// Held while the provider is read for the first time, so calls that
    /// start together read it once.
    first_read: Mutex<()>,
    queries: AtomicU64,
    mutations: AtomicU64,
    calls: AtomicU64,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.current();
        f.debug_struct("Key")
            .field("credentials", &current.map(|c| c.credentials))
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
        Ok(Key::with_current(
            Some(Current::new(credentials, 0)?),
            provider,
        ))
    }

    /// A key whose provider is read by the first call that needs it
    /// ([`Key::first_read`]), not now.
    pub(crate) fn unread(provider: Arc<dyn CredentialProvider>) -> Key {
        Key::with_current(None, Some(provider))
    }

    fn with_current(
        current: Option<Current>,
        provider: Option<Arc<dyn CredentialProvider>>,
    ) -> Key {
        Key {
            provider,
            current: RwLock::new(current),
            first_read: Mutex::new(()),
            queries: AtomicU64::new(0),
            mutations: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    /// The same provider and credentials, nothing spent yet: a client's
    /// own key.
    pub(crate) fn fork(&self) -> Key {
        Key::with_current(self.current(), self.provider.clone())
    }

    /// The credentials in use and their headers; `None` before the first
    /// read of a key built unread.
    pub(crate) fn current(&self) -> Option<Current> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |c| c.generation)
    }

    pub(crate) fn provider(&self) -> Option<&Arc<dyn CredentialProvider>> {
        self.provider.as_ref()
    }

    /// The action of reading the provider for the first time; `None` once
    /// the key holds credentials.
    pub(crate) fn first_read(key: &Arc<Key>) -> Option<Refresh> {
        if key.current().is_some() {
            return None;
        }
        key.provider.clone().map(|provider| Refresh {
            provider,
            kind: RefreshKind::First(key.clone()),
        })
    }

    /// The first read, run by a driver: under the gate, so a call that
    /// waited on it finds the credentials another one read; taken in at
    /// once (credentials a header cannot carry are refused again by the
    /// flow's [`Key::offer`], which reports it).
    fn read_first(
        &self,
        provider: &dyn CredentialProvider,
    ) -> Result<Credentials, CredentialError> {
        let _gate = self.first_read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = self.current() {
            return Ok(current.credentials);
        }
        let credentials = provider.credentials()?;
        let _ = self.offer(credentials.clone());
        Ok(credentials)
    }

    /// The action of asking the provider whether the credentials changed
    /// (and for them if so); `None` without a provider or credentials.
    pub(crate) fn check(&self) -> Option<Refresh> {
        let current = self.current()?;
        self.provider.clone().map(|provider| Refresh {
            provider,
            kind: RefreshKind::Check(current.credentials),
        })
    }

    /// The action of asking the provider again; `None` without one.
    pub(crate) fn refresh(&self) -> Option<Refresh> {
        self.provider.clone().map(|provider| Refresh {
            provider,
            kind: RefreshKind::Renew,
        })
    }

    /// Takes in what the provider gave: replaces the credentials when they
    /// differ (or sets the first ones). Returns the generation in use
    /// afterwards.
    pub(crate) fn offer(&self, credentials: Credentials) -> Result<u64, ConfigError> {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        match &*current {
            None => *current = Some(Current::new(credentials, 0)?),
            Some(now) if now.credentials != credentials => {
                let generation = now.generation + 1;
                let next = Current::new(credentials, generation)?;
                tracing::info!(
                    key = %next.credentials.label(),
                    generation,
                    "the key's credentials were replaced by their provider's new ones"
                );
                *current = Some(next);
            }
            Some(_) => {}
        }
        Ok(current.as_ref().map_or(0, |c| c.generation))
    }

    /// Counts an API answer to a request of quota class `kind`: a call
    /// for an API key, quota for a client id and secret.
    pub(crate) fn record(&self, kind: QuotaKind, response: &Response<Vec<u8>>) {
        let api_key = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|c| c.credentials.kind() == CredentialKind::ApiKey);
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
        assert_eq!(key.current().unwrap().headers[1].1, "new");
        assert!(key.current().unwrap().headers[1].1.is_sensitive());
        assert!(key.offer(Credentials::new("id", "bad\nsecret")).is_err());
        assert_eq!(key.generation(), 1);
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
        use crate::ops::{ApiRequest as _, CreateMedia, GetMedia};
        use crate::{Config, Error, RetryPolicy};

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

        /// The first step, with a provider's check answered as a driver
        /// answers it (the provider is asked whether it changed).
        fn begin<F: Flow>(flow: &mut F) -> Action<F::Output> {
            match flow.step(Event::Ready, inputs()) {
                Action::Refresh(check) => {
                    assert!(check.is_check(), "{check:?}");
                    flow.step(Event::Credentials(check.run()), inputs())
                }
                other => other,
            }
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

        fn refused<T: std::fmt::Debug>(action: Action<T>) -> Error {
            match action {
                Action::Finish(Err(failure)) => failure,
                other => panic!("expected the refusal, got {other:?}"),
            }
        }

        #[test]
        fn a_refused_post_is_sent_once_more_with_new_credentials_and_never_twice() {
            let config = config(false);
            let mut call = create(&config);
            assert_eq!(secret_sent(begin(&mut call)), "old");
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
                config
                    .credentials()
                    .unwrap()
                    .client_secret()
                    .unwrap()
                    .expose(),
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
            let _ = secret_sent(begin(&mut call));
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
            let _ = secret_sent(begin(&mut call));
            assert!(matches!(call.step(iam001(), inputs()), Action::Refresh(_)));
            let failed = Err(CredentialError::new(
                "the command `pass show ci`",
                "it ended with exit status: 1",
            ));
            let failure = refused(call.step(Event::Credentials(failed), inputs()));
            assert_eq!(failure.class(), crate::ErrorClass::Config);
            assert!(failure.to_string().contains("`pass show ci`"), "{failure}");
        }

        /// A key built unread: the call reads the provider first (an
        /// action, never inside `step`), and a failure to read it is the
        /// call's error; the next call tries again.
        #[test]
        fn an_unread_key_is_read_by_the_first_call() {
            let config = Config::with_unread_provider(Arc::new(Rotating {
                changed: AtomicBool::new(true),
            }))
            .with_base_url("http://127.0.0.1:1/api")
            .unwrap();
            assert_eq!(config.credentials(), None);
            let mut call = create(&config);
            let Action::Refresh(first) = call.step(Event::Ready, inputs()) else {
                panic!("the provider is read before anything is built");
            };
            assert!(first.is_first_read() && !first.is_check(), "{first:?}");
            let failed = Err(CredentialError::new(
                "the command `pass show ci`",
                "it ended with exit status: 1",
            ));
            let failure = refused(call.step(Event::Credentials(failed), inputs()));
            assert_eq!(failure.class(), crate::ErrorClass::Config);
            assert_eq!(
                failure.to_string(),
                "cannot read the credentials from the command `pass show ci`: it ended with exit status: 1"
            );
            assert_eq!(
                config.credentials(),
                None,
                "nothing read: the next call tries"
            );
            let mut call = create(&config);
            let Action::Refresh(first) = call.step(Event::Ready, inputs()) else {
                panic!("read again");
            };
            // Run as a driver runs it: the key takes the credentials in.
            let given = first.run();
            assert_eq!(config.credentials(), Some(Credentials::new("id", "old")));
            assert_eq!(
                secret_sent(call.step(Event::Credentials(given), inputs())),
                "old"
            );
            // Read: the next call only checks for a change.
            assert_eq!(secret_sent(begin(&mut create(&config))), "old");
            // Built by hand without a `Call`, before any read: an error.
            let unread = Config::with_unread_provider(Arc::new(Credentials::new("id", "s")));
            let err = GetMedia::new(MediaId::new("692f406f9f68d4b70080bb80"))
                .build(&unread)
                .unwrap_err();
            assert!(err.to_string().contains("not read yet"), "{err}");
        }

        #[test]
        fn fixed_credentials_are_never_asked_again() {
            let config = Config::new(Credentials::new("id", "old"));
            let mut call = create(&config);
            let _ = secret_sent(begin(&mut call));
            let failure = refused(call.step(iam001(), inputs()));
            assert_eq!(failure.class(), crate::ErrorClass::Authentication);
        }

        #[test]
        fn credentials_another_flow_renewed_are_used_without_asking() {
            let config = config(false);
            let mut first = create(&config);
            let mut second = create(&config);
            let _ = secret_sent(begin(&mut first));
            let _ = secret_sent(begin(&mut second));
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
            let _ = secret_sent(begin(&mut third));
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
            assert_eq!(bearer_sent(begin(&mut call)), "Bearer api_old");
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
            let _ = bearer_sent(begin(&mut call));
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
}
