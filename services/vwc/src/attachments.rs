//! Which attachment store a process uses: files under the data dir (embedded, the default) or an S3
//! bucket with pre-signed URLs (AWS, or moto locally).

use std::path::Path;
use std::sync::Arc;

use vwc_edge::export::{ExportFile, FilesError, RecordFiles};
use vwc_ingestion::attachments::fs::FsAttachmentStore;
#[cfg(feature = "aws")]
use vwc_ingestion::attachments::s3::S3AttachmentStore;
use vwc_ingestion::attachments::{AttachmentStore, EventKey, RecordFileStore};

#[derive(Debug, Clone, Default, PartialEq)]
pub enum AttachmentsChoice {
    /// `<data-dir>/attachments`.
    #[default]
    Files,
    /// An S3 bucket; `endpoint` overrides AWS (moto), with path-style addressing.
    S3 {
        bucket: String,
        endpoint: Option<String>,
    },
}

#[cfg(feature = "aws")]
/// An S3 client for attachments: path-style when pointed at an emulator (moto serves no virtual hosts).
pub async fn s3_client(endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let sdk = vwc_bus::aws::sdk_config(endpoint).await;
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(endpoint.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub async fn open(
    choice: &AttachmentsChoice,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn AttachmentStore>> {
    Ok(open_with_files(choice, data_dir, None).await?.0)
}

/// The longest `zip` export an AWS Lambda answers: its answer is at most 6 MB, and API Gateway carries a
/// binary answer as base64 (4 bytes for every 3), so an archive of 4 MiB is answered whole and a longer one is
/// refused before its first byte (a 409 naming the limit; docs/import.md).
pub const LAMBDA_LARGEST_ARCHIVE: u64 = 4 * 1024 * 1024;

/// The attachment store and the records' files a server puts in a `zip` export, over one client: the data
/// dir's, or the bucket's (read by this server and streamed into the archive); `largest` is the longest
/// archive it can answer, when it has a limit.
pub async fn open_with_files(
    choice: &AttachmentsChoice,
    data_dir: &Path,
    largest: Option<u64>,
) -> anyhow::Result<(Arc<dyn AttachmentStore>, Arc<dyn RecordFiles>)> {
    Ok(match choice {
        AttachmentsChoice::Files => (
            Arc::new(FsAttachmentStore::new(data_dir)),
            Arc::new(StoreFiles {
                largest,
                ..DataDirFiles::new(data_dir)
            }),
        ),
        #[cfg(feature = "aws")]
        AttachmentsChoice::S3 { bucket, endpoint } => {
            let client = s3_client(endpoint.as_deref()).await;
            (
                Arc::new(S3AttachmentStore::new(client.clone(), bucket.clone())),
                Arc::new(StoreFiles {
                    store: S3AttachmentStore::new(client, bucket.clone()),
                    largest,
                }),
            )
        }
        #[cfg(not(feature = "aws"))]
        AttachmentsChoice::S3 { .. } => {
            return Err(crate::built_without_aws("--attachments-bucket (S3)"));
        }
    })
}

/// The files of exported records, from an attachment store: `GET …/export?format=zip` and
/// `vwc export --files`.
pub struct StoreFiles<S> {
    store: S,
    /// The longest archive of them this server answers ([`RecordFiles::largest_archive`]).
    largest: Option<u64>,
}

/// The files of exported records from `<data-dir>/attachments`.
pub type DataDirFiles = StoreFiles<FsAttachmentStore>;

impl DataDirFiles {
    pub fn new(data_dir: &Path) -> DataDirFiles {
        StoreFiles {
            store: FsAttachmentStore::new(data_dir),
            largest: None,
        }
    }
}

fn failed(e: impl std::fmt::Display) -> FilesError {
    FilesError::Failed(e.to_string())
}

#[async_trait::async_trait]
impl<S: RecordFileStore> RecordFiles for StoreFiles<S> {
    fn largest_archive(&self) -> Option<u64> {
        self.largest
    }

    async fn list(
        &self,
        org: &str,
        vehicle: &str,
        events: &[&str],
    ) -> Result<Vec<ExportFile>, FilesError> {
        let with_files = self
            .store
            .records_with_files(org, vehicle)
            .await
            .map_err(failed)?;
        let mut listed = Vec::new();
        for event in events.iter().filter(|e| with_files.contains(**e)) {
            let Some(key) = EventKey::new(org, vehicle, event) else {
                continue;
            };
            let mut used = std::collections::HashSet::new();
            for attachment in self.store.list(&key).await.map_err(failed)? {
                // Stored names are cleaned already (no path, no control characters); never an empty or
                // dot name, and a name two files of the record share gets the attachment's id in front.
                let stored = attachment.file_name.trim_start_matches('.');
                let mut name = if stored.is_empty() {
                    format!("{}.{}", attachment.id, attachment.content_type.extension())
                } else {
                    stored.to_string()
                };
                if !used.insert(name.clone()) {
                    name = format!("{}-{name}", attachment.id);
                    used.insert(name.clone());
                }
                let path = format!("{}/{name}", key.event);
                listed.push(ExportFile {
                    entry: serde_json::json!({
                        "path": path,
                        "eventId": key.event,
                        "attachment": attachment,
                    }),
                    path,
                    event_id: key.event.clone(),
                    attachment_id: attachment.id,
                    size: attachment.size_bytes,
                    uploaded_at: attachment.uploaded_at,
                });
            }
        }
        Ok(listed)
    }

    async fn read(
        &self,
        org: &str,
        vehicle: &str,
        file: &ExportFile,
    ) -> Result<Vec<u8>, FilesError> {
        let key = EventKey::new(org, vehicle, &file.event_id)
            .ok_or_else(|| FilesError::Gone(format!("{} names no record", file.path)))?;
        // The listing read each record: its content is read by the attachment's id alone.
        match self.store.file_content(&key, &file.attachment_id).await {
            Ok(Some(content)) => Ok(content),
            Ok(None) => Err(FilesError::Gone(format!("{} is no longer kept", file.path))),
            Err(e) => Err(failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use vwc_ingestion::attachments::{Attachment, MediaType};

    /// Keeps `content` as the PDF `id` of `key`'s record.
    async fn put_pdf(store: &FsAttachmentStore, key: &EventKey, id: &str, content: Vec<u8>) {
        let attachment = Attachment {
            id: id.into(),
            event_id: key.event.clone(),
            vehicle_id: key.vehicle.clone(),
            file_name: format!("{id}.pdf"),
            content_type: MediaType::Pdf,
            size_bytes: content.len() as u64,
            sha256: None,
            uploaded_at: vwc_clock::now(),
            uploaded_by: "alice".into(),
        };
        store.put(key, &attachment, content.into()).await.unwrap();
    }

    /// A server whose answer has a limit (a Lambda's) refuses a longer archive before its first byte, and
    /// answers one of its limit's length whole.
    #[tokio::test]
    async fn an_archive_longer_than_the_answer_can_be_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsAttachmentStore::new(dir.path());
        let key = EventKey::new("org_a", "veh_1", "evt_1").unwrap();
        put_pdf(&store, &key, "att_1", vec![7u8; 4096]).await;
        let events = [serde_json::json!({"id": "evt_1"})];
        let export = |largest: Option<u64>| {
            let files = Arc::new(StoreFiles {
                largest,
                ..DataDirFiles::new(dir.path())
            });
            let csv = "id\nevt_1\n".to_string();
            vwc_edge::export::zip_export(files, "org_a", "veh_1", &events, csv, vwc_clock::now())
        };
        let length = export(None).await.unwrap().length;
        assert!(length > 4096, "{length}");
        match export(Some(length - 1)).await {
            Err(vwc_edge::export::ZipExportError::OverAnswer { length: l, largest }) => {
                assert_eq!((l, largest), (length, length - 1));
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("an archive over the limit began"),
        }
        let whole = export(Some(length)).await.unwrap();
        let bytes: Vec<u8> = whole
            .bytes
            .map(|chunk| chunk.unwrap().to_vec())
            .concat()
            .await;
        assert_eq!(bytes.len() as u64, length);
        let read = vwc_edge::zip::read(&bytes).unwrap();
        assert_eq!(read[2], ("evt_1/att_1.pdf".to_string(), vec![7u8; 4096]));
    }

    /// A file gone once the archive has begun ends it short of its announced length, with an error — a
    /// client sees a failed download, never a smaller archive that looks whole; the files before it were
    /// sent whole.
    #[tokio::test]
    async fn a_file_gone_after_the_listing_cuts_the_archive_short() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsAttachmentStore::new(dir.path());
        let key = EventKey::new("org_a", "veh_1", "evt_1").unwrap();
        for id in ["att_1", "att_2"] {
            put_pdf(&store, &key, id, format!("%PDF-1.7 {id}").into_bytes()).await;
        }
        let events = [serde_json::json!({"id": "evt_1"})];
        let files = Arc::new(DataDirFiles::new(dir.path()));
        let csv = "id\nevt_1\n".to_string();
        let mut export =
            vwc_edge::export::zip_export(files, "org_a", "veh_1", &events, csv, vwc_clock::now())
                .await
                .unwrap();
        assert_eq!(export.files, 2);
        // The history and the manifest are sent; then the second file goes.
        let mut sent = export.bytes.next().await.unwrap().unwrap().len() as u64;
        let gone = dir.path().join("attachments/org_a/veh_1/evt_1/att_2.bin");
        std::fs::remove_file(gone).unwrap();
        let mut rest = Vec::new();
        while let Some(chunk) = export.bytes.next().await {
            rest.push(chunk);
        }
        // The first file whole, then the error, and nothing after it.
        let (last, whole) = rest.split_last().unwrap();
        assert!(last.is_err(), "{rest:?}");
        let whole: Vec<u8> = (whole.iter())
            .flat_map(|c| c.as_ref().unwrap().to_vec())
            .collect();
        assert!(whole.ends_with(b"%PDF-1.7 att_1"), "{whole:?}");
        sent += whole.len() as u64;
        assert!(sent < export.length, "{sent} of {}", export.length);
    }
}
