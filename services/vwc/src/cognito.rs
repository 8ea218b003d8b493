//! The Cognito pre-token-generation trigger (V2) of the default AWS token issuer: copies a user's
//! `custom:org` and `custom:roles` attributes into the `org` and `roles` claims the API requires, in the ID
//! token (whose `aud` is the app client id the API checks) and the access token.

use serde_json::{Value, json};
use vwc_auth::Role;

#[derive(Debug, PartialEq, Eq)]
pub enum TokenClaimsError {
    NoOrganisation,
    NotAnOrganisation(String),
    NoRoles,
    UnknownRole(String),
    NotAnEvent(&'static str),
}

impl std::fmt::Display for TokenClaimsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenClaimsError::NoOrganisation => f.write_str("the user has no custom:org attribute"),
            TokenClaimsError::NotAnOrganisation(org) => write!(
                f,
                "custom:org {org:?} is not an organisation id ({})",
                vwc_auth::ORG_ID_RULE
            ),
            TokenClaimsError::NoRoles => f.write_str("the user has no roles in custom:roles"),
            TokenClaimsError::UnknownRole(name) => write!(
                f,
                "unknown role {name:?} in custom:roles (owner, fleet_manager, technician, viewer)"
            ),
            TokenClaimsError::NotAnEvent(why) => {
                write!(f, "not a pre-token-generation event: {why}")
            }
        }
    }
}

impl std::error::Error for TokenClaimsError {}

/// Fills `response.claimsAndScopeOverrideDetails` of the trigger event and returns the event, as Cognito
/// expects. Roles are listed comma- or space-separated (`fleet_manager, viewer`). A user without an
/// organisation or a known role cannot sign in: better a clear refusal than tokens the API rejects.
pub fn add_token_claims(mut event: Value) -> Result<Value, TokenClaimsError> {
    let attributes = event
        .pointer("/request/userAttributes")
        .and_then(Value::as_object)
        .ok_or(TokenClaimsError::NotAnEvent(
            "request.userAttributes is missing",
        ))?;
    let org = attributes
        .get("custom:org")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or(TokenClaimsError::NoOrganisation)?
        .to_string();
    if !vwc_auth::is_org_id(&org) {
        return Err(TokenClaimsError::NotAnOrganisation(org));
    }
    let mut roles: Vec<Role> = Vec::new();
    let listed = attributes
        .get("custom:roles")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for name in listed.split([',', ' ']).filter(|r| !r.is_empty()) {
        let role = Role::parse(name).ok_or_else(|| TokenClaimsError::UnknownRole(name.into()))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err(TokenClaimsError::NoRoles);
    }
    let claims = json!({ "org": org, "roles": roles });
    let generation = json!({ "claimsToAddOrOverride": claims, "claimsToSuppress": [] });
    let access = json!({
        "claimsToAddOrOverride": claims,
        "claimsToSuppress": [],
        "scopesToAdd": [],
        "scopesToSuppress": [],
    });
    let response = event
        .as_object_mut()
        .ok_or(TokenClaimsError::NotAnEvent("the event is not an object"))?
        .entry("response")
        .or_insert_with(|| json!({}));
    response["claimsAndScopeOverrideDetails"] = json!({
        "idTokenGeneration": generation,
        "accessTokenGeneration": access,
    });
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(attributes: Value) -> Value {
        json!({
            "version": "2",
            "triggerSource": "TokenGeneration_Authentication",
            "request": { "userAttributes": attributes, "scopes": ["openid"] },
            "response": { "claimsAndScopeOverrideDetails": null },
        })
    }

    #[test]
    fn org_and_roles_become_claims_of_both_tokens() {
        let out = add_token_claims(event(json!({
            "sub": "u1", "custom:org": "org_a", "custom:roles": "fleet_manager, viewer fleet_manager",
        })))
        .unwrap();
        let details = &out["response"]["claimsAndScopeOverrideDetails"];
        for token in ["idTokenGeneration", "accessTokenGeneration"] {
            assert_eq!(
                details[token]["claimsToAddOrOverride"],
                json!({ "org": "org_a", "roles": ["fleet_manager", "viewer"] })
            );
        }
        assert_eq!(out["request"]["userAttributes"]["sub"], "u1");
    }

    #[test]
    fn a_user_without_an_organisation_or_a_known_role_cannot_sign_in() {
        assert_eq!(
            add_token_claims(event(json!({ "custom:roles": "owner" }))),
            Err(TokenClaimsError::NoOrganisation)
        );
        assert_eq!(
            add_token_claims(event(json!({ "custom:org": "org_a" }))),
            Err(TokenClaimsError::NoRoles)
        );
        assert_eq!(
            add_token_claims(event(
                json!({ "custom:org": "org_a", "custom:roles": "admin" })
            )),
            Err(TokenClaimsError::UnknownRole("admin".into()))
        );
        // A free-text attribute that is not an organisation id: the API would refuse the token anyway.
        assert_eq!(
            add_token_claims(event(
                json!({ "custom:org": "org/../x\"", "custom:roles": "owner" })
            )),
            Err(TokenClaimsError::NotAnOrganisation("org/../x\"".into()))
        );
    }
}
