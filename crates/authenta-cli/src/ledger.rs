//! The batch ledger: a local SQLite database (rusqlite, bundled SQLite,
//! WAL) that makes `authenta process` resumable. It records each file's
//! identity (path, size, modification time, SHA-256 of its bytes) and, per
//! account (API base URL and client id), content and model, how far its
//! record went: about to be created, created (with its upload target and
//! expiry), uploaded, the last status seen, and the final record.
//!
//! Proto decides what each saved state costs on a rerun
//! ([`Resume`]); the ledger only keeps the
//! states, each committed when proto's upload reaches a
//! [`Checkpoint`], before the request
//! that depends on it.
//!
//! Several processes may share one ledger: before an entry spends
//! anything, its worker [claims](Ledger::claim) it (a `BEGIN IMMEDIATE`
//! transaction, so claims are serialised), with a lease a thread renews
//! while the process lives. Another worker meeting a live claim leaves the
//! entry alone and asks again later; a claim whose lease ran out, or whose
//! holder on this machine has exited, is taken over, from the saved stage.
//!
//! `--ledger postgres://…` keeps the same tables in PostgreSQL instead
//! ([`postgres`]), for workers on several machines sharing one batch: the
//! same claims, leases by the server's clock.
//!
//! Writes that can wait (a file's digest, a status seen, a final record)
//! are queued and written together, in the transaction of the next write
//! that cannot (a claim, a release), or once enough of them or old enough:
//! a transaction per group of events, not per event. A `Created`
//! checkpoint, one a file, is a transaction of its own (unless the queue
//! holds its entry's upload). A process killed with some queued loses only
//! what a rerun reads again (a digest, or a final record, read with one
//! query).
//!
//! Jobs (`process --task`) have entries of their own (`job_entries`), per
//! account, content, task type and reference image (its digest), saved
//! from proto's [`JobCheckpoint`]s (about to be created; created with each
//! slot's upload URL and expiry; uploaded; finalized) and the final job,
//! read back as proto's [`JobResume`]; they are claimed as records' are
//! (the claim's `model` is the entry's `job:` task key).

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authenta_reqwest::proto::engine::jobs::{JobCheckpoint, JobCheckpointFn, JobStage};
use authenta_reqwest::proto::engine::resume::JobResume;
use authenta_reqwest::proto::options::Saved as Saving;
use authenta_reqwest::proto::{
    UploadTarget, engine::resume::Resume, options::Checkpoint, options::CheckpointFn,
};
use authenta_reqwest::types::{
    CreateMediaRequest, CreatedMedia, Job, Media, MediaId, ModelType, TaskType, Timestamp,
};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::cli::{Global, LedgerAction, LedgerArgs};
use crate::exit;
use crate::files::{DIGEST_WHOLE, Digested, hex, nanos};
use crate::output::{self, Table};
use crate::session::CliError;

mod end;
mod journal;
mod postgres;
mod tls;
pub use end::{Final, end_steps};
pub use postgres::redact;

/// The ledger's maps and sets (and the batch's), keyed by its batch's own
/// digests, entries and record ids: hashed with foldhash, not the standard
/// SipHash (which was 7 % of the instructions a fresh ledger adds a file;
/// BENCHMARKS.md, "claims in their entries").
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A statement about the row of an entry `$key` (`?1` to `?4`: its key
/// columns), in the table of its kind: `$head`, the table, `$set`, the
/// row's condition, then `$tail`. One place knows that a record's entry is
/// in `entries`, keyed by `model`, and a job's in `job_entries`, by `task`.
macro_rules! entry_sql {
    ($key:expr, $head:literal, $set:literal, $tail:literal) => {
        match $key.is_job() {
            false => concat!(
                $head,
                "entries",
                $set,
                " WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
                $tail
            ),
            true => concat!(
                $head,
                "job_entries",
                $set,
                " WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4",
                $tail
            ),
        }
    };
}

/// The file name under the state directory.
const FILE_NAME: &str = "ledger.sqlite";

/// The schema's version (`PRAGMA user_version`): a ledger of a later
/// version is refused rather than misread.
/// Version 2 added `claims`, version 3 `job_entries`; version 4 keeps a
/// claim in its entry's row (`owner`), with one lease per worker
/// (`workers`) instead of a row per claim. An older ledger is brought up
/// to date when opened, its claims kept ([`upgrade`]; an older authenta
/// refuses it then).
const SCHEMA_VERSION: i64 = 4;

/// How long a claim holds without being renewed.
const LEASE: Duration = Duration::from_secs(30);

/// Queued writes are written once this many wait...
const QUEUE_LEN: usize = 64;
/// ... or the oldest has waited this long.
const QUEUE_AGE: Duration = Duration::from_millis(100);

/// The tables. Each entry's key leads with its digest: a look by key, in
/// the key's index, then compares the column that tells rows apart first,
/// not the base URL and client id every row of a batch shares (a tenth of
/// a fresh ledger's instructions a file; BENCHMARKS.md, "a final status,
/// the key's order"). The small rows of `files` and `workers` live in their
/// key's b-tree (`WITHOUT ROWID`): a file's digest saved writes one b-tree,
/// not a table and its key's index. A ledger made before keeps its tables'
/// earlier form: same columns, same statements.
///
/// A claim is its entry's `owner` (a worker's id; `NULL`: nobody's), and
/// holds while that worker's row in `workers` does: its lease, renewed
/// for all its claims at once, and its host and pid (to see, on the same
/// machine, that it exited). A worker with no row holds nothing. So a new
/// file's claim is the insert of its `Creating` state, and its final
/// record's write ends it: no row of its own to insert and delete
/// (BENCHMARKS.md, "claims in their entries").
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files (
    path      TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    sha256    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    base_url    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    model       TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    name        TEXT,
    since       TEXT,
    mid         TEXT,
    created_at  TEXT,
    target      TEXT,
    expires_at  TEXT,
    stage       TEXT NOT NULL,
    status      TEXT,
    record      TEXT,
    updated_at  TEXT NOT NULL,
    owner       TEXT,
    PRIMARY KEY (sha256, model, client_id, base_url)
);
CREATE TABLE IF NOT EXISTS workers (
    owner        TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_entries (
    base_url    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    task        TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    since       TEXT,
    job         TEXT,
    stage       TEXT NOT NULL,
    saved       TEXT,
    status      TEXT,
    record      TEXT,
    updated_at  TEXT NOT NULL,
    owner       TEXT,
    PRIMARY KEY (sha256, task, client_id, base_url)
);
";

/// The indexes of [`SCHEMA`]'s tables (none: an index an earlier authenta
/// made, which this one drops). Rows with no job yet (every new entry)
/// are kept out of the job index, so a new file's writes touch fewer
/// pages. There is no index of entries by record: a record this process
/// created or resumed is found by its entry's key ([`Store::records`]),
/// and one it does not know (`authenta ledger forget ID`, the MCP
/// server's `get_result`) by a look at every row. The index of files by
/// digest is gone too, and so is the index of claims by owner (a
/// version 3 ledger's; a lease's renewal, every 10 s, reads the claims this
/// process holds by their keys). An authenta of the same schema version
/// reads and writes the ledger as well with either form (one that keeps
/// an index this one drops may make it again).
const INDEXES: [(&str, Option<&str>); 4] = [
    ("files_sha256", None),
    ("claims_owner", None),
    ("entries_mid", None),
    (
        "job_entries_job",
        Some("CREATE INDEX job_entries_job ON job_entries (job) WHERE job IS NOT NULL"),
    ),
];

/// The ledger a command uses: the one `--ledger` names; none with
/// `--no-ledger`, or with `--emulator` (whose records vanish with it)
/// unless `--ledger` is given; else the default one.
pub fn for_command(global: &Global) -> Result<Option<Ledger>, CliError> {
    open_for(global, true)
}

/// The ledger [`for_command`] names, if it exists (nothing is created).
pub fn existing(global: &Global) -> Result<Option<Ledger>, CliError> {
    open_for(global, false)
}

/// Whether a command uses a ledger (`--ledger`, or neither `--no-ledger`
/// nor `--emulator`), without reading the profile or opening it.
pub fn in_use(global: &Global) -> bool {
    global.ledger.is_some() || !(global.no_ledger || global.emulator)
}

/// Where the ledger a command uses is (the rule of [`for_command`]:
/// `--ledger` or `AUTHENTA_LEDGER`, else the profile's `ledger`, else the
/// default); `None` for none.
fn path_for(global: &Global) -> Result<Option<PathBuf>, CliError> {
    if !in_use(global) {
        return Ok(None);
    }
    match &global.ledger {
        Some(path) => Ok(Some(path.clone())),
        None => match profile_ledger(global)? {
            Some(location) => Ok(Some(PathBuf::from(location))),
            None => default_path().map(Some).ok_or_else(|| {
                CliError::Ledger(
                    "no place for the batch ledger: neither XDG_STATE_HOME nor HOME is set; \
                 give --ledger PATH, or --no-ledger"
                        .into(),
                )
            }),
        },
    }
}

/// The `ledger` of the profile a command uses (`--profile`, else
/// `default` when the config file has it), if it names one.
fn profile_ledger(global: &Global) -> Result<Option<String>, CliError> {
    use authenta_reqwest::client::{DEFAULT_PROFILE, config_path};
    let profile = match global.profile.as_deref().filter(|name| !name.is_empty()) {
        Some(name) => Some(authenta_reqwest::Profile::load(name)?),
        // A config file that cannot be read names no ledger: the session
        // says what is wrong with it when it needs a key from it.
        None => config_path()
            .and_then(|path| authenta_reqwest::ProfileFile::open(&path))
            .and_then(|file| file.profile(DEFAULT_PROFILE))
            .ok()
            .flatten(),
    };
    Ok(profile.and_then(|profile| profile.ledger))
}

fn open_for(global: &Global, create: bool) -> Result<Option<Ledger>, CliError> {
    let Some(path) = path_for(global)? else {
        return Ok(None);
    };
    if let Some(url) = path.to_str().filter(|p| postgres::is_url(p)) {
        return Ledger::open_url(url).map(Some).map_err(|e| {
            CliError::Ledger(format!(
                "cannot open the batch ledger {}: {e}; check the URL and that the server \
                 takes connections, or give --no-ledger",
                postgres::redact(url)
            ))
        });
    }
    if !create && !path.exists() {
        return Ok(None);
    }
    Ledger::open(&path).map(Some).map_err(|e| {
        CliError::Ledger(format!(
            "cannot open the batch ledger {}: {e}; give another with --ledger PATH, or --no-ledger",
            path.display()
        ))
    })
}

/// `location` as a profile keeps it: a PostgreSQL URL, checked, or a
/// file's absolute path.
pub fn checked_location(location: &Path) -> Result<String, CliError> {
    let text = location.to_string_lossy();
    if postgres::is_url(&text) {
        postgres::config(&text).map_err(|e| {
            CliError::Ledger(format!("the ledger {}: {e}", postgres::redact(&text)))
        })?;
        return Ok(text.into_owned());
    }
    let path = std::path::absolute(location)
        .map_err(|e| CliError::Ledger(format!("the ledger {}: {e}", location.display())))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The error of a ledger that cannot be written.
pub fn failed(ledger: &Ledger, e: &io::Error) -> CliError {
    CliError::Ledger(format!(
        "cannot write the batch ledger {}: {e}",
        ledger.location()
    ))
}

/// `authenta ledger`: lists the entries, or forgets some.
pub fn run(global: &Global, args: &LedgerArgs) -> Result<u8, CliError> {
    let Some(path) = path_for(global)? else {
        return Err(CliError::Ledger(
            "no ledger to read: --no-ledger, or --emulator without --ledger PATH".into(),
        ));
    };
    let Some(ledger) = existing(global)? else {
        eprintln!(
            "authenta: no ledger at {} yet: `authenta process` keeps one",
            postgres::redact(&path.to_string_lossy())
        );
        return Ok(match &args.action {
            None => exit::SUCCESS,
            Some(_) => exit::NOT_FOUND,
        });
    };
    match &args.action {
        None => {
            let rows = ledger.rows().map_err(|e| failed(&ledger, &e))?;
            if global.json {
                for row in &rows {
                    output::json_line(&row.json());
                }
            } else {
                let mut table = Table::new(&[
                    "file", "model", "mid", "stage", "status", "verdict", "updated",
                ]);
                for row in &rows {
                    table.row(vec![
                        row.path.clone(),
                        row.model.clone(),
                        row.mid.clone().unwrap_or_else(|| "-".into()),
                        row.stage.clone(),
                        row.status.clone().unwrap_or_else(|| "-".into()),
                        row.record.as_ref().map_or("-", output::verdict).to_owned(),
                        row.updated_at.clone(),
                    ]);
                }
                table.print();
                eprintln!("authenta: {} entries in {}", rows.len(), ledger.location());
            }
            Ok(exit::SUCCESS)
        }
        Some(LedgerAction::Forget { items }) => {
            let mut code = exit::SUCCESS;
            for item in items {
                let as_path = Path::new(item);
                let dropped = if as_path.exists() || item.contains(std::path::MAIN_SEPARATOR) {
                    ledger.forget_path(as_path)
                } else {
                    ledger.forget_mid(item)
                }
                .map_err(|e| failed(&ledger, &e))?;
                if dropped == 0 {
                    eprintln!("authenta: the ledger holds nothing for {item}");
                    code = exit::NOT_FOUND;
                } else {
                    eprintln!(
                        "authenta: forgot {dropped} entr{} for {item}",
                        if dropped == 1 { "y" } else { "ies" }
                    );
                }
            }
            Ok(code)
        }
    }
}

/// Where the ledger is by default: `$XDG_STATE_HOME/authenta/ledger.sqlite`,
/// else `~/.local/state/authenta/ledger.sqlite`.
pub fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local").join("state"))
        })?;
    Some(state.join("authenta").join(FILE_NAME))
}

/// What the ledger knows a file by: its bytes' digest and metadata.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The absolute path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
}

/// A file's metadata and its saved digest, if unchanged since.
struct Known {
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    sha256: Option<String>,
    /// Whether `size`, `mtime_ns` and `sha256` are its check's
    /// ([`Digested`]), to be confirmed against its metadata when its turn
    /// comes.
    checked: bool,
}

/// The size and modification time of the file at `path`.
fn metadata_of(path: &Path) -> io::Result<(u64, i64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.len(), nanos(meta.modified()?)))
}

/// How many newly hashed bytes end a group of [`Ledger::identify_ahead`]
/// early: about a second of hashing.
pub const HASH_AHEAD_BYTES: u64 = 64 << 20;

/// Why [`Ledger::identify_ahead`] did not start.
#[derive(Debug)]
pub enum AheadError {
    /// The file at this index (of the paths given) cannot be read.
    File(usize, io::Error),
    /// The thread that computes the digests cannot be started.
    Thread(io::Error),
}

/// The identities [`Ledger::identify_ahead`] computes, in groups, each file
/// by its index in the paths given (a failure ends them).
pub struct IdentifyAhead {
    receiver: tokio::sync::mpsc::Receiver<Vec<(usize, io::Result<Identity>)>>,
}

impl IdentifyAhead {
    /// The next group, once hashed (the wait leaves the runtime's thread
    /// to other tasks); `None` after the last.
    pub async fn next_group(&mut self) -> Option<Vec<(usize, io::Result<Identity>)>> {
        self.receiver.recv().await
    }
}

/// The account an entry belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The API base URL.
    pub base_url: String,
    /// The key's client id, or for an API key `api-key:` and a
    /// fingerprint of it.
    pub client_id: String,
}

/// One entry: an account's record of some bytes under a model (and the
/// file it was found at, which a claim's `Creating` state names). Shared:
/// a batch keeps each file's key in several places (its item, its
/// checkpoint, its claim), and a clone costs a count, not six strings.
#[derive(Clone, Debug)]
pub struct EntryKey(Arc<KeyParts>);

/// What an [`EntryKey`] holds.
#[derive(Debug)]
pub struct KeyParts {
    /// Shared by the keys a ledger makes for one account (see
    /// [`Ledger::shared_account`]).
    account: Arc<Account>,
    sha256: String,
    model: String,
    /// The file's absolute path and size.
    path: String,
    size: i64,
}

/// Keys are the same entry when account, content and model are.
impl PartialEq for EntryKey {
    fn eq(&self, other: &EntryKey) -> bool {
        (self.sha256 == other.sha256 && self.model == other.model) && self.account == other.account
    }
}

impl Eq for EntryKey {}

impl EntryKey {
    /// The entry of the file `identity` for `account`, under `model` (a
    /// model, or a job's task key).
    fn of(account: Arc<Account>, identity: &Identity, model: String) -> EntryKey {
        EntryKey(Arc::new(KeyParts {
            account,
            sha256: identity.sha256.clone(),
            model,
            path: identity.path.to_string_lossy().into_owned(),
            size: identity.size as i64,
        }))
    }

    /// The file's name: the name a create of it sends (`authenta_client`'s
    /// file name), or its whole path when it has none.
    fn name(&self) -> &str {
        let name = Path::new(&self.path).file_name();
        name.and_then(|name| name.to_str()).unwrap_or(&self.path)
    }

    /// Whether `columns` (base URL, client id, SHA-256, model) are this
    /// entry's.
    fn is(&self, (base_url, client_id, sha256, model): &KeyColumns) -> bool {
        (self.sha256 == *sha256 && self.model == *model)
            && (self.account.base_url == *base_url && self.account.client_id == *client_id)
    }
}

impl std::ops::Deref for EntryKey {
    type Target = KeyParts;

    fn deref(&self) -> &KeyParts {
        &self.0
    }
}

impl EntryKey {
    /// The key's columns: base URL, client id, SHA-256, model.
    fn columns(&self) -> [&str; 4] {
        [
            &self.account.base_url,
            &self.account.client_id,
            &self.sha256,
            &self.model,
        ]
    }

    /// Whether it is a job's entry (in `job_entries`, its `model` the
    /// task's key, `job:…`), not a record's (`entries`).
    fn is_job(&self) -> bool {
        self.model.starts_with("job:")
    }

    /// The key's columns (`?1` to `?4`: base URL, client id, SHA-256,
    /// model), then `more`, as a SQLite statement's parameters.
    fn and<'a>(&'a self, more: &[&'a dyn rusqlite::ToSql]) -> Vec<&'a dyn rusqlite::ToSql> {
        let mut all: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(4 + more.len());
        all.extend_from_slice(&[
            &self.account.base_url,
            &self.account.client_id,
            &self.sha256,
            &self.model,
        ]);
        all.extend_from_slice(more);
        all
    }
}

impl Hash for EntryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.sha256.hash(state);
        self.model.hash(state);
    }
}

/// A claim this process holds, as it last wrote it.
#[derive(Debug)]
struct Held {
    /// Until when no other worker can take it: the lease it last wrote,
    /// counted from before the write (on this process's monotonic clock).
    until: Instant,
    /// The `Creating` state its claim wrote ahead, until the upload's (or
    /// job's) own `Creating` checkpoint comes (see [`Ledger::claim_many`]).
    ahead: Option<Ahead>,
}

impl Held {
    /// Whether it holds [`LEASE_MARGIN`] beyond now at least: no other
    /// worker can have taken it over, nor can before a request sent now.
    fn holds(&self) -> bool {
        self.until > Instant::now() + LEASE_MARGIN
    }
}

/// A `Creating` state a claim wrote ahead of its create.
#[derive(Debug)]
struct Ahead {
    /// Its `since`.
    since: String,
    /// Undoes it, in its entry's table (the create was never sent):
    /// [`EntryState::undo_ahead`].
    undo: fn(&Connection, &EntryKey, &str) -> io::Result<()>,
}

/// The claims one ledger handle holds.
type HeldClaims = Arc<Mutex<HashMap<EntryKey, Held>>>;

/// A claim whose lease (by [`Held::until`]) holds at least this much
/// longer needs no look in the ledger before a create: no other worker
/// can take it over meanwhile.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// An entry as `authenta ledger` shows it.
pub struct Row {
    pub base_url: String,
    pub client_id: String,
    pub sha256: String,
    pub model: String,
    pub path: String,
    pub mid: Option<String>,
    pub stage: String,
    pub status: Option<String>,
    pub record: Option<Media>,
    pub updated_at: String,
}

/// The ledger: one connection (SQLite, or PostgreSQL), shared by the
/// batch's tasks.
#[derive(Clone)]
pub struct Ledger {
    backend: Backend,
    /// Where it is, as messages show it (a URL without its password).
    location: Arc<str>,
    worker: Arc<Worker>,
    renewing: Arc<Once>,
    held: HeldClaims,
    /// The status last saved of each record this process saw and whose
    /// final record it has not saved (see [`Ledger::seen`]).
    statuses: Arc<Mutex<HashMap<String, String>>>,
    /// The account of the last key made ([`Ledger::shared_account`]).
    account: Arc<Mutex<Option<Arc<Account>>>>,
}

/// The database a ledger is kept in.
#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Mutex<Store>>),
    Postgres(Arc<postgres::Pg>),
}

/// The connection and the writes queued for its next transaction.
struct Store {
    conn: Connection,
    queued: Vec<Queued>,
    /// When the oldest queued write was queued.
    since: Option<Instant>,
    /// The entries of the records this process created, uploaded or took
    /// over (at its claim), by record id, until their final record is
    /// written: a status seen or
    /// a final record finds its row by the entry's key, and the ledger
    /// keeps no index of records (each new record's index entry was a
    /// page more in the transaction written before its upload).
    records: HashMap<String, EntryKey>,
    /// This process's journal of `Created` states (see [`journal`]).
    journal: journal::Journal,
    /// The `Created` states in the journal, not yet in the tables (at most
    /// one an entry): each written with its record's final state, or on its
    /// own (with its entry's `Uploaded` state and last status seen, when
    /// those came meanwhile) once the journal is long or everything is
    /// written ([`Waiting`]).
    journaled: HashMap<EntryKey, Box<Journaled>>,
    /// The jobs' `Created` and `Uploaded` stages in the journal (or a
    /// `Finalized` stage queued over one), not yet in the tables (an
    /// entry's last only): dropped when its final job is written (which
    /// holds it all), written on their own once the journal is long or
    /// everything is written ([`Waiting`]).
    journaled_jobs: HashMap<EntryKey, Box<JobJournaled>>,
}

