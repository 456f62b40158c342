//! The S3-compatible upload endpoint.
//!
//! `POST /api/media` hands out a SigV4 pre-signed `PUT` URL made with
//! `rusty-s3`, with `content-type` among the signed headers. The URL points
//! here (path style: `/authenta-storage/users/<account>/media/<mid>/original.media`;
//! a job's slot: `.../jobs/<id>/<slot>.media`, one URL per slot from
//! `POST /api/v1/jobs`).
//! [`s3s`] checks the signature and expiry (`SignatureDoesNotMatch`,
//! `AccessDenied` "Request has expired"); [`front_checks`] adds the rules
//! s3s leaves to the storage layer (`Transfer-Encoding`, missing length,
//! the 5 GiB single-PUT limit), and [`EmuS3::put_object`] checks the length
//! against the record's (or the slot's) declared size and streams the body
//! to storage. `GET`s serve the derived objects: a record's result document
//! and heatmaps, a completed job's artifacts.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::BodyExt as _;
use md5::Md5;
use s3s::dto::{
    ETag, GetObjectInput, GetObjectOutput, PutObjectInput, PutObjectOutput, StreamingBlob,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::core::Core;
use crate::ids::hex;
use crate::model::UploadInfo;
use crate::presign::{BUCKET, HEATMAP, ORIGINAL, Object, RESULT, SLOT_SUFFIX};
use crate::verdict::jobs::Sources;

/// Escapes text for XML.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// An S3 XML error answer: `<Error><Code>..</Code><Message>..</Message>..</Error>`.
pub(crate) fn s3_error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: &[(&str, String)],
) -> Response<Body> {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
    xml.push_str(&format!("<Code>{}</Code>", xml_escape(code)));
    xml.push_str(&format!("<Message>{}</Message>", xml_escape(message)));
    for (name, value) in extra {
        xml.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    xml.push_str("</Error>");
    let mut resp = Response::new(Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

/// S3's own message for codes s3s answers without one.
pub(crate) fn standard_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method."
        }
        "AccessDenied" => "Access Denied",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        _ => return None,
    })
}

