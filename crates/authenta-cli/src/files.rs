//! From the paths on the command line to checked jobs: directories
//! expanded, every file validated (type, size, model) before any record is
//! created.

use std::path::{Path, PathBuf};

use authenta_reqwest::MediaFile;
use authenta_reqwest::proto::ValidationError;
use authenta_reqwest::types::ModelType;

/// One file to process, checked.
pub struct Job {
    /// The path as it will be shown.
    pub path: PathBuf,
    /// What the file is.
    pub file: MediaFile,
    /// The model to run on it.
    pub model: ModelType,
}

/// What checking the command line's paths found.
#[derive(Default)]
pub struct Plan {
    /// The files to process, in order.
    pub jobs: Vec<Job>,
    /// Files in directories that are not media the API takes, skipped:
    /// one note each.
    pub skipped: Vec<String>,
    /// Why files cannot be processed; nothing is sent when there is one.
    pub errors: Vec<ValidationError>,
}

/// Checks every path: a file named explicitly must be media the API and
/// the model take; a directory stands for the media files in it (sorted,
/// and in its subdirectories with `recursive`), other files in it being
/// skipped with a note. `model` is the model asked for, or `None` for the
/// documented model of each file's kind.
pub fn plan(paths: &[PathBuf], model: Option<&ModelType>, recursive: bool) -> Plan {
    let mut plan = Plan::default();
    for path in paths {
        if path.is_dir() {
            let before = plan.jobs.len() + plan.errors.len();
            let mut files = Vec::new();
            if let Err(e) = list_dir(path, recursive, &mut files) {
                plan.errors.push(unreadable(path, e));
                continue;
            }
            for file in files {
                match check(&file, model) {
                    Ok(job) => plan.jobs.push(job),
                    Err(e) => match not_media(&e) {
                        Some(what) => plan.skipped.push(format!(
                            "skipping {}: not media the API takes ({what})",
                            file.display()
                        )),
                        None => plan.errors.push(e),
                    },
                }
            }
            if plan.jobs.len() + plan.errors.len() == before {
                plan.errors.push(unreadable(
                    path,
                    std::io::Error::other(if recursive {
                        "no media file the API takes in it"
                    } else {
                        "no media file the API takes in it (-r looks in subdirectories)"
                    }),
                ));
            }
        } else {
            match check(path, model) {
                Ok(job) => plan.jobs.push(job),
                Err(e) => plan.errors.push(e),
            }
        }
    }
    plan
}

/// Checks one file: readable, not empty, at most 5 GiB, a type the API
/// takes, and a model that takes it.
pub fn check(path: &Path, model: Option<&ModelType>) -> Result<Job, ValidationError> {
    let file = MediaFile::from_path(path, None)?;
    let model = match model {
        Some(model) => model.clone(),
        None => file.default_model()?,
    };
    file.create_request(model.clone())?;
    Ok(Job {
        path: path.to_owned(),
        file,
        model,
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

fn unreadable(path: &Path, e: std::io::Error) -> ValidationError {
    ValidationError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// The files in `dir`, sorted by name; with `recursive`, those in its
/// subdirectories too, each directory's files after its name's place.
fn list_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if recursive {
                list_dir(&path, recursive, out)?;
            }
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";

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
        let plan = plan(&[dir.path().to_owned()], None, false);
        assert_eq!(names(&plan), ["a.mp4 DF-1", "b.png AC-1"]);
        assert_eq!(plan.skipped.len(), 1);
        assert!(plan.skipped[0].ends_with("notes.txt: not media the API takes (text/plain)"));
        assert!(plan.errors.is_empty());
        let recursive = super::plan(&[dir.path().to_owned()], None, true);
        assert_eq!(
            names(&recursive),
            ["a.mp4 DF-1", "b.png AC-1", "c.png AC-1"]
        );
    }

    #[test]
    fn a_named_file_that_is_not_media_or_not_for_the_model_is_an_error() {
        let dir = tree();
        let txt = dir.path().join("notes.txt");
        let plan = plan(&[txt], None, false);
        assert!(plan.jobs.is_empty());
        assert!(matches!(
            plan.errors[..],
            [ValidationError::UnsupportedContentType { .. }]
        ));
        let plan = super::plan(&[dir.path().to_owned()], Some(&ModelType::Df1), false);
        assert_eq!(names(&plan), ["a.mp4 DF-1"]);
        assert!(matches!(
            plan.errors[..],
            [ValidationError::ModelMismatch { .. }]
        ));
        let plan = super::plan(&[dir.path().join("missing.png")], None, false);
        assert!(matches!(
            plan.errors[..],
            [ValidationError::Unreadable { .. }]
        ));
    }

    #[test]
    fn a_directory_without_media_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        let plan = plan(&[dir.path().to_owned()], None, false);
        assert_eq!(plan.errors.len(), 1);
        assert!(
            plan.errors[0]
                .to_string()
                .contains("-r looks in subdirectories")
        );
    }
}
