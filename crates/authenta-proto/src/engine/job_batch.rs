//! One wait for many jobs: [`JobBatchWait`] watches every pending job of a
//! batch and, while two or more are due, reads which of them are still
//! active from the list's `status` filter (`GET /v1/jobs?status=queued`,
//! then `?status=processing`, at most [`MAX_PAGES`] pages of 100 each)
//! instead of one `GET /v1/jobs/{jobId}` each. A due job found in neither
//! list has left the active statuses (most likely final) and is read once
//! on its own, for its result; a job found active counts a poll. The
//! active lists stay short whatever the account's history, unlike the
//! lists of final jobs.
//!
//! Each job keeps its own schedule (the [`PollPolicy`], bounded by its task
//! type's time limit unless the caller sets a bound), started when it
//! joins; its first poll comes after the first delay. A job at its bound
//! is read on its own once, and times out only on what that says. A list
//! page that fails (after its retries) makes this round's due jobs be read
//! on their own; a list the server refuses (a 4xx: no `status` filter)
//! stops listing for good.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use authenta_types::{JOB_LIST_LIMIT_MAX, Job, JobId, JobStatus, TaskType};

use super::flows::Call;
use super::jobs::{JobObserver, JobPages};
use super::{Action, Event, Flow, Inputs, poll_again_after};
use crate::config::Config;
use crate::error::{Error, JobWaitTimeout, ProtocolError, WaitBound};
use crate::ops::GetJob;
use crate::poll::{PollPolicy, PollStep};
use crate::retry::RetryPolicy;

/// The most list pages a round reads per active status.
pub const MAX_PAGES: u32 = 3;

/// The statuses a finalized job is active in, listed each round.
const ACTIVE: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Processing];

/// The jobs finished since the flow last finished: each with its final job,
/// or why waiting for it failed (a timeout, an error answer).
pub type JobsFinished = Vec<(JobId, Result<Job, Error>)>;

#[derive(Debug)]
struct Pending {
    job: JobId,
    limit: Duration,
    bound: WaitBound,
    started: Instant,
    polls: u32,
    last: Option<JobStatus>,
    due: Instant,
    /// Its bound has come: the next read is its last.
    last_read: bool,
}

#[derive(Debug)]
enum Phase {
    /// Between rounds.
    Idle,
    /// Reading the active statuses' pages.
    Listing {
        statuses: Vec<JobStatus>,
        pages: Box<JobPages>,
        read: u32,
        active: HashMap<JobId, Job>,
    },
    /// Reading due jobs on their own.
    Single {
        queue: VecDeque<JobId>,
        call: Option<Box<Call<GetJob>>>,
    },
}

/// Waits for many jobs at once (see the [module](self)). Add jobs with
/// [`JobBatchWait::add`] (also between runs); each run finishes with the
/// jobs finished since the last, or an empty list once none is pending.
pub struct JobBatchWait {
    policy: PollPolicy,
    config: Config,
    retry: RetryPolicy,
    observer: Option<JobObserver>,
    /// Jobs to take in at the next step: with their bound, and whether
    /// they are due at once.
    joining: Vec<(JobId, Duration, WaitBound, bool)>,
    pending: Vec<Pending>,
    phase: Phase,
    finished: JobsFinished,
    list_refused: bool,
}

impl std::fmt::Debug for JobBatchWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobBatchWait")
            .field("pending", &self.pending)
            .field("phase", &self.phase)
            .field("list_refused", &self.list_refused)
            .finish_non_exhaustive()
    }
}

impl JobBatchWait {
    /// An empty wait polling on `policy`'s schedule.
    pub fn new(policy: PollPolicy, config: Config, retry: RetryPolicy) -> Self {
        JobBatchWait {
            policy,
            config,
            retry,
            observer: None,
            joining: Vec::new(),
            pending: Vec::new(),
            phase: Phase::Idle,
            finished: Vec::new(),
            list_refused: false,
        }
    }

