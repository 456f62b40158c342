//! What every API request needs: the base URL, the user agent, and the
//! shared key (its credentials, their provider and the quota counts, all
//! defined in `credentials`), and the variables' rules over a lookup.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;

use crate::credentials::{
    CredentialProvider, Credentials, ENV_API_KEY, ENV_CLIENT_ID, ENV_CLIENT_SECRET, Key, QuotaUsage,
};
use crate::error::ConfigError;

/// The environment variable holding the base URL (optional).
pub const ENV_BASE_URL: &str = "AUTHENTA_BASE_URL";

/// The `User-Agent` this crate sends unless told otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("authenta-rs/", env!("CARGO_PKG_VERSION"));

/// Everything an API request needs: where the API is, who is calling, and
/// how the client names itself.
///
/// ```
/// use authenta_proto::{Config, Credentials};
///
/// let config = Config::new(Credentials::new("my-id", "my-secret"))
///     .with_base_url("http://127.0.0.1:8080/api")
///     .unwrap();
/// assert_eq!(config.base_url(), "http://127.0.0.1:8080/api");
/// assert!(!format!("{config:?}").contains("my-secret"));
/// ```
#[derive(Clone)]
pub struct Config {
    base_url: String,
    key: Arc<Key>,
    user_agent: HeaderValue,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("key", &self.key)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl Config {
    /// A configuration for the production API
    /// ([`DEFAULT_BASE_URL`](authenta_types::DEFAULT_BASE_URL)).
    ///
    /// # Panics
    /// Never for credentials made of visible ASCII; a credential holding a
    /// control character cannot be a header and panics. Use
    /// [`Config::try_new`] to get an error instead.
    pub fn new(credentials: Credentials) -> Self {
        Self::try_new(credentials).expect("credentials must be valid header values")
    }

    /// Like [`Config::new`], with an error for credentials that cannot be
    /// HTTP header values.
    pub fn try_new(credentials: Credentials) -> Result<Self, ConfigError> {
        Self::with_key(Key::new(credentials, None)?)
    }

    /// A configuration for the production API whose credentials come from
    /// `provider`: asked once now, and again when it says they changed or
    /// after the API refuses them (`IAM001`), after which the refused
    /// request is sent once more with the new ones.
    pub fn from_provider(provider: impl CredentialProvider + 'static) -> Result<Self, ConfigError> {
        Self::from_shared_provider(Arc::new(provider))
    }

    /// Like [`Config::from_provider`], with a provider already shared.
    pub fn from_shared_provider(
        provider: Arc<dyn CredentialProvider>,
    ) -> Result<Self, ConfigError> {
        let credentials = provider.credentials().map_err(ConfigError::Credentials)?;
        Self::with_key(Key::new(credentials, Some(provider))?)
    }

    /// A configuration for the production API whose credentials come from
    /// `provider`, not read now: the first call reads them (an
    /// [`Action::Refresh`](crate::engine::Action::Refresh) its driver runs,
    /// off an async runtime's threads), and a failure to read them is that
    /// call's error. Calls that start together read the provider once.
    /// Until then [`credentials`](Config::credentials) is `None`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use authenta_proto::{Config, Credentials};
    ///
    /// let config = Config::with_unread_provider(Arc::new(Credentials::new("id", "s3cr3t")));
    /// assert_eq!(config.credentials(), None, "read by the first call");
    /// ```
    pub fn with_unread_provider(provider: Arc<dyn CredentialProvider>) -> Self {
        Config {
            base_url: authenta_types::DEFAULT_BASE_URL.to_owned(),
            key: Arc::new(Key::unread(provider)),
            user_agent: HeaderValue::from_static(DEFAULT_USER_AGENT),
        }
    }

    fn with_key(key: Key) -> Result<Self, ConfigError> {
        Ok(Config {
            base_url: authenta_types::DEFAULT_BASE_URL.to_owned(),
            key: Arc::new(key),
            user_agent: HeaderValue::from_static(DEFAULT_USER_AGENT),
        })
    }

    /// The configuration the variables give, read through `lookup`:
    /// `AUTHENTA_API_KEY`, or `AUTHENTA_CLIENT_ID` and
    /// `AUTHENTA_CLIENT_SECRET` (setting both kinds is an error that says
    /// which to unset); and, if set, `AUTHENTA_BASE_URL`. This crate reads
    /// no variable itself: `authenta-client`'s `Config::from_env` passes
    /// the process environment.
    ///
    /// ```
    /// use authenta_proto::{Config, ConfigError};
    ///
    /// let err = Config::from_lookup(|_| None).unwrap_err();
    /// assert_eq!(err, ConfigError::MissingVariable("AUTHENTA_API_KEY"));
    /// let key = Config::from_lookup(|name| {
    ///     (name == "AUTHENTA_API_KEY").then(|| "api_3f9c2a71d04b8e65c1a7f02d9b34e810".to_owned())
    /// })
    /// .unwrap();
    /// assert!(key.credentials().unwrap().as_api_key().is_some());
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::MissingVariable(name))
        };
        let config = Config::try_new(credentials_from_lookup(&lookup)?)?;
        match get(ENV_BASE_URL) {
            Ok(url) => config.with_base_url(url.trim()),
            Err(_) => Ok(config),
        }
    }

    /// The configuration a client builder ends with: `credentials` when
    /// given, else the variables `lookup` reads ([`Config::from_lookup`]);
    /// then `base_url` and `user_agent` when given. A given base URL
    /// replaces `AUTHENTA_BASE_URL`, which is then not read at all.
    ///
    /// ```
    /// use authenta_proto::{Config, Credentials};
    ///
    /// let config = Config::resolve_with(
    ///     Some(Credentials::new("id", "secret")),
    ///     Some("http://127.0.0.1:8080/api"),
    ///     Some("my-app/1.0"),
    ///     |_| None,
    /// )
    /// .unwrap();
    /// assert_eq!(config.base_url(), "http://127.0.0.1:8080/api");
    /// assert_eq!(config.user_agent(), "my-app/1.0");
    /// ```
    pub fn resolve_with(
        credentials: Option<Credentials>,
        base_url: Option<&str>,
        user_agent: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let config = match credentials {
            Some(credentials) => Config::try_new(credentials)?,
            None if base_url.is_some() => {
                Config::from_lookup(|name| (name != ENV_BASE_URL).then(|| lookup(name)).flatten())?
            }
            None => Config::from_lookup(lookup)?,
        };
        config.overridden(base_url, user_agent)
    }

    /// This configuration with the base URL and user agent given, if any.
    pub fn overridden(
        self,
        base_url: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let config = match base_url {
            Some(url) => self.with_base_url(url)?,
            None => self,
        };
        match user_agent {
            Some(user_agent) => config.with_user_agent(user_agent),
            None => Ok(config),
        }
    }

    /// Points the configuration at another deployment (dev, staging,
    /// on-prem, or an emulator). The URL is the API root, such as
    /// `https://platform.authenta.ai/api`; every route extends it.
    ///
    /// Plain `http` is accepted only for loopback hosts, so the secret never
    /// crosses a network unencrypted.
    pub fn with_base_url(mut self, url: impl AsRef<str>) -> Result<Self, ConfigError> {
        self.base_url = parse_base_url(url.as_ref())?;
        Ok(self)
    }

    /// Sets the `User-Agent` header (for example `my-app/1.2 authenta-rs/0.1`).
    pub fn with_user_agent(mut self, user_agent: &str) -> Result<Self, ConfigError> {
        self.user_agent = HeaderValue::from_str(user_agent).map_err(|_| {
            ConfigError::InvalidUserAgent("it holds characters a header cannot carry".into())
        })?;
        Ok(self)
    }

    /// The API root, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The credentials requests are built with now (the provider's latest,
    /// when there is one); `None` until the first call read those of a
    /// configuration built [unread](Config::with_unread_provider).
    pub fn credentials(&self) -> Option<Credentials> {
        self.key.current().map(|c| c.credentials)
    }

    /// Where the credentials come from, if not fixed.
    pub fn provider(&self) -> Option<&Arc<dyn CredentialProvider>> {
        self.key.provider()
    }

    /// The quota spent by requests built from this configuration (and its
    /// clones); a client (`authenta_client::Client`) has its own count.
    pub fn usage(&self) -> QuotaUsage {
        self.key.usage()
    }

    /// The key's shared state.
    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// The action of reading the key's provider for the first time; `None`
    /// once it holds credentials.
    pub(crate) fn first_read(&self) -> Option<crate::credentials::Refresh> {
        Key::first_read(&self.key)
    }

    /// The same configuration with a key of its own: the same credentials
    /// and provider, a quota count of its own (each client counts its own).
    pub fn with_own_key(mut self) -> Self {
        self.key = Arc::new(self.key.fork());
        self
    }

    /// The `User-Agent` header value.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.user_agent
    }

    /// Whether `url` points at the API's own origin (scheme, host and port),
    /// the only place credentials may go.
    pub fn is_api_origin(&self, url: &http::Uri) -> bool {
        let Ok(base) = self.base_url.parse::<http::Uri>() else {
            return false;
        };
        base.scheme() == url.scheme()
            && base.host().map(str::to_ascii_lowercase) == url.host().map(str::to_ascii_lowercase)
            && base.port_u16() == url.port_u16()
    }
}

