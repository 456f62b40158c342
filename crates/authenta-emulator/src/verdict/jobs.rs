//! A job's result and artifacts, derived from the SHA-256 of its uploaded
//! slots as `/media` verdicts are (the same rule: "fake" exactly when the
//! first byte of the original's SHA-256 is odd).
//!
//! Per task type, the result holds `confidence` (the score of
//! the verdict, as in a `/media` result document) and:
//!
//! | task type | fields |
//! |---|---|
//! | `ai-*-detection` | `isAiGenerated` |
//! | `faceswap-detection` | `isDeepFake`, `faces`, `deepFakes`, `identityDetails` |
//! | `ekyc-deepfake` | `isDeepFake`, `isLiveness` (its opposite), `identityDetails` |
//! | `image-forgery-detection`, `document-intelligence`, `pdf-1`, any other | `isDeepFake` (manipulated) |
//! | `face-liveness-detection` | `isLiveness` (not "fake") |
//! | `face-intelligence` | `isDeepFake`, `isLiveness`, `identityDetails`; with a `reference` slot `isSimilar` and `similarityScore` (each check unless its `parameters` flag is `false`) |
//! | `face-embedding` | `embedding` (512 numbers of unit length), `identityDetails` |
//! | `audio-splitter` | `segments`: `[{speaker, start, end}]` |
//!
//! `similarityScore` is 1 when the two slots hold the same bytes, else the
//! first byte of the SHA-256 of the two digests (sorted, concatenated) over
//! 255; `isSimilar` exactly when it is at least 0.5. `identityDetails` is
//! `{faces: [{faceIndex, boundingBox: [xmin, ymin, xmax, ymax], confidence}]}`: one face
//! in an image, one or two in a video (as `/media`'s participants).

use authenta_types::{EMBEDDING_LEN, MediaKind, SlotName, TaskType, TaskTypeInfo};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{face_box, faces_in, heatmap_of, score, verdict};
use crate::model::JobRecord;

/// The object name of a job's result document.
pub(crate) const RESULT_OBJECT: &str = "result.json";

/// What a finished job's result is computed from.
pub(crate) struct Sources<'a> {
    /// The task type.
    pub task: TaskType,
    /// The kind of the `original` slot's content.
    pub kind: Option<MediaKind>,
    /// The SHA-256 of the `original` slot's bytes.
    pub original: &'a str,
    /// The SHA-256 of the `reference` slot's bytes, if the job has one.
    pub reference: Option<&'a str>,
    /// The job's `parameters`.
    pub parameters: Option<&'a Value>,
}

/// One downloadable artifact of a finished job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Artifact {
    /// The artifact's id in the job's `artifacts` list.
    pub id: String,
    /// `result` or `heatmap`.
    pub kind: &'static str,
    /// Its content type.
    pub content_type: &'static str,
    /// Its object name under the job.
    pub object: String,
    /// What varies between a job's heatmaps.
    salt: u8,
}

