//! HTTP routes of the notification service: an organisation's channels. Errors become HTTP only here;
//! each route's `#[route]` documents it, and [`routes`] registers handler and documentation together.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;
use vwc_contracts::maintenance::Channel;
use vwc_http::gate::ConfigureNotifications;
use vwc_http::openapi::{BearerBody, BearerQuery, BearerRoute, Conflict, ResourceRoute};
use vwc_http::route;
use vwc_http::{Admitted, ApiError, Json, JsonBody};

use crate::NotificationStore;
use crate::clock::{Clock, SystemClock};
use crate::deliveries::{DeliveriesQuery, DeliveryPage, DeliveryView};
use crate::preferences::{
    PreferencesUpdate, PreferencesView, UpdatePreferencesError, update_preferences,
};
use crate::ssrf::Allowlist;
use crate::store::{DeliveryDetail, Resend};

#[derive(Clone)]
pub struct NotificationState {
    pub store: Arc<dyn NotificationStore>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// Outbound hosts allowed although not public (`VWC_OUTBOUND_ALLOWLIST`, via `Allowlist::from_env`).
    pub allowlist: Arc<Allowlist>,
    pub clock: Arc<dyn Clock>,
    /// The reminders' settle time (`VWC_NOTIFICATION_SETTLE_SECONDS`): deliveries the old quiet hours held
    /// are released no earlier than it when the preferences change.
    pub settle: chrono::TimeDelta,
    /// Whether this deployment can e-mail reminders: without, a `PUT` naming an address is a 422 (every
    /// e-mail would fail "not configured", seen only in the server's log, while the preferences showed the
    /// channel on).
    pub email: bool,
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
            settle: chrono::TimeDelta::from_std(crate::consumer::DEFAULT_SETTLE)
                .unwrap_or(chrono::TimeDelta::MAX),
            email: true,
        }
    }
}

vwc_http::has_verifier!(NotificationState);

/// `GET` and `PUT /v1/notifications/preferences`, the outbound deliveries' list and resend (with their
/// OpenAPI documentation as `docs` says); the composition merges them and adds the state.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<NotificationState> {
    vwc_http::service_routes![docs;
        read_preferences | put_preferences,
        list_deliveries,
        retry_delivery
    ]
}

impl From<UpdatePreferencesError> for ApiError {
    fn from(e: UpdatePreferencesError) -> ApiError {
        match e {
            UpdatePreferencesError::Invalid(errors) => ApiError::Validation(errors),
            UpdatePreferencesError::Store(e) => ApiError::from(e),
        }
    }
}

/// Get the organisation's notification preferences
///
/// Its channels (in-app always; webhook and e-mail when set) and quiet hours. The webhook secret is never
/// shown here, only whether one exists.
#[route(get "/v1/notifications/preferences", tag = "notifications",
    ok(200, "The preferences (in-app only for an organisation that never set any).", PreferencesView,
        example = json!({"inApp": true, "webhookUrl": "https://hooks.example.com/vwc",
            "email": "fleet@example.com",
            "quietHours": {"start": "22:00", "end": "07:00", "tzOffsetMinutes": 60},
            "hasWebhookSecret": true, "updatedAt": "2026-01-10T12:00:00Z"})),
    errors(BearerRoute))]
async fn read_preferences(
    State(state): State<NotificationState>,
    Admitted { org, .. }: Admitted<ConfigureNotifications>,
) -> Result<Json<PreferencesView>, ApiError> {
    let stored = state.store.preferences(&org).await?;
    Ok(Json(match stored {
        Some(stored) => PreferencesView::of(&stored, None),
        None => PreferencesView::defaults(),
    }))
}

/// Set the organisation's notification preferences
///
/// Replaces the channels and quiet hours (an absent field is the same as `null`). Setting a webhook URL
/// while the organisation has no outbound webhook secret issues one, which this response shows once
/// (`webhookSecret`); `rotateWebhookSecret` issues a new one and the old one stops working at once. A
/// webhook URL must be `https` on a publicly reachable host. Reminders go out on the webhook and by
/// e-mail a settle time after the scheduler makes them (60 s unless the operator set
/// `VWC_NOTIFICATION_SETTLE_SECONDS`); one that a later reminder, or a later status change that needs no
/// attention, about the same item replaced meanwhile is not sent (the in-app feed keeps it, marked read).
#[route(put "/v1/notifications/preferences", tag = "notifications", body = PreferencesUpdate,
    ok(200, "The preferences as saved, with `webhookSecret` when this request issued one.",
        PreferencesView,
        headers(("Cache-Control" = String, description = "Always `no-store`: the answer may carry the \
            webhook secret.")),
        example = json!({"inApp": true, "webhookUrl": "https://hooks.example.com/vwc",
            "email": "fleet@example.com",
            "quietHours": {"start": "22:00", "end": "07:00", "tzOffsetMinutes": 60},
            "hasWebhookSecret": true, "webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "updatedAt": "2026-01-10T12:00:00Z"})),
    errors(BearerBody))]
async fn put_preferences(
    State(state): State<NotificationState>,
    Admitted { org, .. }: Admitted<ConfigureNotifications>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let update: PreferencesUpdate = body.parse()?;
    if !state.email
        && update
            .email
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty())
    {
        return Err(ApiError::Validation(vec![vwc_contracts::FieldError {
            field: "email".into(),
            message:
                "e-mail is not configured on this server, so reminders cannot be e-mailed (`vwc up \
                      --email FROM`; in AWS the `email_from` parameter); nothing was changed"
                    .into(),
        }]));
    }
    let saved = update_preferences(
        state.store.as_ref(),
        &state.allowlist,
        &org,
        update,
        state.clock.now(),
        state.settle,
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

/// List the organisation's outbound deliveries
///
/// Every webhook request and e-mail a reminder made, newest first, `limit` at a time (follow
/// `nextCursor`), each with every attempt (time, the receiver's HTTP status or the error), what it
/// carried and, while pending, when it is next attempted. `status=dead_lettered` lists those that ran out
/// of attempts, `status=failed` those the receiver refused for good: both can be resent. Needs
/// `configure_notifications`, as the preferences do (the errors can name the receiver).
#[route(get "/v1/notifications/deliveries", tag = "notifications", params(DeliveriesQuery),
    ok(200, "A page of outbound deliveries, newest first.", DeliveryPage), errors(BearerQuery))]
