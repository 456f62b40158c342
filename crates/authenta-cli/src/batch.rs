//! One batch of files, as `process` (records) and `process --task` (jobs)
//! build it: one item per distinct entry (the same bytes under the same
//! model, or the same task and reference, are processed once), made as
//! the files' digests come from the ledger's hashing thread
//! ([`Ledger::identify_ahead`]), claimed a group at a time as the client's
//! pipeline takes them. A file whose bytes match an earlier file's, in its
//! group or a later one, joins that file's item and is told its outcome,
//! also when the item had already ended. A file the ledger cannot read
//! for its digest (changed since it was checked) fails alone, an item
//! that never starts. Items another process holds are
//! claimed again in later rounds ([`Batch::next_round`]); [`Live`] keeps
//! the items' bars. What differs between the two commands is only the
//! entry a digest makes (its key and checkpoint), given as functions
//! ([`Entries`]), and what each does with its items and their outcomes.

use std::hash::Hash;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use authenta_reqwest::Error;
use authenta_reqwest::client::Interrupt;
use authenta_reqwest::proto::error::LocalIo;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use crate::files::{Digested, Note};
use crate::ledger::{
    self, AheadError, Claim, EntryKey, EntryState, HashMap, IdentifyAhead, Identity, Ledger,
};
use crate::progress::{Bar, Bars};
use crate::session::CliError;

/// The ledger entries a batch's files make (`C`: a record's
/// `CheckpointFn`, a job's `JobCheckpointFn`).
pub struct Entries<C> {
    /// The key of the file at an index, its identity known.
    pub key: KeyFn,
    /// The checkpoint saving an item's states to its entry: made only for
    /// a file that starts an item (not for one that joins an earlier
    /// file's), such as `Ledger::checkpoint`.
    pub checkpoint: CheckpointMaker<C>,
}

/// [`Entries::key`].
pub type KeyFn = Box<dyn Fn(usize, &Identity) -> EntryKey + Send + Sync>;

/// [`Entries::checkpoint`].
pub type CheckpointMaker<C> = Box<dyn Fn(&Ledger, &EntryKey, &Identity) -> C + Send + Sync>;

/// One item of the batch: the files it stands for (the same bytes), the
/// first one run, and its ledger entry.
pub struct Item<C> {
    /// The files, by index, the first one run.
    pub files: Vec<usize>,
    /// Its ledger entry, claimed when it starts.
    pub key: Option<EntryKey>,
    /// Its checkpoint, saving each state to the ledger, until the item
    /// starts ([`Batch::start_item`]).
    pub checkpoint: Option<C>,
}

/// The items made so far, and who has been told what.
struct Items<C> {
    /// The items, one per entry.
    items: Distinct<EntryKey, Item<C>>,
    /// Each file's item, once it is known.
    item_of: Vec<Option<usize>>,
    /// Whether each item's outcome was told.
    settled: Vec<bool>,
    /// The files that joined an item after its outcome was told (item,
    /// file).
    late: Vec<(usize, usize)>,
    /// The items of files the ledger could not read, not told yet.
    unreadable: Vec<(usize, Error)>,
}

/// Items, one per distinct key (the same bytes under the same model, or
/// the same task and reference): the first file with a key starts an item,
/// a later one joins it (and is told its outcome). How `process` and
/// `process --task` make their items ([`Batch`]), and `authenta mcp`'s
/// `check_media` those of a call.
pub struct Distinct<K, T> {
    items: Vec<T>,
    /// The items by key.
    seen: HashMap<K, usize>,
}

impl<K: Eq + Hash, T> Distinct<K, T> {
    /// No item yet.
    pub fn new() -> Distinct<K, T> {
        Distinct {
            items: Vec::new(),
            seen: HashMap::default(),
        }
    }

    /// The item of a file with `key`: `Ok` with the new one `start` makes
    /// (always for a file without a key), or `Err` with the earlier file's
    /// it joins (`start` is not called).
    pub fn add(&mut self, key: Option<K>, start: impl FnOnce() -> T) -> Result<usize, usize> {
        if let Some(&g) = key.as_ref().and_then(|key| self.seen.get(key)) {
            return Err(g);
        }
        let g = self.items.len();
        if let Some(key) = key {
            self.seen.insert(key, g);
        }
        self.items.push(start());
        Ok(g)
    }

