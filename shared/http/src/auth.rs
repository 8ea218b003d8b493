//! Authentication, done once per request: the [`authenticate`] middleware verifies the bearer token and
//! leaves the outcome in the request extensions, where the [`Auth`] extractor and the rate limiter read it.
//! The header is parsed in one place ([`vwc_auth::bearer_token`], scheme case-insensitive), so what the
//! limiter counts and what the routes accept cannot disagree.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
    // A path that does not decode to UTF-8 names nothing here: 404 problem+json, before a route's `Path`
    // extractor refuses it (a 500 behind the vehicle extractor, a plain-text 400 elsewhere).
    if !path_decodes(req.uri().path()) {
        return ApiError::NotFound("route").into_response();
    }
    // What answers a caller who showed a token (or asked for one) is theirs alone — dealer secrets, signed
    // calendar URLs, records: no cache may keep it, unless the route said otherwise.
    let private =
        req.headers().contains_key(AUTHORIZATION) || req.uri().path().starts_with("/v1/auth/");
    if req.headers().contains_key(AUTHORIZATION) {
        let outcome = verify_headers(verifier.as_ref(), req.headers()).await;
        req.extensions_mut().insert(outcome);
    } else {
        req.extensions_mut().insert(Authentication::Refused);
    }
    let mut response = next.run(req).await;
    if private && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Whether `path`'s percent-escapes decode to UTF-8 (as every path parameter must).
fn path_decodes(path: &str) -> bool {
    if !path.contains('%') {
        return true;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
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

#[cfg(test)]
mod path_tests {
    use super::path_decodes;

    #[test]
    fn a_path_decodes_when_its_escapes_are_utf8() {
        for fine in [
            "/v1/vehicles/veh_1",
            "/v1/vehicles/caf%C3%A9",
            "/v1/vin/%41BC",
            "/a/%",
            "/a/%zz",
            "/a/100%25",
        ] {
            assert!(path_decodes(fine), "{fine}");
        }
        for bad in ["/v1/vehicles/%ff", "/v1/vehicles/%C3%28/overview", "/x/%c3"] {
            assert!(!path_decodes(bad), "{bad}");
        }
    }
}
