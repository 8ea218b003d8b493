//! HTTP routes of the notification service: an organisation's channels. Errors become HTTP only here.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use vwc_auth::{Permission, TokenVerifier};
use vwc_http::{ApiError, Auth, HasVerifier, Json, RawBody, parse_json};

use crate::NotificationStore;
use crate::clock::{Clock, SystemClock};
use crate::preferences::{
    PreferencesUpdate, PreferencesView, UpdatePreferencesError, update_preferences,
};
use crate::ssrf::Allowlist;

#[derive(Clone)]
pub struct NotificationState {
    pub store: Arc<dyn NotificationStore>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// Outbound hosts allowed although not public (`VWC_OUTBOUND_ALLOWLIST`, via `Allowlist::from_env`).
    pub allowlist: Arc<Allowlist>,
    pub clock: Arc<dyn Clock>,
}

impl NotificationState {
    /// State on the wall clock.
    pub fn new(
        store: Arc<dyn NotificationStore>,
        verifier: Arc<dyn TokenVerifier>,
        allowlist: Allowlist,
    ) -> NotificationState {
        NotificationState {
            store,
            verifier,
            allowlist: Arc::new(allowlist),
            clock: Arc::new(SystemClock),
        }
    }
}

impl HasVerifier for NotificationState {
    fn verifier(&self) -> &Arc<dyn TokenVerifier> {
        &self.verifier
    }
}

/// `GET` and `PUT /v1/notifications/preferences`.
pub fn router(state: NotificationState) -> Router {
    Router::new()
        .route(
            "/v1/notifications/preferences",
            get(read_preferences).put(put_preferences),
        )
        .with_state(state)
}

impl From<UpdatePreferencesError> for ApiError {
    fn from(e: UpdatePreferencesError) -> ApiError {
        match e {
            UpdatePreferencesError::Invalid(errors) => ApiError::Validation(errors),
            UpdatePreferencesError::Store(e) => ApiError::internal(e),
        }
    }
}

async fn read_preferences(
    State(state): State<NotificationState>,
    auth: Auth,
) -> Result<Json<PreferencesView>, ApiError> {
    auth.require(Permission::ConfigureNotifications)?;
    let stored = state
        .store
        .preferences(auth.org())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(match stored {
        Some(stored) => PreferencesView::of(&stored, None),
        None => PreferencesView::defaults(),
    }))
}

async fn put_preferences(
    State(state): State<NotificationState>,
    auth: Auth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    auth.require(Permission::ConfigureNotifications)?;
    let update: PreferencesUpdate = parse_json(&headers, &body)?;
    let saved = update_preferences(
        state.store.as_ref(),
        &state.allowlist,
        auth.org(),
        update,
        state.clock.now(),
    )
    .await?;
    let mut response = Json(PreferencesView::of(
        &saved.stored,
        saved.issued_secret.as_ref(),
    ))
    .into_response();
    // The answer may carry the webhook secret: no cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
