//! A fault-injecting TCP proxy on loopback: devices connect to it, it connects them to the
//! hub, and on command it cuts, resets or stalls their connections, or refuses new ones.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// How the proxy treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bytes flow both ways.
    Pass,
    /// Connections stay open but no byte moves, either way; new connections stall too.
    Stall,
    /// New connections are closed at once.
    Refuse,
}

/// What to do to the connections open now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Close both sides cleanly (FIN).
    Cut,
    /// Abort both sides (RST).
    Reset,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
    faults: broadcast::Sender<Fault>,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, modes) = watch::channel(Mode::Pass);
        let (faults, _) = broadcast::channel(16);
        let accepted = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(accept(
            listener,
            upstream,
            modes,
            faults.clone(),
            Arc::clone(&accepted),
        ));
        Self {
            port,
            mode,
            faults,
            accepted,
            task,
        }
    }

    /// The port devices connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections the proxy has accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every open connection cleanly; new ones are accepted.
    pub fn cut(&self) {
        let _ = self.faults.send(Fault::Cut);
    }

    /// Aborts every open connection with a reset; new ones are accepted.
    pub fn reset(&self) {
        let _ = self.faults.send(Fault::Reset);
    }

    /// Stops every byte on open and new connections, keeping them open.
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stall);
    }

    /// An outage: open connections are cut and new ones refused.
    pub fn outage(&self) {
        self.mode.send_replace(Mode::Refuse);
        self.cut();
    }

    /// Back to normal: bytes flow and connections are accepted.
    pub fn heal(&self) {
        self.mode.send_replace(Mode::Pass);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.faults.send(Fault::Cut);
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    modes: watch::Receiver<Mode>,
    faults: broadcast::Sender<Fault>,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((client, _)) = listener.accept().await {
        if *modes.borrow() == Mode::Refuse {
            drop(client);
            continue;
        }
        accepted.fetch_add(1, Ordering::SeqCst);
        let Ok(server) = TcpStream::connect(upstream).await else {
            continue;
        };
        tokio::spawn(pipe(client, server, modes.clone(), faults.subscribe()));
    }
}

/// Moves bytes between the two sides until one closes or a fault ends the connection.
async fn pipe(
    client: TcpStream,
    server: TcpStream,
    mut modes: watch::Receiver<Mode>,
    mut faults: broadcast::Receiver<Fault>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut up = vec![0; 16 * 1024];
    let mut down = vec![0; 16 * 1024];
    loop {
        let flowing = *modes.borrow_and_update() == Mode::Pass;
        tokio::select! {
            read = client_read.read(&mut up), if flowing => {
                if !forward(read, &up, &mut server_write).await {
                    return;
                }
            }
            read = server_read.read(&mut down), if flowing => {
                if !forward(read, &down, &mut client_write).await {
                    return;
                }
            }
            fault = faults.recv() => {
                if fault == Ok(Fault::Reset) {
                    abort(client_read, client_write);
                    abort(server_read, server_write);
                }
                return;
            }
            changed = modes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes what `read` got; false when either side is done.
async fn forward(read: std::io::Result<usize>, buffer: &[u8], to: &mut OwnedWriteHalf) -> bool {
    match read {
        Ok(0) | Err(_) => false,
        Ok(n) => to.write_all(&buffer[..n]).await.is_ok(),
    }
}

/// Closes a connection with a reset instead of a FIN.
fn abort(read: OwnedReadHalf, write: OwnedWriteHalf) {
    if let Ok(stream) = read.reunite(write) {
        // A zero linger makes the close send RST at once; it never blocks, which is what the
        // deprecation warns about for other linger values.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
    }
}
