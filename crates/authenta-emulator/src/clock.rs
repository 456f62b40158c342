//! The emulator's clock: the system clock, or a manual one that tests move.
//!
//! Everything time-dependent reads it: `createdAt`, when processing is due,
//! when an upload URL was signed and whether it has expired. A manual clock
//! starts at the real time of the emulator's start and only moves when told
//! (`POST /_emulator/clock/advance`, [`RunningEmulator::advance`](crate::RunningEmulator::advance)).

use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Which clock an emulator runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ClockMode {
    /// The system clock (the default).
    #[default]
    System,
    /// A clock that starts at the real time of the start and only moves when
    /// advanced: processing, upload URL expiry and `createdAt` follow it, so
    /// tests never sleep.
    Manual,
}

/// The clock itself.
#[derive(Debug)]
pub(crate) struct Clock {
    /// `None` on the system clock; the manual clock's time otherwise.
    manual: Option<Mutex<Timestamp>>,
}

/// `t` truncated to the millisecond (the API's `createdAt` precision).
pub(crate) fn to_ms(t: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
}

impl Clock {
    pub fn new(mode: ClockMode) -> Clock {
        Clock {
            manual: match mode {
                ClockMode::System => None,
                ClockMode::Manual => Some(Mutex::new(to_ms(Timestamp::now()))),
            },
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Now, to the millisecond.
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => to_ms(Timestamp::now()),
            Some(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock forward; returns the new time. The system clock
    /// cannot be moved: `None`.
    pub fn advance(&self, by: Duration) -> Option<Timestamp> {
        let manual = self.manual.as_ref()?;
        let mut t = manual.lock().unwrap_or_else(|e| e.into_inner());
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        *t = t.checked_add(by).unwrap_or(Timestamp::MAX);
        Some(*t)
    }
}

/// `later - earlier` as a `Duration` (zero when `later` is not later).
pub(crate) fn until(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

/// `t + d`, saturating.
pub(crate) fn plus(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// `t - d`, saturating.
pub(crate) fn minus(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = Clock::new(ClockMode::Manual);
        let t0 = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), t0);
        let t1 = clock.advance(Duration::from_millis(1500)).unwrap();
        assert_eq!(until(t0, t1), Duration::from_millis(1500));
        assert_eq!(clock.now(), t1);
        assert!(
            Clock::new(ClockMode::System)
                .advance(Duration::ZERO)
                .is_none()
        );
    }
}
