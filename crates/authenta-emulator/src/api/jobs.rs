//! The jobs API under `/api/v1/jobs` (generation 2: Bearer API keys only;
//! with [`AuthMode::Headers`] the emulator plays the older service, which
//! has no jobs, and these routes are unknown).
//!
//! Where Authenta's documentation and its SDK disagree, both readings are
//! taken: the task type as the query `?taskTypeId=N` or as `taskTypeId` in
//! the body (a string, or a number), and the created job's id is answered
//! both as `jobId` and as `job.id`.

use std::sync::Arc;

use authenta_types::{
    ApiGeneration, CreateJobRequest, ErrorCode, JOB_LIST_LIMIT_DEFAULT, JOB_LIST_LIMIT_MAX,
    JOB_LIST_LIMIT_MIN, JobInput, JobStatus, MAX_UPLOAD_SIZE, Operation, SlotName, TaskTypeInfo,
};
use axum::body::Body;
use axum::extract::State;
use http::{HeaderMap, Response, StatusCode, Uri};
use serde_json::{Value, json};

use super::{MAX_NAME_CHARS, checked_as, json_object, list_limit, no_query, query_params};
use crate::clock::minus;
use crate::core::Core;
use crate::model::{AuthMode, JobInputRecord, JobRecord, job_status_str};
use crate::responses::{
    bad_request, documented_error, emulator_error, error_response, json_response, no_content,
    read_json_body, with_field,
};
use crate::store::{Finalized, JobChange, Store, StoreResult};

/// The path of the jobs collection.
pub(crate) const JOBS_PATH: &str = "/api/v1/jobs";

/// The documented checks for a jobs route (always generation 2's), then
/// `then`, as [`checked_as`] does; with [`AuthMode::Headers`], a 404.
fn checked_job<R>(
    core: &Core,
    headers: &HeaderMap,
    operation: Operation,
    then: impl FnOnce(&mut Store) -> StoreResult<Result<R, Response<Body>>>,
) -> Result<R, Response<Body>> {
    if core.auth == AuthMode::Headers {
        return Err(emulator_error(
            StatusCode::NOT_FOUND,
            "the jobs API takes API keys (Authorization: Bearer), and this emulator runs \
             with --auth headers (the older service, which has no jobs); run it with \
             --auth bearer or both",
        ));
    }
    checked_as(core, ApiGeneration::Second, headers, operation, then)
}

fn row(code: ErrorCode) -> &'static authenta_types::ErrorCodeInfo {
    code.info().expect("the jobs API's codes are in the table")
}

fn job_not_found(raw: &str) -> Response<Body> {
    error_response(
        row(ErrorCode::JobNotFound),
        format!("Job with ID {raw} does not exist"),
    )
}

/// An answer naming the job's status as `jobStatus`: a 400, 409 or 422.
fn in_state(status: StatusCode, detail: String, job_status: &str) -> Response<Body> {
    with_field(
        emulator_error(status, detail),
        "jobStatus",
        json!(job_status),
    )
}

/// The `{jobId}` segment of a jobs path (`/api/v1/jobs/{jobId}[/action]`),
/// and the id it is; `None` when it is not one the emulator gives out (a
/// number in canonical form), which no job has.
fn job_id(uri: &Uri) -> (&str, Option<u64>) {
    let raw = uri
        .path()
        .strip_prefix(JOBS_PATH)
        .and_then(|r| r.strip_prefix('/'))
        .map(|r| r.split('/').next().unwrap_or(""))
        .unwrap_or("");
    let id = raw.parse::<u64>().ok().filter(|n| n.to_string() == raw);
    (raw, id)
}

/// The documented checks, then `f` on the job the path names, for the
/// routes on one job (which take no query); `Ok(None)` when the path's id
/// is not one the emulator gives out. Returns the id as the path has it.
fn on_job<R>(
    core: &Core,
    headers: &HeaderMap,
    uri: &Uri,
    operation: Operation,
    f: impl FnOnce(&mut Store, u64) -> StoreResult<R>,
) -> (String, Result<Option<R>, Response<Body>>) {
    let (raw, id) = job_id(uri);
    let done = checked_job(core, headers, operation, |s| {
        if let Err(resp) = no_query(uri) {
            return Ok(Err(resp));
        }
        id.map(|id| f(s, id)).transpose().map(Ok)
    });
    (raw.to_owned(), done)
}

