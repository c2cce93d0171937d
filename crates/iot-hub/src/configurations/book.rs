//! [`ConfigBook`]: the configurations in memory and the store writes that keep them durable;
//! also the content of deleted configurations until evaluation has removed it from every twin.
//!
//! Writers (create, update, delete, recording metrics, forgetting deleted content) take the
//! write lock for the whole change, commit, then install; readers copy under a short lock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use iot_protocol::{Configuration, ConfigurationId, ConfigurationMetrics, DeviceEtag, IfMatch};
use iot_twin::{DesiredContent, Limits, Timestamp};
use tokio::sync::Notify;

use super::spec::{APPLIED_COUNT, Compiled, TARGETED_COUNT};
use crate::HubError;
use crate::core::now;
use crate::store::{Op, Store};

/// The most configurations a hub holds (IoT Hub's standard tiers allow 100).
pub(crate) const MAX_CONFIGURATIONS: usize = 100;

/// A configuration: as clients see it, and compiled.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) config: Configuration,
    pub(crate) compiled: Arc<Compiled>,
}

/// The content of a deleted configuration, still to be removed from the twins it applied to.
#[derive(Debug, Clone)]
pub(crate) struct Retired {
    pub(crate) seq: u64,
    pub(crate) id: String,
    pub(crate) content: Arc<DesiredContent>,
}

/// What one evaluation run works from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// The configurations, lowest precedence first (priority, then creation time).
    pub(crate) live: Vec<Arc<Compiled>>,
    /// Deleted contents.
    pub(crate) retired: Vec<Retired>,
}

/// The metric counts of one configuration after a run.
#[derive(Debug, Clone)]
pub(crate) struct Counts {
    pub(crate) id: ConfigurationId,
    pub(crate) custom: BTreeMap<String, i64>,
    pub(crate) system: BTreeMap<String, i64>,
}

#[derive(Debug, Default)]
struct State {
    live: BTreeMap<ConfigurationId, Live>,
    retired: Vec<Retired>,
    next_seq: u64,
}

/// The configurations.
#[derive(Debug)]
pub(crate) struct ConfigBook {
    state: RwLock<State>,
    write: tokio::sync::Mutex<()>,
    /// Wakes the evaluator after a change.
    pub(crate) wake: Notify,
}

impl ConfigBook {
    /// The configurations and deleted contents the store holds.
    pub(crate) fn load(
        configurations: Vec<(String, String)>,
        retired: Vec<(u64, String)>,
        limits: &Limits,
    ) -> Result<Self, HubError> {
        let mut state = State::default();
        for (id, body) in configurations {
            let config: Configuration = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
            let created = config.created_time_utc.unwrap_or(Timestamp::MIN);
            let compiled =
                Compiled::check(&config, created, limits).map_err(|e| corrupt(&id, e))?;
            let live = Live {
                config,
                compiled: Arc::new(compiled),
            };
            state.live.insert(live.compiled.id.clone(), live);
        }
        for (seq, body) in retired {
            let config: Configuration =
                serde_json::from_str(&body).map_err(|e| corrupt("(deleted)", e))?;
            let content = device_content(&config).map_err(|e| corrupt(&config.id, e))?;
            state.next_seq = state.next_seq.max(seq + 1);
            state.retired.push(Retired {
                seq,
                id: config.id,
                content: Arc::new(content),
            });
        }
        Ok(Self {
            state: RwLock::new(state),
            write: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
        })
    }

    /// Stores a new configuration.
    pub(crate) async fn create(
        &self,
        store: &Store,
        body: &Configuration,
        limits: &Limits,
    ) -> Result<Configuration, HubError> {
        let _write = self.write.lock().await;
        let at = now();
        let compiled = Compiled::check(body, at, limits)?;
        if self.read().live.contains_key(&compiled.id) {
            return Err(HubError::ConfigurationAlreadyExists { id: compiled.id });
        }
        if self.read().live.len() >= MAX_CONFIGURATIONS {
            return Err(HubError::TooManyConfigurations {
                limit: MAX_CONFIGURATIONS,
            });
        }
        let mut config = body.clone();
        config.id = compiled.id.to_string();
        config
            .schema_version
            .get_or_insert_with(|| "1.0".to_owned());
        config.priority = Some(compiled.priority);
        config.created_time_utc = Some(at);
        config.last_updated_time_utc = Some(at);
        config.etag = Some(DeviceEtag::from_counter(1).to_string());
        config.metrics = Some(metrics(&compiled, None, body.metrics.as_ref()));
        config.system_metrics = Some(system_metrics(&compiled, None));
        self.install(store, vec![config_op(&config)?], config, compiled)
            .await
    }

