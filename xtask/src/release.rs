//! `cargo xtask release <version> [--dry-run]`: moves every crate to a new
//! version together and checks that the library crates package.
//!
//! In order, it
//!
//! 1. checks the version (semver, no `+build` metadata, greater than the
//!    current `[workspace.package] version`);
//! 2. refuses a dirty tree (any tracked change or untracked file that git
//!    does not ignore), naming the files, and refuses stale generated files
//!    (the same check as `cargo xtask codegen --check`);
//! 3. bumps, with `toml_edit` so comments and layout stay as they are:
//!    - `[workspace.package] version`;
//!    - every path dependency's `version` requirement in the root
//!      `[workspace.dependencies]` (the internal crates are found as the path
//!      dependencies, not listed by hand; a path whose crate does not exist
//!      yet moves too, so it is right when the crate lands);
//!    - a published crate that sets its own `version` (it moves with the
//!      others), and a `version` on a direct path dependency in any member's
//!      `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]` or
//!      `[target.*.…]` tables;
//!
//!    A crate with `publish = false` and its own `version` (today `xtask`
//!    and `authenta-tests`) is left alone, and so are requirements on it:
//!    nobody depends on its version. An unpublished crate that inherits
//!    `version.workspace = true` moves anyway, and the plan says so.
//! 4. moves the notes under `## [Unreleased]` in `CHANGELOG.md` under a new
//!    `## [<version>] - <YYYY-MM-DD>` heading (today, UTC) and leaves an
//!    empty `## [Unreleased]` above it. It refuses when there are no notes
//!    (a release says what changed) or when the version already has a
//!    heading. Link reference definitions at the bottom are not managed.
//! 5. updates `Cargo.lock` with `cargo update --workspace` (offline first;
//!    online only if the local index cache cannot resolve);
//! 6. runs `cargo publish --workspace --dry-run --allow-dirty`, which
//!    packages and builds every published crate in dependency order and
//!    skips `publish = false` crates (cargo ≥ 1.90 resolves the internal
//!    crates that are not on crates.io yet from the packages it just made).
//!
//! With `--dry-run` the real tree is never written: the plan is printed, and
//! steps 3 to 6 run in a scratch `git clone` of HEAD in a temporary
//! directory (its own `target/`, unless `CARGO_TARGET_DIR` says otherwise),
//! which is removed afterwards. The run ends by checking that the real tree
//! is still clean.
//!
//! Without `--dry-run` the same steps edit the real tree. Nothing is
//! published, committed or tagged: the commands for that are printed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use semver::Version;
use serde_json::Value as Json;
use toml_edit::{DocumentMut, Item, TableLike, Value};

use crate::codegen::{self, Error, Status};

/// The changelog, relative to the workspace root.
pub const CHANGELOG_PATH: &str = "CHANGELOG.md";
/// The order of the `authenta` binary's code (see `tools/layout.py`): it
/// names symbols, whose names hold their crate's version.
const LAYOUT_ORDER: &str = "crates/authenta-cli/authenta.order";

/// The heading whose notes a release moves.
pub const UNRELEASED: &str = "## [Unreleased]";

const DEP_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// What `cargo xtask release` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The new version, as typed.
    pub version: String,
    /// Print and check everything, in a scratch clone; write nothing.
    pub dry_run: bool,
    /// Run `cargo publish --workspace --dry-run`. Always true from the
    /// command line; tests turn it off because it builds every crate.
    pub package: bool,
    /// The release date; `None` is today in UTC. Tests pin it.
    pub date: Option<jiff::civil::Date>,
}

impl Options {
    /// The options `cargo xtask release <version> [--dry-run]` uses.
    pub fn new(version: impl Into<String>, dry_run: bool) -> Self {
        Options {
            version: version.into(),
            dry_run,
            package: true,
            date: None,
        }
    }

    /// Reads the arguments after `release`.
    pub fn from_args(args: &[&str]) -> Result<Self, Error> {
        let mut version = None;
        let mut dry_run = false;
        for arg in args {
            match *arg {
                "--dry-run" => dry_run = true,
                flag if flag.starts_with('-') => {
                    return Err(format!("release: unknown option `{flag}`").into());
                }
                v if version.is_none() => version = Some(v),
                extra => return Err(format!("release: unexpected argument `{extra}`").into()),
            }
        }
        let version = version.ok_or("release: which version? e.g. `cargo xtask release 0.1.1`")?;
        Ok(Options::new(version, dry_run))
    }
}

/// One value the release changes, for the printed plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The file, relative to the workspace root.
    pub file: String,
    /// What in the file, e.g. `[workspace.package] version`.
    pub what: String,
    /// The value before.
    pub old: String,
    /// The value after.
    pub new: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} → {}",
            self.file, self.what, self.old, self.new
        )
    }
}

