//! The bodies of the conformance tests, generic over the backend. Each
//! starts its own emulator ([`Env`]); what the emulator received (its
//! request logs, records and counters) is the evidence.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use authenta_emulator::{Fault, FaultAction, FaultBody, FaultStage, KeySpec};
use authenta_proto::http::StatusCode;
use authenta_proto::types::{
    ApiGeneration, CreatedMedia, ERROR_CODES, ErrorBody, ErrorCode, JobId, JobListQuery,
    JobParameters, JobStatus, LIST_LIMIT_MAX, ListQuery, MediaId, MediaList, MediaStatus,
    ModelType, Permission, SlotName, TASK_TYPES, TaskType, TaskTypeInfo,
};
use authenta_proto::{
    CredentialError, CredentialProvider, Credentials, Error, ErrorClass, JobOptions, PollPolicy,
    ProtocolError, RetryPolicy, UploadTarget, ValidationError, credentials::CredentialKind,
    error::UploadError, error::WaitBound, jobs::JobFile,
};
use authenta_tests::env::{png_bytes, png_request};
use authenta_tests::{Backend, Env};

use authenta_tests::env::{ac1, sha256_hex};

/// Checks a documented API error: proto's typed `ProtocolError::Api` with the
/// documented body, the status the emulator answers for the code, the
/// class, the record, and no retry advised.
fn assert_documented(err: &Error, code: ErrorCode, class: ErrorClass, mid: Option<&MediaId>) {
    let Some(ProtocolError::Api(api)) = err.as_proto() else {
        panic!("expected the API's {code} error, got {err:?}")
    };
    assert_eq!(
        Some(&api.body),
        ErrorBody::documented(code.clone()).as_ref()
    );
    let info = code.info().expect("a documented code");
    assert_eq!(err.code(), Some(&code));
    assert_eq!(
        err.status().map(|s| s.as_u16()),
        Some(info.emulator_status),
        "{err}"
    );
    assert_eq!(err.class(), class, "{err}");
    assert_eq!(err.mid(), mid, "{err}");
    assert!(!err.is_retryable(), "{code} is never retried: {err}");
    assert!(err.to_string().contains(code.as_str()), "{err}");
}

/// The code a refusal of `code`'s class has for the environment's kind
/// of credentials: `IAM002` → `FORBIDDEN` for an API key, ... (the same
/// class in the spec's table).
fn of_kind(env: &Env, code: ErrorCode) -> ErrorCode {
    let generation = match env.kind {
        CredentialKind::ApiKey => ApiGeneration::Second,
        _ => ApiGeneration::First,
    };
    let class = code.info().expect("a documented code").class;
    ERROR_CODES
        .iter()
        .find(|row| row.generation == Some(generation) && row.class == class)
        .map(|row| ErrorCode::from(row.code))
        .expect("each generation has the class")
}

/// S3's refusal of an upload, typed.
fn upload_error(err: &Error) -> &UploadError {
    match err.as_proto() {
        Some(ProtocolError::Upload(e)) => e,
        _ => panic!("expected S3's refusal, got {err:?}"),
    }
}

/// A PNG of `size` bytes written to disk, and a record created for it.
fn png_record<B: Backend>(
    env: &Env,
    client: &B,
    name: &str,
    size: usize,
) -> (PathBuf, CreatedMedia) {
    let path = env.png(name, size);
    let created = client.create(png_request(name, size as u64)).unwrap();
    (path, created)
}

/// The upload target of a record just created, saved as JSON with `edit`
/// applied and read back.
fn saved_target(
    created: &CreatedMedia,
    size: u64,
    edit: impl FnOnce(&mut serde_json::Value),
) -> UploadTarget {
    let request = png_request(&created.media.name, size);
    let target = UploadTarget::from_created(created, &request, SystemTime::now()).unwrap();
    let mut saved = serde_json::to_value(&target).unwrap();
    edit(&mut saved);
    serde_json::from_str(&saved.to_string()).unwrap()
}

fn status(status: u16, body: FaultBody) -> FaultAction {
    FaultAction::Status {
        status,
        body,
        retry_after: None,
    }
}

pub fn create_get_list_and_delete<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let first = client.create(png_request("first.png", 100)).unwrap();
    assert_eq!(first.media.status, MediaStatus::Inited);
    assert_eq!(first.media.name, "first.png");
    assert_eq!(first.media.model_type, ModelType::Ac1);
    let storage = env.emu.base_url().replace("/api", "/authenta-storage/");
    assert!(
        first.upload_url.starts_with(&storage),
        "{}",
        first.upload_url
    );
    assert!(first.expires_in.is_some());
    let mid = first.media.mid;

    let got = client.get(&mid).unwrap();
    assert_eq!((&got.mid, &got.status), (&mid, &MediaStatus::Inited));

    let second = client.create(png_request("second.png", 200)).unwrap();
    let mids = |page: MediaList| page.data.into_iter().map(|m| m.mid).collect::<Vec<_>>();
    let page = client
        .list(ListQuery {
            limit: Some(1),
            offset: Some(0),
        })
        .unwrap();
    assert_eq!((page.limit, page.offset, page.total), (1, 0, 2));
    assert_eq!(mids(page), [second.media.mid], "newest first");
    let page = client
        .list(ListQuery {
            limit: Some(1),
            offset: Some(1),
        })
        .unwrap();
    assert_eq!(mids(page), std::slice::from_ref(&mid));

    client.delete(&mid).unwrap();
    assert!(env.emu.record(mid.as_str()).is_none());
    let err = client.get(&mid).unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound, "{err}");
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.mid(), Some(&mid));
    assert_eq!(client.list(ListQuery::default()).unwrap().total, 1);
}

pub fn upload_from_a_path_then_wait<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let size = 5000;
    let path = env.png("photo.png", size);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    let options = ac1().on_progress(move |sent, total| seen.lock().unwrap().push((sent, total)));
    let uploaded = client.upload(&path, &options).unwrap();
    assert_eq!(uploaded.created.media.name, "photo.png");
    assert_eq!(
        (uploaded.target.size, uploaded.target.content_type.as_str()),
        (size as u64, "image/png")
    );
    assert_eq!(
        progress.lock().unwrap().last(),
        Some(&(size as u64, size as u64))
    );

    let upload = env
        .emu
        .record(uploaded.mid().as_str())
        .and_then(|r| r.upload)
        .expect("the emulator stored the upload");
    assert_eq!(upload.size, size as u64);
    assert_eq!(upload.sha256, sha256_hex(&std::fs::read(&path).unwrap()));
    assert_eq!(uploaded.receipt.etag.as_deref(), Some(upload.etag.as_str()));

    let media = client.wait(uploaded.mid()).unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert_eq!(media.fake, Some(authenta_emulator::verdict(&upload.sha256)));
}

