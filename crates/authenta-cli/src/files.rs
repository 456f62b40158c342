//! From the paths on the command line to checked jobs: directories
//! expanded, every file validated (type, content, size, model) before any
//! record is created.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use authenta_reqwest::MediaFile;
use authenta_reqwest::client::{CHECK_READ, ReadFile, media_file_read};
use authenta_reqwest::proto::{ValidationError, validate::check_model};
use authenta_reqwest::types::ModelType;
use sha2::{Digest as _, Sha256};

/// One file to process, checked.
pub struct Job {
    /// The path as it will be shown.
    pub path: PathBuf,
    /// What the file is.
    pub file: MediaFile,
    /// The model to run on it.
    pub model: ModelType,
    /// Its digest, when the plan was asked for digests and its check read
    /// it whole (a small file): the ledger does not read it again.
    pub digest: Option<Digested>,
}

/// The size up to which a batch with a ledger reads a file whole when it
/// checks it, and computes its digest from that read ([`Digested`]):
/// larger files are hashed on the ledger's hashing thread, their digests
/// saved.
pub const DIGEST_WHOLE: u64 = 64 << 10;

/// A file's digest computed from its bytes as its check read them whole
/// (files of at most [`DIGEST_WHOLE`] bytes), with its size and
/// modification time then: the ledger does not read the file again unless
/// its metadata changed by its turn (it is looked at, as a file without
/// one is hashed, a group ahead of the claims), and does not save the
/// digest (the next run's check computes it as cheaply as it would read
/// it back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digested {
    /// How many bytes.
    pub size: u64,
    /// Its modification time then, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Their SHA-256, in hex.
    pub sha256: String,
}

impl Digested {
    /// The digest of a file checked whole (`read`), if it was.
    pub fn of(read: &ReadFile) -> Option<Digested> {
        let bytes = read.bytes.as_deref()?;
        Some(Digested {
            size: bytes.len() as u64,
            mtime_ns: nanos(read.modified?),
            sha256: hex(&Sha256::digest(bytes)),
        })
    }
}

/// `time` in nanoseconds since the epoch (0 before it), as the ledger
/// saves a file's modification time.
pub(crate) fn nanos(time: std::time::SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `bytes` in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

/// Why the command line's paths cannot be processed.
pub enum Refusal {
    /// A file that cannot be sent (or a model no file can be sent with).
    File {
        /// Why.
        error: ValidationError,
        /// The path as given (or as found in a directory given).
        path: Option<PathBuf>,
        /// The model asked for, if one was.
        model: Option<ModelType>,
    },
    /// A directory holding no media the API takes.
    NoMedia {
        /// The directory given.
        dir: PathBuf,
        /// Whether its subdirectories were searched.
        recursive: bool,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::File { error, .. } => error.fmt(f),
            Refusal::NoMedia { dir, recursive } => {
                write!(f, "no media in {}: ", dir.display())?;
                match recursive {
                    true => {
                        f.write_str("no file in it or its subdirectories is media the API takes")
                    }
                    false => f.write_str(
                        "no file in it is media the API takes (-r looks in subdirectories)",
                    ),
                }
            }
        }
    }
}

impl Refusal {
    /// A file refused for `error`.
    pub fn file(error: ValidationError, path: &Path, model: Option<&ModelType>) -> Refusal {
        Refusal::File {
            error,
            path: Some(path.to_owned()),
            model: model.cloned(),
        }
    }

    /// The file or directory refused, as given, when the refusal names one.
    pub fn path(&self) -> Option<String> {
        match self {
            Refusal::File { path, .. } => path.as_ref().map(|p| p.display().to_string()),
            Refusal::NoMedia { dir, .. } => Some(dir.display().to_string()),
        }
    }

    /// The model asked for, when one was.
    pub fn model(&self) -> Option<&ModelType> {
        match self {
            Refusal::File { model, .. } => model.as_ref(),
            Refusal::NoMedia { .. } => None,
        }
    }
}

