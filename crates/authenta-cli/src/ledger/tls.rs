//! TLS for the PostgreSQL ledger: rustls on `ring`, as the HTTP client's
//! (authenta-reqwest), driven by the URL's `sslmode` (else `PGSSLMODE`):
//!
//! - `disable`: no TLS;
//! - `prefer` (the default) and `allow`: TLS when the server offers it, its
//!   certificate not checked (as libpq does), unless `sslrootcert` names
//!   the CA to check it with;
//! - `require`, `verify-ca` and `verify-full`: TLS or no connection, the
//!   server's certificate and host name checked against the system's roots
//!   (the Mozilla roots where the system has none), or against the CA
//!   certificates of `sslrootcert=PATH` (else `PGSSLROOTCERT`;
//!   `sslrootcert=system` for the system's). This is stricter than libpq,
//!   whose `require` checks nothing: a server with a self-signed
//!   certificate needs its `sslrootcert`.
//!
//! No channel binding: SCRAM runs without it, over the checked connection.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// The URL's TLS settings read, and taken out of it where tokio-postgres
/// does not know them: the URL to give the driver (`sslmode` one of
/// `disable`, `prefer`, `require`; no `sslrootcert`), and the connector.
pub fn settings(url: &str) -> io::Result<(String, MakeRustls)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept: Vec<&str> = Vec::new();
    let (mut mode, mut root_cert) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = Some(decoded(value)),
            Some(("sslrootcert", value)) => root_cert = Some(decoded(value)),
            _ => kept.push(pair),
        }
    }
    // libpq's variables, for what the URL does not say.
    let mode = mode.or_else(|| std::env::var("PGSSLMODE").ok());
    let root_cert = root_cert.or_else(|| std::env::var("PGSSLROOTCERT").ok());
    let (driver_mode, checked) = match mode.as_deref().unwrap_or("prefer") {
        "disable" => ("disable", false),
        "allow" | "prefer" => ("prefer", root_cert.is_some()),
        "require" | "verify-ca" | "verify-full" => ("require", true),
        other => {
            return Err(io::Error::other(format!(
                "sslmode={other}: use disable, prefer, require, verify-ca or verify-full"
            )));
        }
    };
    kept.push(match driver_mode {
        "disable" => "sslmode=disable",
        "prefer" => "sslmode=prefer",
        _ => "sslmode=require",
    });
    let config = match (checked, root_cert.as_deref()) {
        (false, _) => unchecked(),
        (true, None | Some("system")) => system_roots(),
        (true, Some(path)) => own_roots(&PathBuf::from(path))?,
    };
    Ok((
        format!("{base}?{}", kept.join("&")),
        MakeRustls(Arc::new(config)),
    ))
}

/// A URL query value with its `%XX` escapes decoded.
fn decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A configuration of `verifier` roots: TLS 1.2 and 1.3, ALPN
/// `postgresql` (what PostgreSQL 17 asks for; older servers ignore it).
fn finished(
    build: impl FnOnce(
        rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>,
    ) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
) -> ClientConfig {
    let versions = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3");
    let mut config = build(versions).with_no_client_auth();
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    config
}

/// Checked against the system's roots, else the Mozilla roots.
fn system_roots() -> ClientConfig {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let platform = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_platform_verifier()
        .is_ok();
    finished(|versions| match platform {
        true => versions
            .with_platform_verifier()
            .expect("the platform verifier was built once"),
        false => versions.with_root_certificates(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
    })
}

/// Checked against the CA certificates of the PEM file at `path` only.
fn own_roots(path: &std::path::Path) -> io::Result<ClientConfig> {
    let unusable = |why: String| {
        io::Error::other(format!(
            "sslrootcert={}: {why}; give a PEM file of the CA certificates that signed the \
             server's",
            path.display()
        ))
    };
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| unusable(format!("cannot read it ({e})")))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| unusable(format!("not PEM ({e})")))?;
        roots
            .add(certificate)
            .map_err(|e| unusable(format!("not a CA certificate ({e})")))?;
    }
    if roots.is_empty() {
        return Err(unusable("it holds no certificate".into()));
    }
    Ok(finished(|versions| versions.with_root_certificates(roots)))
}

/// Encrypted, the certificate not checked (`sslmode=prefer`, as libpq).
fn unchecked() -> ClientConfig {
    let provider = provider();
    let mut config = finished(|versions| versions.with_root_certificates(RootCertStore::empty()));
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(Unchecked(provider)));
    config
}

/// Takes any certificate; checks only that the handshake is signed by its
/// key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// tokio-postgres's TLS connector, over tokio-rustls.
#[derive(Clone)]
pub struct MakeRustls(Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Connect> {
        // A Unix socket has no host name (and no TLS): a name TLS cannot
        // check fails the handshake, not this.
        let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string());
        Ok(Connect {
            name,
            config: self.0.clone(),
        })
    }
}

/// One connection's TLS handshake.
pub struct Connect {
    name: Result<ServerName<'static>, String>,
    config: Arc<ClientConfig>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = self.name.map_err(|e| {
                io::Error::other(format!("the host is not a name TLS can check ({e})"))
            })?;
            let connector = tokio_rustls::TlsConnector::from(self.config);
            match connector.connect(name, stream).await {
                Ok(stream) => Ok(Stream(stream)),
                Err(e) if is_untrusted(&e) => Err(io::Error::other(format!(
                    "{e}: the server's certificate is not trusted; give the CA that signed it \
                     with sslrootcert=PATH in the URL (or PGSSLROOTCERT)"
                ))),
                Err(e) => Err(e),
            }
        })
    }
}

/// Whether a handshake failed on the server's certificate.
fn is_untrusted(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)))
}

/// A TLS connection to the server.
pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_read_and_taken_out_of_the_url() {
        let (url, _) =
            settings("postgres://u@db/batch?sslmode=verify-full&application_name=x").unwrap();
        assert_eq!(
            url,
            "postgres://u@db/batch?application_name=x&sslmode=require"
        );
        let (url, _) = settings("postgres://u@db/batch?sslmode=disable").unwrap();
        assert_eq!(url, "postgres://u@db/batch?sslmode=disable");
        let err = settings("postgres://u@db/b?sslmode=require&sslrootcert=%2Fno%2Fsuch.pem")
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("sslrootcert=/no/such.pem: cannot read"),
            "{err}"
        );
        let err = settings("postgres://u@db/b?sslmode=sometimes")
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("use disable, prefer, require"),
            "{err}"
        );
    }
}