pub fn process_then_read_the_result_and_the_heatmap<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let media = client
        .process(&env.png("portrait.png", 800), &ac1())
        .unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert!(media.fake.is_some());
    assert_eq!(env.emu.records().len(), 1);

    let document = client
        .result(&media)
        .unwrap()
        .expect("an image record has a result document");
    assert_eq!(document.fake, media.fake);
    let score = document
        .score
        .expect("a processed record's document has a score");
    assert!((0.0..=1.0).contains(&score), "{score}");
    // The verdict and the score agree: above 0.5 when fake.
    assert_eq!(score > 0.5, document.fake.unwrap(), "{score}");

    let heatmap = env.dir.path().join("heatmap.png");
    let written = client
        .download_heatmap(&media, &heatmap)
        .unwrap()
        .expect("an image record has a heatmap");
    let bytes = std::fs::read(&heatmap).unwrap();
    assert_eq!(written, bytes.len() as u64);
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(!env.dir.path().join("heatmap.png.part").exists());
}

pub fn upload_from_a_reader_or_stream<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let bytes = png_bytes(300_000);
    let options = ac1().name("streamed.png");
    let uploaded = client.upload_reader(bytes.clone(), &options).unwrap();
    assert_eq!(uploaded.created.media.name, "streamed.png");
    let upload = env
        .emu
        .record(uploaded.mid().as_str())
        .and_then(|r| r.upload)
        .expect("the emulator stored the upload");
    assert_eq!(upload.sha256, sha256_hex(&bytes), "the pieces, in order");
    assert_eq!(upload.content_type, "image/png");
    assert_eq!(
        client.wait(uploaded.mid()).unwrap().status,
        MediaStatus::Processed
    );

    let err = client.upload_reader(bytes, &ac1()).unwrap_err();
    assert!(
        matches!(
            err.as_proto(),
            Some(ProtocolError::Invalid(ValidationError::InvalidName { .. }))
        ),
        "a body without a name is refused: {err:?}"
    );
    assert_eq!(env.emu.records().len(), 1, "before any request");
}

pub fn upload_to_resumes_a_saved_target<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let (path, created) = png_record(&env, &client, "later.png", 4096);
    let mid = created.media.mid.clone();
    let target = saved_target(&created, 4096, |_| {});
    assert_eq!(target.mid.as_ref(), Some(&mid));
    assert_eq!(target.url(), created.upload_url, "byte for byte");

    let receipt = client.upload_to(&target, &path).unwrap();
    let upload = env.emu.record(mid.as_str()).and_then(|r| r.upload).unwrap();
    assert_eq!(receipt.etag.as_deref(), Some(upload.etag.as_str()));
    assert_eq!(upload.sha256, sha256_hex(&std::fs::read(&path).unwrap()));
    assert_eq!(client.wait(&mid).unwrap().status, MediaStatus::Processed);

    let err = client
        .upload_to(&target, &env.png("other.png", 100))
        .unwrap_err();
    assert!(
        matches!(
            err.as_proto(),
            Some(ProtocolError::Invalid(ValidationError::SizeMismatch {
                expected: 4096,
                actual: 100,
                ..
            }))
        ),
        "{err:?}"
    );
    assert_eq!(
        err.mid(),
        Some(&mid),
        "the error names the record to resume"
    );
    assert_eq!(env.puts().len(), 1, "a file of another size is not sent");
}

pub fn an_upload_checkpoints_before_each_request_and_stops_when_saving_fails<B: Backend>() {
    use authenta_proto::{error::LocalIo, options::Checkpoint};

    let env = Arc::new(Env::new());
    let client: B = env.client();
    let path = env.png("saved.png", 3000);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, server) = (seen.clone(), env.clone());
    let options = ac1().on_checkpoint(move |point| {
        // What the server has seen when each point is saved: the point
        // comes before the request that depends on it.
        let (records, puts) = (server.emu.records().len(), server.puts().len());
        let name = match point {
            Checkpoint::Creating { request, .. } => format!("creating {}", request.name),
            Checkpoint::Created { created, target } => {
                assert_eq!(target.mid.as_ref(), Some(&created.media.mid));
                "created".to_owned()
            }
            Checkpoint::Uploaded { .. } => "uploaded".to_owned(),
            _ => "other".to_owned(),
        };
        log.lock().unwrap().push((name, records, puts));
        Ok(())
    });
    client.upload(&path, &options).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("creating saved.png".to_owned(), 0, 0),
            ("created".to_owned(), 1, 0),
            ("uploaded".to_owned(), 1, 1),
        ]
    );

    // A checkpoint that cannot be saved stops the upload before its
    // request: no PUT for a record whose target was not kept.
    let failing = ac1().on_checkpoint(|point| match point {
        Checkpoint::Created { .. } => Err(std::io::Error::other("disk full")),
        _ => Ok(()),
    });
    let err = client
        .upload(&env.png("lost.png", 3001), &failing)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Io {
                during: LocalIo::Checkpoint,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::LocalIo);
    assert!(err.mid().is_some(), "the error names the record: {err}");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(env.puts().len(), 1, "no PUT after the failed checkpoint");
}

pub fn uploads_carry_no_credentials_and_api_requests_only_their_kinds<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    // Several transport buffers, and not a multiple of any.
    let size = 3 * 128 * 1024 + 1234;
    client.process(&env.png("big.png", size), &ac1()).unwrap();
    env.assert_one_clean_upload(size as u64, "image/png");

    // The emulator logs the credential headers of every API request, and
    // refuses a request without its key: each request answered 2xx carried
    // its kind's headers and no other (an API key no `x-client-*`, a client
    // id and secret no `Authorization`). The upload carried none (above).
    let api = env.emu.api_requests();
    assert!(api.len() >= 2, "a create and polls: {api:?}");
    for request in &api {
        let (headers, client_id) = match env.kind {
            CredentialKind::ApiKey => (vec!["authorization"], None),
            _ => (
                vec!["x-client-id", "x-client-secret"],
                Some(env.key.client_id.as_str()),
            ),
        };
        assert_eq!(request.credential_headers, headers, "{request:?}");
        assert_eq!(request.client_id.as_deref(), client_id, "{request:?}");
        assert!(
            (200..300).contains(&request.status) && request.code.is_none(),
            "{request:?}"
        );
    }
}

pub fn iam001_for_a_wrong_secret_a_regenerated_secret_and_a_revoked_key<B: Backend>() {
    let env = Env::new();
    let owner: B = env.client();
    let mid = owner.create(png_request("x.png", 10)).unwrap().media.mid;
    let iam001 = |err: Error, mid: Option<&MediaId>| {
        assert_documented(&err, ErrorCode::Iam001, ErrorClass::Authentication, mid)
    };

    let wrong = B::connect(&env.settings_for(&env.key.client_id, "not-the-secret")).unwrap();
    iam001(wrong.list(ListQuery::default()).unwrap_err(), None);
    iam001(wrong.get(&mid).unwrap_err(), Some(&mid));

    // A regenerated secret: the old one fails at once, the new one works.
    let renewed = env.emu.regenerate_secret(&env.key.client_id).unwrap();
    iam001(owner.get(&mid).unwrap_err(), Some(&mid));
    let fresh: B = env.client_with(&renewed);
    assert_eq!(fresh.get(&mid).unwrap().mid, mid);

    // A revoked key: nothing works.
    env.emu.revoke_key(&renewed.client_id).unwrap();
    iam001(fresh.delete(&mid).unwrap_err(), Some(&mid));
    iam001(fresh.create(png_request("y.png", 10)).unwrap_err(), None);

    let stats = env.emu.api_stats();
    assert_eq!(stats.by_code.get("IAM001"), Some(&5), "each asked once");
    assert_eq!(stats.total, 7);
}

