//! Configuring and starting an emulator: [`EmulatorBuilder`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::EmulatorError;
use crate::clock::ClockMode;
use crate::core::{Core, ListItems};
use crate::listener::ConnLimits;
use crate::model::AuthMode;
use crate::presign::{MAX_UPLOAD_URL_EXPIRY, Presigner};
use crate::router::App;
use crate::running::{RunningEmulator, ServerHandle};
use crate::s3::EmuS3;
use crate::state::{Shared, StateOptions};

/// The processing time used when none is configured.
pub const DEFAULT_PROCESSING_TIME: Duration = Duration::from_millis(300);
/// How long upload URLs stay valid unless configured otherwise.
pub const DEFAULT_UPLOAD_URL_EXPIRY: Duration = Duration::from_secs(3600);
/// The address the emulator listens on unless configured otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
/// How long a client may take to send a request head, unless configured
/// otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may send nothing while it is read, unless
/// configured otherwise.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a kept-alive connection may sit idle, unless configured
/// otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many connections are served at once, unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

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
    clock: ClockMode,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    list_items: ListItems,
    auth: AuthMode,
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
            clock: ClockMode::System,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            list_items: ListItems::Full,
            auth: AuthMode::Both,
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
    /// not set. A `state.json` of an earlier version is imported.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// How long a record stays `UPLOADED` before it is `PROCESSED`
    /// (default 300 ms), on the emulator's clock.
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

    /// Which clock to run on (default the system clock). With
    /// [`ClockMode::Manual`] time only moves with
    /// [`RunningEmulator::advance`] (or `POST /_emulator/clock/advance`):
    /// processing, upload URL expiry and `createdAt` follow it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use authenta_emulator::{ClockMode, Emulator};
    ///
    /// let emulator = Emulator::builder().clock(ClockMode::Manual).start().await?;
    /// emulator.advance(Duration::from_secs(60))?;
    /// emulator.shutdown();
    /// # Ok(())
    /// # }
    /// ```
    pub fn clock(mut self, clock: ClockMode) -> Self {
        self.clock = clock;
        self
    }

    /// How long a client may take to send a whole request head (default
    /// 10 s); the connection is closed after that.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a request body (an API body or an upload) may send no byte
    /// while the emulator reads it (default 20 s): then the request is
    /// answered `400` (S3's `RequestTimeout` on the upload endpoint) and its
    /// connection closed, so stalled clients cannot hold connections.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How long a kept-alive connection may stay idle (no request in flight,
    /// no bytes moving) before it is closed (default 5 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many connections are served at once (default 512); further ones
    /// wait in the listen backlog, and a log line says the cap was reached.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// What the items of a `GET /media` page hold: whole records (the
    /// default) or the documented summary.
    pub fn list_items(mut self, items: ListItems) -> Self {
        self.list_items = items;
        self
    }

    /// Which credentials the API takes: Bearer API keys answered as
    /// generation 2 and `x-client-*` headers as generation 1 (the default,
    /// [`AuthMode::Both`]), or one generation only.
    pub fn auth(mut self, auth: AuthMode) -> Self {
        self.auth = auth;
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

    fn check(&self) -> Result<(), EmulatorError> {
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
        if self.header_read_timeout.is_zero()
            || self.body_read_timeout.is_zero()
            || self.idle_timeout.is_zero()
        {
            return Err(EmulatorError::Config(
                "the header-read, body-read and idle timeouts must be longer than zero".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(EmulatorError::Config(
                "the connection cap must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Opens the state, binds, and builds the server future.
    async fn prepare(
        self,
    ) -> Result<(RunningEmulator, impl Future<Output = ()> + Send + 'static), EmulatorError> {
        self.check()?;
        let shared = Arc::new(Shared::open(StateOptions {
            data_dir: self.data_dir.clone(),
            credits: self.credits,
            processing_time: self.processing_time,
            upload_expires_in: self.upload_url_expiry,
            clock: self.clock,
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
        let account = shared.account.clone();
        let presigner = Presigner::new(
            &root,
            &account.account_id,
            &account.s3_access_key,
            &account.s3_secret_key,
        )
        .map_err(EmulatorError::Config)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let core = Arc::new(Core {
            shared: shared.clone(),
            presigner,
            admin_token: self.admin_token.clone(),
            base_url: format!("{root}/api"),
            list_items: self.list_items,
            auth: self.auth,
        });
        let mut s3 = s3s::service::S3ServiceBuilder::new(EmuS3 { core: core.clone() });
        s3.set_auth(crate::s3::EmuAuth {
            access_key: account.s3_access_key.clone(),
            secret_key: account.s3_secret_key.clone(),
        });
        if self.clock == ClockMode::Manual {
            // The emulator checks expiry on its own clock; s3s (on the
            // system clock) must accept URLs signed in its future.
            let mut config = s3s::config::S3Config::default();
            config.presigned_url_max_skew_time_secs = u32::MAX;
            s3.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
                config,
            ))));
        }
        let app = Arc::new(App {
            api: crate::api::router(core.clone()),
            control: crate::control::router(core.clone()),
            s3: s3.build(),
            s3_logs: crate::s3s_logs::dispatch(),
            core: core.clone(),
        });
        crate::processing::spawn(shared.clone(), stop_rx.clone());
        tracing::info!(base_url = %core.base_url, data_dir = ?self.data_dir, clock = ?self.clock, "authenta-emulator listening");
        let limits = ConnLimits {
            header_read_timeout: self.header_read_timeout,
            body_read_timeout: self.body_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
        };
        let server = crate::listener::accept_loop(listener, app, limits, stop_rx);
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
