//! `outside-examples`: builds each embedder example (authenta-client's
//! `examples/custom_client` and `examples/async_client`) unchanged as a
//! crate of its own outside the workspace, the way a program that copies
//! it would: its files as `src/`, the workspace's crates as path
//! dependencies, the other dependencies at the workspace's requirements,
//! the workspace's `Cargo.lock` (so nothing new is resolved), built
//! `--offline`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use toml_edit::{DocumentMut, InlineTable, Item, Value};

/// One example and what its own crate depends on: `(name, features)`, each
/// a key of `[workspace.dependencies]`.
pub struct Example {
    /// The example's name (its directory under `examples/`).
    pub name: &'static str,
    /// The crate whose example it is.
    pub krate: &'static str,
    /// Its dependencies, with the features it turns on.
    pub deps: &'static [(&'static str, &'static [&'static str])],
}

/// The embedder examples.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "custom_client",
        krate: "authenta-client",
        deps: &[("authenta-client", &[])],
    },
    Example {
        name: "async_client",
        krate: "authenta-client",
        deps: &[
            ("authenta-client", &["async"]),
            ("async-io", &[]),
            ("blocking", &[]),
            ("futures-util", &["std", "io"]),
            ("httparse", &[]),
        ],
    },
];

/// Why an example did not build outside.
#[derive(Debug)]
pub struct OutsideError(String);

impl fmt::Display for OutsideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutsideError {}

fn fail(what: impl fmt::Display) -> OutsideError {
    OutsideError(what.to_string())
}

/// The manifest of `example`'s own crate: its dependencies as the
/// workspace requires them (the workspace's crates by absolute path).
pub fn manifest(root: &Path, example: &Example) -> Result<String, OutsideError> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).map_err(fail)?;
    let workspace: DocumentMut = text.parse().map_err(fail)?;
    let table = workspace["workspace"]["dependencies"]
        .as_table_like()
        .ok_or_else(|| fail("Cargo.toml has no [workspace.dependencies]"))?;
    let mut doc: DocumentMut = format!(
        "[package]\nname = \"outside-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n# Not a member of any workspace.\n[workspace]\n\n[dependencies]\n",
        example.name.replace('_', "-")
    )
    .parse()
    .map_err(fail)?;
    for (name, features) in example.deps {
        let mut dep = match table.get(name) {
            Some(Item::Value(Value::String(version))) => {
                let mut dep = InlineTable::new();
                dep.insert("version", version.value().as_str().into());
                dep
            }
            Some(Item::Value(Value::InlineTable(dep))) => dep.clone(),
            _ => return Err(fail(format!("no workspace dependency {name}"))),
        };
        if let Some(path) = dep.get("path").and_then(Value::as_str) {
            let absolute = root.join(path).display().to_string();
            dep.insert("path", absolute.as_str().into());
        }
        if !features.is_empty() {
            dep.insert("features", Value::Array(features.iter().copied().collect()));
        }
        doc["dependencies"][name] = Item::Value(Value::InlineTable(dep));
    }
    Ok(doc.to_string())
}

/// Writes `example`'s crate under `dir` and builds it with cargo into
/// `target`; the error holds cargo's output.
pub fn build(
    root: &Path,
    example: &Example,
    dir: &Path,
    target: &Path,
) -> Result<(), OutsideError> {
    let source = root
        .join("crates")
        .join(example.krate)
        .join("examples")
        .join(example.name);
    let src = dir.join("src");
    std::fs::create_dir_all(&src).map_err(fail)?;
    for entry in std::fs::read_dir(&source).map_err(fail)? {
        let path = entry.map_err(fail)?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            std::fs::copy(&path, src.join(path.file_name().unwrap_or_default())).map_err(fail)?;
        }
    }
    std::fs::write(dir.join("Cargo.toml"), manifest(root, example)?).map_err(fail)?;
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(fail)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| fail(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!(
            "examples/{} does not build as a crate of its own ({}):\n{}",
            example.name,
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}

/// Builds every example outside the workspace, each in a fresh temporary
/// directory; `target` is shared, so the dependencies build once.
pub fn run(root: &Path, target: &Path, out: &mut impl std::io::Write) -> Result<(), OutsideError> {
    for example in EXAMPLES {
        let dir = tempfile::tempdir().map_err(fail)?;
        build(root, example, dir.path(), target)?;
        writeln!(
            out,
            "examples/{} builds as a crate of its own",
            example.name
        )
        .map_err(fail)?;
    }
    Ok(())
}

/// Where the examples' builds go: `$CARGO_TARGET_DIR/outside`, else the
/// workspace's `target/outside`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("outside")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_examples_manifest_takes_the_workspaces_requirements_and_absolute_paths() {
        let root = crate::codegen::workspace_root();
        let text = manifest(&root, &EXAMPLES[1]).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        let client = &doc["dependencies"]["authenta-client"];
        let path = client["path"].as_str().unwrap();
        assert!(Path::new(path).is_absolute(), "{text}");
        assert!(Path::new(path).join("Cargo.toml").exists(), "{text}");
        assert_eq!(client["features"].as_array().unwrap().len(), 1, "{text}");
        let futures = &doc["dependencies"]["futures-util"];
        assert_eq!(futures["default-features"].as_bool(), Some(false), "{text}");
        assert!(doc["workspace"].is_table(), "outside any workspace: {text}");
    }
}
