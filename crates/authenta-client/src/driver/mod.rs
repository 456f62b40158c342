//! The driver loops: one loop per mode that runs any
//! [`Flow`](crate::proto::engine::Flow) of `authenta-proto` over an HTTP
//! client and a runtime ([`blocking::run`], [`nonblocking::run`]). A loop
//! only does what the flow's [`Action`](crate::proto::engine::Action) says (send, upload, download,
//! commit, abandon, sleep, ask the credentials' provider, wait for a
//! checkpoint's save) and feeds back
//! what happened as an [`Event`](crate::proto::engine::Event); it decides nothing.

use std::io;

pub mod blocking;
#[cfg(feature = "async")]
pub mod nonblocking;

/// The source and sink a flow's uploads and downloads use, and the upload's
/// progress callback: [`blocking::Io`] and [`nonblocking::Io`] name it for
/// each mode's traits.
pub struct Io<'a, S: ?Sized, K: ?Sized> {
    /// Where [`Action::Upload`](crate::proto::engine::Action::Upload) reads from.
    pub source: Option<&'a mut S>,
    /// Where [`Action::Download`](crate::proto::engine::Action::Download) writes to.
    pub sink: Option<&'a mut K>,
    /// Called with (bytes sent, total) as an upload goes out.
    pub progress: Option<authenta_proto::ProgressFn>,
}

impl<S: ?Sized, K: ?Sized> Default for Io<'_, S, K> {
    fn default() -> Self {
        Io {
            source: None,
            sink: None,
            progress: None,
        }
    }
}

/// The error a driver feeds when a flow asks for a source or sink it was
/// not given.
pub(crate) fn missing(what: &str) -> io::Error {
    io::Error::other(format!("the flow needs an {what} and none was given"))
}

/// Runs `future` to its end on this thread, parking it between polls (no
/// async runtime needed): what the blocking driver does with a checkpoint
/// saved later ([`Action::Await`](crate::proto::engine::Action::Await)), and
/// what a blocking caller of a [`Saved::Later`](crate::proto::options::Saved)
/// save can use.
///
/// ```
/// assert_eq!(authenta_client::block_on(async { 6 * 7 }), 42);
/// ```
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// A sink that counts the bytes it takes (since its last restart).
pub(crate) struct Counted<'a, S: ?Sized> {
    sink: &'a mut S,
    pub(crate) written: u64,
}

impl<'a, S: ?Sized> Counted<'a, S> {
    pub(crate) fn new(sink: &'a mut S) -> Self {
        Counted { sink, written: 0 }
    }
}

impl<S: crate::io::DownloadSink + ?Sized> crate::io::DownloadSink for Counted<'_, S> {
    fn restart(&mut self) -> io::Result<()> {
        self.written = 0;
        self.sink.restart()
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.sink.write_chunk(chunk)?;
        self.written += chunk.len() as u64;
        Ok(())
    }
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl<S: crate::io::AsyncDownloadSink + ?Sized> crate::io::AsyncDownloadSink for Counted<'_, S> {
    async fn restart(&mut self) -> io::Result<()> {
        self.written = 0;
        self.sink.restart().await
    }

    async fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.sink.write_chunk(chunk).await?;
        self.written += chunk.len() as u64;
        Ok(())
    }
}