pub fn a_missing_permission_is_refused_for_each_route_not_retried<B: Backend>() {
    let env = Env::new();
    let owner: B = env.client();
    let mid = owner.create(png_request("x.png", 10)).unwrap().media.mid;
    let lacking = |missing: Permission| -> B {
        let granted = [Permission::Read, Permission::Write, Permission::Delete]
            .into_iter()
            .filter(|p| *p != missing);
        let spec = KeySpec::new(format!("no {missing}")).permissions(granted);
        env.client_with(&env.key(spec))
    };
    let (no_write, no_read, no_delete) = (
        lacking(Permission::Write),
        lacking(Permission::Read),
        lacking(Permission::Delete),
    );
    env.emu.clear_api_requests();

    let refused = [
        (no_write.create(png_request("w.png", 10)).map(drop), None),
        (no_read.get(&mid).map(drop), Some(&mid)),
        (no_read.list(ListQuery::default()).map(drop), None),
        (no_delete.delete(&mid), Some(&mid)),
    ];
    // IAM002 for a client id and secret, FORBIDDEN for an API key.
    let code = of_kind(&env, ErrorCode::Iam002);
    for (outcome, mid) in refused {
        let err = outcome.unwrap_err();
        assert_documented(&err, code.clone(), ErrorClass::Permission, mid);
    }
    let answered: Vec<_> = env
        .emu
        .api_requests()
        .into_iter()
        .map(|r| (r.method, r.code))
        .collect();
    let iam002 = |method: &str| (method.to_owned(), Some(code.as_str().to_owned()));
    assert_eq!(
        answered,
        [
            iam002("POST"),
            iam002("GET"),
            iam002("GET"),
            iam002("DELETE")
        ],
        "each refusal asked once"
    );

    // Each key may still use the routes it has the permission for.
    no_write.get(&mid).unwrap();
    no_read.create(png_request("r.png", 10)).unwrap();
    no_delete.list(ListQuery::default()).unwrap();
    no_read.delete(&mid).unwrap();
}

pub fn aa001_at_exactly_the_quota_not_retried<B: Backend>() {
    let env = Env::new();
    let owner: B = env.client();
    let mid = owner.create(png_request("x.png", 10)).unwrap().media.mid;
    let reader: B = env.client_with(&env.key(KeySpec::new("3 queries").query_quota(3)));
    let writer: B = env.client_with(&env.key(KeySpec::new("2 mutations").mutation_quota(2)));
    let aa001 = |err: Error, mid: Option<&MediaId>| {
        assert_documented(&err, ErrorCode::Aa001, ErrorClass::Quota, mid)
    };
    env.emu.clear_api_requests();

    // GETs spend the query quota: three pass, the fourth is refused.
    reader.get(&mid).unwrap();
    reader.list(ListQuery::default()).unwrap();
    reader.get(&mid).unwrap();
    aa001(reader.get(&mid).unwrap_err(), Some(&mid));
    aa001(reader.list(ListQuery::default()).unwrap_err(), None);

    // POST and DELETE spend the mutation quota; GETs do not.
    let other = writer.create(png_request("w.png", 10)).unwrap().media.mid;
    writer.delete(&other).unwrap();
    aa001(writer.create(png_request("w.png", 10)).unwrap_err(), None);
    aa001(writer.delete(&mid).unwrap_err(), Some(&mid));
    writer.get(&mid).unwrap();

    let answered: Vec<_> = env
        .emu
        .api_requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    let expected = [
        ("GET", 200),
        ("GET", 200),
        ("GET", 200),
        ("GET", 429),
        ("GET", 429),
        ("POST", 200),
        ("DELETE", 204),
        ("POST", 429),
        ("DELETE", 429),
        ("GET", 200),
    ]
    .map(|(m, s)| (m.to_owned(), s));
    assert_eq!(answered, expected, "each refusal asked once");
}

pub fn no_credits_is_refused_at_create_and_never_retried<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    env.emu.set_credits(0).unwrap();
    // U007 for a client id and secret; a 402 INSUFFICIENT_BALANCE for an
    // API key: both class credits (the CLI's exit 5), never retried.
    let code = of_kind(&env, ErrorCode::U007);
    let u007 = |err: Error| {
        assert_documented(&err, code.clone(), ErrorClass::Credits, None);
        if env.kind == CredentialKind::ApiKey {
            assert_eq!(err.status().map(|s| s.as_u16()), Some(402));
        }
    };
    u007(client.create(png_request("broke.png", 10)).unwrap_err());
    u007(
        client
            .upload(&env.png("broke.png", 100), &ac1())
            .unwrap_err(),
    );
    assert!(env.emu.records().is_empty());
    assert!(env.puts().is_empty(), "no upload without a record");
    assert_eq!(
        env.requests("POST", "/api/media").len(),
        2,
        "each create asked once"
    );

    env.emu.set_credits(1).unwrap();
    client.create(png_request("paid.png", 10)).unwrap();
}

pub fn an_expired_upload_url_is_refused<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let path = env.png("late.png", 1000);

    // S3 refuses a URL past its X-Amz-Expires: the emulator signs as if
    // two hours ago, for one hour.
    env.emu
        .set_upload_url_backdate(Duration::from_secs(2 * 3600));
    let err = client.upload(&path, &ac1()).unwrap_err();
    let records = env.emu.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, "INITED");
    let upload = upload_error(&err);
    assert_eq!(
        (upload.status, upload.code.as_str()),
        (StatusCode::FORBIDDEN, "AccessDenied")
    );
    assert!(upload.message.contains("expired"), "{upload:?}");
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert_eq!(err.mid().map(|m| m.as_str()), Some(records[0].mid.as_str()));
    assert_eq!(env.puts().len(), 1, "a 403 is not retried");

    // A saved target past its expiry is refused before anything is sent.
    env.emu.set_upload_url_backdate(Duration::ZERO);
    let (path, created) = png_record(&env, &client, "late.png", 1000);
    let expired = saved_target(&created, 1000, |saved| {
        saved["expiresAt"] = "2020-01-01T00:00:00Z".into()
    });
    let err = client.upload_to(&expired, &path).unwrap_err();
    let Some(ProtocolError::UploadExpired(e)) = err.as_proto() else {
        panic!("expected the expiry refusal, got {err:?}")
    };
    assert_eq!(e.mid.as_ref(), Some(&created.media.mid));
    assert_eq!(err.mid(), Some(&created.media.mid));
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(err.to_string().contains("create a new record"), "{err}");
    assert_eq!(env.puts().len(), 1, "nothing more was sent");
}

