//! Signing and verifying `webhook-signature` headers: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//! several space-separated while a secret is being rotated, with a ±5 minute timestamp tolerance.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::WebhookSecret;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far `webhook-timestamp` may be from the receiver's clock, either way.
pub const TOLERANCE_SECS: u64 = 300;

const SIGNATURE_VERSION: &str = "v1";
const MAC_LEN: usize = 32;

/// The three Standard Webhooks headers as received; `None` (or empty) when a header is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a webhook failed verification. Meant for logs: callers answer 401 for every variant and
/// must not tell the sender which one it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing or empty `{0}` header")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not an integer number of seconds")]
    BadTimestamp,
    #[error("webhook timestamp is {age_secs} s in the past (tolerance {TOLERANCE_SECS} s)")]
    Stale { age_secs: u64 },
    #[error("webhook timestamp is {ahead_secs} s in the future (tolerance {TOLERANCE_SECS} s)")]
    Future { ahead_secs: u64 },
    #[error("no `v1` signature matches any current secret")]
    NoValidSignature,
}

/// The `webhook-signature` value for one message: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mac = mac(secret, msg_id, &timestamp_secs.to_string(), body);
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(mac))
}

/// Checks a received webhook against every currently valid secret (more than one during rotation).
pub fn verify(
    secrets: &[&WebhookSecret],
    headers: WebhookHeaders<'_>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let id = required(headers.id, HEADER_ID)?;
    let timestamp = required(headers.timestamp, HEADER_TIMESTAMP)?;
    let signature = required(headers.signature, HEADER_SIGNATURE)?;

    let sent_at = parse_timestamp(timestamp)?;
    let skew = now_secs.abs_diff(sent_at);
    if skew > TOLERANCE_SECS {
        return Err(if sent_at < now_secs {
            VerifyError::Stale { age_secs: skew }
        } else {
            VerifyError::Future { ahead_secs: skew }
        });
    }

    // The sender signed the header text as sent, so sign that, not a re-formatted number.
    let expected: Vec<[u8; MAC_LEN]> = secrets
        .iter()
        .map(|secret| mac(secret, id, timestamp, body))
        .collect();

    let candidates = signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        // Length first: a truncated signature must fail before (and not inside) the comparison.
        .filter(|received| received.len() == MAC_LEN);

    for received in candidates {
        if expected
            .iter()
            .any(|mac| bool::from(mac.as_slice().ct_eq(received.as_slice())))
        {
            return Ok(());
        }
    }
    Err(VerifyError::NoValidSignature)
}

fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, VerifyError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(VerifyError::MissingHeader(name)),
    }
}

/// Unix seconds as plain ASCII digits: no sign, no spaces, no fraction.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse().map_err(|_| VerifyError::BadTimestamp)
}

fn mac(secret: &WebhookSecret, msg_id: &str, timestamp: &str, body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.key_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}