/// A workspace member, as far as a release cares.
#[derive(Clone, Debug)]
pub struct Member {
    /// The package name.
    pub name: String,
    /// Its version today.
    pub version: Version,
    /// Its manifest, relative to the workspace root.
    pub manifest: String,
    /// False for `publish = false`.
    pub publish: bool,
    /// True for `version.workspace = true`.
    pub inherits_version: bool,
    /// The members it needs to build (normal and build dependencies).
    pub needs: BTreeSet<String>,
}

impl Member {
    /// Whether this member ends up at the new version.
    pub fn moves(&self) -> bool {
        self.publish || self.inherits_version
    }
}

/// Everything a release changes, computed before anything is written.
#[derive(Clone, Debug)]
pub struct Plan {
    /// `[workspace.package] version` today.
    pub old: Version,
    /// The version released.
    pub new: Version,
    /// The release date, `YYYY-MM-DD`.
    pub date: String,
    /// Every value that changes.
    pub changes: Vec<Change>,
    /// Lines of notes moved out of `## [Unreleased]`.
    pub notes_lines: usize,
    /// New contents: (path relative to the root, text).
    pub edits: Vec<(String, String)>,
    /// The workspace members.
    pub members: Vec<Member>,
}

impl Plan {
    /// The published crates, each after the crates it needs.
    pub fn publish_order(&self) -> Vec<String> {
        publish_order(&self.members)
    }

    fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "release {} → {} ({})", self.old, self.new, self.date)?;
        for c in &self.changes {
            writeln!(out, "  {c}")?;
        }
        writeln!(
            out,
            "  {CHANGELOG_PATH}: {} line(s) under {UNRELEASED} move under ## [{}] - {}",
            self.notes_lines, self.new, self.date
        )?;
        writeln!(
            out,
            "  Cargo.lock: workspace packages follow (cargo update --workspace)"
        )?;
        let (moving, staying): (Vec<&Member>, Vec<&Member>) =
            self.members.iter().partition(|m| m.moves());
        for m in &moving {
            let why = match (m.publish, m.inherits_version) {
                (true, true) => "published, version.workspace = true",
                (true, false) => "published, own version bumped",
                (false, _) => "publish = false, but version.workspace = true",
            };
            writeln!(
                out,
                "  crate {} {} → {} ({why})",
                m.name, m.version, self.new
            )?;
        }
        for m in &staying {
            writeln!(
                out,
                "  crate {} stays at {} (publish = false, own version)",
                m.name, m.version
            )?;
        }
        writeln!(out, "packaging order: {}", self.publish_order().join(" → "))
    }
}

