//! `deserialize(serialize(x)) == x` for every wire type, by property tests.

use std::collections::BTreeMap;

use authenta_types::{
    CreateMediaRequest, CreatedJob, CreatedMedia, ErrorBody, ErrorCode, ErrorType, Extra, Job,
    JobId, JobList, JobResult, JobSlot, JobStatus, ListQuery, Media, MediaId, MediaList,
    MediaStatus, MediaType, ModelType, Pagination, Participant, ParticipantBoxes, Permission,
    ResultDocument, SlotName, TaskType, Timestamp,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(&back, value, "{json}");
}

/// A known wire value, or an unknown one.
fn wire<T: From<String> + std::fmt::Debug + 'static>(
    known: &'static [&'static str],
) -> BoxedStrategy<T> {
    prop_oneof![
        proptest::sample::select(known).prop_map(|s| T::from(s.to_owned())),
        "[A-Z][A-Z0-9_-]{0,12}".prop_map(T::from),
    ]
    .boxed()
}

/// Unknown fields: keys that no type of ours uses, simple JSON values.
fn extra() -> impl Strategy<Value = Extra> {
    proptest::collection::btree_map(
        "x_[a-z]{1,8}",
        prop_oneof![
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,16}".prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ],
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    // 1970 to 2100, with nanoseconds.
    (0i64..4_102_444_800, 0i32..1_000_000_000).prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap())
}

fn media() -> impl Strategy<Value = Media> {
    (
        ("[0-9a-f]{24}", ".{0,20}"),
        (
            wire::<MediaType>(MediaType::KNOWN),
            wire::<MediaStatus>(MediaStatus::KNOWN),
            wire::<ModelType>(ModelType::KNOWN),
        ),
        timestamp(),
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of("https://[a-z]{1,8}/[a-z]{1,8}"),
            proptest::option::of("https://[a-z]{1,8}/[a-z]{1,8}"),
        ),
        proptest::option::of(proptest::collection::vec(
            (proptest::option::of("https://[a-z]{1,8}"), extra())
                .prop_map(|(heatmap, extra)| Participant { heatmap, extra }),
            0..3,
        )),
        (
            proptest::option::of("https://[a-z]{1,8}/[a-z]{1,8}\\?X-Amz-Signature=[a-z]{1,8}"),
            proptest::option::of(0.0f64..=1.0),
            proptest::option::of(0u64..10),
            proptest::option::of(0u64..10),
        ),
        extra(),
    )
        .prop_map(
            |(
                (mid, name),
                (media_type, status, model_type),
                created_at,
                (fake, heatmap_url, result_url),
                participants,
                (src_url, confidence, faces, deep_fakes),
                extra,
            )| Media {
                mid: MediaId::new(mid),
                name,
                media_type,
                status,
                model_type,
                created_at,
                fake,
                heatmap_url,
                result_url,
                participants,
                src_url,
                confidence,
                faces,
                deep_fakes,
                extra,
            },
        )
}

fn job() -> impl Strategy<Value = Job> {
    (
        prop_oneof!["[1-9][0-9]{0,6}", "0[0-9]{1,3}", "[a-z][a-z0-9_-]{0,12}"],
        wire::<JobStatus>(JobStatus::KNOWN),
        (
            proptest::option::of(1u32..20),
            proptest::option::of(
                proptest::sample::select(TaskType::KNOWN).prop_map(TaskType::from),
            ),
        ),
        proptest::option::of(timestamp()),
        proptest::collection::vec(
            (
                proptest::sample::select(SlotName::KNOWN).prop_map(SlotName::from),
                proptest::option::of(1u64..1 << 40),
                proptest::option::of("https://[a-z]{1,8}/[a-z]{1,8}\\?X-Amz-Signature=[a-z]{1,8}"),
            )
                .prop_map(|(slot_name, size_bytes, upload_url)| JobSlot {
                    slot_name,
                    content_type: Some("image/png".into()),
                    file_name: Some("f.png".into()),
                    size_bytes,
                    upload_url,
                    expires_in: None,
                    extra: Extra::new(),
                }),
            0..3,
        ),
        proptest::option::of(
            (
                proptest::option::of(0.0f64..=1.0),
                proptest::option::of(any::<bool>()),
                proptest::option::of(proptest::collection::vec(-1.0f64..1.0, 512)),
                extra(),
            )
                .prop_map(|(confidence, is_deep_fake, embedding, extra)| JobResult {
                    confidence,
                    is_deep_fake,
                    embedding,
                    extra,
                    ..JobResult::default()
                }),
        ),
        extra(),
    )
        .prop_map(
            |(id, status, (task_type_id, task_type_slug), created_at, inputs, result, extra)| Job {
                id: JobId::new(id),
                task_type_id,
                task_type_slug,
                status,
                created_at,
                updated_at: created_at,
                queued_at: None,
                completed_at: None,
                inputs,
                parameters: None,
                result,
                error_message: None,
                artifacts: Vec::new(),
                extra,
            },
        )
}

