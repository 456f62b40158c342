//! The Authenta report: a self-contained HTML page of verdicts, and a
//! heatmap blended over its image.
//!
//! [Authenta](https://authenta.ai) detects deepfakes and manipulated
//! media. This crate presents what it found, as the `authenta` command
//! does (`authenta process --report`, `authenta report`,
//! `authenta result --overlay`), for programs that use the SDK directly:
//! a page with one section per file (its facts, the verdict, the image
//! with its heatmap over it, the video playing with each participant's
//! face boxes drawn in sync, or a poster decoded from its first frame),
//! a summary, and an index that lists fakes first. A job of the jobs API
//! ([`Entry::from_job`]) shows what its result holds for its task type,
//! the faces found outlined over its picture, its heatmaps and the
//! reference image it was compared with.
//!
//! The crate reads no network and runs on no runtime: it is given plain
//! values ([`Entry`], from a [`Media`] record or a local file) and the
//! artifacts the caller fetched with its own client ([`Fetched`]: the
//! result document, heatmaps downloaded into files). [`Entry::needs`] says
//! which artifacts an entry's section shows, so a caller fetches nothing
//! more. The page is written one entry at a time, each entry's assets
//! (the file, its heatmaps, a poster) streamed into it as `data:` URIs (or
//! copied beside it when large), so a report of many files never holds
//! all their bytes. The page holds no pre-signed URL, no credential and no
//! address to load.
//!
//! ```
//! use authenta_report::{Entry, Fetched, Report, Verdict};
//!
//! let dir = tempfile::tempdir()?;
//! let page = dir.path().join("report.html");
//! let mut report = Report::create(&page)?;
//! // A file that was never sent has an entry too (a blocking or async
//! // client would fetch what `entry.needs()` lists for a processed one).
//! let entry = Entry::without_record("photo.jpg".into(), Some("Image".into()), None);
//! assert!(entry.needs().is_empty());
//! assert_eq!(report.add(&entry, Fetched::default())?, Verdict::Pending);
//! let summary = report.finish()?;
//! assert_eq!(summary.pending, 1);
//! assert!(std::fs::read_to_string(&page)?.contains("photo.jpg"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What counts as done and what is retried stays the SDK's; this crate
//! only presents.

pub mod html;
mod job;
pub mod overlay;
pub mod video;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use authenta_types::{
    Job, JobStatus, Media, MediaId, MediaKind, MediaStatus, ResultDocument, SlotName, Timestamp,
};
use serde_json::{Value, json};

use self::html::{Assets, escape, without_urls};
use self::video::{FaceBox, VideoInfo};

/// One file or record in a report: what is known about it locally. The
/// record's artifacts (result document, heatmaps) are read while the
/// report is written.
#[derive(Clone)]
pub struct Entry {
    /// The local file, as given on the command line, when there is one
    /// (its pictures are shown from it: the API keeps no original to read).
    pub file: Option<PathBuf>,
    /// The name shown: the record's, else the file's.
    pub name: String,
    /// The kind of media (`Image`, `Video`, ...), when known.
    pub kind: Option<String>,
    /// The model, when known.
    pub model: Option<String>,
    /// The record's id, when one was created.
    pub mid: Option<MediaId>,
    /// The record's status, or what happened instead (`error`, `skipped`).
    pub status: String,
    /// The record as last read, when there is one.
    pub media: Option<Media>,
    /// How long the file took, upload to final status, when measured.
    pub elapsed: Option<Duration>,
    /// Why the file failed, when it did.
    pub error: Option<String>,
    /// The job as last read, for an entry of the jobs API (`/v1/jobs`);
    /// `media` is then `None`.
    pub job: Option<Job>,
    /// The reference image the job compared the file with (face
    /// intelligence's `reference` slot), when at hand.
    pub reference: Option<PathBuf>,
}

impl Entry {
    /// An entry for a record read from the API, with the local file it was
    /// made from when known.
    pub fn from_record(media: Media, file: Option<PathBuf>, elapsed: Option<Duration>) -> Entry {
        let error = media.extra.get("error").map(record_error);
        Entry {
            file,
            name: media.name.clone(),
            kind: Some(media.media_type.to_string()),
            model: Some(media.model_type.to_string()),
            mid: Some(media.mid.clone()),
            status: media.status.to_string(),
            error: error
                .filter(|_| media.status.is_final() && media.status != MediaStatus::Processed),
            media: Some(media),
            elapsed,
            job: None,
            reference: None,
        }
    }

    /// An entry for a job read from the jobs API, with the local file of
    /// its `original` slot and its reference image when known. A job
    /// `failed` or `cancelled` is an entry with its error.
    pub fn from_job(
        job: Job,
        file: Option<PathBuf>,
        reference: Option<PathBuf>,
        elapsed: Option<Duration>,
    ) -> Entry {
        let original = job
            .inputs
            .iter()
            .find(|slot| slot.slot_name == SlotName::Original);
        let name = match (&file, original.and_then(|s| s.file_name.as_ref())) {
            (Some(file), _) => file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            (None, Some(name)) => name.clone(),
            (None, None) => format!("job {}", job.id),
        };
        let kind = original
            .and_then(|s| s.content_type.as_deref())
            .and_then(MediaKind::of_content_type)
            .map(|k| k.to_string());
        let model = job
            .task_type()
            .and_then(|t| t.info())
            .map(|t| format!("{} ({})", t.slug, t.model));
        let error = match job.status {
            JobStatus::Failed => Some(
                job.error_message
                    .clone()
                    .unwrap_or_else(|| "the job failed (the service gave no reason)".into()),
            ),
            JobStatus::Cancelled => Some("the job was cancelled".into()),
            _ => None,
        };
        Entry {
            file,
            name,
            kind,
            model,
            mid: None,
            status: job.status.to_string(),
            media: None,
            elapsed,
            error,
            job: Some(job),
            reference,
        }
    }

