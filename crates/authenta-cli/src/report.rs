//! Seeing the verdicts from the command line: `process --report` and
//! `authenta report` write the page of `authenta-report`, fetching what
//! each entry shows (its result document and heatmaps, streamed to the
//! report's scratch files by the client's `download`); `result --overlay`
//! blends a heatmap over its image.
//!
//! What the page holds and how it is laid out is authenta-report's; this
//! module gathers the entries and fetches their artifacts.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use authenta_report::{ArtifactKind, Fetched, overlay, with_suffix};
pub use authenta_report::{Entry, Report, Summary};
use authenta_reqwest::Client;
use authenta_reqwest::proto::ProtocolError;
use authenta_reqwest::types::{Media, MediaId};
use futures_util::TryStreamExt as _;

use crate::cli::{Global, ReportArgs};
use crate::exit;
use crate::files;
use crate::output;
use crate::session::{CliError, Session, describe};

/// Writes the report of `entries`: for each, what [`Entry::needs`] lists
/// is read with `client` (the result document; heatmaps downloaded into the
/// report's scratch files), then the entry is written; then the page is
/// put in place.
pub async fn write(mut report: Report, client: &Client, entries: &[Entry]) -> io::Result<Summary> {
    for entry in entries {
        let fetched = fetch(&report, client, entry).await;
        report.add(entry, fetched)?;
    }
    report.finish()
}

/// Reads what `entry`'s section shows. Failures become the entry's notes.
async fn fetch(report: &Report, client: &Client, entry: &Entry) -> Fetched {
    let needs = entry.needs();
    let mut fetched = Fetched::default();
    if let (true, Some(media)) = (needs.document, &entry.media) {
        fetched.document = client.result(media).await.map_err(|e| describe(&e));
    }
    for artifact in &needs.artifacts {
        let path = report.artifact_path(artifact);
        let downloaded = match (artifact.kind, &entry.job) {
            // A job's artifact, by the jobs API's download rules.
            (ArtifactKind::JobHeatmap(index), Some(job)) => match job.artifacts.get(index) {
                Some(a) => client
                    .download_artifact(a, &path)
                    .await
                    .map(|n| n.is_some()),
                None => Ok(false),
            },
            _ => client
                .download(&artifact.url, artifact.mid.as_ref(), &path)
                .await
                .map(|_| true),
        };
        let file = match downloaded {
            Ok(true) => Ok(path),
            Ok(false) => Err("the job lists it without a download URL".to_owned()),
            Err(e) => Err(describe(&e)),
        };
        fetched.files.push((artifact.kind, file));
    }
    fetched
}

/// How one job went (or why it has none), and how long it took.
pub type JobOutcome = (
    Result<authenta_reqwest::types::Job, authenta_reqwest::Error>,
    std::time::Duration,
);

/// `process --task … --report FILE`: one entry per file, its job as the
/// run left it (with the reference image, for face intelligence), or why
/// it has none; then the page, as [`write`] writes it.
pub async fn write_jobs(
    report: Report,
    client: &Client,
    finished: &[(&PathBuf, &JobOutcome)],
    reference: Option<&Path>,
) -> io::Result<Summary> {
    let entries: Vec<Entry> = finished
        .iter()
        .map(|(path, (result, elapsed))| {
            let file = Some((*path).clone());
            match result {
                Ok(job) => Entry::from_job(
                    job.clone(),
                    file,
                    reference.map(Path::to_path_buf),
                    Some(*elapsed),
                ),
                Err(e) => {
                    let unstarted = Entry::without_record((*path).clone(), None, None);
                    match e.as_proto() {
                        // Not started: an earlier job's failure would recur.
                        Some(ProtocolError::Stopped(_)) => Entry {
                            status: "skipped".into(),
                            ..unstarted
                        },
                        _ => Entry {
                            status: match e.code() {
                                Some(code) => format!("error {code}"),
                                None => format!("error ({})", output::class_name(e.class())),
                            },
                            elapsed: Some(*elapsed),
                            error: Some(describe(e)),
                            ..unstarted
                        },
                    }
                }
            }
        })
        .collect();
    write(report, client, &entries).await
}

