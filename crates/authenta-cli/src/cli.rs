//! The command line: global options and one struct per subcommand.
//!
//! No type here derives `Debug`: the options hold the client secret.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use authenta_reqwest::client::ENV_PROFILE;
use authenta_reqwest::proto::{
    config::ENV_BASE_URL, credentials::ENV_API_KEY, credentials::ENV_CLIENT_ID,
    credentials::ENV_CLIENT_SECRET,
};
use authenta_reqwest::types::{JobStatus, MODEL_TYPES, ModelType};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// Check media for deepfakes and manipulation with Authenta.
///
/// Uploads files, waits for the verdict and reads the records of an
/// Authenta account. Each setting comes from the first of: the flags,
/// AUTHENTA_CLIENT_ID, AUTHENTA_CLIENT_SECRET and AUTHENTA_BASE_URL, then
/// the profile (--profile, AUTHENTA_PROFILE, else `default`) of the config
/// file (`authenta configure` writes one); --emulator runs against an
/// embedded emulator instead, with no account.
#[derive(Parser)]
#[command(name = "authenta", version, propagate_version = true)]
pub struct Cli {
    /// The options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Where to connect and how to print.
#[derive(Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// An API key (api_…, what today's console gives), sent as
    /// `Authorization: Bearer`. Prefer the environment variable: a flag is
    /// visible to other users of the machine in the process list.
    #[arg(long, global = true, env = ENV_API_KEY, hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,

    /// An older key's client id (with --client-secret; instead of an API
    /// key).
    #[arg(long, global = true, env = ENV_CLIENT_ID, hide_env_values = true, value_name = "ID")]
    pub client_id: Option<String>,

    /// The API key's secret. Prefer the environment variable: a flag is
    /// visible to other users of the machine in the process list.
    #[arg(
        long,
        global = true,
        env = ENV_CLIENT_SECRET,
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,

    /// The API root, such as https://platform.authenta.ai/api (the
    /// default). Plain http only for loopback hosts.
    #[arg(long, global = true, env = ENV_BASE_URL, hide_env_values = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// The profile of the config file ($AUTHENTA_CONFIG, else
    /// $XDG_CONFIG_HOME/authenta/config.toml, else
    /// ~/.config/authenta/config.toml) for what the flags and variables do
    /// not give; `default` when none is named.
    #[arg(long, global = true, env = ENV_PROFILE, hide_env_values = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Run against an embedded emulator with a fresh key instead of an
    /// account (the credential options are ignored; nothing is kept).
    #[arg(long, global = true)]
    pub emulator: bool,

    /// Print JSON instead of tables: one object per line.
    #[arg(long, global = true)]
    pub json: bool,

    /// The batch ledger `process` keeps to resume after an interruption
    /// (else the profile's `ledger`, else $XDG_STATE_HOME/authenta/ledger.sqlite
    /// or ~/.local/state/authenta/ledger.sqlite; with --emulator, none
    /// unless this is given): a SQLite file, or a PostgreSQL database
    /// (postgres://USER@HOST/DB?sslmode=require, the password in
    /// PGPASSWORD) that the workers of a fleet share. With `configure`:
    /// written to the profile.
    #[arg(
        long,
        global = true,
        env = "AUTHENTA_LEDGER",
        hide_env_values = true,
        value_name = "PATH|URL",
        conflicts_with = "no_ledger"
    )]
    pub ledger: Option<PathBuf>,

    /// Keep no ledger: an interrupted `process` starts again from nothing.
    #[arg(long, global = true)]
    pub no_ledger: bool,

    /// Give up an upload attempt (and retry it) when the connection takes
    /// no byte of it, or S3 gives no answer once it is sent, for this long,
    /// such as 60s; 0 for no limit. However long the whole upload takes.
    #[arg(long, global = true, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub upload_stall_timeout: Duration,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Check files: validate every one, upload, wait, and print the verdicts.
    Process(Process),
    /// Upload one file and print its mid, without waiting.
    Upload(Upload),
    /// Print one record.
    Get(MidArg),
    /// List the account's records, newest first.
    List(List),
    /// Wait until a record is final and print it.
    Wait(Wait),
    /// Delete a record.
    Delete(MidArg),
    /// Print a processed record's result, and optionally save its heatmap
    /// or blend it over the original image.
    Result(ResultArgs),
    /// Write a self-contained HTML report of records already processed.
    Report(ReportArgs),
    /// List, read, wait for, cancel or delete jobs (`process --task` runs
    /// them).
    Jobs(JobsArgs),
    /// Run a local emulator in the foreground and print a key for it.
    Emulator(EmulatorArgs),
    /// List what the batch ledger holds, or forget entries of it.
    Ledger(LedgerArgs),
    /// Write a profile to the config file: base URL, client id and where
    /// the secret is kept (a private file, a variable, or a command).
    Configure(ConfigureArgs),
    /// Serve the checks to AI assistants: a Model Context Protocol server
    /// on stdin and stdout (see the README for a client's configuration).
    Mcp(McpArgs),
}

