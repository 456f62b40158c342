//! `authenta configure`: writes a profile of the config file (proto's
//! [`ProfileFile`]), asking for what the flags do not give when standard
//! input is a terminal: which kind of key (an API key, what today's console
//! gives, or an older client id and secret), and where its secret is kept.
//! The secret is read without echo and stored only where the user chose: a
//! private file, or nowhere (a variable or a command gives it at run time).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use authenta_reqwest::client::{DEFAULT_PROFILE, config_path, write_secret_file};
use authenta_reqwest::{ClientSecret, ConfigError, Profile, ProfileFile, SecretSource};
use serde_json::json;

use crate::cli::{ConfigureArgs, Global};
use crate::exit;
use crate::output;
use crate::session::CliError;

/// Which kind of key a profile holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    ApiKey,
    ClientSecret,
}

impl Kind {
    /// The secret's name, for questions and messages.
    fn secret(self) -> &'static str {
        match self {
            Kind::ApiKey => "API key",
            Kind::ClientSecret => "client secret",
        }
    }
}

/// Runs `configure`: the profile named by `--profile` (or
/// `AUTHENTA_PROFILE`, else `default`), its base URL from `--base-url` (or
/// asked), which kind of key (from the flags, else asked), the client id
/// for an older key, and the secret's source.
pub fn configure(global: &Global, args: &ConfigureArgs) -> Result<u8, CliError> {
    let name = global
        .profile
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    let path = config_path()?;
    let mut file = ProfileFile::open(&path)?;
    let mut profile = file.profile(&name)?.unwrap_or(Profile {
        name: name.clone(),
        ..Profile::default()
    });
    // The batch ledger: `--ledger` (or AUTHENTA_LEDGER) sets it,
    // `--no-ledger` removes it; otherwise it stays.
    if let Some(location) = &global.ledger {
        profile.ledger = Some(crate::ledger::checked_location(location)?);
    } else if global.no_ledger {
        profile.ledger = None;
    }
    let interactive = std::io::stdin().is_terminal();
    let asked = |question: &str, current: Option<&str>| -> Result<Option<String>, CliError> {
        if !interactive {
            return Ok(current.map(str::to_owned));
        }
        let answer = ask(&match current {
            Some(current) => format!("{question} [{current}]: "),
            None => format!("{question}: "),
        })?;
        Ok(Some(answer)
            .filter(|a| !a.is_empty())
            .or(current.map(str::to_owned)))
    };
    if let Some(url) = global.base_url.clone().filter(|u| !u.is_empty()) {
        profile.base_url = Some(url);
    } else {
        profile.base_url = asked(
            "Base URL (empty for https://platform.authenta.ai/api)",
            profile.base_url.as_deref(),
        )?;
    }
    let api_key_flags =
        args.api_key_file.is_some() || args.api_key_env.is_some() || args.api_key_command.is_some();
    let secret_flags = args.secret_file.is_some()
        || args.secret_env.is_some()
        || args.secret_command.is_some()
        || global.client_id.as_deref().is_some_and(|i| !i.is_empty());
    // Only the ledger given, for a profile that holds a key: the rest stays.
    let has_key = profile.api_key.is_some() || profile.client_secret.is_some();
    if (global.ledger.is_some() || global.no_ledger)
        && has_key
        && !api_key_flags
        && !secret_flags
        && global.base_url.is_none()
    {
        file.set(&profile)?;
        save(&file, &path)?;
        let ledger = profile.ledger.as_deref().map(crate::ledger::redact);
        if global.json {
            output::json_line(&json!({
                "profile": name,
                "path": path.display().to_string(),
                "ledger": ledger,
            }));
        } else {
            eprintln!(
                "authenta: wrote profile {name} to {}: {}",
                path.display(),
                ledger_note(ledger.as_deref())
            );
        }
        return Ok(exit::SUCCESS);
    }
    let kind = match (api_key_flags, secret_flags) {
        (true, true) => {
            return Err(usage(
                "give an API key (--api-key-file, --api-key-env, --api-key-command) or an older key's client id and secret (--client-id with --secret-file, --secret-env or --secret-command), not both",
            ));
        }
        (true, false) => Kind::ApiKey,
        (false, true) => Kind::ClientSecret,
        (false, false) if interactive => choose_kind(&profile)?,
        (false, false) => {
            return Err(usage(
                "say which key: --api-key-file PATH, --api-key-env VAR or --api-key-command COMMAND for an API key, or --client-id with --secret-file, --secret-env or --secret-command for an older key",
            ));
        }
    };
    match kind {
        Kind::ApiKey => profile.client_id = None,
        Kind::ClientSecret => {
            if let Some(id) = global.client_id.clone().filter(|i| !i.is_empty()) {
                profile.client_id = Some(id);
            } else {
                profile.client_id = asked("Client id", profile.client_id.as_deref())?;
            }
            if profile.client_id.is_none() {
                return Err(usage(
                    "no client id: give --client-id (or run `authenta configure` in a terminal)",
                ));
            }
        }
    }
    if let Some(url) = &profile.base_url {
        // The same rules as a client's: https, or http on loopback only.
        authenta_reqwest::Config::new(authenta_reqwest::Credentials::new("x", "x"))
            .with_base_url(url)?;
    }

    let (file_flag, env_flag, command_flag) = match kind {
        Kind::ApiKey => (&args.api_key_file, &args.api_key_env, &args.api_key_command),
        Kind::ClientSecret => (&args.secret_file, &args.secret_env, &args.secret_command),
    };
    let source = match (file_flag, env_flag, command_flag) {
        (Some(path), _, _) => SecretSource::File(std::path::absolute(path).map_err(local)?),
        (_, Some(var), _) => SecretSource::Env(var.clone()),
        (_, _, Some(command)) => SecretSource::Command(command.clone()),
        _ if interactive => choose_source(&name, &path, kind)?,
        _ => {
            return Err(usage(
                "say where the secret is kept: --secret-file PATH, --secret-env VAR or --secret-command COMMAND",
            ));
        }
    };
    if let SecretSource::File(secret_path) = &source {
        let secret = read_secret(&name, interactive, kind)?;
        write_secret_file(secret_path, &secret).map_err(|e| {
            CliError::Sdk(
                ConfigError::Profile(format!(
                    "cannot write the secret file {}: {e}",
                    secret_path.display()
                ))
                .into(),
            )
        })?;
    }
    let described = source.describe();
    match kind {
        Kind::ApiKey => {
            profile.api_key = Some(source);
            profile.client_secret = None;
        }
        Kind::ClientSecret => {
            profile.client_secret = Some(source);
            profile.api_key = None;
        }
    }
    file.set(&profile)?;
    save(&file, &path)?;
    let ledger = profile.ledger.as_deref().map(crate::ledger::redact);
    if global.json {
        output::json_line(&json!({
            "profile": name,
            "path": path.display().to_string(),
            "kind": match kind {
                Kind::ApiKey => "apiKey",
                Kind::ClientSecret => "clientSecret",
            },
            "secret": described,
            "ledger": ledger,
        }));
    } else {
        eprintln!(
            "authenta: wrote profile {name} to {} (the {} is read from {described}; {}); `authenta --profile {name} list` uses it",
            path.display(),
            kind.secret(),
            ledger_note(ledger.as_deref())
        );
    }
    Ok(exit::SUCCESS)
}

