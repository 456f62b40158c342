//! [`StdRuntime`]: time, sleep and randomness from the standard library.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant, SystemTime};

use authenta_client::Runtime;

/// The [`Runtime`] for blocking code: [`Instant::now`],
/// [`SystemTime::now`], [`std::thread::sleep`], and std's randomly seeded
/// hasher for backoff jitter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StdRuntime;

impl Runtime for StdRuntime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn random(&self) -> u64 {
        // Every RandomState gets fresh keys: a new number each time.
        RandomState::new().hash_one(0u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_move_and_randomness_varies() {
        let rt = StdRuntime;
        let before = rt.now();
        rt.sleep(Duration::from_millis(5));
        assert!(rt.now() - before >= Duration::from_millis(5));
        assert!(rt.wall_clock() > SystemTime::UNIX_EPOCH);
        let draws: std::collections::HashSet<u64> = (0..8).map(|_| rt.random()).collect();
        assert!(draws.len() > 1);
    }
}
