//! Jobs (`/v1/jobs`) from the command line: `process --task TASK FILE…`
//! (each file one job, run by proto's `RunJob` through the client's
//! `run_job`) and `jobs list|get|wait|cancel|delete`. Every decision
//! (the task type's formats, finalize only after every upload, the wait's
//! bound) is proto's; this module checks every file first, runs the jobs
//! `-j` at a time and prints them as `process` prints records (and, with
//! `--report`, hands them to `report::write_jobs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authenta_reqwest::Error;
use authenta_reqwest::proto::engine::BatchStop;
use authenta_reqwest::proto::engine::jobs::JobUpload;
use authenta_reqwest::proto::{
    JobOptions, ProtocolError, ValidationError, check_job_id, check_job_inputs,
};
use authenta_reqwest::types::{Job, JobId, JobListQuery, JobParameters, JobStatus, SlotName};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::json;

use crate::cli::{Global, JobsAction, JobsArgs, Process};
use crate::exit;
use crate::files::Refusal;
use crate::output::{self, Table};
use crate::progress::Bars;
use crate::session::{CliError, Session, describe};

/// A file refused before anything was sent.
fn refusal(error: ValidationError, path: Option<&Path>) -> Refusal {
    Refusal::File {
        error,
        path: path.map(Path::to_path_buf),
        model: None,
    }
}

/// The files named: each file, and the regular files of each directory
/// (and of its subdirectories with `recursive`), sorted.
fn expand(paths: &[PathBuf], recursive: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() || (recursive && p.is_dir()))
            .collect();
        found.sort();
        for p in found {
            match p.is_dir() {
                true => files.extend(expand(&[p], recursive)),
                false => files.push(p),
            }
        }
    }
    files
}

/// `process --task TASK FILE…`: every file (and the reference) checked
/// against the task type before any request, then one job per file, `-j`
/// at a time; the table or JSON lines of `process`, its exit codes.
pub async fn process(global: &Global, args: &Process, task: &str) -> Result<u8, CliError> {
    let task = authenta_reqwest::proto::task_type(task)
        .map_err(|e| CliError::Invalid(vec![refusal(e, None)]))?;
    let parameters = args.reference.as_ref().map(|_| JobParameters {
        is_similarity_check: Some(true),
        ..JobParameters::v1()
    });
    let reference = match &args.reference {
        Some(path) => Some(
            authenta_reqwest::client::job_upload(SlotName::Reference, path)
                .map_err(|e| CliError::Invalid(vec![refusal(e, Some(path))]))?,
        ),
        None => None,
    };
    let mut checked: Vec<(PathBuf, JobUpload)> = Vec::new();
    let mut refusals = Vec::new();
    for path in expand(&args.paths, args.recursive) {
        let upload = match authenta_reqwest::client::job_upload(SlotName::Original, &path) {
            Ok(upload) => upload,
            Err(e) => {
                refusals.push(refusal(e, Some(&path)));
                continue;
            }
        };
        let mut inputs = vec![upload.file.input()];
        inputs.extend(reference.iter().map(|r| r.file.input()));
        match check_job_inputs(&task, &inputs, parameters.as_ref()) {
            Ok(_) => checked.push((path, upload)),
            Err(e) => refusals.push(refusal(e, Some(&path))),
        }
    }
    if !refusals.is_empty() {
        return Err(CliError::Invalid(refusals));
    }
    let report = match &args.report {
        Some(path) => Some(
            crate::report::Report::create(path)
                .map_err(|e| crate::report::cannot_write(path, &e))?,
        ),
        None => None,
    };
    let session = Session::for_jobs(global).await?;
    let client = &session.client;
    let show = !global.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bars = Bars::new(show);
    let count = bars.count(checked.len());
    let slug = task
        .info()
        .map_or_else(|| task.to_string(), |t| t.slug.to_owned());
    // Proto's batch stop rule: once a job failed in a way every job would
    // (credentials, permission, quota, credits), no further file starts.
    let stop = std::sync::Mutex::new(BatchStop::default());
    let runs = checked.iter().map(|(path, upload)| {
        let (bars, task, parameters) = (bars.clone(), task.clone(), parameters.clone());
        let reference = args.reference.clone();
        let stop = &stop;
        async move {
            if let Some(refusal) = BatchStop::check(stop) {
                return (path, Err(refusal), Duration::ZERO);
            }
            let bar = bars.upload(&upload.file.file.name, upload.file.file.size);
            let mut options = JobOptions::new().on_progress(bar.on_bytes());
            options.parameters = parameters;
            options.limit = args.timeout;
            options.observer = Some(Arc::new({
                let bar = bar.clone();
                move |job: &Job| bar.message(&job.status.to_string())
            }));
            let mut slots = vec![(SlotName::Original, path.clone())];
            slots.extend(reference.map(|r| (SlotName::Reference, r)));
            let started = Instant::now();
            let result = client.run_job(task, &slots, &options).await;
            BatchStop::record(stop, &result);
            bar.done();
            (path, result, started.elapsed())
        }
    });
    let mut finished = Vec::new();
    let mut runs = std::pin::pin!(
        futures_util::stream::iter(runs).buffer_unordered(usize::from(args.concurrency))
    );
    while let Some((path, result, elapsed)) = runs.next().await {
        count.inc();
        if global.json {
            output::json_line(&outcome_json(path, &slug, &result, elapsed));
        } else if let Err(e) = &result
            && !skipped(e)
        {
            bars.note(&format!(
                "authenta: error: {}: {}",
                path.display(),
                describe(e)
            ));
        }
        finished.push((path, result, elapsed));
    }
    count.done();
    bars.clear();
    // In the order given.
    finished.sort_by_key(|(path, ..)| checked.iter().position(|(p, _)| p == *path));
    if !global.json {
        let mut table = Table::new(&["file", "job", "task", "status", "verdict", "time", "detail"]);
        for (path, result, elapsed) in &finished {
            let time = format!("{:.1}s", elapsed.as_secs_f64());
            let row = match result {
                Ok(job) => vec![
                    path.display().to_string(),
                    job.id.to_string(),
                    slug.clone(),
                    job.status.to_string(),
                    verdict(job).to_owned(),
                    time,
                    detail(job),
                ],
                Err(e) if skipped(e) => vec![
                    path.display().to_string(),
                    "-".into(),
                    slug.clone(),
                    "skipped".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ],
                Err(e) => vec![
                    path.display().to_string(),
                    "-".into(),
                    slug.clone(),
                    match e.code() {
                        Some(code) => format!("error {code}"),
                        None => format!("error ({})", output::class_name(e.class())),
                    },
                    "-".into(),
                    time,
                    "-".into(),
                ],
            };
            table.row(row);
        }
        table.print();
    }
    let code = finished
        .iter()
        .map(|(_, result, _)| exit_code(result))
        .find(|code| *code != exit::SUCCESS)
        .unwrap_or(exit::SUCCESS);
    if let (Some(report), Some(path)) = (report, &args.report) {
        let written =
            crate::report::write_jobs(report, client, &finished, args.reference.as_deref()).await;
        if let Some(code) = crate::report::written(path, written, code, global.json) {
            return Ok(code);
        }
    }
    Ok(code)
}

