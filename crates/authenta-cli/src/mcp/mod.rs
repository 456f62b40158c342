//! `authenta mcp`: the checks as tools of a Model Context Protocol server
//! on stdin and stdout (rmcp, the protocol's official Rust SDK), for AI
//! assistants and agents. It uses what the other commands use: the
//! session's client (an account from the variables or a profile, or the
//! embedded emulator), proto's batch pipeline and the ledger, so the same
//! bytes and model never spend twice.
//!
//! Four tools: `check_media` (check, upload, wait up to a bound),
//! `get_result`, `list_media`, `delete_media`. Their failures are tool
//! results with `isError` (the SDK's message and hint), never a protocol
//! error or a crash; files are read only under the folders named with
//! `--allow` ([`files`]); at most `--max-concurrency` uploads run at once,
//! whatever the number of calls.

mod check;
mod files;
mod tools;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use authenta_reqwest::types::ModelType;
use authenta_reqwest::{Client, Error};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;

use crate::cli::{Global, McpArgs};
use crate::exit;
use crate::ledger::{self, Ledger};
use crate::output;
use crate::session::{CliError, Session, describe};

pub use files::Allowed;

/// The largest heatmap `get_result` returns as an image.
pub const MAX_HEATMAP_BYTES: usize = 2 * 1024 * 1024;

/// The most files one `check_media` call takes.
pub const MAX_FILES: usize = 32;

/// Runs the server until the client closes stdin.
pub async fn run(global: &Global, args: &McpArgs) -> Result<u8, CliError> {
    let allowed = match Allowed::new(&args.allow) {
        Ok(allowed) => allowed,
        Err(why) => {
            eprintln!("authenta: error: {why}; name an existing folder with --allow DIR");
            return Ok(exit::USAGE);
        }
    };
    if args.wait > args.max_wait {
        eprintln!(
            "authenta: error: --wait is longer than --max-wait; shorten it or raise --max-wait"
        );
        return Ok(exit::USAGE);
    }
    // An embedded emulator's records end with the process: so does their
    // ledger, unless one is named.
    let ledger = if global.emulator && global.ledger.is_none() && !global.no_ledger {
        Some(
            Ledger::in_memory()
                .map_err(|e| CliError::Ledger(format!("cannot open an in-memory ledger: {e}")))?,
        )
    } else {
        ledger::for_command(global)?
    };
    let session = Session::open(global).await?;
    if let Some(emulator) = session.emulator() {
        eprintln!(
            "authenta: the embedded emulator's control surface is {}",
            emulator.control_url()
        );
    }
    match allowed.dirs() {
        [] => eprintln!(
            "authenta: no folder is allowed: check_media refuses every file (--allow DIR allows one)"
        ),
        dirs => {
            let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            eprintln!(
                "authenta: the tools may read files under {}",
                dirs.join(", ")
            );
        }
    }
    let server = Server {
        inner: Arc::new(Inner {
            client: session.client.clone(),
            ledger,
            allowed: Arc::new(allowed),
            uploads: Arc::new(Semaphore::new(usize::from(args.max_concurrency))),
            wait: args.wait,
            max_wait: args.max_wait,
        }),
    };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| CliError::Unfinished(format!("the MCP session did not start: {e}")))?;
    eprintln!("authenta: serving MCP on stdin and stdout");
    let _ = running.waiting().await;
    drop(session);
    Ok(exit::SUCCESS)
}

/// The server: what every call shares.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    ledger: Option<Ledger>,
    allowed: Arc<Allowed>,
    /// One permit per upload in flight.
    uploads: Arc<Semaphore>,
    wait: Duration,
    max_wait: Duration,
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("authenta", env!("CARGO_PKG_VERSION"))
                    .with_title("Authenta deepfake detection"),
            )
            .with_instructions(tools::INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let progress = Progress::new(&context);
        let inner = &self.inner;
        let work = async {
            match request.name.as_ref() {
                "check_media" => check::check_media(inner, arguments, &progress).await,
                "get_result" => check::get_result(inner, arguments).await,
                "list_media" => check::list_media(inner, arguments).await,
                "delete_media" => check::delete_media(inner, arguments).await,
                other => Err(Refusal::new(format!(
                    "no tool named {other}: the tools are check_media, get_result, list_media and delete_media"
                ))),
            }
        };
        // A cancelled call stops where it is: each step the ledger needs
        // is committed before the request that depends on it.
        let result = tokio::select! {
            result = work => result,
            () = context.ct.cancelled() => Err(Refusal::new("the call was cancelled")),
        };
        progress.finish().await;
        Ok(match result {
            Ok(result) => result,
            Err(refusal) => refusal.into_result(),
        }
        .into())
    }
}

/// Why a call failed, as its tool result (`isError`).
pub struct Refusal {
    value: Value,
}

impl Refusal {
    /// A refusal with a message (what is wrong and what to do).
    pub fn new(message: impl Into<String>) -> Refusal {
        Refusal {
            value: json!({ "error": { "message": message.into() } }),
        }
    }

    /// The SDK's error: its class, code, message and hint.
    pub fn sdk(error: &Error) -> Refusal {
        Refusal {
            value: json!({ "error": error_json(error) }),
        }
    }

    fn into_result(self) -> CallToolResult {
        CallToolResult::structured_error(self.value)
    }
}

/// An SDK error as a tool reports it.
pub fn error_json(error: &Error) -> Value {
    let mut value = output::error_json(error, &describe(error));
    if let Some(object) = value.as_object_mut() {
        object.remove("exitCode");
        object.insert("hint".into(), json!(error.hint()));
    }
    value
}

/// A model id as the command line takes it (`ac-1` is `AC-1`).
pub fn parse_model(text: &str) -> Result<ModelType, Refusal> {
    let id = text.trim().to_ascii_uppercase();
    if id.is_empty() {
        return Err(Refusal::new(
            "the model is empty: give one such as AC-1 or DF-1, or leave it out",
        ));
    }
    Ok(ModelType::from(id))
}

/// Progress notifications for a call whose client asked for them (a
/// `progressToken`): each message a step further.
#[derive(Clone, Default)]
pub struct Progress {
    /// Taken when the call ends: no message is sent after its result.
    sender: Arc<Mutex<Option<UnboundedSender<String>>>>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Progress {
    fn new(context: &RequestContext<RoleServer>) -> Progress {
        let Some(token) = context.meta.get_progress_token() else {
            return Progress::default();
        };
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
        let peer = context.peer.clone();
        let task = tokio::spawn(async move {
            let mut step = 0.0;
            while let Some(message) = receiver.recv().await {
                step += 1.0;
                let param =
                    ProgressNotificationParam::new(token.clone(), step).with_message(message);
                if peer.notify_progress(param).await.is_err() {
                    break;
                }
            }
        });
        Progress {
            sender: Arc::new(Mutex::new(Some(sender))),
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    /// Tells the client `message`.
    pub fn say(&self, message: String) {
        if let Some(sender) = &*lock(&self.sender) {
            let _ = sender.send(message);
        }
    }

    /// Sends what is queued, before the call's result.
    async fn finish(&self) {
        drop(lock(&self.sender).take());
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// A mutex's guard, even after a panic elsewhere.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
