//! Dealer routes: registration and rotation (fleet managers, bearer token) and the signed webhook, each
//! documented by its `#[route]` and registered with it by [`routes`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::{Permission, TokenVerifier};
use vwc_clock::SharedClock;
use vwc_contracts::check_vin;
use vwc_contracts::ids::new_id;
use vwc_contracts::{DealerId, OrgId};
use vwc_http::route;
use vwc_http::{Admitted, ApiError, Auth, Created, Json, RawBody, RequestTrace, parse_json};
use vwc_webhook::{WebhookHeaders, WebhookSecret};

use super::store::{
    DealerRow, DealerStore, IncomingWebhook, SecretRotation, StoredSecret, WebhookOutcome,
};
use super::{DealerPayload, ROTATION_GRACE_HOURS};
use crate::openapi::{Authenticated, BearerBody, RequestBody, ResourceRoute};

#[derive(Clone)]
pub struct DealerState {
    pub dealers: Arc<dyn DealerStore>,
    pub clock: SharedClock,
    pub verifier: Arc<dyn TokenVerifier>,
    pub cache: Arc<DealerCache>,
}

/// Dealers (with their secrets) recently used by webhooks, so a burst from one dealer does not read the
/// same row for every request. A signature that fails against a cached row is checked again against a
/// fresh read, so a rotation done by another process is never refused; this process's rotations evict.
///
/// The webhook route is open to anyone, so what a stranger can make it do is bounded here: an unknown
/// dealer id is remembered for [`DEALER_MISS_TTL`] (no read per request), a row is re-read after a failed
/// signature at most once per [`DEALER_REREAD_MIN`] per dealer, and each source address may be refused
/// [`REFUSALS_PER_SOURCE_BURST`] times at once and [`REFUSALS_PER_SOURCE_PER_SEC`] a second after that —
/// past it, its webhooks are answered 429 before any work is done.
pub struct DealerCache {
    entries:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Arc<DealerRow>)>>,
    misses: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    refusals: vwc_http::RateLimiter,
    reads: std::sync::atomic::AtomicU64,
}

impl Default for DealerCache {
    fn default() -> DealerCache {
        DealerCache {
            entries: Default::default(),
            misses: Default::default(),
            refusals: vwc_http::RateLimiter::new(
                REFUSALS_PER_SOURCE_PER_SEC,
                REFUSALS_PER_SOURCE_BURST,
            ),
            reads: Default::default(),
        }
    }
}

/// How long a cached dealer is trusted before it is read again.
const DEALER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const DEALER_CACHE_MAX: usize = 10_000;
/// How long an unknown dealer id is answered without a read.
pub const DEALER_MISS_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Least time between two reads of one dealer caused by failed signatures.
pub const DEALER_REREAD_MIN: std::time::Duration = std::time::Duration::from_secs(1);
/// Refused webhooks (bad signature, unknown dealer) a source address may send at once…
pub const REFUSALS_PER_SOURCE_BURST: u32 = 20;
/// …and per second after that.
pub const REFUSALS_PER_SOURCE_PER_SEC: f64 = 2.0;

impl DealerCache {
    fn get(&self, id: &str) -> Option<(Arc<DealerRow>, std::time::Duration)> {
        let entries = self.entries.lock().unwrap();
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < DEALER_CACHE_TTL)
            .map(|(at, d)| (d.clone(), at.elapsed()))
    }

    fn put(&self, dealer: Arc<DealerRow>) {
        let mut entries = self.entries.lock().unwrap();
        if entries.len() >= DEALER_CACHE_MAX {
            entries.retain(|_, (at, _)| at.elapsed() < DEALER_CACHE_TTL);
        }
        entries.insert(dealer.id.clone(), (std::time::Instant::now(), dealer));
    }

    fn known_missing(&self, id: &str) -> bool {
        self.misses
            .lock()
            .unwrap()
            .get(id)
            .is_some_and(|at| at.elapsed() < DEALER_MISS_TTL)
    }

    fn put_miss(&self, id: &str) {
        let mut misses = self.misses.lock().unwrap();
        if misses.len() >= DEALER_CACHE_MAX {
            misses.retain(|_, at| at.elapsed() < DEALER_MISS_TTL);
        }
        if misses.len() < DEALER_CACHE_MAX {
            misses.insert(id.to_string(), std::time::Instant::now());
        }
    }

    fn evict(&self, id: &str) {
        self.entries.lock().unwrap().remove(id);
        self.misses.lock().unwrap().remove(id);
    }

    /// Dealer rows read from the store by the webhook route so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// 429 when `source` has used up its refusals.
    fn admit(&self, source: Option<std::net::IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = source else { return Ok(()) };
        self.refusals
            .peek(&ip.to_string(), std::time::Instant::now())
            .map_err(|wait| ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            })
    }

    fn refused(&self, source: Option<std::net::IpAddr>) {
        let Some(ip) = source else { return };
        let now = std::time::Instant::now();
        if self.refusals.len() >= DEALER_CACHE_MAX {
            self.refusals.forget_idle(now);
        }
        let _ = self.refusals.check(&ip.to_string(), now);
    }
}