pub fn a_wrong_content_type_is_signature_does_not_match<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let (path, created) = png_record(&env, &client, "photo.png", 1000);
    let mid = created.media.mid.clone();
    let jpeg = saved_target(&created, 1000, |saved| {
        saved["contentType"] = "image/jpeg".into()
    });

    let err = client.upload_to(&jpeg, &path).unwrap_err();
    let upload = upload_error(&err);
    assert_eq!(
        (upload.status, upload.code.as_str()),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch")
    );
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert_eq!(err.mid(), Some(&mid));
    assert!(!err.is_retryable());
    let puts = env.puts();
    assert_eq!(puts.len(), 1, "a 403 is not retried");
    assert_eq!(puts[0].header("content-type"), Some("image/jpeg"));
    assert_eq!(env.emu.record(mid.as_str()).unwrap().status, "INITED");

    // The target as signed still works.
    client
        .upload_to(&saved_target(&created, 1000, |_| {}), &path)
        .unwrap();
}

pub fn gets_are_retried_through_500_503_and_a_reset<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let mid = client.create(png_request("x.png", 10)).unwrap().media.mid;
    let route = format!("/api/media/{mid}");
    // Armed in this order, they strike in this order.
    for action in [
        status(500, FaultBody::Json),
        status(503, FaultBody::Html),
        FaultAction::Reset,
    ] {
        env.emu
            .inject_fault(Fault::new(&route, action).method("GET"))
            .unwrap();
    }
    assert_eq!(client.get(&mid).unwrap().mid, mid);
    let attempts: Vec<_> = env
        .requests("GET", &route)
        .into_iter()
        .map(|r| (r.status, r.faulted))
        .collect();
    assert_eq!(
        attempts,
        [(500, true), (503, true), (0, true), (200, false)],
        "a 500, a 503, a reset connection, then the answer"
    );
}

pub fn a_500_after_create_is_not_retried_and_leaves_one_record<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    // The emulator creates the record, then answers 500.
    let fault = || {
        Fault::new("/api/media", status(500, FaultBody::Json))
            .method("POST")
            .stage(FaultStage::After)
    };

    env.emu.inject_fault(fault()).unwrap();
    let err = client.create(png_request("once.png", 10)).unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(err.class(), ErrorClass::Server);
    assert_eq!(env.requests("POST", "/api/media").len(), 1, "not retried");
    assert_eq!(env.emu.records().len(), 1, "one record, no duplicate");

    // The same inside an upload: it stops before the PUT.
    env.emu.inject_fault(fault()).unwrap();
    let err = client
        .upload(&env.png("once.png", 100), &ac1())
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(env.requests("POST", "/api/media").len(), 2, "not retried");
    assert_eq!(env.emu.records().len(), 2, "one more record, no duplicate");
    assert!(env.puts().is_empty());
}

pub fn wait_times_out_with_status_time_and_polls<B: Backend>() {
    let env = Env::with_processing_time(Duration::from_secs(600));
    let client: B = env.client();
    let mid = client
        .upload(&env.png("slow.png", 100), &ac1())
        .unwrap()
        .mid()
        .clone();
    let policy = PollPolicy::fixed(Duration::from_millis(10), Duration::from_millis(100));
    env.emu.clear_api_requests();

    let err = client.wait_with(&mid, policy).unwrap_err();
    let Some(ProtocolError::Timeout(timeout)) = err.as_proto() else {
        panic!("expected a wait timeout, got {err:?}")
    };
    assert_eq!(timeout.mid, mid);
    assert_eq!(timeout.last_status, Some(MediaStatus::Uploaded));
    assert!(
        timeout.waited >= policy.max_wait,
        "it gives up at the deadline: {timeout:?}"
    );
    let polls = env.requests("GET", &format!("/api/media/{mid}")).len();
    assert!(polls >= 1);
    assert_eq!(timeout.polls as usize, polls, "one GET per poll");
    assert_eq!(err.class(), ErrorClass::Timeout);
    assert_eq!(err.mid(), Some(&mid));
    let text = err.to_string();
    let plural = if polls == 1 { "" } else { "s" };
    assert!(
        text.contains(&format!("{polls} poll{plural}; last status UPLOADED")),
        "{text}"
    );
}

pub fn list_all_yields_every_record_once_across_pages<B: Backend>() {
    // Three pages of the largest size the backends ask for.
    const RECORDS: u32 = 2 * LIST_LIMIT_MAX + 5;
    let env = Env::new();
    let client: B = env.client();
    for i in 0..RECORDS {
        client
            .create(png_request(&format!("r{i}.png"), 10))
            .unwrap();
    }
    env.emu.clear_api_requests();

    let listed: Vec<MediaId> = client
        .list_all()
        .into_iter()
        .map(|media| media.unwrap().mid)
        .collect();
    assert_eq!(listed.len(), RECORDS as usize);
    let unique: HashSet<MediaId> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "no record twice");
    let stored: HashSet<MediaId> = env
        .emu
        .records()
        .into_iter()
        .map(|r| MediaId::new(r.mid))
        .collect();
    assert_eq!(unique, stored, "every record");

    let pages: Vec<String> = env
        .requests("GET", "/api/media")
        .into_iter()
        .map(|r| r.path)
        .collect();
    let expected: Vec<String> = [0, 1, 2]
        .map(|page| {
            format!(
                "/api/media?limit={LIST_LIMIT_MAX}&offset={}",
                page * LIST_LIMIT_MAX
            )
        })
        .into();
    assert_eq!(pages, expected);
}

pub fn the_batch_waiter_reads_list_pages_with_full_or_summary_items<B: Backend>() {
    use authenta_emulator::ListItems;
    use authenta_proto::engine::batch::BatchWait;
    use authenta_tests::env::{PROCESSING_TIME, fast_retries};

    const FILES: usize = 6;
    for items in [ListItems::Full, ListItems::Summary] {
        // Records are final 100 ms after their upload and polled every
        // 250 ms: one round should see them all.
        let env = Env::with_list_items(PROCESSING_TIME * 5, items);
        let client: B = env.client();
        let polls = PollPolicy::fixed(Duration::from_millis(250), Duration::from_secs(20));
        let mut batch = BatchWait::new(client.config().clone(), fast_retries(), polls);
        let mut mids = HashSet::new();
        for i in 0..FILES {
            let path = env.png(&format!("b{i}.png"), 3000 + i);
            let uploaded = client.upload(&path, &ac1()).unwrap();
            let created_at = Some(uploaded.created.media.created_at);
            batch.add(
                uploaded.mid().clone(),
                created_at,
                std::time::Instant::now(),
            );
            mids.insert(uploaded.mid().clone());
        }
        let queries = || {
            let keys = env.emu.keys();
            let key = keys.iter().find(|k| k.client_id == env.key.client_id);
            key.unwrap().query_used
        };
        let before = queries();
        let mut finished = Vec::new();
        while batch.pending() > 0 {
            finished.extend(client.wait_batch(&mut batch).unwrap());
        }
        let spent = queries() - before;
        assert_eq!(finished.len(), FILES, "{items:?}");
        for (mid, result) in finished {
            let media = result.unwrap();
            assert!(mids.remove(&mid), "{mid} twice or unknown");
            assert_eq!(media.status, MediaStatus::Processed, "{items:?}");
            assert!(media.fake.is_some(), "{items:?}: the verdict of {mid}");
        }
        // Statuses come from list pages: with full items no single GET is
        // needed; summaries lack the verdict, so one GET per record.
        let singles = env.requests("GET", "/api/media/").len();
        let pages = env.requests("GET", "/api/media").len() - singles;
        assert!(pages > 0, "{items:?}: no list page read");
        match items {
            ListItems::Full => assert_eq!(singles, 0, "{items:?}: {spent} queries"),
            _ => assert_eq!(singles, FILES, "{items:?}: {spent} queries"),
        }
        let most = match items {
            ListItems::Full => 3,
            _ => FILES as u64 + 3,
        };
        assert!(
            spent <= most,
            "{items:?}: {spent} queries for {FILES} records"
        );
    }
}

