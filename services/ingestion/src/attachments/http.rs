//! The attachment routes under `/v1/vehicles/{id}/events/{eventId}/attachments`: direct upload (both
//! modes), pre-signed upload and its confirm step (S3), listing and download. The vehicle and the event
//! are looked up in the caller's organisation first, so another organisation's ids answer 404.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::{EventId, OrgId, VehicleEvent};
use vwc_http::openapi::BinaryFile;
use vwc_http::route;
use vwc_http::{ApiError, Auth, Created, Disposition, FileHeaders, Json, Query, file_response};

use super::{
    Attachment, AttachmentStore, AttachmentStoreError, Content, EventKey, MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_PER_EVENT, PresignedUrl, Refusal, UploadIntent, clean_file_name, sniff,
};
use crate::Ingestion;
use crate::openapi::{BodyChange, CheckedContent, ResourceRoute, StateChange};

/// The problem type (`https://vwc.dev/problems/direct-upload-unavailable`, 409) of asking for a pre-signed
/// upload where the deployment keeps files itself: a client then sends the file to `…/attachments`.
pub const DIRECT_UPLOAD_UNAVAILABLE: &str = "direct-upload-unavailable";

#[derive(Clone)]
pub struct AttachmentState {
    pub ingestion: Ingestion,
    pub store: Arc<dyn AttachmentStore>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// Taken for the count check and the write it guards (see [`UploadLocks`]).
    pub uploads: Arc<UploadLocks>,
}

/// Adding files to one event happens one at a time in this process: the check against
/// [`MAX_ATTACHMENTS_PER_EVENT`] and the write it allows are one step, so uploads made in parallel cannot
/// all pass the check together (30 at once stored 24–27). Events share 64 locks by the hash of their key;
/// each API process keeps its own (docs/attachments.md).
pub struct UploadLocks(Box<[tokio::sync::Mutex<()>]>);

impl Default for UploadLocks {
    fn default() -> UploadLocks {
        UploadLocks((0..64).map(|_| tokio::sync::Mutex::new(())).collect())
    }
}

impl UploadLocks {
    async fn of(&self, key: &EventKey) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&key.org, &key.vehicle, &key.event).hash(&mut hasher);
        self.0[(hasher.finish() % self.0.len() as u64) as usize]
            .lock()
            .await
    }
}

vwc_http::has_verifier!(AttachmentState);

pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<AttachmentState> {
    vwc_http::service_routes![docs;
        upload_attachment | list_attachments,
        download_attachment,
        start_upload,
        confirm_upload,
    ]
}

impl From<AttachmentStoreError> for ApiError {
    fn from(e: AttachmentStoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::Empty => ApiError::field("body", "the file is empty"),
            other => ApiError::UnsupportedMediaType(other.to_string()),
        }
    }
}

/// An event the attachment routes found, and whether it was voided.
struct FoundEvent {
    event: VehicleEvent,
    voided: bool,
}

/// The one place attachments learn about their event: it must be the vehicle's and in the caller's
/// organisation (else `None`: a 404), and a voided one (`VehicleEventVoided`, docs/corrections.md) is
/// marked — its files stay listed and served, as part of the record's history, and it takes no new ones
/// (docs/attachments.md). A corrected event is the same record: its attachments stay.
async fn visible_event(
    state: &AttachmentState,
    org: &str,
    vehicle: &str,
    event: &str,
) -> Result<Option<FoundEvent>, ApiError> {
    let (org, event) = (OrgId::from(org), EventId::from(event));
    let store = state.ingestion.store();
    let Some(found) = store
        .event(&org, &event)
        .await?
        .filter(|e| e.vehicle_id.as_ref() == vehicle)
    else {
        return Ok(None);
    };
    let revisions = store
        .revisions(crate::corrections::RevisionsOf::Event(&org, &event))
        .await?;
    let voided = revisions
        .last()
        .is_some_and(|r| r.change == vwc_contracts::corrections::RevisionChange::Voided);
    Ok(Some(FoundEvent {
        event: found,
        voided,
    }))
}

/// `{id}` and `{eventId}` of the attachment routes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct EventPath {
    /// The vehicle's id (`veh_…`).
    id: String,
    /// The event's id (`evt_…`).
    event_id: String,
}

