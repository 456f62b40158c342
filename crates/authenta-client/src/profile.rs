//! Profiles: named keys in one config file that the SDK and the `authenta`
//! command share (feature `profile`).
//!
//! The file is `$AUTHENTA_CONFIG` when set, else
//! `$XDG_CONFIG_HOME/authenta/config.toml`, else
//! `~/.config/authenta/config.toml` (on every platform, as
//! [`etcetera`]'s XDG strategy finds them). Each `[profile.NAME]` table
//! holds a base URL and where the key comes from, never the key itself:
//! an API key (today's console gives these), or for an older key a client
//! id and where its secret comes from.
//!
//! ```toml
//! [profile.prod]
//! api_key_command = "pass show authenta/prod"   # or api_key_env = "PROD_KEY", or api_key_file = "/path/to/key"
//!
//! [profile.ci]
//! base_url = "http://127.0.0.1:8080/api"
//! client_id = "4d66620c69a0295f100b6e8a"
//! client_secret_command = "pass show authenta/ci"   # or client_secret_env = "CI_SECRET", or client_secret_file = "/path/to/secret"
//! ledger = "postgres://fleet@db.internal/batch"      # the `authenta` command's batch ledger (a path, or a PostgreSQL URL)
//! ```
//!
//! A relative `api_key_file` or `client_secret_file` is read from the config file's
//! directory, and `~/` is the home directory. Each setting is taken from
//! the first of: what the caller gives (the command's flags and variables,
//! a client builder's setters), then the profile
//! ([`Profile::overridden`]).
//!
//! ```
//! use authenta_client::{Profile, ProfileFile, SecretSource};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("config.toml");
//! let mut file = ProfileFile::open(&path).unwrap();
//! file.set(&Profile {
//!     name: "ci".into(),
//!     base_url: Some("http://127.0.0.1:8080/api".into()),
//!     client_id: Some("4d66620c69a0295f100b6e8a".into()),
//!     client_secret: Some(SecretSource::Env("CI_SECRET".into())),
//!     api_key: None,
//!     ledger: None,
//! }).unwrap();
//! file.save().unwrap();
//!
//! let ci = ProfileFile::open(&path).unwrap().profile("ci").unwrap().unwrap();
//! assert_eq!(ci.client_secret, Some(SecretSource::Env("CI_SECRET".into())));
//! ```

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::ConfigError;
use crate::{ApiKey, ClientSecret, Config, ENV_API_KEY, ENV_CLIENT_ID, ENV_CLIENT_SECRET};
use crate::{SecretProvider, SecretSource};

/// The variable naming the profile the `authenta` command uses.
pub const ENV_PROFILE: &str = "AUTHENTA_PROFILE";
/// The variable naming the config file, instead of the config directory's.
pub const ENV_CONFIG: &str = "AUTHENTA_CONFIG";
/// The profile used when none is named (if the file has it).
pub const DEFAULT_PROFILE: &str = "default";

const KEYS: [&str; 9] = [
    "base_url",
    "api_key_command",
    "api_key_env",
    "api_key_file",
    "client_id",
    "client_secret_command",
    "client_secret_env",
    "client_secret_file",
    "ledger",
];

/// Where the config file is: `$AUTHENTA_CONFIG`, else the XDG config
/// directory's `authenta/config.toml`.
pub fn config_path() -> Result<PathBuf, ConfigError> {
    if let Some(path) = std::env::var_os(ENV_CONFIG).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    use etcetera::BaseStrategy as _;
    let xdg = etcetera::base_strategy::Xdg::new().map_err(|e| {
        ConfigError::Profile(format!(
            "cannot find the config directory ({e}); set {ENV_CONFIG} to the config file's path"
        ))
    })?;
    Ok(xdg.config_dir().join("authenta").join("config.toml"))
}

