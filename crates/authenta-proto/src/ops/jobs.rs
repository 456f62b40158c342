//! The jobs API's operations (`/v1/jobs`): create, finalize, get, list,
//! cancel and delete. A refusal for the job's status (cancel, delete,
//! finalize) becomes an [`ProtocolError::JobState`] that says the status.

use authenta_types::{
    CreateJobRequest, CreatedJob, Job, JobId, JobList, JobListQuery, JobParameters, JobStatus,
    JobStatusUpdate, Operation, TaskType,
};
use http::{Request, Response, StatusCode};
use percent_encoding::utf8_percent_encode;

use super::{ApiRequest, PATH_SEGMENT, api_request};
use crate::config::Config;
use crate::error::JobStateError;
use crate::error::{DecodeError, ProtocolError, ValidationError};
use crate::jobs::{JobFile, check_job_inputs, check_list_query};
use crate::response::{check_api_response, read_json};

/// `base + path`, with `{jobId}` replaced by the percent-encoded id.
fn job_url(config: &Config, operation: Operation, job: Option<&JobId>) -> String {
    let path = operation.route().path;
    let path = match job {
        Some(job) => path.replace(
            "{jobId}",
            &utf8_percent_encode(job.as_str(), PATH_SEGMENT).to_string(),
        ),
        None => path.to_owned(),
    };
    format!("{}{}", config.base_url(), path)
}

/// Checks the job ids an answer holds before any of them becomes a path
/// segment (ASCII letters, digits, `-`, `_`, at most 64).
fn check_server_job_ids<'j>(
    ids: impl IntoIterator<Item = &'j JobId>,
    response: &Response<Vec<u8>>,
    operation: Operation,
) -> Result<(), ProtocolError> {
    for id in ids {
        if let Err(e) = JobId::parse(id.as_str()) {
            return Err(ProtocolError::Decode(Box::new(DecodeError {
                status: response.status(),
                operation: Some(operation),
                reason: format!(
                    "the server sent the job id {:?}, which is not one ({e})",
                    id.as_str()
                ),
                snippet: String::new(),
                mid: None,
            })));
        }
    }
    Ok(())
}

/// Reads an answer to a request on job `job` that its status may refuse
/// (cancel, delete, finalize): a 409 or 422, or any refusal that names the
/// job's status (`jobStatus`), or finalize's 400 that is not
/// `JOB_NOT_FOUND`, becomes an [`ProtocolError::JobState`].
fn check_job_state(
    response: Response<Vec<u8>>,
    operation: Operation,
    job: &JobId,
    config: &Config,
) -> Result<Response<Vec<u8>>, ProtocolError> {
    check_api_response(response, operation, None, config).map_err(|error| {
        let ProtocolError::Api(api) = &error else {
            return error;
        };
        let job_status = api
            .body
            .extra
            .get("jobStatus")
            .and_then(|v| v.as_str())
            .map(JobStatus::from);
        let state = matches!(api.status.as_u16(), 409 | 422)
            || (api.status.is_client_error() && job_status.is_some())
            || (operation == Operation::FinalizeJob
                && api.status == StatusCode::BAD_REQUEST
                && api.body.code != authenta_types::ErrorCode::JobNotFound);
        if !state {
            return error;
        }
        ProtocolError::JobState(Box::new(JobStateError {
            job: job.clone(),
            operation,
            status: api.status,
            job_status,
            code: api.body.code.clone(),
            message: api.body.message.clone(),
        }))
    })
}

