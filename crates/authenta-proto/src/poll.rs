//! Polling: a pure schedule for waiting until a record's status is final.
//! The delay is a function of the polls already made and the time already
//! waited; the clock is the caller's.

use std::time::Duration;

/// How to wait for a final status: the first delay, its growth, a maximum
/// delay and an overall deadline, with one last poll at the deadline.
///
/// The defaults were chosen by simulating jobs of 10 s to 10 min (see
/// `BENCHMARKS.md`, "Polling"): far fewer polls than a fixed 5-second
/// interval, for a small added latency.
///
/// ```
/// use std::time::Duration;
/// use authenta_proto::{PollPolicy, poll::PollStep};
///
/// let policy = PollPolicy::default();
/// // After the first poll, the next comes after the first delay.
/// assert_eq!(policy.next(1, Duration::ZERO), PollStep::PollAfter(policy.first_delay));
/// // Past the deadline, the wait is over.
/// assert_eq!(policy.next(40, policy.max_wait), PollStep::GiveUp);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollPolicy {
    /// The delay after the first poll.
    pub first_delay: Duration,
    /// How much each delay grows over the one before (1.0 = fixed interval).
    pub growth: f64,
    /// The longest delay between two polls.
    pub max_delay: Duration,
    /// The longest the whole wait may last; one last poll is made at this
    /// deadline.
    pub max_wait: Duration,
}

impl Default for PollPolicy {
    /// First delay 1 s, growth ×1.5, at most 20 s between polls, 30 minutes
    /// in all. On jobs of 5 to 20 minutes this spends about a third of the
    /// polls of a fixed 5-second interval and sees the result about 7 s
    /// later on average (`cargo bench -p authenta-proto --bench
    /// poll_schedule`).
    fn default() -> Self {
        PollPolicy {
            first_delay: Duration::from_secs(1),
            growth: 1.5,
            max_delay: Duration::from_secs(20),
            max_wait: Duration::from_secs(30 * 60),
        }
    }
}

/// What to do after a poll that did not see a final status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStep {
    /// Poll again after this delay.
    PollAfter(Duration),
    /// The deadline has passed: stop and report a timeout.
    GiveUp,
}

impl PollPolicy {
    /// A fixed interval, as a naive client polls (for comparison).
    pub fn fixed(interval: Duration, max_wait: Duration) -> Self {
        PollPolicy {
            first_delay: interval,
            growth: 1.0,
            max_delay: interval,
            max_wait,
        }
    }

    /// The same policy with another deadline.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The delay before the next poll, given the `polls` already made (at
    /// least 1) and the time `elapsed` since the wait began. The delay grows
    /// from `first_delay` by `growth` up to `max_delay`, is shortened so the
    /// last poll lands on the deadline, and after the deadline the answer is
    /// [`PollStep::GiveUp`].
    pub fn next(&self, polls: u32, elapsed: Duration) -> PollStep {
        if elapsed >= self.max_wait {
            return PollStep::GiveUp;
        }
        let exp = polls.saturating_sub(1).min(64) as i32;
        let grown = self.first_delay.as_secs_f64() * self.growth.max(1.0).powi(exp);
        let delay = Duration::try_from_secs_f64(grown)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let left = self.max_wait - elapsed;
        PollStep::PollAfter(delay.min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the schedule on a fake clock for a job that finishes at `job`:
    /// returns (polls, when the wait saw the final status, or None on timeout).
    fn simulate(
        policy: &PollPolicy,
        job: Duration,
        poll_cost: Duration,
    ) -> (u32, Option<Duration>) {
        let mut now = Duration::ZERO;
        let mut polls = 0;
        loop {
            now += poll_cost;
            polls += 1;
            if now >= job {
                return (polls, Some(now));
            }
            match policy.next(polls, now) {
                PollStep::PollAfter(d) => now += d,
                PollStep::GiveUp => return (polls, None),
            }
        }
    }

    #[test]
    fn delays_grow_to_the_cap() {
        let p = PollPolicy {
            first_delay: Duration::from_secs(1),
            growth: 2.0,
            max_delay: Duration::from_secs(5),
            max_wait: Duration::from_secs(1000),
        };
        let delays: Vec<_> = (1..=5)
            .map(|n| match p.next(n, Duration::ZERO) {
                PollStep::PollAfter(d) => d.as_secs(),
                PollStep::GiveUp => panic!(),
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn one_last_poll_at_the_deadline_then_timeout() {
        let p = PollPolicy {
            first_delay: Duration::from_secs(4),
            growth: 1.0,
            max_delay: Duration::from_secs(4),
            max_wait: Duration::from_secs(10),
        };
        assert_eq!(
            p.next(1, Duration::from_secs(0)),
            PollStep::PollAfter(Duration::from_secs(4))
        );
        assert_eq!(
            p.next(2, Duration::from_secs(8)),
            PollStep::PollAfter(Duration::from_secs(2))
        );
        assert_eq!(p.next(3, Duration::from_secs(10)), PollStep::GiveUp);
        // A job that ends exactly at the deadline is still seen.
        assert_eq!(
            simulate(&p, Duration::from_secs(10), Duration::ZERO),
            (4, Some(Duration::from_secs(10)))
        );
        // One that ends later times out after the deadline poll.
        assert_eq!(
            simulate(&p, Duration::from_secs(11), Duration::ZERO),
            (4, None)
        );
    }

    #[test]
    fn far_fewer_polls_than_every_five_seconds_for_long_jobs() {
        let ours = PollPolicy::default();
        let fixed = PollPolicy::fixed(Duration::from_secs(5), ours.max_wait);
        let cost = Duration::from_millis(50);
        for minutes in [2u64, 5, 10, 20] {
            let job = Duration::from_secs(minutes * 60);
            let (our_polls, our_done) = simulate(&ours, job, cost);
            let (fixed_polls, fixed_done) = simulate(&fixed, job, cost);
            assert!(
                our_polls * 2 <= fixed_polls + 1,
                "{minutes} min: {our_polls} vs {fixed_polls}"
            );
            if minutes >= 5 {
                assert!(
                    our_polls * 5 < fixed_polls * 2,
                    "{minutes} min: {our_polls} vs {fixed_polls}"
                );
            }
            let our_late = our_done.unwrap() - job;
            let fixed_late = fixed_done.unwrap() - job;
            assert!(
                our_late <= ours.max_delay + cost,
                "{minutes} min: {our_late:?} late"
            );
            assert!(
                our_late.as_secs_f64() <= job.as_secs_f64() * 0.2,
                "{minutes} min: {our_late:?} late"
            );
            assert!(fixed_late <= Duration::from_secs(5) + cost);
        }
    }

    #[test]
    fn silly_policies_terminate() {
        let p = PollPolicy {
            first_delay: Duration::ZERO,
            growth: 0.0,
            max_delay: Duration::ZERO,
            max_wait: Duration::from_secs(1),
        };
        assert_eq!(
            p.next(1, Duration::ZERO),
            PollStep::PollAfter(Duration::ZERO)
        );
        assert_eq!(p.next(1_000_000, Duration::from_secs(1)), PollStep::GiveUp);
        let huge = PollPolicy {
            growth: 1e300,
            ..PollPolicy::default()
        };
        assert_eq!(
            huge.next(u32::MAX, Duration::ZERO),
            PollStep::PollAfter(huge.max_delay)
        );
    }
}
