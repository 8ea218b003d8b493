//! The open webhook route cannot be used to drive the database (issue 12, finding 8): unknown dealers are
//! remembered, a bad signature re-reads a dealer at most once a second, and a source address that keeps
//! being refused gets 429 before any work is done. Spoken to over HTTP on a real port.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use vwc_ingestion::SqliteIngestionStore;
use vwc_ingestion::dealers::http::{DealerCache, DealerState, REFUSALS_PER_SOURCE_BURST};
use vwc_ingestion::dealers::{DealerRow, DealerStore, StoredSecret};
use vwc_webhook::{WebhookSecret, sign};

struct Server {
    base: String,
    cache: Arc<DealerCache>,
    dealer: DealerRow,
    _dir: tempfile::TempDir,
}

async fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteIngestionStore::open(&dir.path().join("ingestion.db")).unwrap());
    let dealer = DealerRow {
        id: "dlr_known".into(),
        org_id: "org_a".into(),
        name: "Main St Auto".into(),
        created_at: vwc_clock::now(),
        secrets: vec![StoredSecret {
            secret: WebhookSecret::generate(),
            created_at: vwc_clock::now(),
            expires_at: None,
        }],
    };
    store.insert_dealer(&dealer).await.unwrap();
    let cache = Arc::new(DealerCache::default());
    let keys = vwc_auth::Hs256Keys::new(&vwc_auth::Secret::from_bytes([7u8; 32]).unwrap());
    let router = vwc_http::router(
        vwc_ingestion::dealers::http::routes(vwc_http::openapi::Docs::Skipped),
        DealerState {
            dealers: store,
            clock: vwc_clock::system(),
            verifier: Arc::new(keys),
            cache: cache.clone(),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        cache,
        dealer,
        _dir: dir,
    }
}

const BODY: &str = include_str!("../../../contracts/examples/dealer-webhooks/service_record.json");

async fn post(
    client: &reqwest::Client,
    server: &Server,
    dealer: &str,
    secret: &WebhookSecret,
) -> u16 {
    let id = format!("msg_{}", uuid::Uuid::now_v7());
    let now = vwc_clock::now().timestamp();
    client
        .post(format!("{}/webhooks/dealers/{dealer}", server.base))
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sign(secret, &id, now, BODY.as_bytes()))
        .body(BODY)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn unknown_dealers_are_read_once_and_a_refused_source_is_told_to_slow_down() {
    let server = serve().await;
    let stranger = client_from("127.0.0.1");
    let wrong = WebhookSecret::generate();
    let mut statuses = Vec::new();
    for _ in 0..(REFUSALS_PER_SOURCE_BURST + 10) {
        statuses.push(post(&stranger, &server, "dlr_nobody", &wrong).await);
    }
    let burst = REFUSALS_PER_SOURCE_BURST as usize;
    assert!(statuses[..burst].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[burst..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(server.cache.reads(), 1, "the unknown dealer was read once");

    // Another address is not held back by the first one's refusals, and the real dealer still gets in.
    let dealer = client_from("127.0.0.2");
    assert_eq!(
        post(
            &dealer,
            &server,
            "dlr_known",
            &server.dealer.secrets[0].secret
        )
        .await,
        200
    );
}

#[tokio::test]
async fn bad_signatures_for_a_known_dealer_do_not_read_it_again_and_again() {
    let server = serve().await;
    let client = client_from("127.0.0.3");
    let good = &server.dealer.secrets[0].secret;
    assert_eq!(post(&client, &server, "dlr_known", good).await, 200);
    let wrong = WebhookSecret::generate();
    for _ in 0..(REFUSALS_PER_SOURCE_BURST - 2) {
        assert_eq!(post(&client, &server, "dlr_known", &wrong).await, 401);
    }
    // One read for the first webhook, and at most one re-read a second for the refused ones.
    assert!(server.cache.reads() <= 3, "reads: {}", server.cache.reads());
    assert_eq!(post(&client, &server, "dlr_known", good).await, 200);
}
