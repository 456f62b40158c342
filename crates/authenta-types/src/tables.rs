//! Look-ups over the generated tables (`generated_tables`), on their row
//! types (`rows`) and the generated enums.

use crate::generated_tables::{CONTENT_TYPES, ERROR_CODES, MODEL_TYPES, ROUTES, TASK_TYPES};
use crate::rows::{
    ErrorCodeInfo, MediaKind, ModelTypeInfo, Operation, RouteInfo, SlotInfo, TaskTypeInfo,
};
use crate::{ErrorCode, MediaType, ModelType, SlotName, TaskType};

impl MediaKind {
    /// The kind's name, as the API spells a record's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "Image",
            MediaKind::Video => "Video",
            MediaKind::Audio => "Audio",
            MediaKind::Document => "Document",
        }
    }

    /// The kind of a MIME type the API takes (`image/png` → `Image`), or
    /// `None` when the API does not take that content type.
    ///
    /// ```
    /// use authenta_types::MediaKind;
    /// assert_eq!(MediaKind::of_content_type("video/mp4"), Some(MediaKind::Video));
    /// assert_eq!(MediaKind::of_content_type("text/plain"), None);
    /// ```
    pub fn of_content_type(content_type: &str) -> Option<MediaKind> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        CONTENT_TYPES
            .iter()
            .find(|row| row.content_type.eq_ignore_ascii_case(essence))
            .map(|row| row.media_kind)
    }

    /// The record `type` the server uses for this kind.
    pub fn media_type(self) -> MediaType {
        MediaType::from_wire(self.as_str())
    }
}

impl std::fmt::Display for MediaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Operation {
    /// The operation's row of [`ROUTES`](crate::ROUTES).
    pub fn route(self) -> &'static RouteInfo {
        ROUTES
            .iter()
            .find(|r| r.operation == self)
            .expect("every operation has a generated route")
    }
}

impl SlotInfo {
    /// Whether the slot takes this content type (parameters such as
    /// `; charset=` ignored, case-insensitive).
    ///
    /// ```
    /// use authenta_types::TaskType;
    /// let slot = &TaskType::AiImageDetection.info().unwrap().slots[0];
    /// assert!(slot.takes_content_type("image/PNG"));
    /// assert!(!slot.takes_content_type("video/mp4"));
    /// ```
    pub fn takes_content_type(&self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        self.content_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(essence))
    }
}

impl TaskTypeInfo {
    /// The row with this id.
    pub fn by_id(id: u32) -> Option<&'static TaskTypeInfo> {
        TASK_TYPES.iter().find(|row| row.id == id)
    }

    /// The row with this slug (case-insensitive).
    pub fn by_slug(slug: &str) -> Option<&'static TaskTypeInfo> {
        TASK_TYPES
            .iter()
            .find(|row| row.slug.eq_ignore_ascii_case(slug.trim()))
    }

    /// The row with this model code (case-insensitive: `df-1` is `DF-1`).
    pub fn by_model(model: &str) -> Option<&'static TaskTypeInfo> {
        TASK_TYPES
            .iter()
            .find(|row| row.model.eq_ignore_ascii_case(model.trim()))
    }

    /// The row a person named: by its slug, its id or its model code.
    ///
    /// ```
    /// use authenta_types::TaskTypeInfo;
    /// let faceswap = TaskTypeInfo::find("faceswap-detection").unwrap();
    /// assert_eq!(TaskTypeInfo::find("4"), Some(faceswap));
    /// assert_eq!(TaskTypeInfo::find("DF-1"), Some(faceswap));
    /// assert_eq!(faceswap.time_limit_secs, Some(1800));
    /// assert_eq!(TaskTypeInfo::find("sharpen"), None);
    /// ```
    pub fn find(name: &str) -> Option<&'static TaskTypeInfo> {
        let name = name.trim();
        TaskTypeInfo::by_slug(name)
            .or_else(|| name.parse().ok().and_then(TaskTypeInfo::by_id))
            .or_else(|| TaskTypeInfo::by_model(name))
    }

    /// The task type of this row.
    pub fn task_type(&self) -> TaskType {
        TaskType::from_wire(self.slug)
    }

    /// The model of this row as a [`ModelType`] (an `Unknown` one for the
    /// codes `/media` does not take, such as `AS-1`).
    pub fn model_type(&self) -> ModelType {
        ModelType::from_wire(self.model)
    }

    /// The slot of this name, if the task type has it.
    pub fn slot(&self, name: &SlotName) -> Option<&'static SlotInfo> {
        self.slots.iter().find(|s| &s.name == name)
    }
}

