//! [`ReportedOutbox`] against a model hub that applies or rejects reported patches, with lost
//! requests, lost, duplicated, late and reordered answers, disconnects and driver timeouts.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value};

use super::{Rng, random_patch};
use crate::sync::{ReportOutcome, ReportedOutbox, Ticket};
use crate::{
    ErrorClass, Limits, Patch, RequestId, Section, SectionKind, Timestamp, TwinVersion, merge,
};

/// Runs per test; each is a different seed.
const RUNS: u64 = 2_000;
/// Random steps per run, before the channel goes quiet.
const STEPS: usize = 120;

/// The hub's answer to a reported patch.
#[derive(Debug, Clone)]
struct Answer {
    request_id: RequestId,
    result: Result<TwinVersion, u16>,
}

struct World {
    seed: u64,
    rng: Rng,
    /// The hub's reported properties, with limits tighter than the device's so that some
    /// patches the device accepts are rejected (strings over 2 bytes; sizes over 60).
    hub: Section,
    hub_limits: Limits,
    device: ReportedOutbox,
    connected: bool,
    /// Patches on their way to the hub, in order.
    up: VecDeque<(RequestId, Patch)>,
    /// Answers on their way to the device, delivered in any order.
    down: Vec<Answer>,
    /// The last patch the device sent.
    last_sent: Option<RequestId>,
    /// Every update the outbox accepted, by ticket.
    updates: BTreeMap<Ticket, Patch>,
    outcomes: BTreeMap<Ticket, ReportOutcome>,
}

impl World {
    fn new(seed: u64) -> Self {
        let device_limits = Limits::default().with_max_section_bytes(SectionKind::Reported, 80);
        let hub_limits = Limits::default()
            .with_max_string_bytes(2)
            .with_max_section_bytes(SectionKind::Reported, 60);
        Self {
            seed,
            rng: Rng::new(seed),
            hub: Section::new(SectionKind::Reported, Timestamp::UNIX_EPOCH),
            hub_limits,
            device: ReportedOutbox::new(device_limits),
            connected: false,
            up: VecDeque::new(),
            down: Vec::new(),
            last_sent: None,
            updates: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..30 => self.enqueue(),
            30..55 => self.hub_processes(),
            55..80 => self.deliver(),
            80..85 => self.disconnect(),
            85..95 => self.reconnect(),
            _ => self.time_out(),
        }
        self.drive();
    }

    fn enqueue(&mut self) {
        let patch = random_patch(&mut self.rng, 3);
        if let Ok(ticket) = self.device.enqueue(patch.clone()) {
            self.updates.insert(ticket, patch);
        }
    }

    /// Applies `patch` as the hub does: atomically, or not at all.
    fn apply(&mut self, patch: &Patch) -> Result<TwinVersion, u16> {
        match self
            .hub
            .apply(patch, &self.hub_limits, Timestamp::UNIX_EPOCH)
        {
            Ok(version) => Ok(version.unwrap()),
            Err(error) if error.class() == ErrorClass::QuotaExceeded => Err(403),
            Err(_) => Err(400),
        }
    }

    /// The hub takes the next patch off the wire. Some are lost on the way, some are
    /// delivered twice (and applied twice), some answers are lost.
    fn hub_processes(&mut self) {
        let Some((request_id, patch)) = self.up.pop_front() else {
            return;
        };
        if self.rng.chance(5) {
            return;
        }
        let copies = if self.rng.chance(10) { 2 } else { 1 };
        for _ in 0..copies {
            let result = self.apply(&patch);
            if !self.rng.chance(10) {
                let request_id = request_id.clone();
                self.down.push(Answer { request_id, result });
            }
        }
    }

    fn deliver(&mut self) {
        if !self.connected || self.down.is_empty() {
            return;
        }
        let index = self.rng.index(self.down.len());
        let answer = if self.rng.chance(10) {
            self.down[index].clone()
        } else {
            self.down.swap_remove(index)
        };
        self.feed(&answer);
    }

