//! The e-mail channel's adapter on Amazon SES v2 (AWS mode).

use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::{DEFAULT_FROM, EmailSender, OutgoingEmail};
use crate::outcome::SendResult;

/// Sends through `SendEmail` of SES v2 with simple (subject + text) content.
#[derive(Debug, Clone)]
pub struct SesEmailSender {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesEmailSender {
    /// Sends from [`DEFAULT_FROM`]; see [`SesEmailSender::from_address`].
    pub fn new(client: aws_sdk_sesv2::Client) -> SesEmailSender {
        SesEmailSender {
            client,
            from: DEFAULT_FROM.to_owned(),
        }
    }

    /// A sender on the shared AWS configuration (`vwc_bus::aws::sdk_config`): `endpoint` points it at an
    /// emulator such as moto; `None` means real SES in the environment's region and credentials.
    pub async fn connect(endpoint: Option<&str>) -> SesEmailSender {
        let config = vwc_bus::aws::sdk_config(endpoint).await;
        SesEmailSender::new(aws_sdk_sesv2::Client::new(&config))
    }

    /// Creates the SES identity of the sender's domain. SES (and moto) send only from a verified
    /// identity; against real SES this starts a DNS verification, so it is for emulators and first
    /// set-up, not for every start.
    pub async fn create_sender_identity(&self) -> Result<(), String> {
        let domain = self
            .from
            .rsplit_once('@')
            .map_or(self.from.as_str(), |(_, d)| d);
        self.client
            .create_email_identity()
            .email_identity(domain)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| vwc_telemetry::error_chain(&e))
    }

    /// The sender address (it must be a verified SES identity, or in a verified domain).
    pub fn from_address(mut self, from: impl Into<String>) -> SesEmailSender {
        self.from = from.into();
        self
    }

    pub fn from(&self) -> &str {
        &self.from
    }
}

fn utf8(text: &str) -> Result<Content, String> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| e.to_string())
}

#[async_trait]
impl EmailSender for SesEmailSender {
    async fn send(&self, email: OutgoingEmail<'_>) -> SendResult {
        let content = match (utf8(email.subject), utf8(email.text)) {
            (Ok(subject), Ok(text)) => EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(subject)
                        .body(Body::builder().text(text).build())
                        .build(),
                )
                .build(),
            (Err(e), _) | (_, Err(e)) => {
                return SendResult::Permanent {
                    http_status: None,
                    error: format!("building the e-mail: {e}"),
                };
            }
        };
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(email.to).build())
            .content(content)
            .send()
            .await;
        match sent {
            Ok(_) => SendResult::Delivered { http_status: None },
            Err(e) => classify_ses_error(&e),
        }
    }
}

/// Throttling, pauses, server errors and transport failures are retried; a rejected message, an
/// unverified sender or a bad request are not.
fn classify_ses_error<R>(e: &SdkError<SendEmailError, R>) -> SendResult
where
    R: std::fmt::Debug + 'static,
{
    let describe = |err: &SendEmailError| {
        format!(
            "SES {}: {}",
            err.code().unwrap_or("error"),
            err.message().unwrap_or("no message")
        )
    };
    match e {
        SdkError::ServiceError(ctx) => {
            let err = ctx.err();
            let transient = err.is_too_many_requests_exception()
                || err.is_limit_exceeded_exception()
                || err.is_sending_paused_exception()
                || matches!(
                    err.code(),
                    Some("InternalFailure" | "ServiceUnavailable" | "Throttling")
                );
            if transient {
                SendResult::Retryable {
                    http_status: None,
                    error: describe(err),
                    retry_after: None,
                }
            } else {
                SendResult::Permanent {
                    http_status: None,
                    error: describe(err),
                }
            }
        }
        SdkError::ConstructionFailure(_) => SendResult::Permanent {
            http_status: None,
            error: format!("SES request could not be built: {e}"),
        },
        // Timeouts, connection failures, unreadable responses.
        _ => SendResult::Retryable {
            http_status: None,
            error: format!("SES unreachable: {}", vwc_telemetry::error_chain(e)),
            retry_after: None,
        },
    }
}
