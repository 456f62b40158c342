//! The `authenta-emulator` binary as a child process: for benches and test
//! suites that want the server out of their own process (to measure it, or
//! to measure a client without it).

use std::io::{self, BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::model::ApiKey;

/// The banner line that names the API's base URL.
pub const BANNER_BASE_URL: &str = "base URL:";
/// The banner line that names the default key's API key token.
pub const BANNER_API_KEY: &str = "API key:";
/// The banner line that names the default key's client id.
pub const BANNER_CLIENT_ID: &str = "client id:";
/// The banner line that names the default key's client secret.
pub const BANNER_CLIENT_SECRET: &str = "client secret:";

/// A running `authenta-emulator` process, with the base URL and the key its
/// banner printed. Dropping it kills the process.
///
/// ```no_run
/// use std::process::Command;
/// use authenta_emulator::EmulatorProcess;
///
/// let mut command = Command::new("target/release/authenta-emulator");
/// command.args(["--listen", "127.0.0.1:0"]);
/// let emulator = EmulatorProcess::spawn(command)?;
/// println!("{} (pid {})", emulator.base_url(), emulator.id());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct EmulatorProcess {
    child: Child,
    base_url: String,
    key: ApiKey,
}

impl EmulatorProcess {
    /// Runs `command` (the binary with its arguments, not `--no-key`) with
    /// its stdout piped, and reads the base URL and key from its banner.
    pub fn spawn(mut command: Command) -> io::Result<EmulatorProcess> {
        let mut child = command.stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut field = |label: &str| -> io::Result<String> {
            loop {
                let line = lines.next().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the emulator exited before printing {label:?}"),
                    )
                })??;
                if let Some(value) = line.trim().strip_prefix(label) {
                    return Ok(value.trim().to_owned());
                }
            }
        };
        let read = (|| {
            Ok::<_, io::Error>((
                field(BANNER_BASE_URL)?,
                field(BANNER_API_KEY)?,
                field(BANNER_CLIENT_ID)?,
                field(BANNER_CLIENT_SECRET)?,
            ))
        })();
        let (base_url, api_key, client_id, client_secret) = match read {
            Ok(fields) => fields,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        // Keep draining stdout, so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(EmulatorProcess {
            child,
            base_url,
            key: ApiKey {
                client_id,
                client_secret,
                api_key,
            },
        })
    }

    /// The API's base URL, such as `http://127.0.0.1:PORT/api`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The key the banner printed (every permission, default quotas).
    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// The process id (to read its memory from `/proc/<id>/status`, say).
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
