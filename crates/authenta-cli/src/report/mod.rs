//! Seeing the verdicts: a self-contained HTML report of a list of entries
//! (`process --report`, `authenta report`), and a heatmap blended over its
//! image (`result --overlay`).
//!
//! The report's input is a plain list of [`Entry`] values: what `process`
//! knows at the end of a batch, or what `authenta report` reads from the
//! records. The page is written one entry at a time, each entry's assets
//! (the file, its heatmaps, a poster) streamed into it as `data:` URIs (or
//! copied beside it when large) while that entry is written, so a report of
//! many files never holds all their bytes. Artifacts are downloaded with
//! the backend's `download_heatmap`, streamed to a scratch file. The page
//! holds no pre-signed URL, no credential and no address to load.
//!
//! What counts as done and what is retried stays the SDK's; this module
//! only presents.

pub mod html;
pub mod overlay;
pub mod video;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use authenta_reqwest::Client;
use authenta_reqwest::types::{Media, MediaId, MediaStatus, ResultDocument};
use futures_util::TryStreamExt as _;
use serde_json::{Value, json};

use self::html::{Assets, escape, without_urls};
use self::video::{FaceBox, VideoInfo};
use crate::cli::{Global, ReportArgs};
use crate::exit;
use crate::files;
use crate::session::{CliError, Session, describe};

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
        _ => crate::output::compact(value),
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
    /// No verdict yet (not final, not started, or none given).
    Pending,
}

impl Verdict {
    /// The word for `data-verdict` and the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Real => "real",
            Verdict::Fake => "fake",
            Verdict::Failed => "failed",
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
/// until its record is `PROCESSED` with a verdict, else the result
/// document's `fake` (the record's when there is no document).
pub fn verdict(entry: &Entry, document: Option<&ResultDocument>) -> Verdict {
    if entry.error.is_some() {
        return Verdict::Failed;
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
        None => Verdict::Pending,
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
    /// Not final (or not started).
    pub pending: usize,
}

impl Summary {
    fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Real => self.real += 1,
            Verdict::Fake => self.fake += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::Pending => self.pending += 1,
        }
    }