/// A job's `Created` stage (its job and slots' upload URLs) or `Uploaded`
/// stage, as written (and as a line of the journal, [`journal`]).
pub(crate) struct JobJournaled {
    key: EntryKey,
    stamp: String,
    job: String,
    /// The stage's JSON ([`JobStage`]).
    saved: Box<serde_json::value::RawValue>,
    /// The stage's name ([`stage_name`]).
    stage: &'static str,
}

/// A `Created` state in the journal, waiting to be written to the tables.
struct Journaled {
    key: EntryKey,
    state: CreatedState,
    /// When its bytes were sent, if they were before it was written.
    uploaded: Option<String>,
}

impl Drop for Store {
    /// What is queued is written, as well as it can be; the journal is
    /// deleted once nothing in it is left unwritten.
    fn drop(&mut self) {
        let _ = self.flush();
        if self.journaled.is_empty() && self.journaled_jobs.is_empty() {
            self.journal.remove();
        }
    }
}

impl std::ops::Deref for Store {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// A write that may wait for the next transaction.
pub(crate) enum Queued {
    File {
        path: String,
        size: i64,
        mtime_ns: i64,
        sha256: String,
    },
    Seen {
        mid: String,
        status: String,
        at: String,
    },
    /// The `Uploaded` checkpoint: lost with a killed process, it costs one
    /// query (proto resumes a `Created` record by asking what became of it).
    Uploaded {
        key: EntryKey,
        mid: String,
        at: String,
    },
    /// (Ending `owner`'s claim.)
    Finished {
        mid: String,
        status: String,
        record: String,
        at: String,
        owner: String,
    },
    /// A job's `Finalized` stage, in a SQLite ledger (a PostgreSQL one
    /// saves each stage at once): lost with a killed process, it costs one
    /// read (proto resumes an `Uploaded` job by reading it, and finalizes
    /// it only if it still waits for that). Written only over the same
    /// job's entry.
    JobFinalized {
        key: EntryKey,
        job: String,
        saved: String,
        at: String,
    },
    /// A job's final state (ending `owner`'s claim of its entry `key`).
    JobFinished {
        key: EntryKey,
        job: String,
        status: String,
        record: String,
        at: String,
        owner: String,
    },
}

/// A `Created` state's columns, as written (and as a line of the journal,
/// [`journal`]).
#[derive(Clone)]
pub(crate) struct CreatedState {
    stamp: String,
    mid: String,
    created_at: String,
    /// The upload target's JSON: kept as JSON, so that a journal line holds
    /// it as it is, not escaped into a string (BENCHMARKS.md, "the journal's
    /// lines").
    target: Box<serde_json::value::RawValue>,
    expires_at: Option<String>,
    status: String,
}

impl CreatedState {
    fn of(created: &CreatedMedia, target: &UploadTarget) -> io::Result<CreatedState> {
        Ok(CreatedState {
            stamp: now(),
            mid: created.media.mid.to_string(),
            created_at: created.media.created_at.to_string(),
            target: serde_json::value::to_raw_value(target).map_err(io::Error::other)?,
            expires_at: target.expires_at.map(|t| t.to_string()),
            status: created.media.status.to_string(),
        })
    }

    /// The values of `mid`, `created_at`, `target`, `expires_at` and
    /// `status`.
    fn values(&self) -> [Option<&str>; 5] {
        [
            Some(self.mid.as_str()),
            Some(self.created_at.as_str()),
            Some(self.target.get()),
            self.expires_at.as_deref(),
            Some(self.status.as_str()),
        ]
    }
}

/// What a transaction writes first of what waits (see [`Store::transaction`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Waiting {
    /// Nothing.
    Nothing,
    /// The queued writes and the jobs' journaled stages, and of the
    /// records' journaled `Created` states those whose final record is
    /// queued (written with it, one statement for both); all of them once
    /// the journal holds [`JOURNAL_LEN`] bytes.
    Due,
    /// Everything.
    All,
}

/// The journal's length beyond which the `Created` states it holds are
/// written to the tables (and it is emptied) with the next queued writes,
/// whether their records are final or not.
const JOURNAL_LEN: u64 = 1 << 20;

impl Store {
    /// Runs `write` in one transaction (`IMMEDIATE`: the write lock from
    /// its start) after everything that waits.
    fn write<T>(&mut self, write: impl FnOnce(&Connection) -> io::Result<T>) -> io::Result<T> {
        self.transaction(Waiting::All, write)
    }

    /// Runs `write` in one `IMMEDIATE` transaction, after what `waiting`
    /// says of the journaled `Created` states and job stages and the
    /// queued writes (those written no longer wait; the journal is emptied
    /// once nothing in it waits); rolled back if anything fails.
    ///
    /// A record's `Created` state stays in the journal (durable across a
    /// killed process, as a commit is) until its final record comes, then
    /// both are one statement: most small files' records end while their
    /// states wait, and each was an `UPDATE` of its own (BENCHMARKS.md,
    /// "claims in their entries").
    /// Its `BEGIN` and `COMMIT` stay prepared, as the batch's other
    /// statements (rusqlite's `Transaction` parses them each time).
    fn transaction<T>(
        &mut self,
        waiting: Waiting,
        write: impl FnOnce(&Connection) -> io::Result<T>,
    ) -> io::Result<T> {
        let all = waiting == Waiting::All
            || (waiting == Waiting::Due && self.journal.len() >= JOURNAL_LEN);
        let finals = match waiting {
            Waiting::Nothing => HashMap::default(),
            _ => final_with_created(&self.queued, &self.journaled, &self.records),
        };
        // The entries of the jobs whose final job is queued: that write
        // holds their stages waiting.
        let jobs_final: HashSet<EntryKey> = match waiting == Waiting::Nothing
            || self.journaled_jobs.is_empty()
        {
            true => HashSet::default(),
            false => (self.queued.iter())
                .filter_map(|write| match write {
                    Queued::JobFinished { key, .. } if self.journaled_jobs.contains_key(key) => {
                        Some(key.clone())
                    }
                    _ => None,
                })
                .collect(),
        };
        let conn = &self.conn;
        let run = |sql| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
        run("BEGIN IMMEDIATE").map_err(db)?;
        let done = (|| -> io::Result<T> {
            if waiting != Waiting::Nothing {
                if all {
                    for journaled in self.journaled.values() {
                        if !finals.contains_key(journaled.state.mid.as_str()) {
                            write_journaled(conn, journaled).map_err(db)?;
                        }
                    }
                    for (key, journaled) in &self.journaled_jobs {
                        if !jobs_final.contains(key) {
                            write_job_journaled(conn, journaled).map_err(db)?;
                        }
                    }
                }
                apply(conn, &self.queued, &self.records, &finals)?;
            }
            let value = write(conn)?;
            run("COMMIT").map_err(db)?;
            Ok(value)
        })();
        if done.is_err() && !conn.is_autocommit() {
            // What failed is the error to tell.
            let _ = run("ROLLBACK");
        }
        let value = done?;
        if waiting != Waiting::Nothing {
            let merged: Vec<EntryKey> = match all {
                true => Vec::new(),
                false => (finals.values()).map(|(key, _)| (*key).clone()).collect(),
            };
            drop(finals);
            match all {
                true => {
                    self.journaled.clear();
                    self.journaled_jobs.clear();
                }
                false => {
                    for key in &merged {
                        self.journaled.remove(key);
                    }
                    for key in &jobs_final {
                        self.journaled_jobs.remove(key);
                    }
                }
            }
            for write in self.queued.drain(..) {
                if let Queued::Finished { mid, .. } = write {
                    self.records.remove(&mid);
                }
            }
            self.since = None;
            if self.journaled.is_empty() && self.journaled_jobs.is_empty() {
                // (Left full, it holds states the tables have: harmless.)
                let _ = self.journal.empty();
            }
        }
        Ok(value)
    }

    /// How many writes wait (the journaled `Created` states included).
    fn queued_len(&self) -> usize {
        self.queued.len() + self.journaled.len() + self.journaled_jobs.len()
    }

    /// What waits for a claim of `keys`: everything when it holds a write
    /// of one of them (which the claim must read), what is due when it is
    /// old enough, else nothing.
    fn waiting_for(&self, keys: &[&EntryKey]) -> Waiting {
        let waits = |key: &EntryKey| {
            self.journaled.contains_key(key) || self.journaled_jobs.contains_key(key)
        };
        if keys.iter().any(|key| waits(key)) {
            return Waiting::All;
        }
        if !self.queued.is_empty() {
            let claimed: HashSet<&EntryKey> = keys.iter().copied().collect();
            let mut queued = self.queued.iter().filter_map(|write| match write {
                Queued::File { .. } => None,
                Queued::Uploaded { key, .. }
                | Queued::JobFinalized { key, .. }
                | Queued::JobFinished { key, .. } => Some(key),
                Queued::Seen { mid, .. } | Queued::Finished { mid, .. } => self.records.get(mid),
            });
            if queued.any(|key| claimed.contains(key)) {
                return Waiting::All;
            }
        }
        match self.since.is_some_and(|since| since.elapsed() >= QUEUE_AGE) {
            true => Waiting::Due,
            false => Waiting::Nothing,
        }
    }

    /// Queues `write`; writes what is due if the queue is long or old
    /// enough. An `Uploaded` state, or a status seen, of a record whose
    /// `Created` state waits in the journal only marks that state (written
    /// in the same statement).
    fn queue(&mut self, write: Queued) -> io::Result<()> {
        match &write {
            Queued::Uploaded { key, mid, at } => {
                let journaled =
                    (self.journaled.get_mut(key)).filter(|journaled| journaled.state.mid == *mid);
                match journaled {
                    Some(journaled) => {
                        journaled.uploaded = Some(at.clone());
                        // Its upload target and stamp are written no more
                        // (an uploaded state has no target, and its time is
                        // the upload's): their memory goes while it waits.
                        journaled.state.target = serde_json::value::RawValue::NULL.to_owned();
                        journaled.state.stamp = String::new();
                        return self.flush_if_due();
                    }
                    None => {
                        self.records.insert(mid.clone(), key.clone());
                    }
                }
            }
            Queued::Seen { mid, status, .. } => {
                let journaled = (self.records.get(mid))
                    .and_then(|key| self.journaled.get_mut(key))
                    .filter(|journaled| journaled.state.mid == *mid);
                if let Some(journaled) = journaled {
                    journaled.state.status.clone_from(status);
                    return self.flush_if_due();
                }
            }
            // A job's `Finalized` stage over its stage waiting in the
            // journal: it takes that one's place (a killed process's
            // journal has the `Uploaded` stage, which costs one read).
            Queued::JobFinalized {
                key,
                job,
                saved,
                at,
            } => {
                let journaled =
                    (self.journaled_jobs.get_mut(key)).filter(|journaled| journaled.job == *job);
                if let Some(journaled) = journaled {
                    journaled.saved = serde_json::value::RawValue::from_string(saved.clone())
                        .map_err(io::Error::other)?;
                    journaled.stage = "finalized";
                    journaled.stamp.clone_from(at);
                    return self.flush_if_due();
                }
            }
            _ => {}
        }
        push(&mut self.queued, write);
        self.since.get_or_insert_with(Instant::now);
        self.flush_if_due()
    }

    /// Writes what is due if the queue is long or old enough, or the
    /// journal long enough.
    fn flush_if_due(&mut self) -> io::Result<()> {
        let due = self.queued.len() >= QUEUE_LEN
            || self.since.is_some_and(|since| since.elapsed() >= QUEUE_AGE)
            || self.journal.len() >= JOURNAL_LEN;
        match due {
            true => self.transaction(Waiting::Due, |_| Ok(())),
            false => Ok(()),
        }
    }

    /// Saves the `Created` state of `key` (record `mid`): in the journal
    /// now, in the tables with its final record (or once the journal is
    /// long, or everything is written). An earlier state of the same entry
    /// still waiting is dropped (its record was given up).
    fn save_created(&mut self, key: &EntryKey, mid: String, state: CreatedState) -> io::Result<()> {
        self.journal.append(key, &state)?;
        self.records.insert(mid, key.clone());
        let journaled = Journaled {
            key: key.clone(),
            state,
            uploaded: None,
        };
        self.journaled.insert(key.clone(), Box::new(journaled));
        self.flush_if_due()
    }

    /// Saves a job's `Created` or `Uploaded` stage: in the journal now, in
    /// the tables with its final job (which holds it all), or on its own
    /// once the journal is long or everything is written (an entry's last
    /// stage only: an earlier one waiting is dropped).
    fn save_job_journaled(&mut self, stage: JobJournaled) -> io::Result<()> {
        self.journal.append_job(&stage)?;
        self.journaled_jobs
            .insert(stage.key.clone(), Box::new(stage));
        self.flush_if_due()
    }

    /// Writes everything that waits (the journaled `Created` states
    /// included), if anything.
    fn flush(&mut self) -> io::Result<()> {
        match self.queued_len() == 0 {
            true => Ok(()),
            false => self.write(|_| Ok(())),
        }
    }
}

/// Queues `write` after `queued`, dropping the queued writes it makes
/// moot: an earlier status seen of the same record (a final record says
/// its status too).
fn push(queued: &mut Vec<Queued>, write: Queued) {
    if let Queued::Seen { mid, .. } | Queued::Finished { mid, .. } = &write {
        queued.retain(|q| !matches!(q, Queued::Seen { mid: seen, .. } if seen == mid));
    }
    queued.push(write);
}

/// Writes the `Created` state of the entry `key` in `tx`.
fn write_created(tx: &Connection, key: &EntryKey, state: &CreatedState) -> rusqlite::Result<usize> {
    write_created_columns(tx, key.columns(), state)
}

/// [`write_created`] of the entry whose key columns are `key`.
fn write_created_columns(
    tx: &Connection,
    key: [&str; 4],
    state: &CreatedState,
) -> rusqlite::Result<usize> {
    let values = state.values();
    let mut params: Vec<&dyn rusqlite::ToSql> = key.iter().map(|c| c as _).collect();
    params.push(&state.stamp);
    params.extend(values.iter().map(|v| v as &dyn rusqlite::ToSql));
    tx.prepare_cached(
        "UPDATE entries SET updated_at = ?5, mid = ?6, created_at = ?7,
           target = ?8, expires_at = ?9, stage = 'created', status = ?10
         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
    )?
    .execute(params.as_slice())
}

/// Writes a journaled job's stage in `tx`.
fn write_job_journaled(tx: &Connection, journaled: &JobJournaled) -> rusqlite::Result<usize> {
    let JobJournaled {
        key,
        stamp,
        job,
        saved,
        stage,
    } = journaled;
    write_job_stage_columns(tx, key.columns(), stamp, job, saved.get(), stage)
}

/// Writes the stage `stage` (`created` or `uploaded`) of job `job`
/// (`saved`, its JSON; saved at `stamp`) over the job entry whose key
/// columns are `key`.
fn write_job_stage_columns(
    tx: &Connection,
    key: [&str; 4],
    stamp: &str,
    job: &str,
    saved: &str,
    stage: &str,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE job_entries SET job = ?5, stage = ?8, saved = ?6, status = NULL,
           record = NULL, updated_at = ?7
         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4
           AND stage <> 'final'",
    )?
    .execute(params![
        key[0], key[1], key[2], key[3], job, saved, stamp, stage
    ])
}

/// Writes a journaled `Created` state in `tx`: with its `Uploaded` state,
/// when that came, in one statement.
fn write_journaled(tx: &Connection, journaled: &Journaled) -> rusqlite::Result<usize> {
    let Journaled {
        key,
        state,
        uploaded,
    } = journaled;
    let Some(at) = uploaded else {
        return write_created(tx, key, state);
    };
    tx.prepare_cached(
        "UPDATE entries SET updated_at = ?5, mid = ?6, created_at = ?7, target = NULL,
           expires_at = ?8, stage = 'uploaded', status = ?9
         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4
           AND stage <> 'final'",
    )?
    .execute(
        key.and(&[
            at,
            &state.mid,
            &state.created_at,
            &state.expires_at,
            &state.status,
        ])
        .as_slice(),
    )
}

/// Of the journaled `Created` states, by record id, those whose record's
/// final state `queued` holds, its entry known (see [`Store::records`]):
/// [`apply`] writes both in one statement.
fn final_with_created<'a>(
    queued: &[Queued],
    journaled: &'a HashMap<EntryKey, Box<Journaled>>,
    records: &HashMap<String, EntryKey>,
) -> HashMap<&'a str, (&'a EntryKey, &'a CreatedState)> {
    if journaled.is_empty() {
        return HashMap::default();
    }
    (queued.iter())
        .filter_map(|write| match write {
            Queued::Finished { mid, .. } => {
                let (key, journaled) = journaled.get_key_value(records.get(mid)?)?;
                let state = &journaled.state;
                (state.mid == *mid).then_some((state.mid.as_str(), (key, state)))
            }
            _ => None,
        })
        .collect()
}

/// Writes `queued`, in order, in `tx` (`records`: the entries of the
/// records this process knows, see [`Store::records`]; `created`: the
/// `Created` states written with their records' final states, see
/// [`final_with_created`]).
fn apply(
    tx: &Connection,
    queued: &[Queued],
    records: &HashMap<String, EntryKey>,
    created: &HashMap<&str, (&EntryKey, &CreatedState)>,
) -> io::Result<()> {
    for write in queued {
        match write {
            Queued::File {
                path,
                size,
                mtime_ns,
                sha256,
            } => tx
                .prepare_cached(
                    "INSERT INTO files (path, size, mtime_ns, sha256) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (path) DO UPDATE SET size = ?2, mtime_ns = ?3, sha256 = ?4",
                )
                .and_then(|mut s| s.execute(params![path, size, mtime_ns, sha256])),
            Queued::Uploaded { key, mid, at } => tx
                .prepare_cached(
                    "UPDATE entries SET mid = ?5, target = NULL, stage = 'uploaded',
                       updated_at = ?6
                     WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4
                       AND stage <> 'final'",
                )
                .and_then(|mut s| s.execute(key.and(&[&mid, &at]).as_slice())),
            Queued::Seen { mid, status, at } => match records.get(mid) {
                Some(key) => tx
                    .prepare_cached(
                        "UPDATE entries SET status = ?6, updated_at = ?7
                         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4
                           AND mid = ?5 AND stage != 'final' AND status IS NOT ?6",
                    )
                    .and_then(|mut s| s.execute(key.and(&[mid, status, at]).as_slice())),
                // A record of another process's: found by a look at every
                // row, then updated by the row's id (a record is one
                // entry's: a write of one row needs no statement journal).
                None => tx
                    .prepare_cached(
                        "UPDATE entries SET status = ?2, updated_at = ?3
                         WHERE rowid = (SELECT rowid FROM entries
                                        WHERE mid = ?1 AND stage != 'final' AND status IS NOT ?2)",
                    )
                    .and_then(|mut s| s.execute(params![mid, status, at])),
            },
            // With the outcome saved, this process's claim of it ends.
            Queued::Finished {
                mid,
                status,
                record,
                at,
                owner,
            } => match records.get(mid) {
                // Its `Created` state too, over whatever its entry held (as
                // that state's own write would have been).
                Some(key) if created.contains_key(mid.as_str()) => tx
                    .prepare_cached(
                        "UPDATE entries SET mid = ?5, created_at = ?9, expires_at = ?10,
                           stage = 'final', status = ?6, record = ?7, target = NULL,
                           updated_at = ?8, owner = nullif(owner, ?11)
                         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
                    )
                    .and_then(|mut s| {
                        let (_, state) = created[mid.as_str()];
                        s.execute(
                            key.and(&[
                                mid,
                                status,
                                record,
                                at,
                                &state.created_at,
                                &state.expires_at,
                                owner,
                            ])
                            .as_slice(),
                        )
                    }),
                Some(key) => tx
                    .prepare_cached(
                        "UPDATE entries SET stage = 'final', status = ?6, record = ?7,
                           target = NULL, updated_at = ?8, owner = nullif(owner, ?9)
                         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4
                           AND mid = ?5",
                    )
                    .and_then(|mut s| {
                        s.execute(key.and(&[mid, status, record, at, owner]).as_slice())
                    }),
                // As a status seen.
                None => tx
                    .prepare_cached(
                        "UPDATE entries SET stage = 'final', status = ?2, record = ?3,
                           target = NULL, updated_at = ?4, owner = nullif(owner, ?5)
                         WHERE rowid = (SELECT rowid FROM entries WHERE mid = ?1)",
                    )
                    .and_then(|mut s| s.execute(params![mid, status, record, at, owner])),
            },
            Queued::JobFinalized {
                key,
                job,
                saved,
                at,
            } => tx
                .prepare_cached(
                    "UPDATE job_entries SET stage = 'finalized', saved = ?6, status = NULL,
                       record = NULL, updated_at = ?7
                     WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4
                       AND job = ?5 AND stage <> 'final'",
                )
                .and_then(|mut s| s.execute(key.and(&[job, saved, at]).as_slice())),
            Queued::JobFinished {
                key,
                job,
                status,
                record,
                at,
                owner,
            } => tx
                .prepare_cached(
                    "UPDATE job_entries SET stage = 'final', job = ?5, status = ?6, record = ?7,
                       saved = NULL, updated_at = ?8, owner = nullif(owner, ?9)
                     WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4",
                )
                .and_then(|mut s| {
                    s.execute(key.and(&[&job, &status, &record, &at, &owner]).as_slice())
                }),
        }
        .map_err(db)?;
    }
    Ok(())
}

/// What [`Ledger::claim`] found (`S`: where the entry starts, a record's
/// [`Resume`] or a job's [`JobResume`]).
#[derive(Debug)]
pub enum Claim<S = Resume> {
    /// The entry is this process's: it starts from `S` (a final entry is
    /// claimed by nobody: reading it costs nothing).
    Mine(S),
    /// Another live worker holds it: ask again later.
    Held,
}

