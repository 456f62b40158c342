//! The TLS backend, chosen by features: rustls on `ring` trusting the
//! system's roots (`rustls`, the default), or the platform's library
//! (`native-tls`, which wins when both are on, as in reqwest).

/// A reqwest client builder set up as this crate's own client is: it never
/// follows a redirect, and uses this crate's TLS backend.
///
/// Start from it to give [`ClientBuilder::http_client`](crate::ClientBuilder::http_client)
/// a client with your own settings (a proxy, a local address, more
/// timeouts), and keep the redirect policy as it is:
///
/// ```
/// let http = authenta_reqwest::reqwest_client_builder()
///     .pool_max_idle_per_host(2)
///     .build()?;
/// let client = authenta_reqwest::Client::builder()
///     .credentials(authenta_reqwest::Credentials::new("id", "secret"))
///     .http_client(http)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With the `rustls` feature (the default) the builder carries a finished
/// rustls configuration (ring, TLS 1.2 and 1.3, HTTP/1.1, the system's root
/// certificates as `rustls-platform-verifier` finds them, or the Mozilla
/// roots of `webpki-roots` where the system has none), so reqwest's own TLS
/// settings (extra root certificates, for example) do not apply to it. A
/// private CA goes in the system's store (or `SSL_CERT_FILE`); otherwise
/// build the reqwest client yourself with a rustls configuration of your
/// own.
pub fn reqwest_client_builder() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    with_tls(builder)
}

#[cfg(feature = "native-tls")]
fn with_tls(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder.tls_backend_native()
}

#[cfg(all(feature = "rustls", not(feature = "native-tls")))]
fn with_tls(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    use std::sync::Arc;

    use rustls_platform_verifier::BuilderVerifierExt as _;

    // ring, not the process's default provider: nothing global is
    // installed, and no aws-lc-rs is built.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
    };
    // The system's roots (on-prem deployments and proxies add their CA
    // there); the Mozilla roots where the system has none (a bare
    // container).
    let verified = match versions().with_platform_verifier() {
        Ok(verified) => verified,
        Err(e) => {
            tracing::debug!(error = %e, "no system root certificates; using the Mozilla roots");
            versions().with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        }
    };
    let mut config = verified.with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    builder.tls_backend_preconfigured(config)
}

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
fn with_tls(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    // No TLS backend: plain http only (an emulator on loopback).
    builder
}
