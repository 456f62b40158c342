//! The API: the check order, permissions, quotas, keys, pagination, delete
//! and every kind of bad input.

use authenta_emulator::KeySpec;
use authenta_types::{ErrorCode, LIST_LIMIT_DEFAULT, MAX_UPLOAD_SIZE, Permission};
use serde_json::json;

use crate::common::{Env, assert_documented, assert_emulator};

fn create_body() -> serde_json::Value {
    json!({"name": "clip", "contentType": "video/mp4", "size": 1024, "modelType": "DF-1"})
}

#[tokio::test]
async fn client_id_and_secret_are_checked_first() {
    let env = Env::new().await;
    let other = env.key_with(KeySpec::new("other"));
    // No credentials at all.
    let a = env.send(env.http.get(env.url("/media"))).await;
    assert_documented(&a, ErrorCode::Iam001);
    // Unknown client id.
    let a = env
        .send(
            env.http
                .get(env.url("/media"))
                .header("x-client-id", "000000000000000000000000")
                .header("x-client-secret", &env.key.client_secret),
        )
        .await;
    assert_documented(&a, ErrorCode::Iam001);
    // Known id, another key's secret.
    let a = env
        .send(
            env.http
                .get(env.url("/media"))
                .header("x-client-id", &env.key.client_id)
                .header("x-client-secret", &other.client_secret),
        )
        .await;
    assert_documented(&a, ErrorCode::Iam001);
    // Id without secret.
    let a = env
        .send(
            env.http
                .get(env.url("/media"))
                .header("x-client-id", &env.key.client_id),
        )
        .await;
    assert_documented(&a, ErrorCode::Iam001);
    // A bad secret is IAM001 even for a key that lacks the permission and
    // has no quota left: authentication comes before both.
    let poor = env.key_with(KeySpec::new("poor").permissions([]).query_quota(0));
    let a = env
        .send(
            env.http
                .get(env.url("/media"))
                .header("x-client-id", &poor.client_id)
                .header("x-client-secret", "wrong"),
        )
        .await;
    assert_documented(&a, ErrorCode::Iam001);
}

#[tokio::test]
async fn permission_comes_before_quota_and_quota_before_credits() {
    let env = Env::new().await;
    let read_only = env.key_with(
        KeySpec::new("r")
            .permissions([Permission::Read])
            .mutation_quota(0),
    );
    assert_documented(
        &env.create_as(&read_only, &create_body()).await,
        ErrorCode::Iam002,
    );
    // Quota (exhausted) before credits (none).
    env.emu.set_credits(0).unwrap();
    let spent = env.key_with(KeySpec::new("w").mutation_quota(0));
    assert_documented(
        &env.create_as(&spent, &create_body()).await,
        ErrorCode::Aa001,
    );
    // With quota left, the credit check answers.
    let a = env.create_as(&env.key, &create_body()).await;
    assert_documented(&a, ErrorCode::U007);
    assert!(env.emu.records().is_empty());
    // Body validation comes after the quota check, before credits.
    let a = env
        .create_as(
            &env.key,
            &json!({"name": "x", "contentType": "text/plain", "size": 1, "modelType": "AC-1"}),
        )
        .await;
    assert_emulator(&a, 400, "contentType");
}

