//! The caller of a route on its organisation's data (no one vehicle in the path), admitted by a
//! [`Gate`] before anything else of the request is read: the 403 comes first, as docs/roles.md says.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use vwc_contracts::OrgId;

use crate::{ApiError, Auth, Gate, HasVerifier};

/// The caller, admitted by `G`, and its organisation (from the token only, never the path or body).
pub struct Admitted<G> {
    pub auth: Auth,
    pub org: OrgId,
    gate: PhantomData<fn() -> G>,
}

impl<S, G> FromRequestParts<S> for Admitted<G>
where
    S: HasVerifier + Send + Sync,
    G: Gate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        G::admit(&auth)?;
        let org = OrgId::from(auth.org());
        Ok(Admitted {
            auth,
            org,
            gate: PhantomData,
        })
    }
}
