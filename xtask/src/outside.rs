//! `outside-examples`: builds each embedder example (authenta-client's
//! `examples/custom_client` and `examples/async_client`) unchanged as a
//! crate of its own outside the workspace, the way a program that copies
//! it would: its files as `src/`, the workspace's crates as path
//! dependencies, the other dependencies at the workspace's requirements,
//! the workspace's `Cargo.lock` (so nothing new is resolved), built
//! `--offline`. It does the same for the README's quick starts: every
//! ```` ```rust ```` block of `README.md` with a `fn main` is a program of
//! a crate whose manifest holds only what its README section tells a user
//! to add (its ```` ```toml ```` `[dependencies]`, or a `` `cargo add ...` ``
//! line), the workspace's crates by path; blocks that need the same crates
//! share one crate (one `src/bin/readme_LINE.rs` each, one build).

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
    let mut doc = package(&example.name.replace('_', "-"))?;
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

/// A manifest named `outside-{name}`, outside any workspace, with an empty
/// `[dependencies]`.
fn package(name: &str) -> Result<DocumentMut, OutsideError> {
    format!(
        "[package]\nname = \"outside-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n# Not a member of any workspace.\n[workspace]\n\n[dependencies]\n"
    )
    .parse()
    .map_err(fail)
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
    cargo_build(root, &manifest(root, example)?, dir, target).map_err(|stderr| {
        fail(format!(
            "examples/{} does not build as a crate of its own ({}):\n{stderr}",
            example.name,
            dir.display(),
        ))
    })
}