/// Something the command tells about a path without refusing it: a file
/// in a directory that is skipped, a file sent as another type than its
/// extension says, the same bytes at two paths.
pub struct Note {
    /// The path concerned, as given or found.
    pub path: PathBuf,
    /// What kind of note (`--json`'s `note`): `skipped`,
    /// `extensionMismatch`, `sameBytes`.
    pub kind: &'static str,
    /// The line for people.
    pub text: String,
}

impl Note {
    /// Tells it: a line on stderr, or with `json` a JSON line on stdout
    /// (`{"file", "note", "message"}`), so skipped files appear there too.
    pub fn tell(&self, json: bool) {
        if json {
            crate::output::json_line(&serde_json::json!({
                "file": self.path.display().to_string(),
                "note": self.kind,
                "message": self.text,
            }));
        } else {
            eprintln!("authenta: {}", self.text);
        }
    }
}

/// What checking the command line's paths found.
#[derive(Default)]
pub struct Plan {
    /// The files to process, in order.
    pub jobs: Vec<Job>,
    /// One line each about what was left out or taken otherwise than asked:
    /// files in directories that are not media, a directory link that loops,
    /// a file whose bytes are not what its extension says.
    pub notes: Vec<Note>,
    /// Why files cannot be processed; nothing is sent when there is one.
    pub errors: Vec<Refusal>,
}

/// Checks every path: a file named explicitly must be media the API and
/// the model take; a directory stands for the media files in it (sorted,
/// and in its subdirectories with `recursive`, following links but
/// walking each real directory once), other files in it being skipped with
/// a note. `model` is the model asked for, or `None` for the documented
/// model of each file's kind. With `digest` (a ledger keys the files by
/// their digests), the small files' digests are computed as they are
/// checked ([`check`]).
pub fn plan(paths: &[PathBuf], model: Option<&ModelType>, recursive: bool, digest: bool) -> Plan {
    let mut plan = Plan::default();
    // A model the API does not list: one error, not one per file.
    if let Some(Err(error)) = model.map(check_model) {
        plan.errors.push(Refusal::File {
            error,
            path: None,
            model: model.cloned(),
        });
        return plan;
    }
    for path in paths {
        if path.is_dir() {
            let before = plan.jobs.len() + plan.errors.len();
            for file in walk(path, recursive, &mut plan) {
                match check(&file, model, digest) {
                    Ok(job) => plan.add(job),
                    Err(e) => match not_media(&e) {
                        Some(what) => plan.notes.push(Note {
                            text: format!(
                                "skipping {}: not media the API takes ({what})",
                                file.display()
                            ),
                            path: file,
                            kind: "skipped",
                        }),
                        None => plan.errors.push(Refusal::file(e, &file, model)),
                    },
                }
            }
            if plan.jobs.len() + plan.errors.len() == before {
                plan.errors.push(Refusal::NoMedia {
                    dir: path.clone(),
                    recursive,
                });
            }
        } else {
            match check(path, model, digest) {
                Ok(job) => plan.add(job),
                Err(e) => plan.errors.push(Refusal::file(e, path, model)),
            }
        }
    }
    plan
}

impl Plan {
    fn add(&mut self, job: Job) {
        self.notes.extend(mismatch_note(&job));
        self.jobs.push(job);
    }
}

/// The note for a file whose bytes are not what its extension says (a PNG
/// named `.mp4`): the bytes win, and the user is told once.
pub fn mismatch_note(job: &Job) -> Option<Note> {
    job.file.extension_mismatch().map(|by_extension| Note {
        path: job.path.clone(),
        kind: "extensionMismatch",
        text: format!(
            "{}: its bytes are {}, not {by_extension} as its extension says; sending it as {}",
            job.path.display(),
            job.file.content_type,
            job.file.content_type
        ),
    })
}