/// The credentials the variables give: `AUTHENTA_API_KEY`, or
/// `AUTHENTA_CLIENT_ID` and `AUTHENTA_CLIENT_SECRET`; never both kinds.
pub(crate) fn credentials_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, ConfigError> {
    let get = |name: &'static str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let (key, id, secret) = (get(ENV_API_KEY), get(ENV_CLIENT_ID), get(ENV_CLIENT_SECRET));
    match (key, id, secret) {
        (Some(_), id, secret) if id.is_some() || secret.is_some() => Err(ConfigError::BothKinds {
            api_key: ENV_API_KEY,
            client_secret: if id.is_some() && secret.is_some() {
                "AUTHENTA_CLIENT_ID and AUTHENTA_CLIENT_SECRET"
            } else if id.is_some() {
                ENV_CLIENT_ID
            } else {
                ENV_CLIENT_SECRET
            },
        }),
        (Some(key), _, _) => Ok(Credentials::api_key(key)),
        (None, Some(id), Some(secret)) => Ok(Credentials::new(id, secret)),
        (None, Some(_), None) => Err(ConfigError::MissingVariable(ENV_CLIENT_SECRET)),
        (None, None, Some(_)) => Err(ConfigError::MissingVariable(ENV_CLIENT_ID)),
        (None, None, None) => Err(ConfigError::MissingVariable(ENV_API_KEY)),
    }
}