    /// Replaces a configuration's labels, target condition, priority and metric queries; its
    /// content may not change.
    pub(crate) async fn update(
        &self,
        store: &Store,
        body: &Configuration,
        if_match: &IfMatch,
        limits: &Limits,
    ) -> Result<Configuration, HubError> {
        let _write = self.write.lock().await;
        let id = ConfigurationId::parse(&body.id).map_err(|e| HubError::InvalidConfiguration {
            field: "id",
            rule: e.to_string(),
        })?;
        let old = self.current(&id, Some(if_match))?;
        if body
            .content
            .as_ref()
            .is_some_and(|c| Some(c) != old.config.content.as_ref())
        {
            return Err(HubError::ImmutableConfigurationContent { id });
        }
        let mut merged = body.clone();
        merged.content.clone_from(&old.config.content);
        let created = old.compiled.created;
        let compiled = Compiled::check(&merged, created, limits)?;
        let mut config = merged;
        config.schema_version = body
            .schema_version
            .clone()
            .or_else(|| old.config.schema_version.clone());
        config.priority = Some(compiled.priority);
        config.created_time_utc = Some(created);
        config.last_updated_time_utc = Some(now());
        config.etag = Some(next_etag(&old.config).to_string());
        config.metrics = Some(metrics(
            &compiled,
            old.config.metrics.as_ref(),
            body.metrics.as_ref(),
        ));
        config.system_metrics = Some(system_metrics(
            &compiled,
            old.config.system_metrics.as_ref(),
        ));
        self.install(store, vec![config_op(&config)?], config, compiled)
            .await
    }

    /// Deletes a configuration; its content is kept until evaluation has removed it from the
    /// twins.
    pub(crate) async fn delete(
        &self,
        store: &Store,
        id: &ConfigurationId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), HubError> {
        let _write = self.write.lock().await;
        let old = self.current(id, if_match)?;
        let seq = self.read().next_seq;
        let body = serde_json::to_string(&old.config).map_err(|e| HubError::store("encode", e))?;
        let ops = vec![
            Op::DeleteConfiguration { id: id.to_string() },
            Op::PutRetiredConfiguration { seq, body },
        ];
        store.commit(ops).await?;
        let mut state = self.write_state();
        state.live.remove(id);
        state.retired.push(Retired {
            seq,
            id: id.to_string(),
            content: Arc::new(old.compiled.content.clone()),
        });
        state.next_seq = seq + 1;
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// A configuration as clients see it.
    pub(crate) fn get(&self, id: &ConfigurationId) -> Option<Configuration> {
        self.read().live.get(id).map(|live| live.config.clone())
    }

    /// At most `top` configurations, by id.
    pub(crate) fn list(&self, top: usize) -> Vec<Configuration> {
        self.read()
            .live
            .values()
            .take(top)
            .map(|live| live.config.clone())
            .collect()
    }

    /// What an evaluation run works from.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let state = self.read();
        let mut live: Vec<Arc<Compiled>> = state
            .live
            .values()
            .map(|live| Arc::clone(&live.compiled))
            .collect();
        live.sort_by(|a, b| (a.priority, a.created, &a.id).cmp(&(b.priority, b.created, &b.id)));
        Snapshot {
            live,
            retired: state.retired.clone(),
        }
    }

