//! What a backend's client builder collects, shared by both backends so
//! their builders cannot drift: credentials (or the environment), base URL,
//! user agent, timeouts and policies.

use std::sync::Arc;
use std::time::Duration;

use crate::ConfigError;
use crate::CredentialProvider;
use crate::PollPolicy;
use crate::RetryPolicy;
use crate::transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_UPLOAD_STALL_TIMEOUT,
};
use crate::{Config, Credentials};

/// A client builder's settings. Backends embed it as a field named
/// `settings`; [`ClientBuilder`](crate::ClientBuilder) holds one.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSettings {
    /// The API key; `None` takes the provider, the profile or the
    /// environment.
    pub credentials: Option<Credentials>,
    /// Where the credentials come from, when not fixed.
    pub provider: Option<SharedProvider>,
    /// The profile of the config file to read what is not given.
    #[cfg(feature = "profile")]
    pub profile: Option<String>,
    /// The API root of another deployment; `None` is the environment's
    /// `AUTHENTA_BASE_URL`, else production.
    pub base_url: Option<String>,
    /// The `User-Agent`; `None` is [`crate::DEFAULT_USER_AGENT`].
    pub user_agent: Option<String>,
    /// How long making a connection may take.
    pub connect_timeout: Duration,
    /// How long one API call (or artifact download) may take, answer
    /// included.
    pub request_timeout: Duration,
    /// How long a whole upload `PUT` may take; `None` for no limit.
    pub upload_timeout: Option<Duration>,
    /// How long an upload `PUT` may go without progress (no byte of the
    /// body accepted, or no answer once it is sent); `None` for no limit.
    pub upload_stall_timeout: Option<Duration>,
    /// When to retry.
    pub retry: RetryPolicy,
    /// How `wait` polls.
    pub poll: PollPolicy,
}

impl Default for ClientSettings {
    /// The environment's key, 10 s to connect, 30 s per API call, no limit
    /// on a whole upload but 60 s without progress, the default retry and
    /// poll policies.
    fn default() -> Self {
        ClientSettings {
            credentials: None,
            provider: None,
            #[cfg(feature = "profile")]
            profile: None,
            base_url: None,
            user_agent: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            upload_timeout: None,
            upload_stall_timeout: Some(DEFAULT_UPLOAD_STALL_TIMEOUT),
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
        }
    }
}

impl ClientSettings {
    /// A client over `driver` with these settings' configuration and
    /// policies: what every backend's `build` ends with.
    pub fn client<D>(&self, config: Config, driver: D) -> crate::Client<D> {
        crate::Client::with_policies(config, driver, self.retry, self.poll)
    }

    /// The configuration these settings give ([`Config::resolve_with`] over
    /// the process environment): fails
    /// on invalid credentials, base URL or user agent, or a missing
    /// environment variable when no credentials were given.
    pub fn config(&self) -> Result<Config, ConfigError> {
        self.config_in(
            #[cfg(feature = "profile")]
            crate::profile::config_path,
            true,
        )
    }

    /// Like [`config`](ClientSettings::config), but a credential provider
    /// (given, or a profile's secret source) is not read now: the client's
    /// first call reads it ([`Config::with_unread_provider`]), through its
    /// runtime's `unblock`. What an async backend's `build` uses, so that
    /// building never runs a secret command or reads a secret file on the
    /// runtime's thread.
    pub fn config_unread(&self) -> Result<Config, ConfigError> {
        self.config_in(
            #[cfg(feature = "profile")]
            crate::profile::config_path,
            false,
        )
    }

    fn config_in(
        &self,
        #[cfg(feature = "profile")] config_path: impl Fn() -> Result<std::path::PathBuf, ConfigError>,
        read_now: bool,
    ) -> Result<Config, ConfigError> {
        let from = |provider: &SharedProvider| match read_now {
            true => Config::from_shared_provider(provider.0.clone()),
            false => Ok(Config::with_unread_provider(provider.0.clone())),
        };
        #[cfg(feature = "profile")]
        if let Some(name) = &self.profile {
            let profile = crate::profile::Profile::load_from(&config_path()?, name)?;
            let config = match (&self.credentials, &self.provider) {
                // Fixed credentials: nothing to read.
                (Some(credentials), _) => {
                    Config::from_shared_provider(Arc::new(credentials.clone()))?
                }
                (None, Some(provider)) => from(provider)?,
                (None, None) => from(&SharedProvider(Arc::new(profile.provider()?)))?,
            };
            let base_url = self.base_url.clone().or(profile.base_url);
            return config.overridden(base_url.as_deref(), self.user_agent.as_deref());
        }
        if let (None, Some(provider)) = (&self.credentials, &self.provider) {
            return from(provider)?
                .overridden(self.base_url.as_deref(), self.user_agent.as_deref());
        }
        crate::env::resolve(
            self.credentials.clone(),
            self.base_url.as_deref(),
            self.user_agent.as_deref(),
        )
    }
}