    /// The item `g`.
    pub fn get(&self, g: usize) -> &T {
        &self.items[g]
    }

    /// The item `g`, to change.
    pub fn get_mut(&mut self, g: usize) -> &mut T {
        &mut self.items[g]
    }

    /// The items, in the order they were made.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

/// A batch over some files: its items, made by [`Batch::claims`]'s first
/// round, and what the rounds of claims found.
pub struct Batch<C> {
    paths: Vec<PathBuf>,
    /// The digests of the files their checks read whole (with a ledger).
    digests: Vec<Option<Digested>>,
    items: Mutex<Items<C>>,
    /// With a ledger: it, and the entries the files' identities make.
    ledger: Option<(Ledger, Entries<C>)>,
    /// The first round's hashing, until that round takes it.
    first: Mutex<Option<Hashing>>,
    /// How many items are claimed together.
    group: usize,
    /// Whether final entries are read again (`--refresh`).
    refresh: bool,
    /// With `--own-only`: whether the items another process holds are
    /// left to it rather than waited for.
    own_only: bool,
    /// The items another process held in the last round.
    held: Mutex<Vec<usize>>,
    /// The items left to other processes (`--own-only`).
    left: Mutex<Vec<usize>>,
    /// The pause between rounds.
    wait: HeldWait,
    /// The thread computing the digests ended early: the batch ends.
    hash_failed: Mutex<Option<CliError>>,
    /// The ledger could not claim: the batch ends.
    claim_failed: Mutex<Option<io::Error>>,
}

impl<C: Clone + Send> Batch<C> {
    /// A batch over `files` (each with its digest if its check computed
    /// it) claimed as `rounds` says, with `ledger` and the entry each file
    /// makes: the metadata of every other file and the digests the ledger
    /// saved are read now, the missing digests are computed on a thread of
    /// their own, a group ahead of the claims. A file that cannot be read,
    /// now or when its digest is computed, fails alone
    /// ([`Batch::settle`]).
    pub fn start(
        files: Vec<(PathBuf, Option<Digested>)>,
        ledger: Option<(&Ledger, Entries<C>)>,
        rounds: Rounds,
    ) -> Batch<C> {
        let (paths, digests): (Vec<PathBuf>, Vec<Option<Digested>>) = files.into_iter().unzip();
        let Rounds {
            group,
            refresh,
            own_only,
        } = rounds;
        let batch = Batch {
            items: Mutex::new(Items {
                items: Distinct::new(),
                item_of: vec![None; paths.len()],
                settled: Vec::new(),
                late: Vec::new(),
                unreadable: Vec::new(),
            }),
            paths,
            digests,
            ledger: ledger.map(|(ledger, entry)| (ledger.clone(), entry)),
            first: Mutex::default(),
            group: group.max(1),
            refresh,
            own_only,
            held: Mutex::default(),
            left: Mutex::default(),
            wait: HeldWait::default(),
            hash_failed: Mutex::default(),
            claim_failed: Mutex::default(),
        };
        *lock(&batch.first) = Some(batch.hash((0..batch.paths.len()).collect()));
        batch
    }

    /// The hashing of `files` (by index, in order; none without a
    /// ledger), a file whose metadata cannot be read failing alone.
    fn hash(&self, mut files: Vec<usize>) -> Hashing {
        let Some((ledger, _)) = &self.ledger else {
            return Hashing::new(files, None);
        };
        while !files.is_empty() {
            let paths: Vec<(&Path, Option<&Digested>)> = files
                .iter()
                .map(|&f| (self.paths[f].as_path(), self.digests[f].as_ref()))
                .collect();
            match ledger.identify_ahead(&paths, self.group) {
                Ok(ahead) => return Hashing::new(files, Some(ahead)),
                Err(AheadError::File(i, e)) => self.unreadable(files.remove(i), e),
                // Not the files' fault: the batch ends before anything
                // starts.
                Err(AheadError::Thread(e)) => {
                    *lock(&self.hash_failed) = Some(CliError::Ledger(format!(
                        "cannot start the thread that computes the files' digests: {e}; \
                         free some of the system's threads or memory, or give --no-ledger"
                    )));
                    break;
                }
            }
        }
        Hashing::new(files, None)
    }

