//! The batch pipeline of the async [`Client`]: files are uploaded a few at
//! a time, and every uploaded record joins one shared
//! [`BatchWait`](crate::engine::batch::BatchWait), so upload concurrency
//! does not limit how many records are waited for together, and a batch
//! spends about one query per file. [`Client::process_many`] and the
//! `authenta process` command run it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use authenta_types::{Media, MediaId};
use futures_core::Stream;
use futures_util::future::{Either, select};
use futures_util::stream::{Fuse, StreamExt as _};

use crate::client::{Async, Client};
use crate::engine::BatchStop;
use crate::engine::batch::{BatchWait, Finished, SharedBatch};
use crate::engine::flows::{Observer, Uploaded};
use crate::engine::nonblocking;
use crate::error::{Failure, LocalIo};
use crate::options::UploadOptions;
use crate::poll::PollPolicy;
use crate::transport::{AsyncHttpClient, AsyncRuntime};

/// What the batch pipeline reports, file by file (`K` is the caller's key
/// for a file: its path, its index).
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one event per file, moved once: a box would be an allocation for nothing"
)]
pub enum BatchEvent<K> {
    /// The file's record was created and its bytes uploaded; it now waits
    /// with the others.
    Uploaded(K, Box<Uploaded>),
    /// The file is over: its final record, or why it failed (or was not
    /// started: [`Error::Stopped`](crate::Error::Stopped)).
    Finished(K, Result<Media, Failure>),
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Uploads<'a, K> = Pin<Box<dyn Stream<Item = (K, Result<Uploaded, Failure>)> + Send + 'a>>;

/// The pipeline's state between two events.
struct Pipe<'a, K> {
    uploads: Fuse<Uploads<'a, K>>,
    batch: SharedBatch,
    keys: HashMap<MediaId, K>,
    running: Option<Boxed<'a, Result<Finished, Failure>>>,
    ready: VecDeque<BatchEvent<K>>,
    stop: Arc<Mutex<BatchStop>>,
}

impl<K: Clone> Pipe<'_, K> {
    fn on_upload(&mut self, key: K, result: Result<Uploaded, Failure>, now: std::time::Instant) {
        match result {
            Ok(uploaded) => {
                let created_at = uploaded.created.media.created_at;
                self.batch
                    .with(|b| b.add(uploaded.mid().clone(), Some(created_at), now));
                self.keys.insert(uploaded.mid().clone(), key.clone());
                self.ready
                    .push_back(BatchEvent::Uploaded(key, Box::new(uploaded)));
            }
            Err(failure) => {
                let result = Err(failure);
                BatchStop::record(&self.stop, &result);
                self.ready.push_back(BatchEvent::Finished(key, result));
            }
        }
    }

    fn on_finished(&mut self, result: Result<Finished, Failure>) {
        match result {
            Ok(finished) => {
                for (mid, result) in finished {
                    if let Some(key) = self.keys.remove(&mid) {
                        BatchStop::record(&self.stop, &result);
                        self.ready.push_back(BatchEvent::Finished(key, result));
                    }
                }
            }
            // Only a driver's mistake ends the waiter itself: every record
            // it held fails with it.
            Err(failure) => {
                let text = failure.to_string();
                for (mid, key) in self.keys.drain() {
                    let failure = Failure::Io {
                        error: std::io::Error::other(text.clone()),
                        during: LocalIo::ReadingSource,
                        context: "waiting for the batch".to_owned(),
                        mid: Some(mid),
                    };
                    self.ready
                        .push_back(BatchEvent::Finished(key, Err(failure)));
                }
                self.batch.with(BatchWait::clear);
            }
        }
    }
}

impl<T: AsyncHttpClient + 'static, R: AsyncRuntime + 'static> Client<Async<T, R>> {
    /// The batch pipeline: uploads each item's file (`options` per file:
    /// its model, its progress callback) at most `concurrency` at a time,
    /// and waits for every uploaded record in one shared waiter on
    /// `policy` (about one `GET /media` page per poll for the whole batch,
    /// instead of one `GET /media/{mid}` per record). Yields each file's
    /// upload and end as they happen; `observe` sees every status read.
    ///
    /// Items are taken from `items` as room frees up. Once a file fails in
    /// a way every file would ([`BatchStop`]), no further file is started:
    /// each is yielded with [`Error::Stopped`](crate::Error::Stopped).
    pub fn process_batch<'a, K, I>(
        &'a self,
        items: I,
        concurrency: usize,
        policy: PollPolicy,
        observe: Option<Observer>,
    ) -> impl Stream<Item = BatchEvent<K>> + Send + 'a
    where
        K: Clone + Send + 'a,
        I: IntoIterator<Item = (K, PathBuf, UploadOptions)>,
        I::IntoIter: Send + 'a,
    {
        let stop = Arc::new(Mutex::new(BatchStop::default()));
        let upload_stop = stop.clone();
        let uploads: Uploads<'a, K> = futures_util::stream::iter(items)
            .map(move |(key, path, options)| {
                let stop = upload_stop.clone();
                async move {
                    if let Some(refused) = BatchStop::check(&stop) {
                        return (key, Err(refused));
                    }
                    (key, self.upload(&path, &options).await)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .boxed();
        let batch =
            BatchWait::new(self.config().clone(), *self.retry_policy(), policy).observed(observe);
        let pipe = Pipe {
            uploads: uploads.fuse(),
            batch: SharedBatch::new(batch),
            keys: HashMap::new(),
            running: None,
            ready: VecDeque::new(),
            stop,
        };
        futures_util::stream::unfold(pipe, move |mut pipe| async move {
            loop {
                if let Some(event) = pipe.ready.pop_front() {
                    return Some((event, pipe));
                }
                if pipe.running.is_none() && !pipe.keys.is_empty() {
                    let mut flow = pipe.batch.clone();
                    pipe.running = Some(Box::pin(async move {
                        self.run(&mut flow, &mut nonblocking::Io::default()).await
                    }));
                }
                let done = pipe.uploads.is_done();
                match (done, pipe.running.take()) {
                    (true, None) => return None,
                    (true, Some(running)) => {
                        let result = running.await;
                        pipe.on_finished(result);
                    }
                    (false, None) => {
                        if let Some((key, result)) = pipe.uploads.next().await {
                            pipe.on_upload(key, result, self.driver().runtime.now());
                        }
                    }
                    (false, Some(running)) => match select(pipe.uploads.next(), running).await {
                        Either::Left((upload, running)) => {
                            pipe.running = Some(running);
                            if let Some((key, result)) = upload {
                                pipe.on_upload(key, result, self.driver().runtime.now());
                            }
                        }
                        Either::Right((result, _)) => pipe.on_finished(result),
                    },
                }
            }
        })
    }
}
