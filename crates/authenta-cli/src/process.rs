//! `authenta process`: check every file, then upload and wait for each, a
//! few at a time, and end with a table (or one JSON object per file).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use authenta_reqwest::client::{BatchEvent, BatchItem, BatchSettings, Interrupt};
use authenta_reqwest::proto::engine::flows::Observer;
use authenta_reqwest::proto::{
    ProtocolError as ProtoError, engine::resume::Resume, options::CheckpointFn,
};
use authenta_reqwest::types::{Media, MediaId, MediaStatus};
use authenta_reqwest::{Client, Error, ErrorClass, PollPolicy, UploadOptions};
use futures_util::StreamExt as _;
use serde_json::json;

use crate::cli::{Global, Process};
use crate::exit;
use crate::files::{self, Job};
use crate::ledger::{self, Claim, EntryKey, Ledger};
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
    let plan = files::plan(&args.paths, args.model.model.as_ref(), args.recursive);
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
    // Two uploads' worth at a time: enough to keep `-j` busy, few left
    // held when the batch stops.
    let claim_group = 2 * usize::from(args.concurrency);
    let batch = Mutex::new(Batch::new(plan.jobs.len(), ledger.as_ref(), client));
    // The files' digests (the ledger entries' keys), computed a few files
    // ahead of the claims while earlier files are uploaded.
    let mut hashing = match &ledger {
        Some(ledger) => {
            let paths: Vec<&std::path::Path> =
                plan.jobs.iter().map(|job| job.path.as_path()).collect();
            let ahead = ledger
                .identify_ahead(&paths, claim_group)
                .map_err(|(j, e)| cannot_read(&plan.jobs[j], &e))?;
            Some(ahead)
        }
        None => None,
    };
    let hash_failed: Mutex<Option<CliError>> = Mutex::default();
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
    let live: Arc<Mutex<HashMap<usize, (Bar, Instant)>>> = Arc::default();
    let by_mid: Arc<Mutex<HashMap<MediaId, Bar>>> = Arc::default();
    let observe: Observer = {
        let (by_mid, ledger) = (by_mid.clone(), ledger.clone());
        Arc::new(move |media: &Media| {
            if let Some(bar) = lock(&by_mid).get(&media.mid) {
                bar.status(&media.status);
            }
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
    let mut settle = |g: usize, outcome: Option<(Outcome, Duration)>| {
        // A path that joined an item already told (the same bytes, hashed
        // later) is told the item's outcome.
        let (jobs, late) = {
            let mut batch = lock(&batch);
            let late = std::mem::take(&mut batch.late);
            if outcome.is_some() {
                batch.settled[g] = true;
            }
            (outcome.as_ref().map(|_| batch.items[g].jobs.clone()), late)
        };
        for (g, j) in late {
            if let Some((outcome, elapsed)) = &outcomes[g] {
                tell(j, outcome, *elapsed);
            }
        }
        if let (Some(jobs), Some((outcome, elapsed))) = (jobs, outcome) {
            for j in jobs {
                tell(j, &outcome, elapsed);
            }
            if outcomes.len() <= g {
                outcomes.resize_with(g + 1, || None);
            }
            outcomes[g] = Some((outcome, elapsed));
        }
    };
    let mut pending: Vec<usize> = Vec::new();
    let mut first_pass = true;
    let claim_failed: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    // With --own-only: the files left to other processes.
    let left: Arc<Mutex<Vec<usize>>> = Arc::default();
    let mut held_wait = ledger::HeldWait::default();
    loop {
        let held: Arc<Mutex<Vec<usize>>> = Arc::default();
        // The files are claimed a group at a time, as the pipeline takes
        // the group's first: one ledger transaction per group. The first
        // pass makes the items as the digests come.
        let groups = match first_pass {
            true => {
                let (batch, jobs, hash_failed) = (&batch, &plan.jobs, &hash_failed);
                let (interrupt, bars) = (&interrupt, &bars);
                let state = (hashing.take(), 0);
                futures_util::stream::unfold(state, move |(mut hashing, mut next)| async move {
                    if next == jobs.len() || lock(hash_failed).is_some() {
                        return None;
                    }
                    // Interrupted: the files not hashed yet are only
                    // skipped, their digests not computed.
                    let hashed = match hashing.as_mut().filter(|_| !interrupt.is_triggered()) {
                        Some(ahead) => match ahead.next_group().await {
                            Some(hashed) => Some(hashed),
                            None => {
                                *lock(hash_failed) = Some(CliError::Ledger(
                                    "the thread computing the files' digests ended early".into(),
                                ));
                                return None;
                            }
                        },
                        None => None,
                    };
                    let mut batch = lock(batch);
                    let mut group = Vec::new();
                    let Some(hashed) = hashed else {
                        let end = match hashing.take() {
                            Some(_) => jobs.len(),
                            None => (next + claim_group).min(jobs.len()),
                        };
                        group.extend((next..end).filter_map(|j| batch.add_job(jobs, j, None).ok()));
                        next = end;
                        return Some((group, (hashing, next)));
                    };
                    for (j, identity) in hashed {
                        next = j + 1;
                        match identity {
                            Ok(identity) => match batch.add_job(jobs, j, Some(identity)) {
                                Ok(g) => group.push(g),
                                Err(note) if global.json => note.tell(true),
                                Err(note) => bars.note(&format!("authenta: {}", note.text)),
                            },
                            Err(e) => {
                                *lock(hash_failed) = Some(cannot_read(&jobs[j], &e));
                                break;
                            }
                        }
                    }
                    Some((group, (hashing, next)))
                })
                .boxed()
            }
            false => futures_util::stream::iter(ledger::in_groups(
                &std::mem::take(&mut pending),
                claim_group,
            ))
            .boxed(),
        };
        first_pass = false;
        let claimed = groups.flat_map({
            let (ledger, batch, claim_failed) = (ledger.as_ref(), &batch, &claim_failed);
            move |group| {
                futures_util::stream::iter(ledger::claim_group::<Resume>(
                    ledger,
                    group,
                    |g| lock(batch).items[g].key.clone(),
                    refresh,
                    claim_failed,
                ))
            }
        });
        let start = {
            let (bars, live, jobs) = (bars.clone(), live.clone(), &plan.jobs);
            let (held, left, batch) = (held.clone(), left.clone(), &batch);
            move |(g, claim)| {
                let batch = lock(batch);
                let item = &batch.items[g];
                let resume = match claim {
                    Some(Claim::Mine(resume)) => resume,
                    Some(Claim::Held) => {
                        match args.own_only {
                            true => lock(&left).push(g),
                            false => lock(&held).push(g),
                        }
                        return None;
                    }
                    None => Resume::New,
                };
                let job = &jobs[item.jobs[0]];
                let bar = bars.upload(&job.file.name, job.file.size);
                let mut options = UploadOptions::new(job.model.clone()).on_progress(bar.on_bytes());
                options.checkpoint = item.checkpoint.clone();
                lock(&live).insert(g, (bar, Instant::now()));
                Some(BatchItem::new(g, job.path.clone(), options).resume(resume))
            }
        };
        let items = claimed.filter_map(move |claimed| std::future::ready(start(claimed)));
        let settings = BatchSettings::new(usize::from(args.concurrency), policy)
            .observed(Some(observe.clone()))
            .interrupt(interrupt.clone());
        let mut events = std::pin::pin!(client.process_batch_stream(items, settings));
        let mut progressed = false;
        while let Some(event) = events.next().await {
            let (g, result) = match event {
                BatchEvent::Uploaded(g, mid) => {
                    if let Some((bar, _)) = lock(&live).get(&g) {
                        bar.status(&MediaStatus::Uploaded);
                        lock(&by_mid).insert(mid, bar.clone());
                    }
                    continue;
                }
                BatchEvent::Finished(g, result) => (g, result),
            };
            progressed = true;
            let elapsed = lock(&live).remove(&g).map_or(Duration::ZERO, |(bar, at)| {
                bar.done();
                at.elapsed()
            });
            let outcome = match result {
                Ok(media) => {
                    lock(&by_mid).remove(&media.mid);
                    if let Some(ledger) = &ledger {
                        ledger
                            .finished(&media)
                            .map_err(|e| ledger::failed(ledger, &e))?;
                    }
                    Outcome::Done(Box::new(media))
                }
                Err(e) if matches!(e.as_proto(), Some(ProtoError::Stopped(_))) => Outcome::Skipped,
                Err(e) if not_final(&e).is_some() => Outcome::NotFinal(e),
                Err(e) => {
                    // A record deleted meanwhile: the next run creates it anew.
                    if let (Some(ledger), Some(mid), ErrorClass::NotFound) =
                        (&ledger, e.mid(), e.class())
                    {
                        ledger
                            .forget_mid(mid.as_str())
                            .map_err(|e| ledger::failed(ledger, &e))?;
                    }
                    Outcome::Failed(e)
                }
            };
            // Another process may try again a file this one did not end
            // (a final record's claim ended when it was saved).
            if let (Some(ledger), Some(key), false) = (
                &ledger,
                lock(&batch).items[g].key.clone(),
                matches!(outcome, Outcome::Done(_)),
            ) {
                ledger
                    .release(&key)
                    .map_err(|e| ledger::failed(ledger, &e))?;
            }
            let elapsed = match outcome {
                Outcome::Skipped => Duration::ZERO,
                _ => elapsed,
            };
            settle(g, Some((outcome, elapsed)));
        }
        // The paths that joined an item told before the last event.
        settle(0, None);
        pending = std::mem::take(&mut *lock(&held));
        if let Some(e) = lock(&hash_failed).take() {
            return Err(e);
        }
        if let Some(e) = lock(&claim_failed).take() {
            let ledger = ledger.as_ref().expect("only a ledger claims");
            return Err(ledger::failed(ledger, &e));
        }
        if pending.is_empty() {
            break;
        }
        if interrupt.is_triggered() {
            for g in std::mem::take(&mut pending) {
                settle(g, Some((Outcome::Skipped, Duration::ZERO)));
            }
            break;
        }
        held_wait
            .between_rounds(&bars, pending.len(), progressed)
            .await;
    }
    ledger::release_all(ledger.as_ref())?;
    ledger::HeldWait::left_to_others(&bars, lock(&left).len());
    count.done();
    watcher.abort();
    // Bars of files an interruption left behind do not stay above the table.
    for (bar, _) in lock(&live).drain().map(|(_, v)| v) {
        bar.done();
    }
    bars.clear();

    let group_of = std::mem::take(&mut lock(&batch).group_of);
    let by_job: Vec<(&Job, &(Outcome, Duration))> = (plan.jobs.iter().enumerate())
        .filter_map(|(j, job)| {
            let g = group_of[j]?;
            outcomes.get(g)?.as_ref().map(|o| (job, o))
        })
        .collect();
    if !global.json {
        results_table(&by_job).print();
    }
    let code = by_job
        .iter()
        .map(|(_, (outcome, _))| exit_code(outcome))
        .find(|code| *code != exit::SUCCESS)
        .unwrap_or(exit::SUCCESS);
    if interrupt.is_triggered() {
        let how = match &ledger {
            Some(_) => "run the same command again to resume",
            None => "no ledger was kept, so running it again starts from nothing",
        };
        eprintln!("authenta: interrupted: {how}");
    }
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

/// The batch to run: one item per distinct content and model (the same
/// bytes at two paths are processed once), each starting where the ledger
/// saw it last. The items are made as the files' digests come (a file is
/// hashed while earlier ones are uploaded): a file whose bytes match an
/// earlier file's, in its group or an earlier one, joins that file's item
/// (and, once the item ended, is told its outcome), never making a second.
struct Batch {
    items: Vec<Item>,
    /// Each job's item, once it is known.
    group_of: Vec<Option<usize>>,
    /// Whether each item's outcome was told.
    settled: Vec<bool>,
    /// The jobs that joined an item after its outcome was told, by item.
    late: Vec<(usize, usize)>,
    /// The ledger's items by content and model.
    seen: HashMap<(String, String), usize>,
    /// With a ledger: it and the account the entries belong to.
    ledger: Option<(Ledger, ledger::Account)>,
}

/// One item of the batch.
struct Item {
    /// The jobs (paths) it stands for, the first one uploaded.
    jobs: Vec<usize>,
    /// Its ledger entry, claimed when it starts.
    key: Option<EntryKey>,
    checkpoint: Option<CheckpointFn>,
}

impl Batch {
    fn new(jobs: usize, ledger: Option<&Ledger>, client: &Client) -> Batch {
        Batch {
            items: Vec::new(),
            group_of: vec![None; jobs],
            settled: Vec::new(),
            late: Vec::new(),
            seen: HashMap::new(),
            ledger: ledger.map(|ledger| (ledger.clone(), Ledger::account(client))),
        }
    }

    /// Adds the job `j` of `jobs` (with its identity, when the ledger keeps
    /// it): its new item, or the note that it joined an earlier one.
    fn add_job(
        &mut self,
        jobs: &[Job],
        j: usize,
        identity: Option<ledger::Identity>,
    ) -> Result<usize, files::Note> {
        let job = &jobs[j];
        let (key, checkpoint) = match (&self.ledger, identity) {
            (Some((ledger, account)), Some(identity)) => {
                let content = (identity.sha256.clone(), job.model.to_string());
                if let Some(&g) = self.seen.get(&content) {
                    let first = &jobs[self.items[g].jobs[0]];
                    self.items[g].jobs.push(j);
                    self.group_of[j] = Some(g);
                    if self.settled[g] {
                        self.late.push((g, j));
                    }
                    return Err(files::Note {
                        path: job.path.clone(),
                        kind: "sameBytes",
                        text: format!(
                            "{} has the same bytes as {}: processed once",
                            job.path.display(),
                            first.path.display()
                        ),
                    });
                }
                self.seen.insert(content, self.items.len());
                let key = ledger.key(account, &identity, &job.model);
                let checkpoint = ledger.checkpoint(&key, &identity);
                (Some(key), Some(checkpoint))
            }
            _ => (None, None),
        };
        self.group_of[j] = Some(self.items.len());
        self.settled.push(false);
        self.items.push(Item {
            jobs: vec![j],
            key,
            checkpoint,
        });
        Ok(self.items.len() - 1)
    }
}

/// The error of a file the ledger cannot read to compute its digest.
fn cannot_read(job: &Job, e: &std::io::Error) -> CliError {
    CliError::Ledger(format!("cannot read {}: {e}", job.path.display()))
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
