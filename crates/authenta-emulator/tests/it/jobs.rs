//! The jobs API (`/api/v1/jobs`): create with one upload URL per slot,
//! nothing processed before finalize, finalize spending a credit once,
//! cancel and delete by the job's state, the list's pages, results and
//! artifacts derived from the uploaded bytes, faults, and a restart.

use std::time::Duration;

use authenta_emulator::{AuthMode, Emulator, Fault, FaultAction, FaultBody, FaultStage, KeySpec};
use authenta_types::{
    CreatedJob, ErrorBody, Job, JobList, JobStatus, JobStatusUpdate, Permission, SlotName, TaskType,
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Answer, Env};

/// A request to the jobs API with the default key's API key.
async fn call(env: &Env, method: Method, path: &str, body: Option<Value>) -> Answer {
    let mut req = env
        .http
        .request(method, env.url(&format!("/v1/jobs{path}")))
        .bearer_auth(&env.key.api_key);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    env.send(req).await
}

/// One input of a create body.
fn input(slot: &str, content_type: &str, bytes: &[u8]) -> Value {
    json!({"slotName": slot, "contentType": content_type, "fileName": format!("{slot}.bin"), "sizeBytes": bytes.len()})
}

/// Creates a job of task type `task` (in the query) for `inputs`; returns
/// the create answer.
async fn create(env: &Env, task: u32, inputs: Vec<Value>, parameters: Option<Value>) -> Value {
    let mut body = json!({ "inputs": inputs });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let a = call(
        env,
        Method::POST,
        &format!("?taskTypeId={task}"),
        Some(body),
    )
    .await;
    assert_eq!(a.status, 200, "create: {}", a.text());
    a.json()
}

/// The upload URL of `slot` in a create answer.
fn url_of<'a>(created: &'a Value, slot: &str) -> &'a str {
    created["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slotName"] == slot)
        .and_then(|i| i["uploadUrl"].as_str())
        .unwrap_or_else(|| panic!("no upload URL for {slot} in {created}"))
}

async fn put(env: &Env, created: &Value, slot: &str, content_type: &str, bytes: &[u8]) {
    let a = env.put(url_of(created, slot), content_type, bytes).await;
    assert_eq!(a.status, 200, "upload {slot}: {}", a.text());
}

async fn get_job(env: &Env, id: u64) -> Value {
    let a = call(env, Method::GET, &format!("/{id}"), None).await;
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()
}

fn id_of(created: &Value) -> u64 {
    created["jobId"].as_u64().expect("a numeric jobId")
}

async fn finalize(env: &Env, id: u64) -> Answer {
    call(env, Method::POST, &format!("/{id}/finalize"), None).await
}

