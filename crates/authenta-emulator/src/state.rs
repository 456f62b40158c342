//! The emulator's state: the account, its keys, records and credits, the
//! logs, the armed faults, and saving it all to the data directory.
//!
//! Everything lives behind one `std::sync::Mutex`, so quota accounting is
//! exact under any concurrency, and the control methods work from sync and
//! async code alike. A change that must survive a restart is written to
//! `state.json` (write to a temporary file, then rename) before the lock is
//! released, so before the request that made it is answered.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use authenta_types::{ErrorBody, ErrorCode, Operation, Permission, QuotaKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::model::{
    ApiKey, ApiRequest, ApiStats, ArmedFault, ControlError, Fault, FaultAction, KeyInfo, KeySpec,
    MediaRecord, UploadInfo, UploadRequest,
};

/// How many API requests and upload requests the logs keep.
pub(crate) const LOG_CAPACITY: usize = 1000;

/// Statuses, as the API spells them (from the generated enum).
pub(crate) fn status_str(status: authenta_types::MediaStatus) -> String {
    status.as_str().to_owned()
}

/// The part of the state saved to the data directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Persistent {
    /// Format version of `state.json`.
    pub version: u32,
    /// The account every key belongs to (24 hex characters).
    pub account_id: String,
    /// The S3 endpoint's access key id.
    pub s3_access_key: String,
    /// The S3 endpoint's secret key: pre-signed URLs stay valid across a
    /// restart because it is kept.
    pub s3_secret_key: String,
    /// The account's credit balance.
    pub credits: u64,
    /// Orders records by creation.
    pub next_seq: u64,
    /// Keys by client id.
    pub keys: BTreeMap<String, StoredKey>,
    /// Records by mid.
    pub records: BTreeMap<String, StoredRecord>,
}

/// A key and the hash of its secret (the secret itself is never stored).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredKey {
    #[serde(flatten)]
    pub info: KeyInfo,
    pub secret_sha256: String,
}

/// A record and its creation order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredRecord {
    pub seq: u64,
    #[serde(flatten)]
    pub record: MediaRecord,
}

/// The whole state: saved part and volatile part.
pub(crate) struct State {
    pub p: Persistent,
    pub processing_time: Duration,
    pub upload_expires_in: Duration,
    pub upload_backdate: Duration,
    pub api_log: VecDeque<ApiRequest>,
    pub stats: ApiStats,
    pub uploads: VecDeque<UploadRequest>,
    pub faults: Vec<ArmedFault>,
    pub next_fault_id: u64,
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

/// The state, its lock and where it is saved.
pub(crate) struct Shared {
    state: Mutex<State>,
    data_dir: Option<PathBuf>,
    stopped: AtomicBool,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        // The OS source failing is next to impossible; stay unique anyway.
        let seed = format!(
            "{:?}{}",
            OffsetDateTime::now_utc(),
            FALLBACK.fetch_add(1, Ordering::Relaxed)
        );
        let digest = Sha256::digest(seed.as_bytes());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = digest[i % digest.len()];
        }
    }
    buf
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn random_hex<const N: usize>() -> String {
    hex(&random_bytes::<N>())
}

/// A random token for temporary file names.
pub(crate) fn random_token() -> String {
    random_hex::<8>()
}

/// A new mid: like a MongoDB ObjectId (4 bytes of seconds, then random).
fn new_mid() -> String {
    let secs = OffsetDateTime::now_utc().unix_timestamp().max(0) as u32;
    let mut out = hex(&secs.to_be_bytes());
    out.push_str(&random_hex::<8>());
    out
}

