//! `GET /media/{mid}`: read one record.

use authenta_types::{Media, MediaId, Operation};
use http::{Request, Response};

use super::{ApiRequest, api_request, url};
use crate::config::Config;
use crate::error::ProtocolError;
use crate::response::read_json;

/// Reads one media record; poll this until its status is final.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetMedia {
    mid: MediaId,
}

impl GetMedia {
    /// The request for record `mid`.
    pub fn new(mid: MediaId) -> Self {
        GetMedia { mid }
    }
}

impl ApiRequest for GetMedia {
    type Output = Media;
    const OPERATION: Operation = Operation::GetMedia;

    fn mid(&self) -> Option<&MediaId> {
        Some(&self.mid)
    }

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        api_request(
            config,
            Self::OPERATION,
            url(config, Self::OPERATION, Some(&self.mid)),
            None,
        )
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<Media, ProtocolError> {
        let media: Media = read_json(&response, Self::OPERATION, Some(&self.mid))?;
        super::check_server_mids([&media.mid], &response, Self::OPERATION)
            .map_err(|e| e.with_mid(&self.mid))?;
        Ok(media)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::*;
    use authenta_types::MediaStatus;

    #[test]
    fn a_mid_from_the_server_is_checked_and_a_dot_mid_stays_in_its_segment() {
        for bad in ["..", ".", "a/b", "x\\u001b[8m"] {
            let body = MEDIA.replace("692f406f9f68d4b70080bb80", bad);
            let op = GetMedia::new(MediaId::new("692f406f9f68d4b70080bb80"));
            let err = op.read(&config(), json(200, &body)).unwrap_err();
            assert!(matches!(err, ProtocolError::Decode(_)), "{bad}: {err:?}");
            assert!(err.to_string().contains("not one"), "{err}");
        }
        let request = GetMedia::new(MediaId::new("..")).build(&config()).unwrap();
        assert_eq!(request.uri(), "http://127.0.0.1:1/api/media/%2E%2E");
    }

    #[test]
    fn builds_and_reads() {
        let op = GetMedia::new(MediaId::new("692f406f9f68d4b70080bb80"));
        let request = op.build(&config()).unwrap();
        assert_eq!(request.method(), "GET");
        assert_eq!(
            request.uri(),
            "http://127.0.0.1:1/api/media/692f406f9f68d4b70080bb80"
        );
        assert!(request.body().is_empty());
        assert_credentials(&request);
        let media = op.read(&config(), json(200, MEDIA)).unwrap();
        assert_eq!(media.status, MediaStatus::Inited);
    }

    #[test]
    fn a_strange_mid_cannot_escape_its_path_segment() {
        let op = GetMedia::new(MediaId::new("../x?y#z"));
        let request = op.build(&config()).unwrap();
        assert_eq!(
            request.uri(),
            "http://127.0.0.1:1/api/media/%2E%2E%2Fx%3Fy%23z"
        );
    }

    #[test]
    fn a_2xx_that_is_not_a_record_is_a_decode_error() {
        let op = GetMedia::new(MediaId::new("m"));
        let err = op.read(&config(), json(200, r#"{"oops":1}"#)).unwrap_err();
        assert!(matches!(err, crate::ProtocolError::Decode(_)), "{err:?}");
        assert!(err.to_string().contains("missing field"), "{err}");
        assert_eq!(err.mid().unwrap().as_str(), "m");
    }
}
