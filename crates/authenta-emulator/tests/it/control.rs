//! The control surface over HTTP, and the admin token.

use authenta_emulator::{Emulator, EmulatorError};
use authenta_types::ErrorCode;
use serde_json::{Value, json};

use crate::common::{Answer, Env, assert_documented, assert_emulator};

async fn call(
    env: &Env,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Answer {
    let mut req = env
        .http
        .request(method, format!("{}{path}", env.emu.control_url()));
    if let Some(body) = body {
        req = req.json_body(&body);
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    env.send(req).await
}

trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }
}

#[tokio::test]
async fn keys_credits_and_settings_over_http() {
    use reqwest::Method;
    let env = Env::new().await;
    let a = call(
        &env,
        Method::POST,
        "/keys",
        Some(json!({"name": "http", "permissions": ["Read"], "queryQuota": 2})),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let key: authenta_emulator::ApiKey = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(env.get_as(&key, "/media").await.status, 200);
    assert_documented(&env.create_as(&key, &json!({})).await, ErrorCode::Iam002);

    let a = call(
        &env,
        Method::POST,
        &format!("/keys/{}/regenerate", key.client_id),
        None,
        None,
    )
    .await;
    let new: authenta_emulator::ApiKey = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(new.client_id, key.client_id);
    assert_documented(&env.get_as(&key, "/media").await, ErrorCode::Iam001);
    assert_eq!(env.get_as(&new, "/media").await.status, 200);
    assert_documented(&env.get_as(&new, "/media").await, ErrorCode::Aa001);

    let a = call(
        &env,
        Method::POST,
        &format!("/keys/{}/revoke", key.client_id),
        None,
        None,
    )
    .await;
    assert_eq!(a.status, 204);
    assert_documented(&env.get_as(&new, "/media").await, ErrorCode::Iam001);
    let keys = call(&env, Method::GET, "/keys", None, None).await.json();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["clientId"] == key.client_id.as_str() && k["revoked"] == true)
    );
    assert!(!keys.to_string().contains(&new.client_secret));
    assert_emulator(
        &call(&env, Method::POST, "/keys/nope/revoke", None, None).await,
        404,
        "nope",
    );

    let a = call(
        &env,
        Method::PUT,
        "/credits",
        Some(json!({"credits": 0})),
        None,
    )
    .await;
    assert_eq!(a.json(), json!({"credits": 0}));
    assert_eq!(env.emu.credits(), 0);
    assert_eq!(
        call(&env, Method::GET, "/credits", None, None).await.json(),
        json!({"credits": 0})
    );

    call(
        &env,
        Method::PUT,
        "/processing-time",
        Some(json!({"millis": 1234})),
        None,
    )
    .await;
    assert_eq!(env.emu.processing_time().as_millis(), 1234);
    assert_eq!(
        call(&env, Method::GET, "/processing-time", None, None)
            .await
            .json(),
        json!({"millis": 1234})
    );

    let a = call(
        &env,
        Method::PUT,
        "/upload-urls",
        Some(json!({"expiresInSecs": 60, "backdateSecs": 0})),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_emulator(
        &call(
            &env,
            Method::PUT,
            "/upload-urls",
            Some(json!({"expiresInSecs": 0})),
            None,
        )
        .await,
        400,
        "expiresInSecs",
    );
}