/// The dealer from the cache, or read (and cached); `fresh` asks for a read unless one was made within
/// [`DEALER_REREAD_MIN`]. The `bool` says whether the row came from the cache (and may be re-read).
async fn load_dealer(
    state: &DealerState,
    dealer_id: &str,
    fresh: bool,
) -> Result<Option<(Arc<DealerRow>, bool)>, ApiError> {
    if let Some((d, age)) = state.cache.get(dealer_id) {
        if !fresh {
            return Ok(Some((d, true)));
        }
        if age < DEALER_REREAD_MIN {
            return Ok(Some((d, false)));
        }
    }
    if !fresh && state.cache.known_missing(dealer_id) {
        return Ok(None);
    }
    state
        .cache
        .reads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(dealer) = state.dealers.dealer(&DealerId::from(dealer_id)).await? else {
        state.cache.put_miss(dealer_id);
        return Ok(None);
    };
    let dealer = Arc::new(dealer);
    state.cache.put(dealer.clone());
    Ok(Some((dealer, false)))
}

vwc_http::has_verifier!(DealerState);

// Fleet managers' permission to register dealers and rotate their secrets (docs/roles.md).
vwc_http::permission_gate!(ManageDealers);

/// The dealer routes (with their OpenAPI documentation as `docs` says); the composition merges them and adds
/// the state.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<DealerState> {
    vwc_http::service_routes![docs; register_dealer, rotate_secret, receive_webhook,]
}

/// `{id}` of a route on one dealer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct DealerPath {
    /// The dealer's id (`dlr_…`).
    #[param(value_type = String)]
    id: DealerId,
}

/// `POST /v1/dealers` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Main St Auto"}))]
pub struct NewDealer {
    /// 1–120 characters.
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    name: String,
}

/// `201` of `POST /v1/dealers`. The secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DealerRegistered {
    pub dealer_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Where the dealer sends its webhooks (relative to this API's origin).
    pub webhook_url: String,
    /// `whsec_<base64>`: the Standard Webhooks signing secret. Shown only in this response.
    pub webhook_secret: String,
}

/// `200` of `POST /v1/dealers/{id}/rotate-secret`. The new secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotated {
    pub dealer_id: String,
    /// The new `whsec_<base64>` secret. Shown only in this response.
    pub webhook_secret: String,
    /// Until then signatures made with the previous secret still verify.
    pub previous_secret_valid_until: DateTime<Utc>,
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// The VIN matched a vehicle: the event is in its timeline.
    Recorded,
    /// This `webhook-id` was received before; nothing happened again.
    Duplicate,
    /// No vehicle of the dealer's organisation has the VIN yet; the record waits for its registration.
    Unmatched,
}

/// `200` of a dealer webhook.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "recorded", "eventId": "evt_0197a3c25b1e7d409c1a6f0e2b8d4a11",
    "dealerRecordId": "drc_0197a3c25b1e7d409c1a6f0e2b8d4a12"}))]
pub struct WebhookReceipt {
    pub status: WebhookStatus,
    /// The timeline event (absent while unmatched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The dealer record that keeps the raw payload.
    pub dealer_record_id: String,
}

