//! Lists every media record of the account, page by page as the iterator
//! asks for them.
//!
//! ```text
//! export AUTHENTA_CLIENT_ID=... AUTHENTA_CLIENT_SECRET=...
//! # against the emulator binary: export AUTHENTA_BASE_URL=http://127.0.0.1:8080/api
//! cargo run -p authenta-ureq --example blocking_list_all
//! ```

use std::process::ExitCode;

use authenta_ureq::Client;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> authenta_ureq::Result<()> {
    let client = Client::from_env()?;
    let mut count = 0;
    for media in client.list_all() {
        let media = media?;
        let verdict = match media.fake {
            Some(true) => "fake",
            Some(false) => "real",
            None => "-",
        };
        println!(
            "{}  {:<9}  {:<5}  {:<4}  {}",
            media.mid,
            media.status.as_str(),
            media.model_type.as_str(),
            verdict,
            media.name
        );
        count += 1;
    }
    eprintln!("{count} records");
    Ok(())
}