pub fn no_debug_or_message_shows_the_secret<B: Backend>() {
    let env = Env::new();
    let secret = env.secret(&env.key);
    let settings = env.settings();
    let client = B::connect(&settings).unwrap();
    let client_debug = client.client_debug();
    let who = match env.kind {
        CredentialKind::ApiKey => env.key.api_key[..6].to_owned(),
        _ => env.key.client_id.clone(),
    };
    assert!(client_debug.contains(&who), "{client_debug}");
    let mut shown = vec![
        client_debug,
        format!("{:?}", client.config()),
        B::builder_debug(&settings),
        format!("{settings:?}"),
    ];

    // Failures of every kind, from a client holding the secret.
    let mut errors: Vec<Error> = Vec::new();
    let unknown = MediaId::new("0123456789abcdef01234567");
    errors.push(client.get(&unknown).unwrap_err());
    let missing = env.dir.path().join("missing.png");
    errors.push(client.upload(&missing, &ac1()).unwrap_err());
    let (path, created) = png_record(&env, &client, "photo.png", 1000);
    let jpeg = saved_target(&created, 1000, |saved| {
        saved["contentType"] = "image/jpeg".into()
    });
    errors.push(client.upload_to(&jpeg, &path).unwrap_err());
    let instant = PollPolicy::fixed(Duration::ZERO, Duration::ZERO);
    errors.push(client.wait_with(&created.media.mid, instant).unwrap_err());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let offline = B::connect(&authenta_tests::Settings {
        base_url: format!("http://{closed}/api"),
        retry: RetryPolicy::never(),
        ..settings.clone()
    })
    .unwrap();
    errors.push(offline.list(ListQuery::default()).unwrap_err());
    env.emu.revoke_key(&env.key.client_id).unwrap();
    errors.push(client.list(ListQuery::default()).unwrap_err());

    let classes: Vec<ErrorClass> = errors.iter().map(|e| e.class()).collect();
    use ErrorClass::*;
    assert_eq!(
        classes,
        [
            NotFound,
            InvalidInput,
            InvalidInput,
            Timeout,
            Network,
            Authentication
        ]
    );
    assert!(matches!(errors[4], Error::Transport { .. }));
    for err in &errors {
        shown.push(format!("{err:?}"));
        shown.push(err.to_string());
    }
    for text in &shown {
        assert!(!text.contains(&secret), "{}: {text}", B::NAME);
        assert!(!text.contains("X-Amz-Signature"), "{}: {text}", B::NAME);
    }
}

pub fn invalid_api_key_for_a_wrong_a_regenerated_and_a_revoked_key<B: Backend>() {
    let env = Env::new();
    let owner: B = env.client();
    let mid = owner.create(png_request("x.png", 10)).unwrap().media.mid;
    let refused = |err: Error, mid: Option<&MediaId>| {
        assert_documented(
            &err,
            ErrorCode::InvalidApiKey,
            ErrorClass::Authentication,
            mid,
        );
        assert!(err.to_string().contains("check the API key"), "{err}");
    };
    let wrong = B::connect(&env.settings_with(Credentials::api_key("api_not0the0key"))).unwrap();
    refused(wrong.list(ListQuery::default()).unwrap_err(), None);
    refused(wrong.get(&mid).unwrap_err(), Some(&mid));

    // A regenerated key: the old token fails at once, the new one works.
    let renewed = env.emu.regenerate_secret(&env.key.client_id).unwrap();
    refused(owner.get(&mid).unwrap_err(), Some(&mid));
    let fresh: B = env.client_with(&renewed);
    assert_eq!(fresh.get(&mid).unwrap().mid, mid);

    // A revoked key: nothing works.
    env.emu.revoke_key(&renewed.client_id).unwrap();
    refused(fresh.delete(&mid).unwrap_err(), Some(&mid));
    refused(fresh.create(png_request("y.png", 10)).unwrap_err(), None);

    let stats = env.emu.api_stats();
    assert_eq!(
        stats.by_code.get("INVALID_API_KEY"),
        Some(&5),
        "each asked once"
    );
    assert_eq!(stats.total, 7);
}

pub fn an_api_key_spends_no_quota_and_counts_its_calls<B: Backend>() {
    let env = Env::new();
    // A key whose quotas are spent for its client id and secret.
    let key = env.key(KeySpec::new("no quota").query_quota(0).mutation_quota(0));
    let client: B = env.client_with(&key);
    let mid = client.create(png_request("x.png", 10)).unwrap().media.mid;
    client.get(&mid).unwrap();
    client.list(ListQuery::default()).unwrap();
    client.delete(&mid).unwrap();
    assert!(client.get(&mid).is_err(), "deleted");
    let usage = client.config().usage();
    assert_eq!((usage.queries, usage.mutations, usage.calls), (0, 0, 5));
    assert_eq!(usage.to_string(), "5 calls");
    let info = env
        .emu
        .keys()
        .into_iter()
        .find(|k| k.client_id == key.client_id)
        .unwrap();
    assert_eq!((info.query_used, info.mutation_used), (0, 0));
}

/// An API key from a source the test rotates: gives `current`, counting
/// the times it is asked.
struct RotatingKey {
    current: Mutex<String>,
    asked: std::sync::atomic::AtomicUsize,
}

impl CredentialProvider for RotatingKey {
    fn credentials(&self) -> Result<Credentials, CredentialError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Credentials::api_key(self.current.lock().unwrap().as_str()))
    }

    fn describe(&self) -> String {
        "the test's key source".into()
    }
}

