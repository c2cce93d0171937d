//! [`DesiredSync`] against a model hub that keeps changing desired properties, over a channel
//! that drops, duplicates, delays and reorders, with random disconnects and `GET` answers that
//! race with notifications.

use serde_json::{Map, Value};

use super::{Rng, random_patch};
use crate::sync::{DesiredSync, SyncCommand, SyncState};
use crate::{Patch, PropertiesState, RequestId, TwinState, TwinVersion, merge};

/// Runs per test; each is a different seed.
const RUNS: u64 = 2_000;
/// Random steps per run, before the channel goes quiet.
const STEPS: usize = 120;

/// Something on its way from the hub to the device.
#[derive(Debug, Clone)]
enum Down {
    Notification {
        patch: Patch,
        version: u64,
    },
    Answer {
        request_id: RequestId,
        twin: TwinState,
    },
    Failure {
        request_id: RequestId,
    },
}

/// The hub's desired properties: every version's content, the current one last.
#[derive(Debug)]
struct Hub {
    history: Vec<Map<String, Value>>,
}

impl Hub {
    fn new() -> Self {
        // Index 0 is unused: versions start at 1, with empty content.
        Self {
            history: vec![Map::new(), Map::new()],
        }
    }

    fn version(&self) -> u64 {
        self.history.len() as u64 - 1
    }

    fn at(&self, version: u64) -> &Map<String, Value> {
        &self.history[usize::try_from(version).unwrap()]
    }

    fn current(&self) -> &Map<String, Value> {
        self.at(self.version())
    }

    fn twin(&self) -> TwinState {
        let version = TwinVersion::new(self.version()).unwrap();
        let desired = PropertiesState::new(self.current().clone(), version).unwrap();
        let reported = PropertiesState::new(Map::new(), TwinVersion::INITIAL).unwrap();
        TwinState::new(desired, reported)
    }
}

struct World {
    seed: u64,
    rng: Rng,
    hub: Hub,
    device: DesiredSync,
    connected: bool,
    /// `GET` requests on their way to the hub.
    up: Vec<RequestId>,
    /// Messages on their way to the device, delivered in any order.
    down: Vec<Down>,
    /// The last `GET` the device sent.
    last_get: Option<RequestId>,
    /// The application's view, built from the events alone.
    view: Map<String, Value>,
    view_version: u64,
    /// The highest version the device's copy has had.
    copy_version: u64,
}

impl World {
    fn new(seed: u64) -> Self {
        let buffer = [0, 1, 4, 64][usize::try_from(seed % 4).unwrap()];
        Self {
            seed,
            rng: Rng::new(seed),
            hub: Hub::new(),
            device: DesiredSync::new().with_buffer_limit(buffer),
            connected: false,
            up: Vec::new(),
            down: Vec::new(),
            last_get: None,
            view: Map::new(),
            view_version: 0,
            copy_version: 0,
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..30 => self.hub_update(),
            30..62 => self.deliver(),
            62..72 => self.answer_get(),
            72..76 => self.drop_message(),
            76..80 => self.disconnect(),
            80..90 => self.reconnect(),
            _ => self.time_out(),
        }
        self.drive();
    }

    fn hub_update(&mut self) {
        let patch = random_patch(&mut self.rng, 3);
        let mut next = self.hub.current().clone();
        merge(&mut next, &patch);
        self.hub.history.push(next);
        // Notifications go only to a connected device; some are lost on the way.
        if self.connected && !self.rng.chance(10) {
            let version = self.hub.version();
            self.down.push(Down::Notification { patch, version });
        }
    }

    fn deliver(&mut self) {
        if !self.connected || self.down.is_empty() {
            return;
        }
        let index = self.rng.index(self.down.len());
        let message = if self.rng.chance(10) {
            self.down[index].clone()
        } else {
            self.down.swap_remove(index)
        };
        self.feed(message);
    }

    fn feed(&mut self, message: Down) {
        match message {
            Down::Notification { patch, version } => {
                let version = TwinVersion::new(version).unwrap();
                self.device.handle_desired(patch, version).unwrap();
            }
            Down::Answer { request_id, twin } => {
                self.device.handle_get_response(&request_id, twin).unwrap();
            }
            Down::Failure { request_id } => {
                self.device.handle_get_failed(&request_id).unwrap();
            }
        }
    }

    /// The hub takes a `GET` off the wire and answers with its state of that moment, or
    /// throttles it, or loses it.
    fn answer_get(&mut self) {
        if self.up.is_empty() {
            return;
        }
        let request_id = self.up.remove(self.rng.index(self.up.len()));
        match self.rng.below(10) {
            0 => {}
            1 => self.down.push(Down::Failure { request_id }),
            _ => {
                let twin = self.hub.twin();
                self.down.push(Down::Answer { request_id, twin });
            }
        }
    }

    fn drop_message(&mut self) {
        if !self.down.is_empty() {
            let index = self.rng.index(self.down.len());
            self.down.swap_remove(index);
        }
    }