/// Runs a release from the workspace at `root`, printing to `out`.
pub fn run(root: &Path, opts: &Options, out: &mut dyn Write) -> Result<(), Error> {
    let new = parse_version(&opts.version)?;
    ensure_clean(root)?;
    if let Status::Stale(paths) = codegen::check(root)? {
        return Err(format!(
            "stale generated file(s): {}: they differ from what {} gives.\n\
             Run `cargo xtask codegen`, commit the result, then release.",
            paths.join(", "),
            codegen::SPEC_PATH
        )
        .into());
    }
    let date = opts.date.unwrap_or_else(|| {
        jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()
    });
    let plan = plan(root, &new, date)?;
    plan.print(out)?;

    if opts.dry_run {
        let scratch = tempfile::Builder::new()
            .prefix("authenta-release-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let copy = scratch.path().join("authenta-rs");
        clone_head(root, &copy)?;
        writeln!(
            out,
            "dry run: applying the release to a scratch clone of HEAD at {}",
            copy.display()
        )?;
        apply(&copy, &plan, opts.package, out)?;
        ensure_clean(root).map_err(|e| format!("the dry run changed the real tree: {e}"))?;
        drop(scratch);
        writeln!(
            out,
            "dry run done: {} is unchanged; run without --dry-run to release {}",
            root.display(),
            plan.new
        )?;
    } else {
        let changed = apply(root, &plan, opts.package, out).map_err(|e| {
            format!(
                "{e}\nThe tree is already bumped to {}: see `git status`; fix the cause and \
                 re-run `cargo publish --workspace --dry-run --allow-dirty`, or undo the \
                 release edits with `git restore Cargo.toml Cargo.lock {CHANGELOG_PATH}` \
                 (and any member manifests listed above).",
                plan.new
            )
        })?;
        let v = &plan.new;
        writeln!(
            out,
            "\nreleased {v} in the tree; nothing is committed, tagged or published. Next:"
        )?;
        writeln!(
            out,
            "  git diff                      # review the bump and the notes"
        )?;
        // A crate's version is part of its symbols' names, which the
        // binary's layout lists (tools/layout.py).
        let mut commit = changed.join(" ");
        if root.join(LAYOUT_ORDER).exists() {
            writeln!(
                out,
                "  cargo build --release -p authenta-cli -p authenta-emulator && python3 tools/layout.py"
            )?;
            writeln!(
                out,
                "                                # the binary's layout names this version's symbols"
            )?;
            commit = format!("{commit} {LAYOUT_ORDER}");
        }
        writeln!(out, "  git commit -m \"Release {v}\" -- {commit}")?;
        writeln!(out, "  git tag -a v{v} -m \"authenta-rs {v}\"")?;
        writeln!(
            out,
            "  cargo publish --workspace     # publishes {} in order",
            plan.publish_order().join(", ")
        )?;
        writeln!(out, "  git push origin HEAD v{v}")?;
    }
    Ok(())
}

/// Reads `version`: semver, without build metadata (crates.io ignores it).
pub fn parse_version(version: &str) -> Result<Version, Error> {
    let v = Version::parse(version).map_err(|e| {
        let hint = if version.starts_with('v') {
            " (leave out the leading `v`)"
        } else {
            ""
        };
        format!("`{version}` is not a semver version like 0.1.1 or 0.2.0-rc.1{hint}: {e}")
    })?;
    if !v.build.is_empty() {
        return Err(format!(
            "`{version}`: leave out the build metadata (`+{}`); crates.io ignores it",
            v.build
        )
        .into());
    }
    Ok(v)
}

/// Computes the release of `new` on the workspace at `root`.
pub fn plan(root: &Path, new: &Version, date: jiff::civil::Date) -> Result<Plan, Error> {
    let date = format_date(date);
    let members = load_members(root)?;
    let frozen: BTreeSet<String> = members
        .iter()
        .filter(|m| !m.moves())
        .map(|m| m.name.clone())
        .collect();

    let root_text = read(root, "Cargo.toml")?;
    let old = current_version(&root_text)?;
    if *new <= old {
        return Err(format!("{new} is not greater than the current version {old}").into());
    }
    let mut changes = Vec::new();
    let mut edits = Vec::new();
    let (text, c) = bump_root_manifest(&root_text, new, &frozen)?;
    changes.extend(c);
    edits.push(("Cargo.toml".to_owned(), text));

    for m in &members {
        let before = read(root, &m.manifest)?;
        let bump_own = m.publish && !m.inherits_version;
        let (after, c) = bump_member_manifest(&before, &m.manifest, new, &frozen, bump_own)?;
        if !c.is_empty() {
            changes.extend(c);
            edits.push((m.manifest.clone(), after));
        }
    }

    let (changelog, notes_lines) = move_unreleased(&read(root, CHANGELOG_PATH)?, new, &date)?;
    edits.push((CHANGELOG_PATH.to_owned(), changelog));
    Ok(Plan {
        old,
        new: new.clone(),
        date,
        changes,
        notes_lines,
        edits,
        members,
    })
}

/// Writes the plan's files into the workspace at `dir`, updates its lock
/// file and, if `package`, packages it. Returns the files that changed.
fn apply(
    dir: &Path,
    plan: &Plan,
    package: bool,
    out: &mut dyn Write,
) -> Result<Vec<String>, Error> {
    for (path, text) in &plan.edits {
        std::fs::write(dir.join(path), text).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let lock_before = read(dir, "Cargo.lock")?;
    update_lock(dir)?;
    let lock = read(dir, "Cargo.lock")?;
    let locked = lock_versions(&lock)?;
    for m in plan.members.iter().filter(|m| m.moves()) {
        let found = locked.get(&m.name).map(Vec::as_slice).unwrap_or_default();
        if found != [plan.new.to_string()] {
            return Err(format!(
                "Cargo.lock: expected {} {} after `cargo update --workspace`, found {found:?}",
                m.name, plan.new
            )
            .into());
        }
    }
    let mut changed: Vec<String> = plan.edits.iter().map(|(path, _)| path.clone()).collect();
    if lock != lock_before {
        changed.push("Cargo.lock".to_owned());
    }
    writeln!(out, "changed: {}", changed.join(", "))?;
    if package {
        let order = plan.publish_order();
        writeln!(
            out,
            "packaging {} (cargo publish --workspace --dry-run --allow-dirty; this builds each crate)",
            order.join(", ")
        )?;
        out.flush()?;
        let started = Instant::now();
        let status = cargo_command()
            .args(["publish", "--workspace", "--dry-run", "--allow-dirty"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`cargo publish --workspace --dry-run --allow-dirty` failed ({status}) in {}: \
                 cargo's message above names the crate and the cause",
                dir.display()
            )
            .into());
        }
        writeln!(
            out,
            "packaged {} in {:.0?}",
            order.join(", "),
            started.elapsed()
        )?;
    } else {
        writeln!(out, "packaging skipped")?;
    }
    Ok(changed)
}

/// `YYYY-MM-DD`.
pub fn format_date(date: jiff::civil::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

fn read(root: &Path, path: &str) -> Result<String, Error> {
    std::fs::read_to_string(root.join(path)).map_err(|e| format!("cannot read {path}: {e}").into())
}

/// The cargo that runs this task (`$CARGO`), else `cargo` on the path.
fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cargo <args>` in `dir`; its stdout.
fn cargo(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let mut cmd = cargo_command();
    cmd.args(args);
    stdout_of(cmd, dir, &format!("cargo {}", args.join(" ")))
}

/// Runs a read-only or scratch-only git command in `dir`; its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let mut cmd = Command::new("git");
    cmd.arg("--no-optional-locks").args(args);
    stdout_of(cmd, dir, &format!("git {}", args.join(" ")))
}

/// Runs `cmd` in `dir` without input; its stdout, or an error naming the
/// command (`what`) with what it printed on stderr.
fn stdout_of(mut cmd: Command, dir: &Path, what: &str) -> Result<Vec<u8>, Error> {
    let out = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{what}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{what}` failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(out.stdout)
}

/// Fails, naming the files, unless `git status` shows nothing (ignored
/// files do not count).
pub fn ensure_clean(root: &Path) -> Result<(), Error> {
    let status = git(
        root,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )?;
    let dirty = dirty_entries(&status);
    if dirty.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the working tree is not clean; commit or remove these first, so the release \
         commit holds only the release:\n  {}",
        dirty.join("\n  ")
    )
    .into())
}

