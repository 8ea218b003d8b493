//! The one error type of this crate; its HTTP status is decided here so every service maps it the same way.

use crate::Permission;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("no bearer token was presented")]
    Missing,
    /// The token is malformed, forged, expired or lacks a required claim. The message is for logs only and
    /// must never be shown to the client.
    #[error("token rejected: {0}")]
    Invalid(String),
    /// A valid caller of the right organisation lacks the permission.
    #[error("caller lacks the `{0}` permission")]
    Forbidden(Permission),
    /// The verification keys could not be loaded (JWKS endpoint or file unreachable, or no usable key in it).
    #[error("verification keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl AuthError {
    /// The HTTP status this error answers with: 401, 403 or 503.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::Missing | AuthError::Invalid(_) => 401,
            AuthError::Forbidden(_) => 403,
            AuthError::KeysUnavailable(_) => 503,
        }
    }
}
