//! `--data-dir`: keys, records, credits and uploads survive a restart, and
//! processing resumes.

use std::time::Duration;

use authenta_emulator::{Emulator, KeySpec};

use crate::common::{Env, answer};

#[tokio::test]
async fn state_survives_a_restart_and_processing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let first = Env::with(
        Emulator::builder()
            .data_dir(dir.path())
            .processing_time(Duration::from_millis(20))
            .credits(10),
    )
    .await;
    let limited = first.key_with(KeySpec::new("limited").query_quota(5));
    assert_eq!(first.get_as(&limited, "/media").await.status, 200);
    let processed = first.upload("image/png", "AC-1", b"processed").await;
    first.wait_final(&processed).await;
    // One record left mid-processing, one waiting for its upload.
    first.emu.set_processing_time(Duration::from_millis(500));
    let pending = first.upload("image/png", "AC-1", b"pending").await;
    let waiting = first.create_for("image/png", "AC-1", b"later").await;
    let addr = first.emu.addr();
    let key = first.key.clone();
    assert_eq!(first.emu.record(&pending).unwrap().status, "UPLOADED");
    first.emu.stopped().await;

    let second = Emulator::builder()
        .listen(addr)
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let http = crate::common::http_client();
    let get = |k: &authenta_emulator::ApiKey, path: String| {
        http.get(format!("{}{path}", second.base_url()))
            .header("x-client-id", k.client_id.clone())
            .header("x-client-secret", k.client_secret.clone())
            .send()
    };
    // Keys (with their secrets and usage), records and credits are back.
    let list = answer(get(&key, "/media".into()).await.unwrap()).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["total"], 3);
    let info = second
        .keys()
        .into_iter()
        .find(|k| k.client_id == limited.client_id)
        .unwrap();
    assert_eq!(info.query_used, 1);
    assert_eq!(second.credits(), 8);
    assert_eq!(second.record(&processed).unwrap().status, "PROCESSED");
    assert!(
        dir.path()
            .join("objects")
            .join(format!("{processed}.media"))
            .exists()
    );
    // The record that was processing finishes.
    let mut status = String::new();
    for _ in 0..1000 {
        status = second.record(&pending).unwrap().status;
        if status != "UPLOADED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, "PROCESSED");
    // The upload URL handed out before the restart still works.
    let put = http
        .put(waiting["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(b"later".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let mid = waiting["mid"].as_str().unwrap();
    assert_eq!(second.record(mid).unwrap().status, "UPLOADED");
    second.stopped().await;

    // A third start sees the upload acknowledged before the second stop.
    let third = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert_ne!(third.record(mid).unwrap().status, "INITED");
    assert!(third.record(mid).unwrap().upload.is_some());
}

#[tokio::test]
async fn an_unreadable_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.json"), b"{ not json").unwrap();
    let err = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("state.json"), "{err}");
}

#[tokio::test]
async fn a_database_of_the_first_schema_gains_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    let first = Env::with(Emulator::builder().data_dir(dir.path())).await;
    let key = first.key.clone();
    let addr = first.emu.addr();
    first.emu.stopped().await;
    // Back to schema 1: keys without a token.
    {
        let db = rusqlite::Connection::open(dir.path().join("emulator.sqlite3")).unwrap();
        db.execute_batch(
            "DROP INDEX keys_api_key; ALTER TABLE keys DROP COLUMN api_key_sha256; PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let second = Emulator::builder()
        .listen(addr)
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let http = crate::common::http_client();
    let url = format!("{}/media", second.base_url());
    // The id and secret still work; the key has no token until its secret
    // is regenerated.
    let headers = http
        .get(&url)
        .header("x-client-id", &key.client_id)
        .header("x-client-secret", &key.client_secret);
    assert_eq!(answer(headers.send().await.unwrap()).await.status, 200);
    let bearer = |token: &str| http.get(&url).bearer_auth(token).send();
    assert_eq!(
        answer(bearer(&key.api_key).await.unwrap()).await.status,
        401
    );
    let renewed = second.regenerate_secret(&key.client_id).unwrap();
    assert_eq!(
        answer(bearer(&renewed.api_key).await.unwrap()).await.status,
        200
    );
    second.stopped().await;
}