/// `process FILE|DIR...`
#[derive(Args)]
pub struct Process {
    /// Media files, or directories of them.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,

    /// The model.
    #[command(flatten)]
    pub model: ModelArg,

    /// Also take the media in subdirectories.
    #[arg(long, short)]
    pub recursive: bool,

    /// How many files to upload at a time (every uploaded file is waited
    /// for, together, whatever this is).
    #[arg(long, short = 'j', default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// How long to wait for each verdict, such as 90s or 10m (default 30m;
    /// with --task, the task type's time limit).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Run each file as a job of this task type instead of a `/media`
    /// record: its slug, id or model code, such as faceswap-detection, 4
    /// or DF-1 (the jobs API; an API key is needed).
    #[arg(long, value_name = "TASK", conflicts_with = "model")]
    pub task: Option<String>,

    /// With --task face-intelligence: compare each file's faces with the
    /// face in this image (its reference slot; JPEG or PNG).
    #[arg(long, value_name = "IMAGE", requires = "task")]
    pub reference: Option<PathBuf>,

    /// At the end, also write a self-contained HTML report of the batch
    /// here (verdicts, heatmaps over the images, face boxes over the
    /// videos; with --task, what each job's result holds and the reference
    /// image), even when some files failed.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// Read again the records (or jobs) the ledger holds as final, instead
    /// of printing them from it (one query each).
    #[arg(long)]
    pub refresh: bool,

    /// With a ledger other `authenta process` runs share (such as a
    /// fleet's PostgreSQL ledger): leave the files another run is working
    /// on to it and print only this run's. Without it, a run waits for
    /// their outcome and prints the whole batch.
    #[arg(long)]
    pub own_only: bool,
}

/// `jobs list|get|wait|cancel|delete`
#[derive(Args)]
pub struct JobsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: JobsAction,
}

/// What `jobs` does.
#[derive(Subcommand)]
pub enum JobsAction {
    /// List the account's jobs, a page at a time (or every one with --all).
    List {
        /// Only jobs in this status (created, waiting_for_finalize, queued,
        /// processing, completed, failed, cancelled).
        #[arg(long, value_name = "STATUS", value_parser = parse_job_status)]
        status: Option<JobStatus>,
        /// Every job, fetched page by page.
        #[arg(long, conflicts_with_all = ["page", "limit"])]
        all: bool,
        /// The page, from 1.
        #[arg(long, value_name = "N")]
        page: Option<u32>,
        /// How many jobs per page (1 to 100).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Print one job and its result.
    Get(JobIdArg),
    /// Wait until a job is completed, failed or cancelled, and print it.
    Wait {
        /// The job's id, checked before any request.
        #[arg(value_name = "JOB")]
        job: String,
        /// How long to wait (default: the task type's time limit).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
    },
    /// Cancel a job that is not yet processing.
    Cancel(JobIdArg),
    /// Delete a job and its media (not while it is processing).
    Delete(JobIdArg),
}

/// A command that takes one job id.
#[derive(Args)]
pub struct JobIdArg {
    /// The job's id, checked before any request.
    #[arg(value_name = "JOB")]
    pub job: String,
}

/// `ledger [forget PATH|MID...]`
#[derive(Args)]
pub struct LedgerArgs {
    /// What to do; without one, list the entries.
    #[command(subcommand)]
    pub action: Option<LedgerAction>,
}

/// What `ledger` does besides listing.
#[derive(Subcommand)]
pub enum LedgerAction {
    /// Drop entries: those of a file (whatever its model or account), or
    /// of a record's mid. A file forgotten is processed anew next time.
    Forget {
        /// Files or mids.
        #[arg(required = true, value_name = "PATH|MID")]
        items: Vec<String>,
    },
}

/// `upload FILE`
#[derive(Args)]
pub struct Upload {
    /// The media file.
    #[arg(value_name = "FILE")]
    pub path: PathBuf,

