//! AWS mode: tokens signed by an external issuer and verified against its JWKS, RS256 or ES256 only.
//! Keys are cached for 10 minutes; a token naming an unknown `kid` triggers at most one refetch per 30 s.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::claims::{self, Claims};
use crate::{AuthError, Caller, TokenVerifier};

/// How long a fetched key set is trusted before it is fetched again.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(600);
/// Least time between two fetches caused by unknown `kid`s (or failed refreshes).
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// While no key set has ever loaded, retries come this often (at most), so a cold start rides out a blip.
const EMPTY_RETRY_INTERVAL: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 256 * 1024;

pub struct JwksVerifier {
    source: Source,
    issuer: String,
    audience: String,
    cache_ttl: Duration,
    refetch_interval: Duration,
    // Held across a fetch on purpose: concurrent requests wait for one fetch instead of each starting one.
    state: tokio::sync::Mutex<KeyState>,
}

enum Source {
    Url {
        client: reqwest::Client,
        url: String,
    },
    File(PathBuf),
    Fixed,
}

#[derive(Default)]
struct KeyState {
    keys: Vec<Arc<VerificationKey>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

struct VerificationKey {
    kid: Option<String>,
    family: KeyFamily,
    /// The JWK's own `alg`, when it names one; it must then equal the token header's.
    declared_alg: Option<String>,
    key: DecodingKey,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyFamily {
    Rsa,
    EcP256,
}

impl KeyFamily {
    fn for_algorithm(alg: Algorithm) -> Option<KeyFamily> {
        match alg {
            Algorithm::RS256 => Some(KeyFamily::Rsa),
            Algorithm::ES256 => Some(KeyFamily::EcP256),
            _ => None,
        }
    }

