//! The journal of a SQLite ledger's `Created` states (records', and
//! jobs' `Created` and `Uploaded` stages).
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
//! NORMAL`. The ledger writes a state to its tables later: with its
//! record's final state, in one statement (a job's stages are dropped by
//! its final job's write, which holds them), or on its own (with the
//! `Uploaded` state and last status seen that came meanwhile) once the
//! journal holds 1 MiB or the process writes everything (its end, a
//! release); it empties the journal once nothing in it waits, and deletes
//! it when it ends with everything written.
//!
//! The process holds a lock on its journal (`flock`) while it lives. What a
//! process that was killed left in its journal is folded into the tables by
//! the next process that opens the ledger ([`fold_left`]), and a claim that
//! meets an entry whose create was sent but whose `Created` state is not in
//! the tables (or a `created` job whose `Uploaded` stage may be in a
//! journal) looks for it in every journal ([`find`]): the record or job is
//! then resumed, not created twice, nor its job's slots sent again.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use authenta_reqwest::proto::engine::jobs::JobStage;

use super::{CreatedState, EntryKey, JobJournaled, KeyColumns, db};

/// What each journal's name starts with, after the ledger's file name.
const MARK: &str = "-journal-";

/// A line of a journal, as written: an entry's key columns and its
/// `Created` state, the upload target's JSON as it is (not escaped into a
/// string: that cost a twentieth of the ledger's instructions a file).
#[derive(Serialize)]
struct LineOut<'a> {
    key: [&'a str; 4],
    stamp: &'a str,
    mid: &'a str,
    created_at: &'a str,
    target: &'a RawValue,
    expires_at: Option<&'a str>,
    status: &'a str,
}

/// A job's line, as written: its entry's key columns and its `Created`
/// or `Uploaded` stage (the job, and the stage's JSON as it is, which
/// names the stage).
#[derive(Serialize)]
struct JobLineOut<'a> {
    key: [&'a str; 4],
    stamp: &'a str,
    job: &'a str,
    saved: &'a RawValue,
}

/// A line of a journal, as read back: a record's `Created` state, or a
/// job's stage (`job` and `saved`).
#[derive(Deserialize)]
struct LineIn {
    key: KeyColumns,
    stamp: String,
    mid: Option<String>,
    created_at: Option<String>,
    /// The target's JSON (or, as the first journals wrote it, a string of
    /// it).
    target: Option<Box<RawValue>>,
    expires_at: Option<String>,
    status: Option<String>,
    job: Option<String>,
    saved: Option<Box<RawValue>>,
}

/// What a line of a journal holds.
enum State {
    /// A record's `Created` state.
    Record(CreatedState),
    /// A job's `Created` or `Uploaded` stage.
    Job {
        stamp: String,
        job: String,
        saved: Box<RawValue>,
    },
}

impl State {
    /// When it was saved.
    fn stamp(&self) -> &str {
        match self {
            State::Record(state) => &state.stamp,
            State::Job { stamp, .. } => stamp,
        }
    }
}

/// A line of a journal: an entry's key columns and what it saved.
struct Line {
    key: KeyColumns,
    state: State,
}

impl Line {
    /// The line `text` holds, if it reads back whole.
    fn parse(text: &str) -> Option<Line> {
        let line: LineIn = serde_json::from_str(text).ok()?;
        if let (Some(job), Some(saved)) = (line.job, line.saved) {
            let state = State::Job {
                stamp: line.stamp,
                job,
                saved,
            };
            return Some(Line {
                key: line.key,
                state,
            });
        }
        let target = line.target?;
        let target = match target.get().starts_with('"') {
            true => {
                let json: String = serde_json::from_str(target.get()).ok()?;
                RawValue::from_string(json).ok()?
            }
            false => target,
        };
        Some(Line {
            key: line.key,
            state: State::Record(CreatedState {
                stamp: line.stamp,
                mid: line.mid?,
                created_at: line.created_at?,
                target,
                expires_at: line.expires_at,
                status: line.status?,
            }),
        })
    }
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
        let out = LineOut {
            key: key.columns(),
            stamp: &state.stamp,
            mid: &state.mid,
            created_at: &state.created_at,
            target: &state.target,
            expires_at: state.expires_at.as_deref(),
            status: &state.status,
        };
        self.append_line(&out, state.target.get().len())
    }

    /// Appends a job's `Created` or `Uploaded` stage: when this returns, a
    /// killed process leaves it for the next one.
    pub(crate) fn append_job(&mut self, journaled: &JobJournaled) -> io::Result<()> {
        let out = JobLineOut {
            key: journaled.key.columns(),
            stamp: &journaled.stamp,
            job: &journaled.job,
            saved: &journaled.saved,
        };
        self.append_line(&out, journaled.saved.get().len())
    }

    /// Appends `out` as a line (`long`: its longest field's length).
    fn append_line(&mut self, out: &impl Serialize, long: usize) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut line = Vec::with_capacity(256 + long);
        serde_json::to_writer(&mut line, out).map_err(io::Error::other)?;
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

    /// How many bytes it holds.
    pub(crate) fn len(&self) -> u64 {
        self.len
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
        .filter_map(|line| Line::parse(&line))
        .collect()
}