impl<'a> Sources<'a> {
    /// What `job`'s result is computed from; `None` until its `original`
    /// slot is uploaded, or when its task type is not in the table.
    pub fn of(job: &'a JobRecord) -> Option<Sources<'a>> {
        let task = TaskTypeInfo::by_id(job.task_type_id)?;
        let slot = |name: SlotName| job.inputs.iter().find(|i| i.slot_name == name.as_str());
        let original = slot(SlotName::Original)?;
        Some(Sources {
            task: task.task_type(),
            kind: MediaKind::of_content_type(&original.content_type),
            original: &original.upload.as_ref()?.sha256,
            reference: slot(SlotName::Reference)
                .and_then(|r| r.upload.as_ref())
                .map(|u| u.sha256.as_str()),
            parameters: job.parameters.as_ref(),
        })
    }

    /// Whether a `parameters` flag is on (on unless it is `false`).
    fn check(&self, flag: &str) -> bool {
        self.parameters
            .and_then(|p| p.get(flag))
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    /// How many faces the content shows: none in audio and documents.
    fn faces(&self) -> usize {
        match self.kind {
            Some(MediaKind::Image) => 1,
            Some(MediaKind::Video) => faces_in(self.original),
            _ => 0,
        }
    }

    fn identity_details(&self) -> Value {
        let faces: Vec<Value> = (0..self.faces())
            .map(|p| {
                json!({
                    "faceIndex": p,
                    "boundingBox": face_box(self.original, p, 0),
                    // How sure the face is a face: 0.9 to 0.999.
                    "confidence": 0.9 + f64::from(super::hash_byte(self.original, 9 + p) % 100) / 1000.0,
                })
            })
            .collect();
        json!({ "faces": faces })
    }

    /// The job's `result`.
    pub fn result(&self) -> Map<String, Value> {
        let sha = self.original;
        let fake = verdict(sha);
        let mut r = Map::new();
        r.insert("confidence".into(), json!(score(sha)));
        match self.task {
            TaskType::AiImageDetection
            | TaskType::AiAudioDetection
            | TaskType::AiVideoDetection => {
                r.insert("isAiGenerated".into(), json!(fake));
            }
            TaskType::FaceswapDetection => {
                let faces = self.faces();
                r.insert("isDeepFake".into(), json!(fake));
                r.insert("faces".into(), json!(faces));
                r.insert("deepFakes".into(), json!(if fake { faces } else { 0 }));
                r.insert("identityDetails".into(), self.identity_details());
            }
            TaskType::EkycDeepfake => {
                r.insert("isDeepFake".into(), json!(fake));
                r.insert("isLiveness".into(), json!(!fake));
                r.insert("identityDetails".into(), self.identity_details());
            }
            TaskType::FaceLivenessDetection => {
                r.insert("isLiveness".into(), json!(!fake));
            }
            TaskType::FaceIntelligence => {
                if self.check("isFaceswapCheck") {
                    r.insert("isDeepFake".into(), json!(fake));
                }
                if self.check("isLivenessCheck") {
                    r.insert("isLiveness".into(), json!(!fake));
                }
                if let Some(reference) = self.reference
                    && self.check("isSimilarityCheck")
                {
                    let similarity = similarity(sha, reference);
                    r.insert("isSimilar".into(), json!(similarity >= 0.5));
                    r.insert("similarityScore".into(), json!(similarity));
                }
                r.insert("identityDetails".into(), self.identity_details());
            }
            TaskType::FaceEmbedding => {
                r.insert("embedding".into(), json!(embedding(sha)));
                r.insert("identityDetails".into(), self.identity_details());
            }
            TaskType::AudioSplitter => {
                let speakers = 1 + usize::from(super::hash_byte(sha, 1) % 3);
                let segments: Vec<Value> = (0..speakers)
                    .map(|i| {
                        let start = i as f64 * 4.0;
                        json!({"speaker": i, "start": start, "end": start + 4.0})
                    })
                    .collect();
                r.insert("segments".into(), json!(segments));
            }
            _ => {
                r.insert("isDeepFake".into(), json!(fake));
            }
        }
        r
    }

    /// The job's artifacts: the result document, and a heatmap for an
    /// image (one per face for a video) where the task type looks at faces
    /// or pixels (not for embeddings, audio or documents).
    pub fn artifacts(&self) -> Vec<Artifact> {
        let mut all = vec![Artifact {
            id: "result".into(),
            kind: "result",
            content_type: "application/json",
            object: RESULT_OBJECT.into(),
            salt: 0,
        }];
        if matches!(self.task, TaskType::FaceEmbedding | TaskType::AudioSplitter) {
            return all;
        }
        let heatmaps = match self.kind {
            Some(MediaKind::Image) => 1,
            Some(MediaKind::Video) => self.faces(),
            _ => 0,
        };
        all.extend((0..heatmaps).map(|i| Artifact {
            id: format!("heatmap-{i}"),
            kind: "heatmap",
            content_type: "image/png",
            object: format!("heatmaps/{i}.png"),
            salt: i as u8,
        }));
        all
    }

    /// The bytes of `artifact`: for the result document, `head` (the job's
    /// id and task type) with the `result`.
    pub fn artifact_bytes(&self, artifact: &Artifact, head: Map<String, Value>) -> Vec<u8> {
        if artifact.kind == "result" {
            let mut doc = head;
            doc.insert("result".into(), Value::Object(self.result()));
            return serde_json::to_vec(&doc).unwrap_or_else(|_| b"{}".to_vec());
        }
        heatmap_of(self.original, artifact.salt)
    }
}

/// The similarity of two contents by their SHA-256 (see the module's
/// documentation), to three places.
fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("{lo}{hi}").as_bytes());
    (f64::from(digest[0]) / 255.0 * 1000.0).round() / 1000.0
}

/// A 512-number embedding of unit length, derived from `sha` (the same
/// bytes, the same embedding).
fn embedding(sha: &str) -> Vec<f64> {
    let raw: Vec<f64> = (0..EMBEDDING_LEN / 32)
        .flat_map(|block| Sha256::digest(format!("{sha}:{block}").as_bytes()))
        .map(|b| (f64::from(b) - 127.5) / 127.5)
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm * 1e6).round() / 1e6).collect()
}

/// The digest of `bytes`, in hex (tests).
#[cfg(test)]
fn sha(bytes: &[u8]) -> String {
    crate::ids::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources<'a>(task: TaskType, original: &'a str, reference: Option<&'a str>) -> Sources<'a> {
        Sources {
            task,
            kind: Some(MediaKind::Image),
            original,
            reference,
            parameters: None,
        }
    }

    #[test]
    fn the_same_bytes_are_similar_and_embed_alike() {
        let a = sha(b"face");
        let b = sha(b"other face");
        let same = sources(TaskType::FaceIntelligence, &a, Some(&a)).result();
        assert_eq!(same["similarityScore"], 1.0);
        assert_eq!(same["isSimilar"], true);
        let other = sources(TaskType::FaceIntelligence, &a, Some(&b)).result();
        let score = other["similarityScore"].as_f64().unwrap();
        assert_eq!(other["isSimilar"], score >= 0.5);
        let e = sources(TaskType::FaceEmbedding, &a, None).result()["embedding"].clone();
        let e: Vec<f64> = serde_json::from_value(e).unwrap();
        assert_eq!(e.len(), EMBEDDING_LEN);
        let norm: f64 = e.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
        assert_ne!(embedding(&a), embedding(&b));
    }
}