/// Writes the config file.
fn save(file: &ProfileFile, path: &std::path::Path) -> Result<(), CliError> {
    file.save().map_err(|e| {
        CliError::Sdk(ConfigError::Profile(format!("cannot write {}: {e}", path.display())).into())
    })
}

/// What `configure` says of a profile's ledger (its password redacted).
fn ledger_note(ledger: Option<&str>) -> String {
    match ledger {
        Some(ledger) => format!("its batch ledger is {ledger}"),
        None => "its batch ledger is the default one".to_owned(),
    }
}

/// Asks which kind of key the profile holds (the one it holds now by
/// default, else an API key).
fn choose_kind(profile: &Profile) -> Result<Kind, CliError> {
    let older = profile.client_id.is_some() && profile.api_key.is_none();
    loop {
        let answer = ask(&format!(
            "Which key: an API key (api_…, what the console gives today) or an older client id and secret? [api-key/client-secret] ({}): ",
            if older { "client-secret" } else { "api-key" }
        ))?;
        match answer.as_str() {
            "" if older => return Ok(Kind::ClientSecret),
            "" | "api-key" | "api" | "key" => return Ok(Kind::ApiKey),
            "client-secret" | "secret" | "id" => return Ok(Kind::ClientSecret),
            _ => {}
        }
    }
}

/// Asks where the secret is kept.
fn choose_source(
    name: &str,
    config: &std::path::Path,
    kind: Kind,
) -> Result<SecretSource, CliError> {
    let extension = match kind {
        Kind::ApiKey => "key",
        Kind::ClientSecret => "secret",
    };
    let default_file = config
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(format!("{name}.{extension}"));
    let what = kind.secret();
    loop {
        let answer = ask(&format!(
            "Keep the {what} in a private file, read it from a variable, or run a command? [file/env/command] (file): "
        ))?;
        match answer.as_str() {
            "" | "file" => {
                let path = ask(&format!("File [{}]: ", default_file.display()))?;
                let path = match path.is_empty() {
                    true => default_file,
                    false => std::path::absolute(path).map_err(local)?,
                };
                return Ok(SecretSource::File(path));
            }
            "env" => {
                let var = ask("Variable name: ")?;
                if !var.is_empty() {
                    return Ok(SecretSource::Env(var));
                }
            }
            "command" => {
                let command = ask(&format!(
                    "Command (its first line of output is the {what}): "
                ))?;
                if !command.is_empty() {
                    return Ok(SecretSource::Command(command));
                }
            }
            _ => {}
        }
    }
}

/// The secret: from the terminal without echo, else standard input's
/// first line.
fn read_secret(name: &str, interactive: bool, kind: Kind) -> Result<ClientSecret, CliError> {
    let secret = if interactive {
        let what = match kind {
            Kind::ApiKey => "API key",
            Kind::ClientSecret => "Client secret",
        };
        rpassword::prompt_password(format!("{what} for {name} (not shown): ")).map_err(local)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(local)?;
        line
    };
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(usage(&format!("the {} is empty", kind.secret())));
    }
    Ok(ClientSecret::new(secret))
}

/// A question on stderr, its answer from standard input (trimmed).
fn ask(question: &str) -> Result<String, CliError> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(local)?;
    Ok(line.trim().to_owned())
}

fn usage(message: &str) -> CliError {
    CliError::Sdk(ConfigError::Profile(message.to_owned()).into())
}

fn local(e: std::io::Error) -> CliError {
    usage(&format!("cannot read the answer: {e}"))
}