fn parse_base_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |why: &str| ConfigError::InvalidBaseUrl {
        url: url.to_owned(),
        reason: why.to_owned(),
    };
    let uri: http::Uri = url.parse().map_err(|_| {
        invalid("it is not a URL; expected something like https://platform.authenta.ai/api")
    })?;
    let host = uri.host().ok_or_else(|| {
        invalid("it has no host; expected something like https://platform.authenta.ai/api")
    })?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => {
            return Err(invalid(
                "plain http would send the credentials unencrypted; use https (http is allowed only for 127.0.0.1, ::1 and localhost)",
            ));
        }
        Some(other) => {
            return Err(invalid(&format!(
                "its scheme is {other}, the API is reached over https (http only for 127.0.0.1, ::1 and localhost)"
            )));
        }
        None => {
            return Err(invalid(
                "it has no scheme; expected something like https://platform.authenta.ai/api",
            ));
        }
    }
    if uri.query().is_some() {
        return Err(invalid("it must not have a query string"));
    }
    if url.contains('@') {
        return Err(invalid("credentials go in headers, not in the URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Whether a host is the local machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::CredentialKind;

    fn vars(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let pairs = pairs.to_vec();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn from_env_names_the_missing_variable() {
        assert_eq!(
            Config::from_lookup(vars(&[])).unwrap_err(),
            ConfigError::MissingVariable(ENV_API_KEY)
        );
        assert_eq!(
            Config::from_lookup(vars(&[(ENV_CLIENT_SECRET, "s")])).unwrap_err(),
            ConfigError::MissingVariable(ENV_CLIENT_ID)
        );
        assert_eq!(
            Config::from_lookup(vars(&[(ENV_CLIENT_ID, "id")])).unwrap_err(),
            ConfigError::MissingVariable(ENV_CLIENT_SECRET)
        );
        let err = Config::from_lookup(vars(&[(ENV_CLIENT_ID, "id"), (ENV_CLIENT_SECRET, " ")]))
            .unwrap_err();
        assert!(err.to_string().contains("AUTHENTA_CLIENT_SECRET"), "{err}");
    }

    #[test]
    fn from_env_reads_all_three() {
        let config = Config::from_lookup(vars(&[
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "s3cr3t"),
            (ENV_BASE_URL, "https://staging.example.com/api/"),
        ]))
        .unwrap();
        assert_eq!(config.base_url(), "https://staging.example.com/api");
        assert_eq!(config.credentials().unwrap().client_id(), Some("id"));
        assert_eq!(
            config
                .credentials()
                .unwrap()
                .client_secret()
                .unwrap()
                .expose(),
            "s3cr3t"
        );
        let default =
            Config::from_lookup(vars(&[(ENV_CLIENT_ID, "id"), (ENV_CLIENT_SECRET, "s")])).unwrap();
        assert_eq!(default.base_url(), "https://platform.authenta.ai/api");
    }

    #[test]
    fn secret_is_redacted_and_sensitive() {
        let config = Config::new(Credentials::new("id", "hunter2-secret"));
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        let headers = config.key().current().unwrap().headers;
        assert_eq!(headers[0].0, "x-client-id");
        assert!(!headers[0].1.is_sensitive());
        assert_eq!(headers[1].0, "x-client-secret");
        assert!(headers[1].1.is_sensitive());
        assert!(!format!("{:?}", config.credentials()).contains("hunter2"));
    }

    #[test]
    fn an_api_key_is_one_sensitive_bearer_header_and_mostly_redacted() {
        let token = "api_hunter2hunter2hunter2hunter2";
        let config = Config::new(Credentials::api_key(token));
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("api_hu…"), "{debug}");
        let headers = config.key().current().unwrap().headers;
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, http::header::AUTHORIZATION);
        assert_eq!(headers[0].1, format!("Bearer {token}").as_str());
        assert!(headers[0].1.is_sensitive());
        assert_eq!(
            Config::try_new(Credentials::api_key("api_a\nb")).unwrap_err(),
            ConfigError::InvalidCredential(ENV_API_KEY)
        );
    }

    #[test]
    fn the_variables_give_one_kind_and_refuse_both() {
        let config = Config::from_lookup(vars(&[(ENV_API_KEY, " api_abc \n")])).unwrap();
        assert_eq!(config.credentials(), Some(Credentials::api_key("api_abc")));
        for both in [
            vars(&[
                (ENV_API_KEY, "api_abc"),
                (ENV_CLIENT_ID, "id"),
                (ENV_CLIENT_SECRET, "s"),
            ]),
            vars(&[(ENV_API_KEY, "api_abc"), (ENV_CLIENT_SECRET, "s")]),
        ] {
            let err =
                crate::ProtocolError::from(Config::from_lookup(both).unwrap_err()).to_string();
            assert!(err.contains("both"), "{err}");
            assert!(err.contains("unset AUTHENTA_API_KEY"), "{err}");
            assert!(err.contains("unset AUTHENTA_CLIENT_"), "{err}");
        }
        // An empty variable counts as unset.
        let config = Config::from_lookup(vars(&[
            (ENV_API_KEY, " "),
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "s"),
        ]))
        .unwrap();
        assert_eq!(
            config.credentials().unwrap().kind(),
            CredentialKind::ClientSecret
        );
    }

    #[test]
    fn resolve_takes_what_is_given_then_the_environment() {
        let env = vars(&[
            (ENV_CLIENT_ID, "env-id"),
            (ENV_CLIENT_SECRET, "env-secret"),
            (ENV_BASE_URL, "not a url"),
        ]);
        let given =
            Config::resolve_with(Some(Credentials::new("id", "s")), None, None, &env).unwrap();
        assert_eq!(given.credentials().unwrap().client_id(), Some("id"));
        assert_eq!(given.base_url(), authenta_types::DEFAULT_BASE_URL);
        // The environment's base URL is not read when one is given.
        let from_env = Config::resolve_with(
            None,
            Some("https://staging.example.com/api"),
            Some("app/2"),
            &env,
        )
        .unwrap();
        assert_eq!(from_env.credentials().unwrap().client_id(), Some("env-id"));
        assert_eq!(from_env.base_url(), "https://staging.example.com/api");
        assert_eq!(from_env.user_agent(), "app/2");
        assert!(matches!(
            Config::resolve_with(None, None, None, &env),
            Err(ConfigError::InvalidBaseUrl { .. })
        ));
        assert_eq!(
            Config::resolve_with(None, Some("https://x.example/api"), None, vars(&[])).unwrap_err(),
            ConfigError::MissingVariable(ENV_API_KEY)
        );
        let bad_agent =
            Config::resolve_with(Some(Credentials::new("id", "s")), None, Some("a\nb"), &env);
        assert!(matches!(bad_agent, Err(ConfigError::InvalidUserAgent(_))));
    }

    #[test]
    fn base_url_rules() {
        let c = Config::new(Credentials::new("id", "s"));
        assert!(c.clone().with_base_url("http://127.0.0.1:9/api").is_ok());
        assert!(c.clone().with_base_url("http://[::1]:9/api").is_ok());
        assert!(c.clone().with_base_url("http://localhost/api").is_ok());
        let err = c
            .clone()
            .with_base_url("http://example.com/api")
            .unwrap_err();
        assert!(err.to_string().contains("use https"), "{err}");
        assert!(c.clone().with_base_url("ftp://example.com").is_err());
        assert!(
            c.clone()
                .with_base_url("https://example.com/api?x=1")
                .is_err()
        );
        assert!(c.clone().with_base_url("not a url").is_err());
        assert!(c.with_base_url("https://u:p@example.com/api").is_err());
    }

    #[test]
    fn api_origin() {
        let c = Config::new(Credentials::new("id", "s"))
            .with_base_url("https://platform.authenta.ai/api")
            .unwrap();
        assert!(c.is_api_origin(&"https://PLATFORM.authenta.ai/api/media".parse().unwrap()));
        assert!(
            !c.is_api_origin(
                &"https://authenta-storage.s3.amazonaws.com/x"
                    .parse()
                    .unwrap()
            )
        );
        assert!(!c.is_api_origin(&"http://platform.authenta.ai/api".parse().unwrap()));
        assert!(!c.is_api_origin(&"https://platform.authenta.ai:8443/api".parse().unwrap()));
    }

    #[test]
    fn each_config_error_carries_the_hint_of_its_own_cause() {
        let err = crate::ProtocolError::from(
            Config::new(Credentials::new("id", "s"))
                .with_base_url("ftp://x")
                .unwrap_err(),
        );
        let text = err.to_string();
        assert!(text.contains("its scheme is ftp"), "{text}");
        assert!(text.contains("AUTHENTA_BASE_URL"), "{text}");
        assert!(
            !text.contains("CLIENT_SECRET") && !text.contains("credentials"),
            "{text}"
        );
        let text = Config::new(Credentials::new("id", "s"))
            .with_base_url("platform.authenta.ai")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("no scheme") || text.contains("no host"),
            "{text}"
        );
        let missing =
            crate::ProtocolError::from(ConfigError::MissingVariable(ENV_CLIENT_ID)).to_string();
        assert!(
            missing.contains("set AUTHENTA_API_KEY")
                && missing.contains("AUTHENTA_CLIENT_ID and AUTHENTA_CLIENT_SECRET"),
            "{missing}"
        );
        let bad = crate::ProtocolError::from(ConfigError::InvalidCredential(ENV_CLIENT_SECRET))
            .to_string();
        assert!(!bad.contains("set AUTHENTA"), "{bad}");
    }
}
