//! The saved state: the account, its keys and records, in SQLite.
//!
//! One connection behind a mutex; every change a request makes is one
//! transaction (or one statement), committed before the request is
//! answered. The cost of a request does not grow with the number of
//! records: a record is read or changed by its `mid` (a unique index), a
//! list page is read in creation order from the rowid (`seq`), the record
//! count is kept on the account row, and quota is spent by one `UPDATE`
//! that also checks the limit. A request that changes nothing (a 401, a
//! 403, a 405) runs no write at all.
//!
//! In a data directory the database is `DIR/emulator.sqlite3` in WAL mode
//! with `synchronous = NORMAL`: a committed transaction survives the
//! process being killed; a power loss can undo the last ones (the database
//! stays consistent). In memory it is SQLite's `:memory:` database.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authenta_types::{ErrorBody, ErrorCode, Operation, Permission, QuotaKind};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension as _, Row, params};
use sha2::{Digest, Sha256};

use crate::clock::plus;
use crate::ids::{hex, new_mid, random_hex, same};
use crate::model::{ApiKey, ControlError, KeyInfo, KeySpec, MediaRecord, UploadInfo, status_str};

/// The database file in a data directory.
pub(crate) const DB_FILE: &str = "emulator.sqlite3";
/// The JSON state file of earlier versions, imported on first start.
pub(crate) const LEGACY_STATE_FILE: &str = "state.json";

/// 2: keys gained an API key token (`api_key_sha256`); 3: the jobs API's
/// `jobs` and `job_inputs` tables ([`jobs::SCHEMA`]; an earlier database
/// gains them, empty, when it is opened).
const SCHEMA_VERSION: i64 = 3;

mod jobs;
pub(crate) use jobs::{Finalized, JobChange, SlotUpload};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    account_id TEXT NOT NULL,
    s3_access_key TEXT NOT NULL,
    s3_secret_key TEXT NOT NULL,
    credits INTEGER NOT NULL CHECK (credits >= 0),
    record_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS keys (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    query_quota INTEGER,
    mutation_quota INTEGER,
    query_used INTEGER NOT NULL DEFAULT 0,
    mutation_used INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    secret_sha256 TEXT NOT NULL,
    api_key_sha256 TEXT
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    status TEXT NOT NULL,
    model_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    upload TEXT,
    processing_due INTEGER,
    fake INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS records_due ON records (processing_due)
    WHERE processing_due IS NOT NULL;
";

const RECORD_COLUMNS: &str = "mid, name, media_type, status, model_type, content_type, size, \
     created_at, upload, processing_due, fake, error";

/// The account's fixed identity (it never changes once created).
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub account_id: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
}

/// Why an API request is refused by the checks that precede its handling.
#[derive(Debug)]
pub(crate) struct Denied(pub ErrorCode);

/// What completing an upload did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UploadOutcome {
    /// The record went `UPLOADED` and processing is due after this long.
    Processing(Duration),
    /// No credit was left: the record went `FAILED` with `U007`.
    NoCredits,
    /// The record had an upload already; this one changed nothing.
    AlreadyUploaded,
}

/// A store error, as text (it ends up in a 500's message or a log line).
pub(crate) type StoreResult<T> = Result<T, String>;