    /// Shows each job read (from a list or on its own) to `observer`.
    pub fn observed(mut self, observer: Option<JobObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Adds a finalized job of task type `task`, bounded by `limit` when
    /// given, else by its task type's time limit, else by the policy's
    /// deadline. Its first poll comes after the policy's first delay.
    pub fn add(&mut self, job: JobId, task: Option<&TaskType>, limit: Option<Duration>) {
        self.join(job, task, limit, false);
    }

    /// Adds a job finalized some time ago (a resumed one), as
    /// [`JobBatchWait::add`] does, polled at once.
    pub fn add_due(&mut self, job: JobId, task: Option<&TaskType>, limit: Option<Duration>) {
        self.join(job, task, limit, true);
    }

    /// Stops waiting for every job (what was read of them is dropped).
    pub fn clear(&mut self) {
        self.joining.clear();
        self.pending.clear();
        self.finished.clear();
        self.phase = Phase::Idle;
    }

    fn join(&mut self, job: JobId, task: Option<&TaskType>, limit: Option<Duration>, due: bool) {
        let row = task.and_then(TaskType::info);
        let (limit, bound) = match (
            limit,
            row.and_then(|t| t.time_limit_secs.map(|s| (t.slug, s))),
        ) {
            (Some(limit), _) => (limit, WaitBound::Caller),
            (None, Some((slug, secs))) => (Duration::from_secs(secs), WaitBound::TaskType(slug)),
            (None, None) => (self.policy.max_wait, WaitBound::Policy),
        };
        self.joining.push((job, limit, bound, due));
    }

    /// How many jobs are waited for.
    pub fn len(&self) -> usize {
        self.pending.len() + self.joining.len()
    }

    /// Whether no job is waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn schedule(&self, limit: Duration) -> PollPolicy {
        self.policy.with_max_wait(limit)
    }

    /// Takes in what a read of `job` (or its list item) says at `now`.
    fn on_status(&mut self, job: Job, now: Instant, whole: bool) {
        if let Some(observer) = &self.observer {
            observer(&job);
        }
        let Some(index) = self.pending.iter().position(|p| p.job == job.id) else {
            return;
        };
        if job.status.is_final() && whole {
            let done = self.pending.remove(index);
            self.finished.push((done.job, Ok(job)));
            return;
        }
        let schedule = self.schedule(self.pending[index].limit);
        let p = &mut self.pending[index];
        p.polls += 1;
        p.last = Some(job.status.clone());
        let elapsed = now.saturating_duration_since(p.started);
        if p.last_read && whole {
            let p = self.pending.remove(index);
            let timeout = ProtocolError::JobTimeout(Box::new(JobWaitTimeout {
                job: p.job.clone(),
                last_status: p.last,
                waited: elapsed,
                polls: p.polls,
                limit: p.limit,
                bound: p.bound,
            }));
            self.finished.push((p.job, Err(timeout.into())));
            return;
        }
        // Counted from the joining poll skipped after the finalize.
        match schedule.next(p.polls + 1, elapsed) {
            PollStep::PollAfter(delay) => p.due = now + delay,
            PollStep::GiveUp => {
                p.due = now;
                p.last_read = true;
            }
        }
    }

    /// Takes in a failed single read of `job` at `inputs`' moment.
    fn on_failure(&mut self, job: &JobId, failure: Error, inputs: Inputs) {
        let Some(index) = self.pending.iter().position(|p| &p.job == job) else {
            return;
        };
        let p = &self.pending[index];
        let elapsed = inputs.now.saturating_duration_since(p.started);
        let schedule = self.schedule(p.limit);
        match poll_again_after(&failure, &schedule, p.polls + 2, elapsed, inputs.wall_clock) {
            Some(delay) => {
                tracing::warn!(%job, delay_ms = delay.as_millis() as u64, "a job read failed: reading it again later ({failure})");
                self.pending[index].due = inputs.now + delay;
            }
            None => {
                let p = self.pending.remove(index);
                self.finished.push((p.job, Err(failure)));
            }
        }
    }

    fn due(&self, now: Instant) -> Vec<JobId> {
        self.pending
            .iter()
            .filter(|p| p.due <= now)
            .map(|p| p.job.clone())
            .collect()
    }

    fn single(&self, queue: VecDeque<JobId>) -> Phase {
        Phase::Single { queue, call: None }
    }

    /// A new round at `now`, or how long to sleep until one is due.
    fn start_round(&mut self, now: Instant) -> Result<(), Duration> {
        let due = self.due(now);
        if due.is_empty() {
            let next = self.pending.iter().map(|p| p.due).min().unwrap_or(now);
            return Err(next
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)));
        }
        let last_reads = self.pending.iter().any(|p| p.due <= now && p.last_read);
        self.phase = if due.len() >= 2 && !self.list_refused && !last_reads {
            match JobPages::new(
                JOB_LIST_LIMIT_MAX,
                Some(ACTIVE[0].clone()),
                self.config.clone(),
                self.retry,
            ) {
                Ok(pages) => Phase::Listing {
                    statuses: ACTIVE[1..].to_vec(),
                    pages: Box::new(pages),
                    read: 0,
                    active: HashMap::new(),
                },
                Err(_) => self.single(due.into()),
            }
        } else {
            self.single(due.into())
        };
        Ok(())
    }

    /// The listing is over (read, cut at [`MAX_PAGES`], or failed): due
    /// jobs seen active count a poll; the others are read on their own.
    fn after_listing(&mut self, mut active: HashMap<JobId, Job>, now: Instant) -> Phase {
        let due = self.due(now);
        let mut queue = VecDeque::new();
        for job in due {
            match active.remove(&job) {
                // A final item (a server ignoring the filter) is read on
                // its own for the whole job, as one in neither list.
                Some(item) if !item.status.is_final() => self.on_status(item, now, false),
                _ => queue.push_back(job),
            }
        }
        self.single(queue)
    }
}

