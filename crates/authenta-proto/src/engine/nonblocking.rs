//! The async driver: one loop that runs any [`Flow`] over an
//! [`AsyncHttpClient`] and [`AsyncRuntime`]. It decides nothing.

use super::{Action, Counted, Event, Flow, Inputs, Written, missing};
use crate::error::Failure;
use crate::io::AsyncUploadSource;
use crate::options::ProgressFn;
use crate::transport::{
    AsyncDownloadSink, AsyncHttpClient, AsyncRuntime, AsyncUploadBody, SendDownloadError,
    SendUploadError,
};

/// The source and sink a flow's uploads and downloads use, and the upload's
/// progress callback.
#[derive(Default)]
pub struct Io<'a> {
    /// Where [`Action::Upload`] reads from.
    pub source: Option<&'a mut dyn AsyncUploadSource>,
    /// Where [`Action::Download`] writes to.
    pub sink: Option<&'a mut dyn AsyncDownloadSink>,
    /// Called with (bytes sent, total) as an upload goes out.
    pub progress: Option<ProgressFn>,
}

/// Runs `flow` to its end: does what it asks, feeds it what happened.
pub async fn run<F, C, R>(
    client: &C,
    runtime: &R,
    flow: &mut F,
    io: &mut Io<'_>,
) -> Result<F::Output, Failure>
where
    F: Flow + ?Sized,
    C: AsyncHttpClient + ?Sized,
    R: AsyncRuntime + ?Sized,
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
            Action::Send(request) => client
                .send(request)
                .await
                .map_or_else(transport, Event::Response),
            Action::Upload { head, len } => match io.source.as_deref_mut() {
                None => Event::Source(missing("upload source")),
                Some(source) => match source.open().await {
                    Err(e) => Event::Source(e),
                    Ok(stream) => {
                        let body = AsyncUploadBody::new(stream, len, io.progress.clone());
                        match client.send_upload(head.map(|()| body)).await {
                            Ok(response) => Event::Response(response),
                            Err(SendUploadError::Source(e)) => Event::Source(e),
                            Err(SendUploadError::Transport(e)) => transport(e),
                        }
                    }
                },
            },
            Action::Download(request) => match io.sink.as_deref_mut() {
                None => Event::Sink(missing("download sink")),
                Some(sink) => match sink.restart().await {
                    Err(e) => Event::Sink(e),
                    Ok(()) => {
                        let mut counted = Counted::new(sink);
                        match client.send_download(request, &mut counted).await {
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
            Action::Commit => match io.sink.as_deref_mut() {
                Some(sink) => sink
                    .commit()
                    .await
                    .map_or_else(Event::Sink, |()| Event::Ready),
                None => Event::Ready,
            },
            Action::Abandon => {
                if let Some(sink) = io.sink.as_deref_mut() {
                    sink.abandon().await;
                }
                Event::Ready
            }
            Action::Sleep(delay) => {
                runtime.sleep(delay).await;
                Event::Ready
            }
        };
    }
}