/// The task type a create request names: in the query (documented) or as
/// `taskTypeId` in the body (Authenta's SDK: a string, or a number); both
/// must agree.
fn task_type(
    query: Option<&str>,
    body: Option<u32>,
) -> Result<&'static TaskTypeInfo, Response<Body>> {
    let body = body.map(|id| id.to_string());
    let raw = match (query, body.as_deref()) {
        (None, None) => {
            return Err(bad_request(
                "no task type: send it as the query `?taskTypeId=N` (or as `taskTypeId` in the body)",
            ));
        }
        (Some(q), Some(b)) if q != b => {
            return Err(bad_request(format!(
                "the query says taskTypeId={q} and the body says {b:?}: send one (the query, as documented)"
            )));
        }
        (Some(q), _) => q,
        (None, Some(b)) => b,
    };
    raw.parse::<u32>()
        .ok()
        .and_then(TaskTypeInfo::by_id)
        .ok_or_else(|| {
            error_response(
                row(ErrorCode::InvalidTaskType),
                format!("Task type ID {raw} does not exist"),
            )
        })
}

/// The checks on one input against its task type: a slot it has, a file
/// name, a size, and a content type the slot takes (else
/// `UNSUPPORTED_MEDIA_TYPE`).
fn check_input(task: &TaskTypeInfo, input: &JobInput) -> Result<(), Response<Body>> {
    let name = input.slot_name.as_str();
    let slots: Vec<&str> = task.slots.iter().map(|s| s.name.as_str()).collect();
    let slot = task.slot(&input.slot_name).ok_or_else(|| {
        bad_request(format!(
            "task type {} ({}) has no slot {name:?}; its slots are {}",
            task.id,
            task.slug,
            slots.join(", ")
        ))
    })?;
    let chars = input.file_name.chars().count();
    if input.file_name.trim().is_empty() || chars > MAX_NAME_CHARS {
        return Err(bad_request(format!(
            "slot {name}: `fileName` must be 1 to {MAX_NAME_CHARS} characters, not {chars}"
        )));
    }
    if input.size_bytes == 0 || input.size_bytes > MAX_UPLOAD_SIZE {
        return Err(bad_request(format!(
            "slot {name}: `sizeBytes` must be from 1 to {MAX_UPLOAD_SIZE} (5 GiB, the largest single upload), not {}",
            input.size_bytes
        )));
    }
    if !slot.takes_content_type(&input.content_type) {
        return Err(error_response(
            row(ErrorCode::UnsupportedMediaType),
            format!(
                "Task type {} ({}) does not support media type: {} (slot {name}: it takes {})",
                task.id,
                task.slug,
                input.content_type,
                slot.content_types.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The job a create request asks for, or the 400 to answer.
fn job_to_create(
    uri: &Uri,
    bytes: &[u8],
    now: jiff::Timestamp,
) -> Result<JobRecord, Response<Body>> {
    let query = query_params(uri, &["taskTypeId"], "POST /v1/jobs").map_err(bad_request)?;
    let body: CreateJobRequest = json_object(
        bytes,
        "the body must be a JSON object with `inputs` (and `parameters`)",
    )?;
    let task = task_type(
        query.get("taskTypeId").map(String::as_str),
        body.task_type_id,
    )?;
    if body.inputs.is_empty() {
        return Err(bad_request("`inputs` must name at least one slot"));
    }
    for (i, input) in body.inputs.iter().enumerate() {
        check_input(task, input)?;
        if body.inputs[..i]
            .iter()
            .any(|o| o.slot_name == input.slot_name)
        {
            return Err(bad_request(format!(
                "slot {} is given twice",
                input.slot_name
            )));
        }
    }
    if let Some(missing) = task
        .slots
        .iter()
        .find(|s| s.required && !body.inputs.iter().any(|i| i.slot_name == s.name))
    {
        return Err(bad_request(format!(
            "task type {} ({}) needs the slot {}",
            task.id,
            task.slug,
            missing.name.as_str()
        )));
    }
    let reference = SlotName::Reference;
    if body
        .parameters
        .as_ref()
        .is_some_and(|p| p.is_similarity_check == Some(true))
        && !body.inputs.iter().any(|i| i.slot_name == reference)
    {
        return Err(bad_request(format!(
            "`parameters.isSimilarityCheck` needs a `{}` input: a second image of the same person",
            reference.as_str()
        )));
    }
    let parameters = body
        .parameters
        .map(|p| serde_json::to_value(p).map_err(|e| bad_request(e.to_string())))
        .transpose()?;
    Ok(JobRecord {
        id: 0,
        task_type_id: task.id,
        status: job_status_str(JobStatus::Created),
        parameters,
        created_at: now,
        updated_at: now,
        queued_at: None,
        due: None,
        finish_at: None,
        completed_at: None,
        error_message: None,
        inputs: body
            .inputs
            .into_iter()
            .map(|i| JobInputRecord {
                slot_name: i.slot_name.as_str().to_owned(),
                content_type: i.content_type,
                file_name: i.file_name,
                size_bytes: i.size_bytes,
                upload: None,
            })
            .collect(),
    })
}

pub(crate) async fn create_job(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response<Body> {
    // Read first, looked at after the checks, as `POST /media` does.
    let read = read_json_body(&headers, body).await;
    let now = core.shared.clock.now();
    let created = checked_job(&core, &headers, Operation::CreateJob, |s| {
        match read.and_then(|bytes| job_to_create(&uri, &bytes, now)) {
            Ok(job) => s.create_job(job).map(Ok),
            Err(resp) => Ok(Err(resp)),
        }
    });
    let job = match created {
        Ok(job) => job,
        Err(resp) => return resp,
    };
    tracing::info!(
        job = job.id,
        task_type = job.task_type_id,
        slots = job.inputs.len(),
        "job created"
    );
    let (expires_in, backdate) = {
        let v = core.shared.lock();
        (v.upload_expires_in, v.upload_backdate)
    };
    let mut view = core.job_view(&job);
    if let Some(inputs) = view.get_mut("inputs").and_then(Value::as_array_mut) {
        for (slot, input) in inputs.iter_mut().zip(&job.inputs) {
            let url = core.presigner.job_upload_url(
                job.id,
                &input.slot_name,
                &input.content_type,
                expires_in,
                minus(now, backdate),
            );
            slot["uploadUrl"] = json!(url);
            slot["expiresIn"] = json!(expires_in.as_secs());
        }
    }
    // Both readings of the id: `jobId` at the top (the documentation),
    // `job.id` (Authenta's SDK).
    let nested = view.clone();
    view["job"] = nested;
    json_response(StatusCode::OK, &view)
}

pub(crate) async fn get_job(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let (raw, found) = on_job(&core, &headers, &uri, Operation::GetJob, |s, id| s.job(id));
    match found {
        Ok(Some(Some(job))) => json_response(StatusCode::OK, &core.job_view(&job)),
        Ok(_) => job_not_found(&raw),
        Err(resp) => resp,
    }
}

/// `page`, `limit` and `status` of `GET /v1/jobs`.
fn parse_job_list_query(uri: &Uri) -> Result<(u64, u32, Option<String>), String> {
    let q = query_params(uri, &["page", "limit", "status"], "GET /v1/jobs")?;
    let page = match q.get("page") {
        None => 1,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|p| (1..=u64::from(u32::MAX)).contains(p))
            .ok_or_else(|| format!("`page` must be a whole number from 1, got {v:?}"))?,
    };
    let limit = list_limit(
        q.get("limit"),
        JOB_LIST_LIMIT_MIN..=JOB_LIST_LIMIT_MAX,
        JOB_LIST_LIMIT_DEFAULT,
    )?;
    let status = match q.get("status") {
        None => None,
        Some(v) if JobStatus::KNOWN.contains(&v.as_str()) => Some(v.clone()),
        Some(v) => {
            return Err(format!(
                "unknown `status` {v:?}; a job's status is one of {}",
                JobStatus::KNOWN.join(", ")
            ));
        }
    };
    Ok((page, limit, status))
}

pub(crate) async fn list_jobs(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let listed = checked_job(&core, &headers, Operation::ListJobs, |s| {
        let (page, limit, status) = match parse_job_list_query(&uri) {
            Ok(q) => q,
            Err(why) => return Ok(Err(bad_request(why))),
        };
        s.job_page(page, limit, status.as_deref())
            .map(|(total, jobs)| Ok((page, limit, total, jobs)))
    });
    let (page, limit, total, jobs) = match listed {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let data: Vec<Value> = jobs.iter().map(|j| core.job_view(j)).collect();
    json_response(
        StatusCode::OK,
        &json!({
            "data": data,
            "pagination": {
                "page": page,
                "limit": limit,
                "total": total,
                "pages": total.div_ceil(u64::from(limit)),
            },
        }),
    )
}

/// A finalize or cancel answer: the job's id, task type, status and times,
/// and a message.
fn status_update(job: &JobRecord, message: &str) -> Response<Body> {
    let mut body = json!({
        "jobId": job.id,
        "taskTypeId": job.task_type_id,
        "status": job.status,
        "updatedAt": job.updated_at,
        "message": message,
    });
    if let Some(t) = job.queued_at {
        body["queuedAt"] = json!(t);
    }
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn finalize_job(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let now = core.shared.clock.now();
    // A failure armed by `fail_next_jobs` goes to the next job finalized;
    // taken now, and given back unless this finalize queues the job.
    let (processing_time, fail) = {
        let mut v = core.shared.lock();
        (v.processing_time, v.job_failures.pop_front())
    };
    let (raw, done) = on_job(&core, &headers, &uri, Operation::FinalizeJob, |s, id| {
        s.finalize_job(id, now, processing_time, fail.as_deref())
    });
    let done = done.map(|d| d.unwrap_or(Finalized::NotFound));
    let queued = matches!(done, Ok(Finalized::Queued(_)));
    if let (false, Some(fail)) = (queued, fail) {
        core.shared.lock().job_failures.push_front(fail);
    }
    match done {
        Ok(Finalized::Queued(job)) => {
            core.shared.processing.notify_one();
            tracing::info!(job = job.id, "job finalized");
            status_update(&job, "Job queued for processing")
        }
        Ok(Finalized::NotFound) => job_not_found(&raw),
        Ok(Finalized::Missing(slots)) => in_state(
            StatusCode::BAD_REQUEST,
            format!(
                "job {raw} cannot be finalized: no upload yet for the slot(s) {}; PUT each slot's bytes to its uploadUrl, then finalize",
                slots.join(", ")
            ),
            JobStatus::Created.as_str(),
        ),
        Ok(Finalized::Already(status)) => in_state(
            StatusCode::BAD_REQUEST,
            format!("job {raw} is already finalized: it is {status}"),
            &status,
        ),
        Ok(Finalized::NoCredits) => documented_error(ErrorCode::InsufficientBalance),
        Err(resp) => resp,
    }
}

pub(crate) async fn cancel_job(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let now = core.shared.clock.now();
    let (raw, done) = on_job(&core, &headers, &uri, Operation::CancelJob, |s, id| {
        s.cancel_job(id, now)
    });
    match done.map(|d| d.unwrap_or(JobChange::NotFound)) {
        Ok(JobChange::Done(job)) => {
            tracing::info!(job = job.id, "job cancelled");
            status_update(&job, "Job cancelled")
        }
        Ok(JobChange::NotFound) => job_not_found(&raw),
        Ok(JobChange::Refused(status)) if status == JobStatus::Cancelled.as_str() => in_state(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("job {raw} is already cancelled"),
            &status,
        ),
        Ok(JobChange::Refused(status)) => in_state(
            StatusCode::CONFLICT,
            format!("job {raw} is {status}: only a job not yet processing can be cancelled"),
            &status,
        ),
        Err(resp) => resp,
    }
}

pub(crate) async fn delete_job(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let (raw, done) = on_job(&core, &headers, &uri, Operation::DeleteJob, |s, id| {
        s.delete_job(id)
    });
    match done.map(|d| d.unwrap_or(JobChange::NotFound)) {
        Ok(JobChange::Done(job)) => {
            core.remove_job_objects(&job);
            tracing::info!(job = job.id, "job deleted");
            no_content()
        }
        Ok(JobChange::NotFound) => job_not_found(&raw),
        Ok(JobChange::Refused(status)) => in_state(
            StatusCode::CONFLICT,
            format!("job {raw} is {status}: wait until it is done, then delete it"),
            &status,
        ),
        Err(resp) => resp,
    }
}