/// Register a dealer integration
///
/// Fleet managers only. Answers the dealer's id and its webhook signing secret, shown this once.
#[route(post "/v1/dealers", tag = "dealers", body = NewDealer,
    ok(201, "Registered.", DealerRegistered,
        example = json!({"dealerId": "dlr_0197a3c25b1e7d409c1a6f0e2b8d4a10", "name": "Main St Auto",
            "createdAt": "2026-01-10T12:00:00Z", "webhookUrl": "/webhooks/dealers/dlr_0197a3c25b1e7d409c1a6f0e2b8d4a10",
            "webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})),
    errors(BearerBody))]
async fn register_dealer(
    State(state): State<DealerState>,
    Admitted { auth, .. }: Admitted<ManageDealers>,
    Json(new): Json<NewDealer>,
) -> Result<Created<DealerRegistered>, ApiError> {
    let name = new.name.trim().to_string();
    // The name becomes the vendor of every record the dealer sends: one line, as a vendor's is.
    let mut v = vwc_contracts::validation::Validator::default();
    v.line("name", &name, 1, vwc_contracts::MAX_SHORT_TEXT);
    v.finish().map_err(ApiError::Validation)?;
    let secret = WebhookSecret::generate();
    let now = state.clock.now();
    let dealer = DealerRow {
        id: new_id("dlr"),
        org_id: auth.org().to_string(),
        name,
        created_at: now,
        secrets: vec![StoredSecret {
            secret: secret.clone(),
            created_at: now,
            expires_at: None,
        }],
    };
    state.dealers.insert_dealer(&dealer).await?;
    state.cache.evict(&dealer.id);
    tracing::info!(dealer = %dealer.id, "dealer registered");
    Ok(Created(DealerRegistered {
        webhook_url: format!("/webhooks/dealers/{}", dealer.id),
        dealer_id: dealer.id,
        name: dealer.name,
        created_at: dealer.created_at,
        webhook_secret: secret.expose().to_string(),
    }))
}

/// Rotate a dealer's webhook secret
///
/// Fleet managers only. Issues a new secret; the one it replaces keeps verifying for 24 hours, and one still
/// verifying from an earlier rotation stops at once (so rotating twice revokes a leaked secret).
#[route(post "/v1/dealers/{id}/rotate-secret", tag = "dealers", params(DealerPath),
    ok(200, "Rotated.", SecretRotated), errors(ResourceRoute))]
async fn rotate_secret(
    State(state): State<DealerState>,
    auth: Auth,
    Path(DealerPath { id }): Path<DealerPath>,
) -> Result<Json<SecretRotated>, ApiError> {
    let dealer = state
        .dealers
        .dealer(&id)
        .await?
        .filter(|d| d.org_id == auth.org())
        .ok_or(ApiError::NotFound("dealer"))?;
    auth.require(Permission::ManageDealers)?;
    let secret = WebhookSecret::generate();
    let now = state.clock.now();
    let old_until = now + Duration::hours(ROTATION_GRACE_HOURS);
    let rotation = SecretRotation {
        dealer_id: id,
        secret,
        at: now,
        old_expires_at: old_until,
    };
    let rotated = state
        .dealers
        .rotate_secret(&OrgId::from(auth.org()), &rotation)
        .await?;
    if !rotated {
        return Err(ApiError::NotFound("dealer"));
    }
    state.cache.evict(&dealer.id);
    Ok(Json(SecretRotated {
        dealer_id: dealer.id,
        webhook_secret: rotation.secret.expose().to_string(),
        previous_secret_valid_until: old_until,
    }))
}

/// Receive a dealer webhook
///
/// Signed as [Standard Webhooks](https://www.standardwebhooks.com/) specify: `webhook-signature` holds one
/// or more space-separated `v1,<base64>` signatures, each the HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{raw
/// body}` keyed with the base64-decoded part of the dealer's `whsec_…` secret. The timestamp must be within
/// 5 minutes of the server's clock. Any signature problem (and an unknown dealer) is a 401 that does not say
/// which. A repeated `webhook-id` answers `duplicate` and changes nothing. A VIN that matches no vehicle of
/// the dealer's organisation is kept (`unmatched`) and becomes a timeline event when the VIN is registered.
/// A record dated after the matched vehicle's sale is refused (422 on `occurredAt`, naming the sale) and
/// nothing is kept. After a 503, resend the same delivery (same `webhook-id`), after its `Retry-After` when it
/// has one: it is recorded once, whether or not the first attempt took effect.
#[route(post "/webhooks/dealers/{dealerId}", tag = "webhooks",
    params(
        ("dealerId" = String, Path, description = "The dealer's id (`dlr_…`), from `POST /v1/dealers`."),
        ("webhook-id" = String, Header, max_length = 255,
            description = "The delivery's unique id; a repeat is answered `duplicate`. Up to 255 characters.",
            example = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
        ("webhook-timestamp" = String, Header, pattern = "^[0-9]{1,19}$",
            description = "Unix seconds when the delivery was signed; within ±300 s of the server's clock.",
            example = "1767000000"),
        ("webhook-signature" = String, Header,
            description = "Space-separated `v1,<base64 HMAC-SHA256>` signatures (several during a secret rotation).",
            example = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
    ),
    request_body(content = DealerPayload, content_type = "application/json",
        description = "The payload; its exact bytes are what is signed.",
        examples(
            ("service_record" = (summary = "Service record: becomes a maintenance event", value = json!(super::payload::examples::service_record()))),
            ("repair_order" = (summary = "Repair order: becomes a repair", value = json!(super::payload::examples::repair_order()))),
            ("appraisal" = (summary = "Appraisal: becomes a valuation", value = json!(super::payload::examples::appraisal()))),
            ("sale" = (summary = "Sale: becomes the acquisition", value = json!(super::payload::examples::sale()))),
            ("collision_report" = (summary = "Collision report: becomes a collision", value = json!(super::payload::examples::collision_report()))),
        )),
    ok(200, "Accepted: recorded, kept unmatched, or a duplicate.", WebhookReceipt),
    errors(Authenticated, RequestBody))]