/// Adds S3's standard `<Message>` to an s3s error answer that has none.
pub(crate) async fn with_standard_message(resp: Response<Body>) -> Response<Body> {
    if resp.status().as_u16() < 400 {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
    else {
        return s3_error_response(
            parts.status,
            "InternalError",
            "We encountered an internal error. Please try again.",
            &[],
        );
    };
    let bytes = collected.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code);
    // s3s's own `ERROR` line for this answer is dropped (see s3s_logs).
    let status = parts.status.as_u16();
    if parts.status.is_server_error() {
        tracing::error!(status, code, body = %text, "the upload endpoint failed");
    } else {
        tracing::info!(status, code, "upload request refused");
    }
    if let Some(code) = code
        && !text.contains("<Message>")
        && let Some(message) = standard_message(code)
    {
        let fixed = text.replacen(
            "</Code>",
            &format!("</Code><Message>{message}</Message>"),
            1,
        );
        parts.headers.remove(http::header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(fixed));
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The headers that carry the Authenta API's credentials (a client id and
/// secret, or a Bearer API key): refused on the upload endpoint (S3 too
/// refuses an `Authorization` beside a pre-signed query), and never stored
/// or logged there.
pub(crate) const CREDENTIAL_HEADERS: [&str; 3] =
    ["x-client-id", "x-client-secret", "authorization"];

/// The upload rules s3s leaves to the storage layer, checked on the request
/// head before the signature: an API credential header (400
/// `InvalidArgument` naming it: stricter than S3, on purpose),
/// `Transfer-Encoding` (501 `NotImplemented`), no `Content-Length` (411
/// `MissingContentLength`), over 5 GiB (400 `EntityTooLarge`). `None` when
/// the request may go on to s3s.
pub(crate) fn front_checks(method: &Method, headers: &HeaderMap) -> Option<Response<Body>> {
    if method != Method::PUT {
        return None;
    }
    if let Some(name) = CREDENTIAL_HEADERS
        .iter()
        .find(|name| headers.contains_key(**name))
    {
        return Some(s3_error_response(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "The Authenta API's credentials must not be sent to the upload URL: \
             the pre-signed URL is the only authorization it takes",
            &[
                ("ArgumentName", (*name).to_owned()),
                ("ArgumentValue", "(not shown)".to_owned()),
            ],
        ));
    }
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Some(s3_error_response(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
            &[("Header", "Transfer-Encoding".to_owned())],
        ));
    }
    let Some(length) = headers.get(http::header::CONTENT_LENGTH) else {
        return Some(s3_error_response(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
            &[],
        ));
    };
    // hyper has already refused a Content-Length that is not a number.
    let length: u64 = length.to_str().ok()?.trim().parse().ok()?;
    if length > authenta_types::MAX_UPLOAD_SIZE {
        return Some(s3_error_response(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            &[
                ("ProposedSize", length.to_string()),
                (
                    "MaxSizeAllowed",
                    authenta_types::MAX_UPLOAD_SIZE.to_string(),
                ),
            ],
        ));
    }
    None
}

/// On a manual clock, whether the pre-signed URL in `query` has expired by
/// the emulator's clock (s3s checks the system clock, and is told to accept
/// dates in the future). `None` when it has not, or when the query is not
/// a pre-signed one (s3s then answers).
pub(crate) fn expired_by_clock(
    query: Option<&str>,
    now: jiff::Timestamp,
) -> Option<Response<Body>> {
    let mut date = None;
    let mut expires = None;
    for pair in query?.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "X-Amz-Date" => date = Some(value),
            "X-Amz-Expires" => expires = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    let date = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", date?).ok()?;
    let signed = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    let deadline = crate::clock::plus(signed, Duration::from_secs(expires?));
    (now > deadline).then(|| {
        s3_error_response(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
            &[],
        )
    })
}

/// The S3 endpoint's one credential. An unknown access key id is
/// `SignatureDoesNotMatch`, as the contract's table has it for an altered
/// credential (real S3 says `InvalidAccessKeyId`).
pub(crate) struct EmuAuth {
    pub access_key: String,
    pub secret_key: String,
}

#[async_trait::async_trait]
impl s3s::auth::S3Auth for EmuAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<s3s::auth::SecretKey> {
        if access_key == self.access_key {
            Ok(s3s::auth::SecretKey::from(self.secret_key.clone()))
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                standard_message("SignatureDoesNotMatch").unwrap_or_default(),
            ))
        }
    }
}

/// The S3 operations the emulator serves: `PutObject` for uploads and
/// `GetObject` for the derived documents.
pub(crate) struct EmuS3 {
    pub core: Arc<Core>,
}

fn no_such_key(why: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchKey,
        format!("The specified key does not exist: {why}"),
    )
}

/// Where an upload's bytes go while they arrive.
struct Sink {
    file: Option<(tokio::fs::File, std::path::PathBuf)>,
}

impl Sink {
    async fn open(core: &Core, mid: &str) -> S3Result<Sink> {
        let Some(dir) = core.shared.objects_dir() else {
            return Ok(Sink { file: None });
        };
        let path = dir.join(format!(
            "{mid}.{}{}",
            crate::ids::random_token(),
            crate::files::PART_SUFFIX
        ));
        let file = crate::files::create_part(&path).await.map_err(|e| {
            S3Error::with_message(
                S3ErrorCode::InternalError,
                format!("cannot store the upload: {e}"),
            )
        })?;
        Ok(Sink {
            file: Some((file, path)),
        })
    }

    async fn write(&mut self, chunk: &[u8]) -> S3Result<()> {
        if let Some((file, _)) = &mut self.file {
            file.write_all(chunk).await.map_err(|e| {
                S3Error::with_message(
                    S3ErrorCode::InternalError,
                    format!("cannot store the upload: {e}"),
                )
            })?;
        }
        Ok(())
    }

    /// Flushes the bytes to disk; returns the temporary path.
    async fn finish(&mut self) -> S3Result<Option<std::path::PathBuf>> {
        let Some((mut file, path)) = self.file.take() else {
            return Ok(None);
        };
        let synced = async {
            file.flush().await?;
            file.sync_data().await
        }
        .await;
        if let Err(e) = synced {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(S3Error::with_message(
                S3ErrorCode::InternalError,
                format!("cannot store the upload: {e}"),
            ));
        }
        Ok(Some(path))
    }