pub fn a_refused_api_key_is_read_again_once_and_resent_only_when_it_changed<B: Backend>() {
    let env = Env::new();
    let source = Arc::new(RotatingKey {
        current: Mutex::new(env.key.api_key.clone()),
        asked: Default::default(),
    });
    let settings = authenta_tests::Settings {
        provider: Some(authenta_tests::SharedProvider(source.clone())),
        ..env.settings()
    };
    let client = B::connect(&settings).unwrap();
    let asked = || source.asked.load(std::sync::atomic::Ordering::SeqCst);
    // The async backend's `build` leaves the provider to the first call.
    let by_build = usize::from(B::NAME != "authenta-reqwest");
    assert_eq!(
        asked(),
        by_build,
        "asked once when built, by a blocking client"
    );
    let mid = client.create(png_request("x.png", 10)).unwrap().media.mid;
    assert_eq!(asked(), 1, "asked once, by build or by the first call");

    // Regenerated, and the source already holds the new key: the refused
    // GET is sent once more with it, and succeeds.
    let renewed = env.emu.regenerate_secret(&env.key.client_id).unwrap();
    *source.current.lock().unwrap() = renewed.api_key.clone();
    env.emu.clear_api_requests();
    assert_eq!(client.get(&mid).unwrap().mid, mid);
    assert_eq!(asked(), 2);
    let statuses: Vec<u16> = env.emu.api_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 200], "refused, then resent once");

    // Regenerated again, the source still gives the old key: the refusal
    // stands, nothing is resent.
    env.emu.regenerate_secret(&env.key.client_id).unwrap();
    env.emu.clear_api_requests();
    let err = client.get(&mid).unwrap_err();
    assert_documented(
        &err,
        ErrorCode::InvalidApiKey,
        ErrorClass::Authentication,
        Some(&mid),
    );
    assert_eq!(asked(), 3);
    assert_eq!(
        env.emu.api_requests().len(),
        1,
        "not resent with the same key"
    );
}

pub fn each_current_error_body_parses_into_its_class<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let bodies = [
        (
            401,
            r#"{"code":"INVALID_API_KEY","statusCode":401,"message":"API key authentication failed"}"#,
            ErrorClass::Authentication,
        ),
        (
            403,
            r#"{"code":"FORBIDDEN","statusCode":403,"message":"You don't have permission to access this"}"#,
            ErrorClass::Permission,
        ),
        (
            402,
            r#"{"code":"INSUFFICIENT_BALANCE","statusCode":402,"message":"Insufficient balance. Please top up or enable pay-as-you-go billing"}"#,
            ErrorClass::Credits,
        ),
        (
            400,
            r#"{"code":"INVALID_TASK_TYPE","statusCode":400,"message":"Task type ID 99 does not exist"}"#,
            ErrorClass::InvalidInput,
        ),
        (
            400,
            r#"{"code":"UNSUPPORTED_MEDIA_TYPE","statusCode":400,"message":"Task type 1 (ai-image-detection) does not support media type: video/mp4"}"#,
            ErrorClass::InvalidInput,
        ),
        (
            404,
            r#"{"code":"JOB_NOT_FOUND","statusCode":404,"message":"Job with ID 469 does not exist"}"#,
            ErrorClass::NotFound,
        ),
        // Generation 1's shape, and codes this version does not know: by status.
        (
            429,
            r#"{"code":"AA001","type":"CLIENT_ERROR","message":"API limit reached"}"#,
            ErrorClass::Quota,
        ),
        (
            402,
            r#"{"code":"PAYMENT_NEEDED_SOON","statusCode":402,"message":"x"}"#,
            ErrorClass::Credits,
        ),
        (
            403,
            r#"{"code":"NOPE","message":"no type nor statusCode"}"#,
            ErrorClass::Permission,
        ),
    ];
    for (status, body, class) in bodies {
        env.emu
            .inject_fault(Fault::new(
                "/api/media",
                FaultAction::Respond {
                    status,
                    content_type: Some("application/json".into()),
                    body: body.into(),
                    retry_after: None,
                },
            ))
            .unwrap();
        let err = client.list(ListQuery::default()).unwrap_err();
        let expected: ErrorBody = serde_json::from_str(body).unwrap();
        let Some(ProtocolError::Api(api)) = err.as_proto() else {
            panic!("{body}: expected a typed API error, got {err:?}")
        };
        assert_eq!(api.body, expected, "{body}");
        assert_eq!(err.class(), class, "{body}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert!(!err.is_retryable(), "{body}");
        assert!(err.to_string().contains(expected.message.as_str()), "{err}");
    }
    assert_eq!(
        env.requests("GET", "/api/media").len(),
        bodies.len(),
        "none retried"
    );
}

// ---- Jobs (`/v1/jobs`, generation 2: API keys only) ----