    fn algorithm_name(self) -> &'static str {
        match self {
            KeyFamily::Rsa => "RS256",
            KeyFamily::EcP256 => "ES256",
        }
    }
}

impl JwksVerifier {
    /// Keys come from `url` (fetched on first use, then cached). Tokens must carry `iss == issuer` and
    /// `aud == audience`.
    pub fn from_url(
        url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<JwksVerifier, AuthError> {
        let url = url.into();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(AuthError::KeysUnavailable(format!(
                "JWKS URL {url:?} is not http(s)"
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|err| AuthError::KeysUnavailable(format!("HTTP client: {err}")))?;
        Ok(JwksVerifier::new(
            Source::Url { client, url },
            issuer.into(),
            audience.into(),
            KeyState::default(),
        ))
    }

    /// Keys come from a JWKS file, read now (so a bad file fails at start-up) and re-read like a URL.
    pub fn from_file(
        path: impl Into<PathBuf>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<JwksVerifier, AuthError> {
        let path = path.into();
        let json = std::fs::read_to_string(&path).map_err(|err| {
            AuthError::KeysUnavailable(format!("reading {}: {err}", path.display()))
        })?;
        let keys = parse_jwks(&json).map_err(AuthError::KeysUnavailable)?;
        Ok(JwksVerifier::new(
            Source::File(path),
            issuer.into(),
            audience.into(),
            KeyState::loaded(keys, Instant::now()),
        ))
    }

    /// A fixed key set given as a JWKS document.
    pub fn from_jwks_json(
        json: &str,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<JwksVerifier, AuthError> {
        let keys = parse_jwks(json).map_err(AuthError::KeysUnavailable)?;
        Ok(JwksVerifier::new(
            Source::Fixed,
            issuer.into(),
            audience.into(),
            KeyState::loaded(keys, Instant::now()),
        ))
    }

    /// Replaces [`DEFAULT_CACHE_TTL`].
    pub fn with_cache_ttl(mut self, ttl: Duration) -> JwksVerifier {
        self.cache_ttl = ttl;
        self
    }

    /// Replaces [`DEFAULT_REFETCH_INTERVAL`].
    pub fn with_refetch_interval(mut self, interval: Duration) -> JwksVerifier {
        self.refetch_interval = interval;
        self
    }

    /// Fetches the key set now (e.g. at start-up or from a readiness check); returns how many keys it holds.
    pub async fn refresh(&self) -> Result<usize, AuthError> {
        let mut state = self.state.lock().await;
        self.reload(&mut state, Instant::now()).await?;
        Ok(state.keys.len())
    }

    fn new(source: Source, issuer: String, audience: String, state: KeyState) -> JwksVerifier {
        JwksVerifier {
            source,
            issuer,
            audience,
            cache_ttl: DEFAULT_CACHE_TTL,
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
            state: tokio::sync::Mutex::new(state),
        }
    }

    /// [`TokenVerifier::verify`] with the cache clock at `now`, so tests can move it forward.
    pub(crate) async fn verify_at(&self, token: &str, now: Instant) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(claims::invalid)?;
        let family = KeyFamily::for_algorithm(header.alg).ok_or_else(|| {
            AuthError::Invalid(format!("algorithm {:?} is not accepted", header.alg))
        })?;
        let key = self.select_key(header.kid.as_deref(), now).await?;
        if key.family != family {
            return Err(AuthError::Invalid(format!(
                "key {:?} is not a {} key",
                key.kid,
                family.algorithm_name()
            )));
        }
        if let Some(declared) = &key.declared_alg
            && declared != family.algorithm_name()
        {
            return Err(AuthError::Invalid(format!(
                "key {:?} is for {declared}, token says {}",
                key.kid,
                family.algorithm_name()
            )));
        }
        let validation = claims::validation(header.alg, &self.issuer, &self.audience);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(claims::invalid)?;
        claims::into_caller(data.claims, &self.issuer, &self.audience)
    }

    async fn select_key(
        &self,
        kid: Option<&str>,
        now: Instant,
    ) -> Result<Arc<VerificationKey>, AuthError> {
        let mut state = self.state.lock().await;
        let reloadable = !matches!(self.source, Source::Fixed);
        let retry_interval = if state.keys.is_empty() {
            self.refetch_interval.min(EMPTY_RETRY_INTERVAL)
        } else {
            self.refetch_interval
        };
        if reloadable
            && state.is_stale(now, self.cache_ttl)
            && state.may_attempt(now, retry_interval)
            && let Err(err) = self.reload(&mut state, now).await
        {
            if state.keys.is_empty() {
                return Err(err);
            }
            tracing::warn!(error = %err, "JWKS refresh failed; keeping the cached keys");
        }
        if state.keys.is_empty() {
            return Err(AuthError::KeysUnavailable("no JWKS has loaded yet".into()));
        }
        let Some(kid) = kid else {
            return match state.keys.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(AuthError::Invalid(
                    "token has no kid and the JWKS holds several keys".into(),
                )),
            };
        };
        if let Some(key) = state.find(kid) {
            return Ok(key);
        }
        if reloadable && state.may_attempt(now, self.refetch_interval) {
            match self.reload(&mut state, now).await {
                Ok(()) => {
                    if let Some(key) = state.find(kid) {
                        return Ok(key);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "JWKS refetch for an unknown kid failed"),
            }
        }
        Err(AuthError::Invalid(format!("no key with kid {kid:?}")))
    }

    async fn reload(&self, state: &mut KeyState, now: Instant) -> Result<(), AuthError> {
        let json = match &self.source {
            Source::Fixed => return Ok(()),
            Source::Url { client, url } => {
                state.attempted_at = Some(now);
                fetch(client, url).await?
            }
            Source::File(path) => {
                state.attempted_at = Some(now);
                tokio::fs::read_to_string(path).await.map_err(|err| {
                    AuthError::KeysUnavailable(format!("reading {}: {err}", path.display()))
                })?
            }
        };
        state.keys = parse_jwks(&json).map_err(AuthError::KeysUnavailable)?;
        state.fetched_at = Some(now);
        Ok(())
    }
}

impl KeyState {
    fn loaded(keys: Vec<Arc<VerificationKey>>, now: Instant) -> KeyState {
        KeyState {
            keys,
            fetched_at: Some(now),
            attempted_at: Some(now),
        }
    }

    fn is_stale(&self, now: Instant, ttl: Duration) -> bool {
        self.fetched_at
            .is_none_or(|at| now.saturating_duration_since(at) >= ttl)
    }

    fn may_attempt(&self, now: Instant, interval: Duration) -> bool {
        self.attempted_at
            .is_none_or(|at| now.saturating_duration_since(at) >= interval)
    }

    fn find(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.keys
            .iter()
            .find(|key| key.kid.as_deref() == Some(kid))
            .cloned()
    }
}

impl fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url { url, .. } => url.clone(),
            Source::File(path) => path.display().to_string(),
            Source::Fixed => "inline".to_owned(),
        };
        f.debug_struct("JwksVerifier")
            .field("source", &source)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        self.verify_at(token, Instant::now()).await
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, AuthError> {
    let unavailable = |err: reqwest::Error| AuthError::KeysUnavailable(format!("GET {url}: {err}"));
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(unavailable)?
        .error_for_status()
        .map_err(unavailable)?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            return Err(AuthError::KeysUnavailable(format!(
                "GET {url}: JWKS larger than {MAX_JWKS_BYTES} bytes"
            )));
        }
    }
    String::from_utf8(body)
        .map_err(|_| AuthError::KeysUnavailable(format!("GET {url}: JWKS is not UTF-8")))
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The RSA and P-256 signature keys of a JWKS. Other keys (`oct`, `OKP`, other curves, `use: enc`) are
/// skipped, so a symmetric key published by mistake can never verify anything.
fn parse_jwks(json: &str) -> Result<Vec<Arc<VerificationKey>>, String> {
    let document: JwksDocument =
        serde_json::from_str(json).map_err(|err| format!("not a JWKS document: {err}"))?;
    let mut keys = Vec::new();
    for value in document.keys {
        match parse_key(value) {
            Ok(Some(key)) => keys.push(Arc::new(key)),
            Ok(None) => {}
            Err(reason) => tracing::warn!(%reason, "skipping an unusable JWK"),
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no RSA or P-256 signature key".into());
    }
    Ok(keys)
}

fn parse_key(value: serde_json::Value) -> Result<Option<VerificationKey>, String> {
    let raw: RawJwk = serde_json::from_value(value).map_err(|err| err.to_string())?;
    if raw
        .key_use
        .as_deref()
        .is_some_and(|key_use| key_use != "sig")
    {
        return Ok(None);
    }
    let (family, key) = match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("RSA", _) => {
            let (Some(n), Some(e)) = (&raw.n, &raw.e) else {
                return Err(format!("RSA key {:?} lacks n or e", raw.kid));
            };
            let key = DecodingKey::from_rsa_components(n, e).map_err(|err| err.to_string())?;
            (KeyFamily::Rsa, key)
        }
        ("EC", Some("P-256")) => {
            let (Some(x), Some(y)) = (&raw.x, &raw.y) else {
                return Err(format!("EC key {:?} lacks x or y", raw.kid));
            };
            for coordinate in [x, y] {
                let bytes = URL_SAFE_NO_PAD
                    .decode(coordinate)
                    .map_err(|err| format!("EC key {:?}: {err}", raw.kid))?;
                if bytes.len() != 32 {
                    return Err(format!("EC key {:?}: coordinate is not 32 bytes", raw.kid));
                }
            }
            let key = DecodingKey::from_ec_components(x, y).map_err(|err| err.to_string())?;
            (KeyFamily::EcP256, key)
        }
        _ => return Ok(None),
    };
    Ok(Some(VerificationKey {
        kid: raw.kid,
        family,
        declared_alg: raw.alg,
        key,
    }))
}

#[cfg(test)]
mod tests;