impl Flow for JobBatchWait {
    type Output = JobsFinished;

    fn step(&mut self, mut event: Event, inputs: Inputs) -> Action<JobsFinished> {
        for (job, limit, bound, due) in std::mem::take(&mut self.joining) {
            let first = match due {
                true => Duration::ZERO,
                false => self.policy.first_delay.min(limit),
            };
            self.pending.push(Pending {
                job,
                limit,
                bound,
                started: inputs.now,
                polls: 0,
                last: None,
                due: inputs.now + first,
                last_read: false,
            });
        }
        loop {
            match std::mem::replace(&mut self.phase, Phase::Idle) {
                Phase::Idle => {
                    if !self.finished.is_empty() || self.pending.is_empty() {
                        return Action::Finish(Ok(std::mem::take(&mut self.finished)));
                    }
                    if let Err(delay) = self.start_round(inputs.now) {
                        return Action::Sleep(delay);
                    }
                }
                Phase::Listing {
                    mut statuses,
                    mut pages,
                    mut read,
                    mut active,
                } => match pages.step(event, inputs).relay::<JobsFinished>() {
                    Ok(action) => {
                        self.phase = Phase::Listing {
                            statuses,
                            pages,
                            read,
                            active,
                        };
                        return action;
                    }
                    Err(result) => {
                        let more = match result {
                            Ok(Some(jobs)) => {
                                read += 1;
                                active.extend(jobs.into_iter().map(|j| (j.id.clone(), j)));
                                read < MAX_PAGES
                            }
                            Ok(None) => false,
                            Err(failure) => {
                                if !failure.is_retryable() {
                                    tracing::warn!(
                                        "the jobs list was refused ({failure}); reading each job on its own from now on"
                                    );
                                    self.list_refused = true;
                                } else {
                                    tracing::warn!(
                                        "a jobs list page failed ({failure}); reading this round's jobs on their own"
                                    );
                                }
                                self.phase = self.single(self.due(inputs.now).into());
                                event = Event::Ready;
                                continue;
                            }
                        };
                        if more {
                            self.phase = Phase::Listing {
                                statuses,
                                pages,
                                read,
                                active,
                            };
                        } else if let Some(status) = statuses.pop() {
                            match JobPages::new(
                                JOB_LIST_LIMIT_MAX,
                                Some(status),
                                self.config.clone(),
                                self.retry,
                            ) {
                                Ok(next) => {
                                    self.phase = Phase::Listing {
                                        statuses,
                                        pages: Box::new(next),
                                        read: 0,
                                        active,
                                    }
                                }
                                Err(_) => self.phase = self.after_listing(active, inputs.now),
                            }
                        } else {
                            self.phase = self.after_listing(active, inputs.now);
                        }
                    }
                },
                Phase::Single { mut queue, call } => {
                    let mut call = match call {
                        Some(call) => call,
                        None => match queue.front() {
                            Some(job) => Box::new(Call::new(
                                GetJob::new(job.clone()),
                                self.config.clone(),
                                self.retry,
                            )),
                            None => {
                                // The round is over.
                                event = Event::Ready;
                                continue;
                            }
                        },
                    };
                    match call.step(event, inputs).relay::<JobsFinished>() {
                        Ok(action) => {
                            self.phase = Phase::Single {
                                queue,
                                call: Some(call),
                            };
                            return action;
                        }
                        Err(result) => {
                            let job = queue
                                .pop_front()
                                .expect("a call reads the queue's first job");
                            match result {
                                Ok(read) => self.on_status(read, inputs.now, true),
                                Err(failure) => self.on_failure(&job, failure, inputs),
                            }
                            self.phase = Phase::Single { queue, call: None };
                        }
                    }
                }
            }
            event = Event::Ready;
        }
    }
}
