//! What of the `s3s` crate's own logging gets through.
//!
//! s3s logs every error answer at `ERROR` (a client's bad signature or
//! expired URL included) and whole requests, signatures among them, at
//! `DEBUG`. The S3 endpoint therefore runs s3s under [`dispatch`], a
//! subscriber that drops those events and passes everything else on to the
//! subscriber that was current when the emulator started; the emulator
//! logs each error answer itself, a client's mistake at `INFO` and its own
//! failure at `ERROR` (see `s3::with_standard_message`).

use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber, span};

/// Whether an event or span is one of s3s's that is dropped: `ERROR`,
/// `DEBUG` and `TRACE`.
fn dropped(meta: &Metadata<'_>) -> bool {
    meta.target().split("::").next() == Some("s3s")
        && (*meta.level() == Level::ERROR || *meta.level() > Level::INFO)
}

/// The current subscriber, less s3s's dropped events.
pub(crate) fn dispatch() -> Dispatch {
    let inner = tracing::dispatcher::get_default(Dispatch::clone);
    Dispatch::new(WithoutS3sNoise { inner })
}

struct WithoutS3sNoise {
    inner: Dispatch,
}

impl Subscriber for WithoutS3sNoise {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if dropped(meta) {
            Interest::never()
        } else {
            self.inner.register_callsite(meta)
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        !dropped(meta) && self.inner.enabled(meta)
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        self.inner.new_span(span)
    }

    fn record(&self, span: &span::Id, values: &span::Record<'_>) {
        self.inner.record(span, values);
    }

    fn record_follows_from(&self, span: &span::Id, follows: &span::Id) {
        self.inner.record_follows_from(span, follows);
    }

    fn event(&self, event: &Event<'_>) {
        if !dropped(event.metadata()) {
            self.inner.event(event);
        }
    }

    fn enter(&self, span: &span::Id) {
        self.inner.enter(span);
    }

    fn exit(&self, span: &span::Id) {
        self.inner.exit(span);
    }

    fn clone_span(&self, id: &span::Id) -> span::Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: span::Id) -> bool {
        self.inner.try_close(id)
    }
}
