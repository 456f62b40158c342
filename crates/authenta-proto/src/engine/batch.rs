//! One wait for many records: [`BatchWait`] watches every pending record of
//! a batch and, while two or more are pending, reads their statuses from
//! `GET /media` pages (up to 100 records a query) instead of one
//! `GET /media/{mid}` each.
//!
//! The list's order is not documented, so the flow learns it from each
//! round's first page (`createdAt` of its first and last items) and pages
//! only as far as needed:
//!
//! - newest first: from offset 0 onwards, until every record looked for is
//!   found or the page reaches records older than the oldest of them (a
//!   record created meanwhile shifts the later pages by one: an item is
//!   seen twice, never skipped);
//! - oldest first: from the last page (learnt from `total`) backwards;
//! - unordered (or not known yet): from offset 0 onwards.
//!
//! At most [`MAX_PAGES`] pages are read per round; a due record not found
//! in them is polled on its own with `GET /media/{mid}`. The list may lag
//! behind the records: a record whose list item has shown the same status
//! [`STALE_LIST_READS`] times in a row, or whose deadline has come, is read
//! once with `GET /media/{mid}` (and times out only on what that says). A final record is
//! read again with `GET /media/{mid}` only when its list item lacks the
//! verdict (the documented summary items hold only `mid`, `name`, `type`,
//! `status`, `modelType` and `createdAt`).
//!
//! Each record keeps its own [`PollPolicy`] schedule (first delay, growth,
//! cap, deadline), started when it joins: a poll is due when the earliest
//! record's schedule says so, and reading a record from a page counts as
//! one of its polls. A record that just finished uploading is first polled
//! after the first delay, not at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use authenta_types::{LIST_LIMIT_MAX, ListQuery, Media, MediaId, MediaList, MediaStatus};
use jiff::Timestamp;

use super::flows::{Call, Observer};
use super::{Action, Event, Flow, Inputs};
use crate::config::Config;
use crate::error::{Error, ProtocolError, WaitTimeout};
use crate::ops::{GetMedia, ListMedia};
use crate::poll::{PollPolicy, PollStep};
use crate::retry::RetryPolicy;

/// The most list pages one round reads before the records it has not found
/// are polled on their own.
pub const MAX_PAGES: u32 = 3;

/// How many list reads in a row may show a record's status unchanged before
/// the record is read once on its own (a list that lags behind the records
/// would otherwise hold it until its deadline).
pub const STALE_LIST_READS: u32 = 5;

/// The records finished since the flow last finished: each with its final
/// record, or why waiting for it failed (a timeout, an error answer).
pub type Finished = Vec<(MediaId, Result<Media, Error>)>;

/// The order the server lists records in, as learnt from its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOrder {
    /// Not seen yet (or every page so far had records of one instant).
    Unknown,
    /// The newest record first.
    NewestFirst,
    /// The oldest record first.
    OldestFirst,
    /// Neither.
    Unordered,
}

impl ListOrder {
    /// The order a page shows, given what was known.
    fn learn(self, page: &[Media]) -> ListOrder {
        if page.len() < 2 {
            return self;
        }
        let pairs = page
            .windows(2)
            .map(|w| w[0].created_at.cmp(&w[1].created_at));
        let (mut down, mut up) = (false, false);
        for ord in pairs {
            match ord {
                std::cmp::Ordering::Greater => down = true,
                std::cmp::Ordering::Less => up = true,
                std::cmp::Ordering::Equal => {}
            }
        }
        match (down, up) {
            (true, false) => ListOrder::NewestFirst,
            (false, true) => ListOrder::OldestFirst,
            (true, true) => ListOrder::Unordered,
            (false, false) => self,
        }
    }
}

/// One record being waited for.
#[derive(Clone, Debug)]
struct Watched {
    created_at: Option<Timestamp>,
    started: Instant,
    due: Instant,
    /// Statuses read (list items and `GET`s).
    polls: u32,
    /// Where the record is in its schedule (a skipped first poll counts).
    schedule: u32,
    last_status: Option<MediaStatus>,
    /// List reads in a row that showed `last_status` again.
    unchanged: u32,
}

/// A list round: the pages read so far and the records still looked for.
#[derive(Debug)]
struct Round {
    pages: u32,
    offset: u64,
    wanted: BTreeSet<MediaId>,
}

#[derive(Debug)]
enum State {
    /// Deciding what to do next.
    Idle,
    /// A sleep until the next due poll.
    Sleeping,
    /// Reading a list page.
    Listing(Call<ListMedia>, Round),
    /// Polling one record (or reading a final one whole).
    Getting(Call<GetMedia>, MediaId),
}