/// Creates a job: `POST /v1/jobs?taskTypeId=N` with one input per slot
/// (the documentation's shape: the task type in the query, never in the
/// body). The inputs are checked against the task type's table before the
/// request is built. Never sent again once it may have reached the server
/// (a retry could create a second job). The answer is read in either shape
/// (`jobId` or `job.id`).
///
/// ```
/// use authenta_proto::{ApiRequest, Config, ops::CreateJob, Credentials, jobs::JobFile};
/// use authenta_proto::types::{SlotName, TaskType};
///
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82";
/// let file = JobFile::from_bytes(SlotName::Original, "face.png", png, None).unwrap();
/// let op = CreateJob::new(TaskType::AiImageDetection, &[file], None).unwrap();
/// let config = Config::new(Credentials::api_key("api_3f9c2a71d04b8e65c1a7f02d9b34e810"));
/// let request = op.build(&config).unwrap();
/// assert_eq!(request.uri(), "https://platform.authenta.ai/api/v1/jobs?taskTypeId=1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CreateJob {
    task_type: TaskType,
    task_type_id: u32,
    request: CreateJobRequest,
}

impl CreateJob {
    /// The create request for `files` (one per slot) and `parameters`,
    /// checked against `task_type`'s row of the table.
    pub fn new(
        task_type: TaskType,
        files: &[JobFile],
        parameters: Option<JobParameters>,
    ) -> Result<Self, ValidationError> {
        let request = CreateJobRequest {
            inputs: files.iter().map(JobFile::input).collect(),
            parameters,
            task_type_id: None,
        };
        CreateJob::from_request(task_type, request)
    }

    /// The create request for a body built by the caller; checked as
    /// [`CreateJob::new`] checks it. A `taskTypeId` in the body is dropped
    /// (the query carries it).
    pub fn from_request(
        task_type: TaskType,
        mut request: CreateJobRequest,
    ) -> Result<Self, ValidationError> {
        let info = check_job_inputs(&task_type, &request.inputs, request.parameters.as_ref())?;
        request.task_type_id = None;
        Ok(CreateJob {
            task_type: info.task_type(),
            task_type_id: info.id,
            request,
        })
    }

    /// The task type.
    pub fn task_type(&self) -> &TaskType {
        &self.task_type
    }

    /// The request body.
    pub fn request(&self) -> &CreateJobRequest {
        &self.request
    }
}

impl ApiRequest for CreateJob {
    type Output = CreatedJob;
    const OPERATION: Operation = Operation::CreateJob;

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        let body = serde_json::to_vec(&self.request).expect("a create request always serializes");
        let uri = format!(
            "{}?taskTypeId={}",
            job_url(config, Self::OPERATION, None),
            self.task_type_id
        );
        api_request(config, Self::OPERATION, uri, Some(body))
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<CreatedJob, ProtocolError> {
        let created: CreatedJob = read_json(&response, Self::OPERATION, None)?;
        check_server_job_ids([&created.job.id], &response, Self::OPERATION)?;
        Ok(created)
    }
}

/// Defines an operation on one job: its struct, constructor and `id`.
macro_rules! job_operation {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            job: JobId,
        }

        impl $name {
            /// The request on job `job`.
            pub fn new(job: JobId) -> Self {
                $name { job }
            }

            /// The job.
            pub fn job(&self) -> &JobId {
                &self.job
            }

            fn request(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
                api_request(
                    config,
                    <Self as ApiRequest>::OPERATION,
                    job_url(config, <Self as ApiRequest>::OPERATION, Some(&self.job)),
                    None,
                )
            }
        }
    };
}

job_operation!(
    /// Queues a job once every slot is uploaded: `POST
    /// /v1/jobs/{jobId}/finalize`, no body; spends the job's credits. Never
    /// sent again once it may have reached the server: the
    /// [`RunJob`](crate::engine::jobs::RunJob) flow reads the job first. A
    /// second finalize is an [`ProtocolError::JobState`].
    FinalizeJob
);
job_operation!(
    /// Reads one job: `GET /v1/jobs/{jobId}`.
    GetJob
);
job_operation!(
    /// Cancels a job that is not yet processing: `POST
    /// /v1/jobs/{jobId}/cancel`. A job processing or final is an
    /// [`ProtocolError::JobState`] naming its status. Retried as an
    /// idempotent request: a retry refused because the job is `cancelled`
    /// is the earlier attempt's success.
    CancelJob
);
job_operation!(
    /// Deletes a job and its media: `DELETE /v1/jobs/{jobId}` (204). A job
    /// processing is an [`ProtocolError::JobState`]. A retried delete that finds
    /// the job gone succeeded.
    DeleteJob
);

