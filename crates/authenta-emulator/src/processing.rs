//! Processing: the timers that move records to `PROCESSED` and jobs from
//! `queued` to `processing` to `completed` (their verdicts, results and
//! documents are [`crate::verdict`]'s). A job never finalized has nothing
//! due: it is never processed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::{Shared, stopped};

/// Moves every record whose processing is due to `PROCESSED`, and every
/// job whose next step is due, now; `false` when the store failed.
pub(crate) fn finish_due(shared: &Shared) -> bool {
    let now = shared.clock.now();
    match shared.store(|s| Ok((s.finish_due(now)?, s.advance_due_jobs(now)?))) {
        Ok((mids, jobs)) => {
            for mid in mids {
                tracing::info!(%mid, "media processed");
            }
            for (job, status) in jobs {
                tracing::info!(job, %status, "job moved");
            }
            true
        }
        Err(e) => {
            if !shared.is_stopped() {
                tracing::error!(error = %e, "could not finish processing");
            }
            false
        }
    }
}

/// The processing task: finishes records when they are due, on the system
/// clock by sleeping until the next one is due, on a manual clock when it
/// is advanced (or an upload completes). Ends when the emulator stops.
pub(crate) fn spawn(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let done = finish_due(&shared);
            if shared.is_stopped() {
                return;
            }
            let next = if shared.clock.is_manual() {
                None
            } else {
                shared
                    .store(|s| Ok(s.next_due()?.into_iter().chain(s.next_job_due()?).min()))
                    .ok()
                    .flatten()
            };
            let wait = next.map(|due| {
                let wait = crate::clock::until(shared.clock.now(), due);
                // After a store failure, do not spin on a record due long ago.
                if done {
                    wait
                } else {
                    wait.max(Duration::from_secs(1))
                }
            });
            tokio::select! {
                () = async {
                    match wait {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
                () = shared.processing.notified() => {}
                () = stopped(&mut stop) => return,
            }
        }
    });
}