/// One profile: a key, the deployment it is for, and where its secret
/// comes from: an API key, or a client id and secret. Any field may be
/// missing from the file when the caller gives it. Its `Debug` shows a
/// ledger URL's password as `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The profile's name (`ci` in `[profile.ci]`); empty for the settings
    /// of no profile.
    pub name: String,
    /// The API root (`base_url`).
    pub base_url: Option<String>,
    /// The key's client id (`client_id`).
    pub client_id: Option<String>,
    /// Where the secret comes from (`client_secret_command`,
    /// `client_secret_env` or `client_secret_file`).
    pub client_secret: Option<SecretSource>,
    /// Where the API key comes from (`api_key_command`, `api_key_env` or
    /// `api_key_file`); a profile holds an API key or a client id and
    /// secret, not both.
    pub api_key: Option<SecretSource>,
    /// The batch ledger the `authenta` command keeps (`ledger`): a SQLite
    /// file (a relative path is the config file's directory's) or a
    /// PostgreSQL URL, whose password, if it holds one, is a secret:
    /// [`redacted_url`] shows it. The SDK itself keeps no ledger.
    pub ledger: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("api_key", &self.api_key)
            .field("ledger", &self.ledger.as_deref().map(redacted_url))
            .finish()
    }
}

/// `url` with its password (in the user part, or a `password=` query
/// parameter, as PostgreSQL URLs carry one) replaced by `***`: what
/// messages and `Debug` show of a URL that may hold one.
///
/// ```
/// use authenta_client::redacted_url;
///
/// assert_eq!(
///     redacted_url("postgres://fleet:s3cret@db:5432/batch?sslmode=require"),
///     "postgres://fleet:***@db:5432/batch?sslmode=require"
/// );
/// assert_eq!(redacted_url("/var/lib/ledger.sqlite"), "/var/lib/ledger.sqlite");
/// ```
pub fn redacted_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            shown = format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..]);
        }
    }
    if let Some(query_at) = shown.find('?') {
        let (head, query) = shown.split_at(query_at + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{head}{}", query.join("&"));
    }
    shown
}

impl Profile {
    /// The profile `name` of the config file ([`config_path`]).
    pub fn load(name: &str) -> Result<Profile, ConfigError> {
        Profile::load_from(&config_path()?, name)
    }

    /// The profile `name` of the config file at `path`.
    pub fn load_from(path: &Path, name: &str) -> Result<Profile, ConfigError> {
        let file = ProfileFile::open(path)?;
        file.profile(name)?.ok_or_else(|| file.missing(name))
    }

    /// The settings a command runs with: `profile` (by name), else the
    /// `default` profile when the file has one; the API key, client id,
    /// secret and base URL given by the caller (its flags and variables)
    /// win over the profile's (a given key of one kind replaces the
    /// profile's key of the other). An API key given with a client id or
    /// secret is an error that says which to unset. The file is not read
    /// when the caller gives a whole key and names no profile.
    pub fn resolve(
        profile: Option<&str>,
        given: GivenKey,
        base_url: Option<String>,
    ) -> Result<Profile, ConfigError> {
        given.check()?;
        let whole =
            given.api_key.is_some() || (given.client_id.is_some() && given.client_secret.is_some());
        let base = match profile {
            Some(name) => Profile::load(name)?,
            None if whole => Profile::default(),
            None => {
                let path = config_path()?;
                let file = ProfileFile::open(&path)?;
                match file.profile(DEFAULT_PROFILE)? {
                    Some(profile) => profile,
                    // No whole key given, but the file has other
                    // profiles: say so, rather than only to set variables.
                    None => {
                        let names = file.names();
                        if let Some(first) = names.first() {
                            return Err(ConfigError::Profile(format!(
                                "no credentials: neither {ENV_API_KEY} nor {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} are set, and {} has no `{DEFAULT_PROFILE}` profile; it has {}: name one (--profile {first}, or {ENV_PROFILE}={first}), or set the variables",
                                path.display(),
                                names.join(", ")
                            )));
                        }
                        Profile::default()
                    }
                }
            }
        };
        Ok(base.overridden(given, base_url))
    }