proptest! {
    #[test]
    fn jobs_roundtrip(job in job()) {
        roundtrip(&job);
        roundtrip(&CreatedJob { job: job.clone() });
        roundtrip(&JobList { data: vec![job], pagination: Pagination { page: 1, limit: 10, total: 1, pages: 1 } });
    }

    #[test]
    fn media_roundtrips(m in media()) {
        roundtrip(&m);
    }

    #[test]
    fn created_media_roundtrips(media in media(), upload_url in "https://[a-z]{1,8}/[a-z]{1,8}\\?X-Amz-[A-Za-z%0-9=&]{0,30}", expires_in in proptest::option::of(any::<u64>())) {
        roundtrip(&CreatedMedia { media, upload_url, expires_in });
    }

    #[test]
    fn media_list_roundtrips(limit in any::<u32>(), offset in any::<u64>(), total in any::<u64>(), data in proptest::collection::vec(media(), 0..4)) {
        roundtrip(&MediaList { limit, offset, total, data });
    }

    #[test]
    fn create_request_roundtrips(name in ".{0,20}", content_type in "[a-z]{1,6}/[a-z0-9.+-]{1,10}", size in any::<u64>(), model_type in wire::<ModelType>(ModelType::KNOWN)) {
        roundtrip(&CreateMediaRequest { name, content_type, size, model_type });
    }

    #[test]
    fn list_query_roundtrips(limit in proptest::option::of(any::<u32>()), offset in proptest::option::of(any::<u64>())) {
        roundtrip(&ListQuery { limit, offset });
    }

    #[test]
    fn error_body_roundtrips(code in wire::<ErrorCode>(ErrorCode::KNOWN), error_type in proptest::option::of(wire::<ErrorType>(ErrorType::KNOWN)), status_code in proptest::option::of(100u16..600), message in ".{0,40}", extra in extra()) {
        roundtrip(&ErrorBody { code, error_type, status_code, message, extra });
    }

    #[test]
    fn permission_roundtrips(p in wire::<Permission>(Permission::KNOWN)) {
        roundtrip(&p);
    }

    #[test]
    fn result_document_roundtrips(
        boxes in proptest::option::of(proptest::collection::btree_map(
            0u32..8,
            (proptest::collection::btree_map(0u32..10_000, proptest::array::uniform4(-1e6f64..1e6), 0..5), extra())
                .prop_map(|(bounding_box, extra)| ParticipantBoxes { bounding_box, extra }),
            0..3,
        )),
        fake in proptest::option::of(any::<bool>()),
        score in proptest::option::of(0.0f64..=1.0),
        extra in extra(),
    ) {
        roundtrip(&ResultDocument { fake, score, bounding_boxes: boxes, extra });
    }
}

#[test]
fn unknown_enum_values_roundtrip_exactly() {
    for (json, expected) in [
        (r#""QUEUED""#, MediaStatus::Unknown("QUEUED".into())),
        (r#""PROCESSED""#, MediaStatus::Processed),
    ] {
        let status: MediaStatus = serde_json::from_str(json).unwrap();
        assert_eq!(status, expected);
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
    }
    let boxes: BTreeMap<u32, ParticipantBoxes> =
        serde_json::from_str(r#"{"0":{"boundingBox":{"12":[1,2,3,4]}}}"#).unwrap();
    assert_eq!(boxes[&0].bounding_box[&12], [1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn no_debug_shows_a_pre_signed_query() {
    let created: authenta_types::CreatedMedia = serde_json::from_value(serde_json::json!({
        "mid": "692f406f9f68d4b70080bb80", "name": "v", "type": "Video", "status": "PROCESSED",
        "modelType": "DF-1", "createdAt": "2025-12-02T19:39:27.525Z",
        "uploadUrl": "https://s3.example/up?X-Amz-Signature=secret1",
        "heatmapURL": "https://s3.example/h.png?X-Amz-Signature=secret2",
        "resultURL": "https://s3.example/r.json?X-Amz-Signature=secret3",
        "participants": [{"heatmap": "https://s3.example/p.mp4?X-Amz-Signature=secret4"}],
        "srcURL": "https://s3.example/src.mp4?X-Amz-Signature=secret5"
    }))
    .unwrap();
    let debug = format!("{created:?}");
    for secret in [
        "secret1", "secret2", "secret3", "secret4", "secret5", "X-Amz",
    ] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(
        debug.contains("https://s3.example/r.json?<redacted>"),
        "{debug}"
    );
    // Serialization is unchanged: the URLs go out byte for byte.
    let json = serde_json::to_string(&created).unwrap();
    assert!(json.contains("X-Amz-Signature=secret1") && json.contains("secret4"));
}

#[test]
fn generation_two_fields_are_typed_and_a_bad_one_does_not_spoil_the_record() {
    let base = serde_json::json!({
        "mid": "692f406f9f68d4b70080bb80", "name": "p", "type": "Image", "status": "PROCESSED",
        "modelType": "FD-1", "createdAt": "2025-12-02T19:39:27.525Z", "fake": false,
    });
    let with = |extra: serde_json::Value| -> Media {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    };
    let m = with(serde_json::json!({"confidence": 0.93, "faces": 2, "deepFakes": 1}));
    assert_eq!(
        (m.confidence, m.faces, m.deep_fakes),
        (Some(0.93), Some(2), Some(1))
    );
    assert!(m.extra.is_empty(), "{:?}", m.extra);
    let m = with(serde_json::json!({"confidence": "0.5", "faces": "many", "deepFakes": -1}));
    assert_eq!(
        (m.confidence, m.faces, m.deep_fakes),
        (Some(0.5), None, None)
    );
    let m = with(serde_json::json!({"confidence": null, "faces": 1.5}));
    assert_eq!((m.confidence, m.faces), (None, None));
}
