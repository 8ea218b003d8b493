//! AWS mode: tokens signed by an external issuer and verified against its JWKS, RS256 or ES256 only.
//! Keys are cached for 10 minutes; a token naming an unknown `kid` triggers at most one refetch per 30 s.
//! A fetch never holds the key cache: one request fetches (single flight) while the others go on with the
//! keys they have, and only requests that have no usable key wait for it. The URL must be `https`, except
//! on a loopback host.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::claims::{self, Claims};
use crate::{AuthError, Caller, TokenVerifier};

/// How long a fetched key set is trusted before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(600);
/// Least time between two fetches caused by unknown `kid`s (or failed refreshes).
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// While no key set has ever loaded, retries come this often (at most), so a cold start rides out a blip.
const EMPTY_RETRY_INTERVAL: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 256 * 1024;

pub struct JwksVerifier {
    source: Source,
    issuer: String,
    audience: String,
    /// The cached keys; held only for a moment, never across a fetch.
    state: std::sync::RwLock<KeyState>,
    /// Held by the one request fetching; requests that need the new keys wait on it instead of fetching too.
    in_flight: tokio::sync::Mutex<()>,
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

/// Where a verifier's keys come from.
#[derive(Debug, Clone, Copy)]
pub enum JwksKeys<'a> {
    /// A JWKS URL, fetched on first use, then cached (https only, but for a loopback host).
    Url(&'a str),
    /// A JWKS file, read now (so a bad file fails at start-up) and re-read like a URL.
    File(&'a Path),
    /// A fixed key set given as a JWKS document.
    Json(&'a str),
}

impl JwksVerifier {
    /// A verifier of tokens signed with `keys` that carry `iss == issuer` and `aud == audience`.
    pub fn new(
        keys: JwksKeys<'_>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<JwksVerifier, AuthError> {
        let loaded = |json: &str| {
            let keys = parse_jwks(json).map_err(AuthError::KeysUnavailable)?;
            Ok::<_, AuthError>(KeyState::loaded(keys, Instant::now()))
        };
        let (source, state) = match keys {
            JwksKeys::Url(url) => {
                let loopback = check_jwks_url(url)?;
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    // No redirect may take the fetch off https.
                    .https_only(!loopback)
                    .build()
                    .map_err(|err| AuthError::KeysUnavailable(format!("HTTP client: {err}")))?;
                let url = url.to_string();
                (Source::Url { client, url }, KeyState::default())
            }
            JwksKeys::File(path) => {
                let json = std::fs::read_to_string(path).map_err(|err| unreadable(path, err))?;
                (Source::File(path.to_path_buf()), loaded(&json)?)
            }
            JwksKeys::Json(json) => (Source::Fixed, loaded(json)?),
        };
        Ok(JwksVerifier {
            source,
            issuer: issuer.into(),
            audience: audience.into(),
            state: std::sync::RwLock::new(state),
            in_flight: tokio::sync::Mutex::new(()),
        })
    }

    /// Fetches the key set now (e.g. at start-up or from a readiness check); returns how many keys it holds.
    pub async fn refresh(&self) -> Result<usize, AuthError> {
        let _flight = self.in_flight.lock().await;
        self.reload(Instant::now()).await?;
        Ok(self.read_state().keys.len())
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, KeyState> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let reloadable = !matches!(self.source, Source::Fixed);
        if reloadable {
            self.refresh_if_stale(now).await?;
        }
        match self.lookup(kid) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Refused(err) => return Err(err),
            Lookup::UnknownKid => {}
        }
        let kid = kid.unwrap_or_default();
        if reloadable {
            // The issuer may have rotated: wait for a fetch already in flight, or make one (at most one per
            // refetch interval), then look again.
            let _flight = self.in_flight.lock().await;
            if let Lookup::Found(key) = self.lookup(Some(kid)) {
                return Ok(key);
            }
            if self.read_state().may_attempt(now, REFETCH_INTERVAL) {
                match self.reload(now).await {
                    Ok(()) => {
                        if let Lookup::Found(key) = self.lookup(Some(kid)) {
                            return Ok(key);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "JWKS refetch for an unknown kid failed")
                    }
                }
            }
        }
        Err(AuthError::Invalid(format!("no key with kid {kid:?}")))
    }

    /// Refreshes keys past their TTL. With keys in hand, only the request that gets the flight fetches
    /// (the others use the cached keys meanwhile); without any, every request waits for that one fetch.
    async fn refresh_if_stale(&self, now: Instant) -> Result<(), AuthError> {
        let due = |state: &KeyState| {
            let retry_interval = if state.keys.is_empty() {
                REFETCH_INTERVAL.min(EMPTY_RETRY_INTERVAL)
            } else {
                REFETCH_INTERVAL
            };
            state.is_stale(now, CACHE_TTL) && state.may_attempt(now, retry_interval)
        };
        let (needed, empty) = {
            let state = self.read_state();
            (due(&state), state.keys.is_empty())
        };
        if !needed {
            return Ok(());
        }
        let _flight = if empty {
            self.in_flight.lock().await
        } else {
            match self.in_flight.try_lock() {
                Ok(flight) => flight,
                Err(_) => return Ok(()),
            }
        };
        // Another request may have fetched while this one waited.
        if !due(&self.read_state()) {
            return Ok(());
        }
        if let Err(err) = self.reload(now).await {
            if self.read_state().keys.is_empty() {
                return Err(err);
            }
            tracing::warn!(error = %err, "JWKS refresh failed; keeping the cached keys");
        }
        Ok(())
    }

    fn lookup(&self, kid: Option<&str>) -> Lookup {
        let state = self.read_state();
        if state.keys.is_empty() {
            return Lookup::Refused(AuthError::KeysUnavailable("no JWKS has loaded yet".into()));
        }
        let Some(kid) = kid else {
            return match state.keys.as_slice() {
                [only] => Lookup::Found(only.clone()),
                _ => Lookup::Refused(AuthError::Invalid(
                    "token has no kid and the JWKS holds several keys".into(),
                )),
            };
        };
        match state.find(kid) {
            Some(key) => Lookup::Found(key),
            None => Lookup::UnknownKid,
        }
    }

    /// Fetches and installs the key set; the caller holds `in_flight`. The cache is locked only to note
    /// the attempt and to install the result, never across the fetch.
    async fn reload(&self, now: Instant) -> Result<(), AuthError> {
        let json = match &self.source {
            Source::Fixed => return Ok(()),
            Source::Url { client, url } => {
                self.write_state().attempted_at = Some(now);
                fetch(client, url).await?
            }
            Source::File(path) => {
                self.write_state().attempted_at = Some(now);
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|err| unreadable(path, err))?
            }
        };
        let keys = parse_jwks(&json).map_err(AuthError::KeysUnavailable)?;
        let mut state = self.write_state();
        state.keys = keys;
        state.fetched_at = Some(now);
        Ok(())
    }
}

enum Lookup {
    Found(Arc<VerificationKey>),
    UnknownKid,
    Refused(AuthError),
}

/// `Ok(true)` for an `http://` URL on a loopback host, `Ok(false)` for `https://`; anything else is
/// refused: keys fetched in clear text could be swapped by anyone on the path.
fn unreadable(path: &Path, err: std::io::Error) -> AuthError {
    AuthError::KeysUnavailable(format!("reading {}: {err}", path.display()))
}

fn check_jwks_url(url: &str) -> Result<bool, AuthError> {
    let refuse = |why: &str| AuthError::KeysUnavailable(format!("JWKS URL {url:?} {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse("is not a URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(false),
        "http" if loopback => Ok(true),
        "http" => Err(refuse(
            "must be https (http is accepted only on a loopback host)",
        )),
        _ => Err(refuse("is not https")),
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