/// Reads and checks the file at `path` (a media file of a type the API
/// takes, complete); with `digest` (a ledger keys files by their
/// digests), a file of at most [`DIGEST_WHOLE`] bytes is read whole and
/// its bytes kept for [`Digested::of`], else none are.
pub fn read_for_check(path: &Path, digest: bool) -> Result<ReadFile, ValidationError> {
    let mut read = media_file_read(path, None, if digest { DIGEST_WHOLE } else { CHECK_READ })?;
    if !digest {
        read.bytes = None;
    }
    Ok(read)
}

/// Checks one file: readable, its bytes a complete media file of a type
/// the API takes, not empty, at most 5 GiB, and a model that takes it.
/// With `digest`, a file of at most [`DIGEST_WHOLE`] bytes is read whole
/// and its digest computed from that read ([`read_for_check`]).
pub fn check(path: &Path, model: Option<&ModelType>, digest: bool) -> Result<Job, ValidationError> {
    let read = read_for_check(path, digest)?;
    let model = match model {
        Some(model) => model.clone(),
        None => read.file.default_model()?,
    };
    read.file.create_request(model.clone())?;
    // Only for a file that passed.
    let digest = Digested::of(&read);
    Ok(Job {
        path: path.to_owned(),
        file: read.file,
        model,
        digest,
    })
}

/// For a file found in a directory that is simply not media (skipped, as
/// opposed to media that cannot be sent: an error), what it is.
fn not_media(e: &ValidationError) -> Option<&str> {
    match e {
        ValidationError::UnknownContentType { .. } => Some("unknown type"),
        ValidationError::UnsupportedContentType { content_type, .. } => Some(content_type),
        _ => None,
    }
}

