//! The REST listener: accepts TCP connections, runs TLS when configured, and serves HTTP/1.1
//! with keep-alive on each, one task per connection.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::router::router;
use crate::core::Core;
use crate::{HubError, TlsConfig, accept};

/// How long a client has to send a request's headers once it started one.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long requests in progress may take to finish once the hub shuts down. Method calls end
/// at once then (the method driver stops), so only a slow client waits this long.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds the REST socket, with an error that names `--rest-addr` and says what to do when the
/// port is taken or privileged.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, HubError> {
    accept::bind(addr, bind_hint).await
}

fn bind_hint(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AddrInUse => {
            "another process listens on this port; stop it or choose another address with \
             --rest-addr (e.g. 127.0.0.1:8443)"
        }
        ErrorKind::PermissionDenied => {
            "port 443 and other ports below 1024 need privileges; run with \
             CAP_NET_BIND_SERVICE, redirect 443 to a higher port, or choose a port above \
             1023 with --rest-addr (the Node service SDK only reaches port 443)"
        }
        _ => "check the address given with --rest-addr",
    }
}

/// Accepts connections until `stop` fires, then lets each connection finish its request in
/// progress (for at most [`SHUTDOWN_GRACE`]) and waits for them.
pub(crate) async fn run(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    stop: watch::Receiver<bool>,
) {
    let router = router(core);
    let acceptor = tls.map(|tls| TlsAcceptor::from(tls.server_config()));
    accept::run(listener, stop, |socket, peer, stop| {
        let task = serve_tcp(socket, acceptor.clone(), router.clone(), stop);
        task.instrument(tracing::info_span!("rest", %peer))
    })
    .await;
}

/// Runs TLS (if configured) and then HTTP on one connection.
async fn serve_tcp(
    socket: TcpStream,
    acceptor: Option<TlsAcceptor>,
    router: Router,
    stop: watch::Receiver<bool>,
) {
    match acceptor {
        None => serve(socket, router, stop).await,
        Some(acceptor) => {
            if let Some(stream) = accept::handshake(&acceptor, socket, &stop).await {
                serve(stream, router, stop).await;
            }
        }
    }
}

/// Serves HTTP/1.1 (keep-alive on) until the client closes or the hub stops.
async fn serve<S>(stream: S, router: Router, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}
