//! The client a command uses (an account's, or an embedded emulator's), and
//! how a failure is told: one line on stderr and an exit code.

use authenta_emulator::{ApiKey, Emulator, EmulatorBuilder, KeySpec, RunningEmulator};
use authenta_reqwest::proto::config::DEFAULT_USER_AGENT;
use authenta_reqwest::{
    ApiKey as SdkApiKey, Client, ClientSecret, ConfigError, CredentialKind, Credentials, Error,
    ErrorClass, GivenKey, Profile,
};

use crate::cli::Global;
use crate::files::Refusal;
use crate::{exit, output};

/// A connected client, with the embedded emulator it talks to, if any
/// (stopped when the session is dropped).
pub struct Session {
    /// The client.
    pub client: Client,
    _emulator: Option<RunningEmulator>,
}

impl Session {
    /// A client for the account in `global` (flags or environment), or,
    /// with `--emulator`, for a fresh key on an embedded emulator.
    pub async fn open(global: &Global) -> Result<Session, CliError> {
        Session::open_for(global, false).await
    }

    /// [`Session::open`] for the jobs API (`/api/v1/jobs`), which takes
    /// only an API key: with `--emulator`, the fresh key's API key rather
    /// than its client id and secret.
    pub async fn for_jobs(global: &Global) -> Result<Session, CliError> {
        Session::open_for(global, true).await
    }

    async fn open_for(global: &Global, jobs: bool) -> Result<Session, CliError> {
        let user_agent = format!(
            "authenta-cli/{} {DEFAULT_USER_AGENT}",
            env!("CARGO_PKG_VERSION")
        );
        let stall = Some(global.upload_stall_timeout).filter(|d| !d.is_zero());
        let builder = Client::builder()
            .user_agent(&user_agent)
            .upload_stall_timeout(stall);
        if !global.emulator {
            // Proto's order: each setting from the flag, else its variable
            // (clap reads both into one field), else the profile.
            let profile = Profile::resolve(
                global.profile.as_deref(),
                GivenKey {
                    api_key: given(&global.api_key).map(SdkApiKey::new),
                    client_id: given(&global.client_id),
                    client_secret: given(&global.client_secret).map(ClientSecret::new),
                },
                given(&global.base_url),
            )?;
            let mut builder = builder.credentials_provider(profile.provider()?);
            if let Some(url) = &profile.base_url {
                builder = builder.base_url(url);
            }
            let client = builder.build()?;
            // The secret is read now, off the runtime's threads (`build`
            // leaves it to the first call): a command that cannot give it
            // fails here, and the ledger names the account by its key.
            client.read_credentials().await?;
            let _ = USED.set(client.clone());
            return Ok(Session {
                client,
                _emulator: None,
            });
        }
        let (emulator, key) = start_emulator(Emulator::builder()).await?;
        eprintln!(
            "authenta: using an embedded emulator at {} with a fresh key (nothing is kept)",
            emulator.base_url()
        );
        // The key's client id and secret: the emulator meters their use
        // (its control surface shows the key's queries and mutations), where
        // an API key's calls are unmetered. Jobs take the API key only.
        let credentials = match jobs {
            true => Credentials::api_key(key.api_key),
            false => Credentials::new(key.client_id, key.client_secret),
        };
        let client = builder
            .credentials(credentials)
            .base_url(emulator.base_url())
            .build()?;
        let _ = USED.set(client.clone());
        Ok(Session {
            client,
            _emulator: Some(emulator),
        })
    }
}

impl Session {
    /// The embedded emulator, with `--emulator`.
    pub fn emulator(&self) -> Option<&RunningEmulator> {
        self._emulator.as_ref()
    }
}

/// The client the command used, for [`report_spent`].
static USED: std::sync::OnceLock<Client> = std::sync::OnceLock::new();

/// Ends a command that used a key with what it spent, one line on stderr:
/// for a client id and secret the quota ("spent 61 queries and 60
/// mutations of key 4d66…"; with `json`, a JSON object with the full
/// client id); for an API key, which has no quotas, the calls made ("made
/// 121 API calls with key api_3f…"). Nothing for a command that used none.
pub fn report_spent(json: bool) {
    let Some(client) = USED.get() else {
        return;
    };
    let usage = client.usage();
    let Some(credentials) = client.config().credentials() else {
        return;
    };
    match (credentials.kind(), json) {
        (CredentialKind::ApiKey, true) => eprintln!(
            "{}",
            serde_json::json!({ "spent": {
                "calls": usage.calls,
                "apiKey": credentials.label(),
            }})
        ),
        (CredentialKind::ApiKey, false) => eprintln!(
            "authenta: made {} API call{} with key {}",
            usage.calls,
            if usage.calls == 1 { "" } else { "s" },
            credentials.label()
        ),
        (_, true) => eprintln!(
            "{}",
            serde_json::json!({ "spent": {
                "queries": usage.queries,
                "mutations": usage.mutations,
                "clientId": credentials.client_id(),
            }})
        ),
        (_, false) => {
            let short: String = credentials.label().chars().take(4).collect();
            eprintln!("authenta: spent {usage} of key {short}…");
        }
    }
}

