//! The journal of a SQLite ledger's `Created` states.
//!
//! An upload's `Created` state (its record and where its bytes go) must
//! outlive a killed process before the bytes are sent: a rerun that did not
//! know the record would create it again, and pay for it twice, once the
//! record has its bytes. A SQLite transaction for it cost a quarter of the
//! ledger's CPU a file (BENCHMARKS.md, "the `Created` states in a journal").
//! So each process appends its uploads' `Created` states, one line of JSON
//! each, to a journal file of its own beside the ledger
//! (`ledger.sqlite-journal-PID-…`): a `write` to the OS's cache, as durable
//! across a killed process as a SQLite commit is with `synchronous =
//! NORMAL`. The ledger writes the states to its tables later, with the
//! queued writes (most with the `Uploaded` state of the same entry, in one
//! statement), and empties the journal once they are written; the process
//! deletes it when it ends with everything written.
//!
//! The process holds a lock on its journal (`flock`) while it lives. What a
//! process that was killed left in its journal is folded into the tables by
//! the next process that opens the ledger ([`fold_left`]), and a claim that
//! meets an entry whose create was sent but whose `Created` state is not in
//! the tables looks for it in every journal ([`find`]): the record is then
//! resumed, not created twice.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::{CreatedState, EntryKey, KeyColumns, db};

/// What each journal's name starts with, after the ledger's file name.
const MARK: &str = "-journal-";

/// A line of a journal: an entry's key columns and its `Created` state.
#[derive(Serialize, Deserialize)]
struct Line {
    key: KeyColumns,
    #[serde(flatten)]
    state: CreatedState,
}

/// This process's journal of a ledger: created at its first `Created`
/// state, locked while the process holds it.
pub(crate) struct Journal {
    /// The ledger's path (`None`: a ledger in memory keeps no journal).
    ledger: Option<PathBuf>,
    /// Where it is.
    path: Option<PathBuf>,
    file: Option<File>,
    /// Bytes appended since it was last emptied.
    len: u64,
}

impl Journal {
    /// The journal this process would keep beside the ledger at `ledger`
    /// (none for a ledger in memory); nothing is created yet.
    pub(crate) fn beside(ledger: &Path) -> Journal {
        static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = (ledger != Path::new(":memory:")).then(|| {
            let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut name = ledger.file_name().unwrap_or_default().to_os_string();
            name.push(format!("{MARK}{}-{started}-{n}", std::process::id()));
            ledger.with_file_name(name)
        });
        Journal {
            ledger: path.is_some().then(|| ledger.to_path_buf()),
            path,
            file: None,
            len: 0,
        }
    }

    /// The path of the ledger it is beside, if it is a file.
    pub(crate) fn ledger(&self) -> Option<&Path> {
        self.ledger.as_deref()
    }

    /// Appends the `Created` state of `key`: when this returns, a killed
    /// process leaves it for the next one.
    pub(crate) fn append(&mut self, key: &EntryKey, state: &CreatedState) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(&Line {
            key: columns(key),
            state: state.clone(),
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');
        let written = match &mut self.file {
            Some(file) => file.write_all(&line),
            None => open_own(path).and_then(|mut file| {
                file.write_all(&line)?;
                self.file = Some(file);
                Ok(())
            }),
        };
        written.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot write to the ledger's journal {}: {e}",
                    path.display()
                ),
            )
        })?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// Empties it: every state in it is in the ledger's tables.
    pub(crate) fn empty(&mut self) -> io::Result<()> {
        if let Some(file) = &self.file
            && self.len > 0
        {
            file.set_len(0)?;
            self.len = 0;
        }
        Ok(())
    }

    /// Deletes it: every state in it is in the ledger's tables, and the
    /// process appends no more.
    pub(crate) fn remove(&mut self) {
        if let (Some(path), Some(file)) = (&self.path, self.file.take()) {
            let _ = std::fs::remove_file(path);
            drop(file);
        }
    }

    /// Lets the journal go as a killed process would: its file stays, and
    /// its lock is released (for tests of what the next process does).
    #[cfg(test)]
    pub(crate) fn abandon(&mut self) {
        self.file = None;
        self.len = 0;
    }

    /// Its path, once it exists.
    #[cfg(test)]
    pub(crate) fn path(&self) -> Option<&Path> {
        self.file.as_ref().and(self.path.as_deref())
    }

    /// Where it is created at the first state.
    #[cfg(test)]
    pub(crate) fn would_be(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// Creates and locks this process's journal at `path` (the owner's only:
/// it holds upload URLs). It is made and locked under a name no other
/// process looks at, then renamed: another process opening the ledger never
/// sees it unlocked, so never takes it for a killed process's and folds and
/// deletes it under its owner.
fn open_own(path: &Path) -> io::Result<File> {
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(path.file_name().unwrap_or_default());
    let hidden = path.with_file_name(hidden);
    let mut options = OpenOptions::new();
    options.append(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&hidden)?;
    // Where the file system cannot lock (some network ones), the journal
    // goes unlocked: no other process then folds it either (it cannot lock
    // it), but a claim still reads it (see [`find`]).
    let _ = file.try_lock();
    if let Err(e) = std::fs::rename(&hidden, path) {
        let _ = std::fs::remove_file(&hidden);
        return Err(e);
    }
    Ok(file)
}

/// The key columns of `key`, as a journal line holds them.
fn columns(key: &EntryKey) -> KeyColumns {
    let [base_url, client_id, sha256, model] = key.columns().map(str::to_owned);
    (base_url, client_id, sha256, model)
}

/// The journals beside the ledger at `ledger`, of every process.
fn journals(ledger: &Path) -> Vec<PathBuf> {
    let Some(name) = ledger.file_name() else {
        return Vec::new();
    };
    let mut prefix = name.to_os_string();
    prefix.push(MARK);
    let prefix = prefix.as_encoded_bytes().to_vec();
    let dir = match ledger.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().as_encoded_bytes().starts_with(&prefix))
        .map(|entry| entry.path())
        .collect()
}

