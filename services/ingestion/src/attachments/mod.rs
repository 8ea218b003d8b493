//! Receipts and documents attached to timeline events (docs/attachments.md): the record, the storage port
//! with its two adapters (files under the data dir; S3 with pre-signed URLs), and the HTTP routes.
//! Content is judged by its first bytes ([`sniff`]), never by its name or declared type.

pub mod fs;
pub mod http;
#[cfg(feature = "aws")]
pub mod s3;
pub mod sniff;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use sniff::{MediaType, Refusal, sniff};

/// Largest attachment accepted: 10 MiB.
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
/// Most attachments one event may carry.
pub const MAX_ATTACHMENTS_PER_EVENT: usize = 20;
/// How long a pre-signed URL stays valid.
pub const URL_TTL: Duration = Duration::from_secs(15 * 60);

/// An accepted attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// `att_…`
    pub id: String,
    pub event_id: String,
    pub vehicle_id: String,
    /// The name it was uploaded under (path and control characters removed); for display only.
    pub file_name: String,
    /// What the content is, judged by its first bytes.
    pub content_type: MediaType,
    pub size_bytes: u64,
    /// SHA-256 of the content (hex), when the API saw all of it (direct uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    /// The uploader's `sub`.
    pub uploaded_by: String,
}

/// Where an event's attachments live: the organisation, vehicle and event they belong to. Every part is
/// checked to be a plain id (letters, digits, `_`, `-`) before it names a path or an object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey {
    pub org: String,
    pub vehicle: String,
    pub event: String,
}

impl EventKey {
    pub fn new(org: &str, vehicle: &str, event: &str) -> Option<EventKey> {
        [org, vehicle, event]
            .iter()
            .all(|p| is_plain_id(p))
            .then(|| EventKey {
                org: org.into(),
                vehicle: vehicle.into(),
                event: event.into(),
            })
    }

    /// `org/vehicle/event`
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.org, self.vehicle, self.event)
    }
}

pub fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a pre-signed upload stored before confirmation: the intent, the size and the first bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadIntent {
    pub file_name: String,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingUpload {
    pub intent: UploadIntent,
    /// `None` when nothing was uploaded to the URL (yet).
    pub uploaded: Option<(u64, Vec<u8>)>,
}

/// A URL the client uploads to, with the method and headers it must use.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrl {
    pub url: String,
    pub method: String,
    /// Headers the request must carry exactly.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// How content is served.
pub enum Content {
    Bytes(Vec<u8>),
    /// A short-lived URL to fetch it from (S3).
    Redirect(PresignedUrl),
}

#[derive(Debug, thiserror::Error)]
pub enum AttachmentStoreError {
    #[error("attachment storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("attachment record: {0}")]
    Record(#[from] serde_json::Error),
    #[error("S3: {0}")]
    S3(String),
}

pub type AttachmentResult<T> = Result<T, AttachmentStoreError>;

/// What an export of a vehicle's records with their files reads from a store (`vwc`'s `StoreFiles`, behind
/// `GET …/export?format=zip` and `vwc export --files`).
#[async_trait]
pub trait RecordFileStore: AttachmentStore {
    /// The ids of the vehicle's records that have files: one listing of the vehicle, so an export of
    /// thousands of records lists only those with files.
    async fn records_with_files(
        &self,
        org: &str,
        vehicle: &str,
    ) -> AttachmentResult<std::collections::HashSet<String>>;
    /// An attachment's content, by its id; `None` when it is no longer kept.
    async fn file_content(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<Vec<u8>>>;
}

/// Where attachments are kept. An attachment exists once its record is written, and its record is
/// written only after its content is durable.
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Stores checked content and then its record, durably, before answering.
    async fn put(
        &self,
        key: &EventKey,
        attachment: &Attachment,
        content: axum::body::Bytes,
    ) -> AttachmentResult<()>;
    /// The event's attachments, oldest first.
    async fn list(&self, key: &EventKey) -> AttachmentResult<Vec<Attachment>>;
    async fn get(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<Attachment>>;
    async fn content(&self, key: &EventKey, attachment: &Attachment) -> AttachmentResult<Content>;
    /// A URL to upload `id` to directly; `None` when this store takes uploads only through the API.
    async fn presign_upload(
        &self,
        key: &EventKey,
        id: &str,
        intent: &UploadIntent,
    ) -> AttachmentResult<Option<PresignedUrl>>;
    /// A pre-signed upload's intent and, once uploaded, its size and first [`sniff::SNIFF_BYTES`].
    async fn pending(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<PendingUpload>>;
    /// Moves a checked pending upload in place and writes its record.
    async fn accept_pending(&self, key: &EventKey, attachment: &Attachment)
    -> AttachmentResult<()>;
    /// Deletes a pending upload (refused content) and its intent.
    async fn discard_pending(&self, key: &EventKey, id: &str) -> AttachmentResult<()>;
}

/// A file name fit to show and to send back in `Content-Disposition`: the last path segment, without
/// control characters, quotes or backslashes, nor the invisible characters that change how a name reads
/// (bidirectional overrides — `\u{202e}gpj.exe` shows as `exe.jpg` — and zero-width ones), at most 200
/// characters; `attachment` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let invisible = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c) && !matches!(c, '"' | '\\' | ';'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::clean_file_name;

    #[test]
    fn a_file_name_keeps_its_last_segment_without_what_changes_how_it_reads() {
        for (raw, kept) in [
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\receipt.pdf", "receipt.pdf"),
            ("re\"ce;ipt\u{7}.pdf", "receipt.pdf"),
            ("\u{202e}gpj.exe", "gpj.exe"),
            ("inv\u{200b}oice\u{2066}.pdf\u{feff}", "invoice.pdf"),
            ("reçu d’atelier 🚗.jpg", "reçu d’atelier 🚗.jpg"),
            ("...", "attachment"),
            ("\u{202e}", "attachment"),
        ] {
            assert_eq!(clean_file_name(raw), kept, "{raw:?}");
        }
    }
}
