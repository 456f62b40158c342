//! The command's exit codes: its own contract with scripts, defined here
//! once and shown in `authenta --help` and the README.

use authenta_reqwest::ErrorClass;
use authenta_reqwest::client::Interrupt;

/// Everything worked (every media `PROCESSED`).
pub const SUCCESS: u8 = 0;
/// A media ended `FAILED` or `ERROR`, or lacks what was asked for (a
/// heatmap).
pub const UNFINISHED: u8 = 1;
/// A bad flag or argument, missing credentials or an unusable base URL.
pub const USAGE: u8 = 2;
/// The credentials were refused (`IAM001`, `INVALID_API_KEY`).
pub const AUTHENTICATION: u8 = 3;
/// The key lacks the permission the operation needs (`IAM002`, `FORBIDDEN`).
pub const PERMISSION: u8 = 4;
/// The key's quota is spent (`AA001`) or the account's credits (`U007`,
/// `INSUFFICIENT_BALANCE`, any 402).
pub const QUOTA_OR_CREDITS: u8 = 5;
/// A missing, unreadable or unsupported file, or input the API refused.
pub const INVALID_INPUT: u8 = 6;
/// No record has that mid.
pub const NOT_FOUND: u8 = 7;
/// The connection failed or timed out.
pub const NETWORK: u8 = 8;
/// The service failed (5xx) or answered something unreadable.
pub const SERVER: u8 = 9;
/// A media is not final yet: the wait ended first (`--timeout`), or it
/// has no result yet. Nothing failed; `authenta wait MID` asks again.
pub const NOT_FINAL: u8 = 10;
/// Writing a file locally failed (a downloaded artifact: disk full, no
/// permission).
pub const LOCAL_IO: u8 = 11;
/// Interrupted (Ctrl-C): the same command again resumes from the ledger.
pub const INTERRUPTED: u8 = 130;

/// The exit codes, each with its name and what it means, in order: the
/// table `--help` and the README show.
pub const TABLE: &[(u8, &str, &str)] = &[
    (
        SUCCESS,
        "success",
        "every media PROCESSED, every request done",
    ),
    (
        UNFINISHED,
        "unfinished",
        "a media ended FAILED or ERROR, or lacks what was asked for (a heatmap)",
    ),
    (
        USAGE,
        "usage",
        "a bad flag or argument, missing credentials, an unusable base URL",
    ),
    (
        AUTHENTICATION,
        "authentication",
        "the credentials were refused (IAM001, INVALID_API_KEY)",
    ),
    (
        PERMISSION,
        "permission",
        "the key lacks the permission the operation needs (IAM002, FORBIDDEN)",
    ),
    (
        QUOTA_OR_CREDITS,
        "quota or credits",
        "the key's quota is spent (AA001), or the account's credits (U007, INSUFFICIENT_BALANCE, any 402)",
    ),
    (
        INVALID_INPUT,
        "invalid input",
        "a missing, unreadable or unsupported file, or input the API refused",
    ),
    (NOT_FOUND, "not found", "no record has that mid"),
    (NETWORK, "network", "the connection failed or timed out"),
    (
        SERVER,
        "server",
        "the service failed (5xx) or answered something unreadable",
    ),
    (
        NOT_FINAL,
        "not final",
        "a media is still processing (--timeout ended the wait, or no result yet): nothing failed; `authenta wait MID` asks again",
    ),
    (
        LOCAL_IO,
        "local I/O",
        "writing a file here failed (disk full, no permission)",
    ),
    (
        INTERRUPTED,
        "interrupted",
        "Ctrl-C stopped it; the same command again resumes",
    ),
];

/// The exit code of an error of `class`.
pub fn for_class(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Config => USAGE,
        ErrorClass::Authentication => AUTHENTICATION,
        ErrorClass::Permission => PERMISSION,
        ErrorClass::Quota | ErrorClass::Credits => QUOTA_OR_CREDITS,
        ErrorClass::InvalidInput => INVALID_INPUT,
        ErrorClass::NotFound => NOT_FOUND,
        ErrorClass::Network => NETWORK,
        ErrorClass::Server => SERVER,
        ErrorClass::Timeout => NOT_FINAL,
        ErrorClass::LocalIo => LOCAL_IO,
        ErrorClass::Interrupted => INTERRUPTED,
        // A class this version does not know.
        _ => UNFINISHED,
    }
}

/// The table for `--help`.
pub fn help_text() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, name, meaning) in TABLE {
        text.push_str(&format!("  {code:>3}  {name}: {meaning}\n"));
    }
    text
}

/// Ctrl-C: the first triggers `interrupt`, the second exits at once.
pub async fn watch_ctrl_c(interrupt: Interrupt, ledger: bool) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupt.trigger();
    eprintln!(
        "authenta: interrupted: starting no more files; the steps in flight finish (Ctrl-C again to exit at once)"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        let how = match ledger {
            true => "the ledger is consistent: run the same command again to resume",
            false => "no ledger was kept",
        };
        eprintln!("authenta: interrupted again: exiting now; {how}");
        std::process::exit(i32::from(INTERRUPTED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_own_code_and_the_table_lists_each_code_once() {
        let classes = [
            ErrorClass::Config,
            ErrorClass::Authentication,
            ErrorClass::Permission,
            ErrorClass::Quota,
            ErrorClass::InvalidInput,
            ErrorClass::NotFound,
            ErrorClass::Network,
            ErrorClass::Server,
            ErrorClass::Timeout,
            ErrorClass::LocalIo,
            ErrorClass::Interrupted,
        ];
        let mut codes: Vec<u8> = classes.iter().map(|c| for_class(*c)).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), classes.len());
        assert_eq!(for_class(ErrorClass::Credits), for_class(ErrorClass::Quota));
        let listed: Vec<u8> = TABLE.iter().map(|(code, _, _)| *code).collect();
        let mut expected: Vec<u8> = (0..=LOCAL_IO).collect();
        expected.push(INTERRUPTED);
        assert_eq!(listed, expected);
    }

    #[test]
    fn the_readme_shows_the_same_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        for (code, name, meaning) in TABLE {
            let row = format!("| {code} | {name} | {meaning} |");
            assert!(readme.contains(&row), "README.md lacks the row {row:?}");
        }
    }
}
