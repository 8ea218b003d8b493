//! Which attachment store a process uses: files under the data dir (embedded, the default) or an S3
//! bucket with pre-signed URLs (AWS, or moto locally).

use std::path::Path;
use std::sync::Arc;

use vwc_ingestion::attachments::AttachmentStore;
use vwc_ingestion::attachments::fs::FsAttachmentStore;
#[cfg(feature = "aws")]
use vwc_ingestion::attachments::s3::S3AttachmentStore;

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
    Ok(match choice {
        AttachmentsChoice::Files => Arc::new(FsAttachmentStore::new(data_dir)),
        #[cfg(feature = "aws")]
        AttachmentsChoice::S3 { bucket, endpoint } => Arc::new(S3AttachmentStore::new(
            s3_client(endpoint.as_deref()).await,
            bucket.clone(),
        )),
        #[cfg(not(feature = "aws"))]
        AttachmentsChoice::S3 { .. } => {
            return Err(crate::built_without_aws("--attachments-bucket (S3)"));
        }
    })
}
