//! Processes one file: checks it, uploads it with a progress line, waits
//! for the verdict, and saves the heatmap next to it.
//!
//! ```text
//! export AUTHENTA_CLIENT_ID=... AUTHENTA_CLIENT_SECRET=...
//! # against the emulator binary: export AUTHENTA_BASE_URL=http://127.0.0.1:8080/api
//! cargo run -p authenta-ureq --example blocking_process_one -- portrait.jpg AC-1
//! ```
//!
//! The model defaults to AC-1 (images); use DF-1 for videos.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use authenta_ureq::types::ModelType;
use authenta_ureq::{Client, UploadOptions};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: process_one <file> [model, default AC-1]");
        return ExitCode::from(2);
    };
    let model = args
        .next()
        .map(|m| ModelType::from_wire(&m.to_string_lossy()))
        .unwrap_or(ModelType::Ac1);
    match run(&path, model) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::path::Path, model: ModelType) -> authenta_ureq::Result<()> {
    let client = Client::from_env()?;
    let shown = AtomicU64::new(u64::MAX);
    let options = UploadOptions::new(model).on_progress(move |sent, total| {
        let percent = sent * 100 / total.max(1);
        if shown.swap(percent, Ordering::Relaxed) != percent {
            eprint!("\ruploading: {percent:>3}%");
            if sent == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    });
    let media = client.process(path, &options)?;
    println!("mid:     {}", media.mid);
    println!("status:  {}", media.status);
    println!("model:   {}", media.model_type);
    match media.fake {
        Some(true) => println!("verdict: manipulated"),
        Some(false) => println!("verdict: authentic"),
        None => println!("verdict: none"),
    }
    let heatmap = path.with_extension("heatmap.png");
    if let Some(bytes) = client.download_heatmap(&media, &heatmap)? {
        println!("heatmap: {} ({bytes} bytes)", heatmap.display());
    }
    Ok(())
}
