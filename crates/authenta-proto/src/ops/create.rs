//! `POST /media`: create a record and get its upload URL.

use authenta_types::{CreateMediaRequest, CreatedMedia, Operation};
use http::{Request, Response};

use super::{ApiRequest, api_request, url};
use crate::config::Config;
use crate::error::{ProtocolError, ValidationError};
use crate::response::read_json;
use crate::validate::validate_create;

/// Creates a media record. The request is validated before it is built, so
/// no mutation quota is spent on a record that could not succeed. Never
/// retried once it may have reached the server: a retry could create a
/// second record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateMedia {
    request: CreateMediaRequest,
}

impl CreateMedia {
    /// Validates the request (name, size, content type, model).
    pub fn new(request: CreateMediaRequest) -> Result<Self, ValidationError> {
        validate_create(&request)?;
        Ok(CreateMedia { request })
    }

    /// The request body.
    pub fn request(&self) -> &CreateMediaRequest {
        &self.request
    }
}

impl ApiRequest for CreateMedia {
    type Output = CreatedMedia;
    const OPERATION: Operation = Operation::CreateMedia;

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        let body = serde_json::to_vec(&self.request).expect("a create request always serializes");
        api_request(
            config,
            Self::OPERATION,
            url(config, Self::OPERATION, None),
            Some(body),
        )
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<CreatedMedia, ProtocolError> {
        let created: CreatedMedia = read_json(&response, Self::OPERATION, None)?;
        super::check_server_mids([&created.media.mid], &response, Self::OPERATION)?;
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::*;
    use authenta_types::ModelType;
    use http::header::CONTENT_TYPE;

    fn request() -> CreateMediaRequest {
        CreateMediaRequest {
            name: "video_sample".into(),
            content_type: "video/mp4".into(),
            size: 1_024_000,
            model_type: ModelType::Df1,
        }
    }

    #[test]
    fn builds_the_documented_body() {
        let op = CreateMedia::new(request()).unwrap();
        let http = op.build(&config()).unwrap();
        assert_eq!(http.method(), "POST");
        assert_eq!(http.uri(), "http://127.0.0.1:1/api/media");
        assert_eq!(http.headers()[CONTENT_TYPE], "application/json");
        assert_credentials(&http);
        let body: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name":"video_sample","contentType":"video/mp4","size":1024000,"modelType":"DF-1"})
        );
    }

    #[test]
    fn reads_the_created_record() {
        let op = CreateMedia::new(request()).unwrap();
        let body = MEDIA.replace(
            '}',
            r#","uploadUrl":"https://s3.example/x?X-Amz-Signature=ab%2Bc","expiresIn":900}"#,
        );
        let created = op.read(&config(), json(200, &body)).unwrap();
        assert_eq!(
            created.upload_url,
            "https://s3.example/x?X-Amz-Signature=ab%2Bc"
        );
        assert_eq!(created.expires_in, Some(900));
    }

    #[test]
    fn refuses_what_cannot_succeed() {
        let mut image_for_video_model = request();
        image_for_video_model.content_type = "image/png".into();
        assert!(matches!(
            CreateMedia::new(image_for_video_model),
            Err(ValidationError::ModelMismatch { .. })
        ));
        let mut empty = request();
        empty.size = 0;
        assert!(matches!(
            CreateMedia::new(empty),
            Err(ValidationError::EmptyFile { .. })
        ));
    }
}
