//! Processes one file: upload, wait for the verdict, save the heatmap.
//!
//! ```text
//! AUTHENTA_CLIENT_ID=... AUTHENTA_CLIENT_SECRET=... \
//!     cargo run -p authenta-reqwest --example process_one -- portrait.jpg [AC-1]
//! ```
//!
//! `AUTHENTA_BASE_URL` points it at another deployment or an emulator
//! (`authenta-emulator` prints its URL).

use std::process::ExitCode;

use authenta_reqwest::{Client, ModelType, UploadOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: process_one <file> [model, default AC-1]");
        return ExitCode::from(2);
    };
    let model = ModelType::from(args.next().as_deref().unwrap_or("AC-1"));
    match run(&path, model).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(path: &str, model: ModelType) -> authenta_reqwest::Result<()> {
    let client = Client::from_env()?;
    let options = UploadOptions::new(model)
        .on_progress(|sent, total| eprint!("\ruploaded {sent} of {total} bytes"));
    let media = client.process(path, &options).await?;
    eprintln!();
    println!("mid:    {}", media.mid);
    println!("status: {}", media.status);
    match media.fake {
        Some(fake) => println!("fake:   {fake}"),
        None => println!("fake:   (no verdict)"),
    }
    let heatmap = format!("{path}.heatmap.png");
    if let Some(bytes) = client.download_heatmap(&media, &heatmap).await? {
        println!("heatmap: {heatmap} ({bytes} bytes)");
    }
    Ok(())
}