    /// The model.
    #[command(flatten)]
    pub model: ModelArg,

    /// The record's name, instead of the file's name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `--model`, for the commands that create records.
#[derive(Args)]
pub struct ModelArg {
    /// The model to run; by default the documented one for each file's
    /// kind (AC-1 for images, DF-1 for video).
    #[arg(long, short, value_name = "MODEL", value_parser = parse_model)]
    pub model: Option<ModelType>,
}

/// A command that takes one mid.
#[derive(Args)]
pub struct MidArg {
    /// The record's id (24 hex characters), checked before any request.
    #[arg(value_name = "MID")]
    pub mid: String,
}

/// `list`
#[derive(Args)]
pub struct List {
    /// Every record, fetched page by page.
    #[arg(long, conflicts_with_all = ["limit", "offset"])]
    pub all: bool,

    /// How many records (1 to 100; the server's default otherwise).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// How many records to skip.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
}

/// `wait MID`
#[derive(Args)]
pub struct Wait {
    /// The record's id (24 hex characters), checked before any request.
    #[arg(value_name = "MID")]
    pub mid: String,

    /// How long to wait, such as 90s or 10m.
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `result MID`
#[derive(Args)]
pub struct ResultArgs {
    /// The record's id (24 hex characters), checked before any request.
    #[arg(value_name = "MID")]
    pub mid: String,

    /// Save the heatmap image here (image models).
    #[arg(long, value_name = "PATH")]
    pub heatmap: Option<PathBuf>,

    /// Blend the heatmap over the original image (--file) and save it here
    /// as a PNG.
    #[arg(long, value_name = "OUT.png", requires = "file")]
    pub overlay: Option<PathBuf>,

    /// The original image the record was made from, for --overlay.
    #[arg(long, value_name = "ORIGINAL", requires = "overlay")]
    pub file: Option<PathBuf>,

    /// How much of the heatmap shows through in --overlay, from 0 to 1.
    #[arg(long, default_value_t = authenta_report::overlay::DEFAULT_OPACITY, value_name = "0..1", requires = "overlay",
          value_parser = parse_opacity)]
    pub opacity: f32,
}

/// `report FILE.html [MID|PATH]...`
#[derive(Args)]
pub struct ReportArgs {
    /// Where to write the report.
    #[arg(value_name = "FILE.html")]
    pub output: PathBuf,

    /// Records (by mid) or media files (matched to the newest record of
    /// their name, and shown from the file); every record when none.
    #[arg(value_name = "MID|PATH")]
    pub items: Vec<String>,
}

/// `emulator`
#[derive(Args)]
pub struct EmulatorArgs {
    /// The address to listen on (port 0 picks one). A non-loopback address
    /// needs --admin-token.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// How long a record stays UPLOADED before it is PROCESSED.
    #[arg(long, default_value = "300ms", value_name = "DURATION", value_parser = parse_duration)]
    pub processing_time: Duration,

    /// The account's credit balance (1000 for a new account).
    #[arg(long, value_name = "N")]
    pub credits: Option<u64>,

    /// Keep keys, records and uploads in this directory across restarts.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Require `Authorization: Bearer TOKEN` on the control surface.
    #[arg(
        long,
        env = "AUTHENTA_EMULATOR_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,

    /// How long upload URLs stay valid.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = parse_duration)]
    pub upload_url_expiry: Duration,