    /// An entry for a file that has no record to show: it failed (with
    /// `error`) or was never started (`error` is `None`).
    pub fn without_record(file: PathBuf, kind: Option<String>, model: Option<String>) -> Entry {
        Entry {
            name: file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            file: Some(file),
            kind,
            model,
            mid: None,
            status: "not started".into(),
            media: None,
            elapsed: None,
            error: None,
            job: None,
            reference: None,
        }
    }
}

/// A record's `error` field as one line: its message (and code) when it
/// is an API error object.
fn record_error(value: &Value) -> String {
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    match (text("code"), text("message")) {
        (Some(code), Some(message)) => format!("{message} ({code})"),
        (None, Some(message)) => message.to_owned(),
        _ => match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

/// An entry's verdict, as the page's `data-verdict` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Processed, not manipulated.
    Real,
    /// Processed, manipulated.
    Fake,
    /// The file or its record failed.
    Failed,
    /// Done, and its task gives no verdict (a face embedding, an audio
    /// split, a document's fields), or its record states none.
    NoVerdict,
    /// No verdict yet (not final, or not started).
    Pending,
}

impl Verdict {
    /// The word for `data-verdict` and the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Real => "real",
            Verdict::Fake => "fake",
            Verdict::Failed => "failed",
            Verdict::NoVerdict => "none",
            Verdict::Pending => "pending",
        }
    }
}

/// The verdict (`fake`) and score a result document states.
///
/// The one place that reads them: `ResultDocument` keeps them untyped (in
/// `extra`) for now; when it gains typed fields, only this changes.
pub fn document_verdict(document: &ResultDocument) -> (Option<bool>, Option<f64>) {
    (document.fake, document.score)
}

/// An entry's verdict: failed when it or its record failed, pending
/// until its record is `PROCESSED`, then the result document's `fake` (the
/// record's when there is no document), or none when neither states one.
/// A job's: pending until final; once `completed`, its result's by the
/// task type's rule ([`Job::verdict`]), or none for a task that gives
/// none (an embedding).
pub fn verdict(entry: &Entry, document: Option<&ResultDocument>) -> Verdict {
    if entry.error.is_some() {
        return Verdict::Failed;
    }
    if let Some(job) = &entry.job {
        return match (&job.status, job.verdict()) {
            (JobStatus::Completed, Some(true)) => Verdict::Fake,
            (JobStatus::Completed, Some(false)) => Verdict::Real,
            (JobStatus::Completed, None) => Verdict::NoVerdict,
            (status, _) if status.is_final() => Verdict::Failed,
            _ => Verdict::Pending,
        };
    }
    let Some(media) = &entry.media else {
        return Verdict::Pending;
    };
    if media.status != MediaStatus::Processed {
        return match media.status.is_final() {
            true => Verdict::Failed,
            false => Verdict::Pending,
        };
    }
    match document.and_then(|d| document_verdict(d).0).or(media.fake) {
        Some(true) => Verdict::Fake,
        Some(false) => Verdict::Real,
        None => Verdict::NoVerdict,
    }
}

/// How many entries had each verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Real.
    pub real: usize,
    /// Fake.
    pub fake: usize,
    /// Failed.
    pub failed: usize,
    /// Done without a verdict (its task gives none).
    pub no_verdict: usize,
    /// Not final (or not started).
    pub pending: usize,
}

impl Summary {
    fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Real => self.real += 1,
            Verdict::Fake => self.fake += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::NoVerdict => self.no_verdict += 1,
            Verdict::Pending => self.pending += 1,
        }
    }

    /// Every entry.
    pub fn total(&self) -> usize {
        self.real + self.fake + self.failed + self.no_verdict + self.pending
    }
}

/// A record's measured figures in one line: its confidence and its faces
/// (`confidence 0.93, 2 faces, 1 fake`), or `-` when it states none.
pub fn figures(media: &Media) -> String {
    let mut parts = Vec::new();
    if let Some(confidence) = media.confidence {
        parts.push(format!("confidence {confidence:.2}"));
    }
    match (media.faces, media.deep_fakes) {
        (Some(faces), fakes) => parts.push(format!(
            "{faces} face{}{}",
            if faces == 1 { "" } else { "s" },
            fakes.map_or_else(String::new, |f| format!(", {f} fake"))
        )),
        (None, Some(fakes)) => parts.push(format!(
            "{fakes} fake face{}",
            if fakes == 1 { "" } else { "s" }
        )),
        (None, None) => {}
    }
    match parts.is_empty() {
        true => "-".to_owned(),
        false => parts.join(", "),
    }
}

/// Which of a record's artifacts an entry's section shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArtifactKind {
    /// The record's heatmap (an image's).
    Heatmap,
    /// A video participant's heatmap, by the participant's index.
    Participant(usize),
    /// A job's heatmap, by its index in the job's `artifacts` (download it
    /// with the client's `download_artifact`).
    JobHeatmap(usize),
}

/// An artifact to download for a report: where from, and what it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Artifact {
    /// What it is.
    pub kind: ArtifactKind,
    /// The record it belongs to (`None` for a job's artifact).
    pub mid: Option<MediaId>,
    /// The record's (pre-signed) URL for it: a secret of sorts, never
    /// shown ([`Debug`] leaves it out).
    pub url: String,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("kind", &self.kind)
            .field("mid", &self.mid)
            .finish_non_exhaustive()
    }
}

/// What an entry's section needs from the API: see [`Entry::needs`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The record's result document (its verdict, score and face boxes).
    pub document: bool,
    /// The artifacts to download, each into a file.
    pub artifacts: Vec<Artifact>,
}

impl Needs {
    /// Nothing to fetch.
    pub fn is_empty(&self) -> bool {
        !self.document && self.artifacts.is_empty()
    }
}

/// What the caller fetched for an entry, as [`Entry::needs`] asked: each
/// part is its value or why it could not be had (a message, shown as a
/// note in the entry's section).
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The result document (`Ok(None)`: the record has none, or it was
    /// not asked for).
    pub document: Result<Option<ResultDocument>, String>,
    /// Each downloaded artifact's file, or why it was not downloaded. A
    /// file under the report's scratch directory
    /// ([`Report::artifact_path`]) is removed once the entry is written.
    pub files: Vec<(ArtifactKind, Result<PathBuf, String>)>,
}

