//! The body-read timeout: a request body that sends no bytes for a set time
//! while the emulator waits for them is cut off with [`BodyStalled`], so a
//! client that sends half a body and then nothing cannot hold a connection
//! (nor, with enough of them, every slot of the connection cap).
//!
//! Only the emulator's own waiting counts: while a handler is not reading
//! (an injected `stallBody` fault, a slow disk) the clock does not run.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The error a stalled body ends with.
#[derive(Debug)]
pub(crate) struct BodyStalled(pub Duration);

impl fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no byte of the request body arrived for {:?}; the connection is closed",
            self.0
        )
    }
}

impl StdError for BodyStalled {}

/// Whether `e` (or an error it wraps) is a [`BodyStalled`].
pub(crate) fn is_stall(e: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.is::<BodyStalled>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// A request body with the timeout applied.
pub(crate) struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    /// Runs while the emulator waits for bytes (`armed`); made at the
    /// first wait (a request without a body never needs one).
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, timeout: Duration) -> Self {
        TimedBody {
            inner,
            timeout,
            sleep: None,
            armed: false,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    this.armed = true;
                    sleep.as_mut().reset(deadline);
                }
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.armed = false;
                        tracing::info!(timeout = ?this.timeout, "a request body stalled; closing its connection");
                        Poll::Ready(Some(Err(Box::new(BodyStalled(this.timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
