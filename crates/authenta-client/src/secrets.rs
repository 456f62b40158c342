//! Secret providers that do I/O: an API key or a client secret read from
//! a variable, a file or a command's output ([`SecretSource`],
//! [`SecretProvider`]). The protocol (`authenta-proto`) holds credentials
//! as values and decides when to ask a provider again; asking is this
//! crate's work, done by the driver ([`Action::Refresh`](crate::proto::engine::Action::Refresh)),
//! off the async runtime's threads.
//!
//! ```
//! use authenta_client::{SecretProvider, SecretSource};
//! use authenta_client::proto::Config;
//!
//! // A secret printed by a command (`pass show authenta/ci`, say): run
//! // once now, and again after the API refuses it.
//! # if cfg!(unix) {
//! let provider = SecretProvider::new("4d66620c69a0295f100b6e8a", SecretSource::Command("printf 's3c%s' r3t".into()));
//! let config = Config::from_provider(provider).unwrap();
//! assert_eq!(config.credentials().unwrap().client_secret().unwrap().expose(), "s3cr3t");
//! assert!(!format!("{config:?}").contains("s3cr3t"));
//! # }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use authenta_proto::{
    ClientSecret, CredentialError, CredentialProvider, Credentials, credentials::CredentialKind,
};

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
/// use authenta_client::proto::{CredentialProvider};
/// use authenta_client::{SecretProvider, SecretSource};
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use authenta_proto::QuotaUsage;
    use authenta_proto::http::{self, Response};

    fn answer(status: u16, body: &str) -> Response<Vec<u8>> {
        Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
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
        let config = authenta_proto::Config::from_provider(Rotated(AtomicUsize::new(0))).unwrap();
        let client = Client::new(
            config,
            Blocking {
                transport: server,
                runtime: Std,
            },
        );
        let media = client
            .get(&crate::types::MediaId::new("692f406f9f68d4b70080bb80"))
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
                .unwrap()
                .client_secret()
                .unwrap()
                .expose(),
            "new"
        );
    }
}