/// Whether a file was not started: an earlier job's failure would recur.
fn skipped(e: &Error) -> bool {
    matches!(e.as_proto(), Some(ProtocolError::Stopped(_)))
}

/// The exit code of one job's outcome: 0 when completed, `UNFINISHED`
/// when failed or cancelled, the error's class otherwise (a wait that ran
/// out is `NOT_FINAL`).
fn exit_code(result: &Result<Job, Error>) -> u8 {
    match result {
        Ok(job) if job.status == JobStatus::Completed => exit::SUCCESS,
        Ok(_) => exit::UNFINISHED,
        Err(e) if skipped(e) => exit::SUCCESS,
        Err(e) => exit::for_class(e.class()),
    }
}

/// A job's verdict: `fake`, `real`, or `-` (not completed, or a task that
/// gives none).
fn verdict(job: &Job) -> &'static str {
    match job.verdict() {
        Some(true) => "fake",
        Some(false) => "real",
        None => "-",
    }
}

/// What the result says beside the verdict, in one line.
fn detail(job: &Job) -> String {
    let Some(result) = &job.result else {
        return job.error_message.clone().unwrap_or_else(|| "-".into());
    };
    let mut parts = Vec::new();
    if let Some(c) = result.confidence {
        parts.push(format!("confidence {c:.2}"));
    }
    if let Some(live) = result.is_liveness {
        parts.push(format!("live {live}"));
    }
    if let Some(similar) = result.is_similar {
        parts.push(format!("similar {similar}"));
    }
    if let Some(score) = result.similarity_score {
        parts.push(format!("similarity {score:.2}"));
    }
    if let Some(embedding) = &result.embedding {
        parts.push(format!("embedding of {}", embedding.len()));
    }
    if !job.artifacts.is_empty() {
        parts.push(format!("{} artifact(s)", job.artifacts.len()));
    }
    match parts.is_empty() {
        true => "-".into(),
        false => parts.join(", "),
    }
}