/// Whether `mid` has the shape of a record id: 24 lower-case hex characters.
pub(crate) fn is_valid_mid(mid: &str) -> bool {
    mid.len() == 24 && mid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Now, to the millisecond (as the API's `createdAt` is).
pub(crate) fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

impl Persistent {
    fn fresh(credits: u64) -> Self {
        Persistent {
            version: 1,
            account_id: new_mid(),
            s3_access_key: format!("AKIAEMU{}", random_hex::<7>().to_uppercase()),
            s3_secret_key: random_hex::<20>(),
            credits,
            next_seq: 0,
            keys: BTreeMap::new(),
            records: BTreeMap::new(),
        }
    }
}

/// The options the state starts from.
pub(crate) struct StateOptions {
    pub data_dir: Option<PathBuf>,
    pub credits: Option<u64>,
    pub processing_time: Duration,
    pub upload_expires_in: Duration,
}

/// The credits a new account starts with when none are configured.
pub const DEFAULT_CREDITS: u64 = 1000;

const STATE_FILE: &str = "state.json";
const OBJECTS_DIR: &str = "objects";

impl Shared {
    /// Loads the state from the data directory, or starts a fresh one.
    pub fn open(opts: StateOptions) -> Result<Shared, crate::EmulatorError> {
        let mut p = None;
        if let Some(dir) = &opts.data_dir {
            std::fs::create_dir_all(dir.join(OBJECTS_DIR))
                .map_err(|e| crate::EmulatorError::data_dir(dir, e.to_string()))?;
            let file = dir.join(STATE_FILE);
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let loaded: Persistent = serde_json::from_slice(&bytes).map_err(|e| {
                        crate::EmulatorError::data_dir(&file, format!("unreadable state: {e}"))
                    })?;
                    p = Some(loaded);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::EmulatorError::data_dir(&file, e.to_string())),
            }
        }
        let mut p = p.unwrap_or_else(|| Persistent::fresh(opts.credits.unwrap_or(DEFAULT_CREDITS)));
        if let Some(credits) = opts.credits {
            p.credits = credits;
        }
        let shared = Shared {
            state: Mutex::new(State {
                p,
                processing_time: opts.processing_time,
                upload_expires_in: opts.upload_expires_in,
                upload_backdate: Duration::ZERO,
                api_log: VecDeque::new(),
                stats: ApiStats::default(),
                uploads: VecDeque::new(),
                faults: Vec::new(),
                next_fault_id: 1,
            }),
            data_dir: opts.data_dir,
            stopped: AtomicBool::new(false),
        };
        {
            let guard = shared.lock();
            shared
                .save(&guard)
                .map_err(|e| crate::EmulatorError::data_dir(shared.data_dir(), e))?;
        }
        Ok(shared)
    }

    /// The data directory, or `""` in memory.
    fn data_dir(&self) -> &Path {
        self.data_dir.as_deref().unwrap_or(Path::new(""))
    }

    /// Where uploaded objects go, when kept on disk.
    pub fn objects_dir(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(OBJECTS_DIR))
    }

    /// Locks the state; a panic elsewhere does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the emulator stopped: nothing is saved after this returns.
    pub fn stop(&self) {
        let _guard = self.lock();
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Whether [`Shared::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Writes the saved part to the data directory (a no-op in memory or
    /// once stopped). Call with the lock held.
    pub fn save(&self, state: &State) -> Result<(), String> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        if self.is_stopped() {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&state.p).map_err(|e| e.to_string())?;
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            std::fs::rename(&tmp, dir.join(STATE_FILE))
        };
        write().map_err(|e| format!("writing {}: {e}", dir.join(STATE_FILE).display()))
    }

    /// Runs `f` on the state, then saves it, all under the lock.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, ControlError> {
        let mut guard = self.lock();
        let out = f(&mut guard);
        self.save(&guard).map_err(ControlError::Persist)?;
        Ok(out)
    }

    /// Like [`Shared::mutate`] for a closure that can fail: saves only on
    /// success.
    pub fn try_mutate<R>(
        &self,
        f: impl FnOnce(&mut State) -> Result<R, ControlError>,
    ) -> Result<R, ControlError> {
        let mut guard = self.lock();
        let out = f(&mut guard)?;
        self.save(&guard).map_err(ControlError::Persist)?;
        Ok(out)
    }
}

impl State {
    // ---- keys ----

    pub fn create_key(&mut self, spec: KeySpec) -> Result<ApiKey, ControlError> {
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
        let client_id = loop {
            let id = random_hex::<12>();
            if !self.p.keys.contains_key(&id) {
                break id;
            }
        };
        let client_secret = random_hex::<24>();
        let mut permissions = spec.permissions;
        permissions.dedup();
        self.p.keys.insert(
            client_id.clone(),
            StoredKey {
                info: KeyInfo {
                    name: spec.name,
                    client_id: client_id.clone(),
                    permissions,
                    query_quota: spec.query_quota,
                    mutation_quota: spec.mutation_quota,
                    query_used: 0,
                    mutation_used: 0,
                    created_at: now_ms(),
                    revoked: false,
                },
                secret_sha256: sha256_hex(&client_secret),
            },
        );
        Ok(ApiKey {
            client_id,
            client_secret,
        })
    }

    fn live_key(&mut self, client_id: &str) -> Result<&mut StoredKey, ControlError> {
        let key = self
            .p
            .keys
            .get_mut(client_id)
            .ok_or_else(|| ControlError::UnknownKey(client_id.to_owned()))?;
        if key.info.revoked {
            return Err(ControlError::RevokedKey(client_id.to_owned()));
        }
        Ok(key)
    }

    pub fn regenerate_secret(&mut self, client_id: &str) -> Result<ApiKey, ControlError> {
        let key = self.live_key(client_id)?;
        let client_secret = random_hex::<24>();
        key.secret_sha256 = sha256_hex(&client_secret);
        Ok(ApiKey {
            client_id: client_id.to_owned(),
            client_secret,
        })
    }

    pub fn revoke_key(&mut self, client_id: &str) -> Result<(), ControlError> {
        let key = self.live_key(client_id)?;
        key.info.revoked = true;
        Ok(())
    }

    pub fn keys(&self) -> Vec<KeyInfo> {
        self.p.keys.values().map(|k| k.info.clone()).collect()
    }

    /// The documented checks, in the documented order: client id, client
    /// secret (IAM001), permission (IAM002), quota (AA001). A request that
    /// passes spends one unit of its quota.
    pub fn authorize(
        &mut self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        operation: Operation,
    ) -> Result<String, Denied> {
        let route = operation.route();
        let key = client_id
            .and_then(|id| self.p.keys.get_mut(id))
            .filter(|k| !k.info.revoked)
            .ok_or(Denied(ErrorCode::Iam001))?;
        let secret_ok = client_secret.is_some_and(|s| same(&sha256_hex(s), &key.secret_sha256));
        if !secret_ok {
            return Err(Denied(ErrorCode::Iam001));
        }
        if !key.info.permissions.contains(&route.permission) {
            return Err(Denied(ErrorCode::Iam002));
        }
        let (quota, used) = match route.quota {
            QuotaKind::Mutation => (key.info.mutation_quota, &mut key.info.mutation_used),
            _ => (key.info.query_quota, &mut key.info.query_used),
        };
        if quota.is_some_and(|q| *used >= q) {
            return Err(Denied(ErrorCode::Aa001));
        }
        *used += 1;
        Ok(key.info.client_id.clone())
    }

    // ---- records ----

    /// Creates a record, after the credit check (U007 when the balance is
    /// zero; nothing is spent here).
    pub fn create_record(
        &mut self,
        name: String,
        media_type: String,
        content_type: String,
        size: u64,
        model_type: String,
    ) -> Result<MediaRecord, Denied> {
        if self.p.credits == 0 {
            return Err(Denied(ErrorCode::U007));
        }
        let mid = loop {
            let mid = new_mid();
            if !self.p.records.contains_key(&mid) {
                break mid;
            }
        };
        let record = MediaRecord {
            mid: mid.clone(),
            name,
            media_type,
            status: status_str(authenta_types::MediaStatus::Inited),
            model_type,
            content_type,
            size,
            created_at: now_ms(),
            upload: None,
            processing_due: None,
            fake: None,
            error: None,
        };
        let seq = self.p.next_seq;
        self.p.next_seq += 1;
        self.p.records.insert(
            mid,
            StoredRecord {
                seq,
                record: record.clone(),
            },
        );
        Ok(record)
    }

    pub fn record(&self, mid: &str) -> Option<&MediaRecord> {
        self.p.records.get(mid).map(|r| &r.record)
    }

    /// Records, newest first.
    pub fn records_newest_first(&self) -> Vec<&MediaRecord> {
        let mut all: Vec<&StoredRecord> = self.p.records.values().collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.seq));
        all.into_iter().map(|r| &r.record).collect()
    }

    pub fn delete_record(&mut self, mid: &str) -> bool {
        self.p.records.remove(mid).is_some()
    }

    /// Records a completed upload: spends one credit and starts processing,
    /// or fails the record with U007 when none is left.
    pub fn complete_upload(
        &mut self,
        mid: &str,
        upload: UploadInfo,
    ) -> Result<UploadOutcome, ControlError> {
        let processing_time = self.processing_time;
        let credits = &mut self.p.credits;
        let record = &mut self
            .p
            .records
            .get_mut(mid)
            .ok_or_else(|| ControlError::Invalid(format!("no record {mid}")))?
            .record;
        if record.status != status_str(authenta_types::MediaStatus::Inited) {
            return Ok(UploadOutcome::AlreadyUploaded);
        }
        record.upload = Some(upload);
        if *credits == 0 {
            record.status = status_str(authenta_types::MediaStatus::Failed);
            record.error = ErrorBody::documented(ErrorCode::U007);
            return Ok(UploadOutcome::NoCredits);
        }
        *credits -= 1;
        record.status = status_str(authenta_types::MediaStatus::Uploaded);
        record.processing_due = Some(now_ms() + processing_time);
        Ok(UploadOutcome::Processing(processing_time))
    }

    /// Ends processing: `PROCESSED` with the verdict. Returns whether the
    /// record changed.
    pub fn finish_processing(&mut self, mid: &str) -> bool {
        let Some(stored) = self.p.records.get_mut(mid) else {
            return false;
        };
        let record = &mut stored.record;
        if record.status != status_str(authenta_types::MediaStatus::Uploaded) {
            return false;
        }
        record.fake = record
            .upload
            .as_ref()
            .map(|u| crate::processing::verdict(&u.sha256));
        record.status = status_str(authenta_types::MediaStatus::Processed);
        record.processing_due = None;
        true
    }

    /// Records in `UPLOADED` and how long until each is due.
    pub fn pending_processing(&self) -> Vec<(String, Duration)> {
        let now = OffsetDateTime::now_utc();
        self.p
            .records
            .values()
            .filter(|r| r.record.status == status_str(authenta_types::MediaStatus::Uploaded))
            .map(|r| {
                let left = r
                    .record
                    .processing_due
                    .map(|due| due - now)
                    .filter(|d| d.is_positive())
                    .and_then(|d| Duration::try_from(d).ok())
                    .unwrap_or(Duration::ZERO);
                (r.record.mid.clone(), left)
            })
            .collect()
    }

    // ---- logs ----

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

    // ---- faults ----

    pub fn inject_fault(&mut self, fault: Fault) -> Result<u64, ControlError> {
        if fault.times == 0 {
            return Err(ControlError::Invalid("`times` must be at least 1".into()));
        }
        if !fault.path_prefix.starts_with('/') {
            return Err(ControlError::Invalid(
                "`pathPrefix` must start with '/'".into(),
            ));
        }
        if let FaultAction::Status { status, .. } = fault.action
            && !(400..=599).contains(&status)
        {
            return Err(ControlError::Invalid(format!(
                "an injected status must be between 400 and 599, not {status}"
            )));
        }
        if let Some(m) = &fault.method
            && (m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(ControlError::Invalid(format!(
                "{m:?} is not an HTTP method"
            )));
        }
        let id = self.next_fault_id;
        self.next_fault_id += 1;
        let remaining = fault.times;
        self.faults.push(ArmedFault {
            id,
            fault,
            remaining,
        });
        Ok(id)
    }

    /// Takes one strike of the first armed fault matching the request.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let i = self.faults.iter().position(|armed| {
            armed
                .fault
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&armed.fault.path_prefix)
        })?;
        let armed = &mut self.faults[i];
        armed.remaining -= 1;
        let fault = armed.fault.clone();
        if armed.remaining == 0 {
            self.faults.remove(i);
        }
        Some(fault)
    }
}
