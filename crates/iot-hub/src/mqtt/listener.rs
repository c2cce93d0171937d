//! The MQTT listener: accepts TCP connections, runs TLS when configured, and spawns one task
//! per connection (no thread per connection).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::connection;
use crate::core::Core;
use crate::{HubError, TlsConfig};

/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the listening socket, with an error that says what to do when the port is taken or
/// privileged.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, HubError> {
    TcpListener::bind(addr).await.map_err(|source| {
        let hint = match source.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another process listens on this port; stop it or choose another address with \
                 --mqtt-addr (e.g. 127.0.0.1:18883)"
            }
            std::io::ErrorKind::PermissionDenied => {
                "this port needs privileges; run with CAP_NET_BIND_SERVICE or choose a port \
                 above 1023 with --mqtt-addr"
            }
            _ => "check the address given with --mqtt-addr",
        };
        HubError::Bind { addr, source, hint }
    })
}

/// Accepts connections until `stop` fires, then waits for every connection task to end.
pub(crate) async fn run(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tls.map(|tls| TlsAcceptor::from(tls.server_config()));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let span = tracing::info_span!("mqtt", %peer);
                    let task = accept(Arc::clone(&core), socket, acceptor.clone(), stop.clone());
                    connections.spawn(task.instrument(span));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Runs TLS (if configured) and then the connection.
async fn accept(
    core: Arc<Core>,
    socket: TcpStream,
    acceptor: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    // Small packets (acks, twin answers) should leave at once.
    let _ = socket.set_nodelay(true);
    // Boxed: a task is as large as its largest state, and the TLS handshake's and connection's
    // states would otherwise make every plain connection's task as large as a TLS one.
    match acceptor {
        None => Box::pin(connection::serve(core, socket, None, stop)).await,
        Some(acceptor) => Box::pin(accept_tls(core, socket, acceptor, stop)).await,
    }
}

/// The TLS handshake, then the connection.
async fn accept_tls(
    core: Arc<Core>,
    socket: TcpStream,
    acceptor: TlsAcceptor,
    stop: watch::Receiver<bool>,
) {
    let mut stopped = stop.clone();
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::info!(%error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!("TLS handshake timed out");
                return;
            }
        },
        _ = stopped.changed() => return,
    };
    let client_cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.to_vec());
    connection::serve(core, stream, client_cert, stop).await;
}
