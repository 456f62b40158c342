//! The ledger in PostgreSQL (`--ledger postgres://…`): the same tables as
//! the SQLite ledger, in a schema `authenta` of the database the URL names,
//! so the workers of a fleet share one batch.
//!
//! tokio-postgres drives the connection on a thread of its own (a
//! current-thread runtime): the ledger's calls stay synchronous, as they
//! are for SQLite, and never wait on the batch's own runtime. Claims are an
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` the holder's lease ran out by
//! the server's clock (`now()`), never a worker's; queued writes go in one
//! pipelined transaction (one round trip). Migrations are versioned in
//! `authenta.version` and applied under `pg_advisory_xact_lock`, so workers
//! starting together create the schema once.
//!
//! Workers lock rows in one order where they can (queued writes sorted by
//! table and key, claims by key), and a transaction the server aborts to
//! break a deadlock or a serialization conflict (SQLSTATE `40P01`,
//! `40001`) is run again, whole, after a short random pause: PostgreSQL's
//! own advice, since its deadlock detector picks a victim rather than
//! waiting forever.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use authenta_reqwest::client::block_on;
use futures_util::future::join_all;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Statement};

use super::{
    Claim, CreatedState, EntryKey, EntryState, KeyColumns, LEASE, QUEUE_AGE, QUEUE_LEN, Queued,
    Row, Saved, SavedJob, Worker,
};
#[cfg(test)]
use authenta_reqwest::proto::engine::resume::Resume;
use authenta_reqwest::proto::options::Checkpoint;
use authenta_reqwest::proto::options::Saved as Saving;

/// The schema's version (the largest in `authenta.version`): a ledger of a
/// later version is refused rather than misread. (A SQLite ledger counts
/// its own: version 4 of its schema has no counterpart here, where claims
/// stay rows of their own.)
const SCHEMA_VERSION: i64 = 3;

/// The schema, one migration per version (version `n` is `MIGRATIONS[n - 1]`).
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    "CREATE TABLE authenta.files (
         path      TEXT PRIMARY KEY,
         size      BIGINT NOT NULL,
         mtime_ns  BIGINT NOT NULL,
         sha256    TEXT NOT NULL
     );
     CREATE INDEX files_sha256 ON authenta.files (sha256);
     CREATE TABLE authenta.entries (
         base_url    TEXT NOT NULL,
         client_id   TEXT NOT NULL,
         sha256      TEXT NOT NULL,
         model       TEXT NOT NULL,
         path        TEXT NOT NULL,
         size        BIGINT NOT NULL,
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
         PRIMARY KEY (base_url, client_id, sha256, model)
     );
     CREATE INDEX entries_mid ON authenta.entries (mid);",
    "CREATE TABLE authenta.claims (
         base_url     TEXT NOT NULL,
         client_id    TEXT NOT NULL,
         sha256       TEXT NOT NULL,
         model        TEXT NOT NULL,
         owner        TEXT NOT NULL,
         host         TEXT NOT NULL,
         pid          BIGINT NOT NULL,
         lease_until  TIMESTAMPTZ NOT NULL,
         PRIMARY KEY (base_url, client_id, sha256, model)
     );
     CREATE INDEX claims_owner ON authenta.claims (owner);",
    "CREATE TABLE authenta.job_entries (
         base_url    TEXT NOT NULL,
         client_id   TEXT NOT NULL,
         sha256      TEXT NOT NULL,
         task        TEXT NOT NULL,
         path        TEXT NOT NULL,
         size        BIGINT NOT NULL,
         since       TEXT,
         job         TEXT,
         stage       TEXT NOT NULL,
         saved       TEXT,
         status      TEXT,
         record      TEXT,
         updated_at  TEXT NOT NULL,
         PRIMARY KEY (base_url, client_id, sha256, task)
     );
     CREATE INDEX job_entries_job ON authenta.job_entries (job);",
];

/// A job entry's state to save ([`Pg::save_job`]).
pub struct JobWrite {
    pub path: String,
    pub size: i64,
    pub since: Option<String>,
    pub job: Option<String>,
    pub stage: &'static str,
    pub saved: Option<String>,
    pub at: String,
}

/// The advisory lock migrations take (any number: authenta's own).
const MIGRATION_LOCK: i64 = 0x6175_7468_656e_7461; // "authenta"

/// Whether `location` names a PostgreSQL ledger.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The connection settings of `url`.
pub fn config(url: &str) -> io::Result<Config> {
    url.parse()
        .map_err(|e| io::Error::other(format!("not a PostgreSQL URL ({e})")))
}

/// `url` with its password replaced by `***`: what messages show.
pub use authenta_reqwest::client::redacted_url as redact;

/// A PostgreSQL ledger: one connection, its statements, and the writes
/// queued for its next transaction.
pub struct Pg {
    inner: Mutex<Inner>,
    /// The password, scrubbed from every message.
    secret: Option<String>,
    /// The thread that writes the waiting `Created` states
    /// [`CREATED_WAIT`] after the first began to wait (started with the
    /// first state that waits; `None` if it could not be).
    grouping: OnceLock<Option<std::thread::Thread>>,
    /// How long that thread lets a group wait: [`CREATED_WAIT`] (tests
    /// that look at a group before it is written make it longer).
    created_wait: Duration,
}

/// An upload's `Created` state waits at most this long for the creates in
/// flight beside it, to be written with theirs (see
/// [`Pg::save_created`]).
const CREATED_WAIT: Duration = Duration::from_millis(1);

/// The `Created` states of a PostgreSQL ledger's uploads whose bytes wait
/// for their write (see [`Pg::save_created`]), and what became of the
/// writes: the next pipelined transaction (`Pg::transaction`) writes them,
/// with what is queued. (A SQLite ledger journals them instead.)
#[derive(Default)]
struct Waiting {
    /// The states, in the order they came.
    states: Vec<(EntryKey, CreatedState)>,
    /// How many writes of states were tried: a state added while this was
    /// `n` is written by the next one, or the ones after it if that fails.
    attempts: u64,
    /// The last of them that succeeded.
    succeeded: u64,
    /// The last of them that failed, and why.
    failed: Option<(u64, String)>,
    /// The uploads waiting for the write.
    wakers: Vec<Waker>,
    /// The entries whose create is in flight: `Creating` saved, no
    /// `Created` state yet.
    creating: HashSet<EntryKey>,
    /// When the first of `states` began to wait.
    since: Option<Instant>,
}

impl Waiting {
    /// The states were written: the uploads waiting go on.
    fn wrote(&mut self) {
        if !self.states.is_empty() {
            self.states.clear();
            self.since = None;
            self.attempts += 1;
            self.succeeded = self.attempts;
            self.wakers.drain(..).for_each(Waker::wake);
        }
    }

    /// Writing the states failed: the uploads waiting stop, with `error`
    /// (the states wait for the next write).
    fn failed(&mut self, error: &io::Error) {
        if !self.states.is_empty() {
            self.attempts += 1;
            self.failed = Some((self.attempts, error.to_string()));
            self.wakers.drain(..).for_each(Waker::wake);
        }
    }

    /// Whether a state added after `at` attempts is written (or the write
    /// tried next failed: its upload stops, the state is written by a
    /// later one); else `cx` is woken when that changes.
    fn poll_written(&mut self, at: u64, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.succeeded > at {
            return Poll::Ready(Ok(()));
        }
        if let Some((failed, why)) = &self.failed
            && *failed > at
        {
            return Poll::Ready(Err(io::Error::other(format!(
                "cannot write the record's upload URL to the ledger before its upload \
                 ({why}); the record was created: run the command again to resume it"
            ))));
        }
        self.wakers.push(cx.waker().clone());
        Poll::Pending
    }
}

/// An upload's wait for the write of its `Created` state, added after
/// `at` attempts to write states ([`Pg::save_created`]).
struct Written {
    pg: Arc<Pg>,
    at: u64,
}

impl Future for Written {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let at = self.at;
        self.pg.waiting(|waiting| waiting.poll_written(at, cx))
    }
}

struct Inner {
    client: Client,
    statements: HashMap<&'static str, Statement>,
    queued: Vec<Queued>,
    since: Option<Instant>,
    /// The `Created` states waiting for their write: the next
    /// transaction writes them first.
    waiting: Waiting,
}

/// One statement of a pipelined transaction: its SQL and parameters.
type Step<'a> = (&'static str, Vec<&'a (dyn ToSql + Sync)>);

impl Pg {
    /// Connects to the ledger at `url` and brings its schema to this
    /// version (creating it in a new database).
    pub fn open(url: &str) -> io::Result<Pg> {
        let (url, tls) = super::tls::settings(url)?;
        let mut config = config(&url)?;
        let mut secret = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        // libpq's variable, for a password kept out of the URL.
        if secret.is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password.as_bytes());
            secret = Some(password);
        }
        if config.get_application_name().is_none() {
            config.application_name("authenta");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let scrub = |e: tokio_postgres::Error| scrubbed(&text_of(&e), secret.as_deref());
        let client = connect(config, tls, scrub)?;
        let pg = Pg {
            inner: Mutex::new(Inner {
                client,
                statements: HashMap::new(),
                queued: Vec::new(),
                since: None,
                waiting: Waiting::default(),
            }),
            secret,
            grouping: OnceLock::new(),
            created_wait: CREATED_WAIT,
        };
        pg.migrate()?;
        Ok(pg)
    }

    fn err(&self, e: &tokio_postgres::Error) -> io::Error {
        let transient = matches!(
            e.code(),
            Some(&SqlState::T_R_DEADLOCK_DETECTED | &SqlState::T_R_SERIALIZATION_FAILURE)
        );
        let text = scrubbed_text(&text_of(e), self.secret.as_deref());
        io::Error::other(PgError { text, transient })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or upgrades the schema, under the migrations' lock.
    fn migrate(&self) -> io::Result<()> {
        let inner = self.lock();
        let client = &inner.client;
        let run = |sql: &str| block_on(client.batch_execute(sql)).map_err(|e| self.err(&e));
        run("BEGIN")?;
        let migrated = (|| {
            block_on(client.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]))
                .map_err(|e| self.err(&e))?;
            run("CREATE SCHEMA IF NOT EXISTS authenta;
                 CREATE TABLE IF NOT EXISTS authenta.version (version INTEGER NOT NULL)")?;
            let version: i32 = block_on(client.query_one(
                "SELECT coalesce(max(version), 0) FROM authenta.version",
                &[],
            ))
            .and_then(|row| row.try_get(0))
            .map_err(|e| self.err(&e))?;
            if i64::from(version) > SCHEMA_VERSION {
                return Err(super::newer(i64::from(version), SCHEMA_VERSION));
            }
            for (n, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                run(migration)?;
                let n = i32::try_from(n + 1).expect("a few migrations");
                block_on(client.execute("INSERT INTO authenta.version VALUES ($1)", &[&n]))
                    .map_err(|e| self.err(&e))?;
            }
            Ok(())
        })();
        match migrated {
            Ok(()) => run("COMMIT"),
            Err(e) => {
                let _ = run("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs `steps` in one transaction after what is queued, pipelined
    /// (one round trip); the rows each returned.
    fn transaction(&self, steps: &[Step<'_>]) -> io::Result<Vec<Vec<tokio_postgres::Row>>> {
        let mut inner = self.lock();
        let queued = std::mem::take(&mut inner.queued);
        inner.since = None;
        // The `Created` states waiting first (their uploads wait for them).
        let created = inner.waiting.states.clone();
        let created = CreatedColumns::of(&created);
        let columns = QueuedColumns::of(&queued);
        let mut queued_steps = created.steps();
        queued_steps.extend(columns.steps());
        let all: Vec<&Step<'_>> = queued_steps.iter().chain(steps).collect();
        let prepared = all
            .iter()
            .try_for_each(|(sql, _)| inner.prepare(sql).map(drop).map_err(|e| self.err(&e)));
        let done = prepared.and_then(|()| {
            let inner = &*inner;
            again(|| self.pipelined(inner, &all, queued_steps.len(), steps.is_empty()))
        });
        match &done {
            Ok(_) => inner.waiting.wrote(),
            Err(e) => inner.waiting.failed(e),
        }
        done
    }

    /// Runs `f` on the `Created` states waiting for their write.
    fn waiting<T>(&self, f: impl FnOnce(&mut Waiting) -> T) -> T {
        f(&mut self.lock().waiting)
    }

    /// Writes the `Created` states waiting (and what is queued), if any.
    pub fn write_created(&self) -> io::Result<()> {
        if self.lock().waiting.states.is_empty() {
            return Ok(());
        }
        self.transaction(&[]).map(drop)
    }

    /// How many writes of waiting states were tried.
    #[cfg(test)]
    pub(crate) fn attempts(&self) -> u64 {
        self.waiting(|waiting| waiting.attempts)
    }

    /// The create of `key` was sent: the `Created` states that come
    /// meanwhile wait for its answer too (see [`Pg::save_created`]).
    pub fn create_sent(&self, key: &EntryKey) {
        self.waiting(|waiting| waiting.creating.insert(key.clone()));
    }

    /// Saves the `Created` state of the upload of `key` before its bytes
    /// go, in one transaction with the states of the creates in flight
    /// beside it (a batch's creates go out in waves: most groups hold as
    /// many states as `-j`). The upload's bytes wait until it is written,
    /// at once when no other create is in flight (the state is saved when
    /// this returns), else once those creates have answered (or their
    /// claims are released), or [`CREATED_WAIT`] after the first state
    /// waited, whichever comes first (the next pipelined transaction writes
    /// the waiting states first, too). Killed meanwhile, the record is only
    /// created, its bytes never sent: a rerun finds it (the sweep of a
    /// `Creating` state) and creates it anew, as when a process dies
    /// waiting for a create's answer. Measured in BENCHMARKS.md (a round
    /// trip a file before).
    pub fn save_created(
        self: &Arc<Self>,
        key: &EntryKey,
        state: CreatedState,
    ) -> io::Result<Saving> {
        // Whether no other create is in flight, and the count of writes
        // this state waits past.
        let (alone, at) = self.waiting(|waiting| {
            waiting.creating.remove(key);
            waiting.states.push((key.clone(), state));
            waiting.since.get_or_insert_with(Instant::now);
            let alone = waiting.creating.is_empty() || waiting.states.len() >= QUEUE_LEN;
            (alone, waiting.attempts)
        });
        let grouping = if alone { None } else { self.group_by_time() };
        // (No thread to write it in time: written now too.)
        match grouping {
            None => {
                self.write_created()?;
                Ok(Saving::Now)
            }
            Some(grouping) => {
                grouping.unpark();
                Ok(Saving::later(Written {
                    pg: self.clone(),
                    at,
                }))
            }
        }
    }

    /// The thread that writes the `Created` states [`CREATED_WAIT`] after
    /// the first of them began to wait, if nothing wrote them before
    /// (started once; it ends with the ledger).
    fn group_by_time(self: &Arc<Self>) -> Option<&std::thread::Thread> {
        let thread = self.grouping.get_or_init(|| {
            let backend = Arc::downgrade(self);
            let created_wait = self.created_wait;
            std::thread::Builder::new()
                .name("authenta-ledger".into())
                .spawn(move || {
                    loop {
                        let Some(backend) = backend.upgrade() else {
                            return;
                        };
                        let wait = match backend.waiting(|waiting| waiting.since) {
                            None => Duration::from_secs(1),
                            Some(since) => {
                                (since + created_wait).saturating_duration_since(Instant::now())
                            }
                        };
                        if wait.is_zero() {
                            // A failure is told to the waiting uploads; the
                            // states are tried again a little later.
                            if backend.write_created().is_err() {
                                drop(backend);
                                std::thread::park_timeout(QUEUE_AGE);
                            }
                            continue;
                        }
                        drop(backend);
                        std::thread::park_timeout(wait);
                    }
                })
                .map(|handle| handle.thread().clone())
                .ok()
        });
        thread.as_ref()
    }

    /// One attempt of [`Pg::transaction`]: `all` (the `queued` writes, then
    /// the steps) in one pipelined transaction; the steps' rows.
    fn pipelined(
        &self,
        inner: &Inner,
        all: &[&Step<'_>],
        queued: usize,
        no_steps: bool,
    ) -> io::Result<Vec<Vec<tokio_postgres::Row>>> {
        let client = &inner.client;
        // One statement is a transaction of its own: no BEGIN and COMMIT
        // (each a wake-up of this thread more).
        if let [(sql, params)] = all {
            let rows = block_on(client.query(&inner.statements[sql], params.as_slice()))
                .map_err(|e| self.err(&e))?;
            return Ok(match no_steps {
                true => Vec::new(),
                false => vec![rows],
            });
        }
        let mut futures: Vec<Pin<Box<dyn Future<Output = _> + '_>>> = Vec::new();
        futures.push(Box::pin(async move {
            client.batch_execute("BEGIN").await.map(|()| Vec::new())
        }));
        for (sql, params) in all {
            let statement = &inner.statements[sql];
            futures.push(Box::pin(client.query(statement, params.as_slice())));
        }
        futures.push(Box::pin(async move {
            client.batch_execute("COMMIT").await.map(|()| Vec::new())
        }));
        let results = block_on(join_all(futures));
        let mut rows = Vec::with_capacity(results.len());
        // The first error is the statement's that failed (those after it
        // only say the transaction was aborted; its COMMIT rolls back).
        for result in results {
            rows.push(result.map_err(|e| self.err(&e))?);
        }
        // BEGIN, the queued writes, then the steps' rows, then COMMIT.
        Ok(rows.drain(1 + queued..rows.len() - 1).collect())
    }

    /// Runs one statement on its own; its rows.
    fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> io::Result<Vec<tokio_postgres::Row>> {
        let mut inner = self.lock();
        let statement = inner.prepare(sql).map_err(|e| self.err(&e))?;
        again(|| block_on(inner.client.query(&statement, params)).map_err(|e| self.err(&e)))
    }

    /// Queues `write`; writes the queue if it is long or old enough.
    pub fn queue(&self, write: Queued) -> io::Result<()> {
        let flush = {
            let mut inner = self.lock();
            super::push(&mut inner.queued, write);
            let since = *inner.since.get_or_insert_with(Instant::now);
            inner.queued.len() >= QUEUE_LEN || since.elapsed() >= QUEUE_AGE
        };
        match flush {
            true => self.flush(),
            false => Ok(()),
        }
    }

    /// Writes what is queued, if anything.
    pub fn flush(&self) -> io::Result<()> {
        let inner = self.lock();
        if inner.queued.is_empty() && inner.waiting.states.is_empty() {
            return Ok(());
        }
        drop(inner);
        self.transaction(&[]).map(drop)
    }

    /// The digest saved for each `(path, size, mtime_ns)`, if it is the
    /// file's as it was then: one query.
    pub fn saved_digests(&self, files: &[(String, i64, i64)]) -> io::Result<Vec<Option<String>>> {
        let paths: Vec<&str> = files.iter().map(|(path, ..)| path.as_str()).collect();
        let rows = self.query(
            "SELECT path, size, mtime_ns, sha256 FROM authenta.files WHERE path = ANY($1)",
            &[&paths],
        )?;
        let saved: HashMap<String, (i64, i64, String)> = self
            .tuples::<(String, i64, i64, String)>(&rows, 0)?
            .into_iter()
            .map(|(path, size, mtime_ns, sha256)| (path, (size, mtime_ns, sha256)))
            .collect();
        Ok(files
            .iter()
            .map(|(path, size, mtime_ns)| match saved.get(path) {
                Some((s, m, sha256)) if s == size && m == mtime_ns => Some(sha256.clone()),
                _ => None,
            })
            .collect())
    }

    /// The saved state of each of `keys` (in their order).
    pub fn saved_many(&self, keys: &[&EntryKey]) -> io::Result<Vec<Option<Saved>>> {
        self.saved_states(
            "SELECT k.i, e.stage, e.name, e.since, e.mid, e.created_at, e.target, e.record
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                  AS k (base_url, client_id, sha256, model, i)
             JOIN authenta.entries e USING (base_url, client_id, sha256, model)",
            keys,
        )
    }

    /// The state of each of `keys` (in their order) that `sql` reads: `sql`
    /// joins the keys (`$1` to `$4`, arrays, `WITH ORDINALITY`: its first
    /// column, from 1) to a table, and selects the state's columns after.
    /// The one reader of a record's entries and of a job's.
    fn saved_states<T: FromColumns>(
        &self,
        sql: &'static str,
        keys: &[&EntryKey],
    ) -> io::Result<Vec<Option<T>>> {
        let rows = self.query(sql, &Columns::of(keys).params())?;
        let mut saved: Vec<Option<T>> = keys.iter().map(|_| None).collect();
        for row in &rows {
            let (i, state) = row
                .try_get::<_, i64>(0)
                .and_then(|i| Ok((i, T::from_columns(row, 1)?)))
                .map_err(|e| self.err(&e))?;
            if let Some(slot) = usize::try_from(i - 1).ok().and_then(|i| saved.get_mut(i)) {
                *slot = Some(state);
            }
        }
        Ok(saved)
    }

    /// Each of `rows` as a tuple of its columns from `first` on.
    fn tuples<T: FromColumns>(
        &self,
        rows: &[tokio_postgres::Row],
        first: usize,
    ) -> io::Result<Vec<T>> {
        rows.iter()
            .map(|row| T::from_columns(row, first))
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(&e))
    }

    /// See [`super::Ledger::claim_many`]: each entry is claimed when it has
    /// no holder, this worker holds it, its holder's lease ran out by the
    /// server's clock, or its holder on this machine has exited. One
    /// statement claims them all, in the keys' order (so workers claiming
    /// overlapping groups take their row locks in one order: no deadlock).
    pub fn claim_many<S: EntryState>(
        &self,
        worker: &Worker,
        keys: &[&EntryKey],
        refresh: bool,
    ) -> io::Result<Vec<Claim<S>>> {
        let mut claims: Vec<Option<Claim<S>>> = keys.iter().map(|_| None).collect();
        // Final entries are answered without claiming.
        let mut open: Vec<usize> = Vec::with_capacity(keys.len());
        for (i, resume) in S::read_pg(self, keys, refresh)?.into_iter().enumerate() {
            match resume.is_final() {
                true => claims[i] = Some(Claim::Mine(resume)),
                false => open.push(i),
            }
        }
        let wanted: Vec<&EntryKey> = open.iter().map(|&i| keys[i]).collect();
        let mut taken: Vec<&EntryKey> = Vec::with_capacity(wanted.len());
        if !wanted.is_empty() {
            let columns = Columns::of(&wanted);
            let pid = i64::from(worker.pid);
            let lease = LEASE.as_secs_f64();
            let mut params = columns.params().to_vec();
            params.extend_from_slice(&[&worker.id, &worker.host, &pid, &lease]);
            let rows = self.query(
                "INSERT INTO authenta.claims AS c (base_url, client_id, sha256, model, owner,
                                                   host, pid, lease_until)
                 SELECT DISTINCT k.base_url, k.client_id, k.sha256, k.model, $5, $6,
                        $7::bigint, now() + make_interval(secs => $8)
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                      AS k (base_url, client_id, sha256, model)
                 ORDER BY 1, 2, 3, 4
                 ON CONFLICT (base_url, client_id, sha256, model) DO UPDATE SET
                   owner = excluded.owner, host = excluded.host, pid = excluded.pid,
                   lease_until = excluded.lease_until
                 WHERE c.owner = excluded.owner OR c.lease_until < now()
                 RETURNING sha256, model",
                &params,
            )?;
            let got: Vec<(String, String)> = self.tuples(&rows, 0)?;
            for key in wanted {
                let mine = got
                    .iter()
                    .any(|(sha, model)| *sha == key.sha256 && *model == key.model)
                    || self.take_from_exited(worker, key)?;
                if mine {
                    taken.push(key);
                }
            }
        }
        // Read again, as the claims' holder: another worker may have moved
        // them on before its claims ended.
        let again = S::read_pg(self, &taken, refresh)?;
        let mut finished = Vec::new();
        for (key, resume) in taken.iter().zip(again) {
            if resume.is_final() {
                finished.push(*key);
            }
            let i = keys
                .iter()
                .position(|k| std::ptr::eq(*k, *key))
                .expect("a key asked for");
            claims[i] = Some(Claim::Mine(resume));
        }
        for key in finished {
            self.release(worker, key, None)?;
        }
        Ok(claims
            .into_iter()
            .map(|claim| claim.unwrap_or(Claim::Held))
            .collect())
    }

    /// Takes `key` over when its holder is a process of this machine that
    /// has exited; whether it did.
    fn take_from_exited(&self, worker: &Worker, key: &EntryKey) -> io::Result<bool> {
        let holder = self.query(
            "SELECT owner, host, pid FROM authenta.claims
             WHERE base_url = $1 AND client_id = $2 AND sha256 = $3 AND model = $4",
            &key.params(),
        )?;
        let holder: Option<(String, String, i64)> = self.tuples(&holder, 0)?.pop();
        let Some((owner, host, pid)) = holder else {
            return Ok(false);
        };
        if !worker.outlived(&host, pid) {
            return Ok(false);
        }
        let (pid, lease) = (i64::from(worker.pid), LEASE.as_secs_f64());
        let mut params = key.params().to_vec();
        params.extend_from_slice(&[&worker.id, &worker.host, &pid, &lease, &owner]);
        let taken = self.query(
            "UPDATE authenta.claims SET owner = $5, host = $6, pid = $7,
               lease_until = now() + make_interval(secs => $8)
             WHERE base_url = $1 AND client_id = $2 AND sha256 = $3 AND model = $4
               AND owner = $9
             RETURNING true",
            &params,
        )?;
        Ok(!taken.is_empty())
    }

    /// Writes the `Creating` state of `keys`, just claimed anew, ahead of
    /// their creates (see [`super::Ledger::claim_many`]), at `since`, in
    /// one statement (in the keys' order, as claims take their locks); the
    /// keys written (a final record is never overwritten).
    pub fn write_ahead<'k>(
        &self,
        keys: &[&'k EntryKey],
        since: &str,
    ) -> io::Result<Vec<&'k EntryKey>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let columns = Columns::of(keys);
        let paths: Vec<&str> = keys.iter().map(|k| k.path.as_str()).collect();
        let sizes: Vec<i64> = keys.iter().map(|k| k.size).collect();
        let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
        let stamp = super::now();
        let mut params = columns.params().to_vec();
        params.extend_from_slice(&[&paths, &sizes, &names, &since, &stamp]);
        let rows = self.query(
            "INSERT INTO authenta.entries AS e (base_url, client_id, sha256, model, path, size,
                                               name, since, stage, updated_at)
             SELECT k.*, $8, 'creating', $9
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::bigint[], $7::text[])
                  AS k (base_url, client_id, sha256, model, path, size, name)
             ORDER BY 1, 2, 3, 4
             ON CONFLICT (base_url, client_id, sha256, model) DO UPDATE SET
               path = excluded.path, size = excluded.size, name = excluded.name,
               since = excluded.since, mid = NULL, created_at = NULL, target = NULL,
               expires_at = NULL, stage = 'creating', status = NULL, record = NULL,
               updated_at = excluded.updated_at
             WHERE e.stage <> 'final'
             RETURNING base_url, client_id, sha256, model",
            &params,
        )?;
        let written = self.key_columns(&rows)?;
        Ok(keys
            .iter()
            .copied()
            .filter(|key| written.iter().any(|columns| key.is(columns)))
            .collect())
    }

    /// The key columns of `rows` (their first four).
    fn key_columns(&self, rows: &[tokio_postgres::Row]) -> io::Result<Vec<KeyColumns>> {
        self.tuples(rows, 0)
    }

    /// Gives up `worker`'s claim of `key`, undoing the `Creating` state
    /// written `ahead` of a create never sent.
    pub fn release(
        &self,
        worker: &Worker,
        key: &EntryKey,
        ahead: Option<String>,
    ) -> io::Result<()> {
        // A create that never answered: no `Created` state for the states
        // waiting beside it to wait for.
        self.waiting(|waiting| waiting.creating.remove(key));
        let [base_url, client_id, sha256, model] = key.params();
        // The entry, then the claim: the order every worker locks rows in.
        let mut steps: Vec<Step<'_>> = ahead
            .as_ref()
            .map(|since| undo_ahead(key, since))
            .into_iter()
            .collect();
        steps.push((
            "DELETE FROM authenta.claims WHERE base_url = $1 AND client_id = $2
               AND sha256 = $3 AND model = $4 AND owner = $5",
            vec![base_url, client_id, sha256, model, &worker.id],
        ));
        self.transaction(&steps).map(drop)
    }

    /// Writes what is queued and gives up every claim of `worker`, undoing
    /// the `Creating` states written `ahead` of creates never sent (entries
    /// by key, then claims: the order every worker locks rows in).
    pub fn release_all(&self, worker: &Worker, ahead: &[(EntryKey, String)]) -> io::Result<()> {
        self.waiting(|waiting| waiting.creating.clear());
        let mut ahead: Vec<&(EntryKey, String)> = ahead.iter().collect();
        ahead.sort_by(|(a, _), (b, _)| {
            (
                &a.account.base_url,
                &a.account.client_id,
                &a.sha256,
                &a.model,
            )
                .cmp(&(
                    &b.account.base_url,
                    &b.account.client_id,
                    &b.sha256,
                    &b.model,
                ))
        });
        let mut steps: Vec<Step<'_>> = ahead
            .iter()
            .map(|(key, since)| undo_ahead(key, since))
            .collect();
        steps.push((
            "DELETE FROM authenta.claims WHERE (base_url, client_id, sha256, model) IN
               (SELECT base_url, client_id, sha256, model FROM authenta.claims
                WHERE owner = $1 ORDER BY 1, 2, 3, 4 FOR UPDATE)",
            vec![&worker.id],
        ));
        self.transaction(&steps).map(drop)
    }

    /// Renews `worker`'s leases (and writes what is queued); the keys of
    /// those renewed.
    pub fn renew(&self, worker: &Worker) -> io::Result<Vec<KeyColumns>> {
        let lease = LEASE.as_secs_f64();
        let rows = self.transaction(&[(
            "UPDATE authenta.claims SET lease_until = now() + make_interval(secs => $2)
             WHERE (base_url, client_id, sha256, model) IN
               (SELECT base_url, client_id, sha256, model FROM authenta.claims
                WHERE owner = $1 ORDER BY 1, 2, 3, 4 FOR UPDATE)
               AND owner = $1
             RETURNING base_url, client_id, sha256, model",
            vec![&worker.id, &lease],
        )])?;
        self.key_columns(&rows[0])
    }

    /// Saves a checkpoint's state of the entry `key` (see
    /// [`super::Ledger::checkpoint`]): `step`, committed before this
    /// returns, after checking (locking the claim's row) that no other
    /// live worker holds the entry.
    fn save(&self, worker: &Worker, key: &EntryKey, step: Step<'_>) -> io::Result<()> {
        let lease_check: Step<'_> = (
            "SELECT owner, host, pid, lease_until > now() FROM authenta.claims
             WHERE base_url = $1 AND client_id = $2 AND sha256 = $3 AND model = $4
             FOR UPDATE",
            key.params().to_vec(),
        );
        // The check and the write are one transaction, but the write must
        // wait for the check's answer: not pipelined.
        let mut inner = self.lock();
        let queued = std::mem::take(&mut inner.queued);
        inner.since = None;
        let columns = QueuedColumns::of(&queued);
        let queued = columns.steps();
        for (sql, _) in queued.iter().chain([&lease_check, &step]) {
            inner.prepare(sql).map_err(|e| self.err(&e))?;
        }
        let client = &inner.client;
        let run = |(sql, params): &Step<'_>| {
            block_on(client.query(&inner.statements[sql], params.as_slice()))
                .map_err(|e| self.err(&e))
        };
        again(|| {
            block_on(client.batch_execute("BEGIN")).map_err(|e| self.err(&e))?;
            let done = (|| {
                for write in &queued {
                    run(write)?;
                }
                let holder = run(&lease_check)?;
                let holder: Option<(String, String, i64, bool)> = self.tuples(&holder, 0)?.pop();
                if let Some((owner, host, pid, live)) = holder
                    && owner != worker.id
                    && live
                    && !worker.outlived(&host, pid)
                {
                    return Err(super::taken_over());
                }
                run(&step).map(drop)
            })();
            let end = match done {
                Ok(()) => "COMMIT",
                Err(_) => "ROLLBACK",
            };
            let ended = block_on(client.batch_execute(end)).map_err(|e| self.err(&e));
            done.and(ended)
        })
    }

    /// Every entry, most recently changed first (then every job entry).
    pub fn rows(&self) -> io::Result<Vec<Row>> {
        self.flush()?;
        let mut rows = self.listed(
            "SELECT base_url, client_id, sha256, model, path, mid, stage, status, record,
                    updated_at
             FROM authenta.entries ORDER BY updated_at DESC, path",
        )?;
        // A job's id in the `mid` column; its record not shown.
        rows.extend(self.listed(
            "SELECT base_url, client_id, sha256, task, path, job, stage, status, NULL::text,
                    updated_at
             FROM authenta.job_entries ORDER BY updated_at DESC, path",
        )?);
        Ok(rows)
    }

    /// The entries `sql` selects, as [`Row`]s (its columns in their order,
    /// the record as JSON text): the one reader of a record's entries and
    /// of a job's.
    fn listed(&self, sql: &'static str) -> io::Result<Vec<Row>> {
        self.tuples(&self.query(sql, &[])?, 0)
    }

    /// Pairs of strings one query returns (after what is queued).
    pub fn pairs(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> io::Result<Vec<(String, Option<String>)>> {
        self.flush()?;
        self.tuples(&self.query(sql, params)?, 0)
    }
}

impl Pg {
    /// Saves a checkpoint of the entry `key` (the file `identity`), as
    /// [`super::Ledger::checkpoint`] does.
    pub fn save_checkpoint(
        &self,
        worker: &Worker,
        key: &EntryKey,
        identity: &super::Identity,
        point: Checkpoint<'_>,
    ) -> io::Result<()> {
        let [base_url, client_id, sha256, model] = key.params();
        let stamp = super::now();
        match point {
            Checkpoint::Creating { request, at } => {
                let (path, size) = (
                    identity.path.to_string_lossy().into_owned(),
                    identity.size as i64,
                );
                let since = at.to_string();
                let params: Vec<&(dyn ToSql + Sync)> = vec![
                    base_url,
                    client_id,
                    sha256,
                    model,
                    &path,
                    &size,
                    &request.name,
                    &since,
                    &stamp,
                ];
                // A worker whose claim was taken over creates nothing: the
                // claim's row is locked and checked in the same statement
                // (one round trip); only when another worker's lease holds
                // is its holder looked at (has it exited?), the slow way.
                let mut guarded = params.clone();
                guarded.push(&worker.id);
                let written = self.transaction(&[(
                    "WITH holder AS (
                       SELECT owner, lease_until > now() AS live FROM authenta.claims
                       WHERE base_url = $1 AND client_id = $2 AND sha256 = $3 AND model = $4
                       FOR UPDATE
                     )
                     INSERT INTO authenta.entries AS e (base_url, client_id, sha256, model, path,
                                                        size, name, since, stage, updated_at)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'creating', $9
                     WHERE NOT EXISTS (SELECT 1 FROM holder WHERE owner <> $10 AND live)
                     ON CONFLICT (base_url, client_id, sha256, model) DO UPDATE SET
                       path = $5, size = $6, name = $7, since = $8, mid = NULL,
                       created_at = NULL, target = NULL, expires_at = NULL,
                       stage = 'creating', status = NULL, record = NULL, updated_at = $9
                     RETURNING true",
                    guarded,
                )])?;
                if !written[0].is_empty() {
                    return Ok(());
                }
                self.save(
                    worker,
                    key,
                    (
                        "INSERT INTO authenta.entries (base_url, client_id, sha256, model, path,
                                                       size, name, since, stage, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'creating', $9)
                         ON CONFLICT (base_url, client_id, sha256, model) DO UPDATE SET
                           path = $5, size = $6, name = $7, since = $8, mid = NULL,
                           created_at = NULL, target = NULL, expires_at = NULL,
                           stage = 'creating', status = NULL, record = NULL, updated_at = $9",
                        params,
                    ),
                )
            }
            _ => Ok(()),
        }
    }

    /// Drops the entries of `mid` (or of the job `mid`); how many.
    pub fn forget_mid(&self, mid: &str) -> io::Result<usize> {
        let rows = self.transaction(&[
            (
                "DELETE FROM authenta.entries WHERE mid = $1 RETURNING true",
                vec![&mid],
            ),
            (
                "DELETE FROM authenta.job_entries WHERE job = $1 RETURNING true",
                vec![&mid],
            ),
        ])?;
        Ok(rows[0].len() + rows[1].len())
    }

    /// Drops what the ledger holds for the file `path`: every entry of its
    /// bytes (its saved digest's, and `now`'s: the digest of what it holds
    /// now, if small) and its saved digest; how many entries.
    pub fn forget_path(&self, path: &str, now: Option<&str>) -> io::Result<usize> {
        let rows = self.transaction(&[
            (
                "DELETE FROM authenta.entries WHERE path = $1 OR sha256 = $2
                    OR sha256 IN (SELECT sha256 FROM authenta.files WHERE path = $1)
                 RETURNING true",
                vec![&path, &now],
            ),
            (
                "DELETE FROM authenta.job_entries WHERE path = $1 OR sha256 = $2
                    OR sha256 IN (SELECT sha256 FROM authenta.files WHERE path = $1)
                 RETURNING true",
                vec![&path, &now],
            ),
            ("DELETE FROM authenta.files WHERE path = $1", vec![&path]),
        ])?;
        Ok(rows[0].len() + rows[1].len())
    }

    /// Each final entry of `account`: its path and record, in path order.
    pub fn final_entries(
        &self,
        account: &super::Account,
    ) -> io::Result<Vec<(String, Option<String>)>> {
        self.pairs(
            "SELECT path, record FROM authenta.entries
             WHERE base_url = $1 AND client_id = $2 AND stage = 'final' AND record IS NOT NULL
             ORDER BY path",
            &[&account.base_url, &account.client_id],
        )
    }

    /// The latest final record of the bytes `sha256` for `account`.
    pub fn final_record(
        &self,
        account: &super::Account,
        sha256: &str,
    ) -> io::Result<Option<String>> {
        let rows = self.pairs(
            "SELECT sha256, record FROM authenta.entries
             WHERE base_url = $1 AND client_id = $2 AND sha256 = $3 AND stage = 'final'
             ORDER BY updated_at DESC LIMIT 1",
            &[&account.base_url, &account.client_id, &sha256],
        )?;
        Ok(rows.into_iter().next().and_then(|(_, record)| record))
    }
}

impl Pg {
    /// The saved state of each job entry of `keys` (in their order).
    pub fn saved_jobs(&self, keys: &[&EntryKey]) -> io::Result<Vec<Option<SavedJob>>> {
        self.saved_states(
            "SELECT k.i, e.stage, e.since, e.job, e.saved, e.record
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                  AS k (base_url, client_id, sha256, task, i)
             JOIN authenta.job_entries e USING (base_url, client_id, sha256, task)",
            keys,
        )
    }

    /// Saves a job entry's stage (see [`super::Ledger::job_checkpoint`]),
    /// checking (the claim's row locked) that no other live worker holds
    /// the entry.
    pub fn save_job(&self, worker: &Worker, key: &EntryKey, write: JobWrite) -> io::Result<()> {
        let mut params = key.params().to_vec();
        params.extend_from_slice(&[
            &write.path,
            &write.size,
            &write.since,
            &write.job,
            &write.stage,
            &write.saved,
            &write.at,
        ]);
        self.save(
            worker,
            key,
            (
                "INSERT INTO authenta.job_entries AS e (base_url, client_id, sha256, task, path,
                                                        size, since, job, stage, saved,
                                                        updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (base_url, client_id, sha256, task) DO UPDATE SET
                   path = $5, size = $6, since = coalesce($7, e.since), job = $8, stage = $9,
                   saved = $10, status = NULL, record = NULL, updated_at = $11",
                params,
            ),
        )
    }

    /// Drops the job entry `key`; how many.
    pub fn forget_job(&self, key: &EntryKey) -> io::Result<usize> {
        let rows = self.transaction(&[(
            "DELETE FROM authenta.job_entries
             WHERE base_url = $1 AND client_id = $2 AND sha256 = $3 AND task = $4
             RETURNING true",
            key.params().to_vec(),
        )])?;
        Ok(rows[0].len())
    }
}

/// A value read from a row's columns, from `first` on (as rusqlite reads
/// a row into a tuple).
trait FromColumns: Sized {
    fn from_columns(row: &tokio_postgres::Row, first: usize)
    -> Result<Self, tokio_postgres::Error>;
}

macro_rules! from_columns {
    ($($column:ident $i:tt),+) => {
        impl<$($column: for<'r> tokio_postgres::types::FromSql<'r>),+> FromColumns for ($($column,)+) {
            fn from_columns(
                row: &tokio_postgres::Row,
                first: usize,
            ) -> Result<Self, tokio_postgres::Error> {
                Ok(($(row.try_get(first + $i)?,)+))
            }
        }
    };
}

from_columns!(A 0, B 1);
from_columns!(A 0, B 1, C 2);
from_columns!(A 0, B 1, C 2, D 3);
from_columns!(A 0, B 1, C 2, D 3, E 4);
from_columns!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);

/// An entry as `authenta ledger` lists it, from its columns in [`Row`]'s
/// order (the record as JSON text).
impl FromColumns for Row {
    fn from_columns(row: &tokio_postgres::Row, first: usize) -> Result<Row, tokio_postgres::Error> {
        let column = |i: usize| first + i;
        let record: Option<String> = row.try_get(column(8))?;
        Ok(Row {
            base_url: row.try_get(column(0))?,
            client_id: row.try_get(column(1))?,
            sha256: row.try_get(column(2))?,
            model: row.try_get(column(3))?,
            path: row.try_get(column(4))?,
            mid: row.try_get(column(5))?,
            stage: row.try_get(column(6))?,
            status: row.try_get(column(7))?,
            record: record.and_then(|r| serde_json::from_str(&r).ok()),
            updated_at: row.try_get(column(9))?,
        })
    }
}

/// The key columns of some entries, as four arrays.
#[derive(Default)]
struct Columns<'a> {
    base_url: Vec<&'a str>,
    client_id: Vec<&'a str>,
    sha256: Vec<&'a str>,
    model: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(keys: &[&'a EntryKey]) -> Columns<'a> {
        let mut columns = Columns::default();
        for key in keys {
            columns.push(key);
        }
        columns
    }

    fn push(&mut self, key: &'a EntryKey) {
        let [base_url, client_id, sha256, model] = key.columns();
        self.base_url.push(base_url);
        self.client_id.push(client_id);
        self.sha256.push(sha256);
        self.model.push(model);
    }

    /// The arrays, as parameters `$1` to `$4`.
    fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [&self.base_url, &self.client_id, &self.sha256, &self.model]
    }
}

impl EntryKey {
    /// The key's columns, as parameters `$1` to `$4`.
    fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [
            &self.account.base_url,
            &self.account.client_id,
            &self.sha256,
            &self.model,
        ]
    }
}

impl Inner {
    /// The statement of `sql`, prepared once per connection.
    fn prepare(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = block_on(self.client.prepare(sql))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// The statement undoing the `Creating` state written ahead (at `since`)
/// with the claim of `key`.
fn undo_ahead<'a>(key: &'a EntryKey, since: &'a (dyn ToSql + Sync)) -> Step<'a> {
    let mut params = key.params().to_vec();
    params.push(since);
    (
        "DELETE FROM authenta.entries WHERE base_url = $1 AND client_id = $2 AND sha256 = $3
           AND model = $4 AND stage = 'creating' AND since = $5",
        params,
    )
}

/// The writes of a queue, a statement per kind of write over arrays of
/// rows (instead of a statement per write: each statement is a response
/// the connection's thread and the caller wake for). A statement changes
/// a row once, so of the writes of one row only the last is kept (a queue
/// holds a row's writes in the order its flow makes them: upload, status,
/// final record). Rows are locked in the order every worker locks them
/// in: files by path, then entries by record, then claims by key.
#[derive(Default)]
struct QueuedColumns<'q> {
    file_path: Vec<&'q str>,
    file_size: Vec<i64>,
    file_mtime_ns: Vec<i64>,
    file_sha256: Vec<&'q str>,
    uploaded: Columns<'q>,
    uploaded_mid: Vec<&'q str>,
    uploaded_at: Vec<&'q str>,
    seen_mid: Vec<&'q str>,
    seen_status: Vec<&'q str>,
    seen_at: Vec<&'q str>,
    finished_mid: Vec<&'q str>,
    finished_status: Vec<&'q str>,
    finished_record: Vec<&'q str>,
    finished_at: Vec<&'q str>,
    finished_owner: Vec<&'q str>,
    job: Columns<'q>,
    job_id: Vec<&'q str>,
    job_status: Vec<&'q str>,
    job_record: Vec<&'q str>,
    job_at: Vec<&'q str>,
    job_owner: Vec<&'q str>,
    /// Every record the entries' writes name (locked first, in order).
    mids: Vec<&'q str>,
}

/// Waiting `Created` states as one statement's arrays.
#[derive(Default)]
struct CreatedColumns<'q> {
    key: Columns<'q>,
    at: Vec<&'q str>,
    mid: Vec<&'q str>,
    created_at: Vec<&'q str>,
    target: Vec<&'q str>,
    expires_at: Vec<Option<&'q str>>,
    status: Vec<&'q str>,
}

impl<'q> CreatedColumns<'q> {
    fn of(states: &'q [(EntryKey, CreatedState)]) -> CreatedColumns<'q> {
        let mut columns = CreatedColumns::default();
        for (key, state) in states {
            columns.key.push(key);
            columns.at.push(&state.stamp);
            columns.mid.push(&state.mid);
            columns.created_at.push(&state.created_at);
            columns.target.push(state.target.get());
            columns.expires_at.push(state.expires_at.as_deref());
            columns.status.push(&state.status);
        }
        columns
    }

    /// The statement, when there are states.
    fn steps(&self) -> Vec<Step<'_>> {
        if self.at.is_empty() {
            return Vec::new();
        }
        let [base_url, client_id, sha256, model] = self.key.params();
        vec![(
            "UPDATE authenta.entries AS e SET mid = c.mid, created_at = c.created_at,
               target = c.target, expires_at = c.expires_at, stage = 'created',
               status = c.status, updated_at = c.at
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
               AS c (base_url, client_id, sha256, model, at, mid, created_at, target,
                     expires_at, status)
             WHERE e.base_url = c.base_url AND e.client_id = c.client_id
               AND e.sha256 = c.sha256 AND e.model = c.model",
            vec![
                base_url,
                client_id,
                sha256,
                model,
                &self.at,
                &self.mid,
                &self.created_at,
                &self.target,
                &self.expires_at,
                &self.status,
            ],
        )]
    }
}

impl<'q> QueuedColumns<'q> {
    fn of(queued: &'q [Queued]) -> QueuedColumns<'q> {
        let mut columns = QueuedColumns::default();
        // The last write of each row: read from the end, the first kept.
        let mut kept = std::collections::HashSet::new();
        for write in queued.iter().rev() {
            match write {
                Queued::File {
                    path,
                    size,
                    mtime_ns,
                    sha256,
                } => {
                    if kept.insert((0, [path.as_str(), "", "", ""])) {
                        columns.file_path.push(path);
                        columns.file_size.push(*size);
                        columns.file_mtime_ns.push(*mtime_ns);
                        columns.file_sha256.push(sha256);
                    }
                }
                Queued::Uploaded { key, mid, at } => {
                    if kept.insert((1, key.columns())) {
                        columns.uploaded.push(key);
                        columns.uploaded_mid.push(mid);
                        columns.uploaded_at.push(at);
                        columns.mids.push(mid);
                    }
                }
                Queued::Seen { mid, status, at } => {
                    if kept.insert((2, [mid.as_str(), "", "", ""])) {
                        columns.seen_mid.push(mid);
                        columns.seen_status.push(status);
                        columns.seen_at.push(at);
                        columns.mids.push(mid);
                    }
                }
                Queued::Finished {
                    mid,
                    status,
                    record,
                    at,
                    owner,
                } => {
                    if kept.insert((3, [mid.as_str(), "", "", ""])) {
                        columns.finished_mid.push(mid);
                        columns.finished_status.push(status);
                        columns.finished_record.push(record);
                        columns.finished_at.push(at);
                        columns.finished_owner.push(owner);
                        columns.mids.push(mid);
                    }
                }
                // A SQLite ledger's only: a PostgreSQL one saves a job's
                // stages at once (`Pg::save_job`).
                Queued::JobFinalized { .. } => {}
                Queued::JobFinished {
                    key,
                    job,
                    status,
                    record,
                    at,
                    owner,
                } => {
                    if kept.insert((4, key.columns())) {
                        columns.job.push(key);
                        columns.job_id.push(job);
                        columns.job_status.push(status);
                        columns.job_record.push(record);
                        columns.job_at.push(at);
                        columns.job_owner.push(owner);
                    }
                }
            }
        }
        columns
    }

    /// The statements, each only when it has rows.
    fn steps(&self) -> Vec<Step<'_>> {
        let mut steps: Vec<Step<'_>> = Vec::new();
        if !self.file_path.is_empty() {
            steps.push((
                "INSERT INTO authenta.files (path, size, mtime_ns, sha256)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])
                 ORDER BY 1
                 ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                   mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256",
                vec![
                    &self.file_path,
                    &self.file_size,
                    &self.file_mtime_ns,
                    &self.file_sha256,
                ],
            ));
        }
        if !self.mids.is_empty() {
            // The entries' rows, locked by record before any is written
            // (an upload's too: its entry holds its record since the
            // `Created` checkpoint). By the `mid` index: no scan of the
            // whole table.
            steps.push((
                "SELECT 1 FROM authenta.entries WHERE mid = ANY($1)
                 ORDER BY mid, base_url, client_id, sha256, model
                 FOR UPDATE",
                vec![&self.mids],
            ));
        }
        if !self.uploaded_mid.is_empty() {
            let mut params = self.uploaded.params().to_vec();
            params.extend_from_slice(&[&self.uploaded_mid, &self.uploaded_at]);
            steps.push((
                "UPDATE authenta.entries e SET mid = w.mid, target = NULL, stage = 'uploaded',
                   updated_at = w.at
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[]) AS w (base_url, client_id, sha256, model, mid, at)
                 WHERE e.base_url = w.base_url AND e.client_id = w.client_id
                   AND e.sha256 = w.sha256 AND e.model = w.model AND e.stage <> 'final'",
                params,
            ));
        }
        if !self.seen_mid.is_empty() {
            steps.push((
                "UPDATE authenta.entries e SET status = w.status, updated_at = w.at
                 FROM unnest($1::text[], $2::text[], $3::text[]) AS w (mid, status, at)
                 WHERE e.mid = w.mid AND e.stage <> 'final'
                   AND e.status IS DISTINCT FROM w.status",
                vec![&self.seen_mid, &self.seen_status, &self.seen_at],
            ));
        }
        if !self.finished_mid.is_empty() {
            steps.push((
                "UPDATE authenta.entries e SET stage = 'final', status = w.status,
                   record = w.record, target = NULL, updated_at = w.at
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                      AS w (mid, status, record, at)
                 WHERE e.mid = w.mid",
                vec![
                    &self.finished_mid,
                    &self.finished_status,
                    &self.finished_record,
                    &self.finished_at,
                ],
            ));
        }
        if !self.job_id.is_empty() {
            // Job entries by content, as claims are taken.
            let mut params = self.job.params().to_vec();
            params.extend_from_slice(&[
                &self.job_id,
                &self.job_status,
                &self.job_record,
                &self.job_at,
            ]);
            steps.push((
                "UPDATE authenta.job_entries e SET stage = 'final', job = w.job,
                   status = w.status, record = w.record, saved = NULL, updated_at = w.at
                 FROM (SELECT w.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                             $5::text[], $6::text[], $7::text[], $8::text[])
                            AS w (base_url, client_id, sha256, task, job, status, record, at)
                       JOIN authenta.job_entries j USING (base_url, client_id, sha256, task)
                       ORDER BY 1, 2, 3, 4 FOR UPDATE OF j) AS w
                 WHERE e.base_url = w.base_url AND e.client_id = w.client_id
                   AND e.sha256 = w.sha256 AND e.task = w.task",
                params,
            ));
        }
        if !self.finished_mid.is_empty() || !self.job_id.is_empty() {
            // With their outcomes saved, their holders' claims end.
            let mut params: Vec<&(dyn ToSql + Sync)> =
                vec![&self.finished_mid, &self.finished_owner, &self.job_owner];
            params.extend_from_slice(&self.job.params());
            steps.push((
                "DELETE FROM authenta.claims c USING (
                   SELECT h.base_url, h.client_id, h.sha256, h.model FROM authenta.claims h
                   WHERE (h.owner, h.base_url, h.client_id, h.sha256, h.model) IN (
                     SELECT w.owner, e.base_url, e.client_id, e.sha256, e.model
                     FROM unnest($1::text[], $2::text[]) AS w (mid, owner)
                     JOIN authenta.entries e USING (mid)
                     UNION ALL
                     SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[],
                                          $7::text[]))
                   ORDER BY 1, 2, 3, 4 FOR UPDATE) AS d
                 WHERE c.base_url = d.base_url AND c.client_id = d.client_id
                   AND c.sha256 = d.sha256 AND c.model = d.model",
                params,
            ));
        }
        steps
    }
}

/// What went wrong, in full: the server's own message, else the error and
/// its causes (an error's `Display` is only its kind, such as `db error`).
fn text_of(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(inner) = cause {
        text = format!("{text}: {inner}");
        cause = inner.source();
    }
    text
}

/// `text` without `secret`.
fn scrubbed_text(text: &str, secret: Option<&str>) -> String {
    match secret.filter(|s| !s.is_empty()) {
        Some(secret) => text.replace(secret, "***"),
        None => text.to_owned(),
    }
}

/// `text` without `secret`, as an error.
fn scrubbed(text: &str, secret: Option<&str>) -> io::Error {
    io::Error::other(PgError {
        text: scrubbed_text(text, secret),
        transient: false,
    })
}

/// A PostgreSQL error, its text scrubbed of the password.
#[derive(Debug)]
struct PgError {
    text: String,
    /// Whether the server aborted the transaction only to break a
    /// deadlock or a serialization conflict: run again, it goes through.
    transient: bool,
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgreSQL: {}", self.text)
    }
}

impl std::error::Error for PgError {}

/// How many times a transaction the server aborted to break a deadlock
/// is run again before its error is the caller's.
const ATTEMPTS: u32 = 8;

/// Runs `attempt` until it is not aborted to break a deadlock (at most
/// [`ATTEMPTS`] more times), pausing a random few milliseconds between, so
/// the workers that met do not meet again.
fn again<T>(mut attempt: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e) if tries < ATTEMPTS && is_transient(&e) => {
                tries += 1;
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let spread = u64::from(5 * tries.min(6)) * 1_000_000;
                let pause = 1_000_000 + u64::from(nanos ^ std::process::id()) % spread;
                std::thread::sleep(std::time::Duration::from_nanos(pause));
            }
            other => return other,
        }
    }
}

/// Whether `e` is a [`PgError`] worth running again.
fn is_transient(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<PgError>())
        .is_some_and(|e| e.transient)
}

/// Connects on a thread of its own, which then drives the connection
/// until the client is dropped.
fn connect(
    config: Config,
    tls: super::tls::MakeRustls,
    scrub: impl Fn(tokio_postgres::Error) -> io::Error,
) -> io::Result<Client> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("authenta-ledger".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = sender.send(Err(Err(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                match config.connect(tls).await {
                    Ok((client, connection)) => {
                        let _ = sender.send(Ok(client));
                        let _ = connection.await;
                    }
                    Err(e) => {
                        let _ = sender.send(Err(Ok(e)));
                    }
                }
            });
        })?;
    match receiver.recv() {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(Ok(e))) => Err(scrub(e)),
        Ok(Err(Err(e))) => Err(e),
        Err(_) => Err(io::Error::other("the ledger's connection thread ended")),
    }
}

#[cfg(test)]
#[path = "../../tests/common/postgres.rs"]
#[allow(dead_code, missing_docs)]
pub(super) mod cluster;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::saving;
    use crate::ledger::{Account, Ledger};
    use authenta_reqwest::types::ModelType;

    /// Workers writing the same files' digests in opposite orders, at
    /// once, round after round: every transaction goes through (rows are
    /// locked in one order; one aborted to break a deadlock runs again).
    #[test]
    fn overlapping_groups_of_writes_never_fail_on_a_deadlock() {
        let server = cluster::Cluster::start();
        let url = server.database("overlap");
        let workers: Vec<Pg> = (0..2).map(|_| Pg::open(&url).unwrap()).collect();
        let paths: Vec<String> = (0..24).map(|i| format!("/batch/{i:02}.png")).collect();
        std::thread::scope(|scope| {
            for (n, pg) in workers.iter().enumerate() {
                let paths = &paths;
                scope.spawn(move || {
                    for round in 0..40i64 {
                        let mut order: Vec<&String> = paths.iter().collect();
                        if n == 1 {
                            order.reverse();
                        }
                        for path in order {
                            pg.queue(Queued::File {
                                path: path.clone(),
                                size: round,
                                mtime_ns: round,
                                sha256: format!("{n}{round}"),
                            })
                            .unwrap();
                        }
                        pg.flush().unwrap();
                    }
                });
            }
        });
        assert_eq!(
            server.sql("overlap", "SELECT count(*) FROM authenta.files"),
            "24"
        );
    }

    /// The queue lands as a statement per kind of write, as its writes
    /// would in order: a file's last digest; a record uploaded, seen and
    /// finished in one flush ends final, its claim released; a status of a
    /// final record, or an upload after it, changes nothing; a job's
    /// outcome ends its claim; another worker's claim stays.
    #[test]
    fn a_queue_lands_as_its_writes_would_in_order() {
        let server = cluster::Cluster::start();
        let url = server.database("queue");
        let pg = Pg::open(&url).unwrap();
        server.sql(
            "queue",
            "INSERT INTO authenta.entries (base_url, client_id, sha256, model, path, size, mid,
                                          stage, status, updated_at) VALUES
               ('u', 'id', 'a', 'AC-1', '/a', 1, 'm-a', 'created', 'INITED', 't0'),
               ('u', 'id', 'b', 'AC-1', '/b', 1, 'm-b', 'final', 'PROCESSED', 't0'),
               ('u', 'id', 'c', 'AC-1', '/c', 1, 'm-c', 'uploaded', 'UPLOADED', 't0');
             INSERT INTO authenta.job_entries (base_url, client_id, sha256, task, path, size,
                                               job, stage, saved, updated_at)
               VALUES ('u', 'id', 'd', 'job:x', '/d', 1, '7', 'uploaded', 's', 't0');
             INSERT INTO authenta.claims VALUES
               ('u', 'id', 'a', 'AC-1', 'me', 'h', 1, now()),
               ('u', 'id', 'c', 'AC-1', 'other', 'h', 1, now()),
               ('u', 'id', 'd', 'job:x', 'me', 'h', 1, now())",
        );
        let key = |sha256: &str, model: &str| {
            EntryKey(std::sync::Arc::new(crate::ledger::KeyParts {
                account: std::sync::Arc::new(crate::ledger::Account {
                    base_url: "u".into(),
                    client_id: "id".into(),
                }),
                sha256: sha256.into(),
                model: model.into(),
                path: format!("/{sha256}"),
                size: 1,
            }))
        };
        let text = |s: &str| s.to_owned();
        let writes = [
            Queued::File {
                path: text("/a"),
                size: 1,
                mtime_ns: 1,
                sha256: text("old"),
            },
            Queued::Uploaded {
                key: key("a", "AC-1"),
                mid: text("m-a"),
                at: text("t1"),
            },
            Queued::Seen {
                mid: text("m-a"),
                status: text("PROCESSING"),
                at: text("t2"),
            },
            Queued::Seen {
                mid: text("m-b"),
                status: text("PROCESSING"),
                at: text("t2"),
            },
            Queued::Uploaded {
                key: key("b", "AC-1"),
                mid: text("m-b"),
                at: text("t2"),
            },
            Queued::Seen {
                mid: text("m-c"),
                status: text("PROCESSING"),
                at: text("t2"),
            },
            Queued::File {
                path: text("/a"),
                size: 1,
                mtime_ns: 2,
                sha256: text("a"),
            },
            Queued::Finished {
                mid: text("m-a"),
                status: text("PROCESSED"),
                record: text("{}"),
                at: text("t3"),
                owner: text("me"),
            },
            Queued::JobFinished {
                key: key("d", "job:x"),
                job: text("7"),
                status: text("completed"),
                record: text("{}"),
                at: text("t3"),
                owner: text("me"),
            },
        ];
        for write in writes {
            pg.queue(write).unwrap();
        }
        pg.flush().unwrap();
        let sql = |sql: &str| server.sql("queue", sql);
        assert_eq!(
            sql("SELECT path, mtime_ns, sha256 FROM authenta.files"),
            "/a|2|a"
        );
        assert_eq!(
            sql(
                "SELECT sha256, mid, stage, status, record, updated_at FROM authenta.entries
                 ORDER BY sha256"
            ),
            "a|m-a|final|PROCESSED|{}|t3\n\
             b|m-b|final|PROCESSED||t0\n\
             c|m-c|uploaded|PROCESSING||t2"
        );
        assert_eq!(
            sql("SELECT stage, status, saved FROM authenta.job_entries"),
            "final|completed|"
        );
        assert_eq!(sql("SELECT sha256, owner FROM authenta.claims"), "c|other");
    }

    /// A transaction aborted to break a deadlock is run again (a few
    /// times, then its error is the caller's); any other error at once.
    #[test]
    fn only_a_transient_error_is_tried_again() {
        let transient = || {
            io::Error::other(PgError {
                text: "ERROR: deadlock detected".into(),
                transient: true,
            })
        };
        let mut runs = 0;
        let done = again(|| {
            runs += 1;
            match runs {
                1 | 2 => Err(transient()),
                _ => Ok(runs),
            }
        });
        assert_eq!(done.unwrap(), 3);
        runs = 0;
        let err = again(|| -> io::Result<()> {
            runs += 1;
            Err(transient())
        })
        .unwrap_err();
        assert_eq!(runs, ATTEMPTS + 1);
        assert_eq!(err.to_string(), "PostgreSQL: ERROR: deadlock detected");
        runs = 0;
        let err = again(|| -> io::Result<()> {
            runs += 1;
            Err(scrubbed("ERROR: no such table", None))
        })
        .unwrap_err();
        assert_eq!((runs, is_transient(&err)), (1, false));
    }

    /// Claims in PostgreSQL: held by one worker until released, its lease
    /// run out by the server's clock, or its holder on this machine gone;
    /// a worker whose claim was taken over creates nothing.
    #[test]
    fn a_claim_is_one_worker_s_until_released_expired_or_its_holder_exits() {
        let server = cluster::Cluster::start();
        let url = server.database("claims");
        let (a, b) = (
            Ledger::open_url(&url).unwrap(),
            Ledger::open_url(&url).unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"bytes").unwrap();
        let identity = a.identify(&file).unwrap();
        let account = Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        };
        let key = a.key(&account, &identity, &ModelType::Ac1);
        assert!(matches!(
            a.claim(&key, false).unwrap(),
            Claim::Mine(Resume::New)
        ));
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
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
        // A lease the server's clock says ran out is taken over.
        server.sql(
            "claims",
            "UPDATE authenta.claims SET lease_until = now() - interval '1 s'",
        );
        assert!(matches!(a.claim(&key, false).unwrap(), Claim::Mine(_)));
        assert!(matches!(b.claim(&key, false).unwrap(), Claim::Held));
        // So is one whose holder on this machine has exited.
        if std::path::Path::new("/proc/self/stat").exists() {
            let mut gone = std::process::Command::new("true").spawn().unwrap();
            let pid = gone.id();
            gone.wait().unwrap();
            server.sql("claims", &format!("UPDATE authenta.claims SET pid = {pid}"));
            assert!(matches!(b.claim(&key, false).unwrap(), Claim::Mine(_)));
            saving(b.checkpoint(&key, &identity))(creating()).unwrap();
        }
        b.release_all().unwrap();
        assert_eq!(
            server.sql("claims", "SELECT count(*) FROM authenta.claims"),
            "0"
        );
        // A server without TLS, when TLS is required.
        let err = Ledger::open_url(&format!("{url}?sslmode=require"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not support TLS"), "{err}");
        // A later version's schema is refused.
        server.sql("claims", "INSERT INTO authenta.version VALUES (99)");
        let err = Ledger::open_url(&url).err().unwrap();
        assert!(err.to_string().contains("newer authenta"), "{err}");
    }

    /// TLS to the server: checked against `sslrootcert`'s CA with
    /// `sslmode=require`, refused without it (the server's CA is its own),
    /// unchecked with `prefer` (the default), none with `disable`.
    /// As in SQLite: the `Created` states of creates in flight together
    /// are written together (one transaction, queued writes with them),
    /// before any of their uploads goes on.
    #[test]
    fn created_states_of_creates_in_flight_together_are_written_together() {
        let server = cluster::Cluster::start();
        let url = server.database("created");
        let (mut a, b) = (
            Ledger::open_url(&url).unwrap(),
            Ledger::open_url(&url).unwrap(),
        );
        // The group is looked at before it is written: the thread leaves it.
        if let crate::ledger::Backend::Postgres(pg) = &mut a.backend {
            Arc::get_mut(pg).expect("one handle").created_wait = Duration::from_secs(3600);
        }
        let dir = tempfile::tempdir().unwrap();
        let uploads = crate::ledger::tests::three_uploads_in(&a, dir.path());
        crate::ledger::tests::written_together(&a, &b, &uploads);
    }

    #[test]
    fn tls_follows_sslmode_and_sslrootcert() {
        let server = cluster::Cluster::start_tls();
        let url = server.database("tls");
        let ca = server.ca();
        let encrypted = |url: &str| -> bool {
            let ledger = Ledger::open_url(url).unwrap();
            let rows = ledger
                .pg()
                .unwrap()
                .query(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .unwrap();
            rows[0].get(0)
        };
        let root = format!("sslrootcert={}", ca.display());
        assert!(encrypted(&format!("{url}?sslmode=require&{root}")));
        assert!(encrypted(&format!("{url}?sslmode=verify-full&{root}")));
        assert!(encrypted(&url));
        assert!(!encrypted(&format!("{url}?sslmode=disable")));
        let err = Ledger::open_url(&format!("{url}?sslmode=require"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("not trusted") && err.contains("sslrootcert"),
            "{err}"
        );
        assert!(!err.contains(cluster::PASSWORD), "{err}");
        // A CA file that is not there.
        let missing = ca.with_file_name("missing.pem");
        let err = Ledger::open_url(&format!(
            "{url}?sslmode=require&sslrootcert={}",
            missing.display()
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("sslrootcert=") && err.contains("cannot read"),
            "{err}"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://fleet:s3cret@db.example:5432/batch?sslmode=disable"),
            "postgres://fleet:***@db.example:5432/batch?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://db/batch?user=fleet&password=s3cret"),
            "postgresql://db/batch?user=fleet&password=***"
        );
        assert_eq!(
            redact("postgres://fleet@db/batch"),
            "postgres://fleet@db/batch"
        );
        let e = scrubbed("password s3cret refused", Some("s3cret"));
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