impl TaskType {
    /// The task type's row of [`TASK_TYPES`](crate::TASK_TYPES); `None` for
    /// an unknown task type.
    pub fn info(&self) -> Option<&'static TaskTypeInfo> {
        match self {
            TaskType::Unknown(other) => other.parse().ok().and_then(TaskTypeInfo::by_id),
            known => TaskTypeInfo::by_slug(known.as_str()),
        }
    }

    /// The task type with this id; an unknown id is kept as
    /// `TaskType::Unknown` holding the id's digits, so it still goes on the
    /// wire as itself.
    ///
    /// ```
    /// use authenta_types::TaskType;
    /// assert_eq!(TaskType::from_id(4), TaskType::FaceswapDetection);
    /// assert_eq!(TaskType::from_id(12).id(), Some(12));
    /// ```
    pub fn from_id(id: u32) -> TaskType {
        match TaskTypeInfo::by_id(id) {
            Some(row) => row.task_type(),
            None => TaskType::Unknown(id.to_string()),
        }
    }

    /// The id that goes on the wire as `taskTypeId`: the table's, or the
    /// digits an unknown task type was made of; `None` for an unknown slug.
    pub fn id(&self) -> Option<u32> {
        match self {
            TaskType::Unknown(other) => other.parse().ok(),
            _ => self.info().map(|row| row.id),
        }
    }

    /// The task type a person named: by its slug, id or model code.
    pub fn find(name: &str) -> Option<TaskType> {
        TaskTypeInfo::find(name).map(TaskTypeInfo::task_type)
    }
}

impl ModelType {
    /// The model's row of [`MODEL_TYPES`](crate::MODEL_TYPES); `None` for an
    /// unknown model.
    pub fn info(&self) -> Option<&'static ModelTypeInfo> {
        MODEL_TYPES.iter().find(|row| row.id == self.as_str())
    }

    /// Whether the model takes media of this kind; `None` for an unknown
    /// model, whose rules this version cannot know.
    ///
    /// ```
    /// use authenta_types::{MediaKind, ModelType};
    /// assert_eq!(ModelType::Df1.takes(MediaKind::Video), Some(true));
    /// assert_eq!(ModelType::Df1.takes(MediaKind::Image), Some(false));
    /// assert_eq!(ModelType::from("ZZ-9").takes(MediaKind::Image), None);
    /// ```
    pub fn takes(&self, kind: MediaKind) -> Option<bool> {
        self.info().map(|row| row.media_kinds.contains(&kind))
    }
}

impl ModelTypeInfo {
    /// Whether the model takes this content type (its kind, and for a model
    /// that names its content types, one of those).
    ///
    /// ```
    /// use authenta_types::ModelType;
    /// let fd1 = ModelType::Fd1.info().unwrap();
    /// assert!(fd1.takes_content_type("image/png"));
    /// assert!(!fd1.takes_content_type("image/webp"));
    /// assert!(ModelType::Ac1.info().unwrap().takes_content_type("image/webp"));
    /// ```
    pub fn takes_content_type(&self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        let kind_ok = MediaKind::of_content_type(essence)
            .is_some_and(|kind| self.media_kinds.contains(&kind));
        kind_ok
            && (self.content_types.is_empty()
                || self
                    .content_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(essence)))
    }
}

impl ErrorCode {
    /// The code's row of [`ERROR_CODES`](crate::ERROR_CODES); `None` for an
    /// unknown code.
    pub fn info(&self) -> Option<&'static ErrorCodeInfo> {
        ERROR_CODES.iter().find(|row| row.code == self.as_str())
    }
}