    /// Stores the counts of a run in the configurations still there, where they changed (the
    /// etag stays: it follows the client's changes only).
    pub(crate) async fn record(&self, store: &Store, counts: Vec<Counts>) -> Result<(), HubError> {
        let _write = self.write.lock().await;
        let mut changed = Vec::new();
        for counted in counts {
            let Some(live) = self.read().live.get(&counted.id).cloned() else {
                continue;
            };
            let mut config = live.config.clone();
            set_results(&mut config.metrics, &counted.custom);
            set_results(&mut config.system_metrics, &counted.system);
            if config != live.config {
                changed.push(Live {
                    config,
                    compiled: live.compiled,
                });
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        let ops = changed
            .iter()
            .map(|live| config_op(&live.config))
            .collect::<Result<_, _>>()?;
        store.commit(ops).await?;
        let mut state = self.write_state();
        for live in changed {
            state.live.insert(live.compiled.id.clone(), live);
        }
        Ok(())
    }

    /// Forgets deleted contents that evaluation has removed from every twin.
    pub(crate) async fn forget(&self, store: &Store, seqs: &[u64]) -> Result<(), HubError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let _write = self.write.lock().await;
        let ops = seqs
            .iter()
            .map(|&seq| Op::DeleteRetiredConfiguration { seq })
            .collect();
        store.commit(ops).await?;
        self.write_state()
            .retired
            .retain(|retired| !seqs.contains(&retired.seq));
        Ok(())
    }

    /// The configuration, if `if_match` (when given) matches its etag.
    fn current(&self, id: &ConfigurationId, if_match: Option<&IfMatch>) -> Result<Live, HubError> {
        let live = self
            .read()
            .live
            .get(id)
            .cloned()
            .ok_or_else(|| HubError::ConfigurationNotFound { id: id.clone() })?;
        let etag = live.config.etag.clone().unwrap_or_default();
        match if_match {
            Some(condition) if !condition.matches(&etag) => Err(HubError::PreconditionFailed {
                resource: format!("configuration {id}"),
                current: etag,
            }),
            _ => Ok(live),
        }
    }

    /// Commits `ops`, installs the configuration and wakes the evaluator.
    async fn install(
        &self,
        store: &Store,
        ops: Vec<Op>,
        config: Configuration,
        compiled: Compiled,
    ) -> Result<Configuration, HubError> {
        store.commit(ops).await?;
        let live = Live {
            config: config.clone(),
            compiled: Arc::new(compiled),
        };
        self.write_state()
            .live
            .insert(live.compiled.id.clone(), live);
        self.wake.notify_one();
        Ok(config)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The custom metrics: the body's queries, each with its last count (0 until counted).
fn metrics(
    compiled: &Compiled,
    old: Option<&ConfigurationMetrics>,
    body: Option<&ConfigurationMetrics>,
) -> ConfigurationMetrics {
    let queries = body.map(|m| m.queries.clone()).unwrap_or_default();
    let results = compiled
        .metrics
        .iter()
        .map(|metric| {
            let last = old.and_then(|m| m.results.get(&metric.name)).copied();
            (metric.name.clone(), last.unwrap_or_default())
        })
        .collect();
    ConfigurationMetrics { queries, results }
}

/// The system metrics: the generated queries, each with its last count (0 until counted).
fn system_metrics(compiled: &Compiled, old: Option<&ConfigurationMetrics>) -> ConfigurationMetrics {
    let results = [APPLIED_COUNT, TARGETED_COUNT]
        .into_iter()
        .map(|name| {
            let last = old.and_then(|m| m.results.get(name)).copied();
            (name.to_owned(), last.unwrap_or_default())
        })
        .collect();
    ConfigurationMetrics {
        queries: compiled.system_texts(),
        results,
    }
}

/// Sets the counts of the metrics that still exist.
fn set_results(metrics: &mut Option<ConfigurationMetrics>, counts: &BTreeMap<String, i64>) {
    let Some(metrics) = metrics else {
        return;
    };
    for (name, count) in counts {
        if let Some(slot) = metrics.results.get_mut(name) {
            *slot = *count;
        }
    }
}

/// The device content of a stored configuration.
fn device_content(config: &Configuration) -> Result<DesiredContent, iot_twin::TwinError> {
    match config
        .content
        .as_ref()
        .and_then(|c| c.device_content.as_ref())
    {
        Some(paths) => DesiredContent::from_map(paths),
        None => Ok(DesiredContent::default()),
    }
}

fn next_etag(config: &Configuration) -> DeviceEtag {
    config
        .etag
        .as_deref()
        .and_then(|etag| DeviceEtag::parse(etag).ok())
        .unwrap_or_else(|| DeviceEtag::from_counter(0))
        .next()
}

fn config_op(config: &Configuration) -> Result<Op, HubError> {
    Ok(Op::PutConfiguration {
        id: config.id.clone(),
        body: serde_json::to_string(config).map_err(|e| HubError::store("encode", e))?,
    })
}

fn corrupt(id: &str, reason: impl std::fmt::Display) -> HubError {
    HubError::store(
        "load",
        format!("stored configuration {id:?} is unreadable: {reason}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(id: &str, priority: i32) -> Configuration {
        serde_json::from_value(json!({
            "id": id, "priority": priority, "targetCondition": "*",
            "content": {"deviceContent": {"properties.desired.x": id}},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn runs_see_precedence_order_and_deleted_content_until_forgotten() {
        let (store, _) = Store::memory();
        let limits = Limits::default();
        let book = ConfigBook::load(Vec::new(), Vec::new(), &limits).unwrap();
        for (id, priority) in [("b", 5), ("a", 5), ("top", 9), ("low", 1)] {
            book.create(&store, &body(id, priority), &limits)
                .await
                .unwrap();
            // Creation times are 100 ns ticks: keep them apart.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let order: Vec<String> = book
            .snapshot()
            .live
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        // Equal priorities: the one created later comes later, and so wins.
        assert_eq!(order, ["low", "b", "a", "top"]);

        let stored = book.get(&"a".parse().unwrap()).unwrap();
        book.delete(&store, &"a".parse().unwrap(), None)
            .await
            .unwrap();
        let snapshot = book.snapshot();
        assert_eq!(snapshot.live.len(), 3);
        let [retired] = &snapshot.retired[..] else {
            panic!("one deleted content expected");
        };
        assert_eq!(
            (retired.id.as_str(), retired.content.entries().len()),
            ("a", 1)
        );

        // The stored form of a deleted configuration loads back with its content.
        let text = serde_json::to_string(&stored).unwrap();
        let loaded = ConfigBook::load(Vec::new(), vec![(7, text)], &limits).unwrap();
        assert_eq!(loaded.snapshot().retired[0].seq, 7);
        assert_eq!(loaded.snapshot().retired[0].content, retired.content);

        book.forget(&store, &[retired.seq]).await.unwrap();
        assert!(book.snapshot().retired.is_empty());
    }
}