/// The driver loop, written once: `$aw` says how to wait for an I/O call
/// (nothing in the blocking mode, `.await` in the async one) and `$body`
/// is the mode's upload body.
macro_rules! drive {
    ($client:ident, $runtime:ident, $flow:ident, $io:ident, $aw:ident, $body:ident) => {{
        let mut event = Event::Ready;
        loop {
            event = match $flow.step(event, $runtime.inputs()) {
                Action::Finish(result) => return result,
                Action::Send(request) => {
                    let span = AttemptSpan::of(&request);
                    match $aw!(in span; $client.send(request)) {
                        Ok(response) => {
                            AttemptSpan::answered(&span, response.status());
                            Event::Response(response)
                        }
                        Err(e) => {
                            let kind = $client.error_kind(&e);
                            AttemptSpan::failed(&span, kind);
                            Event::transport(kind, e)
                        }
                    }
                }
                Action::Upload { head, len } => match $io.source.as_deref_mut() {
                    None => Event::Source(missing("upload source")),
                    Some(source) => match $aw!(source.open()) {
                        Err(e) => Event::Source(e),
                        Ok(reader) => {
                            let body = $body::new(reader, len, $io.progress.clone());
                            let fault = body.fault();
                            let span = AttemptSpan::of(&head);
                            match $aw!(in span; $client.send_upload(head.map(|()| body))) {
                                Ok(response) => {
                                    AttemptSpan::answered(&span, response.status());
                                    Event::Response(response)
                                }
                                Err(SendUploadError::Source(e)) => Event::Source(e),
                                Err(SendUploadError::Stalled(after)) => Event::transport(
                                    authenta_proto::wire::TransportErrorKind::Timeout,
                                    authenta_proto::wire::UploadStalled { after },
                                ),
                                // The source's own failure, not the network's.
                                Err(SendUploadError::Transport(e)) => match fault.take() {
                                    Some(source) => Event::Source(source),
                                    None => {
                                        let kind = $client.error_kind(&e);
                                        AttemptSpan::failed(&span, kind);
                                        Event::transport(kind, e)
                                    }
                                },
                            }
                        }
                    },
                },
                Action::Download(request) => match $io.sink.as_deref_mut() {
                    None => Event::Sink(missing("download sink")),
                    Some(sink) => match $aw!(sink.restart()) {
                        Err(e) => Event::Sink(e),
                        Ok(()) => {
                            let mut counted = Counted::new(sink);
                            let span = AttemptSpan::of(&request);
                            match $aw!(in span; $client.send_download(request, &mut counted)) {
                                Ok(mut response) => {
                                    AttemptSpan::answered(&span, response.status());
                                    response.extensions_mut().insert(Written(counted.written));
                                    Event::Response(response)
                                }
                                Err(SendDownloadError::Sink(e)) => Event::Sink(e),
                                Err(SendDownloadError::Transport(e)) => {
                                    let kind = $client.error_kind(&e);
                                    AttemptSpan::failed(&span, kind);
                                    Event::transport(kind, e)
                                }
                            }
                        }
                    },
                },
                Action::Commit => match $io.sink.as_deref_mut() {
                    Some(sink) => match $aw!(sink.commit()) {
                        Ok(()) => Event::Ready,
                        Err(e) => Event::Sink(e),
                    },
                    None => Event::Ready,
                },
                Action::Abandon => {
                    if let Some(sink) = $io.sink.as_deref_mut() {
                        $aw!(sink.abandon());
                    }
                    Event::Ready
                }
                Action::Sleep(delay) => {
                    $aw!($runtime.sleep(delay));
                    Event::Ready
                }
                Action::Refresh(refresh) => {
                    Event::Credentials($aw!($runtime.unblock(Box::new(move || refresh.run()))))
                }
                Action::Await(save) => Event::Saved($aw!(@save save.into_future())),
            };
        }
    }};
}

macro_rules! now {
    (@save $e:expr) => {
        $crate::driver::block_on($e)
    };
    (in $span:expr; $e:expr) => {{
        let span = &$span;
        let _entered = span.enter();
        $e
    }};
    ($e:expr) => {
        $e
    };
}

#[cfg(feature = "async")]
macro_rules! later {
    (@save $e:expr) => {
        $e.await
    };
    (in $span:expr; $e:expr) => {
        tracing::Instrument::instrument($e, $span.clone()).await
    };
    ($e:expr) => {
        $e.await
    };
}

#[cfg(feature = "async")]
pub(crate) use later;
pub(crate) use {drive, now};
