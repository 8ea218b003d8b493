//! Signed feed URLs: `HMAC-SHA256(org secret, "vwc-calendar-v1\n{org}\n{scope}")`, base64url. Rotating the
//! organisation's secret revokes every URL signed with the old one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a URL grants: one vehicle's feed or the fleet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedScope {
    Fleet,
    Vehicle(String),
}

impl FeedScope {
    fn message(&self, org_id: &str) -> String {
        match self {
            FeedScope::Fleet => format!("vwc-calendar-v1\n{org_id}\nfleet"),
            FeedScope::Vehicle(id) => format!("vwc-calendar-v1\n{org_id}\nvehicle/{id}"),
        }
    }

    /// The path of the signed URL (without scheme and host).
    pub fn path(&self, org_id: &str, signature: &str) -> String {
        match self {
            FeedScope::Fleet => format!("/calendar/{org_id}/{signature}/fleet/maintenance.ics"),
            FeedScope::Vehicle(id) => {
                format!("/calendar/{org_id}/{signature}/vehicles/{id}/maintenance.ics")
            }
        }
    }
}

fn mac(secret: &[u8], org_id: &str, scope: &FeedScope) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(scope.message(org_id).as_bytes());
    mac
}

pub fn sign(secret: &[u8], org_id: &str, scope: &FeedScope) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, org_id, scope).finalize().into_bytes())
}

/// Constant-time check of a URL's signature (a malformed one is simply wrong).
pub fn verify(secret: &[u8], org_id: &str, scope: &FeedScope, signature: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    mac(secret, org_id, scope).verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_only_for_its_org_scope_and_secret() {
        let scope = FeedScope::Vehicle("veh_1".into());
        let sig = sign(b"secret-one", "org_a", &scope);
        assert!(verify(b"secret-one", "org_a", &scope, &sig));
        assert!(!verify(b"secret-two", "org_a", &scope, &sig));
        assert!(!verify(b"secret-one", "org_b", &scope, &sig));
        assert!(!verify(b"secret-one", "org_a", &FeedScope::Fleet, &sig));
        assert!(!verify(
            b"secret-one",
            "org_a",
            &FeedScope::Vehicle("veh_2".into()),
            &sig
        ));
        assert!(!verify(b"secret-one", "org_a", &scope, "not base64!"));
        assert!(!verify(b"secret-one", "org_a", &scope, ""));
    }
}
