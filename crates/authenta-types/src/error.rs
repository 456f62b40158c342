//! The API's error body, in both generations' shapes.

use serde::{Deserialize, Serialize};

use crate::{ApiGeneration, ErrorCode, ErrorType, Extra};

/// The JSON body of every API error: `{"code", "type", "message"}` from
/// generation 1 (a client id and secret), `{"code", "statusCode",
/// "message"}` from generation 2 (an API key). Both read into this one
/// type; classify by [`code`](Self::code), then by the HTTP status.
///
/// ```
/// use authenta_types::{ErrorBody, ErrorCode, ErrorType};
/// let old: ErrorBody = serde_json::from_str(
///     r#"{"code":"AA001","type":"CLIENT_ERROR","message":"API limit reached"}"#,
/// ).unwrap();
/// assert_eq!(old.code, ErrorCode::Aa001);
/// assert_eq!(old.error_type, Some(ErrorType::ClientError));
/// let new: ErrorBody = serde_json::from_str(
///     r#"{"code":"INSUFFICIENT_BALANCE","statusCode":402,"message":"Insufficient balance"}"#,
/// ).unwrap();
/// assert_eq!(new.code, ErrorCode::InsufficientBalance);
/// assert_eq!((new.error_type, new.status_code), (None, Some(402)));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error code; classify by this, not by the HTTP status.
    pub code: ErrorCode,
    /// The error's class (generation 1 only).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<ErrorType>,
    /// The HTTP status, repeated in the body (generation 2 only).
    #[serde(
        rename = "statusCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<u16>,
    /// A message for people.
    pub message: String,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ErrorBody {
    /// The documented body for a code, in its generation's shape: its type
    /// (generation 1) or status (generation 2) and message from the
    /// generated table. `None` for a code the table does not hold.
    pub fn documented(code: ErrorCode) -> Option<ErrorBody> {
        let info = code.info()?;
        let generation = info.generation.unwrap_or(ApiGeneration::First);
        Some(ErrorBody::new(
            code,
            info.message,
            info.status.unwrap_or(info.emulator_status),
            generation,
        ))
    }

    /// A body in `generation`'s shape: `type` from the table (or
    /// `CLIENT_ERROR`/`SERVER_ERROR` by status) for the first, `statusCode`
    /// for the second.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        status: u16,
        generation: ApiGeneration,
    ) -> ErrorBody {
        let (error_type, status_code) = match generation {
            ApiGeneration::First => {
                let wire = code
                    .info()
                    .and_then(|i| i.error_type)
                    .unwrap_or(if status >= 500 {
                        "SERVER_ERROR"
                    } else {
                        "CLIENT_ERROR"
                    });
                (Some(ErrorType::from_wire(wire)), None)
            }
            _ => (None, Some(status)),
        };
        ErrorBody {
            code,
            error_type,
            status_code,
            message: message.into(),
            extra: Extra::new(),
        }
    }
}