/// One file's line of `--json` output.
fn outcome_json(
    path: &Path,
    task: &str,
    result: &Result<Job, Error>,
    elapsed: Duration,
) -> serde_json::Value {
    let mut value = json!({
        "file": path.display().to_string(),
        "task": task,
        "elapsedMs": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
    });
    match result {
        Ok(job) => value["job"] = json!(job),
        Err(e) if skipped(e) => value["skipped"] = json!(true),
        Err(e) => value["error"] = output::error_json(e, &describe(e)),
    }
    value
}

/// A job id from the command line, checked by proto before any request.
fn checked_job(text: &str) -> Result<JobId, CliError> {
    let job = JobId::from(text.trim());
    check_job_id(&job).map_err(|e| CliError::Sdk(e.into()))?;
    Ok(job)
}

/// The columns of a job listing.
const JOB_COLUMNS: &[&str] = &["job", "task", "status", "verdict", "created", "detail"];

fn job_row(job: &Job) -> Vec<String> {
    vec![
        job.id.to_string(),
        job.task_type()
            .and_then(|t| t.info().map(|i| i.slug.to_owned()))
            .unwrap_or_else(|| "-".into()),
        job.status.to_string(),
        verdict(job).to_owned(),
        job.created_at.map_or("-".into(), |t| t.to_string()),
        detail(job),
    ]
}

fn print_job(job: &Job, json: bool) {
    if json {
        return output::json_line(job);
    }
    let fields: Vec<(&str, String)> = JOB_COLUMNS.iter().copied().zip(job_row(job)).collect();
    output::print_fields(&fields);
}

/// `jobs list|get|wait|cancel|delete`.
pub async fn run(global: &Global, args: &JobsArgs) -> Result<u8, CliError> {
    match &args.action {
        JobsAction::List {
            status,
            all,
            page,
            limit,
        } => {
            let status = status.clone();
            let session = Session::for_jobs(global).await?;
            let mut table = Table::new(JOB_COLUMNS);
            let mut add = |job: Job| match global.json {
                true => output::json_line(&job),
                false => table.row(job_row(&job)),
            };
            if *all {
                let mut jobs = session.client.list_all_jobs(status);
                while let Some(job) = jobs.try_next().await? {
                    add(job);
                }
            } else {
                let query = JobListQuery {
                    page: *page,
                    limit: *limit,
                    status,
                };
                let listed = session.client.list_jobs(query).await?;
                let shown = listed.data.len();
                listed.data.into_iter().for_each(&mut add);
                if !global.json {
                    let p = &listed.pagination;
                    eprintln!(
                        "authenta: {shown} of {} jobs, page {} of {} (--all for every one)",
                        p.total, p.page, p.pages
                    );
                }
            }
            if !global.json {
                table.print();
            }
            Ok(exit::SUCCESS)
        }
        JobsAction::Get(arg) => {
            let job = checked_job(&arg.job)?;
            let session = Session::for_jobs(global).await?;
            print_job(&session.client.get_job(&job).await?, global.json);
            Ok(exit::SUCCESS)
        }
        JobsAction::Wait { job, timeout } => {
            let job = checked_job(job)?;
            let session = Session::for_jobs(global).await?;
            let bar =
                Bars::new(!global.json && std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .spinner(job.as_str());
            let mut options = JobOptions::new();
            options.limit = *timeout;
            options.observer = Some(Arc::new({
                let bar = bar.clone();
                move |job: &Job| bar.message(&job.status.to_string())
            }));
            let waited = session.client.wait_job_with(&job, &options).await;
            bar.done();
            let waited = waited?;
            print_job(&waited, global.json);
            Ok(exit_code(&Ok(waited)))
        }
        JobsAction::Cancel(arg) => {
            let job = checked_job(&arg.job)?;
            let session = Session::for_jobs(global).await?;
            let update = session.client.cancel_job(&job).await?;
            if global.json {
                output::json_line(&json!({ "job": job, "status": update.status }));
            } else {
                output::line(&format!("cancelled {job} ({})", update.status));
            }
            Ok(exit::SUCCESS)
        }
        JobsAction::Delete(arg) => {
            let job = checked_job(&arg.job)?;
            let session = Session::for_jobs(global).await?;
            session.client.delete_job(&job).await?;
            if global.json {
                output::json_line(&json!({ "job": job, "deleted": true }));
            } else {
                output::line(&format!("deleted {job}"));
            }
            Ok(exit::SUCCESS)
        }
    }
}
