//! The token payload and the checks shared by every verifier: which registered claims are required, the
//! clock leeway, and the step from verified claims to a [`Caller`].

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use crate::{AuthError, Caller, Role};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The claims of every VWC token. A token lacking any non-optional field does not deserialize and is rejected.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub org: String,
    pub roles: Vec<Role>,
    pub iss: String,
    pub aud: Audience,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    #[serde(deserialize_with = "numeric_date")]
    pub iat: i64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_numeric_date"
    )]
    pub nbf: Option<i64>,
}

/// A NumericDate (RFC 7519, section 2): seconds since the epoch, an integer or a number with a fraction
/// (`1796211738.5`), read as the whole second it falls in.
fn numeric_date<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Seconds::deserialize(deserializer)?.whole()
}

/// [`numeric_date`] that may be absent or `null`.
fn optional_numeric_date<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Option::<Seconds>::deserialize(deserializer)?
        .map(Seconds::whole)
        .transpose()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Whole(i64),
    Fraction(f64),
}

impl Seconds {
    fn whole<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            Seconds::Whole(s) => Ok(s),
            Seconds::Fraction(s) if s.is_finite() && s.abs() < 1e15 => Ok(s.floor() as i64),
            Seconds::Fraction(s) => Err(E::custom(format!("{s} is not a NumericDate"))),
        }
    }
}

/// A token's `aud`: one audience as a string, or several as an array (RFC 7519, section 4.1.3; some
/// identity providers always send an array). A token is for us when ours is among them. Written back as it
/// was read: a string for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Audience {
        Audience(vec![audience.to_owned()])
    }
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Audience, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => Audience(vec![one]),
            OneOrMany::Many(many) => Audience(many),
        })
    }
}

/// What an organisation id is: it travels in URLs (signed calendar feeds) and in every stored row's key.
pub const ORG_ID_RULE: &str = "1 to 64 letters, digits, '_' or '-'";

/// Whether `org` is an organisation id ([`ORG_ID_RULE`]). A token naming anything else is refused: an
/// identity provider's free-text attribute (`custom:org` set to `org/../x"`) made calendar URLs with the
/// text unescaped in their path.
pub fn is_org_id(org: &str) -> bool {
    (1..=64).contains(&org.len())
        && org
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The `jsonwebtoken` checks for a token whose header says `alg`, which the caller has already pinned.
pub(crate) fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

pub(crate) fn invalid(err: jsonwebtoken::errors::Error) -> AuthError {
    AuthError::Invalid(err.to_string())
}

/// Claims whose signature, `exp`, `nbf`, `iss` and `aud` have been checked → the caller. `iss` and `aud` are
/// compared again here so this step is safe on its own.
pub(crate) fn into_caller(
    claims: Claims,
    issuer: &str,
    audience: &str,
) -> Result<Caller, AuthError> {
    if claims.iss != issuer {
        return Err(AuthError::Invalid(format!(
            "unexpected iss {:?}",
            claims.iss
        )));
    }
    if !claims.aud.contains(audience) {
        return Err(AuthError::Invalid(format!(
            "unexpected aud {:?}",
            claims.aud.0
        )));
    }
    // `iat` after now (beyond the leeway): issued by a clock that is wrong, not by us or a provider.
    let now = jsonwebtoken::get_current_timestamp();
    if u64::try_from(claims.iat).is_ok_and(|iat| iat > now.saturating_add(LEEWAY_SECONDS)) {
        return Err(AuthError::Invalid(format!(
            "iat {} is in the future (now {now})",
            claims.iat
        )));
    }
    if claims.sub.trim().is_empty() {
        return Err(AuthError::Invalid("empty sub".into()));
    }
    if !is_org_id(&claims.org) {
        return Err(AuthError::Invalid(format!(
            "org {:?} is not an organisation id ({ORG_ID_RULE})",
            claims.org
        )));
    }
    if claims.roles.is_empty() {
        return Err(AuthError::Invalid("no roles".into()));
    }
    let mut roles = Vec::with_capacity(claims.roles.len());
    for role in claims.roles {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(Caller {
        sub: claims.sub,
        org: claims.org,
        roles,
    })
}

/// The token of an `Authorization` header value: `Bearer <token>` (scheme case-insensitive).
/// An absent or empty header is [`AuthError::Missing`]; any other scheme or shape is [`AuthError::Invalid`].
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::Missing);
    }
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| AuthError::Invalid("authorization header is not `Bearer <token>`".into()))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::Invalid(
            "authorization header is not `Bearer <token>`".into(),
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_taken_from_the_authorization_header() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def.ghi")).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(bearer_token(Some("bearer  abc")).unwrap(), "abc");
    }

    #[test]
    fn absent_or_empty_authorization_header_is_missing() {
        assert!(matches!(bearer_token(None), Err(AuthError::Missing)));
        assert!(matches!(bearer_token(Some("  ")), Err(AuthError::Missing)));
    }

    #[test]
    fn other_authorization_schemes_are_invalid() {
        for value in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "abc.def.ghi",
            "Bearer a b",
        ] {
            let err = bearer_token(Some(value)).unwrap_err();
            assert_eq!(err.http_status(), 401, "{value}");
            assert!(matches!(err, AuthError::Invalid(_)), "{value}");
        }
    }

    #[test]
    fn duplicate_roles_are_collapsed_in_the_caller() {
        let claims = Claims {
            sub: "usr_1".into(),
            org: "org_1".into(),
            roles: vec![Role::Viewer, Role::Owner, Role::Viewer],
            iss: "vwc".into(),
            aud: "vwc-api".into(),
            exp: 0,
            iat: 0,
            nbf: None,
        };
        let caller = into_caller(claims, "vwc", "vwc-api").unwrap();
        assert_eq!(caller.roles, [Role::Viewer, Role::Owner]);
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_beyond_the_leeway() {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = |iat: i64| Claims {
            sub: "usr_1".into(),
            org: "org_1".into(),
            roles: vec![Role::Owner],
            iss: "vwc".into(),
            aud: "vwc-api".into(),
            exp: now + 3600,
            iat,
            nbf: None,
        };
        for iat in [now - 3600, now, now + LEEWAY_SECONDS as i64 - 2] {
            assert!(into_caller(claims(iat), "vwc", "vwc-api").is_ok(), "{iat}");
        }
        for iat in [now + LEEWAY_SECONDS as i64 + 5, now + 365 * 86_400] {
            let err = into_caller(claims(iat), "vwc", "vwc-api").unwrap_err();
            assert!(err.to_string().contains("in the future"), "{err}");
            assert_eq!(err.http_status(), 401);
        }
    }
}