/// Where an entry starts, read back from its saved state: a record's
/// [`Resume`] (table `entries`) or a job's [`JobResume`] (`job_entries`).
pub trait EntryState: Sized {
    /// The state of `key` in `conn` (`refresh`: a final one is read again).
    fn read(conn: &Connection, key: &EntryKey, refresh: bool) -> io::Result<Self>;
    /// The states of `keys` in a PostgreSQL ledger, in their order.
    fn read_pg(pg: &postgres::Pg, keys: &[&EntryKey], refresh: bool) -> io::Result<Vec<Self>>;
    /// Whether it is final (nothing left to spend: never claimed).
    fn is_final(&self) -> bool;
    /// Whether its claim writes its `Creating` state ahead of the create
    /// (a record or job claimed anew; see [`Ledger::claim_many`]).
    fn writes_ahead(&self) -> bool {
        false
    }
    /// Whether a PostgreSQL ledger's claim writes it ahead too (a
    /// record's only).
    const AHEAD_IN_PG: bool = false;
    /// Writes, in `tx`, the `Creating` state of `key` ahead of its create,
    /// from `since` (`fresh`: only where the entry has no row, claimed by
    /// that worker; else over any row but a final one, its claim kept);
    /// how many rows it wrote.
    fn write_ahead(
        _tx: &Connection,
        _key: &EntryKey,
        _since: &str,
        _fresh: Option<&str>,
    ) -> rusqlite::Result<usize> {
        Ok(0)
    }
    /// Undoes, in `tx`, the `Creating` state written ahead (from `since`)
    /// for `key`: the entry is new again.
    fn undo_ahead(_tx: &Connection, _key: &EntryKey, _since: &str) -> io::Result<()> {
        Ok(())
    }
    /// The state of an entry with no saved row, when its claim writes it
    /// ahead (see [`EntryState::writes_ahead`]): a claim that finds no
    /// claim and no entry then costs two inserts, no reads.
    fn fresh() -> Option<Self> {
        None
    }
    /// The record it waits for, if it has one.
    fn mid(&self) -> Option<&str> {
        None
    }
    /// Since when a journal may hold a later state of it than the tables
    /// do (see [`journal::find`]): when its create was about to be sent,
    /// if its answer was not saved.
    fn journaled_since(&self) -> Option<Timestamp> {
        None
    }
}

impl EntryState for Resume {
    fn read(conn: &Connection, key: &EntryKey, refresh: bool) -> io::Result<Self> {
        saved_resume(conn, key, refresh)
    }

    fn read_pg(pg: &postgres::Pg, keys: &[&EntryKey], refresh: bool) -> io::Result<Vec<Self>> {
        Ok(pg
            .saved_many(keys)?
            .into_iter()
            .map(|saved| resume_of(saved, refresh))
            .collect())
    }

    fn is_final(&self) -> bool {
        matches!(self, Resume::Final(_))
    }

    fn mid(&self) -> Option<&str> {
        match self {
            Resume::Created { mid, .. } | Resume::Uploaded { mid, .. } => Some(mid.as_str()),
            _ => None,
        }
    }

    fn writes_ahead(&self) -> bool {
        matches!(self, Resume::New)
    }

    const AHEAD_IN_PG: bool = true;

    fn write_ahead(
        tx: &Connection,
        key: &EntryKey,
        since: &str,
        fresh: Option<&str>,
    ) -> rusqlite::Result<usize> {
        match fresh {
            Some(owner) => write_new_creating(tx, key, since, owner),
            None => write_creating(tx, key, key.name(), since, true),
        }
    }

    fn undo_ahead(tx: &Connection, key: &EntryKey, since: &str) -> io::Result<()> {
        undo_ahead(tx, key, since)
    }

    fn journaled_since(&self) -> Option<Timestamp> {
        match self {
            Resume::Creating { since, .. } => Some(*since),
            _ => None,
        }
    }

    fn fresh() -> Option<Self> {
        Some(Resume::New)
    }
}

impl EntryState for JobResume {
    fn read(conn: &Connection, key: &EntryKey, refresh: bool) -> io::Result<Self> {
        let saved: Option<SavedJob> = entry_row(
            conn,
            "SELECT stage, since, job, saved, record FROM job_entries
             WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4",
            key,
        )?;
        Ok(job_resume_of(saved, refresh))
    }

    fn read_pg(pg: &postgres::Pg, keys: &[&EntryKey], refresh: bool) -> io::Result<Vec<Self>> {
        Ok(pg
            .saved_jobs(keys)?
            .into_iter()
            .map(|saved| job_resume_of(saved, refresh))
            .collect())
    }

    fn is_final(&self) -> bool {
        matches!(self, JobResume::Final(_))
    }

    fn writes_ahead(&self) -> bool {
        matches!(self, JobResume::New)
    }

    /// A job's `Uploaded` stage is journaled too (a `created` entry may
    /// have moved on in a journal): any line of the same job that is newer
    /// than the entry answers it.
    fn journaled_since(&self) -> Option<Timestamp> {
        match self {
            JobResume::Creating { at } => Some(*at),
            JobResume::Stage(JobStage::Created { .. }) => Some(Timestamp::MIN),
            _ => None,
        }
    }

    fn write_ahead(
        tx: &Connection,
        key: &EntryKey,
        since: &str,
        fresh: Option<&str>,
    ) -> rusqlite::Result<usize> {
        match fresh {
            Some(owner) => tx
                .prepare_cached(
                    "INSERT INTO job_entries (base_url, client_id, sha256, task, path, size,
                                              since, stage, updated_at, owner)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'creating', ?7, ?8)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(key.and(&[&key.path, &key.size, &since, &owner]).as_slice()),
            None => tx
                .prepare_cached(
                    "INSERT INTO job_entries (base_url, client_id, sha256, task, path, size,
                                              since, stage, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'creating', ?7)
                     ON CONFLICT (base_url, client_id, sha256, task) DO UPDATE SET
                       path = ?5, size = ?6, since = ?7, job = NULL, stage = 'creating',
                       saved = NULL, status = NULL, record = NULL, updated_at = ?7
                     WHERE stage <> 'final'",
                )?
                .execute(key.and(&[&key.path, &key.size, &since]).as_slice()),
        }
    }

    fn undo_ahead(tx: &Connection, key: &EntryKey, since: &str) -> io::Result<()> {
        tx.prepare_cached(
            "DELETE FROM job_entries WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3
               AND task = ?4 AND stage = 'creating' AND since = ?5",
        )
        .and_then(|mut s| s.execute(key.and(&[&since]).as_slice()))
        .map(drop)
        .map_err(db)
    }

    fn fresh() -> Option<Self> {
        Some(JobResume::New)
    }
}

/// A job entry's saved state: stage, since, job, saved stage, record.
type SavedJob = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Where a job entry starts, from its saved state (`refresh`: a final job
/// is read again, as if only finalized). A row that does not read back
/// whole starts again.
fn job_resume_of(saved: Option<SavedJob>, refresh: bool) -> JobResume {
    let Some((stage, since, job, saved, record)) = saved else {
        return JobResume::New;
    };
    let finalized = |job: String| {
        JobResume::Stage(JobStage::Finalized {
            job: job.as_str().into(),
        })
    };
    match stage.as_str() {
        "final" => match (
            record.and_then(|r| serde_json::from_str::<Job>(&r).ok()),
            job,
        ) {
            (_, Some(job)) if refresh => finalized(job),
            (Some(record), _) => JobResume::Final(Box::new(record)),
            (None, Some(job)) => finalized(job),
            (None, None) => JobResume::New,
        },
        "creating" => match since.and_then(|t| t.parse().ok()) {
            Some(at) => JobResume::Creating { at },
            None => JobResume::New,
        },
        _ => match saved.and_then(|s| serde_json::from_str::<JobStage>(&s).ok()) {
            Some(stage) => JobResume::Stage(stage),
            None => JobResume::New,
        },
    }
}

/// A process that claims entries: its host and pid (to see, on the same
/// machine, that it has exited) and an id unique to this run of it.
#[derive(Debug)]
pub(crate) struct Worker {
    id: String,
    host: String,
    pid: u32,
}

impl Worker {
    fn this() -> Worker {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let pid = std::process::id();
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Each open is a worker of its own, however coarse the clock.
        static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Worker {
            id: format!("{host}/{pid}/{started}/{n}"),
            host,
            pid,
        }
    }

    /// Whether the holder `(host, pid)` of a claim is known to have exited:
    /// only said of a process on this machine, where `/proc` shows it.
    fn outlived(&self, host: &str, pid: i64) -> bool {
        if host.is_empty() || host != self.host || !Path::new("/proc/self/stat").exists() {
            return false;
        }
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // A zombie (killed, not yet reaped) holds nothing either.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => true,
        }
    }
}

fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn db(e: rusqlite::Error) -> io::Error {
    io::Error::other(format!("the ledger database: {e}"))
}

