//! Simulates the poll schedule on a fake clock to choose `PollPolicy`'s
//! defaults: for jobs of 10 s to 20 min, how many polls a wait spends and
//! how late it sees the final status, against a fixed 5-second interval.
//!
//! Run: `cargo bench -p authenta-proto --bench poll_schedule`

use std::time::Duration;

use authenta_proto::{PollPolicy, poll::PollStep};

/// Each poll (a GET) takes this long.
const POLL_COST: Duration = Duration::from_millis(150);

/// Polls spent and lateness for a job ending `job` after the wait began.
fn simulate(policy: &PollPolicy, job: Duration) -> (u32, Duration) {
    simulate_from(policy, job, false)
}

/// Like `simulate`; with `after_upload`, the wait begins with a sleep of
/// the first delay instead of a poll (the `Process` flow's wait: the record
/// was just uploaded), the schedule going on as if that poll was made.
fn simulate_from(policy: &PollPolicy, job: Duration, after_upload: bool) -> (u32, Duration) {
    let mut now = Duration::ZERO;
    let mut polls = 0;
    let mut skipped = 0;
    if after_upload {
        now += policy.first_delay;
        skipped = 1;
    }
    loop {
        now += POLL_COST;
        polls += 1;
        if now >= job + POLL_COST {
            return (polls, now - job - POLL_COST);
        }
        match policy.next(polls + skipped, now) {
            PollStep::PollAfter(d) => now += d,
            PollStep::GiveUp => panic!("{policy:?} timed out on a {job:?} job"),
        }
    }
}

/// The mix of issue #11: one job each of 10 s, 30 s, 1 min, 3 min and
/// 10 min. Prints the polls of each job and in all, before (a poll right
/// after the upload) and after (the first poll after the first delay), and
/// checks each job is seen within 10 s + 10% of its length.
fn mix() {
    let jobs = [10u64, 30, 60, 180, 600];
    let fixed = PollPolicy::fixed(Duration::from_secs(5), Duration::from_secs(3600));
    let default = PollPolicy::default();
    for (name, policy, after_upload) in [
        ("fixed 5 s", fixed, false),
        ("default, poll at once (before)", default, false),
        ("default, after upload (after)", default, true),
    ] {
        let mut total = 0;
        let mut each = Vec::new();
        for secs in jobs {
            let job = Duration::from_secs(secs);
            let (polls, late) = simulate_from(&policy, job, after_upload);
            let bound = Duration::from_secs(10) + job / 10;
            assert!(late <= bound, "{name}: a {secs} s job seen {late:?} late");
            total += polls;
            each.push(format!(
                "{secs} s: {polls} ({:.1} s late)",
                late.as_secs_f64()
            ));
        }
        println!("mix, {name:<31} {total:>3} polls  [{}]", each.join(", "));
    }
    println!();
}

/// Averages over 200 job lengths spread evenly in [lo, hi).
fn average(policy: &PollPolicy, lo: u64, hi: u64) -> (f64, f64) {
    let n = 200;
    let (mut polls, mut late) = (0.0, 0.0);
    for i in 0..n {
        let job = Duration::from_millis(lo * 1000 + (hi - lo) * 1000 * i / n);
        let (p, l) = simulate(policy, job);
        polls += f64::from(p);
        late += l.as_secs_f64();
    }
    (polls / n as f64, late / n as f64)
}

fn main() {
    mix();
    let max_wait = Duration::from_secs(3600);
    let bands: [(u64, u64, &str); 5] = [
        (5, 30, "5-30 s"),
        (30, 90, "30-90 s"),
        (90, 300, "1.5-5 min"),
        (300, 600, "5-10 min"),
        (600, 1200, "10-20 min"),
    ];
    let mut candidates = vec![(
        "fixed 5 s".to_owned(),
        PollPolicy::fixed(Duration::from_secs(5), max_wait),
    )];
    for first in [500u64, 1000, 2000] {
        for growth in [1.5f64, 2.0] {
            for max in [10u64, 15, 20, 30] {
                candidates.push((
                    format!("{first} ms ×{growth} ≤{max} s"),
                    PollPolicy {
                        first_delay: Duration::from_millis(first),
                        growth,
                        max_delay: Duration::from_secs(max),
                        max_wait,
                    },
                ));
            }
        }
    }
    candidates.push((
        "default".to_owned(),
        PollPolicy::default().with_max_wait(max_wait),
    ));
    print!("{:<22}", "policy \\ job length");
    for (_, _, name) in &bands {
        print!(" | {name:>20}");
    }
    println!();
    print!("{:<22}", "");
    for _ in &bands {
        print!(" | {:>9} {:>10}", "polls", "late (s)");
    }
    println!();
    for (name, policy) in &candidates {
        print!("{name:<22}");
        for (lo, hi, _) in &bands {
            let (polls, late) = average(policy, *lo, *hi);
            print!(" | {polls:>9.1} {late:>10.2}");
        }
        println!();
    }
}
