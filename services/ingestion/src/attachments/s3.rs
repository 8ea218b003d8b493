//! AWS mode: attachments in one private S3 bucket. Keys: `attachments/<org>/<vehicle>/<event>/<id>` (the
//! content) and `<id>.json` beside it (the record); a pre-signed upload lands under `pending/…` with its
//! intent, and only the confirm step — which reads the object's size and first bytes — moves it in place.
//! Downloads are short-lived pre-signed GET URLs that name the sniffed type and the file name.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;

use super::{
    Attachment, AttachmentResult, AttachmentStore, AttachmentStoreError, Content, EventKey,
    PendingUpload, PresignedUrl, RecordFileStore, URL_TTL, UploadIntent,
};

pub struct S3AttachmentStore {
    client: Client,
    bucket: String,
    url_ttl: Duration,
}

impl S3AttachmentStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> S3AttachmentStore {
        S3AttachmentStore {
            client,
            bucket: bucket.into(),
            url_ttl: URL_TTL,
        }
    }

    fn content_key(key: &EventKey, id: &str) -> String {
        format!("attachments/{}/{id}", key.path())
    }

    fn record_key(key: &EventKey, id: &str) -> String {
        format!("attachments/{}/{id}.json", key.path())
    }

    fn pending_key(key: &EventKey, id: &str) -> String {
        format!("pending/{}/{id}", key.path())
    }

    fn intent_key(key: &EventKey, id: &str) -> String {
        format!("pending/{}/{id}.json", key.path())
    }

    fn presigning(&self) -> AttachmentResult<PresigningConfig> {
        PresigningConfig::expires_in(self.url_ttl).map_err(s3_error)
    }

    async fn put_json(&self, key: String, value: &impl serde::Serialize) -> AttachmentResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(serde_json::to_vec(value)?))
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    /// The object's bytes (or its first `range`), `None` when there is no such key.
    async fn read(&self, key: String, range: Option<String>) -> AttachmentResult<Option<Vec<u8>>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.body.collect().await.map_err(s3_error)?.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }
}

impl S3AttachmentStore {
    /// The keys of the records (`….json`) under `prefix`, every page of the listing.
    async fn record_keys(&self, prefix: &str) -> AttachmentResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(s3_error)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with(".json"))
                    .map(str::to_string),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(keys),
            }
        }
    }
}

fn s3_error(e: impl std::error::Error) -> AttachmentStoreError {
    // The SDK's Display is terse ("service error"); the chain says what failed.
    AttachmentStoreError::S3(vwc_telemetry::error_chain(&e))
}

fn is_not_found<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
}

fn presigned(request: PresignedRequest, ttl: Duration) -> PresignedUrl {
    PresignedUrl {
        url: request.uri().to_string(),
        method: request.method().to_string(),
        headers: request
            .headers()
            // In a Lambda the SDK adds the invocation's X-Ray trace header to every request, presigned ones
            // too; it is not signed, and the bucket's CORS rules (infra/root/attachments.tf) do not allow
            // it, so a browser sending it as told would be refused at the preflight.
            .filter(|(k, _)| !k.eq_ignore_ascii_case("x-amzn-trace-id"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        // The wall clock, not the service's: the SDK signs the URL at the system time, and S3 enforces the
        // expiry against its own.
        expires_at: vwc_clock::now()
            + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15)),
    }
}

#[async_trait]
impl RecordFileStore for S3AttachmentStore {
    async fn records_with_files(
        &self,
        org: &str,
        vehicle: &str,
    ) -> AttachmentResult<std::collections::HashSet<String>> {
        let mut events = std::collections::HashSet::new();
        if !super::is_plain_id(org) || !super::is_plain_id(vehicle) {
            return Ok(events);
        }
        // `attachments/<org>/<vehicle>/<event>/<id>.json`: a record's file once its record is written.
        let prefix = format!("attachments/{org}/{vehicle}/");
        for key in self.record_keys(&prefix).await? {
            if let Some((event, _)) = key.strip_prefix(&prefix).and_then(|k| k.split_once('/')) {
                events.insert(event.to_string());
            }
        }
        Ok(events)
    }

