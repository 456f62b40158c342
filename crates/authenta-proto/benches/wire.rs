//! What the protocol layer costs on top of serde: building a GET request,
//! reading a media record, reading a 100-item list page, each beside plain
//! `serde_json::from_slice` into the same type.
//!
//! Run: `cargo bench -p authenta-proto --bench wire`

use std::hint::black_box;

use authenta_proto::http::Response;
use authenta_proto::types::{ListQuery, Media, MediaId, MediaList};
use authenta_proto::{ApiRequest, Config, Credentials, ops::GetMedia, ops::ListMedia};
use criterion::{Criterion, criterion_group, criterion_main};

fn media_json(i: usize) -> String {
    format!(
        r#"{{"mid":"{i:024x}","name":"video_sample_{i}.mp4","type":"Video","status":"PROCESSED","modelType":"DF-1","createdAt":"2025-12-02T19:39:27.525Z","fake":true,"heatmapURL":"https://authenta-storage.s3.us-east-1.amazonaws.com/users/u/media/{i:024x}/heatmap.png?X-Amz-Signature=abc","resultURL":"https://authenta-storage.s3.us-east-1.amazonaws.com/users/u/media/{i:024x}/result.json?X-Amz-Signature=def","participants":[{{"heatmap":"https://s3/p0.mp4"}}]}}"#
    )
}

fn response(body: &[u8]) -> Response<Vec<u8>> {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let config = Config::new(Credentials::new(
        "client-id-0123456789",
        "secret-0123456789",
    ));
    let mid = MediaId::new("692f406f9f68d4b70080bb80");

    c.bench_function("build GET /media/{mid}", |b| {
        b.iter(|| {
            GetMedia::new(black_box(mid.clone()))
                .build(black_box(&config))
                .unwrap()
        })
    });

    let one = media_json(1).into_bytes();
    let get = GetMedia::new(mid.clone());
    c.bench_function("read media record (proto)", |b| {
        b.iter_batched(
            || response(&one),
            |r| get.read(&config, r).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("read media record (serde_json baseline)", |b| {
        b.iter_batched(
            || response(&one),
            |r| serde_json::from_slice::<Media>(r.body()).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });

    let items: Vec<String> = (0..100).map(media_json).collect();
    let page = format!(
        r#"{{"limit":100,"offset":0,"total":1000,"data":[{}]}}"#,
        items.join(",")
    )
    .into_bytes();
    let list = ListMedia::new(ListQuery {
        limit: Some(100),
        offset: Some(0),
    })
    .unwrap();
    c.bench_function("read 100-item list page (proto)", |b| {
        b.iter_batched(
            || response(&page),
            |r| list.read(&config, r).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("read 100-item list page (serde_json baseline)", |b| {
        b.iter_batched(
            || response(&page),
            |r| serde_json::from_slice::<MediaList>(r.body()).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
