//! [`TokioRuntime`]: tokio's timer, std's clocks and randomness, for the
//! async driver.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant, SystemTime};

use authenta_client::AsyncRuntime;

/// The time, sleep and randomness the async flows run on: `tokio::time`
/// for sleeping (it never blocks a thread), std's monotonic and wall
/// clocks, and std's randomly seeded hasher for backoff jitter.
///
/// Files are read, written and checked with std's files on tokio's
/// blocking pool: authenta-client's default file source and sink over
/// [`unblock`](AsyncRuntime::unblock) (`spawn_blocking`), the source
/// reading a few 64 KiB chunks ahead of the connection. Use it in an [`authenta_client::Client`] over
/// your own [`AsyncHttpClient`](authenta_client::AsyncHttpClient).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioRuntime;

#[authenta_client::async_trait]
impl AsyncRuntime for TokioRuntime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn random(&self) -> u64 {
        // Every RandomState gets fresh keys: hashing the same value gives a
        // new number each time.
        RandomState::new().hash_one(0u8)
    }

    async fn unblock<T: Send + 'static>(&self, work: Box<dyn FnOnce() -> T + Send + 'static>) -> T {
        match tokio::task::spawn_blocking(work).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_and_varies() {
        let rt = TokioRuntime;
        let before = rt.now();
        rt.sleep(Duration::from_millis(5)).await;
        assert!(rt.now() - before >= Duration::from_millis(5));
        let draws: std::collections::HashSet<u64> = (0..8).map(|_| rt.random()).collect();
        assert!(draws.len() > 1, "jitter must not be constant");
    }
}
