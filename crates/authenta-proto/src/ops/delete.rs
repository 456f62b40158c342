//! `DELETE /media/{mid}`: delete one record.

use authenta_types::{MediaId, Operation};
use http::{Request, Response};

use super::{ApiRequest, api_request, url};
use crate::config::Config;
use crate::error::ProtocolError;

/// Deletes one media record. The answer is not documented: an empty 204 and
/// a 200 with any body are both success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteMedia {
    mid: MediaId,
}

impl DeleteMedia {
    /// The request deleting record `mid`.
    pub fn new(mid: MediaId) -> Self {
        DeleteMedia { mid }
    }
}

impl ApiRequest for DeleteMedia {
    type Output = ();
    const OPERATION: Operation = Operation::DeleteMedia;

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

    fn parse(&self, response: Response<Vec<u8>>) -> Result<(), ProtocolError> {
        // An empty 204, or a 200 with a JSON body: anything else (a captive
        // portal's page) did not come from the API, and deleted nothing.
        if response.body().iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        crate::response::read_json::<serde_json::Value>(&response, Self::OPERATION, Some(&self.mid))
            .map(drop)
    }

    fn recover(&self, error: &ProtocolError, attempt: u32) -> Option<()> {
        (attempt > 1 && error.status() == Some(http::StatusCode::NOT_FOUND)).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::*;

    #[test]
    fn builds_and_accepts_204_or_200() {
        let op = DeleteMedia::new(MediaId::new("abc"));
        let request = op.build(&config()).unwrap();
        assert_eq!(request.method(), "DELETE");
        assert_eq!(request.uri(), "http://127.0.0.1:1/api/media/abc");
        assert_credentials(&request);
        let empty = Response::builder().status(204).body(Vec::new()).unwrap();
        op.read(&config(), empty).unwrap();
        op.read(&config(), json(200, r#"{"deleted":true}"#))
            .unwrap();
        let portal = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(b"<html><body>Sign in</body></html>".to_vec())
            .unwrap();
        let err = op.read(&config(), portal).unwrap_err();
        assert!(matches!(err, ProtocolError::Decode(_)), "{err:?}");
        assert_eq!(err.mid().unwrap().as_str(), "abc");
        let err = op
            .read(
                &config(),
                json(
                    403,
                    r#"{"code":"IAM002","type":"UNAUTHORIZED","message":"You are not authorized"}"#,
                ),
            )
            .unwrap_err();
        assert_eq!(err.mid().unwrap().as_str(), "abc");
        assert_eq!(op.recover(&err, 2), None);
    }

    #[test]
    fn a_retried_delete_that_finds_the_record_gone_succeeded() {
        let op = DeleteMedia::new(MediaId::new("abc"));
        let gone = op
            .read(
                &config(),
                json(
                    404,
                    r#"{"code":"EMU404","type":"CLIENT_ERROR","message":"Not found"}"#,
                ),
            )
            .unwrap_err();
        assert_eq!(
            op.recover(&gone, 1),
            None,
            "a first attempt's 404 is an error"
        );
        assert_eq!(op.recover(&gone, 2), Some(()));
    }
}
