//! Accepting and holding connections: the accept loop, the cap on
//! concurrent connections, the header-read, body-read and idle timeouts, and the TCP
//! stream wrapper that can close with a reset (for injected faults).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use axum::body::Body;

use crate::body_timeout::TimedBody;
use crate::faults::ConnControl;
use crate::router::App;
use crate::state::stopped;

/// How connections are limited.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnLimits {
    /// A request head must arrive whole within this time (this also bounds
    /// how long hyper waits for the next head on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in flight and no bytes moving
    /// for this long is closed.
    pub idle_timeout: Duration,
    /// A request body that sends nothing for this long while it is read is
    /// cut off, and its connection closed.
    pub body_read_timeout: Duration,
    /// At most this many connections are served at once; further ones wait
    /// in the listen backlog until one closes.
    pub max_connections: usize,
}

/// Milliseconds since `epoch`, for the idle clock.
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A TCP stream that records when bytes last moved, and sends a reset
/// instead of a clean close when asked.
struct Conn {
    io: TcpStream,
    control: Arc<ConnControl>,
    activity: Arc<Activity>,
}

/// When bytes last moved on a connection, and how many requests are in
/// flight on it.
pub(crate) struct Activity {
    epoch: Instant,
    last: AtomicU64,
    pub in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        self.last.store(millis_since(self.epoch), Ordering::Relaxed);
    }

    /// How long since bytes last moved, `None` while a request is in flight.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let now = millis_since(self.epoch);
        Some(Duration::from_millis(
            now.saturating_sub(self.last.load(Ordering::Relaxed)),
        ))
    }
}

/// Counts a request in flight until dropped.
pub(crate) struct InFlight(Arc<Activity>);

impl InFlight {
    pub fn new(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.control.reset.load(Ordering::SeqCst) {
            let _ = self.io.set_zero_linger();
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.activity.touch();
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.activity.touch();
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Resolves when the connection has been idle for `timeout`.
async fn idle(activity: &Activity, timeout: Duration) {
    let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        if activity.idle_for().is_some_and(|d| d >= timeout) {
            return;
        }
    }
}

/// Accepts connections until the stop signal, each served by hyper on its
/// own task with the limits applied.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached: {} connections are open; new connections wait \
                     until one closes (raise it with --max-connections)",
                    limits.max_connections
                );
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = stopped(&mut stop) => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => break,
        };
        let (stream, _peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let control = Arc::new(ConnControl::default());
        let activity = Arc::new(Activity::new());
        activity.touch();
        let io = TokioIo::new(Conn {
            io: stream,
            control: control.clone(),
            activity: activity.clone(),
        });
        let app = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = {
                let control = control.clone();
                let activity = activity.clone();
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let req = req.map(|b| Body::new(TimedBody::new(b, limits.body_read_timeout)));
                    let app = app.clone();
                    let control = control.clone();
                    let in_flight = InFlight::new(&activity);
                    async move {
                        let resp = app.handle(req, control).await;
                        drop(in_flight);
                        resp
                    }
                })
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true)
                .serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = idle(&activity, limits.idle_timeout) => {
                    tracing::debug!("closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
                () = async {
                    control.close_idle.notified().await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                } => {
                    tracing::info!("closing a kept-alive connection (injected fault)");
                }
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
            }
        });
    }
    tracing::info!("authenta-emulator stopped");
}
