//! Processes every file of a folder, a few at a time, printing each verdict
//! as soon as it is known.
//!
//! ```text
//! AUTHENTA_CLIENT_ID=... AUTHENTA_CLIENT_SECRET=... \
//!     cargo run -p authenta-reqwest --example process_folder -- ./photos [AC-1] [4]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use authenta_reqwest::{Client, ModelType, UploadOptions};
use futures_util::StreamExt as _;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(folder) = args.next() else {
        eprintln!("usage: process_folder <folder> [model, default AC-1] [concurrency, default 4]");
        return ExitCode::from(2);
    };
    let model = ModelType::from(args.next().as_deref().unwrap_or("AC-1"));
    let concurrency = match args.next().map(|n| n.parse::<usize>()) {
        None => 4,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("concurrency must be a positive number");
            return ExitCode::from(2);
        }
    };
    let client = match Client::from_env() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&folder) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file())
            .collect(),
        Err(e) => {
            eprintln!("{folder}: {e}");
            return ExitCode::FAILURE;
        }
    };
    paths.sort();

    let options = UploadOptions::new(model);
    let mut results = std::pin::pin!(client.process_many(paths, &options, concurrency));
    let (mut done, mut failed) = (0, 0);
    while let Some((path, result)) = results.next().await {
        match result {
            Ok(media) => {
                done += 1;
                let verdict = match media.fake {
                    Some(true) => "FAKE",
                    Some(false) => "real",
                    None => "no verdict",
                };
                println!(
                    "{}\t{}\t{}\t{verdict}",
                    path.display(),
                    media.mid,
                    media.status
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e}", path.display());
            }
        }
    }
    eprintln!("{done} processed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
