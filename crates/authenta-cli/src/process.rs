//! `authenta process`: check every file, then upload and wait for each, a
//! few at a time, and end with a table (or one JSON object per file).

use std::sync::Arc;
use std::time::Duration;

use authenta_reqwest::client::{BatchEvent, BatchItem, BatchSettings, Interrupt};
use authenta_reqwest::proto::engine::flows::Observer;
use authenta_reqwest::proto::{
    ProtocolError as ProtoError, engine::resume::Resume, options::CheckpointFn,
};
use authenta_reqwest::types::{Media, MediaId, MediaStatus, ModelType};
use authenta_reqwest::{Client, Error, ErrorClass, PollPolicy, UploadOptions};
use futures_util::StreamExt as _;
use serde_json::json;

use crate::batch::{self, Batch, Entries, Live, Rounds};
use crate::cli::{Global, Process};
use crate::exit;
use crate::files::{self, Job};
use crate::ledger::{self, Ledger};
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
    /// Uploaded, and still processing when the wait ended (`--timeout`, or
    /// Ctrl-C): not a failure; `authenta wait MID` asks again. The error
    /// says which ([`ProtoError::not_final`]).
    NotFinal(Error),
    /// It was not started: an earlier file's error would recur.
    Skipped,
}

/// How long `process` waits for each record when `--timeout` is not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Runs `process`; returns the exit code.
pub async fn run(global: &Global, args: &Process) -> Result<u8, CliError> {
    if let Some(task) = &args.task {
        return crate::jobs::process(global, args, task).await;
    }
    // With a ledger, the small files' digests (its entries' keys) come
    // from their checks' reads.
    let digest = ledger::in_use(global);
    let mut plan = files::plan(
        &args.paths,
        args.model.model.as_ref(),
        args.recursive,
        digest,
    );
    for note in &plan.notes {
        note.tell(global.json);
    }
    if !plan.errors.is_empty() {
        return Err(CliError::Invalid(plan.errors));
    }
    let report = match &args.report {
        Some(path) => match report::Report::create(path) {
            Ok(report) => Some(report),
            Err(e) => return Err(report::cannot_write(path, &e)),
        },
        None => None,
    };
    let ledger = ledger::for_command(global)?;
    let session = Session::open(global).await?;
    let client = &session.client;
    // The ledger keeps no artifact URL: a report reads final records again.
    let refresh = args.refresh || args.report.is_some();
    let claim_group = batch::CLAIM_GROUP_UPLOADS * usize::from(args.concurrency);
    // One item per distinct content and model, made as the files' digests
    // (the ledger entries' keys) come, computed a few files ahead of the
    // claims while earlier files are uploaded.
    let entry = ledger.as_ref().map(|ledger| {
        let (keying, account) = (ledger.clone(), Ledger::account(client));
        let models: Vec<ModelType> = plan.jobs.iter().map(|job| job.model.clone()).collect();
        let entries: Entries<CheckpointFn> = Entries {
            key: Box::new(move |j, identity| keying.key(&account, identity, &models[j])),
            checkpoint: Box::new(Ledger::checkpoint),
        };
        (ledger, entries)
    });
    let files = (plan.jobs.iter_mut())
        .map(|job| (job.path.clone(), job.digest.take()))
        .collect();
    let rounds = Rounds {
        group: claim_group,
        refresh,
        own_only: args.own_only,
    };
    let batch = Batch::start(files, entry, rounds);
    let show = !global.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bars = Bars::new(show);
    let count = bars.count(plan.jobs.len());
    let policy = PollPolicy::default().with_max_wait(args.timeout.unwrap_or(DEFAULT_TIMEOUT));
    let mut outcomes: Vec<Option<(Outcome, Duration)>> = Vec::new();

    // The first Ctrl-C stops starting files and lets the steps in flight
    // end (proto's `Interrupt`); a second one exits at once. The ledger is
    // consistent either way: each state is committed before the request
    // that depends on it.
    let interrupt = Interrupt::new();
    let watcher = tokio::spawn(exit::watch_ctrl_c(interrupt.clone(), ledger.is_some()));

    // Proto's batch pipeline: uploads `-j` at a time, every uploaded record
    // waits in one shared waiter, and its batch stop rule refuses new files
    // once one failed in a way every file would. A file's bar is made and
    // its clock started when the pipeline takes it, and its ledger entry
    // claimed then: an entry another process holds waits for a later pass,
    // which finds its record (or takes it over once that process is gone).
    let live: Arc<Live<MediaId>> = Live::new();
    let observe: Observer = {
        let (live, ledger) = (live.clone(), ledger.clone());
        Arc::new(move |media: &Media| {
            live.seen(&media.mid, |bar| bar.status(&media.status));
            if let Some(ledger) = &ledger
                && let Err(e) = ledger.seen(media)
            {
                eprintln!("authenta: warning: {e}");
            }
        })
    };
    // Tells one path's outcome as it is known.
    let tell = |j: usize, outcome: &Outcome, elapsed: Duration| {
        count.inc();
        let job = &plan.jobs[j];
        if global.json {
            output::json_line(&outcome_json(job, outcome, elapsed));
        } else if let Outcome::Failed(e) = outcome
            && e.class() != ErrorClass::Interrupted
        {
            bars.note(&format!(
                "authenta: error: {}: {}",
                job.path.display(),
                describe(e)
            ));
        } else if let Outcome::NotFinal(e) = outcome
            && e.class() != ErrorClass::Interrupted
        {
            bars.note(&format!(
                "authenta: not final: {}: {}",
                job.path.display(),
                describe(e)
            ));
        }
    };
    // Each path is told its item's outcome, also one that joined the
    // item (the same bytes, hashed later) after it ended.
    let mut settle = |ended: Option<(usize, (Outcome, Duration))>| {
        let failed = |e| (Outcome::Failed(e), Duration::ZERO);
        batch.settle(&mut outcomes, ended, failed, |j, (outcome, elapsed)| {
            tell(j, outcome, *elapsed);
        });
    };
    loop {
        // The files are claimed a group at a time, as the pipeline takes
        // the group's first: one ledger transaction per group. The first
        // round makes the items as the digests come; an entry another
        // process holds waits for a later round.
        let claimed = batch.claims::<Resume>(&interrupt, (&bars, global.json));
        let start = {
            let (bars, live, jobs, batch) = (bars.clone(), live.clone(), &plan.jobs, &batch);
            move |(g, resume): (usize, Resume)| {
                let (first, checkpoint) = batch.start_item(g);
                let job = &jobs[first];
                let bar = bars.upload(&job.file.name, job.file.size);
                let mut options = UploadOptions::new(job.model.clone()).on_progress(bar.on_bytes());
                options.checkpoint = checkpoint;
                live.start(g, bar);
                BatchItem::new(g, job.path.clone(), options).resume(resume)
            }
        };
        let items = claimed.map(start);
        let settings = BatchSettings::new(usize::from(args.concurrency), policy)
            .observed(Some(observe.clone()))
            .interrupt(interrupt.clone());
        let mut events = std::pin::pin!(client.process_batch_stream(items, settings));
        let mut progressed = false;
        while let Some(event) = events.next().await {
            let (g, result) = match event {
                BatchEvent::Uploaded(g, mid) => {
                    live.waits(g, mid, |bar| bar.status(&MediaStatus::Uploaded));
                    continue;
                }
                BatchEvent::Finished(g, result) => (g, result),
            };
            progressed = true;
            let elapsed = live.ended(g, result.as_ref().ok().map(|media| &media.mid));
            // The record saved, its entry forgotten (deleted meanwhile) or
            // its claim given up, as the ledger decides.
            if let Some(ledger) = &ledger {
                let key = batch.item(g, |item| item.key.clone());
                (ledger.ended(key.as_ref(), result.as_ref()))
                    .map_err(|e| ledger::failed(ledger, &e))?;
            }
            let outcome = match result {
                Ok(media) => Outcome::Done(Box::new(media)),
                Err(e) if matches!(e.as_proto(), Some(ProtoError::Stopped(_))) => Outcome::Skipped,
                Err(e) if not_final(&e).is_some() => Outcome::NotFinal(e),
                Err(e) => Outcome::Failed(e),
            };
            let elapsed = match outcome {
                Outcome::Skipped => Duration::ZERO,
                _ => elapsed,
            };
            settle(Some((g, (outcome, elapsed))));
        }
        // The paths that joined an item told before the last event.
        settle(None);
        let skipped = |g| settle(Some((g, (Outcome::Skipped, Duration::ZERO))));
        if !(batch.next_round(&interrupt, &bars, progressed, skipped)).await? {
            break;
        }
    }
    batch.finish(&bars)?;
    watcher.abort();
    live.close(&bars, &count);

    let by_job: Vec<(&Job, &(Outcome, Duration))> = (batch.outcomes(&outcomes).into_iter())
        .map(|(j, outcome)| (&plan.jobs[j], outcome))
        .collect();
    if !global.json {
        results_table(&by_job).print();
    }
    let code = by_job
        .iter()
        .map(|(_, (outcome, _))| exit_code(outcome))
        .find(|code| *code != exit::SUCCESS)
        .unwrap_or(exit::SUCCESS);
    batch::tell_interrupted(&interrupt, ledger.is_some());
    if let (Some(report), Some(path)) = (report, &args.report) {
        let entries: Vec<report::Entry> = by_job
            .into_iter()
            .map(|(job, (outcome, elapsed))| report_entry(job, outcome, *elapsed))
            .collect();
        match report::write(report, client, &entries).await {
            Ok(summary) => report::wrote(path, &summary),
            // The batch's own failure, if any, says more than the report's.
            Err(e) => {
                let failed = report::cannot_write(path, &e);
                failed.report(global.json);
                return Ok(if code == exit::SUCCESS {
                    failed.exit_code()
                } else {
                    code
                });
            }
        }
    }
    Ok(code)
}