    /// The file `f` cannot be read for its digest (`e`): an item of its
    /// own, never started, failed as an upload that cannot read its file
    /// fails (proto's `LocalIo::ReadingSource`: the input is at fault).
    fn unreadable(&self, f: usize, e: io::Error) {
        let Ok(g) = self.add(f, None) else {
            return;
        };
        let path = &self.paths[f];
        let name = path.file_name().map_or(path.as_os_str(), |name| name);
        let error = Error::Io {
            error: e,
            during: LocalIo::ReadingSource,
            context: format!(
                "reading {} to compute its digest for the ledger (did it change after it was \
                 checked?)",
                name.display()
            ),
            mid: None,
        };
        lock(&self.items).unreadable.push((g, error));
    }

    /// Runs `f` over the item `g`.
    pub fn item<R>(&self, g: usize, f: impl FnOnce(&Item<C>) -> R) -> R {
        f(lock(&self.items).items.get(g))
    }

    /// The item `g` starts: its first file, and its checkpoint, handed
    /// over to the upload (an item starts once: the item keeps none, so
    /// a checkpoint lives as long as its upload, not the batch).
    pub fn start_item(&self, g: usize) -> (usize, Option<C>) {
        let mut items = lock(&self.items);
        let item = items.items.get_mut(g);
        (item.files[0], item.checkpoint.take())
    }

    /// A round's items this process claimed, each with where it starts
    /// (`S`: new without a ledger), claimed as the pipeline takes them, one
    /// ledger transaction per group. The first round makes the items as
    /// the digests come (a note tells each file that joined an earlier
    /// one's item: a line above the `bars`, or a JSON line); a later round
    /// claims the items another process held in the last. An item another
    /// process holds is kept for the next round (with `--own-only`, left
    /// to it). Once `interrupt` is triggered, the files not hashed yet are
    /// made items without their digests (the pipeline refuses them) and
    /// their digests are never computed.
    pub fn claims<'a, S: EntryState + Default + Send + 'a>(
        &'a self,
        interrupt: &'a Interrupt,
        (bars, json): (&'a Bars, bool),
    ) -> BoxStream<'a, (usize, S)> {
        let groups = match lock(&self.first).take() {
            Some(hashing) => self.first_round(hashing, interrupt, bars, json),
            None => {
                let pending = std::mem::take(&mut *lock(&self.held));
                futures_util::stream::iter(ledger::in_groups(&pending, self.group)).boxed()
            }
        };
        let ledger = self.ledger.as_ref().map(|(ledger, _)| ledger);
        groups
            .flat_map(move |group| {
                futures_util::stream::iter(ledger::claim_group::<S>(
                    ledger,
                    group,
                    |g| self.item(g, |item| item.key.clone()),
                    self.refresh,
                    &self.claim_failed,
                ))
            })
            .filter_map(move |(g, claim)| {
                std::future::ready(match claim {
                    Some(Claim::Mine(state)) => Some((g, state)),
                    Some(Claim::Held) => {
                        match self.own_only {
                            true => lock(&self.left).push(g),
                            false => lock(&self.held).push(g),
                        }
                        None
                    }
                    None => Some((g, S::default())),
                })
            })
            .boxed()
    }

    /// After a round: whether another is due, for the items another
    /// process held (after a pause when this round moved nothing:
    /// `progressed`), unless `interrupt` was triggered (then each is
    /// `refused`). A failure (a file that could not be read, a ledger
    /// that could not claim) ends the batch.
    pub async fn next_round(
        &self,
        interrupt: &Interrupt,
        bars: &Bars,
        progressed: bool,
        mut refused: impl FnMut(usize),
    ) -> Result<bool, CliError> {
        self.failure()?;
        let held = lock(&self.held).len();
        if held == 0 {
            return Ok(false);
        }
        if interrupt.is_triggered() {
            let held = std::mem::take(&mut *lock(&self.held));
            held.into_iter().for_each(&mut refused);
            return Ok(false);
        }
        self.wait.between_rounds(bars, held, progressed).await;
        Ok(true)
    }

    /// At the batch's end: writes what the ledger queued, ends this
    /// process's claims, and tells of the files `--own-only` left to other
    /// processes.
    pub fn finish(&self, bars: &Bars) -> Result<(), CliError> {
        if let Some((ledger, _)) = &self.ledger {
            ledger
                .release_all()
                .map_err(|e| ledger::failed(ledger, &e))?;
        }
        HeldWait::left_to_others(bars, lock(&self.left).len());
        Ok(())
    }