/// A generation-2 error body of `status` with this `code`; its message.
#[track_caller]
fn assert_error(a: &Answer, status: u16, code: &str) -> ErrorBody {
    assert_eq!(a.status, status, "{}", a.text());
    let body: ErrorBody = serde_json::from_slice(&a.body).expect("an error body");
    assert_eq!(body.code.as_str(), code, "{}", a.text());
    assert_eq!(body.status_code, Some(status), "generation 2's shape");
    assert_eq!(body.error_type, None, "generation 2's shape");
    body
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Moves the manual clock past a whole processing time.
fn process(env: &Env) {
    env.emu.advance(env.emu.processing_time()).unwrap();
}

#[tokio::test]
async fn a_job_is_processed_only_after_finalize_and_spends_one_credit() {
    let env = Env::new().await;
    let bytes = b"\x89PNG a picture";
    let created = create(&env, 1, vec![input("original", "image/png", bytes)], None).await;
    // Both readings of the id.
    let id = id_of(&created);
    assert_eq!(created["job"]["id"], id);
    assert_eq!(created["status"], "created");
    assert_eq!(created["taskTypeSlug"], "ai-image-detection");
    assert_eq!(created["inputs"].as_array().unwrap().len(), 1);
    assert!(created["inputs"][0]["expiresIn"].as_u64().unwrap() > 0);

    // Finalize before the upload: refused, naming the slot.
    let early = finalize(&env, id).await;
    let body = assert_error(&early, 400, "EMU400");
    assert!(body.message.contains("original"), "{}", body.message);
    assert_eq!(body.extra["jobStatus"], "created");

    put(&env, &created, "original", "image/png", bytes).await;
    assert_eq!(get_job(&env, id).await["status"], "waiting_for_finalize");
    // Not finalized: it stays there whatever the clock.
    env.emu.advance(Duration::from_secs(24 * 3600)).unwrap();
    assert_eq!(get_job(&env, id).await["status"], "waiting_for_finalize");

    let credits = env.emu.credits();
    let done = finalize(&env, id).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    assert_eq!(
        (done["jobId"].as_u64(), &done["status"]),
        (Some(id), &json!("queued"))
    );
    assert_eq!(done["taskTypeId"], 1);
    assert!(done["queuedAt"].is_string() && done["message"].is_string());
    assert_eq!(env.emu.credits(), credits - 1);
    // A second finalize: refused, nothing spent.
    let again = assert_error(&finalize(&env, id).await, 400, "EMU400");
    assert_eq!(again.extra["jobStatus"], "queued");
    assert_eq!(env.emu.credits(), credits - 1);

    // Half the processing time: processing; all of it: completed.
    env.emu.advance(env.emu.processing_time() / 2).unwrap();
    assert_eq!(get_job(&env, id).await["status"], "processing");
    process(&env);
    let job = get_job(&env, id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert!(job["completedAt"].is_string());
    let fake = authenta_emulator::verdict(&sha(bytes));
    assert_eq!(job["result"]["isAiGenerated"], fake);
    let confidence = job["result"]["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence) && (confidence > 0.5) == fake);

    // The artifacts download: the result document and one heatmap.
    let artifacts = job["artifacts"].as_array().unwrap();
    let kinds: Vec<&str> = artifacts
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["result", "heatmap"]);
    for artifact in artifacts {
        let url = artifact["downloadUrl"].as_str().unwrap();
        let a = env.send(env.http.get(url)).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.header("content-type"), artifact["contentType"].as_str());
        if artifact["kind"] == "result" {
            let doc = a.json();
            assert_eq!(doc["jobId"], id);
            assert_eq!(doc["result"], job["result"]);
        } else {
            assert!(a.body.starts_with(b"\x89PNG\r\n\x1a\n"));
        }
    }
    // An upload after finalize is refused; the job keeps its bytes.
    let late = env
        .put(url_of(&created, "original"), "image/png", bytes)
        .await;
    assert_eq!(late.status, 403, "{}", late.text());
}

#[tokio::test]
async fn the_task_type_is_taken_from_the_query_or_the_body() {
    let env = Env::new().await;
    let video = input("original", "video/mp4", b"a video");
    // As Authenta's SDK sends it: a string in the body.
    let sdk = call(
        &env,
        Method::POST,
        "",
        Some(json!({"taskTypeId": "4", "inputs": [video.clone()]})),
    )
    .await;
    assert_eq!(sdk.status, 200, "{}", sdk.text());
    assert_eq!(sdk.json()["taskTypeSlug"], "faceswap-detection");
    // A number in the body, and the query and the body agreeing.
    for (path, task) in [("", json!(4)), ("?taskTypeId=4", json!("4"))] {
        let a = call(
            &env,
            Method::POST,
            path,
            Some(json!({"taskTypeId": task, "inputs": [video.clone()]})),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text());
    }
    // Disagreeing: refused.
    let both = call(
        &env,
        Method::POST,
        "?taskTypeId=3",
        Some(json!({"taskTypeId": "4", "inputs": [video]})),
    )
    .await;
    assert!(
        assert_error(&both, 400, "EMU400")
            .message
            .contains("taskTypeId=3")
    );
    assert_eq!(env.emu.jobs().len(), 3);
}

#[tokio::test]
async fn create_refuses_what_the_task_type_does_not_take() {
    let env = Env::new().await;
    let png = input("original", "image/png", b"png");
    let refused = |path: &'static str, body: Value| {
        let env = &env;
        async move { call(env, Method::POST, path, Some(body)).await }
    };
    let unknown = refused("?taskTypeId=99", json!({"inputs": [png.clone()]})).await;
    assert_eq!(
        assert_error(&unknown, 400, "INVALID_TASK_TYPE").message,
        "Task type ID 99 does not exist"
    );
    let video = refused(
        "?taskTypeId=1",
        json!({"inputs": [input("original", "video/mp4", b"v")]}),
    )
    .await;
    assert!(
        assert_error(&video, 400, "UNSUPPORTED_MEDIA_TYPE")
            .message
            .starts_with("Task type 1 (ai-image-detection) does not support media type: video/mp4")
    );
    // Face intelligence's reference slot takes images only.
    let reference = refused(
        "?taskTypeId=8",
        json!({"inputs": [png.clone(), input("reference", "video/mp4", b"v")]}),
    )
    .await;
    assert_error(&reference, 400, "UNSUPPORTED_MEDIA_TYPE");
    for (path, body, needle) in [
        ("", json!({"inputs": [png.clone()]}), "no task type"),
        (
            "?taskTypeId=1",
            json!({"inputs": [png.clone(), input("reference", "image/png", b"r")]}),
            "no slot",
        ),
        (
            "?taskTypeId=1",
            json!({"inputs": [png.clone(), png.clone()]}),
            "twice",
        ),
        ("?taskTypeId=1", json!({"inputs": []}), "at least one"),
        (
            "?taskTypeId=8",
            json!({"inputs": [input("reference", "image/png", b"r")]}),
            "needs the slot original",
        ),
        (
            "?taskTypeId=1",
            json!({"inputs": [input("original", "image/png", b"")]}),
            "sizeBytes",
        ),
        (
            "?taskTypeId=8",
            json!({"inputs": [png.clone()], "parameters": {"isSimilarityCheck": true}}),
            "reference",
        ),
        (
            "?taskTypeId=1",
            json!({"inputs": [png.clone()], "parameters": "v1"}),
            "Parameters",
        ),
        (
            "?taskTypeId=8",
            json!({"inputs": [png.clone()], "parameters": {"isLivenessCheck": "yes"}}),
            "invalid body",
        ),
        (
            "?taskTypeId=1",
            json!({"inputs": [png.clone()], "extra": 1}),
            "extra",
        ),
        (
            "?taskTypeId=1&page=2",
            json!({"inputs": [png.clone()]}),
            "page",
        ),
        // Found by Schemathesis (the spec says a string or a number, no
        // null, and an input has its four fields only).
        (
            "?taskTypeId=1",
            json!({"inputs": [png.clone()], "taskTypeId": null}),
            "taskTypeId must be a whole number",
        ),
        (
            "",
            json!({"inputs": [png.clone()], "taskTypeId": "01"}),
            "taskTypeId must be a whole number",
        ),
        (
            "?taskTypeId=1",
            json!({"inputs": [{"slotName": "original", "contentType": "image/png",
                "fileName": "a.png", "sizeBytes": 3, "note": {}}]}),
            "unknown field `note`",
        ),
    ] {
        let a = refused(path, body).await;
        let body = assert_error(&a, 400, "EMU400");
        assert!(body.message.contains(needle), "{needle}: {}", body.message);
    }
    let a = call(&env, Method::PUT, "/1", None).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET, HEAD, DELETE"));
    assert!(env.emu.jobs().is_empty(), "nothing half-created");
}

