//! Authentication, done once per request: the [`authenticate`] middleware verifies the bearer token and
//! leaves the outcome in the request extensions, where the [`Auth`] extractor and the rate limiter read it.
//! The header is parsed in one place ([`vwc_auth::bearer_token`], scheme case-insensitive), so what the
//! limiter counts and what the routes accept cannot disagree.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use vwc_auth::{AuthError, Caller, Permission, TokenVerifier};

use crate::ApiError;

/// Router states that can verify bearer tokens.
pub trait HasVerifier {
    fn verifier(&self) -> &Arc<dyn TokenVerifier>;
}

/// Implements [`HasVerifier`] for a router state that keeps its verifier in a field named `verifier`
/// (`Arc<dyn TokenVerifier>`), the way every service's state does: `vwc_http::has_verifier!(MyState);`.
#[macro_export]
macro_rules! has_verifier {
    ($state:ty) => {
        impl $crate::HasVerifier for $state {
            fn verifier(&self) -> &::std::sync::Arc<dyn $crate::TokenVerifier> {
                &self.verifier
            }
        }
    };
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
                "your roles do not allow {}",
                permission.as_str()
            )))
        }
    }

    pub fn org(&self) -> &str {
        &self.0.org
    }
}

/// What verifying a request's bearer token gave, kept in the request extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub enum Authentication {
    /// A valid token: the caller it speaks for.
    Caller(Caller),
    /// No token, or one that does not verify (the route answers 401).
    Refused,
    /// The verification keys could not be loaded (the route answers 503).
    KeysUnavailable,
}

impl Authentication {
    /// The verified caller, if any.
    pub fn caller(&self) -> Option<&Caller> {
        match self {
            Authentication::Caller(c) => Some(c),
            _ => None,
        }
    }

    fn into_auth(self) -> Result<Auth, ApiError> {
        match self {
            Authentication::Caller(c) => Ok(Auth(c)),
            Authentication::Refused => Err(ApiError::Unauthorized),
            Authentication::KeysUnavailable => Err(ApiError::Unavailable(
                "token verification keys are unavailable; try again shortly".into(),
            )),
        }
    }
}

/// Verifies the `Authorization` header of `headers` (once).
pub async fn verify_headers(verifier: &dyn TokenVerifier, headers: &HeaderMap) -> Authentication {
    let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = match vwc_auth::bearer_token(value) {
        Ok(token) => token,
        Err(_) => return Authentication::Refused,
    };
    match verifier.verify(token).await {
        Ok(caller) => Authentication::Caller(caller),
        Err(AuthError::KeysUnavailable(reason)) => {
            tracing::warn!(%reason, "token keys unavailable");
            Authentication::KeysUnavailable
        }
        Err(e) => {
            tracing::info!(reason = %e, "token refused");
            Authentication::Refused
        }
    }
}

/// Middleware: verifies the bearer token of every request that carries an `Authorization` header, once,
/// and stores the [`Authentication`] in the request extensions for the limiter and the handlers.
pub async fn authenticate(
    State(verifier): State<Arc<dyn TokenVerifier>>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.headers().contains_key(AUTHORIZATION) {
        let outcome = verify_headers(verifier.as_ref(), req.headers()).await;
        req.extensions_mut().insert(outcome);
    } else {
        req.extensions_mut().insert(Authentication::Refused);
    }
    next.run(req).await
}

impl<S> FromRequestParts<S> for Auth
where
    S: HasVerifier + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Behind `authenticate` the token has been verified already; a router used on its own (unit
        // tests of one service) verifies here, with the same parsing.
        let outcome = match parts.extensions.get::<Authentication>() {
            Some(outcome) => outcome.clone(),
            None => verify_headers(state.verifier().as_ref(), &parts.headers).await,
        };
        outcome.into_auth()
    }
}