/// The `ApiRequest` of an operation that moves a job (finalize, cancel):
/// its answer is the job's new status, a refusal for the job's state is a
/// [`ProtocolError::JobState`].
macro_rules! status_update_request {
    ($name:ident) => {
        impl ApiRequest for $name {
            type Output = JobStatusUpdate;
            const OPERATION: Operation = Operation::$name;

            fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
                self.request(config)
            }

            fn parse(&self, response: Response<Vec<u8>>) -> Result<JobStatusUpdate, ProtocolError> {
                read_json(&response, Self::OPERATION, None)
            }

            fn read(
                &self,
                config: &Config,
                response: Response<Vec<u8>>,
            ) -> Result<JobStatusUpdate, ProtocolError> {
                self.parse(check_job_state(
                    response,
                    Self::OPERATION,
                    &self.job,
                    config,
                )?)
            }

            fn recover(&self, error: &ProtocolError, attempt: u32) -> Option<JobStatusUpdate> {
                self.recovered(error, attempt)
            }
        }
    };
}

impl FinalizeJob {
    /// Never: whether a finalize happened is read from the job by the
    /// [`RunJob`](crate::engine::jobs::RunJob) flow.
    fn recovered(&self, _: &ProtocolError, _: u32) -> Option<JobStatusUpdate> {
        None
    }
}

impl CancelJob {
    /// A retry refused because the job is `cancelled`: the earlier
    /// attempt cancelled it, its answer lost.
    fn recovered(&self, error: &ProtocolError, attempt: u32) -> Option<JobStatusUpdate> {
        let ProtocolError::JobState(state) = error else {
            return None;
        };
        if attempt < 2 || state.job_status != Some(JobStatus::Cancelled) {
            return None;
        }
        serde_json::from_value(serde_json::json!({
            "jobId": self.job.as_str(),
            "status": JobStatus::Cancelled.as_str(),
            "message": "cancelled by an earlier attempt whose answer was lost",
        }))
        .ok()
    }
}

status_update_request!(FinalizeJob);
status_update_request!(CancelJob);

impl ApiRequest for GetJob {
    type Output = Job;
    const OPERATION: Operation = Operation::GetJob;

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        self.request(config)
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<Job, ProtocolError> {
        let job: Job = read_json(&response, Self::OPERATION, None)?;
        check_server_job_ids([&job.id], &response, Self::OPERATION)?;
        Ok(job)
    }
}

impl ApiRequest for DeleteJob {
    type Output = ();
    const OPERATION: Operation = Operation::DeleteJob;

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        self.request(config)
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<(), ProtocolError> {
        // 204, or a 200 with a JSON body (as `DELETE /media` answers).
        if response.body().iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        read_json::<serde_json::Value>(&response, Self::OPERATION, None).map(drop)
    }

    fn read(&self, config: &Config, response: Response<Vec<u8>>) -> Result<(), ProtocolError> {
        self.parse(check_job_state(
            response,
            Self::OPERATION,
            &self.job,
            config,
        )?)
    }

    fn recover(&self, error: &ProtocolError, attempt: u32) -> Option<()> {
        (attempt > 1 && error.status() == Some(StatusCode::NOT_FOUND)).then_some(())
    }
}

/// Lists one page of jobs: `GET /v1/jobs?page=&limit=&status=`. To walk
/// every page, use [`JobCursor`](crate::JobCursor) or the
/// [`JobPages`](crate::engine::jobs::JobPages) flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListJobs {
    query: JobListQuery,
}

