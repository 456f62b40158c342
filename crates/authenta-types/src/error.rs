//! The API's error body.

use serde::{Deserialize, Serialize};

use crate::{ErrorCode, ErrorType, Extra};

/// The JSON body of every API error: `{"code", "type", "message"}`.
///
/// ```
/// use authenta_types::{ErrorBody, ErrorCode};
/// let body: ErrorBody = serde_json::from_str(
///     r#"{"code":"AA001","type":"CLIENT_ERROR","message":"API limit reached"}"#,
/// ).unwrap();
/// assert_eq!(body.code, ErrorCode::Aa001);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error code; classify by this, not by the HTTP status.
    pub code: ErrorCode,
    /// The error's class.
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    /// A message for people.
    pub message: String,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ErrorBody {
    /// The documented body for a code: its type and message from the
    /// generated table. `None` for a code the table does not hold.
    pub fn documented(code: ErrorCode) -> Option<ErrorBody> {
        let info = code.info()?;
        Some(ErrorBody {
            code,
            error_type: ErrorType::from_wire(info.error_type),
            message: info.message.to_owned(),
            extra: Extra::new(),
        })
    }
}