#[tokio::test]
async fn a_face_intelligence_job_compares_its_two_slots() {
    let env = Env::new().await;
    let face = b"a face";
    let inputs = || {
        vec![
            input("original", "image/png", face),
            input("reference", "image/jpeg", face),
        ]
    };
    let created = create(&env, 8, inputs(), Some(json!({"version": "v1"}))).await;
    let id = id_of(&created);
    assert_ne!(url_of(&created, "original"), url_of(&created, "reference"));
    put(&env, &created, "original", "image/png", face).await;
    // One slot of two: not yet waiting for finalize, and not finalizable.
    assert_eq!(get_job(&env, id).await["status"], "created");
    let early = assert_error(&finalize(&env, id).await, 400, "EMU400");
    assert!(early.message.contains("reference"), "{}", early.message);
    // The reference's URL signs its own content type.
    let wrong = env
        .put(url_of(&created, "reference"), "image/png", face)
        .await;
    assert_eq!(wrong.status, 403, "{}", wrong.text());
    put(&env, &created, "reference", "image/jpeg", face).await;
    assert_eq!(get_job(&env, id).await["status"], "waiting_for_finalize");
    assert_eq!(finalize(&env, id).await.status, 200);
    process(&env);
    let job = get_job(&env, id).await;
    let result = &job["result"];
    // The same bytes: the same person.
    assert_eq!(
        (&result["isSimilar"], &result["similarityScore"]),
        (&json!(true), &json!(1.0))
    );
    let fake = authenta_emulator::verdict(&sha(face));
    assert_eq!(
        (&result["isDeepFake"], &result["isLiveness"]),
        (&json!(fake), &json!(!fake))
    );
    let faces = result["identityDetails"]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0]["boundingBox"].as_array().unwrap().len(), 4);

    // Another person, and a check turned off.
    let created = create(
        &env,
        8,
        vec![
            input("original", "image/png", face),
            input("reference", "image/jpeg", b"another face"),
        ],
        Some(json!({"isLivenessCheck": false})),
    )
    .await;
    put(&env, &created, "original", "image/png", face).await;
    put(&env, &created, "reference", "image/jpeg", b"another face").await;
    assert_eq!(finalize(&env, id_of(&created)).await.status, 200);
    process(&env);
    let result = get_job(&env, id_of(&created)).await["result"].clone();
    let score = result["similarityScore"].as_f64().unwrap();
    assert!(score < 1.0);
    assert_eq!(result["isSimilar"], score >= 0.5);
    assert!(result.get("isLiveness").is_none());

    // A face embedding: 512 numbers, the same for the same bytes.
    let mut embeddings = Vec::new();
    for _ in 0..2 {
        let created = create(&env, 9, vec![input("original", "image/png", face)], None).await;
        put(&env, &created, "original", "image/png", face).await;
        assert_eq!(finalize(&env, id_of(&created)).await.status, 200);
        process(&env);
        let job = get_job(&env, id_of(&created)).await;
        let embedding = job["result"]["embedding"].as_array().unwrap().clone();
        assert_eq!(embedding.len(), 512);
        embeddings.push(embedding);
    }
    assert_eq!(embeddings[0], embeddings[1]);
}