/// The files in `dir`, sorted by name; with `recursive`, those in its
/// subdirectories too, each directory's files at its name's place. Links
/// are followed; a link back to a directory being walked (a loop) and a
/// second way into a directory already walked are notes, and each real
/// directory and file is listed once. What cannot be read is an error.
fn walk(dir: &Path, recursive: bool, plan: &mut Plan) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut entries = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .min_depth(1)
        .max_depth(if recursive { usize::MAX } else { 1 })
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_owned();
                match e.loop_ancestor() {
                    Some(ancestor) => plan.notes.push(Note {
                        text: format!(
                            "skipping {}: it links back to {} (a loop)",
                            path.display(),
                            ancestor.display()
                        ),
                        path,
                        kind: "skipped",
                    }),
                    None => {
                        let error = ValidationError::Unreadable {
                            path: path.display().to_string(),
                            reason: e
                                .io_error()
                                .map_or_else(|| e.to_string(), ToString::to_string),
                        };
                        plan.errors.push(Refusal::file(error, &path, None));
                    }
                }
                continue;
            }
        };
        let real = std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path().to_owned());
        let is_dir = entry.file_type().is_dir();
        if !seen.insert(real.clone()) {
            if is_dir {
                plan.notes.push(Note {
                    text: format!(
                        "skipping {}: {} is already walked",
                        entry.path().display(),
                        real.display()
                    ),
                    path: entry.path().to_owned(),
                    kind: "skipped",
                });
                entries.skip_current_dir();
            }
            continue;
        }
        if !is_dir {
            files.push(entry.into_path());
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../../samples/test-pattern.png");
    const MP4: &[u8] = include_bytes!("../../../samples/test-pattern.mp4");

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.png"), PNG).unwrap();
        std::fs::write(dir.path().join("a.mp4"), MP4).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c.png"), PNG).unwrap();
        dir
    }

    fn names(plan: &Plan) -> Vec<String> {
        let names = plan
            .jobs
            .iter()
            .map(|j| format!("{} {}", j.file.name, j.model));
        names.collect()
    }

    #[test]
    fn a_directory_is_its_media_sorted_each_with_its_default_model() {
        let dir = tree();
        let plan = plan(&[dir.path().to_owned()], None, false, false);
        assert_eq!(names(&plan), ["a.mp4 DF-1", "b.png AC-1"]);
        assert_eq!(plan.notes.len(), 1);
        assert!(
            plan.notes[0]
                .text
                .ends_with("notes.txt: not media the API takes (unknown type)"),
            "{}",
            plan.notes[0].text
        );
        assert!(plan.errors.is_empty());
        let recursive = super::plan(&[dir.path().to_owned()], None, true, false);
        assert_eq!(
            names(&recursive),
            ["a.mp4 DF-1", "b.png AC-1", "c.png AC-1"]
        );
    }

    #[test]
    fn a_named_file_that_is_not_media_or_not_for_the_model_is_an_error() {
        let dir = tree();
        let txt = dir.path().join("notes.txt");
        let plan = plan(&[txt], None, false, false);
        assert!(plan.jobs.is_empty());
        assert!(matches!(
            plan.errors[..],
            [Refusal::File {
                error: ValidationError::UnknownContentType { .. },
                ..
            }]
        ));
        let plan = super::plan(
            &[dir.path().to_owned()],
            Some(&ModelType::Df1),
            false,
            false,
        );
        assert_eq!(names(&plan), ["a.mp4 DF-1"]);
        assert!(matches!(
            plan.errors[..],
            [Refusal::File {
                error: ValidationError::ModelMismatch { .. },
                ..
            }]
        ));
        let plan = super::plan(&[dir.path().join("missing.png")], None, false, false);
        assert!(matches!(
            plan.errors[..],
            [Refusal::File {
                error: ValidationError::Unreadable { .. },
                ..
            }]
        ));
    }

    #[test]
    fn a_directory_without_media_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        let plan = plan(&[dir.path().to_owned()], None, false, false);
        assert_eq!(plan.errors.len(), 1);
        let text = plan.errors[0].to_string();
        assert!(text.starts_with("no media in "), "{text}");
        assert!(text.contains("-r looks in subdirectories"), "{text}");
        let empty = tempfile::tempdir().unwrap();
        let plan = super::plan(&[empty.path().to_owned()], None, true, false);
        assert!(matches!(
            plan.errors[..],
            [Refusal::NoMedia {
                recursive: true,
                ..
            }]
        ));
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_each_real_directory_walked_once() {
        let dir = tree();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/up")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("again")).unwrap();
        let plan = plan(&[dir.path().to_owned()], None, true, false);
        assert_eq!(names(&plan), ["a.mp4 DF-1", "c.png AC-1", "b.png AC-1"]);
        let loops: Vec<_> = plan
            .notes
            .iter()
            .filter(|n| n.text.contains("loop"))
            .collect();
        assert_eq!(loops.len(), 1);
        assert!(plan.errors.is_empty());
    }

    /// With digests asked for, a small file's comes from its check (the
    /// SHA-256 of its bytes, its size and mtime); none without, or for a
    /// file larger than `DIGEST_WHOLE`, whose digest the ledger computes.
    #[test]
    fn a_small_file_s_digest_comes_from_its_check() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.png");
        std::fs::write(&small, PNG).unwrap();
        let job = check(&small, None, true).unwrap();
        let digest = job.digest.unwrap();
        assert_eq!(digest.sha256, hex(&Sha256::digest(PNG)));
        assert_eq!(digest.size, PNG.len() as u64);
        let mtime = std::fs::metadata(&small).unwrap().modified().unwrap();
        assert_eq!(digest.mtime_ns, nanos(mtime));
        assert!(check(&small, None, false).unwrap().digest.is_none());
        // A PNG padded past DIGEST_WHOLE after its end is still a PNG.
        let large = dir.path().join("large.png");
        let mut bytes = PNG.to_vec();
        bytes.resize(DIGEST_WHOLE as usize + 1, 0);
        std::fs::write(&large, &bytes).unwrap();
        match check(&large, None, true) {
            Ok(job) => assert!(job.digest.is_none()),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_file_whose_bytes_are_not_its_extension_gets_one_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        std::fs::write(&path, PNG).unwrap();
        let plan = plan(&[path], None, false, false);
        assert_eq!(names(&plan), ["clip.mp4 AC-1"]);
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].text.ends_with("clip.mp4: its bytes are image/png, not video/mp4 as its extension says; sending it as image/png"), "{}", plan.notes[0].text);
    }
}
