//! The protocol crate does no I/O: its non-test code names no file,
//! process, environment or socket API and no config-file format, and its
//! manifest depends on no crate that would. (Test modules, at the end of
//! a file after `#[cfg(test)]`, may use files.)

use std::path::Path;

/// What no line of proto's non-test code may contain.
const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::process",
    "std::env",
    "UdpSocket",
    "File::open",
    "File::create",
    "Command::new",
    "OpenOptions",
    "TcpStream",
    "toml",
];

/// Crates that read files, the environment or a config format.
const FORBIDDEN_DEPENDENCIES: &[&str] = &[
    "toml",
    "toml_edit",
    "etcetera",
    "dirs",
    "tokio",
    "reqwest",
    "ureq",
    "hyper",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_protocol_does_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 10, "found the sources: {files:?}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start() == "#[cfg(test)]" {
                break;
            }
            for word in FORBIDDEN {
                if line.contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "authenta-proto does no I/O (files, processes, variables and config files are authenta-client's):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_protocol_depends_on_no_io_crate() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap();
    for line in dependencies.lines() {
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        assert!(
            !FORBIDDEN_DEPENDENCIES.contains(&name),
            "authenta-proto must not depend on {name}: {line}"
        );
    }
}