/// The batch waiter: a [`Flow`] that waits for many records at once.
///
/// Add records with [`BatchWait::add`] (before running it, or between its
/// steps through a [`SharedBatch`]); each run finishes as soon as some
/// records are final, with those records ([`Finished`]), or with an empty
/// list when nothing is pending. Run it again to go on waiting.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use authenta_proto::engine::batch::BatchWait;
/// use authenta_proto::engine::{Action, Event, Flow, Inputs};
/// use authenta_proto::types::MediaId;
/// use authenta_proto::{Config, Credentials, PollPolicy, RetryPolicy};
///
/// let config = Config::new(Credentials::new("id", "secret"));
/// let mut batch = BatchWait::new(config, RetryPolicy::default(), PollPolicy::default());
/// let start = Instant::now();
/// batch.add(MediaId::new("m1"), None, start);
/// batch.add(MediaId::new("m2"), None, start);
/// let inputs = Inputs { now: start, wall_clock: SystemTime::now(), random: 0 };
/// // Just uploaded: the first poll comes after the first delay.
/// assert!(matches!(batch.step(Event::Ready, inputs), Action::Sleep(d) if d == Duration::from_secs(1)));
/// let later = Inputs { now: start + Duration::from_secs(1), ..inputs };
/// // Two records pending: one list page for both.
/// let Action::Send(request) = batch.step(Event::Ready, later) else { panic!() };
/// assert_eq!(request.uri().path(), "/api/media");
/// ```
pub struct BatchWait {
    config: Config,
    retry: RetryPolicy,
    policy: PollPolicy,
    observer: Option<Observer>,
    pending: BTreeMap<MediaId, Watched>,
    /// Final records whose list item lacked the verdict.
    details: VecDeque<MediaId>,
    /// Due records a list round did not find.
    singles: VecDeque<MediaId>,
    finished: Finished,
    order: ListOrder,
    /// The `total` of the last page read.
    total: Option<u64>,
    state: State,
    queries: u64,
}

impl std::fmt::Debug for BatchWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWait")
            .field("policy", &self.policy)
            .field("pending", &self.pending)
            .field("order", &self.order)
            .field("state", &self.state)
            .field("queries", &self.queries)
            .finish_non_exhaustive()
    }
}

impl BatchWait {
    /// A batch waiter with `config`'s key, each request retried on `retry`,
    /// each record polled on `policy`.
    pub fn new(config: Config, retry: RetryPolicy, policy: PollPolicy) -> Self {
        BatchWait {
            config,
            retry,
            policy,
            observer: None,
            pending: BTreeMap::new(),
            details: VecDeque::new(),
            singles: VecDeque::new(),
            finished: Vec::new(),
            order: ListOrder::Unknown,
            total: None,
            state: State::Idle,
            queries: 0,
        }
    }