    /// The first round's groups of items, made as the digests come.
    fn first_round<'a>(
        &'a self,
        hashing: Hashing,
        interrupt: &'a Interrupt,
        bars: &'a Bars,
        json: bool,
    ) -> BoxStream<'a, Vec<usize>> {
        futures_util::stream::unfold(hashing, move |mut hashing| async move {
            let Hashing { files, done, ahead } = &mut hashing;
            if *done == files.len() || lock(&self.hash_failed).is_some() {
                return None;
            }
            let hashed = match ahead.as_mut().filter(|_| !interrupt.is_triggered()) {
                Some(ahead) => match ahead.next_group().await {
                    Some(hashed) => Some(hashed),
                    None => {
                        *lock(&self.hash_failed) = Some(CliError::Ledger(
                            "the thread computing the files' digests ended early".into(),
                        ));
                        return None;
                    }
                },
                None => None,
            };
            let mut group = Vec::new();
            let Some(hashed) = hashed else {
                // Without a ledger, a group; interrupted, every file left.
                let end = match ahead.take() {
                    Some(_) => files.len(),
                    None => (*done + self.group).min(files.len()),
                };
                group.extend((files[*done..end].iter()).filter_map(|&f| self.add(f, None).ok()));
                *done = end;
                return Some((group, hashing));
            };
            for (i, identity) in hashed {
                let f = files[i];
                *done = i + 1;
                match identity {
                    Ok(identity) => match self.add(f, Some(identity)) {
                        Ok(g) => group.push(g),
                        Err(note) if json => note.tell(true),
                        Err(note) => bars.note(&format!("authenta: {}", note.text)),
                    },
                    // It fails alone; the thread stopped: the files after
                    // it are hashed anew.
                    Err(e) => {
                        self.unreadable(f, e);
                        let rest = files.split_off(*done);
                        hashing = self.hash(rest);
                        break;
                    }
                }
            }
            Some((group, hashing))
        })
        .boxed()
    }

    /// Adds the file `f` (with its identity, when the ledger keeps it):
    /// its new item, or the note that it joined an earlier file's.
    fn add(&self, f: usize, identity: Option<Identity>) -> Result<usize, Note> {
        let entry = match (&self.ledger, identity) {
            (Some((ledger, entries)), Some(identity)) => {
                Some(((entries.key)(f, &identity), identity, ledger, entries))
            }
            _ => None,
        };
        let mut items = lock(&self.items);
        let items = &mut *items;
        let key = entry.as_ref().map(|(key, ..)| key.clone());
        let added = items.items.add(key, || match entry {
            Some((key, identity, ledger, entries)) => Item {
                files: Vec::new(),
                checkpoint: Some((entries.checkpoint)(ledger, &key, &identity)),
                key: Some(key),
            },
            None => Item {
                files: Vec::new(),
                key: None,
                checkpoint: None,
            },
        });
        let g = added.unwrap_or_else(|g| g);
        let item = items.items.get_mut(g);
        item.files.push(f);
        items.item_of[f] = Some(g);
        if added.is_ok() {
            items.settled.push(false);
            return Ok(g);
        }
        if items.settled[g] {
            items.late.push((g, f));
        }
        let (path, first) = (&self.paths[f], &self.paths[item.files[0]]);
        Err(Note {
            path: path.clone(),
            kind: "sameBytes",
            text: format!(
                "{} has the same bytes as {}: processed once",
                path.display(),
                first.display()
            ),
        })
    }

    /// The failure that ends the batch, if any.
    fn failure(&self) -> Result<(), CliError> {
        if let Some(e) = lock(&self.hash_failed).take() {
            return Err(e);
        }
        match (lock(&self.claim_failed).take(), &self.ledger) {
            (Some(e), Some((ledger, _))) => Err(ledger::failed(ledger, &e)),
            _ => Ok(()),
        }
    }

    /// Tells an item's outcome (`ended`: the item and its outcome) to each
    /// of its files with `tell` (file, outcome), and keeps it in `told`;
    /// first tells each file that joined an item after its outcome was
    /// told, and each file the ledger could not read (its outcome made by
    /// `failed`) (`ended: None`: only those).
    pub fn settle<O>(
        &self,
        told: &mut Vec<Option<O>>,
        ended: Option<(usize, O)>,
        failed: impl Fn(Error) -> O,
        mut tell: impl FnMut(usize, &O),
    ) {
        let (late, unreadable) = {
            let mut items = lock(&self.items);
            let late = std::mem::take(&mut items.late);
            (late, std::mem::take(&mut items.unreadable))
        };
        for (g, f) in late {
            if let Some(Some(outcome)) = told.get(g) {
                tell(f, outcome);
            }
        }
        let failed = unreadable.into_iter().map(|(g, e)| (g, failed(e)));
        for (g, outcome) in failed.chain(ended) {
            let files = {
                let mut items = lock(&self.items);
                items.settled[g] = true;
                items.items.get(g).files.clone()
            };
            for f in files {
                tell(f, &outcome);
            }
            if told.len() <= g {
                told.resize_with(g + 1, || None);
            }
            told[g] = Some(outcome);
        }
    }

    /// Each file (by index) with its item's outcome in `told`, in the
    /// files' order (a file without one, never started, is left out).
    pub fn outcomes<'o, O>(&self, told: &'o [Option<O>]) -> Vec<(usize, &'o O)> {
        let items = lock(&self.items);
        (items.item_of.iter().enumerate())
            .filter_map(|(f, g)| Some((f, told.get((*g)?)?.as_ref()?)))
            .collect()
    }
}

