//! The async driver: one loop that runs any [`Flow`] over an
//! [`AsyncHttpClient`] and [`AsyncRuntime`]. It decides nothing.

use authenta_proto::Error;
use authenta_proto::engine::{Action, AttemptSpan, Event, Flow, Written};

use super::{Counted, drive, later, missing};
use crate::io::AsyncDownloadSink;
use crate::io::AsyncUploadSource;
use crate::transport::{
    AsyncHttpClient, AsyncRuntime, AsyncUploadBody, SendDownloadError, SendUploadError,
};

/// An async flow's source, sink and progress callback.
pub type Io<'a> = super::Io<'a, dyn AsyncUploadSource + 'a, dyn AsyncDownloadSink + 'a>;

/// Runs `flow` to its end: does what it asks, feeds it what happened.
pub async fn run<F, C, R>(
    client: &C,
    runtime: &R,
    flow: &mut F,
    io: &mut Io<'_>,
) -> Result<F::Output, Error>
where
    F: Flow + ?Sized,
    C: AsyncHttpClient + ?Sized,
    R: AsyncRuntime,
{
    drive!(client, runtime, flow, io, later, AsyncUploadBody)
}
