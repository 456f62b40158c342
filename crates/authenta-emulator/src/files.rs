//! The data directory's files: readable by their owner only (the database
//! holds the S3 signing key; the objects are users' media), and the `.part`
//! files a killed upload leaves behind removed at start.

use std::io;
use std::path::Path;

/// The suffix of an upload's bytes while they arrive.
pub(crate) const PART_SUFFIX: &str = ".part";

/// Creates `dir` (and its parents) if missing; a directory created here is
/// its owner's only (`0700`). An existing one keeps its permissions.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes an existing file its owner's only (`0600`); a missing one is fine.
pub(crate) fn make_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Creates `path` (or opens it if it exists) as its owner's only file, and
/// makes an existing one so: SQLite then creates the `-wal` and `-shm` files
/// beside it with the same permissions.
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    make_private(path)
}

/// Creates a new file for an upload's bytes, its owner's only.
pub(crate) async fn create_part(path: &Path) -> io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}

/// Removes the `.part` files in `dir`: uploads cut off by a kill (a clean
/// stop removes its own). Returns how many were removed.
pub(crate) fn remove_parts(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_part = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(PART_SUFFIX));
        if is_part && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