/// The entries of `git status --porcelain=v1 -z`, as `XY path` lines
/// (a rename's source path is dropped).
pub fn dirty_entries(porcelain_z: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(porcelain_z);
    let mut entries = Vec::new();
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    while let Some(entry) = fields.next() {
        if entry.starts_with(['R', 'C']) {
            fields.next();
        }
        entries.push(entry.to_owned());
    }
    entries
}

/// Clones HEAD of `root` into `dest` (a scratch directory): nothing in
/// `root` is written.
fn clone_head(root: &Path, dest: &Path) -> Result<(), Error> {
    let head = String::from_utf8(git(root, &["rev-parse", "HEAD"])?)?;
    let parent = dest.parent().ok_or("the clone needs a parent directory")?;
    let (src, dst) = (root.to_string_lossy(), dest.to_string_lossy());
    git(parent, &["clone", "--quiet", "--no-checkout", &src, &dst])?;
    git(dest, &["checkout", "--quiet", "--detach", head.trim()])?;
    Ok(())
}

/// `cargo update --workspace`, offline first.
fn update_lock(dir: &Path) -> Result<(), Error> {
    cargo(dir, &["update", "--workspace", "--offline"])
        .or_else(|_| cargo(dir, &["update", "--workspace"]))
        .map(drop)
}

/// The members from `cargo metadata --no-deps` (which resolves nothing and
/// writes no lock file), with how each sets its version.
pub fn load_members(root: &Path) -> Result<Vec<Member>, Error> {
    let out = cargo(
        root,
        &[
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ],
    )?;
    let meta: Json = serde_json::from_slice(&out)?;
    let ws_root = PathBuf::from(meta["workspace_root"].as_str().ok_or("no workspace_root")?);
    let packages = meta["packages"].as_array().ok_or("no packages")?;
    let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut members = Vec::new();
    for p in packages {
        let name = p["name"].as_str().ok_or("a package without a name")?;
        let manifest_path = Path::new(p["manifest_path"].as_str().ok_or("no manifest_path")?);
        let manifest = manifest_path
            .strip_prefix(&ws_root)
            .unwrap_or(manifest_path)
            .to_string_lossy()
            .into_owned();
        let doc: DocumentMut = read(root, &manifest)?
            .parse()
            .map_err(|e| format!("{manifest}: {e}"))?;
        let inherits_version = doc
            .get("package")
            .and_then(|p| p.get("version"))
            .and_then(Item::as_table_like)
            .and_then(|t| t.get("workspace"))
            .and_then(Item::as_bool)
            == Some(true);
        // `publish`: null for anywhere, [] for `publish = false`.
        let publish = p["publish"].as_array().is_none_or(|r| !r.is_empty());
        let needs = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].as_str() != Some("dev") && d.get("path").is_some())
            .filter_map(|d| d["name"].as_str())
            .filter(|n| names.contains(n))
            .map(str::to_owned)
            .collect();
        members.push(Member {
            name: name.to_owned(),
            version: Version::parse(p["version"].as_str().ok_or("no version")?)?,
            manifest,
            publish,
            inherits_version,
            needs,
        });
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(members)
}

