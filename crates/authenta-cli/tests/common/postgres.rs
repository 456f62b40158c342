//! A throwaway PostgreSQL server for the ledger's tests: `initdb` into a
//! temporary directory, started with `pg_ctl` on a free loopback port
//! (password authentication), stopped and deleted when dropped.
//!
//! PostgreSQL's programs come from PATH, else the newest
//! `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package, which
//! `.ci/run` installs). Without them the tests fail, saying so: they are
//! never skipped. `initdb` refuses to run as root: as root, the server runs
//! as the `postgres` user (the package creates it), else `nobody`.

use std::path::PathBuf;
use std::process::Command;

/// The superuser's password: the tests check that no output shows it.
pub const PASSWORD: &str = "pg-s3cret-Xq7";

/// A running server.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Who runs PostgreSQL's programs (`runuser`), when the tests run as
    /// root.
    user: Option<String>,
    port: u16,
}

impl Cluster {
    /// Starts a new server, or panics saying what is missing.
    pub fn start() -> Cluster {
        Cluster::start_with(false)
    }

    /// Starts a new server that also takes TLS connections, with a
    /// certificate for `127.0.0.1` signed by a CA of its own
    /// ([`Cluster::ca`]; made with `openssl`, which Debian's `postgresql`
    /// package depends on).
    pub fn start_tls() -> Cluster {
        Cluster::start_with(true)
    }

    /// The PEM file of the CA that signed a TLS server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn start_with(tls: bool) -> Cluster {
        let bin = programs().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: no `initdb` on PATH or in \
                 /usr/lib/postgresql/*/bin. The PostgreSQL ledger's tests need it: \
                 `apt-get install postgresql` (Debian; `.ci/run` does this)"
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let user = is_root().then(|| {
            let user = ["postgres", "nobody"]
                .into_iter()
                .find(|u| id(&["-u", u]).is_some())
                .expect("as root, a `postgres` or `nobody` user to run PostgreSQL as");
            user.to_owned()
        });
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).unwrap();
        let mut owned = vec![dir.path().to_owned(), password_file.clone()];
        if tls {
            owned.extend(certificates(dir.path()));
        }
        if let Some(user) = &user {
            let uid = id(&["-u", user]).unwrap();
            let gid = id(&["-g", user]).unwrap();
            for path in &owned {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            dir,
            bin,
            user,
            port,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "authenta",
                "--auth=scram-sha-256",
                &format!("--pwfile={}", password_file.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c max_connections=50",
            cluster.dir.path().display()
        );
        if tls {
            let dir = cluster.dir.path().display();
            options += &format!(
                " -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key"
            );
        }
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of PostgreSQL's programs (as its user, as root).
    fn run(&self, program: &str, args: &[&str]) -> String {
        let path = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(
            output.status.success(),
            "{program} {args:?} failed:\n{}\n{}\nserver log:\n{log}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A new database on the server, and its URL (with the password).
    pub fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// The URL of the database `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://authenta:{PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }

    /// Runs `sql` in the database `name` with `psql`; what it printed
    /// (unaligned, tuples only), trimmed.
    pub fn sql(&self, name: &str, sql: &str) -> String {
        let url = self.url(name);
        self.run("psql", &["-X", "-Atq", "-d", &url, "-c", sql])
            .trim()
            .to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The directory of `initdb`, `pg_ctl` and `psql`.
fn programs() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).find(|dir| {
            ["initdb", "pg_ctl", "psql"]
                .iter()
                .all(|p| dir.join(p).is_file())
        })
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Makes a CA (`ca.crt`) and a server certificate for `127.0.0.1` it
/// signs (`server.crt`, `server.key`, the key its owner's only) in `dir`;
/// the server's files.
fn certificates(dir: &std::path::Path) -> Vec<PathBuf> {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl (for a test certificate): {e}"));
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"],
            &["-subj", "/CN=authenta test CA"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let key = dir.join("server.key");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    vec![key, dir.join("server.crt")]
}

fn is_root() -> bool {
    id(&["-u"]) == Some(0)
}

/// What `id ARGS` prints, as a number.
fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}