    /// Shows each status read (from a page or a `GET`) to `observer`.
    pub fn observed(mut self, observer: Option<Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Waits for `mid` too, a record that was just uploaded (created at
    /// `created_at`, when known): its first poll is due after the poll
    /// policy's first delay from `now`. A record already waited for is
    /// left as it is.
    pub fn add(&mut self, mid: MediaId, created_at: Option<Timestamp>, now: Instant) {
        let due = now + self.policy.first_delay;
        self.join(mid, created_at, now, due, 1);
    }

    /// Waits for `mid` too, polled at once (a record uploaded some time
    /// ago, say).
    pub fn add_due(&mut self, mid: MediaId, created_at: Option<Timestamp>, now: Instant) {
        self.join(mid, created_at, now, now, 0);
    }

    fn join(
        &mut self,
        mid: MediaId,
        created_at: Option<Timestamp>,
        now: Instant,
        due: Instant,
        schedule: u32,
    ) {
        self.pending.entry(mid).or_insert(Watched {
            created_at,
            started: now,
            due,
            polls: 0,
            schedule,
            last_status: None,
            unchanged: 0,
        });
    }

    /// Stops waiting for every record, and forgets what is in flight (the
    /// next run starts afresh).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.details.clear();
        self.singles.clear();
        self.finished.clear();
        self.state = State::Idle;
    }

    /// How many records are waited for (final ones not yet handed over
    /// included).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The list order learnt so far.
    pub fn order(&self) -> ListOrder {
        self.order
    }

    /// The API queries this waiter has sent (each attempt counts).
    pub fn queries(&self) -> u64 {
        self.queries
    }

    /// Takes in a record's status, read at `now`.
    fn on_media(&mut self, media: Media, from_list: bool, now: Instant) {
        let mid = media.mid.clone();
        let Some(watched) = self.pending.get_mut(&mid) else {
            return;
        };
        watched.polls += 1;
        watched.schedule += 1;
        if let Some(observer) = &self.observer {
            observer(&media);
        }
        tracing::debug!(%mid, status = %media.status, polls = watched.polls, from_list, "status read");
        if media.status.is_final() {
            if from_list && lacks_verdict(&media) {
                if !self.details.contains(&mid) {
                    self.details.push_back(mid);
                }
            } else {
                self.pending.remove(&mid);
                self.details.retain(|m| *m != mid);
                self.singles.retain(|m| *m != mid);
                self.finished.push((mid, Ok(media)));
            }
            return;
        }
        let same = watched.last_status.as_ref() == Some(&media.status);
        watched.unchanged = if from_list && same {
            watched.unchanged + 1
        } else {
            0
        };
        watched.last_status = Some(media.status);
        let elapsed = now.saturating_duration_since(watched.started);
        let step = self.policy.next(watched.schedule, elapsed);
        let stale = watched.unchanged >= STALE_LIST_READS;
        if from_list && (stale || step == PollStep::GiveUp) {
            // The list may lag: the record itself is read before the list
            // holds it any longer, or times it out.
            tracing::debug!(%mid, unchanged = watched.unchanged, "the list item has not moved: reading the record");
            watched.unchanged = 0;
            if !self.singles.contains(&mid) {
                self.singles.push_back(mid);
            }
            return;
        }
        match step {
            PollStep::PollAfter(delay) => watched.due = now + delay,
            PollStep::GiveUp => {
                let timeout = WaitTimeout {
                    mid: mid.clone(),
                    last_status: watched.last_status.clone(),
                    waited: elapsed,
                    polls: watched.polls,
                };
                self.pending.remove(&mid);
                self.singles.retain(|m| *m != mid);
                self.finished
                    .push((mid, Err(Error::Proto(ProtocolError::Timeout(timeout)))));
            }
        }
    }

    /// A record whose poll failed (after its retries): a transient failure
    /// within its deadline polls it again later (as one wait does:
    /// [`Waiter::on_failure`](super::Waiter::on_failure)); another ends its
    /// wait with the failure.
    fn on_failure(&mut self, mid: MediaId, failure: Error, inputs: Inputs) {
        if let Some(watched) = self.pending.get_mut(&mid) {
            let elapsed = inputs.now.saturating_duration_since(watched.started);
            let again = super::poll_again_after(
                &failure,
                &self.policy,
                watched.schedule + 1,
                elapsed,
                inputs.wall_clock,
            );
            if let Some(delay) = again {
                tracing::warn!(%mid, delay_ms = delay.as_millis() as u64, "a poll failed: polling again later ({failure})");
                watched.due = inputs.now + delay;
                self.details.retain(|m| *m != mid);
                self.singles.retain(|m| *m != mid);
                return;
            }
        }
        self.pending.remove(&mid);
        self.details.retain(|m| *m != mid);
        self.singles.retain(|m| *m != mid);
        self.finished.push((mid, Err(failure)));
    }

    /// The query for a round's first page.
    fn first_offset(&self) -> u64 {
        match (self.order, self.total) {
            (ListOrder::OldestFirst, Some(total)) => {
                total.saturating_sub(u64::from(LIST_LIMIT_MAX))
            }
            _ => 0,
        }
    }

    fn list(&mut self, offset: u64) -> Result<Call<ListMedia>, Error> {
        let query = ListQuery {
            limit: Some(LIST_LIMIT_MAX),
            offset: Some(offset),
        };
        Ok(Call::new(
            ListMedia::new(query)?,
            self.config.clone(),
            self.retry,
        ))
    }

    fn get(&self, mid: &MediaId) -> Call<GetMedia> {
        Call::new(GetMedia::new(mid.clone()), self.config.clone(), self.retry)
    }

    /// Takes in a list page; says where the next page of the round is, if
    /// one is worth reading.
    fn on_page(&mut self, page: MediaList, round: &mut Round, now: Instant) -> Option<u64> {
        round.pages += 1;
        let first_of_round = round.pages == 1;
        if first_of_round {
            self.order = self.order.learn(&page.data);
        }
        self.total = Some(page.total);
        for media in page.data.iter() {
            if round.wanted.remove(&media.mid) {
                self.on_media(media.clone(), true, now);
            }
        }
        if round.wanted.is_empty() || round.pages >= MAX_PAGES {
            return None;
        }
        let len = page.data.len() as u64;
        let oldest_wanted = round
            .wanted
            .iter()
            .map(|mid| self.pending.get(mid).and_then(|w| w.created_at))
            .collect::<Option<Vec<_>>>()
            .and_then(|times| times.into_iter().min());
        match self.order {
            ListOrder::OldestFirst => {
                let last_page = page.total.saturating_sub(u64::from(LIST_LIMIT_MAX));
                if first_of_round && page.offset < last_page {
                    // The order was just learnt from the front: jump to
                    // the end, where new records are.
                    return Some(last_page);
                }
                // Going back in time: once the page starts before the
                // oldest record looked for, no earlier page holds one.
                if let (Some(oldest), Some(first)) = (oldest_wanted, page.data.first())
                    && first.created_at < oldest
                {
                    return None;
                }
                (page.offset > 0).then(|| page.offset.saturating_sub(u64::from(LIST_LIMIT_MAX)))
            }
            ListOrder::NewestFirst => {
                if let (Some(oldest), Some(last)) = (oldest_wanted, page.data.last())
                    && last.created_at < oldest
                {
                    return None;
                }
                let next = page.offset + len;
                (len > 0 && next < page.total).then_some(next)
            }
            ListOrder::Unordered | ListOrder::Unknown => {
                let next = page.offset + len;
                (len > 0 && next < page.total).then_some(next)
            }
        }
    }

    /// Ends a list round: the due records it did not find are polled on
    /// their own.
    fn end_round(&mut self, round: Round, now: Instant) {
        for mid in round.wanted {
            if let Some(watched) = self.pending.get(&mid)
                && watched.due <= now
                && !self.singles.contains(&mid)
            {
                tracing::debug!(%mid, pages = round.pages, "not in the list: polled on its own");
                self.singles.push_back(mid);
            }
        }
    }

    /// Decides the next action from a state of rest.
    fn plan(&mut self, inputs: Inputs) -> Action<Finished> {
        let now = inputs.now;
        if let Some(mid) = self
            .details
            .pop_front()
            .or_else(|| self.singles.pop_front())
        {
            let call = self.get(&mid);
            self.state = State::Getting(call, mid);
            return self.send(Event::Ready, inputs);
        }
        if !self.finished.is_empty() || self.pending.is_empty() {
            return Action::Finish(Ok(std::mem::take(&mut self.finished)));
        }
        let due = self
            .pending
            .values()
            .map(|w| w.due)
            .min()
            .expect("a record is pending");
        if due > now {
            self.state = State::Sleeping;
            return Action::Sleep(due - now);
        }
        if self.pending.len() == 1 {
            let mid = self.pending.keys().next().cloned().expect("one record");
            let call = self.get(&mid);
            self.state = State::Getting(call, mid);
            return self.send(Event::Ready, inputs);
        }
        let round = Round {
            pages: 0,
            offset: self.first_offset(),
            wanted: self.pending.keys().cloned().collect(),
        };
        match self.list(round.offset) {
            Ok(call) => {
                self.state = State::Listing(call, round);
                self.send(Event::Ready, inputs)
            }
            Err(failure) => {
                // Not a page the API takes: every due record on its own.
                tracing::warn!(%failure, "no list page: polling each record");
                self.end_round(round, now);
                self.plan(inputs)
            }
        }
    }

    /// Feeds `event` to the request in flight and takes in its result.
    fn send(&mut self, event: Event, inputs: Inputs) -> Action<Finished> {
        let now = inputs.now;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => self.plan(inputs),
            State::Sleeping => match event {
                Event::Ready => self.plan(inputs),
                other => super::unexpected(&other),
            },
            State::Getting(mut call, mid) => match call.step(event, inputs) {
                Action::Finish(Ok(media)) => {
                    let media = Media {
                        mid: mid.clone(),
                        ..media
                    };
                    self.on_media(media, false, now);
                    self.plan(inputs)
                }
                Action::Finish(Err(failure)) => {
                    self.on_failure(mid, failure, inputs);
                    self.plan(inputs)
                }
                action => {
                    self.count(&action);
                    self.state = State::Getting(call, mid);
                    relay(action)
                }
            },
            State::Listing(mut call, mut round) => match call.step(event, inputs) {
                Action::Finish(Ok(page)) => match self.on_page(page, &mut round, now) {
                    Some(offset) => match self.list(offset) {
                        Ok(call) => {
                            round.offset = offset;
                            self.state = State::Listing(call, round);
                            self.send(Event::Ready, inputs)
                        }
                        Err(_) => {
                            self.end_round(round, now);
                            self.plan(inputs)
                        }
                    },
                    None => {
                        self.end_round(round, now);
                        self.plan(inputs)
                    }
                },
                Action::Finish(Err(failure)) => {
                    // The page failed after its retries: each due record
                    // is polled on its own (and fails on its own if the
                    // cause is the key's).
                    tracing::warn!(%failure, "a list page failed: polling each record");
                    self.end_round(round, now);
                    self.plan(inputs)
                }
                action => {
                    self.count(&action);
                    self.state = State::Listing(call, round);
                    relay(action)
                }
            },
        }
    }

