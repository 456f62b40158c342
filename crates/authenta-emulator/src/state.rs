//! What every request shares: the store (SQLite, see [`crate::store`]), the
//! clock, and the volatile part (settings, logs, armed faults), each behind
//! its own lock so control calls work from sync and async code alike.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{Clock, ClockMode};
use crate::model::{ApiRequest, ApiStats, ArmedFault, ControlError, UploadRequest};
use crate::store::{Account, Store, StoreResult};

/// How many API requests and upload requests the logs keep.
pub(crate) const LOG_CAPACITY: usize = 1000;

/// The credits a new account starts with when none are configured.
pub const DEFAULT_CREDITS: u64 = 1000;

const OBJECTS_DIR: &str = "objects";

/// Resolves once the stop signal is raised (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Settings, logs and faults: what is not saved.
pub(crate) struct Volatile {
    pub processing_time: Duration,
    pub upload_expires_in: Duration,
    pub upload_backdate: Duration,
    pub api_log: VecDeque<ApiRequest>,
    pub stats: ApiStats,
    pub uploads: VecDeque<UploadRequest>,
    pub faults: Vec<ArmedFault>,
    pub next_fault_id: u64,
    /// The failures armed for the next jobs finalized (their
    /// `errorMessage`s), first first.
    pub job_failures: VecDeque<String>,
}

impl Volatile {
    pub fn log_api(&mut self, entry: ApiRequest) {
        self.stats.total += 1;
        *self.stats.by_status.entry(entry.status).or_default() += 1;
        if let Some(code) = &entry.code {
            *self.stats.by_code.entry(code.clone()).or_default() += 1;
        }
        if self.api_log.len() == LOG_CAPACITY {
            self.api_log.pop_front();
        }
        self.api_log.push_back(entry);
    }

    pub fn log_upload(&mut self, entry: UploadRequest) {
        if self.uploads.len() == LOG_CAPACITY {
            self.uploads.pop_front();
        }
        self.uploads.push_back(entry);
    }
}

/// The options the state starts from.
pub(crate) struct StateOptions {
    pub data_dir: Option<PathBuf>,
    pub credits: Option<u64>,
    pub processing_time: Duration,
    pub upload_expires_in: Duration,
    pub clock: ClockMode,
}

/// The store, the clock and the volatile state.
pub(crate) struct Shared {
    /// `None` once stopped: nothing is written after a shutdown.
    store: Mutex<Option<Store>>,
    volatile: Mutex<Volatile>,
    pub clock: Clock,
    pub account: Account,
    data_dir: Option<PathBuf>,
    stopped: AtomicBool,
    /// Wakes the processing task: an upload completed or the clock moved.
    pub processing: tokio::sync::Notify,
}

impl Shared {
    /// Opens the store in the data directory (importing a `state.json` of
    /// an earlier version), or in memory.
    pub fn open(opts: StateOptions) -> Result<Shared, crate::EmulatorError> {
        if let Some(dir) = &opts.data_dir {
            let objects = dir.join(OBJECTS_DIR);
            let removed = crate::files::create_private_dir(&objects)
                .and_then(|()| crate::files::remove_parts(&objects))
                .map_err(|e| crate::EmulatorError::data_dir(dir, e.to_string()))?;
            if removed > 0 {
                tracing::info!(
                    removed,
                    "removed the partial uploads an earlier run left behind"
                );
            }
        }
        let clock = Clock::new(opts.clock);
        let dir = opts.data_dir.as_deref();
        let (store, account) = Store::open(dir, opts.credits, DEFAULT_CREDITS, clock.now())
            .map_err(|e| match dir {
                Some(dir) => crate::EmulatorError::data_dir(dir, e),
                None => crate::EmulatorError::Runtime(format!("in-memory database: {e}")),
            })?;
        Ok(Shared {
            store: Mutex::new(Some(store)),
            volatile: Mutex::new(Volatile {
                processing_time: opts.processing_time,
                upload_expires_in: opts.upload_expires_in,
                upload_backdate: Duration::ZERO,
                api_log: VecDeque::new(),
                stats: ApiStats::default(),
                uploads: VecDeque::new(),
                faults: Vec::new(),
                next_fault_id: 1,
                job_failures: VecDeque::new(),
            }),
            clock,
            account,
            data_dir: opts.data_dir,
            stopped: AtomicBool::new(false),
            processing: tokio::sync::Notify::new(),
        })
    }

    /// Where uploaded objects go, when kept on disk.
    pub fn objects_dir(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(OBJECTS_DIR))
    }

    /// Whether the state is kept in a data directory.
    pub fn persistent(&self) -> bool {
        self.data_dir.is_some()
    }

    /// Locks the volatile state; a panic elsewhere does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Volatile> {
        self.volatile.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the store under its lock. Once stopped, fails.
    pub fn store<R>(&self, f: impl FnOnce(&mut Store) -> StoreResult<R>) -> StoreResult<R> {
        let mut guard = self.store.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(store) => {
                let result = f(store);
                store.keep_wal_bounded();
                result
            }
            None => Err("the emulator is stopped".into()),
        }
    }

    /// Like [`Shared::store`] for control operations.
    pub fn control<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, ControlError>,
    ) -> Result<R, ControlError> {
        let mut guard = self.store.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(store) => {
                let result = f(store);
                store.keep_wal_bounded();
                result
            }
            None => Err(ControlError::Persist("the emulator is stopped".into())),
        }
    }

    /// Marks the emulator stopped and closes the store: nothing is written
    /// after this returns.
    pub fn stop(&self) {
        let mut guard = self.store.lock().unwrap_or_else(|e| e.into_inner());
        self.stopped.store(true, Ordering::SeqCst);
        guard.take();
        self.processing.notify_one();
    }

    /// Whether [`Shared::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}
