//! The blocking driver: one loop that runs any [`Flow`] over a blocking
//! [`HttpClient`] and [`Runtime`]. It decides nothing.

use super::{Action, Counted, Event, Flow, Inputs, Written, missing};
use crate::error::Failure;
use crate::io::UploadSource;
use crate::options::ProgressFn;
use crate::transport::{
    DownloadSink, HttpClient, Runtime, SendDownloadError, SendUploadError, UploadBody,
};

/// The source and sink a flow's uploads and downloads use, and the upload's
/// progress callback.
#[derive(Default)]
pub struct Io<'a> {
    /// Where [`Action::Upload`] reads from.
    pub source: Option<&'a mut dyn UploadSource>,
    /// Where [`Action::Download`] writes to.
    pub sink: Option<&'a mut dyn DownloadSink>,
    /// Called with (bytes sent, total) as an upload goes out.
    pub progress: Option<ProgressFn>,
}

/// Runs `flow` to its end: does what it asks, feeds it what happened.
pub fn run<F, C, R>(
    client: &C,
    runtime: &R,
    flow: &mut F,
    io: &mut Io<'_>,
) -> Result<F::Output, Failure>
where
    F: Flow + ?Sized,
    C: HttpClient + ?Sized,
    R: Runtime + ?Sized,
{
    let transport = |error: C::Error| Event::Transport {
        kind: client.error_kind(&error),
        error: Box::new(error),
    };
    let mut event = Event::Ready;
    loop {
        let inputs = Inputs {
            now: runtime.now(),
            wall_clock: runtime.wall_clock(),
            random: runtime.random(),
        };
        event = match flow.step(event, inputs) {
            Action::Finish(result) => return result,
            Action::Send(request) => client.send(request).map_or_else(transport, Event::Response),
            Action::Upload { head, len } => match io.source.as_deref_mut().map(|s| s.open()) {
                None => Event::Source(missing("upload source")),
                Some(Err(e)) => Event::Source(e),
                Some(Ok(reader)) => {
                    let body = UploadBody::new(reader, len, io.progress.clone());
                    match client.send_upload(head.map(|()| body)) {
                        Ok(response) => Event::Response(response),
                        Err(SendUploadError::Source(e)) => Event::Source(e),
                        Err(SendUploadError::Transport(e)) => transport(e),
                    }
                }
            },
            Action::Download(request) => match io.sink.as_deref_mut() {
                None => Event::Sink(missing("download sink")),
                Some(sink) => match sink.restart() {
                    Err(e) => Event::Sink(e),
                    Ok(()) => {
                        let mut counted = Counted::new(sink);
                        match client.send_download(request, &mut counted) {
                            Ok(mut response) => {
                                response.extensions_mut().insert(Written(counted.written));
                                Event::Response(response)
                            }
                            Err(SendDownloadError::Sink(e)) => Event::Sink(e),
                            Err(SendDownloadError::Transport(e)) => transport(e),
                        }
                    }
                },
            },
            Action::Commit => match io.sink.as_deref_mut().map(|s| s.commit()) {
                Some(Err(e)) => Event::Sink(e),
                _ => Event::Ready,
            },
            Action::Abandon => {
                if let Some(sink) = io.sink.as_deref_mut() {
                    sink.abandon();
                }
                Event::Ready
            }
            Action::Sleep(delay) => {
                runtime.sleep(delay);
                Event::Ready
            }
        };
    }
}
