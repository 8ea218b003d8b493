use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use vwc_auth::{Caller, Permission, TokenVerifier};

use crate::ApiError;

/// Router states that can verify bearer tokens.
pub trait HasVerifier {
    fn verifier(&self) -> &Arc<dyn TokenVerifier>;
}

/// The authenticated caller. Its organisation is the only one any query may touch.
#[derive(Debug, Clone)]
pub struct Auth(pub Caller);

impl Auth {
    /// 403 unless the caller's roles grant `permission` (in its own organisation).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.0.can(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "your roles do not allow {permission:?}"
            )))
        }
    }

    pub fn org(&self) -> &str {
        &self.0.org
    }
}

impl<S> FromRequestParts<S> for Auth
where
    S: HasVerifier + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthorized)?
            .trim();
        match state.verifier().verify(token).await {
            Ok(caller) => Ok(Auth(caller)),
            Err(vwc_auth::AuthError::KeysUnavailable(reason)) => {
                tracing::warn!(%reason, "token keys unavailable");
                Err(ApiError::Unavailable(
                    "token verification keys are unavailable; try again shortly".into(),
                ))
            }
            Err(e) => {
                tracing::info!(reason = %e, "token refused");
                Err(ApiError::Unauthorized)
            }
        }
    }
}