/// The published members, each after the members it needs (ties by name).
pub fn publish_order(members: &[Member]) -> Vec<String> {
    let published: BTreeMap<&str, &Member> = members
        .iter()
        .filter(|m| m.publish)
        .map(|m| (m.name.as_str(), m))
        .collect();
    let mut done: Vec<String> = Vec::new();
    while done.len() < published.len() {
        let next = published.values().find(|m| {
            !done.contains(&m.name)
                && m.needs
                    .iter()
                    .all(|n| !published.contains_key(n.as_str()) || done.contains(n))
        });
        match next {
            Some(m) => done.push(m.name.clone()),
            // A cycle: cargo would refuse it anyway; list the rest by name.
            None => done.extend(
                published
                    .keys()
                    .filter(|n| !done.iter().any(|d| d == *n))
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>(),
            ),
        }
    }
    done
}

/// `[workspace.package] version` of the root manifest.
pub fn current_version(root_manifest: &str) -> Result<Version, Error> {
    let doc: DocumentMut = root_manifest
        .parse()
        .map_err(|e| format!("Cargo.toml: {e}"))?;
    let v = doc
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(Item::as_str)
        .ok_or("Cargo.toml has no [workspace.package] version string")?;
    Version::parse(v).map_err(|e| format!("Cargo.toml: version `{v}`: {e}").into())
}

/// Bumps `[workspace.package] version` and the `version` of every path
/// dependency in `[workspace.dependencies]` except those naming a crate in
/// `frozen`. Comments and layout are kept.
pub fn bump_root_manifest(
    text: &str,
    new: &Version,
    frozen: &BTreeSet<String>,
) -> Result<(String, Vec<Change>), Error> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("Cargo.toml: {e}"))?;
    let mut changes = Vec::new();
    let version = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("package"))
        .and_then(|p| p.get_mut("version"))
        .and_then(Item::as_value_mut)
        .ok_or("Cargo.toml has no [workspace.package] version")?;
    let old = version
        .as_str()
        .ok_or("[workspace.package] version must be a string")?
        .to_owned();
    set_str(version, &new.to_string());
    changes.push(change(
        "Cargo.toml",
        "[workspace.package] version",
        &old,
        &new.to_string(),
    ));
    if let Some(deps) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("dependencies"))
        .and_then(Item::as_table_like_mut)
    {
        bump_path_deps(
            deps,
            "Cargo.toml",
            "[workspace.dependencies]",
            new,
            frozen,
            &mut changes,
        );
    }
    Ok((doc.to_string(), changes))
}

/// Bumps a member manifest at `file`: its own `package.version` if
/// `bump_own`, and the `version` of its direct path dependencies (except
/// on crates in `frozen`). Returns the text unchanged when nothing moves.
pub fn bump_member_manifest(
    text: &str,
    file: &str,
    new: &Version,
    frozen: &BTreeSet<String>,
    bump_own: bool,
) -> Result<(String, Vec<Change>), Error> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{file}: {e}"))?;
    let mut changes = Vec::new();
    if bump_own
        && let Some(v) = doc
            .get_mut("package")
            .and_then(|p| p.get_mut("version"))
            .and_then(Item::as_value_mut)
        && let Some(old) = v.as_str().map(str::to_owned)
    {
        set_str(v, &new.to_string());
        changes.push(change(file, "[package] version", &old, &new.to_string()));
    }
    for kind in DEP_TABLES {
        if let Some(t) = doc.get_mut(kind).and_then(Item::as_table_like_mut) {
            bump_path_deps(t, file, &format!("[{kind}]"), new, frozen, &mut changes);
        }
    }
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (cfg, target) in targets.iter_mut() {
            let cfg = cfg.get().to_owned();
            for kind in DEP_TABLES {
                if let Some(t) = target.get_mut(kind).and_then(Item::as_table_like_mut) {
                    let label = format!("[target.'{cfg}'.{kind}]");
                    bump_path_deps(t, file, &label, new, frozen, &mut changes);
                }
            }
        }
    }
    if changes.is_empty() {
        return Ok((text.to_owned(), changes));
    }
    Ok((doc.to_string(), changes))
}

fn bump_path_deps(
    deps: &mut dyn TableLike,
    file: &str,
    table: &str,
    new: &Version,
    frozen: &BTreeSet<String>,
    changes: &mut Vec<Change>,
) {
    for (key, item) in deps.iter_mut() {
        let Some(dep) = item.as_table_like_mut() else {
            continue;
        };
        if !dep.contains_key("path") {
            continue;
        }
        let name = dep
            .get("package")
            .and_then(Item::as_str)
            .unwrap_or(key.get())
            .to_owned();
        if frozen.contains(&name) {
            continue;
        }
        let Some(v) = dep.get_mut("version").and_then(Item::as_value_mut) else {
            continue;
        };
        let Some(old) = v.as_str().map(str::to_owned) else {
            continue;
        };
        let req = bump_req(&old, new);
        if req != old {
            set_str(v, &req);
            changes.push(change(
                file,
                &format!("{table} {} version", key.get()),
                &old,
                &req,
            ));
        }
    }
}