    /// The profile with each given setting in place of its own. A given API
    /// key drops the profile's client id and secret; a given client id or
    /// secret drops its API key.
    pub fn overridden(mut self, given: GivenKey, base_url: Option<String>) -> Profile {
        if let Some(key) = given.api_key {
            self.api_key = Some(SecretSource::Value(ClientSecret::new(key.expose())));
            self.client_id = None;
            self.client_secret = None;
        }
        if given.client_id.is_some() || given.client_secret.is_some() {
            self.api_key = None;
        }
        if given.client_id.is_some() {
            self.client_id = given.client_id;
        }
        if let Some(secret) = given.client_secret {
            self.client_secret = Some(SecretSource::Value(secret));
        }
        if base_url.is_some() {
            self.base_url = base_url;
        }
        self
    }

    /// The provider of the profile's key (its secret is not read yet).
    pub fn provider(&self) -> Result<SecretProvider, ConfigError> {
        let missing = |what: &'static str, key: &str| match self.name.is_empty() {
            true => ConfigError::MissingVariable(what),
            false => ConfigError::Profile(format!(
                "profile {} has no {key}; add it to [profile.{}] (`authenta configure --profile {}`) or set {what}",
                self.name, self.name, self.name
            )),
        };
        if let Some(source) = &self.api_key {
            if self.client_id.is_some() || self.client_secret.is_some() {
                return Err(ConfigError::Profile(format!(
                    "profile {} holds both an API key and a client id or secret; keep one kind (`authenta configure --profile {}` rewrites it)",
                    self.name, self.name
                )));
            }
            return Ok(SecretProvider::api_key(source.clone()));
        }
        if self.client_id.is_none() && self.client_secret.is_none() {
            return Err(missing(
                ENV_API_KEY,
                "key: neither api_key_command, api_key_env or api_key_file, nor client_id and a client secret",
            ));
        }
        let id = self
            .client_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| missing(ENV_CLIENT_ID, "client_id"))?;
        let source = self.client_secret.clone().ok_or_else(|| {
            missing(
                ENV_CLIENT_SECRET,
                "client_secret_command, client_secret_env or client_secret_file",
            )
        })?;
        Ok(SecretProvider::new(id.trim(), source))
    }

    /// The configuration of the profile: its key (the secret read now) and
    /// base URL.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let config = Config::from_provider(self.provider()?)?;
        match &self.base_url {
            Some(url) => config.with_base_url(url),
            None => Ok(config),
        }
    }
}

/// The credentials a caller gives (flags, variables, a builder's setters):
/// an API key, or a client id and secret, each of which may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GivenKey {
    /// An API key (`AUTHENTA_API_KEY`, `--api-key`).
    pub api_key: Option<ApiKey>,
    /// A client id (`AUTHENTA_CLIENT_ID`, `--client-id`).
    pub client_id: Option<String>,
    /// A client secret (`AUTHENTA_CLIENT_SECRET`, `--client-secret`).
    pub client_secret: Option<ClientSecret>,
}

impl GivenKey {
    /// Refuses an API key given with a client id or secret, saying which to
    /// unset.
    pub fn check(&self) -> Result<(), ConfigError> {
        let given = |name: &'static str, set: bool| set.then_some(name);
        if self.api_key.is_some() {
            let other = match (self.client_id.is_some(), self.client_secret.is_some()) {
                (true, true) => Some("AUTHENTA_CLIENT_ID and AUTHENTA_CLIENT_SECRET"),
                (id, secret) => given(ENV_CLIENT_ID, id).or(given(ENV_CLIENT_SECRET, secret)),
            };
            if let Some(client_secret) = other {
                return Err(ConfigError::BothKinds {
                    api_key: ENV_API_KEY,
                    client_secret,
                });
            }
        }
        Ok(())
    }
}

/// The config file, read and written keeping what it holds besides the
/// profiles written (comments, other profiles).
#[derive(Debug)]
pub struct ProfileFile {
    path: PathBuf,
    doc: DocumentMut,
}

