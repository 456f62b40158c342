//! Which files the MCP tools may read, and reading them safely: a path is
//! resolved (links and `..` followed) and must stay inside a folder named
//! with `--allow`; the file is opened once, and that opened file is the
//! one checked, hashed and uploaded. A file replaced or changed after it
//! was checked is refused before the request that would send it.

use std::fs::File;
use std::io::{self, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use authenta_reqwest::MediaFile;
use authenta_reqwest::types::ModelType;

/// The folders the tools may read, resolved when the server starts.
pub struct Allowed {
    dirs: Vec<PathBuf>,
}

impl Allowed {
    /// The folders named with `--allow`, each resolved; an error names a
    /// folder that does not exist or is not a folder.
    pub fn new(dirs: &[PathBuf]) -> Result<Allowed, String> {
        let mut resolved = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let real = std::fs::canonicalize(dir)
                .map_err(|e| format!("cannot allow {}: {e}", dir.display()))?;
            if !real.is_dir() {
                return Err(format!("cannot allow {}: not a folder", dir.display()));
            }
            resolved.push(real);
        }
        Ok(Allowed { dirs: resolved })
    }

    /// The allowed folders, resolved.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Opens `given` (absolute, or relative to the server's working
    /// directory) when it resolves to a regular file inside an allowed
    /// folder.
    pub fn open(&self, given: &str) -> Result<Opened, String> {
        if self.dirs.is_empty() {
            return Err(format!(
                "{given}: no folder is allowed, so no file can be read; start the server \
                 with `authenta mcp --allow DIR` (repeatable) to let the tools read the files \
                 under DIR"
            ));
        }
        if given.is_empty() {
            return Err("an empty path: give a file's path".into());
        }
        let path = Path::new(given);
        let real = std::fs::canonicalize(path).map_err(|e| format!("cannot read {given}: {e}"))?;
        if !self.dirs.iter().any(|dir| real.starts_with(dir)) {
            let how = match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => "it is a link to",
                _ => "it resolves to",
            };
            return Err(format!(
                "{given} is refused: {how} {}, outside the allowed folders ({}); links and \
                 `..` may not lead out of an allowed folder (the user can allow another \
                 folder with --allow)",
                real.display(),
                self.list()
            ));
        }
        let file = File::open(&real).map_err(|e| format!("cannot read {given}: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot read {given}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{given} is not a regular file"));
        }
        let opened = Opened {
            given: given.to_owned(),
            real,
            stamp: Stamp::of(&meta),
            file: Arc::new(file),
        };
        // The file opened must be the one the checked path names now (not
        // one swapped in between the resolution and the open).
        opened
            .verify()
            .map_err(|_| format!("{given} changed while it was opened; try again"))?;
        #[cfg(target_os = "linux")]
        if let Ok(at) = std::fs::read_link(opened.handle_path())
            && !self.dirs.iter().any(|dir| at.starts_with(dir))
        {
            return Err(format!(
                "{given} is refused: the file opened is {}, outside the allowed folders",
                at.display()
            ));
        }
        Ok(opened)
    }

    fn list(&self) -> String {
        let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        dirs.join(", ")
    }
}

/// What identifies a file's bytes cheaply: device, inode, size and
/// modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt as _;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Stamp {
            dev,
            ino,
            size: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// A file opened inside an allowed folder.
#[derive(Clone)]
pub struct Opened {
    /// The path as the caller gave it.
    pub given: String,
    /// The resolved path.
    pub real: PathBuf,
    stamp: Stamp,
    file: Arc<File>,
}

impl Opened {
    /// Its size when it was opened.
    pub fn size(&self) -> u64 {
        self.stamp.size
    }

    /// Its file name (the record's name).
    pub fn name(&self) -> String {
        self.real.file_name().map_or_else(
            || self.given.clone(),
            |name| name.to_string_lossy().into_owned(),
        )
    }