impl MediaType {
    /// The kind of media this record type is; `None` for an unknown type.
    pub fn kind(&self) -> Option<MediaKind> {
        [
            MediaKind::Image,
            MediaKind::Video,
            MediaKind::Audio,
            MediaKind::Document,
        ]
        .into_iter()
        .find(|k| k.as_str() == self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MediaStatus;
    use crate::Permission;
    use crate::rows::{ApiGeneration, CodeClass, CreditCheck, QuotaKind, RetryAdvice, VerdictRule};

    #[test]
    fn every_operation_has_one_route() {
        for op in [
            Operation::CreateMedia,
            Operation::ListMedia,
            Operation::GetMedia,
            Operation::DeleteMedia,
            Operation::CreateJob,
            Operation::ListJobs,
            Operation::GetJob,
            Operation::DeleteJob,
            Operation::FinalizeJob,
            Operation::CancelJob,
        ] {
            assert_eq!(ROUTES.iter().filter(|r| r.operation == op).count(), 1);
        }
        let finalize = Operation::FinalizeJob.route();
        assert_eq!(
            (finalize.method, finalize.path),
            ("POST", "/v1/jobs/{jobId}/finalize")
        );
        assert_eq!(finalize.credits, CreditCheck::Spent);
        assert_eq!(Operation::DeleteJob.route().permission, Permission::Delete);
        assert_eq!(Operation::CancelJob.route().permission, Permission::Write);
        let create = Operation::CreateMedia.route();
        assert_eq!((create.method, create.path), ("POST", "/media"));
        assert_eq!(create.permission, Permission::Write);
        assert_eq!(create.quota, QuotaKind::Mutation);
        assert_eq!(create.credits, CreditCheck::Checked);
        let delete = Operation::DeleteMedia.route();
        assert_eq!(delete.permission, Permission::Delete);
        assert_eq!(delete.quota, QuotaKind::Mutation);
        assert_eq!(Operation::GetMedia.route().quota, QuotaKind::Query);
        assert_eq!(Operation::ListMedia.route().permission, Permission::Read);
    }

    #[test]
    fn documented_error_codes() {
        let iam001 = ErrorCode::Iam001.info().unwrap();
        assert_eq!(
            (iam001.error_type, iam001.message, iam001.status),
            (
                Some("UNAUTHENTICATED"),
                "You are not authenticated",
                Some(401)
            )
        );
        let iam002 = ErrorCode::Iam002.info().unwrap();
        assert_eq!(
            (iam002.error_type, iam002.message, iam002.status),
            (Some("UNAUTHORIZED"), "You are not authorized", Some(403))
        );
        let aa001 = ErrorCode::Aa001.info().unwrap();
        assert_eq!(
            (aa001.error_type, aa001.message, aa001.status),
            (Some("CLIENT_ERROR"), "API limit reached", Some(429))
        );
        let u007 = ErrorCode::U007.info().unwrap();
        assert_eq!(
            (u007.error_type, u007.message, u007.status),
            (Some("CLIENT_ERROR"), "Insufficient credits", None)
        );
        // Generation 2: no type, a status each, classed like their
        // generation-1 counterparts.
        for (code, class, status) in [
            (ErrorCode::InvalidApiKey, CodeClass::Credentials, 401),
            (ErrorCode::Forbidden, CodeClass::Permission, 403),
            (ErrorCode::InsufficientBalance, CodeClass::Credits, 402),
            (ErrorCode::InvalidTaskType, CodeClass::InvalidInput, 400),
            (
                ErrorCode::UnsupportedMediaType,
                CodeClass::InvalidInput,
                400,
            ),
            (ErrorCode::JobNotFound, CodeClass::NotFound, 404),
        ] {
            let info = code.info().unwrap();
            assert_eq!(
                (info.class, info.status, info.error_type, info.generation),
                (class, Some(status), None, Some(ApiGeneration::Second)),
                "{code}"
            );
        }
        assert_eq!(
            ErrorCode::Iam001.info().unwrap().class,
            CodeClass::Credentials
        );
        assert_eq!(ErrorCode::U007.info().unwrap().class, CodeClass::Credits);
        assert!(ERROR_CODES.iter().all(|r| r.retry == RetryAdvice::Never));
        assert_eq!(ErrorCode::from("ZZ999").info(), None);
    }

    #[test]
    fn models_and_kinds() {
        assert_eq!(ModelType::Df1.takes(MediaKind::Video), Some(true));
        assert_eq!(ModelType::Ac1.takes(MediaKind::Image), Some(true));
        assert_eq!(ModelType::Ac1.takes(MediaKind::Video), Some(false));
        assert_eq!(ModelType::Af1.takes(MediaKind::Audio), Some(true));
        assert!(MODEL_TYPES.iter().all(|m| !m.media_kinds.is_empty()));
        let fi1 = ModelType::Fi1.info().unwrap();
        assert!(fi1.documented && fi1.media_kinds == [MediaKind::Image, MediaKind::Video]);
        assert!(fi1.takes_content_type("video/webm") && !fi1.takes_content_type("video/mpeg"));
        assert!(ModelType::Fd1.info().unwrap().documented);
        assert_eq!(
            MediaKind::of_content_type("IMAGE/PNG; charset=binary"),
            Some(MediaKind::Image)
        );
        assert_eq!(
            MediaKind::of_content_type("application/pdf"),
            Some(MediaKind::Document)
        );
        assert_eq!(MediaType::Video.kind(), Some(MediaKind::Video));
        assert_eq!(MediaKind::Image.media_type(), MediaType::Image);
    }

    #[test]
    fn task_types() {
        assert_eq!(TASK_TYPES.len(), 12);
        for row in TASK_TYPES {
            assert_eq!(row.task_type().info(), Some(row), "{}", row.slug);
            assert_eq!(TaskType::from_id(row.id).id(), Some(row.id));
            assert_eq!(TaskTypeInfo::find(row.model), Some(row));
            assert_eq!(row.slots[0].name, SlotName::Original);
            assert!(row.slots[0].required);
            for slot in row.slots {
                for t in slot.content_types {
                    assert!(MediaKind::of_content_type(t).is_some(), "{t}");
                }
            }
        }
        let fi = TaskType::FaceIntelligence.info().unwrap();
        assert_eq!(
            (fi.id, fi.model, fi.time_limit_secs),
            (8, "FI-1", Some(600))
        );
        let reference = fi.slot(&SlotName::Reference).unwrap();
        assert!(!reference.required && reference.takes_content_type("image/jpeg"));
        assert!(!reference.takes_content_type("video/mp4"));
        assert!(fi.slots[0].takes_content_type("video/webm"));
        assert_eq!(
            TaskType::AiImageDetection
                .info()
                .unwrap()
                .slot(&SlotName::Reference),
            None
        );
        assert_eq!(TaskTypeInfo::by_id(13).unwrap().time_limit_secs, None);
        let liveness = TaskType::FaceLivenessDetection.info().unwrap();
        assert_eq!(
            liveness.verdict,
            Some(VerdictRule {
                field: "isLiveness",
                fake_when: false
            })
        );
        assert_eq!(TaskType::FaceEmbedding.info().unwrap().verdict, None);
        assert_eq!(
            TaskType::FaceEmbedding.info().unwrap().result_fields,
            ["embedding"]
        );
        assert_eq!(
            TaskTypeInfo::by_model("as-1").unwrap().slug,
            "audio-splitter"
        );
        assert_eq!(
            TaskTypeInfo::by_model("AS-1").unwrap().model_type(),
            ModelType::from("AS-1")
        );
        assert_eq!(TaskType::from("no-such-task").id(), None);
        assert_eq!(TaskType::from("no-such-task").info(), None);
        assert_eq!(TaskType::from_id(99), TaskType::Unknown("99".into()));
        assert_eq!(
            TaskType::find("face-embedding"),
            Some(TaskType::FaceEmbedding)
        );
        assert!(
            TaskType::AiAudioDetection.info().unwrap().slots[0].takes_content_type("audio/x-wav")
        );
    }

    #[test]
    fn final_statuses() {
        assert!(MediaStatus::Processed.is_final());
        assert!(MediaStatus::Failed.is_final());
        assert!(MediaStatus::Error.is_final());
        assert!(!MediaStatus::Inited.is_final());
        assert!(!MediaStatus::Uploaded.is_final());
        assert!(!MediaStatus::from("QUEUED").is_final());
    }
}
