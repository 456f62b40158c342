//! `authenta process`: check every file, then upload and wait for each, a
//! few at a time, and end with a table (or one JSON object per file).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use authenta_reqwest::proto::engine::flows::Observer;
use authenta_reqwest::proto::{BatchEvent, Error as ProtoError};
use authenta_reqwest::types::{Media, MediaId, MediaStatus};
use authenta_reqwest::{Client, Error, PollPolicy, UploadOptions};
use futures_util::StreamExt as _;
use serde_json::json;

use crate::cli::{Global, Process};
use crate::exit;
use crate::files::{self, Job};
use crate::output::{self, Table};
use crate::progress::{Bar, Bars};
use crate::report;
use crate::session::{CliError, Session, describe};

/// How one file went.
enum Outcome {
    /// It reached a final status (`PROCESSED`, or `FAILED`/`ERROR`).
    Done(Box<Media>),
    /// It failed.
    Failed(Error),
    /// It was not started: an earlier file's error would recur.
    Skipped,
}

/// Runs `process`; returns the exit code.
pub async fn run(global: &Global, args: &Process) -> Result<u8, CliError> {
    let plan = files::plan(&args.paths, args.model.model.as_ref(), args.recursive);
    for note in &plan.notes {
        eprintln!("authenta: {note}");
    }
    if !plan.errors.is_empty() {
        return Err(CliError::Invalid(plan.errors));
    }
    let report = match &args.report {
        Some(path) => match report::Report::create(path) {
            Ok(report) => Some(report),
            Err(e) => return Ok(report::cannot_write(path, &e)),
        },
        None => None,
    };
    let session = Session::open(global).await?;
    let show = !global.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bars = Bars::new(show);
    let count = bars.count(plan.jobs.len());
    let policy = PollPolicy::default().with_max_wait(args.timeout);
    let mut outcomes: Vec<Option<(Outcome, Duration)>> = plan.jobs.iter().map(|_| None).collect();

    // Proto's batch pipeline: uploads `-j` at a time, every uploaded record
    // waits in one shared waiter, and its batch stop rule refuses new files
    // once one failed in a way every file would. A file's bar is made and
    // its clock started when the pipeline takes it.
    let client = &session.client;
    let live: Arc<Mutex<HashMap<usize, (Bar, Instant)>>> = Arc::default();
    let by_mid: Arc<Mutex<HashMap<MediaId, Bar>>> = Arc::default();
    let items = plan.jobs.iter().enumerate().map({
        let (bars, live) = (bars.clone(), live.clone());
        move |(i, job)| {
            let bar = bars.upload(&job.file.name, job.file.size);
            let options = UploadOptions::new(job.model.clone()).on_progress(bar.on_bytes());
            lock(&live).insert(i, (bar, Instant::now()));
            (i, job.path.clone(), options)
        }
    });
    let observe: Observer = {
        let by_mid = by_mid.clone();
        Arc::new(move |media: &Media| {
            if let Some(bar) = lock(&by_mid).get(&media.mid) {
                bar.status(&media.status);
            }
        })
    };
    let concurrency = usize::from(args.concurrency);
    let mut events =
        std::pin::pin!(client.process_batch(items, concurrency, policy, Some(observe)));
    while let Some(event) = events.next().await {
        let (i, result) = match event {
            BatchEvent::Uploaded(i, uploaded) => {
                if let Some((bar, _)) = lock(&live).get(&i) {
                    bar.status(&MediaStatus::Uploaded);
                    lock(&by_mid).insert(uploaded.mid().clone(), bar.clone());
                }
                continue;
            }
            BatchEvent::Finished(i, result) => (i, result),
        };
        let elapsed = lock(&live).remove(&i).map_or(Duration::ZERO, |(bar, at)| {
            bar.done();
            at.elapsed()
        });
        let outcome = match result {
            Ok(media) => {
                lock(&by_mid).remove(&media.mid);
                Outcome::Done(Box::new(media))
            }
            Err(e) if matches!(e.as_proto(), Some(ProtoError::Stopped(_))) => Outcome::Skipped,
            Err(e) => Outcome::Failed(e),
        };
        let elapsed = match outcome {
            Outcome::Skipped => Duration::ZERO,
            _ => elapsed,
        };
        count.inc();
        let job = &plan.jobs[i];
        if global.json {
            output::json_line(&outcome_json(job, &outcome, elapsed));
        } else if let Outcome::Failed(e) = &outcome {
            bars.note(&format!(
                "authenta: error: {}: {}",
                job.path.display(),
                describe(e)
            ));
        }
        outcomes[i] = Some((outcome, elapsed));
    }
    count.done();

    let outcomes: Vec<(Outcome, Duration)> = outcomes.into_iter().flatten().collect();
    if !global.json {
        results_table(&plan.jobs, &outcomes).print();
    }
    let code = outcomes
        .iter()
        .map(|(outcome, _)| exit_code(outcome))
        .find(|code| *code != exit::SUCCESS)
        .unwrap_or(exit::SUCCESS);
    if let (Some(report), Some(path)) = (report, &args.report) {
        let entries: Vec<report::Entry> = (plan.jobs.iter().zip(outcomes))
            .map(|(job, (outcome, elapsed))| report_entry(job, outcome, elapsed))
            .collect();
        match report.write(client, &entries).await {
            Ok(summary) => report::wrote(path, &summary),
            // The batch's own failure, if any, says more than the report's.
            Err(e) => {
                let failed = report::cannot_write(path, &e);
                return Ok(if code == exit::SUCCESS { failed } else { code });
            }
        }
    }
    Ok(code)
}