    async fn file_content(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<Vec<u8>>> {
        if !super::is_plain_id(id) {
            return Ok(None);
        }
        self.read(Self::content_key(key, id), None).await
    }
}

#[async_trait]
impl AttachmentStore for S3AttachmentStore {
    async fn put(
        &self,
        key: &EventKey,
        attachment: &Attachment,
        content: axum::body::Bytes,
    ) -> AttachmentResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::content_key(key, &attachment.id))
            .content_type(attachment.content_type.as_str())
            .body(ByteStream::from(content))
            .send()
            .await
            .map_err(s3_error)?;
        self.put_json(Self::record_key(key, &attachment.id), attachment)
            .await
    }

    async fn list(&self, key: &EventKey) -> AttachmentResult<Vec<Attachment>> {
        let keys = self
            .record_keys(&format!("attachments/{}/", key.path()))
            .await?;
        let mut items = Vec::new();
        for k in keys {
            if let Some(bytes) = self.read(k, None).await? {
                items.push(serde_json::from_slice::<Attachment>(&bytes)?);
            }
        }
        items.sort_by(|a, b| (a.uploaded_at, &a.id).cmp(&(b.uploaded_at, &b.id)));
        Ok(items)
    }

    async fn get(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<Attachment>> {
        if !super::is_plain_id(id) {
            return Ok(None);
        }
        match self.read(Self::record_key(key, id), None).await? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    async fn content(&self, key: &EventKey, attachment: &Attachment) -> AttachmentResult<Content> {
        let disposition =
            vwc_http::content_disposition(vwc_http::Disposition::Attachment, &attachment.file_name);
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::content_key(key, &attachment.id))
            .response_content_type(attachment.content_type.as_str())
            .response_content_disposition(disposition)
            .presigned(self.presigning()?)
            .await
            .map_err(s3_error)?;
        Ok(Content::Redirect(presigned(request, self.url_ttl)))
    }

    async fn presign_upload(
        &self,
        key: &EventKey,
        id: &str,
        intent: &UploadIntent,
    ) -> AttachmentResult<Option<PresignedUrl>> {
        self.put_json(Self::intent_key(key, id), intent).await?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::pending_key(key, id))
            .presigned(self.presigning()?)
            .await
            .map_err(s3_error)?;
        Ok(Some(presigned(request, self.url_ttl)))
    }

    async fn pending(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<PendingUpload>> {
        if !super::is_plain_id(id) {
            return Ok(None);
        }
        let Some(intent) = self.read(Self::intent_key(key, id), None).await? else {
            return Ok(None);
        };
        let intent: UploadIntent = serde_json::from_slice(&intent)?;
        let head = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(Self::pending_key(key, id))
            .send()
            .await
        {
            Ok(h) => h,
            Err(e) if is_not_found(&e) => {
                return Ok(Some(PendingUpload {
                    intent,
                    uploaded: None,
                }));
            }
            Err(e) => return Err(s3_error(e)),
        };
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        let first = if size == 0 {
            Vec::new()
        } else {
            let range = format!("bytes=0-{}", super::sniff::SNIFF_BYTES - 1);
            self.read(Self::pending_key(key, id), Some(range))
                .await?
                .unwrap_or_default()
        };
        Ok(Some(PendingUpload {
            intent,
            uploaded: Some((size, first)),
        }))
    }

    async fn accept_pending(
        &self,
        key: &EventKey,
        attachment: &Attachment,
    ) -> AttachmentResult<()> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!(
                "{}/{}",
                self.bucket,
                Self::pending_key(key, &attachment.id)
            ))
            .key(Self::content_key(key, &attachment.id))
            .content_type(attachment.content_type.as_str())
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
            .await
            .map_err(s3_error)?;
        self.put_json(Self::record_key(key, &attachment.id), attachment)
            .await?;
        self.discard_pending(key, &attachment.id).await
    }

    async fn discard_pending(&self, key: &EventKey, id: &str) -> AttachmentResult<()> {
        for k in [Self::pending_key(key, id), Self::intent_key(key, id)] {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(k)
                .send()
                .await
                .map_err(s3_error)?;
        }
        Ok(())
    }
}
