//! What a transport and the protocol agree on, with no I/O: how much of an
//! answer to read, what kind of failure a transport error is (the retry
//! decision reads it), a request's own timeout, and the errors a transport
//! reports for a body that broke off or an upload that stalled, and a
//! server's `Retry-After`. The transport traits themselves live in
//! `authenta-client`.

use std::io;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;

/// A request's own timeout, in place of the transport's request timeout:
/// set (as a request extension) on the API requests and artifact downloads
/// of a [`Timed`](crate::engine::Timed) flow (what a client made with
/// `Client::with_options` runs).
/// A transport honours it where it applies its request timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTimeout(pub Duration);

impl RequestTimeout {
    /// The timeout for `request`: its own, else `default`.
    pub fn of<B>(request: &http::Request<B>, default: Option<Duration>) -> Option<Duration> {
        request
            .extensions()
            .get::<RequestTimeout>()
            .map_or(default, |t| Some(t.0))
    }
}

/// The most bytes of an API answer a client should read; a larger answer
/// is not one the API sends.
pub const MAX_API_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// What kind of transport failure happened: it decides whether a request
/// that is not idempotent may be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (refused, DNS, TLS handshake): the
    /// request never reached the server.
    Connect,
    /// The request or answer timed out; the server may have acted on it.
    Timeout,
    /// The connection broke after the request started (reset, truncated
    /// answer).
    Interrupted,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// The kind of an I/O error, by its [`io::ErrorKind`]: the one table
    /// every transport uses for socket errors.
    ///
    /// ```
    /// use std::io;
    /// use authenta_proto::wire::TransportErrorKind;
    /// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    /// assert_eq!(TransportErrorKind::of_io(&refused), TransportErrorKind::Connect);
    /// let reset = io::Error::from(io::ErrorKind::ConnectionReset);
    /// assert_eq!(TransportErrorKind::of_io(&reset), TransportErrorKind::Interrupted);
    /// ```
    pub fn of_io(error: &io::Error) -> TransportErrorKind {
        use io::ErrorKind as K;
        match error.kind() {
            K::ConnectionRefused
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown => TransportErrorKind::Connect,
            K::TimedOut | K::WouldBlock => TransportErrorKind::Timeout,
            K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::NotConnected => TransportErrorKind::Interrupted,
            _ => TransportErrorKind::Other,
        }
    }

    /// The kind of any error: the first [`io::Error`] in its
    /// [`source`](std::error::Error::source) chain read by
    /// [`TransportErrorKind::of_io`], else [`TransportErrorKind::Other`].
    /// The default of the transport traits' `error_kind`
    /// (`HttpClient`, `AsyncHttpClient` in `authenta-client`).
    pub fn of_error(error: &(dyn std::error::Error + 'static)) -> TransportErrorKind {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<io::Error>() {
                return TransportErrorKind::of_io(io);
            }
            next = e.source();
        }
        TransportErrorKind::Other
    }
}

/// How many bytes of an answer a transport reads into memory at most:
/// one more than [`MAX_API_RESPONSE_BYTES`], so that proto can tell an
/// answer that is too large (and refuse it the same way whatever the
/// transport) from one that fits.
pub const RESPONSE_READ_LIMIT: u64 = MAX_API_RESPONSE_BYTES + 1;

/// An answer whose body ended before the length its `Content-Length`
/// declared, returned by an HTTP client as if it were whole: proto's
/// length rule takes it for a broken connection
/// ([`TransportErrorKind::Interrupted`]), retried where the request may be,
/// and a download that short is never committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the answer ended after {received} of the {declared} bytes its Content-Length declared: the connection broke"
)]
pub struct ShortBody {
    /// The `Content-Length`.
    pub declared: u64,
    /// The bytes that came.
    pub received: u64,
}

/// An upload attempt that made no progress for the stall timeout: no byte
/// of the body accepted by the connection, or no answer once it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the upload made no progress for {} s (no byte accepted, or no answer): the server or the link stalled",
    .after.as_secs_f64()
)]
pub struct UploadStalled {
    /// How long it went without progress.
    pub after: Duration,
}

/// A server's `Retry-After`: a delay or a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 7`.
    Delay(Duration),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
    At(Timestamp),
}

impl RetryAfter {
    /// Parses a `Retry-After` value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(RetryAfter::Delay(Duration::from_secs(secs)));
        }
        jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(value)
            .ok()
            .map(RetryAfter::At)
    }

    /// The delay it asks for, measured from `now`.
    pub fn delay(&self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => *d,
            RetryAfter::At(at) => {
                let Ok(now) = Timestamp::try_from(now) else {
                    return Duration::ZERO;
                };
                let secs = at.duration_since(now).as_secs_f64();
                Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
            }
        }
    }
}
