//! The fault matrix: every way the network and the servers fail (`matrix`),
//! against every step a client takes, on `authenta-ureq`,
//! `authenta-reqwest` and proto's client over the `TcpStream` HTTP client.
//! One `#[test]` per client and fault; its rows (one per step) run in
//! parallel threads, each against its own in-process emulator. RELIABILITY.md
//! at the repository root is the matrix as a table, checked here.
//!
//! ```text
//! cargo test -p authenta-tests --test faults
//! cargo test -p authenta-tests --test faults ureq::   # one client
//! AUTHENTA_BLESS=1 cargo test -p authenta-tests --test faults reliability
//! ```

mod matrix;
mod run;

/// Instantiates one test per fault for one client as `mod $name { ... }`,
/// and lists the faults so a test can check that none is missing.
macro_rules! faults {
    ($name:ident, $backend:ty) => {
        mod $name {
            faults!(@each $backend;
                status_500_json => Status500Json,
                status_502_html => Status502Html,
                status_503_retry_after => Status503RetryAfter,
                status_504_late => Status504Late,
                aa001 => Aa001,
                iam002 => Iam002,
                iam001 => Iam001,
                u007 => U007,
                unknown_code => UnknownCode,
                refused => Refused,
                reset_before_answer => ResetBeforeAnswer,
                reset_mid_body => ResetMidBody,
                truncated => Truncated,
                slow_answer => SlowAnswer,
                stall_mid_upload => StallMidUpload,
                not_json => NotJson,
                missing_field => MissingField,
                over_cap => OverCap,
                redirect => Redirect,
                signature_does_not_match => SignatureDoesNotMatch,
                access_denied_expired => AccessDeniedExpired,
                entity_too_large => EntityTooLarge,
                no_such_key => NoSuchKey,
                slow_down => SlowDown,
                idle_closed => IdleClosed,
                refused_early => RefusedEarly,
                huge_retry_after => HugeRetryAfter,
                ignore_offset => IgnoreOffset,
                stale_list => StaleList,
                dot_mid => DotMid,
                upload_stall => UploadStall,
                throttled => Throttled,
                plain_http => PlainHttp,
            );
        }
    };
    (@each $backend:ty; $($test:ident => $fault:ident),+ $(,)?) => {
        /// Every fault this client runs.
        #[allow(dead_code)]
        pub const LISTED: &[crate::matrix::Fault] = &[$(crate::matrix::Fault::$fault),+];
        $(
            #[test]
            fn $test() {
                crate::run::fault::<$backend>(crate::matrix::Fault::$fault);
            }
        )+
    };
}

faults!(ureq, authenta_ureq::Client);
faults!(reqwest, authenta_tests::Reqwest);
faults!(tcp, authenta_tests::TcpClient);

#[test]
fn every_fault_runs_on_every_client() {
    for listed in [ureq::LISTED, reqwest::LISTED, tcp::LISTED] {
        assert_eq!(listed, matrix::Fault::ALL);
    }
    let rows = matrix::rows();
    assert!(matrix::Fault::ALL.len() >= 24);
    for fault in matrix::Fault::ALL {
        assert!(!fault.rows().is_empty(), "{fault:?} strikes no step");
    }
    let mut seen = std::collections::HashSet::new();
    for (fault, step, _) in &rows {
        assert!(
            seen.insert((*fault, *step as u8)),
            "{fault:?} {step:?} twice"
        );
    }
}

#[test]
fn reliability_md_is_the_matrix() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../RELIABILITY.md");
    let rendered = matrix::render();
    if std::env::var_os("AUTHENTA_BLESS").is_some() {
        std::fs::write(path, &rendered).unwrap();
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == rendered,
        "RELIABILITY.md is not the matrix of tests/tests/faults; regenerate it with\n  \
         AUTHENTA_BLESS=1 cargo test -p authenta-tests --test faults reliability"
    );
}
