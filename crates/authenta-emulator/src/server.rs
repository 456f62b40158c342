//! Starting and stopping the emulator: the builder, the running handle, the
//! accept loop, and the dispatch of each request to the API, the control
//! surface or the S3 endpoint (with injected faults around them).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use authenta_types::{Media, MediaId, MediaKind, MediaStatus, MediaType, ModelType, Participant};
use axum::Router;
use axum::body::Body;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::Service as _;

use crate::EmulatorError;
use crate::api::{ApiCode, emulator_row, error_response};
use crate::model::{
    ApiKey, ApiRequest, ApiStats, ArmedFault, ControlError, Fault, FaultAction, FaultBody,
    FaultStage, KeyInfo, KeySpec, MediaRecord, UploadInfo, UploadRequest,
};
use crate::s3::{EmuS3, HEATMAP, Presigner, RESULT, s3_error_response};
use crate::state::{Shared, StateOptions, UploadOutcome, now_ms};

/// The processing time used when none is configured.
pub const DEFAULT_PROCESSING_TIME: Duration = Duration::from_millis(300);
/// How long upload URLs stay valid unless configured otherwise.
pub const DEFAULT_UPLOAD_URL_EXPIRY: Duration = Duration::from_secs(3600);
/// The longest validity S3 allows a pre-signed URL (7 days).
pub const MAX_UPLOAD_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
/// The address the emulator listens on unless configured otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// What every request handler shares.
pub(crate) struct Core {
    pub shared: Arc<Shared>,
    pub presigner: Presigner,
    pub stop: watch::Receiver<bool>,
    pub admin_token: Option<String>,
    pub base_url: String,
}

impl Core {
    pub fn presigner_account(&self) -> String {
        self.shared.lock().p.account_id.clone()
    }

    /// The record as the API shows it, with fresh pre-signed download URLs
    /// once it is processed.
    pub fn media_view(&self, r: &MediaRecord) -> Media {
        let status = MediaStatus::from_wire(&r.status);
        let mut media = Media {
            mid: MediaId::new(r.mid.clone()),
            name: r.name.clone(),
            media_type: MediaType::from_wire(&r.media_type),
            status: status.clone(),
            model_type: ModelType::from_wire(&r.model_type),
            // Bridge until the emulator moves off `time` (its rewrite).
            created_at: jiff::Timestamp::from_nanosecond(r.created_at.unix_timestamp_nanos())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            fake: None,
            heatmap_url: None,
            result_url: None,
            participants: None,
            extra: Default::default(),
        };
        if status == MediaStatus::Processed {
            media.fake = r.fake;
            media.result_url = Some(self.presigner.download_url(&r.mid, RESULT));
            match crate::processing::kind_of(r) {
                Some(MediaKind::Image) => {
                    media.heatmap_url = Some(self.presigner.download_url(&r.mid, HEATMAP));
                }
                Some(MediaKind::Video) => {
                    let participants = (0..crate::processing::participant_count(r))
                        .map(|i| Participant {
                            heatmap: Some(
                                self.presigner
                                    .download_url(&r.mid, &format!("participants/{i}/{HEATMAP}")),
                            ),
                            extra: Default::default(),
                        })
                        .collect();
                    media.participants = Some(participants);
                }
                _ => {}
            }
        }
        if let Some(error) = &r.error
            && let Ok(value) = serde_json::to_value(error)
        {
            media.extra.insert("error".into(), value);
        }
        media
    }

    /// The path an uploaded object is kept at, in a data directory.
    fn object_path(&self, mid: &str) -> Option<PathBuf> {
        self.shared
            .objects_dir()
            .map(|d| d.join(format!("{mid}.media")))
    }

    /// Deletes a record and its stored object; `false` when there is none.
    pub fn delete_record(&self, mid: &str) -> Result<bool, ControlError> {
        self.shared.mutate(|state| {
            let deleted = state.delete_record(mid);
            if deleted && let Some(path) = self.object_path(mid) {
                let _ = std::fs::remove_file(path);
            }
            deleted
        })
    }