fn db(e: rusqlite::Error) -> String {
    format!("database: {e}")
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<MediaRecord> {
    let upload: Option<String> = row.get(8)?;
    let error: Option<String> = row.get(11)?;
    Ok(MediaRecord {
        mid: row.get(0)?,
        name: row.get(1)?,
        media_type: row.get(2)?,
        status: row.get(3)?,
        model_type: row.get(4)?,
        content_type: row.get(5)?,
        size: to_u64(row.get(6)?),
        created_at: ts(row.get(7)?),
        upload: upload.and_then(|u| serde_json::from_str::<UploadInfo>(&u).ok()),
        processing_due: row.get::<_, Option<i64>>(9)?.map(ts),
        fake: row.get(10)?,
        error: error.and_then(|e| serde_json::from_str::<ErrorBody>(&e).ok()),
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<(KeyInfo, String)> {
    let permissions: String = row.get(2)?;
    Ok((
        KeyInfo {
            client_id: row.get(0)?,
            name: row.get(1)?,
            permissions: serde_json::from_str(&permissions).unwrap_or_default(),
            query_quota: row.get::<_, Option<i64>>(3)?.map(to_u64),
            mutation_quota: row.get::<_, Option<i64>>(4)?.map(to_u64),
            query_used: to_u64(row.get(5)?),
            mutation_used: to_u64(row.get(6)?),
            created_at: ts(row.get(7)?),
            revoked: row.get(8)?,
        },
        row.get(9)?,
    ))
}

const KEY_COLUMNS: &str = "client_id, name, permissions, query_quota, mutation_quota, \
     query_used, mutation_used, created_at, revoked, secret_sha256";

/// The state file of earlier versions, as far as the import needs it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyState {
    account_id: String,
    s3_access_key: String,
    s3_secret_key: String,
    credits: u64,
    #[serde(default)]
    keys: std::collections::BTreeMap<String, LegacyKey>,
    #[serde(default)]
    records: std::collections::BTreeMap<String, LegacyRecord>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyKey {
    #[serde(flatten)]
    info: KeyInfo,
    secret_sha256: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyRecord {
    seq: u64,
    #[serde(flatten)]
    record: MediaRecord,
}

/// The SQLite store.
pub(crate) struct Store {
    conn: Connection,
    /// In a data directory: the WAL file and the checkpoint thread.
    wal: Option<Wal>,
}

/// What keeps the WAL bounded in a data directory.
struct Wal {
    /// The `-wal` file, whose size is checked after each change.
    path: PathBuf,
    /// `total_changes()` when the size was last checked: a call that
    /// changed nothing does not look at the file.
    checked_at: u64,
    /// The size at which the next checkpoint is tried: [`WAL_SIZE_LIMIT`],
    /// or one limit more after a checkpoint that could not complete (another
    /// process reading the database), so that requests do not each wait
    /// for it.
    next_at: u64,
    /// Held while a checkpoint runs: the writer's and the thread's never
    /// overlap (SQLite would answer the second one `SQLITE_BUSY`).
    lock: Arc<Mutex<()>>,
    checkpointer: Option<Checkpointer>,
}

/// The bound on the WAL of a data directory's database (16 MiB): once a
/// change takes the `-wal` file to this size, the emulator checkpoints it
/// into the database and truncates it (`wal_checkpoint(TRUNCATE)`) before
/// answering; it is also SQLite's `journal_size_limit`. So the file never
/// holds more than this plus the one change being made (a few pages: tens of
/// KiB for a request), however long a load lasts, and a clean stop removes
/// it.
pub const WAL_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

/// A thread with its own connection that checkpoints the WAL into the
/// database every [`CHECKPOINT_EVERY`] (`PASSIVE`: it never blocks a
/// writer), so that under a moderate load no request waits for the fsyncs
/// a checkpoint does. Under a sustained load its checkpoints never catch up
/// with the writer (frames arrive while one runs, so the WAL never
/// restarts): [`Store::keep_wal_bounded`] is what bounds it.
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl Checkpointer {
    fn start(path: &Path, lock: Arc<Mutex<()>>) -> StoreResult<Checkpointer> {
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        conn.pragma_update(None, "journal_size_limit", to_i64(WAL_SIZE_LIMIT))
            .map_err(db)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("authenta-emulator-checkpoint".into())
            .spawn(move || {
                // Until the store is dropped (the sender with it).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    let _running = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(e) = checkpoint(&conn, "PASSIVE") {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    /// Stops the thread and waits for it (its connection is closed after).
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `PRAGMA wal_checkpoint(mode)`; an error when it could not complete
/// (SQLite's `busy` column).
fn checkpoint(conn: &Connection, mode: &str) -> StoreResult<()> {
    let busy: i64 = conn
        .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(0))
        .map_err(db)?;
    if busy == 0 {
        Ok(())
    } else {
        Err("the WAL is in use: another connection reads it".into())
    }
}

impl Wal {
    /// Checkpoints every frame into the database and truncates the WAL to
    /// zero bytes; fails when a reader holds it (another process).
    fn truncate(&self, conn: &Connection) -> StoreResult<()> {
        let _running = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        checkpoint(conn, "TRUNCATE")
    }
}

impl Drop for Store {
    /// A clean stop: the checkpoint thread ends, then the WAL is
    /// checkpointed and truncated; closing the last connection removes it.
    fn drop(&mut self) {
        if let Some(wal) = &mut self.wal {
            wal.checkpointer.take();
            if let Err(e) = wal.truncate(&self.conn) {
                tracing::warn!(error = %e, "final WAL checkpoint failed");
            }
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`, or in memory. A new account
    /// gets `default_credits`; `credits` overrides the balance. A
    /// `state.json` of an earlier version is imported when the database is
    /// new, then renamed `state.json.imported`.
    pub fn open(
        dir: Option<&Path>,
        credits: Option<u64>,
        default_credits: u64,
        now: Timestamp,
    ) -> Result<(Store, Account), String> {
        let conn = match dir {
            Some(dir) => {
                // The database holds the S3 signing key: its owner's only,
                // and so are the files SQLite makes beside it.
                let path = dir.join(DB_FILE);
                for suffix in ["-wal", "-shm"] {
                    let side = dir.join(format!("{DB_FILE}{suffix}"));
                    crate::files::make_private(&side)
                        .map_err(|e| format!("{}: {e}", side.display()))?;
                }
                crate::files::create_private_file(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Connection::open(&path).map_err(db)?
            }
            None => Connection::open_in_memory().map_err(db)?,
        };
        let mut wal = None;
        if let Some(dir) = dir {
            conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(db)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(db)?;
            // Checkpoints (which fsync) run on their own thread, or in the
            // request that takes the WAL past `WAL_SIZE_LIMIT`, not in any
            // request that happens to fill SQLite's own threshold.
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(db)?;
            conn.pragma_update(None, "journal_size_limit", to_i64(WAL_SIZE_LIMIT))
                .map_err(db)?;
            let lock = Arc::new(Mutex::new(()));
            let w = Wal {
                path: dir.join(format!("{DB_FILE}-wal")),
                checked_at: 0,
                next_at: WAL_SIZE_LIMIT,
                checkpointer: Some(Checkpointer::start(&dir.join(DB_FILE), lock.clone())?),
                lock,
            };
            // The WAL a kill (or an earlier version) left behind goes now,
            // not at the first request.
            if let Err(e) = w.truncate(&conn) {
                tracing::warn!(error = %e, "WAL checkpoint at start failed");
            }
            wal = Some(w);
        }
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        conn.execute_batch(jobs::SCHEMA).map_err(db)?;
        migrate(&conn)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db)?;
        let mut store = Store { conn, wal };
        let mut account = store.account()?;
        if account.is_none()
            && let Some(dir) = dir
        {
            let legacy = dir.join(LEGACY_STATE_FILE);
            match std::fs::read(&legacy) {
                Ok(bytes) => {
                    let state: LegacyState = serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{}: unreadable state: {e}", legacy.display()))?;
                    store.import(state)?;
                    // It holds the signing key too.
                    let imported = dir.join(format!("{LEGACY_STATE_FILE}.imported"));
                    std::fs::rename(&legacy, &imported)
                        .and_then(|()| crate::files::make_private(&imported))
                        .map_err(|e| format!("{}: {e}", legacy.display()))?;
                    tracing::info!(file = %legacy.display(), "imported the state of an earlier version");
                    account = store.account()?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", legacy.display())),
            }
        }
        let account = match account {
            Some(a) => a,
            None => {
                let a = Account {
                    account_id: new_mid(now),
                    s3_access_key: format!("AKIAEMU{}", random_hex::<7>().to_uppercase()),
                    s3_secret_key: random_hex::<20>(),
                };
                store
                    .conn
                    .execute(
                        "INSERT INTO account (id, account_id, s3_access_key, s3_secret_key, credits) \
                         VALUES (1, ?1, ?2, ?3, ?4)",
                        params![
                            a.account_id,
                            a.s3_access_key,
                            a.s3_secret_key,
                            to_i64(credits.unwrap_or(default_credits))
                        ],
                    )
                    .map_err(db)?;
                a
            }
        };
        if let Some(credits) = credits {
            store.set_credits(credits)?;
        }
        Ok((store, account))
    }

    fn account(&self) -> StoreResult<Option<Account>> {
        self.conn
            .query_row(
                "SELECT account_id, s3_access_key, s3_secret_key FROM account WHERE id = 1",
                [],
                |row| {
                    Ok(Account {
                        account_id: row.get(0)?,
                        s3_access_key: row.get(1)?,
                        s3_secret_key: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(db)
    }

    fn import(&mut self, state: LegacyState) -> StoreResult<()> {
        let tx = self.conn.savepoint().map_err(db)?;
        let count = state.records.len() as i64;
        tx.execute(
            "INSERT INTO account (id, account_id, s3_access_key, s3_secret_key, credits, record_count) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![
                state.account_id,
                state.s3_access_key,
                state.s3_secret_key,
                to_i64(state.credits),
                count
            ],
        )
        .map_err(db)?;
        for key in state.keys.into_values() {
            insert_key(&tx, &key.info, &key.secret_sha256)?;
        }
        let mut records: Vec<LegacyRecord> = state.records.into_values().collect();
        records.sort_by_key(|r| r.seq);
        for r in records {
            insert_record(&tx, &r.record)?;
        }
        tx.commit().map_err(db)
    }

    /// Runs `f` in one transaction: committed when `f` returns `Ok`
    /// (whatever the answer it carries), rolled back on a store error. The
    /// methods `f` calls nest inside it (they use savepoints).
    pub fn atomically<R>(
        &mut self,
        f: impl FnOnce(&mut Store) -> StoreResult<R>,
    ) -> StoreResult<R> {
        self.conn.execute_batch("BEGIN").map_err(db)?;
        match f(self) {
            Ok(r) => {
                self.conn.execute_batch("COMMIT").map_err(db)?;
                Ok(r)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Once a change has taken the WAL past [`WAL_SIZE_LIMIT`], checkpoints it
    /// into the database and truncates it. Called after every store call,
    /// outside any transaction, under the store's lock (so no other change
    /// waits behind a partial checkpoint).
    pub fn keep_wal_bounded(&mut self) {
        let Some(wal) = &mut self.wal else {
            return;
        };
        let changes = self.conn.total_changes();
        if changes == wal.checked_at {
            return;
        }
        wal.checked_at = changes;
        let size = std::fs::metadata(&wal.path).map_or(0, |m| m.len());
        if size < wal.next_at {
            return;
        }
        match wal.truncate(&self.conn) {
            Ok(()) => {
                wal.next_at = WAL_SIZE_LIMIT;
                tracing::debug!(bytes = size, "WAL checkpointed and truncated");
            }
            Err(e) => {
                wal.next_at = size.saturating_add(WAL_SIZE_LIMIT);
                tracing::warn!(error = %e, bytes = size, "WAL checkpoint failed; tried again once it grows by another limit");
            }
        }
    }

    // ---- keys ----

    pub fn create_key(&mut self, spec: KeySpec, now: Timestamp) -> Result<ApiKey, ControlError> {
        if spec.name.trim().is_empty() {
            return Err(ControlError::Invalid("a key needs a non-empty name".into()));
        }
        if let Some(p) = spec
            .permissions
            .iter()
            .find(|p| matches!(p, Permission::Unknown(_)))
        {
            return Err(ControlError::Invalid(format!(
                "unknown permission {p:?}; permissions are {:?}",
                Permission::KNOWN
            )));
        }
        let client_id = random_hex::<12>();
        let client_secret = random_hex::<24>();
        let api_key = new_api_key();
        let mut permissions = spec.permissions;
        permissions.dedup();
        let info = KeyInfo {
            name: spec.name,
            client_id: client_id.clone(),
            permissions,
            query_quota: spec.query_quota,
            mutation_quota: spec.mutation_quota,
            query_used: 0,
            mutation_used: 0,
            created_at: now,
            revoked: false,
        };
        insert_key(&self.conn, &info, &sha256_hex(&client_secret))
            .map_err(ControlError::Persist)?;
        self.set_api_key(&client_id, &api_key)?;
        Ok(ApiKey {
            client_id,
            client_secret,
            api_key,
        })
    }

    /// Checks that `client_id` is a live key.
    fn live_key(&self, client_id: &str) -> Result<(), ControlError> {
        let revoked: Option<bool> = self
            .conn
            .query_row(
                "SELECT revoked FROM keys WHERE client_id = ?1",
                [client_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| ControlError::Persist(db(e)))?;
        match revoked {
            None => Err(ControlError::UnknownKey(client_id.to_owned())),
            Some(true) => Err(ControlError::RevokedKey(client_id.to_owned())),
            Some(false) => Ok(()),
        }
    }

    /// A new secret and a new API key token for the key: the old ones
    /// stop working at once; the client id, quotas and usage stay.
    pub fn regenerate_secret(&mut self, client_id: &str) -> Result<ApiKey, ControlError> {
        self.live_key(client_id)?;
        let client_secret = random_hex::<24>();
        let api_key = new_api_key();
        self.conn
            .execute(
                "UPDATE keys SET secret_sha256 = ?2 WHERE client_id = ?1",
                params![client_id, sha256_hex(&client_secret)],
            )
            .map_err(|e| ControlError::Persist(db(e)))?;
        self.set_api_key(client_id, &api_key)?;
        Ok(ApiKey {
            client_id: client_id.to_owned(),
            client_secret,
            api_key,
        })
    }

    fn set_api_key(&self, client_id: &str, api_key: &str) -> Result<(), ControlError> {
        self.conn
            .execute(
                "UPDATE keys SET api_key_sha256 = ?2 WHERE client_id = ?1",
                params![client_id, sha256_hex(api_key)],
            )
            .map(drop)
            .map_err(|e| ControlError::Persist(db(e)))
    }

    pub fn revoke_key(&mut self, client_id: &str) -> Result<(), ControlError> {
        self.live_key(client_id)?;
        self.conn
            .execute(
                "UPDATE keys SET revoked = 1 WHERE client_id = ?1",
                [client_id],
            )
            .map_err(|e| ControlError::Persist(db(e)))?;
        Ok(())
    }

    pub fn keys(&self) -> StoreResult<Vec<KeyInfo>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM keys ORDER BY client_id"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| key_from_row(r).map(|(k, _)| k))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// Generation 2's checks, in order: a Bearer token of a live key
    /// (`INVALID_API_KEY`), then permission (`FORBIDDEN`). No quota: calls
    /// are unlimited, so nothing is written.
    pub fn authorize_bearer(
        &mut self,
        authorization: Option<&str>,
        operation: Operation,
    ) -> StoreResult<Result<(), Denied>> {
        let token = authorization.and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(Err(Denied(ErrorCode::InvalidApiKey)));
        };
        let key = self
            .conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE api_key_sha256 = ?1"
            ))
            .map_err(db)?
            .query_row([sha256_hex(token)], key_from_row)
            .optional()
            .map_err(db)?;
        let Some((info, _)) = key.filter(|(k, _)| !k.revoked) else {
            return Ok(Err(Denied(ErrorCode::InvalidApiKey)));
        };
        if !info.permissions.contains(&operation.route().permission) {
            return Ok(Err(Denied(ErrorCode::Forbidden)));
        }
        Ok(Ok(()))
    }

    /// The documented checks, in the documented order: client id, client
    /// secret (IAM001), permission (IAM002), quota (AA001). A request that
    /// passes spends one unit of its quota, with one `UPDATE` that checks
    /// the limit; a refused one writes nothing.
    pub fn authorize(
        &mut self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        operation: Operation,
    ) -> StoreResult<Result<(), Denied>> {
        let route = operation.route();
        let Some(client_id) = client_id else {
            return Ok(Err(Denied(ErrorCode::Iam001)));
        };
        let key = self
            .conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE client_id = ?1"
            ))
            .map_err(db)?
            .query_row([client_id], key_from_row)
            .optional()
            .map_err(db)?;
        let Some((info, secret_sha256)) = key.filter(|(k, _)| !k.revoked) else {
            return Ok(Err(Denied(ErrorCode::Iam001)));
        };
        if !client_secret.is_some_and(|s| same(&sha256_hex(s), &secret_sha256)) {
            return Ok(Err(Denied(ErrorCode::Iam001)));
        }
        if !info.permissions.contains(&route.permission) {
            return Ok(Err(Denied(ErrorCode::Iam002)));
        }
        let sql = match route.quota {
            QuotaKind::Mutation => {
                "UPDATE keys SET mutation_used = mutation_used + 1 WHERE client_id = ?1 \
                 AND (mutation_quota IS NULL OR mutation_used < mutation_quota)"
            }
            _ => {
                "UPDATE keys SET query_used = query_used + 1 WHERE client_id = ?1 \
                 AND (query_quota IS NULL OR query_used < query_quota)"
            }
        };
        let spent = self
            .conn
            .prepare_cached(sql)
            .map_err(db)?
            .execute([client_id])
            .map_err(db)?;
        Ok(if spent == 1 {
            Ok(())
        } else {
            Err(Denied(ErrorCode::Aa001))
        })
    }

    // ---- credits ----

    pub fn credits(&self) -> StoreResult<u64> {
        self.conn
            .prepare_cached("SELECT credits FROM account WHERE id = 1")
            .map_err(db)?
            .query_row([], |r| r.get::<_, i64>(0))
            .map(to_u64)
            .map_err(db)
    }

    pub fn set_credits(&mut self, credits: u64) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE account SET credits = ?1 WHERE id = 1",
                [to_i64(credits)],
            )
            .map(drop)
            .map_err(db)
    }

    // ---- records ----

    /// Creates a record after the credit check (U007 when the balance is
    /// zero; nothing is spent here), in one transaction.
    pub fn create_record(
        &mut self,
        record: MediaRecord,
    ) -> StoreResult<Result<MediaRecord, Denied>> {
        let tx = self.conn.savepoint().map_err(db)?;
        let credits: i64 = tx
            .prepare_cached("SELECT credits FROM account WHERE id = 1")
            .map_err(db)?
            .query_row([], |r| r.get(0))
            .map_err(db)?;
        if credits <= 0 {
            return Ok(Err(Denied(ErrorCode::U007)));
        }
        let mut record = record;
        loop {
            let taken: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM records WHERE mid = ?1)")
                .map_err(db)?
                .query_row([&record.mid], |r| r.get(0))
                .map_err(db)?;
            if !taken {
                break;
            }
            record.mid = new_mid(record.created_at);
        }
        insert_record(&tx, &record)?;
        tx.prepare_cached("UPDATE account SET record_count = record_count + 1 WHERE id = 1")
            .map_err(db)?
            .execute([])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Ok(record))
    }

    pub fn record(&self, mid: &str) -> StoreResult<Option<MediaRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE mid = ?1"
            ))
            .map_err(db)?
            .query_row([mid], record_from_row)
            .optional()
            .map_err(db)
    }

    /// One page of records, newest first, and the total count.
    pub fn page(&self, limit: u32, offset: u64) -> StoreResult<(u64, Vec<MediaRecord>)> {
        let total: i64 = self
            .conn
            .prepare_cached("SELECT record_count FROM account WHERE id = 1")
            .map_err(db)?
            .query_row([], |r| r.get(0))
            .map_err(db)?;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records ORDER BY seq DESC LIMIT ?1 OFFSET ?2"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(params![i64::from(limit), to_i64(offset)], record_from_row)
            .map_err(db)?;
        let page = rows.collect::<Result<_, _>>().map_err(db)?;
        Ok((to_u64(total), page))
    }

    /// Every record, newest first (the control surface).
    pub fn all_records(&self) -> StoreResult<Vec<MediaRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records ORDER BY seq DESC"
            ))
            .map_err(db)?;
        let rows = stmt.query_map([], record_from_row).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// Deletes a record; `false` when there is none.
    pub fn delete_record(&mut self, mid: &str) -> StoreResult<bool> {
        let tx = self.conn.savepoint().map_err(db)?;
        let deleted = tx
            .prepare_cached("DELETE FROM records WHERE mid = ?1")
            .map_err(db)?
            .execute([mid])
            .map_err(db)?;
        if deleted == 0 {
            return Ok(false);
        }
        tx.prepare_cached("UPDATE account SET record_count = record_count - 1 WHERE id = 1")
            .map_err(db)?
            .execute([])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    /// Records a completed upload in one transaction: spends one credit and
    /// starts processing, or fails the record with U007 when none is left.
    /// `None` when the record does not exist.
    pub fn complete_upload(
        &mut self,
        mid: &str,
        upload: &UploadInfo,
        processing_time: Duration,
        now: Timestamp,
    ) -> StoreResult<Option<UploadOutcome>> {
        let tx = self.conn.savepoint().map_err(db)?;
        let status: Option<String> = tx
            .prepare_cached("SELECT status FROM records WHERE mid = ?1")
            .map_err(db)?
            .query_row([mid], |r| r.get(0))
            .optional()
            .map_err(db)?;
        let Some(status) = status else {
            return Ok(None);
        };
        if status != status_str(authenta_types::MediaStatus::Inited) {
            return Ok(Some(UploadOutcome::AlreadyUploaded));
        }
        let upload_json = serde_json::to_string(upload).map_err(|e| e.to_string())?;
        let spent = tx
            .prepare_cached("UPDATE account SET credits = credits - 1 WHERE id = 1 AND credits > 0")
            .map_err(db)?
            .execute([])
            .map_err(db)?;
        let outcome = if spent == 1 {
            tx.prepare_cached(
                "UPDATE records SET status = ?2, upload = ?3, processing_due = ?4 WHERE mid = ?1",
            )
            .map_err(db)?
            .execute(params![
                mid,
                status_str(authenta_types::MediaStatus::Uploaded),
                upload_json,
                ms(plus(now, processing_time))
            ])
            .map_err(db)?;
            UploadOutcome::Processing(processing_time)
        } else {
            let error =
                ErrorBody::documented(ErrorCode::U007).and_then(|e| serde_json::to_string(&e).ok());
            tx.prepare_cached(
                "UPDATE records SET status = ?2, upload = ?3, error = ?4 WHERE mid = ?1",
            )
            .map_err(db)?
            .execute(params![
                mid,
                status_str(authenta_types::MediaStatus::Failed),
                upload_json,
                error
            ])
            .map_err(db)?;
            UploadOutcome::NoCredits
        };
        tx.commit().map_err(db)?;
        Ok(Some(outcome))
    }

    /// Moves every record whose processing is due at `now` to `PROCESSED`
    /// with its verdict (one transaction); returns their mids.
    pub fn finish_due(&mut self, now: Timestamp) -> StoreResult<Vec<String>> {
        let tx = self.conn.savepoint().map_err(db)?;
        let due: Vec<(String, Option<String>)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT mid, upload FROM records WHERE processing_due IS NOT NULL \
                     AND processing_due <= ?1",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([ms(now)], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        for (mid, upload) in &due {
            let fake = upload
                .as_deref()
                .and_then(|u| serde_json::from_str::<UploadInfo>(u).ok())
                .map(|u| crate::verdict::verdict(&u.sha256));
            tx.prepare_cached(
                "UPDATE records SET status = ?2, fake = ?3, processing_due = NULL WHERE mid = ?1",
            )
            .map_err(db)?
            .execute(params![
                mid,
                status_str(authenta_types::MediaStatus::Processed),
                fake
            ])
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(due.into_iter().map(|(mid, _)| mid).collect())
    }

    /// When the next record's processing is due.
    pub fn next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.conn
            .prepare_cached(
                "SELECT min(processing_due) FROM records WHERE processing_due IS NOT NULL",
            )
            .map_err(db)?
            .query_row([], |r| r.get::<_, Option<i64>>(0))
            .map(|t| t.map(ts))
            .map_err(db)
    }
}

/// A new API key token: `api_` and 32 hexadecimal digits (letters and
/// digits, as in every example).
fn new_api_key() -> String {
    format!("api_{}", random_hex::<16>())
}

/// Brings a database of an earlier schema up to this one: a `keys` table
/// without `api_key_sha256` gains it (its keys get a token when their
/// secret is next regenerated).
fn migrate(conn: &Connection) -> StoreResult<()> {
    let has_api_key: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('keys') WHERE name = 'api_key_sha256')",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if !has_api_key {
        conn.execute_batch("ALTER TABLE keys ADD COLUMN api_key_sha256 TEXT")
            .map_err(db)?;
    }
    conn.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS keys_api_key ON keys (api_key_sha256) \
         WHERE api_key_sha256 IS NOT NULL",
    )
    .map_err(db)
}

fn insert_key(conn: &Connection, info: &KeyInfo, secret_sha256: &str) -> StoreResult<()> {
    let permissions = serde_json::to_string(&info.permissions).map_err(|e| e.to_string())?;
    conn.prepare_cached(&format!(
        "INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .map_err(db)?
    .execute(params![
        info.client_id,
        info.name,
        permissions,
        info.query_quota.map(to_i64),
        info.mutation_quota.map(to_i64),
        to_i64(info.query_used),
        to_i64(info.mutation_used),
        ms(info.created_at),
        info.revoked,
        secret_sha256
    ])
    .map(drop)
    .map_err(db)
}

fn insert_record(conn: &Connection, r: &MediaRecord) -> StoreResult<()> {
    let upload = r
        .upload
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| e.to_string())?;
    let error = r
        .error
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| e.to_string())?;
    conn.prepare_cached(&format!(
        "INSERT INTO records ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))
    .map_err(db)?
    .execute(params![
        r.mid,
        r.name,
        r.media_type,
        r.status,
        r.model_type,
        r.content_type,
        to_i64(r.size),
        ms(r.created_at),
        upload,
        r.processing_due.map(ms),
        r.fake,
        error
    ])
    .map(drop)
    .map_err(db)
}
