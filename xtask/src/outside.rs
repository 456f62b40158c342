//! `outside-examples`: builds each embedder example (authenta-client's
//! `examples/custom_client` and `examples/async_client`) unchanged as a
//! crate of its own outside the workspace, the way a program that copies
//! it would: its files as `src/`, the workspace's crates as path
//! dependencies, the other dependencies at the workspace's requirements,
//! the workspace's `Cargo.lock` (so nothing new is resolved), built
//! `--offline`; and so is every whole program of the README (a ```rust
//! block with `fn main`), with only the dependencies the README's ```toml
//! blocks tell a user to add (the authenta crates by path instead of git).

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

/// A whole program of the README: a ```rust block with `fn main`.
#[derive(Debug)]
pub struct QuickStart {
    /// The line of its opening fence in README.md.
    pub line: usize,
    /// Its code, as a reader copies it (rustdoc's hidden `# ` lines kept,
    /// without their marker).
    pub code: String,
    /// The crates it names (`use x::…` or `x::…` at a path's start), as
    /// package names (`authenta-ureq`), sorted.
    pub crates: Vec<String>,
}

/// The README's whole programs.
pub fn quick_starts(readme: &str) -> Vec<QuickStart> {
    let mut found = Vec::new();
    let mut lines = readme.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let rust = info.split(',').next() == Some("rust");
        let mut code = String::new();
        for (_, line) in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            let line = match line {
                "#" => "",
                _ => line.strip_prefix("# ").unwrap_or(line),
            };
            code.push_str(line);
            code.push('\n');
        }
        if rust && code.contains("fn main(") {
            let crates = crates_named(&code);
            found.push(QuickStart {
                line: n + 1,
                code,
                crates,
            });
        }
    }
    found
}

/// The outside crates `code` names at the start of a path.
fn crates_named(code: &str) -> Vec<String> {
    const NOT_CRATES: &[&str] = &["std", "core", "alloc", "crate", "self", "super", "Self"];
    let mut crates: Vec<String> = Vec::new();
    let bytes = code.as_bytes();
    for (at, _) in code.match_indices("::") {
        let start = code[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &code[start..at];
        // A path's first segment: not after another `::`, a letter first.
        let after_path = start >= 2 && &bytes[start - 2..start] == b"::";
        let lowercase = name.starts_with(|c: char| c.is_ascii_lowercase());
        if name.is_empty() || after_path || !lowercase || NOT_CRATES.contains(&name) {
            continue;
        }
        let package = name.replace('_', "-");
        if !crates.contains(&package) {
            crates.push(package);
        }
    }
    crates.sort();
    crates
}

/// The dependencies the README's ```toml blocks name, by package.
pub fn readme_dependencies(readme: &str) -> Result<Vec<(String, Item)>, OutsideError> {
    let mut deps: Vec<(String, Item)> = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line != "```toml" {
            continue;
        }
        let block: String = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .map(|l| format!("{l}\n"))
            .collect();
        let Ok(doc) = block.parse::<DocumentMut>() else {
            continue;
        };
        if let Some(table) = doc.get("dependencies").and_then(Item::as_table_like) {
            for (name, item) in table.iter() {
                if !deps.iter().any(|(n, _)| n == name) {
                    deps.push((name.to_owned(), item.clone()));
                }
            }
        }
    }
    Ok(deps)
}

/// The manifest of a crate holding quick starts that name `crates`: each
/// as the README says to add it, the workspace's own crates by absolute
/// path; an error names a crate the README never says to add.
pub fn quick_start_manifest(
    root: &Path,
    readme_deps: &[(String, Item)],
    crates: &[String],
    name: &str,
    lines: &[usize],
) -> Result<String, OutsideError> {
    let mut doc: DocumentMut = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n# Not a member of any workspace.\n[workspace]\n\n[dependencies]\n"
    )
    .parse()
    .map_err(fail)?;
    for krate in crates {
        let Some((_, item)) = readme_deps.iter().find(|(n, _)| n == krate) else {
            return Err(fail(format!(
                "README.md:{lines:?}: a quick start uses the crate {krate}, but no ```toml block \
                 of the README tells a user to add it: add it to the quick start's [dependencies]"
            )));
        };
        let own = root.join("crates").join(krate);
        let item = match own.join("Cargo.toml").exists() {
            true => {
                let mut dep = InlineTable::new();
                dep.insert("path", own.display().to_string().as_str().into());
                if let Some(features) = item.get("features").and_then(Item::as_value) {
                    dep.insert("features", features.clone());
                }
                Item::Value(Value::InlineTable(dep))
            }
            false => item.clone(),
        };
        doc["dependencies"][krate.as_str()] = item;
    }
    Ok(doc.to_string())
}