/// The first round's files, made items as their digests come.
struct Hashing {
    /// The files (by index, in order).
    files: Vec<usize>,
    /// How many of them were made items.
    done: usize,
    /// With a ledger, their digests, computed ahead (until an interrupt).
    ahead: Option<IdentifyAhead>,
}

impl Hashing {
    fn new(files: Vec<usize>, ahead: Option<IdentifyAhead>) -> Hashing {
        Hashing {
            files,
            done: 0,
            ahead,
        }
    }
}

/// How many uploads' worth of items a claim group holds (times `-j`):
/// enough to keep the uploads busy, and each group is one transaction of
/// a SQLite ledger's, so fewer, larger groups write fewer of its pages
/// (BENCHMARKS.md, "claim groups"). What a stopped batch still holds is
/// released.
pub const CLAIM_GROUP_UPLOADS: usize = 4;

/// How a batch's rounds claim its items.
pub struct Rounds {
    /// How many items are claimed together.
    pub group: usize,
    /// Whether final entries are read again (`--refresh`).
    pub refresh: bool,
    /// Whether items another process holds are left to it (`--own-only`).
    pub own_only: bool,
}

/// Between a batch's rounds of claims (`process` and `process --task`):
/// the first time files are held by another process sharing the ledger,
/// says so; after a round that moved nothing, waits a moment before
/// claiming again.
#[derive(Default)]
struct HeldWait {
    announced: AtomicBool,
}

impl HeldWait {
    /// How often a batch asks again about the files another process holds.
    const POLL: Duration = Duration::from_millis(250);

    /// After a round that left `held` files to other processes.
    async fn between_rounds(&self, bars: &Bars, held: usize, progressed: bool) {
        if !self.announced.swap(true, Ordering::Relaxed) {
            bars.note(&format!(
                "authenta: {held} file(s) are being processed by another authenta process \
                 sharing the ledger: waiting for their outcome"
            ));
        }
        if !progressed {
            tokio::time::sleep(Self::POLL).await;
        }
    }

    /// Tells of the `left` files `--own-only` left to other processes.
    fn left_to_others(bars: &Bars, left: usize) {
        if left > 0 {
            bars.note(&format!(
                "authenta: {left} file(s) are being processed by another authenta process \
                 sharing the ledger: left to it (--own-only); `authenta ledger` shows their \
                 outcome"
            ));
        }
    }
}

/// The bars of a batch's items under way: by item from its start, and by
/// its record's or job's id (`Id`) once it waits, for the shared wait's
/// reads.
pub struct Live<Id> {
    started: Mutex<HashMap<usize, (Bar, Instant)>>,
    waiting: Mutex<HashMap<Id, Bar>>,
}

impl<Id: Eq + Hash> Live<Id> {
    /// No item under way yet.
    pub fn new() -> Arc<Live<Id>> {
        Arc::new(Live {
            started: Mutex::default(),
            waiting: Mutex::default(),
        })
    }

    /// The item `g` starts, shown on `bar`; its clock starts.
    pub fn start(&self, g: usize, bar: Bar) {
        lock(&self.started).insert(g, (bar, Instant::now()));
    }

