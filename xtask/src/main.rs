//! `cargo xtask`: see the crate docs of `xtask` for the tasks.

use std::process::{Command, ExitCode};

use xtask::codegen::{self, SPEC_PATH, Status};
use xtask::{outside, release};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  codegen           regenerate crates/authenta-types/src/generated.rs from spec/
  codegen --check   fail if the generated file is stale
  release <version> [--dry-run]
                    bump every published crate, the internal requirements,
                    CHANGELOG.md and Cargo.lock to <version>, then package
                    the library crates (cargo publish --workspace --dry-run);
                    --dry-run does it all in a scratch clone and writes nothing
  outside-examples  build authenta-client's examples custom_client and
                    async_client unchanged as crates of their own outside
                    the workspace (path dependencies, the workspace's
                    Cargo.lock, --offline), and the README's quick starts
                    (```rust blocks with fn main) with only the crates its
                    ```toml blocks say to add
  ci                run exactly what .ci/run runs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = codegen::workspace_root();
    match args.as_slice() {
        ["codegen"] => match codegen::write(&root) {
            Ok(changed) if changed.is_empty() => {
                println!("generated files are up to date");
                ExitCode::SUCCESS
            }
            Ok(changed) => {
                for path in changed {
                    println!("updated {path}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        ["codegen", "--check"] => match codegen::check(&root) {
            Ok(Status::Fresh) => {
                println!("generated files are up to date");
                ExitCode::SUCCESS
            }
            Ok(Status::Stale(paths)) => fail(&format!(
                "stale generated file(s): {}: they differ from what {SPEC_PATH} gives.\n\
                 Run `cargo xtask codegen` and commit the result.",
                paths.join(", ")
            )),
            Err(e) => fail(&e.to_string()),
        },
        ["release", rest @ ..] => match release::Options::from_args(rest) {
            Ok(opts) => match release::run(&root, &opts, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            },
            Err(e) => {
                eprintln!("error: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        ["outside-examples"] => {
            match outside::run(&root, &outside::target_dir(&root), &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        ["ci"] => match Command::new("bash")
            .arg(root.join(".ci/run"))
            .current_dir(&root)
            .status()
        {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => fail(&format!("cannot run .ci/run: {e}")),
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