/// Builds the README's whole programs outside the workspace: the ones
/// naming the same crates as the binaries of one crate (one build).
pub fn build_quick_starts(
    root: &Path,
    target: &Path,
    out: &mut impl std::io::Write,
) -> Result<(), OutsideError> {
    let readme = std::fs::read_to_string(root.join("README.md")).map_err(fail)?;
    let deps = readme_dependencies(&readme)?;
    let starts = quick_starts(&readme);
    if starts.is_empty() {
        return Err(fail(
            "README.md has no quick start (a ```rust block with fn main)",
        ));
    }
    let mut groups: Vec<(Vec<String>, Vec<&QuickStart>)> = Vec::new();
    for start in &starts {
        match groups
            .iter_mut()
            .find(|(crates, _)| *crates == start.crates)
        {
            Some((_, members)) => members.push(start),
            None => groups.push((start.crates.clone(), vec![start])),
        }
    }
    for (n, (crates, members)) in groups.iter().enumerate() {
        let lines: Vec<usize> = members.iter().map(|s| s.line).collect();
        let dir = tempfile::tempdir().map_err(fail)?;
        let bin = dir.path().join("src").join("bin");
        std::fs::create_dir_all(&bin).map_err(fail)?;
        for start in members {
            let file = bin.join(format!("readme_line_{}.rs", start.line));
            std::fs::write(file, &start.code).map_err(fail)?;
        }
        let name = format!("outside-readme-{n}");
        let manifest = quick_start_manifest(root, &deps, crates, &name, &lines)?;
        std::fs::write(dir.path().join("Cargo.toml"), manifest).map_err(fail)?;
        std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).map_err(fail)?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "--offline", "--quiet", "--bins"])
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", target)
            .output()
            .map_err(|e| fail(format!("cannot run cargo: {e}")))?;
        if !output.status.success() {
            return Err(fail(format!(
                "the README's quick starts at lines {lines:?} (src/bin/readme_line_N.rs: N is \
                 the line) do not build as programs of their own with {crates:?} as the README \
                 says to add them ({}):\n{}",
                dir.path().display(),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        writeln!(
            out,
            "README.md quick starts at lines {lines:?} build as programs of their own with {crates:?}"
        )
        .map_err(fail)?;
    }
    Ok(())
}

/// Builds every example outside the workspace, each in a fresh temporary
/// directory, then the README's quick starts; `target` is shared, so the
/// dependencies build once.
pub fn run(root: &Path, target: &Path, out: &mut impl std::io::Write) -> Result<(), OutsideError> {
    build_quick_starts(root, target, out)?;
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
    fn the_readme_s_quick_starts_are_found_with_the_crates_they_name() {
        let readme = "```toml\n[dependencies]\nauthenta-ureq = { git = \"x\" }\n```\n\n\
                      ```rust,no_run\nuse authenta_ureq::Client;\nfn main() {\n    \
                      let _ = std::env::args();\n    let c = authenta_ureq::types::ModelType::Ac1;\n}\n```\n\
                      ```rust\nfn helper() {}\n```\n";
        let starts = quick_starts(readme);
        assert_eq!(starts.len(), 1, "{starts:?}");
        assert_eq!(starts[0].line, 6);
        assert_eq!(starts[0].crates, ["authenta-ureq"]);
        let deps = readme_dependencies(readme).unwrap();
        let root = crate::codegen::workspace_root();
        let manifest = quick_start_manifest(&root, &deps, &starts[0].crates, "t", &[5]).unwrap();
        assert!(manifest.contains("crates/authenta-ureq"), "{manifest}");
        assert!(!manifest.contains("git"), "{manifest}");
        let err = quick_start_manifest(&root, &deps, &["tokio".into()], "t", &[5]).unwrap_err();
        assert!(err.to_string().contains("uses the crate tokio"), "{err}");
    }

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