#[tokio::test]
async fn each_route_needs_its_permission() {
    let env = Env::new().await;
    let mid = env.create_for("image/png", "AC-1", b"12345").await["mid"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = |p: Permission| env.key_with(KeySpec::new(p.as_str()).permissions([p]));
    let read = key(Permission::Read);
    let write = key(Permission::Write);
    let delete = key(Permission::Delete);
    let item = format!("/media/{mid}");

    assert_eq!(env.get_as(&read, "/media").await.status, 200);
    assert_eq!(env.get_as(&read, &item).await.status, 200);
    assert_documented(
        &env.create_as(&read, &create_body()).await,
        ErrorCode::Iam002,
    );
    assert_documented(&env.delete_as(&read, &item).await, ErrorCode::Iam002);

    assert_documented(&env.get_as(&write, "/media").await, ErrorCode::Iam002);
    assert_documented(&env.get_as(&write, &item).await, ErrorCode::Iam002);
    assert_documented(&env.delete_as(&write, &item).await, ErrorCode::Iam002);
    assert_eq!(env.create_as(&write, &create_body()).await.status, 200);

    assert_documented(&env.get_as(&delete, "/media").await, ErrorCode::Iam002);
    assert_documented(
        &env.create_as(&delete, &create_body()).await,
        ErrorCode::Iam002,
    );
    assert_eq!(env.delete_as(&delete, &item).await.status, 204);
}

#[tokio::test]
async fn query_quota_ends_at_exactly_the_allocation() {
    let env = Env::new().await;
    let key = env.key_with(KeySpec::new("q").query_quota(3).mutation_quota(1));
    for _ in 0..3 {
        assert_eq!(env.get_as(&key, "/media").await.status, 200);
    }
    assert_documented(&env.get_as(&key, "/media").await, ErrorCode::Aa001);
    // GET /media/{mid} spends the same quota.
    assert_documented(
        &env.get_as(&key, "/media/692f406f9f68d4b70080bb80").await,
        ErrorCode::Aa001,
    );
    // The mutation quota is separate.
    assert_eq!(env.create_as(&key, &create_body()).await.status, 200);
    let info = env
        .emu
        .keys()
        .into_iter()
        .find(|k| k.client_id == key.client_id)
        .unwrap();
    assert_eq!((info.query_used, info.mutation_used), (3, 1));
}

#[tokio::test]
async fn mutation_quota_ends_at_exactly_the_allocation() {
    let env = Env::new().await;
    let key = env.key_with(KeySpec::new("m").mutation_quota(2).query_quota(1));
    let first = env.create_as(&key, &create_body()).await;
    assert_eq!(first.status, 200);
    let mid = first.json()["mid"].as_str().unwrap().to_owned();
    // DELETE spends the mutation quota too.
    assert_eq!(
        env.delete_as(&key, &format!("/media/{mid}")).await.status,
        204
    );
    assert_documented(&env.create_as(&key, &create_body()).await, ErrorCode::Aa001);
    assert_documented(
        &env.delete_as(&key, &format!("/media/{mid}")).await,
        ErrorCode::Aa001,
    );
    // The query quota is separate.
    assert_eq!(env.get_as(&key, "/media").await.status, 200);
    assert_documented(&env.get_as(&key, "/media").await, ErrorCode::Aa001);
}

#[tokio::test]
async fn regenerating_keeps_id_quota_and_usage() {
    let env = Env::new().await;
    let old = env.key_with(KeySpec::new("rotate").query_quota(3));
    assert_eq!(env.get_as(&old, "/media").await.status, 200);
    assert_eq!(env.get_as(&old, "/media").await.status, 200);
    let new = env.emu.regenerate_secret(&old.client_id).unwrap();
    assert_eq!(new.client_id, old.client_id);
    assert_ne!(new.client_secret, old.client_secret);
    assert_documented(&env.get_as(&old, "/media").await, ErrorCode::Iam001);
    assert_eq!(env.get_as(&new, "/media").await.status, 200);
    // Usage was kept: the quota of 3 is now spent.
    assert_documented(&env.get_as(&new, "/media").await, ErrorCode::Aa001);
    let info = env
        .emu
        .keys()
        .into_iter()
        .find(|k| k.client_id == old.client_id)
        .unwrap();
    assert_eq!((info.query_quota, info.query_used), (Some(3), 3));
}

#[tokio::test]
async fn revoking_invalidates_id_and_secret() {
    let env = Env::new().await;
    let key = env.key_with(KeySpec::new("gone"));
    assert_eq!(env.get_as(&key, "/media").await.status, 200);
    env.emu.revoke_key(&key.client_id).unwrap();
    assert_documented(&env.get_as(&key, "/media").await, ErrorCode::Iam001);
    assert_documented(
        &env.create_as(&key, &create_body()).await,
        ErrorCode::Iam001,
    );
    assert!(env.emu.regenerate_secret(&key.client_id).is_err());
    assert!(
        env.emu
            .keys()
            .iter()
            .any(|k| k.client_id == key.client_id && k.revoked)
    );
    // Other keys are unaffected.
    assert_eq!(env.get("/media").await.status, 200);
}

#[tokio::test]
async fn pagination_newest_first() {
    let env = Env::new().await;
    let mut mids = Vec::new();
    for i in 0..5 {
        let a = env
            .create_as(&env.key, &json!({"name": format!("n{i}"), "contentType": "image/png", "size": 10, "modelType": "AC-1"}))
            .await;
        mids.push(a.json()["mid"].as_str().unwrap().to_owned());
    }
    mids.reverse();
    let page = env.get("/media?limit=2&offset=0").await.json();
    assert_eq!(
        (
            page["limit"].as_u64(),
            page["offset"].as_u64(),
            page["total"].as_u64()
        ),
        (Some(2), Some(0), Some(5))
    );
    let got: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mid"].as_str().unwrap())
        .collect();
    assert_eq!(got, mids[..2]);
    let page = env.get("/media?offset=4&limit=2").await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["mid"], mids[4].as_str());
    assert!(page["data"][0].get("uploadUrl").is_none());
    let page = env.get("/media?offset=10").await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    assert_eq!(page["total"], 5);
    let page = env.get("/media").await.json();
    assert_eq!(page["limit"].as_u64(), Some(u64::from(LIST_LIMIT_DEFAULT)));
    let typed: authenta_types::MediaList = serde_json::from_value(page).unwrap();
    assert_eq!(typed.data.len(), 5);
}

