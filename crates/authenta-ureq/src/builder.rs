//! How an [`authenta_ureq::Client`](crate::Client) is built: proto's
//! [`ClientBuilder`](authenta_client::ClientBuilder) over this backend.

use authenta_client::proto::{Config, Error};
use authenta_client::{Blocking, ClientSettings};

use crate::Client;
use crate::runtime::StdRuntime;
use crate::transport::UreqTransport;

/// Configures a [`Client`]: credentials, base URL, user agent, timeouts,
/// retry and poll policies, or your own [`ureq::Agent`]
/// ([`http_client`](authenta_client::ClientBuilder::http_client): its TLS,
/// proxy and pool settings; redirects stay off and error statuses stay
/// answers for every request, and this builder's timeouts apply, whatever
/// the agent's configuration).
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
pub type ClientBuilder = authenta_client::ClientBuilder<UreqTransport>;

impl authenta_client::Backend for UreqTransport {
    type Client = Client;
    type Http = ureq::Agent;

    fn build(
        settings: &ClientSettings,
        config: Config,
        agent: Option<ureq::Agent>,
    ) -> Result<Client, Error> {
        let transport = agent
            .map_or_else(UreqTransport::new, UreqTransport::with_agent)
            .connect_timeout(Some(settings.connect_timeout))
            .request_timeout(Some(settings.request_timeout))
            .upload_timeout(settings.upload_timeout)
            .upload_stall_timeout(settings.upload_stall_timeout);
        let runtime = StdRuntime;
        Ok(Client::from_generic(
            settings.client(config, Blocking { transport, runtime }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_client::proto::{Credentials, UploadOptions, ValidationError};

    #[test]
    fn a_client_is_shared_across_threads() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<Client>();
        send_sync::<ClientBuilder>();
    }

    #[test]
    fn client_and_builder_debug_hide_the_secret() {
        let builder = Client::builder()
            .credentials(Credentials::new("id", "hunter2-secret"))
            .http_client(ureq::Agent::new_with_defaults());
        let debug = format!("{builder:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("http_client: true"), "{debug}");
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
        let options = UploadOptions::new(authenta_client::types::ModelType::Ac1);
        let err = client.upload("/no/such/file.png", &options).unwrap_err();
        assert!(
            matches!(
                err.as_proto(),
                Some(authenta_client::proto::ProtocolError::Invalid(
                    ValidationError::Unreadable { .. }
                ))
            ),
            "{err:?}"
        );
        let err = client.upload_reader(&b"abc"[..], 3, &options).unwrap_err();
        assert!(err.to_string().contains("needs a name"), "{err}");
    }
}