/// A file for `content_type` in `env`'s directory, named `name` plus its
/// extension: the samples for JPEG, PNG and MP4; a small WAV and PDF made
/// here.
fn job_input(env: &Env, name: &str, content_type: &str) -> PathBuf {
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let (ext, bytes) = match content_type {
        "image/jpeg" => (
            "jpg",
            std::fs::read(samples.join("test-pattern.jpg")).unwrap(),
        ),
        "image/png" => (
            "png",
            std::fs::read(samples.join("test-pattern.png")).unwrap(),
        ),
        "video/mp4" => (
            "mp4",
            std::fs::read(samples.join("test-pattern.mp4")).unwrap(),
        ),
        t if t.starts_with("audio/") => {
            let data = vec![0u8; 800];
            let mut wav = b"RIFF".to_vec();
            wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
            wav.extend_from_slice(b"WAVEfmt ");
            wav.extend_from_slice(&16u32.to_le_bytes());
            // PCM, mono, 8000 Hz, 16000 bytes/s, block 2, 16 bits.
            for field in [1u16, 1] {
                wav.extend_from_slice(&field.to_le_bytes());
            }
            wav.extend_from_slice(&8000u32.to_le_bytes());
            wav.extend_from_slice(&16000u32.to_le_bytes());
            wav.extend_from_slice(&2u16.to_le_bytes());
            wav.extend_from_slice(&16u16.to_le_bytes());
            wav.extend_from_slice(b"data");
            wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
            wav.extend_from_slice(&data);
            ("wav", wav)
        }
        "application/pdf" => (
            "pdf",
            b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec(),
        ),
        other => panic!("no test file for {other}"),
    };
    let path = env.dir.path().join(format!("{name}.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The first format of `task`'s original slot this suite has a file for.
fn original_input(env: &Env, task: &TaskTypeInfo) -> PathBuf {
    let slot = task.slot(&SlotName::Original).expect("every task has one");
    let content_type = slot
        .content_types
        .iter()
        .find(|t| {
            [
                "image/jpeg",
                "image/png",
                "video/mp4",
                "audio/wav",
                "audio/x-wav",
            ]
            .contains(t)
                || **t == "application/pdf"
        })
        .expect("a format the suite has a file for");
    job_input(env, task.slug, content_type)
}

fn finalizes(env: &Env, job: &JobId) -> usize {
    env.requests("POST", &format!("/api/v1/jobs/{job}/finalize"))
        .len()
}

pub fn every_task_type_runs_to_a_final_job<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let credits = env.emu.credits();
    let mut ids = Vec::new();
    for task in TASK_TYPES {
        let path = original_input(&env, task);
        let size = std::fs::metadata(&path).unwrap().len();
        env.emu.clear_upload_requests();
        let job = client
            .run_job(
                task.task_type(),
                &[(SlotName::Original, path)],
                &JobOptions::new(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", task.slug));
        assert_eq!(job.status, JobStatus::Completed, "{}: {job:?}", task.slug);
        assert_eq!(job.task_type(), Some(task.task_type()));
        assert!(
            job.result.is_some(),
            "{}: a completed job's result",
            task.slug
        );
        if task.verdict.is_some() {
            assert!(job.verdict().is_some(), "{}: {job:?}", task.slug);
        }
        // One clean PUT of the file, one finalize.
        let puts = env.puts();
        let [put] = &puts[..] else {
            panic!("{}: one PUT: {puts:?}", task.slug)
        };
        let declared = &job.inputs[0].content_type;
        let declared = declared.as_deref().unwrap_or_default();
        assert_eq!(put.client_mistakes(size, declared), Vec::<String>::new());
        assert_eq!(finalizes(&env, &job.id), 1, "{}", task.slug);
        // Its artifacts download whole.
        for (i, artifact) in job.artifacts.iter().enumerate() {
            let to = env.dir.path().join(format!("{}-{i}.artifact", task.slug));
            let written = client.download_artifact(artifact, &to).unwrap();
            assert_eq!(written, Some(std::fs::metadata(&to).unwrap().len()));
        }
        ids.push(job.id);
    }
    assert_eq!(
        env.emu.credits(),
        credits - TASK_TYPES.len() as u64,
        "one credit per finalized job"
    );
    // Listed lazily, each once; read by a &str id; deleted by a &JobId.
    let listed: HashSet<JobId> = client
        .list_all_jobs(Some(JobStatus::Completed))
        .into_iter()
        .map(|j| j.unwrap().id)
        .collect();
    assert_eq!(listed, ids.iter().cloned().collect());
    let page = client
        .list_jobs(JobListQuery {
            page: Some(1),
            limit: Some(2),
            status: None,
        })
        .unwrap();
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.pagination.total, TASK_TYPES.len() as u64);
    assert_eq!(client.get_job(ids[0].as_str()).unwrap().id, ids[0]);
    client.delete_job(&ids[0]).unwrap();
    let gone = client.get_job(ids[0].as_str()).unwrap_err();
    assert_eq!(gone.class(), ErrorClass::NotFound, "{gone}");
    // A job id that cannot be one is refused before any request.
    let before = env.emu.api_requests().len();
    let err = client.get_job("1/../2").unwrap_err();
    assert!(err.to_string().contains("is not a job id"), "{err}");
    assert_eq!(env.emu.api_requests().len(), before);
}

pub fn a_face_intelligence_job_uploads_its_reference_slot<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let clip = job_input(&env, "clip", "video/mp4");
    let face = job_input(&env, "face", "image/jpeg");
    let similarity = JobParameters {
        is_similarity_check: Some(true),
        ..JobParameters::v1()
    };
    let job = client
        .run_job(
            TaskType::FaceIntelligence,
            // Given out of order: uploaded in the task type's slot order.
            &[
                (SlotName::Reference, face.clone()),
                (SlotName::Original, clip.clone()),
            ],
            &JobOptions::new().parameters(similarity),
        )
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    let result = job.result.as_ref().unwrap();
    assert!(result.is_similar.is_some(), "{result:?}");
    let puts = env.puts();
    assert_eq!(puts.len(), 2, "one PUT per slot: {puts:?}");
    let sizes = [clip, face].map(|p| std::fs::metadata(p).unwrap().len());
    for (put, (size, ct)) in puts
        .iter()
        .zip([(sizes[0], "video/mp4"), (sizes[1], "image/jpeg")])
    {
        assert_eq!(put.client_mistakes(size, ct), Vec::<String>::new());
    }
    assert_eq!(finalizes(&env, &job.id), 1);
    // A reference in a format the slot does not take spends nothing.
    let before = env.emu.api_requests().len();
    let err = client
        .run_job(
            TaskType::FaceIntelligence,
            &[
                (SlotName::Original, job_input(&env, "clip2", "video/mp4")),
                (SlotName::Reference, job_input(&env, "ref", "video/mp4")),
            ],
            &JobOptions::new(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("face-intelligence takes JPEG or PNG in its reference slot"),
        "{err}"
    );
    assert_eq!(env.emu.api_requests().len(), before, "nothing was sent");
}

pub fn a_refused_slot_upload_never_finalizes<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let credits = env.emu.credits();
    env.emu
        .inject_fault(
            Fault::new(
                "/authenta-storage/",
                FaultAction::S3Error {
                    status: 403,
                    code: "AccessDenied".into(),
                    message: None,
                },
            )
            .method("PUT"),
        )
        .unwrap();
    let err = client
        .run_job(
            TaskType::AiImageDetection,
            &[(SlotName::Original, job_input(&env, "a", "image/png"))],
            &JobOptions::new(),
        )
        .unwrap_err();
    assert_eq!(upload_error(&err).code, "AccessDenied", "{err}");
    assert!(
        env.requests("POST", "/api/v1/jobs/").is_empty(),
        "no finalize"
    );
    let jobs = env.emu.jobs();
    let [job] = &jobs[..] else {
        panic!("one job: {jobs:?}")
    };
    assert!(job.queued_at.is_none(), "never finalized: {job:?}");
    assert_eq!(env.emu.credits(), credits, "no credit spent");
}

pub fn a_finalize_whose_answer_is_lost_is_read_before_any_resend<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let credits = env.emu.credits();
    // The finalize is handled, then its connection reset: no answer.
    env.emu
        .inject_fault(
            Fault::new("/api/v1/jobs/", FaultAction::Reset)
                .method("POST")
                .stage(FaultStage::After),
        )
        .unwrap();
    let job = client
        .run_job(
            TaskType::AiImageDetection,
            &[(SlotName::Original, job_input(&env, "a", "image/png"))],
            &JobOptions::new(),
        )
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(finalizes(&env, &job.id), 1, "never sent twice");
    // After the lost answer, the job was read (and found queued) first.
    let requests = env.emu.api_requests();
    let finalize = requests
        .iter()
        .position(|r| r.path.ends_with("/finalize"))
        .unwrap();
    assert_eq!(requests[finalize + 1].method, "GET", "{requests:?}");
    assert_eq!(env.emu.credits(), credits - 1, "one credit spent");
}

pub fn cancelled_and_failed_end_the_wait_at_once<B: Backend>() {
    let env = Env::with_processing_time(Duration::from_secs(600));
    let client: B = env.client();
    // Cancelled before processing: the wait reads it once and ends.
    let file = JobFile::from_bytes(
        SlotName::Original,
        "a.png",
        &std::fs::read(job_input(&env, "a", "image/png")).unwrap(),
        None,
    )
    .unwrap();
    let created = client
        .create_job(TaskType::AiImageDetection, &[file])
        .unwrap();
    let id = created.job.id.clone();
    let cancelled = client.cancel_job(id.to_string()).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let job = client.wait_job_with(&id, &JobOptions::new()).unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(env.requests("GET", &format!("/api/v1/jobs/{id}")).len(), 1);
    // Cancelling it again is refused, naming its status.
    let err = client.cancel_job(id.to_string()).unwrap_err();
    assert!(
        matches!(err.as_proto(), Some(ProtocolError::JobState(s)) if s.job_status == Some(JobStatus::Cancelled)),
        "{err:?}"
    );

    // Failed: the run returns the failed job, not an error.
    env.emu.set_processing_time(Duration::from_millis(20));
    env.emu.fail_next_jobs(1, "the decoder gave up").unwrap();
    let job = client
        .run_job(
            TaskType::AiImageDetection,
            &[(SlotName::Original, job_input(&env, "b", "image/png"))],
            &JobOptions::new(),
        )
        .unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.error_message.as_deref(), Some("the decoder gave up"));
    let last = env.emu.api_requests().pop().unwrap();
    assert_eq!(
        last.path,
        format!("/api/v1/jobs/{}", job.id),
        "no poll after"
    );
}