#[tokio::test]
async fn delete_answers_204_then_the_record_is_gone() {
    let env = Env::new().await;
    let created = env.create_for("video/mp4", "DF-1", &[0u8; 10]).await;
    let typed: authenta_types::CreatedMedia = serde_json::from_value(created.clone()).unwrap();
    assert_eq!(typed.media.status, authenta_types::MediaStatus::Inited);
    assert_eq!(typed.expires_in, Some(3600));
    let mid = created["mid"].as_str().unwrap();
    let a = env.delete_as(&env.key, &format!("/media/{mid}")).await;
    assert_eq!(a.status, 204);
    assert!(a.body.is_empty());
    assert_emulator(&env.get(&format!("/media/{mid}")).await, 404, mid);
    assert_emulator(
        &env.delete_as(&env.key, &format!("/media/{mid}")).await,
        404,
        mid,
    );
    assert_eq!(env.get("/media").await.json()["total"], 0);
}

#[tokio::test]
async fn bad_create_bodies_are_400_naming_the_problem() {
    let env = Env::new().await;
    let good = json!({"name": "a", "contentType": "image/png", "size": 1, "modelType": "AC-1"});
    // The good body with one field replaced (or removed, for `Null`).
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        match value {
            serde_json::Value::Null => body.as_object_mut().unwrap().remove(field),
            v => body.as_object_mut().unwrap().insert(field.to_owned(), v),
        };
        body.to_string()
    };
    let cases = [
        ("malformed", r#"{"name": "#.to_owned()),
        ("object", "[]".to_owned()),
        ("`size`", with("size", serde_json::Value::Null)),
        ("`bogus`", with("bogus", json!(1))),
        ("string", with("size", json!("12"))),
        ("at least 1", with("size", json!(0))),
        ("-1", with("size", json!(-1))),
        ("floating", with("size", json!(1.5))),
        ("at most", with("size", json!(MAX_UPLOAD_SIZE + 1))),
        ("text/plain", with("contentType", json!("text/plain"))),
        ("does not take", with("modelType", json!("DF-1"))),
        ("ZZ-9", with("modelType", json!("ZZ-9"))),
        ("`name`", with("name", json!(""))),
        ("`name`", with("name", json!("n".repeat(256)))),
        ("invalid type", with("name", json!(7))),
    ];
    for (needle, body) in cases {
        let a = env
            .post_raw(&env.key, Some("application/json"), body.into_bytes())
            .await;
        assert_emulator(&a, 400, needle);
    }
    assert!(env.emu.records().is_empty());
}

#[tokio::test]
async fn wrong_content_type_and_oversized_bodies() {
    let env = Env::new().await;
    let body = create_body().to_string().into_bytes();
    assert_emulator(
        &env.post_raw(&env.key, Some("text/plain"), body.clone())
            .await,
        415,
        "application/json",
    );
    assert_emulator(
        &env.post_raw(&env.key, None, body.clone()).await,
        415,
        "application/json",
    );
    // A charset parameter is fine.
    assert_eq!(
        env.post_raw(&env.key, Some("application/json; charset=utf-8"), body)
            .await
            .status,
        200
    );
    let huge = format!(
        r#"{{"name":"{}","contentType":"image/png","size":1,"modelType":"AC-1"}}"#,
        "x".repeat(authenta_emulator::MAX_JSON_BODY)
    );
    assert_emulator(
        &env.post_raw(&env.key, Some("application/json"), huge.into_bytes())
            .await,
        413,
        "at most",
    );
    // A streamed body (no Content-Length) over the cap is refused too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 8192])).collect();
    let a = env
        .send(
            env.http
                .post(env.url("/media"))
                .header("x-client-id", &env.key.client_id)
                .header("x-client-secret", &env.key.client_secret)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                ))),
        )
        .await;
    assert_emulator(&a, 413, "at most");
}

