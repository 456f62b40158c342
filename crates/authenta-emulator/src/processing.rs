//! Processing: the deterministic verdict, the documents behind `resultURL`
//! and `heatmapURL`, and the timers that move records to `PROCESSED`.
//!
//! The rule tests can rely on: **`fake` is `true` exactly when the first
//! byte of the SHA-256 of the uploaded bytes is odd.** Everything else
//! (scores, participants, boxes, heatmaps) is derived from the same hash.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use authenta_types::{MediaKind, ParticipantBoxes, ResultDocument};
use tokio::sync::watch;

use crate::model::MediaRecord;
use crate::state::Shared;

/// The verdict for content whose SHA-256 is `sha256_hex`: fake when its
/// first byte is odd.
///
/// ```
/// // SHA-256("") = e3b0c442...: 0xe3 is odd.
/// let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// assert!(authenta_emulator::verdict(empty));
/// ```
pub fn verdict(sha256_hex: &str) -> bool {
    hash_byte(sha256_hex, 0) % 2 == 1
}

/// Byte `i` of a hex digest (0 when the digest is short or malformed).
fn hash_byte(sha256_hex: &str, i: usize) -> u8 {
    sha256_hex
        .get(2 * i..2 * i + 2)
        .and_then(|h| u8::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// The kind of media a record holds.
pub(crate) fn kind_of(record: &MediaRecord) -> Option<MediaKind> {
    MediaKind::of_content_type(&record.content_type)
}

/// How many faces the emulator "finds" in a processed video (1 or 2).
pub(crate) fn participant_count(record: &MediaRecord) -> usize {
    match (kind_of(record), &record.upload) {
        (Some(MediaKind::Video), Some(upload)) => 1 + usize::from(hash_byte(&upload.sha256, 1) % 2),
        _ => 0,
    }
}

/// The model's confidence in the verdict, in [0, 1] to three places: above
/// 0.5 when fake (the result document's `score`).
fn score(sha: &str) -> f64 {
    let score = f64::from(hash_byte(sha, 2)) / 255.0;
    let score = if verdict(sha) {
        0.5 + score / 2.0
    } else {
        score / 2.0
    };
    (score * 1000.0).round() / 1000.0
}

/// The figures generation 2 adds to a processed record: `confidence` for
/// an image, `faces` and `deepFakes` for a video (every face fake when the
/// video is, none when it is not).
pub(crate) fn figures(record: &MediaRecord) -> (Option<f64>, Option<u64>, Option<u64>) {
    let Some(upload) = &record.upload else {
        return (None, None, None);
    };
    match kind_of(record) {
        Some(MediaKind::Image) => (Some(score(&upload.sha256)), None, None),
        Some(MediaKind::Video) => {
            let faces = participant_count(record) as u64;
            let fakes = if verdict(&upload.sha256) { faces } else { 0 };
            (None, Some(faces), Some(fakes))
        }
        _ => (None, None, None),
    }
}

/// The JSON document behind a processed record's `resultURL`.
///
/// Every record's document carries `fake` and a `score` in [0, 1]; a
/// video's also carries `boundingBoxes`: per participant, five frames
/// (0, 5, 10, 15, 20) of `[xmin, ymin, xmax, ymax]`.
pub(crate) fn result_document(record: &MediaRecord) -> Vec<u8> {
    let sha = record
        .upload
        .as_ref()
        .map(|u| u.sha256.as_str())
        .unwrap_or("");
    let mut doc = ResultDocument {
        fake: Some(verdict(sha)),
        score: Some(score(sha)),
        ..ResultDocument::default()
    };
    let participants = participant_count(record);
    if participants > 0 {
        let mut boxes = BTreeMap::new();
        for p in 0..participants {
            let mut frames = BTreeMap::new();
            let x0 = f64::from(hash_byte(sha, 3 + p) % 100) + 10.0 + 200.0 * p as f64;
            let y0 = f64::from(hash_byte(sha, 5 + p) % 80) + 20.0;
            for f in 0..5u32 {
                let dx = f64::from(f) * 2.0;
                frames.insert(f * 5, [x0 + dx, y0, x0 + dx + 120.0, y0 + 150.0]);
            }
            boxes.insert(
                p as u32,
                ParticipantBoxes {
                    bounding_box: frames,
                    extra: Default::default(),
                },
            );
        }
        doc.bounding_boxes = Some(boxes);
    }
    serde_json::to_vec(&doc).unwrap_or_else(|_| b"{}".to_vec())
}

/// A small PNG heatmap (32 x 32, RGB), derived from the content hash.
pub(crate) fn heatmap_png(record: &MediaRecord, salt: u8) -> Vec<u8> {
    let sha = record
        .upload
        .as_ref()
        .map(|u| u.sha256.as_str())
        .unwrap_or("");
    let (cx, cy) = (
        i32::from(hash_byte(sha, 7) % 32),
        i32::from(hash_byte(sha, 8).wrapping_add(salt) % 32),
    );
    const SIDE: u32 = 32;
    let mut raw = Vec::with_capacity((SIDE * (SIDE * 3 + 1)) as usize);
    for y in 0..SIDE as i32 {
        raw.push(0); // filter: none
        for x in 0..SIDE as i32 {
            let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            let heat = (255 - (d2 * 2).min(255)) as u8;
            raw.extend_from_slice(&[heat, 0, 255 - heat]);
        }
    }
    encode_png(SIDE, SIDE, &raw)
}

/// Encodes 8-bit RGB scanlines (each starting with its filter byte) as a PNG,
/// with stored (uncompressed) deflate blocks.
fn encode_png(width: u32, height: u32, raw: &[u8]) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&adler32(raw).to_be_bytes());
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// Moves every record whose processing is due to `PROCESSED`, now;
/// `false` when the store failed.
pub(crate) fn finish_due(shared: &Shared) -> bool {
    let now = shared.clock.now();
    match shared.store(|s| s.finish_due(now)) {
        Ok(mids) => {
            for mid in mids {
                tracing::info!(%mid, "media processed");
            }
            true
        }
        Err(e) => {
            if !shared.is_stopped() {
                tracing::error!(error = %e, "could not finish processing");
            }
            false
        }
    }
}

/// The processing task: finishes records when they are due, on the system
/// clock by sleeping until the next one is due, on a manual clock when it
/// is advanced (or an upload completes). Ends when the emulator stops.
pub(crate) fn spawn(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let done = finish_due(&shared);
            if shared.is_stopped() {
                return;
            }
            let next = if shared.clock.is_manual() {
                None
            } else {
                shared.store(|s| s.next_due()).ok().flatten()
            };
            let wait = next.map(|due| {
                let wait = crate::clock::until(shared.clock.now(), due);
                // After a store failure, do not spin on a record due long ago.
                if done {
                    wait
                } else {
                    wait.max(Duration::from_secs(1))
                }
            });
            tokio::select! {
                () = async {
                    match wait {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
                () = shared.processing.notified() => {}
                () = crate::listener::stopped(&mut stop) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn verdict_follows_the_first_byte() {
        assert!(verdict("01ff"));
        assert!(!verdict("02ff"));
        assert!(!verdict(""));
    }
}