    /// Every entry.
    pub fn total(&self) -> usize {
        self.real + self.fake + self.failed + self.pending
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
        let dir = std::env::temp_dir().join(format!("authenta-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The report file being made: created before any work, so an unusable
/// path is found at once; written and put in place by [`Report::write`].
pub struct Report {
    path: PathBuf,
    part: PathBuf,
}

impl Report {
    /// Checks that the report can be written at `path` (by creating its
    /// `.part` file).
    pub fn create(path: &Path) -> io::Result<Report> {
        let part = with_suffix(path, ".part");
        File::create(&part)?;
        Ok(Report {
            path: path.to_owned(),
            part,
        })
    }

    /// Writes the report of `entries`, reading each processed record's
    /// result document and heatmaps with `client`, and puts it in place.
    pub async fn write(self, client: &Client, entries: &[Entry]) -> io::Result<Summary> {
        // On failure, dropping `self` removes the `.part` file.
        let written = self.write_parts(client, entries).await;
        let _ = std::fs::remove_file(with_suffix(&self.path, ".body.part"));
        written
    }

    async fn write_parts(&self, client: &Client, entries: &[Entry]) -> io::Result<Summary> {
        let scratch = Scratch::new()?;
        let mut assets = Assets::for_page(&self.path);
        let body_path = with_suffix(&self.path, ".body.part");
        let mut writer = EntryWriter {
            out: BufWriter::new(File::create(&body_path)?),
            client,
            scratch: &scratch,
            assets: &mut assets,
        };
        let mut summary = Summary::default();
        let mut index = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let verdict = writer.entry(i, entry).await?;
            summary.add(verdict);
            index.push((entry.name.clone(), verdict));
        }
        writer.out.flush()?;
        drop(writer);

        let mut page = BufWriter::new(File::create(&self.part)?);
        html::write_head(&mut page, "Authenta report")?;
        write_summary(&mut page, &summary, &index)?;
        writeln!(page, "<section id=\"entries\" aria-label=\"Files\">")?;
        io::copy(&mut File::open(&body_path)?, &mut page)?;
        writeln!(page, "</section>")?;
        html::write_tail(&mut page)?;
        page.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&self.part, &self.path)?;
        Ok(summary)
    }
}

impl Drop for Report {
    /// A report not written (the command failed first) leaves no `.part`
    /// file behind.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.part);
    }
}

/// The summary counts and a list of links to the entries.
fn write_summary(
    page: &mut impl io::Write,
    summary: &Summary,
    index: &[(String, Verdict)],
) -> io::Result<()> {
    let generated = authenta_reqwest::types::Timestamp::now()
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
        ("pending", "not final", summary.pending),
    ] {
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
        Verdict::Real => 3,
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
    out: BufWriter<File>,
    client: &'a Client,
    scratch: &'a Scratch,
    assets: &'a mut Assets,
}

impl EntryWriter<'_> {
    /// Writes one entry: its facts, then its pictures. Returns its verdict.
    async fn entry(&mut self, i: usize, entry: &Entry) -> io::Result<Verdict> {
        let client = self.client;
        let mut notes = Vec::new();
        let processed = entry
            .media
            .as_ref()
            .filter(|m| m.status == MediaStatus::Processed && entry.error.is_none());
        let document = match processed {
            Some(media) => match client.result(media).await {
                Ok(document) => document,
                Err(e) => {
                    notes.push(format!(
                        "the result document could not be read: {}",
                        describe(&e)
                    ));
                    None
                }
            },
            None => None,
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
                    .map_or_else(dash, crate::output::figures),
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
        writeln!(self.out, "</dl>")?;
        if let Some(error) = &entry.error {
            writeln!(
                self.out,
                "<p class=\"error\"><strong>Error:</strong> {}</p>",
                escape(&without_urls(error))
            )?;
        }

        if let Some(media) = processed {
            let kind = entry.kind.as_deref().unwrap_or("").to_ascii_lowercase();
            if kind == "video" || media.participants.is_some() {
                self.video(i, entry, media, document.as_ref(), &mut notes)
                    .await?;
            } else if media.heatmap_url.is_some() || kind == "image" {
                self.image(i, entry, media, &mut notes).await?;
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

    /// An image: the picture with its heatmap over it (an opacity control),
    /// and the heatmap alone.
    async fn image(
        &mut self,
        i: usize,
        entry: &Entry,
        media: &Media,
        notes: &mut Vec<String>,
    ) -> io::Result<()> {
        let (client, scratch) = (self.client, self.scratch);
        let (out, assets) = (&mut self.out, &mut *self.assets);
        let heatmap = match &media.heatmap_url {
            Some(url) => match download(client, scratch, media, url, &format!("heatmap-{i}")).await
            {
                Ok(path) => html::image_mime(&path).map(|mime| (path, mime)),
                Err(e) => {
                    notes.push(format!("the heatmap could not be downloaded: {e}"));
                    None
                }
            },
            None => {
                notes.push("the record has no heatmap".into());
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

    /// A video: the file playing with each participant's boxes drawn in sync
    /// (or a poster when it cannot play), the boxes by frame as a table, and
    /// each participant's heatmap.
    async fn video(
        &mut self,
        i: usize,
        entry: &Entry,
        media: &Media,
        document: Option<&ResultDocument>,
        notes: &mut Vec<String>,
    ) -> io::Result<()> {
        let (client, scratch) = (self.client, self.scratch);
        let (out, assets) = (&mut self.out, &mut *self.assets);
        let boxes: BTreeMap<u32, BTreeMap<u32, FaceBox>> = document
            .and_then(|d| d.bounding_boxes.as_ref())
            .map(|all| {
                all.iter()
                    .map(|(p, b)| (*p, b.bounding_box.clone()))
                    .collect()
            })
            .unwrap_or_default();
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
            let poster = match video::poster(file, info, &boxes) {
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
                json!({
                    "participant": p,
                    "colour": format!("#{r:02x}{g:02x}{b:02x}"),
                    "spans": video::spans(frames)
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
                "</div><figcaption>{} × {}, {:.3} fps, {} frames; face boxes follow playback.</figcaption></figure>",
                info.width, info.height, info.frame_rate, info.frames
            )?;
        }
        let participants = media.participants.as_deref().unwrap_or_default();
        for (p, participant) in participants.iter().enumerate() {
            let Some(url) = &participant.heatmap else {
                continue;
            };
            let path =
                match download(client, scratch, media, url, &format!("heatmap-{i}-{p}")).await {
                    Ok(path) => path,
                    Err(e) => {
                        notes.push(format!(
                            "participant {p}'s heatmap could not be downloaded: {e}"
                        ));
                        continue;
                    }
                };
            let alt = format!("{name}: the heatmap of participant {p}");
            if let Some(mime) = html::image_mime(&path) {
                write!(out, "<figure><img class=\"alone\" src=\"")?;
                assets.write_src(out, &path, mime)?;
                writeln!(
                    out,
                    "\" alt=\"{alt}\"><figcaption>Participant {p}'s heatmap.</figcaption></figure>"
                )?;
            } else if let Some(mime) = html::video_mime(&path) {
                write!(
                    out,
                    "<figure><video class=\"alone\" controls muted aria-label=\"{alt}\" src=\""
                )?;
                assets.write_src(out, &path, mime)?;
                writeln!(
                    out,
                    "\"></video><figcaption>Participant {p}'s heatmap.</figcaption></figure>"
                )?;
            } else {
                notes.push(format!(
                    "participant {p}'s heatmap is in a format browsers do not show"
                ));
            }
            let _ = std::fs::remove_file(&path);
        }
        writeln!(out, "</div>")?;
        write_box_tables(out, &boxes, info.as_ref())
    }
}

/// Downloads `url` (a record's heatmap, or a participant's) into the
/// scratch file `name`, streamed by the client's `download`.
async fn download(
    client: &Client,
    scratch: &Scratch,
    media: &Media,
    url: &str,
    name: &str,
) -> Result<PathBuf, String> {
    let path = scratch.path(name);
    match client.download(url, Some(&media.mid), &path).await {
        Ok(_) => Ok(path),
        Err(e) => Err(describe(&e)),
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
        let plan = files::plan(&[path.to_owned()], None, false);
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
    match report.write(client, &entries).await {
        Ok(summary) => {
            wrote(&args.output, &summary);
            Ok(exit::SUCCESS)
        }
        Err(e) => Err(cannot_write(&args.output, &e)),
    }
}

/// Says on stderr that the report is written, and what it holds.
pub fn wrote(path: &Path, summary: &Summary) {
    eprintln!(
        "authenta: wrote the report {} ({} files: {} real, {} fake, {} failed, {} not final)",
        path.display(),
        summary.total(),
        summary.real,
        summary.fake,
        summary.failed,
        summary.pending
    );
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
    let scratch = match Scratch::new() {
        Ok(scratch) => scratch,
        Err(e) => return failed(&e.to_string()),
    };
    let heatmap = match heatmap {
        Some(path) => path.to_owned(),
        None => {
            let path = scratch.path("heatmap");
            if client.download_heatmap(media, &path).await?.is_none() {
                return Err(CliError::Unfinished(format!(
                    "media {} has no heatmap image to blend (a video's heatmaps are per participant)",
                    media.mid
                )));
            }
            path
        }
    };
    match overlay::write_overlay(original, &heatmap, out, opacity) {
        Ok(()) => Ok(exit::SUCCESS),
        Err(e) => failed(&e),
    }
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
        let unknown = Entry::from_record(record("PROCESSED", None), None, None);
        assert_eq!(verdict(&unknown, None), Verdict::Pending);
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
