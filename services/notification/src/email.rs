//! The e-mail channel: a port, and its adapter on Amazon SES v2.

use async_trait::async_trait;

use crate::outcome::SendResult;

#[cfg(feature = "aws")]
mod ses;
#[cfg(feature = "aws")]
pub use ses::SesEmailSender;

/// The sender address used unless configured otherwise.
pub const DEFAULT_FROM: &str = "reminders@vwc.example";
/// Environment variable the composition root may read for the sender address.
pub const FROM_ENV: &str = "VWC_EMAIL_FROM";

/// One plain-text e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
}

#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send(&self, email: OutgoingEmail<'_>) -> SendResult;
}
