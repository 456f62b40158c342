//! What a caller chooses for a call and an upload, shared by both
//! backends. A job's choices ([`JobOptions`](crate::JobOptions)) are in
//! `job_options`, above the flows: the flows read this module.

use std::fmt;
use std::sync::Arc;

use authenta_types::{CreateMediaRequest, CreatedMedia, MediaId, ModelType};
use jiff::Timestamp;

use crate::error::ValidationError;
use crate::poll::PollPolicy;
use crate::retry::RetryPolicy;
use crate::upload::UploadTarget;
use crate::validate::MediaFile;

/// What a call may change for itself: its request timeout, retry policy
/// and poll policy, each in place of the client's when given. One value
/// for any combination; `Client::with_options` (`authenta-client`)
/// makes a client that uses it (sharing the original's connections, key
/// and quota counts).
///
/// ```
/// use std::time::Duration;
/// use authenta_proto::{CallOptions, PollPolicy, RetryPolicy};
///
/// let patient = CallOptions::new()
///     .timeout(Duration::from_secs(120))
///     .retry(RetryPolicy { max_attempts: 1, ..RetryPolicy::default() })
///     .poll(PollPolicy::fixed(Duration::from_secs(5), Duration::from_secs(3600)));
/// assert_eq!(patient.timeout, Some(Duration::from_secs(120)));
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// How long one API request (or artifact download) and its answer may
    /// take; the client's (its transport's) otherwise. The upload `PUT`
    /// keeps the transport's upload timeout.
    pub timeout: Option<std::time::Duration>,
    /// How the call retries; the client's otherwise.
    pub retry: Option<RetryPolicy>,
    /// How a wait polls; the client's otherwise.
    pub poll: Option<PollPolicy>,
}

impl CallOptions {
    /// No change: the client's settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The request timeout.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The poll policy.
    pub fn poll(mut self, poll: PollPolicy) -> Self {
        self.poll = Some(poll);
        self
    }
}

/// A progress callback: (bytes sent so far, total bytes).
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A point of an upload a caller can save, to resume it after a crash
/// (the `authenta` command's ledger does). The upload calls the
/// [`CheckpointFn`] at each point *before* the next request that depends on
/// it, and stops with a local I/O failure if saving fails, so whatever was
/// saved last is the truth when the process dies between two points.
#[derive(Debug)]
#[non_exhaustive]
pub enum Checkpoint<'a> {
    /// The record is about to be created (`POST /media`) at `at`. Should
    /// the process die before [`Checkpoint::Created`] is saved, a record
    /// named `request.name` created after `at` may exist without anyone
    /// knowing its upload URL.
    Creating {
        /// The request about to be sent.
        request: &'a CreateMediaRequest,
        /// The wall-clock time before it was sent.
        at: Timestamp,
    },
    /// The record exists; its bytes go to `target` next.
    Created {
        /// The create answer.
        created: &'a CreatedMedia,
        /// Where the bytes go, with its expiry (serializable).
        target: &'a UploadTarget,
    },
    /// The bytes arrived: the record waits for processing.
    Uploaded {
        /// The record.
        mid: &'a MediaId,
    },
}

/// Saves an upload's [`Checkpoint`]s: says whether each is saved already
/// or will be ([`Saved`]); an error stops the upload.
pub type CheckpointFn = Arc<dyn Fn(Checkpoint<'_>) -> std::io::Result<Saved> + Send + Sync>;

/// The rest of a save that ends later ([`Saved::Later`]).
pub type SaveFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>;

/// What a [`CheckpointFn`] did with a point.
///
/// ```
/// use std::sync::Arc;
/// use authenta_proto::options::{CheckpointFn, Saved};
///
/// // Saved at once (a file written and flushed, say).
/// let now: CheckpointFn = Arc::new(|_point| Ok(Saved::Now));
/// // Saved with other uploads' points, in one transaction, a little later:
/// // the upload waits for it before the request that depends on the point.
/// let later: CheckpointFn = Arc::new(|_point| Ok(Saved::later(async { Ok(()) })));
/// ```
#[must_use = "a point saved later is saved only once its future ends"]
pub enum Saved {
    /// The point is saved.
    Now,
    /// The point is saved once this future ends with `Ok` (an `Err` stops
    /// the upload, as a failed save does). A saver that writes several
    /// uploads' points together returns it; the upload waits for it
    /// before the request that depends on the point, without holding a
    /// thread where its driver can (the flow's
    /// [`Action::Await`](crate::engine::Action::Await)).
    Later(SaveFuture),
}

impl Saved {
    /// A save that ends with `save`.
    pub fn later(
        save: impl std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    ) -> Self {
        Saved::Later(Box::pin(save))
    }
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Saved::Now => "Saved::Now",
            Saved::Later(_) => "Saved::Later(..)",
        })
    }
}