    fn count<T>(&mut self, action: &Action<T>) {
        if matches!(action, Action::Send(_)) {
            self.queries += 1;
        }
    }
}

/// The same action for another output (a request's sub-action).
fn relay<T, U>(action: Action<T>) -> Action<U> {
    action
        .relay()
        .unwrap_or_else(|_| unreachable!("a finished request is taken in, not relayed"))
}

/// Whether a final list item lacks the verdict a `GET /media/{mid}` gives:
/// a `PROCESSED` summary item (no `fake`, no result or heatmap URL).
pub fn lacks_verdict(media: &Media) -> bool {
    media.status == MediaStatus::Processed
        && media.fake.is_none()
        && media.result_url.is_none()
        && media.heatmap_url.is_none()
}

impl Flow for BatchWait {
    type Output = Finished;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Finished> {
        self.send(event, inputs)
    }
}

/// A [`BatchWait`] shared between the task that runs it and the tasks that
/// add records to it: each step locks it briefly, so records join between
/// steps (during a sleep, say).
#[derive(Clone, Debug)]
pub struct SharedBatch(pub Arc<Mutex<BatchWait>>);

impl SharedBatch {
    /// Shares `batch`.
    pub fn new(batch: BatchWait) -> Self {
        SharedBatch(Arc::new(Mutex::new(batch)))
    }

