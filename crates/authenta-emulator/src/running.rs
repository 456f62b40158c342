//! The handle of a running emulator: [`RunningEmulator`], its control
//! methods, and stopping it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::ClockMode;
use crate::core::Core;
use crate::model::{
    ApiKey, ApiRequest, ApiStats, ArmedFault, ControlError, Fault, JobRecord, KeyInfo, KeySpec,
    MediaRecord, UploadRequest,
};
use crate::presign::MAX_UPLOAD_URL_EXPIRY;

pub(crate) enum ServerHandle {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

/// A running emulator: its address, its control methods, and a handle that
/// stops it ([`shutdown`](Self::shutdown), or dropping it).
///
/// The control methods are plain (not `async`) and cheap: call them from
/// sync or async code alike.
pub struct RunningEmulator {
    pub(crate) core: Arc<Core>,
    pub(crate) addr: SocketAddr,
    pub(crate) stop_tx: watch::Sender<bool>,
    pub(crate) server: Option<ServerHandle>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.core.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, such as `http://127.0.0.1:41234/api`: pass it to a
    /// client in place of `https://platform.authenta.ai/api`.
    pub fn base_url(&self) -> &str {
        &self.core.base_url
    }

    /// The URL of the control surface, such as `http://127.0.0.1:41234/_emulator`.
    pub fn control_url(&self) -> String {
        format!(
            "{}{}",
            self.core.base_url.trim_end_matches("/api"),
            crate::control::CONTROL_PREFIX
        )
    }

    /// Creates an API key; the secret is only in the answer.
    pub fn create_key(&self, spec: KeySpec) -> Result<ApiKey, ControlError> {
        let now = self.core.shared.clock.now();
        self.core.shared.control(|s| s.create_key(spec, now))
    }

    /// Gives a key a new secret: the old one stops working at once; the
    /// client id, quotas and usage stay.
    pub fn regenerate_secret(&self, client_id: &str) -> Result<ApiKey, ControlError> {
        self.core.shared.control(|s| s.regenerate_secret(client_id))
    }

    /// Revokes a key: its id and secret stop working at once.
    pub fn revoke_key(&self, client_id: &str) -> Result<(), ControlError> {
        self.core.shared.control(|s| s.revoke_key(client_id))
    }

    /// Every key, revoked ones included, with its usage (no secrets).
    pub fn keys(&self) -> Vec<KeyInfo> {
        self.core.shared.store(|s| s.keys()).unwrap_or_default()
    }

    /// Sets the account's credit balance.
    pub fn set_credits(&self, credits: u64) -> Result<(), ControlError> {
        self.core
            .shared
            .store(|s| s.set_credits(credits))
            .map_err(ControlError::Persist)
    }

    /// The account's credit balance.
    pub fn credits(&self) -> u64 {
        self.core.shared.store(|s| s.credits()).unwrap_or(0)
    }

    /// Sets the processing time of uploads completed from now on.
    pub fn set_processing_time(&self, time: Duration) {
        self.core.shared.lock().processing_time = time;
    }

    /// The processing time.
    pub fn processing_time(&self) -> Duration {
        self.core.shared.lock().processing_time
    }

    /// Sets how long new upload URLs stay valid (1 s to 7 days).
    pub fn set_upload_url_expiry(&self, expiry: Duration) -> Result<(), ControlError> {
        if expiry.is_zero() || expiry > MAX_UPLOAD_URL_EXPIRY {
            return Err(ControlError::Invalid(
                "the upload URL expiry must be from 1 second to 7 days".into(),
            ));
        }
        self.core.shared.lock().upload_expires_in = expiry;
        Ok(())
    }

    /// Signs new upload URLs as if issued `backdate` ago: with a backdate
    /// longer than the expiry, `POST /media` hands out URLs that have
    /// already expired (S3 answers 403 `AccessDenied` "Request has expired").
    pub fn set_upload_url_backdate(&self, backdate: Duration) {
        self.core.shared.lock().upload_backdate = backdate;
    }

    /// Every record, newest first.
    pub fn records(&self) -> Vec<MediaRecord> {
        self.core
            .shared
            .store(|s| s.all_records())
            .unwrap_or_default()
    }

