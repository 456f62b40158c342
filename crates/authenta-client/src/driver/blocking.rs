//! The blocking driver: one loop that runs any [`Flow`] over a blocking
//! [`HttpClient`] and [`Runtime`]. It decides nothing.

use authenta_proto::Error;
use authenta_proto::engine::{Action, AttemptSpan, Event, Flow, Written};

use super::{Counted, drive, missing, now};
use crate::io::DownloadSink;
use crate::io::UploadSource;
use crate::transport::{HttpClient, Runtime, SendDownloadError, SendUploadError, UploadBody};

/// A blocking flow's source, sink and progress callback.
pub type Io<'a> = super::Io<'a, dyn UploadSource + 'a, dyn DownloadSink + 'a>;

/// Runs `flow` to its end: does what it asks, feeds it what happened.
pub fn run<F: Flow + ?Sized>(
    client: &(impl HttpClient + ?Sized),
    runtime: &(impl Runtime + ?Sized),
    flow: &mut F,
    io: &mut Io<'_>,
) -> Result<F::Output, Error> {
    drive!(client, runtime, flow, io, now, UploadBody)
}