impl Default for Fetched {
    /// Nothing fetched: no document, no file.
    fn default() -> Fetched {
        Fetched {
            document: Ok(None),
            files: Vec::new(),
        }
    }
}

impl Fetched {
    fn file(&self, kind: ArtifactKind) -> Option<&Result<PathBuf, String>> {
        self.files.iter().find(|(k, _)| *k == kind).map(|(_, f)| f)
    }
}

impl Entry {
    /// The record processed without an error: the only kind whose
    /// artifacts a report shows.
    fn processed(&self) -> Option<&Media> {
        self.media
            .as_ref()
            .filter(|m| m.status == MediaStatus::Processed && self.error.is_none())
    }

    /// Whether the section shows a video (with its participants), else an
    /// image.
    fn is_video(&self, media: &Media) -> bool {
        let kind = self.kind.as_deref().unwrap_or("").to_ascii_lowercase();
        kind == "video" || media.participants.is_some()
    }

    /// The job completed without an error: the only kind whose
    /// artifacts a report shows.
    fn completed_job(&self) -> Option<&Job> {
        self.job
            .as_ref()
            .filter(|j| j.status == JobStatus::Completed && self.error.is_none())
    }

    /// What this entry's section shows that must be fetched: for a
    /// processed record, its result document and its heatmaps (an
    /// image's, or each video participant's); for a completed job, its
    /// heatmaps (its result is in the job); nothing for any other.
    pub fn needs(&self) -> Needs {
        if let Some(job) = self.completed_job() {
            return Needs {
                document: false,
                artifacts: job::heatmaps(job)
                    .map(|(index, url)| Artifact {
                        kind: ArtifactKind::JobHeatmap(index),
                        mid: None,
                        url: url.to_owned(),
                    })
                    .collect(),
            };
        }
        let Some(media) = self.processed() else {
            return Needs::default();
        };
        let artifact = |kind, url: &String| Artifact {
            kind,
            mid: Some(media.mid.clone()),
            url: url.clone(),
        };
        let artifacts = match self.is_video(media) {
            true => media
                .participants
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter_map(|(p, participant)| {
                    participant
                        .heatmap
                        .as_ref()
                        .map(|url| artifact(ArtifactKind::Participant(p), url))
                })
                .collect(),
            false => media
                .heatmap_url
                .iter()
                .map(|url| artifact(ArtifactKind::Heatmap, url))
                .collect(),
        };
        Needs {
            document: true,
            artifacts,
        }
    }
}

/// A directory for downloaded artifacts, removed with everything in it
/// when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> io::Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("authenta-report-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A report being written: created before any work (so an unusable path
/// is found at once), given its entries one at a time with
/// [`Report::add`], and put in place by [`Report::finish`]. Dropped
/// unfinished, it leaves no file behind.
pub struct Report {
    path: PathBuf,
    part: PathBuf,
    body_path: PathBuf,
    body: BufWriter<File>,
    scratch: Scratch,
    assets: Assets,
    summary: Summary,
    index: Vec<(String, Verdict)>,
}

impl Report {
    /// Starts the report at `path` (creating its `.part` file, so an
    /// unwritable path fails here).
    pub fn create(path: &Path) -> io::Result<Report> {
        let part = with_suffix(path, ".part");
        File::create(&part)?;
        let body_path = with_suffix(path, ".body.part");
        let body = match File::create(&body_path) {
            Ok(file) => BufWriter::new(file),
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        Ok(Report {
            assets: Assets::for_page(path),
            path: path.to_owned(),
            part,
            body_path,
            body,
            scratch: Scratch::new()?,
            summary: Summary::default(),
            index: Vec::new(),
        })
    }

    /// A file to download `artifact` into: in the report's scratch
    /// directory, removed once the entry that shows it is written (and
    /// with the report).
    pub fn artifact_path(&self, artifact: &Artifact) -> PathBuf {
        let name = match artifact.kind {
            ArtifactKind::Heatmap => format!("heatmap-{}", self.index.len()),
            ArtifactKind::Participant(p) => format!("heatmap-{}-{p}", self.index.len()),
            ArtifactKind::JobHeatmap(a) => format!("heatmap-{}-job-{a}", self.index.len()),
        };
        self.scratch.0.join(name)
    }

    /// Writes one entry's section, with what was fetched for it (see
    /// [`Entry::needs`]), and returns its verdict.
    pub fn add(&mut self, entry: &Entry, fetched: Fetched) -> io::Result<Verdict> {
        let i = self.index.len();
        let mut writer = EntryWriter {
            out: &mut self.body,
            assets: &mut self.assets,
        };
        let verdict = writer.entry(i, entry, &fetched);
        for (_, file) in &fetched.files {
            if let Ok(path) = file
                && path.starts_with(&self.scratch.0)
            {
                let _ = std::fs::remove_file(path);
            }
        }
        let verdict = verdict?;
        self.summary.add(verdict);
        self.index.push((entry.name.clone(), verdict));
        Ok(verdict)
    }

    /// Writes the page (the summary, the index, then every entry) and puts
    /// it in place.
    pub fn finish(mut self) -> io::Result<Summary> {
        self.body.flush()?;
        let mut page = BufWriter::new(File::create(&self.part)?);
        html::write_head(&mut page, "Authenta report")?;
        write_summary(&mut page, &self.summary, &self.index)?;
        writeln!(page, "<section id=\"entries\" aria-label=\"Files\">")?;
        io::copy(&mut File::open(&self.body_path)?, &mut page)?;
        writeln!(page, "</section>")?;
        html::write_tail(&mut page)?;
        page.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&self.part, &self.path)?;
        Ok(self.summary)
    }
}

impl Drop for Report {
    /// A report not finished leaves no `.part` file behind; a finished
    /// one, no body part.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.part);
        let _ = std::fs::remove_file(&self.body_path);
    }
}