/// One file's entry in the `--report` page.
fn report_entry(job: &Job, outcome: &Outcome, elapsed: Duration) -> report::Entry {
    let kind = Some(job.file.kind.as_str().to_owned());
    let unrecorded =
        || report::Entry::without_record(job.path.clone(), kind, Some(job.model.to_string()));
    match outcome {
        Outcome::Done(media) => {
            report::Entry::from_record((**media).clone(), Some(job.path.clone()), Some(elapsed))
        }
        // Not started: no failure to count either.
        Outcome::Failed(e) if e.class() == ErrorClass::Interrupted => report::Entry {
            status: "not started (interrupted)".into(),
            ..unrecorded()
        },
        Outcome::Failed(e) => report::Entry {
            mid: e.mid().cloned(),
            status: match e.code() {
                Some(code) => format!("error {code}"),
                None => format!("error ({})", output::class_name(e.class())),
            },
            elapsed: Some(elapsed),
            error: Some(describe(e)),
            ..unrecorded()
        },
        // No error: the page counts it as not final, not failed.
        Outcome::NotFinal(e) => report::Entry {
            mid: e.mid().cloned(),
            status: not_final_status(e),
            elapsed: Some(elapsed),
            ..unrecorded()
        },
        Outcome::Skipped => report::Entry {
            status: "skipped".into(),
            error: None,
            ..unrecorded()
        },
    }
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
        // A timeout is `NOT_FINAL`, an interruption `INTERRUPTED`.
        Outcome::Failed(e) | Outcome::NotFinal(e) => exit::for_class(e.class()),
        Outcome::Skipped => exit::SUCCESS,
    }
}