/// `{attachmentId}` of the download route.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
struct AttachmentPath {
    /// The attachment's id (`att_…`).
    attachment_id: String,
}

/// `{attachmentId}` of the confirm route: the id its upload ticket gave.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
struct TicketPath {
    /// `attachmentId` of the upload ticket.
    attachment_id: String,
}

/// What a route does with an event's attachments, which decides the permission it needs.
trait Access {
    /// The check on the caller's roles alone, before any lookup.
    fn before_lookup(_: &Auth) -> Result<(), ApiError> {
        Ok(())
    }

    /// The check once the event is found in the caller's organisation.
    fn after_lookup(_: &Auth, _: &FoundEvent) -> Result<(), ApiError> {
        Ok(())
    }
}

/// List or download: reading vehicles (checked before any lookup). A voided event's files too: they are
/// part of its history.
struct Read;

impl Access for Read {
    fn before_lookup(auth: &Auth) -> Result<(), ApiError> {
        auth.require(Permission::ReadVehicles)
    }
}

/// Add a file: recording events of the event's kind (technicians may attach to service records), to an
/// event that is not voided (409: a void is the record's last word).
struct Attach;

impl Access for Attach {
    fn after_lookup(auth: &Auth, found: &FoundEvent) -> Result<(), ApiError> {
        auth.require(crate::http::permission_for(found.event.kind))?;
        if found.voided {
            return Err(ApiError::Conflict(
                "the event was voided: its files can still be listed and downloaded, and it takes no new ones"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The caller and the storage key of the event `{eventId}` of vehicle `{id}`: 404 when the vehicle or
/// the event is not the caller's to see, 403 without the permission access `A` needs.
struct EventFiles<A> {
    auth: Auth,
    key: EventKey,
    access: PhantomData<fn() -> A>,
}

impl<A: Access> FromRequestParts<AttachmentState> for EventFiles<A> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AttachmentState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        A::before_lookup(&auth)?;
        let Path(path) = Path::<EventPath>::from_request_parts(parts, state)
            .await
            .map_err(ApiError::internal)?;
        let key = EventKey::new(auth.org(), &path.id, &path.event_id)
            .ok_or(ApiError::NotFound("event"))?;
        let found = visible_event(state, auth.org(), &path.id, &path.event_id)
            .await?
            .ok_or(ApiError::NotFound("event"))?;
        A::after_lookup(&auth, &found)?;
        Ok(EventFiles {
            auth,
            key,
            access: PhantomData,
        })
    }
}

fn new_id() -> String {
    format!("att_{}", uuid::Uuid::now_v7().simple())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, shown in listings and offered on download (its extension decides nothing).
    #[param(max_length = 200)]
    file_name: Option<String>,
}

/// `{items}` of an event's attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    pub items: Vec<Attachment>,
}

async fn guard_count(state: &AttachmentState, key: &EventKey) -> Result<(), ApiError> {
    if state.store.list(key).await?.len() >= MAX_ATTACHMENTS_PER_EVENT {
        return Err(ApiError::Conflict(format!(
            "the event already has {MAX_ATTACHMENTS_PER_EVENT} attachments"
        )));
    }
    Ok(())
}

/// Attach a file to an event
///
/// The body is the file itself (any `Content-Type`; it is not trusted): a JPEG, PNG, WebP, HEIC, GIF or
/// TIFF image or a PDF, judged by its first bytes, at most 10 MiB. Anything else — an executable named
/// `receipt.pdf`, say — is a 415. Stored durably before the 201. Recording events of the event's kind is
/// the permission needed (technicians may attach to service records). A voided event takes no new file
/// (409); its files stay listed and served.
#[route(post "/v1/vehicles/{id}/events/{eventId}/attachments", tag = "attachments",
    params(EventPath, UploadQuery),
    request_body(content = BinaryFile, content_type = "application/octet-stream",
        description = "The file's bytes, at most 10 MiB."),
    ok(201, "Stored.", Attachment), errors(BodyChange))]
