//! Generation 2: Bearer API keys, their checks and error bodies, and the
//! `auth` setting that serves one generation only.

use authenta_emulator::{AuthMode, Emulator, Fault, FaultAction, FaultBody, KeySpec};
use authenta_types::{ErrorCode, Permission};
use reqwest::Method;
use serde_json::json;

use crate::common::{Env, assert_documented};

fn create_body() -> serde_json::Value {
    json!({"name": "clip", "contentType": "video/mp4", "size": 1024, "modelType": "DF-1"})
}

#[tokio::test]
async fn a_bearer_key_is_checked_then_its_permission_with_generation_two_bodies() {
    let env = Env::new().await;
    assert!(env.key.api_key.starts_with("api_"), "{}", env.key.api_key);
    assert!(
        env.key.api_key[4..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    );
    // The right key: no quota spent, the call answered.
    let a = env.bearer(Method::GET, &env.key.api_key, "/media").await;
    assert_eq!(a.status, 200, "{}", a.text());
    // A wrong, a missing, a malformed key, and another scheme.
    for header in [
        Some("Bearer api_0000".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Basic {}", env.key.api_key)),
        Some(env.key.api_key.clone()),
    ] {
        let mut req = env.http.get(env.url("/media"));
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let a = env.send(req).await;
        assert_documented(&a, ErrorCode::InvalidApiKey);
        assert_eq!(
            a.json(),
            json!({"code": "INVALID_API_KEY", "statusCode": 401, "message": "API key authentication failed"}),
            "{header:?}"
        );
    }
    // Permission: FORBIDDEN, for each route.
    let read = env.key_with(KeySpec::new("r").permissions([Permission::Read]));
    assert_documented(
        &env.create_bearer(&read.api_key, &create_body()).await,
        ErrorCode::Forbidden,
    );
    let write = env.key_with(KeySpec::new("w").permissions([Permission::Write]));
    assert_documented(
        &env.bearer(Method::GET, &write.api_key, "/media").await,
        ErrorCode::Forbidden,
    );
    // The x-client-* headers of the same key still work, as generation 1.
    let a = env.get_as(&env.key, "/media").await;
    assert_eq!(a.status, 200);
    // The log names the credential headers each request carried.
    let log = env.emu.api_requests();
    assert_eq!(log[0].credential_headers, ["authorization"]);
    assert_eq!(log[0].client_id, None);
    assert_eq!(
        log.last().unwrap().credential_headers,
        ["x-client-id", "x-client-secret"]
    );
}

#[tokio::test]
async fn a_bearer_key_has_no_quota_and_is_refused_credits_at_create() {
    let env = Env::new().await;
    let key = env.key_with(KeySpec::new("q").query_quota(0).mutation_quota(0));
    // Generation 1 with the same key: its quota is spent.
    assert_documented(&env.get_as(&key, "/media").await, ErrorCode::Aa001);
    // Generation 2: no quota.
    for _ in 0..3 {
        let a = env.bearer(Method::GET, &key.api_key, "/media").await;
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let info = env
        .emu
        .keys()
        .into_iter()
        .find(|k| k.client_id == key.client_id)
        .unwrap();
    assert_eq!(info.query_used, 0, "Bearer calls spend no quota");
    // Credits are checked at POST /media: 402 INSUFFICIENT_BALANCE, nothing
    // created.
    env.emu.set_credits(0).unwrap();
    let a = env.create_bearer(&key.api_key, &create_body()).await;
    assert_documented(&a, ErrorCode::InsufficientBalance);
    assert_eq!(a.json()["statusCode"], 402);
    assert!(env.emu.records().is_empty());
    // The same refusal through the headers is U007.
    assert_documented(
        &env.create_as(&env.key, &create_body()).await,
        ErrorCode::U007,
    );
}

#[tokio::test]
async fn regenerating_or_revoking_a_key_invalidates_its_token_at_once() {
    let env = Env::new().await;
    let renewed = env.emu.regenerate_secret(&env.key.client_id).unwrap();
    assert_ne!(renewed.api_key, env.key.api_key);
    assert_documented(
        &env.bearer(Method::GET, &env.key.api_key, "/media").await,
        ErrorCode::InvalidApiKey,
    );
    assert_eq!(
        env.bearer(Method::GET, &renewed.api_key, "/media")
            .await
            .status,
        200
    );
    env.emu.revoke_key(&renewed.client_id).unwrap();
    assert_documented(
        &env.bearer(Method::GET, &renewed.api_key, "/media").await,
        ErrorCode::InvalidApiKey,
    );
}

#[tokio::test]
async fn every_error_of_a_bearer_request_has_the_generation_two_shape() {
    let env = Env::new().await;
    let token = &env.key.api_key;
    // Bad input: the emulator's own code, with statusCode and no type.
    let a = env
        .create_bearer(
            token,
            &json!({"name": "x", "contentType": "text/plain", "size": 1, "modelType": "AC-1"}),
        )
        .await;
    assert_eq!(a.status, 400);
    let body = a.json();
    assert_eq!(
        (body["code"].as_str(), body["statusCode"].as_u64()),
        (Some("EMU400"), Some(400))
    );
    assert!(body.get("type").is_none(), "{body}");
    // A model that does not take the content type: UNSUPPORTED_MEDIA_TYPE,
    // by kind and by FD-1's own formats.
    for (content_type, model) in [("video/mp4", "AC-1"), ("image/webp", "FD-1")] {
        let a = env
            .create_bearer(
                token,
                &json!({"name": "x", "contentType": content_type, "size": 1, "modelType": model}),
            )
            .await;
        assert_eq!(a.status, 400, "{}", a.text());
        let body = a.json();
        assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(content_type),
            "{body}"
        );
        // Through the headers, the same request is EMU400.
        let a = env
            .create_as(
                &env.key,
                &json!({"name": "x", "contentType": content_type, "size": 1, "modelType": model}),
            )
            .await;
        assert_eq!(a.json()["code"], "EMU400");
    }
    // An unknown record, and an injected fault.
    let a = env
        .bearer(Method::GET, token, "/media/0123456789abcdef01234567")
        .await;
    assert_eq!(a.json()["statusCode"], 404);
    env.emu
        .inject_fault(Fault::new(
            "/api/media",
            FaultAction::Status {
                status: 503,
                body: FaultBody::Json,
                retry_after: None,
            },
        ))
        .unwrap();
    let a = env.bearer(Method::GET, token, "/media").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["statusCode"], 503);
    assert!(a.json().get("type").is_none());
}

#[tokio::test]
async fn one_generation_only_when_told() {
    let headers = Env::with(Emulator::builder().auth(AuthMode::Headers)).await;
    // A Bearer request is not one: no client id, IAM001.
    assert_documented(
        &headers
            .bearer(Method::GET, &headers.key.api_key, "/media")
            .await,
        ErrorCode::Iam001,
    );
    assert_eq!(headers.get("/media").await.status, 200);
    let bearer = Env::with(Emulator::builder().auth(AuthMode::Bearer)).await;
    assert_documented(&bearer.get("/media").await, ErrorCode::InvalidApiKey);
    assert_eq!(
        bearer
            .bearer(Method::GET, &bearer.key.api_key, "/media")
            .await
            .status,
        200
    );
    assert_eq!("bearer".parse::<AuthMode>(), Ok(AuthMode::Bearer));
    assert!(
        "tokens"
            .parse::<AuthMode>()
            .unwrap_err()
            .contains("headers, bearer or both")
    );
}

#[tokio::test]
async fn a_processed_record_carries_the_generation_two_figures() {
    let env = Env::new().await;
    let png = b"\x89PNG\r\n\x1a\n0123456789";
    let mid = env.upload("image/png", "FD-1", png).await;
    let media = env.wait_final(&mid).await;
    let confidence = media["confidence"].as_f64().expect("a confidence");
    assert!((0.0..=1.0).contains(&confidence), "{media}");
    assert_eq!(media["fake"].as_bool(), Some(confidence > 0.5), "{media}");
    assert!(media.get("faces").is_none());
}