impl ProfileFile {
    /// Reads the file at `path` (an absent file is empty).
    pub fn open(path: &Path) -> Result<ProfileFile, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ConfigError::Profile(format!(
                    "cannot read the config file {}: {e}",
                    path.display()
                )));
            }
        };
        let doc = text.parse::<DocumentMut>().map_err(|e| {
            ConfigError::Profile(format!(
                "the config file {} is not valid TOML: {}",
                path.display(),
                e.to_string().trim()
            ))
        })?;
        Ok(ProfileFile {
            path: path.to_owned(),
            doc,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a profile's ledger URL holds a password.
    fn holds_password(&self) -> bool {
        let Some(profiles) = self.profiles() else {
            return false;
        };
        profiles.iter().any(|(_, profile)| {
            let ledger = profile.get("ledger").and_then(Item::as_str);
            ledger.is_some_and(|url| redacted_url(url) != url)
        })
    }

    /// The names of the file's profiles.
    pub fn names(&self) -> Vec<String> {
        self.profiles()
            .map(|t| t.iter().map(|(name, _)| name.to_owned()).collect())
            .unwrap_or_default()
    }

    fn profiles(&self) -> Option<&Table> {
        self.doc.get("profile").and_then(Item::as_table)
    }

    fn missing(&self, name: &str) -> ConfigError {
        let names = self.names();
        let known = match names.is_empty() {
            true => "it has no profile".to_owned(),
            false => format!("its profiles are {}", names.join(", ")),
        };
        ConfigError::Profile(format!(
            "no profile {name} in {} ({known}); `authenta configure --profile {name}` writes one",
            self.path.display()
        ))
    }

    /// The profile `name`, if the file has it.
    pub fn profile(&self, name: &str) -> Result<Option<Profile>, ConfigError> {
        let Some(item) = self.profiles().and_then(|t| t.get(name)) else {
            return Ok(None);
        };
        let invalid = |why: String| {
            ConfigError::Profile(format!(
                "[profile.{name}] in {}: {why}",
                self.path.display()
            ))
        };
        let table = item
            .as_table_like()
            .ok_or_else(|| invalid("it is not a table".into()))?;
        let mut profile = Profile {
            name: name.to_owned(),
            ..Profile::default()
        };
        for (key, item) in table.iter() {
            let text = item
                .as_str()
                .ok_or_else(|| invalid(format!("`{key}` must be a string")))?;
            let api_key = match key {
                "api_key_command" => Some(SecretSource::Command(text.to_owned())),
                "api_key_env" => Some(SecretSource::Env(text.to_owned())),
                "api_key_file" => Some(SecretSource::File(self.secret_path(text))),
                "api_key" => {
                    return Err(invalid(
                        "the API key itself is not kept in the config file; use api_key_file, api_key_env or api_key_command".into(),
                    ));
                }
                _ => None,
            };
            if let Some(source) = api_key {
                if profile.api_key.is_some() {
                    return Err(invalid(
                        "it names more than one API key source; keep one of api_key_command, api_key_env and api_key_file".into(),
                    ));
                }
                profile.api_key = Some(source);
                continue;
            }
            let secret = match key {
                "base_url" => {
                    profile.base_url = Some(text.to_owned());
                    continue;
                }
                "ledger" => {
                    profile.ledger = Some(match text.contains("://") {
                        true => text.to_owned(),
                        false => self.secret_path(text).to_string_lossy().into_owned(),
                    });
                    continue;
                }
                "client_id" => {
                    profile.client_id = Some(text.to_owned());
                    continue;
                }
                "client_secret_command" => SecretSource::Command(text.to_owned()),
                "client_secret_env" => SecretSource::Env(text.to_owned()),
                "client_secret_file" => SecretSource::File(self.secret_path(text)),
                "client_secret" => {
                    return Err(invalid(
                        "the secret itself is not kept in the config file; use client_secret_file, client_secret_env or client_secret_command".into(),
                    ));
                }
                other => {
                    return Err(invalid(format!(
                        "unknown key `{other}`; the keys are {}",
                        KEYS.join(", ")
                    )));
                }
            };
            if profile.client_secret.is_some() {
                return Err(invalid(
                    "it names more than one secret source; keep one of client_secret_command, client_secret_env and client_secret_file".into(),
                ));
            }
            profile.client_secret = Some(secret);
        }
        if profile.api_key.is_some()
            && (profile.client_id.is_some() || profile.client_secret.is_some())
        {
            return Err(invalid(
                "it holds both an API key and a client id or secret; keep one kind".into(),
            ));
        }
        Ok(Some(profile))
    }

    /// A secret file's path: `~/` is the home directory, a relative path
    /// is the config file's directory's.
    fn secret_path(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/")
            && let Ok(home) = etcetera::home_dir()
        {
            return home.join(rest);
        }
        let path = PathBuf::from(text);
        match (path.is_relative(), self.path.parent()) {
            (true, Some(dir)) => dir.join(path),
            _ => path,
        }
    }

    /// Writes `profile` in place of any profile of its name. A secret
    /// given as a value is refused: the file says where a secret is, never
    /// what it is.
    pub fn set(&mut self, profile: &Profile) -> Result<(), ConfigError> {
        if profile.name.is_empty()
            || !profile
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::Profile(format!(
                "the profile name {:?} must be letters, digits, `-` and `_`",
                profile.name
            )));
        }
        if profile.api_key.is_some()
            && (profile.client_id.is_some() || profile.client_secret.is_some())
        {
            return Err(ConfigError::Profile(
                "a profile holds an API key or a client id and secret, not both".into(),
            ));
        }
        let mut table = Table::new();
        if let Some(url) = &profile.base_url {
            table.insert("base_url", value(url.as_str()));
        }
        let refused = || {
            ConfigError::Profile(
                "a secret is not written to the config file; give a file, a variable or a command that holds it".into(),
            )
        };
        let path_text = |path: &Path| {
            path.to_str().map(str::to_owned).ok_or_else(|| {
                ConfigError::Profile(format!("the path {} is not UTF-8", path.display()))
            })
        };
        match &profile.api_key {
            None => {}
            Some(SecretSource::Command(command)) => {
                table.insert("api_key_command", value(command.as_str()));
            }
            Some(SecretSource::Env(name)) => {
                table.insert("api_key_env", value(name.as_str()));
            }
            Some(SecretSource::File(path)) => {
                table.insert("api_key_file", value(path_text(path)?));
            }
            Some(_) => return Err(refused()),
        }
        if let Some(id) = &profile.client_id {
            table.insert("client_id", value(id.as_str()));
        }
        match &profile.client_secret {
            None => {}
            Some(SecretSource::Command(command)) => {
                table.insert("client_secret_command", value(command.as_str()));
            }
            Some(SecretSource::Env(name)) => {
                table.insert("client_secret_env", value(name.as_str()));
            }
            Some(SecretSource::File(path)) => {
                table.insert("client_secret_file", value(path_text(path)?));
            }
            Some(_) => return Err(refused()),
        }
        if let Some(ledger) = &profile.ledger {
            table.insert("ledger", value(ledger.as_str()));
        }
        let profiles = self
            .doc
            .entry("profile")
            .or_insert_with(|| {
                let mut t = Table::new();
                t.set_implicit(true);
                Item::Table(t)
            })
            .as_table_mut()
            .ok_or_else(|| {
                ConfigError::Profile(format!(
                    "`profile` in {} is not a table",
                    self.path.display()
                ))
            })?;
        profiles.insert(&profile.name, Item::Table(table));
        Ok(())
    }

    /// Writes the file (its directory made when missing), replacing it
    /// whole: written beside, then renamed.
    pub fn save(&self) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let temp = self.path.with_extension("toml.new");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // A ledger URL's password is a secret: the file is then its
        // owner's only.
        #[cfg(unix)]
        if self.holds_password() {
            use std::os::unix::fs::OpenOptionsExt as _;
            let _ = std::fs::remove_file(&temp);
            options.mode(0o600);
        }
        std::io::Write::write_all(&mut options.open(&temp)?, self.doc.to_string().as_bytes())?;
        std::fs::rename(&temp, &self.path)
    }
}