#[tokio::test]
async fn finalize_needs_a_credit_and_a_refused_one_changes_nothing() {
    let env = Env::new().await;
    let created = create(&env, 5, vec![input("original", "image/jpeg", b"j")], None).await;
    let id = id_of(&created);
    put(&env, &created, "original", "image/jpeg", b"j").await;
    env.emu.set_credits(0).unwrap();
    let short = finalize(&env, id).await;
    assert_error(&short, 402, "INSUFFICIENT_BALANCE");
    assert_eq!(get_job(&env, id).await["status"], "waiting_for_finalize");
    env.emu.set_credits(1).unwrap();
    assert_eq!(finalize(&env, id).await.status, 200);
    assert_eq!(env.emu.credits(), 0);
    let missing = call(&env, Method::POST, "/424242/finalize", None).await;
    assert_eq!(
        assert_error(&missing, 404, "JOB_NOT_FOUND").message,
        "Job with ID 424242 does not exist"
    );
}

#[tokio::test]
async fn cancel_and_delete_follow_the_jobs_state() {
    let env = Env::new().await;
    let bytes = b"clip";
    let video = || vec![input("original", "video/mp4", bytes)];
    // Cancelled before processing; a second cancel is 422.
    let created = create(&env, 11, video(), None).await;
    let id = id_of(&created);
    let cancel = call(&env, Method::POST, &format!("/{id}/cancel"), None).await;
    assert_eq!(cancel.status, 200, "{}", cancel.text());
    assert_eq!(cancel.json()["status"], "cancelled");
    let again = call(&env, Method::POST, &format!("/{id}/cancel"), None).await;
    assert_eq!(
        assert_error(&again, 422, "EMU422").extra["jobStatus"],
        "cancelled"
    );
    // A cancelled job takes no upload, and is never finalized.
    let put = env
        .put(url_of(&created, "original"), "video/mp4", bytes)
        .await;
    assert_eq!(put.status, 403, "{}", put.text());
    assert_error(&finalize(&env, id).await, 400, "EMU400");

    // A queued job can be cancelled too.
    let queued = create(&env, 11, video(), None).await;
    put_and_finalize(&env, &queued, "video/mp4", bytes).await;
    let a = call(
        &env,
        Method::POST,
        &format!("/{}/cancel", id_of(&queued)),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    process(&env);
    assert_eq!(get_job(&env, id_of(&queued)).await["status"], "cancelled");

    // Processing: neither cancelled (409) nor deleted (409).
    let busy = create(&env, 11, video(), None).await;
    let busy_id = id_of(&busy);
    put_and_finalize(&env, &busy, "video/mp4", bytes).await;
    env.emu.advance(env.emu.processing_time() / 2).unwrap();
    let cancel = call(&env, Method::POST, &format!("/{busy_id}/cancel"), None).await;
    assert_eq!(
        assert_error(&cancel, 409, "EMU409").extra["jobStatus"],
        "processing"
    );
    let delete = call(&env, Method::DELETE, &format!("/{busy_id}"), None).await;
    assert_eq!(
        assert_error(&delete, 409, "EMU409").extra["jobStatus"],
        "processing"
    );
    // Completed: cancel is 409; delete is 204, then the job is gone.
    process(&env);
    let cancel = call(&env, Method::POST, &format!("/{busy_id}/cancel"), None).await;
    assert_eq!(
        assert_error(&cancel, 409, "EMU409").extra["jobStatus"],
        "completed"
    );
    let delete = call(&env, Method::DELETE, &format!("/{busy_id}"), None).await;
    assert_eq!(delete.status, 204);
    assert!(delete.body.is_empty());
    let gone = call(&env, Method::GET, &format!("/{busy_id}"), None).await;
    assert_eq!(
        assert_error(&gone, 404, "JOB_NOT_FOUND").message,
        format!("Job with ID {busy_id} does not exist")
    );
    let twice = call(&env, Method::DELETE, &format!("/{busy_id}"), None).await;
    assert_error(&twice, 404, "JOB_NOT_FOUND");
    let odd = call(&env, Method::GET, "/not-a-job", None).await;
    assert_error(&odd, 404, "JOB_NOT_FOUND");
    // The list's totals follow: two cancelled jobs left, none completed.
    for (query, total) in [("", 2), ("?status=cancelled", 2), ("?status=completed", 0)] {
        let list = call(&env, Method::GET, query, None).await.json();
        assert_eq!(list["pagination"]["total"], total, "{query}");
    }
}

async fn put_and_finalize(env: &Env, created: &Value, content_type: &str, bytes: &[u8]) {
    put(env, created, "original", content_type, bytes).await;
    let a = finalize(env, id_of(created)).await;
    assert_eq!(a.status, 200, "{}", a.text());
}

#[tokio::test]
async fn the_list_pages_and_filters_by_status() {
    let env = Env::new().await;
    let mut ids = Vec::new();
    for i in 0..5u8 {
        let bytes = [b'a', i];
        let created = create(&env, 2, vec![input("original", "audio/mpeg", &bytes)], None).await;
        if i < 2 {
            put_and_finalize(&env, &created, "audio/mpeg", &bytes).await;
        }
        ids.push(id_of(&created));
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    for page in 1..=3 {
        let a = call(&env, Method::GET, &format!("?page={page}&limit=2"), None).await;
        assert_eq!(a.status, 200, "{}", a.text());
        let list = a.json();
        assert_eq!(
            list["pagination"],
            json!({"page": page, "limit": 2, "total": 5, "pages": 3})
        );
        seen.extend(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["jobId"].as_u64().unwrap()),
        );
    }
    assert_eq!(seen, ids);
    let queued = call(&env, Method::GET, "?status=queued", None).await.json();
    assert_eq!(queued["pagination"]["total"], 2);
    assert_eq!(queued["pagination"]["limit"], 10);
    assert!(
        queued["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "queued")
    );
    let beyond = call(&env, Method::GET, "?page=9", None).await.json();
    assert_eq!(beyond["data"], json!([]));
    for (query, needle) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?page=0", "page"),
        ("?status=done", "status"),
        ("?offset=2", "offset"),
        ("?page=1&page=2", "twice"),
    ] {
        let a = call(&env, Method::GET, query, None).await;
        let body = assert_error(&a, 400, "EMU400");
        assert!(body.message.contains(needle), "{query}: {}", body.message);
    }
}

#[tokio::test]
async fn jobs_take_api_keys_with_their_permissions() {
    let env = Env::new().await;
    let url = env.url("/v1/jobs");
    let none = env.send(env.http.get(&url)).await;
    assert_error(&none, 401, "INVALID_API_KEY");
    // A client id and secret are not an API key; the answer is still in
    // generation 2's shape.
    let headers = env
        .send(
            env.http
                .get(&url)
                .header("x-client-id", &env.key.client_id)
                .header("x-client-secret", &env.key.client_secret),
        )
        .await;
    assert_error(&headers, 401, "INVALID_API_KEY");
    let reader = env.key_with(KeySpec::new("reader").permissions([Permission::Read]));
    let body = json!({"inputs": [input("original", "image/png", b"p")]});
    let create = env
        .send(
            env.http
                .post(format!("{url}?taskTypeId=1"))
                .bearer_auth(&reader.api_key)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_error(&create, 403, "FORBIDDEN");
    let list = env
        .send(env.http.get(&url).bearer_auth(&reader.api_key))
        .await;
    assert_eq!(list.status, 200);

    // The older service (headers only) has no jobs.
    let old = Env::with(Emulator::builder().auth(AuthMode::Headers)).await;
    let a = old
        .send(
            old.http
                .get(old.url("/v1/jobs"))
                .bearer_auth(&old.key.api_key),
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.text());
}

#[tokio::test]
async fn faults_and_armed_failures_apply_to_jobs() {
    let env = Env::new().await;
    let created = create(&env, 1, vec![input("original", "image/png", b"p")], None).await;
    let id = id_of(&created);
    put(&env, &created, "original", "image/png", b"p").await;
    // The answer to finalize is lost after the job was queued.
    env.emu
        .inject_fault(
            Fault::new(
                "/api/v1/jobs/",
                FaultAction::Status {
                    status: 503,
                    body: FaultBody::Json,
                    retry_after: None,
                },
            )
            .method("POST")
            .stage(FaultStage::After),
        )
        .unwrap();
    let lost = finalize(&env, id).await;
    assert_error(&lost, 503, "EMU500");
    // It was queued: a blind second finalize is refused, and says so.
    assert_eq!(get_job(&env, id).await["status"], "queued");
    let again = assert_error(&finalize(&env, id).await, 400, "EMU400");
    assert_eq!(again.extra["jobStatus"], "queued");
    // A reset on the create route.
    env.emu
        .inject_fault(Fault::new("/api/v1/jobs", FaultAction::Reset).method("POST"))
        .unwrap();
    let reset = env
        .http
        .post(env.url("/v1/jobs?taskTypeId=1"))
        .bearer_auth(&env.key.api_key)
        .header("content-type", "application/json")
        .body(json!({"inputs": [input("original", "image/png", b"p")]}).to_string())
        .send()
        .await;
    assert!(reset.is_err());
    assert_eq!(
        env.emu.jobs().len(),
        1,
        "a fault before handling creates nothing"
    );

    // An armed failure: the next job finalized ends `failed`.
    env.emu
        .fail_next_jobs(1, "the model could not read the file")
        .unwrap();
    let failing = create(&env, 1, vec![input("original", "image/png", b"q")], None).await;
    put_and_finalize(&env, &failing, "image/png", b"q").await;
    process(&env);
    let job = get_job(&env, id_of(&failing)).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["errorMessage"], "the model could not read the file");
    assert!(job.get("result").is_none() && job.get("artifacts").is_none());
    assert_eq!(get_job(&env, id).await["status"], "completed");
}

/// Job `id`'s status once it is final, on the system clock: polled every
/// 10 ms (at most 10 s, then its status then).
async fn settled(env: &Env, id: u64) -> String {
    let mut status = String::new();
    for _ in 0..1000 {
        status = env.emu.job(id).unwrap().status;
        if authenta_types::JOB_FINAL_STATUSES.contains(&status.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    status
}

#[tokio::test]
async fn jobs_survive_a_restart_and_processing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let first = Env::in_dir(dir.path()).await;
    let png = |b: &[u8]| vec![input("original", "image/png", b)];
    // One completed, one left waiting for finalize, one mid-processing, one
    // with an upload URL not used yet.
    let done = create(&first, 1, png(b"done"), None).await;
    put_and_finalize(&first, &done, "image/png", b"done").await;
    let waiting = create(&first, 1, png(b"waiting"), None).await;
    put(&first, &waiting, "original", "image/png", b"waiting").await;
    assert_eq!(settled(&first, id_of(&done)).await, "completed");
    first.emu.set_processing_time(Duration::from_millis(300));
    let busy = create(&first, 1, png(b"busy"), None).await;
    put_and_finalize(&first, &busy, "image/png", b"busy").await;
    let later = create(&first, 1, png(b"later"), None).await;
    let done_result = first.emu.job(id_of(&done)).unwrap();
    let addr = first.emu.addr();
    first.emu.stopped().await;

    let second = Env::with(Emulator::builder().listen(addr).data_dir(dir.path())).await;
    let second = Env {
        key: first.key.clone(),
        ..second
    };
    assert_eq!(second.emu.credits(), 8);
    assert_eq!(second.emu.job(id_of(&done)).unwrap(), done_result);
    let job = get_job(&second, id_of(&done)).await;
    let url = job["artifacts"][0]["downloadUrl"].as_str().unwrap();
    assert_eq!(second.send(second.http.get(url)).await.status, 200);
    assert_eq!(
        get_job(&second, id_of(&waiting)).await["status"],
        "waiting_for_finalize"
    );
    // The job that was processing completes.
    assert_eq!(settled(&second, id_of(&busy)).await, "completed");
    // The upload URL handed out before the restart still works; the
    // uploads are kept on disk, and go with their job.
    put(&second, &later, "original", "image/png", b"later").await;
    let object = |id: u64| {
        dir.path()
            .join("objects")
            .join(format!("job-{id}-original.media"))
    };
    assert!(object(id_of(&later)).exists() && object(id_of(&done)).exists());
    let delete = call(&second, Method::DELETE, &format!("/{}", id_of(&done)), None).await;
    assert_eq!(delete.status, 204);
    assert!(!object(id_of(&done)).exists());
    // Ids are never reused.
    let next = create(&second, 1, png(b"next"), None).await;
    assert!(id_of(&next) > id_of(&later));
    second.emu.stopped().await;
}

#[tokio::test]
async fn a_database_of_schema_2_gains_the_jobs_tables() {
    let dir = tempfile::tempdir().unwrap();
    let second = Env::downgraded(
        dir.path(),
        "DROP TABLE jobs; DROP TABLE job_inputs; DROP TABLE job_counts; PRAGMA user_version = 2;",
    )
    .await;
    let created = create(&second, 1, vec![input("original", "image/png", b"p")], None).await;
    assert_eq!(id_of(&created), 1);
    let version: i64 = rusqlite::Connection::open(dir.path().join("emulator.sqlite3"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    second.emu.stopped().await;
}

#[tokio::test]
async fn authenta_types_reads_every_answer() {
    let env = Env::new().await;
    let (face, reference) = (b"a face".as_slice(), b"a reference".as_slice());
    let created = create(
        &env,
        8,
        vec![
            input("original", "image/png", face),
            input("reference", "image/jpeg", reference),
        ],
        Some(json!({"version": "v1", "isSimilarityCheck": true})),
    )
    .await;
    let typed: CreatedJob = serde_json::from_value(created.clone()).unwrap();
    assert_eq!(typed.job.id.as_str(), id_of(&created).to_string());
    assert_eq!(typed.job.task_type(), Some(TaskType::FaceIntelligence));
    assert_eq!(typed.job.status, JobStatus::Created);
    assert_eq!(
        typed.upload_url(&SlotName::Original),
        Some(url_of(&created, "original"))
    );
    assert_eq!(
        typed.upload_url(&SlotName::Reference),
        Some(url_of(&created, "reference"))
    );
    put(&env, &created, "original", "image/png", face).await;
    put(&env, &created, "reference", "image/jpeg", reference).await;
    let done = finalize(&env, id_of(&created)).await.json();
    let update: JobStatusUpdate = serde_json::from_value(done).unwrap();
    assert_eq!(update.status, JobStatus::Queued);
    process(&env);
    let job: Job = serde_json::from_value(get_job(&env, id_of(&created)).await).unwrap();
    assert!(job.status.is_final());
    let result = job.result.as_ref().unwrap();
    assert!(result.is_similar.is_some() && result.similarity_score.is_some());
    assert_eq!(result.faces().len(), 1);
    assert!(result.faces()[0].bounding_box.is_some());
    assert_eq!(job.artifacts.len(), 2);
    let list = call(&env, Method::GET, "?status=completed", None)
        .await
        .json();
    let list: JobList = serde_json::from_value(list).unwrap();
    assert_eq!(list.data.len(), 1);
    assert_eq!(list.pagination.total, 1);
}

#[tokio::test]
async fn the_control_surface_shows_jobs_and_arms_failures() {
    let env = Env::new().await;
    let control = |method: Method, path: &str, body: Option<Value>| {
        let mut req = env
            .http
            .request(method, format!("{}{path}", env.emu.control_url()));
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        env.send(req)
    };
    let bad = control(
        Method::POST,
        "/jobs/fail-next",
        Some(json!({"times": 0, "message": "x"})),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let armed = control(
        Method::POST,
        "/jobs/fail-next",
        Some(json!({"message": "no face found"})),
    )
    .await;
    assert_eq!(armed.status, 204, "{}", armed.text());
    let created = create(&env, 7, vec![input("original", "image/png", b"f")], None).await;
    let id = id_of(&created);
    // A refused finalize does not take the armed failure.
    assert_eq!(finalize(&env, id).await.status, 400);
    put_and_finalize(&env, &created, "image/png", b"f").await;
    let jobs = control(Method::GET, "/jobs", None).await.json();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    let job = control(Method::GET, &format!("/jobs/{id}"), None)
        .await
        .json();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["errorMessage"], "no face found");
    assert_eq!(job["inputs"][0]["upload"]["sha256"], sha(b"f"));
    process(&env);
    assert_eq!(get_job(&env, id).await["errorMessage"], "no face found");
    assert_eq!(control(Method::GET, "/jobs/99", None).await.status, 404);
}
