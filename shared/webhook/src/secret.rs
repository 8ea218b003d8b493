//! The shared secret of a webhook integration: `whsec_` followed by standard base64 of the key bytes.
//! It only ever leaves this type through `expose`, so logs and `Debug` output never carry it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;

const PREFIX: &str = "whsec_";
/// Shortest key accepted from outside (Standard Webhooks asks for 24 to 64 bytes).
const MIN_KEY_BYTES: usize = 24;
/// Length of the keys this crate generates.
const GENERATED_KEY_BYTES: usize = 32;

/// A webhook signing secret in the `whsec_<base64>` format.
#[derive(Clone)]
pub struct WebhookSecret {
    encoded: String,
    key: Vec<u8>,
}

/// Why a string is not a usable webhook secret. The offending value is never included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("webhook secret must start with `whsec_`")]
    MissingPrefix,
    #[error("webhook secret is not valid standard base64 after `whsec_`")]
    NotBase64,
    #[error("webhook secret key is {actual} bytes; at least {MIN_KEY_BYTES} are required")]
    TooShort { actual: usize },
}

impl WebhookSecret {
    /// A fresh secret of 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let encoded = format!("{PREFIX}{}", STANDARD.encode(&key));
        Self { encoded, key }
    }

    /// Accepts `whsec_` followed by standard (padded) base64 of at least 24 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let b64 = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD.decode(b64).map_err(|_| SecretError::NotBase64)?;
        if key.len() < MIN_KEY_BYTES {
            return Err(SecretError::TooShort { actual: key.len() });
        }
        Ok(Self {
            encoded: text.to_owned(),
            key,
        })
    }

    /// The full `whsec_…` string, for showing once to its owner or storing it.
    pub fn expose(&self) -> &str {
        &self.encoded
    }

    /// The decoded key bytes the HMAC is keyed with.
    pub(crate) fn key_bytes(&self) -> &[u8] {
        &self.key
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_has_prefix_and_parses_back_to_the_same_key() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        let parsed = WebhookSecret::parse(secret.expose()).expect("generated secret parses");
        assert_eq!(parsed.key_bytes(), secret.key_bytes());
        assert_eq!(parsed.key_bytes().len(), GENERATED_KEY_BYTES);
    }

    #[test]
    fn two_generated_secrets_differ() {
        assert_ne!(
            WebhookSecret::generate().expose(),
            WebhookSecret::generate().expose()
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = WebhookSecret::generate();
        let shown = format!("{secret:?} {:?}", vec![secret.clone()]);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
        assert!(!shown.contains(&secret.expose()["whsec_".len()..]));
    }

    #[test]
    fn secret_without_prefix_is_refused() {
        let b64 = STANDARD.encode([7u8; 32]);
        assert_eq!(
            WebhookSecret::parse(&b64).unwrap_err(),
            SecretError::MissingPrefix
        );
    }

    #[test]
    fn secret_with_invalid_base64_is_refused() {
        assert_eq!(
            WebhookSecret::parse("whsec_not*base64!").unwrap_err(),
            SecretError::NotBase64
        );
    }

    #[test]
    fn secret_shorter_than_24_bytes_is_refused() {
        let short = format!("whsec_{}", STANDARD.encode([1u8; 23]));
        assert_eq!(
            WebhookSecret::parse(&short).unwrap_err(),
            SecretError::TooShort { actual: 23 }
        );
        let exact = format!("whsec_{}", STANDARD.encode([1u8; 24]));
        assert!(WebhookSecret::parse(&exact).is_ok());
    }

    #[test]
    fn error_messages_do_not_echo_the_input() {
        let err = WebhookSecret::parse("whsec_c2VjcmV0").unwrap_err();
        assert!(!err.to_string().contains("c2VjcmV0"));
    }
}