/// Writes a secret to `path` so that only its owner may read it (mode
/// `600` on Unix, set before a byte is written), replacing the file whole.
pub fn write_secret_file(path: &Path, secret: &ClientSecret) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension("new");
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    std::io::Write::write_all(&mut file, format!("{}\n", secret.expose()).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, ProfileFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let file = ProfileFile::open(&path).unwrap();
        (dir, file)
    }

    #[test]
    fn the_documented_shape_reads_and_relative_files_are_the_config_dirs() {
        let (dir, file) = file(
            "# my keys\n[profile.ci]\nbase_url = \"http://127.0.0.1:8080/api\"\nclient_id = \"4d66\"\nclient_secret_command = \"pass show authenta/ci\"\n\n[profile.prod]\nclient_id = \"77\"\nclient_secret_file = \"prod.secret\"\n",
        );
        let ci = file.profile("ci").unwrap().unwrap();
        assert_eq!(ci.base_url.as_deref(), Some("http://127.0.0.1:8080/api"));
        assert_eq!(
            ci.client_secret,
            Some(SecretSource::Command("pass show authenta/ci".into()))
        );
        let prod = file.profile("prod").unwrap().unwrap();
        assert_eq!(
            prod.client_secret,
            Some(SecretSource::File(dir.path().join("prod.secret")))
        );
        assert_eq!(file.names(), ["ci", "prod"]);
        assert!(file.profile("staging").unwrap().is_none());
        let missing = file.missing("staging").to_string();
        assert!(missing.contains("its profiles are ci, prod"), "{missing}");
    }

    #[test]
    fn mistakes_in_a_profile_are_named() {
        for (text, says) in [
            (
                "[profile.a]\nclient_secret = \"x\"",
                "not kept in the config file",
            ),
            (
                "[profile.a]\nclient_secret_env = \"A\"\nclient_secret_file = \"b\"",
                "more than one secret source",
            ),
            ("[profile.a]\nbase_uri = \"x\"", "unknown key `base_uri`"),
            ("[profile.a]\nclient_id = 5", "`client_id` must be a string"),
        ] {
            let (_dir, file) = file(text);
            let err = file.profile("a").unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
            assert!(err.contains("[profile.a]"), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[profile.a\n").unwrap();
        assert!(
            ProfileFile::open(&path)
                .unwrap_err()
                .to_string()
                .contains("not valid TOML")
        );
    }

    #[test]
    fn a_ledger_is_read_written_and_its_password_never_shown() {
        let (dir, mut file) = file(
            "[profile.fleet]\napi_key_env = \"K\"\nledger = \"postgres://fleet:s3cret@db/batch?password=s3cret\"\n[profile.local]\napi_key_env = \"K\"\nledger = \"state/ledger.sqlite\"\n",
        );
        let fleet = file.profile("fleet").unwrap().unwrap();
        let debug = format!("{fleet:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(
            debug.contains("postgres://fleet:***@db/batch?password=***"),
            "{debug}"
        );
        // A relative path is the config file's directory's.
        let local = file.profile("local").unwrap().unwrap();
        let expected = dir.path().join("state/ledger.sqlite");
        assert_eq!(local.ledger.as_deref(), expected.to_str());
        file.set(&fleet).unwrap();
        file.save().unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(
            text.contains("ledger = \"postgres://fleet:s3cret@db/batch?password=s3cret\""),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn given_settings_win_over_the_profile_and_a_value_is_never_written() {
        let (_dir, mut file) = file("# kept\n[profile.other]\nclient_id = \"o\"\n");
        let ci = Profile {
            name: "ci".into(),
            base_url: Some("https://staging.example.com/api".into()),
            client_id: Some("id".into()),
            client_secret: Some(SecretSource::Env("CI_SECRET".into())),
            api_key: None,
            ledger: None,
        };
        file.set(&ci).unwrap();
        file.save().unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.starts_with("# kept\n[profile.other]"), "{text}");
        assert!(text.contains("[profile.ci]\nbase_url = \"https://staging.example.com/api\"\nclient_id = \"id\"\nclient_secret_env = \"CI_SECRET\"\n"), "{text}");

        let given = ci.clone().overridden(
            GivenKey {
                client_secret: Some(ClientSecret::new("flag")),
                ..GivenKey::default()
            },
            None,
        );
        assert_eq!(given.client_id.as_deref(), Some("id"));
        assert_eq!(
            given.client_secret,
            Some(SecretSource::Value(ClientSecret::new("flag")))
        );
        assert!(
            file.set(&given)
                .unwrap_err()
                .to_string()
                .contains("not written")
        );
        let provider = given.provider().unwrap();
        assert_eq!(provider.client_id(), Some("id"));

        let nameless = Profile::default().overridden(
            GivenKey {
                client_secret: Some(ClientSecret::new("s")),
                ..GivenKey::default()
            },
            None,
        );
        assert_eq!(
            nameless.provider().unwrap_err(),
            ConfigError::MissingVariable(ENV_CLIENT_ID)
        );
        let named = Profile {
            name: "ci".into(),
            ..Profile::default()
        };
        assert!(
            named
                .provider()
                .unwrap_err()
                .to_string()
                .contains("profile ci has no key")
        );
    }

    #[test]
    fn an_api_key_profile_reads_writes_and_gives_way_to_a_given_pair() {
        let (dir, mut file) = file(
            "[profile.prod]\napi_key_file = \"prod.key\"\n[profile.cmd]\napi_key_command = \"pass show k\"\n",
        );
        let prod = file.profile("prod").unwrap().unwrap();
        assert_eq!(
            prod.api_key,
            Some(SecretSource::File(dir.path().join("prod.key")))
        );
        let provider = prod.provider().unwrap();
        assert_eq!(provider.kind(), crate::CredentialKind::ApiKey);
        assert_eq!(provider.client_id(), None);
        let cmd = file.profile("cmd").unwrap().unwrap();
        assert_eq!(
            cmd.api_key,
            Some(SecretSource::Command("pass show k".into()))
        );
        // Written back as it was read.
        let env = Profile {
            name: "env".into(),
            api_key: Some(SecretSource::Env("PROD_KEY".into())),
            ..Profile::default()
        };
        file.set(&env).unwrap();
        file.save().unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(
            text.contains("[profile.env]\napi_key_env = \"PROD_KEY\"\n"),
            "{text}"
        );
        // A given id and secret replace the profile's API key, and a given
        // API key its id and secret.
        let pair = prod.clone().overridden(
            GivenKey {
                client_id: Some("id".into()),
                client_secret: Some(ClientSecret::new("s")),
                ..GivenKey::default()
            },
            None,
        );
        assert_eq!(pair.api_key, None);
        assert_eq!(
            pair.provider().unwrap().kind(),
            crate::CredentialKind::ClientSecret
        );
        let key = pair.overridden(
            GivenKey {
                api_key: Some(ApiKey::new("api_x")),
                ..GivenKey::default()
            },
            None,
        );
        assert_eq!(
            (key.client_id.as_ref(), key.client_secret.as_ref()),
            (None, None)
        );
        assert_eq!(
            key.provider().unwrap().kind(),
            crate::CredentialKind::ApiKey
        );
        // Both kinds given at once: say which to unset.
        let both = GivenKey {
            api_key: Some(ApiKey::new("api_x")),
            client_id: Some("id".into()),
            ..GivenKey::default()
        };
        let err = both.check().unwrap_err().to_string();
        assert!(err.contains("unset AUTHENTA_CLIENT_ID"), "{err}");
        // A profile may not hold both.
        for (text, says) in [
            (
                "[profile.a]\napi_key_env = \"K\"\nclient_id = \"id\"",
                "both an API key and a client id",
            ),
            (
                "[profile.a]\napi_key = \"api_x\"",
                "not kept in the config file",
            ),
            (
                "[profile.a]\napi_key_env = \"K\"\napi_key_file = \"f\"",
                "more than one API key source",
            ),
        ] {
            let (_dir, file) = self::file(text);
            let err = file.profile("a").unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        let nameless = Profile::default();
        assert_eq!(
            nameless.provider().unwrap_err(),
            ConfigError::MissingVariable(ENV_API_KEY)
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_is_written_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/ci.secret");
        write_secret_file(&path, &ClientSecret::new("s3cr3t")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let source = SecretSource::File(path);
        assert_eq!(source.read().unwrap().expose(), "s3cr3t");
    }
}
