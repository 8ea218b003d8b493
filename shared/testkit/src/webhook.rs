//! Local webhook receivers for the tests of outbound webhooks: [`Receiver`] records every request and
//! answers from a script (or never, when told to hang); [`SilentReceiver`] accepts connections and never
//! reads them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// One request as a receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: DateTime<Utc>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// What a receiver answers: a status and, optionally, a `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<&'static str>,
}

pub fn answer(status: u16) -> Answer {
    Answer {
        status,
        retry_after: None,
    }
}

#[derive(Clone)]
struct ReceiverState {
    script: Arc<Mutex<VecDeque<Answer>>>,
    otherwise: Answer,
    received: Arc<Mutex<Vec<Received>>>,
    hang: bool,
}

/// A webhook receiver on 127.0.0.1 that answers from `script`, then `otherwise` forever.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(script: &[Answer], otherwise: Answer) -> Receiver {
        Receiver::serve(script, otherwise, false).await
    }

    /// Records every request and never answers it (the sender's timeout ends each attempt).
    pub async fn hanging() -> Receiver {
        Receiver::serve(&[], answer(200), true).await
    }

    async fn serve(script: &[Answer], otherwise: Answer, hang: bool) -> Receiver {
        let state = ReceiverState {
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            otherwise,
            received: Arc::new(Mutex::new(Vec::new())),
            hang,
        };
        let received = state.received.clone();
        let app = axum::Router::new()
            .route("/hooks/vwc", axum::routing::post(receive))
            .with_state(state);
        let (addr, server) = crate::serve(app).await;
        Receiver {
            addr,
            received,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/vwc", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests it has received.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn receive(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> Response {
    state.received.lock().unwrap().push(Received {
        headers,
        body,
        at: vwc_clock::now(),
    });
    if state.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let next = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(state.otherwise);
    let status = StatusCode::from_u16(next.status).expect("status");
    match next.retry_after {
        Some(value) => (status, [("retry-after", value)]).into_response(),
        None => status.into_response(),
    }
}

/// Accepts connections and never answers (the sockets are held open until the test ends).
pub struct SilentReceiver {
    pub addr: SocketAddr,
    connections: Arc<Mutex<usize>>,
    _server: tokio::task::JoinHandle<()>,
}

impl SilentReceiver {
    pub async fn start() -> SilentReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(Mutex::new(0));
        let counter = connections.clone();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                *counter.lock().unwrap() += 1;
                held.push(socket);
            }
        });
        SilentReceiver {
            addr,
            connections,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/vwc", self.addr)
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}