pub fn the_wait_is_bounded_by_the_task_types_limit<B: Backend>() {
    // The emulator's clock stands still: the job stays queued.
    let emu = authenta_emulator::Emulator::builder()
        .clock(authenta_emulator::ClockMode::Manual)
        .spawn()
        .unwrap();
    let key = emu.create_key(KeySpec::new("jobs")).unwrap();
    let env = Env {
        emu,
        key,
        dir: tempfile::tempdir().unwrap(),
        kind: CredentialKind::ApiKey,
    };
    let client: B = env.client();
    // A caller's bound.
    let err = client
        .run_job(
            TaskType::FaceswapDetection,
            &[(SlotName::Original, job_input(&env, "clip", "video/mp4"))],
            &JobOptions::new().bounded(Duration::from_millis(50)),
        )
        .unwrap_err();
    let Some(ProtocolError::JobTimeout(timeout)) = err.as_proto() else {
        panic!("{err:?}")
    };
    assert_eq!(timeout.bound, WaitBound::Caller);
    assert_eq!(timeout.last_status, Some(JobStatus::Queued));
    assert_eq!(err.class(), ErrorClass::Timeout);
    // Without one: faceswap's 1800 s (read from the job), on a clock that
    // skips its sleeps, although the poll policy's deadline is 20 s.
    let job = timeout.job.clone();
    let err = client.wait_job_fast_forward(&job).unwrap_err();
    let Some(ProtocolError::JobTimeout(timeout)) = err.as_proto() else {
        panic!("{err:?}")
    };
    assert_eq!(timeout.limit, Duration::from_secs(1800));
    assert_eq!(timeout.bound, WaitBound::TaskType("faceswap-detection"));
    assert!(timeout.waited >= Duration::from_secs(1800), "{timeout:?}");
    assert!(
        err.to_string().contains("faceswap-detection's time limit"),
        "{err}"
    );
}

pub fn the_created_jobs_id_is_read_from_either_shape<B: Backend>() {
    let env = Env::new();
    let client: B = env.client();
    let file = JobFile::from_bytes(SlotName::Original, "a.png", &png_bytes(100), None).unwrap();
    let slot = r#""inputs": [{"slotName": "original", "contentType": "image/png", "fileName": "a.png", "sizeBytes": 100}]"#;
    for (body, id) in [
        (
            format!(r#"{{"jobId": 71, "status": "waiting_for_finalize", {slot}}}"#),
            "71",
        ),
        (
            format!(r#"{{"job": {{"id": 72, "status": "waiting_for_finalize", {slot}}}}}"#),
            "72",
        ),
        (
            format!(r#"{{"jobId": "j-73", "job": {{"id": "j-73", "status": "created", {slot}}}}}"#),
            "j-73",
        ),
    ] {
        env.emu
            .inject_fault(
                Fault::new(
                    "/api/v1/jobs",
                    FaultAction::Respond {
                        status: 201,
                        content_type: Some("application/json".into()),
                        body,
                        retry_after: None,
                    },
                )
                .method("POST"),
            )
            .unwrap();
        let created = client
            .create_job(TaskType::AiImageDetection, std::slice::from_ref(&file))
            .unwrap();
        assert_eq!(created.job.id.as_str(), id);
    }
    // And from the emulator, which sends both.
    let created = client
        .create_job(TaskType::AiImageDetection, &[file])
        .unwrap();
    let job = client.get_job(created.job.id.as_str()).unwrap();
    assert!(job.status.awaits_finalize(), "{job:?}");
    // By hand: each slot's upload to its URL, then the finalize.
    let url = created
        .job
        .slot(&SlotName::Original)
        .unwrap()
        .upload_url
        .clone();
    let target = UploadTarget::new(url.unwrap(), "image/png", 100, None).unwrap();
    let path = env.dir.path().join("a.png");
    std::fs::write(&path, png_bytes(100)).unwrap();
    client.upload_to(&target, &path).unwrap();
    assert_eq!(
        client.finalize_job(&job.id).unwrap().status,
        JobStatus::Queued
    );
    let done = client.wait_job_with(&job.id, &JobOptions::new()).unwrap();
    assert_eq!(done.status, JobStatus::Completed);
}

pub fn many_jobs_are_waited_for_with_the_list<B: Backend>() {
    let env = Env::with_processing_time(Duration::from_millis(300));
    let client: B = env.client();
    let mut jobs = Vec::new();
    for i in 0..3 {
        let path = job_input(&env, &format!("p{i}"), "image/png");
        let bytes = std::fs::read(&path).unwrap();
        let file = JobFile::from_bytes(SlotName::Original, "p.png", &bytes, None).unwrap();
        let created = client
            .create_job(TaskType::AiImageDetection, &[file])
            .unwrap();
        let slot = created.job.slot(&SlotName::Original).unwrap();
        let url = slot.upload_url.clone().unwrap();
        let target = UploadTarget::new(url, "image/png", bytes.len() as u64, None).unwrap();
        client.upload_to(&target, &path).unwrap();
        client.finalize_job(&created.job.id).unwrap();
        jobs.push((created.job.id, Some(TaskType::AiImageDetection)));
    }
    env.emu.clear_api_requests();
    let finished = client.wait_jobs(&jobs, &JobOptions::new()).unwrap();
    assert_eq!(finished.len(), 3);
    for (id, job) in &finished {
        let job = job.as_ref().unwrap();
        assert_eq!((&job.id, &job.status), (id, &JobStatus::Completed));
    }
    // The lists of active jobs were read, and each job on its own at most
    // a few times (once it left them), not once per poll.
    assert!(!env.requests("GET", "/api/v1/jobs?").is_empty());
    for (id, _) in &jobs {
        let singles = env.requests("GET", &format!("/api/v1/jobs/{id}")).len();
        assert!(singles <= 2, "{id}: {singles} single reads");
    }
}
