//! `--data-dir`: keys, records, credits and uploads survive a restart, and
//! processing resumes.

use std::time::Duration;

use authenta_emulator::{Emulator, KeySpec};

use crate::common::{Env, answer};

#[tokio::test]
async fn state_survives_a_restart_and_processing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let first = Env::in_dir(dir.path()).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_sustained_writes_and_a_clean_stop_removes_it() {
    use std::sync::atomic::{AtomicU64, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let env = Env::with(Emulator::builder().data_dir(dir.path()).credits(1_000_000)).await;
    let wal = dir.path().join("emulator.sqlite3-wal");
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    // 4 clients x 500 records: about 43 MB of WAL frames in all, were it
    // never checkpointed. Checked after every answer: at most one other
    // request's change can be in the file beside the bound.
    let largest = AtomicU64::new(0);
    let client = |c: usize| {
        let (env, largest) = (&env, &largest);
        async move {
            for i in 0..500 {
                let a = env
                    .create_as(
                        &env.key,
                        &serde_json::json!({"name": format!("wal-{c}-{i}"), "contentType": "image/png", "size": 10, "modelType": "AC-1"}),
                    )
                    .await;
                assert_eq!(a.status, 200, "{}", a.text());
                largest.fetch_max(size(), Ordering::Relaxed);
            }
        }
    };
    futures_util::future::join_all((0..4).map(client)).await;
    let largest = largest.into_inner();
    let bound = authenta_emulator::WAL_SIZE_LIMIT + 256 * 1024;
    assert!(
        largest <= bound,
        "the WAL reached {largest} bytes, over {bound}"
    );
    assert_eq!(env.emu.records().len(), 2000);
    let Env { emu, .. } = env;
    emu.stopped().await;
    assert_eq!(size(), 0, "a clean stop leaves the WAL behind");
}

#[tokio::test]
async fn partial_uploads_left_by_a_kill_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let part = objects.join("692f406f9f68d4b70080bb80.0123456789abcdef.part");
    let kept = objects.join("692f406f9f68d4b70080bb81.media");
    std::fs::write(&part, b"half an upload").unwrap();
    std::fs::write(&kept, b"a whole one").unwrap();
    let emu = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert!(!part.exists(), "the .part file is still there");
    assert!(kept.exists());
    emu.stopped().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_its_owners_only() {
    use std::os::unix::fs::PermissionsExt as _;

    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let env = Env::with(Emulator::builder().data_dir(&dir)).await;
    let mid = env.upload("image/png", "AC-1", b"private bytes").await;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("objects")), 0o700);
    for file in [
        "emulator.sqlite3".to_owned(),
        "emulator.sqlite3-wal".to_owned(),
        "emulator.sqlite3-shm".to_owned(),
        format!("objects/{mid}.media"),
    ] {
        assert_eq!(mode(&dir.join(&file)), 0o600, "{file}");
    }
    let Env { emu, .. } = env;
    emu.stopped().await;

    // A database an earlier version left readable by all is made private.
    let db = dir.join("emulator.sqlite3");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let emu = Emulator::builder().data_dir(&dir).start().await.unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&dir.join("emulator.sqlite3-wal")), 0o600);
    emu.stopped().await;
}

#[tokio::test]
async fn a_database_of_the_first_schema_gains_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    // Back to schema 1: keys without a token.
    let Env { emu: second, key, .. } = Env::downgraded(
        dir.path(),
        "DROP INDEX keys_api_key; ALTER TABLE keys DROP COLUMN api_key_sha256; PRAGMA user_version = 1;",
    )
    .await;
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