    /// The connection drops: requests are lost, and most messages on their way too; a few
    /// arrive late, after the next connect.
    fn disconnect(&mut self) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.device.handle_connection_lost().unwrap();
        self.up.clear();
        let mut kept = std::mem::take(&mut self.down);
        kept.retain(|_| self.rng.chance(20));
        self.down = kept;
    }

    fn reconnect(&mut self) {
        if !self.connected {
            self.connected = true;
            self.device.handle_connected().unwrap();
        }
    }

    /// The driver gives up on the `GET` it awaits, whether or not its answer is still on the
    /// way.
    fn time_out(&mut self) {
        if let Some(request_id) = self.last_get.clone() {
            if self.device.awaits(&request_id) {
                assert!(self.device.handle_get_failed(&request_id).unwrap());
            }
        }
    }

    /// What a driver does after every input: send commands, hand events to the application.
    fn drive(&mut self) {
        while let Some(SyncCommand::GetTwin { request_id }) = self.device.poll_command() {
            assert!(
                self.connected,
                "seed {}: a GET while disconnected",
                self.seed
            );
            self.last_get = Some(request_id.clone());
            self.up.push(request_id);
        }
        while let Some(change) = self.device.poll_event() {
            let (version, patch) = change.into_parts();
            assert!(
                version.get() > self.view_version,
                "seed {}: version {version} after {}",
                self.seed,
                self.view_version
            );
            merge(&mut self.view, &patch);
            self.view_version = version.get();
            assert_eq!(
                &self.view,
                self.hub.at(self.view_version),
                "seed {}: the application's view at version {version}",
                self.seed
            );
        }
        self.check_copy();
    }

    /// Whatever version the device holds, its copy is the hub's content at that version, and
    /// that version never goes down.
    fn check_copy(&mut self) {
        let (content, version) = self.device.desired();
        let Some(version) = version else {
            return;
        };
        let seed = self.seed;
        assert_eq!(
            content,
            self.hub.at(version.get()),
            "seed {seed}: the copy at {version}"
        );
        assert!(
            version.get() >= self.copy_version,
            "seed {seed}: {version} after {}",
            self.copy_version
        );
        self.copy_version = version.get();
    }

    /// The channel goes quiet: nothing is lost any more, and after a reconnect the device
    /// catches up with the hub.
    fn settle(&mut self) {
        self.disconnect();
        self.down.clear();
        self.reconnect();
        self.drive();
        for _ in 0..10 {
            if self.device.state() == SyncState::Live {
                break;
            }
            while let Some(request_id) = self.up.pop() {
                let twin = self.hub.twin();
                self.device.handle_get_response(&request_id, twin).unwrap();
                self.drive();
            }
        }
        let seed = self.seed;
        assert_eq!(self.device.state(), SyncState::Live, "seed {seed}");
        let (content, version) = self.device.desired();
        assert_eq!(
            version.map(TwinVersion::get),
            Some(self.hub.version()),
            "seed {seed}"
        );
        assert_eq!(content, self.hub.current(), "seed {seed}");
        assert_eq!(self.view_version, self.hub.version(), "seed {seed}");
        assert_eq!(&self.view, self.hub.current(), "seed {seed}");
    }
}

#[test]
fn the_device_converges_and_the_application_sees_each_step_once() {
    for seed in 0..RUNS {
        let mut world = World::new(seed);
        for _ in 0..STEPS {
            world.step();
        }
        world.settle();
    }
}

#[test]
fn a_quiet_connection_keeps_the_device_in_step_without_a_reconnect() {
    for seed in 0..RUNS / 4 {
        let mut world = World::new(seed);
        world.reconnect();
        world.drive();
        // A reliable, ordered channel: every notification applies as it comes.
        for _ in 0..40 {
            if world.rng.chance(30) {
                while let Some(request_id) = world.up.pop() {
                    let twin = world.hub.twin();
                    world.down.push(Down::Answer { request_id, twin });
                }
            }
            world.hub_update_reliably();
            while !world.down.is_empty() {
                let message = world.down.remove(0);
                world.feed(message);
                world.drive();
            }
        }
        while let Some(request_id) = world.up.pop() {
            let twin = world.hub.twin();
            world.feed(Down::Answer { request_id, twin });
            world.drive();
        }
        assert_eq!(world.device.state(), SyncState::Live, "seed {seed}");
        assert_eq!(&world.view, world.hub.current(), "seed {seed}");
        assert_eq!(world.device.buffered(), 0, "seed {seed}");
    }
}

impl World {
    fn hub_update_reliably(&mut self) {
        let patch = random_patch(&mut self.rng, 3);
        let mut next = self.hub.current().clone();
        merge(&mut next, &patch);
        self.hub.history.push(next);
        let version = self.hub.version();
        self.down.push(Down::Notification { patch, version });
    }
}
