//! The MQTT listener: accepts TCP connections, runs TLS when configured, and spawns one task
//! per connection (no thread per connection).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::connection;
use crate::core::Core;
use crate::{HubError, TlsConfig, accept};

/// Binds the listening socket, with an error that says what to do when the port is taken or
/// privileged.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, HubError> {
    accept::bind(addr, bind_hint).await
}

fn bind_hint(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AddrInUse => {
            "another process listens on this port; stop it or choose another address with \
             --mqtt-addr (e.g. 127.0.0.1:18883)"
        }
        ErrorKind::PermissionDenied => {
            "this port needs privileges; run with CAP_NET_BIND_SERVICE or choose a port \
             above 1023 with --mqtt-addr"
        }
        _ => "check the address given with --mqtt-addr",
    }
}

/// Accepts connections until `stop` fires, then waits for every connection task to end.
pub(crate) async fn run(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    stop: watch::Receiver<bool>,
) {
    let acceptor = tls.map(|tls| TlsAcceptor::from(tls.server_config()));
    accept::run(listener, stop, |socket, peer, stop| {
        let task = serve(Arc::clone(&core), socket, acceptor.clone(), stop);
        task.instrument(tracing::info_span!("mqtt", %peer))
    })
    .await;
}

/// Runs TLS (if configured) and then the connection.
async fn serve(
    core: Arc<Core>,
    socket: TcpStream,
    acceptor: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    // Boxed: a task is as large as its largest state, and the TLS handshake's and connection's
    // states would otherwise make every plain connection's task as large as a TLS one.
    match acceptor {
        None => Box::pin(connection::serve(core, socket, None, stop)).await,
        Some(acceptor) => Box::pin(serve_tls(core, socket, acceptor, stop)).await,
    }
}

/// The TLS handshake, then the connection.
async fn serve_tls(
    core: Arc<Core>,
    socket: TcpStream,
    acceptor: TlsAcceptor,
    stop: watch::Receiver<bool>,
) {
    let Some(stream) = accept::handshake(&acceptor, socket, &stop).await else {
        return;
    };
    let client_cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.to_vec());
    connection::serve(core, stream, client_cert, stop).await;
}
