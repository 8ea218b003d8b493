//! The HTTP/1 server under the router: hyper's connections, with the timeouts `axum::serve` leaves out.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never runs: a connection that sent
//! nothing, half a request head, or sat idle after a keep-alive answer stayed open for good, and a few
//! hundred of them used up the process's file descriptors (`accept` then failed with EMFILE every second
//! and the API, `/healthz` included, stopped answering). Here every connection has
//! [`HEADER_READ_TIMEOUT`] to send each request head — the first, and the next one on a kept-alive
//! connection — and the process raises its soft open-file limit to the hard one at start
//! ([`raise_open_file_limit`]).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long a connection may take to send a request head, or stay idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping server waits for its connections to finish the requests they are in before it
/// closes them: a client that never finishes its request head must not hold the process (and its data
/// dir's lock) until the header timeout, or for ever.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's timeouts ([`HEADER_READ_TIMEOUT`], [`DRAIN_TIMEOUT`] by default).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: HEADER_READ_TIMEOUT,
            drain: DRAIN_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, lets every connection
/// finish the request it is in (hyper's graceful shutdown) and returns once all have closed. Each request
/// carries its peer as `ConnectInfo<SocketAddr>`, as `into_make_service_with_connect_info` gave it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, router, stop, Timeouts::default()).await
}

/// [`serve`] with other timeouts.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()>,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    let mut connections = JoinSet::new();
    // One configuration for every connection (each gets a clone).
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !per_connection(&e) {
                        // Out of descriptors or memory: give the open connections a moment to end.
                        tracing::error!(error = %e, "accept error");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            closing_rx.clone(),
            http1.clone(),
        ));
    }
    drop(listener);
    let _ = closing.send(true);
    if !connections.is_empty() {
        tracing::info!(
            connections = connections.len(),
            "stopping: finishing the requests in flight"
        );
    }
    let drained = tokio::time::timeout(timeouts.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            after = ?timeouts.drain,
            "stopping: closing connections that did not finish"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// One connection until it closes, times out, or the server closes it gracefully.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    mut closing: tokio::sync::watch::Receiver<bool>,
    http1: hyper::server::conn::http1::Builder,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request.map(Body::new))
    });
    let conn = http1.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let closed_first = async {
        // The guard `wait_for` returns is dropped here, not held across the connection's awaits.
        let _ = closing.wait_for(|closing| *closing).await;
    };
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = closed_first => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Errors of one connection that `accept` reports: the next `accept` is fine.
fn per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Raises the soft limit of open files to the hard one (Linux), so the number of connections is not
/// capped by a conservative shell default (often 1,024 soft against a hard limit many times higher);
/// what it is now is returned for the log.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the one struct passed, which lives on this stack
        // frame for the duration of each call.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    ..limit
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(limit.rlim_cur)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(300);

    /// A running test server: its address, what stops it, and its task.
    type Running = (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    );

    /// A server of two routes (`/slow` answers after 500 ms, with the peer's address) on a free port.
    async fn server() -> Running {
        server_with(Timeouts {
            header_read: TIMEOUT,
            drain: Duration::from_secs(2),
        })
        .await
    }

    async fn server_with(timeouts: Timeouts) -> Running {
        let router = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                peer.ip().to_string()
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve_with(listener, router, stopped, timeouts));
        (addr, stop, server)
    }

    /// Reads until the server closes the connection; what it sent, and how long that took.
    async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
        let started = Instant::now();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got))
            .await
            .expect("the server closes the connection")
            .unwrap();
        (
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        )
    }

    #[tokio::test]
    async fn silent_half_sent_and_idle_connections_are_closed_after_the_header_timeout() {
        let (addr, _stop, _server) = server().await;
        // Nothing at all; half a request head; a whole request, then nothing more on the kept-alive
        // connection.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        for (what, stream) in [("silent", &mut silent), ("half", &mut half)] {
            let (got, took) = until_closed(stream).await;
            assert!(took < Duration::from_secs(5), "{what}: {took:?}");
            assert!(!got.contains("200 OK"), "{what}: {got}");
        }
        let (got, took) = until_closed(&mut idle).await;
        assert!(
            got.starts_with("HTTP/1.1 200 OK") && got.ends_with("ok"),
            "{got}"
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn stopping_finishes_the_request_in_flight_and_refuses_new_connections() {
        let (addr, stop, server) = server().await;
        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        let (got, _) = until_closed(&mut busy).await;
        assert!(
            got.starts_with("HTTP/1.1 200 OK") && got.ends_with("127.0.0.1"),
            "{got}"
        );
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server returns once its connections closed")
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_request_head_does_not_hold_a_stopping_server() {
        // The header timeout is far off: the drain's bound is what lets the server go.
        let (addr, stop, server) = server_with(Timeouts {
            header_read: Duration::from_secs(600),
            drain: Duration::from_millis(500),
        })
        .await;
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server returns after its drain time")
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let (got, _) = until_closed(&mut half).await;
        assert!(got.is_empty(), "{got}");
    }
}
