//! What every request handler shares ([`Core`]), and the operations that
//! span the store and the uploaded files: the API's view of a record,
//! deleting a record, completing an upload.

use std::path::PathBuf;
use std::sync::Arc;

use authenta_types::{Media, MediaId, MediaKind, MediaStatus, MediaType, ModelType, Participant};
use serde::{Deserialize, Serialize};

use crate::model::{MediaRecord, UploadInfo};
use crate::presign::{HEATMAP, Presigner, RESULT};
use crate::state::Shared;
use crate::store::UploadOutcome;

/// What the items of a `GET /media` page hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ListItems {
    /// Whole records, as `GET /media/{mid}` answers them (the default).
    #[default]
    Full,
    /// The documented summary: only `mid`, `name`, `type`, `status`,
    /// `modelType` and `createdAt`.
    Summary,
}

/// What every request handler shares.
pub(crate) struct Core {
    pub shared: Arc<Shared>,
    pub presigner: Presigner,
    pub admin_token: Option<String>,
    pub base_url: String,
    pub list_items: ListItems,
    pub auth: crate::model::AuthMode,
}

/// The instant the real service's `createdAt` would show: jiff's time as
/// the wire type's.
fn wire_time(t: jiff::Timestamp) -> authenta_types::Timestamp {
    t
}

impl Core {
    /// The record as the API shows it, with fresh pre-signed download URLs
    /// once it is processed.
    pub fn media_view(&self, r: &MediaRecord) -> Media {
        let status = MediaStatus::from_wire(&r.status);
        let now = self.shared.clock.now();
        let mut media = Media {
            mid: MediaId::new(r.mid.clone()),
            name: r.name.clone(),
            media_type: MediaType::from_wire(&r.media_type),
            status: status.clone(),
            model_type: ModelType::from_wire(&r.model_type),
            created_at: wire_time(r.created_at),
            fake: None,
            heatmap_url: None,
            result_url: None,
            participants: None,
            src_url: None,
            confidence: None,
            faces: None,
            deep_fakes: None,
            extra: Default::default(),
        };
        if status == MediaStatus::Processed {
            media.fake = r.fake;
            let (confidence, faces, deep_fakes) = crate::verdict::figures(r);
            media.confidence = confidence;
            media.faces = faces;
            media.deep_fakes = deep_fakes;
            media.result_url = Some(self.presigner.download_url(&r.mid, RESULT, now));
            match crate::verdict::kind_of(r) {
                Some(MediaKind::Image) => {
                    media.heatmap_url = Some(self.presigner.download_url(&r.mid, HEATMAP, now));
                }
                Some(MediaKind::Video) => {
                    let participants = (0..crate::verdict::participant_count(r))
                        .map(|i| Participant {
                            heatmap: Some(self.presigner.download_url(
                                &r.mid,
                                &format!("participants/{i}/{HEATMAP}"),
                                now,
                            )),
                            extra: Default::default(),
                        })
                        .collect();
                    media.participants = Some(participants);
                }
                _ => {}
            }
        }
        if let Some(error) = &r.error
            && let Ok(value) = serde_json::to_value(error)
        {
            media.extra.insert("error".into(), value);
        }
        media
    }

    /// A list item: the whole record, or the documented summary.
    pub fn list_item(&self, r: &MediaRecord) -> serde_json::Value {
        let media = self.media_view(r);
        let value = serde_json::to_value(&media).unwrap_or_default();
        match (self.list_items, value) {
            (ListItems::Summary, serde_json::Value::Object(mut all)) => {
                all.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "mid" | "name" | "type" | "status" | "modelType" | "createdAt"
                    )
                });
                serde_json::Value::Object(all)
            }
            (_, value) => value,
        }
    }

    /// The path an uploaded object is kept at, in a data directory.
    fn object_path(&self, mid: &str) -> Option<PathBuf> {
        self.shared
            .objects_dir()
            .map(|d| d.join(format!("{mid}.media")))
    }

    /// Removes a deleted record's stored object, if any.
    pub fn remove_object(&self, mid: &str) {
        if let Some(path) = self.object_path(mid) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Completes an upload whose bytes are in `temp` (in a data directory):
    /// keeps the object, updates the record in one transaction, and wakes
    /// the processing task.
    pub async fn complete_upload(
        &self,
        mid: &str,
        upload: UploadInfo,
        temp: Option<PathBuf>,
    ) -> CompleteResult {
        let discard = |temp: &Option<PathBuf>| {
            if let Some(t) = temp {
                let _ = std::fs::remove_file(t);
            }
        };
        let internal = |e: String| s3s::S3Error::with_message(s3s::S3ErrorCode::InternalError, e);
        let processing_time = self.shared.lock().processing_time;
        let now = self.shared.clock.now();
        let dest = self.object_path(mid);
        // Under the store's lock: the object is put in place before the
        // record says it is uploaded (a kill in between leaves an object
        // without an upload, never an upload without its object), and a
        // second upload racing the first cannot replace its object.
        let outcome = self
            .shared
            .store(|s| {
                let Some(record) = s.record(mid)? else {
                    return Ok(None);
                };
                if record.upload.is_some() {
                    return Ok(Some(UploadOutcome::AlreadyUploaded));
                }
                if let (Some(t), Some(dest)) = (&temp, &dest) {
                    std::fs::rename(t, dest).map_err(|e| format!("cannot keep the upload: {e}"))?;
                }
                s.complete_upload(mid, &upload, processing_time, now)
            })
            .map_err(internal);
        let outcome = match outcome {
            Ok(Some(o)) => o,
            Ok(None) => {
                discard(&temp);
                return Err(s3s::s3_error!(
                    NoSuchKey,
                    "The specified key does not exist: the media record was deleted"
                ));
            }
            Err(e) => {
                discard(&temp);
                return Err(e);
            }
        };
        if outcome == UploadOutcome::AlreadyUploaded {
            discard(&temp);
        }
        if let UploadOutcome::Processing(_) = outcome {
            self.shared.processing.notify_one();
        }
        Ok(outcome)
    }
}

/// What [`Core::complete_upload`] reports.
pub(crate) type CompleteResult = s3s::S3Result<UploadOutcome>;
