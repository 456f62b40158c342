//! The manual clock: processing, upload URL expiry and `createdAt` follow
//! it, and it only moves when advanced (in process or over HTTP).

use std::time::Duration;

use authenta_emulator::{ClockMode, Emulator};
use serde_json::json;

use crate::common::{Env, PROCESSING, s3_code};

#[tokio::test]
async fn processing_finishes_when_the_clock_is_advanced_and_not_before() {
    let env = Env::with(
        Emulator::builder()
            .clock(ClockMode::Manual)
            .processing_time(Duration::from_secs(60)),
    )
    .await;
    let mid = env.upload("image/png", "AC-1", b"manual clock").await;
    // Real time passing changes nothing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        env.get(&format!("/media/{mid}")).await.json()["status"],
        "UPLOADED"
    );
    // One millisecond short of the processing time: still UPLOADED.
    env.emu.advance(Duration::from_millis(59_999)).unwrap();
    assert_eq!(
        env.get(&format!("/media/{mid}")).await.json()["status"],
        "UPLOADED"
    );
    // The last millisecond, over HTTP this time: PROCESSED when it answers.
    let advanced = env
        .send(
            env.http
                .post(format!("{}/clock/advance", env.emu.control_url()))
                .header("content-type", "application/json")
                .body(json!({"millis": 1}).to_string()),
        )
        .await;
    assert_eq!(advanced.status, 200, "{}", advanced.text());
    assert_eq!(advanced.json()["mode"], "manual");
    let media = env.get(&format!("/media/{mid}")).await.json();
    assert_eq!(media["status"], "PROCESSED");
    assert!(media["resultURL"].is_string());
}

#[tokio::test]
async fn created_at_and_upload_url_expiry_follow_the_clock() {
    let env = Env::new().await;
    let first = env.create_for("image/png", "AC-1", b"one").await;
    env.emu.advance(Duration::from_secs(3 * 3600)).unwrap();
    let second = env.create_for("image/png", "AC-1", b"two").await;
    let at = |v: &serde_json::Value| {
        v["createdAt"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    assert_eq!(
        at(&second).duration_since(at(&first)),
        jiff::SignedDuration::from_hours(3)
    );
    // The first URL (valid for an hour) has expired on the emulator's clock.
    let put = env
        .put(first["uploadUrl"].as_str().unwrap(), "image/png", b"one")
        .await;
    assert_eq!(put.status, 403, "{}", put.text());
    assert_eq!(s3_code(&put), "AccessDenied");
    assert!(put.text().contains("Request has expired"));
    // The second, signed at the advanced time, works.
    let put = env
        .put(second["uploadUrl"].as_str().unwrap(), "image/png", b"two")
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let mid = second["mid"].as_str().unwrap();
    assert_eq!(env.emu.record(mid).unwrap().status, "UPLOADED");
    env.emu.advance(PROCESSING).unwrap();
    assert_eq!(env.emu.record(mid).unwrap().status, "PROCESSED");
}

#[tokio::test]
async fn the_system_clock_cannot_be_advanced() {
    let env = Env::with(Emulator::builder()).await;
    assert_eq!(env.emu.clock_mode(), ClockMode::System);
    assert!(env.emu.advance(Duration::from_secs(1)).is_err());
    let refused = env
        .send(
            env.http
                .post(format!("{}/clock/advance", env.emu.control_url()))
                .header("content-type", "application/json")
                .body(json!({"millis": 1000}).to_string()),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("--clock manual"));
    let clock = env
        .send(env.http.get(format!("{}/clock", env.emu.control_url())))
        .await;
    assert_eq!(clock.json()["mode"], "system");
}
