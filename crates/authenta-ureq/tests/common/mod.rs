//! What the backend's tests share: an in-process emulator and a client of
//! one of its keys that retries quickly.

use std::time::Duration;

use authenta_emulator::{ApiKey, Emulator, KeySpec, RunningEmulator};
use authenta_ureq::{Client, Credentials, RetryPolicy};

/// An emulator whose records take `processing` to finish, and a client of a
/// fresh key named `key_name` (returned too) with 5–20 ms backoffs.
pub fn emulator_and_client(
    processing: Duration,
    key_name: &str,
) -> (RunningEmulator, ApiKey, Client) {
    let emu = Emulator::builder()
        .processing_time(processing)
        .spawn()
        .unwrap();
    let key = emu.create_key(KeySpec::new(key_name)).unwrap();
    let client = Client::builder()
        .credentials(Credentials::new(
            key.client_id.as_str(),
            key.client_secret.as_str(),
        ))
        .base_url(emu.base_url())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    (emu, key, client)
}