async fn list_deliveries(
    State(state): State<NotificationState>,
    Admitted { org, .. }: Admitted<ConfigureNotifications>,
    vwc_http::Query(query): vwc_http::Query<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let (listing, limit) = query.read(&org)?;
    let details = state.store.list_deliveries(listing).await?;
    Ok(Json(DeliveryPage::cut(details, limit)))
}

/// Resend a failed or dead-lettered delivery
///
/// Puts the delivery back to be attempted now, with a fresh budget of attempts (and retries as at
/// first), under the same id — so the same `webhook-id`, which a receiver that already handled it drops.
/// It goes to the organisation's webhook URL (or e-mail address) and is signed with its webhook secret as
/// they are now, not as they were. A reminder that a later one replaced meanwhile is cancelled rather
/// than sent, as any pending delivery is. 409 when the delivery is pending (a resend already under way
/// included), delivered or cancelled, or its channel is switched off now; nothing changes then.
#[route(post "/v1/notifications/deliveries/{id}/retry", tag = "notifications",
    params(("id" = String, Path, description = "The delivery's id (its `webhook-id`).")),
    ok(202, "Pending again, due now; the worker sends it shortly.", DeliveryView),
    errors(ResourceRoute, 409 => Conflict))]
async fn retry_delivery(
    State(state): State<NotificationState>,
    Admitted { org, .. }: Admitted<ConfigureNotifications>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let Some(detail) = state.store.outbound_delivery(&org, &id).await? else {
        return Err(ApiError::NotFound("delivery"));
    };
    if detail.delivery.resendable() {
        channel_is_on(&state, &org, detail.delivery.channel).await?;
    }
    match state
        .store
        .resend_delivery(&org, &id, state.clock.now())
        .await?
    {
        Resend::Resent(delivery) => Ok((
            StatusCode::ACCEPTED,
            Json(DeliveryView::of(DeliveryDetail { delivery, ..detail })),
        )),
        Resend::NotFound => Err(ApiError::NotFound("delivery")),
        Resend::NotResendable(status) => Err(ApiError::Conflict(format!(
            "the delivery is {status}; only a failed or dead-lettered one can be resent"
        ))),
    }
}

/// A 409 unless the organisation's `channel` has somewhere to go now (a resend would only be cancelled).
async fn channel_is_on(
    state: &NotificationState,
    org: &vwc_contracts::OrgId,
    channel: Channel,
) -> Result<(), ApiError> {
    let preferences = state.store.preferences(org).await?.map(|s| s.preferences);
    // A URL this server may no longer send to (its allowlist changed since it was saved): refused now
    // rather than answered 202 and refused by the worker.
    if channel == Channel::Webhook
        && let Some(url) = preferences.as_ref().and_then(|p| p.webhook_url.as_deref())
        && let Err(why) = crate::ssrf::check_url(url, &state.allowlist)
    {
        return Err(ApiError::Conflict(format!(
            "the webhook URL is not allowed ({why}), so a resend would not be sent: save another \
             webhook URL in the notification settings first (`webhookUrl`)"
        )));
    }
    // What the organisation (or the operator) must do first, when the channel is off.
    let missing = match channel {
        Channel::Webhook if preferences.as_ref().is_none_or(|p| p.webhook_url.is_none()) => {
            Some("save a webhook URL in the notification settings (`webhookUrl`) first")
        }
        Channel::Email if !state.email => {
            Some("this server does not send e-mail (its operator has not configured it)")
        }
        Channel::Email if preferences.as_ref().is_none_or(|p| p.email.is_none()) => {
            Some("save an e-mail address in the notification settings (`email`) first")
        }
        _ => None,
    };
    match missing {
        None => Ok(()),
        Some(how) => Err(ApiError::Conflict(format!(
            "the {} channel is switched off, so a resend would not be sent: {how}",
            channel.as_str()
        ))),
    }
}