    /// Removes a partial upload.
    async fn discard(&mut self) {
        if let Some((file, path)) = self.file.take() {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
        }
    }
}

/// What an upload is for: a media record, or one slot of a job.
enum Target {
    Media(String),
    Job(u64, String),
}

impl std::fmt::Display for Target {
    /// The name its bytes are kept under while they arrive.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Media(mid) => f.write_str(mid),
            Target::Job(id, slot) => write!(f, "job-{id}-{slot}"),
        }
    }
}

/// A `GetObject` answer with `bytes`.
fn object_answer(bytes: Vec<u8>, content_type: &str) -> S3Response<GetObjectOutput> {
    let etag = hex(&Md5::digest(&bytes));
    S3Response::new(GetObjectOutput {
        content_length: Some(bytes.len() as i64),
        content_type: Some(content_type.to_owned()),
        e_tag: Some(ETag::Strong(etag)),
        body: Some(StreamingBlob::from(s3s::Body::from(bytes))),
        ..Default::default()
    })
}

impl EmuS3 {
    /// The size and content type declared for an upload's target.
    fn declared(&self, target: &Target) -> S3Result<(u64, String)> {
        let internal = |e| S3Error::with_message(S3ErrorCode::InternalError, e);
        match target {
            Target::Media(mid) => {
                let record = self
                    .core
                    .shared
                    .store(|s| s.record(mid))
                    .map_err(internal)?
                    .ok_or_else(|| no_such_key("no media record for this upload URL (deleted?)"))?;
                Ok((record.size, record.content_type))
            }
            Target::Job(id, slot) => {
                let job = self
                    .core
                    .shared
                    .store(|s| s.job(*id))
                    .map_err(internal)?
                    .ok_or_else(|| no_such_key("no job for this upload URL (deleted?)"))?;
                job.inputs
                    .into_iter()
                    .find(|i| &i.slot_name == slot)
                    .map(|i| (i.size_bytes, i.content_type))
                    .ok_or_else(|| no_such_key("the job has no such input slot"))
            }
        }
    }

    /// Artifact `name` of job `id`, once the job is `completed`.
    fn job_artifact(&self, id: u64, name: &str) -> S3Result<S3Response<GetObjectOutput>> {
        let job = self
            .core
            .shared
            .store(|s| s.job(id))
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e))?
            .ok_or_else(|| no_such_key("no such job"))?;
        if authenta_types::JobStatus::from_wire(&job.status) != authenta_types::JobStatus::Completed
        {
            return Err(no_such_key("the job is not completed"));
        }
        let sources =
            Sources::of(&job).ok_or_else(|| no_such_key("the job has no uploaded original"))?;
        let artifact = sources
            .artifacts()
            .into_iter()
            .find(|a| a.object == name)
            .ok_or_else(|| no_such_key("no such artifact for this job"))?;
        let mut head = serde_json::Map::new();
        head.insert("jobId".into(), job.id.into());
        head.insert("taskTypeId".into(), job.task_type_id.into());
        head.insert("taskTypeSlug".into(), sources.task.as_str().into());
        let bytes = sources.artifact_bytes(&artifact, head);
        Ok(object_answer(bytes, artifact.content_type))
    }

    /// What a request addresses, after checking the bucket and account.
    fn address<'k>(&self, bucket: &str, key: &'k str) -> S3Result<Object<'k>> {
        if bucket != BUCKET {
            return Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ));
        }
        self.core
            .presigner
            .parse_key(key)
            .ok_or_else(|| no_such_key("not a media object of this account"))
    }

    async fn store(
        &self,
        mid: &str,
        declared: u64,
        body: Option<StreamingBlob>,
        sink: &mut Sink,
    ) -> S3Result<(u64, String, String)> {
        let mut sha = Sha256::new();
        let mut md5 = Md5::new();
        let mut received: u64 = 0;
        if let Some(mut body) = body {
            while let Some(chunk) = body.next().await {
                let chunk: Bytes = chunk.map_err(|e| {
                    if crate::body_timeout::is_stall(&*e) {
                        return s3_error!(
                            RequestTimeout,
                            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
                        );
                    }
                    s3_error!(
                        IncompleteBody,
                        "You did not provide the number of bytes specified by the Content-Length HTTP header"
                    )
                })?;
                received += chunk.len() as u64;
                if received > declared {
                    return Err(s3_error!(
                        IncompleteBody,
                        "The body is longer than the Content-Length HTTP header"
                    ));
                }
                sha.update(&chunk);
                md5.update(&chunk);
                sink.write(&chunk).await?;
            }
        }
        if received != declared {
            tracing::info!(%mid, received, declared, "upload body shorter than declared");
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header"
            ));
        }
        Ok((received, hex(&sha.finalize()), hex(&md5.finalize())))
    }
}