/// `authenta report FILE.html [MID|PATH]...`: a report of records already
/// processed. A MID is read as is; a PATH (a file, or the media files in a
/// directory) is matched to the newest record of its name, and its
/// pictures are shown from the file. With neither, every record of the
/// account, newest first. Items that cannot be found are entries with
/// their error; the exit code is 0 once the report is written.
pub async fn run(global: &Global, args: &ReportArgs) -> Result<u8, CliError> {
    let report = match Report::create(&args.output) {
        Ok(report) => report,
        Err(e) => return Err(cannot_write(&args.output, &e)),
    };
    let ledger = crate::ledger::existing(global)?;
    let session = Session::open(global).await?;
    let client = &session.client;
    let account = crate::ledger::Ledger::account(client);
    let mut entries = Vec::new();
    // Nothing named: what the ledger holds as final for this account (with
    // each file, so images are shown), else every record of the account.
    let saved = match (&ledger, args.items.is_empty()) {
        (Some(ledger), true) => ledger
            .final_entries(&account)
            .map_err(|e| crate::ledger::failed(ledger, &e))?,
        _ => Vec::new(),
    };
    for (path, saved) in saved {
        // Read again: the ledger keeps no artifact URL.
        let media = client.get(&saved.mid).await.unwrap_or(saved);
        let file = path.exists().then_some(path);
        entries.push(Entry::from_record(media, file, None));
    }
    if args.items.is_empty() && entries.is_empty() {
        let mut records = client.list_all();
        while let Some(media) = records.try_next().await? {
            entries.push(Entry::from_record(media, None, None));
        }
    }
    let mut by_name: Option<BTreeMap<String, Media>> = None;
    for item in &args.items {
        let path = Path::new(item);
        if !path.exists()
            && let Ok(mid) = item.parse::<MediaId>()
        {
            entries.push(match client.get(&mid).await {
                Ok(media) => Entry::from_record(media, None, None),
                Err(e) => Entry {
                    mid: Some(mid),
                    status: "not read".into(),
                    error: Some(describe(&e)),
                    ..Entry::without_record(item.into(), None, None)
                },
            });
            continue;
        }
        let plan = files::plan(&[path.to_owned()], None, false, false);
        for error in plan.errors {
            entries.push(Entry {
                status: "not read".into(),
                error: Some(error.to_string()),
                ..Entry::without_record(path.to_owned(), None, None)
            });
        }
        // The ledger knows which record a file made (by its bytes); the
        // record is read again for fresh artifact URLs.
        let mut jobs = Vec::new();
        for job in plan.jobs {
            let saved = match &ledger {
                Some(ledger) => ledger
                    .final_record(&account, &job.path)
                    .map_err(|e| crate::ledger::failed(ledger, &e))?,
                None => None,
            };
            match saved {
                Some(saved) => {
                    let media = client.get(&saved.mid).await.unwrap_or(saved);
                    entries.push(Entry::from_record(media, Some(job.path), None));
                }
                None => jobs.push(job),
            }
        }
        if jobs.is_empty() {
            continue;
        }
        if by_name.is_none() {
            // Newest first: the first record of a name is its newest.
            let mut names = BTreeMap::new();
            let mut records = client.list_all();
            while let Some(media) = records.try_next().await? {
                names.entry(media.name.clone()).or_insert(media);
            }
            by_name = Some(names);
        }
        let names = by_name.as_ref().expect("just read");
        for job in jobs {
            let kind = Some(job.file.kind.as_str().to_owned());
            entries.push(match names.get(&job.file.name) {
                Some(media) => Entry::from_record(media.clone(), Some(job.path), None),
                None => Entry {
                    error: Some(format!(
                        "no record named {} in the account; `authenta process {}` makes one",
                        job.file.name,
                        job.path.display()
                    )),
                    status: "no record".into(),
                    ..Entry::without_record(job.path, kind, Some(job.model.to_string()))
                },
            });
        }
    }
    match write(report, client, &entries).await {
        Ok(summary) => {
            wrote(&args.output, &summary);
            Ok(exit::SUCCESS)
        }
        Err(e) => Err(cannot_write(&args.output, &e)),
    }
}

/// Says on stderr that the report is written, and what it holds.
pub fn wrote(path: &Path, summary: &Summary) {
    let none = match summary.no_verdict {
        0 => String::new(),
        n => format!(", {n} without a verdict"),
    };
    eprintln!(
        "authenta: wrote the report {} ({} files: {} real, {} fake, {} failed{none}, {} not final)",
        path.display(),
        summary.total(),
        summary.real,
        summary.fake,
        summary.failed,
        summary.pending
    );
}

/// After a batch: says that its report is written, or why it could not be
/// (an error line); returns the exit code to end with instead of `code`
/// when the report failed a batch that otherwise succeeded (the batch's
/// own failure, if any, says more than the report's).
pub fn written(path: &Path, written: io::Result<Summary>, code: u8, json: bool) -> Option<u8> {
    match written {
        Ok(summary) => {
            wrote(path, &summary);
            None
        }
        Err(e) => {
            let failed = cannot_write(path, &e);
            failed.report(json);
            Some(match code {
                exit::SUCCESS => failed.exit_code(),
                code => code,
            })
        }
    }
}

/// The error of a report that cannot be written: a local write, exit 11
/// (a JSON error line with `--json`).
pub fn cannot_write(path: &Path, error: &io::Error) -> CliError {
    CliError::LocalIo(format!(
        "cannot write the report {}: {error}; choose a path in a writable directory",
        path.display()
    ))
}

/// `result MID --overlay OUT.png --file ORIGINAL`: blends the record's
/// heatmap (the file at `heatmap` when it was just saved there, else
/// downloaded to a scratch file) over the original image and writes `out`
/// as a PNG. Returns the exit code: 0, or 6 (invalid input) after saying on
/// stderr why the images could not be read or the PNG written.
pub async fn save_overlay(
    client: &Client,
    media: &Media,
    heatmap: Option<&Path>,
    original: &Path,
    out: &Path,
    opacity: f32,
) -> Result<u8, CliError> {
    let failed = |why: &str| {
        eprintln!(
            "authenta: error: the overlay {} cannot be made: {why}",
            out.display()
        );
        Ok(exit::INVALID_INPUT)
    };
    // A heatmap not saved by the caller is downloaded beside `out`, and
    // removed once blended.
    let (heatmap, scratch) = match heatmap {
        Some(path) => (path.to_owned(), None),
        None => {
            let path = with_suffix(out, ".heatmap.part");
            if client.download_heatmap(media, &path).await?.is_none() {
                return Err(CliError::Unfinished(format!(
                    "media {} has no heatmap image to blend (a video's heatmaps are per participant)",
                    media.mid
                )));
            }
            (path.clone(), Some(path))
        }
    };
    let written = overlay::write_overlay(original, &heatmap, out, opacity);
    if let Some(path) = scratch {
        let _ = std::fs::remove_file(path);
    }
    match written {
        Ok(()) => Ok(exit::SUCCESS),
        Err(e) => failed(&e),
    }
}