    /// Completes an upload whose bytes are in `temp` (in a data directory):
    /// keeps the object, updates the record, saves, and starts processing.
    pub async fn complete_upload(
        &self,
        mid: &str,
        upload: UploadInfo,
        temp: Option<PathBuf>,
    ) -> crate::s3::CompleteResult {
        let discard = |temp: &Option<PathBuf>| {
            if let Some(t) = temp {
                let _ = std::fs::remove_file(t);
            }
        };
        let outcome = {
            let mut state = self.shared.lock();
            if state.record(mid).is_none() {
                drop(state);
                discard(&temp);
                return Err(s3s::s3_error!(
                    NoSuchKey,
                    "The specified key does not exist: the media record was deleted"
                ));
            }
            let outcome = state.complete_upload(mid, upload).map_err(|e| {
                s3s::S3Error::with_message(s3s::S3ErrorCode::InternalError, e.to_string())
            })?;
            if outcome == UploadOutcome::AlreadyUploaded {
                discard(&temp);
            } else if let (Some(t), Some(dest)) = (&temp, self.object_path(mid)) {
                std::fs::rename(t, dest).map_err(|e| {
                    s3s::S3Error::with_message(
                        s3s::S3ErrorCode::InternalError,
                        format!("cannot keep the upload: {e}"),
                    )
                })?;
            }
            self.shared
                .save(&state)
                .map_err(|e| s3s::S3Error::with_message(s3s::S3ErrorCode::InternalError, e))?;
            outcome
        };
        if let UploadOutcome::Processing(delay) = outcome {
            crate::processing::schedule(
                self.shared.clone(),
                self.stop.clone(),
                mid.to_owned(),
                delay,
            );
        }
        Ok(outcome)
    }
}

