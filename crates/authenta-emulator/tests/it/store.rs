//! The SQLite store: nothing acknowledged is lost when the process is
//! killed under load, and a `state.json` of an earlier version is imported.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authenta_emulator::{Emulator, EmulatorProcess};
use serde_json::{Value, json};

use crate::common::{answer, http_client};

fn start(dir: &std::path::Path) -> EmulatorProcess {
    start_with(dir, &["--credits", "1000000"])
}

/// The binary on a free port with its state in `dir`, and `args`.
fn start_with(dir: &std::path::Path, args: &[&str]) -> EmulatorProcess {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authenta-emulator"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    EmulatorProcess::spawn(cmd).expect("run authenta-emulator")
}

fn control(server: &EmulatorProcess) -> String {
    server.base_url().replace("/api", "/_emulator")
}

/// What the load saw acknowledged.
#[derive(Default)]
struct Acked {
    mids: BTreeSet<String>,
    mutations: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let http = http_client();
    let mut all_acked = BTreeSet::new();
    let mut server = start(dir.path());
    for round in 0..5 {
        let acked = Arc::new(Mutex::new(Acked::default()));
        let key = server.key().clone();
        let base = server.base_url().to_owned();
        let mut tasks = Vec::new();
        for client in 0..6 {
            let (http, key, base, acked) = (http.clone(), key.clone(), base.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let body = json!({"name": format!("kill-{round}-{client}-{i}"), "contentType": "image/png", "size": 10, "modelType": "AC-1"});
                    let sent = http
                        .post(format!("{base}/media"))
                        .header("x-client-id", &key.client_id)
                        .header("x-client-secret", &key.client_secret)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await;
                    let Ok(resp) = sent else { return };
                    if resp.status() != 200 {
                        return;
                    }
                    let Ok(bytes) = resp.bytes().await else { return };
                    let created: Value = serde_json::from_slice(&bytes).unwrap();
                    let mut a = acked.lock().unwrap();
                    a.mutations += 1;
                    a.mids.insert(created["mid"].as_str().unwrap().to_owned());
                }
            }));
        }
        // Let the load run, then kill the process (SIGKILL) in its middle.
        while acked.lock().unwrap().mutations < 40 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(server);
        for t in tasks {
            t.await.unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        assert!(acked.mutations >= 40);
        all_acked.extend(acked.mids.iter().cloned());

        server = start(dir.path());
        // Every record ever acknowledged is there.
        let records: Vec<Value> = http
            .get(format!("{}/records", control(&server)))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
        let kept: BTreeSet<String> = records
            .iter()
            .map(|r| r["mid"].as_str().unwrap().to_owned())
            .collect();
        let lost: Vec<_> = all_acked.difference(&kept).collect();
        assert!(lost.is_empty(), "round {round}: lost {lost:?}");
        // The killed key spent at least what was acknowledged.
        let keys: Vec<Value> = http
            .get(format!("{}/keys", control(&server)))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
        let used = keys
            .iter()
            .find(|k| k["clientId"] == key.client_id.as_str())
            .expect("the killed key")["mutationUsed"]
            .as_u64()
            .unwrap();
        assert!(
            used >= acked.mutations,
            "round {round}: {used} used, {} acknowledged",
            acked.mutations
        );
    }
}

/// What a jobs load saw acknowledged.
#[derive(Default)]
struct AckedJobs {
    created: BTreeSet<u64>,
    finalized: BTreeSet<u64>,
}

