//! `examples/async_client` run for real: the whole process flow on
//! async-io against an emulator started in-process (on tokio, on the
//! emulator's own threads; the client never touches tokio).

#[allow(dead_code, reason = "its `main` is the example's")]
#[path = "../examples/async_client/main.rs"]
mod example;

use std::time::Duration;

use authenta_client::proto::{Config, Credentials};
use authenta_client::types::MediaStatus;

/// A PNG complete as far as validation looks.
const PIXEL: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82";

#[test]
fn the_whole_flow_runs_on_async_io() {
    let emulator = authenta_emulator::Emulator::builder()
        .processing_time(Duration::from_millis(50))
        .spawn()
        .unwrap();
    let key = emulator
        .create_key(authenta_emulator::KeySpec::new("async-io"))
        .unwrap();
    let config = Config::new(Credentials::new(key.client_id, key.client_secret))
        .with_base_url(emulator.base_url())
        .unwrap();
    let client = example::client(config);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pixel.png");
    std::fs::write(&path, PIXEL).unwrap();
    let heatmap = dir.path().join("heatmap.png");
    let media = async_io::block_on(example::process(&client, &path, &heatmap)).unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert!(media.fake.is_some(), "a verdict");
    assert!(std::fs::read(&heatmap).unwrap().starts_with(b"\x89PNG"));
    assert!(!authenta_client::part_path(&heatmap).exists());
}
