//! Fetching and caching a JWKS from a URL, against a real HTTP listener on 127.0.0.1. The cache clock is
//! moved forward through `verify_at` instead of sleeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const JWKS: &str = include_str!("../../tests/fixtures/jwks.json");
const JWKS_RSA2: &str = include_str!("../../tests/fixtures/jwks-rsa2.json");
const RSA1_KEY: &[u8] = include_bytes!("../../tests/fixtures/rsa1.key.pem");
const RSA2_KEY: &[u8] = include_bytes!("../../tests/fixtures/rsa2.key.pem");
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "vwc-api";

/// Serves one JWKS document (swappable) over hand-written HTTP/1.1 and counts the requests.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    response: Arc<Mutex<(u16, String)>>,
    /// For a [`hanging`](JwksServer::hanging) server: lets the requests after the first one be answered.
    release: Arc<tokio::sync::Notify>,
}

/// Reads a request up to the end of its head; `false` when the client went away first.
async fn read_request_head(socket: &mut tokio::net::TcpStream) -> bool {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Answers `status` with the JSON `body` and closes the connection.
async fn respond_json(socket: &mut tokio::net::TcpStream, status: u16, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body.as_bytes()).await;
    let _ = socket.shutdown().await;
}

impl JwksServer {
    async fn start(body: &str) -> JwksServer {
        JwksServer::serve(body, false).await
    }

    /// Answers the first request at once; every later one only once `release` is notified (a JWKS
    /// endpoint that hangs).
    async fn hanging(body: &str) -> JwksServer {
        JwksServer::serve(body, true).await
    }

    async fn serve(body: &str, hang_after_first: bool) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let response = Arc::new(Mutex::new((200, body.to_owned())));
        let release = Arc::new(tokio::sync::Notify::new());
        let served = (hits.clone(), response.clone(), release.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (hits, response, release) = served.clone();
                tokio::spawn(async move {
                    if !read_request_head(&mut socket).await {
                        return;
                    }
                    if hits.fetch_add(1, Ordering::SeqCst) > 0 && hang_after_first {
                        release.notified().await;
                    }
                    let (status, body) = response.lock().unwrap().clone();
                    respond_json(&mut socket, status, &body).await;
                });
            }
        });
        JwksServer {
            url,
            hits,
            response,
            release,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn respond(&self, status: u16, body: &str) {
        *self.response.lock().unwrap() = (status, body.to_owned());
    }

    fn verifier(&self) -> JwksVerifier {
        JwksVerifier::new(JwksKeys::Url(&self.url), ISSUER, AUDIENCE).unwrap()
    }
}