/// One client of the jobs load: creates a job, uploads its slot and
/// finalizes it, until the server goes away; notes what was acknowledged.
async fn jobs_client(
    http: reqwest::Client,
    base: String,
    api_key: String,
    tag: String,
    acked: Arc<Mutex<AckedJobs>>,
) {
    for i in 0.. {
        let bytes = format!("{tag}-{i}").into_bytes();
        let body = json!({"inputs": [{"slotName": "original", "contentType": "image/png", "fileName": "a.png", "sizeBytes": bytes.len()}]});
        let sent = http
            .post(format!("{base}/v1/jobs?taskTypeId=1"))
            .bearer_auth(&api_key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let Ok(resp) = sent else { return };
        if resp.status() != 200 {
            return;
        }
        let Ok(answer) = resp.bytes().await else {
            return;
        };
        let created: Value = serde_json::from_slice(&answer).unwrap();
        let id = created["jobId"].as_u64().unwrap();
        acked.lock().unwrap().created.insert(id);
        let url = created["inputs"][0]["uploadUrl"].as_str().unwrap();
        let put = http
            .put(url)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
            .await;
        if !put.is_ok_and(|r| r.status() == 200) {
            return;
        }
        let finalized = http
            .post(format!("{base}/v1/jobs/{id}/finalize"))
            .bearer_auth(&api_key)
            .send()
            .await;
        let Ok(resp) = finalized else { return };
        if resp.status() != 200 || resp.bytes().await.is_err() {
            return;
        }
        acked.lock().unwrap().finalized.insert(id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_while_jobs_run_loses_no_job_and_no_credit() {
    let dir = tempfile::tempdir().unwrap();
    let http = http_client();
    let mut all = AckedJobs::default();
    let mut server = start(dir.path());
    for round in 0..3 {
        let acked = Arc::new(Mutex::new(AckedJobs::default()));
        let tasks: Vec<_> = (0..4)
            .map(|client| {
                tokio::spawn(jobs_client(
                    http.clone(),
                    server.base_url().to_owned(),
                    server.key().api_key.clone(),
                    format!("{round}-{client}"),
                    acked.clone(),
                ))
            })
            .collect();
        // Kill the process (SIGKILL) in the middle of the load.
        while acked.lock().unwrap().finalized.len() < 15 {
            assert!(
                !tasks.iter().all(|t| t.is_finished()),
                "round {round}: the load stopped before the kill"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(server);
        for t in tasks {
            t.await.unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        all.created.extend(acked.created);
        all.finalized.extend(acked.finalized);

        // Started with the balance it had (no `--credits`).
        server = start_with(dir.path(), &[]);
        let get = |path: &str| http.get(format!("{}{path}", control(&server))).send();
        let jobs = answer(get("/jobs").await.unwrap()).await.json();
        let jobs = jobs.as_array().unwrap();
        let status = |id: u64| {
            jobs.iter()
                .find(|j| j["id"] == id)
                .map(|j| j["status"].as_str().unwrap().to_owned())
        };
        // Every job acknowledged is there, every finalize acknowledged
        // stands, and one credit went with each finalize that stood (in
        // every round so far).
        for id in &all.created {
            assert!(status(*id).is_some(), "round {round}: lost job {id}");
        }
        for id in &all.finalized {
            let s = status(*id).unwrap();
            assert!(
                !matches!(s.as_str(), "created" | "waiting_for_finalize"),
                "round {round}: job {id}'s finalize was lost ({s})"
            );
        }
        let finalized = jobs.iter().filter(|j| j["queuedAt"].is_string()).count() as u64;
        let credits = answer(get("/credits").await.unwrap()).await.json();
        assert_eq!(
            1_000_000 - credits["credits"].as_u64().unwrap(),
            finalized,
            "round {round}: credits spent and jobs finalized disagree"
        );
    }
}

#[tokio::test]
async fn a_state_json_of_an_earlier_version_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = json!({
        "version": 1,
        "accountId": "692f406f9f68d4b70080bb80",
        "s3AccessKey": "AKIAEMU0123456789ABCD",
        "s3SecretKey": "00112233445566778899aabbccddeeff00112233",
        "credits": 7,
        "nextSeq": 2,
        "keys": {
            "aaaaaaaaaaaaaaaaaaaaaaaa": {
                "name": "old", "clientId": "aaaaaaaaaaaaaaaaaaaaaaaa",
                "permissions": ["Read", "Write", "Delete"],
                "queryQuota": 10, "mutationQuota": null,
                "queryUsed": 3, "mutationUsed": 2,
                "createdAt": "2025-01-02T03:04:05.678Z", "revoked": false,
                // SHA-256 of "secret"
                "secretSha256": "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
            }
        },
        "records": {
            "692f406f9f68d4b70080bb81": {
                "seq": 0, "mid": "692f406f9f68d4b70080bb81", "name": "older", "type": "Image",
                "status": "INITED", "modelType": "AC-1", "contentType": "image/png", "size": 3,
                "createdAt": "2025-01-02T03:04:06Z", "upload": null, "processingDue": null,
                "fake": null, "error": null
            },
            "692f406f9f68d4b70080bb82": {
                "seq": 1, "mid": "692f406f9f68d4b70080bb82", "name": "newer", "type": "Image",
                "status": "PROCESSED", "modelType": "AC-1", "contentType": "image/png", "size": 3,
                "createdAt": "2025-01-02T03:04:07.000+00:00",
                "upload": {"size": 3, "sha256": "01", "etag": "\"e\"", "contentType": "image/png",
                           "uploadedAt": "2025-01-02T03:04:08Z"},
                "processingDue": null, "fake": true, "error": null
            }
        }
    });
    std::fs::write(
        dir.path().join("state.json"),
        serde_json::to_vec_pretty(&legacy).unwrap(),
    )
    .unwrap();
    let emu = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert!(!dir.path().join("state.json").exists());
    assert!(dir.path().join("state.json.imported").exists());
    assert_eq!(emu.credits(), 7);
    let keys = emu.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].query_used, keys[0].mutation_used), (3, 2));
    let records = emu.records();
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["newer", "older"]);
    assert_eq!(records[0].fake, Some(true));
    // The imported key works, with its quota where it was.
    let http = http_client();
    let list = http
        .get(format!("{}/media?limit=1", emu.base_url()))
        .header("x-client-id", "aaaaaaaaaaaaaaaaaaaaaaaa")
        .header("x-client-secret", "secret")
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let page: Value = serde_json::from_slice(&list.bytes().await.unwrap()).unwrap();
    assert_eq!(page["total"], 2);
    assert_eq!(page["data"][0]["name"], "newer");
    assert_eq!(emu.keys()[0].query_used, 4);
    emu.stopped().await;
    // A second start opens the database, not the renamed file.
    let again = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert_eq!(again.records().len(), 2);
    assert_eq!(again.keys()[0].query_used, 4);
}

#[tokio::test]
async fn a_refused_request_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let env = crate::common::Env::with(Emulator::builder().data_dir(dir.path())).await;
    // SQLite's data_version, read on a connection of our own, moves when
    // another connection commits a change.
    let watcher = rusqlite::Connection::open(dir.path().join("emulator.sqlite3")).unwrap();
    let version = || -> i64 {
        watcher
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(env.get("/media").await.status, 200);
    let before = version();
    let wrong = authenta_emulator::ApiKey::clone(&env.key);
    let bad = env
        .send(
            env.http
                .get(env.url("/media"))
                .header("x-client-id", &wrong.client_id)
                .header("x-client-secret", "not-the-secret"),
        )
        .await;
    assert_eq!(bad.status, 401);
    let wrong_method = env
        .send(
            env.http
                .put(env.url("/media"))
                .header("x-client-id", &wrong.client_id),
        )
        .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(version(), before, "a 401 or a 405 wrote to the database");
    assert_eq!(env.get("/media").await.status, 200);
    assert_ne!(version(), before, "a 200 spends quota: a write");
}
