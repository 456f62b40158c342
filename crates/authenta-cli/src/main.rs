//! `authenta`: check media for deepfakes and manipulation with
//! [Authenta](https://authenta.ai) from the command line.
//!
//! ```text
//! authenta --emulator process samples/      # no account needed
//! authenta process clip.mp4 portrait.jpg    # with AUTHENTA_CLIENT_ID / _SECRET
//! authenta list --json | jq .status
//! authenta --emulator process samples/ --report report.html
//! ```
//!
//! Results go to stdout (tables, or one JSON object per line with
//! `--json`); progress, notes and errors to stderr. Each class of error has
//! its own exit code ([`exit::TABLE`], shown by `authenta --help`).

mod batch;
mod cli;
mod commands;
mod exit;
mod files;
mod jobs;
mod ledger;
mod mcp;
mod output;
mod process;
mod profile;
mod progress;
mod report;
mod session;

use std::process::ExitCode;

use cli::{Cli, Command};
use session::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    // One thread runs the command's tasks (uploads, waits, the batch):
    // they wait on the network, and a runtime of several workers spent
    // CPU handing them from thread to thread (a 500-file batch: 40 `futex`
    // calls a file against 22, a fifth more CPU without a ledger, and
    // 0.044-0.053 ms a file for a ledger against 0.028-0.034;
    // BENCHMARKS.md, "one thread for the command"). Files are still read,
    // and digests computed, on threads of their own (the blocking pool,
    // the ledger's hashing thread), and a PostgreSQL ledger's connection
    // has its own. A ledger call blocks the command while it runs (a
    // transaction, or a wait of at most 10 s for another process's).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("authenta: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(&cli)) {
        Ok(code) => code,
        Err(e) => {
            e.report(cli.global.json);
            e.exit_code()
        }
    };
    // Every command that used a key ends with what it spent.
    session::report_spent(cli.global.json);
    ExitCode::from(code)
}

async fn run(cli: &Cli) -> Result<u8, CliError> {
    let global = &cli.global;
    match &cli.command {
        Command::Process(args) => process::run(global, args).await,
        Command::Upload(args) => commands::upload(global, args).await,
        Command::Get(args) => commands::get(global, args).await,
        Command::List(args) => commands::list(global, args).await,
        Command::Wait(args) => commands::wait(global, args).await,
        Command::Delete(args) => commands::delete(global, args).await,
        Command::Result(args) => commands::result(global, args).await,
        Command::Report(args) => report::run(global, args).await,
        Command::Jobs(args) => jobs::run(global, args).await,
        Command::Emulator(args) => commands::emulator(global, args).await,
        Command::Ledger(args) => ledger::run(global, args),
        Command::Configure(args) => profile::configure(global, args),
        Command::Mcp(args) => mcp::run(global, args).await,
    }
}