    fn feed(&mut self, answer: &Answer) {
        let rid = &answer.request_id;
        match answer.result {
            Ok(version) => self.device.handle_ack(rid, version),
            Err(status) => self
                .device
                .handle_rejected(rid, status, b"{\"errorCode\":400004}"),
        };
    }

    /// The connection drops. Each patch on the wire either reached the hub first (its answer
    /// lost) or not at all; a few answers on their way arrive after the next connect.
    fn disconnect(&mut self) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.device.handle_connection_lost().unwrap();
        while let Some((_, patch)) = self.up.pop_front() {
            if self.rng.chance(50) {
                let _ = self.apply(&patch);
            }
        }
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

    /// The driver gives up waiting for the answer to the patch in flight.
    fn time_out(&mut self) {
        if let Some(request_id) = self.last_sent.clone() {
            if self.device.awaits(&request_id) {
                assert!(self.device.handle_retry(&request_id));
            }
        }
    }

    /// What a driver does after every input: publish, resolve tickets.
    fn drive(&mut self) {
        if let Some((request_id, patch)) = self.device.poll_send() {
            assert!(
                self.connected,
                "seed {}: a send while disconnected",
                self.seed
            );
            self.last_sent = Some(request_id.clone());
            self.up.push_back((request_id.clone(), patch.clone()));
        }
        assert_eq!(self.device.poll_send(), None, "seed {}", self.seed);
        while let Some((ticket, outcome)) = self.device.poll_ticket_result() {
            assert!(self.updates.contains_key(&ticket), "seed {}", self.seed);
            let newest = self.outcomes.last_key_value().map(|(t, _)| *t);
            assert!(
                newest < Some(ticket),
                "seed {}: {ticket:?} out of order",
                self.seed
            );
            self.outcomes.insert(ticket, outcome);
        }
    }

    /// The channel goes quiet: every patch reaches the hub and every answer the device.
    fn settle(&mut self) {
        self.reconnect();
        self.down.clear();
        for _ in 0..1_000 {
            self.drive();
            match self.up.pop_front() {
                Some((request_id, patch)) => {
                    let result = self.apply(&patch);
                    self.feed(&Answer { request_id, result });
                }
                None if self.device.is_idle() => break,
                None => self.time_out(),
            }
        }
        self.drive();
        self.check();
    }

    /// Every accepted update has exactly one outcome; the hub holds exactly the applied ones,
    /// applied in order; applied versions never go down.
    fn check(&self) {
        let seed = self.seed;
        assert!(self.device.is_idle(), "seed {seed}");
        assert_eq!(
            self.outcomes.keys().collect::<Vec<_>>(),
            self.updates.keys().collect::<Vec<_>>(),
            "seed {seed}"
        );
        let mut intended = Map::new();
        let mut last_version = None;
        for (ticket, outcome) in &self.outcomes {
            match outcome {
                ReportOutcome::Applied { version } => {
                    merge(&mut intended, &self.updates[ticket]);
                    assert!(last_version <= Some(*version), "seed {seed}");
                    last_version = Some(*version);
                }
                ReportOutcome::Rejected { status, .. } => {
                    assert!(matches!(status, 400 | 403), "seed {seed}");
                }
            }
        }
        assert_eq!(
            Value::Object(self.hub.content().clone()),
            Value::Object(intended),
            "seed {seed}"
        );
    }
}

#[test]
fn the_hub_ends_with_every_applied_update_in_order() {
    let mut rejected = 0;
    let mut applied = 0;
    for seed in 0..RUNS {
        let mut world = World::new(seed);
        for _ in 0..STEPS {
            world.step();
        }
        world.settle();
        for outcome in world.outcomes.values() {
            match outcome {
                ReportOutcome::Applied { .. } => applied += 1,
                ReportOutcome::Rejected { .. } => rejected += 1,
            }
        }
    }
    // The runs exercise both outcomes in earnest.
    assert!(applied > 10 * RUNS, "{applied} applied");
    assert!(rejected > RUNS, "{rejected} rejected");
}
