//! Setup shared by the benches that run the embedded hub.

use iot_hub::{Hub, HubBuilder};
use tokio::runtime::Runtime;

/// The runtime the hub and the clients run on: two workers, as on the small machines the
/// figures come from.
pub(crate) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A hub on loopback ports the system picks, over plain TCP, with its state in memory.
pub(crate) fn loopback_hub() -> HubBuilder {
    Hub::builder()
        .mqtt_addr("127.0.0.1:0".parse().expect("an address"))
        .rest_addr("127.0.0.1:0".parse().expect("an address"))
        .plain_tcp()
        .in_memory()
}