impl ListJobs {
    /// The request for one page: `page` from 1, `limit` within what the
    /// API takes.
    pub fn new(query: JobListQuery) -> Result<Self, ValidationError> {
        check_list_query(&query)?;
        Ok(ListJobs { query })
    }

    /// The query.
    pub fn query(&self) -> &JobListQuery {
        &self.query
    }
}

impl ApiRequest for ListJobs {
    type Output = JobList;
    const OPERATION: Operation = Operation::ListJobs;

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        let mut uri = job_url(config, Self::OPERATION, None);
        let mut params = Vec::new();
        if let Some(page) = self.query.page {
            params.push(format!("page={page}"));
        }
        if let Some(limit) = self.query.limit {
            params.push(format!("limit={limit}"));
        }
        if let Some(status) = &self.query.status {
            params.push(format!(
                "status={}",
                utf8_percent_encode(status.as_str(), PATH_SEGMENT)
            ));
        }
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&params.join("&"));
        }
        api_request(config, Self::OPERATION, uri, None)
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<JobList, ProtocolError> {
        let page: JobList = read_json(&response, Self::OPERATION, None)?;
        check_server_job_ids(page.data.iter().map(|j| &j.id), &response, Self::OPERATION)?;
        Ok(page)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::credentials::Credentials;
    use crate::ops::test_support::json;
    use authenta_types::SlotName;
    use http::header::AUTHORIZATION;

    pub(crate) fn key_config() -> Config {
        Config::new(Credentials::api_key("api_3f9c2a71d04b8e65c1a7f02d9b34e810"))
            .with_base_url("http://127.0.0.1:1/api")
            .unwrap()
    }

    pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82";

    fn png(slot: SlotName) -> JobFile {
        JobFile::from_bytes(slot, "face.png", PNG, None).unwrap()
    }

    #[test]
    fn create_sends_the_task_type_in_the_query_and_reads_either_id() {
        let op = CreateJob::new(
            TaskType::FaceIntelligence,
            &[png(SlotName::Original), png(SlotName::Reference)],
            Some(JobParameters {
                is_similarity_check: Some(true),
                ..JobParameters::v1()
            }),
        )
        .unwrap();
        let request = op.build(&key_config()).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "http://127.0.0.1:1/api/v1/jobs?taskTypeId=8");
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert!(body.get("taskTypeId").is_none(), "{body}");
        assert_eq!(body["inputs"][1]["slotName"], "reference");
        assert_eq!(body["inputs"][0]["sizeBytes"], PNG.len());
        assert_eq!(body["parameters"]["isSimilarityCheck"], true);
        let slots = r#"[{"slotName":"original","uploadUrl":"https://s3.example/o"},{"slotName":"reference","uploadUrl":"https://s3.example/r"}]"#;
        for answer in [
            format!(r#"{{"jobId":469,"status":"waiting_for_finalize","inputs":{slots}}}"#),
            format!(r#"{{"job":{{"id":"469","status":"created","inputs":{slots}}}}}"#),
        ] {
            let created = op.read(&key_config(), json(200, &answer)).unwrap();
            assert_eq!(created.job.id.as_str(), "469");
            assert_eq!(
                created.upload_url(&SlotName::Reference),
                Some("https://s3.example/r")
            );
        }
        let err = op
            .read(
                &key_config(),
                json(200, r#"{"jobId":"../x","status":"created"}"#),
            )
            .unwrap_err();
        assert!(matches!(err, ProtocolError::Decode(_)), "{err}");
        // The body's task type (Authenta's SDK's place) is never sent.
        let sdk_body = CreateJobRequest {
            task_type_id: Some(8),
            ..op.request().clone()
        };
        let op = CreateJob::from_request(TaskType::FaceIntelligence, sdk_body).unwrap();
        assert_eq!(op.request().task_type_id, None);
    }

    #[test]
    fn create_refuses_what_the_task_type_does_not_take() {
        let err = CreateJob::new(
            TaskType::FaceswapDetection,
            &[png(SlotName::Original)],
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "faceswap-detection takes MP4, MOV or WebM in its original slot, not image/png"
            ),
            "{err}"
        );
        assert!(CreateJob::new(TaskType::from_id(99), &[png(SlotName::Original)], None).is_err());
    }

    #[test]
    fn cancel_and_delete_refusals_say_the_state() {
        let id = JobId::new("469");
        let cancel = CancelJob::new(id.clone());
        let request = cancel.build(&key_config()).unwrap();
        assert_eq!(
            (
                request.method().as_str(),
                request.uri().to_string().as_str()
            ),
            ("POST", "http://127.0.0.1:1/api/v1/jobs/469/cancel")
        );
        let ok = cancel
            .read(
                &key_config(),
                json(
                    200,
                    r#"{"jobId":469,"status":"cancelled","message":"Job cancelled"}"#,
                ),
            )
            .unwrap();
        assert_eq!(ok.status, JobStatus::Cancelled);
        // The emulator's answer, naming the status.
        let err = cancel
            .read(
                &key_config(),
                json(
                    409,
                    r#"{"code":"EMU409","statusCode":409,"message":"Conflict: job 469 is processing","jobStatus":"processing"}"#,
                ),
            )
            .unwrap_err();
        let ProtocolError::JobState(state) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(state.job_status, Some(JobStatus::Processing));
        assert_eq!(err.class(), crate::ErrorClass::InvalidInput);
        assert!(
            err.to_string()
                .starts_with("cannot cancel job 469: it is processing"),
            "{err}"
        );
        assert!(
            err.to_string().contains("only before it is processing"),
            "{err}"
        );
        // A server that does not name it: the documented meaning of 409.
        let err = cancel
            .read(
                &key_config(),
                json(
                    409,
                    r#"{"code":"CONFLICT","statusCode":409,"message":"Job is processing"}"#,
                ),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("it is processing or done"),
            "{err}"
        );
        let err = cancel
            .read(
                &key_config(),
                json(422, r#"{"code":"EMU422","statusCode":422,"message":"Unprocessable","jobStatus":"completed"}"#),
            )
            .unwrap_err();
        assert!(err.to_string().contains("it is completed"), "{err}");
        assert!(err.to_string().contains("nothing to cancel"), "{err}");
        assert_eq!(cancel.recover(&err, 2), None, "completed, not cancelled");
        // A retry (its first answer lost) that finds the job cancelled
        // succeeded; a first attempt that does is the caller's mistake.
        assert_eq!(
            crate::Replay::of(Operation::CancelJob),
            crate::Replay::Idempotent
        );
        let twice = cancel
            .read(
                &key_config(),
                json(409, r#"{"code":"EMU409","statusCode":409,"message":"Conflict","jobStatus":"cancelled"}"#),
            )
            .unwrap_err();
        assert_eq!(cancel.recover(&twice, 1), None);
        let recovered = cancel.recover(&twice, 2).unwrap();
        assert_eq!(recovered.status, JobStatus::Cancelled);
        assert_eq!(recovered.job_id, Some(id.clone()));
        // 404 stays the API's own error.
        let err = cancel
            .read(
                &key_config(),
                json(404, r#"{"code":"JOB_NOT_FOUND","statusCode":404,"message":"Job with ID 469 does not exist"}"#),
            )
            .unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::NotFound);
        assert!(err.to_string().contains("check the job id"), "{err}");

        let delete = DeleteJob::new(id.clone());
        let request = delete.build(&key_config()).unwrap();
        assert_eq!(request.method(), "DELETE");
        assert_eq!(request.uri(), "http://127.0.0.1:1/api/v1/jobs/469");
        let empty = Response::builder().status(204).body(Vec::new()).unwrap();
        delete.read(&key_config(), empty).unwrap();
        let busy = delete
            .read(
                &key_config(),
                json(409, r#"{"code":"EMU409","statusCode":409,"message":"Conflict","jobStatus":"processing"}"#),
            )
            .unwrap_err();
        assert!(
            busy.to_string()
                .starts_with("cannot delete job 469: it is processing"),
            "{busy}"
        );
        let gone = delete
            .read(
                &key_config(),
                json(
                    404,
                    r#"{"code":"JOB_NOT_FOUND","statusCode":404,"message":"gone"}"#,
                ),
            )
            .unwrap_err();
        assert_eq!(delete.recover(&gone, 1), None);
        assert_eq!(delete.recover(&gone, 2), Some(()));
    }

    #[test]
    fn a_second_finalize_is_a_state_error() {
        let finalize = FinalizeJob::new(JobId::new("7"));
        let request = finalize.build(&key_config()).unwrap();
        assert_eq!(request.uri(), "http://127.0.0.1:1/api/v1/jobs/7/finalize");
        assert!(request.body().is_empty());
        let queued = finalize
            .read(
                &key_config(),
                json(200, r#"{"jobId":7,"taskTypeId":1,"status":"queued","queuedAt":"2026-09-01T10:00:00Z","updatedAt":"2026-09-01T10:00:00Z","message":"Job queued"}"#),
            )
            .unwrap();
        assert_eq!(queued.status, JobStatus::Queued);
        let again = finalize
            .read(
                &key_config(),
                json(400, r#"{"code":"EMU400","statusCode":400,"message":"Bad request: job 7 is finalized already","jobStatus":"queued"}"#),
            )
            .unwrap_err();
        assert!(
            again
                .to_string()
                .starts_with("cannot finalize job 7: it is queued"),
            "{again}"
        );
        let missing = finalize
            .read(
                &key_config(),
                json(400, r#"{"code":"JOB_NOT_FOUND","statusCode":400,"message":"Job with ID 7 does not exist"}"#),
            )
            .unwrap_err();
        assert!(matches!(missing, ProtocolError::Api(_)), "{missing:?}");
        let broke = finalize
            .read(&key_config(), json(402, r#"{"code":"INSUFFICIENT_BALANCE","statusCode":402,"message":"Insufficient balance"}"#))
            .unwrap_err();
        assert_eq!(broke.class(), crate::ErrorClass::Credits);
    }

    #[test]
    fn list_builds_its_query_and_get_reads_a_job() {
        let all = ListJobs::default().build(&key_config()).unwrap();
        assert_eq!(all.uri(), "http://127.0.0.1:1/api/v1/jobs");
        let page = ListJobs::new(JobListQuery {
            page: Some(2),
            limit: Some(100),
            status: Some(JobStatus::WaitingForFinalize),
        })
        .unwrap();
        assert_eq!(
            page.build(&key_config()).unwrap().uri(),
            "http://127.0.0.1:1/api/v1/jobs?page=2&limit=100&status=waiting_for_finalize"
        );
        for bad in [
            JobListQuery {
                page: Some(0),
                ..JobListQuery::default()
            },
            JobListQuery {
                limit: Some(101),
                ..JobListQuery::default()
            },
        ] {
            assert!(ListJobs::new(bad).is_err());
        }
        let list = page
            .read(
                &key_config(),
                json(200, r#"{"data":[{"jobId":1,"status":"queued"}],"pagination":{"page":2,"limit":100,"total":101,"pages":2}}"#),
            )
            .unwrap();
        assert_eq!(list.data[0].id.as_str(), "1");
        let get = GetJob::new(JobId::new("a b"));
        assert_eq!(
            get.build(&key_config()).unwrap().uri(),
            "http://127.0.0.1:1/api/v1/jobs/a%20b"
        );
        let job = get
            .read(
                &key_config(),
                json(
                    200,
                    r#"{"id":"j1","status":"completed","result":{"isDeepFake":false}}"#,
                ),
            )
            .unwrap();
        assert_eq!(job.result.unwrap().is_deep_fake, Some(false));
    }
}
