//! What a backend's client builder collects, shared by both backends so
//! their builders cannot drift: credentials (or the environment), base URL,
//! user agent, timeouts and policies.

use std::time::Duration;

use crate::config::{Config, Credentials};
use crate::error::ConfigError;
use crate::poll::PollPolicy;
use crate::retry::RetryPolicy;
use crate::transport::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};

/// A client builder's settings. Backends embed it as a field named
/// `settings` and get its setters from [`client_builder_setters!`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSettings {
    /// The API key; `None` reads the environment.
    pub credentials: Option<Credentials>,
    /// The API root of another deployment; `None` is the environment's
    /// `AUTHENTA_BASE_URL`, else production.
    pub base_url: Option<String>,
    /// The `User-Agent`; `None` is [`crate::config::DEFAULT_USER_AGENT`].
    pub user_agent: Option<String>,
    /// How long making a connection may take.
    pub connect_timeout: Duration,
    /// How long one API call (or artifact download) may take, answer
    /// included.
    pub request_timeout: Duration,
    /// How long a whole upload `PUT` may take; `None` for no limit.
    pub upload_timeout: Option<Duration>,
    /// When to retry.
    pub retry: RetryPolicy,
    /// How `wait` polls.
    pub poll: PollPolicy,
}

impl Default for ClientSettings {
    /// The environment's key, 10 s to connect, 30 s per API call, no limit
    /// on uploads, the default retry and poll policies.
    fn default() -> Self {
        ClientSettings {
            credentials: None,
            base_url: None,
            user_agent: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            upload_timeout: None,
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

    /// The configuration these settings give ([`Config::resolve`]): fails
    /// on invalid credentials, base URL or user agent, or a missing
    /// environment variable when no credentials were given.
    pub fn config(&self) -> Result<Config, ConfigError> {
        Config::resolve(
            self.credentials.clone(),
            self.base_url.as_deref(),
            self.user_agent.as_deref(),
        )
    }
}

/// The setters of a backend's `ClientBuilder` over its `settings:
/// ClientSettings` field, written once for both backends. Expand it inside
/// `impl ClientBuilder { ... }`.
#[doc(hidden)]
#[macro_export]
macro_rules! client_builder_setters {
    () => {
        /// The API key to use. Without it, `build` reads
        /// `AUTHENTA_CLIENT_ID`, `AUTHENTA_CLIENT_SECRET` and
        /// `AUTHENTA_BASE_URL` from the environment.
        pub fn credentials(mut self, credentials: $crate::Credentials) -> Self {
            self.settings.credentials = Some(credentials);
            self
        }

        /// The API root of another deployment (staging, on-prem, an
        /// emulator), such as `https://staging.example.com/api`. Plain
        /// `http` is accepted only for loopback hosts; checked by `build`.
        pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
            self.settings.base_url = Some(url.as_ref().to_owned());
            self
        }

        /// The `User-Agent` of API requests, such as
        /// `my-app/1.2 authenta-rs/0.1`.
        pub fn user_agent(mut self, user_agent: &str) -> Self {
            self.settings.user_agent = Some(user_agent.to_owned());
            self
        }

        /// How long making a connection (TCP and TLS) may take (default
        /// 10 s).
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.settings.connect_timeout = timeout;
            self
        }

        /// How long one API call or artifact download may take, answer
        /// included (default 30 s).
        pub fn request_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.settings.request_timeout = timeout;
            self
        }

        /// How long a whole upload `PUT` may take (default: no limit, since
        /// it depends on the file and the link).
        pub fn upload_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.settings.upload_timeout = Some(timeout);
            self
        }

        /// When and how often to retry (default `RetryPolicy::default()`).
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.settings.retry = policy;
            self
        }

        /// How `wait` polls (default `PollPolicy::default()`).
        pub fn poll_policy(mut self, policy: $crate::PollPolicy) -> Self {
            self.settings.poll = policy;
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Builder {
        settings: ClientSettings,
    }

    impl Builder {
        crate::client_builder_setters!();
    }

    #[test]
    fn the_setters_fill_the_settings() {
        let b = Builder::default()
            .credentials(Credentials::new("id", "secret"))
            .base_url("http://127.0.0.1:9/api")
            .user_agent("ua/1")
            .connect_timeout(Duration::from_secs(1))
            .request_timeout(Duration::from_secs(2))
            .upload_timeout(Duration::from_secs(3))
            .retry_policy(RetryPolicy::never())
            .poll_policy(PollPolicy::fixed(
                Duration::from_secs(1),
                Duration::from_secs(4),
            ));
        let s = &b.settings;
        assert_eq!(
            (s.connect_timeout, s.request_timeout, s.upload_timeout),
            (
                Duration::from_secs(1),
                Duration::from_secs(2),
                Some(Duration::from_secs(3))
            )
        );
        assert_eq!(s.retry, RetryPolicy::never());
        let config = s.config().unwrap();
        assert_eq!(config.base_url(), "http://127.0.0.1:9/api");
        assert_eq!(config.user_agent(), "ua/1");
        assert!(!format!("{s:?}").contains("secret\""), "{s:?}");
    }

    #[test]
    fn defaults() {
        let s = ClientSettings::default();
        assert_eq!(s.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(s.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(s.upload_timeout, None);
    }
}
