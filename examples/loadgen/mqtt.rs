//! A lean MQTT 3.1.1 connection for the generator: a TCP stream, rumqttc's packet codec, and
//! nothing else (no event loop, no queues, no retransmission), so that the generator spends as
//! little of the machine as possible and the same code drives the hub and Mosquitto.

use std::net::{IpAddr, SocketAddr};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    Connect, ConnectReturnCode, Packet, Publish, Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The largest packet the generator reads.
const MAX_PACKET: usize = 64 * 1024;

/// What a client sends in CONNECT.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    /// The client id (the device id on the hub).
    pub(crate) client_id: String,
    /// Username and password; `None` for Mosquitto's anonymous clients.
    pub(crate) credentials: Option<(String, String)>,
}

/// Where a connection goes, and from which local address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// The broker or hub.
    pub(crate) server: SocketAddr,
    /// The local address to connect from, so that many connections do not exhaust the
    /// ephemeral ports of one address.
    pub(crate) source: IpAddr,
}

/// One MQTT connection with its read buffer and an encode buffer for what it sends.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    read: BytesMut,
    out: BytesMut,
    next_packet_id: u16,
}

impl Conn {
    /// Opens a TCP connection, sends CONNECT with CleanSession=0 (as the IoT Hub SDKs do) and
    /// waits for a CONNACK that accepts it.
    pub(crate) async fn connect(
        route: Route,
        login: &Login,
        keep_alive: u16,
    ) -> Result<Self, String> {
        let socket = match route.server {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| format!("socket: {e}"))?;
        socket
            .bind(SocketAddr::new(route.source, 0))
            .map_err(|e| format!("bind {}: {e}", route.source))?;
        let stream = socket
            .connect(route.server)
            .await
            .map_err(|e| format!("connect {}: {e}", route.server))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        let mut conn = Self {
            stream,
            read: BytesMut::with_capacity(256),
            out: BytesMut::new(),
            next_packet_id: 1,
        };
        conn.handshake(login, keep_alive).await?;
        Ok(conn)
    }

    async fn handshake(&mut self, login: &Login, keep_alive: u16) -> Result<(), String> {
        let mut connect = Connect::new(login.client_id.as_str());
        connect.keep_alive = keep_alive;
        connect.clean_session = false;
        if let Some((username, password)) = &login.credentials {
            connect.set_login(username.as_str(), password.as_str());
        }
        self.send(&Packet::Connect(connect)).await?;
        match self.next().await? {
            Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => Ok(()),
            Packet::ConnAck(ack) => Err(format!("{} refused: {:?}", login.client_id, ack.code)),
            other => Err(format!("expected CONNACK, got {other:?}")),
        }
    }

    /// Subscribes to `filters` at QoS 0 and waits for the SUBACK.
    pub(crate) async fn subscribe(&mut self, filters: &[&str]) -> Result<(), String> {
        let mut subscribe = Subscribe::new_many(Vec::new());
        for filter in filters {
            subscribe.add((*filter).to_owned(), QoS::AtMostOnce);
        }
        subscribe.pkid = self.packet_id();
        self.send(&Packet::Subscribe(subscribe)).await?;
        loop {
            match self.next().await? {
                Packet::SubAck(ack) if ack.return_codes.iter().all(is_granted) => return Ok(()),
                Packet::SubAck(ack) => return Err(format!("subscription refused: {ack:?}")),
                _ => {}
            }
        }
    }

    /// Encodes a PUBLISH into the send buffer (see [`Conn::flush`]) and returns its packet id
    /// (0 at QoS 0).
    pub(crate) fn queue_publish(&mut self, topic: &str, qos: QoS, payload: &[u8]) -> u16 {
        let mut publish = Publish::new(topic, qos, payload.to_vec());
        if qos != QoS::AtMostOnce {
            publish.pkid = self.packet_id();
        }
        let pkid = publish.pkid;
        self.queue(&Packet::Publish(publish));
        pkid
    }

    /// Gives back the buffers' memory, for connections that stay idle.
    pub(crate) fn shrink(&mut self) {
        if self.read.is_empty() {
            self.read = BytesMut::new();
        }
        self.out = BytesMut::new();
    }

    /// Encodes a packet into the send buffer.
    pub(crate) fn queue(&mut self, packet: &Packet) {
        // Packets the generator builds always encode.
        let _ = packet.write(&mut self.out, MAX_PACKET);
    }

    /// Writes out the send buffer.
    pub(crate) async fn flush(&mut self) -> Result<(), String> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.out).await;
        self.out.clear();
        result.map_err(|e| format!("write: {e}"))
    }

    /// Encodes and writes one packet.
    pub(crate) async fn send(&mut self, packet: &Packet) -> Result<(), String> {
        self.queue(packet);
        self.flush().await
    }

    /// Sends PINGREQ and waits for PINGRESP, skipping anything else that arrives.
    pub(crate) async fn ping(&mut self) -> Result<(), String> {
        self.send(&Packet::PingReq).await?;
        loop {
            if let Packet::PingResp = self.next().await? {
                return Ok(());
            }
        }
    }

    /// The next packet, reading as much as it needs.
    pub(crate) async fn next(&mut self) -> Result<Packet, String> {
        loop {
            if !self.read.is_empty() {
                match Packet::read(&mut self.read, MAX_PACKET) {
                    Ok(packet) => return Ok(packet),
                    Err(CodecError::InsufficientBytes(_)) => {}
                    Err(error) => return Err(format!("malformed packet: {error}")),
                }
            }
            if self.read.capacity() - self.read.len() < 128 {
                self.read.reserve(1024);
            }
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(_) => {}
                Err(error) => return Err(format!("read: {error}")),
            }
        }
    }

    /// Sends DISCONNECT; errors no longer matter at that point.
    pub(crate) async fn disconnect(mut self) {
        let _ = self.send(&Packet::Disconnect).await;
        let _ = self.stream.shutdown().await;
    }

    fn packet_id(&mut self) -> u16 {
        let id = self.next_packet_id;
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        id
    }
}

fn is_granted(code: &SubscribeReasonCode) -> bool {
    !matches!(code, SubscribeReasonCode::Failure)
}