/// Configures and starts an emulator. Get one from
/// [`Emulator::builder`](crate::Emulator::builder).
#[derive(Clone, Debug)]
#[must_use]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
    processing_time: Duration,
    admin_token: Option<String>,
    credits: Option<u64>,
    upload_url_expiry: Duration,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            listen: DEFAULT_LISTEN,
            data_dir: None,
            processing_time: DEFAULT_PROCESSING_TIME,
            admin_token: None,
            credits: None,
            upload_url_expiry: DEFAULT_UPLOAD_URL_EXPIRY,
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on; port 0 picks a free port. Default
    /// `127.0.0.1:0`. A non-loopback address needs an
    /// [`admin_token`](Self::admin_token).
    pub fn listen(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.listen = addr.into();
        self
    }

    /// Keep keys, records, credits and uploaded files in `dir` (created if
    /// missing), and pick them up again on the next start. In memory when
    /// not set.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// How long a record stays `UPLOADED` before it is `PROCESSED`
    /// (default 300 ms).
    pub fn processing_time(mut self, time: Duration) -> Self {
        self.processing_time = time;
        self
    }

    /// Require `Authorization: Bearer <token>` on every control request.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Set the account's credit balance at start. A new account otherwise
    /// starts with 1000; a data directory's account otherwise keeps its own.
    pub fn credits(mut self, credits: u64) -> Self {
        self.credits = Some(credits);
        self
    }

    /// How long upload URLs stay valid (`expiresIn`; default one hour).
    pub fn upload_url_expiry(mut self, expiry: Duration) -> Self {
        self.upload_url_expiry = expiry;
        self
    }

    /// Starts the emulator on the current tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use authenta_emulator::{Emulator, KeySpec};
    ///
    /// let emulator = Emulator::builder().start().await?;
    /// let key = emulator.create_key(KeySpec::new("docs"))?;
    /// assert!(emulator.base_url().ends_with("/api"));
    /// assert_eq!(key.client_id.len(), 24);
    /// emulator.shutdown();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(self) -> Result<RunningEmulator, EmulatorError> {
        let (mut running, server) = self.prepare().await?;
        running.server = Some(ServerHandle::Task(tokio::spawn(server)));
        Ok(running)
    }

    /// Starts the emulator on its own tokio runtime, on a background thread:
    /// for code without a runtime (blocking clients and their tests).
    ///
    /// ```
    /// use authenta_emulator::Emulator;
    ///
    /// let emulator = Emulator::builder().spawn()?;
    /// println!("listening on {}", emulator.base_url());
    /// drop(emulator); // stops it
    /// # Ok::<(), authenta_emulator::EmulatorError>(())
    /// ```
    pub fn spawn(self) -> Result<RunningEmulator, EmulatorError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("authenta-emulator".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("authenta-emulator-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(EmulatorError::Runtime(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match self.prepare().await {
                        Ok((running, server)) => {
                            if tx.send(Ok(running)).is_ok() {
                                server.await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(|e| EmulatorError::Runtime(e.to_string()))?;
        let mut running = rx.recv().map_err(|_| {
            EmulatorError::Runtime("the emulator thread ended before starting".into())
        })??;
        running.server = Some(ServerHandle::Thread(thread));
        Ok(running)
    }

    /// Opens the state, binds, and builds the server future.
    async fn prepare(
        self,
    ) -> Result<(RunningEmulator, impl Future<Output = ()> + Send + 'static), EmulatorError> {
        if !self.listen.ip().is_loopback() && self.admin_token.is_none() {
            return Err(EmulatorError::NonLoopbackWithoutToken(self.listen));
        }
        if self
            .admin_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(EmulatorError::Config(
                "the admin token must not be empty".into(),
            ));
        }
        if self.upload_url_expiry.is_zero() || self.upload_url_expiry > MAX_UPLOAD_URL_EXPIRY {
            return Err(EmulatorError::Config(
                "the upload URL expiry must be from 1 second to 7 days".into(),
            ));
        }
        let shared = Arc::new(Shared::open(StateOptions {
            data_dir: self.data_dir.clone(),
            credits: self.credits,
            processing_time: self.processing_time,
            upload_expires_in: self.upload_url_expiry,
        })?);
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|e| EmulatorError::Bind(self.listen, e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| EmulatorError::Bind(self.listen, e.to_string()))?;
        let advertised = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let root = format!("http://{}", SocketAddr::new(advertised, addr.port()));
        let (account, access, secret) = {
            let s = shared.lock();
            (
                s.p.account_id.clone(),
                s.p.s3_access_key.clone(),
                s.p.s3_secret_key.clone(),
            )
        };
        let presigner =
            Presigner::new(&root, &account, &access, &secret).map_err(EmulatorError::Config)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let core = Arc::new(Core {
            shared: shared.clone(),
            presigner,
            stop: stop_rx.clone(),
            admin_token: self.admin_token.clone(),
            base_url: format!("{root}/api"),
        });
        let mut s3 = s3s::service::S3ServiceBuilder::new(EmuS3 { core: core.clone() });
        s3.set_auth(crate::s3::EmuAuth {
            access_key: access,
            secret_key: secret,
        });
        let app = Arc::new(App {
            api: crate::api::router(core.clone()),
            control: crate::control::router(core.clone()),
            s3: s3.build(),
            core: core.clone(),
        });
        let pending = shared.lock().pending_processing();
        for (mid, left) in pending {
            tracing::info!(%mid, "resuming processing after a restart");
            crate::processing::schedule(shared.clone(), stop_rx.clone(), mid, left);
        }
        tracing::info!(base_url = %core.base_url, data_dir = ?self.data_dir, "authenta-emulator listening");
        let server = accept_loop(listener, app, stop_rx);
        Ok((
            RunningEmulator {
                core,
                addr,
                stop_tx,
                server: None,
            },
            server,
        ))
    }
}

enum ServerHandle {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

/// A running emulator: its address, its control methods, and a handle that
/// stops it ([`shutdown`](Self::shutdown), or dropping it).
///
/// The control methods are plain (not `async`) and cheap: call them from
/// sync or async code alike.
pub struct RunningEmulator {
    core: Arc<Core>,
    addr: SocketAddr,
    stop_tx: watch::Sender<bool>,
    server: Option<ServerHandle>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.core.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, such as `http://127.0.0.1:41234/api`: pass it to a
    /// client in place of `https://platform.authenta.ai/api`.
    pub fn base_url(&self) -> &str {
        &self.core.base_url
    }

    /// The URL of the control surface, such as `http://127.0.0.1:41234/_emulator`.
    pub fn control_url(&self) -> String {
        format!(
            "{}{}",
            self.core.base_url.trim_end_matches("/api"),
            crate::control::CONTROL_PREFIX
        )
    }

    /// Creates an API key; the secret is only in the answer.
    pub fn create_key(&self, spec: KeySpec) -> Result<ApiKey, ControlError> {
        self.core.shared.try_mutate(|s| s.create_key(spec))
    }

    /// Gives a key a new secret: the old one stops working at once; the
    /// client id, quotas and usage stay.
    pub fn regenerate_secret(&self, client_id: &str) -> Result<ApiKey, ControlError> {
        self.core
            .shared
            .try_mutate(|s| s.regenerate_secret(client_id))
    }

    /// Revokes a key: its id and secret stop working at once.
    pub fn revoke_key(&self, client_id: &str) -> Result<(), ControlError> {
        self.core.shared.try_mutate(|s| s.revoke_key(client_id))
    }

    /// Every key, revoked ones included, with its usage (no secrets).
    pub fn keys(&self) -> Vec<KeyInfo> {
        self.core.shared.lock().keys()
    }

    /// Sets the account's credit balance.
    pub fn set_credits(&self, credits: u64) -> Result<(), ControlError> {
        self.core.shared.mutate(|s| s.p.credits = credits)
    }

    /// The account's credit balance.
    pub fn credits(&self) -> u64 {
        self.core.shared.lock().p.credits
    }

    /// Sets the processing time of uploads completed from now on.
    pub fn set_processing_time(&self, time: Duration) {
        self.core.shared.lock().processing_time = time;
    }

    /// The processing time.
    pub fn processing_time(&self) -> Duration {
        self.core.shared.lock().processing_time
    }

    /// Sets how long new upload URLs stay valid (1 s to 7 days).
    pub fn set_upload_url_expiry(&self, expiry: Duration) -> Result<(), ControlError> {
        if expiry.is_zero() || expiry > MAX_UPLOAD_URL_EXPIRY {
            return Err(ControlError::Invalid(
                "the upload URL expiry must be from 1 second to 7 days".into(),
            ));
        }
        self.core.shared.lock().upload_expires_in = expiry;
        Ok(())
    }

    /// Signs new upload URLs as if issued `backdate` ago: with a backdate
    /// longer than the expiry, `POST /media` hands out URLs that have
    /// already expired (S3 answers 403 `AccessDenied` "Request has expired").
    pub fn set_upload_url_backdate(&self, backdate: Duration) {
        self.core.shared.lock().upload_backdate = backdate;
    }

    /// Every record, newest first.
    pub fn records(&self) -> Vec<MediaRecord> {
        self.core
            .shared
            .lock()
            .records_newest_first()
            .into_iter()
            .cloned()
            .collect()
    }

    /// One record.
    pub fn record(&self, mid: &str) -> Option<MediaRecord> {
        self.core.shared.lock().record(mid).cloned()
    }

    /// The most recent requests received on the S3 endpoint (up to 1000),
    /// oldest first, with their headers.
    pub fn upload_requests(&self) -> Vec<UploadRequest> {
        self.core.shared.lock().uploads.iter().cloned().collect()
    }

    /// Forgets the upload requests seen so far.
    pub fn clear_upload_requests(&self) {
        self.core.shared.lock().uploads.clear();
    }

    /// The most recent API requests (up to 1000), oldest first.
    pub fn api_requests(&self) -> Vec<ApiRequest> {
        self.core.shared.lock().api_log.iter().cloned().collect()
    }

    /// Counters over every API request since the start (or the last clear).
    pub fn api_stats(&self) -> ApiStats {
        self.core.shared.lock().stats.clone()
    }

    /// Forgets the API request log and counters.
    pub fn clear_api_requests(&self) {
        let mut state = self.core.shared.lock();
        state.api_log.clear();
        state.stats = ApiStats::default();
    }

    /// Arms a fault for the next `fault.times` matching requests; returns
    /// its id.
    pub fn inject_fault(&self, fault: Fault) -> Result<u64, ControlError> {
        self.core.shared.lock().inject_fault(fault)
    }

    /// The faults still armed.
    pub fn faults(&self) -> Vec<ArmedFault> {
        self.core.shared.lock().faults.clone()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.core.shared.lock().faults.clear();
    }

    fn signal_stop(&self) {
        self.core.shared.stop();
        let _ = self.stop_tx.send(true);
    }

    /// Stops the emulator: nothing is saved after this returns, the listener
    /// closes, and open connections get a moment to finish. With
    /// [`spawn`](EmulatorBuilder::spawn) it also waits for the background
    /// thread; with [`start`](EmulatorBuilder::start) use
    /// [`stopped`](Self::stopped) to wait for the port to close.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Stops the emulator and waits until its listener is closed.
    pub async fn stopped(mut self) {
        self.signal_stop();
        match self.server.take() {
            Some(ServerHandle::Task(task)) => {
                let _ = task.await;
            }
            Some(ServerHandle::Thread(thread)) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            None => {}
        }
    }

    fn stop_and_join(&mut self) {
        self.signal_stop();
        if let Some(ServerHandle::Thread(thread)) = self.server.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The request router of one emulator.
struct App {
    core: Arc<Core>,
    api: Router,
    control: Router,
    s3: s3s::service::S3Service,
}

/// Returned by the connection's service to make hyper drop the connection.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by an injected fault")
    }
}

impl std::error::Error for ResetConnection {}

/// A TCP stream that sends a reset instead of a clean close when asked.
struct Conn {
    io: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
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
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
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
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Resolves once the stop signal is raised (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
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
        let reset = Arc::new(AtomicBool::new(false));
        let io = TokioIo::new(Conn {
            io: stream,
            reset: reset.clone(),
        });
        let app = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                let reset = reset.clone();
                async move { app.handle(req, reset).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
            }
        });
    }
    tracing::info!("authenta-emulator stopped");
}