/// A [`CredentialProvider`] held by the settings: compared by identity,
/// shown by what it reads.
#[derive(Clone)]
pub struct SharedProvider(pub Arc<dyn CredentialProvider>);

impl PartialEq for SharedProvider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for SharedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedProvider({})", self.0.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    impl crate::Backend for Nothing {
        type Client = crate::Client<()>;
        type Http = ();

        fn build(
            _: &ClientSettings,
            _: Config,
            _: Option<()>,
        ) -> Result<crate::Client<()>, crate::Error> {
            unreachable!("only the settings are read")
        }
    }

    type Builder = crate::ClientBuilder<Nothing>;

    #[test]
    fn the_setters_fill_the_settings() {
        let b = Builder::default()
            .credentials(Credentials::new("id", "secret"))
            .base_url("http://127.0.0.1:9/api")
            .user_agent("ua/1")
            .connect_timeout(Duration::from_secs(1))
            .request_timeout(Duration::from_secs(2))
            .upload_timeout(Duration::from_secs(3))
            .upload_stall_timeout(Some(Duration::from_secs(4)))
            .retry_policy(RetryPolicy::never())
            .poll_policy(PollPolicy::fixed(
                Duration::from_secs(1),
                Duration::from_secs(4),
            ));
        let s = b.settings();
        assert_eq!(
            (s.connect_timeout, s.request_timeout, s.upload_timeout),
            (
                Duration::from_secs(1),
                Duration::from_secs(2),
                Some(Duration::from_secs(3))
            )
        );
        assert_eq!(s.upload_stall_timeout, Some(Duration::from_secs(4)));
        assert_eq!(s.retry, RetryPolicy::never());
        let config = s.config().unwrap();
        assert_eq!(config.base_url(), "http://127.0.0.1:9/api");
        assert_eq!(config.user_agent(), "ua/1");
        assert!(!format!("{s:?}").contains("secret\""), "{s:?}");
    }

    #[cfg(feature = "profile")]
    #[test]
    fn a_builders_profile_gives_what_its_setters_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let secret = dir.path().join("ci.secret");
        crate::profile::write_secret_file(&secret, &"from-file".into()).unwrap();
        std::fs::write(
            &path,
            format!(
                "[profile.ci]\nbase_url = \"http://127.0.0.1:9/api\"\nclient_id = \"ci-id\"\nclient_secret_file = \"{}\"\n",
                secret.display()
            ),
        )
        .unwrap();
        let at = || Ok(path.clone());
        let config = Builder::default()
            .profile("ci")
            .settings()
            .config_in(at, true)
            .unwrap();
        assert_eq!(config.base_url(), "http://127.0.0.1:9/api");
        assert_eq!(config.credentials().unwrap().client_id(), Some("ci-id"));
        assert_eq!(
            config
                .credentials()
                .unwrap()
                .client_secret()
                .unwrap()
                .expose(),
            "from-file"
        );
        assert!(
            config.provider().is_some(),
            "the file is read again when it changes"
        );
        let given = Builder::default()
            .profile("ci")
            .credentials(Credentials::new("id", "given"))
            .base_url("http://127.0.0.1:10/api");
        let config = given.settings().config_in(at, true).unwrap();
        assert_eq!(config.base_url(), "http://127.0.0.1:10/api");
        assert_eq!(
            config
                .credentials()
                .unwrap()
                .client_secret()
                .unwrap()
                .expose(),
            "given"
        );
        // Unread (an async backend's build): the profile's secret file
        // waits for the first call; given credentials are simply used.
        let unread = Builder::default()
            .profile("ci")
            .settings()
            .config_in(at, false)
            .unwrap();
        assert_eq!(unread.credentials(), None);
        assert_eq!(unread.base_url(), "http://127.0.0.1:9/api");
        let given = given.settings().config_in(at, false).unwrap();
        assert!(given.credentials().is_some());
        let missing = Builder::default()
            .profile("prod")
            .settings()
            .config_in(at, true);
        assert!(missing.unwrap_err().to_string().contains("no profile prod"));
    }

    #[test]
    fn defaults() {
        let s = ClientSettings::default();
        assert_eq!(s.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(s.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(s.upload_timeout, None);
        assert_eq!(s.upload_stall_timeout, Some(DEFAULT_UPLOAD_STALL_TIMEOUT));
    }
}
