//! What every request handler shares ([`Core`]), and the operations that
//! span the store and the uploaded files: the API's view of a record,
//! deleting a record, completing an upload.

use std::path::PathBuf;
use std::sync::Arc;

use authenta_types::{
    JobStatus, Media, MediaId, MediaKind, MediaStatus, MediaType, ModelType, Participant,
    TaskTypeInfo,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::model::{JobRecord, MediaRecord, UploadInfo};
use crate::presign::{HEATMAP, Presigner, RESULT, SLOT_SUFFIX};
use crate::state::Shared;
use crate::store::{SlotUpload, UploadOutcome};
use crate::verdict::jobs::Sources;

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

impl Core {
    /// The job as the jobs API shows it: `jobId` and `id` (both readings of
    /// its id), its task type, status, times and slots; once `completed`,
    /// its `result` and `artifacts` (with fresh pre-signed download URLs);
    /// once `failed`, its `errorMessage`.
    pub fn job_view(&self, job: &JobRecord) -> Value {
        let status = JobStatus::from_wire(&job.status);
        let mut v = Map::new();
        v.insert("jobId".into(), json!(job.id));
        v.insert("id".into(), json!(job.id));
        v.insert("taskTypeId".into(), json!(job.task_type_id));
        if let Some(task) = TaskTypeInfo::by_id(job.task_type_id) {
            v.insert("taskTypeSlug".into(), json!(task.slug));
        }
        v.insert("status".into(), json!(job.status));
        if let Some(p) = &job.parameters {
            v.insert("parameters".into(), p.clone());
        }
        v.insert("createdAt".into(), json!(job.created_at));
        v.insert("updatedAt".into(), json!(job.updated_at));
        if let Some(t) = job.queued_at {
            v.insert("queuedAt".into(), json!(t));
        }
        if let Some(t) = job.completed_at {
            v.insert("completedAt".into(), json!(t));
        }
        let inputs: Vec<Value> = job
            .inputs
            .iter()
            .map(|i| {
                json!({
                    "slotName": i.slot_name,
                    "contentType": i.content_type,
                    "fileName": i.file_name,
                    "sizeBytes": i.size_bytes,
                    "uploaded": i.upload.is_some(),
                })
            })
            .collect();
        v.insert("inputs".into(), Value::Array(inputs));
        match status {
            JobStatus::Completed => {
                if let Some(sources) = Sources::of(job) {
                    let now = self.shared.clock.now();
                    v.insert("result".into(), Value::Object(sources.result()));
                    let artifacts: Vec<Value> = sources
                        .artifacts()
                        .into_iter()
                        .map(|a| {
                            json!({
                                "id": a.id,
                                "kind": a.kind,
                                "contentType": a.content_type,
                                "downloadUrl": self.presigner.job_download_url(job.id, &a.object, now),
                            })
                        })
                        .collect();
                    v.insert("artifacts".into(), Value::Array(artifacts));
                }
            }
            JobStatus::Failed => {
                if let Some(m) = &job.error_message {
                    v.insert("errorMessage".into(), json!(m));
                }
            }
            _ => {}
        }
        Value::Object(v)
    }

    /// Where slot `slot` of job `id` is kept, in a data directory.
    fn job_object_path(&self, id: u64, slot: &str) -> Option<PathBuf> {
        self.shared
            .objects_dir()
            .map(|d| d.join(format!("job-{id}-{slot}{SLOT_SUFFIX}")))
    }

    /// Removes a deleted job's stored uploads, if any.
    pub fn remove_job_objects(&self, job: &JobRecord) {
        for input in &job.inputs {
            if let Some(path) = self.job_object_path(job.id, &input.slot_name) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// Completes the upload of slot `slot` of job `id` whose bytes are in
    /// `temp` (in a data directory): keeps the object (replacing an earlier
    /// upload of the slot) and records it, in one step under the store's
    /// lock, as [`Core::complete_upload`] does.
    pub async fn complete_job_upload(
        &self,
        id: u64,
        slot: &str,
        upload: UploadInfo,
        temp: Option<PathBuf>,
    ) -> s3s::S3Result<bool> {
        let now = self.shared.clock.now();
        let dest = self.job_object_path(id, slot);
        // The object is put in place once the store has checked that the
        // job takes the upload, and before the upload is recorded: a closed
        // job's object is never replaced, and a kill in between leaves an
        // object without its upload, never the other way round.
        let outcome = self.shared.store(|s| {
            s.complete_job_upload(id, slot, &upload, now, || match (&temp, &dest) {
                (Some(t), Some(dest)) => {
                    std::fs::rename(t, dest).map_err(|e| format!("cannot keep the upload: {e}"))
                }
                _ => Ok(()),
            })
        });
        let discard = || {
            if let Some(t) = &temp {
                let _ = std::fs::remove_file(t);
            }
        };
        match outcome {
            Ok(SlotUpload::Stored(all)) => Ok(all),
            Ok(SlotUpload::NoSuchSlot) => {
                discard();
                Err(s3s::s3_error!(
                    NoSuchKey,
                    "The specified key does not exist: the job was deleted"
                ))
            }
            Ok(SlotUpload::Closed(status)) => {
                discard();
                Err(s3s::s3_error!(
                    AccessDenied,
                    "Access Denied: job {id} is {status} and takes no more uploads"
                ))
            }
            Err(e) => {
                discard();
                Err(s3s::S3Error::with_message(
                    s3s::S3ErrorCode::InternalError,
                    e,
                ))
            }
        }
    }
}

/// What [`Core::complete_upload`] reports.
pub(crate) type CompleteResult = s3s::S3Result<UploadOutcome>;