fn now() -> String {
    // As `to_string` writes it, into a string made once at its length.
    let (now, mut stamp) = (jiff::Timestamp::now(), String::with_capacity(32));
    let printer = jiff::fmt::temporal::DateTimePrinter::new();
    match printer.print_timestamp(&now, &mut stamp) {
        Ok(()) => stamp,
        Err(_) => now.to_string(),
    }
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`, its directory private.
    pub fn open(path: &Path) -> io::Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let created = !path.exists();
        let conn = Connection::open(path).map_err(db)?;
        // It holds upload URLs while records wait for their bytes: the
        // owner's only (SQLite gives its -wal and -shm files the same mode).
        #[cfg(unix)]
        if created {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ledger::prepare(conn, path)
    }

    /// A ledger that lives in memory and ends with the process: for an
    /// embedded emulator's records, which end with it too.
    pub fn in_memory() -> io::Result<Ledger> {
        let conn = Connection::open_in_memory().map_err(db)?;
        Ledger::prepare(conn, Path::new(":memory:"))
    }

    /// Checks the schema's version, then sets the connection up.
    fn prepare(conn: Connection, path: &Path) -> io::Result<Ledger> {
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(newer(version, SCHEMA_VERSION));
        }
        // Turning a new database to WAL takes an exclusive lock, and SQLite
        // answers "database is locked" at once (no busy handler) while
        // another process opening the same new ledger holds it: ask again.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                done => break done.map_err(db)?,
            }
        }
        // Durable across a killed process (the WAL is in the OS's cache
        // when a commit returns); a power cut may lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        // A small page cache: a batch touches each entry a few times, in
        // order; SQLite's default 2 MiB would be most of the ledger's
        // memory. 128 KiB: a 500-file batch reads 0.3 pages a file back
        // from the OS (291 `pread64`, 149 at 256 KiB); not smaller: at 64
        // KiB it reads 1.8 a file and writes more (BENCHMARKS.md, "digests
        // from the checks' reads").
        conn.pragma_update(None, "cache_size", -128).map_err(db)?;
        // Every statement a batch runs stays prepared (rusqlite keeps 16).
        conn.set_prepared_statement_cache_capacity(32);
        if version < SCHEMA_VERSION {
            // Several processes may open a new ledger at once.
            let mut conn = conn;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            tx.execute_batch(SCHEMA).map_err(db)?;
            upgrade(&tx)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(db)?;
            tx.commit().map_err(db)?;
            indexes(&mut conn)?;
            return Ledger::ready(conn, path);
        }
        let mut conn = conn;
        indexes(&mut conn)?;
        Ledger::ready(conn, path)
    }

    fn ready(mut conn: Connection, path: &Path) -> io::Result<Ledger> {
        // What killed processes left in their journals.
        if path != Path::new(":memory:") {
            journal::fold_left(&mut conn, path)?;
        }
        let store = Store {
            conn,
            queued: Vec::new(),
            since: None,
            records: HashMap::default(),
            journal: journal::Journal::beside(path),
            journaled: HashMap::default(),
            journaled_jobs: HashMap::default(),
        };
        Ok(Ledger::with(
            Backend::Sqlite(Arc::new(Mutex::new(store))),
            path.display().to_string(),
        ))
    }

    /// Connects to the PostgreSQL ledger at `url` (creating its tables in
    /// a new database).
    pub fn open_url(url: &str) -> io::Result<Ledger> {
        let pg = postgres::Pg::open(url)?;
        Ok(Ledger::with(
            Backend::Postgres(Arc::new(pg)),
            postgres::redact(url),
        ))
    }

    fn with(backend: Backend, location: String) -> Ledger {
        Ledger {
            backend,
            location: location.into(),
            worker: Arc::new(Worker::this()),
            renewing: Arc::new(Once::new()),
            held: HeldClaims::default(),
            statuses: Arc::default(),
            account: Arc::default(),
        }
    }

    /// Where it is: a path, or a URL without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The SQLite connection, as it is (what this process queued not yet
    /// written). Only called once a PostgreSQL ledger took another way.
    fn raw(&self) -> MutexGuard<'_, Store> {
        match &self.backend {
            Backend::Sqlite(store) => store.lock().unwrap_or_else(|e| e.into_inner()),
            Backend::Postgres(_) => unreachable!("a PostgreSQL ledger has no SQLite connection"),
        }
    }

    /// The PostgreSQL ledger, if it is one.
    fn pg(&self) -> Option<&postgres::Pg> {
        match &self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sqlite(_) => None,
        }
    }

    /// The connection, with everything queued written.
    fn conn(&self) -> io::Result<MutexGuard<'_, Store>> {
        let mut store = self.raw();
        store.flush()?;
        Ok(store)
    }

    /// Runs `write` in one transaction, after what is queued.
    fn write<T>(&self, write: impl FnOnce(&Connection) -> io::Result<T>) -> io::Result<T> {
        self.raw().write(write)
    }

    /// Queues `write`; writes the queue if it is long or old enough.
    fn queue(&self, write: Queued) -> io::Result<()> {
        if let Some(pg) = self.pg() {
            return pg.queue(write);
        }
        self.raw().queue(write)
    }

    /// Writes everything queued now (at the end of a batch, or before
    /// another process is told an outcome).
    pub fn flush(&self) -> io::Result<()> {
        match self.pg() {
            Some(pg) => pg.flush(),
            None => self.conn().map(drop),
        }
    }

    /// The identity of the file at `path`: its digest is read from the
    /// ledger when its size and modification time are those saved, else
    /// computed (reading the whole file once) and saved.
    pub fn identify(&self, path: &Path) -> io::Result<Identity> {
        let mut identities = self.identify_many(&[path]);
        identities.pop().expect("one identity per path")
    }

    /// [`Ledger::identify`] for each of `paths`, the saved digests read
    /// with one query (PostgreSQL) or in one read transaction (SQLite).
    pub fn identify_many(&self, paths: &[&Path]) -> Vec<io::Result<Identity>> {
        let files: Vec<(&Path, Option<&Digested>)> = paths.iter().map(|&p| (p, None)).collect();
        self.known(&files)
            .into_iter()
            .map(|known| self.resolve(known?))
            .collect()
    }

    /// What the ledger already knows of each of `files` (their metadata,
    /// and the digest saved for it if the file is unchanged), read with
    /// one query or read transaction; a file that cannot be read fails
    /// here. A file with its digest already computed ([`Digested`]) is
    /// neither looked at on disk nor looked up.
    fn known(&self, files: &[(&Path, Option<&Digested>)]) -> Vec<io::Result<Known>> {
        // The working directory once, not once per file.
        let cwd = std::env::current_dir();
        let absolute = |path: &Path| match &cwd {
            Ok(cwd) if path.is_relative() => std::path::absolute(cwd.join(path)),
            _ => std::path::absolute(path),
        };
        let stat = |path: &Path| -> io::Result<(PathBuf, u64, i64)> {
            let path = absolute(path)?;
            let (size, mtime_ns) = metadata_of(&path)?;
            Ok((path, size, mtime_ns))
        };
        let stats: Vec<io::Result<(PathBuf, u64, i64)>> = files
            .iter()
            .map(|&(p, digested)| match digested {
                // Looked at when its turn comes ([`Ledger::resolve`]).
                Some(digested) => Ok((absolute(p)?, digested.size, digested.mtime_ns)),
                None => stat(p),
            })
            .collect();
        let wanted: Vec<(String, i64, i64)> = stats
            .iter()
            .zip(files)
            .filter(|(_, (_, digested))| digested.is_none())
            .filter_map(|(stat, _)| stat.as_ref().ok())
            .map(|(path, size, mtime_ns)| {
                (path.to_string_lossy().into_owned(), *size as i64, *mtime_ns)
            })
            .collect();
        let saved = match wanted.is_empty() {
            true => Ok(Vec::new()),
            false => self.saved_digests(&wanted),
        };
        let saved = match saved {
            Ok(saved) => saved,
            Err(e) => {
                return files
                    .iter()
                    .map(|_| Err(io::Error::other(e.to_string())))
                    .collect();
            }
        };
        let mut saved = saved.into_iter();
        stats
            .into_iter()
            .zip(files)
            .map(|(stat, (_, digested))| {
                let (path, size, mtime_ns) = stat?;
                let sha256 = match digested {
                    Some(digested) => Some(digested.sha256.clone()),
                    None => saved.next().flatten(),
                };
                Ok(Known {
                    path,
                    size,
                    mtime_ns,
                    sha256,
                    checked: digested.is_some(),
                })
            })
            .collect()
    }

    /// The identity of a file [`Ledger::known`] read: its saved digest, or
    /// one computed now (reading the whole file once) and saved; the digest
    /// its check computed if its metadata is still what it was then.
    fn resolve(&self, known: Known) -> io::Result<Identity> {
        let Known {
            path,
            mut size,
            mut mtime_ns,
            mut sha256,
            checked,
        } = known;
        if checked {
            let now = metadata_of(&path)?;
            if now != (size, mtime_ns) {
                (size, mtime_ns) = now;
                sha256 = None;
            }
        }
        let sha256 = match sha256 {
            Some(sha256) => sha256,
            None => {
                let sha256 = sha256_of(&path, size)?;
                self.queue(Queued::File {
                    path: path.to_string_lossy().into_owned(),
                    size: size as i64,
                    mtime_ns,
                    sha256: sha256.clone(),
                })?;
                sha256
            }
        };
        Ok(Identity { path, size, sha256 })
    }

    /// [`Ledger::identify`] for each of `files`, in order, on a thread of
    /// its own (the hashing is kept off the async runtime's threads), a few
    /// files ahead of the caller (a file whose digest its check computed,
    /// [`Digested`], is not looked up, and is read again only if its size
    /// or mtime changed since): the metadata of every other file and the
    /// saved digests are read now (the first file that cannot be read is
    /// named by its index in the error: the caller may go on without it),
    /// then the missing digests are computed while the caller works on
    /// the files before; a digest that cannot be computed ends the groups.
    /// The identities come in groups of at most `group` files, a group
    /// ending early once it holds [`HASH_AHEAD_BYTES`] of newly hashed
    /// bytes, so a batch of large files starts after the first one's
    /// digest, not after all of them.
    pub fn identify_ahead(
        &self,
        files: &[(&Path, Option<&Digested>)],
        group: usize,
    ) -> Result<IdentifyAhead, AheadError> {
        let mut known = Vec::with_capacity(files.len());
        for (i, result) in self.known(files).into_iter().enumerate() {
            known.push(result.map_err(|e| AheadError::File(i, e))?);
        }
        // One group in the channel, one being hashed: a few files ahead.
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let ledger = self.clone();
        let group = group.max(1);
        std::thread::Builder::new()
            .name("authenta-hash".into())
            .spawn(move || {
                let mut chunk = Vec::new();
                let mut hashed = 0u64;
                for (i, known) in known.into_iter().enumerate() {
                    if known.sha256.is_none() {
                        hashed += known.size;
                    }
                    let identity = ledger.resolve(known);
                    let failed = identity.is_err();
                    chunk.push((i, identity));
                    if failed || chunk.len() >= group || hashed >= HASH_AHEAD_BYTES {
                        hashed = 0;
                        // The caller stopped reading: nothing left to do.
                        if sender.blocking_send(std::mem::take(&mut chunk)).is_err() || failed {
                            return;
                        }
                    }
                }
                if !chunk.is_empty() {
                    let _ = sender.blocking_send(chunk);
                }
            })
            .map_err(AheadError::Thread)?;
        Ok(IdentifyAhead { receiver })
    }

    /// The digest saved for each `(path, size, mtime_ns)`, if it is the
    /// file's as it was then.
    fn saved_digests(&self, files: &[(String, i64, i64)]) -> io::Result<Vec<Option<String>>> {
        if let Some(pg) = self.pg() {
            return pg.saved_digests(files);
        }
        let mut store = self.raw();
        let tx = store.conn.transaction().map_err(db)?;
        // A new ledger has none: one look, not one a file.
        let none: bool = tx
            .prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM files)")
            .and_then(|mut s| s.query_row([], |row| row.get(0)))
            .map_err(db)?;
        if none {
            tx.finish().map_err(db)?;
            return Ok(vec![None; files.len()]);
        }
        let saved = files
            .iter()
            .map(|(path, size, mtime_ns)| {
                tx.prepare_cached(
                    "SELECT sha256 FROM files WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
                )
                .and_then(|mut s| {
                    s.query_row(params![path, size, mtime_ns], |row| row.get(0))
                        .optional()
                })
                .map_err(db)
            })
            .collect();
        tx.finish().map_err(db)?;
        saved
    }

    /// The account of `client`'s key.
    pub fn account(client: &authenta_reqwest::Client) -> Account {
        let config = client.config();
        // `Session::open` read them.
        let credentials = config
            .credentials()
            .expect("a session's key is read when it opens");
        // An API key has no public id: the ledger keys its entries by a
        // fingerprint of it (never the key).
        let client_id = match (credentials.client_id(), credentials.as_api_key()) {
            (Some(id), _) => id.to_owned(),
            (None, Some(key)) => {
                let digest = Sha256::digest(key.expose().as_bytes());
                format!("api-key:{}", hex(&digest[..8]))
            }
            (None, None) => String::new(),
        };
        Account {
            base_url: config.base_url().to_owned(),
            client_id,
        }
    }

    /// `account`, shared with the keys made before for it: a batch's keys
    /// are all one account's, and each kept a copy of its two strings.
    fn shared_account(&self, account: &Account) -> Arc<Account> {
        let mut last = lock(&self.account);
        match &*last {
            Some(shared) if **shared == *account => shared.clone(),
            _ => last.insert(Arc::new(account.clone())).clone(),
        }
    }

    /// The entry of `identity` under `model` for `account`.
    pub fn key(&self, account: &Account, identity: &Identity, model: &ModelType) -> EntryKey {
        EntryKey::of(self.shared_account(account), identity, model.to_string())
    }

    /// Where the entry's file starts, from what was saved (without
    /// claiming it).
    #[cfg(test)]
    fn resume(&self, key: &EntryKey, refresh: bool) -> io::Result<Resume> {
        saved_resume(&*self.conn()?, key, refresh)
    }

    /// Claims the entry `key` for this process, unless another live worker
    /// holds it, and says where it starts, from what was saved (`refresh`:
    /// a final record is read again, as if it were only uploaded). The
    /// claim holds until [`Ledger::release`] (or its lease runs out, the
    /// process gone): another process meanwhile gets [`Claim::Held`].
    pub fn claim(&self, key: &EntryKey, refresh: bool) -> io::Result<Claim> {
        let mut claims = self.claim_many::<Resume>(&[key], refresh)?;
        Ok(claims.pop().expect("one claim per key"))
    }

    /// [`Ledger::claim`] for each of `keys`, in one transaction: a batch
    /// claims the next few files it will start together, a transaction
    /// per group instead of per file.
    ///
    /// A record claimed anew (nothing saved) gets its `Creating` state in
    /// the same transaction, ahead of its create: the upload's own
    /// `Creating` checkpoint then writes nothing, as long as the claim's
    /// lease holds well beyond it (so no other worker can have taken it).
    /// Its `since` is the claim's time, a little earlier than the create:
    /// a rerun's sweep for what the create may have left looks from a
    /// little earlier (it already allows minutes for clock skew). A claim
    /// released before its create undoes it.
    pub fn claim_many<S: EntryState>(
        &self,
        keys: &[&EntryKey],
        refresh: bool,
    ) -> io::Result<Vec<Claim<S>>> {
        // The leases run from before they are written.
        let started = Instant::now();
        let since = now();
        let (claims, ahead) = match self.pg() {
            Some(pg) => {
                let claims = pg.claim_many::<S>(&self.worker, keys, refresh)?;
                let new: Vec<&EntryKey> = keys
                    .iter()
                    .zip(&claims)
                    .filter(|(_, claim)| {
                        S::AHEAD_IN_PG && matches!(claim, Claim::Mine(s) if s.writes_ahead())
                    })
                    .map(|(key, _)| *key)
                    .collect();
                let written = pg.write_ahead(&new, &since)?;
                let ahead = keys.iter().map(|key| written.contains(key)).collect();
                (claims, ahead)
            }
            None => {
                let (claims, ahead) = self.claim_sqlite::<S>(keys, refresh, &since)?;
                let mut store = self.raw();
                for (key, claim) in keys.iter().zip(&claims) {
                    if let Claim::Mine(state) = claim
                        && let Some(mid) = state.mid()
                    {
                        store.records.insert(mid.to_owned(), (*key).clone());
                    }
                }
                (claims, ahead)
            }
        };
        {
            let mut held = lock(&self.held);
            for ((key, claim), ahead) in keys.iter().zip(&claims).zip(ahead) {
                if let Claim::Mine(state) = claim
                    && !state.is_final()
                {
                    let until = started + LEASE;
                    let ahead = ahead.then(|| Ahead {
                        since: since.clone(),
                        undo: S::undo_ahead,
                    });
                    held.insert((*key).clone(), Held { until, ahead });
                }
            }
        }
        self.keep_renewing();
        Ok(claims)
    }

    /// [`Ledger::claim_many`] in SQLite: the claims, and whether each
    /// entry's `Creating` state was written ahead.
    fn claim_sqlite<S: EntryState>(
        &self,
        keys: &[&EntryKey],
        refresh: bool,
        since: &str,
    ) -> io::Result<(Vec<Claim<S>>, Vec<bool>)> {
        // A look first, without the write lock: final entries, or ones
        // another worker holds, are answered without waiting for writers.
        {
            // One read transaction for all the looks.
            let mut store = self.raw();
            let look = store.conn.transaction().map_err(db)?;
            let mut looked = Vec::with_capacity(keys.len());
            for key in keys {
                let resume = S::read(&look, key, refresh)?;
                if resume.is_final() {
                    looked.push(Claim::Mine(resume));
                } else if self.held_by_another(&look, key)? {
                    looked.push(Claim::Held);
                } else {
                    break;
                }
            }
            if looked.len() == keys.len() {
                return Ok((looked, vec![false; keys.len()]));
            }
        }
        let lease_until = unix_ms(SystemTime::now() + LEASE);
        let mut store = self.raw();
        // The queue waits for a later transaction, unless it is old or
        // these claims must read what it holds.
        let waiting = store.waiting_for(keys);
        let journals = store.journal.ledger().map(Path::to_path_buf);
        let owner = &self.worker.id;
        let claims: Vec<(Claim<S>, bool)> = store.transaction(waiting, |tx| {
            // This worker's lease, which its claims hold by.
            enlist(tx, &self.worker, lease_until)?;
            keys.iter()
                .map(|key| {
                    // Where the entry has no row (a record's or job's: see
                    // `EntryState::fresh`), the claim is the insert of its
                    // `Creating` state: one insert, no reads.
                    if let Some(fresh) = S::fresh()
                        && S::write_ahead(tx, key, since, Some(owner)).map_err(db)? == 1
                    {
                        return Ok((Claim::Mine(fresh), true));
                    }
                    // Read under the lock: another worker may have moved it
                    // on, its `Created` state maybe only in its journal yet
                    // (looked for once the entry is known to be free: a
                    // live worker's states wait there until its records end).
                    let mut resume = S::read(tx, key, refresh)?;
                    if resume.is_final() {
                        return Ok((Claim::Mine(resume), false));
                    }
                    if self.held_by_another(tx, key)? {
                        return Ok((Claim::Held, false));
                    }
                    if let (Some(since), Some(ledger)) = (resume.journaled_since(), &journals)
                        && journal::find(tx, ledger, key, since)?
                    {
                        resume = S::read(tx, key, refresh)?;
                    }
                    take_claim(tx, key, owner).map_err(db)?;
                    let ahead = resume.writes_ahead()
                        && S::write_ahead(tx, key, since, None).map_err(db)? == 1;
                    Ok((Claim::Mine(resume), ahead))
                })
                .collect()
        })?;
        Ok(claims.into_iter().unzip())
    }

    /// Ends this process's claim of `key`.
    fn delete_claim(&self, tx: &Connection, key: &EntryKey) -> io::Result<()> {
        end_claim(tx, key, &self.worker.id).map(drop).map_err(db)
    }

    /// Whether a live worker other than this one holds `key`: its entry's
    /// `owner`, whose lease holds and who has not exited.
    fn held_by_another(&self, conn: &Connection, key: &EntryKey) -> io::Result<bool> {
        let sql = entry_sql!(
            key,
            "SELECT owner, host, pid, lease_until FROM workers
             WHERE owner = (SELECT owner FROM ",
            "",
            ")"
        );
        let holder: Option<(String, String, i64, i64)> = conn
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(key.and(&[]).as_slice(), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()
            })
            .map_err(db)?;
        Ok(match holder {
            None => false,
            Some((owner, _, _, _)) if owner == self.worker.id => false,
            Some((_, host, pid, lease_until)) => {
                lease_until > unix_ms(SystemTime::now()) && !self.worker.outlived(&host, pid)
            }
        })
    }

    /// Gives up this process's claim of `key` (its outcome is saved, or
    /// another worker may try it).
    ///
    /// A `Creating` state its claim wrote ahead of a create that was never
    /// sent is undone (the entry is new again).
    pub fn release(&self, key: &EntryKey) -> io::Result<()> {
        let ahead = lock(&self.held).remove(key).and_then(|held| held.ahead);
        if let Some(pg) = self.pg() {
            return pg.release(&self.worker, key, ahead.map(|ahead| ahead.since));
        }
        let mut store = self.raw();
        store.write(|tx| {
            self.delete_claim(tx, key)?;
            match ahead {
                Some(ahead) => (ahead.undo)(tx, key, &ahead.since),
                None => Ok(()),
            }
        })?;
        // (After what was queued, which may write its record.)
        store.records.retain(|_, entry| entry != key);
        Ok(())
    }

    /// Writes what is queued and gives up every claim of this process.
    /// (Undoing, as [`Ledger::release`] does, what was written ahead of
    /// creates never sent.)
    pub fn release_all(&self) -> io::Result<()> {
        let held: Vec<(EntryKey, Option<Ahead>)> = lock(&self.held)
            .drain()
            .map(|(key, held)| (key, held.ahead))
            .collect();
        if let Some(pg) = self.pg() {
            let ahead: Vec<(EntryKey, String)> = (held.into_iter())
                .filter_map(|(key, ahead)| Some((key, ahead?.since)))
                .collect();
            return pg.release_all(&self.worker, &ahead);
        }
        let mut store = self.raw();
        store.write(|tx| {
            for (key, ahead) in &held {
                self.delete_claim(tx, key)?;
                if let Some(ahead) = ahead {
                    (ahead.undo)(tx, key, &ahead.since)?;
                }
            }
            // With its row gone, a worker holds nothing (a claim not ended
            // above included); so do the workers whose leases ran out.
            tx.execute(
                "DELETE FROM workers WHERE owner = ?1 OR lease_until < ?2",
                params![self.worker.id, unix_ms(SystemTime::now())],
            )
            .map_err(db)?;
            Ok(())
        })?;
        store.records.clear();
        // Everything it held is in the tables (made again if a state comes).
        store.journal.remove();
        Ok(())
    }

    /// Starts (once) the thread that renews this process's leases, a third
    /// of a lease apart, while the ledger is open.
    fn keep_renewing(&self) {
        self.renewing.call_once(|| {
            let worker = self.worker.clone();
            // What is queued is written too, however quiet the batch; `None`
            // once the ledger is closed. Of the claims this process holds
            // (the keys given), the ones it no longer does.
            type Renew = Box<dyn Fn(Vec<EntryKey>) -> Option<io::Result<Vec<EntryKey>>> + Send>;
            let renew: Renew = match &self.backend {
                Backend::Sqlite(store) => {
                    let store: Weak<Mutex<Store>> = Arc::downgrade(store);
                    Box::new(move |held| {
                        let store = store.upgrade()?;
                        let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
                        Some(store.transaction(Waiting::Due, |tx| {
                            // Every claim's lease at once (the row made
                            // again if it was dropped, its lease run out).
                            enlist(tx, &worker, unix_ms(SystemTime::now() + LEASE))?;
                            let mut lost = Vec::new();
                            for key in held {
                                if !claims(tx, &key, &worker.id).map_err(db)? {
                                    lost.push(key);
                                }
                            }
                            Ok(lost)
                        }))
                    })
                }
                Backend::Postgres(pg) => {
                    let pg = Arc::downgrade(pg);
                    Box::new(move |held: Vec<EntryKey>| {
                        let renewed = pg.upgrade()?.renew(&worker);
                        Some(renewed.map(|renewed| {
                            (held.into_iter())
                                .filter(|key| !renewed.iter().any(|columns| key.is(columns)))
                                .collect()
                        }))
                    })
                }
            };
            let held = Arc::downgrade(&self.held);
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(LEASE / 3);
                    let started = Instant::now();
                    let keys = match held.upgrade() {
                        Some(held) => lock(&held).keys().cloned().collect(),
                        None => return,
                    };
                    let Some(lost) = renew(keys) else { return };
                    let Some(held) = held.upgrade() else { return };
                    match lost {
                        // A claim not renewed is no longer this process's
                        // (one made since is kept).
                        Ok(lost) => lock(&held).retain(|key, claim| {
                            claim.until = started + LEASE;
                            !lost.contains(key)
                        }),
                        Err(e) => {
                            eprintln!("authenta: warning: cannot renew the ledger's claims: {e}")
                        }
                    }
                }
            });
        });
    }

    /// The checkpoint function of the entry `key` (the file `identity`):
    /// each point of its upload committed before the next request.
    pub fn checkpoint(&self, key: &EntryKey, identity: &Identity) -> CheckpointFn {
        let (ledger, key, identity) = (self.clone(), key.clone(), identity.clone());
        Arc::new(move |point: Checkpoint<'_>| ledger.save(&key, &identity, point))
    }

    /// Saves `point` of the upload of `key`: every point is saved before
    /// the request it guards (a `Created` state in SQLite's journal, or in
    /// PostgreSQL with those of the other uploads whose creates are in
    /// flight: see [`postgres::Pg::save_created`]).
    fn save(
        &self,
        key: &EntryKey,
        identity: &Identity,
        point: Checkpoint<'_>,
    ) -> io::Result<Saving> {
        match point {
            Checkpoint::Creating { request, at } => {
                self.save_creating(key, identity, request, at)?;
                // Its create is in flight until its `Created` state comes
                // (PostgreSQL groups the states of creates in flight).
                if let Some(pg) = self.pg() {
                    pg.create_sent(key);
                }
            }
            Checkpoint::Created { created, target } => {
                let state = CreatedState::of(created, target)?;
                return self.save_created(key, created.media.mid.to_string(), state);
            }
            // The one checkpoint whose loss costs no record: written with
            // the next group (see `Queued::Uploaded`).
            Checkpoint::Uploaded { mid } => self.queue(Queued::Uploaded {
                key: key.clone(),
                mid: mid.to_string(),
                at: now(),
            })?,
            _ => {}
        }
        Ok(Saving::Now)
    }

    /// Saves the `Creating` state of the upload of `key`: a create named
    /// `request.name` about to be sent at `at`.
    fn save_creating(
        &self,
        key: &EntryKey,
        identity: &Identity,
        request: &CreateMediaRequest,
        at: Timestamp,
    ) -> io::Result<()> {
        // Written with the claim (see `claim_many`).
        if self.written_ahead(key, Some(&request.name)) {
            return Ok(());
        }
        if let Some(pg) = self.pg() {
            let point = Checkpoint::Creating { request, at };
            return pg.save_checkpoint(&self.worker, key, identity, point);
        }
        let holds = self.claim_holds(key);
        self.write(|tx| {
            // Under the write lock: a worker whose claim was taken over
            // (its lease ran out while it stalled) creates nothing.
            if !holds && self.held_by_another(tx, key)? {
                return Err(taken_over());
            }
            write_creating(tx, key, &request.name, &at.to_string(), false)
                .map(drop)
                .map_err(db)
        })
    }

    /// Saves the `Created` state of the upload of `key` (record `mid`)
    /// before its bytes go.
    ///
    /// SQLite: in this process's journal, at once (see [`journal`]); in the
    /// tables with the queue.
    ///
    /// PostgreSQL: in one transaction with the states of the creates in
    /// flight beside it; the upload's bytes wait for it (see
    /// [`postgres::Pg::save_created`]).
    fn save_created(&self, key: &EntryKey, mid: String, state: CreatedState) -> io::Result<Saving> {
        let pg = match &self.backend {
            Backend::Sqlite(store) => {
                lock(store).save_created(key, mid, state)?;
                return Ok(Saving::Now);
            }
            Backend::Postgres(pg) => pg,
        };
        pg.save_created(key, state)
    }

    /// Whether this process's claim of `key` holds well beyond now: its
    /// lease (as last written or renewed, known in memory) runs
    /// [`LEASE_MARGIN`] more at least, so no other worker can have taken it
    /// over, and a checkpoint need not read the claim again (a statement
    /// a checkpoint: four a file for a job). Otherwise it reads it.
    fn claim_holds(&self, key: &EntryKey) -> bool {
        lock(&self.held).get(key).is_some_and(Held::holds)
    }

    /// Whether the `Creating` state of `key` (a create named `name`) was
    /// written ahead with its claim, which holds long enough that no other
    /// worker can take it before the create is sent: then the checkpoint
    /// writes nothing. Either way the claim is no longer undone on release.
    fn written_ahead(&self, key: &EntryKey, name: Option<&str>) -> bool {
        let mut held = lock(&self.held);
        let Some(claim) = held.get_mut(key) else {
            return false;
        };
        let ahead = claim.ahead.take();
        ahead.is_some() && name.is_none_or(|name| key.name() == name) && claim.holds()
    }

    /// Saves the last status seen of `media` (a record any entry holds;
    /// queued), unless it is the one saved last: a batch reads each
    /// record's status at every poll, most often the same one while the
    /// record is processed, and each was a statement (a no-op `UPDATE`)
    /// once the queue had been written in between. A final status is not
    /// saved here either: its record is ([`Ledger::finished`]), with the
    /// status in it, once the batch has it whole (a status read from a
    /// page of the list is followed by a `GET` of the record, and the
    /// queue was most often written in between: a statement a file).
    /// Lost with a killed process, it costs nothing: the entry's record is
    /// read again on the next run.
    pub fn seen(&self, media: &Media) -> io::Result<()> {
        if media.status.is_final() {
            return Ok(());
        }
        let (mid, status) = (media.mid.to_string(), media.status.to_string());
        {
            let mut statuses = lock(&self.statuses);
            if statuses.get(&mid) == Some(&status) {
                return Ok(());
            }
            statuses.insert(mid.clone(), status.clone());
        }
        self.queue(Queued::Seen {
            mid,
            status,
            at: now(),
        })
    }

    /// Saves a final record, ending this process's claim of its entry
    /// (queued: [`Ledger::flush`] writes it at once).
    /// Its artifact URLs (and the current API's URL of the original) are
    /// not kept: they are pre-signed (credentials until they expire, soon);
    /// `--refresh` or `authenta report` reads fresh ones.
    pub fn finished(&self, media: &Media) -> io::Result<()> {
        lock(&self.statuses).remove(media.mid.as_str());
        let mut kept = media.clone();
        kept.heatmap_url = None;
        kept.result_url = None;
        kept.src_url = None;
        for participant in kept.participants.iter_mut().flatten() {
            participant.heatmap = None;
        }
        let mid = media.mid.to_string();
        // (SQLite) Its claim ends with the record's write: none left for
        // `release_all` to end.
        if let Backend::Sqlite(store) = &self.backend
            && let Some(key) = lock(store).records.get(&mid)
        {
            lock(&self.held).remove(key);
        }
        self.queue(Queued::Finished {
            mid,
            status: media.status.to_string(),
            record: serde_json::to_string(&kept).map_err(io::Error::other)?,
            at: now(),
            owner: self.worker.id.clone(),
        })
    }

    /// Drops the entries of `mid` (a record that no longer exists).
    pub fn forget_mid(&self, mid: &str) -> io::Result<usize> {
        if let Some(pg) = self.pg() {
            return pg.forget_mid(mid);
        }
        let mut store = self.raw();
        let key = store.records.remove(mid);
        store.write(|tx| {
            let records = match &key {
                Some(key) => tx.execute(
                    "DELETE FROM entries WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3
                       AND model = ?4 AND mid = ?5",
                    key.and(&[&mid]).as_slice(),
                ),
                // Not a record of this process's: a look at every row.
                None => tx.execute("DELETE FROM entries WHERE mid = ?1", params![mid]),
            }
            .map_err(db)?;
            let jobs = tx
                .execute("DELETE FROM job_entries WHERE job = ?1", params![mid])
                .map_err(db)?;
            Ok(records + jobs)
        })
    }

    /// Drops what the ledger holds for `path` (every entry of its bytes,
    /// whatever the model or account, and the file's saved digest). Its
    /// bytes are those of its saved digest and, for a small file (whose
    /// digest is not saved: [`Digested`]), those it holds now.
    pub fn forget_path(&self, path: &Path) -> io::Result<usize> {
        let path = std::path::absolute(path)?;
        let key = path.to_string_lossy().into_owned();
        // A small file that cannot be read is forgotten by its path and
        // saved digest alone, as before small files' digests went unsaved.
        let now = std::fs::metadata(&path)
            .ok()
            .filter(|m| m.is_file() && m.len() <= DIGEST_WHOLE)
            .and_then(|m| sha256_of(&path, m.len()).ok());
        if let Some(pg) = self.pg() {
            return pg.forget_path(&key, now.as_deref());
        }
        let conn = self.conn()?;
        let saved: Option<String> = conn
            .query_row(
                "SELECT sha256 FROM files WHERE path = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?;
        let mut dropped = conn
            .execute("DELETE FROM entries WHERE path = ?1", params![key])
            .map_err(db)?;
        dropped += conn
            .execute("DELETE FROM job_entries WHERE path = ?1", params![key])
            .map_err(db)?;
        for sha256 in saved.iter().chain(now.iter()) {
            dropped += conn
                .execute("DELETE FROM entries WHERE sha256 = ?1", params![sha256])
                .map_err(db)?;
            dropped += conn
                .execute("DELETE FROM job_entries WHERE sha256 = ?1", params![sha256])
                .map_err(db)?;
        }
        conn.execute("DELETE FROM files WHERE path = ?1", params![key])
            .map_err(db)?;
        Ok(dropped)
    }

    /// Every entry, most recently changed first: the records' entries, then
    /// the jobs' (the job id in the `mid` column, no record kept).
    pub fn rows(&self) -> io::Result<Vec<Row>> {
        if let Some(pg) = self.pg() {
            return pg.rows();
        }
        let conn = self.conn()?;
        let mut rows = listed(
            &conn,
            "SELECT base_url, client_id, sha256, model, path, mid, stage, status, record,
                    updated_at
             FROM entries ORDER BY updated_at DESC, path",
        )?;
        rows.extend(listed(
            &conn,
            "SELECT base_url, client_id, sha256, task, path, job, stage, status, NULL,
                    updated_at
             FROM job_entries ORDER BY updated_at DESC, path",
        )?);
        Ok(rows)
    }

    /// Every final record saved for `account`, with the path it was
    /// processed from, in path order.
    pub fn final_entries(&self, account: &Account) -> io::Result<Vec<(PathBuf, Media)>> {
        if let Some(pg) = self.pg() {
            let rows = pg.final_entries(account)?;
            return Ok(rows
                .into_iter()
                .filter_map(|(path, record)| {
                    let media = serde_json::from_str(&record?).ok()?;
                    Some((PathBuf::from(path), media))
                })
                .collect());
        }
        let conn = self.conn()?;
        let mut statement = conn
            .prepare(
                "SELECT path, record FROM entries
                 WHERE base_url = ?1 AND client_id = ?2 AND stage = 'final' AND record IS NOT NULL
                 ORDER BY path",
            )
            .map_err(db)?;
        let rows = statement
            .query_map(params![account.base_url, account.client_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(db)?;
        let mut entries = Vec::new();
        for row in rows {
            let (path, record) = row.map_err(db)?;
            if let Ok(media) = serde_json::from_str(&record) {
                entries.push((PathBuf::from(path), media));
            }
        }
        Ok(entries)
    }

    /// The final record saved for the bytes of the file at `item` (any
    /// model, whatever path they were processed under), for `account`.
    pub fn final_record(&self, account: &Account, item: &Path) -> io::Result<Option<Media>> {
        let identity = self.identify(item)?;
        if let Some(pg) = self.pg() {
            let record = pg.final_record(account, &identity.sha256)?;
            return Ok(record.and_then(|r| serde_json::from_str(&r).ok()));
        }
        let record: Option<String> = self
            .conn()?
            .query_row(
                "SELECT record FROM entries
                 WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND stage = 'final'
                 ORDER BY updated_at DESC LIMIT 1",
                params![account.base_url, account.client_id, identity.sha256],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?
            .flatten();
        Ok(record.and_then(|r| serde_json::from_str(&r).ok()))
    }
}

/// The claims of the items `group` names, in one transaction: each item
/// with its claim (`None` without a ledger, or for an item `key` gives no
/// entry). A failure is kept in `failed` and ends the claims.
pub fn claim_group<S: EntryState>(
    ledger: Option<&Ledger>,
    group: Vec<usize>,
    key: impl Fn(usize) -> Option<EntryKey>,
    refresh: bool,
    failed: &Mutex<Option<io::Error>>,
) -> Vec<(usize, Option<Claim<S>>)> {
    let Some(ledger) = ledger else {
        return group.iter().map(|&g| (g, None)).collect();
    };
    let mut failure = failed.lock().unwrap_or_else(|e| e.into_inner());
    if failure.is_some() {
        return Vec::new();
    }
    let keys: Vec<Option<EntryKey>> = group.iter().map(|&g| key(g)).collect();
    let some: Vec<&EntryKey> = keys.iter().flatten().collect();
    match ledger.claim_many::<S>(&some, refresh) {
        Ok(claims) => {
            let mut claims = claims.into_iter();
            group
                .into_iter()
                .zip(keys)
                .map(|(g, key)| (g, key.and_then(|_| claims.next())))
                .collect()
        }
        Err(e) => {
            *failure = Some(e);
            Vec::new()
        }
    }
}

/// `order` in groups of `group` (at least one), each claimed by
/// [`claim_group`].
pub fn in_groups(order: &[usize], group: usize) -> std::vec::IntoIter<Vec<usize>> {
    let groups: Vec<Vec<usize>> = order.chunks(group.max(1)).map(<[usize]>::to_vec).collect();
    groups.into_iter()
}

/// The stage column of a job entry at `stage`.
fn stage_name(stage: &JobStage) -> &'static str {
    match stage {
        JobStage::Created { .. } => "created",
        JobStage::Uploaded { .. } => "uploaded",
        _ => "finalized",
    }
}

impl Ledger {
    /// The entry of a job of `task` over the file `identity` (with the
    /// reference image `reference`, if any) for `account`: its task key
    /// (`job:` the task type's slug, `:` the reference's digest) stands in
    /// the claims' `model` column.
    pub fn job_key(
        &self,
        account: &Account,
        identity: &Identity,
        task: &TaskType,
        reference: Option<&Identity>,
    ) -> EntryKey {
        let slug = task
            .info()
            .map_or_else(|| task.to_string(), |t| t.slug.to_owned());
        let model = match reference {
            Some(reference) => format!("job:{slug}:{}", reference.sha256),
            None => format!("job:{slug}"),
        };
        EntryKey::of(self.shared_account(account), identity, model)
    }

    /// The checkpoint function of the job entry `key` (the file
    /// `identity`): each stage saved before the request that depends on
    /// it (a `Creating` state its claim wrote ahead writes nothing; in
    /// SQLite a `Created` stage goes to the journal, see [`journal`]),
    /// but for a SQLite ledger's `Finalized` stage, which waits for the
    /// queue (see [`Queued::JobFinalized`]).
    pub fn job_checkpoint(&self, key: &EntryKey, identity: &Identity) -> JobCheckpointFn {
        let (ledger, key, identity) = (self.clone(), key.clone(), identity.clone());
        Arc::new(move |point: JobCheckpoint<'_>| ledger.save_job(&key, &identity, point))
    }

    fn save_job(
        &self,
        key: &EntryKey,
        identity: &Identity,
        point: JobCheckpoint<'_>,
    ) -> io::Result<()> {
        let (since, stage) = match point {
            // Written with the claim (see `claim_many`).
            JobCheckpoint::Creating { .. } if self.written_ahead(key, None) => return Ok(()),
            JobCheckpoint::Creating { at, .. } => (Some(at.to_string()), None),
            JobCheckpoint::Stage(stage) => (None, Some(stage)),
            _ => return Ok(()),
        };
        let json = |stage: &JobStage| serde_json::to_string(stage).map_err(io::Error::other);
        if let Some(pg) = self.pg() {
            let write = postgres::JobWrite {
                path: identity.path.to_string_lossy().into_owned(),
                size: identity.size as i64,
                since,
                job: stage.map(|s| s.job().to_string()),
                stage: stage.map_or("creating", stage_name),
                saved: stage.map(json).transpose()?,
                at: now(),
            };
            return pg.save_job(&self.worker, key, write);
        }
        match stage {
            // The job (and, created, its slots' upload URLs): in the
            // journal at once (see [`journal`]), in the tables with the
            // queue or dropped by the next stage. The `Uploaded` stage must
            // outlive a killed process before the finalize goes (resumed
            // from `Created`, the job's slots would be sent again to a job
            // that may be finalized): the journal keeps it as a commit
            // would, and a claim that meets a `created` job entry looks for
            // it in the journals ([`EntryState::journaled_since`]).
            Some(stage @ (JobStage::Created { job, .. } | JobStage::Uploaded { job })) => {
                // A worker whose claim was taken over (its lease ran out
                // while it stalled) does not move the job on to its
                // finalize.
                if matches!(stage, JobStage::Uploaded { .. })
                    && !self.claim_holds(key)
                    && self.held_by_another(&self.raw().conn, key)?
                {
                    return Err(taken_over());
                }
                let journaled = JobJournaled {
                    key: key.clone(),
                    stamp: now(),
                    job: job.to_string(),
                    saved: serde_json::value::to_raw_value(stage).map_err(io::Error::other)?,
                    stage: stage_name(stage),
                };
                return self.raw().save_job_journaled(journaled);
            }
            // The one stage whose loss costs only a read: written with the
            // next group (see `Queued::JobFinalized`).
            Some(finalized @ JobStage::Finalized { job }) => {
                return self.queue(Queued::JobFinalized {
                    key: key.clone(),
                    job: job.to_string(),
                    saved: json(finalized)?,
                    at: now(),
                });
            }
            _ => {}
        }
        let job = stage.map(|s| s.job().to_string());
        let saved = stage.map(json).transpose()?;
        let stage = stage.map_or("creating", stage_name);
        let holds = self.claim_holds(key);
        self.write(|tx| {
            // A worker whose claim was taken over (its lease ran out while
            // it stalled) creates nothing, nor moves the entry on.
            if !holds && self.held_by_another(tx, key)? {
                return Err(taken_over());
            }
            tx.prepare_cached(
                "INSERT INTO job_entries (base_url, client_id, sha256, task, path, size, since,
                                          job, stage, saved, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (base_url, client_id, sha256, task) DO UPDATE SET
                   path = ?5, size = ?6, since = coalesce(?7, since), job = ?8, stage = ?9,
                   saved = ?10, status = NULL, record = NULL, updated_at = ?11",
            )
            .and_then(|mut s| {
                s.execute(
                    key.and(&[
                        &identity.path.to_string_lossy(),
                        &(identity.size as i64),
                        &since,
                        &job,
                        &stage,
                        &saved,
                        &now(),
                    ])
                    .as_slice(),
                )
            })
            .map(drop)
            .map_err(db)
        })
    }

    /// Saves the final job of the entry `key`, ending this process's claim
    /// of it (queued: [`Ledger::flush`] writes it at once). Its artifact
    /// URLs are not kept (pre-signed, soon expired).
    pub fn job_finished(&self, key: &EntryKey, job: &Job) -> io::Result<()> {
        let mut kept = job.clone();
        for artifact in &mut kept.artifacts {
            artifact.download_url = None;
        }
        // (SQLite) Its claim ends with the job's write: none left for
        // `release_all` to end.
        if let Backend::Sqlite(_) = &self.backend {
            lock(&self.held).remove(key);
        }
        self.queue(Queued::JobFinished {
            key: key.clone(),
            job: job.id.to_string(),
            status: job.status.to_string(),
            record: serde_json::to_string(&kept).map_err(io::Error::other)?,
            at: now(),
            owner: self.worker.id.clone(),
        })
    }

    /// Drops the job entry `key` (its job no longer exists: the next run
    /// creates it anew).
    pub fn forget_job(&self, key: &EntryKey) -> io::Result<usize> {
        if let Some(pg) = self.pg() {
            return pg.forget_job(key);
        }
        self.write(|tx| {
            tx.execute(
                "DELETE FROM job_entries
                 WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND task = ?4",
                key.and(&[]).as_slice(),
            )
            .map_err(db)
        })
    }
}

/// The rows `sql` selects (base URL, client id, SHA-256, model or task,
/// path, record or job id, stage, status, record, updated at) as `authenta
/// ledger` shows them.
fn listed(store: &Store, sql: &str) -> io::Result<Vec<Row>> {
    let mut statement = store.conn.prepare(sql).map_err(db)?;
    let rows = statement
        .query_map([], |row| {
            let record: Option<String> = row.get(8)?;
            Ok(Row {
                base_url: row.get(0)?,
                client_id: row.get(1)?,
                sha256: row.get(2)?,
                model: row.get(3)?,
                path: row.get(4)?,
                mid: row.get(5)?,
                stage: row.get(6)?,
                status: row.get(7)?,
                record: record.and_then(|r| serde_json::from_str(&r).ok()),
                updated_at: row.get(9)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

impl Row {
    /// The row as one JSON object.
    pub fn json(&self) -> Value {
        json!({
            "path": self.path,
            "sha256": self.sha256,
            "model": self.model,
            "baseUrl": self.base_url,
            "clientId": self.client_id,
            "mid": self.mid,
            "stage": self.stage,
            "status": self.status,
            "record": self.record,
            "updatedAt": self.updated_at,
        })
    }
}

/// An entry's saved state: stage, name, since, mid, created_at, target,
/// record.
type Saved = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Where the entry `key` starts, from what `conn` holds (see
/// [`Ledger::claim`]).
fn saved_resume(conn: &Connection, key: &EntryKey, refresh: bool) -> io::Result<Resume> {
    let saved: Option<Saved> = entry_row(
        conn,
        "SELECT stage, name, since, mid, created_at, target, record FROM entries
         WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
        key,
    )?;
    Ok(resume_of(saved, refresh))
}

/// The row `sql` selects for the entry `key` (its columns `?1` to `?4`),
/// as a tuple of its columns, if there is one.
fn entry_row<T>(conn: &Connection, sql: &str, key: &EntryKey) -> io::Result<Option<T>>
where
    T: for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
{
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_row(key.and(&[]).as_slice(), |row| T::try_from(row))
                .optional()
        })
        .map_err(db)
}

/// Where an entry starts, from its saved state (`refresh`: a final record
/// is read again, as if only uploaded).
fn resume_of(saved: Option<Saved>, refresh: bool) -> Resume {
    let Some((stage, name, since, mid, created_at, target, record)) = saved else {
        return Resume::New;
    };
    let mid = mid.map(MediaId::new);
    let created_at = created_at.and_then(|t| t.parse().ok());
    let record: Option<Media> = record.and_then(|r| serde_json::from_str(&r).ok());
    let target: Option<UploadTarget> = target.and_then(|t| serde_json::from_str(&t).ok());
    let since = since.and_then(|t| t.parse().ok());
    // A row that does not read back whole is started again.
    match (stage.as_str(), mid, record, target) {
        ("final", Some(mid), _, _) if refresh => Resume::Uploaded { mid, created_at },
        ("final", _, Some(media), _) => Resume::Final(Box::new(media)),
        ("final" | "uploaded", Some(mid), _, _) => Resume::Uploaded { mid, created_at },
        ("created", Some(mid), _, Some(target)) => Resume::Created {
            mid,
            created_at,
            target: Box::new(target),
        },
        ("creating", ..) => match (name, since) {
            (Some(name), Some(since)) => Resume::Creating { name, since },
            _ => Resume::New,
        },
        _ => Resume::New,
    }
}

/// Makes the indexes of a ledger those of [`INDEXES`] (once: a look at the
/// schema otherwise).
fn indexes(conn: &mut Connection) -> io::Result<()> {
    let stale = |conn: &Connection| -> io::Result<bool> {
        for (name, wanted) in INDEXES {
            let sql: Option<String> = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            if sql.as_deref() != wanted {
                return Ok(true);
            }
        }
        Ok(false)
    };
    if !stale(conn)? {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    // Another process may have done it meanwhile.
    if stale(&tx)? {
        for (name, wanted) in INDEXES {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(db)?;
            if let Some(create) = wanted {
                tx.execute_batch(create).map_err(db)?;
            }
        }
    }
    tx.commit().map_err(db)
}

/// Brings a ledger of an earlier version up to date in `tx`, after
/// [`SCHEMA`] made the tables it lacked: entries gain their `owner`, and
/// the claims of versions 2 and 3 (a row each, in `claims`) move into
/// their entries, their workers' leases into `workers`. Another process
/// that does it again meanwhile finds nothing left to do.
fn upgrade(tx: &Connection) -> io::Result<()> {
    let any = |sql: &str| -> io::Result<bool> {
        (tx.query_row(sql, [], |row| row.get::<_, i64>(0)))
            .map(|n| n > 0)
            .map_err(db)
    };
    for table in ["entries", "job_entries"] {
        let has_owner = any(&format!(
            "SELECT count(*) FROM pragma_table_info('{table}') WHERE name = 'owner'"
        ))?;
        if !has_owner {
            (tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN owner TEXT")))
                .map_err(db)?;
        }
    }
    if any("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'claims'")? {
        tx.execute_batch(
            "INSERT INTO workers (owner, host, pid, lease_until)
               SELECT owner, host, pid, max(lease_until) FROM claims WHERE true GROUP BY owner;
             UPDATE entries SET owner = c.owner FROM claims c
               WHERE c.base_url = entries.base_url AND c.client_id = entries.client_id
                 AND c.sha256 = entries.sha256 AND c.model = entries.model;
             UPDATE job_entries SET owner = c.owner FROM claims c
               WHERE c.base_url = job_entries.base_url AND c.client_id = job_entries.client_id
                 AND c.sha256 = job_entries.sha256 AND c.model = job_entries.task;
             DROP TABLE claims;",
        )
        .map_err(db)?;
    }
    Ok(())
}

/// A ledger of a later schema than this authenta reads.
fn newer(version: i64, reads: i64) -> io::Error {
    io::Error::other(format!(
        "it was written by a newer authenta (ledger version {version}, this one reads \
         {reads}): upgrade authenta"
    ))
}

/// A checkpoint of an entry another worker took over.
fn taken_over() -> io::Error {
    io::Error::other(
        "another authenta process took this file over (this one's claim ran out): it is not \
         created twice",
    )
}

/// The upsert of an entry's `Creating` state.
macro_rules! creating_sql {
    () => {
        "INSERT INTO entries (base_url, client_id, sha256, model, path, size, name, since,
                              stage, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'creating', ?9)
         ON CONFLICT (base_url, client_id, sha256, model) DO UPDATE SET
           path = ?5, size = ?6, name = ?7, since = ?8, mid = NULL, created_at = NULL,
           target = NULL, expires_at = NULL, stage = 'creating', status = NULL,
           record = NULL, updated_at = ?9"
    };
}

/// Writes the `Creating` state of the entry `key`: a create named `name`
/// about to be sent at `since`; how many rows (`ahead`: written with a
/// claim, ahead of the create, and never over a final record).
fn write_creating(
    tx: &Connection,
    key: &EntryKey,
    name: &str,
    since: &str,
    ahead: bool,
) -> rusqlite::Result<usize> {
    let sql = match ahead {
        false => concat!(creating_sql!(), ""),
        true => concat!(creating_sql!(), " WHERE stage <> 'final'"),
    };
    tx.prepare_cached(sql)?.execute(
        key.and(&[&key.path, &key.size, &name, &since, &now()])
            .as_slice(),
    )
}

/// Inserts the `Creating` state of the entry `key` written ahead with its
/// claim by `owner` (the create named after the file, about to be sent
/// from `since`), unless the entry has a row; how many rows it wrote.
fn write_new_creating(
    tx: &Connection,
    key: &EntryKey,
    since: &str,
    owner: &str,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO entries (base_url, client_id, sha256, model, path, size, name, since,
                              stage, updated_at, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'creating', ?8, ?9)
         ON CONFLICT DO NOTHING",
    )?
    .execute(
        key.and(&[&key.path, &key.size, &key.name(), &since, &owner])
            .as_slice(),
    )
}

/// Undoes the `Creating` state written ahead (at `since`) with the claim
/// of `key`, whose create was never sent: the entry is new again.
fn undo_ahead(tx: &Connection, key: &EntryKey, since: &str) -> io::Result<()> {
    tx.prepare_cached(
        "DELETE FROM entries WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3
           AND model = ?4 AND stage = 'creating' AND since = ?5",
    )
    .and_then(|mut s| s.execute(key.and(&[&since]).as_slice()))
    .map(drop)
    .map_err(db)
}

/// Ends `owner`'s claim of `key` (its entry is then nobody's); how many
/// rows (0 or 1).
fn end_claim(tx: &Connection, key: &EntryKey, owner: &str) -> rusqlite::Result<usize> {
    let sql = entry_sql!(key, "UPDATE ", " SET owner = NULL", " AND owner = ?5");
    tx.prepare_cached(sql)?
        .execute(key.and(&[&owner]).as_slice())
}

/// Writes `worker`'s row in `tx`, its lease until `lease_until` (the lease
/// of every claim it holds).
fn enlist(tx: &Connection, worker: &Worker, lease_until: i64) -> io::Result<()> {
    tx.prepare_cached(
        "INSERT INTO workers (owner, host, pid, lease_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (owner) DO UPDATE SET lease_until = excluded.lease_until",
    )
    .and_then(|mut s| s.execute(params![worker.id, worker.host, worker.pid, lease_until]))
    .map(drop)
    .map_err(db)
}

/// Makes `key`'s entry (it has a row) `owner`'s claim.
fn take_claim(tx: &Connection, key: &EntryKey, owner: &str) -> rusqlite::Result<usize> {
    let sql = entry_sql!(key, "UPDATE ", " SET owner = ?5", "");
    tx.prepare_cached(sql)?
        .execute(key.and(&[&owner]).as_slice())
}

/// Whether `owner` still claims `key`.
fn claims(tx: &Connection, key: &EntryKey, owner: &str) -> rusqlite::Result<bool> {
    let sql = entry_sql!(key, "SELECT 1 FROM ", "", " AND owner = ?5");
    tx.prepare_cached(sql)?
        .exists(key.and(&[&owner]).as_slice())
}

/// An entry's key columns: base URL, client id, SHA-256, model.
type KeyColumns = (String, String, String, String);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The SHA-256 of a file's bytes, in hex (`size`: its size when it was
/// looked at, which sizes the buffer; it is read to its end whatever its
/// size is now).
fn sha256_of(path: &Path, size: u64) -> io::Result<String> {
    let file = File::open(path)?;
    // A small file's buffer is its size (and one byte to see its end):
    // the hashing thread's memory stays a few pages for small files. The
    // size its metadata said, not asked again: a call less a file.
    digest(
        file,
        usize::try_from(size).map_or(READ, |n| (n + 1).min(READ)),
    )
}

/// The SHA-256 of what `reader` yields to its end, in lower-case hex (64 KiB
/// reads): the one digest the ledger and `authenta mcp` key entries by.
pub(crate) fn sha256_hex(file: impl Read) -> io::Result<String> {
    digest(file, READ)
}

/// How much a digest reads at a time.
const READ: usize = 1 << 16;

fn digest(mut file: impl Read, buffer: usize) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; buffer.max(1)];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Creates `dir` (and its parents), readable by its owner only.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A checkpoint function whose points are each saved when it returns (it
/// waits for a point saved later): what the tests call.
#[cfg(test)]
pub(crate) fn saving(save: CheckpointFn) -> impl Fn(Checkpoint<'_>) -> io::Result<()> {
    move |point| match save(point)? {
        Saving::Now => Ok(()),
        Saving::Later(later) => authenta_reqwest::client::block_on(later),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// How many entries a worker claims (records' and jobs').
    const CLAIMS_HELD: &str = "SELECT (SELECT count(*) FROM entries WHERE owner IS NOT NULL)
                                    + (SELECT count(*) FROM job_entries WHERE owner IS NOT NULL)";

    /// A file whose size and modification time are those saved keeps its
    /// saved digest (it is not read); a new ledger, which has none saved,
    /// answers every file of a group with one look and hashes each.
    #[test]
    fn a_saved_digest_answers_an_unchanged_file_and_a_new_ledger_hashes_each() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let hex = |bytes: &[u8]| hex(&Sha256::digest(bytes));
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let identities = ledger.identify_many(&[&a, &b]);
        let digests: Vec<String> = identities.into_iter().map(|i| i.unwrap().sha256).collect();
        assert_eq!(digests, [hex(b"one"), hex(b"two")]);
        ledger.flush().unwrap();
        // Same size, same time: the saved digest, though the bytes differ.
        let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::fs::write(&a, b"ONE").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(ledger.identify(&a).unwrap().sha256, hex(b"one"));
        // Another time: read again.
        std::fs::write(&b, b"TWO").unwrap();
        let later = mtime + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(ledger.identify(&b).unwrap().sha256, hex(b"TWO"));
    }

    /// A file's digest computed by its check ([`Digested`]) answers while
    /// its size and modification time are those of its check: the file
    /// is not read again (its bytes may differ) and the digest is not
    /// saved. Changed since, it is read again, and that digest saved; gone,
    /// it fails alone.
    #[test]
    fn a_check_s_digest_answers_while_the_file_s_metadata_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let hex = |bytes: &[u8]| hex(&Sha256::digest(bytes));
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let checked = |path: &Path, bytes: &[u8]| Digested {
            size: bytes.len() as u64,
            mtime_ns: metadata_of(path).unwrap().1,
            sha256: hex(bytes),
        };
        let (da, db) = (checked(&a, b"one"), checked(&b, b"two"));
        let saved = |ledger: &Ledger| -> i64 {
            ledger.flush().unwrap();
            (ledger.conn().unwrap())
                .query_row("SELECT count(*) FROM files", [], |row| row.get(0))
                .unwrap()
        };
        let identify = |path: &Path, digested: &Digested| {
            let known = ledger.known(&[(path, Some(digested))]).pop().unwrap();
            ledger.resolve(known.unwrap())
        };
        // Other bytes of the same size, the same time: the check's digest.
        let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::fs::write(&a, b"ONE").unwrap();
        let set_modified = |path: &Path, time| {
            (std::fs::File::options().write(true).open(path).unwrap())
                .set_modified(time)
                .unwrap()
        };
        set_modified(&a, mtime);
        let identity = identify(&a, &da).unwrap();
        assert_eq!((identity.sha256, identity.size), (hex(b"one"), 3));
        assert_eq!(saved(&ledger), 0, "a check's digest is not saved");
        // Another time: read again, and saved.
        std::fs::write(&b, b"TWO").unwrap();
        set_modified(&b, mtime + Duration::from_secs(5));
        assert_eq!(identify(&b, &db).unwrap().sha256, hex(b"TWO"));
        assert_eq!(saved(&ledger), 1);
        // Gone: an error of its own.
        std::fs::remove_file(&a).unwrap();
        let err = identify(&a, &da).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }

    #[test]
    fn states_read_back_as_proto_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("state/ledger.sqlite")).unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"bytes").unwrap();
        let identity = ledger.identify(&file).unwrap();
        let expected: String = Sha256::digest(b"bytes")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(identity.sha256, expected);
        let account = Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        };
        let key = ledger.key(&account, &identity, &ModelType::Ac1);
        assert!(matches!(ledger.resume(&key, false).unwrap(), Resume::New));
        let save = saving(ledger.checkpoint(&key, &identity));
        let request = authenta_reqwest::types::CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 5,
            model_type: ModelType::Ac1,
        };
        let at: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        save(Checkpoint::Creating {
            request: &request,
            at,
        })
        .unwrap();
        match ledger.resume(&key, false).unwrap() {
            Resume::Creating { name, since } => assert_eq!((name.as_str(), since), ("a.png", at)),
            other => panic!("{other:?}"),
        }
        let mid = MediaId::new("m-1");
        save(Checkpoint::Uploaded { mid: &mid }).unwrap();
        match ledger.resume(&key, false).unwrap() {
            Resume::Uploaded { mid: saved, .. } => assert_eq!(saved, mid),
            other => panic!("{other:?}"),
        }
        // Another path with the same bytes is the same entry.
        let copy = dir.path().join("copy.png");
        std::fs::write(&copy, b"bytes").unwrap();
        let twin = ledger.identify(&copy).unwrap();
        assert_eq!(twin.sha256, identity.sha256);
        assert_eq!(ledger.forget_mid("m-1").unwrap(), 1);
        assert!(matches!(ledger.resume(&key, false).unwrap(), Resume::New));
        // The file is the owner's only; a later version's ledger is refused.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(ledger.location())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        ledger
            .conn()
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = Ledger::open(Path::new(ledger.location())).err().unwrap();
        assert!(err.to_string().contains("newer authenta"), "{err}");
        ledger
            .conn()
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .unwrap();
        // A changed file is hashed again.
        std::fs::write(&file, b"other bytes").unwrap();
        assert_ne!(ledger.identify(&file).unwrap().sha256, identity.sha256);
    }

    /// A checkpoint reads its claim again only once this process's lease,
    /// as it knows it, runs short: a worker whose claim ran out and was
    /// taken over meanwhile then creates nothing and moves nothing on, for
    /// a record or a job.
    #[test]
    fn a_checkpoint_reads_its_claim_once_its_lease_runs_short() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        let job_key = job_claimed_anew(&a, &identity, TaskType::AiImageDetection);
        assert!(a.claim_holds(&key) && a.claim_holds(&job_key));
        // Both claims run out, and what `a` knows of them; `b` takes them.
        a.conn()
            .unwrap()
            .execute("UPDATE workers SET lease_until = 0", [])
            .unwrap();
        for claim in lock(&a.held).values_mut() {
            claim.until = Instant::now();
        }
        assert!(!a.claim_holds(&key));
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Mine(_)));
        assert!(matches!(
            b.claim_many::<JobResume>(&[&job_key], false).unwrap().pop(),
            Some(Claim::Mine(_))
        ));
        let request = authenta_reqwest::types::CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 5,
            model_type: ModelType::Ac1,
        };
        let err = saving(a.checkpoint(&key, &identity))(Checkpoint::Creating {
            request: &request,
            at: jiff::Timestamp::now(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("took this file over"), "{err}");
        let uploaded = JobStage::Uploaded { job: "7".into() };
        let err =
            (a.job_checkpoint(&job_key, &identity))(JobCheckpoint::Stage(&uploaded)).unwrap_err();
        assert!(err.to_string().contains("took this file over"), "{err}");
    }

    #[test]
    fn job_stages_read_back_as_proto_job_resumes() {
        let (_dir, a, b, identity, _) = two_workers_claim_one_file();
        let account = Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        };
        let task = TaskType::AiImageDetection;
        let key = a.job_key(&account, &identity, &task, None);
        assert_eq!(key.model, "job:ai-image-detection");
        let with_reference = a.job_key(&account, &identity, &task, Some(&identity));
        assert_ne!(with_reference.model, key.model);
        let claim = |ledger: &Ledger, refresh| ledger.claim_many::<JobResume>(&[&key], refresh);
        assert!(matches!(
            claim(&a, false).unwrap().pop(),
            Some(Claim::Mine(JobResume::New))
        ));
        // Held by the first: the second neither claims nor saves it.
        assert!(matches!(claim(&b, false).unwrap().pop(), Some(Claim::Held)));
        let at: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let request = authenta_reqwest::types::CreateJobRequest {
            inputs: Vec::new(),
            parameters: None,
            task_type_id: None,
        };
        let creating = || JobCheckpoint::Creating {
            task: task.info().unwrap(),
            request: &request,
            at,
        };
        let err = (b.job_checkpoint(&key, &identity))(creating()).unwrap_err();
        assert!(err.to_string().contains("took this file over"), "{err}");
        let save = a.job_checkpoint(&key, &identity);
        // Written with the claim (its time): the checkpoint writes nothing.
        let claimed: jiff::Timestamp = (a.conn().unwrap())
            .query_row("SELECT since FROM job_entries", [], |row| {
                row.get::<_, String>(0)
            })
            .unwrap()
            .parse()
            .unwrap();
        assert!(claimed > at);
        save(creating()).unwrap();
        a.release(&key).unwrap();
        assert!(matches!(
            claim(&a, false).unwrap().pop(),
            Some(Claim::Mine(JobResume::Creating { at: saved })) if saved == claimed
        ));
        // Claimed again at `Creating`: the checkpoint writes its own time.
        save(creating()).unwrap();
        a.release(&key).unwrap();
        assert!(matches!(
            claim(&a, false).unwrap().pop(),
            Some(Claim::Mine(JobResume::Creating { at: saved })) if saved == at
        ));
        let uploaded = JobStage::Uploaded { job: "7".into() };
        save(JobCheckpoint::Stage(&uploaded)).unwrap();
        match claim(&a, false).unwrap().pop() {
            Some(Claim::Mine(JobResume::Stage(stage))) => assert_eq!(stage, uploaded),
            other => panic!("{other:?}"),
        }
        // Final: answered without a claim; with refresh, only waited for.
        let job: Job = serde_json::from_value(json!({
            "jobId": 7, "status": "completed",
            "artifacts": [{"id": 1, "kind": "heatmap", "downloadUrl": "https://s3/h?X-Amz-Signature=s"}],
        }))
        .unwrap();
        a.job_finished(&key, &job).unwrap();
        a.flush().unwrap();
        match claim(&b, false).unwrap().pop() {
            Some(Claim::Mine(JobResume::Final(saved))) => {
                assert_eq!(saved.id, job.id);
                assert!(saved.artifacts[0].download_url.is_none(), "no URL kept");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            claim(&b, true).unwrap().pop(),
            Some(Claim::Mine(JobResume::Stage(JobStage::Finalized { .. })))
        ));
        // Listed with the job id in the `mid` column and no record.
        let rows = a.rows().unwrap();
        assert!(rows.iter().any(|r| r.model == key.model
            && r.stage == "final"
            && r.mid.as_deref() == Some("7")
            && r.record.is_none()));
        assert_eq!(a.forget_mid("7").unwrap(), 1);
        assert!(matches!(
            claim(&b, false).unwrap().pop(),
            Some(Claim::Mine(JobResume::New))
        ));
    }

    /// Two workers (two handles: each open is one) of one new ledger, a
    /// file's identity and its entry's key, which the first has just claimed
    /// anew.
    pub(super) fn two_workers_claim_one_file()
    -> (tempfile::TempDir, Ledger, Ledger, Identity, EntryKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let (a, b) = (Ledger::open(&path).unwrap(), Ledger::open(&path).unwrap());
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"bytes").unwrap();
        let identity = a.identify(&file).unwrap();
        let key = a.key(&test_account(), &identity, &ModelType::Ac1);
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        (dir, a, b, identity, key)
    }

    /// Saves, as `ledger`'s checkpoint of `key` does, the `Creating` and
    /// `Created` states of `answers`.
    fn created_by(ledger: &Ledger, key: &EntryKey, identity: &Identity, answers: &Answers) {
        let save = saving(ledger.checkpoint(key, identity));
        save(Checkpoint::Creating {
            request: &answers.request,
            at: jiff::Timestamp::now(),
        })
        .unwrap();
        save(Checkpoint::Created {
            created: &answers.created,
            target: &answers.target,
        })
        .unwrap();
    }

    /// The account the tests' entries are kept under.
    fn test_account() -> Account {
        Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        }
    }

    /// The job entry of `identity` for `task`, claimed anew by `ledger`.
    pub(super) fn job_claimed_anew(
        ledger: &Ledger,
        identity: &Identity,
        task: TaskType,
    ) -> EntryKey {
        let key = ledger.job_key(&test_account(), identity, &task, None);
        assert!(matches!(
            ledger
                .claim_many::<JobResume>(&[&key], false)
                .unwrap()
                .pop(),
            Some(Claim::Mine(JobResume::New))
        ));
        key
    }

    #[test]
    fn a_claim_is_one_worker_s_until_released_expired_or_its_holder_exits() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        // The worker that lost it creates nothing.
        let request = authenta_reqwest::types::CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 5,
            model_type: ModelType::Ac1,
        };
        let creating = || Checkpoint::Creating {
            request: &request,
            at: jiff::Timestamp::now(),
        };
        let err = saving(b.checkpoint(&key, &identity))(creating()).unwrap_err();
        assert!(err.to_string().contains("took this file over"), "{err}");
        saving(a.checkpoint(&key, &identity))(creating()).unwrap();
        // Released: the other takes it, from the saved stage.
        a.release(&key).unwrap();
        assert!(matches!(
            b.claim(&key, false).unwrap(),
            Claim::Mine(Resume::Creating { .. })
        ));
        assert!(matches!(a.claim(&key, false).unwrap(), Claim::Held));
        // A lease that ran out is taken over.
        let set = |sql: &str| a.conn().unwrap().execute(sql, []).unwrap();
        set("UPDATE workers SET lease_until = 0");
        assert!(matches!(a.claim(&key, false).unwrap(), Claim::Mine(_)));
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        // So is one whose holder on this machine has exited.
        if Path::new("/proc/self/stat").exists() {
            let mut gone = std::process::Command::new("true").spawn().unwrap();
            let pid = gone.id();
            gone.wait().unwrap();
            set(&format!("UPDATE workers SET pid = {pid}"));
            assert!(matches!(b.claim(&key, false).unwrap(), Claim::Mine(_)));
        }
        b.release_all().unwrap();
        let left: i64 = a
            .conn()
            .unwrap()
            .query_row(CLAIMS_HELD, [], |row| row.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn a_claim_writes_creating_ahead_and_undoes_it_when_released_before_the_create() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        // Written with the claim: another worker sees where it stands.
        a.flush().unwrap();
        match b.resume(&key, false).unwrap() {
            Resume::Creating { name, .. } => assert_eq!(name, "a.png"),
            other => panic!("{other:?}"),
        }
        // Released before its create: new again.
        a.release(&key).unwrap();
        assert!(matches!(b.resume(&key, false).unwrap(), Resume::New));
        // Claimed again, then created: the checkpoint wrote nothing, and the
        // state stays on release (a create was sent).
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        let request = authenta_reqwest::types::CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 5,
            model_type: ModelType::Ac1,
        };
        let save = saving(a.checkpoint(&key, &identity));
        save(Checkpoint::Creating {
            request: &request,
            at: jiff::Timestamp::now(),
        })
        .unwrap();
        a.release(&key).unwrap();
        assert!(matches!(
            b.claim(&key, false).unwrap(),
            Claim::Mine(Resume::Creating { .. })
        ));
        // A lease too close to its end is looked at in the ledger first.
        b.release(&key).unwrap();
        assert!(matches!(a.claim(&key, false).unwrap(), Claim::Mine(_)));
        lock(&a.held).get_mut(&key).unwrap().until = Instant::now();
        a.conn()
            .unwrap()
            .execute("UPDATE workers SET lease_until = 0", [])
            .unwrap();
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Mine(_)));
        let err = save(Checkpoint::Creating {
            request: &request,
            at: jiff::Timestamp::now(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("took this file over"), "{err}");
    }

    /// As a record's: a job claimed anew gets its `Creating` state with its
    /// claim (one transaction less a file), undone if the claim is
    /// released before the job's create; once the create is about to go,
    /// the checkpoint writes nothing and the state stays.
    #[test]
    fn a_job_claim_writes_creating_ahead_and_undoes_it_when_released_before_the_create() {
        let (_dir, a, b, identity, _) = two_workers_claim_one_file();
        let task = TaskType::AiImageDetection;
        let key = a.job_key(&test_account(), &identity, &task, None);
        let claim = |ledger: &Ledger| {
            ledger
                .claim_many::<JobResume>(&[&key], false)
                .unwrap()
                .pop()
        };
        let stage = || -> Option<String> {
            (b.conn().unwrap())
                .query_row("SELECT stage FROM job_entries", [], |row| row.get(0))
                .optional()
                .unwrap()
        };
        assert!(matches!(claim(&a), Some(Claim::Mine(JobResume::New))));
        assert_eq!(stage().as_deref(), Some("creating"));
        a.release(&key).unwrap();
        assert_eq!(stage(), None, "new again");
        assert!(matches!(claim(&a), Some(Claim::Mine(JobResume::New))));
        let request = authenta_reqwest::types::CreateJobRequest {
            inputs: Vec::new(),
            parameters: None,
            task_type_id: None,
        };
        (a.job_checkpoint(&key, &identity))(JobCheckpoint::Creating {
            task: task.info().unwrap(),
            request: &request,
            at: jiff::Timestamp::now(),
        })
        .unwrap();
        a.release(&key).unwrap();
        assert!(matches!(
            claim(&b),
            Some(Claim::Mine(JobResume::Creating { .. }))
        ));
    }

    /// A job's `Finalized` stage waits for the queue (its loss costs a read
    /// of the job), and lands on its own job only.
    #[test]
    fn a_job_s_finalized_stage_waits_for_the_queue_and_lands_on_its_own_job_only() {
        let (_dir, a, b, identity, _) = two_workers_claim_one_file();
        let key = job_claimed_anew(&a, &identity, TaskType::AiImageDetection);
        let save = a.job_checkpoint(&key, &identity);
        let seen = || -> (String, String) {
            (b.conn().unwrap())
                .query_row("SELECT stage, job FROM job_entries", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .unwrap()
        };
        let stage = |job: &str, finalized: bool| match finalized {
            true => JobStage::Finalized { job: job.into() },
            false => JobStage::Uploaded { job: job.into() },
        };
        save(JobCheckpoint::Stage(&stage("7", false))).unwrap();
        // (Journaled: in the tables with the queue.)
        a.flush().unwrap();
        assert_eq!(seen(), ("uploaded".into(), "7".into()));
        save(JobCheckpoint::Stage(&stage("7", true))).unwrap();
        assert_eq!(a.raw().queued_len(), 1);
        assert_eq!(
            seen(),
            ("uploaded".into(), "7".into()),
            "queued, not written"
        );
        a.flush().unwrap();
        assert_eq!(seen(), ("finalized".into(), "7".into()));
        // Another job since (the entry was resumed as a new job): a stale
        // `Finalized` stage of the first leaves it.
        save(JobCheckpoint::Stage(&stage("8", false))).unwrap();
        save(JobCheckpoint::Stage(&stage("7", true))).unwrap();
        a.flush().unwrap();
        assert_eq!(seen(), ("uploaded".into(), "8".into()));
        a.release(&key).unwrap();
        match a.claim_many::<JobResume>(&[&key], false).unwrap().pop() {
            Some(Claim::Mine(JobResume::Stage(saved))) => assert_eq!(saved, stage("8", false)),
            other => panic!("{other:?}"),
        }
    }

    /// The ledger's own CPU for a batch of 500 small files, without the
    /// network: what `authenta process -j 8` asks of it per file (identify,
    /// claims in groups of 16, the three checkpoints, two statuses seen, the
    /// final record), in SQLite and in PostgreSQL (a throwaway server, as
    /// the PostgreSQL tests start one). Counted on this thread's clock and
    /// on the whole process's (every thread's `/proc/self/task/*/schedstat`:
    /// tokio-postgres works on a thread of its own; the server, another
    /// process, is not counted), user + kernel. A measurement, not a check
    /// of speed: run it alone, in a release build, `cargo test --release -p
    /// authenta-cli --bin authenta ledger_cpu -- --ignored --nocapture`
    /// (BENCHMARKS.md).
    #[test]
    #[ignore = "a measurement: run it alone, in a release build"]
    fn ledger_cpu_per_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = small_files(dir.path(), SMALL_FILES);
        measure_small_files("SQLite", &paths, |run| {
            Ledger::open(&dir.path().join(format!("l{run}/ledger.sqlite"))).unwrap()
        });
        let server = postgres::cluster::Cluster::start();
        measure_small_files("PostgreSQL", &paths, |run| {
            Ledger::open_url(&server.database(&format!("cpu{run}"))).unwrap()
        });
    }

    /// What no SQLite ledger can save a file, measured on this thread
    /// alone: a transaction that is durable before the file's upload (its
    /// `Created` state: one page, in a WAL database set up as the ledger
    /// is), and the file's digest (open, read, SHA-256, close). A
    /// measurement: `cargo test --release -p authenta-cli --bin authenta
    /// ledger_floor -- --ignored --nocapture` (BENCHMARKS.md).
    #[test]
    #[ignore = "a measurement: run it alone, in a release build"]
    fn ledger_floor_per_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = small_files(dir.path(), SMALL_FILES);
        let (mut commits, mut digests) = (Vec::new(), Vec::new());
        for run in 0..5 {
            let conn = Connection::open(dir.path().join(format!("floor{run}.sqlite"))).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
            conn.pragma_update(None, "cache_size", -256).unwrap();
            conn.execute_batch(&format!(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                                         WHERE i < {SMALL_FILES})
                 INSERT INTO t SELECT i, printf('%800s', '') FROM n;"
            ))
            .unwrap();
            let value = "v".repeat(700);
            let started = thread_cpu_ns();
            for id in 1..=SMALL_FILES as i64 {
                conn.prepare_cached("BEGIN IMMEDIATE")
                    .and_then(|mut s| s.execute([]))
                    .unwrap();
                conn.prepare_cached("UPDATE t SET v = ?1 WHERE id = ?2")
                    .and_then(|mut s| s.execute(params![value, id]))
                    .unwrap();
                conn.prepare_cached("COMMIT")
                    .and_then(|mut s| s.execute([]))
                    .unwrap();
            }
            commits.push((thread_cpu_ns() - started) as f64 / 1e6);
            let started = thread_cpu_ns();
            for path in &paths {
                sha256_of(path, 268).unwrap();
            }
            digests.push((thread_cpu_ns() - started) as f64 / 1e6);
        }
        for (what, runs) in [
            ("a one-page durable transaction", &mut commits),
            ("a digest", &mut digests),
        ] {
            runs.sort_by(f64::total_cmp);
            let median = runs[runs.len() / 2];
            println!(
                "{what} per small file: {:.4} ms (median of 5 runs of {SMALL_FILES}: {median:.1} ms, \
                 {:.1}-{:.1})",
                median / SMALL_FILES as f64,
                runs[0],
                runs[runs.len() - 1],
            );
        }
    }

    const SMALL_FILES: usize = 500;

    /// `n` distinct files of 268 bytes in `dir`.
    fn small_files(dir: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let path = dir.join(format!("img{i:04}.png"));
                std::fs::write(&path, format!("{i:0>268}")).unwrap(); // 268 bytes
                path
            })
            .collect()
    }

    /// CPU nanoseconds of `clock` (of this thread, or of the process: all
    /// its threads), from `clock_gettime`, which counts the time slice
    /// running now (`/proc/…/schedstat` counts it only once the thread is
    /// switched out or a tick passes: milliseconds off).
    #[allow(unsafe_code)]
    fn cpu_ns(clock: libc::clockid_t) -> u64 {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a timespec for the call to fill.
        assert_eq!(unsafe { libc::clock_gettime(clock, &mut now) }, 0);
        now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
    }

    /// This thread's CPU nanoseconds.
    fn thread_cpu_ns() -> u64 {
        cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID)
    }

    /// The process's CPU nanoseconds (all its threads).
    fn process_cpu_ns() -> u64 {
        cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
    }

    /// Runs [`small_file_batch`] 5 times, each over a fresh ledger
    /// `open(run)` gives; prints the medians of this thread's and the
    /// whole process's CPU.
    fn measure_small_files(name: &str, paths: &[PathBuf], open: impl Fn(usize) -> Ledger) {
        let (mut this, mut all) = (Vec::new(), Vec::new());
        for run in 0..5 {
            let answers = small_file_answers(run);
            let ledger = open(run);
            let (process, started) = (process_cpu_ns(), thread_cpu_ns());
            small_file_batch(&ledger, paths, &answers);
            let this_ns = thread_cpu_ns() - started;
            let all_ns = process_cpu_ns() - process;
            this.push(this_ns as f64 / 1e6);
            all.push(all_ns as f64 / 1e6);
            let rows = ledger.rows().unwrap();
            assert_eq!(rows.len(), SMALL_FILES);
            assert!(rows.iter().all(|row| row.stage == "final"));
        }
        for (clock, runs) in [("this thread", &mut this), ("whole process", &mut all)] {
            runs.sort_by(f64::total_cmp);
            let median = runs[runs.len() / 2];
            println!(
                "{name} ledger CPU for {SMALL_FILES} small files, {clock}: median {median:.1} ms \
                 ({:.1}-{:.1}), {:.3} ms per file",
                runs[0],
                runs[runs.len() - 1],
                median / SMALL_FILES as f64
            );
        }
    }

    /// What the API answers each file of a [`small_file_batch`], made
    /// before the clock starts.
    pub(crate) struct Answers {
        request: authenta_reqwest::types::CreateMediaRequest,
        created: authenta_reqwest::types::CreatedMedia,
        target: UploadTarget,
        seen: [Media; 2],
        done: Media,
    }

    fn small_file_answers(run: usize) -> Vec<Answers> {
        (0..SMALL_FILES)
            .map(|i| {
                let (mid, name) = (format!("m-{run}-{i}"), format!("img{i:04}.png"));
                let media = |status: &str| -> Media {
                    serde_json::from_value(json!({
                        "mid": mid, "name": name, "type": "Image", "modelType": "AC-1",
                        "status": status, "createdAt": "2026-12-01T00:00:00Z",
                    }))
                    .unwrap()
                };
                let request = authenta_reqwest::types::CreateMediaRequest {
                    name: name.clone(),
                    content_type: "image/png".into(),
                    size: 268,
                    model_type: ModelType::Ac1,
                };
                let created: authenta_reqwest::types::CreatedMedia =
                    serde_json::from_value(json!({
                        "mid": mid, "name": name, "type": "Image", "modelType": "AC-1",
                        "status": "INITED", "createdAt": "2026-12-01T00:00:00Z",
                        "uploadUrl": format!("http://127.0.0.1:1/upload/{mid}?X-Amz-Signature=0123456789abcdef"),
                        "expiresIn": 3600,
                    }))
                    .unwrap();
                let target =
                    UploadTarget::from_created(&created, &request, SystemTime::now()).unwrap();
                let mut done = media("PROCESSED");
                done.heatmap_url = Some("http://127.0.0.1:1/heatmap.png".into());
                Answers {
                    seen: [media("UPLOADED"), media("PROCESSING")],
                    request,
                    created,
                    target,
                    done,
                }
            })
            .collect()
    }

    /// Each statement a batch runs does the same small work whatever the
    /// number of entries or claims (no scan of the owner's claims, no full
    /// table scan), and is never prepared again: what makes a file cost a
    /// ledger more CPU grows with the batch, unseen by a small one
    /// (BENCHMARKS.md, "the ledger's instructions per file").
    #[test]
    // SQLite's counters of a connection's statements are reached through
    // its C API only (rusqlite has no safe way to list them): the one
    // exception to the workspace's `unsafe_code = "deny"`, in a test.
    #[allow(unsafe_code)]
    fn a_batch_s_statements_do_the_same_work_for_one_entry_or_many() {
        let dir = tempfile::tempdir().unwrap();
        let paths = small_files(dir.path(), SMALL_FILES / 2);
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        // Every file claimed before the first ends: the process holds 250
        // claims.
        small_file_batch_with(&ledger, &paths, &small_file_answers(0), paths.len());
        let store = ledger.raw();
        let mut worst = Vec::new();
        // SAFETY: the statements of this connection, read while the
        // store's lock keeps any other use of it out.
        unsafe {
            use rusqlite::ffi;
            let db = store.conn.handle();
            let mut stmt = ffi::sqlite3_next_stmt(db, std::ptr::null_mut());
            while !stmt.is_null() {
                let status = |op| ffi::sqlite3_stmt_status(stmt, op, 0);
                let sql = std::ffi::CStr::from_ptr(ffi::sqlite3_sql(stmt)).to_string_lossy();
                let runs = status(ffi::SQLITE_STMTSTATUS_RUN).max(1);
                let steps = status(ffi::SQLITE_STMTSTATUS_VM_STEP) / runs;
                let scans = status(ffi::SQLITE_STMTSTATUS_FULLSCAN_STEP);
                let prepared = status(ffi::SQLITE_STMTSTATUS_REPREPARE);
                worst.push((
                    steps,
                    scans,
                    prepared,
                    runs,
                    sql.split_whitespace().collect::<Vec<_>>().join(" "),
                ));
                stmt = ffi::sqlite3_next_stmt(db, stmt);
            }
        }
        worst.sort();
        for (steps, scans, prepared, runs, sql) in &worst {
            println!(
                "{steps:5} steps a run, {runs:4} runs, {scans} scan steps, {prepared} prepared again: {sql}"
            );
        }
        assert!(worst.len() > 8, "the batch's statements stay prepared");
        for (steps, scans, prepared, _, sql) in &worst {
            assert!(
                *steps <= 400 && *scans == 0 && *prepared == 0,
                "{sql}: {steps} steps a run, {scans} scan steps, prepared again {prepared} times"
            );
        }
    }

    /// The ledger's calls of `authenta process -j 8` over `paths`, the API
    /// answering `answers`.
    fn small_file_batch(ledger: &Ledger, paths: &[PathBuf], answers: &[Answers]) {
        small_file_batch_with(ledger, paths, answers, 16)
    }

    /// [`small_file_batch`] with `ahead` files claimed before the first
    /// of them starts.
    fn small_file_batch_with(
        ledger: &Ledger,
        paths: &[PathBuf],
        answers: &[Answers],
        ahead: usize,
    ) {
        let account = Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        };
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let identities: Vec<Identity> = ledger
            .identify_many(&refs)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let keys: Vec<EntryKey> = identities
            .iter()
            .map(|identity| ledger.key(&account, identity, &ModelType::Ac1))
            .collect();
        for (n, group) in keys.chunks(ahead).enumerate() {
            for group in group.chunks(16) {
                let refs: Vec<&EntryKey> = group.iter().collect();
                let claims = ledger.claim_many(&refs, false).unwrap();
                assert!(claims.iter().all(|c| matches!(c, Claim::Mine(Resume::New))));
            }
            for (i, key) in group.iter().enumerate() {
                let Answers {
                    request,
                    created,
                    target,
                    seen,
                    done,
                } = &answers[n * ahead + i];
                let save = saving(ledger.checkpoint(key, &identities[n * ahead + i]));
                let at = jiff::Timestamp::now();
                save(Checkpoint::Creating { request, at }).unwrap();
                save(Checkpoint::Created { created, target }).unwrap();
                save(Checkpoint::Uploaded {
                    mid: &created.media.mid,
                })
                .unwrap();
                for media in seen {
                    ledger.seen(media).unwrap();
                }
                ledger.finished(done).unwrap();
            }
        }
        ledger.release_all().unwrap();
    }

    /// What the hash pass costs a large file's first run (the one read of
    /// its own; see ARCHITECTURE.md, "the batch ledger"): MB/s of
    /// [`sha256_of`] over a 256 MiB file in the page cache. A measurement:
    /// `cargo test --release -p authenta-cli --bin authenta hash_pass --
    /// --ignored --nocapture` (BENCHMARKS.md).
    #[test]
    #[ignore = "a measurement: run it alone, in a release build"]
    fn hash_pass_of_a_large_file() {
        const SIZE: usize = 256 << 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large.mp4");
        let block: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        {
            use std::io::Write as _;
            let mut file = File::create(&path).unwrap();
            for _ in 0..SIZE >> 20 {
                file.write_all(&block).unwrap();
            }
        }
        let expected: String = {
            let mut hasher = Sha256::new();
            for _ in 0..SIZE >> 20 {
                hasher.update(&block);
            }
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let mut runs = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            assert_eq!(sha256_of(&path, SIZE as u64).unwrap(), expected);
            runs.push(SIZE as f64 / started.elapsed().as_secs_f64() / 1e6);
        }
        runs.sort_by(f64::total_cmp);
        println!(
            "SHA-256 of a 256 MiB file (page cache): median {:.0} MB/s ({:.0}-{:.0}), {:.2} s per GiB",
            runs[2],
            runs[0],
            runs[4],
            (1u64 << 30) as f64 / 1e6 / runs[2]
        );
    }

    /// A write that fails is rolled back whole, with what was queued, and
    /// the ledger takes the next one.
    #[test]
    fn a_failed_write_leaves_nothing_and_the_next_one_lands() {
        let ledger = Ledger::in_memory().unwrap();
        let file = |path: &str| Queued::File {
            path: path.into(),
            size: 1,
            mtime_ns: 1,
            sha256: "00".into(),
        };
        ledger.queue(file("/queued")).unwrap();
        let failed = ledger.write(|tx| {
            tx.execute(
                "INSERT INTO files (path, size, mtime_ns, sha256) VALUES ('/mid', 1, 1, '00')",
                [],
            )
            .map_err(db)?;
            Err::<(), _>(io::Error::other("the disk is full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "the disk is full");
        let files = |ledger: &Ledger| -> Vec<String> {
            let store = ledger.raw();
            let mut s = store
                .prepare("SELECT path FROM files ORDER BY path")
                .unwrap();
            s.query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert!(files(&ledger).is_empty(), "nothing of it is written");
        assert!(ledger.raw().is_autocommit(), "no transaction is left open");
        // The queue is still there, and written with the next write.
        ledger.queue(file("/next")).unwrap();
        ledger.flush().unwrap();
        assert_eq!(files(&ledger), ["/next", "/queued"]);
    }

    /// Three files claimed together by one process, and what the API
    /// answers each (their checkpoints' arguments), with another
    /// connection's view of an entry's stage.
    fn three_uploads() -> (
        tempfile::TempDir,
        Ledger,
        Vec<(EntryKey, Identity, Answers)>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let uploads = three_uploads_in(&ledger, dir.path());
        (dir, ledger, uploads)
    }

    /// [`three_uploads`] in `ledger` (of either kind), the files in `dir`.
    pub(crate) fn three_uploads_in(
        ledger: &Ledger,
        dir: &Path,
    ) -> Vec<(EntryKey, Identity, Answers)> {
        let account = Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        };
        let uploads: Vec<_> = small_file_answers(0)
            .into_iter()
            .take(3)
            .enumerate()
            .map(|(i, answers)| {
                let file = dir.join(format!("{i}.png"));
                std::fs::write(&file, format!("bytes {i}")).unwrap();
                let identity = ledger.identify(&file).unwrap();
                let key = ledger.key(&account, &identity, &ModelType::Ac1);
                (key, identity, answers)
            })
            .collect();
        let keys: Vec<&EntryKey> = uploads.iter().map(|(key, ..)| key).collect();
        ledger.claim_many::<Resume>(&keys, false).unwrap();
        for (key, identity, answers) in &uploads {
            let save = ledger.checkpoint(key, identity);
            let creating = Checkpoint::Creating {
                request: &answers.request,
                at: jiff::Timestamp::now(),
            };
            assert!(matches!(save(creating).unwrap(), Saving::Now));
        }
        uploads
    }

    /// The stage of `key`'s entry as `other`, a ledger of another process
    /// on the same database (with nothing of its own to write), reads it.
    fn stage_seen(other: &Ledger, key: &EntryKey) -> String {
        let rows = other.rows().unwrap();
        let row = rows.iter().find(|row| row.sha256 == key.sha256).unwrap();
        row.stage.clone()
    }

    /// The `Created` checkpoint of `upload` (one of [`three_uploads`]).
    fn save_created(ledger: &Ledger, upload: &(EntryKey, Identity, Answers)) -> Saving {
        let (key, identity, answers) = upload;
        ledger.checkpoint(key, identity)(Checkpoint::Created {
            created: &answers.created,
            target: &answers.target,
        })
        .unwrap()
    }

    /// An upload's `Created` state is in this process's journal when its
    /// checkpoint returns (the bytes may go), and in the tables with the
    /// queue: with its `Uploaded` state, when that came meanwhile, in one
    /// statement. The journal is emptied then, and deleted with the ledger.
    #[test]
    fn a_created_state_is_journaled_before_its_upload_and_written_with_the_queue() {
        let (dir, ledger, uploads) = three_uploads();
        let other = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let (key, identity, answers) = &uploads[0];
        assert!(matches!(save_created(&ledger, &uploads[0]), Saving::Now));
        let journal = ledger.raw().journal.path().unwrap().to_path_buf();
        let text = std::fs::read_to_string(&journal).unwrap();
        let mid = answers.created.media.mid.to_string();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains(&mid), "{text}");
        assert_eq!(stage_seen(&other, key), "creating", "not in the tables yet");
        // Its bytes went: both states in one statement.
        let uploaded = Checkpoint::Uploaded {
            mid: &answers.created.media.mid,
        };
        assert!(matches!(
            ledger.checkpoint(key, identity)(uploaded).unwrap(),
            Saving::Now
        ));
        assert_eq!(
            ledger.raw().queued.len(),
            0,
            "the Uploaded state marks the journaled one"
        );
        // A second file's state, its bytes not sent yet.
        assert!(matches!(save_created(&ledger, &uploads[1]), Saving::Now));
        ledger.flush().unwrap();
        assert_eq!(stage_seen(&other, key), "uploaded");
        assert_eq!(stage_seen(&other, &uploads[1].0), "created");
        let Resume::Uploaded {
            mid: saved,
            created_at,
        } = other.resume(key, false).unwrap()
        else {
            panic!("the entry resumes as uploaded")
        };
        assert_eq!(saved.as_str(), mid);
        assert_eq!(created_at, Some(answers.created.media.created_at));
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0, "emptied");
        drop(ledger);
        assert!(!journal.exists(), "deleted with the ledger");
    }

    /// What [`created_states_of_creates_in_flight_together_are_written_together`]
    /// checks, in `ledger` (either kind), `other` reading the same database.
    pub(crate) fn written_together(
        ledger: &Ledger,
        other: &Ledger,
        uploads: &[(EntryKey, Identity, Answers)],
    ) {
        let created_seen = |key: &EntryKey| stage_seen(other, key) == "created";
        let created = |i: usize| save_created(ledger, &uploads[i]);
        // Two creates still in flight: the first state waits, unwritten.
        let Saving::Later(first) = created(0) else {
            panic!("the first state waits for the creates beside it")
        };
        assert!(!created_seen(&uploads[0].0));
        let Saving::Later(second) = created(1) else {
            panic!("one create is still in flight")
        };
        // The last create in flight answers: the three states are written
        // now, in one transaction, and the waiting uploads go on.
        let pg = ledger.pg().expect("a PostgreSQL ledger");
        let written = pg.attempts();
        assert!(matches!(created(2), Saving::Now));
        for (key, ..) in uploads {
            assert!(created_seen(key));
        }
        let now = pg.attempts();
        assert_eq!(now, written + 1, "one transaction");
        authenta_reqwest::client::block_on(first).unwrap();
        authenta_reqwest::client::block_on(second).unwrap();
    }

    /// What a killed process left in its journal is not lost: a claim of
    /// one of its entries by a process already running finds the `Created`
    /// state there and resumes the record, and the next process to open
    /// the ledger folds the rest into the tables and deletes the journal.
    #[test]
    fn a_killed_process_s_journal_is_read_by_claims_and_folded_by_the_next_open() {
        let (dir, ledger, uploads) = three_uploads();
        let path = dir.path().join("ledger.sqlite");
        let running = Ledger::open(&path).unwrap();
        for upload in &uploads[..2] {
            assert!(matches!(save_created(&ledger, upload), Saving::Now));
        }
        // Killed: nothing queued is written, the journal stays, unlocked,
        // and its claims run out.
        let journal = {
            let mut store = ledger.raw();
            store.journaled.clear();
            store.queued.clear();
            let journal = store.journal.path().unwrap().to_path_buf();
            store.journal.abandon();
            journal
        };
        drop(ledger);
        running
            .raw()
            .execute("UPDATE workers SET lease_until = 0", [])
            .unwrap();
        assert_eq!(stage_seen(&running, &uploads[0].0), "creating");
        let Claim::Mine(Resume::Created { mid, target, .. }) =
            running.claim(&uploads[0].0, false).unwrap()
        else {
            panic!("the record is resumed, not created again")
        };
        assert_eq!(mid, uploads[0].2.created.media.mid);
        assert_eq!(target.url(), uploads[0].2.target.url());
        assert!(
            journal.exists(),
            "a claim reads journals, it does not delete them"
        );
        // The next open folds what is left, and deletes the journal.
        let next = Ledger::open(&path).unwrap();
        assert_eq!(stage_seen(&next, &uploads[1].0), "created");
        assert_eq!(
            stage_seen(&next, &uploads[2].0),
            "creating",
            "its create never answered"
        );
        assert!(!journal.exists());
        // A live process's journal is left to it.
        let live = Ledger::open(&path).unwrap();
        assert!(matches!(
            live.claim(&uploads[2].0, false).unwrap(),
            Claim::Mine(_)
        ));
        let _ = save_created(&live, &uploads[2]);
        let kept = live.raw().journal.path().unwrap().to_path_buf();
        drop(Ledger::open(&path).unwrap());
        assert!(kept.exists());
    }

    /// A job's stages wait in the journal through the queue's writes (its
    /// `Finalized` stage taking its `Uploaded` stage's place) until its
    /// final job is written, which holds them all.
    #[test]
    fn a_job_s_stages_wait_in_the_journal_for_its_final_job() {
        let (_dir, a, b, identity, _) = two_workers_claim_one_file();
        let key = job_claimed_anew(&a, &identity, TaskType::AiImageDetection);
        a.flush().unwrap();
        let save = a.job_checkpoint(&key, &identity);
        let job: authenta_reqwest::types::JobId = "7".into();
        save(JobCheckpoint::Stage(&JobStage::Created {
            job: job.clone(),
            slots: Vec::new(),
        }))
        .unwrap();
        save(JobCheckpoint::Stage(&JobStage::Uploaded {
            job: job.clone(),
        }))
        .unwrap();
        save(JobCheckpoint::Stage(&JobStage::Finalized {
            job: job.clone(),
        }))
        .unwrap();
        assert_eq!(
            a.raw().queued.len(),
            0,
            "the finalize takes the waiting stage's place"
        );
        assert_eq!(
            a.raw().journaled_jobs.values().next().unwrap().stage,
            "finalized"
        );
        let due = |ledger: &Ledger| {
            (ledger.raw().transaction(Waiting::Due, |_| Ok(()))).unwrap();
        };
        due(&a);
        assert_eq!(a.raw().journaled_jobs.len(), 1, "it waits");
        let stage = |ledger: &Ledger| -> String {
            (ledger.raw().conn)
                .query_row("SELECT stage FROM job_entries", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(stage(&b), "creating");
        let done: Job = serde_json::from_value(json!({
            "id": "7", "taskType": "ai-image-detection", "status": "completed",
            "createdAt": "2026-12-01T00:00:00Z",
        }))
        .unwrap();
        a.job_finished(&key, &done).unwrap();
        due(&a);
        assert!(a.raw().journaled_jobs.is_empty());
        assert_eq!(a.raw().journal.len(), 0);
        assert_eq!(stage(&b), "final");
        assert!(matches!(
            b.claim_many::<JobResume>(&[&key], false).unwrap().pop(),
            Some(Claim::Mine(JobResume::Final(_)))
        ));
    }

    /// A job's `Created` and `Uploaded` stages go to the journal, not a
    /// transaction: only the last of an entry's reaches the tables, with
    /// the queue. What a killed process left is read by a claim (the job
    /// resumed from its stage: not created again, its slots not sent again
    /// once uploaded) and folded by the next open.
    #[test]
    fn a_job_s_stages_are_journaled_and_a_killed_process_s_are_not_lost() {
        let (dir, a, _b, identity, _) = two_workers_claim_one_file();
        let path = dir.path().join("ledger.sqlite");
        let account = test_account();
        let tasks = [TaskType::AiImageDetection, TaskType::ImageForgeryDetection];
        let keys: Vec<EntryKey> = (tasks.iter())
            .map(|task| a.job_key(&account, &identity, task, None))
            .collect();
        let refs: Vec<&EntryKey> = keys.iter().collect();
        let claims = a.claim_many::<JobResume>(&refs, false).unwrap();
        assert!((claims.iter()).all(|claim| matches!(claim, Claim::Mine(JobResume::New))));
        let created = |job: &str| JobStage::Created {
            job: job.into(),
            slots: Vec::new(),
        };
        // As the tables have it, the queue not written.
        let in_tables = |ledger: &Ledger, key: &EntryKey| -> String {
            (ledger.raw().conn)
                .query_row(
                    "SELECT stage FROM job_entries WHERE task = ?1",
                    [&key.model],
                    |row| row.get(0),
                )
                .unwrap()
        };
        // Once the queue is written.
        let stage_of = |ledger: &Ledger, key: &EntryKey| -> String {
            ledger.flush().unwrap();
            in_tables(ledger, key)
        };
        let uploaded = |job: &str| JobStage::Uploaded { job: job.into() };
        // Journaled; the next stage takes its place, and only that one is
        // written, with the queue.
        let save = a.job_checkpoint(&keys[0], &identity);
        save(JobCheckpoint::Stage(&created("7"))).unwrap();
        assert_eq!(a.raw().journaled_jobs.len(), 1);
        save(JobCheckpoint::Stage(&uploaded("7"))).unwrap();
        assert_eq!(a.raw().journaled_jobs.len(), 1);
        assert_eq!(in_tables(&a, &keys[0]), "creating");
        a.flush().unwrap();
        assert_eq!(a.raw().journaled_jobs.len(), 0);
        assert_eq!(stage_of(&a, &keys[0]), "uploaded");
        // The second job's `Created` stage, then the process is killed:
        // nothing queued is written, the journal stays, unlocked, and its
        // claims run out.
        (a.job_checkpoint(&keys[1], &identity))(JobCheckpoint::Stage(&created("8"))).unwrap();
        let journal = {
            let mut store = a.raw();
            store.journaled_jobs.clear();
            store.queued.clear();
            let journal = store.journal.path().unwrap().to_path_buf();
            store.journal.abandon();
            journal
        };
        drop(a);
        let running = Ledger::open(&path).unwrap();
        // (Opened after the kill: it folded the journal; so the claim's
        // case is shown on a journal written again below.)
        assert_eq!(stage_of(&running, &keys[1]), "created");
        assert!(!journal.exists());
        (running.conn().unwrap())
            .execute(
                "UPDATE job_entries SET stage = 'creating', job = NULL, saved = NULL
                 WHERE task = ?1",
                [&keys[1].model],
            )
            .unwrap();
        let killed = Ledger::open(&path).unwrap();
        (killed.conn().unwrap())
            .execute("DELETE FROM workers", [])
            .unwrap();
        assert!(matches!(
            killed
                .claim_many::<JobResume>(&[&keys[1]], false)
                .unwrap()
                .pop(),
            Some(Claim::Mine(JobResume::Creating { .. }))
        ));
        (killed.job_checkpoint(&keys[1], &identity))(JobCheckpoint::Stage(&created("9"))).unwrap();
        let journal = {
            let mut store = killed.raw();
            store.journaled_jobs.clear();
            let journal = store.journal.path().unwrap().to_path_buf();
            store.journal.abandon();
            journal
        };
        drop(killed);
        (running.conn().unwrap())
            .execute("UPDATE workers SET lease_until = 0", [])
            .unwrap();
        match running
            .claim_many::<JobResume>(&[&keys[1]], false)
            .unwrap()
            .pop()
        {
            Some(Claim::Mine(JobResume::Stage(stage))) => assert_eq!(stage, created("9")),
            other => panic!("the job is resumed, not created again: {other:?}"),
        }
        assert!(
            journal.exists(),
            "a claim reads journals, it does not delete them"
        );
        // Another process takes the `created` job over, uploads its slots,
        // journals its `Uploaded` stage and is killed before the queue is
        // written: the tables still say `created`.
        let expire = || {
            (running.conn().unwrap())
                .execute("UPDATE workers SET lease_until = 0", [])
                .unwrap()
        };
        expire();
        let killed = Ledger::open(&path).unwrap();
        assert!(matches!(
            killed
                .claim_many::<JobResume>(&[&keys[1]], false)
                .unwrap()
                .pop(),
            Some(Claim::Mine(JobResume::Stage(JobStage::Created { .. })))
        ));
        (killed.job_checkpoint(&keys[1], &identity))(JobCheckpoint::Stage(&uploaded("9"))).unwrap();
        {
            let mut store = killed.raw();
            store.journaled_jobs.clear();
            store.journal.abandon();
        }
        drop(killed);
        assert_eq!(in_tables(&running, &keys[1]), "created");
        // A claim of the `created` entry finds it: the job waits for its
        // finalize, its slots are not sent again.
        expire();
        match running
            .claim_many::<JobResume>(&[&keys[1]], false)
            .unwrap()
            .pop()
        {
            Some(Claim::Mine(JobResume::Stage(stage))) => assert_eq!(stage, uploaded("9")),
            other => panic!("the job resumes from its upload: {other:?}"),
        }
        assert_eq!(in_tables(&running, &keys[1]), "uploaded");
    }

    /// A `Created` state that cannot be written to the journal stops its
    /// upload with the reason, before any byte goes, and nothing of it is
    /// queued.
    #[test]
    fn a_created_state_the_journal_cannot_take_stops_its_upload() {
        let (dir, ledger, uploads) = three_uploads();
        let other = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        // Where the journal would be, a directory.
        let journal = ledger.raw().journal.would_be().unwrap().to_path_buf();
        std::fs::create_dir(&journal).unwrap();
        let (key, identity, answers) = &uploads[0];
        let err = ledger.checkpoint(key, identity)(Checkpoint::Created {
            created: &answers.created,
            target: &answers.target,
        })
        .expect_err("the upload stops");
        assert!(
            err.to_string()
                .contains("cannot write to the ledger's journal"),
            "{err}"
        );
        assert!(
            err.to_string().contains(&journal.display().to_string()),
            "{err}"
        );
        assert_eq!(ledger.raw().journaled.len(), 0);
        ledger.flush().unwrap();
        assert_eq!(stage_seen(&other, key), "creating");
    }

    /// The schema of version 3: a claim was a row of `claims`.
    const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS files (
    path      TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    sha256    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    base_url    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    model       TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    name        TEXT,
    since       TEXT,
    mid         TEXT,
    created_at  TEXT,
    target      TEXT,
    expires_at  TEXT,
    stage       TEXT NOT NULL,
    status      TEXT,
    record      TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (sha256, model, client_id, base_url)
);
CREATE TABLE IF NOT EXISTS claims (
    base_url     TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    model        TEXT NOT NULL,
    owner        TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL,
    PRIMARY KEY (sha256, model, client_id, base_url)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_entries (
    base_url    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    task        TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    since       TEXT,
    job         TEXT,
    stage       TEXT NOT NULL,
    saved       TEXT,
    status      TEXT,
    record      TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (sha256, task, client_id, base_url)
);
";

    /// A new ledger's keys lead with the digest, and its small tables are
    /// `WITHOUT ROWID`; one made before (version 3), with the account first
    /// and a rowid everywhere, is brought up to date (its claims in their
    /// entries, a claim that holds still held), then claimed, written and
    /// read as before by two workers (same columns, same statements).
    #[test]
    fn keys_lead_with_the_digest_and_a_ledger_keyed_by_account_first_still_works() {
        // Of entries, files, job_entries, workers (or claims).
        let tables = |path: &Path| -> Vec<String> {
            let conn = Connection::open(path).unwrap();
            let mut s = conn
                .prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' ORDER BY name")
                .unwrap();
            s.query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let primary_keys = |path: &Path| -> Vec<String> {
            (tables(path).iter())
                .filter_map(|sql| {
                    Some(sql[sql.find("PRIMARY KEY (")?..].lines().next()?.to_owned())
                })
                .collect()
        };
        let without_rowid = |path: &Path| -> Vec<bool> {
            (tables(path).iter())
                .map(|sql| sql.ends_with("WITHOUT ROWID"))
                .collect()
        };
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.sqlite");
        drop(Ledger::open(&new).unwrap());
        assert_eq!(without_rowid(&new), [false, true, false, true]);
        assert_eq!(
            primary_keys(&new),
            [
                "PRIMARY KEY (sha256, model, client_id, base_url)",
                "PRIMARY KEY (sha256, task, client_id, base_url)",
            ]
        );
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"bytes").unwrap();
        let (held_file, ran_out_file) = (dir.path().join("b.png"), dir.path().join("c.png"));
        std::fs::write(&held_file, b"held").unwrap();
        std::fs::write(&ran_out_file, b"ran out").unwrap();
        let digest = |path: &Path| hex(&Sha256::digest(std::fs::read(path).unwrap()));
        let earlier = dir.path().join("earlier.sqlite");
        {
            let conn = Connection::open(&earlier).unwrap();
            let schema = SCHEMA_V3
                .replace(") WITHOUT ROWID;", ");")
                .replace(
                    "(sha256, model, client_id, base_url)",
                    "(base_url, client_id, sha256, model)",
                )
                .replace(
                    "(sha256, task, client_id, base_url)",
                    "(base_url, client_id, sha256, task)",
                );
            conn.execute_batch(&schema).unwrap();
            conn.pragma_update(None, "user_version", 3).unwrap();
            // Two files another worker, elsewhere, claimed: one lease holds,
            // one ran out.
            let account = test_account();
            for (path, lease_until, worker) in [
                (&held_file, i64::MAX, "elsewhere/1/1/0"),
                (&ran_out_file, 0, "elsewhere/2/1/0"),
            ] {
                let row = params![account.base_url, account.client_id, digest(path), "AC-1"];
                conn.execute(
                    "INSERT INTO entries (base_url, client_id, sha256, model, path, size, name,
                                          since, stage, updated_at)
                     VALUES (?1, ?2, ?3, ?4, '/f', 4, 'f', '2026-12-01T00:00:00Z', 'creating',
                             '2026-12-01T00:00:00Z')",
                    row,
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO claims VALUES (?1, ?2, ?3, ?4, ?5, 'elsewhere', 1, ?6)",
                    params![
                        account.base_url,
                        account.client_id,
                        digest(path),
                        "AC-1",
                        worker,
                        lease_until
                    ],
                )
                .unwrap();
            }
        }
        let (a, b) = (
            Ledger::open(&earlier).unwrap(),
            Ledger::open(&earlier).unwrap(),
        );
        assert!(
            primary_keys(&earlier)
                .iter()
                .all(|pk| pk.starts_with("PRIMARY KEY (base_url"))
        );
        // The claims table is gone; `workers` is new, so in its new form.
        assert_eq!(without_rowid(&earlier), [false, false, false, true]);
        let version: i64 = (a.raw())
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let claim_of = |path: &Path| {
            let identity = a.identify(path).unwrap();
            a.claim(&a.key(&test_account(), &identity, &ModelType::Ac1), false)
                .unwrap()
        };
        assert!(matches!(claim_of(&held_file), Claim::Held));
        assert!(matches!(
            claim_of(&ran_out_file),
            Claim::Mine(Resume::Creating { .. })
        ));
        a.release_all().unwrap();
        let identity = a.identify(&file).unwrap();
        let key = a.key(&test_account(), &identity, &ModelType::Ac1);
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        let answers = small_file_answers(0).swap_remove(0);
        let Answers { created, done, .. } = &answers;
        created_by(&a, &key, &identity, &answers);
        saving(a.checkpoint(&key, &identity))(Checkpoint::Uploaded {
            mid: &created.media.mid,
        })
        .unwrap();
        a.finished(done).unwrap();
        a.flush().unwrap();
        match b.claim(&key, false).unwrap() {
            Claim::Mine(Resume::Final(saved)) => assert_eq!(saved.mid, created.media.mid),
            other => panic!("{other:?}"),
        }
    }

    /// A ledger's keys share their account; a key's file name is its
    /// path's last part (the name a create sends), or its whole path.
    #[test]
    fn keys_share_their_account_and_read_their_name_from_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let identity = |path: &str| Identity {
            path: PathBuf::from(path),
            size: 1,
            sha256: "00".into(),
        };
        let (a, b) = (identity("/d/x.png"), identity("/"));
        let ka = ledger.key(&test_account(), &a, &ModelType::Ac1);
        let kb = ledger.key(&test_account(), &b, &ModelType::Ac1);
        assert!(Arc::ptr_eq(&ka.account, &kb.account));
        assert_eq!((ka.name(), kb.name()), ("x.png", "/"));
        let other = Account {
            client_id: "other".into(),
            ..test_account()
        };
        let kc = ledger.key(&other, &a, &ModelType::Ac1);
        assert_eq!(*kc.account, other);
        assert_ne!(ka, kc);
    }

    /// A final record is kept without its pre-signed URLs (its heatmap,
    /// its result document, the original's): credentials until they
    /// expire.
    #[test]
    fn a_final_record_is_kept_without_its_pre_signed_urls() {
        let (_dir, a, _b, identity, key) = two_workers_claim_one_file();
        let mut answers = small_file_answers(0).swap_remove(0);
        answers.done.result_url = Some("http://127.0.0.1:1/r.json?X-Amz-Signature=r".into());
        answers.done.src_url = Some("http://127.0.0.1:1/s.png?X-Amz-Signature=s".into());
        created_by(&a, &key, &identity, &answers);
        a.finished(&answers.done).unwrap();
        a.flush().unwrap();
        let (record,): (String,) = entry_row(
            &a.raw(),
            "SELECT record FROM entries
             WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
            &key,
        )
        .unwrap()
        .unwrap();
        assert!(record.contains(answers.done.mid.as_str()), "{record}");
        for url in ["heatmapURL", "resultURL", "srcURL", "127.0.0.1:1"] {
            assert!(!record.contains(url), "{url} in {record}");
        }
    }

    /// A `Created` state still in the journal when its record's final
    /// state is written goes with it, in one statement: the entry is final,
    /// with the record's id, creation time and expiry, and its claim ended;
    /// one whose record is not final yet is written on its own.
    #[test]
    fn a_created_state_and_its_final_record_are_one_write() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        let answers = small_file_answers(0).swap_remove(0);
        let Answers { created, done, .. } = &answers;
        a.flush().unwrap();
        created_by(&a, &key, &identity, &answers);
        assert_eq!(a.raw().journaled.len(), 1);
        a.finished(done).unwrap();
        let changes = || a.raw().total_changes();
        let before = changes();
        a.flush().unwrap();
        assert_eq!(changes() - before, 1, "one row, written once");
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (stage, mid, created_at, expires_at, owner): Row = entry_row(
            &a.raw(),
            "SELECT stage, mid, created_at, expires_at, owner FROM entries
             WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
            &key,
        )
        .unwrap()
        .unwrap();
        assert_eq!(stage, "final");
        assert_eq!(mid.as_deref(), Some(created.media.mid.as_str()));
        assert_eq!(created_at, Some(created.media.created_at.to_string()));
        assert_eq!(expires_at, answers.target.expires_at.map(|t| t.to_string()));
        assert_eq!(owner, None, "the claim ended");
        match b.claim(&key, false).unwrap() {
            Claim::Mine(Resume::Final(media)) => assert_eq!(media.mid, created.media.mid),
            other => panic!("{other:?}"),
        }
        // Not final yet: the `Created` state on its own.
        a.forget_mid(created.media.mid.as_str()).unwrap();
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        created_by(&a, &key, &identity, &answers);
        a.flush().unwrap();
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        assert!(matches!(
            a.resume(&key, false).unwrap(),
            Resume::Created { .. }
        ));
    }

    /// A record's `Created` state waits in the journal through the
    /// queue's writes (its `Uploaded` state and a status seen only mark
    /// it) until its final record comes, then goes with it; a state whose
    /// process is killed meanwhile is folded in by the next open, and one
    /// still waiting at a full write is written on its own.
    #[test]
    fn a_created_state_waits_in_the_journal_for_its_final_record() {
        let (dir, a, b, identity, key) = two_workers_claim_one_file();
        let answers = small_file_answers(0).swap_remove(0);
        let Answers {
            created,
            seen,
            done,
            ..
        } = &answers;
        created_by(&a, &key, &identity, &answers);
        saving(a.checkpoint(&key, &identity))(Checkpoint::Uploaded {
            mid: &created.media.mid,
        })
        .unwrap();
        a.seen(&seen[1]).unwrap();
        assert_eq!(a.raw().queued.len(), 0, "both mark the waiting state");
        let due = |ledger: &Ledger| {
            (ledger.raw().transaction(Waiting::Due, |_| Ok(()))).unwrap();
        };
        due(&a);
        assert_eq!(a.raw().journaled.len(), 1);
        assert!(a.raw().journal.len() > 0, "its line is kept");
        assert_eq!(stage_seen(&b, &key), "creating");
        a.finished(done).unwrap();
        due(&a);
        assert!(a.raw().journaled.is_empty());
        assert_eq!(a.raw().journal.len(), 0, "emptied: nothing in it waits");
        assert_eq!(stage_seen(&b, &key), "final");
        // Killed while it waits: the next open folds it in.
        let path = dir.path().join("ledger.sqlite");
        a.forget_mid(created.media.mid.as_str()).unwrap();
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        created_by(&a, &key, &identity, &answers);
        due(&a);
        {
            let mut store = a.raw();
            store.journaled.clear();
            store.journal.abandon();
        }
        drop(a);
        assert_eq!(stage_seen(&b, &key), "creating");
        let next = Ledger::open(&path).unwrap();
        assert_eq!(stage_seen(&next, &key), "created");
        // Still waiting when everything is written: on its own, with its
        // status seen.
        next.raw()
            .execute("UPDATE workers SET lease_until = 0", [])
            .unwrap();
        next.forget_mid(created.media.mid.as_str()).unwrap();
        assert!(matches!(
            next.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        created_by(&next, &key, &identity, &answers);
        next.seen(&seen[1]).unwrap();
        next.flush().unwrap();
        assert!(next.raw().journaled.is_empty());
        let status: Option<String> = entry_row(
            &b.raw(),
            "SELECT status FROM entries
             WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
            &key,
        )
        .unwrap()
        .and_then(|(status,)| status);
        assert_eq!(status.as_deref(), Some("PROCESSING"));
        assert_eq!(stage_seen(&b, &key), "created");
    }

    /// A record's status seen and final record find its entry by its key
    /// (no index of records: [`Store::records`]), whether this process
    /// created the record or took it over from one that did; a record
    /// no process here knows is found by a look at every row.
    #[test]
    fn a_record_is_found_by_its_entry_s_key_whoever_created_it() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        let answers = small_file_answers(0).swap_remove(0);
        let Answers {
            created,
            seen,
            done,
            ..
        } = &answers;
        created_by(&a, &key, &identity, &answers);
        let mid = created.media.mid.to_string();
        assert!(a.raw().records.contains_key(&mid));
        // The process that created it gives it up; another takes it over.
        a.release(&key).unwrap();
        assert!(matches!(
            b.claim(&key, false).unwrap(),
            Claim::Mine(Resume::Created { .. })
        ));
        assert_eq!(b.raw().records.get(&mid), Some(&key));
        b.seen(&seen[1]).unwrap();
        b.flush().unwrap();
        let status: Option<String> = entry_row(
            &b.raw(),
            "SELECT status FROM entries
             WHERE base_url = ?1 AND client_id = ?2 AND sha256 = ?3 AND model = ?4",
            &key,
        )
        .unwrap()
        .map(|(status,)| status);
        assert_eq!(status.as_deref(), Some("PROCESSING"));
        b.finished(done).unwrap();
        b.flush().unwrap();
        assert!(b.raw().records.is_empty(), "a final record is forgotten");
        assert!(!b.held_by_another(&a.raw(), &key).unwrap());
        let claims: i64 = (b.raw())
            .query_row(CLAIMS_HELD, [], |row| row.get(0))
            .unwrap();
        assert_eq!(claims, 0, "the final record ends the claim");
        match a.claim(&key, false).unwrap() {
            Claim::Mine(Resume::Final(media)) => assert_eq!(media.status, done.status),
            other => panic!("{other:?}"),
        }
        // Known to neither: found by a look at every row.
        assert!(a.raw().records.is_empty() && b.raw().records.is_empty());
        assert_eq!(b.forget_mid(&mid).unwrap(), 1);
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
    }

    #[test]
    fn a_final_record_is_queued_then_written_and_others_read_it() {
        let (_dir, a, b, identity, key) = two_workers_claim_one_file();
        let save = saving(a.checkpoint(&key, &identity));
        let request = authenta_reqwest::types::CreateMediaRequest {
            name: "a.png".into(),
            content_type: "image/png".into(),
            size: 5,
            model_type: ModelType::Ac1,
        };
        save(Checkpoint::Creating {
            request: &request,
            at: jiff::Timestamp::now(),
        })
        .unwrap();
        let mid = MediaId::new("m-1");
        save(Checkpoint::Uploaded { mid: &mid }).unwrap();
        let media: Media = serde_json::from_value(json!({
            "mid": "m-1", "name": "a.png", "type": "Image", "modelType": "AC-1",
            "status": "PROCESSED", "createdAt": "2026-12-01T00:00:00Z",
        }))
        .unwrap();
        a.finished(&media).unwrap();
        // Queued: the other worker still sees the claim...
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        // ... until it is written, with the claim's end: then the record.
        a.flush().unwrap();
        match b.claim(&key, false).unwrap() {
            Claim::Mine(Resume::Final(saved)) => assert_eq!(saved.mid, mid),
            other => panic!("{other:?}"),
        }
    }

    /// A status seen again is not saved again (a batch reads it at every
    /// poll): nothing is queued for it, even after the queue was written;
    /// a new status is, and so is the record's final state, but not a
    /// final status on its own (its record follows with it).
    #[test]
    fn a_status_seen_again_is_not_saved_again() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let media = |status: &str| -> Media {
            serde_json::from_value(json!({
                "mid": "m-1", "name": "a.png", "type": "Image", "modelType": "AC-1",
                "status": status, "createdAt": "2026-12-01T00:00:00Z",
            }))
            .unwrap()
        };
        let queued = || ledger.raw().queued_len();
        ledger.seen(&media("PROCESSING")).unwrap();
        assert_eq!(queued(), 1);
        ledger.flush().unwrap();
        for _ in 0..3 {
            ledger.seen(&media("PROCESSING")).unwrap();
        }
        assert_eq!(queued(), 0, "the same status, saved already");
        ledger.seen(&media("UPLOADED")).unwrap();
        assert_eq!(queued(), 1, "a new status");
        ledger.seen(&media("FAILED")).unwrap();
        assert_eq!(queued(), 1, "a final status waits for its record");
        ledger.finished(&media("FAILED")).unwrap();
        assert_eq!(queued(), 1, "the record, which makes the status moot");
        ledger.flush().unwrap();
        assert!(lock(&ledger.statuses).is_empty(), "forgotten at its end");
    }

    #[test]
    fn an_earlier_ledger_s_indexes_are_replaced_once_and_its_rows_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        // A ledger as authenta made it before: full indexes, and one by
        // digest.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V3).unwrap();
        conn.execute_batch(
            "CREATE INDEX files_sha256 ON files (sha256);
             CREATE INDEX claims_owner ON claims (owner);
             CREATE INDEX entries_mid ON entries (mid);
             CREATE INDEX job_entries_job ON job_entries (job);
             INSERT INTO entries (base_url, client_id, sha256, model, path, size, mid, stage,
                                  updated_at)
             VALUES ('b', 'c', 's', 'AC-1', '/f', 1, 'm-1', 'uploaded', 't');",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        drop(conn);
        let indexes = |conn: &Connection| -> Vec<(String, String)> {
            let mut s = conn
                .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql NOT NULL ORDER BY name")
                .unwrap();
            s.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let wanted: Vec<(String, String)> = INDEXES
            .iter()
            .filter_map(|(name, sql)| Some((name.to_string(), (*sql)?.to_string())))
            .collect();
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(indexes(&ledger.raw()), wanted);
        // The record's entry is still found by its id.
        assert_eq!(ledger.forget_mid("m-1").unwrap(), 1);
        drop(ledger);
        // Opened again: nothing to do (the schema is not written).
        let before = Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "schema_version", |row| row.get::<_, i64>(0))
            .unwrap();
        let ledger = Ledger::open(&path).unwrap();
        let after: i64 = ledger
            .raw()
            .pragma_query_value(None, "schema_version", |row| row.get(0))
            .unwrap();
        assert_eq!(before, after);
        assert_eq!(indexes(&ledger.raw()), wanted);
    }
}