/// The lines of `file` that read back whole, in order.
fn lines(file: &File) -> Vec<Line> {
    io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}

/// Whether `state` is the answer to the create of an entry whose
/// `Creating` state was saved at `since` (not to an earlier create of the
/// same entry).
fn answers(state: &CreatedState, since: Timestamp) -> bool {
    state
        .stamp
        .parse::<Timestamp>()
        .is_ok_and(|stamp| stamp >= since)
}

/// Writes `state` over the entry `key` if that entry still waits for the
/// answer to the create `state` answers; whether it did.
fn fold_one(tx: &Connection, key: &KeyColumns, state: &CreatedState) -> io::Result<bool> {
    let (base_url, client_id, sha256, model) = key;
    let since: Option<Option<String>> = tx
        .query_row(
            "SELECT since FROM entries WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3
               AND model = ?4 AND stage = 'creating'",
            [base_url, client_id, sha256, model],
            |row| row.get(0),
        )
        .optional()
        .map_err(db)?;
    match since.flatten().and_then(|since| since.parse().ok()) {
        Some(since) if answers(state, since) => {
            super::write_created_columns(tx, [base_url, client_id, sha256, model], state)
                .map_err(db)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Folds into the ledger `conn` (at `ledger`) what the processes that
/// ended without writing it left in their journals (a journal nobody
/// locks), then deletes those journals. A journal a live process holds is
/// left to it.
pub(crate) fn fold_left(conn: &mut Connection, ledger: &Path) -> io::Result<()> {
    for path in journals(ledger) {
        let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_err() {
            continue;
        }
        let lines = lines(&file);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for line in &lines {
            fold_one(&tx, &line.key, &line.state)?;
        }
        tx.commit().map_err(db)?;
        // (Left, it is folded again by the next open: its states are in.)
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

/// The `Created` state a journal beside the ledger at `ledger` holds for
/// the entry `key`, whose `Creating` state was saved at `since`: written in
/// `tx` over the entry if found (the latest of them). For a claim that
/// meets an entry whose create was sent by a process whose journal was not
/// folded yet (killed after this process opened the ledger, or stalled
/// past its lease).
pub(crate) fn find(
    tx: &Connection,
    ledger: &Path,
    key: &EntryKey,
    since: Timestamp,
) -> io::Result<bool> {
    let key = columns(key);
    let latest = (journals(ledger).iter())
        .filter_map(|path| File::open(path).ok())
        .flat_map(|file| lines(&file))
        .filter(|line| line.key == key)
        .filter_map(|line| Some((line.state.stamp.parse::<Timestamp>().ok()?, line.state)))
        .filter(|(stamp, _)| *stamp >= since)
        .max_by_key(|(stamp, _)| *stamp);
    match latest {
        Some((_, state)) => fold_one(tx, &key, &state),
        None => Ok(false),
    }
}
