//! [`ClientBuilder`]: how an [`authenta_ureq::Client`](crate::Client) is made.

use std::fmt;

use authenta_proto::{Blocking, ClientSettings, Failure};

use crate::Client;
use crate::runtime::StdRuntime;
use crate::transport::UreqTransport;

impl authenta_proto::Backend for UreqTransport {
    type Driver = Blocking<UreqTransport, StdRuntime>;
    type Builder = ClientBuilder;

    fn build(builder: ClientBuilder) -> Result<Client, Failure> {
        builder.build()
    }
}

/// Configures a [`Client`]: credentials, base URL, user agent, timeouts,
/// retry and poll policies, or your own `ureq::Agent`.
///
/// ```
/// use std::time::Duration;
/// use authenta_ureq::{Client, Credentials, PollPolicy, RetryPolicy};
///
/// let client = Client::builder()
///     .credentials(Credentials::new("my-client-id", "my-secret"))
///     .base_url("https://staging.example.com/api")
///     .user_agent("my-app/1.0")
///     .connect_timeout(Duration::from_secs(5))
///     .request_timeout(Duration::from_secs(20))
///     .upload_timeout(Duration::from_secs(600))
///     .retry_policy(RetryPolicy::default())
///     .poll_policy(PollPolicy::default().with_max_wait(Duration::from_secs(300)))
///     .build()?;
/// assert!(!format!("{client:?}").contains("my-secret"));
/// # Ok::<(), authenta_ureq::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    settings: ClientSettings,
    agent: Option<ureq::Agent>,
}

impl fmt::Debug for ClientBuilder {
    // The agent stays out: its proxy settings may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("agent", &self.agent.is_some())
            .finish()
    }
}

impl ClientBuilder {
    authenta_proto::client_builder_setters!();

    /// Sends through your own agent (its TLS, proxy and pool settings).
    /// Redirects stay off and error statuses stay answers for every
    /// request, and this builder's timeouts apply, whatever the agent's
    /// configuration.
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Builds the client. Fails on invalid credentials, base URL or user
    /// agent, or, without [`ClientBuilder::credentials`], a missing
    /// environment variable.
    pub fn build(self) -> Result<Client, Failure> {
        let config = self.settings.config()?;
        let transport = match self.agent {
            Some(agent) => UreqTransport::with_agent(agent),
            None => UreqTransport::new(),
        }
        .connect_timeout(Some(self.settings.connect_timeout))
        .request_timeout(Some(self.settings.request_timeout))
        .upload_timeout(self.settings.upload_timeout);
        let driver = Blocking {
            transport,
            runtime: StdRuntime,
        };
        Ok(self.settings.client(config, driver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_proto::{Credentials, UploadOptions, ValidationError};

    #[test]
    fn a_client_is_shared_across_threads() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<Client>();
        send_sync::<ClientBuilder>();
    }

    #[test]
    fn the_builder_checks_what_it_is_given() {
        let creds = || Credentials::new("id", "hunter2-secret");
        let err = Client::builder()
            .credentials(creds())
            .base_url("http://example.com/api")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("use https"), "{err}");
        let err = Client::builder()
            .credentials(creds())
            .user_agent("bad\nagent")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("user agent"), "{err}");
        let client = Client::builder()
            .credentials(creds())
            .user_agent("app/1")
            .build()
            .unwrap();
        assert_eq!(client.config().user_agent(), "app/1");
        assert_eq!(
            client.config().base_url(),
            "https://platform.authenta.ai/api"
        );
    }

    #[test]
    fn client_and_builder_debug_hide_the_secret() {
        let builder = Client::builder()
            .credentials(Credentials::new("id", "hunter2-secret"))
            .agent(ureq::Agent::new_with_defaults());
        let debug = format!("{builder:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("agent: true"), "{debug}");
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("platform.authenta.ai"), "{debug}");
    }

    #[test]
    fn a_missing_file_is_refused_before_any_request() {
        // Port 1 on loopback: any request would fail with a connect error.
        let client = Client::builder()
            .credentials(Credentials::new("id", "secret"))
            .base_url("http://127.0.0.1:1/api")
            .build()
            .unwrap();
        let options = UploadOptions::new(authenta_proto::types::ModelType::Ac1);
        let err = client.upload("/no/such/file.png", &options).unwrap_err();
        assert!(
            matches!(
                err.as_proto(),
                Some(authenta_proto::Error::Invalid(
                    ValidationError::Unreadable { .. }
                ))
            ),
            "{err:?}"
        );
        let err = client.upload_reader(&b"abc"[..], 3, &options).unwrap_err();
        assert!(err.to_string().contains("needs a name"), "{err}");
    }
}