/// Writes `manifest` and the workspace's `Cargo.lock` into `dir` and runs
/// `cargo build --offline` there into `target`; the error is cargo's
/// output.
fn cargo_build(root: &Path, manifest: &str, dir: &Path, target: &Path) -> Result<(), String> {
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
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
    let readme = std::fs::read_to_string(root.join("README.md")).map_err(fail)?;
    // Every group is built, so one run names every broken quick start.
    let mut failures = Vec::new();
    for (deps, starts) in group(quick_starts(&readme)?) {
        let dir = tempfile::tempdir().map_err(fail)?;
        if let Err(e) = build_quick_starts(root, &deps, &starts, dir.path(), target) {
            failures.push(e.0);
            continue;
        }
        for start in &starts {
            writeln!(
                out,
                "README.md:{} (quick start) builds as a crate of its own",
                start.line
            )
            .map_err(fail)?;
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(fail(failures.join("\n")))
    }
}

/// A whole program of the README: a ```` ```rust ```` block with `fn main`.
#[derive(Debug)]
pub struct QuickStart {
    /// The line of its opening fence in `README.md` (1-based).
    pub line: usize,
    /// Its code.
    pub code: String,
    /// What its section tells a user to add to `Cargo.toml`: the
    /// `[dependencies]` table, as TOML.
    pub deps: String,
}

/// The README's quick starts, each with the dependencies its section
/// (from one `## ` heading to the next) names: the `[dependencies]` of a
/// ```` ```toml ```` block, or the crates of a `` `cargo add ...` `` line
/// (`--git URL` and `-F`/`--features LIST` understood). A quick start whose
/// section names none is an error: the README must say what to add.
pub fn quick_starts(readme: &str) -> Result<Vec<QuickStart>, OutsideError> {
    let mut starts = Vec::new();
    let mut section: Vec<(usize, String, String)> = Vec::new(); // (line, info, body)
    let mut prose = String::new();
    let mut fence: Option<(usize, String, String)> = None;
    let mut finish = |section: &mut Vec<(usize, String, String)>,
                      prose: &mut String|
     -> Result<(), OutsideError> {
        let deps = section_deps(section, prose)?;
        for (line, info, body) in section.drain(..) {
            let rust = info.split(',').next() == Some("rust") && !info.contains("ignore");
            if rust && body.contains("fn main") {
                let deps = deps.clone().ok_or_else(|| {
                    fail(format!(
                        "README.md:{line}: a quick start whose section does not say what to add to \
                         Cargo.toml: add a ```toml [dependencies] block or a `cargo add ...` line"
                    ))
                })?;
                let given: DocumentMut = deps.parse().map_err(fail)?;
                for krate in crates_named(&body) {
                    if given["dependencies"].get(&krate).is_none() {
                        return Err(fail(format!(
                            "README.md:{line}: the quick start uses the crate {krate}, but its \
                             section does not say to add it: add it to the section's ```toml \
                             [dependencies] or `cargo add` line"
                        )));
                    }
                }
                starts.push(QuickStart {
                    line,
                    code: body,
                    deps,
                });
            }
        }
        prose.clear();
        Ok(())
    };
    for (i, line) in readme.lines().enumerate() {
        match fence.as_mut() {
            Some((_, info, body)) if !line.starts_with("```") => {
                // rustdoc's hidden lines, as a reader copies them.
                let line = match line {
                    _ if !info.starts_with("rust") => line,
                    "#" => "",
                    _ => line.strip_prefix("# ").unwrap_or(line),
                };
                body.push_str(line);
                body.push('\n');
            }
            Some(_) => section.extend(fence.take()),
            None if line.starts_with("```") => {
                fence = Some((
                    i + 1,
                    line.trim_start_matches('`').trim().to_owned(),
                    String::new(),
                ));
            }
            None if line.starts_with("## ") => finish(&mut section, &mut prose)?,
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    finish(&mut section, &mut prose)?;
    if starts.is_empty() {
        return Err(fail(
            "README.md has no quick start (a ```rust block with fn main)",
        ));
    }
    Ok(starts)
}

/// The outside crates `code` names at the start of a path, as package
/// names (`authenta-ureq`).
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
    crates
}

/// The `[dependencies]` a section names, as TOML, or `None`.
fn section_deps(
    blocks: &[(usize, String, String)],
    prose: &str,
) -> Result<Option<String>, OutsideError> {
    for (line, info, body) in blocks {
        if info == "toml" {
            let doc: DocumentMut = body
                .parse()
                .map_err(|e| fail(format!("README.md:{line}: {e}")))?;
            if let Some(deps) = doc.get("dependencies").and_then(Item::as_table) {
                let mut only = DocumentMut::new();
                only["dependencies"] = Item::Table(deps.clone());
                return Ok(Some(only.to_string()));
            }
        }
    }
    let Some(start) = prose.find("`cargo add ") else {
        return Ok(None);
    };
    let rest = &prose[start + "`cargo add ".len()..];
    let command = rest.split('`').next().unwrap_or_default();
    let mut words = command.split_whitespace();
    let (mut names, mut git, mut features) = (Vec::new(), None, Vec::new());
    while let Some(word) = words.next() {
        match word {
            "--git" => git = words.next(),
            "-F" | "--features" => features.extend(
                words
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_owned),
            ),
            flag if flag.starts_with('-') => {}
            name => names.push(name),
        }
    }
    let mut doc = DocumentMut::new();
    doc["dependencies"] = Item::Table(toml_edit::Table::new());
    for name in names {
        let mut dep = InlineTable::new();
        match git {
            Some(url) => dep.insert("git", url.into()),
            None => dep.insert("version", "*".into()),
        };
        if !features.is_empty() {
            dep.insert("features", Value::Array(features.iter().collect()));
        }
        doc["dependencies"][name] = Item::Value(Value::InlineTable(dep));
    }
    Ok(Some(doc.to_string()))
}

/// The quick starts grouped by equal dependencies, in README order.
fn group(starts: Vec<QuickStart>) -> Vec<(String, Vec<QuickStart>)> {
    let mut groups: Vec<(String, Vec<QuickStart>)> = Vec::new();
    for start in starts {
        match groups.iter_mut().find(|(deps, _)| *deps == start.deps) {
            Some((_, group)) => group.push(start),
            None => groups.push((start.deps.clone(), vec![start])),
        }
    }
    groups
}

/// The manifest of a quick starts' crate: `deps` as the README gives them,
/// except that a crate of this workspace (`crates/NAME`) is taken by its
/// absolute path instead of `git`.
pub fn quick_start_manifest(root: &Path, deps: &str, name: &str) -> Result<String, OutsideError> {
    let given: DocumentMut = deps.parse().map_err(fail)?;
    let mut doc = package(name)?;
    let table = given["dependencies"]
        .as_table_like()
        .ok_or_else(|| fail("no [dependencies]"))?;
    for (key, item) in table.iter() {
        let mut item = item.clone();
        let member = root.join("crates").join(key);
        if member.join("Cargo.toml").exists() {
            let mut dep = match item.as_value() {
                Some(Value::InlineTable(dep)) => dep.clone(),
                _ => InlineTable::new(),
            };
            dep.remove("git");
            dep.remove("version");
            dep.insert("path", member.display().to_string().into());
            item = Item::Value(Value::InlineTable(dep));
        }
        doc["dependencies"][key] = item;
    }
    Ok(doc.to_string())
}

/// Builds `starts` (which need `deps`) as one crate under `dir`, one
/// binary each; the error names each failing block's README line, with
/// the compiler's messages pointing at README lines.
fn build_quick_starts(
    root: &Path,
    deps: &str,
    starts: &[QuickStart],
    dir: &Path,
    target: &Path,
) -> Result<(), OutsideError> {
    let bin = dir.join("src").join("bin");
    std::fs::create_dir_all(&bin).map_err(fail)?;
    for start in starts {
        std::fs::write(bin.join(format!("readme_{}.rs", start.line)), &start.code).map_err(fail)?;
    }
    let manifest = quick_start_manifest(root, deps, &format!("readme-{}", starts[0].line))?;
    cargo_build(root, &manifest, dir, target).map_err(|stderr| {
        let failing: Vec<String> = starts
            .iter()
            .filter(|s| stderr.contains(&format!("readme_{}.rs", s.line)))
            .map(|s| format!("README.md:{}", s.line))
            .collect();
        let blocks = if failing.is_empty() {
            starts
                .iter()
                .map(|s| format!("README.md:{}", s.line))
                .collect()
        } else {
            failing
        };
        fail(format!(
            "the README's quick start ```rust block at {} does not compile as a crate of its own \
             (with the dependencies its section names):\n{}",
            blocks.join(", "),
            readme_lines(&stderr, starts)
        ))
    })
}

/// `stderr` with each `src/bin/readme_LINE.rs:ROW` turned into the README
/// line it is (`README.md:LINE+ROW`).
fn readme_lines(stderr: &str, starts: &[QuickStart]) -> String {
    let mut text = stderr.to_owned();
    for start in starts {
        let file = format!("src/bin/readme_{}.rs:", start.line);
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&file) {
            out.push_str(&rest[..at]);
            rest = &rest[at + file.len()..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            match rest[..digits].parse::<usize>() {
                Ok(row) => out.push_str(&format!("README.md:{}", start.line + row)),
                Err(_) => out.push_str(&file),
            }
            rest = &rest[digits..];
        }
        out.push_str(rest);
        text = out;
    }
    text
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

    #[test]
    fn the_readmes_quick_starts_take_the_crates_their_sections_name() {
        let root = crate::codegen::workspace_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let starts = quick_starts(&readme).unwrap();
        assert!(starts.len() >= 4, "{starts:#?}");
        for start in &starts {
            assert!(start.code.contains("fn main"), "{start:#?}");
            let manifest = quick_start_manifest(&root, &start.deps, "t").unwrap();
            let doc: DocumentMut = manifest.parse().unwrap();
            let deps = doc["dependencies"].as_table().unwrap();
            // Every `authenta_*` crate the program names is one it depends on.
            for (name, dep) in deps.iter() {
                if name.starts_with("authenta-") {
                    assert!(dep.get("git").is_none(), "{manifest}");
                    assert!(
                        Path::new(dep["path"].as_str().unwrap()).is_absolute(),
                        "{manifest}"
                    );
                }
            }
            for word in start.code.split(|c: char| !c.is_alphanumeric() && c != '_') {
                if word.starts_with("authenta_") {
                    let name = word.replace('_', "-");
                    assert!(
                        deps.contains_key(&name),
                        "README.md:{} uses {word}: {manifest}",
                        start.line
                    );
                }
            }
        }
        let tokio = starts
            .iter()
            .find(|s| s.code.contains("#[tokio::main]"))
            .unwrap();
        assert!(tokio.deps.contains("rt-multi-thread"), "{tokio:#?}");
        assert!(
            group(starts).len() < 4,
            "blocks needing the same crates share a crate"
        );
    }

    #[test]
    fn a_quick_start_with_no_dependencies_named_is_refused_by_its_line() {
        let readme = "# x\n\n## Start\n\n```rust\nfn main() {}\n```\n";
        let e = quick_starts(readme).unwrap_err().to_string();
        assert!(e.starts_with("README.md:5:"), "{e}");
        let readme = "## S\n\n`cargo add a`\n\n```rust\nfn main() { b::c(); }\n```\n";
        let e = quick_starts(readme).unwrap_err().to_string();
        assert!(
            e.contains("README.md:5: the quick start uses the crate b"),
            "{e}"
        );
        let readme = "## Start\n\n`cargo add authenta-ureq --git URL -F a,b`\n\n```rust\nfn main() {}\n```\n";
        let deps = &quick_starts(readme).unwrap()[0].deps;
        assert!(
            deps.contains("authenta-ureq = { git = \"URL\", features = [\"a\", \"b\"] }"),
            "{deps}"
        );
    }

    #[test]
    fn compiler_messages_point_at_readme_lines() {
        let starts = [QuickStart {
            line: 100,
            code: String::new(),
            deps: String::new(),
        }];
        let text = readme_lines("  --> src/bin/readme_100.rs:7:3\n", &starts);
        assert_eq!(text, "  --> README.md:107:3\n");
    }
}
