//! A bounded loopback load test: 50 clients x 200 requests on keys with
//! small quotas. Successes must equal the quotas exactly; no 5xx.

use std::sync::Arc;

use authenta_emulator::{ApiKey, Emulator, KeySpec};
use serde_json::json;

const CLIENTS: usize = 50;
const REQUESTS: usize = 200;
const KEYS: usize = 5;
const QUERY_QUOTA: u64 = 150;
const MUTATION_QUOTA: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_exactly_their_quota() {
    let emu = Emulator::builder().start().await.unwrap();
    let keys: Vec<ApiKey> = (0..KEYS)
        .map(|i| {
            emu.create_key(
                KeySpec::new(format!("load-{i}"))
                    .query_quota(QUERY_QUOTA)
                    .mutation_quota(MUTATION_QUOTA),
            )
            .unwrap()
        })
        .collect();
    let keys = Arc::new(keys);
    let http = crate::common::http_client();
    let base = emu.base_url().to_owned();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (keys, http, base) = (keys.clone(), http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let key = &keys[client % KEYS];
            // (key index, is mutation, status)
            let mut seen = Vec::with_capacity(REQUESTS);
            for i in 0..REQUESTS {
                let mutation = i % 4 == 0;
                let req = if mutation {
                    http.post(format!("{base}/media"))
                        .header("content-type", "application/json")
                        .body(json!({"name": "load", "contentType": "image/png", "size": 10, "modelType": "AC-1"}).to_string())
                } else {
                    http.get(format!("{base}/media?limit=1"))
                };
                let status = req
                    .header("x-client-id", &key.client_id)
                    .header("x-client-secret", &key.client_secret)
                    .send()
                    .await
                    .expect("no transport error")
                    .status()
                    .as_u16();
                seen.push((client % KEYS, mutation, status));
            }
            seen
        }));
    }
    let mut ok = vec![(0u64, 0u64); KEYS];
    for task in tasks {
        for (key, mutation, status) in task.await.expect("no panic") {
            assert!(status == 200 || status == 429, "unexpected status {status}");
            if status == 200 {
                if mutation {
                    ok[key].1 += 1;
                } else {
                    ok[key].0 += 1;
                }
            }
        }
    }
    for (queries, mutations) in ok {
        assert_eq!(queries, QUERY_QUOTA);
        assert_eq!(mutations, MUTATION_QUOTA);
    }
    assert_eq!(emu.records().len() as u64, KEYS as u64 * MUTATION_QUOTA);
    let stats = emu.api_stats();
    assert_eq!(stats.total, (CLIENTS * REQUESTS) as u64);
    assert!(stats.by_status.keys().all(|s| *s < 500));
}
