//! Simulated devices: registering them with the hub over REST, their MQTT logins, and spreading
//! their connections over several loopback source addresses.

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use iot_protocol::{
    DeviceConnectionString, DeviceCredential, DeviceId, Identity, MqttUsername, SharedAccessKey,
};

use crate::mqtt::{Conn, Login, Route};
use crate::servers::{HubServer, unix_now};

/// How many registrations are in flight at once.
const REGISTER_CONCURRENCY: usize = 32;

/// An HTTP/1.1 client with keep-alive; plain HTTP only, so its TLS settings are never used
/// (reqwest still wants a crypto provider to be chosen).
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .pool_max_idle_per_host(1024)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// The ids of a fleet: `{prefix}-{n:05}`.
pub(crate) fn device_ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}-{n:05}")).collect()
}

/// Registers `ids` with the hub, all with one generated key, and returns their MQTT logins.
pub(crate) async fn register(
    hub: &HubServer,
    http: &reqwest::Client,
    ids: &[String],
) -> Result<Vec<Login>, String> {
    let key = SharedAccessKey::generate(random_key_bytes());
    let body = serde_json::json!({
        "authentication": {
            "type": "sas",
            "symmetricKey": {"primaryKey": key.to_secret_string(), "secondaryKey": key.to_secret_string()},
        },
    })
    .to_string();
    let token = hub.service_token();
    let ids = Arc::new(ids.to_vec());
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..REGISTER_CONCURRENCY {
        let (http, ids, body, token) =
            (http.clone(), Arc::clone(&ids), body.clone(), token.clone());
        let base = hub.rest.clone();
        workers.spawn(async move {
            for id in ids.iter().skip(worker).step_by(REGISTER_CONCURRENCY) {
                put_device(&http, &base, &token, id, &body).await?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done.map_err(|e| format!("registration task: {e}"))??;
    }
    ids.iter().map(|id| login(hub, &key, id)).collect()
}

async fn put_device(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    body: &str,
) -> Result<(), String> {
    let response = http
        .put(format!("{base}/devices/{id}?api-version=2021-04-12"))
        .header("Authorization", token)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| format!("registering {id}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("registering {id}: {}", response.status()))
    }
}

/// A device's CONNECT: its id, the username IoT Hub expects and a SAS token valid for a day.
fn login(hub: &HubServer, key: &SharedAccessKey, id: &str) -> Result<Login, String> {
    let device: DeviceId = id.parse().map_err(|e| format!("device id {id}: {e}"))?;
    let identity = Identity::device(device);
    let credential = DeviceCredential::SharedAccessKey {
        key: key.clone(),
        policy_name: None,
    };
    let cs = DeviceConnectionString::new(hub.host.clone(), identity.clone(), credential);
    let token = cs
        .sas_token(unix_now() + 86_400)
        .ok_or("a key credential always signs")?;
    let username = MqttUsername::new(hub.host.clone(), identity);
    Ok(Login {
        client_id: id.to_owned(),
        credentials: Some((username.to_string(), token.to_secret_string())),
    })
}

/// Mosquitto's clients: anonymous, with the same client ids.
pub(crate) fn anonymous(ids: &[String]) -> Vec<Login> {
    ids.iter()
        .map(|id| Login {
            client_id: id.clone(),
            credentials: None,
        })
        .collect()
}

/// The route of connection `n`: source addresses 127.0.0.1 up to 127.0.0.`sources` in turn.
pub(crate) fn route(server: SocketAddr, n: usize, sources: usize) -> Route {
    let last_octet = 1 + (n % sources.clamp(1, 254)) as u8;
    Route {
        server,
        source: IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)),
    }
}

/// Connects every login, `concurrency` handshakes at a time, keeping the order of `logins`.
pub(crate) async fn connect_all(
    server: SocketAddr,
    logins: &[Login],
    setup: Setup,
) -> Result<Vec<Conn>, String> {
    let logins = Arc::new(logins.to_vec());
    let workers = setup.concurrency.clamp(1, logins.len().max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let logins = Arc::clone(&logins);
        tasks.spawn(async move {
            let mut conns = Vec::new();
            for n in (worker..logins.len()).step_by(workers) {
                let login = logins.get(n).ok_or("a login per index")?;
                let conn = Conn::connect(route(server, n, setup.sources), login, setup.keep_alive);
                conns.push((n, conn.await?));
            }
            Ok::<_, String>(conns)
        });
    }
    let mut all = Vec::with_capacity(logins.len());
    while let Some(done) = tasks.join_next().await {
        all.extend(done.map_err(|e| format!("connect task: {e}"))??);
    }
    all.sort_by_key(|(n, _)| *n);
    Ok(all.into_iter().map(|(_, conn)| conn).collect())
}

/// How a fleet connects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup {
    /// Handshakes in flight at once.
    pub(crate) concurrency: usize,
    /// Loopback source addresses to spread connections over.
    pub(crate) sources: usize,
    /// The keep-alive interval sent in CONNECT, seconds.
    pub(crate) keep_alive: u16,
}

/// Random bytes for the fleet's key, from the standard library's per-process hash seeds.
fn random_key_bytes() -> [u8; 32] {
    let mut bytes = [0; 32];
    for chunk in bytes.chunks_mut(8) {
        let word = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            .to_le_bytes();
        chunk.copy_from_slice(&word);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_take_source_addresses_in_turn() {
        let server: SocketAddr = "127.0.0.1:1883".parse().expect("an address");
        let sources: Vec<IpAddr> = (0..5).map(|n| route(server, n, 4).source).collect();
        assert_eq!(sources[0], IpAddr::from([127, 0, 0, 1]));
        assert_eq!(sources[3], IpAddr::from([127, 0, 0, 4]));
        assert_eq!(sources[4], sources[0]);
    }

    #[test]
    fn fleet_ids_are_valid_device_ids() {
        let ids = device_ids("lg", 3);
        assert_eq!(ids, ["lg-00000", "lg-00001", "lg-00002"]);
        assert!(ids.iter().all(|id| id.parse::<DeviceId>().is_ok()));
    }
}
