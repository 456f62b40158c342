//! The deterministic verdict, and the documents behind `resultURL` and
//! `heatmapURL`; a job's result and artifacts ([`jobs`]).
//!
//! The rule tests can rely on: **`fake` is `true` exactly when the first
//! byte of the SHA-256 of the uploaded bytes is odd.** Everything else
//! (scores, participants, boxes, heatmaps) is derived from the same hash.

use std::collections::BTreeMap;

use authenta_types::{MediaKind, ParticipantBoxes, ResultDocument};

use crate::model::MediaRecord;
use crate::png::encode_png;

pub(crate) mod jobs;

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
        (Some(MediaKind::Video), Some(upload)) => faces_in(&upload.sha256),
        _ => 0,
    }
}

/// How many faces the emulator "finds" in a video whose SHA-256 is `sha`
/// (1 or 2).
fn faces_in(sha: &str) -> usize {
    1 + usize::from(hash_byte(sha, 1) % 2)
}

/// Face `p`'s box `[xmin, ymin, xmax, ymax]` in frame `frame` of content
/// whose SHA-256 is `sha`: 120 x 150, moving 2 pixels right every 5 frames.
fn face_box(sha: &str, p: usize, frame: u32) -> [f64; 4] {
    let x0 = f64::from(hash_byte(sha, 3 + p) % 100) + 10.0 + 200.0 * p as f64;
    let y0 = f64::from(hash_byte(sha, 5 + p) % 80) + 20.0;
    let dx = f64::from(frame / 5) * 2.0;
    [x0 + dx, y0, x0 + dx + 120.0, y0 + 150.0]
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
            for f in 0..5u32 {
                frames.insert(f * 5, face_box(sha, p, f * 5));
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
    heatmap_of(sha, salt)
}

/// A small PNG heatmap (32 x 32, RGB) of content whose SHA-256 is `sha`.
fn heatmap_of(sha: &str, salt: u8) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_the_first_byte() {
        assert!(verdict("01ff"));
        assert!(!verdict("02ff"));
        assert!(!verdict(""));
    }
}
