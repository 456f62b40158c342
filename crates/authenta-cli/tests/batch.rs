//! `authenta process` on a batch, against an emulator this test starts:
//! every uploaded record waits in proto's one batch waiter, so the batch
//! spends about one query per file (a list page per poll for all of them,
//! and with summary list items one `GET` per final record), with either
//! list-item mode.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use authenta_emulator::{Emulator, KeySpec, ListItems};
use serde_json::Value;

/// Writes `count` distinct small PNGs into `dir`.
fn pngs(dir: &Path, count: u32) {
    for i in 0..count {
        let image = image::RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([(i * 4 + x * 3 + y) as u8, (i * 7) as u8, (x * y + i) as u8])
        });
        image.save(dir.join(format!("p{i:02}.png"))).unwrap();
    }
}

fn batch_spends_about_one_query_per_file(items: ListItems) {
    const FILES: u32 = 30;
    let emulator = Emulator::builder()
        .processing_time(Duration::from_millis(1500))
        .list_items(items)
        .spawn()
        .unwrap();
    let key = emulator.create_key(KeySpec::new("batch")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    pngs(dir.path(), FILES);
    let output = Command::new(env!("CARGO_BIN_EXE_authenta"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("AUTHENTA_BASE_URL", emulator.base_url())
        .env("AUTHENTA_CLIENT_ID", &key.client_id)
        .env("AUTHENTA_CLIENT_SECRET", &key.client_secret)
        .args(["--json", "process", "-j", "8"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), FILES as usize);
    for line in &lines {
        assert_eq!(line["media"]["status"], "PROCESSED", "{line}");
        assert!(line["media"]["fake"].is_boolean(), "the verdict: {line}");
    }
    let used = emulator
        .keys()
        .into_iter()
        .find(|k| k.client_id == key.client_id)
        .unwrap();
    assert_eq!(used.mutation_used, u64::from(FILES));
    assert!(
        used.query_used * 10 <= u64::from(FILES) * 13,
        "{items:?}: {} queries for {FILES} files",
        used.query_used
    );
}

#[test]
fn a_batch_with_full_list_items_spends_well_under_one_query_per_file() {
    batch_spends_about_one_query_per_file(ListItems::Full);
}

#[test]
fn a_batch_with_summary_list_items_spends_at_most_1_3_queries_per_file() {
    batch_spends_about_one_query_per_file(ListItems::Summary);
}