async fn upload_attachment(
    State(state): State<AttachmentState>,
    EventFiles { auth, key, .. }: EventFiles<Attach>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Created<Attachment>, ApiError> {
    if query
        .file_name
        .as_deref()
        .is_some_and(|n| n.chars().count() > 200)
    {
        return Err(ApiError::field(
            "fileName",
            "must be at most 200 characters",
        ));
    }
    let too_large = ApiError::PayloadOverLimit {
        limit_bytes: MAX_ATTACHMENT_BYTES,
    };
    // A declared length over the limit is refused before a byte is read.
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_ATTACHMENT_BYTES)
    {
        return Err(too_large);
    }
    let content: Bytes = axum::body::to_bytes(body, MAX_ATTACHMENT_BYTES as usize)
        .await
        .map_err(|_| too_large)?;
    let media = sniff(&content)?;
    let _one_at_a_time = state.uploads.of(&key).await;
    guard_count(&state, &key).await?;
    let attachment = Attachment {
        id: new_id(),
        event_id: key.event.clone(),
        vehicle_id: key.vehicle.clone(),
        file_name: clean_file_name(
            query
                .file_name
                .as_deref()
                .unwrap_or(&format!("attachment.{}", media.extension())),
        ),
        content_type: media,
        size_bytes: content.len() as u64,
        sha256: Some(format!("{:x}", Sha256::digest(&content))),
        uploaded_at: state.ingestion.now(),
        uploaded_by: auth.0.sub.clone(),
    };
    state.store.put(&key, &attachment, content).await?;
    tracing::info!(attachment = %attachment.id, event = %attachment.event_id, bytes = attachment.size_bytes,
        content_type = attachment.content_type.as_str(), "attachment stored");
    Ok(Created(attachment))
}

/// List an event's attachments
///
/// Oldest first, a voided event's too (they are part of its history). An event that is not the vehicle's,
/// or not in the caller's organisation, is a 404.
#[route(get "/v1/vehicles/{id}/events/{eventId}/attachments", tag = "attachments",
    params(EventPath), ok(200, "The attachments.", AttachmentList), errors(ResourceRoute))]
async fn list_attachments(
    State(state): State<AttachmentState>,
    files: EventFiles<Read>,
) -> Result<Json<AttachmentList>, ApiError> {
    Ok(Json(AttachmentList {
        items: state.store.list(&files.key).await?,
    }))
}

/// Download an attachment
///
/// Embedded mode answers the bytes (with the sniffed `Content-Type`, `Content-Disposition: attachment`
/// and `X-Content-Type-Options: nosniff`); in AWS mode a `303` to a pre-signed URL valid 15 minutes.
#[route(get "/v1/vehicles/{id}/events/{eventId}/attachments/{attachmentId}", tag = "attachments",
    params(EventPath, AttachmentPath),
    ok(200, "The file.", content(
        (BinaryFile = "image/jpeg"), (BinaryFile = "image/png"), (BinaryFile = "image/webp"),
        (BinaryFile = "image/heic"), (BinaryFile = "image/gif"), (BinaryFile = "image/tiff"),
        (BinaryFile = "application/pdf"))),
    ok(303, "AWS mode: fetch the file from `Location` (pre-signed, 15 minutes).",
        headers(("Location" = String, description = "The pre-signed URL."))),
    errors(ResourceRoute))]
async fn download_attachment(
    State(state): State<AttachmentState>,
    EventFiles { key, .. }: EventFiles<Read>,
    Path(AttachmentPath { attachment_id }): Path<AttachmentPath>,
) -> Result<Response, ApiError> {
    let attachment = state
        .store
        .get(&key, &attachment_id)
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    match state.store.content(&key, &attachment).await? {
        Content::Bytes(bytes) => Ok(file_response(
            bytes,
            FileHeaders {
                content_type: attachment.content_type.as_str(),
                disposition: Disposition::Attachment,
                file_name: &attachment.file_name,
                cache_control: "private, no-store",
            },
        )),
        Content::Redirect(url) => {
            let location = HeaderValue::from_str(&url.url).map_err(ApiError::internal)?;
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            Ok(response)
        }
    }
}

/// `POST …/attachments/uploads` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUpload {
    /// The file's name (display only).
    #[schema(min_length = 1, max_length = 200)]
    pub file_name: String,
}

/// `201` of `POST …/attachments/uploads`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub attachment_id: String,
    /// Send the file here with `method` and `headers`, then confirm.
    pub upload: PresignedUrl,
    /// `POST` here once uploaded: the content is checked before it becomes an attachment.
    pub confirm_path: String,
    pub max_bytes: u64,
}