async fn receive_webhook(
    State(state): State<DealerState>,
    Path(dealer_id): Path<String>,
    trace: RequestTrace,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<WebhookReceipt>, ApiError> {
    let source = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    state.cache.admit(source)?;
    let now = state.clock.now();
    let dealer = match verified_dealer(&state, &dealer_id, &headers, &body, now).await {
        Ok(dealer) => dealer,
        Err(ApiError::Unauthorized) => {
            state.cache.refused(source);
            return Err(ApiError::Unauthorized);
        }
        Err(other) => return Err(other),
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let webhook_id = header(vwc_webhook::HEADER_ID)
        .unwrap_or_default()
        .trim()
        .to_string();
    accept_webhook(&state, &dealer, webhook_id, trace, &headers, &body, now).await
}

/// The dealer whose secret signed this webhook; 401 for an unknown dealer or any signature problem
/// (the same answer, so the two cannot be told apart from outside).
async fn verified_dealer(
    state: &DealerState,
    dealer_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Arc<DealerRow>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (mut dealer, mut cached) = load_dealer(state, dealer_id, false)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let webhook_headers = WebhookHeaders {
        id: header(vwc_webhook::HEADER_ID),
        timestamp: header(vwc_webhook::HEADER_TIMESTAMP),
        signature: header(vwc_webhook::HEADER_SIGNATURE),
    };
    loop {
        match vwc_webhook::verify(
            &dealer.valid_secrets(now),
            webhook_headers,
            body,
            now.timestamp(),
        ) {
            Ok(()) => return Ok(dealer),
            // A cached row may predate a rotation made elsewhere: check once more against a fresh read.
            Err(_) if cached => {
                (dealer, cached) = load_dealer(state, dealer_id, true)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
            }
            Err(reason) => {
                tracing::info!(dealer = %dealer.id, %reason, "webhook refused");
                return Err(ApiError::Unauthorized);
            }
        }
    }
}

/// A verified webhook: validated, stored durably, answered.
async fn accept_webhook(
    state: &DealerState,
    dealer: &DealerRow,
    webhook_id: String,
    trace: RequestTrace,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Json<WebhookReceipt>, ApiError> {
    if webhook_id.len() > 255 {
        return Err(ApiError::BadRequest(
            "webhook-id is longer than 255 characters".into(),
        ));
    }
    let payload: DealerPayload = parse_json(headers, body)?;
    let vin = payload.vin.trim().to_ascii_uppercase();
    if let Err(m) = check_vin(&vin) {
        return Err(ApiError::field("vin", m));
    }
    let new = payload
        .to_new_event(&dealer.id, &dealer.name)
        .map_err(ApiError::Validation)?;
    // Checked now, whether or not a vehicle matches yet: the event does not depend on which one.
    new.check(now).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(super::payload::payload_field)
                .collect(),
        )
    })?;
    let raw = String::from_utf8_lossy(body).into_owned();
    let payload_type = serde_json::to_value(payload.payload_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let outcome = state
        .dealers
        .receive_webhook(
            &IncomingWebhook {
                dealer_id: dealer.id.clone(),
                org_id: dealer.org_id.clone(),
                webhook_id,
                vin,
                payload_type,
                raw_payload: raw,
                template: new,
                received_at: now,
            },
            crate::service::dealer_event_builder(state.clock.clone(), Some(trace.0.to_string())),
        )
        .await?;
    let body = match outcome {
        WebhookOutcome::Recorded {
            record_id,
            event_id,
        } => WebhookReceipt {
            status: WebhookStatus::Recorded,
            event_id: Some(event_id),
            dealer_record_id: record_id,
        },
        WebhookOutcome::Refused(errors) => {
            return Err(ApiError::Validation(
                errors
                    .into_iter()
                    .map(super::payload::payload_field)
                    .collect(),
            ));
        }
        WebhookOutcome::Unmatched { record_id } => WebhookReceipt {
            status: WebhookStatus::Unmatched,
            event_id: None,
            dealer_record_id: record_id,
        },
        WebhookOutcome::Duplicate {
            record_id,
            event_id,
        } => WebhookReceipt {
            status: WebhookStatus::Duplicate,
            event_id,
            dealer_record_id: record_id,
        },
    };
    Ok(Json(body))
}