/// The answer an injected `Status` fault sends.
fn fault_response(status: u16, body: FaultBody, retry_after: Option<u64>) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        FaultBody::Json => {
            let row = emulator_row(StatusCode::INTERNAL_SERVER_ERROR);
            error_response(row, format!("{}: injected fault ({status})", row.message))
        }
        FaultBody::Html => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let html = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                code = status.as_u16()
            );
            let mut resp = Response::new(Body::from(html));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html"),
            );
            resp
        }
        FaultBody::Empty => {
            let mut resp = Response::new(Body::empty());
            resp.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            resp
        }
    };
    *resp.status_mut() = status;
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// The answer's head with a `Content-Length` larger than the half of the
/// body that follows; the connection then breaks.
async fn truncate(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let sent = bytes.len() / 2;
    let declared = bytes.len().max(sent + 1);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(declared));
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    let head = bytes.slice(..sent);
    let frames = futures_util::stream::unfold(0u8, move |step| {
        let head = head.clone();
        async move {
            match step {
                0 if !head.is_empty() => Some((Ok(http_body::Frame::data(head)), 1)),
                0 | 1 => {
                    // Give the bytes a moment to leave before the connection breaks.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "body truncated by an injected fault",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::new(http_body_util::StreamBody::new(frames)))
}

fn header_str(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl App {
    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        reset: Arc<AtomicBool>,
    ) -> Result<Response<Body>, ResetConnection> {
        let path = req.uri().path().to_owned();
        if path == crate::control::CONTROL_PREFIX
            || path.starts_with(&format!("{}/", crate::control::CONTROL_PREFIX))
        {
            if let Err(resp) = crate::control::admitted(&self.core, req.headers()) {
                return Ok(resp);
            }
            let resp = self.control.clone().call(req.map(Body::new)).await;
            return Ok(resp.unwrap_or_else(|e: Infallible| match e {}));
        }
        let method = req.method().clone();
        let is_api = path == "/api" || path.starts_with("/api/");
        let log = is_api.then(|| {
            (
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| path.clone()),
                header_str(req.headers(), "x-client-id"),
            )
        });
        let fault = self.core.shared.lock().take_fault(method.as_str(), &path);
        if let Some(f) = &fault {
            tracing::info!(%method, %path, action = ?f.action, stage = ?f.stage, "injecting a fault");
        }
        let result = self.respond(req, fault.as_ref(), &reset).await;
        if let Some((path, client_id)) = log {
            let (status, code) = match &result {
                Ok(resp) => (
                    resp.status().as_u16(),
                    resp.extensions().get::<ApiCode>().map(|c| c.0.clone()),
                ),
                Err(ResetConnection) => (0, None),
            };
            tracing::info!(%method, %path, status, code = code.as_deref().unwrap_or(""), "api request");
            self.core.shared.lock().log_api(ApiRequest {
                at: now_ms(),
                method: method.to_string(),
                path,
                client_id,
                status,
                code,
                faulted: fault.is_some(),
            });
        }
        result
    }

    /// Applies the fault (if any) around the normal handling.
    async fn respond(
        &self,
        req: Request<Incoming>,
        fault: Option<&Fault>,
        reset: &AtomicBool,
    ) -> Result<Response<Body>, ResetConnection> {
        let stage = fault.map(|f| f.stage);
        let action = fault.map(|f| &f.action);
        if stage == Some(FaultStage::Before) {
            match action {
                Some(FaultAction::Status {
                    status,
                    body,
                    retry_after,
                }) => return Ok(fault_response(*status, *body, *retry_after)),
                Some(FaultAction::Reset) => {
                    reset.store(true, Ordering::SeqCst);
                    return Err(ResetConnection);
                }
                Some(FaultAction::Delay { millis }) => {
                    tokio::time::sleep(Duration::from_millis(*millis)).await;
                }
                _ => {}
            }
        }
        let resp = self.route(req).await;
        match (stage, action) {
            (_, Some(FaultAction::Truncate)) => Ok(truncate(resp).await),
            (
                Some(FaultStage::After),
                Some(FaultAction::Status {
                    status,
                    body,
                    retry_after,
                }),
            ) => Ok(fault_response(*status, *body, *retry_after)),
            (Some(FaultStage::After), Some(FaultAction::Reset)) => {
                reset.store(true, Ordering::SeqCst);
                Err(ResetConnection)
            }
            (Some(FaultStage::After), Some(FaultAction::Delay { millis })) => {
                tokio::time::sleep(Duration::from_millis(*millis)).await;
                Ok(resp)
            }
            _ => Ok(resp),
        }
    }

    /// The normal handling: the API, or the S3 endpoint.
    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path();
        if path == "/api" || path.starts_with("/api/") {
            let resp = self.api.clone().call(req.map(Body::new)).await;
            return resp.unwrap_or_else(|e: Infallible| match e {});
        }
        self.s3(req).await
    }

    async fn s3(&self, req: Request<Incoming>) -> Response<Body> {
        let entry = UploadRequest {
            at: now_ms(),
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        };
        tracing::info!(method = %entry.method, path = %entry.path, "s3 request");
        self.core.shared.lock().log_upload(entry);
        if let Some(resp) = crate::s3::front_checks(req.method(), req.headers()) {
            return resp;
        }
        match self.s3.call(req.map(s3s::Body::from)).await {
            Ok(resp) => crate::s3::with_standard_message(resp.map(Body::new)).await,
            Err(e) => {
                tracing::error!(error = ?e, "s3 service failed");
                s3_error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    &[],
                )
            }
        }
    }
}
