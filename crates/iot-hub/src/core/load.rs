//! Building the core from what the store holds, and the stored forms of policies.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use iot_protocol::{AccessRights, Device, DeviceId, HostName, SharedAccessKey, SharedAccessPolicy};
use iot_twin::{Timestamp, Twin};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::{Core, DeviceEntry, DeviceState, Settings};
use crate::HubError;
use crate::c2d::QueuedMessage;
use crate::configurations::ConfigBook;
use crate::jobs::JobBook;
use crate::methods::MethodsHandle;
use crate::session::{Session, Subscriptions};
use crate::store::{Op, Snapshot, Store};

/// The most shared access policies a hub has (IoT Hub's quota).
const MAX_POLICIES: usize = 16;

/// A shared access policy as stored.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPolicy {
    primary_key: String,
    secondary_key: String,
    rights: String,
}

impl Core {
    /// Builds the core from a snapshot. Returns it with the ops that must be committed before
    /// use: the default policies of a new hub, and the `configured` policies, which replace
    /// stored ones of the same name and are added otherwise.
    pub(crate) fn load(
        host: HostName,
        settings: Settings,
        store: Store,
        mut snapshot: Snapshot,
        methods: MethodsHandle,
        configured: Vec<SharedAccessPolicy>,
    ) -> Result<(Self, Vec<Op>), HubError> {
        let (mut policies, mut ops) = policies(&snapshot.policies)?;
        for policy in configured {
            ops.push(policy_op(&policy));
            match policies.iter_mut().find(|p| p.name() == policy.name()) {
                Some(slot) => *slot = policy,
                None => policies.push(policy),
            }
        }
        if policies.len() > MAX_POLICIES {
            return Err(HubError::InvalidConfig {
                setting: "shared_access_policy",
                rule: format!(
                    "would give the hub {} policies; IoT Hub allows at most {MAX_POLICIES}",
                    policies.len()
                ),
            });
        }
        let jobs = JobBook::load(
            std::mem::take(&mut snapshot.jobs),
            std::mem::take(&mut snapshot.device_jobs),
            settings.max_active_jobs,
        )?;
        let configurations = ConfigBook::load(
            std::mem::take(&mut snapshot.configurations),
            std::mem::take(&mut snapshot.retired_configurations),
            &settings.limits,
        )?;
        let devices = devices(snapshot)?;
        let (telemetry, _) = broadcast::channel(settings.telemetry_capacity.max(1));
        let core = Self {
            host,
            settings,
            store,
            devices: RwLock::new(devices),
            registry_lock: tokio::sync::Mutex::new(()),
            policies,
            telemetry: RwLock::new(Some(telemetry)),
            methods,
            jobs,
            configurations,
            next_connection: AtomicU64::new(1),
        };
        Ok((core, ops))
    }
}

fn corrupt(what: &str, id: &str, reason: impl std::fmt::Display) -> HubError {
    HubError::store(
        "load",
        format!("stored {what} {id:?} is unreadable: {reason}"),
    )
}

/// The stored policies, or the defaults of a new hub with fresh keys (and the ops storing them).
fn policies(stored: &[(String, String)]) -> Result<(Vec<SharedAccessPolicy>, Vec<Op>), HubError> {
    if stored.is_empty() {
        let policies = SharedAccessPolicy::hub_defaults(rand::random);
        let ops = policies.iter().map(policy_op).collect();
        return Ok((policies, ops));
    }
    let policies = stored
        .iter()
        .map(|(name, body)| {
            let policy: StoredPolicy =
                serde_json::from_str(body).map_err(|e| corrupt("policy", name, e))?;
            let key = |text: &str| {
                SharedAccessKey::from_base64(text).map_err(|e| corrupt("policy", name, e))
            };
            let rights: AccessRights = policy
                .rights
                .parse()
                .map_err(|e| corrupt("policy", name, e))?;
            SharedAccessPolicy::new(
                name,
                key(&policy.primary_key)?,
                key(&policy.secondary_key)?,
                rights,
            )
            .map_err(|e| corrupt("policy", name, e))
        })
        .collect::<Result<_, _>>()?;
    Ok((policies, Vec::new()))
}

fn policy_op(policy: &SharedAccessPolicy) -> Op {
    let stored = StoredPolicy {
        primary_key: policy.primary_key().to_secret_string(),
        secondary_key: policy.secondary_key().to_secret_string(),
        rights: policy.rights().to_string(),
    };
    Op::PutPolicy {
        name: policy.name().to_owned(),
        body: serde_json::to_string(&stored).unwrap_or_default(),
    }
}

fn devices(snapshot: Snapshot) -> Result<HashMap<DeviceId, Arc<DeviceEntry>>, HubError> {
    let mut twins: HashMap<String, String> = snapshot.twins.into_iter().collect();
    let mut sessions: HashMap<String, String> = snapshot.sessions.into_iter().collect();
    let mut states = HashMap::new();
    for (id, body) in snapshot.devices {
        let device: Device = serde_json::from_str(&body).map_err(|e| corrupt("device", &id, e))?;
        let twin = match twins.remove(&id) {
            Some(json) => Twin::from_slice(json.as_bytes()).map_err(|e| corrupt("twin", &id, e))?,
            None => Twin::new(id.clone(), None, Timestamp::MIN),
        };
        let session = match sessions.remove(&id) {
            Some(json) => Session {
                subscriptions: Subscriptions::from_json(&json)
                    .map_err(|e| corrupt("session", &id, e))?,
                persistent: true,
                connection: None,
            },
            None => Session::default(),
        };
        let device_id = device.device_id.clone();
        states.insert(device_id, DeviceState::new(device, twin, session));
    }
    for stored in snapshot.messages {
        let Ok(device_id) = DeviceId::parse(&stored.device_id) else {
            continue;
        };
        if let Some(state) = states.get_mut(&device_id) {
            let message = QueuedMessage::from_stored(&device_id, stored)
                .map_err(|e| corrupt("message for", device_id.as_str(), e))?;
            state.next_seq = state.next_seq.max(message.seq + 1);
            state.messages.push_back(message);
        }
    }
    Ok(states
        .into_iter()
        .map(|(id, state)| (id, Arc::new(DeviceEntry::new(state))))
        .collect())
}
