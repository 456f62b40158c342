//! How an [`authenta_reqwest::Client`](crate::Client) is built: proto's
//! [`ClientBuilder`](authenta_client::ClientBuilder) over this backend.

use authenta_client::proto::{Config, ConfigError, Error};
use authenta_client::{Async, ClientSettings};

use crate::{Client, ReqwestTransport, TokioRuntime};

/// Configures a [`Client`]: credentials, base URL, user agent, timeouts,
/// retry and poll policies, or your own [`reqwest::Client`]
/// ([`http_client`](authenta_client::ClientBuilder::http_client)).
///
/// Your own reqwest client **must be built without redirects**
/// (`.redirect(reqwest::redirect::Policy::none())`): reqwest keeps custom
/// headers such as `x-client-secret` on a redirect, even to another host,
/// so `build` refuses a client whose policy may follow one. Start from
/// [`reqwest_client_builder`](crate::reqwest_client_builder) to keep this
/// crate's settings. This builder's request and upload timeouts apply to
/// each request; the connect timeout and user agent are the client's own.
///
/// ```
/// use std::time::Duration;
/// use authenta_reqwest::{Client, Credentials, PollPolicy, RetryPolicy};
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
/// assert_eq!(client.config().base_url(), "https://staging.example.com/api");
/// # Ok::<(), authenta_reqwest::Error>(())
/// ```
pub type ClientBuilder = authenta_client::ClientBuilder<ReqwestTransport>;

impl authenta_client::Backend for ReqwestTransport {
    type Client = Client;
    type Http = reqwest::Client;
    // A secret command or file is read by the first call, on tokio's
    // blocking pool, never by `build` on a runtime thread.
    const READS_PROVIDER_LATER: bool = true;

    fn build(
        settings: &ClientSettings,
        config: Config,
        http: Option<reqwest::Client>,
    ) -> Result<Client, Error> {
        let http = match http {
            Some(http) => http,
            None => crate::reqwest_client_builder()
                .connect_timeout(settings.connect_timeout)
                .user_agent(config.user_agent().clone())
                .build()
                .map_err(|e| {
                    let cause = authenta_client::proto::error::error_chain(&e);
                    ConfigError::HttpClient(format!("reqwest could not start: {cause}"))
                })?,
        };
        let transport = ReqwestTransport::new(http)?
            .request_timeout(Some(settings.request_timeout))
            .upload_timeout(settings.upload_timeout)
            .upload_stall_timeout(settings.upload_stall_timeout);
        let runtime = TokioRuntime;
        Ok(Client::from_generic(
            settings.client(config, Async { transport, runtime }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use authenta_client::ByteStream;
    use authenta_client::proto::{Credentials, UploadOptions};
    use authenta_client::types::LIST_LIMIT_MAX;

    fn creds() -> Credentials {
        Credentials::new("id", "hunter2-secret")
    }

    #[test]
    fn the_builder_checks_what_it_is_given() {
        let refused = [
            (
                Client::builder().base_url("http://example.com/api"),
                "use https",
            ),
            (Client::builder().user_agent("bad\nagent"), "user agent"),
        ];
        for (builder, why) in refused {
            let err = builder.credentials(creds()).build().unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
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
    fn clients_futures_and_streams_can_move_between_threads() {
        fn send<T: Send + Sync + 'static>(_: &T) {}
        fn send_borrowed<T: Send>(_: &T) {}
        let client = Client::builder().credentials(creds()).build().unwrap();
        send(&client);
        let options = UploadOptions::new(authenta_client::types::ModelType::Ac1);
        send_borrowed(&client.process("a.png", &options));
        send_borrowed(&client.process_many(vec![PathBuf::from("a.png")], &options, 2));
        send_borrowed(&client.list_all());
        // Ids as users have them: text or a MediaId.
        send_borrowed(&client.get("692f406f9f68d4b70080bb80"));
        send_borrowed(&client.wait(String::from("692f406f9f68d4b70080bb80")));
        send_borrowed(&client.delete(&crate::MediaId::new("692f406f9f68d4b70080bb80")));
        let stream: ByteStream = Box::pin(futures_util::stream::empty());
        send_borrowed(&client.upload_stream(stream, 1, &options));
    }

    #[test]
    fn a_client_that_follows_redirects_is_refused() {
        let http = crate::reqwest_client_builder()
            .redirect(reqwest::redirect::Policy::default())
            .build()
            .unwrap();
        let err = Client::builder()
            .credentials(creds())
            .http_client(http)
            .build()
            .unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::Config);
        assert!(err.to_string().contains("follow redirects"), "{err}");
    }

    #[test]
    fn list_all_pages_are_the_largest_the_api_takes() {
        // `list_all` relies on it being a valid page size.
        assert!(authenta_client::proto::paginate::ListCursor::new(LIST_LIMIT_MAX).is_ok());
    }
}