#[async_trait::async_trait]
impl S3 for EmuS3 {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let target = match self.address(&input.bucket, &input.key)? {
            Object::Media { mid, name } if name == ORIGINAL => Target::Media(mid.to_owned()),
            Object::Job { id, name } => match name.strip_suffix(SLOT_SUFFIX) {
                Some(slot) if !slot.contains('/') => Target::Job(id, slot.to_owned()),
                _ => return Err(s3_error!(AccessDenied, "Access Denied")),
            },
            Object::Media { .. } => return Err(s3_error!(AccessDenied, "Access Denied")),
        };
        let (declared_size, declared_type) = self.declared(&target)?;
        let length = input
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| {
                s3_error!(
                    MissingContentLength,
                    "You must provide the Content-Length HTTP header."
                )
            })?;
        if length < declared_size {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the size declared for this media ({} bytes)",
                declared_size
            ));
        }
        if length > declared_size {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload is larger than the size declared for this media ({} bytes)",
                declared_size
            ));
        }
        let name = target.to_string();
        let mut sink = Sink::open(&self.core, &name).await?;
        let stored = self.store(&name, length, input.body, &mut sink).await;
        let (size, sha256, md5) = match stored {
            Ok(v) => v,
            Err(e) => {
                sink.discard().await;
                return Err(e);
            }
        };
        let temp = sink.finish().await?;
        let etag = format!("\"{md5}\"");
        let upload = UploadInfo {
            size,
            sha256,
            etag: etag.clone(),
            content_type: input.content_type.unwrap_or(declared_type),
            uploaded_at: self.core.shared.clock.now(),
        };
        match &target {
            Target::Media(mid) => {
                let outcome = self.core.complete_upload(mid, upload, temp).await?;
                tracing::info!(%mid, size, ?outcome, "upload received");
            }
            Target::Job(id, slot) => {
                let all = self
                    .core
                    .complete_job_upload(*id, slot, upload, temp)
                    .await?;
                tracing::info!(job = id, %slot, size, every_slot = all, "job upload received");
            }
        }
        let output = PutObjectOutput {
            e_tag: Some(ETag::Strong(md5)),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let (mid, name) = match self.address(&input.bucket, &input.key)? {
            Object::Media { mid, name } => (mid, name),
            Object::Job { id, name } => return self.job_artifact(id, name),
        };
        let record = self
            .core
            .shared
            .store(|s| s.record(mid))
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e))?
            .ok_or_else(|| no_such_key("no such media record"))?;
        if record.status != crate::model::status_str(authenta_types::MediaStatus::Processed) {
            return Err(no_such_key("the media is not processed"));
        }
        let (bytes, content_type) = match name {
            RESULT => (crate::verdict::result_document(&record), "application/json"),
            HEATMAP
                if crate::verdict::kind_of(&record) == Some(authenta_types::MediaKind::Image) =>
            {
                (crate::verdict::heatmap_png(&record, 0), "image/png")
            }
            other => {
                let index = other
                    .strip_prefix("participants/")
                    .and_then(|r| r.strip_suffix(&format!("/{HEATMAP}")))
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|i| *i < crate::verdict::participant_count(&record))
                    .ok_or_else(|| no_such_key("no such object for this media"))?;
                (
                    crate::verdict::heatmap_png(&record, index as u8 + 1),
                    "image/png",
                )
            }
        };
        Ok(object_answer(bytes, content_type))
    }
}