fn change(file: &str, what: &str, old: &str, new: &str) -> Change {
    Change {
        file: file.to_owned(),
        what: what.to_owned(),
        old: old.to_owned(),
        new: new.to_owned(),
    }
}

/// A requirement on `new` that keeps the old one's operator: `0.1.0` →
/// `0.1.1`, `=0.1.0` → `=0.1.1`, `^0.1` → `^0.1.1`.
pub fn bump_req(old: &str, new: &Version) -> String {
    let rest = old.trim_start_matches(['=', '^', '~', '>', ' ']);
    let op = old[..old.len() - rest.len()].trim_end();
    format!("{op}{new}")
}

/// Replaces a string value and keeps the spaces and comments around it.
fn set_str(slot: &mut Value, s: &str) {
    let decor = slot.decor().clone();
    *slot = Value::from(s);
    *slot.decor_mut() = decor;
}

/// Moves the notes under `## [Unreleased]` under `## [<version>] - <date>`,
/// leaving `## [Unreleased]` empty above it. Returns the new text and how
/// many lines of notes moved. Fails when there are no notes, no
/// `## [Unreleased]` heading, or the version already has a heading.
pub fn move_unreleased(
    text: &str,
    version: &Version,
    date: &str,
) -> Result<(String, usize), Error> {
    let mut offset = 0;
    let mut heading_end = None;
    let mut notes_end = text.len();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed.starts_with("## ") {
            if let Some(rest) = trimmed.strip_prefix("## [")
                && rest.split(']').next() == Some(&version.to_string())
            {
                return Err(format!("{CHANGELOG_PATH} already has a heading for {version}").into());
            }
            if heading_end.is_some() {
                notes_end = notes_end.min(offset);
            } else if trimmed == UNRELEASED {
                heading_end = Some(offset + line.len());
            }
        } else if heading_end.is_some() && notes_end == text.len() && is_link_definition(trimmed) {
            notes_end = offset;
        }
        offset += line.len();
    }
    let start =
        heading_end.ok_or_else(|| format!("{CHANGELOG_PATH} has no `{UNRELEASED}` line"))?;
    let notes = text[start..notes_end]
        .trim_start_matches(['\n', '\r'])
        .trim_end();
    if notes.is_empty() {
        return Err(format!(
            "{CHANGELOG_PATH}: nothing under {UNRELEASED}; write what {version} changes first"
        )
        .into());
    }
    let mut out = String::with_capacity(text.len() + 40);
    out.push_str(&text[..start]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("\n## [{version}] - {date}\n\n{notes}\n"));
    if notes_end < text.len() {
        out.push('\n');
        out.push_str(&text[notes_end..]);
    }
    Ok((out, notes.lines().count()))
}

/// `[name]: target`, a Markdown link reference definition.
fn is_link_definition(line: &str) -> bool {
    line.starts_with('[')
        && line
            .split_once("]:")
            .is_some_and(|(label, _)| !label.contains(']'))
}