    /// One record.
    pub fn record(&self, mid: &str) -> Option<MediaRecord> {
        self.core.shared.store(|s| s.record(mid)).ok().flatten()
    }

    /// Every job of the jobs API, newest first.
    pub fn jobs(&self) -> Vec<JobRecord> {
        self.core.shared.store(|s| s.all_jobs()).unwrap_or_default()
    }

    /// One job.
    pub fn job(&self, id: u64) -> Option<JobRecord> {
        self.core.shared.store(|s| s.job(id)).ok().flatten()
    }

    /// Makes the next `times` jobs finalized end `failed` (with `message`
    /// as their `errorMessage`) instead of `completed`, when their
    /// processing time is over. Not saved: a restart forgets failures not
    /// yet taken by a finalize (one taken is saved with its job).
    pub fn fail_next_jobs(&self, times: u32, message: &str) -> Result<(), ControlError> {
        crate::control::fail_next_jobs(&self.core, times, message)
    }

    /// The most recent requests received on the S3 endpoint (up to 1000),
    /// oldest first, with their headers.
    pub fn upload_requests(&self) -> Vec<UploadRequest> {
        self.core.shared.lock().uploads.iter().cloned().collect()
    }

    /// Forgets the upload requests seen so far.
    pub fn clear_upload_requests(&self) {
        self.core.shared.lock().uploads.clear();
    }

    /// The most recent API requests (up to 1000), oldest first.
    pub fn api_requests(&self) -> Vec<ApiRequest> {
        self.core.shared.lock().api_log.iter().cloned().collect()
    }

    /// Counters over every API request since the start (or the last clear).
    pub fn api_stats(&self) -> ApiStats {
        self.core.shared.lock().stats.clone()
    }

    /// Forgets the API request log and counters.
    pub fn clear_api_requests(&self) {
        let mut state = self.core.shared.lock();
        state.api_log.clear();
        state.stats = ApiStats::default();
    }

    /// Which clock the emulator runs on.
    pub fn clock_mode(&self) -> ClockMode {
        if self.core.shared.clock.is_manual() {
            ClockMode::Manual
        } else {
            ClockMode::System
        }
    }

    /// The emulator's time now (to the millisecond).
    pub fn now(&self) -> jiff::Timestamp {
        self.core.shared.clock.now()
    }

    /// Moves a manual clock forward by `by`, and finishes the processing
    /// that is due by then before returning. Fails on the system clock.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use authenta_emulator::{ClockMode, Emulator};
    ///
    /// let emulator = Emulator::builder().clock(ClockMode::Manual).start().await?;
    /// let before = emulator.now();
    /// let after = emulator.advance(Duration::from_millis(300))?;
    /// assert_eq!(after.duration_since(before).as_millis(), 300);
    /// # Ok(())
    /// # }
    /// ```
    pub fn advance(&self, by: Duration) -> Result<jiff::Timestamp, ControlError> {
        crate::control::advance(&self.core, by)
    }

    /// Arms a fault for the next `fault.times` matching requests; returns
    /// its id.
    pub fn inject_fault(&self, fault: Fault) -> Result<u64, ControlError> {
        crate::faults::inject(&mut self.core.shared.lock(), fault)
    }

    /// The faults still armed.
    pub fn faults(&self) -> Vec<ArmedFault> {
        self.core.shared.lock().faults.clone()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.core.shared.lock().faults.clear();
    }

    fn signal_stop(&self) {
        self.core.shared.stop();
        let _ = self.stop_tx.send(true);
    }

    /// Stops the emulator: nothing is saved after this returns, the listener
    /// closes, and open connections get a moment to finish. With
    /// [`spawn`](crate::EmulatorBuilder::spawn) it also waits for the background
    /// thread; with [`start`](crate::EmulatorBuilder::start) use
    /// [`stopped`](Self::stopped) to wait for the port to close.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Stops the emulator and waits until its listener is closed.
    pub async fn stopped(mut self) {
        self.signal_stop();
        match self.server.take() {
            Some(ServerHandle::Task(task)) => {
                let _ = task.await;
            }
            Some(ServerHandle::Thread(thread)) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            None => {}
        }
    }

    fn stop_and_join(&mut self) {
        self.signal_stop();
        if let Some(ServerHandle::Thread(thread)) = self.server.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