/// The choices for one upload: the model, and optionally the content type,
/// the record's name and a progress callback.
///
/// ```
/// use authenta_proto::UploadOptions;
/// use authenta_proto::types::ModelType;
///
/// let options = UploadOptions::new(ModelType::Df1)
///     .content_type("video/mp4")
///     .name("interview")
///     .on_progress(|sent, total| eprintln!("{sent}/{total}"));
/// assert_eq!(options.model, ModelType::Df1);
/// ```
#[derive(Clone)]
pub struct UploadOptions {
    /// The model to run.
    pub model: ModelType,
    /// The content type to declare, instead of detecting it.
    pub content_type: Option<String>,
    /// The record's name, instead of the file's name.
    pub name: Option<String>,
    /// Called as bytes go out.
    pub progress: Option<ProgressFn>,
    /// Called at each [`Checkpoint`] of the upload.
    pub checkpoint: Option<CheckpointFn>,
}

impl UploadOptions {
    /// Options for `model`, everything else detected.
    pub fn new(model: ModelType) -> Self {
        UploadOptions {
            model,
            content_type: None,
            name: None,
            progress: None,
            checkpoint: None,
        }
    }

    /// Declares this content type instead of detecting it.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Names the record this instead of after the file.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Calls `progress(sent, total)` as bytes go out.
    pub fn on_progress(mut self, progress: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Calls `checkpoint` at each [`Checkpoint`] of the upload, before the
    /// request that depends on it, each point saved when it returns; an
    /// error it returns stops the upload (a
    /// [`LocalIo::Checkpoint`](crate::LocalIo::Checkpoint) failure). (A
    /// saver whose points are saved later sets
    /// [`UploadOptions::checkpoint`], a [`CheckpointFn`].)
    pub fn on_checkpoint(
        mut self,
        checkpoint: impl Fn(Checkpoint<'_>) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.checkpoint = Some(Arc::new(move |point| {
            checkpoint(point).map(|()| Saved::Now)
        }));
        self
    }

    /// Checks a file already read ([`MediaFile::from_reader`]) for these
    /// options: renamed to [`UploadOptions::name`] when one is given, and
    /// a model that takes its content type (as [`MediaFile`]'s `create_request` checks).
    pub fn check_file(&self, file: MediaFile) -> Result<MediaFile, ValidationError> {
        let mut file = file;
        if let Some(name) = &self.name {
            file = MediaFile::inspect(name.clone(), &[], file.size, Some(&file.content_type))?;
        }
        file.create_request(self.model.clone())?;
        Ok(file)
    }

    /// Checks a body of `size` bytes that is not a file: the name must be
    /// given ([`UploadOptions::name`]) and the content type given or
    /// implied by the name's extension.
    pub fn inspect_body(&self, size: u64) -> Result<MediaFile, ValidationError> {
        let name = self.name.clone().ok_or(ValidationError::InvalidName {
            reason: "an upload that is not a file needs a name; set UploadOptions::name",
        })?;
        let file = MediaFile::inspect(name, &[], size, self.content_type.as_deref())?;
        file.create_request(self.model.clone())?;
        Ok(file)
    }
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("model", &self.model)
            .field("content_type", &self.content_type)
            .field("name", &self.name)
            .field("progress", &self.progress.is_some())
            .field("checkpoint", &self.checkpoint.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_needs_a_name_and_a_type() {
        let err = UploadOptions::new(ModelType::Ac1)
            .inspect_body(10)
            .unwrap_err();
        assert!(err.to_string().contains("needs a name"), "{err}");
        let by_ext = UploadOptions::new(ModelType::Ac1)
            .name("x.png")
            .inspect_body(10)
            .unwrap();
        assert_eq!(by_ext.content_type, "image/png");
        let err = UploadOptions::new(ModelType::Df1)
            .name("x.png")
            .inspect_body(10)
            .unwrap_err();
        assert!(matches!(err, ValidationError::ModelMismatch { .. }));
    }
}