#[tokio::test]
async fn records_logs_and_faults_over_http() {
    use reqwest::Method;
    let env = Env::new().await;
    let mid = env.upload("image/png", "AC-1", b"abc").await;
    let records = call(&env, Method::GET, "/records", None, None).await.json();
    assert_eq!(records[0]["mid"], mid.as_str());
    let one = call(&env, Method::GET, &format!("/records/{mid}"), None, None)
        .await
        .json();
    assert_eq!(one["upload"]["size"], 3);
    assert_emulator(
        &call(&env, Method::GET, "/records/nope", None, None).await,
        404,
        "nope",
    );

    let uploads = call(&env, Method::GET, "/uploads", None, None).await.json();
    assert_eq!(uploads[0]["method"], "PUT");
    assert_eq!(
        call(&env, Method::DELETE, "/uploads", None, None)
            .await
            .status,
        204
    );
    assert!(env.emu.upload_requests().is_empty());

    let requests = call(&env, Method::GET, "/requests", None, None)
        .await
        .json();
    assert_eq!(requests["stats"]["total"], 1);
    assert_eq!(requests["requests"][0]["method"], "POST");
    assert_eq!(
        call(&env, Method::DELETE, "/requests", None, None)
            .await
            .status,
        204
    );
    assert!(env.emu.api_requests().is_empty());

    let fault = json!({"pathPrefix": "/api/media", "method": "GET", "times": 1, "stage": "before",
                       "action": {"kind": "status", "status": 503, "body": "html", "retryAfter": 2}});
    let a = call(&env, Method::POST, "/faults", Some(fault), None).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        call(&env, Method::GET, "/faults", None, None).await.json()[0]["remaining"],
        1
    );
    let a = env.get("/media").await;
    assert_eq!((a.status, a.header("retry-after")), (503, Some("2")));
    call(
        &env,
        Method::POST,
        "/faults",
        Some(json!({"pathPrefix": "/", "action": {"kind": "reset"}})),
        None,
    )
    .await;
    assert_eq!(
        call(&env, Method::DELETE, "/faults", None, None)
            .await
            .status,
        204
    );
    assert_eq!(env.get("/media").await.status, 200);
}

#[tokio::test]
async fn bad_control_requests_are_json_errors() {
    use reqwest::Method;
    let env = Env::new().await;
    assert_emulator(
        &call(&env, Method::POST, "/keys", Some(json!({"nam": "x"})), None).await,
        400,
        "nam",
    );
    assert_emulator(
        &call(&env, Method::POST, "/keys", Some(json!({"name": ""})), None).await,
        400,
        "name",
    );
    assert_emulator(
        &call(
            &env,
            Method::POST,
            "/keys",
            Some(json!({"name": "x", "permissions": ["Admin"]})),
            None,
        )
        .await,
        400,
        "Admin",
    );
    assert_emulator(
        &call(
            &env,
            Method::PUT,
            "/credits",
            Some(json!({"credits": -1})),
            None,
        )
        .await,
        400,
        "-1",
    );
    assert_emulator(
        &call(
            &env,
            Method::POST,
            "/faults",
            Some(json!({"pathPrefix": "/", "action": {"kind": "explode"}})),
            None,
        )
        .await,
        400,
        "explode",
    );
    assert_emulator(
        &call(&env, Method::GET, "/nothing", None, None).await,
        404,
        "/_emulator/nothing",
    );
    assert_emulator(
        &call(&env, Method::DELETE, "/credits", None, None).await,
        405,
        "DELETE",
    );
    let a = env
        .send(
            env.http
                .put(env.emu.control_url() + "/credits")
                .body("{\"credits\":1}"),
        )
        .await;
    assert_emulator(&a, 415, "application/json");
}

#[tokio::test]
async fn the_admin_token_guards_the_control_surface() {
    use reqwest::Method;
    let env = Env::with(Emulator::builder().admin_token("s3cret-token")).await;
    assert_documented(
        &call(&env, Method::GET, "/keys", None, None).await,
        ErrorCode::Iam001,
    );
    assert_documented(
        &call(&env, Method::GET, "/keys", None, Some("wrong")).await,
        ErrorCode::Iam001,
    );
    assert_eq!(
        call(&env, Method::GET, "/keys", None, Some("s3cret-token"))
            .await
            .status,
        200
    );
    // The API does not need it.
    assert_eq!(env.get("/media").await.status, 200);
}

#[tokio::test]
async fn a_non_loopback_address_needs_an_admin_token() {
    let err = Emulator::builder()
        .listen(([0, 0, 0, 0], 0))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, EmulatorError::NonLoopbackWithoutToken(_)));
    assert!(err.to_string().contains("admin token"));
}