/// The record an error leaves not final, and its last status (proto
/// decides which errors those are).
fn not_final(error: &Error) -> Option<(&MediaId, Option<MediaStatus>)> {
    error.as_proto().and_then(ProtoError::not_final)
}

/// `not final`, with the last status seen: the status column's word, the
/// report's, and `--json`'s `notFinal.status`.
fn not_final_status(error: &Error) -> String {
    match not_final(error) {
        Some((_, Some(status))) => format!("not final ({status})"),
        _ => "not final".to_owned(),
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
        Outcome::NotFinal(e) => {
            let (mid, last) = not_final(e).expect("a not-final outcome has its record");
            let detail = json!({
                "mid": mid,
                "status": last,
                "message": describe(e),
                "exitCode": exit::for_class(e.class()),
            });
            ("notFinal", detail)
        }
        Outcome::Skipped => ("skipped", json!(true)),
    };
    value[key] = detail;
    value
}

/// The results table: file, mid, model, status, verdict, time, and what
/// the server says beside the verdict (confidence, faces).
fn results_table(rows: &[(&Job, &(Outcome, Duration))]) -> Table {
    let mut table = Table::new(&[
        "file", "mid", "model", "status", "verdict", "time", "detail",
    ]);
    for (job, (outcome, elapsed)) in rows {
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
                    None if e.class() == ErrorClass::Interrupted => {
                        "not started (interrupted)".to_owned()
                    }
                    Some(code) => format!("error {code}"),
                    None => format!("error ({})", output::class_name(e.class())),
                },
                "-",
            ),
            Outcome::NotFinal(e) => (
                e.mid().map_or("-".into(), ToString::to_string),
                job.model.to_string(),
                not_final_status(e),
                "-",
            ),
            Outcome::Skipped => ("-".into(), job.model.to_string(), "skipped".into(), "-"),
        };
        let detail = match outcome {
            Outcome::Done(media) => output::figures(media),
            _ => "-".to_owned(),
        };
        let file = job.path.display().to_string();
        table.row(vec![
            file,
            mid,
            model,
            status,
            verdict.to_owned(),
            time,
            detail,
        ]);
    }
    table
}