    /// Which credentials the API takes: `bearer` (API keys, answered as
    /// today's API), `headers` (client ids and secrets, the older API), or
    /// `both`.
    #[arg(long, default_value = "both", value_name = "KIND")]
    pub auth: authenta_emulator::AuthMode,
}

impl Cli {
    /// Parses the command line (exiting with the usage code, 2, on a bad
    /// one), with the model table and the exit codes in the help.
    pub fn parse_args() -> Cli {
        let models = model_help();
        let command = Cli::command()
            .after_help(format!(
                "{}\nSee the README for examples and the emulator.",
                crate::exit::help_text()
            ))
            .mut_subcommand("process", |c| {
                c.mut_arg("model", |a| a.long_help(models.clone()))
            })
            .mut_subcommand("upload", |c| {
                c.mut_arg("model", |a| a.long_help(models.clone()))
            });
        let matches = command.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The `--model` help: the default, then every model with what it takes.
fn model_help() -> String {
    let mut text = String::from(
        "The model to run. By default, the documented model for each file's kind \
         (AC-1 for images, DF-1 for video); audio and documents need one named.\n\nModels:",
    );
    for row in MODEL_TYPES {
        let kinds: Vec<&str> = row.media_kinds.iter().map(|k| k.as_str()).collect();
        text.push_str(&format!(
            "\n  {:<5} {:<16} {}{}",
            row.id,
            kinds.join(", "),
            row.description,
            if row.documented {
                ""
            } else {
                " (not in the API pages)"
            }
        ));
    }
    text
}

/// A model id, upper-cased (`ac-1` is `AC-1`); unknown ids are kept and
/// left to the server.
fn parse_model(text: &str) -> Result<ModelType, String> {
    let id = text.trim().to_ascii_uppercase();
    if id.is_empty() {
        return Err("the model is empty; give one such as AC-1 or DF-1".into());
    }
    Ok(ModelType::from(id))
}

/// An opacity from 0 to 1.
fn parse_opacity(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err("give an opacity from 0 to 1, such as 0.5".into()),
    }
}

/// A duration such as `300ms`, `90s`, `10m` or `1h 30m`.
fn parse_job_status(text: &str) -> Result<JobStatus, String> {
    match JobStatus::from_wire(text.trim()) {
        JobStatus::Unknown(_) => Err(format!(
            "{text:?} is not a job status; give one of {}",
            JobStatus::KNOWN.join(", ")
        )),
        status => Ok(status),
    }
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}; give a duration such as 300ms, 90s or 10m"))
}

/// `configure [--api-key-file PATH | --api-key-env VAR | --api-key-command CMD
/// | --client-id ID (--secret-file PATH | --secret-env VAR | --secret-command CMD)]`
#[derive(Args)]
pub struct ConfigureArgs {
    /// An API key (today's kind): keep it in this file, written readable by
    /// you only (mode 600). The key is read from the terminal without echo,
    /// or from standard input's first line when it is not a terminal.
    #[arg(long, value_name = "PATH", group = "secret")]
    pub api_key_file: Option<PathBuf>,

    /// An API key: read it from this environment variable when the profile
    /// is used (nothing is stored).
    #[arg(long, value_name = "VAR", group = "secret")]
    pub api_key_env: Option<String>,

    /// An API key: run this command when the profile is used; the first
    /// line it prints is the key (nothing is stored).
    #[arg(long, value_name = "COMMAND", group = "secret")]
    pub api_key_command: Option<String>,

    /// An older key's client secret (with --client-id): keep it in this
    /// file, written readable by you only (mode 600). The secret is read from the terminal without echo, or from
    /// standard input's first line when it is not a terminal.
    #[arg(long, value_name = "PATH", group = "secret")]
    pub secret_file: Option<PathBuf>,

    /// Read the secret from this environment variable when the profile is
    /// used (nothing is stored).
    #[arg(long, value_name = "VAR", group = "secret")]
    pub secret_env: Option<String>,

    /// Run this command when the profile is used: the first line it prints
    /// is the secret (`pass show authenta/ci`, `op read ...`); nothing is
    /// stored.
    #[arg(long, value_name = "COMMAND", group = "secret")]
    pub secret_command: Option<String>,
}

/// `mcp`
#[derive(Args)]
pub struct McpArgs {
    /// A folder whose files (and its subfolders') the tools may read;
    /// repeat for more. With none, no file can be checked.
    #[arg(long = "allow", value_name = "DIR")]
    pub allow: Vec<PathBuf>,

    /// At most this many uploads at once, over all calls.
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_concurrency: u16,

    /// How long `check_media` waits for verdicts before it answers with
    /// the records still running (a call may ask for another wait).
    #[arg(long, default_value = "45s", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Duration,

    /// The longest wait a call may ask for.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub max_wait: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn models_and_durations() {
        assert_eq!(parse_model(" ac-1 "), Ok(ModelType::Ac1));
        assert_eq!(parse_model("ZZ-9"), Ok(ModelType::from("ZZ-9")));
        assert!(parse_model("").is_err());
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("such as 300ms")
        );
        assert!(model_help().contains("FL-1"));
        assert_eq!(parse_opacity("0.25"), Ok(0.25));
        assert!(parse_opacity("1.5").is_err());
    }
}