/// The summary counts and a list of links to the entries.
fn write_summary(
    page: &mut impl io::Write,
    summary: &Summary,
    index: &[(String, Verdict)],
) -> io::Result<()> {
    let generated = Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    writeln!(
        page,
        "<p>{} files, written {} by authenta {}.</p>",
        summary.total(),
        escape(&generated),
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(
        page,
        "<h2 id=\"summary\">Summary</h2>\n<ul class=\"summary\" aria-labelledby=\"summary\">"
    )?;
    for (class, label, count) in [
        ("real", "real", summary.real),
        ("fake", "fake", summary.fake),
        ("failed", "failed", summary.failed),
        ("none", "no verdict", summary.no_verdict),
        ("pending", "not final", summary.pending),
    ] {
        // Only a batch of tasks that give none has entries without a
        // verdict: the others' summary keeps its four counts.
        if class == "none" && count == 0 {
            continue;
        }
        writeln!(
            page,
            "<li class=\"{class}\"><strong>{count}</strong>{label}</li>"
        )?;
    }
    // The index lists fakes first, then failures, then the rest, each
    // marked with its verdict's badge.
    writeln!(page, "</ul>\n<nav aria-label=\"Files\"><ol>")?;
    let rank = |v: &Verdict| match v {
        Verdict::Fake => 0,
        Verdict::Failed => 1,
        Verdict::Pending => 2,
        Verdict::NoVerdict => 3,
        Verdict::Real => 4,
    };
    let mut order: Vec<usize> = (0..index.len()).collect();
    order.sort_by_key(|&i| rank(&index[i].1));
    for i in order {
        let (name, verdict) = &index[i];
        writeln!(
            page,
            "<li><a href=\"#entry-{i}\">{}</a> <span class=\"badge {v}\">{v}</span></li>",
            escape(name),
            v = verdict.as_str()
        )?;
    }
    writeln!(page, "</ol></nav>")
}

/// Writes entries into the page's body, one at a time, with their assets.
struct EntryWriter<'a> {
    out: &'a mut BufWriter<File>,
    assets: &'a mut Assets,
}