    /// The item `g` waits as `id`: `show` on its bar.
    pub fn waits(&self, g: usize, id: Id, show: impl FnOnce(&Bar)) {
        if let Some((bar, _)) = lock(&self.started).get(&g) {
            show(bar);
            lock(&self.waiting).insert(id, bar.clone());
        }
    }

    /// The shared wait read `id`: `show` on its bar.
    pub fn seen(&self, id: &Id, show: impl FnOnce(&Bar)) {
        if let Some(bar) = lock(&self.waiting).get(id) {
            show(bar);
        }
    }

    /// The item `g` ended (as `id`, when it has one): its bar is done; how
    /// long it took since it started.
    pub fn ended(&self, g: usize, id: Option<&Id>) -> Duration {
        if let Some(id) = id {
            lock(&self.waiting).remove(id);
        }
        lock(&self.started)
            .remove(&g)
            .map_or(Duration::ZERO, |(bar, at)| {
                bar.done();
                at.elapsed()
            })
    }

    /// At the batch's end: the bars of items an interruption left behind
    /// do not stay above the table, nor do `bars` or the `count`.
    pub fn close(&self, bars: &Bars, count: &Bar) {
        count.done();
        for (bar, _) in lock(&self.started).drain().map(|(_, v)| v) {
            bar.done();
        }
        bars.clear();
    }
}

/// After an interrupted batch, says how to go on (with or without a
/// `ledger`).
pub fn tell_interrupted(interrupt: &Interrupt, ledger: bool) {
    if interrupt.is_triggered() {
        let how = match ledger {
            true => "run the same command again to resume",
            false => "no ledger was kept, so running it again starts from nothing",
        };
        eprintln!("authenta: interrupted: {how}");
    }
}

