//! Embedded mode: HS256 tokens signed and verified with the [`Secret`]; the only algorithm accepted is HS256.

use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use crate::claims::{self, Claims};
use crate::verified::VerifiedTokens;
use crate::{AUDIENCE, AuthError, Caller, ISSUER, Role, Secret, TokenVerifier};

pub struct Hs256Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens these keys verified, checked again for expiry on every use (`verified.rs`).
    verified: VerifiedTokens,
}

impl Hs256Keys {
    pub fn new(secret: &Secret) -> Hs256Keys {
        // jsonwebtoken refuses only an empty HMAC key; a `Secret` has at least MIN_SECRET_BYTES.
        const NON_EMPTY: &str = "a Secret holds at least MIN_SECRET_BYTES bytes";
        Hs256Keys {
            encoding: EncodingKey::from_secret(secret.bytes()).expect(NON_EMPTY),
            decoding: DecodingKey::from_secret(secret.bytes()).expect(NON_EMPTY),
            validation: claims::validation(Algorithm::HS256, ISSUER, AUDIENCE),
            verified: VerifiedTokens::default(),
        }
    }

    /// Signs a token for `sub` in `org` valid for `ttl` from now; returns it with its expiry (whole seconds).
    /// `sub`, `org` and `roles` should be non-empty: a token without them is issued but never verifies.
    pub fn issue(
        &self,
        sub: &str,
        org: &str,
        roles: &[Role],
        ttl: chrono::Duration,
    ) -> (String, DateTime<Utc>) {
        let now = vwc_clock::now().timestamp();
        let exp = now.saturating_add(ttl.num_seconds());
        let claims = Claims {
            sub: sub.to_owned(),
            org: org.to_owned(),
            roles: roles.to_vec(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.into(),
            exp,
            iat: now,
            nbf: None,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HMAC signing of plain claims cannot fail");
        let expires_at = DateTime::from_timestamp(exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        (token, expires_at)
    }
}

impl fmt::Debug for Hs256Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hs256Keys(***)")
    }
}

impl From<&Secret> for Hs256Keys {
    fn from(secret: &Secret) -> Hs256Keys {
        Hs256Keys::new(secret)
    }
}

#[async_trait::async_trait]
impl TokenVerifier for Hs256Keys {
    async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        // `validation.algorithms` is exactly [HS256]: jsonwebtoken rejects any other header alg (including
        // `none`, which does not even parse) before checking the signature.
        // A token seen before verified with these same keys and checks; its expiry is checked again.
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(caller) = self.verified.get(token, now) {
            return Ok(caller);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(claims::invalid)?;
        let (exp, nbf) = (data.claims.exp, data.claims.nbf);
        let caller = claims::into_caller(data.claims, ISSUER, AUDIENCE)?;
        self.verified.insert(token, &caller, exp, nbf, now);
        Ok(caller)
    }
}