/// One file's entry in the `--report` page.
fn report_entry(job: &Job, outcome: Outcome, elapsed: Duration) -> report::Entry {
    let kind = Some(job.file.kind.as_str().to_owned());
    let unrecorded =
        || report::Entry::without_record(job.path.clone(), kind, Some(job.model.to_string()));
    match outcome {
        Outcome::Done(media) => {
            report::Entry::from_record(*media, Some(job.path.clone()), Some(elapsed))
        }
        Outcome::Failed(e) => report::Entry {
            mid: e.mid().cloned(),
            status: match e.code() {
                Some(code) => format!("error {code}"),
                None => format!("error ({})", output::class_name(e.class())),
            },
            elapsed: Some(elapsed),
            error: Some(describe(&e)),
            ..unrecorded()
        },
        Outcome::Skipped => report::Entry {
            status: "skipped".into(),
            error: None,
            ..unrecorded()
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `mid` until its status is final, on `policy` (proto decides when),
/// showing each status on `bar`.
pub async fn wait(
    client: &Client,
    mid: &MediaId,
    policy: PollPolicy,
    bar: &Bar,
) -> Result<Media, Error> {
    let bar = bar.clone();
    client
        .wait_observed(mid, policy, move |media| bar.status(&media.status))
        .await
}

/// The exit code one file's outcome calls for.
fn exit_code(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Done(media) if media.status == MediaStatus::Processed => exit::SUCCESS,
        Outcome::Done(_) => exit::UNFINISHED,
        Outcome::Failed(e) => exit::for_class(e.class()),
        Outcome::Skipped => exit::SUCCESS,
    }
}

/// One file's line of `--json` output.
fn outcome_json(job: &Job, outcome: &Outcome, elapsed: Duration) -> serde_json::Value {
    let mut value = json!({
        "file": job.path.display().to_string(),
        "model": job.model,
        "elapsedMs": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
    });
    let (key, detail) = match outcome {
        Outcome::Done(media) => ("media", json!(media)),
        Outcome::Failed(e) => ("error", output::error_json(e, &describe(e))),
        Outcome::Skipped => ("skipped", json!(true)),
    };
    value[key] = detail;
    value
}

/// The results table: file, mid, model, status, verdict, time.
fn results_table(jobs: &[Job], outcomes: &[(Outcome, Duration)]) -> Table {
    let mut table = Table::new(&["file", "mid", "model", "status", "verdict", "time"]);
    for (job, (outcome, elapsed)) in jobs.iter().zip(outcomes) {
        let time = match outcome {
            Outcome::Skipped => "-".to_owned(),
            _ => format!("{:.1}s", elapsed.as_secs_f64()),
        };
        let (mid, model, status, verdict) = match outcome {
            Outcome::Done(media) => (
                media.mid.to_string(),
                media.model_type.to_string(),
                media.status.to_string(),
                output::verdict(media),
            ),
            Outcome::Failed(e) => (
                e.mid().map_or("-".into(), ToString::to_string),
                job.model.to_string(),
                match e.code() {
                    Some(code) => format!("error {code}"),
                    None => format!("error ({})", output::class_name(e.class())),
                },
                "-",
            ),
            Outcome::Skipped => ("-".into(), job.model.to_string(), "skipped".into(), "-"),
        };
        let file = job.path.display().to_string();
        table.row(vec![file, mid, model, status, verdict.to_owned(), time]);
    }
    table
}
