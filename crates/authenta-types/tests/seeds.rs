//! Every example JSON body of Authenta's API pages parses into our types.
//! The bodies are copied verbatim from the pages into `fixtures/seeds/`.

use authenta_types::{
    CreateMediaRequest, CreatedMedia, ERROR_CODES, ErrorBody, ErrorCode, ErrorType, MediaList,
    MediaStatus, MediaType, ModelType,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/seeds/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn create_request() {
    let req: CreateMediaRequest = serde_json::from_str(&fixture("create-request.json")).unwrap();
    assert_eq!(req.name, "video_sample");
    assert_eq!(req.content_type, "video/mp4");
    assert_eq!(req.size, 1_024_000);
    assert_eq!(req.model_type, ModelType::Df1);
}

#[test]
fn create_response_is_what_the_server_says() {
    let created: CreatedMedia = serde_json::from_str(&fixture("create-response.json")).unwrap();
    assert_eq!(created.media.mid.as_str(), "692f406f9f68d4b70080bb80");
    assert_eq!(created.media.media_type, MediaType::Video);
    assert_eq!(created.media.status, MediaStatus::Inited);
    // The page answers a DF-1 request with AC-1: we keep what the server says.
    assert_eq!(created.media.model_type, ModelType::Ac1);
    assert_eq!(created.media.created_at.as_second(), 1_764_704_367);
    assert_eq!(created.media.created_at.subsec_millisecond(), 525);
    assert!(
        created
            .upload_url
            .starts_with("https://authenta-storage.s3.")
    );
    assert_eq!(created.expires_in, None);
    assert!(
        created.media.extra.is_empty(),
        "uploadUrl is not an unknown field"
    );
}

#[test]
fn success_response() {
    let created: CreatedMedia = serde_json::from_str(&fixture("success-response.json")).unwrap();
    assert_eq!(created.media.model_type, ModelType::Df1);
}

#[test]
fn list_response() {
    let page: MediaList = serde_json::from_str(&fixture("list-response.json")).unwrap();
    assert_eq!((page.limit, page.offset, page.total), (3, 0, 1));
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].name, "video_sample");
}

#[test]
fn every_documented_error_body() {
    for row in ERROR_CODES {
        let body: ErrorBody =
            serde_json::from_str(&fixture(&format!("error-{}.json", row.code))).unwrap();
        assert_eq!(body.code.as_str(), row.code);
        assert!(
            !matches!(body.code, ErrorCode::Unknown(_)),
            "{} is known",
            row.code
        );
        // Generation 1 sends a type, generation 2 its status instead.
        assert_eq!(body.error_type, row.error_type.map(ErrorType::from));
        assert_eq!(
            body.status_code,
            row.error_type.is_none().then_some(row.status).flatten()
        );
        assert_eq!(body.message, row.message);
        assert_eq!(ErrorBody::documented(body.code.clone()), Some(body));
    }
}

#[test]
fn unknown_values_are_kept() {
    let body: ErrorBody = serde_json::from_str(
        r#"{"code":"ZZ042","type":"TEAPOT","message":"short and stout","hint":"tip me over"}"#,
    )
    .unwrap();
    assert_eq!(body.code, ErrorCode::Unknown("ZZ042".into()));
    assert_eq!(body.error_type, Some(ErrorType::Unknown("TEAPOT".into())));
    assert_eq!(body.extra["hint"], "tip me over");
    let back = serde_json::to_value(&body).unwrap();
    assert_eq!(back["code"], "ZZ042");
    assert_eq!(back["hint"], "tip me over");
}