/// Starts an emulator on this runtime, with a fresh key that may do
/// everything.
pub async fn start_emulator(
    builder: EmulatorBuilder,
) -> Result<(RunningEmulator, ApiKey), CliError> {
    let failed = |e: &dyn std::fmt::Display| CliError::Emulator(e.to_string());
    let emulator = builder.start().await.map_err(|e| failed(&e))?;
    let key = emulator
        .create_key(KeySpec::new("authenta-cli"))
        .map_err(|e| failed(&e))?;
    Ok((emulator, key))
}

fn given(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// Why a command failed.
pub enum CliError {
    /// The SDK failed: the error says what happened and what to do.
    Sdk(Error),
    /// Files that cannot be processed, found before any record was made.
    Invalid(Vec<Refusal>),
    /// The emulator could not start.
    Emulator(String),
    /// A record ended other than `PROCESSED`, or lacks what was asked for.
    Unfinished(String),
    /// A record is not final yet: nothing failed, asking again later
    /// gives its verdict.
    NotFinal(String),
    /// The batch ledger cannot be opened or written: what and why.
    Ledger(String),
    /// A local file (a report) cannot be written: what and why.
    LocalIo(String),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Sdk(e)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Sdk(e.into())
    }
}

impl CliError {
    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Sdk(e) => exit::for_class(e.class()),
            CliError::Invalid(_) => exit::INVALID_INPUT,
            CliError::Emulator(_) => exit::USAGE,
            CliError::Unfinished(_) => exit::UNFINISHED,
            CliError::NotFinal(_) => exit::NOT_FINAL,
            CliError::Ledger(_) | CliError::LocalIo(_) => exit::LOCAL_IO,
        }
    }

    /// Tells the error, one line per problem: on stderr, or with `json` as
    /// JSON objects on stdout (`{"error": {...}}`, as `--json` prints a
    /// failed file), so a script reading stdout sees every failure.
    pub fn report(&self, json: bool) {
        if json {
            // A refused file's line names it and its model at the top, as
            // the line of a processed file does.
            let refusals: Vec<_> = match self {
                CliError::Invalid(refusals) => refusals.iter().map(Some).collect(),
                _ => vec![None],
            };
            for (error, refusal) in self.json().into_iter().zip(refusals.into_iter().cycle()) {
                let line = match refusal {
                    Some(r) => serde_json::json!({
                        "file": r.path(),
                        "model": r.model(),
                        "error": error,
                    }),
                    None => serde_json::json!({ "error": error }),
                };
                output::json_line(&line);
            }
            return;
        }
        match self {
            CliError::Sdk(e) => {
                eprintln!("authenta: error: {}", output::terminal_safe(&describe(e)))
            }
            CliError::Invalid(errors) => {
                for e in errors {
                    eprintln!("authenta: error: {e}");
                }
                eprintln!("authenta: nothing was uploaded");
            }
            CliError::Emulator(why) => {
                eprintln!("authenta: error: the emulator cannot start: {why}")
            }
            CliError::Unfinished(why) | CliError::NotFinal(why) => eprintln!("authenta: {why}"),
            CliError::Ledger(why) | CliError::LocalIo(why) => eprintln!("authenta: error: {why}"),
        }
    }
}

impl CliError {
    /// The error objects `--json` prints, one per problem.
    fn json(&self) -> Vec<serde_json::Value> {
        let object = |class: &str, message: String, path: Option<String>| {
            serde_json::json!({
                "class": class,
                "code": null,
                "status": null,
                "mid": null,
                "path": path,
                "message": message,
                "exitCode": self.exit_code(),
            })
        };
        match self {
            CliError::Sdk(e) => vec![output::error_json(e, &describe(e))],
            CliError::Invalid(errors) => errors
                .iter()
                .map(|e| object("invalid_input", e.to_string(), e.path()))
                .collect(),
            CliError::Emulator(why) => vec![object(
                "emulator",
                format!("the emulator cannot start: {why}"),
                None,
            )],
            CliError::Unfinished(why) => vec![object("unfinished", why.clone(), None)],
            CliError::NotFinal(why) => vec![object("not_final", why.clone(), None)],
            CliError::Ledger(why) | CliError::LocalIo(why) => {
                vec![object("local_io", why.clone(), None)]
            }
        }
    }
}

/// An SDK error as one line: its message (code, message, HTTP status,
/// operation, mid, and proto's advice on what to do), the causes the
/// message does not already state, and for network failures where to look.
pub fn describe(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if error.class() == ErrorClass::Network {
        text.push_str("; check the network and the base URL (--base-url, AUTHENTA_BASE_URL)");
    }
    text
}
