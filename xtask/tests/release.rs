//! `cargo xtask release` on scratch clones of this repository's HEAD.
//!
//! Packaging (`cargo publish --dry-run`, which builds every crate) is turned
//! off with `Options::package = false`, so these need no network and run in
//! seconds; `cargo update --workspace` runs offline from the local cache,
//! and nothing here needs another platform's crates in that cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use semver::Version;
use toml_edit::{DocumentMut, Item};
use xtask::codegen::{GENERATED_PATH, SPEC_PATH, workspace_root};
use xtask::release::{self, Options};

/// A clone of HEAD in a temporary directory (removed on drop).
struct Clone {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=xtask test",
            "-c",
            "user.email=xtask@test.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn clone_head() -> Clone {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let src = workspace_root();
    git(
        dir.path(),
        &["clone", "--quiet", src.to_str().unwrap(), "repo"],
    );
    Clone { _dir: dir, root }
}

fn options(version: &str, dry_run: bool) -> Options {
    Options {
        package: false,
        date: Some(jiff::civil::date(2026, 11, 23)),
        ..Options::new(version, dry_run)
    }
}

fn run(root: &Path, opts: &Options) -> Result<String, String> {
    let mut out = Vec::new();
    release::run(root, opts, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).unwrap())
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// The platform this test runs on (`rustc -vV`'s `host`).
fn host_triple() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().expect("rustc runs");
    let out = String::from_utf8(out.stdout).unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("`rustc -vV` names the host")
        .to_owned()
}

/// The current version plus one patch: the tests keep working after a real
/// release.
fn next_version(root: &Path) -> Version {
    let mut v = release::current_version(&read(root, "Cargo.toml")).unwrap();
    v.patch += 1;
    v.pre = semver::Prerelease::EMPTY;
    v
}