#[tokio::test]
async fn bad_list_queries_and_mids() {
    let env = Env::new().await;
    for (query, needle) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("page=2", "page"),
        ("limit=1&limit=2", "twice"),
    ] {
        assert_emulator(&env.get(&format!("/media?{query}")).await, 400, needle);
    }
    for mid in [
        "xyz",
        "692F406F9F68D4B70080BB80",
        "692f406f9f68d4b70080bb800",
        "692f406f9f68d4b70080bb8g",
    ] {
        assert_emulator(&env.get(&format!("/media/{mid}")).await, 400, "mid");
        assert_emulator(
            &env.delete_as(&env.key, &format!("/media/{mid}")).await,
            400,
            "mid",
        );
    }
    assert_emulator(
        &env.get("/media/692f406f9f68d4b70080bb80").await,
        404,
        "692f406f9f68d4b70080bb80",
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let env = Env::new().await;
    assert_emulator(&env.get("/nope").await, 404, "/api/nope");
    assert_emulator(&env.get("").await, 404, "/api");
    let a = env.send(env.http.put(env.url("/media"))).await;
    assert_emulator(&a, 405, "PUT");
    let a = env
        .send(env.http.patch(env.url("/media/692f406f9f68d4b70080bb80")))
        .await;
    assert_emulator(&a, 405, "PATCH");
}

#[tokio::test]
async fn serves_the_openapi_description() {
    let env = Env::new().await;
    let a = env.send(env.http.get(env.url("/openapi.yaml"))).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.text(), authenta_types::OPENAPI_YAML);
}

#[tokio::test]
async fn the_request_log_counts_answers_without_secrets() {
    let env = Env::new().await;
    env.get("/media").await;
    env.send(env.http.get(env.url("/media"))).await;
    let log = env.emu.api_requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0].client_id.as_deref(),
        Some(env.key.client_id.as_str())
    );
    assert_eq!((log[0].status, log[1].status), (200, 401));
    assert_eq!(log[1].code.as_deref(), Some("IAM001"));
    let stats = env.emu.api_stats();
    assert_eq!(stats.total, 2);
    assert_eq!(stats.by_code.get("IAM001"), Some(&1));
    let dump = serde_json::to_string(&log).unwrap();
    assert!(!dump.contains(&env.key.client_secret));
}

#[tokio::test]
async fn query_strings_are_percent_decoded() {
    let env = Env::new().await;
    for _ in 0..12 {
        env.create_for("image/png", "AC-1", b"x").await;
    }
    let page = env.get("/media?limit=%31%30").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.json()["limit"], 10);
    assert_eq!(page.json()["data"].as_array().unwrap().len(), 10);
    // An encoded name is its name.
    let page = env.get("/media?%6Cimit=2&off%73et=%31").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        (page.json()["limit"].clone(), page.json()["offset"].clone()),
        (json!(2), json!(1))
    );
    let bad = env.get("/media?limit=%3").await;
    assert_emulator(&bad, 400, "limit");
}

#[tokio::test]
async fn list_items_can_be_the_documented_summary() {
    let env = Env::with(
        authenta_emulator::Emulator::builder()
            .clock(authenta_emulator::ClockMode::Manual)
            .list_items(authenta_emulator::ListItems::Summary),
    )
    .await;
    let mid = env.upload("image/png", "AC-1", b"summary").await;
    env.wait_final(&mid).await;
    let page = env.get("/media").await.json();
    let item = page["data"][0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["createdAt", "mid", "modelType", "name", "status", "type"]
    );
    // GET /media/{mid} still answers the whole record.
    let whole = env.get(&format!("/media/{mid}")).await.json();
    assert!(whole["resultURL"].is_string());
}
