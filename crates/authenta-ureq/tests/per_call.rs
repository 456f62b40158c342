//! Per-call options: one `CallOptions` value changes a call's request
//! timeout, retry policy and poll policy, against the in-process emulator.

mod common;

use std::time::Duration;

use authenta_emulator::{Fault, FaultAction, FaultBody};
use authenta_ureq::types::ModelType;
use authenta_ureq::{CallOptions, ErrorClass, PollPolicy, RetryPolicy, UploadOptions};

const PIXEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pixel.png");

#[test]
fn one_options_value_changes_a_calls_timeout_retries_and_polls() {
    let (emu, _key, client) = common::emulator_and_client(Duration::from_secs(600), "per call");
    let mid = client
        .upload(PIXEL, &UploadOptions::new(ModelType::Ac1))
        .unwrap()
        .created
        .media
        .mid;
    let get_path = format!("/api/media/{mid}");
    let once = RetryPolicy {
        max_attempts: 1,
        ..*client.retry_policy()
    };

    // A timeout of its own (and no retry): the slow answer is a timeout;
    // the client's own timeout waits for the next slow answer.
    let slow = FaultAction::Delay { millis: 1500 };
    emu.inject_fault(Fault::new(get_path.clone(), slow).times(2))
        .unwrap();
    let hasty = client.with_options(
        &CallOptions::new()
            .timeout(Duration::from_millis(200))
            .retry(once),
    );
    let err = hasty.get(&mid).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Network, "{err}");
    client.get(&mid).unwrap();

    // A retry policy of its own: one 503 ends the call; the client's own
    // policy retries past the next one.
    let unavailable = || FaultAction::Status {
        status: 503,
        body: FaultBody::Json,
        retry_after: None,
    };
    emu.inject_fault(Fault::new(get_path.clone(), unavailable()).times(1))
        .unwrap();
    let err = client
        .with_options(&CallOptions::new().retry(once))
        .get(&mid)
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err}");
    emu.inject_fault(Fault::new(get_path, unavailable()).times(1))
        .unwrap();
    client.get(&mid).unwrap();

    // A poll policy of its own: a short wait ends not final.
    let brief = PollPolicy::fixed(Duration::from_millis(20), Duration::from_millis(100));
    let err = client
        .with_options(&CallOptions::new().poll(brief))
        .wait(&mid)
        .unwrap_err();
    let proto = err.as_proto().expect("a protocol error");
    assert!(proto.not_final().is_some(), "{err}");

    // The options' clients spent the original's quota counts.
    assert!(client.usage().queries >= 6, "{:?}", client.usage());
}
