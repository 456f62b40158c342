//! A small DevTools-protocol client for headless Chromium, over
//! `--remote-debugging-pipe`: Chromium reads commands on its fd 3 and
//! writes answers and events on its fd 4, each a JSON text ending in a NUL
//! byte. `sh` wires those descriptors to the child's stdin and stdout, so
//! no crate and no unsafe code is needed. Enough to open a page, collect
//! its console errors and failed requests, run script in it and take a
//! screenshot.
//!
//! Chromium is Debian's `chromium` package (`/usr/bin/chromium`), or the
//! program named by `AUTHENTA_CHROMIUM`. Without it the tests that need it
//! fail, saying how to install it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one command may take to be answered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium program: `AUTHENTA_CHROMIUM`, else `chromium` or
/// `chromium-browser` on the `PATH`. Panics, saying what to install, when
/// there is none.
pub fn program() -> PathBuf {
    if let Some(path) = std::env::var_os("AUTHENTA_CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "AUTHENTA_CHROMIUM is {}, which is not a file: this test needs headless Chromium \
             (Debian: `apt-get install -y chromium`)",
            path.display()
        );
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "this test needs headless Chromium and none was found: install Debian's package \
         (`apt-get install -y chromium`, as .ci/run does) or set AUTHENTA_CHROMIUM to the program"
    );
}

/// What a page's load produced.
#[derive(Debug)]
pub struct Loaded {
    /// Console errors, uncaught exceptions and browser errors (such as a
    /// Content-Security-Policy violation), as text.
    pub console_errors: Vec<String>,
    /// Requests that failed or were answered 4xx/5xx: `address: reason`.
    pub failed_requests: Vec<String>,
}