/// Whether `state` is the answer to the create of an entry whose
/// `Creating` state was saved at `since` (not to an earlier create of the
/// same entry).
fn answers(state: &State, since: Timestamp) -> bool {
    state
        .stamp()
        .parse::<Timestamp>()
        .is_ok_and(|stamp| stamp >= since)
}

/// Writes `state` over the entry `key` (a record's or a job's) if that
/// entry still waits for it; whether it did. A record's `Created` state,
/// or a job's first stage, answers the create of an entry still
/// `creating` since before it was saved; a job's later stage (`Uploaded`,
/// or `Created` with more of its slots up) moves on a `created` entry of
/// the same job saved before it. Nothing else is written: a line is never
/// folded over a later state.
fn fold_one(tx: &Connection, key: &KeyColumns, state: &State) -> io::Result<bool> {
    let (base_url, client_id, sha256, model) = key;
    let columns = [base_url.as_str(), client_id, sha256, model];
    match state {
        State::Record(created) => {
            let since: Option<Option<String>> = tx
                .query_row(
                    "SELECT since FROM entries WHERE base_url = ?1 AND client_id = ?2
                       AND sha256 = ?3 AND model = ?4 AND stage = 'creating'",
                    columns,
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            match since.flatten().and_then(|since| since.parse().ok()) {
                Some(since) if answers(state, since) => {
                    super::write_created_columns(tx, columns, created).map_err(db)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        State::Job { stamp, job, saved } => {
            let Ok(stage) = serde_json::from_str::<JobStage>(saved.get()) else {
                return Ok(false);
            };
            type Row = (String, Option<String>, Option<String>, String);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT stage, since, job, updated_at FROM job_entries
                     WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4",
                    columns,
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()
                .map_err(db)?;
            let parse = |t: &str| t.parse::<Timestamp>().ok();
            let waits = match row {
                Some((entry, since, _, _)) if entry == "creating" => since
                    .and_then(|since| parse(&since))
                    .is_some_and(|since| answers(state, since)),
                Some((entry, _, Some(of), updated)) if entry == "created" && of == *job => {
                    parse(stamp)
                        .zip(parse(&updated))
                        .is_some_and(|(line, saved)| line > saved)
                }
                _ => false,
            };
            if waits {
                let stage = super::stage_name(&stage);
                super::write_job_stage_columns(tx, columns, stamp, job, saved.get(), stage)
                    .map_err(db)?;
            }
            Ok(waits)
        }
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

/// The latest state a journal beside the ledger at `ledger` holds for the
/// entry `key` since `since` (its `Creating` state's time, or any time for
/// a `created` job): written in `tx` over the entry if it still waits for
/// it ([`fold_one`]). For a claim that meets an entry moved on by a
/// process whose journal was not folded yet (killed after this process
/// opened the ledger, or stalled past its lease).
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
        .filter_map(|line| Some((line.state.stamp().parse::<Timestamp>().ok()?, line.state)))
        .filter(|(stamp, _)| *stamp >= since)
        .max_by_key(|(stamp, _)| *stamp);
    match latest {
        Some((_, state)) => fold_one(tx, &key, &state),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Ledger;
    use super::super::tests::job_claimed_anew;
    use super::*;
    use authenta_reqwest::types::TaskType;

    /// A journal line is never folded over a later state: a job's stage
    /// of another job, or older than the entry's, leaves a `created` entry
    /// as it is; a newer one of the same job moves it on.
    #[test]
    fn a_job_s_journal_line_moves_only_its_own_job_on() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"bytes").unwrap();
        let identity = ledger.identify(&file).unwrap();
        let key = job_claimed_anew(&ledger, &identity, TaskType::ImageForgeryDetection);
        let stage = |stage: &JobStage| serde_json::value::to_raw_value(stage).unwrap();
        let created = JobStage::Created {
            job: "7".into(),
            slots: Vec::new(),
        };
        let store = ledger.raw();
        super::super::write_job_stage_columns(
            &store.conn,
            key.columns(),
            "2026-12-04T10:00:00Z",
            "7",
            stage(&created).get(),
            "created",
        )
        .unwrap();
        let fold = |stamp: &str, job: &str| {
            let saved = stage(&JobStage::Uploaded { job: job.into() });
            let state = State::Job {
                stamp: stamp.into(),
                job: job.into(),
                saved,
            };
            fold_one(&store.conn, &columns(&key), &state).unwrap()
        };
        assert!(!fold("2026-12-04T10:00:01Z", "8"), "another job's");
        assert!(!fold("2026-12-04T09:59:59Z", "7"), "older than the entry");
        assert!(fold("2026-12-04T10:00:01Z", "7"));
        let saved: String = (store.conn)
            .query_row("SELECT stage FROM job_entries", [], |row| row.get(0))
            .unwrap();
        assert_eq!(saved, "uploaded");
        assert!(!fold("2026-12-04T10:00:02Z", "7"), "not over `uploaded`");
    }

    /// A line holds the upload target's JSON as it is, and reads back with
    /// it; a line of the first journals, which held it as a string of JSON,
    /// reads back the same.
    #[test]
    fn a_line_holds_its_target_as_json_and_reads_back_either_form() {
        let target = r#"{"url":"http://s3.test/b/k?X-Amz-Signature=a%2Fb","headers":{"content-type":"image/png"}}"#;
        let state = CreatedState {
            stamp: "2026-12-04T10:00:00Z".into(),
            mid: "m-1".into(),
            created_at: "2026-12-04T09:59:59Z".into(),
            target: RawValue::from_string(target.into()).unwrap(),
            expires_at: None,
            status: "UPLOADING".into(),
        };
        let out = LineOut {
            key: ["http://a.test/api", "c", "s", "AC-1"],
            stamp: &state.stamp,
            mid: &state.mid,
            created_at: &state.created_at,
            target: &state.target,
            expires_at: None,
            status: &state.status,
        };
        let written = serde_json::to_string(&out).unwrap();
        assert!(
            written.contains(&format!(r#""target":{target}"#)),
            "{written}"
        );
        let old = serde_json::json!({
            "key": ["http://a.test/api", "c", "s", "AC-1"],
            "stamp": state.stamp, "mid": "m-1", "created_at": state.created_at,
            "target": target, "expires_at": null, "status": "UPLOADING",
        })
        .to_string();
        for text in [written, old] {
            let line = Line::parse(&text).unwrap();
            assert_eq!(line.key.0, "http://a.test/api");
            let State::Record(state) = line.state else {
                panic!("a record's line")
            };
            assert_eq!(state.target.get(), target);
            assert_eq!(state.mid, "m-1");
        }
        assert!(Line::parse(r#"{"key":["a","b","c","d"],"stamp":"#).is_none());
        // A job's line: its stage's JSON as it is.
        let saved = r#"{"created":{"job":"7","slots":[]}}"#;
        let out = JobLineOut {
            key: ["http://a.test/api", "c", "s", "job:t"],
            stamp: "2026-12-04T10:00:00Z",
            job: "7",
            saved: &RawValue::from_string(saved.into()).unwrap(),
        };
        let written = serde_json::to_string(&out).unwrap();
        assert!(
            written.contains(&format!(r#""saved":{saved}"#)),
            "{written}"
        );
        match Line::parse(&written).unwrap().state {
            State::Job {
                job, saved: read, ..
            } => {
                assert_eq!((job.as_str(), read.get()), ("7", saved));
            }
            State::Record(_) => panic!("a job's line"),
        }
    }
}