fn rs256_token(pem: &[u8], kid: &str) -> String {
    let now = vwc_clock::now().timestamp();
    let claims = json!({
        "sub": "usr_1", "org": "org_1", "roles": ["technician"],
        "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600, "iat": now,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

fn later(start: Instant, seconds: u64) -> Instant {
    start + Duration::from_secs(seconds)
}

#[tokio::test]
async fn keys_fetched_from_the_url_are_cached_between_verifications() {
    let server = JwksServer::start(JWKS).await;
    let verifier = server.verifier();
    let token = rs256_token(RSA1_KEY, "rsa-1");
    for _ in 0..3 {
        let caller = verifier.verify(&token).await.unwrap();
        assert_eq!(caller.org, "org_1");
    }
    assert_eq!(server.hits(), 1);
}

/// A server of `JWKS`, its verifier and a token of key `rsa-1`, verified once at `start` (one fetch).
async fn verified_at_start() -> (JwksServer, JwksVerifier, String, Instant) {
    let server = JwksServer::start(JWKS).await;
    let verifier = server.verifier();
    let token = rs256_token(RSA1_KEY, "rsa-1");
    let start = Instant::now();
    verifier.verify_at(&token, start).await.unwrap();
    assert_eq!(server.hits(), 1);
    (server, verifier, token, start)
}

#[tokio::test]
async fn cached_keys_are_fetched_again_after_ten_minutes() {
    let (server, verifier, token, start) = verified_at_start().await;
    verifier.verify_at(&token, later(start, 599)).await.unwrap();
    assert_eq!(server.hits(), 1);
    verifier.verify_at(&token, later(start, 600)).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_the_url_at_most_once_per_30_seconds() {
    let (server, verifier, _, start) = verified_at_start().await;

    // The issuer rotates to a new key; the first token signed with it arrives within 30 s of the last fetch.
    server.respond(200, JWKS_RSA2);
    let rotated = rs256_token(RSA2_KEY, "rsa-2");
    let err = verifier
        .verify_at(&rotated, later(start, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Invalid(_)), "{err}");
    let err = verifier
        .verify_at(&rotated, later(start, 29))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Invalid(_)), "{err}");
    assert_eq!(server.hits(), 1);

    let caller = verifier
        .verify_at(&rotated, later(start, 30))
        .await
        .unwrap();
    assert_eq!(caller.sub, "usr_1");
    assert_eq!(server.hits(), 2);

    // A flood of made-up kids costs one fetch per 30 s, not one per request.
    let bogus = rs256_token(RSA2_KEY, "made-up");
    for second in 31..60 {
        assert!(
            verifier
                .verify_at(&bogus, later(start, second))
                .await
                .is_err()
        );
    }
    assert_eq!(server.hits(), 2);
    assert!(verifier.verify_at(&bogus, later(start, 60)).await.is_err());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn unreachable_jwks_makes_keys_unavailable_rather_than_the_token_invalid() {
    let server = JwksServer::start("").await;
    server.respond(500, "{}");
    let err = server
        .verifier()
        .verify(&rs256_token(RSA1_KEY, "rsa-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable(_)), "{err}");
    assert_eq!(err.http_status(), 503);
}

#[tokio::test]
async fn failed_refresh_keeps_serving_the_cached_keys() {
    let (server, verifier, token, start) = verified_at_start().await;
    server.respond(503, "unavailable");
    verifier.verify_at(&token, later(start, 601)).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn refresh_loads_the_key_set_ahead_of_the_first_token() {
    let server = JwksServer::start(JWKS).await;
    let verifier = server.verifier();
    assert_eq!(verifier.refresh().await.unwrap(), 2);
    verifier
        .verify(&rs256_token(RSA1_KEY, "rsa-1"))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1);
}

#[test]
fn jwks_url_must_be_http() {
    let err =
        JwksVerifier::new(JwksKeys::Url("file:///etc/jwks.json"), ISSUER, AUDIENCE).unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable(_)));
}

#[test]
fn jwks_url_must_be_https_except_on_a_loopback_host() {
    for refused in [
        "http://issuer.example/.well-known/jwks.json",
        "http://10.0.0.5/jwks.json",
        "http://localhost.evil.example/jwks.json",
        "ftp://issuer.example/jwks.json",
        "not a url",
    ] {
        let err = JwksVerifier::new(JwksKeys::Url(refused), ISSUER, AUDIENCE).unwrap_err();
        assert!(matches!(err, AuthError::KeysUnavailable(_)), "{refused}");
    }
    for accepted in [
        "https://issuer.example/.well-known/jwks.json",
        "http://127.0.0.1:8080/jwks.json",
        "http://localhost/jwks.json",
        "http://[::1]:9000/jwks.json",
    ] {
        assert!(
            JwksVerifier::new(JwksKeys::Url(accepted), ISSUER, AUDIENCE).is_ok(),
            "{accepted}"
        );
    }
}

#[tokio::test]
async fn a_refresh_in_flight_does_not_hold_up_tokens_with_known_keys_and_is_made_once() {
    let server = JwksServer::hanging(JWKS).await;
    let verifier = Arc::new(server.verifier());
    let known = rs256_token(RSA1_KEY, "rsa-1");
    let start = Instant::now();
    verifier.verify_at(&known, start).await.unwrap();
    assert_eq!(server.hits(), 1);

    // Past the TTL: the first request takes the flight and hangs on the endpoint…
    let stale = later(start, 601);
    let fetching = {
        let (verifier, known) = (verifier.clone(), known.clone());
        tokio::spawn(async move { verifier.verify_at(&known, stale).await })
    };
    vwc_wait(|| server.hits() == 2).await;
    // …while others with known keys are answered from the cache, and unknown kids queue behind the one
    // fetch instead of starting their own.
    let waiting_for_new_keys: Vec<_> = (0..5)
        .map(|_| {
            let verifier = verifier.clone();
            let token = rs256_token(RSA2_KEY, "rsa-2");
            tokio::spawn(async move { verifier.verify_at(&token, stale).await })
        })
        .collect();
    for _ in 0..20 {
        let answered =
            tokio::time::timeout(Duration::from_secs(4), verifier.verify_at(&known, stale))
                .await
                .expect("a token with a cached key does not wait for the fetch in flight");
        assert_eq!(answered.unwrap().org, "org_1");
    }
    assert_eq!(server.hits(), 2, "one fetch in flight");
    server.release.notify_waiters();
    fetching.await.unwrap().unwrap();
    for waiting in waiting_for_new_keys {
        assert!(waiting.await.unwrap().is_err(), "rsa-2 is not in the set");
    }
    assert_eq!(
        server.hits(),
        2,
        "the queued requests saw the fresh set and did not fetch again"
    );
}

async fn vwc_wait(mut ready: impl FnMut() -> bool) {
    for _ in 0..500 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting");
}
