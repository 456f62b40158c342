//! `cargo xtask`: see the crate docs of `xtask` for the tasks.

use std::process::{Command, ExitCode};

use xtask::codegen::{self, GENERATED_PATH, Status};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  codegen           regenerate crates/authenta-types/src/generated.rs from spec/
  codegen --check   fail if the generated file is stale
  ci                run exactly what .ci/run runs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = codegen::workspace_root();
    match args.as_slice() {
        ["codegen"] => match codegen::write(&root) {
            Ok(true) => {
                println!("updated {GENERATED_PATH}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                println!("{GENERATED_PATH} is up to date");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        ["codegen", "--check"] => match codegen::check(&root) {
            Ok(Status::Fresh) => {
                println!("{GENERATED_PATH} is up to date");
                ExitCode::SUCCESS
            }
            Ok(Status::Stale) => fail(&format!(
                "{GENERATED_PATH} is stale: it differs from what spec/authenta.openapi.yaml gives.\n\
                 Run `cargo xtask codegen` and commit the result."
            )),
            Err(e) => fail(&e.to_string()),
        },
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