impl EntryWriter<'_> {
    /// Writes one entry: its facts, then its pictures. Returns its verdict.
    fn entry(&mut self, i: usize, entry: &Entry, fetched: &Fetched) -> io::Result<Verdict> {
        let mut notes = Vec::new();
        let processed = entry.processed();
        let document = match &fetched.document {
            Ok(document) => document.clone(),
            Err(e) => {
                notes.push(format!("the result document could not be read: {e}"));
                None
            }
        };
        let verdict = verdict(entry, document.as_ref());
        let score = document.as_ref().and_then(|d| document_verdict(d).1);
        let shown_file = entry
            .file
            .as_ref()
            .map_or_else(|| entry.name.clone(), |f| f.display().to_string());

        writeln!(
            self.out,
            "<article class=\"entry\" id=\"entry-{i}\" data-file=\"{}\" data-verdict=\"{}\" \
         aria-labelledby=\"entry-{i}-title\">",
            escape(&shown_file),
            verdict.as_str()
        )?;
        writeln!(
            self.out,
            "<h2 id=\"entry-{i}-title\">{} <span class=\"badge {v}\">{v}</span></h2>\n<dl>",
            escape(&entry.name),
            v = verdict.as_str()
        )?;
        if let Some(job) = &entry.job {
            job::write_facts(self.out, entry, job, verdict)?;
        } else {
            self.record_facts(entry, verdict, score)?;
        }
        writeln!(self.out, "</dl>")?;
        if let Some(error) = &entry.error {
            writeln!(
                self.out,
                "<p class=\"error\"><strong>Error:</strong> {}</p>",
                escape(&without_urls(error))
            )?;
        }

        if let Some(job) = entry.completed_job() {
            self.job(i, entry, job, fetched, &mut notes)?;
        } else if let Some(media) = processed {
            let kind = entry.kind.as_deref().unwrap_or("").to_ascii_lowercase();
            if entry.is_video(media) {
                let boxes: BTreeMap<u32, BTreeMap<u32, FaceBox>> = document
                    .as_ref()
                    .and_then(|d| d.bounding_boxes.as_ref())
                    .map(|all| {
                        all.iter()
                            .map(|(p, b)| (*p, b.bounding_box.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let heatmaps: Vec<(ArtifactKind, String)> = media
                    .participants
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.heatmap.is_some())
                    .map(|(p, _)| {
                        (
                            ArtifactKind::Participant(p),
                            format!("participant {p}'s heatmap"),
                        )
                    })
                    .collect();
                let info = self.video(entry, &boxes, false, &heatmaps, fetched, &mut notes)?;
                write_box_tables(self.out, &boxes, info.as_ref())?;
            } else if media.heatmap_url.is_some() || kind == "image" {
                let heatmap = match media.heatmap_url {
                    Some(_) => Ok(ArtifactKind::Heatmap),
                    None => Err("the record has no heatmap"),
                };
                self.image(i, entry, heatmap, &[], fetched, &mut notes)?;
            }
        }
        for note in notes {
            writeln!(
                self.out,
                "<p class=\"note\">{}</p>",
                escape(&without_urls(&note))
            )?;
        }
        writeln!(self.out, "</article>")?;
        Ok(verdict)
    }

    /// A completed job's pictures: an image with its heatmap over it and
    /// the faces found outlined, or the video with the faces' boxes drawn
    /// and each heatmap; the reference image it was compared with; the
    /// faces as a table.
    fn job(
        &mut self,
        i: usize,
        entry: &Entry,
        job: &Job,
        fetched: &Fetched,
        notes: &mut Vec<String>,
    ) -> io::Result<()> {
        let faces = job::faces(job);
        let heatmaps: Vec<usize> = job::heatmaps(job).map(|(index, _)| index).collect();
        match entry
            .kind
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("image") => {
                let heatmap = match heatmaps.first() {
                    Some(index) => Ok(ArtifactKind::JobHeatmap(*index)),
                    None => Err("the job has no heatmap"),
                };
                self.image(i, entry, heatmap, &faces, fetched, notes)?;
                if heatmaps.len() > 1 {
                    notes.push(format!(
                        "the job has {} heatmaps; the first is shown",
                        heatmaps.len()
                    ));
                }
            }
            Some("video") => {
                let boxes: BTreeMap<u32, BTreeMap<u32, FaceBox>> = faces
                    .iter()
                    .map(|(n, face)| (*n, BTreeMap::from([(0, *face)])))
                    .collect();
                let shown: Vec<(ArtifactKind, String)> = heatmaps
                    .iter()
                    .zip(1..)
                    .map(|(index, n)| {
                        (
                            ArtifactKind::JobHeatmap(*index),
                            format!("heatmap {n} of the job"),
                        )
                    })
                    .collect();
                self.video(entry, &boxes, true, &shown, fetched, notes)?;
            }
            _ => {}
        }
        let compared = job
            .inputs
            .iter()
            .any(|s| s.slot_name == SlotName::Reference);
        match (&entry.reference, compared) {
            (Some(path), _) => match html::image_mime(path) {
                Some(mime) => {
                    let similar = job.result.as_ref().map_or_else(String::new, |r| {
                        match (r.is_similar, r.similarity_score) {
                            (Some(same), Some(score)) => format!(
                                ": {} (similarity {score:.3})",
                                if same {
                                    "the same person"
                                } else {
                                    "not the same person"
                                }
                            ),
                            (Some(same), None) => format!(
                                ": {}",
                                if same {
                                    "the same person"
                                } else {
                                    "not the same person"
                                }
                            ),
                            _ => String::new(),
                        }
                    });
                    let shown = escape(&path.display().to_string());
                    write!(
                        self.out,
                        "<div class=\"figures\"><figure><img class=\"alone reference\" src=\""
                    )?;
                    self.assets.write_src(self.out, path, mime)?;
                    writeln!(
                        self.out,
                        "\" alt=\"{}: the reference image, {shown}\"><figcaption>The reference \
                         image ({shown}), compared with the faces above{}.</figcaption></figure></div>",
                        escape(&entry.name),
                        escape(&similar)
                    )?;
                }
                None => {
                    notes.push("the reference image is in a format browsers do not show".into())
                }
            },
            (None, true) => {
                notes.push("the reference image is not at hand, so it is not shown".into())
            }
            (None, false) => {}
        }
        job::write_face_table(self.out, job)
    }

    /// A record's facts (file, kind, model, mid, status, verdict, score,
    /// confidence, faces, time), as the `<dl>`'s rows.
    fn record_facts(
        &mut self,
        entry: &Entry,
        verdict: Verdict,
        score: Option<f64>,
    ) -> io::Result<()> {
        let shown_file = entry
            .file
            .as_ref()
            .map_or_else(|| entry.name.clone(), |f| f.display().to_string());
        let dash = || "-".to_owned();
        let mut facts = vec![
            ("File", shown_file.clone()),
            ("Kind", entry.kind.clone().unwrap_or_else(dash)),
            ("Model", entry.model.clone().unwrap_or_else(dash)),
            (
                "mid",
                entry.mid.as_ref().map_or_else(dash, ToString::to_string),
            ),
            ("Status", entry.status.clone()),
            ("Verdict", verdict.as_str().to_owned()),
            (
                "Score",
                score.map_or_else(dash, |s| {
                    format!("{s:.3} (the score of the result document, as the service gave it; the API documents no scale)")
                }),
            ),
            (
                "Confidence",
                entry
                    .media
                    .as_ref()
                    .and_then(|m| m.confidence)
                    .map_or_else(dash, |c| format!("{c:.3}")),
            ),
            (
                "Faces",
                entry
                    .media
                    .as_ref()
                    .filter(|m| m.faces.is_some() || m.deep_fakes.is_some())
                    .map_or_else(dash, figures),
            ),
            (
                "Processing time",
                entry.elapsed.map_or_else(
                    || match entry.media {
                        Some(_) => "not measured (read from the record, not waited for here)".to_owned(),
                        None => dash(),
                    },
                    |d| format!("{:.1} s", d.as_secs_f64()),
                ),
            ),
        ];
        if entry.file.is_none() {
            facts.remove(0);
        }
        for (name, value) in facts {
            writeln!(self.out, "<dt>{name}</dt><dd>{}</dd>", escape(&value))?;
        }
        Ok(())
    }

    /// An image: the picture with its heatmap over it (an opacity control)
    /// and `faces` outlined in their colours, and the heatmap alone.
    /// `heatmap` is the artifact to show, or the note saying there is none.
    fn image(
        &mut self,
        i: usize,
        entry: &Entry,
        heatmap: Result<ArtifactKind, &str>,
        faces: &[(u32, FaceBox)],
        fetched: &Fetched,
        notes: &mut Vec<String>,
    ) -> io::Result<()> {
        let (out, assets) = (&mut *self.out, &mut *self.assets);
        let heatmap = match heatmap {
            Ok(kind) => match fetched.file(kind) {
                Some(Ok(path)) => html::image_mime(path).map(|mime| (path.clone(), mime)),
                Some(Err(e)) => {
                    notes.push(format!("the heatmap could not be downloaded: {e}"));
                    None
                }
                None => {
                    notes.push("the heatmap was not downloaded".into());
                    None
                }
            },
            Err(why) => {
                notes.push(why.into());
                None
            }
        };
        let original = entry
            .file
            .as_ref()
            .and_then(|f| html::image_mime(f).map(|mime| (f.clone(), mime)));
        if original.is_none() {
            notes.push(match &entry.file {
            Some(_) => "the image is in a format browsers do not show, so only its heatmap is shown".into(),
            None => "the original image is not at hand (give its path to `authenta report`), so only its heatmap is shown".into(),
        });
        }
        let name = escape(&entry.name);
        writeln!(out, "<div class=\"figures\">")?;
        if let Some((path, mime)) = &original {
            write!(out, "<figure><div class=\"stack\"><img src=\"")?;
            assets.write_src(out, path, mime)?;
            write!(out, "\" alt=\"{name}: the image\">")?;
            if let Some((heat, mime)) = &heatmap {
                write!(
                    out,
                    "<img class=\"heat\" id=\"entry-{i}-heat\" style=\"opacity:{}\" src=\"",
                    overlay::DEFAULT_OPACITY
                )?;
                assets.write_src(out, heat, mime)?;
                write!(out, "\" alt=\"{name}: the heatmap over the image\">")?;
            }
            let drawn = match image::image_dimensions(path) {
                Ok(size) => job::write_face_boxes(out, faces, size)?,
                Err(_) => 0,
            };
            write!(out, "</div><figcaption>")?;
            if heatmap.is_some() {
                write!(
                    out,
                    "The image with its heatmap over it. <label>Heatmap opacity \
                 <input type=\"range\" class=\"opacity\" data-target=\"entry-{i}-heat\" \
                 min=\"0\" max=\"100\" value=\"{}\"></label>",
                    (overlay::DEFAULT_OPACITY * 100.0).round()
                )?;
            } else {
                write!(out, "The image.")?;
            }
            if drawn > 0 {
                write!(out, " The faces found are outlined, each in its colour.")?;
            }
            writeln!(out, "</figcaption></figure>")?;
        }
        if let Some((heat, mime)) = &heatmap {
            write!(out, "<figure><img class=\"alone\" src=\"")?;
            assets.write_src(out, heat, mime)?;
            writeln!(
                out,
                "\" alt=\"{name}: the heatmap alone (warmer where the model saw manipulation)\">\
             <figcaption>The heatmap alone.</figcaption></figure>"
            )?;
        }
        writeln!(out, "</div>")
    }

    /// A video: the file playing with each participant's boxes drawn in
    /// sync (or a poster when it cannot play), and the `heatmaps` (each with
    /// what it is, such as `participant 0's heatmap`). With `whole`, each
    /// participant's first box is drawn for the whole video (a job's faces
    /// name no frame). Returns the video's header, for the boxes' table.
    fn video(
        &mut self,
        entry: &Entry,
        boxes: &BTreeMap<u32, BTreeMap<u32, FaceBox>>,
        whole: bool,
        heatmaps: &[(ArtifactKind, String)],
        fetched: &Fetched,
        notes: &mut Vec<String>,
    ) -> io::Result<Option<VideoInfo>> {
        let (out, assets) = (&mut *self.out, &mut *self.assets);
        let name = escape(&entry.name);
        let info: Option<VideoInfo> = match &entry.file {
            Some(file) => match video::read_info(file) {
                Ok(info) => Some(info),
                Err(e) => {
                    notes.push(format!(
                    "the video's frame rate is unknown ({e}), so its boxes are listed by frame only"
                ));
                    None
                }
            },
            None => {
                notes.push(
                "the original video is not at hand (give its path to `authenta report`), so its boxes are listed by frame only"
                    .into(),
            );
                None
            }
        };
        writeln!(out, "<div class=\"figures\">")?;
        if let (Some(info), Some(file)) = (&info, &entry.file) {
            // The video's first frame with its boxes (or, when it does not
            // decode, a drawn stand-in).
            let poster = match video::poster(file, info, boxes) {
                Ok(poster) => Some(poster),
                Err(e) => {
                    notes.push(format!("no poster could be made: {e}"));
                    None
                }
            };
            let spans: Vec<Value> = boxes
            .iter()
            .map(|(p, frames)| {
                let [r, g, b] = video::participant_colour(*p);
                let spans = match (whole, frames.iter().next()) {
                    (true, Some((_, face))) => vec![video::Span {
                        found: 0,
                        until: info.frames.max(1),
                        face: *face,
                    }],
                    _ => video::spans(frames),
                };
                json!({
                    "participant": p,
                    // A job's faces are faces, not a video's participants.
                    "label": if whole { format!("face {p}") } else { format!("participant {p}") },
                    "colour": format!("#{r:02x}{g:02x}{b:02x}"),
                    "spans": spans
                        .iter()
                        .map(|s| json!([s.found, s.until, s.face[0], s.face[1], s.face[2], s.face[3]]))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
            write!(
                out,
                "<figure><div class=\"stage\" style=\"aspect-ratio:{w}/{h};width:{shown}px\" \
             data-fps=\"{fps}\" data-width=\"{w}\" data-height=\"{h}\" data-spans=\"{spans}\">",
                w = info.width,
                h = info.height,
                shown = info.width.clamp(160, 640),
                fps = info.frame_rate,
                spans = escape(&Value::Array(spans).to_string()),
            )?;
            match html::video_mime(file) {
                Some(mime) => {
                    write!(out, "<video controls muted playsinline preload=\"auto\" ")?;
                    // Before playback (and without a script) the decoded
                    // first frame with its boxes; a drawn stand-in never
                    // replaces the browser's own first frame.
                    if let Some(poster) = poster.as_ref().filter(|p| p.decoded.is_ok()) {
                        write!(out, "poster=\"")?;
                        html::write_data_uri(out, poster.mime, &mut poster.bytes.as_slice())?;
                        write!(out, "\" ")?;
                    }
                    write!(
                        out,
                        "aria-label=\"{name}: the video, with face boxes drawn while it plays\" src=\""
                    )?;
                    assets.write_src(out, file, mime)?;
                    write!(out, "\"></video>")?;
                }
                None => {
                    let codec = video::codec(file).map_or_else(
                        |_| "an unknown codec".to_owned(),
                        |c| format!("codec {}", String::from_utf8_lossy(&c).trim_end()),
                    );
                    let which = |frame: u32| match frame {
                        0 => "its first frame".to_owned(),
                        n => format!("frame {n}, its first key frame"),
                    };
                    if let Some(poster) = &poster {
                        // `name` is escaped already; the rest holds nothing to escape.
                        let alt = match &poster.decoded {
                            Ok(frame) => format!(
                                "{name}: {}, decoded from the video, with its face boxes outlined",
                                which(*frame)
                            ),
                            Err(_) => format!(
                                "{name}: a drawn stand-in, not a picture from the video (it could \
                                 not be decoded): the frame size with the face boxes of the first \
                                 frame outlined"
                            ),
                        };
                        write!(out, "<img class=\"poster\" src=\"")?;
                        html::write_data_uri(out, poster.mime, &mut poster.bytes.as_slice())?;
                        write!(out, "\" alt=\"{alt}\">")?;
                    }
                    notes.push(match poster.as_ref().map(|p| &p.decoded) {
                        Some(Ok(frame)) => format!(
                            "the video ({codec}) is in a format browsers do not play; {}, \
                             decoded, stands in for it",
                            which(*frame)
                        ),
                        Some(Err(why)) => format!(
                            "the video ({codec}) is in a format browsers do not play, and its \
                             pictures could not be decoded ({why}); a drawn poster (the frame \
                             size and the first boxes, not a picture from the video) stands in for it"
                        ),
                        None => format!("the video ({codec}) is in a format browsers do not play"),
                    });
                }
            }
            writeln!(
                out,
                "</div><figcaption>{} × {}, {:.3} fps, {} frames; {}.</figcaption></figure>",
                info.width,
                info.height,
                info.frame_rate,
                info.frames,
                match whole {
                    true => "the faces found are outlined while it plays",
                    false => "face boxes follow playback",
                }
            )?;
        }
        for (kind, what) in heatmaps {
            let path = match fetched.file(*kind) {
                Some(Ok(path)) => path,
                Some(Err(e)) => {
                    notes.push(format!("{what} could not be downloaded: {e}"));
                    continue;
                }
                None => {
                    notes.push(format!("{what} was not downloaded"));
                    continue;
                }
            };
            let alt = format!("{name}: {}", escape(what));
            let caption = escape(&job::capitalized(what));
            if let Some(mime) = html::image_mime(path) {
                write!(out, "<figure><img class=\"alone\" src=\"")?;
                assets.write_src(out, path, mime)?;
                writeln!(
                    out,
                    "\" alt=\"{alt}\"><figcaption>{caption}.</figcaption></figure>"
                )?;
            } else if let Some(mime) = html::video_mime(path) {
                write!(
                    out,
                    "<figure><video class=\"alone\" controls muted aria-label=\"{alt}\" src=\""
                )?;
                assets.write_src(out, path, mime)?;
                writeln!(
                    out,
                    "\"></video><figcaption>{caption}.</figcaption></figure>"
                )?;
            } else {
                notes.push(format!("{what} is in a format browsers do not show"));
            }
        }
        writeln!(out, "</div>")?;
        Ok(info)
    }
}

/// At most this many rows of boxes per participant in the table.
const BOX_ROWS: usize = 60;

/// The boxes by frame, per participant, as tables (what the page shows
/// without a script, and what a screen reader reads).
fn write_box_tables(
    out: &mut impl io::Write,
    boxes: &BTreeMap<u32, BTreeMap<u32, FaceBox>>,
    info: Option<&VideoInfo>,
) -> io::Result<()> {
    if boxes.is_empty() {
        return writeln!(out, "<p>No face boxes in the result.</p>");
    }
    writeln!(
        out,
        "<details><summary>Face boxes by frame ({} participants)</summary>",
        boxes.len()
    )?;
    for (p, frames) in boxes {
        writeln!(
            out,
            "<table><caption>Participant {p}: {} frames with a box</caption>\n\
             <tr><th scope=\"col\">frame</th><th scope=\"col\">time</th><th scope=\"col\">xmin</th>\
             <th scope=\"col\">ymin</th><th scope=\"col\">xmax</th><th scope=\"col\">ymax</th></tr>",
            frames.len()
        )?;
        for (frame, b) in frames.iter().take(BOX_ROWS) {
            let time = info.map_or_else(
                || "-".to_owned(),
                |v| format!("{:.3} s", f64::from(*frame) / v.frame_rate),
            );
            writeln!(
                out,
                "<tr><td>{frame}</td><td>{time}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                b[0], b[1], b[2], b[3]
            )?;
        }
        writeln!(out, "</table>")?;
        if frames.len() > BOX_ROWS {
            writeln!(out, "<p>… and {} more frames.</p>", frames.len() - BOX_ROWS)?;
        }
    }
    writeln!(out, "</details>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: &str, fake: Option<bool>) -> Media {
        serde_json::from_value(json!({
            "mid": "0123456789abcdef01234567",
            "name": "a.png",
            "type": "Image",
            "status": status,
            "modelType": "AC-1",
            "createdAt": "2026-01-01T00:00:00Z",
            "fake": fake,
            "error": {"code": "U007", "type": "CLIENT_ERROR", "message": "Insufficient credits"},
        }))
        .unwrap()
    }

    fn document(fake: bool, score: f64) -> ResultDocument {
        serde_json::from_value(json!({ "fake": fake, "score": score })).unwrap()
    }

    #[test]
    fn a_processed_image_needs_its_document_and_heatmap_and_its_scratch_file_goes() {
        let mut media = record("PROCESSED", Some(true));
        media.extra.remove("error");
        media.heatmap_url = Some("https://s3.example/heat.png?X-Amz-Signature=abc".into());
        let entry = Entry::from_record(media, None, None);
        let needs = entry.needs();
        assert!(needs.document);
        assert_eq!(needs.artifacts.len(), 1);
        assert_eq!(needs.artifacts[0].kind, ArtifactKind::Heatmap);
        assert!(!format!("{:?}", needs.artifacts[0]).contains("X-Amz"));

        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("r.html");
        let mut report = Report::create(&page).unwrap();
        let heat = report.artifact_path(&needs.artifacts[0]);
        image::RgbImage::new(2, 2)
            .save_with_format(&heat, image::ImageFormat::Png)
            .unwrap();
        let fetched = Fetched {
            document: Err("the service is down".into()),
            files: vec![(ArtifactKind::Heatmap, Ok(heat.clone()))],
        };
        assert_eq!(report.add(&entry, fetched).unwrap(), Verdict::Fake);
        assert!(
            !heat.exists(),
            "the scratch heatmap is removed once written"
        );
        report.finish().unwrap();
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains("the result document could not be read: the service is down"));
        assert!(html.contains("the heatmap alone"));
        assert!(!html.contains("X-Amz"));
        assert!(!with_suffix(&page, ".part").exists());
        assert!(!with_suffix(&page, ".body.part").exists());
    }

    fn job(value: serde_json::Value) -> Job {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_job_entry_shows_its_result_and_needs_its_heatmaps_only() {
        let completed = job(json!({
            "jobId": 7, "taskTypeId": 8, "status": "completed",
            "inputs": [{"slotName": "original", "contentType": "image/png", "fileName": "a.png"},
                       {"slotName": "reference", "contentType": "image/jpeg", "fileName": "ref.jpg"}],
            "result": {"isDeepFake": true, "isLiveness": true, "isSimilar": false,
                       "similarityScore": 0.25, "confidence": 0.9,
                       "identityDetails": {"faces": [{"boundingBox": [1, 1, 2, 2]}]},
                       "segments": [1, 2]},
            "artifacts": [
                {"id": "result", "kind": "result", "downloadUrl": "https://s3.example/r?X-Amz-Signature=a"},
                {"id": "heatmap-0", "kind": "heatmap", "contentType": "image/png",
                 "downloadUrl": "https://s3.example/h?X-Amz-Signature=b"}]
        }));
        let entry = Entry::from_job(completed, None, None, None);
        assert_eq!(
            (
                entry.name.as_str(),
                entry.kind.as_deref(),
                entry.model.as_deref()
            ),
            ("a.png", Some("Image"), Some("face-intelligence (FI-1)"))
        );
        assert_eq!(verdict(&entry, None), Verdict::Fake);
        let needs = entry.needs();
        assert!(!needs.document, "a job's result is in the job");
        assert_eq!(needs.artifacts.len(), 1);
        assert_eq!(needs.artifacts[0].kind, ArtifactKind::JobHeatmap(1));
        assert_eq!(needs.artifacts[0].mid, None);

        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("r.html");
        let mut report = Report::create(&page).unwrap();
        let fetched = Fetched {
            document: Ok(None),
            files: vec![(ArtifactKind::JobHeatmap(1), Err("gone".into()))],
        };
        assert_eq!(report.add(&entry, fetched).unwrap(), Verdict::Fake);
        // Failed and cancelled jobs fail; a completed task that gives no
        // verdict has none (it is final: not counted as "not final").
        let failed = Entry::from_job(
            job(
                json!({"jobId": 8, "taskTypeId": 1, "status": "failed", "errorMessage": "bad file"}),
            ),
            None,
            None,
            None,
        );
        assert_eq!(failed.error.as_deref(), Some("bad file"));
        assert!(failed.needs().is_empty());
        let cancelled = job(json!({"jobId": 9, "taskTypeId": 1, "status": "cancelled"}));
        let cancelled = Entry::from_job(cancelled, None, None, None);
        let embedded = job(json!({"jobId": 10, "taskTypeId": 9, "status": "completed",
            "result": {"embedding": [0.6, -0.8]}}));
        let embedded = Entry::from_job(embedded, Some("e.png".into()), None, None);
        for (entry, expected) in [
            (&failed, Verdict::Failed),
            (&cancelled, Verdict::Failed),
            (&embedded, Verdict::NoVerdict),
        ] {
            assert_eq!(report.add(entry, Fetched::default()).unwrap(), expected);
        }
        report.finish().unwrap();
        let html = std::fs::read_to_string(&page).unwrap();
        for shown in [
            "<dt>Verdict</dt><dd>fake (from isDeepFake)</dd>",
            "<dt>Verdict</dt><dd>none (this task type gives no verdict)</dd>",
            "<li class=\"none\"><strong>1</strong>no verdict</li>",
            "<li class=\"pending\"><strong>0</strong>not final</li>",
            "<dt>Same person as the reference</dt><dd>no</dd>",
            "<dt>Similarity score</dt><dd>0.250</dd>",
            "<dt>Reference</dt><dd>ref.jpg</dd>",
            "<dt>segments</dt><dd>[1,2]</dd>",
            "the heatmap could not be downloaded: gone",
            "the reference image is not at hand",
            "<caption>Faces found (1)</caption>",
            "<strong>Error:</strong> bad file",
            "the job was cancelled",
            "<dt>Embedding</dt><dd>2 numbers (512 expected), norm 1.000",
            "none (this task type gives no verdict)",
        ] {
            assert!(html.contains(shown), "{shown}");
        }
        assert!(!html.contains("X-Amz"));
    }

    #[test]
    fn a_report_dropped_unfinished_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("r.html");
        let report = Report::create(&page).unwrap();
        drop(report);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn verdicts_come_from_the_document_then_the_record() {
        let processed = Entry::from_record(record("PROCESSED", Some(false)), None, None);
        assert_eq!(processed.error, None);
        assert_eq!(
            verdict(&processed, Some(&document(true, 0.9))),
            Verdict::Fake
        );
        assert_eq!(verdict(&processed, None), Verdict::Real);
        assert_eq!(
            document_verdict(&document(true, 0.9)),
            (Some(true), Some(0.9))
        );
        // Processed, and neither the document nor the record says: final,
        // without a verdict (not "not final").
        let unknown = Entry::from_record(record("PROCESSED", None), None, None);
        assert_eq!(verdict(&unknown, None), Verdict::NoVerdict);
        let failed = Entry::from_record(record("FAILED", None), None, None);
        assert_eq!(failed.error.as_deref(), Some("Insufficient credits (U007)"));
        assert_eq!(verdict(&failed, None), Verdict::Failed);
        let uploaded = Entry::from_record(record("UPLOADED", None), None, None);
        assert_eq!(verdict(&uploaded, None), Verdict::Pending);
        let mut broken = Entry::without_record("x/b.jpg".into(), None, None);
        assert_eq!(
            (broken.name.as_str(), verdict(&broken, None)),
            ("b.jpg", Verdict::Pending)
        );
        broken.error = Some("refused".into());
        assert_eq!(verdict(&broken, None), Verdict::Failed);
    }
}
