//! Sends one outbound webhook, signed the Standard Webhooks way, to an address checked against SSRF
//! right before the request, and to no other: the HTTP client resolves every name to exactly the
//! addresses that passed the check, follows no redirect and uses no proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use vwc_webhook::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookSecret, sign};

use crate::outcome::{SendResult, classify_status};
use crate::retry::parse_retry_after;
use crate::ssrf::{self, Allowlist, SsrfError};

/// How long one attempt may take, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT_VALUE: &str = concat!("vwc-notification/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone)]
pub struct WebhookSender {
    allow: Allowlist,
    timeout: Duration,
}

/// One signed request, as sent.
#[derive(Debug, Clone)]
pub struct SignedWebhook<'a> {
    pub url: &'a str,
    /// `webhook-id`: the delivery id, the same on every retry.
    pub id: &'a str,
    pub body: &'a [u8],
    pub secret: &'a WebhookSecret,
}

impl WebhookSender {
    pub fn new(allow: Allowlist) -> WebhookSender {
        WebhookSender {
            allow,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn timeout(mut self, timeout: Duration) -> WebhookSender {
        self.timeout = timeout;
        self
    }

    pub async fn send(&self, hook: SignedWebhook<'_>, now: DateTime<Utc>) -> SendResult {
        let addrs = match ssrf::resolve_and_check(hook.url, &self.allow).await {
            Ok(addrs) => addrs,
            // DNS may answer next time; a refused address or URL will not change by waiting.
            Err(e @ (SsrfError::Resolve { .. } | SsrfError::NoAddresses { .. })) => {
                return SendResult::Retryable {
                    http_status: None,
                    error: e.to_string(),
                    retry_after: None,
                };
            }
            Err(e) => {
                return SendResult::Permanent {
                    http_status: None,
                    error: format!("the webhook URL is not allowed: {e}"),
                };
            }
        };
        let client = match self.client(addrs) {
            Ok(client) => client,
            Err(e) => {
                return SendResult::Retryable {
                    http_status: None,
                    error: format!(
                        "building the HTTP client: {}",
                        vwc_telemetry::error_chain(&e)
                    ),
                    retry_after: None,
                };
            }
        };
        let timestamp = now.timestamp();
        let signature = sign(hook.secret, hook.id, timestamp, hook.body);
        let response = client
            .post(hook.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(HEADER_ID, hook.id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(hook.body.to_vec())
            .send()
            .await;
        match response {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now));
                classify_status(response.status().as_u16(), retry_after)
            }
            Err(e) => SendResult::Retryable {
                http_status: None,
                error: if e.is_timeout() {
                    format!("no answer within {} ms", self.timeout.as_millis())
                } else {
                    vwc_telemetry::error_chain(&e)
                },
                retry_after: None,
            },
        }
    }

    fn client(&self, addrs: Vec<SocketAddr>) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(PinnedResolver(addrs)))
            .build()
    }
}

/// Answers every lookup with the addresses already checked, so a second DNS answer (rebinding), or a host
/// name the HTTP client spells differently from the check, can never lead elsewhere.
struct PinnedResolver(Vec<SocketAddr>);

impl Resolve for PinnedResolver {
    fn resolve(&self, _name: Name) -> Resolving {
        let addrs = self.0.clone();
        Box::pin(async move { Ok(Box::new(addrs.into_iter()) as Addrs) })
    }
}