/// The versions of each workspace package (no `source`) in a `Cargo.lock`.
pub fn lock_versions(lock: &str) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let doc: DocumentMut = lock.parse().map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let packages = doc
        .get("package")
        .and_then(Item::as_array_of_tables)
        .ok_or("Cargo.lock has no [[package]]")?;
    for p in packages.iter().filter(|p| !p.contains_key("source")) {
        if let (Some(name), Some(version)) = (
            p.get("name").and_then(Item::as_str),
            p.get("version").and_then(Item::as_str),
        ) {
            found
                .entry(name.to_owned())
                .or_default()
                .push(version.to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = r#"[workspace]
members = ["crates/*", "xtask"]

[workspace.package]
version = "0.1.0" # moves with `cargo xtask release`
edition = "2024"

[workspace.dependencies]
# Internal crates: versions move together.
authenta-types = { path = "crates/authenta-types", version = "0.1.0" }
authenta-proto = { path = "crates/authenta-proto",   version = "=0.1.0" }
authenta-later = { path = "crates/authenta-later", version = "0.1.0", default-features = false }
xtask = { path = "xtask", version = "0.0.1" }
renamed = { package = "authenta-emulator", path = "crates/authenta-emulator", version = "0.1.0" }

# Not internal.
serde = { version = "0.1.0", features = ["derive"] }
http = "0.1.0"

[workspace.dependencies.authenta-ureq]
path = "crates/authenta-ureq"
version = "0.1.0"   # a table of its own
"#;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn frozen(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_root_manifest_bump_keeps_layout_and_skips_frozen_and_external() {
        let (text, changes) = bump_root_manifest(ROOT, &v("0.1.1"), &frozen(&["xtask"])).unwrap();
        let expected = ROOT
            .replace("version = \"0.1.0\" # moves", "version = \"0.1.1\" # moves")
            .replace(
                "authenta-types\", version = \"0.1.0\"",
                "authenta-types\", version = \"0.1.1\"",
            )
            .replace("version = \"=0.1.0\"", "version = \"=0.1.1\"")
            .replace(
                "authenta-later\", version = \"0.1.0\"",
                "authenta-later\", version = \"0.1.1\"",
            )
            .replace(
                "authenta-emulator\", path = \"crates/authenta-emulator\", version = \"0.1.0\"",
                "authenta-emulator\", path = \"crates/authenta-emulator\", version = \"0.1.1\"",
            )
            .replace(
                "version = \"0.1.0\"   # a table",
                "version = \"0.1.1\"   # a table",
            );
        assert_eq!(text, expected);
        let whats: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            whats,
            [
                "Cargo.toml: [workspace.package] version: 0.1.0 → 0.1.1",
                "Cargo.toml: [workspace.dependencies] authenta-types version: 0.1.0 → 0.1.1",
                "Cargo.toml: [workspace.dependencies] authenta-proto version: =0.1.0 → =0.1.1",
                "Cargo.toml: [workspace.dependencies] authenta-later version: 0.1.0 → 0.1.1",
                "Cargo.toml: [workspace.dependencies] renamed version: 0.1.0 → 0.1.1",
                "Cargo.toml: [workspace.dependencies] authenta-ureq version: 0.1.0 → 0.1.1",
            ]
        );
        assert_eq!(current_version(&text).unwrap(), v("0.1.1"));
    }

    #[test]
    fn a_root_manifest_without_a_workspace_version_is_refused() {
        let err = bump_root_manifest("[workspace]\n", &v("0.1.1"), &BTreeSet::new()).unwrap_err();
        assert!(err.to_string().contains("[workspace.package] version"));
    }

    const MEMBER: &str = r#"[package]
name = "authenta-cli"
version = "0.1.0" # its own
edition.workspace = true

[dependencies]
authenta-reqwest.workspace = true
authenta-proto = { path = "../authenta-proto", version = "0.1.0" }
xtask = { path = "../../xtask", version = "0.0.1" }
clap = "4"

[target.'cfg(unix)'.dependencies]
authenta-ureq = { path = "../authenta-ureq", version = "0.1.0" }

[dev-dependencies.authenta-emulator]
path = "../authenta-emulator"
version = "0.1.0"
"#;

    #[test]
    fn a_member_manifest_bumps_its_own_version_and_direct_path_dependencies() {
        let (text, changes) = bump_member_manifest(
            MEMBER,
            "crates/authenta-cli/Cargo.toml",
            &v("0.2.0"),
            &frozen(&["xtask"]),
            true,
        )
        .unwrap();
        let expected = MEMBER
            .replace(
                "version = \"0.1.0\" # its own",
                "version = \"0.2.0\" # its own",
            )
            .replace(
                "authenta-proto\", version = \"0.1.0\"",
                "authenta-proto\", version = \"0.2.0\"",
            )
            .replace(
                "authenta-ureq\", version = \"0.1.0\"",
                "authenta-ureq\", version = \"0.2.0\"",
            )
            .replace(
                "authenta-emulator\"\nversion = \"0.1.0\"",
                "authenta-emulator\"\nversion = \"0.2.0\"",
            );
        assert_eq!(text, expected);
        assert_eq!(changes.len(), 4);
        assert_eq!(
            changes[3].what,
            "[target.'cfg(unix)'.dependencies] authenta-ureq version"
        );
    }

    #[test]
    fn an_unpublished_member_keeps_its_own_version() {
        let (text, changes) = bump_member_manifest(
            "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\npublish = false\n",
            "xtask/Cargo.toml",
            &v("0.1.1"),
            &BTreeSet::new(),
            false,
        )
        .unwrap();
        assert!(changes.is_empty());
        assert!(text.contains("version = \"0.1.0\""));
    }

    #[test]
    fn requirements_keep_their_operator() {
        let new = v("1.2.3");
        assert_eq!(bump_req("0.1.0", &new), "1.2.3");
        assert_eq!(bump_req("=0.1.0", &new), "=1.2.3");
        assert_eq!(bump_req("^0.1", &new), "^1.2.3");
        assert_eq!(bump_req("~0.1.0", &new), "~1.2.3");
        assert_eq!(bump_req(">= 0.1", &new), ">=1.2.3");
    }

    const CHANGELOG: &str = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n- a thing\n  over two lines\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-01-02\n\n### Added\n- the start\n\n[Unreleased]: https://example.invalid/compare/v0.1.0...HEAD\n";

    #[test]
    fn the_changelog_move_leaves_an_empty_unreleased_above_the_new_version() {
        let (text, lines) = move_unreleased(CHANGELOG, &v("0.1.1"), "2026-11-23").unwrap();
        assert_eq!(
            text,
            "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n## [0.1.1] - 2026-11-23\n\n### Added\n- a thing\n  over two lines\n\n### Fixed\n- a bug\n\n## [0.1.0] - 2026-01-02\n\n### Added\n- the start\n\n[Unreleased]: https://example.invalid/compare/v0.1.0...HEAD\n"
        );
        assert_eq!(lines, 6);
        // Released again later: the new notes go above 0.1.1.
        let again = text.replace(
            "## [Unreleased]\n\n",
            "## [Unreleased]\n\n### Changed\n- more\n\n",
        );
        let (text, _) = move_unreleased(&again, &v("0.2.0"), "2026-12-01").unwrap();
        assert!(text.contains(
            "## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n### Changed\n- more\n\n## [0.1.1] - 2026-11-23\n"
        ));
    }

    #[test]
    fn the_changelog_move_stops_at_link_definitions_and_the_end() {
        let text = "## [Unreleased]\n- one\n\n[Unreleased]: https://example.invalid\n";
        let (moved, _) = move_unreleased(text, &v("1.0.0"), "2026-01-01").unwrap();
        assert_eq!(
            moved,
            "## [Unreleased]\n\n## [1.0.0] - 2026-01-01\n\n- one\n\n[Unreleased]: https://example.invalid\n"
        );
        let (moved, _) = move_unreleased("## [Unreleased]\n- last", &v("1.0.0"), "d").unwrap();
        assert_eq!(moved, "## [Unreleased]\n\n## [1.0.0] - d\n\n- last\n");
    }

    #[test]
    fn the_changelog_move_refuses_no_notes_no_heading_and_a_repeat() {
        let empty = "# Changelog\n\n## [Unreleased]\n\n\n## [0.1.0] - 2026-01-02\n- x\n";
        let err = move_unreleased(empty, &v("0.1.1"), "d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing under ## [Unreleased]"), "{err}");
        let err = move_unreleased("# Changelog\n", &v("0.1.1"), "d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `## [Unreleased]`"), "{err}");
        let err = move_unreleased(CHANGELOG, &v("0.1.0"), "d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("already has a heading for 0.1.0"), "{err}");
    }

    #[test]
    fn versions_must_be_plain_semver() {
        assert_eq!(parse_version("0.1.1").unwrap(), v("0.1.1"));
        assert_eq!(parse_version("0.2.0-rc.1").unwrap(), v("0.2.0-rc.1"));
        let err = parse_version("v0.1.1").unwrap_err().to_string();
        assert!(err.contains("leading `v`"), "{err}");
        assert!(parse_version("0.1").is_err());
        assert!(parse_version("0.1.1+abc").is_err());
    }

    #[test]
    fn arguments() {
        let o = Options::from_args(&["0.1.1", "--dry-run"]).unwrap();
        assert_eq!(
            (o.version.as_str(), o.dry_run, o.package),
            ("0.1.1", true, true)
        );
        let o = Options::from_args(&["--dry-run", "0.1.1"]).unwrap();
        assert!(o.dry_run);
        assert!(!Options::from_args(&["0.1.1"]).unwrap().dry_run);
        assert!(Options::from_args(&[]).is_err());
        assert!(Options::from_args(&["0.1.1", "0.1.2"]).is_err());
        assert!(Options::from_args(&["0.1.1", "--force"]).is_err());
    }

    #[test]
    fn porcelain_entries_name_each_file_once() {
        let z = b" M Cargo.toml\0?? new file.txt\0R  new.rs\0old.rs\0";
        assert_eq!(
            dirty_entries(z),
            [" M Cargo.toml", "?? new file.txt", "R  new.rs"]
        );
        assert!(dirty_entries(b"").is_empty());
    }

    fn member(name: &str, publish: bool, needs: &[&str]) -> Member {
        Member {
            name: name.into(),
            version: v("0.1.0"),
            manifest: format!("{name}/Cargo.toml"),
            publish,
            inherits_version: publish,
            needs: needs.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn packaging_order_puts_dependencies_first_and_skips_unpublished() {
        let members = [
            member(
                "authenta-cli",
                true,
                &["authenta-reqwest", "authenta-emulator"],
            ),
            member("authenta-emulator", true, &["authenta-types"]),
            member("authenta-proto", true, &["authenta-types"]),
            member("authenta-reqwest", true, &["authenta-proto"]),
            member("authenta-types", true, &[]),
            member("xtask", false, &[]),
        ];
        assert_eq!(
            publish_order(&members),
            [
                "authenta-types",
                "authenta-emulator",
                "authenta-proto",
                "authenta-reqwest",
                "authenta-cli"
            ]
        );
    }

    #[test]
    fn lock_versions_reads_workspace_packages_only() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.1\"\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let found = lock_versions(lock).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found["a"], ["0.1.1"]);
    }

    #[test]
    fn dates_are_iso() {
        let d = jiff::civil::date(2026, 3, 5);
        assert_eq!(format_date(d), "2026-03-05");
    }
}