/// Every file outside `.git` and `target`, with its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if rel == Path::new(".git") || rel == Path::new("target") {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, files);
            } else {
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

#[test]
fn a_real_run_moves_every_crate_requirement_changelog_and_lock() {
    let clone = clone_head();
    let root = &clone.root;
    let new = next_version(root);
    let members = release::load_members(root).unwrap();
    let before_changelog = read(root, "CHANGELOG.md");
    let head = git(root, &["rev-parse", "HEAD"]);

    let out = run(root, &options(&new.to_string(), false)).unwrap();
    println!("{out}");
    assert!(out.contains("packaging skipped"), "{out}");
    assert!(out.contains("cargo publish --workspace"), "{out}");
    assert!(out.contains(&format!("git tag -a v{new}")), "{out}");
    // The binary's layout names symbols, which hold the crates' versions:
    // the next steps write it again and commit it with the release.
    assert!(out.contains("python3 tools/layout.py"), "{out}");
    let commit = out.lines().find(|l| l.contains("git commit")).unwrap();
    assert!(
        commit.ends_with("crates/authenta-cli/authenta.order"),
        "{commit}"
    );

    // Every published crate (and any crate inheriting the workspace
    // version) is at the new version; unpublished crates with their own
    // version are not.
    let after = release::load_members(root).unwrap();
    assert_eq!(after.len(), members.len());
    let mut moved = BTreeSet::new();
    for (was, now) in members.iter().zip(&after) {
        if was.moves() {
            assert_eq!(now.version, new, "{}", now.name);
            moved.insert(now.name.clone());
        } else {
            assert_eq!(now.version, was.version, "{} must stay", now.name);
        }
    }
    assert!(moved.contains("authenta-types") && moved.contains("authenta-proto"));
    assert!(!moved.contains("xtask"));

    // Every internal requirement names the new version.
    let manifest: DocumentMut = read(root, "Cargo.toml").parse().unwrap();
    let deps = manifest["workspace"]["dependencies"]
        .as_table_like()
        .unwrap();
    let mut internal = 0;
    for (name, dep) in deps.iter() {
        let Some(dep) = dep.as_table_like() else {
            continue;
        };
        if dep.contains_key("path") {
            let req = dep.get("version").and_then(Item::as_str).unwrap();
            assert_eq!(
                req.trim_start_matches(['=', '^', '~']),
                new.to_string(),
                "{name}"
            );
            internal += 1;
        }
    }
    assert!(internal >= 3, "found {internal} internal crates");
    for m in &after {
        let text = read(root, &m.manifest);
        let doc: DocumentMut = text.parse().unwrap();
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            for (name, dep) in doc
                .get(kind)
                .and_then(Item::as_table_like)
                .into_iter()
                .flat_map(|t| t.iter())
            {
                if let Some(dep) = dep.as_table_like()
                    && dep.contains_key("path")
                    && let Some(req) = dep.get("version").and_then(Item::as_str)
                {
                    assert_eq!(req, new.to_string(), "{}: {name}", m.manifest);
                }
            }
        }
    }

    // The lock file agrees.
    let locked = release::lock_versions(&read(root, "Cargo.lock")).unwrap();
    for name in &moved {
        assert_eq!(locked[name], [new.to_string()], "Cargo.lock: {name}");
    }

    // The notes moved under the new heading; Unreleased is empty.
    let changelog = read(root, "CHANGELOG.md");
    let notes = before_changelog
        .split_once("## [Unreleased]\n")
        .unwrap()
        .1
        .trim_start();
    assert!(
        changelog.contains(&format!(
            "## [Unreleased]\n\n## [{new}] - 2026-11-23\n\n{}",
            notes.lines().next().unwrap()
        )),
        "{changelog}"
    );

    // Only the release's files changed, and nothing was committed.
    let status = git(root, &["status", "--porcelain"]);
    let changed: BTreeSet<&str> = status.lines().map(|l| &l[3..]).collect();
    assert!(
        changed.is_superset(&BTreeSet::from([
            "Cargo.toml",
            "Cargo.lock",
            "CHANGELOG.md"
        ])),
        "{status}"
    );
    assert!(
        changed
            .iter()
            .all(|p| p.ends_with("Cargo.toml") || *p == "Cargo.lock" || *p == "CHANGELOG.md"),
        "{status}"
    );
    assert_eq!(
        git(root, &["rev-parse", "HEAD"]),
        head,
        "nothing is committed"
    );

    // Cargo still reads the result without touching the lock. Only this
    // platform's packages: a cache filled by a build here has no other
    // platform's crates (`.ci/run` runs this test with such a cache).
    let meta = Command::new(env!("CARGO"))
        .args(["metadata", "--offline", "--locked", "--format-version", "1"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        meta.status.success(),
        "{}",
        String::from_utf8_lossy(&meta.stderr)
    );

    // The same version again is refused (now it is the current one), on a
    // committed tree.
    git(root, &["commit", "--quiet", "-am", "release"]);
    let err = run(root, &options(&new.to_string(), false)).unwrap_err();
    assert!(
        err.contains("is not greater than the current version"),
        "{err}"
    );
}

#[test]
fn a_dry_run_leaves_the_tree_byte_identical() {
    let clone = clone_head();
    let root = &clone.root;
    // An ignored file does not make the tree dirty.
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::write(root.join("target/ignored"), "x").unwrap();
    let before = snapshot(root);
    let head = git(root, &["rev-parse", "HEAD"]);
    let new = next_version(root);

    let out = run(root, &options(&new.to_string(), true)).unwrap();
    println!("{out}");

    assert_eq!(snapshot(root), before, "the dry run changed files");
    assert_eq!(git(root, &["status", "--porcelain"]), "");
    assert_eq!(git(root, &["rev-parse", "HEAD"]), head);
    // It said what would change, and did it in the scratch copy.
    let old = release::current_version(&read(root, "Cargo.toml")).unwrap();
    assert!(
        out.contains(&format!("[workspace.package] version: {old} → {new}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("move under ## [{new}] - 2026-11-23")),
        "{out}"
    );
    assert!(out.contains("changed: Cargo.toml"), "{out}");
    assert!(out.contains("Cargo.lock"), "{out}");
    assert!(out.contains("dry run done"), "{out}");
}

#[test]
fn a_dirty_tree_is_refused_naming_the_files() {
    let clone = clone_head();
    let root = &clone.root;
    std::fs::write(root.join("scratch.txt"), "notes").unwrap();
    let readme = read(root, "README.md");
    std::fs::write(root.join("README.md"), readme + "\nedited\n").unwrap();
    let before = snapshot(root);

    for dry_run in [true, false] {
        let err = run(root, &options("99.0.0", dry_run)).unwrap_err();
        assert!(err.contains("not clean"), "{err}");
        assert!(err.contains("README.md"), "{err}");
        assert!(err.contains("scratch.txt"), "{err}");
    }
    assert_eq!(snapshot(root), before);
}

#[test]
fn stale_generated_files_are_refused_naming_them_and_the_command() {
    let clone = clone_head();
    let root = &clone.root;
    let spec = read(root, SPEC_PATH);
    let edited = spec.replacen("message: API limit reached", "message: API limit hit", 1);
    assert_ne!(
        spec, edited,
        "the spec's AA001 message moved; update this test"
    );
    std::fs::write(root.join(SPEC_PATH), edited).unwrap();
    git(root, &["commit", "--quiet", "-am", "edit the spec only"]);

    let err = run(root, &options("99.0.0", true)).unwrap_err();
    assert!(err.contains(GENERATED_PATH), "{err}");
    assert!(err.contains("cargo xtask codegen"), "{err}");
}

#[test]
fn a_version_that_is_not_greater_is_refused_before_anything_is_written() {
    let clone = clone_head();
    let root = &clone.root;
    let before = snapshot(root);
    let current = release::current_version(&read(root, "Cargo.toml")).unwrap();
    for version in [current.to_string(), "0.0.1".to_owned()] {
        let err = run(root, &options(&version, false)).unwrap_err();
        assert!(err.contains("is not greater than"), "{err}");
    }
    let err = run(root, &options("next", false)).unwrap_err();
    assert!(err.contains("not a semver version"), "{err}");
    assert_eq!(snapshot(root), before);
}
