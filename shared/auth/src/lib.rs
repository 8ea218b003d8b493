//! Who is calling and what they may do: bearer-token verification (HS256 in embedded mode, RS256/ES256 via a
//! JWKS in AWS mode), the role → permission table, and the embedded-mode signing secret.
//!
//! Every verifier pins its algorithms, always checks `iss`, `aud`, `exp`, `nbf` and that `iat` is not in the future (30 s leeway), and turns
//! a token into a [`Caller`] only when `sub`, `org`, `roles` (non-empty, all known), `exp` and `iat` are present.
#![forbid(unsafe_code)]

mod claims;
mod error;
mod hs256;
mod jwks;
mod roles;
mod secret;
mod verified;

pub use claims::{Audience, Claims, LEEWAY_SECONDS, ORG_ID_RULE, bearer_token, is_org_id};
pub use error::AuthError;
pub use hs256::Hs256Keys;
pub use jwks::{CACHE_TTL, JwksKeys, JwksVerifier, REFETCH_INTERVAL};
pub use roles::{Caller, Permission, Role, role_permissions};
pub use secret::{MIN_SECRET_BYTES, SECRET_FILE_NAME, Secret, load_or_create_secret};

/// `iss` of tokens issued in embedded mode.
pub const ISSUER: &str = "vwc";
/// `aud` every token must carry, in every mode.
pub const AUDIENCE: &str = "vwc-api";

/// Turns a bearer token into the caller it speaks for, or says why it cannot.
#[async_trait::async_trait]
pub trait TokenVerifier: Send + Sync {
    async fn verify(&self, token: &str) -> Result<Caller, AuthError>;
}
