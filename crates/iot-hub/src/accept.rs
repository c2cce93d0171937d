//! What the MQTT and REST endpoints share about accepting connections: binding with a hint
//! on failure, the accept loop with one task per connection, and the TLS handshake.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::HubError;

/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait after a failed accept (such as running out of file descriptors) before
/// accepting again.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Binds a listening socket; `hint` says what to do about a failure of the given kind (it
/// names the endpoint's address option).
pub(crate) async fn bind(
    addr: SocketAddr,
    hint: fn(ErrorKind) -> &'static str,
) -> Result<TcpListener, HubError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| HubError::Bind {
            addr,
            hint: hint(source.kind()),
            source,
        })
}

/// Accepts connections until `stop` fires, spawning `serve(socket, peer, stop)` for each, then
/// waits for every connection task to end.
///
/// Sockets have `TCP_NODELAY` set: both protocols send small messages (acknowledgements,
/// answers) that should leave at once.
pub(crate) async fn run<F, T>(listener: TcpListener, mut stop: watch::Receiver<bool>, mut serve: F)
where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> T,
    T: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    connections.spawn(serve(socket, peer, stop.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// The TLS handshake on `socket`; `None` (logged) when it fails, takes longer than
/// [`TLS_HANDSHAKE_TIMEOUT`], or the hub stops first.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
    stop: &watch::Receiver<bool>,
) -> Option<TlsStream<TcpStream>> {
    let mut stopped = stop.clone();
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket));
    tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(error)) => {
                tracing::info!(%error, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::info!("TLS handshake timed out");
                None
            }
        },
        _ = stopped.changed() => None,
    }
}
