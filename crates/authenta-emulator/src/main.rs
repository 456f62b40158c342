//! The `authenta-emulator` command: runs a local Authenta-compatible server
//! until Ctrl-C, and prints its base URL and a ready-to-use API key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use authenta_emulator::{AuthMode, ClockMode, Emulator, KeySpec, ListItems};
use clap::Parser;
use tracing_subscriber::layer::SubscriberExt as _;

/// A local Authenta-compatible server: the API under /api, S3-style
/// pre-signed uploads, and a control surface under /_emulator.
#[derive(Debug, Parser)]
#[command(name = "authenta-emulator", version, about)]
struct Args {
    /// The address to listen on. A non-loopback address needs --admin-token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Keep keys, records, credits and uploads in this directory across
    /// restarts (in memory when not given).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// How long a record stays UPLOADED before it is PROCESSED, such as
    /// 300ms, 2s or 1m (a bare number is milliseconds).
    #[arg(long, value_name = "TIME", default_value = "300ms", value_parser = parse_duration)]
    processing_time: Duration,

    /// Require `Authorization: Bearer TOKEN` on every control request.
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,

    /// Set the account's credit balance (a new account otherwise starts with
    /// 1000; a data directory's account keeps its own).
    #[arg(long, value_name = "N")]
    credits: Option<u64>,

    /// How long upload URLs stay valid, such as 15m or 3600s.
    #[arg(long, value_name = "TIME", default_value = "1h", value_parser = parse_duration)]
    upload_url_expiry: Duration,

    /// Do not create and print an API key at start.
    #[arg(long)]
    no_key: bool,

    /// `system`, or `manual`: time only moves with
    /// `POST /_emulator/clock/advance {"millis": N}`.
    #[arg(long, value_name = "CLOCK", default_value = "system", value_parser = parse_clock)]
    clock: ClockMode,

    /// Close a connection whose request head has not arrived whole after
    /// this long, such as 10s.
    #[arg(long, value_name = "TIME", default_value = "10s", value_parser = parse_duration)]
    header_read_timeout: Duration,

    /// Cut off a request body (API or upload) that sends nothing for this
    /// long while it is read, and close its connection, such as 20s.
    #[arg(long, value_name = "TIME", default_value = "20s", value_parser = parse_duration)]
    body_read_timeout: Duration,

    /// Close a kept-alive connection idle for this long, such as 5s.
    #[arg(long, value_name = "TIME", default_value = "5s", value_parser = parse_duration)]
    idle_timeout: Duration,

    /// Serve at most this many connections at once; further ones wait.
    #[arg(long, value_name = "N", default_value_t = authenta_emulator::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,

    /// What `GET /media` items hold: `full` records or the documented
    /// `summary` (mid, name, type, status, modelType, createdAt).
    #[arg(long, value_name = "ITEMS", default_value = "full", value_parser = parse_list_items)]
    list_items: ListItems,

    /// Which credentials the API takes: `bearer` (API keys, answered as
    /// today's API: no quotas, INVALID_API_KEY/FORBIDDEN/
    /// INSUFFICIENT_BALANCE), `headers` (x-client-id/x-client-secret,
    /// answered as the older API: quotas, IAM001/IAM002/AA001/U007), or
    /// `both`.
    #[arg(long, value_name = "KIND", default_value = "both")]
    auth: AuthMode,
}

fn parse_clock(text: &str) -> Result<ClockMode, String> {
    match text {
        "system" => Ok(ClockMode::System),
        "manual" => Ok(ClockMode::Manual),
        other => Err(format!("{other:?}: the clock is `system` or `manual`")),
    }
}

fn parse_list_items(text: &str) -> Result<ListItems, String> {
    match text {
        "full" => Ok(ListItems::Full),
        "summary" => Ok(ListItems::Summary),
        other => Err(format!("{other:?}: list items are `full` or `summary`")),
    }
}

/// Parses `300ms`, `2s`, `1.5s`, `5m`, `1h` or a bare number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 300ms, 2s or 1m"))?;
    let seconds = match unit.trim() {
        "" | "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit {other:?}; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// Prints a line to stdout; a closed stdout (a reader that went away) is not
/// a reason to stop serving, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // s3s logs whole requests (pre-signed query strings, signatures) at
    // debug level: keep it at info, whatever RUST_LOG says.
    let no_s3s_debug = tracing_subscriber::filter::filter_fn(|meta| {
        !(meta.target().starts_with("s3s") && *meta.level() > tracing::Level::INFO)
    });
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a redirected log stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(no_s3s_debug);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .processing_time(args.processing_time)
        .upload_url_expiry(args.upload_url_expiry)
        .clock(args.clock)
        .header_read_timeout(args.header_read_timeout)
        .body_read_timeout(args.body_read_timeout)
        .idle_timeout(args.idle_timeout)
        .max_connections(args.max_connections)
        .list_items(args.list_items)
        .auth(args.auth);
    if let Some(dir) = args.data_dir {
        builder = builder.data_dir(dir);
    }
    if let Some(token) = args.admin_token {
        builder = builder.admin_token(token);
    }
    if let Some(credits) = args.credits {
        builder = builder.credits(credits);
    }
    let emulator = match builder.start().await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("authenta-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    say!("authenta-emulator is running");
    say!(
        "  {:<15}{}",
        authenta_emulator::BANNER_BASE_URL,
        emulator.base_url()
    );
    say!("  control:       {}", emulator.control_url());
    if !args.no_key {
        match emulator.create_key(KeySpec::new("emulator-default")) {
            Ok(key) => {
                say!("  {:<15}{}", authenta_emulator::BANNER_API_KEY, key.api_key);
                say!(
                    "  {:<15}{}",
                    authenta_emulator::BANNER_CLIENT_ID,
                    key.client_id
                );
                say!(
                    "  {:<15}{}",
                    authenta_emulator::BANNER_CLIENT_SECRET,
                    key.client_secret
                );
            }
            Err(e) => {
                eprintln!("authenta-emulator: cannot create a key: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    say!(
        "  auth:          {}",
        match args.auth {
            AuthMode::Bearer => "bearer: the API key only (Authorization: Bearer)",
            AuthMode::Headers =>
                "headers: the client id and secret only (x-client-id, x-client-secret)",
            _ => "both: the API key (Bearer), or the client id and secret (x-client-*)",
        }
    );
    say!("Press Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("authenta-emulator: cannot wait for Ctrl-C: {e}");
    }
    emulator.stopped().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