    /// Runs `f` on the waiter.
    pub fn with<R>(&self, f: impl FnOnce(&mut BatchWait) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Flow for SharedBatch {
    type Output = Finished;

    fn step(&mut self, event: Event, inputs: Inputs) -> Action<Finished> {
        self.with(|batch| batch.step(event, inputs))
    }
}

#[cfg(test)]
mod tests {
    //! The batch waiter stepped by hand against a fake account: events fed,
    //! actions read, no clock, no driver.

    use std::collections::HashMap;
    use std::time::{Duration, SystemTime};

    use http::Response;

    use super::*;
    use crate::ops::test_support::{config, json};

    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

    fn at(millis: u64) -> Inputs {
        let start = *START.get_or_init(Instant::now);
        Inputs {
            now: start + Duration::from_millis(millis),
            wall_clock: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            random: 0,
        }
    }

    fn start() -> Instant {
        at(0).now
    }

    /// A fake account: records in creation order, listed in `order`.
    struct Account {
        records: Vec<(String, u64, &'static str)>,
        order: &'static str,
        summary: bool,
        /// Records created just before the page of this offset is read.
        created_before_page: HashMap<u64, usize>,
        /// When a record becomes `PROCESSED` (ms on the test clock).
        finish_at: HashMap<u64, u64>,
        lists: u32,
        gets: u32,
    }

    fn mid(n: u64) -> String {
        format!("{n:024x}")
    }

    impl Account {
        fn new(count: u64, order: &'static str) -> Self {
            Account {
                records: (0..count).map(|n| (mid(n), n, "UPLOADED")).collect(),
                order,
                summary: false,
                created_before_page: HashMap::new(),
                finish_at: HashMap::new(),
                lists: 0,
                gets: 0,
            }
        }

        fn set(&mut self, n: u64, status: &'static str) {
            self.records.iter_mut().find(|r| r.1 == n).unwrap().2 = status;
        }

        fn item(&self, r: &(String, u64, &'static str), full: bool) -> serde_json::Value {
            let mut item = serde_json::json!({
                "mid": r.0, "name": format!("f{}.png", r.1), "type": "Image",
                "status": r.2, "modelType": "AC-1",
                "createdAt": format!("2026-12-01T10:{:02}:{:02}Z", r.1 / 60, r.1 % 60),
            });
            if full && r.2 == "PROCESSED" {
                item["fake"] = false.into();
                item["resultURL"] = "https://s3.example/r.json".into();
            }
            item
        }

        fn answer(&mut self, request: &http::Request<Vec<u8>>, clock: u64) -> Event {
            for r in &mut self.records {
                if self.finish_at.get(&r.1).is_some_and(|at| clock >= *at) {
                    r.2 = "PROCESSED";
                }
            }
            let path = request.uri().path();
            if path == "/api/media" {
                self.lists += 1;
                let query = request.uri().query().unwrap_or("");
                let param = |name: &str| -> u64 {
                    query
                        .split('&')
                        .find_map(|p| p.strip_prefix(&format!("{name}=")))
                        .map_or(0, |v| v.parse().unwrap())
                };
                let (limit, offset) = (param("limit"), param("offset"));
                if let Some(n) = self.created_before_page.remove(&offset) {
                    let next = self.records.len() as u64;
                    for k in next..next + n as u64 {
                        self.records.push((mid(k), k, "INITED"));
                    }
                }
                let mut listed: Vec<_> = self.records.clone();
                match self.order {
                    "newest" => listed.reverse(),
                    "oldest" => {}
                    _ => listed.sort_by_key(|r| (r.1 * 7919) % 101),
                }
                let data: Vec<_> = listed
                    .iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .map(|r| self.item(r, !self.summary))
                    .collect();
                let body = serde_json::json!({
                    "limit": limit, "offset": offset, "total": listed.len(), "data": data,
                });
                Event::Response(json(200, &body.to_string()))
            } else {
                self.gets += 1;
                let mid = path.rsplit('/').next().unwrap();
                match self.records.iter().find(|r| r.0 == mid) {
                    Some(r) => Event::Response(json(200, &self.item(r, true).to_string())),
                    None => Event::Response(json(
                        404,
                        r#"{"code":"M404","type":"NOT_FOUND","message":"no such media"}"#,
                    )),
                }
            }
        }

        fn created_at(&self, n: u64) -> Timestamp {
            format!("2026-12-01T10:{:02}:{:02}Z", n / 60, n % 60)
                .parse()
                .unwrap()
        }
    }

    /// Runs the waiter until it finishes once: (finished, clock).
    fn run_once(batch: &mut BatchWait, account: &mut Account, clock: &mut u64) -> Finished {
        let mut event = Event::Ready;
        loop {
            match batch.step(event, at(*clock)) {
                Action::Send(request) => event = account.answer(&request, *clock),
                Action::Sleep(d) => {
                    *clock += d.as_millis() as u64;
                    event = Event::Ready;
                }
                Action::Finish(Ok(done)) => return done,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn waiter() -> BatchWait {
        BatchWait::new(config(), RetryPolicy::default(), PollPolicy::default())
    }

    /// Waits for records `wanted` of an account of `count` records listed
    /// in `order`, all processed after 3 s: the queries spent.
    fn wait_for(order: &'static str, count: u64, wanted: &[u64], summary: bool) -> (u32, u32) {
        let mut account = Account::new(count, order);
        account.summary = summary;
        let mut batch = waiter();
        for &n in wanted {
            batch.add(MediaId::new(mid(n)), Some(account.created_at(n)), start());
        }
        for &n in wanted {
            account.finish_at.insert(n, 3000);
        }
        let mut clock = 0;
        let mut done = BTreeMap::new();
        while batch.pending() > 0 {
            for (mid, result) in run_once(&mut batch, &mut account, &mut clock) {
                done.insert(mid, result.unwrap());
            }
        }
        assert_eq!(done.len(), wanted.len());
        for media in done.values() {
            assert_eq!(media.status, MediaStatus::Processed);
            assert_eq!(media.fake, Some(false), "the verdict is there");
        }
        (account.lists, account.gets)
    }

    #[test]
    fn a_lagging_list_does_not_hold_a_record_until_its_deadline() {
        // The list says UPLOADED for ever; the record itself is PROCESSED.
        let mut account = Account::new(10, "newest");
        account.summary = false;
        let mut batch = BatchWait::new(
            config(),
            RetryPolicy::default(),
            PollPolicy::fixed(Duration::from_secs(1), Duration::from_secs(3600)),
        );
        for n in [8, 9] {
            batch.add_due(MediaId::new(mid(n)), Some(account.created_at(n)), start());
        }
        let mut clock = 0;
        let mut event = Event::Ready;
        let mut done = Vec::new();
        while done.len() < 2 {
            match batch.step(event, at(clock)) {
                Action::Send(request) => {
                    let list = request.uri().path() == "/api/media";
                    // The records are done; only GET /media/{mid} says so.
                    account.set(8, if list { "UPLOADED" } else { "PROCESSED" });
                    account.set(9, if list { "UPLOADED" } else { "PROCESSED" });
                    event = account.answer(&request, clock);
                }
                Action::Sleep(d) => {
                    clock += d.as_millis() as u64;
                    event = Event::Ready;
                }
                Action::Finish(Ok(finished)) => {
                    done.extend(finished);
                    event = Event::Ready;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            done.iter()
                .all(|(_, r)| r.as_ref().unwrap().status == MediaStatus::Processed)
        );
        // The first read and STALE_LIST_READS more that did not move, then
        // one GET each.
        assert_eq!((account.lists, account.gets), (STALE_LIST_READS + 1, 2));
        assert!(clock < 60_000, "long before the deadline: {clock} ms");
    }

    #[test]
    fn a_transient_failure_is_polled_again_within_the_deadline() {
        let mut account = Account::new(1, "newest");
        account.finish_at.insert(0, 0);
        let mut batch = BatchWait::new(
            config(),
            RetryPolicy::never(),
            PollPolicy::fixed(Duration::from_secs(1), Duration::from_secs(60)),
        );
        batch.add_due(MediaId::new(mid(0)), None, start());
        let mut clock = 0;
        let mut event = Event::Ready;
        let mut failed_once = false;
        let finished = loop {
            match batch.step(event, at(clock)) {
                Action::Send(_) if !failed_once => {
                    failed_once = true;
                    event = Event::Response(
                        Response::builder()
                            .status(503)
                            .header("retry-after", "99999")
                            .body(Vec::new())
                            .unwrap(),
                    );
                }
                Action::Send(request) => event = account.answer(&request, clock),
                Action::Sleep(d) => {
                    // The Retry-After is capped at the schedule's delay.
                    assert!(d <= Duration::from_secs(1), "{d:?}");
                    clock += d.as_millis() as u64;
                    event = Event::Ready;
                }
                Action::Finish(Ok(finished)) => break finished,
                other => panic!("unexpected {other:?}"),
            }
        };
        let [(_, Ok(media))] = &finished[..] else {
            panic!("{finished:?}")
        };
        assert_eq!(media.status, MediaStatus::Processed);
        assert_eq!(account.gets, 1, "polled again after the 503");
    }

    #[test]
    fn newest_first_reads_the_first_page_only() {
        // 250 records, the 5 newest waited for: one page each round.
        let wanted: Vec<u64> = (245..250).collect();
        let (lists, gets) = wait_for("newest", 250, &wanted, false);
        assert_eq!(gets, 0);
        // Polls at 1, 2.5 and 4.75 s: three rounds of one page.
        assert_eq!(lists, 3);
    }

    #[test]
    fn oldest_first_learns_the_order_then_reads_the_last_page() {
        let wanted: Vec<u64> = (245..250).collect();
        let (lists, gets) = wait_for("oldest", 250, &wanted, false);
        assert_eq!(gets, 0);
        // First round: page 0 (learns the order and total), then the last
        // page; later rounds: the last page only.
        assert_eq!(lists, 4);
    }

    #[test]
    fn oldest_first_across_two_pages_reads_both_and_no_more() {
        let wanted: Vec<u64> = (140..150).collect();
        let (lists, gets) = wait_for("oldest", 240, &wanted, false);
        // Last page is 140..240: found there each round.
        assert_eq!(gets, 0);
        assert_eq!(lists, 4);
        let wanted: Vec<u64> = (130..150).collect();
        let (lists, gets) = wait_for("oldest", 240, &wanted, false);
        // 130..140 are on the page before the last: two pages a round
        // (three in the first, which learns the order).
        assert_eq!(gets, 0);
        assert_eq!(lists, 3 + 2 + 2);
    }

    #[test]
    fn unordered_lists_are_read_until_every_record_is_found() {
        let wanted: Vec<u64> = (0..250).step_by(25).collect();
        let (lists, gets) = wait_for("unordered", 250, &wanted, false);
        assert_eq!(gets, 0);
        assert!(lists <= 3 * MAX_PAGES, "{lists}");
    }

    #[test]
    fn summary_items_cost_one_get_per_final_record() {
        let wanted: Vec<u64> = (0..10).collect();
        let (lists, gets) = wait_for("newest", 10, &wanted, true);
        assert_eq!((lists, gets), (3, 10));
    }

    #[test]
    fn a_record_missing_from_the_list_is_polled_on_its_own() {
        // 500 records newest first, one wanted record far back (older than
        // what MAX_PAGES pages show) and two recent ones.
        let mut account = Account::new(500, "newest");
        let mut batch = waiter();
        for n in [10, 498, 499] {
            batch.add(MediaId::new(mid(n)), None, start());
        }
        // And one the server does not list at all.
        batch.add(MediaId::new("ffffffffffffffffffffffff"), None, start());
        let mut clock = 0;
        account.set(10, "PROCESSED");
        let done = run_once(&mut batch, &mut account, &mut clock);
        assert_eq!(account.lists, MAX_PAGES, "at most MAX_PAGES pages");
        let done: BTreeMap<_, _> = done.into_iter().collect();
        assert!(done[&MediaId::new(mid(10))].is_ok());
        let missing = &done[&MediaId::new("ffffffffffffffffffffffff")];
        assert_eq!(
            missing.as_ref().unwrap_err().status().map(|s| s.as_u16()),
            Some(404)
        );
        assert_eq!(account.gets, 2, "one GET for each record not found");
        assert_eq!(batch.pending(), 2);
    }

    #[test]
    fn a_newest_first_round_stops_at_records_older_than_every_one_wanted() {
        let mut account = Account::new(500, "newest");
        let mut batch = waiter();
        // Known creation times: a record not on the first page (too new to
        // be further on) is not looked for on later pages.
        batch.add(
            MediaId::new(mid(499)),
            Some(account.created_at(499)),
            start(),
        );
        batch.add(
            MediaId::new("ffffffffffffffffffffffff"),
            Some(account.created_at(495)),
            start(),
        );
        let mut clock = 0;
        let done = run_once(&mut batch, &mut account, &mut clock);
        assert_eq!(account.lists, 1);
        assert_eq!(account.gets, 1);
        assert_eq!(done.len(), 1);
    }

    #[test]
    fn records_created_while_paging_shift_the_pages_and_nothing_is_missed() {
        // Newest first, 250 records; the wanted ones are at the page
        // boundaries. Before the second page is read, 30 records are
        // created: the second page repeats some of the first, skips none.
        let mut account = Account::new(250, "newest");
        account.created_before_page.insert(100, 30);
        account.created_before_page.insert(200, 5);
        let wanted = [150u64, 149, 99, 50, 0];
        let mut batch = waiter();
        for n in wanted {
            batch.add(MediaId::new(mid(n)), None, start());
            account.set(n, "PROCESSED");
        }
        let mut clock = 0;
        let done = run_once(&mut batch, &mut account, &mut clock);
        assert_eq!(done.len(), 5, "{done:?}");
        assert!(done.iter().all(|(_, r)| r.is_ok()));
        assert_eq!(account.gets, 0, "every record found in the pages");
        assert_eq!(account.lists, 3);
        assert_eq!(batch.order(), ListOrder::NewestFirst);
    }

    #[test]
    fn a_deadline_reached_with_some_records_pending_times_them_out() {
        let policy = PollPolicy::fixed(Duration::from_secs(2), Duration::from_secs(7));
        let mut batch = BatchWait::new(config(), RetryPolicy::default(), policy);
        let mut account = Account::new(3, "newest");
        for n in 0..3 {
            batch.add(MediaId::new(mid(n)), None, start());
        }
        account.finish_at.insert(1, 4000);
        let mut clock = 0;
        let mut done = BTreeMap::new();
        while batch.pending() > 0 {
            for (mid, result) in run_once(&mut batch, &mut account, &mut clock) {
                done.insert(mid, (result, clock));
            }
        }
        let (one, at_one) = &done[&MediaId::new(mid(1))];
        assert!(one.is_ok());
        assert_eq!(*at_one, 4000, "seen at the poll after it finished");
        for n in [0, 2] {
            let (result, when) = &done[&MediaId::new(mid(n))];
            let failure = result.as_ref().unwrap_err();
            let Some(ProtocolError::Timeout(timeout)) = failure.as_proto() else {
                panic!("{failure:?}")
            };
            // Polls at 2, 4, 6 and the deadline (7 s), where the list's
            // answer is checked with one GET of the record: 5 reads.
            assert_eq!(*when, 7000);
            assert_eq!(timeout.polls, 5);
            assert_eq!(timeout.waited, Duration::from_secs(7));
            assert_eq!(timeout.last_status, Some(MediaStatus::Uploaded));
        }
        // Two pending at a time until the end: one page a poll, then the
        // record itself before it times out.
        assert_eq!((account.lists, account.gets), (4, 2));
    }

    #[test]
    fn one_record_pending_is_polled_with_a_get_and_records_join_while_it_waits() {
        let mut account = Account::new(3, "newest");
        let mut batch = waiter();
        batch.add(MediaId::new(mid(0)), None, start());
        let Action::Sleep(first) = batch.step(Event::Ready, at(0)) else {
            panic!("no poll right after the upload")
        };
        assert_eq!(first, Duration::from_secs(1));
        let Action::Send(request) = batch.step(Event::Ready, at(1000)) else {
            panic!()
        };
        assert_eq!(request.uri().path(), format!("/api/media/{}", mid(0)));
        let event = account.answer(&request, 1000);
        let Action::Sleep(_) = batch.step(event, at(1000)) else {
            panic!()
        };
        // Two more join during the sleep: the next poll is a list page.
        batch.add(MediaId::new(mid(1)), None, at(1200).now);
        batch.add(MediaId::new(mid(2)), None, at(1200).now);
        let Action::Send(request) = batch.step(Event::Ready, at(2200)) else {
            panic!()
        };
        assert_eq!(request.uri().path(), "/api/media");
        assert_eq!(batch.queries(), 2);
    }

    #[test]
    fn a_failed_page_falls_back_to_single_gets() {
        let mut account = Account::new(2, "newest");
        let mut batch = BatchWait::new(
            config(),
            RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            PollPolicy::default(),
        );
        batch.add(MediaId::new(mid(0)), None, start());
        batch.add(MediaId::new(mid(1)), None, start());
        account.set(0, "PROCESSED");
        account.set(1, "PROCESSED");
        let _ = batch.step(Event::Ready, at(0));
        let Action::Send(list) = batch.step(Event::Ready, at(1000)) else {
            panic!()
        };
        assert_eq!(list.uri().path(), "/api/media");
        let busy = Event::Response(Response::builder().status(503).body(Vec::new()).unwrap());
        let Action::Send(get) = batch.step(busy, at(1000)) else {
            panic!()
        };
        assert_eq!(get.uri().path(), format!("/api/media/{}", mid(0)));
        let event = account.answer(&get, 1000);
        let Action::Send(get) = batch.step(event, at(1000)) else {
            panic!()
        };
        let event = account.answer(&get, 1000);
        let Action::Finish(Ok(done)) = batch.step(event, at(1000)) else {
            panic!()
        };
        assert_eq!(done.len(), 2);
    }
}
