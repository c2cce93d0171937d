//! Helpers shared by the integration tests: a hub on 127.0.0.1:0 and a raw MQTT 3.1.1 client
//! built on rumqttc's codec, so that tests control every byte and every packet.
// Each test binary uses a subset of the helpers, and a helper that fails should fail the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use iot_hub::{DeviceOptions, Hub, HubBuilder};
use iot_protocol::{DeviceCredential, DeviceId, Identity, MqttUsername, SasToken};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, Login, Packet, PubAck, Publish, Subscribe, SubscribeFilter,
    SubscribeReasonCode,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for anything the hub should do promptly.
pub const WAIT: Duration = Duration::from_secs(10);

/// A builder for a plain-TCP hub on a free loopback port.
pub fn builder() -> HubBuilder {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().unwrap())
        .plain_tcp()
        .connect_timeout(Duration::from_secs(2))
}

/// A started in-memory hub.
pub async fn hub() -> Hub {
    builder().in_memory().start().await.unwrap()
}

/// A started hub keeping its state in `dir`.
pub async fn hub_in(dir: &Path) -> Hub {
    builder().data_dir(dir).start().await.unwrap()
}

/// Registers `id` with generated keys.
pub async fn device(hub: &Hub, id: &str) -> DeviceId {
    let id: DeviceId = id.parse().unwrap();
    hub.registry()
        .create_device(&id, DeviceOptions::default())
        .await
        .unwrap();
    id
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A SAS token for `id` signed with its primary key, expiring at `expiry`.
pub fn token(hub: &Hub, id: &DeviceId, expiry: u64) -> String {
    let cs = hub.device_connection_string(id).unwrap();
    let DeviceCredential::SharedAccessKey { .. } = cs.credential() else {
        panic!("not a key device");
    };
    cs.sas_token(expiry).unwrap().to_secret_string()
}

/// The username a device of `hub` sends.
pub fn username(hub: &Hub, id: &DeviceId) -> String {
    MqttUsername::new(hub.host_name().clone(), Identity::device(id.clone())).to_string()
}

/// A CONNECT for `id` with a valid token, keep-alive 60 s.
pub fn connect_packet(hub: &Hub, id: &DeviceId, clean_session: bool) -> Connect {
    let mut connect = Connect::new(id.as_str());
    connect.keep_alive = 60;
    connect.clean_session = clean_session;
    connect.login = Some(Login::new(
        username(hub, id),
        token(hub, id, unix_now() + 3600),
    ));
    connect
}

/// An MQTT client speaking raw packets over any byte stream.
pub struct Client {
    io: Box<dyn Stream>,
    read: BytesMut,
    next_pkid: u16,
}

/// A byte stream a client can run over (TCP or TLS).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Client {
    /// A TCP connection to the hub's MQTT endpoint.
    pub async fn tcp(addr: SocketAddr) -> Self {
        Self::over(TcpStream::connect(addr).await.unwrap())
    }

    /// A client over an established stream.
    pub fn over(io: impl Stream + 'static) -> Self {
        Self {
            io: Box::new(io),
            read: BytesMut::new(),
            next_pkid: 1,
        }
    }

    /// Connects `id` with a valid token; panics unless the hub accepts.
    pub async fn device(hub: &Hub, id: &DeviceId, clean_session: bool) -> (Self, ConnAck) {
        let mut client = Self::tcp(hub.mqtt_addr()).await;
        let ack = client.connect(connect_packet(hub, id, clean_session)).await;
        assert_eq!(ack.code, rumqttc::mqttbytes::v4::ConnectReturnCode::Success);
        (client, ack)
    }

    /// Sends CONNECT and returns CONNACK.
    pub async fn connect(&mut self, connect: Connect) -> ConnAck {
        self.send(&Packet::Connect(connect)).await;
        match self.recv().await {
            Packet::ConnAck(ack) => ack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Writes one packet.
    pub async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, usize::MAX).unwrap();
        self.send_raw(&out).await;
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
        self.io.flush().await.unwrap();
    }

    /// The next packet, or a panic after [`WAIT`].
    pub async fn recv(&mut self) -> Packet {
        tokio::time::timeout(WAIT, self.read_packet())
            .await
            .expect("timed out waiting for a packet")
            .expect("the hub closed the connection")
    }

    /// The next packet within `limit`, `None` if none came.
    pub async fn recv_within(&mut self, limit: Duration) -> Option<Packet> {
        match tokio::time::timeout(limit, self.read_packet()).await {
            Ok(Some(packet)) => Some(packet),
            Ok(None) => panic!("the hub closed the connection"),
            Err(_) => None,
        }
    }

    /// Waits 300 ms for a packet that must not come; `why` says why none should.
    pub async fn assert_quiet(&mut self, why: &str) {
        if let Some(packet) = self.recv_within(Duration::from_millis(300)).await {
            panic!("{why}, yet the hub sent {packet:?}");
        }
    }

    /// The next PUBLISH (skipping other packets such as acks).
    pub async fn recv_publish(&mut self) -> Publish {
        loop {
            if let Packet::Publish(publish) = self.recv().await {
                return publish;
            }
        }
    }

    /// Waits until the hub closes the connection; panics after [`WAIT`].
    pub async fn expect_closed(&mut self) {
        let closed =
            tokio::time::timeout(WAIT, async { while self.read_packet().await.is_some() {} }).await;
        assert!(closed.is_ok(), "the hub did not close the connection");
    }

    /// Subscribes and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filters: &[&str]) -> Vec<SubscribeReasonCode> {
        let filters = filters
            .iter()
            .map(|f| SubscribeFilter::new((*f).to_owned(), QoS::AtLeastOnce))
            .collect();
        let pkid = self.pkid();
        self.send(&Packet::Subscribe(Subscribe { pkid, filters }))
            .await;
        loop {
            if let Packet::SubAck(ack) = self.recv().await {
                assert_eq!(ack.pkid, pkid);
                return ack.return_codes;
            }
        }
    }

    /// Subscribes to the twin, method and cloud-to-device filters of `id`.
    pub async fn subscribe_all(&mut self, id: &DeviceId) {
        let c2d = format!("devices/{id}/messages/devicebound/#");
        let codes = self
            .subscribe(&[
                "$iothub/twin/res/#",
                "$iothub/twin/PATCH/properties/desired/#",
                "$iothub/methods/POST/#",
                &c2d,
            ])
            .await;
        assert!(codes.iter().all(|c| *c != SubscribeReasonCode::Failure));
    }

    /// Publishes at QoS 1 and waits for PUBACK (answers to twin requests may come first and
    /// are returned).
    pub async fn publish(&mut self, topic: &str, payload: &[u8]) -> Vec<Publish> {
        let pkid = self.pkid();
        let mut publish = Publish::new(topic, QoS::AtLeastOnce, payload.to_vec());
        publish.pkid = pkid;
        self.send(&Packet::Publish(publish)).await;
        let mut others = Vec::new();
        loop {
            match self.recv().await {
                Packet::PubAck(ack) if ack.pkid == pkid => return others,
                Packet::Publish(p) => others.push(p),
                _ => {}
            }
        }
    }

    /// Publishes at QoS 0.
    pub async fn publish_at_most_once(&mut self, topic: &str, payload: &[u8]) {
        let publish = Publish::new(topic, QoS::AtMostOnce, payload.to_vec());
        self.send(&Packet::Publish(publish)).await;
    }

    /// Sends a twin request and returns the response's topic and body.
    pub async fn twin(&mut self, topic: &str, body: &[u8]) -> (String, Vec<u8>) {
        let mut answers = self.publish(topic, body).await;
        let answer = match answers.pop() {
            Some(answer) => answer,
            None => self.recv_publish().await,
        };
        (answer.topic, answer.payload.to_vec())
    }

    /// Acknowledges a QoS 1 publish.
    pub async fn puback(&mut self, publish: &Publish) {
        self.send(&Packet::PubAck(PubAck::new(publish.pkid))).await;
    }

    fn pkid(&mut self) -> u16 {
        let pkid = self.next_pkid;
        self.next_pkid += 1;
        pkid
    }

    /// The next packet, `None` when the connection closed.
    async fn read_packet(&mut self) -> Option<Packet> {
        loop {
            match Packet::read(&mut self.read, 1 << 20) {
                Ok(packet) => return Some(packet),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(error) => panic!("the hub sent a malformed packet: {error}"),
            }
            match self.io.read_buf(&mut self.read).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// A token for `id` that the test signs itself, e.g. expired or for another resource.
pub fn token_for(hub: &Hub, id: &DeviceId, resource: &str, expiry: u64) -> String {
    let cs = hub.device_connection_string(id).unwrap();
    let DeviceCredential::SharedAccessKey { key, .. } = cs.credential() else {
        panic!("not a key device");
    };
    let resource = iot_protocol::ResourceUri::parse(resource).unwrap();
    SasToken::create(&resource, key, None, expiry).to_secret_string()
}
