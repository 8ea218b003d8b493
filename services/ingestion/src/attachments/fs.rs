//! Embedded mode: attachments as files under `<data-dir>/attachments/<org>/<vehicle>/<event>/`, the
//! content `<id>.bin` and the record `<id>.json`. Each file is written to a temporary name, synced and
//! renamed, then the directory is synced: an acknowledged upload survives a crash.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{
    Attachment, AttachmentResult, AttachmentStore, Content, EventKey, PendingUpload, PresignedUrl,
    RecordFileStore, UploadIntent,
};

pub struct FsAttachmentStore {
    root: PathBuf,
}

impl FsAttachmentStore {
    /// Attachments under `data_dir/attachments` (created on first use, mode 0700).
    pub fn new(data_dir: &Path) -> FsAttachmentStore {
        FsAttachmentStore {
            root: data_dir.join("attachments"),
        }
    }

    /// The ids of a vehicle's events that have a directory of files (one read of the vehicle's directory,
    /// so an export of thousands of records lists only those with files).
    pub async fn events_with_files(
        &self,
        org: &str,
        vehicle: &str,
    ) -> std::io::Result<std::collections::HashSet<String>> {
        if !super::is_plain_id(org) || !super::is_plain_id(vehicle) {
            return Ok(Default::default());
        }
        let dir = self.root.join(org).join(vehicle);
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
                Err(e) => return Err(e),
            };
            let mut out = std::collections::HashSet::new();
            for entry in entries {
                if let Ok(name) = entry?.file_name().into_string() {
                    out.insert(name);
                }
            }
            Ok(out)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The content of the event's attachment `id`, known to be listed (an export reads what it listed
    /// without reading each record again).
    pub async fn content_of(&self, key: &EventKey, id: &str) -> std::io::Result<Vec<u8>> {
        if !super::is_plain_id(id) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{id:?} is not an attachment id"),
            ));
        }
        tokio::fs::read(self.dir(key).join(format!("{id}.bin"))).await
    }

    fn dir(&self, key: &EventKey) -> PathBuf {
        self.root.join(&key.org).join(&key.vehicle).join(&key.event)
    }
}

fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `bytes` to `dir/name` durably: temporary file, fsync, rename, fsync of the directory.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[async_trait]
impl RecordFileStore for FsAttachmentStore {
    async fn records_with_files(
        &self,
        org: &str,
        vehicle: &str,
    ) -> AttachmentResult<std::collections::HashSet<String>> {
        Ok(self.events_with_files(org, vehicle).await?)
    }

    async fn file_content(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<Vec<u8>>> {
        match self.content_of(key, id).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl AttachmentStore for FsAttachmentStore {
    async fn put(
        &self,
        key: &EventKey,
        attachment: &Attachment,
        content: axum::body::Bytes,
    ) -> AttachmentResult<()> {
        let dir = self.dir(key);
        let record = serde_json::to_vec_pretty(attachment)?;
        let id = attachment.id.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            create_dirs(&dir)?;
            // The content first: a record never points at content that is not there.
            write_durably(&dir, &format!("{id}.bin"), &content)?;
            write_durably(&dir, &format!("{id}.json"), &record)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(())
    }

    async fn list(&self, key: &EventKey) -> AttachmentResult<Vec<Attachment>> {
        let dir = self.dir(key);
        let records = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Vec<u8>>> {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut out = Vec::new();
            for entry in entries {
                let path = entry?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with("att_") && name.ends_with(".json") {
                    out.push(std::fs::read(&path)?);
                }
            }
            Ok(out)
        })
        .await
        .map_err(std::io::Error::other)??;
        let mut items = records
            .iter()
            .map(|r| serde_json::from_slice::<Attachment>(r))
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by(|a, b| (a.uploaded_at, &a.id).cmp(&(b.uploaded_at, &b.id)));
        Ok(items)
    }

    async fn get(&self, key: &EventKey, id: &str) -> AttachmentResult<Option<Attachment>> {
        if !super::is_plain_id(id) {
            return Ok(None);
        }
        match tokio::fs::read(self.dir(key).join(format!("{id}.json"))).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn content(&self, key: &EventKey, attachment: &Attachment) -> AttachmentResult<Content> {
        Ok(Content::Bytes(self.content_of(key, &attachment.id).await?))
    }

    async fn presign_upload(
        &self,
        _key: &EventKey,
        _id: &str,
        _intent: &UploadIntent,
    ) -> AttachmentResult<Option<PresignedUrl>> {
        Ok(None)
    }

    async fn pending(&self, _key: &EventKey, _id: &str) -> AttachmentResult<Option<PendingUpload>> {
        Ok(None)
    }

    async fn accept_pending(
        &self,
        _key: &EventKey,
        _attachment: &Attachment,
    ) -> AttachmentResult<()> {
        Ok(())
    }

    async fn discard_pending(&self, _key: &EventKey, _id: &str) -> AttachmentResult<()> {
        Ok(())
    }
}