    /// Where the upload reads it from: on Linux the opened file itself
    /// (`/proc/self/fd/N`, which reopens that file even if the path now
    /// names another), elsewhere the resolved path (checked by
    /// [`verify`](Opened::verify) before each request).
    pub fn upload_path(&self) -> PathBuf {
        #[cfg(target_os = "linux")]
        if Path::new("/proc/self/fd").is_dir() {
            return self.handle_path();
        }
        self.real.clone()
    }

    #[cfg(target_os = "linux")]
    fn handle_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    /// Fails when the file changed since it was opened (its size or
    /// modification time), or its path names another file now (replaced,
    /// or turned into a link).
    pub fn verify(&self) -> io::Result<()> {
        let changed = |what: &str| {
            io::Error::other(format!(
                "{} was {what} after it was checked: nothing more is sent for it; check it again",
                self.given
            ))
        };
        let now = Stamp::of(&self.file.metadata()?);
        if now != self.stamp {
            return Err(changed("changed"));
        }
        match std::fs::symlink_metadata(&self.real) {
            Ok(meta) if meta.is_file() && Stamp::of(&meta) == self.stamp => Ok(()),
            _ => Err(changed("replaced")),
        }
    }

    /// Checks what the opened file holds (a whole media file the API and
    /// `model`, or the default model of its kind, take) and hashes its
    /// bytes: what the ledger knows it by.
    pub fn inspect(
        &self,
        model: Option<&ModelType>,
    ) -> Result<(MediaFile, ModelType, String), String> {
        let mut file = &*self.file;
        file.seek(io::SeekFrom::Start(0))
            .map_err(|e| format!("cannot read {}: {e}", self.given))?;
        let media = MediaFile::from_reader(self.name(), file, None).map_err(|e| e.to_string())?;
        let model = match model {
            Some(model) => model.clone(),
            None => media.default_model().map_err(|e| e.to_string())?,
        };
        media
            .create_request(model.clone())
            .map_err(|e| e.to_string())?;
        let sha256 = digest(file).map_err(|e| format!("cannot read {}: {e}", self.given))?;
        Ok((media, model, sha256))
    }
}

/// The SHA-256 of a file's bytes, in hex, read from its start.
fn digest(mut file: &File) -> io::Result<String> {
    file.seek(io::SeekFrom::Start(0))?;
    crate::ledger::sha256_hex(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../../../samples/test-pattern.png");

    #[test]
    fn nothing_is_allowed_without_a_folder() {
        let err = Allowed::new(&[])
            .unwrap()
            .open("/etc/hostname")
            .err()
            .unwrap();
        assert!(err.contains("--allow DIR"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_dots_may_not_leave_an_allowed_folder() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("inside");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("a.png"), PNG).unwrap();
        std::fs::write(root.path().join("secret.png"), PNG).unwrap();
        std::os::unix::fs::symlink(root.path().join("secret.png"), inside.join("out.png")).unwrap();
        std::os::unix::fs::symlink(inside.join("a.png"), inside.join("in.png")).unwrap();
        let allowed = Allowed::new(std::slice::from_ref(&inside)).unwrap();
        let path = |name: &str| inside.join(name).display().to_string();
        let opened = allowed.open(&path("a.png")).unwrap();
        assert_eq!(opened.size(), PNG.len() as u64);
        assert!(opened.verify().is_ok());
        let (media, model, sha) = opened.inspect(None).unwrap();
        assert_eq!((media.name.as_str(), model), ("a.png", ModelType::Ac1));
        assert_eq!(sha.len(), 64);
        // A link that stays inside is the file it names.
        assert_eq!(allowed.open(&path("in.png")).unwrap().name(), "a.png");
        let err = allowed.open(&path("out.png")).err().unwrap();
        assert!(err.contains("is a link to"), "{err}");
        let err = allowed.open(&path("../secret.png")).err().unwrap();
        assert!(err.contains("outside the allowed folders"), "{err}");
        // Replaced after the check: refused before anything is sent.
        std::fs::remove_file(inside.join("a.png")).unwrap();
        std::fs::write(inside.join("a.png"), PNG).unwrap();
        let err = opened.verify().err().unwrap();
        assert!(err.to_string().contains("replaced"), "{err}");
    }
}