/// A headless Chromium with one page, closed when dropped.
pub struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    events: Vec<Value>,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium headless with a fresh profile; its log goes to
    /// `chromium.log` in `dir`.
    pub fn launch(dir: &Path) -> Browser {
        let program = program();
        let profile = tempfile::tempdir().unwrap();
        let log = dir.join("chromium.log");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 1>&2")
            .arg(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--mute-audio",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let commands = child.stdin.take().unwrap();
        let mut answers = BufReader::new(child.stdout.take().unwrap());
        let (send, messages) = channel();
        std::thread::spawn(move || {
            let mut message = Vec::new();
            while answers.read_until(0, &mut message).unwrap_or(0) > 0 {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && send.send(value).is_err()
                {
                    return;
                }
                message.clear();
            }
        });
        Browser {
            child,
            commands,
            messages,
            next_id: 0,
            session: None,
            events: Vec::new(),
            log,
            _profile: profile,
        }
    }

    /// Sends a command (to the page when `on_page`) and waits for its
    /// answer, keeping the events that arrive meanwhile.
    fn call(&mut self, method: &str, params: Value, on_page: bool) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if on_page {
            command["sessionId"] = json!(self.session.as_deref().expect("a page is open"));
        }
        let mut bytes = serde_json::to_vec(&command).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .unwrap_or_else(|e| panic!("Chromium went away ({e}); see {}", self.log.display()));
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let message = self.next_message(deadline).unwrap_or_else(|| {
                panic!(
                    "Chromium did not answer {method} in {ANSWER_TIMEOUT:?}; see {}",
                    self.log.display()
                )
            });
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    fn next_message(&self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.messages.recv_timeout(left).ok()
    }

    /// Opens `path` (a local file) in the page and waits for its load
    /// event, then until nothing happens for half a second: its problems.
    pub fn open(&mut self, path: &Path) -> Loaded {
        if self.session.is_none() {
            let target = self.call(
                "Target.createTarget",
                json!({ "url": "about:blank" }),
                false,
            );
            let attached = self.call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
                false,
            );
            self.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
            for domain in ["Page", "Runtime", "Log", "Network"] {
                self.call(&format!("{domain}.enable"), json!({}), true);
            }
            self.call(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
                true,
            );
        }
        self.events.clear();
        let url = format!("file://{}", path.canonicalize().unwrap().display());
        let navigated = self.call("Page.navigate", json!({ "url": url }), true);
        assert!(
            navigated.get("errorText").is_none(),
            "cannot open {url}: {navigated}"
        );
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            let event = self
                .next_message(deadline)
                .unwrap_or_else(|| panic!("{url} did not finish loading"));
            self.events.push(event);
        }
        self.settle();
        let (console_errors, failed_requests) = self.problems();
        Loaded {
            console_errors,
            failed_requests,
        }
    }

    /// Keeps the events that arrive until none has for half a second (at
    /// most ten seconds).
    fn settle(&mut self) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            match self.messages.recv_timeout(Duration::from_millis(500)) {
                Ok(event) => self.events.push(event),
                Err(_) => return,
            }
        }
    }

    /// The page's console errors and failed requests, from every event
    /// seen since it was opened.
    pub fn problems(&mut self) -> (Vec<String>, Vec<String>) {
        self.settle();
        let mut console = Vec::new();
        let mut failed = Vec::new();
        let mut addresses: HashMap<String, String> = HashMap::new();
        let short = |url: &str| url.chars().take(80).collect::<String>();
        for event in &self.events {
            let params = &event["params"];
            match event["method"].as_str().unwrap_or("") {
                "Runtime.consoleAPICalled"
                    if matches!(params["type"].as_str(), Some("error" | "assert")) =>
                {
                    let text: Vec<String> = params["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| match &a["value"] {
                            Value::String(s) => s.clone(),
                            Value::Null => a["description"].to_string(),
                            other => other.to_string(),
                        })
                        .collect();
                    console.push(text.join(" "));
                }
                "Runtime.exceptionThrown" => {
                    let details = &params["exceptionDetails"];
                    console.push(format!(
                        "uncaught: {} {}",
                        details["text"], details["exception"]["description"]
                    ));
                }
                "Log.entryAdded" if params["entry"]["level"] == "error" => {
                    let entry = &params["entry"];
                    console.push(format!(
                        "{}: {} ({})",
                        entry["source"].as_str().unwrap_or(""),
                        entry["text"].as_str().unwrap_or(""),
                        short(entry["url"].as_str().unwrap_or(""))
                    ));
                }
                "Network.requestWillBeSent" => {
                    let id = params["requestId"].as_str().unwrap_or("").to_owned();
                    addresses.insert(id, short(params["request"]["url"].as_str().unwrap_or("")));
                }
                "Network.loadingFailed" => {
                    let id = params["requestId"].as_str().unwrap_or("");
                    failed.push(format!(
                        "{}: {}",
                        addresses.get(id).map_or("?", String::as_str),
                        params["errorText"].as_str().unwrap_or("failed")
                    ));
                }
                "Network.responseReceived" => {
                    let status = params["response"]["status"].as_u64().unwrap_or(0);
                    if status >= 400 {
                        failed.push(format!(
                            "{}: HTTP {status}",
                            short(params["response"]["url"].as_str().unwrap_or(""))
                        ));
                    }
                }
                _ => {}
            }
        }
        (console, failed)
    }

    /// Turns the page's scripts off (or on) for the pages opened next.
    pub fn scripts(&mut self, enabled: bool) {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": !enabled }),
            true,
        );
    }

    /// Evaluates `expression` in the page; its value (as JSON).
    pub fn evaluate(&mut self, expression: &str) -> Value {
        self.evaluate_with(expression, false)
    }

    /// Evaluates `expression`, a promise, in the page; the value it
    /// resolves to.
    pub fn evaluate_async(&mut self, expression: &str) -> Value {
        self.evaluate_with(expression, true)
    }

    fn evaluate_with(&mut self, expression: &str, wait: bool) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": wait }),
            true,
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("the page's script failed: {details}");
        }
        result["result"]["value"].clone()
    }

    /// A PNG screenshot of the whole page, `width` pixels wide.
    pub fn screenshot(&mut self, width: u32) -> Vec<u8> {
        let height = self
            .evaluate("document.documentElement.scrollHeight")
            .as_u64()
            .unwrap();
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
            true,
        );
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }), true);
        base64_decode(shot["data"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let close = b"{\"id\":999999,\"method\":\"Browser.close\",\"params\":{}}\0";
        let _ = self.commands.write_all(close);
        let _ = self.commands.flush();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64.
fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