/// Start a pre-signed upload (AWS mode)
///
/// Answers a pre-signed `PUT` URL (15 minutes) for a file of at most 10 MiB; the file becomes an
/// attachment only when `POST …/attachments/{attachmentId}/confirm` has checked its size and first bytes.
/// A deployment that keeps attachments on its own disk answers 409: upload through the API instead.
#[route(post "/v1/vehicles/{id}/events/{eventId}/attachments/uploads", tag = "attachments",
    params(EventPath), body = NewUpload, ok(201, "Upload there, then confirm.", UploadTicket),
    errors(BodyChange))]
async fn start_upload(
    State(state): State<AttachmentState>,
    EventFiles { auth, key, .. }: EventFiles<Attach>,
    Json(new): Json<NewUpload>,
) -> Result<Created<UploadTicket>, ApiError> {
    if new.file_name.trim().is_empty() || new.file_name.chars().count() > 200 {
        return Err(ApiError::field("fileName", "must be 1–200 characters"));
    }
    guard_count(&state, &key).await?;
    let id = new_id();
    let intent = UploadIntent {
        file_name: clean_file_name(&new.file_name),
        uploaded_by: auth.0.sub.clone(),
        created_at: state.ingestion.now(),
    };
    let Some(upload) = state.store.presign_upload(&key, &id, &intent).await? else {
        return Err(ApiError::ConflictOf {
            kind: DIRECT_UPLOAD_UNAVAILABLE,
            detail: "this deployment keeps attachments itself: POST the file to …/attachments"
                .into(),
        });
    };
    let confirm_path = format!(
        "/v1/vehicles/{}/events/{}/attachments/{id}/confirm",
        key.vehicle, key.event
    );
    Ok(Created(UploadTicket {
        attachment_id: id,
        upload,
        confirm_path,
        max_bytes: MAX_ATTACHMENT_BYTES,
    }))
}

/// Confirm a pre-signed upload
///
/// Reads the uploaded object's size and first bytes: over 10 MiB is a 413, not an image or a PDF a 415
/// (either way the upload is deleted); otherwise it becomes the attachment (201). Nothing uploaded yet: 409.
#[route(post "/v1/vehicles/{id}/events/{eventId}/attachments/{attachmentId}/confirm",
    tag = "attachments", params(EventPath, TicketPath),
    ok(201, "Checked and attached.", Attachment), errors(StateChange, CheckedContent))]
async fn confirm_upload(
    State(state): State<AttachmentState>,
    EventFiles { key, .. }: EventFiles<Attach>,
    Path(TicketPath { attachment_id: id }): Path<TicketPath>,
) -> Result<Created<Attachment>, ApiError> {
    let _one_at_a_time = state.uploads.of(&key).await;
    if let Some(done) = state.store.get(&key, &id).await? {
        // Confirming twice answers the attachment again.
        return Ok(Created(done));
    }
    // Tickets are handed out while there is room; the room is checked again when one becomes a file.
    guard_count(&state, &key).await?;
    let pending = state
        .store
        .pending(&key, &id)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    let Some((size, head)) = pending.uploaded else {
        return Err(ApiError::Conflict(
            "nothing was uploaded to the pre-signed URL yet".into(),
        ));
    };
    if size > MAX_ATTACHMENT_BYTES {
        state.store.discard_pending(&key, &id).await?;
        return Err(ApiError::PayloadOverLimit {
            limit_bytes: MAX_ATTACHMENT_BYTES,
        });
    }
    let media = match sniff(&head) {
        Ok(m) => m,
        Err(refusal) => {
            state.store.discard_pending(&key, &id).await?;
            tracing::warn!(attachment = %id, reason = %refusal, "pre-signed upload refused");
            return Err(refusal.into());
        }
    };
    let attachment = Attachment {
        id,
        event_id: key.event.clone(),
        vehicle_id: key.vehicle.clone(),
        file_name: pending.intent.file_name,
        content_type: media,
        size_bytes: size,
        sha256: None,
        uploaded_at: state.ingestion.now(),
        uploaded_by: pending.intent.uploaded_by,
    };
    state.store.accept_pending(&key, &attachment).await?;
    Ok(Created(attachment))
}