/// The error of a file the ledger cannot read to compute its digest.
pub fn cannot_read(path: &Path, e: &io::Error) -> CliError {
    CliError::Ledger(format!("cannot read {}: {e}", path.display()))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use authenta_reqwest::proto::engine::resume::Resume;
    use authenta_reqwest::types::ModelType;

    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::ledger::Account;

    /// A batch over files `a`, `b`, and `a`'s bytes again as `c`, hashed
    /// one a group, with a ledger in `dir`; how many checkpoints it made.
    fn three_files(dir: &Path) -> (Batch<()>, Arc<AtomicUsize>) {
        batch_over(
            dir,
            &[("a", Some("one")), ("b", Some("two")), ("c", Some("one"))],
        )
    }

    /// A batch over the files named in `dir` with their bytes (`None`: a
    /// file missing), hashed one a group, with a ledger in `dir`; how many
    /// checkpoints it made.
    fn batch_over(dir: &Path, files: &[(&str, Option<&str>)]) -> (Batch<()>, Arc<AtomicUsize>) {
        let ledger = Ledger::open(&dir.join("ledger.sqlite")).unwrap();
        let paths: Vec<PathBuf> = files
            .iter()
            .map(|(name, bytes)| {
                let path = dir.join(name);
                if let Some(bytes) = bytes {
                    std::fs::write(&path, bytes).unwrap();
                }
                path
            })
            .collect();
        let account = Account {
            base_url: "http://127.0.0.1:1/api".into(),
            client_id: "id".into(),
        };
        let (keyed, made) = (ledger.clone(), Arc::new(AtomicUsize::new(0)));
        let counted = made.clone();
        let entries = Entries {
            key: Box::new(move |_, identity| keyed.key(&account, identity, &ModelType::Ac1)),
            checkpoint: Box::new(move |_, _, _| {
                counted.fetch_add(1, Ordering::Relaxed);
            }),
        };
        let rounds = Rounds {
            group: 1,
            refresh: false,
            own_only: false,
        };
        let files = paths.into_iter().map(|path| (path, None)).collect();
        (Batch::start(files, Some((&ledger, entries)), rounds), made)
    }

    /// Three items are never made: `c` joins `a`'s item after `a`'s
    /// outcome was told, and is told it then; no checkpoint is made for
    /// it.
    #[tokio::test]
    async fn the_same_bytes_hashed_after_their_item_ended_are_told_its_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let (batch, checkpoints) = three_files(dir.path());
        let (interrupt, bars) = (Interrupt::new(), Bars::new(false));
        let mut told: Vec<Option<&str>> = Vec::new();
        let mut heard = Vec::new();
        let failed = |_| panic!("every file is readable");
        let mut claims = batch.claims::<Resume>(&interrupt, (&bars, false));
        let (a, resume) = claims.next().await.unwrap();
        assert!(matches!(resume, Resume::New));
        // Its checkpoint is handed to its upload when it starts: the item
        // keeps none.
        assert_eq!(batch.start_item(a), (0, Some(())));
        assert_eq!(batch.start_item(a), (0, None));
        batch.settle(&mut told, Some((a, "a's")), failed, |f, o| {
            heard.push((f, *o))
        });
        let (b, _) = claims.next().await.unwrap();
        // `c` is made no item (nor a checkpoint): the claims end.
        assert!(claims.next().await.is_none());
        drop(claims);
        assert_eq!(checkpoints.load(Ordering::Relaxed), 2, "a's and b's");
        batch.settle(&mut told, None, failed, |f, o| heard.push((f, *o)));
        assert_eq!(heard, [(0, "a's"), (2, "a's")]);
        batch.settle(&mut told, Some((b, "b's")), failed, |f, o| {
            heard.push((f, *o))
        });
        assert_eq!(
            batch.outcomes(&told),
            [(0, &"a's"), (1, &"b's"), (2, &"a's")]
        );
        // Nothing held: no other round; the claims end.
        let again = batch.next_round(&interrupt, &bars, true, |_| ()).await;
        assert!(matches!(again, Ok(false)));
        assert!(batch.finish(&bars).is_ok());
    }

    /// Once interrupted, the files not taken yet are made items without
    /// waiting for their digests (the pipeline refuses them).
    #[tokio::test]
    async fn an_interrupt_stops_the_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let (batch, _) = three_files(dir.path());
        let (interrupt, bars) = (Interrupt::new(), Bars::new(false));
        let mut claims = batch.claims::<Resume>(&interrupt, (&bars, false));
        let (a, _) = claims.next().await.unwrap();
        interrupt.trigger();
        let rest: Vec<(usize, Resume)> = claims.collect().await;
        let rest: Vec<usize> = rest.into_iter().map(|(g, _)| g).collect();
        assert_eq!((a, rest), (0, vec![1, 2]), "c is an item of its own");
        assert!(batch.item(0, |item| item.key.is_some()));
        assert!(batch.item(2, |item| item.key.is_none()));
    }

    /// A file whose metadata cannot be read when the batch starts (`e`,
    /// gone), and one replaced by a folder after it started (`c`; hashed
    /// one a group, the hashing thread reads at most `a` and `b` before
    /// the claims are read): each fails alone, its path and problem told,
    /// never claimed; the batch goes on with the others and ends without
    /// a failure of its own.
    #[tokio::test]
    async fn a_file_the_ledger_cannot_read_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("a", Some("one")),
            ("b", Some("two")),
            ("c", Some("three")),
            ("d", Some("four")),
            ("e", None),
        ];
        let (batch, _) = batch_over(dir.path(), &files);
        std::fs::remove_file(dir.path().join("c")).unwrap();
        std::fs::create_dir(dir.path().join("c")).unwrap();
        let (interrupt, bars) = (Interrupt::new(), Bars::new(false));
        let claimed: Vec<(usize, Resume)> =
            (batch.claims(&interrupt, (&bars, false))).collect().await;
        let started: Vec<usize> = (claimed.iter())
            .map(|(g, _)| batch.item(*g, |item| item.files[0]))
            .collect();
        assert_eq!(started, [0, 1, 3], "a, b and d");
        let (mut told, mut heard) = (Vec::new(), Vec::new());
        let failed = |e: Error| format!("{:?}: {e}", e.class());
        batch.settle(&mut told, None, failed, |f, o| heard.push((f, o.clone())));
        heard.sort();
        let [(2, c), (4, e)] = &heard[..] else {
            panic!("c and e told, once each: {heard:?}");
        };
        assert!(
            c.starts_with("InvalidInput: reading c to compute its digest"),
            "{c}"
        );
        assert!(c.contains("Is a directory"), "{c}");
        assert!(
            e.starts_with("InvalidInput: reading e to compute its digest"),
            "{e}"
        );
        assert!(e.contains("No such file"), "{e}");
        assert_eq!(batch.outcomes(&told).len(), 2);
        let again = batch.next_round(&interrupt, &bars, true, |_| ()).await;
        assert!(matches!(again, Ok(false)));
        assert!(batch.finish(&bars).is_ok());
    }
}
