//! MQTT 3.1.1 packets over a byte stream, with rumqttc's v4 codec.

use bytes::BytesMut;
use rumqttc::mqttbytes::Error as CodecError;
use rumqttc::mqttbytes::v4::Packet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest packet the hub reads: a 256 KB telemetry body plus a generous topic. Larger
/// packets close the connection before their body is read.
pub(crate) const MAX_PACKET_BYTES: usize = 256 * 1024 + 16 * 1024;

/// The room a read into an empty buffer gets: twin requests, method answers and pings fit.
const SMALL_READ: usize = 256;

/// Why reading a packet failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The peer closed the stream.
    #[error("the peer closed the connection")]
    Closed,
    /// The socket failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid MQTT 3.1.1 packet.
    #[error("malformed packet: {0}")]
    Malformed(CodecError),
}

/// A stream with its read buffer.
#[derive(Debug)]
pub(crate) struct Framed<S> {
    io: S,
    read: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Framed<S> {
    pub(crate) fn new(io: S) -> Self {
        Self {
            io,
            read: BytesMut::with_capacity(1024),
        }
    }

    /// The next complete packet already buffered, if any.
    pub(crate) fn buffered_packet(&mut self) -> Result<Option<Packet>, ReadError> {
        if self.read.is_empty() {
            return Ok(None);
        }
        match Packet::read(&mut self.read, MAX_PACKET_BYTES) {
            Ok(packet) => Ok(Some(packet)),
            Err(CodecError::InsufficientBytes(_)) => Ok(None),
            Err(error) => Err(ReadError::Malformed(error)),
        }
    }

    /// Reads more bytes into the buffer; cancel-safe.
    ///
    /// An empty buffer gets room for a small packet only, since an idle connection waits here
    /// with that room taken; a partial packet gets room to grow fast.
    pub(crate) async fn fill(&mut self) -> Result<(), ReadError> {
        if self.read.capacity() - self.read.len() < SMALL_READ {
            let room = if self.read.is_empty() {
                SMALL_READ
            } else {
                4096
            };
            self.read.reserve(room);
        }
        match self.io.read_buf(&mut self.read).await? {
            0 => Err(ReadError::Closed),
            _ => Ok(()),
        }
    }

    /// Reads until one packet is complete.
    pub(crate) async fn read_packet(&mut self) -> Result<Packet, ReadError> {
        loop {
            if let Some(packet) = self.buffered_packet()? {
                return Ok(packet);
            }
            self.fill().await?;
        }
    }

    /// Writes out the packets encoded in `out` and empties it.
    pub(crate) async fn write_out(&mut self, out: &mut BytesMut) -> std::io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        self.io.write_all(out).await?;
        out.clear();
        if out.capacity() > 64 * 1024 {
            *out = BytesMut::new();
        }
        self.io.flush().await
    }

    /// Gives back the read buffer when it holds no partial packet, so that an idle connection
    /// keeps none (the next read takes a new one).
    pub(crate) fn shrink(&mut self) {
        if self.read.is_empty() && self.read.capacity() > 0 {
            self.read = BytesMut::new();
        }
    }

    /// Closes the write side.
    pub(crate) async fn shutdown(&mut self) {
        // The connection is going away; a failed goodbye changes nothing.
        let _ = self.io.shutdown().await;
    }
}
