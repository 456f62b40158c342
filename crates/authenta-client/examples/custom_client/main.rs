//! The whole `process` flow (check, create, streamed upload, wait, result)
//! over an HTTP client that is neither reqwest nor ureq: the one in
//! `std_client.rs`, on std's `TcpStream`.
//!
//! ```text
//! AUTHENTA_CLIENT_ID=... AUTHENTA_CLIENT_SECRET=... AUTHENTA_BASE_URL=http://127.0.0.1:8080/api \
//!     cargo run -p authenta-client --example custom_client -- samples/test-pattern.png
//! ```
//!
//! Besides the HTTP client, the glue is this file: proto's [`Client`] runs
//! every flow with its one blocking loop, std's files are its default
//! upload source, and `StdClock` is the runtime.

mod std_client;

use authenta_client::proto::UploadOptions;
use authenta_client::{Blocking, Client};
use std_client::{StdClock, StdHttp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: custom_client FILE (with AUTHENTA_CLIENT_ID, AUTHENTA_CLIENT_SECRET, AUTHENTA_BASE_URL set)")?;
    // The three variables, checked (https only, but for loopback).
    let config = authenta_client::config_from_env()?;
    let client = Client::new(
        config,
        Blocking {
            transport: StdHttp::default(),
            runtime: StdClock,
        },
    );

    // The model is the default for the file's kind (AC-1 for images, DF-1 for video).
    let file = authenta_client::media_file(std::path::Path::new(&path), None)?;
    let options = UploadOptions::new(file.default_model()?);
    let media = client.process(&path, &options)?;
    let verdict = match media.fake {
        Some(true) => "fake",
        Some(false) => "real",
        None => "no verdict",
    };
    println!("{} {} {verdict}", media.mid, media.status);
    if let Some(result) = client.result(&media)? {
        let faces = result.bounding_boxes.map_or(0, |b| b.len());
        println!("score {:?}, {faces} face(s) boxed", result.score);
    }
    Ok(())
}
